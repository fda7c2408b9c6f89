/* fuzz_openai.c - libFuzzer harness for the HTTP server's request parsing
 * (cli/openai.c): oai_req_parse on the input as a /v1/chat/completions and as
 * a /v1/completions body (not NUL-terminated, as the server receives it),
 * with octet serve's default sampling parameters. Beyond crashes and leaks
 * (ASan/LSan/UBSan) it aborts when a promise is broken:
 * - a refused request gives OCT_EINVAL, status 400, a type and a message,
 *   the output left empty, and an error body (oai_error_json) that is valid
 *   UTF-8 JSON (whatever bytes the message echoes) the client reads back as
 *   the server's error, with the message itself when that is valid UTF-8;
 * - an accepted one has its messages or prompt, every string terminated,
 *   parameters the sampler accepts (sample_new, sample_stop_new), and reads
 *   back the same after the client writes it again (oai_request_json);
 * - its text, cleaned as the server streams it (utf8_clean, whole or in
 *   two pieces), is valid UTF-8 without NUL, and a chunk carrying it
 *   (oai_chunk_json) is read back by the client as the same text;
 * - oai_req_free leaves the request empty.
 * tests/unit/serve/test_openai_fuzz.c #includes this file to replay the corpus and the
 * regressions in `make test`. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_utf8.h"
#include "openai.h"
#include "sample.h"
#include "utf8.h"

#define FUZZ_MAX_TOKENS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

static bool fuzz_empty(const oai_req_t *r)
{
    return !r->msgs && !r->n_msgs && !r->prompt && !r->prompt_len && !r->n_stops;
}

/* The refusal and what the client makes of its body. */
static void fuzz_check_refusal(int rc, const oai_req_t *r, const oai_error_t *e, oai_kind_t kind)
{
    fuzz_require(rc == OCT_EINVAL && e->status == 400 && e->type && !strcmp(e->type, "invalid_request_error"));
    fuzz_require(e->msg[0] && memchr(e->param, '\0', sizeof e->param));
    fuzz_require(r->kind == kind && fuzz_empty(r));
    char *json = oai_error_json(e);
    fuzz_require(json != NULL);
    size_t n = strlen(json);
    fuzz_require(fuzz_utf8_valid(json, n));
    cJSON *root = cJSON_Parse(json);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "error"), "message");
    fuzz_require(cJSON_IsString(msg));
    if (fuzz_utf8_valid(e->msg, strlen(e->msg)))
        fuzz_require(!strcmp(msg->valuestring, e->msg));
    cJSON_Delete(root);
    oai_delta_t d;
    errmsg_t err = {0};
    fuzz_require(oai_delta_parse(json, n, &d, &err) == OCT_EIO && err.code == OCT_EIO && !d.text);
    free(json);
}

/* The last message's content or the prompt, as the server would stream it back. */
static void fuzz_check_text(oai_kind_t kind, const char *text)
{
    size_t n = strlen(text);
    char *whole = malloc(3 * n + 1), *parts = malloc(3 * n + 1);
    fuzz_require(whole && parts);
    size_t wl, pl, ql;
    fuzz_require(utf8_clean(text, n, true, whole, &wl) == n);
    fuzz_require(fuzz_utf8_valid(whole, wl) && !memchr(whole, '\0', wl));
    /* in two pieces: what the first leaves unconsumed goes with the second */
    size_t cut = n / 2;
    size_t used = utf8_clean(text, cut, false, parts, &pl);
    fuzz_require(used <= cut && cut - used < 4);
    fuzz_require(utf8_clean(text + used, n - used, true, parts + pl, &ql) == n - used);
    fuzz_require(pl + ql == wl && !memcmp(whole, parts, wl));

    oai_meta_t m = {kind, "fuzz-1", 1700000000, "fuzz"};
    char *json = oai_chunk_json(&m, false, whole, wl, NULL);
    fuzz_require(json && fuzz_utf8_valid(json, strlen(json)));
    oai_delta_t d;
    errmsg_t err = {0};
    fuzz_require(oai_delta_parse(json, strlen(json), &d, &err) == 0);
    fuzz_require(wl ? d.text && d.len == wl && !memcmp(d.text, whole, wl) : !d.text);
    oai_delta_free(&d);
    free(json);
    free(whole);
    free(parts);
}

