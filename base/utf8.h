/* utf8.h - UTF-8 for every floor above the engine: one decoder and
 * validator. Well-formed means what Unicode says (no overlong forms, no
 * surrogates, nothing past U+10FFFF, no cut-off sequences); each caller
 * picks what to do with the rest: replace it by U+FFFD one byte at a time
 * (utf8_decode, for display), refuse it (utf8_valid, utf8_seq_len), or
 * replace each maximal ill-formed prefix by one U+FFFD as Unicode
 * recommends (utf8_clean, for generated text and what the OpenAI layer
 * sends). No allocation; nothing but libc. */
#ifndef OCTET_UTF8_H
#define OCTET_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* The length of the sequence lead byte C starts: 1 for ASCII (NUL
 * included), 2..4, or 0 for a byte no sequence starts with (a continuation
 * byte, 0xC0, 0xC1, 0xF5..0xFF). */
size_t utf8_lead_len(unsigned char c);

/* Whether C may be byte I (1-based, after the lead byte LEAD) of a
 * well-formed sequence: a continuation byte, and for I == 1 within the
 * range that excludes overlong forms, surrogates and code points past
 * U+10FFFF. */
bool utf8_cont_ok(unsigned char lead, size_t i, unsigned char c);

/* The length of the well-formed sequence at S (LEN bytes readable), with
 * its code point in *CP (CP may be NULL); 0 when S does not start with one
 * (LEN 0 included). */
size_t utf8_seq_len(const char *s, size_t len, uint32_t *cp);

/* One character for display: the length of the well-formed sequence at S
 * and its code point, or 1 and U+FFFD for a byte that starts none. LEN > 0. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Whether LEN bytes of S are well-formed UTF-8 (NUL bytes allowed). */
bool utf8_valid(const char *s, size_t len);

/* The length of S without a sequence cut off at its end: streamed text is
 * shown up to there and the rest waits for the next bytes. */
size_t utf8_complete(const char *s, size_t len);

/* Copy S (N bytes) to OUT as valid UTF-8 without NUL bytes: NUL, a byte
 * that cannot start a character, and each maximal start of a character
 * that is cut short become one U+FFFD (Unicode's recommended practice). An
 * incomplete sequence at the end is left unconsumed unless FINAL (then it
 * is replaced too). OUT needs room for 3 * N bytes. Returns the bytes of S
 * consumed; *OUT_LEN gets the bytes written. */
size_t utf8_clean(const char *s, size_t n, bool final, char *out, size_t *out_len);

/* Write CP (at most U+10FFFF) as UTF-8 to BUF (4 bytes of room); the length. */
size_t utf8_encode(uint32_t cp, char *buf);

#endif
