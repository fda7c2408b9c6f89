/* cmd_check.c - `octet check`: verify code against a spec file: compile it,
 * run every example in a sandbox with a time limit, report each result.
 * Exit 0 only when the code compiles and every example passes. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_engine.h"
#include "spec.h"
#include "termsafe.h"

#define CHECK_MAX_INCLUDES 64

static const char USAGE[] =
    "Usage: octet check --spec FILE --code FILE [--timeout SECONDS] [--mem MB]\n"
    "                   [-I DIR]... [--cc COMPILER] [--python INTERPRETER] [--harness]\n"
    "                   [--unsafe-sandbox] [-v]\n"
    "\n"
    "Check code against a spec (see docs/specs.md): compile it (Python: byte-compile;\n"
    "C: the system compiler with the repository's include directories), then run each\n"
    "example of the spec as a test, each in a fresh process in a temporary directory\n"
    "with a time limit and resource limits, in new user, PID, network, mount and IPC\n"
    "namespaces, without capabilities or sockets (seccomp), reading only the toolchain\n"
    "and the include directories and writing only its directory (Landlock); nothing it\n"
    "starts outlives the run. Hangs and crashes count as failures.\n"
    "\n"
    "  --spec FILE        the spec (JSON)\n"
    "  --code FILE        the code to check ('-': standard input)\n"
    "  --timeout SECONDS  time limit of each example run (default 5; decimals allowed)\n"
    "  --mem MB           address-space limit of each run (default 2048)\n"
    "  -I, --include DIR  another include directory for C (repeatable); the code's\n"
    "                     directory, its include/ and ../include/, and the repository\n"
    "                     root with its include/ and src/ are always used\n"
    "  --cc COMPILER      C compiler (default cc)\n"
    "  --python INTERP    Python interpreter (default python3)\n"
    "  --harness          print the test program octet would run, and exit\n"
    "  --unsafe-sandbox   run the code even when the kernel refuses a layer of the\n"
    "                     sandbox (no unprivileged user namespaces, no Landlock...);\n"
    "                     without it the check names the missing layer and refuses\n"
    "  -v, --verbose      say how the runs are isolated\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 all examples pass, 1 a failure (or the check could not run), 2 usage.\n";

enum { OPT_SPEC = 1000, OPT_CODE, OPT_TIMEOUT, OPT_MEM, OPT_CC, OPT_PYTHON, OPT_HARNESS, OPT_UNSAFE_SANDBOX };

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"spec", required_argument, NULL, OPT_SPEC},       {"code", required_argument, NULL, OPT_CODE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT}, {"mem", required_argument, NULL, OPT_MEM},
        {"include", required_argument, NULL, 'I'},         {"cc", required_argument, NULL, OPT_CC},
        {"python", required_argument, NULL, OPT_PYTHON},   {"harness", no_argument, NULL, OPT_HARNESS},
        {"verbose", no_argument, NULL, 'v'},               {"help", no_argument, NULL, 'h'},
        {"unsafe-sandbox", no_argument, NULL, OPT_UNSAFE_SANDBOX},
        {NULL, 0, NULL, 0},
    };
    const char *spec_path = NULL, *code_path = NULL, *includes[CHECK_MAX_INCLUDES];
    size_t n_inc = 0;
    bool verbose = false, show_harness = false;
    spec_check_opts_t co;
    spec_check_opts_default(&co);
    double d;
    long v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "I:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_SPEC:
            spec_path = optarg;
            break;
        case OPT_CODE:
            code_path = optarg;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_float("check", "--timeout", optarg, 0.05, 86400, &d))
                return CLI_EXIT_USAGE;
            co.timeout_s = d;
            break;
        case OPT_MEM:
            if (cli_parse_long("check", "--mem", optarg, 64, 1L << 20, &v))
                return CLI_EXIT_USAGE;
            co.mem_mb = v;
            break;
        case 'I':
            if (n_inc == CHECK_MAX_INCLUDES)
                return cli_usage("check", "at most %d include directories", CHECK_MAX_INCLUDES);
            includes[n_inc++] = optarg;
            break;
        case OPT_CC:
            co.cc = optarg;
            break;
        case OPT_PYTHON:
            co.python = optarg;
            break;
        case OPT_HARNESS:
            show_harness = true;
            break;
        case OPT_UNSAFE_SANDBOX:
            co.unsafe_sandbox = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage("check", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("check", "unexpected argument '%s'", argv[optind]);
    if (!spec_path)
        return cli_usage("check", "no spec given: use --spec FILE");
    if (!code_path && !show_harness)
        return cli_usage("check", "no code given: use --code FILE");
    co.include_dirs = includes;
    co.n_include_dirs = n_inc;

    spec_t *s = NULL;
    char *code = NULL, *harness = NULL;
    size_t len = 0;
    spec_report_t rep = {0};
    errmsg_t err = {0};
    int rc;
    if (spec_load(&s, spec_path, &err)) {
        rc = cli_fail_err("check", &err);
        goto done;
    }
    if (show_harness) {
        char *paths[] = {"."};
        if (spec_harness(s, paths, 1, &harness, &err)) {
            rc = cli_fail_err("check", &err);
            goto done;
        }
        fputs(harness, stdout);
        rc = CLI_EXIT_OK;
        goto done;
    }
    bool from_stdin = !strcmp(code_path, "-");
    FILE *f = from_stdin ? stdin : fopen(code_path, "rb");
    if (!f) {
        rc = cli_fail("check", "%s: cannot open", code_path);
        goto done;
    }
    rc = cli_read_all(f, &code, &len, &err);
    if (!from_stdin)
        fclose(f);
    if (rc) {
        rc = cli_fail("check", "%s: %s", code_path, err.msg);
        goto done;
    }
    /* include paths and Python imports start at the code's directory; a
     * file's absolute path lets Python tracebacks show its lines */
    char dir_buf[PATH_MAX], abs_path[PATH_MAX];
    const char *code_dir = ".", *display = from_stdin ? (s->lang == SPEC_LANG_C ? "stdin.c" : "stdin.py") : code_path;
    if (!from_stdin) {
        snprintf(dir_buf, sizeof dir_buf, "%s", code_path);
        code_dir = dirname(dir_buf);
        if (s->lang == SPEC_LANG_PYTHON && realpath(code_path, abs_path))
            display = abs_path;
    }
    if (spec_check(s, code, len, code_dir, display, &co, &rep, &err)) {
        rc = cli_fail_err("check", &err);
        goto done;
    }
    if (!rep.confined)
        fprintf(stderr, "octet check: warning: %s\n", rep.isolation);
    else if (verbose)
        fprintf(stderr, "octet check: isolation: %s\n", rep.isolation);
    /* the report quotes the program's output: untrusted */
    termsafe_write(stdout, rep.text, strlen(rep.text));
    rc = rep.passed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
done:
    spec_report_free(&rep);
    free(harness);
    free(code);
    spec_free(s);
    return rc;
}
