/* backend_cpu.c - the CPU implementation of the engine's backend interface
 * (engine/backend.h). Matrix products come from the kernels of
 * cpu_kernels.h; this file adds the rest of a transformer layer: RMSNorm,
 * RoPE, the KV cache in f32/f16/int8 and attention reading it directly,
 * SwiGLU. Hot loops (attention, exp) have AVX-512 and AVX2 versions chosen
 * once from cpu_isa_detect(), with a portable C path.
 *
 * Determinism: every output element is computed by one thread with code that
 * does not depend on how work is split, so results do not change with the
 * thread count (sampling with a fixed seed relies on this). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "backend.h"
#include "cpu_kernels.h"

#define ALIGN 64

struct be_buf {
    float *data;
    size_t n;
    size_t map_bytes; /* a mapping of its own (BUF_MAP_MIN and up), else 0 */
};

struct be_mat {
    cpu_mat_t *m;
    struct be_mat *prev, *next; /* every live matrix, to size the matmul scratch */
};

struct be_kv {
    be_kv_desc_t d;
    size_t esize;     /* bytes per element: 4, 2 or 1 */
    bool tiled;       /* int8 keys stored as att_qblock8_fn's key tiles */
    bool k_offset;    /* ... with their bytes offset by 128 (VNNI) */
    int ctx_stride;   /* positions per head: n_ctx, rounded up to ATT_P if tiled */
    uint8_t *k, *v;   /* [layer][head][pos][dim]; tiled keys: [layer][head][pos / ATT_P][dim / 4][pos % ATT_P][4] */
    float *ks, *vs;   /* int8 only: [layer][head][pos] */
    uint64_t bytes;
};

/* Attention works on blocks of ATT_P cached positions: their K rows are
 * converted once into a transposed f32 tile and their V rows into an f32
 * tile, both used by every query of a work item (ATT_TQ tokens times the
 * query heads of one KV group). LOAD turns one cached row (f32, f16 or
 * int8) into floats times SCALE; KTILE transposes ATT_P such rows into the
 * key tile; QBLOCK advances one query's online softmax over one block. */
#define ATT_P 16
#define ATT_TQ 8

typedef void (*row_load_fn)(const void *src, float scale, float *dst, int d);
/* KT[i * ATT_P + j] = ROWS[j * D + i] for the ATT_P rows of D floats. */
typedef void (*att_ktile_fn)(const float *rows, int d, float *kt);
/* NT x NH queries that all see NV (1..ATT_P) positions of the block: query
 * qi = tt * NH + h (token tt, head h, D floats) at Q + tt * LDQ + h * D.
 * KT: D x ATT_P scaled keys (kt[i*ATT_P + j]); VB: ATT_P x D values. Each
 * query's running max and sum ML[2 qi], ML[2 qi + 1] and unnormalized
 * output ACC + qi * D are updated with exactly the operations that query
 * alone would get, whatever NT and NH: a verification pass of several
 * tokens rounds as a decode step does. */
typedef void (*att_qblock_fn)(const float *q, size_t ldq, int nt, int nh, const float *kt, const float *vb,
                              int nv, int d, float *ml, float *acc);
/* The int8 cache's own path (AVX2, AVX-512 VNNI): queries quantized to int8
 * like the keys, so that a score is one integer dot product (exact, whatever
 * the order, so the same on both) times the two scales, and the keys, stored
 * as tiles of ATT_P positions, are read as they are. KT8: dword i of the key
 * at position j of the block at KT8[i * ATT_P + j]; for VNNI its bytes are
 * offset by 128 (unsigned, as vpdpbusd wants). QBLOCK8 is QBLOCK for NQ such
 * queries: query qi's bytes at Q8 + qi * D, QF[qi] its scale times the
 * attention scale, QC[qi] 128 times the sum of its bytes (the offset's share
 * of each dot product); KS the ATT_P key row scales, 0 past NV. */
typedef void (*att_qblock8_fn)(const int8_t *q8, const float *qf, const int32_t *qc, int nq, const uint32_t *kt8,
                               const float *ks, const float *vb, int nv, int d, float *ml, float *acc);
typedef struct att_fns {
    row_load_fn load[3]; /* by be_kvfmt_t */
    att_ktile_fn ktile;
    att_qblock_fn qblock;
    att_qblock8_fn qblock8; /* NULL: the int8 cache takes the float path */
} att_fns_t;

typedef struct cpu_be {
    be_t base;
    cpu_pool_t *pool;
    int n_threads;
    cpu_isa_t isa;
    struct be_mat *mats; /* list head */
    void *mm_scratch;
    size_t mm_scratch_bytes;
    float *att_scratch; /* per thread: n_ctx scores + head_dim accumulator */
    size_t att_stride;
    size_t att_bytes;
    att_fns_t att;
    void (*silu_mul)(const float *g, const float *u, float *out, int n);
    /* the current forward pass */
    const int32_t *ids;
    int n_tok;
    int pos0;
} cpu_be_t;

static cpu_be_t *cb(be_t *be)
{
    return (cpu_be_t *)be;
}

static void *alloc_aligned(size_t bytes)
{
    size_t n = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return aligned_alloc(ALIGN, n ? n : ALIGN);
}

/* ---- vector math ----------------------------------------------------------
 * exp(x) for x <= 0 mostly (softmax, silu): range reduction x = n ln2 + r,
 * |r| <= ln2/2, degree-6 polynomial (Cephes coefficients), times 2^n.
 * Relative error about 2 ulp, far inside the engine's 1e-4 bound. */

#define EXP_LO -87.3f
#define EXP_HI 88.3f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

static float exp_scalar(float x)
{
    if (x < EXP_LO)
        x = EXP_LO;
    if (x > EXP_HI)
        x = EXP_HI;
    float n = nearbyintf(x * EXP_LOG2E);
    float r = fmaf(-n, EXP_LN2_HI, x);
    r = fmaf(-n, EXP_LN2_LO, r);
    float p = EXP_P0;
    p = fmaf(p, r, EXP_P1);
    p = fmaf(p, r, EXP_P2);
    p = fmaf(p, r, EXP_P3);
    p = fmaf(p, r, EXP_P4);
    p = fmaf(p, r, EXP_P5);
    p = fmaf(p, r * r, r) + 1.0f;
    return ldexpf(p, (int)n);
}

static void silu_mul_c(const float *g, const float *u, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = g[i] / (1.0f + exp_scalar(-g[i])) * u[i];
}

/* One query of att_qblock_fn; M and L are its running max and sum. */
static void q1_c(const float *q, const float *kt, const float *vb, int nv, int d, float *m, float *l,
                 float *acc)
{
    float sc[ATT_P] = {0}, bm = -INFINITY;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < nv; j++)
            sc[j] += q[i] * kt[i * ATT_P + j];
    for (int j = 0; j < nv; j++)
        bm = sc[j] > bm ? sc[j] : bm;
    float mn = *m > bm ? *m : bm;
    float c = *m == -INFINITY ? 0.0f : *m == mn ? 1.0f : exp_scalar(*m - mn), sum = 0;
    for (int j = 0; j < nv; j++)
        sum += (sc[j] = exp_scalar(sc[j] - mn));
    *l = *l * c + sum;
    for (int i = 0; i < d; i++) {
        float a = acc[i] * c;
        for (int j = 0; j < nv; j++)
            a += sc[j] * vb[j * d + i];
        acc[i] = a;
    }
    *m = mn;
}

static void load_f32_c(const void *src, float scale, float *dst, int d)
{
    const float *f = src;
    for (int i = 0; i < d; i++)
        dst[i] = f[i] * scale;
}

static void load_f16_c(const void *src, float scale, float *dst, int d)
{
    const uint16_t *h = src;
    for (int i = 0; i < d; i++)
        dst[i] = cpu_f16_to_f32(h[i]) * scale;
}

static void load_i8_c(const void *src, float scale, float *dst, int d)
{
    const int8_t *q = src;
    for (int i = 0; i < d; i++)
        dst[i] = (float)q[i] * scale;
}

static void ktile_c(const float *rows, int d, float *kt)
{
    for (int j = 0; j < ATT_P; j++)
        for (int i = 0; i < d; i++)
            kt[i * ATT_P + j] = rows[(size_t)j * (size_t)d + (size_t)i];
}

