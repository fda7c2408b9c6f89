/* test_pending.c - /refactor's arguments and the patch waiting for the
 * user's answer (tui/pending.c): discarded, refused on uncommitted edits or
 * lost context, applied and undone on a real git repository. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "pending.h"
#include "test.h"
#include "test_repo.h"

static const char ADD_C[] = "int add(int a, int b)\n{\n    return a + b;\n}\n";
static const char ADD_SWAPPED[] = "int add(int a, int b)\n{\n    return b + a;\n}\n";
static const char SWAP_DIFF[] = "diff --git a/add.c b/add.c\n--- a/add.c\n+++ b/add.c\n@@ -1,4 +1,4 @@\n"
                                " int add(int a, int b)\n {\n-    return a + b;\n+    return b + a;\n }\n";

static void repo_new(void)
{
    repo_dir("tui");
    put("add.c", ADD_C);
    put("greet.py", "def greet(name):\n    return 'hi ' + name\n");
    repo_commit();
}

static void test_refactor_args(void)
{
    const char *path, *sym;
    bool force;
    errmsg_t err = {0};
    char a1[] = "rename add to sum --symbol add", i1[sizeof a1];
    CHECK(tui_refactor_args(a1, i1, &path, &sym, &force, &err) == 0);
    CHECK_EQ_STR(i1, "rename add to sum");
    CHECK(!force);
    char a0[] = "rename add to sum --force --symbol add", i0[sizeof a0];
    CHECK(tui_refactor_args(a0, i0, &path, &sym, &force, &err) == 0);
    CHECK(force && !strcmp(i0, "rename add to sum") && !strcmp(sym, "add"));
    CHECK(path == NULL);
    CHECK_EQ_STR(sym, "add");
    char a2[] = "--path 'src/my file.c'  \"use  size_t\" everywhere", i2[sizeof a2];
    CHECK(tui_refactor_args(a2, i2, &path, &sym, &force, &err) == 0);
    CHECK_EQ_STR(i2, "use  size_t everywhere");
    CHECK_EQ_STR(path, "src/my file.c");
    CHECK(sym == NULL);
    char a3[] = "x --path=a.c", i3[sizeof a3];
    CHECK(tui_refactor_args(a3, i3, &path, &sym, &force, &err) == 0);
    CHECK_EQ_STR(path, "a.c");
    char a4[] = "x --path a.c --symbol f", i4[sizeof a4];
    CHECK_EQ_INT(tui_refactor_args(a4, i4, &path, &sym, &force, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "cannot be combined"), "%s", err.msg);
    char a5[] = "--symbol f", i5[sizeof a5];
    CHECK_EQ_INT(tui_refactor_args(a5, i5, &path, &sym, &force, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "no instruction"), "%s", err.msg);
    char a6[] = "x --path", i6[sizeof a6];
    CHECK_EQ_INT(tui_refactor_args(a6, i6, &path, &sym, &force, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "--path needs a value"), "%s", err.msg);
    char a7[] = "x --forse", i7[sizeof a7];
    CHECK_EQ_INT(tui_refactor_args(a7, i7, &path, &sym, &force, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "unknown option --forse"), "%s", err.msg);
}

/* The confirmation's answer, as the TUI calls it on y / n, on a real repository. */
static void test_pending_apply(void)
{
    tui_pending_t p = {0};
    char *report = NULL;
    errmsg_t err = {0};
    repo_new();
    CHECK(!tui_pending_active(&p));
    CHECK_EQ_INT(tui_pending_answer(&p, true, &report, &err), OCT_EINVAL);
    /* n: discarded, nothing changes */
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, NULL, &err) == 0);
    CHECK(tui_pending_active(&p));
    CHECK_EQ_STR(p.summary, "1 file changed, 1 insertion(+), 1 deletion(-)");
    CHECK(tui_pending_answer(&p, false, &report, &err) == 0);
    CHECKF(report && strstr(report, "discarded; nothing was changed"), "%s", report);
    free(report);
    CHECK(!tui_pending_active(&p));
    CHECK_EQ_STR(get("add.c"), ADD_C);
    /* y on a file with uncommitted edits: refused, the edits stay */
    put("add.c", "int add(int a, int b) { return a + b; }\n");
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, NULL, &err) == 0);
    CHECK(tui_pending_answer(&p, true, &report, &err) != 0);
    CHECKF(strstr(err.msg, "uncommitted"), "%s", err.msg);
    CHECK(report == NULL);
    CHECK(!tui_pending_active(&p));
    CHECK_EQ_STR(get("add.c"), "int add(int a, int b) { return a + b; }\n");
    /* y on a clean file: applied, reported, and undoable */
    put("add.c", ADD_C);
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, NULL, &err) == 0);
    CHECKF(tui_pending_answer(&p, true, &report, &err) == 0, "%s", err.msg);
    CHECKF(report && strstr(report, "applied: 1 file changed") && strstr(report, "modified add.c") &&
               strstr(report, "/undo"),
           "%s", report);
    free(report);
    CHECK_EQ_STR(get("add.c"), ADD_SWAPPED);
    patch_undo_t *u = NULL;
    CHECK(patch_undo_peek(g_repo, &u, &err) == 0);
    CHECK(u && u->n_files == 1 && !strcmp(u->files[0].path, "add.c"));
    patch_undo_free(u);
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    /* a patch whose context is gone: refused, nothing changes */
    put("add.c", "int add(int a, int b)\n{\n    return a - b;\n}\n");
    sh("cd '%s' && git -c user.name=t -c user.email=t@t commit -qam sub", g_repo);
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, NULL, &err) == 0);
    CHECK(tui_pending_answer(&p, true, &report, &err) != 0);
    CHECK(err.msg[0] != '\0');
    CHECK_EQ_STR(get("add.c"), "int add(int a, int b)\n{\n    return a - b;\n}\n");
    /* a diff that is not one is refused before asking */
    CHECK(tui_pending_set(&p, "not a diff\n", g_repo, false, NULL, &err) != 0);
    CHECK(!tui_pending_active(&p));
    tui_pending_clear(&p);
}

