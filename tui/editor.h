/* editor.h - the multi-line input editor: a UTF-8 buffer with a cursor,
 * the editing operations the keys map to (cursor moves by character and
 * logical line, Home/End, readline's Ctrl-A/E/K/U/W/Y), a history navigated
 * with Up/Down from the first/last line (the draft is kept while browsing),
 * and the layout of the buffer wrapped to the screen width with the cursor's
 * row and column. Pure functions, no ncurses. */
#ifndef OCTET_TUI_EDITOR_H
#define OCTET_TUI_EDITOR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tui_ed {
    char *buf; /* NUL-terminated */
    size_t len, cap;
    size_t cur;  /* byte offset of the cursor, on a character boundary */
    char *kill;  /* the last killed text, for Ctrl-Y */
    char **hist; /* oldest first */
    size_t n_hist, cap_hist, max_hist;
    size_t hist_pos; /* == n_hist: editing the draft */
    char *draft;
} tui_ed_t;

/* An empty editor keeping at most MAX_HIST history entries. */
void tui_ed_init(tui_ed_t *e, size_t max_hist);
void tui_ed_free(tui_ed_t *e);

const char *tui_ed_text(const tui_ed_t *e);
/* Replace the text; the cursor goes to the end. 0 or OCT_ENOMEM. */
int tui_ed_set(tui_ed_t *e, const char *s);
/* Insert N bytes at the cursor (CR and CRLF become LF: pasted text). */
int tui_ed_insert(tui_ed_t *e, const char *s, size_t n);

void tui_ed_left(tui_ed_t *e);
void tui_ed_right(tui_ed_t *e);
void tui_ed_home(tui_ed_t *e); /* start of the line (Ctrl-A) */
void tui_ed_end(tui_ed_t *e);  /* end of the line (Ctrl-E) */
/* The same column of the previous / next logical line. False (nothing
 * moved) on the first / last line. */
bool tui_ed_up(tui_ed_t *e);
bool tui_ed_down(tui_ed_t *e);
void tui_ed_backspace(tui_ed_t *e);
void tui_ed_delete(tui_ed_t *e);
int tui_ed_kill_eol(tui_ed_t *e);  /* Ctrl-K: to the end of the line; at its end, the newline */
int tui_ed_kill_bol(tui_ed_t *e);  /* Ctrl-U: from the start of the line */
int tui_ed_kill_word(tui_ed_t *e); /* Ctrl-W: the word before the cursor and the spaces after it */
int tui_ed_yank(tui_ed_t *e);      /* Ctrl-Y: insert the last killed text */

/* History: add an entry (empty entries and repeats of the last are skipped)
 * and go back to the draft. */
int tui_ed_hist_add(tui_ed_t *e, const char *s);
/* Show the previous / next entry (false at the ends). Leaving the draft
 * saves it; coming back past the newest entry restores it. */
bool tui_ed_hist_prev(tui_ed_t *e);
bool tui_ed_hist_next(tui_ed_t *e);

/* Layout for WIDTH columns with a prompt of PROMPT_W columns on every row:
 * *rows the rows the text takes (>= 1), *row and *col the cursor's. Lines wrap
 * at the width exactly (wide characters never split). */
void tui_ed_layout(const tui_ed_t *e, int width, int prompt_w, int *rows, int *row, int *col);
/* Call CB for every character of the text (a base character with its
 * combining marks, N bytes at S) with its row and column in that layout
 * (the column counts from the end of the prompt); tabs take one column. */
typedef void (*tui_ed_cb)(void *ud, int row, int col, const char *s, size_t n);
void tui_ed_walk(const tui_ed_t *e, int width, int prompt_w, tui_ed_cb cb, void *ud);

#endif
