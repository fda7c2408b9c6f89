/* cu_matmul.cu - weight matrices on the GPU: upload and conversion,
 * matrix-vector kernels for decode, cuBLASLt products for prefill (see
 * cu_matmul.cuh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_matmul.cuh"

#define WS_BYTES (32u << 20)       /* cuBLASLt work space */
#define DEQ_BYTES (64u << 20)      /* dequantized Q8_0 rows per cuBLASLt call */
#define GEMV_WARPS 8               /* rows (one per warp) per block */
#define GEMV_LOADS 4               /* 16-byte weight loads in flight per lane (4 beat 8 in gemv_bench) */

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
                  const float *col_scale, bool in_host, void *staging, size_t staging_bytes, cudaStream_t st,
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
    if (in_host) {
        cudaError_t e = cudaHostAlloc(&m->host, n * esz, cudaHostAllocMapped);
        if (e == cudaSuccess)
            e = cudaHostGetDevicePointer(&m->w, m->host, 0);
        if (e != cudaSuccess) {
            cudaGetLastError(); /* not sticky: clear it */
            rc = errmsg_set(err, OCT_ENOMEM, "cannot map %zu bytes of pinned host memory for a lookup table: %s",
                            n * esz, cudaGetErrorString(e));
            goto fail;
        }
    } else if ((rc = cu_alloc(&m->w, n * esz, "a weight matrix", err))) {
        goto fail;
    }
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
    m->bytes = (m->host ? 0 : n * esz) + (m->rs ? (size_t)rows * 4 : 0) +
               (m->bs ? (size_t)rows * (cols / CU_QK) * 2 : 0);
    return 0;
fail:
    cudaFree(d_cs);
    cu_mat_release(m);
    return rc;
}

void cu_mat_release(cu_mat_t *m)
{
    if (m->host)
        cudaFreeHost(m->host);
    else
        cudaFree(m->w);
    m->host = NULL;
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
    cudaFree(mm->pmax);
    mm->pmax = NULL;
    mm->pmax_n = 0;
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
    /* per-block maxima of the fused one-token products (gemv_glu), or
     * attention's per-head maxima */
    size_t np = (size_t)(max_rows + GEMV_WARPS - 1) / GEMV_WARPS;
    mm->pmax_n = np > 1024 ? np : 1024;
    int rc;
    if ((rc = cu_alloc((void **)&mm->xq, xq, "quantized activations", err)) ||
        (rc = cu_alloc((void **)&mm->xs, (size_t)max_tok * 4, "activation scales", err)) ||
        (xh && (rc = cu_alloc((void **)&mm->xh, xh, "f16 activations", err))) ||
        (mm->wh_elems && (rc = cu_alloc((void **)&mm->wh, mm->wh_elems * 2, "dequantized weights", err))) ||
        (rc = cu_alloc(&mm->ws, mm->ws_bytes, "cuBLASLt work space", err)) ||
        (rc = cu_alloc((void **)&mm->pmax, mm->pmax_n * sizeof(float), "product maxima", err))) {
        cu_mm_release(mm);
        return rc;
    }
    mm->bytes = xq + (size_t)max_tok * 4 + xh + mm->wh_elems * 2 + mm->ws_bytes + mm->pmax_n * sizeof(float);
    return 0;
}

/* ---- activations ------------------------------------------------------------ */

/* One block per token: int8 quants (row stride LDQ, zero-padded) and the
 * token's scale. */