/* The client writes R again; the server reads back the same request. */
static void fuzz_check_rewrite(const oai_req_t *r)
{
    oai_gen_t g;
    oai_gen_init(&g);
    g.max_tokens = r->max_tokens;
    g.temperature = r->sp.temp;
    g.stops = (const char *const *)r->stops;
    g.n_stops = r->n_stops;
    char *json = oai_request_json(r->kind, r->msgs, r->n_msgs, r->prompt, &g);
    fuzz_require(json != NULL);
    sample_params_t sp;
    sample_params_default(&sp);
    oai_req_t b;
    oai_error_t e;
    fuzz_require(oai_req_parse(r->kind, json, strlen(json), &sp, FUZZ_MAX_TOKENS, &b, &e) == 0);
    fuzz_require(b.n_msgs == r->n_msgs && b.n_stops == r->n_stops && b.max_tokens == r->max_tokens);
    fuzz_require(b.sp.temp == r->sp.temp && b.stream && b.include_usage);
    for (size_t i = 0; i < r->n_msgs; i++)
        fuzz_require(b.msgs[i].role == r->msgs[i].role && !strcmp(b.msgs[i].content, r->msgs[i].content));
    fuzz_require(!r->prompt || (b.prompt_len == r->prompt_len && !strcmp(b.prompt, r->prompt)));
    for (size_t i = 0; i < r->n_stops; i++)
        fuzz_require(!strcmp(b.stops[i], r->stops[i]));
    oai_req_free(&b);
    free(json);
}

static void fuzz_check_accepted(const oai_req_t *r, oai_kind_t kind)
{
    fuzz_require(r->kind == kind && r->max_tokens >= 1 && r->max_tokens <= (1u << 24));
    if (kind == OAI_CHAT) {
        fuzz_require(r->msgs && r->n_msgs >= 1 && !r->prompt);
        for (size_t i = 0; i < r->n_msgs; i++)
            fuzz_require(r->msgs[i].content && (unsigned)r->msgs[i].role <= CHAT_ROLE_ASSISTANT);
    } else {
        fuzz_require(r->prompt && strlen(r->prompt) == r->prompt_len && !r->msgs && !r->n_msgs);
    }
    fuzz_require(r->n_stops <= OAI_MAX_STOPS);
    for (size_t i = 0; i < r->n_stops; i++)
        fuzz_require(r->stops[i] != NULL);

    /* what octet serve does next with the parameters */
    sampler_t *smp = NULL;
    sample_stop_t *stop = NULL;
    errmsg_t err = {0};
    fuzz_require(sample_new(&smp, &r->sp, 256, &err) == 0);
    sample_free(smp);
    fuzz_require(sample_stop_new(&stop, (const char *const *)r->stops, r->n_stops, &err) == 0);
    sample_stop_free(stop);

    fuzz_check_text(kind, kind == OAI_CHAT ? r->msgs[r->n_msgs - 1].content : r->prompt);
    fuzz_check_rewrite(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact copy: the body is not NUL-terminated */
    char *body = malloc(size ? size : 1);
    fuzz_require(body != NULL);
    memcpy(body, data, size);
    sample_params_t sp;
    sample_params_default(&sp);
    static const oai_kind_t kinds[2] = {OAI_CHAT, OAI_COMPLETION};
    for (int k = 0; k < 2; k++) {
        oai_req_t r;
        oai_error_t e;
        memset(&e, 0, sizeof e);
        int rc = oai_req_parse(kinds[k], body, size, &sp, FUZZ_MAX_TOKENS, &r, &e);
        if (rc)
            fuzz_check_refusal(rc, &r, &e, kinds[k]);
        else
            fuzz_check_accepted(&r, kinds[k]);
        oai_req_free(&r);
        fuzz_require(fuzz_empty(&r) && !r.stream && !r.max_tokens);
    }
    free(body);
    return 0;
}
