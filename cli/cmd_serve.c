/* cmd_serve.c - `octet serve`: load a model and serve the OpenAI-compatible
 * API (server.h) until SIGINT or SIGTERM. The only part of the server that
 * prints: the ready line and errors, on stderr. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cli.h"
#include "cli_engine.h"
#include "preset.h"
#include "server.h"

#define SERVE_DEFAULT_CTX 4096
#define SERVE_MAX_ENG_OPTS 32

enum {
    OPT_HOST = CLI_ENG_FIRST_FREE,
    OPT_PORT,
    OPT_PRESET,
    OPT_QUEUE,
    OPT_MAX_BODY,
    OPT_TEMPLATE,
    OPT_MAX_TOKENS,
    OPT_NAME,
    OPT_API_KEY,
    OPT_NO_HEAL,
    OPT_NO_SPEC,
    OPT_IGNORE_EOS,
};

static void usage(void)
{
    printf("Usage: octet serve [--host ADDR] [--port N] [-m FILE | --preset NAME] [OPTIONS]\n\n"
           "Serve the OpenAI-compatible API from the loaded model: POST /v1/chat/completions and\n"
           "/v1/completions (streamed as server-sent events with \"stream\": true), GET /v1/models,\n"
           "/health and /metrics (Prometheus text). Requests wait in a queue for the one engine;\n"
           "the prompt prefix still in the KV cache is reused. SIGINT or SIGTERM stop it (exit 0).\n\n"
           "      --host ADDR       address to listen on (default 127.0.0.1: this machine only;\n"
           "                        0.0.0.0 or :: for every interface)\n"
           "      --port N          TCP port (default 8080; 0: a free port, printed when ready)\n"
           "      --preset NAME     model, context, formats and sampling defaults of a preset (see\n"
           "                        docs/presets.md); options given here override it\n"
           "      --queue N         requests that may wait while one generates (default 16);\n"
           "                        more get 503 with Retry-After\n"
           "      --max-body BYTES  largest request body (default 1048576); larger ones get 413\n"
           "      --max-tokens N    answer length when a request gives no max_tokens (default 512)\n"
           "      --template NAME   chat format: chatml | qwen | llama3 | llama2 | deepseek | none\n"
           "                        (default: recognized from the model's tokenizer.chat_template)\n"
           "      --name NAME       model name in /v1/models and answers (default: the file's base name)\n"
           "      --api-key KEY     require \"Authorization: Bearer KEY\" on every endpoint but /health\n"
           "                        (default: $OCTET_API_KEY; none: no authentication at all, see\n"
           "                        docs/security.md); prefer the variable, the command line is public\n"
           "      --no-heal         no token healing of prompts (on by default: a completion prompt\n"
           "                        ending inside a longer token is backed up and re-spelled)\n"
           "      --no-spec         no speculative decoding (on by default: prompt lookup; the same\n"
           "                        answers, fewer forward passes when they copy the prompt)\n"
           CLI_ENG_DRAFT_HELP
           "      --ignore-eos      never end an answer early: every request generates its\n"
           "                        max_tokens, as with \"ignore_eos\": true (throughput tests)\n"
           "  -h, --help            show this help\n\n"
           "Prints \"octet serve: listening on http://HOST:PORT (...)\" on stderr when ready.\n"
           "The API is described in docs/server.md.\n\n%s",
           CLI_ENG_HELP);
}

typedef struct eng_arg {
    int opt;
    const char *arg;
} eng_arg_t;

/* The model's name: FILE's base name without ".gguf". */
static void model_name(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t l = strlen(b);
    if (l > 5 && !strcmp(b + l - 5, ".gguf"))
        l -= 5;
    snprintf(buf, n, "%.*s", (int)l, b);
}

/* Engine options and sampling defaults of preset NAME into CE and CFG. The
 * preset is copied into KEEP, which must outlive the engine: CE's options
 * point into it (backend, calib), not into the list freed here. */
