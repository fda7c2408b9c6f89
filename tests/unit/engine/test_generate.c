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
                CHECKF(r.n_tokens == nw && (nw == 0 || !memcmp(r.tokens, want, nw * sizeof *want)),
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


/* ---- token healing --------------------------------------------------------- */

/* Whether entry ID may start the healed text R (brute force, without the
 * prefix index): its piece starts with R or is a proper prefix of it. */
static bool consistent(const tok_t *t, int32_t id, const char *r, size_t rl)
{
    const char *p;
    size_t pl = tok_piece(t, id, false, &p);
    if (pl == 0 || tok_is_special(t, id))
        return false;
    return !memcmp(p, r, pl < rl ? pl : rl);
}

/* Healing of TEXT with tokenizer T: the removed text is the prompt's tail,
 * some entry extends it, and the mask allows exactly the consistent
 * entries (the backed-up token among them). Returns the tokens backed up. */
static size_t check_heal(const tok_t *t, const char *what, const char *text, const char *want_removed)
{
    int32_t *ids = NULL;
    size_t n = 0, nb = 0;
    errmsg_t err = {0};
    heal_t h;
    CHECK(tok_encode(t, text, strlen(text), TOK_ADD_BOS, &ids, &n, &err) == 0);
    CHECKF(heal_prompt(t, ids, n, 1, &h, &nb, &err) == 0, "%s", err.msg);
    if (want_removed) {
        CHECKF(h.len == strlen(want_removed) && !memcmp(h.text, want_removed, h.len),
               "%s '%s': removed '%.*s', expected '%s'", what, text, (int)h.len, h.text, want_removed);
    }
    if (nb == 0) {
        CHECK(!heal_active(&h));
        free(ids);
        return 0;
    }
    CHECK(nb <= HEAL_MAX_TOKENS && nb < n);
    /* the removed text is the pieces of the backed-up tokens */
    char cat[HEAL_MAX_BYTES];
    size_t cl = 0;
    for (size_t i = n - nb; i < n; i++) {
        const char *p;
        size_t pl = tok_piece(t, ids[i], false, &p);
        memcpy(cat + cl, p, pl);
        cl += pl;
    }
    CHECK(cl == h.len && !memcmp(cat, h.text, cl) && h.removed == h.len);
    uint32_t nv = tok_n_vocab(t);
    float *l = calloc(nv, sizeof *l);
    CHECK(heal_mask(t, &h, l, nv, &err) == 0);
    size_t allowed = 0, longer = 0, wrong = 0;
    for (uint32_t i = 0; i < nv; i++) {
        bool c = consistent(t, (int32_t)i, h.text, h.len);
        const char *p;
        if (c != (l[i] == 0.0f) || c != heal_allows(t, &h, (int32_t)i))
            wrong++;
        allowed += c;
        longer += c && tok_piece(t, (int32_t)i, false, &p) > h.len;
    }
    CHECKF(wrong == 0, "%s '%s': %zu entries masked wrongly", what, text, wrong);
    CHECK(allowed >= longer + 1); /* the extensions and at least the backed-up first token */
    CHECKF(longer > 0, "%s '%s': healed although no entry extends '%.*s'", what, text, (int)h.len, h.text);
    CHECK(l[ids[n - nb]] == 0.0f); /* the original tokenization stays possible */
    /* after an entry that covers the text, no constraint is left */
    heal_t h2 = h;
    heal_advance(t, &h2, ids[n - nb]);
    if (nb == 1)
        CHECK(!heal_active(&h2));
    else
        CHECK(heal_active(&h2) && h2.len == h.len - (size_t)tok_piece(t, ids[n - nb], false, &(const char *){0}));
    free(l);
    free(ids);
    return nb;
}

static tok_t *load_vocab(const char *path)
{
    gguf_t *g = NULL;
    tok_t *t = NULL;
    errmsg_t err = {0};
    CHECKF(gguf_open(&g, path, &err) == 0, "%s", err.msg);
    if (g)
        CHECKF(tok_load(&t, g, &err) == 0, "%s", err.msg);
    gguf_close(g);
    return t;
}

static void test_heal_vocabularies(void)
{
    static const char *const texts[] = {"def fib(n):\n", "x = foo_b", "class Stack:\n    def pu", "import o",
                                        "    return sel", "int main(void)\n{\n    ", "a = 1 +"};
    static const struct {
        const char *path, *name;
    } vocabs[] = {
        {FIX "qwen2_gqa_f32.gguf", "qwen2 (tiny)"},
        {FIX "llama_gqa_f16.gguf", "llama-bpe (tiny)"},
        {"tests/fixtures/vocab/ggml-vocab-llama-spm.gguf", "llama-spm"},
        {"tests/fixtures/vocab/ggml-vocab-deepseek-coder.gguf", "deepseek-coder"},
        {SHIPPED, "octet-code"},
    };
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        tok_t *t = load_vocab(vocabs[v].path);
        if (!t)
            continue;
        size_t healed = 0;
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            healed += check_heal(t, vocabs[v].name, texts[i], NULL) > 0;
        CHECKF(healed >= 3, "%s: only %zu prompts healed", vocabs[v].name, healed);
        tok_free(t);
    }
    /* what the shipped model and the SentencePiece vocabulary back up */
    tok_t *t = load_vocab(SHIPPED);
    if (t) {
        check_heal(t, "octet-code", "def fib(n):\n", "\n");
        check_heal(t, "octet-code", "import o", " o");
        check_heal(t, "octet-code", "for i in ra", " ra");
        /* a special token at the end (FIM) is never backed up */
        int32_t ids[3] = {tok_bos(t), 1, 3};
        heal_t h;
        size_t nb = 9;
        errmsg_t err;
        CHECK(heal_prompt(t, ids, 3, 1, &h, &nb, &err) == 0 && nb == 0 && !heal_active(&h));
        tok_free(t);
    }
    t = load_vocab("tests/fixtures/vocab/ggml-vocab-llama-spm.gguf");
    if (t) {
        check_heal(t, "llama-spm", "x = foo_b", "b");
        check_heal(t, "llama-spm", "    return sel", " sel");
        /* newlines are byte tokens that no entry extends */
        CHECK_EQ_INT(check_heal(t, "llama-spm", "def fib(n):\n", ""), 0);
        tok_free(t);
    }
    /* several tokens backed up: " s" "el" (Qwen-style) and "\n" "   " (llama-bpe) */
    t = load_vocab(FIX "qwen2_gqa_f32.gguf");
    if (t) {
        CHECK_EQ_INT(check_heal(t, "qwen2", "    return sel", " sel"), 2);
        CHECK_EQ_INT(check_heal(t, "qwen2", "def fib(n):\n", "\n"), 1);
        tok_free(t);
    }
    t = load_vocab(FIX "llama_gqa_f16.gguf");
    if (t) {
        CHECK_EQ_INT(check_heal(t, "llama-bpe", "int main(void)\n{\n    ", "\n    "), 2);
        tok_free(t);
    }
    /* the first KEEP tokens stay: a one-token prompt is not healed */
    t = load_vocab(SHIPPED);
    if (t) {
        int32_t one = 81; /* "n" */
        heal_t h;
        size_t nb = 9;
        errmsg_t err;
        CHECK(heal_prompt(t, &one, 1, 1, &h, &nb, &err) == 0 && nb == 0);
        tok_free(t);
    }
}

