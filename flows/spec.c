/* spec.c - spec files: parsing and validation, types and signatures, and
 * the TUI's form (see spec.h and docs/specs.md). The harnesses are in
 * spec_harness.c, the check in spec_check.c, generation in spec_gen.c. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rag.h"
#include "sandbox.h"
#include "sb.h"
#include "spec.h"
#include "spec_int.h"
#include "utf8.h"

#define SPEC_MAX_FILE (4 * 1024 * 1024)
#define SPEC_LONG_MAX 9007199254740992.0 /* 2^53: larger longs are not exact in JSON doubles */

/* ---- text helpers ---------------------------------------------------------- */

/* Append S with each line prefixed by PREFIX. */
void spec_add_lines(sbuf_t *b, const char *prefix, const char *s, size_t max_lines)
{
    size_t lines = 0;
    while (*s && lines < max_lines) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        sb_add(b, prefix);
        sb_addn(b, s, n);
        sb_add(b, "\n");
        lines++;
        s += n + (nl ? 1 : 0);
    }
    if (*s)
        sb_addf(b, "%s...\n", prefix);
}

/* ---- names and types ------------------------------------------------------ */

static const char *const PY_KEYWORDS[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", NULL,
};

static const char *const C_KEYWORDS[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
    "true", "false", "main", "size_t", "NULL", "_Bool", "_Alignas", "_Alignof", "_Atomic", "_Complex",
    "_Generic", "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static const char *const BASE_NAMES[] = {"int", "long", "double", "bool", "string"};

const char *spec_lang_name(spec_lang_t l) { return l == SPEC_LANG_C ? "c" : "python"; }

int spec_type_parse(const char *s, spec_type_t *out)
{
    bool list = false;
    char base[16];
    size_t n = strlen(s);
    if (n > 6 && !strncmp(s, "list[", 5) && s[n - 1] == ']') {
        if (n - 6 >= sizeof base)
            return -1;
        memcpy(base, s + 5, n - 6);
        base[n - 6] = '\0';
        list = true;
    } else if (n < sizeof base) {
        memcpy(base, s, n + 1);
    } else {
        return -1;
    }
    for (int i = 0; i < 5; i++)
        if (!strcmp(base, BASE_NAMES[i])) {
            out->base = (spec_base_t)i;
            out->list = list;
            return 0;
        }
    return -1;
}

const char *spec_type_name(spec_type_t t, char *buf, size_t size)
{
    snprintf(buf, size, t.list ? "list[%s]" : "%s", BASE_NAMES[t.base]);
    return buf;
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct pctx {
    const char *src;
    errmsg_t *err;
} pctx_t;

/* A short JSON rendering of V for messages. */
static void json_snip(const cJSON *v, char *buf, size_t size)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(buf, size, "(value)");
        return;
    }
    if (strlen(s) > 40)
        snprintf(buf, size, "%.37s...", s);
    else
        snprintf(buf, size, "%s", s);
    free(s);
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}

/* User text quoted in a message: at most MAX bytes, control characters
 * shown as '?', so that a message stays one line. */
static const char *clip(const char *s, size_t max, char *buf)
{
    size_t i = 0;
    for (; s[i] && i < max; i++)
        buf[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    buf[i] = '\0';
    if (s[i])
        strcpy(buf + i, "...");
    return buf;
}

/* Check that object O has only the keys in ALLOWED, each once. */
static int check_keys(pctx_t *c, const cJSON *o, const char *where, const char *const *allowed)
{
    for (const cJSON *k = o->child; k; k = k->next) {
        if (!in_list(allowed, k->string)) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
            char kb[72];
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s%sunknown field '%s' (expected %s)", c->src, where,
                              *where ? ": " : "", clip(k->string, 64, kb), list);
        }
        for (const cJSON *j = o->child; j != k; j = j->next)
            if (!strcmp(j->string, k->string)) {
                char kb[72];
                return errmsg_set(c->err, OCT_EFORMAT, "%s: %s%sfield '%s' appears twice", c->src, where,
                                  *where ? ": " : "", clip(k->string, 64, kb));
            }
    }
    return 0;
}

