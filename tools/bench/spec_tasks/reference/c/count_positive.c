#include <stddef.h>

int count_positive(const int *xs, size_t xs_len)
{
    int n = 0;
    for (size_t i = 0; i < xs_len; i++)
        n += xs[i] > 0;
    return n;
}
