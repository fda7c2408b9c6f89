/* backend.h - the compute backend interface the engine's forward pass is
 * written against: a small ggml-like set of operations on backend-owned
 * handles (f32 activation buffers, weight matrices, a KV cache). The CPU
 * backend (kernels/cpu/backend_cpu.c) and the CUDA backend (kernels/cuda/)
 * implement the same table, so engine.c holds the model logic once.
 *
 * Conventions. Activations are row-major f32, one row per token; a "row
 * stride" LD is in floats. Offsets are in floats. Compute operations do not
 * fail: a backend that can fail asynchronously (CUDA) records the first error
 * and returns it from end(). Everything an operation needs is allocated
 * before the first forward pass (buf_new, mat_new, kv_new, reserve), so a
 * forward pass never allocates. Between begin() and end() the engine issues
 * the operations of one forward pass in the same order every time for the
 * same token count, so a backend may record and replay them (CUDA graphs);
 * pos0 and the token ids are the only values that change between two decode
 * steps, and both are passed to begin(). */
#ifndef OCTET_BACKEND_H
#define OCTET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

typedef struct be be_t;         /* a backend instance: starts with const be_ops_t *ops */
typedef struct be_buf be_buf_t; /* an f32 array on the device */
typedef struct be_mat be_mat_t; /* a weight matrix: ROWS outputs x COLS inputs */
typedef struct be_kv be_kv_t;   /* a KV cache: layers x KV heads x positions */

typedef enum be_wfmt {
    BE_W_F32,
    BE_W_F16,
    BE_W_INT8, /* symmetric, one f32 scale per output row */
    BE_W_Q8_0, /* GGUF Q8_0 blocks (32 int8, one f16 scale) */
} be_wfmt_t;

typedef enum be_src {
    BE_SRC_F32,
    BE_SRC_F16,
    BE_SRC_BF16,
    BE_SRC_Q8_0,
} be_src_t;

typedef enum be_kvfmt {
    BE_KV_F32,
    BE_KV_F16,
    BE_KV_INT8, /* int8 + one f32 scale per token per KV head, for K and for V */
} be_kvfmt_t;

typedef struct be_kv_desc {
    be_kvfmt_t fmt;
    int n_layer;
    int n_head_kv;
    int head_dim;
    int n_ctx;
} be_kv_desc_t;

/* Memory of one device, for the engine's report. */
typedef struct be_dev_info {
    char name[48];
    uint64_t scratch;  /* backend-internal work space (matmul/attention) */
    uint64_t dev_free; /* 0 when unknown */
    uint64_t dev_total;
} be_dev_info_t;

/* The largest pass batch_exact speaks for (below). */
#define BE_EXACT_TOK 16

