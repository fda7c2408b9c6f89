/* test_attention.c - the CPU backend's attention over an int8 KV cache
 * against a double-precision reference of its design, on every ISA: the
 * AVX2 and AVX-512 loops quantize each query head to int8 as the cache rows
 * are (so a score is an integer dot product times two scales), the portable
 * loops keep float queries. Head sizes 64 (the AVX-512 tiles), 24 (AVX2's
 * loops even on AVX-512: not a multiple of 16) and 16; a context of 37
 * positions, which ends inside a tile of 16; passes of 1, 5 and 9 tokens;
 * grouped queries (3 heads per KV head). The test also holds the paths to
 * the keys they store: a tile whose lanes or offset were wrong, or a scale
 * applied twice, moves the outputs far more than the bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/cpu_kernels.h"
#include "test.h"


#define N_CTX 37
#define N_KV 2
#define G 3
#define N_HEAD (N_KV * G)
#define MAX_D 64

static float rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Row X of N floats quantized as the cache stores it, dequantized. */
static void q8_round(const float *x, int n, double *out)
{
    int8_t q[MAX_D];
    float s = cpu_quantize_row_i8(x, q, (size_t)n);
    for (int i = 0; i < n; i++)
        out[i] = (double)q[i] * (double)s;
}

/* The output of query head H of a token at position P in double. K and V
 * rows [pos][kv head][d]; int8 queries when QI8. */
static void reference(const float *k, const float *v, const float *q, int d, int h, int p, bool qi8,
                      double *out)
{
    double qd[MAX_D], kd[MAX_D], vd[MAX_D], sc[N_CTX], m = -INFINITY, l = 0;
    int g = h / G;
    if (qi8)
        q8_round(q, d, qd);
    else
        for (int i = 0; i < d; i++)
            qd[i] = q[i];
    for (int j = 0; j <= p; j++) {
        q8_round(k + ((size_t)j * N_KV + (size_t)g) * (size_t)d, d, kd);
        double s = 0;
        for (int i = 0; i < d; i++)
            s += qd[i] * kd[i];
        sc[j] = s / sqrt((double)d);
        m = sc[j] > m ? sc[j] : m;
    }
    for (int i = 0; i < d; i++)
        out[i] = 0;
    for (int j = 0; j <= p; j++) {
        double e = exp(sc[j] - m);
        l += e;
        q8_round(v + ((size_t)j * N_KV + (size_t)g) * (size_t)d, d, vd);
        for (int i = 0; i < d; i++)
            out[i] += e * vd[i];
    }
    for (int i = 0; i < d; i++)
        out[i] /= l;
}

/* Fill a cache of N_CTX positions in passes of PASS tokens, attending at
 * every pass, and compare each token's heads with the reference. */
