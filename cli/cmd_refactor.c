/* cmd_refactor.c - `octet refactor`: retrieve the target code (a file, a
 * symbol or what the instruction names) and the places that use it, ask
 * the model for a unified diff, show it colored and apply it on
 * confirmation with the same checked, undoable applier as `octet apply`. */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_engine.h"
#include "patch.h"
#include "rag.h"
#include "spec.h"

#define REFACTOR_DEFAULT_CTX 4096
#define REFACTOR_HITS 24

enum {
    OPT_PATH = CLI_ENG_FIRST_FREE,
    OPT_SYMBOL,
    OPT_FORCE,
    OPT_TEMPLATE,
    OPT_TEMP,
    OPT_SEED,
    OPT_CONTEXT,
    OPT_REPO,
    OPT_DRY_RUN,
    OPT_COLOR,
};

static void usage(void)
{
    printf("Usage: octet refactor \"INSTRUCTION\" [--path P | --symbol S] [-m MODEL] [--yes] [OPTIONS]\n\n"
           "Change the repository as INSTRUCTION says: the target (the file P, the definition\n"
           "of the symbol S, or the code the instruction names) and the places that use it\n"
           "are retrieved from the repository's index, the model is asked for a unified\n"
           "diff, which is shown and, after confirmation, applied like 'octet apply' does\n"
           "(checked, all files or none, undone by 'octet undo').\n\n"
           "  --path P           the file to change (and the code that refers to it)\n"
           "  --symbol S         the function, class or method to change, and its uses\n"
           "  -y, --yes          apply without asking\n"
           "  --force            apply even to files with uncommitted changes\n"
           "  --dry-run          show the diff only\n"
           "  -n, --n-predict N  most tokens of the reply (default 1024)\n"
           "      --temp T       temperature (default 0.2)\n"
           "      --seed S       random seed (default 1)\n"
           "      --template NAME chat format; 'none' for plain completion\n"
           "      --context TOKENS  retrieved code in the prompt (default 2048)\n"
           "      --repo DIR     a directory inside the repository (default .)\n"
           "      --color WHEN   auto, always or never\n"
           "  -v, --verbose      show the model's reply on stderr\n"
           "  -h, --help         show this help\n\n"
           "Exit status: 0 applied (or shown, with --dry-run), 1 no usable diff, refused,\n"
           "declined or failed, 2 usage.\n\n%s",
           CLI_ENG_HELP);
}

static bool confirm(const char *question)
{
    char line[64];
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

/* Whether WORD occurs in TEXT as a whole identifier. */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* Whether a hit is the definition of SYM ("Class.sym" counts). */
static bool defines(const rag_hit_t *h, const char *sym)
{
    if (!h->symbol)
        return false;
    size_t a = strlen(h->symbol), b = strlen(sym);
    return !strcmp(h->symbol, sym) || (a > b && h->symbol[a - b - 1] == '.' && !strcmp(h->symbol + a - b, sym));
}

/* The file PATH (relative to ROOT) as a packed block, cut to about BUDGET
 * tokens at a line end: the target of --path, whether or not the index
 * ranks it. */
static int file_block(const char *root, const char *path, size_t budget, spec_engine_llm_t *el, char **out,
                      size_t *used, errmsg_t *err)
{
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s/%s", root, path);
    FILE *f = fopen(full, "rb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open", path);
    char *text = NULL;
    size_t len = 0;
    int rc = cli_read_all(f, &text, &len, err);
    fclose(f);
    if (rc)
        return rc;
    size_t tokens = spec_engine_count(text, len, el);
    if (tokens > budget) {
        len = len * budget / tokens;
        while (len && text[len - 1] != '\n')
            len--;
        text[len] = '\0';
        tokens = spec_engine_count(text, len, el);
    }
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        lines++;
    if (asprintf(out, "%s:1-%d\n```\n%s%s```\n\n", path, lines, text, len && text[len - 1] != '\n' ? "\n" : "") < 0) {
        *out = NULL;
        free(text);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    free(text);
    *used = tokens + 16;
    return 0;
}

/* The retrieved code, packed: the target first (the file of --path, the
 * definition of --symbol), then the code that uses it. */
static int gather(rag_t *r, const char *instruction, const char *path, const char *symbol, size_t budget,
                  spec_engine_llm_t *el, char **out, errmsg_t *err)
{
    rag_results_t res = {0}, view = {0};
    char *q = NULL, *head = NULL, *rest = NULL;
    const char *query = symbol ? symbol : instruction;
    size_t used = 0;
    int rc;
    *out = NULL;
    if (path) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if ((rc = file_block(rag_root(r), path, budget * 2 / 3, el, &head, &used, err)))
            return rc;
        if (asprintf(&q, "%s %s", base, instruction) < 0) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        query = q;
    }
    if ((rc = rag_query(r, query, strlen(query), REFACTOR_HITS, &res, err)))
        goto done;
    view.hits = calloc(res.n ? res.n : 1, sizeof *view.hits);
    if (!view.hits) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    /* with --symbol: the definition, then its uses; otherwise by relevance */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < res.n; i++) {
            const rag_hit_t *h = &res.hits[i];
            if (path && !strcmp(h->path, path))
                continue; /* already there, whole */
            bool first = symbol ? defines(h, symbol) : true;
            bool use = symbol && !first && has_word(h->text, symbol);
            if ((pass == 0 && first) || (pass == 1 && use))
                view.hits[view.n++] = *h;
        }
    if (symbol && (view.n == 0 || !defines(&view.hits[0], symbol))) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "the symbol '%s' is not defined in the repository's index (see 'octet "
                                            "search %s')", symbol, symbol);
        goto done;
    }
    rag_pack_info_t info;
    if ((rc = rag_pack(&view, budget > used ? budget - used : 1, spec_engine_count, el, &rest, &info, err)))
        goto done;
    if (asprintf(out, "%s%s", head ? head : "", rest) < 0) {
        *out = NULL;
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
done:
    free(view.hits); /* shallow copies of res's hits */
    rag_results_free(&res);
    free(rest);
    free(head);
    free(q);
    return rc;
}

