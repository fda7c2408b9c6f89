/* test_encoder.c - the retrieval encoder as rag's embedder (flows/encoder.c)
 * with a query embedded ahead (encoder_prefetch): a search answers exactly
 * as without it (the same dense ranking of 40-odd chunks), a query other than the
 * prefetched one is embedded when asked, and an encoder that cannot load
 * (a pooling octet does not know) fails the same way with or without it. Uses the tiny test encoder
 * (tests/fixtures/encoder/tiny-embed.gguf) on a small git repository. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "rag.h"
#include "test.h"
#include "test_repo.h"

#define TINY "tests/fixtures/encoder/tiny-embed.gguf"

static rag_t *repo_index(encoder_t *e)
{
    repo_dir("encoder");
    put("src/config.c", "/* Reads the settings file. */\nint parse_config(const char *path)\n{\n"
                        "    return path != 0;\n}\n");
    put("src/mail.py", "def parseaddr(addr):\n    \"\"\"Split an email address.\"\"\"\n    return addr.split('@')\n");
    put("tool.py", "def helper():\n    return 1\n\n\ndef other_helper(x):\n    return x + 1\n");
    /* enough chunks that a wrong vector would rank them otherwise */
    static const char *const verbs[] = {"read", "write", "sort", "merge", "split", "join", "hash", "count"};
    static const char *const nouns[] = {"file", "list", "email", "header", "number"};
    for (int i = 0; i < 40; i++) {
        char name[64], body[256];
        snprintf(name, sizeof name, "lib/m%02d.py", i);
        snprintf(body, sizeof body, "def %s_%s_%d(x):\n    \"\"\"%s the %s.\"\"\"\n    return x\n", verbs[i % 8],
                 nouns[i % 5], i, verbs[i % 8], nouns[i % 5]);
        put(name, body);
    }
    repo_commit();
    rag_t *r = NULL;
    rag_options_t ro = {.dir = g_repo};
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &ro, &err) == 0 && rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    encoder_attach(e, r);
    CHECKF(rag_embed(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    return r;
}

static encoder_t *open_enc(const char *path)
{
    encoder_t *e = NULL;
    errmsg_t err = {0};
    char why[256];
    CHECKF(encoder_open(&e, path, 1, why, sizeof why, &err) == 0 && e, "%s: %s", path, err.msg);
    return e;
}

static void query(rag_t *r, const char *q, rag_results_t *res, rag_query_info_t *info)
{
    errmsg_t err = {0};
    CHECKF(rag_query_ex(r, q, strlen(q), 10, RAG_MODE_DENSE, res, info, &err) == 0, "%s", err.msg);
}

static bool same(const rag_results_t *a, const rag_results_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->hits[i].path, b->hits[i].path) || a->hits[i].start != b->hits[i].start ||
            a->hits[i].score != b->hits[i].score)
            return false;
    return true;
}

static void test_prefetch(void)
{
    encoder_t *plain = open_enc(TINY), *ahead = open_enc(TINY), *other = open_enc(TINY);
    if (!plain || !ahead || !other)
        goto done;
    rag_t *r = repo_index(plain);
    if (!r)
        goto done;
    const char *q = "split an email address";
    rag_results_t want = {0}, got = {0};
    rag_query_info_t info;
    query(r, q, &want, &info);
    CHECK(info.mode == RAG_MODE_DENSE && want.n == 10);
    /* the query embedded ahead: the same answer */
    encoder_prefetch(ahead, q, strlen(q));
    encoder_attach(ahead, r);
    query(r, q, &got, &info);
    CHECK(info.mode == RAG_MODE_DENSE);
    CHECK(same(&want, &got));
    rag_results_free(&got);
    /* another query than the prefetched one: embedded when asked */
    const char *q2 = "read the settings file";
    rag_results_t want2 = {0};
    encoder_attach(plain, r);
    query(r, q2, &want2, &info);
    encoder_prefetch(other, "something else entirely", 23);
    encoder_attach(other, r);
    query(r, q2, &got, &info);
    CHECK(info.mode == RAG_MODE_DENSE && same(&want2, &got));
    rag_results_free(&got);
    rag_results_free(&want2);
    rag_results_free(&want);
    encoder_attach(NULL, r);
    rag_close(r);
done:
    encoder_close(plain);
    encoder_close(ahead);
    encoder_close(other);
}

/* The tiny encoder with its pooling renamed, into PATH (N bytes): it opens
 * (the keys are sound) but does not load (octet pools by the mean only). */
static void unloadable(char *path, size_t n)
{
    snprintf(path, n, "%s.bad.gguf", g_repo);
    static char buf[1 << 20];
    FILE *in = fopen(TINY, "rb");
    size_t got = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in)
        fclose(in);
    CHECK(got > 0 && got < sizeof buf);
    char *k = memmem(buf, got, "octet.encoder.pooling", 21);
    char *v = k ? memmem(k, got - (size_t)(k - buf), "mean", 4) : NULL;
    CHECK(v != NULL);
    if (v)
        memcpy(v, "maxx", 4);
    FILE *out = fopen(path, "wb");
    CHECK(out != NULL);
    if (out) {
        fwrite(buf, 1, got, out);
        fclose(out);
    }
}

/* An encoder that cannot load: the search is lexical and says why, the same
 * with the query embedded ahead; closing an encoder whose prefetch was never
 * taken waits for it. */
static void test_prefetch_broken(void)
{
    char cut[512];
    repo_dir("encoder");
    unloadable(cut, sizeof cut);
    encoder_t *good = open_enc(TINY), *bad = open_enc(cut), *unused = open_enc(TINY);
    if (!good || !bad || !unused)
        goto done;
    rag_t *r = repo_index(good);
    if (!r)
        goto done;
    const char *q = "split an email address";
    rag_results_t res = {0};
    rag_query_info_t info;
    encoder_prefetch(bad, q, strlen(q));
    encoder_attach(bad, r);
    query(r, q, &res, &info);
    CHECK(info.mode == RAG_MODE_LEXICAL);
    CHECKF(strstr(info.why, "the encoder failed") && strstr(info.why, ".bad.gguf"), "%s", info.why);
    rag_results_free(&res);
    encoder_prefetch(unused, q, strlen(q));
    encoder_attach(NULL, r);
    rag_close(r);
done:
    encoder_close(good);
    encoder_close(bad);
    encoder_close(unused);
    remove(cut);
}

int main(void)
{
    TEST_RUN(test_prefetch);
    TEST_RUN(test_prefetch_broken);
    sh("rm -rf '%s'", g_repo);
    TEST_END();
}
