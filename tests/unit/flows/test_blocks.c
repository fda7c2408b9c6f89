/* test_blocks.c - search/replace blocks (flows/blocks.c): parsing (paths
 * outside and inside fences, carried to the next block, malformed markers
 * and unsafe paths refused with the block and line), matching in a file
 * (exactly, modulo indentation with the replacement re-indented, ambiguous
 * and absent SEARCH refused, CRLF files, files without a final newline,
 * blocks applied in order) and the diff of a real git work tree, applied
 * and undone by flows/patch.c (file creation, several files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "patch.h"
#include "test.h"
#include "test_repo.h"

static blocks_t *parse(const char *text)
{
    blocks_t *b = NULL;
    errmsg_t err = {0};
    CHECKF(blocks_parse(&b, text, strlen(text), "e.txt", &err) == 0, "%s", err.msg);
    return b;
}

static void parse_bad(const char *text, int code, const char *want)
{
    blocks_t *b = NULL;
    errmsg_t err = {0};
    int rc = blocks_parse(&b, text, strlen(text), "e.txt", &err);
    CHECKF(rc == code && !b, "rc %d for: %s", rc, text);
    CHECKF(strstr(err.msg, want) && !strchr(err.msg, '\n'), "message '%s' lacks '%s'", err.msg, want);
    blocks_free(b);
}

/* TEXT's blocks applied to OLD as file PATH: the new contents ("<error: MSG>"
 * when refused), valid until the next call; *NOTES (may be NULL) too. */
static const char *edit(const char *text, const char *path, const char *old, const char **notes)
{
    static char got[4096], nt[1024];
    blocks_t *b = parse(text);
    char *out = NULL, *n = NULL;
    size_t len = 0;
    errmsg_t err = {0};
    nt[0] = '\0';
    if (!b)
        return "<unparsed>";
    if (blocks_edit(b, path, old, old ? strlen(old) : 0, &out, &len, &n, &err))
        snprintf(got, sizeof got, "<error: %s>", err.msg);
    else
        snprintf(got, sizeof got, "%s", out ? out : "<absent>");
    CHECK(!out || strlen(out) == len);
    if (n)
        snprintf(nt, sizeof nt, "%s", n);
    if (notes)
        *notes = nt;
    free(out);
    free(n);
    blocks_free(b);
    return got;
}

static const char PY[] = "def f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n        y = 2\n        return y\n";

static void test_parse(void)
{
    /* the path before the fence, inside it, decorated, or carried from the block before */
    blocks_t *b = parse("Edits:\n\nsrc/a.py\n```python\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n"
                        "```\n**b.py**:\n<<<<<<< SEARCH\n=======\nnew\n>>>>>>> REPLACE\n```\n"
                        "<<<<<<< SEARCH\nnew\n=======\nnewer\n>>>>>>> REPLACE\n"
                        "`./c/d.py`\n<<<<<<<  SEARCH  \nz\n=======\n>>>>>>> REPLACE");
    if (b) {
        CHECK_EQ_INT(blocks_count(b), 4);
        CHECK_EQ_INT(blocks_n_files(b), 3);
        CHECK_EQ_STR(blocks_file(b, 0), "src/a.py");
        CHECK_EQ_STR(blocks_file(b, 1), "b.py");
        CHECK_EQ_STR(blocks_file(b, 2), "c/d.py");
        CHECK(blocks_file(b, 3) == NULL);
    }
    blocks_free(b);
    /* "=======" inside REPLACE is text; CRLF source lines */
    CHECK_EQ_STR(edit("t.rst\r\n<<<<<<< SEARCH\r\nTitle\r\n=======\r\nTitle\r\n=======\r\n>>>>>>> REPLACE\r\n", "t.rst",
                      "Title\nbody\n", NULL),
                 "Title\n=======\nbody\n");

    CHECK(blocks_detect("x\n<<<<<<< SEARCH\r\n", 17));
    CHECK(!blocks_detect("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-<<<<<<< SEARCH\n", 61));
    CHECK(!blocks_detect("<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n", 49));
    /* a reply cut off inside its second block keeps the first */
    static const char cut[] = "a\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n\na\n<<<<<<< SEARCH\nz\n";
    CHECK_EQ_INT(blocks_complete_len(cut, strlen(cut)), strstr(cut, "REPLACE\n") + 8 - cut);
    CHECK_EQ_INT(blocks_complete_len("a\n<<<<<<< SEARCH\nx\n", 19), 0);
    CHECK_EQ_INT(blocks_complete_len("no blocks", 9), 9);
}

