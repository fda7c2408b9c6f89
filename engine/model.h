/* model.h - what a GGUF file describes: the hyper-parameters of a llama or
 * qwen2 decoder, its tensors (looked up by name, shapes checked) and the
 * memory plan for running it with a given context and storage formats.
 * Nothing here computes; the engine (engine.h) runs a model_t. */
#ifndef OCTET_MODEL_H
#define OCTET_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "gguf.h"

typedef enum model_arch {
    MODEL_ARCH_LLAMA, /* Llama 2/3, CodeLlama, Mistral-style, DeepSeek-Coder */
    MODEL_ARCH_QWEN2, /* Qwen2 / Qwen2.5-Coder */
} model_arch_t;

/* How RoPE pairs the dimensions of a head. */
typedef enum model_rope_style {
    MODEL_ROPE_ADJACENT, /* (x0,x1),(x2,x3),... : llama in GGUF (weights permuted by the converter) */
    MODEL_ROPE_NEOX,     /* (x_i, x_{i+d/2}) : qwen2 */
} model_rope_style_t;

typedef enum model_rope_scaling {
    MODEL_ROPE_SCALING_NONE,
    MODEL_ROPE_SCALING_LINEAR,
    MODEL_ROPE_SCALING_YARN,
} model_rope_scaling_t;

typedef struct model_hparams {
    model_arch_t arch;
    char name[128]; /* general.name, or the file's base name */
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv; /* == n_head without GQA */
    uint32_t head_dim;  /* n_embd / n_head unless the file says otherwise */
    uint32_t n_ff;
    uint32_t n_vocab;
    uint32_t n_ctx_train; /* context length the model was trained for */
    float norm_eps;       /* RMSNorm epsilon */
    float rope_base;      /* rope.freq_base */
    model_rope_style_t rope_style;
    model_rope_scaling_t rope_scaling;
    float rope_scale_factor;    /* rope.scaling.factor (1 when none) */
    uint32_t rope_orig_ctx;     /* rope.scaling.original_context_length (0 when absent) */
    float yarn_ext_factor;      /* YaRN extrapolation mix (-1: derive from factor) */
    float yarn_attn_factor;     /* YaRN attention magnitude scale (1 when absent) */
    float yarn_beta_fast;       /* YaRN ramp bounds (32 / 1 when absent) */
    float yarn_beta_slow;
    bool tied_embeddings; /* no output.weight: logits use token_embd.weight */
    bool qkv_bias;        /* attn_q/k/v.bias present (qwen2) */
} model_hparams_t;

typedef struct model_layer {
    const gguf_tensor_t *attn_norm; /* [n_embd] */
    const gguf_tensor_t *wq;        /* [n_embd -> n_head*head_dim]   ne = {n_embd, n_head*head_dim} */
    const gguf_tensor_t *wk;        /* ne = {n_embd, n_head_kv*head_dim} */
    const gguf_tensor_t *wv;        /* ne = {n_embd, n_head_kv*head_dim} */
    const gguf_tensor_t *bq, *bk, *bv; /* NULL unless qkv_bias */
    const gguf_tensor_t *wo;        /* ne = {n_head*head_dim, n_embd} */
    const gguf_tensor_t *ffn_norm;  /* [n_embd] */
    const gguf_tensor_t *w_gate;    /* ne = {n_embd, n_ff} */
    const gguf_tensor_t *w_up;      /* ne = {n_embd, n_ff} */
    const gguf_tensor_t *w_down;    /* ne = {n_ff, n_embd} */
} model_layer_t;

typedef struct model {
    const gguf_t *gguf; /* not owned: must outlive the model */
    model_hparams_t hp;
    const gguf_tensor_t *tok_embd; /* ne = {n_embd, n_vocab} */
    const gguf_tensor_t *out_norm; /* [n_embd] */
    const gguf_tensor_t *output;   /* ne = {n_embd, n_vocab}; == tok_embd when tied */
    model_layer_t *layers;         /* n_layer entries */
    /* rope_freqs.weight [head_dim/2] f32 (Llama 3.1 style frequency factors:
     * theta_i is divided by factor i), or NULL when the file has none. */
    const gguf_tensor_t *rope_freqs;
} model_t;

/* Read hyper-parameters and look up every tensor of a llama/qwen2 model,
 * checking each shape. Errors name the key or tensor and what is wrong. */
int model_load(model_t **out, const gguf_t *g, errmsg_t *err);
void model_free(model_t *m);

/* Storage formats for the memory plan (the engine uses the same names). */
typedef enum model_wfmt {
    MODEL_WFMT_F32,
    MODEL_WFMT_F16,
    MODEL_WFMT_INT8, /* per-row int8 + f32 scale; Q8_0 tensors stay Q8_0 */
} model_wfmt_t;

typedef enum model_kvfmt {
    MODEL_KV_F32,
    MODEL_KV_F16,
    MODEL_KV_INT8, /* int8 + one f32 scale per token per KV head */
} model_kvfmt_t;

typedef struct model_mem_plan {
    uint64_t weights_stored; /* bytes of all tensors as stored in the file */
    uint64_t weights_f16;    /* if every matrix were f16 (norms/biases f32) */
    uint64_t weights_int8;   /* if every matrix were int8 + per-row scales */
    uint64_t kv_per_1k_f16;  /* KV-cache bytes per 1024 tokens */
    uint64_t kv_per_1k_int8;
    uint64_t kv_per_1k_f32;
    uint64_t ctx;            /* the context the totals below are for */
    uint64_t kv_total;       /* KV bytes for ctx at kvfmt */
    uint64_t weights_total;  /* weight bytes at wfmt */
    uint64_t total;          /* weights_total + kv_total (scratch is reported by the engine) */
} model_mem_plan_t;

/* Memory plan for running M with CTX tokens (0: the model's n_ctx_train). */
void model_mem_plan(const model_t *m, uint64_t ctx, model_wfmt_t wfmt, model_kvfmt_t kvfmt,
                    model_mem_plan_t *out);

const char *model_arch_name(model_arch_t a);

#endif
