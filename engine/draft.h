/* draft.h - the guesses of speculative decoding and how many to make.
 *
 * Sources, tried in this order:
 *  - line drafts, inside a unified diff's hunk or a search/replace block
 *    (lines.h): the next lines of the prompt's text the answer is copying,
 *    behind their markers, or written again with the answer's renames;
 *  - prompt lookup: the last n tokens (n = 4 down to 1) are looked up in an
 *    n-gram index over the extra context, the prompt and the text accepted
 *    so far; the tokens that followed their latest earlier occurrence are
 *    the draft (answers that edit code copy long runs of their prompt);
 *  - a draft model: a session of a smaller model with the same vocabulary,
 *    kept in step with the accepted text, decoding greedily;
 *  - a caller's function.
 * Drafts are single guesses (no distribution): the generation loop verifies
 * them by sampling the target as it would without speculation and keeping
 * the drafts that agree, which is rejection sampling for a draft that puts
 * all its probability on one token.
 *
 * How many to draft: each source (and each n-gram length) keeps a decaying
 * count of accepted and rejected drafts, giving a per-token acceptance
 * probability a; the loop reports how long its forward passes take, and the
 * fastest pass seen for each token count m at about the current context
 * length (within a factor of 2: attention makes a pass of many tokens cost
 * more against one of a single token as the context grows; another process
 * taking the core only ever slows a pass down; a size counts as timed after
 * 3 timings) gives the relative cost r(m) = t(m) / t(1) of a verification
 * pass; counts not timed yet are assumed cheap (1 + 0.1 (m-1)) so that they
 * get tried, and nothing is drafted before a step of plain decoding has been
 * timed. A draft of k tokens is made when (1 + a + ... + a^k) / (r(k+1) + k
 * r_d) (r_d: one draft-model step) beats plain decoding, with the best such
 * k. Sources that stop paying are asked less and less, and tried again from
 * time to time as their counts decay; after 8 proposals in a row without a
 * draft, one token is drafted anyway (with measured pass costs the prior
 * acceptance alone does not pay, so a source would never be tried again).
 * The counts and timings pass from one drafter to the next through a
 * draft_mem_t (the generation loop keeps one with each session). */
#ifndef OCTET_DRAFT_H
#define OCTET_DRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errmsg.h"
#include "tokenizer.h"

/* A caller's drafter: up to MAX tokens to follow SEQ[0..N) (the prompt and
 * the accepted tokens) into OUT, their number in *N_OUT. */
typedef int (*draft_fn_t)(void *ud, const int32_t *seq, size_t n, size_t max, int32_t *out, size_t *n_out,
                          errmsg_t *err);

/* What the cost model learned (acceptance counts, pass timings), carried
 * from one drafter to the next over generations in one session, so that
 * each does not start again from the priors: a generation of a hundred
 * tokens would otherwise spend most of its passes finding out that its
 * drafts are accepted and what a pass costs. */
typedef struct draft_mem draft_mem_t;
draft_mem_t *draft_mem_new(void);
void draft_mem_free(void *m);

typedef struct draft_cfg {
    bool lookup;              /* prompt lookup */
    const tok_t *tok;         /* with LOOKUP: line drafts in diffs, in this tokenizer; NULL: none */
    const int32_t *context;   /* extra tokens for the lookup index (retrieved code...) */
    size_t n_context;
    eng_session_t *model;     /* a draft model's session; NULL: none */
    draft_fn_t fn;            /* a caller's drafter; NULL: none */
    void *fn_ud;
    size_t k_max;             /* most drafts per pass (>= 1) */
    bool fixed;               /* always draft as many as the source gives, up to k_max (tests) */
    draft_mem_t *mem;         /* start from it; draft_free stores what was learned in it; NULL: none */
} draft_cfg_t;

typedef struct draft draft_t;

int draft_new(draft_t **out, const draft_cfg_t *cfg, errmsg_t *err);
void draft_free(draft_t *d);

/* Append accepted tokens (first the prompt, then each generated token). */
int draft_push(draft_t *d, const int32_t *ids, size_t n, errmsg_t *err);

/* Up to MAX tokens guessed to follow what was pushed, in OUT; *N_OUT is 0
 * when no source has a guess worth verifying. */
int draft_propose(draft_t *d, size_t max, int32_t *out, size_t *n_out, errmsg_t *err);

/* The last proposal of N_DRAFTED tokens had its first N_ACCEPTED accepted. */
void draft_result(draft_t *d, size_t n_drafted, size_t n_accepted);

/* A forward pass of the target over N_TOK tokens took SECONDS. */
void draft_pass_time(draft_t *d, size_t n_tok, double seconds);

#endif
