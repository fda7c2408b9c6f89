/* screen.c - drawing the TUI with ncurses' wide-character API: the
 * transcript pane (rendered entries, scrolled from the bottom), the context
 * panel, the input editor, the two status rows (model/preset/speed/state,
 * then the memory gauge) and the help and preset-picker overlays. Nothing
 * here changes state except the entries' cached lines. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "app.h"
#include "ctxlist.h"

/* color pair numbers: one per class */
static attr_t g_attr[TUI_C_COUNT];
static short g_pair[TUI_C_COUNT];

void tui_screen_init_colors(bool want)
{
    static const struct {
        int cls;
        short fg;
        attr_t attr;
    } map[] = {
        {TUI_C_TEXT, -1, A_NORMAL},          {TUI_C_DIM, -1, A_DIM},
        {TUI_C_HEADING, -1, A_BOLD},         {TUI_C_USER, -1, A_NORMAL},
        {TUI_C_ROLE_USER, COLOR_CYAN, A_BOLD}, {TUI_C_ROLE_BOT, COLOR_GREEN, A_BOLD},
        {TUI_C_NOTICE, -1, A_DIM},           {TUI_C_ERROR, COLOR_RED, A_BOLD},
        {TUI_C_INLINE, COLOR_YELLOW, A_NORMAL}, {TUI_C_FRAME, COLOR_BLUE, A_NORMAL},
        {TUI_C_CODE, -1, A_NORMAL},          {TUI_C_KEYWORD, COLOR_MAGENTA, A_BOLD},
        {TUI_C_STRING, COLOR_GREEN, A_NORMAL}, {TUI_C_COMMENT, COLOR_CYAN, A_DIM},
        {TUI_C_NUMBER, COLOR_YELLOW, A_NORMAL}, {TUI_C_BAR_OK, COLOR_GREEN, A_NORMAL},
        {TUI_C_BAR_WARN, COLOR_YELLOW, A_NORMAL}, {TUI_C_BAR_CRIT, COLOR_RED, A_BOLD},
        {TUI_C_BAR_FREE, -1, A_DIM},         {TUI_C_STATUS, -1, A_NORMAL},
        {TUI_C_STATUS_KEY, -1, A_BOLD},
        {TUI_C_DIFF_ADD, COLOR_GREEN, A_NORMAL}, {TUI_C_DIFF_DEL, COLOR_RED, A_NORMAL},
        {TUI_C_DIFF_HUNK, COLOR_CYAN, A_NORMAL}, {TUI_C_DIFF_FILE, -1, A_BOLD},
        {TUI_C_FORM_ERR, COLOR_RED, A_BOLD},
    };
    bool color = want && has_colors() && start_color() == OK;
    if (color)
        use_default_colors();
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int c = map[i].cls;
        g_attr[c] = map[i].attr;
        g_pair[c] = 0;
        if (color && map[i].fg >= 0 && COLORS >= 8) {
            g_pair[c] = (short)(c + 1);
            init_pair(g_pair[c], map[i].fg, -1);
        }
    }
}

static void put_cell(int y, int x, const tui_cell_t *c, attr_t extra)
{
    wchar_t wc[2 + TUI_CELL_COMB];
    int k = 0;
    wc[k++] = (wchar_t)c->ch;
    for (int i = 0; i < TUI_CELL_COMB && c->comb[i]; i++)
        wc[k++] = (wchar_t)c->comb[i];
    wc[k] = 0;
    cchar_t cc;
    int cls = c->cls < TUI_C_COUNT ? c->cls : TUI_C_TEXT;
    setcchar(&cc, wc, g_attr[cls] | extra, g_pair[cls], NULL);
    mvadd_wch(y, x, &cc);
}

/* Draw cells from column X, at most MAXW columns; returns the columns used. */
static int put_cells(int y, int x, const tui_cell_t *v, int n, int maxw, attr_t extra)
{
    int col = 0;
    for (int i = 0; i < n; i++) {
        if (col + v[i].width > maxw)
            break;
        put_cell(y, x + col, &v[i], extra);
        col += v[i].width;
    }
    return col;
}

/* Text in class CLS at (y, x), clipped to MAXW columns; returns columns used. */
static int put_text(int y, int x, const char *s, int cls, int maxw, attr_t extra)
{
    tui_cells_t c = {0};
    int used = 0;
    if (tui_cells_add(&c, s, strlen(s), (uint8_t)cls, 4) == 0)
        used = put_cells(y, x, c.v, (int)c.n, maxw, extra);
    tui_cells_free(&c);
    return used;
}

