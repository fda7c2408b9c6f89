/* backend_cuda.cu - the CUDA backend: backend.h's operations on one NVIDIA
 * GPU (sm_80 and newer). Weights, KV cache and work space are allocated
 * once with cudaMalloc; a failed allocation says how much was needed and
 * how much is free.
 *
 * Operations between begin() and end() are recorded as a list of commands
 * and run at end(). A decode step (one token), or with OCTET_CUDA_FEW a pass
 * of up to CU_FEW_MAX tokens (speculative verification, which then runs the
 * decode step's kernels for each of its tokens), whose list equals the previous list of a pass of
 * that size is captured once into a CUDA graph and then replayed: the
 * position and token ids reach the kernels through device memory that the
 * graph's first node copies from pinned host memory, so one graph serves
 * every position. Prefill passes run their lists directly. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

#include "cu_attn.cuh"
#include "cu_matmul.cuh"

#define STAGING_BYTES (64u << 20) /* weight upload buffer */
#define N_GRAPHS 24               /* graphs kept: decode steps and verification passes of a few sessions */

enum cmd_op {
    C_EMBED,
    C_MATMUL,
    C_RMSNORM,
    C_ADD,
    C_ADD_ROWS,
    C_ROPE_TABLE,
    C_ROPE,
    C_KV_WRITE,
    C_ATTENTION,
    C_SWIGLU,
};

/* One recorded operation; compared bytewise, so always built from zero. */
typedef struct cmd {
    int op;
    int i0, i1, i2, i3;
    int neox;
    float f0;
    const void *p0, *p1, *p2;
    void *out;
    size_t z0, z1, z2;
} cmd_t;

struct be_buf {
    float *d;
    size_t n;
};

struct be_mat {
    cu_mat_t m;
};

struct be_kv {
    cu_kv_t d;
    uint64_t bytes;
};

typedef struct graph {
    cmd_t *cmds;
    int n_cmd;
    cudaGraphExec_t exec;
    unsigned long long used; /* last use, for eviction */
} graph_t;

typedef struct cuda_be {
    be_t base;
    int dev;
    cudaDeviceProp prop;
    cudaStream_t st;
    cu_mm_t mm;
    void *staging;
    void *attn_work;
    size_t attn_bytes;
    int max_rows, max_cols;
    bool any_half, any_q8;

    /* the pass: pinned [pos0, ids...] and its device copy */
    int *h_pass, *d_pass;
    int max_tok;
    int n_tok, pos0;
    bool in_pass;
    bool eager;      /* this pass already ran commands outside a graph */
    bool graphs_off; /* OCTET_CUDA_GRAPHS=0, or capturing failed once */
    /* decode-step options (environment, read once, all on unless "0"; docs/cuda.md) */
    bool pdl;        /* OCTET_CUDA_PDL: programmatic dependent launch between a step's kernels */
    bool fuse;       /* OCTET_CUDA_FUSE: bias into the qkv product, RoPE with the cache write, SwiGLU into
                      * the gate/up product, the output product's quantization into it */
    bool exact;      /* OCTET_CUDA_EXACT: the CPU's rounding in RoPE and SwiGLU, f32 caches in f32 */
    int split_cap;   /* OCTET_CUDA_SPLITS (auto, 0 for the tile rule alone, or N): cu_att_opt_t.split_cap */
    int few_max;     /* OCTET_CUDA_FEW: CU_FEW_MAX, passes of up to that many tokens run the decode kernels
                      * per token and round as one-token passes do (batch_exact); else 1 */
    bool q_i8;       /* OCTET_CUDA_QI8=1: int8 caches quantize the queries as the CPU does (cu_att_opt_t.q_i8) */
    bool launched;   /* a kernel of the running list was launched (the next may use PDL) */
    cmd_t *cmds;
    int n_cmd, cap_cmd;

    graph_t graphs[N_GRAPHS];
    /* per token count (1 .. CU_FEW_MAX): the last uncaptured list of a pass
     * of that many tokens, captured when seen again */
    cmd_t *cand[CU_FEW_MAX + 1];
    int n_cand[CU_FEW_MAX + 1], cap_cand[CU_FEW_MAX + 1];
    unsigned long long clock;

    /* top candidates: per-slice picks, then the final K */
    float *tk_v;
    int *tk_i;
    int tk_cap; /* candidates tk_v/tk_i hold */

    int err_code;
    char err_msg[256];

    /* Set by a free from any thread (the engine frees a session's cache
     * outside its model lock, maybe while another session's pass runs);
     * the next begin() drops the graphs, in the thread that runs passes. */
    int graphs_stale;
} cuda_be_t;

static cuda_be_t *cb(be_t *be)
{
    return (cuda_be_t *)be;
}

/* Graphs hold the device pointers of the buffers, matrices and caches they
 * use, and a freed handle's address may come back for a new one: freeing
 * anything forgets every graph (at the next begin(), see graphs_stale). */
static void drop_graphs(cuda_be_t *b);

static void forget_graphs(cuda_be_t *b)
{
    __atomic_store_n(&b->graphs_stale, 1, __ATOMIC_RELEASE);
}

/* Remember the first failure of a pass; end() reports it. */
static void note_err(cuda_be_t *b, int code, const char *what, const char *detail)
{
    if (b->err_code)
        return;
    b->err_code = code;
    snprintf(b->err_msg, sizeof b->err_msg, "CUDA: %.60s: %.180s", what, detail);
}


/* Zero device memory and wait. Not on the pass stream: it is non-blocking,
 * so it would not wait for a plain cudaMemset (legacy stream) either, and
 * this may run in another thread while a pass is being captured on it. */
static int zero_dev(void *p, size_t bytes, errmsg_t *err)
{
    cudaError_t e = cudaMemsetAsync(p, 0, bytes, cudaStreamLegacy);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cudaStreamLegacy);
    return e == cudaSuccess ? 0 : cu_fail(err, e, "clearing device memory");
}

/* ---- elementwise kernels ------------------------------------------------------ */

/* Quantize the row OUT (N floats) this block just wrote into XQ with the
 * per-token scale XS, as the product kernels would (absmax / 127). */
__device__ void quantize_row(const float *out, int n, float amax, float *red, int8_t *xq, float *xs)
{
    amax = cu_block_reduce(amax, red, true);
    float s = amax / 127.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        xq[j] = s == 0.0f ? (int8_t)0 : cu_quant_one(out[j], s);
    }
    if (threadIdx.x == 0)
        *xs = s;
}

/* One block per token: X += Y (residual add, when Y), OUT = RMSNorm(X) * W,
 * and with XQ the one-token product's int8 activations of OUT. */
