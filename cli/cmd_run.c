/* cmd_run.c - `octet run`: complete a prompt, streaming the generated text
 * to stdout as each token arrives. Ctrl-C stops the generation cleanly
 * (through eng_cancel, as the TUI does). With --backend http://HOST:PORT/v1
 * the prompt goes to a remote OpenAI-compatible engine (remote.h) and its
 * streamed answer is printed the same way. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"
#include "cli_engine.h"
#include "generate.h"
#include "pin.h"
#include "prompt.h"
#include "remote.h"
#include "sample.h"
#include "termsafe.h"

#define RUN_DEFAULT_CTX 4096
#define RUN_MAX_STOPS 16

enum {
    OPT_TEMP = CLI_ENG_FIRST_FREE,
    OPT_SEED,
    OPT_TOP_K,
    OPT_TOP_P,
    OPT_MIN_P,
    OPT_REPEAT_PENALTY,
    OPT_REPEAT_LAST_N,
    OPT_FREQ_PENALTY,
    OPT_PRESENCE_PENALTY,
    OPT_STOP,
    OPT_ECHO,
    OPT_CHAT,
    OPT_TEMPLATE,
    OPT_SYSTEM,
    OPT_NO_HEAL,
    OPT_NO_SPEC,
    OPT_ADD,
};

static void usage(void)
{
    printf("Usage: octet run [-m FILE] -p PROMPT [-n N] [--add PATH]... [OPTIONS]\n\n"
           "Generate a continuation of PROMPT and stream it to stdout.\n\n"
           "  -p, --prompt TEXT     the prompt (special tokens such as <|im_start|> are recognized)\n"
           "  -f, --file FILE       read the prompt from FILE ('-': stdin)\n"
           "      --add PATH[:START-END] | SYMBOL\n"
           "                        put this file, these lines of it, or the definition of this\n"
           "                        function, class or method (found through the index of the\n"
           "                        git repository here) before the prompt, as context; repeatable;\n"
           "                        together they take at most half the context (cut to fit, said\n"
           "                        on stderr)\n"
           "  -n, --n-predict N     most tokens to generate (default 256; -1: until the context is full)\n"
           "      --temp T          temperature; 0 is greedy (default 0.8)\n"
           "      --seed S          random seed (default: from the clock); same seed, same output\n"
           "      --top-k K         keep the K most likely tokens (default 40; 0: off)\n"
           "      --top-p P         nucleus sampling (default 0.95; 1: off)\n"
           "      --min-p P         drop tokens below P times the best one's probability (default 0.05)\n"
           "      --repeat-penalty R   penalize the last --repeat-last-n tokens (default 1: off)\n"
           "      --repeat-last-n N    window of the penalties (default 64)\n"
           "      --freq-penalty F     subtract F times the count of a recent token (default 0)\n"
           "      --presence-penalty F subtract F from every recent token (default 0)\n"
           "      --stop STR        stop when STR is generated (not printed); repeatable\n"
           "      --chat            send the prompt as a user message in the model's chat format\n"
           "                        (from its tokenizer.chat_template) and generate the reply\n"
           "      --template NAME   chat format: chatml | qwen | llama3 | llama2 | deepseek | none\n"
           "                        (implies --chat)\n"
           "      --system TEXT     system message for --chat\n"
           "      --echo            print the prompt (as formatted for --chat) before the generated text\n"
           "      --no-heal         no token healing (by default a prompt ending inside a longer token,\n"
           "                        as 'import o' or a newline before indentation, is backed up a token\n"
           "                        and the answer must spell the removed text again)\n"
           "      --no-spec         no speculative decoding (by default prompt lookup drafts tokens\n"
           "                        that one batched pass verifies; the output is the same either way)\n"
           CLI_ENG_DRAFT_HELP
           "  -v, --verbose         speed, speculation and memory figures on stderr, and what\n"
           "                        --add put into the prompt\n"
           "  -h, --help            show this help\n\n"
           "Generation ends at the model's end-of-generation tokens, a stop string, -n tokens,\n"
           "a full context or Ctrl-C.\n\n"
           "With --backend http://HOST:PORT/v1 the prompt goes to that OpenAI-compatible server\n"
           "(octet serve, vLLM...): /v1/completions, or /v1/chat/completions with --chat; -m then\n"
           "names the remote model (default: the first it lists), the sampling options given are\n"
           "sent, and $OCTET_API_KEY, when set, is sent as a bearer token.\n\n%s",
           CLI_ENG_HELP);
}

static eng_session_t *volatile g_session;
static atomic_int g_remote_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    if (g_session)
        eng_cancel(g_session); /* an atomic store: safe in a signal handler */
    atomic_store(&g_remote_cancel, 1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The model's text; on a terminal its control characters as escapes. */
static int write_out(const char *p, size_t n)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    if (n && (tty ? termsafe_write(stdout, p, n) : (int)(fwrite(p, 1, n, stdout) == n) - 1))
        return -1;
    return fflush(stdout);
}

