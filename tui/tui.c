/* tui.c - `octet` without a subcommand: options, start-up (presets, the
 * repository index, the model on the runner's thread), the main loop (keys
 * polled with a short timeout so the screen and the gauge stay live while the
 * workers run), the editor keys and the /commands. Drawing is in screen.c. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "chat.h"
#include "config.h"
#include "history.h"
#include "patch.h"
#include "sb.h"
#include "spec.h"
#include "tui.h"
#include "utf8.h"

#define HIST_MAX 1000
#define POLL_MS 50       /* key poll timeout: the loop's frame */
#define STATUS_MS 250    /* the gauge is refreshed at least this often */
#define CTRL_C_QUIT_S 2.0

/* key codes of the sequences tui_main teaches ncurses */
enum { KEY_PASTE_BEGIN = KEY_MAX + 1, KEY_PASTE_END, KEY_ALT_ENTER };

static volatile sig_atomic_t g_term;

static void on_term(int sig)
{
    (void)sig;
    g_term = 1;
}

double tui_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void say(tui_app_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->flash, sizeof a->flash, fmt, ap);
    va_end(ap);
    a->flash_until = tui_now() + 3.0;
    a->flash_while_busy = false;
}

/* ---- transcript ---------------------------------------------------------------- */

static tui_entry_t *add_entry(tui_app_t *a, tui_role_t role, const char *text, size_t len)
{
    if (a->n_ent == a->cap_ent) {
        size_t cap = a->cap_ent ? a->cap_ent * 2 : 32;
        tui_entry_t *n = realloc(a->ent, cap * sizeof *n);
        if (!n)
            return NULL;
        a->ent = n;
        a->cap_ent = cap;
    }
    tui_entry_t *e = &a->ent[a->n_ent];
    memset(e, 0, sizeof *e);
    e->role = role;
    e->text = malloc(len + 1);
    if (!e->text)
        return NULL;
    memcpy(e->text, text, len);
    e->text[len] = '\0';
    e->len = e->cap = len;
    a->n_ent++;
    return e;
}

