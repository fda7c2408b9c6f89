/* cu_attn.cu - the CUDA backend's KV-cache writes and attention (interface
 * and graph-safety rules in cu_attn.cuh; semantics those of cpu_kv_write and
 * cpu_attention in kernels/cpu/backend_cpu.c).
 *
 * Three kernels do the attention:
 *  - attn_mma: tensor cores (mma.sync m16n8k16, half inputs, f32
 *    accumulators) for head_dim 64 and 128. A block stages 64 cached
 *    positions of one KV head in shared memory as half (int8 and f16 values
 *    are exact in half; the int8 row scales are applied in f32 outside the
 *    products) and each warp runs an online softmax for 16 query rows over
 *    them. Prefill: the rows are 16 tokens of one query head, 4 warps per
 *    block share each tile. Decode: the rows are the query heads of one KV
 *    group, so a K/V row is read once for all of them (GQA), and the context
 *    is split over blocks (flash-decoding), each warp taking 16 positions of
 *    every tile.
 *  - attn_simt: plain f32 arithmetic for any head_dim, for decode with an
 *    f32 cache (whose accuracy half would spoil) and as the fallback for
 *    sizes attn_mma does not handle.
 *  - attn_combine: merges the decode splits' partial results.
 * Decode splits: the grid holds att_n_split(n_ctx) blocks per head group and
 * the chunk each covers is computed on the device from *d_pos0 (att_chunk),
 * so a captured graph adapts to the position; blocks whose chunk starts past
 * the position return at once. A pass of 2 .. few_max tokens runs the
 * decode kernels with the grid over its tokens too (token t at position
 * *d_pos0 + t, its own partial results), so each token's output is the one
 * its one-token pass computes; the tokens of a split are neighbours in the
 * grid and share its cache rows through L2. Softmax runs in base 2 with
 * log2(e) folded into the query scale. */
#include "cu_attn.cuh"

#include <math.h>

#define ATT_THREADS 128 /* 4 warps in every attention kernel */
#define ATT_WARPS 4
#define ATT_TILE 64       /* cached positions per shared-memory tile and the decode chunk granule */
#define ATT_SPLIT_MAX 128 /* decode splits per head: enough blocks to fill a GPU at 32K context */
#define SIMT_HB 8         /* query heads per attn_simt block */
#define SIMT_EPL 8        /* dims per lane in attn_simt: head_dim <= 256 */
#define SIMT_DMAX (32 * SIMT_EPL)
static_assert(SIMT_DMAX >= CU_ATT_MAX_HEAD_DIM, "attn_simt covers every head size cu_reserve accepts");
#define ATT_LOG2E 1.4426950408889634f

/* ---- small helpers --------------------------------------------------------- */

/* Decode splits: at most one per 64-position tile, at most ATT_SPLIT_MAX,
 * and (CAP > 0) at most CAP, so that the grid is one full wave of the GPU
 * (cu_attn_split_cap) instead of a wave and a fraction. */
static int att_n_split(int n_ctx, int cap)
{
    int n = (n_ctx + ATT_TILE - 1) / ATT_TILE;
    n = n < ATT_SPLIT_MAX ? n : ATT_SPLIT_MAX;
    return cap > 0 && cap < n ? cap : n;
}

/* Positions token T of a decode-style pass sees. The clamp (like the
 * prefill kernels' to n_ctx) keeps a bad position from reading past the
 * cache. */
__device__ __forceinline__ int att_n_pos(const int *d_pos0, int t, int n_ctx)
{
    return min(*d_pos0 + t + 1, n_ctx);
}

/* The decode chunk for N_POS visible positions over N_SPLIT blocks: a whole
 * number of tiles, as few splits as cover N_POS (N_ACT of them run). */
__device__ __forceinline__ void att_chunk(int n_pos, int n_split, int *chunk, int *n_act)
{
    int c = (n_pos + n_split - 1) / n_split;
    c = (c + ATT_TILE - 1) / ATT_TILE * ATT_TILE;
    *chunk = c;
    *n_act = (n_pos + c - 1) / c;
}

template <typename T> struct att_fmt;
template <> struct att_fmt<float> {
    static constexpr bool q8 = false;
};
template <> struct att_fmt<__half> {
    static constexpr bool q8 = false;
};
template <> struct att_fmt<int8_t> {
    static constexpr bool q8 = true;
};

__device__ __forceinline__ float att_to_f(float x)
{
    return x;
}
__device__ __forceinline__ float att_to_f(__half x)
{
    return __half2float(x);
}
__device__ __forceinline__ float att_to_f(int8_t x)
{
    return (float)x;
}

__device__ __forceinline__ void att_store(float *p, float x, float)
{
    *p = x;
}
__device__ __forceinline__ void att_store(__half *p, float x, float)
{
    *p = __float2half_rn(x);
}
__device__ __forceinline__ void att_store(int8_t *p, float x, float s)
{
    *p = s == 0.0f ? (int8_t)0 : cu_quant_one(x, s);
}

/* X quantized with scale S as cpu_quantize_row_i8 does, as a float */
__device__ __forceinline__ float att_q8f(float x, float s)
{
    return s == 0.0f ? 0.0f : (float)cu_quant_one(x, s);
}

__device__ __forceinline__ uint32_t att_h2(float lo, float hi)
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

/* D += A * B for one m16n8k16 tile: A row-major 16x16 half, B 16x8
 * ("col": each thread's pairs run along k), D 16x8 f32. */
