/* test_kernels.c - the CPU kernels on every ISA this machine has (forced one
 * by one with cpu_isa_force): int8 / Q8_0 products bit-exact against the
 * integer result of the same quantization, float products against a double
 * reference, the same bits for 1, 2 and 3 threads, f16/bf16 conversions
 * (all 65536 halves, F16C against the portable rounding), quantization
 * bounds, the thread pool under many tiny jobs, and argument errors. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_kern.h"
#include "cpu/cpu_kernels.h"
#include "test.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd_u32(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}

/* Uniform in [-1, 1), with an occasional outlier as real activations have. */
static float rnd_f(void)
{
    float v = (float)(rnd_u32() >> 8) / 8388608.0f - 1.0f;
    if (rnd_u32() % 97 == 0)
        v *= 20.0f;
    return v;
}

static float *rnd_vec(size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd_f();
    return v;
}

static cpu_isa_t g_hw; /* best ISA of this machine */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- ISA selection ---------------------------------------------------------------- */

static void test_isa_select(void)
{
    CHECK_EQ_STR(cpu_isa_name(CPU_ISA_PORTABLE), "portable");
    CHECK_EQ_STR(cpu_isa_name(CPU_ISA_AVX2), "avx2");
    CHECK_EQ_STR(cpu_isa_name(CPU_ISA_AVX512VNNI), "avx512vnni");
    CHECK_EQ_STR(cpu_isa_name(CPU_ISA_AMX), "amx");
    for (int i = 0; i <= (int)g_hw; i++) {
        CHECK_EQ_INT(cpu_isa_force((cpu_isa_t)i), i);
        CHECK_EQ_INT(cpu_isa_active(), i);
    }
    CHECK_EQ_INT(cpu_isa_force(CPU_ISA_AMX), g_hw);
    setenv("OCTET_ISA", "portable", 1);
    CHECK_EQ_INT(cpu_isa_detect(), CPU_ISA_PORTABLE);
    setenv("OCTET_ISA", "avx2", 1);
    CHECK(cpu_isa_detect() == (g_hw < CPU_ISA_AVX2 ? g_hw : CPU_ISA_AVX2));
    setenv("OCTET_ISA", "amx", 1);
    CHECK_EQ_INT(cpu_isa_detect(), g_hw);
    unsetenv("OCTET_ISA");
    CHECK_EQ_INT(cpu_isa_detect(), g_hw);
}

/* ---- conversions ------------------------------------------------------------------- */

