/* test_spec.c - spec files (parsing and every validation message), the
 * check of code against a spec with the real python3 and cc (good, wrong,
 * hanging, crashing, non-compiling, escaping the sandbox), the sandbox
 * itself, prompts, code extraction, the TUI form and the generate-check-
 * retry loop driven by scripted replies. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "spec.h"
#include "test.h"

static const char ADD_JSON[] =
    "{\"language\": \"python\", \"name\": \"add\", \"description\": \"Return a + b.\",\n"
    " \"inputs\": [{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"b\", \"type\": \"int\"}],\n"
    " \"output\": \"int\",\n"
    " \"examples\": [{\"input\": [1, 2], \"output\": 3}, {\"input\": [-4, 4], \"output\": 0}]}";

static spec_t *parse_ok(const char *json)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    int rc = spec_parse(&s, json, strlen(json), "t.json", &err);
    CHECKF(rc == 0, "spec_parse failed: %s", err.msg);
    return s;
}

/* spec_parse must fail with a message containing WANT. */
static void parse_bad(const char *json, const char *want)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    int rc = spec_parse(&s, json, strlen(json), "t.json", &err);
    CHECKF(rc != 0 && s == NULL, "accepted: %s", json);
    CHECKF(rc == 0 || strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    CHECKF(rc == 0 || !strncmp(err.msg, "t.json", 6), "message '%s' does not name the file", err.msg);
    spec_free(s);
}

/* A spec with the usual fields around INPUTS, OUTPUT and EXAMPLES. */
static char *mk(const char *lang, const char *inputs, const char *output, const char *examples)
{
    char *j = NULL;
    if (asprintf(&j,
                 "{\"language\": \"%s\", \"name\": \"f\", \"description\": \"d\", \"inputs\": %s, \"output\": %s%s%s}",
                 lang, inputs, output, examples ? ", \"examples\": " : "", examples ? examples : "") < 0)
        return NULL;
    return j;
}

static void test_parse_fixture(void)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    CHECKF(spec_load(&s, "tests/fixtures/specs/add.json", &err) == 0, "%s", err.msg);
    if (!s)
        return;
    CHECK_EQ_INT(s->lang, SPEC_LANG_PYTHON);
    CHECK_EQ_STR(s->name, "add");
    CHECK_EQ_INT(s->n_inputs, 2);
    CHECK_EQ_STR(s->inputs[1].name, "b");
    CHECK_EQ_INT(s->output.base, SPEC_T_INT);
    CHECK_EQ_INT(s->n_examples, 3);
    char *call = NULL;
    CHECK(spec_example_call(s, 2, &call, &err) == 0);
    CHECK_EQ_STR(call, "add(2147483647, 0)");
    free(call);
    spec_free(s);
    CHECK(spec_load(&s, "tests/fixtures/specs/no-such.json", &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "no-such.json") != NULL);
}

