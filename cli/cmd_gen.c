/* cmd_gen.c - `octet gen`: write the function a spec describes with the
 * model: a prompt from the spec and the repository code retrieved for its
 * names, the code block extracted from the reply and, with --check,
 * verified like `octet check`, retrying with the failure fed back. The
 * model is the local engine's or, with --backend URL, a remote
 * OpenAI-compatible engine's (flows/llm.h). */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "genopts.h"
#include "llm.h"
#include "pin.h"
#include "spec.h"
#include "termsafe.h"

#define GEN_DEFAULT_CTX 4096
#define GEN_MAX_INCLUDES 64

enum {
    OPT_SPEC = CLI_GEN_FIRST_FREE,
    OPT_CHECK,
    OPT_RETRIES,
    OPT_OUT,
    OPT_NO_CONTEXT,
    OPT_TIMEOUT,
    OPT_UNSAFE_SANDBOX,
};

static void usage(void)
{
    printf("Usage: octet gen --spec FILE [--check] [--retries N] [--out FILE] [-m MODEL] [OPTIONS]\n\n"
           "Generate the function a spec describes (see docs/specs.md) with the model.\n"
           "The prompt has the spec and the repository code most relevant to its names;\n"
           "the code is extracted from the reply and written to --out (or stdout).\n\n"
           "  --spec FILE        the spec (JSON)\n"
           "  --check            verify each attempt as 'octet check' does; on failure retry\n"
           "                     with the error fed back to the model\n"
           "  --retries N        attempts after the first one (default 2); also used when a\n"
           "                     reply has no code\n"
           "  --out FILE         write the code to FILE (only when it passed; default stdout)\n"
           "  -n, --n-predict N  most tokens per reply (default 768)\n"
           "      --temp T       temperature (default 0.2; 0: greedy)\n"
           "      --seed S       random seed (default 1)\n"
           "      --template NAME chat format (see 'octet run --help'); 'none': plain\n"
           "                     completion, which models without a chat template get\n"
           "      --context TOKENS  repository code in the prompt: pinned, then retrieved\n"
           "                     (default 1024)\n"
           "      --no-context   no retrieval (code given with --add still goes in)\n"
           "      --add PATH[:START-END] | SYMBOL\n"
           "                     put this file, these lines of it, or the definition of this\n"
           "                     function, class or method (found through the repository index)\n"
           "                     into the prompt's code, before the retrieved chunks, which leave\n"
           "                     out what it holds; repeatable\n"
           "      --repo DIR     the repository to retrieve from (default .)\n"
           "      --lexical      retrieve with BM25 alone, not hybrid with the encoder\n"
           "      --timeout S    time limit of each example run with --check (default 5)\n"
           "  -I, --include DIR  another include directory for C with --check\n"
           "      --unsafe-sandbox  with --check, run the code even when the kernel refuses a\n"
           "                     layer of the sandbox (see docs/security.md)\n"
           CLI_LLM_GEN_HELP
           "  -v, --verbose      show each reply and check report on stderr, and the\n"
           "                     speculation figures (acceptance rate, tokens per pass)\n"
           "  -h, --help         show this help\n\n"
           "With --backend http://HOST:PORT/v1 the model is that OpenAI-compatible server's\n"
           "(octet serve, vLLM...): -m names the remote model (default: the first it lists),\n"
           "the request is chat (the server applies its chat template) or, with --template\n"
           "none, a plain completion; -n, --temp and --seed are sent, and $OCTET_API_KEY,\n"
           "when set, as a bearer token. Retrieved context is measured with an estimate.\n\n"
           "Exit status: 0 code written (and passed with --check), 1 failure, 2 usage.\n\n%s",
           CLI_ENG_HELP);
}

typedef struct progress {
    int attempts;
    bool verbose;
    bool check;
} progress_t;

