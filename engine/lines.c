/* lines.c - line drafts for answers that are unified diffs or
 * search/replace blocks of their prompt's text; see lines.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "edmark.h"
#include "lines.h"

#define CHAIN_MAX 256  /* candidates looked at when an old-side line is searched for */
#define DRAFT_LINES 16 /* most lines of text drafted at once */
#define RULES_MAX 8    /* replacements remembered */
#define CONTEXT 3      /* context lines around a change (git's default) */
#define PREFIX_MIN 6   /* bytes of a line in progress that may place it by their own */
#define MERGE_GAP 2    /* unchanged lines between two changes that one block holds */
#define SCAN_MAX 4000  /* prompt lines looked through for the next block's first line */

enum { BLK_NONE, BLK_SEARCH, BLK_REPLACE };

/* A replacement the answer has made: whole-word OLD became NEW. */
typedef struct rule {
    char *old, *new_;
    size_t n_old, n_new;
} rule_t;

struct lines {
    const tok_t *tok;
    char *text; /* every pushed token's text */
    size_t n, cap;
    /* complete lines: line I is text[start[I] .. start[I + 1] - 1), the
     * newline excluded; start[n_lines] begins the line in progress */
    size_t *start;
    size_t n_lines, cap_lines;
    /* lines by content: head[h] and same[i] are line index + 1 (0: none);
     * lines written inside search/replace blocks are not indexed (own[i]),
     * so that a SEARCH line is found in the prompt, not in an earlier block */
    uint32_t *head, *same;
    unsigned char *own;
    size_t mask, cap_same, cap_own;
    /* the hunk being written */
    bool in_hunk;
    long next;      /* line of the prompt expected as the next old-side line; -1: unknown */
    long prev_old;  /* the hunk's last old-side line (its index among all lines); -1: none */
    long old_start; /* the hunk header's first old line number; -1: none */
    bool located;   /* an old-side line of this hunk was found in the prompt */
    bool have_offset;
    long offset;    /* prompt line index minus the file's line number */
    char marker;    /* first byte of the hunk's last line */
    long *minus;    /* the prompt's lines removed by the current run of '-' lines (-1: not found) */
    size_t n_minus, cap_minus;
    size_t n_plus;  /* '+' lines written since that run */
    size_t ctx_run; /* context lines since the hunk's last change */
    bool changed;   /* the hunk has a change */
    size_t hunk_line; /* the first line of the hunks written so far (the answer's diff) */
    /* the search/replace block being written: minus[] holds where its SEARCH
     * lines stand in the prompt, n_plus counts its REPLACE lines so far */
    int blk;        /* BLK_NONE, BLK_SEARCH or BLK_REPLACE */
    long blk_after; /* the prompt line after the previous block's SEARCH lines; -1: unknown */
    rule_t rule[RULES_MAX];
    size_t n_rules, rule_next;
    char *draft; /* scratch: the drafted text, a line with the rules applied */
    size_t draft_cap;
    char *sub;
    size_t sub_cap;
};

static bool ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static const char *line_at(const lines_t *l, size_t i, size_t *len)
{
    *len = l->start[i + 1] - l->start[i] - 1;
    return l->text + l->start[i];
}

static bool valid(const lines_t *l, long i)
{
    return i >= 0 && (size_t)i < l->n_lines;
}

static bool line_is(const lines_t *l, long i, const char *s, size_t n)
{
    if (!valid(l, i))
        return false;
    size_t len;
    const char *t = line_at(l, (size_t)i, &len);
    return len == n && !memcmp(t, s, n);
}

static int grow(void **p, size_t *cap, size_t need, size_t size, errmsg_t *err)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    *p = q;
    *cap = c;
    return 0;
}

/* ---- replacements ---------------------------------------------------------- */

/* The rule whose OLD stands as a whole word at S[I], or NULL. */
static const rule_t *rule_at(const lines_t *l, const char *s, size_t n, size_t i)
{
    if (i > 0 && ident(s[i - 1]) && ident(s[i]))
        return NULL;
    for (size_t r = 0; r < l->n_rules; r++) {
        const rule_t *u = &l->rule[r];
        if (u->n_old <= n - i && !memcmp(s + i, u->old, u->n_old) &&
            !(i + u->n_old < n && ident(s[i + u->n_old]) && ident(u->old[u->n_old - 1])))
            return u;
    }
    return NULL;
}

