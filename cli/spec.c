/* spec.c - spec files: parsing and validation, test harnesses for Python
 * and C, the sandboxed check, prompts, code extraction and the
 * generate-check-retry loop (see spec.h and docs/specs.md). */
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
#include "spec.h"
#include "tokenizer.h"

#define SPEC_MAX_FILE (4 * 1024 * 1024)
#define SPEC_MAX_NAME 64
#define SPEC_LONG_MAX 9007199254740992.0 /* 2^53: larger longs are not exact in JSON doubles */
#define SPEC_RESULT_MAX 65536
#define SPEC_FEEDBACK_MAX 3000

/* ---- a growable string ---------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf_t;

static void sb_grow(sbuf_t *b, size_t extra)
{
    if (b->oom)
        return;
    if (b->n + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
        b->oom = true;
        return;
    }
    b->s = ns;
    b->cap = cap;
}

static void sb_addn(sbuf_t *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_add(sbuf_t *b, const char *s) { sb_addn(b, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_addf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* Hand over the string (never NULL unless out of memory). */
static char *sb_take(sbuf_t *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        return strdup("");
    return b->s;
}

static void sb_free(sbuf_t *b) { free(b->s); }

/* Append S with each line prefixed by PREFIX. */
static void sb_add_lines(sbuf_t *b, const char *prefix, const char *s, size_t max_lines)
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

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t l;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            l = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            l = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            l = 4, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k < l; k++) {
            if ((p[k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if ((l == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += l;
    }
    return true;
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
    if (!utf8_valid(v->valuestring))
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
        if (!utf8_valid(v->valuestring))
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

static const char *c_base(spec_base_t b)
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
            sb_addf(b, "const %s *%s, size_t %s_len", c_base(p->type.base), p->name, p->name);
    } else if (p->type.base == SPEC_T_STRING) {
        sb_addf(b, "const char *%s", p->name);
    } else {
        sb_addf(b, "%s %s", c_base(p->type.base), p->name);
    }
}

static void c_signature(sbuf_t *b, const spec_t *s)
{
    spec_type_t o = s->output;
    if (o.list)
        sb_addf(b, "%s%s*%s(", c_base(o.base), o.base == SPEC_T_STRING ? "" : " ", s->name);
    else
        sb_addf(b, "%s%s%s(", c_base(o.base), o.base == SPEC_T_STRING ? "" : " ", s->name);
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

/* ---- literals --------------------------------------------------------------- */

static void num_literal(sbuf_t *b, double v, spec_base_t base)
{
    if (base == SPEC_T_DOUBLE) {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.17g", v);
        sb_add(b, tmp);
        if (!strpbrk(tmp, ".en"))
            sb_add(b, ".0");
    } else {
        sb_addf(b, "%lld", (long long)v);
        if (base == SPEC_T_LONG)
            sb_add(b, "L");
    }
}

/* A Python str literal for valid UTF-8 S: printable ASCII as is, the rest as
 * \x, \u or \U escapes of the code points. */
static void py_str(sbuf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    sb_add(b, "\"");
    while (*p) {
        unsigned c = *p, cp;
        size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        cp = l == 1 ? c : l == 2 ? (c & 0x1F) : l == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t k = 1; k < l; k++)
            cp = (cp << 6) | (p[k] & 0x3F);
        p += l;
        if (cp == '"' || cp == '\\')
            sb_addf(b, "\\%c", (char)cp);
        else if (cp >= 0x20 && cp < 0x7F)
            sb_addf(b, "%c", (char)cp);
        else if (cp < 0x100)
            sb_addf(b, "\\x%02x", cp);
        else if (cp < 0x10000)
            sb_addf(b, "\\u%04x", cp);
        else
            sb_addf(b, "\\U%08x", cp);
    }
    sb_add(b, "\"");
}

/* A C string literal: printable ASCII as is, other bytes as octal escapes. */
static void c_str(sbuf_t *b, const char *s)
{
    sb_add(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '?')
            sb_addf(b, "\\%03o", *p);
        else if (*p >= 0x20 && *p < 0x7F)
            sb_addf(b, "%c", *p);
        else
            sb_addf(b, "\\%03o", *p);
    }
    sb_add(b, "\"");
}

static void py_value(sbuf_t *b, const cJSON *v, spec_type_t t)
{
    if (t.list) {
        spec_type_t et = {t.base, false};
        sb_add(b, "[");
        for (const cJSON *e = v->child; e; e = e->next) {
            py_value(b, e, et);
            if (e->next)
                sb_add(b, ", ");
        }
        sb_add(b, "]");
        return;
    }
    switch (t.base) {
    case SPEC_T_INT:
    case SPEC_T_LONG:
        sb_addf(b, "%lld", (long long)v->valuedouble);
        break;
    case SPEC_T_DOUBLE:
        num_literal(b, v->valuedouble, SPEC_T_DOUBLE);
        break;
    case SPEC_T_BOOL:
        sb_add(b, cJSON_IsTrue(v) ? "True" : "False");
        break;
    case SPEC_T_STRING:
        py_str(b, v->valuestring);
        break;
    }
}

static void c_scalar(sbuf_t *b, const cJSON *v, spec_base_t base)
{
    if (base == SPEC_T_BOOL)
        sb_add(b, cJSON_IsTrue(v) ? "true" : "false");
    else if (base == SPEC_T_STRING)
        c_str(b, v->valuestring);
    else
        num_literal(b, v->valuedouble, base);
}

/* "{1, 2, 3}" (or "{0}" for an empty list: C has no empty initializers). */
static void c_list_init(sbuf_t *b, const cJSON *v, spec_base_t base)
{
    sb_add(b, "{");
    if (!v->child)
        sb_add(b, base == SPEC_T_STRING ? "NULL" : "0");
    for (const cJSON *e = v->child; e; e = e->next) {
        c_scalar(b, e, base);
        if (e->next)
            sb_add(b, ", ");
    }
    sb_add(b, "}");
}

/* ---- harnesses --------------------------------------------------------------- */

static const char PY_HARNESS_HEAD[] =
    "# Generated by octet check: runs one example of a spec against the code.\n"
    "# python3 harness.py INDEX RESULT_FILE CODE_FILE DISPLAY_NAME (INDEX -1: load only)\n"
    "import inspect, math, sys, traceback, types\n\n";

static const char PY_HARNESS_BODY[] =
    "\n"
    "def _octet_same(got, want):\n"
    "    if OUT_DOUBLE and isinstance(got, (int, float)) and not isinstance(got, bool):\n"
    "        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)\n"
    "    return got == want\n"
    "\n"
    "def _octet_equal(got, want):\n"
    "    if OUT_LIST:\n"
    "        if not isinstance(got, (list, tuple)) or len(got) != len(want):\n"
    "            return False\n"
    "        return all(_octet_same(g, w) for g, w in zip(got, want))\n"
    "    return _octet_same(got, want)\n"
    "\n"
    "def _octet_repr(v):\n"
    "    r = repr(v)\n"
    "    return r if len(r) <= 400 else r[:400] + '...'\n"
    "\n"
    "def _octet_notes(got, want):\n"
    "    notes = []\n"
    "    if isinstance(want, list) and not isinstance(got, (list, tuple)) or \\\n"
    "       isinstance(want, str) and not isinstance(got, str):\n"
    "        notes.append('returned a %s, expected a %s' % (type(got).__name__, type(want).__name__))\n"
    "        return notes\n"
    "    if isinstance(want, (list, str)):\n"
    "        if len(got) != len(want):\n"
    "            notes.append('length %d, expected %d' % (len(got), len(want)))\n"
    "        same = _octet_same if isinstance(want, list) else (lambda a, b: a == b)\n"
    "        for i, (g, w) in enumerate(zip(got, want)):\n"
    "            if not same(g, w):\n"
    "                notes.append('first difference at index %d: expected %s, got %s'\n"
    "                             % (i, _octet_repr(w), _octet_repr(g)))\n"
    "                break\n"
    "    elif type(got) is not type(want) and not (OUT_DOUBLE and isinstance(got, int)):\n"
    "        notes.append('returned a %s, expected a %s' % (type(got).__name__, type(want).__name__))\n"
    "    return notes\n"
    "\n"
    "def _octet_main():\n"
    "    idx, result, code, display = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]\n"
    "    def put(text):\n"
    "        with open(result, 'w', encoding='utf-8', errors='replace') as f:\n"
    "            f.write(text + '\\n')\n"
    "    sys.path[:0] = PATHS\n"
    "    mod = types.ModuleType('solution')\n"
    "    mod.__file__ = display\n"
    "    sys.modules['solution'] = mod\n"
    "    try:\n"
    "        with open(code, encoding='utf-8') as f:\n"
    "            src = f.read()\n"
    "        exec(compile(src, display, 'exec'), mod.__dict__)\n"
    "    except BaseException as e:\n"
    "        traceback.print_exc()\n"
    "        put('error\\nloading the code raised %s: %s' % (type(e).__name__, e))\n"
    "        return 11\n"
    "    fn = mod.__dict__.get(NAME)\n"
    "    if not callable(fn):\n"
    "        put('error\\nthe code does not define a function %s' % NAME)\n"
    "        return 11\n"
    "    if idx < 0:\n"
    "        try:\n"
    "            inspect.signature(fn).bind(*([None] * N_INPUTS))\n"
    "        except TypeError as e:\n"
    "            put('error\\n%s() cannot be called with %d argument(s): %s' % (NAME, N_INPUTS, e))\n"
    "            return 11\n"
    "        except ValueError:\n"
    "            pass\n"
    "        put('pass')\n"
    "        return 0\n"
    "    args, want = CASES[idx]\n"
    "    try:\n"
    "        got = fn(*args)\n"
    "    except BaseException as e:\n"
    "        traceback.print_exc()\n"
    "        put('error\\nraised %s: %s' % (type(e).__name__, e))\n"
    "        return 11\n"
    "    if _octet_equal(got, want):\n"
    "        put('pass')\n"
    "        return 0\n"
    "    lines = ['mismatch', 'expected: ' + _octet_repr(want), 'actual:   ' + _octet_repr(got)]\n"
    "    lines += ['note: ' + n for n in _octet_notes(got, want)]\n"
    "    put('\\n'.join(lines))\n"
    "    return 10\n"
    "\n"
    "sys.exit(_octet_main())\n";

static void py_harness(sbuf_t *b, const spec_t *s, char *const *paths, size_t n_paths)
{
    sb_add(b, PY_HARNESS_HEAD);
    sb_add(b, "NAME = ");
    py_str(b, s->name);
    sb_addf(b, "\nN_INPUTS = %zu\nOUT_DOUBLE = %s\nOUT_LIST = %s\nPATHS = [", s->n_inputs,
            s->output.base == SPEC_T_DOUBLE ? "True" : "False", s->output.list ? "True" : "False");
    for (size_t i = 0; i < n_paths; i++) {
        if (i)
            sb_add(b, ", ");
        py_str(b, paths[i]);
    }
    sb_add(b, "]\nCASES = [\n");
    for (size_t i = 0; i < s->n_examples; i++) {
        sb_add(b, "    ([");
        size_t k = 0;
        for (const cJSON *v = s->examples[i].input->child; v; v = v->next, k++) {
            if (k)
                sb_add(b, ", ");
            py_value(b, v, s->inputs[k].type);
        }
        sb_add(b, "], ");
        py_value(b, s->examples[i].output, s->output);
        sb_add(b, "),\n");
    }
    sb_add(b, "]\n");
    sb_add(b, PY_HARNESS_BODY);
}

static const char C_HARNESS_HEAD[] =
    "/* Generated by octet check: runs one example of a spec against the code.\n"
    " * ./prog INDEX RESULT_FILE */\n"
    "#include <math.h>\n"
    "#include <stdbool.h>\n"
    "#include <stddef.h>\n"
    "#include <stdint.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "/* the code's own main(), if it has one, must not clash with this one */\n"
    "#define main octet_user_main\n"
    "#include \"solution.c\"\n"
    "#undef main\n\n"
    "static FILE *octet_r;\n\n";

static const char C_HARNESS_PUT_STR[] =
    "static void octet_put(FILE *f, char *s)\n"
    "{\n"
    "    if (!s) {\n"
    "        fputs(\"NULL\", f);\n"
    "        return;\n"
    "    }\n"
    "    fputc('\"', f);\n"
    "    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {\n"
    "        if (*p == '\"' || *p == '\\\\')\n"
    "            fprintf(f, \"\\\\%c\", *p);\n"
    "        else if (*p == '\\n')\n"
    "            fputs(\"\\\\n\", f);\n"
    "        else if (*p < 0x20 || *p == 0x7f)\n"
    "            fprintf(f, \"\\\\u%04x\", *p);\n"
    "        else\n"
    "            fputc(*p, f);\n"
    "    }\n"
    "    fputc('\"', f);\n"
    "}\n\n"
    "static bool octet_same(char *a, char *b) { return a && b && !strcmp(a, b); }\n\n";

static const char C_HARNESS_CHECKS[] =
    "static int octet_scalar(octet_t got, octet_t want)\n"
    "{\n"
    "    if (octet_same(got, want)) {\n"
    "        fputs(\"pass\\n\", octet_r);\n"
    "        return 0;\n"
    "    }\n"
    "    fputs(\"mismatch\\nexpected: \", octet_r);\n"
    "    octet_put(octet_r, want);\n"
    "    fputs(\"\\nactual:   \", octet_r);\n"
    "    octet_put(octet_r, got);\n"
    "    fputc('\\n', octet_r);\n"
    "    octet_note(got, want);\n"
    "    return 10;\n"
    "}\n\n"
    "static void octet_put_list(const octet_t *v, size_t n)\n"
    "{\n"
    "    fputc('[', octet_r);\n"
    "    for (size_t i = 0; i < n && i < 100; i++) {\n"
    "        if (i)\n"
    "            fputs(\", \", octet_r);\n"
    "        octet_put(octet_r, v[i]);\n"
    "    }\n"
    "    fputs(n > 100 ? \", ...]\" : \"]\", octet_r);\n"
    "}\n\n"
    "static int octet_list(const octet_t *got, size_t got_n, const octet_t *want, size_t want_n)\n"
    "{\n"
    "    if (got_n == (size_t)-1) {\n"
    "        fputs(\"error\\nthe function did not set *out_len\\n\", octet_r);\n"
    "        return 11;\n"
    "    }\n"
    "    if (!got && got_n) {\n"
    "        fprintf(octet_r, \"error\\nthe function returned NULL with *out_len = %zu\\n\", got_n);\n"
    "        return 11;\n"
    "    }\n"
    "    size_t i = 0;\n"
    "    while (i < got_n && i < want_n && octet_same(got[i], want[i]))\n"
    "        i++;\n"
    "    if (i == got_n && i == want_n) {\n"
    "        fputs(\"pass\\n\", octet_r);\n"
    "        return 0;\n"
    "    }\n"
    "    fputs(\"mismatch\\nexpected: \", octet_r);\n"
    "    octet_put_list(want, want_n);\n"
    "    fputs(\"\\nactual:   \", octet_r);\n"
    "    octet_put_list(got, got_n);\n"
    "    fputc('\\n', octet_r);\n"
    "    if (got_n != want_n)\n"
    "        fprintf(octet_r, \"note: length %zu, expected %zu\\n\", got_n, want_n);\n"
    "    if (i < got_n && i < want_n) {\n"
    "        fprintf(octet_r, \"note: first difference at index %zu: expected \", i);\n"
    "        octet_put(octet_r, want[i]);\n"
    "        fputs(\", got \", octet_r);\n"
    "        octet_put(octet_r, got[i]);\n"
    "        fputc('\\n', octet_r);\n"
    "    }\n"
    "    return 10;\n"
    "}\n\n";

static void c_harness(sbuf_t *b, const spec_t *s)
{
    spec_base_t ob = s->output.base;
    sb_add(b, C_HARNESS_HEAD);
    switch (ob) {
    case SPEC_T_STRING:
        sb_add(b, "typedef char *octet_t;\n\n");
        sb_add(b, C_HARNESS_PUT_STR);
        sb_add(b, "static void octet_note(char *got, char *want)\n"
                  "{\n"
                  "    size_t i = 0;\n"
                  "    if (!got || !want)\n"
                  "        return;\n"
                  "    while (got[i] && got[i] == want[i])\n"
                  "        i++;\n"
                  "    fprintf(octet_r, \"note: length %zu, expected %zu; first difference at byte %zu\\n\",\n"
                  "            strlen(got), strlen(want), i);\n"
                  "}\n\n");
        break;
    case SPEC_T_DOUBLE:
        sb_add(b, "typedef double octet_t;\n\n"
                  "static void octet_put(FILE *f, double v) { fprintf(f, \"%.17g\", v); }\n\n"
                  "static bool octet_same(double a, double b)\n"
                  "{\n"
                  "    double d = fabs(a - b);\n"
                  "    return a == b || d <= 1e-12 || d <= 1e-9 * fmax(fabs(a), fabs(b));\n"
                  "}\n\n"
                  "static void octet_note(double got, double want) { (void)got; (void)want; }\n\n");
        break;
    case SPEC_T_BOOL:
        sb_add(b, "typedef bool octet_t;\n\n"
                  "static void octet_put(FILE *f, bool v) { fputs(v ? \"true\" : \"false\", f); }\n\n"
                  "static bool octet_same(bool a, bool b) { return a == b; }\n\n"
                  "static void octet_note(bool got, bool want) { (void)got; (void)want; }\n\n");
        break;
    default:
        sb_addf(b,
                "typedef %s octet_t;\n\n"
                "static void octet_put(FILE *f, octet_t v) { fprintf(f, \"%%lld\", (long long)v); }\n\n"
                "static bool octet_same(octet_t a, octet_t b) { return a == b; }\n\n"
                "static void octet_note(octet_t got, octet_t want) { (void)got; (void)want; }\n\n",
                c_base(ob));
        break;
    }
    sb_add(b, C_HARNESS_CHECKS);
    for (size_t i = 0; i < s->n_examples; i++) {
        sb_addf(b, "static int octet_case_%zu(void)\n{\n", i);
        size_t k = 0;
        for (const cJSON *v = s->examples[i].input->child; v; v = v->next, k++) {
            spec_type_t t = s->inputs[k].type;
            if (t.list) {
                sb_addf(b, "    %s%soctet_a%zu[] = ", c_base(t.base), t.base == SPEC_T_STRING ? "" : " ", k);
                c_list_init(b, v, t.base);
                sb_addf(b, ";\n    size_t octet_a%zu_n = %d;\n", k, cJSON_GetArraySize(v));
            } else if (t.base == SPEC_T_STRING) {
                sb_addf(b, "    char octet_a%zu[] = ", k);
                c_str(b, v->valuestring);
                sb_add(b, ";\n");
            } else {
                sb_addf(b, "    %s octet_a%zu = ", c_base(t.base), k);
                c_scalar(b, v, t.base);
                sb_add(b, ";\n");
            }
        }
        if (s->output.list)
            sb_add(b, "    size_t octet_got_n = (size_t)-1;\n    octet_t *octet_got = (void *)");
        else
            sb_add(b, ob == SPEC_T_STRING ? "    octet_t octet_got = (char *)" : "    octet_t octet_got = ");
        sb_addf(b, "%s(", s->name);
        for (k = 0; k < s->n_inputs; k++) {
            if (k)
                sb_add(b, ", ");
            if (s->inputs[k].type.list)
                sb_addf(b, "%soctet_a%zu, octet_a%zu_n", s->inputs[k].type.base == SPEC_T_STRING ? "(void *)" : "",
                        k, k);
            else
                sb_addf(b, "octet_a%zu", k);
        }
        if (s->output.list)
            sb_addf(b, "%s&octet_got_n", s->n_inputs ? ", " : "");
        sb_add(b, ");\n");
        if (s->output.list) {
            sb_add(b, "    octet_t octet_want[] = ");
            c_list_init(b, s->examples[i].output, ob);
            sb_addf(b, ";\n    return octet_list(octet_got, octet_got_n, octet_want, %d);\n}\n\n",
                    cJSON_GetArraySize(s->examples[i].output));
        } else {
            sb_add(b, "    return octet_scalar(octet_got, ");
            c_scalar(b, s->examples[i].output, ob);
            sb_add(b, ");\n}\n\n");
        }
    }
    sb_add(b, "/* keeps a reference to the function even with no examples, so that the link checks it */\n"
              "static volatile uintptr_t octet_keep;\n\n"
              "int main(int argc, char **argv)\n{\n");
    sb_addf(b, "    octet_keep = (uintptr_t)&%s;\n", s->name);
    sb_add(b, "    if (argc < 3 || !(octet_r = fopen(argv[2], \"w\")))\n"
              "        return 2;\n"
              "    int rc = 2;\n"
              "    switch (atoi(argv[1])) {\n");
    for (size_t i = 0; i < s->n_examples; i++)
        sb_addf(b, "    case %zu:\n        rc = octet_case_%zu();\n        break;\n", i, i);
    sb_add(b, "    default:\n"
              "        fputs(\"pass\\n\", octet_r);\n"
              "        rc = 0;\n"
              "    }\n"
              "    fclose(octet_r);\n"
              "    return rc;\n"
              "}\n");
}

int spec_harness(const spec_t *s, char *const *paths, size_t n_paths, char **src, errmsg_t *err)
{
    sbuf_t b = {0};
    if (s->lang == SPEC_LANG_C)
        c_harness(&b, s);
    else
        py_harness(&b, s, paths, n_paths);
    if (!(*src = sb_take(&b)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

/* ---- include directories ------------------------------------------------------ */

static bool is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static int dirs_add(char ***dirs, size_t *n, const char *path)
{
    char real[PATH_MAX];
    if (!is_dir(path) || !realpath(path, real))
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*dirs)[i], real))
            return 0;
    char **nd = realloc(*dirs, (*n + 1) * sizeof *nd);
    if (!nd)
        return -1;
    *dirs = nd;
    if (!(nd[*n] = strdup(real)))
        return -1;
    (*n)++;
    return 0;
}

void spec_dirs_free(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

int spec_include_dirs(const char *code_dir, const char *const *extra, size_t n_extra, char ***dirs, size_t *n,
                      errmsg_t *err)
{
    char cd[PATH_MAX], tmp[PATH_MAX + 16], root[PATH_MAX];
    *dirs = NULL;
    *n = 0;
    if (!realpath(code_dir ? code_dir : ".", cd))
        return errmsg_set(err, OCT_ENOTFOUND, "%s: %s", code_dir ? code_dir : ".", strerror(errno));
    int bad = dirs_add(dirs, n, cd);
    snprintf(tmp, sizeof tmp, "%s/include", cd);
    bad |= dirs_add(dirs, n, tmp);
    snprintf(tmp, sizeof tmp, "%s/../include", cd);
    bad |= dirs_add(dirs, n, tmp);
    /* the repository root: the nearest directory above with a .git entry */
    snprintf(root, sizeof root, "%s", cd);
    for (;;) {
        struct stat st;
        snprintf(tmp, sizeof tmp, "%s/.git", root);
        if (!stat(tmp, &st)) {
            bad |= dirs_add(dirs, n, root);
            snprintf(tmp, sizeof tmp, "%s/include", root);
            bad |= dirs_add(dirs, n, tmp);
            snprintf(tmp, sizeof tmp, "%s/src", root);
            bad |= dirs_add(dirs, n, tmp);
            break;
        }
        char *slash = strrchr(root, '/');
        if (!slash || slash == root)
            break;
        *slash = '\0';
    }
    for (size_t i = 0; i < n_extra; i++) {
        if (!is_dir(extra[i])) {
            spec_dirs_free(*dirs, *n);
            *dirs = NULL;
            *n = 0;
            return errmsg_set(err, OCT_ENOTFOUND, "include directory %s: not a directory", extra[i]);
        }
        bad |= dirs_add(dirs, n, extra[i]);
    }
    if (bad) {
        spec_dirs_free(*dirs, *n);
        *dirs = NULL;
        *n = 0;
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- checking ------------------------------------------------------------------- */

void spec_check_opts_default(spec_check_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_s = 5;
    o->compile_timeout_s = 60;
    o->mem_mb = SANDBOX_DEFAULT_MEM_MB;
    o->cc = "cc";
    o->python = "python3";
}

void spec_report_free(spec_report_t *rep)
{
    if (!rep)
        return;
    free(rep->outcomes);
    free(rep->text);
    free(rep->feedback);
    memset(rep, 0, sizeof *rep);
}

typedef struct checker {
    const spec_t *s;
    const spec_check_opts_t *o;
    sandbox_t *sb;
    const char *display;
    char *env[8];
    sbuf_t text, feedback;
    spec_report_t *rep;
} checker_t;

/* Program output for a message: the sandbox's path removed, at most MAX_LINES
 * lines (the last ones when TAIL). */
static void add_output(sbuf_t *b, const checker_t *c, const char *out, const char *prefix, size_t max_lines,
                       bool tail)
{
    sbuf_t clean = {0};
    const char *dir = sandbox_dir(c->sb);
    size_t dl = strlen(dir);
    for (const char *p = out; *p;) {
        if (!strncmp(p, dir, dl)) {
            p += dl;
            if (*p == '/')
                p++;
            continue;
        }
        sb_addn(&clean, p, 1);
        p++;
    }
    const char *s = clean.s ? clean.s : "";
    size_t n = clean.n;
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    if (clean.s)
        clean.s[n] = '\0';
    if (tail) {
        size_t lines = 0, i = n;
        while (i > 0 && lines <= max_lines) {
            i--;
            if (s[i] == '\n')
                lines++;
        }
        if (lines > max_lines) {
            sb_addf(b, "%s...\n", prefix);
            s += i + 1;
        }
    }
    sb_add_lines(b, prefix, s, max_lines);
    sb_free(&clean);
}

static int run_step(checker_t *c, char *const argv[], double timeout, sandbox_result_t *r, errmsg_t *err)
{
    sandbox_limits_t lim = {timeout, c->o->mem_mb};
    return sandbox_run(c->sb, argv, c->env, &lim, r, err);
}

static int build_env(checker_t *c)
{
    const char *path = getenv("PATH");
    const char *dir = sandbox_dir(c->sb);
    if (asprintf(&c->env[0], "PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin") < 0 ||
        asprintf(&c->env[1], "HOME=%s", dir) < 0 || asprintf(&c->env[2], "TMPDIR=%s", dir) < 0 ||
        !(c->env[3] = strdup("LANG=C.UTF-8")) || !(c->env[4] = strdup("PYTHONDONTWRITEBYTECODE=1")) ||
        !(c->env[5] = strdup("PYTHONIOENCODING=utf-8")))
        return -1;
    c->env[6] = NULL;
    return 0;
}

static void free_env(checker_t *c)
{
    for (size_t i = 0; i < 7; i++) {
        free(c->env[i]);
        c->env[i] = NULL;
    }
}

/* The compile (or load) step failed: say why in the report. */
static void build_failed(checker_t *c, const char *tool, const char *what, const sandbox_result_t *r,
                         const char *hint)
{
    char how[160];
    sandbox_limits_t lim = {c->o->compile_timeout_s, c->o->mem_mb};
    sandbox_describe(r, &lim, how, sizeof how);
    sb_addf(&c->text, "%s: %s (%s %s):\n", c->display, what, tool, how);
    add_output(&c->text, c, r->output, "    ", 60, false);
    if (hint)
        sb_addf(&c->text, "    hint: %s\n", hint);
    sb_addf(&c->feedback, "The code %s:\n", what);
    add_output(&c->feedback, c, r->output, "", 30, false);
    if (hint)
        sb_addf(&c->feedback, "(%s)\n", hint);
    c->rep->n_failed = c->s->n_examples ? c->s->n_examples : 1;
}

/* Run each example: ARGV with its index at IDX_SLOT and its result file at
 * RES_SLOT. */
static void run_examples(checker_t *c, char *argv[], size_t idx_slot, size_t res_slot, errmsg_t *err, int *rc)
{
    const spec_t *s = c->s;
    sandbox_limits_t lim = {c->o->timeout_s, c->o->mem_mb};
    c->rep->outcomes = calloc(s->n_examples ? s->n_examples : 1, sizeof *c->rep->outcomes);
    if (!c->rep->outcomes) {
        *rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < s->n_examples; i++) {
        char idx[32], resname[48], *call = NULL, *result = NULL;
        size_t rlen;
        snprintf(idx, sizeof idx, "%zu", i);
        snprintf(resname, sizeof resname, "result-%zu.txt", i);
        argv[idx_slot] = idx;
        argv[res_slot] = resname;
        sandbox_result_t r;
        if ((*rc = run_step(c, argv, c->o->timeout_s, &r, err)))
            return;
        if ((*rc = spec_example_call(s, i, &call, err))) {
            sandbox_result_free(&r);
            return;
        }
        if (strlen(call) > 100)
            strcpy(call + 95, "...)");
        sandbox_read_file(c->sb, resname, SPEC_RESULT_MAX, &result, &rlen, NULL);
        const char *body = result ? result : "";
        const char *nl = strchr(body, '\n');
        size_t vlen = nl ? (size_t)(nl - body) : strlen(body);
        const char *detail = nl ? nl + 1 : "";
        spec_outcome_t out;
        char how[160];
        sandbox_describe(&r, &lim, how, sizeof how);
        sbuf_t line = {0};
        if (r.timed_out) {
            out = SPEC_TIMEOUT;
            sb_addf(&line, "%s: an endless loop, or too slow\n", how);
        } else if (vlen == 4 && !strncmp(body, "pass", 4) && !r.signaled && r.status == 0) {
            out = SPEC_OK;
        } else if (vlen == 8 && !strncmp(body, "mismatch", 8)) {
            out = SPEC_MISMATCH;
            sb_add(&line, "wrong result\n");
            sb_add_lines(&line, "      ", detail, 12);
        } else if (vlen == 5 && !strncmp(body, "error", 5) && !r.signaled) {
            out = SPEC_ERROR;
            sb_add_lines(&line, "", detail, 1);
            if (r.output_len)
                add_output(&line, c, r.output, "      | ", 12, true);
        } else {
            out = SPEC_CRASH;
            if (r.signaled)
                sb_addf(&line, "%s\n", how);
            else
                sb_addf(&line, "%s without giving a result (does the code call exit()?)\n", how);
            if (r.output_len)
                add_output(&line, c, r.output, "      | ", 12, true);
        }
        c->rep->outcomes[i] = out;
        if (out == SPEC_OK) {
            c->rep->n_passed++;
            sb_addf(&c->text, "examples[%zu] %s: ok\n", i, call);
        } else {
            c->rep->n_failed++;
            sb_addf(&c->text, "examples[%zu] %s: FAIL: %s", i, call, line.s ? line.s : "\n");
            if (c->feedback.n < SPEC_FEEDBACK_MAX)
                sb_addf(&c->feedback, "%s: %s", call, line.s ? line.s : "\n");
        }
        sb_free(&line);
        free(call);
        free(result);
        sandbox_result_free(&r);
    }
}

static int check_python(checker_t *c, char *const *paths, size_t n_paths, const char *code, size_t len,
                        errmsg_t *err)
{
    char *harness = NULL;
    int rc;
    sandbox_result_t r;
    if ((rc = spec_harness(c->s, paths, n_paths, &harness, err)) ||
        (rc = sandbox_write_file(c->sb, "solution.py", code, len, err)) ||
        (rc = sandbox_write_file(c->sb, "harness.py", harness, strlen(harness), err)))
        goto done;
    char *pyc[] = {(char *)c->o->python, "-I", "-B", "-c",
                   "import py_compile, sys\n"
                   "try:\n"
                   "    py_compile.compile(sys.argv[1], cfile=sys.argv[3], dfile=sys.argv[2], doraise=True)\n"
                   "except py_compile.PyCompileError as e:\n"
                   "    print(e.msg.strip(), file=sys.stderr)\n"
                   "    sys.exit(1)\n",
                   "solution.py", (char *)c->display, "solution.pyc", NULL};
    if ((rc = run_step(c, pyc, c->o->compile_timeout_s, &r, err))) {
        if (rc == OCT_ENOTFOUND)
            rc = errmsg_set(err, OCT_ENOTFOUND, "cannot run '%s': not found in PATH (Python 3 is needed to check "
                                                "Python code)", c->o->python);
        goto done;
    }
    if (r.timed_out || r.signaled || r.status) {
        build_failed(c, "byte-compilation", "does not compile", &r, NULL);
        sandbox_result_free(&r);
        goto done;
    }
    sandbox_result_free(&r);
    char code_path[PATH_MAX + 16];
    snprintf(code_path, sizeof code_path, "%s/solution.py", sandbox_dir(c->sb));
    char *load[] = {(char *)c->o->python, "-I", "-B", "harness.py", "-1", "result-load.txt", code_path,
                    (char *)c->display, NULL};
    if ((rc = run_step(c, load, c->o->timeout_s, &r, err)))
        goto done;
    char *result = NULL;
    size_t rlen;
    sandbox_read_file(c->sb, "result-load.txt", SPEC_RESULT_MAX, &result, &rlen, NULL);
    if (!result || strncmp(result, "pass", 4) || r.timed_out || r.signaled || r.status) {
        const char *msg = result && !strncmp(result, "error\n", 6) ? result + 6 : NULL;
        char what[600];
        if (msg) {
            snprintf(what, sizeof what, "cannot be loaded: %.500s", msg);
            what[strcspn(what, "\n")] = '\0';
        } else {
            snprintf(what, sizeof what, "cannot be loaded");
        }
        build_failed(c, "loading", what, &r, NULL);
        free(result);
        sandbox_result_free(&r);
        goto done;
    }
    free(result);
    sandbox_result_free(&r);
    c->rep->compiled = true;
    char *run[] = {(char *)c->o->python, "-I", "-B", "harness.py", NULL, NULL, code_path, (char *)c->display, NULL};
    run_examples(c, run, 4, 5, err, &rc);
done:
    free(harness);
    return rc;
}

/* A C string literal's contents for DISPLAY in a #line directive. */
static void line_name(sbuf_t *b, const char *display)
{
    for (const char *p = display; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_addf(b, "\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            sb_addn(b, p, 1);
    }
}

/* Whether the compiler reports an error in the generated harness itself
 * (the code's function has another signature than the spec's). */
static bool harness_error(const char *out)
{
    for (const char *p = out; *p;) {
        size_t n = strcspn(p, "\n");
        if (!strncmp(p, "harness.c:", 10) && memmem(p, n, "error", 5))
            return true;
        p += n + (p[n] == '\n');
    }
    return false;
}

static int check_c(checker_t *c, char *const *dirs, size_t n_dirs, const char *code, size_t len, errmsg_t *err)
{
    char *harness = NULL;
    char **argv = NULL;
    sbuf_t src = {0};
    int rc;
    sandbox_result_t r;
    sb_add(&src, "#line 1 \"");
    line_name(&src, c->display);
    sb_add(&src, "\"\n");
    sb_addn(&src, code, len);
    if (src.oom) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = spec_harness(c->s, NULL, 0, &harness, err)) ||
        (rc = sandbox_write_file(c->sb, "solution.c", src.s, src.n, err)) ||
        (rc = sandbox_write_file(c->sb, "harness.c", harness, strlen(harness), err)))
        goto done;
    argv = calloc(2 * n_dirs + 16, sizeof *argv);
    if (!argv) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    size_t k = 0;
    argv[k++] = (char *)c->o->cc;
    argv[k++] = "-std=gnu11";
    argv[k++] = "-O1";
    argv[k++] = "-g";
    argv[k++] = "-Werror=implicit-function-declaration";
    argv[k++] = "-Werror=return-type";
    for (size_t i = 0; i < n_dirs; i++) {
        argv[k++] = "-I";
        argv[k++] = dirs[i];
    }
    argv[k++] = "-o";
    argv[k++] = "prog";
    argv[k++] = "harness.c";
    argv[k++] = "-lm";
    argv[k] = NULL;
    if ((rc = run_step(c, argv, c->o->compile_timeout_s, &r, err))) {
        if (rc == OCT_ENOTFOUND)
            rc = errmsg_set(err, OCT_ENOTFOUND, "cannot run '%s': not found in PATH (install a C compiler or use "
                                                "--cc)", c->o->cc);
        goto done;
    }
    if (r.timed_out || r.signaled || r.status) {
        char hint[400];
        const char *h = NULL;
        char undef[SPEC_MAX_NAME + 32];
        snprintf(undef, sizeof undef, "undefined reference to `%s'", c->s->name);
        char *sig = NULL;
        if (strstr(r.output, undef)) {
            snprintf(hint, sizeof hint, "%s does not define the function %s", c->display, c->s->name);
            h = hint;
        } else if (harness_error(r.output) && !spec_signature(c->s, &sig, NULL)) {
            snprintf(hint, sizeof hint, "harness.c is the test program octet generates; it calls %.300s", sig);
            h = hint;
        }
        build_failed(c, c->o->cc, "does not compile", &r, h);
        free(sig);
        sandbox_result_free(&r);
        goto done;
    }
    sandbox_result_free(&r);
    c->rep->compiled = true;
    char prog[PATH_MAX + 16];
    snprintf(prog, sizeof prog, "%s/prog", sandbox_dir(c->sb));
    char *run[] = {prog, NULL, NULL, NULL};
    run_examples(c, run, 1, 2, err, &rc);
done:
    free(argv);
    free(harness);
    sb_free(&src);
    return rc;
}

int spec_check(const spec_t *s, const char *code, size_t len, const char *code_dir, const char *display,
               const spec_check_opts_t *o, spec_report_t *rep, errmsg_t *err)
{
    spec_check_opts_t def;
    checker_t c = {0};
    char **dirs = NULL;
    size_t n_dirs = 0;
    int rc;
    memset(rep, 0, sizeof *rep);
    if (!o) {
        spec_check_opts_default(&def);
        o = &def;
    }
    c.s = s;
    c.o = o;
    c.rep = rep;
    c.display = display && *display ? display : s->lang == SPEC_LANG_C ? "code.c" : "code.py";
    if (memchr(code, '\0', len))
        return errmsg_set(err, OCT_EFORMAT, "%s: the code contains a NUL byte", c.display);
    if ((rc = spec_include_dirs(code_dir, o->include_dirs, o->n_include_dirs, &dirs, &n_dirs, err)))
        return rc;
    if ((rc = sandbox_new(&c.sb, err)))
        goto done;
    sandbox_set_unsafe(c.sb, o->unsafe_sandbox);
    /* the code may read its include directories (and Python its imports) */
    for (size_t i = 0; i < n_dirs; i++)
        if ((rc = sandbox_allow_read(c.sb, dirs[i], err)))
            goto done;
    snprintf(rep->isolation, sizeof rep->isolation, "%s", sandbox_isolation(c.sb));
    rep->confined = sandbox_confined(c.sb);
    if (build_env(&c)) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    if (s->lang == SPEC_LANG_PYTHON) {
        /* Python imports from the code's directory and the repository root */
        size_t n_py = n_dirs > 0 ? 1 : 0;
        for (size_t i = 1; i < n_dirs; i++) {
            char git[PATH_MAX + 8];
            snprintf(git, sizeof git, "%s/.git", dirs[i]);
            if (!access(git, F_OK)) {
                char *t = dirs[n_py];
                dirs[n_py] = dirs[i];
                dirs[i] = t;
                n_py++;
                break;
            }
        }
        rc = check_python(&c, dirs, n_py, code, len, err);
    } else {
        rc = check_c(&c, dirs, n_dirs, code, len, err);
    }
    if (rc)
        goto done;
    rep->passed = rep->compiled && rep->n_failed == 0;
    if (rep->compiled) {
        if (!s->n_examples)
            sb_addf(&c.text, "%s: compiles; the spec has no examples to run\n", c.display);
        else if (rep->passed)
            sb_addf(&c.text, "all %zu example%s passed\n", s->n_examples, s->n_examples == 1 ? "" : "s");
        else
            sb_addf(&c.text, "%zu of %zu examples passed\n", rep->n_passed, s->n_examples);
    }
    rep->text = sb_take(&c.text);
    c.text.s = NULL;
    if (rep->compiled && rep->n_failed) {
        sbuf_t fb = {0};
        sb_add(&fb, "These examples failed:\n");
        sb_addn(&fb, c.feedback.s ? c.feedback.s : "", c.feedback.n);
        rep->feedback = sb_take(&fb);
    } else {
        rep->feedback = sb_take(&c.feedback);
        c.feedback.s = NULL;
    }
    if (!rep->text || !rep->feedback)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (rep->feedback && strlen(rep->feedback) > SPEC_FEEDBACK_MAX)
        strcpy(rep->feedback + SPEC_FEEDBACK_MAX - 5, "...\n");
done:
    if (rc)
        spec_report_free(rep);
    sb_free(&c.text);
    sb_free(&c.feedback);
    free_env(&c);
    sandbox_free(c.sb);
    spec_dirs_free(dirs, n_dirs);
    return rc;
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

/* ---- prompts ----------------------------------------------------------------------- */

#define SPEC_PROMPT_EXAMPLES 10
#define SPEC_PREV_MAX 6000

static void describe_spec(sbuf_t *b, const spec_t *s, const char *line_prefix)
{
    char tn[24];
    const char *lp = line_prefix;
    sb_add_lines(b, lp, s->description, 40);
    if (s->n_inputs) {
        sb_addf(b, "%sInputs:\n", lp);
        for (size_t i = 0; i < s->n_inputs; i++) {
            sb_addf(b, "%s- %s (%s)", lp, s->inputs[i].name, spec_type_name(s->inputs[i].type, tn, sizeof tn));
            if (s->inputs[i].description)
                sb_addf(b, ": %s", s->inputs[i].description);
            sb_add(b, "\n");
        }
    }
    sb_addf(b, "%sReturns: %s", lp, spec_type_name(s->output, tn, sizeof tn));
    if (s->output_description)
        sb_addf(b, ": %s", s->output_description);
    sb_add(b, "\n");
    if (s->lang == SPEC_LANG_C && (s->output.list || s->output.base == SPEC_T_STRING)) {
        sb_addf(b, "%sThe returned %s is allocated with malloc; the caller frees it.\n", lp,
                s->output.list ? "array" : "string");
        if (s->output.list)
            sb_addf(b, "%sStore its length in *out_len.\n", lp);
    }
    if (s->n_examples) {
        sb_addf(b, "%sExamples:\n", lp);
        for (size_t i = 0; i < s->n_examples && i < SPEC_PROMPT_EXAMPLES; i++) {
            if (s->lang == SPEC_LANG_PYTHON) {
                sb_addf(b, "%s  %s(", lp, s->name);
                size_t k = 0;
                for (const cJSON *v = s->examples[i].input->child; v; v = v->next, k++) {
                    if (k)
                        sb_add(b, ", ");
                    py_value(b, v, s->inputs[k].type);
                }
                sb_add(b, ") == ");
                py_value(b, s->examples[i].output, s->output);
                sb_add(b, "\n");
            } else {
                char *call = NULL, *o = cJSON_PrintUnformatted(s->examples[i].output);
                if (!spec_example_call(s, i, &call, NULL))
                    sb_addf(b, "%s  %s returns %s\n", lp, call, o ? o : "?");
                free(call);
                free(o);
            }
        }
    }
}

static int fence_lang(const spec_t *s, char *buf, size_t size)
{
    return snprintf(buf, size, "%s", s->lang == SPEC_LANG_C ? "c" : "python");
}

int spec_prompt_chat(const spec_t *s, const char *context, const char *prev_reply, const char *prev_error,
                     chat_msg_t *msgs, size_t *n, errmsg_t *err)
{
    sbuf_t sys = {0}, user = {0}, again = {0};
    char fl[16], *sig = NULL;
    *n = 0;
    fence_lang(s, fl, sizeof fl);
    bool c = s->lang == SPEC_LANG_C;
    sb_addf(&sys,
            "You are an expert %s programmer. Write exactly the function the user specifies. Reply with the "
            "complete code in one ```%s fenced code block: the function, any helper functions it needs and the %s "
            "it uses. Do not write %s, tests or example usage.",
            c ? "C" : "Python", fl, c ? "#include lines" : "imports",
            c ? "a main() function" : "an if __name__ == \"__main__\" block");
    if (spec_signature(s, &sig, err))
        goto oom;
    sb_addf(&user, "Write this %s function:\n\n    %s\n\n", c ? "C" : "Python", sig);
    describe_spec(&user, s, "");
    if (c)
        sb_add(&user, "\nC types: bool is stdbool.h's; a list input comes as a pointer and its length "
                      "(NAME, NAME_len).\n");
    if (context && *context) {
        sb_add(&user, "\nCode from the repository that may be relevant:\n\n");
        sb_add(&user, context);
        sb_add(&user, "\n");
    }
    msgs[0].role = CHAT_ROLE_SYSTEM;
    msgs[0].content = sb_take(&sys);
    msgs[1].role = CHAT_ROLE_USER;
    msgs[1].content = sb_take(&user);
    sys.s = user.s = NULL;
    *n = 2;
    if (!msgs[0].content || !msgs[1].content)
        goto oom;
    if (prev_reply && prev_error) {
        size_t pl = strlen(prev_reply);
        msgs[2].role = CHAT_ROLE_ASSISTANT;
        msgs[2].content = strndup(prev_reply, pl > SPEC_PREV_MAX ? SPEC_PREV_MAX : pl);
        *n = 3;
        sb_addf(&again, "That code failed the check:\n\n%s\nReply with the corrected complete code in one ```%s "
                        "code block.",
                prev_error, fl);
        msgs[3].role = CHAT_ROLE_USER;
        msgs[3].content = sb_take(&again);
        again.s = NULL;
        *n = 4;
        if (!msgs[2].content || !msgs[3].content)
            goto oom;
    }
    free(sig);
    return 0;
oom:
    free(sig);
    sb_free(&sys);
    sb_free(&user);
    sb_free(&again);
    spec_msgs_free(msgs, *n);
    *n = 0;
    return errmsg_set(err, OCT_ENOMEM, "out of memory");
}

void spec_msgs_free(chat_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)msgs[i].content);
        msgs[i].content = NULL;
    }
}

/* TEXT as a comment block of the language; a C comment must not be closed
 * early by a star-slash in the text. */
static void add_comment(sbuf_t *b, const spec_t *s, const char *text)
{
    bool c = s->lang == SPEC_LANG_C;
    while (*text) {
        size_t n = strcspn(text, "\n");
        sb_add(b, c ? " * " : "# ");
        for (size_t i = 0; i < n; i++) {
            if (c && text[i] == '*' && i + 1 < n && text[i + 1] == '/') {
                sb_add(b, "* /");
                i++;
            } else {
                sb_addn(b, text + i, 1);
            }
        }
        sb_add(b, "\n");
        text += n + (text[n] == '\n');
    }
}

/* TEXT inside a docstring: backslashes and quotes escaped so that it cannot
 * end the docstring or start an escape, continuation lines indented. */
static void py_doc_text(sbuf_t *b, const char *text)
{
    for (const char *q = text; *q; q++) {
        if (*q == '\\')
            sb_add(b, "\\\\");
        else if (*q == '"')
            sb_add(b, "\\\"");
        else if (*q == '\n')
            sb_add(b, "\n    ");
        else
            sb_addn(b, q, 1);
    }
}

int spec_prompt_completion(const spec_t *s, const char *context, const char *prev_error, char **prompt,
                           char **head, errmsg_t *err)
{
    sbuf_t p = {0}, h = {0}, d = {0};
    char *sig = NULL;
    bool c = s->lang == SPEC_LANG_C;
    *prompt = *head = NULL;
    if (spec_signature(s, &sig, err))
        return err ? err->code : OCT_ENOMEM;
    static const char includes[] =
        "#include <stdbool.h>\n#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n\n";
    if (c)
        sb_add(&p, includes);
    if (context && *context) {
        sb_add(&p, c ? "/*\n" : "");
        add_comment(&p, s, "Code from the repository that may be relevant:");
        add_comment(&p, s, context);
        sb_add(&p, c ? " */\n\n" : "\n");
    }
    if (c) {
        describe_spec(&d, s, "");
        if (prev_error && *prev_error) {
            sb_add(&d, "A previous attempt failed:\n");
            sb_add(&d, prev_error);
        }
        if (d.oom || !d.s)
            goto oom;
        sb_addf(&p, "/* %s:\n", s->name);
        add_comment(&p, s, d.s);
        sb_add(&p, " */\n");
        sb_addf(&h, "%s%s\n{\n", includes, sig);
        sb_addf(&p, "%s\n{\n", sig);
    } else {
        if (prev_error && *prev_error) {
            add_comment(&p, s, "A previous attempt failed:");
            add_comment(&p, s, prev_error);
        }
        /* the function with a docstring in the usual form (description,
         * Args, Returns, doctest examples), which code models continue */
        sb_addf(&h, "%s:\n    \"\"\"", sig);
        py_doc_text(&h, s->description);
        bool args = false;
        for (size_t i = 0; i < s->n_inputs; i++)
            args |= s->inputs[i].description != NULL;
        if (args) {
            sb_add(&h, "\n\n    Args:");
            for (size_t i = 0; i < s->n_inputs; i++) {
                sb_addf(&h, "\n        %s: ", s->inputs[i].name);
                py_doc_text(&h, s->inputs[i].description ? s->inputs[i].description : "");
            }
        }
        if (s->output_description) {
            sb_add(&h, args ? "\n    Returns:\n        " : "\n\n    Returns:\n        ");
            py_doc_text(&h, s->output_description);
        }
        if (s->n_examples)
            sb_add(&h, "\n");
        for (size_t i = 0; i < s->n_examples && i < SPEC_PROMPT_EXAMPLES; i++) {
            sbuf_t ex = {0};
            sb_addf(&ex, "%s(", s->name);
            size_t k = 0;
            for (const cJSON *v = s->examples[i].input->child; v; v = v->next, k++) {
                if (k)
                    sb_add(&ex, ", ");
                py_value(&ex, v, s->inputs[k].type);
            }
            sb_add(&ex, ")");
            sb_add(&h, "\n    >>> ");
            py_doc_text(&h, ex.s ? ex.s : "");
            sb_free(&ex);
            ex.s = NULL;
            ex.n = ex.cap = 0;
            py_value(&ex, s->examples[i].output, s->output);
            sb_add(&h, "\n    ");
            py_doc_text(&h, ex.s ? ex.s : "");
            sb_free(&ex);
        }
        /* three spaces: byte-level BPE models write the fourth with their
         * first token (" return"), as in their training text */
        sb_add(&h, "\n    \"\"\"\n   ");
        sb_add(&p, h.s ? h.s : "");
    }
    if (p.oom || h.oom)
        goto oom;
    *prompt = sb_take(&p);
    *head = sb_take(&h);
    sb_free(&d);
    free(sig);
    if (!*prompt || !*head) {
        free(*prompt);
        free(*head);
        *prompt = *head = NULL;
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
oom:
    sb_free(&p);
    sb_free(&h);
    sb_free(&d);
    free(sig);
    return errmsg_set(err, OCT_ENOMEM, "out of memory");
}

/* ---- extracting code ---------------------------------------------------------------- */

typedef struct fence {
    const char *lang; /* the info string after ``` */
    size_t lang_len;
    const char *body; /* first line of the block */
    size_t body_len;
    bool closed;
} fence_t;

/* The next fenced block at or after *P; false when there is none. */
static bool next_fence(const char **p, fence_t *f)
{
    const char *s = *p;
    for (;;) {
        const char *line = s;
        size_t ind = 0;
        while (ind < 4 && line[ind] == ' ')
            ind++;
        if (!strncmp(line + ind, "```", 3)) {
            const char *info = line + ind + 3;
            while (*info == '`')
                info++;
            size_t il = strcspn(info, "\n");
            f->lang = info;
            f->lang_len = il;
            while (f->lang_len && isspace((unsigned char)f->lang[f->lang_len - 1]))
                f->lang_len--;
            const char *body = info[il] ? info + il + 1 : info + il;
            const char *q = body;
            f->closed = false;
            for (;;) {
                const char *bl = q;
                size_t bi = 0;
                while (bi < 4 && bl[bi] == ' ')
                    bi++;
                if (!strncmp(bl + bi, "```", 3)) {
                    f->body = body;
                    f->body_len = (size_t)(bl - body);
                    f->closed = true;
                    q = bl + strcspn(bl, "\n");
                    *p = *q ? q + 1 : q;
                    return true;
                }
                q += strcspn(q, "\n");
                if (!*q) {
                    f->body = body;
                    f->body_len = (size_t)(q - body);
                    *p = q;
                    return true;
                }
                q++;
            }
        }
        s += strcspn(s, "\n");
        if (!*s)
            return false;
        s++;
    }
}

static bool lang_matches(const spec_t *s, const fence_t *f)
{
    char l[16];
    if (f->lang_len >= sizeof l)
        return false;
    size_t n = strcspn(f->lang, " \t{");
    if (n > f->lang_len)
        n = f->lang_len;
    for (size_t i = 0; i < n; i++)
        l[i] = (char)tolower((unsigned char)f->lang[i]);
    l[n] = '\0';
    if (s->lang == SPEC_LANG_C)
        return !strcmp(l, "c") || !strcmp(l, "h");
    return !strcmp(l, "python") || !strcmp(l, "py") || !strcmp(l, "python3");
}

/* Whether TEXT (LEN bytes) looks like it defines the function. */
static bool defines(const spec_t *s, const char *text, size_t len)
{
    size_t nl = strlen(s->name);
    for (size_t i = 0; i + nl <= len; i++) {
        if (memcmp(text + i, s->name, nl) || (i && (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '_')))
            continue;
        size_t j = i + nl;
        while (j < len && (text[j] == ' ' || text[j] == '\t'))
            j++;
        if (j >= len || text[j] != '(')
            continue;
        if (s->lang == SPEC_LANG_PYTHON) {
            if (i >= 4 && !memcmp(text + i - 4, "def ", 4))
                return true;
        } else if (memchr(text + j, '{', len - j)) {
            return true;
        }
    }
    return false;
}

/* Python: the end of the function body in TEXT (the completion after the
 * head): the start of the first non-blank line that is not indented
 * (a new definition, a closing fence...). With FIRST_INDENTED the first
 * line continues an indented line of the head. Sets *ended when there is
 * such a line and *has_body when a body line comes before it. */
static size_t py_body_end(const char *text, bool first_indented, bool *ended, bool *has_body)
{
    size_t i = 0;
    *ended = *has_body = false;
    while (text[i]) {
        size_t n = strcspn(text + i, "\n");
        bool blank = true;
        for (size_t k = 0; k < n; k++)
            if (!isspace((unsigned char)text[i + k])) {
                blank = false;
                break;
            }
        if (!blank) {
            if (text[i] != ' ' && text[i] != '\t' && !(i == 0 && first_indented)) {
                /* the first character of a line is final even while the rest
                 * of the line is still being generated */
                *ended = true;
                return i;
            }
            *has_body = true;
        }
        i += n;
        if (text[i] == '\n')
            i++;
    }
    return i;
}

/* C: the offset just after the brace that closes a body whose '{' was
 * already seen (depth 1 at TEXT), skipping strings, characters and
 * comments; 0 when it does not close. */
static size_t c_body_end(const char *text)
{
    int depth = 1;
    for (size_t i = 0; text[i]; i++) {
        char ch = text[i];
        if (ch == '/' && text[i + 1] == '/') {
            while (text[i] && text[i] != '\n')
                i++;
            if (!text[i])
                return 0;
        } else if (ch == '/' && text[i + 1] == '*') {
            const char *e = strstr(text + i + 2, "*/");
            if (!e)
                return 0;
            i = (size_t)(e - text) + 1;
        } else if (ch == '"' || ch == '\'') {
            i++;
            while (text[i] && text[i] != ch && text[i] != '\n') {
                if (text[i] == '\\' && text[i + 1])
                    i++;
                i++;
            }
            if (!text[i])
                return 0;
        } else if (ch == '{') {
            depth++;
        } else if (ch == '}' && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

int spec_extract_code(const spec_t *s, const char *reply, const char *head, char **code, errmsg_t *err)
{
    char fl[16];
    *code = NULL;
    fence_lang(s, fl, sizeof fl);
    if (head) {
        size_t end;
        if (s->lang == SPEC_LANG_PYTHON) {
            bool ended, has_body;
            size_t hl = strlen(head);
            end = py_body_end(reply, hl && head[hl - 1] == ' ', &ended, &has_body);
            if (!has_body)
                return errmsg_set(err, OCT_ENOTFOUND, "the completion has no function body (no indented line after "
                                                      "the def line)");
        } else {
            end = c_body_end(reply);
            if (!end)
                return errmsg_set(err, OCT_ENOTFOUND, "the completion ends before the closing brace of %s() (it "
                                                      "may need more tokens: -n)", s->name);
        }
        if (asprintf(code, "%s%.*s%s", head, (int)end, reply, end && reply[end - 1] != '\n' ? "\n" : "") < 0) {
            *code = NULL;
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        }
        return 0;
    }
    fence_t f, best = {0};
    int rank = 0; /* 3: language and definition, 2: language, 1: definition, 0: any */
    bool found = false;
    const char *p = reply;
    while (next_fence(&p, &f)) {
        bool lm = lang_matches(s, &f), def = defines(s, f.body, f.body_len);
        int r = lm && def ? 3 : lm ? 2 : def ? 1 : 0;
        if (!found || r > rank) {
            best = f;
            rank = r;
            found = true;
        }
        if (r == 3 || !*p)
            break;
    }
    const char *body;
    size_t len;
    if (found) {
        body = best.body;
        len = best.body_len;
    } else if (defines(s, reply, strlen(reply))) {
        body = reply;
        len = strlen(reply);
    } else {
        return errmsg_set(err, OCT_ENOTFOUND, "the reply has no ```%s code block and no definition of %s()", fl,
                          s->name);
    }
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    size_t lead = 0;
    while (lead < len && (body[lead] == '\n' || body[lead] == '\r'))
        lead++;
    if (lead == len)
        return errmsg_set(err, OCT_ENOTFOUND, "the ```%s code block in the reply is empty", fl);
    if (asprintf(code, "%.*s\n", (int)(len - lead), body + lead) < 0) {
        *code = NULL;
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

bool spec_reply_complete(const spec_t *s, const char *reply, bool completion)
{
    if (completion) {
        if (s->lang == SPEC_LANG_C)
            return c_body_end(reply) != 0;
        bool ended, has_body;
        py_body_end(reply, true, &ended, &has_body); /* the head ends inside an indented line */
        return ended && has_body;
    }
    fence_t f;
    const char *p = reply;
    return next_fence(&p, &f) && f.closed;
}

/* ---- the engine as a model -------------------------------------------------------------- */

static int engine_generate(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                           bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply,
                           errmsg_t *err)
{
    spec_engine_llm_t *e = ud;
    char *text = NULL;
    size_t tlen;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    sampler_t *smp = NULL;
    sbuf_t out = {0};
    int rc = 0;
    *reply = NULL;
    const tok_t *t = eng_tokenizer(e->model);
    int flags = TOK_ADD_BOS | TOK_PARSE_SPECIAL;
    if (e->tmpl) {
        if ((rc = chat_format(e->tmpl, msgs, n, true, &text, &tlen, err)))
            goto done;
        if (chat_tmpl_writes_bos(e->tmpl))
            flags = TOK_PARSE_SPECIAL;
    } else {
        /* plain completion of code: special-token text in it stays text */
        flags = TOK_ADD_BOS;
        if (!(text = strdup(prompt ? prompt : ""))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        tlen = strlen(text);
    }
    if ((rc = tok_encode(t, text, tlen, flags, &ids, &n_ids, err)))
        goto done;
    uint32_t n_ctx = eng_n_ctx(e->session);
    if (n_ids == 0 || n_ids >= n_ctx) {
        rc = errmsg_set(err, OCT_EINVAL, "the prompt has %zu tokens; the context holds %u: use a larger "
                                         "context or less retrieved context", n_ids, n_ctx);
        goto done;
    }
    sample_params_t sp = e->sp;
    sp.seed += e->calls++; /* another draw for each attempt */
    if ((rc = eng_truncate(e->session, 0, err)) || (rc = sample_new(&smp, &sp, eng_n_vocab(e->model), err)) ||
        (rc = eng_feed(e->session, ids, n_ids, err)))
        goto done;
    for (size_t i = 0; i < n_ids; i++)
        sample_accept(smp, ids[i]);
    for (int k = 0; k < e->n_predict; k++) {
        int32_t id;
        if ((rc = eng_sample(e->session, smp, &id, err)))
            goto done;
        sample_accept(smp, id);
        if (tok_is_eog(t, id))
            break;
        const char *piece;
        size_t pl = tok_piece(t, id, false, &piece);
        sb_addn(&out, piece, pl);
        if (e->on_text && pl)
            e->on_text(e->text_ud, piece, pl);
        if (out.oom) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        if ((done && out.s && done(out.s, done_ud)) || eng_pos(e->session) >= n_ctx)
            break;
        if ((rc = eng_decode(e->session, id, err)))
            goto done;
    }
    if (!(*reply = sb_take(&out)))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    out.s = NULL;
done:
    sb_free(&out);
    sample_free(smp);
    free(ids);
    free(text);
    return rc;
}

int spec_engine_llm_init(spec_engine_llm_t *e, eng_model_t *m, const char *tmpl_name, const sample_params_t *sp,
                         int n_predict, spec_llm_t *llm, errmsg_t *err)
{
    memset(e, 0, sizeof *e);
    e->model = m;
    e->sp = *sp;
    e->n_predict = n_predict > 0 ? n_predict : 512;
    if (!eng_tokenizer(m))
        return errmsg_set(err, OCT_EUNSUPPORTED, "the model has no tokenizer");
    if (!tmpl_name || strcmp(tmpl_name, "none")) {
        int rc = chat_tmpl_from_gguf(&e->tmpl, eng_gguf(m), tmpl_name, err);
        if (rc == OCT_ENOTFOUND)
            return errmsg_set(err, rc, "%s (name one with --template, or --template none for plain completion)",
                              err ? err->msg : "unknown chat template");
        if (rc)
            return rc;
        if (chat_tmpl_kind(e->tmpl) == CHAT_KIND_NONE) {
            chat_tmpl_free(e->tmpl);
            e->tmpl = NULL;
        }
    }
    int rc = eng_session_new(&e->session, m, err);
    if (rc) {
        chat_tmpl_free(e->tmpl);
        e->tmpl = NULL;
        return rc;
    }
    llm->chat = e->tmpl != NULL;
    llm->generate = engine_generate;
    llm->ud = e;
    return 0;
}

void spec_engine_llm_free(spec_engine_llm_t *e)
{
    if (!e)
        return;
    eng_session_free(e->session);
    chat_tmpl_free(e->tmpl);
    memset(e, 0, sizeof *e);
}

size_t spec_engine_count(const char *text, size_t len, void *engine_llm)
{
    spec_engine_llm_t *e = engine_llm;
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(eng_tokenizer(e->model), text, len, 0, &ids, &n, NULL))
        return len / 2 + 1;
    free(ids);
    return n;
}

/* ---- generate, check, retry ----------------------------------------------------------------- */

typedef struct done_ctx {
    const spec_t *s;
    bool completion;
} done_ctx_t;

static bool reply_done(const char *reply, void *ud)
{
    const done_ctx_t *d = ud;
    return spec_reply_complete(d->s, reply, d->completion);
}

void spec_gen_result_free(spec_gen_result_t *res)
{
    if (!res)
        return;
    free(res->code);
    free(res->last_error);
    memset(res, 0, sizeof *res);
}

int spec_gen(const spec_t *s, const spec_llm_t *llm, const spec_gen_opts_t *o, spec_gen_result_t *res,
             errmsg_t *err)
{
    char *prev_reply = NULL, *prev_error = NULL;
    int rc = 0;
    memset(res, 0, sizeof *res);
    int attempts = o->attempts > 0 ? o->attempts : 1;
    done_ctx_t dc = {s, !llm->chat};
    const char *display = s->lang == SPEC_LANG_C ? "generated.c" : "generated.py";
    for (int a = 1; a <= attempts; a++) {
        chat_msg_t msgs[4];
        size_t n_msgs = 0;
        char *prompt = NULL, *head = NULL, *reply = NULL, *code = NULL, *error = NULL;
        spec_report_t rep = {0};
        bool have_rep = false;
        errmsg_t xerr = {0};
        if (llm->chat)
            rc = spec_prompt_chat(s, o->context, prev_reply, prev_error, msgs, &n_msgs, err);
        else
            rc = spec_prompt_completion(s, o->context, prev_error, &prompt, &head, err);
        if (!rc)
            rc = llm->generate(llm->ud, msgs, n_msgs, prompt, reply_done, &dc, &reply, err);
        spec_msgs_free(msgs, n_msgs);
        free(prompt);
        if (rc) {
            free(head);
            break;
        }
        res->attempts = a;
        if (spec_extract_code(s, reply, head, &code, &xerr)) {
            if (xerr.code == OCT_ENOMEM) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            } else if (!(error = strdup(xerr.msg))) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            }
        } else if (o->check) {
            rc = spec_check(s, code, strlen(code), o->code_dir, display, o->check_opts, &rep, err);
            have_rep = rc == 0;
            if (!rc && !rep.passed && !(error = strdup(rep.feedback)))
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        }
        free(head);
        if (!rc && o->on_attempt)
            o->on_attempt(o->ud, a, reply, code, have_rep ? &rep : NULL, error ? error : "");
        if (have_rep)
            spec_report_free(&rep);
        if (code) {
            free(res->code);
            res->code = code;
        }
        free(prev_reply);
        free(prev_error);
        prev_reply = reply;
        prev_error = error;
        if (rc)
            break;
        if (!error) {
            res->ok = true;
            break;
        }
    }
    if (!rc && !res->ok && prev_error && !(res->last_error = strdup(prev_error)))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    free(prev_reply);
    free(prev_error);
    if (rc)
        spec_gen_result_free(res);
    return rc;
}

/* ---- retrieved context ---------------------------------------------------------------------- */

char *spec_query(const spec_t *s)
{
    sbuf_t b = {0};
    sb_add(&b, s->name);
    for (size_t i = 0; i < s->n_inputs; i++)
        sb_addf(&b, " %s", s->inputs[i].name);
    sb_addf(&b, " %s", s->description);
    return sb_take(&b);
}

int spec_repo_context(const char *dir, const char *query, size_t k, size_t budget,
                      size_t (*count)(const char *text, size_t len, void *ud), void *ud, char **out, errmsg_t *err)
{
    rag_options_t ro = {0};
    rag_t *r = NULL;
    rag_results_t res = {0};
    rag_pack_info_t info;
    int rc;
    *out = NULL;
    ro.dir = dir;
    if ((rc = rag_open(&r, &ro, err)))
        return rc;
    for (int attempt = 0;; attempt++) {
        if ((rc = rag_update(r, NULL, NULL, NULL, NULL, err)))
            goto done;
        rc = rag_query(r, query, strlen(query), k, &res, err);
        /* a corrupt index found by the query is rebuilt by the next update */
        if (rc != OCT_EFORMAT || attempt > 0)
            break;
    }
    if (!rc)
        rc = rag_pack(&res, budget, count, ud, out, &info, err);
done:
    rag_results_free(&res);
    rag_close(r);
    return rc;
}
