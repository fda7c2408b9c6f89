/* cli_engine.h - the engine options shared by the subcommands that run a
 * model (run, ppl, logits, bench, serve): -m, --weights, --kv, --threads, --ctx,
 * --batch, --backend, --calib, --alpha; parsing them inside each command's
 * getopt_long loop, their --help text, and opening the model. --backend also
 * takes the URL of a remote OpenAI-compatible engine, which `run`, `gen` and `refactor` use. */
#ifndef OCTET_CLI_ENGINE_H
#define OCTET_CLI_ENGINE_H

#include <getopt.h>
#include <stdint.h>

#include "engine.h"
#include "llm.h"

/* getopt_long codes of the shared long options (above any short option). */
enum {
    CLI_ENG_WEIGHTS = 1000,
    CLI_ENG_KV,
    CLI_ENG_THREADS,
    CLI_ENG_CTX,
    CLI_ENG_BATCH,
    CLI_ENG_BACKEND,
    CLI_ENG_CALIB,
    CLI_ENG_ALPHA,
    CLI_ENG_DRAFT,
    CLI_ENG_FIRST_FREE /* commands number their own long-only options from here */
};

/* Put these entries in a command's struct option array; "m:" in its short options. */
#define CLI_ENG_LONGOPTS                                                                        \
    {"model", required_argument, NULL, 'm'}, {"weights", required_argument, NULL, CLI_ENG_WEIGHTS}, \
        {"kv", required_argument, NULL, CLI_ENG_KV},                                            \
        {"threads", required_argument, NULL, CLI_ENG_THREADS},                                  \
        {"ctx", required_argument, NULL, CLI_ENG_CTX},                                          \
        {"batch", required_argument, NULL, CLI_ENG_BATCH},                                      \
        {"backend", required_argument, NULL, CLI_ENG_BACKEND},                                  \
        {"calib", required_argument, NULL, CLI_ENG_CALIB},                                      \
        {"alpha", required_argument, NULL, CLI_ENG_ALPHA}

/* Help lines for the shared options. */
extern const char CLI_ENG_HELP[];

/* --draft-model, for the commands that generate (run, gen, refactor, serve). */
#define CLI_ENG_DRAFT_LONGOPT {"draft-model", required_argument, NULL, CLI_ENG_DRAFT}
#define CLI_ENG_DRAFT_HELP                                                                      \
    "      --draft-model FILE  a smaller GGUF model with the same vocabulary that drafts tokens\n" \
    "                        for speculative decoding, beside prompt lookup (same output)\n"

typedef struct cli_eng {
    const char *model;
    const char *draft_model; /* --draft-model, or NULL */
    eng_opts_t opts;
    bool ctx_set;       /* --ctx was given */
    const char *remote; /* --backend http(s)://...: a remote OpenAI-compatible engine (run only) */
    const char *local_opt; /* the last option given that only a local engine uses ("--ctx"...), or NULL */
} cli_eng_t;

/* Defaults: the engine's, with the settings file's backend when it is a
 * local one (config.h). */
void cli_eng_init(cli_eng_t *c);
/* The same for the commands a remote engine can serve (run, gen, refactor):
 * a URL as the settings file's backend makes the remote engine the default. */
void cli_eng_init_remote(cli_eng_t *c);

/* Handle option OPT (with ARG) if it is a shared one: returns 1 when handled,
 * 0 when OPT is not an engine option, and CLI_EXIT_USAGE (after printing the
 * usage error) when ARG is bad. */
int cli_eng_option(cli_eng_t *c, const char *cmd, int opt, const char *arg);

/* Parse a whole number in [lo, hi] for option NAME; CLI_EXIT_USAGE when bad. */
int cli_parse_long(const char *cmd, const char *name, const char *arg, long lo, long hi, long *out);
int cli_parse_float(const char *cmd, const char *name, const char *arg, double lo, double hi, double *out);

/* True when ARG names a remote engine (starts with http:// or https://). */
bool cli_eng_is_url(const char *arg);

/* Open the model (errors printed). Returns 0 or CLI_EXIT_FAIL/USAGE; a
 * remote --backend is a usage error here (the command needs a local engine). When no
 * --ctx was given, DEFAULT_CTX (capped at the model's training context; 0:
 * the training context) is used. */
int cli_eng_open(const char *cmd, cli_eng_t *c, uint32_t default_ctx, eng_model_t **out);

/* The draft model of --draft-model (NULL in *OUT without it), opened with
 * the engine options of M (context included) and checked to share M's
 * vocabulary: 0, or a CLI_EXIT_* code after printing why. */
int cli_eng_open_draft(const char *cmd, cli_eng_t *c, eng_model_t *m, eng_model_t **out);

/* The model `octet gen` and `octet refactor` generate with (flows/llm.h):
 * the local engine or, with --backend URL, a remote OpenAI-compatible one,
 * opened from the command line's options. */
typedef struct cli_llm {
    llm_handle_t h;
    eng_model_t *model; /* local (owned) */
    eng_model_t *draft; /* --draft-model (owned), or NULL */
    remote_t *rem;      /* remote (owned) */
} cli_llm_t;

/* The usage errors of CMD's options with --backend URL (an option only a
 * local engine uses, as LOCAL_FLAG when not NULL: the name of one the
 * command gave; a chat template other than none): CLI_EXIT_USAGE after
 * printing, else 0. */
int cli_llm_check(const char *cmd, const cli_eng_t *ce, const char *tmpl_name, const char *local_flag);

/* Open L (zeroed first) for CMD: the remote engine when CE names a URL (its
 * context asked of its /metrics when ASK_CTX; $OCTET_API_KEY its bearer
 * token), else the local model with a context of DEFAULT_CTX unless --ctx
 * was given. SP, TEMP (as given, for a remote request), N_PREDICT and
 * TMPL_NAME set the replies. 0, or a CLI_EXIT_* code after printing the
 * error; cli_llm_close is safe either way. */
int cli_llm_open(cli_llm_t *l, const char *cmd, cli_eng_t *ce, uint32_t default_ctx, const char *tmpl_name,
                 const sample_params_t *sp, double temp, long n_predict, bool ask_ctx);
void cli_llm_close(cli_llm_t *l);

/* The help of --no-heal and --no-spec (gen, refactor: the local engine's
 * replies, llm_engine_t's heal and speculate). */
#define CLI_LLM_GEN_HELP                                                                   \
    "      --no-heal      no token healing of a plain-completion prompt (docs/engine.md)\n" \
    "      --no-spec      no speculative decoding (on by default: prompt lookup drafts\n"    \
    "                     the text the reply copies from the prompt; same reply either way)\n"    \
    "      --draft-model FILE  a smaller GGUF model with the same vocabulary drafting tokens\n"   \
    "                     too (speculation beside prompt lookup; same reply either way)\n"

/* -v: on stderr, what token healing and speculation did in the local
 * engine's replies (nothing for a remote engine). */
void cli_llm_report(const char *cmd, const cli_llm_t *l);

#endif
