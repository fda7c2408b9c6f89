/* server.h - the HTTP side of `octet serve`: an OpenAI-compatible API over
 * one loaded model, on libmicrohttpd.
 *
 * Endpoints: POST /v1/chat/completions and /v1/completions (streamed as
 * server-sent events or whole), GET /v1/models, /health and /metrics
 * (Prometheus text). Requests share one engine session: they wait in a FIFO
 * queue of bounded length (a full queue answers 503) and one worker thread
 * runs them, reusing the prefix of the previous prompt still in the KV cache.
 * A client that goes away stops its generation, waiting or running.
 *
 * Threads: libmicrohttpd runs one thread per connection; request bodies are
 * parsed and tokenized there, generation runs on the worker, and text goes
 * back through per-request buffers under one mutex. Nothing here prints. */
#ifndef OCTET_SERVER_H
#define OCTET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errmsg.h"
#include "sample.h"

typedef struct srv srv_t;

typedef struct srv_cfg {
    const char *host;          /* address or name to bind; default "127.0.0.1" */
    uint16_t port;             /* 0: any free port (srv_port says which) */
    size_t queue;              /* requests that may wait while one generates (default 16) */
    size_t max_body;           /* larger request bodies get 413 (default 1 MiB) */
    const char *model_id;      /* the model's name in /v1/models and responses */
    const char *template_name; /* chat format; NULL: recognized from the model */
    sample_params_t sp;        /* sampling for fields a request leaves out */
    uint32_t max_tokens;       /* max_tokens when a request gives none (default 512) */
    unsigned token_delay_ms;   /* pause after each generated token (tests, demos) */
    bool heal;                 /* token healing of every prompt (default true; generate.h) */
    bool speculate;            /* speculative decoding by prompt lookup (default true; generate.h) */
    bool ignore_eos;           /* every request as with "ignore_eos": true (throughput tests; default false) */
    eng_model_t *draft;        /* a draft model for speculation too (not owned; NULL: none) */
    const char *api_key;       /* when set, every endpoint but /health needs "Authorization: Bearer KEY" */
} srv_cfg_t;

void srv_cfg_default(srv_cfg_t *c);

/* Start serving model M (the caller closes it after srv_stop): create its
 * session and the worker, bind and listen. Chat requests answer 400 when
 * the model's chat template is not recognized and no template_name is given. */
int srv_start(srv_t **out, eng_model_t *m, const srv_cfg_t *cfg, errmsg_t *err);
uint16_t srv_port(const srv_t *s);
/* The chat format in use; NULL when chat requests are refused. */
const char *srv_template_name(const srv_t *s);
/* Cancel what waits or runs, close every connection, free S. */
void srv_stop(srv_t *s);

/* ---- metrics ------------------------------------------------------------- */

#define SRV_MAX_COUNTS 64

typedef struct srv_count {
    char endpoint[24]; /* chat_completions, completions, models, health, metrics, other */
    int code;          /* HTTP status; 499 when the client left before the answer */
    uint64_t n;
} srv_count_t;

typedef struct srv_stats {
    eng_mem_t mem;
    bool ram;                      /* no device figures: RAM figures below instead */
    uint64_t ram_total, ram_avail;
    uint32_t kv_used, kv_size;     /* tokens */
    double tok_s;                  /* generation speed of the last (or current) answer */
    size_t queue_len, in_flight;   /* waiting; accepted and not finished */
    bool generating;
    uint64_t generated_total, prompt_total, canceled_total;
    srv_count_t counts[SRV_MAX_COUNTS];
    size_t n_counts;
} srv_stats_t;

void srv_stats_get(srv_t *s, srv_stats_t *out);
/* The Prometheus text exposition of ST (malloc'd; NULL when out of memory). */
char *srv_metrics_text(const srv_stats_t *st);

#endif
