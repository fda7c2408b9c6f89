/* cu_matmul.cu - weight matrices on the GPU: upload and conversion,
 * matrix-vector kernels for decode, cuBLASLt products for prefill (see
 * cu_matmul.cuh). */
#include <stdlib.h>
#include <string.h>

#include "cu_matmul.cuh"

#define WS_BYTES (32u << 20)       /* cuBLASLt work space */
#define DEQ_BYTES (64u << 20)      /* dequantized Q8_0 rows per cuBLASLt call */
#define GEMV_WARPS 8               /* rows (one per warp) per block */
#define GEMV_LOADS 8               /* 16-byte weight loads in flight per lane */

/* ---- conversion ----------------------------------------------------------- */

size_t cu_src_row_bytes(be_src_t src, int cols)
{
    switch (src) {
    case BE_SRC_F32:
        return (size_t)cols * 4;
    case BE_SRC_F16:
    case BE_SRC_BF16:
        return (size_t)cols * 2;
    case BE_SRC_Q8_0:
        return (size_t)(cols / CU_QK) * 34;
    }
    return 0;
}

__device__ __forceinline__ float src_at(be_src_t src, const uint8_t *row, int j)
{
    switch (src) {
    case BE_SRC_F32:
        return ((const float *)row)[j];
    case BE_SRC_F16:
        return __half2float(((const __half *)row)[j]);
    case BE_SRC_BF16: {
        unsigned u = (unsigned)((const uint16_t *)row)[j] << 16;
        return __uint_as_float(u);
    }
    case BE_SRC_Q8_0: {
        const uint8_t *blk = row + (size_t)(j / CU_QK) * 34;
        __half d;
        memcpy(&d, blk, 2);
        return (float)(int8_t)blk[2 + j % CU_QK] * __half2float(d); /* -128 kept, as cpu_mat.c converts */
    }
    }
    return 0.0f;
}

/* One block per row: SRC rows (stride SROW bytes) into the matrix's rows R0.. */
__global__ void convert_rows(be_src_t src, const uint8_t *in, size_t srow, int cols, const float *cs,
                             be_wfmt_t fmt, void *w, float *rs, __half *bs, int r0)
{
    __shared__ float red[32];
    const uint8_t *row = in + (size_t)blockIdx.x * srow;
    size_t r = (size_t)r0 + blockIdx.x;
    switch (fmt) {
    case BE_W_F32:
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
            ((float *)w)[r * cols + j] = src_at(src, row, j) * (cs ? cs[j] : 1.0f);
        break;
    case BE_W_F16:
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
            ((__half *)w)[r * cols + j] = __float2half_rn(src_at(src, row, j) * (cs ? cs[j] : 1.0f));
        break;
    case BE_W_INT8: {
        float amax = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float a = fabsf(src_at(src, row, j) * (cs ? cs[j] : 1.0f));
            if (a > amax)
                amax = a;
        }
        amax = cu_block_reduce(amax, red, true);
        float s = amax / 127.0f;
        int8_t *q = (int8_t *)w + r * cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float v = src_at(src, row, j) * (cs ? cs[j] : 1.0f);
            q[j] = s == 0.0f ? (int8_t)0 : cu_quant_one(v, s);
        }
        if (threadIdx.x == 0)
            rs[r] = s;
        break;
    }
    case BE_W_Q8_0: {
        int nb = cols / CU_QK;
        int8_t *q = (int8_t *)w + r * cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            int v = (int)(int8_t)row[(size_t)(j / CU_QK) * 34 + 2 + j % CU_QK];
            q[j] = (int8_t)(v < -127 ? -127 : v);
        }
        for (int b = threadIdx.x; b < nb; b += blockDim.x) {
            __half d;
            memcpy(&d, row + (size_t)b * 34, 2);
            bs[r * nb + b] = d;
        }
        break;
    }
    }
}