__global__ void k_norm(float *x, const float *y, const float *w, int n, float eps, float *out, int8_t *xq, float *xs)
{
    __shared__ float red[32];
    cu_pdl_trigger();
    cu_pdl_wait();
    float *row = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = row[j];
        if (y) {
            v += y[(size_t)blockIdx.x * n + j];
            row[j] = v;
        }
        ss += v * v;
    }
    ss = cu_block_reduce(ss, red, false);
    float r = 1.0f / sqrtf(ss / (float)n + eps), amax = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = row[j] * r * w[j];
        o[j] = v;
        amax = fmaxf(amax, fabsf(v));
    }
    if (xq)
        quantize_row(o, n, amax, red, xq, xs);
}

__global__ void k_add(float *x, const float *y, size_t n)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] += y[i];
}

__global__ void k_add_rows(float *x, const float *bias, int n_tok, int n)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    size_t tot = (size_t)n_tok * n;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < tot; i += (size_t)gridDim.x * blockDim.x)
        x[i] += bias[i % n];
}

/* Positions come from the pass block (graph replays change them). */
__global__ void k_rope_table(const float *freq, int head_dim, int n_tok, float mscale, const int *pass, float *cs)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    int half = head_dim / 2;
    int n = n_tok * half;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int t = i / half, k = i % half;
        double th = (double)(pass[0] + t) * (double)freq[k];
        float *row = cs + (size_t)t * head_dim;
        row[k] = (float)(cos(th) * mscale);
        row[half + k] = (float)(sin(th) * mscale);
    }
}

__global__ void k_rope(float *x, int n_tok, size_t ld, int n_heads, int head_dim, int neox, bool exact,
                       const float *cs)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    int half = head_dim / 2;
    size_t n = (size_t)n_tok * n_heads * half;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int k = (int)(i % half);
        size_t th = i / half;
        int h = (int)(th % n_heads), t = (int)(th / n_heads);
        const float *c = cs + (size_t)t * head_dim, *s = c + half;
        float *v = x + (size_t)t * ld + (size_t)h * head_dim;
        cu_rope_pair(v, neox ? k : 2 * k, neox ? k + half : 2 * k + 1, c[k], s[k], exact);
    }
}

__global__ void k_swiglu(const float *gu, int n_tok, int n_ff, bool cpu_exp, float *out)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    size_t n = (size_t)n_tok * n_ff;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / n_ff, k = i % n_ff;
        out[i] = cu_silu_mul(gu[t * 2 * n_ff + k], gu[t * 2 * n_ff + n_ff + k], cpu_exp);
    }
}

/* ---- top candidates ------------------------------------------------------------- */

#define TOPK_SLICE 4096 /* logits ranked per block in the first pass */
#define TOPK_MERGE 8192 /* most candidates the second pass ranks */

/* A ranks before B: larger value, then smaller index; NaN lowest (as
 * eng_top_logits ranks on the host). */
__device__ __forceinline__ bool rank_before(float va, int ia, float vb, int ib)
{
    if (isnan(vb))
        return !isnan(va) || ia < ib;
    if (isnan(va))
        return false;
    return va > vb || (va == vb && ia < ib);
}

/* Bitonic sort of N (a power of two) pairs in shared memory, best first. */
__device__ void bitonic_rank(float *v, int *id, int n)
{
    for (int k = 2; k <= n; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                int o = i ^ j;
                if (o > i) {
                    bool first = (i & k) == 0;
                    bool sw = first ? rank_before(v[o], id[o], v[i], id[i]) : rank_before(v[i], id[i], v[o], id[o]);
                    if (sw) {
                        float tv = v[i];
                        v[i] = v[o];
                        v[o] = tv;
                        int ti = id[i];
                        id[i] = id[o];
                        id[o] = ti;
                    }
                }
            }
            __syncthreads();
        }
}

/* First pass: each block ranks one slice and keeps its K best. Padding
 * is NaN at index INT_MAX, so it ranks below every real value, NaN too. */
__global__ void k_topk_slices(const float *x, int n, int k, float *cv, int *ci)
{
    __shared__ float v[TOPK_SLICE];
    __shared__ int id[TOPK_SLICE];
    int base = blockIdx.x * TOPK_SLICE;
    for (int i = threadIdx.x; i < TOPK_SLICE; i += blockDim.x) {
        int g = base + i;
        v[i] = g < n ? x[g] : NAN;
        id[i] = g < n ? g : INT_MAX;
    }
    __syncthreads();
    bitonic_rank(v, id, TOPK_SLICE);
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        cv[blockIdx.x * k + i] = v[i];
        ci[blockIdx.x * k + i] = id[i];
    }
}

/* Second pass: one block ranks the M kept candidates (N2: M rounded up to
 * a power of two) and writes the K best. */
__global__ void k_topk_merge(const float *cv, const int *ci, int m, int n2, int k, float *ov, int *oi)
{
    extern __shared__ float sm[];
    float *v = sm;
    int *id = (int *)(sm + n2);
    for (int i = threadIdx.x; i < n2; i += blockDim.x) {
        v[i] = i < m ? cv[i] : NAN;
        id[i] = i < m ? ci[i] : INT_MAX;
    }
    __syncthreads();
    bitonic_rank(v, id, n2);
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        ov[i] = v[i];
        oi[i] = id[i];
    }
}

/* SwiGLU of one token and the int8 activations of its output. */
__global__ void k_swiglu_q(const float *gu, int n_ff, bool cpu_exp, float *out, int8_t *xq, float *xs)
{
    __shared__ float red[32];
    cu_pdl_trigger();
    cu_pdl_wait();
    float amax = 0.0f;
    for (int k = threadIdx.x; k < n_ff; k += blockDim.x) {
        float v = cu_silu_mul(gu[k], gu[n_ff + k], cpu_exp);
        out[k] = v;
        amax = fmaxf(amax, fabsf(v));
    }
    quantize_row(out, n_ff, amax, red, xq, xs);
}

static int grid(size_t n)
{
    size_t g = (n + 255) / 256;
    return (int)(g > 8192 ? 8192 : g < 1 ? 1 : g);
}

/* ---- memory ------------------------------------------------------------------- */

static int cu_buf_new(be_t *be, be_buf_t **out, size_t n, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    be_buf_t *bf = (be_buf_t *)calloc(1, sizeof *bf);
    if (!bf)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = cu_alloc((void **)&bf->d, n * sizeof(float), "an activation buffer", err);
    if (!rc && (rc = zero_dev(bf->d, n * sizeof(float), err)))
        cudaFree(bf->d);
    if (rc) {
        free(bf);
        return rc;
    }
    bf->n = n;
    *out = bf;
    return 0;
}

