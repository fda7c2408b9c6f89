/* engine.c - the forward pass of llama/qwen2 decoders, written once against
 * the backend interface (backend.h), plus model loading (weight format
 * selection, fused Q/K/V and gate/up matrices, SmoothQuant folding) and
 * sessions (KV cache, position, truncation, cancellation). See engine.h. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "smoothquant.h"

#define DEFAULT_BATCH 256

typedef struct layer_w {
    be_buf_t *attn_norm, *ffn_norm;
    be_buf_t *bqkv; /* NULL without Q/K/V biases */
    be_mat_t *wqkv; /* rows: q (n_head*D), k (n_kv*D), v (n_kv*D) */
    be_mat_t *wo;
    be_mat_t *wgu;  /* rows: gate (n_ff), up (n_ff) */
    be_mat_t *wdown;
} layer_w_t;

/* Per-channel activation maxima gathered while calibrating SmoothQuant. */
typedef struct sq_stats {
    float *qkv_in, *wo_in, *gu_in, *down_in; /* [n_layer][width] */
    float *tmp;                               /* n_batch x widest row */
} sq_stats_t;

struct eng_model {
    eng_opts_t opts; /* resolved */
    gguf_t *g_owned;
    model_t *m_owned;
    const gguf_t *g;
    const model_t *md;
    model_hparams_t hp;
    tok_t *tok;
    be_t *be;
    /* weights */
    be_mat_t *tok_embd, *output; /* output == tok_embd when tied */
    be_buf_t *out_norm;
    layer_w_t *L;
    be_buf_t *rope_freq;
    float rope_mscale;
    uint64_t weight_bytes;
    /* scratch for one forward pass of up to n_batch tokens */
    be_buf_t *x, *xn, *qkv, *att, *tmp, *gu, *hff, *cs, *logits;
    uint64_t scratch_bytes;
    be_kv_desc_t kv_desc;
    int qkv_w; /* (n_head + 2 n_kv) * D */
    atomic_int n_sessions; /* eng_set_context needs none open */
    pthread_mutex_t lock; /* one forward pass at a time over the shared scratch */
    bool lock_init;
    sq_stats_t *calib; /* non-NULL only while calibrating */
    eng_session_t *logits_owner; /* whose logits M->logits holds (not yet read back) */
    size_t logits_rows; /* rows of M->logits and of each session's host copy */
};

struct eng_session {
    eng_model_t *m;
    be_kv_t *kv;
    uint64_t kv_bytes;
    uint32_t pos;
    atomic_int cancel;
    int32_t *ids;  /* the tokens in the KV cache, n_ctx of room */
    float *logits; /* n_vocab x M->logits_rows */
    size_t logits_n; /* rows of logits valid after the last feed */
    bool have_logits;
    bool dev_logits; /* they are still only on the device (M->logits): read on demand */
};

/* ---- options ------------------------------------------------------------- */

void eng_opts_default(eng_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->wfmt = ENG_W_INT8;
    o->kvfmt = ENG_KV_INT8;
    o->sq_alpha = 0.5f;
}

static const char *const WFMT_NAMES[] = {"f32", "f16", "int8", "smoothquant"};
static const char *const KVFMT_NAMES[] = {"f32", "f16", "int8"};

int eng_wfmt_parse(const char *s, eng_wfmt_t *out, errmsg_t *err)
{
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, WFMT_NAMES[i])) {
            *out = (eng_wfmt_t)i;
            return 0;
        }
    return errmsg_set(err, OCT_EINVAL, "unknown weight format '%s' (use f32, f16, int8 or smoothquant)",
                      s ? s : "");
}

int eng_kvfmt_parse(const char *s, eng_kvfmt_t *out, errmsg_t *err)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, KVFMT_NAMES[i])) {
            *out = (eng_kvfmt_t)i;
            return 0;
        }
    return errmsg_set(err, OCT_EINVAL, "unknown KV-cache format '%s' (use f32, f16 or int8)", s ? s : "");
}

const char *eng_wfmt_name(eng_wfmt_t f)
{
    return (unsigned)f < 4 ? WFMT_NAMES[f] : "?";
}

const char *eng_kvfmt_name(eng_kvfmt_t f)
{
    return (unsigned)f < 3 ? KVFMT_NAMES[f] : "?";
}

/* ---- tensor data on the host -------------------------------------------- */

static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 is exact in float */
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint64_t tensor_rows(const gguf_tensor_t *t)
{
    return t->n_elems / t->ne[0];
}

/* Row R of a 1-D or 2-D tensor as f32. */
static void tensor_row_f32(const gguf_tensor_t *t, uint64_t r, float *out)
{
    uint64_t n = t->ne[0];
    const uint8_t *base = t->data;
    switch (t->type) {
    case GGUF_TTYPE_F32:
        memcpy(out, base + r * n * 4, n * 4);
        break;
    case GGUF_TTYPE_F16:
    case GGUF_TTYPE_BF16: {
        const uint8_t *p = base + r * n * 2;
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = t->type == GGUF_TTYPE_F16 ? half_to_f32(h) : bf16_to_f32(h);
        }
        break;
    }
    case GGUF_TTYPE_Q8_0: {
        const uint8_t *p = base + r * (n / GGUF_Q8_0_BLOCK) * GGUF_Q8_0_BYTES;
        for (uint64_t b = 0; b < n / GGUF_Q8_0_BLOCK; b++, p += GGUF_Q8_0_BYTES) {
            uint16_t h;
            memcpy(&h, p, 2);
            float d = half_to_f32(h);
            for (int i = 0; i < GGUF_Q8_0_BLOCK; i++)
                out[b * GGUF_Q8_0_BLOCK + (uint64_t)i] = d * (float)(int8_t)p[2 + i];
        }
        break;
    }
    }
}

static be_src_t src_of(gguf_ttype_t t)
{
    switch (t) {
    case GGUF_TTYPE_F16:
        return BE_SRC_F16;
    case GGUF_TTYPE_BF16:
        return BE_SRC_BF16;
    case GGUF_TTYPE_Q8_0:
        return BE_SRC_Q8_0;
    case GGUF_TTYPE_F32:
        break;
    }
    return BE_SRC_F32;
}

/* ---- loading ---------------------------------------------------------------- */

/* One source tensor of a (possibly fused) matrix; ROW_SCALE multiplies its
 * rows (SmoothQuant folding into the rows that produce a smoothed input). */
