/* test_rag_query.c - rag/'s query builder (prompt to safe FTS5 query, the
 * symbol boost) and the context packer (budget, merging, formatting). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "rag.h"
#include "test.h"

static char *fts_of(const char *prompt, size_t len)
{
    query_t q;
    CHECK_EQ_INT(query_build(prompt, len, &q), 0);
    bool oom;
    char *f = query_fts(&q, NULL, &oom);
    CHECK(!oom);
    query_free(&q);
    return f;
}

static bool has_term(const query_t *q, const char *t, bool phrase)
{
    for (size_t i = 0; i < q->n_terms; i++)
        if (!strcmp(q->terms[i].text, t) && q->terms[i].phrase == phrase)
            return true;
    return false;
}

static void test_query_words(void)
{
    char *f = fts_of("Parse the config file", 21);
    CHECK_EQ_STR(f, "\"parse\" OR \"config\" OR \"file\" OR \"config file\"");
    free(f);
    f = fts_of("the of and to", 13);
    CHECK(f == NULL); /* only stopwords: nothing to search */
    free(f);
    f = fts_of("", 0);
    CHECK(f == NULL);
    free(f);
    /* repeated words rank first */
    f = fts_of("alpha beta beta gamma beta gamma", 32);
    CHECK(f && !strncmp(f, "\"beta\" OR \"gamma\" OR \"alpha\"", 28));
    free(f);
}

static void test_query_identifiers(void)
{
    query_t q;
    const char *p = "why does parseConfig fail in load_settings?";
    CHECK_EQ_INT(query_build(p, strlen(p), &q), 0);
    CHECK(has_term(&q, "parseconfig", false));
    CHECK(has_term(&q, "parse", false));
    CHECK(has_term(&q, "config", false));
    CHECK(has_term(&q, "parse config", true));
    CHECK(has_term(&q, "load_settings", false));
    CHECK(has_term(&q, "load settings", true));
    CHECK(has_term(&q, "fail", false));
    CHECK(!has_term(&q, "why", false));
    /* identifiers, normalized, for the exact-name boost */
    CHECK_EQ_INT(q.n_idents, 2);
    CHECK(q.n_idents == 2 && !strcmp(q.idents[0], "loadsettings") && !strcmp(q.idents[1], "parseconfig"));
    CHECK(query_symbol_boost(&q, "Loader.parse_config") > 1.9);  /* exact name */
    CHECK(query_symbol_boost(&q, "parse_settings") > 1.0);       /* some of its words */
    CHECK(query_symbol_boost(&q, "parse_settings") < query_symbol_boost(&q, "parseConfig"));
    CHECK(query_symbol_boost(&q, "unrelated_name") == 1.0);
    CHECK(query_symbol_boost(&q, NULL) == 1.0);
    CHECK(query_symbol_boost(&q, "x") == 1.0);
    query_free(&q);
    /* stemming: "entries" in the prompt matches the word "entry" of a name */
    p = "read directory entries";
    CHECK_EQ_INT(query_build(p, strlen(p), &q), 0);
    CHECK(query_symbol_boost(&q, "read_entry") > 1.4);
    query_free(&q);
    /* long prose makes no phrases of adjacent words */
    p = "return the number of bytes written to the output file when flushed";
    CHECK_EQ_INT(query_build(p, strlen(p), &q), 0);
    for (size_t i = 0; i < q.n_terms; i++)
        CHECK(!q.terms[i].phrase);
    query_free(&q);
}

/* Every FTS5 query is "term" OR "term" ...: checks the grammar of the
 * output, so no operator or quote of the input survives. */
static bool safe_fts(const char *f)
{
    if (!f)
        return true;
    const char *p = f;
    for (;;) {
        if (*p != '"')
            return false;
        p++;
        size_t n = 0;
        while (*p && *p != '"') {
            unsigned char c = (unsigned char)*p;
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ' ' || c >= 0x80))
                return false;
            p++;
            n++;
        }
        if (*p != '"' || n == 0)
            return false;
        p++;
        if (!*p)
            return true;
        if (strncmp(p, " OR ", 4) != 0)
            return false;
        p += 4;
    }
}

