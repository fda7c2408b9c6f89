/* test_runner.c - the TUI's runner (tui/runner.c) on the tiny models:
 * streaming, KV-cache reuse between turns, preset switches, cancellation,
 * /spec and /refactor run through it (clean failures on random weights,
 * the repository left unchanged, the chat going on afterwards), and pinned
 * code in every prompt (shown with verbose) until it is dropped. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preset.h"
#include "rag.h"
#include "runner.h"
#include "spec.h"
#include "test.h"
#include "test_repo.h"

#define TINY "tests/fixtures/tiny"

/* ---- the runner on a real model ------------------------------------------------------ */

typedef struct evlog {
    char text[8192];
    size_t text_len;
    char notices[8192];
    int n_end, n_err, n_loaded, n_text_events, n_patch, n_context;
    char ctx[1024]; /* the last context event: "KIND STATE path:a-b" lines */
} evlog_t;

static void collect(tui_runner_t *r, evlog_t *l)
{
    tui_ev_t *ev = tui_runner_events(r);
    for (tui_ev_t *e = ev; e; e = e->next) {
        switch (e->kind) {
        case TUI_EV_TEXT:
            l->n_text_events++;
            if (l->text_len + e->len < sizeof l->text) {
                memcpy(l->text + l->text_len, e->text, e->len);
                l->text_len += e->len;
            }
            break;
        case TUI_EV_ERROR:
            l->n_err++;
            /* fall through */
        case TUI_EV_NOTICE:
        case TUI_EV_ANSWER_END: {
            size_t o = strlen(l->notices);
            snprintf(l->notices + o, sizeof l->notices - o, "%s\n", e->text);
            l->n_end += e->kind == TUI_EV_ANSWER_END;
            break;
        }
        case TUI_EV_LOADED:
            l->n_loaded++;
            break;
        case TUI_EV_CONTEXT:
            l->n_context++;
            l->ctx[0] = '\0';
            for (size_t i = 0; e->ctx && i < e->ctx->n; i++) {
                const pin_item_t *it = &e->ctx->items[i];
                size_t o = strlen(l->ctx);
                snprintf(l->ctx + o, sizeof l->ctx - o, "%d %d %s:%d-%d\n", it->kind, it->state, it->path, it->start,
                         it->end);
            }
            break;
        case TUI_EV_PATCH:
            l->n_patch++;
            break;
        }
    }
    tui_ev_free(ev);
}

static void tiny_preset(preset_t *p, const char *name, uint32_t ctx)
{
    preset_defaults(p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->model, sizeof p->model, "default");
    snprintf(p->backend, sizeof p->backend, "cpu");
    snprintf(p->system, sizeof p->system, "Be brief.");
    p->ctx = ctx;
    p->threads = 2;
    p->max_new_tokens = 24;
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->seed = 7;
}

/* A runner on the shipped model, greedy, MAX_NEW tokens an answer, its
 * start-up events drained; NULL on failure (checked). */
static tui_runner_t *greedy_runner(bool no_spec, int max_new, const char *tmpl)
{
    tui_runner_t *r = NULL;
    errmsg_t err = {0};
    tui_runner_cfg_t cfg = {NULL, {"models/octet-code.gguf", NULL}, 0, false, no_spec, NULL, tmpl};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r)
        return NULL;
    preset_t p;
    tiny_preset(&p, "greedy", 1024);
    p.temperature = 0;
    p.max_new_tokens = max_new;
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    evlog_t log;
    memset(&log, 0, sizeof log);
    collect(r, &log);
    return r;
}

