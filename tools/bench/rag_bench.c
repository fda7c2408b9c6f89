/* rag_bench.c - measures rag/ through its public API, for rag_bench.sh and
 * rag_quality.py (built by them against a build's librag.a).
 *
 *   rag_bench update DIR DB
 *       bring the index DB of the repository at DIR up to date; prints
 *       "seconds files changed chunks db_bytes" on one line
 *   rag_bench query DIR DB QUERIES K
 *       QUERIES has one query per line, "ID<TAB>TEXT"; for each, prints
 *       "ID<TAB>RANK<TAB>PATH<TAB>START<TAB>END<TAB>SCORE" for the top K;
 *       on stderr: the number of queries and p50/p95/max latency in ms
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

static int do_query(const char *dir, const char *db, const char *qfile, size_t k)
{
    rag_t *r;
    errmsg_t err = {0};
    FILE *f = fopen(qfile, "r");
    if (!f) {
        perror(qfile);
        return 1;
    }
    if (open_index(&r, dir, db)) {
        fclose(f);
        return 1;
    }
    size_t cap = 1024, n = 0;
    double *lat = malloc(cap * sizeof *lat);
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
        double t0 = mono();
        if (rag_query(r, q, strlen(q), k, &res, &err) != 0) {
            fprintf(stderr, "rag_bench: query %s: %s\n", line, err.msg);
            rc = 1;
            break;
        }
        double t = (mono() - t0) * 1000.0;
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
        fprintf(stderr, "queries %zu p50 %.2f ms p95 %.2f ms max %.2f ms\n", n, lat[n / 2],
                lat[(size_t)((double)n * 0.95)], lat[n - 1]);
    }
    free(lat);
    free(line);
    fclose(f);
    rag_close(r);
    return rc;
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
        return do_query(argv[2], argv[3], argv[4], (size_t)atoi(argv[5]));
    fprintf(stderr, "usage: rag_bench update DIR DB | query DIR DB QUERIES K | chunks DIR\n");
    return 2;
}
