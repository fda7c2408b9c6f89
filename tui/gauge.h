/* gauge.h - the memory gauge of the status bar: the device's used/total as
 * a bar colored by thresholds (below 70% fine, below 90% warning, then
 * critical), octet's own share split into weights / KV cache / scratch, and
 * the KV cache's fill (tokens used / context size). Labelled VRAM on a GPU;
 * on the CPU, RAM (the machine's used/total) and "CPU". Shortened step by
 * step to fit narrow terminals. With a remote engine the same figures come
 * from its /metrics (after "remote HOST"), and without them the gauge says
 * "remote HOST" and why. Pure functions over numbers; the TUI reads
 * eng_memory(), /proc/meminfo or the remote /metrics for them. No ncurses. */
#ifndef OCTET_TUI_GAUGE_H
#define OCTET_TUI_GAUGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

typedef struct tui_gauge_in {
    bool gpu;                      /* the model runs on a GPU */
    uint64_t used, total;          /* device memory (GPU) or RAM (CPU); total 0: unknown */
    bool loaded;                   /* a model is loaded: the share and KV figures below apply */
    uint64_t weights, kv, scratch; /* octet's share */
    uint32_t kv_used, n_ctx;       /* tokens in the KV cache, its size */
    /* a remote engine: the figures above are its /metrics' (total 0 and
     * loaded false for those it does not export) */
    bool remote;
    const char *host;              /* its host:port */
    const char *note;              /* NULL, or why no figures: "no /metrics", "unreachable"... */
    double kv_usage;               /* its KV cache's fill when n_ctx is 0; < 0: unknown */
} tui_gauge_in_t;

/* Bytes as "512B", "12.3K", "340M", "7.25G" (binary units, 3 significant digits). */
void tui_fmt_bytes(uint64_t b, char *buf, size_t n);

/* The class of a bar filled to USED/TOTAL: TUI_C_BAR_OK, _WARN or _CRIT. */
uint8_t tui_gauge_level(uint64_t used, uint64_t total);

/* The gauge in at most WIDTH columns, appended to OUT. 0 or OCT_ENOMEM. */
int tui_gauge_render(const tui_gauge_in_t *g, int width, tui_cells_t *out);

#endif