static void fill_row(int y, int x0, int x1, attr_t attr)
{
    for (int x = x0; x < x1; x++)
        mvaddch(y, x, ' ' | attr);
}

/* ---- transcript ------------------------------------------------------------- */

static void render_entries(tui_app_t *a, int width)
{
    int code = 1;
    for (size_t i = 0; i < a->n_ent; i++) {
        tui_entry_t *e = &a->ent[i];
        if (!e->rendered || e->lines_width != width || e->lines_len != e->len || e->first_code != code) {
            tui_lines_clear(&e->lines);
            tui_render_entry(e->role, e->text ? e->text : "", e->len, width, code, &e->n_code, &e->lines);
            e->lines_width = width;
            e->lines_len = e->len;
            e->first_code = code;
            e->rendered = true;
        }
        code += e->n_code;
    }
}

static void draw_transcript(tui_app_t *a, int top, int h, int w)
{
    render_entries(a, w);
    int total = 0;
    for (size_t i = 0; i < a->n_ent; i++)
        total += (int)a->ent[i].lines.n;
    /* keep the view still while text arrives below it */
    if (a->scroll > 0 && total > a->total_lines)
        a->scroll += total - a->total_lines;
    a->total_lines = total;
    int max_scroll = total > h ? total - h : 0;
    if (a->scroll > max_scroll)
        a->scroll = max_scroll;
    if (a->scroll < 0)
        a->scroll = 0;
    int first = total - h - a->scroll; /* index of the line at the top row */
    if (first < 0)
        first = 0;
    int li = 0, y = top;
    for (size_t i = 0; i < a->n_ent && y < top + h; i++) {
        const tui_lines_t *L = &a->ent[i].lines;
        if (li + (int)L->n <= first) {
            li += (int)L->n;
            continue;
        }
        for (size_t k = 0; k < L->n && y < top + h; k++, li++) {
            if (li < first)
                continue;
            put_cells(y++, 0, L->v[k].cells, L->v[k].n, w, 0);
        }
    }
    if (a->n_ent == 0) {
        put_text(top, 0, "octet: ask about the code of this repository.", TUI_C_HEADING, w, 0);
        put_text(top + 1, 0, "F1 or /help lists the keys and commands.", TUI_C_DIM, w, 0);
    }
    if (a->scroll > 0) {
        char buf[64];
        snprintf(buf, sizeof buf, " \u2193 %d more lines below (PgDn) ", a->scroll);
        int bw = tui_text_width(buf, strlen(buf));
        put_text(top + h - 1, w > bw ? w - bw : 0, buf, TUI_C_STATUS_KEY, w, A_REVERSE);
    }
}

/* The context panel: every block the last prompt got, pinned first, each
 * row wrapped to the panel (full path and lines; then pinned or the score,
 * and what became of it); the row picked shown reversed while the panel
 * has the keys. */
static void draw_context(tui_app_t *a, int top, int h, int x, int w)
{
    for (int y = top; y < top + h; y++)
        put_text(y, x, "\u2502", TUI_C_FRAME, 1, 0);
    x += 2;
    w -= 2;
    put_text(top, x, "Context (F3 hides)", TUI_C_HEADING, w, 0);
    if (!a->ctx || !a->ctx->n) {
        put_text(top + 1, x, "no code pinned or retrieved for the last prompt (/add pins a file)", TUI_C_DIM, w, 0);
        return;
    }
    tui_lines_t lines = {0};
    int *item = NULL;
    if (tui_ctxlist_layout(a->ctx, w, &lines, &item) == 0) {
        int rows = h - 1 - (a->ctx_focus ? 1 : 0), first = -1, last = -1;
        for (int k = 0; k < (int)lines.n; k++)
            if (item[k] == a->ctx_sel) {
                first = first < 0 ? k : first;
                last = k;
            }
        if (first >= 0)
            a->ctx_top = tui_ctxlist_scroll(a->ctx_top, first, last, rows, (int)lines.n);
        for (int r = 0; r < rows && a->ctx_top + r < (int)lines.n; r++) {
            int k = a->ctx_top + r;
            attr_t sel = a->ctx_focus && item[k] == a->ctx_sel ? A_REVERSE : 0;
            if (sel)
                fill_row(top + 1 + r, x, x + w, sel);
            put_cells(top + 1 + r, x, lines.v[k].cells, lines.v[k].n, w, sel);
        }
        if (a->ctx_focus)
            put_text(top + h - 1, x, "\u2191\u2193 pick \u00b7 Enter its lines \u00b7 Esc back to typing", TUI_C_DIM,
                     w, 0);
    }
    tui_lines_free(&lines);
    free(item);
}

