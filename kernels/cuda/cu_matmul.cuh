/* cu_matmul.cuh - weight matrices on the GPU and the products with them:
 * uploading (converting f32/f16/bf16/Q8_0 sources on the device into f32,
 * f16, int8 with per-row scales, or Q8_0 split into int8 quants and f16
 * block scales), matrix-vector products for decode that read each weight
 * byte once with 16-byte loads, and batched products for prefill through
 * cuBLASLt (int8 tensor cores with per-token activation scales for int8
 * weights). Int8 and Q8_0 products quantize the activations to int8 per
 * token (absmax / 127), as the CPU backend does, so both backends compute
 * the same integer sums. Internal to kernels/cuda/. */
#ifndef OCTET_CU_MATMUL_CUH
#define OCTET_CU_MATMUL_CUH

#include <cublasLt.h>

#include "cu_common.cuh"

#define CU_QK 32      /* Q8_0 block length */
#define CU_MM_PLANS 64 /* cuBLASLt product shapes remembered */
#define CU_XF_MAX_COLS 32768 /* gemv_i8_xf keeps a row of int8 activations in shared memory */

typedef struct cu_mat {
    be_wfmt_t fmt;
    int rows, cols;
    void *w;    /* rows x cols: float, __half or int8_t (INT8 and Q8_0 quants); device address */
    void *host; /* not NULL: W lives in mapped pinned host memory (this is it), read in place */
    float *rs;  /* INT8: one scale per row */
    __half *bs; /* Q8_0: rows x cols/32 block scales */
    uint64_t bytes; /* device memory held */
} cu_mat_t;

/* Work space of the products, sized by cu_mm_reserve for the largest batch
 * and matrix, allocated once. */
typedef struct cu_mm {
    cublasLtHandle_t lt;
    int max_tok, max_rows, max_cols;
    bool need_half;  /* some matrix is f16 or Q8_0: activations in f16 */
    bool need_deq;   /* some matrix is Q8_0: dequantized row chunks */
    int8_t *xq;      /* max_tok x max_cols activations quantized per token */
    float *xs;       /* their scales */
    __half *xh;      /* max_tok x max_cols activations in f16 */
    __half *wh;      /* a chunk of dequantized Q8_0 rows */
    size_t wh_elems;
    bool q8_exact;   /* Q8_0 prefill through q8_mma (the CPU's arithmetic), not f16 */
    int few_max;     /* passes of 2 .. few_max tokens take the few-token kernels (1: none; CU_FEW_MAX) */
    float *pmax;     /* per-block maxima of the fused one-token products */
    size_t pmax_n;
    void *ws;        /* cuBLASLt work space */
    size_t ws_bytes;
    struct lt_plan *plans; /* cuBLASLt products already planned (cu_matmul.cu) */
    int n_plans, next_plan;
    uint64_t bytes;  /* all of the above */
} cu_mm_t;

/* Convert ROWS x COLS of SRC (host memory, GGUF layout) into M in format
 * FMT, through STAGING (device memory of STAGING_BYTES, at least one
 * source row). COL_SCALE (host, COLS floats) or NULL multiplies column j
 * first. IN_HOST: the converted values go to mapped pinned host memory
 * that kernels read in place (a matrix only looked up a row at a time),
 * the scales still to the device. Synchronous; returns 0 or an OCT_E* code. */
int cu_mat_upload(cu_mat_t *m, be_wfmt_t fmt, be_src_t src, const void *data, int rows, int cols,
                  const float *col_scale, bool in_host, void *staging, size_t staging_bytes, cudaStream_t st,
                  errmsg_t *err);
void cu_mat_release(cu_mat_t *m);
/* Bytes one source row of SRC with COLS columns takes. */
size_t cu_src_row_bytes(be_src_t src, int cols);

/* (Re)allocate MM for batches of MAX_TOK tokens over matrices of up to
 * MAX_ROWS x MAX_COLS; NEED_HALF/NEED_DEQ as in cu_mm_t. */
