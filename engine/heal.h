/* heal.h - token healing. A prompt that ends inside what the tokenizer
 * would make one longer token (a trailing newline before indentation, half
 * an identifier) shows the model a token boundary it never saw in
 * training there. Healing backs up the last token(s) of the prompt and
 * constrains the first generated token(s) to spell out the removed text
 * again: each must start with what is left of it, or be a prefix of it.
 * The original tokens stay allowed, so healing never forbids the
 * continuation the unhealed prompt would have given.
 *
 * The allowed tokens come from the tokenizer's prefix index
 * (tok_prefix_range), built once per model. */
#ifndef OCTET_HEAL_H
#define OCTET_HEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "tokenizer.h"

#define HEAL_MAX_TOKENS 4  /* most prompt tokens backed up */
#define HEAL_MAX_BYTES 128 /* most bytes of prompt text removed */

typedef struct heal {
    char text[HEAL_MAX_BYTES]; /* removed text not yet generated again */
    size_t len;                /* 0: no constraint */
    size_t removed;            /* bytes removed from the prompt in all */
} heal_t;

/* Decide how many of the last tokens of IDS[0..N) to back up, never
 * touching the first KEEP: the longest run of at most HEAL_MAX_TOKENS
 * ordinary tokens whose text some vocabulary entry extends (starts with it
 * and is longer). *N_BACK gets the count (0: nothing to heal) and H the
 * removed text. */
int heal_prompt(const tok_t *t, const int32_t *ids, size_t n, size_t keep, heal_t *h, size_t *n_back,
                errmsg_t *err);

static inline bool heal_active(const heal_t *h)
{
    return h->len > 0;
}

/* Whether token ID may come next under H. */
bool heal_allows(const tok_t *t, const heal_t *h, int32_t id);

/* Set every logit H does not allow to -INFINITY (LOGITS: N_VOCAB floats). */
int heal_mask(const tok_t *t, const heal_t *h, float *logits, uint32_t n_vocab, errmsg_t *err);

/* Token ID (allowed by H) was generated: consume the text it covers. */
void heal_advance(const tok_t *t, heal_t *h, int32_t id);

#endif
