/* query.h - turns any prompt into a safe FTS5 query and scores symbol-name
 * matches (private to rag/).
 *
 * The prompt is cut into words (letters, digits, '_', non-ASCII); every FTS5
 * operator, quote or bracket in it is therefore only a separator. Each word
 * is lowercased; stopwords and one-letter words are dropped; an identifier
 * such as parseConfig or parse_config contributes itself, its parts and the
 * phrase of its parts; in a short prompt, two adjacent words of prose
 * contribute their phrase too.
 * Every term is written as an FTS5 string ("term", with '"' doubled) and all
 * are OR-ed. Terms are deduplicated and capped, most frequent first, so a
 * megabyte of prompt makes a query as small as a sentence does. */
#ifndef OCTET_RAG_QUERY_H
#define OCTET_RAG_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_MAX_TERMS 32   /* words and identifiers */
#define QUERY_MAX_PHRASES 8  /* identifier parts and adjacent prose words */
/* Adjacent prose words make phrases only in a prompt of at most this many
 * words (a keyword search such as "parse config"): in longer prose, chance
 * word pairs in comments outweigh the words themselves (docs/retrieval.md). */
#define QUERY_PROSE_PHRASE_WORDS 4

typedef struct query_term {
    char *text;  /* lowercase word, identifier, or words separated by spaces */
    bool phrase; /* several words that must be adjacent */
} query_term_t;

typedef struct query {
    query_term_t *terms; /* best first: most frequent in the prompt, then earliest */
    size_t n_terms;
    char **words;   /* the single-word terms kept (lowercase, stemmed): for the symbol boost */
    size_t n_words;
    char **idents;  /* identifiers as typed, lowercased with '_' removed */
    size_t n_idents;
} query_t;

/* Build the query for LEN bytes of PROMPT (any bytes). 0 or OCT_ENOMEM. */
int query_build(const char *prompt, size_t len, query_t *q);
void query_free(query_t *q);

/* The FTS5 MATCH expression OR-ing the terms for which KEEP is true (every
 * term when KEEP is NULL), each written as an FTS5 string. malloc'd; NULL
 * when no term is kept or out of memory (*oom tells). */
char *query_fts(const query_t *q, const bool *keep, bool *oom);

/* Factor (>= 1) by which a chunk whose enclosing symbol is SYMBOL (may be
 * NULL) is boosted: the last component of the name typed as an identifier
 * in the prompt, or its words present among the prompt's words. */
double query_symbol_boost(const query_t *q, const char *symbol);

#endif