static void qblock_c(const float *q, size_t ldq, int nt, int nh, const float *kt, const float *vb, int nv, int d,
                     float *ml, float *acc)
{
    for (int qi = 0; qi < nt * nh; qi++)
        q1_c(q + (size_t)(qi / nh) * ldq + (size_t)(qi % nh) * (size_t)d, kt, vb, nv, d, &ml[2 * qi],
             &ml[2 * qi + 1], acc + (size_t)qi * (size_t)d);
}

#if defined(__x86_64__)

#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

T_AVX2 static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P5));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    /* 2^n with n in [-126, 127] after the clamp: build the exponent bits. */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

T_AVX2 static void silu_mul_avx2(const float *g, const float *u, float *out, int n)
{
    int i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv));
        __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++)
        out[i] = g[i] / (1.0f + exp_scalar(-g[i])) * u[i];
}

T_AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The AVX2/AVX-512 attention loops need D % 8 (% 16): checked when chosen. */
T_AVX2 static inline float hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The online softmax and value sum of N (1..2) queries whose scores over the
 * block are SCORES (positions 0-7, 8-15), each with the operations it would
 * get alone. */
T_AVX2 static inline __attribute__((always_inline)) void
softmax_pv_avx2(const __m256 scores[2][2], const float *vb, int nv, int d, float *const mlp[2],
                float *const accp[2], const int n)
{
    /* lanes at or past NV do not exist: -inf for the max, 0 after exp */
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 m0 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nv), lane));
    __m256 m1 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nv - 8), lane));
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    float p[2][ATT_P], c[2];
#pragma GCC unroll 2
    for (int k = 0; k < n; k++) {
        __m256 s0 = _mm256_blendv_ps(ninf, scores[k][0], m0);
        __m256 s1 = _mm256_blendv_ps(ninf, scores[k][1], m1);
        float *m = mlp[k], *l = mlp[k] + 1;
        float bm = hmax8(_mm256_max_ps(s0, s1));
        float mn = *m > bm ? *m : bm;
        c[k] = *m == -INFINITY ? 0.0f : *m == mn ? 1.0f : exp_scalar(*m - mn);
        __m256 mv = _mm256_set1_ps(mn);
        __m256 p0 = _mm256_and_ps(exp8(_mm256_sub_ps(s0, mv)), m0);
        __m256 p1 = _mm256_and_ps(exp8(_mm256_sub_ps(s1, mv)), m1);
        *l = *l * c[k] + hsum8(_mm256_add_ps(p0, p1));
        *m = mn;
        _mm256_storeu_ps(p[k], p0);
        _mm256_storeu_ps(p[k] + 8, p1);
    }
    int i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 a[2][4];
#pragma GCC unroll 2
        for (int k = 0; k < n; k++) {
            __m256 cv = _mm256_set1_ps(c[k]);
#pragma GCC unroll 4
            for (int x = 0; x < 4; x++)
                a[k][x] = _mm256_mul_ps(_mm256_loadu_ps(accp[k] + i + 8 * x), cv);
        }
        for (int j = 0; j < nv; j++) {
            const float *v = vb + j * d + i;
            __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
            __m256 v2 = _mm256_loadu_ps(v + 16), v3 = _mm256_loadu_ps(v + 24);
#pragma GCC unroll 2
            for (int k = 0; k < n; k++) {
                __m256 pj = _mm256_set1_ps(p[k][j]);
                a[k][0] = _mm256_fmadd_ps(pj, v0, a[k][0]);
                a[k][1] = _mm256_fmadd_ps(pj, v1, a[k][1]);
                a[k][2] = _mm256_fmadd_ps(pj, v2, a[k][2]);
                a[k][3] = _mm256_fmadd_ps(pj, v3, a[k][3]);
            }
        }
#pragma GCC unroll 2
        for (int k = 0; k < n; k++)
#pragma GCC unroll 4
            for (int x = 0; x < 4; x++)
                _mm256_storeu_ps(accp[k] + i + 8 * x, a[k][x]);
    }
    for (; i < d; i += 8)
#pragma GCC unroll 2
        for (int k = 0; k < n; k++) {
            __m256 a = _mm256_mul_ps(_mm256_loadu_ps(accp[k] + i), _mm256_set1_ps(c[k]));
            for (int j = 0; j < nv; j++)
                a = _mm256_fmadd_ps(_mm256_set1_ps(p[k][j]), _mm256_loadu_ps(vb + j * d + i), a);
            _mm256_storeu_ps(accp[k] + i, a);
        }
}

/* D % 8 == 0. N (1..2) queries of att_qblock_fn at once, so that each key
 * and value vector loaded serves both; per query the operations are those of
 * one query alone (two accumulators per half of the 16 positions, over even
 * and odd dimensions, then one per value lane over the positions in order). */
T_AVX2 static inline __attribute__((always_inline)) void
qchunk_avx2(const float *const qp[2], const float *kt, const float *vb, int nv, int d, float *const mlp[2],
            float *const accp[2], const int n)
{
    __m256 s[2][4];
#pragma GCC unroll 2
    for (int k = 0; k < n; k++)
#pragma GCC unroll 4
        for (int x = 0; x < 4; x++)
            s[k][x] = _mm256_setzero_ps();
    for (int i = 0; i < d; i += 2) {
        __m256 k0 = _mm256_loadu_ps(kt + i * ATT_P), k1 = _mm256_loadu_ps(kt + i * ATT_P + 8);
        __m256 k2 = _mm256_loadu_ps(kt + (i + 1) * ATT_P), k3 = _mm256_loadu_ps(kt + (i + 1) * ATT_P + 8);
#pragma GCC unroll 2
        for (int k = 0; k < n; k++) {
            __m256 qi = _mm256_broadcast_ss(qp[k] + i), qj = _mm256_broadcast_ss(qp[k] + i + 1);
            s[k][0] = _mm256_fmadd_ps(qi, k0, s[k][0]);
            s[k][1] = _mm256_fmadd_ps(qi, k1, s[k][1]);
            s[k][2] = _mm256_fmadd_ps(qj, k2, s[k][2]);
            s[k][3] = _mm256_fmadd_ps(qj, k3, s[k][3]);
        }
    }
    __m256 sc[2][2];
#pragma GCC unroll 2
    for (int k = 0; k < n; k++) {
        sc[k][0] = _mm256_add_ps(s[k][0], s[k][2]);
        sc[k][1] = _mm256_add_ps(s[k][1], s[k][3]);
    }
    softmax_pv_avx2(sc, vb, nv, d, mlp, accp, n);
}

/* D % 8 == 0. N (1..2) int8 queries of att_qblock8_fn at once, without
 * VNNI: the keys' magnitudes (unsigned) times the query bytes given the
 * keys' signs (vpmaddubsw: two products of at most 127 x 127 cannot
 * saturate 16 bits), summed to int32 by vpmaddwd. The keys are stored
 * signed here (no offset), so the sums need no correction. */
T_AVX2 static inline __attribute__((always_inline)) void
qchunk8_avx2(const int8_t *const qp[2], const float qf[2], const uint32_t *kt8, const float *ks, const float *vb,
             int nv, int d, float *const mlp[2], float *const accp[2], const int n)
{
    __m256i s[2][2];
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 2
    for (int k = 0; k < n; k++)
        s[k][0] = s[k][1] = _mm256_setzero_si256();
    for (int g = 0; g < d / 4; g++) {
        __m256i k0 = _mm256_loadu_si256((const __m256i *)(const void *)(kt8 + g * ATT_P));
        __m256i k1 = _mm256_loadu_si256((const __m256i *)(const void *)(kt8 + g * ATT_P + 8));
        __m256i a0 = _mm256_abs_epi8(k0), a1 = _mm256_abs_epi8(k1);
#pragma GCC unroll 2
        for (int k = 0; k < n; k++) {
            int32_t q;
            memcpy(&q, qp[k] + 4 * g, 4);
            __m256i qb = _mm256_set1_epi32(q);
            __m256i p0 = _mm256_maddubs_epi16(a0, _mm256_sign_epi8(qb, k0));
            __m256i p1 = _mm256_maddubs_epi16(a1, _mm256_sign_epi8(qb, k1));
            s[k][0] = _mm256_add_epi32(s[k][0], _mm256_madd_epi16(p0, ones));
            s[k][1] = _mm256_add_epi32(s[k][1], _mm256_madd_epi16(p1, ones));
        }
    }
    __m256 ks0 = _mm256_loadu_ps(ks), ks1 = _mm256_loadu_ps(ks + 8), sc[2][2];
#pragma GCC unroll 2
    for (int k = 0; k < n; k++) {
        __m256 f = _mm256_set1_ps(qf[k]);
        sc[k][0] = _mm256_mul_ps(_mm256_cvtepi32_ps(s[k][0]), _mm256_mul_ps(ks0, f));
        sc[k][1] = _mm256_mul_ps(_mm256_cvtepi32_ps(s[k][1]), _mm256_mul_ps(ks1, f));
    }
    softmax_pv_avx2(sc, vb, nv, d, mlp, accp, n);
}

