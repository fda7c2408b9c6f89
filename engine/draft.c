/* draft.c - drafts for speculative decoding: the n-gram index of prompt
 * lookup, the draft model kept in step, and the cost model that picks how
 * many tokens to draft; see draft.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "draft.h"
#include "lines.h"

#define NGRAM_MAX 4
#define STAT_DECAY 0.95   /* counts kept after each verification */
#define SKIP_DECAY 0.97   /* counts kept when a guess is not verified */
#define MAX_PASS 64       /* pass sizes whose cost is tracked */
#define N_BAND 24         /* context lengths [2^b, 2^(b+1)) whose pass costs are tracked apart */
#define PASS_TRUST 3      /* timings of a pass size before its fastest counts (one may be slowed) */
#define PRIOR_STEP 0.10   /* extra cost per token assumed for a pass size not yet timed */
#define PRIOR_ACC 0.3     /* acceptance assumed for a source not yet tried */
#define PRIOR_LINES 0.7   /* the same for line drafts: a hunk's context lines are copies by definition */
#define PRIOR_N 2.0       /* worth this many observations */
#define MIN_GAIN 1.02     /* speculate only when the expected speed-up beats this */
#define PROBE_EVERY 8     /* after this many proposals in a row without a draft, one token is drafted */

enum { SRC_NONE = -1, SRC_MODEL = NGRAM_MAX + 1, SRC_FN = NGRAM_MAX + 2, SRC_LINES = NGRAM_MAX + 3, N_SRC = NGRAM_MAX + 4 };

typedef struct stat {
    double acc, rej; /* decaying counts of accepted drafts and of rejections */
    double prior;    /* acceptance assumed before any */
} stat_t;

struct draft_mem {
    stat_t st[N_SRC];
    double pass_s[N_BAND][MAX_PASS + 1];
    unsigned pass_n[N_BAND][MAX_PASS + 1];
    bool used;
};

