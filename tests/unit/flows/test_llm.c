/* test_llm.c - the workflows' model on the local engine (flows/llm.c):
 * llm_open on a tiny model (its context, its token counter, plain
 * completion or chat by template), a reply streamed piece by piece and
 * stopped by the DONE test, and the errors of a missing model and an
 * unknown template; on the shipped model, replies healed and speculative by
 * default, the same text with speculation off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "llm.h"
#include "test.h"

#define TINY "tests/fixtures/tiny/llama_rope_linear_q8_0.gguf"
#define SHIPPED "models/octet-code.gguf"

typedef struct seen {
    char text[4096];
    size_t len;
    int pieces;
} seen_t;

static void on_text(void *ud, const char *piece, size_t len)
{
    seen_t *s = ud;
    if (s->len + len < sizeof s->text) {
        memcpy(s->text + s->len, piece, len);
        s->len += len;
    }
    s->pieces++;
}

static bool after_three(const char *reply, void *ud)
{
    (void)reply;
    return ++*(int *)ud >= 3;
}

static void test_llm_open(void)
{
    eng_model_t *m = NULL;
    eng_opts_t o;
    errmsg_t err = {0};
    eng_opts_default(&o);
    o.n_ctx = 128;
    o.backend = "cpu";
    if (eng_open(&m, TINY, &o, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    llm_conf_t c = {.engine = m, .tmpl_name = "none", .temp = 1.0, .n_predict = 16};
    sample_params_default(&c.sp);
    c.sp.seed = 5;
    llm_handle_t h;
    CHECKF(llm_open(&h, &c, &err) == 0, "%s", err.msg);
    CHECK(!h.llm.chat);
    CHECK_EQ_INT(h.n_ctx, 128);
    CHECK(h.count != NULL && h.count("int add(int a, int b)", 21, h.count_ud) > 0);
    seen_t seen = {0};
    llm_stream(&h, on_text, &seen);
    char *a = NULL, *b = NULL;
    int calls = 0;
    CHECKF(h.llm.generate(h.llm.ud, NULL, 0, "int add(", after_three, &calls, &a, &err) == 0, "%s", err.msg);
    /* stopped by DONE after the third token unless the model ended sooner */
    CHECK(calls <= 3 && seen.pieces <= 3);
    CHECK(a && strlen(a) == seen.len && !memcmp(a, seen.text, seen.len));
    /* without DONE: up to n_predict tokens */
    CHECK(h.llm.generate(h.llm.ud, NULL, 0, "int add(", NULL, NULL, &b, &err) == 0);
    CHECK(b != NULL);
    free(a);
    free(b);
    llm_close(&h);
    CHECK(h.el.session == NULL);
    /* the model's own template: chat, one message in, a reply out */
    c.tmpl_name = NULL;
    CHECKF(llm_open(&h, &c, &err) == 0, "%s", err.msg);
    CHECK(h.llm.chat);
    chat_msg_t msg = {CHAT_ROLE_USER, "hello"};
    char *r = NULL;
    CHECKF(h.llm.generate(h.llm.ud, &msg, 1, NULL, NULL, NULL, &r, &err) == 0, "%s", err.msg);
    CHECK(r != NULL);
    free(r);
    llm_close(&h);
    /* a template name it does not know */
    c.tmpl_name = "no-such-template";
    CHECK(llm_open(&h, &c, &err) != 0);
    CHECKF(strstr(err.msg, "unknown chat template 'no-such-template'"), "%s", err.msg);
    llm_close(&h);
    /* nothing to open */
    llm_conf_t none = {0};
    CHECK_EQ_INT(llm_open(&h, &none, &err), OCT_EINVAL);
    llm_close(&h);
    eng_close(m);
}

/* An edit copies its input: a function and the start of its renamed copy. */
static const char EDIT[] = "def total_price(items, tax_rate):\n"
                           "    subtotal = 0\n"
                           "    for item in items:\n"
                           "        subtotal += item.price * item.quantity\n"
                           "    tax = subtotal * tax_rate\n"
                           "    return subtotal + tax\n"
                           "\n"
                           "\n"
                           "# the same function, renamed to order_total\n"
                           "def order_total(items, tax_rate):\n";

static void test_llm_heal_spec(void)
{
    eng_model_t *m = NULL;
    eng_opts_t o;
    errmsg_t err = {0};
    eng_opts_default(&o);
    o.n_ctx = 512;
    o.backend = "cpu";
    if (eng_open(&m, SHIPPED, &o, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    llm_conf_t c = {.engine = m, .tmpl_name = "none", .n_predict = 64};
    sample_params_default(&c.sp);
    c.sp.temp = 0;
    llm_handle_t h;
    if (llm_open(&h, &c, &err)) {
        CHECKF(0, "%s", err.msg);
        eng_close(m);
        return;
    }
    CHECK(h.el.heal && h.el.speculate);
    char *spec = NULL, *plain = NULL, *healed = NULL;
    CHECKF(h.llm.generate(h.llm.ud, NULL, 0, EDIT, NULL, NULL, &spec, &err) == 0, "%s", err.msg);
    llm_stats_t st = h.el.reply;
    /* the copy is drafted by prompt lookup and accepted */
    CHECKF(st.n_drafted > 0 && st.n_accepted >= 10, "%zu of %zu drafts accepted", st.n_accepted, st.n_drafted);
    CHECKF(st.n_passes < st.n_tokens, "%zu passes for %zu tokens", st.n_passes, st.n_tokens);
    CHECK(llm_stats_tok_per_pass(&st) > 1.0 && llm_stats_accept_rate(&st) > 0.0);
    h.el.speculate = false;
    CHECKF(h.llm.generate(h.llm.ud, NULL, 0, EDIT, NULL, NULL, &plain, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(h.el.reply.n_drafted, 0);
    CHECK_EQ_INT(h.el.reply.n_passes, h.el.reply.n_tokens);
    CHECKF(spec && plain && !strcmp(spec, plain), "speculative '%s' vs plain '%s'", spec ? spec : "",
           plain ? plain : "");
    CHECK_EQ_INT(h.el.total.n_tokens, st.n_tokens + h.el.reply.n_tokens);
    /* healing: "import o" ends in " o", which the model never saw before "s" */
    CHECKF(h.llm.generate(h.llm.ud, NULL, 0, "import o", NULL, NULL, &healed, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(h.el.reply.n_healed, 1);
    CHECKF(healed && healed[0] == 's', "'%s'", healed ? healed : "");
    free(spec);
    free(plain);
    free(healed);
    llm_close(&h);
    eng_close(m);
}

int main(void)
{
    TEST_RUN(test_llm_open);
    TEST_RUN(test_llm_heal_spec);
    TEST_END();
}
