/* cpu_kern_avx512.c - the AVX-512 kernels: int8 matrix products with
 * vpdpbusd (AVX-512 VNNI) on the row-group layout of cpu_kern.h, f32/f16
 * products with FMA, int8 row quantization and dot product. Compiled for
 * generic x86-64 with per-function target attributes; cpu_mat.c calls them
 * only when the CPU has AVX-512 F/BW/VL/VNNI.
 *
 * Register tiles: an int8 tile is MR x 16 rows (MR vectors of the layout)
 * by NT tokens, with one int32 accumulator vector per (row vector, token);
 * each column group loads MR weight vectors and broadcasts 4 bytes of each
 * token's activations. Decode (one token) streams whole row groups with
 * software prefetch, since it is bound by memory bandwidth. */
#include <immintrin.h>
#include <string.h>

#include "cpu_kern.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define AI inline __attribute__((always_inline))

/* Prefill tiles (tokens per tile must divide the 48-token padding of the
 * quantized activations, see cpu_mat.c). */
#define I8_MR 2
#define I8_NT 12
#define Q8_MR 2
#define Q8_NT 6
/* Decode prefetch distances, bytes ahead in the weight stream: into L1,
 * and further ahead into L2 (measured: ~12% more bandwidth than the
 * hardware prefetchers alone on Sapphire Rapids). */
#define GEMV_PF 1024
#define GEMV_PF2 4096

/* ---- conversions ----------------------------------------------------------- */

T512 float cpu_quantize_row_i8_avx512(const float *x, int8_t *q, size_t n)
{
    __m512 m = _mm512_setzero_ps();
    size_t i = 0;
    /* max(a, m) returns m when a is NaN: NaNs are ignored, as in C. */
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m);
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)), m);
    }
    float s = _mm512_reduce_max_ps(m) / 127.0f;
    if (s == 0.0f) {
        memset(q, 0, n);
        return 0.0f;
    }
    const __m512 vs = _mm512_set1_ps(s);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_loadu_ps(x + i), vs));
        v = _mm512_max_epi32(_mm512_min_epi32(v, hi), lo);
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm512_cvtepi32_epi8(v));
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
        v = _mm512_max_epi32(_mm512_min_epi32(v, hi), lo);
        _mm512_mask_cvtepi32_storeu_epi8(q + i, k, v);
    }
    return s;
}

/* a * b = (a + 128) * b - 128 * b: vpdpbusd wants one unsigned operand, and
 * a ^ 0x80 is a + 128 as an unsigned byte, exact for all int8 values. */
T512 int32_t cpu_dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    const __m512i off = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    __m512i acc = _mm512_setzero_si512(), sb = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i va = _mm512_loadu_si512(a + i), vb = _mm512_loadu_si512(b + i);
        acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(va, off), vb);
        sb = _mm512_dpbusd_epi32(sb, ones, vb);
    }
    if (i < n) {
        __mmask64 k = (__mmask64)((~0ull) >> (64 - (n - i)));
        __m512i va = _mm512_maskz_loadu_epi8(k, a + i), vb = _mm512_maskz_loadu_epi8(k, b + i);
        acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(va, off), vb);
        sb = _mm512_dpbusd_epi32(sb, ones, vb);
    }
    return _mm512_reduce_add_epi32(acc) - 128 * _mm512_reduce_add_epi32(sb);
}

/* ---- int8 layouts ------------------------------------------------------------ */

static AI T512 __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

static AI T512 void store_rows(float *y, __m512 v, int nvalid)
{
    if (nvalid >= 16)
        _mm512_storeu_ps(y, v);
    else if (nvalid > 0)
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << nvalid) - 1), v);
}

/* INT8 tile: MR x 16 rows from W (a row group's column-group stream, already
 * offset to the first row vector) by NT tokens (X rows stride KP, all
 * present). Stores tokens < NSTORE and rows < NVALID. */