typedef struct mat_part {
    const gguf_tensor_t *t;
    const float *row_scale;
} mat_part_t;

static be_wfmt_t pick_wfmt(eng_wfmt_t w, be_src_t src, bool scaled)
{
    switch (w) {
    case ENG_W_F32:
        return BE_W_F32;
    case ENG_W_F16:
        return BE_W_F16;
    case ENG_W_INT8:
    case ENG_W_SMOOTHQUANT:
        break;
    }
    return src == BE_SRC_Q8_0 && !scaled ? BE_W_Q8_0 : BE_W_INT8;
}

/* Upload the rows of PARTS stacked into one matrix. Parts of one type are
 * concatenated as stored; mixed types or row scaling go through f32. */
static int upload_matrix(eng_model_t *M, const mat_part_t *parts, int n_parts, const float *col_scale,
                         be_mat_t **out, errmsg_t *err)
{
    uint64_t cols = parts[0].t->ne[0], rows = 0;
    bool same = true, row_scaled = false;
    for (int i = 0; i < n_parts; i++) {
        if (parts[i].t->ne[0] != cols)
            return errmsg_set(err, OCT_EFORMAT, "tensor '%s' has %llu columns, expected %llu",
                              parts[i].t->name, (unsigned long long)parts[i].t->ne[0],
                              (unsigned long long)cols);
        rows += tensor_rows(parts[i].t);
        same = same && parts[i].t->type == parts[0].t->type;
        row_scaled = row_scaled || parts[i].row_scale;
    }
    if (rows > INT32_MAX || cols > INT32_MAX)
        return errmsg_set(err, OCT_EUNSUPPORTED, "tensor '%s' is too large", parts[0].t->name);
    const void *data = parts[0].t->data;
    be_src_t src = src_of(parts[0].t->type);
    void *tmp = NULL;
    if (row_scaled || !same) {
        float *f = malloc(rows * cols * sizeof(float));
        if (!f)
            return errmsg_set(err, OCT_ENOMEM, "out of memory converting '%s'", parts[0].t->name);
        float *p = f;
        for (int i = 0; i < n_parts; i++)
            for (uint64_t r = 0; r < tensor_rows(parts[i].t); r++, p += cols) {
                tensor_row_f32(parts[i].t, r, p);
                if (parts[i].row_scale)
                    for (uint64_t j = 0; j < cols; j++)
                        p[j] *= parts[i].row_scale[r];
            }
        tmp = f;
        data = f;
        src = BE_SRC_F32;
    } else if (n_parts > 1) {
        uint64_t bytes = 0;
        for (int i = 0; i < n_parts; i++)
            bytes += parts[i].t->nbytes;
        uint8_t *c = malloc(bytes);
        if (!c)
            return errmsg_set(err, OCT_ENOMEM, "out of memory fusing '%s'", parts[0].t->name);
        uint64_t off = 0;
        for (int i = 0; i < n_parts; i++) {
            memcpy(c + off, parts[i].t->data, parts[i].t->nbytes);
            off += parts[i].t->nbytes;
        }
        tmp = c;
        data = c;
    }
    be_wfmt_t fmt = pick_wfmt(M->opts.wfmt, src, col_scale != NULL);
    int rc = M->be->ops->mat_new(M->be, out, fmt, src, data, (int)rows, (int)cols, col_scale, err);
    free(tmp);
    if (rc == 0)
        M->weight_bytes += M->be->ops->mat_bytes(M->be, *out);
    return rc;
}

/* A vector (norm weight, bias; several concatenated) as an f32 buffer,
 * each element multiplied by SCALE[i] when given. */
static int upload_vector(eng_model_t *M, const gguf_tensor_t *const *ts, int n_ts, const float *scale,
                         bool divide, be_buf_t **out, errmsg_t *err)
{
    uint64_t n = 0;
    for (int i = 0; i < n_ts; i++)
        n += ts[i]->n_elems;
    float *h = malloc(n * sizeof(float));
    if (!h)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    uint64_t off = 0;
    for (int i = 0; i < n_ts; i++) {
        tensor_row_f32(ts[i], 0, h + off);
        off += ts[i]->n_elems;
    }
    if (scale)
        for (uint64_t i = 0; i < n; i++)
            h[i] = divide ? h[i] / scale[i] : h[i] * scale[i];
    int rc = M->be->ops->buf_new(M->be, out, n, err);
    if (rc == 0)
        rc = M->be->ops->buf_set(M->be, *out, 0, h, n, err);
    if (rc == 0)
        M->weight_bytes += n * sizeof(float);
    free(h);
    return rc;
}

static int new_scratch(eng_model_t *M, be_buf_t **b, size_t n, errmsg_t *err)
{
    int rc = M->be->ops->buf_new(M->be, b, n, err);
    if (rc == 0)
        M->scratch_bytes += n * sizeof(float);
    return rc;
}

/* Angular frequency of each rotated pair with linear or YaRN scaling and
 * per-pair frequency factors (rope_freqs.weight, Llama 3.1) folded in, as
 * llama.cpp's rope_yarn computes theta = pos * freq[i]; and the magnitude
 * factor YaRN applies to cos and sin. */
static void rope_freqs(const model_hparams_t *hp, const gguf_tensor_t *factors, float *freq, float *mscale)
{
    int d = (int)hp->head_dim;
    double fs = 1.0, ext = 0.0, attn = 1.0;
    if (hp->rope_scaling != MODEL_ROPE_SCALING_NONE && hp->rope_scale_factor > 0)
        fs = 1.0 / hp->rope_scale_factor;
    if (hp->rope_scaling == MODEL_ROPE_SCALING_YARN) {
        ext = hp->yarn_ext_factor < 0 ? 1.0 : hp->yarn_ext_factor;
        attn = hp->yarn_attn_factor > 0 ? hp->yarn_attn_factor : 1.0;
    }
    float factors_f[d / 2 > 0 ? d / 2 : 1];
    if (factors)
        tensor_row_f32(factors, 0, factors_f);
    double lo = 0, hi = 0;
    if (ext != 0) {
        double n_orig = hp->rope_orig_ctx ? hp->rope_orig_ctx : hp->n_ctx_train;
        double base_log = 2.0 * log(hp->rope_base);
        double c_fast = d * log(n_orig / (hp->yarn_beta_fast * 2 * M_PI)) / base_log;
        double c_slow = d * log(n_orig / (hp->yarn_beta_slow * 2 * M_PI)) / base_log;
        lo = fmax(0, floor(c_fast));
        hi = fmin(d - 1, ceil(c_slow));
    }
    for (int i = 0; i < d / 2; i++) {
        double extrap = pow(hp->rope_base, -2.0 * i / d);
        if (factors)
            extrap /= factors_f[i];
        double f = fs * extrap;
        if (ext != 0) {
            double y = (i - lo) / fmax(0.001, hi - lo);
            double ramp = (1 - fmin(1, fmax(0, y))) * ext;
            f = f * (1 - ramp) + extrap * ramp;
        }
        freq[i] = (float)f;
    }
    *mscale = (float)(attn * (ext != 0 ? 1.0 + 0.1 * log(1.0 / fs) : 1.0));
}