static void test_runner(void)
{
    tui_runner_t *r = NULL;
    errmsg_t err = {0};
    tui_runner_cfg_t cfg = {NULL, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 0, false, false, NULL, NULL};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r)
        return;
    evlog_t log;
    memset(&log, 0, sizeof log);
    preset_t p;
    tiny_preset(&p, "t1", 32768);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "larger than the model's training context: using 256"), "%s", log.notices);
    CHECKF(strstr(log.notices, "loaded llama_rope_linear_q8_0 with preset t1"), "%s", log.notices);
    tui_runner_status_t st;
    tui_runner_status(r, &st);
    CHECK(st.loaded);
    CHECK_EQ_INT(st.n_ctx, 256);
    CHECK_EQ_STR(st.preset, "t1");
    CHECK_EQ_STR(st.model, "llama_rope_linear_q8_0");
    CHECK(!st.gpu);
    CHECK(st.mem.weights > 0 && st.mem.kv > 0 && st.mem.scratch > 0);

    /* a first turn streams text and ends with its figures */
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_end, 1);
    CHECK_EQ_INT(log.n_err, 0);
    tui_runner_status(r, &st);
    CHECK(st.n_gen > 0 && st.n_gen <= 24);
    CHECK(st.pos > 0);
    CHECK_EQ_INT(st.reused, 0);
    /* the second turn reuses the first from the KV cache */
    CHECK(tui_runner_send(r, "more") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_end, 2);
    tui_runner_status(r, &st);
    CHECKF(st.reused > 10, "reused %u", st.reused);
    uint32_t pos = st.pos;

    /* same model and weights, same (clamped) context: everything kept */
    preset_t p2;
    tiny_preset(&p2, "t2", 16384);
    CHECK(tui_runner_use(r, &p2, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "preset t2: weights and KV cache kept"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK_EQ_INT(st.pos, pos);
    CHECK_EQ_STR(st.preset, "t2");

    /* a smaller context: the weights stay, a new KV cache, the conversation fed again */
    preset_t p3;
    tiny_preset(&p3, "t3", 200);
    CHECK(tui_runner_use(r, &p3, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "context 200"), "%s", log.notices);
    CHECKF(strstr(log.notices, "weights kept, KV cache reallocated"), "%s", log.notices);
    CHECKF(strstr(log.notices, "conversation kept"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK_EQ_INT(st.n_ctx, 200);
    CHECK(st.pos > 0);
    /* and the next turn reuses what was fed again */
    CHECK(tui_runner_send(r, "again") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    tui_runner_status(r, &st);
    CHECKF(st.reused > 10, "reused %u", st.reused);
    collect(r, &log);
    CHECK_EQ_INT(log.n_err, 0);

    /* /clear: the conversation is forgotten (the notices of the turns before do not count) */
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_clear(r) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    CHECK(tui_runner_send(r, "x") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK(!strstr(log.notices, "older messages left out"));
    tui_runner_free(r);

    /* no model configured */
    tui_runner_cfg_t none = {NULL, {NULL, NULL}, 0, false, false, NULL, NULL};
    CHECK(tui_runner_new(&r, &none, &err) == 0);
    if (!r)
        return;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "no model configured: start octet with -m FILE.gguf"), "%s", log.notices);
    CHECKF(strstr(log.notices, "no model loaded"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK(!st.loaded);
    CHECK_EQ_STR(st.preset, "t1");
    /* /model loads one */
    CHECK(tui_runner_use(r, &p, TINY "/qwen2_gqa_f32.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    tui_runner_status(r, &st);
    CHECK(st.loaded);
    CHECK_EQ_STR(st.model, "qwen2_gqa_f32");
    /* a file that does not exist keeps nothing loaded and says why */
    CHECK(tui_runner_use(r, &p, TINY "/nope.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "nope.gguf: cannot open the model"), "%s", log.notices);
    tui_runner_free(r);
}

static void test_runner_cancel(void)
{
    tui_runner_t *r = NULL;
    errmsg_t err = {0};
    /* 20 ms after each token: an answer of 200 tokens takes 4 s unless stopped */
    tui_runner_cfg_t cfg = {NULL, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 20, false, false, NULL, NULL};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r)
        return;
    preset_t p;
    tiny_preset(&p, "t", 256);
    p.max_new_tokens = 200;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    bool stopped = false;
    /* random weights may end an answer early: try a few times */
    for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
        CHECK(tui_runner_send(r, "go") == 0);
        tui_runner_status_t st;
        for (int i = 0; i < 400; i++) {
            tui_runner_status(r, &st);
            if ((st.generating && st.n_gen >= 2) || !st.busy)
                break;
            usleep(5000);
        }
        tui_runner_cancel(r);
        CHECK(tui_runner_wait_idle(r, 5000)); /* stops within a token, not after 200 */
        memset(&log, 0, sizeof log);
        collect(r, &log);
        stopped = strstr(log.notices, "stopped (Ctrl-C)") != NULL;
    }
    CHECKF(stopped, "%s", log.notices);
    /* the runner goes on working after a stop */
    CHECK(tui_runner_send(r, "next") == 0);
    tui_runner_status_t st;
    for (int i = 0; i < 400; i++) {
        tui_runner_status(r, &st);
        if (st.generating)
            break;
        usleep(5000);
    }
    tui_runner_free(r); /* stops the answer and joins */
}

static const char ADD_C[] = "int add(int a, int b)\n{\n    return a + b;\n}\n";

static void repo_new(void)
{
    repo_dir("tui");
    put("add.c", ADD_C);
    put("greet.py", "def greet(name):\n    return 'hi ' + name\n");
    repo_commit();
}

/* /spec and /refactor on the runner with a tiny random model: they fail
 * cleanly, change nothing, and the chat goes on afterwards. */
static void test_runner_flows(void)
{
    repo_new();
    rag_t *rg = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&rg, &ro, &err) == 0 && rag_update(rg, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    tui_runner_t *r = NULL;
    /* tokens slowed down so that the chat answer below is still running when
     * the workflow is asked for */
    tui_runner_cfg_t cfg = {rg, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 20, false, false, NULL, NULL};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r || !rg) {
        tui_runner_free(r);
        rag_close(rg);
        return;
    }
    preset_t p;
    tiny_preset(&p, "t", 256);
    p.retrieval = true;
    p.top_k = 2;
    p.token_budget = 60;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);

    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK_EQ_INT(tui_runner_refactor(r, "again", NULL, NULL, false, g_repo), OCT_EINVAL); /* busy */
    tui_runner_cancel(r);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK(tui_runner_clear(r) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);

    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "swap the operands of add", NULL, NULL, false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_patch, 0);
    CHECK_EQ_INT(log.n_err, 1);
    CHECKF(strstr(log.notices, "refactor: ") && strstr(log.notices, "nothing was changed"), "%s", log.notices);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    CHECK(sh("cd '%s' && test -z \"$(git status --porcelain --untracked-files=no)\"", g_repo) == 0);

    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "rename", NULL, "nope", false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 1 && strstr(log.notices, "the symbol 'nope' is not defined"), "%s", log.notices);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "x", "/etc/hostname", NULL, false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 1 && strstr(log.notices, "not a file inside the repository"), "%s", log.notices);

    /* a spec's prompt does not fit the tiny models' 256 tokens: the embedded
     * model, on examples without a rule, so that it fails */
    preset_t p2 = p;
    p2.ctx = 1024;
    snprintf(p2.name, sizeof p2.name, "t2");
    CHECK(tui_runner_use(r, &p2, "models/octet-code.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    memset(&log, 0, sizeof log);
    collect(r, &log);
    CHECKF(strstr(log.notices, "loaded octet"), "%s", log.notices);
    /* a target with someone else's uncommitted change: refused before the model is asked */
    put("add.c", "int add(int a, int b)\n{\n    return a + b; /* the user's edit */\n}\n");
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "swap the operands of add", NULL, "add", false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 1 && strstr(log.notices, "add.c has uncommitted changes") && strstr(log.notices, "--force"),
           "%s", log.notices);
    CHECKF(log.text_len == 0, "the model was asked: %zu bytes of reply", log.text_len);
    put("add.c", ADD_C);
    /* the model writes a reply, with no diff that applies in it */
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "swap the operands of add", NULL, "add", false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_patch, 0);
    CHECK_EQ_INT(log.n_err, 1);
    CHECK(log.text_len > 0);
    CHECKF(strstr(log.notices, "refactor: ") && strstr(log.notices, "nothing was changed"), "%s", log.notices);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    static const char SPEC[] = "{\"language\": \"python\", \"name\": \"mystery\", \"description\": \"a number\","
                               " \"inputs\": [{\"name\": \"n\", \"type\": \"int\"}], \"output\": \"int\", "
                               "\"examples\": [{\"input\": [1], \"output\": 7}, {\"input\": [2], \"output\": -3},"
                               " {\"input\": [3], \"output\": 40}]}";
    spec_t *s = NULL;
    CHECK(spec_parse(&s, SPEC, strlen(SPEC), "t.json", &err) == 0);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_spec(r, s, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 60000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "attempt 1/3 failed: ") && strstr(log.notices, "attempt 3/3 failed: "), "%s",
           log.notices);
    CHECKF(log.n_err == 1 && strstr(log.notices, "spec mystery: no code passed after 3 attempts; the last one failed:"),
           "%s", log.notices);
    CHECK(log.n_context == 1); /* the preset retrieves: the chunks for the spec */

    /* the chat has its KV cache back */
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_err, 0);
    CHECK_EQ_INT(log.n_end, 1);
    tui_runner_status_t st;
    tui_runner_status(r, &st);
    CHECK(st.loaded && st.n_ctx == 1024 && st.pos > 0 && !st.generating);
    tui_runner_free(r);
    rag_close(rg);
    sh("rm -rf '%s'", g_repo);
}