int cu_mat_upload(cu_mat_t *m, be_wfmt_t fmt, be_src_t src, const void *data, int rows, int cols,
                  const float *col_scale, void *staging, size_t staging_bytes, cudaStream_t st,
                  errmsg_t *err)
{
    memset(m, 0, sizeof *m);
    m->fmt = fmt;
    m->rows = rows;
    m->cols = cols;
    if (fmt == BE_W_Q8_0 && (src != BE_SRC_Q8_0 || col_scale))
        return errmsg_set(err, OCT_EINVAL, "Q8_0 matrices are kept only from unscaled Q8_0 sources");
    if (src == BE_SRC_Q8_0 && cols % CU_QK)
        return errmsg_set(err, OCT_EFORMAT, "Q8_0 matrix with %d columns, not a multiple of 32", cols);
    size_t n = (size_t)rows * (size_t)cols;
    size_t esz = fmt == BE_W_F32 ? 4 : fmt == BE_W_F16 ? 2 : 1;
    size_t srow = cu_src_row_bytes(src, cols);
    if (srow > staging_bytes)
        return errmsg_set(err, OCT_EUNSUPPORTED, "a matrix row of %zu bytes exceeds the upload buffer", srow);
    float *d_cs = NULL;
    int rc;
    if ((rc = cu_alloc(&m->w, n * esz, "a weight matrix", err)))
        goto fail;
    if (fmt == BE_W_INT8 && (rc = cu_alloc((void **)&m->rs, (size_t)rows * sizeof(float), "row scales", err)))
        goto fail;
    if (fmt == BE_W_Q8_0 &&
        (rc = cu_alloc((void **)&m->bs, (size_t)rows * (cols / CU_QK) * sizeof(__half), "block scales", err)))
        goto fail;
    if (col_scale) {
        if ((rc = cu_alloc((void **)&d_cs, (size_t)cols * sizeof(float), "column scales", err)))
            goto fail;
        cudaMemcpyAsync(d_cs, col_scale, (size_t)cols * sizeof(float), cudaMemcpyHostToDevice, st);
    }
    {
        int chunk = (int)(staging_bytes / srow);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int nr = rows - r0 < chunk ? rows - r0 : chunk;
            cudaMemcpyAsync(staging, (const uint8_t *)data + (size_t)r0 * srow, (size_t)nr * srow,
                            cudaMemcpyHostToDevice, st);
            convert_rows<<<nr, 256, 0, st>>>(src, (const uint8_t *)staging, srow, cols, d_cs, fmt, m->w, m->rs,
                                            m->bs, r0);
        }
    }
    {
        cudaError_t e = cudaStreamSynchronize(st);
        if (e == cudaSuccess)
            e = cudaGetLastError();
        if (e != cudaSuccess) {
            rc = cu_fail(err, e, "converting a weight matrix");
            goto fail;
        }
    }
    cudaFree(d_cs);
    m->bytes = n * esz + (m->rs ? (size_t)rows * 4 : 0) + (m->bs ? (size_t)rows * (cols / CU_QK) * 2 : 0);
    return 0;
fail:
    cudaFree(d_cs);
    cu_mat_release(m);
    return rc;
}

void cu_mat_release(cu_mat_t *m)
{
    cudaFree(m->w);
    cudaFree(m->rs);
    cudaFree(m->bs);
    m->w = NULL;
    m->rs = NULL;
    m->bs = NULL;
}

/* ---- work space ------------------------------------------------------------ */

void cu_mm_release(cu_mm_t *mm)
{
    cudaFree(mm->xq);
    cudaFree(mm->xs);
    cudaFree(mm->xh);
    cudaFree(mm->wh);
    cudaFree(mm->ws);
    mm->xq = NULL;
    mm->xs = NULL;
    mm->xh = NULL;
    mm->wh = NULL;
    mm->ws = NULL;
    mm->bytes = 0;
}

static size_t pad16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