static void test_f16_all_values(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cpu_f16_to_f32((uint16_t)h);
        uint16_t back = cpu_f32_to_f16(f);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) { /* NaN: stays NaN, made quiet */
            if (!isnan(f) || back != (uint16_t)(h | 0x200))
                bad++;
        } else if (back != h) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(cpu_f16_to_f32(0x7c00) == INFINITY);
    CHECK(cpu_f16_to_f32(0xfc00) == -INFINITY);
    CHECK(cpu_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(cpu_f16_to_f32(0x03ff) == 1023 * ldexpf(1.0f, -24));
    CHECK(cpu_f16_to_f32(0x0400) == ldexpf(1.0f, -14));
    CHECK(cpu_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(cpu_f16_to_f32(0xc000) == -2.0f);
    CHECK(signbit(cpu_f16_to_f32(0x8000)) && cpu_f16_to_f32(0x8000) == 0.0f);
    /* Rounding: to nearest, ties to even; overflow to inf; underflow to 0. */
    CHECK_EQ_INT(cpu_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(cpu_f32_to_f16(65519.0f), 0x7bff);
    CHECK_EQ_INT(cpu_f32_to_f16(65520.0f), 0x7c00);
    CHECK_EQ_INT(cpu_f32_to_f16(1e10f), 0x7c00);
    CHECK_EQ_INT(cpu_f32_to_f16(-1e10f), 0xfc00);
    CHECK_EQ_INT(cpu_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);
    CHECK_EQ_INT(cpu_f32_to_f16(ldexpf(1.0000001f, -25)), 0x0001);
    CHECK_EQ_INT(cpu_f32_to_f16(3 * ldexpf(1.0f, -25)), 0x0002);
    CHECK_EQ_INT(cpu_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    CHECK_EQ_INT(cpu_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    CHECK_EQ_INT(cpu_f32_to_f16(1e-45f), 0x0000);
    CHECK_EQ_INT(cpu_f32_to_f16(-0.0f), 0x8000);
    CHECK_EQ_INT(cpu_f32_to_f16(INFINITY), 0x7c00);
    uint16_t hn = cpu_f32_to_f16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0);
}

/* The row functions (F16C on AVX2 and up) against the scalar ones, on
 * random bit patterns: every class of float, NaN payloads included. */
static void test_f16_rows_all_isas(void)
{
    enum { N = 1 << 16 };
    float *f = malloc(N * sizeof *f), *f2 = malloc(N * sizeof *f2);
    uint16_t *h = malloc(N * sizeof *h), *h2 = malloc(N * sizeof *h2);
    for (int i = 0; i < N; i++) {
        uint32_t u = rnd_u32();
        if (i % 4 == 1) /* near the f16 range */
            u = (u & 0x80000000u) | ((u % (0x47800000u - 0x33000000u)) + 0x33000000u);
        f[i] = bits_f32(u);
    }
    for (int isa = 0; isa <= (int)g_hw; isa++) {
        cpu_isa_force((cpu_isa_t)isa);
        int bad = 0;
        for (int n = N; n > N - 20; n -= 7) { /* lengths with every tail */
            cpu_f32_to_f16_row(f, h2, (size_t)n);
            for (int i = 0; i < n; i++)
                bad += h2[i] != cpu_f32_to_f16(f[i]);
            for (int i = 0; i < n; i++)
                h[i] = (uint16_t)(i * 2654435761u >> 16);
            cpu_f16_to_f32_row(h, f2, (size_t)n);
            for (int i = 0; i < n; i++)
                bad += f32_bits(f2[i]) != f32_bits(cpu_f16_to_f32(h[i]));
        }
        CHECKF(bad == 0, "isa %s: %d mismatches", cpu_isa_name((cpu_isa_t)isa), bad);
    }
    cpu_isa_force(g_hw);
    free(f);
    free(f2);
    free(h);
    free(h2);
}

static void test_bf16(void)
{
    CHECK(cpu_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(cpu_bf16_to_f32(0xc040) == -3.0f);
    CHECK(cpu_bf16_to_f32(0x7f80) == INFINITY);
    CHECK(cpu_bf16_to_f32(0xff80) == -INFINITY);
    CHECK(isnan(cpu_bf16_to_f32(0x7fc0)));
    CHECK(cpu_bf16_to_f32(0x0001) == bits_f32(0x00010000u)); /* subnormal */
    CHECK(cpu_bf16_to_f32(0x0001) > 0.0f);
}

static void test_quantize_row(void)
{
    static const int sizes[] = {0, 1, 7, 15, 16, 17, 64, 100, 1000, 4864};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si];
        float *x = rnd_vec((size_t)n + 1);
        int8_t *q0 = malloc((size_t)n + 1), *q = malloc((size_t)n + 1);
        float s0 = 0.0f;
        for (int isa = 0; isa <= (int)g_hw; isa++) {
            cpu_isa_force((cpu_isa_t)isa);
            float s = cpu_quantize_row_i8(x, q, (size_t)n);
            if (isa == 0) {
                s0 = s;
                memcpy(q0, q, (size_t)n);
                float amax = 0.0f;
                for (int i = 0; i < n; i++)
                    amax = fmaxf(amax, fabsf(x[i]));
                CHECK(s == amax / 127.0f);
                int worst = 0, has127 = n == 0;
                for (int i = 0; i < n; i++) {
                    worst += fabs((double)x[i] - (double)q[i] * s) > 0.5000001 * s;
                    has127 |= q[i] == 127 || q[i] == -127;
                    worst += q[i] < -127;
                }
                CHECKF(worst == 0 && has127, "n %d", n);
            } else {
                CHECKF(s == s0 && memcmp(q, q0, (size_t)n) == 0, "n %d isa %s differs", n,
                       cpu_isa_name((cpu_isa_t)isa));
            }
        }
        free(x);
        free(q0);
        free(q);
    }
    /* All zero; NaN and infinity handled the same way on every path. */
    float z[40] = {0}, odd[40];
    int8_t q[40], qr[40];
    for (int i = 0; i < 40; i++)
        odd[i] = rnd_f();
    odd[3] = NAN;
    odd[20] = -NAN;
    for (int isa = 0; isa <= (int)g_hw; isa++) {
        cpu_isa_force((cpu_isa_t)isa);
        memset(q, 5, sizeof q);
        CHECK(cpu_quantize_row_i8(z, q, 40) == 0.0f);
        int nz = 0;
        for (int i = 0; i < 40; i++)
            nz += q[i] != 0;
        CHECK_EQ_INT(nz, 0);
        float s = cpu_quantize_row_i8(odd, q, 40);
        if (isa == 0)
            memcpy(qr, q, sizeof q);
        CHECK(isfinite(s) && s > 0.0f);
        CHECK(memcmp(q, qr, sizeof q) == 0);
    }
    cpu_isa_force(g_hw);
}

static void test_dot_i8(void)
{
    static const int sizes[] = {0, 1, 3, 15, 16, 17, 63, 64, 65, 128, 200, 1000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si];
        int8_t *a = malloc((size_t)n + 1), *b = malloc((size_t)n + 1);
        for (int i = 0; i < n; i++) {
            a[i] = (int8_t)(rnd_u32() & 0xff);
            b[i] = (int8_t)(rnd_u32() & 0xff);
        }
        if (n > 2) { /* the extremes, -128 included */
            a[0] = -128;
            b[0] = -128;
            a[1] = 127;
            b[1] = -128;
        }
        int64_t ref = 0;
        for (int i = 0; i < n; i++)
            ref += a[i] * b[i];
        for (int isa = 0; isa <= (int)g_hw; isa++) {
            cpu_isa_force((cpu_isa_t)isa);
            CHECKF(cpu_dot_i8(a, b, (size_t)n) == ref, "n %d isa %s", n,
                   cpu_isa_name((cpu_isa_t)isa));
        }
        free(a);
        free(b);
    }
    cpu_isa_force(g_hw);
}

/* ---- matrix products --------------------------------------------------------------- */

typedef struct shape {
    int rows, cols;
} shape_t;

/* Odd sizes: columns not a multiple of 64 (nor of 16), rows not a multiple
 * of the 64-row group or of any tile, a few row groups. */
static const shape_t g_shapes[] = {{1, 1}, {5, 33}, {64, 64}, {70, 100}, {130, 200}, {200, 515}};
static const int g_ntoks[] = {1, 2, 3, 4, 5, 8, 17, 64};
#define N_SHAPES ((int)(sizeof g_shapes / sizeof g_shapes[0]))
#define N_NTOKS ((int)(sizeof g_ntoks / sizeof g_ntoks[0]))

/* Run the product with an exactly sized, misaligned scratch buffer. */
static void matmul(const cpu_mat_t *m, const float *x, int n_tok, float *y, cpu_pool_t *pool)
{
    size_t sz = cpu_matmul_scratch(m, n_tok);
    uint8_t *buf = malloc(sz + 1);
    cpu_matmul(m, x, n_tok, y, sz ? buf + 1 : NULL, pool);
    free(buf);
}

static cpu_mat_t *mat_new_ok(cpu_wfmt_t fmt, cpu_src_t src, const void *data, int rows, int cols,
                             const float *col_scale)
{
    errmsg_t err;
    cpu_mat_t *m = NULL;
    int rc = cpu_mat_new(&m, fmt, src, data, rows, cols, col_scale, &err);
    CHECKF(rc == 0, "cpu_mat_new %dx%d: %s", rows, cols, rc ? err.msg : "");
    return m;
}

/* INT8 weights: y = ((float)dot * s_w) * s_x exactly, where dot is the
 * integer product of the per-row and per-token quantizations. */
static void test_matmul_int8_exact(void)
{
    for (int si = 0; si < N_SHAPES; si++) {
        const int rows = g_shapes[si].rows, cols = g_shapes[si].cols;
        float *w = rnd_vec((size_t)rows * cols);
        int8_t *qw = malloc((size_t)rows * cols);
        float *sw = malloc((size_t)rows * sizeof *sw);
        cpu_isa_force(CPU_ISA_PORTABLE);
        for (int r = 0; r < rows; r++)
            sw[r] = cpu_quantize_row_i8(w + (size_t)r * cols, qw + (size_t)r * cols, (size_t)cols);
        cpu_mat_t *m = mat_new_ok(CPU_W_INT8, CPU_SRC_F32, w, rows, cols, NULL);
        for (int ni = 0; ni < N_NTOKS && m; ni++) {
            const int n_tok = g_ntoks[ni];
            float *x = rnd_vec((size_t)n_tok * cols);
            float *y = malloc((size_t)n_tok * rows * sizeof *y);
            float *ref = malloc((size_t)n_tok * rows * sizeof *ref);
            int8_t *qx = malloc((size_t)cols);
            int bound_bad = 0;
            for (int t = 0; t < n_tok; t++) {
                float sx = cpu_quantize_row_i8(x + (size_t)t * cols, qx, (size_t)cols);
                for (int r = 0; r < rows; r++) {
                    int64_t dot = 0;
                    double exact = 0.0, bound = 0.0;
                    for (int j = 0; j < cols; j++) {
                        double wv = w[(size_t)r * cols + j], xv = x[(size_t)t * cols + j];
                        dot += qx[j] * qw[(size_t)r * cols + j];
                        exact += wv * xv;
                        bound += fabs(wv) * sx / 2 + fabs(xv) * sw[r] / 2 + sw[r] * sx / 4;
                    }
                    float v = ((float)dot * sw[r]) * sx;
                    ref[(size_t)t * rows + r] = v;
                    /* The quantization error is within its rigorous bound. */
                    bound_bad += fabs(v - exact) > bound * 1.0001 + 1e-6 * fabs(exact);
                }
            }
            CHECKF(bound_bad == 0, "%dx%d n_tok %d: %d outside the quantization bound", rows,
                   cols, n_tok, bound_bad);
            for (int isa = 0; isa <= (int)g_hw; isa++) {
                cpu_isa_force((cpu_isa_t)isa);
                memset(y, 0xff, (size_t)n_tok * rows * sizeof *y);
                matmul(m, x, n_tok, y, NULL);
                int bad = 0;
                for (int i = 0; i < n_tok * rows; i++)
                    bad += f32_bits(y[i]) != f32_bits(ref[i]);
                CHECKF(bad == 0, "int8 %dx%d n_tok %d isa %s: %d of %d differ", rows, cols,
                       n_tok, cpu_isa_name((cpu_isa_t)isa), bad, n_tok * rows);
            }
            free(x);
            free(y);
            free(ref);
            free(qx);
        }
        cpu_mat_free(m);
        free(w);
        free(qw);
        free(sw);
    }
    cpu_isa_force(g_hw);
}

static void put_u16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof v);
}