static void cu_buf_free(be_t *be, be_buf_t *bf)
{
    if (!bf)
        return;
    forget_graphs(cb(be));
    cudaFree(bf->d);
    free(bf);
}

static void run_pending(cuda_be_t *b);

static int cu_buf_set(be_t *be, be_buf_t *bf, size_t off, const float *src, size_t n, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (off + n > bf->n)
        return errmsg_set(err, OCT_EINVAL, "buf_set past the end of a buffer");
    run_pending(b);
    cudaError_t e = cudaMemcpyAsync(bf->d + off, src, n * sizeof(float), cudaMemcpyHostToDevice, b->st);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(b->st);
    return e == cudaSuccess ? 0 : cu_fail(err, e, "copying to the GPU");
}

/* Inside a pass (calibration reads activations between operations) the
 * commands recorded so far run first. */
static int cu_buf_get(be_t *be, const be_buf_t *bf, size_t off, float *dst, size_t n, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (off + n > bf->n)
        return errmsg_set(err, OCT_EINVAL, "buf_get past the end of a buffer");
    run_pending(b);
    cudaError_t e = cudaMemcpyAsync(dst, bf->d + off, n * sizeof(float), cudaMemcpyDeviceToHost, b->st);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(b->st);
    return e == cudaSuccess ? 0 : cu_fail(err, e, "copying from the GPU");
}

static int mat_new_in(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data, int rows, int cols,
                      const float *col_scale, bool in_host, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (rows <= 0 || cols <= 0)
        return errmsg_set(err, OCT_EINVAL, "empty matrix");
    if (!b->staging) {
        int rc = cu_alloc(&b->staging, STAGING_BYTES, "the weight upload buffer", err);
        if (rc)
            return rc;
    }
    be_mat_t *m = (be_mat_t *)calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = cu_mat_upload(&m->m, fmt, src, data, rows, cols, col_scale, in_host, b->staging, STAGING_BYTES, b->st,
                           err);
    if (rc) {
        free(m);
        return rc;
    }
    if (rows > b->max_rows)
        b->max_rows = rows;
    if (cols > b->max_cols)
        b->max_cols = cols;
    b->any_half = b->any_half || fmt == BE_W_F16 || fmt == BE_W_Q8_0;
    b->any_q8 = b->any_q8 || fmt == BE_W_Q8_0;
    *out = m;
    return 0;
}

static int cu_mat_new(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data, int rows, int cols,
                      const float *col_scale, errmsg_t *err)
{
    return mat_new_in(be, out, fmt, src, data, rows, cols, col_scale, false, err);
}

/* The untied token embeddings: read one row per token (a few KB a step over
 * the bus), so they stay in host memory and free the device's (545 MB on
 * the 7B shape). OCTET_CUDA_EMBED_HOST=0 keeps them on the device. */
static int cu_mat_new_lookup(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data, int rows,
                             int cols, const float *col_scale, errmsg_t *err)
{
    const char *env = getenv("OCTET_CUDA_EMBED_HOST");
    return mat_new_in(be, out, fmt, src, data, rows, cols, col_scale, !(env && !strcmp(env, "0")), err);
}

static void cu_mat_free(be_t *be, be_mat_t *m)
{
    if (!m)
        return;
    forget_graphs(cb(be));
    cu_mat_release(&m->m);
    free(m);
}

static uint64_t cu_mat_bytes(be_t *be, const be_mat_t *m)
{
    (void)be;
    return m->m.bytes;
}

static uint64_t kv_bytes_of(const be_kv_desc_t *d)
{
    uint64_t rows = (uint64_t)d->n_layer * d->n_head_kv * d->n_ctx;
    uint64_t esz = d->fmt == BE_KV_F32 ? 4 : d->fmt == BE_KV_F16 ? 2 : 1;
    return 2 * rows * d->head_dim * esz + (d->fmt == BE_KV_INT8 ? 2 * rows * sizeof(float) : 0);
}

static uint64_t cu_kv_bytes(be_t *be, const be_kv_desc_t *d)
{
    (void)be;
    return kv_bytes_of(d);
}

static void cu_kv_free(be_t *be, be_kv_t *kv)
{
    if (!kv)
        return;
    forget_graphs(cb(be));
    cudaFree(kv->d.k);
    cudaFree(kv->d.v);
    cudaFree(kv->d.ks);
    cudaFree(kv->d.vs);
    free(kv);
}

/* Zeroed, so that rows never written read as zeros, not garbage. */
static int cu_kv_new(be_t *be, be_kv_t **out, const be_kv_desc_t *d, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    be_kv_t *kv = (be_kv_t *)calloc(1, sizeof *kv);
    if (!kv)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    kv->d.fmt = d->fmt;
    kv->d.n_layer = d->n_layer;
    kv->d.n_head_kv = d->n_head_kv;
    kv->d.head_dim = d->head_dim;
    kv->d.n_ctx = d->n_ctx;
    size_t rows = (size_t)d->n_layer * d->n_head_kv * d->n_ctx;
    size_t esz = d->fmt == BE_KV_F32 ? 4 : d->fmt == BE_KV_F16 ? 2 : 1;
    size_t half = rows * d->head_dim * esz;
    int rc;
    char what[96];
    snprintf(what, sizeof what, "the KV cache (%d tokens, %s)", d->n_ctx,
             d->fmt == BE_KV_INT8 ? "int8" : d->fmt == BE_KV_F16 ? "f16" : "f32");
    if ((rc = cu_alloc(&kv->d.k, half, what, err)) || (rc = cu_alloc(&kv->d.v, half, what, err)))
        goto fail;
    if (d->fmt == BE_KV_INT8 && ((rc = cu_alloc((void **)&kv->d.ks, rows * 4, what, err)) ||
                                 (rc = cu_alloc((void **)&kv->d.vs, rows * 4, what, err))))
        goto fail;
    if ((rc = zero_dev(kv->d.k, half, err)) || (rc = zero_dev(kv->d.v, half, err)) ||
        (kv->d.ks && ((rc = zero_dev(kv->d.ks, rows * 4, err)) || (rc = zero_dev(kv->d.vs, rows * 4, err)))))
        goto fail;
    kv->bytes = kv_bytes_of(d);
    *out = kv;
    return 0;
fail:
    cu_kv_free(be, kv);
    return rc;
}

static void drop_graphs(cuda_be_t *b)
{
    for (int i = 0; i < N_GRAPHS; i++) {
        if (b->graphs[i].exec)
            cudaGraphExecDestroy(b->graphs[i].exec);
        free(b->graphs[i].cmds);
        memset(&b->graphs[i], 0, sizeof b->graphs[i]);
    }
    memset(b->n_cand, 0, sizeof b->n_cand);
}

