/* test_rag_rank.c - rag_bm25, the ranking of rag's query (search.c): for
 * queries matching many rows, its best K rows, their order and their scores
 * are bm25()'s to the bit, for K from 1 to more than the rows; it skips
 * reading the length of rows that cannot be among the K best (the reason it
 * exists); and it reports the index's average row length. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "rag.h"
#include "rag_int.h"
#include "test.h"
#include "test_repo.h"

#define MAX_ROWS 2000

typedef struct ranked {
    int64_t id[MAX_ROWS];
    double s[MAX_ROWS];
    int n;
} ranked_t;

static void run(sqlite3 *db, const char *sql, const char *match, int k, double *avgdl, ranked_t *out)
{
    sqlite3_stmt *st = NULL;
    out->n = 0;
    CHECKF(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    sqlite3_bind_pointer(st, 3, avgdl, "rag_avgdl", NULL);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && out->n < MAX_ROWS) {
        out->id[out->n] = sqlite3_column_int64(st, 0);
        out->s[out->n] = sqlite3_column_double(st, 1);
        out->n++;
    }
    CHECKF(s == SQLITE_DONE, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* 400 files of words drawn from a small vocabulary, of many lengths, some
 * with a symbol or a path holding a query word: thousands of rows match
 * each query, with scores of every size and ties. */
static void make_repo(void)
{
    static const char *const words[] = {"parse", "email", "address", "config", "value", "token", "reader",
                                        "buffer", "socket", "header", "list", "item"};
    repo_dir("rank");
    uint32_t x = 12345;
    for (int f = 0; f < 400; f++) {
        char path[64], text[8192];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/m%03d.py", words[f % 12], f);
        int defs = 1 + f % 5;
        for (int d = 0; d < defs; d++) {
            n += (size_t)snprintf(text + n, sizeof text - n, "def %s_%d(x):\n    \"\"\"", words[(f + d) % 12], d);
            x = x * 1103515245u + 12345u;
            int len = 2 + (int)(x >> 16) % 60;
            for (int w = 0; w < len; w++) {
                x = x * 1103515245u + 12345u;
                n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", w ? " " : "", words[(x >> 16) % 12]);
            }
            n += (size_t)snprintf(text + n, sizeof text - n, "\"\"\"\n    return x\n\n\n");
        }
        put(path, text);
    }
    repo_commit();
}

static void test_rank_equals_bm25(void)
{
    make_repo();
    rag_options_t o = {.dir = g_repo};
    rag_t *r = NULL;
    errmsg_t e = {0};
    CHECKF(rag_open(&r, &o, &e) == 0, "%s", e.msg);
    if (!r)
        return;
    CHECKF(rag_update(r, NULL, NULL, NULL, NULL, &e) == 0, "%s", e.msg);
    static const char *const queries[] = {
        "\"parse\" OR \"email\" OR \"address\" OR \"parse email\" OR \"email address\"",
        "\"config\" OR \"value\"",
        "\"socket\"",
        "\"header\" OR \"list item\" OR \"reader\" OR \"buffer\" OR \"token\"",
    };
    static const int ks[] = {1, 5, 20, 100, MAX_ROWS};
    static ranked_t a, b;
    int skipped = 0;
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            double avgdl = 0;
            run(r->rdb, "SELECT rowid, bm25(fts, 2.0, 4.0, 1.0, 1.0) AS s FROM fts WHERE fts MATCH ?1"
                        " ORDER BY s LIMIT ?2", queries[q], ks[i], NULL, &a);
            run(r->rdb, "SELECT rowid, rag_bm25(fts, ?2, ?3, 2.0, 4.0, 1.0, 1.0) AS s FROM fts WHERE fts MATCH ?1"
                        " ORDER BY s LIMIT ?2", queries[q], ks[i], &avgdl, &b);
            CHECKF(a.n == b.n && a.n == (ks[i] < 300 ? ks[i] : a.n), "%s, K %d: %d and %d rows", queries[q], ks[i],
                   a.n, b.n);
            int same = a.n == b.n;
            for (int j = 0; same && j < a.n; j++)
                same = a.id[j] == b.id[j] && memcmp(&a.s[j], &b.s[j], sizeof a.s[j]) == 0;
            CHECKF(same, "%s, K %d: not bm25()'s ranking", queries[q], ks[i]);
            CHECK(avgdl > 1 && isfinite(avgdl));
        }
        /* the same rows unsorted: how many were never scored */
        run(r->rdb, "SELECT rowid, rag_bm25(fts, ?2, ?3, 2.0, 4.0, 1.0, 1.0) FROM fts WHERE fts MATCH ?1",
            queries[q], 5, NULL, &b);
        for (int j = 0; j < b.n; j++)
            skipped += b.s[j] == 1.0;
        CHECK(b.n > 200);
    }
    CHECKF(skipped > 0, "rag_bm25 read the length of every row");
    /* the average row length is the index's: its tokens over its rows */
    double avgdl = 0, want = 0;
    ranked_t *c = &a;
    run(r->rdb, "SELECT rowid, rag_bm25(fts, 1, ?3) FROM fts WHERE fts MATCH ?1", "\"socket\"", 1, &avgdl, c);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(r->rdb, "SELECT (SELECT sum(cnt) FROM temp.vocab), (SELECT count(*) FROM chunks)", -1,
                             &st, NULL) == SQLITE_OK);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        want = (double)sqlite3_column_int64(st, 0) / (double)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    CHECKF(avgdl == want, "average row length %f, expected %f", avgdl, want);
    rag_close(r);
    sh("rm -rf '%s'", g_repo);
}

int main(void)
{
    TEST_RUN(test_rank_equals_bm25);
    TEST_END();
}
