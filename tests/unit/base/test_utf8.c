/* test_utf8.c - base/utf8.c: decoding for display (U+FFFD a byte at a time
 * for what is not well-formed), sequence lengths, validation, holding back
 * a cut-off tail, encoding, cleaning (one U+FFFD for each maximal ill-formed
 * prefix); and every code point and every 1-4 byte sequence checked against
 * the definition of well-formed UTF-8. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "utf8.h"

static void test_decode(void)
{
    uint32_t cp;
    CHECK_EQ_INT(utf8_decode("A", 1, &cp), 1);
    CHECK_EQ_INT(cp, 'A');
    CHECK_EQ_INT(utf8_decode("\xC3\xA9", 2, &cp), 2);
    CHECK_EQ_INT(cp, 0xE9);
    CHECK_EQ_INT(utf8_decode("\xE4\xB8\x96", 3, &cp), 3);
    CHECK_EQ_INT(cp, 0x4E16);
    CHECK_EQ_INT(utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    /* malformed: one byte at a time, as U+FFFD */
    static const char *const bad[] = {"\xC0\x80", "\xED\xA0\x80", "\x80", "\xE4\xB8", "\xF5\x80\x80\x80",
                                      "\xE4\x41\x42", "\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(utf8_decode(bad[i], strlen(bad[i]), &cp), 1);
        CHECK_EQ_INT(cp, 0xFFFD);
    }
    /* incomplete tails are held back, complete text is not */
    CHECK_EQ_INT(utf8_complete("ab\xE4\xB8", 4), 2);
    CHECK_EQ_INT(utf8_complete("ab\xE4", 3), 2);
    CHECK_EQ_INT(utf8_complete("ab\xE4\xB8\x96", 5), 5);
    CHECK_EQ_INT(utf8_complete("ab\xF0\x9F\x98", 5), 2);
    CHECK_EQ_INT(utf8_complete("abc", 3), 3);
    CHECK_EQ_INT(utf8_complete("a\x80\x80\x80\x80", 5), 5); /* junk is complete: it shows as U+FFFD */
    CHECK_EQ_INT(utf8_complete("", 0), 0);
    char buf[8];
    CHECK_EQ_INT(utf8_encode(0x1F600, buf), 4);
    CHECK(!memcmp(buf, "\xF0\x9F\x98\x80", 4));
    CHECK_EQ_INT(utf8_encode(0xE9, buf), 2);
}

static void test_seq_len(void)
{
    CHECK_EQ_INT(utf8_seq_len("a", 1, NULL), 1);
    CHECK_EQ_INT(utf8_seq_len("\xc3\xa9", 2, NULL), 2);       /* é */
    CHECK_EQ_INT(utf8_seq_len("\xe2\x82\xac", 3, NULL), 3);   /* € */
    CHECK_EQ_INT(utf8_seq_len("\xf0\x9f\x98\x80", 4, NULL), 4);
    CHECK_EQ_INT(utf8_seq_len("\xc0\xaf", 2, NULL), 0);       /* overlong */
    CHECK_EQ_INT(utf8_seq_len("\xe0\x80\xaf", 3, NULL), 0);   /* overlong */
    CHECK_EQ_INT(utf8_seq_len("\xed\xa0\x80", 3, NULL), 0);   /* surrogate */
    CHECK_EQ_INT(utf8_seq_len("\xf4\x90\x80\x80", 4, NULL), 0); /* > U+10FFFF */
    CHECK_EQ_INT(utf8_seq_len("\xe2\x82", 2, NULL), 0);       /* truncated */
    CHECK_EQ_INT(utf8_seq_len("\x80", 1, NULL), 0);
}

