/* gemv_bench.cu - checks and times the one-token (decode) product kernels
 * of kernels/cuda/cu_matmul.cu on the GPU: each variant against a host
 * reference computed from the same int8 data, then the time of every
 * Qwen2.5-7B decode product alone and of a whole step's products as one
 * CUDA graph, with and without programmatic dependent launch (PDL), beside
 * a device-to-device copy of the same run. Standalone (its own main); build
 * and run on the device machine:
 *
 *   nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Ikernels -Ikernels/cuda \
 *        tools/gpu/gemv_bench.cu kernels/cuda/cu_matmul.cu -lcublasLt -o gemv_bench
 *   ./gemv_bench [--no-bench]
 *
 * Exit status 0 when every check passes, 1 when one fails, 2 on a CUDA
 * error. The table comes last. See docs/cuda.md ("Decode speed"). */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <string>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cu_matmul.cuh"

#define CK(call)                                                                                              \
    do {                                                                                                      \
        cudaError_t e_ = (call);                                                                              \
        if (e_ != cudaSuccess) {                                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));           \
            exit(2);                                                                                          \
        }                                                                                                     \
    } while (0)

static int g_fail = 0;
static std::vector<std::string> g_table;

static void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void row(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("%s\n", buf);
    g_table.push_back(buf);
}

/* ---- random data on the device ----------------------------------------------- */

__device__ __forceinline__ uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* int8 weights in [-127, 127], never all zero */
__global__ void fill_i8(int8_t *w, size_t n, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        w[i] = (int8_t)((int)(mix64(seed ^ i) % 255) - 127);
}

/* positive scales around 1e-3, or f16 block scales */
__global__ void fill_scale(float *s, size_t n, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s[i] = 1e-3f * (0.5f + (float)(mix64(seed ^ i) >> 40) / (float)(1ull << 24));
}

__global__ void fill_half_scale(__half *s, size_t n, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s[i] = __float2half_rn(1e-3f * (0.5f + (float)(mix64(seed ^ i) >> 40) / (float)(1ull << 24)));
}

/* activations: normal-ish floats with a few large ones, as after a norm */
__global__ void fill_f(float *x, size_t n, float amp, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint64_t h = mix64(seed ^ i);
        float u = ((float)(uint32_t)h + 0.5f) / 4294967296.0f - 0.5f;
        x[i] = amp * u * ((h >> 40) % 97 == 0 ? 8.0f : 1.0f);
    }
}

static void mat_make(cu_mat_t *m, be_wfmt_t fmt, int rows, int cols, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->fmt = fmt;
    m->rows = rows;
    m->cols = cols;
    size_t n = (size_t)rows * cols;
    CK(cudaMalloc(&m->w, n));
    fill_i8<<<2048, 256>>>((int8_t *)m->w, n, seed);
    if (fmt == BE_W_INT8) {
        CK(cudaMalloc(&m->rs, (size_t)rows * 4));
        fill_scale<<<256, 256>>>(m->rs, rows, seed * 7);
    } else {
        size_t nb = (size_t)rows * (cols / CU_QK);
        CK(cudaMalloc(&m->bs, nb * 2));
        fill_half_scale<<<256, 256>>>(m->bs, nb, seed * 7);
    }
    CK(cudaGetLastError());
    m->bytes = n + (m->rs ? (size_t)rows * 4 : 0) + (m->bs ? (size_t)rows * (cols / CU_QK) * 2 : 0);
}

static void mat_free(cu_mat_t *m)
{
    cudaFree(m->w);
    cudaFree(m->rs);
    cudaFree(m->bs);
}

