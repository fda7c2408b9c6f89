/* cli_engine.c - the engine options shared by run, ppl, logits and bench. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_engine.h"
#include "config.h"
#include "generate.h"
#include "preset.h"

const char CLI_ENG_HELP[] =
    "Model options:\n"
    "  -m, --model FILE      GGUF model, llama or qwen2 (default: $OCTET_MODEL, else the\n"
    "                        embedded models/octet-code.gguf)\n"
    "      --weights FMT     f32 | f16 | int8 | smoothquant (default int8; Q8_0 tensors stay Q8_0)\n"
    "      --calib FILE      smoothquant calibration text (default: a built-in code sample)\n"
    "      --alpha A         smoothquant migration strength, 0..1 (default 0.5)\n"
    "      --kv FMT          KV-cache format: f32 | f16 | int8 (default int8)\n"
    "      --threads N       CPU threads (default: all cores)\n"
    "      --ctx N           context size in tokens; the KV cache for all of it is allocated up front\n"
    "      --batch N         most tokens per forward pass during prefill (default 256)\n"
    "      --backend NAME    cpu | cuda | auto (default: the settings file's backend, else auto:\n"
    "                        a usable GPU, else the CPU);\n"
    "                        run, gen and refactor also take the URL of an\n"
    "                        OpenAI-compatible server, http://HOST:PORT/v1 (octet serve, vLLM...)\n";

void cli_eng_init(cli_eng_t *c)
{
    memset(c, 0, sizeof *c);
    eng_opts_default(&c->opts);
    const char *b = config_get()->backend;
    if (b[0] && !cli_eng_is_url(b)) /* a remote engine only where one may serve (cli_eng_init_remote) */
        c->opts.backend = b;
}

void cli_eng_init_remote(cli_eng_t *c)
{
    cli_eng_init(c);
    const char *b = config_get()->backend;
    if (cli_eng_is_url(b))
        c->remote = b;
}

int cli_parse_long(const char *cmd, const char *name, const char *arg, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return cli_usage(cmd, "%s must be a whole number in %ld..%ld, not '%s'", name, lo, hi, arg);
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *name, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < lo || v > hi)
        return cli_usage(cmd, "%s must be a number in %g..%g, not '%s'", name, lo, hi, arg);
    *out = v;
    return 0;
}

bool cli_eng_is_url(const char *arg)
{
    return !strncmp(arg, "http://", 7) || !strncmp(arg, "https://", 8);
}

/* Name of the local-engine-only option OPT ("--ctx"...), NULL for -m and --backend. */
static const char *local_name(int opt)
{
    switch (opt) {
    case CLI_ENG_WEIGHTS:
        return "--weights";
    case CLI_ENG_KV:
        return "--kv";
    case CLI_ENG_THREADS:
        return "--threads";
    case CLI_ENG_CTX:
        return "--ctx";
    case CLI_ENG_BATCH:
        return "--batch";
    case CLI_ENG_CALIB:
        return "--calib";
    case CLI_ENG_ALPHA:
        return "--alpha";
    case CLI_ENG_DRAFT:
        return "--draft-model";
    default:
        return NULL;
    }
}

int cli_eng_option(cli_eng_t *c, const char *cmd, int opt, const char *arg)
{
    errmsg_t err;
    long v;
    double d;
    if (local_name(opt))
        c->local_opt = local_name(opt);
    switch (opt) {
    case 'm':
        c->model = arg;
        return 1;
    case CLI_ENG_WEIGHTS:
        return eng_wfmt_parse(arg, &c->opts.wfmt, &err) ? cli_usage(cmd, "%s", err.msg) : 1;
    case CLI_ENG_KV:
        return eng_kvfmt_parse(arg, &c->opts.kvfmt, &err) ? cli_usage(cmd, "%s", err.msg) : 1;
    case CLI_ENG_THREADS:
        if (cli_parse_long(cmd, "--threads", arg, 1, 1024, &v))
            return CLI_EXIT_USAGE;
        c->opts.n_threads = (int)v;
        return 1;
    case CLI_ENG_CTX:
        if (cli_parse_long(cmd, "--ctx", arg, 1, 1 << 24, &v))
            return CLI_EXIT_USAGE;
        c->opts.n_ctx = (uint32_t)v;
        c->ctx_set = true;
        return 1;
    case CLI_ENG_BATCH:
        if (cli_parse_long(cmd, "--batch", arg, 1, 65536, &v))
            return CLI_EXIT_USAGE;
        c->opts.n_batch = (uint32_t)v;
        return 1;
    case CLI_ENG_BACKEND:
        if (cli_eng_is_url(arg)) {
            c->remote = arg;
            return 1;
        }
        if (strcmp(arg, "cpu") && strcmp(arg, "cuda") && strcmp(arg, "auto"))
            return cli_usage(cmd, "unknown backend '%s' (use cpu, cuda, auto or http://HOST:PORT/v1)", arg);
        c->opts.backend = arg;
        c->remote = NULL;
        return 1;
    case CLI_ENG_CALIB:
        c->opts.calib_path = arg;
        return 1;
    case CLI_ENG_ALPHA:
        if (cli_parse_float(cmd, "--alpha", arg, 0, 1, &d))
            return CLI_EXIT_USAGE;
        c->opts.sq_alpha = (float)d;
        return 1;
    case CLI_ENG_DRAFT:
        c->draft_model = arg;
        return 1;
    default:
        return 0;
    }
}