/* Generation with healing on the shipped model: the first token spells the
 * removed text again, the text streamed starts after it, and a prompt
 * ending in a newline is continued with indentation (without healing the
 * model starts a new top-level line). */
static void test_heal_generate(void)
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
    static const struct {
        const char *prompt, *removed, *starts; /* STARTS: the healed text begins so */
    } cases[] = {
        {"def fibonacci(n):\n", "\n", "    "},
        {"import o", " o", NULL},
        {"class Stack:\n    def pu", " pu", NULL},
        {"for i in ra", " ra", "nge("},
        {"int main(int argc, char **argv)\n{\n", "\n", "    "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        int32_t *ids = encode(m, cases[i].prompt, &n);
        gen_params_t p;
        plain_params(&p, 0.0f, 24);
        p.heal = true;
        stream_t st = {0};
        p.on_text = on_text;
        p.ud = &st;
        gen_result_t r;
        if (run(s, ids, n, &p, &r) == 0 && r.n_tokens) {
            /* REMOVED is one token or more, depending on the shipped vocabulary ("pu" may be "p" + "u") */
            CHECK(r.n_healed >= 1 && r.n_healed < n);
            /* the cache holds the healed prompt */
            CHECK(!memcmp(eng_tokens(s), ids, (n - r.n_healed) * sizeof *ids));
            char *dec = NULL, *back = NULL;
            size_t dl = 0, bl = 0, rl = strlen(cases[i].removed);
            CHECK(tok_decode(t, ids + n - r.n_healed, r.n_healed, false, &back, &bl, &err) == 0);
            CHECKF(bl == rl && back && !memcmp(back, cases[i].removed, rl), "'%s': %zu tokens healed",
                   cases[i].prompt, r.n_healed);
            free(back);
            CHECK(tok_decode(t, r.tokens, r.n_tokens, false, &dec, &dl, &err) == 0);
            CHECKF(dl >= rl && !memcmp(dec, cases[i].removed, rl), "'%s': generated '%s'", cases[i].prompt, dec);
            if (dl >= rl)
                CHECK_EQ_STR(r.text, dec + rl);
            CHECK(st.len == r.text_len && !memcmp(st.buf, r.text, st.len));
            if (cases[i].starts)
                CHECKF(!strncmp(r.text, cases[i].starts, strlen(cases[i].starts)), "'%s' went on with '%s'",
                       cases[i].prompt, r.text);
            free(dec);
        }
        gen_result_free(&r);
        /* unhealed, the prompt goes in as it is */
        if (cases[i].starts && !strcmp(cases[i].starts, "    ")) {
            p.heal = false;
            p.on_text = NULL;
            if (run(s, ids, n, &p, &r) == 0) {
                CHECK(r.n_healed == 0);
                CHECK(!memcmp(eng_tokens(s), ids, n * sizeof *ids));
            }
            gen_result_free(&r);
        }
        free(ids);
    }
    eng_session_free(s);
    eng_close(m);
}