__device__ __forceinline__ void att_mma(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void att_ldsm4(uint32_t r[4], const __half *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
}

__device__ __forceinline__ void att_ldsm4t(uint32_t r[4], const __half *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
}

/* Four int8 in W to two half2 exactly: each byte, biased to unsigned, is
 * placed in the mantissa of 1024.0 (0x6400) and 1024 + 128 subtracted. A
 * byte permute and a half subtraction instead of four conversions, which
 * have a quarter of the throughput. */
__device__ __forceinline__ void att_i8x4_h2(uint32_t w, uint32_t *lo, uint32_t *hi)
{
    const uint32_t x = w ^ 0x80808080u;
    uint32_t a = __byte_perm(x, 0x64646464u, 0x4140), b = __byte_perm(x, 0x64646464u, 0x4342);
    const __half2 bias = __half2half2(__ushort_as_half((unsigned short)0x6480u));
    __half2 ha = __hsub2(*reinterpret_cast<__half2 *>(&a), bias);
    __half2 hb = __hsub2(*reinterpret_cast<__half2 *>(&b), bias);
    *lo = *reinterpret_cast<uint32_t *>(&ha);
    *hi = *reinterpret_cast<uint32_t *>(&hb);
}

/* One 16-byte chunk of a cached row, converted to half at DST. */
__device__ __forceinline__ void att_cvt16(__half *dst, uint4 v, int8_t)
{
    uint32_t h[8];
    att_i8x4_h2(v.x, &h[0], &h[1]);
    att_i8x4_h2(v.y, &h[2], &h[3]);
    att_i8x4_h2(v.z, &h[4], &h[5]);
    att_i8x4_h2(v.w, &h[6], &h[7]);
    reinterpret_cast<uint4 *>(dst)[0] = make_uint4(h[0], h[1], h[2], h[3]);
    reinterpret_cast<uint4 *>(dst)[1] = make_uint4(h[4], h[5], h[6], h[7]);
}
__device__ __forceinline__ void att_cvt16(__half *dst, uint4 v, __half)
{
    *reinterpret_cast<uint4 *>(dst) = v;
}
__device__ __forceinline__ void att_cvt16(__half *dst, uint4 v, float)
{
    uint2 o;
    o.x = att_h2(__uint_as_float(v.x), __uint_as_float(v.y));
    o.y = att_h2(__uint_as_float(v.z), __uint_as_float(v.w));
    *reinterpret_cast<uint2 *>(dst) = o;
}

/* ---- KV-cache writes ------------------------------------------------------- */

/* Store SRC (head_dim floats) as row (LAYER, H, POS) of K or V (IS_V), one
 * warp: the int8 scale needs the row's absmax, a warp reduction. Two
 * passes over the source row (the second from L1) keep any head_dim
 * without a register array. */
template <typename T>
__device__ __forceinline__ void kv_store_row(const cu_kv_t &kv, int layer, int pos, int h, bool is_v,
                                             const float *src, int lane)
{
    const int d = kv.head_dim;
    const size_t r = ((size_t)layer * (size_t)kv.n_head_kv + (size_t)h) * (size_t)kv.n_ctx + (size_t)pos;
    T *dst = (T *)(is_v ? kv.v : kv.k) + r * (size_t)d;
    float s = 0.0f;
    if (att_fmt<T>::q8) {
        float amax = 0.0f;
        for (int i = lane; i < d; i += 32)
            amax = fmaxf(amax, fabsf(src[i])); /* fmaxf drops NaN, as the CPU's compare does */
        s = __fdiv_rn(cu_warp_max(amax), 127.0f);
        if (lane == 0)
            (is_v ? kv.vs : kv.ks)[r] = s;
    }
    for (int i = lane; i < d; i += 32)
        att_store(dst + i, src[i], s);
}

/* One warp per (token, KV head, K or V) row. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
    kv_write_kernel(cu_kv_t kv, int layer, int n_tok, const float *x, size_t ld, size_t k_off,
                    size_t v_off, const int *d_pos0)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    const int lane = threadIdx.x & 31, d = kv.head_dim, nkv = kv.n_head_kv;
    const int row = blockIdx.x * ATT_WARPS + (threadIdx.x >> 5);
    if (row >= n_tok * nkv * 2)
        return;
    const int is_v = row & 1, h = (row >> 1) % nkv, t = (row >> 1) / nkv;
    const int pos = *d_pos0 + t;
    if (pos < 0 || pos >= kv.n_ctx) /* never write outside the cache, whatever the caller passes */
        return;
    const float *src = x + (size_t)t * ld + (is_v ? v_off : k_off) + (size_t)h * (size_t)d;
    kv_store_row<T>(kv, layer, pos, h, is_v, src, lane);
}

void cu_kv_write(const cu_launch_t &lc, const cu_kv_t *kv, int layer, int n_tok, const float *x, size_t ld,
                 size_t k_off, size_t v_off, const int *d_pos0)
{
    if (n_tok <= 0)
        return;
    int rows = n_tok * kv->n_head_kv * 2, blocks = (rows + ATT_WARPS - 1) / ATT_WARPS;
    switch (kv->fmt) {
    case BE_KV_F32:
        cu_go(lc, kv_write_kernel<float>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, k_off, v_off, d_pos0);
        break;
    case BE_KV_F16:
        cu_go(lc, kv_write_kernel<__half>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, k_off, v_off, d_pos0);
        break;
    case BE_KV_INT8:
        cu_go(lc, kv_write_kernel<int8_t>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, k_off, v_off, d_pos0);
        break;
    }
}