static void entry_append(tui_entry_t *e, const char *s, size_t n)
{
    if (e->len + n > e->cap) {
        size_t cap = (e->cap + n) * 2 + 64;
        char *t = realloc(e->text, cap + 1);
        if (!t)
            return;
        e->text = t;
        e->cap = cap;
    }
    memcpy(e->text + e->len, s, n);
    e->len += n;
    e->text[e->len] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void notice(tui_app_t *a, tui_role_t role, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    add_entry(a, role, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void clear_transcript(tui_app_t *a)
{
    for (size_t i = 0; i < a->n_ent; i++) {
        free(a->ent[i].text);
        tui_lines_free(&a->ent[i].lines);
    }
    a->n_ent = 0;
    a->answer_open = false;
    a->scroll = 0;
    a->total_lines = 0;
}

/* The context panel shows C from now on (taken; NULL: nothing). */
static void set_ctx(tui_app_t *a, pin_ctx_t *c)
{
    pin_ctx_free(a->ctx);
    free(a->ctx);
    a->ctx = c;
    a->ctx_sel = 0;
    a->ctx_top = 0;
    if (a->overlay == TUI_OV_CHUNK)
        a->overlay = TUI_OV_NONE; /* its row is gone */
}

/* /refactor's diff: shown colored, then held until the user answers y or n. */
static void propose_patch(tui_app_t *a, const char *diff, size_t len)
{
    errmsg_t err = {0};
    char *block = malloc(len + 16);
    if (block) {
        int n = snprintf(block, len + 16, "```diff\n%s%s```", diff, len && diff[len - 1] != '\n' ? "\n" : "");
        add_entry(a, TUI_ROLE_ASSISTANT, block, (size_t)n);
        free(block);
    }
    if (tui_pending_set(&a->pending, diff, a->repo, a->refactor_force,
                        config_get()->commit ? a->refactor_instr : NULL, &err)) {
        notice(a, TUI_ROLE_ERROR, "refactor: %s; nothing was changed", err.msg);
        return;
    }
    notice(a, TUI_ROLE_NOTICE, "refactor: %s. Apply this patch? y applies it (/undo takes it back), n discards it",
           a->pending.summary);
    a->scroll = 0;
}

/* Events from the runner into the transcript. Notices that arrive while an
 * answer streams wait until it ends, so the answer stays in one piece. */
static bool drain_events(tui_app_t *a)
{
    tui_ev_t *ev = tui_runner_events(a->run);
    bool any = ev != NULL;
    for (tui_ev_t *e = ev; e; e = e->next) {
        switch (e->kind) {
        case TUI_EV_TEXT:
            if (!a->answer_open || !a->n_ent || a->ent[a->n_ent - 1].role != TUI_ROLE_ASSISTANT) {
                if (!add_entry(a, TUI_ROLE_ASSISTANT, "", 0))
                    break;
                a->answer_open = true;
            }
            entry_append(&a->ent[a->n_ent - 1], e->text, e->len);
            break;
        case TUI_EV_NOTICE:
        case TUI_EV_ERROR:
            if (a->answer_open) {
                char **d = realloc(a->deferred, (a->n_deferred + 1) * sizeof *d);
                if (d) {
                    a->deferred = d;
                    /* the first byte keeps the kind */
                    size_t n = e->len + 2;
                    if ((d[a->n_deferred] = malloc(n))) {
                        d[a->n_deferred][0] = e->kind == TUI_EV_ERROR ? 'E' : 'N';
                        memcpy(d[a->n_deferred] + 1, e->text, e->len + 1);
                        a->n_deferred++;
                    }
                }
            } else {
                add_entry(a, e->kind == TUI_EV_ERROR ? TUI_ROLE_ERROR : TUI_ROLE_NOTICE, e->text, e->len);
            }
            break;
        case TUI_EV_ANSWER_END:
            a->answer_open = false;
            for (size_t i = 0; i < a->n_deferred; i++) {
                add_entry(a, a->deferred[i][0] == 'E' ? TUI_ROLE_ERROR : TUI_ROLE_NOTICE, a->deferred[i] + 1,
                          strlen(a->deferred[i] + 1));
                free(a->deferred[i]);
            }
            a->n_deferred = 0;
            add_entry(a, TUI_ROLE_NOTICE, e->text, e->len);
            break;
        case TUI_EV_CONTEXT:
            set_ctx(a, e->ctx);
            e->ctx = NULL;
            break;
        case TUI_EV_LOADED:
            break;
        case TUI_EV_PATCH:
            propose_patch(a, e->text, e->len);
            break;
        }
    }
    tui_ev_free(ev);
    return any;
}

static void refresh_status(tui_app_t *a)
{
    tui_runner_status(a->run, &a->st);
    errmsg_t err;
    if (preset_mem_available(NULL, &a->ram_avail, &a->ram_total, &err))
        a->ram_avail = a->ram_total = 0;
}

/* ---- presets ----------------------------------------------------------------- */

static preset_models_t models_of(const tui_app_t *a)
{
    preset_models_t m = {a->model_arg, a->large_arg};
    return m;
}

/* Bytes `auto` may plan with: free device memory when a GPU is in use or,
 * before the first model, usable (asked of the engine without loading
 * anything); available RAM otherwise. What the loaded model holds counts
 * as free, since a switch releases it. *GPU tells which. */
static uint64_t available_memory(tui_app_t *a, bool *gpu)
{
    refresh_status(a);
    uint64_t own = a->st.loaded ? a->st.mem.weights + a->st.mem.kv + a->st.mem.scratch : 0;
    *gpu = a->st.loaded && a->st.gpu;
    if (*gpu)
        return a->st.mem.dev[0].dev_free + own;
    uint64_t fr, tot;
    errmsg_t err;
    if (!a->st.loaded && eng_auto_uses_gpu() && eng_gpu_info(NULL, 0, &fr, &tot, &err) == 0) {
        *gpu = true;
        return fr;
    }
    return a->ram_avail + own;
}

/* P as it is used: --backend replaces its backend. */
static preset_t effective(const tui_app_t *a, const preset_t *p)
{
    preset_t q = *p;
    errmsg_t err;
    if (a->backend_arg)
        preset_set_backend(&q, a->backend_arg, &err); /* checked at start */
    return q;
}

/* Plans for every preset (the picker and `auto`). A preset on a remote
 * engine has none (it needs no local memory): *REMOTE[i] says so. */
static void compute_plans(tui_app_t *a, preset_plan_t *plans, bool *ok, bool *remote, char (*why)[160])
{
    preset_models_t m = models_of(a);
    for (size_t i = 0; i < a->presets.n; i++) {
        const preset_t p = effective(a, &a->presets.v[i]);
        bool fb;
        const char *path = preset_model_path(&p, &m, &fb);
        errmsg_t err = {0};
        ok[i] = false;
        remote[i] = preset_is_remote(&p);
        if (remote[i]) {
            snprintf(why[i], 160, "remote engine %.140s", p.backend);
            continue;
        }
        if (!path) {
            snprintf(why[i], 160, "no model configured");
            continue;
        }
        if (preset_plan(&p, path, &plans[i], &err)) {
            snprintf(why[i], 160, "%.159s", err.msg);
            continue;
        }
        ok[i] = true;
        why[i][0] = '\0';
    }
}

/* Resolve `auto`: the preset of highest priority that fits. Presets on a
 * remote engine are left out, unless --backend sends them all there: then
 * nothing is planned and the first by priority is used. */
static const preset_t *pick_auto(tui_app_t *a)
{
    size_t n = a->presets.n;
    preset_plan_t *plans = calloc(n ? n : 1, sizeof *plans);
    bool *ok = calloc(n ? n : 1, sizeof *ok), *remote = calloc(n ? n : 1, sizeof *remote);
    char (*why)[160] = calloc(n ? n : 1, sizeof *why);
    const preset_t *res = NULL;
    if (!plans || !ok || !remote || !why)
        goto done;
    compute_plans(a, plans, ok, remote, why);
    if (n && remote[0] && a->backend_arg) {
        res = &a->presets.v[0];
        notice(a, TUI_ROLE_NOTICE, "auto: %s (on the remote engine %s, no local memory needed)", res->name,
               a->backend_arg);
        goto done;
    }
    bool gpu;
    uint64_t avail = available_memory(a, &gpu);
    int k = preset_auto_pick(&a->presets, plans, ok, avail);
    char av[16], need[16], mg[16];
    tui_fmt_bytes(avail, av, sizeof av);
    if (k < 0) {
        size_t smallest = n;
        for (size_t i = 0; i < n; i++)
            if (ok[i] && (smallest == n || plans[i].total < plans[smallest].total))
                smallest = i;
        if (smallest == n) {
            notice(a, TUI_ROLE_ERROR, "auto: no preset has a usable model (%s)", n ? why[0] : "no presets");
        } else {
            tui_fmt_bytes(plans[smallest].total + preset_margin(plans[smallest].total), need, sizeof need);
            notice(a, TUI_ROLE_ERROR,
                   "auto: no preset fits in %s of free memory (the smallest, %s, needs %s with the margin); "
                   "choose one with /preset NAME",
                   av, a->presets.v[smallest].name, need);
        }
        goto done;
    }
    res = &a->presets.v[k];
    tui_fmt_bytes(plans[k].total, need, sizeof need);
    tui_fmt_bytes(preset_margin(plans[k].total), mg, sizeof mg);
    notice(a, TUI_ROLE_NOTICE, "auto: %s fits (plan %s + margin %s; %s %s available)", res->name, need, mg, av,
           gpu ? "VRAM" : "RAM");
done:
    free(plans);
    free(ok);
    free(remote);
    free(why);
    return res;
}

static void use_preset(tui_app_t *a, const char *name)
{
    const preset_t *p = !strcmp(name, PRESET_AUTO) ? pick_auto(a) : preset_find(&a->presets, name);
    if (!p) {
        if (strcmp(name, PRESET_AUTO)) {
            char names[1024] = "";
            size_t o = 0;
            for (size_t i = 0; i < a->presets.n && o < sizeof names; i++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s ", a->presets.v[i].name);
            notice(a, TUI_ROLE_ERROR, "no preset '%s' (presets: %sauto)", name, names);
        }
        return;
    }
    a->preset = effective(a, p);
    if (tui_runner_use(a->run, &a->preset, NULL))
        notice(a, TUI_ROLE_ERROR, "out of memory");
}

static void open_picker(tui_app_t *a)
{
    size_t n = a->presets.n;
    free(a->picks);
    a->picks = calloc(n + 1, sizeof *a->picks);
    preset_plan_t *plans = calloc(n ? n : 1, sizeof *plans);
    bool *ok = calloc(n ? n : 1, sizeof *ok), *remote = calloc(n ? n : 1, sizeof *remote);
    char (*why)[160] = calloc(n ? n : 1, sizeof *why);
    if (!a->picks || !plans || !ok || !remote || !why) {
        free(a->picks);
        a->picks = NULL;
        goto done;
    }
    compute_plans(a, plans, ok, remote, why);
    bool gpu;
    uint64_t avail = available_memory(a, &gpu);
    snprintf(a->picks[0].name, sizeof a->picks[0].name, "%s", PRESET_AUTO);
    char av[16];
    tui_fmt_bytes(avail, av, sizeof av);
    snprintf(a->picks[0].plan, sizeof a->picks[0].plan, "the first that fits in %s of %s, by priority", av,
             gpu ? "VRAM" : "RAM");
    snprintf(a->picks[0].brief, sizeof a->picks[0].brief, "the first that fits in %s %s", av, gpu ? "VRAM" : "RAM");
    a->picks[0].fits = true;
    for (size_t i = 0; i < n; i++) {
        tui_pick_t *p = &a->picks[i + 1];
        snprintf(p->name, sizeof p->name, "%s", a->presets.v[i].name);
        if (!ok[i]) {
            snprintf(p->plan, sizeof p->plan, "%s", why[i]);
            snprintf(p->brief, sizeof p->brief, "%s", why[i]);
            p->fits = remote[i]; /* takes no local memory */
            continue;
        }
        const preset_plan_t *pl = &plans[i];
        char w[16], k[16], s[16], t[16], ctx[48], cs[32];
        tui_fmt_bytes(pl->weights, w, sizeof w);
        tui_fmt_bytes(pl->kv, k, sizeof k);
        tui_fmt_bytes(pl->scratch, s, sizeof s);
        tui_fmt_bytes(pl->total, t, sizeof t);
        if (pl->clamped) {
            snprintf(ctx, sizeof ctx, "ctx %u (of %u)", pl->ctx, a->presets.v[i].ctx);
            snprintf(cs, sizeof cs, "%u/%u", pl->ctx, a->presets.v[i].ctx);
        } else {
            snprintf(ctx, sizeof ctx, "ctx %u", pl->ctx);
            snprintf(cs, sizeof cs, "%u", pl->ctx);
        }
        p->fits = pl->total + preset_margin(pl->total) <= avail;
        /* figures right-aligned in columns of their own: the rows line up */
        snprintf(p->plan, sizeof p->plan, "%-18s %-11s %6s + %6s + %6s = %6s  %s", ctx,
                 preset_wfmt_name(a->presets.v[i].wfmt), w, k, s, t, p->fits ? "fits" : "too big");
        snprintf(p->brief, sizeof p->brief, "%-11s %-11s %6s+%6s+%6s=%6s %s", cs,
                 preset_wfmt_name(a->presets.v[i].wfmt), w, k, s, t, p->fits ? "fits" : "too big");
    }
    a->n_picks = n + 1;
    a->pick_sel = 0;
    for (size_t i = 1; i < a->n_picks; i++)
        if (!strcmp(a->picks[i].name, a->preset.name))
            a->pick_sel = (int)i;
    a->overlay = TUI_OV_PICKER;
done:
    free(plans);
    free(ok);
    free(remote);
    free(why);
}

/* ---- commands ------------------------------------------------------------------ */

static char *skip_ws(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
        s[--n] = '\0';
}

static void start_index(tui_app_t *a)
{
    errmsg_t err = {0};
    if (!a->rag) {
        notice(a, TUI_ROLE_ERROR, "no index: %s is not in a git repository", a->repo);
        return;
    }
    if (a->idx) {
        tui_index_progress_t p;
        tui_indexer_progress(a->idx, &p);
        if (p.running) {
            say(a, "the index is being updated already");
            return;
        }
        tui_indexer_free(a->idx);
        a->idx = NULL;
    }
    if (tui_indexer_start(&a->idx, a->rag, a->enc != NULL, &err))
        notice(a, TUI_ROLE_ERROR, "%s", err.msg);
}

static void cmd_search(tui_app_t *a, const char *q)
{
    rag_results_t res = {0};
    errmsg_t err = {0};
    if (!a->rag) {
        notice(a, TUI_ROLE_ERROR, "no index: %s is not in a git repository", a->repo);
        return;
    }
    if (!q[0]) {
        notice(a, TUI_ROLE_ERROR, "usage: /search QUERY");
        return;
    }
    rag_query_info_t info;
    if (rag_query_ex(a->rag, q, strlen(q), 10, a->lexical ? RAG_MODE_LEXICAL : RAG_MODE_HYBRID, &res, &info, &err)) {
        notice(a, TUI_ROLE_ERROR, "search failed: %s", err.msg);
        return;
    }
    sbuf_t txt = {0};
    pin_ctx_t *found = calloc(1, sizeof *found);
    sb_addf(&txt, "search '%s': %zu chunks (%s%s%s)", q, res.n, info.mode == RAG_MODE_HYBRID ? "hybrid" : "lexical",
            info.mode == RAG_MODE_LEXICAL && (a->enc || a->lexical) ? ": " : "",
            info.mode == RAG_MODE_HYBRID || !(a->enc || a->lexical) ? "" : a->lexical ? "--lexical" : info.why);
    for (size_t i = 0; i < res.n; i++) {
        const rag_hit_t *h = &res.hits[i];
        sb_addf(&txt, "\n%zu  %s:%d-%d  %.3g  %s", i + 1, h->path, h->start, h->end, h->score,
                h->symbol ? h->symbol : "");
    }
    if (txt.s && !txt.oom)
        add_entry(a, TUI_ROLE_NOTICE, txt.s, txt.n);
    sb_free(&txt);
    if (found && pin_ctx_found(&res, found, &err) == 0) {
        set_ctx(a, found);
        found = NULL;
    }
    free(found);
    rag_results_free(&res);
}

static int write_file(const char *path, const char *data, size_t len, char *why, size_t wn)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(why, wn, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    bool bad = len && fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad) {
        snprintf(why, wn, "%s: write error", path);
        return -1;
    }
    return 0;
}

static void save_transcript(tui_app_t *a, const char *path)
{
    size_t cap = 64, o = 0, turns = 0;
    for (size_t i = 0; i < a->n_ent; i++)
        cap += a->ent[i].len + 32;
    char *md = malloc(cap), why[512];
    if (!md)
        return;
    o += (size_t)snprintf(md, cap, "# octet transcript\n");
    for (size_t i = 0; i < a->n_ent; i++) {
        const tui_entry_t *e = &a->ent[i];
        if (e->role != TUI_ROLE_USER && e->role != TUI_ROLE_ASSISTANT)
            continue;
        o += (size_t)snprintf(md + o, cap - o, "\n## %s\n\n%s\n", e->role == TUI_ROLE_USER ? "You" : "octet",
                              e->text);
        turns++;
    }
    if (write_file(path, md, o, why, sizeof why))
        notice(a, TUI_ROLE_ERROR, "%s", why);
    else
        notice(a, TUI_ROLE_NOTICE, "saved %zu messages to %s", turns, path);
    free(md);
}

/* /save FILE: an existing FILE is replaced only after y. */
static void cmd_save(tui_app_t *a, const char *path)
{
    if (!path[0]) {
        notice(a, TUI_ROLE_ERROR, "usage: /save FILE");
        return;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        free(a->save_path);
        a->save_path = strdup(path);
        return;
    }
    save_transcript(a, path);
}

/* Waiting for y/n on /save's existing file. */
static void key_save_confirm(tui_app_t *a, int ch, bool fn)
{
    bool yes = !fn && (ch == 'y' || ch == 'Y');
    if (!yes && !(!fn && (ch == 'n' || ch == 'N' || ch == 27 || ch == 3))) {
        say(a, "replace %s? y replaces it, n keeps it", a->save_path);
        return;
    }
    if (yes)
        save_transcript(a, a->save_path);
    else
        notice(a, TUI_ROLE_NOTICE, "not saved: %s kept as it was", a->save_path);
    free(a->save_path);
    a->save_path = NULL;
}

static char *base64(const char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)s[i + 2] : 0);
        *p++ = tab[v >> 18 & 63];
        *p++ = tab[v >> 12 & 63];
        *p++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *p = '\0';
    return o;
}

static void cmd_copy(tui_app_t *a, char *args)
{
    char *end;
    long n = strtol(args, &end, 10);
    if (end == args || n < 1) {
        notice(a, TUI_ROLE_ERROR, "usage: /copy N [FILE] (N: the number in the code block's frame)");
        return;
    }
    char *file = skip_ws(end);
    long k = 0;
    for (size_t i = 0; i < a->n_ent; i++) {
        const tui_entry_t *e = &a->ent[i];
        size_t start, len;
        int count;
        if (e->role != TUI_ROLE_ASSISTANT)
            continue;
        if (!tui_md_code_block(e->text, e->len, (int)(n - k), &start, &len, &count)) {
            k += count;
            continue;
        }
        const char *code = e->text + start;
        char why[512];
        if (file[0]) {
            char *data = malloc(len + 2);
            if (!data)
                return;
            memcpy(data, code, len);
            data[len] = '\n';
            if (write_file(file, data, len + 1, why, sizeof why))
                notice(a, TUI_ROLE_ERROR, "%s", why);
            else
                notice(a, TUI_ROLE_NOTICE, "code block %ld (%zu bytes) written to %s", n, len + 1, file);
            free(data);
        } else {
            /* OSC 52: the terminal (and tmux with set-clipboard) puts it on the clipboard */
            char *b64 = base64(code, len);
            if (!b64)
                return;
            printf("\033]52;c;%s\a", b64);
            fflush(stdout);
            free(b64);
            notice(a, TUI_ROLE_NOTICE, "code block %ld (%zu bytes) sent to the terminal's clipboard", n, len);
        }
        return;
    }
    notice(a, TUI_ROLE_ERROR, "no code block %ld (the transcript has %ld)", n, k);
}

/* /undo shows what undoing the latest apply would restore; /undo yes does it.
 * Same records and checks as `octet undo` (flows/patch.h). */
static void cmd_undo(tui_app_t *a, const char *args)
{
    bool yes = !strcmp(args, "yes") || !strcmp(args, "y");
    if (args[0] && !yes) {
        notice(a, TUI_ROLE_ERROR, "usage: /undo (show what would be restored), then /undo yes");
        return;
    }
    patch_undo_t *u = NULL;
    errmsg_t err = {0};
    if (patch_undo_peek(a->repo, &u, &err)) {
        notice(a, TUI_ROLE_ERROR, "undo: %s", err.msg);
        return;
    }
    size_t cap = 256, o = 0;
    for (size_t i = 0; i < u->n_files; i++)
        cap += strlen(u->files[i].path) + 64;
    char *txt = malloc(cap);
    if (!txt)
        goto out;
    o += (size_t)snprintf(txt, cap, "undo record %s, applied %s: %s", u->id, u->created, u->summary);
    for (size_t i = 0; i < u->n_files; i++) {
        const patch_undo_file_t *f = &u->files[i];
        o += (size_t)snprintf(txt + o, cap - o, "\n  %-8s %s%s", !f->existed ? "remove" : !f->exists ? "restore" : "revert",
                              f->path, f->changed ? "  (changed since the patch was applied)" : "");
    }
    if (u->n_changed) {
        add_entry(a, TUI_ROLE_NOTICE, txt, o);
        notice(a, TUI_ROLE_ERROR,
               "undo: %zu file%s changed since the patch was applied: nothing was restored (`octet undo --force` "
               "restores them anyway)",
               u->n_changed, u->n_changed == 1 ? "" : "s");
        goto out;
    }
    if (!yes) {
        add_entry(a, TUI_ROLE_NOTICE, txt, o);
        size_t dn = strlen(u->diff) + 32;
        char *block = malloc(dn);
        if (block) {
            int n = snprintf(block, dn, "```diff\n%s%s```", u->diff,
                             u->diff[0] && u->diff[strlen(u->diff) - 1] != '\n' ? "\n" : "");
            add_entry(a, TUI_ROLE_ASSISTANT, block, (size_t)n);
            free(block);
        }
        notice(a, TUI_ROLE_NOTICE, "type /undo yes to restore these files");
        goto out;
    }
    patch_undo_t *done = NULL;
    if (patch_undo(a->repo, false, &done, &err)) {
        notice(a, TUI_ROLE_ERROR, "undo: %s", err.msg);
        goto out;
    }
    if (done->commit)
        notice(a, TUI_ROLE_NOTICE, "took back commit %.12s: HEAD is its parent again", done->commit);
    if (done->depth)
        notice(a, TUI_ROLE_NOTICE, "restored %zu file%s (%zu earlier patch%s can still be undone)", done->n_files,
               done->n_files == 1 ? "" : "s", done->depth, done->depth == 1 ? "" : "es");
    else
        notice(a, TUI_ROLE_NOTICE, "restored %zu file%s", done->n_files, done->n_files == 1 ? "" : "s");
    /* undone below the start: /diff and /commit count from what is left */
    if (a->since && strcmp(done->id, a->since) <= 0) {
        free(a->since);
        a->since = patch_latest_record(a->repo);
    }
    patch_undo_free(done);
out:
    free(txt);
    patch_undo_free(u);
}

/* /diff: what octet changed in the repository since the TUI started (the
 * undo records made since), as one diff. */
static void cmd_diff(tui_app_t *a)
{
    char *diff = NULL;
    size_t n = 0;
    errmsg_t err = {0};
    if (patch_since(a->repo, a->since, &diff, &n, &err)) {
        notice(a, TUI_ROLE_ERROR, "diff: %s", err.msg);
        return;
    }
    if (!diff[0]) {
        notice(a, TUI_ROLE_NOTICE, n ? "octet's %zu change%s since the start cancel out: nothing differs"
                                     : "octet has changed nothing here since the start",
               n, n == 1 ? "" : "s");
        free(diff);
        return;
    }
    size_t len = strlen(diff), dn = len + 16;
    char *block = malloc(dn);
    if (block) {
        int k = snprintf(block, dn, "```diff\n%s%s```", diff, diff[len - 1] != '\n' ? "\n" : "");
        add_entry(a, TUI_ROLE_ASSISTANT, block, (size_t)k);
        free(block);
    }
    notice(a, TUI_ROLE_NOTICE, "octet's %zu change%s since the start: /commit commits them, /undo takes back the "
                               "latest", n, n == 1 ? "" : "s");
    a->scroll = 0;
    free(diff);
}

/* /commit [MESSAGE]: commit what octet changed since the start (only those
 * files; the user's other changes stay out). */
static void cmd_commit(tui_app_t *a, const char *args)
{
    char *id = NULL, *msg = NULL;
    errmsg_t err = {0};
    if (args[0] ? asprintf(&msg, "%s\n", args) < 0 : asprintf(&msg, "octet: changes made in the terminal UI\n") < 0)
        return;
    if (patch_commit_since(a->repo, a->since, msg, &id, &err))
        notice(a, TUI_ROLE_ERROR, "commit: %s", err.msg);
    else
        notice(a, TUI_ROLE_NOTICE, "committed as %.12s (only the files octet changed); /undo takes back the latest "
                                   "change and the commit",
               id);
    free(id);
    free(msg);
}

/* Start generating S's function (takes S). */
static void start_spec(tui_app_t *a, spec_t *s)
{
    char what[256];
    snprintf(what, sizeof what, "spec %s (%s, %zu input%s, %zu example%s): generating and checking, up to 3 attempts",
             s->name, spec_lang_name(s->lang), s->n_inputs, s->n_inputs == 1 ? "" : "s", s->n_examples,
             s->n_examples == 1 ? "" : "s");
    if (tui_runner_spec(a->run, s, a->repo)) {
        say(a, "octet is busy: wait, or Ctrl-C to stop it");
        return;
    }
    notice(a, TUI_ROLE_NOTICE, "%s", what);
    a->scroll = 0;
}

static bool busy(tui_app_t *a)
{
    refresh_status(a);
    if (a->st.busy)
        say(a, "octet is busy (%s): wait, or Ctrl-C to stop it", a->st.state);
    return a->st.busy;
}

/* A path typed in the TUI: relative ones are taken from the repository root. */
static char *repo_path(const tui_app_t *a, const char *p)
{
    char *full = NULL;
    if (p[0] == '/' || asprintf(&full, "%s/%s", a->repo, p) < 0)
        return strdup(p);
    return full;
}

/* /spec opens the form; /spec FILE generates from a spec file. */
static void cmd_spec(tui_app_t *a, const char *args)
{
    if (!args[0]) {
        a->overlay = TUI_OV_FORM; /* busy or not: it is checked on submission */
        return;
    }
    if (busy(a))
        return;
    spec_t *s = NULL;
    errmsg_t err = {0};
    char *path = access(args, F_OK) == 0 ? strdup(args) : repo_path(a, args);
    if (!path)
        return;
    if (spec_load(&s, path, &err))
        notice(a, TUI_ROLE_ERROR, "spec: %s", err.msg);
    else
        start_spec(a, s);
    free(path);
}

static void form_submit(tui_app_t *a)
{
    spec_t *s = NULL;
    errmsg_t err = {0};
    if (busy(a))
        return;
    int rc = tui_form_submit(&a->form, &s, &err);
    if (rc == OCT_EFORMAT)
        return; /* shown at the field; the form stays open */
    if (rc) {
        notice(a, TUI_ROLE_ERROR, "spec: %s", err.msg);
        return;
    }
    a->overlay = TUI_OV_NONE;
    start_spec(a, s);
}

static void cmd_refactor(tui_app_t *a, char *args)
{
    const char *path, *symbol;
    bool force;
    errmsg_t err = {0};
    if (busy(a))
        return;
    if (!a->rag) {
        notice(a, TUI_ROLE_ERROR, "refactor: no repository index (%s is not in a git repository)", a->repo);
        return;
    }
    char *instr = malloc(strlen(args) + 1), *full = NULL;
    if (!instr)
        return;
    if (tui_refactor_args(args, instr, &path, &symbol, &force, &err)) {
        notice(a, TUI_ROLE_ERROR, "usage: /refactor INSTRUCTION [--path P | --symbol S] [--force]: %s", err.msg);
        goto done;
    }
    if (path && !(full = repo_path(a, path)))
        goto done;
    a->refactor_force = force;
    free(a->refactor_instr);
    a->refactor_instr = strdup(instr);
    if (tui_runner_refactor(a->run, instr, full, symbol, force, a->repo)) {
        say(a, "octet is busy: wait, or Ctrl-C to stop it");
        goto done;
    }
    notice(a, TUI_ROLE_NOTICE, "refactor: %s%s%s%s", instr, path ? " (the file " : symbol ? " (the symbol " : "",
           path ? path : symbol ? symbol : "", path || symbol ? ")" : "");
    a->scroll = 0;
done:
    free(full);
    free(instr);
}

/* The pins changed: the runner takes them for the next prompt, the panel
 * shows them as they will go. */
static void pins_changed(tui_app_t *a)
{
    errmsg_t err = {0};
    if (tui_runner_pins(a->run, &a->pins)) {
        notice(a, TUI_ROLE_ERROR, "out of memory");
        return;
    }
    pin_ctx_t *c = a->ctx ? a->ctx : calloc(1, sizeof *c);
    if (!c || pin_ctx_repin(c, &a->pins, &err)) {
        if (c != a->ctx)
            free(c);
        return;
    }
    if (c != a->ctx)
        set_ctx(a, c);
    a->ctx_sel = 0;
    a->ctx_top = 0;
}

/* /add PATH[:START-END] | SYMBOL: pin code into every prompt. */
static void cmd_add(tui_app_t *a, const char *args)
{
    char *what = NULL;
    errmsg_t err = {0};
    if (!args[0]) {
        notice(a, TUI_ROLE_ERROR, "usage: /add PATH[:START-END] | SYMBOL (a file, lines of it, or the definition of a "
                                  "function, class or method)");
        return;
    }
    const char *root = a->rag ? rag_root(a->rag) : a->repo;
    if (pin_add(&a->pins, args, a->repo, root, a->rag, &what, &err)) {
        notice(a, TUI_ROLE_ERROR, "add: %s", err.msg);
        return;
    }
    notice(a, TUI_ROLE_NOTICE, "%s; it goes into every prompt until /drop (/context lists the pins)",
           what ? what : "pinned");
    free(what);
    pins_changed(a);
}

/* /drop [N | PATH | SYMBOL]: unpin one, or all. */
static void cmd_drop(tui_app_t *a, const char *args)
{
    char *what = NULL;
    errmsg_t err = {0};
    if (pin_drop(&a->pins, args, &what, &err)) {
        notice(a, TUI_ROLE_ERROR, "drop: %s", err.msg);
        return;
    }
    notice(a, TUI_ROLE_NOTICE, "%s", what ? what : "dropped");
    free(what);
    pins_changed(a);
}

/* /verbose [on|off]: show each prompt before it is sent. */
static void cmd_verbose(tui_app_t *a, const char *args)
{
    if (args[0] && strcmp(args, "on") && strcmp(args, "off")) {
        notice(a, TUI_ROLE_ERROR, "usage: /verbose [on|off] (no argument: switch)");
        return;
    }
    a->verbose = args[0] ? !strcmp(args, "on") : !a->verbose;
    tui_runner_verbose(a->run, a->verbose);
    notice(a, TUI_ROLE_NOTICE, a->verbose ? "verbose: each prompt is shown here before it is sent (/verbose again: off)"
                                          : "verbose off");
}

/* F3 and /context: the panel with the keys (Up/Down, Enter), or away. */
static void toggle_ctx(tui_app_t *a)
{
    a->show_ctx = !a->show_ctx;
    a->ctx_focus = a->show_ctx;
}

static void run_command(tui_app_t *a, char *line)
{
    rtrim(line);
    char *cmd = line + 1, *args = cmd;
    while (*args && *args != ' ' && *args != '\t')
        args++;
    if (*args)
        *args++ = '\0';
    args = skip_ws(args);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
        a->overlay = TUI_OV_HELP;
    } else if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit") || !strcmp(cmd, "q")) {
        a->quit = true;
    } else if (!strcmp(cmd, "preset")) {
        if (args[0])
            use_preset(a, args);
        else
            open_picker(a);
    } else if (!strcmp(cmd, "model")) {
        if (!args[0]) {
            notice(a, TUI_ROLE_ERROR, "usage: /model PATH (a GGUF file)");
            return;
        }
        if (tui_runner_use(a->run, &a->preset, args))
            notice(a, TUI_ROLE_ERROR, "out of memory");
        /* later presets naming the default model get this one too */
        free((char *)a->model_arg);
        a->model_arg = strdup(args);
    } else if (!strcmp(cmd, "index")) {
        start_index(a);
    } else if (!strcmp(cmd, "search")) {
        cmd_search(a, args);
    } else if (!strcmp(cmd, "clear")) {
        if (a->st.busy) {
            say(a, "wait for the answer (or Ctrl-C) before /clear");
            return;
        }
        clear_transcript(a);
        tui_runner_clear(a->run);
        set_ctx(a, NULL);
    } else if (!strcmp(cmd, "save")) {
        cmd_save(a, args);
    } else if (!strcmp(cmd, "copy")) {
        cmd_copy(a, args);
    } else if (!strcmp(cmd, "undo")) {
        cmd_undo(a, args);
    } else if (!strcmp(cmd, "diff")) {
        cmd_diff(a);
    } else if (!strcmp(cmd, "commit")) {
        cmd_commit(a, args);
    } else if (!strcmp(cmd, "spec")) {
        cmd_spec(a, args);
    } else if (!strcmp(cmd, "refactor")) {
        cmd_refactor(a, args);
    } else if (!strcmp(cmd, "context")) {
        toggle_ctx(a);
    } else if (!strcmp(cmd, "add")) {
        cmd_add(a, args);
    } else if (!strcmp(cmd, "drop")) {
        cmd_drop(a, args);
    } else if (!strcmp(cmd, "verbose")) {
        cmd_verbose(a, args);
    } else {
        notice(a, TUI_ROLE_ERROR, "unknown command /%s (F1 or /help lists them)", cmd);
    }
}