__global__ void quantize_rows(const float *x, int cols, int8_t *q, size_t ldq, float *xs)
{
    __shared__ float red[32];
    cu_pdl_trigger();
    cu_pdl_wait();
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

/* The first round of a row's weight loads: GEMV_LOADS 16-byte loads per
 * lane, issued before any is used so that enough bytes are in flight to
 * cover memory latency (a row of 3584 columns is two rounds, 7 loads per
 * lane, predicated at the end). A lane visits its columns in the same order
 * whatever GEMV_LOADS is, so the sums, float ones included, do not depend on it. */
__device__ __forceinline__ void gemv_fetch(int4 a[GEMV_LOADS], const int4 *wr, int base, int n16)
{
#pragma unroll
    for (int u = 0; u < GEMV_LOADS; u++) {
        int i = base + 32 * u;
        a[u] = i < n16 ? ld_stream(wr + i) : make_int4(0, 0, 0, 0);
    }
}

/* One lane's share of row R (weights WR) against the int8 activations XV:
 * the integer sum (INT8) or the block-scaled float sum (Q8_0). The first
 * round is already in A (gemv_fetch), so that a kernel can issue it before
 * it waits for the activations. */
template <bool Q8>
__device__ __forceinline__ void gemv_row(int4 a[GEMV_LOADS], const int4 *wr, const int4 *xv, const __half *br,
                                         int lane, int n16, int *iacc, float *facc)
{
    for (int base = lane;;) {
#pragma unroll
        for (int u = 0; u < GEMV_LOADS; u++) {
            int i = base + 32 * u;
            if (i < n16) {
                int sum = dot16(a[u], xv[i], 0);
                if (Q8)
                    *facc = __fmaf_rn((float)sum, __half2float(br[i / 2]), *facc);
                else
                    *iacc += sum;
            }
        }
        base += 32 * GEMV_LOADS;
        if (base >= n16)
            break;
        gemv_fetch(a, wr, base, n16);
    }
}

/* The warp's total of row R, scaled: what lane 0 stores. */
template <bool Q8>
__device__ __forceinline__ float gemv_total(int iacc, float facc, const float *rs, int r, float xs)
{
    if constexpr (Q8) {
        return cu_warp_sum(facc) * xs;
    } else {
        for (int o = 16; o > 0; o >>= 1)
            iacc += __shfl_xor_sync(0xffffffffu, iacc, o);
        return (float)iacc * rs[r] * xs;
    }
}

/* One warp per row; COLS % 16 == 0 (rows 16-byte aligned). INT8: per-row
 * scale; Q8_0 (Q8 true): f16 scale per 32 columns. BIAS (or NULL) is added
 * to each output, rounded as a separate addition would round it (the
 * bias add of a qkv product, fused). Launched with PDL in decode: the first
 * weight loads are issued before the wait for the activations. */
template <bool Q8>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_i8(const int8_t *w, const float *rs, const __half *bs, const int8_t *xq, const float *xs, int rows,
            int cols, const float *bias, float *y)
{
    cu_pdl_trigger();
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows) {
        cu_pdl_wait();
        return;
    }
    const int4 *wr = (const int4 *)(w + (size_t)r * cols);
    int n16 = cols / 16;
    int4 a[GEMV_LOADS];
    gemv_fetch(a, wr, lane, n16);
    cu_pdl_wait();
    const __half *br = Q8 ? bs + (size_t)r * (cols / CU_QK) : NULL;
    int iacc = 0;
    float facc = 0.0f;
    gemv_row<Q8>(a, wr, (const int4 *)xq, br, lane, n16, &iacc, &facc);
    float v = gemv_total<Q8>(iacc, facc, rs, r, xs[0]);
    if (lane == 0)
        y[r] = bias ? __fadd_rn(v, bias[r]) : v;
}

/* SwiGLU fused into the gate/up product of one token: warp k computes
 * rows k (gate) and NFF + k (up), stores both in GU as the plain product
 * would, and H[k] = silu(g) * u (cu_silu_mul); each block leaves the
 * largest |H| of its rows in PMAX[blockIdx.x] for quantize_pmax. */
template <bool Q8>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_glu(const int8_t *w, const float *rs, const __half *bs, const int8_t *xq, const float *xs, int nff,
             int cols, bool cpu_exp, float *gu, float *h, float *pmax)
{
    __shared__ float red[GEMV_WARPS];
    cu_pdl_trigger();
    int k = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    float hm = 0.0f;
    if (k < nff) {
        int n16 = cols / 16;
        const int4 *wg = (const int4 *)(w + (size_t)k * cols), *wu = (const int4 *)(w + (size_t)(nff + k) * cols);
        int4 a[GEMV_LOADS], b[GEMV_LOADS];
        gemv_fetch(a, wg, lane, n16);
        gemv_fetch(b, wu, lane, n16);
        cu_pdl_wait();
        int ig = 0, iu = 0;
        float fg = 0.0f, fu = 0.0f;
        const __half *bg = Q8 ? bs + (size_t)k * (cols / CU_QK) : NULL;
        const __half *bu = Q8 ? bs + (size_t)(nff + k) * (cols / CU_QK) : NULL;
        gemv_row<Q8>(a, wg, (const int4 *)xq, bg, lane, n16, &ig, &fg);
        gemv_row<Q8>(b, wu, (const int4 *)xq, bu, lane, n16, &iu, &fu);
        float g = gemv_total<Q8>(ig, fg, rs, k, xs[0]), u = gemv_total<Q8>(iu, fu, rs, nff + k, xs[0]);
        float v = cu_silu_mul(g, u, cpu_exp);
        if (lane == 0) {
            gu[k] = g;
            gu[nff + k] = u;
            h[k] = v;
        }
        hm = fabsf(v);
    } else {
        cu_pdl_wait();
    }
    if (lane == 0)
        red[threadIdx.x / 32] = hm;
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = red[0];
        for (int i = 1; i < GEMV_WARPS; i++)
            m = fmaxf(m, red[i]);
        pmax[blockIdx.x] = m;
    }
}