/* RoPE and the KV-cache write in one launch: one warp per (token, row),
 * rows 0 .. N_ROPE-1 the heads RoPE rotates in place (queries and keys),
 * then the KV heads' V rows. A warp whose rotated head is a K head (floats
 * K_OFF.. of the row) stores it once rotated; V rows are stored as they
 * are. The rotation is k_rope's (cu_rope_pair), the stores kv_write's. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
    rope_kv_kernel(cu_kv_t kv, int layer, int n_tok, float *x, size_t ld, int n_rope, int neox, bool exact,
                   const float *cs, size_t k_off, size_t v_off, const int *d_pos0)
{
    cu_pdl_trigger();
    cu_pdl_wait();
    const int lane = threadIdx.x & 31, d = kv.head_dim, nkv = kv.n_head_kv, per = n_rope + nkv;
    const int row = blockIdx.x * ATT_WARPS + (threadIdx.x >> 5);
    if (row >= n_tok * per)
        return;
    const int t = row / per, hh = row % per, pos = *d_pos0 + t;
    const bool in_cache = pos >= 0 && pos < kv.n_ctx;
    float *xt = x + (size_t)t * ld;
    if (hh >= n_rope) {
        if (in_cache)
            kv_store_row<T>(kv, layer, pos, hh - n_rope, true, xt + v_off + (size_t)(hh - n_rope) * d, lane);
        return;
    }
    const int half = d / 2;
    const float *c = cs + (size_t)t * d, *sn = c + half;
    float *v = xt + (size_t)hh * d;
    for (int k = lane; k < half; k += 32)
        cu_rope_pair(v, neox ? k : 2 * k, neox ? k + half : 2 * k + 1, c[k], sn[k], exact);
    const size_t off = (size_t)hh * d;
    if (!in_cache || off < k_off || off >= k_off + (size_t)nkv * d)
        return;
    __syncwarp(); /* the row's other lanes' rotated values, through memory */
    kv_store_row<T>(kv, layer, pos, (int)((off - k_off) / d), false, v, lane);
}

bool cu_rope_kv_ok(const cu_kv_t *kv, int n_rope, size_t k_off, size_t v_off)
{
    size_t d = (size_t)kv->head_dim;
    return k_off % d == 0 && k_off / d + (size_t)kv->n_head_kv <= (size_t)n_rope && v_off >= (size_t)n_rope * d;
}

void cu_rope_kv_write(const cu_launch_t &lc, const cu_kv_t *kv, int layer, int n_tok, float *x, size_t ld,
                      int n_rope, bool neox, bool exact, const float *cs, size_t k_off, size_t v_off,
                      const int *d_pos0)
{
    if (n_tok <= 0)
        return;
    int rows = n_tok * (n_rope + kv->n_head_kv), blocks = (rows + ATT_WARPS - 1) / ATT_WARPS, nx = neox;
    switch (kv->fmt) {
    case BE_KV_F32:
        cu_go(lc, rope_kv_kernel<float>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, n_rope, nx, exact, cs,
              k_off, v_off, d_pos0);
        break;
    case BE_KV_F16:
        cu_go(lc, rope_kv_kernel<__half>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, n_rope, nx, exact, cs,
              k_off, v_off, d_pos0);
        break;
    case BE_KV_INT8:
        cu_go(lc, rope_kv_kernel<int8_t>, blocks, ATT_THREADS, 0, *kv, layer, n_tok, x, ld, n_rope, nx, exact, cs,
              k_off, v_off, d_pos0);
        break;
    }
}

/* ---- tensor-core attention ------------------------------------------------- */

/* Stage cached positions BASE .. BASE+63 of the KV head whose rows start at
 * R0 into shared memory as half; positions from END on are zero (the cache
 * there may hold anything, NaN included, and a zero weight times NaN is
 * NaN). All global loads of a group are issued before any conversion. */
template <typename T, int D>
__device__ __forceinline__ void att_load_tile(const cu_kv_t &kv, size_t r0, int base, int end, __half *sk,
                                              __half *sv, float *sks, float *svs)
{
    constexpr int EPC = 16 / (int)sizeof(T), CH = D / EPC, LDS = D + 8;
    constexpr int IT = ATT_TILE * CH / ATT_THREADS, GRP = IT < 4 ? IT : 4;
    static_assert(IT % GRP == 0, "tile load groups");
    const T *kb = (const T *)kv.k, *vb = (const T *)kv.v;
#pragma unroll
    for (int g = 0; g < IT; g += GRP) {
        uint4 kr[GRP], vr[GRP];
#pragma unroll
        for (int j = 0; j < GRP; j++) {
            int idx = (g + j) * ATT_THREADS + (int)threadIdx.x, row = idx / CH, ch = idx % CH;
            kr[j] = vr[j] = make_uint4(0, 0, 0, 0);
            if (base + row < end) {
                size_t off = (r0 + (size_t)(base + row)) * D + (size_t)(ch * EPC);
                kr[j] = __ldg(reinterpret_cast<const uint4 *>(kb + off));
                vr[j] = __ldg(reinterpret_cast<const uint4 *>(vb + off));
            }
        }
#pragma unroll
        for (int j = 0; j < GRP; j++) {
            int idx = (g + j) * ATT_THREADS + (int)threadIdx.x, row = idx / CH, ch = idx % CH;
            att_cvt16(sk + row * LDS + ch * EPC, kr[j], T());
            att_cvt16(sv + row * LDS + ch * EPC, vr[j], T());
        }
    }
    if (att_fmt<T>::q8) {
        int i = threadIdx.x & (ATT_TILE - 1), p = base + i;
        const float *src = threadIdx.x < ATT_TILE ? kv.ks : kv.vs;
        (threadIdx.x < ATT_TILE ? sks : svs)[i] = p < end ? src[r0 + (size_t)p] : 0.0f;
    }
}

template <int D> constexpr int att_mma_smem()
{
    /* K and V tiles plus int8 scales, or (decode) the warps' results */
    return 2 * ATT_TILE * (D + 8) * 2 + 2 * ATT_TILE * 4 > ATT_WARPS * 16 * (D + 2) * 4
               ? 2 * ATT_TILE * (D + 8) * 2 + 2 * ATT_TILE * 4
               : ATT_WARPS * 16 * (D + 2) * 4;
}

/* Registers are capped for 3 blocks per SM with int8 (the format that
 * matters most; it fits without spilling), 2 with the wider ones.
 * DEC: grid (splits, KV heads x groups of 16 query heads); the partial
 * results go to PART_O / PART_ML for attn_combine. Prefill: grid (blocks of
 * 64 tokens, query heads); the results go to OUT. QS = scale * log2(e). */
