/* cmd_refactor.c - `octet refactor`: retrieve the target code (a file, a
 * symbol or what the instruction names) and the places that use it, ask
 * the model for a unified diff (or search/replace blocks, made into one),
 * show it colored and apply it on
 * confirmation with the same checked, undoable applier as `octet apply`.
 * The model is the local engine's or, with --backend URL, a remote
 * OpenAI-compatible engine's (flows/llm.h). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "genopts.h"
#include "config.h"
#include "encoder.h"
#include "llm.h"
#include "patch.h"
#include "pin.h"
#include "rag.h"
#include "refactor.h"
#include "termsafe.h"

#define REFACTOR_DEFAULT_CTX 4096

enum {
    OPT_PATH = CLI_GEN_FIRST_FREE,
    OPT_SYMBOL,
    OPT_FORCE,
    OPT_DRY_RUN,
    OPT_COLOR,
    OPT_COMMIT,
    OPT_NO_COMMIT,
    OPT_FORMAT,
    OPT_RETRIES,
};

static void usage(void)
{
    printf("Usage: octet refactor \"INSTRUCTION\" [--path P | --symbol S] [-m MODEL] [--yes] [OPTIONS]\n\n"
           "Change the repository as INSTRUCTION says: the target (the file P, the definition\n"
           "of the symbol S, or with neither the file defining a name the instruction\n"
           "mentions, else the code it is about) and the places that use it\n"
           "are retrieved from the repository's index, the model is asked for search/replace\n"
           "blocks (or a unified diff), made into a diff that is shown and, after\n"
           "confirmation, applied like 'octet apply' does (checked, all files or none,\n"
           "undone by 'octet undo').\n\n"
           "  --path P           the file to change (and the code that refers to it)\n"
           "  --symbol S         the function, class or method to change, and its uses\n"
           "  --format F         what the model writes: blocks (default: a path,\n"
           "                     <<<<<<< SEARCH, lines of the file, =======, new lines,\n"
           "                     >>>>>>> REPLACE; matched exactly or re-indented) or diff\n"
           "  --retries N        replies asked for again when one has no usable edit or\n"
           "                     does not apply (default 2; each draws with another seed)\n"
           "  --add PATH[:START-END] | SYMBOL\n"
           "                     also send this file, these lines of it, or the definition of\n"
           "                     this symbol, after the target and before the retrieved code\n"
           "                     (which leaves out what it holds); repeatable\n"
           "  -y, --yes          apply without asking\n"
           "  --force            apply even to files with uncommitted changes\n"
           "  --commit           commit the change (only the files it touched; message: the\n"
           "                     instruction and the summary); 'octet undo' takes it back;\n"
           "                     the default with 'commit = true' in the settings file\n"
           "  --no-commit        do not commit, whatever the settings file says\n"
           "  --dry-run          show the diff only\n"
           "  -n, --n-predict N  most tokens of the reply (default 1024)\n"
           "      --temp T       temperature (default 0.2)\n"
           "      --seed S       random seed (default 1)\n"
           "      --template NAME chat format; 'none' for plain completion\n"
           "      --context TOKENS  code in the prompt: the target, --add, the retrieved\n"
           "                     chunks (default 2048)\n"
           "      --repo DIR     a directory inside the repository (default .)\n"
           "      --lexical      retrieve with BM25 alone, not hybrid with the encoder\n"
           "      --color WHEN   auto, always or never (default: the settings file's colors)\n"
           CLI_LLM_GEN_HELP
           "  -v, --verbose      show the model's reply on stderr, and the speculation\n"
           "                     figures (acceptance rate, tokens per pass)\n"
           "  -h, --help         show this help\n\n"
           "With --backend http://HOST:PORT/v1 the model is that OpenAI-compatible server's\n"
           "(octet serve, vLLM...): -m names the remote model (default: the first it lists),\n"
           "the request is chat (the server applies its chat template) or, with --template\n"
           "none, a plain completion; -n, --temp and --seed are sent, and $OCTET_API_KEY,\n"
           "when set, as a bearer token. Retrieved code is measured with an estimate.\n\n"
           "Exit status: 0 applied (or shown, with --dry-run), 1 no usable diff or blocks, refused,\n"
           "declined or failed, 2 usage.\n\n%s",
           CLI_ENG_HELP);
}

/* What -v shows as the steps start. */
typedef struct shown {
    bool verbose;
    bool pins; /* --add given: say what went in, and what was cut */
    const char *remote; /* the --backend URL, or NULL */
    bool chat;
} shown_t;

