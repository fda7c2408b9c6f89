/* test_config.c - the settings file (presets/config.c): every key, paths
 * (~, relative to the file, missing files), comments and quoting, each kind
 * of bad line reported with FILE:LINE and skipped while the good lines
 * still apply, and files that are missing, unreadable, too large or binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static char g_dir[64];

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(text, 1, n, f);
    fclose(f);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && (s = strchr(s, '\n')); s++)
        n++;
    return n;
}

static void test_every_key(void)
{
    char model[300], large[300], file[300], text[1024];
    snprintf(model, sizeof model, "%s/m.gguf", g_dir);
    snprintf(large, sizeof large, "%s/big model.gguf", g_dir);
    snprintf(file, sizeof file, "%s/config", g_dir);
    write_file(model, "x", 1);
    write_file(large, "x", 1);
    int n = snprintf(text, sizeof text,
                     "# octet settings\n"
                     "preset = int8_quality   # trailing comment\n"
                     "\n"
                     "model = m.gguf\n"
                     "large-model = \"%s\"\n"
                     "Backend = http://gpu-box:8000/v1\n"
                     "commit = yes\n"
                     "colors = never\n",
                     large);
    config_t c;
    errmsg_t err = {0};
    CHECK(config_parse(text, (size_t)n, file, &c, &err) == 0);
    CHECKF(c.notes == NULL, "%s", c.notes);
    CHECK_EQ_STR(c.preset, "int8_quality");
    CHECK_EQ_STR(c.model, model); /* relative to the settings file's directory */
    CHECK_EQ_STR(c.large_model, large);
    CHECK_EQ_STR(c.backend, "http://gpu-box:8000/v1");
    CHECK(c.commit);
    CHECK_EQ_INT(c.colors, CONFIG_COLORS_NEVER);
    CHECK_EQ_STR(c.file, file);
    config_free(&c);

    /* the defaults: nothing set */
    CHECK(config_parse("", 0, file, &c, &err) == 0);
    CHECK(!c.preset[0] && !c.model[0] && !c.backend[0] && !c.commit && c.colors == CONFIG_COLORS_AUTO);
    CHECK(c.notes == NULL);
    config_free(&c);

    /* ~ is the home directory; a # inside a value is kept */
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    setenv("HOME", g_dir, 1);
    char hashed[300];
    snprintf(hashed, sizeof hashed, "%s/a#b.gguf", g_dir);
    write_file(hashed, "x", 1);
    const char t2[] = "model = ~/m.gguf\nlarge_model = ~/a#b.gguf\ncolors=always\ncommit=off\n";
    CHECK(config_parse(t2, sizeof t2 - 1, file, &c, &err) == 0);
    CHECKF(c.notes == NULL, "%s", c.notes);
    CHECK_EQ_STR(c.model, model);
    CHECK_EQ_STR(c.large_model, hashed);
    CHECK_EQ_INT(c.colors, CONFIG_COLORS_ALWAYS);
    CHECK(!c.commit);
    config_free(&c);
    if (saved)
        setenv("HOME", saved, 1);
    free(saved);
}

/* Each bad line is reported with FILE:LINE and what is wrong, and skipped;
 * the good lines around it still apply. */
