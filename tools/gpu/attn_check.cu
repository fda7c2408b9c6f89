/* attn_check.cu - checks the CUDA KV-cache writes and attention
 * (kernels/cuda/cu_attn.cu) on the GPU against a double-precision host
 * reference computed from the same cache contents, then times them on the
 * Qwen2.5-7B attention shape. Standalone (its own main); build and run on
 * the device machine:
 *
 *   nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Ikernels -Ikernels/cuda \
 *        tools/gpu/attn_check.cu kernels/cuda/cu_attn.cu -o attn_check
 *   ./attn_check [-v] [--no-bench] [--bench-only]
 *
 * Exit status 0 when every check passes, 1 when one fails, 2 on a CUDA
 * error. -v prints every case; otherwise one line per configuration and
 * every failure. See docs/cuda.md ("Attention") for the bounds. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "cu_attn.cuh"

#define CK(call)                                                                                              \
    do {                                                                                                      \
        cudaError_t e_ = (call);                                                                              \
        if (e_ != cudaSuccess) {                                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));           \
            exit(2);                                                                                          \
        }                                                                                                     \
    } while (0)
#define CKL() CK(cudaGetLastError())

static const int N_CTX = 32768;
static bool g_verbose = false;
static int g_failures = 0;

static const char *fmt_name(be_kvfmt_t f)
{
    return f == BE_KV_F32 ? "f32" : f == BE_KV_F16 ? "f16" : "int8";
}

static size_t fmt_esize(be_kvfmt_t f)
{
    return f == BE_KV_F32 ? 4 : f == BE_KV_F16 ? 2 : 1;
}

/* ---- random inputs on the device ------------------------------------------ */

__device__ __forceinline__ uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* uniform in (-1, 1), never 0 */
__device__ __forceinline__ float unif(uint64_t key)
{
    return ((float)(uint32_t)(mix64(key) >> 32) + 0.5f) * (2.0f / 4294967296.0f) - 1.0f;
}

/* ROWS x COLS floats at stride LD: columns below QCOLS are queries, uniform
 * times QAMP; then NKV K heads and NKV V heads of D dims, uniform times 2^u
 * drawn per (row, head), u in [-1, 1] for K and [-3, 3] for V, so the int8
 * row scales differ widely. With QAMP 4 the scores (natural log units)
 * have a standard deviation up to about 2.7: over 32K positions the softmax
 * is dominated by a few, which tests the running maximum, while f32 scores
 * stay small enough for the 1e-5 bound. */
__global__ void fill_kernel(float *x, int rows, int cols, size_t ld, int qcols, int d, int nkv, float qamp,
                            uint64_t seed)
{
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / (size_t)cols, col = i % (size_t)cols;
        uint64_t key = seed * 0x100000001b3ull + i;
        float v = unif(key);
        if ((int)col < qcols) {
            v *= qamp;
        } else {
            size_t seg = (col - (size_t)qcols) / (size_t)d;
            uint64_t hk = seed * 0x100000001b3ull + 0x5bd1e995ull * (r + 1) + seg;
            v *= exp2f((seg < (size_t)nkv ? 1.0f : 3.0f) * unif(hk ^ 0xabcdefull));
        }
        x[r * ld + col] = v;
    }
}

static void fill(cudaStream_t st, float *x, int rows, int cols, size_t ld, int qcols, int d, int nkv, float qamp,
                 uint64_t seed)
{
    fill_kernel<<<1024, 256, 0, st>>>(x, rows, cols, ld, qcols, d, nkv, qamp, seed);
    CKL();
}

/* ---- the device cache ----------------------------------------------------- */

struct dev_cache {
    cu_kv_t kv;
    size_t row_bytes, n_rows;
};

static dev_cache cache_new(be_kvfmt_t fmt, int n_layer, int nkv, int d)
{
    dev_cache c;
    memset(&c, 0, sizeof c);
    c.kv.fmt = fmt;
    c.kv.n_layer = n_layer;
    c.kv.n_head_kv = nkv;
    c.kv.head_dim = d;
    c.kv.n_ctx = N_CTX;
    c.n_rows = (size_t)n_layer * nkv * N_CTX;
    c.row_bytes = (size_t)d * fmt_esize(fmt);
    CK(cudaMalloc(&c.kv.k, c.n_rows * c.row_bytes));
    CK(cudaMalloc(&c.kv.v, c.n_rows * c.row_bytes));
    /* poison: NaN floats and halves, int8 -1 with NaN scales: a read of a
     * row that was never written shows up as NaN in the output */
    CK(cudaMemset(c.kv.k, 0xff, c.n_rows * c.row_bytes));
    CK(cudaMemset(c.kv.v, 0xff, c.n_rows * c.row_bytes));
    if (fmt == BE_KV_INT8) {
        CK(cudaMalloc(&c.kv.ks, c.n_rows * sizeof(float)));
        CK(cudaMalloc(&c.kv.vs, c.n_rows * sizeof(float)));
        CK(cudaMemset(c.kv.ks, 0xff, c.n_rows * sizeof(float)));
        CK(cudaMemset(c.kv.vs, 0xff, c.n_rows * sizeof(float)));
    }
    /* cudaMemset runs on the legacy stream, which the checks' non-blocking
     * stream does not wait for */
    CK(cudaDeviceSynchronize());
    return c;
}