/* What has been printed of the answer. */
typedef struct out {
    bool last_nl, werr;
} out_t;

static int on_text(void *ud, const char *t, size_t n)
{
    out_t *o = ud;
    if (write_out(t, n)) {
        o->werr = true;
        return 1;
    }
    if (n)
        o->last_nl = t[n - 1] == '\n';
    return 0;
}

/* The prompt to the remote engine at URL (chat: as a user message after
 * SYSTEM), its answer streamed to stdout like the local path prints it. */
static int run_remote(const char *url, const char *prompt, bool chat, const char *system, const oai_gen_t *g,
                      bool echo, bool verbose)
{
    remote_t *r = NULL;
    errmsg_t err = {0};
    if (remote_open(&r, url, getenv("OCTET_API_KEY"), &err))
        return cli_usage("run", "%s", err.msg);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    atomic_store(&g_remote_cancel, 0);
    sigaction(SIGINT, &sa, &old_sa);
    out_t o = {true, false};
    remote_result_t res;
    int rc = CLI_EXIT_OK;
    if (echo && write_out(prompt, strlen(prompt))) {
        rc = cli_fail("run", "write error on stdout");
        goto done;
    }
    chat_msg_t msgs[2] = {{CHAT_ROLE_SYSTEM, system}, {CHAT_ROLE_USER, prompt}};
    double t0 = now_s();
    int e = chat ? remote_chat(r, system ? msgs : msgs + 1, system ? 2 : 1, g, on_text, &o, &g_remote_cancel,
                               &res, &err)
                 : remote_complete(r, prompt, g, on_text, &o, &g_remote_cancel, &res, &err);
    double t1 = now_s();
    if (!o.last_nl && !o.werr)
        write_out("\n", 1);
    if (o.werr)
        rc = cli_fail("run", "write error on stdout");
    else if (e == OCT_ECANCELED) {
        fprintf(stderr, "octet run: interrupted\n");
        rc = CLI_EXIT_FAIL;
    } else if (e)
        rc = cli_fail_err("run", &err);
    else if (verbose)
        fprintf(stderr, "octet run: %s: prompt %ld tokens, generated %ld tokens in %.3f s (%.1f tok/s), finish %s\n",
                remote_url(r), res.prompt_tokens, res.completion_tokens, t1 - t0,
                res.completion_tokens > 0 && t1 > t0 ? (double)res.completion_tokens / (t1 - t0) : 0.0,
                res.finish[0] ? res.finish : "?");
done:
    sigaction(SIGINT, &old_sa, NULL);
    remote_close(r);
    return rc;
}

/* What `octet run` was asked. */
typedef struct run_opts {
    cli_eng_t ce;
    sample_params_t sp;
    oai_gen_t rg; /* what a remote engine is sent: the options given */
    const char *prompt, *pfile, *stops[RUN_MAX_STOPS], *tmpl_name, *system;
    const char *adds[PIN_MAX];
    pin_list_t pins; /* --add, resolved */
    size_t n_stops, n_adds;
    long n_predict;
    bool echo, verbose, chat, no_heal, no_spec;
} run_opts_t;

/* Handle OPT (with ARG) if it is a sampling option: 1 when handled, 0 when
 * not one, CLI_EXIT_USAGE (after printing) when ARG is bad. The local
 * sampler and a remote engine's request get the same values. */