/* Q8_0 weights used as they are: per block an integer dot, accumulated as
 * a = fmaf((float)dot, d, a), then y = a * s_x. */
static void test_matmul_q8_exact(void)
{
    for (int si = 0; si < N_SHAPES; si++) {
        const int rows = g_shapes[si].rows, cols = (g_shapes[si].cols + 31) / 32 * 32;
        const int nb = cols / 32;
        uint8_t *src = malloc((size_t)rows * nb * 34);
        int8_t *qw = malloc((size_t)rows * cols);
        float *d = malloc((size_t)rows * nb * sizeof *d);
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < nb; b++) {
                uint8_t *blk = src + ((size_t)r * nb + b) * 34;
                uint16_t dh = cpu_f32_to_f16(rnd_f() * 0.01f);
                put_u16(blk, dh);
                d[(size_t)r * nb + b] = cpu_f16_to_f32(dh);
                for (int k = 0; k < 32; k++) {
                    int8_t v = (int8_t)(rnd_u32() % 255 - 127);
                    if (r == 1 && b == 0 && k == 5)
                        v = -128; /* never written by GGML: read as -127 */
                    blk[2 + k] = (uint8_t)v;
                    qw[(size_t)r * cols + b * 32 + k] = v == -128 ? -127 : v;
                }
            }
        cpu_mat_t *m = mat_new_ok(CPU_W_Q8_0, CPU_SRC_Q8_0, src, rows, cols, NULL);
        for (int ni = 0; ni < N_NTOKS && m; ni++) {
            const int n_tok = g_ntoks[ni];
            float *x = rnd_vec((size_t)n_tok * cols);
            float *y = malloc((size_t)n_tok * rows * sizeof *y);
            float *ref = malloc((size_t)n_tok * rows * sizeof *ref);
            int8_t *qx = malloc((size_t)cols);
            cpu_isa_force(CPU_ISA_PORTABLE);
            for (int t = 0; t < n_tok; t++) {
                float sx = cpu_quantize_row_i8(x + (size_t)t * cols, qx, (size_t)cols);
                for (int r = 0; r < rows; r++) {
                    float a = 0.0f;
                    for (int b = 0; b < nb; b++) {
                        int32_t dot = 0;
                        for (int k = 0; k < 32; k++)
                            dot += qx[b * 32 + k] * qw[(size_t)r * cols + b * 32 + k];
                        a = fmaf((float)dot, d[(size_t)r * nb + b], a);
                    }
                    ref[(size_t)t * rows + r] = a * sx;
                }
            }
            for (int isa = 0; isa <= (int)g_hw; isa++) {
                cpu_isa_force((cpu_isa_t)isa);
                memset(y, 0xff, (size_t)n_tok * rows * sizeof *y);
                matmul(m, x, n_tok, y, NULL);
                int bad = 0;
                for (int i = 0; i < n_tok * rows; i++)
                    bad += f32_bits(y[i]) != f32_bits(ref[i]);
                CHECKF(bad == 0, "q8_0 %dx%d n_tok %d isa %s: %d of %d differ", rows, cols,
                       n_tok, cpu_isa_name((cpu_isa_t)isa), bad, n_tok * rows);
            }
            free(x);
            free(y);
            free(ref);
            free(qx);
        }
        cpu_mat_free(m);
        free(src);
        free(qw);
        free(d);
    }
    cpu_isa_force(g_hw);
}

