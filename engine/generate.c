/* generate.c - the generation loop; see generate.h.
 *
 * Speculation keeps plain decoding's order of events. Plain decoding is:
 * sample a token from the logits, emit it (stop checks), feed it, repeat.
 * With a draft d0..dk-1 after the pending token x, one pass feeds
 * x d0 .. dk-1 and yields the logits after each; row i is then sampled
 * exactly as plain decoding would sample at that position (same sampler,
 * same penalty window, one draw each), and the draft is kept while the
 * sampled token equals it. The first disagreement becomes the next pending
 * token, and the cache is cut back to the tokens plain decoding would have
 * fed by then. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate.h"
#include "heal.h"
#include "utf8.h"

typedef struct gen {
    eng_session_t *s;
    const tok_t *tok;
    const gen_params_t *p;
    gen_result_t *res;
    uint32_t n_vocab, n_ctx;
    sampler_t *smp;
    sample_stop_t *stop;
    heal_t heal;
    size_t heal_skip; /* bytes of the healed text still to drop from the output */
    draft_t *draft;
    size_t k_max;
    float *work;   /* masked logits */
    int32_t *eog;  /* ignore_eos: the ids to mask */
    size_t n_eog;
    char pend[4];  /* an incomplete UTF-8 character */
    size_t pend_len;
    char *clean;   /* work space of the UTF-8 cleaner */
    size_t clean_cap;
    double t_decode0; /* when decoding began */
} gen_t;

static const char *const STOP_NAMES[] = {"none", "eog", "stop", "length", "context", "caller", "canceled", "error"};

const char *gen_stop_name(gen_stop_t s)
{
    return (unsigned)s < sizeof STOP_NAMES / sizeof *STOP_NAMES ? STOP_NAMES[s] : "?";
}

void gen_params_default(gen_params_t *p)
{
    memset(p, 0, sizeof *p);
    sample_params_default(&p->sample);
    p->max_tokens = 256;
    p->heal = true;
    p->reuse = true;
    p->speculate = true;
    p->spec.lookup = true;
}

void gen_result_free(gen_result_t *res)
{
    if (!res)
        return;
    free(res->tokens);
    free(res->text);
    memset(res, 0, sizeof *res);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np)
        return false;
    *p = np;
    *cap = c;
    return true;
}

/* Append the whole characters of the pending bytes and TEXT to the result;
 * *ADDED gets how many bytes of result text that made. */
static int text_push(gen_t *g, const char *text, size_t len, bool final, size_t *added, errmsg_t *err)
{
    gen_result_t *r = g->res;
    size_t tot = g->pend_len + len;
    *added = 0;
    if (tot == 0)
        return 0;
    /* input copy then its cleaned form (at most 3 bytes out per byte in) */
    if (!grow((void **)&g->clean, &g->clean_cap, 4 * tot + 1, 1) ||
        !grow((void **)&r->text, &r->cap_text, r->text_len + 3 * tot + 1, 1))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    memcpy(g->clean, g->pend, g->pend_len);
    if (len)
        memcpy(g->clean + g->pend_len, text, len);
    size_t out_len, used = utf8_clean(g->clean, tot, final, r->text + r->text_len, &out_len);
    g->pend_len = tot - used;
    memcpy(g->pend, g->clean + used, g->pend_len);
    r->text_len += out_len;
    r->text[r->text_len] = '\0';
    *added = out_len;
    return 0;
}

/* ---- sampling and emitting ----------------------------------------------- */

/* The next token from ROW (NULL: the session's last logits), recorded in
 * the sampler's penalty window as plain decoding does. */
static int sample_at(gen_t *g, const float *row, int32_t *out, errmsg_t *err)
{
    bool mask = heal_active(&g->heal) || g->n_eog;
    int rc;
    if (!mask && !row) {
        if ((rc = eng_sample(g->s, g->smp, out, err)))
            return rc;
    } else {
        const float *l = row ? row : eng_logits(g->s);
        if (!l)
            return errmsg_set(err, OCT_EINVAL, "no logits to sample from");
        if (mask) {
            memcpy(g->work, l, g->n_vocab * sizeof *l);
            for (size_t i = 0; i < g->n_eog; i++)
                g->work[g->eog[i]] = -INFINITY;
            if ((rc = heal_mask(g->tok, &g->heal, g->work, g->n_vocab, err)))
                return rc;
            l = g->work;
        }
        *out = sample_token(g->smp, l);
    }
    sample_accept(g->smp, *out);
    heal_advance(g->tok, &g->heal, *out);
    return 0;
}