static void cache_free(dev_cache *c)
{
    CK(cudaFree(c->kv.k));
    CK(cudaFree(c->kv.v));
    if (c->kv.ks) {
        CK(cudaFree(c->kv.ks));
        CK(cudaFree(c->kv.vs));
    }
}

/* One layer of the cache on the host, values as stored (int8 and f16
 * exactly representable in float) and the int8 scales (1 otherwise). */
struct host_layer {
    int nkv, d;
    std::vector<float> k, v, ks, vs; /* [head][pos][d], [head][pos] */
    const float *krow(int h, int p) const { return &k[((size_t)h * N_CTX + p) * d]; }
    const float *vrow(int h, int p) const { return &v[((size_t)h * N_CTX + p) * d]; }
};

static void to_float(const std::vector<uint8_t> &raw, be_kvfmt_t fmt, std::vector<float> &out)
{
    size_t n = raw.size() / fmt_esize(fmt);
    out.resize(n);
    for (size_t i = 0; i < n; i++) {
        if (fmt == BE_KV_F32) {
            memcpy(&out[i], &raw[4 * i], 4);
        } else if (fmt == BE_KV_F16) {
            __half_raw hr;
            memcpy(&hr.x, &raw[2 * i], 2);
            out[i] = __half2float(__half(hr));
        } else {
            out[i] = (float)(int8_t)raw[i];
        }
    }
}

static void copy_layer(const dev_cache &c, int layer, host_layer *hl, std::vector<uint8_t> *kraw,
                       std::vector<uint8_t> *vraw)
{
    size_t rows = (size_t)c.kv.n_head_kv * N_CTX, off = (size_t)layer * rows;
    hl->nkv = c.kv.n_head_kv;
    hl->d = c.kv.head_dim;
    kraw->resize(rows * c.row_bytes);
    vraw->resize(rows * c.row_bytes);
    CK(cudaMemcpy(kraw->data(), (const uint8_t *)c.kv.k + off * c.row_bytes, kraw->size(), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(vraw->data(), (const uint8_t *)c.kv.v + off * c.row_bytes, vraw->size(), cudaMemcpyDeviceToHost));
    to_float(*kraw, c.kv.fmt, hl->k);
    to_float(*vraw, c.kv.fmt, hl->v);
    hl->ks.assign(rows, 1.0f);
    hl->vs.assign(rows, 1.0f);
    if (c.kv.fmt == BE_KV_INT8) {
        CK(cudaMemcpy(hl->ks.data(), c.kv.ks + off, rows * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(hl->vs.data(), c.kv.vs + off, rows * 4, cudaMemcpyDeviceToHost));
    }
}

/* ---- host reference --------------------------------------------------------- */

/* What cpu_quantize_row_i8 stores (kernels/cpu/cpu_kern_ref.c). */
static float host_quant_row(const float *x, int8_t *q, int n)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax)
            amax = fabsf(x[i]);
    float s = amax / 127.0f;
    for (int i = 0; i < n; i++) {
        if (s == 0.0f) {
            q[i] = 0;
            continue;
        }
        float v = rintf(x[i] / s);
        q[i] = !(v >= -127.0f) ? (int8_t)-127 : v > 127.0f ? (int8_t)127 : (int8_t)v;
    }
    return s;
}

/* out[i] for query Q (D floats) over positions 0..n_pos-1 of KV head H. */
static void ref_attend(const host_layer &hl, int h, int n_pos, const float *q, double scale, double *out)
{
    int d = hl.d;
    std::vector<double> s((size_t)n_pos);
    double mx = -INFINITY;
    for (int p = 0; p < n_pos; p++) {
        const float *k = hl.krow(h, p);
        double acc = 0;
        for (int i = 0; i < d; i++)
            acc += (double)q[i] * (double)k[i];
        s[p] = acc * (double)hl.ks[(size_t)h * N_CTX + p] * scale;
        mx = std::max(mx, s[p]);
    }
    double l = 0;
    for (int i = 0; i < d; i++)
        out[i] = 0;
    for (int p = 0; p < n_pos; p++) {
        double e = exp(s[p] - mx);
        l += e;
        double ev = e * (double)hl.vs[(size_t)h * N_CTX + p];
        const float *v = hl.vrow(h, p);
        for (int i = 0; i < d; i++)
            out[i] += ev * (double)v[i];
    }
    for (int i = 0; i < d; i++)
        out[i] /= l;
}

struct case_result {
    double rel, max_abs, at_got, at_ref;
    int at_t, at_h, at_i;
    size_t nan_count, nan_first;
};

/* Compare OUT (n_tok x n_head x d, all of it checked for NaN) with the
 * reference for TOKENS, every head, computed on all cores. */