static int get_string(pctx_t *c, const cJSON *o, const char *key, const char *where, bool required, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) {
        if (!required)
            return 0;
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s%s: missing (a string is required)", c->src, where, key);
    }
    if (!cJSON_IsString(v))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s%s: expected a string, got %s", c->src, where, key,
                          json_kind(v));
    if (!utf8_valid(v->valuestring, strlen(v->valuestring)))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s%s: the string is not valid UTF-8", c->src, where, key);
    *out = strdup(v->valuestring);
    if (!*out)
        return errmsg_set(c->err, OCT_ENOMEM, "out of memory");
    return 0;
}

static int check_ident(pctx_t *c, spec_lang_t lang, const char *s, const char *field)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n <= SPEC_MAX_NAME && (isalpha((unsigned char)s[0]) || s[0] == '_');
    for (size_t i = 1; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_';
    char sb[72];
    if (!ok)
        return errmsg_set(c->err, OCT_EFORMAT,
                          "%s: %s: '%s' is not a valid name (letters, digits and '_', not starting with a "
                          "digit, at most %d characters)",
                          c->src, field, clip(s, 64, sb), SPEC_MAX_NAME);
    if (!strncmp(s, "octet_", 6) || !strncmp(s, "_octet_", 7))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: names starting with octet_ are reserved for the test harness",
                          c->src, field);
    if (in_list(lang == SPEC_LANG_C ? C_KEYWORDS : PY_KEYWORDS, s))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: '%s' is a reserved word in %s", c->src, field, s,
                          lang == SPEC_LANG_C ? "C" : "Python");
    return 0;
}

static int parse_type(pctx_t *c, const cJSON *v, const char *field, spec_type_t *out)
{
    if (!v)
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: missing (a type such as \"int\" is required)", c->src, field);
    if (!cJSON_IsString(v))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected a type name (a string), got %s", c->src, field,
                          json_kind(v));
    char tb[48];
    if (spec_type_parse(v->valuestring, out))
        return errmsg_set(c->err, OCT_EFORMAT,
                          "%s: %s: unknown type '%s' (use int, long, double, bool, string, or list[T] of "
                          "those)",
                          c->src, field, clip(v->valuestring, 40, tb));
    return 0;
}

static int check_value(pctx_t *c, const cJSON *v, spec_type_t t, const char *where)
{
    char snip[48], tn[24];
    if (t.list) {
        if (!cJSON_IsArray(v)) {
            json_snip(v, snip, sizeof snip);
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected a %s (a JSON array), got %s", c->src, where,
                              spec_type_name(t, tn, sizeof tn), snip);
        }
        spec_type_t et = {t.base, false};
        size_t i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            char sub[160];
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            int rc = check_value(c, e, et, sub);
            if (rc)
                return rc;
        }
        return 0;
    }
    json_snip(v, snip, sizeof snip);
    switch (t.base) {
    case SPEC_T_INT:
    case SPEC_T_LONG: {
        double lim = t.base == SPEC_T_INT ? 2147483648.0 : SPEC_LONG_MAX;
        bool ok = cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
                  v->valuedouble >= -lim && v->valuedouble <= (t.base == SPEC_T_INT ? lim - 1 : lim);
        if (!ok)
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected %s, got %s", c->src, where,
                              t.base == SPEC_T_INT ? "an int (a whole number from -2147483648 to 2147483647)"
                                                   : "a long (a whole number from -2^53 to 2^53)",
                              snip);
        return 0;
    }
    case SPEC_T_DOUBLE:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected a double (a finite number), got %s", c->src,
                              where, snip);
        return 0;
    case SPEC_T_BOOL:
        if (!cJSON_IsBool(v))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected a bool (true or false), got %s", c->src, where,
                              snip);
        return 0;
    case SPEC_T_STRING:
        if (!cJSON_IsString(v))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected a string, got %s", c->src, where, snip);
        if (!utf8_valid(v->valuestring, strlen(v->valuestring)))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: the string is not valid UTF-8", c->src, where);
        return 0;
    }
    return 0;
}

