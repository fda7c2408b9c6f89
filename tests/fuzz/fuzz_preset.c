/* fuzz_preset.c - libFuzzer harness for preset files (presets/preset.c)
 * and the settings file (presets/config.c):
 * preset_parse on the input as a file in a directory (relative paths are
 * anchored there) and, for its first line, as a preset name. Beyond crashes
 * (ASan/UBSan) it aborts when a promise is broken: an error is one line
 * naming the file and a line of the input, nothing is written to the output
 * on an error, and an accepted preset has every field in its documented
 * range, every string terminated inside its array, a backend that
 * preset_set_backend accepts again and engine options built from it. The
 * same input as a settings file: never refused, each note one line naming
 * the file and a line of the input, every value valid and terminated.
 * tests/unit/presets/test_preset_fuzz.c #includes this file to replay the corpus and the
 * regressions in `make test`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "preset.h"

#define FUZZ_FILE "presets/fuzz.ini"
#define FUZZ_DIR "presets/"
#define FUZZ_MAX_BYTES (64 * 1024) /* preset.c's limit: above it the error names no line */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

/* A string field ends inside its array. */
static void fuzz_str(const char *s, size_t cap)
{
    fuzz_require(memchr(s, '\0', cap) != NULL);
}

/* "FILE:LINE: ..." with LINE in 1..N_LINES, or (for a name or size error) "FILE: ...". */
static void fuzz_check_error(const errmsg_t *err, int rc, const char *file, size_t n_lines, int line_needed)
{
    size_t fl = strlen(file);
    fuzz_require(rc < 0 && err->code == rc);
    fuzz_require(strchr(err->msg, '\n') == NULL);
    fuzz_require(strncmp(err->msg, file, fl) == 0 && err->msg[fl] == ':');
    if (!line_needed)
        return;
    char *end;
    unsigned long line = strtoul(err->msg + fl + 1, &end, 10);
    fuzz_require(end != err->msg + fl + 1 && *end == ':' && line >= 1 && line <= n_lines);
}

static void fuzz_check_preset(const preset_t *p, const char *name)
{
    fuzz_require(!strcmp(p->name, name) && !strcmp(p->file, FUZZ_FILE) && !p->user);
    fuzz_str(p->description, sizeof p->description);
    fuzz_str(p->model, sizeof p->model);
    fuzz_str(p->calib, sizeof p->calib);
    fuzz_str(p->backend, sizeof p->backend);
    fuzz_str(p->system, sizeof p->system);
    fuzz_require(p->priority >= -1000 && p->priority <= 1000);
    /* a model path: a slot, absolute, from HOME, or under the file's directory */
    fuzz_require(!strcmp(p->model, "default") || !strcmp(p->model, "large") || p->model[0] == '/' ||
                 !strncmp(p->model, FUZZ_DIR, strlen(FUZZ_DIR)) ||
                 (getenv("HOME") && !strncmp(p->model, getenv("HOME"), strlen(getenv("HOME")))));
    fuzz_require(p->ctx >= 16 && p->ctx <= (1u << 24));
    fuzz_require((unsigned)p->wfmt <= PRESET_W_F32 && strcmp(preset_wfmt_name(p->wfmt), "?"));
    fuzz_require(p->kvfmt == ENG_KV_F32 || p->kvfmt == ENG_KV_F16 || p->kvfmt == ENG_KV_INT8);
    fuzz_require(isfinite(p->alpha) && p->alpha >= 0 && p->alpha <= 1);
    if (p->wfmt != PRESET_W_SMOOTHQUANT)
        fuzz_require(p->alpha == 0.5f && p->calib[0] == '\0');
    fuzz_require(p->threads >= 0 && p->threads <= 1024);
    fuzz_require(p->top_k >= 1 && p->top_k <= 100 && p->token_budget <= (1u << 20));
    fuzz_require(isfinite(p->temperature) && p->temperature >= 0 && p->temperature <= 5);
    fuzz_require(isfinite(p->top_p) && p->top_p > 0 && p->top_p <= 1);
    fuzz_require(p->max_new_tokens >= 1 && p->max_new_tokens <= (1u << 24));

    /* the backend is one preset_set_backend accepts, and a URL gives a host */
    preset_t q = *p;
    errmsg_t err = {0};
    fuzz_require(preset_set_backend(&q, p->backend, &err) == 0 && !strcmp(q.backend, p->backend));
    if (preset_is_remote(p)) {
        char host[64];
        preset_backend_host(p->backend, host, sizeof host);
        fuzz_require(host[0] != '\0' && strchr(host, '/') == NULL && strchr(host, '@') == NULL);
    } else {
        fuzz_require(!strcmp(p->backend, "auto") || !strcmp(p->backend, "cpu") || !strcmp(p->backend, "cuda"));
    }
    eng_opts_t o;
    preset_eng_opts(p, p->ctx, &o);
    fuzz_require(o.n_ctx == p->ctx && o.backend == p->backend && o.n_threads == p->threads);
    fuzz_require(!o.calib_path || o.calib_path == p->calib);
    preset_models_t models = {"/m/default.gguf", NULL};
    bool fell_back;
    const char *mp = preset_model_path(p, &models, &fell_back);
    fuzz_require(mp != NULL && (!fell_back || !strcmp(p->model, "large")));
}

