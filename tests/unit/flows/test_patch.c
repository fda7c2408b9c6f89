/* test_patch.c - unified diffs on real git repositories in temporary
 * directories: parsing and its error messages, patches that apply, that
 * conflict, that touch files edited meanwhile, that fail half-way (all or
 * nothing), undo after apply (and refused after later edits), the repair of
 * diffs written by a model, and coloring. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "patch.h"
#include "test.h"
#include "test_repo.h"

static const char F_TXT[] = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n";
static const char M_C[] = "int a;\nint b;\n";

/* A fresh repository with f.txt, src/m.c, old.txt and run.sh committed. */
static void repo_new(void)
{
    repo_dir("patch");
    put("f.txt", F_TXT);
    put("src/m.c", M_C);
    put("old.txt", "old\n");
    put("run.sh", "echo hi\n");
    sh("chmod 755 '%s/run.sh'", g_repo);
    repo_commit();
}

static bool repo_clean(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd '%s' && test -z \"$(git status --porcelain)\"", g_repo);
    return system(cmd) == 0;
}

static patch_t *parse(const char *text)
{
    patch_t *p = NULL;
    errmsg_t err = {0};
    CHECKF(patch_parse(&p, text, strlen(text), "t.diff", &err) == 0, "%s", err.msg);
    return p;
}

static void parse_bad(const char *text, const char *want)
{
    patch_t *p = NULL;
    errmsg_t err = {0};
    int rc = patch_parse(&p, text, strlen(text), "t.diff", &err);
    CHECKF(rc != 0 && !p, "accepted: %s", text);
    CHECKF(rc == 0 || strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    patch_free(p);
}

static const char MULTI[] = "diff --git a/f.txt b/f.txt\n"
                            "--- a/f.txt\n"
                            "+++ b/f.txt\n"
                            "@@ -1,3 +1,3 @@\n"
                            " one\n"
                            "-two\n"
                            "+TWO\n"
                            " three\n"
                            "diff --git a/src/m.c b/src/m.c\n"
                            "--- a/src/m.c\n"
                            "+++ b/src/m.c\n"
                            "@@ -1,2 +1,3 @@\n"
                            " int a;\n"
                            " int b;\n"
                            "+int c;\n"
                            "diff --git a/lib/new.h b/lib/new.h\n"
                            "new file mode 100644\n"
                            "--- /dev/null\n"
                            "+++ b/lib/new.h\n"
                            "@@ -0,0 +1,2 @@\n"
                            "+#pragma once\n"
                            "+int c;\n"
                            "diff --git a/old.txt b/old.txt\n"
                            "deleted file mode 100644\n"
                            "--- a/old.txt\n"
                            "+++ /dev/null\n"
                            "@@ -1 +0,0 @@\n"
                            "-old\n";

static void test_parse(void)
{
    patch_t *p = parse(MULTI);
    if (!p)
        return;
    CHECK_EQ_INT(patch_n_files(p), 4);
    const patch_file_t *f = patch_file(p, 2);
    CHECK(f && f->status == PATCH_ADDED && !f->old_path && !strcmp(f->new_path, "lib/new.h") && f->additions == 2);
    f = patch_file(p, 3);
    CHECK(f && f->status == PATCH_DELETED && !f->new_path && f->deletions == 1);
    f = patch_file(p, 0);
    CHECK(f && f->status == PATCH_MODIFIED && f->hunks == 1 && f->additions == 1 && f->deletions == 1);
    CHECK(patch_file(p, 4) == NULL);
    char *sum = patch_summary(p);
    CHECK_EQ_STR(sum, "4 files changed, 4 insertions(+), 2 deletions(-)");
    free(sum);
    patch_free(p);
    p = parse("diff --git a/a.txt b/b.txt\nsimilarity index 100%\nrename from a.txt\nrename to b.txt\n");
    if (p) {
        CHECK(patch_file(p, 0)->status == PATCH_RENAMED && !strcmp(patch_file(p, 0)->old_path, "a.txt"));
        patch_free(p);
    }
}

static void test_parse_errors(void)
{
    parse_bad("", "t.diff: the patch is empty");
    parse_bad("  \n\n", "the patch is empty");
    parse_bad("hello, here is my change\n", "t.diff: no patch found (octet applies diffs in git's format");
    parse_bad("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n", "t.diff: the patch has no 'diff --git' lines");
    parse_bad("diff --git a/o b/n\nsimilarity index 75%\nrename from o\nrename to n\nrename from o\n", "t.diff:5: 'rename from' appears twice in one file's header");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n--- a/g\n+++ b/g\n@@ -1 +1 @@\n-a\n+b\n", "malformed patch");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n", "t.diff: the patch ends inside the hunk at line 4");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\nc\n", "t.diff:8: the hunk at line 4 ends early");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n\n c\n", "(an empty context line needs a leading space)");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n c\n", "t.diff:8: a hunk line after the end of the hunk at line 4");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n a\n-b\n+c\n", "t.diff:6: the hunk at line 4 has more old (' ' or '-') lines than its header announces");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -x +1 @@\n+a\n", "t.diff:4: malformed hunk header '@@ -x +1 @@'");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -99999999999999999999,0 +1 @@\n+a\n",
              "t.diff:4: hunk header '@@ -99999999999999999999,0 +1 @@' has a line number or count past 100000000");
    parse_bad("@@ -1 +1 @@\n-a\n+b\n", "t.diff:1: a hunk before any file header");
    parse_bad("diff --git a/../x b/../x\n--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n", "../x: paths with empty, '.' or '..' components are refused");
    parse_bad("diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-a\n+b\n", ".git/config: a patch may not touch .git");
    parse_bad("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc/passwd\n", "symbolic links and submodules are not supported");
    parse_bad("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n", "f is changed twice in the patch");
    parse_bad("diff --git a/bin.dat b/bin.dat\nindex 422c2b7ab3b3c668038da977e4e93a5fc623169c..8352675d67aed6625ece79af41c27fdb4ee2e867 100644\n"
              "GIT binary patch\nliteral 3\nKcmZQzWC8#H2LJ>B\n\nliteral 4\nLcmYe~O5y?l0(1b_\n\n", "bin.dat: binary patches are not supported");
    char nul[] = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\0\n";
    patch_t *p = NULL;
    errmsg_t err;
    CHECK(patch_parse(&p, nul, sizeof nul - 1, "t.diff", &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "NUL byte") != NULL);
    /* a format-patch mail with its signature after the diff is fine */
    p = parse("From 1 Mon\nSubject: x\n\n---\n f | 2 +-\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.5\n\n");
    CHECK(p && patch_n_files(p) == 1);
    patch_free(p);
}

