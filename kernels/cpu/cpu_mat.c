/* cpu_mat.c - weight matrices (conversion from GGUF layouts into the packed
 * layouts of cpu_kern.h) and the matrix product driver: it quantizes the
 * activations into the caller's scratch, cuts the product into chunks that
 * the pool's threads claim one by one, and runs the active ISA's kernel on
 * each. Every output element is computed whole by one kernel call, with the
 * same operations whatever the chunking, so the result does not depend on
 * the thread count. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_kern.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define HUGE_PAGE (2u << 20)
/* Tokens of quantized activations are padded to a multiple of this, so the
 * prefill kernels always run whole tiles (it divides by 12, 6, 16 and 48). */
#define TOK_PAD 48
/* Tokens per chunk of a prefill product (a multiple of TOK_PAD). */
#define TOK_CHUNK 96
/* Prefill uses AMX tiles from this many tokens on. */
#define AMX_MIN_TOK 32
/* Products of up to this many tokens (decode, speculative verification)
 * split the rows into one contiguous share per thread. */
#define FEW_TOK 8
/* Quantize activations on the pool above this many elements. */
#define QUANT_PAR_MIN 32768

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* A 2 MiB-aligned mapping of LEN bytes (a multiple of 4096) advised to be
 * backed by transparent huge pages, or NULL. */
static uint8_t *huge_map(size_t len)
{
    uint8_t *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uint8_t *a = (uint8_t *)round_up((size_t)p, HUGE_PAGE);
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + len < p + len + HUGE_PAGE)
        munmap(a + len, (size_t)(p + len + HUGE_PAGE - (a + len)));
    madvise(a, len, MADV_HUGEPAGE); /* advice only: without THP, plain pages */
    return a;
}

/* Smaller matrices share 2 MiB slabs, one huge page each, taken in order
 * and unmapped when their last matrix goes. From malloc each would be
 * faulted in 4 KiB at a time: the retrieval encoder's 3 MB of weights were
 * 750 page faults, most of the time it took to load (2 ms of a search). */
typedef struct slab {
    uint8_t *base;
    size_t used;
    int live; /* matrices in it */
} slab_t;

static pthread_mutex_t g_slab_mu = PTHREAD_MUTEX_INITIALIZER;
static slab_t *g_slab; /* the one being filled */

static void *slab_alloc(size_t n, slab_t **out)
{
    void *p = NULL;
    pthread_mutex_lock(&g_slab_mu);
    if (g_slab && HUGE_PAGE - g_slab->used < n) {
        if (g_slab->live == 0) {
            munmap(g_slab->base, HUGE_PAGE);
            free(g_slab);
        }
        g_slab = NULL; /* its matrices free it */
    }
    if (!g_slab) {
        slab_t *s = calloc(1, sizeof *s);
        if (s && !(s->base = huge_map(HUGE_PAGE))) {
            free(s);
            s = NULL;
        }
        g_slab = s;
    }
    if (g_slab) {
        p = g_slab->base + g_slab->used;
        g_slab->used += n;
        g_slab->live++;
        *out = g_slab;
    }
    pthread_mutex_unlock(&g_slab_mu);
    return p;
}

static void slab_free(slab_t *s)
{
    pthread_mutex_lock(&g_slab_mu);
    if (--s->live == 0 && s != g_slab) {
        munmap(s->base, HUGE_PAGE);
        free(s);
    }
    pthread_mutex_unlock(&g_slab_mu);
}

/* Large matrices get their own 2 MiB-aligned mapping backed by transparent
 * huge pages: decode streams every weight once per token and TLB misses
 * would cost a noticeable part of the memory bandwidth. Smaller ones share
 * slabs (above), 64-byte aligned for the vector loads. */
static void *mat_alloc(cpu_mat_t *m, size_t n)
{
    if (n >= HUGE_PAGE) {
        size_t len = round_up(n, 4096);
        m->alloc_bytes = len;
        m->mapped = 1;
        return huge_map(len);
    }
    m->alloc_bytes = round_up(n ? n : 1, 64);
    m->mapped = 0;
    return slab_alloc(m->alloc_bytes, &m->slab);
}

static void mat_dealloc(cpu_mat_t *m)
{
    if (m->mapped)
        munmap(m->data, m->alloc_bytes);
    else
        slab_free(m->slab);
}