static int cu_reserve(be_t *be, int max_tok, int n_ctx, int n_head, int n_head_kv, int head_dim, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (head_dim > CU_ATT_MAX_HEAD_DIM)
        return errmsg_set(err, OCT_EUNSUPPORTED, "head size %d: the CUDA attention handles up to %d", head_dim,
                          CU_ATT_MAX_HEAD_DIM);
    drop_graphs(b);
    cudaFree(b->staging);
    b->staging = NULL;
    cudaFree(b->attn_work);
    b->attn_work = NULL;
    cudaFree(b->d_pass);
    b->d_pass = NULL;
    cudaFreeHost(b->h_pass);
    b->h_pass = NULL;
    b->max_tok = 0;
    int rc = cu_mm_reserve(&b->mm, max_tok, b->max_rows, b->max_cols, b->any_half, b->any_q8, err);
    if (rc)
        return rc;
    cudaFree(b->tk_v);
    cudaFree(b->tk_i);
    b->tk_v = NULL;
    b->tk_i = NULL;
    b->tk_cap = 0;
    int cap = (b->max_rows + TOPK_SLICE - 1) / TOPK_SLICE * SAMPLE_MAX_CANDIDATES + SAMPLE_MAX_CANDIDATES;
    if ((rc = cu_alloc((void **)&b->tk_v, (size_t)cap * sizeof(float), "the candidate buffer", err)) ||
        (rc = cu_alloc((void **)&b->tk_i, (size_t)cap * sizeof(int), "the candidate buffer", err)))
        return rc;
    b->tk_cap = cap;
    b->attn_bytes = cu_attn_work_bytes(max_tok < b->few_max ? max_tok : b->few_max, n_ctx, n_head, n_head_kv,
                                       head_dim);
    if ((rc = cu_alloc(&b->attn_work, b->attn_bytes, "the attention work space", err)) ||
        (rc = cu_alloc((void **)&b->d_pass, (size_t)(max_tok + 1) * sizeof(int), "the token buffer", err)))
        return rc;
    cudaError_t e = cudaMallocHost((void **)&b->h_pass, (size_t)(max_tok + 1) * sizeof(int));
    if (e != cudaSuccess)
        return cu_fail(err, e, "allocating pinned host memory");
    b->max_tok = max_tok;
    return 0;
}

static void cu_dev_info(be_t *be, be_dev_info_t *out)
{
    cuda_be_t *b = cb(be);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "cuda:%d %.38s", b->dev, b->prop.name);
    out->scratch = b->mm.bytes + b->attn_bytes + (b->staging ? STAGING_BYTES : 0) + (uint64_t)b->tk_cap * 8;
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
        out->dev_free = fr;
        out->dev_total = tot;
    } else {
        cudaGetLastError();
    }
}

/* ---- recording ------------------------------------------------------------------ */

static cmd_t *rec(cuda_be_t *b, int op)
{
    if (b->n_cmd == b->cap_cmd) {
        int cap = b->cap_cmd ? 2 * b->cap_cmd : 512;
        cmd_t *c = (cmd_t *)realloc(b->cmds, (size_t)cap * sizeof *c);
        if (!c) {
            note_err(b, OCT_ENOMEM, "recording a pass", "out of memory");
            return NULL;
        }
        b->cmds = c;
        b->cap_cmd = cap;
    }
    cmd_t *c = &b->cmds[b->n_cmd++];
    memset(c, 0, sizeof *c);
    c->op = op;
    return c;
}

/* How the next kernel of the running list is launched: with PDL in a
 * decode step or a few-token pass (whose kernels are all the decode
 * step's) once a kernel of the list was launched before it. */
static cu_launch_t lc_next(cuda_be_t *b)
{
    cu_launch_t l = {b->st, b->pdl && b->n_tok <= b->few_max && b->launched};
    b->launched = true;
    return l;
}

static void check_launch(cuda_be_t *b)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        note_err(b, OCT_EINTERNAL, "kernel launch", cudaGetErrorString(e));
}

static cu_att_opt_t att_opt(const cuda_be_t *b, float *pmax)
{
    cu_att_opt_t o = {b->exact, b->split_cap, pmax, b->few_max, b->q_i8};
    return o;
}

static void exec_cmd(cuda_be_t *b, const cmd_t *c)
{
    const int *pass = b->d_pass;
    cu_launch_t lc = lc_next(b);
    switch (c->op) {
    case C_EMBED:
        cu_embed(lc, &((const be_mat_t *)c->p0)->m, pass + 1, c->i0, (float *)c->out);
        break;
    case C_MATMUL: {
        errmsg_t e;
        if (cu_matmul(&b->mm, lc, &((const be_mat_t *)c->p0)->m, (const float *)c->p1 + c->z0, c->i0,
                      (float *)c->out, &e))
            note_err(b, e.code, "matrix product", e.msg);
        break;
    }
    case C_RMSNORM:
        cu_go(lc, k_norm, c->i0, 1024, 0, (float *)c->p0 + c->z0, (const float *)NULL, (const float *)c->p1, c->i1,
              c->f0, (float *)c->out, (int8_t *)NULL, (float *)NULL);
        break;
    case C_ADD:
        cu_go(lc, k_add, grid(c->z0), 256, 0, (float *)c->out, (const float *)c->p0, c->z0);
        break;
    case C_ADD_ROWS:
        cu_go(lc, k_add_rows, grid((size_t)c->i0 * c->i1), 256, 0, (float *)c->out, (const float *)c->p0, c->i0,
              c->i1);
        break;
    case C_ROPE_TABLE:
        cu_go(lc, k_rope_table, grid((size_t)c->i1 * (c->i0 / 2)), 256, 0, (const float *)c->p0, c->i0, c->i1, c->f0,
              pass, (float *)c->out);
        break;
    case C_ROPE:
        cu_go(lc, k_rope, grid((size_t)c->i0 * c->i1 * (c->i2 / 2)), 256, 0, (float *)c->out, c->i0, c->z0, c->i1,
              c->i2, c->neox, b->exact, (const float *)c->p0);
        break;
    case C_KV_WRITE:
        cu_kv_write(lc, &((const be_kv_t *)c->out)->d, c->i0, c->i1, (const float *)c->p0, c->z0, c->z1, c->z2,
                    pass);
        break;
    case C_ATTENTION: {
        cu_att_opt_t o = att_opt(b, NULL);
        cu_attention(lc, &((const be_kv_t *)c->p0)->d, c->i0, (const float *)c->p1, c->z0, c->i1, c->i2, c->f0,
                     c->i3, pass, (float *)c->out, b->attn_work, &o);
        break;
    }
    case C_SWIGLU:
        cu_go(lc, k_swiglu, grid((size_t)c->i0 * c->i1), 256, 0, (const float *)c->p0, c->i0, c->i1, b->exact,
              (float *)c->out);
        break;
    }
    check_launch(b);
}