/* The largest of PMAX[0..NP) in every thread of the block (RED: 32 floats
 * of shared memory). */
__device__ __forceinline__ float pmax_reduce(const float *pmax, int np, float *red)
{
    float m = 0.0f;
    for (int i = threadIdx.x; i < np; i += blockDim.x)
        m = fmaxf(m, pmax[i]);
    return cu_block_reduce(m, red, true);
}

/* X (N floats) to int8 in XQ with the scale max(PMAX[0..NP)) / 127 (the
 * per-block maxima of |X| that the producer left), as quantize_rows would
 * round them; many blocks, each reducing the NP maxima itself. */
__global__ void quantize_pmax(const float *x, int n, const float *pmax, int np, int8_t *xq, float *xs)
{
    __shared__ float red[32];
    cu_pdl_trigger();
    cu_pdl_wait();
    float s = pmax_reduce(pmax, np, red) / 127.0f;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x)
        xq[j] = s == 0.0f ? (int8_t)0 : cu_quant_one(x[j], s);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        xs[0] = s;
}

/* A one-token product whose float activations X the previous kernel left
 * with their per-block maxima |X| in PMAX[0..NP) (attention's combine, one
 * maximum per head): each block quantizes X into shared memory itself (as
 * quantize_rows would), so no separate quantization kernel runs. */
template <bool Q8>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_i8_xf(const int8_t *w, const float *rs, const __half *bs, const float *x, const float *pmax, int np,
               int rows, int cols, float *y)
{
    extern __shared__ __align__(16) int8_t gx_q[];
    __shared__ float red[32];
    cu_pdl_trigger();
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    int n16 = cols / 16;
    bool ok = r < rows;
    const int4 *wr = (const int4 *)(w + (size_t)(ok ? r : 0) * cols);
    int4 a[GEMV_LOADS];
    if (ok)
        gemv_fetch(a, wr, lane, n16);
    cu_pdl_wait();
    float s = pmax_reduce(pmax, np, red) / 127.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        gx_q[j] = s == 0.0f ? (int8_t)0 : cu_quant_one(x[j], s);
    __syncthreads();
    if (!ok)
        return;
    const __half *br = Q8 ? bs + (size_t)r * (cols / CU_QK) : NULL;
    int iacc = 0;
    float facc = 0.0f;
    gemv_row<Q8>(a, wr, (const int4 *)gx_q, br, lane, n16, &iacc, &facc);
    float v = gemv_total<Q8>(iacc, facc, rs, r, s);
    if (lane == 0)
        y[r] = v;
}

/* Any column count: one warp per row, element by element. */
__global__ void gemv_any(be_wfmt_t fmt, const void *w, const float *rs, const __half *bs, const float *x,
                         const int8_t *xq, const float *xs, int rows, int cols, float *y)
{
    cu_pdl_trigger();
    cu_pdl_wait();
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

/* Eight weights of a f32 or f16 row from WR + J, as floats. */
template <typename T> __device__ __forceinline__ void gemv_f_load(const T *wr, int j, float wf[8])
{
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
}

/* ACC plus eight products, each rounding step explicit: gemv_f and
 * gemv_f_few form a token's sum through this one sequence, so they agree
 * bit for bit whatever the compiler would contract. */
__device__ __forceinline__ float gemv_f_step(float acc, const float wf[8], const float *x)
{
    float4 x0 = *(const float4 *)x, x1 = *(const float4 *)(x + 4);
    float s = __fmul_rn(wf[0], x0.x);
    s = __fmaf_rn(wf[1], x0.y, s);
    s = __fmaf_rn(wf[2], x0.z, s);
    s = __fmaf_rn(wf[3], x0.w, s);
    s = __fmaf_rn(wf[4], x1.x, s);
    s = __fmaf_rn(wf[5], x1.y, s);
    s = __fmaf_rn(wf[6], x1.z, s);
    s = __fmaf_rn(wf[7], x1.w, s);
    return __fadd_rn(acc, s);
}

/* f32 and f16 weights, COLS % 8 == 0: 8 weights per thread per step. */
template <typename T>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_f(const T *w, const float *x, int rows, int cols, float *y)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const T *wr = w + (size_t)r * cols;
    float acc = 0.0f;
    for (int j = lane * 8; j < cols; j += 256) {
        float wf[8];
        gemv_f_load(wr, j, wf);
        acc = gemv_f_step(acc, wf, x + j);
    }
    acc = cu_warp_sum(acc);
    if (lane == 0)
        y[r] = acc;
}