/* D % 8 == 0. 8 x 8 blocks transposed in registers: pairs of rows
 * interleaved, then pairs of pairs, then the 128-bit halves exchanged. */
T_AVX2 static void ktile_avx2(const float *rows, int d, float *kt)
{
    for (int j0 = 0; j0 < ATT_P; j0 += 8)
        for (int c0 = 0; c0 < d; c0 += 8) {
            __m256 r[8], t[8], u[8];
            for (int j = 0; j < 8; j++)
                r[j] = _mm256_loadu_ps(rows + (size_t)(j0 + j) * (size_t)d + (size_t)c0);
            for (int p = 0; p < 8; p += 2) {
                t[p] = _mm256_unpacklo_ps(r[p], r[p + 1]);
                t[p + 1] = _mm256_unpackhi_ps(r[p], r[p + 1]);
            }
            /* u[q + c], 128-bit half h: column 4h + c of rows q .. q + 3 */
            for (int q = 0; q < 8; q += 4) {
                __m256d a = _mm256_castps_pd(t[q]), b = _mm256_castps_pd(t[q + 1]);
                __m256d e = _mm256_castps_pd(t[q + 2]), f = _mm256_castps_pd(t[q + 3]);
                u[q] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, e));
                u[q + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, e));
                u[q + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, f));
                u[q + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, f));
            }
            for (int c = 0; c < 4; c++) {
                _mm256_storeu_ps(kt + (size_t)(c0 + c) * ATT_P + j0, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
                _mm256_storeu_ps(kt + (size_t)(c0 + 4 + c) * ATT_P + j0,
                                 _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
            }
        }
}

T_AVX2 static void qblock_avx2(const float *q, size_t ldq, int nt, int nh, const float *kt, const float *vb,
                               int nv, int d, float *ml, float *acc)
{
    const int nq = nt * nh;
    for (int q0 = 0; q0 < nq; q0 += 2) {
        const int n = nq - q0 < 2 ? nq - q0 : 2;
        const float *qp[2];
        float *mlp[2], *accp[2];
        for (int k = 0; k < 2; k++) {
            int qi = q0 + (k < n ? k : n - 1);
            qp[k] = q + (size_t)(qi / nh) * ldq + (size_t)(qi % nh) * (size_t)d;
            mlp[k] = ml + 2 * qi;
            accp[k] = acc + (size_t)qi * (size_t)d;
        }
        if (n == 2)
            qchunk_avx2(qp, kt, vb, nv, d, mlp, accp, 2);
        else
            qchunk_avx2(qp, kt, vb, nv, d, mlp, accp, 1);
    }
}

T_AVX2 static void qblock8_avx2(const int8_t *q8, const float *qf, const int32_t *qc, int nq, const uint32_t *kt8,
                                const float *ks, const float *vb, int nv, int d, float *ml, float *acc)
{
    (void)qc;
    for (int q0 = 0; q0 < nq; q0 += 2) {
        const int n = nq - q0 < 2 ? nq - q0 : 2;
        const int8_t *qp[2];
        float f[2], *mlp[2], *accp[2];
        for (int k = 0; k < 2; k++) {
            int qi = q0 + (k < n ? k : n - 1);
            qp[k] = q8 + (size_t)qi * (size_t)d;
            f[k] = qf[qi];
            mlp[k] = ml + 2 * qi;
            accp[k] = acc + (size_t)qi * (size_t)d;
        }
        if (n == 1)
            qchunk8_avx2(qp, f, kt8, ks, vb, nv, d, mlp, accp, 1);
        else
            qchunk8_avx2(qp, f, kt8, ks, vb, nv, d, mlp, accp, 2);
    }
}

T_AVX2 static void load_f32_avx2(const void *src, float scale, float *dst, int d)
{
    const float *f = src;
    __m256 sv = _mm256_set1_ps(scale);
    for (int i = 0; i < d; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(f + i), sv));
}

T_AVX2 static void load_f16_avx2(const void *src, float scale, float *dst, int d)
{
    const uint16_t *h = src;
    __m256 sv = _mm256_set1_ps(scale);
    for (int i = 0; i < d; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(x, sv));
    }
}

T_AVX2 static void load_i8_avx2(const void *src, float scale, float *dst, int d)
{
    const int8_t *q = src;
    __m256 sv = _mm256_set1_ps(scale);
    for (int i = 0; i < d; i += 8) {
        __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + i))));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(x, sv));
    }
}

T_AVX512 static inline __m512 exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P5));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

T_AVX512 static void silu_mul_avx512(const float *g, const float *u, float *out, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        __m512 s = _mm512_div_ps(gv, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
    }
}

/* The online softmax and value sum of N (1..4) queries whose scores over the
 * block are SC, each with the operations it would get alone. */
T_AVX512 static inline __attribute__((always_inline)) void
softmax_pv_avx512(const __m512 *scores, const float *vb, int nv, int d, float *const mlp[4], float *const accp[4],
                  const int n)
{
    /* lanes at or past NV do not exist: -inf for the max, 0 after exp */
    __mmask16 km = nv >= ATT_P ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1);
    float p[4][ATT_P], c[4];
#pragma GCC unroll 4
    for (int k = 0; k < n; k++) {
        __m512 sc = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), km, scores[k]);
        float *m = mlp[k], *l = mlp[k] + 1;
        float bm = _mm512_reduce_max_ps(sc);
        float mn = *m > bm ? *m : bm;
        c[k] = *m == -INFINITY ? 0.0f : *m == mn ? 1.0f : exp_scalar(*m - mn);
        __m512 pv = _mm512_maskz_mov_ps(km, exp16(_mm512_sub_ps(sc, _mm512_set1_ps(mn))));
        *l = *l * c[k] + _mm512_reduce_add_ps(pv);
        *m = mn;
        _mm512_storeu_ps(p[k], pv);
    }
    int i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 a[4][4];
#pragma GCC unroll 4
        for (int k = 0; k < n; k++) {
            __m512 cv = _mm512_set1_ps(c[k]);
#pragma GCC unroll 4
            for (int x = 0; x < 4; x++)
                a[k][x] = _mm512_mul_ps(_mm512_loadu_ps(accp[k] + i + 16 * x), cv);
        }
        for (int j = 0; j < nv; j++) {
            const float *v = vb + j * d + i;
            __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
            __m512 v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
#pragma GCC unroll 4
            for (int k = 0; k < n; k++) {
                __m512 pj = _mm512_set1_ps(p[k][j]);
                a[k][0] = _mm512_fmadd_ps(pj, v0, a[k][0]);
                a[k][1] = _mm512_fmadd_ps(pj, v1, a[k][1]);
                a[k][2] = _mm512_fmadd_ps(pj, v2, a[k][2]);
                a[k][3] = _mm512_fmadd_ps(pj, v3, a[k][3]);
            }
        }
#pragma GCC unroll 4
        for (int k = 0; k < n; k++)
#pragma GCC unroll 4
            for (int x = 0; x < 4; x++)
                _mm512_storeu_ps(accp[k] + i + 16 * x, a[k][x]);
    }
    for (; i < d; i += 16)
