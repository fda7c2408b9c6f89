/* pin.c - pinned code and the packing of a prompt's code (see pin.h): the
 * pin list (/add, /drop, --add), the reading of pins from the working tree,
 * pin_pack and the words that say what became of each block. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pin.h"
#include "sb.h"

#define SUMMARY_NAMES 3 /* blocks named in a summary's "cut" list */
#define AMBIGUOUS_NAMES 5

/* ---- the pin list ------------------------------------------------------------ */

int pin_parse(const char *arg, char **path, int *start, int *end, errmsg_t *err)
{
    size_t n = strlen(arg);
    *path = NULL;
    *start = *end = 0;
    const char *colon = strrchr(arg, ':');
    if (colon && isdigit((unsigned char)colon[1]) && strspn(colon + 1, "0123456789-") == strlen(colon + 1)) {
        char *e;
        errno = 0;
        long a = strtol(colon + 1, &e, 10), b = a;
        if (*e == '-' && isdigit((unsigned char)e[1]))
            b = strtol(e + 1, &e, 10);
        if (*e)
            return errmsg_set(err, OCT_EINVAL, "%s: expected PATH:START-END or PATH:LINE", arg);
        if (errno || a < 1 || b < a || b > INT_MAX)
            return errmsg_set(err, OCT_EINVAL, "%s: the line range %s is empty (lines count from 1, START <= END)",
                              arg, colon + 1);
        *start = (int)a;
        *end = (int)b;
        n = (size_t)(colon - arg);
    }
    if (n == 0)
        return errmsg_set(err, OCT_EINVAL, "'%s': nothing to pin: give PATH, PATH:START-END or SYMBOL", arg);
    if (!(*path = strndup(arg, n)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

char *pin_label(const pin_t *p)
{
    char *s = NULL;
    if (p->start ? asprintf(&s, "%s:%d-%d", p->path, p->start, p->end) < 0 : !(s = strdup(p->path)))
        return NULL;
    return s;
}

static void pin_free(pin_t *p)
{
    free(p->path);
    free(p->file);
    free(p->symbol);
    memset(p, 0, sizeof *p);
}

void pin_list_free(pin_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        pin_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int pin_list_copy(pin_list_t *dst, const pin_list_t *src)
{
    pin_list_free(dst);
    if (!src || !src->n)
        return 0;
    if (!(dst->v = calloc(src->n, sizeof *dst->v)))
        return OCT_ENOMEM;
    dst->cap = src->n;
    for (size_t i = 0; i < src->n; i++) {
        const pin_t *s = &src->v[i];
        pin_t *d = &dst->v[dst->n++];
        *d = (pin_t){.path = strdup(s->path), .file = strdup(s->file), .start = s->start, .end = s->end,
                     .symbol = s->symbol ? strdup(s->symbol) : NULL};
        if (!d->path || !d->file || (s->symbol && !d->symbol)) {
            pin_list_free(dst);
            return OCT_ENOMEM;
        }
    }
    return 0;
}

static int lines_of(const char *text, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len && text[len - 1] != '\n');
}

/* Whether S may name a symbol: an identifier, or several joined by '.' or "::". */
static bool symbol_like(const char *s)
{
    if (!isalpha((unsigned char)s[0]) && s[0] != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != ':')
            return false;
    return true;
}

/* The pin of a file that exists: FULL (as typed: ARG_PATH) read to check
 * the range against its lines. */
static int file_pin(pin_t *p, const char *full, const char *arg_path, const char *root, int start, int end,
                    errmsg_t *err)
{
    char *text = NULL;
    size_t len = 0;
    if (!(p->file = realpath(full, NULL)))
        return errmsg_set(err, OCT_EIO, "%s: %s", arg_path, strerror(errno));
    char *rroot = root ? realpath(root, NULL) : NULL;
    size_t rl = rroot ? strlen(rroot) : 0;
    if (rroot && !strncmp(p->file, rroot, rl) && p->file[rl] == '/')
        p->path = strdup(p->file + rl + 1);
    else if (rroot)
        p->path = strdup(p->file); /* outside the repository: its absolute path */
    else
        p->path = strdup(strncmp(arg_path, "./", 2) ? arg_path : arg_path + 2);
    free(rroot);
    if (!p->path)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = rag_read(p->file, arg_path, &text, &len, NULL, err);
    if (rc)
        return rc;
    int lines = lines_of(text, len);
    free(text);
    if (lines == 0)
        return errmsg_set(err, OCT_EINVAL, "%s: the file is empty", arg_path);
    if (start && end > lines)
        return errmsg_set(err, OCT_EINVAL, "%s has %d line%s: %d-%d goes past its end", arg_path, lines,
                          lines == 1 ? "" : "s", start, end);
    p->start = start;
    p->end = end;
    return 0;
}

/* The pin of the definition of SYM the index R knows, the only one. */
static int symbol_pin(pin_t *p, const char *sym, rag_t *r, errmsg_t *err)
{
    rag_results_t defs = {0};
    int rc = rag_define(r, sym, &defs, err);
    if (rc)
        return rc;
    if (defs.n == 0) {
        rc = errmsg_set(err, OCT_ENOTFOUND,
                        "%s: no such file, and no definition of it in the repository's index", sym);
    } else if (defs.n > 1) {
        sbuf_t b = {0};
        for (size_t i = 0; i < defs.n && i < AMBIGUOUS_NAMES; i++)
            sb_addf(&b, "%s%s:%d-%d (%s)", i ? ", " : "", defs.hits[i].path, defs.hits[i].start, defs.hits[i].end,
                    defs.hits[i].symbol);
        rc = errmsg_set(err, OCT_EINVAL, "%s is defined in %zu places: %s%s; pin one as PATH:START-END%s", sym, defs.n,
                        b.s ? b.s : "", defs.n > AMBIGUOUS_NAMES ? ", ..." : "",
                        strchr(sym, '.') ? "" : " or name it Class.method");
        sb_free(&b);
    } else {
        const rag_hit_t *h = &defs.hits[0];
        p->path = strdup(h->path);
        p->symbol = strdup(h->symbol);
        p->start = h->start;
        p->end = h->end;
        if (asprintf(&p->file, "%s/%s", rag_root(r), h->path) < 0)
            p->file = NULL;
        if (!p->path || !p->symbol || !p->file)
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    rag_results_free(&defs);
    return rc;
}

static bool whole(const pin_t *p)
{
    return p->start == 0;
}

/* Whether A holds every line of B (same file). */
static bool covers(const pin_t *a, const pin_t *b)
{
    return whole(a) || (!whole(b) && a->start <= b->start && a->end >= b->end);
}

/* Whether A and B overlap or touch (same file). */
static bool meets(const pin_t *a, const pin_t *b)
{
    return whole(a) || whole(b) || (a->start <= b->end + 1 && b->start <= a->end + 1);
}

/* NP, merged with the pins of its file it meets, into L; *WHAT says so. */
static int insert(pin_list_t *l, pin_t *np, char **what)
{
    sbuf_t merged = {0};
    size_t at = l->n, w = 0, n_merged = 0;
    pin_t u = *np;
    for (size_t i = 0; i < l->n; i++) {
        pin_t *e = &l->v[i];
        if (strcmp(e->file, np->file) || !meets(e, &u))
            continue;
        if (!whole(&u)) {
            u.start = e->start < u.start ? e->start : u.start;
            u.end = e->end > u.end ? e->end : u.end;
        }
        if (whole(e))
            u.start = u.end = 0;
    }
    /* the union is more than the definition: it is a range now */
    bool keep_symbol = u.start == np->start && u.end == np->end;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        pin_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return OCT_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    for (size_t i = 0; i < l->n; i++) {
        pin_t *e = &l->v[i];
        if (!strcmp(e->file, np->file) && covers(&u, e)) {
            if (at == l->n)
                at = w;
            sb_addf(&merged, "%s%zu", n_merged++ ? ", " : "", i + 1);
            pin_free(e);
            continue;
        }
        l->v[w++] = *e;
    }
    l->n = w;
    if (at > l->n)
        at = l->n;
    memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof *l->v);
    if (!keep_symbol) {
        free(np->symbol);
        np->symbol = NULL;
    }
    np->start = u.start;
    np->end = u.end;
    l->v[at] = *np;
    l->n++;
    memset(np, 0, sizeof *np);
    int rc = 0;
    if (what) {
        const pin_t *p = &l->v[at];
        char *label = pin_label(p);
        char lines[64] = "";
        if (!whole(p))
            snprintf(lines, sizeof lines, "%d line%s", p->end - p->start + 1, p->end > p->start ? "s" : "");
        if (!label || asprintf(what, "pinned %zu: %s (%s%s%s%s%s%s)", at + 1, label,
                               p->symbol ? "the definition of " : "", p->symbol ? p->symbol : "",
                               p->symbol ? ", " : "", whole(p) ? "the whole file" : lines,
                               n_merged ? "; merged with pins " : "", n_merged ? merged.s : "") < 0)
            rc = OCT_ENOMEM;
        free(label);
    }
    sb_free(&merged);
    return rc;
}

int pin_add(pin_list_t *l, const char *arg, const char *base, const char *root, rag_t *r, char **what,
            errmsg_t *err)
{
    char *path = NULL, *full = NULL;
    int start, end, rc;
    pin_t np = {0};
    struct stat st;
    if (what)
        *what = NULL;
    if ((rc = pin_parse(arg, &path, &start, &end, err)))
        return rc;
    if (path[0] == '/' ? !(full = strdup(path)) : asprintf(&full, "%s/%s", base ? base : ".", path) < 0) {
        full = NULL;
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    if (stat(full, &st) == 0) {
        rc = file_pin(&np, full, path, root, start, end, err);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    } else if (start || !symbol_like(path)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: no such file", path);
    } else if (!r) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: no such file (and no repository index to find a symbol in)", path);
    } else {
        rc = symbol_pin(&np, path, r, err);
    }
    if (rc)
        goto fail;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].file, np.file) && covers(&l->v[i], &np)) {
            char *label = pin_label(&l->v[i]);
            if (what && (!label || asprintf(what, "already pinned: pin %zu (%s) holds %s", i + 1, label, arg) < 0))
                *what = NULL;
            free(label);
            goto fail; /* rc is 0: nothing to do */
        }
    if (l->n >= PIN_MAX) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: %d pins already (/drop some)", arg, PIN_MAX);
        goto fail;
    }
    if (insert(l, &np, what))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
