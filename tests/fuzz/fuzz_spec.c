/* fuzz_spec.c - libFuzzer harness for spec files: spec_parse on the input
 * and, when it is accepted, everything built from a spec without running
 * anything (signature, example calls, both harness sources, prompts); the
 * same bytes as a model's reply (code extraction) and as the TUI's form
 * (fields separated by 0x1F). Beyond crashes (ASan/UBSan) it aborts when a
 * promise is broken: an error is one line naming the input, an accepted
 * spec gives every derived text. tests/unit/flows/test_spec_fuzz.c #includes this file
 * to replay the corpus and the regressions in `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define FUZZ_NAME "fuzz.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

static void fuzz_check_error(const errmsg_t *err, int rc, const char *prefix)
{
    fuzz_require(rc < 0 && err->code == rc);
    fuzz_require(strncmp(err->msg, prefix, strlen(prefix)) == 0);
    fuzz_require(strchr(err->msg, '\n') == NULL);
}

/* Everything derived from an accepted spec must be there. */
static void fuzz_derive(const spec_t *s)
{
    errmsg_t err = {0};
    char *text = NULL, *head = NULL;
    fuzz_require(s->name && s->description && (s->n_inputs == 0 || s->inputs));
    fuzz_require(spec_signature(s, &text, &err) == 0 && strstr(text, s->name));
    free(text);
    for (size_t i = 0; i < s->n_examples; i++) {
        fuzz_require(spec_example_call(s, i, &text, &err) == 0 && !strncmp(text, s->name, strlen(s->name)));
        free(text);
    }
    char *paths[] = {"/src"};
    fuzz_require(spec_harness(s, paths, 1, &text, &err) == 0 && strlen(text) > 100);
    free(text);
    chat_msg_t msgs[4];
    size_t n = 0;
    fuzz_require(spec_prompt_chat(s, "ctx", "prev", "error", msgs, &n, &err) == 0 && n == 4);
    spec_msgs_free(msgs, n);
    fuzz_require(spec_prompt_completion(s, "ctx */ x", "error", &text, &head, &err) == 0);
    fuzz_require(strlen(text) >= strlen(head));
    free(text);
    free(head);
    text = spec_query(s);
    fuzz_require(text != NULL);
    free(text);
}

static spec_t *fuzz_fixed[2];

static void fuzz_init(void)
{
    static const char *const fixed[2] = {
        "{\"language\": \"python\", \"name\": \"add\", \"description\": \"d\", \"inputs\": "
        "[{\"name\": \"a\", \"type\": \"int\"}], \"output\": \"int\"}",
        "{\"language\": \"c\", \"name\": \"add\", \"description\": \"d\", \"inputs\": [], \"output\": \"string\"}",
    };
    errmsg_t err;
    for (int i = 0; i < 2; i++)
        if (!fuzz_fixed[i])
            fuzz_require(spec_parse(&fuzz_fixed[i], fixed[i], strlen(fixed[i]), "fixed", &err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    int rc = spec_parse(&s, (const char *)data, size, FUZZ_NAME, &err);
    if (rc) {
        fuzz_require(s == NULL);
        fuzz_check_error(&err, rc, FUZZ_NAME);
    } else {
        fuzz_derive(s);
        spec_free(s);
    }

    /* the bytes as a model's reply */
    fuzz_init();
    char *text = malloc(size + 1);
    fuzz_require(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    for (int i = 0; i < 2; i++) {
        char *code = NULL;
        const char *head = i == 0 ? "def add(a: int) -> int:\n" : "char *add(void)\n{\n";
        for (int completion = 0; completion < 2; completion++) {
            rc = spec_extract_code(fuzz_fixed[i], text, completion ? head : NULL, &code, &err);
            fuzz_require(rc == 0 ? code != NULL && (!completion || !strncmp(code, head, strlen(head)))
                                 : code == NULL && err.msg[0]);
            free(code);
            spec_reply_complete(fuzz_fixed[i], text, completion);
        }
    }

    /* the bytes as the TUI's form: language, name, inputs, output, description, examples */
    const char *field[6] = {"", "", "", "", "", ""};
    int k = 0;
    field[0] = text;
    for (char *p = text; *p && k < 5; p++)
        if (*p == '\x1f') {
            *p = '\0';
            field[++k] = p + 1;
        }
    spec_form_t form = {field[0], field[1], field[2], field[3], field[4], field[5]};
    char *json = NULL;
    rc = spec_form_json(&form, &json, &err);
    if (rc == 0) {
        fuzz_require(spec_parse(&s, json, strlen(json), "form", &err) == 0);
        spec_free(s);
        free(json);
    } else {
        fuzz_require(json == NULL && rc < 0 && strchr(err.msg, '\n') == NULL);
    }
    free(text);
    return 0;
}
