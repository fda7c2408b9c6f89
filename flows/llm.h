/* llm.h - the model the workflows generate with (specs, refactoring; `octet
 * gen`, `octet refactor`, the TUI's /spec and /refactor): one interface,
 * llm_t, and its two implementations, the local engine (llm_engine_t,
 * llm.c) and a remote OpenAI-compatible engine (llm_remote_t, llm_remote.c),
 * set up by one function, llm_open, from a loaded model or an open remote
 * engine. Nothing here prints. */
#ifndef OCTET_LLM_H
#define OCTET_LLM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "engine.h"
#include "errmsg.h"
#include "openai.h"
#include "remote.h"
#include "sample.h"

/* A model to generate with: either chat (MSGS through a chat template) or
 * plain completion (PROMPT). DONE (may be NULL) is asked after each token
 * whether the reply so far is complete. *reply is malloc'd. */
typedef struct llm {
    bool chat;
    int (*generate)(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                    bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply,
                    errmsg_t *err);
    void *ud;
} llm_t;

/* ---- the local engine ---------------------------------------------------- */

/* The engine-backed model: a session of its own on a loaded model.
 * eng_cancel(session) from another thread stops a reply with
 * OCT_ECANCELED. */
typedef struct llm_engine {
    eng_model_t *model;
    chat_tmpl_t *tmpl; /* NULL: plain completion */
    sample_params_t sp;
    int n_predict;     /* most tokens per reply */
    eng_session_t *session;
    unsigned calls;    /* replies generated: each draws with seed + calls */
    /* Called with each piece of text as it is generated, for showing a
     * reply while it streams (NULL: not called; set it after
     * llm_engine_init, which clears the struct). */
    void (*on_text)(void *ud, const char *piece, size_t len);
    void *text_ud;
} llm_engine_t;

/* TMPL_NAME NULL: the model's own chat template; a model without one (or
 * "none") gives plain completion. */
int llm_engine_init(llm_engine_t *e, eng_model_t *m, const char *tmpl_name, const sample_params_t *sp,
                    int n_predict, llm_t *llm, errmsg_t *err);
void llm_engine_free(llm_engine_t *e);
/* Tokens TEXT takes with the model's tokenizer (for packing context). */
size_t llm_engine_count(const char *text, size_t len, void *engine_llm);

/* ---- a remote engine ------------------------------------------------------ */

/* The model on a remote OpenAI-compatible engine (remote.h). Each reply is
 * one streamed request: chat messages to /chat/completions (the server
 * applies its own chat template), or with plain completion the prompt to
 * /completions. The sampling parameters given are sent; the seed, when one
 * is given, grows by one with each reply, as the local engine's does, so
 * that a retry draws another answer. The DONE test runs on the text so far
 * after each streamed piece, and once it says the reply is complete the
 * transfer is stopped, which stops the server's generation too. */
typedef struct llm_remote {
    remote_t *rem;         /* the engine (not owned) */
    oai_gen_t gen;         /* what each request sends; gen.seed >= 0: the seed of the first reply */
    bool completion;       /* plain completion of llm_t's PROMPT instead of chat */
    const atomic_int *cancel; /* nonzero stops a reply with OCT_ECANCELED (may be NULL) */
    unsigned calls;        /* replies asked for: each is sent seed + calls */
    remote_result_t last;  /* the last reply's finish reason and token counts */
    /* Called with each piece of text as it arrives (NULL: not called; set
     * it after llm_remote_init, which clears the struct). */
    void (*on_text)(void *ud, const char *piece, size_t len);
    void *text_ud;
} llm_remote_t;

/* Set up RL on REM with the request fields G (copied; the strings it points
 * to must outlive RL) and fill LLM to generate through it. */
void llm_remote_init(llm_remote_t *rl, remote_t *rem, const oai_gen_t *g, bool completion, llm_t *llm);

/* The remote engine's context size in tokens, as its /metrics says
 * (octet serve's octet_kv_tokens_size); 0 when it does not say or cannot be
 * reached (the request itself then reports why). */
uint32_t llm_remote_ctx(remote_t *rem);

/* ---- opening the workflows' model ---------------------------------------- */

typedef struct llm_conf {
    eng_model_t *engine;  /* the loaded local model (not owned), or NULL */
    remote_t *remote;     /* else the open remote engine (not owned) */
    /* Local: the chat template (NULL: the model's own; "none": plain
     * completion). Remote: NULL asks for chat, any name for plain completion
     * (the server applies its own template). */
    const char *tmpl_name;
    const char *model;    /* remote: the model asked for (NULL: the first the server lists) */
    sample_params_t sp;   /* sampling; a remote engine is sent its seed */
    double temp;          /* the temperature as given, sent to a remote engine (sp.temp is local) */
    long n_predict;       /* most tokens per reply */
    bool ask_ctx;         /* remote: ask its /metrics for the context size */
    const atomic_int *cancel; /* remote: nonzero stops a reply (may be NULL) */
} llm_conf_t;

/* The workflows' model, opened. */
typedef struct llm_handle {
    llm_t llm;       /* what to generate with */
    uint32_t n_ctx;  /* context in tokens; 0: unknown (a remote engine that does not say) */
    /* the token counter for retrieved code: NULL (a remote engine has no
     * tokenizer here) means estimated */
    size_t (*count)(const char *text, size_t len, void *ud);
    void *count_ud;
    llm_engine_t el; /* local */
    llm_remote_t rl; /* remote */
} llm_handle_t;

/* Set up H (zeroed first) on C's local model or remote engine. 0 or OCT_E*
 * with ERR; llm_close is safe either way. */
int llm_open(llm_handle_t *h, const llm_conf_t *c, errmsg_t *err);
/* Call FN with UD and each piece of the reply as it is generated. */
void llm_stream(llm_handle_t *h, void (*fn)(void *ud, const char *piece, size_t len), void *ud);
/* Free what llm_open made (the local session), not the model or the engine. */
void llm_close(llm_handle_t *h);

#endif