static int sampling_option(run_opts_t *o, int opt, const char *arg)
{
    long v;
    double d;
    switch (opt) {
    case OPT_TEMP:
        if (cli_parse_float("run", "--temp", arg, 0, 100, &d))
            return CLI_EXIT_USAGE;
        o->sp.temp = (float)d;
        o->rg.temperature = d;
        return 1;
    case OPT_SEED:
        if (cli_parse_long("run", "--seed", arg, 0, 0x7fffffffL, &v))
            return CLI_EXIT_USAGE;
        o->sp.seed = (uint64_t)v;
        o->rg.seed = v;
        return 1;
    case OPT_TOP_K:
        if (cli_parse_long("run", "--top-k", arg, 0, 1 << 24, &v))
            return CLI_EXIT_USAGE;
        o->sp.top_k = (int)v;
        o->rg.top_k = (int)v;
        return 1;
    case OPT_TOP_P:
        if (cli_parse_float("run", "--top-p", arg, 1e-6, 1, &d))
            return CLI_EXIT_USAGE;
        o->sp.top_p = (float)d;
        o->rg.top_p = d;
        return 1;
    case OPT_MIN_P:
        if (cli_parse_float("run", "--min-p", arg, 0, 1, &d))
            return CLI_EXIT_USAGE;
        o->sp.min_p = (float)d;
        o->rg.min_p = d;
        return 1;
    case OPT_REPEAT_PENALTY:
        if (cli_parse_float("run", "--repeat-penalty", arg, 1e-3, 100, &d))
            return CLI_EXIT_USAGE;
        o->sp.repeat_penalty = (float)d;
        o->rg.repeat_penalty = d;
        return 1;
    case OPT_REPEAT_LAST_N:
        if (cli_parse_long("run", "--repeat-last-n", arg, 0, 1 << 20, &v))
            return CLI_EXIT_USAGE;
        o->sp.repeat_last_n = (int)v;
        o->rg.repeat_last_n = (int)v;
        return 1;
    case OPT_FREQ_PENALTY:
        if (cli_parse_float("run", "--freq-penalty", arg, -100, 100, &d))
            return CLI_EXIT_USAGE;
        o->sp.freq_penalty = (float)d;
        o->rg.freq_penalty = d;
        return 1;
    case OPT_PRESENCE_PENALTY:
        if (cli_parse_float("run", "--presence-penalty", arg, -100, 100, &d))
            return CLI_EXIT_USAGE;
        o->sp.presence_penalty = (float)d;
        o->rg.presence_penalty = d;
        return 1;
    default:
        return 0;
    }
}

/* Parse the command line into O: RUN_GO, or the exit status (help shown,
 * or a usage error printed). */
