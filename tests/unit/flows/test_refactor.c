/* test_refactor.c - refactoring (flows/refactor.c): when a reply is
 * complete, the diff taken (and repaired) from it, the prompts, the
 * retrieval of the target file or symbol on a real git repository, and
 * refactor_run end to end with scripted replies: the checked patch, each
 * failing step reported, nothing changed on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "rag.h"
#include "refactor.h"
#include "test.h"
#include "test_repo.h"

static const char ADD_C[] = "int add(int a, int b)\n{\n    return a + b;\n}\n";
static const char SWAP_DIFF[] = "diff --git a/add.c b/add.c\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n"
                                " int add(int a, int b)\n {\n-    return a + b;\n+    return b + a;\n }\n";

static void repo_new(void)
{
    repo_dir("tui");
    put("add.c", ADD_C);
    put("greet.py", "def greet(name):\n    return 'hi ' + name\n");
    repo_commit();
}

static void test_refactor_steps(void)
{
    bool chat = false, completion = true;
    CHECK(!refactor_reply_done("Here it is:\n```diff\n-a\n+b\n", &chat));
    CHECK(refactor_reply_done("Here it is:\n```diff\n-a\n+b\n```\nDone.", &chat));
    CHECK(!refactor_reply_done("-a\n+b\n", &completion));
    CHECK(refactor_reply_done("-a\n+b\n```", &completion));
    char *diff = NULL;
    errmsg_t err = {0};
    CHECK_EQ_INT(refactor_reply_diff("I would rather not.", false, NULL, &diff, &err), OCT_ENOTFOUND);
    CHECK(diff == NULL);
    /* a reply with wrong hunk counts and no diff --git line is repaired */
    CHECK(refactor_reply_diff("Sure.\n```diff\n--- a/add.c\n+++ b/add.c\n@@ -1,9 +1,9 @@\n int add(int a, int b)\n {\n"
                              "-    return a + b;\n+    return b + a;\n }\n```\n",
                              false, NULL, &diff, &err) == 0);
    CHECKF(diff && strstr(diff, "diff --git a/add.c b/add.c") && strstr(diff, "@@ -1,4 +1,4 @@"), "%s", diff);
    free(diff);
    /* a completion continues the prompt's ```diff block */
    CHECK(refactor_reply_diff(SWAP_DIFF, true, NULL, &diff, &err) == 0);
    free(diff);
    chat_msg_t msgs[2];
    char *prompt = NULL;
    CHECK(refactor_prompt("swap", "add.c", NULL, "add.c:1-4\n", true, msgs, &prompt, &err) == 0);
    CHECK(msgs[0].role == CHAT_ROLE_SYSTEM && strstr(msgs[0].content, "```diff"));
    CHECK(msgs[1].content == prompt && strstr(prompt, "Instruction: swap") && strstr(prompt, "the file add.c"));
    free(prompt);
    CHECK(refactor_prompt("swap", NULL, "add", "", false, msgs, &prompt, &err) == 0);
    CHECK(strstr(prompt, "Target: add,") && strstr(prompt, "```diff\n"));
    free(prompt);

    /* retrieval: the target file first, a symbol's definition, an unknown symbol */
    repo_new();
    rag_t *r = NULL;
    rag_options_t ro = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&r, &ro, &err) == 0 && rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    char *rel = NULL, *bad = NULL, full[300];
    pin_ctx_t ctx;
    snprintf(full, sizeof full, "%s/add.c", g_repo);
    CHECK(refactor_rel_path(r, full, &rel, &err) == 0);
    CHECK_EQ_STR(rel, "add.c");
    CHECK_EQ_INT(refactor_rel_path(r, "/etc/hostname", &bad, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "not a file inside the repository"), "%s", err.msg);
    CHECK(refactor_context(r, "swap the operands", rel, NULL, NULL, 400, rag_estimate_tokens, NULL, &ctx, &err) == 0);
    CHECKF(ctx.text && !strncmp(ctx.text, "add.c:1-4\n```c\nint add", 22), "%s", ctx.text);
    CHECK(ctx.n >= 1 && ctx.items[0].kind == PIN_KIND_TARGET && ctx.items[0].state == PIN_SENT);
    pin_ctx_free(&ctx);
    CHECK(refactor_context(r, "rename", NULL, "greet", NULL, 400, rag_estimate_tokens, NULL, &ctx, &err) == 0);
    CHECKF(ctx.text && strstr(ctx.text, "greet.py:1-2"), "%s", ctx.text);
    pin_ctx_free(&ctx);
    /* pinned code comes after the target, before the retrieved chunks, which leave out what it holds */
    pin_list_t pins = {0};
    CHECK(pin_add(&pins, "greet.py", g_repo, g_repo, r, NULL, &err) == 0);
    CHECK(refactor_context(r, "rename", NULL, "greet", &pins, 400, rag_estimate_tokens, NULL, &ctx, &err) == 0);
    CHECKF(ctx.text && !strncmp(ctx.text, "greet.py:1-2\n```python\n", 23) && !strstr(ctx.text + 5, "greet.py:"), "%s",
           ctx.text);
    pin_ctx_free(&ctx);
    pin_list_free(&pins);
    CHECK_EQ_INT(refactor_context(r, "rename", NULL, "nope", NULL, 400, rag_estimate_tokens, NULL, &ctx, &err),
                 OCT_ENOTFOUND);
    CHECKF(strstr(err.msg, "'nope' is not defined"), "%s", err.msg);
    free(rel);
    rag_close(r);
}