static void submit(tui_app_t *a)
{
    char *text = strdup(tui_ed_text(&a->ed));
    if (!text)
        return;
    char *t = text;
    while (*t == ' ' || *t == '\n' || *t == '\t')
        t++;
    if (!*t) {
        free(text);
        return;
    }
    errmsg_t err = {0};
    if (t[0] == '/' && t[1] != '/' && t[1] != ' ') {
        tui_ed_hist_add(&a->ed, t);
        if (a->hist_path[0] && tui_hist_append(a->hist_path, t, &err))
            say(a, "history not saved: %s", err.msg);
        tui_ed_set(&a->ed, "");
        run_command(a, t);
        free(text);
        return;
    }
    refresh_status(a);
    if (a->st.busy) {
        say(a, "octet is busy (%s): wait, or Ctrl-C to stop it", a->st.state);
        free(text);
        return;
    }
    rtrim(t);
    tui_ed_hist_add(&a->ed, t);
    if (a->hist_path[0] && tui_hist_append(a->hist_path, t, &err))
        say(a, "history not saved: %s", err.msg);
    if (tui_runner_send(a->run, t) == 0) {
        add_entry(a, TUI_ROLE_USER, t, strlen(t));
        tui_ed_set(&a->ed, "");
        a->scroll = 0;
    } else {
        say(a, "octet is busy: wait, or Ctrl-C to stop it");
    }
    free(text);
}