static void test_parse_errors(void)
{
    parse_bad("", "t.json:1:1: invalid JSON: unexpected end");
    parse_bad("{\"language\": ", "t.json:1:");
    parse_bad("{\n  \"language\": \"c\",\n  oops\n}", "t.json:3:3: invalid JSON near 'oops");
    parse_bad("[1, 2]", "expected a JSON object at the top level, got an array");
    parse_bad("{\"language\": \"python\"} x", "unexpected text after the JSON object");
    parse_bad("{\"language\": \"python\", \"name\": \"f\", \"exmaples\": []}", "unknown field 'exmaples'");
    parse_bad("{\"language\": \"python\", \"language\": \"c\"}", "field 'language' appears twice");
    parse_bad("{\"name\": \"f\"}", "language: missing");
    parse_bad("{\"language\": 3}", "language: expected a string, got a number");
    parse_bad("{\"language\": \"rust\", \"name\": \"f\"}", "language: unsupported language 'rust'");
    parse_bad("{\"language\": \"python\", \"name\": \"2x\"}", "name: '2x' is not a valid name");
    parse_bad("{\"language\": \"python\", \"name\": \"lambda\"}", "name: 'lambda' is a reserved word in Python");
    parse_bad("{\"language\": \"c\", \"name\": \"main\"}", "'main' is a reserved word in C");
    parse_bad("{\"language\": \"c\", \"name\": \"octet_x\"}", "reserved for the test harness");
    parse_bad("{\"language\": \"c\", \"name\": \"f\"}", "description: missing");
    parse_bad("{\"language\": \"c\", \"name\": \"f\", \"description\": \"\xff\"}", "description: the string is not valid UTF-8");
    parse_bad("{\"language\": \"c\", \"name\": \"f\", \"description\": \"a\\u0000b\"}", "cannot contain \\u0000");

    char *j;
    j = mk("python", "{}", "\"int\"", NULL);
    parse_bad(j, "inputs: expected an array");
    free(j);
    j = mk("python", "[3]", "\"int\"", NULL);
    parse_bad(j, "inputs[0]: expected an object");
    free(j);
    j = mk("python", "[{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"b\", \"type\": \"integer\"}]", "\"int\"", NULL);
    parse_bad(j, "inputs[1].type: unknown type 'integer' (use int, long, double, bool, string, or list[T]");
    free(j);
    j = mk("python", "[{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"a\", \"type\": \"int\"}]", "\"int\"", NULL);
    parse_bad(j, "inputs[1].name: 'a' is also the name of inputs[0]");
    free(j);
    j = mk("python", "[{\"name\": \"f\", \"type\": \"int\"}]", "\"int\"", NULL);
    parse_bad(j, "inputs[0].name: the input has the function's name");
    free(j);
    j = mk("python", "[{\"type\": \"int\"}]", "\"int\"", NULL);
    parse_bad(j, "inputs[0].name: missing");
    free(j);
    j = mk("python", "[{\"name\": \"a\", \"type\": \"int\", \"default\": 1}]", "\"int\"", NULL);
    parse_bad(j, "inputs[0]: unknown field 'default'");
    free(j);
    j = mk("c", "[{\"name\": \"xs\", \"type\": \"list[int]\"}, {\"name\": \"xs_len\", \"type\": \"int\"}]", "\"int\"",
           NULL);
    parse_bad(j, "'xs_len' is taken by the length parameter of the list input 'xs' in C");
    free(j);
    j = mk("python", "[]", "\"list[list[int]]\"", NULL);
    parse_bad(j, "output: unknown type 'list[list[int]]'");
    free(j);
    j = mk("python", "[]", "{\"type\": \"int\", \"unit\": \"m\"}", NULL);
    parse_bad(j, "output: unknown field 'unit'");
    free(j);
    parse_bad("{\"language\": \"c\", \"name\": \"f\", \"description\": \"d\", \"inputs\": []}", "output: missing");

    const char *in2 = "[{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"b\", \"type\": \"long\"}]";
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, 2], \"output\": 3}, {\"input\": [1, 2], \"output\": 3}, "
                                     "{\"input\": [1, 2, 3], \"output\": 3}]");
    parse_bad(j, "t.json: examples[2].input: expected an array of 2 values (the function takes 2 inputs), got 3");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": 5, \"output\": 3}]");
    parse_bad(j, "examples[0].input: expected an array of 2 values (the function takes 2 inputs), got a number");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, \"x\"], \"output\": 3}]");
    parse_bad(j, "examples[0].input[1] (b): expected a long");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1.5, 2], \"output\": 3}]");
    parse_bad(j, "examples[0].input[0] (a): expected an int (a whole number from -2147483648 to 2147483647), got 1.5");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [2147483648, 2], \"output\": 3}]");
    parse_bad(j, "examples[0].input[0] (a): expected an int");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, 1e17], \"output\": 3}]");
    parse_bad(j, "examples[0].input[1] (b): expected a long (a whole number from -2^53 to 2^53)");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, 2], \"output\": 2.5}]");
    parse_bad(j, "examples[0].output: expected an int");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, 2]}]");
    parse_bad(j, "examples[0].output: missing");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"output\": 1}]");
    parse_bad(j, "examples[0].input: missing");
    free(j);
    j = mk("python", in2, "\"int\"", "[{\"input\": [1, 2], \"output\": 3, \"note\": 1}]");
    parse_bad(j, "examples[0]: unknown field 'note'");
    free(j);
    j = mk("python", "[{\"name\": \"xs\", \"type\": \"list[int]\"}]", "\"bool\"",
           "[{\"input\": [[1, \"a\"]], \"output\": true}]");
    parse_bad(j, "examples[0].input[0] (xs)[1]: expected an int");
    free(j);
    j = mk("python", "[{\"name\": \"xs\", \"type\": \"list[int]\"}]", "\"bool\"", "[{\"input\": [[1]], \"output\": 1}]");
    parse_bad(j, "examples[0].output: expected a bool (true or false), got 1");
    free(j);
    j = mk("python", "[]", "\"double\"", "[{\"input\": [], \"output\": 1e999}]");
    parse_bad(j, "examples[0].output: expected a double (a finite number)");
    free(j);
    j = mk("python", "[]", "\"string\"", "[{\"input\": [], \"output\": null}]");
    parse_bad(j, "examples[0].output: expected a string, got null");
    free(j);
    j = mk("python", "[]", "\"int\"", "{}");
    parse_bad(j, "examples: expected an array");
    free(j);
}

static void test_types_and_signatures(void)
{
    spec_type_t t;
    char buf[24];
    const char *names[] = {"int", "long", "double", "bool", "string", "list[int]", "list[string]", "list[double]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(spec_type_parse(names[i], &t) == 0);
        CHECK_EQ_STR(spec_type_name(t, buf, sizeof buf), names[i]);
    }
    CHECK(spec_type_parse("list[]", &t) < 0);
    CHECK(spec_type_parse("list[int", &t) < 0);
    CHECK(spec_type_parse("float", &t) < 0);
    CHECK(spec_type_parse("", &t) < 0);

    const char *in = "[{\"name\": \"xs\", \"type\": \"list[double]\"}, {\"name\": \"s\", \"type\": \"string\"}, "
                     "{\"name\": \"names\", \"type\": \"list[string]\"}, {\"name\": \"k\", \"type\": \"bool\"}]";
    char *j = mk("c", in, "\"list[long]\"", NULL);
    spec_t *s = parse_ok(j);
    char *sig = NULL;
    errmsg_t err;
    if (s) {
        CHECK(spec_signature(s, &sig, &err) == 0);
        CHECK_EQ_STR(sig, "long *f(const double *xs, size_t xs_len, const char *s, char **names, size_t names_len, "
                          "bool k, size_t *out_len)");
        free(sig);
        spec_free(s);
    }
    free(j);
    j = mk("python", in, "\"list[long]\"", NULL);
    if ((s = parse_ok(j))) {
        CHECK(spec_signature(s, &sig, &err) == 0);
        CHECK_EQ_STR(sig, "def f(xs: list[float], s: str, names: list[str], k: bool) -> list[int]");
        free(sig);
        spec_free(s);
    }
    free(j);
    j = mk("c", "[]", "\"string\"", NULL);
    if ((s = parse_ok(j))) {
        CHECK(spec_signature(s, &sig, &err) == 0);
        CHECK_EQ_STR(sig, "char *f(void)");
        free(sig);
        spec_free(s);
    }
    free(j);
}

