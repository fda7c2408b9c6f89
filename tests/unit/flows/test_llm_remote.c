/* test_llm_remote.c - the workflows' model on a remote engine (flows/llm_remote.c)
 * against a real octet server started in this process on a tiny model:
 * each reply drawn with seed + calls (the same text as a direct request with
 * that seed), a complete reply stopping the transfer and the server's
 * generation, chat and completion requests, the cancel flag, the context
 * read from /metrics, and a dead URL. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"
#include "remote.h"
#include "server.h"
#include "test.h"

#define TINY "tests/fixtures/tiny/llama_gqa_f16.gguf"

typedef struct text {
    char buf[8192];
    size_t len;
    int pieces;
} text_t;

static int collect(void *ud, const char *t, size_t n)
{
    text_t *c = ud;
    if (c->len + n < sizeof c->buf) {
        memcpy(c->buf + c->len, t, n);
        c->len += n;
        c->buf[c->len] = '\0';
    }
    c->pieces++;
    return 0;
}

static void on_text(void *ud, const char *t, size_t n) { collect(ud, t, n); }

/* done after the third piece (UD counts the calls) */
static bool done_at_3(const char *reply, void *ud)
{
    int *calls = ud;
    (void)reply;
    return ++*calls >= 3;
}

static void test_llm_remote(void)
{
    eng_opts_t o;
    eng_opts_default(&o);
    o.n_ctx = 256;
    o.n_threads = 1;
    eng_model_t *m = NULL;
    errmsg_t err = {0};
    CHECKF(eng_open(&m, TINY, &o, &err) == 0, "%s", err.msg);
    if (!m)
        return;
    srv_cfg_t cfg;
    srv_cfg_default(&cfg);
    cfg.port = 0;
    cfg.model_id = "tiny";
    cfg.token_delay_ms = 2; /* a long answer outlasts the client's leaving */
    srv_t *s = NULL;
    CHECKF(srv_start(&s, m, &cfg, &err) == 0, "%s", err.msg);
    if (!s) {
        eng_close(m);
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", srv_port(s));
    remote_t *r = NULL;
    CHECKF(remote_open(&r, url, NULL, &err) == 0, "%s", err.msg);
    if (!r)
        goto done;
    CHECK_EQ_INT(llm_remote_ctx(r), 256);

    /* completion: two replies draw with seeds 7 and 8, as direct requests do */
    oai_gen_t g;
    oai_gen_init(&g);
    g.max_tokens = 24;
    g.temperature = 1.0;
    g.seed = 7;
    llm_remote_t rl;
    llm_t llm;
    llm_remote_init(&rl, r, &g, true, &llm);
    CHECK(!llm.chat && llm.ud == &rl);
    text_t streamed = {.len = 0};
    rl.on_text = on_text;
    rl.text_ud = &streamed;
    char *a = NULL, *b = NULL;
    CHECKF(llm.generate(llm.ud, NULL, 0, "int x", NULL, NULL, &a, &err) == 0, "%s", err.msg);
    CHECKF(llm.generate(llm.ud, NULL, 0, "int x", NULL, NULL, &b, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(rl.calls, 2);
    CHECK(rl.last.completion_tokens >= 1 && rl.last.completion_tokens <= 24);
    text_t d7 = {.len = 0}, d8 = {.len = 0};
    remote_result_t res;
    CHECKF(remote_complete(r, "int x", &g, collect, &d7, NULL, &res, &err) == 0, "%s", err.msg);
    g.seed = 8;
    CHECKF(remote_complete(r, "int x", &g, collect, &d8, NULL, &res, &err) == 0, "%s", err.msg);
    CHECK(strcmp(d7.buf, d8.buf) != 0); /* the two seeds draw different text: the comparison below tells */
    CHECK(a && !strcmp(a, d7.buf));
    CHECK(b && !strcmp(b, d8.buf));
    /* on_text saw both replies, piece by piece */
    CHECK(a && b && streamed.len == strlen(a) + strlen(b) && !strncmp(streamed.buf, a, strlen(a)));
    free(a);
    free(b);
    a = b = NULL;

    /* a reply complete after 3 pieces: the transfer stops and so does the server */
    srv_stats_t *st = malloc(sizeof *st);
    if (st) {
        srv_stats_get(s, st);
        uint64_t canceled0 = st->canceled_total, generated0 = st->generated_total;
        oai_gen_init(&g);
        g.max_tokens = 200;
        g.temperature = 0;
        llm_remote_init(&rl, r, &g, true, &llm);
        text_t pieces = {.len = 0};
        rl.on_text = on_text;
        rl.text_ud = &pieces;
        int calls = 0;
        CHECKF(llm.generate(llm.ud, NULL, 0, "long", done_at_3, &calls, &a, &err) == 0, "%s", err.msg);
        CHECK_EQ_INT(calls, 3);
        CHECK_EQ_INT(pieces.pieces, 3);
        CHECK(a && strlen(a) == pieces.len);
        bool stopped = false;
        for (int i = 0; i < 300 && !stopped; i++) {
            srv_stats_get(s, st);
            stopped = st->in_flight == 0 && !st->generating && st->canceled_total == canceled0 + 1;
            if (!stopped)
                nanosleep(&(struct timespec){0, 10000000L}, NULL);
        }
        CHECK(stopped);
        CHECK(st->generated_total - generated0 < 200);
        free(st);
        free(a);
        a = NULL;
    }

    /* chat: the messages go to /chat/completions */
    oai_gen_init(&g);
    g.max_tokens = 6;
    g.temperature = 0;
    llm_remote_init(&rl, r, &g, false, &llm);
    CHECK(llm.chat);
    chat_msg_t msgs[2] = {{CHAT_ROLE_SYSTEM, "Be brief."}, {CHAT_ROLE_USER, "hi"}};
    CHECKF(llm.generate(llm.ud, msgs, 2, NULL, NULL, NULL, &a, &err) == 0, "%s", err.msg);
    CHECK(a != NULL && rl.last.completion_tokens >= 1 && rl.last.completion_tokens <= 6);
    free(a);
    a = NULL;

    /* the cancel flag: stopped, no reply */
    atomic_int cancel = 1;
    rl.cancel = &cancel;
    CHECK_EQ_INT(llm.generate(llm.ud, msgs, 2, NULL, NULL, NULL, &a, &err), OCT_ECANCELED);
    CHECK(a == NULL);

    /* a refusal: the server's message */
    oai_gen_init(&g);
    g.temperature = 7000;
    llm_remote_init(&rl, r, &g, true, &llm);
    CHECK_EQ_INT(llm.generate(llm.ud, NULL, 0, "x", NULL, NULL, &a, &err), OCT_EIO);
    CHECK(a == NULL && strstr(err.msg, "HTTP 400") && strstr(err.msg, "temperature"));
done:
    remote_close(r);
    srv_stop(s);
    eng_close(m);
}

static void test_llm_remote_dead(void)
{
    remote_t *r = NULL;
    errmsg_t err = {0};
    CHECKF(remote_open(&r, "http://127.0.0.1:1/v1", NULL, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    CHECK_EQ_INT(llm_remote_ctx(r), 0);
    oai_gen_t g;
    oai_gen_init(&g);
    llm_remote_t rl;
    llm_t llm;
    llm_remote_init(&rl, r, &g, false, &llm);
    chat_msg_t msg = {CHAT_ROLE_USER, "hi"};
    char *reply = NULL;
    CHECK_EQ_INT(llm.generate(llm.ud, &msg, 1, NULL, NULL, NULL, &reply, &err), OCT_EIO);
    CHECK(reply == NULL && strstr(err.msg, "127.0.0.1:1"));
    remote_close(r);
}

int main(void)
{
    TEST_RUN(test_llm_remote);
    TEST_RUN(test_llm_remote_dead);
    TEST_END();
}