static void on_attempt(void *ud, int attempt, const char *reply, const char *code, const spec_report_t *rep,
                       const char *error)
{
    const progress_t *p = ud;
    (void)reply; /* streamed to stderr already with -v */
    (void)code;
    if (p->verbose) {
        fputc('\n', stderr);
        if (rep) {
            fputs("octet gen: check:\n", stderr);
            termsafe_write(stderr, rep->text, strlen(rep->text));
        }
    }
    if (!*error) {
        fprintf(stderr, "octet gen: attempt %d/%d: %s\n", attempt, p->attempts,
                p->check ? "the code passed the check" : "code extracted");
        return;
    }
    size_t first = strcspn(error, "\n");
    fprintf(stderr, "octet gen: attempt %d/%d failed: %.*s%s\n", attempt, p->attempts, (int)first, error,
            error[first] && error[first + 1] ? " ..." : "");
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) || !ok ? -1 : 0;
}

/* What `octet gen` was asked. */
typedef struct gen_opts {
    cli_gen_opts_t g;
    spec_check_opts_t co;
    const char *spec_path, *out_path, *includes[GEN_MAX_INCLUDES];
    size_t n_inc;
    long retries;
    bool check, no_retrieval;
} gen_opts_t;

/* Parse the command line into O: GEN_GO, or the exit status (help shown,
 * or a usage error printed). */
