/* blocks.c - search/replace edit blocks: parsing them out of a reply or a
 * file, matching each SEARCH in its file's lines, and the unified diff of
 * the result for flows/patch.c (see blocks.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "blocks.h"
#include "edmark.h"
#include "gitlib.h"
#include "patch.h"
#include "sb.h"
#include "strv.h"

#define BLOCKS_MAX_PATH 4096
/* Bounds that keep hostile input from taking minutes: files one set of
 * blocks may edit, and line comparisons spent looking for one SEARCH. */
#define BLOCKS_MAX_FILES 4096
#define BLOCKS_MAX_COMPARES 200000000UL

/* ---- lines ------------------------------------------------------------------ */

/* Whether S holds only blanks (or nothing). */
static bool blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\f' || *s == '\v' || *s == '\r')
        s++;
    return !*s;
}

/* Leading spaces and tabs of S. */
static size_t lead(const char *s)
{
    size_t n = 0;
    while (s[n] == ' ' || s[n] == '\t')
        n++;
    return n;
}

/* Up to 60 bytes of S for a one-line message: control characters as '?'. */
static void snip(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s[n] && n < 60 && n + 1 < cap; n++)
        dst[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    dst[n] = '\0';
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct block {
    char *path;
    size_t file;        /* its path's index in blocks_t.files */
    size_t index, line; /* its number in the source and the line of its <<<<<<< SEARCH, from 1 */
    strv_t search, repl;
} block_t;

struct blocks {
    char *source;
    block_t *v;
    size_t n, cap;
    strv_t files;
};

bool blocks_detect(const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        if (edmark(text + i, n) == EDMARK_SEARCH)
            return true;
        i += n + (nl ? 1 : 0);
    }
    return false;
}

size_t blocks_complete_len(const char *text, size_t len)
{
    size_t kept = 0;
    int state = EDMARK_NONE; /* EDMARK_SEARCH or EDMARK_DIVIDER inside a block */
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        int m = edmark(text + i, n);
        i += n + (nl ? 1 : 0);
        if (m == EDMARK_SEARCH)
            state = EDMARK_SEARCH;
        else if (m == EDMARK_DIVIDER && state == EDMARK_SEARCH)
            state = EDMARK_DIVIDER;
        else if (m == EDMARK_REPLACE && state != EDMARK_NONE) {
            state = EDMARK_NONE;
            kept = i;
        }
    }
    return state == EDMARK_NONE ? len : kept;
}

static bool is_fence(const char *s)
{
    size_t ind = 0;
    while (ind < 4 && s[ind] == ' ')
        ind++;
    return !strncmp(s + ind, "```", 3);
}

/* The path a line names, decorations dropped (`x.py`, **x.py**, # x.py,
 * x.py:, ./x.py); NULL when it is not one (blank, or words with spaces). */
static char *path_of(const char *line)
{
    static const char lead_junk[] = "#*`'\" \t", tail_junk[] = "*`'\": \t\r";
    const char *s = line;
    size_t n = strlen(s);
    for (;;) {
        size_t was = n;
        while (n && strchr(lead_junk, *s))
            s++, n--;
        while (n && strchr(tail_junk, s[n - 1]))
            n--;
        while (n > 2 && s[0] == '.' && s[1] == '/')
            s += 2, n -= 2;
        if (n == was)
            break;
    }
    if (!n)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return NULL;
    return strndup(s, n);
}

/* Why PATH may not be edited (NULL: it may): it must stay in the work tree. */
static const char *unsafe_path(const char *path)
{
    if (strlen(path) >= BLOCKS_MAX_PATH)
        return "is too long";
    if (path[0] == '/')
        return "is absolute";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
            return "has an empty, '.' or '..' component";
        if (n == 4 && !strncasecmp(p, ".git", 4))
            return "is inside .git";
        p += n + (p[n] == '/');
    }
    return NULL;
}

void blocks_free(blocks_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].path);
        strv_free(&b->v[i].search);
        strv_free(&b->v[i].repl);
    }
    free(b->v);
    strv_free(&b->files);
    free(b->source);
    free(b);
}

/* The path of the block whose <<<<<<< SEARCH is line AT of L: the last line
 * after FROM (the end of the previous block) that is neither blank nor a
 * fence; else PREV, the previous block's. */