int cu_mm_reserve(cu_mm_t *mm, int max_tok, int max_rows, int max_cols, bool need_half, bool need_deq,
                  errmsg_t *err)
{
    cu_mm_release(mm);
    mm->max_tok = max_tok;
    mm->max_rows = max_rows;
    mm->max_cols = max_cols;
    mm->need_half = need_half;
    mm->need_deq = need_deq;
    size_t xq = (size_t)max_tok * pad16((size_t)max_cols);
    size_t xh = need_half ? (size_t)max_tok * (size_t)max_cols * 2 : 0;
    mm->wh_elems = need_deq ? DEQ_BYTES / 2 : 0;
    if (need_deq && mm->wh_elems < (size_t)max_cols * 64)
        mm->wh_elems = (size_t)max_cols * 64;
    mm->ws_bytes = WS_BYTES;
    int rc;
    if ((rc = cu_alloc((void **)&mm->xq, xq, "quantized activations", err)) ||
        (rc = cu_alloc((void **)&mm->xs, (size_t)max_tok * 4, "activation scales", err)) ||
        (xh && (rc = cu_alloc((void **)&mm->xh, xh, "f16 activations", err))) ||
        (mm->wh_elems && (rc = cu_alloc((void **)&mm->wh, mm->wh_elems * 2, "dequantized weights", err))) ||
        (rc = cu_alloc(&mm->ws, mm->ws_bytes, "cuBLASLt work space", err))) {
        cu_mm_release(mm);
        return rc;
    }
    mm->bytes = xq + (size_t)max_tok * 4 + xh + mm->wh_elems * 2 + mm->ws_bytes;
    return 0;
}

/* ---- activations ------------------------------------------------------------ */

/* One block per token: int8 quants (row stride LDQ, zero-padded) and the
 * token's scale. */
__global__ void quantize_rows(const float *x, int cols, int8_t *q, size_t ldq, float *xs)
{
    __shared__ float red[32];
    const float *row = x + (size_t)blockIdx.x * cols;
    float amax = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float a = fabsf(row[j]);
        if (a > amax)
            amax = a;
    }
    amax = cu_block_reduce(amax, red, true);
    float s = amax / 127.0f;
    int8_t *qr = q + (size_t)blockIdx.x * ldq;
    for (int j = threadIdx.x; j < (int)ldq; j += blockDim.x) {
        if (j >= cols) {
            qr[j] = 0;
            continue;
        }
        qr[j] = s == 0.0f ? (int8_t)0 : cu_quant_one(row[j], s);
    }
    if (threadIdx.x == 0)
        xs[blockIdx.x] = s;
}

__global__ void to_half(const float *x, size_t n, __half *out)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(x[i]);
}

/* ---- matrix-vector products (decode) --------------------------------------- */

__device__ __forceinline__ int dot16(int4 a, int4 b, int s)
{
    s = __dp4a(a.x, b.x, s);
    s = __dp4a(a.y, b.y, s);
    s = __dp4a(a.z, b.z, s);
    return __dp4a(a.w, b.w, s);
}

/* Weights are read once per token: bypass L1 and mark them streaming. */
__device__ __forceinline__ int4 ld_stream(const int4 *p)
{
    return __ldcs(p);
}

/* One warp per row; COLS % 16 == 0 (rows 16-byte aligned). INT8: per-row
 * scale; Q8_0 (Q8 true): f16 scale per 32 columns. */
template <bool Q8>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_i8(const int8_t *w, const float *rs, const __half *bs, const int8_t *xq, const float *xs, int rows,
            int cols, float *y)
{
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const int4 *wr = (const int4 *)(w + (size_t)r * cols);
    const int4 *xv = (const int4 *)xq;
    int n16 = cols / 16;
    const __half *br = Q8 ? bs + (size_t)r * (cols / CU_QK) : NULL;
    int iacc = 0;
    float facc = 0.0f;
    /* GEMV_LOADS independent 16-byte loads per lane are issued before any is
     * used, so enough bytes are in flight to cover memory latency; a row of
     * 3584 columns is one round (7 loads per lane), predicated at the end. */
    for (int base = lane; base < n16; base += 32 * GEMV_LOADS) {
        int4 a[GEMV_LOADS];
#pragma unroll
        for (int u = 0; u < GEMV_LOADS; u++) {
            int i = base + 32 * u;
            a[u] = i < n16 ? ld_stream(wr + i) : make_int4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < GEMV_LOADS; u++) {
            int i = base + 32 * u;
            if (i < n16) {
                int sum = dot16(a[u], xv[i], 0);
                if (Q8)
                    facc += (float)sum * __half2float(br[i / 2]);
                else
                    iacc += sum;
            }
        }
    }
    if (Q8) {
        facc = cu_warp_sum(facc);
    } else {
        for (int o = 16; o > 0; o >>= 1)
            iacc += __shfl_xor_sync(0xffffffffu, iacc, o);
    }
    if (lane == 0)
        y[r] = (Q8 ? facc : (float)iacc * rs[r]) * xs[0];
}