/* ---- conversion from the source layouts ------------------------------------------------ */

static size_t src_row_bytes(cpu_src_t src, int cols)
{
    switch (src) {
    case CPU_SRC_F32:
        return (size_t)cols * 4;
    case CPU_SRC_F16:
    case CPU_SRC_BF16:
        return (size_t)cols * 2;
    case CPU_SRC_Q8_0:
        return (size_t)cols / CPU_QK * 34;
    }
    return 0;
}

static uint16_t load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Row R of the source as f32, times COL_SCALE when given. */
static void src_row_f32(cpu_src_t src, const uint8_t *data, int r, int cols, const float *col_scale,
                        float *out)
{
    const uint8_t *row = data + (size_t)r * src_row_bytes(src, cols);
    switch (src) {
    case CPU_SRC_F32:
        memcpy(out, row, (size_t)cols * sizeof *out);
        break;
    case CPU_SRC_F16:
        if (((uintptr_t)row & 1) == 0) /* GGUF aligns tensors: the F16C path */
            cpu_f16_to_f32_row((const uint16_t *)(const void *)row, out, (size_t)cols);
        else
            for (int j = 0; j < cols; j++)
                out[j] = cpu_f16_to_f32(load_u16(row + 2 * (size_t)j));
        break;
    case CPU_SRC_BF16:
        for (int j = 0; j < cols; j++)
            out[j] = cpu_bf16_to_f32(load_u16(row + 2 * (size_t)j));
        break;
    case CPU_SRC_Q8_0:
        for (int b = 0; b < cols / CPU_QK; b++) {
            const uint8_t *blk = row + (size_t)b * 34;
            float d = cpu_f16_to_f32(load_u16(blk));
            for (int k = 0; k < CPU_QK; k++)
                out[b * CPU_QK + k] = (float)(int8_t)blk[2 + k] * d;
        }
        break;
    }
    if (col_scale)
        for (int j = 0; j < cols; j++)
            out[j] *= col_scale[j];
}

/* Scatter 64 rows x NG groups of 4 int8 values, from column C0 of TMP
 * (row-major, KP per row, padded with zeros), into NG column groups at DST,
 * offset by +128: x ^ 0x80 on each byte, 4 bytes at a time. */
static void pack_groups(const int8_t *tmp, int kp, int c0, int ng, uint8_t *dst)
{
    for (int r = 0; r < CPU_RG; r++)
        for (int g = 0; g < ng; g++) {
            uint32_t w;
            memcpy(&w, tmp + (size_t)r * kp + c0 + 4 * g, 4);
            w ^= 0x80808080u;
            memcpy(dst + (size_t)g * CPU_GROUP_BYTES + 4 * r, &w, 4);
        }
}

/* Q8_0 block quantization of N <= 32 values (the rest zero): the f16 scale
 * d = max|x| / 127 and q = round(x / d) with the f16-rounded d. */
static uint16_t quant_q8_block(const float *x, int n, int8_t *q)
{
    float amax = 0.0f;
    for (int k = 0; k < n; k++) {
        float a = x[k] < 0 ? -x[k] : x[k];
        if (a > amax)
            amax = a;
    }
    uint16_t dh = cpu_f32_to_f16(amax / 127.0f);
    float d = cpu_f16_to_f32(dh);
    memset(q, 0, CPU_QK);
    if (!(d > 0.0f && d <= 65504.0f)) /* all zero, or not finite: a zero block */
        return 0;
    for (int k = 0; k < n; k++) {
        float v = rintf(x[k] / d);
        q[k] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
    }
    return dh;
}

static void fill_int8(cpu_mat_t *m, cpu_src_t src, const uint8_t *data, const float *col_scale,
                     float *row, int8_t *tmp)
{
    const int kp = m->kp, ng = kp / 4;
    for (int rg = 0; rg < m->n_rg; rg++) {
        memset(tmp, 0, (size_t)CPU_RG * kp);
        for (int rr = 0; rr < CPU_RG; rr++) {
            int r = rg * CPU_RG + rr;
            if (r >= m->rows)
                break;
            src_row_f32(src, data, r, m->cols, col_scale, row);
            m->row_scale[r] = cpu_quantize_row_i8(row, tmp + (size_t)rr * kp, (size_t)m->cols);
        }
        pack_groups(tmp, kp, 0, ng, m->data + (size_t)rg * CPU_RG * kp);
    }
}

