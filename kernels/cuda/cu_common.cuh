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

/* The block's sum (or maximum) of V, for blocks of whole warps; RED is 32
 * floats of shared memory. Every thread gets the result. */
__device__ __forceinline__ float cu_block_reduce(float v, float *red, bool is_max)
{
    v = is_max ? cu_warp_max(v) : cu_warp_sum(v);
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.0f;
        v = is_max ? cu_warp_max(v) : cu_warp_sum(v);
        if (threadIdx.x == 0)
            red[0] = v;
    }
    __syncthreads();
    v = red[0];
    __syncthreads();
    return v;
}

/* A failed CUDA call WHAT as an errmsg (clearing the sticky launch error). */
static inline int cu_fail(errmsg_t *err, cudaError_t e, const char *what)
{
    cudaGetLastError();
    return errmsg_set(err, e == cudaErrorMemoryAllocation ? OCT_ENOMEM : OCT_EINTERNAL, "CUDA: %s: %s", what,
                      cudaGetErrorString(e));
}

/* cudaMalloc of BYTES for WHAT; out of memory says how much was needed and
 * how much is free. */
static inline int cu_alloc(void **p, size_t bytes, const char *what, errmsg_t *err)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
    if (e == cudaSuccess)
        return 0;
    cudaGetLastError();
    *p = NULL;
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    return errmsg_set(err, OCT_ENOMEM,
                      "CUDA out of memory: %s needs %.1f MiB, %.1f MiB of %.1f MiB are free on the GPU", what,
                      bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0);
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