typedef struct be_ops {
    const char *name;
    void (*free)(be_t *be);

    /* ---- memory ----------------------------------------------------------- */
    int (*buf_new)(be_t *be, be_buf_t **out, size_t n, errmsg_t *err); /* N floats, zeroed */
    void (*buf_free)(be_t *be, be_buf_t *b);
    int (*buf_set)(be_t *be, be_buf_t *b, size_t off, const float *src, size_t n, errmsg_t *err);
    int (*buf_get)(be_t *be, const be_buf_t *b, size_t off, float *dst, size_t n, errmsg_t *err);

    /* DATA: ROWS x COLS row-major in SRC layout (GGUF ne = {cols, rows}).
     * COL_SCALE (COLS floats) or NULL multiplies column j before conversion. */
    int (*mat_new)(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data, int rows,
                   int cols, const float *col_scale, errmsg_t *err);
    void (*mat_free)(be_t *be, be_mat_t *m);
    uint64_t (*mat_bytes)(be_t *be, const be_mat_t *m);

    int (*kv_new)(be_t *be, be_kv_t **out, const be_kv_desc_t *d, errmsg_t *err);
    void (*kv_free)(be_t *be, be_kv_t *kv);
    uint64_t (*kv_bytes)(be_t *be, const be_kv_desc_t *d); /* what kv_new allocates */

    /* Allocate the internal work space for forward passes of up to MAX_TOK
     * tokens over every matrix created so far and attention over N_CTX
     * positions with N_HEAD query heads in N_HEAD_KV groups. Called after the
     * matrices are made (again if they are replaced). */
    int (*reserve)(be_t *be, int max_tok, int n_ctx, int n_head, int n_head_kv, int head_dim,
                   errmsg_t *err);
    void (*dev_info)(be_t *be, be_dev_info_t *out);

    /* ---- one forward pass ------------------------------------------------- */
    int (*begin)(be_t *be, const int32_t *ids, int n_tok, int pos0, errmsg_t *err);
    int (*end)(be_t *be, errmsg_t *err); /* waits for the pass; first error of the pass */

    /* OUT[t] = row IDS[t] of W (the ids given to begin). */
    void (*embed)(be_t *be, const be_mat_t *w, int n_tok, be_buf_t *out);
    /* Y[t][r] = sum_j X[t][j] W[r][j]; X rows start at float X_OFF, stride = cols. */
    void (*matmul)(be_t *be, const be_mat_t *w, const be_buf_t *x, size_t x_off, int n_tok,
                   be_buf_t *y);
    /* OUT[t] = X[t] / sqrt(mean(X[t]^2) + eps) * W, rows of N from X_OFF. */
    void (*rmsnorm)(be_t *be, const be_buf_t *x, size_t x_off, const be_buf_t *w, int n_tok, int n,
                    float eps, be_buf_t *out);
    void (*add)(be_t *be, be_buf_t *x, size_t x_off, const be_buf_t *y, size_t n); /* X[x_off + i] += Y[i] */
    void (*add_rows)(be_t *be, be_buf_t *x, const be_buf_t *b, int n_tok, int n); /* X[t] += B */
    /* Cos/sin table for positions pos0 .. pos0+n_tok-1 (pos0 from begin):
     * CS[t][i] = cos(p*freq[i])*mscale, CS[t][D/2+i] = sin(p*freq[i])*mscale, i < D/2. */
    void (*rope_table)(be_t *be, const be_buf_t *freq, int head_dim, int n_tok, float mscale,
                       be_buf_t *cs);
    /* Rotate the first N_HEADS heads of each row of X (stride LD) in place:
     * NEOX pairs (x_i, x_{i+D/2}), otherwise adjacent pairs (x_2i, x_2i+1). */
    void (*rope)(be_t *be, be_buf_t *x, int n_tok, size_t ld, int n_heads, int head_dim, bool neox,
                 const be_buf_t *cs);
    /* Store K (floats K_OFF.. of each row of X, n_head_kv*head_dim) and V
     * (from V_OFF) of N_TOK tokens at positions pos0.. of LAYER. */
    void (*kv_write)(be_t *be, be_kv_t *kv, int layer, int n_tok, const be_buf_t *x, size_t ld,
                     size_t k_off, size_t v_off);
    /* Causal grouped-query attention: token t (position pos0+t) of query
     * head h (floats h*D of row t of Q, stride LD) over positions 0..pos0+t
     * of KV head h / (n_head / n_head_kv); scores scaled by SCALE. OUT is
     * n_tok x (n_head*D). */
    void (*attention)(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld,
                      int n_tok, int n_head, float scale, be_buf_t *out);
    /* OUT[t][i] = silu(GU[t][i]) * GU[t][n_ff+i]: gate and up fused in one row. */
    void (*swiglu)(be_t *be, const be_buf_t *gu, int n_tok, int n_ff, be_buf_t *out);

    /* ---- optional ----------------------------------------------------------- */
    /* The attention above without the causal mask: every token sees all the
     * positions 0 .. pos0+n_tok-1, its later ones too. An encoder's pass is
     * bidirectional (eng_embed); NULL where the backend has none, and the
     * engine then refuses encoders on it. */
    void (*attention_bidir)(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld, int n_tok,
                            int n_head, float scale, be_buf_t *out);
    /* After end(): the K (1..64) largest of the first N floats of X, value
     * descending then index ascending (NaN ranks lowest), so that only they
     * cross to the host. NULL when the host may as well read all of X. */
    int (*topk)(be_t *be, const be_buf_t *x, int n, int k, int32_t *ids, float *vals, errmsg_t *err);
    /* mat_new for a matrix only embed reads (untied token embeddings): one
     * row per token, so the backend may keep it in memory its device reads
     * in place without holding it (CUDA: mapped pinned host memory), which
     * frees those bytes of device memory; mat_bytes then counts only what
     * the device holds. NULL: mat_new. */
    int (*mat_new_lookup)(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data, int rows,
                          int cols, const float *col_scale, errmsg_t *err);

    /* A pass of up to BE_EXACT_TOK tokens gives each the logits a pass of
     * that token alone would, bit for bit. Speculative decoding verifies
     * drafts in one pass and promises the output of plain decoding, so the
     * engine offers it only on such a backend (eng_verify_max). */
    bool batch_exact;
} be_ops_t;

struct be {
    const be_ops_t *ops;
};

/* The CPU backend (kernels/cpu/backend_cpu.c): N_THREADS <= 0 uses every core. */
int be_cpu_new(be_t **out, int n_threads, errmsg_t *err);
int be_cpu_threads(const be_t *be);

/* The CUDA backend (kernels/cuda/) is a plugin, octet-cuda.so, linked with
 * cudart and cuBLASLt, that engine/be_cuda_plugin.c opens with dlopen the
 * first time one of these functions needs it, so that octet itself links no
 * CUDA library and runs where there is none. The plugin is $OCTET_CUDA_PLUGIN
 * when that is set, else octet-cuda.so next to the executable (or in
 * ../lib/octet/ from it).
 *
 * be_cuda_new: the backend on GPU DEVICE; OCT_ENOTFOUND when the plugin, the
 * CUDA libraries or a usable GPU is missing (the message says which),
 * OCT_EUNSUPPORTED below compute capability 8.0. */
int be_cuda_new(be_t **out, int device, errmsg_t *err);
/* Name and free/total memory of GPU DEVICE without creating a backend. On a
 * machine without an NVIDIA device node it answers OCT_ENOTFOUND without
 * loading the plugin. */
int be_cuda_probe(int device, be_dev_info_t *out, errmsg_t *err);
/* The path of the plugin that was (or would be) loaded: BUF gets it and 0 is
 * returned when it exists, else OCT_ENOTFOUND naming where it was looked for.
 * Does not load it. */
int be_cuda_plugin_find(char *buf, size_t size, errmsg_t *err);

/* What the plugin exports under the name BE_CUDA_PLUGIN_SYM. ABI changes
 * whenever this struct or be_ops_t changes meaning; the sizes catch a
 * plugin built from other headers. */
#define BE_CUDA_PLUGIN_SYM "octet_cuda_plugin"
#define BE_CUDA_ABI 3
typedef struct be_cuda_plugin {
    unsigned abi;
    unsigned ops_size, errmsg_size, dev_info_size;
    const char *version; /* OCTET_VERSION of the build */
    int (*create)(be_t **out, int device, errmsg_t *err);
    int (*probe)(int device, be_dev_info_t *out, errmsg_t *err);
} be_cuda_plugin_t;

#endif