static int apply_preset(const char *name, cli_eng_t *ce, srv_cfg_t *cfg, preset_t *keep)
{
    char shipped[1024], user[1024];
    preset_list_t list = {0};
    errmsg_t err = {0};
    int rc = 0;
    if (!strcmp(name, PRESET_AUTO))
        return cli_usage("serve", "--preset auto is a TUI choice; name a preset (octet --tui-help lists them)");
    preset_shipped_dir(shipped, sizeof shipped);
    preset_user_dir(user, sizeof user);
    char *notes = NULL;
    if (preset_load_all(shipped[0] ? shipped : NULL, user[0] ? user : NULL, &list, &notes, &err))
        return cli_fail_err("serve", &err);
    cli_print_notes("serve", notes);
    free(notes);
    const preset_t *p = preset_find(&list, name);
    if (!p) {
        rc = cli_usage("serve", "no preset named '%s' (in %s%s%s)", name, shipped[0] ? shipped : "-",
                       user[0] ? " or " : "", user);
        goto done;
    }
    if (strcmp(p->backend, "auto") && strcmp(p->backend, "cpu") && strcmp(p->backend, "cuda")) {
        rc = cli_usage("serve", "preset %s uses backend '%s'; octet serve needs a local engine", name, p->backend);
        goto done;
    }
    preset_models_t models = {ce->model ? ce->model : preset_default_model(), preset_large_model()};
    bool fell_back = false;
    const char *path = ce->model ? ce->model : preset_model_path(p, &models, &fell_back);
    if (!path) {
        rc = cli_usage("serve", "preset %s names no model file and no default model was found: use -m FILE", name);
        goto done;
    }
    if (fell_back)
        fprintf(stderr, "octet serve: preset %s asks for the large model, none is configured "
                        "(large_model in the settings file, or OCTET_MODEL_LARGE): using the default model\n", name);
    preset_plan_t plan;
    if (preset_plan(p, path, &plan, &err)) {
        rc = cli_fail_err("serve", &err);
        goto done;
    }
    *keep = *p;
    if (path != ce->model) {
        snprintf(keep->model, sizeof keep->model, "%s", path);
        ce->model = keep->model;
    }
    preset_eng_opts(keep, plan.ctx, &ce->opts);
    ce->ctx_set = true;
    cfg->sp.temp = p->temperature;
    cfg->sp.top_p = p->top_p;
    if (p->max_new_tokens)
        cfg->max_tokens = p->max_new_tokens;
done:
    preset_list_free(&list);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"preset", required_argument, NULL, OPT_PRESET},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"name", required_argument, NULL, OPT_NAME},
        {"api-key", required_argument, NULL, OPT_API_KEY},
        {"no-heal", no_argument, NULL, OPT_NO_HEAL},
        {"no-spec", no_argument, NULL, OPT_NO_SPEC},
        {"ignore-eos", no_argument, NULL, OPT_IGNORE_EOS},
        CLI_ENG_DRAFT_LONGOPT,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_eng_t ce;
    srv_cfg_t cfg;
    eng_arg_t eng_args[SERVE_MAX_ENG_OPTS];
    size_t n_eng = 0;
    const char *preset = NULL, *name = NULL;
    long v;
    int opt, r;
    cli_eng_init(&ce);
    srv_cfg_default(&cfg);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&ce, "serve", opt, optarg))) {
            if (r != 1)
                return r;
            if (n_eng == SERVE_MAX_ENG_OPTS)
                return cli_usage("serve", "too many engine options");
            eng_args[n_eng++] = (eng_arg_t){opt, optarg};
            continue;
        }
        switch (opt) {
        case OPT_HOST:
            cfg.host = optarg;
            break;
        case OPT_PORT:
            if (cli_parse_long("serve", "--port", optarg, 0, 65535, &v))
                return CLI_EXIT_USAGE;
            cfg.port = (uint16_t)v;
            break;
        case OPT_PRESET:
            preset = optarg;
            break;
        case OPT_QUEUE:
            if (cli_parse_long("serve", "--queue", optarg, 0, 100000, &v))
                return CLI_EXIT_USAGE;
            cfg.queue = (size_t)v;
            break;
        case OPT_MAX_BODY:
            if (cli_parse_long("serve", "--max-body", optarg, 64, 1L << 30, &v))
                return CLI_EXIT_USAGE;
            cfg.max_body = (size_t)v;
            break;
        case OPT_MAX_TOKENS:
            if (cli_parse_long("serve", "--max-tokens", optarg, 1, 1 << 24, &v))
                return CLI_EXIT_USAGE;
            cfg.max_tokens = (uint32_t)v;
            break;
        case OPT_TEMPLATE: {
            chat_tmpl_t *check = NULL;
            errmsg_t e;
            if (chat_tmpl_by_name(&check, optarg, &e))
                return cli_usage("serve", "%s", e.msg);
            chat_tmpl_free(check);
            cfg.template_name = optarg;
            break;
        }
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_API_KEY:
            cfg.api_key = optarg;
            break;
        case OPT_NO_HEAL:
            cfg.heal = false;
            break;
        case OPT_NO_SPEC:
            cfg.speculate = false;
            break;
        case OPT_IGNORE_EOS:
            cfg.ignore_eos = true;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("serve", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (ce.remote)
        return cli_usage("serve", "--backend %s: octet serve runs a local engine (cpu, cuda or auto)", ce.remote);
    if (!cfg.speculate && ce.draft_model)
        return cli_usage("serve", "--draft-model drafts for speculative decoding, which --no-spec turns off");
    static preset_t preset_kept;
    if (preset) {
        /* the preset first, then the options given here on top of it */
        const char *m = ce.model;
        cli_eng_init(&ce);
        ce.model = m;
        if ((r = apply_preset(preset, &ce, &cfg, &preset_kept)))
            return r;
        for (size_t i = 0; i < n_eng; i++)
            if (eng_args[i].opt != 'm' && (r = cli_eng_option(&ce, "serve", eng_args[i].opt, eng_args[i].arg)) != 1)
                return r;
    }
    if (!cfg.api_key) {
        const char *k = getenv("OCTET_API_KEY");
        cfg.api_key = k && *k ? k : NULL;
    }
    if (cfg.api_key && !*cfg.api_key)
        return cli_usage("serve", "--api-key: the key is empty");
    const char *env = getenv("OCTET_SERVE_TOKEN_DELAY_MS");
    if (env && *env)
        cfg.token_delay_ms = (unsigned)strtoul(env, NULL, 10);

    /* Block the stop signals in every thread (the engine's pool, libmicrohttpd's
     * and the worker inherit the mask) and take them with sigwait below. */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    signal(SIGPIPE, SIG_IGN);

    eng_model_t *m = NULL, *dm = NULL;
    srv_t *srv = NULL;
    errmsg_t err = {0};
    char id[256];
    int rc = cli_eng_open("serve", &ce, SERVE_DEFAULT_CTX, &m);
    if (rc || (rc = cli_eng_open_draft("serve", &ce, m, &dm)))
        goto done;
    cfg.draft = dm;
    model_name(ce.model, id, sizeof id);
    cfg.model_id = name ? name : id;
    if (srv_start(&srv, m, &cfg, &err)) {
        rc = cli_fail_err("serve", &err);
        goto done;
    }
    const char *tmpl = srv_template_name(srv);
    bool v6 = strchr(cfg.host, ':') != NULL;
    fprintf(stderr, "octet serve: listening on http://%s%s%s:%u (model %s, context %u, backend %s, chat %s%s)\n",
            v6 ? "[" : "", cfg.host, v6 ? "]" : "", srv_port(srv), cfg.model_id, eng_model_opts(m)->n_ctx,
            eng_backend_name(m), tmpl ? tmpl : "off", tmpl ? "" : ": no known template, use --template");
    fflush(stderr);
    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "octet serve: %s: stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    rc = CLI_EXIT_OK;
done:
    srv_stop(srv);
    eng_close(dm);
    eng_close(m);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}