/* Emit token ID: record it, stream its text, run the stop checks. Returns
 * the reason to stop, or GEN_STOP_NONE; *RC gets a failure. */
static gen_stop_t emit(gen_t *g, int32_t id, int *rc, errmsg_t *err)
{
    gen_result_t *r = g->res;
    if (!g->p->ignore_eos && tok_is_eog(g->tok, id))
        return GEN_STOP_EOG;
    if (!grow((void **)&r->tokens, &r->cap_tokens, r->n_tokens + 1, sizeof *r->tokens)) {
        *rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        return GEN_STOP_ERROR;
    }
    r->tokens[r->n_tokens++] = id;
    if (g->draft && (*rc = draft_push(g->draft, &id, 1, err)))
        return GEN_STOP_ERROR;
    const char *piece, *emit_p;
    size_t pl = tok_piece(g->tok, id, false, &piece), emit_len, added;
    /* the healed text is already the user's: drop it */
    size_t skip = g->heal_skip < pl ? g->heal_skip : pl;
    g->heal_skip -= skip;
    bool stopped = sample_stop_push(g->stop, piece + skip, pl - skip, &emit_p, &emit_len);
    if ((*rc = text_push(g, emit_p, emit_len, false, &added, err)))
        return GEN_STOP_ERROR;
    int refuse = 0;
    if (g->p->on_text) {
        /* the callback sees the speed so far */
        r->t_decode = now_s() - g->t_decode0;
        r->decode_tok_s = r->t_decode > 0 ? (double)r->n_tokens / r->t_decode : 0;
        refuse = g->p->on_text(g->p->ud, r->text + r->text_len - added, added, r);
    }
    if (stopped)
        return GEN_STOP_STRING;
    if (refuse)
        return GEN_STOP_CALLER;
    if (g->p->max_tokens >= 0 && r->n_tokens >= (size_t)g->p->max_tokens)
        return GEN_STOP_LENGTH;
    return GEN_STOP_NONE;
}

/* Release what the stop matcher and the UTF-8 cutter hold at the end. */
static int finish_text(gen_t *g, bool flush_stop, errmsg_t *err)
{
    const char *tail = "";
    size_t tail_len = 0, added;
    if (flush_stop)
        sample_stop_flush(g->stop, &tail, &tail_len);
    int rc = text_push(g, tail, tail_len, true, &added, err);
    if (rc == 0 && added && g->p->on_text)
        g->p->on_text(g->p->ud, g->res->text + g->res->text_len - added, added, g->res);
    return rc;
}

/* ---- setup ---------------------------------------------------------------------- */

int gen_draft_check(eng_model_t *m, eng_model_t *dm, errmsg_t *err)
{
    const tok_t *t = eng_tokenizer(m), *dt = eng_tokenizer(dm);
    if (dm == m)
        return errmsg_set(err, OCT_EINVAL, "the draft session must belong to another model");
    if (!t)
        return errmsg_set(err, OCT_EINVAL, "the model has no tokenizer");
    if (!dt || tok_n_vocab(dt) != tok_n_vocab(t) || eng_n_vocab(dm) != eng_n_vocab(m))
        return errmsg_set(err, OCT_EINVAL, "the draft model's vocabulary (%u entries) differs from the model's (%u)",
                          dt ? tok_n_vocab(dt) : 0, tok_n_vocab(t));
    for (uint32_t i = 0; i < tok_n_vocab(dt); i++)
        if (strcmp(tok_token_text(dt, (int32_t)i), tok_token_text(t, (int32_t)i)))
            return errmsg_set(err, OCT_EINVAL, "the draft model's vocabulary differs from the model's at id %u ('%s')",
                              i, tok_token_text(dt, (int32_t)i));
    return 0;
}