#define RUN_GO (-1)
static int parse_args(int argc, char **argv, run_opts_t *o)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},
        {"n-predict", required_argument, NULL, 'n'},
        {"temp", required_argument, NULL, OPT_TEMP},
        {"seed", required_argument, NULL, OPT_SEED},
        {"top-k", required_argument, NULL, OPT_TOP_K},
        {"top-p", required_argument, NULL, OPT_TOP_P},
        {"min-p", required_argument, NULL, OPT_MIN_P},
        {"repeat-penalty", required_argument, NULL, OPT_REPEAT_PENALTY},
        {"repeat-last-n", required_argument, NULL, OPT_REPEAT_LAST_N},
        {"freq-penalty", required_argument, NULL, OPT_FREQ_PENALTY},
        {"presence-penalty", required_argument, NULL, OPT_PRESENCE_PENALTY},
        {"stop", required_argument, NULL, OPT_STOP},
        {"echo", no_argument, NULL, OPT_ECHO},
        {"chat", no_argument, NULL, OPT_CHAT},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"system", required_argument, NULL, OPT_SYSTEM},
        {"no-heal", no_argument, NULL, OPT_NO_HEAL},
        {"no-spec", no_argument, NULL, OPT_NO_SPEC},
        {"add", required_argument, NULL, OPT_ADD},
        CLI_ENG_DRAFT_LONGOPT,
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    cli_eng_init_remote(&o->ce);
    sample_params_default(&o->sp);
    oai_gen_init(&o->rg);
    o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    o->n_predict = 256;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:p:f:n:vh", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&o->ce, "run", opt, optarg)) || (r = sampling_option(o, opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case 'p':
            o->prompt = optarg;
            break;
        case 'f':
            o->pfile = optarg;
            break;
        case 'n':
            if (cli_parse_long("run", "-n", optarg, -1, 1 << 24, &o->n_predict))
                return CLI_EXIT_USAGE;
            break;
        case OPT_STOP:
            if (o->n_stops == RUN_MAX_STOPS)
                return cli_usage("run", "at most %d --stop strings", RUN_MAX_STOPS);
            o->stops[o->n_stops++] = optarg;
            break;
        case OPT_ECHO:
            o->echo = true;
            break;
        case OPT_CHAT:
            o->chat = true;
            break;
        case OPT_TEMPLATE:
            o->tmpl_name = optarg;
            o->chat = true;
            break;
        case OPT_SYSTEM:
            o->system = optarg;
            break;
        case OPT_NO_HEAL:
            o->no_heal = true;
            break;
        case OPT_NO_SPEC:
            o->no_spec = true;
            break;
        case OPT_ADD:
            if (cli_check_add("run", o->n_adds, PIN_MAX, optarg))
                return CLI_EXIT_USAGE;
            o->adds[o->n_adds++] = optarg;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("run", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("run", "unexpected argument '%s'", argv[optind]);
    if (!o->prompt == !o->pfile)
        return cli_usage("run", "give the prompt with -p TEXT or -f FILE (one of them)");
    if (o->system && !o->chat)
        return cli_usage("run", "--system needs --chat");
    if (o->no_spec && o->ce.draft_model)
        return cli_usage("run", "--draft-model drafts for speculative decoding, which --no-spec turns off");
    if (o->ce.remote) {
        if (o->ce.local_opt)
            return cli_usage("run", "%s applies to a local engine, not to --backend %s", o->ce.local_opt,
                             o->ce.remote);
        if (o->no_heal || o->no_spec)
            return cli_usage("run", "%s applies to a local engine, not to --backend %s",
                             o->no_heal ? "--no-heal" : "--no-spec", o->ce.remote);
        if (o->tmpl_name)
            return cli_usage("run", "--template: the remote engine applies its own chat template (use --chat)");
        if (o->echo && o->chat)
            return cli_usage("run", "--echo with --chat needs a local engine (the remote one formats the chat)");
    }
    if (o->tmpl_name) {
        chat_tmpl_t *check = NULL;
        errmsg_t e;
        if (chat_tmpl_by_name(&check, o->tmpl_name, &e))
            return cli_usage("run", "%s", e.msg);
        chat_tmpl_free(check);
    }
    return RUN_GO;
}

static int on_gen_text(void *ud, const char *t, size_t n, const gen_result_t *so_far)
{
    (void)so_far;
    return on_text(ud, t, n);
}

/* -v: what the generation did, and the memory it took. */
static void report(const gen_result_t *r, bool spec, eng_model_t *m, eng_session_t *s)
{
    if (r->stop == GEN_STOP_CONTEXT)
        fprintf(stderr, "octet run: the context of %u tokens is full\n", eng_n_ctx(s));
    eng_mem_t mem;
    eng_memory(m, s, &mem);
    fprintf(stderr, "octet run: prompt %zu tokens (%zu healed, %zu reused) in %.3f s (%.1f tok/s), generated %zu "
                    "tokens in %.3f s (%.1f tok/s), finish %s\n",
            r->n_prompt, r->n_healed, r->n_reused, r->t_prefill, r->prefill_tok_s, r->n_tokens, r->t_decode,
            r->decode_tok_s, gen_stop_name(r->stop));
    if (r->n_drafted)
        fprintf(stderr, "octet run: speculation: %zu of %zu drafted tokens accepted (%.0f%%), %.2f tokens per pass\n",
                r->n_accepted, r->n_drafted, 100.0 * r->accept_rate, r->tok_per_pass);
    else
        fprintf(stderr, "octet run: speculation: %s\n", spec ? "nothing drafted, 1 token per pass" : "off");
    fprintf(stderr, "octet run: memory weights %.1f MiB, kv %.1f MiB, scratch %.1f MiB\n",
            (double)mem.weights / 1048576.0, (double)mem.kv / 1048576.0, (double)mem.scratch / 1048576.0);
}

/* The answer streamed to stdout from the tokens IDS of the prompt PROMPT
 * (PLEN bytes, echoed with --echo), on the session S of the model M. */