static int block_path(const blocks_t *b, const strv_t *l, size_t from, size_t at, const char *prev, char **path,
                      errmsg_t *err)
{
    size_t idx = b->n + 1;
    const char *cand = NULL;
    for (size_t j = at; j > from && !cand;) {
        j--;
        if (!blank(l->v[j]) && !is_fence(l->v[j]))
            cand = l->v[j];
    }
    char *p = cand ? path_of(cand) : NULL;
    if (!p && prev)
        p = strdup(prev);
    else if (!p) {
        char sn[64];
        snip(sn, sizeof sn, cand ? cand : "");
        return errmsg_set(err, OCT_EFORMAT, "%s: block %zu (line %zu): no file path on the line before <<<<<<< "
                                            "SEARCH%s%s%s", b->source, idx, at + 1, cand ? " ('" : "",
                          cand ? sn : "", cand ? "' is not a path)" : "");
    }
    if (!p)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    const char *why = unsafe_path(p);
    if (why) {
        char sn[64];
        snip(sn, sizeof sn, p);
        free(p);
        return errmsg_set(err, OCT_EFORMAT, "%s: block %zu (line %zu): the path '%s' %s; refused", b->source, idx,
                          at + 1, sn, why);
    }
    *path = p;
    return 0;
}

int blocks_parse(blocks_t **out, const char *text, size_t len, const char *source, errmsg_t *err)
{
    strv_t l = {0};
    blocks_t *b = calloc(1, sizeof *b);
    int rc = OCT_ENOMEM;
    *out = NULL;
    if (!b || !(b->source = strdup(source ? source : "blocks")))
        goto fail;
    if (len > PATCH_MAX_BYTES) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: larger than %d MiB", b->source, PATCH_MAX_BYTES >> 20);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: contains a NUL byte (binary data?)", b->source);
        goto fail;
    }
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        if (strv_push(&l, text + i, n && text[i + n - 1] == '\r' ? n - 1 : n))
            goto fail;
        i += n + (nl ? 1 : 0);
    }
    size_t from = 0;
    for (size_t i = 0; i < l.n; i++) {
        int m = edmark(l.v[i], strlen(l.v[i]));
        if (m == EDMARK_REPLACE) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s:%zu: a >>>>>>> REPLACE line outside any block (no <<<<<<< SEARCH "
                                              "before it)", b->source, i + 1);
            goto fail;
        }
        if (m != EDMARK_SEARCH)
            continue;
        if (b->n == b->cap) {
            size_t cap = b->cap ? 2 * b->cap : 16;
            block_t *nv = realloc(b->v, cap * sizeof *nv);
            if (!nv)
                goto fail;
            b->v = nv;
            b->cap = cap;
        }
        block_t *k = &b->v[b->n];
        memset(k, 0, sizeof *k);
        k->index = b->n + 1;
        k->line = i + 1;
        if ((rc = block_path(b, &l, from, i, b->n ? b->v[b->n - 1].path : NULL, &k->path, err)))
            goto fail;
        b->n++;
        /* SEARCH lines up to =======, then REPLACE lines up to >>>>>>> REPLACE */
        strv_t *part = &k->search;
        size_t j = i + 1, divider = 0;
        for (; j < l.n; j++) {
            int mj = edmark(l.v[j], strlen(l.v[j]));
            if (mj == EDMARK_SEARCH || (mj == EDMARK_REPLACE && !divider)) {
                rc = errmsg_set(err, OCT_EFORMAT, "%s: block %zu (line %zu): a %s at line %zu before its %s",
                                b->source, k->index, k->line, mj == EDMARK_SEARCH ? "second <<<<<<< SEARCH" :
                                ">>>>>>> REPLACE", j + 1, divider ? ">>>>>>> REPLACE" : "=======");
                goto fail;
            }
            if (mj == EDMARK_DIVIDER && !divider) {
                divider = j + 1;
                part = &k->repl;
                continue;
            }
            if (mj == EDMARK_REPLACE)
                break;
            if (strv_push(part, l.v[j], strlen(l.v[j])))
                goto fail;
        }
        if (j == l.n) {
            rc = errmsg_set(err, OCT_EFORMAT, divider ? "%s: block %zu (line %zu): no >>>>>>> REPLACE after its ======= "
                                                        "(truncated?)"
                                                      : "%s: block %zu (line %zu): no ======= after its <<<<<<< SEARCH "
                                                        "(truncated?)", b->source, k->index, k->line);
            goto fail;
        }
        /* most blocks edit the file of the block before */
        k->file = b->n > 1 && !strcmp(b->v[b->n - 2].path, k->path) ? b->v[b->n - 2].file : 0;
        while (k->file < b->files.n && strcmp(b->files.v[k->file], k->path))
            k->file++;
        if (k->file == b->files.n && b->files.n == BLOCKS_MAX_FILES) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: block %zu (line %zu): more than %d files; refused", b->source,
                            k->index, k->line, BLOCKS_MAX_FILES);
            goto fail;
        }
        if (k->file == b->files.n && strv_push(&b->files, k->path, strlen(k->path)))
            goto fail;
        i = j;
        from = j + 1;
    }
    strv_free(&l);
    if (!b->n) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: no search/replace blocks (a path, then <<<<<<< SEARCH, the lines to "
                                            "find, =======, the lines to put instead, >>>>>>> REPLACE)", b->source);
        blocks_free(b);
        return rc;
    }
    *out = b;
    return 0;
