/* runner.c - the worker thread that loads models, keeps the conversation
 * and streams answers for the TUI (see runner.h).
 *
 * Locking: MU guards the job queue, the event list, the status and the
 * model/session pointers the UI reads (eng_memory, eng_cancel). Only the
 * worker replaces or frees the model and session, under MU, and it runs
 * forward passes without holding MU, so the UI never waits for the model.
 * With a remote engine the worker owns the remote_t that streams answers;
 * the poller thread has its own for /metrics (it follows REM_URL, under MU),
 * so a slow /metrics never holds up an answer and neither waits for MU
 * during a transfer. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cont.h"
#include "generate.h"
#include "llm.h"
#include "patch.h"
#include "prompt.h"
#include "refactor.h"
#include "runner.h"
#include "sample.h"
#include "sb.h"
#include "text.h"
#include "utf8.h"

typedef enum job_kind { JOB_USE, JOB_SEND, JOB_CLEAR, JOB_SPEC, JOB_REFACTOR } job_kind_t;

typedef struct job {
    job_kind_t kind;
    preset_t preset;
    char *model; /* JOB_USE: new default model, or NULL */
    char *text;  /* JOB_SEND; JOB_REFACTOR: the instruction */
    spec_t *spec;        /* JOB_SPEC */
    char *path, *symbol; /* JOB_REFACTOR: the target, or NULL */
    bool force;          /* JOB_REFACTOR: --force */
    char *dir;           /* JOB_SPEC: the code's directory; JOB_REFACTOR: the repository */
    struct job *next;
} job_t;

/* What the loaded model was opened with, to tell what a switch must redo. */
typedef struct loaded {
    char path[PATH_MAX];
    eng_opts_t opts;
    char calib[PRESET_PATH_MAX];
    char backend[PRESET_BACKEND_MAX];
} loaded_t;

struct tui_runner {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *jobs, *jobs_tail;
    bool quit, running;
    atomic_int cancel;
    tui_ev_t *ev, *ev_tail;
    tui_runner_status_t st;
    pthread_t poll_thread;
    bool poll_started;
    pthread_cond_t pcv; /* wakes the poller: a new URL, or quit */
    char rem_url[PRESET_BACKEND_MAX]; /* under MU: the remote engine the poller polls; "" when local */

    /* configuration */
    rag_t *rag;
    char *model_def, *model_large;
    unsigned delay_ms;
    bool heal, speculate; /* gen_run's, for answers and workflows alike */
    char *draft_path;     /* --draft-model, or NULL */
    char *tmpl_name;      /* --template, or NULL: the model's own */
    pin_list_t pins;      /* under MU: what /add pinned */
    bool verbose;         /* under MU: post each prompt */

    /* worker state */
    eng_model_t *m;
    eng_session_t *s;
    eng_model_t *dm;   /* the draft model, opened with the loaded model's settings, or NULL */
    eng_session_t *ds; /* its session for answers */
    chat_tmpl_t *tmpl;
    loaded_t ld;
    preset_t preset;
    prompt_msg_t *hist;
    size_t n_hist, cap_hist;
    uint64_t seed_counter;
    remote_t *rem; /* the remote engine of the preset, or NULL */
    cont_t *cont;  /* completion mode: where the answer's code unit ends (cont.h), during job_send */
    int mode_said; /* the mode the last notice named: -1 none yet, 0 chat, 1 completion */
};

/* Stops a continuation at two blank lines: the end of a top-level definition
 * in most code, where a base model would otherwise go on to write another. */
static const char *const COMPLETION_STOPS[] = {"\n\n\n"};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- events --------------------------------------------------------------- */

void tui_ev_free(tui_ev_t *e)
{
    while (e) {
        tui_ev_t *n = e->next;
        pin_ctx_free(e->ctx);
        free(e->ctx);
        free(e->text);
        free(e);
        e = n;
    }
}

/* Post an event; merges consecutive text events so a fast stream does not
 * become a long list. */
static void post(tui_runner_t *r, tui_ev_kind_t kind, const char *text, size_t len)
{
    pthread_mutex_lock(&r->mu);
    if (kind == TUI_EV_TEXT && r->ev_tail && r->ev_tail->kind == TUI_EV_TEXT) {
        char *t = realloc(r->ev_tail->text, r->ev_tail->len + len + 1);
        if (t) {
            memcpy(t + r->ev_tail->len, text, len);
            r->ev_tail->len += len;
            t[r->ev_tail->len] = '\0';
            r->ev_tail->text = t;
        }
        pthread_mutex_unlock(&r->mu);
        return;
    }
    tui_ev_t *e = calloc(1, sizeof *e);
    if (e && (e->text = malloc(len + 1))) {
        memcpy(e->text, text, len);
        e->text[len] = '\0';
        e->len = len;
        e->kind = kind;
        if (r->ev_tail)
            r->ev_tail->next = e;
        else
            r->ev = e;
        r->ev_tail = e;
    } else {
        free(e);
    }
    pthread_mutex_unlock(&r->mu);
}