static void free_layer_mats(eng_model_t *M, layer_w_t *l)
{
    const be_ops_t *o = M->be->ops;
    o->mat_free(M->be, l->wqkv);
    o->mat_free(M->be, l->wo);
    o->mat_free(M->be, l->wgu);
    o->mat_free(M->be, l->wdown);
    o->buf_free(M->be, l->attn_norm);
    o->buf_free(M->be, l->ffn_norm);
    o->buf_free(M->be, l->bqkv);
    memset(l, 0, sizeof *l);
}

/* Smoothing factors of one layer (NULL: plain int8). */
typedef struct layer_sq {
    float *s_qkv; /* n_embd: attn_norm -> wqkv columns */
    float *s_wo;  /* n_head*D: v rows (shared across a KV group) -> wo columns */
    float *s_gu;  /* n_embd: ffn_norm -> wgu columns */
    float *s_down; /* n_ff: up rows -> wdown columns */
} layer_sq_t;

static int upload_layer(eng_model_t *M, int il, const layer_sq_t *sq, errmsg_t *err)
{
    const model_layer_t *ml = &M->md->layers[il];
    layer_w_t *l = &M->L[il];
    const model_hparams_t *hp = &M->hp;
    uint32_t D = hp->head_dim, G = hp->n_head / hp->n_head_kv;
    float *v_rs = NULL, *wo_cs = NULL, *up_rs = NULL;
    int rc = OCT_ENOMEM;
    if (sq) {
        /* v row (g, d) carries 1/s of channel (g*G, d); wo column (h, d) carries s */
        v_rs = malloc((size_t)hp->n_head_kv * D * sizeof(float));
        up_rs = malloc((size_t)hp->n_ff * sizeof(float));
        if (!v_rs || !up_rs) {
            errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        for (uint32_t g = 0; g < hp->n_head_kv; g++)
            for (uint32_t d = 0; d < D; d++)
                v_rs[g * D + d] = 1.0f / sq->s_wo[(g * G) * D + d];
        for (uint32_t i = 0; i < hp->n_ff; i++)
            up_rs[i] = 1.0f / sq->s_down[i];
        wo_cs = sq->s_wo;
    }
    mat_part_t qkv[3] = {{ml->wq, NULL}, {ml->wk, NULL}, {ml->wv, v_rs}};
    mat_part_t gu[2] = {{ml->w_gate, NULL}, {ml->w_up, up_rs}};
    mat_part_t wo = {ml->wo, NULL}, down = {ml->w_down, NULL};
    rc = upload_matrix(M, qkv, 3, sq ? sq->s_qkv : NULL, &l->wqkv, err);
    if (rc == 0)
        rc = upload_matrix(M, &wo, 1, wo_cs, &l->wo, err);
    if (rc == 0)
        rc = upload_matrix(M, gu, 2, sq ? sq->s_gu : NULL, &l->wgu, err);
    if (rc == 0)
        rc = upload_matrix(M, &down, 1, sq ? sq->s_down : NULL, &l->wdown, err);
    if (rc == 0)
        rc = upload_vector(M, &ml->attn_norm, 1, sq ? sq->s_qkv : NULL, true, &l->attn_norm, err);
    if (rc == 0)
        rc = upload_vector(M, &ml->ffn_norm, 1, sq ? sq->s_gu : NULL, true, &l->ffn_norm, err);
    if (rc == 0 && hp->qkv_bias) {
        const gguf_tensor_t *b[3] = {ml->bq, ml->bk, ml->bv};
        float *bs = NULL;
        if (sq) {
            /* only the v part is scaled */
            size_t nq = (size_t)hp->n_head * D, nk = (size_t)hp->n_head_kv * D;
            bs = malloc((nq + 2 * nk) * sizeof(float));
            if (!bs) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto fail;
            }
            for (size_t i = 0; i < nq + nk; i++)
                bs[i] = 1.0f;
            memcpy(bs + nq + nk, v_rs, nk * sizeof(float));
        }
        rc = upload_vector(M, b, 3, bs, false, &l->bqkv, err);
        free(bs);
    }
fail:
    free(v_rs);
    free(up_rs);
    return rc;
}

bool eng_auto_uses_gpu(void)
{
#if defined(OCTET_CUDA) && defined(OCTET_CUDA_AUTO)
    errmsg_t e;
    uint64_t fr, tot;
    return eng_gpu_info(NULL, 0, &fr, &tot, &e) == 0;
#else
    return false;
#endif
}

/* "auto" takes a usable GPU when the build lets it (make CUDA_AUTO=1) and
 * the CPU otherwise: the CUDA backend has not yet been validated on a GPU. */
static int open_backend(eng_model_t *M, errmsg_t *err)
{
    const char *b = M->opts.backend ? M->opts.backend : "auto";
    bool is_auto = !strcmp(b, "auto");
#ifndef OCTET_CUDA_AUTO
    if (is_auto)
        return be_cpu_new(&M->be, M->opts.n_threads, err);
#endif
    if (!strcmp(b, "cpu"))
        return be_cpu_new(&M->be, M->opts.n_threads, err);
    if (!strcmp(b, "cuda") || is_auto) {
#ifdef OCTET_CUDA
        errmsg_t e;
        int rc = be_cuda_new(&M->be, 0, &e);
        if (rc == 0 || !is_auto) {
            if (rc)
                errmsg_set(err, rc, "%s", e.msg);
            return rc;
        }
#else
        if (!is_auto)
            return errmsg_set(err, OCT_EUNSUPPORTED, "this build of octet has no CUDA backend (use --backend cpu)");
#endif
        return be_cpu_new(&M->be, M->opts.n_threads, err);
    }
    return errmsg_set(err, OCT_EINVAL, "unknown backend '%s' (use cpu, cuda or auto)", b);
}

