/* strv.h - a growable array of malloc'd strings (the lines of a file or a
 * diff), for the floors that split text into lines and edit them: push
 * copies, free releases every string and the array.
 *
 *     strv_t l = {0};
 *     if (strv_push(&l, line, len)) goto fail;  // -1: out of memory
 *     ... l.v[i], l.n ...
 *     strv_free(&l);
 *
 * No printing, no exit; needs nothing but libc. */
#ifndef OCTET_STRV_H
#define OCTET_STRV_H

#include <stddef.h>

typedef struct strv {
    char **v;
    size_t n, cap;
} strv_t;

/* Append a copy of the N bytes of S (a NUL is added). 0, or -1 when out of
 * memory (L unchanged). */
int strv_push(strv_t *l, const char *s, size_t n);
/* Free every string and the array; L is empty afterwards. */
void strv_free(strv_t *l);

#endif