/* `commit = true` in the settings file: the applied patch is committed with
 * the instruction and the summary as its message; undo takes both back. */
static void test_pending_commit(void)
{
    tui_pending_t p = {0};
    char *report = NULL;
    errmsg_t err = {0};
    repo_new();
    CHECK(sh("cd '%s' && git config user.name 'Pat Tester' && git config user.email pat@example.com", g_repo) == 0);
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, "swap the operands of add", &err) == 0);
    CHECKF(tui_pending_answer(&p, true, &report, &err) == 0, "%s", err.msg);
    CHECKF(report && strstr(report, "applied: 1 file changed") && strstr(report, "committed as "), "%s", report);
    free(report);
    CHECK_EQ_STR(get("add.c"), ADD_SWAPPED);
    CHECK(sh("cd '%s' && test \"$(git log -1 --format=%%s)\" = 'octet refactor: swap the operands of add' && "
             "test \"$(git log -1 --format=%%an)\" = 'Pat Tester' && test -z \"$(git status --porcelain)\"",
             g_repo) == 0);
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    CHECK(sh("cd '%s' && test \"$(git rev-list --count HEAD)\" = 1", g_repo) == 0);
    /* not committed without it */
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, false, NULL, &err) == 0);
    CHECK(tui_pending_answer(&p, true, &report, &err) == 0);
    CHECK(report && !strstr(report, "committed"));
    free(report);
    CHECK(sh("cd '%s' && test \"$(git rev-list --count HEAD)\" = 1", g_repo) == 0);
    tui_pending_clear(&p);
}

int main(void)
{
    TEST_RUN(test_refactor_args);
    TEST_RUN(test_pending_apply);
    TEST_RUN(test_pending_commit);
    TEST_END();
}