template <typename T, int D, bool DEC>
__global__ void __launch_bounds__(ATT_THREADS, att_fmt<T>::q8 ? 3 : 2)
    attn_mma(cu_kv_t kv, int layer, const float *q, size_t ld, int n_tok, int n_head, float qs, int pos0,
             const int *d_pos0, float *out, float *part_o, float *part_ml, bool q_i8)
{
    constexpr bool Q8 = att_fmt<T>::q8;
    constexpr int LDS = D + 8;           /* half row stride: ldmatrix rows land in distinct banks */
    constexpr int NS = DEC ? 1 : ATT_TILE / 16; /* 16-position slices a warp takes per tile */
    constexpr int NT = 2 * NS, KS = D / 16, ND = D / 8;
    static_assert(KS % 2 == 0, "head_dim must be a multiple of 32");
    extern __shared__ __align__(16) unsigned char att_smem[];
    __half *sk = reinterpret_cast<__half *>(att_smem), *sv = sk + ATT_TILE * LDS;
    float *sks = reinterpret_cast<float *>(sv + ATT_TILE * LDS), *svs = sks + ATT_TILE;

    cu_pdl_trigger();
    cu_pdl_wait();
    const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, gq = lane >> 2, c = lane & 3;
    const int nkv = kv.n_head_kv, G = n_head / nkv;
    int kvh, g0 = 0, start, end, lim0, lim1, row0, row1;
    bool ok0, ok1, active;
    /* decode: token DT of the pass, split DS of N_SPLIT */
    const int dt = DEC ? (int)blockIdx.x % n_tok : 0, ds = DEC ? (int)blockIdx.x / n_tok : 0;
    const int n_split = DEC ? (int)gridDim.x / n_tok : 1;
    if (DEC) {
        const int nhs = (G + 15) / 16, n_pos = att_n_pos(d_pos0, dt, kv.n_ctx);
        int chunk, n_act;
        att_chunk(n_pos, n_split, &chunk, &n_act);
        start = ds * chunk;
        if (start >= n_pos)
            return;
        end = min(n_pos, start + chunk);
        kvh = blockIdx.y / nhs;
        g0 = (blockIdx.y % nhs) * 16;
        lim0 = lim1 = n_pos - 1;
        row0 = g0 + gq; /* a head of the group */
        row1 = row0 + 8;
        ok0 = row0 < G;
        ok1 = row1 < G;
        active = true;
    } else {
        const int t0 = (gridDim.x - 1 - blockIdx.x) * ATT_TILE; /* the longest rows start first */
        kvh = blockIdx.y / G;
        start = 0;
        end = min(pos0 + min(t0 + ATT_TILE, n_tok), kv.n_ctx);
        row0 = t0 + 16 * w + gq; /* a token */
        row1 = row0 + 8;
        ok0 = row0 < n_tok;
        ok1 = row1 < n_tok;
        lim0 = pos0 + row0;
        lim1 = pos0 + row1;
        active = t0 + 16 * w < n_tok;
    }
    /* the last position any row of this warp sees */
    const int wlast = DEC ? end - 1 : pos0 + min(row0 - gq + 15, n_tok - 1);

    /* query A fragments, scaled, in half; with Q_I8 (int8 caches) the rows'
     * int8 values, exact in half, and their scales times QS in QF0 / QF1
     * multiply the scores instead: the products and their sums (below 2^24)
     * are exact, so a score's dot product is the CPU's integer one */
    uint32_t qa[KS][4];
    const bool qi8 = Q8 && q_i8;
    float qf0 = 1.0f, qf1 = 1.0f;
    {
        const float *q0 = DEC ? q + (size_t)dt * ld + (size_t)(kvh * G + row0) * D
                              : q + (size_t)row0 * ld + (size_t)blockIdx.y * D;
        const float *q1 = DEC ? q0 + 8 * D : q0 + 8 * ld;
        float s0 = 0.0f, s1 = 0.0f;
        if (qi8) {
            /* a row's D values are spread over the 4 lanes of a quad */
            float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
            for (int s = 0; s < KS; s++) {
                int i = 16 * s + 2 * c;
                if (ok0)
                    a0 = fmaxf(a0, fmaxf(fmaxf(fabsf(q0[i]), fabsf(q0[i + 1])),
                                         fmaxf(fabsf(q0[i + 8]), fabsf(q0[i + 9]))));
                if (ok1)
                    a1 = fmaxf(a1, fmaxf(fmaxf(fabsf(q1[i]), fabsf(q1[i + 1])),
                                         fmaxf(fabsf(q1[i + 8]), fabsf(q1[i + 9]))));
            }
            a0 = fmaxf(a0, __shfl_xor_sync(0xffffffffu, a0, 1));
            a0 = fmaxf(a0, __shfl_xor_sync(0xffffffffu, a0, 2));
            a1 = fmaxf(a1, __shfl_xor_sync(0xffffffffu, a1, 1));
            a1 = fmaxf(a1, __shfl_xor_sync(0xffffffffu, a1, 2));
            s0 = __fdiv_rn(a0, 127.0f);
            s1 = __fdiv_rn(a1, 127.0f);
            qf0 = s0 * qs;
            qf1 = s1 * qs;
        }
#pragma unroll
        for (int s = 0; s < KS; s++) {
            int i = 16 * s + 2 * c;
            if (qi8) {
                qa[s][0] = ok0 ? att_h2(att_q8f(q0[i], s0), att_q8f(q0[i + 1], s0)) : 0u;
                qa[s][1] = ok1 ? att_h2(att_q8f(q1[i], s1), att_q8f(q1[i + 1], s1)) : 0u;
                qa[s][2] = ok0 ? att_h2(att_q8f(q0[i + 8], s0), att_q8f(q0[i + 9], s0)) : 0u;
                qa[s][3] = ok1 ? att_h2(att_q8f(q1[i + 8], s1), att_q8f(q1[i + 9], s1)) : 0u;
            } else {
                qa[s][0] = ok0 ? att_h2(q0[i] * qs, q0[i + 1] * qs) : 0u;
                qa[s][1] = ok1 ? att_h2(q1[i] * qs, q1[i + 1] * qs) : 0u;
                qa[s][2] = ok0 ? att_h2(q0[i + 8] * qs, q0[i + 9] * qs) : 0u;
                qa[s][3] = ok1 ? att_h2(q1[i + 8] * qs, q1[i + 9] * qs) : 0u;
            }
        }
    }

    float acc[ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++)
        acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    /* int8: the probabilities times V's row scales go through half, so they
     * are divided by the largest scale of the slice (VREF, the unit ACC is
     * kept in) to stay in [0, 1] */
    float vref = 1.0f;
    const size_t r0 = ((size_t)layer * (size_t)nkv + (size_t)kvh) * (size_t)kv.n_ctx;

    for (int base = start; base < end; base += ATT_TILE) {
        att_load_tile<T, D>(kv, r0, base, end, sk, sv, sks, svs);
        __syncthreads();
        const int j0 = DEC ? 16 * w : 0;
        if (active && base + j0 < end && base + j0 <= wlast) {
            float sc[NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
#pragma unroll
                for (int s = 0; s < KS; s += 2) {
                    uint32_t b[4];
                    att_ldsm4(b, sk + (j0 + 8 * nt + (lane & 7)) * LDS + 16 * s + 8 * (lane >> 3));
                    att_mma(sc[nt], qa[s], b[0], b[1]);
                    att_mma(sc[nt], qa[s + 1], b[2], b[3]);
                }
            }
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                int jj = j0 + 8 * nt + 2 * c, p = base + jj;
                float k0 = Q8 ? sks[jj] : 1.0f, k1 = Q8 ? sks[jj + 1] : 1.0f;
                if (qi8) {
                    sc[nt][0] *= qf0;
                    sc[nt][1] *= qf0;
                    sc[nt][2] *= qf1;
                    sc[nt][3] *= qf1;
                }
                sc[nt][0] = p <= lim0 ? sc[nt][0] * k0 : -INFINITY;
                sc[nt][1] = p + 1 <= lim0 ? sc[nt][1] * k1 : -INFINITY;
                sc[nt][2] = p <= lim1 ? sc[nt][2] * k0 : -INFINITY;
                sc[nt][3] = p + 1 <= lim1 ? sc[nt][3] * k1 : -INFINITY;
                mx0 = fmaxf(mx0, fmaxf(sc[nt][0], sc[nt][1]));
                mx1 = fmaxf(mx1, fmaxf(sc[nt][2], sc[nt][3]));
            }
            /* a row's 16 x NT scores are spread over the 4 lanes of a quad */
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
            /* a row that has seen nothing yet keeps weight 0 instead of NaN */
            const float mu0 = mn0 == -INFINITY ? 0.0f : mn0, mu1 = mn1 == -INFINITY ? 0.0f : mn1;
            const float al0 = exp2f(m0 - mu0), al1 = exp2f(m1 - mu1);
            m0 = mn0;
            m1 = mn1;
            float ratio = 1.0f, vinv = 1.0f;
            if (Q8) {
                float vm = 0.0f;
                for (int i = lane; i < NS * 16; i += 32)
                    vm = fmaxf(vm, svs[j0 + i]);
                vm = cu_warp_max(vm);
                const float vn = vm > 0.0f ? vm : vref;
                ratio = vref / vn;
                vinv = 1.0f / vn;
                vref = vn;
            }
            float ps0 = 0.0f, ps1 = 0.0f;
            uint32_t pa[NT][2];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                int jj = j0 + 8 * nt + 2 * c;
                float e0 = exp2f(sc[nt][0] - mu0), e1 = exp2f(sc[nt][1] - mu0);
                float e2 = exp2f(sc[nt][2] - mu1), e3 = exp2f(sc[nt][3] - mu1);
                ps0 += e0 + e1;
                ps1 += e2 + e3;
                float v0 = Q8 ? svs[jj] * vinv : 1.0f, v1 = Q8 ? svs[jj + 1] * vinv : 1.0f;
                pa[nt][0] = att_h2(e0 * v0, e1 * v1);
                pa[nt][1] = att_h2(e2 * v0, e3 * v1);
            }
            l0 = l0 * al0 + ps0; /* per-lane partial sums: the quad adds them at the end */
            l1 = l1 * al1 + ps1;
            const float f0 = al0 * ratio, f1 = al1 * ratio;
#pragma unroll
            for (int n = 0; n < ND; n++) {
                acc[n][0] *= f0;
                acc[n][1] *= f0;
                acc[n][2] *= f1;
                acc[n][3] *= f1;
            }
#pragma unroll
            for (int kk = 0; kk < NS; kk++) {
                const uint32_t a[4] = {pa[2 * kk][0], pa[2 * kk][1], pa[2 * kk + 1][0], pa[2 * kk + 1][1]};
#pragma unroll
                for (int n = 0; n < ND; n += 2) {
                    uint32_t b[4];
                    att_ldsm4t(b, sv + (j0 + 16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1)) * LDS +
                                      8 * (n + (lane >> 4)));
                    att_mma(acc[n], a, b[0], b[1]);
                    att_mma(acc[n + 1], a, b[2], b[3]);
                }
            }
        }
        __syncthreads();
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    if (!DEC) {
        if (!active)
            return;
        float *o0 = out + (size_t)row0 * (size_t)n_head * D + (size_t)blockIdx.y * D + 2 * c;
        float *o1 = o0 + (size_t)8 * (size_t)n_head * D;
        const float i0 = vref / l0, i1 = vref / l1;
#pragma unroll
        for (int n = 0; n < ND; n++) {
            if (ok0)
                *reinterpret_cast<float2 *>(o0 + 8 * n) = make_float2(acc[n][0] * i0, acc[n][1] * i0);
            if (ok1)
                *reinterpret_cast<float2 *>(o1 + 8 * n) = make_float2(acc[n][2] * i1, acc[n][3] * i1);
        }
        return;
    }
    /* decode: merge the 4 warps' states (the tiles' memory is free now) */
    float *s_acc = reinterpret_cast<float *>(att_smem), *s_m = s_acc + ATT_WARPS * 16 * D,
          *s_l = s_m + ATT_WARPS * 16;
    {
        float *a0 = s_acc + (w * 16 + gq) * D + 2 * c, *a1 = a0 + 8 * D;
#pragma unroll
        for (int n = 0; n < ND; n++) {
            a0[8 * n] = acc[n][0] * vref;
            a0[8 * n + 1] = acc[n][1] * vref;
            a1[8 * n] = acc[n][2] * vref;
            a1[8 * n + 1] = acc[n][3] * vref;
        }
        if (c == 0) {
            s_m[w * 16 + gq] = m0;
            s_l[w * 16 + gq] = l0;
            s_m[w * 16 + gq + 8] = m1;
            s_l[w * 16 + gq + 8] = l1;
        }
    }
    __syncthreads();
    const int nrows = min(16, G - g0);
    for (int idx = threadIdx.x; idx < nrows * D; idx += ATT_THREADS) {
        const int r = idx / D, i = idx % D;
        float M = -INFINITY;
#pragma unroll
        for (int k = 0; k < ATT_WARPS; k++)
            M = fmaxf(M, s_m[k * 16 + r]);
        float o = 0.0f, L = 0.0f;
#pragma unroll
        for (int k = 0; k < ATT_WARPS; k++) {
            float f = exp2f(s_m[k * 16 + r] - M); /* a warp that saw nothing: exp2(-inf) = 0 */
            o += f * s_acc[(k * 16 + r) * D + i];
            L += f * s_l[k * 16 + r];
        }
        const size_t pi = ((size_t)dt * n_head + (size_t)(kvh * G + g0 + r)) * n_split + ds;
        part_o[pi * D + (size_t)i] = o;
        if (i == 0) {
            part_ml[2 * pi] = M;
            part_ml[2 * pi + 1] = L;
        }
    }
}