/* ---- speculative decoding ------------------------------------------------ */

/* Prompts that make the models copy: code, then the start of it again. */
static char *copy_prompt(const char *path, size_t max_bytes, size_t cue)
{
    FILE *f = fopen(path, "rb");
    CHECKF(f != NULL, "%s", path);
    if (!f)
        return NULL;
    char *buf = calloc(1, 2 * max_bytes + 64);
    size_t n = fread(buf, 1, max_bytes, f);
    fclose(f);
    /* whole lines */
    while (n && buf[n - 1] != '\n')
        n--;
    buf[n] = '\0';
    size_t c = cue < n ? cue : n;
    memcpy(buf + n, "\n\n", 2);
    memcpy(buf + n + 2, buf, c);
    buf[n + 2 + c] = '\0';
    return buf;
}

/* A diff of a file that has begun: the file, then a hunk over its first
 * lines with eight of them written as context and the ninth cut after its
 * first word (line drafts follow it). */
static char *diff_prompt(const char *path, size_t max_bytes)
{
    char *file = copy_prompt(path, max_bytes, 0);
    if (!file)
        return NULL;
    size_t n = strlen(file);
    char *buf = calloc(1, n + 1024);
    memcpy(buf, file, n);
    strcat(buf, "```diff\n--- a/f.c\n+++ b/f.c\n@@ -1,12 +1,12 @@\n");
    size_t at = 0;
    for (int line = 0; line < 8; line++) {
        const char *e = strchr(file + at, '\n');
        size_t len = e ? (size_t)(e - file - at) + 1 : 0;
        if (len > 100)
            len = 100;
        strcat(buf, " ");
        strncat(buf, file + at, len);
        at += len;
    }
    strcat(buf, " ");
    strncat(buf, file + at, strcspn(file + at, " \n"));
    free(file);
    return buf;
}

/* Greedy and sampled output with speculation (adaptive, and forced to
 * draft) equal plain decoding's, token for token, and the cache is cut back
 * to what plain decoding leaves. */
