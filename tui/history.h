/* history.h - the input history kept across runs in
 * $XDG_STATE_HOME/octet/history (default ~/.local/state/octet/history):
 * one entry per line, with newlines and backslashes escaped (\n, \\), so a
 * multi-line prompt is one line of the file. Entries are appended as they
 * are sent (a crash loses nothing); loading keeps the newest MAX and
 * rewrites the file when it has grown past twice that. No ncurses. */
#ifndef OCTET_TUI_HISTORY_H
#define OCTET_TUI_HISTORY_H

#include <stddef.h>

#include "errmsg.h"

/* The history file's path; an empty string when neither XDG_STATE_HOME nor
 * HOME is set. */
void tui_hist_path(char *buf, size_t n);

/* Escape S for one line of the file / undo it. malloc'd; NULL when out of memory. */
char *tui_hist_escape(const char *s);
char *tui_hist_unescape(const char *s);

/* The newest MAX entries of PATH, oldest first (*out malloc'd, each entry
 * too; free with tui_hist_free). A missing file gives no entries. */
int tui_hist_load(const char *path, size_t max, char ***out, size_t *n, errmsg_t *err);
void tui_hist_free(char **v, size_t n);
/* Append ENTRY to PATH, creating its directories. */
int tui_hist_append(const char *path, const char *entry, errmsg_t *err);

#endif