fail:
    if (rc == OCT_ENOMEM)
        errmsg_set(err, OCT_ENOMEM, "out of memory");
    strv_free(&l);
    blocks_free(b);
    return rc;
}

size_t blocks_count(const blocks_t *b) { return b->n; }
size_t blocks_n_files(const blocks_t *b) { return b->files.n; }
const char *blocks_file(const blocks_t *b, size_t i) { return i < b->files.n ? b->files.v[i] : NULL; }

/* ---- matching ---------------------------------------------------------------- */

enum { EOL_NONE, EOL_LF, EOL_CRLF };

/* A file's lines without their ends, and each one's end. */
typedef struct ftext {
    strv_t l;
    unsigned char *eol;
    size_t eol_cap;
} ftext_t;

static void ftext_free(ftext_t *f)
{
    strv_free(&f->l);
    free(f->eol);
    memset(f, 0, sizeof *f);
}

/* Room for N lines in both arrays. */
static int ftext_reserve(ftext_t *f, size_t n)
{
    if (n > f->l.cap) {
        size_t cap = n > 2 * f->l.cap ? n : 2 * f->l.cap;
        char **nv = realloc(f->l.v, cap * sizeof *nv);
        if (!nv)
            return -1;
        f->l.v = nv;
        f->l.cap = cap;
    }
    if (n > f->eol_cap) {
        size_t cap = n > 2 * f->eol_cap ? n : 2 * f->eol_cap;
        unsigned char *ne = realloc(f->eol, cap);
        if (!ne)
            return -1;
        f->eol = ne;
        f->eol_cap = cap;
    }
    return 0;
}

static int ftext_split(ftext_t *f, const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        bool cr = nl && n && text[i + n - 1] == '\r';
        if (ftext_reserve(f, f->l.n + 1))
            return -1;
        f->eol[f->l.n] = !nl ? EOL_NONE : cr ? EOL_CRLF : EOL_LF;
        if (strv_push(&f->l, text + i, cr ? n - 1 : n))
            return -1;
        i += n + (nl ? 1 : 0);
    }
    return 0;
}

/* The line end new lines get: that of the file's first ended line. */
static unsigned char ftext_style(const ftext_t *f)
{
    for (size_t i = 0; i < f->l.n; i++)
        if (f->eol[i] != EOL_NONE)
            return f->eol[i];
    return EOL_LF;
}

/* Lines [AT, AT+N) of F replaced by the N_NEW lines NEW (taken over), each
 * ended as the file's other lines; the last keeps the replaced lines' lack
 * of a final newline. */
