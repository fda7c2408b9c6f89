#include <stdlib.h>

int *squares(const int *xs, size_t xs_len, size_t *out_len)
{
    int *r = malloc((xs_len ? xs_len : 1) * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < xs_len; i++)
        r[i] = xs[i] * xs[i];
    *out_len = xs_len;
    return r;
}
