/* preset.c - preset files: parsing with FILE:LINE errors, the shipped and
 * user directories, memory plans and the `auto` choice (see preset.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "config.h"
#include "preset.h"
#include "sb.h"

#define MAX_PRESET_BYTES (64 * 1024)
#define MAX_CTX (1u << 24)
#define ENGINE_BATCH 256 /* the engine's default prefill batch (engine.c) */

void preset_defaults(preset_t *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->model, sizeof p->model, "default");
    p->ctx = 32768;
    p->wfmt = PRESET_W_INT8;
    p->alpha = 0.5f;
    p->kvfmt = ENG_KV_INT8;
    snprintf(p->backend, sizeof p->backend, "auto");
    p->retrieval = true;
    p->top_k = 5;
    p->token_budget = 4096;
    p->temperature = 0.2f;
    p->top_p = 0.95f;
    p->max_new_tokens = 1024;
}

static const char *const WFMT_NAMES[] = {"int8", "q8_0", "smoothquant", "f16", "f32"};

const char *preset_wfmt_name(preset_wfmt_t f)
{
    return (unsigned)f < 5 ? WFMT_NAMES[f] : "?";
}

/* Length of the scheme prefix of a remote backend URL, 0 when V is not one. */
static size_t url_scheme(const char *v)
{
    return !strncmp(v, "http://", 7) ? 7 : !strncmp(v, "https://", 8) ? 8 : 0;
}

int preset_set_backend(preset_t *p, const char *v, errmsg_t *err)
{
    size_t sl = url_scheme(v);
    if (!sl) {
        if (strcmp(v, "auto") && strcmp(v, "cpu") && strcmp(v, "cuda"))
            return errmsg_set(err, OCT_EINVAL,
                              "unknown backend '%.200s' (use auto, cpu, cuda or the http:// or https:// URL of "
                              "an OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1)",
                              v);
    } else {
        if (strlen(v) >= sizeof p->backend)
            return errmsg_set(err, OCT_EINVAL, "backend URL too long (at most %zu bytes)", sizeof p->backend - 1);
        for (const char *q = v; *q; q++)
            if ((unsigned char)*q <= ' ' || *q == 0x7f)
                return errmsg_set(err, OCT_EINVAL, "backend URL '%.200s' contains a space or control character",
                                  v);
        const char *host = v + sl;
        size_t alen = strcspn(host, "/?#");
        const char *at = memchr(host, '@', alen);
        if (at) {
            alen -= (size_t)(at + 1 - host);
            host = at + 1;
        }
        if (memchr(host, '@', alen))
            return errmsg_set(err, OCT_EINVAL, "backend URL '%.200s' has two '@' before its path (write an '@' of "
                              "a password as %%40)", v);
        if (!host[0] || host[0] == '/' || host[0] == ':' || host[0] == '?' || host[0] == '#')
            return errmsg_set(err, OCT_EINVAL, "backend URL '%.200s' has no host (e.g. http://127.0.0.1:8080/v1)",
                              v);
    }
    snprintf(p->backend, sizeof p->backend, "%s", v);
    return 0;
}

bool preset_is_remote(const preset_t *p)
{
    return url_scheme(p->backend) != 0;
}

