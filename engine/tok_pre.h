/* tok_pre.h - pre-tokenizers of byte-level BPE vocabularies: the list of
 * split patterns named by tokenizer.ggml.pre, compiled once with PCRE2
 * (UTF + Unicode properties, JIT when available), and the splitter that runs
 * them. Private to the tokenizer (engine/tokenizer.c). */
#ifndef OCTET_TOK_PRE_H
#define OCTET_TOK_PRE_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

typedef struct tok_pre tok_pre_t;

/* A growable array of byte offsets: the end of each piece, ascending. */
typedef struct tok_ends {
    size_t *v;
    size_t n, cap;
} tok_ends_t;

/* Per-call matching state (match data, JIT stack, scratch offsets): one per
 * thread, so that a tok_pre_t can be shared read-only between threads. */
typedef struct tok_pre_scratch tok_pre_scratch_t;

/* Compile the patterns of pre-tokenizer NAME (as in tokenizer.ggml.pre; NULL
 * or "" means "default", as llama.cpp does). OCT_EUNSUPPORTED for a name we do
 * not know. */
int tok_pre_new(tok_pre_t **out, const char *name, errmsg_t *err);
void tok_pre_free(tok_pre_t *p);

/* The name given to tok_pre_new ("default" for NULL/""). */
const char *tok_pre_name_of(const tok_pre_t *p);
/* Llama 3 style vocabularies: a piece that is itself a vocabulary entry is
 * emitted whole, without running the merges (llama.cpp's ignore_merges). */
bool tok_pre_ignore_merges(const tok_pre_t *p);
/* Whether llama.cpp adds BOS by default for this pre-tokenizer when the file
 * has no tokenizer.ggml.add_bos_token (true for the Llama 3 family). */
bool tok_pre_default_add_bos(const tok_pre_t *p);

int tok_pre_scratch_new(tok_pre_scratch_t **out, errmsg_t *err);
void tok_pre_scratch_free(tok_pre_scratch_t *s);

/* Split TEXT[0..len) into pieces: each pattern in turn splits every piece of
 * the previous one into its matches and the text between them (nothing is
 * dropped). Matching is confined to the piece (look-aheads and $ see its end).
 * Invalid UTF-8 never matches a pattern and ends up in the pieces between
 * matches. On success *out (owned by S, valid until its next use) holds the
 * piece ends; the last is len (no pieces for len == 0). */
int tok_pre_split_run(const tok_pre_t *p, tok_pre_scratch_t *s, const char *text, size_t len,
                      const tok_ends_t **out, errmsg_t *err);

/* Append X to E; false when out of memory. */
bool tok_ends_push(tok_ends_t *e, size_t x);

#endif