template <typename T> static std::vector<T> down(const T *d, size_t n)
{
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

/* ---- host references (the same float operations as the kernels) ---------------- */

static int8_t quant_one(float x, float s)
{
    float q = rintf(x / s);
    if (!(q >= -127.0f))
        return -127;
    return (int8_t)std::min(q, 127.0f);
}

/* exp_scalar of kernels/cpu/backend_cpu.c */
static float cpu_exp(float x)
{
    if (x < -87.3f)
        x = -87.3f;
    if (x > 88.3f)
        x = 88.3f;
    float n = nearbyintf(x * 1.44269504088896341f);
    float r = fmaf(-n, 0.693359375f, x);
    r = fmaf(-n, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    volatile float rr = r * r;
    volatile float t = fmaf(p, rr, r);
    p = t + 1.0f;
    return ldexpf(p, (int)n);
}

/* Row R of W times XQ, as the kernel's float result (INT8: int sum times
 * row scale times XS; Q8_0: per-32 sums times block scales, summed in
 * double here, so compared with a tolerance: *MAG gets the sum of the
 * terms' magnitudes, which bounds the float rounding of any summation
 * order, since the terms cancel). */
static double ref_dot(const cu_mat_t *m, const std::vector<int8_t> &w, const std::vector<float> &rs,
                      const std::vector<__half> &bs, const int8_t *xq, float xs, int r, bool *exact, double *mag)
{
    const int8_t *wr = w.data() + (size_t)r * m->cols;
    if (m->fmt == BE_W_INT8) {
        int64_t s = 0;
        for (int j = 0; j < m->cols; j++)
            s += (int)wr[j] * (int)xq[j];
        *exact = true;
        volatile float a = (float)s * rs[r];
        return (double)(float)(a * xs);
    }
    double acc = 0, m_abs = 0;
    for (int b = 0; b < m->cols / CU_QK; b++) {
        /* the kernel sums half blocks of 16 columns, so their magnitudes */
        for (int hb = 0; hb < 2; hb++) {
            int s = 0;
            for (int j = 16 * hb; j < 16 * hb + 16; j++)
                s += (int)wr[b * CU_QK + j] * (int)xq[b * CU_QK + j];
            double d = (double)__half2float(bs[(size_t)r * (m->cols / CU_QK) + b]);
            acc += (double)s * d;
            m_abs += fabs((double)s * d);
        }
    }
    *exact = false;
    *mag = m_abs * xs;
    return acc * xs;
}

/* Compare Y (device, ROWS) with the reference; bitwise for INT8, 2e-6
 * relative to the row's magnitude for Q8_0. */
static void check_rows(const char *what, const cu_mat_t *m, const float *dy, const int8_t *xq, float xs,
                       const float *bias, int r0, int nrows)
{
    auto w = down((const int8_t *)m->w, (size_t)m->rows * m->cols);
    std::vector<float> rs = m->rs ? down(m->rs, m->rows) : std::vector<float>();
    std::vector<__half> bs = m->bs ? down(m->bs, (size_t)m->rows * (m->cols / CU_QK)) : std::vector<__half>();
    auto y = down(dy, (size_t)nrows);
    std::vector<float> hb = bias ? down(bias, (size_t)m->rows) : std::vector<float>();
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < nrows; i++) {
        bool exact;
        double mag = 0;
        double ref = ref_dot(m, w, rs, bs, xq, xs, r0 + i, &exact, &mag);
        if (bias) {
            volatile float v = (float)ref;
            ref = (double)(float)(v + hb[r0 + i]);
            mag += fabs(hb[r0 + i]);
        }
        /* Q8_0: float sums of cols/16 terms in some order, then scaled:
         * within a few float roundings of the terms' magnitude */
        double err = fabs((double)y[i] - ref), tol = exact ? 0.0 : 4.0 * (m->cols / 16 + 4) * 6e-8 * mag;
        worst = std::max(worst, err / (fabs(ref) + 1e-30));
        if (!(err <= tol) && bad++ < 3)
            fprintf(stderr, "  %s: row %d: got %.9g want %.9g\n", what, r0 + i, y[i], ref);
    }
    row("%s %-44s %s (worst relative %.2e)", bad ? "FAIL" : "ok  ", what, bad ? "MISMATCH" : "matches", worst);
    if (bad)
        g_fail++;
}

/* ---- checks -------------------------------------------------------------------- */

static void run_checks(cu_mm_t *mm)
{
    const cu_launch_t plain = {0, false};
    const int shapes[][2] = {{4608, 3584}, {3584, 18944}, {200, 96}, {37, 64}};
    for (auto fmt : {BE_W_INT8, BE_W_Q8_0}) {
        const char *fn = fmt == BE_W_INT8 ? "int8" : "q8_0";
        for (auto &sh : shapes) {
            int rows = sh[0], cols = sh[1];
            cu_mat_t m;
            mat_make(&m, fmt, rows, cols, 1000 + rows + cols);
            float *x, *y, *bias;
            CK(cudaMalloc(&x, (size_t)cols * 4));
            CK(cudaMalloc(&y, (size_t)rows * 4 * 2));
            CK(cudaMalloc(&bias, (size_t)rows * 4));
            fill_f<<<64, 256>>>(x, cols, 3.0f, 17 + rows);
            fill_f<<<64, 256>>>(bias, rows, 0.1f, 19 + rows);
            /* the plain path: quantize_rows then gemv_i8 (cu_matmul, one token) */
            errmsg_t err;
            CK(cudaMemset(y, 0xff, (size_t)rows * 4));
            if (cu_matmul(mm, plain, &m, x, 1, y, &err))
                fprintf(stderr, "cu_matmul: %s\n", err.msg);
            CK(cudaDeviceSynchronize());
            auto xq = down(mm->xq, (size_t)cols);
            float xs = down(mm->xs, 1)[0];
            char what[96];
            snprintf(what, sizeof what, "gemv %s %dx%d", fn, rows, cols);
            check_rows(what, &m, y, xq.data(), xs, NULL, 0, rows);
            /* with the bias fused */
            CK(cudaMemset(y, 0xff, (size_t)rows * 4));
            cu_gemv_quantized(mm, plain, &m, bias, y);
            CK(cudaDeviceSynchronize());
            snprintf(what, sizeof what, "gemv+bias %s %dx%d", fn, rows, cols);
            check_rows(what, &m, y, xq.data(), xs, bias, 0, rows);
            /* quantizing inside the product (gemv_i8_xf) from per-part maxima:
             * 7 parts of X, as attention's combine leaves them per head */
            if (cu_gemv_xf_ok(mm, &m, 7)) {
                auto hx = down(x, (size_t)cols);
                std::vector<float> pm(7, 0.0f);
                for (int j = 0; j < cols; j++)
                    pm[(size_t)j * 7 / cols] = std::max(pm[(size_t)j * 7 / cols], fabsf(hx[j]));
                CK(cudaMemcpy(cu_mm_pmax(mm), pm.data(), 7 * 4, cudaMemcpyHostToDevice));
                CK(cudaMemset(y, 0xff, (size_t)rows * 4));
                cu_gemv_xf(mm, plain, &m, x, 7, y);
                CK(cudaDeviceSynchronize());
                snprintf(what, sizeof what, "gemv_xf %s %dx%d", fn, rows, cols);
                check_rows(what, &m, y, xq.data(), xs, NULL, 0, rows); /* same quants as quantize_rows */
            }
            /* SwiGLU fused into the product (even rows: n_ff gate rows, then up) */
            if (rows % 2 == 0 && cu_gemv_glu_ok(mm, &m)) {
                for (int ce = 0; ce < 2; ce++) {
                    int nff = rows / 2;
                    float *h;
                    CK(cudaMalloc(&h, (size_t)nff * 4));
                    CK(cudaMemset(y, 0xff, (size_t)rows * 4));
                    /* the activations of X again (the previous run quantized H over them) */
                    CK(cudaMemcpy(mm->xq, xq.data(), (size_t)cols, cudaMemcpyHostToDevice));
                    CK(cudaMemcpy(mm->xs, &xs, 4, cudaMemcpyHostToDevice));
                    cu_gemv_glu(mm, plain, &m, ce == 1, y, h);
                    CK(cudaDeviceSynchronize());
                    snprintf(what, sizeof what, "glu %s %dx%d (gate/up)%s", fn, rows, cols, ce ? " cpu-exp" : "");
                    check_rows(what, &m, y, xq.data(), xs, NULL, 0, rows);
                    auto gu = down(y, (size_t)rows);
                    auto hh = down(h, (size_t)nff);
                    auto q2 = down(mm->xq, (size_t)nff);
                    float s2 = down(mm->xs, 1)[0];
                    int bad = 0;
                    float amax = 0.0f;
                    for (int k = 0; k < nff; k++) {
                        float g = gu[k], u = gu[nff + k];
                        float e = ce ? cpu_exp(-g) : expf(-g);
                        volatile float d = g / (1.0f + e);
                        float want = d * u;
                        /* CUDA's expf is not the host's: 2 ulp; cpu_exp must be bitwise */
                        float tol = ce ? 0.0f : 4e-7f * fabsf(want);
                        if (!(fabsf(hh[k] - want) <= tol) && bad++ < 3)
                            fprintf(stderr, "  glu h[%d]: got %.9g want %.9g\n", k, hh[k], want);
                        amax = std::max(amax, fabsf(hh[k]));
                    }
                    float s = amax / 127.0f;
                    for (int k = 0; k < nff; k++)
                        if (q2[k] != (s == 0.0f ? 0 : quant_one(hh[k], s)) && bad++ < 6)
                            fprintf(stderr, "  glu xq[%d]: got %d\n", k, q2[k]);
                    if (s2 != s && bad++ < 7)
                        fprintf(stderr, "  glu xs: got %.9g want %.9g\n", s2, s);
                    row("%s %-44s %s", bad ? "FAIL" : "ok  ", what, bad ? "h/xq MISMATCH" : "h and its int8 match");
                    if (bad)
                        g_fail++;
                    cudaFree(h);
                }
            }
            cudaFree(x);
            cudaFree(y);
            cudaFree(bias);
            mat_free(&m);
        }
    }
}

/* Q8_0 prefill with the CPU's arithmetic (cu_q8_prefill_exact): bit for bit
 * the CPU's per-block fused multiply-add chain over the same quants. */
static void check_q8_exact(cu_mm_t *mm)
{
    const int shapes[][3] = {{200, 96, 70}, {4608, 3584, 100}, {37, 64, 3}};
    for (auto &sh : shapes) {
        int rows = sh[0], cols = sh[1], nt = sh[2], nb = cols / CU_QK;
        cu_mat_t m;
        mat_make(&m, BE_W_Q8_0, rows, cols, 5000 + rows);
        float *x, *y;
        CK(cudaMalloc(&x, (size_t)nt * cols * 4));
        CK(cudaMalloc(&y, (size_t)nt * rows * 4));
        fill_f<<<256, 256>>>(x, (size_t)nt * cols, 3.0f, 23 + rows);
        CK(cudaMemset(y, 0xff, (size_t)nt * rows * 4));
        cu_q8_prefill_exact(mm, 0, &m, x, nt, y);
        CK(cudaDeviceSynchronize());
        size_t ldq = (cols + 15) & ~15;
        auto xq = down(mm->xq, (size_t)nt * ldq);
        auto xs = down(mm->xs, (size_t)nt);
        auto w = down((const int8_t *)m.w, (size_t)rows * cols);
        auto bs = down(m.bs, (size_t)rows * nb);
        auto got = down(y, (size_t)nt * rows);
        int bad = 0;
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < rows; r++) {
                float a = 0.0f;
                for (int b = 0; b < nb; b++) {
                    int sum = 0;
                    for (int j = 0; j < CU_QK; j++)
                        sum += (int)w[(size_t)r * cols + b * CU_QK + j] * (int)xq[(size_t)t * ldq + b * CU_QK + j];
                    a = fmaf((float)sum, __half2float(bs[(size_t)r * nb + b]), a);
                }
                float want = a * xs[t], g = got[(size_t)t * rows + r];
                if (memcmp(&want, &g, 4) && bad++ < 3)
                    fprintf(stderr, "  q8 exact t=%d r=%d: got %.9g want %.9g\n", t, r, g, want);
            }
        row("%s q8_0 prefill exact %dx%d, %d tokens              %s", bad ? "FAIL" : "ok  ", rows, cols, nt,
            bad ? "MISMATCH" : "= the CPU's arithmetic, bit for bit");
        if (bad)
            g_fail++;
        cudaFree(x);
        cudaFree(y);
        mat_free(&m);
    }
}

