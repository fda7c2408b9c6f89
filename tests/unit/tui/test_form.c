/* test_form.c - the TUI's /spec form (tui/form.c): each error lands on
 * the field it names, the corrected form gives the spec, field order and
 * hints. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "form.h"
#include "spec.h"
#include "test.h"

static void test_form(void)
{
    tui_form_t f;
    spec_t *s = NULL;
    errmsg_t err = {0};
    tui_form_init(&f);
    CHECK_EQ_STR(tui_ed_text(&f.f[TUI_FORM_LANGUAGE]), "python");
    CHECK_EQ_INT(f.cur, TUI_FORM_NAME);
    CHECK_EQ_INT(f.err_field, -1);
    /* each error lands on the field it names, and the cursor goes there */
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK(s == NULL);
    CHECK_EQ_INT(f.err_field, TUI_FORM_NAME);
    CHECK_EQ_STR(f.err, "name: required");
    tui_ed_set(&f.f[TUI_FORM_NAME], "add");
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a: integer, b: int");
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "int");
    f.cur = TUI_FORM_EXAMPLES;
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_INPUTS);
    CHECK_EQ_INT(f.cur, TUI_FORM_INPUTS);
    CHECKF(!strncmp(f.err, "inputs[0].type: unknown type 'integer'", 38), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a int");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_INPUTS);
    CHECKF(strstr(f.err, "expected NAME: TYPE"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_INPUTS], "a: int, b: int");
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "number");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_OUTPUT);
    tui_ed_set(&f.f[TUI_FORM_OUTPUT], "int");
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 -> 3\n1 -> 2");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_EXAMPLES);
    CHECKF(strstr(f.err, "examples[1].input: expected an array of 2 values"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 => 3");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_EXAMPLES);
    CHECKF(strstr(f.err, "examples line 1"), "%s", f.err);
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "");
    tui_ed_set(&f.f[TUI_FORM_LANGUAGE], "rust");
    CHECK_EQ_INT(tui_form_submit(&f, &s, &err), OCT_EFORMAT);
    CHECK_EQ_INT(f.err_field, TUI_FORM_LANGUAGE);
    /* corrected: a spec, and the error is gone */
    tui_ed_set(&f.f[TUI_FORM_LANGUAGE], "c");
    tui_ed_set(&f.f[TUI_FORM_DESCRIPTION], "the sum");
    tui_ed_set(&f.f[TUI_FORM_EXAMPLES], "1, 2 -> 3\n\n-1, 1 -> 0\n");
    CHECKF(tui_form_submit(&f, &s, &err) == 0, "%s", f.err);
    CHECK_EQ_INT(f.err_field, -1);
    CHECK_EQ_STR(f.err, "");
    if (s) {
        CHECK_EQ_STR(s->name, "add");
        CHECK_EQ_INT(s->lang, SPEC_LANG_C);
        CHECK_EQ_INT(s->n_inputs, 2);
        CHECK_EQ_INT(s->n_examples, 2);
        CHECK_EQ_STR(s->description, "the sum");
    }
    spec_free(s);
    CHECK_EQ_INT(tui_form_field_of("form: output: unknown type"), TUI_FORM_OUTPUT);
    CHECK_EQ_INT(tui_form_field_of("description: too long"), TUI_FORM_DESCRIPTION);
    CHECK_EQ_INT(tui_form_field_of("names are wrong"), -1);
    f.cur = TUI_FORM_EXAMPLES;
    tui_form_next(&f);
    CHECK_EQ_INT(f.cur, TUI_FORM_LANGUAGE);
    tui_form_prev(&f);
    CHECK_EQ_INT(f.cur, TUI_FORM_EXAMPLES);
    CHECK(strstr(tui_form_hint(TUI_FORM_EXAMPLES), "->") != NULL);
    tui_form_free(&f);
}

int main(void)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("FAIL no C.UTF-8 locale\n# passed 0 failed 1\n");
        return 1;
    }
    TEST_RUN(test_form);
    TEST_END();
}
