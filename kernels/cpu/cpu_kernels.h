/* cpu_kernels.h - the CPU compute kernels the CPU backend is built from:
 * a spinning thread pool for fine-grained parallel loops, weight matrices in
 * f32 / f16 / int8 (per-row scale) / Q8_0 (per-32-block scale) layouts, and
 * matrix products Y = X * W^T for one token (decode) or many (prefill), with
 * activations quantized to int8 on the fly for the int8 formats. Integer dot
 * products use AVX-512 VNNI or AVX2, picked at run time; a portable C path
 * gives the same results everywhere. Kernels know nothing of models. */
#ifndef OCTET_CPU_KERNELS_H
#define OCTET_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

/* ---- CPU features ------------------------------------------------------ */

typedef enum cpu_isa {
    CPU_ISA_PORTABLE = 0,
    CPU_ISA_AVX2 = 1,       /* AVX2 + FMA + F16C: vpmaddubsw */
    CPU_ISA_AVX512VNNI = 2, /* AVX-512 F/BW/VL + VNNI: vpdpbusd */
    CPU_ISA_AMX = 3,        /* AVX512VNNI + AMX-INT8 tiles (tdpbsud) for int8 prefill */
} cpu_isa_t;

/* Best ISA this CPU supports, limited by OCTET_ISA=portable|avx2|avx512vnni|amx in the environment. */
cpu_isa_t cpu_isa_detect(void);
const char *cpu_isa_name(cpu_isa_t isa);
/* The ISA the kernels use: cpu_isa_detect() unless cpu_isa_force changed it. */
cpu_isa_t cpu_isa_active(void);
/* Make the kernels use ISA, or the best supported one below it; returns the
 * ISA now in use. For tests and benchmarks: call it while no kernel runs. */
cpu_isa_t cpu_isa_force(cpu_isa_t isa);

/* ---- thread pool --------------------------------------------------------- */

typedef struct cpu_pool cpu_pool_t;

/* N threads in all, including the caller (n <= 0: all online cores). Workers
 * spin briefly between jobs (decode issues thousands of small jobs a second)
 * and then sleep. */
int cpu_pool_new(cpu_pool_t **out, int n_threads, errmsg_t *err);
void cpu_pool_free(cpu_pool_t *p);
int cpu_pool_size(const cpu_pool_t *p);
/* Run fn(ctx, ith, nth) for ith = 0..nth-1 on the pool's threads (the caller
 * is thread 0) and return when all are done. */
void cpu_pool_run(cpu_pool_t *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

/* ---- weight matrices ---------------------------------------------------- */

typedef enum cpu_wfmt {
    CPU_W_F32,
    CPU_W_F16,
    CPU_W_INT8, /* symmetric, one f32 scale per output row */
    CPU_W_Q8_0, /* blocks of 32 int8 with one scale each (GGUF Q8_0) */
} cpu_wfmt_t;

/* A matrix of ROWS output features by COLS inputs (GGUF ne = {cols, rows}),
 * owned by the kernels (they may repack it for speed). */
typedef struct cpu_mat cpu_mat_t;

/* Source data layouts accepted when creating a matrix. */
typedef enum cpu_src {
    CPU_SRC_F32,
    CPU_SRC_F16,
    CPU_SRC_BF16,
    CPU_SRC_Q8_0,
} cpu_src_t;

/* Build a matrix in format FMT from SRC (row-major, ROWS x COLS, as in GGUF).
 * col_scale, when not NULL, multiplies column j by col_scale[j] before
 * conversion (SmoothQuant folds its factors in this way). Q8_0 sources may be
 * kept as CPU_W_Q8_0 or converted; any source converts to f32/f16/int8.
 * Kept Q8_0 quants of -128 (GGML never writes them) are read as -127.
 * Int8 formats take at most 65536 columns (OCT_EUNSUPPORTED beyond). */
int cpu_mat_new(cpu_mat_t **out, cpu_wfmt_t fmt, cpu_src_t src, const void *data, int rows,
                int cols, const float *col_scale, errmsg_t *err);
void cpu_mat_free(cpu_mat_t *m);
size_t cpu_mat_bytes(const cpu_mat_t *m); /* memory held, for the memory report */
cpu_wfmt_t cpu_mat_fmt(const cpu_mat_t *m);
int cpu_mat_rows(const cpu_mat_t *m);
int cpu_mat_cols(const cpu_mat_t *m);
/* Row R dequantized to f32 (embedding lookups). */
void cpu_mat_get_row(const cpu_mat_t *m, int r, float *out);

/* Y[t][r] = sum_j X[t][j] * W[r][j] for t < n_tok (X is n_tok x cols, Y is
 * n_tok x rows, both row-major f32). For int8/Q8_0 weights, X is quantized to
 * int8 per token (absmax) inside. Work is split across the pool. SCRATCH must
 * hold cpu_matmul_scratch(m, n_tok) bytes (callers allocate it once, up front;
 * the size grows with n_tok, 0 for f32/f16, any alignment). POOL may be NULL:
 * the calling thread does all the work. The int8 results are the same bits
 * on every ISA and for every thread count; f32/f16 for every thread count. */
void cpu_matmul(const cpu_mat_t *w, const float *x, int n_tok, float *y, void *scratch,
                cpu_pool_t *pool);
size_t cpu_matmul_scratch(const cpu_mat_t *w, int n_tok);

/* ---- conversions ---------------------------------------------------------- */

float cpu_f16_to_f32(uint16_t h);
uint16_t cpu_f32_to_f16(float f);
float cpu_bf16_to_f32(uint16_t h);
void cpu_f16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void cpu_f32_to_f16_row(const float *src, uint16_t *dst, size_t n);

/* Symmetric absmax int8 quantization of N floats: q = round(x / s), s = max|x| / 127
 * (s = 0 and q = 0 for an all-zero row). Returns s. Rounds half to even,
 * q in [-127, 127]; NaNs are left out of the max and quantize to -127. */
float cpu_quantize_row_i8(const float *x, int8_t *q, size_t n);
/* Dot product of two int8 vectors (used by attention over the int8 KV cache). */
int32_t cpu_dot_i8(const int8_t *a, const int8_t *b, size_t n);

#endif
