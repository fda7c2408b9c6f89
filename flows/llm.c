/* cli_llm.c - the workflows' model, local or remote; see cli_llm.h. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "llm.h"

int cli_llm_check(const char *cmd, const cli_eng_t *ce, const char *tmpl_name)
{
    if (ce->remote && ce->local_opt)
        return cli_usage(cmd, "%s applies to a local engine, not to --backend %s", ce->local_opt, ce->remote);
    if (ce->remote && tmpl_name && strcmp(tmpl_name, "none"))
        return cli_usage(cmd, "--template %s: the remote engine applies its own chat template (--template none "
                              "asks it for a plain completion)", tmpl_name);
    return 0;
}

int cli_llm_open(cli_llm_t *l, const char *cmd, cli_eng_t *ce, uint32_t default_ctx, const char *tmpl_name,
                 const sample_params_t *sp, double temp, long n_predict, bool ask_ctx)
{
    errmsg_t err = {0};
    int rc;
    memset(l, 0, sizeof *l);
    if (ce->remote) {
        if (remote_open(&l->rem, ce->remote, getenv("OCTET_API_KEY"), &err))
            return cli_fail_err(cmd, &err);
        oai_gen_t g;
        oai_gen_init(&g);
        g.model = ce->model; /* NULL: the first model the server lists */
        g.max_tokens = n_predict;
        g.temperature = temp;
        g.seed = (long long)sp->seed;
        remote_llm_init(&l->rl, l->rem, &g, tmpl_name != NULL, &l->llm);
        l->n_ctx = ask_ctx ? remote_llm_ctx(l->rem) : 0;
        return 0;
    }
    if ((rc = cli_eng_open(cmd, ce, default_ctx, &l->model)))
        return rc;
    if (spec_engine_llm_init(&l->el, l->model, tmpl_name, sp, (int)n_predict, &l->llm, &err))
        return cli_fail_err(cmd, &err);
    l->n_ctx = eng_n_ctx(l->el.session);
    l->count = spec_engine_count;
    l->count_ud = &l->el;
    return 0;
}

void cli_llm_stream(cli_llm_t *l, void (*fn)(void *ud, const char *piece, size_t len))
{
    if (l->rem)
        l->rl.on_text = fn;
    else
        l->el.on_text = fn;
}

void cli_llm_close(cli_llm_t *l)
{
    spec_engine_llm_free(&l->el);
    eng_close(l->model);
    remote_close(l->rem);
    l->model = NULL;
    l->rem = NULL;
}