/* ---- input ------------------------------------------------------------------ */

typedef struct input_ctx {
    int top, first_row, rows, x0, w;
} input_ctx_t;

static void draw_char(void *ud, int row, int col, const char *s, size_t n)
{
    const input_ctx_t *c = ud;
    if (row < c->first_row || row >= c->first_row + c->rows)
        return;
    tui_cells_t cells = {0};
    char tmp[64];
    size_t k = n < sizeof tmp ? n : sizeof tmp - 1;
    memcpy(tmp, s, k);
    if (k == 1 && tmp[0] == '\t')
        tmp[0] = ' '; /* a tab takes one column in the editor's layout */
    if (tui_cells_add(&cells, tmp, k, TUI_C_USER, 0) == 0 && cells.n)
        put_cells(c->top + row - c->first_row, c->x0 + col, cells.v, 1, c->w - col, 0);
    tui_cells_free(&cells);
}

/* Draw the editor in rows TOP..TOP+ROWS-1; returns the cursor position. */
static void draw_input(tui_app_t *a, int top, int rows, int w, int *cy, int *cx)
{
    int total, row, col;
    tui_ed_layout(&a->ed, w, 2, &total, &row, &col);
    int first = row >= rows ? row - rows + 1 : 0;
    for (int r = 0; r < rows; r++)
        put_text(top + r, 0, r == 0 && first == 0 ? "\u203a " : "  ", TUI_C_ROLE_USER, 2, 0);
    if (a->ed.len == 0) {
        put_text(top, 2,
                 tui_pending_active(&a->pending) ? "y: apply the patch above \u00b7 n: discard it"
                 : a->save_path                  ? "y: replace the file \u00b7 n: keep it"
                 : a->st.generating              ? "answering... (Ctrl-C stops it)"
                 : a->st.completion ? "Start some code (a signature, a docstring) for octet to continue; /help lists commands"
                                    : "Ask about your code; /help lists commands",
                 TUI_C_DIM, w - 2, 0);
    }
    input_ctx_t c = {top, first, rows, 2, w - 2};
    tui_ed_walk(&a->ed, w, 2, draw_char, &c);
    *cy = top + row - first;
    *cx = 2 + col;
}

/* ---- status ------------------------------------------------------------------ */