/* ---- keys ---------------------------------------------------------------------- */

static void key_picker(tui_app_t *a, int ch, bool fn)
{
    if (fn && ch == KEY_UP)
        a->pick_sel = a->pick_sel > 0 ? a->pick_sel - 1 : 0;
    else if (fn && ch == KEY_DOWN)
        a->pick_sel = a->pick_sel + 1 < (int)a->n_picks ? a->pick_sel + 1 : a->pick_sel;
    else if ((!fn && (ch == '\r' || ch == '\n')) || (fn && ch == KEY_ENTER)) {
        a->overlay = TUI_OV_NONE;
        if (a->pick_sel < (int)a->n_picks)
            use_preset(a, a->picks[a->pick_sel].name);
    } else if ((!fn && (ch == 27 || ch == 'q' || ch == 3)) || (fn && ch == KEY_F(2)))
        a->overlay = TUI_OV_NONE;
}

static void insert_wchar(tui_ed_t *ed, wint_t wc)
{
    char buf[8];
    size_t n = utf8_encode((uint32_t)wc, buf);
    tui_ed_insert(ed, buf, n);
}

/* The editing keys shared by the input line and the form's fields; false
 * when KEY is not one of them. */
static bool edit_key(tui_ed_t *ed, int ch, bool fn, wint_t wc)
{
    if (fn) {
        switch (ch) {
        case KEY_LEFT:
            tui_ed_left(ed);
            return true;
        case KEY_RIGHT:
            tui_ed_right(ed);
            return true;
        case KEY_HOME:
            tui_ed_home(ed);
            return true;
        case KEY_END:
            tui_ed_end(ed);
            return true;
        case KEY_BACKSPACE:
            tui_ed_backspace(ed);
            return true;
        case KEY_DC:
            tui_ed_delete(ed);
            return true;
        default:
            return false;
        }
    }
    switch (ch) {
    case 1: /* Ctrl-A */
        tui_ed_home(ed);
        return true;
    case 5: /* Ctrl-E */
        tui_ed_end(ed);
        return true;
    case 2: /* Ctrl-B */
        tui_ed_left(ed);
        return true;
    case 6: /* Ctrl-F */
        tui_ed_right(ed);
        return true;
    case 11: /* Ctrl-K */
        tui_ed_kill_eol(ed);
        return true;
    case 21: /* Ctrl-U */
        tui_ed_kill_bol(ed);
        return true;
    case 23: /* Ctrl-W */
        tui_ed_kill_word(ed);
        return true;
    case 25: /* Ctrl-Y */
        tui_ed_yank(ed);
        return true;
    case 8:
    case 127:
        tui_ed_backspace(ed);
        return true;
    default:
        if (ch >= 32 && ch != 127) {
            insert_wchar(ed, wc);
            return true;
        }
        return false;
    }
}

