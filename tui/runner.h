/* runner.h - the assistant behind the TUI, on its own worker thread: it
 * loads the model a preset names (keeping the weights when a switch leaves
 * model and weight format unchanged), keeps the conversation, retrieves
 * repository chunks, builds each prompt (prompt.h), reuses the unchanged
 * prefix already in the KV cache, and streams the answer as events. The UI
 * thread queues jobs, drains events and reads a status snapshot (memory,
 * KV fill, tok/s) whenever it redraws; Ctrl-C maps to tui_runner_cancel.
 *
 * When the preset's backend is a URL, no model is loaded (one that was is
 * freed): each turn goes to that remote OpenAI-compatible engine as chat
 * messages (remote.h) and its streamed reply comes back as the same events;
 * a poller thread reads the engine's /metrics twice a second for the gauge.
 *
 * Everything here is thread-safe for one UI thread plus the worker; no
 * ncurses, so tests drive a runner directly on the tiny models. */
#ifndef OCTET_TUI_RUNNER_H
#define OCTET_TUI_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errmsg.h"
#include "pin.h"
#include "preset.h"
#include "rag.h"
#include "remote.h"
#include "spec.h"

typedef struct tui_runner tui_runner_t;

typedef enum tui_ev_kind {
    TUI_EV_TEXT,       /* answer text as it streams (whole UTF-8 characters) */
    TUI_EV_NOTICE,     /* something the user should know (dim line) */
    TUI_EV_ERROR,      /* something failed (red line) */
    TUI_EV_CONTEXT,    /* the code a prompt got (pinned and retrieved): ctx */
    TUI_EV_ANSWER_END, /* the answer is over; text: its figures */
    TUI_EV_LOADED,     /* a model or preset change took effect */
    TUI_EV_PATCH,      /* /refactor: a checked diff waiting for the user's confirmation */
} tui_ev_kind_t;

typedef struct tui_ev {
    tui_ev_kind_t kind;
    char *text; /* NUL-terminated */
    size_t len;
    pin_ctx_t *ctx; /* TUI_EV_CONTEXT: each block and what became of it (its items only; taken with the event) */
    struct tui_ev *next;
} tui_ev_t;

void tui_ev_free(tui_ev_t *e); /* the whole list */

typedef struct tui_runner_cfg {
    rag_t *rag;              /* NULL: no retrieval (not a git repository) */
    preset_models_t models;  /* what "default" and "large" stand for (copied) */
    unsigned token_delay_ms; /* pause after each streamed token (OCTET_TUI_TOKEN_DELAY_MS) */
    bool no_heal, no_spec;   /* token healing, speculative decoding off (octet --no-heal/--no-spec) */
    const char *draft_model; /* octet --draft-model: opened beside each local model (copied); NULL: none */
    const char *template_name; /* octet --template: every local model's chat format (copied; "none":
                                * completion mode, remote engines too); NULL: each model's own */
} tui_runner_cfg_t;

int tui_runner_new(tui_runner_t **out, const tui_runner_cfg_t *cfg, errmsg_t *err);
/* Stops a running answer, waits for the worker, frees the model. */
void tui_runner_free(tui_runner_t *r);

/* Queue a switch to preset P (copied). MODEL, when not NULL, first becomes
 * the "default" model (/model). A running answer is stopped first. */
int tui_runner_use(tui_runner_t *r, const preset_t *p, const char *model);
/* Queue the user's message TEXT. OCT_EINVAL while another job runs. */
int tui_runner_send(tui_runner_t *r, const char *text);
/* The workflows (docs/tui.md). They run on the loaded model with a KV
 * cache of their own that then becomes the chat's (one cache at a time:
 * the chat's next turn is prefilled again), or on a remote preset on the
 * remote engine, stream the model's replies as
 * TEXT events (each reply ends with ANSWER_END) and stop on Ctrl-C
 * (tui_runner_cancel). OCT_EINVAL while another job runs.
 *
 * /spec: generate S's function like `octet gen --check` (3 attempts, the
 * failure fed back; retrieved repository code in the prompt when the preset
 * retrieves), checking it with CODE_DIR as the code's directory, then post
 * the code that passed or why the last attempt failed. Takes S (freed by
 * the runner, also on failure). */
int tui_runner_spec(tui_runner_t *r, spec_t *s, const char *code_dir);
/* /refactor: like `octet refactor` (refactor.h): retrieve the target (PATH,
 * SYMBOL, both may be NULL) and its uses, ask for a diff, extract it and
 * check it against the working tree of REPO_DIR, then post it as a PATCH
 * event; nothing is applied here. Unless FORCE, a target file with someone
 * else's uncommitted changes is refused before the model is asked. */
int tui_runner_refactor(tui_runner_t *r, const char *instruction, const char *path, const char *symbol, bool force,
                        const char *repo_dir);
/* The code to pin into every prompt from now on (copied): chat turns put
 * it in the system message (so it stays in the KV cache turn after turn),
 * /spec and /refactor before their retrieved code; it counts against the
 * same budget (pin.h). OCT_ENOMEM. */
int tui_runner_pins(tui_runner_t *r, const pin_list_t *pins);
/* Verbose: each prompt is posted as a notice before it is sent (a chat
 * turn as the model reads it, special tokens and all; a workflow's
 * messages). */
void tui_runner_verbose(tui_runner_t *r, bool on);
/* Forget the conversation (the KV cache keeps its reusable prefix). */
int tui_runner_clear(tui_runner_t *r);
/* Stop the running job (an answer, a prefill); no effect when idle. */
void tui_runner_cancel(tui_runner_t *r);

/* Take the events posted since the last call (oldest first; free with tui_ev_free). */
tui_ev_t *tui_runner_events(tui_runner_t *r);

/* What the remote engine's /metrics gave at the last poll. */
typedef enum tui_metrics_state {
    TUI_RM_WAIT,  /* not read yet */
    TUI_RM_OK,    /* read: rm holds it */
    TUI_RM_NONE,  /* the server has no /metrics */
    TUI_RM_DOWN,  /* the server cannot be reached */
} tui_metrics_state_t;

typedef struct tui_runner_status {
    bool busy;        /* a job runs or waits */
    bool generating;  /* an answer is streaming (Ctrl-C stops it) */
    bool loaded;      /* a model is ready */
    char state[96];   /* "idle", "loading ...", "prefill ...", "generating" */
    char model[128];  /* the model's name */
    char preset[PRESET_NAME_MAX];
    bool gpu;         /* the model runs on a GPU */
    bool completion;  /* the model has no chat template (a base model): what is typed is continued, not
                       * answered (completion mode) */
    double tok_s;     /* decode speed of the current or last answer */
    uint32_t n_gen;   /* tokens of the current or last answer */
    /* speculative decoding in the current or last answer (local engine) */
    uint32_t n_drafted;  /* drafted tokens verified; 0: none */
    double accept_rate;  /* of them accepted */
    double tok_per_pass; /* tokens per forward pass */
    uint32_t reused;  /* prompt tokens of the last answer found in the KV cache */
    uint32_t pos, n_ctx;
    eng_mem_t mem;    /* when loaded */
    /* a remote engine (the preset's backend is a URL) */
    bool remote;
    char host[128];   /* its host:port */
    tui_metrics_state_t metrics;
    remote_metrics_t rm; /* its /metrics, when metrics is TUI_RM_OK */
} tui_runner_status_t;

void tui_runner_status(tui_runner_t *r, tui_runner_status_t *st);

/* Wait until no job runs or waits, at most TIMEOUT_MS; true when idle. */
bool tui_runner_wait_idle(tui_runner_t *r, int timeout_ms);

#endif
