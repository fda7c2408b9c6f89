/* test_preset.c - presets (tui/preset.c): the shipped files, every field,
 * malformed files (errors name FILE:LINE and the field), user presets
 * replacing shipped ones, model slots, memory plans against what the engine
 * really allocates on the tiny models, and the `auto` choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "gguf.h"
#include "model.h"
#include "preset.h"
#include "test.h"

#define FIX "tests/fixtures/presets"
#define TINY "tests/fixtures/tiny"

static void test_shipped(void)
{
    preset_list_t l;
    errmsg_t err = {0};
    char *notes = NULL;
    CHECKF(preset_load_all("presets", NULL, &l, &notes, &err) == 0, "%s", err.msg);
    CHECKF(notes == NULL, "%s", notes);
    free(notes);
    CHECK_EQ_INT(l.n, 4);
    if (l.n != 4)
        return;
    /* highest priority first */
    CHECK_EQ_STR(l.v[0].name, "int8_quality");
    CHECK_EQ_STR(l.v[1].name, "int8_balanced");
    CHECK_EQ_STR(l.v[2].name, "int8_speed");
    CHECK_EQ_STR(l.v[3].name, "int8_memory");
    const preset_t *b = preset_find(&l, "int8_balanced"), *q = preset_find(&l, "int8_quality");
    const preset_t *s = preset_find(&l, "int8_speed"), *m = preset_find(&l, "int8_memory");
    CHECK(b && q && s && m);
    if (!b || !q || !s || !m)
        goto done;
    CHECK_EQ_INT(b->ctx, 32768);
    CHECK_EQ_INT(b->kvfmt, ENG_KV_INT8);
    CHECK_EQ_INT(b->wfmt, PRESET_W_INT8);
    CHECK(b->retrieval);
    CHECK_EQ_INT(b->top_k, 5);
    CHECK_EQ_STR(b->model, "default");
    CHECK_EQ_STR(q->model, "large");
    CHECK_EQ_INT(q->wfmt, PRESET_W_SMOOTHQUANT);
    CHECK_EQ_INT(q->top_k, 10);
    CHECK(q->alpha > 0.49f && q->alpha < 0.51f);
    CHECK_EQ_INT(s->ctx, 16384);
    CHECK(!s->retrieval);
    CHECK(s->max_new_tokens < b->max_new_tokens);
    CHECK_EQ_INT(m->ctx, 8192);
    /* the smallest footprint: the least context and retrieval */
    for (size_t i = 0; i < l.n; i++) {
        CHECK(m->ctx <= l.v[i].ctx);
        CHECK(!l.v[i].user);
        CHECK(l.v[i].description[0]);
    }
    CHECK(preset_find(&l, "nope") == NULL);
done:
    preset_list_free(&l);
}