static void check(cpu_isa_t isa, int d, int pass)
{
    errmsg_t err = {0};
    be_t *be = NULL;
    be_kv_t *kv = NULL;
    be_buf_t *x = NULL, *qb = NULL, *ob = NULL;
    const int row = 2 * N_KV * d; /* K then V of a token */
    const size_t qrow = (size_t)N_HEAD * (size_t)d;
    float *k = malloc(sizeof(float) * N_CTX * N_KV * (size_t)d), *v = malloc(sizeof(float) * N_CTX * N_KV * (size_t)d);
    float *q = malloc(sizeof(float) * N_CTX * qrow), *o = malloc(sizeof(float) * (size_t)pass * qrow);
    float *xr = malloc(sizeof(float) * (size_t)pass * (size_t)row);
    double ref[MAX_D], worst = 0;
    unsigned seed = 7u + (unsigned)d;
    cpu_isa_force(isa);
    CHECK(k && v && q && o && xr);
    if (!k || !v || !q || !o || !xr)
        goto done;
    for (size_t i = 0; i < (size_t)N_CTX * N_KV * (size_t)d; i++) {
        k[i] = 2.0f * rnd(&seed);
        v[i] = rnd(&seed);
    }
    for (size_t i = 0; i < (size_t)N_CTX * qrow; i++)
        q[i] = 2.0f * rnd(&seed);
    be_kv_desc_t kd = {BE_KV_INT8, 1, N_KV, d, N_CTX};
    CHECKF(be_cpu_new(&be, 2, &err) == 0, "%s", err.msg);
    if (!be)
        goto done;
    const be_ops_t *ops = be->ops;
    CHECKF(ops->reserve(be, pass, N_CTX, N_HEAD, N_KV, d, &err) == 0 && ops->kv_new(be, &kv, &kd, &err) == 0 &&
               ops->buf_new(be, &x, (size_t)pass * (size_t)row, &err) == 0 &&
               ops->buf_new(be, &qb, (size_t)pass * qrow, &err) == 0 &&
               ops->buf_new(be, &ob, (size_t)pass * qrow, &err) == 0,
           "%s", err.msg);
    if (!kv || !x || !qb || !ob)
        goto done;
    for (int p0 = 0; p0 < N_CTX; p0 += pass) {
        int n = N_CTX - p0 < pass ? N_CTX - p0 : pass;
        for (int t = 0; t < n; t++) {
            memcpy(xr + (size_t)t * (size_t)row, k + (size_t)(p0 + t) * N_KV * (size_t)d,
                   sizeof(float) * N_KV * (size_t)d);
            memcpy(xr + (size_t)t * (size_t)row + N_KV * d, v + (size_t)(p0 + t) * N_KV * (size_t)d,
                   sizeof(float) * N_KV * (size_t)d);
        }
        CHECK(ops->buf_set(be, x, 0, xr, (size_t)n * (size_t)row, &err) == 0);
        CHECK(ops->buf_set(be, qb, 0, q + (size_t)p0 * qrow, (size_t)n * qrow, &err) == 0);
        CHECK(ops->begin(be, NULL, n, p0, &err) == 0);
        ops->kv_write(be, kv, 0, n, x, (size_t)row, 0, (size_t)(N_KV * d));
        ops->attention(be, kv, 0, qb, qrow, n, N_HEAD, 1.0f / sqrtf((float)d), ob);
        CHECK(ops->end(be, &err) == 0);
        CHECK(ops->buf_get(be, ob, 0, o, (size_t)n * qrow, &err) == 0);
        for (int t = 0; t < n; t++)
            for (int h = 0; h < N_HEAD; h++) {
                reference(k, v, q + (size_t)(p0 + t) * qrow + (size_t)h * (size_t)d, d, h, p0 + t,
                          isa != CPU_ISA_PORTABLE, ref);
                for (int i = 0; i < d; i++) {
                    double e = fabs((double)o[(size_t)t * qrow + (size_t)h * (size_t)d + (size_t)i] - ref[i]);
                    worst = e > worst ? e : worst;
                }
            }
    }
    /* outputs are of order 0.1-1; float softmax and sums give ~1e-6 */
    CHECKF(worst < 2e-5, "isa %s, head size %d, passes of %d: largest difference %g", cpu_isa_name(isa), d, pass,
           worst);
done:
    if (be) {
        if (ob)
            be->ops->buf_free(be, ob);
        if (qb)
            be->ops->buf_free(be, qb);
        if (x)
            be->ops->buf_free(be, x);
        if (kv)
            be->ops->kv_free(be, kv);
        be->ops->free(be);
    }
    free(k);
    free(v);
    free(q);
    free(o);
    free(xr);
}

static void test_int8_attention_every_isa(void)
{
    cpu_isa_t best = cpu_isa_detect();
    static const int ds[] = {64, 24, 16}, passes[] = {1, 5, 9};
    for (int isa = CPU_ISA_PORTABLE; isa <= (int)best && isa <= CPU_ISA_AVX512VNNI; isa++)
        for (size_t a = 0; a < sizeof ds / sizeof *ds; a++)
            for (size_t b = 0; b < sizeof passes / sizeof *passes; b++)
                check((cpu_isa_t)isa, ds[a], passes[b]);
    cpu_isa_force(best);
}

int main(void)
{
    TEST_RUN(test_int8_attention_every_isa);
    TEST_END();
}