/* ---- f32 attention for any head size ---------------------------------------- */

/* Grid (splits or 1, KV heads x groups of SIMT_HB query heads, tokens).
 * With PART_O (decode) a block covers its chunk of positions of token
 * blockIdx.z and writes partial results; without, token blockIdx.z's whole
 * causal range and OUT.
 * Each warp takes every 4th position; the lanes split the dims (lane,
 * lane + 32, ...) and hold the block's query heads in registers. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
    attn_simt(cu_kv_t kv, int layer, const float *q, size_t ld, int n_head, float qs, int pos0,
              const int *d_pos0, float *out, float *part_o, float *part_ml, bool q_i8)
{
    __shared__ float s_acc[ATT_WARPS][SIMT_HB][SIMT_DMAX];
    __shared__ float s_m[ATT_WARPS][SIMT_HB], s_l[ATT_WARPS][SIMT_HB];
    cu_pdl_trigger();
    cu_pdl_wait();
    const int d = kv.head_dim, nkv = kv.n_head_kv, G = n_head / nkv, nhs = (G + SIMT_HB - 1) / SIMT_HB;
    const int t = blockIdx.z, kvh = blockIdx.y / nhs, g0 = (blockIdx.y % nhs) * SIMT_HB;
    const int hb = min(SIMT_HB, G - g0), w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int start = 0, end = min(pos0 + t + 1, kv.n_ctx);
    if (part_o) {
        const int n_pos = att_n_pos(d_pos0, t, kv.n_ctx);
        int chunk, n_act;
        att_chunk(n_pos, gridDim.x, &chunk, &n_act);
        start = blockIdx.x * chunk;
        if (start >= n_pos)
            return;
        end = min(n_pos, start + chunk);
    }
    const float *qrow = q + (size_t)t * ld + (size_t)(kvh * G + g0) * (size_t)d;
    /* with Q_I8 (int8 caches) each head's int8 values, whose products with
     * the keys' sum exactly (below 2^24) to the CPU's integer dot product,
     * and QF its scale times QS for the score */
    const bool qi8 = att_fmt<T>::q8 && q_i8;
    float qr[SIMT_HB][SIMT_EPL], acc[SIMT_HB][SIMT_EPL], m[SIMT_HB], l[SIMT_HB], qf[SIMT_HB];
