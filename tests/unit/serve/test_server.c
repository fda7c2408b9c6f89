/* test_server.c - the OpenAI API layer of octet serve and of the remote
 * client: request validation (each refusal names its field), response and
 * chunk shapes read back by the client's parser, server-sent-event framing
 * split at every byte, UTF-8 clean-up, the Prometheus text and its parse,
 * and the server and client together in one process on a tiny model
 * (streaming, prefix reuse, cancellation from the client side). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openai.h"
#include "remote.h"
#include "server.h"
#include "test.h"

#define TINY "tests/fixtures/tiny/llama_gqa_f16.gguf"

static int parse(oai_kind_t kind, const char *body, oai_req_t *r, oai_error_t *e)
{
    sample_params_t sp;
    sample_params_default(&sp);
    return oai_req_parse(kind, body, strlen(body), &sp, 512, r, e);
}

/* The field a refused BODY is blamed on ("" for none); NULL when accepted. */
static const char *refused_param(oai_kind_t kind, const char *body)
{
    static oai_error_t e;
    oai_req_t r;
    if (parse(kind, body, &r, &e) == 0) {
        oai_req_free(&r);
        return NULL;
    }
    return e.param;
}

static void test_request_ok(void)
{
    oai_req_t r;
    oai_error_t e;
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
                       "{\"role\":\"assistant\",\"content\":null},{\"role\":\"developer\",\"content\":\"d\"}],"
                       "\"max_tokens\":7,\"temperature\":0,\"top_p\":0.5,\"seed\":42,\"stop\":[\"x\",\"yy\"],"
                       "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"top_k\":3,\"min_p\":0.1,"
                       "\"repetition_penalty\":1.1,\"frequency_penalty\":0.5,\"unknown_field\":{\"ignored\":1}}";
    CHECK_EQ_INT(parse(OAI_CHAT, body, &r, &e), 0);
    CHECK_EQ_INT(r.n_msgs, 4);
    CHECK_EQ_INT(r.msgs[0].role, CHAT_ROLE_SYSTEM);
    CHECK_EQ_STR(r.msgs[1].content, "ab");
    CHECK_EQ_STR(r.msgs[2].content, "");
    CHECK_EQ_INT(r.msgs[3].role, CHAT_ROLE_SYSTEM);
    CHECK_EQ_INT(r.max_tokens, 7);
    CHECK(r.sp.temp == 0.0f && r.sp.top_p == 0.5f && r.sp.top_k == 3);
    CHECK(r.seed_set && r.sp.seed == 42);
    CHECK_EQ_INT(r.n_stops, 2);
    CHECK_EQ_STR(r.stops[1], "yy");
    CHECK(r.stream && r.include_usage && !r.ignore_eos);
    CHECK(fabsf(r.sp.repeat_penalty - 1.1f) < 1e-6f && r.sp.freq_penalty == 0.5f);
    oai_req_free(&r);

    CHECK_EQ_INT(parse(OAI_COMPLETION, "{\"prompt\":[\"hello\"],\"stop\":\"\\n\"}", &r, &e), 0);
    CHECK_EQ_STR(r.prompt, "hello");
    CHECK_EQ_INT(r.max_tokens, 512); /* the default given */
    CHECK(!r.seed_set && !r.stream);
    CHECK_EQ_STR(r.stops[0], "\n");
    oai_req_free(&r);
}

static void test_request_refused(void)
{
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"), "");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{} trailing"), "");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "[]"), "");
    CHECK_EQ_STR(refused_param(OAI_CHAT, ""), "");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{}"), "messages");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":\"hi\"}"), "messages");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":[]}"), "messages");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}"),
                 "messages[0].role");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
                                         "\"content\":5}]}"),
                 "messages[1].content");
    CHECK_EQ_STR(refused_param(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}"),
                 "messages[0].content");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":5}"), "prompt");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}"), "prompt");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":[1,2,3]}"), "prompt");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":\"9\"}"), "max_tokens");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":1.5}"), "max_tokens");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":0}"), "max_tokens");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"temperature\":\"hot\"}"), "temperature");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"top_p\":2}"), "top_p");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"stop\":[1]}"), "stop");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"stream\":\"yes\"}"), "stream");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"n\":2}"), "n");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"model\":7}"), "model");
    CHECK_EQ_STR(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"stream_options\":{\"include_usage\":1}}"),
                 "stream_options.include_usage");
    CHECK(refused_param(OAI_COMPLETION, "{\"prompt\":\"x\",\"max_tokens\":null,\"stop\":null}") == NULL);

    oai_req_t r;
    oai_error_t e;
    CHECK(parse(OAI_COMPLETION, "{\"prompt\":\"x\",\"temperature\":500}", &r, &e) != 0);
    CHECK_EQ_INT(e.status, 400);
    CHECK(strstr(e.msg, "temperature") && strstr(e.msg, "500"));
    char *j = oai_error_json(&e);
    CHECK(j && strstr(j, "\"param\":\"temperature\"") && strstr(j, "\"type\":\"invalid_request_error\"") &&
          strstr(j, "\"code\":null"));
    free(j);
}

