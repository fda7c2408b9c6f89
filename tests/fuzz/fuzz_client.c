/* fuzz_client.c - libFuzzer harness for the client side of a remote engine
 * (cli/openai.c, cli/remote.c), where the bytes come from an untrusted
 * server. The first input byte picks a split stride (0: one piece) and the
 * event at which a callback stops the reader; the rest is the reply:
 * - as an event stream: oai_sse_push fed in pieces of that stride must give
 *   the same events as the whole reply pushed at once, each NUL-terminated
 *   at its length, and a nonzero return from the callback stops the reader
 *   with that value; every event's data goes through oai_delta_parse as
 *   remote.c's on_event does (text NUL-terminated at its length, a failure
 *   OCT_EFORMAT or OCT_EIO with a message and no text);
 * - as one JSON answer (a server that does not stream), NUL-terminated as
 *   remote.c keeps bodies, and as an exact buffer of its length;
 * - as an error body (oai_error_message into a small buffer);
 * - as /metrics text (remote_metrics_parse): every figure known or at its
 *   "unknown" value, fractions and speeds finite.
 * tests/unit/serve/test_client_fuzz.c #includes this file to replay the corpus and the
 * regressions in `make test`. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openai.h"
#include "remote.h"

#define FUZZ_STOP 7 /* what the stopping callback returns */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

/* What remote.c's take_delta relies on. */
static void fuzz_check_delta(const char *json, size_t len)
{
    oai_delta_t d;
    errmsg_t err = {0};
    int rc = oai_delta_parse(json, len, &d, &err);
    if (rc) {
        fuzz_require((rc == OCT_EFORMAT || rc == OCT_EIO) && err.code == rc && err.msg[0] && !d.text);
        return;
    }
    fuzz_require(memchr(d.finish, '\0', sizeof d.finish) != NULL);
    fuzz_require(d.text ? d.len > 0 && strlen(d.text) == d.len : d.len == 0);
    fuzz_require(d.has_usage || (d.prompt_tokens == -1 && d.completion_tokens == -1));
    oai_delta_free(&d);
    fuzz_require(!d.text && !d.len);
}

/* Every event of one pass, each as its length and bytes. */
typedef struct events {
    char *buf;
    size_t len, cap;
    size_t n;
    size_t stop_at; /* return FUZZ_STOP at this event (1-based); 0: never */
} events_t;

static int on_event(void *ud, const char *data, size_t len)
{
    events_t *ev = ud;
    fuzz_require(data[len] == '\0');
    size_t need = ev->len + sizeof len + len;
    if (need > ev->cap) {
        size_t cap = ev->cap ? ev->cap : 256;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(ev->buf, cap);
        fuzz_require(nb != NULL);
        ev->buf = nb;
        ev->cap = cap;
    }
    memcpy(ev->buf + ev->len, &len, sizeof len);
    memcpy(ev->buf + ev->len + sizeof len, data, len);
    ev->len = need;
    ev->n++;
    if (ev->stop_at && ev->n == ev->stop_at)
        return FUZZ_STOP;
    if (!(len == 6 && !memcmp(data, "[DONE]", 6)))
        fuzz_check_delta(data, len);
    return 0;
}

/* Push BODY in pieces of STRIDE bytes (0: at once); the reader's last return. */
static int fuzz_push(const char *body, size_t n, size_t stride, events_t *ev)
{
    oai_sse_t s;
    oai_sse_init(&s);
    int rc = 0;
    size_t step = stride ? stride : n;
    for (size_t at = 0; at < n && rc == 0; at += step)
        rc = oai_sse_push(&s, body + at, n - at < step ? n - at : step, on_event, ev);
    if (n == 0)
        rc = oai_sse_push(&s, body, 0, on_event, ev);
    oai_sse_free(&s);
    return rc;
}

static void fuzz_check_metrics(const char *text, size_t len)
{
    remote_metrics_t m;
    remote_metrics_parse(text, len, &m);
    if (!m.has_mem)
        fuzz_require(!m.mem_ram && !m.mem_used && !m.mem_free && !m.mem_total);
    fuzz_require(m.kv_usage == -1 || isfinite(m.kv_usage));
    fuzz_require(m.tok_s == -1 || isfinite(m.tok_s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t stride = data[0] & 0x1F, stop_at = 1 + (data[0] >> 5);
    size_t n = size - 1;
    /* an exact copy of the reply, and one NUL-terminated as remote.c keeps bodies */
    char *exact = malloc(n ? n : 1), *body = malloc(n + 1);
    fuzz_require(exact && body);
    memcpy(exact, data + 1, n);
    memcpy(body, data + 1, n);
    body[n] = '\0';

    events_t whole = {0}, split = {0}, stopped = {0};
    fuzz_require(fuzz_push(exact, n, 0, &whole) == 0);
    fuzz_require(fuzz_push(exact, n, stride, &split) == 0);
    fuzz_require(split.n == whole.n && split.len == whole.len);
    fuzz_require(whole.len == 0 || !memcmp(split.buf, whole.buf, whole.len));
    stopped.stop_at = stop_at;
    int rc = fuzz_push(exact, n, stride, &stopped);
    fuzz_require(whole.n >= stop_at ? rc == FUZZ_STOP && stopped.n == stop_at : rc == 0 && stopped.n == whole.n);
    free(whole.buf);
    free(split.buf);
    free(stopped.buf);

    fuzz_check_metrics(exact, n);
    char msg[16];
    if (oai_error_message(exact, n, msg, sizeof msg))
        fuzz_require(memchr(msg, '\0', sizeof msg) != NULL);
    fuzz_check_delta(body, n);
    fuzz_check_delta(exact, n);
    free(exact);
    free(body);
    return 0;
}