/* MM is a one-token product reading exactly what PRODUCER (N floats at
 * OUT) wrote, with weights whose activations the producer can quantize. */
static bool takes_quantized(const cmd_t *mm, const void *out, int n_tok, int n)
{
    if (!mm || mm->op != C_MATMUL || mm->i0 != 1 || n_tok != 1 || mm->p1 != out || mm->z0 != 0)
        return false;
    const cu_mat_t *w = &((const be_mat_t *)mm->p0)->m;
    return w->cols == n && cu_gemv_prequant(w);
}

static const cu_mat_t *mat_of(const cmd_t *c)
{
    return &((const be_mat_t *)c->p0)->m;
}

/* C[J] is a one-token product whose activations are already in mm.xq/xs;
 * launch it, with (b->fuse) the bias add after it or the SwiGLU and down
 * product after it, and return how many commands that consumed. */
static int exec_prequant(cuda_be_t *b, const cmd_t *c, int j, int n)
{
    const cmd_t *mm = &c[j], *n1 = j + 1 < n ? &c[j + 1] : NULL, *n2 = j + 2 < n ? &c[j + 2] : NULL;
    const cu_mat_t *w = mat_of(mm);
    if (b->fuse && n1 && n1->op == C_ADD_ROWS && n1->out == mm->out && n1->i0 == 1 && n1->i1 == w->rows) {
        cu_gemv_quantized(&b->mm, lc_next(b), w, (const float *)n1->p0, (float *)mm->out);
        check_launch(b);
        return 2;
    }
    if (b->fuse && n1 && n1->op == C_SWIGLU && n1->p0 == mm->out && n1->i0 == 1 && 2 * n1->i1 == w->rows &&
        cu_gemv_glu_ok(&b->mm, w) && takes_quantized(n2, n1->out, 1, n1->i1)) {
        cu_gemv_glu(&b->mm, lc_next(b), w, b->exact, (float *)mm->out, (float *)n1->out);
        check_launch(b);
        cu_gemv_quantized(&b->mm, lc_next(b), mat_of(n2), NULL, (float *)n2->out);
        check_launch(b);
        return 3;
    }
    cu_gemv_quantized(&b->mm, lc_next(b), w, NULL, (float *)mm->out);
    check_launch(b);
    return 1;
}

/* Run command I of C[0..N) and return how many it consumed. Neighbours are
 * fused, since each small kernel costs microseconds of launch and drain per
 * decode step: a residual add followed by the RMSNorm of its sum becomes one
 * kernel, and a norm or SwiGLU feeding a one-token int8 product quantizes
 * the product's activations as it writes them. With b->fuse also: the qkv
 * bias into the product, RoPE with the cache write, SwiGLU into the
 * gate/up product (exec_prequant), and attention's output quantized by
 * the output product itself. */
static int exec_at(cuda_be_t *b, const cmd_t *c, int i, int n)
{
    const cmd_t *x = &c[i], *n1 = i + 1 < n ? &c[i + 1] : NULL, *n2 = i + 2 < n ? &c[i + 2] : NULL;
    const cmd_t *norm = NULL, *add = NULL, *mm = NULL;
    if (x->op == C_ADD && n1 && n1->op == C_RMSNORM && n1->p0 == x->out && n1->z0 == 0 &&
        (size_t)n1->i0 * (size_t)n1->i1 == x->z0) {
        add = x;
        norm = n1;
        mm = n2;
    } else if (x->op == C_RMSNORM) {
        norm = x;
        mm = n1;
    }
    if (norm) {
        bool q = takes_quantized(mm, norm->out, norm->i0, norm->i1);
        cu_go(lc_next(b), k_norm, norm->i0, 1024, 0, (float *)norm->p0 + norm->z0,
              add ? (const float *)add->p0 : (const float *)NULL, (const float *)norm->p1, norm->i1, norm->f0,
              (float *)norm->out, q ? b->mm.xq : (int8_t *)NULL, q ? b->mm.xs : (float *)NULL);
        check_launch(b);
        int used = add ? 2 : 1;
        return q ? used + exec_prequant(b, c, i + used, n) : used;
    }
    if (x->op == C_SWIGLU && takes_quantized(n1, x->out, x->i0, x->i1)) {
        cu_go(lc_next(b), k_swiglu_q, 1, 1024, 0, (const float *)x->p0, x->i1, b->exact, (float *)x->out, b->mm.xq,
              b->mm.xs);
        check_launch(b);
        cu_gemv_quantized(&b->mm, lc_next(b), mat_of(n1), NULL, (float *)n1->out);
        check_launch(b);
        return 2;
    }
    if (b->fuse && x->op == C_MATMUL && x->i0 > b->few_max && n1 && n1->op == C_SWIGLU && n1->p0 == x->out &&
        n1->i0 == x->i0 && 2 * n1->i1 == mat_of(x)->rows && n2 && n2->op == C_MATMUL &&
        n2->i0 == x->i0 && n2->p1 == n1->out && n2->z0 == 0 && mat_of(n2)->fmt == BE_W_INT8 &&
        mat_of(n2)->cols == n1->i1) {
        /* prefill: the gate/up sums scaled, SwiGLU and the down product's
         * quantization in one pass over them */
        errmsg_t e;
        b->launched = true;
        int rc = cu_matmul_glu(&b->mm, b->st, mat_of(x), (const float *)x->p1 + x->z0, x->i0, b->exact,
                               (float *)x->out, (float *)n1->out, &e);
        if (rc == 0)
            rc = cu_matmul_prequant(&b->mm, b->st, mat_of(n2), n2->i0, (float *)n2->out, &e);
        if (rc < 0)
            note_err(b, e.code, "matrix product", e.msg);
        if (rc <= 0) {
            check_launch(b);
            return 3;
        }
    }
    if (b->fuse && x->op == C_ROPE && x->i0 == 1 && n1 && n1->op == C_KV_WRITE && n1->p0 == x->out &&
        n1->z0 == x->z0 && n1->i1 == 1) {
        const cu_kv_t *kv = &((const be_kv_t *)n1->out)->d;
        if (kv->head_dim == x->i2 && cu_rope_kv_ok(kv, x->i1, n1->z1, n1->z2)) {
            cu_rope_kv_write(lc_next(b), kv, n1->i0, 1, (float *)x->out, x->z0, x->i1, x->neox, b->exact,
                             (const float *)x->p0, n1->z1, n1->z2, b->d_pass);
            check_launch(b);
            return 2;
        }
    }
    if (b->fuse && x->op == C_ATTENTION && x->i1 == 1 && n1 && n1->op == C_MATMUL && n1->i0 == 1 &&
        n1->p1 == x->out && n1->z0 == 0) {
        const cu_kv_t *kv = &((const be_kv_t *)x->p0)->d;
        const cu_mat_t *w = mat_of(n1);
        if (w->cols == x->i2 * kv->head_dim && cu_gemv_xf_ok(&b->mm, w, x->i2)) {
            cu_att_opt_t o = att_opt(b, cu_mm_pmax(&b->mm));
            cu_attention(lc_next(b), kv, x->i0, (const float *)x->p1, x->z0, 1, x->i2, x->f0, 0, b->d_pass,
                         (float *)x->out, b->attn_work, &o);
            check_launch(b);
            cu_gemv_xf(&b->mm, lc_next(b), w, (const float *)x->out, x->i2, (float *)n1->out);
            check_launch(b);
            return 2;
        }
    }
    exec_cmd(b, x);
    return 1;
}

