/* test_searchd.c - the watcher's request format (cli/searchd.c): a request
 * encoded and decoded back, the limits refused when encoding, and the
 * decoder on every truncation, on bytes changed at random and on random
 * garbage: decoded within the limits or refused, never read past the end
 * (run under make asan to see that). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "searchd.h"
#include "test.h"

#define HEADER 12

static char *g_ex[] = {"node_modules", "/build", "*.min.js"};

static searchd_req_t sample(void)
{
    static char query[] = "parse an\0email address";
    return (searchd_req_t){.k = 10, .mode = RAG_MODE_HYBRID, .no_git = false, .max_size = 512 * 1024,
                           .root = "/tmp/repo", .db = "/tmp/repo/.git/octet/index.sqlite",
                           .encoder = "2049:1234:5000000:1700000000.000000001", .exclude = g_ex,
                           .n_exclude = 3, .query = query, .qlen = sizeof query - 1};
}

static void test_round_trip(void)
{
    searchd_req_t q = sample(), d;
    char *msg;
    size_t len;
    errmsg_t err = {0};
    CHECK_EQ_INT(searchd_req_encode(&q, &msg, &len, &err), 0);
    CHECK(len > HEADER && !memcmp(msg, "OCTQ", 4));
    CHECK_EQ_INT(msg[4], SEARCHD_VERSION);
    uint32_t body = (uint32_t)(unsigned char)msg[8] | (uint32_t)(unsigned char)msg[9] << 8 |
                    (uint32_t)(unsigned char)msg[10] << 16 | (uint32_t)(unsigned char)msg[11] << 24;
    CHECK_EQ_INT(body, len - HEADER);
    CHECKF(searchd_req_decode(msg + HEADER, len - HEADER, &d, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(d.k, 10);
    CHECK_EQ_INT(d.mode, RAG_MODE_HYBRID);
    CHECK_EQ_INT(d.max_size, 512 * 1024);
    CHECK_EQ_STR(d.root, q.root);
    CHECK_EQ_STR(d.db, q.db);
    CHECK_EQ_STR(d.encoder, q.encoder);
    CHECK_EQ_INT(d.n_exclude, 3);
    CHECK_EQ_STR(d.exclude[2], "*.min.js");
    CHECK(d.qlen == q.qlen && !memcmp(d.query, q.query, q.qlen)); /* a NUL inside kept */
    searchd_req_free(&d);
    /* every truncation refused */
    for (size_t n = 0; n < len - HEADER; n++) {
        int rc = searchd_req_decode(msg + HEADER, n, &d, &err);
        CHECKF(rc == OCT_EFORMAT, "truncated to %zu: %d", n, rc);
        searchd_req_free(&d);
    }
    free(msg);
}

static void test_limits(void)
{
    searchd_req_t q = sample();
    char *msg = NULL;
    size_t len;
    errmsg_t err = {0};
    q.qlen = SEARCHD_MAX_QUERY + 1;
    char *big = calloc(q.qlen, 1);
    q.query = big;
    CHECK_EQ_INT(searchd_req_encode(&q, &msg, &len, &err), OCT_EINVAL);
    CHECK(strstr(err.msg, "query") != NULL);
    q.qlen = SEARCHD_MAX_QUERY; /* the largest query passes */
    CHECK_EQ_INT(searchd_req_encode(&q, &msg, &len, &err), 0);
    searchd_req_t d;
    CHECK_EQ_INT(searchd_req_decode(msg + HEADER, len - HEADER, &d, &err), 0);
    CHECK_EQ_INT(d.qlen, SEARCHD_MAX_QUERY);
    searchd_req_free(&d);
    free(msg);
    free(big);
    /* a body that claims what it does not hold, or what is out of range */
    static const unsigned char k0[20] = {0, 0, 0, 0, 1};
    CHECK_EQ_INT(searchd_req_decode(k0, sizeof k0, &d, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "(k)") != NULL);
    searchd_req_free(&d);
    unsigned char hdr[20 + 12] = {5, 0, 0, 0, 7, 0, 0, 0}; /* mode 7 */
    CHECK_EQ_INT(searchd_req_decode(hdr, sizeof hdr, &d, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "mode") != NULL);
    searchd_req_free(&d);
    unsigned char huge[40] = {5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(searchd_req_decode(huge, sizeof huge, &d, &err), OCT_EFORMAT); /* a 4 GB root */
    searchd_req_free(&d);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)g_rng;
}

static void test_fuzz(void)
{
    searchd_req_t q = sample(), d;
    char *msg;
    size_t len;
    errmsg_t err = {0};
    CHECK_EQ_INT(searchd_req_encode(&q, &msg, &len, &err), 0);
    size_t blen = len - HEADER;
    unsigned char *b = malloc(blen);
    int ok = 0, refused = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(b, msg + HEADER, blen);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            b[rnd() % blen] = (unsigned char)rnd();
        size_t n = rnd() % 8 ? blen : rnd() % blen;
        /* a copy of exactly N bytes, so that reading past it is caught by ASan */
        unsigned char *c = malloc(n ? n : 1);
        memcpy(c, b, n);
        int rc = searchd_req_decode(c, n, &d, &err);
        if (rc == 0) {
            ok++;
            CHECK(d.k >= 1 && d.k <= RAG_MAX_HITS);
            CHECK(d.mode == RAG_MODE_LEXICAL || d.mode == RAG_MODE_HYBRID);
            CHECK(d.root && d.db && d.encoder && d.query && d.qlen <= SEARCHD_MAX_QUERY);
            CHECK(strlen(d.root) < n && d.n_exclude <= SEARCHD_MAX_EXCLUDE);
        } else {
            refused++;
            CHECK_EQ_INT(rc, OCT_EFORMAT);
        }
        searchd_req_free(&d);
        free(c);
    }
    for (int it = 0; it < 5000; it++) {
        size_t n = rnd() % 200;
        unsigned char *c = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            c[i] = (unsigned char)(rnd() % 4 ? rnd() % 8 : rnd());
        int rc = searchd_req_decode(c, n, &d, &err);
        CHECK(rc == 0 || rc == OCT_EFORMAT);
        searchd_req_free(&d);
        free(c);
    }
    CHECK(ok > 0 && refused > 0);
    free(b);
    free(msg);
}

static void test_encoder_id(void)
{
    char a[128], b[128];
    searchd_encoder_id(NULL, a, sizeof a);
    CHECK_EQ_STR(a, "none");
    searchd_encoder_id("/nonexistent/octet-embed.gguf", a, sizeof a);
    CHECK_EQ_STR(a, "none");
    searchd_encoder_id("tests/fixtures/encoder/tiny-embed.gguf", a, sizeof a);
    searchd_encoder_id("./tests/fixtures/encoder/tiny-embed.gguf", b, sizeof b);
    CHECK(strcmp(a, "none") != 0);
    CHECK_EQ_STR(a, b); /* the file, however named */
}

int main(void)
{
    TEST_RUN(test_round_trip);
    TEST_RUN(test_limits);
    TEST_RUN(test_fuzz);
    TEST_RUN(test_encoder_id);
    TEST_END();
}
