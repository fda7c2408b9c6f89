/* test_lines.c - line drafts in diffs (engine/lines.h) with real
 * tokenizers: the shipped model's byte-level BPE and llama's SentencePiece
 * (tests/fixtures/vocab). An answer is pushed token by token as its own
 * tokenizer spells it and the drafts are read back as text: a hunk's first
 * line placed by its start, the next lines
 * of the file behind their markers, a removed line written again with the
 * replacement the answer made before, a hunk that ends after three lines of
 * context, the next hunk found from the first one's line numbers, and no
 * draft outside a hunk or where the answer leaves the file; the same rename
 * as search/replace blocks (a SEARCH line placed by its start, its REPLACE
 * line the SEARCH line again, the whole next block once the replacement is
 * known); random answers. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "lines.h"
#include "test.h"
#include "tokenizer.h"

static const char *const TOKS[] = {"models/octet-code.gguf", "tests/fixtures/vocab/ggml-vocab-llama-spm.gguf"};

/* 23 lines; "count" is renamed to "total" on lines 3, 4 and 21. */
static const char FILE_TEXT[] = "#include <stdio.h>\n"
                                "\n"
                                "static int count;\n"
                                "void add(int n) { count += n; }\n"
                                "\n"
                                "/* one */\n"
                                "int a1(void) { return 1; }\n"
                                "int a2(void) { return 2; }\n"
                                "int a3(void) { return 3; }\n"
                                "int a4(void) { return 4; }\n"
                                "int a5(void) { return 5; }\n"
                                "int a6(void) { return 6; }\n"
                                "int a7(void) { return 7; }\n"
                                "int a8(void) { return 8; }\n"
                                "int a9(void) { return 9; }\n"
                                "int b1(void) { return 10; }\n"
                                "int b2(void) { return 11; }\n"
                                "\n"
                                "int main(void)\n"
                                "{\n"
                                "    printf(\"%d\\n\", count);\n"
                                "    return 0;\n"
                                "}\n";

/* The bytes of token ID, appended to OUT when it is not NULL (tok_decode
 * would drop SentencePiece's leading space). */
static size_t piece(const tok_t *t, int32_t id, char *out)
{
    const char *p;
    size_t n = tok_piece(t, id, false, &p);
    if (out)
        strncat(out, p, n);
    return n;
}

static tok_t *load(const char *path)
{
    gguf_t *g = NULL;
    tok_t *t = NULL;
    errmsg_t err = {0};
    int rc = gguf_open(&g, path, &err);
    if (rc == 0)
        rc = tok_load(&t, g, &err);
    gguf_close(g);
    CHECKF(rc == 0, "%s: %s", path, err.msg);
    return t;
}

/* Push S as a model would write it after what came before: SentencePiece
 * puts a space before the text it encodes, so there S is encoded after a
 * newline and the tokens that spell S alone are pushed. */
static void push_text(lines_t *l, const tok_t *t, const char *s)
{
    bool spm = tok_kind(t) == TOK_KIND_SPM;
    size_t len = strlen(s);
    char *buf = malloc(len + 2);
    buf[0] = '\n';
    memcpy(buf + 1, s, len + 1);
    int32_t *ids = NULL;
    size_t n = 0, tail = 0, c;
    errmsg_t err = {0};
    CHECKF(tok_encode(t, spm ? buf : s, spm ? len + 1 : len, 0, &ids, &n, &err) == 0, "%s", err.msg);
    for (c = n; c > 0 && tail < len;)
        tail += piece(t, ids[--c], NULL);
    CHECKF(tail == len, "[%s] does not start at a token", s);
    CHECKF(lines_push(l, ids + c, n - c, &err) == 0, "%s", err.msg);
    free(ids);
    free(buf);
}

/* The draft after what was pushed, as text ("" for none). */
static char *draft(lines_t *l, const tok_t *t, size_t max)
{
    int32_t out[64];
    size_t n = 0;
    errmsg_t err = {0};
    CHECKF(lines_propose(l, max, out, &n, &err) == 0, "%s", err.msg);
    CHECK(n <= max);
    char *s = calloc(1, 64 * 64 + 1);
    for (size_t i = 0; i < n; i++)
        piece(t, out[i], s);
    return s;
}

#define CHECK_DRAFT(l, t, want)                                                          \
    do {                                                                                 \
        char *d_ = draft(l, t, 63);                                                      \
        CHECKF(d_ && !strncmp(d_, want, strlen(want)), "draft [%s], want it to start [%s]", \
               d_ ? d_ : "(null)", want);                                               \
        free(d_);                                                                        \
    } while (0)