/* Any column count: one warp per row, element by element. */
__global__ void gemv_any(be_wfmt_t fmt, const void *w, const float *rs, const __half *bs, const float *x,
                         const int8_t *xq, const float *xs, int rows, int cols, float *y)
{
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    size_t base = (size_t)r * cols;
    float acc = 0.0f;
    int iacc = 0;
    for (int j = lane; j < cols; j += 32) {
        switch (fmt) {
        case BE_W_F32:
            acc += ((const float *)w)[base + j] * x[j];
            break;
        case BE_W_F16:
            acc += __half2float(((const __half *)w)[base + j]) * x[j];
            break;
        case BE_W_INT8:
            iacc += (int)((const int8_t *)w)[base + j] * (int)xq[j];
            break;
        case BE_W_Q8_0:
            acc += (float)((int)((const int8_t *)w)[base + j] * (int)xq[j]) *
                   __half2float(bs[(size_t)r * (cols / CU_QK) + j / CU_QK]);
            break;
        }
    }
    acc = cu_warp_sum(acc);
    for (int o = 16; o > 0; o >>= 1)
        iacc += __shfl_xor_sync(0xffffffffu, iacc, o);
    if (lane == 0) {
        if (fmt == BE_W_INT8)
            acc = (float)iacc * rs[r] * xs[0];
        else if (fmt == BE_W_Q8_0)
            acc *= xs[0];
        y[r] = acc;
    }
}

/* f32 and f16 weights, COLS % 8 == 0: 8 weights per thread per step. */
template <typename T>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_f(const T *w, const float *x, int rows, int cols, float *y)
{
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const T *wr = w + (size_t)r * cols;
    float acc = 0.0f;
    for (int j = lane * 8; j < cols; j += 256) {
        float wf[8];
        if (sizeof(T) == 2) {
            int4 v = ld_stream((const int4 *)(wr + j));
            const __half2 *h = (const __half2 *)&v;
            for (int k = 0; k < 4; k++) {
                float2 f = __half22float2(h[k]);
                wf[2 * k] = f.x;
                wf[2 * k + 1] = f.y;
            }
        } else {
            int4 v0 = ld_stream((const int4 *)(wr + j)), v1 = ld_stream((const int4 *)(wr + j + 4));
            memcpy(wf, &v0, 16);
            memcpy(wf + 4, &v1, 16);
        }
        float4 x0 = *(const float4 *)(x + j), x1 = *(const float4 *)(x + j + 4);
        acc += wf[0] * x0.x + wf[1] * x0.y + wf[2] * x0.z + wf[3] * x0.w + wf[4] * x1.x + wf[5] * x1.y +
               wf[6] * x1.z + wf[7] * x1.w;
    }
    acc = cu_warp_sum(acc);
    if (lane == 0)
        y[r] = acc;
}

bool cu_gemv_prequant(const cu_mat_t *w)
{
    return (w->fmt == BE_W_INT8 || w->fmt == BE_W_Q8_0) && w->cols % 16 == 0;
}

void cu_gemv_quantized(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    if (w->fmt == BE_W_INT8)
        gemv_i8<false><<<blocks, th, 0, st>>>((const int8_t *)w->w, w->rs, NULL, mm->xq, mm->xs, w->rows, w->cols,
                                              y);
    else
        gemv_i8<true><<<blocks, th, 0, st>>>((const int8_t *)w->w, NULL, w->bs, mm->xq, mm->xs, w->rows, w->cols,
                                             y);
}

static void gemv(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    bool i8 = w->fmt == BE_W_INT8 || w->fmt == BE_W_Q8_0;
    if (i8) {
        size_t ldq = pad16((size_t)w->cols);
        quantize_rows<<<1, 1024, 0, st>>>(x, w->cols, mm->xq, ldq, mm->xs);
        if (cu_gemv_prequant(w)) {
            cu_gemv_quantized(mm, st, w, y);
            return;
        }
    } else if (w->cols % 8 == 0 && ((uintptr_t)x & 15) == 0) { /* X_OFF may leave X unaligned for float4 */
        if (w->fmt == BE_W_F16)
            gemv_f<__half><<<blocks, th, 0, st>>>((const __half *)w->w, x, w->rows, w->cols, y);
        else
            gemv_f<float><<<blocks, th, 0, st>>>((const float *)w->w, x, w->rows, w->cols, y);
        return;
    }
    gemv_any<<<blocks, th, 0, st>>>(w->fmt, w->w, w->rs, w->bs, x, mm->xq, mm->xs, w->rows, w->cols, y);
}