#pragma GCC unroll 4
        for (int k = 0; k < n; k++) {
            __m512 a = _mm512_mul_ps(_mm512_loadu_ps(accp[k] + i), _mm512_set1_ps(c[k]));
            for (int j = 0; j < nv; j++)
                a = _mm512_fmadd_ps(_mm512_set1_ps(p[k][j]), _mm512_loadu_ps(vb + j * d + i), a);
            _mm512_storeu_ps(accp[k] + i, a);
        }
}

/* D % 16 == 0. N (1..4) queries of att_qblock_fn at once, so that each
 * key and value vector loaded serves all of them; per query the operations
 * are those of one query alone (four accumulators over the dimensions i % 4
 * for the scores, then one per value lane over the positions in order). */
T_AVX512 static inline __attribute__((always_inline)) void
qchunk_avx512(const float *const qp[4], const float *kt, const float *vb, int nv, int d, float *const mlp[4],
              float *const accp[4], const int n)
{
    __m512 s[4][4];
#pragma GCC unroll 4
    for (int k = 0; k < n; k++)
#pragma GCC unroll 4
        for (int x = 0; x < 4; x++)
            s[k][x] = _mm512_setzero_ps();
    for (int i = 0; i < d; i += 4) {
        __m512 k0 = _mm512_loadu_ps(kt + i * ATT_P), k1 = _mm512_loadu_ps(kt + (i + 1) * ATT_P);
        __m512 k2 = _mm512_loadu_ps(kt + (i + 2) * ATT_P), k3 = _mm512_loadu_ps(kt + (i + 3) * ATT_P);
#pragma GCC unroll 4
        for (int k = 0; k < n; k++) {
            s[k][0] = _mm512_fmadd_ps(_mm512_set1_ps(qp[k][i]), k0, s[k][0]);
            s[k][1] = _mm512_fmadd_ps(_mm512_set1_ps(qp[k][i + 1]), k1, s[k][1]);
            s[k][2] = _mm512_fmadd_ps(_mm512_set1_ps(qp[k][i + 2]), k2, s[k][2]);
            s[k][3] = _mm512_fmadd_ps(_mm512_set1_ps(qp[k][i + 3]), k3, s[k][3]);
        }
    }
    __m512 sc[4];
#pragma GCC unroll 4
    for (int k = 0; k < n; k++)
        sc[k] = _mm512_add_ps(_mm512_add_ps(s[k][0], s[k][1]), _mm512_add_ps(s[k][2], s[k][3]));
    softmax_pv_avx512(sc, vb, nv, d, mlp, accp, n);
}

/* D % 16 == 0. 16 x 16 blocks transposed in registers: pairs of rows
 * interleaved, then pairs of pairs, then a 4 x 4 transpose of the 128-bit
 * lanes in two rounds of lane shuffles. */
T_AVX512 static void ktile_avx512(const float *rows, int d, float *kt)
{
    for (int c0 = 0; c0 < d; c0 += 16) {
        __m512 r[16], t[16], u[16];
        for (int j = 0; j < 16; j++)
            r[j] = _mm512_loadu_ps(rows + (size_t)j * (size_t)d + (size_t)c0);
        for (int p = 0; p < 16; p += 2) {
            t[p] = _mm512_unpacklo_ps(r[p], r[p + 1]);
            t[p + 1] = _mm512_unpackhi_ps(r[p], r[p + 1]);
        }
        /* u[q + c], lane l: column 4l + c of rows q .. q + 3 */
        for (int q = 0; q < 16; q += 4) {
            __m512d a = _mm512_castps_pd(t[q]), b = _mm512_castps_pd(t[q + 1]);
            __m512d e = _mm512_castps_pd(t[q + 2]), f = _mm512_castps_pd(t[q + 3]);
            u[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, e));
            u[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, e));
            u[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, f));
            u[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, f));
        }
        /* column 4l + c takes lane l of u[c], u[4 + c], u[8 + c], u[12 + c] */
        for (int c = 0; c < 4; c++) {
            __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);
            __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
            __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
            _mm512_storeu_ps(kt + (size_t)(c0 + c) * ATT_P, _mm512_shuffle_f32x4(v0, v2, 0x88));
            _mm512_storeu_ps(kt + (size_t)(c0 + 4 + c) * ATT_P, _mm512_shuffle_f32x4(v0, v2, 0xdd));
            _mm512_storeu_ps(kt + (size_t)(c0 + 8 + c) * ATT_P, _mm512_shuffle_f32x4(v1, v3, 0x88));
            _mm512_storeu_ps(kt + (size_t)(c0 + 12 + c) * ATT_P, _mm512_shuffle_f32x4(v1, v3, 0xdd));
        }
    }
}

T_AVX512 static void qblock_avx512(const float *q, size_t ldq, int nt, int nh, const float *kt, const float *vb,
                                   int nv, int d, float *ml, float *acc)
{
    const int nq = nt * nh;
    for (int q0 = 0; q0 < nq; q0 += 4) {
        const int n = nq - q0 < 4 ? nq - q0 : 4;
        const float *qp[4];
        float *mlp[4], *accp[4];
        for (int k = 0; k < 4; k++) {
            int qi = q0 + (k < n ? k : n - 1);
            qp[k] = q + (size_t)(qi / nh) * ldq + (size_t)(qi % nh) * (size_t)d;
            mlp[k] = ml + 2 * qi;
            accp[k] = acc + (size_t)qi * (size_t)d;
        }
        switch (n) {
        case 1:
            qchunk_avx512(qp, kt, vb, nv, d, mlp, accp, 1);
            break;
        case 2:
            qchunk_avx512(qp, kt, vb, nv, d, mlp, accp, 2);
            break;
        case 3:
            qchunk_avx512(qp, kt, vb, nv, d, mlp, accp, 3);
            break;
        default:
            qchunk_avx512(qp, kt, vb, nv, d, mlp, accp, 4);
            break;
        }
    }
}

/* N (1..4) int8 queries of att_qblock8_fn at once, each key dword loaded
 * serving all of them; two integer accumulators per query. */
T_VNNI static inline __attribute__((always_inline)) void
qchunk8_avx512(const int8_t *const qp[4], const float qf[4], const int32_t qc[4], const uint32_t *kt8,
               const float *ks, const float *vb, int nv, int d, float *const mlp[4], float *const accp[4],
               const int n)
{
    __m512i s[4][2];
#pragma GCC unroll 4
    for (int k = 0; k < n; k++)
        s[k][0] = s[k][1] = _mm512_setzero_si512();
    for (int g = 0; g < d / 4; g += 2) {
        __m512i k0 = _mm512_loadu_si512(kt8 + g * ATT_P), k1 = _mm512_loadu_si512(kt8 + (g + 1) * ATT_P);
#pragma GCC unroll 4
        for (int k = 0; k < n; k++) {
            int32_t q0, q1;
            memcpy(&q0, qp[k] + 4 * g, 4);
            memcpy(&q1, qp[k] + 4 * g + 4, 4);
            s[k][0] = _mm512_dpbusd_epi32(s[k][0], k0, _mm512_set1_epi32(q0));
            s[k][1] = _mm512_dpbusd_epi32(s[k][1], k1, _mm512_set1_epi32(q1));
        }
    }
    /* sums of at most 512 products of 255 x 127 convert to floats exactly */
    __m512 ksv = _mm512_loadu_ps(ks), sc[4];
#pragma GCC unroll 4
    for (int k = 0; k < n; k++) {
        __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(s[k][0], s[k][1]), _mm512_set1_epi32(qc[k]));
        sc[k] = _mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ksv, _mm512_set1_ps(qf[k])));
    }
    softmax_pv_avx512(sc, vb, nv, d, mlp, accp, n);
}

