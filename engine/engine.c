/* engine.c - models and sessions: options, opening a model on a backend
 * (the weights themselves: load.c; SmoothQuant calibration: calib.c),
 * sessions (KV cache, position, the ids it holds, truncation,
 * cancellation), feeding tokens through the forward pass (forward.c) and
 * reading the logits back. See engine.h. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

#define DEFAULT_BATCH 256

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

bool eng_auto_uses_gpu(void)
{
    errmsg_t e;
    uint64_t fr, tot;
    return eng_gpu_info(NULL, 0, &fr, &tot, &e) == 0;
}

#define GIB(x) ((double)(x) / 1073741824.0)

static uint32_t ffn_rows_of(uint32_t n_batch)
{
    return n_batch < ENG_FFN_CHUNK ? n_batch : ENG_FFN_CHUNK;
}

/* Activation buffers of one forward pass (open_impl's new_scratch calls). */
static uint64_t activation_bytes(const model_hparams_t *hp, uint32_t n_batch, bool logits_all)
{
    uint64_t nb = n_batch, E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    uint64_t qkv = (hp->n_head + 2ull * hp->n_head_kv) * D, HD = (uint64_t)hp->n_head * D;
    return 4 * (nb * (3 * E + qkv + HD + D) + (uint64_t)ffn_rows_of(n_batch) * 3 * F +
                (logits_all ? nb : 1) * (uint64_t)hp->n_vocab);
}

/* Before anything is uploaded to a GPU: whether the weights, the KV cache
 * of one session and the activations fit its free memory, so that a model
 * or context too large is an answer naming the sizes, not a failure halfway
 * through the upload. The backend's own work space (a few hundred MB at
 * most) is left to the allocation checks. */
static int gpu_fit_check(eng_model_t *M, errmsg_t *err)
{
    const model_hparams_t *hp = &M->hp;
    be_dev_info_t di;
    M->be->ops->dev_info(M->be, &di);
    if (!di.dev_total)
        return 0;
    static const model_wfmt_t wf[] = {MODEL_WFMT_F32, MODEL_WFMT_F16, MODEL_WFMT_INT8, MODEL_WFMT_INT8};
    static const model_kvfmt_t kf[] = {MODEL_KV_F32, MODEL_KV_F16, MODEL_KV_INT8};
    model_mem_plan_t mp;
    model_mem_plan(M->md, M->opts.n_ctx, wf[M->opts.wfmt], kf[M->opts.kvfmt], &mp);
    be_kv_desc_t kd = {.fmt = (be_kvfmt_t)M->opts.kvfmt, .n_layer = (int)hp->n_layer,
                       .n_head_kv = (int)hp->n_head_kv, .head_dim = (int)hp->head_dim,
                       .n_ctx = (int)M->opts.n_ctx};
    uint64_t kv = M->be->ops->kv_bytes(M->be, &kd);
    uint64_t act = activation_bytes(hp, M->opts.n_batch, M->opts.logits_all);
    uint64_t need = mp.weights_total + kv + act;
    if (need <= di.dev_free)
        return 0;
    return errmsg_set(err, OCT_ENOMEM,
                      "the model does not fit the GPU: it needs %.2f GiB (weights %.2f GiB %s, KV cache %.2f GiB for "
                      "%u tokens %s, activations %.2f GiB) and %s has %.2f GiB free of %.2f GiB",
                      GIB(need), GIB(mp.weights_total), eng_wfmt_name(M->opts.wfmt), GIB(kv), M->opts.n_ctx,
                      eng_kvfmt_name(M->opts.kvfmt), GIB(act), di.name, GIB(di.dev_free), GIB(di.dev_total));
}

/* "auto" takes a usable GPU (the CUDA plugin loads and finds one, and the
 * model fits its free memory) and the CPU otherwise; why it stayed on the
 * CPU is kept for eng_backend_note. */