struct draft {
    draft_cfg_t cfg;
    int32_t *hist; /* context tokens, then the prompt and accepted tokens */
    size_t n, cap;
    size_t seq0; /* where the prompt starts in HIST */
    /* lookup: per n-gram length, open addressing of end offsets (0: empty) */
    uint32_t *tab[NGRAM_MAX + 1];
    size_t tab_mask;
    size_t prev[NGRAM_MAX + 1]; /* end of the latest earlier occurrence of the current suffix; 0: none */
    lines_t *lines; /* line drafts (cfg.tok); NULL: none */
    /* policy */
    stat_t st[N_SRC];
    /* fastest pass seen for each token count (0: none yet), by band of
     * context length (attention makes a pass of many tokens cost more
     * against one of a single token as the context grows): another process
     * taking the core only ever makes a pass slower, and the cost of a
     * count need not be smooth in it (kernel tiles) */
    double pass_s[N_BAND][MAX_PASS + 1];
    unsigned pass_n[N_BAND][MAX_PASS + 1]; /* how many were timed */
    double draft_s; /* fastest draft-model step seen (0: none yet) */
    int last_src;
    unsigned idle; /* proposals in a row without a draft */
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- n-gram index -------------------------------------------------------- */

static uint64_t ngram_hash(const int32_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull * (n + 1);
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)p[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

/* Record the n-gram ending at END (exclusive) and return the end of its
 * latest earlier occurrence (0: none). */
static size_t ngram_put(draft_t *d, size_t n, size_t end)
{
    const int32_t *g = d->hist + end - n;
    uint32_t *tab = d->tab[n];
    size_t i = ngram_hash(g, n) & d->tab_mask;
    for (; tab[i]; i = (i + 1) & d->tab_mask) {
        size_t e = tab[i];
        if (!memcmp(d->hist + e - n, g, n * sizeof *g)) {
            tab[i] = (uint32_t)end;
            return e;
        }
    }
    tab[i] = (uint32_t)end;
    return 0;
}

static int index_rebuild(draft_t *d, size_t slots, errmsg_t *err)
{
    for (size_t n = 1; n <= NGRAM_MAX; n++) {
        uint32_t *t = calloc(slots, sizeof *t);
        if (!t)
            return errmsg_set(err, OCT_ENOMEM, "out of memory indexing the prompt");
        free(d->tab[n]);
        d->tab[n] = t;
    }
    d->tab_mask = slots - 1;
    for (size_t end = 1; end <= d->n; end++)
        for (size_t n = 1; n <= NGRAM_MAX && n <= end; n++)
            d->prev[n] = ngram_put(d, n, end);
    return 0;
}

int draft_push(draft_t *d, const int32_t *ids, size_t n, errmsg_t *err)
{
    if (d->n + n > UINT32_MAX)
        return errmsg_set(err, OCT_EINVAL, "too many tokens for the lookup index");
    if (d->n + n > d->cap) {
        size_t cap = d->cap ? d->cap : 1024;
        while (cap < d->n + n)
            cap *= 2;
        int32_t *h = realloc(d->hist, cap * sizeof *h);
        if (!h)
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
        d->hist = h;
        d->cap = cap;
    }
    int rc = d->lines ? lines_push(d->lines, ids, n, err) : 0;
    if (rc)
        return rc;
    if (!d->cfg.lookup) {
        memcpy(d->hist + d->n, ids, n * sizeof *ids);
        d->n += n;
        return 0;
    }
    /* the tables stay at most half full */
    if (2 * (d->n + n) > d->tab_mask + 1) {
        size_t slots = d->tab_mask + 1 ? d->tab_mask + 1 : 1024;
        while (slots < 2 * (d->n + n))
            slots *= 2;
        memcpy(d->hist + d->n, ids, n * sizeof *ids);
        d->n += n;
        return index_rebuild(d, slots, err);
    }
    for (size_t i = 0; i < n; i++) {
        d->hist[d->n++] = ids[i];
        for (size_t g = 1; g <= NGRAM_MAX && g <= d->n; g++)
            d->prev[g] = ngram_put(d, g, d->n);
    }
    return 0;
}

/* ---- the cost model -------------------------------------------------------- */

/* Per-token acceptance: accepted drafts over accepted drafts and
 * rejections, from a prior (0.3 for most sources) worth two observations
 * (a source must show it pays: one failed guess is enough to stop trying
 * it for a while). */
static double accept_p(const stat_t *s)
{
    return (s->acc + s->prior * PRIOR_N) / (s->acc + s->rej + PRIOR_N);
}

/* The band of the current context length. */
static size_t band(const draft_t *d)
{
    size_t b = 0;
    for (size_t n = d->n - d->seq0; n > 1 && b + 1 < N_BAND; n >>= 1)
        b++;
    return b;
}

/* The fastest pass of M tokens seen at about the current context length; 0:
 * not timed PASS_TRUST times yet. A size timed once while another process
 * had the core would otherwise look dear for good, since only the sizes
 * chosen are timed again. */
static double pass_time(const draft_t *d, size_t m)
{
    size_t b = band(d);
    return m <= MAX_PASS && d->pass_n[b][m] >= PASS_TRUST ? d->pass_s[b][m] : 0;
}

/* Cost of a pass of M tokens relative to one of a single token; sizes not
 * timed yet are assumed cheap, so that they get tried. */
static double pass_ratio(const draft_t *d, size_t m)
{
    double t1 = pass_time(d, 1), tm = pass_time(d, m);
    if (tm > 0 && t1 > 0)
        return tm / t1;
    return 1.0 + PRIOR_STEP * (double)(m - 1);
}

/* The number of drafts (0..AVAIL) with the best expected tokens per unit
 * of time for a source with acceptance STAT, each draft costing STEP (in
 * single-token passes). */
static size_t best_k(const draft_t *d, const stat_t *st, size_t avail, double step)
{
    double a = accept_p(st), best = MIN_GAIN, e = 0, ak = 1;
    size_t k_best = 0;
    for (size_t k = 1; k <= avail; k++) {
        ak *= a;
        e += ak;
        double gain = (1.0 + e) / (pass_ratio(d, k + 1) + (double)k * step);
        if (gain > best) {
            best = gain;
            k_best = k;
        }
    }
    return k_best;
}

void draft_pass_time(draft_t *d, size_t n_tok, double seconds)
{
    if (n_tok < 1 || n_tok > MAX_PASS || !(seconds > 0))
        return;
    size_t b = band(d);
    double *t = &d->pass_s[b][n_tok];
    if (*t <= 0 || seconds < *t)
        *t = seconds;
    if (d->pass_n[b][n_tok] < PASS_TRUST)
        d->pass_n[b][n_tok]++;
}

void draft_result(draft_t *d, size_t n_drafted, size_t n_accepted)
{
    if (d->last_src == SRC_NONE || n_drafted == 0)
        return;
    stat_t *s = &d->st[d->last_src];
    s->acc = s->acc * STAT_DECAY + (double)n_accepted;
    s->rej = s->rej * STAT_DECAY + (n_accepted < n_drafted ? 1.0 : 0.0);
    d->last_src = SRC_NONE;
}

/* How many of AVAIL drafts to make from a source with acceptance ST, each
 * costing STEP. A source not worth asking has its counts decay toward the
 * prior; but after PROBE_EVERY proposals in a row without a draft, one
 * token is drafted anyway: with the measured cost of a pass the prior
 * acceptance alone does not pay for a draft, so sources whose first guesses
 * failed would otherwise never be asked again, though small models repeat
 * themselves more as they go on (a probe costs the difference between a
 * pass of 2 tokens and one of 1). */
static size_t choose(draft_t *d, stat_t *st, size_t avail, double step)
{
    size_t k = d->cfg.fixed ? avail : best_k(d, st, avail, step);
    if (k > 0 || avail == 0)
        return k;
    st->acc *= SKIP_DECAY;
    st->rej *= SKIP_DECAY;
    return d->idle + 1 >= PROBE_EVERY ? 1 : 0;
}

/* ---- sources --------------------------------------------------------------- */

/* The tokens after the latest earlier occurrence of the longest suffix that
 * has one. A continuation that runs into the present repeats itself: the
 * text since that occurrence is a period (loops, repeated lines). */
static size_t lookup(draft_t *d, size_t max, int32_t *out)
{
    for (size_t n = NGRAM_MAX; n >= 1; n--) {
        size_t e = d->prev[n];
        if (!e || d->n < n)
            continue;
        size_t k = choose(d, &d->st[n], max, 0.0);
        if (k == 0)
            continue;
        size_t period = d->n - e;
        for (size_t i = 0; i < k; i++)
            out[i] = i < period ? d->hist[e + i] : out[i - period];
        d->last_src = (int)n;
        return k;
    }
    return 0;
}

static int from_lines(draft_t *d, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    size_t got = 0;
    int rc = lines_propose(d->lines, max, out, &got, err);
    if (rc)
        return rc;
    size_t k = choose(d, &d->st[SRC_LINES], got, 0.0);
    if (k)
        d->last_src = SRC_LINES;
    *n_out = k;
    return 0;
}

/* Greedy drafts from the draft model, after bringing its cache in step
 * with the accepted sequence. */
static int from_model(draft_t *d, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    eng_session_t *ds = d->cfg.model;
    const int32_t *seq = d->hist + d->seq0;
    size_t n = d->n - d->seq0, room = eng_n_ctx(ds);
    *n_out = 0;
    if (n == 0 || n + 1 >= room)
        return 0;
    if (max > room - n)
        max = room - n;
    double step = 1.0;
    if (d->draft_s > 0 && pass_time(d, 1) > 0)
        step = d->draft_s / pass_time(d, 1);
    size_t k = choose(d, &d->st[SRC_MODEL], max, step);
    if (k == 0)
        return 0;
    const int32_t *have = eng_tokens(ds);
    size_t p = 0, pos = eng_pos(ds);
    while (p < pos && p < n && have[p] == seq[p])
        p++;
    if (p == n)
        p--; /* feed the last token again for its logits */
    int rc = eng_truncate(ds, (uint32_t)p, err);
    if (rc == 0)
        rc = eng_feed(ds, seq + p, n - p, err);
    double t0 = now_s();
    size_t i = 0;
    for (; rc == 0 && i < k; i++) {
        float v;
        if ((rc = eng_top_logits(ds, 1, &out[i], &v, err)))
            break;
        if (i + 1 < k)
            rc = eng_decode(ds, out[i], err);
    }
    if (rc)
        return rc;
    if (k > 1) {
        double per = (now_s() - t0) / (double)(k - 1);
        if (d->draft_s <= 0 || per < d->draft_s)
            d->draft_s = per;
    }
    d->last_src = SRC_MODEL;
    *n_out = k;
    return 0;
}

static int from_fn(draft_t *d, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    size_t got = 0;
    int rc = d->cfg.fn(d->cfg.fn_ud, d->hist + d->seq0, d->n - d->seq0, max, out, &got, err);
    if (rc)
        return rc;
    if (got > max)
        got = max;
    size_t k = choose(d, &d->st[SRC_FN], got, 0.0);
    if (k > 0)
        d->last_src = SRC_FN;
    *n_out = k;
    return 0;
}

int draft_propose(draft_t *d, size_t max, int32_t *out, size_t *n_out, errmsg_t *err)
{
    *n_out = 0;
    d->last_src = SRC_NONE;
    if (max > d->cfg.k_max)
        max = d->cfg.k_max;
    /* every cost is relative to a step of plain decoding: time one first */
    if (max == 0 || (!d->cfg.fixed && pass_time(d, 1) <= 0))
        return 0;
    int rc = 0;
    if (d->lines && ((rc = from_lines(d, max, out, n_out, err)) || *n_out)) {
        d->idle = 0;
        return rc;
    }
    if (d->cfg.lookup && (*n_out = lookup(d, max, out))) {
        d->idle = 0;
        return 0;
    }
    if (d->cfg.model && (rc = from_model(d, max, out, n_out, err)))
        return rc;
    if (*n_out == 0 && d->cfg.fn)
        rc = from_fn(d, max, out, n_out, err);
    d->idle = *n_out ? 0 : d->idle + 1;
    return rc;
}

/* ---- lifetime ----------------------------------------------------------- */

int draft_new(draft_t **out, const draft_cfg_t *cfg, errmsg_t *err)
{
    *out = NULL;
    draft_t *d = calloc(1, sizeof *d);
    if (!d)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    d->cfg = *cfg;
    if (d->cfg.k_max == 0)
        d->cfg.k_max = 1;
    d->last_src = SRC_NONE;
    for (int i = 0; i < N_SRC; i++)
        d->st[i].prior = i == SRC_LINES ? PRIOR_LINES : PRIOR_ACC;
    if (cfg->mem && cfg->mem->used) {
        memcpy(d->st, cfg->mem->st, sizeof d->st);
        memcpy(d->pass_s, cfg->mem->pass_s, sizeof d->pass_s);
        memcpy(d->pass_n, cfg->mem->pass_n, sizeof d->pass_n);
    }
    int rc = 0;
    if (cfg->lookup && cfg->tok)
        rc = lines_new(&d->lines, cfg->tok, err);
    if (rc == 0 && cfg->lookup && cfg->n_context)
        rc = draft_push(d, cfg->context, cfg->n_context, err);
    if (rc) {
        draft_free(d);
        return rc;
    }
    d->seq0 = d->n;
    *out = d;
    return 0;
}

void draft_free(draft_t *d)
{
    if (!d)
        return;
    draft_mem_t *mem = d->cfg.mem;
    if (mem) {
        memcpy(mem->st, d->st, sizeof mem->st);
        memcpy(mem->pass_s, d->pass_s, sizeof mem->pass_s);
        memcpy(mem->pass_n, d->pass_n, sizeof mem->pass_n);
        mem->used = true;
    }
    for (size_t n = 0; n <= NGRAM_MAX; n++)
        free(d->tab[n]);
    lines_free(d->lines);
    free(d->hist);
    free(d);
}

draft_mem_t *draft_mem_new(void)
{
    return calloc(1, sizeof(draft_mem_t));
}

void draft_mem_free(void *m)
{
    free(m);
}
