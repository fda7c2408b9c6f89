/* form.h - the /spec form: the fields of a spec (language, function name,
 * inputs, output type, description, examples) each in its own editor, the
 * field being edited, and the submission: the fields become a spec through
 * spec_form_json (flows/spec.h), whose errors are pinned to the field they
 * name so the form can show them there and stay open for the correction.
 * Pure functions, no ncurses: screen.c draws the form, tui.c maps keys. */
#ifndef OCTET_TUI_FORM_H
#define OCTET_TUI_FORM_H

#include <stdbool.h>

#include "editor.h"
#include "errmsg.h"
#include "spec.h"

typedef enum tui_form_field {
    TUI_FORM_LANGUAGE,
    TUI_FORM_NAME,
    TUI_FORM_INPUTS,
    TUI_FORM_OUTPUT,
    TUI_FORM_DESCRIPTION,
    TUI_FORM_EXAMPLES, /* the last field; the only one with several lines */
    TUI_FORM_N
} tui_form_field_t;

typedef struct tui_form {
    tui_ed_t f[TUI_FORM_N];
    int cur;       /* the field being edited */
    int err_field; /* the field the error names; -1: none (or the whole form) */
    char err[ERRMSG_MAX];
} tui_form_t;

/* An empty form with the language set to python. */
void tui_form_init(tui_form_t *f);
void tui_form_free(tui_form_t *f);

const char *tui_form_label(int field); /* "Inputs" */
const char *tui_form_hint(int field);  /* what to type: "a: int, xs: list[int]" */

/* Move to the next / previous field (wrapping around). */
void tui_form_next(tui_form_t *f);
void tui_form_prev(tui_form_t *f);

/* The field an error message of spec_form_json names ("inputs: ...",
 * "form: examples[1].output: ..."); -1 when none. */
int tui_form_field_of(const char *msg);

/* Turn the fields into a spec. 0 and *out (free with spec_free), or
 * OCT_EFORMAT with the error in f->err, f->err_field set and the cursor
 * moved to that field; other OCT_E* (out of memory) in ERR. */
int tui_form_submit(tui_form_t *f, spec_t **out, errmsg_t *err);

#endif
