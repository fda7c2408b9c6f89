/* test_termsafe.c - issue 19, defect 6: the shared helper that shows
 * control characters of untrusted text as visible escapes, the patch diff
 * shown for confirmation (patch_colorize) and the TUI's cells built on it. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "termsafe.h"
#include "test.h"
#include "text.h"

static void test_escapes(void)
{
    char *s = termsafe_str("a\x1b[1A\r\b\a\x7f\tb\nc", 13);
    CHECK_EQ_STR(s, "a\\e[1A\\r\\b\\a\\x7f\tb\nc");
    free(s);
    /* C1 CSI, a right-to-left override, bytes that are not UTF-8; é stays */
    s = termsafe_str("\xc2\x9b" "x\xe2\x80\xae" "y\xff\xc3\xa9\xc3", 11);
    CHECK_EQ_STR(s, "\\u009bx\\u202ey\\xff\xc3\xa9\\xc3");
    free(s);
    char buf[12];
    CHECK(termsafe_cp('a', buf) == NULL);
    CHECK(termsafe_cp('\n', buf) == NULL);
    CHECK_EQ_STR(termsafe_cp(0x1b, buf), "\\e");
    CHECK_EQ_STR(termsafe_cp(0x2066, buf), "\\u2066");
}

static void test_diff_shown(void)
{
    const char *diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1,2 @@\n one\n+rm -rf ~ # x\x1b[1A\x1b[2K\r\n";
    for (int color = 0; color < 2; color++) {
        char *shown = patch_colorize(diff, color);
        CHECK(shown != NULL);
        if (!shown)
            continue;
        CHECK(strstr(shown, "x\\e[1A\\e[2K\\r") != NULL);
        CHECK(strchr(shown, '\r') == NULL);
        /* the only ESC left starts a color */
        for (const char *e = shown; (e = strchr(e, '\x1b')) != NULL; e++)
            CHECK(color && (!strncmp(e, "\x1b[3", 3) || !strncmp(e, "\x1b[0m", 4) || !strncmp(e, "\x1b[1m", 4)));
        free(shown);
    }
}

static void test_tui_cells(void)
{
    tui_cells_t c = {0};
    CHECK(tui_cells_add(&c, "a\r\xe2\x80\xae", 5, TUI_C_TEXT, 4) == 0);
    /* a, \r, \u202e: every cell printable ASCII */
    CHECK_EQ_INT(c.n, 1 + 2 + 6);
    for (size_t i = 0; i < c.n; i++)
        CHECK(c.v[i].ch >= 0x20 && c.v[i].ch < 0x7f && c.v[i].width == 1);
    CHECK_EQ_INT(tui_text_width("a\r\xe2\x80\xae", 5), 9);
    tui_cells_free(&c);
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    TEST_RUN(test_escapes);
    TEST_RUN(test_diff_shown);
    TEST_RUN(test_tui_cells);
    TEST_END();
}
