/* load.c - the weights, from the GGUF file's tensors to the backend: format
 * selection (Q8_0 kept, others converted), Q/K/V and gate/up fused into one
 * matrix each, SmoothQuant factors folded into rows and columns, the RoPE
 * frequencies with their scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

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

uint64_t eng_tensor_rows(const gguf_tensor_t *t)
{
    return t->n_elems / t->ne[0];
}

void eng_tensor_row_f32(const gguf_tensor_t *t, uint64_t r, float *out)
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
static int upload_matrix_as(eng_model_t *M, const mat_part_t *parts, int n_parts, const float *col_scale,
                            bool lookup, be_mat_t **out, errmsg_t *err)
{
    uint64_t cols = parts[0].t->ne[0], rows = 0;
    bool same = true, row_scaled = false;
    for (int i = 0; i < n_parts; i++) {
        if (parts[i].t->ne[0] != cols)
            return errmsg_set(err, OCT_EFORMAT, "tensor '%s' has %llu columns, expected %llu",
                              parts[i].t->name, (unsigned long long)parts[i].t->ne[0],
                              (unsigned long long)cols);
        rows += eng_tensor_rows(parts[i].t);
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
            for (uint64_t r = 0; r < eng_tensor_rows(parts[i].t); r++, p += cols) {
                eng_tensor_row_f32(parts[i].t, r, p);
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
    const be_ops_t *o = M->be->ops;
    int rc = (lookup && o->mat_new_lookup ? o->mat_new_lookup : o->mat_new)(M->be, out, fmt, src, data, (int)rows,
                                                                           (int)cols, col_scale, err);
    free(tmp);
    if (rc == 0)
        M->weight_bytes += M->be->ops->mat_bytes(M->be, *out);
    return rc;
}

static int upload_matrix(eng_model_t *M, const mat_part_t *parts, int n_parts, const float *col_scale,
                         be_mat_t **out, errmsg_t *err)
{
    return upload_matrix_as(M, parts, n_parts, col_scale, false, out, err);
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
        eng_tensor_row_f32(ts[i], 0, h + off);
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
        eng_tensor_row_f32(factors, 0, factors_f);
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

void eng_free_layer(eng_model_t *M, layer_w_t *l)
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

int eng_upload_layer(eng_model_t *M, int il, const layer_sq_t *sq, errmsg_t *err)
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

int eng_load_weights(eng_model_t *M, errmsg_t *err)
{
    const model_hparams_t *hp = &M->hp;
    const be_ops_t *o = M->be->ops;
    int rc;
    M->L = calloc(hp->n_layer, sizeof *M->L);
    if (!M->L)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    mat_part_t emb = {M->md->tok_embd, NULL};
    bool tied = hp->tied_embeddings || M->md->output == M->md->tok_embd;
    /* untied, the table is only looked up, a row a token: a GPU backend
     * need not hold it (7B shape: 545 MB of device memory) */
    if ((rc = upload_matrix_as(M, &emb, 1, NULL, !tied, &M->tok_embd, err)))
        return rc;
    if (tied) {
        M->output = M->tok_embd;
    } else {
        mat_part_t out = {M->md->output, NULL};
        if ((rc = upload_matrix(M, &out, 1, NULL, &M->output, err)))
            return rc;
    }
    if ((rc = upload_vector(M, &M->md->out_norm, 1, NULL, false, &M->out_norm, err)))
        return rc;
    for (uint32_t l = 0; l < hp->n_layer; l++)
        if ((rc = eng_upload_layer(M, (int)l, NULL, err)))
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
    return 0;
}