/* ---- products of a few tokens (verification passes) --------------------------- */

/* gemv_i8 for N_TOK <= NT tokens at once (activations: rows of LDQ int8
 * quants, scales XS): each token's sum is formed by the same lanes in the
 * same order as gemv_i8 forms it, so Y[t] is bit for bit what a one-token
 * product gives, while every weight is read once for all the tokens. */
template <bool Q8, int NT>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_i8_few(const int8_t *w, const float *rs, const __half *bs, const int8_t *xq, size_t ldq, const float *xs,
                int rows, int cols, int n_tok, float *y)
{
    cu_pdl_trigger();
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows) {
        cu_pdl_wait();
        return;
    }
    const int4 *wr = (const int4 *)(w + (size_t)r * cols);
    const int n16 = cols / 16;
    const __half *br = Q8 ? bs + (size_t)r * (cols / CU_QK) : NULL;
    int iacc[NT];
    float facc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) {
        iacc[t] = 0;
        facc[t] = 0.0f;
    }
    int4 a[GEMV_LOADS];
    gemv_fetch(a, wr, lane, n16);
    cu_pdl_wait();
    for (int base = lane;;) {
#pragma unroll
        for (int u = 0; u < GEMV_LOADS; u++) {
            int i = base + 32 * u;
            if (i < n16) {
                float bsc = Q8 ? __half2float(br[i / 2]) : 0.0f;
#pragma unroll
                for (int t = 0; t < NT; t++) {
                    if (t < n_tok) {
                        int sum = dot16(a[u], ((const int4 *)(xq + (size_t)t * ldq))[i], 0);
                        if (Q8)
                            facc[t] = __fmaf_rn((float)sum, bsc, facc[t]);
                        else
                            iacc[t] += sum;
                    }
                }
            }
        }
        base += 32 * GEMV_LOADS;
        if (base >= n16)
            break;
        gemv_fetch(a, wr, base, n16);
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        if (t < n_tok) {
            float v = gemv_total<Q8>(iacc[t], facc[t], rs, r, xs[t]);
            if (lane == 0)
                y[(size_t)t * rows + r] = v;
        }
    }
}

/* gemv_f for N_TOK <= NT tokens (X: rows of COLS floats), each token's sum
 * formed as gemv_f forms it. */
template <typename T, int NT>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv_f_few(const T *w, const float *x, int rows, int cols, int n_tok, float *y)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    int r = blockIdx.x * GEMV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const T *wr = w + (size_t)r * cols;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++)
        acc[t] = 0.0f;
    for (int j = lane * 8; j < cols; j += 256) {
        float wf[8];
        gemv_f_load(wr, j, wf);
#pragma unroll
        for (int t = 0; t < NT; t++)
            if (t < n_tok)
                acc[t] = gemv_f_step(acc[t], wf, x + (size_t)t * cols + j);
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        if (t < n_tok) {
            float v = cu_warp_sum(acc[t]);
            if (lane == 0)
                y[(size_t)t * rows + r] = v;
        }
    }
}

bool cu_gemv_prequant(const cu_mat_t *w)
{
    return (w->fmt == BE_W_INT8 || w->fmt == BE_W_Q8_0) && w->cols % 16 == 0;
}

void cu_gemv_quantized(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *bias, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    if (w->fmt == BE_W_INT8)
        cu_go(lc, gemv_i8<false>, blocks, th, 0, (const int8_t *)w->w, (const float *)w->rs, (const __half *)NULL,
              (const int8_t *)mm->xq, (const float *)mm->xs, w->rows, w->cols, bias, y);
    else
        cu_go(lc, gemv_i8<true>, blocks, th, 0, (const int8_t *)w->w, (const float *)NULL, (const __half *)w->bs,
              (const int8_t *)mm->xq, (const float *)mm->xs, w->rows, w->cols, bias, y);
}