#pragma unroll
    for (int g = 0; g < SIMT_HB; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
        float amax = 0.0f;
#pragma unroll
        for (int e = 0; e < SIMT_EPL; e++) {
            int i = lane + 32 * e;
            qr[g][e] = g < hb && i < d ? qrow[(size_t)g * d + i] : 0.0f;
            amax = fmaxf(amax, fabsf(qr[g][e]));
            acc[g][e] = 0.0f;
        }
        qf[g] = 1.0f;
        if (qi8) {
            const float sq = __fdiv_rn(cu_warp_max(amax), 127.0f);
#pragma unroll
            for (int e = 0; e < SIMT_EPL; e++)
                qr[g][e] = att_q8f(qr[g][e], sq);
            qf[g] = sq * qs;
        } else {
#pragma unroll
            for (int e = 0; e < SIMT_EPL; e++)
                qr[g][e] *= qs;
        }
    }
    const size_t r0 = ((size_t)layer * (size_t)nkv + (size_t)kvh) * (size_t)kv.n_ctx;
    const T *kb = (const T *)kv.k + r0 * (size_t)d, *vb = (const T *)kv.v + r0 * (size_t)d;
    for (int p = start + w; p < end; p += ATT_WARPS) {
        const T *kr = kb + (size_t)p * d, *vr = vb + (size_t)p * d;
        float kf[SIMT_EPL], vf[SIMT_EPL];
#pragma unroll
        for (int e = 0; e < SIMT_EPL; e++) {
            int i = lane + 32 * e;
            kf[e] = i < d ? att_to_f(kr[i]) : 0.0f;
            vf[e] = i < d ? att_to_f(vr[i]) : 0.0f;
        }
        const float ksc = att_fmt<T>::q8 ? kv.ks[r0 + (size_t)p] : 1.0f;
        const float vsc = att_fmt<T>::q8 ? kv.vs[r0 + (size_t)p] : 1.0f;
#pragma unroll
        for (int g = 0; g < SIMT_HB; g++) {
            if (g >= hb)
                break;
            float s = 0.0f;
#pragma unroll
            for (int e = 0; e < SIMT_EPL; e++)
                s = fmaf(qr[g][e], kf[e], s);
            s = qi8 ? cu_warp_sum(s) * qf[g] * ksc : cu_warp_sum(s) * ksc;
            const float mn = fmaxf(m[g], s), al = exp2f(m[g] - mn), pp = exp2f(s - mn), pv = pp * vsc;
            l[g] = l[g] * al + pp;
            m[g] = mn;
#pragma unroll
            for (int e = 0; e < SIMT_EPL; e++)
                acc[g][e] = fmaf(acc[g][e], al, pv * vf[e]);
        }
    }
