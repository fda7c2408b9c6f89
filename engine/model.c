/* model.c - turns a validated GGUF file into a model description: the
 * llama/qwen2 hyper-parameters from its metadata, every tensor looked up by
 * name with its shape checked against them, and the memory plan. The engine
 * relies on these checks: after model_load every tensor it touches exists,
 * has the shape the hyper-parameters imply and lies inside the file. */
#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *model_arch_name(model_arch_t a)
{
    switch (a) {
    case MODEL_ARCH_LLAMA: return "llama";
    case MODEL_ARCH_QWEN2: return "qwen2";
    }
    return "unknown";
}

/* ---- hyper-parameters --------------------------------------------------- */

typedef struct loader {
    const gguf_t *g;
    const char *path;
    const char *arch; /* key prefix */
    errmsg_t *err;
} loader_t;

/* "ARCH.SUFFIX" into BUF. */
static const char *akey(const loader_t *l, const char *suffix, char *buf, size_t n)
{
    snprintf(buf, n, "%s.%s", l->arch, suffix);
    return buf;
}

/* An unsigned 32-bit hyper-parameter. Absent: *out = def, or an error when
 * REQUIRED. Zero is refused when !ZERO_OK. */
static int get_u32(const loader_t *l, const char *suffix, bool required, uint32_t def, bool zero_ok,
                   uint32_t *out)
{
    char key[160];
    akey(l, suffix, key, sizeof key);
    uint64_t v;
    int rc = gguf_get_uint(l->g, key, &v, l->err);
    if (rc == OCT_ENOTFOUND && !required) {
        errmsg_clear(l->err);
        *out = def;
        return 0;
    }
    if (rc == OCT_ENOTFOUND)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: required key '%s' is missing", l->path, key);
    if (rc)
        return l->err->code = OCT_EFORMAT; /* gguf said what is wrong */
    if (v > UINT32_MAX)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: %s = %" PRIu64 " is out of range", l->path, key, v);
    if (v == 0 && !zero_ok)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: %s is 0", l->path, key);
    *out = (uint32_t)v;
    return 0;
}

/* A float hyper-parameter: finite, and > 0 when POSITIVE. */
static int get_f32(const loader_t *l, const char *suffix, bool required, float def, bool positive,
                   float *out, bool *present)
{
    char key[160];
    akey(l, suffix, key, sizeof key);
    double v;
    int rc = gguf_get_float(l->g, key, &v, l->err);
    if (present)
        *present = rc == 0;
    if (rc == OCT_ENOTFOUND && !required) {
        errmsg_clear(l->err);
        *out = def;
        return 0;
    }
    if (rc == OCT_ENOTFOUND)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: required key '%s' is missing", l->path, key);
    if (rc)
        return l->err->code = OCT_EFORMAT;
    if (!isfinite(v) || fabs(v) > 3.0e38 || (positive && !(v > 0)))
        return errmsg_set(l->err, OCT_EFORMAT, "%s: %s = %g is not %s", l->path, key, v,
                          positive ? "a positive number" : "a finite number");
    *out = (float)v;
    return 0;
}

/* Copy a metadata string for display: at most N-1 bytes, cut at a UTF-8
 * character boundary, control characters replaced so that a hostile name
 * cannot drive the terminal. */
