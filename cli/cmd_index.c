/* cmd_index.c - `octet index`: bring the repository's retrieval index up to
 * date (rag/), then give the new chunks their vectors from the retrieval
 * encoder when there is one (the lexical index is usable meanwhile), with
 * a progress bar when stderr is a terminal, and report what it holds. */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "encoder.h"
#include "rag.h"
#include "searchd.h"
#include "watch.h"

static const char USAGE[] =
    "Usage: octet index [--repo DIR] [--db PATH] [--no-git] [--exclude PATTERN]...\n"
    "                   [--max-size BYTES] [--stats] [--lexical] [--watch [--idle MINUTES]]\n"
    "\n"
    "Index the git repository that contains DIR (default: the current directory)\n"
    "for retrieval: the files git tracks plus untracked files that are not ignored,\n"
    "cut into chunks at functions and classes, in SQLite FTS5. Only files that\n"
    "changed since the last run are read again.\n"
    "\n"
    "Then, when the retrieval encoder is there (models/octet-embed.gguf next to\n"
    "octet, or $OCTET_EMBED_MODEL), every chunk text without a vector is embedded\n"
    "(int8, in the index) for hybrid retrieval; searches are lexical until all\n"
    "are. Interrupted, the vectors made so far are kept.\n"
    "\n"
    "  --repo DIR        a directory inside the repository (default: .)\n"
    "  --db PATH         the index database (default: .git/octet/index.sqlite)\n"
    "  --no-git          index DIR as a plain directory (index in DIR/.octet/)\n"
    "  --exclude PATTERN leave out matching files (repeatable); patterns are also\n"
    "                    read from .octetignore at the root. A pattern without '/'\n"
    "                    matches any path component (node_modules, *.min.js); one\n"
    "                    starting with or containing '/' matches from the root\n"
    "                    (/build, src/gen/*.c); a trailing '/' means directories\n"
    "  --max-size BYTES  skip larger files (suffix K or M; default 1M)\n"
    "  --stats           also list files and chunks per language\n"
    "  --lexical         no vectors: the lexical index only\n"
    "  --watch           then stay, watching the work tree (inotify), and answer\n"
    "                    'octet search' from memory over a socket beside the index\n"
    "                    (PATH.sock, this user only); the index is updated when files\n"
    "                    change, not at every search. Ctrl-C stops it\n"
    "  --idle MINUTES    with --watch: stop after MINUTES without a search\n"
    "                    (default 30; 0: never)\n"
    "  -h, --help        show this help\n";

static atomic_int g_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&g_cancel, 1);
}

typedef struct bar {
    double last;
    int width;
    bool drawn;
} bar_t;