static case_result compare(const host_layer &hl, const std::vector<float> &qh, size_t ld, int n_head, int pos0,
                           int n_tok, const std::vector<int> &tokens, const std::vector<float> &out)
{
    const int d = hl.d, G = n_head / hl.nkv;
    case_result r;
    memset(&r, 0, sizeof r);
    r.nan_first = (size_t)-1;
    for (size_t i = 0; i < (size_t)n_tok * n_head * d; i++)
        if (std::isnan(out[i])) {
            if (!r.nan_count)
                r.nan_first = i;
            r.nan_count++;
        }
    size_t n_jobs = tokens.size() * (size_t)n_head;
    std::vector<double> ref(n_jobs * d);
    unsigned nth = std::max(1u, std::min(32u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < nth; w++)
        pool.emplace_back([&, w]() {
            for (size_t j = w; j < n_jobs; j += nth) {
                int t = tokens[j / n_head], h = (int)(j % n_head);
                ref_attend(hl, h / G, pos0 + t + 1, &qh[(size_t)t * ld + (size_t)h * d], 1.0 / sqrt((double)d),
                           &ref[j * d]);
            }
        });
    for (auto &th : pool)
        th.join();
    double num = 0, den = 0;
    for (size_t j = 0; j < n_jobs; j++) {
        int t = tokens[j / n_head], h = (int)(j % n_head);
        for (int i = 0; i < d; i++) {
            double g = out[((size_t)t * n_head + h) * d + i], e = ref[j * d + i], df = fabs(g - e);
            num += (g - e) * (g - e);
            den += e * e;
            if (!(df <= r.max_abs)) { /* NaN lands here too */
                r.max_abs = df;
                r.at_t = t;
                r.at_h = h;
                r.at_i = i;
                r.at_got = g;
                r.at_ref = e;
            }
        }
    }
    r.rel = sqrt(num / den);
    return r;
}

/* The path cu_attention takes (cu_attn.cu: att_launch) decides the bound:
 * the tensor-core kernel rounds the query, the probabilities and (f32
 * caches) K and V to half: relative 2^-11 each, averaged over the dims
 * and positions, so a few 1e-4 in practice; 5e-3 leaves room for peaked
 * rows. The f32 kernels sum in f32 only: 1e-5 for decode (splits keep the
 * running sums short); prefill on that path runs one chain of up to 32K/4
 * positions per warp, whose rounding grows like sqrt(n): 3e-5. */
static double bound_for(be_kvfmt_t fmt, int d, int n_tok, const cu_att_opt_t *opt)
{
    bool dec = n_tok == 1 || n_tok <= opt->few_max; /* few-token passes run the decode kernels per token */
    bool mma = (d == 64 || d == 128) && (fmt != BE_KV_F32 || (!dec && !opt->f32_exact));
    return mma ? 5e-3 : dec ? 1e-5 : 3e-5;
}

static std::vector<int> pick_tokens(int pos0, int n_tok, int n_head, int d)
{
    std::vector<int> t;
    double cost = (double)n_tok * (pos0 + n_tok) * n_head * d;
    if (cost <= 4e9) {
        for (int i = 0; i < n_tok; i++)
            t.push_back(i);
        return t;
    }
    /* tile and warp edges (16, 64), both ends, and an even spread */
    const int fixed[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 47, 48, 63, 64, 65, 127, 128, 255, 256, 511, 512};
    for (int f : fixed)
        if (f < n_tok)
            t.push_back(f);
    for (int i = 1; i <= 8; i++)
        t.push_back((int)((long long)n_tok * i / 9));
    for (int f : {n_tok - 65, n_tok - 64, n_tok - 63, n_tok - 17, n_tok - 16, n_tok - 2, n_tok - 1})
        if (f >= 0)
            t.push_back(f);
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    return t;
}

/* ---- correctness -------------------------------------------------------------- */

struct check_ctx {
    cudaStream_t st;
    be_kvfmt_t fmt;
    int d, G, nkv, n_head;
    size_t ld; /* q | k | v rows, as the engine's fused QKV output */
    dev_cache c;
    host_layer hl;
    float *x, *out;
    int *d_pos0;
    void *work;
    double worst_dec, worst_pre;
    int worst_dec_pos, worst_pre_pos0, worst_pre_n;
};

static const int LAYER = 1; /* layer 0 stays poisoned: a wrong layer offset reads NaN */
static const int FILL_BATCH = 4096;
static const float QAMP = 4.0f;

static void report(check_ctx *cx, const char *what, int pos0, int n_tok, const case_result &r, double bound)
{
    bool ok = r.nan_count == 0 && r.rel <= bound;
    if (!ok)
        g_failures++;
    if (!ok || g_verbose) {
        printf("  %s %-4s D=%-3d G=%d %s pos0=%-5d n_tok=%-4d rel=%.3e (bound %.0e) max_abs=%.3e at t=%d h=%d "
               "i=%d got=%.6g ref=%.6g",
               ok ? "ok  " : "FAIL", fmt_name(cx->fmt), cx->d, cx->G, what, pos0, n_tok, r.rel, bound, r.max_abs,
               r.at_t, r.at_h, r.at_i, r.at_got, r.at_ref);
        if (r.nan_count)
            printf(" UNWRITTEN/NaN: %zu elements, first at t=%zu h=%zu i=%zu", r.nan_count,
                   r.nan_first / ((size_t)cx->n_head * cx->d), r.nan_first / cx->d % cx->n_head,
                   r.nan_first % cx->d);
        printf("\n");
    }
}

/* Fill layer LAYER at every position with cu_kv_write in batches and
 * compare each stored row (and int8 scale) with the host's conversion of
 * the same input, bit for bit; layer 0 must stay untouched. */
static void check_kv_write(check_ctx *cx, uint64_t seed)
{
    const int nkv = cx->nkv, d = cx->d, kvw = 2 * nkv * d;
    const size_t qcols = (size_t)cx->n_head * d;
    std::vector<float> xin((size_t)N_CTX * kvw); /* [pos][k heads | v heads] */
    for (int b = 0; b < N_CTX / FILL_BATCH; b++) {
        int pos0 = b * FILL_BATCH;
        fill(cx->st, cx->x, FILL_BATCH, (int)cx->ld, cx->ld, (int)qcols, d, nkv, QAMP, seed + (uint64_t)b);
        CK(cudaMemcpyAsync(cx->d_pos0, &pos0, sizeof(int), cudaMemcpyHostToDevice, cx->st));
        cu_kv_write({cx->st, false}, &cx->c.kv, LAYER, FILL_BATCH, cx->x, cx->ld, qcols, qcols + (size_t)nkv * d,
                    cx->d_pos0);
        CKL();
        CK(cudaMemcpy2DAsync(&xin[(size_t)pos0 * kvw], kvw * sizeof(float), cx->x + qcols, cx->ld * sizeof(float),
                             kvw * sizeof(float), FILL_BATCH, cudaMemcpyDeviceToHost, cx->st));
        CK(cudaStreamSynchronize(cx->st));
    }
    std::vector<uint8_t> kraw, vraw;
    copy_layer(cx->c, LAYER, &cx->hl, &kraw, &vraw);
    size_t bad = 0, first_bad = (size_t)-1;
    const size_t esz = fmt_esize(cx->fmt);
    std::vector<uint8_t> want(cx->c.row_bytes);
    for (int h = 0; h < nkv; h++)
        for (int p = 0; p < N_CTX; p++)
            for (int kvsel = 0; kvsel < 2; kvsel++) {
                const float *src = &xin[(size_t)p * kvw + (size_t)kvsel * nkv * d + (size_t)h * d];
                size_t row = (size_t)h * N_CTX + p;
                const uint8_t *got = (kvsel ? vraw : kraw).data() + row * cx->c.row_bytes;
                bool same = true;
                if (cx->fmt == BE_KV_F32) {
                    memcpy(want.data(), src, cx->c.row_bytes);
                } else if (cx->fmt == BE_KV_F16) {
                    for (int i = 0; i < d; i++) {
                        __half_raw hr = __half_raw(__float2half_rn(src[i]));
                        memcpy(&want[(size_t)i * esz], &hr.x, 2);
                    }
                } else {
                    float s = host_quant_row(src, (int8_t *)want.data(), d);
                    float gs = (kvsel ? cx->hl.vs : cx->hl.ks)[row];
                    same = memcmp(&s, &gs, 4) == 0;
                }
                same = same && memcmp(want.data(), got, cx->c.row_bytes) == 0;
                if (!same) {
                    if (!bad)
                        first_bad = row * 2 + (size_t)kvsel;
                    bad++;
                }
            }
    /* layer 0 still all 0xff */
    size_t l0_bad = 0;
    {
        std::vector<uint8_t> l0(kraw.size());
        for (int kvsel = 0; kvsel < 2; kvsel++) {
            CK(cudaMemcpy(l0.data(), kvsel ? cx->c.kv.v : cx->c.kv.k, l0.size(), cudaMemcpyDeviceToHost));
            for (uint8_t byte : l0)
                l0_bad += byte != 0xff;
        }
    }
    bool ok = bad == 0 && l0_bad == 0;
    if (!ok) {
        g_failures++;
        printf("  FAIL %-4s D=%-3d G=%d kv_write: %zu of %zu rows differ from the host conversion", fmt_name(cx->fmt),
               d, cx->G, bad, (size_t)nkv * N_CTX * 2);
        if (bad)
            printf(" (first: %s head %zu pos %zu)", first_bad % 2 ? "V" : "K", first_bad / 2 / N_CTX,
                   first_bad / 2 % N_CTX);
        printf("; %zu bytes of layer 0 changed\n", l0_bad);
    } else if (g_verbose) {
        printf("  ok   %-4s D=%-3d G=%d kv_write: %zu rows bit-identical to the host conversion\n", fmt_name(cx->fmt),
               d, cx->G, (size_t)nkv * N_CTX * 2);
    }
}

static void run_case(check_ctx *cx, int pos0, int n_tok, cudaGraphExec_t graph, uint64_t seed,
                     const cu_att_opt_t *opt)
{
    const size_t qcols = (size_t)cx->n_head * cx->d;
    fill(cx->st, cx->x, n_tok, (int)qcols, cx->ld, (int)qcols, cx->d, cx->nkv, QAMP, seed);
    CK(cudaMemcpyAsync(cx->d_pos0, &pos0, sizeof(int), cudaMemcpyHostToDevice, cx->st));
    CK(cudaMemsetAsync(cx->out, 0xff, (size_t)n_tok * qcols * sizeof(float), cx->st));
    if (graph) {
        CK(cudaGraphLaunch(graph, cx->st));
    } else {
        cu_attention({cx->st, false}, &cx->c.kv, LAYER, cx->x, cx->ld, n_tok, cx->n_head, 1.0f / sqrtf((float)cx->d),
                     pos0, cx->d_pos0, cx->out, cx->work, opt);
        CKL();
    }
    std::vector<float> qh((size_t)n_tok * cx->ld), out((size_t)n_tok * qcols);
    CK(cudaMemcpyAsync(qh.data(), cx->x, qh.size() * sizeof(float), cudaMemcpyDeviceToHost, cx->st));
    CK(cudaMemcpyAsync(out.data(), cx->out, out.size() * sizeof(float), cudaMemcpyDeviceToHost, cx->st));
    CK(cudaStreamSynchronize(cx->st));
    std::vector<int> toks = pick_tokens(pos0, n_tok, cx->n_head, cx->d);
    case_result r = compare(cx->hl, qh, cx->ld, cx->n_head, pos0, n_tok, toks, out);
    double bound = bound_for(cx->fmt, cx->d, n_tok, opt);
    const char *what = graph ? (opt->split_cap ? "decode(graph, one-wave splits)" : "decode(graph)")
                             : n_tok == 1             ? "decode"
                             : n_tok <= opt->few_max  ? "few-token (decode kernels)"
                             : opt->f32_exact         ? "prefill(f32 exact)"
                                                      : "prefill";
    report(cx, what, pos0, n_tok, r, bound);
    if (opt->pmax && n_tok == 1) {
        /* attn_combine's per-head maxima of |out|, for the fused output product */
        std::vector<float> pm(cx->n_head);
        CK(cudaMemcpy(pm.data(), opt->pmax, pm.size() * sizeof(float), cudaMemcpyDeviceToHost));
        int bad = 0;
        for (int h = 0; h < cx->n_head; h++) {
            float m = 0.0f;
            for (int i = 0; i < cx->d; i++)
                m = std::max(m, fabsf(out[(size_t)h * cx->d + i]));
            bad += m != pm[h];
        }
        if (bad) {
            g_failures++;
            printf("  FAIL %-4s D=%-3d G=%d %s pos0=%d: %d of %d head maxima differ from max |out|\n",
                   fmt_name(cx->fmt), cx->d, cx->G, what, pos0, bad, cx->n_head);
        }
    }
    double rel = r.nan_count ? INFINITY : r.rel;
    if (n_tok == 1 && !(rel <= cx->worst_dec)) {
        cx->worst_dec = rel;
        cx->worst_dec_pos = pos0;
    }
    if (n_tok > 1 && !(rel <= cx->worst_pre)) {
        cx->worst_pre = rel;
        cx->worst_pre_pos0 = pos0;
        cx->worst_pre_n = n_tok;
    }
}

/* RoPE fused with the cache write (cu_rope_kv_write, exact rounding) for 3
 * tokens at positions 500..502, both pair layouts: the rotated queries and
 * keys must equal the host's rotation bit for bit (float operations rounded
 * one by one), and the cache rows what cu_kv_write stores from the
 * host-rotated input. Uses layer 0 of a second cache. */
static void check_rope_kv(check_ctx *cx, uint64_t seed)
{
    const int d = cx->d, nkv = cx->nkv, n_rope = cx->n_head + nkv, half = d / 2, T = 3, pos0 = 500;
    const size_t k_off = (size_t)cx->n_head * d, v_off = (size_t)n_rope * d, ld = cx->ld;
    for (int neox = 0; neox < 2; neox++) {
        dev_cache a = cache_new(cx->fmt, 1, nkv, d), b = cache_new(cx->fmt, 1, nkv, d);
        fill(cx->st, cx->x, T, (int)ld, ld, (int)k_off, d, nkv, QAMP, seed * 31 + neox);
        std::vector<float> xh((size_t)T * ld), cs((size_t)T * d);
        CK(cudaMemcpyAsync(xh.data(), cx->x, xh.size() * 4, cudaMemcpyDeviceToHost, cx->st));
        CK(cudaStreamSynchronize(cx->st));
        for (int t = 0; t < T; t++)
            for (int k = 0; k < half; k++) {
                double th = (pos0 + t) * pow(10000.0, -2.0 * k / d);
                cs[(size_t)t * d + k] = (float)cos(th);
                cs[(size_t)t * d + half + k] = (float)sin(th);
            }
        std::vector<float> want = xh;
        for (int t = 0; t < T; t++)
            for (int h = 0; h < n_rope; h++)
                for (int k = 0; k < half; k++) {
                    float *v = &want[(size_t)t * ld + (size_t)h * d];
                    int ia = neox ? k : 2 * k, ib = neox ? k + half : 2 * k + 1;
                    float c = cs[(size_t)t * d + k], sn = cs[(size_t)t * d + half + k], p = v[ia], q = v[ib];
                    volatile float pc = p * c, qs = q * sn, ps = p * sn, qc = q * c;
                    v[ia] = pc - qs;
                    v[ib] = ps + qc;
                }
        float *dcs, *x2;
        CK(cudaMalloc(&dcs, cs.size() * 4));
        CK(cudaMalloc(&x2, want.size() * 4));
        CK(cudaMemcpy(dcs, cs.data(), cs.size() * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(x2, want.data(), want.size() * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpyAsync(cx->d_pos0, &pos0, sizeof(int), cudaMemcpyHostToDevice, cx->st));
        cu_rope_kv_write({cx->st, false}, &a.kv, 0, T, cx->x, ld, n_rope, neox, true, dcs, k_off, v_off, cx->d_pos0);
        CKL();
        cu_kv_write({cx->st, false}, &b.kv, 0, T, x2, ld, k_off, v_off, cx->d_pos0);
        CKL();
        std::vector<float> got((size_t)T * ld);
        CK(cudaMemcpyAsync(got.data(), cx->x, got.size() * 4, cudaMemcpyDeviceToHost, cx->st));
        CK(cudaStreamSynchronize(cx->st));
        size_t bad_x = 0, bad_c = 0;
        for (int t = 0; t < T; t++)
            for (size_t i = 0; i < v_off + (size_t)nkv * d; i++)
                bad_x += memcmp(&got[(size_t)t * ld + i], &want[(size_t)t * ld + i], 4) != 0;
        std::vector<uint8_t> ra(a.n_rows * a.row_bytes), rb(ra.size());
        for (int kvsel = 0; kvsel < 2; kvsel++) {
            CK(cudaMemcpy(ra.data(), kvsel ? a.kv.v : a.kv.k, ra.size(), cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(rb.data(), kvsel ? b.kv.v : b.kv.k, rb.size(), cudaMemcpyDeviceToHost));
            bad_c += memcmp(ra.data(), rb.data(), ra.size()) != 0;
            if (cx->fmt == BE_KV_INT8) {
                std::vector<float> sa(a.n_rows), sb(a.n_rows);
                CK(cudaMemcpy(sa.data(), kvsel ? a.kv.vs : a.kv.ks, sa.size() * 4, cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(sb.data(), kvsel ? b.kv.vs : b.kv.ks, sb.size() * 4, cudaMemcpyDeviceToHost));
                bad_c += memcmp(sa.data(), sb.data(), sa.size() * 4) != 0;
            }
        }
        if (bad_x || bad_c) {
            g_failures++;
            printf("  FAIL %-4s D=%-3d G=%d rope+kv_write (%s pairs): %zu rotated values differ from the host, "
                   "cache %s\n",
                   fmt_name(cx->fmt), d, cx->G, neox ? "neox" : "adjacent", bad_x, bad_c ? "DIFFERS" : "equal");
        } else if (g_verbose) {
            printf("  ok   %-4s D=%-3d G=%d rope+kv_write (%s pairs): bit-identical\n", fmt_name(cx->fmt), d, cx->G,
                   neox ? "neox" : "adjacent");
        }
        CK(cudaFree(dcs));
        CK(cudaFree(x2));
        cache_free(&a);
        cache_free(&b);
    }
}

static const cu_att_opt_t g_bench_opt = {false, 0, nullptr, 1};

static void check_config(cudaStream_t st, be_kvfmt_t fmt, int d, int G, uint64_t seed)
{
    check_ctx cx;
    cx.st = st;
    cx.fmt = fmt;
    cx.d = d;
    cx.G = G;
    cx.nkv = G == 1 ? 4 : 2;
    cx.n_head = G * cx.nkv;
    cx.ld = (size_t)(cx.n_head + 2 * cx.nkv) * d;
    cx.worst_dec = cx.worst_pre = 0;
    cx.worst_dec_pos = cx.worst_pre_pos0 = cx.worst_pre_n = 0;
    cx.c = cache_new(fmt, 2, cx.nkv, d);
    const int max_tok = FILL_BATCH;
    CK(cudaMalloc(&cx.x, (size_t)max_tok * cx.ld * sizeof(float)));
    CK(cudaMalloc(&cx.out, (size_t)max_tok * cx.n_head * d * sizeof(float)));
    CK(cudaMalloc(&cx.d_pos0, sizeof(int)));
    size_t wb = cu_attn_work_bytes(max_tok, N_CTX, cx.n_head, cx.nkv, d);
    CK(cudaMalloc(&cx.work, wb ? wb : 1));
    CK(cudaMemset(cx.work, 0xff, wb ? wb : 1));
    CK(cudaDeviceSynchronize());

    check_kv_write(&cx, seed);

    check_rope_kv(&cx, seed);

    /* decode as the backend runs it: captured once (host pos0 0), replayed
     * at each position with only *d_pos0 changed; with the split rule of
     * the tile alone, and with one-wave splits plus the per-head maxima the
     * fused output product reads */
    float *pmax;
    CK(cudaMalloc(&pmax, (size_t)cx.n_head * sizeof(float)));
    /* the few-token passes of OCTET_CUDA_FEW on: 2 .. CU_FEW_MAX tokens take the decode kernels */
    const cu_att_opt_t opt0 = {false, 0, nullptr, CU_FEW_MAX}, opt_wave = {false, -1, pmax, CU_FEW_MAX},
                       opt_exact = {true, 0, nullptr, CU_FEW_MAX};
    uint64_t s = seed * 1000;
    for (const cu_att_opt_t *o : {&opt0, &opt_wave}) {
        cudaGraph_t g;
        cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
        cu_attention({st, false}, &cx.c.kv, LAYER, cx.x, cx.ld, 1, cx.n_head, 1.0f / sqrtf((float)d), 0, cx.d_pos0,
                     cx.out, cx.work, o);
        CK(cudaStreamEndCapture(st, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
        for (int pos : {0, 1, 255, 256, 257, 4095, 32767})
            run_case(&cx, pos, 1, ge, ++s, o);
        CK(cudaGraphExecDestroy(ge));
        CK(cudaGraphDestroy(g));
    }
    CK(cudaFree(pmax));

    for (int n = 1; n <= 17; n += 2)
        run_case(&cx, 0, n, nullptr, ++s, &opt0);
    const int pre[][2] = {{4000, 5}, {32751, 16}, {0, 512}, {100, 300}, {4096, 512}, {30000, 2048}};
    for (auto &pn : pre)
        run_case(&cx, pn[0], pn[1], nullptr, ++s, &opt0);
    /* f32 caches in f32 throughout (OCTET_CUDA_EXACT): prefill on attn_simt */
    if (fmt == BE_KV_F32 && (d == 64 || d == 128)) {
        const int pre_x[][2] = {{0, 17}, {100, 300}, {4096, 512}};
        for (auto &pn : pre_x)
            run_case(&cx, pn[0], pn[1], nullptr, ++s, &opt_exact);
    }

    printf("%-4s D=%-3d G=%d  worst decode rel %.2e (pos %d, bound %.0e)  worst prefill rel %.2e (pos0 %d n_tok %d, "
           "bound %.0e)\n",
           fmt_name(fmt), d, G, cx.worst_dec, cx.worst_dec_pos, bound_for(fmt, d, 1, &opt0), cx.worst_pre,
           cx.worst_pre_pos0, cx.worst_pre_n, bound_for(fmt, d, CU_FEW_MAX + 1, &opt0));
    fflush(stdout);
    CK(cudaFree(cx.x));
    CK(cudaFree(cx.out));
    CK(cudaFree(cx.d_pos0));
    CK(cudaFree(cx.work));
    cache_free(&cx.c);
}

/* ---- timing ------------------------------------------------------------------- */

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

struct bench_row {
    char what[64];
    double ms, per_layer_us, gbs, tflops, tok_s;
    int runs;
};
static std::vector<bench_row> g_rows;

/* Qwen2.5-7B attention: 28 layers, 28 query heads, 4 KV heads, head_dim 128. */
static void bench_fmt(cudaStream_t st, be_kvfmt_t fmt)
{
    const int L = 28, NH = 28, NKV = 4, D = 128, PB = 2048;
    dev_cache c = cache_new(fmt, L, NKV, D);
    const size_t kvw = 2 * NKV * D, qw = (size_t)NH * D;
    float *x, *q, *out;
    int *d_pos0;
    void *work;
    CK(cudaMalloc(&x, (size_t)FILL_BATCH * kvw * sizeof(float)));
    const int q_rows = std::max(L, PB); /* decode: a row per layer; prefill: a batch */
    CK(cudaMalloc(&q, (size_t)q_rows * qw * sizeof(float)));
    CK(cudaMalloc(&out, (size_t)q_rows * qw * sizeof(float)));
    int *h_pos; /* pinned, so the position copies in the timed loops stay asynchronous */
    CK(cudaMallocHost(&h_pos, (N_CTX / 512) * sizeof(int)));
    CK(cudaMalloc(&d_pos0, sizeof(int)));
    size_t wb = cu_attn_work_bytes(PB, N_CTX, NH, NKV, D);
    CK(cudaMalloc(&work, wb));
    for (int l = 0; l < L; l++)
        for (int b = 0; b < N_CTX / FILL_BATCH; b++) {
            int pos0 = b * FILL_BATCH;
            fill(st, x, FILL_BATCH, (int)kvw, kvw, 0, D, NKV, QAMP, 77 + (uint64_t)l * 100 + (uint64_t)b);
            CK(cudaMemcpyAsync(d_pos0, &pos0, sizeof(int), cudaMemcpyHostToDevice, st));
            cu_kv_write({st, false}, &c.kv, l, FILL_BATCH, x, kvw, 0, (size_t)NKV * D, d_pos0);
            CKL();
            CK(cudaStreamSynchronize(st));
        }
    fill(st, q, q_rows, (int)qw, qw, (int)qw, D, NKV, QAMP, 999);
    const float scale = 1.0f / sqrtf((float)D);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const size_t row_bytes = D * fmt_esize(fmt) + (fmt == BE_KV_INT8 ? 4 : 0);

    /* decode: one graph of the 28 layers' attention, as in a decode step;
     * splits by the tile rule alone, then at most one full wave */
    for (int cap : {0, -1}) {
    const cu_att_opt_t dopt = {false, cap, nullptr, 1};
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    for (int l = 0; l < L; l++)
        cu_attention({st, false}, &c.kv, l, q + (size_t)l * qw, qw, 1, NH, scale, 0, d_pos0, out + (size_t)l * qw,
                     work, &dopt);
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    for (int depth : {1024, 4096, 16384, 32768}) {
        int pos = depth - 1;
        CK(cudaMemcpyAsync(d_pos0, &pos, sizeof(int), cudaMemcpyHostToDevice, st));
        std::vector<double> t;
        for (int it = 0; it < 55; it++) {
            CK(cudaEventRecord(e0, st));
            CK(cudaGraphLaunch(ge, st));
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (it >= 5)
                t.push_back(ms);
        }
        double ms = median(t), bytes = (double)NKV * depth * 2 * row_bytes;
        bench_row r;
        snprintf(r.what, sizeof r.what, "decode %-4s depth %5d%s", fmt_name(fmt), depth, cap ? " one-wave" : "");
        r.ms = ms;
        r.per_layer_us = ms * 1e3 / L;
        r.gbs = bytes / (ms * 1e-3 / L) / 1e9;
        r.tflops = 4.0 * NH * D * depth / (ms * 1e-3 / L) / 1e12;
        r.tok_s = 1e3 / ms;
        r.runs = (int)t.size();
        g_rows.push_back(r);
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    }

    /* prefill, layer 0: 512 tokens at 0; a 32K prompt in batches */
    struct sweep {
        int batch, total;
    } sweeps[] = {{512, 512}, {512, N_CTX}, {2048, N_CTX}};
    for (const sweep &sw : sweeps) {
        for (int b = 0; b * sw.batch < sw.total; b++)
            h_pos[b] = b * sw.batch;
        CK(cudaStreamSynchronize(st)); /* the previous sweep's copies have read h_pos */
        double flops = 0;
        for (int p = 0; p < sw.total; p++)
            flops += 4.0 * NH * D * (p + 1);
        std::vector<double> t;
        double spent = 0;
        for (int it = 0; it < 55 && (it < 8 || spent < 6000); it++) {
            CK(cudaEventRecord(e0, st));
            for (int b = 0; b * sw.batch < sw.total; b++) {
                CK(cudaMemcpyAsync(d_pos0, &h_pos[b], sizeof(int), cudaMemcpyHostToDevice, st));
                cu_attention({st, false}, &c.kv, 0, q, qw, sw.batch, NH, scale, h_pos[b], d_pos0, out, work,
                             &g_bench_opt);
            }
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            CKL();
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            spent += ms;
            if (it >= 3)
                t.push_back(ms);
        }
        double ms = median(t);
        bench_row r;
        snprintf(r.what, sizeof r.what, "prefill %-4s %5d tok in %4d-tok batches", fmt_name(fmt), sw.total, sw.batch);
        r.ms = ms * L;
        r.per_layer_us = ms * 1e3;
        r.gbs = 0;
        r.tflops = flops / (ms * 1e-3) / 1e12;
        r.tok_s = sw.total / (ms * L * 1e-3);
        r.runs = (int)t.size();
        g_rows.push_back(r);
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    CK(cudaFree(x));
    CK(cudaFree(q));
    CK(cudaFree(out));
    CK(cudaFree(d_pos0));
    CK(cudaFree(work));
    CK(cudaFreeHost(h_pos));
    cache_free(&c);
}

int main(int argc, char **argv)
{
    bool bench = true, check = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            g_verbose = true;
        } else if (!strcmp(argv[i], "--no-bench")) {
            bench = false;
        } else if (!strcmp(argv[i], "--bench-only")) {
            check = false;
        } else {
            fprintf(stderr, "usage: %s [-v] [--no-bench] [--bench-only]\n", argv[0]);
            return 2;
        }
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("attn_check on %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if (check) {
        uint64_t seed = 1;
        for (be_kvfmt_t fmt : {BE_KV_F32, BE_KV_F16, BE_KV_INT8})
            for (int d : {16, 64, 128})
                for (int G : {1, 7})
                    check_config(st, fmt, d, G, seed++);
        printf("checks: %s (%d failing)\n", g_failures ? "FAILED" : "all passed", g_failures);
    }
    if (bench) {
        bench_fmt(st, BE_KV_INT8);
        bench_fmt(st, BE_KV_F16);
        printf("\n%-44s %10s %12s %9s %9s %11s %5s\n", "Qwen2.5-7B attention (28 layers)", "model ms", "us/layer",
               "GB/s", "TFLOP/s", "tok/s", "runs");
        for (const bench_row &r : g_rows) {
            printf("%-44s %10.3f %12.1f ", r.what, r.ms, r.per_layer_us);
            if (r.gbs > 0)
                printf("%9.0f ", r.gbs);
            else
                printf("%9s ", "-");
            printf("%9.1f %11.0f %5d\n", r.tflops, r.tok_s, r.runs);
        }
        printf("decode tok/s: attention alone, 1 / (28 layers' time); prefill tok/s: prompt tokens / (28 x one "
               "layer's attention time)\n");
    }
    CK(cudaStreamDestroy(st));
    return g_failures ? 1 : 0;
}
