/* sha1.c - SHA-1 with the x86 SHA extensions or in portable C (see sha1.h). */
#include "sha1.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA1_X86 1
#endif

static inline uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void blocks_portable(uint32_t h[5], const uint8_t *p, size_t n_blocks)
{
    for (; n_blocks--; p += 64) {
        uint32_t w[80];
        for (int t = 0; t < 16; t++)
            w[t] = be32(p + 4 * t);
        for (int t = 16; t < 80; t++)
            w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int t = 0; t < 80; t++) {
            uint32_t f, k;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999u;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1u;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDCu;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6u;
            }
            uint32_t x = rol(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = rol(b, 30);
            b = a;
            a = x;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
}

#ifdef SHA1_X86
/* Four rounds at a time: W holds the schedule's last four groups of four
 * words (group I in slot I % 4, first word in the high lane), PREV the state
 * before the previous group (sha1nexte derives E from its A). Group I >= 4
 * is W(I-4), W(I-3), W(I-2), W(I-1) combined as the schedule's recurrence
 * says, which is what sha1msg1 / xor / sha1msg2 compute. */
#define SHA1_SCHED(i)                                                                                              \
    (w[(i) & 3] = _mm_sha1msg2_epu32(                                                                              \
         _mm_xor_si128(_mm_sha1msg1_epu32(w[(i) & 3], w[((i) + 1) & 3]), w[((i) + 2) & 3]), w[((i) + 3) & 3]))
#define SHA1_GROUP(i)                                                                                              \
    do {                                                                                                           \
        if ((i) >= 4)                                                                                              \
            SHA1_SCHED(i);                                                                                         \
        e = _mm_sha1nexte_epu32(prev, w[(i) & 3]);                                                                 \
        prev = abcd;                                                                                               \
        abcd = _mm_sha1rnds4_epu32(abcd, e, (i) / 5);                                                              \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_hw(uint32_t h[5], const uint8_t *p, size_t n_blocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (; n_blocks--; p += 64) {
        __m128i abcd_in = abcd, e0_in = e0, w[4], e, prev;
        for (int k = 0; k < 4; k++)
            w[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * k)), bswap);
        e = _mm_add_epi32(e0, w[0]);
        prev = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
        SHA1_GROUP(1);
        SHA1_GROUP(2);
        SHA1_GROUP(3);
        SHA1_GROUP(4);
        SHA1_GROUP(5);
        SHA1_GROUP(6);
        SHA1_GROUP(7);
        SHA1_GROUP(8);
        SHA1_GROUP(9);
        SHA1_GROUP(10);
        SHA1_GROUP(11);
        SHA1_GROUP(12);
        SHA1_GROUP(13);
        SHA1_GROUP(14);
        SHA1_GROUP(15);
        SHA1_GROUP(16);
        SHA1_GROUP(17);
        SHA1_GROUP(18);
        SHA1_GROUP(19);
        e0 = _mm_sha1nexte_epu32(prev, e0_in);
        abcd = _mm_add_epi32(abcd, abcd_in);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#undef SHA1_GROUP
#undef SHA1_SCHED
#endif

#ifdef SHA1_X86
static bool probe_hw(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

bool sha1_hw_available(void)
{
#ifdef SHA1_X86
    /* asked once: CPUID traps to the hypervisor in a virtual machine, which
     * made it 2% of a cold index when every file's hash asked again */
    static _Atomic int known = -1;
    int v = atomic_load_explicit(&known, memory_order_relaxed);
    if (v < 0) {
        v = probe_hw();
        atomic_store_explicit(&known, v, memory_order_relaxed);
    }
    return v;
#else
    return false;
#endif
}

static void blocks(sha1_t *s, const uint8_t *p, size_t n_blocks)
{
#ifdef SHA1_X86
    if (s->hw) {
        blocks_hw(s->h, p, n_blocks);
        return;
    }
#endif
    blocks_portable(s->h, p, n_blocks);
}

void sha1_init(sha1_t *s)
{
    static const uint32_t h0[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->n_buf = 0;
    s->hw = sha1_hw_available();
}

void sha1_update(sha1_t *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (!n)
        return; /* DATA may be NULL then */
    s->len += n;
    if (s->n_buf) {
        size_t k = 64 - s->n_buf < n ? 64 - s->n_buf : n;
        memcpy(s->buf + s->n_buf, p, k);
        s->n_buf += k;
        p += k;
        n -= k;
        if (s->n_buf < 64)
            return;
        blocks(s, s->buf, 1);
        s->n_buf = 0;
    }
    if (n >= 64) {
        blocks(s, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    memcpy(s->buf, p, n);
    s->n_buf = n;
}

void sha1_final(sha1_t *s, uint8_t out[SHA1_LEN])
{
    uint64_t bits = s->len * 8;
    uint8_t pad[72] = {0x80};
    size_t k = s->n_buf < 56 ? 56 - s->n_buf : 120 - s->n_buf;
    for (int i = 0; i < 8; i++)
        pad[k + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, pad, k + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void sha1_hex(const uint8_t digest[SHA1_LEN], char hex[SHA1_HEX_LEN + 1])
{
    static const char dig[] = "0123456789abcdef";
    for (int i = 0; i < SHA1_LEN; i++) {
        hex[2 * i] = dig[digest[i] >> 4];
        hex[2 * i + 1] = dig[digest[i] & 15];
    }
    hex[SHA1_HEX_LEN] = '\0';
}

void sha1_git_blob(const void *data, size_t len, char hex[SHA1_HEX_LEN + 1])
{
    char head[32];
    int n = snprintf(head, sizeof head, "blob %zu", len);
    sha1_t s;
    uint8_t d[SHA1_LEN];
    sha1_init(&s);
    sha1_update(&s, head, (size_t)n + 1); /* the NUL after the length belongs to the header */
    sha1_update(&s, data, len);
    sha1_final(&s, d);
    sha1_hex(d, hex);
}
