/* test_rag_hybrid.c - the dense half of rag/: the int8 arithmetic (the AVX2
 * scan equal to the portable one, the top M), reciprocal rank fusion on
 * hand-made rankings, merging of overlapping hits, and on a real git
 * repository with a fake encoder: the int8 table, incremental embedding
 * (exactly the new texts embedded after adding, changing and removing
 * files; vectors no chunk uses dropped), another encoder starting over,
 * and the query's mode (hybrid only with every vector present, lexical when
 * asked or when vectors are missing) with a dense-only match found. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dense.h"
#include "fuse.h"
#include "rag.h"
#include "test.h"
#include "test_sh.h"

static char g_tmp[256];

static void put(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    CHECKF(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static uint64_t g_rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 11);
}

/* ---- arithmetic ------------------------------------------------------------ */

static void test_quantize_and_scan(void)
{
    enum { N = 300 };
    uint32_t dims[] = {256, 64, 40}; /* 40: the AVX2 path does not apply, C does */
    for (size_t di = 0; di < 3; di++) {
        uint32_t dim = dims[di];
        float *v = malloc(dim * sizeof *v), *out_simd = malloc(N * sizeof(float)), *out_c = malloc(N * sizeof(float));
        int8_t *mat = malloc((size_t)N * dim), *q = malloc(dim);
        float scales[N], qs;
        double worst = 0;
        float *rows = malloc((size_t)N * dim * sizeof *rows);
        for (int r = 0; r < N; r++) {
            for (uint32_t j = 0; j < dim; j++)
                rows[(size_t)r * dim + j] = v[j] = ((float)(rnd() % 2001) - 1000.0f) / 1000.0f;
            dense_quantize(v, dim, mat + (size_t)r * dim, &scales[r]);
            int amax = 0;
            for (uint32_t j = 0; j < dim; j++) {
                int a = abs(mat[(size_t)r * dim + j]);
                amax = a > amax ? a : amax;
                CHECK(mat[(size_t)r * dim + j] != -128);
            }
            CHECK_EQ_INT(amax, 127); /* absmax maps to +-127 */
        }
        for (uint32_t j = 0; j < dim; j++)
            v[j] = ((float)(rnd() % 2001) - 1000.0f) / 1000.0f;
        dense_quantize(v, dim, q, &qs);
        dense_scores(q, qs, mat, scales, N, dim, false, out_simd);
        dense_scores(q, qs, mat, scales, N, dim, true, out_c);
        CHECK(!memcmp(out_simd, out_c, N * sizeof(float)));
        for (int r = 0; r < N; r++) {
            double exact = 0, norm = 0;
            for (uint32_t j = 0; j < dim; j++) {
                exact += (double)v[j] * rows[(size_t)r * dim + j];
                norm += fabs(v[j]) * fabs(rows[(size_t)r * dim + j]);
            }
            worst = fmax(worst, fabs(out_c[r] - exact) / norm);
        }
        CHECKF(worst < 0.01, "dim %u: int8 scores off the float ones by %.4f of the magnitude", dim, worst);
        free(v);
        free(out_simd);
        free(out_c);
        free(mat);
        free(q);
        free(rows);
    }
    /* a zero vector quantizes to zeros with scale 1 */
    float z[8] = {0};
    int8_t zq[8];
    float zs;
    dense_quantize(z, 8, zq, &zs);
    CHECK(zs == 1.0f && zq[0] == 0 && zq[7] == 0);
    printf("    AVX2 scan: %s\n", dense_simd() ? "used" : "not available here (portable loop)");
}

static void test_top(void)
{
    enum { N = 1000 };
    float s[N];
    for (int i = 0; i < N; i++)
        s[i] = (float)(rnd() % 50); /* many ties */
    uint32_t top[64];
    size_t m = dense_top(s, N, 64, top);
    CHECK_EQ_INT(m, 64);
    /* against a full selection: best value, then lower index */
    bool used[N] = {false};
    for (size_t k = 0; k < m; k++) {
        int best = -1;
        for (int i = 0; i < N; i++)
            if (!used[i] && (best < 0 || s[i] > s[best]))
                best = i;
        used[best] = true;
        CHECKF(top[k] == (uint32_t)best, "rank %zu: %u, expected %d", k, top[k], best);
    }
    CHECK_EQ_INT(dense_top(s, 3, 10, top), 3);
    CHECK_EQ_INT(dense_top(s, 0, 10, top), 0);
    CHECK(dense_hash("abc", 3) != dense_hash("abd", 3) && dense_hash("abc", 3) == dense_hash("abc", 3));
}

