/* edmark.c - which search/replace block marker a line is; see edmark.h. */
#include <ctype.h>
#include <string.h>

#include "edmark.h"

int edmark(const char *s, size_t n)
{
    char c = n ? s[0] : '\0';
    if (c != '<' && c != '=' && c != '>')
        return EDMARK_NONE;
    size_t k = 0;
    while (k < n && s[k] == c)
        k++;
    if (k < 5 || k > 9)
        return EDMARK_NONE;
    while (k < n && s[k] == ' ')
        k++;
    const char *word = c == '<' ? "SEARCH" : c == '>' ? "REPLACE" : "";
    size_t wl = strlen(word);
    if (n - k < wl || memcmp(s + k, word, wl))
        return EDMARK_NONE;
    for (k += wl; k < n; k++)
        if (!isspace((unsigned char)s[k]))
            return EDMARK_NONE;
    return c == '<' ? EDMARK_SEARCH : c == '>' ? EDMARK_REPLACE : EDMARK_DIVIDER;
}
