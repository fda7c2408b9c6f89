/* cpu_kern_avx2.c - the AVX2 kernels (with FMA and F16C): int8 products
 * with vpmaddubsw on the row-group layout of cpu_kern.h, f32/f16 products,
 * int8 row quantization, the int8 dot product and f16 row conversions.
 *
 * vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16
 * with saturation. The layout stores weights offset by +128, which could
 * saturate, so the kernels undo the offset (xor 0x80) and use the sign
 * trick: |x| * (w * sign(x)), whose pair sums stay within 2 * 127 * 127
 * because weights and activations are both in [-127, 127]. */
#include <immintrin.h>
#include <string.h>

#include "cpu_kern.h"

#define T256 __attribute__((target("avx2,fma,f16c")))
#define AI inline __attribute__((always_inline))

/* Prefill tile: 4 vectors of 8 rows by 2 tokens. */
#define A2_MR 4
#define A2_NT 2

static AI T256 float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static AI T256 int32_t hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static AI T256 float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- conversions ----------------------------------------------------------- */

T256 void cpu_f16_to_f32_row_f16c(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
    for (; i < n; i++)
        dst[i] = cpu_f16_to_f32(src[i]);
}

T256 void cpu_f32_to_f16_row_f16c(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = cpu_f32_to_f16(src[i]);
}

T256 float cpu_quantize_row_i8_avx2(const float *x, int8_t *q, size_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    size_t i = 0;
    /* max(a, m) returns m when a is NaN: NaNs are ignored, as in C. */
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absmask), m);
    float amax = hmax8(m);
    for (; i < n; i++) {
        float a = x[i] < 0 ? -x[i] : x[i];
        if (a > amax)
            amax = a;
    }
    float s = amax / 127.0f;
    if (s == 0.0f) {
        memset(q, 0, n);
        return 0.0f;
    }
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + i), vs));
        v = _mm256_max_epi32(_mm256_min_epi32(v, hi), lo);
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)(void *)lanes, v);
        for (int j = 0; j < 8; j++)
            q[i + j] = (int8_t)lanes[j];
    }
    if (i < n) {
        float tail[8] = {0};
        memcpy(tail, x + i, (n - i) * sizeof *tail);
        __m256i v = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(tail), vs));
        v = _mm256_max_epi32(_mm256_min_epi32(v, hi), lo);
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)(void *)lanes, v);
        for (size_t j = 0; j < n - i; j++)
            q[i + j] = (int8_t)lanes[j];
    }
    return s;
}

/* Sign-extended to int16, then vpmaddwd: exact for every int8 value
 * (including -128, which the sign trick would get wrong). */
T256 int32_t cpu_dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(va, vb));
    }
    int32_t s = hsum8i(acc);
    for (; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* ---- int8 layouts ------------------------------------------------------------ */

static AI T256 __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

static AI T256 void store_rows8(float *y, __m256 v, int nvalid)
{
    if (nvalid >= 8) {
        _mm256_storeu_ps(y, v);
    } else if (nvalid > 0) {
        float tmp[8];
        _mm256_storeu_ps(tmp, v);
        memcpy(y, tmp, (size_t)nvalid * sizeof *y);
    }
}

/* Int32 dots of A2_MR x 8 rows (column-group stream W) with NT tokens over
 * NG column groups, added to ACC. */
static AI T256 void i8_dots(__m256i acc[A2_MR][A2_NT], const uint8_t *w, int ng, const int8_t *x,
                            size_t kp, const int nt)
{
    const __m256i off = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (int g = 0; g < ng; g++) {
        const uint8_t *wp = w + (size_t)g * CPU_GROUP_BYTES;
        if (nt == 1) { /* decode: memory bound, prefetch as cpu_kern_avx512.c does */
            _mm_prefetch((const char *)wp + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)wp + 1024 + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)wp + 4096, _MM_HINT_T1);
            _mm_prefetch((const char *)wp + 4096 + 64, _MM_HINT_T1);
        }
        __m256i wv[A2_MR];
#pragma GCC unroll 4
        for (int i = 0; i < A2_MR; i++)
            wv[i] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wp + 32 * i)), off);
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++) {
            __m256i xb = bcast4(x + (size_t)t * kp + 4 * g);
            __m256i xa = _mm256_abs_epi8(xb);
#pragma GCC unroll 4
            for (int i = 0; i < A2_MR; i++) {
                __m256i p = _mm256_maddubs_epi16(xa, _mm256_sign_epi8(wv[i], xb));
                acc[i][t] = _mm256_add_epi32(acc[i][t], _mm256_madd_epi16(p, ones));
            }
        }
    }
}

