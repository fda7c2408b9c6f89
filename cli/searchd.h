/* searchd.h - `octet index --watch` as a search server, and `octet search`
 * as its client: a process that stays keeps the index open, the retrieval
 * encoder and the vectors loaded, and updates the index only when inotify
 * (rag/watch.h) saw a change, so a search costs a process start, a round
 * trip over a Unix socket and the query itself.
 *
 * The socket lies beside the index database (PATH.sock, mode 0600); the
 * server answers only peers of its own user (SO_PEERCRED), one request at a
 * time, each within SEARCHD_TIMEOUT_MS. A request names everything that
 * changes the results (root, index, --no-git, --exclude, --max-size, the
 * encoder file); when anything differs from the watcher's, the answer is
 * "not mine" and the client searches itself. */
#ifndef OCTET_CLI_SEARCHD_H
#define OCTET_CLI_SEARCHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "errmsg.h"
#include "rag.h"
#include "watch.h"

/* Bumped whenever the messages change: a client and a watcher of other
 * versions never talk (the client searches itself). */
#define SEARCHD_VERSION 1
#define SEARCHD_MAX_QUERY (1024 * 1024)
#define SEARCHD_MAX_EXCLUDE 4096
#define SEARCHD_TIMEOUT_MS 1000

/* What a client asks. Strings are NUL-terminated; the query may hold NULs. */
typedef struct searchd_req {
    uint32_t k;
    rag_mode_t mode; /* RAG_MODE_LEXICAL or RAG_MODE_HYBRID */
    bool no_git;
    uint64_t max_size; /* 0: the default */
    char *root, *db;   /* as rag_locate gives them */
    char *encoder;     /* searchd_encoder_id of the client's encoder file */
    char **exclude;
    size_t n_exclude;
    char *query;
    size_t qlen;
} searchd_req_t;

/* The whole message for Q (header and body) into *OUT (malloc'd, *LEN
 * bytes). OCT_EINVAL when it exceeds the limits above. */
int searchd_req_encode(const searchd_req_t *q, char **out, size_t *len, errmsg_t *err);
/* Q from the body (after the header) of a request: every length checked
 * against what is left, every limit enforced; OCT_EFORMAT saying what is
 * wrong. Free with searchd_req_free (also after a failure). */
int searchd_req_decode(const void *body, size_t len, searchd_req_t *q, errmsg_t *err);
void searchd_req_free(searchd_req_t *q);

/* The identity of the encoder file PATH (NULL: none) as requests carry it. */
void searchd_encoder_id(const char *path, char *buf, size_t n);

/* How the watcher answered, for -v. */
typedef struct searchd_answer {
    long pid;
    rag_query_info_t info;
    bool updated; /* the index was brought up to date first */
    double ms;    /* the watcher's time on the request */
} searchd_answer_t;

/* Ask the watcher of the index Q names. 0 with *RES (free with
 * rag_results_free) and *ANS; otherwise (no watcher, another user's
 * socket, "not mine", a time-out, a protocol error) an OCT_E* code and ERR
 * saying why, for the caller to search itself. */
int searchd_ask(const searchd_req_t *q, rag_results_t *res, searchd_answer_t *ans, errmsg_t *err);

typedef struct searchd searchd_t;

/* Take the socket beside R's index: OCT_EINVAL when another watcher serves
 * it (ERR names it), a stale socket file replaced. Nothing is answered yet
 * (connections are refused until searchd_serve). */
int searchd_claim(searchd_t **out, const rag_t *r, errmsg_t *err);
const char *searchd_path(const searchd_t *sd);
/* Removes the socket, when it is still this one's. */
void searchd_close(searchd_t *sd);

typedef struct searchd_config {
    const char *const *exclude; /* the options R was opened with */
    size_t n_exclude;
    size_t max_size;
    bool no_git;
    bool lexical;   /* no encoder by choice: hybrid requests are not this watcher's */
    double idle_s;  /* stop after this long without a request; 0: never */
} searchd_config_t;

/* Answer requests until SIGINT or SIGTERM (0), the idle time-out (0), or
 * the index database is deleted or replaced (0); W (NULL: none, then the
 * index is updated before every query) says when R needs an update, ENC
 * (may be NULL) is R's embedder. Says on stderr what it stops for. */
int searchd_serve(searchd_t *sd, rag_t *r, rag_watch_t *w, encoder_t *enc, const searchd_config_t *cfg,
                  errmsg_t *err);

#endif