/* Q8_0 blocks requantized from another source (or column-scaled). */
static void fill_q8(cpu_mat_t *m, cpu_src_t src, const uint8_t *data, const float *col_scale,
                   float *row, int8_t *tmp)
{
    const int kp = m->kp, nb = kp / CPU_QK;
    uint16_t *d = (uint16_t *)(void *)(row + kp); /* nb * 64 scales after the row */
    for (int rg = 0; rg < m->n_rg; rg++) {
        memset(tmp, 0, (size_t)CPU_RG * kp);
        memset(d, 0, (size_t)nb * CPU_RG * sizeof *d);
        for (int rr = 0; rr < CPU_RG; rr++) {
            int r = rg * CPU_RG + rr;
            if (r >= m->rows)
                break;
            int8_t *q = tmp + (size_t)rr * kp;
            src_row_f32(src, data, r, m->cols, col_scale, row);
            for (int b = 0; b * CPU_QK < m->cols; b++) {
                int n = m->cols - b * CPU_QK < CPU_QK ? m->cols - b * CPU_QK : CPU_QK;
                d[(size_t)b * CPU_RG + rr] = quant_q8_block(row + b * CPU_QK, n, q + b * CPU_QK);
            }
        }
        uint8_t *base = m->data + (size_t)rg * nb * CPU_Q8_BLK;
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = base + (size_t)b * CPU_Q8_BLK;
            pack_groups(tmp, kp, b * CPU_QK, CPU_QK / 4, blk);
            memcpy(blk + CPU_RG * CPU_QK, d + (size_t)b * CPU_RG, CPU_RG * sizeof *d);
        }
    }
}

/* 4 stored Q8_0 quants offset by +128 (x ^ 0x80), with -128 (never written
 * by GGML) read as -127 so that every kernel's products stay exact: a byte
 * that became 0 is made 1 (exact zero-byte test: no carry between bytes). */
static uint32_t q8_bias4(uint32_t w)
{
    w ^= 0x80808080u;
    uint32_t nonzero = (((w & 0x7f7f7f7fu) + 0x7f7f7f7fu) | w) & 0x80808080u;
    return w | (~nonzero & 0x80808080u) >> 7;
}

#if defined(__x86_64__)
#define T_AVX2 __attribute__((target("avx2")))

/* The quants of eight rows' blocks (SB[i] + 2) into the column groups of
 * BLK from row RR on: q8_bias4 on each byte (x ^ 0x80, then 0 made 1), and
 * an 8 x 8 transpose of their 4-byte words, word g of row i going to group
 * g. A third of the time of the scalar loop. */
T_AVX2 static void q8_rows8_avx2(const uint8_t *const sb[8], uint8_t *blk, int rr)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80), one = _mm256_set1_epi8(1);
    __m256i r[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_max_epu8(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(sb[i] + 2)), flip),
                               one);
    /* per 128-bit lane: words 0-3 then 4-7 */
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u[8] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), _mm256_unpacklo_epi64(t1, t3),
                    _mm256_unpackhi_epi64(t1, t3), _mm256_unpacklo_epi64(t4, t6), _mm256_unpackhi_epi64(t4, t6),
                    _mm256_unpacklo_epi64(t5, t7), _mm256_unpackhi_epi64(t5, t7)};
    for (int g = 0; g < 4; g++) {
        _mm256_storeu_si256((__m256i *)(void *)(blk + g * CPU_GROUP_BYTES + 4 * rr),
                            _mm256_permute2x128_si256(u[g], u[g + 4], 0x20));
        _mm256_storeu_si256((__m256i *)(void *)(blk + (g + 4) * CPU_GROUP_BYTES + 4 * rr),
                            _mm256_permute2x128_si256(u[g], u[g + 4], 0x31));
    }
}
#endif

/* Q8_0 blocks used as stored: the scales copied and the quants moved into
 * their column groups 4 bytes at a time (eight rows at a time with AVX2).
 * Padding rows and columns are quants 0 (byte 128) with scale 0, as fill_q8
 * leaves them. */