int cu_mm_reserve(cu_mm_t *mm, int max_tok, int max_rows, int max_cols, bool need_half, bool need_deq,
                  errmsg_t *err);
void cu_mm_release(cu_mm_t *mm);
/* Forget the planned cuBLASLt products (before the handle is destroyed). */
void cu_mm_forget_plans(cu_mm_t *mm);

/* Y[t][r] = sum_j X[t][j] W[r][j] for t < N_TOK; X rows have W->cols
 * floats, Y rows W->rows. One token takes the matrix-vector kernels (which
 * are graph-capturable, and launched as LC says); more take cuBLASLt, or one
 * matrix-vector product per token for shapes cuBLASLt declines. Launches
 * only; returns 0 or OCT_EINTERNAL when cuBLASLt fails otherwise. */
int cu_matmul(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int n_tok, float *y,
              errmsg_t *err);

/* Whether a one-token product with W can take activations another kernel
 * already quantized into mm->xq / mm->xs (fused into RMSNorm or SwiGLU). */
bool cu_gemv_prequant(const cu_mat_t *w);
/* Y = W x (+ BIAS, or NULL) for the one token whose quantized activations
 * are in mm->xq/xs. */
void cu_gemv_quantized(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *bias, float *y);

/* SwiGLU fused into a one-token gate/up product (W: n_ff gate rows, then
 * n_ff up rows; activations in mm->xq/xs): GU gets the product as
 * cu_gemv_quantized would write it, H (n_ff) silu(gate) * up (cu_silu_mul,
 * CPU_EXP as there), and mm->xq/xs H quantized for the next product. Two
 * launches. cu_gemv_glu_ok: whether W and MM allow it. */
bool cu_gemv_glu_ok(const cu_mm_t *mm, const cu_mat_t *w);
void cu_gemv_glu(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, bool cpu_exp, float *gu, float *h);

/* Y = W X for one token whose float activations X (W->cols) the previous
 * kernel wrote with the maxima of |X| over NP parts in cu_mm_pmax(MM)
 * (attention's combine): the product quantizes X itself, as quantize_rows
 * would. cu_gemv_xf_ok: whether W, NP and MM allow it. */
bool cu_gemv_xf_ok(const cu_mm_t *mm, const cu_mat_t *w, int np);
void cu_gemv_xf(cu_mm_t *mm, const cu_launch_t &lc, const cu_mat_t *w, const float *x, int np, float *y);
/* The maxima buffer (mm->pmax_n floats) producers fill for cu_gemv_xf. */
float *cu_mm_pmax(cu_mm_t *mm);

/* Prefill of a gate/up product with int8 weights and the SwiGLU after it,
 * fused: the int32 sums stay in GU (not converted; nothing reads them
 * after the SwiGLU), H gets silu(gate) * up of each of the N_TOK tokens
 * (cu_silu_mul, CPU_EXP as there) and mm->xq/xs its int8 activations, for
 * cu_matmul_prequant. Returns 1 when it does not apply (not int8, or a
 * shape cuBLASLt declines: run the products unfused), 0, or OCT_EINTERNAL. */
int cu_matmul_glu(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, int n_tok, bool cpu_exp,
                  float *gu, float *h, errmsg_t *err);
/* Y = W X for N_TOK tokens whose int8 activations are in mm->xq/xs (int8
 * weights, W->cols columns per row of quants). */
int cu_matmul_prequant(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, int n_tok, float *y, errmsg_t *err);

/* Y = W X for N_TOK tokens of a Q8_0 matrix with the CPU backend's
 * arithmetic, bit for bit (int8 tensor cores per 32-column block, one
 * fused multiply-add per block scale, in block order); what cu_matmul runs
 * for Q8_0 prefill when mm->q8_exact. */
void cu_q8_prefill_exact(cu_mm_t *mm, cudaStream_t st, const cu_mat_t *w, const float *x, int n_tok, float *y);

/* OUT[t] = row IDS[t] of W, dequantized; IDS on the device. */
void cu_embed(const cu_launch_t &lc, const cu_mat_t *w, const int *ids, int n_tok, float *out);

#endif
