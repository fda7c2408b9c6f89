/* test_ctxlist.c - the context panel's rows and the block viewer
 * (tui/ctxlist.c): full paths wrapped to a narrow panel, never cut; pinned
 * rows numbered P1.., the target T, retrieved ones 1..; each row's lines
 * marked with its item; what became of a block said under it; the viewer's
 * numbered lines; the scroll that keeps the picked row in view. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxlist.h"
#include "test.h"

/* The text of OUT's lines K0..K1 joined, without spaces (wrapping drops
 * the one it breaks at and indents what follows). */
static void joined(const tui_lines_t *l, size_t k0, size_t k1, char *buf, size_t n)
{
    size_t o = 0;
    for (size_t k = k0; k <= k1 && k < l->n; k++) {
        char line[512];
        tui_line_text(&l->v[k], line, sizeof line);
        for (const char *p = line; *p && o + 1 < n; p++)
            if (*p != ' ')
                buf[o++] = *p;
    }
    buf[o] = '\0';
}

static pin_item_t item(pin_kind_t kind, pin_state_t state, const char *path, int a, int b, const char *text)
{
    return (pin_item_t){.kind = kind, .state = state, .path = strdup(path), .start = a, .end = b, .score = 2.5,
                        .lang = strdup("c"), .text = strdup(text)};
}

static void test_layout(void)
{
    static const char LONG[] = "src/a_rather_long_directory_name/with_levels/and_a_module_whose_name_is_long.c";
    pin_ctx_t c = {.n = 3};
    c.items = calloc(3, sizeof *c.items);
    c.items[0] = item(PIN_KIND_PINNED, PIN_SENT, "pinned.c", 1, 1, "int x;");
    c.items[1] = item(PIN_KIND_PINNED, PIN_CUT, LONG, 10, 80, "a\nb");
    c.items[1].sent_end = 45;
    c.items[2] = item(PIN_KIND_RETRIEVED, PIN_LEFT_OUT, "add.c", 1, 4, "int add(void)\n{\n}\n");
    tui_lines_t l = {0};
    int *owner = NULL;
    CHECK(tui_ctxlist_layout(&c, 24, &l, &owner) == 0);
    CHECK(l.n > 6);
    char buf[2048], want[256];
    /* every row's lines are marked with its item, in order */
    size_t first[3] = {0}, last[3] = {0};
    for (size_t k = 0; k < l.n; k++) {
        CHECK(owner[k] >= 0 && owner[k] < 3 && (k == 0 || owner[k] >= owner[k - 1]));
        if (k == 0 || owner[k] != owner[k - 1])
            first[owner[k]] = k;
        last[owner[k]] = k;
    }
    joined(&l, first[0], last[0], buf, sizeof buf);
    CHECKF(!strcmp(buf, "P1pinned.c:1-1pinned,sent"), "%s", buf);
    /* the long path is whole, wrapped over several lines */
    joined(&l, first[1], last[1], buf, sizeof buf);
    snprintf(want, sizeof want, "P2%s:10-80", LONG);
    CHECKF(!strncmp(buf, want, strlen(want)), "%s", buf);
    CHECKF(strstr(buf, "pinned,cutafterline45tofitthebudget") != NULL, "%s", buf);
    CHECK(last[1] - first[1] >= 3);
    for (size_t k = 0; k < l.n; k++)
        CHECK(l.v[k].width <= 24);
    joined(&l, first[2], last[2], buf, sizeof buf);
    CHECKF(!strcmp(buf, "1add.c:1-4score2.5,leftout:overthebudget"), "%s", buf);
    tui_lines_free(&l);
    free(owner);

    /* the viewer: a header, then the lines numbered */
    CHECK(tui_ctxlist_view(&c.items[2], 60, &l) == 0);
    char line[512];
    tui_line_text(&l.v[0], line, sizeof line);
    CHECK_EQ_STR(line, "add.c:1-4");
    tui_line_text(&l.v[3], line, sizeof line);
    CHECK_EQ_STR(line, "1 │ int add(void)");
    tui_line_text(&l.v[5], line, sizeof line);
    CHECK_EQ_STR(line, "3 │ }");
    CHECK_EQ_INT(l.n, 7); /* header, detail, blank, 4 lines (the last one empty) */
    tui_lines_free(&l);
    /* an unreadable pin: why, no lines */
    pin_item_t bad = item(PIN_KIND_PINNED, PIN_UNREADABLE, "gone.c", 1, 3, "gone.c: No such file or directory");
    CHECK(tui_ctxlist_view(&bad, 60, &l) == 0);
    CHECK_EQ_INT(l.n, 3);
    tui_line_text(&l.v[1], line, sizeof line);
    CHECKF(strstr(line, "not sent: gone.c: No such file") != NULL, "%s", line);
    tui_lines_free(&l);
    free(bad.path);
    free(bad.lang);
    free(bad.text);
    pin_ctx_free(&c);
    /* nothing to list */
    CHECK(tui_ctxlist_layout(NULL, 24, &l, &owner) == 0 && l.n == 0);
    free(owner);
    tui_lines_free(&l);
}

static void test_scroll(void)
{
    CHECK_EQ_INT(tui_ctxlist_scroll(0, 2, 3, 10, 40), 0);   /* in view: stays */
    CHECK_EQ_INT(tui_ctxlist_scroll(0, 12, 14, 10, 40), 5); /* below: just enough */
    CHECK_EQ_INT(tui_ctxlist_scroll(20, 12, 14, 10, 40), 12); /* above: to its first line */
    CHECK_EQ_INT(tui_ctxlist_scroll(0, 5, 30, 10, 40), 5);  /* taller than the view: its first line */
    CHECK_EQ_INT(tui_ctxlist_scroll(35, 38, 39, 10, 40), 30); /* never past the end */
    CHECK_EQ_INT(tui_ctxlist_scroll(3, 0, 1, 10, 4), 0);    /* all fit */
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    TEST_RUN(test_layout);
    TEST_RUN(test_scroll);
    TEST_END();
}
