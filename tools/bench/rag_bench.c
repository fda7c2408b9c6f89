/* rag_bench.c - measures rag/ through its public API, for rag_bench.sh and
 * rag_quality.py (built by them against a build's librag.a).
 *
 *   rag_bench update DIR DB
 *       bring the index DB of the repository at DIR up to date; prints
 *       "seconds files changed chunks db_bytes" on one line
 *   rag_bench query DIR DB QUERIES K [MODE ENCODER]
 *       QUERIES has one query per line, "ID<TAB>TEXT"; for each, prints
 *       "ID<TAB>RANK<TAB>PATH<TAB>START<TAB>END<TAB>SCORE" for the top K;
 *       on stderr: the number of queries and p50/p95/max latency in ms.
 *       MODE lexical (default), hybrid or dense, with the retrieval
 *       encoder ENCODER (one thread, as octet search runs it); stderr then
 *       also has the mean times of embedding the query and of the scan
 *   rag_bench embed DIR DB ENCODER THREADS
 *       give every chunk of the index its vector (rag_embed); prints
 *       "seconds embedded total"
 *   rag_bench scan N DIM
 *       the int8 scan alone: N random vectors of DIM, one query, all
 *       scores and the best 100; prints the median of 5 runs in ms
 *   rag_bench chunks DIR
 *       run the chunker alone on every text file under DIR (.git skipped);
 *       prints "PATH<TAB>START<TAB>END<TAB>SYMBOL" per chunk, and on stderr
 *       files, MB and MB/s of chunking (reading the files not included) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chunk.h"
#include "dense.h"
#include "embed.h"
#include "rag.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int open_index(rag_t **r, const char *dir, const char *db)
{
    errmsg_t err = {0};
    rag_options_t o = {.dir = dir, .db_path = db};
    if (rag_open(r, &o, &err) != 0) {
        fprintf(stderr, "rag_bench: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int do_update(const char *dir, const char *db)
{
    rag_t *r;
    errmsg_t err = {0};
    if (open_index(&r, dir, db))
        return 1;
    rag_update_stats_t st;
    double t0 = mono();
    int rc = rag_update(r, NULL, NULL, NULL, &st, &err);
    double t = mono() - t0;
    if (rc) {
        fprintf(stderr, "rag_bench: %s\n", err.msg);
        rag_close(r);
        return 1;
    }
    rag_index_stats_t is;
    if (rag_stats(r, &is, &err) != 0) {
        fprintf(stderr, "rag_bench: %s\n", err.msg);
        rag_close(r);
        return 1;
    }
    printf("%.4f %zu %zu %zu %llu\n", t, st.files, st.changed, st.chunks, (unsigned long long)is.db_bytes);
    rag_index_stats_free(&is);
    rag_close(r);
    return 0;
}

/* rag_embed_fn over the encoder */
static int embed_cb(void *ud, rag_embed_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err)
{
    return emb_text(ud, kind == RAG_EMBED_QUERY ? EMB_QUERY : EMB_CODE, text, len, out, err);
}

static int use_encoder(rag_t *r, const char *path, int threads, emb_t **e)
{
    errmsg_t err = {0};
    rag_embedder_t re = {.embed = embed_cb};
    if (emb_open(e, path, threads, &err) || emb_file_id(path, re.model, sizeof re.model, &err)) {
        fprintf(stderr, "rag_bench: %s\n", err.msg);
        return 1;
    }
    re.ud = *e;
    re.dim = emb_dim(*e);
    rag_set_embedder(r, &re);
    return 0;
}

static int do_embed(const char *dir, const char *db, const char *enc, int threads)
{
    rag_t *r;
    emb_t *e = NULL;
    errmsg_t err = {0};
    if (open_index(&r, dir, db))
        return 1;
    int rc = use_encoder(r, enc, threads, &e);
    rag_embed_stats_t st;
    if (!rc && (rc = rag_embed(r, NULL, NULL, NULL, &st, &err)) != 0)
        fprintf(stderr, "rag_bench: %s\n", err.msg);
    if (!rc)
        printf("%.3f %zu %zu\n", st.seconds, st.embedded, st.total);
    rag_close(r);
    emb_close(e);
    return rc ? 1 : 0;
}

