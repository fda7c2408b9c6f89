/* cpu_kern_amx.c - the AMX-INT8 prefill kernel for INT8 weights: tdpbsud
 * multiplies 16 tokens x 64 columns of signed activations (tile A, straight
 * from the row-major quantized activations) by 64 columns x 16 rows of the
 * +128-offset weights (tile B: 16 column groups of the row-group layout,
 * read with a 256-byte stride), 16384 multiply-adds per instruction. Each
 * call configures the tiles, computes 32 tokens x 32 rows at a time in four
 * accumulator tiles, and releases the tiles, so threads that never run AMX
 * code keep a small register state. */
#include <immintrin.h>
#include <string.h>

#include "cpu_kern.h"

#define TAMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl")))

/* The tile configuration (palette 1): all eight tiles 16 rows x 64 bytes.
 * tmm0-3 accumulate int32 (token x row), tmm4-5 hold activations, tmm6-7
 * weights. Static: ldtilecfg reads 64 bytes the compiler cannot see. */
typedef struct tile_cfg {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg_t;

static const tile_cfg_t g_cfg __attribute__((aligned(64))) = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

/* C tile (16 tokens x 16 rows, int32) to floats: add the tokens' offset
 * corrections, scale as cpu_kern.h defines, store tokens < NTOK, rows < NVALID. */
static inline __attribute__((always_inline)) TAMX void
epilogue(const int32_t *c, const int32_t *corr, const float *sx, const float *sw, float *y,
         size_t ldy, int ntok, int nvalid)
{
    if (nvalid <= 0)
        return;
    const __mmask16 m = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
    const __m512 swv = _mm512_loadu_ps(sw);
    for (int t = 0; t < ntok && t < 16; t++) {
        __m512i v = _mm512_add_epi32(_mm512_load_si512(c + 16 * t), _mm512_set1_epi32(corr[t]));
        __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(v), swv), _mm512_set1_ps(sx[t]));
        _mm512_mask_storeu_ps(y + (size_t)t * ldy, m, f);
    }
}

TAMX int cpu_kern_i8_amx(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                         float *y)
{
    if (w->fmt != CPU_W_INT8)
        return 0;
    _Alignas(64) int32_t c[4][16 * 16];
    const size_t kp = (size_t)w->kp, ldy = (size_t)w->rows;
    const int nsteps = w->kp / 64;
    const int tpad = (t1 + 15) / 16 * 16; /* x holds zero tokens up to here */
    _tile_loadconfig(&g_cfg);
    for (int rg = rg0; rg < rg1; rg++) {
        const int r0 = rg * CPU_RG;
        for (int h = 0; h < 2; h++) {
            /* Row panels 2h and 2h+1 (16 rows each) of the row group. */
            const uint8_t *wb = w->data + (size_t)rg * CPU_RG * kp + 128 * h;
            const int rh = r0 + 32 * h;
            for (int t = t0; t < tpad; t += 32) {
                const int two = tpad - t >= 32;
                const int8_t *xa = x->q + (size_t)t * kp;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int s = 0; s < nsteps; s++) {
                    const uint8_t *bp = wb + (size_t)s * 16 * CPU_GROUP_BYTES;
                    _tile_loadd(6, bp, CPU_GROUP_BYTES);
                    _tile_loadd(7, bp + 64, CPU_GROUP_BYTES);
                    _tile_loadd(4, xa + 64 * s, kp);
                    _tile_dpbsud(0, 4, 6);
                    _tile_dpbsud(1, 4, 7);
                    if (two) {
                        _tile_loadd(5, xa + 16 * kp + 64 * s, kp);
                        _tile_dpbsud(2, 5, 6);
                        _tile_dpbsud(3, 5, 7);
                    }
                }
                _tile_stored(0, c[0], 64);
                _tile_stored(1, c[1], 64);
                if (two) {
                    _tile_stored(2, c[2], 64);
                    _tile_stored(3, c[3], 64);
                }
                for (int a = 0; a < (two ? 2 : 1); a++) {
                    const int ta = t + 16 * a;
                    for (int p = 0; p < 2; p++)
                        epilogue(c[2 * a + p], x->corr + ta, x->scale + ta,
                                 w->row_scale + rh + 16 * p, y + (size_t)ta * ldy + rh + 16 * p,
                                 ldy, t1 - ta, w->rows - rh - 16 * p);
                }
            }
        }
    }
    _tile_release();
    return 1;
}