static void draw_status(tui_app_t *a, int y, int w)
{
    char buf[512], sp[32];
    tui_cells_t c = {0};
    const tui_runner_status_t *st = &a->st;
    fill_row(y, 0, w, A_REVERSE);
    if (a->flash_while_busy && !st->busy)
        a->flash[0] = '\0'; /* it has stopped: the flash is over, also for the next job */
    if (a->flash[0] && tui_now() < a->flash_until) {
        snprintf(buf, sizeof buf, " %s", a->flash);
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS_KEY, 0);
    } else if (tui_pending_active(&a->pending)) {
        snprintf(buf, sizeof buf, " Apply this patch (%s)? y apply \u00b7 n discard", a->pending.summary);
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS_KEY, 0);
    } else if (a->save_path) {
        snprintf(buf, sizeof buf, " %s exists. Replace it? y replace \u00b7 n keep it", a->save_path);
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS_KEY, 0);
    } else {
        tui_cells_add(&c, " model ", 7, TUI_C_STATUS, 0);
        snprintf(buf, sizeof buf, "%s", st->loaded ? st->model : st->remote ? "?" : "none");
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS_KEY, 0);
        tui_cells_add(&c, "  preset ", 9, TUI_C_STATUS, 0);
        snprintf(buf, sizeof buf, "%s", st->preset[0] ? st->preset : a->preset.name);
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS_KEY, 0);
        snprintf(sp, sizeof sp, "  %.1f tok/s", st->tok_s);
        tui_cells_add(&c, sp, strlen(sp), TUI_C_STATUS, 0);
        if (st->n_drafted) { /* speculative decoding: drafts accepted, tokens per forward pass */
            snprintf(sp, sizeof sp, "  spec %.0f%% %.1f/pass", 100.0 * st->accept_rate, st->tok_per_pass);
            tui_cells_add(&c, sp, strlen(sp), TUI_C_STATUS, 0);
        }
        if (st->loaded) { /* what the model does with a message: answer it, or continue it */
            snprintf(sp, sizeof sp, "  %s", st->completion ? "completion" : "chat");
            tui_cells_add(&c, sp, strlen(sp), TUI_C_STATUS_KEY, 0);
        }
        snprintf(buf, sizeof buf, "  %s", st->busy ? st->state : "idle");
        tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS, 0);
        if (a->idx) {
            tui_index_progress_t ip;
            tui_indexer_progress(a->idx, &ip);
            if (ip.running) {
                if (ip.phase == RAG_PHASE_LIST || !ip.total) {
                    snprintf(buf, sizeof buf, "  indexing: listing files");
                } else {
                    int bw = 10, fill = (int)((double)ip.done / (double)ip.total * bw);
                    char bar[64] = "";
                    size_t o = 0;
                    for (int i = 0; i < bw; i++)
                        o += (size_t)snprintf(bar + o, sizeof bar - o, "%s", i < fill ? "\u2588" : "\u2591");
                    /* while embedding, lexical retrieval works already; hybrid once it is done */
                    snprintf(buf, sizeof buf, "  %s %s %zu/%zu", ip.phase == RAG_PHASE_EMBED ? "embedding" : "indexing",
                             bar, ip.done, ip.total);
                }
                tui_cells_add(&c, buf, strlen(buf), TUI_C_STATUS, 0);
            }
        }
    }
    put_cells(y, 0, c.v, (int)c.n, w, A_REVERSE);
    tui_cells_free(&c);
}

/* The gauge's figures for a remote engine: its /metrics, when it has them. */
static void remote_gauge(const tui_runner_status_t *st, tui_gauge_in_t *g)
{
    static const char *const notes[] = {"connecting", NULL, "no /metrics", "unreachable"};
    const remote_metrics_t *m = &st->rm;
    g->remote = true;
    g->host = st->host;
    g->note = notes[st->metrics];
    g->kv_usage = -1;
    if (st->metrics != TUI_RM_OK)
        return;
    g->gpu = !m->mem_ram;
    if (m->has_mem) {
        g->total = m->mem_total;
        g->used = m->mem_used;
    }
    g->loaded = m->weights >= 0 && m->kv_bytes >= 0;
    g->weights = m->weights > 0 ? (uint64_t)m->weights : 0;
    g->kv = m->kv_bytes > 0 ? (uint64_t)m->kv_bytes : 0;
    if (m->kv_tokens_used >= 0 && m->kv_tokens_size > 0 && m->kv_tokens_size <= UINT32_MAX) {
        g->kv_used = (uint32_t)m->kv_tokens_used;
        g->n_ctx = (uint32_t)m->kv_tokens_size;
    }
    g->kv_usage = m->kv_usage;
}

/* The gauge's figures for the local engine: the device's memory, or RAM. */
static void local_gauge(const tui_app_t *a, tui_gauge_in_t *g)
{
    const tui_runner_status_t *st = &a->st;
    g->gpu = st->loaded && st->gpu;
    if (g->gpu) {
        const eng_mem_dev_t *d = &st->mem.dev[0];
        g->total = d->dev_total;
        g->used = d->dev_total > d->dev_free ? d->dev_total - d->dev_free : 0;
    } else {
        g->total = a->ram_total;
        g->used = a->ram_total > a->ram_avail ? a->ram_total - a->ram_avail : 0;
    }
    g->loaded = st->loaded;
    g->weights = st->mem.weights;
    g->kv = st->mem.kv;
    g->scratch = st->mem.scratch;
    g->kv_used = st->pos;
    g->n_ctx = st->n_ctx;
}

static void draw_gauge(tui_app_t *a, int y, int w)
{
    const tui_runner_status_t *st = &a->st;
    tui_gauge_in_t g = {0};
    if (st->remote) {
        remote_gauge(st, &g);
    } else {
        local_gauge(a, &g);
    }
    tui_cells_t c = {0};
    tui_cells_add(&c, " ", 1, TUI_C_STATUS, 0);
    tui_gauge_render(&g, w - 1, &c);
    put_cells(y, 0, c.v, (int)c.n, w, 0);
    tui_cells_free(&c);
}

