/* search.c - the query of the index (rag_query, see rag.h): the prompt's
 * terms chosen by document frequency, the FTS5 candidates, the common
 * words scored on them and the symbol boost (BM25); in hybrid mode the
 * dense ranking of vec.c fused with it (fuse.c); the hits in order, those
 * overlapping a better one merged into it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chunk.h"
#include "fuse.h"
#include "query.h"
#include "rag.h"
#include "rag_int.h"
#include "sb.h"
#include "store.h"
#include "walk.h"
#include "words.h"

/* BM25 column weights (path, symbol, words, text), and how many candidates
 * FTS5 returns for the common words' scores and the symbol boost to reorder
 * (at least; 4 times the hits asked for). Chosen with
 * tools/bench/rag_quality.py (docs/retrieval.md). */
#define W_PATH 2.0
#define W_SYMBOL 4.0
#define W_WORDS 1.0
#define W_TEXT 1.0
#define RERANK_MIN 100

/* Query words found in more than this share of the chunks (and more than
 * DF_FLOOR chunks) are not given to FTS5, keeping at least KEEP_MIN terms:
 * they would make it score most of the index. They are scored on the
 * candidates instead (rescore), as BM25 would (docs/retrieval.md). */
#define DF_CUT 0.02
#define DF_FLOOR 500
#define KEEP_MIN 3

/* ---- ranking ----------------------------------------------------------- */

/* rag_bm25(fts, K, AVGDL, w0, w1, w2, w3), an FTS5 auxiliary function:
 * FTS5's bm25(fts, w0, w1, w2, w3) for every row that can be among the K
 * best, computed as bm25() computes it and so the same double; RANK_OUT for
 * the others, which sorts after them all in ORDER BY ... LIMIT K. AVGDL is
 * a double * bound with sqlite3_bind_pointer (type RANK_AVGDL): it receives
 * the index's average row length, which the rescoring of common words
 * needs too.
 *
 * Why: bm25() reads each matching row's length in tokens from fts_docsize
 * through an SQL statement, most of a query's time when thousands of rows
 * hold a term (docs/BENCHMARKS.md, "Fifth pass"). A row's score only falls
 * as its length D grows, and D is at least the number of times any one
 * phrase occurs in it, so the score with that D bounds the row's; a row
 * whose bound is below the K-th best score found so far cannot be among the
 * K best, and its length is never read. The bound is computed with the same
 * operations as the score, each monotonic in D under rounding, so it holds
 * for the doubles too; the rows kept and their order are bm25()'s. */
#define RANK_OUT 1.0 /* every real score is negative */
#define RANK_AVGDL "rag_avgdl"
#define RANK_ARGS 2 /* before the weights */

typedef struct rank {
    int n_phrase, n_col;
    double avgdl;
    double *idf, *freq, *w; /* per phrase, per phrase, per column */
    int *count;             /* instances of each phrase in the row */
    double *heap;           /* min-heap of the K best scores so far */
    size_t k, n;
    int64_t last; /* the row last pushed, should SQLite ask twice */
} rank_t;

static int rank_count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
    (void)api;
    (void)fts;
    (*(int64_t *)ctx)++;
    return SQLITE_OK;
}

/* The query's constants, as bm25() finds them: the average row length and
 * each phrase's IDF (with FTS5's floor for phrases in over half the rows). */
