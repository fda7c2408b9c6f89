/* test_markdown.c - what the TUI draws for an entry (tui/markdown.c,
 * tui/highlight.c): Markdown/code-block splitting, entry rendering, syntax
 * highlighting, and diff coloring down to the rendered cells. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "highlight.h"
#include "markdown.h"
#include "test.h"
#include "text.h"

/* Line I of L as UTF-8. */
static const char *line(const tui_lines_t *l, size_t i)
{
    static char buf[1024];
    if (i >= l->n)
        return "(no such line)";
    tui_line_text(&l->v[i], buf, sizeof buf);
    return buf;
}

/* ---- markdown ---------------------------------------------------------------- */

static void test_md_split(void)
{
    const char t[] = "Intro text.\n\n```c\nint x;\n```\nmiddle\n~~~~ python extra\nprint(1)\n~~~\n~~~~\nend";
    tui_md_block_t *b = NULL;
    size_t n = 0;
    CHECK(tui_md_split(t, strlen(t), &b, &n) == 0);
    CHECK_EQ_INT(n, 5);
    if (n == 5) {
        CHECK_EQ_INT(b[0].kind, TUI_MD_PROSE);
        CHECK(b[0].len == 12 && !memcmp(t + b[0].start, "Intro text.\n", 12));
        CHECK_EQ_INT(b[1].kind, TUI_MD_CODE);
        CHECK_EQ_STR(b[1].lang, "c");
        CHECK(b[1].closed);
        CHECK(b[1].len == 6 && !memcmp(t + b[1].start, "int x;", 6));
        CHECK(b[2].len == 6 && !memcmp(t + b[2].start, "middle", 6));
        /* a 4-tilde fence is not closed by 3 tildes */
        CHECK_EQ_STR(b[3].lang, "python");
        CHECK(b[3].len == 12 && !memcmp(t + b[3].start, "print(1)\n~~~", 12));
        CHECK(!memcmp(t + b[4].start, "end", 3));
    }
    free(b);
    /* streaming: an open block runs to the end; ``` inside a line is not a fence */
    const char s[] = "use ```code``` like this\n```rust\nfn main() {\n";
    CHECK(tui_md_split(s, strlen(s), &b, &n) == 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(b[0].kind, TUI_MD_PROSE);
        CHECK_EQ_INT(b[1].kind, TUI_MD_CODE);
        CHECK(!b[1].closed);
        CHECK_EQ_STR(b[1].lang, "rust");
        CHECK(!memcmp(s + b[1].start, "fn main() {\n", b[1].len));
    }
    free(b);
    CHECK(tui_md_split("", 0, &b, &n) == 0);
    CHECK_EQ_INT(n, 0);
    free(b);
    /* /copy N: the N-th code block */
    size_t st, len;
    int count = -1;
    CHECK(tui_md_code_block(t, strlen(t), 2, &st, &len, &count));
    CHECK(len == 12 && !memcmp(t + st, "print(1)\n~~~", 12));
    CHECK(tui_md_code_block(t, strlen(t), 1, &st, &len, NULL));
    CHECK(len == 6 && !memcmp(t + st, "int x;", 6));
    CHECK(!tui_md_code_block(t, strlen(t), 3, &st, &len, &count));
    CHECK_EQ_INT(count, 2);
    CHECK(!tui_md_code_block("no code", 7, 1, &st, &len, &count));
    CHECK_EQ_INT(count, 0);
}

static bool has_line(const tui_lines_t *l, const char *want)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(line(l, i), want))
            return true;
    return false;
}