static AI T512 void i8_tile(const uint8_t *w, int ng, const int8_t *x, size_t kp,
                            const int32_t *corr, const float *sx, const float *sw, float *y,
                            size_t ldy, int nvalid, int nstore, const int mr, const int nt,
                            const int pf)
{
    __m512i acc[4][I8_NT];
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++) {
        __m512i c = _mm512_set1_epi32(corr[t]);
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++)
            acc[i][t] = c;
    }
    for (int g = 0; g < ng; g++) {
        const uint8_t *wp = w + (size_t)g * CPU_GROUP_BYTES;
        __m512i wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++)
            wv[i] = _mm512_loadu_si512(wp + 64 * i);
        if (pf) {
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++) {
                _mm_prefetch((const char *)wp + GEMV_PF + 64 * i, _MM_HINT_T0);
                _mm_prefetch((const char *)wp + GEMV_PF2 + 64 * i, _MM_HINT_T1);
            }
        }
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++) {
            __m512i xb = bcast4(x + (size_t)t * kp + 4 * g);
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++)
                acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], wv[i], xb);
        }
    }
    __m512 swv[4];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++)
        swv[i] = _mm512_loadu_ps(sw + 16 * i);
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++) {
        if (t >= nstore)
            break;
        __m512 s = _mm512_set1_ps(sx[t]);
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[i][t]), swv[i]), s);
            store_rows(y + (size_t)t * ldy + 16 * i, v, nvalid - 16 * i);
        }
    }
}

/* Q8_0 tile: as i8_tile, with one int32 dot per 32-column block scaled by
 * the rows' f16 block scales into float accumulators. W is the row group's
 * first block; QOFF/SOFF select the row vectors' quants and scales. */
static AI T512 void q8_tile(const uint8_t *w, int qoff, int soff, int nb, const int8_t *x,
                            size_t kp, const int32_t *corr, const float *sx, float *y, size_t ldy,
                            int nvalid, int nstore, const int mr, const int nt, const int pf)
{
    __m512 fa[4][Q8_NT];
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++)
            fa[i][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = w + (size_t)b * CPU_Q8_BLK;
        __m512i acc[4][Q8_NT];
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++) {
            __m512i c = _mm512_set1_epi32(corr[(size_t)t * nb + b]);
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++)
                acc[i][t] = c;
        }
        if (pf)
            for (int l = 0; l < CPU_Q8_BLK; l += 64) {
                _mm_prefetch((const char *)blk + GEMV_PF + l, _MM_HINT_T0);
                _mm_prefetch((const char *)blk + GEMV_PF2 + l, _MM_HINT_T1);
            }
#pragma GCC unroll 8
        for (int g = 0; g < CPU_QK / 4; g++) {
            const uint8_t *wp = blk + qoff + g * CPU_GROUP_BYTES;
            __m512i wv[4];
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++)
                wv[i] = _mm512_loadu_si512(wp + 64 * i);
#pragma GCC unroll 16
            for (int t = 0; t < nt; t++) {
                __m512i xb = bcast4(x + (size_t)t * kp + (size_t)b * CPU_QK + 4 * g);
#pragma GCC unroll 4
                for (int i = 0; i < mr; i++)
                    acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], wv[i], xb);
            }
        }
        const uint8_t *sp = blk + CPU_RG * CPU_QK + soff;
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(sp + 32 * i)));
#pragma GCC unroll 16
            for (int t = 0; t < nt; t++)
                fa[i][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][t]), d, fa[i][t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++) {
        if (t >= nstore)
            break;
        __m512 s = _mm512_set1_ps(sx[t]);
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++)
            store_rows(y + (size_t)t * ldy + 16 * i, _mm512_mul_ps(fa[i][t], s), nvalid - 16 * i);
    }
}

/* Two to eight tokens (speculative verification): tiles with exactly that
 * many token columns instead of full prefill tiles mostly computing
 * padding; up to four tokens take all 64 rows of a group at once, five to
 * eight two halves of 32. The arithmetic per output is the same as every
 * other path's, so the results are too. */
