/* fuse.c - reciprocal rank fusion and the merging of overlapping hits (see
 * fuse.h). */
#include "fuse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

typedef struct slot {
    int64_t id;
    double score;
    size_t best; /* the better of its ranks, from 1 */
} slot_t;

static int by_fused(const void *a, const void *b)
{
    const slot_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->best != y->best)
        return x->best < y->best ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int by_id(const void *a, const void *b)
{
    const slot_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int fuse_rrf(const int64_t *lex, size_t n_lex, const int64_t *dense, size_t n_dense, fuse_item_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t total = n_lex + n_dense;
    slot_t *s = malloc((total ? total : 1) * sizeof *s);
    if (!s)
        return OCT_ENOMEM;
    for (size_t i = 0; i < total; i++) {
        bool is_lex = i < n_lex;
        size_t rank = (is_lex ? i : i - n_lex) + 1;
        s[i].id = is_lex ? lex[i] : dense[i - n_lex];
        s[i].score = (is_lex ? FUSE_W_LEX : FUSE_W_DENSE) / (FUSE_K + (double)rank);
        s[i].best = rank;
    }
    /* one slot per id: the contributions of both rankings added */
    qsort(s, total, sizeof *s, by_id);
    size_t m = 0;
    for (size_t i = 0; i < total; i++) {
        if (m && s[m - 1].id == s[i].id) {
            s[m - 1].score += s[i].score;
            if (s[i].best < s[m - 1].best)
                s[m - 1].best = s[i].best;
        } else {
            s[m++] = s[i];
        }
    }
    qsort(s, m, sizeof *s, by_fused);
    fuse_item_t *o = malloc((m ? m : 1) * sizeof *o);
    if (!o) {
        free(s);
        return OCT_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        o[i].id = s[i].id;
        o[i].score = s[i].score;
    }
    free(s);
    *out = o;
    *n = m;
    return 0;
}

static bool overlaps(const rag_hit_t *a, const rag_hit_t *b)
{
    return a->start <= b->end && b->start <= a->end && !strcmp(a->path, b->path);
}

/* Where line L (from 1) of TEXT starts; TEXT's lines joined by '\n'. */
static const char *line_at(const char *text, int l)
{
    for (; l > 1 && text; l--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    return text;
}

static int lines_of(const char *text)
{
    int n = 1;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* A's text extended by the lines of B outside A (they overlap). NULL: out of
 * memory, or texts that do not span their lines (then A is kept as is). */
static char *splice(const rag_hit_t *a, const rag_hit_t *b, bool *oom)
{
    if (lines_of(a->text) != a->end - a->start + 1 || lines_of(b->text) != b->end - b->start + 1)
        return NULL;
    /* B's lines before A: from its start up to the '\n' ending line a->start - 1 */
    const char *pre = b->text;
    size_t npre = 0;
    if (b->start < a->start)
        npre = (size_t)(line_at(b->text, a->start - b->start + 1) - b->text); /* includes the '\n' */
    const char *post = NULL;
    size_t npost = 0;
    if (b->end > a->end) {
        const char *p = line_at(b->text, a->end - b->start + 2);
        post = p;
        npost = strlen(p);
    }
    size_t la = strlen(a->text);
    char *t = malloc(npre + la + (post ? npost + 1 : 0) + 1);
    if (!t) {
        *oom = true;
        return NULL;
    }
    memcpy(t, pre, npre);
    memcpy(t + npre, a->text, la);
    size_t k = npre + la;
    if (post) {
        t[k++] = '\n';
        memcpy(t + k, post, npost);
        k += npost;
    }
    t[k] = '\0';
    return t;
}

static void hit_free(rag_hit_t *h)
{
    free(h->path);
    free(h->lang);
    free(h->symbol);
    free(h->text);
}

int fuse_merge(rag_hit_t *hits, size_t *n)
{
    bool oom = false;
    size_t m = 0;
    for (size_t i = 0; i < *n; i++) {
        rag_hit_t h = hits[i];
        size_t into = m;
        for (size_t j = 0; j < m && into == m; j++)
            if (overlaps(&hits[j], &h))
                into = j;
        if (into == m) {
            hits[m++] = h;
            continue;
        }
        /* merged into the better hit; a span that grew may now reach others after it */
        for (;;) {
            rag_hit_t *a = &hits[into];
            char *t = oom ? NULL : splice(a, &h, &oom);
            if (t) {
                free(a->text);
                a->text = t;
                a->start = a->start < h.start ? a->start : h.start;
                a->end = a->end > h.end ? a->end : h.end;
            }
            hit_free(&h);
            size_t k = into + 1;
            while (k < m && !overlaps(&hits[k], a))
                k++;
            if (k == m)
                break;
            h = hits[k];
            memmove(&hits[k], &hits[k + 1], (m - k - 1) * sizeof *hits);
            m--;
        }
    }
    *n = m;
    return oom ? OCT_ENOMEM : 0;
}
