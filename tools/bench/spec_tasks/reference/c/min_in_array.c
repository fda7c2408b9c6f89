#include <stddef.h>

double min_in_array(const double *xs, size_t xs_len)
{
    double m = xs[0];
    for (size_t i = 1; i < xs_len; i++)
        if (xs[i] < m)
            m = xs[i];
    return m;
}
