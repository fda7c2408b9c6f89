#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *to_upper(const char *s)
{
    size_t n = strlen(s);
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        r[i] = (char)toupper((unsigned char)s[i]);
    return r;
}