static void copy_display(char *dst, size_t n, const char *src, size_t len)
{
    if (len > n - 1) {
        len = n - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    dst[len] = '\0';
}

static int read_rope_scaling(const loader_t *l, model_hparams_t *hp)
{
    char key[160];
    gguf_str_t type;
    bool has_factor, has_linear;
    float linear;
    int rc;
    if ((rc = get_f32(l, "rope.scaling.factor", false, 0, false, &hp->rope_scale_factor, &has_factor)))
        return rc;
    /* Older files give linear scaling as rope.scale_linear. */
    if ((rc = get_f32(l, "rope.scale_linear", false, 0, false, &linear, &has_linear)))
        return rc;
    if (!has_factor && has_linear)
        hp->rope_scale_factor = linear, has_factor = true;
    if (has_factor && hp->rope_scale_factor == 0)
        has_factor = false; /* llama.cpp reads 0 as "no scaling" */
    if (has_factor && hp->rope_scale_factor < 0)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: %s = %g is negative", l->path,
                          akey(l, "rope.scaling.factor", key, sizeof key), (double)hp->rope_scale_factor);
    if (!has_factor)
        hp->rope_scale_factor = 1;

    akey(l, "rope.scaling.type", key, sizeof key);
    rc = gguf_get_str(l->g, key, &type, l->err);
    if (rc == OCT_ENOTFOUND) {
        errmsg_clear(l->err);
        /* As in llama.cpp, a factor without a type means linear scaling. */
        hp->rope_scaling = hp->rope_scale_factor != 1 ? MODEL_ROPE_SCALING_LINEAR : MODEL_ROPE_SCALING_NONE;
    } else if (rc) {
        return l->err->code = OCT_EFORMAT;
    } else if (gguf_str_eq(type, "none")) {
        hp->rope_scaling = MODEL_ROPE_SCALING_NONE;
        hp->rope_scale_factor = 1;
    } else if (gguf_str_eq(type, "linear")) {
        hp->rope_scaling = MODEL_ROPE_SCALING_LINEAR;
    } else if (gguf_str_eq(type, "yarn")) {
        hp->rope_scaling = MODEL_ROPE_SCALING_YARN;
    } else {
        char shown[40];
        copy_display(shown, sizeof shown, type.ptr, (size_t)(type.len < 64 ? type.len : 64));
        return errmsg_set(l->err, OCT_EUNSUPPORTED,
                          "%s: %s is '%s', which octet does not support (none, linear, yarn)",
                          l->path, key, shown);
    }
    if ((rc = get_u32(l, "rope.scaling.original_context_length", false, 0, true, &hp->rope_orig_ctx)) ||
        (rc = get_f32(l, "rope.scaling.yarn_ext_factor", false, -1, false, &hp->yarn_ext_factor, NULL)) ||
        (rc = get_f32(l, "rope.scaling.yarn_beta_fast", false, 32, false, &hp->yarn_beta_fast, NULL)) ||
        (rc = get_f32(l, "rope.scaling.yarn_beta_slow", false, 1, false, &hp->yarn_beta_slow, NULL)))
        return rc;
    bool has_attn;
    if ((rc = get_f32(l, "rope.scaling.yarn_attn_factor", false, 1, true, &hp->yarn_attn_factor, &has_attn)))
        return rc;
    if (!has_attn &&
        (rc = get_f32(l, "rope.scaling.attn_factor", false, 1, true, &hp->yarn_attn_factor, NULL)))
        return rc;
    return 0;
}

static int read_hparams(const loader_t *l, const gguf_t *g, model_hparams_t *hp)
{
    char key[160];
    int rc;
    if ((rc = get_u32(l, "embedding_length", true, 0, false, &hp->n_embd)) ||
        (rc = get_u32(l, "block_count", true, 0, false, &hp->n_layer)) ||
        (rc = get_u32(l, "attention.head_count", true, 0, false, &hp->n_head)) ||
        (rc = get_u32(l, "attention.head_count_kv", false, hp->n_head, false, &hp->n_head_kv)) ||
        (rc = get_u32(l, "feed_forward_length", true, 0, false, &hp->n_ff)) ||
        (rc = get_u32(l, "context_length", true, 0, false, &hp->n_ctx_train)) ||
        (rc = get_f32(l, "attention.layer_norm_rms_epsilon", true, 0, true, &hp->norm_eps, NULL)) ||
        (rc = get_f32(l, "rope.freq_base", false, 10000, true, &hp->rope_base, NULL)))
        return rc;
    if (hp->n_embd % hp->n_head == 0)
        hp->head_dim = hp->n_embd / hp->n_head;
    if ((rc = get_u32(l, "attention.key_length", hp->head_dim == 0, hp->head_dim, false, &hp->head_dim)))
        return rc;
    if (hp->n_head % hp->n_head_kv) {
        char key2[160];
        return errmsg_set(l->err, OCT_EFORMAT,
                          "%s: %s = %" PRIu32 " is not a multiple of %s = %" PRIu32, l->path,
                          akey(l, "attention.head_count", key, sizeof key), hp->n_head,
                          akey(l, "attention.head_count_kv", key2, sizeof key2), hp->n_head_kv);
    }
    if (hp->head_dim % 2)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: head size %" PRIu32 " is odd; RoPE needs pairs",
                          l->path, hp->head_dim);
    /* Value heads must have the key size too: octet's attention assumes it. */
    uint32_t vlen;
    if ((rc = get_u32(l, "attention.value_length", false, hp->head_dim, false, &vlen)))
        return rc;
    if (vlen != hp->head_dim)
        return errmsg_set(l->err, OCT_EUNSUPPORTED,
                          "%s: attention.value_length %" PRIu32 " differs from the key length %" PRIu32
                          ", which octet does not support",
                          l->path, vlen, hp->head_dim);
    if ((uint64_t)hp->n_head * hp->head_dim > UINT32_MAX)
        return errmsg_set(l->err, OCT_EFORMAT, "%s: head_count x key_length overflows", l->path);
    if ((rc = read_rope_scaling(l, hp)))
        return rc;

    /* Vocabulary size: the key, else the embedding's rows, else the token list. */
    const gguf_tensor_t *emb = gguf_find_tensor(g, "token_embd.weight");
    gguf_arr_t toks;
    if ((rc = get_u32(l, "vocab_size", false, 0, false, &hp->n_vocab)))
        return rc;
    if (hp->n_vocab == 0 && emb && emb->ne[1] <= UINT32_MAX)
        hp->n_vocab = (uint32_t)emb->ne[1];
    if (hp->n_vocab == 0 && gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == 0 &&
        toks.n > 0 && toks.n <= UINT32_MAX)
        hp->n_vocab = (uint32_t)toks.n;
    if (hp->n_vocab == 0)
        return errmsg_set(l->err, OCT_EFORMAT,
                          "%s: cannot tell the vocabulary size (no %s, token_embd.weight or "
                          "tokenizer.ggml.tokens)",
                          l->path, akey(l, "vocab_size", key, sizeof key));
    return 0;
}