/* Run commands C[0..N), fusing neighbours (see exec_at). */
static void exec_list(cuda_be_t *b, const cmd_t *c, int n)
{
    b->launched = false;
    for (int i = 0; i < n;)
        i += exec_at(b, c, i, n);
}

/* Run the commands recorded so far and forget them: the pass then runs
 * without a graph. */
static void run_pending(cuda_be_t *b)
{
    if (!b->in_pass || b->n_cmd == 0)
        return;
    exec_list(b, b->cmds, b->n_cmd);
    b->n_cmd = 0;
    b->eager = true;
}

static bool same_list(const cmd_t *a, int na, const cmd_t *c, int nc)
{
    return na == nc && memcmp(a, c, (size_t)na * sizeof *a) == 0;
}

static graph_t *find_graph(cuda_be_t *b)
{
    for (int i = 0; i < N_GRAPHS; i++)
        if (b->graphs[i].exec && same_list(b->graphs[i].cmds, b->graphs[i].n_cmd, b->cmds, b->n_cmd))
            return &b->graphs[i];
    return NULL;
}

/* Capture the recorded list into a graph slot (the least recently used). */
static graph_t *capture(cuda_be_t *b)
{
    graph_t *g = &b->graphs[0];
    for (int i = 1; i < N_GRAPHS; i++)
        if (b->graphs[i].used < g->used)
            g = &b->graphs[i];
    if (g->exec)
        cudaGraphExecDestroy(g->exec);
    free(g->cmds);
    memset(g, 0, sizeof *g);
    g->cmds = (cmd_t *)malloc((size_t)b->n_cmd * sizeof(cmd_t));
    if (!g->cmds)
        return NULL;
    cudaGraph_t graph = NULL;
    if (cudaStreamBeginCapture(b->st, cudaStreamCaptureModeThreadLocal) != cudaSuccess)
        goto fail;
    exec_list(b, b->cmds, b->n_cmd);
    if (cudaStreamEndCapture(b->st, &graph) != cudaSuccess || b->err_code)
        goto fail;
    if (cudaGraphInstantiate(&g->exec, graph, 0) != cudaSuccess)
        goto fail;
    cudaGraphDestroy(graph);
    memcpy(g->cmds, b->cmds, (size_t)b->n_cmd * sizeof(cmd_t));
    g->n_cmd = b->n_cmd;
    return g;
fail:
    if (graph)
        cudaGraphDestroy(graph);
    cudaGetLastError();
    free(g->cmds);
    memset(g, 0, sizeof *g);
    b->err_code = 0;
    return NULL;
}

static int cu_begin(be_t *be, const int32_t *ids, int n_tok, int pos0, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (n_tok < 1 || n_tok > b->max_tok)
        return errmsg_set(err, OCT_EINVAL, "a pass of %d tokens exceeds the reserved %d", n_tok, b->max_tok);
    cudaSetDevice(b->dev);
    if (__atomic_exchange_n(&b->graphs_stale, 0, __ATOMIC_ACQ_REL))
        drop_graphs(b);
    b->err_code = 0;
    b->err_msg[0] = '\0';
    b->n_cmd = 0;
    b->eager = false;
    b->in_pass = true;
    b->n_tok = n_tok;
    b->pos0 = pos0;
    b->h_pass[0] = pos0;
    memcpy(b->h_pass + 1, ids, (size_t)n_tok * sizeof(int));
    /* Not part of any graph: the replayed kernels read what this copies. */
    cudaError_t e =
        cudaMemcpyAsync(b->d_pass, b->h_pass, (size_t)(n_tok + 1) * sizeof(int), cudaMemcpyHostToDevice, b->st);
    return e == cudaSuccess ? 0 : cu_fail(err, e, "copying the token ids");
}

static void run_decode(cuda_be_t *b)
{
    const int nt = b->n_tok;
    graph_t *g = find_graph(b);
    if (!g && same_list(b->cand[nt], b->n_cand[nt], b->cmds, b->n_cmd)) {
        g = capture(b);
        if (!g)
            b->graphs_off = true;
    }
    if (g) {
        g->used = ++b->clock;
        cudaError_t e = cudaGraphLaunch(g->exec, b->st);
        if (e != cudaSuccess)
            note_err(b, OCT_EINTERNAL, "graph launch", cudaGetErrorString(e));
        return;
    }
    exec_list(b, b->cmds, b->n_cmd);
    if (b->graphs_off)
        return;
    if (b->cap_cand[nt] < b->n_cmd) {
        cmd_t *c = (cmd_t *)realloc(b->cand[nt], (size_t)b->n_cmd * sizeof *c);
        if (!c)
            return;
        b->cand[nt] = c;
        b->cap_cand[nt] = b->n_cmd;
    }
    memcpy(b->cand[nt], b->cmds, (size_t)b->n_cmd * sizeof *b->cmds);
    b->n_cand[nt] = b->n_cmd;
}

static int cu_end(be_t *be, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    if (b->n_tok <= b->few_max && b->n_cmd > 0 && !b->eager && !b->graphs_off && !b->err_code)
        run_decode(b);
    else
        run_pending(b);
    b->in_pass = false;
    b->n_cmd = 0;
    cudaError_t e = cudaStreamSynchronize(b->st);
    if (e != cudaSuccess)
        note_err(b, OCT_EINTERNAL, "running a forward pass", cudaGetErrorString(e));
    if (b->err_code) {
        cudaGetLastError();
        return errmsg_set(err, b->err_code, "%s", b->err_msg);
    }
    return 0;
}