static void check_spec_same(eng_model_t *m, eng_session_t *draft, const char *what, const char *const *prompts,
                            size_t n_prompts, long max, double *accept)
{
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    CHECKF(eng_session_new(&s, m, &err) == 0, "%s", err.msg);
    if (!s)
        return;
    size_t drafted = 0, accepted = 0;
    for (size_t i = 0; i < n_prompts; i++)
        for (int temp = 0; temp < 2; temp++) {
            size_t n;
            int32_t *ids = encode(m, prompts[i], &n);
            gen_params_t p;
            gen_result_t ref, r;
            plain_params(&p, temp ? 0.7f : 0.0f, max);
            p.sample.seed = 77 + i;
            run(s, ids, n, &p, &ref);
            for (int mode = 0; mode < 2; mode++) {
                p.speculate = true;
                p.spec.lookup = draft == NULL;
                p.spec.draft = draft;
                p.spec.fixed_k = mode == 1;
                p.spec.k_max = mode == 1 ? 6 : 0;
                if (run(s, ids, n, &p, &r) == 0) {
                    size_t same = 0;
                    while (same < r.n_tokens && same < ref.n_tokens && r.tokens[same] == ref.tokens[same])
                        same++;
                    CHECKF(r.n_tokens == ref.n_tokens && same == r.n_tokens && r.stop == ref.stop,
                           "%s prompt %zu temp %d mode %d: %zu/%zu tokens, first difference at %zu", what, i, temp,
                           mode, r.n_tokens, ref.n_tokens, same);
                    CHECK_EQ_STR(r.text, ref.text);
                    CHECK_EQ_INT(eng_pos(s), n + r.n_tokens - (r.stop == GEN_STOP_EOG ? 0 : 1));
                    CHECK(eng_pos(s) == n || !memcmp(eng_tokens(s) + n, r.tokens, (eng_pos(s) - n) * sizeof *ids));
                    CHECK(r.n_accepted <= r.n_drafted);
                    if (temp == 0) {
                        drafted += r.n_drafted;
                        accepted += r.n_accepted;
                    }
                }
                gen_result_free(&r);
            }
            gen_result_free(&ref);
            free(ids);
        }
    /* greedy runs: a model drafting for itself agrees with itself */
    *accept = drafted ? (double)accepted / (double)drafted : 0;
    CHECKF(drafted > 0, "%s: nothing was drafted", what);
    eng_session_free(s);
}

static void test_spec_exact_tiny(void)
{
    static const char *const prompts[] = {
        "def f(x):\n    return x + 1\n\ndef f(x):\n    return",
        "a = [1, 2, 3]\nb = [1, 2, 3]\nc = [1, 2",
        "if x:\n    y = 1\nelse:\n    y = 2\nif x:\n",
        "for (int i = 0; i < n; i++) { s += a[i]; }\nfor (int i = 0;",
        "x = 1\n", "import os\nimport sys\nimport",
        /* inside a hunk: line drafts (lines.h) are verified too */
        ("int a;\nint b;\nint d;\nint e;\nint f;\n```diff\n--- a/x.c\n+++ b/x.c\n@@ -1,5 +1,5 @@\n int a;\n-int b;\n"
         "+int c;\n"),
    };
    for (size_t i = 0; i < N_TINY; i++) {
        eng_model_t *m = open_tiny(TINY[i]);
        double acc;
        if (m)
            check_spec_same(m, NULL, TINY[i], prompts, sizeof prompts / sizeof *prompts, 60, &acc);
        eng_close(m);
    }
}

static void test_spec_exact_shipped(void)
{
    eng_model_t *m = open_path(SHIPPED, 2048, 64);
    if (!m)
        return;
    /* a cue of 800 bytes: the model is well into the copy (with 200 the
     * instruction-tuned model may leave it at a near tie) */
    char *c1 = copy_prompt("engine/sample.c", 1500, 800), *c2 = copy_prompt("engine/heal.c", 1200, 300);
    char *d1 = diff_prompt("engine/draft.c", 1500);
    const char *prompts[] = {PROMPTS[0], PROMPTS[1], PROMPTS[2], PROMPTS[3], c1, c2,
                             "def fibonacci(n):\n    if n < 2:\n        return n\n    return", d1};
    double acc = 0;
    check_spec_same(m, NULL, "octet-code", prompts, sizeof prompts / sizeof *prompts, 64, &acc);
    /* a copying answer: most drafts are accepted, several tokens per pass */
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (eng_session_new(&s, m, &err) == 0 && c1) {
        size_t n;
        int32_t *ids = encode(m, c1, &n);
        gen_params_t p;
        plain_params(&p, 0.0f, 128);
        p.speculate = true;
        gen_result_t r;
        run(s, ids, n, &p, &r);
        /* how many tokens a pass verifies follows the timed cost of passes,
         * which another process on the cores moves (1.9 seen at load 4, 5.7-7.7
         * idle): 1.5 still says that drafts were taken several at a time */
        CHECKF(r.accept_rate > 0.6 && r.tok_per_pass > 1.5, "copying: acceptance %.2f, %.2f tokens per pass",
               r.accept_rate, r.tok_per_pass);
        gen_result_free(&r);
        free(ids);
    }
    eng_session_free(s);
    free(c1);
    free(c2);
    free(d1);
    eng_close(m);
}

