/* termsafe.c - visible escapes for control characters in untrusted text
 * (see termsafe.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "termsafe.h"

const char *termsafe_cp(uint32_t cp, char *buf)
{
    if (cp == '\n' || cp == '\t')
        return NULL;
    if (cp < 0x20 || cp == 0x7F) {
        static const char named[] = {['\a'] = 'a', ['\b'] = 'b', ['\f'] = 'f', ['\r'] = 'r', ['\v'] = 'v', [0x1B] = 'e'};
        if (cp < sizeof named && named[cp])
            snprintf(buf, 12, "\\%c", named[cp]);
        else
            snprintf(buf, 12, "\\x%02x", (unsigned)cp);
        return buf;
    }
    /* C1 controls (0x9b is CSI to many terminals), and the bidirectional
     * embeddings, overrides and isolates that reorder what is shown */
    if ((cp >= 0x80 && cp < 0xA0) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
        snprintf(buf, 12, "\\u%04x", (unsigned)cp);
        return buf;
    }
    return NULL;
}

/* One valid UTF-8 sequence at S (N bytes left): its length and code point,
 * or 0 when the bytes are not valid UTF-8. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t need;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return need;
}

char *termsafe_str(const char *s, size_t len)
{
    /* at most 6 output bytes per input byte ("\x1b" is 4, "\u202e" 6 for 3) */
    if (len > (SIZE_MAX - 1) / 6)
        return NULL;
    char *out = malloc(len * 6 + 1), buf[12];
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_seq(u + i, len - i, &cp);
        const char *esc;
        if (!k) {
            snprintf(buf, sizeof buf, "\\x%02x", u[i]);
            esc = buf;
            k = 1;
        } else {
            esc = termsafe_cp(cp, buf);
        }
        if (esc) {
            size_t el = strlen(esc);
            memcpy(out + o, esc, el);
            o += el;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';
    return out;
}

int termsafe_write(FILE *f, const char *s, size_t len)
{
    char buf[12];
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc = (unsigned char)s[i] < 0x80 ? termsafe_cp((unsigned char)s[i], buf) : NULL;
        if (!esc)
            continue;
        if (fwrite(s + from, 1, i - from, f) != i - from || fputs(esc, f) == EOF)
            return -1;
        from = i + 1;
    }
    return fwrite(s + from, 1, len - from, f) == len - from ? 0 : -1;
}