bool cu_gemv_glu_ok(const cu_mm_t *mm, const cu_mat_t *w)
{
    return cu_gemv_prequant(w) && w->rows % 2 == 0 && mm->pmax &&
           (size_t)(w->rows / 2 + GEMV_WARPS - 1) / GEMV_WARPS <= mm->pmax_n;
}

void cu_gemv_glu(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, bool cpu_exp, float *gu, float *h)
{
    int nff = w->rows / 2, blocks = (nff + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    if (w->fmt == BE_W_INT8)
        cu_go(lc, gemv_glu<false>, blocks, th, 0, (const int8_t *)w->w, (const float *)w->rs, (const __half *)NULL,
              (const int8_t *)mm->xq, (const float *)mm->xs, nff, w->cols, cpu_exp, gu, h, mm->pmax);
    else
        cu_go(lc, gemv_glu<true>, blocks, th, 0, (const int8_t *)w->w, (const float *)NULL, (const __half *)w->bs,
              (const int8_t *)mm->xq, (const float *)mm->xs, nff, w->cols, cpu_exp, gu, h, mm->pmax);
    int qb = (nff + 255) / 256;
    cu_go(lc, quantize_pmax, qb < 256 ? qb : 256, 256, 0, (const float *)h, nff, (const float *)mm->pmax, blocks,
          mm->xq, mm->xs);
}

bool cu_gemv_xf_ok(const cu_mm_t *mm, const cu_mat_t *w, int np)
{
    return cu_gemv_prequant(w) && mm->pmax && (size_t)np <= mm->pmax_n && w->cols <= CU_XF_MAX_COLS;
}

void cu_gemv_xf(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int np, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    size_t smem = pad16((size_t)w->cols);
    if (w->fmt == BE_W_INT8)
        cu_go(lc, gemv_i8_xf<false>, blocks, th, smem, (const int8_t *)w->w, (const float *)w->rs,
              (const __half *)NULL, x, (const float *)mm->pmax, np, w->rows, w->cols, y);
    else
        cu_go(lc, gemv_i8_xf<true>, blocks, th, smem, (const int8_t *)w->w, (const float *)NULL,
              (const __half *)w->bs, x, (const float *)mm->pmax, np, w->rows, w->cols, y);
}

float *cu_mm_pmax(cu_mm_t *mm)
{
    return mm->pmax;
}

static void gemv(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    bool i8 = w->fmt == BE_W_INT8 || w->fmt == BE_W_Q8_0;
    if (i8) {
        size_t ldq = pad16((size_t)w->cols);
        cu_go(lc, quantize_rows, 1, 1024, 0, x, w->cols, mm->xq, ldq, mm->xs);
        if (cu_gemv_prequant(w)) {
            cu_gemv_quantized(mm, lc, w, NULL, y);
            return;
        }
    } else if (w->cols % 8 == 0 && ((uintptr_t)x & 15) == 0) { /* X_OFF may leave X unaligned for float4 */
        if (w->fmt == BE_W_F16)
            cu_go(lc, gemv_f<__half>, blocks, th, 0, (const __half *)w->w, x, w->rows, w->cols, y);
        else
            cu_go(lc, gemv_f<float>, blocks, th, 0, (const float *)w->w, x, w->rows, w->cols, y);
        return;
    }
    cu_go(lc, gemv_any, blocks, th, 0, w->fmt, (const void *)w->w, (const float *)w->rs, (const __half *)w->bs, x,
          (const int8_t *)mm->xq, (const float *)mm->xs, w->rows, w->cols, y);
}

/* One launch of the few-token kernel with NT token slots for W's format. */
template <int NT>
static void few_launch(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int n_tok, float *y)
{
    int blocks = (w->rows + GEMV_WARPS - 1) / GEMV_WARPS, th = GEMV_WARPS * 32;
    size_t ldq = pad16((size_t)w->cols);
    const int8_t *wq = (const int8_t *)w->w;
    switch (w->fmt) {
    case BE_W_INT8:
        cu_go(lc, gemv_i8_few<false, NT>, blocks, th, 0, wq, (const float *)w->rs, (const __half *)NULL,
              (const int8_t *)mm->xq, ldq, (const float *)mm->xs, w->rows, w->cols, n_tok, y);
        break;
    case BE_W_Q8_0:
        cu_go(lc, gemv_i8_few<true, NT>, blocks, th, 0, wq, (const float *)NULL, (const __half *)w->bs,
              (const int8_t *)mm->xq, ldq, (const float *)mm->xs, w->rows, w->cols, n_tok, y);
        break;
    case BE_W_F16:
        cu_go(lc, gemv_f_few<__half, NT>, blocks, th, 0, (const __half *)w->w, x, w->rows, w->cols, n_tok, y);
        break;
    case BE_W_F32:
        cu_go(lc, gemv_f_few<float, NT>, blocks, th, 0, (const float *)w->w, x, w->rows, w->cols, n_tok, y);
        break;
    }
}

/* Y = W X for 2 .. CU_FEW_MAX tokens, as the one-token products would
 * compute each: the few-token kernels (token slots: the smallest of 2, 4,
 * 8, 16 that holds them, fewer registers for the common short drafts)
 * where the one-token product is gemv_i8 or gemv_f, else (shapes only tiny
 * test models have) gemv for each token. */
static void gemv_few(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int n_tok, float *y)
{
    bool i8 = w->fmt == BE_W_INT8 || w->fmt == BE_W_Q8_0;
    bool ok = i8 ? cu_gemv_prequant(w) : w->cols % 8 == 0 && ((uintptr_t)x & 15) == 0;
    if (!ok) {
        for (int t = 0; t < n_tok; t++)
            gemv(mm, lc, w, x + (size_t)t * w->cols, y + (size_t)t * w->rows);
        return;
    }
    if (i8)
        cu_go(lc, quantize_rows, n_tok, 1024, 0, x, w->cols, mm->xq, pad16((size_t)w->cols), mm->xs);
    if (n_tok <= 2)
        few_launch<2>(mm, lc, w, x, n_tok, y);
    else if (n_tok <= 4)
        few_launch<4>(mm, lc, w, x, n_tok, y);
    else if (n_tok <= 8)
        few_launch<8>(mm, lc, w, x, n_tok, y);
    else
        few_launch<16>(mm, lc, w, x, n_tok, y);
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

/* D += A B for one m16n8k32 int8 tile: A 16x32 (row), B 32x8 (col), D
 * 16x8 int32; exact. */
__device__ __forceinline__ void mma_s8(int d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#define Q8MMA_ROWS 64 /* weight rows per block: 16 per warp */
#define Q8MMA_TOK 64  /* tokens per block: 8 tiles of 8 */

/* Q8_0 prefill with the CPU backend's arithmetic (cpu_kern_ref.c): each
 * 32-column block's integer sum is one m16n8k32 tensor-core product, exact;
 * it is multiplied by the block scale and added to the row's sum with one
 * fused multiply-add per block, in block order, as the CPU does, and the
 * sum times the token's activation scale is the output. So the result is
 * the CPU's bit for bit. Grid (rows / 64, tokens / 64), 4 warps; a warp
 * takes 16 rows x 64 tokens; fragments are read straight from global
 * memory (the tokens' quants from L1, shared by the block's warps). */
__global__ void __launch_bounds__(128)
    q8_mma(const int8_t *w, const __half *bs, int rows, int cols, const int8_t *xq, size_t ldq, const float *xs,
           int n_tok, float *y)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
    const int ra = blockIdx.x * Q8MMA_ROWS + warp * 16 + g, rb = ra + 8, t0 = blockIdx.y * Q8MMA_TOK;
    const bool oka = ra < rows, okb = rb < rows;
    const int nb = cols / CU_QK;
    const int8_t *wa = w + (size_t)(oka ? ra : 0) * cols, *wb = w + (size_t)(okb ? rb : 0) * cols;
    float acc[Q8MMA_TOK / 8][4];
#pragma unroll
    for (int nt = 0; nt < Q8MMA_TOK / 8; nt++)
        acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
    for (int b = 0; b < nb; b++) {
        const int k = b * CU_QK + 4 * c;
        uint32_t a[4];
        a[0] = oka ? *(const uint32_t *)(wa + k) : 0u;
        a[1] = okb ? *(const uint32_t *)(wb + k) : 0u;
        a[2] = oka ? *(const uint32_t *)(wa + k + 16) : 0u;
        a[3] = okb ? *(const uint32_t *)(wb + k + 16) : 0u;
        const float da = oka ? __half2float(bs[(size_t)ra * nb + b]) : 0.0f;
        const float db = okb ? __half2float(bs[(size_t)rb * nb + b]) : 0.0f;
#pragma unroll
        for (int nt = 0; nt < Q8MMA_TOK / 8; nt++) {
            const int t = t0 + nt * 8 + g;
            uint32_t b0 = 0u, b1 = 0u;
            if (t < n_tok) {
                const int8_t *xp = xq + (size_t)t * ldq + k;
                b0 = *(const uint32_t *)xp;
                b1 = *(const uint32_t *)(xp + 16);
            }
            int d[4] = {0, 0, 0, 0};
            mma_s8(d, a, b0, b1);
            acc[nt][0] = fmaf((float)d[0], da, acc[nt][0]);
            acc[nt][1] = fmaf((float)d[1], da, acc[nt][1]);
            acc[nt][2] = fmaf((float)d[2], db, acc[nt][2]);
            acc[nt][3] = fmaf((float)d[3], db, acc[nt][3]);
        }
    }
#pragma unroll
    for (int nt = 0; nt < Q8MMA_TOK / 8; nt++) {
        const int t = t0 + nt * 8 + 2 * c;
        if (t < n_tok) {
            if (oka)
                y[(size_t)t * rows + ra] = acc[nt][0] * xs[t];
            if (okb)
                y[(size_t)t * rows + rb] = acc[nt][2] * xs[t];
        }
        if (t + 1 < n_tok) {
            if (oka)
                y[(size_t)(t + 1) * rows + ra] = acc[nt][1] * xs[t + 1];
            if (okb)
                y[(size_t)(t + 1) * rows + rb] = acc[nt][3] * xs[t + 1];
        }
    }
}

void cu_q8_prefill_exact(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, int n_tok, float *y)
{
    size_t ldq = (w->cols + 15) & ~(size_t)15;
    quantize_rows<<<n_tok, 256, 0, st>>>(x, w->cols, mm->xq, ldq, mm->xs);
    dim3 grid((w->rows + Q8MMA_ROWS - 1) / Q8MMA_ROWS, (n_tok + Q8MMA_TOK - 1) / Q8MMA_TOK);
    q8_mma<<<grid, 128, 0, st>>>((const int8_t *)w->w, w->bs, w->rows, w->cols, mm->xq, ldq, mm->xs, n_tok, y);
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

/* OCTET_CUDA_LT_LOG: which algorithm the heuristic chose for P, on stderr
 * (a diagnostic for docs/cuda.md: whether int8 products run on IMMA
 * kernels, and with what tile), once per planned shape. */
static void plan_log(const struct lt_plan *p, const cublasLtMatmulHeuristicResult_t *h)
{
    int id = -1, tile = -1, stages = -1, splitk = -1;
    size_t got;
    cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &got);
    cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &got);
    cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &got);
    cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk, &got);
    fprintf(stderr, "octet cuBLASLt: %s m=%d n=%d k=%d: algo %d tile %d stages %d split-k %d, waves %.2f, work space %zu\n",
            p->ab == CUDA_R_8I ? "int8" : p->ab == CUDA_R_16F ? "f16" : "f32", p->m, p->n, p->k, id, tile, stages,
            splitk, (double)h->wavesCount, h->workspaceSize);
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
    if (!found || h.state != CUBLAS_STATUS_SUCCESS) {
        s = CUBLAS_STATUS_NOT_SUPPORTED;
    } else {
        p->algo = h.algo;
        if (getenv("OCTET_CUDA_LT_LOG"))
            plan_log(p, &h);
    }
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

