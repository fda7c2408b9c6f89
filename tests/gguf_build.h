/* gguf_build.h - a tiny in-memory GGUF writer for tests.
 *
 * Tests need GGUF files of every shape, valid and broken, without shipping
 * binaries: build one with gb_init, add metadata (gb_kv_*) and tensors
 * (gb_tensor*), then gb_finish gives the bytes (header, metadata, tensor
 * descriptors, padding, data). Malformed files are made by writing raw
 * bytes (gb_kv_raw, gb_tensor_raw) or patching the finished buffer.
 * Header-only; allocation failure aborts (test code). */
#ifndef OCTET_GGUF_BUILD_H
#define OCTET_GGUF_BUILD_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

typedef struct gb_bytes {
    uint8_t *p;
    size_t len, cap;
} gb_bytes_t;

typedef struct gb {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    uint64_t alignment; /* data alignment used for automatic tensor offsets */
    gb_bytes_t kv, ti, data;
    gb_bytes_t out;
} gb_t;

static inline void gb_put(gb_bytes_t *b, const void *src, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void gb_put_u32(gb_bytes_t *b, uint32_t v) { gb_put(b, &v, 4); }
static inline void gb_put_u64(gb_bytes_t *b, uint64_t v) { gb_put(b, &v, 8); }
static inline void gb_put_str(gb_bytes_t *b, const char *s)
{
    gb_put_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}

static inline void gb_init(gb_t *b, uint32_t version)
{
    memset(b, 0, sizeof *b);
    b->version = version;
    b->alignment = 32;
}

static inline void gb_free(gb_t *b)
{
    free(b->kv.p);
    free(b->ti.p);
    free(b->data.p);
    free(b->out.p);
    memset(b, 0, sizeof *b);
}

/* A key with raw value bytes VAL (after the type field), for any type. */
static inline void gb_kv_raw(gb_t *b, const char *key, uint32_t type, const void *val, size_t n)
{
    gb_put_str(&b->kv, key);
    gb_put_u32(&b->kv, type);
    gb_put(&b->kv, val, n);
    b->n_kv++;
}

#define GB_KV_SCALAR(fn, ctype, gtype)                                        \
    static inline void fn(gb_t *b, const char *key, ctype v)                  \
    {                                                                         \
        gb_kv_raw(b, key, gtype, &v, sizeof v);                               \
    }
GB_KV_SCALAR(gb_kv_u8, uint8_t, GGUF_TYPE_UINT8)
GB_KV_SCALAR(gb_kv_i8, int8_t, GGUF_TYPE_INT8)
GB_KV_SCALAR(gb_kv_u16, uint16_t, GGUF_TYPE_UINT16)
GB_KV_SCALAR(gb_kv_i16, int16_t, GGUF_TYPE_INT16)
GB_KV_SCALAR(gb_kv_u32, uint32_t, GGUF_TYPE_UINT32)
GB_KV_SCALAR(gb_kv_i32, int32_t, GGUF_TYPE_INT32)
GB_KV_SCALAR(gb_kv_f32, float, GGUF_TYPE_FLOAT32)
GB_KV_SCALAR(gb_kv_u64, uint64_t, GGUF_TYPE_UINT64)
GB_KV_SCALAR(gb_kv_i64, int64_t, GGUF_TYPE_INT64)
GB_KV_SCALAR(gb_kv_f64, double, GGUF_TYPE_FLOAT64)
#undef GB_KV_SCALAR

static inline void gb_kv_bool(gb_t *b, const char *key, int v)
{
    uint8_t x = v ? 1 : 0;
    gb_kv_raw(b, key, GGUF_TYPE_BOOL, &x, 1);
}

static inline void gb_kv_str(gb_t *b, const char *key, const char *s)
{
    gb_put_str(&b->kv, key);
    gb_put_u32(&b->kv, GGUF_TYPE_STRING);
    gb_put_str(&b->kv, s);
    b->n_kv++;
}

/* Array of N fixed-size elements of TYPE, packed little-endian in ELEMS. */
static inline void gb_kv_arr(gb_t *b, const char *key, uint32_t type, uint64_t n, const void *elems,
                             size_t elem_size)
{
    gb_put_str(&b->kv, key);
    gb_put_u32(&b->kv, GGUF_TYPE_ARRAY);
    gb_put_u32(&b->kv, type);
    gb_put_u64(&b->kv, n);
    gb_put(&b->kv, elems, (size_t)n * elem_size);
    b->n_kv++;
}

static inline void gb_kv_arr_str(gb_t *b, const char *key, uint64_t n, const char *const *strs)
{
    gb_put_str(&b->kv, key);
    gb_put_u32(&b->kv, GGUF_TYPE_ARRAY);
    gb_put_u32(&b->kv, GGUF_TYPE_STRING);
    gb_put_u64(&b->kv, n);
    for (uint64_t i = 0; i < n; i++)
        gb_put_str(&b->kv, strs[i]);
    b->n_kv++;
}

/* general.alignment as uint32, and use it for the tensor offsets that follow. */
static inline void gb_alignment(gb_t *b, uint32_t a)
{
    gb_kv_u32(b, "general.alignment", a);
    b->alignment = a ? a : 1;
}

/* A tensor descriptor with explicit fields (any type, rank, offset), and no data. */
static inline void gb_tensor_raw(gb_t *b, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, uint64_t offset)
{
    gb_put_str(&b->ti, name);
    gb_put_u32(&b->ti, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gb_put_u64(&b->ti, ne[d]);
    gb_put_u32(&b->ti, type);
    gb_put_u64(&b->ti, offset);
    b->n_tensors++;
}

/* Make the data section LEN bytes long at least (zero-filled). */
static inline void gb_data_reserve(gb_t *b, size_t len)
{
    static const uint8_t zero[64];
    while (b->data.len < len) {
        size_t k = len - b->data.len;
        gb_put(&b->data, zero, k < sizeof zero ? k : sizeof zero);
    }
}

/* A tensor of a supported TYPE, its data appended at the next aligned offset.
 * DATA holds gguf_ttype_nbytes(type, n) bytes, or NULL for zeros. Returns the
 * offset within the data section. */
static inline uint64_t gb_tensor(gb_t *b, const char *name, gguf_ttype_t type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        n *= ne[d];
    size_t nbytes = (size_t)gguf_ttype_nbytes(type, n);
    size_t off = (b->data.len + b->alignment - 1) / b->alignment * b->alignment;
    gb_data_reserve(b, off);
    if (data)
        gb_put(&b->data, data, nbytes);
    else
        gb_data_reserve(b, off + nbytes);
    gb_tensor_raw(b, name, (uint32_t)type, n_dims, ne, off);
    return off;
}

/* Shorthands for 1-D and 2-D tensors. */
static inline uint64_t gb_tensor1(gb_t *b, const char *name, gguf_ttype_t type, uint64_t n0,
                                  const void *data)
{
    uint64_t ne[1] = {n0};
    return gb_tensor(b, name, type, 1, ne, data);
}

static inline uint64_t gb_tensor2(gb_t *b, const char *name, gguf_ttype_t type, uint64_t n0, uint64_t n1,
                                  const void *data)
{
    uint64_t ne[2] = {n0, n1};
    return gb_tensor(b, name, type, 2, ne, data);
}

/* Assemble the file. The buffer stays owned by B (valid until gb_free or the
 * next gb_finish). The header counts are the numbers of entries added. */
static inline const uint8_t *gb_finish(gb_t *b, size_t *len)
{
    b->out.len = 0;
    gb_put(&b->out, "GGUF", 4);
    gb_put_u32(&b->out, b->version);
    gb_put_u64(&b->out, b->n_tensors);
    gb_put_u64(&b->out, b->n_kv);
    gb_put(&b->out, b->kv.p, b->kv.len);
    gb_put(&b->out, b->ti.p, b->ti.len);
    if (b->data.len) {
        static const uint8_t zero[1];
        while (b->out.len % b->alignment)
            gb_put(&b->out, zero, 1);
        gb_put(&b->out, b->data.p, b->data.len);
    }
    *len = b->out.len;
    return b->out.p;
}

/* Write the finished file to PATH; 0 on success. */
static inline int gb_write(gb_t *b, const char *path)
{
    size_t len;
    const uint8_t *p = gb_finish(b, &len);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

/* ---- tensor data and whole tiny models ---------------------------------- */

/* Deterministic pseudo-random numbers in [-1, 1) (xorshift32). */
static inline float gb_rand(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return (float)((double)(x >> 8) / 8388608.0 - 1.0);
}

/* IEEE half from float, rounding to nearest even (test data only). */
static inline uint16_t gb_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mag = x & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u)
        return (uint16_t)(sign | 0x7C00u | (mag > 0x7F800000u ? 0x200u : 0));
    if (mag >= 0x477FF000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7C00u);
    if (mag < 0x38800000u) { /* subnormal half */
        float a;
        memcpy(&a, &mag, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(a * 16777216.0f)); /* units of 2^-24 */
    }
    uint32_t r = mag - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t h = r >> 13, rest = r & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static inline uint16_t gb_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    x += 0x7FFFu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* Encode N floats as tensor type T into a malloc'd buffer (Q8_0: N must be
 * a multiple of 32; one f16 scale max|x|/127 per block). */
static inline void *gb_encode(gguf_ttype_t t, const float *x, uint64_t n)
{
    void *out = malloc((size_t)gguf_ttype_nbytes(t, n) + 1);
    if (!out)
        abort();
    uint8_t *o = out;
    for (uint64_t i = 0; i < n; i++) {
        if (t == GGUF_TTYPE_F32) {
            memcpy(o + 4 * i, &x[i], 4);
        } else if (t == GGUF_TTYPE_F16 || t == GGUF_TTYPE_BF16) {
            uint16_t h = t == GGUF_TTYPE_F16 ? gb_f16(x[i]) : gb_bf16(x[i]);
            memcpy(o + 2 * i, &h, 2);
        }
    }
    if (t == GGUF_TTYPE_Q8_0)
        for (uint64_t b = 0; b < n / GGUF_Q8_0_BLOCK; b++) {
            const float *xb = x + b * GGUF_Q8_0_BLOCK;
            uint8_t *ob = o + b * GGUF_Q8_0_BYTES;
            float amax = 0;
            for (int k = 0; k < GGUF_Q8_0_BLOCK; k++)
                amax = xb[k] < 0 ? (-xb[k] > amax ? -xb[k] : amax) : (xb[k] > amax ? xb[k] : amax);
            float d = amax / 127;
            uint16_t dh = gb_f16(d);
            memcpy(ob, &dh, 2);
            for (int k = 0; k < GGUF_Q8_0_BLOCK; k++) {
                float q = d ? xb[k] / d : 0;
                ob[2 + k] = (uint8_t)(int8_t)(q < 0 ? q - 0.5f : q + 0.5f);
            }
        }
    return out;
}

/* A tensor filled with OFFSET + SCALE * rand, encoded as TYPE (seed != 0),
 * or zeros (seed == 0). */
static inline void gb_tensor_rand(gb_t *b, const char *name, gguf_ttype_t type, uint32_t n_dims,
                                  const uint64_t *ne, uint32_t *seed, float scale, float offset)
{
    if (!*seed) {
        gb_tensor(b, name, type, n_dims, ne, NULL);
        return;
    }
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        n *= ne[d];
    float *x = malloc((size_t)n * sizeof *x + 1);
    if (!x)
        abort();
    for (uint64_t i = 0; i < n; i++)
        x[i] = offset + scale * gb_rand(seed);
    void *enc = gb_encode(type, x, n);
    gb_tensor(b, name, type, n_dims, ne, enc);
    free(enc);
    free(x);
}

typedef struct gb_model_spec {
    const char *arch; /* "llama" or "qwen2" */
    const char *name; /* general.name; NULL: "tiny-ARCH", "": no such key */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    uint32_t head_dim;  /* 0: n_embd / n_head and no key_length key */
    gguf_ttype_t wtype; /* type of every matrix; 1-D tensors are F32 */
    int tied;           /* no output.weight */
    int qkv_bias;       /* blk.N.attn_q/k/v.bias */
    float norm_eps, rope_base; /* 0: 1e-6 / no rope.freq_base key */
    uint32_t seed;      /* 0: zero weights, else pseudo-random ones */
} gb_model_spec_t;

/* Metadata and every tensor of a llama/qwen2 decoder as octet reads it.
 * Add tokenizer keys or extra keys before or after; gb_finish as usual. */
static inline void gb_model(gb_t *b, const gb_model_spec_t *s)
{
    char key[128];
    uint32_t seed = s->seed;
    uint32_t hd = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    uint64_t q = (uint64_t)s->n_head * hd, kv = (uint64_t)s->n_head_kv * hd;
    gb_kv_str(b, "general.architecture", s->arch);
    snprintf(key, sizeof key, "tiny-%s", s->arch);
    if (!s->name || s->name[0])
        gb_kv_str(b, "general.name", s->name ? s->name : key);
#define GB_KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, s->arch), key)
    gb_kv_u32(b, GB_KEY("context_length"), s->n_ctx);
    gb_kv_u32(b, GB_KEY("embedding_length"), s->n_embd);
    gb_kv_u32(b, GB_KEY("block_count"), s->n_layer);
    gb_kv_u32(b, GB_KEY("feed_forward_length"), s->n_ff);
    gb_kv_u32(b, GB_KEY("attention.head_count"), s->n_head);
    gb_kv_u32(b, GB_KEY("attention.head_count_kv"), s->n_head_kv);
    if (s->head_dim)
        gb_kv_u32(b, GB_KEY("attention.key_length"), s->head_dim);
    gb_kv_f32(b, GB_KEY("attention.layer_norm_rms_epsilon"), s->norm_eps ? s->norm_eps : 1e-6f);
    if (s->rope_base)
        gb_kv_f32(b, GB_KEY("rope.freq_base"), s->rope_base);
#undef GB_KEY
    uint64_t ne[2];
#define GB_T2(nm, a, c) (ne[0] = (a), ne[1] = (c), gb_tensor_rand(b, nm, s->wtype, 2, ne, &seed, 0.5f, 0))
#define GB_T1(nm, a, sc, off) (ne[0] = (a), gb_tensor_rand(b, nm, GGUF_TTYPE_F32, 1, ne, &seed, sc, off))
    GB_T2("token_embd.weight", s->n_embd, s->n_vocab);
    for (uint32_t l = 0; l < s->n_layer; l++) {
#define GB_NAME(what) (snprintf(key, sizeof key, "blk.%u." what, (unsigned)l), key)
        GB_T1(GB_NAME("attn_norm.weight"), s->n_embd, 0.1f, 1);
        GB_T2(GB_NAME("attn_q.weight"), s->n_embd, q);
        GB_T2(GB_NAME("attn_k.weight"), s->n_embd, kv);
        GB_T2(GB_NAME("attn_v.weight"), s->n_embd, kv);
        if (s->qkv_bias) {
            GB_T1(GB_NAME("attn_q.bias"), q, 0.1f, 0);
            GB_T1(GB_NAME("attn_k.bias"), kv, 0.1f, 0);
            GB_T1(GB_NAME("attn_v.bias"), kv, 0.1f, 0);
        }
        GB_T2(GB_NAME("attn_output.weight"), q, s->n_embd);
        GB_T1(GB_NAME("ffn_norm.weight"), s->n_embd, 0.1f, 1);
        GB_T2(GB_NAME("ffn_gate.weight"), s->n_embd, s->n_ff);
        GB_T2(GB_NAME("ffn_up.weight"), s->n_embd, s->n_ff);
        GB_T2(GB_NAME("ffn_down.weight"), s->n_ff, s->n_embd);
#undef GB_NAME
    }
    GB_T1("output_norm.weight", s->n_embd, 0.1f, 1);
    if (!s->tied)
        GB_T2("output.weight", s->n_embd, s->n_vocab);
#undef GB_T1
#undef GB_T2
}

#endif