static int open_backend(eng_model_t *M, errmsg_t *err)
{
    const char *b = M->opts.backend ? M->opts.backend : "auto";
    M->backend_note[0] = 0;
    if (!strcmp(b, "cpu"))
        return be_cpu_new(&M->be, M->opts.n_threads, err);
    if (!strcmp(b, "cuda")) {
        int rc = be_cuda_new(&M->be, 0, err);
        return rc ? rc : gpu_fit_check(M, err);
    }
    if (strcmp(b, "auto"))
        return errmsg_set(err, OCT_EINVAL, "unknown backend '%s' (use cpu, cuda or auto)", b);
    errmsg_t e;
    be_dev_info_t di;
    char path[4096];
    int rc = be_cuda_plugin_find(path, sizeof path, &e);
    if (rc == 0)
        rc = be_cuda_probe(0, &di, &e);
    if (rc == 0)
        rc = be_cuda_new(&M->be, 0, &e);
    if (rc == 0 && (rc = gpu_fit_check(M, &e))) {
        M->be->ops->free(M->be);
        M->be = NULL;
    }
    if (rc == 0)
        return 0;
    snprintf(M->backend_note, sizeof M->backend_note, "%s", e.msg);
    return be_cpu_new(&M->be, M->opts.n_threads, err);
}

const char *eng_backend_note(const eng_model_t *m)
{
    return m->backend_note[0] ? m->backend_note : NULL;
}

int eng_gpu_info(char *name, size_t name_size, uint64_t *dev_free, uint64_t *dev_total, errmsg_t *err)
{
    be_dev_info_t di;
    int rc = be_cuda_probe(0, &di, err);
    *dev_free = di.dev_free;
    *dev_total = di.dev_total;
    if (rc)
        return rc;
    if (name && name_size)
        snprintf(name, name_size, "%s", di.name);
    return 0;
}

void eng_gpu_plan(const model_t *md, uint64_t ctx, eng_wfmt_t w, eng_kvfmt_t kv, uint32_t batch,
                  eng_gpu_plan_t *out)
{
    static const model_wfmt_t wf[] = {MODEL_WFMT_F32, MODEL_WFMT_F16, MODEL_WFMT_INT8, MODEL_WFMT_INT8};
    static const model_kvfmt_t kf[] = {MODEL_KV_F32, MODEL_KV_F16, MODEL_KV_INT8};
    model_mem_plan_t mp;
    memset(out, 0, sizeof *out);
    model_mem_plan(md, ctx, wf[w], kf[kv], &mp);
    out->ctx = mp.ctx;
    out->batch = batch ? batch : DEFAULT_BATCH;
    if (out->batch > mp.ctx)
        out->batch = (uint32_t)mp.ctx;
    out->weights = mp.weights_total;
    out->kv = mp.kv_total;
    out->act = activation_bytes(&md->hp, out->batch, false);
    out->need = out->weights + out->kv + out->act;
    errmsg_t e;
    if (eng_gpu_info(out->gpu, sizeof out->gpu, &out->dev_free, &out->dev_total, &e) == 0)
        out->gpu_ok = true;
    else
        snprintf(out->note, sizeof out->note, "%s", e.msg);
}

int eng_cuda_plugin(char *path, size_t size, errmsg_t *err)
{
    return be_cuda_plugin_find(path, size, err);
}