/* ---- batched products (prefill) ---------------------------------------------- */

/* Y (int32 sums written over it by cuBLASLt) to floats, in place. */
__global__ void scale_i32(float *y, int rows, int n_tok, const float *rs, const float *xs)
{
    size_t n = (size_t)rows * n_tok;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int v = ((const int *)y)[i];
        y[i] = (float)v * rs[i % rows] * xs[i / rows];
    }
}

/* The int8 activations of N_TOK tokens (row stride LDQ) as f16, COLS per
 * row: exact, since |q| <= 127. */
__global__ void i8_to_half(const int8_t *q, size_t ldq, int cols, int n_tok, __half *out)
{
    size_t n = (size_t)n_tok * cols;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __int2half_rn(q[i / cols * ldq + i % cols]);
}

/* Y[t][r] *= XS[t]: the tokens' activation scales, after a product of
 * their int8 quants. */
__global__ void scale_tok(float *y, int rows, int n_tok, const float *xs)
{
    size_t n = (size_t)rows * n_tok;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] *= xs[i / rows];
}

/* Q8_0 rows R0 .. R0+NR-1 dequantized to f16 (NR x COLS). */
__global__ void dequant_q8(const int8_t *q, const __half *bs, int cols, int r0, int nr, __half *out)
{
    size_t n = (size_t)nr * cols;
    int nb = cols / CU_QK;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = (size_t)r0 + i / cols;
        int j = (int)(i % cols);
        out[i] = __float2half_rn((float)q[r * cols + j] * __half2float(bs[r * nb + j / CU_QK]));
    }
}

static int grid_for(size_t n)
{
    size_t g = (n + 255) / 256;
    return (int)(g > 4096 ? 4096 : g < 1 ? 1 : g);
}

/* The alignment of P in bytes (256 at most): cuBLASLt's heuristics assume
 * 256 unless told, and X_OFF or a row chunk may give less. */
static uint32_t align_of(const void *p)
{
    uint32_t a = 256;
    while (a > 1 && ((uintptr_t)p & (a - 1)))
        a >>= 1;
    return a;
}

/* A cuBLASLt product of one shape, its descriptors and the algorithm the
 * heuristic chose: kept, since asking the heuristic costs tens of
 * microseconds and a prefill pass makes about four products per layer. */
struct lt_plan {
    cudaDataType_t ab, ct, scale_t;
    cublasComputeType_t comp;
    int m, n, k, ldb, ldc;
    uint32_t al_a, al_b, al_c;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
};

static void plan_destroy(struct lt_plan *p)
{
    if (p->lc)
        cublasLtMatrixLayoutDestroy(p->lc);
    if (p->lb)
        cublasLtMatrixLayoutDestroy(p->lb);
    if (p->la)
        cublasLtMatrixLayoutDestroy(p->la);
    if (p->op)
        cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

void cu_mm_forget_plans(cu_mm_t *mm)
{
    for (int i = 0; i < mm->n_plans; i++)
        plan_destroy(&mm->plans[i]);
    free(mm->plans);
    mm->plans = NULL;
    mm->n_plans = 0;
    mm->next_plan = 0;
}

/* Build P (keys already set): descriptors, layouts and the heuristic's choice. */
static cublasStatus_t plan_make(cu_mm_t *mm, struct lt_plan *p)
{
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    cublasOperation_t tr = CUBLAS_OP_T;
    cublasStatus_t s;
    if ((s = cublasLtMatmulDescCreate(&p->op, p->comp, p->scale_t)) ||
        (s = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr)) ||
        (s = cublasLtMatrixLayoutCreate(&p->la, p->ab, p->k, p->m, p->k)) ||
        (s = cublasLtMatrixLayoutCreate(&p->lb, p->ab, p->k, p->n, p->ldb)) ||
        (s = cublasLtMatrixLayoutCreate(&p->lc, p->ct, p->m, p->n, p->ldc)) ||
        (s = cublasLtMatmulPreferenceCreate(&pref)) ||
        (s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &mm->ws_bytes,
                                                  sizeof mm->ws_bytes)) ||
        (s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &p->al_a,
                                                  sizeof p->al_a)) ||
        (s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &p->al_b,
                                                  sizeof p->al_b)) ||
        (s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &p->al_c,
                                                  sizeof p->al_c)) ||
        (s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &p->al_c,
                                                  sizeof p->al_c)) ||
        (s = cublasLtMatmulAlgoGetHeuristic(mm->lt, p->op, p->la, p->lb, p->lc, p->lc, pref, 1, &h, &found)))
        goto done;
    if (!found || h.state != CUBLAS_STATUS_SUCCESS)
        s = CUBLAS_STATUS_NOT_SUPPORTED;
    else
        p->algo = h.algo;
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    return s;
}