/* ---- checking with the real tools ---------------------------------------------------- */

static spec_check_opts_t fast_opts(void)
{
    spec_check_opts_t o;
    spec_check_opts_default(&o);
    o.timeout_s = 1.5;
    return o;
}

static void check_code(const spec_t *s, const char *code, const char *dir, spec_report_t *rep)
{
    spec_check_opts_t o = fast_opts();
    errmsg_t err = {0};
    int rc = spec_check(s, code, strlen(code), dir, NULL, &o, rep, &err);
    CHECKF(rc == 0, "spec_check could not run: %s", err.msg);
    CHECKF(rep->confined, "not confined: %s", rep->isolation);
}

static void test_check_python(void)
{
    spec_t *s = parse_ok(ADD_JSON);
    spec_report_t rep;
    if (!s)
        return;
    check_code(s, "def add(a, b):\n    return a + b\n", NULL, &rep);
    CHECKF(rep.passed && rep.n_passed == 2, "%s", rep.text);
    CHECK(strstr(rep.text, "all 2 examples passed") != NULL);
    CHECK_EQ_STR(rep.feedback, "");
    spec_report_free(&rep);

    check_code(s, "def add(a, b):\n    return a * b\n", NULL, &rep);
    CHECK(!rep.passed && rep.compiled && rep.n_passed == 0 && rep.n_failed == 2);
    CHECK(rep.outcomes && rep.outcomes[0] == SPEC_MISMATCH);
    CHECKF(strstr(rep.text, "examples[0] add(1, 2): FAIL: wrong result") && strstr(rep.text, "expected: 3") &&
               strstr(rep.text, "actual:   2"),
           "%s", rep.text);
    CHECK(strstr(rep.feedback, "These examples failed") && strstr(rep.feedback, "add(-4, 4)"));
    spec_report_free(&rep);

    check_code(s, "def add(a, b):\n    if a < 0:\n        raise ValueError('negative')\n    return a + b\n", NULL, &rep);
    CHECK(!rep.passed && rep.n_passed == 1 && rep.outcomes && rep.outcomes[1] == SPEC_ERROR);
    CHECKF(strstr(rep.text, "raised ValueError: negative"), "%s", rep.text);
    spec_report_free(&rep);

    check_code(s, "def add(a, b)\n    return a + b\n", NULL, &rep);
    CHECK(!rep.compiled && !rep.passed && rep.n_failed == 2);
    CHECKF(strstr(rep.text, "does not compile") && strstr(rep.text, "SyntaxError"), "%s", rep.text);
    CHECK(strstr(rep.feedback, "The code does not compile") != NULL);
    spec_report_free(&rep);

    check_code(s, "def plus(a, b):\n    return a + b\n", NULL, &rep);
    CHECK(!rep.compiled);
    CHECKF(strstr(rep.text, "does not define a function add"), "%s", rep.text);
    spec_report_free(&rep);

    check_code(s, "def add(a):\n    return a\n", NULL, &rep);
    CHECKF(!rep.compiled && strstr(rep.text, "add() cannot be called with 2 argument(s)"), "%s", rep.text);
    spec_report_free(&rep);

    check_code(s, "import no_such_module_octet\n", NULL, &rep);
    CHECKF(!rep.compiled && strstr(rep.text, "ModuleNotFoundError"), "%s", rep.text);
    spec_report_free(&rep);
    spec_free(s);
}

static void test_check_python_hang_crash(void)
{
    const char *one = "{\"language\": \"python\", \"name\": \"add\", \"description\": \"d\", \"inputs\": "
                      "[{\"name\": \"a\", \"type\": \"int\"}], \"output\": \"int\", \"examples\": "
                      "[{\"input\": [1], \"output\": 1}]}";
    spec_t *s = parse_ok(one);
    spec_report_t rep;
    if (!s)
        return;
    double t0 = (double)time(NULL);
    check_code(s, "def add(a):\n    while True:\n        pass\n", NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_TIMEOUT);
    CHECKF(strstr(rep.text, "did not finish within 1.5 s (killed)"), "%s", rep.text);
    CHECK((double)time(NULL) - t0 < 10);
    spec_report_free(&rep);

    check_code(s, "import os, signal\ndef add(a):\n    os.kill(os.getpid(), signal.SIGSEGV)\n", NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_CRASH);
    CHECKF(strstr(rep.text, "crashed: killed by signal 11 (SIGSEGV"), "%s", rep.text);
    spec_report_free(&rep);

    check_code(s, "import os\ndef add(a):\n    os._exit(0)\n", NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_CRASH);
    CHECKF(strstr(rep.text, "without giving a result"), "%s", rep.text);
    spec_report_free(&rep);
    spec_free(s);
}

/* Strings with quotes, backslashes, newlines and non-ASCII characters reach
 * both harnesses intact; doubles compare within 1e-9 relative. */