static void test_query_hostile(void)
{
    static const char *const hostile[] = {
        "\"", "\"\"\"", "a\"b", "NEAR(a b, 3)", "foo*", "^start", "((unbalanced", "unbalanced))",
        "a AND b OR NOT c", "col:value", "{path symbol}: x", "-minus +plus", "'single'",
        "\\\" escaped", "x OR OR y", "AND", "NOT NOT", "*", "^", ":", "\xff\xfe invalid utf8 \xc0\xaf",
        "emoji \xf0\x9f\x98\x80 word", "tab\tand\nnewline\r", "\x01\x02\x03 control",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char *f = fts_of(hostile[i], strlen(hostile[i]));
        CHECKF(safe_fts(f), "input %zu gave %s", i, f ? f : "(null)");
        free(f);
    }
    /* NUL bytes inside the prompt are separators */
    const char nul[] = "alpha\0beta\0\0gamma";
    char *f = fts_of(nul, sizeof nul - 1);
    CHECK(safe_fts(f) && f && strstr(f, "\"alpha\"") && strstr(f, "\"gamma\""));
    free(f);
    /* a word of 65+ bytes (a hash, base64) is not searched for */
    char big[200];
    memset(big, 'a', 150);
    big[150] = '\0';
    f = fts_of(big, 150);
    CHECK(f == NULL);
    free(f);
}

static void test_query_megabyte(void)
{
    size_t n = 1 << 20;
    char *p = malloc(n);
    unsigned seed = 7;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        static const char alpha[] = "abcdefghij klmnop_qrsTUV \"()*^:NEAR\n\0";
        p[i] = alpha[(seed >> 16) % (sizeof alpha - 1)];
    }
    clock_t t0 = clock();
    query_t q;
    CHECK_EQ_INT(query_build(p, n, &q), 0);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECKF(secs < 2.0, "%.2f s for 1 MB", secs);
    CHECK(q.n_terms > 0 && q.n_terms <= QUERY_MAX_TERMS + QUERY_MAX_PHRASES);
    bool oom;
    char *f = query_fts(&q, NULL, &oom);
    CHECK(safe_fts(f));
    free(f);
    query_free(&q);
    free(p);
}

/* ---- packing -------------------------------------------------------------- */

static rag_hit_t hit(const char *path, int a, int b, double score)
{
    rag_hit_t h = {.path = strdup(path), .lang = strdup("c"), .start = a, .end = b, .score = score};
    size_t cap = (size_t)(b - a + 1) * 16 + 1, n = 0;
    h.text = malloc(cap);
    h.text[0] = '\0';
    for (int ln = a; ln <= b; ln++)
        n += (size_t)snprintf(h.text + n, cap - n, "%sline %d", ln > a ? "\n" : "", ln);
    return h;
}

/* Counts words, to check that the packer uses the given counter. */
static size_t count_words(const char *t, size_t len, void *ud)
{
    size_t n = 0;
    bool in = false;
    (*(int *)ud)++;
    for (size_t i = 0; i < len; i++) {
        bool w = t[i] != ' ' && t[i] != '\n';
        n += w && !in;
        in = w;
    }
    return n;
}

static void test_pack_merge(void)
{
    rag_results_t res = {.n = 4};
    res.hits = calloc(4, sizeof *res.hits);
    res.hits[0] = hit("src/a.c", 10, 20, 9);
    res.hits[1] = hit("src/b.c", 1, 5, 8);
    res.hits[2] = hit("src/a.c", 15, 30, 7); /* overlaps the first */
    res.hits[3] = hit("src/a.c", 31, 33, 6); /* touches the merged block */
    char *out;
    rag_pack_info_t info;
    CHECK_EQ_INT(rag_pack(&res, 100000, NULL, NULL, &out, &info, NULL), 0);
    CHECK_EQ_INT(info.blocks, 2);
    CHECK_EQ_INT(info.hits_used, 4);
    CHECK(strstr(out, "src/a.c:10-33\n```c\nline 10\n") == out);
    CHECK(strstr(out, "line 33\n```\n\nsrc/b.c:1-5\n```c\nline 1\n"));
    /* each line once */
    const char *l15 = strstr(out, "line 15\n");
    CHECK(l15 && strstr(l15 + 1, "line 15\n") == NULL);
    CHECK_EQ_INT(info.tokens, rag_estimate_tokens(out, strlen(out), NULL));
    free(out);
    rag_results_free(&res);
}

