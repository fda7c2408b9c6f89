/* generate.h - the one generation loop: a prompt (token ids) in, generated
 * text streamed out, over an engine session. Every front end (octet run,
 * the server, the spec and refactor workflows, the TUI) runs its turns
 * through gen_run; chat formatting, FIM and tokenizing the prompt stay with
 * the caller.
 *
 * One call:
 *  1. token healing (on by default): when the prompt ends inside what would
 *     be a longer token, its last token(s) are backed up and the first
 *     generated token(s) must spell the removed text again (heal.h); the
 *     removed text is not streamed a second time;
 *  2. prefix reuse: the tokens the session's KV cache already holds
 *     (eng_tokens) are compared with the prompt, the cache is truncated to
 *     the common prefix and only the rest is fed, in batches;
 *  3. decoding: sample (sample.h) until an end-of-generation token, a stop
 *     string, max_tokens, a full context, the callback's refusal or
 *     eng_cancel; with speculation (on by default: prompt lookup) drafts
 *     are verified in one batched pass and the cache rolled back past the
 *     rejected ones (draft.h). The output is the same with or without
 *     speculation: each position's token is drawn exactly as plain decoding
 *     draws it, from the same sampler state (see docs/engine.md);
 *  4. streaming: each token's text goes through the stop-string matcher
 *     (which holds back a tail that may begin a stop string) and is cut at
 *     UTF-8 character boundaries, so the callback only sees whole
 *     characters; invalid bytes and NUL become U+FFFD.
 *
 * Afterwards the session holds the (healed) prompt and the generated tokens
 * except the last one, so the next turn that extends this conversation
 * reuses all of it. */
#ifndef OCTET_GENERATE_H
#define OCTET_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "draft.h"
#include "engine.h"
#include "errmsg.h"
#include "sample.h"

typedef enum gen_stop {
    GEN_STOP_NONE,     /* failed before generating */
    GEN_STOP_EOG,      /* the model produced an end-of-generation token */
    GEN_STOP_STRING,   /* a stop string completed (it is not in the text) */
    GEN_STOP_LENGTH,   /* max_tokens were generated */
    GEN_STOP_CONTEXT,  /* the context is full */
    GEN_STOP_CALLER,   /* the callback returned nonzero */
    GEN_STOP_CANCELED, /* eng_cancel on the session (gen_run returns OCT_ECANCELED) */
    GEN_STOP_ERROR,    /* a forward pass failed (gen_run returns its code) */
} gen_stop_t;

/* "none" "eog" "stop" "length" "context" "caller" "canceled" "error" */
const char *gen_stop_name(gen_stop_t s);

typedef struct gen_result {
    int32_t *tokens;   /* generated ids, end-of-generation token excluded (malloc'd) */
    size_t n_tokens;
    char *text;        /* the streamed text, NUL-terminated, valid UTF-8 (malloc'd) */
    size_t text_len;
    gen_stop_t stop;
    size_t n_prompt;   /* prompt tokens given */
    size_t n_healed;   /* of them backed up by token healing */
    size_t n_reused;   /* of them found in the KV cache (not fed again) */
    double t_prefill;  /* seconds feeding the prompt */
    double t_decode;   /* seconds from the end of the prefill to the end */
    double prefill_tok_s; /* tokens fed / t_prefill */
    double decode_tok_s;  /* n_tokens / t_decode */
    /* speculation */
    size_t n_passes;   /* forward passes after the prefill */
    size_t n_drafted;  /* drafted tokens verified */
    size_t n_accepted; /* of them accepted */
    double accept_rate;  /* n_accepted / n_drafted (0 without drafts) */
    double tok_per_pass; /* n_tokens / (n_passes + 1): the prefill's pass gives the first */
    size_t cap_tokens, cap_text; /* (allocation) */
} gen_result_t;

/* Called once per generated token (EOG excluded) with the text that became
 * safe to show (LEN may be 0: held back by the stop matcher or an
 * incomplete character), and once more at the end if held-back text is
 * released then. SO_FAR is the result up to now (text, tokens, counts);
 * return nonzero to stop (GEN_STOP_CALLER; the return value of the last
 * call is ignored). */
typedef int (*gen_text_fn)(void *ud, const char *text, size_t len, const gen_result_t *so_far);

typedef struct gen_spec {
    bool lookup;              /* prompt lookup (default true) */
    const char *context;      /* extra text the answer may copy (retrieved code, the file being
                                 edited) when it is not in the prompt; NULL: none */
    size_t context_len;
    eng_session_t *draft;     /* a session of a draft model with the same vocabulary; NULL: none */
    draft_fn_t fn;            /* a caller's drafter; NULL: none */
    void *fn_ud;
    int k_max;                /* most drafts per pass; 0: eng_verify_max - 1 */
    bool fixed_k;             /* draft whatever a source gives, up to k_max, without the cost
                                 model (tests, benchmarks) */
} gen_spec_t;

typedef struct gen_params {
    sample_params_t sample;    /* default: sample_params_default */
    long max_tokens;           /* < 0: until the context is full; default 256 */
    const char *const *stops;  /* stop strings (not streamed, end the generation) */
    size_t n_stops;
    bool ignore_eos;           /* never sample end-of-generation tokens */
    bool heal;                 /* token healing (default true) */
    bool reuse;                /* reuse the KV cache's common prefix (default true) */
    bool speculate;            /* speculative decoding with SPEC (default true) */
    gen_spec_t spec;
    gen_text_fn on_text;       /* streaming callback; NULL: none */
    void *ud;
} gen_params_t;

void gen_params_default(gen_params_t *p);

/* Generate a continuation of PROMPT[0..N) (N >= 1, less than the context)
 * on session S. RES is filled (even on failure: what was generated so far)
 * and freed with gen_result_free. Returns 0 when generation ended for any
 * reason but a failure, OCT_ECANCELED after eng_cancel(S) (RES->stop
 * GEN_STOP_CANCELED), or an error code with ERR filled. The model must have
 * a tokenizer. */
int gen_run(eng_session_t *s, const int32_t *prompt, size_t n, const gen_params_t *p, gen_result_t *res,
            errmsg_t *err);

void gen_result_free(gen_result_t *res);

/* 0 when DM can draft for M (another model, the same vocabulary token for
 * token); OCT_EINVAL with the first difference otherwise. gen_run checks
 * it too; front ends call it when they open a draft model, to refuse at
 * once. */
int gen_draft_check(eng_model_t *m, eng_model_t *dm, errmsg_t *err);

#endif
