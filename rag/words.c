/* words.c - identifier splitting and query stopwords for rag/ (see words.h). */
#include "words.h"

#include <stdlib.h>
#include <string.h>

static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(unsigned char c) { return (c >= 'a' && c <= 'z') || c >= 0x80; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void emit(const char *s, size_t a, size_t b, words_part_fn fn, void *ud, size_t *count)
{
    if (b <= a)
        return;
    (*count)++;
    if (b - a < 2 || !fn)
        return;
    char buf[WORDS_MAX_LEN + 1];
    size_t n = b - a > WORDS_MAX_LEN ? WORDS_MAX_LEN : b - a;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[a + i];
        buf[i] = is_upper(c) ? (char)(c - 'A' + 'a') : (char)c;
    }
    buf[n] = '\0';
    fn(buf, n, ud);
}

size_t words_split_ident(const char *id, size_t len, words_part_fn fn, void *ud)
{
    const unsigned char *s = (const unsigned char *)id;
    size_t count = 0, start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '_' || !words_is_wordbyte(c)) {
            emit(id, start, i, fn, ud, &count);
            start = i + 1;
            continue;
        }
        if (i == start)
            continue;
        unsigned char p = s[i - 1];
        bool cut = false;
        if (is_upper(c) && (is_lower(p) || is_digit(p)))
            cut = true; /* parseConfig, utf8Decode */
        else if (is_upper(p) && is_upper(c) && i + 1 < len && is_lower(s[i + 1]) && s[i + 1] < 0x80)
            cut = true; /* HTTPServer: cut before the S */
        else if (is_digit(c) != is_digit(p) && (is_digit(c) || is_digit(p)))
            cut = true; /* sha256sum */
        if (cut) {
            emit(id, start, i, fn, ud, &count);
            start = i;
        }
    }
    emit(id, start, len, fn, ud, &count);
    return count;
}

/* Sorted, for bsearch. English function words plus "return"/"returns"/"self",
 * which appear in most chunks (and most docstrings) and only slow a query
 * down; rarer code words stay, BM25's IDF weighs them. */
static const char *const STOPWORDS[] = {
    "a",       "about",   "above",   "after",   "again",   "against", "all",     "also",
    "am",      "an",      "and",     "any",     "are",     "as",      "at",      "be",
    "because", "been",    "before",  "being",   "below",   "between", "both",    "but",
    "by",      "can",     "could",   "did",     "do",      "does",    "doing",   "down",
    "during",  "each",    "either",  "else",    "etc",     "few",     "for",     "from",
    "further", "had",     "has",     "have",    "having",  "he",      "her",     "here",
    "hers",    "him",     "his",     "how",     "i",       "ie",      "if",      "in",
    "into",    "is",      "it",      "its",     "itself",  "just",    "may",     "me",
    "might",   "more",    "most",    "must",    "my",      "no",      "nor",     "not",
    "now",     "of",      "off",     "on",      "once",    "only",    "or",      "other",
    "our",     "ours",    "out",     "over",    "own",     "please",  "return",  "returns",
    "same",    "self",    "shall",   "she",     "should",  "so",      "some",    "such",
    "than",    "that",    "the",     "their",   "theirs",  "them",    "then",    "there",
    "these",   "they",    "this",    "those",   "through", "to",      "too",     "under",
    "until",   "up",      "upon",    "us",      "very",    "was",     "we",      "were",
    "what",    "when",    "where",   "whether", "which",   "while",   "who",     "whom",
    "why",     "will",    "with",    "would",   "you",     "your",    "yours",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

bool words_is_stopword(const char *word, size_t len)
{
    char buf[16];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, word, len);
    buf[len] = '\0';
    return bsearch(buf, STOPWORDS, sizeof STOPWORDS / sizeof STOPWORDS[0], sizeof STOPWORDS[0],
                   cmp_word) != NULL;
}