int eng_gpu_info(char *name, size_t name_size, uint64_t *dev_free, uint64_t *dev_total, errmsg_t *err)
{
#ifdef OCTET_CUDA
    be_dev_info_t di;
    int rc = be_cuda_probe(0, &di, err);
    if (rc)
        return rc;
    if (name && name_size)
        snprintf(name, name_size, "%s", di.name);
    *dev_free = di.dev_free;
    *dev_total = di.dev_total;
    return 0;
#else
    (void)name;
    (void)name_size;
    *dev_free = *dev_total = 0;
    return errmsg_set(err, OCT_ENOTFOUND, "this build of octet has no CUDA backend");
#endif
}

bool eng_has_cuda(void)
{
#ifdef OCTET_CUDA
    return true;
#else
    return false;
#endif
}

static int check_hparams(const model_hparams_t *hp, errmsg_t *err)
{
    if (!hp->n_head || !hp->n_head_kv || hp->n_head % hp->n_head_kv)
        return errmsg_set(err, OCT_EFORMAT, "%s: %u attention heads cannot be grouped over %u KV heads",
                          hp->name, hp->n_head, hp->n_head_kv);
    if (!hp->head_dim || hp->head_dim % 2)
        return errmsg_set(err, OCT_EFORMAT, "%s: head size %u must be even for RoPE", hp->name, hp->head_dim);
    if (!hp->n_layer || !hp->n_embd || !hp->n_ff || !hp->n_vocab)
        return errmsg_set(err, OCT_EFORMAT, "%s: empty model dimensions", hp->name);
    return 0;
}

static int calibrate(eng_model_t *M, errmsg_t *err);

static int reserve(eng_model_t *M, errmsg_t *err)
{
    const model_hparams_t *hp = &M->hp;
    return M->be->ops->reserve(M->be, (int)M->opts.n_batch, (int)M->opts.n_ctx, (int)hp->n_head,
                               (int)hp->n_head_kv, (int)hp->head_dim, err);
}

static int open_impl(eng_model_t *M, const eng_opts_t *opts, errmsg_t *err)
{
    const model_hparams_t *hp = &M->hp;
    int rc;
    M->opts = *opts;
    if ((rc = check_hparams(hp, err)))
        return rc;
    if ((unsigned)opts->wfmt > ENG_W_SMOOTHQUANT || (unsigned)opts->kvfmt > ENG_KV_INT8)
        return errmsg_set(err, OCT_EINVAL, "bad weight or KV format");
    M->opts.smooth = opts->smooth || opts->wfmt == ENG_W_SMOOTHQUANT;
    if (M->opts.smooth && !(opts->sq_alpha >= 0 && opts->sq_alpha <= 1))
        return errmsg_set(err, OCT_EINVAL, "SmoothQuant alpha %g is outside [0, 1]", opts->sq_alpha);
    if (!M->opts.n_ctx)
        M->opts.n_ctx = hp->n_ctx_train;
    if (!M->opts.n_ctx || M->opts.n_ctx > (1u << 24))
        return errmsg_set(err, OCT_EINVAL, "context size %u is out of range (1..16M)", M->opts.n_ctx);
    if (!M->opts.n_batch)
        M->opts.n_batch = DEFAULT_BATCH;
    if (M->opts.n_batch > M->opts.n_ctx)
        M->opts.n_batch = M->opts.n_ctx;
    if (M->opts.n_batch > 65536)
        return errmsg_set(err, OCT_EINVAL, "batch size %u is too large", M->opts.n_batch);
    if (pthread_mutex_init(&M->lock, NULL))
        return errmsg_set(err, OCT_EINTERNAL, "cannot create a mutex");
    M->lock_init = true;

    if (gguf_find_key(M->g, "tokenizer.ggml.model") >= 0 && (rc = tok_load(&M->tok, M->g, err)))
        return rc;
    if ((rc = open_backend(M, err)))
        return rc;
    M->opts.n_threads = strcmp(M->be->ops->name, "cpu") ? 0 : be_cpu_threads(M->be);
    M->opts.backend = M->be->ops->name;
    const be_ops_t *o = M->be->ops;

    M->L = calloc(hp->n_layer, sizeof *M->L);
    if (!M->L)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    mat_part_t emb = {M->md->tok_embd, NULL};
    if ((rc = upload_matrix(M, &emb, 1, NULL, &M->tok_embd, err)))
        return rc;
    if (hp->tied_embeddings || M->md->output == M->md->tok_embd) {
        M->output = M->tok_embd;
    } else {
        mat_part_t out = {M->md->output, NULL};
        if ((rc = upload_matrix(M, &out, 1, NULL, &M->output, err)))
            return rc;
    }
    if ((rc = upload_vector(M, &M->md->out_norm, 1, NULL, false, &M->out_norm, err)))
        return rc;
    for (uint32_t l = 0; l < hp->n_layer; l++)
        if ((rc = upload_layer(M, (int)l, NULL, err)))
            return rc;

    float *freq = malloc(hp->head_dim / 2 * sizeof(float));
    if (!freq)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    const gguf_tensor_t *ff = M->md->rope_freqs;
    if (ff && ff->n_elems != hp->head_dim / 2) {
        free(freq);
        return errmsg_set(err, OCT_EFORMAT, "tensor '%s' has %llu elements, expected %u", ff->name,
                          (unsigned long long)ff->n_elems, hp->head_dim / 2);
    }
    rope_freqs(hp, ff, freq, &M->rope_mscale);
    rc = o->buf_new(M->be, &M->rope_freq, hp->head_dim / 2, err);
    if (rc == 0)
        rc = o->buf_set(M->be, M->rope_freq, 0, freq, hp->head_dim / 2, err);
    free(freq);
    if (rc)
        return rc;
    M->weight_bytes += hp->head_dim / 2 * sizeof(float);

    size_t nb = M->opts.n_batch, E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    M->logits_rows = M->opts.logits_all ? nb : eng_verify_max(M);
    M->qkv_w = (int)((hp->n_head + 2 * hp->n_head_kv) * D);
    size_t HD = (size_t)hp->n_head * D;
    if ((rc = new_scratch(M, &M->x, nb * E, err)) || (rc = new_scratch(M, &M->xn, nb * E, err)) ||
        (rc = new_scratch(M, &M->qkv, nb * (size_t)M->qkv_w, err)) ||
        (rc = new_scratch(M, &M->att, nb * HD, err)) || (rc = new_scratch(M, &M->tmp, nb * E, err)) ||
        (rc = new_scratch(M, &M->gu, nb * 2 * F, err)) || (rc = new_scratch(M, &M->hff, nb * F, err)) ||
        (rc = new_scratch(M, &M->cs, nb * D, err)) ||
        (rc = new_scratch(M, &M->logits, M->logits_rows * hp->n_vocab, err)))
        return rc;
    M->kv_desc = (be_kv_desc_t){.fmt = (be_kvfmt_t)M->opts.kvfmt, .n_layer = (int)hp->n_layer,
                                .n_head_kv = (int)hp->n_head_kv, .head_dim = (int)D,
                                .n_ctx = (int)M->opts.n_ctx};
    if ((rc = reserve(M, err)))
        return rc;
    if (M->opts.smooth) {
        if ((rc = calibrate(M, err)))
            return rc;
        /* the smoothed matrices may be in another layout (Q8_0 -> int8) */
        return reserve(M, err);
    }
    return 0;
}