static void test_bad_lines(void)
{
    char file[300], model[300];
    snprintf(file, sizeof file, "%s/config", g_dir);
    snprintf(model, sizeof model, "%s/m.gguf", g_dir);
    write_file(model, "x", 1);
    static const char text[] = "modle = m.gguf\n"             /* 1: unknown key */
                               "model = nowhere.gguf\n"       /* 2: no such file */
                               "backend = tpu\n"              /* 3: bad backend */
                               "commit = maybe\n"             /* 4: not a boolean */
                               "colors = purple\n"            /* 5 */
                               "preset = my preset\n"         /* 6: not a name */
                               "just words\n"                 /* 7: no '=' */
                               "model = .\n"                  /* 8: a directory */
                               "model = m.gguf\n"             /* 9: fine */
                               "colors = never\n";            /* 10: fine */
    static const char *const want[] = {
        ":1: unknown setting 'modle' (settings: preset, model", ":2: model 'nowhere.gguf': no such file",
        ":3: backend: unknown backend 'tpu'",                  ":4: commit 'maybe' is not true or false",
        ":5: colors 'purple' is not auto, always or never",    ":6: preset 'my preset' is not a preset name",
        ":7: 'just words' is not 'key = value'",               ":8: model '.': not a regular file",
    };
    config_t c;
    errmsg_t err = {0};
    CHECK(config_parse(text, sizeof text - 1, file, &c, &err) == 0);
    CHECK(c.notes != NULL);
    CHECK_EQ_INT(count_lines(c.notes), sizeof want / sizeof want[0]);
    for (size_t i = 0; c.notes && i < sizeof want / sizeof want[0]; i++) {
        char w[300];
        snprintf(w, sizeof w, "%s%s", file, want[i]);
        CHECKF(strstr(c.notes, w) != NULL, "'%s' not in \"%s\"", w, c.notes);
    }
    CHECK(c.notes && strstr(c.notes, "(line skipped)\n") != NULL);
    CHECK_EQ_STR(c.model, model);
    CHECK_EQ_INT(c.colors, CONFIG_COLORS_NEVER);
    CHECK(!c.backend[0] && !c.preset[0] && !c.commit);
    config_free(&c);

    /* a NUL byte and an overlong line */
    char big[2100];
    memset(big, 'a', sizeof big);
    memcpy(big, "preset = ", 9);
    big[sizeof big - 1] = '\n';
    char bin[] = "colors = never\nmodel\0 = x\n";
    CHECK(config_parse(bin, sizeof bin - 1, file, &c, &err) == 0);
    CHECK(c.notes && strstr(c.notes, ":2: a NUL byte") != NULL);
    CHECK_EQ_INT(c.colors, CONFIG_COLORS_NEVER);
    config_free(&c);
    CHECK(config_parse(big, sizeof big, file, &c, &err) == 0);
    CHECK(c.notes && strstr(c.notes, ":1: longer than") != NULL);
    CHECK(!c.preset[0]);
    config_free(&c);
}

static void test_files(void)
{
    char path[300];
    config_t c;
    errmsg_t err = {0};
    /* missing: the defaults, nothing said */
    snprintf(path, sizeof path, "%s/none/config", g_dir);
    CHECK(config_load(path, &c, &err) == 0);
    CHECK(c.notes == NULL && !c.model[0]);
    config_free(&c);
    /* a directory where the file should be */
    snprintf(path, sizeof path, "%s/dirconf", g_dir);
    mkdir(path, 0755);
    CHECK(config_load(path, &c, &err) == 0);
    CHECKF(c.notes && strstr(c.notes, path) && strstr(c.notes, "settings file skipped"), "%s", c.notes);
    config_free(&c);
    /* too large */
    snprintf(path, sizeof path, "%s/huge", g_dir);
    char *big = malloc(70000);
    if (big) {
        memset(big, '#', 70000);
        write_file(path, big, 70000);
        free(big);
    }
    CHECK(config_load(path, &c, &err) == 0);
    CHECK(c.notes && strstr(c.notes, "larger than 64 KiB") != NULL);
    config_free(&c);
    /* a real file, found through XDG_CONFIG_HOME */
    char dir[200], want[300];
    snprintf(dir, sizeof dir, "%s/xdg/octet", g_dir);
    snprintf(path, sizeof path, "%s/xdg", g_dir);
    mkdir(path, 0755);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config", dir);
    write_file(path, "commit = true\n", 14);
    snprintf(dir, sizeof dir, "%s/xdg", g_dir);
    setenv("XDG_CONFIG_HOME", dir, 1);
    config_path(want, sizeof want);
    CHECK_EQ_STR(want, path);
    CHECK(config_load(NULL, &c, &err) == 0);
    CHECK(c.commit && c.notes == NULL);
    CHECK_EQ_STR(c.file, path);
    config_free(&c);
    /* a relative XDG_CONFIG_HOME is ignored, as the XDG spec says */
    setenv("XDG_CONFIG_HOME", "rel", 1);
    setenv("HOME", "/home/u", 1);
    config_path(want, sizeof want);
    CHECK_EQ_STR(want, "/home/u/.config/octet/config");
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/octet_test_config_%d", (int)getpid());
    mkdir(g_dir, 0755);
    TEST_RUN(test_every_key);
    TEST_RUN(test_bad_lines);
    TEST_RUN(test_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", g_dir);
    TEST_END();
}