static void test_render_entry(void)
{
    const char t[] = "Here is `add`:\n\n```c\nint add(int a, int b) { return a + b; } // sum\n```\nDone.";
    tui_lines_t l = {0};
    int nc = 0;
    CHECK(tui_render_entry(TUI_ROLE_ASSISTANT, t, strlen(t), 40, 3, &nc, &l) == 0);
    CHECK_EQ_INT(nc, 1);
    CHECK_EQ_STR(line(&l, 0), "\u258c octet");
    CHECK_EQ_STR(line(&l, 1), "  Here is add:");
    CHECK(has_line(&l, "  \u256d\u2500 c \u2500 [3]"));
    CHECK(has_line(&l, "  \u2502 int add(int a, int b) { return a + b"));
    CHECK(has_line(&l, "  \u2506 ; } // sum"));
    CHECK(has_line(&l, "  \u2570\u2500"));
    CHECK(has_line(&l, "  Done."));
    CHECK_EQ_INT(l.v[l.n - 1].n, 0); /* an empty line ends the entry */
    /* classes: inline code, keyword, comment */
    bool inl = false, kw = false, cm = false;
    for (size_t i = 0; i < l.n; i++)
        for (int k = 0; k < l.v[i].n; k++) {
            inl |= l.v[i].cells[k].cls == TUI_C_INLINE;
            kw |= l.v[i].cells[k].cls == TUI_C_KEYWORD;
            cm |= l.v[i].cells[k].cls == TUI_C_COMMENT;
        }
    CHECK(inl && kw && cm);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i].width <= 40);
    tui_lines_clear(&l);
    /* a user's text is shown as typed, markup included */
    CHECK(tui_render_entry(TUI_ROLE_USER, "what does `x` do?", 17, 40, 1, &nc, &l) == 0);
    CHECK_EQ_STR(line(&l, 0), "\u258c you");
    CHECK_EQ_STR(line(&l, 1), "  what does `x` do?");
    CHECK_EQ_INT(nc, 0);
    tui_lines_clear(&l);
    CHECK(tui_render_entry(TUI_ROLE_ERROR, "bad thing", 9, 40, 1, NULL, &l) == 0);
    CHECK_EQ_STR(line(&l, 0), "! bad thing");
    CHECK_EQ_INT(l.v[0].cells[2].cls, TUI_C_ERROR);
    tui_lines_clear(&l);
    /* headings and list items */
    const char md[] = "# Title\n- a list item that wraps around\n";
    CHECK(tui_render_entry(TUI_ROLE_ASSISTANT, md, strlen(md), 20, 1, NULL, &l) == 0);
    CHECK_EQ_STR(line(&l, 1), "  Title");
    CHECK_EQ_INT(l.v[1].cells[2].cls, TUI_C_HEADING);
    CHECK_EQ_STR(line(&l, 2), "  - a list item that");
    CHECK_EQ_STR(line(&l, 3), "    wraps around");
    tui_lines_free(&l);
}

/* ---- highlighting -------------------------------------------------------------- */

/* The class of every byte of LINE as letters: k keyword, s string, c comment, n number, . code. */
static const char *classes(tui_lang_t lang, const char *ln, tui_hl_state_t *st)
{
    static char out[256];
    uint8_t cls[256];
    size_t n = strlen(ln);
    tui_hl_line(lang, ln, n, st, cls);
    for (size_t i = 0; i < n; i++)
        out[i] = cls[i] == TUI_C_KEYWORD ? 'k' : cls[i] == TUI_C_STRING ? 's' : cls[i] == TUI_C_COMMENT ? 'c'
               : cls[i] == TUI_C_NUMBER ? 'n' : '.';
    out[n] = '\0';
    return out;
}

