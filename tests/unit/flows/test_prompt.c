/* test_prompt.c - prompt assembly (flows/prompt.c) on real tokenizers and
 * chat templates: the conversation as a prefix of the next prompt, the
 * oldest exchanges left out to fit the budget, one BOS, and retrieved
 * context before the question. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "prompt.h"
#include "test.h"
#include "tokenizer.h"

#define TINY "tests/fixtures/tiny"

/* ---- prompts --------------------------------------------------------------------- */

typedef struct tiny {
    gguf_t *g;
    tok_t *tok;
    chat_tmpl_t *tmpl;
} tiny_t;

static bool tiny_open(tiny_t *t, const char *name)
{
    char path[256];
    errmsg_t err = {0};
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, TINY "/%s.gguf", name);
    if (gguf_open(&t->g, path, &err) || tok_load(&t->tok, t->g, &err) ||
        chat_tmpl_from_gguf(&t->tmpl, t->g, NULL, &err)) {
        CHECKF(0, "%s: %s", path, err.msg);
        return false;
    }
    return true;
}

static void tiny_close(tiny_t *t)
{
    chat_tmpl_free(t->tmpl);
    tok_free(t->tok);
    gguf_close(t->g);
}

static void test_prompt(void)
{
    static const char *const names[] = {"qwen2_gqa_f32", "llama_gqa_f16"};
    for (size_t m = 0; m < 2; m++) {
        tiny_t t;
        if (!tiny_open(&t, names[m]))
            continue;
        prompt_msg_t hist[4] = {{CHAT_ROLE_USER, "first question"},
                             {CHAT_ROLE_ASSISTANT, "first answer"},
                             {CHAT_ROLE_USER, "second question"},
                             {CHAT_ROLE_ASSISTANT, "second answer"}};
        errmsg_t err = {0};
        int32_t *a = NULL, *b = NULL, *c = NULL;
        size_t na = 0, nb = 0, nc = 0, dropped = 9;
        /* the conversation alone is a prefix of the conversation plus a new message */
        prompt_req_t ra = {t.tmpl, t.tok, "Be brief.", hist, 4, NULL, 100000};
        prompt_req_t rb = {t.tmpl, t.tok, "Be brief.", hist, 4, "third", 100000};
        CHECK(prompt_build(&ra, &a, &na, &dropped, &err) == 0);
        CHECK_EQ_INT(dropped, 0);
        CHECK(prompt_build(&rb, &b, &nb, NULL, &err) == 0);
        CHECK(nb > na);
        CHECKF(prompt_common_prefix(a, na, b, nb) == na, "%s: prefix %zu of %zu", names[m],
               prompt_common_prefix(a, na, b, nb), na);
        /* a small budget leaves out the oldest exchange first */
        prompt_req_t rc = rb;
        rc.budget = nb - 1;
        CHECK(prompt_build(&rc, &c, &nc, &dropped, &err) == 0);
        CHECK_EQ_INT(dropped, 2);
        CHECK(nc <= nb - 1);
        free(c);
        c = NULL;
        /* too small for the message itself: an error that says so */
        rc.budget = 5;
        CHECK(prompt_build(&rc, &c, &nc, &dropped, &err) == OCT_EINVAL);
        CHECK(c == NULL);
        CHECKF(strstr(err.msg, "room for 5") != NULL, "%s", err.msg);
        /* the BOS is written once */
        int32_t bos = tok_bos(t.tok);
        if (bos >= 0 && nb > 1)
            CHECK(!(b[0] == bos && b[1] == bos));
        free(a);
        free(b);
        tiny_close(&t);
    }
    int32_t x[] = {1, 2, 3, 4}, y[] = {1, 2, 9};
    CHECK_EQ_INT(prompt_common_prefix(x, 4, y, 3), 2);
    CHECK_EQ_INT(prompt_common_prefix(x, 4, x, 2), 2);
    CHECK_EQ_INT(prompt_common_prefix(x, 0, y, 3), 0);
    char *u = prompt_user("why?", "a.c:1-2\n```c\nx\n```\n");
    CHECK(u && strstr(u, "a.c:1-2") && strstr(u, "why?") && strstr(u, "a.c") < strstr(u, "why?"));
    free(u);
    char *sys = prompt_system("Be brief.", "a.c:1-2\n```c\nx\n```\n");
    CHECKF(sys && !strncmp(sys, "Be brief.\n\nCode the user pinned", 31) && strstr(sys, "a.c:1-2\n```c\nx"), "%s", sys);
    free(sys);
    sys = prompt_system("Be brief.", "");
    CHECK_EQ_STR(sys, "Be brief.");
    free(sys);
    u = prompt_user("why?", "");
    CHECK_EQ_STR(u, "why?");
    free(u);
    /* completion mode: the code first, then the text exactly as typed (no
     * instruction around it, its trailing newline kept for token healing) */
    u = prompt_completion("def fib(n):\n", "a.py:1-2\n```python\nx = 1\n```\n");
    CHECK_EQ_STR(u, "a.py:1-2\n```python\nx = 1\n```\n\n\ndef fib(n):\n");
    free(u);
    u = prompt_completion("int main(", NULL);
    CHECK_EQ_STR(u, "int main(");
    free(u);
}

int main(void)
{
    TEST_RUN(test_prompt);
    TEST_END();
}
