#include <stdbool.h>
#include <stddef.h>

bool is_sorted(const int *xs, size_t xs_len)
{
    for (size_t i = 1; i < xs_len; i++)
        if (xs[i] < xs[i - 1])
            return false;
    return true;
}