static void test_pack_budget(void)
{
    rag_results_t res = {.n = 3};
    res.hits = calloc(3, sizeof *res.hits);
    res.hits[0] = hit("big.c", 1, 200, 9);
    res.hits[1] = hit("small.c", 1, 3, 8);
    res.hits[2] = hit("tiny.c", 7, 7, 7);
    char *out;
    rag_pack_info_t info;
    int calls = 0;
    /* the big one does not fit; the small ones do */
    CHECK_EQ_INT(rag_pack(&res, 60, count_words, &calls, &out, &info, NULL), 0);
    CHECK(calls > 0);
    CHECK(info.tokens <= 60);
    CHECK_EQ_INT(info.blocks, 2);
    CHECK(strstr(out, "small.c:1-3\n") == out);
    CHECK(strstr(out, "tiny.c:7-7\n") != NULL);
    CHECK(strstr(out, "big.c") == NULL);
    free(out);
    /* what became of each hit */
    rag_packed_t mark[3];
    CHECK_EQ_INT(rag_pack_marked(&res, 60, count_words, &calls, &out, &info, mark, NULL), 0);
    CHECK(mark[0] == RAG_PACKED_OUT && mark[1] == RAG_PACKED_WHOLE && mark[2] == RAG_PACKED_WHOLE);
    free(out);
    /* only the best hit, too big: its first lines */
    res.n = 1;
    CHECK_EQ_INT(rag_pack_marked(&res, 30, count_words, &calls, &out, &info, mark, NULL), 0);
    CHECK(mark[0] == RAG_PACKED_PART);
    free(out);
    CHECK_EQ_INT(rag_pack(&res, 30, count_words, &calls, &out, &info, NULL), 0);
    CHECK(info.tokens <= 30 && info.tokens > 0);
    CHECK(strncmp(out, "big.c:1-", 8) == 0);
    CHECK(strstr(out, "line 1\n") != NULL && strstr(out, "line 199") == NULL);
    free(out);
    /* no budget, no hits: empty text */
    CHECK_EQ_INT(rag_pack(&res, 0, NULL, NULL, &out, &info, NULL), 0);
    CHECK_EQ_STR(out, "");
    free(out);
    rag_results_t none = {0};
    CHECK_EQ_INT(rag_pack(&none, 1000, NULL, NULL, &out, &info, NULL), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(info.blocks, 0);
    free(out);
    res.n = 3;
    rag_results_free(&res);
}

static void test_pack_fence(void)
{
    rag_results_t res = {.n = 1};
    res.hits = calloc(1, sizeof *res.hits);
    res.hits[0] = (rag_hit_t){.path = strdup("README.md"), .lang = strdup("markdown"), .start = 3,
                              .end = 5, .score = 1, .text = strdup("```sh\nmake\n```")};
    char *out;
    CHECK_EQ_INT(rag_pack(&res, 1000, NULL, NULL, &out, NULL, NULL), 0);
    CHECK_EQ_STR(out, "README.md:3-5\n````markdown\n```sh\nmake\n```\n````\n");
    free(out);
    rag_results_free(&res);
}

int main(void)
{
    TEST_RUN(test_query_words);
    TEST_RUN(test_query_identifiers);
    TEST_RUN(test_query_hostile);
    TEST_RUN(test_query_megabyte);
    TEST_RUN(test_pack_merge);
    TEST_RUN(test_pack_budget);
    TEST_RUN(test_pack_fence);
    TEST_END();
}
