/* dense.c - hashing, int8 quantization, the exact int8 scan and the top M
 * of rag/'s dense vectors (see dense.h). */
#include "dense.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int64_t dense_hash(const char *text, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ULL;
    }
    /* FNV's low bits mix poorly; a final avalanche (splitmix64's) spreads them */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (int64_t)h;
}

void dense_quantize(const float *v, uint32_t dim, int8_t *q, float *scale)
{
    float amax = 0;
    for (uint32_t i = 0; i < dim; i++)
        amax = fmaxf(amax, fabsf(v[i]));
    *scale = amax > 0 ? amax / 127.0f : 1.0f;
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (uint32_t i = 0; i < dim; i++) {
        long r = lrintf(v[i] * inv);
        q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
}

static int32_t dot_c(const int8_t *a, const int8_t *b, uint32_t n)
{
    int32_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

#if defined(__x86_64__)
#define T256 __attribute__((target("avx2")))

/* Rows of DIM (a multiple of 32) against Q: vpmaddubsw takes unsigned times
 * signed bytes, so |q| times (row * sign(q)); a pair sums to at most
 * 2 * 127 * 127, inside int16, because both sides are within [-127, 127]. */
static T256 void scores_avx2(const int8_t *q, float qscale, const int8_t *mat, const float *scales, size_t n,
                             uint32_t dim, float *out)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = 0; r < n; r++) {
        const int8_t *row = mat + r * (size_t)dim;
        __m256i acc = _mm256_setzero_si256();
        for (uint32_t j = 0; j < dim; j += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(q + j));
            __m256i b = _mm256_loadu_si256((const __m256i *)(row + j));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
        out[r] = qscale * scales[r] * (float)_mm_cvtsi128_si32(s);
    }
}
#endif

bool dense_simd(void)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

void dense_scores(const int8_t *q, float qscale, const int8_t *mat, const float *scales, size_t n, uint32_t dim,
                  bool force_c, float *out)
{
#if defined(__x86_64__)
    if (!force_c && dim % 32 == 0 && dense_simd()) {
        scores_avx2(q, qscale, mat, scales, n, dim, out);
        return;
    }
#endif
    (void)force_c;
    for (size_t r = 0; r < n; r++)
        out[r] = qscale * scales[r] * (float)dot_c(q, mat + r * (size_t)dim, dim);
}

/* Whether entry A ranks before entry B. */
static bool before(const float *s, uint32_t a, uint32_t b)
{
    return s[a] > s[b] || (s[a] == s[b] && a < b);
}

/* Restore the heap (worst entry at the root) below position I. */
static void sift_down(const float *s, uint32_t *h, size_t m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < m && before(s, h[w], h[l]))
            w = l;
        if (l + 1 < m && before(s, h[w], h[l + 1]))
            w = l + 1;
        if (w == i)
            return;
        uint32_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

size_t dense_top(const float *s, size_t n, size_t m, uint32_t *idx)
{
    if (m > n)
        m = n;
    if (m == 0)
        return 0;
    /* a heap of the best M so far whose root is the worst of them: most
     * entries lose against the root and cost one comparison */
    for (size_t i = 0; i < m; i++)
        idx[i] = (uint32_t)i;
    for (size_t i = m / 2; i-- > 0;)
        sift_down(s, idx, m, i);
    for (size_t i = m; i < n; i++)
        if (before(s, (uint32_t)i, idx[0])) {
            idx[0] = (uint32_t)i;
            sift_down(s, idx, m, 0);
        }
    /* heap sort: the worst goes to the end each time */
    for (size_t k = m; k > 1; k--) {
        uint32_t t = idx[0];
        idx[0] = idx[k - 1];
        idx[k - 1] = t;
        sift_down(s, idx, k - 1, 0);
    }
    return m;
}