static int open_common(eng_model_t **out, eng_model_t *M, const eng_opts_t *opts, errmsg_t *err)
{
    eng_opts_t def;
    if (!opts) {
        eng_opts_default(&def);
        opts = &def;
    }
    M->hp = M->md->hp;
    int rc = open_impl(M, opts, err);
    if (rc) {
        eng_close(M);
        return rc;
    }
    *out = M;
    return 0;
}

int eng_set_context(eng_model_t *M, uint32_t n_ctx, eng_kvfmt_t kvfmt, errmsg_t *err)
{
    if (atomic_load(&M->n_sessions))
        return errmsg_set(err, OCT_EINVAL, "cannot change the context while %d session(s) are open",
                          atomic_load(&M->n_sessions));
    if ((unsigned)kvfmt > ENG_KV_INT8)
        return errmsg_set(err, OCT_EINVAL, "bad KV format");
    if (!n_ctx)
        n_ctx = M->hp.n_ctx_train;
    if (!n_ctx || n_ctx > (1u << 24))
        return errmsg_set(err, OCT_EINVAL, "context size %u is out of range (1..16M)", n_ctx);
    eng_opts_t old = M->opts;
    be_kv_desc_t old_desc = M->kv_desc;
    M->opts.n_ctx = n_ctx;
    M->opts.kvfmt = kvfmt;
    /* the activation scratch was sized for the old batch: it may shrink, never grow */
    if (M->opts.n_batch > n_ctx)
        M->opts.n_batch = n_ctx;
    M->kv_desc.fmt = (be_kvfmt_t)kvfmt;
    M->kv_desc.n_ctx = (int)n_ctx;
    int rc = reserve(M, err);
    if (rc) {
        M->opts = old;
        M->kv_desc = old_desc;
        reserve(M, NULL);
    }
    return rc;
}

int eng_open_model(eng_model_t **out, const gguf_t *g, const model_t *m, const eng_opts_t *opts,
                   errmsg_t *err)
{
    *out = NULL;
    eng_model_t *M = calloc(1, sizeof *M);
    if (!M)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    M->g = g;
    M->md = m;
    return open_common(out, M, opts, err);
}

int eng_open(eng_model_t **out, const char *path, const eng_opts_t *opts, errmsg_t *err)
{
    *out = NULL;
    eng_model_t *M = calloc(1, sizeof *M);
    if (!M)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = gguf_open(&M->g_owned, path, err);
    if (rc == 0)
        rc = model_load(&M->m_owned, M->g_owned, err);
    if (rc) {
        gguf_close(M->g_owned);
        free(M);
        return rc;
    }
    M->g = M->g_owned;
    M->md = M->m_owned;
    return open_common(out, M, opts, err);
}

void eng_close(eng_model_t *M)
{
    if (!M)
        return;
    if (M->be) {
        const be_ops_t *o = M->be->ops;
        if (M->L)
            for (uint32_t l = 0; l < M->hp.n_layer; l++)
                free_layer_mats(M, &M->L[l]);
        if (M->output != M->tok_embd)
            o->mat_free(M->be, M->output);
        o->mat_free(M->be, M->tok_embd);
        be_buf_t *bufs[] = {M->out_norm, M->rope_freq, M->x, M->xn, M->qkv, M->att,
                            M->tmp, M->gu, M->hff, M->cs, M->logits};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            o->buf_free(M->be, bufs[i]);
        o->free(M->be);
    }
    free(M->L);
    tok_free(M->tok);
    if (M->lock_init)
        pthread_mutex_destroy(&M->lock);
    model_free(M->m_owned);
    gguf_close(M->g_owned);
    free(M);
}

const model_hparams_t *eng_hparams(const eng_model_t *m)
{
    return &m->hp;
}

const gguf_t *eng_gguf(const eng_model_t *m)
{
    return m->g;
}

const tok_t *eng_tokenizer(const eng_model_t *m)
{
    return m->tok;
}

const eng_opts_t *eng_model_opts(const eng_model_t *m)
{
    return &m->opts;
}

const char *eng_backend_name(const eng_model_t *m)
{
    return m->be->ops->name;
}

uint32_t eng_n_vocab(const eng_model_t *m)
{
    return m->hp.n_vocab;
}

/* ---- sessions --------------------------------------------------------------- */

int eng_session_new(eng_session_t **out, eng_model_t *M, errmsg_t *err)
{
    *out = NULL;
    eng_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    s->m = M;
    atomic_init(&s->cancel, 0);
    s->logits = malloc(M->logits_rows * M->hp.n_vocab * sizeof(float));
    s->ids = malloc((size_t)M->opts.n_ctx * sizeof *s->ids);
    if (!s->logits || !s->ids) {
        free(s->logits);
        free(s->ids);
        free(s);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&M->lock);
    int rc = M->be->ops->kv_new(M->be, &s->kv, &M->kv_desc, err);
    pthread_mutex_unlock(&M->lock);
    if (rc) {
        free(s->logits);
        free(s->ids);
        free(s);
        return rc;
    }
    s->kv_bytes = M->be->ops->kv_bytes(M->be, &M->kv_desc);
    atomic_fetch_add(&M->n_sessions, 1);
    *out = s;
    return 0;
}

