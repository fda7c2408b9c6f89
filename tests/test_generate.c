/* test_generate.c - the generation loop (engine/generate.h) on the tiny
 * random models of tests/fixtures/tiny and the shipped models/octet-code.gguf:
 * the same tokens as a hand-written loop, prefix reuse, stop strings split
 * across tokens, whole UTF-8 characters in every streamed piece, the stop
 * reasons, cancellation from another thread; token healing (heal.h); and
 * speculative decoding (draft.h): the same output with and without it, and
 * the target's distribution under rejection sampling. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "generate.h"
#include "heal.h"
#include "test.h"

#define FIX "tests/fixtures/tiny/"
#define SHIPPED "models/octet-code.gguf"

static const char *const TINY[] = {"llama_gqa_f16", "qwen2_gqa_f32", "llama_mha_f32", "qwen2_mha_bf16_untied",
                                   "llama_rope_linear_q8_0"};
#define N_TINY (sizeof TINY / sizeof *TINY)

static eng_model_t *open_path(const char *path, uint32_t n_ctx, uint32_t n_batch)
{
    eng_opts_t o;
    eng_opts_default(&o);
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    o.n_threads = 2;
    o.backend = "cpu";
    eng_model_t *m = NULL;
    errmsg_t err = {0};
    int rc = eng_open(&m, path, &o, &err);
    CHECKF(rc == 0, "%s: %s", path, err.msg);
    return m;
}

static eng_model_t *open_tiny(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s.gguf", name);
    return open_path(path, 256, 32);
}

static int32_t *encode(eng_model_t *m, const char *text, size_t *n)
{
    int32_t *ids = NULL;
    errmsg_t err = {0};
    int rc = tok_encode(eng_tokenizer(m), text, strlen(text), TOK_ADD_BOS, &ids, n, &err);
    CHECKF(rc == 0, "%s", err.msg);
    return ids;
}

static void plain_params(gen_params_t *p, float temp, long max)
{
    gen_params_default(p);
    p->sample.temp = temp;
    p->sample.seed = 1234;
    p->max_tokens = max;
    p->heal = false;
    p->speculate = false;
}

/* The loop every front end had before gen_run: feed, then sample/decode. */
static size_t hand_loop(eng_session_t *s, const int32_t *ids, size_t n, const sample_params_t *sp, long max,
                        int32_t *out)
{
    eng_model_t *m = eng_session_model(s);
    const tok_t *t = eng_tokenizer(m);
    sampler_t *smp = NULL;
    errmsg_t err = {0};
    size_t k = 0;
    CHECK(eng_truncate(s, 0, &err) == 0);
    CHECK(sample_new(&smp, sp, eng_n_vocab(m), &err) == 0);
    CHECKF(eng_feed(s, ids, n, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        sample_accept(smp, ids[i]);
    while ((long)k < max) {
        int32_t id;
        if (eng_sample(s, smp, &id, &err))
            break;
        sample_accept(smp, id);
        if (tok_is_eog(t, id))
            break;
        out[k++] = id;
        if (eng_pos(s) >= eng_n_ctx(s) || eng_decode(s, id, &err))
            break;
    }
    sample_free(smp);
    return k;
}

static int run(eng_session_t *s, const int32_t *ids, size_t n, const gen_params_t *p, gen_result_t *r)
{
    errmsg_t err = {0};
    int rc = gen_run(s, ids, n, p, r, &err);
    CHECKF(rc == 0, "gen_run: %s", err.msg);
    return rc;
}

static const char *const PROMPTS[] = {
    "def add(a, b):\n    return",
    "#include <stdio.h>\nint main(void)\n{\n    printf(",
    "import os\nimport sys\n\nclass Config:\n    def __init__(self",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i",
};
#define N_PROMPTS (sizeof PROMPTS / sizeof *PROMPTS)

/* ---- the loop ------------------------------------------------------------ */

/* Whether S[0..N) is whole, valid UTF-8. */
static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = u[i] < 0x80 ? 1 : u[i] >= 0xC2 && u[i] <= 0xDF ? 2 : u[i] >= 0xE0 && u[i] <= 0xEF ? 3
                                   : u[i] >= 0xF0 && u[i] <= 0xF4 ? 4 : 0;
        if (!l || i + l > n || u[i] == 0)
            return false;
        for (size_t k = 1; k < l; k++)
            if ((u[i + k] & 0xC0) != 0x80)
                return false;
        i += l;
    }
    return true;
}


