/* util.c - error reporting and input helpers shared by the subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "sb.h"
#include "termsafe.h"
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
    return cli_read_max(f, SIZE_MAX - 1, out, len, err);
}

int cli_read_max(FILE *f, size_t max, char **out, size_t *len, errmsg_t *err)
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
        if (n > max) {
            free(buf);
            return errmsg_set(err, OCT_ENOMEM, "larger than %zu bytes: refused", max);
        }
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

int cli_check_regular(const char *path, errmsg_t *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(err, errno == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st))
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = errmsg_set(err, OCT_EINVAL, "%s: not a regular file (%s)", path,
                        S_ISFIFO(st.st_mode)   ? "a FIFO"
                        : S_ISDIR(st.st_mode)  ? "a directory"
                        : S_ISCHR(st.st_mode)  ? "a character device"
                        : S_ISBLK(st.st_mode)  ? "a block device"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                                               : "special");
    close(fd);
    return rc;
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

int cli_check_color(const char *cmd, const char *when)
{
    if (!strcmp(when, "auto") || !strcmp(when, "always") || !strcmp(when, "never"))
        return 0;
    return cli_usage(cmd, "--color must be auto, always or never, not '%s'", when);
}

bool cli_use_color(const char *when)
{
    if (!when)
        when = config_colors_name(config_get()->colors);
    if (!strcmp(when, "always"))
        return true;
    if (!strcmp(when, "never"))
        return false;
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
}

void cli_print_notes(const char *cmd, const char *notes)
{
    for (const char *s = notes; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        fprintf(stderr, "octet %s: %.*s\n", cmd, (int)n, s);
        s += n + (nl != NULL);
    }
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_check_add(const char *cmd, size_t n, size_t max, const char *arg)
{
    if (n == max)
        return cli_usage(cmd, "at most %zu --add", max);
    if (!arg[0])
        return cli_usage(cmd, "--add: give PATH, PATH:START-END or SYMBOL");
    return 0;
}

int cli_apply_patch(const char *cmd, const patch_t *p, const char *repo, bool force, bool commit, const char *subject,
                    const char *summary)
{
    char *record = NULL, *msg = NULL, *id = NULL;
    errmsg_t err = {0};
    if (patch_apply(p, repo, force, &record, &err))
        return cli_fail_err(cmd, &err);
    printf("applied (undo record %s; 'octet undo' restores the previous contents)\n", record);
    int rc = CLI_EXIT_OK;
    if (commit) {
        if (asprintf(&msg, "octet %s: %s\n\n%s\n", cmd, subject, summary) < 0 ||
            patch_commit(repo, record, msg, &id, &err))
            rc = msg ? cli_fail_err(cmd, &err) : cli_fail(cmd, "out of memory");
        else
            printf("committed as %.12s\n", id);
    }
    free(msg);
    free(id);
    free(record);
    return rc;
}

void cli_put_notes(const char *notes)
{
    char *safe = notes ? termsafe_str(notes, strlen(notes)) : NULL;
    if (safe)
        fputs(safe, stdout);
    free(safe);
}
