/* strbuf.c - a growable string buffer. */

#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

/* Make SB an empty buffer that owns no memory yet. */
void sb_init(strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

/* Release the memory of SB and leave it empty. */
void sb_free(strbuf *sb)
{
    free(sb->data);
    sb_init(sb);
}

/* Make room for EXTRA more bytes and the terminating NUL: 0 on success, -1 when out of memory.
   The capacity doubles as it grows. */
int sb_reserve(strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 16;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(sb->data, cap);
    if (!grown)
        return -1;
    sb->data = grown;
    sb->cap = cap;
    return 0;
}

/* Append the NUL-terminated string S: 0 on success, -1 when out of memory. */
int sb_append(strbuf *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb_reserve(sb, n) < 0)
        return -1;
    memcpy(sb->data + sb->len, s, n + 1);
    sb->len += n;
    return 0;
}

/* Append the character C: 0 on success, -1 when out of memory. */
int sb_append_char(strbuf *sb, char c)
{
    if (sb_reserve(sb, 1) < 0)
        return -1;
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
    return 0;
}

/* Append COUNT copies of the character C: 0 on success, -1 when out of memory. */
int sb_append_repeat(strbuf *sb, char c, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (sb_append_char(sb, c) < 0)
            return -1;
    return 0;
}
