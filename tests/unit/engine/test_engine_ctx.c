/* test_engine_ctx.c - eng_set_context: resizing the context and KV format with
 * the weights kept gives the same logits as opening the model afresh. */
#include <stdlib.h>

#include "engine.h"
#include "test.h"

#define MODEL "tests/fixtures/tiny/qwen2_gqa_f32.gguf"

static eng_model_t *open_model(uint32_t n_ctx, eng_kvfmt_t kv)
{
    eng_opts_t o;
    errmsg_t err = {0};
    eng_opts_default(&o);
    o.wfmt = ENG_W_F32;
    o.kvfmt = kv;
    o.n_ctx = n_ctx;
    o.n_threads = 1;
    o.backend = "cpu";
    eng_model_t *m = NULL;
    CHECKF(eng_open(&m, MODEL, &o, &err) == 0, "%s", err.msg);
    return m;
}

static int feed_logits(eng_model_t *m, float *out, uint32_t *n_ctx)
{
    static const int32_t ids[] = {1, 7, 42, 99, 3, 250, 17, 8};
    errmsg_t err = {0};
    eng_session_t *s = NULL;
    if (eng_session_new(&s, m, &err))
        return -1;
    int rc = eng_feed(s, ids, sizeof ids / sizeof ids[0], &err);
    if (rc == 0) {
        for (uint32_t i = 0; i < eng_n_vocab(m); i++)
            out[i] = eng_logits(s)[i];
        *n_ctx = eng_n_ctx(s);
    }
    eng_session_free(s);
    return rc;
}

static void test_resize_matches_fresh_open(void)
{
    errmsg_t err = {0};
    eng_model_t *m = open_model(256, ENG_KV_INT8);
    eng_model_t *fresh = open_model(64, ENG_KV_F16);
    if (!m || !fresh)
        goto done;
    size_t nv = eng_n_vocab(m);
    float *a = malloc(nv * sizeof *a), *b = malloc(nv * sizeof *b);
    eng_session_t *s = NULL;
    CHECK(eng_session_new(&s, m, &err) == 0);
    CHECK(eng_set_context(m, 64, ENG_KV_F16, &err) == OCT_EINVAL); /* a session is open */
    CHECK(strstr(err.msg, "session") != NULL);
    eng_session_free(s);
    CHECK(eng_set_context(m, 0x2000000u, ENG_KV_F16, &err) == OCT_EINVAL);
    CHECKF(eng_set_context(m, 64, ENG_KV_F16, &err) == 0, "%s", err.msg);

    uint32_t ca = 0, cb = 0;
    CHECK(feed_logits(m, a, &ca) == 0);
    CHECK(feed_logits(fresh, b, &cb) == 0);
    CHECK_EQ_INT(ca, 64);
    CHECK_EQ_INT(cb, 64);
    int same = 1;
    for (size_t i = 0; i < nv; i++)
        same &= a[i] == b[i];
    CHECKF(same, "logits after eng_set_context differ from a fresh open");

    eng_mem_t ma, mb;
    eng_memory(m, NULL, &ma);
    eng_memory(fresh, NULL, &mb);
    CHECK_EQ_INT(ma.kv, mb.kv);
    free(a);
    free(b);
done:
    eng_close(m);
    eng_close(fresh);
}

int main(void)
{
    TEST_RUN(test_resize_matches_fresh_open);
    TEST_END();
}