static void fill_q8_copy(cpu_mat_t *m, const uint8_t *data)
{
    const int nb = m->kp / CPU_QK, nsb = m->cols / CPU_QK;
    const size_t rb = (size_t)nsb * 34;
#if defined(__x86_64__)
    const bool avx2 = cpu_isa_detect() >= CPU_ISA_AVX2;
#endif
    for (int rg = 0; rg < m->n_rg; rg++) {
        uint8_t *base = m->data + (size_t)rg * nb * CPU_Q8_BLK;
        const int nr = m->rows - rg * CPU_RG < CPU_RG ? m->rows - rg * CPU_RG : CPU_RG;
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = base + (size_t)b * CPU_Q8_BLK, *scales = blk + CPU_RG * CPU_QK;
            const int stored = b < nsb ? nr : 0;
            int rr = 0;
#if defined(__x86_64__)
            for (; avx2 && rr + 8 <= stored; rr += 8) {
                const uint8_t *sb[8];
                for (int i = 0; i < 8; i++) {
                    sb[i] = data + (size_t)(rg * CPU_RG + rr + i) * rb + (size_t)b * 34;
                    memcpy(scales + 2 * (rr + i), sb[i], 2);
                }
                q8_rows8_avx2(sb, blk, rr);
            }
#endif
            for (; rr < stored; rr++) {
                const uint8_t *sb = data + (size_t)(rg * CPU_RG + rr) * rb + (size_t)b * 34;
                for (int g = 0; g < CPU_QK / 4; g++) {
                    uint32_t w;
                    memcpy(&w, sb + 2 + 4 * g, 4);
                    w = q8_bias4(w);
                    memcpy(blk + g * CPU_GROUP_BYTES + 4 * rr, &w, 4);
                }
                memcpy(scales + 2 * rr, sb, 2);
            }
            for (rr = stored; rr < CPU_RG; rr++) {
                for (int g = 0; g < CPU_QK / 4; g++)
                    memset(blk + g * CPU_GROUP_BYTES + 4 * rr, 128, 4);
                memset(scales + 2 * rr, 0, 2);
            }
        }
    }
}

int cpu_mat_new(cpu_mat_t **out, cpu_wfmt_t fmt, cpu_src_t src, const void *data, int rows,
                int cols, const float *col_scale, errmsg_t *err)
{
    float *row = NULL;
    int8_t *tmp = NULL;
    cpu_mat_t *m = NULL;
    if (!out)
        return errmsg_set(err, OCT_EINVAL, "cpu_mat_new: no output pointer");
    *out = NULL;
    if (!data)
        return errmsg_set(err, OCT_EINVAL, "cpu_mat_new: no source data");
    if (rows <= 0 || cols <= 0)
        return errmsg_set(err, OCT_EINVAL, "cpu_mat_new: bad shape %d x %d", rows, cols);
    if ((unsigned)fmt > CPU_W_Q8_0)
        return errmsg_set(err, OCT_EINVAL, "cpu_mat_new: unknown weight format %d", (int)fmt);
    if ((unsigned)src > CPU_SRC_Q8_0)
        return errmsg_set(err, OCT_EINVAL, "cpu_mat_new: unknown source layout %d", (int)src);
    if (src == CPU_SRC_Q8_0 && cols % CPU_QK != 0)
        return errmsg_set(err, OCT_EFORMAT,
                          "cpu_mat_new: Q8_0 source with %d columns, not a multiple of 32", cols);
    if ((fmt == CPU_W_INT8 || fmt == CPU_W_Q8_0) && cols > CPU_INT8_MAX_COLS)
        return errmsg_set(err, OCT_EUNSUPPORTED,
                          "cpu_mat_new: %d columns; int8 formats take at most %d", cols,
                          CPU_INT8_MAX_COLS);
    if ((size_t)rows * (size_t)cols > ((size_t)1 << 40))
        return errmsg_set(err, OCT_ENOMEM, "cpu_mat_new: %d x %d matrix is too large", rows, cols);

    m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    m->fmt = fmt;
    m->rows = rows;
    m->cols = cols;
    if (fmt == CPU_W_F32 || fmt == CPU_W_F16) {
        size_t es = fmt == CPU_W_F32 ? 4 : 2;
        m->data_bytes = (size_t)rows * cols * es;
        m->data = mat_alloc(m, m->data_bytes);
        row = malloc((size_t)cols * sizeof *row);
        if (!m->data || !row)
            goto nomem;
        for (int r = 0; r < rows; r++) {
            uint8_t *dst = m->data + (size_t)r * cols * es;
            if (fmt == CPU_W_F16 && src == CPU_SRC_F16 && !col_scale) {
                memcpy(dst, (const uint8_t *)data + (size_t)r * cols * 2, (size_t)cols * 2);
                continue;
            }
            src_row_f32(src, data, r, cols, col_scale, row);
            if (fmt == CPU_W_F32)
                memcpy(dst, row, (size_t)cols * sizeof *row);
            else
                cpu_f32_to_f16_row(row, (uint16_t *)(void *)dst, (size_t)cols);
        }
    } else {
        m->kp = (int)round_up((size_t)cols, CPU_KALIGN);
        m->n_rg = (int)(round_up((size_t)rows, CPU_RG) / CPU_RG);
        size_t rg_bytes = fmt == CPU_W_INT8 ? (size_t)CPU_RG * m->kp
                                            : (size_t)(m->kp / CPU_QK) * CPU_Q8_BLK;
        m->data_bytes = rg_bytes * m->n_rg;
        m->data = mat_alloc(m, m->data_bytes);
        if (!m->data)
            goto nomem;
        if (fmt == CPU_W_Q8_0 && src == CPU_SRC_Q8_0 && !col_scale) {
            fill_q8_copy(m, data);
        } else {
            /* The row buffer also holds a row group's Q8_0 scales. */
            row = malloc((size_t)m->kp * sizeof *row + (size_t)(m->kp / CPU_QK) * CPU_RG * 2);
            tmp = malloc((size_t)CPU_RG * m->kp);
            if (!row || !tmp)
                goto nomem;
            memset(row, 0, (size_t)m->kp * sizeof *row);
            if (fmt == CPU_W_INT8) {
                m->row_scale = calloc((size_t)m->n_rg * CPU_RG, sizeof *m->row_scale);
                if (!m->row_scale)
                    goto nomem;
                fill_int8(m, src, data, col_scale, row, tmp);
            } else {
                fill_q8(m, src, data, col_scale, row, tmp);
            }
        }
    }
    free(row);
    free(tmp);
    *out = m;
    return 0;
nomem:
    free(row);
    free(tmp);
    cpu_mat_free(m);
    return errmsg_set(err, OCT_ENOMEM, "cpu_mat_new: out of memory for a %d x %d matrix", rows,
                      cols);
}