void eng_session_free(eng_session_t *s)
{
    if (!s)
        return;
    /* under the lock: a backend must not free device memory while another
     * session's pass runs (the CUDA backend may be capturing a graph) */
    pthread_mutex_lock(&s->m->lock);
    if (s->m->logits_owner == s)
        s->m->logits_owner = NULL;
    s->m->be->ops->kv_free(s->m->be, s->kv);
    pthread_mutex_unlock(&s->m->lock);
    atomic_fetch_sub(&s->m->n_sessions, 1);
    free(s->logits);
    free(s->ids);
    free(s);
}

eng_model_t *eng_session_model(const eng_session_t *s)
{
    return s->m;
}

static void calib_observe(eng_model_t *M, float *col_max, const be_buf_t *b, int n_tok, size_t width)
{
    errmsg_t e;
    if (M->be->ops->buf_get(M->be, b, 0, M->calib->tmp, (size_t)n_tok * width, &e) == 0)
        sq_absmax_update(col_max, M->calib->tmp, (size_t)n_tok, width);
}

static int fetch_logits(eng_session_t *s, errmsg_t *err);

/* One forward pass of N tokens at the session's position, computing the
 * logits of the last N_OUT of them (0: none). */
static int forward(eng_session_t *s, const int32_t *ids, int n, int n_out, errmsg_t *err)
{
    eng_model_t *M = s->m;
    be_t *be = M->be;
    const be_ops_t *o = be->ops;
    const model_hparams_t *hp = &M->hp;
    int E = (int)hp->n_embd, D = (int)hp->head_dim, H = (int)hp->n_head, K = (int)hp->n_head_kv;
    int F = (int)hp->n_ff;
    size_t ld = (size_t)M->qkv_w;
    float scale = 1.0f / sqrtf((float)D);
    int rc;
    if (M->logits_owner && M->logits_owner != s && (rc = fetch_logits(M->logits_owner, err)))
        return rc;
    rc = o->begin(be, ids, n, (int)s->pos, err);
    if (rc)
        return rc;
    o->embed(be, M->tok_embd, n, M->x);
    o->rope_table(be, M->rope_freq, D, n, M->rope_mscale, M->cs);
    for (int il = 0; il < (int)hp->n_layer; il++) {
        if (atomic_load_explicit(&s->cancel, memory_order_relaxed)) {
            o->end(be, err);
            return errmsg_set(err, OCT_ECANCELED, "canceled");
        }
        const layer_w_t *l = &M->L[il];
        size_t off = (size_t)il * (size_t)E;
        o->rmsnorm(be, M->x, 0, l->attn_norm, n, E, hp->norm_eps, M->xn);
        if (M->calib)
            calib_observe(M, M->calib->qkv_in + off, M->xn, n, (size_t)E);
        o->matmul(be, l->wqkv, M->xn, 0, n, M->qkv);
        if (l->bqkv)
            o->add_rows(be, M->qkv, l->bqkv, n, (int)ld);
        o->rope(be, M->qkv, n, ld, H + K, D, hp->rope_style == MODEL_ROPE_NEOX, M->cs);
        o->kv_write(be, s->kv, il, n, M->qkv, ld, (size_t)H * (size_t)D, (size_t)(H + K) * (size_t)D);
        o->attention(be, s->kv, il, M->qkv, ld, n, H, scale, M->att);
        if (M->calib)
            calib_observe(M, M->calib->wo_in + (size_t)il * (size_t)H * (size_t)D, M->att, n,
                          (size_t)H * (size_t)D);
        o->matmul(be, l->wo, M->att, 0, n, M->tmp);
        o->add(be, M->x, M->tmp, (size_t)n * (size_t)E);
        o->rmsnorm(be, M->x, 0, l->ffn_norm, n, E, hp->norm_eps, M->xn);
        if (M->calib)
            calib_observe(M, M->calib->gu_in + off, M->xn, n, (size_t)E);
        o->matmul(be, l->wgu, M->xn, 0, n, M->gu);
        o->swiglu(be, M->gu, n, F, M->hff);
        if (M->calib)
            calib_observe(M, M->calib->down_in + (size_t)il * (size_t)F, M->hff, n, (size_t)F);
        o->matmul(be, l->wdown, M->hff, 0, n, M->tmp);
        o->add(be, M->x, M->tmp, (size_t)n * (size_t)E);
    }
    if (n_out) {
        o->rmsnorm(be, M->x, (size_t)(n - n_out) * (size_t)E, M->out_norm, n_out, E, hp->norm_eps, M->xn);
        o->matmul(be, M->output, M->xn, 0, n_out, M->logits);
    }
    if ((rc = o->end(be, err)))
        return rc;
    if (n_out) {
        /* A backend that can rank candidates keeps the logits until someone
         * asks for all of them (eng_logits); sampling takes the top few. */
        if (n_out == 1 && o->topk) {
            s->dev_logits = true;
            M->logits_owner = s;
        } else if ((rc = o->buf_get(be, M->logits, 0, s->logits, (size_t)n_out * hp->n_vocab, err))) {
            return rc;
        }
        s->logits_n = (size_t)n_out;
        s->have_logits = true;
    }
    return 0;
}

/* Copy S's logits from the device (M's lock held). */
static int fetch_logits(eng_session_t *s, errmsg_t *err)
{
    eng_model_t *M = s->m;
    if (!s->dev_logits)
        return 0;
    s->dev_logits = false;
    if (M->logits_owner == s)
        M->logits_owner = NULL;
    int rc = M->be->ops->buf_get(M->be, M->logits, 0, s->logits, M->hp.n_vocab, err);
    if (rc)
        s->have_logits = false;
    return rc;
}

/* Feed N tokens in passes of up to n_batch; the last pass computes the
 * logits of its last token, of all its tokens with ALL (or logits_all). */
static int feed(eng_session_t *s, const int32_t *ids, size_t n, bool all, errmsg_t *err)
{
    eng_model_t *M = s->m;
    if (n == 0)
        return 0;
    if (n > M->opts.n_ctx - s->pos)
        return errmsg_set(err, OCT_EINVAL, "context full: %u tokens in the cache + %zu new > context size %u",
                          s->pos, n, M->opts.n_ctx);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= M->hp.n_vocab)
            return errmsg_set(err, OCT_EINVAL, "token id %d at index %zu is outside the vocabulary (0..%u)",
                              (int)ids[i], i, M->hp.n_vocab - 1);
    pthread_mutex_lock(&M->lock);
    s->have_logits = false;
    s->dev_logits = false;
    if (M->logits_owner == s)
        M->logits_owner = NULL;
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t nb = n - off < M->opts.n_batch ? n - off : M->opts.n_batch;
        int n_out = off + nb < n ? 0 : all || M->opts.logits_all ? (int)nb : 1;
        rc = forward(s, ids + off, (int)nb, n_out, err);
        if (rc == 0) {
            memcpy(s->ids + s->pos, ids + off, nb * sizeof *ids);
            s->pos += (uint32_t)nb;
            off += nb;
        }
    }
    pthread_mutex_unlock(&M->lock);
    if (rc == OCT_ECANCELED)
        atomic_store(&s->cancel, 0);
    return rc;
}

