/* test_embed.c - the retrieval encoder (engine/embed.h, eng_embed) against
 * its fixtures: models/octet-embed.gguf and tests/fixtures/encoder/
 * fixtures.json (texts, the ids the encoder's tokenization gives, float64
 * embeddings from PyTorch with the GGUF's own Q8_0 weights).
 *
 * Ids must be equal. Embeddings: octet runs the same Q8_0 weights with its
 * int8 activations and float accumulation, so each vector must be within
 * cosine EMB_MIN_COS of the float64 one (the worst measured is printed; see
 * docs/retrieval.md). Without the model file every case fails, saying so:
 * the encoder is part of what make test covers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embed.h"
#include "engine.h"
#include "test.h"

#define MODEL "models/octet-embed.gguf"
#define FIXTURES "tests/fixtures/encoder/fixtures.json"
#define EMB_MIN_COS 0.999

static cJSON *g_fix;

static int have_model(void)
{
    if (access(MODEL, R_OK) == 0)
        return 1;
    printf("    %s is missing: the encoder tests need the retrieval encoder installed there (models/README.md, "
           "\"octet-embed\"; tests/fixtures/encoder/README.md)\n",
           MODEL);
    return 0;
}

static cJSON *load_fixtures(void)
{
    FILE *f = fopen(FIXTURES, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cJSON *j = NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        j = cJSON_Parse(buf);
    }
    free(buf);
    fclose(f);
    return j;
}

static void test_fixtures_ids(void)
{
    CHECK(have_model());
    CHECKF(g_fix != NULL, "cannot read %s", FIXTURES);
    if (!g_fix || access(MODEL, R_OK))
        return;
    emb_t *e = NULL;
    errmsg_t err = {0};
    CHECKF(emb_open(&e, MODEL, 2, &err) == 0, "%s", err.msg);
    if (!e)
        return;
    const cJSON *texts = cJSON_GetObjectItem(g_fix, "texts");
    int n_texts = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, texts)
    {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(t, "text"));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(t, "kind"));
        const cJSON *want = cJSON_GetObjectItem(t, "ids");
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(text && kind && cJSON_IsArray(want));
        if (!text || !kind || !cJSON_IsArray(want))
            continue;
        int rc = emb_tokens(e, strcmp(kind, "query") ? EMB_CODE : EMB_QUERY, text, strlen(text), &ids, &n, &err);
        CHECKF(rc == 0, "%s", err.msg);
        CHECKF(n == (size_t)cJSON_GetArraySize(want), "text %d: %zu ids, %d expected", n_texts, n,
               cJSON_GetArraySize(want));
        for (size_t i = 0; rc == 0 && i < n && i < (size_t)cJSON_GetArraySize(want); i++) {
            int w = cJSON_GetArrayItem(want, (int)i)->valueint;
            if (ids[i] != w) {
                CHECKF(ids[i] == w, "text %d id %zu: %d, expected %d", n_texts, i, ids[i], w);
                break;
            }
        }
        free(ids);
        n_texts++;
    }
    CHECK(n_texts >= 5);
    emb_close(e);
}

static void test_fixtures_embeddings(void)
{
    CHECK(have_model());
    if (!g_fix || access(MODEL, R_OK))
        return;
    emb_t *e = NULL;
    errmsg_t err = {0};
    CHECKF(emb_open(&e, MODEL, 2, &err) == 0, "%s", err.msg);
    if (!e)
        return;
    uint32_t dim = emb_dim(e);
    float *v = malloc(dim * sizeof *v);
    double worst = 1.0, worst_abs = 0;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(g_fix, "texts"))
    {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(t, "text"));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(t, "kind"));
        const cJSON *ref = cJSON_GetObjectItem(t, "embedding");
        if (!text || !kind || cJSON_GetArraySize(ref) != (int)dim) {
            CHECKF(0, "text %d: no embedding of %u values", i, dim);
            continue;
        }
        int rc = emb_text(e, strcmp(kind, "query") ? EMB_CODE : EMB_QUERY, text, strlen(text), v, &err);
        CHECKF(rc == 0, "%s", err.msg);
        double dot = 0, na = 0, nb = 0, mabs = 0;
        for (uint32_t j = 0; j < dim; j++) {
            double r = cJSON_GetArrayItem(ref, (int)j)->valuedouble;
            dot += v[j] * r;
            na += (double)v[j] * v[j];
            nb += r * r;
            mabs = fmax(mabs, fabs(v[j] - r));
        }
        double cos = dot / sqrt(na * nb);
        CHECKF(cos >= EMB_MIN_COS, "text %d (%s): cosine %.6f to the float64 embedding", i, kind, cos);
        CHECKF(fabs(na - 1.0) < 1e-5, "text %d: |v|^2 = %.8f, not unit length", i, na);
        worst = fmin(worst, cos);
        worst_abs = fmax(worst_abs, mabs);
        i++;
    }
    printf("    %d texts: lowest cosine %.6f, largest |difference| %.2e\n", i, worst, worst_abs);
    free(v);
    emb_close(e);
}

/* The thread count must not change a vector (the CPU backend's promise). */
static void test_threads(void)
{
    CHECK(have_model());
    if (access(MODEL, R_OK))
        return;
    emb_t *a = NULL, *b = NULL;
    errmsg_t err = {0};
    CHECKF(emb_open(&a, MODEL, 1, &err) == 0 && emb_open(&b, MODEL, 2, &err) == 0, "%s", err.msg);
    if (a && b) {
        const char *code = "static int add(int a, int b)\n{\n    return a + b;\n}\n";
        uint32_t dim = emb_dim(a);
        float *x = malloc(dim * sizeof *x), *y = malloc(dim * sizeof *y);
        CHECK(emb_text(a, EMB_CODE, code, strlen(code), x, &err) == 0);
        CHECK(emb_text(b, EMB_CODE, code, strlen(code), y, &err) == 0);
        CHECK(!memcmp(x, y, dim * sizeof *x));
        free(x);
        free(y);
    }
    emb_close(a);
    emb_close(b);
}

