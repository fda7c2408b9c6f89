/* refactor.c - a repository refactoring, as `octet refactor` and the TUI's
 * /refactor run it (see refactor.h): retrieval of the target and its uses,
 * the model's request (for a diff or search/replace blocks), the end of its
 * reply, the edit in it as a diff, and the whole run up to the checked
 * patch. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blocks.h"
#include "patch.h"
#include "refactor.h"
#include "sb.h"
#include "strv.h"

#define REFACTOR_HITS 24

int refactor_rel_path(const rag_t *r, const char *path, char **rel, errmsg_t *err)
{
    char abs[PATH_MAX];
    const char *root = rag_root(r);
    size_t rl = strlen(root);
    *rel = NULL;
    if (!realpath(path, abs) || strncmp(abs, root, rl) || (abs[rl] != '/' && abs[rl]))
        return errmsg_set(err, OCT_EINVAL, "%s: not a file inside the repository %s", path, root);
    if (!(*rel = strdup(abs[rl] == '/' ? abs + rl + 1 : abs + rl)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

/* Whether WORD occurs in TEXT as a whole identifier. */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* Whether a hit is the definition of SYM ("Class.sym" counts). */
static bool defines(const rag_hit_t *h, const char *sym)
{
    if (!h->symbol)
        return false;
    size_t a = strlen(h->symbol), b = strlen(sym);
    return !strcmp(h->symbol, sym) || (a > b && h->symbol[a - b - 1] == '.' && !strcmp(h->symbol + a - b, sym));
}

/* The file PATH (relative to ROOT) as the target block, cut to about
 * BUDGET tokens at a line end: the target of --path, whether or not the
 * index ranks it. */