int eng_feed(eng_session_t *s, const int32_t *ids, size_t n, errmsg_t *err)
{
    return feed(s, ids, n, false, err);
}

size_t eng_verify_max(const eng_model_t *m)
{
    size_t n = m->opts.n_batch < ENG_VERIFY_MAX ? m->opts.n_batch : ENG_VERIFY_MAX;
    return m->logits_rows && m->logits_rows < n ? m->logits_rows : n;
}

int eng_feed_all(eng_session_t *s, const int32_t *ids, size_t n, errmsg_t *err)
{
    size_t max = eng_verify_max(s->m);
    if (n > max)
        return errmsg_set(err, OCT_EINVAL, "%zu tokens with logits for each: at most %zu in one pass", n, max);
    return feed(s, ids, n, true, err);
}

const int32_t *eng_tokens(const eng_session_t *s)
{
    return s->ids;
}

int eng_decode(eng_session_t *s, int32_t id, errmsg_t *err)
{
    return eng_feed(s, &id, 1, err);
}

static bool logits_on_host(eng_session_t *s)
{
    if (!s->have_logits)
        return false;
    if (s->dev_logits) {
        errmsg_t e;
        pthread_mutex_lock(&s->m->lock);
        fetch_logits(s, &e);
        pthread_mutex_unlock(&s->m->lock);
    }
    return s->have_logits;
}

const float *eng_logits(eng_session_t *s)
{
    if (!logits_on_host(s))
        return NULL;
    return s->logits + (s->logits_n - 1) * s->m->hp.n_vocab;
}

const float *eng_logits_at(eng_session_t *s, size_t i)
{
    if (i >= s->logits_n || !logits_on_host(s))
        return NULL;
    return s->logits + i * s->m->hp.n_vocab;
}

/* X ranks before Y: larger, then smaller id; NaN lowest. */
static bool ranks_before(float x, int32_t ix, float y, int32_t iy)
{
    if (isnan(y))
        return !isnan(x) || ix < iy;
    if (isnan(x))
        return false;
    return x > y || (x == y && ix < iy);
}

