/* llm.c - the workflows' model: the local engine behind llm_t, and
 * llm_open for either engine (see llm.h; the remote one is llm_remote.c). */
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "llm.h"
#include "tokenizer.h"

/* ---- the local engine ------------------------------------------------------ */

/* One reply being generated: the caller's completion test and the stream. */
typedef struct reply {
    llm_engine_t *e;
    bool (*done)(const char *reply, void *done_ud);
    void *done_ud;
} reply_t;

static void stats_set(llm_stats_t *st, const gen_result_t *r)
{
    st->n_tokens = r->n_tokens;
    st->n_passes = r->n_passes + (r->n_tokens > 0);
    st->n_drafted = r->n_drafted;
    st->n_accepted = r->n_accepted;
    st->n_healed = r->n_healed;
    st->t_decode = r->t_decode;
}

static int on_text(void *ud, const char *text, size_t len, const gen_result_t *so_far)
{
    reply_t *q = ud;
    llm_engine_t *e = q->e;
    stats_set(&e->reply, so_far);
    if (e->on_text && len)
        e->on_text(e->text_ud, text, len);
    return q->done && so_far->text_len && q->done(so_far->text, q->done_ud);
}

static int engine_generate(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                           bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply,
                           errmsg_t *err)
{
    llm_engine_t *e = ud;
    char *text = NULL;
    size_t tlen;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    gen_result_t r = {0};
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
    reply_t q = {e, done, done_ud};
    gen_params_t p;
    gen_params_default(&p);
    p.sample = e->sp;
    p.sample.seed += e->calls++; /* another draw for each attempt */
    p.max_tokens = e->n_predict;
    p.heal = e->heal;
    /* the prompt holds what an edit copies (the file, the retrieved code): lookup drafts from it */
    p.speculate = e->speculate;
    p.spec.draft = e->draft;
    p.on_text = on_text;
    p.ud = &q;
    memset(&e->reply, 0, sizeof e->reply);
    rc = gen_run(e->session, ids, n_ids, &p, &r, err);
    stats_set(&e->reply, &r);
    e->total.n_tokens += e->reply.n_tokens;
    e->total.n_passes += e->reply.n_passes;
    e->total.n_drafted += e->reply.n_drafted;
    e->total.n_accepted += e->reply.n_accepted;
    e->total.n_healed += e->reply.n_healed;
    e->total.t_decode += e->reply.t_decode;
    if (rc)
        goto done;
    *reply = r.text;
    r.text = NULL;
done:
    gen_result_free(&r);
    free(ids);
    free(text);
    return rc;
}

double llm_stats_accept_rate(const llm_stats_t *st)
{
    return st->n_drafted ? (double)st->n_accepted / (double)st->n_drafted : 0;
}

double llm_stats_tok_per_pass(const llm_stats_t *st)
{
    return st->n_passes ? (double)st->n_tokens / (double)st->n_passes : 0;
}

int llm_engine_init(llm_engine_t *e, eng_model_t *m, const char *tmpl_name, const sample_params_t *sp,
                         int n_predict, llm_t *llm, errmsg_t *err)
{
    memset(e, 0, sizeof *e);
    e->model = m;
    e->sp = *sp;
    e->n_predict = n_predict > 0 ? n_predict : 512;
    e->heal = true;
    e->speculate = true;
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
    eng_session_free(e->draft);
    chat_tmpl_free(e->tmpl);
    memset(e, 0, sizeof *e);
}

int llm_engine_set_draft(llm_engine_t *e, eng_model_t *dm, errmsg_t *err)
{
    int rc = gen_draft_check(e->model, dm, err);
    if (rc)
        return rc;
    eng_session_free(e->draft);
    e->draft = NULL;
    return eng_session_new(&e->draft, dm, err);
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
        h->remote_no_chat = !c->tmpl_name && remote_model_chat(c->remote, c->model) == 0;
        llm_remote_init(&h->rl, c->remote, &g, c->tmpl_name != NULL || h->remote_no_chat, &h->llm);
        h->rl.cancel = c->cancel;
        h->n_ctx = c->ask_ctx ? llm_remote_ctx(c->remote) : 0;
        return 0;
    }
    if (!c->engine)
        return errmsg_set(err, OCT_EINVAL, "no model to generate with");
    int rc = llm_engine_init(&h->el, c->engine, c->tmpl_name, &c->sp, (int)c->n_predict, &h->llm, err);
    if (rc)
        return rc;
    if (c->draft && (rc = llm_engine_set_draft(&h->el, c->draft, err)))
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
