/* encoder.h - the retrieval encoder (engine/embed.h) as rag's embedder, for
 * every front end: found where octet looks for it (preset_embed_model:
 * models/octet-embed.gguf beside octet, or $OCTET_EMBED_MODEL), known by
 * its file's identity at once and loaded only when a text is first embedded,
 * shared by the thread that embeds chunks and the one that asks queries.
 * Without an encoder file octet retrieves lexically, as it always did. */
#ifndef OCTET_FLOWS_ENCODER_H
#define OCTET_FLOWS_ENCODER_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "rag.h"

typedef struct encoder encoder_t;

/* Chunks left without a vector that a search or a workflow embeds itself
 * before it retrieves (a file or two changed); with more, it retrieves
 * lexically and 'octet index' (or the TUI, in the background) embeds them. */
#define ENCODER_CATCH_UP 64

/* The encoder at PATH (NULL: the default one) for N_THREADS threads (<= 0:
 * every core). With no file there, 0 with *OUT NULL and WHY (N bytes)
 * saying where it was looked for; a file that is not readable as an octet
 * encoder is an error only when it is loaded. */
int encoder_open(encoder_t **out, const char *path, int n_threads, char *why, size_t n, errmsg_t *err);
void encoder_close(encoder_t *e);
const char *encoder_path(const encoder_t *e);

/* Load E and embed TEXT (LEN bytes) as a query on a thread of its own, now,
 * so that a search asking for that query's vector finds it made (the
 * model's load is most of a search's time otherwise). E may be NULL; a
 * failure here is met again, and told, when the query is embedded. */
void encoder_prefetch(encoder_t *e, const char *text, size_t len);

/* Hand E to R as its embedder (R must be closed, or given another, before E
 * is). */
void encoder_attach(encoder_t *e, rag_t *r);

/* For a front end about to retrieve from R: unless LEXICAL, open the
 * default encoder for N_THREADS threads and hand it to R (R NULL: not yet,
 * encoder_attach does it once R is open). Never an error:
 * without an encoder (none there, or a file octet cannot read) *OUT is
 * NULL, WHY (N bytes) says why, and retrieval is lexical. Close *OUT after
 * R. */
void encoder_use(rag_t *r, bool lexical, int n_threads, encoder_t **out, char *why, size_t n);

/* One line for -v and the TUI: how R retrieves now ("hybrid: 5178 chunks
 * with vectors of ENCODER", "lexical: 120 of 5178 chunks have their
 * vector...", "lexical: no retrieval encoder (WHY)"), in BUF (N bytes). */
void encoder_describe(rag_t *r, const encoder_t *e, bool lexical, const char *why, char *buf, size_t n);

/* Before retrieving: when R has an embedder and at most MAX chunks lack
 * their vector, embed them now (a few changed files cost little). 0, or the
 * error of rag_embed (then R retrieves lexically). */
int encoder_catch_up(rag_t *r, size_t max, errmsg_t *err);

#endif