static void check_same_as_hand_loop(eng_model_t *m, const char *what, long max)
{
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    CHECKF(eng_session_new(&s, m, &err) == 0, "%s", err.msg);
    if (!s)
        return;
    int32_t *want = malloc((size_t)max * sizeof *want);
    for (size_t i = 0; i < N_PROMPTS; i++)
        for (int temp = 0; temp < 2; temp++) {
            size_t n;
            int32_t *ids = encode(m, PROMPTS[i], &n);
            gen_params_t p;
            plain_params(&p, temp ? 0.9f : 0.0f, max);
            size_t nw = hand_loop(s, ids, n, &p.sample, max, want);
            eng_truncate(s, 0, &err);
            gen_result_t r;
            if (run(s, ids, n, &p, &r) == 0) {
                CHECKF(r.n_tokens == nw && !memcmp(r.tokens, want, nw * sizeof *want),
                       "%s prompt %zu temp %d: %zu tokens vs %zu by hand", what, i, temp, r.n_tokens, nw);
                CHECK(r.stop == (nw == (size_t)max ? GEN_STOP_LENGTH : GEN_STOP_EOG));
                /* the text is the tokens' pieces (when they make valid UTF-8) */
                char *dec = NULL;
                size_t dl = 0;
                CHECK(tok_decode(eng_tokenizer(m), r.tokens, r.n_tokens, false, &dec, &dl, &err) == 0);
                if (dec && valid_utf8(dec, dl))
                    CHECK_EQ_STR(r.text, dec);
                free(dec);
                /* the cache holds the prompt and every token but the last */
                if (r.stop == GEN_STOP_LENGTH && r.n_tokens) {
                    CHECK_EQ_INT(eng_pos(s), n + r.n_tokens - 1);
                    CHECK(!memcmp(eng_tokens(s), ids, n * sizeof *ids));
                    CHECK(!memcmp(eng_tokens(s) + n, r.tokens, (r.n_tokens - 1) * sizeof *ids));
                }
                CHECK(r.prefill_tok_s > 0 && (r.n_tokens == 0 || r.decode_tok_s > 0));
            }
            gen_result_free(&r);
            free(ids);
        }
    free(want);
    eng_session_free(s);
}

static void test_same_as_hand_loop(void)
{
    for (size_t i = 0; i < N_TINY; i++) {
        eng_model_t *m = open_tiny(TINY[i]);
        if (m)
            check_same_as_hand_loop(m, TINY[i], 40);
        eng_close(m);
    }
    eng_model_t *m = open_path(SHIPPED, 512, 64);
    if (m)
        check_same_as_hand_loop(m, "octet-code", 48);
    eng_close(m);
}

static void test_prefix_reuse(void)
{
    eng_model_t *m = open_path(SHIPPED, 512, 64);
    eng_session_t *s = NULL, *fresh = NULL;
    errmsg_t err = {0};
    if (!m || eng_session_new(&s, m, &err) || eng_session_new(&fresh, m, &err)) {
        CHECK(0);
        goto done;
    }
    gen_params_t p;
    plain_params(&p, 0.0f, 24);
    size_t na, nb;
    int32_t *a = encode(m, "def area(r):\n    return 3.14159 * r * r\n\ndef perimeter(r):\n", &na);
    int32_t *b = encode(m, "def area(r):\n    return 3.14159 * r * r\n\ndef volume(r, h):\n", &nb);
    gen_result_t r1, r2, r3, r4;
    run(s, a, na, &p, &r1);
    CHECK_EQ_INT(r1.n_reused, 0);
    /* another prompt sharing a prefix: only the rest is fed, same answer as fresh */
    run(s, b, nb, &p, &r2);
    run(fresh, b, nb, &p, &r3);
    CHECKF(r2.n_reused > 10 && r2.n_reused < nb, "reused %zu of %zu", r2.n_reused, nb);
    CHECK_EQ_STR(r2.text, r3.text);
    /* the same prompt again: everything but the last token comes from the cache */
    run(s, b, nb, &p, &r4);
    CHECK_EQ_INT(r4.n_reused, nb - 1);
    CHECK_EQ_STR(r4.text, r3.text);
    /* reuse off: fed from the start */
    p.reuse = false;
    gen_result_free(&r4);
    run(s, b, nb, &p, &r4);
    CHECK_EQ_INT(r4.n_reused, 0);
    CHECK_EQ_STR(r4.text, r3.text);
    gen_result_free(&r1);
    gen_result_free(&r2);
    gen_result_free(&r3);
    gen_result_free(&r4);
    free(a);
    free(b);
done:
    eng_session_free(s);
    eng_session_free(fresh);
    eng_close(m);
}

typedef struct stream {
    char buf[8192];
    size_t len;
    int calls, bad_utf8;
    long stop_after; /* return nonzero once this many tokens were generated (0: never) */
} stream_t;