T_VNNI static void qblock8_avx512(const int8_t *q8, const float *qf, const int32_t *qc, int nq, const uint32_t *kt8,
                                  const float *ks, const float *vb, int nv, int d, float *ml, float *acc)
{
    for (int q0 = 0; q0 < nq; q0 += 4) {
        const int n = nq - q0 < 4 ? nq - q0 : 4;
        const int8_t *qp[4];
        float f[4], *mlp[4], *accp[4];
        int32_t c[4];
        for (int k = 0; k < 4; k++) {
            int qi = q0 + (k < n ? k : n - 1);
            qp[k] = q8 + (size_t)qi * (size_t)d;
            f[k] = qf[qi];
            c[k] = qc[qi];
            mlp[k] = ml + 2 * qi;
            accp[k] = acc + (size_t)qi * (size_t)d;
        }
        switch (n) {
        case 1:
            qchunk8_avx512(qp, f, c, kt8, ks, vb, nv, d, mlp, accp, 1);
            break;
        case 2:
            qchunk8_avx512(qp, f, c, kt8, ks, vb, nv, d, mlp, accp, 2);
            break;
        case 3:
            qchunk8_avx512(qp, f, c, kt8, ks, vb, nv, d, mlp, accp, 3);
            break;
        default:
            qchunk8_avx512(qp, f, c, kt8, ks, vb, nv, d, mlp, accp, 4);
            break;
        }
    }
}

T_AVX512 static void load_f32_avx512(const void *src, float scale, float *dst, int d)
{
    const float *f = src;
    __m512 sv = _mm512_set1_ps(scale);
    for (int i = 0; i < d; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_mul_ps(_mm512_loadu_ps(f + i), sv));
}

T_AVX512 static void load_f16_avx512(const void *src, float scale, float *dst, int d)
{
    const uint16_t *h = src;
    __m512 sv = _mm512_set1_ps(scale);
    for (int i = 0; i < d; i += 16)
        _mm512_storeu_ps(dst + i,
                         _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))), sv));
}

T_AVX512 static void load_i8_avx512(const void *src, float scale, float *dst, int d)
{
    const int8_t *q = src;
    __m512 sv = _mm512_set1_ps(scale);
    for (int i = 0; i < d; i += 16) {
        __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + i))));
        _mm512_storeu_ps(dst + i, _mm512_mul_ps(x, sv));
    }
}

#endif /* __x86_64__ */

enum { I8_NONE, I8_AVX2, I8_VNNI };

/* Which int8 path an int8 cache of heads of D takes, if any: the one of the
 * loops choose_fns picks for D, with dot products small enough to be exact
 * in floats (D * 255 * 127 < 2^24). */
static int i8_path(const cpu_be_t *b, int d)
{
    if (d > 512)
        return I8_NONE;
    if (b->isa >= CPU_ISA_AVX512VNNI && d % 16 == 0)
        return I8_VNNI;
    return b->isa >= CPU_ISA_AVX2 && d % 8 == 0 ? I8_AVX2 : I8_NONE;
}

/* Pick the loops for ISA; the attention loops also depend on the head size. */
static void choose_fns(cpu_be_t *b, int head_dim)
{
    static const att_fns_t portable = {{load_f32_c, load_f16_c, load_i8_c}, ktile_c, qblock_c, NULL};
    b->att = portable;
    b->silu_mul = silu_mul_c;
#if defined(__x86_64__)
    static const att_fns_t f512 = {{load_f32_avx512, load_f16_avx512, load_i8_avx512}, ktile_avx512, qblock_avx512,
                                   qblock8_avx512};
    static const att_fns_t f256 = {{load_f32_avx2, load_f16_avx2, load_i8_avx2}, ktile_avx2, qblock_avx2,
                                   qblock8_avx2};
    if (b->isa >= CPU_ISA_AVX512VNNI) {
        b->silu_mul = silu_mul_avx512;
        if (head_dim % 16 == 0)
            b->att = f512;
        else if (head_dim % 8 == 0)
            b->att = f256;
    } else if (b->isa >= CPU_ISA_AVX2) {
        b->silu_mul = silu_mul_avx2;
        if (head_dim % 8 == 0)
            b->att = f256;
    }
    if (i8_path(b, head_dim) == I8_NONE)
        b->att.qblock8 = NULL;
#else
    (void)head_dim;
#endif
}

/* ---- memory ----------------------------------------------------------------- */

/* Buffers from this size on get a mapping of their own: its pages are zero
 * already and are faulted in only where a pass writes, so the activations
 * of a large batch cost nothing for tokens never fed (an encoder's short
 * query), and nothing is zeroed twice. */
#define BUF_MAP_MIN ((size_t)64 << 10)

static int cpu_buf_new(be_t *be, be_buf_t **out, size_t n, errmsg_t *err)
{
    (void)be;
    *out = NULL;
    if (n > SIZE_MAX / sizeof(float) / 2)
        return errmsg_set(err, OCT_ENOMEM, "buffer of %zu floats is too large", n);
    be_buf_t *b = calloc(1, sizeof *b);
    if (!b)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    size_t bytes = n * sizeof(float);
    if (bytes >= BUF_MAP_MIN) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            b->data = p;
            b->map_bytes = bytes;
        }
    } else if ((b->data = alloc_aligned(bytes))) {
        memset(b->data, 0, bytes);
    }
    if (!b->data) {
        free(b);
        return errmsg_set(err, OCT_ENOMEM, "out of memory allocating %zu bytes", bytes);
    }
    b->n = n;
    *out = b;
    return 0;
}

static void cpu_buf_free(be_t *be, be_buf_t *b)
{
    (void)be;
    if (!b)
        return;
    if (b->map_bytes)
        munmap(b->data, b->map_bytes);
    else
        free(b->data);
    free(b);
}

static int cpu_buf_set(be_t *be, be_buf_t *b, size_t off, const float *src, size_t n, errmsg_t *err)
{
    (void)be;
    if (off > b->n || n > b->n - off)
        return errmsg_set(err, OCT_EINVAL, "buffer write of %zu floats at %zu exceeds its %zu", n, off, b->n);
    memcpy(b->data + off, src, n * sizeof(float));
    return 0;
}

static int cpu_buf_get(be_t *be, const be_buf_t *b, size_t off, float *dst, size_t n, errmsg_t *err)
{
    (void)be;
    if (off > b->n || n > b->n - off)
        return errmsg_set(err, OCT_EINVAL, "buffer read of %zu floats at %zu exceeds its %zu", n, off, b->n);
    memcpy(dst, b->data + off, n * sizeof(float));
    return 0;
}

static int cpu_mat_new_op(be_t *be, be_mat_t **out, be_wfmt_t fmt, be_src_t src, const void *data,
                          int rows, int cols, const float *col_scale, errmsg_t *err)
{
    static const cpu_wfmt_t fmts[] = {CPU_W_F32, CPU_W_F16, CPU_W_INT8, CPU_W_Q8_0};
    static const cpu_src_t srcs[] = {CPU_SRC_F32, CPU_SRC_F16, CPU_SRC_BF16, CPU_SRC_Q8_0};
    cpu_be_t *b = cb(be);
    *out = NULL;
    be_mat_t *m = calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = cpu_mat_new(&m->m, fmts[fmt], srcs[src], data, rows, cols, col_scale, err);
    if (rc) {
        free(m);
        return rc;
    }
    m->next = b->mats;
    if (b->mats)
        b->mats->prev = m;
    b->mats = m;
    *out = m;
    return 0;
}

static void cpu_mat_free_op(be_t *be, be_mat_t *m)
{
    cpu_be_t *b = cb(be);
    if (!m)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        b->mats = m->next;
    if (m->next)
        m->next->prev = m->prev;
    cpu_mat_free(m->m);
    free(m);
}

static uint64_t cpu_mat_bytes_op(be_t *be, const be_mat_t *m)
{
    (void)be;
    return cpu_mat_bytes(m->m);
}

static size_t kv_esize(be_kvfmt_t f)
{
    return f == BE_KV_F32 ? 4 : f == BE_KV_F16 ? 2 : 1;
}

static bool kv_tiled(const cpu_be_t *b, const be_kv_desc_t *d)
{
    return d->fmt == BE_KV_INT8 && i8_path(b, d->head_dim) != I8_NONE;
}

static int kv_ctx_stride(const cpu_be_t *b, const be_kv_desc_t *d)
{
    return kv_tiled(b, d) ? (d->n_ctx + ATT_P - 1) / ATT_P * ATT_P : d->n_ctx;
}