/* ---- tensors ------------------------------------------------------------ */

static void fmt_shape(char *buf, size_t n, const uint64_t *ne, uint32_t nd)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (uint32_t d = 0; d < nd && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRIu64, d ? ", " : "", ne[d]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* Look up NAME and check it has shape {e0} (e1 == 0) or {e0, e1}. 1-D
 * tensors (norms, biases) must be F32: the engine reads them directly.
 * Absent: *out = NULL and OCT_ENOTFOUND when OPTIONAL, else an error. */
static int find_tensor(const loader_t *l, const char *name, uint64_t e0, uint64_t e1, bool optional,
                       const gguf_tensor_t **out)
{
    const gguf_tensor_t *t = gguf_find_tensor(l->g, name);
    *out = t;
    if (!t) {
        if (optional)
            return OCT_ENOTFOUND;
        return errmsg_set(l->err, OCT_EFORMAT, "%s: tensor '%s' is missing", l->path, name);
    }
    uint64_t want[GGUF_MAX_DIMS] = {e0, e1 ? e1 : 1, 1, 1};
    uint32_t want_nd = e1 ? 2 : 1;
    if (memcmp(t->ne, want, sizeof want) != 0) {
        char got_s[128], want_s[128];
        fmt_shape(got_s, sizeof got_s, t->ne, t->n_dims);
        fmt_shape(want_s, sizeof want_s, want, want_nd);
        return errmsg_set(l->err, OCT_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", l->path, name,
                          got_s, want_s);
    }
    if (!e1 && t->type != GGUF_TTYPE_F32)
        return errmsg_set(l->err, OCT_EUNSUPPORTED, "%s: tensor '%s' is %s; octet needs F32 for 1-D tensors",
                          l->path, name, gguf_ttype_name(t->type));
    return 0;
}

static int find_layer_tensor(const loader_t *l, uint32_t il, const char *what, uint64_t e0, uint64_t e1,
                             bool optional, const gguf_tensor_t **out)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%" PRIu32 ".%s", il, what);
    return find_tensor(l, name, e0, e1, optional, out);
}

