#include <stddef.h>

double average(const double *xs, size_t xs_len)
{
    double s = 0;
    for (size_t i = 0; i < xs_len; i++)
        s += xs[i];
    return s / xs_len;
}