/* SwiGLU of N_TOK tokens from the int32 gate/up sums cuBLASLt left in GU
 * (row stride 2 NFF), each scaled as scale_i32 scales it; H gets the
 * products, XQ / XS (row stride LDQ) their int8 activations for the next
 * product, rounded as quantize_rows rounds them. One block per token; XS
 * holds the tokens' input scales on entry (each block reads its own before
 * it writes it). */
__global__ void glu_i32_quant(const int *gu, int nff, const float *rs, bool cpu_exp, float *h, int8_t *xq, size_t ldq,
                              float *xs)
{
    __shared__ float red[32];
    const int t = blockIdx.x;
    const int *g = gu + (size_t)t * 2 * nff;
    float *ht = h + (size_t)t * nff;
    const float sx = xs[t];
    float amax = 0.0f;
    for (int k = threadIdx.x; k < nff; k += blockDim.x) {
        float gv = (float)g[k] * rs[k] * sx, uv = (float)g[nff + k] * rs[nff + k] * sx;
        float v = cu_silu_mul(gv, uv, cpu_exp);
        ht[k] = v;
        amax = fmaxf(amax, fabsf(v));
    }
    amax = cu_block_reduce(amax, red, true);
    float sc = amax / 127.0f;
    int8_t *q = xq + (size_t)t * ldq;
    for (int k = threadIdx.x; k < (int)ldq; k += blockDim.x)
        q[k] = k >= nff || sc == 0.0f ? (int8_t)0 : cu_quant_one(ht[k], sc); /* each thread re-reads its own */
    if (threadIdx.x == 0)
        xs[t] = sc;
}