void preset_backend_host(const char *url, char *buf, size_t n)
{
    const char *h = url + url_scheme(url);
    size_t len = strcspn(h, "/?#");
    const char *at = memchr(h, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    snprintf(buf, n, "%.*s", (int)len, h);
}

/* ---- parsing ------------------------------------------------------------- */

enum { SEC_NONE, SEC_PRESET, SEC_MODEL, SEC_RETRIEVAL, SEC_GENERATION };
static const char *const SECTIONS[] = {"", "preset", "model", "retrieval", "generation"};

typedef enum ftype { F_STR, F_PATH, F_INT, F_CTX, F_FLOAT, F_BOOL, F_WFMT, F_KVFMT, F_BACKEND, F_SEED } ftype_t;

typedef struct field {
    int sec;
    const char *key;
    ftype_t type;
    double lo, hi;
    size_t off;  /* into preset_t */
    size_t size; /* of a string field */
} field_t;

#define FLD(sec, key, type, lo, hi, member) \
    {sec, key, type, lo, hi, offsetof(preset_t, member), sizeof(((preset_t *)0)->member)}

static const field_t FIELDS[] = {
    FLD(SEC_PRESET, "description", F_STR, 0, 0, description),
    FLD(SEC_PRESET, "priority", F_INT, -1000, 1000, priority),
    FLD(SEC_MODEL, "path", F_PATH, 0, 0, model),
    FLD(SEC_MODEL, "context", F_CTX, 16, MAX_CTX, ctx),
    FLD(SEC_MODEL, "weights", F_WFMT, 0, 0, wfmt),
    FLD(SEC_MODEL, "alpha", F_FLOAT, 0, 1, alpha),
    FLD(SEC_MODEL, "calib", F_PATH, 0, 0, calib),
    FLD(SEC_MODEL, "kv", F_KVFMT, 0, 0, kvfmt),
    FLD(SEC_MODEL, "threads", F_INT, 0, 1024, threads),
    FLD(SEC_MODEL, "backend", F_BACKEND, 0, 0, backend),
    FLD(SEC_RETRIEVAL, "enabled", F_BOOL, 0, 0, retrieval),
    FLD(SEC_RETRIEVAL, "top_k", F_INT, 1, 100, top_k),
    FLD(SEC_RETRIEVAL, "token_budget", F_CTX, 0, 1 << 20, token_budget),
    FLD(SEC_GENERATION, "temperature", F_FLOAT, 0, 5, temperature),
    FLD(SEC_GENERATION, "top_p", F_FLOAT, 0.001, 1, top_p),
    FLD(SEC_GENERATION, "max_new_tokens", F_CTX, 1, MAX_CTX, max_new_tokens),
    FLD(SEC_GENERATION, "seed", F_SEED, 0, 0, seed),
    FLD(SEC_GENERATION, "system", F_STR, 0, 0, system),
};
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

typedef struct pctx {
    const char *file;
    int line;
    const field_t *f;
    errmsg_t *err;
} pctx_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int perr(const pctx_t *c, const char *fmt, ...)
{
    char msg[ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->f)
        return errmsg_set(c->err, OCT_EFORMAT, "%s:%d: field '%s.%s': %s", c->file, c->line,
                          SECTIONS[c->f->sec], c->f->key, msg);
    return errmsg_set(c->err, OCT_EFORMAT, "%s:%d: %s", c->file, c->line, msg);
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false", "no", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Directory part of FILE (with the trailing '/'), "" for a bare name. */
static void dir_of(const char *file, char *buf, size_t n)
{
    const char *slash = strrchr(file, '/');
    size_t len = slash ? (size_t)(slash - file) + 1 : 0;
    if (len >= n)
        len = n - 1;
    memcpy(buf, file, len);
    buf[len] = '\0';
}

static int set_path(const pctx_t *c, const char *v, char *dst, size_t size)
{
    char dir[PRESET_PATH_MAX];
    int n;
    if (!strcmp(v, "default") || !strcmp(v, "large") || v[0] == '/' ||
        (c->f->off == offsetof(preset_t, calib) && !v[0])) {
        n = snprintf(dst, size, "%s", v);
    } else if (v[0] == '~' && (v[1] == '/' || !v[1])) {
        const char *home = getenv("HOME");
        if (!home || !home[0])
            return perr(c, "'%s' starts with ~ but HOME is not set", v);
        n = snprintf(dst, size, "%s%s", home, v + 1);
    } else if (!v[0]) {
        return perr(c, "empty path (use default, large or a file)");
    } else {
        dir_of(c->file, dir, sizeof dir);
        n = snprintf(dst, size, "%s%s", dir, v);
    }
    if (n < 0 || (size_t)n >= size)
        return perr(c, "path too long (at most %zu bytes)", size - 1);
    return 0;
}

static int set_field(const pctx_t *c, preset_t *p, const char *v)
{
    const field_t *f = c->f;
    char *base = (char *)p + f->off;
    char *end;
    errno = 0;
    switch (f->type) {
    case F_STR:
        if (strlen(v) >= f->size)
            return perr(c, "text too long (at most %zu bytes)", f->size - 1);
        memcpy(base, v, strlen(v) + 1);
        return 0;
    case F_PATH:
        return set_path(c, v, base, f->size);
    case F_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < f->lo || x > f->hi)
            return perr(c, "'%s' is not a whole number in %.0f..%.0f", v, f->lo, f->hi);
        *(int *)base = (int)x;
        return 0;
    }
    case F_CTX: {
        unsigned long long x = strtoull(v, &end, 10);
        if (!errno && end != v && (*end == 'k' || *end == 'K') && !end[1]) {
            if (x > ULLONG_MAX / 1024)
                errno = ERANGE;
            x *= 1024;
            end++;
        }
        if (errno || end == v || *end || v[0] == '-' || (double)x < f->lo || (double)x > f->hi)
            return perr(c, "'%s' is not a whole number in %.0f..%.0f (a K suffix multiplies by 1024)", v,
                        f->lo, f->hi);
        *(uint32_t *)base = (uint32_t)x;
        return 0;
    }
    case F_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || x < f->lo || x > f->hi)
            return perr(c, "'%s' is not a number in %g..%g", v, f->lo, f->hi);
        *(float *)base = (float)x;
        return 0;
    }
    case F_BOOL:
        if (parse_bool(v, (bool *)base))
            return perr(c, "'%s' is not on/off (or true/false, yes/no, 1/0)", v);
        return 0;
    case F_WFMT:
        for (int i = 0; i < 5; i++)
            if (!strcmp(v, WFMT_NAMES[i])) {
                *(preset_wfmt_t *)base = (preset_wfmt_t)i;
                return 0;
            }
        return perr(c, "unknown weight format '%s' (use int8, q8_0, smoothquant, f16 or f32)", v);
    case F_KVFMT: {
        errmsg_t e;
        if (eng_kvfmt_parse(v, (eng_kvfmt_t *)base, &e))
            return perr(c, "%s", e.msg);
        return 0;
    }
    case F_BACKEND: {
        errmsg_t e;
        if (preset_set_backend(p, v, &e))
            return perr(c, "%s", e.msg);
        return 0;
    }
    case F_SEED: {
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-')
            return perr(c, "'%s' is not a whole number (0: a new seed for every answer)", v);
        *(uint64_t *)base = (uint64_t)x;
        return 0;
    }
    }
    return perr(c, "internal: unknown field type");
}

