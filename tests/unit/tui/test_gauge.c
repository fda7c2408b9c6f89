/* test_gauge.c - the TUI's memory gauge (tui/gauge.c): local figures at
 * every width, and a remote engine's. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "gauge.h"
#include "test.h"

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

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_gauge);
    TEST_RUN(test_gauge_remote);
    TEST_END();
}
