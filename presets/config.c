/* config.c - the user's settings file (see config.h): `key = value` lines,
 * each bad one reported and skipped rather than refused, because a typo in
 * a file the user may have forgotten must not keep octet from starting. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "sb.h"

#define CONFIG_MAX_FILE (64 * 1024)
#define KEYS "preset, model, large_model, backend, commit, colors"

void config_user_path(const char *name, char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    buf[0] = '\0';
    if (xdg && xdg[0] == '/')
        snprintf(buf, n, "%s/octet/%s", xdg, name);
    else if (home && home[0])
        snprintf(buf, n, "%s/.config/octet/%s", home, name);
}

void config_path(char *buf, size_t n)
{
    config_user_path("config", buf, n);
}

const char *config_colors_name(config_colors_t c)
{
    return c == CONFIG_COLORS_ALWAYS ? "always" : c == CONFIG_COLORS_NEVER ? "never" : "auto";
}

static void defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    c->colors = CONFIG_COLORS_AUTO;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* VALUE as a path: ~/ is the home directory, a relative path is taken from
 * the settings file's directory (so the file means the same from any
 * working directory). False, with WHY, when it does not fit or is not a
 * readable file. */
static bool resolve_path(const char *value, const char *file, char *out, size_t n, const char **why)
{
    const char *home = getenv("HOME");
    int w;
    if (value[0] == '~' && (value[1] == '/' || !value[1])) {
        if (!home || !home[0]) {
            *why = "~ used but HOME is not set";
            return false;
        }
        w = snprintf(out, n, "%s%s", home, value + 1);
    } else if (value[0] == '/') {
        w = snprintf(out, n, "%s", value);
    } else {
        const char *slash = strrchr(file, '/');
        int dir = slash ? (int)(slash - file) : 1;
        w = snprintf(out, n, "%.*s/%s", dir, slash ? file : ".", value);
    }
    if (w < 0 || (size_t)w >= n) {
        *why = "path too long";
        return false;
    }
    struct stat st;
    if (stat(out, &st)) {
        *why = errno == ENOENT ? "no such file" : strerror(errno);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        return false;
    }
    if (access(out, R_OK)) {
        *why = "not readable";
        return false;
    }
    return true;
}

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return -1;
}

static bool valid_preset_name(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= PRESET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.')
            return false;
    return true;
}

/* One `key = value` line (already without its comment): set C, or say in
 * NOTES what is wrong with it. */
static void parse_line(config_t *c, const char *file, int line, char *key, char *value, sbuf_t *notes)
{
    const char *why = NULL;
    char path[PRESET_PATH_MAX];
    if (!strcmp(key, "preset")) {
        if (valid_preset_name(value))
            snprintf(c->preset, sizeof c->preset, "%s", value);
        else
            sb_addf(notes, "%s:%d: preset '%.80s' is not a preset name (letters, digits, _ - .)", file, line,
                    value);
    } else if (!strcmp(key, "model") || !strcmp(key, "large_model")) {
        if (!value[0])
            sb_addf(notes, "%s:%d: %s has no value", file, line, key);
        else if (!resolve_path(value, file, path, sizeof path, &why))
            sb_addf(notes, "%s:%d: %s '%.200s': %s", file, line, key, value, why);
        else
            snprintf(key[0] == 'm' ? c->model : c->large_model, sizeof c->model, "%s", path);
    } else if (!strcmp(key, "backend")) {
        preset_t scratch;
        errmsg_t e = {0};
        preset_defaults(&scratch);
        if (preset_set_backend(&scratch, value, &e))
            sb_addf(notes, "%s:%d: backend: %s", file, line, e.msg);
        else
            snprintf(c->backend, sizeof c->backend, "%s", value);
    } else if (!strcmp(key, "commit")) {
        int b = parse_bool(value);
        if (b < 0)
            sb_addf(notes, "%s:%d: commit '%.80s' is not true or false", file, line, value);
        else
            c->commit = b;
    } else if (!strcmp(key, "colors") || !strcmp(key, "color")) {
        if (!strcmp(value, "auto"))
            c->colors = CONFIG_COLORS_AUTO;
        else if (!strcmp(value, "always"))
            c->colors = CONFIG_COLORS_ALWAYS;
        else if (!strcmp(value, "never"))
            c->colors = CONFIG_COLORS_NEVER;
        else
            sb_addf(notes, "%s:%d: colors '%.80s' is not auto, always or never", file, line, value);
    } else {
        sb_addf(notes, "%s:%d: unknown setting '%.80s' (settings: " KEYS ")", file, line, key);
    }
    if (notes->n && notes->s[notes->n - 1] != '\n')
        sb_add(notes, " (line skipped)\n");
}

