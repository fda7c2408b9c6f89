/* cmd_logits.c - `octet logits`: feed token ids and print the logits of the
 * last position, one per line (%.9g), for comparisons with other engines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_engine.h"

static void usage(void)
{
    printf("Usage: octet logits [-m FILE] --ids \"ID ID ...\" [OPTIONS]\n\n"
           "Feed the token ids in one batch and print the logits of the last position,\n"
           "one number per line.\n\n"
           "  --ids LIST            token ids separated by spaces or commas\n"
           "  --ids-file FILE       the same read from FILE ('-': stdin), for long prompts\n"
           "  -h, --help            show this help\n\n%s",
           CLI_ENG_HELP);
}

/* Space- or comma-separated ids; usage error on anything else. */
static int parse_ids(const char *s, int32_t **out, size_t *n)
{
    size_t cap = 16, k = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return cli_fail("logits", "out of memory");
    for (const char *p = s;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" ,\t\n", *end))) {
            free(ids);
            return cli_usage("logits", "--ids: '%.20s' is not a token id", p);
        }
        if (k == cap) {
            int32_t *ni = realloc(ids, 2 * cap * sizeof *ids);
            if (!ni) {
                free(ids);
                return cli_fail("logits", "out of memory");
            }
            ids = ni;
            cap *= 2;
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    if (!k) {
        free(ids);
        return cli_usage("logits", "--ids: no token ids given");
    }
    *out = ids;
    *n = k;
    return 0;
}

int cmd_logits(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"ids", required_argument, NULL, CLI_ENG_FIRST_FREE},
        {"ids-file", required_argument, NULL, CLI_ENG_FIRST_FREE + 1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_eng_t ce;
    cli_eng_init(&ce);
    const char *ids_arg = NULL, *ids_file = NULL;
    char *file_text = NULL;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&ce, "logits", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case CLI_ENG_FIRST_FREE:
            ids_arg = optarg;
            break;
        case CLI_ENG_FIRST_FREE + 1:
            ids_file = optarg;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("logits", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("logits", "unexpected argument '%s'", argv[optind]);
    if (!ids_arg == !ids_file)
        return cli_usage("logits", "give the token ids with --ids or --ids-file (one of them)");
    if (ids_file) {
        errmsg_t e;
        size_t len;
        bool std_in = !strcmp(ids_file, "-");
        FILE *f = std_in ? stdin : fopen(ids_file, "rb");
        if (!f)
            return cli_fail("logits", "cannot open %s: %s", ids_file, strerror(errno));
        r = cli_read_all(f, &file_text, &len, &e);
        if (!std_in)
            fclose(f);
        if (r)
            return cli_fail("logits", "%s: %s", ids_file, e.msg);
        ids_arg = file_text;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    r = parse_ids(ids_arg, &ids, &n);
    free(file_text);
    if (r)
        return r;
    if (!ce.ctx_set) {
        ce.opts.n_ctx = (uint32_t)n;
        ce.ctx_set = true;
    }
    eng_model_t *m = NULL;
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    int rc = cli_eng_open("logits", &ce, 0, &m);
    if (rc)
        goto done;
    if (eng_session_new(&s, m, &err) || eng_feed(s, ids, n, &err)) {
        rc = cli_fail_err("logits", &err);
        goto done;
    }
    const float *lg = eng_logits(s);
    for (uint32_t i = 0; i < eng_n_vocab(m); i++)
        printf("%.9g\n", lg[i]);
    if (fflush(stdout) || ferror(stdout))
        rc = cli_fail("logits", "write error on stdout");
done:
    eng_session_free(s);
    eng_close(m);
    free(ids);
    return rc;
}
