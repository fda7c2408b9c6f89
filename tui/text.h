/* text.h - terminal text as the TUI lays it out: UTF-8 decoding (invalid
 * bytes and control characters become U+FFFD, never garbage on the screen),
 * display widths (wcwidth: wide CJK and emoji take two columns, combining
 * marks stick to the character before them), cells with a color class, and
 * soft wrapping of a logical line to a width (at spaces for prose, anywhere
 * for code), never splitting a wide character across lines.
 *
 * Pure functions over memory: no ncurses here, so everything is unit-tested.
 * The locale's LC_CTYPE must be a UTF-8 one for wcwidth (tui_main sets it). */
#ifndef OCTET_TUI_TEXT_H
#define OCTET_TUI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Color classes of cells; screen.c maps them to curses attributes. */
typedef enum tui_cls {
    TUI_C_TEXT,
    TUI_C_DIM,
    TUI_C_HEADING,
    TUI_C_USER,      /* what the user typed */
    TUI_C_ROLE_USER, /* "you" header */
    TUI_C_ROLE_BOT,  /* "octet" header */
    TUI_C_NOTICE,
    TUI_C_ERROR,
    TUI_C_INLINE,    /* `inline code` in prose */
    TUI_C_FRAME,     /* the frame around code blocks */
    TUI_C_CODE,      /* code text without a special class */
    TUI_C_KEYWORD,
    TUI_C_STRING,
    TUI_C_COMMENT,
    TUI_C_NUMBER,
    TUI_C_BAR_OK, /* gauge bar below 70% */
    TUI_C_BAR_WARN,
    TUI_C_BAR_CRIT, /* 90% and above */
    TUI_C_BAR_FREE,
    TUI_C_STATUS,
    TUI_C_STATUS_KEY,
    TUI_C_DIFF_ADD,  /* diff: an added line */
    TUI_C_DIFF_DEL,  /* a removed line */
    TUI_C_DIFF_HUNK, /* @@ hunk header */
    TUI_C_DIFF_FILE, /* diff --git, ---, +++ */
    TUI_C_FORM_ERR,  /* an error under a form field */
    TUI_C_COUNT
} tui_cls_t;

#define TUI_CELL_COMB 2 /* combining marks kept per cell */

typedef struct tui_cell {
    uint32_t ch;                 /* code point shown (0 never appears) */
    uint32_t comb[TUI_CELL_COMB]; /* combining marks after it, 0-terminated */
    uint8_t width;               /* columns: 1 or 2 */
    uint8_t cls;                 /* tui_cls_t */
} tui_cell_t;

typedef struct tui_line {
    tui_cell_t *cells;
    int n;     /* cells */
    int width; /* columns */
} tui_line_t;

typedef struct tui_lines {
    tui_line_t *v;
    size_t n, cap;
} tui_lines_t;

/* A growable array of cells (one logical line being built). */
typedef struct tui_cells {
    tui_cell_t *v;
    size_t n, cap;
} tui_cells_t;

/* Columns CP takes: 0 for combining marks, 2 for wide, 1 otherwise; -1 for
 * characters that must not be sent to a terminal (controls, unassigned). */
int tui_cp_width(uint32_t cp);
/* Columns of LEN bytes of UTF-8 text on one line (tabs count as 1). */
int tui_text_width(const char *s, size_t len);

/* Append LEN bytes of text (no newlines expected: a newline shows as U+FFFD)
 * to CELLS in class CLS. Tabs expand to the next multiple of TAB columns
 * (counted from the start of CELLS). Returns 0 or OCT_ENOMEM. */
int tui_cells_add(tui_cells_t *c, const char *s, size_t len, uint8_t cls, int tab);
void tui_cells_free(tui_cells_t *c);

/* Wrap N cells to WIDTH columns, appending lines to OUT. Every line starts
 * with FIRST (the first line) or REST (continuation lines) prefixes, given
 * as text in class PCLS (may be NULL). WORD: break after the last space that
 * fits (the spaces at the break are dropped), else anywhere. An empty input
 * gives one line holding the prefix. Returns 0 or OCT_ENOMEM. */
int tui_wrap(const tui_cell_t *cells, size_t n, int width, bool word, const char *first,
             const char *rest, uint8_t pcls, tui_lines_t *out);

/* Append a copy of one line. */
int tui_lines_push(tui_lines_t *l, const tui_cell_t *cells, int n);
void tui_lines_clear(tui_lines_t *l); /* frees the lines, keeps the array */
void tui_lines_free(tui_lines_t *l);
/* The text of LINE as UTF-8 into BUF (truncated to SIZE-1 bytes; tests, /save). */
size_t tui_line_text(const tui_line_t *line, char *buf, size_t size);

#endif