static int target_hit(const char *root, const char *path, size_t budget, rag_count_fn count, void *ud, rag_hit_t *h,
                      errmsg_t *err)
{
    char *full = NULL, *text = NULL;
    size_t len = 0;
    const char *lang = "text";
    memset(h, 0, sizeof *h);
    if (asprintf(&full, "%s/%s", root, path) < 0)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = rag_read(full, path, &text, &len, &lang, err);
    free(full);
    if (rc)
        return rc;
    size_t tokens = count(text, len, ud);
    if (tokens > budget) {
        len = len * budget / tokens;
        while (len && text[len - 1] != '\n')
            len--;
    }
    if (len && text[len - 1] == '\n')
        len--; /* a hit's lines have no last newline */
    text[len] = '\0';
    int lines = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    *h = (rag_hit_t){.path = strdup(path), .lang = strdup(lang), .start = 1, .end = lines, .text = text};
    if (!h->path || !h->lang) {
        free(h->path);
        free(h->lang);
        free(text);
        memset(h, 0, sizeof *h);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

int refactor_context(rag_t *r, const char *instruction, const char *rel, const char *symbol, const pin_list_t *pins,
                     size_t budget, rag_count_fn count, void *ud, pin_ctx_t *out, errmsg_t *err)
{
    rag_results_t res = {0}, view = {0};
    rag_hit_t target = {0};
    char *q = NULL;
    const char *query = symbol ? symbol : instruction;
    int rc;
    memset(out, 0, sizeof *out);
    if (rel) {
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        if ((rc = target_hit(rag_root(r), rel, budget * 2 / 3, count, ud, &target, err)))
            return rc;
        if (asprintf(&q, "%s %s", base, instruction) < 0) {
            q = NULL;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        query = q;
    }
    if ((rc = rag_query(r, query, strlen(query), REFACTOR_HITS, &res, err)))
        goto done;
    view.hits = calloc(res.n ? res.n : 1, sizeof *view.hits);
    if (!view.hits) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    /* with a symbol: the definition, then its uses; otherwise by relevance */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < res.n; i++) {
            const rag_hit_t *h = &res.hits[i];
            if (rel && !strcmp(h->path, rel))
                continue; /* already there, whole */
            bool first = symbol ? defines(h, symbol) : true;
            bool use = symbol && !first && has_word(h->text, symbol);
            if ((pass == 0 && first) || (pass == 1 && use))
                view.hits[view.n++] = *h;
        }
    if (symbol && (view.n == 0 || !defines(&view.hits[0], symbol))) {
        rc = errmsg_set(err, OCT_ENOTFOUND,
                        "the symbol '%s' is not defined in the repository's index (see 'octet search %s')", symbol,
                        symbol);
        goto done;
    }
    rc = pin_pack(rel ? &target : NULL, pins, &view, budget, count, ud, out, err);
done:
    free(view.hits); /* shallow copies of res's hits */
    rag_results_free(&res);
    free(target.path);
    free(target.lang);
    free(target.text);
    free(q);
    return rc;
}

/* What a completion prompt ends with, and so what its reply continues:
 * the opened block (for blocks, with the target's path and the SEARCH
 * marker, so that even a base model starts on the file's lines). */
static char *completion_tail(const refactor_reply_t *how)
{
    char *s = NULL;
    if (how->format == REFACTOR_DIFF)
        return strdup("```diff\n");
    if (asprintf(&s, "```\n%s%s", how->rel ? how->rel : "", how->rel ? "\n<<<<<<< SEARCH\n" : "") < 0)
        return NULL;
    return s;
}

static const char SYSTEM_DIFF[] =
    "You are a careful refactoring tool for a git repository. Reply with one ```diff block holding a unified diff "
    "in git's format (diff --git a/PATH b/PATH, --- a/PATH, +++ b/PATH, @@ hunks with 3 lines of context) that makes "
    "the requested change everywhere it is needed, and nothing else. Paths are relative to the repository root, as "
    "shown.";

static const char SYSTEM_BLOCKS[] =
    "You are a careful refactoring tool for a git repository. Reply with search/replace blocks that make the "
    "requested change everywhere it is needed, and nothing else. Each block is: the file's path relative to the "
    "repository root (as shown) on a line of its own, a line <<<<<<< SEARCH, the lines of the file to change, "
    "copied exactly and enough of them to occur only once, a line =======, the lines to put there instead, and a "
    "line >>>>>>> REPLACE. Write one block per place that changes, in ```-fenced blocks. An empty SEARCH creates "
    "a new file.";

int refactor_prompt(const char *instruction, const char *symbol, const char *context, const refactor_reply_t *how,
                    chat_msg_t msgs[2], char **prompt, errmsg_t *err)
{
    char target[PATH_MAX + 64] = "";
    bool blocks = how->format == REFACTOR_BLOCKS;
    if (how->rel)
        snprintf(target, sizeof target, "\nTarget: the file %s and the code that refers to it.\n", how->rel);
    else if (symbol)
        snprintf(target, sizeof target, "\nTarget: %.200s, its definition and every use.\n", symbol);
    int n;
    if (!how->completion) {
        msgs[0] = (chat_msg_t){CHAT_ROLE_SYSTEM, blocks ? SYSTEM_BLOCKS : SYSTEM_DIFF};
        n = asprintf(prompt, "Instruction: %s\n%s\nCode from the repository (path:first-last, then the lines):\n\n%s",
                     instruction, target, context);
        msgs[1] = (chat_msg_t){CHAT_ROLE_USER, n < 0 ? NULL : *prompt};
    } else {
        char *tail = completion_tail(how);
        n = !tail ? -1
            : blocks ? asprintf(prompt, "%s\n\nSearch/replace blocks (the path, <<<<<<< SEARCH, lines of the file, "
                                        "=======, the lines to put instead, >>>>>>> REPLACE) that do this: %s\n%s\n%s",
                                context, instruction, target, tail)
                     : asprintf(prompt, "%s\n\nA patch in git's unified diff format that does this: %s\n%s\n%s",
                                context, instruction, target, tail);
        free(tail);
    }
    if (n < 0) {
        *prompt = NULL;
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

bool refactor_reply_done(const char *reply, void *ud)
{
    /* a closed ``` block after the diff started (chat), or any closing fence (completion) */
    const refactor_reply_t *how = ud;
    if (!how->completion && how->format == REFACTOR_BLOCKS)
        return false;
    const char *open = how->completion ? reply : strstr(reply, "```");
    if (!open)
        return false;
    const char *body = how->completion ? reply : strchr(open, '\n');
    return body && strstr(body, "\n```") != NULL;
}

int refactor_reply_diff(const char *reply, const refactor_reply_t *how, const char *repo_dir, char **diff,
                        char **notes, errmsg_t *err)
{
    char *full = NULL, *tail = NULL;
    blocks_t *b = NULL;
    int rc;
    *diff = NULL;
    *notes = NULL;
    if (how->completion && (!(tail = completion_tail(how)) || asprintf(&full, "%s%s", tail, reply) < 0)) {
        free(tail);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    const char *text = full ? full : reply;
    if (how->format == REFACTOR_DIFF) {
        rc = patch_extract(text, repo_dir, diff, err);
    } else {
        /* the blocks before one the reply left unfinished (it hit -n) are still good */
        size_t len = blocks_complete_len(text, strlen(text));
        rc = blocks_parse(&b, text, len ? len : strlen(text), "the model's reply", err);
        if (rc == 0)
            rc = blocks_diff(b, repo_dir, diff, notes, err);
    }
    blocks_free(b);
    free(full);
    free(tail);
    return rc;
}

static void step(const refactor_req_t *q, refactor_result_t *res, refactor_step_t st)
{
    res->step = st;
    if (q->on_step)
        q->on_step(q->ud, st, res);
}

/* Refuse before generating when the file the change is about (the given
 * one, or the file defining the symbol) has someone else's uncommitted
 * changes: the diff could not be applied anyway. */
static int check_target(rag_t *r, const refactor_req_t *q, errmsg_t *err)
{
    if (q->force)
        return 0;
    if (q->rel)
        return patch_paths_check(q->repo_dir, &q->rel, 1, err);
    if (!q->symbol)
        return 0;
    rag_results_t res = {0};
    int rc = rag_query(r, q->symbol, strlen(q->symbol), REFACTOR_HITS, &res, err);
    for (size_t i = 0; rc == 0 && i < res.n; i++)
        if (defines(&res.hits[i], q->symbol)) {
            const char *path = res.hits[i].path;
            rc = patch_paths_check(q->repo_dir, &path, 1, err);
            break;
        }
    rag_results_free(&res);
    return rc;
}

/* How much a word of an instruction looks like a name of the code: 0 in
 * backticks, 1 with an underscore, a digit, a dot or a capital after its
 * first letter, 2 any other word. */
static int name_class(const char *instruction, const char *w, size_t n)
{
    if (w > instruction && w[-1] == '`')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] == '_' || w[i] == '.' || isdigit((unsigned char)w[i]) || (i && isupper((unsigned char)w[i])))
            return 1;
    return 2;
}

/* The word at or after *P (letters, digits, '_', inner dots): its length,
 * *P moved to it; 0 at the end. */
static size_t next_word(const char **p)
{
    while (**p && !isalnum((unsigned char)**p) && **p != '_')
        (*p)++;
    size_t n = 0;
    while (isalnum((unsigned char)(*p)[n]) || (*p)[n] == '_' || ((*p)[n] == '.' && isalnum((unsigned char)(*p)[n + 1])))
        n++;
    return n;
}

/* With neither a file nor a symbol, the file that defines a name the
 * instruction mentions ("rename area to circle_area": the file defining
 * area) becomes the target, sent whole as with --path when it fits two
 * thirds of BUDGET: the model sees the code it changes in one piece, and a
 * completion prompt opens the reply on its path and <<<<<<< SEARCH. Small
 * models otherwise start their reply with one of the retrieved chunks'
 * "path:first-last" headers and stop there. Names that look most like code
 * are tried first, then the instruction's order. *REL NULL: no such file. */
static int infer_target(rag_t *r, const refactor_req_t *q, rag_count_fn count, char **rel, errmsg_t *err)
{
    rag_results_t res = {0};
    const char *ins = q->instruction;
    *rel = NULL;
    int rc = rag_query(r, ins, strlen(ins), REFACTOR_HITS, &res, err);
    for (int cls = 0; rc == 0 && cls < 3 && !*rel; cls++)
        for (const char *w = ins; !*rel;) {
            size_t n = next_word(&w);
            if (!n)
                break;
            if (n < 2 || name_class(ins, w, n) != cls) {
                w += n;
                continue;
            }
            char word[128];
            snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), w);
            for (size_t i = 0; i < res.n && !*rel; i++) {
                const rag_hit_t *h = &res.hits[i];
                char *full = NULL, *text = NULL;
                size_t len = 0;
                const char *lang;
                if (!defines(h, word) || asprintf(&full, "%s/%s", rag_root(r), h->path) < 0)
                    continue;
                /* a file too long to send whole keeps the chunks: cut, it could lose the lines to change */
                bool fits = rag_read(full, h->path, &text, &len, &lang, NULL) == 0 &&
                            count(text, len, q->count_ud) <= q->budget * 2 / 3;
                if (fits && !(*rel = strdup(h->path)))
                    rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                free(text);
                free(full);
            }
            w += n;
        }
    rag_results_free(&res);
    return rc;
}

static bool is_word(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && !strncasecmp(p, w, n);
}

/* The first word after *P that is not "the" or a kind of definition, as a
 * name ("Class.method" taken as "method") in OUT; false when none fits. */
static bool take_name(const char **p, char *out, size_t cap)
{
    static const char *const skip[] = {"the", "a", "function", "method", "class", "variable", "local", "parameter",
                                       "param", "argument", "constant", "macro", "field", "member", "struct",
                                       "type", "attribute", "global", "module", "symbol", NULL};
    for (size_t n; (n = next_word(p)); *p += n) {
        bool skipped = false;
        for (size_t i = 0; skip[i] && !skipped; i++)
            skipped = is_word(*p, n, skip[i]);
        if (skipped)
            continue;
        const char *w = *p;
        for (const char *d; (d = memchr(w, '.', (size_t)(*p + n - w)));)
            w = d + 1;
        size_t wn = (size_t)(*p + n - w);
        *p += n;
        if (wn >= cap || isdigit((unsigned char)*w))
            return false;
        memcpy(out, w, wn);
        out[wn] = '\0';
        return true;
    }
    return false;
}

/* The old and new names of a rename ("rename area to circle_area", "Rename
 * the function `a` to `b` everywhere"): the first name after "rename" and
 * the first after the next "to". A local, a parameter or an argument is no
 * such rename here: its name elsewhere is another variable's. */
static bool rename_names(const char *ins, char *old, size_t n_old, char *new_, size_t n_new)
{
    static const char *const scoped[] = {"local", "variable", "parameter", "param", "argument", "arg", NULL};
    const char *w = ins;
    for (size_t n; (n = next_word(&w)); w += n)
        for (size_t i = 0; scoped[i]; i++)
            if (is_word(w, n, scoped[i]))
                return false;
    const char *p = NULL;
    for (const char *t = ins; *t && !p; t++)
        if (!strncasecmp(t, "rename", 6) && (t == ins || !isalnum((unsigned char)t[-1])) &&
            isspace((unsigned char)t[6]))
            p = t + 6;
    if (!p || !take_name(&p, old, n_old))
        return false;
    for (size_t n; (n = next_word(&p)); p += n)
        if (is_word(p, n, "to")) {
            p += n;
            return take_name(&p, new_, n_new) && strcmp(old, new_);
        }
    return false;
}

/* A file the diff changes: its path and, per hunk, the old start and the
 * line count difference, with the removed lines that hold the old name. */
typedef struct touched {
    char *path;
    strv_t removed;   /* removed lines holding the name, each used once */
    long *hunk_old, *hunk_delta; /* each hunk's old start, and its new count less its old */
    size_t n_hunks;
    strv_t added_at; /* "N" new line numbers of added lines holding the name */
} touched_t;

/* Where the line L of the old file ends up after the hunks before it. */
static long new_line(const touched_t *t, long l)
{
    long d = 0;
    for (size_t h = 0; h < t->n_hunks; h++)
        if (t->hunk_old[h] < l)
            d += t->hunk_delta[h];
    return l + d;
}

/* After a rename of OLD, the places that still name it: in the files the
 * diff changes (lines it leaves, lines it adds) and, through the index, in
 * the files it does not touch. A model that renames the definition and
 * forgets a use leaves a program that no longer builds; saying where is
 * cheaper than finding out. Appended to RES->notes; nothing when none. */
static int rename_leftovers(rag_t *r, const refactor_req_t *q, const char *old, refactor_result_t *res,
                            errmsg_t *err)
{
    touched_t *t = NULL;
    size_t nt = 0;
    sbuf_t places = {0};
    size_t n_places = 0, more = 0;
    rag_results_t hits = {0};
    int rc = 0;
    bool cur = false; /* in a file that stays (not one the diff deletes) */
    /* the diff, file by file */
    for (const char *line = res->diff; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (!strncmp(line, "diff --git ", 11) || !strncmp(line, "+++ /dev/null", 13))
            cur = false;
        if (n > 6 && !strncmp(line, "+++ b/", 6)) {
            touched_t *g = realloc(t, (nt + 1) * sizeof *t);
            if (!g) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto done;
            }
            t = g;
            memset(&t[nt], 0, sizeof *t);
            t[nt++].path = strndup(line + 6, n - 6);
            cur = true;
        } else if (n > 4 && !strncmp(line, "@@ -", 4) && cur) {
            long a = 0, b = 1, c = 0, d = 1;
            if (sscanf(line, "@@ -%ld,%ld +%ld,%ld", &a, &b, &c, &d) != 4 &&
                sscanf(line, "@@ -%ld +%ld,%ld", &a, &c, &d) != 3 && sscanf(line, "@@ -%ld,%ld +%ld", &a, &b, &c) != 3)
                sscanf(line, "@@ -%ld +%ld", &a, &c);
            touched_t *f = &t[nt - 1];
            long *ho = realloc(f->hunk_old, (f->n_hunks + 1) * sizeof *ho);
            if (ho)
                f->hunk_old = ho;
            long *hd = ho ? realloc(f->hunk_delta, (f->n_hunks + 1) * sizeof *hd) : NULL;
            if (!hd) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto done;
            }
            f->hunk_delta = hd;
            f->hunk_old[f->n_hunks] = a;
            f->hunk_delta[f->n_hunks++] = d - b;
            /* walk the hunk for the added and removed lines that hold the name */
            long nn = c;
            const char *h = nl ? nl + 1 : NULL;
            while (h && *h && (*h == ' ' || *h == '-' || *h == '+' || *h == '\\')) {
                const char *e = strchr(h, '\n');
                size_t hn = e ? (size_t)(e - h) : strlen(h);
                char *body = strndup(h + 1, hn ? hn - 1 : 0);
                if (!body) {
                    rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                    goto done;
                }
                char num[24];
                snprintf(num, sizeof num, "%ld", nn);
                bool held = has_word(body, old);
                if ((held && *h == '-' && strv_push(&f->removed, body, strlen(body))) ||
                    (held && *h == '+' && strv_push(&f->added_at, num, strlen(num)))) {
                    free(body);
                    rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                    goto done;
                }
                if (*h != '-' && *h != '\\')
                    nn++;
                free(body);
                h = e ? e + 1 : NULL;
            }
            line = h ? h : line + n;
            continue;
        }
        line = nl ? nl + 1 : NULL;
    }
    /* what the changed files still hold */
    for (size_t i = 0; i < nt; i++) {
        char *full = NULL, *text = NULL;
        size_t len = 0;
        const char *lang;
        if (!t[i].path || asprintf(&full, "%s/%s", q->repo_dir ? q->repo_dir : rag_root(r), t[i].path) < 0) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        int rr = rag_read(full, t[i].path, &text, &len, &lang, NULL);
        free(full);
        long ln = 1;
        for (char *l = rr == 0 ? text : NULL; l && *l; ln++) {
            char *e = strchr(l, '\n');
            if (e)
                *e = '\0';
            if (has_word(l, old)) {
                size_t k = 0;
                while (k < t[i].removed.n && (!t[i].removed.v[k] || strcmp(t[i].removed.v[k], l)))
                    k++;
                if (k < t[i].removed.n) {
                    free(t[i].removed.v[k]);
                    t[i].removed.v[k] = NULL; /* this one the diff changes */
                } else if (n_places++ < 8) {
                    sb_addf(&places, "%s%s:%ld", places.n ? ", " : "", t[i].path, new_line(&t[i], ln));
                }
            }
            l = e ? e + 1 : NULL;
        }
        free(text);
        for (size_t k = 0; k < t[i].added_at.n; k++)
            if (n_places++ < 8)
                sb_addf(&places, "%s%s:%s", places.n ? ", " : "", t[i].path, t[i].added_at.v[k]);
    }
    /* the files it leaves alone */
    if ((rc = rag_query(r, old, strlen(old), REFACTOR_HITS, &hits, err)))
        goto done;
    for (size_t i = 0; i < hits.n; i++) {
        const rag_hit_t *h = &hits.hits[i];
        bool mine = false;
        for (size_t k = 0; k < nt && !mine; k++)
            mine = t[k].path && !strcmp(t[k].path, h->path);
        if (mine || !has_word(h->text, old))
            continue;
        long ln = h->start;
        for (const char *l = h->text; l; ln++) {
            const char *e = strchr(l, '\n');
            char *one = strndup(l, e ? (size_t)(e - l) : strlen(l));
            if (one && has_word(one, old) && n_places++ < 8)
                sb_addf(&places, "%s%s:%ld", places.n ? ", " : "", h->path, ln);
            free(one);
            l = e ? e + 1 : NULL;
        }
    }
    more = n_places > 8 ? n_places - 8 : 0;
    if (n_places) {
        sbuf_t notes = {0};
        if (res->notes)
            sb_add(&notes, res->notes);
        sb_addf(&notes, "rename: '%s' still appears at %s", old, places.s ? places.s : "");
        if (more)
            sb_addf(&notes, " and %zu more place%s", more, more == 1 ? "" : "s");
        sb_add(&notes, " (lines this edit does not change)\n");
        char *s = sb_take(&notes);
        if (!s || places.oom) {
            free(s);
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        free(res->notes);
        res->notes = s;
    }
done:
    for (size_t i = 0; i < nt; i++) {
        free(t[i].path);
        free(t[i].hunk_old);
        free(t[i].hunk_delta);
        strv_free(&t[i].removed);
        strv_free(&t[i].added_at);
    }
    free(t);
    sb_free(&places);
    rag_results_free(&hits);
    return rc;
}