/* Drafts from a lookup source on SEQ (a text repeating every 10 tokens) in
 * rounds where every draft is accepted and a pass of m tokens costs 1 +
 * 0.1 (m - 1) steps; returns the draft length of the first round. */
static size_t memory_rounds(draft_mem_t *mem, int rounds, size_t *last)
{
    int32_t seq[400];
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++)
        seq[i] = (int32_t)(i % 10);
    draft_cfg_t cfg = {.lookup = true, .k_max = 8, .mem = mem};
    draft_t *d = NULL;
    errmsg_t err = {0};
    size_t first = 0, n = 40;
    *last = 0;
    if (draft_new(&d, &cfg, &err) || draft_push(d, seq, n, &err)) {
        CHECKF(0, "drafter: %s", err.msg);
        draft_free(d);
        return 0;
    }
    for (int r = 0; r < rounds; r++) {
        int32_t out[8];
        size_t k = 0;
        CHECK(draft_propose(d, 8, out, &k, &err) == 0);
        if (r == 0)
            first = k;
        *last = k;
        if (k == 0) {
            draft_pass_time(d, 1, 1e-3); /* the loop decodes one token alone */
            CHECK(draft_push(d, seq + n, 1, &err) == 0);
            n++;
            continue;
        }
        for (size_t i = 0; i < k; i++)
            CHECK_EQ_INT(out[i], seq[n + i]);
        draft_pass_time(d, k + 1, 1e-3 * (1.0 + 0.1 * (double)k));
        draft_result(d, k, k);
        CHECK(draft_push(d, seq + n, k, &err) == 0);
        n += k;
    }
    draft_free(d);
    return first;
}

/* The cost model goes on from what earlier drafters learned (draft_mem_t):
 * a fresh one times a plain step first and ramps its drafts up as they are
 * accepted; the next one, given the same memory, drafts the most at once. */
static void test_spec_memory(void)
{
    size_t last = 0;
    CHECK_EQ_INT(memory_rounds(NULL, 12, &last), 0);
    CHECKF(last == 8, "without memory: %zu drafts after 12 accepted rounds", last);
    draft_mem_t *mem = draft_mem_new();
    CHECK(mem != NULL);
    if (!mem)
        return;
    size_t first = memory_rounds(mem, 12, &last);
    CHECK_EQ_INT(first, 0);
    CHECK_EQ_INT(last, 8);
    first = memory_rounds(mem, 1, &last);
    CHECKF(first == 8, "with memory: %zu drafts in the first round", first);
    draft_mem_free(mem);
}

/* A source that does not pay at its prior acceptance (passes cost 1 + 0.5
 * (m - 1) steps) is still asked for one token every 8th time in a row, and
 * goes back to waiting when that guess fails. */
static void test_spec_probe(void)
{
    int32_t seq[64];
    for (size_t i = 0; i < 64; i++)
        seq[i] = (int32_t)(i % 10);
    draft_cfg_t cfg = {.lookup = true, .k_max = 8};
    draft_t *d = NULL;
    errmsg_t err = {0};
    if (draft_new(&d, &cfg, &err) || draft_push(d, seq, 40, &err)) {
        CHECKF(0, "drafter: %s", err.msg);
        draft_free(d);
        return;
    }
    /* each size timed three times: until then its cost is the prior */
    for (int rep = 0; rep < 3; rep++)
        for (size_t m = 1; m <= 9; m++)
            draft_pass_time(d, m, 1e-3 * (1.0 + 0.5 * (double)(m - 1)));
    for (int round = 0; round < 2; round++) {
        int asked = 0;
        size_t k = 0;
        int32_t out[8];
        while (k == 0 && asked < 20) {
            CHECK(draft_propose(d, 8, out, &k, &err) == 0);
            asked++;
        }
        CHECKF(asked == 8 && k == 1, "round %d: %zu drafts after %d proposals", round, k, asked);
        draft_result(d, 1, 0);
    }
    draft_free(d);
}

