/* ctxlist.h - the context panel's text (F3, /context): each block the last
 * prompt got, pinned and retrieved, as rows wrapped to the panel's width
 * (the full path and line range, then the score or "pinned" and what became
 * of it), and the viewer of one block's lines (Enter on a row), numbered and
 * colored. No ncurses: unit-tested. */
#ifndef OCTET_TUI_CTXLIST_H
#define OCTET_TUI_CTXLIST_H

#include "pin.h"
#include "text.h"

/* The panel's lines for C at WIDTH columns, appended to OUT; (*ITEM)[k] is
 * the item line k of OUT belongs to (malloc'd, one entry per line of OUT).
 * Pinned rows are numbered P1, P2... (as /drop N counts them), refactor's
 * target T, retrieved ones 1, 2... best first. 0 or OCT_ENOMEM. */
int tui_ctxlist_layout(const pin_ctx_t *c, int width, tui_lines_t *out, int **item);

/* The viewer's lines for IT at WIDTH columns, appended to OUT: a header
 * (the row's label and what became of it), then its lines, numbered and
 * colored by its language. 0 or OCT_ENOMEM. */
int tui_ctxlist_view(const pin_item_t *it, int width, tui_lines_t *out);

/* The first of TOTAL lines to show in HEIGHT rows, starting from TOP and
 * moving as little as it takes to show lines FIRST to LAST (as many of
 * them as fit, FIRST first). */
int tui_ctxlist_scroll(int top, int first, int last, int height, int total);

#endif