static void test_malformed(void)
{
    parse_bad("Nothing to change here.\n", OCT_ENOTFOUND, "e.txt: no search/replace blocks");
    parse_bad("a.py\n<<<<<<< SEARCH\nx\ny\n", OCT_EFORMAT, "e.txt: block 1 (line 2): no ======= after its <<<<<<< SEARCH");
    parse_bad("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n", OCT_EFORMAT,
              "block 1 (line 2): no >>>>>>> REPLACE after its =======");
    parse_bad("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", OCT_EFORMAT,
              "block 1 (line 2): a >>>>>>> REPLACE at line 4 before its =======");
    parse_bad("a.py\n<<<<<<< SEARCH\nx\n=======\n<<<<<<< SEARCH\n", OCT_EFORMAT,
              "block 1 (line 2): a second <<<<<<< SEARCH at line 5 before its >>>>>>> REPLACE");
    parse_bad("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n>>>>>>> REPLACE\n", OCT_EFORMAT,
              "e.txt:7: a >>>>>>> REPLACE line outside any block");
    parse_bad("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", OCT_EFORMAT,
              "block 1 (line 1): no file path on the line before <<<<<<< SEARCH");
    parse_bad("Change it like this:\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", OCT_EFORMAT,
              "no file path on the line before <<<<<<< SEARCH ('Change it like this:' is not a path)");
    parse_bad("../etc/passwd\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", OCT_EFORMAT,
              "block 1 (line 2): the path '../etc/passwd' has an empty, '.' or '..' component; refused");
    parse_bad("ok.py\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n.GIT/hooks/pre-commit\n<<<<<<< SEARCH\n=======\n"
              "rm -rf /\n>>>>>>> REPLACE\n", OCT_EFORMAT, "block 2 (line 6): the path '.GIT/hooks/pre-commit' is inside .git");
    parse_bad("/etc/passwd\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", OCT_EFORMAT, "is absolute");
    blocks_t *b = NULL;
    errmsg_t err = {0};
    CHECK_EQ_INT(blocks_parse(&b, "a\n<<<<<<< SEARCH\n\0\n", 19, "e.txt", &err), OCT_EFORMAT);
    CHECKF(strstr(err.msg, "NUL byte"), "%s", err.msg);
}