static char *trim(char *s, char *e)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return s;
}

static bool valid_name(const char *name)
{
    if (!name[0] || strlen(name) >= PRESET_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

int preset_parse(const char *text, size_t len, const char *file, const char *name, preset_t *out,
                 errmsg_t *err)
{
    pctx_t c = {file, 0, NULL, err};
    int seen[N_FIELDS] = {0}, alpha_line = 0, calib_line = 0;
    int sec = SEC_NONE, rc = 0;
    preset_t p;
    preset_defaults(&p);
    if (!valid_name(name))
        return errmsg_set(err, OCT_EFORMAT, "%s: '%s' is not a preset name (letters, digits, '_', '-', '.')",
                          file, name);
    if (!strcmp(name, PRESET_AUTO))
        return errmsg_set(err, OCT_EFORMAT, "%s: the name 'auto' is reserved for the automatic choice", file);
    snprintf(p.name, sizeof p.name, "%s", name);
    if (strlen(file) >= sizeof p.file)
        return errmsg_set(err, OCT_EFORMAT, "%s: path too long", file);
    snprintf(p.file, sizeof p.file, "%s", file);
    if (len > MAX_PRESET_BYTES)
        return errmsg_set(err, OCT_EFORMAT, "%s: %zu bytes is too large for a preset (at most %d)", file, len,
                          MAX_PRESET_BYTES);
    char *buf = malloc(len + 1);
    if (!buf)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *s = buf, *end = buf + len;
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3; /* a byte order mark from a Windows editor */
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *le = nl ? nl : end;
        c.line++;
        c.f = NULL;
        if (memchr(s, '\0', (size_t)(le - s))) {
            rc = perr(&c, "NUL byte: this is not a text file");
            goto fail;
        }
        char *l = trim(s, le);
        s = nl ? nl + 1 : end;
        if (!l[0] || l[0] == '#' || l[0] == ';')
            continue;
        if (l[0] == '[') {
            char *close = strchr(l, ']');
            if (!close || close[1]) {
                rc = perr(&c, "malformed section header '%s' (expected [name])", l);
                goto fail;
            }
            char *nm = trim(l + 1, close);
            sec = SEC_NONE;
            for (int i = 1; i < 5; i++)
                if (!strcmp(nm, SECTIONS[i]))
                    sec = i;
            if (sec == SEC_NONE) {
                rc = perr(&c, "unknown section [%s] (expected [preset], [model], [retrieval] or [generation])",
                          nm);
                goto fail;
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = perr(&c, "expected 'field = value' or '[section]', found '%s'", l);
            goto fail;
        }
        char *key = trim(l, eq);
        char *val = eq + 1;
        /* an inline comment starts with # or ; after white space */
        for (char *q = val; *q; q++)
            if ((*q == '#' || *q == ';') && q > val && isspace((unsigned char)q[-1])) {
                *q = '\0';
                break;
            }
        val = trim(val, val + strlen(val));
        if (sec == SEC_NONE) {
            rc = perr(&c, "field '%s' comes before any [section]", key);
            goto fail;
        }
        size_t fi = 0;
        while (fi < N_FIELDS && !(FIELDS[fi].sec == sec && !strcmp(FIELDS[fi].key, key)))
            fi++;
        if (fi == N_FIELDS) {
            char known[256] = "";
            size_t o = 0;
            for (size_t k = 0; k < N_FIELDS; k++)
                if (FIELDS[k].sec == sec && o < sizeof known)
                    o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "", FIELDS[k].key);
            rc = perr(&c, "unknown field '%s' in [%s] (known: %s)", key, SECTIONS[sec], known);
            goto fail;
        }
        c.f = &FIELDS[fi];
        if (seen[fi]) {
            rc = perr(&c, "given twice (first on line %d)", seen[fi]);
            goto fail;
        }
        seen[fi] = c.line;
        if ((rc = set_field(&c, &p, val)))
            goto fail;
        if (!strcmp(key, "alpha"))
            alpha_line = c.line;
        if (!strcmp(key, "calib"))
            calib_line = c.line;
    }
    if (p.wfmt != PRESET_W_SMOOTHQUANT && (alpha_line || calib_line)) {
        c.line = alpha_line ? alpha_line : calib_line;
        for (size_t k = 0; k < N_FIELDS; k++)
            if (!strcmp(FIELDS[k].key, alpha_line ? "alpha" : "calib"))
                c.f = &FIELDS[k];
        rc = perr(&c, "applies to weights = smoothquant only (weights is %s)", preset_wfmt_name(p.wfmt));
        goto fail;
    }
    *out = p;
fail:
    free(buf);
    return rc;
}

int preset_load_file(const char *path, preset_t *out, errmsg_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(MAX_PRESET_BYTES + 1);
    if (!buf) {
        fclose(f);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, MAX_PRESET_BYTES + 1, f);
    bool bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        rc = errmsg_set(err, OCT_EIO, "%s: read error", path);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        char name[PRESET_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s", base);
        size_t nl = strlen(name);
        if (nl > 4 && !strcmp(name + nl - 4, ".ini"))
            name[nl - 4] = '\0';
        rc = preset_parse(buf, n, path, name, out, err);
        if (rc == 0)
            out->user = false;
    }
    free(buf);
    return rc;
}

/* ---- lists --------------------------------------------------------------- */

static int cmp_preset(const void *a, const void *b)
{
    const preset_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, bool user, preset_list_t *l, sbuf_t *notes, errmsg_t *err)
{
    DIR *d;
    if (!dir || !dir[0] || !(d = opendir(dir)))
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".ini") || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto done;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str); /* the same order on every file system */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PRESET_PATH_MAX];
        preset_t p;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path) {
            rc = errmsg_set(err, OCT_EINVAL, "%s/%s: path too long", dir, names[i]);
            break;
        }
        errmsg_t perr = {0};
        if ((rc = preset_load_file(path, &p, &perr))) {
            if (rc == OCT_ENOMEM) {
                *err = perr;
                break;
            }
            /* reported, and the others still load: one broken file must not
             * keep octet from starting */
            sb_addf(notes, "%s (preset skipped)\n", perr.msg);
            rc = 0;
            continue;
        }
        p.user = user;
        size_t k = 0;
        while (k < l->n && strcmp(l->v[k].name, p.name))
            k++;
        if (k == l->n) {
            preset_t *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
            if (!nv) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                break;
            }
            l->v = nv;
            l->n++;
        }
        l->v[k] = p;
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int preset_load_all(const char *shipped_dir, const char *user_dir, preset_list_t *out, char **notes,
                    errmsg_t *err)
{
    preset_list_t l = {0};
    sbuf_t nb = {0};
    *notes = NULL;
    int rc = load_dir(shipped_dir, false, &l, &nb, err);
    if (rc == 0)
        rc = load_dir(user_dir, true, &l, &nb, err);
    if (rc == 0 && (nb.oom || (nb.n && !(*notes = sb_take(&nb)))))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    sb_free(&nb);
    if (rc) {
        free(l.v);
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_preset);
    *out = l;
    return 0;
}