/* ---- timing --------------------------------------------------------------------- */

/* The Qwen2.5-7B decode products of one layer, and the lm head. */
enum { QKV, WO, GU, DOWN, N_MAT };
static const int SHAPE[N_MAT][2] = {{4608, 3584}, {3584, 3584}, {37888, 3584}, {3584, 18944}};
static const int N_LAYER = 28, VOCAB = 152064, EMBD = 3584, NFF = 18944;

struct model {
    cu_mat_t m[28][N_MAT];
    cu_mat_t lm;
    float *x, *y, *bias, *h;
    uint64_t bytes;
};

static void model_make(model *md)
{
    md->bytes = 0;
    for (int l = 0; l < N_LAYER; l++)
        for (int k = 0; k < N_MAT; k++) {
            mat_make(&md->m[l][k], BE_W_INT8, SHAPE[k][0], SHAPE[k][1], 77 + 10 * l + k);
            md->bytes += md->m[l][k].bytes;
        }
    mat_make(&md->lm, BE_W_INT8, VOCAB, EMBD, 99);
    md->bytes += md->lm.bytes;
    CK(cudaMalloc(&md->x, (size_t)NFF * 4 * 2));
    CK(cudaMalloc(&md->y, (size_t)VOCAB * 4));
    CK(cudaMalloc(&md->bias, (size_t)SHAPE[QKV][0] * 4));
    CK(cudaMalloc(&md->h, (size_t)NFF * 4));
    fill_f<<<256, 256>>>(md->x, (size_t)NFF * 2, 3.0f, 5);
    fill_f<<<64, 256>>>(md->bias, SHAPE[QKV][0], 0.1f, 6);
    CK(cudaDeviceSynchronize());
}