/* ---- overlays ------------------------------------------------------------------ */

static const char *const HELP[] = {
    "Keys",
    "  Enter              send the message, or run a /command",
    "  Alt-Enter Ctrl-J   new line (pasted text keeps its newlines)",
    "  Left Right Home End Ctrl-A Ctrl-E    move in the line",
    "  Up Down            move between lines; on the first/last: history",
    "  Ctrl-K Ctrl-U Ctrl-W Ctrl-Y   cut to end / to start / a word; paste",
    "  PgUp PgDn wheel    scroll the transcript",
    "  Ctrl-C             stop the answer; twice at the prompt: quit",
    "  Ctrl-D             quit (on an empty input)     Ctrl-L  redraw",
    "  F1 help   F2 preset picker   F3 context panel (Up Down pick, Enter shows)",
    "Commands",
    "  /preset [NAME|auto]  switch preset (no name: the picker)",
    "  /model PATH          load another GGUF model",
    "  /index               bring the repository index up to date",
    "  /search QUERY        the repository chunks most relevant to QUERY",
    "  /save FILE           write the transcript as Markdown",
    "  /copy N [FILE]       code block N to FILE (no FILE: the clipboard)",
    "  /spec [FILE]         a function from a spec: the form, or a spec file",
    "  /refactor INSTRUCTION [--path P | --symbol S] [--force]  a diff, applied on y",
    "  /add PATH[:A-B] | SYMBOL  pin code into every prompt   /drop [N|PATH]  unpin",
    "  /undo [yes]          show, then restore, the files the last apply changed",
    "  /diff                what octet changed since the start   /commit [MSG]  commit it",
    "  /clear  forget the conversation  /context  the panel  /verbose  show prompts",
    "  /help    this help                 /quit     leave octet",
    "Any key closes this help.",
};

static void draw_box(int top, int left, int h, int w, const char *title)
{
    for (int y = top; y < top + h; y++)
        fill_row(y, left, left + w, A_NORMAL);
    for (int x = left + 1; x < left + w - 1; x++) {
        put_text(top, x, "\u2500", TUI_C_FRAME, 1, 0);
        put_text(top + h - 1, x, "\u2500", TUI_C_FRAME, 1, 0);
    }
    for (int y = top + 1; y < top + h - 1; y++) {
        put_text(y, left, "\u2502", TUI_C_FRAME, 1, 0);
        put_text(y, left + w - 1, "\u2502", TUI_C_FRAME, 1, 0);
    }
    put_text(top, left, "\u256d", TUI_C_FRAME, 1, 0);
    put_text(top, left + w - 1, "\u256e", TUI_C_FRAME, 1, 0);
    put_text(top + h - 1, left, "\u2570", TUI_C_FRAME, 1, 0);
    put_text(top + h - 1, left + w - 1, "\u256f", TUI_C_FRAME, 1, 0);
    put_text(top, left + 2, title, TUI_C_HEADING, w - 4, 0);
}

static void draw_help(int H, int W)
{
    int n = (int)(sizeof HELP / sizeof HELP[0]);
    int w = W - 4 < 84 ? W - 4 : 84, h = n + 2 < H - 2 ? n + 2 : H - 2;
    int top = (H - h) / 2, left = (W - w) / 2;
    draw_box(top, left, h, w, " octet help ");
    for (int i = 0; i < h - 2; i++)
        put_text(top + 1 + i, left + 2, HELP[i], HELP[i][0] == ' ' ? TUI_C_TEXT : i == n - 1 ? TUI_C_DIM : TUI_C_HEADING,
                 w - 4, 0);
}