/* Parse DATA as FUZZ_FILE named NAME; check the result either way. */
static void fuzz_parse(const uint8_t *data, size_t size, const char *name, size_t n_lines, bool name_ok)
{
    preset_t p, untouched;
    memset(&p, 0xA5, sizeof p);
    memcpy(&untouched, &p, sizeof p);
    errmsg_t err = {0};
    int rc = preset_parse((const char *)data, size, FUZZ_FILE, name, &p, &err);
    if (rc) {
        fuzz_require(memcmp(&p, &untouched, sizeof p) == 0);
        fuzz_check_error(&err, rc, FUZZ_FILE, n_lines, name_ok && size <= FUZZ_MAX_BYTES);
        return;
    }
    fuzz_require(name_ok);
    fuzz_check_preset(&p, name);
}

static bool fuzz_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= PRESET_NAME_MAX || !strcmp(name, PRESET_AUTO))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

#define FUZZ_CONFIG "presets/config"

static void fuzz_config(const uint8_t *data, size_t size, size_t n_lines)
{
    config_t c;
    errmsg_t err = {0};
    if (config_parse((const char *)data, size, FUZZ_CONFIG, &c, &err))
        fuzz_require(err.code == OCT_ENOMEM);
    fuzz_str(c.preset, sizeof c.preset);
    fuzz_str(c.model, sizeof c.model);
    fuzz_str(c.large_model, sizeof c.large_model);
    fuzz_str(c.backend, sizeof c.backend);
    fuzz_require(c.colors == CONFIG_COLORS_AUTO || c.colors == CONFIG_COLORS_ALWAYS || c.colors == CONFIG_COLORS_NEVER);
    fuzz_require(!c.model[0] || c.model[0] == '/' || !strncmp(c.model, FUZZ_DIR, strlen(FUZZ_DIR)));
    if (c.backend[0]) {
        preset_t q;
        preset_defaults(&q);
        fuzz_require(preset_set_backend(&q, c.backend, &err) == 0);
    }
    size_t fl = strlen(FUZZ_CONFIG);
    for (const char *s = c.notes; s && *s;) {
        const char *nl = strchr(s, '\n');
        fuzz_require(nl != NULL && strncmp(s, FUZZ_CONFIG ":", fl + 1) == 0);
        char *end;
        unsigned long line = strtoul(s + fl + 1, &end, 10);
        fuzz_require(end != s + fl + 1 && *end == ':' && line >= 1 && line <= n_lines);
        fuzz_require(nl - s > 14 && !strncmp(nl - 14, "(line skipped)", 14));
        s = nl + 1;
    }
    config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n_lines = 1;
    for (size_t i = 0; i < size; i++)
        n_lines += data[i] == '\n';
    fuzz_parse(data, size, "fuzz", n_lines, true);
    fuzz_config(data, size, n_lines);

    /* the first line (up to 80 bytes) as the preset's name, the rest as its text */
    char name[81];
    size_t nl = 0;
    while (nl < size && nl < sizeof name - 1 && data[nl] != '\n' && data[nl] != '\0')
        nl++;
    memcpy(name, data, nl);
    name[nl] = '\0';
    size_t skip = nl < size ? nl + 1 : nl;
    size_t rest_lines = 1;
    for (size_t i = skip; i < size; i++)
        rest_lines += data[i] == '\n';
    fuzz_parse(data + skip, size - skip, name, rest_lines, fuzz_name_ok(name));
    return 0;
}