static void test_shapes_roundtrip(void)
{
    oai_meta_t chat = {OAI_CHAT, "chatcmpl-1", 1700000000, "tiny"};
    oai_meta_t cmpl = {OAI_COMPLETION, "cmpl-1", 1700000000, "tiny"};
    oai_delta_t d;
    errmsg_t err;
    char *j = oai_chunk_json(&chat, true, "", 0, NULL);
    CHECK(j && strstr(j, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}") &&
          strstr(j, "\"object\":\"chat.completion.chunk\"") && strstr(j, "\"finish_reason\":null"));
    free(j);
    j = oai_chunk_json(&chat, false, "a\"b\n", 4, NULL);
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), 0);
    CHECK(d.text && d.len == 4 && !memcmp(d.text, "a\"b\n", 4) && d.finish[0] == '\0');
    oai_delta_free(&d);
    free(j);
    j = oai_chunk_json(&chat, false, "", 0, "length");
    CHECK(j && strstr(j, "\"delta\":{}"));
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), 0);
    CHECK(!d.text);
    CHECK_EQ_STR(d.finish, "length");
    free(j);
    j = oai_chunk_json(&cmpl, false, "xyz", 3, NULL);
    CHECK(j && strstr(j, "\"object\":\"text_completion\"") && strstr(j, "\"text\":\"xyz\""));
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), 0);
    CHECK(d.text && !strcmp(d.text, "xyz"));
    oai_delta_free(&d);
    free(j);
    j = oai_response_json(&chat, "whole", 5, "stop", 10, 5);
    CHECK(j && strstr(j, "\"message\":{\"role\":\"assistant\",\"content\":\"whole\"}") &&
          strstr(j, "\"total_tokens\":15"));
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), 0);
    CHECK(d.text && !strcmp(d.text, "whole") && d.has_usage && d.prompt_tokens == 10 && d.completion_tokens == 5);
    CHECK_EQ_STR(d.finish, "stop");
    oai_delta_free(&d);
    free(j);
    j = oai_usage_chunk_json(&cmpl, 3, 4);
    CHECK(j && strstr(j, "\"choices\":[]"));
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), 0);
    CHECK(d.has_usage && d.completion_tokens == 4 && !d.text);
    free(j);
    /* an error event is an error for the client, with the server's message */
    oai_error_t e = {503, "server_error", "", "busy now"};
    j = oai_error_json(&e);
    CHECK_EQ_INT(oai_delta_parse(j, strlen(j), &d, &err), OCT_EIO);
    CHECK(strstr(err.msg, "busy now") != NULL);
    free(j);
    CHECK_EQ_INT(oai_delta_parse("not json", 8, &d, &err), OCT_EFORMAT);
    j = oai_models_json("tiny", 5, true);
    CHECKF(j && strstr(j, "\"id\":\"tiny\"") && strstr(j, "\"object\":\"model\"") &&
               strstr(j, "\"capabilities\":[\"completion\",\"chat\"]"),
           "%s", j);
    free(j);
    j = oai_models_json("base", 5, false);
    CHECKF(j && strstr(j, "\"capabilities\":[\"completion\"]"), "%s", j);
    free(j);
    char *f = oai_sse_frame("{}");
    CHECK_EQ_STR(f, "data: {}\n\n");
    free(f);
}

static void test_request_json(void)
{
    oai_gen_t g;
    oai_gen_init(&g);
    const char *stops[] = {"END"};
    g.model = "m";
    g.max_tokens = 9;
    g.temperature = 0;
    g.seed = 5;
    g.stops = stops;
    g.n_stops = 1;
    chat_msg_t msgs[2] = {{CHAT_ROLE_SYSTEM, "s"}, {CHAT_ROLE_USER, "u"}};
    char *j = oai_request_json(OAI_CHAT, msgs, 2, NULL, &g);
    /* what the client writes, the server reads back */
    oai_req_t r;
    oai_error_t e;
    CHECK_EQ_INT(parse(OAI_CHAT, j, &r, &e), 0);
    CHECK(r.n_msgs == 2 && r.msgs[0].role == CHAT_ROLE_SYSTEM && !strcmp(r.msgs[1].content, "u"));
    CHECK(r.max_tokens == 9 && r.sp.temp == 0.0f && r.seed_set && r.sp.seed == 5 && r.stream && r.include_usage);
    CHECK(r.n_stops == 1 && !strcmp(r.stops[0], "END"));
    CHECK(strstr(j, "top_k") == NULL); /* unset fields are not sent */
    oai_req_free(&r);
    free(j);
}

