/* remote.c - the remote OpenAI-compatible engine client on libcurl (see remote.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "lazylib.h"
#include "remote.h"

#define BODY_MAX (4u << 20) /* most bytes of a non-streamed body kept (metrics, errors) */

struct remote {
    char *base; /* the API base: .../v1 */
    char *root; /* the server root: /metrics lives there */
    char *auth; /* "Authorization: Bearer ..." or NULL */
    pthread_mutex_t mu;
    char *model; /* remote_model's answer, under MU */
    char *models; /* the body of GET /models (remote_model_chat), under MU */
};

/* libcurl, opened by the first remote_open (lazylib.h says why) */
static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
} cu;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static errmsg_t g_init_err;

static void curl_init_once(void)
{
    const lazylib_sym_t syms[] = {
        {"curl_global_init", &cu.global_init},     {"curl_easy_init", &cu.easy_init},
        {"curl_easy_setopt", &cu.easy_setopt},     {"curl_easy_perform", &cu.easy_perform},
        {"curl_easy_getinfo", &cu.easy_getinfo},   {"curl_easy_strerror", &cu.easy_strerror},
        {"curl_easy_cleanup", &cu.easy_cleanup},   {"curl_slist_append", &cu.slist_append},
        {"curl_slist_free_all", &cu.slist_free_all},
    };
    if (lazylib_open("libcurl.so.4", syms, sizeof syms / sizeof syms[0], &g_init_err))
        return;
    CURLcode c = cu.global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK)
        errmsg_set(&g_init_err, OCT_EINTERNAL, "libcurl failed to initialize: %s", cu.easy_strerror(c));
}

