/* genopts.c - the options gen and refactor share, and the model opened
 * from them. */
#include <string.h>

#include "cli.h"
#include "genopts.h"
#include "termsafe.h"

void cli_gen_init(cli_gen_opts_t *g, long n_predict, long context, long context_min)
{
    memset(g, 0, sizeof *g);
    cli_eng_init_remote(&g->ce);
    sample_params_default(&g->sp);
    g->temp = 0.2;
    g->sp.temp = (float)g->temp;
    g->sp.seed = 1;
    g->repo = ".";
    g->n_predict = n_predict;
    g->context = context;
    g->context_min = context_min;
}

int cli_gen_option(cli_gen_opts_t *g, const char *cmd, int opt, char *arg)
{
    long v;
    int r = cli_eng_option(&g->ce, cmd, opt, arg);
    if (r)
        return r;
    switch (opt) {
    case 'n':
        return cli_parse_long(cmd, "-n", arg, 1, 1 << 20, &g->n_predict) ? CLI_EXIT_USAGE : 1;
    case CLI_GEN_TEMPLATE:
        g->tmpl_name = arg;
        return 1;
    case CLI_GEN_TEMP:
        if (cli_parse_float(cmd, "--temp", arg, 0, 100, &g->temp))
            return CLI_EXIT_USAGE;
        g->sp.temp = (float)g->temp;
        return 1;
    case CLI_GEN_SEED:
        if (cli_parse_long(cmd, "--seed", arg, 0, 0x7fffffffL, &v))
            return CLI_EXIT_USAGE;
        g->sp.seed = (uint64_t)v;
        return 1;
    case CLI_GEN_CONTEXT:
        return cli_parse_long(cmd, "--context", arg, g->context_min, 1 << 20, &g->context) ? CLI_EXIT_USAGE : 1;
    case CLI_GEN_REPO:
        g->repo = arg;
        return 1;
    case CLI_GEN_LEXICAL:
        g->lexical = true;
        return 1;
    case CLI_GEN_NO_HEAL:
        g->no_heal = true;
        return 1;
    case CLI_GEN_NO_SPEC:
        g->no_spec = true;
        return 1;
    case CLI_GEN_ADD:
        if (cli_check_add(cmd, g->n_adds, PIN_MAX, arg))
            return CLI_EXIT_USAGE;
        g->adds[g->n_adds++] = arg;
        return 1;
    case 'v':
        g->verbose = true;
        return 1;
    default:
        return 0;
    }
}

int cli_gen_check(const cli_gen_opts_t *g, const char *cmd)
{
    int r = cli_llm_check(cmd, &g->ce, g->tmpl_name, g->no_heal ? "--no-heal" : g->no_spec ? "--no-spec" : NULL);
    if (r)
        return r;
    if (g->no_spec && g->ce.draft_model)
        return cli_usage(cmd, "--draft-model drafts for speculative decoding, which --no-spec turns off");
    return 0;
}

/* -v: the model's replies as they are generated. */
static void stream_text(void *ud, const char *piece, size_t len)
{
    (void)ud;
    termsafe_write(stderr, piece, len);
}

int cli_gen_open(cli_llm_t *l, const char *cmd, cli_gen_opts_t *g, uint32_t default_ctx, bool ask_ctx)
{
    int rc = cli_llm_open(l, cmd, &g->ce, default_ctx, g->tmpl_name, &g->sp, g->temp, g->n_predict, ask_ctx);
    if (rc)
        return rc;
    l->h.el.heal = !g->no_heal;
    l->h.el.speculate = !g->no_spec;
    if (g->verbose)
        llm_stream(&l->h, stream_text, NULL);
    return 0;
}