static int ftext_splice(ftext_t *f, size_t at, size_t n, char **new, size_t n_new)
{
    if (!n && !n_new)
        return 0; /* nothing in, nothing out (and an empty file has no arrays yet) */
    unsigned char style = ftext_style(f);
    bool open_end = n && at + n == f->l.n && f->eol[at + n - 1] == EOL_NONE;
    if (!n && at == f->l.n && at && f->eol[at - 1] == EOL_NONE)
        f->eol[at - 1] = style; /* appending after an unended last line */
    size_t total = f->l.n - n + n_new;
    if (ftext_reserve(f, total))
        return -1;
    for (size_t i = at; i < at + n; i++)
        free(f->l.v[i]);
    memmove(f->l.v + at + n_new, f->l.v + at + n, (f->l.n - at - n) * sizeof *f->l.v);
    memmove(f->eol + at + n_new, f->eol + at + n, f->l.n - at - n);
    for (size_t i = 0; i < n_new; i++) {
        f->l.v[at + i] = new[i];
        f->eol[at + i] = style;
    }
    if (open_end && n_new)
        f->eol[at + n_new - 1] = EOL_NONE;
    f->l.n = total;
    return 0;
}

/* Whether the N lines S are lines [AT, AT+N) of F exactly. */
/* Whether the N lines S are lines [AT, AT+N) of F exactly; *SPENT counts
 * the lines compared. */
static bool exact_at(const ftext_t *f, size_t at, char *const *s, size_t n, size_t *spent)
{
    for (size_t i = 0; i < n; i++) {
        ++*spent;
        if (strcmp(f->l.v[at + i], s[i]))
            return false;
    }
    return true;
}

/* How a SEARCH matched modulo indentation: the file's lines have PRE
 * (LEN blanks) more in front of each non-blank line (MORE), or fewer. */
typedef struct indent {
    const char *pre;
    size_t len;
    bool more;
} indent_t;

/* Whether the N lines S are lines [AT, AT+N) of F once one uniform
 * difference of leading blanks is allowed (blank lines match blank lines). */
static bool indent_at(const ftext_t *f, size_t at, char *const *s, size_t n, indent_t *ind, size_t *spent)
{
    bool have = false;
    for (size_t i = 0; i < n; i++) {
        ++*spent;
        const char *fl = f->l.v[at + i], *sl = s[i];
        bool fb = blank(fl), sb = blank(sl);
        if (fb || sb) {
            if (fb != sb)
                return false;
            continue;
        }
        if (!have) {
            size_t lf = lead(fl), ls = lead(sl);
            if (strcmp(fl + lf, sl + ls))
                return false;
            if (lf >= ls ? memcmp(fl + lf - ls, sl, ls) : memcmp(sl + ls - lf, fl, lf))
                return false;
            *ind = lf >= ls ? (indent_t){fl, lf - ls, true} : (indent_t){sl, ls - lf, false};
            have = true;
            continue;
        }
        const char *longer = ind->more ? fl : sl, *shorter = ind->more ? sl : fl;
        if (strncmp(longer, ind->pre, ind->len) || strcmp(longer + ind->len, shorter))
            return false;
    }
    return have;
}

/* Where S (N lines) is in F, exactly (LOOSE false) or modulo indentation:
 * how many places, the first two in AT; SIZE_MAX when *SPENT went past
 * BLOCKS_MAX_COMPARES. */
static size_t find(const ftext_t *f, char *const *s, size_t n, bool loose, size_t at[2], size_t *spent)
{
    size_t count = 0;
    indent_t ind;
    for (size_t p = 0; p + n <= f->l.n; p++) {
        if (*spent > BLOCKS_MAX_COMPARES)
            return SIZE_MAX;
        if (loose ? indent_at(f, p, s, n, &ind, spent) : exact_at(f, p, s, n, spent)) {
            if (count < 2)
                at[count] = p;
            count++;
        }
    }
    return count;
}

/* Line A equals line B once blanks around both are dropped. */
static bool same_trimmed(const char *a, const char *b)
{
    a += lead(a);
    b += lead(b);
    size_t na = strlen(a), nb = strlen(b);
    while (na && isspace((unsigned char)a[na - 1]))
        na--;
    while (nb && isspace((unsigned char)b[nb - 1]))
        nb--;
    return na == nb && !memcmp(a, b, na);
}

/* For a SEARCH found nowhere: the place where most of its first lines are
 * (blanks around lines ignored), said in a clause for the message. */