static uint64_t cpu_kv_bytes(be_t *be, const be_kv_desc_t *d)
{
    uint64_t rows = (uint64_t)d->n_layer * (uint64_t)d->n_head_kv * (uint64_t)kv_ctx_stride(cb(be), d);
    uint64_t bytes = 2 * rows * (uint64_t)d->head_dim * kv_esize(d->fmt);
    if (d->fmt == BE_KV_INT8)
        bytes += 2 * rows * sizeof(float);
    return bytes;
}

static int cpu_kv_new(be_t *be, be_kv_t **out, const be_kv_desc_t *d, errmsg_t *err)
{
    *out = NULL;
    if (d->n_layer <= 0 || d->n_head_kv <= 0 || d->head_dim <= 0 || d->n_ctx <= 0)
        return errmsg_set(err, OCT_EINVAL, "bad KV cache shape");
    be_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    kv->d = *d;
    kv->esize = kv_esize(d->fmt);
    kv->tiled = kv_tiled(cb(be), d);
    kv->k_offset = kv->tiled && i8_path(cb(be), d->head_dim) == I8_VNNI;
    kv->ctx_stride = kv_ctx_stride(cb(be), d);
    kv->bytes = cpu_kv_bytes(be, d);
    size_t rows = (size_t)d->n_layer * (size_t)d->n_head_kv * (size_t)kv->ctx_stride;
    size_t half = rows * (size_t)d->head_dim * kv->esize;
    kv->k = alloc_aligned(half);
    kv->v = alloc_aligned(half);
    if (d->fmt == BE_KV_INT8) {
        kv->ks = alloc_aligned(rows * sizeof(float));
        kv->vs = alloc_aligned(rows * sizeof(float));
    }
    if (!kv->k || !kv->v || (d->fmt == BE_KV_INT8 && (!kv->ks || !kv->vs))) {
        free(kv->k);
        free(kv->v);
        free(kv->ks);
        free(kv->vs);
        free(kv);
        return errmsg_set(err, OCT_ENOMEM, "out of memory allocating a KV cache of %llu bytes",
                          (unsigned long long)cpu_kv_bytes(be, d));
    }
    *out = kv;
    return 0;
}

static void cpu_kv_free(be_t *be, be_kv_t *kv)
{
    (void)be;
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    free(kv->ks);
    free(kv->vs);
    free(kv);
}

static int cpu_reserve(be_t *be, int max_tok, int n_ctx, int n_head, int n_head_kv, int head_dim,
                       errmsg_t *err)
{
    cpu_be_t *b = cb(be);
    size_t mm = 0;
    for (struct be_mat *m = b->mats; m; m = m->next) {
        size_t s1 = cpu_matmul_scratch(m->m, 1), sn = cpu_matmul_scratch(m->m, max_tok);
        if (s1 > mm)
            mm = s1;
        if (sn > mm)
            mm = sn;
    }
    free(b->mm_scratch);
    free(b->att_scratch);
    b->mm_scratch = alloc_aligned(mm);
    /* per thread: the K and V tiles, the converted K rows, and for each query
     * of a work item (ATT_TQ tokens x the heads of a KV group) an output
     * accumulator and its running max and sum; for the int8 path the key
     * scales of a block and each query's bytes, scale and offset sum; rounded
     * to a cache line so threads do not share lines */
    size_t D = (size_t)head_dim, nq = (size_t)ATT_TQ * (size_t)(n_head / n_head_kv);
    (void)n_ctx;
    b->att_stride = (3 * D * ATT_P + nq * (D + 2) + ATT_P + nq * (2 + (D + 3) / 4) + 15) / 16 * 16;
    b->att_bytes = b->att_stride * (size_t)b->n_threads * sizeof(float);
    b->att_scratch = alloc_aligned(b->att_bytes);
    if (!b->mm_scratch || !b->att_scratch) {
        free(b->mm_scratch);
        free(b->att_scratch);
        b->mm_scratch = NULL;
        b->att_scratch = NULL;
        return errmsg_set(err, OCT_ENOMEM, "out of memory allocating scratch");
    }
    b->mm_scratch_bytes = mm;
    choose_fns(b, head_dim);
    return 0;
}

static void cpu_dev_info(be_t *be, be_dev_info_t *out)
{
    cpu_be_t *b = cb(be);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "cpu (%d threads, %s)", b->n_threads, cpu_isa_name(b->isa));
    out->scratch = b->mm_scratch_bytes + b->att_bytes;
    long page = sysconf(_SC_PAGESIZE), avail = sysconf(_SC_AVPHYS_PAGES), phys = sysconf(_SC_PHYS_PAGES);
    if (page > 0 && avail > 0 && phys > 0) {
        out->dev_free = (uint64_t)avail * (uint64_t)page;
        out->dev_total = (uint64_t)phys * (uint64_t)page;
    }
}

/* ---- compute ---------------------------------------------------------------- */

static int cpu_begin(be_t *be, const int32_t *ids, int n_tok, int pos0, errmsg_t *err)
{
    cpu_be_t *b = cb(be);
    (void)err;
    b->ids = ids;
    b->n_tok = n_tok;
    b->pos0 = pos0;
    return 0;
}

static int cpu_end(be_t *be, errmsg_t *err)
{
    (void)be;
    (void)err;
    return 0;
}

static void cpu_embed(be_t *be, const be_mat_t *w, int n_tok, be_buf_t *out)
{
    cpu_be_t *b = cb(be);
    int cols = cpu_mat_cols(w->m);
    for (int t = 0; t < n_tok; t++)
        cpu_mat_get_row(w->m, b->ids[t], out->data + (size_t)t * (size_t)cols);
}

static void cpu_matmul_op(be_t *be, const be_mat_t *w, const be_buf_t *x, size_t x_off, int n_tok,
                          be_buf_t *y)
{
    cpu_be_t *b = cb(be);
    cpu_matmul(w->m, x->data + x_off, n_tok, y->data, b->mm_scratch, b->pool);
}

/* Row-parallel jobs: elementwise work split by tokens when there are several. */
typedef struct rows_job {
    cpu_be_t *b;
    const float *x, *w;
    float *out;
    const float *u;
    int n_tok, n;
    float eps;
} rows_job_t;

static void rows_split(int n_tok, int ith, int nth, int *t0, int *t1)
{
    *t0 = (int)((long)n_tok * ith / nth);
    *t1 = (int)((long)n_tok * (ith + 1) / nth);
}

static void rmsnorm_rows(void *ctx, int ith, int nth)
{
    rows_job_t *j = ctx;
    int t0, t1;
    rows_split(j->n_tok, ith, nth, &t0, &t1);
    for (int t = t0; t < t1; t++) {
        const float *x = j->x + (size_t)t * (size_t)j->n;
        float *o = j->out + (size_t)t * (size_t)j->n;
        /* eight partial sums: breaks the add latency chain, same order always */
        float p[8] = {0};
        int i = 0;
        for (; i + 8 <= j->n; i += 8)
            for (int k = 0; k < 8; k++)
                p[k] += x[i + k] * x[i + k];
        for (; i < j->n; i++)
            p[0] += x[i] * x[i];
        float ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
        float r = 1.0f / sqrtf(ss / (float)j->n + j->eps);
        for (i = 0; i < j->n; i++)
            o[i] = x[i] * r * j->w[i];
    }
}

static void run_rows(cpu_be_t *b, void (*fn)(void *, int, int), rows_job_t *j)
{
    if (j->n_tok > 1 && b->n_threads > 1)
        cpu_pool_run(b->pool, fn, j);
    else
        fn(j, 0, 1);
}

static void cpu_rmsnorm(be_t *be, const be_buf_t *x, size_t x_off, const be_buf_t *w, int n_tok, int n,
                        float eps, be_buf_t *out)
{
    rows_job_t j = {.b = cb(be), .x = x->data + x_off, .w = w->data, .out = out->data, .n_tok = n_tok,
                    .n = n, .eps = eps};
    run_rows(cb(be), rmsnorm_rows, &j);
}

static void cpu_add(be_t *be, be_buf_t *x, size_t x_off, const be_buf_t *y, size_t n)
{
    (void)be;
    float *xd = x->data + x_off;
    const float *yd = y->data;
    for (size_t i = 0; i < n; i++)
        xd[i] += yd[i];
}