void cpu_mat_free(cpu_mat_t *m)
{
    if (!m)
        return;
    if (m->data)
        mat_dealloc(m);
    free(m->row_scale);
    free(m);
}

size_t cpu_mat_bytes(const cpu_mat_t *m)
{
    size_t n = sizeof *m + m->alloc_bytes;
    if (m->row_scale)
        n += (size_t)m->n_rg * CPU_RG * sizeof *m->row_scale;
    return n;
}

cpu_wfmt_t cpu_mat_fmt(const cpu_mat_t *m)
{
    return m->fmt;
}

int cpu_mat_rows(const cpu_mat_t *m)
{
    return m->rows;
}

int cpu_mat_cols(const cpu_mat_t *m)
{
    return m->cols;
}

void cpu_mat_get_row(const cpu_mat_t *m, int r, float *out)
{
    const int cols = m->cols, rr = r % CPU_RG;
    switch (m->fmt) {
    case CPU_W_F32:
        memcpy(out, m->data + (size_t)r * cols * 4, (size_t)cols * sizeof *out);
        break;
    case CPU_W_F16:
        cpu_f16_to_f32_row((const uint16_t *)(const void *)(m->data + (size_t)r * cols * 2), out,
                           (size_t)cols);
        break;
    case CPU_W_INT8: {
        const uint8_t *base = m->data + (size_t)(r / CPU_RG) * CPU_RG * m->kp + 4 * rr;
        float s = m->row_scale[r];
        for (int j = 0; j < cols; j++)
            out[j] = (float)((int)base[(size_t)(j / 4) * CPU_GROUP_BYTES + j % 4] - 128) * s;
        break;
    }
    case CPU_W_Q8_0: {
        const uint8_t *base = m->data + (size_t)(r / CPU_RG) * (m->kp / CPU_QK) * CPU_Q8_BLK;
        for (int b = 0; b * CPU_QK < cols; b++) {
            const uint8_t *blk = base + (size_t)b * CPU_Q8_BLK;
            float d = cpu_f16_to_f32(load_u16(blk + CPU_RG * CPU_QK + 2 * rr));
            for (int k = 0; k < CPU_QK && b * CPU_QK + k < cols; k++) {
                int q = (int)blk[(k / 4) * CPU_GROUP_BYTES + 4 * rr + k % 4] - 128;
                out[b * CPU_QK + k] = (float)q * d;
            }
        }
        break;
    }
    }
}