static int setup_draft(gen_t *g, const int32_t *prompt, size_t n, errmsg_t *err)
{
    const gen_spec_t *sp = &g->p->spec;
    size_t vmax = eng_verify_max(eng_session_model(g->s));
    if (!g->p->speculate || (!sp->lookup && !sp->draft && !sp->fn) || vmax < 2)
        return 0;
    int rc;
    if (sp->draft && (rc = gen_draft_check(eng_session_model(g->s), eng_session_model(sp->draft), err)))
        return rc;
    g->k_max = sp->k_max > 0 && (size_t)sp->k_max < vmax - 1 ? (size_t)sp->k_max : vmax - 1;
    int32_t *ctx = NULL;
    size_t n_ctx = 0;
    if (sp->lookup && sp->context && sp->context_len &&
        (rc = tok_encode(g->tok, sp->context, sp->context_len, 0, &ctx, &n_ctx, err)))
        return rc;
    /* the cost model goes on from what the session's earlier generations learned */
    draft_mem_t *mem = eng_session_aux(g->s);
    if (!mem) {
        if (!(mem = draft_mem_new())) {
            free(ctx);
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        }
        eng_session_set_aux(g->s, mem, draft_mem_free);
    }
    draft_cfg_t cfg = {.lookup = sp->lookup, .tok = g->tok, .context = ctx, .n_context = n_ctx, .model = sp->draft,
                       .fn = sp->fn, .fn_ud = sp->fn_ud, .k_max = g->k_max, .fixed = sp->fixed_k, .mem = mem};
    rc = draft_new(&g->draft, &cfg, err);
    free(ctx);
    if (rc == 0)
        rc = draft_push(g->draft, prompt, n, err);
    return rc;
}

/* Feed PROMPT[0..N) reusing the common prefix with the cache. */
static int prefill(gen_t *g, const int32_t *prompt, size_t n, errmsg_t *err)
{
    size_t p = 0;
    if (g->p->reuse) {
        const int32_t *have = eng_tokens(g->s);
        size_t pos = eng_pos(g->s);
        while (p < pos && p < n && have[p] == prompt[p])
            p++;
    }
    if (p == n)
        p = n - 1; /* feed the last token again: its logits start the answer */
    g->res->n_reused = p;
    int rc = eng_truncate(g->s, (uint32_t)p, err);
    if (rc)
        return rc;
    double t0 = now_s();
    rc = eng_feed(g->s, prompt + p, n - p, err);
    g->res->t_prefill = now_s() - t0;
    if (g->res->t_prefill > 0)
        g->res->prefill_tok_s = (double)(n - p) / g->res->t_prefill;
    return rc;
}

/* ---- the loop ------------------------------------------------------------------- */

/* Verify drafts D[0..K) after the pending token *X: one pass, then row by
 * row as plain decoding would sample. *X becomes the next pending token. */
static gen_stop_t verify(gen_t *g, int32_t *x, const int32_t *d, size_t k, int *rc, errmsg_t *err)
{
    gen_result_t *r = g->res;
    uint32_t base = eng_pos(g->s);
    int32_t batch[ENG_VERIFY_MAX];
    batch[0] = *x;
    memcpy(batch + 1, d, k * sizeof *d);
    double t0 = now_s();
    if ((*rc = eng_feed_all(g->s, batch, k + 1, err)))
        return *rc == OCT_ECANCELED ? GEN_STOP_CANCELED : GEN_STOP_ERROR;
    draft_pass_time(g->draft, k + 1, now_s() - t0);
    r->n_passes++;
    r->n_drafted += k;
    gen_stop_t st = GEN_STOP_NONE;
    size_t i = 0, acc = 0;
    for (;; i++) {
        int32_t y;
        const float *row = eng_logits_at(g->s, i);
        if (!row) {
            *rc = errmsg_set(err, OCT_EINTERNAL, "no logits for position %zu of the verification pass", i);
            st = GEN_STOP_ERROR;
            break;
        }
        if ((*rc = sample_at(g, row, &y, err))) {
            st = GEN_STOP_ERROR;
            break;
        }
        if (i < k && y == d[i]) {
            acc++;
            if ((st = emit(g, y, rc, err)) != GEN_STOP_NONE)
                break;
            continue;
        }
        *x = y;
        break;
    }
    draft_result(g->draft, k, acc);
    r->n_accepted += acc;
    /* keep what plain decoding would have fed when it sampled row I */
    int trc = eng_truncate(g->s, base + (uint32_t)i + 1, err);
    if (trc && !*rc) {
        *rc = trc;
        st = GEN_STOP_ERROR;
    }
    return st;
}