/* ---- operations: recorded, run at end() ---------------------------------------- */

static void cu_embed_op(be_t *be, const be_mat_t *w, int n_tok, be_buf_t *out)
{
    cmd_t *c = rec(cb(be), C_EMBED);
    if (!c)
        return;
    c->p0 = w;
    c->i0 = n_tok;
    c->out = out->d;
}

static void cu_matmul_op(be_t *be, const be_mat_t *w, const be_buf_t *x, size_t x_off, int n_tok, be_buf_t *y)
{
    cmd_t *c = rec(cb(be), C_MATMUL);
    if (!c)
        return;
    c->p0 = w;
    c->p1 = x->d;
    c->z0 = x_off;
    c->i0 = n_tok;
    c->out = y->d;
}

static void cu_rmsnorm_op(be_t *be, const be_buf_t *x, size_t x_off, const be_buf_t *w, int n_tok, int n, float eps,
                          be_buf_t *out)
{
    cmd_t *c = rec(cb(be), C_RMSNORM);
    if (!c)
        return;
    c->p0 = x->d;
    c->z0 = x_off;
    c->p1 = w->d;
    c->i0 = n_tok;
    c->i1 = n;
    c->f0 = eps;
    c->out = out->d;
}

static void cu_add_op(be_t *be, be_buf_t *x, size_t x_off, const be_buf_t *y, size_t n)
{
    cmd_t *c = rec(cb(be), C_ADD);
    if (!c)
        return;
    c->out = x->d + x_off;
    c->p0 = y->d;
    c->z0 = n;
}

static void cu_add_rows_op(be_t *be, be_buf_t *x, const be_buf_t *bias, int n_tok, int n)
{
    cmd_t *c = rec(cb(be), C_ADD_ROWS);
    if (!c)
        return;
    c->out = x->d;
    c->p0 = bias->d;
    c->i0 = n_tok;
    c->i1 = n;
}

static void cu_rope_table_op(be_t *be, const be_buf_t *freq, int head_dim, int n_tok, float mscale, be_buf_t *cs)
{
    cmd_t *c = rec(cb(be), C_ROPE_TABLE);
    if (!c)
        return;
    c->p0 = freq->d;
    c->i0 = head_dim;
    c->i1 = n_tok;
    c->f0 = mscale;
    c->out = cs->d;
}

static void cu_rope_op(be_t *be, be_buf_t *x, int n_tok, size_t ld, int n_heads, int head_dim, bool neox,
                       const be_buf_t *cs)
{
    cmd_t *c = rec(cb(be), C_ROPE);
    if (!c)
        return;
    c->out = x->d;
    c->i0 = n_tok;
    c->z0 = ld;
    c->i1 = n_heads;
    c->i2 = head_dim;
    c->neox = neox;
    c->p0 = cs->d;
}

static void cu_kv_write_op(be_t *be, be_kv_t *kv, int layer, int n_tok, const be_buf_t *x, size_t ld, size_t k_off,
                           size_t v_off)
{
    cmd_t *c = rec(cb(be), C_KV_WRITE);
    if (!c)
        return;
    c->out = kv;
    c->i0 = layer;
    c->i1 = n_tok;
    c->p0 = x->d;
    c->z0 = ld;
    c->z1 = k_off;
    c->z2 = v_off;
}

/* A decode step or a few-token pass records no host position (i3 = 0) so
 * that its list is the same at every position; cu_attention reads the
 * device copy then. */
static void cu_attention_op(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld, int n_tok,
                            int n_head, float scale, be_buf_t *out)
{
    cuda_be_t *b = cb(be);
    cmd_t *c = rec(b, C_ATTENTION);
    if (!c)
        return;
    c->p0 = kv;
    c->i0 = layer;
    c->p1 = q->d;
    c->z0 = ld;
    c->i1 = n_tok;
    c->i2 = n_head;
    c->f0 = scale;
    c->i3 = n_tok > b->few_max ? b->pos0 : 0;
    c->out = out->d;
}

static void cu_swiglu_op(be_t *be, const be_buf_t *gu, int n_tok, int n_ff, be_buf_t *out)
{
    cmd_t *c = rec(cb(be), C_SWIGLU);
    if (!c)
        return;
    c->p0 = gu->d;
    c->i0 = n_tok;
    c->i1 = n_ff;
    c->out = out->d;
}

static int cu_topk(be_t *be, const be_buf_t *x, int n, int k, int32_t *ids, float *vals, errmsg_t *err)
{
    cuda_be_t *b = cb(be);
    int nb = (n + TOPK_SLICE - 1) / TOPK_SLICE, m = nb * k;
    if (k < 1 || k > SAMPLE_MAX_CANDIDATES || n < k || (size_t)n > x->n)
        return errmsg_set(err, OCT_EINVAL, "top %d of %d values asked", k, n);
    if (m > TOPK_MERGE || m + k > b->tk_cap)
        return errmsg_set(err, OCT_EUNSUPPORTED, "top %d of %d values: too many to rank on the GPU", k, n);
    int n2 = 1;
    while (n2 < m)
        n2 <<= 1;
    k_topk_slices<<<nb, 1024, 0, b->st>>>(x->d, n, k, b->tk_v, b->tk_i);
    k_topk_merge<<<1, 1024, (size_t)n2 * 8, b->st>>>(b->tk_v, b->tk_i, m, n2, k, b->tk_v + m, b->tk_i + m);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(vals, b->tk_v + m, (size_t)k * sizeof(float), cudaMemcpyDeviceToHost, b->st);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(ids, b->tk_i + m, (size_t)k * sizeof(int), cudaMemcpyDeviceToHost, b->st);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(b->st);
    return e == cudaSuccess ? 0 : cu_fail(err, e, "ranking the logits");
}

static void cu_free(be_t *be)
{
    cuda_be_t *b = cb(be);
    if (!b)
        return;
    cudaSetDevice(b->dev);
    drop_graphs(b);
    free(b->cmds);
    for (int i = 0; i <= CU_FEW_MAX; i++)
        free(b->cand[i]);
    cu_mm_release(&b->mm);
    cu_mm_forget_plans(&b->mm);
    if (b->mm.lt)
        cublasLtDestroy(b->mm.lt);
    cudaFree(b->staging);
    cudaFree(b->attn_work);
    cudaFree(b->d_pass);
    cudaFree(b->tk_v);
    cudaFree(b->tk_i);
    if (b->h_pass)
        cudaFreeHost(b->h_pass);
    if (b->st)
        cudaStreamDestroy(b->st);
    free(b);
}

