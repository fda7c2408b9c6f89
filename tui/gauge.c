/* gauge.c - the status bar's memory gauge (see gauge.h). */
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "gauge.h"

void tui_fmt_bytes(uint64_t b, char *buf, size_t n)
{
    static const char units[] = "BKMGTP";
    double v = (double)b;
    int u = 0;
    while (v >= 1000.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%lluB", (unsigned long long)b);
    else if (v < 9.995)
        snprintf(buf, n, "%.2f%c", v, units[u]);
    else if (v < 99.95)
        snprintf(buf, n, "%.1f%c", v, units[u]);
    else
        snprintf(buf, n, "%.0f%c", v, units[u]);
}

uint8_t tui_gauge_level(uint64_t used, uint64_t total)
{
    if (!total)
        return TUI_C_BAR_OK;
    double f = (double)used / (double)total;
    return f >= 0.9 ? TUI_C_BAR_CRIT : f >= 0.7 ? TUI_C_BAR_WARN : TUI_C_BAR_OK;
}

static int add(tui_cells_t *c, const char *s, uint8_t cls)
{
    return tui_cells_add(c, s, strlen(s), cls, 0);
}

/* The bar and used/total. */
static int render_bar(const tui_gauge_in_t *g, int bar_w, tui_cells_t *out)
{
    char u[16], t[16], buf[64];
    int rc;
    if ((rc = add(out, g->gpu ? "VRAM " : "RAM ", TUI_C_STATUS_KEY)))
        return rc;
    if (g->total) {
        uint64_t used = g->used > g->total ? g->total : g->used;
        int fill = (int)((double)used / (double)g->total * bar_w + 0.5);
        if (used && fill == 0)
            fill = 1;
        uint8_t lvl = tui_gauge_level(used, g->total);
        for (int i = 0; i < bar_w; i++)
            if ((rc = add(out, i < fill ? "\u2588" : "\u2591", i < fill ? lvl : TUI_C_BAR_FREE)))
                return rc;
        tui_fmt_bytes(used, u, sizeof u);
        tui_fmt_bytes(g->total, t, sizeof t);
        snprintf(buf, sizeof buf, " %s/%s", u, t);
    } else {
        snprintf(buf, sizeof buf, "?");
    }
    return add(out, buf, TUI_C_STATUS);
}

/* KV fill: tokens used / context size, or the fraction a remote engine reports. */
static int render_kv(const tui_gauge_in_t *g, int detail, tui_cells_t *out)
{
    char buf[64];
    int rc;
    if (g->remote && !g->n_ctx && g->kv_usage < 0)
        return 0;
    if ((rc = add(out, detail < 3 ? "  KV " : " KV ", TUI_C_STATUS_KEY)))
        return rc;
    if (g->remote && !g->n_ctx)
        snprintf(buf, sizeof buf, "%.0f%%", g->kv_usage * 100);
    else if (detail < 2)
        snprintf(buf, sizeof buf, "%u/%u (%u%%)", g->kv_used, g->n_ctx,
                 (unsigned)((uint64_t)g->kv_used * 100 / g->n_ctx));
    else
        snprintf(buf, sizeof buf, "%u/%u", g->kv_used, g->n_ctx);
    return add(out, buf, TUI_C_STATUS);
}

/* A remote engine: its memory when /metrics has it, "remote HOST", its
 * weights and KV cache, the KV fill. */
static int render_remote(const tui_gauge_in_t *g, int detail, int bar_w, tui_cells_t *out)
{
    char w[16], k[16], buf[256];
    int rc;
    if (g->total && (rc = render_bar(g, bar_w, out)))
        return rc;
    if ((rc = add(out, g->total ? (detail < 3 ? "  remote " : " remote ") : "remote ", TUI_C_STATUS_KEY)))
        return rc;
    snprintf(buf, sizeof buf, "%s", g->host ? g->host : "");
    if (g->note && detail < 3)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "  (%s)", g->note);
    if ((rc = add(out, buf, TUI_C_STATUS)))
        return rc;
    if (g->loaded && detail < 2) {
        tui_fmt_bytes(g->weights, w, sizeof w);
        tui_fmt_bytes(g->kv, k, sizeof k);
        snprintf(buf, sizeof buf, detail == 0 ? "  weights %s KV %s" : "  w %s kv %s", w, k);
        if ((rc = add(out, buf, TUI_C_STATUS)))
            return rc;
    }
    return render_kv(g, detail, out);
}

/* One rendering at a level of detail: 0 the longest, 3 the shortest. */
static int render(const tui_gauge_in_t *g, int detail, int bar_w, tui_cells_t *out)
{
    char w[16], k[16], s[16], o[16], buf[160];
    int rc;
    if (g->remote)
        return render_remote(g, detail, bar_w, out);
    if ((rc = render_bar(g, bar_w, out)))
        return rc;
    if (!g->gpu && (rc = add(out, detail < 3 ? "  CPU" : " CPU", TUI_C_STATUS_KEY)))
        return rc;
    if (!g->loaded)
        return add(out, detail < 3 ? "  no model loaded" : " -", TUI_C_STATUS);
    tui_fmt_bytes(g->weights + g->kv + g->scratch, o, sizeof o);
    tui_fmt_bytes(g->weights, w, sizeof w);
    tui_fmt_bytes(g->kv, k, sizeof k);
    tui_fmt_bytes(g->scratch, s, sizeof s);
    switch (detail) {
    case 0:
        snprintf(buf, sizeof buf, "  octet %s: weights %s KV %s scratch %s", o, w, k, s);
        break;
    case 1:
        snprintf(buf, sizeof buf, "  octet %s: w %s kv %s s %s", o, w, k, s);
        break;
    case 2:
        snprintf(buf, sizeof buf, "  w %s kv %s s %s", w, k, s);
        break;
    default:
        snprintf(buf, sizeof buf, " %s", o);
        break;
    }
    if ((rc = add(out, buf, TUI_C_STATUS)))
        return rc;
    return render_kv(g, detail, out);
}

int tui_gauge_render(const tui_gauge_in_t *g, int width, tui_cells_t *out)
{
    static const int bars[] = {12, 10, 8, 6, 4};
    size_t base = out->n;
    for (int d = 0; d < 4; d++)
        for (size_t b = 0; b < sizeof bars / sizeof bars[0]; b++) {
            out->n = base;
            int rc = render(g, d, bars[b], out);
            if (rc)
                return rc;
            int cols = 0;
            for (size_t i = base; i < out->n; i++)
                cols += out->v[i].width;
            if (cols <= width)
                return 0;
            if (b == 1 && d < 3)
                break; /* try less text before a shorter bar */
        }
    /* too narrow for any form: cut the shortest */
    int cols = 0;
    size_t i = base;
    while (i < out->n && cols + out->v[i].width <= width)
        cols += out->v[i++].width;
    out->n = i;
    return 0;
}