static void test_highlight(void)
{
    tui_hl_state_t st = {0};
    CHECK_EQ_INT(tui_hl_lang("C"), TUI_LANG_C);
    CHECK_EQ_INT(tui_hl_lang("py"), TUI_LANG_PYTHON);
    CHECK_EQ_INT(tui_hl_lang("tsx"), TUI_LANG_JS);
    CHECK_EQ_INT(tui_hl_lang("golang"), TUI_LANG_GO);
    CHECK_EQ_INT(tui_hl_lang("rs"), TUI_LANG_RUST);
    CHECK_EQ_INT(tui_hl_lang("java"), TUI_LANG_JAVA);
    CHECK_EQ_INT(tui_hl_lang("bash"), TUI_LANG_SHELL);
    CHECK_EQ_INT(tui_hl_lang("cobol"), TUI_LANG_NONE);
    CHECK_EQ_INT(tui_hl_lang(""), TUI_LANG_NONE);

    CHECK_EQ_STR(classes(TUI_LANG_C, "int x = 42; // hi", &st), "kkk.....nn..ccccc");
    CHECK_EQ_STR(classes(TUI_LANG_C, "s = \"a\\\"b\"; x2 = 0x1F;", &st), "....ssssss.......nnnn.");
    CHECK_EQ_STR(classes(TUI_LANG_C, "#include <stdio.h>", &st), "kkkkkkkkksssssssss");
    /* a block comment over three lines */
    CHECK_EQ_STR(classes(TUI_LANG_C, "a /* one", &st), "..cccccc");
    CHECK_EQ_STR(classes(TUI_LANG_C, "two", &st), "ccc");
    CHECK_EQ_STR(classes(TUI_LANG_C, "*/ return 1;", &st), "cc.kkkkkk.n.");
    /* a C string does not run past its line */
    CHECK_EQ_STR(classes(TUI_LANG_C, "\"open", &st), "sssss");
    CHECK_EQ_STR(classes(TUI_LANG_C, "if", &st), "kk");

    memset(&st, 0, sizeof st);
    CHECK_EQ_STR(classes(TUI_LANG_PYTHON, "def f(x): # c", &st), "kkk.......ccc");
    CHECK_EQ_STR(classes(TUI_LANG_PYTHON, "s = \"\"\"doc", &st), "....ssssss");
    CHECK_EQ_STR(classes(TUI_LANG_PYTHON, "more # not a comment", &st), "ssssssssssssssssssss");
    CHECK_EQ_STR(classes(TUI_LANG_PYTHON, "\"\"\" + 1", &st), "sss...n");

    memset(&st, 0, sizeof st);
    CHECK_EQ_STR(classes(TUI_LANG_SHELL, "echo a#b $HOME # c", &st), "kkkk.....nnnnn.ccc");
    CHECK_EQ_STR(classes(TUI_LANG_JS, "const t = `a", &st), "kkkkk.....ss");
    CHECK_EQ_STR(classes(TUI_LANG_JS, "b` + 1", &st), "ss...n");
    CHECK_EQ_STR(classes(TUI_LANG_GO, "func f() { return `raw\\` }", &st), "kkkk.......kkkkkk.ssssss..");
    memset(&st, 0, sizeof st);
    CHECK_EQ_STR(classes(TUI_LANG_RUST, "fn f<'a>(c: char) -> u8 { 'x' }", &st),
                 "kk..........kkkk.....kk...sss..");
    CHECK_EQ_STR(classes(TUI_LANG_JAVA, "public static void main", &st), "kkkkkk.kkkkkk.kkkk.....");
    CHECK_EQ_STR(classes(TUI_LANG_NONE, "int x", &st), ".....");
}

static void test_diff_highlight(void)
{
    static const struct {
        const char *line;
        uint8_t cls;
    } cases[] = {
        {"diff --git a/x.c b/x.c", TUI_C_DIFF_FILE}, {"--- a/x.c", TUI_C_DIFF_FILE},
        {"+++ b/x.c", TUI_C_DIFF_FILE},             {"new file mode 100644", TUI_C_DIFF_FILE},
        {"@@ -1,2 +1,2 @@ int f()", TUI_C_DIFF_HUNK}, {"-    return a;", TUI_C_DIFF_DEL},
        {"+    return b;", TUI_C_DIFF_ADD},         {"     context", TUI_C_CODE},
        {"-", TUI_C_DIFF_DEL},
    };
    CHECK_EQ_INT(tui_hl_lang("diff"), TUI_LANG_DIFF);
    CHECK_EQ_INT(tui_hl_lang("PATCH"), TUI_LANG_DIFF);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t cls[64];
        tui_hl_state_t st = {0};
        size_t n = strlen(cases[i].line);
        tui_hl_line(TUI_LANG_DIFF, cases[i].line, n, &st, cls);
        CHECKF(cls[0] == cases[i].cls && cls[n - 1] == cases[i].cls, "'%s': %d", cases[i].line, cls[0]);
    }
    /* a rendered ```diff block carries the classes to the screen */
    tui_lines_t out = {0};
    const char *md = "```diff\n-old\n+new\n```";
    CHECK(tui_render_entry(TUI_ROLE_ASSISTANT, md, strlen(md), 40, 1, NULL, &out) == 0);
    bool add = false, del = false;
    for (size_t i = 0; i < out.n; i++)
        for (int k = 0; k < out.v[i].n; k++) {
            add |= out.v[i].cells[k].ch == 'n' && out.v[i].cells[k].cls == TUI_C_DIFF_ADD;
            del |= out.v[i].cells[k].ch == 'o' && out.v[i].cells[k].cls == TUI_C_DIFF_DEL;
        }
    CHECK(add && del);
    tui_lines_free(&out);
}

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_md_split);
    TEST_RUN(test_render_entry);
    TEST_RUN(test_highlight);
    TEST_RUN(test_diff_highlight);
    TEST_END();
}
