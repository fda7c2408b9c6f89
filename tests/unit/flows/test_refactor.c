/* test_refactor.c - the refactoring steps (flows/refactor.c): when a reply
 * is complete, the diff taken (and repaired) from it, the prompts, and the
 * retrieval of the target file or symbol on a real git repository. */
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
    char *rel = NULL, *ctx = NULL, full[300];
    snprintf(full, sizeof full, "%s/add.c", g_repo);
    CHECK(refactor_rel_path(r, full, &rel, &err) == 0);
    CHECK_EQ_STR(rel, "add.c");
    CHECK_EQ_INT(refactor_rel_path(r, "/etc/hostname", &ctx, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "not a file inside the repository"), "%s", err.msg);
    CHECK(refactor_context(r, "swap the operands", rel, NULL, 400, rag_estimate_tokens, NULL, &ctx, &err) == 0);
    CHECKF(ctx && !strncmp(ctx, "add.c:1-4\n```\nint add", 21), "%s", ctx);
    free(ctx);
    ctx = NULL;
    CHECK(refactor_context(r, "rename", NULL, "greet", 400, rag_estimate_tokens, NULL, &ctx, &err) == 0);
    CHECKF(ctx && strstr(ctx, "greet.py:1-2"), "%s", ctx);
    free(ctx);
    CHECK_EQ_INT(refactor_context(r, "rename", NULL, "nope", 400, rag_estimate_tokens, NULL, &ctx, &err),
                 OCT_ENOTFOUND);
    CHECKF(strstr(err.msg, "'nope' is not defined"), "%s", err.msg);
    free(rel);
    rag_close(r);
}

int main(void)
{
    TEST_RUN(test_refactor_steps);
    TEST_END();
}