/* The /spec form: Tab/Enter next field, Shift-Tab previous, Enter on the
 * last field submits, Esc (or Ctrl-C) closes it keeping what was typed. */
static void key_form(tui_app_t *a, int ch, bool fn, wint_t wc)
{
    tui_form_t *f = &a->form;
    tui_ed_t *ed = &f->f[f->cur];
    bool multi = f->cur == TUI_FORM_EXAMPLES;
    if (fn) {
        switch (ch) {
        case KEY_BTAB:
            tui_form_prev(f);
            return;
        case KEY_UP:
            if (!multi || !tui_ed_up(ed))
                tui_form_prev(f);
            return;
        case KEY_DOWN:
            if (!multi || !tui_ed_down(ed))
                tui_form_next(f);
            return;
        case KEY_ENTER:
            break;
        case KEY_ALT_ENTER:
            if (multi)
                tui_ed_insert(ed, "\n", 1);
            return;
        default:
            edit_key(ed, ch, fn, wc);
            return;
        }
    }
    switch (ch) {
    case 27: /* Esc */
    case 3:  /* Ctrl-C */
        a->overlay = TUI_OV_NONE;
        say(a, "spec form closed (/spec opens it again with what was typed)");
        return;
    case '\t':
        tui_form_next(f);
        return;
    case '\n': /* Ctrl-J: a new example line */
        if (multi)
            tui_ed_insert(ed, "\n", 1);
        return;
    case '\r':
    case KEY_ENTER:
        if (multi)
            form_submit(a);
        else
            tui_form_next(f);
        return;
    default:
        edit_key(ed, ch, fn, wc);
        return;
    }
}