/* cJSON cuts a string at an escaped NUL without a trace; refuse them in the text. */
static int find_escaped_nul(const char *text, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && text[i + 2] == '0' && text[i + 3] == '0' && text[i + 4] == '0' &&
            text[i + 5] == '0')
            return 1;
        i++; /* skip the escaped character */
    }
    return 0;
}

static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static const char *const TOP_KEYS[] = {"language", "name", "description", "inputs", "output", "examples", NULL};
static const char *const INPUT_KEYS[] = {"name", "type", "description", NULL};
static const char *const OUTPUT_KEYS[] = {"type", "description", NULL};
static const char *const EXAMPLE_KEYS[] = {"input", "output", NULL};

static int parse_doc(pctx_t *c, spec_t *s, const cJSON *root)
{
    int rc;
    char *lang = NULL;
    if (!cJSON_IsObject(root))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: expected a JSON object at the top level, got %s", c->src,
                          json_kind(root));
    if ((rc = check_keys(c, root, "", TOP_KEYS)))
        return rc;
    if ((rc = get_string(c, root, "language", "", true, &lang)))
        return rc;
    if (!strcasecmp(lang, "python"))
        s->lang = SPEC_LANG_PYTHON;
    else if (!strcasecmp(lang, "c"))
        s->lang = SPEC_LANG_C;
    else {
        char lb[48];
        rc = errmsg_set(c->err, OCT_EFORMAT, "%s: language: unsupported language '%s' (use \"python\" or \"c\")",
                        c->src, clip(lang, 40, lb));
        free(lang);
        return rc;
    }
    free(lang);
    if ((rc = get_string(c, root, "name", "", true, &s->name)) || (rc = check_ident(c, s->lang, s->name, "name")))
        return rc;
    if ((rc = get_string(c, root, "description", "", true, &s->description)))
        return rc;

    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!inputs)
        return errmsg_set(c->err, OCT_EFORMAT,
                          "%s: inputs: missing (an array of {\"name\", \"type\"}; [] for no inputs)", c->src);
    if (!cJSON_IsArray(inputs))
        return errmsg_set(c->err, OCT_EFORMAT, "%s: inputs: expected an array of {\"name\", \"type\"}, got %s",
                          c->src, json_kind(inputs));
    size_t n_in = (size_t)cJSON_GetArraySize(inputs);
    s->inputs = calloc(n_in ? n_in : 1, sizeof *s->inputs);
    if (!s->inputs)
        return errmsg_set(c->err, OCT_ENOMEM, "out of memory");
    size_t i = 0;
    for (const cJSON *in = inputs->child; in; in = in->next, i++) {
        char where[64], field[96];
        snprintf(where, sizeof where, "inputs[%zu]", i);
        if (!cJSON_IsObject(in))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: expected an object {\"name\", \"type\"}, got %s",
                              c->src, where, json_kind(in));
        if ((rc = check_keys(c, in, where, INPUT_KEYS)))
            return rc;
        spec_param_t *p = &s->inputs[i];
        s->n_inputs = i + 1;
        snprintf(field, sizeof field, "%s.", where);
        if ((rc = get_string(c, in, "name", field, true, &p->name)))
            return rc;
        snprintf(field, sizeof field, "%s.name", where);
        if ((rc = check_ident(c, s->lang, p->name, field)))
            return rc;
        if (!strcmp(p->name, s->name))
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: the input has the function's name '%s'", c->src, field,
                              p->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->inputs[j].name, p->name))
                return errmsg_set(c->err, OCT_EFORMAT, "%s: %s: '%s' is also the name of inputs[%zu]", c->src,
                                  field, p->name, j);
        snprintf(field, sizeof field, "%s.type", where);
        if ((rc = parse_type(c, cJSON_GetObjectItemCaseSensitive(in, "type"), field, &p->type)))
            return rc;
        snprintf(field, sizeof field, "%s.", where);
        if ((rc = get_string(c, in, "description", field, false, &p->description)))
            return rc;
    }
    if (s->lang == SPEC_LANG_C) {
        /* a list input NAME brings a parameter NAME_len */
        for (size_t a = 0; a < s->n_inputs; a++) {
            if (!s->inputs[a].type.list)
                continue;
            char len_name[SPEC_MAX_NAME + 8];
            snprintf(len_name, sizeof len_name, "%s_len", s->inputs[a].name);
            for (size_t b = 0; b < s->n_inputs; b++)
                if (!strcmp(s->inputs[b].name, len_name))
                    return errmsg_set(c->err, OCT_EFORMAT,
                                      "%s: inputs[%zu].name: '%s' is taken by the length parameter of the list "
                                      "input '%s' in C",
                                      c->src, b, len_name, s->inputs[a].name);
            if (!strcmp(s->name, len_name))
                return errmsg_set(c->err, OCT_EFORMAT,
                                  "%s: name: '%s' is taken by the length parameter of the list input '%s' in C",
                                  c->src, len_name, s->inputs[a].name);
        }
    }

    const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    if (!output)
        return errmsg_set(c->err, OCT_EFORMAT, "%s: output: missing (a type such as \"int\", or {\"type\": ...})",
                          c->src);
    if (cJSON_IsObject(output)) {
        if ((rc = check_keys(c, output, "output", OUTPUT_KEYS)) ||
            (rc = parse_type(c, cJSON_GetObjectItemCaseSensitive(output, "type"), "output.type", &s->output)) ||
            (rc = get_string(c, output, "description", "output.", false, &s->output_description)))
            return rc;
    } else if ((rc = parse_type(c, output, "output", &s->output))) {
        return rc;
    }

    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "examples");
    if (!ex)
        return 0;
    if (!cJSON_IsArray(ex))
        return errmsg_set(c->err, OCT_EFORMAT,
                          "%s: examples: expected an array of {\"input\": [...], \"output\": ...}, got %s", c->src,
                          json_kind(ex));
    size_t n_ex = (size_t)cJSON_GetArraySize(ex);
    s->examples = calloc(n_ex ? n_ex : 1, sizeof *s->examples);
    if (!s->examples)
        return errmsg_set(c->err, OCT_ENOMEM, "out of memory");
    i = 0;
    for (const cJSON *e = ex->child; e; e = e->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "examples[%zu]", i);
        if (!cJSON_IsObject(e))
            return errmsg_set(c->err, OCT_EFORMAT,
                              "%s: %s: expected an object {\"input\": [...], \"output\": ...}, got %s", c->src, where,
                              json_kind(e));
        if ((rc = check_keys(c, e, where, EXAMPLE_KEYS)))
            return rc;
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "input");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(e, "output");
        if (!in)
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s.input: missing (an array of %zu value%s)", c->src, where,
                              s->n_inputs, s->n_inputs == 1 ? "" : "s");
        size_t got = cJSON_IsArray(in) ? (size_t)cJSON_GetArraySize(in) : 0;
        if (!cJSON_IsArray(in) || got != s->n_inputs) {
            char tail[48] = "";
            if (cJSON_IsArray(in))
                snprintf(tail, sizeof tail, ", got %zu", got);
            else
                snprintf(tail, sizeof tail, ", got %s", json_kind(in));
            return errmsg_set(c->err, OCT_EFORMAT,
                              "%s: %s.input: expected an array of %zu value%s (the function takes %zu input%s)%s",
                              c->src, where, s->n_inputs, s->n_inputs == 1 ? "" : "s", s->n_inputs,
                              s->n_inputs == 1 ? "" : "s", tail);
        }
        size_t k = 0;
        for (const cJSON *v = in->child; v; v = v->next, k++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.input[%zu] (%s)", where, k, s->inputs[k].name);
            if ((rc = check_value(c, v, s->inputs[k].type, sub)))
                return rc;
        }
        if (!out)
            return errmsg_set(c->err, OCT_EFORMAT, "%s: %s.output: missing (the expected return value)", c->src,
                              where);
        char sub[96];
        snprintf(sub, sizeof sub, "%s.output", where);
        if ((rc = check_value(c, out, s->output, sub)))
            return rc;
        s->examples[i].input = in;
        s->examples[i].output = out;
        s->n_examples = i + 1;
    }
    return 0;
}