/* A draft model: another tiny llama with the same vocabulary, and
 * octet-code drafting for itself (a second copy: every draft should agree). */
static void test_spec_draft_model(void)
{
    static const char *const prompts[] = {"def f(x):\n    return", "x = 1\ny = 2\n", "#include <stdio.h>\n"};
    eng_model_t *m = open_tiny("llama_gqa_f16"), *dm = open_tiny("llama_mha_f32"), *qm = open_tiny("qwen2_gqa_f32");
    eng_session_t *ds = NULL, *qs = NULL, *s = NULL;
    errmsg_t err = {0};
    double acc;
    if (m && dm && eng_session_new(&ds, dm, &err) == 0)
        check_spec_same(m, ds, "llama draft", prompts, 3, 40, &acc);
    /* another vocabulary is refused */
    if (m && qm && eng_session_new(&qs, qm, &err) == 0 && eng_session_new(&s, m, &err) == 0) {
        size_t n;
        int32_t *ids = encode(m, "x = 1", &n);
        gen_params_t p;
        plain_params(&p, 0.0f, 8);
        p.speculate = true;
        p.spec.draft = qs;
        gen_result_t r;
        CHECK_EQ_INT(gen_run(s, ids, n, &p, &r, &err), OCT_EINVAL);
        CHECK(strstr(err.msg, "vocabulary") != NULL);
        gen_result_free(&r);
        free(ids);
    }
    eng_session_free(ds);
    eng_session_free(qs);
    eng_session_free(s);
    eng_close(m);
    eng_close(dm);
    eng_close(qm);
    m = open_path(SHIPPED, 1024, 64);
    dm = open_path(SHIPPED, 1024, 64);
    ds = NULL;
    if (m && dm && eng_session_new(&ds, dm, &err) == 0) {
        check_spec_same(m, ds, "octet-code self-draft", PROMPTS, N_PROMPTS, 48, &acc);
        CHECKF(acc > 0.9, "a model drafting for itself: acceptance %.3f", acc);
    }
    eng_session_free(ds);
    eng_close(m);
    eng_close(dm);
}

typedef struct fixed_draft {
    int32_t tok[2];
    int calls;
} fixed_draft_t;

static int draft_fixed(void *ud, const int32_t *seq, size_t n, size_t max, int32_t *out, size_t *n_out,
                       errmsg_t *err)
{
    (void)seq;
    (void)n;
    (void)err;
    fixed_draft_t *f = ud;
    f->calls++;
    *n_out = max < 2 ? max : 2;
    memcpy(out, f->tok, *n_out * sizeof *out);
    return 0;
}

/* Chi-square critical value at significance 1e-3 (Wilson-Hilferty). */
static double chi2_crit(int df)
{
    double a = 2.0 / (9.0 * df);
    double c = 1.0 - a + 3.0902 * sqrt(a);
    return df * c * c * c;
}

/* Sampled decoding with drafts: the tokens produced at a drafted position
 * follow the target's distribution, and a draft is accepted with the
 * probability the target gives it (rejection sampling with a one-token
 * draft). Position 0 comes from the prompt's pass; given it is the likeliest
 * token A, position 1 is the first verified position, sampled over many
 * seeds and compared with softmax(logits after prompt + A). */
