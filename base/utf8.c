/* utf8.c - UTF-8 decoding and validation (see utf8.h). */
#include <string.h>

#include "utf8.h"

size_t utf8_lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

bool utf8_cont_ok(unsigned char lead, size_t i, unsigned char c)
{
    if ((c & 0xC0) != 0x80)
        return false;
    if (i != 1)
        return true;
    if (lead == 0xE0)
        return c >= 0xA0;
    if (lead == 0xED)
        return c <= 0x9F;
    if (lead == 0xF0)
        return c >= 0x90;
    if (lead == 0xF4)
        return c <= 0x8F;
    return true;
}

size_t utf8_seq_len(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0)
        return 0;
    size_t n = utf8_lead_len(u[0]);
    if (n == 0 || n > len)
        return 0;
    static const unsigned char lead_bits[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t v = u[0] & lead_bits[n];
    for (size_t i = 1; i < n; i++) {
        if (!utf8_cont_ok(u[0], i, u[i]))
            return 0;
        v = v << 6 | (u[i] & 0x3F);
    }
    if (cp)
        *cp = v;
    return n;
}

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    size_t n = utf8_seq_len(s, len, cp);
    if (n)
        return n;
    *cp = UTF8_REPLACEMENT;
    return 1;
}

bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(s + i, len - i, NULL);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t utf8_complete(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* look back over at most 3 continuation bytes for a lead byte */
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = u[len - back];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = utf8_lead_len(c);
        return need > back ? len - back : len;
    }
    return len;
}

size_t utf8_encode(uint32_t cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | cp >> 18);
    b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_clean(const char *s, size_t n, bool final, char *out, size_t *out_len)
{
    static const char repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t l = utf8_lead_len(u[i]);
        if (l == 0 || u[i] == 0) {
            memcpy(out + o, repl, 3);
            o += 3;
            i++;
            continue;
        }
        size_t k = 1;
        while (k < l && i + k < n && utf8_cont_ok(u[i], k, u[i + k]))
            k++;
        if (k == l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else if (i + k == n && !final) {
            break; /* may complete with the next bytes */
        } else {
            /* one U+FFFD for the maximal valid prefix of a sequence, as
             * Unicode recommends (and Python's errors="replace" does) */
            memcpy(out + o, repl, 3);
            o += 3;
            i += k;
        }
    }
    *out_len = o;
    return i;
}