/* The context panel has the keys: Up/Down pick a row, Enter shows its
 * lines, Esc gives the keys back; true when KEY was one of those. Typing
 * gives the keys back too (and goes into the input). */
static bool key_panel(tui_app_t *a, int ch, bool fn)
{
    int n = a->ctx ? (int)a->ctx->n : 0;
    if (fn && (ch == KEY_UP || ch == KEY_DOWN || ch == KEY_HOME || ch == KEY_END)) {
        int sel = ch == KEY_UP ? a->ctx_sel - 1 : ch == KEY_DOWN ? a->ctx_sel + 1 : ch == KEY_HOME ? 0 : n - 1;
        a->ctx_sel = sel < 0 ? 0 : sel >= n ? (n > 0 ? n - 1 : 0) : sel;
        return true;
    }
    if ((fn && ch == KEY_ENTER) || (!fn && ch == '\r')) {
        if (n > 0) {
            a->overlay = TUI_OV_CHUNK;
            a->view_top = 0;
        }
        return true;
    }
    if (!fn && ch == 27) {
        a->ctx_focus = false;
        return true;
    }
    if (!fn && (ch >= 32 || ch == '\t'))
        a->ctx_focus = false;
    return false;
}

/* The lines of a panel row: Up/Down/PgUp/PgDn/Home/End scroll (drawing
 * keeps it in range), Esc, q, Enter or F3 close. */
static void key_view(tui_app_t *a, int ch, bool fn)
{
    int page = LINES > 6 ? LINES - 6 : 1;
    if (fn && ch == KEY_UP)
        a->view_top--;
    else if (fn && ch == KEY_DOWN)
        a->view_top++;
    else if (fn && ch == KEY_PPAGE)
        a->view_top -= page;
    else if (fn && ch == KEY_NPAGE)
        a->view_top += page;
    else if (fn && ch == KEY_HOME)
        a->view_top = 0;
    else if (fn && ch == KEY_END)
        a->view_top = 1 << 30;
    else if ((!fn && (ch == 27 || ch == 'q' || ch == '\r' || ch == 3)) || (fn && (ch == KEY_ENTER || ch == KEY_F(3))))
        a->overlay = TUI_OV_NONE;
    if (a->view_top < 0)
        a->view_top = 0;
}

/* Waiting for y/n on /refactor's patch. */
static void key_confirm(tui_app_t *a, int ch, bool fn)
{
    bool yes = !fn && (ch == 'y' || ch == 'Y');
    if (!yes && !(!fn && (ch == 'n' || ch == 'N' || ch == 27 || ch == 3))) {
        say(a, "apply the patch? y applies it, n discards it");
        return;
    }
    char *report = NULL;
    errmsg_t err = {0};
    if (tui_pending_answer(&a->pending, yes, &report, &err))
        notice(a, TUI_ROLE_ERROR, "refactor: %s", err.msg);
    else
        notice(a, TUI_ROLE_NOTICE, "%s", report);
    free(report);
    a->scroll = 0;
}

static void key(tui_app_t *a, int rc, wint_t wc)
{
    bool fn = rc == KEY_CODE_YES;
    int ch = (int)wc;
    if (fn && ch == KEY_RESIZE)
        return; /* the next draw uses the new size */
    if (fn && ch == KEY_PASTE_BEGIN) {
        a->in_paste = true;
        return;
    }
    if (fn && ch == KEY_PASTE_END) {
        a->in_paste = false;
        return;
    }
    if (a->in_paste) {
        /* pasted text goes in as it is: newlines do not send */
        if (fn || ch == 27)
            return;
        if (ch == '\r')
            wc = '\n';
        if (a->overlay == TUI_OV_FORM)
            insert_wchar(&a->form.f[a->form.cur],
                         wc == '\n' && a->form.cur != TUI_FORM_EXAMPLES ? ' ' : wc);
        else
            insert_wchar(&a->ed, wc);
        return;
    }
    if (a->overlay == TUI_OV_HELP) {
        a->overlay = TUI_OV_NONE;
        return;
    }
    if (a->overlay == TUI_OV_PICKER) {
        key_picker(a, ch, fn);
        return;
    }
    if (a->overlay == TUI_OV_FORM) {
        key_form(a, ch, fn, wc);
        return;
    }
    if (a->overlay == TUI_OV_CHUNK) {
        key_view(a, ch, fn);
        return;
    }
    if (a->save_path && !(fn && (ch == KEY_PPAGE || ch == KEY_NPAGE || ch == KEY_MOUSE))) {
        key_save_confirm(a, ch, fn);
        return;
    }
    /* a pending patch takes y or n; the transcript still scrolls to read it */
    if (tui_pending_active(&a->pending) &&
        !(fn && (ch == KEY_PPAGE || ch == KEY_NPAGE || ch == KEY_MOUSE || ch == KEY_F(1) || ch == KEY_F(3)))) {
        key_confirm(a, ch, fn);
        return;
    }
    if (!fn && ch == 3) { /* Ctrl-C */
        refresh_status(a);
        if (a->st.busy) {
            tui_runner_cancel(a->run);
            say(a, "stopping");
            a->flash_while_busy = true; /* the model and preset come back once it has stopped */
            a->ctrl_c_at = 0;
            return;
        }
        double t = tui_now();
        if (a->ctrl_c_at && t - a->ctrl_c_at < CTRL_C_QUIT_S) {
            a->quit = true;
            return;
        }
        a->ctrl_c_at = t;
        tui_ed_set(&a->ed, "");
        say(a, "press Ctrl-C again to quit");
        return;
    }
    a->ctrl_c_at = 0;
    if (a->show_ctx && a->ctx_focus && key_panel(a, ch, fn))
        return;
    if (fn) {
        switch (ch) {
        case KEY_F(1):
            a->overlay = TUI_OV_HELP;
            break;
        case KEY_F(2):
            open_picker(a);
            break;
        case KEY_F(3):
            toggle_ctx(a);
            break;
        case KEY_PPAGE:
            a->scroll += LINES / 2;
            break;
        case KEY_NPAGE:
            a->scroll = a->scroll > LINES / 2 ? a->scroll - LINES / 2 : 0;
            break;
        case KEY_MOUSE: {
            MEVENT me;
            if (getmouse(&me) == OK) {
                if (me.bstate & BUTTON4_PRESSED)
                    a->scroll += 3;
#ifdef BUTTON5_PRESSED
                else if (me.bstate & BUTTON5_PRESSED)
                    a->scroll = a->scroll > 3 ? a->scroll - 3 : 0;
#endif
            }
            break;
        }
        case KEY_UP:
            if (!tui_ed_up(&a->ed))
                tui_ed_hist_prev(&a->ed);
            break;
        case KEY_DOWN:
            if (!tui_ed_down(&a->ed))
                tui_ed_hist_next(&a->ed);
            break;
        case KEY_ENTER:
            submit(a);
            break;
        case KEY_ALT_ENTER:
            tui_ed_insert(&a->ed, "\n", 1);
            break;
        default:
            edit_key(&a->ed, ch, fn, wc);
            break;
        }
        return;
    }
    switch (ch) {
    case '\r':
        submit(a);
        break;
    case '\n': /* Ctrl-J */
        tui_ed_insert(&a->ed, "\n", 1);
        break;
    case 4: /* Ctrl-D */
        if (a->ed.len == 0)
            a->quit = true;
        else
            tui_ed_delete(&a->ed);
        break;
    case 12: /* Ctrl-L */
        clearok(curscr, TRUE);
        break;
    case 27: /* a lone Escape */
        break;
    case '\t':
        tui_ed_insert(&a->ed, "\t", 1);
        break;
    default:
        edit_key(&a->ed, ch, fn, wc);
        break;
    }
}

