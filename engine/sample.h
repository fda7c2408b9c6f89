/* sample.h - choosing the next token from logits: greedy, or temperature
 * sampling after top-k, top-p (nucleus) and min-p filtering, with
 * repetition, frequency and presence penalties over the recent tokens and a
 * seeded generator (same seed and same logits give the same tokens on any
 * machine and thread count). Also a stop-string matcher for streamed text,
 * which holds back output that may be the start of a stop string. */
#ifndef OCTET_SAMPLE_H
#define OCTET_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

typedef struct sample_params {
    float temp;             /* <= 0: greedy (argmax) */
    int top_k;              /* keep the K most likely tokens; 0: off */
    float top_p;            /* keep the smallest set with this much probability; >= 1: off */
    float min_p;            /* drop tokens with p < min_p * p_max; 0: off */
    float repeat_penalty;   /* CTRL-style: logit / r if > 0 else logit * r; 1: off */
    int repeat_last_n;      /* window of recent tokens the penalties look at */
    float freq_penalty;     /* logit -= count * freq_penalty */
    float presence_penalty; /* logit -= presence_penalty if count > 0 */
    uint64_t seed;
} sample_params_t;

/* temp 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off (window 64), seed 0. */
void sample_params_default(sample_params_t *p);

typedef struct sampler sampler_t;

/* A sampler for a vocabulary of N_VOCAB tokens; checks the parameters. */
int sample_new(sampler_t **out, const sample_params_t *p, uint32_t n_vocab, errmsg_t *err);
void sample_free(sampler_t *s);
/* Forget the token history and restart the generator from the seed. */
void sample_reset(sampler_t *s);
/* Record a token (prompt or generated) in the penalty window. */
void sample_accept(sampler_t *s, int32_t id);
/* The next token for LOGITS (n_vocab floats, not modified). It is not
 * recorded: call sample_accept with it. */
int32_t sample_token(sampler_t *s, const float *logits);

/* Most candidates a backend hands back instead of all logits. */
#define SAMPLE_MAX_CANDIDATES 64

/* K > 0 when the next draw can be made from the K largest logits alone
 * (greedy: 1; top-k sampling without penalties: top_k, up to
 * SAMPLE_MAX_CANDIDATES); 0 when it needs every logit. */
int sample_candidates(const sampler_t *s);
/* sample_token from the K largest logits, IDS/VALS in rank order (value
 * descending, then id ascending): the same token sample_token draws from
 * the full logits with the same state. */
int32_t sample_token_top(sampler_t *s, const int32_t *ids, const float *vals, size_t k);

/* ---- stop strings -------------------------------------------------------- */

typedef struct sample_stop sample_stop_t;

/* A matcher for N stop strings (empty strings are ignored). */
int sample_stop_new(sample_stop_t **out, const char *const *stops, size_t n, errmsg_t *err);
void sample_stop_free(sample_stop_t *s);
/* Append LEN bytes of generated text. *EMIT (*EMIT_LEN bytes, valid until
 * the next call) is the text that is now safe to show: everything before a
 * completed stop string, or before a tail that could still become one.
 * Returns true when a stop string completed (generation should end). */
bool sample_stop_push(sample_stop_t *s, const char *text, size_t len, const char **emit, size_t *emit_len);
/* The held-back tail at the end of generation (no stop string followed). */
void sample_stop_flush(sample_stop_t *s, const char **emit, size_t *emit_len);

#endif