static void on_step(void *ud, refactor_step_t step, const refactor_result_t *res)
{
    const shown_t *sh = ud;
    if (step != REFACTOR_GENERATE)
        return;
    if (res->attempt > 1) {
        if (sh->verbose)
            fprintf(stderr, "octet refactor: reply %d:\n", res->attempt);
        return;
    }
    char *sum = sh->verbose || sh->pins ? pin_ctx_summary(&res->packed) : NULL;
    if (sum)
        fprintf(stderr, "octet refactor: %s\n", sum);
    free(sum);
    if (!sh->verbose)
        return;
    /* the block headers: path:first-last lines outside the fences */
    fprintf(stderr, "octet refactor: retrieved");
    bool in_fence = false;
    for (const char *l = res->context; *l;) {
        size_t n = strcspn(l, "\n");
        if (!strncmp(l, "```", 3))
            in_fence = !in_fence;
        else if (!in_fence && n)
            fprintf(stderr, " %.*s", (int)n, l);
        l += n + (l[n] == '\n');
    }
    fprintf(stderr, "\n");
    if (sh->remote)
        fprintf(stderr, "octet refactor: the reply of %s (%s request):\n", sh->remote,
                sh->chat ? "chat" : "plain-completion");
    else
        fprintf(stderr, "octet refactor: the model's reply:\n");
}

/* A reply failed and another is asked for: say why, as the final failure would. */
static void on_retry(void *ud, int attempt, int attempts, refactor_step_t step, const char *why)
{
    const shown_t *sh = ud;
    if (sh->verbose)
        fputc('\n', stderr);
    fprintf(stderr, "octet refactor: reply %d/%d %s: ", attempt, attempts,
            step == REFACTOR_EXTRACT ? "has no usable edit" : "does not apply");
    termsafe_write(stderr, why, strlen(why));
    fprintf(stderr, "; asking again\n");
}

/* What `octet refactor` was asked. */
typedef struct refactor_opts {
    cli_gen_opts_t g;
    const char *instruction, *path_arg, *symbol, *color_arg;
    refactor_format_t format;
    long retries;
    bool yes, force, dry_run, color, commit;
} refactor_opts_t;

/* Parse the command line into O: REFACTOR_GO, or the exit status (help
 * shown, or a usage error printed). */
