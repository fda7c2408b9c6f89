/* util.c - error reporting and input helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "octet %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'octet %s --help' for more information.\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "octet %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_fail_err(const char *cmd, const errmsg_t *err)
{
    return cli_fail(cmd, "%s", err && err->msg[0] ? err->msg : "unknown error");
}

int cli_read_all(FILE *f, char **out, size_t *len, errmsg_t *err)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    *out = NULL;
    *len = 0;
    if (!buf)
        return errmsg_set(err, OCT_ENOMEM, "out of memory reading input");
    for (;;) {
        if (cap - n < 2) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return errmsg_set(err, OCT_ENOMEM, "out of memory reading input");
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(buf);
                return errmsg_set(err, OCT_EIO, "read error: %s", strerror(errno));
            }
            break;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