static void draw_picker(tui_app_t *a, int H, int W)
{
    int n = (int)a->n_picks;
    int w = W - 4, h = n + 4 < H - 2 ? n + 4 : H - 2;
    int top = (H - h) / 2, left = (W - w) / 2;
    draw_box(top, left, h, w, " presets (Enter switch, Esc close) ");
    int rows = h - 3, first = a->pick_sel >= rows ? a->pick_sel - rows + 1 : 0;
    int nw = 8; /* the name column: as wide as the longest name shown */
    for (int i = 0; i < n; i++)
        if ((int)strlen(a->picks[i].name) > nw)
            nw = (int)strlen(a->picks[i].name);
    if (nw > 24)
        nw = 24;
    for (int i = 0; i < rows && first + i < n; i++) {
        const tui_pick_t *p = &a->picks[first + i];
        char line[320];
        bool cur = !strcmp(p->name, a->st.preset[0] ? a->st.preset : a->preset.name);
        if (w - 4 >= 86 + nw - 16)
            snprintf(line, sizeof line, "%s %-*s %s", cur ? "\u25cf" : " ", nw, p->name, p->plan);
        else
            snprintf(line, sizeof line, "%s %-*s %s", cur ? "\u25cf" : " ", nw, p->name, p->brief);
        attr_t sel = first + i == a->pick_sel ? A_REVERSE : 0;
        fill_row(top + 1 + i, left + 1, left + w - 1, sel);
        put_text(top + 1 + i, left + 2, line, p->fits ? TUI_C_TEXT : TUI_C_DIM, w - 4, sel);
    }
    put_text(top + h - 2, left + 2, "plans: weights + KV cache + scratch; fits: with the safety margin", TUI_C_DIM,
             w - 4, 0);
}

/* The lines of the context panel's row (Enter on it), scrolled by view_top. */
static void draw_view(tui_app_t *a, int H, int W)
{
    if (!a->ctx || a->ctx_sel >= (int)a->ctx->n) {
        a->overlay = TUI_OV_NONE;
        return;
    }
    int w = W - 4, h = H - 2, top = 1, left = 2, rows = h - 3;
    draw_box(top, left, h, w, " context: the lines of a row ");
    tui_lines_t lines = {0};
    if (tui_ctxlist_view(&a->ctx->items[a->ctx_sel], w - 4, &lines) == 0) {
        int max_top = (int)lines.n > rows ? (int)lines.n - rows : 0;
        if (a->view_top > max_top)
            a->view_top = max_top;
        for (int r = 0; r < rows && a->view_top + r < (int)lines.n; r++)
            put_cells(top + 1 + r, left + 2, lines.v[a->view_top + r].cells, lines.v[a->view_top + r].n, w - 4, 0);
        put_text(top + h - 2, left + 2,
                 a->view_top < max_top ? "\u2191\u2193 PgUp PgDn scroll \u00b7 Esc closes \u00b7 more below"
                                       : "\u2191\u2193 PgUp PgDn scroll \u00b7 Esc closes",
                 TUI_C_DIM, w - 4, 0);
    }
    tui_lines_free(&lines);
}

/* The /spec form: a label and an editor per field, the field being edited
 * highlighted, an error under the field it names. */
static void draw_form(tui_app_t *a, int H, int W, int *cy, int *cx)
{
    const tui_form_t *f = &a->form;
    int w = W - 4 < 96 ? W - 4 : 96, lw = 15, fw = w - 4 - lw;
    int ex_rows = H >= 24 ? 4 : 2;
    /* a row under each field for its hint or error; one more for a long error */
    int h = 2 + 2 * (TUI_FORM_N - 1) + ex_rows + 1 + 1 + 3;
    if (h > H)
        h = H;
    int top = (H - h) / 2, left = (W - w) / 2;
    draw_box(top, left, h, w, " /spec: a function from a spec ");
    int y = top + 1;
    *cy = *cx = -1;
    for (int i = 0; i < TUI_FORM_N && y < top + h - 3; i++) {
        bool cur = i == f->cur;
        int rows = i == TUI_FORM_EXAMPLES ? ex_rows : 1;
        char label[32];
        snprintf(label, sizeof label, "%s%s", cur ? "\u25b8 " : "  ", tui_form_label(i));
        put_text(y, left + 2, label, cur ? TUI_C_HEADING : TUI_C_TEXT, lw, 0);
        for (int r = 0; r < rows; r++)
            fill_row(y + r, left + 2 + lw, left + 2 + lw + fw, cur ? A_UNDERLINE : A_NORMAL);
        const tui_ed_t *ed = &f->f[i];
        int total, row, col;
        tui_ed_layout(ed, fw, 0, &total, &row, &col);
        int first = row >= rows ? row - rows + 1 : 0;
        input_ctx_t c = {y, first, rows, left + 2 + lw, fw};
        if (ed->len == 0 && !cur)
            put_text(y, left + 2 + lw, tui_form_hint(i), TUI_C_DIM, fw, 0);
        tui_ed_walk(ed, fw, 0, draw_char, &c);
        if (cur) {
            *cy = y + row - first;
            *cx = left + 2 + lw + col;
        }
        y += rows;
        if (f->err_field == i && f->err[0]) {
            tui_cells_t ec = {0};
            tui_lines_t el = {0};
            if (tui_cells_add(&ec, f->err, strlen(f->err), TUI_C_FORM_ERR, 4) == 0 &&
                tui_wrap(ec.v, ec.n, fw, true, "\u21b3 ", "  ", TUI_C_FORM_ERR, &el) == 0)
                for (size_t k = 0; k < el.n && k < 2; k++)
                    put_cells(y + (int)k, left + 2 + lw, el.v[k].cells, el.v[k].n, fw, 0);
            y += el.n > 1 ? 1 : 0;
            tui_lines_free(&el);
            tui_cells_free(&ec);
        } else if (cur && ed->len) {
            put_text(y, left + 2 + lw, tui_form_hint(i), TUI_C_DIM, fw, 0);
        }
        y++;
    }
    if (f->err[0] && f->err_field < 0)
        put_text(top + h - 3, left + 2, f->err, TUI_C_FORM_ERR, w - 4, 0);
    put_text(top + h - 2, left + 2,
             "Tab/Enter next \u00b7 Shift-Tab back \u00b7 Ctrl-J new line \u00b7 Enter on Examples generates "
             "\u00b7 Esc closes",
             TUI_C_DIM, w - 4, 0);
}