int cu_matmul_glu(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, int n_tok, bool cpu_exp,
                  float *gu, float *h, errmsg_t *err)
{
    if (w->fmt != BE_W_INT8 || n_tok < 2 || w->rows % 2)
        return 1;
    int rows = w->rows, cols = w->cols, nff = rows / 2;
    size_t ldq = pad16((size_t)cols);
    quantize_rows<<<n_tok, 256, 0, st>>>(x, cols, mm->xq, ldq, mm->xs);
    cublasStatus_t s = lt_gemm(mm, st, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, w->w, mm->xq, gu, rows,
                               n_tok, cols, (int)ldq, rows);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED)
        return 1;
    if (s != CUBLAS_STATUS_SUCCESS)
        return lt_fail(err, s, w, n_tok);
    glu_i32_quant<<<n_tok, 1024, 0, st>>>((const int *)gu, nff, w->rs, cpu_exp, h, mm->xq, pad16((size_t)nff),
                                          mm->xs);
    return 0;
}

int cu_matmul_prequant(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, int n_tok, float *y, errmsg_t *err)
{
    int rows = w->rows, cols = w->cols;
    size_t ldq = pad16((size_t)cols);
    cublasStatus_t s = lt_gemm(mm, st, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, w->w, mm->xq, y, rows,
                               n_tok, cols, (int)ldq, rows);
    if (s == CUBLAS_STATUS_SUCCESS) {
        scale_i32<<<grid_for((size_t)rows * n_tok), 256, 0, st>>>(y, rows, n_tok, w->rs, mm->xs);
        return 0;
    }
    if (s != CUBLAS_STATUS_NOT_SUPPORTED)
        return lt_fail(err, s, w, n_tok);
    /* shapes cuBLASLt declines: one matrix-vector product per token's row of quants */
    const cu_launch_t plain = {st, false};
    int blocks = (rows + GEMV_WARPS - 1) / GEMV_WARPS;
    for (int t = 0; t < n_tok; t++)
        cu_go(plain, gemv_i8<false>, blocks, GEMV_WARPS * 32, 0, (const int8_t *)w->w, (const float *)w->rs,
              (const __half *)NULL, (const int8_t *)(mm->xq + (size_t)t * ldq), (const float *)(mm->xs + t), rows,
              cols, (const float *)NULL, y + (size_t)t * rows);
    return 0;
}

int cu_matmul(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int n_tok, float *y,
              errmsg_t *err)
{
    if (n_tok == 1) {
        gemv(mm, lc, w, x, y);
        return 0;
    }
    if (n_tok <= mm->few_max) {
        gemv_few(mm, lc, w, x, n_tok, y);
        return 0;
    }
    cudaStream_t st = lc.st;
    const cu_launch_t plain = {st, false};
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
        if (mm->q8_exact) {
            cu_q8_prefill_exact(mm, st, w, x, n_tok, y);
            return 0;
        }
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
        gemv(mm, plain, w, x + (size_t)t * cols, y + (size_t)t * rows);
    return 0;
}

/* ---- embeddings --------------------------------------------------------------- */

__global__ void embed_rows(be_wfmt_t fmt, const void *w, const float *rs, const __half *bs, int cols,
                           const int *ids, float *out)
{
    cu_pdl_trigger();
    cu_pdl_wait();
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

void cu_embed(const cu_launch_t &lc, const cu_mat_t *w, const int *ids, int n_tok, float *out)
{
    cu_go(lc, embed_rows, n_tok, 256, 0, w->fmt, (const void *)w->w, (const float *)w->rs, (const __half *)w->bs,
          w->cols, ids, out);
}
