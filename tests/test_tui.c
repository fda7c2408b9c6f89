/* test_tui.c - the TUI's pure parts and its runner: UTF-8 and widths, soft
 * wrapping (wide characters, prefixes), Markdown/code-block splitting and
 * entry rendering, syntax highlighting, the input editor and its history
 * file, the memory gauge, prompt assembly with trimming and prefix reuse on
 * a real tokenizer, and the runner on the tiny models (streaming, KV-cache
 * reuse between turns, preset switches, cancellation). The workflows: the
 * /spec form's validation, /refactor's arguments, the diff coloring, the
 * refactoring steps, the confirmation's apply on a real git repository, and
 * /spec and /refactor on the runner with a tiny model (clean failures). */
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"
#include "editor.h"
#include "engine.h"
#include "flows.h"
#include "form.h"
#include "gauge.h"
#include "highlight.h"
#include "history.h"
#include "markdown.h"
#include "preset.h"
#include "prompt.h"
#include "rag.h"
#include "refactor.h"
#include "runner.h"
#include "spec.h"
#include "test.h"
#include "test_repo.h"
#include "text.h"

#define TINY "tests/fixtures/tiny"

/* Line I of L as UTF-8. */
static const char *line(const tui_lines_t *l, size_t i)
{
    static char buf[1024];
    if (i >= l->n)
        return "(no such line)";
    tui_line_text(&l->v[i], buf, sizeof buf);
    return buf;
}

static int wrap_text(const char *s, int width, bool word, const char *first, const char *rest, tui_lines_t *out)
{
    tui_cells_t c = {0};
    int rc = tui_cells_add(&c, s, strlen(s), TUI_C_TEXT, 4);
    if (rc == 0)
        rc = tui_wrap(c.v, c.n, width, word, first, rest, TUI_C_DIM, out);
    tui_cells_free(&c);
    return rc;
}

/* ---- text ------------------------------------------------------------------ */

static void test_utf8(void)
{
    uint32_t cp;
    CHECK_EQ_INT(tui_utf8_decode("A", 1, &cp), 1);
    CHECK_EQ_INT(cp, 'A');
    CHECK_EQ_INT(tui_utf8_decode("\xC3\xA9", 2, &cp), 2);
    CHECK_EQ_INT(cp, 0xE9);
    CHECK_EQ_INT(tui_utf8_decode("\xE4\xB8\x96", 3, &cp), 3);
    CHECK_EQ_INT(cp, 0x4E16);
    CHECK_EQ_INT(tui_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    /* malformed: one byte at a time, as U+FFFD */
    static const char *const bad[] = {"\xC0\x80", "\xED\xA0\x80", "\x80", "\xE4\xB8", "\xF5\x80\x80\x80",
                                      "\xE4\x41\x42", "\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(tui_utf8_decode(bad[i], strlen(bad[i]), &cp), 1);
        CHECK_EQ_INT(cp, 0xFFFD);
    }
    /* incomplete tails are held back, complete text is not */
    CHECK_EQ_INT(tui_utf8_complete("ab\xE4\xB8", 4), 2);
    CHECK_EQ_INT(tui_utf8_complete("ab\xE4", 3), 2);
    CHECK_EQ_INT(tui_utf8_complete("ab\xE4\xB8\x96", 5), 5);
    CHECK_EQ_INT(tui_utf8_complete("ab\xF0\x9F\x98", 5), 2);
    CHECK_EQ_INT(tui_utf8_complete("abc", 3), 3);
    CHECK_EQ_INT(tui_utf8_complete("a\x80\x80\x80\x80", 5), 5); /* junk is complete: it shows as U+FFFD */
    CHECK_EQ_INT(tui_utf8_complete("", 0), 0);
    char buf[8];
    CHECK_EQ_INT(tui_utf8_encode(0x1F600, buf), 4);
    CHECK(!memcmp(buf, "\xF0\x9F\x98\x80", 4));
    CHECK_EQ_INT(tui_utf8_encode(0xE9, buf), 2);
}

static void test_widths(void)
{
    CHECK_EQ_INT(tui_cp_width('a'), 1);
    CHECK_EQ_INT(tui_cp_width(0x4E16), 2); /* 世 */
    CHECK_EQ_INT(tui_cp_width(0x1F600), 2);
    CHECK_EQ_INT(tui_cp_width(0x301), 0);  /* combining acute */
    CHECK_EQ_INT(tui_cp_width(0x07), -1);
    CHECK_EQ_INT(tui_cp_width(0x9B), -1);  /* C1 CSI must never reach the terminal */
    CHECK_EQ_INT(tui_text_width("h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C", 13), 10);

    tui_cells_t c = {0};
    /* controls become visible escapes, tabs expand, a combining mark joins its letter */
    CHECK(tui_cells_add(&c, "a\tb\x1b[31mc" "e\xCC\x81", 12, TUI_C_TEXT, 4) == 0);
    CHECK_EQ_INT(c.n, 13);
    if (c.n == 13) {
        CHECK_EQ_INT(c.v[0].ch, 'a');
        CHECK_EQ_INT(c.v[1].ch, ' ');
        CHECK_EQ_INT(c.v[3].ch, ' ');
        CHECK_EQ_INT(c.v[4].ch, 'b');
        CHECK_EQ_INT(c.v[5].ch, '\\'); /* ESC as \e */
        CHECK_EQ_INT(c.v[6].ch, 'e');
        CHECK_EQ_INT(c.v[7].ch, '[');
        CHECK_EQ_INT(c.v[12].ch, 'e');
        CHECK_EQ_INT(c.v[12].comb[0], 0x301);
        CHECK_EQ_INT(c.v[12].width, 1);
    }
    tui_cells_free(&c);
}

static void test_wrap_words(void)
{
    tui_lines_t l = {0};
    CHECK(wrap_text("hello world foo", 11, true, NULL, NULL, &l) == 0);
    CHECK_EQ_INT(l.n, 2);
    CHECK_EQ_STR(line(&l, 0), "hello world");
    CHECK_EQ_STR(line(&l, 1), "foo");
    tui_lines_clear(&l);
    /* spaces at a break are dropped; a word longer than the line is cut */
    CHECK(wrap_text("aaa   bbbbbbbbbbbbb c", 6, true, NULL, NULL, &l) == 0);
    CHECK_EQ_INT(l.n, 4);
    CHECK_EQ_STR(line(&l, 0), "aaa");
    CHECK_EQ_STR(line(&l, 1), "bbbbbb");
    CHECK_EQ_STR(line(&l, 2), "bbbbbb");
    CHECK_EQ_STR(line(&l, 3), "b c");
    tui_lines_clear(&l);
    /* leading indentation is kept; prefixes count against the width */
    CHECK(wrap_text("  one two three", 10, true, "> ", "  ", &l) == 0);
    CHECK_EQ_STR(line(&l, 0), ">   one");
    CHECK_EQ_STR(line(&l, 1), "  two");
    CHECK_EQ_STR(line(&l, 2), "  three");
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i].width <= 10);
    CHECK_EQ_INT(l.v[0].cells[0].cls, TUI_C_DIM);
    tui_lines_clear(&l);
    /* an empty line is one line with its prefix */
    CHECK(wrap_text("", 10, true, "> ", NULL, &l) == 0);
    CHECK_EQ_INT(l.n, 1);
    CHECK_EQ_STR(line(&l, 0), "> ");
    tui_lines_free(&l);
}