static bool changes(const lines_t *l, long line)
{
    if (!l->n_rules || !valid(l, line))
        return false;
    size_t n;
    const char *s = line_at(l, (size_t)line, &n);
    for (size_t i = 0; i < n; i++)
        if (rule_at(l, s, n, i))
            return true;
    return false;
}

/* Line LINE with every rule applied, in l->sub. */
static int substitute(lines_t *l, long line, size_t *out_n, errmsg_t *err)
{
    size_t n;
    const char *s = line_at(l, (size_t)line, &n);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const rule_t *u = rule_at(l, s, n, i);
        const char *add = u ? u->new_ : s + i;
        size_t n_add = u ? u->n_new : 1;
        if (grow((void **)&l->sub, &l->sub_cap, o + n_add + 1, 1, err))
            return OCT_ENOMEM;
        memcpy(l->sub + o, add, n_add);
        o += n_add;
        i += u ? u->n_old : 1;
    }
    *out_n = o;
    return 0;
}

static bool word_like(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ident(s[i]) && s[i] != '.')
            return false;
    return n > 0;
}

/* Learn from removed line A[0..NA) written again as B[0..NB): when they
 * differ by one word or number, remember the replacement. */
static int learn(lines_t *l, const char *a, size_t na, const char *b, size_t nb, errmsg_t *err)
{
    size_t p = 0, q = 0;
    while (p < na && p < nb && a[p] == b[p])
        p++;
    while (q < na - p && q < nb - p && a[na - 1 - q] == b[nb - 1 - q])
        q++;
    while (p > 0 && ident(a[p - 1]))
        p--;
    while (q > 0 && ident(a[na - q]))
        q--;
    const char *o = a + p, *w = b + p;
    size_t no = na - p - q, nw = nb - p - q;
    if (!word_like(o, no) || !word_like(w, nw) || (no == nw && !memcmp(o, w, no)))
        return 0;
    rule_t *u = NULL;
    for (size_t r = 0; r < l->n_rules && !u; r++)
        if (l->rule[r].n_old == no && !memcmp(l->rule[r].old, o, no))
            u = &l->rule[r];
    if (!u) {
        u = &l->rule[l->rule_next];
        l->rule_next = (l->rule_next + 1) % RULES_MAX;
        if (l->n_rules < RULES_MAX)
            l->n_rules++;
    }
    char *co = malloc(no), *cw = malloc(nw);
    if (!co || !cw) {
        free(co);
        free(cw);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    memcpy(co, o, no);
    memcpy(cw, w, nw);
    free(u->old);
    free(u->new_);
    *u = (rule_t){co, cw, no, nw};
    return 0;
}

/* ---- following the answer -------------------------------------------------- */

static void index_line(lines_t *l, size_t i)
{
    if (l->own[i])
        return;
    size_t len;
    const char *s = line_at(l, i, &len);
    size_t b = hash_bytes(s, len) & l->mask;
    l->same[i] = l->head[b];
    l->head[b] = (uint32_t)(i + 1);
}

static int rehash(lines_t *l, size_t slots, errmsg_t *err)
{
    uint32_t *h = calloc(slots, sizeof *h);
    if (!h)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    free(l->head);
    l->head = h;
    l->mask = slots - 1;
    for (size_t i = 0; i < l->n_lines; i++)
        index_line(l, i);
    return 0;
}

/* The prompt's line holding old-side text S[0..N): the expected one if it
 * matches, else the latest one whose line before it is the hunk's previous
 * old-side line, else the latest one. */
static long locate(const lines_t *l, const char *s, size_t n)
{
    if (line_is(l, l->next, s, n))
        return l->next;
    const char *ps = NULL;
    size_t pn = 0;
    if (l->prev_old >= 0) {
        ps = line_at(l, (size_t)l->prev_old, &pn);
        if (pn > 0 && l->blk == BLK_NONE)
            ps++, pn--; /* a hunk's line, without its marker */
    }
    long any = -1;
    size_t seen = 0;
    for (uint32_t e = l->head[hash_bytes(s, n) & l->mask]; e && seen < CHAIN_MAX; e = l->same[e - 1], seen++) {
        long i = (long)e - 1;
        if (!line_is(l, i, s, n))
            continue;
        if (!ps || line_is(l, i - 1, ps, pn))
            return i;
        if (any < 0)
            any = i;
    }
    return any;
}

/* A hunk header "@@ -A[,B] +C[,D] @@...": A, or -1. */
static long header_start(const char *s, size_t n)
{
    if (n < 4 || memcmp(s, "@@ -", 4))
        return -1;
    long a = 0;
    size_t i = 4;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && a < 100000000; i++)
        a = a * 10 + (s[i] - '0');
    return i > 4 ? a : -1;
}