int spec_parse(spec_t **out, const char *text, size_t len, const char *source, errmsg_t *err)
{
    *out = NULL;
    pctx_t c = {source ? source : "spec", err};
    spec_t *s = calloc(1, sizeof *s);
    if (!s || !(s->source = strdup(c.src))) {
        free(s);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    c.src = s->source;
    int rc;
    if (memchr(text, '\0', len)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the file contains a NUL byte (expected JSON text)", c.src);
        goto fail;
    }
    if (find_escaped_nul(text, len)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: strings cannot contain \\u0000", c.src);
        goto fail;
    }
    const char *end = NULL;
    s->json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!s->json) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        /* cJSON stops inside the bad token: report where the token starts */
        while (off > 0 && off < len && !isspace((unsigned char)text[off - 1]) && !strchr("{}[],:\"", text[off - 1]))
            off--;
        int line, col;
        line_col(text, off, &line, &col);
        if (off >= len)
            rc = errmsg_set(err, OCT_EFORMAT, "%s:%d:%d: invalid JSON: unexpected end of the file", c.src, line, col);
        else {
            char near[16];
            size_t k = 0;
            while (k < 12 && off + k < len && (unsigned char)text[off + k] >= 0x20)
                k++;
            memcpy(near, text + off, k);
            near[k] = '\0';
            rc = errmsg_set(err, OCT_EFORMAT, "%s:%d:%d: invalid JSON near '%s'", c.src, line, col, near);
        }
        goto fail;
    }
    if (end && (size_t)(end - text) < len) {
        size_t off = (size_t)(end - text);
        while (off < len && isspace((unsigned char)text[off]))
            off++;
        if (off < len) {
            int line, col;
            line_col(text, off, &line, &col);
            rc = errmsg_set(err, OCT_EFORMAT, "%s:%d:%d: unexpected text after the JSON object", c.src, line, col);
            goto fail;
        }
    }
    if ((rc = parse_doc(&c, s, s->json)))
        goto fail;
    *out = s;
    return 0;