/* Median of REPS replays of GRAPH in microseconds. */
static double time_graph(cudaGraphExec_t ge, cudaStream_t st, int reps)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++)
        CK(cudaGraphLaunch(ge, st));
    std::vector<float> ts;
    for (int i = 0; i < reps; i++) {
        CK(cudaEventRecord(a, st));
        CK(cudaGraphLaunch(ge, st));
        CK(cudaEventRecord(b, st));
        CK(cudaEventSynchronize(b));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, b));
        ts.push_back(ms);
    }
    std::sort(ts.begin(), ts.end());
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return ts[ts.size() / 2] * 1e3;
}

/* The products of a decode step, as the backend launches them:
 * STYLE 0: every product quantizes its input in its own one-block kernel
 *          first (quantize_rows, as gemv() does);
 * STYLE 1: the fused step's products (qkv with its bias on activations a
 *          norm quantized, the output product quantizing its input itself,
 *          gate/up with SwiGLU and the quantization of its output, the down
 *          product), without the norms and attention in between. */
static void record_step(cu_mm_t *mm, model *md, const cu_launch_t &lc0, int style)
{
    cu_launch_t lc = lc0;
    bool first = true;
    auto L = [&]() {
        cu_launch_t l = lc;
        l.pdl = lc.pdl && !first;
        first = false;
        return l;
    };
    errmsg_t err;
    for (int l = 0; l < N_LAYER; l++) {
        if (style == 0) {
            for (int k = 0; k < N_MAT; k++) {
                const cu_mat_t *w = &md->m[l][k];
                cu_matmul(mm, L(), w, md->x, 1, md->y, &err);
            }
        } else {
            cu_gemv_quantized(mm, L(), &md->m[l][QKV], md->bias, md->y);
            cu_gemv_xf(mm, L(), &md->m[l][WO], md->x, 28, md->y);
            cu_gemv_glu(mm, L(), &md->m[l][GU], false, md->y, md->h);
            cu_gemv_quantized(mm, L(), &md->m[l][DOWN], NULL, md->y);
        }
    }
    cu_matmul(mm, L(), &md->lm, md->x, 1, md->y, &err);
}