static void test_check_literals(void)
{
    const char *ex = "[{\"input\": [\"a\\\"b\\\\c\\n\\t?\"], \"output\": \"a\\\"b\\\\c\\n\\t?\"},"
                     " {\"input\": [\"Zo\\u00eb \\u2603 \\ud83d\\ude00\"], \"output\": \"Zo\\u00eb \\u2603 \\ud83d\\ude00\"},"
                     " {\"input\": [\"\"], \"output\": \"\"}]";
    char *j = mk("python", "[{\"name\": \"s\", \"type\": \"string\"}]", "\"string\"", ex);
    spec_t *s = parse_ok(j);
    spec_report_t rep;
    if (s) {
        check_code(s, "def f(s):\n    return s\n", NULL, &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
    j = mk("c", "[{\"name\": \"s\", \"type\": \"string\"}]", "\"string\"", ex);
    if ((s = parse_ok(j))) {
        check_code(s, "#include <stdlib.h>\n#include <string.h>\nchar *f(const char *s) { return strdup(s); }\n", NULL,
                   &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
    const char *dex = "[{\"input\": [0.1, 0.2], \"output\": 0.3}, {\"input\": [1e300, 1e300], \"output\": 2e300},"
                      " {\"input\": [-0.0, 0], \"output\": 0}]";
    const char *din = "[{\"name\": \"a\", \"type\": \"double\"}, {\"name\": \"b\", \"type\": \"double\"}]";
    j = mk("python", din, "\"double\"", dex);
    if ((s = parse_ok(j))) {
        check_code(s, "def f(a, b):\n    return a + b\n", NULL, &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        check_code(s, "def f(a, b):\n    return a + b + 1e-6\n", NULL, &rep);
        CHECK(!rep.passed && rep.n_failed == 2);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
    j = mk("c", din, "\"double\"", dex);
    if ((s = parse_ok(j))) {
        check_code(s, "double f(double a, double b) { return a + b; }\n", NULL, &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
}

static void test_check_c(void)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    spec_report_t rep;
    CHECKF(spec_load(&s, "tests/fixtures/specs/scale.json", &err) == 0, "%s", err.msg);
    if (!s)
        return;
    const char *good = "#include <stdlib.h>\n"
                       "double *scale(const double *v, size_t v_len, double k, size_t *out_len)\n"
                       "{\n    double *r = malloc((v_len + 1) * sizeof *r);\n"
                       "    for (size_t i = 0; i < v_len; i++)\n        r[i] = v[i] * k;\n"
                       "    *out_len = v_len;\n    return r;\n}\n"
                       "int main(void) { return 3; }\n";
    check_code(s, good, NULL, &rep);
    CHECKF(rep.passed && rep.n_passed == 3, "%s", rep.text);
    spec_report_free(&rep);

    const char *short_list = "#include <stdlib.h>\n"
                             "double *scale(const double *v, size_t v_len, double k, size_t *out_len)\n"
                             "{\n    double *r = malloc((v_len + 1) * sizeof *r);\n"
                             "    for (size_t i = 0; i < v_len; i++)\n        r[i] = v[i] * k;\n"
                             "    *out_len = v_len ? v_len - 1 : 0;\n    return r;\n}\n";
    check_code(s, short_list, NULL, &rep);
    CHECK(!rep.passed && rep.n_passed == 1);
    CHECKF(strstr(rep.text, "expected: [2, 5, -6]") && strstr(rep.text, "actual:   [2, 5]") &&
               strstr(rep.text, "note: length 2, expected 3"),
           "%s", rep.text);
    spec_report_free(&rep);

    const char *no_len = "#include <stdlib.h>\n"
                         "double *scale(const double *v, size_t v_len, double k, size_t *out_len)\n"
                         "{ (void)v; (void)v_len; (void)k; (void)out_len; return NULL; }\n";
    check_code(s, no_len, NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_ERROR);
    CHECKF(strstr(rep.text, "did not set *out_len"), "%s", rep.text);
    spec_report_free(&rep);

    check_code(s, "int scale(int x) { return x; }\n", NULL, &rep);
    CHECK(!rep.compiled);
    CHECKF(strstr(rep.text, "does not compile") && strstr(rep.text, "hint: harness.c is the test program"), "%s",
           rep.text);
    spec_report_free(&rep);

    check_code(s, "double *scale(const double *v, size_t v_len, double k, size_t *out_len);\n", NULL, &rep);
    CHECK(!rep.compiled);
    CHECKF(strstr(rep.text, "does not define the function scale"), "%s", rep.text);
    spec_report_free(&rep);

    const char *crash = "#include <stddef.h>\n"
                        "double *scale(const double *v, size_t v_len, double k, size_t *out_len)\n"
                        "{ (void)k; *out_len = v_len; double *p = NULL; p[v_len] = v[0]; return p; }\n";
    check_code(s, crash, NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_CRASH);
    CHECKF(strstr(rep.text, "SIGSEGV"), "%s", rep.text);
    spec_report_free(&rep);

    const char *hang = "#include <stddef.h>\n"
                       "double *scale(const double *v, size_t v_len, double k, size_t *out_len)\n"
                       "{ (void)v; (void)k; (void)out_len; for (volatile size_t i = 0; ; i += v_len) ; }\n";
    check_code(s, hang, NULL, &rep);
    CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_TIMEOUT);
    spec_report_free(&rep);
    spec_free(s);
}

/* Include directories: the code's own include/ and the repository root. */
static void test_include_dirs(void)
{
    char tmpl[] = "/tmp/octet-test-inc-XXXXXX";
    char *root = mkdtemp(tmpl), path[512];
    CHECK(root != NULL);
    if (!root)
        return;
    snprintf(path, sizeof path, "%s/.git", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/include", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/src", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/src/lib", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/include/k.h", root);
    FILE *f = fopen(path, "w");
    fputs("#define K 7\n", f);
    fclose(f);
    char **dirs = NULL;
    size_t n = 0;
    errmsg_t err;
    snprintf(path, sizeof path, "%s/src/lib", root);
    CHECK(spec_include_dirs(path, NULL, 0, &dirs, &n, &err) == 0);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK(strstr(dirs[0], "/src/lib") != NULL);
        CHECK(!strcmp(dirs[1], root));
        CHECK(strstr(dirs[2], "/include") != NULL);
        CHECK(strstr(dirs[3], "/src") != NULL);
    }
    spec_dirs_free(dirs, n);
    const char *bad[] = {"/no/such/dir"};
    CHECK(spec_include_dirs(path, bad, 1, &dirs, &n, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "/no/such/dir") != NULL);

    char *j = mk("c", "[]", "\"int\"", "[{\"input\": [], \"output\": 7}]");
    spec_t *s = parse_ok(j);
    spec_report_t rep;
    if (s) {
        check_code(s, "#include \"k.h\"\nint f(void) { return K; }\n", path, &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

/* Code that writes outside its temporary directory is stopped by Landlock. */
static void test_check_sandboxed(void)
{
    char tmpl[] = "/tmp/octet-test-out-XXXXXX";
    char *dir = mkdtemp(tmpl), code[1024], victim[600];
    CHECK(dir != NULL);
    if (!dir)
        return;
    snprintf(victim, sizeof victim, "%s/pwned", dir);
    spec_t *s = parse_ok(ADD_JSON);
    spec_report_t rep;
    if (s) {
        snprintf(code, sizeof code, "def add(a, b):\n    open('%s', 'w').write('x')\n    return a + b\n", victim);
        check_code(s, code, NULL, &rep);
        CHECK(!rep.passed && rep.outcomes && rep.outcomes[0] == SPEC_ERROR);
        CHECKF(strstr(rep.text, "PermissionError"), "%s", rep.text);
        CHECK(access(victim, F_OK) != 0);
        spec_report_free(&rep);
        /* writing inside the temporary directory is fine */
        check_code(s, "def add(a, b):\n    open('scratch.txt', 'w').write('x')\n    return a + b\n", NULL, &rep);
        CHECKF(rep.passed, "%s", rep.text);
        spec_report_free(&rep);
        spec_free(s);
    }
    char *j = mk("c", "[]", "\"int\"", "[{\"input\": [], \"output\": 0}]");
    if ((s = parse_ok(j))) {
        snprintf(code, sizeof code,
                 "#include <stdio.h>\nint f(void) { FILE *fp = fopen(\"%s\", \"w\"); return fp != NULL; }\n", victim);
        check_code(s, code, NULL, &rep);
        CHECKF(rep.passed, "%s", rep.text); /* fopen returned NULL */
        CHECK(access(victim, F_OK) != 0);
        spec_report_free(&rep);
        spec_free(s);
    }
    free(j);
    rmdir(dir);
}

/* ---- the sandbox directly ------------------------------------------------------------ */

static char *const ENV[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", NULL};

static void test_sandbox_limits(void)
{
    sandbox_t *sb = NULL;
    errmsg_t err = {0};
    CHECKF(sandbox_new(&sb, &err) == 0, "%s", err.msg);
    if (!sb)
        return;
    CHECK(sandbox_confined(sb));
    CHECK(strstr(sandbox_isolation(sb), "Landlock ABI") != NULL);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", sandbox_dir(sb));
    sandbox_limits_t lim = {3, 512};
    sandbox_result_t r;
    /* the limits as the shell reads them (/proc is not readable in the sandbox):
     * file size in 512-byte blocks, address space in KiB, CPU seconds soft and hard */
    char *ulim[] = {"sh", "-c", "ulimit -f; ulimit -v; ulimit -t; ulimit -H -t; ulimit -c", NULL};
    CHECK(sandbox_run(sb, ulim, ENV, &lim, &r, &err) == 0);
    CHECKF(r.output && !strcmp(r.output, "131072\n524288\n4\n5\n0\n"), "%s", r.output ? r.output : "");
    sandbox_result_free(&r);

    /* the working directory is the sandbox; files written there can be read back */
    char *sh[] = {"sh", "-c", "pwd; echo hi > out.txt", NULL};
    CHECK(sandbox_run(sb, sh, ENV, &lim, &r, &err) == 0);
    CHECK(r.output && !strncmp(r.output, dir, strlen(dir)));
    sandbox_result_free(&r);
    char *data = NULL;
    size_t len;
    CHECK(sandbox_read_file(sb, "out.txt", 100, &data, &len, &err) == 0);
    CHECK(data && !strcmp(data, "hi\n"));
    free(data);
    CHECK(sandbox_read_file(sb, "none.txt", 100, &data, &len, &err) == OCT_ENOTFOUND);
    CHECK(sandbox_write_file(sb, "../escape", "x", 1, &err) == OCT_EINVAL);

    /* output beyond SANDBOX_OUTPUT_MAX is dropped, the run still ends */
    char *big[] = {"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x", NULL};
    CHECK(sandbox_run(sb, big, ENV, &lim, &r, &err) == 0);
    CHECK(r.output_len == SANDBOX_OUTPUT_MAX && r.output_truncated && r.status == 0);
    sandbox_result_free(&r);

    char *none[] = {"octet-no-such-program", NULL};
    CHECK(sandbox_run(sb, none, ENV, &lim, &r, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "not found") != NULL);

    /* signals to processes outside the sandbox are refused (Landlock ABI 6) */
    char *kill_parent[] = {"sh", "-c", "kill -TERM $PPID && echo sent", NULL};
    struct sigaction old, ign = {0};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &ign, &old);
    CHECK(sandbox_run(sb, kill_parent, ENV, &lim, &r, &err) == 0);
    sigaction(SIGTERM, &old, NULL);
    CHECKF(r.output && !strstr(r.output, "sent"), "%s", r.output ? r.output : "");
    sandbox_result_free(&r);
    sandbox_free(sb);
    struct stat st;
    CHECK(stat(dir, &st) != 0); /* removed with its contents */
}

/* A hang is killed at the time limit with everything it started. */
static void test_sandbox_timeout(void)
{
    sandbox_t *sb = NULL;
    errmsg_t err = {0};
    CHECK(sandbox_new(&sb, &err) == 0);
    if (!sb)
        return;
    sandbox_limits_t lim = {0.5, 0};
    sandbox_result_t r;
    /* PIDs inside are the sandbox's own: the survivor is looked for by its
     * command line */
    char *sh[] = {"sh", "-c", "sleep 60.2718 & sleep 60", NULL};
    CHECK(sandbox_run(sb, sh, ENV, &lim, &r, &err) == 0);
    CHECK(r.timed_out && r.signaled && r.seconds < 5);
    bool alive = true;
    for (int i = 0; i < 100 && alive; i++) {
        alive = false;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            char path[300], cmd[64] = "", st[300] = "";
            snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            size_t n = fread(cmd, 1, sizeof cmd - 1, f);
            fclose(f);
            if (n < 15 || memcmp(cmd, "sleep\0" "60.2718", 14))
                continue;
            snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
            if ((f = fopen(path, "r"))) {
                if (!fgets(st, sizeof st, f))
                    st[0] = '\0';
                fclose(f);
            }
            const char *rp = strrchr(st, ')');
            if (!rp || rp[2] != 'Z')
                alive = true;
        }
        if (d)
            closedir(d);
        struct timespec ts = {0, 20 * 1000 * 1000};
        if (alive)
            nanosleep(&ts, NULL);
    }
    CHECKF(!alive, "%s", "the background sleep survived");
    char how[200];
    sandbox_describe(&r, &lim, how, sizeof how);
    CHECK_EQ_STR(how, "did not finish within 0.5 s (killed)");
    sandbox_result_free(&r);
    sandbox_free(sb);
}

/* ---- prompts, extraction, the form --------------------------------------------------- */

static void test_prompts(void)
{
    spec_t *s = parse_ok(ADD_JSON);
    if (!s)
        return;
    chat_msg_t msgs[4];
    size_t n;
    errmsg_t err;
    CHECK(spec_prompt_chat(s, "util.py:1-2\n```\ndef helper(): pass\n```", NULL, NULL, msgs, &n, &err) == 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(msgs[0].role == CHAT_ROLE_SYSTEM && strstr(msgs[0].content, "```python"));
        CHECK(msgs[1].role == CHAT_ROLE_USER);
        CHECK(strstr(msgs[1].content, "def add(a: int, b: int) -> int") != NULL);
        CHECK(strstr(msgs[1].content, "Return a + b.") != NULL);
        CHECK(strstr(msgs[1].content, "add(1, 2) == 3") != NULL);
        CHECK(strstr(msgs[1].content, "def helper(): pass") != NULL);
    }
    spec_msgs_free(msgs, n);
    CHECK(spec_prompt_chat(s, NULL, "```python\nbad\n```", "These examples failed: X", msgs, &n, &err) == 0);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK(msgs[2].role == CHAT_ROLE_ASSISTANT && !strcmp(msgs[2].content, "```python\nbad\n```"));
        CHECK(msgs[3].role == CHAT_ROLE_USER && strstr(msgs[3].content, "These examples failed: X"));
        CHECK(!strstr(msgs[1].content, "relevant"));
    }
    spec_msgs_free(msgs, n);

    char *prompt = NULL, *head = NULL;
    CHECK(spec_prompt_completion(s, "ctx line", "it failed", &prompt, &head, &err) == 0);
    CHECK(prompt && head);
    if (prompt && head) {
        CHECK_EQ_STR(head, "def add(a: int, b: int) -> int:\n    \"\"\"Return a + b.\n\n    >>> add(1, 2)\n    3\n"
                           "    >>> add(-4, 4)\n    0\n    \"\"\"\n   ");
        size_t pl = strlen(prompt), hl = strlen(head);
        CHECK(pl > hl && !strcmp(prompt + pl - hl, head));
        CHECK(strstr(prompt, "# ctx line") && strstr(prompt, "# A previous attempt failed:") &&
              strstr(prompt, "# it failed"));
    }
    free(prompt);
    free(head);
    spec_free(s);

    /* a docstring cannot be closed or broken by the spec's texts */
    char *jd = NULL;
    CHECK(asprintf(&jd, "{\"language\": \"python\", \"name\": \"f\", \"description\": \"say \\\"\\\"\\\" \\\\ x\", "
                        "\"inputs\": [{\"name\": \"s\", \"type\": \"string\", \"description\": \"a \\\"q\\\"\"}], "
                        "\"output\": \"string\", \"examples\": [{\"input\": [\"\\\"\\\"\\\"\"], \"output\": \"\\\\\"}]}") > 0);
    if ((s = parse_ok(jd))) {
        spec_report_t rep;
        CHECK(spec_prompt_completion(s, NULL, NULL, &prompt, &head, &err) == 0);
        char *code = NULL;
        CHECK(head && asprintf(&code, "%s return s\n", head) > 0);
        if (code) {
            check_code(s, code, NULL, &rep);
            CHECKF(rep.compiled, "%s\n%s", code, rep.text);
            spec_report_free(&rep);
        }
        free(code);
        free(prompt);
        free(head);
        spec_free(s);
    }
    free(jd);

    /* C: a star-slash in the description cannot end the comment early */
    char *j = mk("c", "[{\"name\": \"x\", \"type\": \"int\"}]", "\"int\"", NULL);
    char *j2 = NULL;
    CHECK(asprintf(&j2, "%.*s\"description\": \"a */ b\"%s", (int)(strstr(j, "\"description\"") - j), j,
                   strstr(j, "\"description\": \"d\"") + strlen("\"description\": \"d\"")) > 0);
    if ((s = parse_ok(j2))) {
        CHECK(spec_prompt_completion(s, NULL, NULL, &prompt, &head, &err) == 0);
        CHECK(prompt && strstr(prompt, "a * / b") && !strstr(prompt, "a */ b"));
        CHECK(head && strstr(head, "#include <stdbool.h>") && strstr(head, "int f(int x)\n{\n"));
        free(prompt);
        free(head);
        spec_free(s);
    }
    free(j);
    free(j2);
}

static void test_extract(void)
{
    spec_t *s = parse_ok(ADD_JSON);
    char *code = NULL;
    errmsg_t err = {0};
    if (!s)
        return;
    CHECK(spec_extract_code(s, "Here:\n```text\nnot it\n```\n```python\ndef add(a, b):\n    return a + b\n```\nDone.",
                            NULL, &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a, b):\n    return a + b\n");
    free(code);
    CHECK(spec_extract_code(s, "```\nimport math\n```\n```py\ndef add(a, b): return a + b\n```", NULL, &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a, b): return a + b\n");
    free(code);
    CHECK(spec_extract_code(s, "```python\ndef add(a, b):\n    return a + b", NULL, &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a, b):\n    return a + b\n"); /* unterminated: to the end */
    free(code);
    CHECK(spec_extract_code(s, "def add(a, b):\n    return a + b\n\n", NULL, &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a, b):\n    return a + b\n");
    free(code);
    CHECK(spec_extract_code(s, "I cannot help with that.", NULL, &code, &err) == OCT_ENOTFOUND);
    CHECK_EQ_STR(err.msg, "the reply has no ```python code block and no definition of add()");
    CHECK(code == NULL);
    CHECK(spec_extract_code(s, "```python\n\n```", NULL, &code, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "empty") != NULL);
    CHECK(!spec_reply_complete(s, "```python\ndef add(a, b):\n", false));
    CHECK(spec_reply_complete(s, "```python\ndef add(a, b):\n    pass\n```", false));

    /* completions: the head plus the body up to the next unindented line */
    const char *head = "def add(a: int, b: int) -> int:\n";
    CHECK(spec_extract_code(s, "    return a + b\n\n\ndef other():\n    pass\n", head, &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a: int, b: int) -> int:\n    return a + b\n\n\n");
    free(code);
    CHECK(spec_extract_code(s, "\nprint(1)\n", head, &code, &err) == OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "no function body") != NULL);
    /* a head ending inside the body's first line: the reply's first line is body */
    CHECK(spec_extract_code(s, " return a\nx = 1\n", "def add(a, b):\n   ", &code, &err) == 0);
    CHECK_EQ_STR(code, "def add(a, b):\n    return a\n");
    free(code);
    CHECK(spec_extract_code(s, "\n\ndef add(a, b):\n", "def add(a, b):\n   ", &code, &err) == OCT_ENOTFOUND);
    CHECK(!spec_reply_complete(s, "    return a", true));
    CHECK(spec_reply_complete(s, "    return a\nx", true));
    spec_free(s);

    char *j = mk("c", "[]", "\"int\"", NULL);
    if ((s = parse_ok(j))) {
        const char *chead = "int f(void)\n{\n";
        CHECK(spec_extract_code(s, "    const char *s = \"}\"; /* } */ // }\n    if (1) { return '}'; }\n}\nint g;",
                                chead, &code, &err) == 0);
        CHECK_EQ_STR(code, "int f(void)\n{\n    const char *s = \"}\"; /* } */ // }\n    if (1) { return '}'; }\n}\n");
        free(code);
        CHECK(spec_extract_code(s, "    return 1;\n", chead, &code, &err) == OCT_ENOTFOUND);
        CHECK(strstr(err.msg, "closing brace") != NULL);
        CHECK(spec_extract_code(s, "```c\nint f(void) { return 1; }\n```", NULL, &code, &err) == 0);
        CHECK_EQ_STR(code, "int f(void) { return 1; }\n");
        free(code);
        CHECK(spec_reply_complete(s, "  return 0;\n}", true));
        CHECK(!spec_reply_complete(s, "  if (x) {\n  }", true));
        spec_free(s);
    }
    free(j);
}

static void test_form(void)
{
    spec_form_t f = {"python", "total", "xs: list[int], scale : double", "double", "Sum xs times scale.",
                     "[1, 2], 2 -> 6\n\n[], 1 -> 0\n"};
    char *json = NULL;
    errmsg_t err = {0};
    CHECKF(spec_form_json(&f, &json, &err) == 0, "%s", err.msg);
    spec_t *s = json ? parse_ok(json) : NULL;
    if (s) {
        CHECK_EQ_INT(s->n_inputs, 2);
        CHECK_EQ_STR(s->inputs[1].name, "scale");
        CHECK(s->inputs[0].type.list && s->inputs[0].type.base == SPEC_T_INT);
        CHECK_EQ_INT(s->n_examples, 2);
        spec_free(s);
    }
    free(json);
    f.inputs = "xs list[int]";
    CHECK(spec_form_json(&f, &json, &err) == OCT_EFORMAT && json == NULL);
    CHECK_EQ_STR(err.msg, "inputs: 'xs list[int]': expected NAME: TYPE");
    f.inputs = "xs: list[int], scale: double";
    f.examples = "[1, 2], 2 -> 6\n[1 2] -> 3\n";
    CHECK(spec_form_json(&f, &json, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "examples line 2: expected ARGS -> OUTPUT") != NULL);
    f.examples = "\"a->b\", 1 -> 2";
    CHECK(spec_form_json(&f, &json, &err) == OCT_EFORMAT); /* parses, but "a->b" is not a list[int] */
    CHECK(strstr(err.msg, "form: examples[0].input[0] (xs): expected a list[int]") != NULL);
    f.examples = "";
    f.inputs = "xs: vector";
    CHECK(spec_form_json(&f, &json, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "form: inputs[0].type: unknown type 'vector'") != NULL);
    f.inputs = "";
    f.name = " ";
    CHECK(spec_form_json(&f, &json, &err) == OCT_EFORMAT);
    CHECK_EQ_STR(err.msg, "name: required");
}

/* ---- the generate-check-retry loop with scripted replies ----------------------------- */

typedef struct script {
    const char *const *replies;
    int calls;
    char last_feedback[2048];
    char last_prompt[2048];
} script_t;

static int scripted(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                    bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply, errmsg_t *err)
{
    script_t *sc = ud;
    (void)done;
    (void)done_ud;
    (void)err;
    sc->last_feedback[0] = '\0';
    if (n == 4)
        snprintf(sc->last_feedback, sizeof sc->last_feedback, "%s", msgs[3].content);
    snprintf(sc->last_prompt, sizeof sc->last_prompt, "%s", prompt ? prompt : "");
    *reply = strdup(sc->replies[sc->calls++]);
    return 0;
}

typedef struct seen {
    int attempts;
    char errors[3][256];
} seen_t;

static void on_attempt(void *ud, int attempt, const char *reply, const char *code, const spec_report_t *rep,
                       const char *error)
{
    seen_t *s = ud;
    (void)reply;
    (void)code;
    (void)rep;
    s->attempts = attempt;
    if (attempt <= 3)
        snprintf(s->errors[attempt - 1], sizeof s->errors[0], "%s", error);
}

static void test_gen_loop(void)
{
    spec_t *s = parse_ok(ADD_JSON);
    if (!s)
        return;
    static const char *const replies[] = {
        "Sure! The sum is easy.",
        "```python\ndef add(a, b):\n    return a - b\n```",
        "```python\ndef add(a, b):\n    return a + b\n```",
    };
    script_t sc = {replies, 0, "", ""};
    seen_t seen = {0};
    spec_check_opts_t co = fast_opts();
    llm_t llm = {true, scripted, &sc};
    spec_gen_opts_t o = {.attempts = 3, .check = true, .check_opts = &co, .on_attempt = on_attempt, .ud = &seen};
    spec_gen_result_t res;
    errmsg_t err = {0};
    CHECKF(spec_gen(s, &llm, &o, &res, &err) == 0, "%s", err.msg);
    CHECK(res.ok && res.attempts == 3 && sc.calls == 3 && seen.attempts == 3);
    CHECK_EQ_STR(res.code, "def add(a, b):\n    return a + b\n");
    CHECK(strstr(seen.errors[0], "no ```python code block") != NULL);
    CHECK(strstr(seen.errors[1], "These examples failed") != NULL);
    CHECK_EQ_STR(seen.errors[2], "");
    /* the third prompt carried the second attempt's failure */
    CHECK(strstr(sc.last_feedback, "That code failed the check") && strstr(sc.last_feedback, "expected: 3") &&
          strstr(sc.last_feedback, "actual:   -1"));
    spec_gen_result_free(&res);

    /* out of attempts: the last failure is reported */
    sc.calls = 0;
    o.attempts = 2;
    CHECK(spec_gen(s, &llm, &o, &res, &err) == 0);
    CHECK(!res.ok && res.attempts == 2 && res.last_error && strstr(res.last_error, "These examples failed"));
    CHECK_EQ_STR(res.code, "def add(a, b):\n    return a - b\n");
    spec_gen_result_free(&res);

    /* without --check the first code found is taken */
    sc.calls = 0;
    o.attempts = 3;
    o.check = false;
    CHECK(spec_gen(s, &llm, &o, &res, &err) == 0);
    CHECK(res.ok && res.attempts == 2);
    spec_gen_result_free(&res);

    /* plain completion: the model continues the def line; the head comes back */
    static const char *const body[] = {" return a + b\n\nprint(add(1, 2))\n"};
    script_t sc2 = {body, 0, "", ""};
    llm_t comp = {false, scripted, &sc2};
    o.check = true;
    o.attempts = 1;
    CHECK(spec_gen(s, &comp, &o, &res, &err) == 0);
    CHECKF(res.ok, "%s", res.last_error ? res.last_error : "");
    CHECK(res.code && strstr(res.code, "    >>> add(-4, 4)\n    0\n    \"\"\"\n    return a + b\n\n"));
    CHECK(strstr(sc2.last_prompt, "def add(a: int, b: int) -> int:\n    \"\"\"Return a + b.") != NULL);
    spec_gen_result_free(&res);
    spec_free(s);
}

int main(void)
{
    TEST_RUN(test_parse_fixture);
    TEST_RUN(test_parse_errors);
    TEST_RUN(test_types_and_signatures);
    TEST_RUN(test_check_python);
    TEST_RUN(test_check_python_hang_crash);
    TEST_RUN(test_check_literals);
    TEST_RUN(test_check_c);
    TEST_RUN(test_include_dirs);
    TEST_RUN(test_check_sandboxed);
    TEST_RUN(test_sandbox_limits);
    TEST_RUN(test_sandbox_timeout);
    TEST_RUN(test_prompts);
    TEST_RUN(test_extract);
    TEST_RUN(test_form);
    TEST_RUN(test_gen_loop);
    TEST_END();
}