/* C (m x n, col-major, ldc = LDC) = op(A) B with A stored k x m (transposed,
 * lda = k) and B k x n (ldb = LDB): Y[t][r] = sum_j X[t][j] W[r][j]. */
static cublasStatus_t lt_gemm(cu_mm_t *mm, cudaStream_t st, cudaDataType_t ab, cudaDataType_t ct,
                              cublasComputeType_t comp, cudaDataType_t scale_t, const void *a, const void *b,
                              void *c, int m, int n, int k, int ldb, int ldc)
{
    struct lt_plan key;
    memset(&key, 0, sizeof key);
    key.ab = ab;
    key.ct = ct;
    key.scale_t = scale_t;
    key.comp = comp;
    key.m = m;
    key.n = n;
    key.k = k;
    key.ldb = ldb;
    key.ldc = ldc;
    key.al_a = align_of(a);
    key.al_b = align_of(b);
    key.al_c = align_of(c);
    struct lt_plan *p = NULL;
    for (int i = 0; i < mm->n_plans && !p; i++) {
        struct lt_plan *q = &mm->plans[i];
        if (q->ab == ab && q->ct == ct && q->scale_t == scale_t && q->comp == comp && q->m == m && q->n == n &&
            q->k == k && q->ldb == ldb && q->ldc == ldc && q->al_a == key.al_a && q->al_b == key.al_b &&
            q->al_c == key.al_c)
            p = q;
    }
    if (!p) {
        if (!mm->plans && !(mm->plans = (struct lt_plan *)calloc(CU_MM_PLANS, sizeof *mm->plans)))
            return CUBLAS_STATUS_ALLOC_FAILED;
        if (mm->n_plans < CU_MM_PLANS) {
            p = &mm->plans[mm->n_plans++];
        } else {
            p = &mm->plans[mm->next_plan];
            mm->next_plan = (mm->next_plan + 1) % CU_MM_PLANS;
            plan_destroy(p);
        }
        *p = key;
        cublasStatus_t s = plan_make(mm, p);
        if (s != CUBLAS_STATUS_SUCCESS) {
            /* kept, so that a declined shape is not asked again: op NULL marks it */
            plan_destroy(p);
            *p = key;
            return s;
        }
    }
    if (!p->op)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    int32_t ia = 1, ib = 0;
    float fa = 1.0f, fb = 0.0f;
    const void *alpha = scale_t == CUDA_R_32I ? (const void *)&ia : (const void *)&fa;
    const void *beta = scale_t == CUDA_R_32I ? (const void *)&ib : (const void *)&fb;
    return cublasLtMatmul(mm->lt, p->op, alpha, a, p->la, b, p->lb, beta, c, p->lc, c, p->lc, &p->algo, mm->ws,
                          mm->ws_bytes, st);
}

static int lt_fail(errmsg_t *err, cublasStatus_t s, const cu_mat_t *w, int n_tok)
{
    return errmsg_set(err, OCT_EINTERNAL, "cuBLASLt: product of a %dx%d matrix with %d tokens failed (status %d)",
                      w->rows, w->cols, n_tok, (int)s);
}

