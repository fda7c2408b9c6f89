/* preset.h - octet's presets: named sets of model, memory and generation
 * settings kept in small .ini files (the .ini files of presets/ ship with octet; users add
 * or override them in $XDG_CONFIG_HOME/octet/presets/), their memory plan
 * before anything is loaded (model_mem_plan plus an estimate of the engine's
 * scratch), and the `auto` choice: the preset of highest priority whose plan
 * fits the free memory with a safety margin.
 *
 * No ncurses and no printing: the TUI, the CLI and the server share it.
 * Errors name FILE:LINE and the field ("model.context") and what is wrong.
 * The file format is described in docs/presets.md. */
#ifndef OCTET_PRESET_H
#define OCTET_PRESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errmsg.h"
#include "model.h"

#define PRESET_NAME_MAX 64
#define PRESET_PATH_MAX 1024
#define PRESET_TEXT_MAX 512
#define PRESET_BACKEND_MAX 512
#define PRESET_AUTO "auto"

typedef enum preset_wfmt {
    PRESET_W_INT8,        /* int8 + per-row scale (Q8_0 tensors kept as Q8_0) */
    PRESET_W_Q8_0,        /* the file's Q8_0 blocks as stored; other matrices as int8 */
    PRESET_W_SMOOTHQUANT, /* int8 after SmoothQuant smoothing (alpha, calib) */
    PRESET_W_F16,
    PRESET_W_F32,
} preset_wfmt_t;

typedef struct preset {
    char name[PRESET_NAME_MAX];         /* the file's base name without .ini */
    char file[PRESET_PATH_MAX];         /* where it was read from */
    char description[PRESET_TEXT_MAX];
    int priority;                       /* `auto` tries higher first */
    bool user;                          /* from the user's directory */
    /* [model] */
    char model[PRESET_PATH_MAX];        /* "default", "large" or a file path */
    uint32_t ctx;                       /* context size in tokens */
    preset_wfmt_t wfmt;
    float alpha;                        /* smoothquant */
    char calib[PRESET_PATH_MAX];        /* smoothquant calibration text; "" = built in */
    eng_kvfmt_t kvfmt;
    int threads;                        /* 0: every core */
    char backend[PRESET_BACKEND_MAX];   /* auto | cpu | cuda | the http(s):// URL of a remote engine */
    /* [retrieval] */
    bool retrieval;
    int top_k;
    uint32_t token_budget;              /* tokens of retrieved code per prompt */
    /* [generation] */
    float temperature;
    float top_p;
    uint32_t max_new_tokens;
    uint64_t seed;                      /* 0: from the clock */
    char system[PRESET_TEXT_MAX];       /* system prompt; "" = octet's own */
} preset_t;

/* The values a field takes when a file leaves it out (those of int8_balanced). */
void preset_defaults(preset_t *p);

/* Parse LEN bytes of preset text read from FILE (named in errors; its
 * directory anchors relative paths). NAME becomes p->name. */
int preset_parse(const char *text, size_t len, const char *file, const char *name, preset_t *out,
                 errmsg_t *err);
/* Read and parse PATH; the name is its base name without ".ini". */
int preset_load_file(const char *path, preset_t *out, errmsg_t *err);

typedef struct preset_list {
    preset_t *v; /* highest priority first, then by name */
    size_t n;
} preset_list_t;

/* Every *.ini of SHIPPED_DIR, then of USER_DIR (either may be NULL or
 * missing); a user preset replaces a shipped one of the same name. A
 * malformed file is skipped and its FILE:LINE error put in *NOTES (a line
 * each, malloc'd; NULL when every file loaded), so a broken preset never
 * stops octet from starting. 0, or OCT_ENOMEM. */
int preset_load_all(const char *shipped_dir, const char *user_dir, preset_list_t *out, char **notes,
                    errmsg_t *err);
void preset_list_free(preset_list_t *l);
const preset_t *preset_find(const preset_list_t *l, const char *name);

/* Directories: shipped presets ($OCTET_PRESET_DIR, else presets/ next to
 * the executable or one level up, else ../share/octet/presets), and the
 * user's ($XDG_CONFIG_HOME/octet/presets, else ~/.config/octet/presets).
 * An empty string when none is found. */
