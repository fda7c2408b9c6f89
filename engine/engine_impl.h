/* engine_impl.h - what engine.c, load.c, calib.c and forward.c share: the
 * model and session structures and the functions between them. Private to
 * engine/: nothing outside includes it. */
#ifndef OCTET_ENGINE_IMPL_H
#define OCTET_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend.h"
#include "engine.h"

typedef struct layer_w {
    be_buf_t *attn_norm, *ffn_norm;
    be_buf_t *bqkv; /* NULL without Q/K/V biases */
    be_mat_t *wqkv; /* rows: q (n_head*D), k (n_kv*D), v (n_kv*D) */
    be_mat_t *wo;
    be_mat_t *wgu;  /* rows: gate (n_ff), up (n_ff) */
    be_mat_t *wdown;
} layer_w_t;

/* Per-channel activation maxima gathered while calibrating SmoothQuant. */
typedef struct sq_stats {
    float *qkv_in, *wo_in, *gu_in, *down_in; /* [n_layer][width] */
    float *tmp;                               /* n_batch x widest row */
} sq_stats_t;

struct eng_model {
    eng_opts_t opts; /* resolved */
    gguf_t *g_owned;
    model_t *m_owned;
    const gguf_t *g;
    const model_t *md;
    model_hparams_t hp;
    tok_t *tok;
    be_t *be;
    /* weights */
    be_mat_t *tok_embd, *output; /* output == tok_embd when tied */
    be_buf_t *out_norm;
    layer_w_t *L;
    be_buf_t *rope_freq;
    float rope_mscale;
    uint64_t weight_bytes;
    /* scratch for one forward pass of up to n_batch tokens */
    be_buf_t *x, *xn, *qkv, *att, *tmp, *gu, *hff, *cs, *logits;
    uint32_t ffn_rows; /* tokens per feed-forward chunk: gu and hff hold this many rows */
    uint64_t scratch_bytes;
    be_kv_desc_t kv_desc;
    int qkv_w; /* (n_head + 2 n_kv) * D */
    atomic_int n_sessions; /* eng_set_context needs none open */
    pthread_mutex_t lock; /* one forward pass at a time over the shared scratch */
    bool lock_init;
    sq_stats_t *calib; /* non-NULL only while calibrating */
    eng_session_t *logits_owner; /* whose logits M->logits holds (not yet read back) */
    size_t logits_rows; /* rows of M->logits and of each session's host copy */
    char backend_note[ERRMSG_MAX]; /* why "auto" stayed on the CPU */
};

struct eng_session {
    eng_model_t *m;
    be_kv_t *kv;
    uint64_t kv_bytes;
    uint32_t pos;
    atomic_int cancel;
    int32_t *ids;  /* the tokens in the KV cache, n_ctx of room */
    float *logits; /* n_vocab x M->logits_rows */
    size_t logits_n; /* rows of logits valid after the last feed */
    bool have_logits;
    bool dev_logits; /* they are still only on the device (M->logits): read on demand */
    void *aux;       /* eng_session_set_aux */
    void (*aux_free)(void *);
};

/* Smoothing factors of one layer (NULL: plain int8). */
typedef struct layer_sq {
    float *s_qkv;  /* n_embd: attn_norm -> wqkv columns */
    float *s_wo;   /* n_head*D: v rows (shared across a KV group) -> wo columns */
    float *s_gu;   /* n_embd: ffn_norm -> wgu columns */
    float *s_down; /* n_ff: up rows -> wdown columns */
} layer_sq_t;

/* ---- load.c: weights from the GGUF file to the backend ---------------------- */

/* Upload every weight of the model (embedding, output, norms, layers, RoPE
 * frequencies) in M->opts' format; M->be is open. */
int eng_load_weights(eng_model_t *M, errmsg_t *err);
/* (Re-)upload layer IL's matrices and norms, smoothed by SQ when given. */
int eng_upload_layer(eng_model_t *M, int il, const layer_sq_t *sq, errmsg_t *err);
void eng_free_layer(eng_model_t *M, layer_w_t *l);
uint64_t eng_tensor_rows(const gguf_tensor_t *t);
/* Row R of a 1-D or 2-D tensor as f32. */
void eng_tensor_row_f32(const gguf_tensor_t *t, uint64_t r, float *out);

/* ---- calib.c: SmoothQuant --------------------------------------------------- */

/* Where the forward pass shows calibration a matrix product's input. */
typedef enum calib_point {
    CALIB_QKV_IN,  /* attn_norm output [n][E] */
    CALIB_WO_IN,   /* attention output [n][H*D] */
    CALIB_GU_IN,   /* ffn_norm output [n][E] */
    CALIB_DOWN_IN, /* SwiGLU output [n][F] */
} calib_point_t;

/* Run the calibration text through the plain int8 model and re-upload each
 * layer with the smoothing factors folded in. */
int eng_calibrate(eng_model_t *M, errmsg_t *err);
/* Record the per-channel maxima of B (N_TOK rows) at POINT of layer IL. */
void eng_calib_observe(eng_model_t *M, calib_point_t point, int il, const be_buf_t *b, int n_tok);

/* ---- forward.c ------------------------------------------------------------------ */

/* One forward pass of N tokens at S's position, computing the logits of the
 * last N_OUT of them (0: none); M's lock held. */
int eng_forward(eng_session_t *s, const int32_t *ids, int n, int n_out, errmsg_t *err);
/* A bidirectional pass of N tokens at S's position (an encoder's), writing
 * output_norm's output of every token to ROWS (N x n_embd floats, host);
 * M's lock held, the backend has attention_bidir. */
int eng_forward_pool(eng_session_t *s, const int32_t *ids, int n, float *rows, errmsg_t *err);
/* Copy S's logits from the device (M's lock held). */
int eng_fetch_logits(eng_session_t *s, errmsg_t *err);

#endif