/* Every format from f32 data against a double-precision reference: the
 * float formats within accumulation rounding (4e-6 of sum |w x|), the int8
 * formats within the rigorous bound of their quantization error, from the
 * scales the quantizations use (per row or per 32-block for the weights,
 * per token for the activations). */
static void test_matmul_vs_double(void)
{
    static const char *const names[4] = {"f32", "f16", "int8", "q8_0"};
    for (int si = 0; si < N_SHAPES; si++) {
        const int rows = g_shapes[si].rows, cols = g_shapes[si].cols;
        float *w = rnd_vec((size_t)rows * cols);
        /* Per-weight half step of the int8 and Q8_0 quantizations. */
        double *hw8 = malloc((size_t)rows * cols * sizeof *hw8);
        double *hq8 = malloc((size_t)rows * cols * sizeof *hq8);
        for (int r = 0; r < rows; r++) {
            const float *wr = w + (size_t)r * cols;
            float amax = 0.0f;
            for (int j = 0; j < cols; j++)
                amax = fmaxf(amax, fabsf(wr[j]));
            for (int j = 0; j < cols; j++)
                hw8[(size_t)r * cols + j] = amax / 127.0f / 2;
            for (int b = 0; b * 32 < cols; b++) {
                float bmax = 0.0f;
                for (int j = b * 32; j < cols && j < b * 32 + 32; j++)
                    bmax = fmaxf(bmax, fabsf(wr[j]));
                double d = cpu_f16_to_f32(cpu_f32_to_f16(bmax / 127.0f));
                for (int j = b * 32; j < cols && j < b * 32 + 32; j++)
                    hq8[(size_t)r * cols + j] = d / 2;
            }
        }
        for (int fmt = 0; fmt < 4; fmt++) {
            cpu_mat_t *m = mat_new_ok((cpu_wfmt_t)fmt, CPU_SRC_F32, w, rows, cols, NULL);
            if (!m)
                continue;
            CHECK_EQ_INT(cpu_mat_fmt(m), fmt);
            CHECK_EQ_INT(cpu_mat_rows(m), rows);
            CHECK_EQ_INT(cpu_mat_cols(m), cols);
            CHECK(cpu_mat_bytes(m) >= (size_t)rows * cols * (fmt == 0 ? 4 : fmt == 1 ? 2 : 1));
            for (int ni = 0; ni < N_NTOKS; ni++) {
                const int n_tok = g_ntoks[ni];
                float *x = rnd_vec((size_t)n_tok * cols);
                float *y = malloc((size_t)n_tok * rows * sizeof *y);
                double *ref = malloc((size_t)n_tok * rows * sizeof *ref);
                double *tol = malloc((size_t)n_tok * rows * sizeof *tol);
                for (int t = 0; t < n_tok; t++) {
                    const float *xt = x + (size_t)t * cols;
                    float xmax = 0.0f;
                    for (int j = 0; j < cols; j++)
                        xmax = fmaxf(xmax, fabsf(xt[j]));
                    const double hx = xmax / 127.0f / 2;
                    for (int r = 0; r < rows; r++) {
                        double acc = 0.0, mag = 0.0, qerr = 0.0;
                        for (int j = 0; j < cols; j++) {
                            size_t i = (size_t)r * cols + j;
                            double wv = fmt == CPU_W_F16 ? cpu_f16_to_f32(cpu_f32_to_f16(w[i])) : w[i];
                            double hwj = fmt == CPU_W_INT8 ? hw8[i] : hq8[i];
                            acc += wv * xt[j];
                            mag += fabs(wv * xt[j]);
                            qerr += fabs(xt[j]) * hwj + fabs(wv) * hx + hwj * hx;
                        }
                        ref[(size_t)t * rows + r] = acc;
                        tol[(size_t)t * rows + r] = 4e-6 * mag + (fmt >= CPU_W_INT8 ? qerr * 1.001 : 0.0);
                    }
                }
                for (int isa = 0; isa <= (int)g_hw; isa++) {
                    cpu_isa_force((cpu_isa_t)isa);
                    matmul(m, x, n_tok, y, NULL);
                    int bad = 0;
                    for (int i = 0; i < n_tok * rows; i++)
                        bad += !(fabs(y[i] - ref[i]) <= tol[i]);
                    CHECKF(bad == 0, "%s %dx%d n_tok %d isa %s: %d of %d outside the bound",
                           names[fmt], rows, cols, n_tok, cpu_isa_name((cpu_isa_t)isa), bad,
                           n_tok * rows);
                }
                free(x);
                free(y);
                free(ref);
                free(tol);
            }
            cpu_mat_free(m);
        }
        free(w);
        free(hw8);
        free(hq8);
    }
    cpu_isa_force(g_hw);
}

