/* server.c - the OpenAI-compatible HTTP server of `octet serve` (see server.h).
 *
 * Locking: S->MU guards the queue, every job's output fields, the request
 * reference counts and the statistics; job->cv (with S->MU) wakes the
 * connection waiting on a job. The worker runs forward passes without the
 * lock. A job is referenced by its request and, while queued or running, by
 * the worker; a request by libmicrohttpd's connection and by its streaming
 * response, whichever is released last frees it. eng_cancel is only called
 * while the job is the current one, under S->MU, and the worker clears the
 * flag under S->MU when it takes the next job, so a late cancel never stops
 * another request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "chat.h"
#include "generate.h"
#include "lazylib.h"
#include "openai.h"
#include "preset.h"
#include "sb.h"
#include "prompt_guard.h"
#include "server.h"

/* libmicrohttpd, opened by the first srv_start (lazylib.h says why) */
static struct {
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_create_response_from_callback) *create_response_from_callback;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_get_connection_values) *get_connection_values;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
} mhd;

static pthread_once_t g_mhd_once = PTHREAD_ONCE_INIT;
static errmsg_t g_mhd_err;

static void mhd_load(void)
{
    const lazylib_sym_t syms[] = {
        {"MHD_add_response_header", &mhd.add_response_header},
        {"MHD_create_response_from_buffer", &mhd.create_response_from_buffer},
        {"MHD_create_response_from_callback", &mhd.create_response_from_callback},
        {"MHD_destroy_response", &mhd.destroy_response},
        {"MHD_get_connection_info", &mhd.get_connection_info},
        {"MHD_get_connection_values", &mhd.get_connection_values},
        {"MHD_lookup_connection_value", &mhd.lookup_connection_value},
        {"MHD_queue_response", &mhd.queue_response},
        {"MHD_start_daemon", &mhd.start_daemon},
        {"MHD_stop_daemon", &mhd.stop_daemon},
    };
    lazylib_open("libmicrohttpd.so.12", syms, sizeof syms / sizeof syms[0], &g_mhd_err);
}

#define WAIT_SLICE_MS 100 /* how often a waiting connection checks that its client is still there */
/* Connections served at once (one thread each); more are refused, so a flood of
 * clients cannot exhaust threads or descriptors. Requests beyond the queue get 503. */
#define SRV_MAX_CONNECTIONS 256

typedef enum ep { EP_CHAT, EP_COMPLETIONS, EP_MODELS, EP_HEALTH, EP_METRICS, EP_OTHER } ep_t;

static const char *const EP_NAME[] = {"chat_completions", "completions", "models", "health", "metrics", "other"};

typedef struct job {
    int refs;
    oai_req_t req;
    int32_t *ids;
    size_t n_ids;
    atomic_int cancel;
    atomic_int oom; /* the output could not grow */
    pthread_cond_t cv;
    struct job *next;
    /* output, under S->MU */
    char *text;
    size_t len, cap;
    bool done;
    const char *finish; /* "stop" or "length" */
    uint32_t n_gen;
    int status; /* nonzero: failed with this HTTP status and ERRMSG */
    char errmsg[ERRMSG_MAX];
} job_t;

typedef struct req {
    struct srv *srv;
    struct MHD_Connection *conn;
    int refs;
    ep_t ep;
    char *body;
    size_t len, cap;
    bool too_large;
    int code; /* status sent; 0 before */
    job_t *job;
    char id[48];
    oai_meta_t meta;
    /* streaming */
    bool role_sent, finished;
    size_t sent; /* bytes of job->text already framed */
    char *out;
    size_t out_len, out_off, out_cap;
} req_t;

struct srv {
    srv_cfg_t cfg;
    char *model_id;
    char *host;
    eng_model_t *m;
    eng_session_t *s;
    eng_session_t *ds; /* the draft model's, or NULL */
    chat_tmpl_t *tmpl;
    const tok_t *tok;
    struct MHD_Daemon *d;
    uint16_t port;
    long long created;

    pthread_t worker;
    bool worker_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head, *tail;
    size_t queue_len;
    job_t *current;
    bool quit;

    /* statistics, under MU */
    uint32_t kv_used;
    double tok_s;
    size_t in_flight;
    bool generating;
    uint64_t generated_total, prompt_total, canceled_total, next_id;
    srv_count_t counts[SRV_MAX_COUNTS];
    size_t n_counts;
};