/* One reply: generated, its edit extracted, parsed and checked. */
static int ask(const llm_t *llm, const refactor_req_t *q, const chat_msg_t msgs[2], const char *prompt,
               refactor_reply_t *how, refactor_result_t *res, errmsg_t *err)
{
    int rc;
    step(q, res, REFACTOR_GENERATE);
    if ((rc = llm->generate(llm->ud, msgs, 2, prompt, refactor_reply_done, how, &res->reply, err)))
        return rc;
    step(q, res, REFACTOR_EXTRACT);
    if ((rc = refactor_reply_diff(res->reply, how, q->repo_dir, &res->diff, &res->notes, err)))
        return rc;
    step(q, res, REFACTOR_CHECK);
    if ((rc = patch_parse(&res->patch, res->diff, strlen(res->diff), "the model's diff", err)))
        return rc;
    return patch_check(res->patch, q->repo_dir, q->force, err);
}

/* Whether another reply may do better than the one that failed with RC:
 * not when generating failed (a cancel, the engine, the server), and not
 * when a file the edit touches has uncommitted changes (every reply would
 * meet them), which patch_check reports as it reports a diff that does not
 * apply. */
static bool retryable(const refactor_req_t *q, const refactor_result_t *res, int rc)
{
    if (rc == OCT_ENOMEM || res->step == REFACTOR_GENERATE)
        return false;
    if (res->step != REFACTOR_CHECK || !res->patch || q->force)
        return true;
    for (size_t i = 0; i < patch_n_files(res->patch); i++) {
        const patch_file_t *f = patch_file(res->patch, i);
        const char *path = f->old_path ? f->old_path : f->new_path;
        errmsg_t e = {0};
        if (path && patch_paths_check(q->repo_dir, &path, 1, &e))
            return false;
    }
    return true;
}

