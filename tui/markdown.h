/* markdown.h - the little Markdown the transcript understands: text split
 * into prose and fenced code blocks (``` or ~~~, with a language word), so
 * code can be set off, colored and copied (/copy N), and the rendering of
 * one transcript entry into screen lines: a role header, prose soft-wrapped
 * at spaces with `inline code` and # headings marked, code blocks framed,
 * numbered and highlighted, wrapped anywhere. A block still open at the end
 * (an answer being streamed) is a code block running to the end.
 * Pure functions, no ncurses. */
#ifndef OCTET_TUI_MARKDOWN_H
#define OCTET_TUI_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "text.h"

typedef enum tui_md_kind {
    TUI_MD_PROSE,
    TUI_MD_CODE,
} tui_md_kind_t;

typedef struct tui_md_block {
    tui_md_kind_t kind;
    char lang[24];  /* code: the fence's first info word ("" when none) */
    size_t start;   /* content bytes: for code, the lines between the fences */
    size_t len;     /* (without the newline before the closing fence) */
    bool closed;    /* code: the closing fence was seen */
} tui_md_block_t;

/* Split LEN bytes of TEXT. *out is malloc'd (caller frees), *n blocks;
 * empty prose between blocks is left out. 0 or OCT_ENOMEM. */
int tui_md_split(const char *text, size_t len, tui_md_block_t **out, size_t *n);

/* The N-th code block (1-based) of LEN bytes of TEXT: its content at
 * *START, *CLEN bytes. Returns true when found; otherwise *COUNT (may be
 * NULL) receives the number of code blocks TEXT has. */
bool tui_md_code_block(const char *text, size_t len, int n, size_t *start, size_t *clen, int *count);

typedef enum tui_role {
    TUI_ROLE_USER,
    TUI_ROLE_ASSISTANT,
    TUI_ROLE_NOTICE,
    TUI_ROLE_ERROR,
} tui_role_t;

/* Lines of one transcript entry for WIDTH columns, appended to OUT. Code
 * blocks are numbered from FIRST_CODE (their /copy number); *N_CODE (may be
 * NULL) receives the number of code blocks. Assistant text is Markdown; user
 * text is shown as typed; notices and errors are one dim / red paragraph.
 * Entries end with an empty line. 0 or OCT_ENOMEM. */
int tui_render_entry(tui_role_t role, const char *text, size_t len, int width, int first_code,
                     int *n_code, tui_lines_t *out);

#endif
