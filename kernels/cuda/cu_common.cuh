/* cu_common.cuh - what the CUDA backend's kernel files share: the device
 * KV-cache layout, the launch-error check, and small device helpers (warp
 * reductions, int8 quantization that rounds like the CPU backend). Internal
 * to kernels/cuda/. */
#ifndef OCTET_CU_COMMON_CUH
#define OCTET_CU_COMMON_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* The KV cache on the device. For each of K and V, element (layer, kv head,
 * position, i) is at ((layer * n_head_kv + head) * n_ctx + pos) * head_dim + i
 * in the format's element type (float, __half, int8_t); with BE_KV_INT8 the
 * scale of row (layer, head, pos) is ks/vs[(layer * n_head_kv + head) * n_ctx
 * + pos] and the stored value times the scale is the cached float. The same
 * layout as the CPU backend, so one position of one head is one contiguous
 * row and a head's positions are contiguous rows. */
typedef struct cu_kv {
    be_kvfmt_t fmt;
    int n_layer, n_head_kv, head_dim, n_ctx;
    void *k, *v;
    float *ks, *vs; /* NULL unless BE_KV_INT8 */
} cu_kv_t;

static inline size_t cu_kv_row(const cu_kv_t *kv, int layer, int head, int pos)
{
    return ((size_t)layer * (size_t)kv->n_head_kv + (size_t)head) * (size_t)kv->n_ctx + (size_t)pos;
}

__device__ __forceinline__ float cu_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float cu_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* x / s rounded to nearest, ties to even, clamped to [-127, 127] (NaN to
 * -127): what cpu_quantize_row_i8 stores for scale s = absmax / 127. A true
 * division, not a multiplication by 1/s, so that ties round the same way. */
__device__ __forceinline__ int8_t cu_quant_one(float x, float s)
{
    float q = rintf(__fdiv_rn(x, s));
    if (!(q >= -127.0f))
        return -127;
    return (int8_t)fminf(q, 127.0f);
}

#endif
