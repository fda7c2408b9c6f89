/* llm.c - the workflows' model: the local engine behind llm_t, and
 * llm_open for either engine (see llm.h; the remote one is llm_remote.c). */
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "sb.h"
#include "tokenizer.h"

/* ---- the local engine ------------------------------------------------------ */

static int engine_generate(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                           bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply,
                           errmsg_t *err)
{
    llm_engine_t *e = ud;
    char *text = NULL;
    size_t tlen;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    sampler_t *smp = NULL;
    sbuf_t out = {0};
    int rc = 0;
    *reply = NULL;
    const tok_t *t = eng_tokenizer(e->model);
    int flags = TOK_ADD_BOS | TOK_PARSE_SPECIAL;
    if (e->tmpl) {
        if ((rc = chat_format(e->tmpl, msgs, n, true, &text, &tlen, err)))
            goto done;
        if (chat_tmpl_writes_bos(e->tmpl))
            flags = TOK_PARSE_SPECIAL;
    } else {
        /* plain completion of code: special-token text in it stays text */
        flags = TOK_ADD_BOS;
        if (!(text = strdup(prompt ? prompt : ""))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        tlen = strlen(text);
    }
    if ((rc = tok_encode(t, text, tlen, flags, &ids, &n_ids, err)))
        goto done;
    uint32_t n_ctx = eng_n_ctx(e->session);
    if (n_ids == 0 || n_ids >= n_ctx) {
        rc = errmsg_set(err, OCT_EINVAL, "the prompt has %zu tokens; the context holds %u: use a larger "
                                         "context or less retrieved context", n_ids, n_ctx);
        goto done;
    }
    sample_params_t sp = e->sp;
    sp.seed += e->calls++; /* another draw for each attempt */
    if ((rc = eng_truncate(e->session, 0, err)) || (rc = sample_new(&smp, &sp, eng_n_vocab(e->model), err)) ||
        (rc = eng_feed(e->session, ids, n_ids, err)))
        goto done;
    for (size_t i = 0; i < n_ids; i++)
        sample_accept(smp, ids[i]);
    for (int k = 0; k < e->n_predict; k++) {
        int32_t id;
        if ((rc = eng_sample(e->session, smp, &id, err)))
            goto done;
        sample_accept(smp, id);
        if (tok_is_eog(t, id))
            break;
        const char *piece;
        size_t pl = tok_piece(t, id, false, &piece);
        sb_addn(&out, piece, pl);
        if (e->on_text && pl)
            e->on_text(e->text_ud, piece, pl);
        if (out.oom) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        if ((done && out.s && done(out.s, done_ud)) || eng_pos(e->session) >= n_ctx)
            break;
        if ((rc = eng_decode(e->session, id, err)))
            goto done;
    }
    if (!(*reply = sb_take(&out)))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    out.s = NULL;
done:
    sb_free(&out);
    sample_free(smp);
    free(ids);
    free(text);
    return rc;
}

int llm_engine_init(llm_engine_t *e, eng_model_t *m, const char *tmpl_name, const sample_params_t *sp,
                         int n_predict, llm_t *llm, errmsg_t *err)
{
    memset(e, 0, sizeof *e);
    e->model = m;
    e->sp = *sp;
    e->n_predict = n_predict > 0 ? n_predict : 512;
    if (!eng_tokenizer(m))
        return errmsg_set(err, OCT_EUNSUPPORTED, "the model has no tokenizer");
    if (!tmpl_name || strcmp(tmpl_name, "none")) {
        int rc = chat_tmpl_from_gguf(&e->tmpl, eng_gguf(m), tmpl_name, err);
        if (rc == OCT_ENOTFOUND)
            return errmsg_set(err, rc, "%s (name one with --template, or --template none for plain completion)",
                              err ? err->msg : "unknown chat template");
        if (rc)
            return rc;
        if (chat_tmpl_kind(e->tmpl) == CHAT_KIND_NONE) {
            chat_tmpl_free(e->tmpl);
            e->tmpl = NULL;
        }
    }
    int rc = eng_session_new(&e->session, m, err);
    if (rc) {
        chat_tmpl_free(e->tmpl);
        e->tmpl = NULL;
        return rc;
    }
    llm->chat = e->tmpl != NULL;
    llm->generate = engine_generate;
    llm->ud = e;
    return 0;
}

void llm_engine_free(llm_engine_t *e)
{
    if (!e)
        return;
    eng_session_free(e->session);
    chat_tmpl_free(e->tmpl);
    memset(e, 0, sizeof *e);
}

size_t llm_engine_count(const char *text, size_t len, void *engine_llm)
{
    llm_engine_t *e = engine_llm;
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(eng_tokenizer(e->model), text, len, 0, &ids, &n, NULL))
        return len / 2 + 1;
    free(ids);
    return n;
}

/* ---- opening --------------------------------------------------------------- */

int llm_open(llm_handle_t *h, const llm_conf_t *c, errmsg_t *err)
{
    memset(h, 0, sizeof *h);
    if (c->remote) {
        oai_gen_t g;
        oai_gen_init(&g);
        g.model = c->model;
        g.max_tokens = c->n_predict;
        g.temperature = c->temp;
        g.seed = (long long)(c->sp.seed & INT64_MAX);
        llm_remote_init(&h->rl, c->remote, &g, c->tmpl_name != NULL, &h->llm);
        h->rl.cancel = c->cancel;
        h->n_ctx = c->ask_ctx ? llm_remote_ctx(c->remote) : 0;
        return 0;
    }
    if (!c->engine)
        return errmsg_set(err, OCT_EINVAL, "no model to generate with");
    int rc = llm_engine_init(&h->el, c->engine, c->tmpl_name, &c->sp, (int)c->n_predict, &h->llm, err);
    if (rc)
        return rc;
    h->n_ctx = eng_n_ctx(h->el.session);
    h->count = llm_engine_count;
    h->count_ud = &h->el;
    return 0;
}

void llm_stream(llm_handle_t *h, void (*fn)(void *ud, const char *piece, size_t len), void *ud)
{
    h->el.on_text = h->rl.on_text = fn;
    h->el.text_ud = h->rl.text_ud = ud;
}

void llm_close(llm_handle_t *h)
{
    llm_engine_free(&h->el);
    memset(h, 0, sizeof *h);
}
