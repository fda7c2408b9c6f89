/* embed.h - octet's retrieval encoder (models/octet-embed.gguf, issue 17):
 * a llama-layout GGUF whose octet.encoder.* keys say how to use it. A query
 * or a code chunk becomes token ids ([the <|query|> or <|code|> id] + the
 * byte-level BPE of the text, cut to the key's maximum; no BOS/EOS, no
 * special entry recognized in the text) and then one L2-normalised vector
 * (eng_embed: a bidirectional pass, mean pooling of output_norm's output).
 * Every shape and id is read from the file; models/README.md says what the
 * keys mean and tools/encoder/enc_forward.py is the float64 definition.
 *
 * Thread-safe: one emb_t embeds one text at a time (a lock), from any thread. */
#ifndef OCTET_EMBED_H
#define OCTET_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

typedef struct emb emb_t;

typedef enum emb_kind {
    EMB_QUERY, /* what the user asks: octet.encoder.query_token_id, query_max_tokens */
    EMB_CODE,  /* a chunk as the index stores it: doc_token_id, doc_max_tokens */
} emb_kind_t;

/* Open the encoder PATH on the CPU with N_THREADS threads (<= 0: every
 * core). A GGUF that is not an octet encoder (octet.encoder.causal missing
 * or true, pooling other than "mean", normalize other than "l2", a dimension
 * other than the model's) is refused naming the key. */
int emb_open(emb_t **out, const char *path, int n_threads, errmsg_t *err);
void emb_close(emb_t *e);

uint32_t emb_dim(const emb_t *e); /* octet.encoder.embedding_length */
uint32_t emb_max_tokens(const emb_t *e, emb_kind_t kind);

/* The ids KIND of LEN bytes of TEXT gives (at most emb_max_tokens), malloc'd
 * in *ids (caller frees), *n of them. */
int emb_tokens(const emb_t *e, emb_kind_t kind, const char *text, size_t len, int32_t **ids, size_t *n,
               errmsg_t *err);
/* The unit vector of TEXT as KIND: emb_dim floats in OUT. */
int emb_text(emb_t *e, emb_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err);

/* An identity of the encoder file PATH that changes when the file does (its
 * size and a hash of 64 KiB sampled across it), without loading it: vectors
 * an index keeps are valid for this identity only. ID gets up to N bytes. */
int emb_file_id(const char *path, char *id, size_t n, errmsg_t *err);

/* The vectors' size (octet.encoder.embedding_length) of the encoder PATH,
 * from its header, without loading it. */
int emb_file_dim(const char *path, uint32_t *dim, errmsg_t *err);

#endif