static void hunk_start(lines_t *l, size_t i, const char *s, size_t len)
{
    if (!l->in_hunk)
        l->hunk_line = i;
    l->in_hunk = true;
    l->prev_old = -1;
    l->n_minus = l->n_plus = l->ctx_run = 0;
    l->changed = l->located = false;
    l->old_start = header_start(s, len);
    l->next = -1;
    if (l->have_offset && l->old_start >= 0 && valid(l, l->old_start + l->offset))
        l->next = l->old_start + l->offset;
}

/* Follow a search/replace block through line I (marker M): a SEARCH line
 * is placed in the prompt, a REPLACE line teaches the replacement it makes
 * of the SEARCH line it stands for. Lines of a block are the answer's own
 * and are not indexed. */
static int block_line(lines_t *l, size_t i, const char *s, size_t len, int m, errmsg_t *err)
{
    l->own[i] = m == EDMARK_SEARCH || l->blk != BLK_NONE;
    if (m == EDMARK_SEARCH) {
        l->in_hunk = false;
        l->blk = BLK_SEARCH;
        l->n_minus = l->n_plus = 0;
        l->prev_old = l->next = -1;
    } else if (m == EDMARK_DIVIDER && l->blk == BLK_SEARCH) {
        l->blk = BLK_REPLACE;
        l->n_plus = 0;
    } else if (m == EDMARK_REPLACE) {
        for (size_t k = l->n_minus; l->blk != BLK_NONE && k-- > 0;)
            if (l->minus[k] >= 0) {
                l->blk_after = l->minus[k] + 1;
                break;
            }
        l->blk = BLK_NONE;
    } else if (l->blk == BLK_SEARCH) {
        long at = locate(l, s, len);
        if (grow((void **)&l->minus, &l->cap_minus, l->n_minus + 1, sizeof *l->minus, err))
            return OCT_ENOMEM;
        l->minus[l->n_minus++] = at;
        l->next = at >= 0 ? at + 1 : -1;
        l->prev_old = (long)i;
    } else if (l->blk == BLK_REPLACE) {
        if (l->n_plus < l->n_minus && l->minus[l->n_plus] >= 0) {
            size_t na;
            const char *a = line_at(l, (size_t)l->minus[l->n_plus], &na);
            int rc = learn(l, a, na, s, len, err);
            if (rc)
                return rc;
        }
        l->n_plus++;
    }
    return 0;
}

/* Follow the hunk through the line just completed, line I. */
static int hunk_line(lines_t *l, size_t i, errmsg_t *err)
{
    size_t len;
    const char *s = line_at(l, i, &len);
    int bm = edmark(s, len);
    if (bm != EDMARK_NONE || l->blk != BLK_NONE)
        return block_line(l, i, s, len, bm, err);
    char m = len ? s[0] : ' '; /* a blank context line may have lost its space */
    if (len >= 2 && s[0] == '@' && s[1] == '@') {
        hunk_start(l, i, s, len);
        l->marker = '@';
        return 0;
    }
    if (!l->in_hunk)
        return 0;
    if (m == ' ' || m == '-') {
        long at = len ? locate(l, s + 1, len - 1) : locate(l, "", 0);
        if (at >= 0 && !l->located && l->old_start >= 0) {
            l->offset = at - l->old_start;
            l->have_offset = true;
        }
        l->located |= at >= 0;
        if (m == '-') {
            if (l->marker != '-')
                l->n_minus = l->n_plus = 0;
            if (grow((void **)&l->minus, &l->cap_minus, l->n_minus + 1, sizeof *l->minus, err))
                return OCT_ENOMEM;
            l->minus[l->n_minus++] = at;
            l->ctx_run = 0;
            l->changed = true;
        } else {
            l->n_minus = l->n_plus = 0;
            l->ctx_run++;
        }
        l->next = at >= 0 ? at + 1 : -1;
        l->prev_old = (long)i;
    } else if (m == '+') {
        if (l->n_plus < l->n_minus && l->minus[l->n_plus] >= 0) {
            size_t na;
            const char *a = line_at(l, (size_t)l->minus[l->n_plus], &na);
            int rc = learn(l, a, na, s + 1, len - 1, err);
            if (rc)
                return rc;
        }
        l->n_plus++;
        l->ctx_run = 0;
        l->changed = true;
    } else if (m != '\\') { /* "\ No newline at end of file" stays in the hunk */
        l->in_hunk = false;
    }
    l->marker = m;
    return 0;
}