/* ---- fusion ------------------------------------------------------------------ */

static void test_rrf(void)
{
    /* lex 1 2 3, dense 3 4 1: 1 = 2/11 + 1/13, 3 = 2/13 + 1/11, 2 = 2/12, 4 = 1/12 */
    const int64_t lex[] = {1, 2, 3}, dense[] = {3, 4, 1};
    fuse_item_t *f = NULL;
    size_t n = 0;
    CHECK(fuse_rrf(lex, 3, dense, 3, &f, &n) == 0);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        const int64_t want[] = {1, 3, 2, 4};
        for (int i = 0; i < 4; i++)
            CHECK_EQ_INT(f[i].id, want[i]);
        CHECK(fabs(f[0].score - (FUSE_W_LEX / (FUSE_K + 1) + FUSE_W_DENSE / (FUSE_K + 3))) < 1e-12);
        CHECK(fabs(f[3].score - FUSE_W_DENSE / (FUSE_K + 2)) < 1e-12);
    }
    free(f);
    /* equal fused scores: 40 at BM25 rank 12 and 50 at dense rank 1 both get
     * 1/11 (with the weights 2:1 and k = 10); the better single rank first */
    const int64_t l12[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 40}, d1[] = {50};
    CHECK(fuse_rrf(l12, 12, d1, 1, &f, &n) == 0 && n == 13);
    if (n == 13) {
        CHECK(f[11].score == f[12].score);
        CHECK(f[11].id == 50 && f[12].id == 40);
    }
    free(f);
    const int64_t d2[] = {7, 9};
    /* one ranking empty: the other's order */
    CHECK(fuse_rrf(NULL, 0, d2, 2, &f, &n) == 0 && n == 2 && f[0].id == 7 && f[1].id == 9);
    free(f);
    CHECK(fuse_rrf(NULL, 0, NULL, 0, &f, &n) == 0 && n == 0);
    free(f);
}