static AI T512 void i8_few(const uint8_t *base, int ng, const cpu_xq_t *x, int t0, int nt, const float *sw,
                           float *y, size_t ldy, int nvalid)
{
    const size_t kp = (size_t)x->kp;
    const int8_t *q = x->q + t0 * kp;
    const int32_t *c = x->corr + t0;
    const float *sx = x->scale + t0;
    switch (nt) {
    case 2:
        i8_tile(base, ng, q, kp, c, sx, sw, y, ldy, nvalid, 2, 4, 2, 1);
        return;
    case 3:
        i8_tile(base, ng, q, kp, c, sx, sw, y, ldy, nvalid, 3, 4, 3, 1);
        return;
    case 4:
        i8_tile(base, ng, q, kp, c, sx, sw, y, ldy, nvalid, 4, 4, 4, 1);
        return;
    default:
        for (int h = 0; h < 2; h++)
            i8_tile(base + 64 * 2 * h, ng, q, kp, c, sx, sw + 32 * h, y + 32 * h, ldy, nvalid - 32 * h, nt, 2,
                    8, 1);
        return;
    }
}

/* Q8_0: tiles of up to four tokens (more would not fit the registers).
 * Only the first tile prefetches: each prefetches the whole row group's
 * blocks, which the later tiles then find in the caches (prefetching them
 * again in every tile cost more instructions than the tiles' products). */
static AI T512 void q8_few(const uint8_t *base, int nb, const cpu_xq_t *x, int t0, int nt, float *y,
                           size_t ldy, int nvalid)
{
    const size_t kp = (size_t)x->kp;
    for (int t = t0; t < t0 + nt; t += 4) {
        const int n = t0 + nt - t < 4 ? t0 + nt - t : 4;
        const int8_t *q = x->q + t * kp;
        const int32_t *c = x->corr + (size_t)t * nb;
        float *yt = y + (size_t)(t - t0) * ldy;
        for (int h = 0; h < 4 / Q8_MR; h++) {
            const int rh = 16 * Q8_MR * h, qo = 64 * Q8_MR * h, so = 32 * Q8_MR * h;
            const int pf = t == t0 && h == 0;
            switch (n) {
            case 1:
                q8_tile(base, qo, so, nb, q, kp, c, x->scale + t, yt + rh, ldy, nvalid - rh, 1, Q8_MR, 1, pf);
                break;
            case 2:
                q8_tile(base, qo, so, nb, q, kp, c, x->scale + t, yt + rh, ldy, nvalid - rh, 2, Q8_MR, 2, pf);
                break;
            case 3:
                q8_tile(base, qo, so, nb, q, kp, c, x->scale + t, yt + rh, ldy, nvalid - rh, 3, Q8_MR, 3, pf);
                break;
            default:
                q8_tile(base, qo, so, nb, q, kp, c, x->scale + t, yt + rh, ldy, nvalid - rh, 4, Q8_MR, 4, pf);
                break;
            }
        }
    }
}

