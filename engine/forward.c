/* forward.c - the forward pass of llama/qwen2 decoders, and the same
 * layers run bidirectionally for an encoder (eng_embed), written once
 * against the backend interface (backend.h); see docs/engine.md. */
#include <math.h>

#include "engine_impl.h"

/* The layers of one forward pass of N tokens at S's position, leaving the
 * residual stream in M->x, between the backend's begin() (done here) and
 * end() (the caller's; also done here on failure). Shapes: E = n_embd, H
 * query heads and K KV heads of D dimensions, F = n_ff; activations are
 * row-major, one row per token. CAUSAL false: attention without the mask
 * (an encoder). While SmoothQuant calibrates (M->calib), the inputs of the
 * four matrix products are shown to eng_calib_observe; otherwise those lines
 * do nothing. */
static int layers(eng_session_t *s, const int32_t *ids, int n, bool causal, errmsg_t *err)
{
    eng_model_t *M = s->m;
    be_t *be = M->be;
    const be_ops_t *o = be->ops;
    const model_hparams_t *hp = &M->hp;
    const int E = (int)hp->n_embd, D = (int)hp->head_dim, H = (int)hp->n_head, K = (int)hp->n_head_kv;
    const int F = (int)hp->n_ff;
    void (*attention)(be_t *, const be_kv_t *, int, const be_buf_t *, size_t, int, int, float, be_buf_t *) =
        causal ? o->attention : o->attention_bidir;
    const size_t ld = (size_t)M->qkv_w; /* a qkv row: (H + 2K) * D */
    const size_t k_off = (size_t)H * D, v_off = (size_t)(H + K) * D; /* in a qkv row */
    const bool neox = hp->rope_style == MODEL_ROPE_NEOX;
    int rc;
    if ((rc = o->begin(be, ids, n, (int)s->pos, err)))
        return rc;

    /* x[N][E]: the token embeddings, the residual stream from here on */
    o->embed(be, M->tok_embd, n, M->x);
    /* cs[N][D]: cos and sin of each position's rotation angles, for every layer */
    o->rope_table(be, M->rope_freq, D, n, M->rope_mscale, M->cs);

    for (int il = 0; il < (int)hp->n_layer; il++) {
        const layer_w_t *l = &M->L[il];
        if (atomic_load_explicit(&s->cancel, memory_order_relaxed)) {
            o->end(be, err);
            return errmsg_set(err, OCT_ECANCELED, "canceled");
        }

        /* ---- attention ---- */
        /* xn[N][E] = rmsnorm(x) * attn_norm */
        o->rmsnorm(be, M->x, 0, l->attn_norm, n, E, hp->norm_eps, M->xn);
        if (M->calib)
            eng_calib_observe(M, CALIB_QKV_IN, il, M->xn, n);
        /* qkv[N][(H + 2K) D] = xn Wqkv^T (+ bias): each row holds q (H heads), k (K heads), v (K heads) */
        o->matmul(be, l->wqkv, M->xn, 0, n, M->qkv);
        if (l->bqkv)
            o->add_rows(be, M->qkv, l->bqkv, n, (int)ld);
        /* rotate q and k (the first H + K heads of each row) by their positions (RoPE) */
        o->rope(be, M->qkv, n, ld, H + K, D, neox, M->cs);
        /* the cache gets k and v of the N tokens at positions pos .. pos+N-1 */
        o->kv_write(be, s->kv, il, n, M->qkv, ld, k_off, v_off);
        /* att[N][H D]: softmax(q k^T / sqrt(D)) v per query head over the cached positions up to
         * its own (causal; all of them otherwise); query head h reads KV head h / (H / K)
         * (grouped-query attention) */
        attention(be, s->kv, il, M->qkv, ld, n, H, 1.0f / sqrtf((float)D), M->att);
        if (M->calib)
            eng_calib_observe(M, CALIB_WO_IN, il, M->att, n);
        /* x += att Wo^T */
        o->matmul(be, l->wo, M->att, 0, n, M->tmp);
        o->add(be, M->x, 0, M->tmp, (size_t)n * (size_t)E);

        /* ---- feed-forward (SwiGLU) ---- */
        /* xn[N][E] = rmsnorm(x) * ffn_norm */
        o->rmsnorm(be, M->x, 0, l->ffn_norm, n, E, hp->norm_eps, M->xn);
        if (M->calib)
            eng_calib_observe(M, CALIB_GU_IN, il, M->xn, n);
        /* in chunks of C <= ffn_rows tokens, so that gu and hff (the largest
         * activations) stay small however large the batch */
        for (int c0 = 0; c0 < n; c0 += (int)M->ffn_rows) {
            int nc = n - c0 < (int)M->ffn_rows ? n - c0 : (int)M->ffn_rows;
            /* gu[C][2F] = xn[c0 .. c0+C) [Wgate; Wup]^T */
            o->matmul(be, l->wgu, M->xn, (size_t)c0 * (size_t)E, nc, M->gu);
            /* hff[C][F] = silu(gate) * up */
            o->swiglu(be, M->gu, nc, F, M->hff);
            if (M->calib)
                eng_calib_observe(M, CALIB_DOWN_IN, il, M->hff, nc);
            /* x[c0 .. c0+C) += hff Wdown^T */
            o->matmul(be, l->wdown, M->hff, 0, nc, M->tmp);
            o->add(be, M->x, (size_t)c0 * (size_t)E, M->tmp, (size_t)nc * (size_t)E);
        }
    }

    return 0;
}

/* One forward pass (see engine_impl.h): the layers, then the logits of the
 * last N_OUT tokens (V = n_vocab). */
int eng_forward(eng_session_t *s, const int32_t *ids, int n, int n_out, errmsg_t *err)
{
    eng_model_t *M = s->m;
    be_t *be = M->be;
    const be_ops_t *o = be->ops;
    const model_hparams_t *hp = &M->hp;
    const int E = (int)hp->n_embd;
    int rc;
    /* the shared logits buffer may still hold another session's unread logits */
    if (M->logits_owner && M->logits_owner != s && (rc = eng_fetch_logits(M->logits_owner, err)))
        return rc;
    if ((rc = layers(s, ids, n, true, err)))
        return rc;

    /* logits[N_OUT][V] = rmsnorm(the last N_OUT rows of x) * out_norm Wout^T */
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

int eng_fetch_logits(eng_session_t *s, errmsg_t *err)
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


int eng_forward_pool(eng_session_t *s, const int32_t *ids, int n, float *rows, errmsg_t *err)
{
    eng_model_t *M = s->m;
    be_t *be = M->be;
    const model_hparams_t *hp = &M->hp;
    int rc;
    if ((rc = layers(s, ids, n, false, err)))
        return rc;
    /* xn[N][E] = rmsnorm(x) * out_norm: the final hidden states, pooled by the caller */
    be->ops->rmsnorm(be, M->x, 0, M->out_norm, n, (int)hp->n_embd, hp->norm_eps, M->xn);
    if ((rc = be->ops->end(be, err)))
        return rc;
    return be->ops->buf_get(be, M->xn, 0, rows, (size_t)n * hp->n_embd, err);
}