/* ---- layout variants of the int8 product (an experiment, not the backend) --------
 * Which layout of the one-token int8 product reads its weights fastest:
 * WARPS warps a block, SPLIT warps a row (each a share of its 16-byte
 * columns, interleaved; the block adds their integer sums, so the result is
 * the backend's bit for bit), LOADS 16-byte loads a lane a round, PREF: the
 * next round's loads issued before this round's sums. Checked against
 * cu_gemv_quantized, then timed on the four 7B shapes (28 copies each). */

__device__ __forceinline__ int v_dot16(int4 a, int4 b, int s)
{
    s = __dp4a(a.x, b.x, s);
    s = __dp4a(a.y, b.y, s);
    s = __dp4a(a.z, b.z, s);
    return __dp4a(a.w, b.w, s);
}

template <int LOADS>
__device__ __forceinline__ void v_fetch(int4 (&a)[LOADS], const int4 *wr, int base, int step, int n16)
{
#pragma unroll
    for (int u = 0; u < LOADS; u++) {
        int i = base + step * u;
        a[u] = i < n16 ? __ldcs(wr + i) : make_int4(0, 0, 0, 0);
    }
}

template <int LOADS>
__device__ __forceinline__ int v_sum(const int4 (&a)[LOADS], const int4 *xv, int base, int step, int n16, int acc)
{
#pragma unroll
    for (int u = 0; u < LOADS; u++) {
        int i = base + step * u;
        if (i < n16)
            acc += v_dot16(a[u], xv[i], 0);
    }
    return acc;
}

