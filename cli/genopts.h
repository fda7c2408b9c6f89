/* genopts.h - the options `octet gen` and `octet refactor` share: the
 * engine's (cli_engine.h), the reply's (-n, --template, --temp, --seed,
 * --no-heal, --no-spec, --draft-model), the repository code in the prompt
 * (--context, --add, --repo, --lexical) and -v; parsed inside each
 * command's getopt_long loop, checked, and the model opened from them.
 * The defaults and --context's range differ by command, so they are
 * given to cli_gen_init; the --help text stays with each command. */
#ifndef OCTET_CLI_GENOPTS_H
#define OCTET_CLI_GENOPTS_H

#include "cli_engine.h"
#include "pin.h"

/* getopt_long codes of the shared long-only options. */
enum {
    CLI_GEN_TEMPLATE = CLI_ENG_FIRST_FREE,
    CLI_GEN_TEMP,
    CLI_GEN_SEED,
    CLI_GEN_CONTEXT,
    CLI_GEN_REPO,
    CLI_GEN_LEXICAL,
    CLI_GEN_NO_HEAL,
    CLI_GEN_NO_SPEC,
    CLI_GEN_ADD,
    CLI_GEN_FIRST_FREE /* gen and refactor number their own long-only options from here */
};

/* Put these entries in the command's struct option array; "m:n:v" in its
 * short options. */
#define CLI_GEN_LONGOPTS                                                                     \
    CLI_ENG_LONGOPTS, CLI_ENG_DRAFT_LONGOPT, {"n-predict", required_argument, NULL, 'n'},      \
        {"template", required_argument, NULL, CLI_GEN_TEMPLATE},                             \
        {"temp", required_argument, NULL, CLI_GEN_TEMP},                                     \
        {"seed", required_argument, NULL, CLI_GEN_SEED},                                     \
        {"context", required_argument, NULL, CLI_GEN_CONTEXT},                               \
        {"repo", required_argument, NULL, CLI_GEN_REPO},                                     \
        {"lexical", no_argument, NULL, CLI_GEN_LEXICAL},                                     \
        {"no-heal", no_argument, NULL, CLI_GEN_NO_HEAL},                                     \
        {"no-spec", no_argument, NULL, CLI_GEN_NO_SPEC},                                     \
        {"add", required_argument, NULL, CLI_GEN_ADD}, {"verbose", no_argument, NULL, 'v'}

typedef struct cli_gen_opts {
    cli_eng_t ce;
    sample_params_t sp;
    double temp; /* kept as given: a remote engine is sent this value */
    const char *tmpl_name, *repo;
    char *adds[PIN_MAX]; /* --add, as given */
    size_t n_adds;
    long n_predict, context;
    long context_min; /* the least --context the command takes */
    bool verbose, no_heal, no_spec, lexical;
} cli_gen_opts_t;

/* Defaults (temperature 0.2, seed 1, the repository ".") with the
 * command's N_PREDICT and CONTEXT; --context takes CONTEXT_MIN..2^20. */
void cli_gen_init(cli_gen_opts_t *g, long n_predict, long context, long context_min);

/* Handle option OPT (with ARG) if it is a shared one: 1 when handled, 0
 * when it is not one, CLI_EXIT_USAGE (after printing, as CMD) when ARG is
 * bad. */
int cli_gen_option(cli_gen_opts_t *g, const char *cmd, int opt, char *arg);

/* The usage errors of options given together (cli_llm_check, and
 * --draft-model with --no-spec): CLI_EXIT_USAGE after printing, else 0. */
int cli_gen_check(const cli_gen_opts_t *g, const char *cmd);

/* Open L for CMD from G (cli_llm_open; DEFAULT_CTX and ASK_CTX as there),
 * token healing and speculation as asked, and with -v the replies
 * streamed to stderr as they are generated. 0, or a CLI_EXIT_* code after
 * printing; cli_llm_close is safe either way. */
int cli_gen_open(cli_llm_t *l, const char *cmd, cli_gen_opts_t *g, uint32_t default_ctx, bool ask_ctx);

#endif
