#include <stdlib.h>
#include <string.h>

char *reverse_string(const char *s)
{
    size_t n = strlen(s);
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = s[n - 1 - i];
    r[n] = '\0';
    return r;
}