static int on_text(void *ud, const char *text, size_t len, const gen_result_t *so_far)
{
    stream_t *st = ud;
    st->calls++;
    if (!valid_utf8(text, len))
        st->bad_utf8++;
    if (st->len + len < sizeof st->buf) {
        memcpy(st->buf + st->len, text, len);
        st->len += len;
    }
    return st->stop_after && (long)so_far->n_tokens >= st->stop_after;
}

static void test_stop_strings(void)
{
    eng_model_t *m = open_path(SHIPPED, 512, 64);
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (!m || eng_session_new(&s, m, &err)) {
        CHECK(0);
        eng_close(m);
        return;
    }
    const tok_t *t = eng_tokenizer(m);
    int tested = 0;
    for (size_t pi = 0; pi < N_PROMPTS; pi++) {
        size_t n;
        int32_t *ids = encode(m, PROMPTS[pi], &n);
        gen_params_t p;
        plain_params(&p, 0.0f, 40);
        gen_result_t full;
        run(s, ids, n, &p, &full);
        /* a stop string over the boundary of two tokens (the end of token
         * 4's piece and the start of token 5's) */
        size_t off = 0;
        for (size_t i = 0; i < 4 && i < full.n_tokens; i++) {
            const char *pc;
            off += tok_piece(t, full.tokens[i], false, &pc);
        }
        if (full.n_tokens > 8 && off >= 2 && off + 2 <= full.text_len) {
            char stop[5];
            memcpy(stop, full.text + off - 2, 4);
            stop[4] = '\0';
            const char *first = strstr(full.text, stop);
            size_t at = (size_t)(first - full.text);
            const char *stops[] = {"never appears \x01", stop};
            p.stops = stops;
            p.n_stops = 2;
            stream_t st = {0};
            p.on_text = on_text;
            p.ud = &st;
            gen_result_t r;
            run(s, ids, n, &p, &r);
            CHECK(r.stop == GEN_STOP_STRING);
            CHECK_EQ_INT(r.text_len, at);
            CHECK(!memcmp(r.text, full.text, at));
            /* what was streamed is exactly the text: nothing of the stop string leaked */
            CHECK_EQ_INT(st.len, r.text_len);
            CHECK(!memcmp(st.buf, r.text, st.len));
            CHECK_EQ_INT(st.calls, (int)r.n_tokens);
            tested++;
            gen_result_free(&r);
        }
        gen_result_free(&full);
        free(ids);
    }
    CHECKF(tested >= 2, "only %d prompts gave a usable stop string", tested);
    eng_session_free(s);
    eng_close(m);
}

/* Random weights speak random bytes: sampled text cuts characters in
 * pieces and makes invalid sequences, which must never reach the callback. */
static void test_utf8_pieces(void)
{
    int multibyte = 0;
    for (size_t i = 0; i < N_TINY; i++) {
        eng_model_t *m = open_tiny(TINY[i]);
        eng_session_t *s = NULL;
        errmsg_t err = {0};
        if (!m || eng_session_new(&s, m, &err)) {
            CHECK(0);
            eng_close(m);
            continue;
        }
        for (uint64_t seed = 1; seed <= 4; seed++) {
            size_t n;
            int32_t *ids = encode(m, "héllo wörld → ", &n);
            gen_params_t p;
            plain_params(&p, 1.5f, 120);
            p.sample.top_k = 0;
            p.sample.top_p = 1.0f;
            p.sample.min_p = 0.0f;
            p.sample.seed = seed;
            stream_t st = {0};
            p.on_text = on_text;
            p.ud = &st;
            gen_result_t r;
            run(s, ids, n, &p, &r);
            CHECK_EQ_INT(st.bad_utf8, 0);
            CHECK(valid_utf8(r.text, r.text_len));
            CHECK_EQ_INT(st.len, r.text_len);
            CHECK(!memcmp(st.buf, r.text, st.len));
            CHECK_EQ_INT(strlen(r.text), r.text_len);
            for (size_t k = 0; k < r.text_len; k++)
                multibyte += (unsigned char)r.text[k] >= 0xC2;
            gen_result_free(&r);
            free(ids);
        }
        eng_session_free(s);
        eng_close(m);
    }
    CHECKF(multibyte > 0, "no multi-byte character was generated: the test did not test");
}

