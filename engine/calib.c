/* calib.c - SmoothQuant calibration: the activation maxima of every matrix
 * product's input over a calibration text, and the smoothed layers built
 * from them (the method: docs/engine.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "smoothquant.h"

void eng_calib_observe(eng_model_t *M, calib_point_t point, int il, const be_buf_t *b, int n_tok)
{
    const model_hparams_t *hp = &M->hp;
    size_t E = hp->n_embd, HD = (size_t)hp->n_head * hp->head_dim, F = hp->n_ff, w;
    float *col_max;
    switch (point) {
    case CALIB_QKV_IN:
        col_max = M->calib->qkv_in + (size_t)il * E, w = E;
        break;
    case CALIB_WO_IN:
        col_max = M->calib->wo_in + (size_t)il * HD, w = HD;
        break;
    case CALIB_GU_IN:
        col_max = M->calib->gu_in + (size_t)il * E, w = E;
        break;
    default:
        col_max = M->calib->down_in + (size_t)il * F, w = F;
        break;
    }
    errmsg_t e;
    if (M->be->ops->buf_get(M->be, b, 0, M->calib->tmp, (size_t)n_tok * w, &e) == 0)
        sq_absmax_update(col_max, M->calib->tmp, (size_t)n_tok, w);
}

/* Max |W[r][j]| over the rows of every tensor of a group, per column j. */
static int weight_colmax(const gguf_tensor_t *const *ts, int n_ts, float *col_max, errmsg_t *err)
{
    uint64_t cols = ts[0]->ne[0];
    float *row = malloc(cols * sizeof(float));
    if (!row)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    memset(col_max, 0, cols * sizeof(float));
    for (int i = 0; i < n_ts; i++)
        for (uint64_t r = 0; r < eng_tensor_rows(ts[i]); r++) {
            eng_tensor_row_f32(ts[i], r, row);
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
int eng_calibrate(eng_model_t *M, errmsg_t *err)
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
        eng_free_layer(M, l);
        M->weight_bytes -= old;
        if ((rc = eng_upload_layer(M, (int)il, &sq, err)))
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
