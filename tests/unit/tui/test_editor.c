/* test_editor.c - the TUI's input editor (tui/editor.c): editing
 * operations, recalled history, layout of wrapped input, and the history
 * file's escaping (tui/history.c). */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "editor.h"
#include "history.h"
#include "test.h"

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

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_editor_ops);
    TEST_RUN(test_editor_history);
    TEST_RUN(test_editor_layout);
    TEST_RUN(test_history_file);
    TEST_END();
}