static void test_wrap_wide(void)
{
    tui_lines_t l = {0};
    /* five wide characters in 5 columns: 2 per line, never split */
    CHECK(wrap_text("\xE4\xB8\x96\xE7\x95\x8C\xE4\xB8\x96\xE7\x95\x8C\xE4\xB8\x96", 5, false, NULL, NULL, &l) == 0);
    CHECK_EQ_INT(l.n, 3);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i].width <= 5);
    CHECK_EQ_INT(l.v[0].width, 4);
    CHECK_EQ_INT(l.v[2].width, 2);
    tui_lines_clear(&l);
    /* mixed: a wide character that does not fit moves to the next line */
    CHECK(wrap_text("abcd\xE4\xB8\x96" "e", 5, false, NULL, NULL, &l) == 0);
    CHECK_EQ_INT(l.n, 2);
    CHECK_EQ_STR(line(&l, 0), "abcd");
    CHECK_EQ_STR(line(&l, 1), "\xE4\xB8\x96" "e");
    tui_lines_clear(&l);
    /* code wraps anywhere, keeping spaces */
    CHECK(wrap_text("int  x = 1;", 5, false, NULL, NULL, &l) == 0);
    CHECK_EQ_STR(line(&l, 0), "int  ");
    CHECK_EQ_STR(line(&l, 1), "x = 1");
    CHECK_EQ_STR(line(&l, 2), ";");
    tui_lines_clear(&l);
    /* a combining mark stays with its letter across a break */
    CHECK(wrap_text("abe\xCC\x81" "cd", 3, false, NULL, NULL, &l) == 0);
    CHECK_EQ_STR(line(&l, 0), "abe\xCC\x81");
    CHECK_EQ_STR(line(&l, 1), "cd");
    tui_lines_free(&l);
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

/* ---- editor ------------------------------------------------------------------ */

static void test_editor_ops(void)
{
    tui_ed_t e;
    tui_ed_init(&e, 10);
    CHECK(tui_ed_insert(&e, "hello world", 11) == 0);
    CHECK_EQ_STR(tui_ed_text(&e), "hello world");
    CHECK_EQ_INT(e.cur, 11);
    tui_ed_home(&e);
    CHECK_EQ_INT(e.cur, 0);
    tui_ed_right(&e);
    tui_ed_insert(&e, "\xC3\xA9", 2); /* é */
    CHECK_EQ_STR(tui_ed_text(&e), "h\xC3\xA9" "ello world");
    tui_ed_left(&e);
    CHECK_EQ_INT(e.cur, 1); /* over the two bytes at once */
    tui_ed_delete(&e);
    CHECK_EQ_STR(tui_ed_text(&e), "hello world");
    tui_ed_end(&e);
    CHECK(tui_ed_kill_word(&e) == 0); /* Ctrl-W */
    CHECK_EQ_STR(tui_ed_text(&e), "hello ");
    CHECK(tui_ed_yank(&e) == 0);
    CHECK_EQ_STR(tui_ed_text(&e), "hello world");
    tui_ed_home(&e);
    tui_ed_right(&e);
    tui_ed_right(&e);
    CHECK(tui_ed_kill_eol(&e) == 0); /* Ctrl-K */
    CHECK_EQ_STR(tui_ed_text(&e), "he");
    CHECK(tui_ed_kill_bol(&e) == 0); /* Ctrl-U */
    CHECK_EQ_STR(tui_ed_text(&e), "");
    tui_ed_backspace(&e);
    tui_ed_delete(&e);
    CHECK_EQ_INT(e.len, 0);

    /* lines: CRLF pasted becomes LF; Up/Down keep the column */
    tui_ed_set(&e, "");
    tui_ed_insert(&e, "first line\r\nsecond\rthird line", 29);
    CHECK_EQ_STR(tui_ed_text(&e), "first line\nsecond\nthird line");
    CHECK(tui_ed_up(&e)); /* from the end of "third line" (col 10) to the end of "second" */
    CHECK_EQ_INT(e.cur, 17);
    CHECK(tui_ed_up(&e));
    CHECK_EQ_INT(e.cur, 6); /* column 6 of the first line */
    CHECK(!tui_ed_up(&e));
    CHECK(tui_ed_down(&e));
    CHECK(tui_ed_down(&e));
    CHECK(!tui_ed_down(&e));
    tui_ed_home(&e);
    CHECK_EQ_INT(e.cur, 18);
    tui_ed_backspace(&e); /* joins the lines */
    CHECK_EQ_STR(tui_ed_text(&e), "first line\nsecondthird line");
    tui_ed_set(&e, "ab\ncd");
    e.cur = 2;
    CHECK(tui_ed_kill_eol(&e) == 0); /* at a line's end Ctrl-K joins the next */
    CHECK_EQ_STR(tui_ed_text(&e), "abcd");

    /* a combining mark moves and deletes with its letter; wide characters keep columns */
    tui_ed_set(&e, "xe\xCC\x81y");
    e.cur = 1;
    tui_ed_right(&e);
    CHECK_EQ_INT(e.cur, 4);
    tui_ed_backspace(&e);
    CHECK_EQ_STR(tui_ed_text(&e), "xy");
    tui_ed_set(&e, "\xE4\xB8\x96\xE7\x95\x8C\nabcd");
    CHECK(tui_ed_up(&e)); /* column 4 = after both wide characters */
    CHECK_EQ_INT(e.cur, 6);
    tui_ed_free(&e);
}