/* Pinned code on the runner: in the system message of every chat turn
 * (shown with verbose) until the pins are dropped, listed first in the
 * context event; /refactor sends the pins after its target and posts what
 * it sent. */
static void test_runner_pins(void)
{
    repo_new();
    put("pinned.c", "int pinned_marker_4711 = 1;\n");
    rag_t *rg = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&rg, &ro, &err) == 0 && rag_update(rg, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    tui_runner_t *r = NULL;
    tui_runner_cfg_t cfg = {rg, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 0, false, false, NULL, NULL};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r || !rg) {
        tui_runner_free(r);
        rag_close(rg);
        return;
    }
    preset_t p;
    tiny_preset(&p, "t", 256);
    p.retrieval = true;
    p.top_k = 2;
    p.token_budget = 60;
    p.max_new_tokens = 4;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);

    pin_list_t pins = {0};
    CHECK(pin_add(&pins, "pinned.c", g_repo, g_repo, rg, NULL, &err) == 0);
    CHECK(tui_runner_pins(r, &pins) == 0);
    tui_runner_verbose(r, true);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_send(r, "what does add do") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(log.n_err == 0 && strstr(log.notices, "prompt (verbose), ") &&
               strstr(log.notices, "Code the user pinned (path:first-last") &&
               strstr(log.notices, "int pinned_marker_4711 = 1;"),
           "%s", log.notices);
    CHECKF(strstr(log.notices, "context: 1 pinned"), "%s", log.notices);
    CHECKF(!strncmp(log.ctx, "0 0 pinned.c:1-1\n", 17), "%s", log.ctx);

    /* dropped: the next prompt has no pinned code */
    pin_list_free(&pins);
    CHECK(tui_runner_pins(r, &pins) == 0);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_clear(r) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    CHECK(tui_runner_send(r, "and now") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "prompt (verbose), ") && !strstr(log.notices, "pinned_marker"), "%s", log.notices);
    CHECKF(!strstr(log.ctx, "pinned.c"), "%s", log.ctx);

    /* /refactor: its target, then the pins; the context event lists them */
    CHECK(pin_add(&pins, "pinned.c", g_repo, g_repo, rg, NULL, &err) == 0);
    CHECK(tui_runner_pins(r, &pins) == 0);
    tui_runner_verbose(r, false);
    memset(&log, 0, sizeof log);
    char target[300];
    snprintf(target, sizeof target, "%s/add.c", g_repo);
    CHECK(tui_runner_refactor(r, "swap the operands", target, NULL, false, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_context, 1);
    CHECKF(!strncmp(log.ctx, "1 0 add.c:1-4\n0 0 pinned.c:1-1\n", 31), "%s", log.ctx);
    CHECKF(!strstr(log.notices, "prompt (verbose)"), "%s", log.notices);
    pin_list_free(&pins);
    tui_runner_free(r);
    rag_close(rg);
    sh("rm -rf '%s'", g_repo);
}