#pragma unroll
    for (int g = 0; g < SIMT_HB; g++) {
        if (lane == 0) {
            s_m[w][g] = m[g];
            s_l[w][g] = l[g];
        }
#pragma unroll
        for (int e = 0; e < SIMT_EPL; e++)
            if (lane + 32 * e < d)
                s_acc[w][g][lane + 32 * e] = acc[g][e];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < hb * d; idx += ATT_THREADS) {
        const int g = idx / d, i = idx % d;
        float M = -INFINITY;
#pragma unroll
        for (int k = 0; k < ATT_WARPS; k++)
            M = fmaxf(M, s_m[k][g]);
        float o = 0.0f, L = 0.0f;
#pragma unroll
        for (int k = 0; k < ATT_WARPS; k++) {
            float f = exp2f(s_m[k][g] - M); /* a warp without positions adds 0 */
            o += f * s_acc[k][g][i];
            L += f * s_l[k][g];
        }
        const int qh = kvh * G + g0 + g;
        if (part_o) {
            const size_t pi = ((size_t)t * n_head + (size_t)qh) * gridDim.x + blockIdx.x;
            part_o[pi * (size_t)d + (size_t)i] = o;
            if (i == 0) {
                part_ml[2 * pi] = M;
                part_ml[2 * pi + 1] = L;
            }
        } else {
            out[((size_t)t * (size_t)n_head + (size_t)qh) * (size_t)d + (size_t)i] = o / L;
        }
    }
}

/* ---- decode: merge the splits ---------------------------------------------- */

/* One block per query head (x) and token (y): the splits that ran (the
 * same att_chunk as the attention kernels) weighted by exp2(m - max m).
 * With PMAX (one token), the head's largest |output| goes to PMAX[head]
 * (for the next product's int8 quantization, cu_gemv_xf). */
__global__ void __launch_bounds__(ATT_THREADS)
    attn_combine(const float *part_o, const float *part_ml, int n_split, int d, int n_ctx, const int *d_pos0,
                 float *out, float *pmax)
{
    __shared__ float s_w[ATT_SPLIT_MAX];
    __shared__ float s_inv;
    __shared__ float red[32];
    cu_pdl_trigger();
    cu_pdl_wait();
    const int h = blockIdx.x, t = blockIdx.y, n_pos = att_n_pos(d_pos0, t, n_ctx);
    const size_t th = (size_t)t * gridDim.x + (size_t)h; /* (token, head) */
    int chunk, n_act;
    att_chunk(n_pos, n_split, &chunk, &n_act);
    const float *ml = part_ml + th * (size_t)n_split * 2;
    if (threadIdx.x < 32) {
        float M = -INFINITY;
        for (int s = threadIdx.x; s < n_act; s += 32)
            M = fmaxf(M, ml[2 * s]);
        M = cu_warp_max(M);
        float L = 0.0f;
        for (int s = threadIdx.x; s < n_act; s += 32) {
            float f = exp2f(ml[2 * s] - M);
            s_w[s] = f;
            L += f * ml[2 * s + 1];
        }
        L = cu_warp_sum(L);
        if (threadIdx.x == 0)
            s_inv = 1.0f / L;
    }
    __syncthreads();
    const float *po = part_o + th * (size_t)n_split * (size_t)d;
    float amax = 0.0f;
    for (int i = threadIdx.x; i < d; i += ATT_THREADS) {
        float o = 0.0f;
        for (int s = 0; s < n_act; s++)
            o = fmaf(s_w[s], po[(size_t)s * (size_t)d + (size_t)i], o);
        o *= s_inv;
        out[th * (size_t)d + (size_t)i] = o;
        amax = fmaxf(amax, fabsf(o));
    }
    if (pmax) {
        amax = cu_block_reduce(amax, red, true);
        if (threadIdx.x == 0)
            pmax[h] = amax;
    }
}

/* ---- entry points ---------------------------------------------------------- */

size_t cu_attn_work_bytes(int max_dec, int n_ctx, int n_head, int n_head_kv, int head_dim)
{
    /* only decode-style passes keep partial results (o, m, l per token,
     * split and query head); prefill writes OUT directly, so the grouping
     * does not change the size */
    (void)n_head_kv;
    size_t nt = (size_t)(max_dec < 1 ? 1 : max_dec < CU_FEW_MAX ? max_dec : CU_FEW_MAX);
    return nt * (size_t)n_head * (size_t)att_n_split(n_ctx, 0) * ((size_t)head_dim + 2) * sizeof(float);
}