int eng_top_logits(eng_session_t *s, int k, int32_t *ids, float *vals, errmsg_t *err)
{
    eng_model_t *M = s->m;
    if (k < 1 || k > SAMPLE_MAX_CANDIDATES || (uint32_t)k > M->hp.n_vocab)
        return errmsg_set(err, OCT_EINVAL, "%d candidates asked (1..%d)", k, SAMPLE_MAX_CANDIDATES);
    if (!s->have_logits)
        return errmsg_set(err, OCT_EINVAL, "no logits: nothing was fed since the last truncation");
    int rc = 0;
    pthread_mutex_lock(&M->lock);
    if (s->dev_logits && M->logits_owner == s) {
        rc = M->be->ops->topk(M->be, M->logits, (int)M->hp.n_vocab, k, ids, vals, err);
        pthread_mutex_unlock(&M->lock);
        return rc;
    }
    rc = fetch_logits(s, err);
    pthread_mutex_unlock(&M->lock);
    if (rc)
        return rc;
    /* insertion into a sorted list of K: most logits fail the first test */
    const float *l = s->logits + (s->logits_n - 1) * M->hp.n_vocab;
    int n = 0;
    for (uint32_t i = 0; i < M->hp.n_vocab; i++) {
        if (n == k && !ranks_before(l[i], (int32_t)i, vals[k - 1], ids[k - 1]))
            continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && ranks_before(l[i], (int32_t)i, vals[j - 1], ids[j - 1])) {
            vals[j] = vals[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        vals[j] = l[i];
        ids[j] = (int32_t)i;
    }
    return 0;
}

int eng_sample(eng_session_t *s, sampler_t *smp, int32_t *out, errmsg_t *err)
{
    int k = sample_candidates(smp);
    if (k > 0 && s->dev_logits) {
        int32_t ids[SAMPLE_MAX_CANDIDATES];
        float vals[SAMPLE_MAX_CANDIDATES];
        int rc = eng_top_logits(s, k, ids, vals, err);
        if (rc)
            return rc;
        *out = sample_token_top(smp, ids, vals, (size_t)k);
        return 0;
    }
    const float *l = eng_logits(s);
    if (!l)
        return errmsg_set(err, OCT_EINVAL, "no logits to sample from");
    *out = sample_token(smp, l);
    return 0;
}

size_t eng_last_batch(const eng_session_t *s)
{
    return s->have_logits ? s->logits_n : 0;
}

uint32_t eng_pos(const eng_session_t *s)
{
    return s->pos;
}

uint32_t eng_n_ctx(const eng_session_t *s)
{
    return s->m->opts.n_ctx;
}

int eng_truncate(eng_session_t *s, uint32_t pos, errmsg_t *err)
{
    if (pos > s->pos)
        return errmsg_set(err, OCT_EINVAL, "cannot truncate to position %u: the session holds %u tokens", pos,
                          s->pos);
    if (pos < s->pos) {
        pthread_mutex_lock(&s->m->lock);
        s->have_logits = false;
        s->dev_logits = false;
        if (s->m->logits_owner == s)
            s->m->logits_owner = NULL;
        pthread_mutex_unlock(&s->m->lock);
    }
    s->pos = pos;
    return 0;
}

void eng_cancel(eng_session_t *s)
{
    atomic_store(&s->cancel, 1);
}

void eng_cancel_clear(eng_session_t *s)
{
    atomic_store(&s->cancel, 0);
}

void eng_memory(const eng_model_t *M, const eng_session_t *s, eng_mem_t *out)
{
    be_dev_info_t di;
    memset(out, 0, sizeof *out);
    M->be->ops->dev_info(M->be, &di);
    eng_mem_dev_t *d = &out->dev[0];
    out->n_dev = 1;
    snprintf(d->name, sizeof d->name, "%s", di.name);
    d->weights = M->weight_bytes;
    d->kv = s ? s->kv_bytes : M->be->ops->kv_bytes(M->be, &M->kv_desc);
    /* the session's host copy of the logits is scratch on the host */
    uint64_t logits = (uint64_t)M->logits_rows * M->hp.n_vocab * sizeof(float);
    d->scratch = M->scratch_bytes + di.scratch + logits;
    d->dev_free = di.dev_free;
    d->dev_total = di.dev_total;
    out->weights = d->weights;
    out->kv = d->kv;
    out->scratch = d->scratch;
}

/* ---- SmoothQuant calibration -------------------------------------------- */

/* Max |W[r][j]| over the rows of every tensor of a group, per column j. */
static int weight_colmax(const gguf_tensor_t *const *ts, int n_ts, float *col_max, errmsg_t *err)
{
    uint64_t cols = ts[0]->ne[0];
    float *row = malloc(cols * sizeof(float));
    if (!row)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    memset(col_max, 0, cols * sizeof(float));
    for (int i = 0; i < n_ts; i++)
        for (uint64_t r = 0; r < tensor_rows(ts[i]); r++) {
            tensor_row_f32(ts[i], r, row);
            sq_absmax_update(col_max, row, 1, cols);
        }
    free(row);
    return 0;
}

static int read_calib_text(const char *path, char **out, size_t *len, errmsg_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open calibration text", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return errmsg_set(err, OCT_EIO, "%s: read error", path);
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Run the calibration text through the plain int8 model collecting the
 * activation maxima of every matmul input, then re-upload each layer with
 * the smoothing factors folded in. */
static int calibrate(eng_model_t *M, errmsg_t *err)
{
    const model_hparams_t *hp = &M->hp;
    size_t E = hp->n_embd, HD = (size_t)hp->n_head * hp->head_dim, F = hp->n_ff, NL = hp->n_layer;
    size_t D = hp->head_dim, G = hp->n_head / hp->n_head_kv;
    sq_stats_t st = {0};
    eng_session_t *s = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0, len = 0;
    float *wmax = NULL, *fac = NULL;
    int rc;
    if (!M->tok)
        return errmsg_set(err, OCT_EUNSUPPORTED, "smoothquant needs the model's tokenizer for calibration");
    if (M->opts.calib_path) {
        if ((rc = read_calib_text(M->opts.calib_path, &text, &len, err)))
            return rc;
    }
    const char *src = text ? text : sq_builtin_calib(&len);
    if ((rc = tok_encode(M->tok, src, len, TOK_ADD_BOS, &ids, &n_ids, err)))
        goto fail;
    if (n_ids < 2) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: calibration text is empty",
                        M->opts.calib_path ? M->opts.calib_path : "built-in");
        goto fail;
    }
    if (n_ids > M->opts.n_ctx)
        n_ids = M->opts.n_ctx;
    size_t widest = E > HD ? E : HD;
    widest = widest > F ? widest : F;
    st.qkv_in = calloc(NL * E, sizeof(float));
    st.gu_in = calloc(NL * E, sizeof(float));
    st.wo_in = calloc(NL * HD, sizeof(float));
    st.down_in = calloc(NL * F, sizeof(float));
    st.tmp = malloc(M->opts.n_batch * widest * sizeof(float));
    wmax = malloc(widest * sizeof(float));
    fac = malloc(4 * widest * sizeof(float));
    if (!st.qkv_in || !st.gu_in || !st.wo_in || !st.down_in || !st.tmp || !wmax || !fac) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = eng_session_new(&s, M, err)))
        goto fail;
    M->calib = &st;
    rc = eng_feed(s, ids, n_ids, err);
    M->calib = NULL;
    eng_session_free(s);
    s = NULL;
    if (rc)
        goto fail;
    for (size_t il = 0; il < NL; il++) {
        const model_layer_t *ml = &M->md->layers[il];
        layer_sq_t sq = {fac, fac + widest, fac + 2 * widest, fac + 3 * widest};
        const gguf_tensor_t *qkv[3] = {ml->wq, ml->wk, ml->wv}, *gu[2] = {ml->w_gate, ml->w_up};
        if ((rc = weight_colmax(qkv, 3, wmax, err)))
            goto fail;
        sq_factors(st.qkv_in + il * E, wmax, E, M->opts.sq_alpha, sq.s_qkv);
        if ((rc = weight_colmax(gu, 2, wmax, err)))
            goto fail;
        sq_factors(st.gu_in + il * E, wmax, E, M->opts.sq_alpha, sq.s_gu);
        if ((rc = weight_colmax(&ml->w_down, 1, wmax, err)))
            goto fail;
        sq_factors(st.down_in + il * F, wmax, F, M->opts.sq_alpha, sq.s_down);
        /* wo inputs: the heads of one KV group share their v rows, so each
         * (group, dim) channel takes its maxima over the group's heads */
        if ((rc = weight_colmax(&ml->wo, 1, wmax, err)))
            goto fail;
        const float *act = st.wo_in + il * HD;
        for (size_t g = 0; g < hp->n_head_kv; g++)
            for (size_t d = 0; d < D; d++) {
                float am = 0, wm = 0;
                for (size_t h = g * G; h < (g + 1) * G; h++) {
                    am = fmaxf(am, act[h * D + d]);
                    wm = fmaxf(wm, wmax[h * D + d]);
                }
                float sgd;
                sq_factors(&am, &wm, 1, M->opts.sq_alpha, &sgd);
                for (size_t h = g * G; h < (g + 1) * G; h++)
                    sq.s_wo[h * D + d] = sgd;
            }
        layer_w_t *l = &M->L[il];
        const be_ops_t *o = M->be->ops;
        uint64_t old = o->mat_bytes(M->be, l->wqkv) + o->mat_bytes(M->be, l->wo) +
                       o->mat_bytes(M->be, l->wgu) + o->mat_bytes(M->be, l->wdown) +
                       (2 * E + (l->bqkv ? (size_t)M->qkv_w : 0)) * sizeof(float);
        free_layer_mats(M, l);
        M->weight_bytes -= old;
        if ((rc = upload_layer(M, (int)il, &sq, err)))
            goto fail;
    }
fail:
    M->calib = NULL;
    eng_session_free(s);
    free(st.qkv_in);
    free(st.gu_in);
    free(st.wo_in);
    free(st.down_in);
    free(st.tmp);
    free(wmax);
    free(fac);
    free(ids);
    free(text);
    return rc;
}
