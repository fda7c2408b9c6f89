/* sample.c - token sampling and stop strings; see sample.h.
 *
 * Order of the stages (as llama.cpp's default chain): penalties, top-k,
 * top-p, min-p (top-p and min-p on the temperature-1 distribution of the
 * top-k candidates), then temperature and a draw. Every comparison breaks
 * ties by token id, so the result depends only on the logits and the seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

struct cand {
    int32_t id;
    float v;
};

struct sampler {
    sample_params_t p;
    uint32_t n_vocab;
    uint64_t rng;
    /* penalty window: ring of the last repeat_last_n tokens and their counts */
    int32_t *ring;
    size_t ring_len, ring_pos;
    uint32_t *count;
    /* work space */
    int32_t *cid;
    float *cval;
    float *cprob;
    int32_t *sorted;
    struct cand *cands;
};

void sample_params_default(sample_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->temp = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(sampler_t *s) /* [0, 1) */
{
    return (double)(splitmix64(&s->rng) >> 11) * 0x1.0p-53;
}

int sample_new(sampler_t **out, const sample_params_t *p, uint32_t n_vocab, errmsg_t *err)
{
    *out = NULL;
    if (!n_vocab)
        return errmsg_set(err, OCT_EINVAL, "empty vocabulary");
    if (!isfinite(p->temp) || p->top_k < 0 || !(p->top_p > 0) || !(p->min_p >= 0 && p->min_p <= 1) ||
        !(p->repeat_penalty > 0) || !isfinite(p->repeat_penalty) || p->repeat_last_n < 0 ||
        !isfinite(p->freq_penalty) || !isfinite(p->presence_penalty))
        return errmsg_set(err, OCT_EINVAL,
                          "bad sampling parameters (need top-k >= 0, 0 < top-p, 0 <= min-p <= 1, "
                          "repeat penalty > 0, finite values)");
    sampler_t *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->ring = malloc(((size_t)p->repeat_last_n + 1) * sizeof *s->ring);
    s->count = calloc(n_vocab, sizeof *s->count);
    s->cid = malloc(n_vocab * sizeof *s->cid);
    s->cval = malloc(n_vocab * sizeof *s->cval);
    s->cprob = malloc(n_vocab * sizeof *s->cprob);
    s->sorted = malloc(n_vocab * sizeof *s->sorted);
    s->cands = malloc(n_vocab * sizeof *s->cands);
    if (!s->ring || !s->count || !s->cid || !s->cval || !s->cprob || !s->sorted || !s->cands) {
        sample_free(s);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    s->rng = p->seed;
    *out = s;
    return 0;
}

void sample_free(sampler_t *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s->count);
    free(s->cid);
    free(s->cval);
    free(s->cprob);
    free(s->sorted);
    free(s->cands);
    free(s);
}

void sample_reset(sampler_t *s)
{
    s->rng = s->p.seed;
    for (size_t i = 0; i < s->ring_len; i++)
        s->count[s->ring[(s->ring_pos + i) % (size_t)s->p.repeat_last_n]] = 0;
    s->ring_len = 0;
    s->ring_pos = 0;
}

void sample_accept(sampler_t *s, int32_t id)
{
    size_t n = (size_t)s->p.repeat_last_n;
    if (n == 0 || id < 0 || (uint32_t)id >= s->n_vocab)
        return;
    if (s->ring_len == n) {
        s->count[s->ring[s->ring_pos]]--;
        s->ring[s->ring_pos] = id;
        s->ring_pos = (s->ring_pos + 1) % n;
    } else {
        s->ring[(s->ring_pos + s->ring_len) % n] = id;
        s->ring_len++;
    }
    s->count[id]++;
}

static float penalized(const sampler_t *s, const float *logits, int32_t id)
{
    float l = logits[id];
    uint32_t c = s->count[id];
    if (c == 0)
        return l;
    if (s->p.repeat_penalty != 1.0f)
        l = l > 0 ? l / s->p.repeat_penalty : l * s->p.repeat_penalty;
    return l - (float)c * s->p.freq_penalty - s->p.presence_penalty;
}

/* a ranks before b: larger value, then smaller id */
static bool before(float va, int32_t ia, float vb, int32_t ib)
{
    return va > vb || (va == vb && ia < ib);
}

/* Min-heap (by rank) of the k best candidates, sifted in place. */
static void heap_down(int32_t *id, float *v, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(v[m], id[m], v[l], id[l]))
            m = l;
        if (r < n && before(v[m], id[m], v[r], id[r]))
            m = r;
        if (m == i)
            return;
        int32_t ti = id[i];
        float tv = v[i];
        id[i] = id[m];
        v[i] = v[m];
        id[m] = ti;
        v[m] = tv;
        i = m;
    }
}

