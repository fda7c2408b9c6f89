/* cpu_kern_ref.c - the portable C kernels: any x86-64 (or other) CPU runs
 * them, and they define the exact results the SIMD kernels must reproduce
 * bit for bit on the int8 paths (see cpu_kern.h for the formulas). */
#include <math.h>
#include <string.h>

#include "cpu_kern.h"

static int8_t quant_one(float x, float s)
{
    float v = rintf(x / s);
    if (!(v >= -127.0f)) /* also NaN, as the SIMD paths' saturation gives */
        return -127;
    if (v > 127.0f)
        return 127;
    return (int8_t)v;
}

float cpu_quantize_row_i8_ref(const float *x, int8_t *q, size_t n)
{
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) /* NaN never compares greater: ignored */
            amax = a;
    }
    float s = amax / 127.0f;
    if (s == 0.0f) {
        memset(q, 0, n);
        return 0.0f;
    }
    for (size_t i = 0; i < n; i++)
        q[i] = quant_one(x[i], s);
    return s;
}

int32_t cpu_dot_i8_ref(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static float load_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return cpu_f16_to_f32(h);
}

void cpu_kern_i8_ref(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                     float *y)
{
    const int kp = w->kp, ng = kp / 4, nb = kp / CPU_QK;
    for (int rg = rg0; rg < rg1; rg++) {
        int r0 = rg * CPU_RG;
        int nvalid = w->rows - r0 < CPU_RG ? w->rows - r0 : CPU_RG;
        for (int t = t0; t < t1; t++) {
            const int8_t *xq = x->q + (size_t)t * kp;
            float *yt = y + (size_t)t * w->rows + r0;
            if (w->fmt == CPU_W_INT8) {
                const uint8_t *base = w->data + (size_t)rg * CPU_RG * kp;
                int32_t acc[CPU_RG] = {0};
                for (int g = 0; g < ng; g++) {
                    const uint8_t *wp = base + (size_t)g * CPU_GROUP_BYTES;
                    const int8_t *xg = xq + 4 * g;
                    for (int r = 0; r < CPU_RG; r++)
                        for (int k = 0; k < 4; k++)
                            acc[r] += ((int32_t)wp[4 * r + k] - 128) * xg[k];
                }
                for (int r = 0; r < nvalid; r++)
                    yt[r] = ((float)acc[r] * w->row_scale[r0 + r]) * x->scale[t];
            } else {
                const uint8_t *base = w->data + (size_t)rg * nb * CPU_Q8_BLK;
                float a[CPU_RG] = {0};
                for (int b = 0; b < nb; b++) {
                    const uint8_t *blk = base + (size_t)b * CPU_Q8_BLK;
                    int32_t acc[CPU_RG] = {0};
                    for (int g = 0; g < CPU_QK / 4; g++) {
                        const uint8_t *wp = blk + g * CPU_GROUP_BYTES;
                        const int8_t *xg = xq + b * CPU_QK + 4 * g;
                        for (int r = 0; r < CPU_RG; r++)
                            for (int k = 0; k < 4; k++)
                                acc[r] += ((int32_t)wp[4 * r + k] - 128) * xg[k];
                    }
                    const uint8_t *d = blk + CPU_RG * CPU_QK;
                    for (int r = 0; r < CPU_RG; r++)
                        a[r] = fmaf((float)acc[r], load_f16(d + 2 * r), a[r]);
                }
                for (int r = 0; r < nvalid; r++)
                    yt[r] = a[r] * x->scale[t];
            }
        }
    }
}

void cpu_kern_f_ref(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1, float *y)
{
    const int cols = w->cols;
    for (int r = r0; r < r1; r++) {
        for (int t = t0; t < t1; t++) {
            const float *xt = x + (size_t)t * cols;
            double acc = 0.0;
            if (w->fmt == CPU_W_F32) {
                const float *wr = (const float *)(const void *)w->data + (size_t)r * cols;
                for (int j = 0; j < cols; j++)
                    acc += (double)wr[j] * xt[j];
            } else {
                const uint8_t *wr = w->data + (size_t)r * cols * 2;
                for (int j = 0; j < cols; j++)
                    acc += (double)load_f16(wr + 2 * j) * xt[j];
            }
            y[(size_t)t * w->rows + r] = (float)acc;
        }
    }
}