int remote_open(remote_t **out, const char *url, const char *api_key, errmsg_t *err)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
        return errmsg_set(err, OCT_EINVAL, "remote engine URL '%s' must start with http:// or https://",
                          url ? url : "");
    pthread_once(&g_once, curl_init_once);
    if (g_init_err.code)
        return errmsg_set(err, g_init_err.code, "%s", g_init_err.msg);
    remote_t *r = calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/')
        n--;
    r->base = strndup(url, n);
    size_t rn = n >= 3 && !strncmp(url + n - 3, "/v1", 3) ? n - 3 : n;
    r->root = strndup(url, rn);
    if (api_key && *api_key) {
        size_t l = strlen(api_key) + 32;
        if ((r->auth = malloc(l)))
            snprintf(r->auth, l, "Authorization: Bearer %s", api_key);
    }
    if (!r->base || !r->root || (api_key && *api_key && !r->auth)) {
        remote_close(r);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

void remote_close(remote_t *r)
{
    if (!r)
        return;
    free(r->base);
    free(r->root);
    free(r->auth);
    free(r->model);
    free(r->models);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const char *remote_url(const remote_t *r) { return r->base; }

/* ---- one transfer ----------------------------------------------------------- */

typedef struct xfer {
    CURL *c;
    long status;
    bool stream, sse_known, is_sse;
    oai_sse_t sse;
    remote_text_fn fn;
    void *ud;
    const atomic_int *cancel;
    remote_result_t *res;
    bool done_seen, canceled;
    int fail; /* an error found in a callback; ERR holds its message */
    long timeout_s; /* whole transfer, for requests without a body; 0: 10 s */
    errmsg_t *err;
    char *body;
    size_t len, cap;
} xfer_t;

static bool body_put(xfer_t *x, const char *p, size_t n)
{
    if (x->len + n > BODY_MAX)
        n = BODY_MAX - x->len;
    if (x->len + n + 1 > x->cap) {
        size_t cap = (x->cap ? x->cap * 2 : 4096) + n + 1;
        char *nb = realloc(x->body, cap);
        if (!nb)
            return false;
        x->body = nb;
        x->cap = cap;
    }
    memcpy(x->body + x->len, p, n);
    x->len += n;
    x->body[x->len] = '\0';
    return true;
}

static int deliver(xfer_t *x, const char *text, size_t len)
{
    if (x->fn(x->ud, text, len)) {
        x->canceled = true;
        return OCT_ECANCELED;
    }
    return 0;
}

/* One parsed chunk (or whole response) into the result and the callback. */
static int take_delta(xfer_t *x, const char *json, size_t len)
{
    oai_delta_t d;
    int rc = oai_delta_parse(json, len, &d, x->err);
    if (rc)
        return x->fail = rc;
    if (d.finish[0])
        memcpy(x->res->finish, d.finish, sizeof x->res->finish);
    if (d.has_usage) {
        x->res->prompt_tokens = d.prompt_tokens;
        x->res->completion_tokens = d.completion_tokens;
    }
    if (d.text)
        rc = deliver(x, d.text, d.len);
    oai_delta_free(&d);
    return rc;
}

static int on_event(void *ud, const char *data, size_t len)
{
    xfer_t *x = ud;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        x->done_seen = true;
        return 0;
    }
    return take_delta(x, data, len);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (x->cancel && atomic_load(x->cancel)) {
        x->canceled = true;
        return 0;
    }
    if (!x->status)
        cu.easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
    if (!x->sse_known) {
        char *ct = NULL;
        cu.easy_getinfo(x->c, CURLINFO_CONTENT_TYPE, &ct);
        x->is_sse = ct && !strncmp(ct, "text/event-stream", 17);
        x->sse_known = true;
    }
    if (!x->stream || !x->is_sse || x->status >= 300)
        return body_put(x, p, n) ? n : 0;
    int rc = oai_sse_push(&x->sse, p, n, on_event, x);
    if (rc == OCT_ENOMEM && !x->fail)
        x->fail = errmsg_set(x->err, OCT_ENOMEM, "the server's event stream has a line over %u MiB (or memory ran "
                                                 "out)", OAI_SSE_MAX >> 20);
    return rc ? 0 : n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    xfer_t *x = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    return x->cancel && atomic_load(x->cancel) ? 1 : 0;
}

/* GET (POST_BODY NULL) or POST URL. */
static int perform(remote_t *r, xfer_t *x, const char *url, const char *post_body)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL, *nh;
    int rc = 0;
    if (!(x->c = cu.easy_init()))
        return errmsg_set(x->err, OCT_ENOMEM, "cannot create a libcurl handle");
    const char *hdrs[] = {post_body ? "Content-Type: application/json" : NULL,
                          x->stream ? "Accept: text/event-stream" : NULL, r->auth};
    for (size_t i = 0; i < 3; i++) {
        if (!hdrs[i])
            continue;
        if (!(nh = cu.slist_append(h, hdrs[i]))) {
            rc = errmsg_set(x->err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        h = nh;
    }
    cu.easy_setopt(x->c, CURLOPT_URL, url);
    cu.easy_setopt(x->c, CURLOPT_HTTPHEADER, h);
    cu.easy_setopt(x->c, CURLOPT_WRITEFUNCTION, on_write);
    cu.easy_setopt(x->c, CURLOPT_WRITEDATA, x);
    cu.easy_setopt(x->c, CURLOPT_NOPROGRESS, 0L);
    cu.easy_setopt(x->c, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu.easy_setopt(x->c, CURLOPT_XFERINFODATA, x);
    cu.easy_setopt(x->c, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(x->c, CURLOPT_CONNECTTIMEOUT, 10L);
    cu.easy_setopt(x->c, CURLOPT_ERRORBUFFER, errbuf);
    cu.easy_setopt(x->c, CURLOPT_USERAGENT, "octet/" OCTET_VERSION);
    if (post_body)
        cu.easy_setopt(x->c, CURLOPT_POSTFIELDS, post_body);
    else
        cu.easy_setopt(x->c, CURLOPT_TIMEOUT, x->timeout_s ? x->timeout_s : 10L);
    CURLcode cc = cu.easy_perform(x->c);
    cu.easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->canceled || (x->cancel && atomic_load(x->cancel))) {
        rc = errmsg_set(x->err, OCT_ECANCELED, "canceled");
    } else if (x->fail) {
        rc = x->fail;
    } else if (cc != CURLE_OK) {
        rc = errmsg_set(x->err, OCT_EIO, "%s: %s", url, errbuf[0] ? errbuf : cu.easy_strerror(cc));
    } else if (x->status >= 400) {
        char msg[300];
        if (!x->body || !oai_error_message(x->body, x->len, msg, sizeof msg))
            snprintf(msg, sizeof msg, "%.200s", x->body ? x->body : "");
        rc = errmsg_set(x->err, x->status == 404 ? OCT_ENOTFOUND : OCT_EIO, "%s answered HTTP %ld: %s", url,
                        x->status, msg);
    }
done:
    cu.slist_free_all(h);
    cu.easy_cleanup(x->c);
    x->c = NULL;
    /* the message may quote the server: no escape sequences reach a terminal */
    if (rc && x->err)
        for (char *c = x->err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = ' ';
    return rc;
}

int remote_model(remote_t *r, const char **id, errmsg_t *err)
{
    pthread_mutex_lock(&r->mu);
    const char *m = r->model;
    pthread_mutex_unlock(&r->mu);
    if (m) {
        *id = m;
        return 0;
    }
    char url[2048];
    snprintf(url, sizeof url, "%s/models", r->base);
    remote_result_t res;
    xfer_t x = {.err = err, .res = &res};
    int rc = perform(r, &x, url, NULL);
    if (rc == 0) {
        cJSON *root = cJSON_ParseWithLength(x.body ? x.body : "", x.len);
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "data"), 0);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(first, "id");
        if (cJSON_IsString(v)) {
            pthread_mutex_lock(&r->mu);
            if (!r->model)
                r->model = strdup(v->valuestring);
            m = r->model;
            pthread_mutex_unlock(&r->mu);
            if (!m)
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        } else {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: no model listed (expected {\"data\":[{\"id\":...}]})", url);
        }
        cJSON_Delete(root);
    }
    free(x.body);
    *id = m;
    return rc;
}

/* Whether the capabilities array ITEM lists (Ollama's form, also octet
 * serve's) holds "chat": 1 yes, 0 no, -1 no such array. */
static int caps_chat(const cJSON *model)
{
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(model, "capabilities"), *c;
    if (!cJSON_IsArray(caps))
        return -1;
    cJSON_ArrayForEach(c, caps)
        if (cJSON_IsString(c) && !strcmp(c->valuestring, "chat"))
            return 1;
    return 0;
}

int remote_model_chat(remote_t *r, const char *model)
{
    pthread_mutex_lock(&r->mu);
    char *body = r->models ? strdup(r->models) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (!body) {
        char url[2048];
        remote_result_t res;
        errmsg_t err = {0};
        xfer_t x = {.err = &err, .res = &res};
        snprintf(url, sizeof url, "%s/models", r->base);
        int rc = perform(r, &x, url, NULL);
        if (rc || !x.body) {
            free(x.body);
            return -1; /* unreachable now: the request itself will say why */
        }
        body = x.body;
        pthread_mutex_lock(&r->mu);
        if (!r->models)
            r->models = strdup(body);
        pthread_mutex_unlock(&r->mu);
    }
    cJSON *root = cJSON_Parse(body);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data"), *m, *pick = NULL;
    cJSON_ArrayForEach(m, data) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (!pick && (!model || (cJSON_IsString(id) && !strcmp(id->valuestring, model))))
            pick = m;
    }
    int chat = pick ? caps_chat(pick) : -1;
    cJSON_Delete(root);
    free(body);
    return chat;
}

static int stream_call(remote_t *r, oai_kind_t kind, const chat_msg_t *msgs, size_t n, const char *prompt,
                       const oai_gen_t *g, remote_text_fn fn, void *ud, const atomic_int *cancel,
                       remote_result_t *res, errmsg_t *err)
{
    oai_gen_t gen = *g;
    int rc;
    memset(res, 0, sizeof *res);
    res->prompt_tokens = res->completion_tokens = -1;
    if (!gen.model && (rc = remote_model(r, &gen.model, err)))
        return rc;
    char *body = oai_request_json(kind, msgs, n, prompt, &gen);
    if (!body)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    char url[2048];
    snprintf(url, sizeof url, "%s/%s", r->base, kind == OAI_CHAT ? "chat/completions" : "completions");
    xfer_t x = {.stream = true, .fn = fn, .ud = ud, .cancel = cancel, .res = res, .err = err};
    oai_sse_init(&x.sse);
    rc = perform(r, &x, url, body);
    if (rc == 0 && !x.is_sse) {
        /* a server that answered with one JSON object instead of a stream */
        rc = take_delta(&x, x.body ? x.body : "", x.len);
    } else if (rc == 0 && !x.done_seen && !res->finish[0]) {
        rc = errmsg_set(err, OCT_EIO, "%s: the connection closed before the answer ended", url);
    }
    oai_sse_free(&x.sse);
    free(x.body);
    free(body);
    return rc;
}

int remote_chat(remote_t *r, const chat_msg_t *msgs, size_t n, const oai_gen_t *g, remote_text_fn fn, void *ud,
                const atomic_int *cancel, remote_result_t *res, errmsg_t *err)
{
    return stream_call(r, OAI_CHAT, msgs, n, NULL, g, fn, ud, cancel, res, err);
}

int remote_complete(remote_t *r, const char *prompt, const oai_gen_t *g, remote_text_fn fn, void *ud,
                    const atomic_int *cancel, remote_result_t *res, errmsg_t *err)
{
    return stream_call(r, OAI_COMPLETION, NULL, 0, prompt, g, fn, ud, cancel, res, err);
}

/* ---- metrics ------------------------------------------------------------------ */

void remote_metrics_parse(const char *text, size_t len, remote_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    m->weights = m->kv_bytes = m->kv_tokens_used = m->kv_tokens_size = m->queue_len = -1;
    m->kv_usage = m->tok_s = -1;
    uint64_t mem[3] = {0, 0, 0};
    bool seen[3] = {false, false, false};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char line[512];
        size_t l = (size_t)(eol - p) < sizeof line - 1 ? (size_t)(eol - p) : sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        p = eol + 1;
        if (!line[0] || line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        char *endv;
        double v = strtod(sp + 1, &endv);
        if (endv == sp + 1 || !isfinite(v) || v < 0 || v >= 9e18)
            continue;
        *sp = '\0';
        char *lb = strchr(line, '{');
        const char *labels = "";
        if (lb) {
            *lb = '\0';
            labels = lb + 1;
        }
        /* octet_vram_*: the names of octet servers before the memory label named RAM too */
        static const char *const mem_names[3] = {"octet_memory_used_bytes", "octet_memory_free_bytes",
                                                  "octet_memory_total_bytes"};
        static const char *const old_names[3] = {"octet_vram_used_bytes", "octet_vram_free_bytes",
                                                  "octet_vram_total_bytes"};
        for (int k = 0; k < 3; k++)
            if (!strcmp(line, mem_names[k]) || !strcmp(line, old_names[k])) {
                mem[k] += (uint64_t)v;
                seen[k] = true;
                if (strstr(labels, "memory=\"ram\""))
                    m->mem_ram = true;
            }
        if (!strcmp(line, "octet_weights_bytes"))
            m->weights = (int64_t)v;
        else if (!strcmp(line, "octet_kv_bytes"))
            m->kv_bytes = (int64_t)v;
        else if (!strcmp(line, "octet_kv_tokens_used"))
            m->kv_tokens_used = (int64_t)v;
        else if (!strcmp(line, "octet_kv_tokens_size"))
            m->kv_tokens_size = (int64_t)v;
        else if (!strcmp(line, "octet_tokens_per_second"))
            m->tok_s = v;
        else if (!strcmp(line, "octet_queue_length") || !strcmp(line, "vllm:num_requests_waiting"))
            m->queue_len = (int64_t)v;
        else if (!strcmp(line, "vllm:gpu_cache_usage_perc") || !strcmp(line, "vllm:kv_cache_usage_perc"))
            m->kv_usage = v;
    }
    if (seen[0] && seen[2]) {
        m->has_mem = true;
        m->mem_used = mem[0];
        m->mem_free = seen[1] ? mem[1] : mem[2] - mem[0];
        m->mem_total = mem[2];
    } else {
        m->mem_ram = false;
    }
    if (m->kv_usage < 0 && m->kv_tokens_used >= 0 && m->kv_tokens_size > 0)
        m->kv_usage = (double)m->kv_tokens_used / (double)m->kv_tokens_size;
}

int remote_metrics(remote_t *r, remote_metrics_t *m, errmsg_t *err)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/metrics", r->root);
    remote_result_t res;
    /* a gauge polled twice a second: a hung /metrics must not hold up its caller */
    xfer_t x = {.err = err, .res = &res, .timeout_s = 2};
    int rc = perform(r, &x, url, NULL);
    if (rc == 0)
        remote_metrics_parse(x.body ? x.body : "", x.len, m);
    free(x.body);
    return rc;
}