/* The same bits whatever the thread count (and without a pool), on shapes
 * cut into many chunks: several row groups, more tokens than one chunk. */
static void test_matmul_threads_identical(void)
{
    static const shape_t shapes[] = {{1000, 300}, {259, 1100}};
    /* 1 to 8 tokens: one contiguous share of the rows per thread; more: chunks taken in turn */
    static const int ntoks[] = {1, 5, 8, 9, 100};
    errmsg_t err;
    cpu_pool_t *pools[4] = {NULL};
    for (int i = 1; i < 4; i++)
        CHECK(cpu_pool_new(&pools[i], i, &err) == 0);
    for (size_t si = 0; si < 2; si++) {
        const int rows = shapes[si].rows, cols = shapes[si].cols;
        float *w = rnd_vec((size_t)rows * cols);
        for (int fmt = 0; fmt < 4; fmt++) {
            cpu_mat_t *m = mat_new_ok((cpu_wfmt_t)fmt, CPU_SRC_F32, w, rows, cols, NULL);
            for (size_t ni = 0; ni < sizeof ntoks / sizeof *ntoks && m; ni++) {
                const int n_tok = ntoks[ni];
                const size_t ny = (size_t)n_tok * rows;
                float *x = rnd_vec((size_t)n_tok * cols);
                float *y0 = malloc(ny * sizeof *y0), *y = malloc(ny * sizeof *y);
                for (int isa = 0; isa <= (int)g_hw; isa++) {
                    cpu_isa_force((cpu_isa_t)isa);
                    if (isa == 0 && (fmt == 0 || fmt == 1) && (rows > 300 || n_tok > 5))
                        continue; /* portable float: slow, and covered elsewhere */
                    matmul(m, x, n_tok, y0, NULL);
                    for (int p = 1; p < 4; p++) {
                        memset(y, 0, ny * sizeof *y);
                        matmul(m, x, n_tok, y, pools[p]);
                        CHECKF(memcmp(y, y0, ny * sizeof *y) == 0,
                               "fmt %d %dx%d n_tok %d isa %s: %d threads differ", fmt, rows, cols,
                               n_tok, cpu_isa_name((cpu_isa_t)isa), p);
                    }
                }
                free(x);
                free(y0);
                free(y);
            }
            cpu_mat_free(m);
        }
        free(w);
    }
    for (int i = 1; i < 4; i++)
        cpu_pool_free(pools[i]);
    cpu_isa_force(g_hw);
}

/* col_scale gives exactly what scaling the source first gives, for every
 * format and source layout. */