static void test_editor_history(void)
{
    tui_ed_t e;
    tui_ed_init(&e, 3);
    CHECK(!tui_ed_hist_prev(&e));
    tui_ed_hist_add(&e, "one");
    tui_ed_hist_add(&e, "two");
    tui_ed_hist_add(&e, "two"); /* a repeat is not stored again */
    tui_ed_hist_add(&e, "");
    CHECK_EQ_INT(e.n_hist, 2);
    tui_ed_set(&e, "draft");
    CHECK(tui_ed_hist_prev(&e));
    CHECK_EQ_STR(tui_ed_text(&e), "two");
    CHECK(tui_ed_hist_prev(&e));
    CHECK_EQ_STR(tui_ed_text(&e), "one");
    CHECK(!tui_ed_hist_prev(&e));
    CHECK(tui_ed_hist_next(&e));
    CHECK(tui_ed_hist_next(&e));
    CHECK_EQ_STR(tui_ed_text(&e), "draft"); /* the draft comes back */
    CHECK(!tui_ed_hist_next(&e));
    tui_ed_hist_add(&e, "three");
    tui_ed_hist_add(&e, "four"); /* at most 3: "one" goes */
    CHECK_EQ_INT(e.n_hist, 3);
    CHECK_EQ_STR(e.hist[0], "two");
    CHECK_EQ_STR(e.hist[2], "four");
    tui_ed_free(&e);
}

static void test_editor_layout(void)
{
    tui_ed_t e;
    int rows, row, col;
    tui_ed_init(&e, 1);
    tui_ed_layout(&e, 20, 2, &rows, &row, &col);
    CHECK(rows == 1 && row == 0 && col == 0);
    tui_ed_set(&e, "0123456789abcdefghijXY"); /* 22 columns in 18 */
    tui_ed_layout(&e, 20, 2, &rows, &row, &col);
    CHECK_EQ_INT(rows, 2);
    CHECK_EQ_INT(row, 1);
    CHECK_EQ_INT(col, 4);
    tui_ed_set(&e, "0123456789abcdefgh"); /* exactly full: the cursor starts the next row */
    tui_ed_layout(&e, 20, 2, &rows, &row, &col);
    CHECK_EQ_INT(rows, 2);
    CHECK(row == 1 && col == 0);
    tui_ed_set(&e, "a\n\xE4\xB8\x96\xE7\x95\x8C\xE4\xB8\x96"); /* a wide character moves whole */
    tui_ed_layout(&e, 7, 2, &rows, &row, &col);
    CHECK_EQ_INT(rows, 3);
    CHECK(row == 2 && col == 2);
    tui_ed_free(&e);
}