static int rank_start(const Fts5ExtensionApi *api, Fts5Context *fts, int nval, sqlite3_value **val, rank_t **out)
{
    int np = api->xPhraseCount(fts), nc = api->xColumnCount(fts);
    size_t k = nval > 0 && sqlite3_value_int64(val[0]) > 0 ? (size_t)sqlite3_value_int64(val[0]) : 0;
    double *avgdl = nval > 1 ? sqlite3_value_pointer(val[1], RANK_AVGDL) : NULL;
    size_t doubles = 2 * (size_t)np + (size_t)nc + k;
    rank_t *p = calloc(1, sizeof *p + doubles * sizeof(double) + (size_t)np * sizeof(int));
    if (!p)
        return SQLITE_NOMEM;
    p->n_phrase = np;
    p->n_col = nc;
    p->k = k;
    p->last = INT64_MIN;
    p->idf = (double *)(p + 1);
    p->freq = p->idf + np;
    p->w = p->freq + np;
    p->heap = p->w + nc;
    p->count = (int *)(p->heap + k);
    for (int c = 0; c < nc; c++)
        p->w[c] = nval > c + RANK_ARGS ? sqlite3_value_double(val[c + RANK_ARGS]) : 1.0;
    sqlite3_int64 rows = 0, toks = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, -1, &toks);
    p->avgdl = (double)toks / (double)rows;
    if (avgdl)
        *avgdl = p->avgdl;
    for (int i = 0; rc == SQLITE_OK && i < np; i++) {
        int64_t hits = 0;
        rc = api->xQueryPhrase(fts, i, &hits, rank_count_cb);
        if (rc == SQLITE_OK) {
            double idf = log((rows - hits + 0.5) / (hits + 0.5));
            p->idf[i] = idf <= 0.0 ? 1e-6 : idf;
        }
    }
    if (rc == SQLITE_OK)
        rc = api->xSetAuxdata(fts, p, free);
    else
        free(p);
    *out = rc == SQLITE_OK ? p : NULL;
    return rc;
}

/* BM25 of the row whose phrase frequencies are in P, were it D tokens long:
 * bm25()'s expression, term for term (k1 = 1.2, b = 0.75). */
static double rank_score(const rank_t *p, double d)
{
    const double k1 = 1.2, b = 0.75;
    double score = 0.0;
    for (int i = 0; i < p->n_phrase; i++)
        score += p->idf[i] * ((p->freq[i] * (k1 + 1.0)) / (p->freq[i] + k1 * (1 - b + b * d / p->avgdl)));
    return score;
}

static void rank_push(rank_t *p, double s)
{
    size_t i;
    if (p->n < p->k) {
        i = p->n++;
        while (i > 0 && p->heap[(i - 1) / 2] > s) {
            p->heap[i] = p->heap[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        p->heap[i] = s;
        return;
    }
    if (s <= p->heap[0])
        return;
    i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->n)
            break;
        if (c + 1 < p->n && p->heap[c + 1] < p->heap[c])
            c++;
        if (p->heap[c] >= s)
            break;
        p->heap[i] = p->heap[c];
        i = c;
    }
    p->heap[i] = s;
}

void rank_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    rank_t *p = api->xGetAuxdata(fts, 0);
    int n_inst = 0, rc = p ? SQLITE_OK : rank_start(api, fts, nval, val, &p);
    if (rc == SQLITE_OK) {
        memset(p->freq, 0, (size_t)p->n_phrase * sizeof *p->freq);
        memset(p->count, 0, (size_t)p->n_phrase * sizeof *p->count);
        rc = api->xInstCount(fts, &n_inst);
    }
    for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ip >= 0 && ip < p->n_phrase && ic >= 0 && ic < p->n_col) {
            p->freq[ip] += p->w[ic];
            p->count[ip]++;
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    if (p->k && p->n == p->k) {
        int least = 0;
        for (int i = 0; i < p->n_phrase; i++)
            if (p->count[i] > least)
                least = p->count[i];
        if (rank_score(p, (double)least) < p->heap[0]) {
            sqlite3_result_double(ctx, RANK_OUT);
            return;
        }
    }
    int n_tok = 0;
    rc = api->xColumnSize(fts, -1, &n_tok);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double s = rank_score(p, (double)n_tok);
    int64_t row = api->xRowid(fts);
    if (row != p->last) {
        rank_push(p, s);
        p->last = row;
    }
    sqlite3_result_double(ctx, -1.0 * s);
}

/* ---- query ------------------------------------------------------------- */

typedef struct cand {
    int64_t id;
    double score;
    int start, end;
    char *path, *lang, *symbol, *text;
} cand_t;

