/* spec_gen.c - functions from specs: the prompts that ask a model for the
 * function, the code taken from its reply, the generate-check-retry loop,
 * and the retrieved repository context (see spec.h). */
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

#include "encoder.h"
#include "rag.h"
#include "sandbox.h"
#include "sb.h"
#include "spec.h"
#include "spec_int.h"
#include "utf8.h"

/* ---- prompts ----------------------------------------------------------------------- */

#define SPEC_PROMPT_EXAMPLES 10
#define SPEC_PREV_MAX 6000

static void describe_spec(sbuf_t *b, const spec_t *s, const char *line_prefix)
{
    char tn[24];
    const char *lp = line_prefix;
    spec_add_lines(b, lp, s->description, 40);
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
                    spec_py_value(b, v, s->inputs[k].type);
                }
                sb_add(b, ") == ");
                spec_py_value(b, s->examples[i].output, s->output);
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
                spec_py_value(&ex, v, s->inputs[k].type);
            }
            sb_add(&ex, ")");
            sb_add(&h, "\n    >>> ");
            py_doc_text(&h, ex.s ? ex.s : "");
            sb_free(&ex);
            ex.s = NULL;
            ex.n = ex.cap = 0;
            spec_py_value(&ex, s->examples[i].output, s->output);
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

int spec_gen(const spec_t *s, const llm_t *llm, const spec_gen_opts_t *o, spec_gen_result_t *res,
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

/* Pin each of ADDS[0..N) into L (BASE: the current directory; ROOT and R
 * may be NULL outside a repository). */
static int add_pins(pin_list_t *l, char *const *adds, size_t n, const char *root, rag_t *r, errmsg_t *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = pin_add(l, adds[i], NULL, root, r, NULL, err);
        if (rc)
            return rc;
    }
    return 0;
}

int spec_repo_context(const char *dir, const char *query, bool lexical, size_t k, char *const *adds, size_t n_adds,
                      size_t budget, size_t (*count)(const char *text, size_t len, void *ud), void *ud,
                      pin_ctx_t *out, char *mode, size_t mode_n, errmsg_t *err)
{
    rag_options_t ro = {0};
    rag_t *r = NULL;
    encoder_t *enc = NULL;
    rag_results_t res = {0};
    pin_list_t pins = {0};
    char why[512] = "";
    int rc;
    memset(out, 0, sizeof *out);
    ro.dir = dir;
    if ((rc = rag_open(&r, &ro, err))) {
        /* outside a repository the pins go alone */
        if (rc == OCT_ENOTFOUND && n_adds && !(rc = add_pins(&pins, adds, n_adds, NULL, NULL, err)))
            rc = pin_pack(NULL, &pins, NULL, budget, count, ud, out, err);
        goto done;
    }
    /* one thread: a query's pass is too short to pay for waking a second one */
    encoder_use(r, lexical, 1, &enc, why, sizeof why);
    for (int attempt = 0;; attempt++) {
        if ((rc = rag_update(r, NULL, NULL, NULL, NULL, err)))
            goto done;
        errmsg_t eerr;
        /* a failed embedding leaves retrieval lexical; MODE says so */
        if (enc && query)
            encoder_catch_up(r, ENCODER_CATCH_UP, &eerr);
        rc = query ? rag_query(r, query, strlen(query), k, &res, err) : 0;
        /* a corrupt index found by the query is rebuilt by the next update */
        if (rc != OCT_EFORMAT || attempt > 0)
            break;
    }
    if (!rc && mode)
        encoder_describe(r, enc, lexical, why, mode, mode_n);
    if (!rc && !(rc = add_pins(&pins, adds, n_adds, rag_root(r), r, err)))
        rc = pin_pack(NULL, &pins, &res, budget, count, ud, out, err);
done:
    pin_list_free(&pins);
    rag_results_free(&res);
    rag_close(r);
    encoder_close(enc);
    return rc;
}