void preset_list_free(preset_list_t *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const preset_t *preset_find(const preset_list_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, name))
            return &l->v[i];
    return NULL;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

void preset_shipped_dir(char *buf, size_t n)
{
    const char *env = getenv("OCTET_PRESET_DIR");
    buf[0] = '\0';
    if (env && env[0]) {
        snprintf(buf, n, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {"/presets", "/../presets", "/../share/octet/presets"};
    for (size_t i = 0; i < 3; i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
        if (is_dir(cand)) {
            char *real = realpath(cand, NULL);
            snprintf(buf, n, "%s", real ? real : cand);
            free(real);
            return;
        }
    }
}

void preset_user_dir(char *buf, size_t n)
{
    config_user_path("presets", buf, n);
}

/* The first readable of the shipped places of models/NAME, relative to the
 * executable's directory, in PATH (N bytes); NULL when none. */
static const char *shipped_model(const char *name, char *path, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return NULL;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    static const char *const rel[] = {"models", "../models", "../share/octet/models"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        int w = snprintf(path, n, "%.3000s/%s/%s", exe, rel[i], name);
        if (w > 0 && (size_t)w < n && access(path, R_OK) == 0)
            return path;
    }
    return NULL;
}

const char *preset_default_model(void)
{
    static char path[4096];
    const char *env = getenv("OCTET_MODEL");
    if (env) /* set but empty: the user wants no default model */
        return *env && access(env, R_OK) == 0 ? env : NULL;
    if (config_get()->model[0])
        return config_get()->model;
    return shipped_model("octet-code.gguf", path, sizeof path);
}

const char *preset_embed_model(char *why, size_t n)
{
    static char path[4096];
    const char *env = getenv("OCTET_EMBED_MODEL");
    if (env && !*env) {
        snprintf(why, n, "OCTET_EMBED_MODEL is empty");
        return NULL;
    }
    if (env) {
        if (access(env, R_OK) == 0)
            return env;
        snprintf(why, n, "OCTET_EMBED_MODEL=%.200s: %s", env, strerror(errno));
        return NULL;
    }
    if (shipped_model("octet-embed.gguf", path, sizeof path))
        return path;
    snprintf(why, n, "no models/octet-embed.gguf next to octet; OCTET_EMBED_MODEL names another");
    return NULL;
}

const char *preset_large_model(void)
{
    const char *env = getenv("OCTET_MODEL_LARGE");
    if (env)
        return env[0] ? env : NULL;
    return config_get()->large_model[0] ? config_get()->large_model : NULL;
}

const char *preset_model_path(const preset_t *p, const preset_models_t *models, bool *fell_back)
{
    *fell_back = false;
    if (!strcmp(p->model, "default"))
        return models->def;
    if (!strcmp(p->model, "large")) {
        if (models->large)
            return models->large;
        *fell_back = true;
        return models->def;
    }
    return p->model;
}

void preset_eng_opts(const preset_t *p, uint32_t ctx, eng_opts_t *o)
{
    eng_opts_default(o);
    static const eng_wfmt_t map[] = {ENG_W_INT8, ENG_W_INT8, ENG_W_SMOOTHQUANT, ENG_W_F16, ENG_W_F32};
    o->wfmt = map[p->wfmt];
    o->kvfmt = p->kvfmt;
    o->n_ctx = ctx;
    o->n_threads = p->threads;
    o->backend = p->backend;
    o->sq_alpha = p->alpha;
    o->calib_path = p->calib[0] ? p->calib : NULL;
}

/* ---- memory plans -------------------------------------------------------- */

static long online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

uint64_t preset_scratch_estimate(const model_hparams_t *hp, uint32_t n_ctx, uint32_t n_batch, int n_threads)
{
    uint64_t nb = n_batch ? n_batch : ENGINE_BATCH;
    if (n_ctx && nb > n_ctx)
        nb = n_ctx;
    uint64_t E = hp->n_embd, D = hp->head_dim, F = hp->n_ff, H = hp->n_head, K = hp->n_head_kv;
    uint64_t G = K ? H / K : 1, T = n_threads > 0 ? (uint64_t)n_threads : (uint64_t)online_cores();
    uint64_t qkv = (H + 2 * K) * D;
    /* activations of one batch (x, xn, tmp, qkv, attention out, rope table),
     * the feed-forward's gate/up and hidden rows (in chunks of ENG_FFN_CHUNK
     * tokens), and the logits on the device and the host: enough rows for a
     * speculative verification pass (ENG_VERIFY_MAX) */
    uint64_t ffn = nb < ENG_FFN_CHUNK ? nb : ENG_FFN_CHUNK, lr = nb < ENG_VERIFY_MAX ? nb : ENG_VERIFY_MAX;
    uint64_t floats = nb * (3 * E + qkv + H * D + D) + ffn * 3 * F + 2 * lr * (uint64_t)hp->n_vocab;
    /* int8 matmul: the batch quantized to int8 (rows padded to 64) plus a
     * scale and correction terms per token, for the widest input */
    uint64_t widest = E > F ? E : F;
    widest = widest > H * D ? widest : H * D;
    uint64_t mm = nb * ((widest + 63) / 64 * 64 + 64) + 4096;
    /* attention: per thread two K/V tiles of 16 positions, a row and the
     * accumulators of 8 queries of a group */
    uint64_t att = T * (2 * D * 16 + D + 8 * G * (D + 2) + 16) * 4;
    return floats * 4 + mm + att;
}

void preset_plan_model(const preset_t *p, const model_t *m, preset_plan_t *out)
{
    memset(out, 0, sizeof *out);
    out->n_ctx_train = m->hp.n_ctx_train;
    out->ctx = p->ctx;
    if (out->n_ctx_train && out->ctx > out->n_ctx_train) {
        out->ctx = out->n_ctx_train;
        out->clamped = true;
    }
    model_wfmt_t wf = p->wfmt == PRESET_W_F32 ? MODEL_WFMT_F32 : p->wfmt == PRESET_W_F16 ? MODEL_WFMT_F16
                                                                                          : MODEL_WFMT_INT8;
    model_kvfmt_t kf = p->kvfmt == ENG_KV_F32 ? MODEL_KV_F32 : p->kvfmt == ENG_KV_F16 ? MODEL_KV_F16 : MODEL_KV_INT8;
    model_mem_plan_t mp;
    model_mem_plan(m, out->ctx, wf, kf, &mp);
    out->weights = mp.weights_total;
    out->kv = mp.kv_total;
    out->scratch = preset_scratch_estimate(&m->hp, out->ctx, 0, p->threads);
    out->total = out->weights + out->kv + out->scratch;
}

int preset_plan(const preset_t *p, const char *model_path, preset_plan_t *out, errmsg_t *err)
{
    gguf_t *g = NULL;
    model_t *m = NULL;
    /* O_NONBLOCK: a FIFO named as the model is an error, not a wait */
    int fd = open(model_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", model_path, strerror(errno));
    bool regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
    close(fd);
    if (!regular)
        return errmsg_set(err, OCT_EINVAL, "%s: the model is not a regular file", model_path);
    int rc = gguf_open(&g, model_path, err);
    if (rc == 0)
        rc = model_load(&m, g, err);
    if (rc == 0)
        preset_plan_model(p, m, out);
    model_free(m);
    gguf_close(g);
    return rc;
}

uint64_t preset_margin(uint64_t need)
{
    return need / 10 + (256ull << 20);
}

int preset_auto_pick(const preset_list_t *l, const preset_plan_t *plans, const bool *ok, uint64_t avail)
{
    for (size_t i = 0; i < l->n; i++)
        if (ok[i] && plans[i].total + preset_margin(plans[i].total) <= avail)
            return (int)i;
    return -1;
}

int preset_mem_available(const char *meminfo, uint64_t *avail, uint64_t *total, errmsg_t *err)
{
    const char *path = meminfo ? meminfo : "/proc/meminfo";
    FILE *f = fopen(path, "r");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    char line[256];
    bool ha = false, ht = false;
    unsigned long long v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            *avail = (uint64_t)v * 1024;
            ha = true;
        } else if (sscanf(line, "MemTotal: %llu kB", &v) == 1) {
            *total = (uint64_t)v * 1024;
            ht = true;
        }
    }
    fclose(f);
    if (!ha || !ht)
        return errmsg_set(err, OCT_EFORMAT, "%s: no MemAvailable/MemTotal lines", path);
    return 0;
}