/* A model that answers with a fixed reply and remembers what it was asked. */
typedef struct scripted {
    const char *reply;
    int calls;
    char prompt[4096];
} scripted_t;

static int scripted(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                    bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply, errmsg_t *err)
{
    scripted_t *sc = ud;
    (void)prompt;
    sc->calls++;
    snprintf(sc->prompt, sizeof sc->prompt, "%s", n == 2 ? msgs[1].content : "");
    if (!sc->reply)
        return errmsg_set(err, OCT_ECANCELED, "stopped");
    CHECK(done != NULL && done_ud != NULL); /* the reply may stop at its diff block */
    *reply = strdup(sc->reply);
    return 0;
}

typedef struct steps {
    int n;
    refactor_step_t seen[8];
    bool context_at_prompt;
} steps_t;

static void on_step(void *ud, refactor_step_t step, const refactor_result_t *res)
{
    steps_t *st = ud;
    if (st->n < 8)
        st->seen[st->n++] = step;
    if (step == REFACTOR_PROMPT)
        st->context_at_prompt = res->context != NULL;
}

static void test_refactor_run(void)
{
    repo_new();
    rag_t *r = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&r, &ro, &err) == 0 && rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    if (!r)
        return;
    char full[300], *rel = NULL;
    snprintf(full, sizeof full, "%s/add.c", g_repo);
    CHECK(refactor_rel_path(r, full, &rel, &err) == 0);
    char reply[1024];
    /* as models write it: --- and +++ without the diff --git line */
    snprintf(reply, sizeof reply, "Here:\n```diff\n%s```\n", strstr(SWAP_DIFF, "--- a/"));
    scripted_t sc = {reply, 0, ""};
    llm_t llm = {true, scripted, &sc};
    steps_t st = {0};
    refactor_req_t q = {.instruction = "swap the operands", .rel = rel, .repo_dir = g_repo, .budget = 400,
                        .on_step = on_step, .ud = &st};
    refactor_result_t res;
    /* the whole run: a checked patch, every step announced in order */
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(res.step, REFACTOR_DONE);
    CHECK(res.patch != NULL && res.diff && strstr(res.diff, "+    return b + a;"));
    CHECK(res.context && !strncmp(res.context, "add.c:1-4", 9));
    CHECK(strstr(sc.prompt, "Instruction: swap the operands") && strstr(sc.prompt, "add.c:1-4"));
    CHECK_EQ_INT(st.n, 6);
    for (int i = 0; i < st.n; i++)
        CHECK_EQ_INT(st.seen[i], i);
    CHECK(st.context_at_prompt);
    CHECK_EQ_STR(get("add.c"), ADD_C); /* nothing applied */
    refactor_result_free(&res);
    /* no diff in the reply: the extraction step fails, with the reply kept */
    sc.reply = "I would rather not.";
    CHECK_EQ_INT(refactor_run(r, &llm, &q, &res, &err), OCT_ENOTFOUND);
    CHECK_EQ_INT(res.step, REFACTOR_EXTRACT);
    CHECK(res.reply && res.diff == NULL && res.patch == NULL);
    refactor_result_free(&res);
    /* a diff the working tree no longer takes: the check fails */
    put("add.c", "int add(int a, int b)\n{\n    return a - b;\n}\n");
    repo_commit();
    sc.reply = reply;
    CHECK(refactor_run(r, &llm, &q, &res, &err) != 0);
    CHECK_EQ_INT(res.step, REFACTOR_CHECK);
    CHECK(res.diff != NULL && err.msg[0]);
    refactor_result_free(&res);
    /* a stopped reply: OCT_ECANCELED at the generation step */
    sc.reply = NULL;
    CHECK_EQ_INT(refactor_run(r, &llm, &q, &res, &err), OCT_ECANCELED);
    CHECK_EQ_INT(res.step, REFACTOR_GENERATE);
    refactor_result_free(&res);
    /* an unknown symbol: retrieval fails before the model is asked */
    int calls = sc.calls;
    q.rel = NULL;
    q.symbol = "nope";
    CHECK_EQ_INT(refactor_run(r, &llm, &q, &res, &err), OCT_ENOTFOUND);
    CHECK_EQ_INT(res.step, REFACTOR_RETRIEVE);
    CHECK_EQ_INT(sc.calls, calls);
    refactor_result_free(&res);
    free(rel);
    rag_close(r);
}

int main(void)
{
    TEST_RUN(test_refactor_steps);
    TEST_RUN(test_refactor_run);
    TEST_END();
}