/* Index the line just completed (the newline at text[N - 1]). */
static int line_done(lines_t *l, errmsg_t *err)
{
    if (grow((void **)&l->start, &l->cap_lines, l->n_lines + 2, sizeof *l->start, err) ||
        grow((void **)&l->same, &l->cap_same, l->n_lines + 1, sizeof *l->same, err) ||
        grow((void **)&l->own, &l->cap_own, l->n_lines + 1, 1, err))
        return OCT_ENOMEM;
    size_t i = l->n_lines++;
    l->own[i] = 0;
    l->start[l->n_lines] = l->n;
    int rc = hunk_line(l, i, err);
    if (rc)
        return rc;
    if (2 * l->n_lines > l->mask + 1)
        return rehash(l, 2 * (l->mask + 1), err);
    index_line(l, i);
    return 0;
}

int lines_push(lines_t *l, const int32_t *ids, size_t n, errmsg_t *err)
{
    for (size_t t = 0; t < n; t++) {
        const char *p;
        size_t len = tok_piece(l->tok, ids[t], false, &p);
        if (grow((void **)&l->text, &l->cap, l->n + len, 1, err))
            return OCT_ENOMEM;
        for (size_t j = 0; j < len; j++) {
            l->text[l->n++] = p[j];
            int rc = p[j] == '\n' ? line_done(l, err) : 0;
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- drafting -------------------------------------------------------------- */

/* Where the simulated answer stands: the removed lines still to be written
 * again, the next line of the prompt, the context since the last change. */
typedef struct sim {
    long pend[DRAFT_LINES + 64];
    size_t n_pend, i_pend;
    long next;
    size_t ctx_run;
    bool changed;
    bool search; /* in a block's SEARCH lines (else its REPLACE lines) */
} sim_t;

static int put(lines_t *l, size_t *at, const char *s, size_t n, errmsg_t *err)
{
    if (grow((void **)&l->draft, &l->draft_cap, *at + n + 1, 1, err))
        return OCT_ENOMEM;
    memcpy(l->draft + *at, s, n);
    *at += n;
    return 0;
}

static int put_line(lines_t *l, size_t *at, char m, const char *s, size_t n, errmsg_t *err)
{
    return put(l, at, &m, 1, err) || put(l, at, s, n, err) || put(l, at, "\n", 1, err) ? OCT_ENOMEM : 0;
}

/* Whether line I begins with S[0..N). */
static bool begins(const lines_t *l, long i, const char *s, size_t n)
{
    if (!valid(l, i))
        return false;
    size_t len;
    const char *t = line_at(l, (size_t)i, &len);
    return len >= n && !memcmp(t, s, n);
}

/* The latest line before the hunk that begins with S[0..N), for a line in
 * progress that is not the expected one (the first line of a hunk placed
 * by nothing yet): at least PREFIX_MIN bytes, and one line only, or no
 * guess. */
static long by_start(const lines_t *l, const char *s, size_t n)
{
    if (n < PREFIX_MIN)
        return -1;
    long found = -1;
    for (size_t i = l->blk != BLK_NONE ? l->n_lines : l->hunk_line; i-- > 0;)
        if (!l->own[i] && begins(l, (long)i, s, n)) {
            size_t len;
            const char *t = line_at(l, i, &len);
            if (found >= 0 && !line_is(l, found, t, len))
                return -1;
            found = found < 0 ? (long)i : found;
        }
    return found;
}

/* Whether a change comes within the next N lines from line I. */
static bool change_within(const lines_t *l, long i, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (changes(l, i + (long)k))
            return true;
    return false;
}

/* Append predicted whole lines to the draft, from state S, until about
 * BUDGET bytes: a line the rules change is removed, the removed lines are
 * written again with the rules applied once their run ends (at once while
 * no rule is known), other lines are context, and the hunk ends after
 * CONTEXT lines of context that no change follows closely. */
static int more_lines(lines_t *l, sim_t *s, size_t *at, size_t budget, errmsg_t *err)
{
    size_t len;
    const char *t;
    int rc;
    for (int k = 0; k < DRAFT_LINES && *at < budget; k++) {
        bool next_changes = changes(l, s->next);
        if (s->i_pend < s->n_pend && !next_changes) {
            long src = s->pend[s->i_pend++];
            if (src < 0 || (rc = substitute(l, src, &len, err)))
                return src < 0 ? 0 : rc;
            if ((rc = put_line(l, at, '+', l->sub, len, err)))
                return rc;
            s->ctx_run = 0;
            continue;
        }
        if (!valid(l, s->next))
            return 0;
        t = line_at(l, (size_t)s->next, &len);
        if (next_changes) {
            if (s->n_pend == sizeof s->pend / sizeof *s->pend)
                return 0;
            if ((rc = put_line(l, at, '-', t, len, err)))
                return rc;
            s->pend[s->n_pend++] = s->next++;
            s->ctx_run = 0;
            s->changed = true;
            continue;
        }
        if (l->n_rules && s->changed && s->ctx_run >= CONTEXT && !change_within(l, s->next, CONTEXT + 1))
            return 0;
        if ((rc = put_line(l, at, ' ', t, len, err)))
            return rc;
        s->next++;
        s->ctx_run++;
    }
    return 0;
}

/* Encode PRE[0..N_PRE) + the draft and keep, up to MAX, the tokens that
 * spell the draft alone, less the last one (it may merge with what follows
 * in the answer). *N_OUT stays 0 when the cut falls inside a token. */
static int encode_cut(lines_t *l, const char *pre, size_t n_pre, size_t n_draft, size_t max, int32_t *out,
                      size_t *n_out, errmsg_t *err)
{
    char *buf = malloc(n_pre + n_draft);
    if (!buf)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    memcpy(buf, pre, n_pre);
    memcpy(buf + n_pre, l->draft, n_draft);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = tok_encode(l->tok, buf, n_pre + n_draft, 0, &ids, &n, err);
    free(buf);
    if (rc)
        return rc;
    size_t tail = 0, c = n;
    while (c > 0 && tail < n_draft) {
        const char *p;
        tail += tok_piece(l->tok, ids[--c], false, &p);
    }
    if (tail == n_draft && n > c + 1) {
        size_t k = n - 1 - c;
        if (k > max)
            k = max;
        memcpy(out, ids + c, k * sizeof *out);
        *n_out = k;
    }
    free(ids);
    return 0;
}

/* The draft's tokens, as the tokenizer would spell them after the line in
 * progress, CUR: the line encoded with the draft (a word the answer's last
 * token ended inside goes on in the tokens that finish it), or where that
 * cut falls inside a token, the draft alone from where the last token
 * ends (a newline stays a token of its own, whatever whitespace follows).
 * SentencePiece puts a space before the text it encodes: there a newline,
 * which it never merges with, comes first. */
static int encode_draft(lines_t *l, const char *cur, size_t n_cur, size_t n_draft, size_t max, int32_t *out,
                        size_t *n_out, errmsg_t *err)
{
    bool spm = tok_kind(l->tok) == TOK_KIND_SPM;
    int rc = 0;
    if (n_cur) {
        char *pre = malloc(n_cur + 1);
        if (!pre)
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        pre[0] = '\n';
        memcpy(pre + 1, cur, n_cur);
        rc = encode_cut(l, spm ? pre : pre + 1, spm ? n_cur + 1 : n_cur, n_draft, max, out, n_out, err);
        free(pre);
        if (rc || *n_out)
            return rc;
    }
    return encode_cut(l, "\n", spm ? 1 : 0, n_draft, max, out, n_out, err);
}

/* Whether line I is a prompt line that holds text (a line of a block is
 * the answer's, a fence ends the code the blocks edit). */
static bool prompt_line(const lines_t *l, long i)
{
    return valid(l, i) && !l->own[i] && !begins(l, i, "```", 3);
}

/* Where the next block's SEARCH lines start, once a replacement is known:
 * the first line after the previous block that the rules change, provided
 * no other line of the prompt reads the same (else the block needs lines
 * around it to be unique, which are anyone's guess); -1: no guess. Lines
 * before the previous block that the rules change are no longer in the
 * file the blocks are applied to, and do not count. */
static long block_start(const lines_t *l)
{
    if (!l->n_rules || l->blk_after < 0)
        return -1;
    long at = -1;
    for (long i = l->blk_after, k = 0; k < SCAN_MAX && prompt_line(l, i); i++, k++)
        if (changes(l, i)) {
            at = i;
            break;
        }
    if (at < 0)
        return -1;
    size_t n, seen = 0;
    const char *s = line_at(l, (size_t)at, &n);
    /* the lines that read the same are on one chain of the index (own lines are not indexed) */
    for (uint32_t e = l->head[hash_bytes(s, n) & l->mask]; e; e = l->same[e - 1]) {
        long i = (long)e - 1;
        if (i != at && line_is(l, i, s, n) && !(i < l->blk_after && changes(l, i)))
            return -1;
        if (++seen >= CHAIN_MAX)
            return -1; /* too many alike to tell */
    }
    return at;
}

/* Append the rest of the block to the draft from state S: SEARCH lines
 * copied from the prompt while the block has no change yet or another
 * change comes within MERGE_GAP lines, then the divider, the SEARCH lines
 * again with the rules applied, and the REPLACE marker. While no rule is
 * known, where the SEARCH lines end is anyone's guess: one line at most. */
static int more_block(lines_t *l, sim_t *s, size_t *at, size_t budget, errmsg_t *err)
{
    size_t len;
    const char *t;
    int rc;
    for (int k = 0; s->search; k++) {
        if (*at >= budget || !prompt_line(l, s->next) || s->n_pend == sizeof s->pend / sizeof *s->pend)
            return 0;
        bool ch = changes(l, s->next);
        if (!ch && s->changed && !change_within(l, s->next + 1, MERGE_GAP))
            break;
        if (!l->n_rules && k > 0)
            return 0;
        t = line_at(l, (size_t)s->next, &len);
        if ((rc = put(l, at, t, len, err)) || (rc = put(l, at, "\n", 1, err)))
            return rc;
        s->pend[s->n_pend++] = s->next++;
        s->changed |= ch;
    }
    if (s->search) {
        if ((rc = put(l, at, "=======\n", 8, err)))
            return rc;
        s->search = false;
    }
    for (; s->i_pend < s->n_pend; s->i_pend++) {
        long src = s->pend[s->i_pend];
        if (*at >= budget || src < 0)
            return 0;
        if ((rc = substitute(l, src, &len, err)) || (rc = put(l, at, l->sub, len, err)) ||
            (rc = put(l, at, "\n", 1, err)))
            return rc;
    }
    return put(l, at, ">>>>>>> REPLACE\n", 16, err);
}

/* Drafts inside a search/replace block: the rest of the line in progress
 * (the prompt line it copies, or the SEARCH line it writes again with the
 * rules applied), then the rest of the block. */
static int propose_block(lines_t *l, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    const char *cur = l->text + l->start[l->n_lines];
    size_t n_cur = l->n - l->start[l->n_lines];
    size_t budget = 64 + 6 * max, at = 0;
    sim_t s = {.next = l->n_minus ? l->next : block_start(l), .search = l->blk == BLK_SEARCH};
    for (size_t i = 0; i < l->n_minus && s.n_pend < DRAFT_LINES; i++) {
        s.pend[s.n_pend++] = l->minus[i];
        s.changed |= changes(l, l->minus[i]);
    }
    if (!s.search)
        s.i_pend = l->n_plus;
    int rc;
    if (n_cur) {
        const char *e;
        size_t n_e;
        if (s.search) {
            long src = begins(l, s.next, cur, n_cur) ? s.next : by_start(l, cur, n_cur);
            if (src < 0 || s.n_pend == sizeof s.pend / sizeof *s.pend)
                return 0;
            e = line_at(l, (size_t)src, &n_e);
            s.pend[s.n_pend++] = src;
            s.next = src + 1;
            s.changed |= changes(l, src);
        } else {
            if (s.i_pend >= s.n_pend || s.pend[s.i_pend] < 0)
                return 0;
            if ((rc = substitute(l, s.pend[s.i_pend++], &n_e, err)))
                return rc;
            e = l->sub;
        }
        if (n_e < n_cur || memcmp(e, cur, n_cur))
            return 0;
        /* E may be l->sub, which more_block writes again: it is copied first */
        if ((rc = put(l, &at, e + n_cur, n_e - n_cur, err)) || (rc = put(l, &at, "\n", 1, err)))
            return rc;
    }
    if ((n_cur == 0 || l->n_rules || !s.search) && (rc = more_block(l, &s, &at, budget, err)))
        return rc;
    return at ? encode_draft(l, cur, n_cur, at, max, out, n_out, err) : 0;
}

int lines_propose(lines_t *l, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    *n_out = 0;
    if (max && l->blk != BLK_NONE)
        return propose_block(l, max, out, n_out, err);
    if (!l->in_hunk || max == 0)
        return 0;
    const char *cur = l->text + l->start[l->n_lines];
    size_t n_cur = l->n - l->start[l->n_lines];
    size_t budget = 64 + 6 * max, at = 0;
    sim_t s = {.next = l->next, .ctx_run = l->ctx_run, .changed = l->changed};
    /* the removed lines not yet written again; a new run starts after a context line */
    if (l->marker == '-' || l->marker == '+')
        for (size_t i = l->n_plus; i < l->n_minus && s.n_pend < DRAFT_LINES; i++)
            s.pend[s.n_pend++] = l->minus[i];
    int rc;
    if (n_cur == 0) {
        if ((rc = more_lines(l, &s, &at, budget, err)))
            return rc;
        return at ? encode_draft(l, cur, n_cur, at, max, out, n_out, err) : 0;
    }
    /* the line in progress: the rest of the line it is expected to copy */
    const char *e;
    size_t n_e;
    if (cur[0] == ' ' || cur[0] == '-') {
        long src = begins(l, s.next, cur + 1, n_cur - 1) ? s.next : by_start(l, cur + 1, n_cur - 1);
        if (src < 0)
            return 0;
        s.next = src + 1;
        e = line_at(l, (size_t)src, &n_e);
        if (cur[0] == '-') {
            if (l->marker != '-')
                s.n_pend = 0;
            s.pend[s.n_pend++] = src;
            s.ctx_run = 0;
            s.changed = true;
        } else {
            s.n_pend = 0;
            s.ctx_run++;
        }
    } else if (cur[0] == '+' && s.i_pend < s.n_pend && s.pend[s.i_pend] >= 0) {
        if ((rc = substitute(l, s.pend[s.i_pend++], &n_e, err)))
            return rc;
        e = l->sub;
        s.ctx_run = 0;
    } else {
        return 0;
    }
    if (n_e < n_cur - 1 || memcmp(e, cur + 1, n_cur - 1))
        return 0;
    /* E may be l->sub, which more_lines writes again: it is copied first */
    if ((rc = put(l, &at, e + n_cur - 1, n_e - (n_cur - 1), err)) || (rc = put(l, &at, "\n", 1, err)) ||
        (rc = more_lines(l, &s, &at, budget, err)))
        return rc;
    return encode_draft(l, cur, n_cur, at, max, out, n_out, err);
}

int lines_new(lines_t **out, const tok_t *tok, errmsg_t *err)
{
    *out = NULL;
    lines_t *l = calloc(1, sizeof *l);
    if (!l)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    l->tok = tok;
    l->next = l->prev_old = l->old_start = l->blk_after = -1;
    int rc = grow((void **)&l->start, &l->cap_lines, 1, sizeof *l->start, err);
    if (rc == 0)
        rc = rehash(l, 1024, err);
    if (rc) {
        lines_free(l);
        return rc;
    }
    l->start[0] = 0;
    *out = l;
    return 0;
}

void lines_free(lines_t *l)
{
    if (!l)
        return;
    for (size_t r = 0; r < l->n_rules; r++) {
        free(l->rule[r].old);
        free(l->rule[r].new_);
    }
    free(l->text);
    free(l->start);
    free(l->head);
    free(l->same);
    free(l->own);
    free(l->minus);
    free(l->draft);
    free(l->sub);
    free(l);
}
