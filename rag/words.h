/* words.h - word-level text helpers shared by indexing and querying: what a
 * word is, how identifiers split into words (camelCase, snake_case, digits),
 * which query words are too common to search for. */
#ifndef OCTET_RAG_WORDS_H
#define OCTET_RAG_WORDS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest word kept; longer runs (hashes, base64, minified code) are noise. */
#define WORDS_MAX_LEN 64

/* True for a byte that can be part of a word: ASCII letters, digits, '_'
 * and the bytes of non-ASCII characters. The FTS5 tokenizer of the index
 * uses the same rule ("unicode61" with '_' as a token character). */
static inline bool words_is_wordbyte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* Called with each part of an identifier, lowercased, NUL-terminated. */
typedef void (*words_part_fn)(const char *part, size_t len, void *ud);

/* Split the identifier ID (LEN bytes) at '_', at lower-to-upper case changes,
 * before the last capital of a run of capitals followed by a lowercase letter
 * ("HTTPServer" -> http server) and between letters and digits. Parts of one
 * character are not reported. Returns the number of parts found, those of
 * one character included: 2 or more means ID is a compound identifier. */
size_t words_split_ident(const char *id, size_t len, words_part_fn fn, void *ud);

/* True for common English words and the few code words found in nearly every
 * chunk; WORD is lowercase. They are dropped from queries, never from the
 * index. */
bool words_is_stopword(const char *word, size_t len);

#endif
