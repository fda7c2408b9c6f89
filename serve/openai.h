/* openai.h - the JSON shapes of the OpenAI-compatible API, shared by the
 * server (octet serve) and the remote-engine client: requests parsed and
 * validated into generation parameters, responses and streamed chunks
 * written, requests written and streamed chunks read back by the client,
 * server-sent-event framing and parsing, and the UTF-8 clean-up that keeps
 * byte-level token pieces from producing invalid JSON strings.
 *
 * Pure functions over memory (cJSON inside): no I/O, no printing. */
#ifndef OCTET_OPENAI_H
#define OCTET_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "errmsg.h"
#include "sample.h"

#define OAI_MAX_STOPS 16

typedef enum oai_kind {
    OAI_CHAT,       /* /v1/chat/completions: messages */
    OAI_COMPLETION, /* /v1/completions: a raw prompt */
} oai_kind_t;

/* ---- server side: requests in ------------------------------------------- */

typedef struct oai_req {
    oai_kind_t kind;
    chat_msg_t *msgs; /* OAI_CHAT: contents malloc'd */
    size_t n_msgs;
    char *prompt;     /* OAI_COMPLETION, malloc'd */
    size_t prompt_len;
    uint32_t max_tokens;
    sample_params_t sp;
    bool seed_set;    /* "seed" was given; else the server picks one */
    char *stops[OAI_MAX_STOPS];
    size_t n_stops;
    bool stream;
    bool include_usage; /* stream_options.include_usage */
    bool ignore_eos;    /* extension (vLLM, llama.cpp): end-of-generation tokens are never sampled */
} oai_req_t;

/* A request refused: the HTTP status, the OpenAI error type, the field at
 * fault ("" when none) and a message naming what is wrong. */
typedef struct oai_error {
    int status;
    const char *type; /* "invalid_request_error", "server_error" */
    char param[64];
    char msg[ERRMSG_MAX];
} oai_error_t;

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
int oai_error_set(oai_error_t *e, int status, const char *type, const char *param, const char *fmt, ...);

/* Parse LEN bytes of BODY as a request of KIND. Fields left out take SP's
 * values and MAX_TOKENS. Accepted: model (string, not checked), messages
 * (role system/developer/user/assistant, content a string, null, or an array
 * of {"type":"text","text":...} parts) or prompt (a string, or an array of
 * one string), max_tokens / max_completion_tokens, temperature, top_p, seed,
 * stop (string or list), stream, stream_options.include_usage, n (1 only),
 * frequency_penalty, presence_penalty, and the extensions top_k, min_p,
 * repeat_penalty / repetition_penalty, repeat_last_n, ignore_eos. Other
 * fields are ignored. Returns 0, or OCT_EINVAL with E filled (status 400). */
int oai_req_parse(oai_kind_t kind, const char *body, size_t len, const sample_params_t *sp,
                  uint32_t max_tokens, oai_req_t *out, oai_error_t *e);
void oai_req_free(oai_req_t *r);

/* ---- server side: responses out ------------------------------------------ */

/* Everything below returns a malloc'd NUL-terminated string, NULL when out of memory. */

/* {"error":{"message":...,"type":...,"param":...|null,"code":null}} */
char *oai_error_json(const oai_error_t *e);

typedef struct oai_meta {
    oai_kind_t kind;
    const char *id;    /* "chatcmpl-..." / "cmpl-..." */
    long long created; /* Unix time */
    const char *model;
} oai_meta_t;

/* A whole answer (stream false) with its usage counts. TEXT must be valid
 * UTF-8 (utf8_clean). FINISH: "stop" or "length". */
char *oai_response_json(const oai_meta_t *m, const char *text, size_t len, const char *finish,
                        uint32_t n_prompt, uint32_t n_gen);
/* One streamed chunk. ROLE: the first chat chunk (delta with the role).
 * FINISH non-NULL: the last chunk (empty delta / text). */
char *oai_chunk_json(const oai_meta_t *m, bool role, const char *text, size_t len, const char *finish);
/* The extra usage chunk of stream_options.include_usage (choices empty). */
char *oai_usage_chunk_json(const oai_meta_t *m, uint32_t n_prompt, uint32_t n_gen);
/* {"object":"list","data":[{"id":MODEL,"object":"model",...,"capabilities":
 * ["completion","chat"]}]}: "chat" only when CHAT (the model has a chat
 * template). */
char *oai_models_json(const char *model, long long created, bool chat);

/* "data: JSON\n\n" (a server-sent event). */
char *oai_sse_frame(const char *json);
#define OAI_SSE_DONE "data: [DONE]\n\n"

/* ---- client side --------------------------------------------------------- */

/* What the client asks for; fields at their "unset" value are not sent, so
 * the server's defaults apply. */
typedef struct oai_gen {
    const char *model;       /* NULL: not sent */
    long max_tokens;         /* <= 0: not sent */
    double temperature;      /* < 0: not sent */
    double top_p;            /* < 0: not sent */
    long long seed;          /* < 0: not sent */
    int top_k;               /* < 0: not sent (extension) */
    double min_p;            /* < 0: not sent (extension) */
    double repeat_penalty;   /* <= 0: not sent; sent as repetition_penalty (vLLM's name) */
    int repeat_last_n;       /* < 0: not sent (extension) */
    double freq_penalty;     /* 0: not sent */
    double presence_penalty; /* 0: not sent */
    const char *const *stops;
    size_t n_stops;
} oai_gen_t;

void oai_gen_init(oai_gen_t *g); /* everything unset */

/* The JSON body of a streamed request: MSGS for OAI_CHAT, PROMPT for
 * OAI_COMPLETION; "stream":true with stream_options.include_usage. */
char *oai_request_json(oai_kind_t kind, const chat_msg_t *msgs, size_t n, const char *prompt,
                       const oai_gen_t *g);

/* One streamed chunk as the client reads it. */
typedef struct oai_delta {
    char *text;      /* malloc'd content (chat) or text (completion); NULL when none */
    size_t len;
    char finish[24]; /* finish_reason, "" while null */
    bool has_usage;
    long prompt_tokens, completion_tokens;
} oai_delta_t;

/* Parse a chunk (or a whole non-streamed response). An error object gives
 * OCT_EIO with its message in ERR; a malformed chunk OCT_EFORMAT. */
int oai_delta_parse(const char *json, size_t len, oai_delta_t *out, errmsg_t *err);
void oai_delta_free(oai_delta_t *d);

/* The message of an error body ({"error":{"message":...}} or {"error":"..."});
 * writes at most N bytes to BUF; false when the body has none. */
bool oai_error_message(const char *json, size_t len, char *buf, size_t n);

/* Incremental server-sent-event reader: bytes in, one callback per event
 * with its data lines joined by '\n'. Comments and other fields are skipped. */
typedef struct oai_sse {
    char *line;
    size_t len, cap;
    char *data;
    size_t dlen, dcap;
    bool has_data;
    bool skip_lf; /* the last line ended with '\r': a following '\n' belongs to it */
} oai_sse_t;

/* Longest line or event accepted from a server: a hostile one cannot make
 * the client grow without bound (oai_sse_push returns OCT_ENOMEM). */
#define OAI_SSE_MAX (16u << 20)

/* Return nonzero to stop; oai_sse_push then returns that value. */
typedef int (*oai_sse_fn)(void *ud, const char *data, size_t len);

void oai_sse_init(oai_sse_t *s);
int oai_sse_push(oai_sse_t *s, const char *buf, size_t n, oai_sse_fn fn, void *ud);
void oai_sse_free(oai_sse_t *s);

#endif