static void test_apply_and_undo(void)
{
    repo_new();
    patch_t *p = parse(MULTI);
    errmsg_t err = {0};
    char *id = NULL;
    if (!p)
        return;
    CHECKF(patch_check(p, g_repo, false, &err) == 0, "%s", err.msg);
    CHECK(repo_clean()); /* the check changed nothing */
    CHECKF(patch_apply(p, g_repo, false, &id, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(id, "000001");
    free(id);
    CHECK_EQ_STR(get("f.txt"), "one\nTWO\nthree\nfour\nfive\nsix\nseven\n");
    CHECK_EQ_STR(get("src/m.c"), "int a;\nint b;\nint c;\n");
    CHECK_EQ_STR(get("lib/new.h"), "#pragma once\nint c;\n");
    CHECK_EQ_STR(get("old.txt"), "<absent>");
    char rec[512];
    snprintf(rec, sizeof rec, "%s/.git/octet/undo/000001/manifest.json", g_repo);
    CHECK(access(rec, F_OK) == 0);
    /* nothing was added to the object database */
    CHECK(sh("cd '%s' && test \"$(git count-objects | cut -d' ' -f1)\" = 7", g_repo) == 0);

    patch_undo_t *u = NULL;
    CHECKF(patch_undo_peek(g_repo, &u, &err) == 0, "%s", err.msg);
    if (u) {
        CHECK_EQ_INT(u->n_files, 4);
        CHECK_EQ_INT(u->n_changed, 0);
        CHECK_EQ_INT(u->depth, 1);
        CHECK_EQ_STR(u->summary, "4 files changed, 4 insertions(+), 2 deletions(-)");
        CHECK(strstr(u->diff, "-TWO\n+two\n") != NULL);
        patch_undo_free(u);
    }
    CHECKF(patch_undo(g_repo, false, &u, &err) == 0, "%s", err.msg);
    CHECK(u && u->depth == 0);
    patch_undo_free(u);
    CHECK(repo_clean());
    CHECK_EQ_STR(get("lib/new.h"), "<absent>");
    snprintf(rec, sizeof rec, "%s/lib", g_repo);
    CHECK(access(rec, F_OK) != 0); /* the directory the apply created went away with its file */
    CHECK(patch_undo(g_repo, false, NULL, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "nothing to undo") != NULL);
    patch_free(p);
}

/* The exec bit survives, renames move contents, undo records stack. */
static void test_modes_renames_stack(void)
{
    repo_new();
    errmsg_t err = {0};
    patch_t *p = parse("diff --git a/run.sh b/run.sh\n--- a/run.sh\n+++ b/run.sh\n@@ -1 +1 @@\n-echo hi\n+echo bye\n");
    CHECK(p && patch_apply(p, g_repo, false, NULL, &err) == 0);
    patch_free(p);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/run.sh", g_repo);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0100));
    CHECK(sh("cd '%s' && git -c user.name=t -c user.email=t@t commit -qam two", g_repo) == 0);
    p = parse("diff --git a/old.txt b/moved/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to moved/new.txt\n");
    CHECKF(p && patch_apply(p, g_repo, false, NULL, &err) == 0, "%s", err.msg);
    patch_free(p);
    CHECK_EQ_STR(get("old.txt"), "<absent>");
    CHECK_EQ_STR(get("moved/new.txt"), "old\n");
    patch_undo_t *u = NULL;
    CHECK(patch_undo_peek(g_repo, &u, &err) == 0 && u && u->depth == 2);
    patch_undo_free(u);
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0);
    CHECK_EQ_STR(get("old.txt"), "old\n");
    CHECK_EQ_STR(get("moved/new.txt"), "<absent>");
    CHECK(repo_clean());
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0); /* the first apply, committed since: its file is unchanged */
    CHECK_EQ_STR(get("run.sh"), "echo hi\n");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0100));
}