static void test_valid(void)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("plain ascii", 11));
    CHECK(utf8_valid("a\0b", 3)); /* NUL is a character */
    CHECK(utf8_valid("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14));
    CHECK(!utf8_valid("caf\xC3", 4));           /* cut off */
    CHECK(!utf8_valid("\xC3\xA9\xA9", 3));      /* a stray continuation byte */
    CHECK(!utf8_valid("\xED\xBF\xBF", 3));      /* a surrogate */
    CHECK(!utf8_valid("\xF8\x88\x80\x80\x80", 5)); /* five-byte form */
    CHECK_EQ_INT(utf8_lead_len(0x00), 1);
    CHECK_EQ_INT(utf8_lead_len(0x7F), 1);
    CHECK_EQ_INT(utf8_lead_len(0x80), 0);
    CHECK_EQ_INT(utf8_lead_len(0xC1), 0);
    CHECK_EQ_INT(utf8_lead_len(0xC2), 2);
    CHECK_EQ_INT(utf8_lead_len(0xEF), 3);
    CHECK_EQ_INT(utf8_lead_len(0xF4), 4);
    CHECK_EQ_INT(utf8_lead_len(0xF5), 0);
    CHECK(utf8_cont_ok(0xE0, 1, 0xA0) && !utf8_cont_ok(0xE0, 1, 0x9F));
    CHECK(utf8_cont_ok(0xED, 1, 0x9F) && !utf8_cont_ok(0xED, 1, 0xA0));
    CHECK(utf8_cont_ok(0xF0, 1, 0x90) && !utf8_cont_ok(0xF0, 1, 0x8F));
    CHECK(utf8_cont_ok(0xF4, 1, 0x8F) && !utf8_cont_ok(0xF4, 1, 0x90));
    CHECK(utf8_cont_ok(0xF4, 2, 0xBF) && !utf8_cont_ok(0xF4, 2, 0xC0));
}

/* Every scalar value encodes to the sequence its definition gives and decodes
 * back; every sequence of 1 to 4 bytes over the lead bytes and the boundary
 * values of continuation bytes is accepted exactly when it is one of those. */
static void test_exhaustive(void)
{
    size_t bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char b[4];
        size_t n = utf8_encode(cp, b), want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        uint32_t back = 0;
        if (n != want || utf8_seq_len(b, n, &back) != n || back != cp || !utf8_valid(b, n) ||
            utf8_complete(b, n) != n || (n > 1 && utf8_complete(b, n - 1) != 0))
            bad++;
    }
    CHECKF(bad == 0, "%zu code points", bad);
    static const unsigned char conts[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    bad = 0;
    for (unsigned lead = 0; lead < 256; lead++)
        for (size_t a = 0; a < sizeof conts; a++)
            for (size_t b = 0; b < sizeof conts; b++)
                for (size_t c = 0; c < sizeof conts; c++) {
                    unsigned char s[4] = {(unsigned char)lead, conts[a], conts[b], conts[c]};
                    /* the definition: the shortest form of a scalar value */
                    size_t want = 0;
                    uint32_t v = 0;
                    if (lead < 0x80) {
                        want = 1, v = lead;
                    } else if ((lead & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
                        v = (lead & 0x1Fu) << 6 | (s[1] & 0x3Fu);
                        want = v >= 0x80 ? 2 : 0;
                    } else if ((lead & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
                        v = (lead & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
                        want = v >= 0x800 && (v < 0xD800 || v > 0xDFFF) ? 3 : 0;
                    } else if ((lead & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
                               (s[3] & 0xC0) == 0x80) {
                        v = (lead & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
                        want = v >= 0x10000 && v <= 0x10FFFF ? 4 : 0;
                    }
                    uint32_t got = 0;
                    size_t n = utf8_seq_len((const char *)s, 4, &got);
                    if (n != want || (n && got != v))
                        bad++;
                }
    CHECKF(bad == 0, "%zu sequences", bad);
}

static void test_utf8_clean(void)
{
    char out[64];
    size_t ol;
    /* valid text passes unchanged */
    CHECK_EQ_INT(utf8_clean("a\xc3\xa9\xe2\x82\xac", 6, false, out, &ol), 6);
    CHECK(ol == 6 && !memcmp(out, "a\xc3\xa9\xe2\x82\xac", 6));
    /* an incomplete character at the end waits, unless final */
    CHECK_EQ_INT(utf8_clean("a\xe2\x82", 3, false, out, &ol), 1);
    CHECK_EQ_INT(ol, 1);
    CHECK_EQ_INT(utf8_clean("a\xe2\x82", 3, true, out, &ol), 3);
    CHECK(ol == 4 && !memcmp(out + 1, "\xef\xbf\xbd", 3));
    /* a stray continuation byte, NUL, an overlong lead and a cut-short character each give one U+FFFD */
    CHECK_EQ_INT(utf8_clean("\x80" "b\0\xc0\xe2\x82" "c", 7, false, out, &ol), 7);
    CHECK_EQ_INT(ol, 3 + 1 + 3 + 3 + 3 + 1);
    CHECK(!memcmp(out, "\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "c", 14));
    /* surrogates are not UTF-8 */
    CHECK_EQ_INT(utf8_clean("\xed\xa0\x80", 3, true, out, &ol), 3);
    CHECK(ol >= 3 && !memcmp(out, "\xef\xbf\xbd", 3));
}

int main(void)
{
    TEST_RUN(test_decode);
    TEST_RUN(test_seq_len);
    TEST_RUN(test_valid);
    TEST_RUN(test_exhaustive);
    TEST_RUN(test_utf8_clean);
    TEST_END();
}