static void draw_bar(const rag_progress_t *p, void *ud)
{
    bar_t *b = ud;
    double t = cli_now();
    if ((p->phase == RAG_PHASE_INDEX || p->phase == RAG_PHASE_EMBED) && p->done > 0 && t - b->last < 0.05)
        return;
    b->last = t;
    if (p->phase == RAG_PHASE_DONE) {
        if (b->drawn)
            fputs("\r\033[K", stderr);
        b->drawn = false;
        return;
    }
    if (p->phase == RAG_PHASE_LIST) {
        fputs("\r\033[Klisting files...", stderr);
        b->drawn = true;
        return;
    }
    const int cells = 30;
    int fill = p->total ? (int)((double)p->done * cells / (double)p->total) : 0;
    char bar[64];
    for (int i = 0; i < cells; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[cells] = '\0';
    char line[512];
    int n = snprintf(line, sizeof line, "[%s] %zu/%zu ", bar, p->done, p->total);
    int room = b->width - n - 1;
    const char *path = p->phase == RAG_PHASE_EMBED ? "embedding chunks" : p->path ? p->path : "";
    int pl = (int)strlen(path);
    if (room <= 4)
        fprintf(stderr, "\r\033[K%s", line);
    else if (pl > room) /* keep the end of a long path: the file name */
        fprintf(stderr, "\r\033[K%s...%s", line, path + pl - (room - 3));
    else
        fprintf(stderr, "\r\033[K%s%s", line, path);
    b->drawn = true;
}

static void human_bytes(uint64_t b, char *out, size_t n)
{
    if (b >= 1024 * 1024)
        snprintf(out, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    else if (b >= 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(out, n, "%llu B", (unsigned long long)b);
}

/* The vectors: made now for the chunks that lack one (with the bar on a
 * terminal), and a line saying what hybrid retrieval has. Returns the exit
 * status. */
static int report_vectors(rag_t *r, encoder_t *enc, bool lexical, const char *why, bool tty, bar_t *bar)
{
    errmsg_t err = {0};
    if (lexical) {
        printf("vectors   not made (--lexical)\n");
        return CLI_EXIT_OK;
    }
    if (!enc) {
        printf("vectors   none: no retrieval encoder (%s); retrieval is lexical\n", why);
        return CLI_EXIT_OK;
    }
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    rag_embed_stats_t es;
    int e = rag_embed(r, tty ? draw_bar : NULL, bar, &g_cancel, &es, &err);
    sigaction(SIGINT, &old, NULL);
    if (bar->drawn)
        fputs("\r\033[K", stderr);
    bar->drawn = false;
    if (e && e != OCT_ECANCELED) {
        fflush(stdout);
        return cli_fail_err("index", &err);
    }
    printf("vectors   %zu of %zu chunks (%zu embedded, %zu dropped%s) in %.3f s: %s\n", es.ready, es.total,
           es.embedded, es.removed, es.reset ? ", those of another encoder dropped first" : "", es.seconds,
           es.ready == es.total ? "retrieval is hybrid" : "retrieval is lexical until all have one");
    printf("encoder   %s\n", encoder_path(enc));
    if (e == OCT_ECANCELED) {
        fflush(stdout);
        fprintf(stderr, "octet index: interrupted; the %zu vectors made so far are kept\n", es.embedded);
        return 130;
    }
    return CLI_EXIT_OK;
}

int cmd_index(int argc, char **argv)
{
    static const struct option opts[] = {
        {"repo", required_argument, NULL, 'r'},   {"db", required_argument, NULL, 'd'},
        {"no-git", no_argument, NULL, 'n'},       {"exclude", required_argument, NULL, 'x'},
        {"max-size", required_argument, NULL, 'm'}, {"stats", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {"lexical", no_argument, NULL, 'l'},
        {"watch", no_argument, NULL, 'w'},        {"idle", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    rag_options_t ro = {0};
    const char **ex = calloc((size_t)argc + 1, sizeof *ex);
    bool stats = false, lexical = false, watch = false, idle_set = false;
    double idle_min = 30;
    int rc = CLI_EXIT_OK, c;
    rag_t *r = NULL;
    searchd_t *sd = NULL;
    rag_watch_t *w = NULL;
    encoder_t *enc = NULL;
    char why[512] = "";
    errmsg_t err = {0};
    if (!ex)
        return cli_fail("index", "out of memory");
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
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
                free(ex);
                return cli_usage("index", "--max-size: '%s' is not a size (e.g. 500000, 512K, 2M)", optarg);
            }
            break;
        case 's':
            stats = true;
            break;
        case 'l':
            lexical = true;
            break;
        case 'w':
            watch = true;
            break;
        case 'i': {
            char *end;
            idle_min = strtod(optarg, &end);
            if (end == optarg || *end || !(idle_min >= 0 && idle_min <= 1e6)) {
                free(ex);
                return cli_usage("index", "--idle: '%s' is not a number of minutes (0: never)", optarg);
            }
            idle_set = true;
            break;
        }
        case 'h':
            fputs(USAGE, stdout);
            free(ex);
            return CLI_EXIT_OK;
        default:
            free(ex);
            return cli_usage("index", "unknown option");
        }
    }
    if (optind < argc) {
        free(ex);
        return cli_usage("index", "unexpected argument '%s'", argv[optind]);
    }
    if (idle_set && !watch) {
        free(ex);
        return cli_usage("index", "--idle goes with --watch");
    }
    ro.exclude = ex;
    ro.check = true; /* an explicit index finds damage no search has met yet */
    if (rag_open(&r, &ro, &err) != 0) {
        rc = cli_fail_err("index", &err);
        goto done;
    }
    if (rag_notice(r)[0])
        fprintf(stderr, "octet index: %s\n", rag_notice(r));
    if (watch) {
        if (searchd_claim(&sd, r, &err) != 0) {
            rc = cli_fail_err("index", &err);
            goto done;
        }
        /* watching before the update: what changes meanwhile is seen */
        int wr = rag_watch_open(&w, r, &err);
        if (wr == OCT_EUNSUPPORTED)
            fprintf(stderr, "octet index: %s; the index will be updated before every search\n", err.msg);
        else if (wr) {
            rc = cli_fail_err("index", &err);
            goto done;
        }
    }

    bar_t bar = {.width = 80};
    bool tty = isatty(STDERR_FILENO);
    if (tty) {
        struct winsize ws;
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
            bar.width = ws.ws_col;
    }
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    rag_update_stats_t us;
    int u = rag_update(r, tty ? draw_bar : NULL, &bar, &g_cancel, &us, &err);
    sigaction(SIGINT, &old, NULL);
    if (bar.drawn)
        fputs("\r\033[K", stderr);
    if (rag_notice(r)[0])
        fprintf(stderr, "octet index: %s\n", rag_notice(r));
    if (u == OCT_ECANCELED) {
        fprintf(stderr, "octet index: interrupted; the %zu files indexed so far are kept\n", us.changed);
        rc = 130;
        goto done;
    }
    if (u != 0) {
        rc = cli_fail_err("index", &err);
        goto done;
    }
    size_t skipped = us.skip_binary + us.skip_large + us.skip_excluded + us.skip_other;
    printf("indexed   %s\n", rag_root(r));
    printf("files     %zu (%zu changed, %zu unchanged, %zu removed)\n", us.files, us.changed, us.unchanged,
           us.removed);
    printf("skipped   %zu (%zu binary, %zu too large, %zu excluded, %zu other)\n", skipped, us.skip_binary,
           us.skip_large, us.skip_excluded, us.skip_other);
    printf("chunks    %zu (%zu written)\n", us.chunks, us.chunks_added);
    printf("time      %.3f s\n", us.seconds);
    /* the lexical index is committed: searches work while the vectors are made */
    fflush(stdout);
    if (!lexical && encoder_open(&enc, NULL, 0, why, sizeof why, &err) != 0) {
        /* an encoder named but unreadable: the lexical index is done, the user should know */
        rc = cli_fail("index", "%s; the lexical index is up to date", err.msg);
        goto done;
    }
    encoder_attach(enc, r);
    rc = report_vectors(r, enc, lexical, why, tty, &bar);
    if (rc != CLI_EXIT_OK && rc != 130)
        goto done;
    rag_index_stats_t is;
    if (rag_stats(r, &is, &err) != 0) {
        rc = cli_fail_err("index", &err);
        goto done;
    }
    char size[32];
    human_bytes(is.db_bytes, size, sizeof size);
    printf("database  %s  %s\n", size, rag_db_path(r));
    if (stats) {
        printf("schema    version %d\n\n%-12s %8s %8s\n", is.schema_version, "language", "files", "chunks");
        for (size_t i = 0; i < is.n_langs; i++)
            printf("%-12s %8zu %8zu\n", is.langs[i].lang, is.langs[i].files, is.langs[i].chunks);
    }
    rag_index_stats_free(&is);
    if (watch && rc == CLI_EXIT_OK) {
        printf("watching  %s: searches answered at %s (pid %ld)\n", rag_root(r), searchd_path(sd), (long)getpid());
        fflush(stdout);
        searchd_config_t cfg = {.exclude = ex, .n_exclude = ro.n_exclude, .max_size = ro.max_file_bytes,
                                .no_git = ro.no_git, .lexical = lexical, .idle_s = idle_min * 60};
        if (searchd_serve(sd, r, w, enc, &cfg, &err) != 0)
            rc = cli_fail_err("index", &err);
    }
done:
    searchd_close(sd);
    rag_watch_close(w);
    rag_close(r);
    encoder_close(enc);
    free(ex);
    return rc;
}