int config_parse(const char *text, size_t len, const char *file, config_t *out, errmsg_t *err)
{
    defaults(out);
    snprintf(out->file, sizeof out->file, "%s", file);
    sbuf_t notes = {0};
    char buf[1024];
    size_t pos = 0;
    for (int line = 1; pos < len; line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = (nl ? (size_t)(nl - text) : len) - pos;
        const char *src = text + pos;
        pos += n + (nl != NULL);
        if (memchr(src, '\0', n)) {
            sb_addf(&notes, "%s:%d: a NUL byte: not text (line skipped)\n", file, line);
            continue;
        }
        if (n >= sizeof buf) {
            sb_addf(&notes, "%s:%d: longer than %zu bytes (line skipped)\n", file, line, sizeof buf - 1);
            continue;
        }
        memcpy(buf, src, n);
        buf[n] = '\0';
        /* a comment starts with # at the beginning or after a blank, so a
         * path or URL may hold one */
        for (char *h = buf; (h = strchr(h, '#')) != NULL; h++)
            if (h == buf || isspace((unsigned char)h[-1])) {
                *h = '\0';
                break;
            }
        char *s = trim(buf, buf + strlen(buf));
        if (!s[0])
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            sb_addf(&notes, "%s:%d: '%.80s' is not 'key = value' (line skipped)\n", file, line, s);
            continue;
        }
        char *key = trim(s, eq), *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        for (char *k = key; *k; k++)
            *k = *k == '-' ? '_' : (char)tolower((unsigned char)*k);
        parse_line(out, file, line, key, value, &notes);
    }
    if (notes.oom || (notes.n && !(out->notes = sb_take(&notes)))) {
        sb_free(&notes);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    sb_free(&notes);
    return 0;
}

int config_load(const char *path, config_t *out, errmsg_t *err)
{
    char def[PRESET_PATH_MAX];
    if (!path) {
        config_path(def, sizeof def);
        path = def;
    }
    defaults(out);
    if (!path[0])
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        sbuf_t b = {0};
        sb_addf(&b, "%s: cannot read: %s (settings file skipped)\n", path, strerror(errno));
        out->notes = sb_take(&b);
        return out->notes ? 0 : errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    char *text = malloc(CONFIG_MAX_FILE + 1);
    if (!text) {
        fclose(f);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    size_t n = fread(text, 1, CONFIG_MAX_FILE + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > CONFIG_MAX_FILE) {
        free(text);
        sbuf_t b = {0};
        sb_addf(&b, "%s: %s (settings file skipped)\n", path,
                bad ? "cannot read it (a directory?)" : "larger than 64 KiB: not a settings file");
        out->notes = sb_take(&b);
        return out->notes ? 0 : errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    int rc = config_parse(text, n, path, out, err);
    free(text);
    return rc;
}

void config_free(config_t *c)
{
    free(c->notes);
    c->notes = NULL;
}

static config_t g_config;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void load_once(void)
{
    errmsg_t err = {0};
    if (config_load(NULL, &g_config, &err))
        defaults(&g_config);
}

const config_t *config_get(void)
{
    pthread_once(&g_once, load_once);
    return &g_config;
}