fail:
    pin_free(&np);
    free(full);
    free(path);
    return rc;
}

/* Whether the pin P is what ARG names. */
static bool names(const pin_t *p, const char *arg)
{
    if (!strncmp(arg, "./", 2))
        arg += 2;
    char *label = pin_label(p);
    bool yes = (label && !strcmp(label, arg)) || !strcmp(p->path, arg) || !strcmp(p->file, arg) ||
               (p->symbol && !strcmp(p->symbol, arg));
    free(label);
    return yes;
}

int pin_drop(pin_list_t *l, const char *arg, char **what, errmsg_t *err)
{
    sbuf_t b = {0};
    size_t w = 0, dropped = 0;
    if (what)
        *what = NULL;
    if (!l->n)
        return errmsg_set(err, OCT_ENOTFOUND, "nothing is pinned");
    bool num = arg[0] && strspn(arg, "0123456789") == strlen(arg);
    size_t k = num ? strtoul(arg, NULL, 10) : 0;
    if (num && (k < 1 || k > l->n))
        return errmsg_set(err, OCT_EINVAL, "there is no pin %s: %zu pinned (/context lists them)", arg, l->n);
    for (size_t i = 0; i < l->n; i++) {
        pin_t *p = &l->v[i];
        if (!arg[0] || (num ? i + 1 == k : names(p, arg))) {
            char *label = pin_label(p);
            sb_addf(&b, "%s%s", dropped++ ? ", " : "", label ? label : p->path);
            free(label);
            pin_free(p);
            continue;
        }
        l->v[w++] = *p;
    }
    l->n = w;
    if (!dropped) {
        sb_free(&b);
        return errmsg_set(err, OCT_ENOTFOUND, "%s: no pin matches it (/context lists the %zu pins; /drop N drops one)",
                          arg, l->n);
    }
    int rc = 0;
    if (what && (!b.s || asprintf(what, "dropped %s%s (%zu pin%s left)", dropped > 1 ? "" : "the pin ", b.s,
                                  l->n, l->n == 1 ? "" : "s") < 0)) {
        *what = NULL;
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    sb_free(&b);
    return rc;
}

/* ---- packing ----------------------------------------------------------------- */

static void item_free(pin_item_t *it)
{
    free(it->lang);
    free(it->path);
    free(it->symbol);
    free(it->text);
}

void pin_ctx_free(pin_ctx_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        item_free(&c->items[i]);
    free(c->items);
    free(c->pinned);
    free(c->retrieved);
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* Lines [a, b] of TEXT (LEN bytes), joined by '\n' without a last one. */
static char *slice(const char *text, size_t len, int a, int b)
{
    const char *p = text, *end = text + len, *from = NULL;
    for (int ln = 1; p < end && ln <= b; ln++) {
        if (ln == a)
            from = p;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    if (!from)
        return strdup("");
    size_t n = (size_t)(p - from);
    if (n && from[n - 1] == '\n')
        n--;
    return strndup(from, n);
}

/* The item of pin P: its lines read now, or why they cannot be. */
static int read_pin(const pin_t *p, pin_item_t *it, errmsg_t *err)
{
    char *text = NULL;
    size_t len = 0;
    errmsg_t why = {0};
    *it = (pin_item_t){.kind = PIN_KIND_PINNED, .state = PIN_SENT, .path = strdup(p->path), .start = p->start,
                       .end = p->end, .symbol = p->symbol ? strdup(p->symbol) : NULL};
    if (!it->path || (p->symbol && !it->symbol))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    const char *lang = "text";
    int rc = rag_read(p->file, p->path, &text, &len, &lang, &why);
    if (rc == OCT_ENOMEM)
        return errmsg_set(err, rc, "out of memory");
    if (!(it->lang = strdup(lang))) {
        free(text);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    int lines = rc ? 0 : lines_of(text, len);
    if (!rc && !it->start) {
        it->start = 1;
        it->end = lines;
    }
    if (!rc && it->end > lines)
        it->end = lines; /* the file is shorter now */
    if (!rc && (lines == 0 || it->start > lines))
        rc = errmsg_set(&why, OCT_EINVAL, "%s: has %d line%s now", p->path, lines, lines == 1 ? "" : "s");
    if (rc) {
        it->state = PIN_UNREADABLE;
        it->text = strdup(why.msg);
    } else {
        it->text = slice(text, len, it->start, it->end);
    }
    free(text);
    return it->text ? 0 : errmsg_set(err, OCT_ENOMEM, "out of memory");
}

/* The last line of the first block of PACKED ("path:a-b" header). */
static int block_end(const char *packed)
{
    size_t n = strcspn(packed, "\n");
    const char *c = packed + n;
    while (c > packed && c[-1] != ':')
        c--;
    int a, b;
    return c > packed && sscanf(c, "%d-%d", &a, &b) == 2 ? b : 0;
}

/* Pack the pinned item IT into REM tokens, appending it to PB. */
static int pack_pinned(pin_item_t *it, size_t rem, rag_count_fn count, void *ud, sbuf_t *pb, size_t *used,
                       errmsg_t *err)
{
    rag_hit_t h = {.path = it->path, .lang = it->lang, .start = it->start, .end = it->end,
                   .text = it->text};
    rag_results_t one = {&h, 1};
    rag_packed_t m;
    rag_pack_info_t info;
    char *block = NULL;
    size_t sep = pb->n ? 1 : 0; /* the blank line between blocks */
    int rc = rag_pack_marked(&one, rem > sep ? rem - sep : 0, count, ud, &block, &info, &m, err);
    if (rc)
        return rc;
    it->state = m == RAG_PACKED_WHOLE ? PIN_SENT : m == RAG_PACKED_PART ? PIN_CUT : PIN_LEFT_OUT;
    if (m == RAG_PACKED_PART)
        it->sent_end = block_end(block);
    if (block[0]) {
        if (sep)
            sb_add(pb, "\n");
        sb_add(pb, block);
        *used += info.tokens + sep;
    }
    free(block);
    return 0;
}

static bool overlaps(const pin_item_t *p, const rag_hit_t *h)
{
    return p->state != PIN_UNREADABLE && !strcmp(p->path, h->path) && h->start <= p->end && h->end >= p->start;
}

static int item_of_hit(pin_item_t *it, const rag_hit_t *h, pin_kind_t kind, pin_state_t state)
{
    *it = (pin_item_t){.kind = kind, .state = state, .path = strdup(h->path), .start = h->start, .end = h->end,
                       .score = h->score, .symbol = h->symbol ? strdup(h->symbol) : NULL,
                       .lang = strdup(h->lang ? h->lang : "text"), .text = strdup(h->text ? h->text : "")};
    return it->path && it->lang && it->text && (!h->symbol || it->symbol) ? 0 : OCT_ENOMEM;
}

/* The retrieved hits not covered by a pinned item, packed into what is left. */
static int pack_retrieved(pin_ctx_t *c, size_t first, const rag_results_t *hits, size_t used, rag_count_fn count,
                          void *ud, errmsg_t *err)
{
    size_t nh = hits ? hits->n : 0, np = c->n;
    rag_results_t view = {calloc(nh ? nh : 1, sizeof *view.hits), 0};
    size_t *at = calloc(nh ? nh : 1, sizeof *at);
    rag_packed_t *mark = calloc(nh ? nh : 1, sizeof *mark);
    char *rtext = NULL;
    int rc = 0;
    if (!view.hits || !at || !mark) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nh; i++) {
        const rag_hit_t *h = &hits->hits[i];
        bool covered = false;
        for (size_t k = first; k < np && !covered; k++)
            covered = overlaps(&c->items[k], h);
        if (item_of_hit(&c->items[c->n], h, PIN_KIND_RETRIEVED, covered ? PIN_COVERED : PIN_LEFT_OUT)) {
            c->n++;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        if (!covered) {
            at[view.n] = c->n;
            view.hits[view.n++] = *h;
        }
        c->n++;
    }
    size_t sep = c->pinned[0] ? 1 : 0;
    size_t rem = c->budget > used + sep ? c->budget - used - sep : 0;
    /* counted as a whole the text may take a few tokens more than its parts */
    for (int round = 0;; round++) {
        rag_pack_info_t info;
        free(rtext);
        free(c->text);
        c->text = NULL;
        if ((rc = rag_pack_marked(&view, rem, count, ud, &rtext, &info, mark, err)))
            goto fail;
        if (asprintf(&c->text, "%s%s%s", c->pinned, c->pinned[0] && rtext[0] ? "\n" : "", rtext) < 0) {
            c->text = NULL;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
        c->tokens = c->text[0] ? count(c->text, strlen(c->text), ud) : 0;
        if (c->tokens <= c->budget || !rtext[0] || round == 3)
            break;
        size_t over = c->tokens - c->budget;
        rem = rem > over ? rem - over : 0;
    }
    size_t plen = strcspn(rtext, ":");
    for (size_t v = 0; v < view.n; v++) {
        pin_item_t *it = &c->items[at[v]];
        it->state = mark[v] == RAG_PACKED_WHOLE ? PIN_SENT : mark[v] == RAG_PACKED_PART ? PIN_CUT : PIN_LEFT_OUT;
        /* cut to its first lines, it is the only block (rag_pack_marked) */
        if (it->state == PIN_CUT && strlen(it->path) == plen && !strncmp(rtext, it->path, plen))
            it->sent_end = block_end(rtext);
    }
    c->retrieved = rtext;
    rtext = NULL;
fail:
    free(rtext);
    free(mark);
    free(at);
    free(view.hits);
    return rc;
}

int pin_pack(const rag_hit_t *target, const pin_list_t *pins, const rag_results_t *hits, size_t budget,
             rag_count_fn count, void *ud, pin_ctx_t *out, errmsg_t *err)
{
    sbuf_t pb = {0};
    size_t used = 0, np = (target ? 1 : 0) + (pins ? pins->n : 0), nh = hits ? hits->n : 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->budget = budget;
    if (!count)
        count = rag_estimate_tokens;
    if (!(out->items = calloc(np + nh ? np + nh : 1, sizeof *out->items))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        pin_item_t *it = &out->items[out->n++];
        if (target && i == 0)
            rc = item_of_hit(it, target, PIN_KIND_TARGET, PIN_SENT) ? errmsg_set(err, OCT_ENOMEM, "out of memory")
                                                                   : 0;
        else
            rc = read_pin(&pins->v[i - (target ? 1 : 0)], it, err);
        if (!rc && it->state != PIN_UNREADABLE)
            rc = pack_pinned(it, budget > used ? budget - used : 0, count, ud, &pb, &used, err);
        if (rc)
            goto fail;
    }
    if (!(out->pinned = sb_take(&pb))) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = pack_retrieved(out, 0, hits, used, count, ud, err)))
        goto fail;
    return 0;
fail:
    sb_free(&pb);
    pin_ctx_free(out);
    return rc;
}

int pin_ctx_found(const rag_results_t *hits, pin_ctx_t *out, errmsg_t *err)
{
    memset(out, 0, sizeof *out);
    size_t nh = hits ? hits->n : 0;
    out->items = calloc(nh ? nh : 1, sizeof *out->items);
    out->pinned = strdup("");
    out->retrieved = strdup("");
    out->text = strdup("");
    if (!out->items || !out->pinned || !out->retrieved || !out->text)
        goto oom;
    for (size_t i = 0; i < nh; i++)
        if (item_of_hit(&out->items[out->n++], &hits->hits[i], PIN_KIND_RETRIEVED, PIN_FOUND))
            goto oom;
    return 0;
oom:
    pin_ctx_free(out);
    return errmsg_set(err, OCT_ENOMEM, "out of memory");
}

int pin_ctx_repin(pin_ctx_t *c, const pin_list_t *pins, errmsg_t *err)
{
    size_t np = pins ? pins->n : 0, w = 0;
    pin_item_t *v = calloc(c->n + np ? c->n + np : 1, sizeof *v);
    if (!v)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].kind == PIN_KIND_TARGET)
            v[w++] = c->items[i];
    for (size_t i = 0; i < np; i++) {
        int rc = read_pin(&pins->v[i], &v[w], err);
        if (v[w].state != PIN_UNREADABLE)
            v[w].state = PIN_NEXT;
        w++;
        if (rc) {
            for (size_t k = 0; k < w; k++)
                if (v[k].kind == PIN_KIND_PINNED)
                    item_free(&v[k]);
            free(v);
            return rc;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].kind == PIN_KIND_PINNED)
            item_free(&c->items[i]);
        else if (c->items[i].kind == PIN_KIND_RETRIEVED)
            v[w++] = c->items[i];
    }
    free(c->items);
    c->items = v;
    c->n = w;
    return 0;
}

