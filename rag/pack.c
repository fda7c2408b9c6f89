/* pack.c - fits the best retrieved chunks into a token budget for the
 * model's prompt (rag_pack in rag.h).
 *
 * Hits are taken best first. A hit that overlaps or touches a block already
 * taken from the same file is merged into it (the block's lines become the
 * union), so the prompt never shows a line twice. A hit is kept only if the
 * whole text still fits the budget; smaller hits further down may still fit
 * after a large one did not. When not even the best hit fits, as many of its
 * first lines as fit are used. The result is counted once more as a whole
 * and trimmed from the end, so the budget holds even for a tokenizer whose
 * counts are not additive. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag.h"

typedef struct block {
    const char *path, *lang;
    int start, end;
    const char **line; /* line[k] is line start + k, pointing into a hit's text */
    size_t *line_len;
    size_t rank;       /* best hit's position: blocks are written in this order */
    size_t cost;       /* tokens of the formatted block */
} block_t;

size_t rag_estimate_tokens(const char *text, size_t len, void *ud)
{
    (void)text;
    (void)ud;
    return (len + 2) / 3;
}

/* Point line[] entries of B for lines [h->start, h->end] into H's text. */
static void fill_lines(block_t *b, const rag_hit_t *h)
{
    const char *p = h->text;
    if (!p)
        return;
    for (int ln = h->start; ln <= h->end; ln++) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (ln >= b->start && ln <= b->end && !b->line[ln - b->start]) {
            b->line[ln - b->start] = p;
            b->line_len[ln - b->start] = l;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
}

/* Longest run of backticks in the block, so the fence can be longer. */
static size_t max_ticks(const block_t *b, int a, int e)
{
    size_t best = 0;
    for (int ln = a; ln <= e; ln++) {
        const char *s = b->line[ln - b->start];
        size_t run = 0;
        for (size_t i = 0; s && i < b->line_len[ln - b->start]; i++) {
            run = s[i] == '`' ? run + 1 : 0;
            if (run > best)
                best = run;
        }
    }
    return best;
}

/* Append lines [a, e] of B, formatted, to *buf (grown as needed), after a
 * blank line when SEP. Returns false when out of memory. */
static bool format_block(const block_t *b, int a, int e, bool sep, char **buf, size_t *n, size_t *cap)
{
    size_t ticks = max_ticks(b, a, e);
    size_t fence = ticks >= 3 ? ticks + 1 : 3;
    size_t need = strlen(b->path) + strlen(b->lang) + 2 * fence + 64;
    for (int ln = a; ln <= e; ln++)
        need += b->line_len[ln - b->start] + 1;
    if (*n + need + 1 > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *n + need + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    char *o = *buf + *n;
    if (sep)
        *o++ = '\n';
    o += sprintf(o, "%s:%d-%d\n", b->path, a, e);
    memset(o, '`', fence);
    o += fence;
    if (strcmp(b->lang, "text") != 0)
        o += sprintf(o, "%s", b->lang);
    *o++ = '\n';
    for (int ln = a; ln <= e; ln++) {
        size_t l = b->line_len[ln - b->start];
        if (l)
            memcpy(o, b->line[ln - b->start], l);
        o += l;
        *o++ = '\n';
    }
    memset(o, '`', fence);
    o += fence;
    *o++ = '\n';
    *o = '\0';
    *n = (size_t)(o - *buf);
    return true;
}

static size_t block_cost(const block_t *b, int a, int e, rag_count_fn count, void *ud, char **scratch,
                         size_t *scap, bool *oom)
{
    size_t n = 0;
    if (!format_block(b, a, e, false, scratch, &n, scap)) {
        *oom = true;
        return SIZE_MAX;
    }
    return count(*scratch, n, ud);
}

static void block_free(block_t *b)
{
    free(b->line);
    free(b->line_len);
}

static int cmp_rank(const void *x, const void *y)
{
    const block_t *a = x, *b = y;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* A block for hits [start, end] of PATH, made of BASE (may be NULL) and H. */
static bool make_block(block_t *nb, const block_t *base, const rag_hit_t *h, size_t rank)
{
    int start = h->start, end = h->end;
    if (base) {
        if (base->start < start)
            start = base->start;
        if (base->end > end)
            end = base->end;
    }
    size_t n = (size_t)(end - start + 1);
    *nb = (block_t){.path = h->path, .lang = h->lang ? h->lang : "text", .start = start, .end = end,
                    .rank = base && base->rank < rank ? base->rank : rank};
    nb->line = calloc(n, sizeof *nb->line);
    nb->line_len = calloc(n, sizeof *nb->line_len);
    if (!nb->line || !nb->line_len) {
        block_free(nb);
        return false;
    }
    if (base)
        for (int ln = base->start; ln <= base->end; ln++) {
            nb->line[ln - start] = base->line[ln - base->start];
            nb->line_len[ln - start] = base->line_len[ln - base->start];
        }
    fill_lines(nb, h);
    return true;
}

int rag_pack(const rag_results_t *res, size_t budget, rag_count_fn count, void *ud, char **out,
             rag_pack_info_t *info, errmsg_t *err)
{
    return rag_pack_marked(res, budget, count, ud, out, info, NULL, err);
}

/* What the blocks B[0..NB) hold of hit H. */
static rag_packed_t mark_of(const rag_hit_t *h, const block_t *b, size_t nb)
{
    rag_packed_t m = RAG_PACKED_OUT;
    for (size_t i = 0; h->path && i < nb; i++) {
        if (strcmp(b[i].path, h->path) || h->start > b[i].end || h->end < b[i].start)
            continue;
        if (h->start >= b[i].start && h->end <= b[i].end)
            return RAG_PACKED_WHOLE;
        m = RAG_PACKED_PART;
    }
    return m;
}

int rag_pack_marked(const rag_results_t *res, size_t budget, rag_count_fn count, void *ud, char **out,
                    rag_pack_info_t *info, rag_packed_t *mark, errmsg_t *err)
{
    block_t *blocks = NULL;
    size_t nb = 0, total = 0;
    char *scratch = NULL, *buf = NULL;
    size_t scap = 0, cap = 0, len = 0;
    bool oom = false;
    int rc = 0;
    if (!count)
        count = rag_estimate_tokens;
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    size_t nhits = res ? res->n : 0;
    for (size_t i = 0; mark && i < nhits; i++)
        mark[i] = RAG_PACKED_OUT;
    blocks = calloc(nhits ? nhits : 1, sizeof *blocks);
    if (!blocks)
        goto oom;
    for (size_t i = 0; i < nhits; i++) {
        const rag_hit_t *h = &res->hits[i];
        if (!h->path || !h->text || h->start < 1 || h->end < h->start)
            continue;
        /* the block this hit overlaps or touches, if any */
        size_t j = 0;
        for (; j < nb; j++)
            if (!strcmp(blocks[j].path, h->path) && h->start <= blocks[j].end + 1 &&
                h->end + 1 >= blocks[j].start)
                break;
        block_t cand;
        if (!make_block(&cand, j < nb ? &blocks[j] : NULL, h, i))
            goto oom;
        /* merging may make it touch another block of the file: absorb those too */
        for (size_t m = 0; m < nb; m++) {
            if (m == j || strcmp(blocks[m].path, h->path) || blocks[m].start > cand.end + 1 ||
                blocks[m].end + 1 < cand.start)
                continue;
            block_t merged;
            rag_hit_t as_hit = {.path = (char *)cand.path, .lang = (char *)cand.lang,
                                .start = cand.start, .end = cand.end, .text = NULL};
            if (!make_block(&merged, &blocks[m], &as_hit, cand.rank)) {
                block_free(&cand);
                goto oom;
            }
            for (int ln = cand.start; ln <= cand.end; ln++)
                if (cand.line[ln - cand.start]) {
                    merged.line[ln - merged.start] = cand.line[ln - cand.start];
                    merged.line_len[ln - merged.start] = cand.line_len[ln - cand.start];
                }
            block_free(&cand);
            cand = merged;
        }
        cand.cost = block_cost(&cand, cand.start, cand.end, count, ud, &scratch, &scap, &oom);
        if (oom) {
            block_free(&cand);
            goto oom;
        }
        size_t freed = 0;
        for (size_t m = 0; m < nb; m++)
            if (!strcmp(blocks[m].path, h->path) && blocks[m].start >= cand.start &&
                blocks[m].end <= cand.end)
                freed += blocks[m].cost;
        if (total - freed + cand.cost > budget) {
            block_free(&cand);
            continue;
        }
        /* replace the blocks the candidate covers */
        size_t w = 0;
        for (size_t m = 0; m < nb; m++) {
            if (!strcmp(blocks[m].path, h->path) && blocks[m].start >= cand.start &&
                blocks[m].end <= cand.end) {
                block_free(&blocks[m]);
                continue;
            }
            blocks[w++] = blocks[m];
        }
        nb = w;
        blocks[nb++] = cand;
        total = total - freed + cand.cost;
    }
    if (nb == 0 && nhits > 0 && budget > 0) {
        /* not even the best hit fits: as many of its first lines as do */
        const rag_hit_t *h = &res->hits[0];
        block_t b;
        if (h->path && h->text && h->start >= 1 && h->end >= h->start) {
            if (!make_block(&b, NULL, h, 0))
                goto oom;
            int lo = b.start - 1, hi = b.end; /* lines [start, lo] fit; find the largest */
            while (lo < hi) {
                int mid = lo + (hi - lo + 1) / 2;
                size_t c = block_cost(&b, b.start, mid, count, ud, &scratch, &scap, &oom);
                if (oom) {
                    block_free(&b);
                    goto oom;
                }
                if (c <= budget)
                    lo = mid;
                else
                    hi = mid - 1;
            }
            if (lo >= b.start) {
                b.end = lo;
                blocks[nb++] = b;
            } else {
                block_free(&b);
            }
        }
    }
    if (nb > 1)
        qsort(blocks, nb, sizeof *blocks, cmp_rank);
    /* write, then check the whole; drop blocks from the end while over */
    for (;;) {
        len = 0;
        for (size_t m = 0; m < nb; m++)
            if (!format_block(&blocks[m], blocks[m].start, blocks[m].end, m > 0, &buf, &len, &cap))
                goto oom;
        size_t c = len ? count(buf, len, ud) : 0;
        if (c <= budget || nb == 0) {
            for (size_t i = 0; i < nhits; i++) {
                rag_packed_t m = mark_of(&res->hits[i], blocks, nb);
                if (mark)
                    mark[i] = m;
                if (info && m != RAG_PACKED_OUT)
                    info->hits_used++;
            }
            if (info) {
                info->tokens = c;
                info->blocks = nb;
            }
            break;
        }
        block_free(&blocks[--nb]);
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf)
            goto oom;
        buf[0] = '\0';
    }
    *out = buf;
    buf = NULL;
    goto done;
oom:
    rc = errmsg_set(err, OCT_ENOMEM, "out of memory packing the context");
done:
    for (size_t m = 0; m < nb; m++)
        block_free(&blocks[m]);
    free(blocks);
    free(scratch);
    free(buf);
    return rc;
}