template <int WARPS, int SPLIT, int LOADS, bool PREF>
__global__ void __launch_bounds__(WARPS * 32)
    vgemv(const int8_t *w, const float *rs, const int8_t *xq, const float *xs, int rows, int cols, float *y)
{
    __shared__ int part[WARPS];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int r = blockIdx.x * (WARPS / SPLIT) + warp / SPLIT, s = warp % SPLIT;
    int n16 = cols / 16, step = SPLIT * 32, round = step * LOADS;
    int acc = 0;
    if (r < rows) {
        const int4 *wr = (const int4 *)(w + (size_t)r * cols), *xv = (const int4 *)xq;
        int base = s * 32 + lane;
        int4 a[LOADS], b[LOADS];
        v_fetch<LOADS>(a, wr, base, step, n16);
        if (PREF) {
            for (;;) {
                if (base + round < n16)
                    v_fetch<LOADS>(b, wr, base + round, step, n16);
                acc = v_sum<LOADS>(a, xv, base, step, n16, acc);
                base += round;
                if (base >= n16)
                    break;
                if (base + round < n16)
                    v_fetch<LOADS>(a, wr, base + round, step, n16);
                acc = v_sum<LOADS>(b, xv, base, step, n16, acc);
                base += round;
                if (base >= n16)
                    break;
            }
        } else {
            for (;;) {
                acc = v_sum<LOADS>(a, xv, base, step, n16, acc);
                base += round;
                if (base >= n16)
                    break;
                v_fetch<LOADS>(a, wr, base, step, n16);
            }
        }
    }
    for (int o = 16; o > 0; o >>= 1)
        acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (SPLIT > 1) {
        if (lane == 0)
            part[warp] = acc;
        __syncthreads();
        if (s != 0)
            return;
        for (int i = 1; i < SPLIT; i++)
            acc += part[warp + i];
    }
    if (r < rows && lane == 0)
        y[r] = (float)acc * rs[r] * xs[0];
}

