/* config.h - the user's settings file, $XDG_CONFIG_HOME/octet/config (else
 * ~/.config/octet/config): the defaults every front end starts from before
 * its command line. One `key = value` a line, `#` comments:
 *
 *     preset = int8_quality        # the TUI's preset at start-up
 *     model = ~/models/qwen-1.5b.gguf   # instead of the embedded model
 *     large_model = ~/models/qwen-7b.gguf # the "large" slot (int8_quality)
 *     backend = cuda               # auto | cpu | cuda | http(s)://HOST:PORT/v1
 *     commit = true                # apply and refactor commit each change
 *     colors = never               # auto | always | never
 *
 * Precedence, lowest first: octet's built-in defaults, this file, the
 * environment (OCTET_MODEL, OCTET_MODEL_LARGE, NO_COLOR), the command line.
 * A line that cannot be used (unknown key, bad value, missing model file) is
 * reported in the notes and skipped: a broken settings file never stops
 * octet from starting. No printing; the front ends show the notes. */
#ifndef OCTET_CONFIG_H
#define OCTET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "preset.h"

typedef enum config_colors {
    CONFIG_COLORS_AUTO,   /* on a terminal that has them, unless NO_COLOR is set */
    CONFIG_COLORS_ALWAYS, /* even when output is not a terminal (the CLI's --color always) */
    CONFIG_COLORS_NEVER,
} config_colors_t;

typedef struct config {
    char file[PRESET_PATH_MAX];          /* the file read; "" when there was none */
    char preset[PRESET_NAME_MAX];        /* "" unless set */
    char model[PRESET_PATH_MAX];         /* absolute path, "" unless set */
    char large_model[PRESET_PATH_MAX];
    char backend[PRESET_BACKEND_MAX];    /* auto | cpu | cuda | URL; "" unless set */
    bool commit;                         /* apply/refactor commit by default */
    config_colors_t colors;
    char *notes;                         /* "FILE:LINE: what is wrong (skipped)\n"...; NULL when none */
} config_t;

/* NAME in octet's configuration directory: $XDG_CONFIG_HOME/octet/NAME when
 * that is an absolute path, else $HOME/.config/octet/NAME; "" when neither
 * is set. The settings file is "config", the user's presets "presets". */
void config_user_path(const char *name, char *buf, size_t n);
/* The settings file's path: config_user_path("config"). */
void config_path(char *buf, size_t n);

/* Parse LEN bytes of settings text read from FILE (named in the notes; its
 * directory anchors relative paths) into OUT, which starts from the
 * defaults. Bad lines go to out->notes. 0, or OCT_ENOMEM. */
int config_parse(const char *text, size_t len, const char *file, config_t *out, errmsg_t *err);

/* Read PATH (NULL: config_path()) into OUT. A missing file gives the
 * defaults and no note; an unreadable one, the defaults and a note. 0, or
 * OCT_ENOMEM. config_free releases the notes. */
int config_load(const char *path, config_t *out, errmsg_t *err);
void config_free(config_t *c);

/* The process's settings, read from config_path() on first use (thread-safe)
 * and kept until exit; the defaults, without notes, when memory ran out. */
const config_t *config_get(void);

const char *config_colors_name(config_colors_t c);

#endif