static int generate(const run_opts_t *o, eng_model_t *m, eng_session_t *s, eng_session_t *ds, const char *prompt,
                    size_t plen, const int32_t *ids, size_t n_ids)
{
    errmsg_t err = {0};
    int rc;
    gen_result_t r = {0};
    g_session = s;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);

    out_t out = {true, false};
    if (o->echo && write_out(prompt, plen)) {
        rc = cli_fail("run", "write error on stdout");
        goto restore;
    }
    gen_params_t gp;
    gen_params_default(&gp);
    gp.sample = o->sp;
    gp.max_tokens = o->n_predict;
    gp.stops = o->stops;
    gp.n_stops = o->n_stops;
    gp.heal = !o->no_heal;
    gp.speculate = !o->no_spec;
    gp.spec.draft = ds;
    gp.on_text = on_gen_text;
    gp.ud = &out;
    rc = gen_run(s, ids, n_ids, &gp, &r, &err);
    if (out.werr) {
        rc = cli_fail("run", "write error on stdout");
        goto restore;
    }
    if (!out.last_nl)
        write_out("\n", 1);
    if (rc == OCT_ECANCELED) {
        fprintf(stderr, "octet run: interrupted\n");
        rc = CLI_EXIT_FAIL;
        goto restore;
    }
    if (rc) {
        rc = cli_fail_err("run", &err);
        goto restore;
    }
    if (o->verbose)
        report(&r, !o->no_spec, m, s);
restore:
    gen_result_free(&r);
    sigaction(SIGINT, &old_sa, NULL);
    g_session = NULL;
    return rc;
}

/* The pins of --add into L: files as given; a name that is no file is
 * looked up as a symbol in the index of the repository here, opened (and
 * brought up to date) only then. 0 or the exit status after printing. */
static int resolve_pins(const run_opts_t *o, pin_list_t *l)
{
    rag_t *r = NULL;
    errmsg_t err = {0};
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < o->n_adds && rc == CLI_EXIT_OK; i++) {
        int e = pin_add(l, o->adds[i], NULL, NULL, r, NULL, &err);
        if (e == OCT_ENOTFOUND && !r) {
            rag_options_t ro = {0};
            errmsg_t ie = {0};
            if (rag_open(&r, &ro, &ie) || rag_update(r, NULL, NULL, NULL, NULL, &ie)) {
                rc = cli_fail("run", "%s; no repository index to find it as a symbol in: %s", err.msg, ie.msg);
                break;
            }
            e = pin_add(l, o->adds[i], NULL, NULL, r, NULL, &err);
        }
        if (e)
            rc = cli_fail_err("run", &err);
    }
    rag_close(r);
    return rc;
}

/* PROMPT (PLEN bytes) with the pinned code of PINS before it, packed into
 * BUDGET tokens counted with COUNT: the user message of --chat as the TUI
 * writes it, or the code then a blank line. *out (malloc'd, *olen bytes).
 * What was cut is said on stderr (with -v, what went in too). */
static int with_pins(const run_opts_t *o, const pin_list_t *pins, const char *prompt, size_t plen, size_t budget,
                     rag_count_fn count, void *ud, char **out, size_t *olen)
{
    pin_ctx_t pc;
    errmsg_t err = {0};
    char *q = NULL;
    int rc = CLI_EXIT_OK;
    *out = NULL;
    if (pin_pack(NULL, pins, NULL, budget, count, ud, &pc, &err))
        return cli_fail_err("run", &err);
    bool lossy = false;
    for (size_t i = 0; i < pc.n; i++)
        lossy |= pc.items[i].state != PIN_SENT;
    char *sum = pin_ctx_summary(&pc);
    if (sum && (lossy || o->verbose))
        fprintf(stderr, "octet run: %s\n", sum);
    free(sum);
    if (!(q = strndup(prompt, plen)))
        *out = NULL;
    else if (o->chat)
        *out = prompt_user(q, pc.text);
    else if (!pc.text[0])
        *out = strdup(q);
    else if (asprintf(out, "%s\n%s", pc.text, q) < 0)
        *out = NULL;
    if (*out)
        *olen = strlen(*out);
    else
        rc = cli_fail("run", "out of memory");
    free(q);
    pin_ctx_free(&pc);
    return rc;
}

/* `octet run` on the local engine: the prompt (PLEN bytes) formatted for
 * --chat, tokenized, and the answer generated. */
