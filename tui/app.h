/* app.h - the TUI's state shared by its ncurses parts: tui.c (the main
 * loop, keys and commands) and screen.c (drawing). Internal to tui/. */
#ifndef OCTET_TUI_APP_H
#define OCTET_TUI_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "editor.h"
#include "encoder.h"
#include "form.h"
#include "gauge.h"
#include "indexer.h"
#include "markdown.h"
#include "pending.h"
#include "preset.h"
#include "rag.h"
#include "runner.h"
#include "text.h"

/* Smallest terminal the layout is drawn in; below it a message says so. */
#define TUI_MIN_W 60
#define TUI_MIN_H 16

typedef struct tui_entry {
    tui_role_t role;
    char *text;
    size_t len, cap;
    /* rendered lines, valid for (width, len, first_code) */
    tui_lines_t lines;
    int lines_width;
    size_t lines_len;
    int first_code, n_code;
    bool rendered;
} tui_entry_t;

typedef enum tui_overlay {
    TUI_OV_NONE,
    TUI_OV_HELP,
    TUI_OV_PICKER,
    TUI_OV_FORM, /* the /spec form */
    TUI_OV_CHUNK, /* the lines of a context panel row (Enter on it) */
} tui_overlay_t;

/* One row of the F2 picker. */
typedef struct tui_pick {
    char name[PRESET_NAME_MAX];
    char plan[160];  /* its memory plan, or why there is none */
    char brief[160]; /* the same for narrow screens */
    bool fits;
} tui_pick_t;

typedef struct tui_app {
    /* configuration */
    const char *model_arg, *large_arg;
    const char *backend_arg; /* --backend: replaces every preset's backend, or NULL */
    preset_list_t presets;
    preset_t preset; /* the one in use (or being switched to) */
    char repo[4096];

    /* workers */
    tui_runner_t *run;
    rag_t *rag;
    tui_indexer_t *idx;
    encoder_t *enc;     /* the retrieval encoder handed to rag (NULL: lexical) */
    bool lexical;       /* --lexical */
    char enc_why[512];  /* why there is none */

    /* transcript */
    tui_entry_t *ent;
    size_t n_ent, cap_ent;
    bool answer_open;    /* the last entry is the answer being streamed */
    char **deferred;     /* notices that arrived during the answer */
    size_t n_deferred;
    int scroll;          /* lines scrolled up from the bottom; 0 follows the stream */
    int total_lines;     /* at the last draw */

    /* context panel */
    bool show_ctx;
    bool ctx_focus;      /* Up/Down pick a row, Enter shows its lines, Esc gives the keys back */
    pin_ctx_t *ctx;      /* what the last prompt got, or what /search found; NULL: nothing yet */
    int ctx_sel;         /* the row picked (an item of ctx) */
    int ctx_top;         /* the first panel line shown */
    int view_top;        /* TUI_OV_CHUNK: the first line of the row's lines shown */
    pin_list_t pins;     /* what /add pinned (the runner has a copy) */
    bool verbose;        /* /verbose: each prompt is shown before it is sent */

    /* input */
    tui_ed_t ed;
    char hist_path[4096];
    bool in_paste;

    /* overlays */
    tui_overlay_t overlay;
    tui_pick_t *picks;
    size_t n_picks;
    int pick_sel;
    tui_form_t form;

    /* a patch /refactor proposed: y applies it, n discards it */
    tui_pending_t pending;
    bool refactor_force;   /* the last /refactor had --force: its patch applies to dirty files too */
    char *refactor_instr;  /* the last /refactor's instruction: the commit message with `commit = true` */
    char *since;           /* the undo record that was latest when the TUI started (NULL: none): /diff, /commit */

    /* status */
    tui_runner_status_t st;
    uint64_t ram_avail, ram_total;
    char flash[256];
    double flash_until;
    bool flash_while_busy; /* the flash ("stopping") ends as soon as the answer has stopped */
    char *save_path;       /* /save FILE of an existing file: waiting for y (replace) or n */
    double ctrl_c_at;
    bool quit;
} tui_app_t;

/* screen.c */
void tui_screen_init_colors(bool want);
void tui_screen_draw(tui_app_t *a);

/* tui.c: monotonic seconds */
double tui_now(void);

#endif