static int do_query(const char *dir, const char *db, const char *qfile, size_t k, const char *mode, const char *enc)
{
    rag_t *r;
    emb_t *e = NULL;
    errmsg_t err = {0};
    rag_mode_t want = !strcmp(mode, "hybrid")  ? RAG_MODE_HYBRID
                      : !strcmp(mode, "dense") ? RAG_MODE_DENSE
                                               : RAG_MODE_LEXICAL;
    FILE *f = fopen(qfile, "r");
    if (!f) {
        perror(qfile);
        return 1;
    }
    if (open_index(&r, dir, db)) {
        fclose(f);
        return 1;
    }
    if (enc && use_encoder(r, enc, 1, &e)) {
        fclose(f);
        rag_close(r);
        return 1;
    }
    size_t cap = 1024, n = 0, n_other = 0;
    double *lat = malloc(cap * sizeof *lat), embed_ms = 0, scan_ms = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = 0;
    while (lat && (len = getline(&line, &lcap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        const char *q = tab + 1;
        rag_results_t res;
        rag_query_info_t info;
        double t0 = mono();
        if (rag_query_ex(r, q, strlen(q), k, want, &res, &info, &err) != 0) {
            fprintf(stderr, "rag_bench: query %s: %s\n", line, err.msg);
            rc = 1;
            break;
        }
        double t = (mono() - t0) * 1000.0;
        /* a mode not reached (vectors missing) would measure something else */
        if (info.mode != want && n_other++ == 0)
            fprintf(stderr, "rag_bench: %s asked, lexical answered: %s\n", mode, info.why);
        embed_ms += info.embed_ms;
        scan_ms += info.scan_ms;
        if (n == cap) {
            double *nl = realloc(lat, 2 * cap * sizeof *nl);
            if (!nl)
                break;
            lat = nl;
            cap *= 2;
        }
        lat[n++] = t;
        for (size_t i = 0; i < res.n; i++)
            printf("%s\t%zu\t%s\t%d\t%d\t%.4f\n", line, i + 1, res.hits[i].path, res.hits[i].start,
                   res.hits[i].end, res.hits[i].score);
        rag_results_free(&res);
    }
    if (n > 0) {
        qsort(lat, n, sizeof *lat, cmp_double);
        fprintf(stderr,
                "queries %zu p50 %.2f ms p95 %.2f ms max %.2f ms; mean query embedding %.2f ms, scan %.2f ms\n", n,
                lat[n / 2], lat[(size_t)((double)n * 0.95)], lat[n - 1], embed_ms / (double)n, scan_ms / (double)n);
    }
    free(lat);
    free(line);
    fclose(f);
    rag_close(r);
    emb_close(e);
    return rc || n_other ? 1 : 0;
}

static int do_scan(size_t n, uint32_t dim)
{
    int8_t *m = malloc(n * dim), q[4096];
    float *sc = malloc(n * sizeof *sc), *out = malloc(n * sizeof *out);
    uint32_t top[100];
    if (!m || !sc || !out || dim > sizeof q) {
        fprintf(stderr, "rag_bench: out of memory\n");
        return 1;
    }
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n * dim; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[i] = (int8_t)((int)(x % 255) - 127);
    }
    for (size_t i = 0; i < n; i++)
        sc[i] = 1.0f / 127;
    for (uint32_t i = 0; i < dim; i++)
        q[i] = m[i];
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = mono();
        dense_scores(q, 1.0f / 127, m, sc, n, dim, false, out);
        dense_top(out, n, 100, top);
        t[r] = (mono() - t0) * 1e3;
    }
    qsort(t, 5, sizeof *t, cmp_double);
    printf("%.3f\n", t[2]);
    fprintf(stderr, "scan of %zu int8 vectors of %u (%s) and the best 100: median %.3f ms of 5\n", n, dim,
            dense_simd() ? "AVX2" : "portable C", t[2]);
    free(m);
    free(sc);
    free(out);
    return 0;
}

typedef struct chunk_run {
    size_t files, bytes;
    double secs;
} chunk_run_t;

static void chunk_tree(const char *root, const char *rel, chunk_run_t *cr)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
            continue;
        char sub[4096], path[8192];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(path, sizeof path, "%s/%s", root, sub);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            chunk_tree(root, sub, cr);
            continue;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > RAG_DEFAULT_MAX_FILE_BYTES)
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char *buf = malloc((size_t)st.st_size + 1);
        size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        if (!buf || memchr(buf, '\0', n < 8000 ? n : 8000)) {
            free(buf);
            continue;
        }
        double t0 = mono();
        char *text;
        size_t len;
        chunk_list_t l = {0};
        if (chunk_normalize(buf, n, &text, &len) == 0) {
            const char *lang = chunk_lang(sub, text, len);
            chunk_text(text, len, lang, &l);
            cr->secs += mono() - t0;
            cr->files++;
            cr->bytes += n;
            for (size_t i = 0; i < l.n; i++)
                printf("%s\t%d\t%d\t%s\n", sub, l.v[i].start, l.v[i].end, l.v[i].symbol ? l.v[i].symbol : "");
            chunk_list_free(&l);
            free(text);
        }
        free(buf);
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "chunks")) {
        chunk_run_t cr = {0};
        chunk_tree(argv[2], "", &cr);
        fprintf(stderr, "chunked %zu files, %.1f MB in %.3f s: %.1f MB/s\n", cr.files, (double)cr.bytes / 1e6,
                cr.secs, (double)cr.bytes / 1e6 / (cr.secs > 0 ? cr.secs : 1e-9));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "update"))
        return do_update(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "query"))
        return do_query(argv[2], argv[3], argv[4], (size_t)atoi(argv[5]), "lexical", NULL);
    if (argc == 8 && !strcmp(argv[1], "query"))
        return do_query(argv[2], argv[3], argv[4], (size_t)atoi(argv[5]), argv[6], argv[7]);
    if (argc == 6 && !strcmp(argv[1], "embed"))
        return do_embed(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (argc == 4 && !strcmp(argv[1], "scan"))
        return do_scan((size_t)atol(argv[2]), (uint32_t)atoi(argv[3]));
    fprintf(stderr, "usage: rag_bench update DIR DB | query DIR DB QUERIES K [MODE ENCODER] | embed DIR DB ENCODER "
                    "THREADS | scan N DIM | chunks DIR\n");
    return 2;
}