T512 void cpu_kern_i8_avx512(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0,
                             int t1, float *y)
{
    const size_t kp = (size_t)w->kp, ldy = (size_t)w->rows;
    const int ng = w->kp / 4, nb = w->kp / CPU_QK;
    for (int rg = rg0; rg < rg1; rg++) {
        const int r0 = rg * CPU_RG;
        const int nvalid = w->rows - r0;
        if (w->fmt == CPU_W_INT8) {
            const uint8_t *base = w->data + (size_t)rg * CPU_RG * kp;
            const float *sw = w->row_scale + r0;
            if (t1 - t0 == 1) {
                i8_tile(base, ng, x->q + t0 * kp, kp, x->corr + t0, x->scale + t0, sw,
                        y + t0 * ldy + r0, ldy, nvalid, 1, 4, 1, 1);
                continue;
            }
            if (t1 - t0 <= 8) {
                i8_few(base, ng, x, t0, t1 - t0, sw, y + t0 * ldy + r0, ldy, nvalid);
                continue;
            }
            for (int h = 0; h < 4 / I8_MR; h++) {
                const int rh = 16 * I8_MR * h;
                for (int t = t0; t < t1; t += I8_NT)
                    i8_tile(base + 64 * I8_MR * h, ng, x->q + t * kp, kp, x->corr + t,
                            x->scale + t, sw + rh, y + t * ldy + r0 + rh, ldy, nvalid - rh,
                            t1 - t, I8_MR, I8_NT, 0);
            }
        } else {
            const uint8_t *base = w->data + (size_t)rg * nb * CPU_Q8_BLK;
            if (t1 - t0 == 1) {
                q8_tile(base, 0, 0, nb, x->q + t0 * kp, kp, x->corr + (size_t)t0 * nb,
                        x->scale + t0, y + t0 * ldy + r0, ldy, nvalid, 1, 4, 1, 1);
                continue;
            }
            if (t1 - t0 <= 8) {
                q8_few(base, nb, x, t0, t1 - t0, y + t0 * ldy + r0, ldy, nvalid);
                continue;
            }
            for (int h = 0; h < 4 / Q8_MR; h++) {
                const int rh = 16 * Q8_MR * h;
                for (int t = t0; t < t1; t += Q8_NT)
                    q8_tile(base, 64 * Q8_MR * h, 32 * Q8_MR * h, nb, x->q + t * kp, kp,
                            x->corr + (size_t)t * nb, x->scale + t, y + t * ldy + r0 + rh, ldy,
                            nvalid - rh, t1 - t, Q8_MR, Q8_NT, 0);
            }
        }
    }
}

/* ---- float layouts ------------------------------------------------------------ */

/* 4 rows x 4 tokens; row and token pointers may repeat (tails), results
 * are stored only for the first MR rows and NT tokens. */
static AI T512 void f_tile(const uint8_t *const wr[4], const float *const xt[4], int cols,
                           float *y, size_t ldy, int mr, int nt, const int f16)
{
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            acc[i][t] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= cols; k += 16) {
        __m512 wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            wv[i] = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(wr[i] + 2 * (size_t)k)))
                        : _mm512_loadu_ps((const float *)(const void *)wr[i] + k);
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            __m512 xv = _mm512_loadu_ps(xt[t] + k);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                acc[i][t] = _mm512_fmadd_ps(wv[i], xv, acc[i][t]);
        }
    }
    if (k < cols) {
        __mmask16 m = (__mmask16)((1u << (cols - k)) - 1);
        __m512 wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            wv[i] = f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, wr[i] + 2 * (size_t)k))
                        : _mm512_maskz_loadu_ps(m, (const float *)(const void *)wr[i] + k);
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, xt[t] + k);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                acc[i][t] = _mm512_fmadd_ps(wv[i], xv, acc[i][t]);
        }
    }
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < mr; i++)
            y[(size_t)t * ldy + i] = _mm512_reduce_add_ps(acc[i][t]);
}

T512 void cpu_kern_f_avx512(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1,
                            float *y)
{
    const int cols = w->cols;
    const size_t ldy = (size_t)w->rows;
    const size_t rb = (size_t)cols * (w->fmt == CPU_W_F16 ? 2 : 4);
    for (int r = r0; r < r1; r += 4) {
        const int mr = r1 - r < 4 ? r1 - r : 4;
        const uint8_t *wr[4];
        for (int i = 0; i < 4; i++)
            wr[i] = w->data + (size_t)(r + (i < mr ? i : mr - 1)) * rb;
        for (int t = t0; t < t1; t += 4) {
            const int nt = t1 - t < 4 ? t1 - t : 4;
            const float *xt[4];
            for (int j = 0; j < 4; j++)
                xt[j] = x + (size_t)(t + (j < nt ? j : nt - 1)) * cols;
            if (w->fmt == CPU_W_F16)
                f_tile(wr, xt, cols, y + t * ldy + r, ldy, mr, nt, 1);
            else
                f_tile(wr, xt, cols, y + t * ldy + r, ldy, mr, nt, 0);
        }
    }
}
