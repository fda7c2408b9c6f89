#include <stddef.h>

long sum_array(const int *xs, size_t xs_len)
{
    long s = 0;
    for (size_t i = 0; i < xs_len; i++)
        s += xs[i];
    return s;
}