#define REFACTOR_GO (-1)
static int parse_args(int argc, char **argv, refactor_opts_t *o)
{
    static const struct option longopts[] = {
        CLI_GEN_LONGOPTS,
        {"path", required_argument, NULL, OPT_PATH},
        {"symbol", required_argument, NULL, OPT_SYMBOL},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"yes", no_argument, NULL, 'y'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"commit", no_argument, NULL, OPT_COMMIT},
        {"no-commit", no_argument, NULL, OPT_NO_COMMIT},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"color", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    /* blocks need no line numbers and only as much context as makes each
     * SEARCH unique: the embedded model writes applicable ones far more
     * often than diffs (docs/BENCHMARKS.md, "Edit formats") */
    o->format = REFACTOR_BLOCKS;
    cli_gen_init(&o->g, 1024, 2048, 64);
    o->commit = config_get()->commit;
    o->retries = 2;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:n:yvh", longopts, NULL)) != -1) {
        if ((r = cli_gen_option(&o->g, "refactor", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case OPT_PATH:
            o->path_arg = optarg;
            break;
        case OPT_SYMBOL:
            o->symbol = optarg;
            break;
        case OPT_RETRIES:
            if (cli_parse_long("refactor", "--retries", optarg, 0, 100, &o->retries))
                return CLI_EXIT_USAGE;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "diff") && strcmp(optarg, "blocks"))
                return cli_usage("refactor", "--format must be diff or blocks, not '%s'", optarg);
            o->format = !strcmp(optarg, "blocks") ? REFACTOR_BLOCKS : REFACTOR_DIFF;
            break;
        case 'y':
            o->yes = true;
            break;
        case OPT_FORCE:
            o->force = true;
            break;
        case OPT_COMMIT:
        case OPT_NO_COMMIT:
            o->commit = opt == OPT_COMMIT;
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            break;
        case OPT_COLOR:
            if (cli_check_color("refactor", optarg))
                return CLI_EXIT_USAGE;
            o->color_arg = optarg;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("refactor", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("refactor", optind < argc ? "give the instruction as one argument (quote it)"
                                                   : "no instruction given");
    o->instruction = argv[optind];
    if (!*o->instruction)
        return cli_usage("refactor", "the instruction is empty");
    if (o->path_arg && o->symbol)
        return cli_usage("refactor", "--path and --symbol cannot be combined");
    if ((r = cli_gen_check(&o->g, "refactor")))
        return r;
    o->color = cli_use_color(o->color_arg);
    if (!o->yes && !o->dry_run && !isatty(STDIN_FILENO))
        return cli_usage("refactor", "standard input is not a terminal: use --yes to apply without confirmation, "
                                     "or --dry-run");
    return REFACTOR_GO;
}

/* Show the checked patch of RES and apply it when the user (or --yes) says so. */
static int show_and_apply(const refactor_opts_t *o, const refactor_result_t *res)
{
    char *shown = NULL, *summary = NULL;
    int rc;
    const char *diff = res->diff;
    patch_t *p = res->patch;
    cli_put_notes(res->notes);
    if (!(shown = patch_colorize(diff, o->color)) || !(summary = patch_summary(p))) {
        rc = cli_fail("refactor", "out of memory");
        goto done;
    }
    fputs(shown, stdout);
    printf("%s\n", summary);
    fflush(stdout);
    if (o->dry_run) {
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!o->yes && !cli_confirm("Apply this patch?")) {
        rc = cli_fail("refactor", "not applied");
        goto done;
    }
    rc = cli_apply_patch("refactor", p, o->g.repo, o->force, o->commit, o->instruction, summary);
done:
    free(summary);
    free(shown);
    return rc;
}

int cmd_refactor(int argc, char **argv)
{
    refactor_opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc != REFACTOR_GO)
        return rc;
    rag_t *rg = NULL;
    encoder_t *enc = NULL;
    char why[512] = "";
    rag_options_t ro = {0};
    cli_llm_t L = {0};
    refactor_result_t res = {0};
    pin_list_t pins = {0};
    char *rel = NULL;
    errmsg_t err = {0};
    ro.dir = o.g.repo;
    if (rag_open(&rg, &ro, &err) || rag_update(rg, NULL, NULL, NULL, NULL, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    /* one thread: a query's pass is too short to pay for waking a second one */
    encoder_use(rg, o.g.lexical, 1, &enc, why, sizeof why);
    if (enc && encoder_catch_up(rg, ENCODER_CATCH_UP, &err) && o.g.verbose)
        fprintf(stderr, "octet refactor: embedding the new chunks failed: %s\n", err.msg);
    if (o.g.verbose) {
        char mode[600];
        encoder_describe(rg, enc, o.g.lexical, why, mode, sizeof mode);
        fprintf(stderr, "octet refactor: retrieval %s\n", mode);
    }
    if (o.path_arg && refactor_rel_path(rg, o.path_arg, &rel, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    for (size_t i = 0; i < o.g.n_adds; i++)
        if (pin_add(&pins, o.g.adds[i], NULL, rag_root(rg), rg, NULL, &err)) {
            rc = cli_fail_err("refactor", &err);
            goto done;
        }
    if ((rc = cli_gen_open(&L, "refactor", &o.g, REFACTOR_DEFAULT_CTX, true)))
        goto done;
    size_t budget = (size_t)o.g.context;
    if (L.h.n_ctx && budget > L.h.n_ctx / 2)
        budget = L.h.n_ctx / 2;
    shown_t sh = {o.g.verbose, o.g.n_adds > 0, o.g.ce.remote, L.h.llm.chat};
    refactor_req_t q = {
        .instruction = o.instruction,
        .rel = rel,
        .symbol = o.symbol,
        .repo_dir = o.g.repo,
        .pins = &pins,
        .budget = budget,
        .count = L.h.count,
        .count_ud = L.h.count_ud,
        .force = o.force,
        .format = o.format,
        .attempts = (int)o.retries + 1,
        .on_step = on_step,
        .on_retry = on_retry,
        .ud = &sh,
    };
    int run = refactor_run(rg, &L.h.llm, &q, &res, &err);
    if (o.g.verbose && res.step > REFACTOR_GENERATE)
        fputc('\n', stderr);
    if (o.g.verbose)
        cli_llm_report("refactor", &L);
    char tries[48] = "";
    if (res.attempt > 1)
        snprintf(tries, sizeof tries, " (the last of %d replies)", res.attempt);
    if (run && res.step == REFACTOR_EXTRACT) {
        /* the blocks parser's messages name the model's reply already */
        rc = cli_fail("refactor", "no usable %s%s: %s%s",
                      o.format == REFACTOR_BLOCKS ? "search/replace blocks" : "diff in the model's reply", tries,
                      err.msg, o.g.verbose ? "" : " (-v shows the reply)");
        goto done;
    }
    if (run && res.step == REFACTOR_CHECK) {
        if (!o.g.verbose)
            termsafe_write(stderr, res.diff, strlen(res.diff));
        rc = cli_fail("refactor", "%s%s; nothing was changed", err.msg, tries);
        goto done;
    }
    if (run) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    rc = show_and_apply(&o, &res);
done:
    refactor_result_free(&res);
    pin_list_free(&pins);
    free(rel);
    cli_llm_close(&L);
    rag_close(rg);
    encoder_close(enc);
    return rc;
}
