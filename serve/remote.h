/* remote.h - a client for a remote OpenAI-compatible engine (octet serve,
 * vLLM, llama.cpp's server...) on libcurl: streamed chat completions and
 * completions delivered to a callback as the text arrives, cancellation from
 * another thread or a signal handler, the model list, and the server's
 * /metrics read into the figures a VRAM gauge shows.
 *
 * A remote_t may be used from several threads at once (one transfer per
 * call: a streaming answer on one thread, metrics polled from another).
 * Nothing here prints. */
#ifndef OCTET_REMOTE_H
#define OCTET_REMOTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "errmsg.h"
#include "openai.h"

typedef struct remote remote_t;

/* URL is the API base, e.g. http://127.0.0.1:8080/v1 (http or https; a
 * trailing '/' is dropped). API_KEY, when not NULL or empty, is sent as a
 * bearer token. Nothing is contacted yet. */
int remote_open(remote_t **out, const char *url, const char *api_key, errmsg_t *err);
void remote_close(remote_t *r);
const char *remote_url(const remote_t *r);

/* The id of the first model GET /models lists (fetched once, then kept);
 * *ID stays valid until remote_close. */
int remote_model(remote_t *r, const char **id, errmsg_t *err);

/* Whether MODEL (NULL: the first listed) of GET /models can chat: 1 when
 * its "capabilities" list "chat", 0 when they leave it out (a model without
 * a chat template: send it plain completions), -1 when the server does not
 * say (most servers: assume chat) or cannot be reached now. The list is
 * fetched once and kept. */
int remote_model_chat(remote_t *r, const char *model);

/* Receives each piece of streamed text (LEN bytes, not NUL-terminated);
 * nonzero stops the transfer (the call then returns OCT_ECANCELED). */
typedef int (*remote_text_fn)(void *ud, const char *text, size_t len);

typedef struct remote_result {
    char finish[24];        /* finish_reason of the last chunk ("stop", "length"...), "" when none */
    long prompt_tokens;     /* from the usage chunk; -1 when the server sent none */
    long completion_tokens;
} remote_result_t;

/* Stream the answer to MSGS (POST URL/chat/completions) into FN. G->model
 * NULL asks remote_model for one. CANCEL (may be NULL) is polled during the
 * transfer: nonzero stops it with OCT_ECANCELED. Server errors (HTTP status
 * >= 400, an error event) give OCT_EIO with the server's message. */
int remote_chat(remote_t *r, const chat_msg_t *msgs, size_t n, const oai_gen_t *g, remote_text_fn fn, void *ud,
                const atomic_int *cancel, remote_result_t *res, errmsg_t *err);
/* Same with a raw PROMPT (POST URL/completions). */
int remote_complete(remote_t *r, const char *prompt, const oai_gen_t *g, remote_text_fn fn, void *ud,
                    const atomic_int *cancel, remote_result_t *res, errmsg_t *err);

/* What the server's Prometheus /metrics (next to the API base: .../v1 ->
 * .../metrics) says about memory and load. Fields a server does not export
 * stay at their "unknown" value. octet serve's names are read, and vLLM's
 * KV-cache usage (vllm:gpu_cache_usage_perc / vllm:kv_cache_usage_perc). */
typedef struct remote_metrics {
    bool has_mem;   /* mem_* are known */
    bool mem_ram;   /* they are system RAM, not device memory */
    uint64_t mem_used, mem_free, mem_total;
    int64_t weights, kv_bytes;          /* -1: unknown */
    int64_t kv_tokens_used, kv_tokens_size; /* -1: unknown */
    double kv_usage;                    /* fraction of the KV cache in use; < 0: unknown */
    double tok_s;                       /* < 0: unknown */
    int64_t queue_len;                  /* -1: unknown */
} remote_metrics_t;

/* GET the metrics. OCT_ENOTFOUND when the server has no /metrics (the
 * gauge then shows "remote"), OCT_EIO when it cannot be reached. */
int remote_metrics(remote_t *r, remote_metrics_t *m, errmsg_t *err);
/* Parse LEN bytes of Prometheus text (what remote_metrics does with the body). */
void remote_metrics_parse(const char *text, size_t len, remote_metrics_t *m);

#endif