/* ---- in words ---------------------------------------------------------------- */

char *pin_item_detail(const pin_item_t *it)
{
    sbuf_t b = {0};
    if (it->kind == PIN_KIND_PINNED)
        sb_add(&b, "pinned");
    else if (it->kind == PIN_KIND_TARGET)
        sb_add(&b, "the target");
    else
        sb_addf(&b, "score %.3g", it->score);
    switch (it->state) {
    case PIN_SENT:
        sb_add(&b, ", sent");
        break;
    case PIN_CUT:
        if (it->sent_end)
            sb_addf(&b, ", cut after line %d to fit the budget", it->sent_end);
        else
            sb_add(&b, ", partly sent: the budget");
        break;
    case PIN_LEFT_OUT:
        sb_add(&b, ", left out: over the budget");
        break;
    case PIN_COVERED:
        sb_add(&b, ", left out: inside a pinned block");
        break;
    case PIN_UNREADABLE:
        sb_addf(&b, ", not sent: %s", it->text);
        break;
    case PIN_NEXT:
        sb_add(&b, ", goes into the next prompt");
        break;
    case PIN_FOUND:
        break;
    }
    if (it->symbol)
        sb_addf(&b, ", %s", it->symbol);
    return sb_take(&b);
}

char *pin_ctx_summary(const pin_ctx_t *c)
{
    size_t pinned = 0, retrieved = 0, n_retrieved = 0, cut = 0, covered = 0, bad = 0;
    const pin_item_t *target = NULL, *first_bad = NULL;
    sbuf_t names = {0}, b = {0};
    for (size_t i = 0; i < c->n; i++) {
        const pin_item_t *it = &c->items[i];
        if (it->kind == PIN_KIND_TARGET)
            target = it;
        pinned += it->kind == PIN_KIND_PINNED;
        n_retrieved += it->kind == PIN_KIND_RETRIEVED;
        retrieved += it->kind == PIN_KIND_RETRIEVED && (it->state == PIN_SENT || it->state == PIN_CUT);
        covered += it->state == PIN_COVERED;
        if (it->state == PIN_UNREADABLE && !bad++)
            first_bad = it;
        if (it->state != PIN_CUT && it->state != PIN_LEFT_OUT)
            continue;
        if (cut++ < SUMMARY_NAMES) {
            sb_addf(&names, "%s%s:%d-%d", cut > 1 ? ", " : "", it->path, it->start, it->end);
            if (it->state == PIN_CUT && it->sent_end)
                sb_addf(&names, " after line %d", it->sent_end);
        }
    }
    if (!pinned && !target && !cut && !covered && !bad)
        return NULL;
    sb_add(&b, "context: ");
    const char *sep = "";
    if (target) {
        sb_addf(&b, "the target %s", target->path);
        sep = ", ";
    }
    if (pinned) {
        sb_addf(&b, "%s%zu pinned", sep, pinned);
        sep = ", ";
    }
    if (n_retrieved)
        sb_addf(&b, "%s%zu retrieved chunk%s", sep, retrieved, retrieved == 1 ? "" : "s");
    if (cut)
        sb_addf(&b, ", %zu cut to fit %zu tokens (%s%s)", cut, c->budget, names.s ? names.s : "",
                cut > SUMMARY_NAMES ? ", ..." : "");
    if (covered)
        sb_addf(&b, ", %zu retrieved left out as inside a pin", covered);
    if (bad)
        sb_addf(&b, ", %zu pin%s not sent (%s)", bad, bad == 1 ? "" : "s", first_bad->text);
    sb_free(&names);
    return sb_take(&b);
}