/* ---- the whole screen ----------------------------------------------------------- */

void tui_screen_draw(tui_app_t *a)
{
    int H = LINES, W = COLS;
    erase();
    if (W < TUI_MIN_W || H < TUI_MIN_H) {
        char msg[128];
        snprintf(msg, sizeof msg, "terminal too small (%dx%d): octet needs %dx%d", W, H, TUI_MIN_W, TUI_MIN_H);
        int y = H / 2, len = tui_text_width(msg, strlen(msg));
        put_text(y, len < W ? (W - len) / 2 : 0, msg, TUI_C_ERROR, W, 0);
        curs_set(0);
        refresh();
        return;
    }
    int ed_rows, row, col;
    tui_ed_layout(&a->ed, W, 2, &ed_rows, &row, &col);
    int max_in = H / 3 > 1 ? H / 3 : 1;
    int in_rows = ed_rows < max_in ? ed_rows : max_in;
    int status_y = H - 2, in_top = status_y - in_rows, sep_y = in_top - 1;
    int tr_h = sep_y;
    int ctx_w = a->show_ctx ? (W / 3 > 30 ? W / 3 : 30) : 0;
    int tr_w = W - ctx_w;
    /* a column of space between the transcript and the panel */
    draw_transcript(a, 0, tr_h, a->show_ctx ? tr_w - 1 : tr_w);
    if (a->show_ctx)
        draw_context(a, 0, tr_h, tr_w, ctx_w);
    /* the separator with the main keys */
    for (int x = 0; x < W; x++)
        put_text(sep_y, x, "\u2500", TUI_C_FRAME, 1, 0);
    const char *hint = W >= 90 ? " Enter send \u00b7 Alt-Enter newline \u00b7 Ctrl-C stop \u00b7 F1 help \u00b7 F2 presets "
                                 "\u00b7 F3 context "
                               : " Enter send \u00b7 Alt-Enter newline \u00b7 Ctrl-C stop \u00b7 F1 help ";
    put_text(sep_y, 2, hint, TUI_C_DIM, W - 4, 0);
    int cy, cx;
    draw_input(a, in_top, in_rows, W, &cy, &cx);
    draw_status(a, status_y, W);
    draw_gauge(a, status_y + 1, W);
    if (a->overlay == TUI_OV_HELP)
        draw_help(H, W);
    else if (a->overlay == TUI_OV_PICKER)
        draw_picker(a, H, W);
    else if (a->overlay == TUI_OV_FORM)
        draw_form(a, H, W, &cy, &cx);
    else if (a->overlay == TUI_OV_CHUNK)
        draw_view(a, H, W);
    if (a->overlay == TUI_OV_NONE || (a->overlay == TUI_OV_FORM && cy >= 0)) {
        curs_set(1);
        move(cy, cx < W ? cx : W - 1);
    } else {
        curs_set(0);
    }
    refresh();
}
