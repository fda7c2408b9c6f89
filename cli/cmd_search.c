/* cmd_search.c - `octet search`: bring the retrieval index up to date, then
 * print the chunks most relevant to a query (hybrid: BM25 fused with the
 * retrieval encoder's ranking when every chunk has its vector; lexical
 * otherwise or with --lexical), as a ranked list, as JSON, or packed into a
 * token budget the way the assistant's prompt gets them. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "encoder.h"
#include "preset.h"
#include "rag.h"
#include "searchd.h"
#include "termsafe.h"

static const char USAGE[] =
    "Usage: octet search [QUERY...] [-k N] [--json] [--context TOKENS] [--lexical] [-v]\n"
    "                    [--repo DIR] [--db PATH] [--no-git] [--exclude PATTERN]...\n"
    "                    [--max-size BYTES] [--no-watch]\n"
    "\n"
    "Update the repository's index (see 'octet index --help'), then print the\n"
    "chunks most relevant to QUERY (the words given, or standard input when none):\n"
    "score, path:first-last and the enclosing symbol, best first; chunks that\n"
    "overlap a better one are merged into it.\n"
    "\n"
    "Retrieval is hybrid when the retrieval encoder (models/octet-embed.gguf, or\n"
    "$OCTET_EMBED_MODEL) is there and every chunk has its vector: BM25 and the\n"
    "encoder's ranking fused (the score is the fused one). Otherwise, and with\n"
    "--lexical, BM25 alone. Up to %d chunks missing their vector are embedded\n"
    "first; more are left to 'octet index'.\n"
    "\n"
    "When 'octet index --watch' serves this index with the same options, it\n"
    "answers (the same results, sooner); otherwise the search runs here.\n"
    "\n"
    "  -k N              how many chunks (default 10)\n"
    "  --json            a JSON array of {\"path\", \"start\", \"end\", \"symbol\", \"score\"}\n"
    "                    (path relative to the root, lines 1-based and inclusive)\n"
    "  --context TOKENS  print the chunks packed into TOKENS tokens (estimated at\n"
    "                    3 bytes per token) as the assistant's prompt gets them\n"
    "  --lexical         BM25 only, without the encoder\n"
    "  -v, --verbose     say on stderr how the query was answered (hybrid or\n"
    "                    lexical and why, vectors scanned, times; by the watcher\n"
    "                    or here, and why)\n"
    "  --no-watch        search here, without asking a watcher\n"
    "  --repo DIR, --db PATH, --no-git, --exclude PATTERN, --max-size BYTES\n"
    "                    as for 'octet index'\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 chunks found, 1 no chunk matches (said on stderr) or an error,\n"
    "2 usage (no query on a terminal: the words, or text piped to standard input).\n";

static int parse_count(const char *s, size_t max, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || v == 0 || v > max || s[0] == '-')
        return -1;
    *out = (size_t)v;
    return 0;
}

/* The hits as a ranked list or as JSON: the same bytes whether the watcher
 * or this process answered. */
static void print_hits(const rag_results_t *res, bool json)
{
    if (json) {
        putchar('[');
        for (size_t i = 0; i < res->n; i++) {
            const rag_hit_t *h = &res->hits[i];
            printf("%s\n  {\"path\": ", i ? "," : "");
            cli_json_str(h->path);
            printf(", \"start\": %d, \"end\": %d, \"symbol\": ", h->start, h->end);
            if (h->symbol)
                cli_json_str(h->symbol);
            else
                fputs("null", stdout);
            printf(", \"score\": %.4f}", h->score);
        }
        printf("%s]\n", res->n ? "\n" : "");
        return;
    }
    for (size_t i = 0; i < res->n; i++) {
        const rag_hit_t *h = &res->hits[i];
        /* names from the repository: their control characters shown as escapes */
        char *path = termsafe_str(h->path, strlen(h->path));
        char *sym = h->symbol ? termsafe_str(h->symbol, strlen(h->symbol)) : NULL;
        printf("%3zu  %8.3f  %s:%d-%d%s%s\n", i + 1, h->score, path ? path : "?", h->start, h->end,
               sym ? "  " : "", sym ? sym : "");
        free(path);
        free(sym);
    }
}

/* The watcher's answer to the search RO, K, LEXICAL asks: 0 with *RES and
 * *ANS, else an OCT_E* code with ERR saying why (then search here). */
