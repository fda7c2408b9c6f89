/* test_text.c - the TUI's text layer (tui/text.c): display widths and soft
 * wrapping (words, wide characters, combining marks, prefixes). */
#include <locale.h>
#include <stdio.h>
#include <string.h>

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

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_widths);
    TEST_RUN(test_wrap_words);
    TEST_RUN(test_wrap_wide);
    TEST_END();
}