static void test_history_file(void)
{
    const char *samples[] = {"plain", "two\nlines", "back\\slash\\n literal", "tab\there"};
    for (size_t i = 0; i < 4; i++) {
        char *esc = tui_hist_escape(samples[i]);
        CHECK(esc && !strchr(esc, '\n'));
        char *back = esc ? tui_hist_unescape(esc) : NULL;
        CHECK_EQ_STR(back, samples[i]);
        free(esc);
        free(back);
    }
    char dir[] = "/tmp/octet_hist_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char path[256], **v = NULL;
    size_t n = 0;
    errmsg_t err = {0};
    snprintf(path, sizeof path, "%s/deep/octet/history", dir);
    CHECK(tui_hist_load(path, 5, &v, &n, &err) == 0); /* missing: empty */
    CHECK_EQ_INT(n, 0);
    tui_hist_free(v, n);
    for (int i = 0; i < 12; i++) {
        char e[32];
        snprintf(e, sizeof e, "entry %d\nline 2", i);
        CHECK(tui_hist_append(path, e, &err) == 0);
    }
    CHECK(tui_hist_load(path, 5, &v, &n, &err) == 0);
    CHECK_EQ_INT(n, 5);
    if (n == 5) {
        CHECK_EQ_STR(v[0], "entry 7\nline 2");
        CHECK_EQ_STR(v[4], "entry 11\nline 2");
    }
    tui_hist_free(v, n);
    /* more than twice the maximum: the file is rewritten with the newest */
    FILE *f = fopen(path, "r");
    int lines = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        lines += c == '\n';
    if (f)
        fclose(f);
    CHECK_EQ_INT(lines, 5);
    setenv("XDG_STATE_HOME", "/s", 1);
    tui_hist_path(path, sizeof path);
    CHECK_EQ_STR(path, "/s/octet/history");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/h", 1);
    tui_hist_path(path, sizeof path);
    CHECK_EQ_STR(path, "/h/.local/state/octet/history");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ---- gauge ------------------------------------------------------------------ */

static const char *gauge(const tui_gauge_in_t *g, int width, int *cols)
{
    static char buf[1024];
    tui_cells_t c = {0};
    tui_gauge_render(g, width, &c);
    tui_line_t l = {c.v, (int)c.n, 0};
    *cols = 0;
    for (size_t i = 0; i < c.n; i++)
        *cols += c.v[i].width;
    tui_line_text(&l, buf, sizeof buf);
    tui_cells_free(&c);
    return buf;
}

static void test_gauge(void)
{
    char b[16];
    tui_fmt_bytes(512, b, sizeof b);
    CHECK_EQ_STR(b, "512B");
    tui_fmt_bytes(1536, b, sizeof b);
    CHECK_EQ_STR(b, "1.50K");
    tui_fmt_bytes(7ull << 30, b, sizeof b);
    CHECK_EQ_STR(b, "7.00G");
    tui_fmt_bytes(340ull << 20, b, sizeof b);
    CHECK_EQ_STR(b, "340M");
    CHECK_EQ_INT(tui_gauge_level(69, 100), TUI_C_BAR_OK);
    CHECK_EQ_INT(tui_gauge_level(70, 100), TUI_C_BAR_WARN);
    CHECK_EQ_INT(tui_gauge_level(89, 100), TUI_C_BAR_WARN);
    CHECK_EQ_INT(tui_gauge_level(90, 100), TUI_C_BAR_CRIT);

    const uint64_t G = 1ull << 30, M = 1ull << 20;
    tui_gauge_in_t gpu = {.gpu = true, .used = 12 * G, .total = 16 * G, .loaded = true, .weights = 7 * G,
                          .kv = 1 * G, .scratch = 300 * M, .kv_used = 1234, .n_ctx = 32768};
    int cols;
    const char *s = gauge(&gpu, 100, &cols);
    CHECKF(strstr(s, "VRAM ") == s, "%s", s);
    CHECKF(strstr(s, "12.0G/16.0G") && strstr(s, "weights 7.00G KV 1.00G scratch 300M") &&
               strstr(s, "KV 1234/32768 (3%)") && !strstr(s, "CPU"),
           "%s", s);
    CHECK(cols <= 100);
    /* 75% used: the filled cells are in the warning class */
    tui_cells_t c = {0};
    tui_gauge_render(&gpu, 100, &c);
    int warn = 0, fr = 0;
    for (size_t i = 0; i < c.n; i++) {
        warn += c.v[i].cls == TUI_C_BAR_WARN;
        fr += c.v[i].cls == TUI_C_BAR_FREE;
    }
    CHECK_EQ_INT(warn, 9);
    CHECK_EQ_INT(fr, 3);
    tui_cells_free(&c);

    tui_gauge_in_t cpu = {.used = 4 * G, .total = 16 * G, .loaded = true, .weights = 120 * 1024, .kv = 40 * 1024,
                          .scratch = 800 * 1024, .kv_used = 12, .n_ctx = 256};
    s = gauge(&cpu, 100, &cols);
    CHECKF(strstr(s, "RAM ") == s && strstr(s, "CPU") && strstr(s, "KV 12/256"), "%s", s);
    /* narrow terminals get shorter forms, never more than the width */
    for (int w = 80; w >= 20; w -= 5) {
        s = gauge(&gpu, w, &cols);
        CHECKF(cols <= w, "width %d: %d columns: %s", w, cols, s);
        CHECKF(strstr(s, "VRAM") == s, "%s", s);
        s = gauge(&cpu, w, &cols);
        CHECKF(cols <= w, "width %d: %d columns: %s", w, cols, s);
    }
    s = gauge(&gpu, 80, &cols);
    CHECKF(strstr(s, "KV 1234/32768"), "80 columns keep the KV fill: %s", s);
    tui_gauge_in_t none = {.used = 4 * G, .total = 16 * G};
    s = gauge(&none, 100, &cols);
    CHECKF(strstr(s, "no model loaded"), "%s", s);
}

/* A remote engine: its /metrics figures after "remote HOST", else why there are none. */
static void test_gauge_remote(void)
{
    const uint64_t G = 1ull << 30;
    int cols;
    /* octet serve on a GPU: memory, weights and KV bytes, KV tokens */
    tui_gauge_in_t octet = {.gpu = true, .used = 40 * G, .total = 80 * G, .loaded = true, .weights = 14 * G,
                            .kv = 20 * G, .kv_used = 1000, .n_ctx = 4096, .remote = true, .host = "gpu:8000",
                            .kv_usage = 1000.0 / 4096};
    const char *s = gauge(&octet, 100, &cols);
    CHECKF(strstr(s, "VRAM ") == s && strstr(s, "40.0G/80.0G  remote gpu:8000  weights 14.0G KV 20.0G  KV 1000/4096 (24%)"),
           "%s", s);
    CHECK(!strstr(s, "CPU") && !strstr(s, "scratch"));
    /* vLLM: only the KV cache's fill */
    tui_gauge_in_t vllm = {.remote = true, .host = "gpu:8000", .kv_usage = 0.37};
    s = gauge(&vllm, 100, &cols);
    CHECKF(!strcmp(s, "remote gpu:8000  KV 37%"), "%s", s);
    /* no /metrics, or not reachable: "remote HOST (why)" instead of the bar */
    tui_gauge_in_t none = {.remote = true, .host = "gpu:8000", .note = "no /metrics", .kv_usage = -1};
    s = gauge(&none, 100, &cols);
    CHECKF(!strcmp(s, "remote gpu:8000  (no /metrics)"), "%s", s);
    for (int w = 80; w >= 20; w -= 5) {
        s = gauge(&octet, w, &cols);
        CHECKF(cols <= w, "width %d: %d columns: %s", w, cols, s);
        CHECKF(strstr(s, "VRAM") == s, "%s", s);
        s = gauge(&none, w, &cols);
        CHECKF(cols <= w, "width %d: %d columns: %s", w, cols, s);
    }
    s = gauge(&octet, 80, &cols);
    CHECKF(strstr(s, "remote gpu:8000") && strstr(s, "KV 1000/4096"), "80 columns keep host and KV fill: %s", s);
}

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
        tui_msg_t hist[4] = {{CHAT_ROLE_USER, "first question"},
                             {CHAT_ROLE_ASSISTANT, "first answer"},
                             {CHAT_ROLE_USER, "second question"},
                             {CHAT_ROLE_ASSISTANT, "second answer"}};
        errmsg_t err = {0};
        int32_t *a = NULL, *b = NULL, *c = NULL;
        size_t na = 0, nb = 0, nc = 0, dropped = 9;
        /* the conversation alone is a prefix of the conversation plus a new message */
        tui_prompt_req_t ra = {t.tmpl, t.tok, "Be brief.", hist, 4, NULL, 100000};
        tui_prompt_req_t rb = {t.tmpl, t.tok, "Be brief.", hist, 4, "third", 100000};
        CHECK(tui_prompt_build(&ra, &a, &na, &dropped, &err) == 0);
        CHECK_EQ_INT(dropped, 0);
        CHECK(tui_prompt_build(&rb, &b, &nb, NULL, &err) == 0);
        CHECK(nb > na);
        CHECKF(tui_common_prefix(a, na, b, nb) == na, "%s: prefix %zu of %zu", names[m],
               tui_common_prefix(a, na, b, nb), na);
        /* a small budget leaves out the oldest exchange first */
        tui_prompt_req_t rc = rb;
        rc.budget = nb - 1;
        CHECK(tui_prompt_build(&rc, &c, &nc, &dropped, &err) == 0);
        CHECK_EQ_INT(dropped, 2);
        CHECK(nc <= nb - 1);
        free(c);
        c = NULL;
        /* too small for the message itself: an error that says so */
        rc.budget = 5;
        CHECK(tui_prompt_build(&rc, &c, &nc, &dropped, &err) == OCT_EINVAL);
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
    CHECK_EQ_INT(tui_common_prefix(x, 4, y, 3), 2);
    CHECK_EQ_INT(tui_common_prefix(x, 4, x, 2), 2);
    CHECK_EQ_INT(tui_common_prefix(x, 0, y, 3), 0);
    char *u = tui_prompt_user("why?", "a.c:1-2\n```c\nx\n```\n");
    CHECK(u && strstr(u, "a.c:1-2") && strstr(u, "why?") && strstr(u, "a.c") < strstr(u, "why?"));
    free(u);
    u = tui_prompt_user("why?", "");
    CHECK_EQ_STR(u, "why?");
    free(u);
}