T256 void cpu_kern_i8_avx2(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0,
                           int t1, float *y)
{
    const size_t kp = (size_t)w->kp, ldy = (size_t)w->rows;
    const int ng = w->kp / 4, nb = w->kp / CPU_QK;
    for (int rg = rg0; rg < rg1; rg++) {
        const int r0 = rg * CPU_RG;
        for (int h = 0; h < CPU_RG / (8 * A2_MR); h++) {
            const int rh = 8 * A2_MR * h;
            const int nvalid = w->rows - r0 - rh;
            for (int t = t0; t < t1; t += A2_NT) {
                const int nt = t1 - t < A2_NT ? t1 - t : A2_NT;
                const int8_t *xq = x->q + t * kp;
                float *yt = y + t * ldy + r0 + rh;
                __m256i acc[A2_MR][A2_NT];
                if (w->fmt == CPU_W_INT8) {
                    for (int i = 0; i < A2_MR; i++)
                        for (int j = 0; j < A2_NT; j++)
                            acc[i][j] = _mm256_setzero_si256();
                    const uint8_t *base = w->data + (size_t)rg * CPU_RG * kp + 32 * A2_MR * h;
                    if (nt == A2_NT)
                        i8_dots(acc, base, ng, xq, kp, A2_NT);
                    else
                        i8_dots(acc, base, ng, xq, kp, 1);
                    const float *sw = w->row_scale + r0 + rh;
                    for (int j = 0; j < nt; j++) {
                        __m256 s = _mm256_set1_ps(x->scale[t + j]);
                        for (int i = 0; i < A2_MR; i++) {
                            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][j]), _mm256_loadu_ps(sw + 8 * i));
                            store_rows8(yt + j * ldy + 8 * i, _mm256_mul_ps(v, s), nvalid - 8 * i);
                        }
                    }
                } else {
                    const uint8_t *base = w->data + (size_t)rg * nb * CPU_Q8_BLK;
                    __m256 fa[A2_MR][A2_NT];
                    for (int i = 0; i < A2_MR; i++)
                        for (int j = 0; j < A2_NT; j++)
                            fa[i][j] = _mm256_setzero_ps();
                    for (int b = 0; b < nb; b++) {
                        const uint8_t *blk = base + (size_t)b * CPU_Q8_BLK;
                        for (int i = 0; i < A2_MR; i++)
                            for (int j = 0; j < A2_NT; j++)
                                acc[i][j] = _mm256_setzero_si256();
                        if (nt == A2_NT)
                            i8_dots(acc, blk + 32 * A2_MR * h, CPU_QK / 4, xq + b * CPU_QK, kp, A2_NT);
                        else
                            i8_dots(acc, blk + 32 * A2_MR * h, CPU_QK / 4, xq + b * CPU_QK, kp, 1);
                        const uint8_t *sp = blk + CPU_RG * CPU_QK + 2 * (8 * A2_MR * h);
                        for (int i = 0; i < A2_MR; i++) {
                            __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sp + 16 * i)));
                            for (int j = 0; j < A2_NT; j++)
                                fa[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][j]), d, fa[i][j]);
                        }
                    }
                    for (int j = 0; j < nt; j++) {
                        __m256 s = _mm256_set1_ps(x->scale[t + j]);
                        for (int i = 0; i < A2_MR; i++)
                            store_rows8(yt + j * ldy + 8 * i, _mm256_mul_ps(fa[i][j], s), nvalid - 8 * i);
                    }
                }
            }
        }
    }
}

/* ---- float layouts ------------------------------------------------------------ */

static AI T256 __m256 load_w8(const uint8_t *p, const int f16)
{
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p))
               : _mm256_loadu_ps((const float *)(const void *)p);
}

/* 4 rows x 2 tokens; pointers may repeat on tails (see cpu_kern_avx512.c). */
static AI T256 void f_tile(const uint8_t *const wr[4], const float *const xt[2], int cols,
                           float *y, size_t ldy, int mr, int nt, const int f16)
{
    const size_t es = f16 ? 2 : 4;
    __m256 acc[4][2];
    for (int i = 0; i < 4; i++)
        for (int t = 0; t < 2; t++)
            acc[i][t] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= cols; k += 8) {
        __m256 wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            wv[i] = load_w8(wr[i] + es * (size_t)k, f16);
#pragma GCC unroll 2
        for (int t = 0; t < 2; t++) {
            __m256 xv = _mm256_loadu_ps(xt[t] + k);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                acc[i][t] = _mm256_fmadd_ps(wv[i], xv, acc[i][t]);
        }
    }
    if (k < cols) {
        /* Zero-padded copies of the tails: zeros leave the sums unchanged. */
        uint8_t wt[4][32];
        float xtl[2][8];
        memset(wt, 0, sizeof wt);
        memset(xtl, 0, sizeof xtl);
        for (int i = 0; i < 4; i++)
            memcpy(wt[i], wr[i] + es * (size_t)k, es * (size_t)(cols - k));
        for (int t = 0; t < 2; t++)
            memcpy(xtl[t], xt[t] + k, sizeof(float) * (size_t)(cols - k));
        for (int t = 0; t < 2; t++) {
            __m256 xv = _mm256_loadu_ps(xtl[t]);
            for (int i = 0; i < 4; i++)
                acc[i][t] = _mm256_fmadd_ps(load_w8(wt[i], f16), xv, acc[i][t]);
        }
    }
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < mr; i++)
            y[(size_t)t * ldy + i] = hsum8(acc[i][t]);
}

T256 void cpu_kern_f_avx2(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1,
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
        for (int t = t0; t < t1; t += 2) {
            const int nt = t1 - t < 2 ? t1 - t : 2;
            const float *xt[2] = {x + (size_t)t * cols, x + (size_t)(t + nt - 1) * cols};
            if (w->fmt == CPU_W_F16)
                f_tile(wr, xt, cols, y + t * ldy + r, ldy, mr, nt, 1);
            else
                f_tile(wr, xt, cols, y + t * ldy + r, ldy, mr, nt, 0);
        }
    }
}
