/* cpu_kern.h - internals shared by the CPU kernel files (not for the engine):
 * the packed weight layouts of cpu_mat_t and the per-ISA kernels that
 * cpu_mat.c dispatches to.
 *
 * Int8 layouts (CPU_W_INT8, CPU_W_Q8_0). Columns are padded with zeros to
 * KP, a multiple of 64, and rows to row groups of 64. A row group stores,
 * for each group of 4 columns g, 64 rows x 4 bytes (256 bytes): row r of the
 * group at byte 4*r, so one 512-bit vector holds 16 rows x 4 columns, the
 * operand vpdpbusd and AMX tdpbsud want, and decode reads the weights as one
 * sequential stream. Bytes are stored offset by +128 (unsigned): the kernels
 * multiply them with signed int8 activations and remove 128 * sum(x) with a
 * per-token correction computed when the activations are quantized.
 *   INT8: row group rg at data + rg * 64 * KP; f32 scale per row in row_scale.
 *   Q8_0: row group rg is KP/32 blocks of CPU_Q8_BLK bytes: 8 column groups
 *         (2048 bytes) then the 64 rows' f16 scales (128 bytes).
 * Float layouts: F32 and F16 are plain row-major ROWS x COLS. */
#ifndef OCTET_CPU_KERN_H
#define OCTET_CPU_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_kernels.h"

#define CPU_RG 64                          /* rows per row group */
#define CPU_KALIGN 64                      /* int8 layouts pad columns to this */
#define CPU_QK 32                          /* Q8_0 block length */
#define CPU_GROUP_BYTES (CPU_RG * 4)       /* one column group of a row group */
#define CPU_Q8_BLK (CPU_RG * CPU_QK + CPU_RG * 2) /* one Q8_0 block of a row group */
#define CPU_INT8_MAX_COLS 65536            /* keeps (w+128)*x sums inside int32 */

struct cpu_mat {
    cpu_wfmt_t fmt;
    int rows, cols;
    int kp;           /* int8 layouts: padded columns */
    int n_rg;         /* int8 layouts: row groups */
    uint8_t *data;    /* the layout above */
    float *row_scale; /* INT8: n_rg * 64 scales, 0 for padding rows */
    size_t data_bytes;
    size_t alloc_bytes; /* data allocation (rounded up to pages or 64 bytes) */
    int mapped;         /* data is an mmap of its own (else in slab) */
    struct slab *slab;  /* the shared mapping holding data, when not mapped */
};

/* Activations quantized for the int8 layouts (in the caller's scratch). */
typedef struct cpu_xq {
    const int8_t *q;      /* n_pad x kp, row-major, zero padded */
    const float *scale;   /* per token: x ~= q * scale */
    const int32_t *corr;  /* INT8: per token -128 * sum(q); Q8_0: per token
                             and block, -128 * block sum (kp/32 per token) */
    int kp;
} cpu_xq_t;

/* Rows of row groups [rg0, rg1) for tokens [t0, t1) of an int8-layout
 * matrix: Y[t][r] (row stride w->rows). Exact integer dots, then
 *   INT8: y = ((float)dot * row_scale[r]) * scale[t]
 *   Q8_0: a = 0; for each block b: a = fmaf((float)dot_b, d[r][b], a);
 *         y = a * scale[t]
 * so every ISA gives the same bits. */
void cpu_kern_i8_ref(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                     float *y);
void cpu_kern_i8_avx2(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                      float *y);
void cpu_kern_i8_avx512(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                        float *y);
/* AMX works on blocks of 16 tokens: tokens up to round_up(t1, 16) must be
 * present (zero) in x; only tokens < t1 are stored. INT8 weights only:
 * returns 0, having done nothing, for Q8_0 (the caller uses AVX-512). */
int cpu_kern_i8_amx(const cpu_mat_t *w, const cpu_xq_t *x, int rg0, int rg1, int t0, int t1,
                    float *y);

/* Float layouts: rows [r0, r1) for tokens [t0, t1); X is n x cols. */
void cpu_kern_f_ref(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1, float *y);
void cpu_kern_f_avx2(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1, float *y);
void cpu_kern_f_avx512(const cpu_mat_t *w, const float *x, int r0, int r1, int t0, int t1,
                       float *y);

/* Per-ISA bodies of the public conversion functions (cpu_convert.c picks). */
float cpu_quantize_row_i8_ref(const float *x, int8_t *q, size_t n);
float cpu_quantize_row_i8_avx2(const float *x, int8_t *q, size_t n);
float cpu_quantize_row_i8_avx512(const float *x, int8_t *q, size_t n);
int32_t cpu_dot_i8_ref(const int8_t *a, const int8_t *b, size_t n);
int32_t cpu_dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n);
int32_t cpu_dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n);
void cpu_f16_to_f32_row_f16c(const uint16_t *src, float *dst, size_t n);
void cpu_f32_to_f16_row_f16c(const float *src, uint16_t *dst, size_t n);

#endif
