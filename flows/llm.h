/* cli_llm.h - the model `octet gen` and `octet refactor` generate with: the
 * local engine (spec_engine_llm_t) or, with --backend URL, a remote
 * OpenAI-compatible engine (remote_llm_t), behind one spec_llm_t. It holds
 * what the two commands share: the usage checks of a URL backend, opening
 * either model, the context size, the token counter for packing retrieved
 * code, streaming the reply, and closing. Errors are printed (CLI layer). */
#ifndef OCTET_CLI_LLM_H
#define OCTET_CLI_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli_engine.h"
#include "llm_remote.h"
#include "spec.h"

typedef struct cli_llm {
    spec_llm_t llm;  /* what to generate with */
    uint32_t n_ctx;  /* context in tokens; 0: unknown (a remote engine that does not say) */
    /* the token counter for retrieved code: NULL (a remote engine has no
     * tokenizer here) means estimated */
    size_t (*count)(const char *text, size_t len, void *ud);
    void *count_ud;
    eng_model_t *model; /* local */
    spec_engine_llm_t el;
    remote_t *rem;      /* remote */
    remote_llm_t rl;
} cli_llm_t;

/* The usage errors of CMD's options with --backend URL (an option only a
 * local engine uses; a chat template other than none): CLI_EXIT_USAGE after
 * printing, else 0. */
int cli_llm_check(const char *cmd, const cli_eng_t *ce, const char *tmpl_name);

/* Open L (zeroed first) for CMD: the remote engine when CE names a URL (its
 * context asked of its /metrics when ASK_CTX), else the local model with a
 * context of DEFAULT_CTX unless --ctx was given. SP, TEMP (as given, for a
 * remote request), N_PREDICT and TMPL_NAME set the replies. 0, or a CLI_EXIT_*
 * code after printing the error; cli_llm_close is safe either way. */
int cli_llm_open(cli_llm_t *l, const char *cmd, cli_eng_t *ce, uint32_t default_ctx, const char *tmpl_name,
                 const sample_params_t *sp, double temp, long n_predict, bool ask_ctx);
/* Call FN with each piece of the reply as it is generated. */
void cli_llm_stream(cli_llm_t *l, void (*fn)(void *ud, const char *piece, size_t len));
void cli_llm_close(cli_llm_t *l);

#endif