/* Keep the K best of the n_vocab penalized logits in cid/cval; returns the count. */
static size_t top_k(sampler_t *s, const float *logits, size_t k)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_vocab; i++) {
        float v = penalized(s, logits, (int32_t)i);
        if (n < k) {
            s->cid[n] = (int32_t)i;
            s->cval[n] = v;
            n++;
            if (n == k)
                for (size_t j = k / 2 + 1; j-- > 0;)
                    heap_down(s->cid, s->cval, n, j);
        } else if (before(v, (int32_t)i, s->cval[0], s->cid[0])) {
            s->cid[0] = (int32_t)i;
            s->cval[0] = v;
            heap_down(s->cid, s->cval, n, 0);
        }
    }
    return n;
}

static int cmp_prob(const void *a, const void *b, void *ctx)
{
    const sampler_t *s = ctx;
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    float pa = s->cprob[ia], pb = s->cprob[ib];
    if (pa != pb)
        return pa > pb ? -1 : 1;
    int32_t ta = s->cid[ia], tb = s->cid[ib];
    return (ta > tb) - (ta < tb);
}

/* Sort candidate indices [0, n) by probability; candidates in the buckets
 * of probability (factors of two below the maximum) that hold TOP_P of the
 * mass are enough, so usually only a few are sorted. Returns how many of
 * s->sorted are valid. */
static size_t sort_top(sampler_t *s, size_t n, float pmax, float top_p)
{
    enum { NB = 64 };
    double mass[NB] = {0};
    for (size_t i = 0; i < n; i++) {
        int e;
        frexpf(s->cprob[i] / pmax, &e); /* e <= 1 */
        int b = 1 - e;
        mass[b < NB - 1 ? b : NB - 1] += s->cprob[i];
    }
    double acc = 0;
    int last = NB - 1;
    for (int b = 0; b < NB; b++) {
        acc += mass[b];
        if (acc >= top_p) {
            last = b;
            break;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int e;
        frexpf(s->cprob[i] / pmax, &e);
        int b = 1 - e;
        if ((b < NB - 1 ? b : NB - 1) <= last)
            s->sorted[m++] = (int32_t)i;
    }
    qsort_r(s->sorted, m, sizeof *s->sorted, cmp_prob, s);
    return m;
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Put the top-k candidates in rank order (value, then id), the order the
 * device's candidates come in, so that a seeded draw is the same from
 * either. */
static void sort_candidates(sampler_t *s, size_t n)
{
    struct cand *c = s->cands;
    for (size_t i = 0; i < n; i++) {
        c[i].id = s->cid[i];
        c[i].v = s->cval[i];
    }
    qsort(c, n, sizeof *c, cmp_cand);
    for (size_t i = 0; i < n; i++) {
        s->cid[i] = c[i].id;
        s->cval[i] = c[i].v;
    }
}

static int32_t draw(sampler_t *s, size_t n);

int32_t sample_token(sampler_t *s, const float *logits)
{
    const sample_params_t *p = &s->p;
    if (p->temp <= 0) {
        int32_t best = 0;
        float bv = penalized(s, logits, 0);
        for (uint32_t i = 1; i < s->n_vocab; i++) {
            float v = penalized(s, logits, (int32_t)i);
            if (v > bv) {
                bv = v;
                best = (int32_t)i;
            }
        }
        return best;
    }
    size_t n;
    if (p->top_k > 0 && (uint32_t)p->top_k < s->n_vocab) {
        n = top_k(s, logits, (size_t)p->top_k);
        sort_candidates(s, n);
    } else {
        n = s->n_vocab;
        for (uint32_t i = 0; i < s->n_vocab; i++) {
            s->cid[i] = (int32_t)i;
            s->cval[i] = penalized(s, logits, (int32_t)i);
        }
    }
    return draw(s, n);
}

int sample_candidates(const sampler_t *s)
{
    const sample_params_t *p = &s->p;
    if (p->repeat_penalty != 1.0f || p->freq_penalty != 0.0f || p->presence_penalty != 0.0f)
        return 0;
    if (p->temp <= 0)
        return 1;
    if (p->top_k > 0 && p->top_k <= SAMPLE_MAX_CANDIDATES && (uint32_t)p->top_k < s->n_vocab)
        return p->top_k;
    return 0;
}

int32_t sample_token_top(sampler_t *s, const int32_t *ids, const float *vals, size_t k)
{
    if (s->p.temp <= 0)
        return ids[0];
    for (size_t i = 0; i < k; i++) {
        s->cid[i] = ids[i];
        s->cval[i] = vals[i];
    }
    return draw(s, k);
}

/* The draw from the N candidates in cid/cval: top-p, min-p, temperature. */
static int32_t draw(sampler_t *s, size_t n)
{
    const sample_params_t *p = &s->p;
    /* temperature-1 probabilities for top-p and min-p */
    size_t imax = 0;
    for (size_t i = 1; i < n; i++)
        if (before(s->cval[i], s->cid[i], s->cval[imax], s->cid[imax]))
            imax = i;
    float vmax = s->cval[imax];
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        s->cprob[i] = expf(s->cval[i] - vmax);
        sum += s->cprob[i];
    }
    for (size_t i = 0; i < n; i++)
        s->cprob[i] = (float)(s->cprob[i] / sum);
    float pmax = s->cprob[imax];
    float pmin = p->min_p > 0 ? p->min_p * pmax : 0;
    /* the kept candidates, as indices into cid/cval, in a fixed order */
    size_t kept = 0;
    if (p->top_p < 1) {
        size_t m = sort_top(s, n, pmax, p->top_p);
        double acc = 0;
        for (size_t i = 0; i < m; i++) {
            int32_t c = s->sorted[i];
            if (i > 0 && s->cprob[c] < pmin)
                break;
            s->sorted[kept++] = c;
            acc += s->cprob[c];
            if (acc >= p->top_p)
                break;
        }
    } else {
        s->sorted[kept++] = (int32_t)imax;
        for (size_t i = 0; i < n; i++)
            if (i != imax && s->cprob[i] >= pmin)
                s->sorted[kept++] = (int32_t)i;
    }
    /* temperature and the draw */
    double tot = 0;
    for (size_t i = 0; i < kept; i++) {
        int32_t c = s->sorted[i];
        s->cprob[c] = expf((s->cval[c] - vmax) / p->temp);
        tot += s->cprob[c];
    }
    double r = rng_uniform(s) * tot, acc = 0;
    for (size_t i = 0; i < kept; i++) {
        int32_t c = s->sorted[i];
        acc += s->cprob[c];
        if (r < acc)
            return s->cid[c];
    }
    return s->cid[s->sorted[kept - 1]];
}

/* ---- stop strings -------------------------------------------------------- */

struct sample_stop {
    char **stops;
    size_t n;
    char *buf; /* text not yet emitted */
    size_t len, cap;
    char *out; /* what the last call emitted */
    size_t out_cap;
};

int sample_stop_new(sample_stop_t **out, const char *const *stops, size_t n, errmsg_t *err)
{
    *out = NULL;
    sample_stop_t *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    s->stops = calloc(n ? n : 1, sizeof *s->stops);
    if (!s->stops)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0])
            continue;
        if (!(s->stops[s->n] = strdup(stops[i])))
            goto oom;
        s->n++;
    }
    *out = s;
    return 0;