static int ask_watcher(const rag_options_t *ro, const char *query, size_t qlen, size_t k, bool lexical,
                       rag_results_t *res, searchd_answer_t *ans, errmsg_t *err)
{
    char root[PATH_MAX], db[PATH_MAX], enc[128], w[512];
    int rc = rag_locate(ro, root, db, err);
    if (rc)
        return rc;
    searchd_encoder_id(lexical ? NULL : preset_embed_model(w, sizeof w), enc, sizeof enc);
    searchd_req_t q = {.k = (uint32_t)k, .mode = lexical ? RAG_MODE_LEXICAL : RAG_MODE_HYBRID,
                       .no_git = ro->no_git, .max_size = ro->max_file_bytes, .root = root, .db = db,
                       .encoder = enc, .exclude = (char **)ro->exclude, .n_exclude = ro->n_exclude,
                       .query = (char *)query, .qlen = qlen};
    return searchd_ask(&q, res, ans, err);
}

int cmd_search(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},          {"context", required_argument, NULL, 'c'},
        {"repo", required_argument, NULL, 'r'},    {"db", required_argument, NULL, 'd'},
        {"no-git", no_argument, NULL, 'n'},        {"exclude", required_argument, NULL, 'x'},
        {"max-size", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {"lexical", no_argument, NULL, 'l'},       {"verbose", no_argument, NULL, 'v'},
        {"no-watch", no_argument, NULL, 'W'},      {NULL, 0, NULL, 0},
    };
    rag_options_t ro = {0};
    size_t k = 10, budget = 0;
    bool json = false, lexical = false, verbose = false, no_watch = false;
    int rc = CLI_EXIT_OK, c;
    rag_t *r = NULL;
    encoder_t *enc = NULL;
    rag_query_info_t info;
    char why[512] = "";
    double t0 = cli_now();
    rag_results_t res = {0};
    rag_ahead_t *ahead = NULL;
    errmsg_t err = {0};
    char *query = NULL;
    size_t qlen = 0;
    const char **ex = calloc((size_t)argc + 1, sizeof *ex);
    if (!ex)
        return cli_fail("search", "out of memory");
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (parse_count(optarg, RAG_MAX_HITS, &k) != 0) {
                rc = cli_usage("search", "-k: '%s' is not a count from 1 to %d", optarg, RAG_MAX_HITS);
                goto done;
            }
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            if (parse_count(optarg, 100000000, &budget) != 0) {
                rc = cli_usage("search", "--context: '%s' is not a token count", optarg);
                goto done;
            }
            break;
        case 'r':
            ro.dir = optarg;
            break;
        case 'd':
            ro.db_path = optarg;
            break;
        case 'n':
            ro.no_git = true;
            break;
        case 'x':
            ex[ro.n_exclude++] = optarg;
            break;
        case 'm':
            if (cli_parse_size(optarg, &ro.max_file_bytes) != 0) {
                rc = cli_usage("search", "--max-size: '%s' is not a size (e.g. 500000, 512K, 2M)", optarg);
                goto done;
            }
            break;
        case 'l':
            lexical = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'W':
            no_watch = true;
            break;
        case 'h':
            printf(USAGE, ENCODER_CATCH_UP);
            goto done;
        default:
            rc = cli_usage("search", "unknown option");
            goto done;
        }
    }
    if (json && budget) {
        rc = cli_usage("search", "--json and --context cannot be combined");
        goto done;
    }
    ro.exclude = ex;
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            qlen += strlen(argv[i]) + 1;
        query = malloc(qlen + 1);
        if (!query) {
            rc = cli_fail("search", "out of memory");
            goto done;
        }
        query[0] = '\0';
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(query, " ");
            strcat(query, argv[i]);
        }
        qlen = strlen(query);
    } else if (isatty(STDIN_FILENO)) {
        /* nothing piped: waiting for the terminal would look like a hang */
        fprintf(stderr, USAGE, ENCODER_CATCH_UP);
        rc = CLI_EXIT_USAGE;
        goto done;
    } else if (cli_read_all(stdin, &query, &qlen, &err) != 0) {
        rc = cli_fail_err("search", &err);
        goto done;
    }
    if (!no_watch && !budget) {
        searchd_answer_t ans;
        errmsg_t werr = {0};
        if (ask_watcher(&ro, query, qlen, k, lexical, &res, &ans, &werr) == 0) {
            print_hits(&res, json);
            if (verbose)
                fprintf(stderr,
                        "octet search: answered by the watcher (pid %ld): %s%s%s, %zu overlapping hits merged; the "
                        "index %s; %.1f ms in the watcher, %.1f ms in all\n",
                        ans.pid, ans.info.mode == RAG_MODE_HYBRID ? "hybrid" : "lexical",
                        ans.info.why[0] ? ": " : "", ans.info.why, ans.info.merged,
                        ans.updated ? "updated first" : "unchanged since its last update", ans.ms,
                        (cli_now() - t0) * 1e3);
            goto printed;
        }
        if (verbose)
            fprintf(stderr, "octet search: searching here: %s\n", werr.msg);
    } else if (verbose && budget && !no_watch) {
        fprintf(stderr, "octet search: searching here: --context is not asked of the watcher\n");
    }
    /* one thread: a query's pass is too short to pay for waking a second
     * one; the encoder loaded and the query embedded while the index opens */
    encoder_use(NULL, lexical, 1, &enc, why, sizeof why);
    encoder_prefetch(enc, query, qlen);
    if (rag_open(&r, &ro, &err) != 0) {
        rc = cli_fail_err("search", &err);
        goto done;
    }
    if (rag_notice(r)[0])
        fprintf(stderr, "octet search: %s\n", rag_notice(r));
    encoder_attach(enc, r);
    for (int attempt = 0;; attempt++) {
        /* the query on the other core while the update stats the files */
        if (rag_ahead_start(r, query, qlen, k, lexical ? RAG_MODE_LEXICAL : RAG_MODE_HYBRID, &ahead, &err) != 0 ||
            rag_update(r, NULL, NULL, NULL, NULL, &err) != 0) {
            rc = cli_fail_err("search", &err);
            goto done;
        }
        if (rag_notice(r)[0])
            fprintf(stderr, "octet search: %s\n", rag_notice(r));
        errmsg_t eerr = {0};
        if (enc && encoder_catch_up(r, ENCODER_CATCH_UP, &eerr) != 0 && verbose)
            fprintf(stderr, "octet search: embedding the new chunks failed: %s\n", eerr.msg);
        int q = rag_ahead_finish(ahead, &res, &info, &err);
        rag_ahead_free(ahead);
        ahead = NULL;
        if (q == 0)
            break;
        /* a corrupt index found by the query is rebuilt by the next update */
        if (q != OCT_EFORMAT || attempt > 0) {
            rc = cli_fail_err("search", &err);
            goto done;
        }
    }
    if (budget) {
        char *ctx = NULL;
        rag_pack_info_t info;
        if (rag_pack(&res, budget, NULL, NULL, &ctx, &info, &err) != 0) {
            rc = cli_fail_err("search", &err);
            goto done;
        }
        if (isatty(STDOUT_FILENO))
            termsafe_write(stdout, ctx, strlen(ctx));
        else
            fputs(ctx, stdout);
        free(ctx);
    } else {
        print_hits(&res, json);
    }
    if (verbose) {
        if (info.mode == RAG_MODE_HYBRID)
            fprintf(stderr,
                    "octet search: hybrid: BM25 (%zu candidates) and %s (%zu chunks scanned in %.2f ms, query "
                    "embedded in %.1f ms, vectors loaded in %.1f ms) fused; %zu overlapping hits merged; %.1f ms in "
                    "all\n",
                    info.lex_hits, encoder_path(enc), info.ready, info.scan_ms, info.embed_ms, info.load_ms,
                    info.merged, (cli_now() - t0) * 1e3);
        else
            fprintf(stderr, "octet search: lexical (BM25, %zu candidates): %s%s%s; %zu overlapping hits merged; "
                            "%.1f ms in all\n",
                    info.lex_hits, enc || lexical ? "" : "no retrieval encoder (", enc ? info.why : why,
                    enc || lexical ? "" : ")", info.merged, (cli_now() - t0) * 1e3);
    }
printed:
    if (fflush(stdout) != 0)
        rc = cli_fail("search", "writing the results failed");
    else if (res.n == 0) {
        char *q = termsafe_str(query, qlen < 200 ? qlen : 200);
        fprintf(stderr, "octet search: no chunk of the repository matches '%s'\n", q ? q : "");
        free(q);
        rc = CLI_EXIT_FAIL;
    }
done:
    rag_ahead_free(ahead);
    rag_results_free(&res);
    rag_close(r);
    encoder_close(enc);
    free(query);
    free(ex);
    return rc;
}