/* ---- matrix products ------------------------------------------------------------ */

typedef struct mm_job {
    const cpu_mat_t *w;
    const float *x;
    float *y;
    int n_tok, n_pad;
    cpu_isa_t isa;
    int8_t *q;
    float *scale;
    int32_t *corr;
    int ncorr;   /* corrections per token */
    int runit;   /* rows (float) or row groups (int8) per chunk */
    int nrunits; /* rows or row groups in all */
    int tchunk;  /* tokens per chunk */
    int n_tchunks, n_chunks;
    atomic_int next;
} mm_job_t;

static size_t xq_layout(const cpu_mat_t *w, int n_tok, size_t *off_scale, size_t *off_corr)
{
    size_t n_pad = round_up((size_t)(n_tok > 0 ? n_tok : 1), TOK_PAD);
    size_t ncorr = w->fmt == CPU_W_Q8_0 ? (size_t)w->kp / CPU_QK : 1;
    size_t q = round_up(n_pad * w->kp, 64);
    *off_scale = q;
    *off_corr = q + round_up(n_pad * sizeof(float), 64);
    return *off_corr + round_up(n_pad * ncorr * sizeof(int32_t), 64);
}

size_t cpu_matmul_scratch(const cpu_mat_t *w, int n_tok)
{
    if (w->fmt == CPU_W_F32 || w->fmt == CPU_W_F16)
        return 0;
    size_t a, b;
    return xq_layout(w, n_tok, &a, &b) + 64; /* + alignment of the caller's pointer */
}

static void quant_token(mm_job_t *j, int t)
{
    const cpu_mat_t *w = j->w;
    int8_t *q = j->q + (size_t)t * w->kp;
    int32_t *corr = j->corr + (size_t)t * j->ncorr;
    if (t >= j->n_tok) {
        memset(q, 0, (size_t)w->kp);
        j->scale[t] = 0.0f;
        memset(corr, 0, (size_t)j->ncorr * sizeof *corr);
        return;
    }
    j->scale[t] = cpu_quantize_row_i8(j->x + (size_t)t * w->cols, q, (size_t)w->cols);
    memset(q + w->cols, 0, (size_t)(w->kp - w->cols));
    if (w->fmt == CPU_W_INT8) {
        int32_t s = 0;
        for (int k = 0; k < w->kp; k++)
            s += q[k];
        corr[0] = -128 * s;
    } else {
        for (int b = 0; b < j->ncorr; b++) {
            int32_t s = 0;
            for (int k = 0; k < CPU_QK; k++)
                s += q[b * CPU_QK + k];
            corr[b] = -128 * s;
        }
    }
}

static void quant_worker(void *ctx, int ith, int nth)
{
    mm_job_t *j = ctx;
    int per = (j->n_pad + nth - 1) / nth;
    int t1 = (ith + 1) * per < j->n_pad ? (ith + 1) * per : j->n_pad;
    for (int t = ith * per; t < t1; t++)
        quant_token(j, t);
}

