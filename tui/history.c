/* history.c - the input history file (see history.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "history.h"

void tui_hist_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    buf[0] = '\0';
    if (xdg && xdg[0] == '/')
        snprintf(buf, n, "%s/octet/history", xdg);
    else if (home && home[0])
        snprintf(buf, n, "%s/.local/state/octet/history", home);
}

char *tui_hist_escape(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *d = malloc(2 * n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            d[o++] = '\\';
            d[o++] = 'n';
        } else if (s[i] == '\\') {
            d[o++] = '\\';
            d[o++] = '\\';
        } else if (s[i] == '\r') {
            d[o++] = '\\';
            d[o++] = 'r';
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

char *tui_hist_unescape(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[++i];
            d[o++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

void tui_hist_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int mkdirs(const char *path, errmsg_t *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return errmsg_set(err, OCT_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return errmsg_set(err, OCT_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        *p = '/';
    }
    return 0;
}

static int rewrite(const char *path, char **v, size_t n, errmsg_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        char *e = tui_hist_escape(v[i]);
        bad = !e || fprintf(f, "%s\n", e) < 0;
        free(e);
    }
    if (fclose(f) || bad || rename(tmp, path)) {
        remove(tmp);
        return errmsg_set(err, OCT_EIO, "%s: cannot rewrite the history", path);
    }
    return 0;
}

int tui_hist_load(const char *path, size_t max, char ***out, size_t *n_out, errmsg_t *err)
{
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* a ring of the newest MAX lines */
    char **ring = calloc(max ? max : 1, sizeof *ring);
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    int rc = 0;
    if (!ring) {
        fclose(f);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (!len || !max)
            continue;
        char *e = tui_hist_unescape(line);
        if (!e) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            break;
        }
        free(ring[total % max]);
        ring[total % max] = e;
        total++;
    }
    free(line);
    fclose(f);
    size_t n = total < max ? total : max;
    char **v = malloc((n ? n : 1) * sizeof *v);
    if (rc == 0 && !v)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (rc) {
        for (size_t i = 0; i < max; i++)
            free(ring[i]);
        free(ring);
        free(v);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = ring[(total - n + i) % max];
    free(ring);
    if (total > 2 * max && max)
        rc = rewrite(path, v, n, err);
    *out = v;
    *n_out = n;
    return rc;
}

int tui_hist_append(const char *path, const char *entry, errmsg_t *err)
{
    int rc = mkdirs(path, err);
    if (rc)
        return rc;
    char *e = tui_hist_escape(entry);
    if (!e)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    FILE *f = fopen(path, "a");
    if (!f) {
        free(e);
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    int bad = fprintf(f, "%s\n", e) < 0;
    bad |= fclose(f) != 0;
    free(e);
    return bad ? errmsg_set(err, OCT_EIO, "%s: write error", path) : 0;
}