struct variant {
    const char *name;
    void (*launch)(const cu_mat_t *, const int8_t *, const float *, float *, cudaStream_t);
};

template <int WARPS, int SPLIT, int LOADS, bool PREF>
static void vlaunch(const cu_mat_t *m, const int8_t *xq, const float *xs, float *y, cudaStream_t st)
{
    int per = WARPS / SPLIT, blocks = (m->rows + per - 1) / per;
    vgemv<WARPS, SPLIT, LOADS, PREF><<<blocks, WARPS * 32, 0, st>>>((const int8_t *)m->w, m->rs, xq, xs, m->rows,
                                                                    m->cols, y);
}

#define VARIANT(W, S, L, P, PN) {"w" #W " split" #S " loads" #L PN, vlaunch<W, S, L, P>}
static const variant VARIANTS[] = {
    VARIANT(8, 1, 8, false, ""),      VARIANT(4, 1, 8, false, ""),      VARIANT(2, 1, 8, false, ""),
    VARIANT(16, 1, 8, false, ""),     VARIANT(8, 1, 4, false, ""),      VARIANT(8, 1, 16, false, ""),
    VARIANT(8, 1, 8, true, " pref"),  VARIANT(4, 1, 8, true, " pref"),  VARIANT(8, 1, 4, true, " pref"),
    VARIANT(8, 2, 8, false, ""),      VARIANT(8, 4, 8, false, ""),      VARIANT(4, 2, 8, false, ""),
    VARIANT(8, 2, 4, true, " pref"),  VARIANT(16, 4, 8, false, ""),     VARIANT(16, 2, 8, true, " pref"),
    /* around the fastest of 2026-12-07 (8 warps, 4 loads: docs/BENCHMARKS.md, "Sixth run") */
    VARIANT(8, 1, 2, false, ""),      VARIANT(8, 1, 3, false, ""),      VARIANT(8, 1, 6, false, ""),
    VARIANT(4, 1, 4, false, ""),      VARIANT(16, 1, 4, false, ""),     VARIANT(8, 2, 2, false, ""),
};

static void run_variants(cu_mm_t *mm, model *md, cudaStream_t st)
{
    const char *names[N_MAT] = {"qkv", "wo", "gate/up", "down"};
    float *ref;
    CK(cudaMalloc(&ref, (size_t)SHAPE[GU][0] * 4));
    for (const variant &v : VARIANTS) {
        char line[256];
        int n = snprintf(line, sizeof line, "variant %-24s", v.name);
        bool same = true;
        for (int k = 0; k < N_MAT; k++) {
            const cu_mat_t *w = &md->m[0][k];
            cu_launch_t lc = {st, false};
            cu_gemv_quantized(mm, lc, w, NULL, ref);
            v.launch(w, mm->xq, mm->xs, md->y, st);
            CK(cudaStreamSynchronize(st));
            auto a = down(ref, (size_t)w->rows), b = down(md->y, (size_t)w->rows);
            same = same && !memcmp(a.data(), b.data(), a.size() * 4);
            cudaGraph_t g;
            cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
            uint64_t bytes = 0;
            for (int l = 0; l < N_LAYER; l++) {
                v.launch(&md->m[l][k], mm->xq, mm->xs, md->y, st);
                bytes += md->m[l][k].bytes;
            }
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            double us = time_graph(ge, st, 20) / N_LAYER;
            n += snprintf(line + n, sizeof line - n, " %s %5.1f us %5.0f GB/s,", names[k], us,
                          bytes / N_LAYER / (us * 1e-6) / 1e9);
            cudaGraphExecDestroy(ge);
            cudaGraphDestroy(g);
        }
        row("%s %s", line, same ? "= backend" : "DIFFERS from the backend");
        if (!same)
            g_fail++;
    }
    CK(cudaGetLastError());
    cudaFree(ref);
}