#define CHECK_NO_DRAFT(l, t)                                   \
    do {                                                       \
        char *d_ = draft(l, t, 63);                            \
        CHECKF(d_ && !*d_, "draft [%s], want none", d_ ? d_ : "(null)"); \
        free(d_);                                              \
    } while (0)

static lines_t *start(const tok_t *t)
{
    lines_t *l = NULL;
    errmsg_t err = {0};
    CHECKF(lines_new(&l, t, &err) == 0, "%s", err.msg);
    if (!l)
        return NULL;
    push_text(l, t, "Rename count to total.\n\n");
    push_text(l, t, FILE_TEXT);
    push_text(l, t, "\n```diff\n--- a/x.c\n+++ b/x.c\n");
    return l;
}

static void test_rename_hunks(void)
{
    for (size_t i = 0; i < sizeof TOKS / sizeof *TOKS; i++) {
        tok_t *t = load(TOKS[i]);
        lines_t *l = t ? start(t) : NULL;
        if (!l) {
            tok_free(t);
            continue;
        }
        /* outside a hunk, and at its header: nothing known yet */
        CHECK_NO_DRAFT(l, t);
        push_text(l, t, "@@ -1,7 +1,7 @@\n");
        CHECK_NO_DRAFT(l, t);
        /* a line in progress placed by its start alone (one line of the prompt begins so) */
        push_text(l, t, " #include");
        CHECK_DRAFT(l, t, " <stdio.h>\n \n static int count;\n");
        /* the first line found: the next ones follow as context */
        push_text(l, t, " <stdio.h>\n");
        CHECK_DRAFT(l, t, " \n static int count;\n void add(int n) { count += n; }\n");
        /* the first removed line comes back as it was (no replacement known yet) */
        push_text(l, t, " \n-static int count;\n");
        CHECK_DRAFT(l, t, "+static int count;\n");
        /* the replacement learnt from it: the next line that has the word is
         * removed and written again with it, then context */
        push_text(l, t, "+static int total;\n");
        CHECK_DRAFT(l, t, "-void add(int n) { count += n; }\n+void add(int n) { total += n; }\n \n /* one */\n");
        /* in the middle of a line */
        push_text(l, t, "-void add(int n) {");
        CHECK_DRAFT(l, t, " count += n; }\n+void add(int n) { total += n; }\n");
        push_text(l, t, " count += n; }\n+void add(int n) { total += n; }\n \n /* one */\n int a1(void) { return 1; }\n");
        /* three lines of context after the change and none close ahead: the hunk ends */
        {
            char *d = draft(l, t, 63);
            CHECKF(d && !*d, "context past the hunk's end drafted: [%s]", d ? d : "(null)");
            free(d);
        }
        /* the next hunk, placed from the first one's numbers */
        push_text(l, t, "@@ -18,6 +18,6 @@\n");
        CHECK_DRAFT(l, t, " \n int main(void)\n {\n-    printf(\"%d\\n\", count);\n+    printf(\"%d\\n\", total);\n");
        /* a line that is not the file's next: no draft for it */
        push_text(l, t, " \n int main(void)\n {\n-    puts(");
        CHECK_NO_DRAFT(l, t);
        /* the hunk left */
        push_text(l, t, "x);\n```\n");
        CHECK_NO_DRAFT(l, t);
        lines_free(l);
        tok_free(t);
    }
}

#define CHECK_DRAFT_IS(l, t, want)                                                      \
    do {                                                                                \
        char *d_ = draft(l, t, 63);                                                     \
        CHECKF(d_ && !strcmp(d_, want), "draft [%s], want exactly [%s]", d_ ? d_ : "(null)", want); \
        free(d_);                                                                       \
    } while (0)

