/* engine.h - the public inference API: open a llama/qwen2 GGUF model on a
 * compute backend (CPU now, CUDA later) with chosen weight and KV-cache
 * formats, and run sessions over it: feed tokens (prefill in batches),
 * decode one token at a time, read logits, truncate the KV cache back to a
 * position so a conversation's unchanged prefix is reused, cancel from
 * another thread, and report memory per device.
 *
 * All memory (weights, the KV cache for the whole context, scratch for the
 * largest batch) is allocated when the model is opened and the session is
 * created, so eng_memory() is exact before the first token. Functions return
 * 0 or a negative OCT_E* code and describe failures in an errmsg_t; nothing
 * here prints or exits. Sampling lives in sample.h. */
#ifndef OCTET_ENGINE_H
#define OCTET_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "gguf.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"

typedef struct eng_model eng_model_t;     /* weights on a backend + shared scratch */
typedef struct eng_session eng_session_t; /* a KV cache and a position */

typedef enum eng_wfmt {
    ENG_W_F32,         /* exact reference path */
    ENG_W_F16,         /* matrices kept/converted to f16 */
    ENG_W_INT8,        /* int8 + per-row scale; Q8_0 tensors used as they are */
    ENG_W_SMOOTHQUANT, /* int8 after SmoothQuant smoothing from calibration text */
} eng_wfmt_t;

typedef enum eng_kvfmt {
    ENG_KV_F32,
    ENG_KV_F16,
    ENG_KV_INT8, /* int8 + one f32 scale per token per KV head, for K and for V */
} eng_kvfmt_t;

typedef struct eng_opts {
    eng_wfmt_t wfmt;      /* default ENG_W_INT8 */
    eng_kvfmt_t kvfmt;    /* default ENG_KV_INT8 */
    uint32_t n_ctx;       /* tokens the KV cache holds; 0: the model's training context */
    uint32_t n_batch;     /* most tokens per forward pass (prefill batch); 0: 256 */
    int n_threads;        /* CPU threads; <= 0: all online cores */
    const char *backend;  /* "cpu", "cuda" or "auto" (NULL: "auto") */
    bool logits_all;      /* keep the logits of every position of the last batch (perplexity) */
    const char *calib_path; /* smoothquant: calibration text file; NULL: a built-in code sample */
    float sq_alpha;         /* smoothquant migration strength in [0,1]; default 0.5 */
    bool smooth;            /* SmoothQuant folding with another format (ENG_W_SMOOTHQUANT is
                               int8 + smooth); with f32 the model is unchanged up to rounding */
} eng_opts_t;

void eng_opts_default(eng_opts_t *o);

/* Names used on the command line: "f32" "f16" "int8" "smoothquant" / "f32" "f16" "int8".
 * Return 0, or OCT_EINVAL (with a message listing the accepted names). */
int eng_wfmt_parse(const char *s, eng_wfmt_t *out, errmsg_t *err);
int eng_kvfmt_parse(const char *s, eng_kvfmt_t *out, errmsg_t *err);
const char *eng_wfmt_name(eng_wfmt_t f);
const char *eng_kvfmt_name(eng_kvfmt_t f);

/* Open the GGUF file PATH: parse it, describe the model, load its tokenizer
 * (when the file has one) and upload the weights in opts' formats. */
int eng_open(eng_model_t **out, const char *path, const eng_opts_t *opts, errmsg_t *err);
/* Same over an already opened file and model description, which the caller
 * keeps open until eng_close (the tokenizer is loaded from G). */
int eng_open_model(eng_model_t **out, const gguf_t *g, const model_t *m, const eng_opts_t *opts,
                   errmsg_t *err);
void eng_close(eng_model_t *m);

const model_hparams_t *eng_hparams(const eng_model_t *m);
const gguf_t *eng_gguf(const eng_model_t *m);
/* The model's tokenizer; NULL when the file has no tokenizer.ggml.model. */
const tok_t *eng_tokenizer(const eng_model_t *m);
const eng_opts_t *eng_model_opts(const eng_model_t *m); /* as resolved: n_ctx, n_batch, threads */
const char *eng_backend_name(const eng_model_t *m);
uint32_t eng_n_vocab(const eng_model_t *m);