static void test_conflict(void)
{
    repo_new();
    errmsg_t err = {0};
    /* the second file's hunk does not match: the first file must stay as it is */
    patch_t *p = parse("diff --git a/src/m.c b/src/m.c\n--- a/src/m.c\n+++ b/src/m.c\n@@ -1,2 +1,2 @@\n int a;\n-int b;\n"
                       "+long b;\ndiff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n two\n"
                       "-THREE\n+3\n four\n");
    if (!p)
        return;
    CHECK(patch_check(p, g_repo, false, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "f.txt: hunk 1 (@@ -2,3 +2,3 @@) does not apply to the working tree"), "%s", err.msg);
    CHECK(patch_apply(p, g_repo, false, NULL, &err) == OCT_EINVAL);
    CHECK(repo_clean());
    char rec[512];
    snprintf(rec, sizeof rec, "%s/.git/octet/undo/000001", g_repo);
    CHECK(access(rec, F_OK) != 0);
    patch_free(p);
    /* a new file where one exists */
    p = parse("diff --git a/old.txt b/old.txt\nnew file mode 100644\n--- /dev/null\n+++ b/old.txt\n@@ -0,0 +1 @@\n+x\n");
    CHECK(p && patch_apply(p, g_repo, false, NULL, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "old.txt already exists in the working tree (the patch creates it)"), "%s", err.msg);
    CHECK(repo_clean());
    patch_free(p);
}