static void test_col_scale(void)
{
    const int rows = 70, cols = 96, n_tok = 3;
    float *w = rnd_vec((size_t)rows * cols), *ws = malloc((size_t)rows * cols * sizeof *ws);
    float *cs = malloc(cols * sizeof *cs);
    uint16_t *wh = malloc((size_t)rows * cols * sizeof *wh);
    for (int j = 0; j < cols; j++)
        cs[j] = 0.25f + (float)(rnd_u32() % 1000) / 250.0f;
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        wh[i] = cpu_f32_to_f16(w[i]);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            ws[(size_t)r * cols + j] = cpu_f16_to_f32(wh[(size_t)r * cols + j]) * cs[j];
    float *x = rnd_vec((size_t)n_tok * cols);
    float *y0 = malloc((size_t)n_tok * rows * sizeof *y0), *y1 = malloc((size_t)n_tok * rows * sizeof *y1);
    for (int fmt = 0; fmt < 4; fmt++) {
        cpu_mat_t *a = mat_new_ok((cpu_wfmt_t)fmt, CPU_SRC_F16, wh, rows, cols, cs);
        cpu_mat_t *b = mat_new_ok((cpu_wfmt_t)fmt, CPU_SRC_F32, ws, rows, cols, NULL);
        if (a && b) {
            matmul(a, x, n_tok, y0, NULL);
            matmul(b, x, n_tok, y1, NULL);
            CHECKF(memcmp(y0, y1, (size_t)n_tok * rows * sizeof *y0) == 0, "fmt %d", fmt);
        }
        cpu_mat_free(a);
        cpu_mat_free(b);
    }
    free(w);
    free(ws);
    free(cs);
    free(wh);
    free(x);
    free(y0);
    free(y1);
}

/* get_row: exact for f32 and for the stored quantizations. */
/* A Q8_0 source kept as Q8_0 is copied into the packed layout without
 * going through floats: the bytes must be those of the layout as
 * cpu_kern.h describes it, built here element by element (quants + 128,
 * -128 read as -127, padding rows and columns quant 0 with scale 0), the
 * scales' bits kept whatever they are (NaN, subnormal). */
static void test_q8_copy_layout(void)
{
    static const int shapes[][2] = {{1, 32}, {63, 96}, {64, 64}, {65, 160}, {131, 256}, {200, 32}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int rows = shapes[si][0], cols = shapes[si][1], nb = cols / 32;
        const int kp = (cols + 63) / 64 * 64, nrg = (rows + 63) / 64, nbp = kp / 32;
        uint8_t *src = malloc((size_t)rows * nb * 34);
        for (size_t i = 0; i < (size_t)rows * nb * 34; i++)
            src[i] = (uint8_t)rnd_u32();
        src[2] = 0x80; /* -128 */
        size_t bytes = (size_t)nrg * nbp * CPU_Q8_BLK;
        uint8_t *ref = malloc(bytes);
        for (int rg = 0; rg < nrg; rg++)
            for (int b = 0; b < nbp; b++) {
                uint8_t *blk = ref + ((size_t)rg * nbp + b) * CPU_Q8_BLK;
                for (int rr = 0; rr < 64; rr++) {
                    const int r = rg * 64 + rr;
                    const uint8_t *sb = r < rows && b < nb ? src + ((size_t)r * nb + b) * 34 : NULL;
                    for (int k = 0; k < 32; k++) {
                        int v = sb ? (int8_t)sb[2 + k] : 0;
                        blk[(k / 4) * CPU_GROUP_BYTES + 4 * rr + k % 4] = (uint8_t)((v == -128 ? -127 : v) + 128);
                    }
                    blk[64 * 32 + 2 * rr] = sb ? sb[0] : 0;
                    blk[64 * 32 + 2 * rr + 1] = sb ? sb[1] : 0;
                }
            }
        /* the portable loop and the ISA's (eight rows at a time with AVX2) */
        for (int isa = CPU_ISA_PORTABLE; isa <= (int)g_hw; isa += g_hw > CPU_ISA_PORTABLE ? (int)g_hw : 1) {
            cpu_isa_force((cpu_isa_t)isa);
            cpu_mat_t *m = mat_new_ok(CPU_W_Q8_0, CPU_SRC_Q8_0, src, rows, cols, NULL);
            if (m) {
                CHECKF(m->data_bytes == bytes, "q8 copy %dx%d: %zu bytes, expected %zu", rows, cols, m->data_bytes,
                       bytes);
                CHECKF(m->data_bytes == bytes && !memcmp(m->data, ref, bytes), "q8 copy %dx%d, ISA %d: layout differs",
                       rows, cols, isa);
            }
            cpu_mat_free(m);
        }
        cpu_isa_force(g_hw);
        free(src);
        free(ref);
    }
}

