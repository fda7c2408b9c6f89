/* sb.h - the string builder every floor above the engine uses: a growable,
 * always NUL-terminated string that remembers running out of memory, so
 * that a long run of appends needs one check at the end (sb_take).
 *
 *     sbuf_t b = {0};
 *     sb_add(&b, "x = ");
 *     sb_addf(&b, "%d\n", x);
 *     char *s = sb_take(&b); // NULL only when memory ran out
 *
 * No printing, no exit; header and sb.c need nothing but libc. */
#ifndef OCTET_SB_H
#define OCTET_SB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct sbuf {
    char *s;     /* the text (NULL until the first append) */
    size_t n;    /* its length */
    size_t cap;  /* bytes allocated */
    bool oom;    /* an append ran out of memory: later appends do nothing */
} sbuf_t;

/* Append N bytes of S (which may hold NULs). */
void sb_addn(sbuf_t *b, const char *s, size_t n);
/* Append the string S. */
void sb_add(sbuf_t *b, const char *s);
/* Append printf-formatted text. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sb_addf(sbuf_t *b, const char *fmt, ...);

/* Hand over the text (malloc'd; "" when nothing was appended) and leave B
 * empty. NULL when an append ran out of memory (the text is freed then). */
char *sb_take(sbuf_t *b);
/* Free the text and leave B empty. */
void sb_free(sbuf_t *b);

/* Append everything F has left to read. 0, or the errno of the failure
 * (ENOMEM, or the read error) with what was read so far kept in B. */
int sb_read(sbuf_t *b, FILE *f);

#endif
