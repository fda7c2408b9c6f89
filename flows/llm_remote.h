/* remote_llm.h - the model of the workflows (spec.h's spec_llm_t: `octet
 * gen`, `octet refactor`, the TUI's /spec and /refactor) on a remote
 * OpenAI-compatible engine (remote.h) instead of the local one.
 *
 * Each reply is one streamed request: chat messages to /chat/completions
 * (the server applies its own chat template), or with plain completion the
 * prompt to /completions. The sampling parameters given are sent; the seed,
 * when one is given, grows by one with each reply, as the local engine's
 * does, so that a retry draws another answer. The workflow's DONE test runs
 * on the text so far after each streamed piece, and once it says the reply
 * is complete the transfer is stopped, which stops the server's generation
 * too. Nothing here prints. */
#ifndef OCTET_REMOTE_LLM_H
#define OCTET_REMOTE_LLM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "openai.h"
#include "remote.h"
#include "spec.h"

typedef struct remote_llm {
    remote_t *rem;         /* the engine (not owned) */
    oai_gen_t gen;         /* what each request sends; gen.seed >= 0: the seed of the first reply */
    bool completion;       /* plain completion of spec_llm_t's PROMPT instead of chat */
    const atomic_int *cancel; /* nonzero stops a reply with OCT_ECANCELED (may be NULL) */
    unsigned calls;        /* replies asked for: each is sent seed + calls */
    remote_result_t last;  /* the last reply's finish reason and token counts */
    /* Called with each piece of text as it arrives (NULL: not called; set
     * it after remote_llm_init, which clears the struct). */
    void (*on_text)(void *ud, const char *piece, size_t len);
    void *text_ud;
} remote_llm_t;

/* Set up RL on REM with the request fields G (copied; the strings it points
 * to must outlive RL) and fill LLM to generate through it. */
void remote_llm_init(remote_llm_t *rl, remote_t *rem, const oai_gen_t *g, bool completion, spec_llm_t *llm);

/* The remote engine's context size in tokens, as its /metrics says
 * (octet serve's octet_kv_tokens_size); 0 when it does not say or cannot be
 * reached (the request itself then reports why). */
uint32_t remote_llm_ctx(remote_t *rem);

#endif