static void run_bench(cu_mm_t *mm)
{
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    /* copy bandwidth: 4 GiB device to device */
    {
        size_t n = (size_t)4 << 30;
        void *a, *b;
        CK(cudaMalloc(&a, n));
        CK(cudaMalloc(&b, n));
        CK(cudaMemset(a, 1, n));
        cudaEvent_t e0, e1;
        CK(cudaEventCreate(&e0));
        CK(cudaEventCreate(&e1));
        std::vector<float> ts;
        for (int i = 0; i < 8; i++) {
            CK(cudaEventRecord(e0, st));
            CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, st));
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            ts.push_back(ms);
        }
        std::sort(ts.begin(), ts.end());
        row("copy d2d 4 GiB: %.0f GB/s (read+write, median of 8)", 2.0 * n / (ts[4] * 1e-3) / 1e9);
        cudaFree(a);
        cudaFree(b);
    }
    model md;
    model_make(&md);
    /* each product alone, cycling over the 28 layers' copies (no L2 reuse) */
    const char *names[N_MAT] = {"qkv 4608x3584", "wo 3584x3584", "gate/up 37888x3584", "down 3584x18944"};
    for (int k = 0; k <= N_MAT; k++) {
        for (int pdl = 0; pdl < 2; pdl++) {
            cudaGraph_t g;
            cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
            uint64_t bytes = 0;
            for (int l = 0; l < N_LAYER; l++) {
                const cu_mat_t *w = k < N_MAT ? &md.m[l][k] : &md.lm;
                cu_launch_t lc = {st, pdl && l > 0};
                cu_gemv_quantized(mm, lc, w, NULL, md.y);
                bytes += w->bytes;
                if (k == N_MAT)
                    break;
            }
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            int n = k < N_MAT ? N_LAYER : 1;
            double us = time_graph(ge, st, 20);
            row("time %-20s x%-2d %s: %8.1f us, %6.1f us each, %5.0f GB/s", k < N_MAT ? names[k] : "lm head", n,
                pdl ? "pdl" : "   ", us, us / n, bytes / (us * 1e-6) / 1e9);
            cudaGraphExecDestroy(ge);
            cudaGraphDestroy(g);
        }
    }
    /* a whole step's products */
    for (int style = 0; style < 2; style++)
        for (int pdl = 0; pdl < 2; pdl++) {
            cudaGraph_t g;
            cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
            cu_launch_t lc = {st, pdl == 1};
            record_step(mm, &md, lc, style);
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            size_t nodes = 0;
            CK(cudaGraphGetNodes(g, NULL, &nodes));
            double us = time_graph(ge, st, 20);
            row("step %-26s %s: %3zu kernels %8.1f us, %5.0f GB/s of weights", style ? "fused products" : "products",
                pdl ? "pdl" : "   ", nodes, us, md.bytes / (us * 1e-6) / 1e9);
            cudaGraphExecDestroy(ge);
            cudaGraphDestroy(g);
        }
    run_variants(mm, &md, st);
    CK(cudaGetLastError());
    row("weights of a step: %.2f GB (%s, %d SMs)", md.bytes / 1e9, prop.name, prop.multiProcessorCount);
}

int main(int argc, char **argv)
{
    bool bench = true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-bench"))
            bench = false;
    cu_mm_t mm;
    memset(&mm, 0, sizeof mm);
    errmsg_t err;
    if (cu_mm_reserve(&mm, 128, VOCAB, NFF, false, false, &err)) {
        fprintf(stderr, "reserve: %s\n", err.msg);
        return 2;
    }
    run_checks(&mm);
    check_q8_exact(&mm);
    if (bench)
        run_bench(&mm);
    printf("\n==== gemv_bench summary\n");
    for (auto &s : g_table)
        printf("%s\n", s.c_str());
    printf("%d check(s) failed\n", g_fail);
    return g_fail ? 1 : 0;
}