void preset_shipped_dir(char *buf, size_t n);
void preset_user_dir(char *buf, size_t n);

/* The default model: $OCTET_MODEL when set, else the settings file's
 * `model` (config.h), else the embedded models/octet-code.gguf next to the
 * octet binary (or one level up, for builds in a subdirectory).
 * OCTET_MODEL set to "" means no default. Returns a static path, or NULL. */
const char *preset_default_model(void);
/* The retrieval encoder (hybrid retrieval): $OCTET_EMBED_MODEL when set
 * ("" means none: lexical retrieval), else models/octet-embed.gguf next to
 * the octet binary (or one level up, or ../share/octet/models). Returns a
 * static path, or NULL with WHY (N bytes) saying where it was looked for. */
const char *preset_embed_model(char *why, size_t n);
/* The large model: $OCTET_MODEL_LARGE when set ("" means none), else the
 * settings file's `large_model`; NULL when neither. */
const char *preset_large_model(void);

/* Models the "default" and "large" slots stand for; NULL when not configured. */
typedef struct preset_models {
    const char *def;
    const char *large;
} preset_models_t;

/* The model file P runs: its path, the default model for "default", the
 * large model for "large" (the default one, with *fell_back set, when no
 * large model is configured). NULL when the slot is not configured. */
const char *preset_model_path(const preset_t *p, const preset_models_t *models, bool *fell_back);

/* Set P's backend to V: auto, cpu, cuda, or the API base URL of a remote
 * OpenAI-compatible engine (http:// or https://, a host, no spaces, e.g.
 * http://gpu-box:8000/v1). OCT_EINVAL with a message saying what is wrong. */
int preset_set_backend(preset_t *p, const char *v, errmsg_t *err);
/* True when P's backend is a remote engine: no local model is loaded for it,
 * so the model, context, formats and threads do not apply. */
bool preset_is_remote(const preset_t *p);
/* The host[:port] of a remote backend URL (no user info), for display. */
void preset_backend_host(const char *url, char *buf, size_t n);

const char *preset_wfmt_name(preset_wfmt_t f);
/* Engine options for P with context CTX (already clamped). */
void preset_eng_opts(const preset_t *p, uint32_t ctx, eng_opts_t *o);

typedef struct preset_plan {
    uint32_t ctx;         /* context used: p->ctx, clamped to the model's training context */
    uint32_t n_ctx_train; /* the model's */
    bool clamped;
    uint64_t weights, kv, scratch, total;
} preset_plan_t;

/* Memory the engine will take for P on model M (no allocation, no I/O). */
void preset_plan_model(const preset_t *p, const model_t *m, preset_plan_t *out);
/* Same, opening MODEL_PATH's metadata (mmap; weights are not read). */
int preset_plan(const preset_t *p, const char *model_path, preset_plan_t *out, errmsg_t *err);
/* Bytes of the engine's scratch for a model of HP: activations for a batch
 * of N_BATCH tokens (0: the engine's 256, capped at N_CTX), logits, int8
 * matmul and attention work space for N_THREADS threads (<= 0: all cores).
 * An upper estimate of what eng_memory reports after loading. */
uint64_t preset_scratch_estimate(const model_hparams_t *hp, uint32_t n_ctx, uint32_t n_batch, int n_threads);

/* Safety margin kept free on top of a plan of NEED bytes: 10% plus 256 MiB. */
uint64_t preset_margin(uint64_t need);
/* Index into L of the preset `auto` picks: the first (highest priority) with
 * OK[i] whose PLANS[i].total plus the margin fits AVAIL bytes; -1 if none. */
int preset_auto_pick(const preset_list_t *l, const preset_plan_t *plans, const bool *ok, uint64_t avail);

/* MemAvailable and MemTotal of MEMINFO (a /proc/meminfo file; NULL means
 * /proc/meminfo), in bytes. */
int preset_mem_available(const char *meminfo, uint64_t *avail, uint64_t *total, errmsg_t *err);

#endif