static void cpu_add_rows(be_t *be, be_buf_t *x, const be_buf_t *bias, int n_tok, int n)
{
    (void)be;
    for (int t = 0; t < n_tok; t++) {
        float *xd = x->data + (size_t)t * (size_t)n;
        for (int i = 0; i < n; i++)
            xd[i] += bias->data[i];
    }
}

static void cpu_rope_table(be_t *be, const be_buf_t *freq, int head_dim, int n_tok, float mscale,
                           be_buf_t *cs)
{
    cpu_be_t *b = cb(be);
    int half = head_dim / 2;
    for (int t = 0; t < n_tok; t++) {
        double p = (double)(b->pos0 + t);
        float *row = cs->data + (size_t)t * (size_t)head_dim;
        for (int i = 0; i < half; i++) {
            double th = p * (double)freq->data[i];
            row[i] = (float)(cos(th) * mscale);
            row[half + i] = (float)(sin(th) * mscale);
        }
    }
}

static void cpu_rope(be_t *be, be_buf_t *x, int n_tok, size_t ld, int n_heads, int head_dim, bool neox,
                     const be_buf_t *cs)
{
    (void)be;
    int half = head_dim / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *c = cs->data + (size_t)t * (size_t)head_dim, *s = c + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x->data + (size_t)t * ld + (size_t)h * (size_t)head_dim;
            if (neox) {
                for (int i = 0; i < half; i++) {
                    float a = v[i], bb = v[i + half];
                    v[i] = a * c[i] - bb * s[i];
                    v[i + half] = a * s[i] + bb * c[i];
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], bb = v[2 * i + 1];
                    v[2 * i] = a * c[i] - bb * s[i];
                    v[2 * i + 1] = a * s[i] + bb * c[i];
                }
            }
        }
    }
}

static size_t kv_row(const be_kv_t *kv, int layer, int head, int pos)
{
    return ((size_t)layer * (size_t)kv->d.n_head_kv + (size_t)head) * (size_t)kv->ctx_stride + (size_t)pos;
}

/* Row R's key into its tile (kv->tiled): dword i at lane R % ATT_P of row i,
 * its bytes offset by 128 for VNNI. */
static void kv_store_tiled(const be_kv_t *kv, size_t row, const float *src)
{
    int d = kv->d.head_dim;
    int8_t q[512];
    uint8_t *tile = kv->k + (row - row % ATT_P) * (size_t)d + (row % ATT_P) * 4;
    uint8_t off = kv->k_offset ? 0x80 : 0;
    kv->ks[row] = cpu_quantize_row_i8(src, q, (size_t)d);
    for (int i = 0; i < d; i++)
        tile[(size_t)(i / 4) * ATT_P * 4 + (size_t)(i % 4)] = (uint8_t)q[i] ^ off;
}

static void kv_store(const be_kv_t *kv, uint8_t *base, float *scales, size_t row, const float *src)
{
    int d = kv->d.head_dim;
    void *dst = base + row * (size_t)d * kv->esize;
    switch (kv->d.fmt) {
    case BE_KV_F32:
        memcpy(dst, src, (size_t)d * sizeof(float));
        break;
    case BE_KV_F16:
        cpu_f32_to_f16_row(src, dst, (size_t)d);
        break;
    case BE_KV_INT8:
        scales[row] = cpu_quantize_row_i8(src, dst, (size_t)d);
        break;
    }
}

static void cpu_kv_write(be_t *be, be_kv_t *kv, int layer, int n_tok, const be_buf_t *x, size_t ld,
                         size_t k_off, size_t v_off)
{
    cpu_be_t *b = cb(be);
    int d = kv->d.head_dim;
    for (int t = 0; t < n_tok; t++) {
        const float *row = x->data + (size_t)t * ld;
        for (int h = 0; h < kv->d.n_head_kv; h++) {
            size_t r = kv_row(kv, layer, h, b->pos0 + t);
            if (kv->tiled)
                kv_store_tiled(kv, r, row + k_off + (size_t)h * (size_t)d);
            else
                kv_store(kv, kv->k, kv->ks, r, row + k_off + (size_t)h * (size_t)d);
            kv_store(kv, kv->v, kv->vs, r, row + v_off + (size_t)h * (size_t)d);
        }
    }
}

typedef struct att_job {
    cpu_be_t *b;
    const be_kv_t *kv;
    int layer, n_tok, n_head;
    const float *q;
    size_t ld;
    float scale;
    float *out;
    int n_tblk;      /* blocks of ATT_TQ tokens */
    bool causal;     /* false: every token sees all n_tok (an encoder) */
    atomic_int next; /* work items (token block, KV head) handed out in order */
} att_job_t;

/* Convert the cached rows P0 .. P0+NVALID-1 of one KV head: K scaled
 * (attention scale and int8 row scale folded in) into ROWS, then transposed
 * into KT, V scaled into VB. Key lanes past NVALID are zeroed; value rows
 * past it are never read. */
static void att_tiles(const att_job_t *j, size_t r0, int p0, int nvalid, float *kt, float *vb, float *rows)
{
    const be_kv_t *kv = j->kv;
    row_load_fn load = j->b->att.load[kv->d.fmt];
    int d = kv->d.head_dim;
    size_t rb = (size_t)d * kv->esize;
    for (int jj = 0; jj < nvalid; jj++) {
        size_t r = r0 + (size_t)(p0 + jj);
        load(kv->k + r * rb, kv->ks ? kv->ks[r] * j->scale : j->scale, rows + (size_t)jj * (size_t)d, d);
        load(kv->v + r * rb, kv->vs ? kv->vs[r] : 1.0f, vb + (size_t)jj * (size_t)d, d);
    }
    if (nvalid < ATT_P)
        memset(rows + (size_t)nvalid * (size_t)d, 0, (size_t)(ATT_P - nvalid) * (size_t)d * sizeof *rows);
    j->b->att.ktile(rows, d, kt);
}

/* The int8 path's block at P0: the key tile is read in place; the key
 * scales are copied into KS (0 past NVALID), the values scaled into VB. */
static void att_tiles8(const att_job_t *j, size_t r0, int p0, int nvalid, float *ks, float *vb)
{
    const be_kv_t *kv = j->kv;
    row_load_fn load = j->b->att.load[BE_KV_INT8];
    int d = kv->d.head_dim;
    for (int jj = 0; jj < ATT_P; jj++) {
        size_t r = r0 + (size_t)(p0 + jj);
        ks[jj] = jj < nvalid ? kv->ks[r] : 0.0f;
        if (jj < nvalid)
            load(kv->v + r * (size_t)d, kv->vs[r], vb + (size_t)jj * (size_t)d, d);
    }
}

/* Positions (0..ATT_P) of the block at P0 that token T sees. */
static int block_nv(const att_job_t *j, int t, int p0, int n_pos)
{
    int nv = (j->causal ? j->b->pos0 + t + 1 : n_pos) - p0;
    return nv < 0 ? 0 : nv > ATT_P ? ATT_P : nv;
}

/* The query heads of KV head G0 for tokens T0 .. T1-1, block by block over
 * the visible positions with an online softmax. A query skips the blocks it
 * cannot see, so its result does not depend on which tokens share its work
 * item: batch prefill and token-by-token decode give the same numbers.
 * Without the causal mask every query sees the whole pass. */