/* ---- the runner on a real model ------------------------------------------------------ */

typedef struct evlog {
    char text[8192];
    size_t text_len;
    char notices[8192];
    int n_end, n_err, n_loaded, n_text_events, n_patch, n_context;
} evlog_t;

static void collect(tui_runner_t *r, evlog_t *l)
{
    tui_ev_t *ev = tui_runner_events(r);
    for (tui_ev_t *e = ev; e; e = e->next) {
        switch (e->kind) {
        case TUI_EV_TEXT:
            l->n_text_events++;
            if (l->text_len + e->len < sizeof l->text) {
                memcpy(l->text + l->text_len, e->text, e->len);
                l->text_len += e->len;
            }
            break;
        case TUI_EV_ERROR:
            l->n_err++;
            /* fall through */
        case TUI_EV_NOTICE:
        case TUI_EV_ANSWER_END: {
            size_t o = strlen(l->notices);
            snprintf(l->notices + o, sizeof l->notices - o, "%s\n", e->text);
            l->n_end += e->kind == TUI_EV_ANSWER_END;
            break;
        }
        case TUI_EV_LOADED:
            l->n_loaded++;
            break;
        case TUI_EV_CONTEXT:
            l->n_context++;
            break;
        case TUI_EV_PATCH:
            l->n_patch++;
            break;
        }
    }
    tui_ev_free(ev);
}

static void tiny_preset(preset_t *p, const char *name, uint32_t ctx)
{
    preset_defaults(p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->model, sizeof p->model, "default");
    snprintf(p->backend, sizeof p->backend, "cpu");
    snprintf(p->system, sizeof p->system, "Be brief.");
    p->ctx = ctx;
    p->threads = 2;
    p->max_new_tokens = 24;
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->seed = 7;
}