static void test_get_row(void)
{
    const int rows = 131, cols = 100;
    float *w = rnd_vec((size_t)rows * cols), *out = malloc(cols * sizeof *out);
    uint16_t *wb = malloc((size_t)rows * cols * sizeof *wb);
    for (size_t i = 0; i < (size_t)rows * cols; i++) /* bf16 by truncation */
        wb[i] = (uint16_t)(f32_bits(w[i]) >> 16);
    int8_t *q = malloc(cols);
    cpu_mat_t *mf = mat_new_ok(CPU_W_F32, CPU_SRC_F32, w, rows, cols, NULL);
    cpu_mat_t *mh = mat_new_ok(CPU_W_F16, CPU_SRC_F32, w, rows, cols, NULL);
    cpu_mat_t *mi = mat_new_ok(CPU_W_INT8, CPU_SRC_F32, w, rows, cols, NULL);
    cpu_mat_t *mb = mat_new_ok(CPU_W_F32, CPU_SRC_BF16, wb, rows, cols, NULL);
    cpu_mat_t *mq = mat_new_ok(CPU_W_Q8_0, CPU_SRC_F32, w, rows, cols, NULL);
    int bad[5] = {0};
    for (int r = 0; mf && mh && mi && mb && mq && r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        cpu_mat_get_row(mf, r, out);
        bad[0] += memcmp(out, wr, cols * sizeof *out) != 0;
        cpu_mat_get_row(mh, r, out);
        for (int j = 0; j < cols; j++)
            bad[1] += out[j] != cpu_f16_to_f32(cpu_f32_to_f16(wr[j]));
        float s = cpu_quantize_row_i8(wr, q, cols);
        cpu_mat_get_row(mi, r, out);
        for (int j = 0; j < cols; j++)
            bad[2] += out[j] != (float)q[j] * s;
        cpu_mat_get_row(mb, r, out);
        for (int j = 0; j < cols; j++)
            bad[3] += out[j] != cpu_bf16_to_f32(wb[(size_t)r * cols + j]);
        /* Q8_0 from f32: each block within its scale of the value. */
        cpu_mat_get_row(mq, r, out);
        for (int b = 0; b * 32 < cols; b++) {
            float amax = 0.0f;
            for (int k = b * 32; k < cols && k < b * 32 + 32; k++)
                amax = fmaxf(amax, fabsf(wr[k]));
            for (int k = b * 32; k < cols && k < b * 32 + 32; k++)
                bad[4] += fabsf(out[k] - wr[k]) > 0.51f * amax / 127.0f;
        }
    }
    for (int i = 0; i < 5; i++)
        CHECKF(bad[i] == 0, "case %d: %d wrong", i, bad[i]);
    cpu_mat_free(mf);
    cpu_mat_free(mh);
    cpu_mat_free(mi);
    cpu_mat_free(mb);
    cpu_mat_free(mq);
    free(w);
    free(out);
    free(wb);
    free(q);
}

/* Matrices under 2 MiB share huge-page slabs (cpu_mat.c): each is 64-byte
 * aligned, none overlaps another, each keeps its rows while others come
 * and go in any order over several slabs, and a freed slab's memory is
 * given back and taken again. */
static void test_mat_slabs(void)
{
    enum { N = 90, ROWS = 64, COLS = 1000 }; /* 64 KB each: 90 fill three slabs */
    cpu_mat_t *m[N] = {0};
    float *w = rnd_vec((size_t)ROWS * COLS), *out = malloc(COLS * sizeof *out);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++)
            if (!m[i]) {
                w[0] = (float)i; /* each matrix its own first row */
                m[i] = mat_new_ok(CPU_W_F32, CPU_SRC_F32, w, ROWS, COLS, NULL);
            }
        int misaligned = 0, overlap = 0, wrong = 0;
        for (int i = 0; i < N; i++) {
            if (!m[i])
                return;
            misaligned += ((uintptr_t)m[i]->data & 63) != 0;
            for (int j = 0; j < i; j++)
                overlap += m[i]->data < m[j]->data + m[j]->data_bytes && m[j]->data < m[i]->data + m[i]->data_bytes;
            cpu_mat_get_row(m[i], 0, out);
            wrong += out[0] != (float)i || memcmp(out + 1, w + 1, (COLS - 1) * sizeof *out) != 0;
        }
        CHECKF(misaligned == 0 && overlap == 0 && wrong == 0, "round %d: %d misaligned, %d overlapping, %d wrong",
               round, misaligned, overlap, wrong);
        /* every other one, then a whole slab's worth: the rest keep their rows */
        for (int i = 0; i < N; i += 2) {
            cpu_mat_free(m[i]);
            m[i] = NULL;
        }
        for (int i = 1; i < 40; i += 2) {
            cpu_mat_free(m[i]);
            m[i] = NULL;
        }
    }
    for (int i = 0; i < N; i++)
        cpu_mat_free(m[i]);
    free(w);
    free(out);
}

static void test_mat_errors(void)
{
    errmsg_t err;
    cpu_mat_t *m = (cpu_mat_t *)&err;
    float w[64] = {0};
    errmsg_clear(&err);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_INT8, CPU_SRC_F32, w, 0, 4, NULL, &err), OCT_EINVAL);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "0 x 4") != NULL);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_INT8, CPU_SRC_F32, w, 4, -1, NULL, &err), OCT_EINVAL);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_INT8, CPU_SRC_F32, NULL, 4, 4, NULL, &err), OCT_EINVAL);
    CHECK_EQ_INT(cpu_mat_new(&m, (cpu_wfmt_t)9, CPU_SRC_F32, w, 4, 4, NULL, &err), OCT_EINVAL);
    CHECK(strstr(err.msg, "format") != NULL);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_F32, (cpu_src_t)7, w, 4, 4, NULL, &err), OCT_EINVAL);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_Q8_0, CPU_SRC_Q8_0, w, 1, 33, NULL, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "multiple of 32") != NULL);
    CHECK_EQ_INT(cpu_mat_new(&m, CPU_W_INT8, CPU_SRC_F32, w, 1, 70000, NULL, &err),
                 OCT_EUNSUPPORTED);
    CHECK(strstr(err.msg, "70000") != NULL);
    CHECK(cpu_mat_new(NULL, CPU_W_F32, CPU_SRC_F32, w, 1, 1, NULL, NULL) == OCT_EINVAL);
    cpu_pool_t *p = (cpu_pool_t *)&err;
    CHECK_EQ_INT(cpu_pool_new(&p, 5000, &err), OCT_EINVAL);
    CHECK(p == NULL);
}