/* ---- start-up ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: octet [OPTIONS]\n\n"
            "Open octet's terminal UI in the git repository of the current directory.\n\n"
            "  -m, --model FILE        the default GGUF model (default: $OCTET_MODEL, else the settings\n"
            "                          file's model, else the embedded models/octet-code.gguf)\n"
            "      --large-model FILE  the larger model of the int8_quality preset ($OCTET_MODEL_LARGE,\n"
            "                          else the settings file's large_model)\n"
            "      --backend URL       answer on a remote OpenAI-compatible engine (octet serve, vLLM...),\n"
            "                          e.g. http://127.0.0.1:8080/v1, instead of a local model; replaces\n"
            "                          every preset's backend (also auto, cpu or cuda; $OCTET_API_KEY is\n"
            "                          sent as the bearer token)\n"
            "  -p, --preset NAME       preset to start with (default: the settings file's preset, else\n"
            "                          int8_balanced; 'auto': the best that fits the free memory)\n"
            "  -C, --dir DIR           the repository (default: the current directory)\n"
            "      --no-index          do not update the index at start (/index does)\n"
            "      --no-git            index DIR as a plain directory (outside a git repository)\n"
            "      --lexical           retrieve with BM25 alone (default: hybrid with the retrieval\n"
            "                          encoder models/octet-embed.gguf, once the index has its vectors)\n"
            "      --no-heal           no token healing of prompts (docs/engine.md)\n"
            "      --no-spec           no speculative decoding (on by default: prompt lookup drafts\n"
            "                          what answers copy from the prompt; the same answers either way)\n"
            "      --draft-model FILE  a smaller GGUF model with the same vocabulary drafting tokens\n"
            "                          beside prompt lookup (opened with each local preset's settings)\n"
            "      --template NAME     chat format of every local model: chatml | qwen | llama3 | llama2 |\n"
            "                          deepseek | none (default: each model's tokenizer.chat_template;\n"
            "                          'none': completion mode, what you type is continued, also on a\n"
            "                          remote engine, which formats chats itself otherwise)\n"
            "      --tui-help          show this help\n\n"
            "Presets: presets/*.ini next to octet and $XDG_CONFIG_HOME/octet/presets/*.ini\n"
            "(see docs/presets.md). Settings (default preset, models, backend, commit, colors):\n"
            "$XDG_CONFIG_HOME/octet/config (octet(1), FILES). Keys and commands: F1 inside octet,\n"
            "or docs/tui.md.\n");
}

static void set_utf8_locale(void)
{
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    if (!cs || strcasecmp(cs, "UTF-8"))
        setlocale(LC_CTYPE, "C.UTF-8"); /* terminals speak UTF-8 even where LANG is unset */
}

static void load_history(tui_app_t *a)
{
    char **v = NULL;
    size_t n = 0;
    errmsg_t err = {0};
    tui_hist_path(a->hist_path, sizeof a->hist_path);
    if (!a->hist_path[0])
        return;
    if (tui_hist_load(a->hist_path, HIST_MAX, &v, &n, &err))
        notice(a, TUI_ROLE_NOTICE, "history: %s", err.msg);
    for (size_t i = 0; i < n; i++)
        tui_ed_hist_add(&a->ed, v[i]);
    tui_hist_free(v, n);
}

static void open_repo(tui_app_t *a, const char *dir, bool no_git, bool index)
{
    errmsg_t err = {0};
    rag_options_t ro = {0};
    ro.dir = dir;
    ro.no_git = no_git;
    if (rag_open(&a->rag, &ro, &err)) {
        a->rag = NULL;
        notice(a, TUI_ROLE_NOTICE, "retrieval off: %s", err.msg);
        char *real = realpath(dir, NULL);
        snprintf(a->repo, sizeof a->repo, "%s", real ? real : dir);
        free(real);
        return;
    }
    snprintf(a->repo, sizeof a->repo, "%s", rag_root(a->rag));
    if (rag_notice(a->rag)[0])
        notice(a, TUI_ROLE_NOTICE, "%s", rag_notice(a->rag));
    /* one thread: the encoder works in the background beside the model */
    encoder_use(a->rag, a->lexical, 1, &a->enc, a->enc_why, sizeof a->enc_why);
    if (index)
        start_index(a);
}

static bool poll_indexer(tui_app_t *a)
{
    char msg[ERRMSG_MAX + 64];
    bool failed;
    if (a->idx && tui_indexer_result(a->idx, msg, sizeof msg, &failed)) {
        notice(a, failed ? TUI_ROLE_ERROR : TUI_ROLE_NOTICE, "%s", msg);
        tui_indexer_free(a->idx);
        a->idx = NULL;
        return true;
    }
    return false;
}

static void app_free(tui_app_t *a)
{
    tui_indexer_free(a->idx);
    tui_runner_free(a->run);
    rag_close(a->rag);
    encoder_close(a->enc);
    clear_transcript(a);
    free(a->ent);
    for (size_t i = 0; i < a->n_deferred; i++)
        free(a->deferred[i]);
    free(a->deferred);
    set_ctx(a, NULL);
    pin_list_free(&a->pins);
    free(a->picks);
    tui_form_free(&a->form);
    tui_pending_clear(&a->pending);
    free(a->since);
    free(a->refactor_instr);
    free(a->save_path);
    tui_ed_free(&a->ed);
    preset_list_free(&a->presets);
    free((char *)a->model_arg);
    free((char *)a->large_arg);
}

static void main_loop(tui_app_t *a)
{
    double last_status = 0;
    bool dirty = true;
    while (!a->quit && !g_term) {
        dirty |= drain_events(a);
        dirty |= poll_indexer(a);
        double t = tui_now();
        if (t - last_status >= STATUS_MS / 1000.0) {
            refresh_status(a);
            last_status = t;
            dirty = true;
        }
        if (dirty)
            tui_screen_draw(a);
        wint_t wc;
        int rc = wget_wch(stdscr, &wc);
        dirty = rc != ERR;
        while (rc != ERR && !a->quit) {
            key(a, rc, wc);
            /* take every key already typed before drawing (pastes) */
            timeout(0);
            rc = wget_wch(stdscr, &wc);
            timeout(POLL_MS);
        }
    }
}

/* The command line of the TUI. */
typedef struct tui_args {
    const char *model, *large, *preset_name, *dir, *backend, *draft, *template_name;
    bool index, no_git, no_heal, no_spec, lexical;
} tui_args_t;

/* Parse the command line into O: TUI_GO, or the exit status (help shown,
 * or a usage error printed). */
