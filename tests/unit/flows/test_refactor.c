/* test_refactor.c - refactoring (flows/refactor.c): when a reply is
 * complete, the diff taken (and repaired) from it, the prompts, the
 * retrieval of the target file or symbol on a real git repository, and
 * refactor_run end to end with scripted replies: the checked patch, each
 * failing step reported, nothing changed on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "patch.h"
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

/* The index of the test repository as it is now; NULL (and a failed check)
 * when it cannot be opened. */
static rag_t *index_repo(void)
{
    rag_t *r = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&r, &ro, &err) == 0 && rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    return r;
}

static void test_refactor_steps(void)
{
    refactor_reply_t chat = {false, REFACTOR_DIFF, NULL}, completion = {true, REFACTOR_DIFF, NULL};
    CHECK(!refactor_reply_done("Here it is:\n```diff\n-a\n+b\n", &chat));
    CHECK(refactor_reply_done("Here it is:\n```diff\n-a\n+b\n```\nDone.", &chat));
    CHECK(!refactor_reply_done("-a\n+b\n", &completion));
    CHECK(refactor_reply_done("-a\n+b\n```", &completion));
    /* blocks: a completion ends at its fence; a chat reply may have several fenced blocks */
    refactor_reply_t bchat = {false, REFACTOR_BLOCKS, NULL}, bcompl = {true, REFACTOR_BLOCKS, "add.c"};
    CHECK(!refactor_reply_done("add.c\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n", &bchat));
    CHECK(!refactor_reply_done("a\n=======\nb\n", &bcompl));
    CHECK(refactor_reply_done("a\n=======\nb\n>>>>>>> REPLACE\n```", &bcompl));
    char *diff = NULL, *notes = NULL;
    errmsg_t err = {0};
    CHECK_EQ_INT(refactor_reply_diff("I would rather not.", &chat, NULL, &diff, &notes, &err), OCT_ENOTFOUND);
    CHECK(diff == NULL && notes == NULL);
    /* a reply with wrong hunk counts and no diff --git line is repaired */
    CHECK(refactor_reply_diff("Sure.\n```diff\n--- a/add.c\n+++ b/add.c\n@@ -1,9 +1,9 @@\n int add(int a, int b)\n {\n"
                              "-    return a + b;\n+    return b + a;\n }\n```\n",
                              &chat, NULL, &diff, &notes, &err) == 0);
    CHECKF(diff && strstr(diff, "diff --git a/add.c b/add.c") && strstr(diff, "@@ -1,4 +1,4 @@"), "%s", diff);
    free(diff);
    /* a completion continues the prompt's ```diff block */
    CHECK(refactor_reply_diff(SWAP_DIFF, &completion, NULL, &diff, &notes, &err) == 0);
    free(diff);
    chat_msg_t msgs[2];
    char *prompt = NULL;
    refactor_reply_t how = {false, REFACTOR_DIFF, "add.c"};
    CHECK(refactor_prompt("swap", NULL, "add.c:1-4\n", &how, msgs, &prompt, &err) == 0);
    CHECK(msgs[0].role == CHAT_ROLE_SYSTEM && strstr(msgs[0].content, "```diff"));
    CHECK(msgs[1].content == prompt && strstr(prompt, "Instruction: swap") && strstr(prompt, "the file add.c"));
    free(prompt);
    how = (refactor_reply_t){true, REFACTOR_DIFF, NULL};
    CHECK(refactor_prompt("swap", "add", "", &how, msgs, &prompt, &err) == 0);
    CHECK(strstr(prompt, "Target: add,") && strstr(prompt, "```diff\n"));
    free(prompt);
    /* blocks: the system message asks for them; a completion opens the target's first block */
    how = (refactor_reply_t){false, REFACTOR_BLOCKS, "add.c"};
    CHECK(refactor_prompt("swap", NULL, "add.c:1-4\n", &how, msgs, &prompt, &err) == 0);
    CHECK(strstr(msgs[0].content, "<<<<<<< SEARCH") && !strstr(msgs[0].content, "```diff"));
    free(prompt);
    CHECK(refactor_prompt("swap", NULL, "add.c:1-4\n", &bcompl, msgs, &prompt, &err) == 0);
    static const char tail[] = "```\nadd.c\n<<<<<<< SEARCH\n";
    size_t pl = prompt ? strlen(prompt) : 0;
    CHECKF(pl > strlen(tail) && !strcmp(prompt + pl - strlen(tail), tail), "%s", prompt);
    free(prompt);

    /* retrieval: the target file first, a symbol's definition, an unknown symbol */
    repo_new();
    rag_t *r = index_repo();
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

/* A model that answers with a fixed reply (or, with NEXT, NEXT[i] at its
 * i-th call while there are any) and remembers what it was asked. */
typedef struct scripted {
    const char *reply;
    int calls;
    char prompt[4096];
    const char *const *next;
    int n_next;
} scripted_t;

static int scripted(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                    bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply, errmsg_t *err)
{
    scripted_t *sc = ud;
    (void)prompt;
    sc->calls++;
    snprintf(sc->prompt, sizeof sc->prompt, "%s", n == 2 ? msgs[1].content : "");
    const char *text = sc->calls <= sc->n_next ? sc->next[sc->calls - 1] : sc->reply;
    if (!text)
        return errmsg_set(err, OCT_ECANCELED, "stopped");
    CHECK(done != NULL && done_ud != NULL); /* the reply may stop at its diff block */
    *reply = strdup(text);
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
    errmsg_t err = {0};
    rag_t *r = index_repo();
    if (!r)
        return;
    char full[300], *rel = NULL;
    snprintf(full, sizeof full, "%s/add.c", g_repo);
    CHECK(refactor_rel_path(r, full, &rel, &err) == 0);
    char reply[1024];
    /* as models write it: --- and +++ without the diff --git line */
    snprintf(reply, sizeof reply, "Here:\n```diff\n%s```\n", strstr(SWAP_DIFF, "--- a/"));
    scripted_t sc = {.reply = reply};
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

/* Blocks asked of the model: the reply made into a diff, loose matches
 * noted, a block that matches nowhere failing the extraction step. */
static void test_refactor_blocks(void)
{
    repo_new();
    errmsg_t err = {0};
    char *diff = NULL, *notes = NULL;
    /* a completion continues "add.c\n<<<<<<< SEARCH\n"; a last block cut off is dropped */
    refactor_reply_t how = {true, REFACTOR_BLOCKS, "add.c"};
    CHECKF(refactor_reply_diff("return a + b;\n=======\nreturn b + a;\n>>>>>>> REPLACE\n\nadd.c\n<<<<<<< SEARCH\n{\n",
                               &how, g_repo, &diff, &notes, &err) == 0, "%s", err.msg);
    CHECKF(diff && strstr(diff, "-    return a + b;\n+    return b + a;\n"), "%s", diff);
    CHECKF(notes && strstr(notes, "add.c: block 1 (line 3) matched at line 3, where the file has 4 more spaces"),
           "%s", notes);
    free(diff);
    free(notes);
    CHECK_EQ_INT(refactor_reply_diff("return a * b;\n=======\nreturn b;\n>>>>>>> REPLACE\n```\n", &how, g_repo, &diff,
                                     &notes, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "the model's reply: block 1 (line 3), add.c: its SEARCH lines are not in the file"), "%s",
           err.msg);
    CHECK(diff == NULL && notes == NULL);

    rag_t *r = index_repo();
    if (!r)
        return;
    scripted_t sc = {.reply = "Here:\n\nadd.c\n```c\n<<<<<<< SEARCH\n    return a + b;\n=======\n    return b + a;\n"
                     ">>>>>>> REPLACE\n```\n"};
    llm_t llm = {true, scripted, &sc};
    refactor_req_t q = {.instruction = "swap the operands", .rel = "add.c", .repo_dir = g_repo, .budget = 400,
                        .format = REFACTOR_BLOCKS};
    refactor_result_t res;
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(res.step, REFACTOR_DONE);
    CHECK(res.patch && res.diff && strstr(res.diff, "+    return b + a;") && !res.notes);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    refactor_result_free(&res);
    /* the second block's SEARCH is nowhere: the extraction step fails, nothing changes */
    sc.reply = "add.c\n<<<<<<< SEARCH\n}\n=======\n} /* add */\n>>>>>>> REPLACE\nadd.c\n<<<<<<< SEARCH\n"
               "    return a - b;\n=======\n>>>>>>> REPLACE\n";
    CHECK(refactor_run(r, &llm, &q, &res, &err) != 0);
    CHECK_EQ_INT(res.step, REFACTOR_EXTRACT);
    CHECKF(strstr(err.msg, "block 2 (line 8), add.c: its SEARCH lines are not in the file"), "%s", err.msg);
    CHECK(res.diff == NULL && res.patch == NULL);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    refactor_result_free(&res);
    /* neither a file nor a symbol: the file defining a name the instruction mentions is the target, whole */
    sc.reply = "add.c\n<<<<<<< SEARCH\nint add(int a, int b)\n=======\nint sum(int a, int b)\n>>>>>>> REPLACE\n";
    q.rel = NULL;
    q.instruction = "rename add to sum";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(strstr(sc.prompt, "Target: the file add.c and the code that refers to it."), "%s", sc.prompt);
    CHECK(res.context && !strncmp(res.context, "add.c:1-4", 9) && res.patch);
    refactor_result_free(&res);
    q.instruction = "rename `greet` to hello";
    sc.reply = "greet.py\n<<<<<<< SEARCH\ndef greet(name):\n=======\ndef hello(name):\n>>>>>>> REPLACE\n";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(strstr(sc.prompt, "Target: the file greet.py"), "%s", sc.prompt);
    refactor_result_free(&res);
    /* no name of the code in it, or a file over two thirds of the budget: no target, the chunks as retrieved */
    q.instruction = "make it better";
    sc.reply = "nothing";
    CHECK(refactor_run(r, &llm, &q, &res, &err) != 0);
    CHECKF(!strstr(sc.prompt, "Target:"), "%s", sc.prompt);
    refactor_result_free(&res);
    q.instruction = "rename add to sum";
    q.budget = 12;
    CHECK(refactor_run(r, &llm, &q, &res, &err) != 0);
    CHECKF(!strstr(sc.prompt, "Target:"), "%s", sc.prompt);
    refactor_result_free(&res);
    rag_close(r);
}

/* A rename that leaves uses of the old name: the note says where they are
 * (the changed file's lines as they will be numbered, other files through
 * the index); a complete one, or an edit that is no rename, says nothing. */
static void test_refactor_rename_leftovers(void)
{
    repo_new();
    put("calc.c", "int add(int a, int b);\nint twice(int a)\n{\n    return add(a, a);\n}\n");
    repo_commit();
    errmsg_t err = {0};
    rag_t *r = index_repo();
    if (!r)
        return;
    static const char DEF[] = "add.c\n<<<<<<< SEARCH\nint add(int a, int b)\n=======\nint sum(int a, int b)\n"
                              ">>>>>>> REPLACE\n";
    scripted_t sc = {.reply = DEF};
    llm_t llm = {true, scripted, &sc};
    refactor_req_t q = {.instruction = "Rename the function `add` to `sum`", .repo_dir = g_repo, .budget = 400,
                        .format = REFACTOR_BLOCKS};
    refactor_result_t res;
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(res.notes && strstr(res.notes, "rename: 'add' still appears at calc.c:1, calc.c:4 (lines this edit does "
                                          "not change)\n"), "%s", res.notes ? res.notes : "(none)");
    refactor_result_free(&res);
    /* the declaration made two lines: the call left behind is on line 5 now */
    sc.reply = "calc.c\n<<<<<<< SEARCH\nint add(int a, int b);\n=======\n/* the sum */\nint sum(int a, int b);\n"
               ">>>>>>> REPLACE\n";
    q.instruction = "In calc.c, rename add to sum";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(res.notes && strstr(res.notes, "still appears at calc.c:5, add.c:1 ("), "%s", res.notes ? res.notes : "");
    refactor_result_free(&res);
    /* every use renamed: no note */
    char all[512];
    snprintf(all, sizeof all, "%scalc.c\n<<<<<<< SEARCH\nint add(int a, int b);\n=======\nint sum(int a, int b);\n"
             ">>>>>>> REPLACE\ncalc.c\n<<<<<<< SEARCH\n    return add(a, a);\n=======\n    return sum(a, a);\n"
             ">>>>>>> REPLACE\n", DEF);
    sc.reply = all;
    q.instruction = "rename add to sum";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(!res.notes || !strstr(res.notes, "rename:"), "%s", res.notes);
    refactor_result_free(&res);
    /* a local's or a parameter's name elsewhere is another variable's: no note */
    sc.reply = DEF;
    q.instruction = "rename the parameter add to sum";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(!res.notes || !strstr(res.notes, "rename:"), "%s", res.notes);
    refactor_result_free(&res);
    /* not a rename: no note, whatever the edit */
    sc.reply = DEF;
    q.instruction = "make add safer";
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECKF(!res.notes || !strstr(res.notes, "rename:"), "%s", res.notes);
    refactor_result_free(&res);
    rag_close(r);
}

/* Three refactors of one file in a row (issue 16, Done when): each checks
 * its target before the model is asked and applies without --force, since
 * octet wrote what the file holds; then three undos restore the file step
 * by step, newest first. The model's replies are scripted: what is tested
 * is the flow around them, on a real repository. */
static void test_refactor_stacked(void)
{
    static const char *const states[] = {
        "int add(int a, int b)\n{\n    return a + b;\n}\n",
        "int add(int a, int b)\n{\n    return b + a;\n}\n",
        "long add(int a, int b)\n{\n    return b + a;\n}\n",
        "long add(int a, int b)\n{\n    return b + a; /* sum */\n}\n",
    };
    static const char *const replies[] = {
        "```diff\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n int add(int a, int b)\n {\n-    return a + b;\n"
        "+    return b + a;\n }\n```\n",
        "```diff\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n-int add(int a, int b)\n+long add(int a, int b)\n {\n"
        "     return b + a;\n }\n```\n",
        "```diff\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n long add(int a, int b)\n {\n-    return b + a;\n"
        "+    return b + a; /* sum */\n }\n```\n",
    };
    repo_new();
    errmsg_t err = {0};
    rag_t *r = index_repo();
    if (!r)
        return;
    char full[300], *rel = NULL;
    snprintf(full, sizeof full, "%s/add.c", g_repo);
    CHECK(refactor_rel_path(r, full, &rel, &err) == 0);
    for (int k = 0; k < 3; k++) {
        scripted_t sc = {.reply = replies[k]};
        llm_t llm = {true, scripted, &sc};
        refactor_req_t q = {.instruction = "change add", .rel = rel, .repo_dir = g_repo, .budget = 400};
        refactor_result_t res;
        char *record = NULL;
        CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "refactor %d: %s", k + 1, err.msg);
        CHECKF(res.patch && patch_apply(res.patch, g_repo, false, &record, &err) == 0, "apply %d: %s", k + 1,
               err.msg);
        CHECK_EQ_STR(get("add.c"), states[k + 1]);
        free(record);
        refactor_result_free(&res);
    }
    for (int k = 3; k > 0; k--) {
        CHECKF(patch_undo(g_repo, false, NULL, &err) == 0, "undo %d: %s", 4 - k, err.msg);
        CHECK_EQ_STR(get("add.c"), states[k - 1]);
    }
    CHECK_EQ_INT(patch_undo(g_repo, false, NULL, &err), OCT_ENOTFOUND); /* nothing left to undo */
    free(rel);
    rag_close(r);
}

typedef struct retries {
    int n;
    int attempt[4];
    refactor_step_t step[4];
    char why[4][200];
} retries_t;

static void on_retry(void *ud, int attempt, int attempts, refactor_step_t step, const char *why)
{
    retries_t *rt = ud;
    CHECK_EQ_INT(attempts, 3);
    if (rt->n < 4) {
        rt->attempt[rt->n] = attempt;
        rt->step[rt->n] = step;
        snprintf(rt->why[rt->n], sizeof rt->why[0], "%s", why);
        rt->n++;
    }
}

/* A reply with no usable edit, or one that does not apply, is asked for
 * again up to the attempts given; the first usable one is kept. A file with
 * uncommitted changes fails at once: every reply would meet it. */
static void test_refactor_retries(void)
{
    repo_new();
    errmsg_t err = {0};
    rag_t *r = index_repo();
    if (!r)
        return;
    static const char *const replies[] = {
        "add.c\n<<<<<<< SEARCH\n    return a + b;\n=======\n    return a + b;\n>>>>>>> REPLACE\n",
        "add.c\n<<<<<<< SEARCH\n    return a * b;\n=======\n    return b * a;\n>>>>>>> REPLACE\n",
    };
    const char *good = "add.c\n<<<<<<< SEARCH\n    return a + b;\n=======\n    return b + a;\n>>>>>>> REPLACE\n";
    scripted_t sc = {.reply = good, .next = replies, .n_next = 2};
    llm_t llm = {true, scripted, &sc};
    retries_t rt = {0};
    refactor_req_t q = {.instruction = "swap the operands", .rel = "add.c", .repo_dir = g_repo, .budget = 400,
                        .format = REFACTOR_BLOCKS, .attempts = 3, .on_retry = on_retry, .ud = &rt};
    refactor_result_t res;
    CHECKF(refactor_run(r, &llm, &q, &res, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(sc.calls, 3);
    CHECK_EQ_INT(res.attempt, 3);
    CHECK(res.patch && res.reply && !strcmp(res.reply, good) && strstr(res.diff, "+    return b + a;"));
    CHECK_EQ_INT(rt.n, 2);
    CHECK(rt.attempt[0] == 1 && rt.attempt[1] == 2);
    CHECK(rt.step[0] == REFACTOR_EXTRACT && rt.step[1] == REFACTOR_EXTRACT);
    CHECKF(strstr(rt.why[0], "change nothing"), "%s", rt.why[0]);
    CHECKF(strstr(rt.why[1], "its SEARCH lines are not in the file"), "%s", rt.why[1]);
    refactor_result_free(&res);
    /* every reply unusable: the last one's failure, after as many replies as allowed */
    sc.calls = 0;
    sc.n_next = 0;
    sc.reply = replies[0];
    rt.n = 0;
    CHECK_EQ_INT(refactor_run(r, &llm, &q, &res, &err), OCT_EINVAL);
    CHECK(sc.calls == 3 && res.attempt == 3 && rt.n == 2 && res.step == REFACTOR_EXTRACT);
    CHECKF(strstr(err.msg, "change nothing"), "%s", err.msg);
    refactor_result_free(&res);
    /* one attempt (0 counts as 1): no retry */
    sc.calls = 0;
    q.attempts = 0;
    CHECK(refactor_run(r, &llm, &q, &res, &err) != 0);
    CHECK_EQ_INT(sc.calls, 1);
    refactor_result_free(&res);
    /* add.c changed and not committed, found through the edit of an inferred target: not retried */
    put("add.c", "int add(int a, int b)\n{\n    return a + b; /* mine */\n}\n");
    sc.calls = 0;
    sc.reply = "add.c\n<<<<<<< SEARCH\nint add(int a, int b)\n=======\nint sum(int a, int b)\n>>>>>>> REPLACE\n";
    q.attempts = 3;
    q.rel = NULL;
    q.instruction = "rename add to sum";
    rt.n = 0;
    CHECK_EQ_INT(refactor_run(r, &llm, &q, &res, &err), OCT_EINVAL);
    CHECK(sc.calls == 1 && rt.n == 0 && res.step == REFACTOR_CHECK);
    CHECKF(strstr(err.msg, "add.c has uncommitted changes"), "%s", err.msg);
    refactor_result_free(&res);
    rag_close(r);
}

int main(void)
{
    TEST_RUN(test_refactor_steps);
    TEST_RUN(test_refactor_run);
    TEST_RUN(test_refactor_rename_leftovers);
    TEST_RUN(test_refactor_blocks);
    TEST_RUN(test_refactor_stacked);
    TEST_RUN(test_refactor_retries);
    TEST_END();
}
