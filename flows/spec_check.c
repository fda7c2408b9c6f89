/* spec_check.c - checking code against a spec: the include directories of C
 * code, compiling or byte-compiling it, and running each example in the
 * sandbox with the time limit, with the report for the user and the
 * feedback for the model (see spec.h). */
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
    spec_add_lines(b, prefix, s, max_lines);
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
            spec_add_lines(&line, "      ", detail, 12);
        } else if (vlen == 5 && !strncmp(body, "error", 5) && !r.signaled) {
            out = SPEC_ERROR;
            spec_add_lines(&line, "", detail, 1);
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