static void test_dirty_files(void)
{
    repo_new();
    errmsg_t err = {0};
    patch_t *p = parse(MULTI);
    if (!p)
        return;
    put("f.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n");
    CHECK(patch_apply(p, g_repo, false, NULL, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "f.txt has uncommitted changes: commit or stash it first, or use --force"), "%s", err.msg);
    CHECK_EQ_STR(get("src/m.c"), M_C);
    CHECKF(patch_apply(p, g_repo, true, NULL, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(get("f.txt"), "one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\n");
    /* undo after --force restores the uncommitted edit too */
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0);
    CHECK_EQ_STR(get("f.txt"), "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n");
    put("f.txt", F_TXT);
    sh("cd '%s' && echo 'int z;' >> src/m.c && git add src/m.c", g_repo);
    CHECK(patch_check(p, g_repo, false, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "src/m.c has staged changes"), "%s", err.msg);
    patch_free(p);
    repo_new();
    put("notes.txt", "a\n");
    p = parse("diff --git a/notes.txt b/notes.txt\n--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-a\n+b\n");
    CHECK(p && patch_check(p, g_repo, false, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "notes.txt is untracked (never committed)"), "%s", err.msg);
    patch_free(p);
    /* a directory that is a symbolic link is not followed */
    sh("cd '%s' && ln -s /tmp linkdir && git add linkdir && git -c user.name=t -c user.email=t@t commit -qm l", g_repo);
    p = parse("diff --git a/linkdir/x b/linkdir/x\nnew file mode 100644\n--- /dev/null\n+++ b/linkdir/x\n@@ -0,0 +1 @@\n+x\n");
    CHECK(p && patch_apply(p, g_repo, false, NULL, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "linkdir is a symbolic link"), "%s", err.msg);
    patch_free(p);
}

/* A write that fails half-way (the file-size limit) leaves every file as it
 * was and no undo record. */
static void test_all_or_nothing(void)
{
    repo_new();
    char big[8192 + 64];
    strcpy(big, "diff --git a/src/m.c b/src/m.c\n--- a/src/m.c\n+++ b/src/m.c\n@@ -1,2 +1,3 @@\n int a;\n int b;\n"
                "+int c;\ndiff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,3 @@\n one\n+");
    size_t n = strlen(big);
    memset(big + n, 'x', 6000);
    strcpy(big + n + 6000, "\n two\n");
    patch_t *p = parse(big);
    if (!p)
        return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        errmsg_t err = {0};
        int rc = patch_apply(p, g_repo, false, NULL, &err);
        bool ok = rc == OCT_EIO && strstr(err.msg, "f.txt: write failed") &&
                  strstr(err.msg, "nothing was changed");
        if (!ok)
            printf("    child: rc %d: %s\n", rc, err.msg);
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(repo_clean());
    CHECK_EQ_STR(get("src/m.c"), M_C);
    char rec[512];
    snprintf(rec, sizeof rec, "%s/.git/octet/undo/000001", g_repo);
    CHECK(access(rec, F_OK) != 0);
    CHECK(sh("cd '%s' && test -z \"$(find . -name '.octet-tmp-*')\"", g_repo) == 0);
    patch_free(p);
}

static void test_undo_after_edit(void)
{
    repo_new();
    errmsg_t err = {0};
    patch_t *p = parse(MULTI);
    CHECK(p && patch_apply(p, g_repo, false, NULL, &err) == 0);
    patch_free(p);
    put("f.txt", "edited later\n");
    patch_undo_t *u = NULL;
    CHECK(patch_undo_peek(g_repo, &u, &err) == 0);
    if (u) {
        CHECK_EQ_INT(u->n_changed, 1);
        CHECK(u->files[0].changed && !strcmp(u->files[0].path, "f.txt"));
        patch_undo_free(u);
    }
    CHECK(patch_undo(g_repo, false, NULL, &err) == OCT_EINVAL);
    CHECKF(strstr(err.msg, "1 file changed since the patch was applied (f.txt): nothing was restored"), "%s", err.msg);
    CHECK_EQ_STR(get("f.txt"), "edited later\n");
    CHECK_EQ_STR(get("lib/new.h"), "#pragma once\nint c;\n");
    sh("rm '%s/lib/new.h'", g_repo);
    CHECK(patch_undo(g_repo, true, NULL, &err) == 0);
    CHECK(repo_clean());
}

static void test_lock(void)
{
    repo_new();
    errmsg_t err = {0};
    char lock[512];
    snprintf(lock, sizeof lock, "%s/.git/octet", g_repo);
    sh("mkdir -p '%s/undo'", lock);
    snprintf(lock, sizeof lock, "%s/.git/octet/undo.lock", g_repo);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    patch_t *p = parse(MULTI);
    CHECK(p && patch_apply(p, g_repo, false, NULL, &err) == OCT_EIO);
    CHECK(strstr(err.msg, "another octet apply or undo is running") != NULL);
    close(fd);
    CHECK(repo_clean());
    CHECK(p && patch_apply(p, "/", false, NULL, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "not inside a git repository") != NULL);
    patch_free(p);
}

/* ---- diffs written by a model ---------------------------------------------------------- */

static void test_extract(void)
{
    repo_new();
    errmsg_t err = {0};
    char *d = NULL;
    /* no diff --git line, no a/ b/ prefixes, wrong counts and line numbers, a blank context line */
    const char *reply = "Here is the change:\n\n```diff\n--- f.txt\n+++ f.txt\n@@ -10,2 +10,2 @@\n four\n-five\n+5\n\n"
                        "```\nThat renames five.\n";
    put("f.txt", "one\ntwo\nthree\nfour\nfive\n\nseven\n");
    sh("cd '%s' && git -c user.name=t -c user.email=t@t commit -qam blank", g_repo);
    CHECKF(patch_extract(reply, g_repo, &d, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(d, "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -4,2 +4,2 @@\n four\n-five\n+5\n");
    patch_t *p = d ? parse(d) : NULL;
    CHECKF(p && patch_apply(p, g_repo, false, NULL, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(get("f.txt"), "one\ntwo\nthree\nfour\n5\n\nseven\n");
    patch_free(p);
    free(d);

    /* new and deleted files get their header lines; hunk counts recounted */
    reply = "```diff\n--- /dev/null\n+++ b/docs/x.md\n@@ -0,0 +1,9 @@\n+# X\n+text\n--- a/old.txt\n+++ /dev/null\n"
            "@@ -1 +1 @@\n-old\n```";
    CHECKF(patch_extract(reply, g_repo, &d, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(d, "diff --git a/docs/x.md b/docs/x.md\nnew file mode 100644\n--- /dev/null\n+++ b/docs/x.md\n"
                    "@@ -0,0 +1,2 @@\n+# X\n+text\ndiff --git a/old.txt b/old.txt\ndeleted file mode 100644\n"
                    "--- a/old.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-old\n");
    p = d ? parse(d) : NULL;
    CHECKF(p && patch_check(p, g_repo, false, &err) == 0, "%s", err.msg);
    patch_free(p);
    free(d);

    /* the ```diff block wins over other blocks; a reply without a diff is an error */
    reply = "```python\nprint(1)\n```\n```diff\ndiff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n"
            "-one\n+1\n```";
    CHECK(patch_extract(reply, NULL, &d, &err) == 0);
    CHECK(d && strstr(d, "@@ -1,1 +1,1 @@\n-one\n+1\n"));
    free(d);
    CHECK(patch_extract("I would rename the function.", NULL, &d, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "the reply has no unified diff") != NULL && d == NULL);
    CHECK(patch_extract("```diff\n--- \n+++ \n@@ -1 +1 @@\n-a\n+b\n```", NULL, &d, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "names no file") != NULL);
    /* the hunk's position is where its old lines are, nearest to the stated one */
    put("g.txt", "x\ny\nx\ny\nx\ny\n");
    CHECK(patch_extract("--- a/g.txt\n+++ b/g.txt\n@@ -5,2 +5,2 @@\n x\n-y\n+Y\n", g_repo, &d, &err) == 0);
    CHECK(d && strstr(d, "@@ -5,2 +5,2 @@"));
    free(d);
    /* lines 1 and 3 are equally near the stated line 2: refused, not guessed */
    CHECK(patch_extract("--- a/g.txt\n+++ b/g.txt\n@@ -2,2 +2,2 @@\n x\n-y\n+Y\n", g_repo, &d, &err) == OCT_EINVAL);
    CHECK(d == NULL && strstr(err.msg, "g.txt: hunk 1") && strstr(err.msg, "line 1 and at line 3, equally near"));
    /* trailing blanks: the hunk carries the file's own lines */
    CHECK(patch_extract("--- a/g.txt\n+++ b/g.txt\n@@ -5,2 +5,2 @@\n x \n-y\t\n+Y\n", g_repo, &d, &err) == 0);
    CHECK(d && strstr(d, "@@ -5,2 +5,2 @@\n x\n-y\n+Y\n"));
    free(d);
    /* "diff --git" with its ---/+++ pair is one section, not two */
    CHECK(patch_extract("diff --git a/g.txt b/g.txt\n--- a/g.txt\n+++ b/g.txt\n@@ -5,2 +5,2 @@\n x\n-y\n+Y\n", g_repo,
                        &d, &err) == 0);
    CHECK(d && strstr(d, "diff --git") == d && !strstr(d + 1, "diff --git"));
    free(d);
}

/* patch_normalize: what `octet apply` takes (tests/e2e/edit.sh runs it end to end) */
static void test_normalize(void)
{
    char *d = NULL, *notes = NULL;
    errmsg_t err = {0};
    put("n.txt", "a\nb\nc\nd\ne\nf\ng\n");
    const char *plain = "--- n.txt.orig\t2026-01-01 00:00:00\n+++ n.txt\t2026-01-01 00:00:01\n@@ -3,3 +3,3 @@\n d\n-e\n+E\n f\n";
    CHECK(patch_normalize(plain, strlen(plain), "p.diff", g_repo, &d, &notes, &err) == 0);
    CHECK(d && strstr(d, "diff --git a/n.txt b/n.txt\n--- a/n.txt\n+++ b/n.txt\n@@ -4,3 +4,3 @@\n d\n-e\n+E\n f\n"));
    CHECK(notes && !strcmp(notes, "n.txt: hunk 1 applied 1 line lower (at line 4, not 3)\n"));
    free(d);
    free(notes);
    const char *nowhere = "--- a/n.txt\n+++ b/n.txt\n@@ -3,3 +3,3 @@\n d\n-x\n+E\n f\n";
    CHECK(patch_normalize(nowhere, strlen(nowhere), "p.diff", g_repo, &d, &notes, &err) == OCT_EINVAL);
    CHECK(d == NULL && notes == NULL && strstr(err.msg, "n.txt: hunk 1") && strstr(err.msg, "not in the file"));
    CHECK(patch_normalize("just words\n", 11, "p.diff", g_repo, &d, &notes, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "p.diff: no patch found") != NULL);
}

static void test_colorize(void)
{
    char *c = patch_colorize("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n ctx\n", true);
    CHECK_EQ_STR(c, "\033[1mdiff --git a/f b/f\033[0m\n\033[1m--- a/f\033[0m\n\033[1m+++ b/f\033[0m\n"
                    "\033[36m@@ -1,2 +1,2 @@\033[0m\n\033[31m--- x\033[0m\n\033[32m+++ y\033[0m\n ctx\n");
    free(c);
    c = patch_colorize("plain\n", false);
    CHECK_EQ_STR(c, "plain\n");
    free(c);
}

int main(void)
{
    TEST_RUN(test_parse);
    TEST_RUN(test_parse_errors);
    TEST_RUN(test_apply_and_undo);
    TEST_RUN(test_modes_renames_stack);
    TEST_RUN(test_conflict);
    TEST_RUN(test_dirty_files);
    TEST_RUN(test_all_or_nothing);
    TEST_RUN(test_undo_after_edit);
    TEST_RUN(test_lock);
    TEST_RUN(test_extract);
    TEST_RUN(test_normalize);
    TEST_RUN(test_colorize);
    if (g_repo[0])
        sh("rm -rf '%s'", g_repo);
    TEST_END();
}