static rag_hit_t mk(const char *path, int a, int b, double score)
{
    char buf[4096];
    size_t k = 0;
    for (int l = a; l <= b; l++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%sL%d", l > a ? "\n" : "", l);
    rag_hit_t h = {.path = strdup(path), .lang = strdup("c"), .symbol = strdup("f"), .start = a, .end = b,
                   .score = score, .text = strdup(buf)};
    return h;
}

static void test_merge(void)
{
    rag_hit_t h[6];
    h[0] = mk("a.c", 10, 59, 9);  /* best */
    h[1] = mk("b.c", 10, 59, 8);  /* another file: kept */
    h[2] = mk("a.c", 50, 99, 7);  /* overlaps the best: merged, after it */
    h[3] = mk("a.c", 100, 120, 6); /* next to the merged span, not overlapping: kept */
    h[4] = mk("a.c", 1, 12, 5);   /* overlaps the merged span: merged, before it */
    h[5] = mk("b.c", 59, 70, 4);  /* bridges nothing, overlaps b.c */
    size_t n = 6;
    CHECK(fuse_merge(h, &n) == 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(h[0].path, "a.c");
        CHECK_EQ_INT(h[0].start, 1);
        CHECK_EQ_INT(h[0].end, 99);
        CHECK(h[0].score == 9);
        rag_hit_t want = mk("a.c", 1, 99, 0);
        CHECK_EQ_STR(h[0].text, want.text);
        free(want.path);
        free(want.lang);
        free(want.symbol);
        free(want.text);
        CHECK_EQ_STR(h[1].path, "b.c");
        CHECK_EQ_INT(h[1].start, 10);
        CHECK_EQ_INT(h[1].end, 70);
        CHECK(strstr(h[1].text, "L59\nL60") && !strstr(h[1].text, "L59\nL59"));
        CHECK_EQ_INT(h[2].start, 100);
    }
    /* a later hit that joins two kept ones: both become one */
    rag_hit_t g[3] = {mk("x.c", 1, 10, 3), mk("x.c", 20, 30, 2), mk("x.c", 8, 22, 1)};
    size_t m = 3;
    CHECK(fuse_merge(g, &m) == 0);
    CHECK_EQ_INT(m, 1);
    CHECK(g[0].start == 1 && g[0].end == 30);
    rag_results_t res = {.hits = h, .n = n};
    rag_results_t res2 = {.hits = g, .n = m};
    /* the results own their copies: freed like any */
    rag_hit_t *hh = malloc(n * sizeof *hh), *gg = malloc(m * sizeof *gg);
    memcpy(hh, h, n * sizeof *hh);
    memcpy(gg, g, m * sizeof *gg);
    res.hits = hh;
    res2.hits = gg;
    rag_results_free(&res);
    rag_results_free(&res2);
}

/* ---- on a repository -------------------------------------------------------- */

#define DIM 32

typedef struct fake {
    int calls;
    char seen[64][256]; /* the first bytes of each text embedded */
} fake_t;

/* A bag of words hashed into DIM buckets, where "email", "address" and
 * "parseaddr" share one bucket: a synonym only this encoder knows. */
static int fake_embed(void *ud, rag_embed_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err)
{
    fake_t *f = ud;
    (void)err;
    if (kind == RAG_EMBED_CHUNK) {
        if (f->calls < 64)
            snprintf(f->seen[f->calls], sizeof f->seen[0], "%.*s", (int)(len < 255 ? len : 255), text);
        f->calls++;
    }
    for (int i = 0; i < DIM; i++)
        out[i] = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && !((text[i] | 32) >= 'a' && (text[i] | 32) <= 'z'))
            i++;
        size_t a = i;
        while (i < len && (text[i] | 32) >= 'a' && (text[i] | 32) <= 'z')
            i++;
        if (i == a)
            break;
        size_t n = i - a;
        int b;
        if ((n == 5 && !strncmp(text + a, "email", 5)) || (n == 7 && !strncmp(text + a, "address", 7)) ||
            (n == 9 && !strncmp(text + a, "parseaddr", 9)))
            b = 0;
        else
            b = 1 + (int)((uint64_t)dense_hash(text + a, n) % (DIM - 1));
        out[b] += 1;
    }
    double s = 0;
    for (int k = 0; k < DIM; k++)
        s += out[k] * out[k];
    for (int k = 0; k < DIM; k++)
        out[k] = s > 0 ? (float)(out[k] / sqrt(s)) : 0;
    return 0;
}

static bool seen(const fake_t *f, const char *needle)
{
    for (int i = 0; i < f->calls && i < 64; i++)
        if (strstr(f->seen[i], needle))
            return true;
    return false;
}

static rag_embed_stats_t embed(rag_t *r)
{
    rag_embed_stats_t st = {0};
    errmsg_t err = {0};
    CHECKF(rag_embed(r, NULL, NULL, NULL, &st, &err) == 0, "rag_embed: %s", err.msg);
    return st;
}

static void update(rag_t *r)
{
    errmsg_t err = {0};
    CHECKF(rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "rag_update: %s", err.msg);
}

static const char PY1[] = "def open_file(path):\n    return open(path)\n\n\n"
                          "def close_file(handle):\n    handle.close()\n";
static const char PY1B[] = "def open_file(path, mode):\n    return open(path, mode)\n\n\n"
                           "def close_file(handle):\n    handle.close()\n";
static const char C2[] = "int parseaddr(const char *s)\n{\n    return s[0] == '<';\n}\n";

