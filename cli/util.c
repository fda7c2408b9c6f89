/* util.c - error reporting and input helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sb.h"
#include "utf8.h"

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
    sbuf_t b = {0};
    int e = sb_read(&b, f);
    *out = NULL;
    *len = 0;
    if (e) {
        sb_free(&b);
        if (e == ENOMEM)
            return errmsg_set(err, OCT_ENOMEM, "out of memory reading input");
        return errmsg_set(err, OCT_EIO, "read error: %s", strerror(e));
    }
    *len = b.n;
    *out = sb_take(&b);
    return *out ? 0 : errmsg_set(err, OCT_ENOMEM, "out of memory reading input");
}

bool cli_confirm(const char *question)
{
    char line[64];
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

void cli_json_str(const char *s)
{
    size_t len = strlen(s), i = 0;
    putchar('"');
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t l;
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
            i++;
        } else if (c < 0x20) {
            printf("\\u%04x", c);
            i++;
        } else if ((l = utf8_seq_len(s + i, len - i, NULL))) {
            fwrite(s + i, 1, l, stdout);
            i += l;
        } else {
            fputs("\\ufffd", stdout);
            i++;
        }
    }
    putchar('"');
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10), mul = 1;
    if (end == s || s[0] == '-' || errno)
        return -1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if (*end || v == 0 || v > SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}