/* A session owns a KV cache for opts.n_ctx tokens. Sessions of one model
 * share its scratch: their feeds are serialized by a lock. */
int eng_session_new(eng_session_t **out, eng_model_t *m, errmsg_t *err);
void eng_session_free(eng_session_t *s);
eng_model_t *eng_session_model(const eng_session_t *s);
/* One pointer kept with the session for its caller between uses (the
 * generation loop keeps what its speculation cost model learned there, so
 * that the next generation starts from it): FREE_FN(P) is called when the
 * session is freed or the pointer is replaced. */
void eng_session_set_aux(eng_session_t *s, void *p, void (*free_fn)(void *));
void *eng_session_aux(const eng_session_t *s);

/* Append N tokens at the current position, in forward passes of up to
 * n_batch tokens (matrix-matrix), computing the logits of the last token
 * (of every token of the last batch with logits_all). Ids must be in
 * [0, n_vocab) and the context must have room. On cancellation returns
 * OCT_ECANCELED; eng_pos() then counts the tokens fully processed. */
int eng_feed(eng_session_t *s, const int32_t *ids, size_t n, errmsg_t *err);
/* eng_feed of one token (matrix-vector). */
int eng_decode(eng_session_t *s, int32_t id, errmsg_t *err);

/* Most tokens eng_feed_all takes: min(ENG_VERIFY_MAX, n_batch); 1 on a
 * backend whose several-token passes do not round exactly as one-token
 * passes do, where speculation is then off. */
#define ENG_VERIFY_MAX 16
/* The feed-forward part of a pass runs in chunks of at most this many tokens,
 * so its gate/up and SwiGLU buffers stay small however large the batch. */
#define ENG_FFN_CHUNK 512
size_t eng_verify_max(const eng_model_t *m);
/* Append N (1..eng_verify_max) tokens in one forward pass and compute the
 * logits of every one of them (eng_logits_at(s, i), i < N): the
 * verification pass of speculative decoding, whose rejected tail is then
 * dropped with eng_truncate. */
int eng_feed_all(eng_session_t *s, const int32_t *ids, size_t n, errmsg_t *err);

/* The embedding of N token ids (1 .. n_batch) for an encoder: one pass from
 * position 0 with attention that is not causal (every token sees all N),
 * then the mean over the N positions of output_norm's output, divided by its
 * L2 norm, in OUT (n_embd floats). S's cache is emptied before and after
 * (eng_pos is 0), since a bidirectional pass leaves nothing a later token
 * could reuse. No logits are computed: the model needs no output matrix.
 * OCT_EUNSUPPORTED on a backend without bidirectional attention (CUDA).
 * Retrieval's tokenization and model keys are embed.h's. */
int eng_embed(eng_session_t *s, const int32_t *ids, size_t n, float *out, errmsg_t *err);

/* The eng_pos(S) token ids the KV cache holds, in order (valid until the
 * next feed or truncate): a new prompt compares its ids with them to reuse
 * the common prefix. */
const int32_t *eng_tokens(const eng_session_t *s);

/* Logits (n_vocab floats) of the last token fed; NULL before any. Valid until
 * the next feed, truncate or free. */
const float *eng_logits(eng_session_t *s);
/* With logits_all: logits of token I of the last batch (I < eng_last_batch()). */
const float *eng_logits_at(eng_session_t *s, size_t i);
size_t eng_last_batch(const eng_session_t *s);

/* The K (1..SAMPLE_MAX_CANDIDATES) largest logits of the last token fed,
 * value descending then id ascending. On a GPU only these cross to the host. */
int eng_top_logits(eng_session_t *s, int k, int32_t *ids, float *vals, errmsg_t *err);
/* The next token from S's last logits with SMP (not accepted: call
 * sample_accept). Draws from the top candidates when SMP allows
 * (sample_candidates), so a GPU returns only those; the token is the one
 * sample_token would draw from all the logits. */