static void test_every_field(void)
{
    preset_t p;
    errmsg_t err = {0};
    CHECKF(preset_load_file(FIX "/good/tiny.ini", &p, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(p.name, "tiny");
    CHECK_EQ_STR(p.description, "tiny qwen2 model for the tests");
    CHECK_EQ_INT(p.priority, 5);
    CHECK_EQ_STR(p.model, FIX "/good/../../tiny/qwen2_gqa_f32.gguf");
    CHECK_EQ_INT(p.ctx, 1024);
    CHECK_EQ_INT(p.wfmt, PRESET_W_SMOOTHQUANT);
    CHECK(p.alpha > 0.74f && p.alpha < 0.76f);
    CHECK_EQ_INT(p.kvfmt, ENG_KV_F16);
    CHECK_EQ_INT(p.threads, 2);
    CHECK_EQ_STR(p.backend, "cpu");
    CHECK(p.retrieval);
    CHECK_EQ_INT(p.top_k, 3);
    CHECK_EQ_INT(p.token_budget, 64);
    CHECK(p.temperature > 0.69f && p.temperature < 0.71f);
    CHECK(p.top_p > 0.89f && p.top_p < 0.91f);
    CHECK_EQ_INT(p.max_new_tokens, 32);
    CHECK_EQ_INT(p.seed, 1234);
    CHECK_EQ_STR(p.system, "Be brief.");

    eng_opts_t o;
    preset_eng_opts(&p, 256, &o);
    CHECK_EQ_INT(o.wfmt, ENG_W_SMOOTHQUANT);
    CHECK_EQ_INT(o.kvfmt, ENG_KV_F16);
    CHECK_EQ_INT(o.n_ctx, 256);
    CHECK_EQ_INT(o.n_threads, 2);
    CHECK_EQ_STR(o.backend, "cpu");
    CHECK(o.sq_alpha > 0.74f && o.sq_alpha < 0.76f);
    CHECK(o.calib_path == NULL);

    /* left-out fields take the defaults */
    preset_t d, mini;
    preset_defaults(&d);
    CHECKF(preset_load_file(FIX "/good/minimal.ini", &mini, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(mini.model, "/models/some.gguf");
    CHECK_EQ_INT(mini.ctx, d.ctx);
    CHECK_EQ_INT(mini.top_k, d.top_k);
    CHECK_EQ_INT(mini.max_new_tokens, d.max_new_tokens);
    CHECK_EQ_INT(mini.wfmt, d.wfmt);
}

static void test_text_forms(void)
{
    preset_t p;
    errmsg_t err = {0};
    /* a byte order mark, CRLF line ends, white space, K suffix, q8_0 */
    const char t[] = "\xEF\xBB\xBF[model]\r\n  context=8k\r\nweights = q8_0 ; the file's blocks\r\n"
                     "path = ~/m.gguf\r\n[retrieval]\r\nenabled=OFF\r\n";
    setenv("HOME", "/home/someone", 1);
    CHECKF(preset_parse(t, sizeof t - 1, "/etc/p/x.ini", "x", &p, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(p.ctx, 8192);
    CHECK_EQ_INT(p.wfmt, PRESET_W_Q8_0);
    CHECK_EQ_STR(p.model, "/home/someone/m.gguf");
    CHECK(!p.retrieval);
    eng_opts_t o;
    preset_eng_opts(&p, 100, &o);
    CHECK_EQ_INT(o.wfmt, ENG_W_INT8); /* the engine keeps Q8_0 tensors as they are */
    /* a relative path is relative to the preset's directory */
    const char r[] = "[model]\npath = models/a.gguf\n";
    CHECK(preset_parse(r, sizeof r - 1, "/etc/p/x.ini", "x", &p, &err) == 0);
    CHECK_EQ_STR(p.model, "/etc/p/models/a.gguf");
    /* names */
    CHECK(preset_parse(r, sizeof r - 1, "/etc/p/auto.ini", "auto", &p, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "reserved") != NULL);
    CHECK(preset_parse(r, sizeof r - 1, "/etc/p/a b.ini", "a b", &p, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "a b") != NULL);
}

/* Each malformed file: the error names file:line and the field. */
static void test_malformed_files(void)
{
    static const struct {
        const char *file, *want[3];
    } cases[] = {
        {"bad_context.ini", {"bad_context.ini:3:", "model.context", "32k tokens"}},
        {"unknown_field.ini", {"unknown_field.ini:5:", "unknown field 'temprature' in [generation]", "temperature"}},
        {"duplicate.ini", {"duplicate.ini:4:", "model.context", "twice (first on line 2)"}},
        {"alpha_int8.ini", {"alpha_int8.ini:4:", "model.alpha", "smoothquant only"}},
        {"no_equals.ini", {"no_equals.ini:2:", "expected 'field = value'", "path default"}},
        {"unknown_section.ini", {"unknown_section.ini:1:", "unknown section [models]", "[model]"}},
        {"before_section.ini", {"before_section.ini:1:", "'path'", "before any [section]"}},
        {"bad_weights.ini", {"bad_weights.ini:2:", "model.weights", "int4"}},
        {"bad_bool.ini", {"bad_bool.ini:2:", "retrieval.enabled", "maybe"}},
        {"top_p_range.ini", {"top_p_range.ini:2:", "generation.top_p", "1.5"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        preset_t p;
        errmsg_t err = {0};
        snprintf(path, sizeof path, FIX "/bad/%s", cases[i].file);
        int rc = preset_load_file(path, &p, &err);
        CHECKF(rc == OCT_EFORMAT, "%s: rc %d", cases[i].file, rc);
        for (int k = 0; k < 3; k++)
            CHECKF(strstr(err.msg, cases[i].want[k]) != NULL, "%s: '%s' not in \"%s\"", cases[i].file,
                   cases[i].want[k], err.msg);
        CHECKF(strncmp(err.msg, FIX "/bad/", strlen(FIX "/bad/")) == 0, "no path in \"%s\"", err.msg);
    }
    /* a directory of bad files: each skipped and reported (FILE:LINE), the
     * good ones of another directory still loaded */
    preset_list_t l;
    errmsg_t err = {0};
    char *notes = NULL;
    CHECKF(preset_load_all("presets", FIX "/bad", &l, &notes, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(l.n, 4);
    CHECK(notes != NULL);
    size_t lines = 0;
    for (const char *s = notes; s && (s = strchr(s, '\n')); s++)
        lines++;
    CHECK_EQ_INT(lines, sizeof cases / sizeof cases[0]);
    for (size_t i = 0; notes && i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, FIX "/bad/%s:", cases[i].file);
        CHECKF(strstr(notes, want) != NULL, "%s not in \"%s\"", want, notes);
    }
    CHECK(notes && strstr(notes, "(preset skipped)\n") != NULL);
    free(notes);
    preset_list_free(&l);
}

static void test_malformed_text(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[model]\ncontext = 8\n", "x.ini:2: field 'model.context': '8' is not a whole number in 16..16777216"},
        {"[model]\ncontext = -5\n", "x.ini:2: field 'model.context'"},
        {"[model]\nthreads = 2000\n", "x.ini:2: field 'model.threads'"},
        {"[model]\nkv = int4\n", "x.ini:2: field 'model.kv'"},
        {"[model]\nbackend = tpu\n", "x.ini:2: field 'model.backend': unknown backend 'tpu'"},
        {"[model]\npath =\n", "x.ini:2: field 'model.path': empty path"},
        {"[generation]\ntemperature = nan\n", "x.ini:2: field 'generation.temperature'"},
        {"[generation]\nseed = -1\n", "x.ini:2: field 'generation.seed'"},
        {"[retrieval]\ntop_k = 0\n", "x.ini:2: field 'retrieval.top_k'"},
        {"\n\n[model\n", "x.ini:3: malformed section header"},
        {"[model]\nweights = f16\ncalib = c.txt\n", "x.ini:3: field 'model.calib': applies to weights = smoothquant"},
        {"[model]\n\nbackend = ftp://gpu:8000/v1\n", "x.ini:3: field 'model.backend': unknown backend 'ftp://gpu:8000/v1'"},
        {"[model]\nbackend = http://\n", "x.ini:2: field 'model.backend': backend URL 'http://' has no host"},
        {"[model]\nbackend = https://:8000/v1\n", "x.ini:2: field 'model.backend': backend URL 'https://:8000/v1' has no host"},
        {"[model]\nbackend = http://a b/v1\n", "x.ini:2: field 'model.backend': backend URL 'http://a b/v1' contains a space"},
        {"[model]\nbackend = HTTP://gpu/v1\n", "x.ini:2: field 'model.backend': unknown backend 'HTTP://gpu/v1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        preset_t p;
        errmsg_t err = {0};
        int rc = preset_parse(cases[i].text, strlen(cases[i].text), "x.ini", "x", &p, &err);
        CHECKF(rc == OCT_EFORMAT, "case %zu: rc %d", i, rc);
        CHECKF(strstr(err.msg, cases[i].want) != NULL, "case %zu: '%s' not in \"%s\"", i, cases[i].want, err.msg);
    }
    /* a NUL byte */
    preset_t p;
    errmsg_t err = {0};
    const char nul[] = "[model]\ncon\0text = 5\n";
    CHECK(preset_parse(nul, sizeof nul - 1, "x.ini", "x", &p, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "x.ini:2:") != NULL);
    /* too large */
    size_t big = 100000;
    char *b = malloc(big);
    if (b) {
        memset(b, '#', big);
        CHECK(preset_parse(b, big, "x.ini", "x", &p, &err) == OCT_EFORMAT);
        CHECK(strstr(err.msg, "too large") != NULL);
        free(b);
    }
    CHECK(preset_load_file(FIX "/missing.ini", &p, &err) == OCT_EIO);
    CHECK(strstr(err.msg, "missing.ini") != NULL);
}

/* backend = URL: a remote engine; kept whole (512 bytes fit), its host shown */
static void test_backend_url(void)
{
    preset_t p;
    errmsg_t err = {0};
    const char *t = "[model]\nbackend = http://gpu-box:8000/v1   # vLLM\n";
    CHECKF(preset_parse(t, strlen(t), "x.ini", "x", &p, &err) == 0, "%s", err.msg);
    CHECK_EQ_STR(p.backend, "http://gpu-box:8000/v1");
    CHECK(preset_is_remote(&p));
    char host[128];
    preset_backend_host(p.backend, host, sizeof host);
    CHECK_EQ_STR(host, "gpu-box:8000");
    preset_backend_host("https://user:pw@example.org/api/v1?x=1", host, sizeof host);
    CHECK_EQ_STR(host, "example.org");

    /* the longest URL the field holds, then one byte more */
    char url[PRESET_BACKEND_MAX + 1], text[PRESET_BACKEND_MAX + 64];
    memset(url, 'a', sizeof url);
    memcpy(url, "https://h/", 10);
    url[PRESET_BACKEND_MAX - 1] = '\0';
    snprintf(text, sizeof text, "[model]\nbackend = %s\n", url);
    CHECKF(preset_parse(text, strlen(text), "x.ini", "x", &p, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(strlen(p.backend), PRESET_BACKEND_MAX - 1);
    url[PRESET_BACKEND_MAX - 1] = 'a';
    url[PRESET_BACKEND_MAX] = '\0';
    snprintf(text, sizeof text, "[model]\nbackend = %s\n", url);
    CHECK(preset_parse(text, strlen(text), "x.ini", "x", &p, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, "x.ini:2: field 'model.backend': backend URL too long") != NULL);

    /* local backends are not remote; preset_set_backend is what --backend uses */
    preset_defaults(&p);
    CHECK(!preset_is_remote(&p));
    CHECK(preset_set_backend(&p, "cuda", &err) == 0);
    CHECK_EQ_STR(p.backend, "cuda");
    CHECK(!preset_is_remote(&p));
    CHECK(preset_set_backend(&p, "127.0.0.1:8080", &err) == OCT_EINVAL);
    CHECK(strstr(err.msg, "unknown backend '127.0.0.1:8080'") != NULL);
    CHECK_EQ_STR(p.backend, "cuda");
    CHECK(preset_set_backend(&p, "https://example.org/v1", &err) == 0);
    CHECK(preset_is_remote(&p));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_user_dir(void)
{
    char dir[] = "/tmp/octet_preset_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char p1[300], p2[300], p3[300], p4[300];
    snprintf(p1, sizeof p1, "%s/int8_speed.ini", dir);
    snprintf(p2, sizeof p2, "%s/mine.ini", dir);
    snprintf(p3, sizeof p3, "%s/notes.txt", dir);
    snprintf(p4, sizeof p4, "%s/.hidden.ini", dir);
    write_text(p1, "[preset]\npriority = 99\n[model]\ncontext = 2K\n");
    write_text(p2, "[model]\npath = default\n");
    write_text(p3, "not a preset");
    write_text(p4, "[broken\n");
    preset_list_t l;
    errmsg_t err = {0};
    char *notes = NULL;
    CHECKF(preset_load_all("presets", dir, &l, &notes, &err) == 0, "%s", err.msg);
    CHECK(notes == NULL);
    free(notes);
    CHECK_EQ_INT(l.n, 5);
    const preset_t *s = preset_find(&l, "int8_speed"), *m = preset_find(&l, "mine");
    CHECK(s && m);
    if (s && m) {
        CHECK(s->user);
        CHECK(m->user);
        CHECK_EQ_INT(s->ctx, 2048);
        CHECK_EQ_STR(l.v[0].name, "int8_speed"); /* priority 99 */
    }
    preset_list_free(&l);
    /* the user directory from the environment */
    char buf[512];
    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    preset_user_dir(buf, sizeof buf);
    CHECK_EQ_STR(buf, "/x/cfg/octet/presets");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/u", 1);
    preset_user_dir(buf, sizeof buf);
    CHECK_EQ_STR(buf, "/home/u/.config/octet/presets");
    setenv("OCTET_PRESET_DIR", dir, 1);
    preset_shipped_dir(buf, sizeof buf);
    CHECK_EQ_STR(buf, dir);
    unsetenv("OCTET_PRESET_DIR");
    /* without the variable: presets/ found from the test binary (BUILD/tests/) */
    preset_shipped_dir(buf, sizeof buf);
    CHECKF(buf[0] == '\0' || strstr(buf, "presets") != NULL, "%s", buf);
    remove(p1);
    remove(p2);
    remove(p3);
    remove(p4);
    rmdir(dir);
}

static void test_model_slots(void)
{
    preset_t p;
    preset_defaults(&p);
    bool fb;
    preset_models_t none = {NULL, NULL}, def = {"/m/small.gguf", NULL}, both = {"/m/small.gguf", "/m/big.gguf"};
    CHECK(preset_model_path(&p, &none, &fb) == NULL);
    CHECK_EQ_STR(preset_model_path(&p, &def, &fb), "/m/small.gguf");
    CHECK(!fb);
    snprintf(p.model, sizeof p.model, "large");
    CHECK_EQ_STR(preset_model_path(&p, &def, &fb), "/m/small.gguf");
    CHECK(fb);
    CHECK_EQ_STR(preset_model_path(&p, &both, &fb), "/m/big.gguf");
    CHECK(!fb);
    snprintf(p.model, sizeof p.model, "/x/y.gguf");
    CHECK_EQ_STR(preset_model_path(&p, &both, &fb), "/x/y.gguf");
}

/* The plan before loading against what the engine holds after loading. */
static void test_plan_vs_engine(void)
{
    static const char *const models[] = {"llama_mha_f32", "llama_gqa_f16", "qwen2_gqa_f32",
                                         "qwen2_mha_bf16_untied", "llama_rope_linear_q8_0"};
    static const struct {
        preset_wfmt_t w;
        eng_kvfmt_t kv;
        uint32_t ctx;
        int threads;
    } cfgs[] = {{PRESET_W_INT8, ENG_KV_INT8, 32768, 1}, {PRESET_W_F16, ENG_KV_F16, 100, 2},
                {PRESET_W_F32, ENG_KV_F32, 256, 2}, {PRESET_W_Q8_0, ENG_KV_INT8, 64, 1}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
            char path[256];
            snprintf(path, sizeof path, TINY "/%s.gguf", models[i]);
            preset_t p;
            preset_defaults(&p);
            p.wfmt = cfgs[c].w;
            p.kvfmt = cfgs[c].kv;
            p.ctx = cfgs[c].ctx;
            p.threads = cfgs[c].threads;
            snprintf(p.backend, sizeof p.backend, "cpu");
            preset_plan_t plan;
            errmsg_t err = {0};
            if (preset_plan(&p, path, &plan, &err)) {
                CHECKF(0, "%s: %s", path, err.msg);
                continue;
            }
            CHECK_EQ_INT(plan.n_ctx_train, 256);
            CHECK_EQ_INT(plan.ctx, cfgs[c].ctx < 256 ? cfgs[c].ctx : 256);
            CHECK_EQ_INT(plan.clamped, cfgs[c].ctx > 256);
            CHECK_EQ_INT(plan.total, plan.weights + plan.kv + plan.scratch);
            eng_opts_t o;
            preset_eng_opts(&p, plan.ctx, &o);
            eng_model_t *m = NULL;
            eng_session_t *s = NULL;
            if (eng_open(&m, path, &o, &err) || eng_session_new(&s, m, &err)) {
                CHECKF(0, "%s: %s", path, err.msg);
                eng_close(m);
                continue;
            }
            eng_mem_t mem;
            eng_memory(m, s, &mem);
            /* the KV cache is exact; weights within the int8 row-scale / Q8_0 block difference */
            CHECKF(plan.kv == mem.kv, "%s cfg %zu: kv plan %llu engine %llu", models[i], c,
                   (unsigned long long)plan.kv, (unsigned long long)mem.kv);
            double wr = (double)mem.weights / (double)plan.weights;
            CHECKF(wr > 0.9 && wr < 1.1, "%s cfg %zu: weights plan %llu engine %llu", models[i], c,
                   (unsigned long long)plan.weights, (unsigned long long)mem.weights);
            /* scratch: an upper estimate, not a wild one */
            CHECKF(plan.scratch >= mem.scratch && plan.scratch <= 2 * mem.scratch + 65536,
                   "%s cfg %zu: scratch estimate %llu engine %llu", models[i], c,
                   (unsigned long long)plan.scratch, (unsigned long long)mem.scratch);
            eng_session_free(s);
            eng_close(m);
        }
    preset_t p;
    preset_plan_t plan;
    errmsg_t err = {0};
    preset_defaults(&p);
    CHECK(preset_plan(&p, TINY "/missing.gguf", &plan, &err) != 0);
    CHECK(strstr(err.msg, "missing.gguf") != NULL);
}

static void test_auto_pick(void)
{
    preset_t v[4];
    const char *names[] = {"q", "b", "s", "m"};
    for (int i = 0; i < 4; i++) {
        preset_defaults(&v[i]);
        snprintf(v[i].name, sizeof v[i].name, "%s", names[i]);
    }
    preset_list_t l = {v, 4};
    const uint64_t MiB = 1 << 20;
    preset_plan_t plans[4] = {{.total = 8000 * MiB}, {.total = 5000 * MiB}, {.total = 3000 * MiB},
                              {.total = 1000 * MiB}};
    bool ok[4] = {true, true, true, true};
    CHECK_EQ_INT(preset_margin(1000 * MiB), 100 * MiB + 256 * MiB);
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 20000 * MiB), 0);
    /* 8000 + 800 + 256 does not fit in 9000; 5000 + 500 + 256 does */
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 9000 * MiB), 1);
    /* exactly the plan plus the margin fits */
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 3000 * MiB + 300 * MiB + 256 * MiB), 2);
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 3000 * MiB + 300 * MiB + 256 * MiB - 1), 3);
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 1000 * MiB), -1);
    ok[0] = ok[1] = false; /* no model for those */
    CHECK_EQ_INT(preset_auto_pick(&l, plans, ok, 20000 * MiB), 2);
}

static void test_meminfo(void)
{
    char path[] = "/tmp/octet_meminfo_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        CHECK(0);
        return;
    }
    const char text[] = "MemTotal:       16314668 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    uint64_t av = 0, tot = 0;
    errmsg_t err = {0};
    CHECK(preset_mem_available(path, &av, &tot, &err) == 0);
    CHECK_EQ_INT(av, 8000000ull * 1024);
    CHECK_EQ_INT(tot, 16314668ull * 1024);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("MemTotal: 5 kB\n", f);
        fclose(f);
    }
    CHECK(preset_mem_available(path, &av, &tot, &err) == OCT_EFORMAT);
    CHECK(strstr(err.msg, path) != NULL);
    remove(path);
    CHECK(preset_mem_available(NULL, &av, &tot, &err) == 0); /* the real /proc/meminfo */
    CHECK(tot > 0 && av <= tot);
}

int main(void)
{
    TEST_RUN(test_shipped);
    TEST_RUN(test_every_field);
    TEST_RUN(test_text_forms);
    TEST_RUN(test_malformed_files);
    TEST_RUN(test_malformed_text);
    TEST_RUN(test_backend_url);
    TEST_RUN(test_user_dir);
    TEST_RUN(test_model_slots);
    TEST_RUN(test_plan_vs_engine);
    TEST_RUN(test_auto_pick);
    TEST_RUN(test_meminfo);
    TEST_END();
}