typedef struct events {
    char all[512];
    int n;
} events_t;

static int on_ev(void *ud, const char *data, size_t len)
{
    events_t *ev = ud;
    size_t o = strlen(ev->all);
    snprintf(ev->all + o, sizeof ev->all - o, "[%.*s]", (int)len, data);
    ev->n++;
    return 0;
}

static void test_sse_parse(void)
{
    const char *stream = ": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata:two\ndata: lines\n\n"
                         "id: 3\n\ndata: [DONE]\n\n";
    /* every split point gives the same events */
    for (size_t cut = 0; cut <= strlen(stream); cut++) {
        oai_sse_t s;
        events_t ev = {"", 0};
        oai_sse_init(&s);
        CHECK_EQ_INT(oai_sse_push(&s, stream, cut, on_ev, &ev), 0);
        CHECK_EQ_INT(oai_sse_push(&s, stream + cut, strlen(stream) - cut, on_ev, &ev), 0);
        CHECKF(!strcmp(ev.all, "[{\"a\":1}][two\nlines][[DONE]]"), "cut %zu: %s", cut, ev.all);
        oai_sse_free(&s);
    }
}

static void test_metrics_text(void)
{
    srv_stats_t st;
    memset(&st, 0, sizeof st);
    st.mem.n_dev = 1;
    snprintf(st.mem.dev[0].name, sizeof st.mem.dev[0].name, "cuda:0 \"GPU\"");
    st.mem.dev[0].dev_total = 1000;
    st.mem.dev[0].dev_free = 400;
    st.mem.weights = 11;
    st.mem.kv = 22;
    st.kv_used = 30;
    st.kv_size = 120;
    st.tok_s = 55.5;
    st.queue_len = 2;
    st.generated_total = 99;
    st.n_counts = 1;
    snprintf(st.counts[0].endpoint, sizeof st.counts[0].endpoint, "completions");
    st.counts[0].code = 503;
    st.counts[0].n = 4;
    char *t = srv_metrics_text(&st);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK(strstr(t, "# TYPE octet_memory_used_bytes gauge\noctet_memory_used_bytes{device=\"cuda:0 \\\"GPU\\\"\","
                    "memory=\"vram\"} 600\n") != NULL);
    CHECK(strstr(t, "# TYPE octet_requests_total counter\n") && strstr(t, "# HELP octet_requests_total "));
    CHECK(strstr(t, "octet_requests_total{endpoint=\"completions\",code=\"503\"} 4\n") != NULL);
    CHECK(strstr(t, "\noctet_queue_length 2\n") && strstr(t, "\noctet_generated_tokens_total 99\n"));
    remote_metrics_t m;
    remote_metrics_parse(t, strlen(t), &m);
    CHECK(m.has_mem && !m.mem_ram && m.mem_used == 600 && m.mem_free == 400 && m.mem_total == 1000);
    CHECK(m.weights == 11 && m.kv_bytes == 22 && m.kv_tokens_used == 30 && m.kv_tokens_size == 120);
    CHECK(fabs(m.kv_usage - 0.25) < 1e-9 && fabs(m.tok_s - 55.5) < 1e-9 && m.queue_len == 2);
    free(t);
    /* a CPU engine: RAM figures, labelled so */
    memset(&st, 0, sizeof st);
    st.ram = true;
    st.ram_total = 100;
    st.ram_avail = 75;
    t = srv_metrics_text(&st);
    remote_metrics_parse(t, strlen(t), &m);
    CHECK(m.has_mem && m.mem_ram && m.mem_used == 25 && m.mem_total == 100);
    free(t);
    /* another server's metrics: vLLM's KV usage, no memory figures */
    const char *vllm = "# HELP vllm:gpu_cache_usage_perc x\nvllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n"
                       "vllm:num_requests_waiting{model_name=\"m\"} 3.0\n";
    remote_metrics_parse(vllm, strlen(vllm), &m);
    CHECK(!m.has_mem && m.kv_usage == 0.5 && m.queue_len == 3 && m.weights == -1 && m.tok_s < 0);
}

/* ---- server and client in one process ------------------------------------------ */

typedef struct collect {
    char text[8192];
    size_t len;
    int calls;
    atomic_int *cancel_after; /* set the flag after this many pieces (when not NULL) */
    int cancel_at;
} collect_t;