static void test_runner(void)
{
    tui_runner_t *r = NULL;
    errmsg_t err = {0};
    tui_runner_cfg_t cfg = {NULL, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 0};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r)
        return;
    evlog_t log;
    memset(&log, 0, sizeof log);
    preset_t p;
    tiny_preset(&p, "t1", 32768);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "larger than the model's training context: using 256"), "%s", log.notices);
    CHECKF(strstr(log.notices, "loaded llama_rope_linear_q8_0 with preset t1"), "%s", log.notices);
    tui_runner_status_t st;
    tui_runner_status(r, &st);
    CHECK(st.loaded);
    CHECK_EQ_INT(st.n_ctx, 256);
    CHECK_EQ_STR(st.preset, "t1");
    CHECK_EQ_STR(st.model, "llama_rope_linear_q8_0");
    CHECK(!st.gpu);
    CHECK(st.mem.weights > 0 && st.mem.kv > 0 && st.mem.scratch > 0);

    /* a first turn streams text and ends with its figures */
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_end, 1);
    CHECK_EQ_INT(log.n_err, 0);
    tui_runner_status(r, &st);
    CHECK(st.n_gen > 0 && st.n_gen <= 24);
    CHECK(st.pos > 0);
    CHECK_EQ_INT(st.reused, 0);
    /* the second turn reuses the first from the KV cache */
    CHECK(tui_runner_send(r, "more") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_end, 2);
    tui_runner_status(r, &st);
    CHECKF(st.reused > 10, "reused %u", st.reused);
    uint32_t pos = st.pos;

    /* same model and weights, same (clamped) context: everything kept */
    preset_t p2;
    tiny_preset(&p2, "t2", 16384);
    CHECK(tui_runner_use(r, &p2, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "preset t2: weights and KV cache kept"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK_EQ_INT(st.pos, pos);
    CHECK_EQ_STR(st.preset, "t2");

    /* a smaller context: the weights stay, a new KV cache, the conversation fed again */
    preset_t p3;
    tiny_preset(&p3, "t3", 200);
    CHECK(tui_runner_use(r, &p3, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "context 200"), "%s", log.notices);
    CHECKF(strstr(log.notices, "weights kept, KV cache reallocated"), "%s", log.notices);
    CHECKF(strstr(log.notices, "conversation kept"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK_EQ_INT(st.n_ctx, 200);
    CHECK(st.pos > 0);
    /* and the next turn reuses what was fed again */
    CHECK(tui_runner_send(r, "again") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    tui_runner_status(r, &st);
    CHECKF(st.reused > 10, "reused %u", st.reused);
    collect(r, &log);
    CHECK_EQ_INT(log.n_err, 0);

    /* /clear: the conversation is forgotten */
    CHECK(tui_runner_clear(r) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    CHECK(tui_runner_send(r, "x") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK(!strstr(log.notices, "older messages left out"));
    tui_runner_free(r);

    /* no model configured */
    tui_runner_cfg_t none = {NULL, {NULL, NULL}, 0};
    CHECK(tui_runner_new(&r, &none, &err) == 0);
    if (!r)
        return;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "no model configured: start octet with -m FILE.gguf"), "%s", log.notices);
    CHECKF(strstr(log.notices, "no model loaded"), "%s", log.notices);
    tui_runner_status(r, &st);
    CHECK(!st.loaded);
    CHECK_EQ_STR(st.preset, "t1");
    /* /model loads one */
    CHECK(tui_runner_use(r, &p, TINY "/qwen2_gqa_f32.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    tui_runner_status(r, &st);
    CHECK(st.loaded);
    CHECK_EQ_STR(st.model, "qwen2_gqa_f32");
    /* a file that does not exist keeps nothing loaded and says why */
    CHECK(tui_runner_use(r, &p, TINY "/nope.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "nope.gguf: cannot open the model"), "%s", log.notices);
    tui_runner_free(r);
}

static void test_runner_cancel(void)
{
    tui_runner_t *r = NULL;
    errmsg_t err = {0};
    /* 20 ms after each token: an answer of 200 tokens takes 4 s unless stopped */
    tui_runner_cfg_t cfg = {NULL, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 20};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r)
        return;
    preset_t p;
    tiny_preset(&p, "t", 256);
    p.max_new_tokens = 200;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    bool stopped = false;
    /* random weights may end an answer early: try a few times */
    for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
        CHECK(tui_runner_send(r, "go") == 0);
        tui_runner_status_t st;
        for (int i = 0; i < 400; i++) {
            tui_runner_status(r, &st);
            if ((st.generating && st.n_gen >= 2) || !st.busy)
                break;
            usleep(5000);
        }
        tui_runner_cancel(r);
        CHECK(tui_runner_wait_idle(r, 5000)); /* stops within a token, not after 200 */
        memset(&log, 0, sizeof log);
        collect(r, &log);
        stopped = strstr(log.notices, "stopped (Ctrl-C)") != NULL;
    }
    CHECKF(stopped, "%s", log.notices);
    /* the runner goes on working after a stop */
    CHECK(tui_runner_send(r, "next") == 0);
    tui_runner_status_t st;
    for (int i = 0; i < 400; i++) {
        tui_runner_status(r, &st);
        if (st.generating)
            break;
        usleep(5000);
    }
    tui_runner_free(r); /* stops the answer and joins */
}

/* ---- workflows ----------------------------------------------------------------------- */

static void test_form(void)
{
    tui_form_t f;
    spec_t *s = NULL;
    errmsg_t err = {0};
    tui_form_init(&f);
    CHECK_EQ_STR(tui_ed_text(&f.f[TUI_FORM_LANGUAGE]), "python");
    CHECK_EQ_INT(f.cur, TUI_FORM_NAME);
    CHECK_EQ_INT(f.err_field, -1);
    /* each error lands on the field it names, and the cursor goes there */
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK(s == NULL);
    CHECK_EQ_INT(f.err_field, TUI_FORM_NAME);
    CHECK_EQ_STR(f.err, "name: required");
    tui_ed_set(&f.f[TUI_FORM_NAME], "add");
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a: integer, b: int");
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "int");
    f.cur = TUI_FORM_EXAMPLES;
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_INPUTS);
    CHECK_EQ_INT(f.cur, TUI_FORM_INPUTS);
    CHECKF(!strncmp(f.err, "inputs[0].type: unknown type 'integer'", 38), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a int");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_INPUTS);
    CHECKF(strstr(f.err, "expected NAME: TYPE"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a: int, b: int");
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "number");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_OUTPUT);
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "int");
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 -> 3\n1 -> 2");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_EXAMPLES);
    CHECKF(strstr(f.err, "examples[1].input: expected an array of 2 values"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 => 3");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_EXAMPLES);
    CHECKF(strstr(f.err, "examples line 1"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "");
    tui_ed_set(&f.f[TUI_FORM_LANGUAGE], "rust");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_LANGUAGE);
    /* corrected: a spec, and the error is gone */
    tui_ed_set(&f.f[TUI_FORM_LANGUAGE], "c");
    tui_ed_set(&f.f[TUI_FORM_DESCRIPTION], "the sum");
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 -> 3\n\n-1, 1 -> 0\n");
    CHECKF(tui_form_submit(&f, &s, &err) == 0, "%s", f.err);
    CHECK_EQ_INT(f.err_field, -1);
    CHECK_EQ_STR(f.err, "");
    if (s) {
        CHECK_EQ_STR(s->name, "add");
        CHECK_EQ_INT(s->lang, SPEC_LANG_C);
        CHECK_EQ_INT(s->n_inputs, 2);
        CHECK_EQ_INT(s->n_examples, 2);
        CHECK_EQ_STR(s->description, "the sum");
    }
    spec_free(s);
    CHECK_EQ_INT(tui_form_field_of("form: output: unknown type"), TUI_FORM_OUTPUT);
    CHECK_EQ_INT(tui_form_field_of("description: too long"), TUI_FORM_DESCRIPTION);
    CHECK_EQ_INT(tui_form_field_of("names are wrong"), -1);
    f.cur = TUI_FORM_EXAMPLES;
    tui_form_next(&f);
    CHECK_EQ_INT(f.cur, TUI_FORM_LANGUAGE);
    tui_form_prev(&f);
    CHECK_EQ_INT(f.cur, TUI_FORM_EXAMPLES);
    CHECK(strstr(tui_form_hint(TUI_FORM_EXAMPLES), "->") != NULL);
    tui_form_free(&f);
}

static void test_refactor_args(void)
{
    const char *path, *sym;
    errmsg_t err = {0};
    char a1[] = "rename add to sum --symbol add", i1[sizeof a1];
    CHECK(tui_refactor_args(a1, i1, &path, &sym, &err) == 0);
    CHECK_EQ_STR(i1, "rename add to sum");
    CHECK(path == NULL);
    CHECK_EQ_STR(sym, "add");
    char a2[] = "--path 'src/my file.c'  \"use  size_t\" everywhere", i2[sizeof a2];
    CHECK(tui_refactor_args(a2, i2, &path, &sym, &err) == 0);
    CHECK_EQ_STR(i2, "use  size_t everywhere");
    CHECK_EQ_STR(path, "src/my file.c");
    CHECK(sym == NULL);
    char a3[] = "x --path=a.c", i3[sizeof a3];
    CHECK(tui_refactor_args(a3, i3, &path, &sym, &err) == 0);
    CHECK_EQ_STR(path, "a.c");
    char a4[] = "x --path a.c --symbol f", i4[sizeof a4];
    CHECK_EQ_INT(tui_refactor_args(a4, i4, &path, &sym, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "cannot be combined"), "%s", err.msg);
    char a5[] = "--symbol f", i5[sizeof a5];
    CHECK_EQ_INT(tui_refactor_args(a5, i5, &path, &sym, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "no instruction"), "%s", err.msg);
    char a6[] = "x --path", i6[sizeof a6];
    CHECK_EQ_INT(tui_refactor_args(a6, i6, &path, &sym, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "--path needs a value"), "%s", err.msg);
    char a7[] = "x --force", i7[sizeof a7];
    CHECK_EQ_INT(tui_refactor_args(a7, i7, &path, &sym, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "unknown option --force"), "%s", err.msg);
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
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, &err) == 0);
    CHECK(tui_pending_active(&p));
    CHECK_EQ_STR(p.summary, "1 file changed, 1 insertion(+), 1 deletion(-)");
    CHECK(tui_pending_answer(&p, false, &report, &err) == 0);
    CHECKF(report && strstr(report, "discarded; nothing was changed"), "%s", report);
    free(report);
    CHECK(!tui_pending_active(&p));
    CHECK_EQ_STR(get("add.c"), ADD_C);
    /* y on a file with uncommitted edits: refused, the edits stay */
    put("add.c", "int add(int a, int b) { return a + b; }\n");
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, &err) == 0);
    CHECK(tui_pending_answer(&p, true, &report, &err) != 0);
    CHECKF(strstr(err.msg, "uncommitted"), "%s", err.msg);
    CHECK(report == NULL);
    CHECK(!tui_pending_active(&p));
    CHECK_EQ_STR(get("add.c"), "int add(int a, int b) { return a + b; }\n");
    /* y on a clean file: applied, reported, and undoable */
    put("add.c", ADD_C);
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, &err) == 0);
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
    CHECK(tui_pending_set(&p, SWAP_DIFF, g_repo, &err) == 0);
    CHECK(tui_pending_answer(&p, true, &report, &err) != 0);
    CHECK(err.msg[0] != '\0');
    CHECK_EQ_STR(get("add.c"), "int add(int a, int b)\n{\n    return a - b;\n}\n");
    /* a diff that is not one is refused before asking */
    CHECK(tui_pending_set(&p, "not a diff\n", g_repo, &err) != 0);
    CHECK(!tui_pending_active(&p));
    tui_pending_clear(&p);
}