static void closest(const ftext_t *f, char *const *s, size_t n, char *buf, size_t size, size_t spent)
{
    size_t best = 0, best_at = 0;
    for (size_t p = 0; p < f->l.n && spent <= BLOCKS_MAX_COMPARES; p++) {
        size_t k = 0;
        while (k < n && p + k < f->l.n && same_trimmed(f->l.v[p + k], s[k]))
            k++;
        spent += k + 1;
        if (k > best) {
            best = k;
            best_at = p;
        }
    }
    char sn[64];
    snip(sn, sizeof sn, s[0]);
    if (!best && spent > BLOCKS_MAX_COMPARES)
        snprintf(buf, size, "the file is too long to say where they come closest");
    else if (!best)
        snprintf(buf, size, "not even its first line ('%s') is in the file", sn);
    else if (best == n)
        snprintf(buf, size, "its lines are at line %zu but indented unevenly or with other trailing blanks",
                 best_at + 1);
    else
        snprintf(buf, size, "the closest: its first %zu of %zu lines are at line %zu, then line %zu of the file "
                            "differs", best, n, best_at + 1, best_at + best + 1);
}

/* "4 more spaces", "1 tab less", "3 more blanks" */
static void describe(const indent_t *ind, char *buf, size_t size)
{
    size_t sp = 0;
    for (size_t i = 0; i < ind->len; i++)
        sp += ind->pre[i] == ' ';
    const char *what = sp == ind->len ? "space" : sp == 0 ? "tab" : "blank";
    if (ind->len == 1)
        snprintf(buf, size, "1 %s %s", what, ind->more ? "more" : "less");
    else
        snprintf(buf, size, "%zu %s %ss", ind->len, ind->more ? "more" : "fewer", what);
}

