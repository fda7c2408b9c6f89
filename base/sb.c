/* sb.c - the string builder (see sb.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

/* Room for EXTRA more bytes and the NUL; false (and B marked) when out of memory. */
static bool grow(sbuf_t *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra < b->cap && b->n < b->cap - extra)
        return true;
    if (extra > SIZE_MAX / 4 - b->n) {
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
        b->oom = true;
        return false;
    }
    b->s = ns;
    b->cap = cap;
    return true;
}

void sb_addn(sbuf_t *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void sb_add(sbuf_t *b, const char *s) { sb_addn(b, s, strlen(s)); }

void sb_addf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

char *sb_take(sbuf_t *b)
{
    char *s = b->oom ? NULL : b->s ? b->s : strdup("");
    if (b->oom)
        free(b->s);
    *b = (sbuf_t){0};
    return s;
}

void sb_free(sbuf_t *b)
{
    free(b->s);
    *b = (sbuf_t){0};
}

int sb_read(sbuf_t *b, FILE *f)
{
    for (;;) {
        if (!grow(b, 4096))
            return ENOMEM;
        size_t r = fread(b->s + b->n, 1, b->cap - b->n - 1, f);
        b->n += r;
        b->s[b->n] = '\0';
        if (r == 0)
            return ferror(f) ? (errno ? errno : EIO) : 0;
    }
}