static void test_match(void)
{
    const char *notes = NULL;
    /* exact */
    CHECK_EQ_STR(edit("m.py\n<<<<<<< SEARCH\n        y = 2\n=======\n        y = 3\n>>>>>>> REPLACE\n", "m.py", PY,
                      &notes),
                 "def f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n        y = 3\n        return y\n");
    CHECK_EQ_STR(notes, "");
    /* the file indented more: the replacement gets the 4 spaces too (blank lines stay blank) */
    CHECK_EQ_STR(edit("m.py\n<<<<<<< SEARCH\ndef g(self):\n    y = 2\n=======\ndef g(self):\n\n    y = 3  # three\n"
                      ">>>>>>> REPLACE\n", "m.py", PY, &notes),
                 "def f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n\n        y = 3  # three\n        return y\n");
    CHECK_EQ_STR(notes, "m.py: block 1 (line 2) matched at line 6, where the file has 4 more spaces of indentation; "
                        "its replacement was re-indented\n");
    /* the file indented less: the difference comes off */
    CHECK_EQ_STR(edit("m.py\n<<<<<<< SEARCH\n        def f(x):\n            return x + 1\n=======\n"
                      "        def f(x, k=1):\n            return x + k\n>>>>>>> REPLACE\n", "m.py", PY, &notes),
                 "def f(x, k=1):\n    return x + k\n\n\nclass A:\n    def g(self):\n        y = 2\n        return y\n");
    CHECK(strstr(notes, "where the file has 8 fewer spaces of indentation"));
    /* tabs against spaces are not a uniform difference */
    CHECK_EQ_STR(edit("m.py\n<<<<<<< SEARCH\n\ty = 2\n\treturn y\n=======\n\ty = 3\n>>>>>>> REPLACE\n", "m.py", PY, NULL),
                 "<error: e.txt: block 1 (line 2), m.py: its SEARCH lines are not in the file, not even modulo "
                 "indentation (its lines are at line 7 but indented unevenly or with other trailing blanks)>");
    /* ambiguous: exactly, then modulo indentation */
    static const char TWICE[] = "def a():\n    return 1\n\ndef b():\n    return 1\n";
    CHECK_EQ_STR(edit("t.py\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n", "t.py", TWICE, NULL),
                 "<error: e.txt: block 1 (line 2), t.py: its SEARCH lines are at line 2 and at line 5; refusing to "
                 "guess (add lines to SEARCH to make it unique)>");
    CHECK_EQ_STR(edit("t.py\n<<<<<<< SEARCH\nreturn 1\n=======\nreturn 2\n>>>>>>> REPLACE\n", "t.py", TWICE, NULL),
                 "<error: e.txt: block 1 (line 2), t.py: its SEARCH lines are, modulo indentation, at line 2 and at "
                 "line 5; refusing to guess (add lines to SEARCH to make it unique)>");
    /* exact wins over a loose match elsewhere */
    CHECK_EQ_STR(edit("t.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", "t.py", "x = 1\nif y:\n    x = 1\n",
                      NULL),
                 "x = 2\nif y:\n    x = 1\n");
    /* nowhere: the closest place is named */
    CHECK_EQ_STR(edit("m.py\n<<<<<<< SEARCH\nclass A:\n    def g(self):\n        y = 5\n=======\n>>>>>>> REPLACE\n", "m.py",
                      PY, NULL),
                 "<error: e.txt: block 1 (line 2), m.py: its SEARCH lines are not in the file, not even modulo "
                 "indentation (the closest: its first 2 of 3 lines are at line 5, then line 7 of the file differs)>");
    /* a file that is not there, unless the SEARCH is empty */
    CHECK_EQ_STR(edit("n.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "n.py", NULL, NULL),
                 "<error: e.txt: block 1 (line 2), n.py: the file does not exist (only a block with an empty SEARCH "
                 "creates one)>");
    CHECK_EQ_STR(edit("n.py\n<<<<<<< SEARCH\n=======\nprint(1)\n>>>>>>> REPLACE\n", "n.py", NULL, NULL), "print(1)\n");
    CHECK_EQ_STR(edit("e\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n", "e", NULL, NULL), ""); /* an empty file */
    /* blocks apply in order, each to what the ones before left; an empty SEARCH on an existing file appends */
    CHECK_EQ_STR(edit("n.py\n<<<<<<< SEARCH\n=======\na = 1\n>>>>>>> REPLACE\nn.py\n<<<<<<< SEARCH\na = 1\n=======\n"
                      "a = 2\n>>>>>>> REPLACE\nn.py\n<<<<<<< SEARCH\n=======\nb = 3\n>>>>>>> REPLACE\n", "n.py", NULL, &notes),
                 "a = 2\nb = 3\n");
    CHECK_EQ_STR(notes, "n.py: block 3 (line 13) has an empty SEARCH: its lines were added at the end of the file\n");
    /* blocks for other files leave this one alone */
    CHECK_EQ_STR(edit("o.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "m.py", PY, NULL), PY);
    /* a binary file is refused */
    blocks_t *b = parse("bin\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n");
    char *out = NULL, *nt = NULL;
    size_t len = 0;
    errmsg_t err = {0};
    CHECK_EQ_INT(blocks_edit(b, "bin", "x\0y\n", 4, &out, &len, &nt, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "bin is a binary file"), "%s", err.msg);
    CHECK(!out && !nt);
    blocks_free(b);
}

/* Hostile input takes bounded time: a SEARCH whose lines nearly match at
 * every place of a long file is refused once the comparisons run out. */
static void test_bounded(void)
{
    size_t n_file = 200000, n_search = 3000;
    char *file = malloc(2 * n_file + 1), *text = malloc(2 * n_search + 64);
    if (!file || !text) {
        free(file);
        free(text);
        CHECK(!"out of memory");
        return;
    }
    for (size_t i = 0; i < n_file; i++)
        memcpy(file + 2 * i, "a\n", 2);
    file[2 * n_file] = '\0';
    char *t = text + sprintf(text, "big.txt\n<<<<<<< SEARCH\n");
    for (size_t i = 0; i < n_search; i++)
        t += sprintf(t, "a\n");
    sprintf(t, "b\n=======\n>>>>>>> REPLACE\n");
    CHECK(!strncmp(edit(text, "big.txt", file, NULL), "<error: e.txt: block 1 (line 2), big.txt: looking for its 3001 "
                                                      "SEARCH lines among the file's 200000 takes too long; refused", 114));
    free(file);
    free(text);
}

static void test_line_ends(void)
{
    /* a CRLF file keeps CRLF, on the new lines too, whatever the blocks' own ends */
    CHECK_EQ_STR(edit("w.txt\n<<<<<<< SEARCH\nb\n=======\nB\nB2\n>>>>>>> REPLACE\n", "w.txt", "a\r\nb\r\nc\r\n", NULL),
                 "a\r\nB\r\nB2\r\nc\r\n");
    CHECK_EQ_STR(edit("w.txt\r\n<<<<<<< SEARCH\r\nb\r\n=======\r\nB\r\n>>>>>>> REPLACE\r\n", "w.txt", "a\nb\nc\n", NULL),
                 "a\nB\nc\n");
    /* no newline at the end: still none after replacing the last line; appending ends the old one */
    CHECK_EQ_STR(edit("w.txt\n<<<<<<< SEARCH\nc\n=======\nC\nD\n>>>>>>> REPLACE\n", "w.txt", "a\r\nc", NULL),
                 "a\r\nC\r\nD");
    CHECK_EQ_STR(edit("w.txt\n<<<<<<< SEARCH\n=======\nd\n>>>>>>> REPLACE\n", "w.txt", "a\nc", NULL), "a\nc\nd\n");
    CHECK_EQ_STR(edit("w.txt\n<<<<<<< SEARCH\nc\n=======\n>>>>>>> REPLACE\n", "w.txt", "a\nc", NULL), "a\n");
}

static bool repo_clean(void)
{
    return sh("cd '%s' && test -z \"$(git status --porcelain)\"", g_repo) == 0;
}

/* TEXT applied to the repository: its diff parsed, checked and applied. */
static int apply(const char *text, char **notes, errmsg_t *err)
{
    blocks_t *b = NULL;
    char *diff = NULL, *record = NULL;
    patch_t *p = NULL;
    *notes = NULL;
    int rc = blocks_parse(&b, text, strlen(text), "e.txt", err);
    if (!rc)
        rc = blocks_diff(b, g_repo, &diff, notes, err);
    if (!rc)
        rc = patch_parse(&p, diff, strlen(diff), "e.txt", err);
    if (!rc)
        rc = patch_check(p, g_repo, false, err);
    if (!rc)
        rc = patch_apply(p, g_repo, false, &record, err);
    patch_free(p);
    blocks_free(b);
    free(diff);
    free(record);
    return rc;
}

static void test_work_tree(void)
{
    repo_dir("blocks");
    put("m.py", PY);
    put("lib/w.txt", "a\r\nb\r\nc\r\n");
    put("run.sh", "echo hi\n");
    sh("chmod 755 '%s/run.sh'", g_repo);
    repo_commit();
    errmsg_t err = {0};
    char *notes = NULL, *diff = NULL;
    /* several blocks in several files, one of them new: one diff, applied all at once */
    static const char EDITS[] = "m.py\n```python\n<<<<<<< SEARCH\ndef g(self):\n    y = 2\n=======\ndef g(self):\n"
                                "    y = 3\n>>>>>>> REPLACE\n```\n\nlib/w.txt\n<<<<<<< SEARCH\nb\n=======\nB\n"
                                ">>>>>>> REPLACE\n\nnew/dir/n.py\n<<<<<<< SEARCH\n=======\nprint('hi')\n>>>>>>> REPLACE\n"
                                "run.sh\n<<<<<<< SEARCH\necho hi\n=======\necho bye\n>>>>>>> REPLACE\n";
    blocks_t *b = parse(EDITS);
    if (!b)
        return;
    CHECKF(blocks_diff(b, g_repo, &diff, &notes, &err) == 0, "%s", err.msg);
    CHECKF(diff && !strncmp(diff, "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ ", 50), "%s", diff);
    CHECKF(diff && strstr(diff, "diff --git a/new/dir/n.py b/new/dir/n.py\nnew file mode 100644\n--- /dev/null\n"
                                "+++ b/new/dir/n.py\n@@ -0,0 +1 @@\n+print('hi')\n"), "%s", diff);
    CHECKF(diff && strstr(diff, "-b\r\n+B\r\n") && !strstr(diff, "index "), "%s", diff);
    CHECK(notes && strstr(notes, "m.py: block 1 (line 3) matched at line 6"));
    free(diff);
    free(notes);
    blocks_free(b);
    CHECKF(apply(EDITS, &notes, &err) == 0, "%s", err.msg);
    free(notes);
    CHECK(strstr(get("m.py"), "        y = 3\n"));
    CHECK_EQ_STR(get("lib/w.txt"), "a\r\nB\r\nc\r\n");
    CHECK_EQ_STR(get("new/dir/n.py"), "print('hi')\n");
    CHECK_EQ_STR(get("run.sh"), "echo bye\n");
    CHECK(sh("test -x '%s/run.sh'", g_repo) == 0); /* the mode stays */
    /* stacked: a second edit of octet's own edit goes ahead; undo unwinds both */
    CHECKF(apply("run.sh\n<<<<<<< SEARCH\necho bye\n=======\necho ciao\n>>>>>>> REPLACE\n", &notes, &err) == 0, "%s",
           err.msg);
    CHECK_EQ_STR(get("run.sh"), "echo ciao\n");
    CHECK(patch_undo(g_repo, false, NULL, &err) == 0 && patch_undo(g_repo, false, NULL, &err) == 0);
    CHECK(repo_clean());
    CHECK_EQ_STR(get("new/dir/n.py"), "<absent>");
    /* an empty new file: a diff of its header alone */
    CHECKF(apply("e/empty.txt\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n", &notes, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(get("e/empty.txt"), "");
    CHECKF(patch_undo(g_repo, false, NULL, &err) == 0, "%s", err.msg);
    CHECKF(repo_clean(), "%s", get("e/empty.txt"));

    /* refusals change nothing: a block made ambiguous by the one before it, one that matches nowhere */
    CHECK_EQ_INT(apply("lib/w.txt\n<<<<<<< SEARCH\na\n=======\nA\n>>>>>>> REPLACE\n"
                       "m.py\n<<<<<<< SEARCH\n        y = 2\n=======\n        return y\n>>>>>>> REPLACE\n"
                       "m.py\n<<<<<<< SEARCH\n        return y\n=======\n>>>>>>> REPLACE\n", &notes, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "e.txt: block 3 (line 14), m.py: its SEARCH lines are at line 7 and at line 8;"), "%s",
           err.msg);
    CHECK_EQ_INT(apply("m.py\n<<<<<<< SEARCH\n    return\n=======\n>>>>>>> REPLACE\n", &notes, &err), OCT_EINVAL);
    CHECK(repo_clean());
    /* a file with someone else's changes is refused by the patch check */
    put("m.py", "x = 1\n");
    CHECK(apply("m.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", &notes, &err) != 0);
    CHECKF(strstr(err.msg, "uncommitted"), "%s", err.msg);
    CHECK_EQ_STR(get("m.py"), "x = 1\n");
    sh("cd '%s' && git checkout -q m.py", g_repo);
    /* changing nothing, a link, a directory, a binary file */
    CHECK_EQ_INT(apply("m.py\n<<<<<<< SEARCH\nclass A:\n=======\nclass A:\n>>>>>>> REPLACE\n", &notes, &err),
                 OCT_EINVAL);
    CHECKF(strstr(err.msg, "the blocks change nothing"), "%s", err.msg);
    sh("cd '%s' && ln -s lib lnk && ln -s m.py m2.py && printf 'a\\0b\\n' > bin.dat", g_repo);
    CHECK_EQ_INT(apply("lnk/w.txt\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", &notes, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "lnk/w.txt: lnk is a symbolic link"), "%s", err.msg);
    CHECK_EQ_INT(apply("m2.py\n<<<<<<< SEARCH\nclass A:\n=======\nclass B:\n>>>>>>> REPLACE\n", &notes, &err),
                 OCT_EINVAL);
    CHECK_EQ_INT(apply("lib\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", &notes, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "lib: not a regular file"), "%s", err.msg);
    CHECK_EQ_INT(apply("bin.dat\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", &notes, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "binary"), "%s", err.msg);
    CHECK_EQ_STR(get("lib/w.txt"), "a\r\nb\r\nc\r\n");
    sh("rm -rf '%s'", g_repo);
}

int main(void)
{
    TEST_RUN(test_parse);
    TEST_RUN(test_malformed);
    TEST_RUN(test_match);
    TEST_RUN(test_bounded);
    TEST_RUN(test_line_ends);
    TEST_RUN(test_work_tree);
    TEST_END();
}
