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

#include <utility>

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

/* Programmatic dependent launch (sm_90): a kernel launched with it
 * (cu_launch_t.pdl) may start while the kernel before it in the stream still
 * runs, so that its launch and its reads of constant data (weights) overlap
 * that kernel's tail. Every kernel that may be launched so calls
 * cu_pdl_wait() before it reads anything an earlier kernel of the pass wrote
 * and before it writes anything; the wait returns once the previous kernel
 * has finished and its writes are visible (at once for a kernel launched
 * normally, and below sm_90). cu_pdl_trigger() lets the next kernel start;
 * it changes nothing about what that kernel may read. */
__device__ __forceinline__ void cu_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void cu_pdl_trigger()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/* With OCTET_CUDA_FEW, passes of up to this many tokens (speculative
 * decoding's verification) run the decode step's kernels for each token
 * (matrix-vector products that read the weights once for all of them,
 * split attention with a grid over the tokens), so every token's logits
 * are bit for bit those of a one-token pass (be_ops_t.batch_exact); larger
 * passes, and all passes without the switch, take the prefill kernels
 * (cuBLASLt, tensor-core attention). */
#define CU_FEW_MAX BE_EXACT_TOK

/* Where and how a kernel is launched. */
typedef struct cu_launch {
    cudaStream_t st;
    bool pdl; /* programmatic dependent launch on the previous kernel */
} cu_launch_t;

/* KERNEL<<<GRID, BLOCK, SMEM>>>(ARGS) on L's stream, with the programmatic
 * dependency when L asks for it. Errors surface through cudaGetLastError. */
template <typename... KArgs, typename... Args>
static inline void cu_go(const cu_launch_t &l, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                         Args &&...args)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = l.st;
    if (l.pdl) {
        at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = at;
        cfg.numAttrs = 1;
    }
    cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
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

/* exp(x) as the CPU backend computes it (exp_scalar in
 * kernels/cpu/backend_cpu.c; its AVX2 and AVX-512 versions are the same
 * polynomial and fused multiply-adds): the same float operations in the
 * same order, so the GPU gets the same bits. */
__device__ __forceinline__ float cu_cpu_exp(float x)
{
    if (x < -87.3f)
        x = -87.3f;
    if (x > 88.3f)
        x = 88.3f;
    float n = rintf(__fmul_rn(x, 1.44269504088896341f));
    float r = fmaf(-n, 0.693359375f, x);
    r = fmaf(-n, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = __fadd_rn(fmaf(p, __fmul_rn(r, r), r), 1.0f);
    return ldexpf(p, (int)n);
}

/* silu(g) * u, with the CPU backend's exp when CPU_EXP (bit-equal to its
 * SwiGLU), else CUDA's expf. */
__device__ __forceinline__ float cu_silu_mul(float g, float u, bool cpu_exp)
{
    float e = cpu_exp ? cu_cpu_exp(-g) : expf(-g);
    return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, e)), u);
}

/* One RoPE rotation of the pair (V[IA], V[IB]) by cos C and sin S, each
 * product and difference rounded separately as the CPU backend (C11, no
 * contraction) rounds them when EXACT; otherwise as nvcc contracts it. */
__device__ __forceinline__ void cu_rope_pair(float *v, int ia, int ib, float c, float s, bool exact)
{
    float a = v[ia], bb = v[ib];
    if (exact) {
        v[ia] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(bb, s));
        v[ib] = __fadd_rn(__fmul_rn(a, s), __fmul_rn(bb, c));
    } else {
        v[ia] = a * c - bb * s;
        v[ib] = a * s + bb * c;
    }
}

#endif
