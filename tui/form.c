/* form.c - the /spec form's fields and submission (see form.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

/* The fields' names as spec_form_json's messages spell them, in field order. */
static const char *const KEYS[TUI_FORM_N] = {"language", "name", "inputs", "output", "description", "examples"};
static const char *const LABELS[TUI_FORM_N] = {"Language", "Function", "Inputs", "Output", "Description",
                                               "Examples"};
static const char *const HINTS[TUI_FORM_N] = {
    "python or c",
    "the function's name: add",
    "NAME: TYPE, ...  e.g. a: int, xs: list[int]",
    "the return type: int, long, double, bool, string, list[T]",
    "what it does (optional)",
    "one per line, ARGS -> OUTPUT in JSON: 1, [2, 3] -> 6 (optional)",
};

void tui_form_init(tui_form_t *f)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < TUI_FORM_N; i++)
        tui_ed_init(&f->f[i], 0);
    tui_ed_set(&f->f[TUI_FORM_LANGUAGE], "python");
    f->cur = TUI_FORM_NAME;
    f->err_field = -1;
}

void tui_form_free(tui_form_t *f)
{
    for (int i = 0; i < TUI_FORM_N; i++)
        tui_ed_free(&f->f[i]);
    memset(f, 0, sizeof *f);
    f->err_field = -1;
}

const char *tui_form_label(int field)
{
    return field >= 0 && field < TUI_FORM_N ? LABELS[field] : "";
}

const char *tui_form_hint(int field)
{
    return field >= 0 && field < TUI_FORM_N ? HINTS[field] : "";
}

void tui_form_next(tui_form_t *f)
{
    f->cur = (f->cur + 1) % TUI_FORM_N;
}

void tui_form_prev(tui_form_t *f)
{
    f->cur = (f->cur + TUI_FORM_N - 1) % TUI_FORM_N;
}

int tui_form_field_of(const char *msg)
{
    /* spec_parse's messages start with the source name, "form: " */
    if (!strncmp(msg, "form: ", 6))
        msg += 6;
    for (int i = 0; i < TUI_FORM_N; i++) {
        size_t n = strlen(KEYS[i]);
        if (!strncmp(msg, KEYS[i], n) && (msg[n] == ':' || msg[n] == '[' || msg[n] == '.' || msg[n] == ' '))
            return i;
    }
    return -1;
}

int tui_form_submit(tui_form_t *f, spec_t **out, errmsg_t *err)
{
    *out = NULL;
    spec_form_t sf = {
        tui_ed_text(&f->f[TUI_FORM_LANGUAGE]), tui_ed_text(&f->f[TUI_FORM_NAME]),
        tui_ed_text(&f->f[TUI_FORM_INPUTS]),   tui_ed_text(&f->f[TUI_FORM_OUTPUT]),
        tui_ed_text(&f->f[TUI_FORM_DESCRIPTION]), tui_ed_text(&f->f[TUI_FORM_EXAMPLES]),
    };
    char *json = NULL;
    errmsg_t e = {0};
    int rc = spec_form_json(&sf, &json, &e);
    if (rc == 0)
        rc = spec_parse(out, json, strlen(json), "form", &e);
    free(json);
    if (rc == 0) {
        f->err[0] = '\0';
        f->err_field = -1;
        return 0;
    }
    if (rc != OCT_EFORMAT)
        return errmsg_set(err, rc, "%s", e.msg);
    snprintf(f->err, sizeof f->err, "%s", !strncmp(e.msg, "form: ", 6) ? e.msg + 6 : e.msg);
    f->err_field = tui_form_field_of(e.msg);
    if (f->err_field >= 0)
        f->cur = f->err_field;
    return rc;
}