static int by_score(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    char *s = strdup((const char *)t);
    if (!s)
        *oom = true;
    return s;
}

int query_fail(rag_t *r, errmsg_t *err)
{
    int code = sqlite3_extended_errcode(r->rdb);
    if (is_corrupt(code)) {
        atomic_store(&r->corrupt, true);
        return errmsg_set(err, OCT_EFORMAT, "%s: the index is corrupt (%s); the next update rebuilds it",
                          r->db_path, sqlite3_errmsg(r->rdb));
    }
    return errmsg_set(err, OCT_EINTERNAL, "%s: query failed: %s", r->db_path, sqlite3_errmsg(r->rdb));
}

typedef struct stems {
    char tok[8][WORDS_MAX_LEN + 1];
    int n;
} stems_t;

static int stem_cb(void *ctx, int flags, const char *tok, int len, int start, int end)
{
    (void)flags;
    (void)start;
    (void)end;
    stems_t *s = ctx;
    if (s->n < 8 && len > 0 && len <= WORDS_MAX_LEN) {
        memcpy(s->tok[s->n], tok, (size_t)len);
        s->tok[s->n][len] = '\0';
        s->n++;
    }
    return SQLITE_OK;
}

#define MAX_COMMON 16

typedef struct common {
    char stem[WORDS_MAX_LEN + 1];
    size_t len;
    int64_t df;
} common_t;

/* How a query is run: which terms FTS5 searches for (keep), which common
 * words are only scored on the candidates found. */
typedef struct qplan {
    bool *keep;
    char (*stem)[WORDS_MAX_LEN + 1]; /* each term's index term, "" for phrases */
    common_t common[MAX_COMMON];
    size_t n_common;
    int64_t n_chunks;
} qplan_t;

/* Which terms of Q to search for: those held by few enough chunks (see
 * DF_CUT), at least KEEP_MIN of the rarest, never one absent from the index;
 * the other words present in the index become PLAN's common words.
 * Returns 0 or OCT_E* (with the read lock held). */