static void test_rename_blocks(void)
{
    for (size_t i = 0; i < sizeof TOKS / sizeof *TOKS; i++) {
        tok_t *t = load(TOKS[i]);
        lines_t *l = NULL;
        errmsg_t err = {0};
        CHECKF(!t || lines_new(&l, t, &err) == 0, "%s", err.msg);
        if (!l) {
            tok_free(t);
            continue;
        }
        push_text(l, t, "Rename count to total.\n\n");
        push_text(l, t, FILE_TEXT);
        push_text(l, t, "\n```\nx.c\n<<<<<<< SEARCH\n");
        /* (a draft keeps back its last token, here the newline: it may merge with what follows) */
        /* the first SEARCH line: nothing to go by yet */
        CHECK_NO_DRAFT(l, t);
        /* placed by its start; no replacement known, so the line alone */
        push_text(l, t, "static int");
        CHECK_DRAFT_IS(l, t, " count;");
        /* the next line of the prompt, one at most */
        push_text(l, t, " count;\n");
        CHECK_DRAFT_IS(l, t, "void add(int n) { count += n; }");
        /* REPLACE lines: the SEARCH lines again, then the marker */
        push_text(l, t, "void add(int n) { count += n; }\n=======\n");
        CHECK_DRAFT(l, t, "static int count;\nvoid add(int n) { count += n; }\n>>>>>>> REPLACE");
        /* the replacement learnt from the first REPLACE line */
        push_text(l, t, "static int total;\n");
        CHECK_DRAFT(l, t, "void add(int n) { total += n; }\n>>>>>>> REPLACE");
        push_text(l, t, "void add(int n) { total += n; }\n>>>>>>> REPLACE\n");
        /* between blocks, token lookup's turn */
        CHECK_NO_DRAFT(l, t);
        push_text(l, t, "```\n\n```\nx.c\n<<<<<<< SEARCH\n");
        /* the next block whole: the next line the replacement changes, unique in the prompt */
        CHECK_DRAFT_IS(l, t, "    printf(\"%d\\n\", count);\n=======\n    printf(\"%d\\n\", total);\n>>>>>>> REPLACE");
        /* in the middle of a REPLACE line */
        push_text(l, t, "    printf(\"%d\\n\", count);\n=======\n    printf(");
        CHECK_DRAFT(l, t, "\"%d\\n\", total);\n>>>>>>> REPLACE");
        /* a REPLACE line that is not the SEARCH line renamed: no draft */
        push_text(l, t, "count");
        CHECK_NO_DRAFT(l, t);
        push_text(l, t, ");\n>>>>>>> REPLACE\n```\n");
        CHECK_NO_DRAFT(l, t);
        lines_free(l);
        tok_free(t);
    }
}

/* Drafts never exceed MAX tokens and spell a prefix of the full draft. */
static void test_max(void)
{
    tok_t *t = load(TOKS[0]);
    lines_t *l = t ? start(t) : NULL;
    if (l) {
        push_text(l, t, "@@ -1,7 +1,7 @@\n #include <stdio.h>\n");
        char *full = draft(l, t, 63);
        for (size_t max = 1; max < 8; max++) {
            char *d = draft(l, t, max);
            CHECKF(d && full && !strncmp(full, d, strlen(d)) && *d, "max %zu: [%s] vs [%s]", max, d ? d : "",
                   full ? full : "");
            free(d);
        }
        free(full);
    }
    lines_free(l);
    tok_free(t);
}

/* Any answer at all: random pieces of diffs and of the file, with drafts
 * asked for after each; nothing is checked but that drafts stay within MAX
 * and that nothing breaks (run under ASan by make asan). */
static void test_random_answers(void)
{
    static const char *const bits[] = {"@@ -1,3 +1,3 @@\n", "@@ -18,6 +18,6 @@\n", "@@ -99999999999999999999,1 @@\n",
                                       "@@", " ", "-", "+", "\n", "\\ No newline at end of file\n", "count",
                                       "total", " count += n; }", "static int count;", "int a1(void) { return 1; }",
                                       "{", "}", "\t", "\xc3\xa9", "\xff", "```\n", "<<<<<<< SEARCH\n",
                                       "=======\n", ">>>>>>> REPLACE\n", "static int total;\n"};
    tok_t *t = load(TOKS[0]);
    lines_t *l = t ? start(t) : NULL;
    unsigned x = 12345;
    for (int i = 0; l && i < 3000; i++) {
        x = x * 1103515245u + 12345u;
        const char *b = bits[(x >> 16) % (sizeof bits / sizeof *bits)];
        int32_t *ids = NULL, out[16];
        size_t n = 0, k = 0;
        errmsg_t err = {0};
        CHECK(tok_encode(t, b, strlen(b), 0, &ids, &n, &err) == 0);
        CHECK(lines_push(l, ids, n, &err) == 0);
        free(ids);
        size_t max = 1 + (x >> 8) % 15;
        CHECK(lines_propose(l, max, out, &k, &err) == 0 && k <= max);
    }
    lines_free(l);
    tok_free(t);
}

int main(void)
{
    TEST_RUN(test_rename_hunks);
    TEST_RUN(test_rename_blocks);
    TEST_RUN(test_max);
    TEST_RUN(test_random_answers);
    TEST_END();
}