static void run_chunk(mm_job_t *j, int c)
{
    const int rc = c / j->n_tchunks, tc = c % j->n_tchunks;
    const int u0 = rc * j->runit;
    const int u1 = u0 + j->runit < j->nrunits ? u0 + j->runit : j->nrunits;
    const int t0 = tc * j->tchunk;
    const int t1 = t0 + j->tchunk < j->n_tok ? t0 + j->tchunk : j->n_tok;
    const cpu_mat_t *w = j->w;
    if (w->fmt == CPU_W_F32 || w->fmt == CPU_W_F16) {
        switch (j->isa) {
        case CPU_ISA_AMX:
        case CPU_ISA_AVX512VNNI:
            cpu_kern_f_avx512(w, j->x, u0, u1, t0, t1, j->y);
            return;
        case CPU_ISA_AVX2:
            cpu_kern_f_avx2(w, j->x, u0, u1, t0, t1, j->y);
            return;
        case CPU_ISA_PORTABLE:
            break;
        }
        cpu_kern_f_ref(w, j->x, u0, u1, t0, t1, j->y);
        return;
    }
    cpu_xq_t xq = {j->q, j->scale, j->corr, w->kp};
    switch (j->isa) {
    case CPU_ISA_AMX:
        if (j->n_tok >= AMX_MIN_TOK && cpu_kern_i8_amx(w, &xq, u0, u1, t0, t1, j->y))
            return;
        cpu_kern_i8_avx512(w, &xq, u0, u1, t0, t1, j->y);
        return;
    case CPU_ISA_AVX512VNNI:
        cpu_kern_i8_avx512(w, &xq, u0, u1, t0, t1, j->y);
        return;
    case CPU_ISA_AVX2:
        cpu_kern_i8_avx2(w, &xq, u0, u1, t0, t1, j->y);
        return;
    case CPU_ISA_PORTABLE:
        break;
    }
    cpu_kern_i8_ref(w, &xq, u0, u1, t0, t1, j->y);
}

static void mm_worker(void *ctx, int ith, int nth)
{
    (void)ith;
    (void)nth;
    mm_job_t *j = ctx;
    for (;;) {
        int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->n_chunks)
            break;
        run_chunk(j, c);
    }
}

/* Split N units into chunks: several per thread so that a thread slowed by
 * another process does not hold everyone up, but no more than MAX units. */
static int chunk_units(int n, int nth, int max)
{
    int u = n / (4 * nth);
    if (u > max)
        u = max;
    return u < 1 ? 1 : u;
}

void cpu_matmul(const cpu_mat_t *w, const float *x, int n_tok, float *y, void *scratch,
                cpu_pool_t *pool)
{
    if (n_tok <= 0)
        return;
    const int nth = cpu_pool_size(pool);
    mm_job_t j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.x = x;
    j.y = y;
    j.n_tok = n_tok;
    j.isa = cpu_isa_active();
    atomic_init(&j.next, 0);
    if (w->fmt == CPU_W_F32 || w->fmt == CPU_W_F16) {
        j.nrunits = w->rows;
        /* Multiples of 4 rows (the tile height) keep tails to the last chunk. */
        j.runit = (chunk_units(w->rows, nth, 1024) + 3) / 4 * 4;
        j.tchunk = n_tok;
    } else {
        size_t off_scale, off_corr;
        uint8_t *s = (uint8_t *)round_up((size_t)scratch, 64);
        xq_layout(w, n_tok, &off_scale, &off_corr);
        /* Decode's kernels read the one token only, those of a few tokens
         * at most FEW_TOK (AVX-512's tile of 5 to 8); the rest are zeroed. */
        j.n_pad = n_tok == 1 ? 1 : n_tok <= FEW_TOK ? FEW_TOK : (int)round_up((size_t)n_tok, TOK_PAD);
        j.q = (int8_t *)s;
        j.scale = (float *)(void *)(s + off_scale);
        j.corr = (int32_t *)(void *)(s + off_corr);
        j.ncorr = w->fmt == CPU_W_Q8_0 ? w->kp / CPU_QK : 1;
        if ((size_t)n_tok * w->cols >= QUANT_PAR_MIN && nth > 1)
            cpu_pool_run(pool, quant_worker, &j);
        else
            quant_worker(&j, 0, 1);
        j.nrunits = w->n_rg;
        if (n_tok <= FEW_TOK) {
            /* Decode and short verification passes: one contiguous share of
             * the rows per thread, so each streams its weights in one
             * sequential run (small chunks taken in turn measured ~10%
             * slower for decode, and 2-20% for 8 tokens, the output matrix
             * most: its 256 row groups were handed out one by one). */
            j.runit = (w->n_rg + nth - 1) / nth;
            j.tchunk = FEW_TOK;
        } else {
            j.runit = 1;
            j.tchunk = TOK_CHUNK;
        }
    }
    int n_rchunks = (j.nrunits + j.runit - 1) / j.runit;
    j.n_tchunks = (n_tok + j.tchunk - 1) / j.tchunk;
    j.n_chunks = n_rchunks * j.n_tchunks;
    if (nth > 1 && j.n_chunks > 1)
        cpu_pool_run(pool, mm_worker, &j);
    else
        mm_worker(&j, 0, 1);
}