/* REPL's lines, re-indented as IND says (NULL: as they are), into *OUT. */
static int reindent(const strv_t *repl, const indent_t *ind, char ***out)
{
    char **v = calloc(repl->n ? repl->n : 1, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < repl->n; i++) {
        const char *r = repl->v[i];
        if (!ind || blank(r)) {
            v[i] = strdup(r);
        } else if (ind->more) {
            if (asprintf(&v[i], "%.*s%s", (int)ind->len, ind->pre, r) < 0)
                v[i] = NULL;
        } else {
            /* the difference off, or the blanks it has when it has fewer */
            size_t l = lead(r);
            v[i] = strdup(r + (!strncmp(r, ind->pre, ind->len) ? ind->len : l < ind->len ? l : ind->len));
        }
        if (!v[i]) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* One block applied to F (*EXISTS: whether the file is there so far). */
static int apply_block(const blocks_t *b, const block_t *k, ftext_t *f, bool *exists, sbuf_t *notes, errmsg_t *err)
{
    char where[BLOCKS_MAX_PATH + 128];
    snprintf(where, sizeof where, "%s: block %zu (line %zu), %s", b->source, k->index, k->line, k->path);
    bool empty = true;
    for (size_t i = 0; i < k->search.n && empty; i++)
        empty = blank(k->search.v[i]);
    if (!*exists && !empty)
        return errmsg_set(err, OCT_EINVAL, "%s: the file does not exist (only a block with an empty SEARCH creates "
                                           "one)", where);
    size_t at = f->l.n, n = 0, pos[2] = {0, 0};
    indent_t ind, *use = NULL;
    if (!empty) {
        n = k->search.n;
        size_t spent = 0, c = find(f, k->search.v, n, false, pos, &spent);
        bool loose = c == 0;
        if (loose)
            c = find(f, k->search.v, n, true, pos, &spent);
        if (c == SIZE_MAX)
            return errmsg_set(err, OCT_EINVAL, "%s: looking for its %zu SEARCH lines among the file's %zu takes too "
                                               "long; refused (make SEARCH shorter, or its first lines rarer)", where,
                              n, f->l.n);
        if (c > 1)
            return errmsg_set(err, OCT_EINVAL, "%s: its SEARCH lines are%s at line %zu and at line %zu%s; refusing "
                                               "to guess (add lines to SEARCH to make it unique)", where,
                              loose ? ", modulo indentation," : "", pos[0] + 1, pos[1] + 1,
                              c > 2 ? " (and elsewhere)" : "");
        if (c == 0) {
            char why[256];
            closest(f, k->search.v, n, why, sizeof why, spent);
            return errmsg_set(err, OCT_EINVAL, "%s: its SEARCH lines are not in the file, not even modulo "
                                               "indentation (%s)", where, why);
        }
        at = pos[0];
        if (loose) {
            indent_at(f, at, k->search.v, n, &ind, &spent);
            use = &ind;
            char d[64];
            describe(&ind, d, sizeof d);
            if (ind.len)
                sb_addf(notes, "%s: block %zu (line %zu) matched at line %zu, where the file has %s of "
                               "indentation; its replacement was re-indented\n", k->path, k->index, k->line, at + 1, d);
            else
                sb_addf(notes, "%s: block %zu (line %zu) matched at line %zu ignoring the blanks of empty lines\n",
                        k->path, k->index, k->line, at + 1);
        }
    } else if (*exists && f->l.n) {
        sb_addf(notes, "%s: block %zu (line %zu) has an empty SEARCH: its lines were added at the end of the file\n",
                k->path, k->index, k->line);
    }
    char **new = NULL;
    if (reindent(&k->repl, use, &new))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (ftext_splice(f, at, n, new, k->repl.n)) {
        for (size_t i = 0; i < k->repl.n; i++)
            free(new[i]);
        free(new);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    free(new);
    *exists = true;
    return 0;
}

int blocks_edit(const blocks_t *b, const char *path, const char *old, size_t old_len, char **out, size_t *out_len,
                char **notes, errmsg_t *err)
{
    ftext_t f = {0};
    sbuf_t nb = {0}, res = {0};
    bool exists = old != NULL;
    int rc = 0;
    *out = NULL;
    *out_len = 0;
    *notes = NULL;
    if (old && memchr(old, '\0', old_len)) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: %s is a binary file (it has NUL bytes); blocks edit text files",
                        b->source, path);
        goto done;
    }
    if (old && ftext_split(&f, old, old_len)) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    size_t file = 0;
    while (file < b->files.n && strcmp(b->files.v[file], path))
        file++;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].file == file && (rc = apply_block(b, &b->v[i], &f, &exists, &nb, err)))
            goto done;
    if (!exists)
        goto done;
    for (size_t i = 0; i < f.l.n; i++) {
        sb_add(&res, f.l.v[i]);
        sb_add(&res, f.eol[i] == EOL_CRLF ? "\r\n" : f.eol[i] == EOL_LF ? "\n" : "");
    }
    if (res.oom || nb.oom) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    *out_len = res.n;
    *out = sb_take(&res);
    *notes = nb.n ? sb_take(&nb) : NULL;
done:
    sb_free(&res);
    sb_free(&nb);
    ftext_free(&f);
    return rc;
}

/* ---- the diff ------------------------------------------------------------------ */

/* The work tree's file PATH (ROOT ends in '/'): 0 with its contents, 1
 * when it does not exist; a symbolic link on the way or a path that is not
 * a regular file is refused. */