static be_ops_t make_ops(bool few)
{
    be_ops_t o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
    o.free = cu_free;
    o.buf_new = cu_buf_new;
    o.buf_free = cu_buf_free;
    o.buf_set = cu_buf_set;
    o.buf_get = cu_buf_get;
    o.mat_new = cu_mat_new;
    o.mat_new_lookup = cu_mat_new_lookup;
    o.mat_free = cu_mat_free;
    o.mat_bytes = cu_mat_bytes;
    o.kv_new = cu_kv_new;
    o.kv_free = cu_kv_free;
    o.kv_bytes = cu_kv_bytes;
    o.reserve = cu_reserve;
    o.dev_info = cu_dev_info;
    o.begin = cu_begin;
    o.end = cu_end;
    o.embed = cu_embed_op;
    o.matmul = cu_matmul_op;
    o.rmsnorm = cu_rmsnorm_op;
    o.add = cu_add_op;
    o.add_rows = cu_add_rows_op;
    o.rope_table = cu_rope_table_op;
    o.rope = cu_rope_op;
    o.kv_write = cu_kv_write_op;
    o.attention = cu_attention_op;
    o.swiglu = cu_swiglu_op;
    o.topk = cu_topk;
    o.batch_exact = few; /* passes of up to CU_FEW_MAX tokens run the decode kernels per token */
    return o;
}

/* The second table is the backend with OCTET_CUDA_FEW, whose several-token
 * passes are exact. */
static const be_ops_t CUDA_OPS = make_ops(false), CUDA_OPS_FEW = make_ops(true);

/* The device to use and its properties; OCT_ENOTFOUND when there is none. */
static int pick_device(int device, cudaDeviceProp *prop, errmsg_t *err)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        if (e == cudaErrorInsufficientDriver) {
            int rt = 0;
            cudaRuntimeGetVersion(&rt);
            return errmsg_set(err, OCT_ENOTFOUND,
                              "no CUDA GPU found (no NVIDIA driver, or one older than this build's CUDA %d.%d)",
                              rt / 1000, rt % 1000 / 10);
        }
        return errmsg_set(err, OCT_ENOTFOUND, "no CUDA GPU found (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
    }
    if (device < 0 || device >= n)
        return errmsg_set(err, OCT_EINVAL, "CUDA device %d does not exist (%d found)", device, n);
    if ((e = cudaGetDeviceProperties(prop, device)) != cudaSuccess)
        return cu_fail(err, e, "reading the device properties");
    if (prop->major < 8)
        return errmsg_set(err, OCT_EUNSUPPORTED, "%s has compute capability %d.%d; octet's CUDA backend needs 8.0 or newer",
                          prop->name, prop->major, prop->minor);
    return 0;
}

/* An on/off switch from the environment: "0" off, "1" on, else DEF. */
static bool env_flag(const char *name, bool def)
{
    const char *v = getenv(name);
    if (v && !strcmp(v, "0"))
        return false;
    if (v && !strcmp(v, "1"))
        return true;
    return def;
}

static int cu_probe(int device, be_dev_info_t *out, errmsg_t *err)
{
    cudaDeviceProp prop;
    memset(out, 0, sizeof *out);
    int rc = pick_device(device, &prop, err);
    if (rc)
        return rc;
    cudaSetDevice(device);
    size_t fr = 0, tot = 0;
    cudaError_t e = cudaMemGetInfo(&fr, &tot);
    if (e != cudaSuccess)
        return cu_fail(err, e, "reading the device memory");
    snprintf(out->name, sizeof out->name, "cuda:%d %.38s", device, prop.name);
    out->dev_free = fr;
    out->dev_total = tot;
    return 0;
}

static int cu_create(be_t **out, int device, errmsg_t *err)
{
    cuda_be_t *b = (cuda_be_t *)calloc(1, sizeof *b);
    if (!b)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    b->base.ops = &CUDA_OPS;
    b->dev = device;
    int rc = pick_device(device, &b->prop, err);
    cudaError_t e;
    cublasStatus_t s;
    if (rc)
        goto fail;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&b->st, cudaStreamNonBlocking))) {
        rc = cu_fail(err, e, "starting the device");
        goto fail;
    }
    if ((s = cublasLtCreate(&b->mm.lt)) != CUBLAS_STATUS_SUCCESS) {
        rc = errmsg_set(err, OCT_EINTERNAL, "cuBLASLt could not start (status %d)", (int)s);
        goto fail;
    }
    if ((e = cudaFuncSetAttribute(k_topk_merge, cudaFuncAttributeMaxDynamicSharedMemorySize, TOPK_MERGE * 8))) {
        rc = cu_fail(err, e, "configuring the candidate kernel");
        goto fail;
    }
    {
        const char *g = getenv("OCTET_CUDA_GRAPHS");
        b->graphs_off = g && !strcmp(g, "0");
        /* all on since the H100 run of 2026-12-06 (docs/cuda.md, "Decode
         * speed"); "0" turns each off, for comparisons */
        b->pdl = env_flag("OCTET_CUDA_PDL", true) && b->prop.major >= 9;
        b->fuse = env_flag("OCTET_CUDA_FUSE", true);
        b->exact = env_flag("OCTET_CUDA_EXACT", true);
        b->q_i8 = env_flag("OCTET_CUDA_QI8", false);
        b->mm.q8_exact = b->exact;
        const char *sp = getenv("OCTET_CUDA_SPLITS");
        b->split_cap = !sp || !strcmp(sp, "auto") ? -1 : atoi(sp) > 0 ? atoi(sp) : 0;
        /* on since tools/gpu/exact.sh passed on an H100 (2026-12-07,
         * docs/cuda.md): "0" turns it off, and the engine then does not
         * speculate on the GPU */
        bool few = env_flag("OCTET_CUDA_FEW", true);
        b->few_max = few ? CU_FEW_MAX : 1;
        b->mm.few_max = b->few_max;
        b->base.ops = few ? &CUDA_OPS_FEW : &CUDA_OPS;
    }
    *out = &b->base;
    return 0;
fail:
    cu_free(&b->base);
    return rc;
}

#ifndef OCTET_VERSION
#define OCTET_VERSION "unknown"
#endif

/* The one symbol engine/be_cuda_plugin.c looks up after dlopen. */
extern "C" __attribute__((visibility("default"))) const be_cuda_plugin_t octet_cuda_plugin = {
    BE_CUDA_ABI, sizeof(be_ops_t), sizeof(errmsg_t), sizeof(be_dev_info_t), OCTET_VERSION, cu_create, cu_probe,
};