#define GEN_GO (-1)
static int parse_args(int argc, char **argv, gen_opts_t *o)
{
    static const struct option longopts[] = {
        CLI_GEN_LONGOPTS,
        {"spec", required_argument, NULL, OPT_SPEC},
        {"check", no_argument, NULL, OPT_CHECK},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"out", required_argument, NULL, OPT_OUT},
        {"no-context", no_argument, NULL, OPT_NO_CONTEXT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"unsafe-sandbox", no_argument, NULL, OPT_UNSAFE_SANDBOX},
        {"include", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    cli_gen_init(&o->g, 768, 1024, 1);
    spec_check_opts_default(&o->co);
    o->retries = 2;
    double d;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:n:I:vh", longopts, NULL)) != -1) {
        if ((r = cli_gen_option(&o->g, "gen", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case OPT_SPEC:
            o->spec_path = optarg;
            break;
        case OPT_CHECK:
            o->check = true;
            break;
        case OPT_RETRIES:
            if (cli_parse_long("gen", "--retries", optarg, 0, 100, &o->retries))
                return CLI_EXIT_USAGE;
            break;
        case OPT_OUT:
            o->out_path = optarg;
            break;
        case OPT_NO_CONTEXT:
            o->no_retrieval = true;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_float("gen", "--timeout", optarg, 0.05, 86400, &d))
                return CLI_EXIT_USAGE;
            o->co.timeout_s = d;
            break;
        case OPT_UNSAFE_SANDBOX:
            o->co.unsafe_sandbox = true;
            break;
        case 'I':
            if (o->n_inc == GEN_MAX_INCLUDES)
                return cli_usage("gen", "at most %d include directories", GEN_MAX_INCLUDES);
            o->includes[o->n_inc++] = optarg;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("gen", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("gen", "unexpected argument '%s'", argv[optind]);
    if (!o->spec_path)
        return cli_usage("gen", "no spec given: use --spec FILE");
    if ((r = cli_gen_check(&o->g, "gen")))
        return r;
    o->co.include_dirs = o->includes;
    o->co.n_include_dirs = o->n_inc;
    return GEN_GO;
}

/* The repository code for S into *CTX (NULL when there is none): the
 * pinned code of --add, then what the index retrieves for the spec's names,
 * packed into the budget with L's token counter. 0 or the exit status
 * after printing the error. */
static int retrieve(const gen_opts_t *o, cli_llm_t *L, const spec_t *s, char **ctx)
{
    errmsg_t err = {0};
    pin_ctx_t pc;
    /* the context may take a quarter of the window at most: the spec, the
     * feedback of a retry and the reply need the rest */
    size_t budget = (size_t)o->g.context;
    if (L->h.n_ctx && budget > L->h.n_ctx / 4)
        budget = L->h.n_ctx / 4;
    char *query = o->no_retrieval ? NULL : spec_query(s);
    if (!o->no_retrieval && !query)
        return cli_fail("gen", "out of memory");
    char mode[600] = "";
    int q = spec_repo_context(o->g.repo, query, o->g.lexical, 8, o->g.adds, o->g.n_adds, budget, L->h.count, L->h.count_ud,
                              &pc, mode, sizeof mode, &err);
    free(query);
    if (q == OCT_ENOTFOUND && !o->g.n_adds) {
        if (o->g.verbose)
            fprintf(stderr, "octet gen: no retrieved context: %s\n", err.msg);
        return 0;
    }
    if (q)
        return cli_fail_err("gen", &err);
    char *sum = pin_ctx_summary(&pc);
    if (o->g.verbose)
        fprintf(stderr, "octet gen: retrieved context, %zu bytes (retrieval %s)\n", strlen(pc.text),
                mode[0] ? mode : "none");
    if (sum && (o->g.verbose || o->g.n_adds))
        fprintf(stderr, "octet gen: %s\n", sum);
    free(sum);
    *ctx = pc.text;
    pc.text = NULL;
    pin_ctx_free(&pc);
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    gen_opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc != GEN_GO)
        return rc;
    spec_t *s = NULL;
    cli_llm_t L = {0};
    spec_gen_result_t res = {0};
    char *ctx = NULL;
    errmsg_t err = {0};
    if (spec_load(&s, o.spec_path, &err)) {
        rc = cli_fail_err("gen", &err);
        goto done;
    }
    bool want_ctx = !o.no_retrieval || o.g.n_adds;
    if ((rc = cli_gen_open(&L, "gen", &o.g, GEN_DEFAULT_CTX, want_ctx)))
        goto done;
    if (o.g.verbose) {
        if (o.g.ce.remote)
            fprintf(stderr, "octet gen: %s request to %s\n", L.h.llm.chat ? "chat" : "plain-completion",
                    o.g.ce.remote);
        else
            fprintf(stderr, "octet gen: %s prompt\n", L.h.llm.chat ? "chat" : "plain-completion");
    }
    if (want_ctx && (rc = retrieve(&o, &L, s, &ctx)))
        goto done;
    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof dir_buf, "%s", o.out_path ? o.out_path : "./x");
    progress_t pr = {(int)o.retries + 1, o.g.verbose, o.check};
    spec_gen_opts_t go = {
        .attempts = (int)o.retries + 1,
        .check = o.check,
        .context = ctx,
        .code_dir = dirname(dir_buf),
        .check_opts = &o.co,
        .on_attempt = on_attempt,
        .ud = &pr,
    };
    int g = spec_gen(s, &L.h.llm, &go, &res, &err);
    if (o.g.verbose)
        cli_llm_report("gen", &L);
    if (g) {
        rc = cli_fail_err("gen", &err);
        goto done;
    }
    if (!res.ok) {
        rc = cli_fail("gen", "no usable code after %d attempt%s; the last one failed:\n%s", res.attempts,
                      res.attempts == 1 ? "" : "s", res.last_error ? res.last_error : "");
        if (res.code && o.g.verbose)
            fprintf(stderr, "octet gen: the last code:\n%s", res.code);
        goto done;
    }
    if (o.out_path) {
        if (write_file(o.out_path, res.code)) {
            rc = cli_fail("gen", "%s: cannot write", o.out_path);
            goto done;
        }
        fprintf(stderr, "octet gen: wrote %s\n", o.out_path);
    } else {
        fputs(res.code, stdout);
    }
    rc = CLI_EXIT_OK;
done:
    spec_gen_result_free(&res);
    free(ctx);
    cli_llm_close(&L);
    spec_free(s);
    return rc;
}