/* A query and a chunk of the same text differ (the prefix token), and a
 * text past the cap gives the same ids as its cut. */
static void test_prefix_and_cap(void)
{
    CHECK(have_model());
    if (access(MODEL, R_OK))
        return;
    emb_t *e = NULL;
    errmsg_t err = {0};
    CHECKF(emb_open(&e, MODEL, 2, &err) == 0, "%s", err.msg);
    if (!e)
        return;
    int32_t *q = NULL, *c = NULL;
    size_t nq = 0, nc = 0;
    CHECK(emb_tokens(e, EMB_QUERY, "open a file", 11, &q, &nq, &err) == 0);
    CHECK(emb_tokens(e, EMB_CODE, "open a file", 11, &c, &nc, &err) == 0);
    CHECK(nq == nc && nq > 1 && q[0] != c[0] && !memcmp(q + 1, c + 1, (nq - 1) * sizeof *q));
    free(q);
    free(c);
    size_t big = 20000;
    char *text = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        text[i] = "ab cd\n"[i % 6];
    text[big] = '\0';
    CHECK(emb_tokens(e, EMB_CODE, text, big, &c, &nc, &err) == 0);
    CHECK_EQ_INT(nc, emb_max_tokens(e, EMB_CODE));
    CHECK(emb_tokens(e, EMB_QUERY, text, big, &q, &nq, &err) == 0);
    CHECK_EQ_INT(nq, emb_max_tokens(e, EMB_QUERY));
    /* a special entry written in the text is text */
    int32_t *s = NULL;
    size_t ns = 0;
    CHECK(emb_tokens(e, EMB_QUERY, "<|code|>", 8, &s, &ns, &err) == 0);
    CHECK(ns > 2);
    free(s);
    free(q);
    free(c);
    free(text);
    emb_close(e);
}

/* A decoder is not an encoder: refused, naming the key. */
static void test_refuses_decoder(void)
{
    emb_t *e = NULL;
    errmsg_t err = {0};
    int rc = emb_open(&e, "tests/fixtures/gguf/tiny-llama-q8_0.gguf", 1, &err);
    CHECK(rc != 0 && e == NULL);
    CHECKF(strstr(err.msg, "octet.encoder.causal") != NULL, "%s", err.msg);
}

/* The identity follows the bytes, not the name. */
static void test_file_id(void)
{
    char a[64], b[64], c[64];
    errmsg_t err = {0};
    const char *src = "tests/fixtures/gguf/tiny-llama-q8_0.gguf";
    char tmp[] = "/tmp/octet-embed-id-XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    FILE *in = fopen(src, "rb");
    FILE *out = fdopen(fd, "wb");
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    CHECK(emb_file_id(src, a, sizeof a, &err) == 0);
    CHECK(emb_file_id(tmp, b, sizeof b, &err) == 0);
    CHECK_EQ_STR(a, b);
    /* one byte changed in the middle of the first sampled block */
    FILE *f = fopen(tmp, "r+b");
    if (f) {
        fseek(f, 100, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 100, SEEK_SET);
        fputc(ch ^ 1, f);
        fclose(f);
    }
    CHECK(emb_file_id(tmp, c, sizeof c, &err) == 0);
    CHECK(strcmp(a, c) != 0);
    CHECK(emb_file_id("/nonexistent/octet-embed.gguf", c, sizeof c, &err) == OCT_ENOTFOUND);
    uint32_t dim = 1;
    CHECK(emb_file_dim(src, &dim, &err) != 0); /* a decoder has no encoder keys */
    if (access(MODEL, R_OK) == 0) {
        emb_t *e = NULL;
        CHECK(emb_file_dim(MODEL, &dim, &err) == 0);
        CHECK(emb_open(&e, MODEL, 1, &err) == 0 && e && emb_dim(e) == dim);
        emb_close(e);
    }
    unlink(tmp);
}

int main(void)
{
    g_fix = load_fixtures();
    TEST_RUN(test_fixtures_ids);
    TEST_RUN(test_fixtures_embeddings);
    TEST_RUN(test_threads);
    TEST_RUN(test_prefix_and_cap);
    TEST_RUN(test_refuses_decoder);
    TEST_RUN(test_file_id);
    cJSON_Delete(g_fix);
    TEST_END();
}