static int run_local(run_opts_t *o, const char *prompt, size_t plen)
{
    cli_eng_t *ce = &o->ce;
    const bool chat = o->chat;
    const char *tmpl_name = o->tmpl_name, *system = o->system;
    char *ctext = NULL, *pinned = NULL;
    chat_tmpl_t *tmpl = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    eng_model_t *m = NULL, *dm = NULL;
    eng_session_t *s = NULL, *ds = NULL;
    errmsg_t err = {0};
    int rc;
    if ((rc = cli_eng_open("run", ce, RUN_DEFAULT_CTX, &m)) || (rc = cli_eng_open_draft("run", ce, m, &dm)))
        goto done;
    if (dm && eng_session_new(&ds, dm, &err)) {
        rc = cli_fail_err("run", &err);
        goto done;
    }
    const tok_t *t = eng_tokenizer(m);
    if (!t) {
        rc = cli_fail("run", "%s has no tokenizer", ce->model);
        goto done;
    }
    if (o->pins.n) {
        if ((rc = with_pins(o, &o->pins, prompt, plen, eng_model_opts(m)->n_ctx / 2, prompt_count_tokens, (void *)t,
                            &pinned, &plen)))
            goto done;
        prompt = pinned;
    }
    int flags = TOK_ADD_BOS | TOK_PARSE_SPECIAL;
    if (chat) {
        chat_msg_t msgs[2] = {{CHAT_ROLE_SYSTEM, system}, {CHAT_ROLE_USER, prompt}};
        rc = chat_tmpl_from_gguf(&tmpl, eng_gguf(m), tmpl_name, &err);
        if (rc == OCT_ENOTFOUND) {
            rc = cli_fail("run", "%s (name one with --template)", err.msg);
            goto done;
        }
        if (rc || chat_format(tmpl, system ? msgs : msgs + 1, system ? 2 : 1, true, &ctext, &plen, &err)) {
            rc = cli_fail_err("run", &err);
            goto done;
        }
        prompt = ctext;
        /* templates that write the BOS text themselves must not get a second one */
        if (chat_tmpl_writes_bos(tmpl))
            flags = TOK_PARSE_SPECIAL;
    }
    if (tok_encode(t, prompt, plen, flags, &ids, &n_ids, &err) || eng_session_new(&s, m, &err)) {
        rc = cli_fail_err("run", &err);
        goto done;
    }
    if (n_ids == 0) {
        rc = cli_fail("run", "the prompt is empty");
        goto done;
    }
    if (n_ids >= eng_n_ctx(s)) {
        rc = cli_fail("run", "the prompt has %zu tokens; the context holds %u (use --ctx)", n_ids,
                      eng_n_ctx(s));
        goto done;
    }
    rc = generate(o, m, s, ds, prompt, plen, ids, n_ids);
done:
    eng_session_free(ds);
    eng_session_free(s);
    eng_close(dm);
    eng_close(m);
    chat_tmpl_free(tmpl);
    free(ids);
    free(ctext);
    free(pinned);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc != RUN_GO)
        return rc;
    const char *prompt = o.prompt;
    size_t plen = prompt ? strlen(prompt) : 0;
    char *ptext = NULL;
    errmsg_t err = {0};
    if (o.pfile) {
        FILE *f = strcmp(o.pfile, "-") ? fopen(o.pfile, "rb") : stdin;
        if (!f)
            return cli_fail("run", "%s: cannot open", o.pfile);
        rc = cli_read_all(f, &ptext, &plen, &err);
        if (f != stdin)
            fclose(f);
        if (rc)
            return cli_fail("run", "%s: %s", o.pfile, err.msg);
        prompt = ptext;
    }
    char *pinned = NULL;
    if ((rc = resolve_pins(&o, &o.pins)))
        goto done;
    if (o.ce.remote) {
        o.rg.model = o.ce.model; /* -m names the remote model; default: the first it lists */
        o.rg.max_tokens = o.n_predict;
        o.rg.stops = o.stops;
        o.rg.n_stops = o.n_stops;
        /* the remote context is not known here: the pins take at most half the local default */
        if (o.pins.n && (rc = with_pins(&o, &o.pins, prompt, plen, RUN_DEFAULT_CTX / 2, prompt_count_tokens_approx,
                                        NULL, &pinned, &plen)))
            goto done;
        rc = o.n_predict == 0 ? CLI_EXIT_OK
                              : run_remote(o.ce.remote, pinned ? pinned : prompt, o.chat, o.system, &o.rg, o.echo,
                                           o.verbose);
    } else {
        rc = run_local(&o, prompt, plen);
    }
done:
    pin_list_free(&o.pins);
    free(pinned);
    free(ptext);
    return rc;
}
