/* cu_attn.cuh - the CUDA backend's KV-cache writes and attention: decode
 * attention that reads the cache in its stored format (f32, f16, int8),
 * serves all query heads of a KV group from one read and splits long
 * contexts across blocks (flash-decoding); prefill attention on tensor cores
 * for long prompts. Internal to kernels/cuda/ (backend_cuda.cu calls it).
 *
 * Graph safety: a decode step (n_tok == 1), and a pass of up to
 * cu_att_opt_t.few_max tokens (verification), is captured once in a CUDA graph and replayed at
 * every position, so nothing such a launch does may depend on the host's
 * pos0: kernels read the position from D_POS0 (device memory, updated before
 * each replay) and size their grids from n_ctx and n_tok alone. Prefill
 * launches (more tokens) are never captured and may use the host POS0. */
#ifndef OCTET_CU_ATTN_CUH
#define OCTET_CU_ATTN_CUH

#include "cu_common.cuh"

/* The largest head size cu_attention handles (attn_simt keeps 8 dims per
 * lane); cu_reserve refuses larger ones. */
#define CU_ATT_MAX_HEAD_DIM 256

/* Bytes of work space cu_attention needs for decode-style passes of up to
 * MAX_DEC tokens (1, or the few_max of the passes) with N_HEAD query heads
 * of HEAD_DIM over N_CTX positions. */
size_t cu_attn_work_bytes(int max_dec, int n_ctx, int n_head, int n_head_kv, int head_dim);

/* Store K (floats K_OFF.. of each row of X, n_head_kv * head_dim of them)
 * and V (from V_OFF) of N_TOK tokens at positions *D_POS0 .. of LAYER;
 * int8 rows get scale absmax / 127 (cu_quant_one). */
void cu_kv_write(const cu_launch_t &lc, const cu_kv_t *kv, int layer, int n_tok, const float *x, size_t ld,
                 size_t k_off, size_t v_off, const int *d_pos0);

/* RoPE of the first N_ROPE heads of each row of X (as the backend's rope
 * op: cos/sin table CS, NEOX pairs or adjacent ones; EXACT: products
 * rounded as the CPU rounds them, cu_rope_pair) followed by cu_kv_write, in
 * one launch. cu_rope_kv_ok: whether the K heads at K_OFF are among the
 * rotated ones and V at V_OFF is not, as the fusion needs. */
bool cu_rope_kv_ok(const cu_kv_t *kv, int n_rope, size_t k_off, size_t v_off);
void cu_rope_kv_write(const cu_launch_t &lc, const cu_kv_t *kv, int layer, int n_tok, float *x, size_t ld,
                      int n_rope, bool neox, bool exact, const float *cs, size_t k_off, size_t v_off,
                      const int *d_pos0);

/* How cu_attention runs. */
typedef struct cu_att_opt {
    bool f32_exact; /* f32 caches: prefill in f32 too (attn_simt), not through half tensor cores */
    int split_cap;  /* decode splits: 0 one per 64 positions (at most 128), -1 also at most one full wave
                     * of the GPU, N > 0 also at most N */
    float *pmax;    /* decode: each query head's largest |output| here (for cu_gemv_xf), or NULL */
    int few_max;    /* passes of 2 .. few_max (<= CU_FEW_MAX) tokens run the decode kernels per token */
    bool q_i8;      /* int8 caches: each query head quantized to int8 (absmax / 127) as the CPU's AVX2 and
                     * AVX-512 loops do, so that a score's dot product is the CPU's integer one */
} cu_att_opt_t;

/* Causal grouped-query attention, as be_ops_t.attention: token t (position
 * pos0 + t) of query head h (floats h * head_dim of row t of Q, stride LD)
 * over positions 0 .. pos0 + t of KV head h / (n_head / n_head_kv), scores
 * scaled by SCALE; OUT is n_tok x (n_head * head_dim) floats. POS0 is the
 * host's value (prefill only, see above); D_POS0 the same on the device.
 * WORK holds cu_attn_work_bytes. */
void cu_attention(const cu_launch_t &lc, const cu_kv_t *kv, int layer, const float *q, size_t ld, int n_tok,
                  int n_head, float scale, int pos0, const int *d_pos0, float *out, void *work,
                  const cu_att_opt_t *opt);

#endif
