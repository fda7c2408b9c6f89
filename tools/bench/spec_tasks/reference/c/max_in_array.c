#include <stddef.h>

int max_in_array(const int *xs, size_t xs_len)
{
    int m = xs[0];
    for (size_t i = 1; i < xs_len; i++)
        if (xs[i] > m)
            m = xs[i];
    return m;
}