#define TUI_GO (-1)
static int parse_args(int argc, char **argv, tui_args_t *o)
{
    enum {
        OPT_LARGE = 1000,
        OPT_NO_INDEX,
        OPT_NO_GIT,
        OPT_HELP,
        OPT_BACKEND,
        OPT_NO_HEAL,
        OPT_NO_SPEC,
        OPT_DRAFT,
        OPT_LEXICAL,
        OPT_TEMPLATE,
    };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},    {"large-model", required_argument, NULL, OPT_LARGE},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"preset", required_argument, NULL, 'p'},   {"dir", required_argument, NULL, 'C'},
        {"no-index", no_argument, NULL, OPT_NO_INDEX}, {"no-git", no_argument, NULL, OPT_NO_GIT},
        {"no-heal", no_argument, NULL, OPT_NO_HEAL},   {"no-spec", no_argument, NULL, OPT_NO_SPEC},
        {"draft-model", required_argument, NULL, OPT_DRAFT},
        {"lexical", no_argument, NULL, OPT_LEXICAL},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"tui-help", no_argument, NULL, OPT_HELP},
        {"help", no_argument, NULL, OPT_HELP},      {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->model = preset_default_model();
    o->large = preset_large_model();
    o->dir = ".";
    o->index = true;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:p:C:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            o->model = optarg;
            break;
        case OPT_LARGE:
            o->large = optarg;
            break;
        case 'p':
            o->preset_name = optarg;
            break;
        case 'C':
            o->dir = optarg;
            break;
        case OPT_NO_INDEX:
            o->index = false;
            break;
        case OPT_NO_GIT:
            o->no_git = true;
            break;
        case OPT_LEXICAL:
            o->lexical = true;
            break;
        case OPT_NO_HEAL:
            o->no_heal = true;
            break;
        case OPT_NO_SPEC:
            o->no_spec = true;
            break;
        case OPT_DRAFT:
            o->draft = optarg;
            break;
        case OPT_TEMPLATE: {
            chat_tmpl_t *t = NULL;
            errmsg_t terr = {0};
            if (chat_tmpl_by_name(&t, optarg, &terr)) {
                fprintf(stderr, "octet: --template: %s\n", terr.msg);
                return 2;
            }
            chat_tmpl_free(t);
            o->template_name = optarg;
            break;
        }
        case OPT_BACKEND: {
            preset_t scratch;
            errmsg_t berr;
            preset_defaults(&scratch);
            if (preset_set_backend(&scratch, optarg, &berr)) {
                fprintf(stderr, "octet: --backend: %s\n", berr.msg);
                return 2;
            }
            o->backend = optarg;
            break;
        }
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'octet --tui-help' for the options of the terminal UI.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "octet: unexpected argument '%s'\nTry 'octet --tui-help' or 'octet --help'.\n",
                argv[optind]);
        return 2;
    }
    if (o->draft && o->no_spec) {
        fprintf(stderr, "octet: --draft-model drafts for speculative decoding, which --no-spec turns off\n");
        return 2;
    }
    if (o->model && !o->model[0])
        o->model = NULL;
    if (o->large && !o->large[0])
        o->large = NULL;
    return TUI_GO;
}

/* The shipped and the user's presets into A (the built-in defaults when
 * there are none), and the one to start with in *PRESET_NAME (given, or
 * int8_balanced, or the first). 0, or the exit status after printing why. */
static int load_presets(tui_app_t *a, const char **preset_name, sbuf_t *notes)
{
    errmsg_t err = {0};
    char shipped[4096], user[4096], *bad = NULL;
    preset_shipped_dir(shipped, sizeof shipped);
    preset_user_dir(user, sizeof user);
    if (preset_load_all(shipped, user, &a->presets, &bad, &err)) {
        fprintf(stderr, "octet: %s\n", err.msg);
        return 1;
    }
    if (bad)
        sb_add(notes, bad);
    free(bad);
    if (a->presets.n == 0) {
        /* no preset files anywhere: run on the built-in defaults */
        a->presets.v = calloc(1, sizeof *a->presets.v);
        if (!a->presets.v)
            return 1;
        preset_defaults(&a->presets.v[0]);
        snprintf(a->presets.v[0].name, sizeof a->presets.v[0].name, "builtin");
        a->presets.n = 1;
    }
    const char *cfg = config_get()->preset;
    if (!*preset_name && cfg[0]) {
        if (!strcmp(cfg, PRESET_AUTO) || preset_find(&a->presets, cfg))
            *preset_name = cfg;
        else
            sb_addf(notes, "%s: preset '%s' not found: starting on the default one\n", config_get()->file, cfg);
    }
    if (!*preset_name)
        *preset_name = preset_find(&a->presets, "int8_balanced") ? "int8_balanced" : a->presets.v[0].name;
    if (strcmp(*preset_name, PRESET_AUTO) && !preset_find(&a->presets, *preset_name)) {
        fprintf(stderr, "octet: no preset '%s'; presets:", *preset_name);
        for (size_t i = 0; i < a->presets.n; i++)
            fprintf(stderr, " %s", a->presets.v[i].name);
        fprintf(stderr, " auto\n");
        return 2;
    }
    return 0;
}

/* Start curses: raw keys, the mouse wheel, bracketed paste, colors. False
 * when the terminal cannot be initialized. */
static bool start_curses(void)
{
    set_escdelay(25);
    if (!initscr())
        return false;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    timeout(POLL_MS);
    mousemask(BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    define_key("\033[200~", KEY_PASTE_BEGIN);
    define_key("\033[201~", KEY_PASTE_END);
    define_key("\033\r", KEY_ALT_ENTER);
    const config_t *cfg = config_get();
    tui_screen_init_colors(cfg->colors == CONFIG_COLORS_ALWAYS ||
                           (cfg->colors == CONFIG_COLORS_AUTO && !getenv("NO_COLOR")));
    printf("\033[?2004h"); /* bracketed paste */
    fflush(stdout);
    return true;
}

int tui_main(int argc, char **argv)
{
    tui_args_t o;
    int status = parse_args(argc, argv, &o);
    if (status != TUI_GO)
        return status;
    tui_app_t app;
    tui_app_t *a = &app;
    memset(a, 0, sizeof *a);
    tui_ed_init(&a->ed, HIST_MAX);
    tui_form_init(&a->form);
    status = 0;
    errmsg_t err = {0};
    const char *preset_name = o.preset_name;
    /* what is wrong in the settings file and the user's presets: said in the transcript at start */
    sbuf_t notes = {0};
    if (config_get()->notes)
        sb_add(&notes, config_get()->notes);
    if ((status = load_presets(a, &preset_name, &notes)))
        goto out;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "octet: the terminal UI needs a terminal; for scripts use 'octet run' "
                        "(see 'octet --help')\n");
        status = 1;
        goto out;
    }
    a->model_arg = o.model ? strdup(o.model) : NULL;
    a->large_arg = o.large ? strdup(o.large) : NULL;
    a->backend_arg = o.backend ? o.backend : config_get()->backend[0] ? config_get()->backend : NULL;
    a->preset = effective(a, preset_find(&a->presets, preset_name) ? preset_find(&a->presets, preset_name)
                                                                    : &a->presets.v[0]);

    set_utf8_locale();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    load_history(a);
    a->lexical = o.lexical;
    open_repo(a, o.dir, o.no_git, o.index);
    a->since = patch_latest_record(a->repo);
    unsigned delay = 0;
    const char *d = getenv("OCTET_TUI_TOKEN_DELAY_MS");
    if (d && d[0])
        delay = (unsigned)strtoul(d, NULL, 10);
    tui_runner_cfg_t cfg = {a->rag, models_of(a), delay, o.no_heal, o.no_spec, o.draft, o.template_name};
    if (tui_runner_new(&a->run, &cfg, &err)) {
        fprintf(stderr, "octet: %s\n", err.msg);
        status = 1;
        goto out;
    }
    const char *v = getenv("OCTET_TUI_VERBOSE");
    a->verbose = v && v[0] && strcmp(v, "0");
    tui_runner_verbose(a->run, a->verbose);

    if (!start_curses()) {
        fprintf(stderr, "octet: cannot initialize the terminal\n");
        status = 1;
        goto out;
    }
    for (char *s = notes.s, *nl; s && *s; s = nl ? nl + 1 : s + strlen(s)) {
        if ((nl = strchr(s, '\n')))
            *nl = '\0';
        notice(a, TUI_ROLE_ERROR, "%s", s);
    }
    if (!strcmp(preset_name, PRESET_AUTO))
        use_preset(a, PRESET_AUTO);
    else if (tui_runner_use(a->run, &a->preset, NULL))
        notice(a, TUI_ROLE_ERROR, "out of memory");
    main_loop(a);

    printf("\033[?2004l");
    fflush(stdout);
    endwin();
out:
    sb_free(&notes);
    app_free(a);
    return status;
}