/* -v: the model's reply as it is generated. */
static void stream_text(void *ud, const char *piece, size_t len)
{
    (void)ud;
    fwrite(piece, 1, len, stderr);
}

static bool diff_done(const char *reply, void *ud)
{
    /* a closed ``` block after the diff started (chat), or any closing fence (completion) */
    bool completion = *(const bool *)ud;
    const char *open = completion ? reply : strstr(reply, "```");
    if (!open)
        return false;
    const char *body = completion ? reply : strchr(open, '\n');
    return body && strstr(body, "\n```") != NULL;
}

int cmd_refactor(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"path", required_argument, NULL, OPT_PATH},
        {"symbol", required_argument, NULL, OPT_SYMBOL},
        {"yes", no_argument, NULL, 'y'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"n-predict", required_argument, NULL, 'n'},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"temp", required_argument, NULL, OPT_TEMP},
        {"seed", required_argument, NULL, OPT_SEED},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"repo", required_argument, NULL, OPT_REPO},
        {"color", required_argument, NULL, OPT_COLOR},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_eng_t ce;
    cli_eng_init(&ce);
    sample_params_t sp;
    sample_params_default(&sp);
    sp.temp = 0.2f;
    sp.seed = 1;
    const char *path_arg = NULL, *symbol = NULL, *tmpl_name = NULL, *repo = ".", *color_arg = "auto";
    long n_predict = 1024, context = 2048, v;
    double d;
    bool yes = false, force = false, dry_run = false, verbose = false;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:n:yvh", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&ce, "refactor", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case OPT_PATH:
            path_arg = optarg;
            break;
        case OPT_SYMBOL:
            symbol = optarg;
            break;
        case 'y':
            yes = true;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_DRY_RUN:
            dry_run = true;
            break;
        case 'n':
            if (cli_parse_long("refactor", "-n", optarg, 1, 1 << 20, &n_predict))
                return CLI_EXIT_USAGE;
            break;
        case OPT_TEMPLATE:
            tmpl_name = optarg;
            break;
        case OPT_TEMP:
            if (cli_parse_float("refactor", "--temp", optarg, 0, 100, &d))
                return CLI_EXIT_USAGE;
            sp.temp = (float)d;
            break;
        case OPT_SEED:
            if (cli_parse_long("refactor", "--seed", optarg, 0, 0x7fffffffL, &v))
                return CLI_EXIT_USAGE;
            sp.seed = (uint64_t)v;
            break;
        case OPT_CONTEXT:
            if (cli_parse_long("refactor", "--context", optarg, 64, 1 << 20, &context))
                return CLI_EXIT_USAGE;
            break;
        case OPT_REPO:
            repo = optarg;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                return cli_usage("refactor", "--color must be auto, always or never, not '%s'", optarg);
            color_arg = optarg;
            break;
        case 'v':
            verbose = true;
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
    const char *instruction = argv[optind];
    if (!*instruction)
        return cli_usage("refactor", "the instruction is empty");
    if (path_arg && symbol)
        return cli_usage("refactor", "--path and --symbol cannot be combined");
    const char *term = getenv("TERM");
    bool color = !strcmp(color_arg, "always") ||
                 (!strcmp(color_arg, "auto") && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
                  !(term && !strcmp(term, "dumb")));
    if (!yes && !dry_run && !isatty(STDIN_FILENO))
        return cli_usage("refactor", "standard input is not a terminal: use --yes to apply without confirmation, "
                                     "or --dry-run");

    rag_t *rg = NULL;
    rag_options_t ro = {0};
    eng_model_t *m = NULL;
    spec_engine_llm_t el = {0};
    spec_llm_t llm;
    patch_t *p = NULL;
    char *ctx = NULL, *reply = NULL, *diff = NULL, *shown = NULL, *summary = NULL, *record = NULL, *prompt = NULL,
         *rel = NULL;
    chat_msg_t msgs[2] = {{CHAT_ROLE_SYSTEM, NULL}, {CHAT_ROLE_USER, NULL}};
    errmsg_t err = {0};
    int rc;
    ro.dir = repo;
    if (rag_open(&rg, &ro, &err) || rag_update(rg, NULL, NULL, NULL, NULL, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    if (path_arg) {
        /* the path as the index names it: relative to the root */
        char abs[PATH_MAX];
        const char *root = rag_root(rg);
        size_t rl = strlen(root);
        if (!realpath(path_arg, abs) || strncmp(abs, root, rl) || (abs[rl] != '/' && abs[rl])) {
            rc = cli_fail("refactor", "%s: not a file inside the repository %s", path_arg, root);
            goto done;
        }
        if (!(rel = strdup(abs[rl] == '/' ? abs + rl + 1 : abs + rl))) {
            rc = cli_fail("refactor", "out of memory");
            goto done;
        }
    }
    if ((rc = cli_eng_open("refactor", &ce, REFACTOR_DEFAULT_CTX, &m)))
        goto done;
    if (spec_engine_llm_init(&el, m, tmpl_name, &sp, (int)n_predict, &llm, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    size_t budget = (size_t)context, half = eng_n_ctx(el.session) / 2;
    if (budget > half)
        budget = half;
    if (gather(rg, instruction, rel, symbol, budget, &el, &ctx, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    if (verbose) {
        /* the block headers: path:first-last lines outside the fences */
        fprintf(stderr, "octet refactor: retrieved");
        bool in_fence = false;
        for (const char *l = ctx; *l;) {
            size_t n = strcspn(l, "\n");
            if (!strncmp(l, "```", 3))
                in_fence = !in_fence;
            else if (!in_fence && n)
                fprintf(stderr, " %.*s", (int)n, l);
            l += n + (l[n] == '\n');
        }
        fprintf(stderr, "\n");
    }
    char target[PATH_MAX + 64] = "";
    if (rel)
        snprintf(target, sizeof target, "\nTarget: the file %s and the code that refers to it.\n", rel);
    else if (symbol)
        snprintf(target, sizeof target, "\nTarget: %.200s, its definition and every use.\n", symbol);
    bool completion = !llm.chat;
    if (llm.chat) {
        msgs[0].content = "You are a careful refactoring tool for a git repository. Reply with one ```diff block "
                          "holding a unified diff in git's format (diff --git a/PATH b/PATH, --- a/PATH, +++ b/PATH, "
                          "@@ hunks with 3 lines of context) that makes the requested change everywhere it is "
                          "needed, and nothing else. Paths are relative to the repository root, as shown.";
        if (asprintf(&prompt, "Instruction: %s\n%s\nCode from the repository (path:first-last, then the lines):\n\n%s",
                     instruction, target, ctx) < 0)
            prompt = NULL;
        msgs[1].content = prompt;
    } else if (asprintf(&prompt, "%s\n\nA patch in git's unified diff format that does this: %s\n%s\n```diff\n", ctx,
                        instruction, target) < 0) {
        prompt = NULL;
    }
    if (!prompt) {
        rc = cli_fail("refactor", "out of memory");
        goto done;
    }
    if (verbose) {
        fprintf(stderr, "octet refactor: the model's reply:\n");
        el.on_text = stream_text;
    }
    if (llm.generate(llm.ud, msgs, 2, prompt, diff_done, &completion, &reply, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    if (verbose)
        fputc('\n', stderr);
    if (completion) {
        /* the prompt opened the ```diff block the reply continues */
        char *full = NULL;
        if (asprintf(&full, "```diff\n%s", reply) < 0) {
            rc = cli_fail("refactor", "out of memory");
            goto done;
        }
        free(reply);
        reply = full;
    }
    if (patch_extract(reply, repo, &diff, &err)) {
        rc = cli_fail("refactor", "no usable diff in the model's reply: %s%s", err.msg,
                      verbose ? "" : " (-v shows the reply)");
        goto done;
    }
    if (patch_parse(&p, diff, strlen(diff), "the model's diff", &err) || patch_check(p, repo, force, &err)) {
        if (!verbose)
            fprintf(stderr, "%s", diff);
        rc = cli_fail("refactor", "%s; nothing was changed", err.msg);
        goto done;
    }
    if (!(shown = patch_colorize(diff, color)) || !(summary = patch_summary(p))) {
        rc = cli_fail("refactor", "out of memory");
        goto done;
    }
    fputs(shown, stdout);
    printf("%s\n", summary);
    fflush(stdout);
    if (dry_run) {
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!yes && !confirm("Apply this patch?")) {
        rc = cli_fail("refactor", "not applied");
        goto done;
    }
    if (patch_apply(p, repo, force, &record, &err)) {
        rc = cli_fail_err("refactor", &err);
        goto done;
    }
    printf("applied (undo record %s; 'octet undo' restores the previous contents)\n", record);
    rc = CLI_EXIT_OK;
done:
    free(record);
    free(summary);
    free(shown);
    patch_free(p);
    free(diff);
    free(reply);
    free(prompt);
    free(ctx);
    free(rel);
    spec_engine_llm_free(&el);
    eng_close(m);
    rag_close(rg);
    return rc;
}