int eng_sample(eng_session_t *s, sampler_t *smp, int32_t *out, errmsg_t *err);

uint32_t eng_pos(const eng_session_t *s); /* tokens in the KV cache */
uint32_t eng_n_ctx(const eng_session_t *s);
/* Forget every token from POS on (POS <= eng_pos), keeping the prefix. */
int eng_truncate(eng_session_t *s, uint32_t pos, errmsg_t *err);

/* Resize M for contexts of N_CTX tokens (0: the model's training context)
 * with KV format KVFMT, keeping the weights loaded: the attention work space
 * is reserved again and sessions created afterwards get a KV cache of the new
 * size. Fails with OCT_EINVAL while any session of M is open; on failure M is
 * unchanged. */
int eng_set_context(eng_model_t *m, uint32_t n_ctx, eng_kvfmt_t kvfmt, errmsg_t *err);

/* Ask a running (or the next) eng_feed of S to stop; safe from any thread.
 * The flag is checked between layers and is cleared when a feed returns
 * OCT_ECANCELED, or by eng_cancel_clear. */
void eng_cancel(eng_session_t *s);
void eng_cancel_clear(eng_session_t *s);

#define ENG_MAX_DEVICES 4

typedef struct eng_mem_dev {
    char name[48];      /* "cpu", "cuda:0 NVIDIA H100" ... */
    uint64_t weights;   /* bytes of matrices, norms, biases */
    uint64_t kv;        /* KV cache of the session (or of one session, if none is given) */
    uint64_t scratch;   /* activations, matmul/attention work space, logits */
    uint64_t dev_free;  /* device memory free / total (0 when not known, e.g. the CPU) */
    uint64_t dev_total;
} eng_mem_dev_t;

typedef struct eng_mem {
    int n_dev;
    eng_mem_dev_t dev[ENG_MAX_DEVICES];
    uint64_t weights, kv, scratch; /* sums over devices */
} eng_mem_t;

/* Memory held by M and, when S is not NULL, by S; without a session the KV
 * figure is what eng_session_new will allocate. */
void eng_memory(const eng_model_t *m, const eng_session_t *s, eng_mem_t *out);

/* The path of the CUDA backend plugin (octet-cuda.so) in PATH, 0 when it
 * exists, else OCT_ENOTFOUND saying where it was looked for. It is not
 * loaded. */
int eng_cuda_plugin(char *path, size_t size, errmsg_t *err);
/* Whether --backend auto would open the GPU now (the plugin loads and finds
 * a usable GPU). */
bool eng_auto_uses_gpu(void);
/* Why --backend auto opened the CPU for M (one line), or NULL when it did
 * not fall back. */
const char *eng_backend_note(const eng_model_t *m);
/* The GPU "auto" would use, before any model is loaded: its name and free /
 * total memory. OCT_ENOTFOUND when there is none (no NVIDIA GPU, no CUDA
 * plugin or libraries: the message says which). */
int eng_gpu_info(char *name, size_t name_size, uint64_t *dev_free, uint64_t *dev_total, errmsg_t *err);

/* What MD needs on a GPU with weights W, a KV cache of CTX tokens (0: the
 * trained context) in KV and passes of BATCH tokens (0: the default): the
 * sizes --backend cuda checks against the GPU's free memory before it
 * uploads anything, and that GPU (gpu_ok false, NOTE saying why, when
 * there is none). The backend's own work space (cuBLASLt, attention
 * splits; tens of MB) is not counted. */
typedef struct eng_gpu_plan {
    uint64_t ctx;
    uint32_t batch;
    uint64_t weights, kv, act, need;
    bool gpu_ok;
    char gpu[48];
    uint64_t dev_free, dev_total;
    char note[512];
} eng_gpu_plan_t;
void eng_gpu_plan(const model_t *md, uint64_t ctx, eng_wfmt_t w, eng_kvfmt_t kv, uint32_t batch,
                  eng_gpu_plan_t *out);

#endif