static void post_str(tui_runner_t *r, tui_ev_kind_t kind, const char *s)
{
    post(r, kind, s, strlen(s));
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void postf(tui_runner_t *r, tui_ev_kind_t kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    post(r, kind, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Answer text in completion mode, through the follower C of the code unit
 * (cont.h): what it lets show is posted. 1 when the unit is over, -1 when
 * memory ran out, else 0. */
static int post_code(tui_runner_t *r, cont_t *c, const char *text, size_t len)
{
    const char *show;
    size_t n;
    errmsg_t err = {0};
    if (cont_push(c, text, len, &show, &n, &err))
        return -1;
    if (n)
        post(r, TUI_EV_TEXT, show, n);
    return cont_state(c) != CONT_GOING;
}

/* The end of a completion answer: the text C still holds back is posted
 * unless the unit ended; returns why it ended (cont_why), or NULL. */
static const char *post_code_end(tui_runner_t *r, cont_t *c)
{
    const char *why = cont_why(c);
    if (!why) {
        const char *rest;
        size_t n;
        cont_flush(c, &rest, &n);
        if (n)
            post(r, TUI_EV_TEXT, rest, n);
    }
    return why;
}

/* The context event: C's items (moved to the event; C keeps its texts),
 * after the summary of what was pinned or cut, when there is one. */
static void post_ctx(tui_runner_t *r, pin_ctx_t *c)
{
    char *sum = pin_ctx_summary(c);
    if (sum)
        post_str(r, TUI_EV_NOTICE, sum);
    free(sum);
    tui_ev_t *e = calloc(1, sizeof *e);
    if (!e || !(e->text = strdup("")) || !(e->ctx = calloc(1, sizeof *e->ctx))) {
        tui_ev_free(e);
        return;
    }
    e->kind = TUI_EV_CONTEXT;
    e->ctx->items = c->items;
    e->ctx->n = c->n;
    e->ctx->budget = c->budget;
    e->ctx->tokens = c->tokens;
    c->items = NULL;
    c->n = 0;
    pthread_mutex_lock(&r->mu);
    if (r->ev_tail)
        r->ev_tail->next = e;
    else
        r->ev = e;
    r->ev_tail = e;
    pthread_mutex_unlock(&r->mu);
}

static bool verbose(tui_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool v = r->verbose;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* Verbose: the messages of a request (or the plain PROMPT when N is 0) as a notice. */
static void show_msgs(tui_runner_t *r, const chat_msg_t *m, size_t n, const char *prompt)
{
    if (!verbose(r))
        return;
    sbuf_t b = {0};
    if (n)
        sb_addf(&b, "prompt (verbose), %zu message%s:", n, n == 1 ? "" : "s");
    else
        sb_addf(&b, "prompt (verbose), plain completion:\n%s", prompt);
    for (size_t i = 0; i < n; i++)
        sb_addf(&b, "\n[%s]\n%s", chat_role_name(m[i].role), m[i].content ? m[i].content : "");
    char *t = sb_take(&b);
    if (t)
        post_str(r, TUI_EV_NOTICE, t);
    free(t);
}

tui_ev_t *tui_runner_events(tui_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    tui_ev_t *e = r->ev;
    r->ev = r->ev_tail = NULL;
    pthread_mutex_unlock(&r->mu);
    return e;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void set_state(tui_runner_t *r, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&r->mu);
    va_start(ap, fmt);
    vsnprintf(r->st.state, sizeof r->st.state, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&r->mu);
}

/* Why a model that could chat gets completion mode (say_mode's WHY). */
static const char FORCED_NONE[] = "without its chat template (--template none)";

/* Say once per change which mode the model gets and what to expect of it:
 * a base model asked a question in words only rambles (issue 15). */
static void say_mode(tui_runner_t *r, bool completion, const char *model, const char *tmpl, const char *why)
{
    pthread_mutex_lock(&r->mu);
    r->st.completion = completion;
    pthread_mutex_unlock(&r->mu);
    if (r->mode_said == (int)completion)
        return;
    r->mode_said = (int)completion;
    if (completion)
        postf(r, TUI_EV_NOTICE,
              "%s %s: completion mode. What you type is continued, not answered: start the "
              "code (a signature and a docstring or comment) and octet writes the rest; each message stands "
              "alone. /spec writes a function from a spec, /refactor changes code; for questions in words, load "
              "an instruction model (/model FILE.gguf)",
              model, why);
    else
        postf(r, TUI_EV_NOTICE, "%s chats (%s template): ask about your code; the conversation is kept until /clear",
              model, tmpl);
}

/* ---- conversation ---------------------------------------------------------- */

static int hist_push(tui_runner_t *r, chat_role_t role, const char *content)
{
    if (r->n_hist == r->cap_hist) {
        size_t cap = r->cap_hist ? r->cap_hist * 2 : 16;
        prompt_msg_t *n = realloc(r->hist, cap * sizeof *n);
        if (!n)
            return OCT_ENOMEM;
        r->hist = n;
        r->cap_hist = cap;
    }
    char *c = strdup(content);
    if (!c)
        return OCT_ENOMEM;
    r->hist[r->n_hist++] = (prompt_msg_t){role, c};
    return 0;
}

static void hist_clear(tui_runner_t *r)
{
    for (size_t i = 0; i < r->n_hist; i++)
        free(r->hist[i].content);
    r->n_hist = 0;
}

static void publish_pos(tui_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->st.pos = r->s ? eng_pos(r->s) : 0;
    r->st.n_ctx = r->s ? eng_n_ctx(r->s) : 0;
    pthread_mutex_unlock(&r->mu);
}

static const char *system_prompt(tui_runner_t *r)
{
    /* short: small models have small contexts */
    return r->preset.system[0] ? r->preset.system
                               : "You are octet, a local coding assistant. Be concise; put code in fenced "
                                 "blocks with a language tag.";
}

/* Tokens kept free for the answer: max_new_tokens, at most a quarter of the context. */
static size_t answer_reserve(const tui_runner_t *r, uint32_t n_ctx)
{
    size_t q = n_ctx / 4 > 16 ? n_ctx / 4 : 16;
    return r->preset.max_new_tokens < q ? r->preset.max_new_tokens : q;
}

/* Feed IDS into the session reusing the common prefix with what the cache
 * holds. *REUSED gets the tokens found in the cache. */
static int feed_reusing(tui_runner_t *r, const int32_t *ids, size_t n, size_t *reused, errmsg_t *err)
{
    size_t p = prompt_common_prefix(eng_tokens(r->s), eng_pos(r->s), ids, n);
    if (p == n && n > 0)
        p = n - 1; /* refeed the last token: its logits start the answer */
    int rc = eng_truncate(r->s, (uint32_t)p, err);
    if (rc)
        return rc;
    *reused = p;
    set_state(r, "prefill %zu tokens (%zu reused)", n - p, p);
    rc = eng_feed(r->s, ids + p, n - p, err);
    publish_pos(r);
    return rc;
}

/* Feed the conversation so far (after a switch), so the next turn only
 * prefills its new message. */
static void refeed_conversation(tui_runner_t *r)
{
    if (!r->n_hist || !r->s)
        return;
    errmsg_t err = {0};
    int32_t *ids = NULL;
    size_t n = 0, dropped = 0, reused = 0;
    uint32_t n_ctx = eng_n_ctx(r->s);
    prompt_req_t req = {r->tmpl, eng_tokenizer(r->m), system_prompt(r),
                            r->hist, r->n_hist, NULL, n_ctx - answer_reserve(r, n_ctx)};
    int rc = prompt_build(&req, &ids, &n, &dropped, &err);
    if (rc == 0)
        rc = feed_reusing(r, ids, n, &reused, &err);
    if (rc == OCT_ECANCELED)
        post_str(r, TUI_EV_NOTICE, "re-reading the conversation stopped");
    else if (rc)
        postf(r, TUI_EV_ERROR, "cannot re-read the conversation: %s", err.msg);
    else
        postf(r, TUI_EV_NOTICE, "conversation kept: %zu tokens in the new KV cache (%zu reused)%s", n, reused,
              dropped ? ", older messages left out to fit" : "");
    free(ids);
}

/* ---- loading and switching ----------------------------------------------- */

static bool same_weights(const tui_runner_t *r, const char *path, const eng_opts_t *o, const preset_t *p)
{
    const eng_opts_t *a = &r->ld.opts;
    if (!r->m || strcmp(r->ld.path, path) || a->wfmt != o->wfmt || a->n_threads != o->n_threads ||
        strcmp(r->ld.backend, p->backend))
        return false;
    if (o->wfmt == ENG_W_SMOOTHQUANT && (a->sq_alpha != o->sq_alpha || strcmp(r->ld.calib, p->calib)))
        return false;
    return true;
}

static void free_engine(eng_model_t *m, eng_session_t *s, chat_tmpl_t *t)
{
    eng_session_free(s);
    eng_close(m);
    chat_tmpl_free(t);
}

static void drop_draft(tui_runner_t *r)
{
    eng_session_free(r->ds);
    eng_close(r->dm);
    r->ds = NULL;
    r->dm = NULL;
}

/* Open --draft-model with the loaded model's settings O; when it cannot
 * draft for the model, say why and answer without it. */
static void load_draft(tui_runner_t *r, const eng_opts_t *o)
{
    errmsg_t err = {0};
    drop_draft(r);
    if (!r->draft_path || !r->speculate)
        return;
    eng_opts_t d = *o;
    d.calib_path = NULL;
    if (d.wfmt == ENG_W_SMOOTHQUANT)
        d.wfmt = ENG_W_INT8;
    if (eng_open(&r->dm, r->draft_path, &d, &err) || gen_draft_check(r->m, r->dm, &err) ||
        eng_session_new(&r->ds, r->dm, &err)) {
        postf(r, TUI_EV_NOTICE, "draft model %s not used: %s", r->draft_path, err.msg);
        drop_draft(r);
        return;
    }
    postf(r, TUI_EV_NOTICE, "draft model %s drafts beside prompt lookup", eng_hparams(r->dm)->name);
}

/* Free the loaded model, session and template (a switch to a remote engine). */
static void unload(tui_runner_t *r)
{
    if (!r->m)
        return;
    drop_draft(r);
    char name[128];
    pthread_mutex_lock(&r->mu);
    eng_model_t *m = r->m;
    eng_session_t *s = r->s;
    chat_tmpl_t *t = r->tmpl;
    r->m = NULL;
    r->s = NULL;
    r->tmpl = NULL;
    r->st.loaded = false;
    r->st.pos = r->st.n_ctx = 0;
    snprintf(name, sizeof name, "%s", r->st.model);
    pthread_mutex_unlock(&r->mu);
    free_engine(m, s, t);
    r->ld.path[0] = '\0';
    postf(r, TUI_EV_NOTICE, "%s unloaded: its weights and KV cache are freed", name);
}

/* Leave the remote engine (a switch to a local preset). */
static void drop_remote(tui_runner_t *r)
{
    if (!r->rem)
        return;
    pthread_mutex_lock(&r->mu);
    r->rem_url[0] = '\0';
    r->st.remote = false;
    r->st.loaded = false;
    r->st.model[0] = '\0';
    r->st.host[0] = '\0';
    pthread_cond_broadcast(&r->pcv);
    pthread_mutex_unlock(&r->mu);
    remote_close(r->rem);
    r->rem = NULL;
}

/* Ask the remote engine for its model's name (the status bar's); posts why not. */
static int remote_name(tui_runner_t *r)
{
    errmsg_t err = {0};
    const char *id;
    int rc = remote_model(r->rem, &id, &err);
    pthread_mutex_lock(&r->mu);
    r->st.loaded = rc == 0;
    snprintf(r->st.model, sizeof r->st.model, "%s", rc == 0 ? id : "");
    pthread_mutex_unlock(&r->mu);
    if (rc)
        postf(r, TUI_EV_ERROR, "remote engine %s: %s", remote_url(r->rem), err.msg);
    else if (r->tmpl_name && !strcmp(r->tmpl_name, "none")) /* plain completions, as gen --template none */
        say_mode(r, true, id, "the server's", FORCED_NONE);
    else /* the server formats chats itself: only a model it says cannot chat gets completion mode */
        say_mode(r, remote_model_chat(r->rem, NULL) == 0, id, "the server's", "has no chat template");
    return rc;
}

/* Switch to preset P whose backend is a remote engine: the local model goes,
 * the conversation stays (it is sent with every turn). */
static void use_remote(tui_runner_t *r, const preset_t *p, bool model_given)
{
    errmsg_t err = {0};
    unload(r);
    if (!r->rem || strcmp(r->rem_url, p->backend)) {
        remote_t *nr;
        drop_remote(r);
        if (remote_open(&nr, p->backend, getenv("OCTET_API_KEY"), &err)) {
            postf(r, TUI_EV_ERROR, "preset %s: %s", p->name, err.msg);
            post_str(r, TUI_EV_LOADED, "");
            return;
        }
        r->rem = nr;
        pthread_mutex_lock(&r->mu);
        snprintf(r->rem_url, sizeof r->rem_url, "%s", p->backend);
        r->st.remote = true;
        r->st.metrics = TUI_RM_WAIT;
        preset_backend_host(p->backend, r->st.host, sizeof r->st.host);
        pthread_cond_broadcast(&r->pcv);
        pthread_mutex_unlock(&r->mu);
    }
    r->preset = *p;
    pthread_mutex_lock(&r->mu);
    snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
    r->st.gpu = false;
    pthread_mutex_unlock(&r->mu);
    if (model_given)
        post_str(r, TUI_EV_NOTICE, "the model is kept for local presets; this preset uses the remote engine's");
    set_state(r, "connecting to %s", p->backend);
    if (remote_name(r) == 0)
        postf(r, TUI_EV_NOTICE, "preset %s: remote engine %s, model %s%s", p->name, remote_url(r->rem),
              r->st.model, r->n_hist ? "; the conversation is kept" : "");
    post_str(r, TUI_EV_LOADED, "");
}

/* Whether preset P (planned as PLAN) fits the GPU the loaded model is on,
 * counting as free what the switch gives back (the KV cache, and the
 * weights too unless KEEP_W); checked before anything is freed, so that a
 * preset too large leaves the TUI on its current one. */
static bool gpu_fits(tui_runner_t *r, const preset_t *p, const preset_plan_t *plan, bool keep_w, errmsg_t *err)
{
    if (!r->m || !r->st.gpu || !strcmp(p->backend, "cpu"))
        return true;
    eng_mem_t mem;
    eng_memory(r->m, r->s, &mem);
    if (!mem.dev[0].dev_total)
        return true;
    uint64_t avail = mem.dev[0].dev_free + mem.kv + (keep_w ? 0 : mem.weights);
    uint64_t need = plan->kv + (keep_w ? 0 : plan->weights);
    if (need <= avail)
        return true;
    errmsg_set(err, OCT_ENOMEM,
               "does not fit the GPU: it needs %.2f GiB (%s%.2f GiB KV cache for %u tokens) and %.2f GiB of %s are "
               "free with what the switch would release",
               need / 1073741824.0, keep_w ? "" : "weights and ", plan->kv / 1073741824.0, plan->ctx,
               avail / 1073741824.0, mem.dev[0].name);
    return false;
}

/* After a KV cache of P could not be allocated: the previous context
 * again, so that the TUI stays on its preset. */
static bool stay_on_preset(tui_runner_t *r, const preset_t *p, const errmsg_t *why)
{
    errmsg_t err = {0};
    eng_session_t *ns = NULL;
    if (eng_set_context(r->m, r->ld.opts.n_ctx, r->ld.opts.kvfmt, &err) || eng_session_new(&ns, r->m, &err))
        return false;
    pthread_mutex_lock(&r->mu);
    r->s = ns;
    r->st.loaded = true;
    pthread_mutex_unlock(&r->mu);
    publish_pos(r);
    postf(r, TUI_EV_ERROR, "preset %s: %s; staying on preset %s", p->name, why->msg, r->preset.name);
    refeed_conversation(r);
    post_str(r, TUI_EV_LOADED, "");
    return true;
}

static void job_use(tui_runner_t *r, job_t *j)
{
    errmsg_t err = {0};
    const preset_t *p = &j->preset;
    bool model_given = j->model != NULL;
    if (j->model) {
        free(r->model_def);
        r->model_def = j->model;
        j->model = NULL;
    }
    if (preset_is_remote(p)) {
        use_remote(r, p, model_given);
        return;
    }
    drop_remote(r);
    preset_models_t models = {r->model_def, r->model_large};
    bool fell_back;
    const char *path = preset_model_path(p, &models, &fell_back);
    if (!path) {
        r->preset = *p;
        pthread_mutex_lock(&r->mu);
        snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
        pthread_mutex_unlock(&r->mu);
        post_str(r, TUI_EV_ERROR,
                 "no model configured: start octet with -m FILE.gguf (or set OCTET_MODEL=FILE), load one with "
                 "/model FILE, or name one in a preset (path = FILE under [model])");
        post_str(r, TUI_EV_LOADED, "");
        return;
    }
    if (fell_back)
        postf(r, TUI_EV_NOTICE,
              "%s asks for the large model, but none is configured (--large-model FILE or "
              "OCTET_MODEL_LARGE): using the default model",
              p->name);
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        postf(r, TUI_EV_ERROR, "%s: cannot open the model: %s", path, strerror(errno));
        return;
    }
    preset_plan_t plan;
    if (preset_plan(p, real, &plan, &err)) {
        postf(r, TUI_EV_ERROR, "%s", err.msg);
        return;
    }
    if (plan.clamped)
        postf(r, TUI_EV_NOTICE, "context %u of %s is larger than the model's training context: using %u", p->ctx,
              p->name, plan.ctx);
    eng_opts_t o;
    preset_eng_opts(p, plan.ctx, &o);
    bool keep_w = same_weights(r, real, &o, p);
    bool keep_kv = keep_w && eng_n_ctx(r->s) == plan.ctx && r->ld.opts.kvfmt == o.kvfmt;
    if (keep_kv) {
        r->preset = *p;
        pthread_mutex_lock(&r->mu);
        snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
        pthread_mutex_unlock(&r->mu);
        postf(r, TUI_EV_NOTICE, "preset %s: weights and KV cache kept (%s, context %u)", p->name,
              eng_wfmt_name(o.wfmt), plan.ctx);
        post_str(r, TUI_EV_LOADED, "");
        return;
    }
    if (!gpu_fits(r, p, &plan, keep_w, &err)) {
        postf(r, TUI_EV_ERROR, "preset %s %s; staying on preset %s", p->name, err.msg, r->preset.name);
        post_str(r, TUI_EV_LOADED, "");
        return;
    }
    if (keep_w) {
        /* Same weights: only the KV cache (and the attention work space)
         * change size, so the weights stay loaded. */
        pthread_mutex_lock(&r->mu);
        eng_session_t *os = r->s;
        r->s = NULL;
        r->st.loaded = false;
        pthread_mutex_unlock(&r->mu);
        eng_session_free(os);
        eng_session_t *ns = NULL;
        if (eng_set_context(r->m, plan.ctx, o.kvfmt, &err) == 0 && eng_session_new(&ns, r->m, &err) == 0) {
            r->ld.opts = o;
            r->ld.opts.backend = r->ld.backend;
            r->ld.opts.calib_path = r->ld.calib[0] ? r->ld.calib : NULL;
            r->preset = *p;
            pthread_mutex_lock(&r->mu);
            r->s = ns;
            r->st.loaded = true;
            snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
            pthread_mutex_unlock(&r->mu);
            publish_pos(r);
            postf(r, TUI_EV_NOTICE, "preset %s: weights kept, KV cache reallocated (%s, context %u)", p->name,
                  eng_kvfmt_name(o.kvfmt), plan.ctx);
            refeed_conversation(r);
            post_str(r, TUI_EV_LOADED, "");
            return;
        }
        if (err.code == OCT_ENOMEM && stay_on_preset(r, p, &err))
            return;
        postf(r, TUI_EV_NOTICE, "cannot resize the KV cache (%s): reloading the model", err.msg);
        errmsg_clear(&err);
    }
    /* A new model or weight format: open the model again. */
    set_state(r, "loading %s", real);
    double t0 = now_s();
    eng_model_t *m = NULL;
    eng_session_t *s = NULL;
    chat_tmpl_t *t = NULL;
    int rc;
    if (r->m) {
        /* free the old model first: two copies may not fit */
        drop_draft(r);
        pthread_mutex_lock(&r->mu);
        eng_model_t *om = r->m;
        eng_session_t *os = r->s;
        chat_tmpl_t *ot = r->tmpl;
        r->m = NULL;
        r->s = NULL;
        r->tmpl = NULL;
        r->st.loaded = false;
        pthread_mutex_unlock(&r->mu);
        free_engine(om, os, ot);
    }
    if ((rc = eng_open(&m, real, &o, &err))) {
        postf(r, TUI_EV_ERROR, "cannot load %s: %s", real, err.msg);
        goto fail;
    }
    if (!eng_tokenizer(m)) {
        postf(r, TUI_EV_ERROR, "%s has no tokenizer: octet cannot chat with it", real);
        goto fail;
    }
    rc = chat_tmpl_from_gguf(&t, eng_gguf(m), r->tmpl_name, &err);
    if (rc == OCT_ENOTFOUND) {
        postf(r, TUI_EV_NOTICE, "%s: unknown chat template, using plain text", eng_hparams(m)->name);
        rc = chat_tmpl_by_name(&t, "none", &err);
    }
    if (rc || (rc = eng_session_new(&s, m, &err))) {
        postf(r, TUI_EV_ERROR, "cannot load %s: %s", real, err.msg);
        goto fail;
    }
    snprintf(r->ld.path, sizeof r->ld.path, "%s", real);
    r->ld.opts = o;
    snprintf(r->ld.calib, sizeof r->ld.calib, "%s", p->calib);
    snprintf(r->ld.backend, sizeof r->ld.backend, "%s", p->backend);
    /* o pointed into the job's preset, which is freed with the job */
    r->ld.opts.backend = r->ld.backend;
    r->ld.opts.calib_path = r->ld.calib[0] ? r->ld.calib : NULL;
    r->preset = *p;
    pthread_mutex_lock(&r->mu);
    r->m = m;
    r->s = s;
    r->tmpl = t;
    r->st.loaded = true;
    snprintf(r->st.model, sizeof r->st.model, "%s", eng_hparams(m)->name);
    snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
    r->st.gpu = strcmp(eng_backend_name(m), "cpu") != 0;
    pthread_mutex_unlock(&r->mu);
    publish_pos(r);
    const eng_opts_t *ro = eng_model_opts(m);
    postf(r, TUI_EV_NOTICE, "%s %s with preset %s: %s weights, %s KV cache, context %u, %s (%d thread%s) in %.2f s",
          keep_w ? "reopened" : "loaded", eng_hparams(m)->name, p->name, eng_wfmt_name(ro->wfmt),
          eng_kvfmt_name(ro->kvfmt), ro->n_ctx, eng_backend_name(m), ro->n_threads, ro->n_threads == 1 ? "" : "s",
          now_s() - t0);
    say_mode(r, !strcmp(chat_tmpl_name(t), "none"), eng_hparams(m)->name, chat_tmpl_name(t),
             r->tmpl_name ? FORCED_NONE : "has no chat template");
    load_draft(r, ro);
    refeed_conversation(r);
    post_str(r, TUI_EV_LOADED, "");
    return;
fail:
    free_engine(m, s, t);
    pthread_mutex_lock(&r->mu);
    snprintf(r->st.preset, sizeof r->st.preset, "%s", p->name);
    pthread_mutex_unlock(&r->mu);
    post_str(r, TUI_EV_LOADED, "");
}

/* ---- answering ------------------------------------------------------------- */

/* The code a prompt gets: the pins (read now) and, when RETRIEVE, the K
 * chunks most relevant to QUERY, packed into BUDGET tokens (pin.h). Posts
 * what became of each block (the context panel's list, and a notice when
 * something was pinned or cut); *C keeps the packed texts. 0, or -1 after
 * posting the error. */
static int gather(tui_runner_t *r, const char *query, size_t k, bool retrieve, size_t budget, pin_ctx_t *c)
{
    rag_results_t res = {0};
    pin_list_t pins = {0};
    errmsg_t err = {0};
    pthread_mutex_lock(&r->mu);
    int rc = pin_list_copy(&pins, &r->pins);
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        post_str(r, TUI_EV_ERROR, "out of memory");
        return -1;
    }
    if (retrieve && r->rag && rag_query(r->rag, query, strlen(query), k, &res, &err))
        postf(r, TUI_EV_NOTICE, "retrieval failed: %s", err.msg);
    rag_count_fn count = r->m ? prompt_count_tokens : prompt_count_tokens_approx;
    void *count_ud = r->m ? (void *)eng_tokenizer(r->m) : NULL;
    rc = pin_pack(NULL, &pins, &res, budget, count, count_ud, c, &err);
    rag_results_free(&res);
    pin_list_free(&pins);
    if (rc) {
        postf(r, TUI_EV_ERROR, "%s", err.msg);
        return -1;
    }
    post_ctx(r, c);
    return 0;
}

/* The system message and the user's turn as they would be without code,
 * but with the headers code comes under (*SYS and *USER, malloc'd): what
 * the room for code is measured from. 0, or -1 after posting the error. */
static int bare_turn(tui_runner_t *r, const char *text, char **sys, char **user)
{
    pthread_mutex_lock(&r->mu);
    bool pinned = r->pins.n > 0;
    pthread_mutex_unlock(&r->mu);
    *sys = prompt_system(system_prompt(r), pinned ? " " : NULL);
    *user = prompt_user(text, r->preset.retrieval && r->rag ? " " : NULL);
    if (*sys && *user)
        return 0;
    free(*sys);
    free(*user);
    post_str(r, TUI_EV_ERROR, "out of memory");
    return -1;
}

/* Tokens of a chat turn for pinned and retrieved code: what the bare
 * message (BARE tokens) leaves of BUDGET, at most half, at most the
 * preset's; none when too little is left to be of use. */
static size_t code_room(const tui_runner_t *r, size_t bare, size_t budget)
{
    size_t room = bare < budget ? (budget - bare) / 2 : 0;
    if (room > r->preset.token_budget)
        room = r->preset.token_budget;
    return room < 32 ? 0 : room;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Completion mode's text for TEXT: the pinned and retrieved code of C in
 * front of it (prompt_completion). malloc'd; NULL when out of memory. */
static char *completion_text(const char *text, const pin_ctx_t *c)
{
    const char *p = c->pinned ? c->pinned : "", *q = c->retrieved ? c->retrieved : "";
    char *code = NULL, *out;
    if (asprintf(&code, "%s%s%s", p, *p && *q ? "\n\n" : "", q) < 0)
        return NULL;
    out = prompt_completion(text, code);
    free(code);
    return out;
}

/* ---- answering on a remote engine -------------------------------------------- */

#define MSG_OVERHEAD 8 /* estimated tokens a chat template adds around a message */

/* Context size of the remote engine: what its /metrics says, else the preset's. */
static uint32_t remote_ctx(tui_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t n = r->st.metrics == TUI_RM_OK ? r->st.rm.kv_tokens_size : -1;
    pthread_mutex_unlock(&r->mu);
    return n > 0 && n <= UINT32_MAX ? (uint32_t)n : r->preset.ctx;
}

static size_t msg_cost(const char *text)
{
    return prompt_count_tokens_approx(text, strlen(text), NULL) + MSG_OVERHEAD;
}

/* The messages of a remote turn (*N of them, malloc'd; they point into the
 * conversation): SYS, the conversation with the oldest
 * exchanges left out (*DROPPED counts them) until the estimate fits BUDGET
 * tokens, and CONTENT. */
static chat_msg_t *remote_msgs(tui_runner_t *r, const char *sys, const char *content, size_t budget, size_t *n,
                               size_t *dropped)
{
    size_t total = msg_cost(sys) + msg_cost(content), first = 0;
    for (size_t i = 0; i < r->n_hist; i++)
        total += msg_cost(r->hist[i].content);
    while (first + 2 <= r->n_hist && total > budget) {
        total -= msg_cost(r->hist[first].content) + msg_cost(r->hist[first + 1].content);
        first += 2;
    }
    chat_msg_t *m = malloc((r->n_hist - first + 2) * sizeof *m);
    if (!m)
        return NULL;
    size_t k = 0;
    m[k++] = (chat_msg_t){CHAT_ROLE_SYSTEM, sys};
    for (size_t i = first; i < r->n_hist; i++)
        m[k++] = (chat_msg_t){r->hist[i].role, r->hist[i].content};
    m[k++] = (chat_msg_t){CHAT_ROLE_USER, content};
    *n = k;
    *dropped = first;
    return m;
}

typedef struct rstream {
    tui_runner_t *r;
    char *text;
    size_t len, cap, shown; /* SHOWN: bytes posted (with CONT: given to it), whole characters only */
    cont_t *cont;           /* completion mode: where the code unit ends */
    uint32_t chunks;
    double t0, t_first, t_last;
    bool oom;
} rstream_t;

static void rstream_speed(rstream_t *s, long tokens)
{
    uint32_t n = tokens > 0 ? (uint32_t)tokens : s->chunks;
    /* decode speed: the tokens after the first over the time they took to
     * arrive; with a single chunk, all of them over the whole request */
    double span = s->t_last - s->t_first;
    double tok_s = n > 1 && span > 0 ? (n - 1) / span : s->t_last > s->t0 ? n / (s->t_last - s->t0) : 0;
    pthread_mutex_lock(&s->r->mu);
    s->r->st.n_gen = n;
    s->r->st.tok_s = tok_s;
    pthread_mutex_unlock(&s->r->mu);
}

/* Post TEXT[0..LEN) of a remote answer, through its code-unit follower if
 * it has one; nonzero when the unit is over (or memory ran out). */
static int rstream_post(rstream_t *s, const char *text, size_t len)
{
    if (!s->cont) {
        post(s->r, TUI_EV_TEXT, text, len);
        return 0;
    }
    int over = post_code(s->r, s->cont, text, len);
    if (over < 0)
        s->oom = true;
    return over != 0;
}

/* remote_text_fn: a streamed piece into the answer and the transcript; each
 * chunk counts as a token (servers stream one token per chunk). */
static int on_remote_text(void *ud, const char *t, size_t len)
{
    rstream_t *s = ud;
    tui_runner_t *r = s->r;
    if (s->len + len + 1 > s->cap) {
        size_t cap = (s->cap ? s->cap * 2 : 1024) + len;
        char *nt = realloc(s->text, cap);
        if (!nt) {
            s->oom = true;
            return 1;
        }
        s->text = nt;
        s->cap = cap;
    }
    memcpy(s->text + s->len, t, len);
    s->len += len;
    s->text[s->len] = '\0';
    size_t ok = utf8_complete(s->text, s->len);
    int over = 0;
    if (ok > s->shown) {
        over = rstream_post(s, s->text + s->shown, ok - s->shown);
        s->shown = ok;
    }
    s->t_last = now_s();
    if (!s->chunks++) {
        s->t_first = s->t_last;
        set_state(r, "generating");
    }
    rstream_speed(s, -1);
    if (r->delay_ms)
        sleep_ms(r->delay_ms);
    return over || atomic_load(&r->cancel) ? 1 : 0;
}

static void send_remote(tui_runner_t *r, job_t *j)
{
    errmsg_t err = {0};
    char *content = NULL, *sys = NULL;
    chat_msg_t *msgs = NULL;
    size_t n_msgs = 0, dropped = 0;
    uint32_t n_ctx = remote_ctx(r);
    size_t budget = n_ctx - answer_reserve(r, n_ctx);
    rstream_t s = {.r = r};
    pin_ctx_t c = {0};
    bool completion = r->st.completion;
    set_state(r, "retrieving");
    char *bsys, *buser;
    if (bare_turn(r, j->text, &bsys, &buser))
        goto done;
    size_t room = code_room(r, completion ? msg_cost(j->text) : msg_cost(bsys) + msg_cost(buser), budget);
    free(bsys);
    free(buser);
    if (gather(r, j->text, (size_t)r->preset.top_k, r->preset.retrieval, room, &c))
        goto done;
    if (completion ? !(content = completion_text(j->text, &c))
                   : !(sys = prompt_system(system_prompt(r), c.pinned)) ||
                         !(content = prompt_user(j->text, c.retrieved)) ||
                         !(msgs = remote_msgs(r, sys, content, budget, &n_msgs, &dropped))) {
        post_str(r, TUI_EV_ERROR, "out of memory");
        goto done;
    }
    if (dropped)
        postf(r, TUI_EV_NOTICE, "%zu older messages left out to fit the context of about %u tokens", dropped, n_ctx);
    show_msgs(r, msgs, n_msgs, content);
    oai_gen_t g;
    oai_gen_init(&g);
    g.max_tokens = (long)r->preset.max_new_tokens;
    g.temperature = r->preset.temperature;
    g.top_p = r->preset.top_p;
    if (r->preset.seed)
        g.seed = (long long)(r->preset.seed & INT64_MAX);
    if (completion) {
        g.stops = COMPLETION_STOPS;
        g.n_stops = sizeof COMPLETION_STOPS / sizeof COMPLETION_STOPS[0];
        if (cont_new(&s.cont, j->text, strlen(j->text), &err)) {
            postf(r, TUI_EV_ERROR, "%s", err.msg);
            goto done;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->st.generating = true;
    r->st.n_gen = 0;
    r->st.tok_s = 0;
    r->st.reused = 0;
    r->st.n_drafted = 0;
    r->st.accept_rate = r->st.tok_per_pass = 0;
    snprintf(r->st.state, sizeof r->st.state, "waiting for %.80s", r->st.host);
    pthread_mutex_unlock(&r->mu);
    if (!r->st.loaded)
        remote_name(r); /* not known yet: the server may have come up since */
    remote_result_t res;
    s.t0 = now_s();
    int rc = completion ? remote_complete(r->rem, content, &g, on_remote_text, &s, &r->cancel, &res, &err)
                        : remote_chat(r->rem, msgs, n_msgs, &g, on_remote_text, &s, &r->cancel, &res, &err);
    const char *ended = s.cont ? cont_why(s.cont) : NULL;
    if (ended && rc == OCT_ECANCELED && !atomic_load(&r->cancel))
        rc = 0; /* stopped at the end of the unit, not by the user */
    if (!ended && s.len > s.shown)
        rstream_post(&s, s.text + s.shown, s.len - s.shown);
    if (s.cont)
        ended = post_code_end(r, s.cont);
    if (s.oom)
        rc = errmsg_set(&err, OCT_ENOMEM, "out of memory");
    if (rc && rc != OCT_ECANCELED && !s.chunks) {
        /* nothing came: the turn is not kept, so sending it again retries it */
        postf(r, TUI_EV_ERROR, "remote engine: %s", err.msg);
        goto done;
    }
    if (rc == OCT_ECANCELED && !s.chunks) {
        post_str(r, TUI_EV_NOTICE, "stopped before the answer began");
        post_str(r, TUI_EV_ANSWER_END, "stopped");
        goto done;
    }
    if (!completion) {
        hist_push(r, CHAT_ROLE_USER, content);
        hist_push(r, CHAT_ROLE_ASSISTANT, s.text ? s.text : "");
    }
    if (rc && rc != OCT_ECANCELED)
        postf(r, TUI_EV_ERROR, "remote engine: %s", err.msg);
    rstream_speed(&s, rc ? -1 : res.completion_tokens);
    char prompt[48] = "";
    if (!rc && res.prompt_tokens >= 0)
        snprintf(prompt, sizeof prompt, "; prompt %ld tokens", res.prompt_tokens);
    pthread_mutex_lock(&r->mu);
    uint32_t n_gen = r->st.n_gen;
    double tok_s = r->st.tok_s;
    pthread_mutex_unlock(&r->mu);
    postf(r, TUI_EV_ANSWER_END, "%u tokens, %.1f tok/s%s (remote %s)%s%s%s%s", n_gen, tok_s, prompt, r->st.host,
          rc == OCT_ECANCELED ? "; stopped (Ctrl-C)" : "",
          !rc && !ended && !strcmp(res.finish, "length") ? "; cut at max_new_tokens" : "",
          ended && rc != OCT_ECANCELED ? "; " : "", ended && rc != OCT_ECANCELED ? ended : "");
done:
    pthread_mutex_lock(&r->mu);
    r->st.generating = false;
    pthread_mutex_unlock(&r->mu);
    free(s.text);
    cont_free(s.cont);
    free(msgs);
    pin_ctx_free(&c);
    free(sys);
    free(content);
}

/* The prompt for the chat message of J: the pinned code (in the system
 * message) and the retrieved code (when the preset retrieves; in the user's
 * turn, which goes into *CONTENT) packed together, the retrieved part also
 * into *PACKED, the conversation so far and that turn tokenized into *IDS,
 * trimmed to the context (a notice says how many older messages were left
 * out); verbose, the prompt as the model reads it is posted. 0, or -1 after
 * posting the error (or with *CANCELED set on Ctrl-C). */
static int chat_prompt(tui_runner_t *r, const job_t *j, char **packed, char **content, int32_t **ids, size_t *n_ids,
                       bool *canceled)
{
    errmsg_t err = {0};
    size_t dropped = 0;
    pin_ctx_t c = {0};
    char *sys = NULL;
    int rc = -1;
    const tok_t *tok = eng_tokenizer(r->m);
    uint32_t n_ctx = eng_n_ctx(r->s);
    size_t budget = n_ctx - answer_reserve(r, n_ctx);
    set_state(r, "retrieving");
    char *bsys, *buser;
    if (bare_turn(r, j->text, &bsys, &buser))
        return -1;
    prompt_req_t bare = {r->tmpl, tok, bsys, NULL, 0, buser, SIZE_MAX};
    rc = prompt_build(&bare, ids, n_ids, NULL, &err);
    free(bsys);
    free(buser);
    if (rc) {
        postf(r, TUI_EV_ERROR, "%s", err.msg);
        return -1;
    }
    rc = -1;
    free(*ids);
    *ids = NULL;
    if (gather(r, j->text, (size_t)r->preset.top_k, r->preset.retrieval, code_room(r, *n_ids, budget), &c))
        return -1;
    if (atomic_load(&r->cancel)) {
        *canceled = true;
        goto done;
    }
    if (!(sys = prompt_system(system_prompt(r), c.pinned)) || !(*content = prompt_user(j->text, c.retrieved))) {
        post_str(r, TUI_EV_ERROR, "out of memory");
        goto done;
    }
    *packed = c.retrieved;
    c.retrieved = NULL;
    prompt_req_t req = {r->tmpl, tok, sys, r->hist, r->n_hist, *content, budget};
    if (prompt_build(&req, ids, n_ids, &dropped, &err)) {
        postf(r, TUI_EV_ERROR, "%s", err.msg);
        goto done;
    }
    if (dropped)
        postf(r, TUI_EV_NOTICE, "%zu older messages left out to fit the context of %u tokens", dropped, n_ctx);
    char *text = NULL;
    size_t len = 0;
    if (verbose(r) && tok_decode(tok, *ids, *n_ids, true, &text, &len, &err) == 0) {
        sbuf_t b = {0};
        sb_addf(&b, "prompt (verbose), %zu tokens:\n", *n_ids);
        sb_addn(&b, text, len);
        free(text);
        if ((text = sb_take(&b)))
            post_str(r, TUI_EV_NOTICE, text);
    }
    free(text);
    rc = 0;
done:
    free(sys);
    pin_ctx_free(&c);
    return rc;
}

/* Completion mode's prompt for J: the pinned code and the retrieved code
 * (when the preset retrieves; that part also in *PACKED), then the text as
 * typed, in *CONTENT and tokenized into *IDS; no system message and no
 * conversation, which a base model would only continue. 0, or -1 after posting the error (or with *CANCELED
 * set on Ctrl-C). */
static int completion_prompt(tui_runner_t *r, const job_t *j, char **packed, char **content, int32_t **ids,
                             size_t *n_ids, bool *canceled)
{
    errmsg_t err = {0};
    pin_ctx_t c = {0};
    int rc = -1;
    const tok_t *tok = eng_tokenizer(r->m);
    uint32_t n_ctx = eng_n_ctx(r->s);
    size_t budget = n_ctx - answer_reserve(r, n_ctx), own = prompt_count_tokens(j->text, strlen(j->text), (void *)tok);
    set_state(r, "retrieving");
    if (gather(r, j->text, (size_t)r->preset.top_k, r->preset.retrieval, code_room(r, own, budget), &c))
        return -1;
    if (atomic_load(&r->cancel)) {
        *canceled = true;
        goto done;
    }
    if (!(*content = completion_text(j->text, &c))) {
        post_str(r, TUI_EV_ERROR, "out of memory");
        goto done;
    }
    *packed = c.retrieved;
    c.retrieved = NULL;
    if (tok_encode(tok, *content, strlen(*content), TOK_ADD_BOS, ids, n_ids, &err)) {
        postf(r, TUI_EV_ERROR, "%s", err.msg);
        goto done;
    }
    if (*n_ids > budget) {
        postf(r, TUI_EV_ERROR, "the text has %zu tokens; the context of %u leaves room for %zu before the answer",
              *n_ids, n_ctx, budget);
        goto done;
    }
    show_msgs(r, NULL, 0, *content);
    rc = 0;
done:
    pin_ctx_free(&c);
    return rc;
}

/* "; speculation N% accepted, T tokens/pass" when drafts were verified, else "". */
static void spec_figures(uint32_t n_drafted, double accept_rate, double tok_per_pass, char *buf, size_t n)
{
    buf[0] = '\0';
    if (n_drafted)
        snprintf(buf, n, "; speculation %.0f%% accepted, %.1f tokens/pass", 100.0 * accept_rate, tok_per_pass);
}

/* The speed and speculation figures of the answer so far into the status. */
static void publish_gen(tui_runner_t *r, const gen_result_t *g)
{
    pthread_mutex_lock(&r->mu);
    r->st.n_gen = (uint32_t)g->n_tokens;
    r->st.tok_s = g->decode_tok_s;
    r->st.reused = (uint32_t)g->n_reused;
    r->st.accept_rate = g->accept_rate;
    r->st.n_drafted = (uint32_t)g->n_drafted;
    r->st.tok_per_pass = g->tok_per_pass;
    r->st.pos = eng_pos(r->s);
    pthread_mutex_unlock(&r->mu);
}

/* An answer streaming into the transcript: Ctrl-C stops it. */
static int on_answer_text(void *ud, const char *text, size_t len, const gen_result_t *so_far)
{
    tui_runner_t *r = ud;
    if (len && r->cont) {
        if (post_code(r, r->cont, text, len))
            return 1; /* the unit is complete (nothing after it is shown), or out of memory */
    } else if (len) {
        post(r, TUI_EV_TEXT, text, len);
    }
    gen_result_t g = *so_far;
    g.accept_rate = g.n_drafted ? (double)g.n_accepted / (double)g.n_drafted : 0;
    g.tok_per_pass = (double)g.n_tokens / (double)(g.n_passes + 1);
    publish_gen(r, &g);
    if (so_far->n_tokens == 1 && !so_far->n_passes)
        set_state(r, "generating");
    if (r->delay_ms)
        sleep_ms(r->delay_ms);
    return atomic_load(&r->cancel);
}

static void job_send(tui_runner_t *r, job_t *j)
{
    errmsg_t err = {0};
    char *packed = NULL, *content = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    gen_result_t g = {0};
    bool canceled = false;
    if (r->rem) {
        send_remote(r, j);
        return;
    }
    if (!r->m) {
        post_str(r, TUI_EV_ERROR, "no model loaded: give one with /model FILE.gguf (or start octet with -m FILE)");
        goto done;
    }
    bool completion = r->st.completion;
    if (completion ? completion_prompt(r, j, &packed, &content, &ids, &n_ids, &canceled)
                   : chat_prompt(r, j, &packed, &content, &ids, &n_ids, &canceled))
        goto done;
    size_t have = prompt_common_prefix(eng_tokens(r->s), eng_pos(r->s), ids, n_ids);
    set_state(r, "prefill %zu tokens (%zu reused)", n_ids - have, have);
    gen_params_t p;
    gen_params_default(&p);
    p.sample.temp = r->preset.temperature;
    p.sample.top_p = r->preset.top_p;
    p.sample.seed = r->preset.seed ? r->preset.seed
                                   : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
                                         ++r->seed_counter * 0x9E3779B97F4A7C15ull;
    p.max_tokens = (long)r->preset.max_new_tokens;
    p.heal = r->heal;
    if (completion) {
        p.stops = COMPLETION_STOPS;
        p.n_stops = sizeof COMPLETION_STOPS / sizeof COMPLETION_STOPS[0];
        if (cont_new(&r->cont, j->text, strlen(j->text), &err)) {
            postf(r, TUI_EV_ERROR, "%s", err.msg);
            goto done;
        }
    }
    /* lookup drafts from the prompt: the retrieved code and the conversation, which answers quote */
    p.speculate = r->speculate;
    p.spec.draft = r->ds;
    p.on_text = on_answer_text;
    p.ud = r;
    pthread_mutex_lock(&r->mu);
    r->st.generating = true;
    r->st.n_gen = 0;
    r->st.tok_s = 0;
    r->st.n_drafted = 0;
    r->st.accept_rate = r->st.tok_per_pass = 0;
    pthread_mutex_unlock(&r->mu);
    int rc = gen_run(r->s, ids, n_ids, &p, &g, &err);
    publish_gen(r, &g);
    const char *ended = r->cont ? post_code_end(r, r->cont) : NULL;
    canceled = rc == OCT_ECANCELED || (g.stop == GEN_STOP_CALLER && !ended);
    if (rc && !canceled)
        postf(r, TUI_EV_ERROR, "%s", err.msg);
    if ((canceled || rc) && g.n_tokens == 0)
        goto done; /* stopped (or failed) before the answer began */
    if (g.stop == GEN_STOP_CONTEXT)
        postf(r, TUI_EV_NOTICE, "the context of %u tokens is full: answer cut (use /clear or a preset with a "
                                "larger context)", eng_n_ctx(r->s));
    if (!completion) { /* each continuation stands alone */
        hist_push(r, CHAT_ROLE_USER, content);
        hist_push(r, CHAT_ROLE_ASSISTANT, g.text);
    }
    {
        char spec[64];
        spec_figures((uint32_t)g.n_drafted, g.accept_rate, g.tok_per_pass, spec, sizeof spec);
        pthread_mutex_lock(&r->mu);
        r->st.generating = false;
        pthread_mutex_unlock(&r->mu);
        postf(r, TUI_EV_ANSWER_END, "%zu tokens, %.1f tok/s; prompt %zu tokens, %zu reused from the KV cache%s%s%s%s",
              g.n_tokens, g.decode_tok_s, n_ids, g.n_reused, spec, canceled ? "; stopped (Ctrl-C)" : "",
              ended && !canceled ? "; " : "", ended && !canceled ? ended : "");
    }
    canceled = false; /* reported with the figures */
done:
    if (canceled) {
        post_str(r, TUI_EV_NOTICE, "stopped before the answer began");
        post_str(r, TUI_EV_ANSWER_END, "stopped");
    }
    pthread_mutex_lock(&r->mu);
    r->st.generating = false;
    pthread_mutex_unlock(&r->mu);
    publish_pos(r);
    cont_free(r->cont);
    r->cont = NULL;
    gen_result_free(&g);
    free(ids);
    free(packed);
    free(content);
}

/* ---- workflows: /spec and /refactor -------------------------------------------- */

#define SPEC_ATTEMPTS 3      /* like `octet gen`: --retries 2 */
#define SPEC_CONTEXT 1024    /* retrieved tokens, at most a quarter of the context (gen's --context) */
#define SPEC_HITS 8
#define REFACTOR_CONTEXT 2048 /* at most half the context (refactor's --context) */
#define REFACTOR_ATTEMPTS 3   /* like `octet refactor`: --retries 2 */

/* A workflow's model (flows/llm.h): the loaded weights, whose session takes
 * the place of the chat's (one KV cache in memory at a time), so the gauge
 * shows it and Ctrl-C reaches it; or, on a remote preset, the remote engine
 * (Ctrl-C stops its transfer). */
typedef struct flow {
    tui_runner_t *r;
    llm_handle_t h; /* h.n_ctx: the context the prompt must fit (remote: as its /metrics or the preset says) */
    rag_count_fn count; /* tokens of retrieved code: the model's tokenizer, or the estimate */
    void *count_ud;
    bool open;  /* a reply is streaming: ANSWER_END not posted yet */
    uint32_t n_gen;
    double t0;
    int attempts;
    llm_t inner, shown; /* verbose: the model, and SHOWN, which posts each prompt before asking it */
} flow_t;

static int shown_generate(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                          bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply, errmsg_t *err)
{
    flow_t *f = ud;
    show_msgs(f->r, msgs, f->inner.chat ? n : 0, prompt);
    return f->inner.generate(f->inner.ud, msgs, n, prompt, done, done_ud, reply, err);
}

/* The model a workflow asks: verbose, through shown_generate. */
static const llm_t *flow_llm(flow_t *f)
{
    if (!verbose(f->r))
        return &f->h.llm;
    f->inner = f->h.llm;
    f->shown = (llm_t){.chat = f->inner.chat, .generate = shown_generate, .ud = f};
    return &f->shown;
}

static void flow_text(void *ud, const char *piece, size_t len)
{
    flow_t *f = ud;
    tui_runner_t *r = f->r;
    if (!f->open) {
        f->open = true;
        f->n_gen = 0;
        f->t0 = now_s();
    }
    post(r, TUI_EV_TEXT, piece, len);
    f->n_gen++;
    double dt = now_s() - f->t0;
    const llm_stats_t *st = &f->h.el.reply;
    pthread_mutex_lock(&r->mu);
    if (f->h.el.session) { /* the local engine counts tokens; a remote one sends about one a piece */
        r->st.n_gen = (uint32_t)st->n_tokens;
        r->st.tok_s = st->t_decode > 0 ? (double)st->n_tokens / st->t_decode : 0;
        r->st.n_drafted = (uint32_t)st->n_drafted;
        r->st.accept_rate = llm_stats_accept_rate(st);
        r->st.tok_per_pass = llm_stats_tok_per_pass(st);
    } else {
        r->st.n_gen = f->n_gen;
        r->st.tok_s = dt > 0 ? f->n_gen / dt : 0;
    }
    r->st.pos = r->s ? eng_pos(r->s) : 0;
    pthread_mutex_unlock(&r->mu);
    if (r->delay_ms)
        sleep_ms(r->delay_ms);
}

/* Close the reply being streamed with the line TEXT. */
static void flow_end_reply(flow_t *f, const char *text)
{
    if (f->open)
        post_str(f->r, TUI_EV_ANSWER_END, text);
    else
        post_str(f->r, TUI_EV_NOTICE, text);
    f->open = false;
}

/* The settings a workflow's replies use: gen's and refactor's temperature,
 * the preset's seed (1 when it has none) and length. */
static llm_conf_t flow_conf(tui_runner_t *r)
{
    llm_conf_t c = {.engine = r->m, .remote = r->rem, .temp = 0.2, .cancel = &r->cancel};
    sample_params_default(&c.sp);
    c.sp.temp = 0.2f;
    c.sp.seed = r->preset.seed ? r->preset.seed : 1;
    c.n_predict = (long)r->preset.max_new_tokens;
    return c;
}

/* flow_open on a remote engine: its model named (the status bar's, when
 * not known yet), each reply one streamed chat request. */
static int flow_open_remote(tui_runner_t *r, flow_t *f, errmsg_t *err)
{
    if (!r->st.loaded) {
        const char *id;
        errmsg_t e = {0};
        int rc = remote_model(r->rem, &id, &e);
        if (rc)
            return errmsg_set(err, rc, "remote engine %s: %s", remote_url(r->rem), e.msg);
        pthread_mutex_lock(&r->mu);
        r->st.loaded = true;
        snprintf(r->st.model, sizeof r->st.model, "%s", id);
        pthread_mutex_unlock(&r->mu);
    }
    llm_conf_t c = flow_conf(r);
    int rc = llm_open(&f->h, &c, err);
    if (rc)
        return rc;
    llm_stream(&f->h, flow_text, f);
    f->h.n_ctx = remote_ctx(r);
    f->count = rag_estimate_tokens;
    pthread_mutex_lock(&r->mu);
    r->st.generating = true;
    r->st.n_gen = 0;
    r->st.tok_s = 0;
    r->st.n_drafted = 0;
    r->st.accept_rate = r->st.tok_per_pass = 0;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int flow_open(tui_runner_t *r, flow_t *f, errmsg_t *err)
{
    memset(f, 0, sizeof *f);
    f->r = r;
    if (r->rem)
        return flow_open_remote(r, f, err);
    if (!r->m)
        return errmsg_set(err, OCT_EINVAL, "no model loaded: give one with /model FILE.gguf (or start octet with -m "
                                           "FILE)");
    pthread_mutex_lock(&r->mu);
    eng_session_t *os = r->s;
    r->s = NULL;
    pthread_mutex_unlock(&r->mu);
    eng_session_free(os);
    llm_conf_t c = flow_conf(r);
    int rc = llm_open(&f->h, &c, err);
    if (rc == OCT_ENOTFOUND) { /* an unknown chat template: plain completion, as the chat does */
        c.tmpl_name = "none";
        rc = llm_open(&f->h, &c, err);
    }
    eng_session_t *s = f->h.el.session;
    errmsg_t e2 = {0};
    if (rc && eng_session_new(&s, r->m, &e2)) {
        /* without a session the model is of no use: let it go */
        drop_draft(r);
        pthread_mutex_lock(&r->mu);
        eng_model_t *m = r->m;
        chat_tmpl_t *t = r->tmpl;
        r->m = NULL;
        r->tmpl = NULL;
        r->st.loaded = false;
        pthread_mutex_unlock(&r->mu);
        free_engine(m, NULL, t);
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    r->s = s;
    r->st.generating = rc == 0;
    r->st.n_gen = 0;
    r->st.tok_s = 0;
    r->st.n_drafted = 0;
    r->st.accept_rate = r->st.tok_per_pass = 0;
    pthread_mutex_unlock(&r->mu);
    if (atomic_load(&r->cancel))
        eng_cancel(s); /* Ctrl-C came while there was no session */
    f->h.el.heal = r->heal;
    f->h.el.speculate = r->speculate;
    if (rc == 0 && r->dm && llm_engine_set_draft(&f->h.el, r->dm, &e2))
        postf(r, TUI_EV_NOTICE, "draft model not used for this workflow: %s", e2.msg);
    llm_stream(&f->h, flow_text, f);
    f->count = f->h.count;
    f->count_ud = f->h.count_ud;
    publish_pos(r);
    return rc;
}

static void flow_close(flow_t *f)
{
    tui_runner_t *r = f->r;
    f->h.el.session = NULL; /* it is the chat's session now (r->s) */
    llm_close(&f->h);
    pthread_mutex_lock(&r->mu);
    r->st.generating = false;
    pthread_mutex_unlock(&r->mu);
    publish_pos(r);
}

static void spec_attempt(void *ud, int attempt, const char *reply, const char *code, const spec_report_t *rep,
                         const char *error)
{
    flow_t *f = ud;
    char line[640];
    (void)reply; /* streamed already */
    (void)code;  /* posted at the end when it passed */
    if (!*error) {
        snprintf(line, sizeof line, "attempt %d/%d: %s", attempt, f->attempts,
                 rep ? "the code passed the check" : "code extracted");
    } else {
        size_t first = strcspn(error, "\n");
        snprintf(line, sizeof line, "attempt %d/%d failed: %.*s%s", attempt, f->attempts,
                 (int)(first < 500 ? first : 500), error, error[first] && error[first + 1] ? " ..." : "");
    }
    flow_end_reply(f, line);
    if (*error && attempt < f->attempts)
        set_state(f->r, "spec: attempt %d/%d, the failure fed back", attempt + 1, f->attempts);
}

static void job_spec(tui_runner_t *r, job_t *j)
{
    const spec_t *s = j->spec;
    errmsg_t err = {0};
    flow_t f;
    char *query = NULL;
    pin_ctx_t pc = {0};
    spec_gen_result_t res = {0};
    spec_check_opts_t co;
    spec_check_opts_default(&co);
    if (flow_open(r, &f, &err)) {
        postf(r, TUI_EV_ERROR, "spec %s: %s", s->name, err.msg);
        return;
    }
    f.attempts = SPEC_ATTEMPTS;
    set_state(r, "retrieving");
    size_t budget = f.h.n_ctx / 4 < SPEC_CONTEXT ? f.h.n_ctx / 4 : SPEC_CONTEXT;
    if (!(query = spec_query(s))) {
        post_str(r, TUI_EV_ERROR, "out of memory");
        goto done;
    }
    if (gather(r, query, SPEC_HITS, r->preset.retrieval, budget, &pc))
        goto done;
    set_state(r, "spec: attempt 1/%d", SPEC_ATTEMPTS);
    spec_gen_opts_t go = {
        .attempts = SPEC_ATTEMPTS,
        .check = true,
        .context = pc.text,
        .code_dir = j->dir,
        .check_opts = &co,
        .on_attempt = spec_attempt,
        .ud = &f,
    };
    int rc = spec_gen(s, flow_llm(&f), &go, &res, &err);
    if (rc == OCT_ECANCELED) {
        flow_end_reply(&f, "stopped (Ctrl-C)");
        postf(r, TUI_EV_NOTICE, "spec %s: stopped; nothing was generated", s->name);
    } else if (rc) {
        flow_end_reply(&f, "stopped");
        postf(r, TUI_EV_ERROR, "spec %s: %s", s->name, err.msg);
    } else if (res.ok) {
        char *block = NULL;
        size_t n = strlen(res.code);
        if (asprintf(&block, "```%s\n%s%s```\n", spec_lang_name(s->lang), res.code,
                     n && res.code[n - 1] != '\n' ? "\n" : "") < 0) {
            post_str(r, TUI_EV_ERROR, "out of memory");
            goto done;
        }
        post_str(r, TUI_EV_TEXT, block);
        free(block);
        postf(r, TUI_EV_ANSWER_END, "spec %s: the code above passed the check (%zu example%s) at attempt %d of %d",
              s->name, s->n_examples, s->n_examples == 1 ? "" : "s", res.attempts, SPEC_ATTEMPTS);
    } else {
        postf(r, TUI_EV_ERROR, "spec %s: no code passed after %d attempt%s; the last one failed:\n%s", s->name,
              res.attempts, res.attempts == 1 ? "" : "s", res.last_error ? res.last_error : "");
    }
done:
    spec_gen_result_free(&res);
    pin_ctx_free(&pc);
    free(query);
    flow_close(&f);
}

static void refactor_step(void *ud, refactor_step_t step, const refactor_result_t *res)
{
    flow_t *f = ud;
    if (step == REFACTOR_RETRIEVE)
        set_state(f->r, "retrieving");
    else if (step == REFACTOR_GENERATE && res->attempt > 1)
        set_state(f->r, "refactor: reply %d/%d", res->attempt, REFACTOR_ATTEMPTS);
    else if (step == REFACTOR_GENERATE)
        set_state(f->r, "refactor: asking for an edit");
}

/* A reply had no usable edit, or one that does not apply: the streamed
 * reply ends with why, and the next one follows. */
static void refactor_retry(void *ud, int attempt, int attempts, refactor_step_t step, const char *why)
{
    char line[640];
    size_t first = strcspn(why, "\n");
    snprintf(line, sizeof line, "reply %d/%d %s: %.*s; asking again", attempt, attempts,
             step == REFACTOR_EXTRACT ? "has no usable edit" : "does not apply", (int)(first < 500 ? first : 500),
             why);
    flow_end_reply(ud, line);
}

static void job_refactor(tui_runner_t *r, job_t *j)
{
    errmsg_t err = {0};
    flow_t f;
    char *rel = NULL;
    refactor_result_t res = {0};
    pin_list_t pins = {0};
    if (!r->rag) {
        postf(r, TUI_EV_ERROR, "refactor: no repository index (%s is not in a git repository)", j->dir);
        return;
    }
    if (j->path && refactor_rel_path(r->rag, j->path, &rel, &err)) {
        postf(r, TUI_EV_ERROR, "refactor: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&r->mu);
    int pc = pin_list_copy(&pins, &r->pins);
    pthread_mutex_unlock(&r->mu);
    if (pc || flow_open(r, &f, &err)) {
        postf(r, TUI_EV_ERROR, "refactor: %s", pc ? "out of memory" : err.msg);
        pin_list_free(&pins);
        free(rel);
        return;
    }
    refactor_req_t q = {
        .instruction = j->text,
        .rel = rel,
        .format = REFACTOR_BLOCKS, /* as `octet refactor` by default */
        .symbol = j->symbol,
        .repo_dir = j->dir,
        .pins = &pins,
        .force = j->force,
        .budget = f.h.n_ctx / 2 < REFACTOR_CONTEXT ? f.h.n_ctx / 2 : REFACTOR_CONTEXT,
        .count = f.count,
        .count_ud = f.count_ud,
        .attempts = REFACTOR_ATTEMPTS,
        .on_step = refactor_step,
        .on_retry = refactor_retry,
        .ud = &f,
    };
    int rc = refactor_run(r->rag, flow_llm(&f), &q, &res, &err);
    if (res.step > REFACTOR_RETRIEVE)
        post_ctx(r, &res.packed);
    if (rc == OCT_ECANCELED && res.step == REFACTOR_GENERATE) {
        flow_end_reply(&f, "stopped (Ctrl-C)");
        post_str(r, TUI_EV_NOTICE, "refactor: stopped; nothing was changed");
        goto done;
    }
    if (res.step >= REFACTOR_GENERATE && f.open) {
        char figures[160], spec[64];
        spec_figures(r->st.n_drafted, r->st.accept_rate, r->st.tok_per_pass, spec, sizeof spec);
        snprintf(figures, sizeof figures, "%u tokens, %.1f tok/s%s", r->st.n_gen, r->st.tok_s, spec);
        flow_end_reply(&f, figures);
    }
    if (rc && res.step == REFACTOR_EXTRACT)
        postf(r, TUI_EV_ERROR, "refactor: no usable edit: %s; nothing was changed", err.msg);
    else if (rc)
        postf(r, TUI_EV_ERROR, "refactor: %s; nothing was changed", err.msg);
    else {
        /* blocks that matched loosely, a rename's leftovers: one notice a line, before the diff */
        for (const char *l = res.notes; l && *l;) {
            const char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            if (n)
                post(r, TUI_EV_NOTICE, l, n);
            l = e ? e + 1 : NULL;
        }
        post_str(r, TUI_EV_PATCH, res.diff);
    }
done:
    refactor_result_free(&res);
    pin_list_free(&pins);
    free(rel);
    flow_close(&f);
}

/* ---- the worker -------------------------------------------------------------- */

static void job_free(job_t *j)
{
    if (!j)
        return;
    free(j->model);
    free(j->text);
    spec_free(j->spec);
    free(j->path);
    free(j->symbol);
    free(j->dir);
    free(j);
}

static void *worker(void *arg)
{
    tui_runner_t *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->quit && !r->jobs)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->quit) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        job_t *j = r->jobs;
        r->jobs = j->next;
        if (!r->jobs)
            r->jobs_tail = NULL;
        r->running = true;
        atomic_store(&r->cancel, 0);
        if (r->s)
            eng_cancel_clear(r->s);
        pthread_mutex_unlock(&r->mu);

        switch (j->kind) {
        case JOB_USE:
            job_use(r, j);
            break;
        case JOB_SEND:
            job_send(r, j);
            break;
        case JOB_CLEAR:
            hist_clear(r);
            break;
        case JOB_SPEC:
            job_spec(r, j);
            break;
        case JOB_REFACTOR:
            job_refactor(r, j);
            break;
        }
        job_free(j);
        pthread_mutex_lock(&r->mu);
        r->running = false;
        snprintf(r->st.state, sizeof r->st.state, "idle");
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

#define POLL_MS 500 /* the remote /metrics is read twice a second */

/* The poller thread: reads the remote engine's /metrics into the status
 * while REM_URL names one, with a remote_t of its own. */
static void *poller(void *arg)
{
    tui_runner_t *r = arg;
    remote_t *rm = NULL;
    char url[PRESET_BACKEND_MAX] = "";
    pthread_mutex_lock(&r->mu);
    while (!r->quit) {
        if (strcmp(url, r->rem_url)) {
            snprintf(url, sizeof url, "%s", r->rem_url);
            pthread_mutex_unlock(&r->mu);
            errmsg_t err = {0};
            remote_close(rm);
            rm = NULL;
            if (url[0] && remote_open(&rm, url, getenv("OCTET_API_KEY"), &err))
                rm = NULL; /* the worker reports a bad URL */
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (rm) {
            pthread_mutex_unlock(&r->mu);
            remote_metrics_t m;
            errmsg_t err = {0};
            int rc = remote_metrics(rm, &m, &err);
            pthread_mutex_lock(&r->mu);
            if (!strcmp(url, r->rem_url)) {
                r->st.metrics = rc == 0 ? TUI_RM_OK : rc == OCT_ENOTFOUND ? TUI_RM_NONE : TUI_RM_DOWN;
                if (rc == 0)
                    r->st.rm = m;
            }
            if (r->quit || strcmp(url, r->rem_url))
                continue;
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += POLL_MS * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->pcv, &r->mu, &dl);
        } else {
            pthread_cond_wait(&r->pcv, &r->mu);
        }
    }
    pthread_mutex_unlock(&r->mu);
    remote_close(rm);
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int tui_runner_new(tui_runner_t **out, const tui_runner_cfg_t *cfg, errmsg_t *err)
{
    *out = NULL;
    tui_runner_t *r = calloc(1, sizeof *r);
    if (r)
        r->mode_said = -1;
    if (!r)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    r->rag = cfg->rag;
    r->delay_ms = cfg->token_delay_ms;
    r->heal = !cfg->no_heal;
    r->speculate = !cfg->no_spec;
    r->draft_path = dup_or_null(cfg->draft_model);
    r->tmpl_name = dup_or_null(cfg->template_name);
    r->model_def = dup_or_null(cfg->models.def);
    r->model_large = dup_or_null(cfg->models.large);
    snprintf(r->st.state, sizeof r->st.state, "idle");
    if ((cfg->models.def && !r->model_def) || (cfg->models.large && !r->model_large) ||
        (cfg->draft_model && !r->draft_path) || (cfg->template_name && !r->tmpl_name)) {
        tui_runner_free(r);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->pcv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, worker, r)) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        pthread_cond_destroy(&r->pcv);
        free(r->model_def);
        free(r->model_large);
        free(r->draft_path);
        free(r->tmpl_name);
        free(r);
        return errmsg_set(err, OCT_EINTERNAL, "cannot start the worker thread");
    }
    r->started = true;
    if (pthread_create(&r->poll_thread, NULL, poller, r)) {
        tui_runner_free(r);
        return errmsg_set(err, OCT_EINTERNAL, "cannot start the metrics thread");
    }
    r->poll_started = true;
    *out = r;
    return 0;
}

void tui_runner_free(tui_runner_t *r)
{
    if (!r)
        return;
    if (r->started) {
        tui_runner_cancel(r);
        pthread_mutex_lock(&r->mu);
        r->quit = true;
        pthread_cond_broadcast(&r->cv);
        pthread_cond_broadcast(&r->pcv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        if (r->poll_started)
            pthread_join(r->poll_thread, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        pthread_cond_destroy(&r->pcv);
    }
    while (r->jobs) {
        job_t *n = r->jobs->next;
        job_free(r->jobs);
        r->jobs = n;
    }
    tui_ev_free(r->ev);
    drop_draft(r);
    free_engine(r->m, r->s, r->tmpl);
    remote_close(r->rem);
    hist_clear(r);
    free(r->hist);
    pin_list_free(&r->pins);
    free(r->model_def);
    free(r->model_large);
    free(r->draft_path);
    free(r->tmpl_name);
    free(r);
}

static int enqueue(tui_runner_t *r, job_t *j, bool only_idle)
{
    pthread_mutex_lock(&r->mu);
    if (only_idle && (r->running || r->jobs)) {
        pthread_mutex_unlock(&r->mu);
        job_free(j);
        return OCT_EINVAL;
    }
    if (r->jobs_tail)
        r->jobs_tail->next = j;
    else
        r->jobs = j;
    r->jobs_tail = j;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int tui_runner_use(tui_runner_t *r, const preset_t *p, const char *model)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return OCT_ENOMEM;
    j->kind = JOB_USE;
    j->preset = *p;
    if (model && !(j->model = strdup(model))) {
        free(j);
        return OCT_ENOMEM;
    }
    tui_runner_cancel(r);
    return enqueue(r, j, false);
}

int tui_runner_send(tui_runner_t *r, const char *text)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return OCT_ENOMEM;
    j->kind = JOB_SEND;
    if (!(j->text = strdup(text))) {
        free(j);
        return OCT_ENOMEM;
    }
    return enqueue(r, j, true);
}

int tui_runner_spec(tui_runner_t *r, spec_t *s, const char *code_dir)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        spec_free(s);
        return OCT_ENOMEM;
    }
    j->kind = JOB_SPEC;
    j->spec = s;
    if (!(j->dir = strdup(code_dir))) {
        job_free(j);
        return OCT_ENOMEM;
    }
    return enqueue(r, j, true);
}

int tui_runner_refactor(tui_runner_t *r, const char *instruction, const char *path, const char *symbol, bool force,
                        const char *repo_dir)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return OCT_ENOMEM;
    j->kind = JOB_REFACTOR;
    j->text = strdup(instruction);
    j->dir = strdup(repo_dir);
    j->path = dup_or_null(path);
    j->symbol = dup_or_null(symbol);
    j->force = force;
    if (!j->text || !j->dir || (path && !j->path) || (symbol && !j->symbol)) {
        job_free(j);
        return OCT_ENOMEM;
    }
    return enqueue(r, j, true);
}

int tui_runner_pins(tui_runner_t *r, const pin_list_t *pins)
{
    pin_list_t copy = {0};
    if (pin_list_copy(&copy, pins))
        return OCT_ENOMEM;
    pthread_mutex_lock(&r->mu);
    pin_list_t old = r->pins;
    r->pins = copy;
    pthread_mutex_unlock(&r->mu);
    pin_list_free(&old);
    return 0;
}

void tui_runner_verbose(tui_runner_t *r, bool on)
{
    pthread_mutex_lock(&r->mu);
    r->verbose = on;
    pthread_mutex_unlock(&r->mu);
}

int tui_runner_clear(tui_runner_t *r)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return OCT_ENOMEM;
    j->kind = JOB_CLEAR;
    return enqueue(r, j, false);
}

void tui_runner_cancel(tui_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->running) {
        atomic_store(&r->cancel, 1);
        if (r->s)
            eng_cancel(r->s);
    }
    pthread_mutex_unlock(&r->mu);
}

void tui_runner_status(tui_runner_t *r, tui_runner_status_t *st)
{
    pthread_mutex_lock(&r->mu);
    *st = r->st;
    st->busy = r->running || r->jobs;
    if (r->m)
        eng_memory(r->m, r->s, &st->mem);
    else
        memset(&st->mem, 0, sizeof st->mem);
    pthread_mutex_unlock(&r->mu);
}

bool tui_runner_wait_idle(tui_runner_t *r, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->running || r->jobs)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl))
            break;
    bool idle = !r->running && !r->jobs;
    pthread_mutex_unlock(&r->mu);
    return idle;
}
