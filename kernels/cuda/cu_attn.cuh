/* cu_attn.cuh - the CUDA backend's KV-cache writes and attention: decode
 * attention that reads the cache in its stored format (f32, f16, int8),
 * serves all query heads of a KV group from one read and splits long
 * contexts across blocks (flash-decoding); prefill attention on tensor cores
 * for long prompts. Internal to kernels/cuda/ (backend_cuda.cu calls it).
 *
 * Graph safety: a decode step (n_tok == 1) is captured once in a CUDA graph
 * and replayed at every position, so nothing a decode launch does may depend
 * on the host's pos0: kernels read the position from D_POS0 (device memory,
 * updated before each replay) and size their grids from n_ctx alone. Prefill
 * launches (n_tok > 1) are never captured and may use the host POS0. */
#ifndef OCTET_CU_ATTN_CUH
#define OCTET_CU_ATTN_CUH

#include "cu_common.cuh"

/* The largest head size cu_attention handles (attn_simt keeps 8 dims per
 * lane); cu_reserve refuses larger ones. */
#define CU_ATT_MAX_HEAD_DIM 256

/* Bytes of work space cu_attention needs for up to MAX_TOK tokens with
 * N_HEAD query heads of HEAD_DIM over N_CTX positions. */
size_t cu_attn_work_bytes(int max_tok, int n_ctx, int n_head, int n_head_kv, int head_dim);

/* Store K (floats K_OFF.. of each row of X, n_head_kv * head_dim of them)
 * and V (from V_OFF) of N_TOK tokens at positions *D_POS0 .. of LAYER;
 * int8 rows get scale absmax / 127 (cu_quant_one). */
void cu_kv_write(cudaStream_t st, const cu_kv_t *kv, int layer, int n_tok, const float *x, size_t ld,
                 size_t k_off, size_t v_off, const int *d_pos0);

/* Causal grouped-query attention, as be_ops_t.attention: token t (position
 * pos0 + t) of query head h (floats h * head_dim of row t of Q, stride LD)
 * over positions 0 .. pos0 + t of KV head h / (n_head / n_head_kv), scores
 * scaled by SCALE; OUT is n_tok x (n_head * head_dim) floats. POS0 is the
 * host's value (prefill only, see above); D_POS0 the same on the device.
 * WORK holds cu_attn_work_bytes. */
void cu_attention(cudaStream_t st, const cu_kv_t *kv, int layer, const float *q, size_t ld, int n_tok,
                  int n_head, float scale, int pos0, const int *d_pos0, float *out, void *work);

#endif