static void drop_reply(refactor_result_t *res)
{
    patch_free(res->patch);
    free(res->diff);
    free(res->notes);
    free(res->reply);
    res->patch = NULL;
    res->diff = res->notes = res->reply = NULL;
}

int refactor_run(rag_t *r, const llm_t *llm, const refactor_req_t *q, refactor_result_t *res, errmsg_t *err)
{
    chat_msg_t msgs[2];
    char *prompt = NULL, *inferred = NULL;
    rag_count_fn count = q->count ? q->count : rag_estimate_tokens;
    int rc;
    memset(res, 0, sizeof *res);
    step(q, res, REFACTOR_RETRIEVE);
    if ((rc = check_target(r, q, err)) || (!q->rel && !q->symbol && (rc = infer_target(r, q, count, &inferred, err))))
        goto done;
    const char *rel = q->rel ? q->rel : inferred;
    if ((rc = refactor_context(r, q->instruction, rel, q->symbol, q->pins, q->budget, count, q->count_ud,
                               &res->packed, err)))
        goto done;
    res->context = res->packed.text;
    res->packed.text = NULL;
    step(q, res, REFACTOR_PROMPT);
    refactor_reply_t how = {.completion = !llm->chat, .format = q->format, .rel = rel};
    if ((rc = refactor_prompt(q->instruction, q->symbol, res->context, &how, msgs, &prompt, err)))
        goto done;
    const int attempts = q->attempts > 0 ? q->attempts : 1;
    for (res->attempt = 1;; res->attempt++) {
        if ((rc = ask(llm, q, msgs, prompt, &how, res, err)) == 0)
            break;
        if (res->attempt >= attempts || !retryable(q, res, rc))
            goto done;
        if (q->on_retry)
            q->on_retry(q->ud, res->attempt, attempts, res->step, err->msg);
        drop_reply(res);
    }
    char old[128], new_[128];
    if (rename_names(q->instruction, old, sizeof old, new_, sizeof new_) &&
        (rc = rename_leftovers(r, q, old, res, err)))
        goto done;
    step(q, res, REFACTOR_DONE);
done:
    free(prompt);
    free(inferred);
    return rc;
}

void refactor_result_free(refactor_result_t *res)
{
    patch_free(res->patch);
    free(res->diff);
    free(res->notes);
    free(res->reply);
    free(res->context);
    pin_ctx_free(&res->packed);
    memset(res, 0, sizeof *res);
}