void srv_cfg_default(srv_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->queue = 16;
    c->max_body = 1 << 20;
    c->model_id = "octet";
    sample_params_default(&c->sp);
    c->max_tokens = 512;
    c->heal = true;
    c->speculate = true;
}

/* ---- jobs ------------------------------------------------------------------ */

static void job_unref_locked(job_t *j)
{
    if (!j || --j->refs > 0)
        return;
    oai_req_free(&j->req);
    free(j->ids);
    free(j->text);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Stop J (under S->MU): a waiting job leaves the queue, a running one is canceled. */
static void job_cancel_locked(struct srv *s, job_t *j)
{
    atomic_store(&j->cancel, 1);
    if (s->current == j) {
        eng_cancel(s->s);
        return;
    }
    for (job_t **pp = &s->head; *pp; pp = &(*pp)->next) {
        if (*pp != j)
            continue;
        *pp = j->next;
        if (s->tail == j) {
            s->tail = NULL;
            for (job_t *k = s->head; k; k = k->next)
                s->tail = k;
        }
        s->queue_len--;
        j->done = true;
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
        return;
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A job's generation, as gen_run streams it. */
typedef struct run {
    struct srv *s;
    job_t *j;
    size_t n_gen; /* tokens counted into the statistics so far */
} run_t;

/* Append the new text (whole UTF-8) to the job's output, publish the
 * counts and wake the connection; nonzero stops a job whose client left. */
static int on_text(void *ud, const char *text, size_t len, const gen_result_t *so_far)
{
    run_t *g = ud;
    struct srv *s = g->s;
    job_t *j = g->j;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (j->len + len + 1 > j->cap) {
        size_t cap = (j->cap ? j->cap * 2 : 1024) + len;
        char *nt = realloc(j->text, cap);
        if (!nt) {
            atomic_store(&j->oom, 1);
            rc = 1;
            goto out;
        }
        j->text = nt;
        j->cap = cap;
    }
    memcpy(j->text + j->len, text, len);
    j->len += len;
    j->text[j->len] = '\0';
    j->n_gen = (uint32_t)so_far->n_tokens;
    s->generated_total += so_far->n_tokens - g->n_gen;
    g->n_gen = so_far->n_tokens;
    s->tok_s = so_far->decode_tok_s;
    s->kv_used = eng_pos(s->s);
    pthread_cond_broadcast(&j->cv);
out:
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && s->cfg.token_delay_ms)
        sleep_ms(s->cfg.token_delay_ms);
    return rc || atomic_load(&j->cancel);
}

static void run_job(struct srv *s, job_t *j)
{
    errmsg_t err = {0};
    run_t g = {s, j, 0};
    gen_params_t p;
    gen_params_default(&p);
    p.sample = j->req.sp;
    p.max_tokens = j->req.max_tokens;
    p.stops = (const char *const *)j->req.stops;
    p.n_stops = j->req.n_stops;
    p.ignore_eos = j->req.ignore_eos || s->cfg.ignore_eos;
    p.heal = s->cfg.heal;
    p.speculate = s->cfg.speculate;
    p.spec.draft = s->ds;
    p.on_text = on_text;
    p.ud = &g;
    pthread_mutex_lock(&s->mu);
    s->prompt_total += j->n_ids;
    s->tok_s = 0;
    pthread_mutex_unlock(&s->mu);
    gen_result_t r;
    int rc = gen_run(s->s, j->ids, j->n_ids, &p, &r, &err);
    pthread_mutex_lock(&s->mu);
    s->kv_used = eng_pos(s->s);
    j->n_gen = (uint32_t)r.n_tokens;
    s->generated_total += r.n_tokens - g.n_gen;
    /* a full context ends the answer as max_tokens does */
    j->finish = r.stop == GEN_STOP_EOG || r.stop == GEN_STOP_STRING ? "stop" : "length";
    if (atomic_load(&j->oom)) {
        j->status = 500;
        snprintf(j->errmsg, sizeof j->errmsg, "generation failed: out of memory");
    } else if (rc == OCT_ECANCELED || r.stop == GEN_STOP_CALLER) {
        j->status = 499;
        snprintf(j->errmsg, sizeof j->errmsg, "the request was canceled");
    } else if (rc) {
        j->status = 500;
        snprintf(j->errmsg, sizeof j->errmsg, "generation failed: %.480s", err.msg);
    }
    pthread_mutex_unlock(&s->mu);
    gen_result_free(&r);
}

static void *worker(void *arg)
{
    struct srv *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->quit && !s->head)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->quit)
            break;
        job_t *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->queue_len--;
        s->current = j;
        s->generating = true;
        eng_cancel_clear(s->s);
        pthread_mutex_unlock(&s->mu);
        run_job(s, j);
        pthread_mutex_lock(&s->mu);
        j->done = true;
        s->current = NULL;
        s->generating = false;
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- requests ------------------------------------------------------------ */

static void req_unref_locked(req_t *q)
{
    if (--q->refs > 0)
        return;
    job_unref_locked(q->job);
    free(q->body);
    free(q->out);
    free(q);
}

static void count_locked(struct srv *s, ep_t ep, int code)
{
    size_t i;
    for (i = 0; i < s->n_counts; i++)
        if (s->counts[i].code == code && !strcmp(s->counts[i].endpoint, EP_NAME[ep]))
            break;
    if (i == s->n_counts) {
        if (i == SRV_MAX_COUNTS)
            return; /* 6 endpoints times the few codes used never get here */
        snprintf(s->counts[i].endpoint, sizeof s->counts[i].endpoint, "%s", EP_NAME[ep]);
        s->counts[i].code = code;
        s->counts[i].n = 0;
        s->n_counts++;
    }
    s->counts[i].n++;
}

/* Queue RESP (consumed) with status CODE. */
static enum MHD_Result respond(req_t *q, int code, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    q->code = code;
    enum MHD_Result r = mhd.queue_response(q->conn, (unsigned)code, resp);
    mhd.destroy_response(resp);
    return r;
}

/* A malloc'd body BUF (consumed) of type CTYPE. */
static struct MHD_Response *body_response(char *buf, const char *ctype)
{
    if (!buf)
        return NULL;
    struct MHD_Response *r = mhd.create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(buf);
        return NULL;
    }
    mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

static enum MHD_Result send_error(req_t *q, const oai_error_t *e)
{
    struct MHD_Response *r = body_response(oai_error_json(e), "application/json");
    if (r && e->status == 503)
        mhd.add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return respond(q, e->status, r);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static enum MHD_Result fail(req_t *q, int status, const char *type, const char *param, const char *fmt, ...)
{
    oai_error_t e = {status, type, "", ""};
    snprintf(e.param, sizeof e.param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return send_error(q, &e);
}

static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd p = {ci->connect_fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void wait_slice(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += WAIT_SLICE_MS * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &t);
}

static bool out_put(req_t *q, const char *s, size_t n)
{
    if (q->out_len + n > q->out_cap) {
        size_t cap = (q->out_cap ? q->out_cap * 2 : 1024) + n;
        char *no = realloc(q->out, cap);
        if (!no)
            return false;
        q->out = no;
        q->out_cap = cap;
    }
    memcpy(q->out + q->out_len, s, n);
    q->out_len += n;
    return true;
}

/* Frame JSON (consumed) as an event into Q's output. */
static bool out_event(req_t *q, char *json)
{
    char *f = json ? oai_sse_frame(json) : NULL;
    bool ok = f && out_put(q, f, strlen(f));
    free(f);
    free(json);
    return ok;
}

/* The next events of a streamed answer into Q->out; false when the stream must end with an error. */
static bool stream_fill(req_t *q)
{
    struct srv *s = q->srv;
    job_t *j = q->job;
    if (!q->role_sent && q->meta.kind == OAI_CHAT) {
        q->role_sent = true;
        return out_event(q, oai_chunk_json(&q->meta, true, "", 0, NULL));
    }
    pthread_mutex_lock(&s->mu);
    while (!j->done && j->len == q->sent) {
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            return false;
        }
        wait_slice(&j->cv, &s->mu);
        if (!j->done && j->len == q->sent && client_gone(q->conn)) {
            job_cancel_locked(s, j);
            pthread_mutex_unlock(&s->mu);
            return false;
        }
    }
    size_t n = j->len - q->sent;
    char *seg = malloc(n + 1);
    if (seg && n)
        memcpy(seg, j->text + q->sent, n);
    q->sent = j->len;
    bool done = j->done;
    int status = j->status;
    oai_error_t e = {status == 499 ? 503 : status, "server_error", "", ""};
    snprintf(e.msg, sizeof e.msg, "%s", j->errmsg);
    const char *finish = j->finish ? j->finish : "stop";
    uint32_t n_gen = j->n_gen, n_prompt = (uint32_t)j->n_ids;
    pthread_mutex_unlock(&s->mu);
    bool ok = seg != NULL;
    if (ok && n)
        ok = out_event(q, oai_chunk_json(&q->meta, false, seg, n, NULL));
    free(seg);
    if (ok && done) {
        if (status)
            ok = out_event(q, oai_error_json(&e));
        else
            ok = out_event(q, oai_chunk_json(&q->meta, false, "", 0, finish));
        if (ok && !status && j->req.include_usage)
            ok = out_event(q, oai_usage_chunk_json(&q->meta, n_prompt, n_gen));
        ok = ok && out_put(q, OAI_SSE_DONE, strlen(OAI_SSE_DONE));
        q->finished = true;
    }
    return ok;
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    req_t *q = cls;
    (void)pos;
    while (q->out_off == q->out_len) {
        if (q->finished)
            return MHD_CONTENT_READER_END_OF_STREAM;
        q->out_off = q->out_len = 0;
        if (!stream_fill(q))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = q->out_len - q->out_off;
    if (n > max)
        n = max;
    memcpy(buf, q->out + q->out_off, n);
    q->out_off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    req_t *q = cls;
    struct srv *s = q->srv;
    pthread_mutex_lock(&s->mu);
    req_unref_locked(q);
    pthread_mutex_unlock(&s->mu);
}

/* Tokenize the request's prompt into J->ids; a refusal is answered through E. */
static int build_prompt(struct srv *s, job_t *j, oai_error_t *e)
{
    errmsg_t err = {0};
    int flags = TOK_ADD_BOS | TOK_PARSE_SPECIAL;
    const char *param = j->req.kind == OAI_CHAT ? "messages" : "prompt";
    int rc;
    if (j->req.kind == OAI_CHAT) {
        if (!s->tmpl)
            return oai_error_set(e, 400, "invalid_request_error", "messages",
                                 "the model's chat template is not one octet knows: start octet serve with "
                                 "--template NAME, or use /v1/completions");
        if (chat_tmpl_writes_bos(s->tmpl))
            flags = TOK_PARSE_SPECIAL;
        /* special tokens only where the template writes them: a message's
         * content is always text (no forged turns or roles) */
        rc = prompt_guard_encode(s->tok, s->tmpl, j->req.msgs, j->req.n_msgs, flags, &j->ids, &j->n_ids, &err);
        if (rc && rc != OCT_ENOMEM && rc != OCT_EINTERNAL)
            return oai_error_set(e, 400, "invalid_request_error", "messages", "%s", err.msg);
    } else {
        rc = tok_encode(s->tok, j->req.prompt, j->req.prompt_len, flags, &j->ids, &j->n_ids, &err);
    }
    if (rc)
        return oai_error_set(e, 500, "server_error", "", "cannot tokenize the prompt: %s", err.msg);
    if (j->n_ids == 0)
        return oai_error_set(e, 400, "invalid_request_error", param, "the prompt is empty");
    uint32_t n_ctx = eng_n_ctx(s->s);
    if (j->n_ids >= n_ctx)
        return oai_error_set(e, 400, "invalid_request_error", param,
                             "the prompt has %zu tokens; the context holds %u (leave room for the answer, or "
                             "start octet serve with a larger --ctx)",
                             j->n_ids, n_ctx);
    return 0;
}

static enum MHD_Result answer_post(req_t *q)
{
    struct srv *s = q->srv;
    oai_error_t e;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return fail(q, 500, "server_error", NULL, "out of memory");
    j->refs = 1;
    pthread_cond_init(&j->cv, NULL);
    q->job = j;
    oai_kind_t kind = q->ep == EP_CHAT ? OAI_CHAT : OAI_COMPLETION;
    if (oai_req_parse(kind, q->body ? q->body : "", q->len, &s->cfg.sp, s->cfg.max_tokens, &j->req, &e) ||
        build_prompt(s, j, &e)) {
        pthread_mutex_lock(&s->mu);
        q->job = NULL;
        job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
        return send_error(q, &e);
    }
    pthread_mutex_lock(&s->mu);
    unsigned long long n = ++s->next_id;
    if (!j->req.seed_set)
        j->req.sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ n * 0x9E3779B97F4A7C15ull;
    /* --queue counts the requests waiting: an idle engine takes one even with --queue 0 */
    bool busy = s->current || s->queue_len;
    if (s->quit || (busy && s->queue_len >= s->cfg.queue)) {
        bool quit = s->quit;
        size_t ql = s->queue_len;
        q->job = NULL;
        job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
        if (quit)
            return fail(q, 503, "server_error", NULL, "the server is shutting down");
        return fail(q, 503, "server_error", NULL,
                    "the server is busy: %zu requests are waiting (octet serve --queue); retry later", ql);
    }
    j->refs++; /* the queue's */
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queue_len++;
    s->in_flight++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);

    snprintf(q->id, sizeof q->id, "%s-octet-%llu", kind == OAI_CHAT ? "chatcmpl" : "cmpl", n);
    q->meta = (oai_meta_t){kind, q->id, (long long)time(NULL), s->model_id};
    if (j->req.stream) {
        struct MHD_Response *r = mhd.create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_cb, q, stream_free);
        if (!r)
            return MHD_NO;
        pthread_mutex_lock(&s->mu);
        q->refs++; /* the response's, dropped by stream_free */
        pthread_mutex_unlock(&s->mu);
        mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        mhd.add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        return respond(q, 200, r);
    }
    /* A whole answer: wait for it here (a thread per connection), watching the client. */
    pthread_mutex_lock(&s->mu);
    while (!j->done) {
        wait_slice(&j->cv, &s->mu);
        if (!j->done && client_gone(q->conn)) {
            job_cancel_locked(s, j);
            q->code = 499;
            pthread_mutex_unlock(&s->mu);
            return MHD_NO;
        }
    }
    int status = j->status;
    char *body = NULL;
    oai_error_t je = {status == 499 ? 503 : status, "server_error", "", ""};
    if (status)
        snprintf(je.msg, sizeof je.msg, "%s", j->errmsg);
    else
        body = oai_response_json(&q->meta, j->text ? j->text : "", j->len, j->finish, (uint32_t)j->n_ids, j->n_gen);
    pthread_mutex_unlock(&s->mu);
    if (status)
        return send_error(q, &je);
    return respond(q, 200, body_response(body, "application/json"));
}

static enum MHD_Result answer_get(req_t *q)
{
    struct srv *s = q->srv;
    switch (q->ep) {
    case EP_HEALTH: {
        char *b = strdup("{\"status\":\"ok\"}");
        return respond(q, 200, body_response(b, "application/json"));
    }
    case EP_MODELS:
        return respond(q, 200, body_response(oai_models_json(s->model_id, s->created, s->tmpl && strcmp(chat_tmpl_name(s->tmpl), "none")), "application/json"));
    default: {
        srv_stats_t *st = malloc(sizeof *st);
        if (!st)
            return MHD_NO;
        srv_stats_get(s, st);
        char *t = srv_metrics_text(st);
        free(st);
        return respond(q, 200, body_response(t, "text/plain; version=0.0.4; charset=utf-8"));
    }
    }
}

static ep_t route(const char *url)
{
    static const struct {
        const char *path;
        ep_t ep;
    } R[] = {{"/v1/chat/completions", EP_CHAT}, {"/v1/completions", EP_COMPLETIONS}, {"/v1/models", EP_MODELS},
             {"/health", EP_HEALTH},            {"/metrics", EP_METRICS}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
        if (!strcmp(url, R[i].path))
            return R[i].ep;
    return EP_OTHER;
}

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        ++*(int *)cls;
    return MHD_YES;
}

/* Whether the request carries "Authorization: Bearer KEY". The comparison
 * takes the same time wherever the first difference is (and whatever the
 * length of the guess), so timing does not reveal the key. */
static bool authorized(struct MHD_Connection *c, const char *key)
{
    const char *h = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7))
        return false;
    const unsigned char *given = (const unsigned char *)h + 7, *want = (const unsigned char *)key;
    size_t gl = strlen((const char *)given), wl = strlen(key);
    unsigned diff = gl != wl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct srv *s = cls;
    req_t *q = *con_cls;
    (void)version;
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        q->srv = s;
        q->conn = c;
        q->refs = 1;
        q->ep = route(url);
        *con_cls = q;
        /* two lengths are how request smuggling starts: refused, whatever they say */
        int n_length = 0;
        mhd.get_connection_values(c, MHD_HEADER_KIND, count_length, &n_length);
        if (n_length > 1)
            return fail(q, 400, "invalid_request_error", NULL, "the request has %d Content-Length headers",
                        n_length);
        if (s->cfg.api_key && q->ep != EP_HEALTH && !authorized(c, s->cfg.api_key)) {
            oai_error_t e = {401, "invalid_request_error", "", "a valid API key is needed: send "
                                                               "\"Authorization: Bearer KEY\""};
            struct MHD_Response *r = body_response(oai_error_json(&e), "application/json");
            if (r)
                mhd.add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
            return respond(q, 401, r);
        }
        bool post = q->ep == EP_CHAT || q->ep == EP_COMPLETIONS;
        if (q->ep == EP_OTHER)
            return fail(q, 404, "invalid_request_error", NULL, "no such endpoint: %s %s", method, url);
        bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        if (post ? strcmp(method, "POST") != 0 : !get) {
            oai_error_t e = {405, "invalid_request_error", "", ""};
            snprintf(e.msg, sizeof e.msg, "%s takes %s, not %s", url, post ? "POST" : "GET", method);
            struct MHD_Response *r = body_response(oai_error_json(&e), "application/json");
            if (r)
                mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, post ? "POST" : "GET, HEAD");
            return respond(q, 405, r);
        }
        if (!post)
            return answer_get(q);
        const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body)
            return fail(q, 413, "invalid_request_error", NULL,
                        "the request body has %s bytes; the limit is %zu (octet serve --max-body)", cl,
                        s->cfg.max_body);
        return MHD_YES;
    }
    if (q->code) { /* answered early: drop the rest of the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_large)
            return MHD_YES;
        if (q->len + n > s->cfg.max_body) {
            q->too_large = true;
            free(q->body);
            q->body = NULL;
            q->len = q->cap = 0;
            return MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = (q->cap ? q->cap * 2 : 4096) + n;
            char *nb = realloc(q->body, cap);
            if (!nb)
                return MHD_NO;
            q->body = nb;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        q->body[q->len] = '\0';
        return MHD_YES;
    }
    if (q->too_large)
        return fail(q, 413, "invalid_request_error", NULL, "the request body is over the limit of %zu bytes "
                    "(octet serve --max-body)", s->cfg.max_body);
    return answer_post(q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct srv *s = cls;
    req_t *q = *con_cls;
    (void)c;
    (void)toe;
    if (!q)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    if (q->job) {
        if (!q->job->done || q->job->status == 499) {
            job_cancel_locked(s, q->job);
            s->canceled_total++;
        }
        s->in_flight--;
    }
    count_locked(s, q->ep, q->code ? q->code : 499);
    req_unref_locked(q);
    pthread_mutex_unlock(&s->mu);
}

/* ---- start and stop -------------------------------------------------------- */

/* A listening socket on HOST:PORT; *V6 tells the family. */
static int listen_on(const char *host, uint16_t port, bool *v6, int *out_fd, errmsg_t *err)
{
    struct addrinfo hints, *ai = NULL;
    char ps[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(ps, sizeof ps, "%u", port);
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g)
        return errmsg_set(err, OCT_EINVAL, "cannot resolve --host %s: %s", host, gai_strerror(g));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        errmsg_set(err, OCT_EIO, "cannot create a socket for %s: %s", host, strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen)) {
        errmsg_set(err, OCT_EIO, "cannot listen on %s port %u: %s", host, port, strerror(errno));
        goto fail;
    }
    if (listen(fd, 128)) {
        errmsg_set(err, OCT_EIO, "cannot listen on %s port %u: %s", host, port, strerror(errno));
        goto fail;
    }
    *v6 = ai->ai_family == AF_INET6;
    *out_fd = fd;
    freeaddrinfo(ai);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return err->code;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &l))
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int srv_start(srv_t **out, eng_model_t *m, const srv_cfg_t *cfg, errmsg_t *err)
{
    pthread_once(&g_mhd_once, mhd_load);
    if (g_mhd_err.code)
        return errmsg_set(err, g_mhd_err.code, "%s", g_mhd_err.msg);
    struct srv *s = calloc(1, sizeof *s);
    int rc, fd = -1;
    *out = NULL;
    if (!s)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->cfg = *cfg;
    s->m = m;
    s->created = (long long)time(NULL);
    s->model_id = strdup(cfg->model_id ? cfg->model_id : "octet");
    s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    if (!s->model_id || !s->host) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    s->cfg.model_id = s->model_id;
    s->cfg.host = s->host;
    s->cfg.template_name = NULL;
    if (!(s->tok = eng_tokenizer(m))) {
        rc = errmsg_set(err, OCT_EINVAL, "the model has no tokenizer");
        goto fail;
    }
    rc = chat_tmpl_from_gguf(&s->tmpl, eng_gguf(m), cfg->template_name, err);
    if (rc == OCT_ENOTFOUND && !cfg->template_name)
        errmsg_clear(err); /* completions still work; chat requests explain */
    else if (rc)
        goto fail;
    if ((rc = eng_session_new(&s->s, m, err)))
        goto fail;
    if (cfg->draft && ((rc = gen_draft_check(m, cfg->draft, err)) || (rc = eng_session_new(&s->ds, cfg->draft, err))))
        goto fail;
    if (pthread_create(&s->worker, NULL, worker, s)) {
        rc = errmsg_set(err, OCT_EINTERNAL, "cannot start the worker thread");
        goto fail;
    }
    s->worker_started = true;
    bool v6 = false;
    if ((rc = listen_on(s->host, cfg->port, &v6, &fd, err)))
        goto fail;
    s->port = bound_port(fd);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->d = mhd.start_daemon(flags, s->port, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_MAX_CONNECTIONS,
                            MHD_OPTION_END);
    if (!s->d) {
        close(fd);
        rc = errmsg_set(err, OCT_EINTERNAL, "libmicrohttpd could not start on %s port %u", s->host, s->port);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    srv_stop(s);
    return rc;
}

uint16_t srv_port(const srv_t *s) { return s->port; }

const char *srv_template_name(const srv_t *s) { return s->tmpl ? chat_tmpl_name(s->tmpl) : NULL; }

void srv_stop(srv_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    while (s->head) {
        job_t *j = s->head;
        s->head = j->next;
        j->done = true;
        j->status = 503;
        snprintf(j->errmsg, sizeof j->errmsg, "the server is shutting down");
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
    }
    s->tail = NULL;
    s->queue_len = 0;
    if (s->current)
        job_cancel_locked(s, s->current);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->d)
        mhd.stop_daemon(s->d);
    if (s->worker_started)
        pthread_join(s->worker, NULL);
    eng_session_free(s->s);
    eng_session_free(s->ds);
    chat_tmpl_free(s->tmpl);
    free(s->model_id);
    free(s->host);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- metrics ------------------------------------------------------------------ */

void srv_stats_get(srv_t *s, srv_stats_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    out->kv_used = s->kv_used;
    out->tok_s = s->tok_s;
    out->queue_len = s->queue_len;
    out->in_flight = s->in_flight;
    out->generating = s->generating;
    out->generated_total = s->generated_total;
    out->prompt_total = s->prompt_total;
    out->canceled_total = s->canceled_total;
    memcpy(out->counts, s->counts, s->n_counts * sizeof *s->counts);
    out->n_counts = s->n_counts;
    pthread_mutex_unlock(&s->mu);
    out->kv_size = eng_n_ctx(s->s);
    eng_memory(s->m, s->s, &out->mem);
    bool dev = false;
    for (int i = 0; i < out->mem.n_dev; i++)
        dev = dev || out->mem.dev[i].dev_total > 0;
    if (!dev && preset_mem_available(NULL, &out->ram_avail, &out->ram_total, NULL) == 0)
        out->ram = true;
}

static void metric_head(sbuf_t *b, const char *name, const char *type, const char *help)
{
    sb_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \ " and newlines escaped, as the exposition format asks. */
static void label_value(const char *v, char *buf, size_t n)
{
    size_t o = 0;
    for (; *v && o + 3 < n; v++) {
        if (*v == '\\' || *v == '"') {
            buf[o++] = '\\';
            buf[o++] = *v;
        } else if (*v == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *v;
        }
    }
    buf[o] = '\0';
}

char *srv_metrics_text(const srv_stats_t *st)
{
    sbuf_t b = {0};
    /* one name for GPU memory and system RAM, told apart by the memory label */
    static const char *const mem_names[3] = {"octet_memory_used_bytes", "octet_memory_free_bytes",
                                              "octet_memory_total_bytes"};
    static const char *const mem_help[3] = {
        "Memory in use by all processes: the GPU's (memory=\"vram\"), or system RAM (memory=\"ram\").",
        "Memory free: the GPU's (memory=\"vram\"), or available system RAM (memory=\"ram\").",
        "Memory size: the GPU's (memory=\"vram\"), or system RAM (memory=\"ram\")."};
    for (int k = 0; k < 3; k++) {
        metric_head(&b, mem_names[k], "gauge", mem_help[k]);
        if (st->ram) {
            uint64_t v[3] = {st->ram_total - st->ram_avail, st->ram_avail, st->ram_total};
            sb_addf(&b, "%s{device=\"cpu\",memory=\"ram\"} %llu\n", mem_names[k], (unsigned long long)v[k]);
            continue;
        }
        for (int i = 0; i < st->mem.n_dev; i++) {
            const eng_mem_dev_t *d = &st->mem.dev[i];
            if (!d->dev_total)
                continue;
            char lv[128];
            label_value(d->name, lv, sizeof lv);
            uint64_t v[3] = {d->dev_total - d->dev_free, d->dev_free, d->dev_total};
            /* the CPU backend reports system RAM as its device memory */
            const char *kind = strncmp(d->name, "cpu", 3) ? "vram" : "ram";
            sb_addf(&b, "%s{device=\"%s\",memory=\"%s\"} %llu\n", mem_names[k], lv, kind,
                      (unsigned long long)v[k]);
        }
    }
    metric_head(&b, "octet_weights_bytes", "gauge", "Bytes of model weights octet holds.");
    sb_addf(&b, "octet_weights_bytes %llu\n", (unsigned long long)st->mem.weights);
    metric_head(&b, "octet_kv_bytes", "gauge", "Bytes of the KV cache (allocated for the whole context).");
    sb_addf(&b, "octet_kv_bytes %llu\n", (unsigned long long)st->mem.kv);
    metric_head(&b, "octet_scratch_bytes", "gauge", "Bytes of activation and work space.");
    sb_addf(&b, "octet_scratch_bytes %llu\n", (unsigned long long)st->mem.scratch);
    metric_head(&b, "octet_kv_tokens_used", "gauge", "Tokens in the KV cache.");
    sb_addf(&b, "octet_kv_tokens_used %u\n", st->kv_used);
    metric_head(&b, "octet_kv_tokens_size", "gauge", "Tokens the KV cache holds (the context size).");
    sb_addf(&b, "octet_kv_tokens_size %u\n", st->kv_size);
    metric_head(&b, "octet_tokens_per_second", "gauge", "Generation speed of the last or current answer.");
    sb_addf(&b, "octet_tokens_per_second %.3f\n", st->tok_s);
    metric_head(&b, "octet_queue_length", "gauge", "Requests waiting for the engine.");
    sb_addf(&b, "octet_queue_length %zu\n", st->queue_len);
    metric_head(&b, "octet_requests_in_flight", "gauge", "Generation requests accepted and not finished.");
    sb_addf(&b, "octet_requests_in_flight %zu\n", st->in_flight);
    metric_head(&b, "octet_generating", "gauge", "1 while the engine generates an answer.");
    sb_addf(&b, "octet_generating %d\n", st->generating ? 1 : 0);
    metric_head(&b, "octet_requests_total", "counter",
                "Finished HTTP requests by endpoint and status (499: the client left first).");
    for (size_t i = 0; i < st->n_counts; i++)
        sb_addf(&b, "octet_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", st->counts[i].endpoint,
                  st->counts[i].code, (unsigned long long)st->counts[i].n);
    metric_head(&b, "octet_requests_canceled_total", "counter",
                "Generation requests stopped because the client went away.");
    sb_addf(&b, "octet_requests_canceled_total %llu\n", (unsigned long long)st->canceled_total);
    metric_head(&b, "octet_generated_tokens_total", "counter", "Tokens generated.");
    sb_addf(&b, "octet_generated_tokens_total %llu\n", (unsigned long long)st->generated_total);
    metric_head(&b, "octet_prompt_tokens_total", "counter", "Prompt tokens of the requests run.");
    sb_addf(&b, "octet_prompt_tokens_total %llu\n", (unsigned long long)st->prompt_total);
    return sb_take(&b);
}