/* Splits that make the decode grid one full wave: the blocks the GPU holds
 * at once (occupancy of KERNEL) over the blocks per split. Asked once per
 * kernel and grouping (a graph replay does not ask). */
template <typename K> static int att_wave_cap(K kernel, int smem, int groups)
{
    static int sms, per_sm[2][65];
    static const void *seen[2][65];
    int slot = groups > 64 ? 64 : groups, which = smem > 0;
    if (!sms && cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    if (seen[which][slot] != (const void *)kernel) {
        int nb = 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&nb, kernel, ATT_THREADS, smem) != cudaSuccess) {
            cudaGetLastError();
            return 0;
        }
        per_sm[which][slot] = nb;
        seen[which][slot] = (const void *)kernel;
    }
    int cap = sms * per_sm[which][slot] / (groups > 0 ? groups : 1);
    return cap > 0 ? cap : 1;
}

template <typename T, int D>
static void att_launch_mma(const cu_launch_t &lc, const cu_kv_t *kv, int layer, const float *q, size_t ld,
                           int n_tok, int n_head, float qs, int pos0, const int *d_pos0, float *out, float *po,
                           float *pml, int ns, bool dec, bool q_i8)
{
    const int G = n_head / kv->n_head_kv, smem = att_mma_smem<D>();
    if (dec) {
        dim3 grid(ns * n_tok, kv->n_head_kv * ((G + 15) / 16));
        cu_go(lc, attn_mma<T, D, true>, grid, ATT_THREADS, smem, *kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0,
              out, po, pml, q_i8);
    } else {
        dim3 grid((n_tok + ATT_TILE - 1) / ATT_TILE, n_head);
        attn_mma<T, D, false><<<grid, ATT_THREADS, smem, lc.st>>>(*kv, layer, q, ld, n_tok, n_head, qs, pos0,
                                                                   d_pos0, out, po, pml, q_i8);
    }
}

/* The decode split count for this launch (see cu_att_opt_t). */
template <typename T>
static int att_splits(const cu_kv_t *kv, int n_head, bool mma, int cap)
{
    const int d = kv->head_dim, G = n_head / kv->n_head_kv;
    if (cap < 0) {
        if (mma)
            cap = d == 64 ? att_wave_cap(attn_mma<T, 64, true>, att_mma_smem<64>(), kv->n_head_kv * ((G + 15) / 16))
                          : att_wave_cap(attn_mma<T, 128, true>, att_mma_smem<128>(),
                                         kv->n_head_kv * ((G + 15) / 16));
        else
            cap = att_wave_cap(attn_simt<T>, 0, kv->n_head_kv * ((G + SIMT_HB - 1) / SIMT_HB));
    }
    return att_n_split(kv->n_ctx, cap);
}

template <typename T>
static void att_launch(const cu_launch_t &lc, const cu_kv_t *kv, int layer, const float *q, size_t ld, int n_tok,
                       int n_head, float qs, int pos0, const int *d_pos0, float *out, void *work,
                       const cu_att_opt_t *opt)
{
    const int d = kv->head_dim, G = n_head / kv->n_head_kv;
    /* f32 caches decode in f32: half would cost them the accuracy they were
     * chosen for; with opt->f32_exact their prefill does too */
    const bool tc = d == 64 || d == 128, dec = n_tok == 1 || n_tok <= opt->few_max;
    const bool mma = tc && (kv->fmt != BE_KV_F32 || (!dec && !opt->f32_exact));
    const int ns = dec ? att_splits<T>(kv, n_head, mma, opt->split_cap) : 1;
    float *po = (float *)work, *pml = po + (size_t)n_tok * (size_t)n_head * (size_t)ns * (size_t)d;
    const cu_launch_t plain = {lc.st, false};
    if (mma) {
        if (d == 64)
            att_launch_mma<T, 64>(lc, kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0, out, po, pml, ns, dec,
                                  opt->q_i8);
        else
            att_launch_mma<T, 128>(lc, kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0, out, po, pml, ns, dec,
                                   opt->q_i8);
    } else if (dec) {
        dim3 grid(ns, kv->n_head_kv * ((G + SIMT_HB - 1) / SIMT_HB), n_tok);
        cu_go(lc, attn_simt<T>, grid, ATT_THREADS, 0, *kv, layer, q, ld, n_head, qs, pos0, d_pos0, out, po, pml,
              opt->q_i8);
    } else {
        dim3 grid(1, kv->n_head_kv * ((G + SIMT_HB - 1) / SIMT_HB), n_tok);
        cu_go(plain, attn_simt<T>, grid, ATT_THREADS, 0, *kv, layer, q, ld, n_head, qs, pos0, d_pos0, out,
              (float *)nullptr, (float *)nullptr, opt->q_i8);
    }
    if (dec)
        cu_go(lc, attn_combine, dim3(n_head, n_tok), ATT_THREADS, 0, (const float *)po, (const float *)pml, ns, d,
              kv->n_ctx, d_pos0, out, n_tok == 1 ? opt->pmax : (float *)nullptr);
}

void cu_attention(const cu_launch_t &lc, const cu_kv_t *kv, int layer, const float *q, size_t ld, int n_tok,
                  int n_head, float scale, int pos0, const int *d_pos0, float *out, void *work,
                  const cu_att_opt_t *opt)
{
    if (n_tok <= 0)
        return;
    const float qs = scale * ATT_LOG2E;
    switch (kv->fmt) {
    case BE_KV_F32:
        att_launch<float>(lc, kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0, out, work, opt);
        break;
    case BE_KV_F16:
        att_launch<__half>(lc, kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0, out, work, opt);
        break;
    case BE_KV_INT8:
        att_launch<int8_t>(lc, kv, layer, q, ld, n_tok, n_head, qs, pos0, d_pos0, out, work, opt);
        break;
    }
}