static gen_stop_t decode_loop(gen_t *g, int *rc, errmsg_t *err)
{
    gen_result_t *r = g->res;
    int32_t x, d[ENG_VERIFY_MAX];
    if (g->p->max_tokens == 0)
        return GEN_STOP_LENGTH;
    if ((*rc = sample_at(g, NULL, &x, err)))
        return GEN_STOP_ERROR;
    for (;;) {
        gen_stop_t st = emit(g, x, rc, err);
        if (st != GEN_STOP_NONE)
            return st;
        uint32_t pos = eng_pos(g->s);
        if (pos >= g->n_ctx)
            return GEN_STOP_CONTEXT;
        size_t k = 0;
        if (g->draft && !heal_active(&g->heal)) {
            size_t max = g->k_max;
            if (max > g->n_ctx - pos - 1)
                max = g->n_ctx - pos - 1;
            if (g->p->max_tokens >= 0 && max > (size_t)g->p->max_tokens - r->n_tokens)
                max = (size_t)g->p->max_tokens - r->n_tokens;
            if ((*rc = draft_propose(g->draft, max, d, &k, err)))
                return *rc == OCT_ECANCELED ? GEN_STOP_CANCELED : GEN_STOP_ERROR;
        }
        if (k > 0) {
            if ((st = verify(g, &x, d, k, rc, err)) != GEN_STOP_NONE)
                return st;
            continue;
        }
        double t0 = now_s();
        if ((*rc = eng_decode(g->s, x, err)))
            return *rc == OCT_ECANCELED ? GEN_STOP_CANCELED : GEN_STOP_ERROR;
        if (g->draft)
            draft_pass_time(g->draft, 1, now_s() - t0);
        r->n_passes++;
        if ((*rc = sample_at(g, NULL, &x, err)))
            return GEN_STOP_ERROR;
    }
}

static int setup(gen_t *g, const int32_t *prompt, size_t n, errmsg_t *err)
{
    const gen_params_t *p = g->p;
    int rc;
    if ((rc = sample_new(&g->smp, &p->sample, g->n_vocab, err)) ||
        (rc = sample_stop_new(&g->stop, p->stops, p->n_stops, err)))
        return rc;
    g->work = malloc(g->n_vocab * sizeof *g->work);
    if (!g->work)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (p->ignore_eos) {
        if (!(g->eog = malloc(g->n_vocab * sizeof *g->eog)))
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < g->n_vocab; i++)
            if (tok_is_eog(g->tok, (int32_t)i))
                g->eog[g->n_eog++] = (int32_t)i;
    }
    for (size_t i = 0; i < n; i++)
        sample_accept(g->smp, prompt[i]);
    return setup_draft(g, prompt, n, err);
}

int gen_run(eng_session_t *s, const int32_t *prompt, size_t n, const gen_params_t *p, gen_result_t *res,
            errmsg_t *err)
{
    memset(res, 0, sizeof *res);
    res->n_prompt = n;
    gen_t g = {.s = s, .p = p, .res = res};
    eng_model_t *m = eng_session_model(s);
    g.tok = eng_tokenizer(m);
    g.n_vocab = eng_n_vocab(m);
    g.n_ctx = eng_n_ctx(s);
    int rc = 0;
    gen_stop_t st = GEN_STOP_NONE;
    if (!(res->text = malloc(1)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    res->text[0] = '\0';
    res->cap_text = 1;
    if (!g.tok)
        return errmsg_set(err, OCT_EUNSUPPORTED, "the model has no tokenizer to generate text with");
    if (n == 0)
        return errmsg_set(err, OCT_EINVAL, "the prompt is empty");
    if (n >= g.n_ctx)
        return errmsg_set(err, OCT_EINVAL, "the prompt has %zu tokens; the context holds %u", n, g.n_ctx);
    size_t n_back = 0;
    if (p->heal && (rc = heal_prompt(g.tok, prompt, n, 1, &g.heal, &n_back, err)))
        goto done;
    g.heal_skip = g.heal.removed;
    res->n_healed = n_back;
    n -= n_back;
    if ((rc = prefill(&g, prompt, n, err))) {
        st = rc == OCT_ECANCELED ? GEN_STOP_CANCELED : GEN_STOP_ERROR;
        goto done;
    }
    if ((rc = setup(&g, prompt, n, err))) {
        st = GEN_STOP_ERROR;
        goto done;
    }
    double t0 = g.t_decode0 = now_s();
    st = decode_loop(&g, &rc, err);
    /* the text before a stop string was already released */
    int frc = finish_text(&g, st != GEN_STOP_STRING, err);
    if (frc && !rc) {
        rc = frc;
        st = GEN_STOP_ERROR;
    }
    res->t_decode = now_s() - t0;
    if (res->t_decode > 0)
        res->decode_tok_s = (double)res->n_tokens / res->t_decode;
done:
    res->stop = st;
    if (res->n_drafted)
        res->accept_rate = (double)res->n_accepted / (double)res->n_drafted;
    /* the prefill's pass gave the first token */
    if (res->n_tokens)
        res->tok_per_pass = (double)res->n_tokens / (double)(res->n_passes + 1);
    sample_free(g.smp);
    sample_stop_free(g.stop);
    draft_free(g.draft);
    free(g.work);
    free(g.eog);
    free(g.clean);
    return rc;
}