static int read_work_file(const char *root, const char *path, char **text, size_t *len, errmsg_t *err)
{
    char full[PATH_MAX * 2];
    struct stat st = {0};
    size_t rl = strlen(root);
    if (rl + strlen(path) >= sizeof full)
        return errmsg_set(err, OCT_EINVAL, "%s: the path is too long", path);
    memcpy(full, root, rl);
    /* each component with lstat: none may be a link (as patch_apply refuses) */
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        memcpy(full + rl + (size_t)(p - path), p, n);
        full[rl + (size_t)(p - path) + n] = '\0';
        bool last = !p[n];
        if (lstat(full, &st))
            return errno == ENOENT || errno == ENOTDIR ? 1 : errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
        if (S_ISLNK(st.st_mode))
            return errmsg_set(err, OCT_EINVAL, "%s: %s is a symbolic link; refused", path, full + rl);
        if (!last && !S_ISDIR(st.st_mode))
            return errmsg_set(err, OCT_EINVAL, "%s: %s is not a directory", path, full + rl);
        if (last && !S_ISREG(st.st_mode))
            return errmsg_set(err, OCT_EINVAL, "%s: not a regular file", path);
        if (!last)
            full[rl + (size_t)(p - path) + n] = '/';
        p += n + (p[n] == '/');
    }
    if (st.st_size > PATCH_MAX_BYTES)
        return errmsg_set(err, OCT_EINVAL, "%s: larger than %d MiB", path, PATCH_MAX_BYTES >> 20);
    FILE *f = fopen(full, "rb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    sbuf_t b = {0};
    int e = sb_read(&b, f);
    fclose(f);
    if (e) {
        sb_free(&b);
        return errmsg_set(err, e == ENOMEM ? OCT_ENOMEM : OCT_EIO, "%s: cannot read: %s", path, strerror(e));
    }
    *len = b.n;
    if (!(*text = sb_take(&b)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

/* The diff of PATH from OLD (NULL: a new file) to NEW, in git's format, onto OUT. */
static int file_diff(const char *path, const char *old, size_t old_len, const char *new, size_t new_len, sbuf_t *out,
                     errmsg_t *err)
{
    git_patch *gp = NULL;
    git_buf buf = {0};
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.flags |= GIT_DIFF_FORCE_TEXT;
    if (git_patch_from_buffers(&gp, old, old_len, path, new, new_len, path, &opts) || git_patch_to_buf(&buf, gp)) {
        const git_error *e = git_error_last();
        git_patch_free(gp);
        return errmsg_set(err, OCT_EINTERNAL, "%s: cannot make the diff: %s", path,
                          e && e->message ? e->message : "libgit2 failed");
    }
    /* the hunks are libgit2's; the header is octet's (no index line, whose
     * mode would ask the apply to change the file's mode) */
    const char *h = buf.ptr && !strncmp(buf.ptr, "@@", 2) ? buf.ptr : buf.ptr ? strstr(buf.ptr, "\n@@") : NULL;
    if (h || !old) {
        sb_addf(out, "diff --git a/%s b/%s\n", path, path);
        if (!old)
            sb_add(out, "new file mode 100644\n");
        /* an empty new file has no hunk: its ---/+++ lines alone (libgit2 parses no header-only file) */
        sb_addf(out, "--- %s%s\n+++ b/%s\n%s", old ? "a/" : "", old ? path : "/dev/null", path,
                h ? h + (*h == '\n') : "");
    }
    git_buf_dispose(&buf);
    git_patch_free(gp);
    return 0;
}

int blocks_diff(const blocks_t *b, const char *repo_dir, char **diff, char **notes, errmsg_t *err)
{
    git_repository *repo = NULL;
    sbuf_t out = {0}, nb = {0};
    char *old = NULL, *new = NULL, *nt = NULL;
    int rc = 0;
    *diff = NULL;
    *notes = NULL;
    if ((rc = gitlib_init(err)))
        return rc;
    if (git_repository_open_ext(&repo, repo_dir, 0, NULL)) {
        rc = errmsg_set(err, OCT_EINVAL, "%s is not inside a git repository", repo_dir);
        goto done;
    }
    const char *root = git_repository_workdir(repo);
    if (!root) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: the repository has no work tree", repo_dir);
        goto done;
    }
    for (size_t i = 0; i < b->files.n; i++) {
        const char *path = b->files.v[i];
        size_t old_len = 0, new_len = 0;
        int r = read_work_file(root, path, &old, &old_len, err);
        if (r < 0) {
            rc = r;
            goto done;
        }
        if ((rc = blocks_edit(b, path, r ? NULL : old, old_len, &new, &new_len, &nt, err)))
            goto done;
        if (nt)
            sb_add(&nb, nt);
        if (new && (r || old_len != new_len || memcmp(old, new, new_len)) &&
            (rc = file_diff(path, r ? NULL : old, old_len, new, new_len, &out, err)))
            goto done;
        free(old);
        free(new);
        free(nt);
        old = new = nt = NULL;
    }
    if (out.oom || nb.oom) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    if (!out.n) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: the blocks change nothing (each REPLACE equals its SEARCH)", b->source);
        goto done;
    }
    *diff = sb_take(&out);
    *notes = nb.n ? sb_take(&nb) : NULL;
done:
    free(old);
    free(new);
    free(nt);
    sb_free(&out);
    sb_free(&nb);
    git_repository_free(repo);
    return rc;
}