/* Answers on the shipped model are speculative by default (prompt lookup:
 * the answer quotes the code of the question) and the same, token for
 * token, as with octet --no-spec; the figures reach the status bar. */
static void test_runner_speculation(void)
{
    /* the embedded model in completion mode (--template none): each text
     * continued on its own; both start with the same function (the second
     * reuses it from the KV cache) and ask for a near copy of it (what
     * lookup drafts) */
#define FN "def total_price(items, tax_rate):\n    subtotal = 0\n    for item in items:\n" \
           "        subtotal += item.price * item.quantity\n    tax = subtotal * tax_rate\n" \
           "    return subtotal + tax\n"
    static const char *const turns[] = {
        FN "\n\ndef total_with_discount(items, tax_rate, discount):\n    subtotal = 0\n",
        FN "\n\ndef order_total(items, tax_rate):\n    subtotal = 0\n",
    };
#undef FN
    char answers[2][2][4096];
    tui_runner_status_t st[2];
    for (int spec = 0; spec < 2; spec++) {
        tui_runner_t *r = greedy_runner(spec == 0, 96, "none");
        if (!r)
            return;
        evlog_t log;
        for (int t = 0; t < 2; t++) {
            memset(&log, 0, sizeof log);
            CHECK(tui_runner_send(r, turns[t]) == 0);
            CHECK(tui_runner_wait_idle(r, 30000));
            collect(r, &log);
            CHECKF(log.n_err == 0 && log.n_end == 1 && log.text_len > 0, "%s", log.notices);
            snprintf(answers[spec][t], sizeof answers[spec][t], "%.*s", (int)log.text_len, log.text);
            tui_runner_status(r, &st[spec]);
            if (spec == 1)
                CHECKF(strstr(log.notices, "; speculation ") && strstr(log.notices, "% accepted, "), "%s",
                       log.notices);
            else
                CHECKF(!strstr(log.notices, "speculation"), "%s", log.notices);
        }
        tui_runner_free(r);
    }
    /* the second turn reused the first from the KV cache, and drafts were accepted */
    CHECKF(st[1].reused > 50, "reused %u", st[1].reused);
    CHECKF(st[1].n_drafted > 0 && st[1].accept_rate > 0 && st[1].tok_per_pass > 1.0,
           "%u drafted, %.2f accepted, %.2f tokens/pass", st[1].n_drafted, st[1].accept_rate, st[1].tok_per_pass);
    CHECK_EQ_INT(st[0].n_drafted, 0);
    for (int t = 0; t < 2; t++)
        CHECKF(!strcmp(answers[0][t], answers[1][t]), "turn %d: plain '%s' vs speculative '%s'", t, answers[0][t],
               answers[1][t]);
}

/* Completion mode stops where the block the user began ends (flows/cont.h):
 * nothing after the closing brace is shown, and the figures say why. */
static void test_runner_unit_end(void)
{
    /* the shipped model chats; --template none puts it in completion mode */
    tui_runner_t *r = greedy_runner(false, 200, "none");
    if (!r)
        return;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_send(r, "int max(int a, int b) {") == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 0 && log.n_end == 1, "%s", log.notices);
    CHECKF(strstr(log.notices, "; stopped at the end of the block you began (its closing brace)"), "%s", log.notices);
    CHECKF(log.text_len > 0 && log.text[log.text_len - 1] == '}', "[%.*s]", (int)log.text_len, log.text);
    int depth = 1;
    for (size_t i = 0; i < log.text_len; i++)
        depth += log.text[i] == '{' ? 1 : log.text[i] == '}' ? -1 : 0;
    CHECKF(depth == 0, "[%.*s]", (int)log.text_len, log.text);
    tui_runner_free(r);
}

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_runner);
    TEST_RUN(test_runner_cancel);
    TEST_RUN(test_runner_flows);
    TEST_RUN(test_runner_pins);
    TEST_RUN(test_runner_speculation);
    TEST_RUN(test_runner_unit_end);
    TEST_END();
}