static int new_scratch(eng_model_t *M, be_buf_t **b, size_t n, errmsg_t *err)
{
    int rc = M->be->ops->buf_new(M->be, b, n, err);
    if (rc == 0)
        M->scratch_bytes += n * sizeof(float);
    return rc;
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

    if ((rc = eng_load_weights(M, err)))
        return rc;

    size_t nb = M->opts.n_batch, E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    M->logits_rows = M->opts.logits_all ? nb : eng_verify_max(M);
    M->qkv_w = (int)((hp->n_head + 2 * hp->n_head_kv) * D);
    M->ffn_rows = ffn_rows_of(M->opts.n_batch);
    size_t HD = (size_t)hp->n_head * D;
    if ((rc = new_scratch(M, &M->x, nb * E, err)) || (rc = new_scratch(M, &M->xn, nb * E, err)) ||
        (rc = new_scratch(M, &M->qkv, nb * (size_t)M->qkv_w, err)) ||
        (rc = new_scratch(M, &M->att, nb * HD, err)) || (rc = new_scratch(M, &M->tmp, nb * E, err)) ||
        (rc = new_scratch(M, &M->gu, M->ffn_rows * 2 * F, err)) ||
        (rc = new_scratch(M, &M->hff, M->ffn_rows * F, err)) ||
        (rc = new_scratch(M, &M->cs, nb * D, err)) ||
        (rc = new_scratch(M, &M->logits, M->logits_rows * hp->n_vocab, err)))
        return rc;
    M->kv_desc = (be_kv_desc_t){.fmt = (be_kvfmt_t)M->opts.kvfmt, .n_layer = (int)hp->n_layer,
                                .n_head_kv = (int)hp->n_head_kv, .head_dim = (int)D,
                                .n_ctx = (int)M->opts.n_ctx};
    if ((rc = reserve(M, err)))
        return rc;
    if (M->opts.smooth) {
        if ((rc = eng_calibrate(M, err)))
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
    /* on a GPU, a cache that cannot fit is refused before anything changes */
    be_dev_info_t di;
    M->be->ops->dev_info(M->be, &di);
    if (di.dev_total) {
        be_kv_desc_t kd = M->kv_desc;
        kd.fmt = (be_kvfmt_t)kvfmt;
        kd.n_ctx = (int)n_ctx;
        uint64_t kv = M->be->ops->kv_bytes(M->be, &kd);
        if (kv > di.dev_free)
            return errmsg_set(err, OCT_ENOMEM,
                              "a KV cache of %u tokens (%s) needs %.2f GiB and %s has %.2f GiB free of %.2f GiB "
                              "(the weights take %.2f GiB)",
                              n_ctx, eng_kvfmt_name(kvfmt), GIB(kv), di.name, GIB(di.dev_free), GIB(di.dev_total),
                              GIB(M->weight_bytes));
    }
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
                eng_free_layer(M, &M->L[l]);
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
    if (s->aux_free)
        s->aux_free(s->aux);
    free(s->logits);
    free(s->ids);
    free(s);
}

eng_model_t *eng_session_model(const eng_session_t *s)
{
    return s->m;
}

void eng_session_set_aux(eng_session_t *s, void *p, void (*free_fn)(void *))
{
    if (s->aux_free && s->aux != p)
        s->aux_free(s->aux);
    s->aux = p;
    s->aux_free = free_fn;
}

void *eng_session_aux(const eng_session_t *s)
{
    return s->aux;
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
        rc = eng_forward(s, ids + off, (int)nb, n_out, err);
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

_Static_assert(ENG_VERIFY_MAX <= BE_EXACT_TOK, "verification passes are ones a backend's batch_exact covers");

size_t eng_verify_max(const eng_model_t *m)
{
    if (!m->be->ops->batch_exact)
        return 1;
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

int eng_embed(eng_session_t *s, const int32_t *ids, size_t n, float *out, errmsg_t *err)
{
    eng_model_t *M = s->m;
    const size_t E = M->hp.n_embd;
    if (!M->be->ops->attention_bidir)
        return errmsg_set(err, OCT_EUNSUPPORTED, "the %s backend has no bidirectional attention: encoders run on "
                                                 "the CPU", M->be->ops->name);
    if (n == 0 || n > M->opts.n_batch)
        return errmsg_set(err, OCT_EINVAL, "%zu tokens to embed: 1 to %u fit one pass", n, M->opts.n_batch);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= M->hp.n_vocab)
            return errmsg_set(err, OCT_EINVAL, "token id %d at index %zu is outside the vocabulary (0..%u)",
                              (int)ids[i], i, M->hp.n_vocab - 1);
    float *rows = malloc(n * E * sizeof *rows);
    double *mean = calloc(E, sizeof *mean);
    if (!rows || !mean) {
        free(rows);
        free(mean);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&M->lock);
    s->pos = 0;
    s->have_logits = false;
    s->dev_logits = false;
    if (M->logits_owner == s)
        M->logits_owner = NULL;
    int rc = eng_forward_pool(s, ids, (int)n, rows, err);
    pthread_mutex_unlock(&M->lock);
    if (rc == OCT_ECANCELED)
        atomic_store(&s->cancel, 0);
    if (!rc) {
        /* the mean and the norm in double: the reference is float64 */
        double norm = 0;
        for (size_t t = 0; t < n; t++)
            for (size_t j = 0; j < E; j++)
                mean[j] += rows[t * E + j];
        for (size_t j = 0; j < E; j++) {
            mean[j] /= (double)n;
            norm += mean[j] * mean[j];
        }
        norm = sqrt(norm);
        for (size_t j = 0; j < E; j++)
            out[j] = norm > 0 ? (float)(mean[j] / norm) : 0.0f;
    }
    free(mean);
    free(rows);
    return rc;
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
        eng_fetch_logits(s, &e);
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
    rc = eng_fetch_logits(s, err);
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