static int choose_terms(rag_t *r, const query_t *q, qplan_t *plan, errmsg_t *err)
{
    bool *keep = plan->keep;
    int64_t n_chunks = 0;
    int64_t *df = calloc(q->n_terms ? q->n_terms : 1, sizeof *df);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (!df)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (query_int(r->rdb, "SELECT value FROM meta WHERE key = 'chunks'", &n_chunks) != SQLITE_OK ||
        sqlite3_prepare_v2(r->rdb, "SELECT doc FROM temp.vocab WHERE term = ?1", -1, &st, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    for (size_t i = 0; i < q->n_terms; i++) {
        stems_t s = {.n = 0};
        const char *t = q->terms[i].text;
        r->stem_api.xTokenize(r->stemmer, &s, FTS5_TOKENIZE_QUERY, t, (int)strlen(t), stem_cb);
        int64_t best = -1;
        for (int j = 0; j < s.n; j++) {
            sqlite3_bind_text(st, 1, s.tok[j], -1, SQLITE_STATIC);
            int64_t d = 0;
            int x = sqlite3_step(st);
            if (x == SQLITE_ROW)
                d = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
            if (x != SQLITE_ROW && x != SQLITE_DONE) {
                rc = query_fail(r, err);
                goto done;
            }
            if (best < 0 || d < best)
                best = d; /* a phrase is at most as frequent as its rarest word */
        }
        df[i] = best < 0 ? 0 : best;
        if (s.n == 1 && !q->terms[i].phrase)
            snprintf(plan->stem[i], sizeof plan->stem[i], "%s", s.tok[0]);
    }
    plan->n_chunks = n_chunks;
    double cut = DF_CUT * (double)n_chunks;
    if (cut < DF_FLOOR)
        cut = DF_FLOOR;
    size_t kept = 0;
    for (size_t i = 0; i < q->n_terms; i++) {
        keep[i] = df[i] > 0 && (double)df[i] <= cut;
        kept += keep[i] && !q->terms[i].phrase;
    }
    while (kept < KEEP_MIN) { /* only common words: search the rarest of them */
        size_t best = q->n_terms;
        for (size_t i = 0; i < q->n_terms; i++)
            if (!keep[i] && !q->terms[i].phrase && df[i] > 0 && (best == q->n_terms || df[i] < df[best]))
                best = i;
        if (best == q->n_terms)
            break;
        keep[best] = true;
        kept++;
    }
    /* the common words left out are scored on the candidates (rescore) */
    for (size_t i = 0; i < q->n_terms && plan->n_common < MAX_COMMON; i++) {
        if (keep[i] || q->terms[i].phrase || df[i] == 0 || !plan->stem[i][0])
            continue;
        common_t *c = &plan->common[plan->n_common++];
        snprintf(c->stem, sizeof c->stem, "%s", plan->stem[i]);
        c->len = strlen(c->stem);
        c->df = df[i];
    }
done:
    sqlite3_finalize(st);
    free(df);
    return rc;
}

typedef struct tfctx {
    const qplan_t *plan;
    double w;    /* weight of the column being read */
    double *f;   /* weighted frequency of each common word */
    int64_t dl;  /* tokens in the row */
} tfctx_t;

static int tf_cb(void *ctx, int flags, const char *tok, int len, int start, int end)
{
    (void)start;
    (void)end;
    tfctx_t *t = ctx;
    if (flags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    t->dl++;
    for (size_t i = 0; i < t->plan->n_common; i++)
        if ((size_t)len == t->plan->common[i].len && !memcmp(tok, t->plan->common[i].stem, (size_t)len))
            t->f[i] += t->w;
    return SQLITE_OK;
}

/* BM25 of the common words in a candidate row, as FTS5's bm25() would add
 * it had they been searched for: k1 = 1.2, b = 0.75, column weights, the
 * index's average row length AVGDL. COLS are the row's four columns. */
static double rescore(rag_t *r, const qplan_t *plan, const char *const cols[4], double avgdl)
{
    static const double W[4] = {W_PATH, W_SYMBOL, W_WORDS, W_TEXT};
    double f[MAX_COMMON] = {0};
    tfctx_t t = {.plan = plan, .f = f};
    for (int c = 0; c < 4; c++) {
        if (!cols[c])
            continue;
        t.w = W[c];
        r->stem_api.xTokenize(r->stemmer, &t, FTS5_TOKENIZE_DOCUMENT, cols[c], (int)strlen(cols[c]), tf_cb);
    }
    const double k1 = 1.2, b = 0.75;
    double n = (double)plan->n_chunks, score = 0;
    if (avgdl <= 0)
        avgdl = 1;
    for (size_t i = 0; i < plan->n_common; i++) {
        if (f[i] == 0)
            continue;
        double df = (double)plan->common[i].df;
        double idf = log((n - df + 0.5) / (df + 0.5));
        if (idf <= 0)
            idf = 1e-6;
        score += idf * f[i] * (k1 + 1) / (f[i] + k1 * (1 - b + b * (double)t.dl / avgdl));
    }
    return score;
}

/* The statement that reads a candidate's row: its text straight from
 * chunks.ztext (the fts table would make its view decompress it twice and
 * compute the columns a rescore may not need). */
typedef struct rows {
    sqlite3_stmt *meta;
} rows_t;

static int rows_prepare(rag_t *r, rows_t *rs, errmsg_t *err)
{
    if (sqlite3_prepare_v2(r->rdb,
                           "SELECT c.start_line, c.end_line, c.symbol, f.path, f.lang, rag_unzip(c.ztext)"
                           " FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = ?1",
                           -1, &rs->meta, NULL) != SQLITE_OK)
        return query_fail(r, err);
    return 0;
}

static void rows_finalize(rows_t *rs)
{
    sqlite3_finalize(rs->meta);
}

/* Add to C's score the BM25 of PLAN's common words in its four columns,
 * made as the index made them (store.c). */
static void rescore_cand(rag_t *r, cand_t *c, const qplan_t *plan, double avgdl, bool *oom)
{
    sbuf_t pcol = {0}, scol = {0}, wcol = {0};
    store_name_col(&pcol, c->path, strlen(c->path));
    if (c->symbol)
        store_name_col(&scol, c->symbol, strlen(c->symbol));
    store_split_words(&wcol, c->text, strlen(c->text));
    if (pcol.oom || scol.oom || wcol.oom) {
        *oom = true;
    } else {
        const char *cols[4] = {pcol.s ? pcol.s : "", scol.s ? scol.s : "", wcol.s ? wcol.s : "", c->text};
        c->score += rescore(r, plan, cols, avgdl);
    }
    free(pcol.s);
    free(scol.s);
    free(wcol.s);
}

/* Read C's lines, symbol, file and text; with PLAN's common words, add
 * their BM25 to its score (AVGDL: the index's average row length). A chunk
 * gone meanwhile keeps a NULL path (skipped later). */
static int rows_read(rag_t *r, rows_t *rs, cand_t *c, const qplan_t *plan, double avgdl, bool *oom, errmsg_t *err)
{
    sqlite3_bind_int64(rs->meta, 1, c->id);
    int s = sqlite3_step(rs->meta);
    if (s == SQLITE_ROW) {
        c->start = sqlite3_column_int(rs->meta, 0);
        c->end = sqlite3_column_int(rs->meta, 1);
        c->symbol = col_dup(rs->meta, 2, oom);
        c->path = col_dup(rs->meta, 3, oom);
        c->lang = col_dup(rs->meta, 4, oom);
        c->text = col_dup(rs->meta, 5, oom);
    }
    sqlite3_reset(rs->meta);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return query_fail(r, err);
    if (s == SQLITE_ROW && c->path && c->text && plan && plan->n_common)
        rescore_cand(r, c, plan, avgdl, oom);
    return 0;
}

static void cands_free(cand_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].path);
        free(c[i].lang);
        free(c[i].symbol);
        free(c[i].text);
    }
    free(c);
}

