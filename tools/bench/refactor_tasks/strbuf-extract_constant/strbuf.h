/* strbuf.h - a growable string buffer, always NUL-terminated once something was appended. */
#ifndef STRBUF_H
#define STRBUF_H

#include <stddef.h>

typedef struct {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes in use, not counting the NUL */
    size_t cap;  /* bytes allocated */
} strbuf;

/* Make SB an empty buffer that owns no memory yet. */
void sb_init(strbuf *sb);
/* Release the memory of SB and leave it empty. */
void sb_free(strbuf *sb);
/* Make room for EXTRA more bytes: 0 on success, -1 when out of memory. */
int sb_reserve(strbuf *sb, size_t extra);
/* Append the string S: 0 on success, -1 when out of memory. */
int sb_append(strbuf *sb, const char *s);
/* Append the character C: 0 on success, -1 when out of memory. */
int sb_append_char(strbuf *sb, char c);
/* Append COUNT copies of the character C: 0 on success, -1 when out of memory. */
int sb_append_repeat(strbuf *sb, char c, size_t count);

#endif