static void test_stop_reasons(void)
{
    eng_model_t *m = open_tiny("qwen2_gqa_f32");
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (!m || eng_session_new(&s, m, &err)) {
        CHECK(0);
        eng_close(m);
        return;
    }
    const tok_t *t = eng_tokenizer(m);
    size_t n;
    int32_t *ids = encode(m, "x = 1\n", &n);
    gen_params_t p;
    gen_result_t r;
    /* the context fills up: 256 tokens */
    plain_params(&p, 0.0f, -1);
    p.ignore_eos = true;
    run(s, ids, n, &p, &r);
    CHECK(r.stop == GEN_STOP_CONTEXT);
    CHECK_EQ_INT(n + r.n_tokens, 256 + 1);
    CHECK_EQ_INT(eng_pos(s), 256);
    for (size_t i = 0; i < r.n_tokens; i++)
        CHECK(!tok_is_eog(t, r.tokens[i]));
    gen_result_free(&r);
    /* max_tokens 0: nothing, but the prompt is in the cache */
    plain_params(&p, 0.0f, 0);
    run(s, ids, n, &p, &r);
    CHECK(r.stop == GEN_STOP_LENGTH && r.n_tokens == 0 && r.text_len == 0);
    gen_result_free(&r);
    /* the callback ends it */
    plain_params(&p, 0.0f, 100);
    p.ignore_eos = true;
    stream_t st = {.stop_after = 7};
    p.on_text = on_text;
    p.ud = &st;
    run(s, ids, n, &p, &r);
    CHECK(r.stop == GEN_STOP_CALLER);
    CHECK_EQ_INT(r.n_tokens, 7);
    gen_result_free(&r);
    /* end of generation: some sampled run ends with one */
    int eog = 0;
    for (uint64_t seed = 1; seed <= 40 && !eog; seed++) {
        plain_params(&p, 1.0f, 200);
        p.sample.seed = seed;
        p.sample.top_k = 0;
        run(s, ids, n, &p, &r);
        eog += r.stop == GEN_STOP_EOG;
        gen_result_free(&r);
    }
    CHECKF(eog, "no sampled run ended with an end-of-generation token");
    /* errors */
    CHECK_EQ_INT(gen_run(s, ids, 0, &p, &r, &err), OCT_EINVAL);
    gen_result_free(&r);
    int32_t *big = calloc(300, sizeof *big);
    CHECK_EQ_INT(gen_run(s, big, 300, &p, &r, &err), OCT_EINVAL);
    CHECK(strstr(err.msg, "context") != NULL);
    gen_result_free(&r);
    big[5] = 99999;
    CHECK_EQ_INT(gen_run(s, big, 10, &p, &r, &err), OCT_EINVAL);
    CHECK(strstr(err.msg, "99999") != NULL);
    gen_result_free(&r);
    free(big);
    free(ids);
    eng_session_free(s);
    eng_close(m);
}

typedef struct cancel_ctx {
    eng_session_t *s;
    atomic_int started;
} cancel_ctx_t;

static int on_text_signal(void *ud, const char *text, size_t len, const gen_result_t *so_far)
{
    (void)text;
    (void)len;
    cancel_ctx_t *c = ud;
    if (so_far->n_tokens == 5)
        atomic_store(&c->started, 1);
    return 0;
}

static void *canceler(void *arg)
{
    cancel_ctx_t *c = arg;
    while (!atomic_load(&c->started)) {
        struct timespec d = {0, 1000 * 1000};
        nanosleep(&d, NULL);
    }
    eng_cancel(c->s);
    return NULL;
}

static void test_cancel(void)
{
    eng_model_t *m = open_path(SHIPPED, 2048, 64);
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (!m || eng_session_new(&s, m, &err)) {
        CHECK(0);
        eng_close(m);
        return;
    }
    size_t n;
    int32_t *ids = encode(m, "static int parse(const char *s)\n{\n", &n);
    for (int spec = 0; spec < 2; spec++) {
        cancel_ctx_t c = {.s = s};
        gen_params_t p;
        plain_params(&p, 0.0f, -1);
        p.ignore_eos = true;
        p.speculate = spec;
        p.on_text = on_text_signal;
        p.ud = &c;
        pthread_t th;
        CHECK(pthread_create(&th, NULL, canceler, &c) == 0);
        gen_result_t r;
        int rc = gen_run(s, ids, n, &p, &r, &err);
        pthread_join(th, NULL);
        CHECK_EQ_INT(rc, OCT_ECANCELED);
        CHECK(r.stop == GEN_STOP_CANCELED);
        CHECKF(r.n_tokens >= 5 && r.n_tokens < 2000, "%zu tokens", r.n_tokens);
        CHECK_EQ_INT(r.text_len, strlen(r.text));
        gen_result_free(&r);
        /* the session goes on working */
        plain_params(&p, 0.0f, 4);
        CHECK(run(s, ids, n, &p, &r) == 0 && r.n_tokens == 4);
        gen_result_free(&r);
    }
    free(ids);
    eng_session_free(s);
    eng_close(m);
}

int main(void)
{
    TEST_RUN(test_same_as_hand_loop);
    TEST_RUN(test_prefix_reuse);
    TEST_RUN(test_stop_strings);
    TEST_RUN(test_utf8_pieces);
    TEST_RUN(test_stop_reasons);
    TEST_RUN(test_cancel);
    TEST_END();
}