/* The BM25 ranking of Q: up to WANT candidates with their rows, best
 * first, in *OUT (*N). rmu held. */
static int lexical(rag_t *r, const query_t *q, size_t want, rows_t *rs, cand_t **out, size_t *n, errmsg_t *err)
{
    qplan_t plan = {0};
    char *fts = NULL;
    cand_t *cands = NULL;
    size_t nc = 0;
    sqlite3_stmt *match = NULL;
    bool oom = false;
    int rc = 0;
    *out = NULL;
    *n = 0;
    plan.keep = calloc(q->n_terms ? q->n_terms : 1, sizeof *plan.keep);
    plan.stem = calloc(q->n_terms ? q->n_terms : 1, sizeof *plan.stem);
    if (!plan.keep || !plan.stem) {
        oom = true;
        goto done;
    }
    if (q->n_terms == 0 || (rc = choose_terms(r, q, &plan, err)))
        goto done;
    fts = query_fts(q, plan.keep, &oom);
    if (!fts)
        goto done; /* no term of the prompt is in the index */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT rowid, rag_bm25(fts, ?2, ?3, %.2f, %.2f, %.2f, %.2f) AS s FROM fts"
             " WHERE fts MATCH ?1 ORDER BY s LIMIT ?2",
             W_PATH, W_SYMBOL, W_WORDS, W_TEXT);
    if (sqlite3_prepare_v2(r->rdb, sql, -1, &match, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    cands = calloc(want, sizeof *cands);
    if (!cands) {
        oom = true;
        goto done;
    }
    sqlite3_bind_text(match, 1, fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(match, 2, (sqlite3_int64)want);
    double avgdl = 1;
    sqlite3_bind_pointer(match, 3, &avgdl, RANK_AVGDL, NULL);
    int s;
    while ((s = sqlite3_step(match)) == SQLITE_ROW && nc < want) {
        cands[nc].id = sqlite3_column_int64(match, 0);
        cands[nc].score = -sqlite3_column_double(match, 1);
        nc++;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
        rc = query_fail(r, err);
        goto done;
    }
    for (size_t i = 0; i < nc && !oom && !rc; i++) {
        rc = rows_read(r, rs, &cands[i], &plan, avgdl, &oom, err);
        cands[i].score *= query_symbol_boost(q, cands[i].symbol);
    }
    if (!rc && !oom && nc > 1)
        qsort(cands, nc, sizeof *cands, by_score);
done:
    sqlite3_finalize(match);
    free(plan.keep);
    free(plan.stem);
    free(fts);
    if (oom && !rc)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading results");
    if (rc) {
        cands_free(cands, nc);
        return rc;
    }
    *out = cands;
    *n = nc;
    return 0;
}

/* The fused order of LEX (*NC candidates) and the dense ranking DENSE
 * (N_DENSE ids): *CANDS becomes the fused list, each with its fused score
 * and its rows (read for the chunks only the dense ranking found). */
static int fuse(rag_t *r, rows_t *rs, cand_t **cands, size_t *nc, const int64_t *dense, size_t n_dense,
                errmsg_t *err)
{
    int64_t *lex = malloc((*nc ? *nc : 1) * sizeof *lex);
    fuse_item_t *f = NULL;
    size_t nf = 0;
    cand_t *out = NULL;
    bool oom = false;
    int rc = 0;
    if (!lex)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    for (size_t i = 0; i < *nc; i++)
        lex[i] = (*cands)[i].id;
    if (fuse_rrf(lex, *nc, dense, n_dense, &f, &nf) || !(out = calloc(nf ? nf : 1, sizeof *out))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nf && !rc && !oom; i++) {
        out[i].id = f[i].id;
        size_t j = 0;
        while (j < *nc && (*cands)[j].id != f[i].id)
            j++;
        if (j < *nc) { /* a BM25 candidate: its rows are read already */
            out[i] = (*cands)[j];
            memset(&(*cands)[j], 0, sizeof (*cands)[j]);
        } else {
            rc = rows_read(r, rs, &out[i], NULL, 1, &oom, err);
        }
        out[i].id = f[i].id;
        out[i].score = f[i].score;
    }
    if (oom && !rc)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading results");
done:
    free(lex);
    free(f);
    if (rc) {
        cands_free(out, nf);
        return rc;
    }
    cands_free(*cands, *nc);
    *cands = out;
    *nc = nf;
    return 0;
}

int rag_query_ex(rag_t *r, const char *prompt, size_t len, size_t k, rag_mode_t want, rag_results_t *out,
                 rag_query_info_t *info_out, errmsg_t *err)
{
    memset(out, 0, sizeof *out);
    rag_query_info_t info = {.mode = RAG_MODE_LEXICAL};
    query_t q;
    cand_t *cands = NULL;
    rows_t rs = {0};
    size_t nc = 0;
    int64_t *dense = NULL;
    size_t n_dense = 0;
    float *qv = NULL;
    bool oom = false, hybrid = false, q_built = false, lexical_only = want == RAG_MODE_LEXICAL;
    int rc = 0;
    if (k == 0 || !prompt || len == 0)
        goto out;
    if (k > RAG_MAX_HITS)
        k = RAG_MAX_HITS;
    if (query_build(prompt, len, &q) != 0) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory building the query");
        goto out;
    }
    q_built = true;
    /* candidates beyond K: the merging of overlapping hits and the fusion need them */
    size_t n_cand = k * 4 > RERANK_MIN ? k * 4 : RERANK_MIN;
    pthread_mutex_lock(&r->rmu);
    if (!r->rdb || !r->stemmer) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        goto done;
    }
    if (!lexical_only && !r->have_emb)
        snprintf(info.why, sizeof info.why, "no retrieval encoder");
    if (!lexical_only && r->have_emb) {
        if ((rc = vec_refresh(r, err)))
            goto done;
        info.ready = r->dc.total - r->dc.missing;
        info.total = r->dc.total;
        info.load_ms = r->dc.load_ms;
        hybrid = r->dc.missing == 0 && r->dc.total > 0;
        if (!hybrid)
            snprintf(info.why, sizeof info.why, "%zu of %zu chunks have their vector (octet index makes them)",
                     info.ready, info.total);
    }
    if ((rc = rows_prepare(r, &rs, err)))
        goto done;
    /* BM25 before the query's vector, which a front end may be making
     * meanwhile on another thread (encoder_prefetch) */
    bool lex_done = !(hybrid && want == RAG_MODE_DENSE);
    if (lex_done && (rc = lexical(r, &q, n_cand, &rs, &cands, &nc, err)))
        goto done;
    if (hybrid) {
        errmsg_t eerr = {0};
        double t0 = now_s();
        qv = malloc(r->emb.dim * sizeof *qv);
        if (!qv) {
            oom = true;
            goto done;
        }
        if (r->emb.embed(r->emb.ud, RAG_EMBED_QUERY, prompt, len, qv, &eerr)) {
            /* retrieval still answers, as it would without an encoder */
            hybrid = false;
            snprintf(info.why, sizeof info.why, "the encoder failed: %.120s", eerr.msg);
        }
        info.embed_ms = (now_s() - t0) * 1e3;
    }
    if (!hybrid && !lex_done && (rc = lexical(r, &q, n_cand, &rs, &cands, &nc, err)))
        goto done;
    info.lex_hits = nc;
    if (hybrid) {
        double t0 = now_s();
        if ((rc = vec_search(r, qv, n_cand, &dense, &n_dense, err)))
            goto done;
        info.scan_ms = (now_s() - t0) * 1e3;
        info.dense_hits = n_dense;
        /* dense alone is the fusion of one ranking: its order, its rows read */
        if ((rc = fuse(r, &rs, &cands, &nc, dense, n_dense, err)))
            goto done;
        info.mode = want == RAG_MODE_DENSE ? RAG_MODE_DENSE : RAG_MODE_HYBRID;
    }
    out->hits = calloc(nc ? nc : 1, sizeof *out->hits);
    if (!out->hits) {
        oom = true;
        goto done;
    }
    for (size_t i = 0; i < nc; i++) {
        cand_t *c = &cands[i];
        if (!c->path)
            continue; /* a chunk row without its file: skip it */
        rag_hit_t *h = &out->hits[out->n++];
        h->path = c->path;
        h->lang = c->lang;
        h->symbol = c->symbol;
        h->text = c->text ? c->text : strdup("");
        c->path = c->lang = c->symbol = c->text = NULL;
        h->start = c->start;
        h->end = c->end;
        h->score = c->score;
        if (!h->text)
            oom = true;
    }
    if (oom)
        goto done;
    size_t before = out->n;
    if (fuse_merge(out->hits, &out->n)) {
        oom = true;
        goto done;
    }
    info.merged = before - out->n;
    /* the hits past K */
    for (size_t i = k; i < out->n; i++) {
        free(out->hits[i].path);
        free(out->hits[i].lang);
        free(out->hits[i].symbol);
        free(out->hits[i].text);
    }
    if (out->n > k)
        out->n = k;
done:
    rows_finalize(&rs);
    pthread_mutex_unlock(&r->rmu);
    cands_free(cands, nc);
    free(dense);
    free(qv);
    if (oom && !rc)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading results");
    if (rc)
        rag_results_free(out);
out:
    if (q_built)
        query_free(&q);
    if (info_out)
        *info_out = info;
    return rc;
}

int rag_query(rag_t *r, const char *prompt, size_t len, size_t k, rag_results_t *out, errmsg_t *err)
{
    return rag_query_ex(r, prompt, len, k, false, out, NULL, err);
}

void rag_results_free(rag_results_t *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n; i++) {
        free(res->hits[i].path);
        free(res->hits[i].lang);
        free(res->hits[i].symbol);
        free(res->hits[i].text);
    }
    free(res->hits);
    res->hits = NULL;
    res->n = 0;
}