static int on_text(void *ud, const char *t, size_t n)
{
    collect_t *c = ud;
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, t, n);
        c->len += n;
    }
    if (++c->calls == c->cancel_at && c->cancel_after)
        atomic_store(c->cancel_after, 1);
    return 0;
}

static void test_server_and_client(void)
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
    cfg.token_delay_ms = 2;
    srv_t *s = NULL;
    CHECKF(srv_start(&s, m, &cfg, &err) == 0, "%s", err.msg);
    if (!s) {
        eng_close(m);
        return;
    }
    CHECK(srv_port(s) > 0);
    CHECK_EQ_STR(srv_template_name(s), "llama3");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/", srv_port(s));
    remote_t *r = NULL;
    CHECKF(remote_open(&r, url, "secret", &err) == 0, "%s", err.msg);
    const char *id = NULL;
    CHECKF(remote_model(r, &id, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(id, "tiny");

    oai_gen_t g;
    oai_gen_init(&g);
    g.max_tokens = 12;
    g.temperature = 0;
    remote_result_t res;
    collect_t c1 = {.len = 0}, c2 = {.len = 0};
    CHECKF(remote_complete(r, "int x", &g, on_text, &c1, NULL, &res, &err) == 0, "%s", err.msg);
    CHECK(c1.len > 0 && res.completion_tokens >= 1 && res.completion_tokens <= 12 && res.prompt_tokens >= 2);
    CHECK(!strcmp(res.finish, "length") || !strcmp(res.finish, "stop"));
    /* the same greedy request again: its prefix comes from the KV cache, the text is the same */
    CHECKF(remote_complete(r, "int x", &g, on_text, &c2, NULL, &res, &err) == 0, "%s", err.msg);
    CHECK(c1.len == c2.len && !memcmp(c1.text, c2.text, c1.len));

    chat_msg_t msgs[1] = {{CHAT_ROLE_USER, "hi"}};
    collect_t c3 = {.len = 0};
    g.max_tokens = 4;
    CHECKF(remote_chat(r, msgs, 1, &g, on_text, &c3, NULL, &res, &err) == 0, "%s", err.msg);
    CHECK(res.completion_tokens >= 1 && res.completion_tokens <= 4);

    /* canceled by the client after 3 pieces of a long answer */
    atomic_int cancel = 0;
    collect_t c4 = {.len = 0, .cancel_after = &cancel, .cancel_at = 3};
    g.max_tokens = 200;
    CHECK_EQ_INT(remote_complete(r, "long", &g, on_text, &c4, &cancel, &res, &err), OCT_ECANCELED);
    CHECK(c4.calls >= 3 && c4.calls < 100);
    /* the server notices and stops the generation */
    srv_stats_t *st = malloc(sizeof *st);
    bool stopped = false;
    for (int i = 0; i < 200 && st && !stopped; i++) {
        srv_stats_get(s, st);
        stopped = st->in_flight == 0 && !st->generating && st->canceled_total == 1;
        if (!stopped)
            nanosleep(&(struct timespec){0, 10000000L}, NULL);
    }
    CHECK(stopped);
    if (st)
        CHECK(st->generated_total < 12 + 12 + 4 + 100);
    free(st);

    /* a refused request: the server's message reaches the caller */
    g.max_tokens = 0;
    g.temperature = 7000;
    CHECK_EQ_INT(remote_complete(r, "x", &g, on_text, &c4, NULL, &res, &err), OCT_EIO);
    CHECK(strstr(err.msg, "HTTP 400") && strstr(err.msg, "temperature"));
    remote_metrics_t mt;
    CHECKF(remote_metrics(r, &mt, &err) == 0, "%s", err.msg);
    CHECK(mt.has_mem && mt.kv_tokens_size == 256 && mt.weights > 0);
    remote_close(r);
    srv_stop(s);
    eng_close(m);

    /* nothing listening there any more */
    CHECK_EQ_INT(remote_open(&r, url, NULL, &err), 0);
    CHECK_EQ_INT(remote_metrics(r, &mt, &err), OCT_EIO);
    remote_close(r);
    CHECK(remote_open(&r, "ftp://x", NULL, &err) == OCT_EINVAL && strstr(err.msg, "http://"));
}

int main(void)
{
    TEST_RUN(test_request_ok);
    TEST_RUN(test_request_refused);
    TEST_RUN(test_shapes_roundtrip);
    TEST_RUN(test_request_json);
    TEST_RUN(test_sse_parse);
    TEST_RUN(test_metrics_text);
    TEST_RUN(test_server_and_client);
    TEST_END();
}