static void test_incremental_embedding(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/inc", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "rm -rf inc && mkdir inc && cd inc && git init -q ."), 0);
    put(d, "files.py", PY1);
    put(d, "addr.c", C2);
    put(d, "notes.txt", "the release notes of this project\n");
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    update(r);
    size_t ready = 9, total = 9;
    CHECK(rag_embed_status(r, &ready, &total, &err) == 0 && ready == 0 && total == 0); /* no embedder */
    CHECK(rag_embed(r, NULL, NULL, NULL, NULL, &err) == OCT_EINVAL);

    fake_t f = {0};
    rag_embedder_t e = {.embed = fake_embed, .ud = &f, .dim = DIM};
    snprintf(e.model, sizeof e.model, "fake-1");
    rag_set_embedder(r, &e);
    CHECK(rag_embed_status(r, &ready, &total, &err) == 0);
    CHECK_EQ_INT(ready, 0);
    CHECK_EQ_INT(total, 4); /* two functions, one C function, the notes */

    /* lexical while vectors are missing, and it says why */
    rag_results_t res;
    rag_query_info_t info;
    CHECK(rag_query_ex(r, "open_file", 9, 5, RAG_MODE_HYBRID, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_LEXICAL && strstr(info.why, "0 of 4") != NULL);
    rag_results_free(&res);

    rag_embed_stats_t st = embed(r);
    CHECK_EQ_INT(st.embedded, 4);
    CHECK_EQ_INT(f.calls, 4);
    CHECK(st.ready == 4 && st.total == 4 && !st.reset);

    /* the int8 table: one blob of DIM bytes per text, scale = absmax / 127 */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(rag_db_path(r), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT c.hash, v.scale, v.v, f.path FROM vec v JOIN chunks c ON c.hash = v.hash"
                                 " JOIN files f ON f.id = c.file_id",
                             -1, &q, NULL) == SQLITE_OK);
    int rows = 0;
    while (q && sqlite3_step(q) == SQLITE_ROW) {
        CHECK_EQ_INT(sqlite3_column_bytes(q, 2), DIM);
        const int8_t *v = sqlite3_column_blob(q, 2);
        int amax = 0;
        for (int i = 0; i < DIM; i++)
            amax = abs(v[i]) > amax ? abs(v[i]) : amax;
        CHECK_EQ_INT(amax, 127);
        CHECK(sqlite3_column_double(q, 1) > 0 && sqlite3_column_double(q, 1) <= 1.0 / 127 + 1e-9);
        rows++;
    }
    sqlite3_finalize(q);
    CHECK_EQ_INT(rows, 4);

    /* nothing new: nothing embedded */
    f.calls = 0;
    st = embed(r);
    CHECK_EQ_INT(st.embedded, 0);
    CHECK_EQ_INT(f.calls, 0);

    /* hybrid now; the encoder's synonym finds what BM25 cannot */
    CHECK(rag_query_ex(r, "email", 5, 5, RAG_MODE_HYBRID, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_HYBRID && info.ready == 4 && info.total == 4 && info.dense_hits == 4);
    CHECK(res.n >= 1 && !strcmp(res.hits[0].path, "addr.c"));
    rag_results_free(&res);
    CHECK(rag_query_ex(r, "email", 5, 5, RAG_MODE_LEXICAL, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_LEXICAL && res.n == 0);
    rag_results_free(&res);
    /* the encoder alone: its ranking, BM25 not asked */
    CHECK(rag_query_ex(r, "open file", 9, 5, RAG_MODE_DENSE, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_DENSE && info.lex_hits == 0 && info.dense_hits == 4 && res.n >= 1);
    CHECK(res.n >= 1 && !strcmp(res.hits[0].path, "files.py") && res.hits[0].start == 1);
    rag_results_free(&res);

    /* change one function, add a file, remove one */
    put(d, "files.py", PY1B);
    put(d, "more.py", "def shutdown_server(srv):\n    srv.stop()\n");
    CHECK_EQ_INT(sh(d, "rm notes.txt"), 0);
    update(r);
    CHECK(rag_embed_status(r, &ready, &total, &err) == 0);
    CHECK_EQ_INT(total, 4);
    CHECK_EQ_INT(ready, 2); /* close_file and parseaddr keep theirs */
    CHECK(rag_query_ex(r, "email", 5, 5, RAG_MODE_HYBRID, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_LEXICAL);
    rag_results_free(&res);
    f.calls = 0;
    st = embed(r);
    CHECK_EQ_INT(st.embedded, 2);
    CHECK_EQ_INT(f.calls, 2);
    CHECK(seen(&f, "def open_file(path, mode)"));
    CHECK(seen(&f, "def shutdown_server"));
    CHECK(!seen(&f, "close_file") && !seen(&f, "parseaddr"));
    CHECK_EQ_INT(st.removed, 2); /* the old open_file and the notes */
    CHECK(st.ready == 4 && st.total == 4);
    int64_t n_vec = 0;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM vec", -1, &q, NULL) == SQLITE_OK);
    if (q && sqlite3_step(q) == SQLITE_ROW)
        n_vec = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    CHECK_EQ_INT(n_vec, 4);

    /* another encoder: every text again */
    fake_t f2 = {0};
    rag_embedder_t e2 = e;
    e2.ud = &f2;
    snprintf(e2.model, sizeof e2.model, "fake-2");
    rag_set_embedder(r, &e2);
    CHECK(rag_embed_status(r, &ready, &total, &err) == 0 && ready == 0);
    st = embed(r);
    CHECK(st.reset && st.embedded == 4 && f2.calls == 4);

    /* canceled before the first text: nothing embedded, said */
    put(d, "late.py", "def late_function():\n    return 1\n");
    update(r);
    atomic_int cancel = 1;
    CHECK(rag_embed(r, NULL, NULL, &cancel, &st, &err) == OCT_ECANCELED);
    CHECK(st.embedded == 0 && st.ready == 4 && st.total == 5);
    sqlite3_close(db);
    rag_close(r);
}

/* Identical texts in two files share one vector and one embedding. */
static void test_shared_text(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/dup", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "rm -rf dup && mkdir dup && cd dup && git init -q ."), 0);
    put(d, "a.py", "def same_thing():\n    return 7\n");
    put(d, "b.py", "def same_thing():\n    return 7\n");
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    update(r);
    fake_t f = {0};
    rag_embedder_t e = {.embed = fake_embed, .ud = &f, .dim = DIM};
    snprintf(e.model, sizeof e.model, "fake-1");
    rag_set_embedder(r, &e);
    rag_embed_stats_t st = embed(r);
    CHECK(st.embedded == 1 && st.ready == 2 && st.total == 2);
    rag_results_t res;
    rag_query_info_t info;
    CHECK(rag_query_ex(r, "same thing", 10, 5, RAG_MODE_HYBRID, &res, &info, &err) == 0);
    CHECK(info.mode == RAG_MODE_HYBRID && res.n == 2);
    rag_results_free(&res);
    rag_close(r);
}

/* Whether the encoder's best chunk for "open file" is in files.py, asked
 * through a new handle on D's index (so that the vectors are loaded afresh:
 * from PATH.vec when it is current). With every vector zero all scores tie
 * and the lowest chunk id wins: addr.c's, the first path indexed. */
static bool dense_finds_open_file(const char *d, const rag_embedder_t *e)
{
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    errmsg_t err = {0};
    rag_results_t res = {0};
    rag_query_info_t info;
    bool found = false;
    CHECKF(rag_open(&r, &o, &err) == 0, "%s", err.msg);
    if (!r)
        return found;
    rag_set_embedder(r, e);
    CHECKF(rag_query_ex(r, "open file", 9, 5, RAG_MODE_DENSE, &res, &info, &err) == 0, "%s", err.msg);
    CHECK(info.mode == RAG_MODE_DENSE && res.n >= 1);
    found = res.n >= 1 && !strcmp(res.hits[0].path, "files.py");
    CHECK(found || (res.n >= 1 && !strcmp(res.hits[0].path, "addr.c")));
    rag_results_free(&res);
    rag_close(r);
    return found;
}

/* Overwrite LEN bytes at OFF of FILE (from the end when OFF < 0). */
static void poke(const char *file, long off, const void *bytes, size_t len)
{
    FILE *f = fopen(file, "r+b");
    CHECKF(f != NULL, "%s: %s", file, strerror(errno));
    if (!f)
        return;
    CHECK(fseek(f, off, off < 0 ? SEEK_END : SEEK_SET) == 0);
    CHECK(fwrite(bytes, 1, len, f) == len);
    fclose(f);
}

/* The vectors are mapped from PATH.vec while the index is at the gen the
 * file was made at; a changed index, a truncated or damaged file are not
 * trusted: the vectors come from SQLite again, and the file is made anew. */
static void test_vec_file(void)
{
    char d[512], vf[1200];
    snprintf(d, sizeof d, "%s/vecfile", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "rm -rf vecfile && mkdir vecfile && cd vecfile && git init -q ."), 0);
    put(d, "files.py", PY1);
    put(d, "addr.c", C2);
    put(d, "notes.txt", "the release notes of this project\n");
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    snprintf(vf, sizeof vf, "%s.vec", rag_db_path(r));
    update(r);
    fake_t f = {0};
    rag_embedder_t e = {.embed = fake_embed, .ud = &f, .dim = DIM};
    snprintf(e.model, sizeof e.model, "fake-1");
    rag_set_embedder(r, &e);
    embed(r); /* its count of the vectors loads them, and writes the file */
    struct stat st;
    CHECKF(stat(vf, &st) == 0, "%s: %s", vf, strerror(errno));
    /* 4 chunks, 4 vectors: the file ends with the 4 x DIM int8 vectors */
    long size = (long)st.st_size, nv = 4, nc = 4;
    CHECK(dense_finds_open_file(d, &e));

    /* the file is what a new process reads: its vectors zeroed, every dense
     * score ties */
    int8_t zero[4 * DIM] = {0};
    poke(vf, -(long)sizeof zero, zero, sizeof zero);
    CHECK(!dense_finds_open_file(d, &e));

    /* an edit renews the gen: the stale file is ignored and made again */
    put(d, "notes.txt", "the release notes of this project, second edition\n");
    update(r);
    embed(r);
    CHECK(dense_finds_open_file(d, &e));
    CHECK(stat(vf, &st) == 0 && (long)st.st_size == size);
    poke(vf, -(long)sizeof zero, zero, sizeof zero); /* this one is read again */
    CHECK(!dense_finds_open_file(d, &e));

    /* a chunk pointing past the vectors (damage), then a truncated file */
    put(d, "notes.txt", "the release notes of this project, third edition\n");
    update(r);
    embed(r);
    CHECK(dense_finds_open_file(d, &e));
    uint32_t bad = 1000;
    poke(vf, size - nv * DIM - nv * 4 - nc * 4, &bad, sizeof bad);
    CHECK(dense_finds_open_file(d, &e));
    CHECK(truncate(vf, size - 1) == 0);
    CHECK(dense_finds_open_file(d, &e));
    CHECK(stat(vf, &st) == 0 && (long)st.st_size == size); /* written whole again */

    /* what a writer that died left (PATH.vec.XXXXXX) goes with the next
     * write once over a minute old; a younger one may be a live writer's */
    char stale[1300], young[1300];
    snprintf(stale, sizeof stale, "%s.Ab12Cd", vf);
    snprintf(young, sizeof young, "%s.Ef34Gh", vf);
    FILE *tf = fopen(stale, "w");
    CHECK(tf != NULL && fclose(tf) == 0);
    tf = fopen(young, "w");
    CHECK(tf != NULL && fclose(tf) == 0);
    struct timespec old_t[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
    CHECK(utimensat(AT_FDCWD, stale, old_t, 0) == 0);
    put(d, "notes.txt", "the release notes of this project, fourth edition\n");
    update(r);
    embed(r);
    CHECK(dense_finds_open_file(d, &e));
    CHECK(access(stale, F_OK) != 0 && errno == ENOENT);
    CHECK(access(young, F_OK) == 0);
    unlink(young);
    rag_close(r);
}

int main(void)
{
    if (sh_test_home(g_tmp, sizeof g_tmp, "octet-test-hybrid") != 0)
        return 1;
    TEST_RUN(test_quantize_and_scan);
    TEST_RUN(test_top);
    TEST_RUN(test_rrf);
    TEST_RUN(test_merge);
    TEST_RUN(test_incremental_embedding);
    TEST_RUN(test_shared_text);
    TEST_RUN(test_vec_file);
    sh("/tmp", "rm -rf '%s'", g_tmp);
    TEST_END();
}
