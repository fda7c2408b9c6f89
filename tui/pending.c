/* pending.c - /refactor's arguments and its pending patch (see pending.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pending.h"

/* The next word of *S (quotes removed, NUL-terminated in place), or NULL. */
static char *next_word(char **s)
{
    char *p = *s, *o;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (!*p)
        return NULL;
    char *w = o = p;
    char q = 0;
    for (; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
            else
                *o++ = *p;
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == ' ' || *p == '\t' || *p == '\n') {
            p++;
            break;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    *s = p;
    return w;
}

int tui_refactor_args(char *args, char *instr, const char **path, const char **symbol, bool *force, errmsg_t *err)
{
    *path = *symbol = NULL;
    *force = false;
    instr[0] = '\0';
    char *s = args, *w;
    size_t n = 0;
    while ((w = next_word(&s))) {
        const char **opt = !strcmp(w, "--path") ? path : !strcmp(w, "--symbol") ? symbol : NULL;
        const char *val = NULL;
        if (!strncmp(w, "--path=", 7) || !strncmp(w, "--symbol=", 9)) {
            opt = w[2] == 'p' ? path : symbol;
            val = strchr(w, '=') + 1;
        } else if (opt && !(val = next_word(&s))) {
            return errmsg_set(err, OCT_EINVAL, "%s needs a value", w);
        }
        if (opt) {
            if (*opt)
                return errmsg_set(err, OCT_EINVAL, "%s given twice", opt == path ? "--path" : "--symbol");
            if (!*val)
                return errmsg_set(err, OCT_EINVAL, "%s needs a value", opt == path ? "--path" : "--symbol");
            *opt = val;
            continue;
        }
        if (!strcmp(w, "--force")) {
            *force = true;
            continue;
        }
        if (w[0] == '-' && w[1] == '-')
            return errmsg_set(err, OCT_EINVAL, "unknown option %s (use --path P, --symbol S or --force)", w);
        size_t wl = strlen(w);
        if (n)
            instr[n++] = ' ';
        memcpy(instr + n, w, wl);
        n += wl;
        instr[n] = '\0';
    }
    if (*path && *symbol)
        return errmsg_set(err, OCT_EINVAL, "--path and --symbol cannot be combined");
    if (!n)
        return errmsg_set(err, OCT_EINVAL, "no instruction given");
    return 0;
}

void tui_pending_clear(tui_pending_t *p)
{
    patch_free(p->patch);
    free(p->repo);
    free(p->summary);
    free(p->commit);
    memset(p, 0, sizeof *p);
}

bool tui_pending_active(const tui_pending_t *p)
{
    return p->patch != NULL;
}

int tui_pending_set(tui_pending_t *p, const char *diff, const char *repo_dir, bool force, const char *commit_instr,
                    errmsg_t *err)
{
    tui_pending_clear(p);
    p->force = force;
    int rc = patch_parse(&p->patch, diff, strlen(diff), "the model's diff", err);
    if (rc)
        return rc;
    p->repo = strdup(repo_dir);
    p->summary = patch_summary(p->patch);
    p->commit = commit_instr ? strdup(commit_instr) : NULL;
    if (!p->repo || !p->summary || (commit_instr && !p->commit)) {
        tui_pending_clear(p);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

int tui_pending_answer(tui_pending_t *p, bool yes, char **report, errmsg_t *err)
{
    char *record = NULL;
    int rc = 0;
    *report = NULL;
    if (!p->patch)
        return errmsg_set(err, OCT_EINVAL, "no patch is waiting to be applied");
    if (!yes) {
        if (asprintf(report, "patch discarded; nothing was changed") < 0)
            *report = NULL;
        goto done;
    }
    if ((rc = patch_apply(p->patch, p->repo, p->force, &record, err)))
        goto done;
    size_t cap = 256, o = 0, n = patch_n_files(p->patch);
    for (size_t i = 0; i < n; i++) {
        const patch_file_t *f = patch_file(p->patch, i);
        cap += strlen(f->new_path ? f->new_path : f->old_path) + 32;
    }
    char *txt = malloc(cap);
    if (!txt) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory (the patch was applied; /undo restores)");
        goto done;
    }
    o += (size_t)snprintf(txt, cap, "applied: %s", p->summary);
    for (size_t i = 0; i < n; i++) {
        const patch_file_t *f = patch_file(p->patch, i);
        static const char *const what[] = {"added", "deleted", "modified", "renamed"};
        o += (size_t)snprintf(txt + o, cap - o, "\n  %-8s %s", what[f->status], f->new_path ? f->new_path : f->old_path);
    }
    snprintf(txt + o, cap - o, "\nundo record %s: /undo shows and restores the previous contents", record);
    *report = txt;
    if (p->commit) {
        char *msg = NULL, *id = NULL, *both = NULL;
        if (asprintf(&msg, "octet refactor: %s\n\n%s\n", p->commit, p->summary) < 0) {
            msg = NULL;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory (the patch was applied, not committed)");
        } else if ((rc = patch_commit(p->repo, record, msg, &id, err)) == 0 &&
                   asprintf(&both, "%s\ncommitted as %.12s (commit = true in the settings file); /undo takes it "
                                  "back", txt, id) >= 0) {
            free(txt);
            *report = both;
        }
        if (rc) {
            /* applied but not committed: say both */
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            snprintf(err->msg, sizeof err->msg, "the patch was applied (/undo restores) but not committed: %.400s", m);
            free(txt);
            *report = NULL;
        }
        free(msg);
        free(id);
    }
done:
    free(record);
    tui_pending_clear(p);
    if (rc == 0 && !*report)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return rc;
}
