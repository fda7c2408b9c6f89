/* highlight.h - syntax coloring of code blocks, line by line: keywords,
 * strings, comments and numbers for C/C++, Python, JavaScript/TypeScript,
 * Go, Rust, Java and shell; unified diffs line by line (added, removed,
 * hunk and file headers). A state carries block comments and multi-line
 * strings (Python triple quotes, JS/Go backticks, shell quotes) from one line
 * to the next. A lexer, not a parser: good enough to read code by, cheap
 * enough to rerun on every streamed token. Pure functions, no ncurses. */
#ifndef OCTET_TUI_HIGHLIGHT_H
#define OCTET_TUI_HIGHLIGHT_H

#include <stddef.h>
#include <stdint.h>

typedef enum tui_lang {
    TUI_LANG_NONE,
    TUI_LANG_C, /* C and C++ */
    TUI_LANG_PYTHON,
    TUI_LANG_JS, /* JavaScript and TypeScript */
    TUI_LANG_GO,
    TUI_LANG_RUST,
    TUI_LANG_JAVA,
    TUI_LANG_SHELL,
    TUI_LANG_DIFF, /* unified diffs: whole lines by their first character */
} tui_lang_t;

/* The language of a code fence's info word ("c", "py", "tsx", "bash"...,
 * case-insensitive); TUI_LANG_NONE when unknown or empty. */
tui_lang_t tui_hl_lang(const char *name);

typedef struct tui_hl_state {
    int mode;   /* inside nothing, a block comment or a string */
    char delim; /* the quote that ends the string */
    int triple; /* Python triple-quoted string */
} tui_hl_state_t;

/* Classify the LEN bytes of one LINE (no newline): CLS[i] receives the
 * tui_cls_t of byte i (TUI_C_CODE, _KEYWORD, _STRING, _COMMENT, _NUMBER;
 * for diffs TUI_C_DIFF_ADD, _DEL, _HUNK, _FILE).
 * ST (zeroed before the first line) is updated for the next line. */
void tui_hl_line(tui_lang_t lang, const char *line, size_t len, tui_hl_state_t *st, uint8_t *cls);

#endif