/* Non-finite activations stay in their own token's outputs. */
static void test_matmul_nonfinite(void)
{
    const int rows = 70, cols = 100, n_tok = 3;
    float *w = rnd_vec((size_t)rows * cols), *x = rnd_vec((size_t)n_tok * cols);
    float *y = malloc((size_t)n_tok * rows * sizeof *y);
    x[5] = NAN;
    x[cols + 7] = INFINITY;
    for (int fmt = 0; fmt < 4; fmt++) {
        cpu_mat_t *m = mat_new_ok((cpu_wfmt_t)fmt, CPU_SRC_F32, w, rows, cols, NULL);
        for (int isa = 0; m && isa <= (int)g_hw; isa++) {
            cpu_isa_force((cpu_isa_t)isa);
            matmul(m, x, n_tok, y, NULL);
            int finite = 0;
            for (int r = 0; r < rows; r++)
                finite += isfinite(y[2 * rows + r]) != 0;
            CHECKF(finite == rows, "fmt %d isa %s", fmt, cpu_isa_name((cpu_isa_t)isa));
        }
        cpu_mat_free(m);
    }
    cpu_isa_force(g_hw);
    free(w);
    free(x);
    free(y);
}

/* ---- thread pool ---------------------------------------------------------------- */

typedef struct stress {
    atomic_int calls[8];
    atomic_int bad_nth;
    int nth;
} stress_t;

static void stress_job(void *ctx, int ith, int nth)
{
    stress_t *s = ctx;
    if (nth != s->nth || ith < 0 || ith >= 8)
        atomic_fetch_add(&s->bad_nth, 1);
    else
        atomic_fetch_add(&s->calls[ith], 1);
}

static void test_pool_stress(void)
{
    errmsg_t err;
    for (int n = 1; n <= 4; n++) {
        cpu_pool_t *p = NULL;
        CHECK(cpu_pool_new(&p, n, &err) == 0);
        if (!p)
            continue;
        CHECK_EQ_INT(cpu_pool_size(p), n);
        stress_t s;
        memset(&s, 0, sizeof s);
        s.nth = n;
        const int runs = 20000;
        for (int i = 0; i < runs; i++) {
            cpu_pool_run(p, stress_job, &s);
            if (i % 5000 == 4999) { /* let the workers fall asleep: the futex path */
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL);
            }
        }
        CHECK_EQ_INT(atomic_load(&s.bad_nth), 0);
        for (int i = 0; i < n; i++)
            CHECKF(atomic_load(&s.calls[i]) == runs, "pool %d thread %d: %d calls", n, i,
                   atomic_load(&s.calls[i]));
        cpu_pool_free(p);
    }
    /* Pools started and stopped in quick succession. */
    for (int i = 0; i < 50; i++) {
        cpu_pool_t *p = NULL;
        CHECK(cpu_pool_new(&p, 3, &err) == 0);
        stress_t s;
        memset(&s, 0, sizeof s);
        s.nth = 3;
        if (i % 2)
            cpu_pool_run(p, stress_job, &s);
        cpu_pool_free(p);
    }
    cpu_pool_t *p = NULL;
    CHECK(cpu_pool_new(&p, 0, &err) == 0); /* all cores */
    CHECK(cpu_pool_size(p) >= 1);
    cpu_pool_free(p);
    CHECK_EQ_INT(cpu_pool_size(NULL), 1);
}

int main(void)
{
    unsetenv("OCTET_ISA");
    g_hw = cpu_isa_force(CPU_ISA_AMX);
    printf("# best ISA here: %s\n", cpu_isa_name(g_hw));
    TEST_RUN(test_isa_select);
    TEST_RUN(test_f16_all_values);
    TEST_RUN(test_f16_rows_all_isas);
    TEST_RUN(test_bf16);
    TEST_RUN(test_quantize_row);
    TEST_RUN(test_dot_i8);
    TEST_RUN(test_matmul_int8_exact);
    TEST_RUN(test_matmul_q8_exact);
    TEST_RUN(test_matmul_vs_double);
    TEST_RUN(test_matmul_threads_identical);
    TEST_RUN(test_col_scale);
    TEST_RUN(test_q8_copy_layout);
    TEST_RUN(test_get_row);
    TEST_RUN(test_mat_slabs);
    TEST_RUN(test_mat_errors);
    TEST_RUN(test_matmul_nonfinite);
    TEST_RUN(test_pool_stress);
    TEST_END();
}