int cu_matmul(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, int n_tok, float *y, errmsg_t *err)
{
    if (n_tok == 1) {
        gemv(mm, st, w, x, y);
        return 0;
    }
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    int rows = w->rows, cols = w->cols;
    size_t ldq = pad16((size_t)cols);
    switch (w->fmt) {
    case BE_W_F32:
        s = lt_gemm(mm, st, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, w->w, x, y, rows, n_tok, cols,
                    cols, rows);
        break;
    case BE_W_F16:
        to_half<<<grid_for((size_t)n_tok * cols), 256, 0, st>>>(x, (size_t)n_tok * cols, mm->xh);
        s = lt_gemm(mm, st, CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, w->w, mm->xh, y, rows, n_tok,
                    cols, cols, rows);
        break;
    case BE_W_INT8:
        quantize_rows<<<n_tok, 256, 0, st>>>(x, cols, mm->xq, ldq, mm->xs);
        s = lt_gemm(mm, st, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, w->w, mm->xq, y, rows, n_tok,
                    cols, (int)ldq, rows);
        if (s == CUBLAS_STATUS_SUCCESS) {
            scale_i32<<<grid_for((size_t)rows * n_tok), 256, 0, st>>>(y, rows, n_tok, w->rs, mm->xs);
            return 0;
        }
        break;
    case BE_W_Q8_0: {
        /* The activations are rounded to int8 per token as the matrix-vector
         * kernel and the CPU backend round them (that rounding, 1/254 of a
         * token's largest value, is what int8 results are made of); their
         * quants are exact in f16. Only the dequantized weights round, to
         * 2^-12 relative (docs/cuda.md, "Exactness"). */
        quantize_rows<<<n_tok, 256, 0, st>>>(x, cols, mm->xq, ldq, mm->xs);
        i8_to_half<<<grid_for((size_t)n_tok * cols), 256, 0, st>>>(mm->xq, ldq, cols, n_tok, mm->xh);
        int chunk = (int)(mm->wh_elems / (size_t)cols) & ~63;
        for (int r0 = 0; r0 < rows && s == CUBLAS_STATUS_SUCCESS; r0 += chunk) {
            int nr = rows - r0 < chunk ? rows - r0 : chunk;
            dequant_q8<<<grid_for((size_t)nr * cols), 256, 0, st>>>((const int8_t *)w->w, w->bs, cols, r0, nr, mm->wh);
            s = lt_gemm(mm, st, CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, mm->wh, mm->xh, y + r0, nr,
                        n_tok, cols, cols, rows);
        }
        if (s == CUBLAS_STATUS_SUCCESS) {
            scale_tok<<<grid_for((size_t)rows * n_tok), 256, 0, st>>>(y, rows, n_tok, mm->xs);
            return 0;
        }
        break;
    }
    }
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    if (s != CUBLAS_STATUS_NOT_SUPPORTED)
        return lt_fail(err, s, w, n_tok);
    /* Shapes cuBLASLt declines (tiny test models): one matrix-vector product per token. */
    for (int t = 0; t < n_tok; t++)
        gemv(mm, st, w, x + (size_t)t * cols, y + (size_t)t * rows);
    return 0;
}

/* ---- embeddings --------------------------------------------------------------- */

__global__ void embed_rows(be_wfmt_t fmt, const void *w, const float *rs, const __half *bs, int cols,
                           const int *ids, float *out)
{
    size_t r = (size_t)ids[blockIdx.x];
    float *o = out + (size_t)blockIdx.x * cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        size_t i = r * cols + j;
        float v = 0.0f;
        switch (fmt) {
        case BE_W_F32:
            v = ((const float *)w)[i];
            break;
        case BE_W_F16:
            v = __half2float(((const __half *)w)[i]);
            break;
        case BE_W_INT8:
            v = (float)((const int8_t *)w)[i] * rs[r];
            break;
        case BE_W_Q8_0:
            v = (float)((const int8_t *)w)[i] * __half2float(bs[r * (cols / CU_QK) + j / CU_QK]);
            break;
        }
        o[j] = v;
    }
}

void cu_embed(cudaStream_t st, const cu_mat_t *w, const int *ids, int n_tok, float *out)
{
    embed_rows<<<n_tok, 256, 0, st>>>(w->fmt, w->w, w->rs, w->bs, w->cols, ids, out);
}