int cli_eng_open(const char *cmd, cli_eng_t *c, uint32_t default_ctx, eng_model_t **out)
{
    errmsg_t err = {0};
    *out = NULL;
    if (c->remote)
        return cli_usage(cmd, "--backend %s: '%s' needs a local engine (cpu, cuda or auto); a remote engine "
                              "serves run, gen, refactor and the TUI only", c->remote, cmd);
    if (!c->model)
        c->model = preset_default_model();
    if (!c->model)
        return cli_usage(cmd, "no model given and the embedded models/octet-code.gguf was not found: "
                              "use -m FILE.gguf or set OCTET_MODEL");
    if ((c->opts.calib_path || c->opts.sq_alpha != 0.5f) && c->opts.wfmt != ENG_W_SMOOTHQUANT)
        return cli_usage(cmd, "--calib and --alpha apply to --weights smoothquant only");
    if (cli_check_regular(c->model, &err) || (c->opts.calib_path && cli_check_regular(c->opts.calib_path, &err)))
        return cli_fail_err(cmd, &err);
    if (!c->ctx_set) {
        /* the model's own context, or DEFAULT_CTX when smaller: read the
         * metadata first so the KV cache is not sized for 128K by default */
        gguf_t *g = NULL;
        model_t *m = NULL;
        if (gguf_open(&g, c->model, &err) || model_load(&m, g, &err)) {
            gguf_close(g);
            return cli_fail_err(cmd, &err);
        }
        uint32_t train = m->hp.n_ctx_train;
        model_free(m);
        gguf_close(g);
        c->opts.n_ctx = default_ctx && (default_ctx < train || !train) ? default_ctx : train;
    }
    if (eng_open(out, c->model, &c->opts, &err))
        return cli_fail_err(cmd, &err);
    /* an explicit --backend auto says why it did not take the GPU */
    if (c->opts.backend && !strcmp(c->opts.backend, "auto") && eng_backend_note(*out))
        fprintf(stderr, "octet %s: --backend auto uses the CPU: %s\n", cmd, eng_backend_note(*out));
    return 0;
}

int cli_eng_open_draft(const char *cmd, cli_eng_t *c, eng_model_t *m, eng_model_t **out)
{
    errmsg_t err = {0};
    *out = NULL;
    if (!c->draft_model)
        return 0;
    if (cli_check_regular(c->draft_model, &err))
        return cli_fail_err(cmd, &err);
    if (eng_verify_max(m) < 2) {
        /* not loaded for nothing: drafts could not be verified exactly here */
        fprintf(stderr, "octet %s: --draft-model ignored: speculation is off on the %s backend (its passes of "
                        "several tokens do not round exactly as single-token ones)\n", cmd, eng_backend_name(m));
        return 0;
    }
    eng_opts_t o = c->opts;
    o.calib_path = NULL;
    if (o.wfmt == ENG_W_SMOOTHQUANT)
        o.wfmt = ENG_W_INT8;
    if (eng_open(out, c->draft_model, &o, &err)) {
        fprintf(stderr, "octet %s: --draft-model %s: %s\n", cmd, c->draft_model, err.msg);
        return CLI_EXIT_FAIL;
    }
    if (gen_draft_check(m, *out, &err)) {
        fprintf(stderr, "octet %s: --draft-model %s cannot draft for %s: %s\n", cmd, c->draft_model, c->model, err.msg);
        eng_close(*out);
        *out = NULL;
        return CLI_EXIT_FAIL;
    }
    return 0;
}

int cli_llm_check(const char *cmd, const cli_eng_t *ce, const char *tmpl_name, const char *local_flag)
{
    if (ce->remote && (ce->local_opt || local_flag))
        return cli_usage(cmd, "%s applies to a local engine, not to --backend %s",
                         ce->local_opt ? ce->local_opt : local_flag, ce->remote);
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
    } else if ((rc = cli_eng_open(cmd, ce, default_ctx, &l->model)) ||
               (rc = cli_eng_open_draft(cmd, ce, l->model, &l->draft))) {
        return rc;
    }
    llm_conf_t c = {
        .engine = l->model,
        .draft = l->draft,
        .remote = l->rem,
        .tmpl_name = tmpl_name,
        .model = ce->remote ? ce->model : NULL, /* NULL: the first model the server lists */
        .sp = *sp,
        .temp = temp,
        .n_predict = n_predict,
        .ask_ctx = ask_ctx,
    };
    if (llm_open(&l->h, &c, &err))
        return cli_fail_err(cmd, &err);
    if (l->h.remote_no_chat)
        fprintf(stderr, "octet %s: %s lists no \"chat\" capability for its model (no chat template): asking it "
                        "for plain completions\n", cmd, remote_url(l->rem));
    return 0;
}

void cli_llm_report(const char *cmd, const cli_llm_t *l)
{
    const llm_engine_t *e = &l->h.el;
    if (!e->session)
        return;
    const llm_stats_t *t = &e->total;
    if (!e->speculate)
        fprintf(stderr, "octet %s: %zu tokens generated, %zu prompt tokens healed; speculation off\n", cmd,
                t->n_tokens, t->n_healed);
    else
        fprintf(stderr, "octet %s: %zu tokens generated, %zu prompt tokens healed; speculation: %zu of %zu "
                        "drafted tokens accepted (%.0f%%), %.2f tokens per pass\n",
                cmd, t->n_tokens, t->n_healed, t->n_accepted, t->n_drafted, 100.0 * llm_stats_accept_rate(t),
                llm_stats_tok_per_pass(t));
}

void cli_llm_close(cli_llm_t *l)
{
    llm_close(&l->h);
    eng_close(l->draft);
    eng_close(l->model);
    remote_close(l->rem);
    l->draft = NULL;
    l->model = NULL;
    l->rem = NULL;
}