static void test_spec_distribution(void)
{
    eng_model_t *m = open_tiny("qwen2_gqa_f32");
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (!m || eng_session_new(&s, m, &err)) {
        CHECK(0);
        eng_close(m);
        return;
    }
    uint32_t nv = eng_n_vocab(m);
    size_t n;
    int32_t *ids = encode(m, "def f(x):\n    return x *", &n);
    /* the target's distributions, from plain feeds (end-of-generation
     * tokens excluded, as ignore_eos does below) */
    const tok_t *t = eng_tokenizer(m);
    double *p0 = calloc(nv, sizeof *p0), *p1 = calloc(nv, sizeof *p1);
    CHECK(eng_feed(s, ids, n, &err) == 0);
    const float *l = eng_logits(s);
    double mx = -INFINITY, z = 0;
    int32_t a = 0;
    for (uint32_t i = 0; i < nv; i++)
        if (l[i] > mx) {
            mx = l[i];
            a = (int32_t)i;
        }
    for (uint32_t i = 0; i < nv; i++)
        z += p0[i] = tok_is_eog(t, (int32_t)i) ? 0 : exp(l[i] - mx);
    for (uint32_t i = 0; i < nv; i++)
        p0[i] /= z;
    CHECK(eng_decode(s, a, &err) == 0);
    l = eng_logits(s);
    mx = -INFINITY;
    z = 0;
    int32_t b = 0;
    for (uint32_t i = 0; i < nv; i++)
        if (l[i] > mx) {
            mx = l[i];
            b = (int32_t)i;
        }
    for (uint32_t i = 0; i < nv; i++)
        z += p1[i] = tok_is_eog(t, (int32_t)i) ? 0 : exp(l[i] - mx);
    for (uint32_t i = 0; i < nv; i++)
        p1[i] /= z;
    /* drafts: the likeliest next token (accepted with p1[b]), then any */
    fixed_draft_t fd = {{b, 7}, 0};
    gen_params_t p;
    plain_params(&p, 1.0f, 2);
    p.sample.top_k = 0;
    p.sample.top_p = 1.0f;
    p.sample.min_p = 0.0f;
    p.ignore_eos = true;
    p.speculate = true;
    p.spec.lookup = false;
    p.spec.fn = draft_fixed;
    p.spec.fn_ud = &fd;
    p.spec.fixed_k = true;
    long *count = calloc(nv, sizeof *count);
    long runs = 0, given_a = 0, first_ok = 0;
    for (uint64_t seed = 1; seed <= 6000; seed++) {
        p.sample.seed = seed;
        gen_result_t r;
        if (run(s, ids, n, &p, &r) || r.n_tokens != 2) {
            gen_result_free(&r);
            break;
        }
        runs++;
        if (r.tokens[0] == a) {
            given_a++;
            count[r.tokens[1]]++;
            first_ok += r.tokens[1] == b;
            CHECK_EQ_INT(r.n_drafted, 1); /* one token left to generate: one draft */
            CHECK_EQ_INT(r.n_accepted, r.tokens[1] == b ? 1 : 0);
        }
        gen_result_free(&r);
    }
    CHECK_EQ_INT(runs, 6000);
    /* position 0 (plain sampling): A about as often as p0 says */
    double e0 = p0[a] * runs, sd0 = sqrt(runs * p0[a] * (1 - p0[a]));
    CHECKF(fabs(given_a - e0) < 4 * sd0, "token A %ld times, expected %.0f", given_a, e0);
    /* the draft B is accepted with probability p1[B] */
    double e1 = p1[b] * given_a, sd1 = sqrt(given_a * p1[b] * (1 - p1[b]));
    CHECKF(fabs(first_ok - e1) < 4 * sd1, "draft accepted %ld of %ld times, expected %.0f", first_ok, given_a, e1);
    CHECKF(p1[b] > 0.05 && p1[b] < 0.95, "p1[b] = %.3f: both branches should occur", p1[b]);
    /* chi-square over the tokens with an expected count of 5 or more, the rest pooled */
    double chi2 = 0, rest_e = 0;
    long rest_o = 0;
    int bins = 0;
    for (uint32_t i = 0; i < nv; i++) {
        double e = p1[i] * given_a;
        if (e >= 5) {
            chi2 += (count[i] - e) * (count[i] - e) / e;
            bins++;
        } else {
            rest_e += e;
            rest_o += count[i];
        }
    }
    if (rest_e >= 5) {
        chi2 += (rest_o - rest_e) * (rest_o - rest_e) / rest_e;
        bins++;
    }
    CHECKF(bins >= 5, "only %d bins", bins);
    if (bins >= 2)
        CHECKF(chi2 < chi2_crit(bins - 1), "chi-square %.1f over %d bins (critical %.1f at 1e-3)", chi2, bins,
               chi2_crit(bins - 1));
    free(count);
    free(p0);
    free(p1);
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
    TEST_RUN(test_heal_vocabularies);
    TEST_RUN(test_heal_generate);
    TEST_RUN(test_spec_exact_tiny);
    TEST_RUN(test_spec_exact_shipped);
    TEST_RUN(test_spec_draft_model);
    TEST_RUN(test_spec_memory);
    TEST_RUN(test_spec_probe);
    TEST_RUN(test_spec_distribution);
    TEST_END();
}