fail:
    spec_free(s);
    return rc;
}

int spec_load(spec_t **out, const char *path, errmsg_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errmsg_set(err, errno == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", path, strerror(errno));
    char *buf = malloc(SPEC_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, SPEC_MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = errmsg_set(err, OCT_EIO, "%s: read error", path);
    else if (n > SPEC_MAX_FILE)
        rc = errmsg_set(err, OCT_EFORMAT, "%s: larger than %d MiB: not a spec file", path, SPEC_MAX_FILE >> 20);
    else
        rc = spec_parse(out, buf, n, path, err);
    free(buf);
    return rc;
}

void spec_free(spec_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_inputs; i++) {
        free(s->inputs[i].name);
        free(s->inputs[i].description);
    }
    free(s->inputs);
    free(s->examples);
    free(s->name);
    free(s->description);
    free(s->output_description);
    free(s->source);
    cJSON_Delete(s->json);
    free(s);
}

/* ---- signatures ----------------------------------------------------------- */

const char *spec_c_base(spec_base_t b)
{
    static const char *const names[] = {"int", "long", "double", "bool", "char *"};
    return names[b];
}

/* "const int *xs, size_t xs_len" / "int a" / "const char *s" */
static void c_param(sbuf_t *b, const spec_param_t *p)
{
    if (p->type.list) {
        if (p->type.base == SPEC_T_STRING)
            sb_addf(b, "char **%s, size_t %s_len", p->name, p->name);
        else
            sb_addf(b, "const %s *%s, size_t %s_len", spec_c_base(p->type.base), p->name, p->name);
    } else if (p->type.base == SPEC_T_STRING) {
        sb_addf(b, "const char *%s", p->name);
    } else {
        sb_addf(b, "%s %s", spec_c_base(p->type.base), p->name);
    }
}

static void c_signature(sbuf_t *b, const spec_t *s)
{
    spec_type_t o = s->output;
    if (o.list)
        sb_addf(b, "%s%s*%s(", spec_c_base(o.base), o.base == SPEC_T_STRING ? "" : " ", s->name);
    else
        sb_addf(b, "%s%s%s(", spec_c_base(o.base), o.base == SPEC_T_STRING ? "" : " ", s->name);
    for (size_t i = 0; i < s->n_inputs; i++) {
        if (i)
            sb_add(b, ", ");
        c_param(b, &s->inputs[i]);
    }
    if (o.list)
        sb_addf(b, "%ssize_t *out_len", s->n_inputs ? ", " : "");
    else if (!s->n_inputs)
        sb_add(b, "void");
    sb_add(b, ")");
}

static const char *py_base(spec_base_t b)
{
    static const char *const names[] = {"int", "int", "float", "bool", "str"};
    return names[b];
}

static void py_type(sbuf_t *b, spec_type_t t)
{
    if (t.list)
        sb_addf(b, "list[%s]", py_base(t.base));
    else
        sb_add(b, py_base(t.base));
}

static void py_signature(sbuf_t *b, const spec_t *s)
{
    sb_addf(b, "def %s(", s->name);
    for (size_t i = 0; i < s->n_inputs; i++) {
        sb_addf(b, "%s%s: ", i ? ", " : "", s->inputs[i].name);
        py_type(b, s->inputs[i].type);
    }
    sb_add(b, ") -> ");
    py_type(b, s->output);
}

int spec_signature(const spec_t *s, char **out, errmsg_t *err)
{
    sbuf_t b = {0};
    if (s->lang == SPEC_LANG_C)
        c_signature(&b, s);
    else
        py_signature(&b, s);
    if (!(*out = sb_take(&b)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

int spec_example_call(const spec_t *s, size_t i, char **out, errmsg_t *err)
{
    sbuf_t b = {0};
    *out = NULL;
    if (i >= s->n_examples)
        return errmsg_set(err, OCT_EINVAL, "no example %zu", i);
    sb_addf(&b, "%s(", s->name);
    size_t k = 0;
    for (const cJSON *v = s->examples[i].input->child; v; v = v->next, k++) {
        char *j = cJSON_PrintUnformatted(v);
        if (!j) {
            sb_free(&b);
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        }
        sb_addf(&b, "%s%s", k ? ", " : "", j);
        free(j);
    }
    sb_add(&b, ")");
    if (!(*out = sb_take(&b)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

/* ---- the TUI's form --------------------------------------------------------------- */

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

/* One "ARGS -> OUTPUT" line: the first split at a "->" where both sides
 * parse as JSON. */
static int form_example(const char *line, size_t len, cJSON **out)
{
    *out = NULL;
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] != '-' || line[i + 1] != '>')
            continue;
        char *args = trim_dup(line, i), *res = trim_dup(line + i + 2, len - i - 2), *arr = NULL;
        if (!args || !res || asprintf(&arr, "[%s]", args) < 0) {
            free(args);
            free(res);
            return OCT_ENOMEM;
        }
        cJSON *in = cJSON_Parse(arr), *o = *res ? cJSON_Parse(res) : NULL;
        free(args);
        free(res);
        free(arr);
        if (in && o) {
            cJSON *ex = cJSON_CreateObject();
            if (!ex || !cJSON_AddItemToObject(ex, "input", in) || !cJSON_AddItemToObject(ex, "output", o)) {
                cJSON_Delete(ex);
                return OCT_ENOMEM;
            }
            *out = ex;
            return 0;
        }
        cJSON_Delete(in);
        cJSON_Delete(o);
    }
    return OCT_EFORMAT;
}

int spec_form_json(const spec_form_t *f, char **json, errmsg_t *err)
{
    cJSON *root = cJSON_CreateObject(), *inputs = NULL, *examples = NULL;
    char *tmp = NULL;
    int rc = 0;
    *json = NULL;
    if (!root)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    const char *fields[] = {f->language, f->name, f->description, f->output};
    const char *keys[] = {"language", "name", "description", "output"};
    for (int i = 0; i < 4; i++) {
        const char *v = fields[i] ? fields[i] : "";
        if (!(tmp = trim_dup(v, strlen(v))) || !cJSON_AddStringToObject(root, keys[i], tmp)) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        if (!*tmp && i != 2) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: required", keys[i]);
            goto fail;
        }
        free(tmp);
        tmp = NULL;
    }
    if (!(inputs = cJSON_AddArrayToObject(root, "inputs"))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    for (const char *p = f->inputs ? f->inputs : ""; *p;) {
        size_t n = strcspn(p, ",");
        free(tmp);
        if (!(tmp = trim_dup(p, n))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        p += n + (p[n] == ',');
        if (!*tmp)
            continue;
        char *colon = strchr(tmp, ':');
        if (!colon) {
            char ib[68];
            rc = errmsg_set(err, OCT_EFORMAT, "inputs: '%s': expected NAME: TYPE", clip(tmp, 60, ib));
            goto fail;
        }
        *colon = '\0';
        char *name = trim_dup(tmp, strlen(tmp)), *type = trim_dup(colon + 1, strlen(colon + 1));
        cJSON *in = cJSON_CreateObject();
        bool ok = name && type && in && cJSON_AddStringToObject(in, "name", name) &&
                  cJSON_AddStringToObject(in, "type", type);
        free(name);
        free(type);
        if (!ok || !cJSON_AddItemToArray(inputs, in)) {
            cJSON_Delete(in);
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
    }
    free(tmp);
    tmp = NULL;
    int line_no = 0;
    for (const char *p = f->examples ? f->examples : ""; *p;) {
        size_t n = strcspn(p, "\n");
        line_no++;
        const char *line = p;
        p += n + (p[n] == '\n');
        size_t k = 0;
        while (k < n && isspace((unsigned char)line[k]))
            k++;
        if (k == n)
            continue;
        if (!examples && !(examples = cJSON_AddArrayToObject(root, "examples"))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        cJSON *ex;
        rc = form_example(line, n, &ex);
        if (rc == OCT_ENOMEM) {
            rc = errmsg_set(err, rc, "out of memory");
            goto fail;
        }
        if (rc) {
            char eb[68], *one = strndup(line, n);
            rc = errmsg_set(err, OCT_EFORMAT,
                            "examples line %d: expected ARGS -> OUTPUT in JSON, e.g. 1, [2, 3] -> 6 (got '%s')",
                            line_no, one ? clip(one, 60, eb) : "?");
            free(one);
            goto fail;
        }
        cJSON_AddItemToArray(examples, ex);
    }
    if (!(*json = cJSON_Print(root))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    spec_t *s;
    if ((rc = spec_parse(&s, *json, strlen(*json), "form", err))) {
        free(*json);
        *json = NULL;
        goto fail;
    }
    spec_free(s);
fail:
    free(tmp);
    cJSON_Delete(root);
    return rc;
}