static int load_tensors(const loader_t *l, model_t *m)
{
    const model_hparams_t *hp = &m->hp;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim;
    uint64_t kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    int rc;
    if ((rc = find_tensor(l, "token_embd.weight", hp->n_embd, hp->n_vocab, false, &m->tok_embd)) ||
        (rc = find_tensor(l, "output_norm.weight", hp->n_embd, 0, false, &m->out_norm)))
        return rc;
    rc = find_tensor(l, "output.weight", hp->n_embd, hp->n_vocab, true, &m->output);
    if (rc == OCT_ENOTFOUND) {
        m->output = m->tok_embd;
        m->hp.tied_embeddings = true;
    } else if (rc) {
        return rc;
    }
    rc = find_tensor(l, "rope_freqs.weight", hp->head_dim / 2, 0, true, &m->rope_freqs);
    if (rc && rc != OCT_ENOTFOUND)
        return rc;

    /* Biases are all or nothing, decided by layer 0. */
    const gguf_tensor_t *probe;
    m->hp.qkv_bias = find_layer_tensor(l, 0, "attn_q.bias", q_dim, 0, true, &probe) != OCT_ENOTFOUND;
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        model_layer_t *L = &m->layers[il];
        if ((rc = find_layer_tensor(l, il, "attn_norm.weight", hp->n_embd, 0, false, &L->attn_norm)) ||
            (rc = find_layer_tensor(l, il, "attn_q.weight", hp->n_embd, q_dim, false, &L->wq)) ||
            (rc = find_layer_tensor(l, il, "attn_k.weight", hp->n_embd, kv_dim, false, &L->wk)) ||
            (rc = find_layer_tensor(l, il, "attn_v.weight", hp->n_embd, kv_dim, false, &L->wv)) ||
            (rc = find_layer_tensor(l, il, "attn_output.weight", q_dim, hp->n_embd, false, &L->wo)) ||
            (rc = find_layer_tensor(l, il, "ffn_norm.weight", hp->n_embd, 0, false, &L->ffn_norm)) ||
            (rc = find_layer_tensor(l, il, "ffn_gate.weight", hp->n_embd, hp->n_ff, false, &L->w_gate)) ||
            (rc = find_layer_tensor(l, il, "ffn_up.weight", hp->n_embd, hp->n_ff, false, &L->w_up)) ||
            (rc = find_layer_tensor(l, il, "ffn_down.weight", hp->n_ff, hp->n_embd, false, &L->w_down)))
            return rc;
        if (m->hp.qkv_bias &&
            ((rc = find_layer_tensor(l, il, "attn_q.bias", q_dim, 0, false, &L->bq)) ||
             (rc = find_layer_tensor(l, il, "attn_k.bias", kv_dim, 0, false, &L->bk)) ||
             (rc = find_layer_tensor(l, il, "attn_v.bias", kv_dim, 0, false, &L->bv))))
            return rc;
    }
    return 0;
}

int model_load(model_t **out, const gguf_t *g, errmsg_t *err)
{
    *out = NULL;
    errmsg_clear(err);
    model_t *m = calloc(1, sizeof *m);
    errmsg_t local;
    loader_t l = {g, gguf_path(g), "", err ? err : &local};
    gguf_str_t arch;
    int rc;
    if (!m)
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory", l.path);
    m->gguf = g;
    rc = gguf_get_str(g, "general.architecture", &arch, l.err);
    if (rc == OCT_ENOTFOUND) {
        rc = errmsg_set(l.err, OCT_EFORMAT, "%s: required key 'general.architecture' is missing", l.path);
        goto fail;
    }
    if (rc)
        goto fail;
    if (gguf_str_eq(arch, "llama")) {
        m->hp.arch = MODEL_ARCH_LLAMA;
        m->hp.rope_style = MODEL_ROPE_ADJACENT;
    } else if (gguf_str_eq(arch, "qwen2")) {
        m->hp.arch = MODEL_ARCH_QWEN2;
        m->hp.rope_style = MODEL_ROPE_NEOX;
    } else {
        char shown[40];
        copy_display(shown, sizeof shown, arch.ptr, (size_t)(arch.len < 64 ? arch.len : 64));
        rc = errmsg_set(l.err, OCT_EUNSUPPORTED,
                        "%s: architecture '%s' is not supported (octet runs llama and qwen2)", l.path, shown);
        goto fail;
    }
    l.arch = model_arch_name(m->hp.arch);

    gguf_str_t name;
    if (gguf_get_str(g, "general.name", &name, NULL) == 0 && name.len > 0) {
        copy_display(m->hp.name, sizeof m->hp.name, name.ptr, (size_t)(name.len < 1024 ? name.len : 1024));
    } else {
        const char *base = strrchr(l.path, '/');
        base = base ? base + 1 : l.path;
        copy_display(m->hp.name, sizeof m->hp.name, base, strlen(base));
    }

    if ((rc = read_hparams(&l, g, &m->hp)))
        goto fail;
    /* Each layer needs tensors of its own, so n_layer is bounded by the file. */
    if (m->hp.n_layer > gguf_tensor_count(g)) {
        char key[160];
        rc = errmsg_set(l.err, OCT_EFORMAT, "%s: %s = %" PRIu32 " but the file holds only %" PRIu64 " tensors",
                        l.path, akey(&l, "block_count", key, sizeof key), m->hp.n_layer, gguf_tensor_count(g));
        goto fail;
    }
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = errmsg_set(l.err, OCT_ENOMEM, "%s: out of memory for %" PRIu32 " layers", l.path, m->hp.n_layer);
        goto fail;
    }
    if ((rc = load_tensors(&l, m)))
        goto fail;
    *out = m;
    return 0;