static void att_item(const att_job_t *j, int t0, int t1, int g0, float *scratch)
{
    const be_kv_t *kv = j->kv;
    int d = kv->d.head_dim, G = j->n_head / kv->d.n_head_kv, pos0 = j->b->pos0;
    int nq = (t1 - t0) * G, nqmax = ATT_TQ * G;
    float *kt = scratch, *vb = kt + (size_t)d * ATT_P, *rows = vb + (size_t)d * ATT_P;
    float *acc = rows + (size_t)d * ATT_P, *ml = acc + (size_t)nqmax * (size_t)d; /* ml: m and l of each query */
    float *ks = ml + 2 * (size_t)nqmax, *qf = ks + ATT_P; /* the int8 path's */
    int32_t *qc = (int32_t *)(void *)(qf + nqmax);
    int8_t *q8 = (int8_t *)(qc + nqmax);
    bool i8 = kv->tiled;
    for (int qi = 0; qi < nq; qi++) {
        ml[2 * qi] = -INFINITY;
        ml[2 * qi + 1] = 0;
        if (i8) {
            const float *q = j->q + (size_t)(t0 + qi / G) * j->ld + ((size_t)g0 * (size_t)G + (size_t)(qi % G)) * (size_t)d;
            int8_t *dst = q8 + (size_t)qi * (size_t)d;
            int32_t sum = 0;
            qf[qi] = cpu_quantize_row_i8(q, dst, (size_t)d) * j->scale;
            for (int i = 0; i < d; i++)
                sum += dst[i];
            qc[qi] = 128 * sum;
        }
    }
    memset(acc, 0, (size_t)nq * (size_t)d * sizeof(float));
    size_t r0 = kv_row(kv, j->layer, g0, 0);
    int n_pos = pos0 + (j->causal ? t1 : j->n_tok); /* positions the last token sees */
    for (int p0 = 0; p0 < n_pos; p0 += ATT_P) {
        int nvalid = n_pos - p0 < ATT_P ? n_pos - p0 : ATT_P;
        const uint32_t *kt8 = i8 ? (const uint32_t *)(const void *)(kv->k + (r0 + (size_t)p0) * (size_t)d) : NULL;
        if (i8)
            att_tiles8(j, r0, p0, nvalid, ks, vb);
        else
            att_tiles(j, r0, p0, nvalid, kt, vb, rows);
        /* the tokens seeing the same positions of the block go together */
        for (int t = t0; t < t1;) {
            int nv = block_nv(j, t, p0, n_pos), te = t + 1;
            while (te < t1 && block_nv(j, te, p0, n_pos) == nv)
                te++;
            if (nv > 0) {
                int qi = (t - t0) * G;
                const float *q = j->q + (size_t)t * j->ld + (size_t)g0 * (size_t)G * (size_t)d;
                if (i8)
                    j->b->att.qblock8(q8 + (size_t)qi * (size_t)d, qf + qi, qc + qi, (te - t) * G, kt8, ks, vb,
                                      nv, d, ml + 2 * qi, acc + (size_t)qi * (size_t)d);
                else
                    j->b->att.qblock(q, j->ld, te - t, G, kt, vb, nv, d, ml + 2 * qi, acc + (size_t)qi * (size_t)d);
            }
            t = te;
        }
    }
    for (int t = t0; t < t1; t++)
        for (int h = 0; h < G; h++) {
            int qi = (t - t0) * G + h;
            float inv = 1.0f / ml[2 * qi + 1];
            size_t head = (size_t)t * (size_t)j->n_head + (size_t)g0 * (size_t)G + (size_t)h;
            float *o = j->out + head * (size_t)d;
            for (int i = 0; i < d; i++)
                o[i] = acc[(size_t)qi * (size_t)d + (size_t)i] * inv;
        }
}

static void att_worker(void *ctx, int ith, int nth)
{
    att_job_t *j = ctx;
    (void)nth;
    float *scratch = j->b->att_scratch + (size_t)ith * j->b->att_stride;
    int n_kv = j->kv->d.n_head_kv, n_items = j->n_tblk * n_kv;
    /* later tokens see more positions: hand them out first for balance */
    for (;;) {
        int i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (i >= n_items)
            break;
        int k = n_items - 1 - i, tb = k / n_kv;
        int t1 = (tb + 1) * ATT_TQ < j->n_tok ? (tb + 1) * ATT_TQ : j->n_tok;
        att_item(j, tb * ATT_TQ, t1, k % n_kv, scratch);
    }
}

static void attention(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld, int n_tok,
                      int n_head, float scale, bool causal, be_buf_t *out)
{
    cpu_be_t *b = cb(be);
    att_job_t j = {.b = b, .kv = kv, .layer = layer, .n_tok = n_tok, .n_head = n_head, .q = q->data,
                   .ld = ld, .scale = scale, .out = out->data, .n_tblk = (n_tok + ATT_TQ - 1) / ATT_TQ,
                   .causal = causal};
    atomic_init(&j.next, 0);
    /* a short decode step costs less than waking the pool (and a barrier
     * stalls on any descheduled worker): 2^16 multiply-adds or fewer stay on
     * the calling thread (85 positions of octet-code; at 100-300 positions
     * pooling is 10-15% faster a step since the key tiles are transposed in
     * registers) */
    uint64_t work = (uint64_t)n_tok * (uint64_t)(b->pos0 + n_tok) * (uint64_t)n_head *
                    (uint64_t)kv->d.head_dim * 2;
    if (b->n_threads > 1 && j.n_tblk * kv->d.n_head_kv > 1 && work > (1u << 16))
        cpu_pool_run(b->pool, att_worker, &j);
    else
        att_worker(&j, 0, 1);
}

static void cpu_attention(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld, int n_tok,
                          int n_head, float scale, be_buf_t *out)
{
    attention(be, kv, layer, q, ld, n_tok, n_head, scale, true, out);
}

static void cpu_attention_bidir(be_t *be, const be_kv_t *kv, int layer, const be_buf_t *q, size_t ld,
                                int n_tok, int n_head, float scale, be_buf_t *out)
{
    attention(be, kv, layer, q, ld, n_tok, n_head, scale, false, out);
}

static void swiglu_rows(void *ctx, int ith, int nth)
{
    rows_job_t *j = ctx;
    int t0, t1;
    rows_split(j->n_tok, ith, nth, &t0, &t1);
    for (int t = t0; t < t1; t++) {
        const float *g = j->x + (size_t)t * 2 * (size_t)j->n;
        j->b->silu_mul(g, g + j->n, j->out + (size_t)t * (size_t)j->n, j->n);
    }
}

static void cpu_swiglu(be_t *be, const be_buf_t *gu, int n_tok, int n_ff, be_buf_t *out)
{
    rows_job_t j = {.b = cb(be), .x = gu->data, .out = out->data, .n_tok = n_tok, .n = n_ff};
    run_rows(cb(be), swiglu_rows, &j);
}

static void cpu_free(be_t *be)
{
    cpu_be_t *b = cb(be);
    if (!b)
        return;
    while (b->mats)
        cpu_mat_free_op(be, b->mats);
    cpu_pool_free(b->pool);
    free(b->mm_scratch);
    free(b->att_scratch);
    free(b);
}

static const be_ops_t cpu_ops = {
    .name = "cpu",
    .batch_exact = true, /* the few-token tiles round as the one-token kernels do (test_generate) */
    .free = cpu_free,
    .buf_new = cpu_buf_new,
    .buf_free = cpu_buf_free,
    .buf_set = cpu_buf_set,
    .buf_get = cpu_buf_get,
    .mat_new = cpu_mat_new_op,
    .mat_free = cpu_mat_free_op,
    .mat_bytes = cpu_mat_bytes_op,
    .kv_new = cpu_kv_new,
    .kv_free = cpu_kv_free,
    .kv_bytes = cpu_kv_bytes,
    .reserve = cpu_reserve,
    .dev_info = cpu_dev_info,
    .begin = cpu_begin,
    .end = cpu_end,
    .embed = cpu_embed,
    .matmul = cpu_matmul_op,
    .rmsnorm = cpu_rmsnorm,
    .add = cpu_add,
    .add_rows = cpu_add_rows,
    .rope_table = cpu_rope_table,
    .rope = cpu_rope,
    .kv_write = cpu_kv_write,
    .attention = cpu_attention,
    .attention_bidir = cpu_attention_bidir,
    .swiglu = cpu_swiglu,
};

int be_cpu_new(be_t **out, int n_threads, errmsg_t *err)
{
    *out = NULL;
    cpu_be_t *b = calloc(1, sizeof *b);
    if (!b)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    b->base.ops = &cpu_ops;
    int rc = cpu_pool_new(&b->pool, n_threads, err);
    if (rc) {
        free(b);
        return rc;
    }
    b->n_threads = cpu_pool_size(b->pool);
    b->isa = cpu_isa_active();
    choose_fns(b, 0);
    *out = &b->base;
    return 0;
}

int be_cpu_threads(const be_t *be)
{
    return ((const cpu_be_t *)be)->n_threads;
}