/* /spec and /refactor on the runner with a tiny random model: they fail
 * cleanly, change nothing, and the chat goes on afterwards. */
static void test_runner_flows(void)
{
    repo_new();
    rag_t *rg = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&rg, &ro, &err) == 0 && rag_update(rg, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    tui_runner_t *r = NULL;
    /* tokens slowed down so that the chat answer below is still running when
     * the workflow is asked for */
    tui_runner_cfg_t cfg = {rg, {TINY "/llama_rope_linear_q8_0.gguf", NULL}, 20};
    CHECK(tui_runner_new(&r, &cfg, &err) == 0);
    if (!r || !rg) {
        tui_runner_free(r);
        rag_close(rg);
        return;
    }
    preset_t p;
    tiny_preset(&p, "t", 256);
    p.retrieval = true;
    p.top_k = 2;
    p.token_budget = 60;
    evlog_t log;
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_use(r, &p, NULL) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);

    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK_EQ_INT(tui_runner_refactor(r, "again", NULL, NULL, g_repo), OCT_EINVAL); /* busy */
    tui_runner_cancel(r);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK(tui_runner_clear(r) == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);

    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "swap the operands of add", NULL, NULL, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_patch, 0);
    CHECK_EQ_INT(log.n_err, 1);
    CHECKF(strstr(log.notices, "refactor: ") && strstr(log.notices, "nothing was changed"), "%s", log.notices);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    CHECK(sh("cd '%s' && test -z \"$(git status --porcelain --untracked-files=no)\"", g_repo) == 0);

    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "rename", NULL, "nope", g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 1 && strstr(log.notices, "the symbol 'nope' is not defined"), "%s", log.notices);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "x", "/etc/hostname", NULL, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECKF(log.n_err == 1 && strstr(log.notices, "not a file inside the repository"), "%s", log.notices);

    /* a spec's prompt does not fit the tiny models' 256 tokens: the embedded
     * model, on examples without a rule, so that it fails */
    preset_t p2 = p;
    p2.ctx = 1024;
    snprintf(p2.name, sizeof p2.name, "t2");
    CHECK(tui_runner_use(r, &p2, "models/octet-code.gguf") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    memset(&log, 0, sizeof log);
    collect(r, &log);
    CHECKF(strstr(log.notices, "loaded octet"), "%s", log.notices);
    /* the model writes a reply, with no diff that applies in it */
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_refactor(r, "swap the operands of add", NULL, "add", g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 30000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_patch, 0);
    CHECK_EQ_INT(log.n_err, 1);
    CHECK(log.text_len > 0);
    CHECKF(strstr(log.notices, "refactor: ") && strstr(log.notices, "nothing was changed"), "%s", log.notices);
    CHECK_EQ_STR(get("add.c"), ADD_C);
    static const char SPEC[] = "{\"language\": \"python\", \"name\": \"mystery\", \"description\": \"a number\","
                               " \"inputs\": [{\"name\": \"n\", \"type\": \"int\"}], \"output\": \"int\", "
                               "\"examples\": [{\"input\": [1], \"output\": 7}, {\"input\": [2], \"output\": -3},"
                               " {\"input\": [3], \"output\": 40}]}";
    spec_t *s = NULL;
    CHECK(spec_parse(&s, SPEC, strlen(SPEC), "t.json", &err) == 0);
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_spec(r, s, g_repo) == 0);
    CHECK(tui_runner_wait_idle(r, 60000));
    collect(r, &log);
    CHECKF(strstr(log.notices, "attempt 1/3 failed: ") && strstr(log.notices, "attempt 3/3 failed: "), "%s",
           log.notices);
    CHECKF(log.n_err == 1 && strstr(log.notices, "spec mystery: no code passed after 3 attempts; the last one failed:"),
           "%s", log.notices);
    CHECK(log.n_context == 1); /* the preset retrieves: the chunks for the spec */

    /* the chat has its KV cache back */
    memset(&log, 0, sizeof log);
    CHECK(tui_runner_send(r, "hello") == 0);
    CHECK(tui_runner_wait_idle(r, 20000));
    collect(r, &log);
    CHECK_EQ_INT(log.n_err, 0);
    CHECK_EQ_INT(log.n_end, 1);
    tui_runner_status_t st;
    tui_runner_status(r, &st);
    CHECK(st.loaded && st.n_ctx == 1024 && st.pos > 0 && !st.generating);
    tui_runner_free(r);
    rag_close(rg);
    sh("rm -rf '%s'", g_repo);
}

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_utf8);
    TEST_RUN(test_widths);
    TEST_RUN(test_wrap_words);
    TEST_RUN(test_wrap_wide);
    TEST_RUN(test_md_split);
    TEST_RUN(test_render_entry);
    TEST_RUN(test_highlight);
    TEST_RUN(test_editor_ops);
    TEST_RUN(test_editor_history);
    TEST_RUN(test_editor_layout);
    TEST_RUN(test_history_file);
    TEST_RUN(test_gauge);
    TEST_RUN(test_gauge_remote);
    TEST_RUN(test_prompt);
    TEST_RUN(test_runner);
    TEST_RUN(test_runner_cancel);
    TEST_RUN(test_form);
    TEST_RUN(test_refactor_args);
    TEST_RUN(test_diff_highlight);
    TEST_RUN(test_refactor_steps);
    TEST_RUN(test_pending_apply);
    TEST_RUN(test_runner_flows);
    TEST_END();
}