fail:
    model_free(m);
    return rc;
}

void model_free(model_t *m)
{
    if (!m)
        return;
    free(m->layers);
    free(m);
}

/* ---- memory plan -------------------------------------------------------- */

/* Saturating arithmetic: a plan for an absurd --ctx says "too much" rather
 * than wrapping around to a small number. */
static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t sat_mul(uint64_t a, uint64_t b) { return b && a > UINT64_MAX / b ? UINT64_MAX : a * b; }

void model_mem_plan(const model_t *m, uint64_t ctx, model_wfmt_t wfmt, model_kvfmt_t kvfmt,
                    model_mem_plan_t *out)
{
    const model_hparams_t *hp = &m->hp;
    uint64_t w32 = 0;
    memset(out, 0, sizeof *out);
    /* Every tensor of the file counts, as the engine keeps them all: 1-D
     * ones (norms, biases, rope factors) stay f32, matrices change format. */
    for (uint64_t i = 0; i < gguf_tensor_count(m->gguf); i++) {
        const gguf_tensor_t *t = gguf_tensor(m->gguf, i);
        uint64_t n = t->n_elems;
        out->weights_stored = sat_add(out->weights_stored, t->nbytes);
        if (t->n_dims == 1) {
            out->weights_f16 = sat_add(out->weights_f16, sat_mul(n, 4));
            out->weights_int8 = sat_add(out->weights_int8, sat_mul(n, 4));
            w32 = sat_add(w32, sat_mul(n, 4));
            continue;
        }
        uint64_t rows = n / t->ne[0];
        out->weights_f16 = sat_add(out->weights_f16, sat_mul(n, 2));
        out->weights_int8 = sat_add(out->weights_int8, t->type == GGUF_TTYPE_Q8_0
                                                           ? t->nbytes
                                                           : sat_add(n, sat_mul(rows, 4)));
        w32 = sat_add(w32, sat_mul(n, 4));
    }
    /* Per token and layer, K and V each hold n_head_kv * head_dim values. */
    uint64_t kv_elems = sat_mul(sat_mul(2, hp->n_layer), sat_mul(hp->n_head_kv, hp->head_dim));
    uint64_t tok_f32 = sat_mul(kv_elems, 4);
    uint64_t tok_f16 = sat_mul(kv_elems, 2);
    uint64_t tok_int8 = sat_add(kv_elems, sat_mul(sat_mul(2, hp->n_layer), sat_mul(hp->n_head_kv, 4)));
    out->kv_per_1k_f32 = sat_mul(tok_f32, 1024);
    out->kv_per_1k_f16 = sat_mul(tok_f16, 1024);
    out->kv_per_1k_int8 = sat_mul(tok_int8, 1024);
    out->ctx = ctx ? ctx : hp->n_ctx_train;
    uint64_t per_tok = kvfmt == MODEL_KV_F32 ? tok_f32 : kvfmt == MODEL_KV_F16 ? tok_f16 : tok_int8;
    out->kv_total = sat_mul(per_tok, out->ctx);
    out->weights_total = wfmt == MODEL_WFMT_F32   ? w32
                         : wfmt == MODEL_WFMT_F16 ? out->weights_f16
                                                  : out->weights_int8;
    out->total = sat_add(out->weights_total, out->kv_total);
}