oom:
    sample_stop_free(s);
    return errmsg_set(err, OCT_ENOMEM, "out of memory");
}

void sample_stop_free(sample_stop_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->stops[i]);
    free(s->stops);
    free(s->buf);
    free(s->out);
    free(s);
}

static bool grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    char *np = realloc(*p, c);
    if (!np)
        return false;
    *p = np;
    *cap = c;
    return true;
}

/* Move the first N bytes of the pending text to the output. */
static void emit_front(sample_stop_t *s, size_t n, const char **emit, size_t *emit_len)
{
    if (n == 0 || !grow(&s->out, &s->out_cap, n + 1)) {
        /* keep the text pending rather than lose it */
        *emit = "";
        *emit_len = 0;
        return;
    }
    memcpy(s->out, s->buf, n);
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
    *emit = s->out;
    *emit_len = n;
}

bool sample_stop_push(sample_stop_t *s, const char *text, size_t len, const char **emit, size_t *emit_len)
{
    *emit = "";
    *emit_len = 0;
    if (s->n == 0) {
        /* nothing to match: pass the text straight through */
        if (!grow(&s->out, &s->out_cap, len + 1))
            return false;
        memcpy(s->out, text, len);
        *emit = s->out;
        *emit_len = len;
        return false;
    }
    if (!grow(&s->buf, &s->cap, s->len + len + 1))
        return false;
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    /* earliest completed stop string */
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t at = 0; at + sl <= s->len && at < first; at++)
            if (!memcmp(s->buf + at, s->stops[i], sl)) {
                first = at;
                break;
            }
    }
    if (first != SIZE_MAX) {
        emit_front(s, first, emit, emit_len);
        s->len = 0;
        return true;
    }
    /* hold back the longest tail that is a prefix of some stop string */
    size_t hold = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t k = sl - 1 < s->len ? sl - 1 : s->len; k > hold; k--)
            if (!memcmp(s->buf + s->len - k, s->stops[i], k)) {
                hold = k;
                break;
            }
    }
    emit_front(s, s->len - hold, emit, emit_len);
    return false;
}

void sample_stop_flush(sample_stop_t *s, const char **emit, size_t *emit_len)
{
    emit_front(s, s->len, emit, emit_len);
}
