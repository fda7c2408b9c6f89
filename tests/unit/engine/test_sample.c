/* test_sample.c - the sampler (greedy, temperature, top-k/top-p/min-p,
 * penalties, seeding) on hand-made logits, and the stop-string matcher. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "test.h"

static sampler_t *mk(const sample_params_t *p, uint32_t nv)
{
    sampler_t *s = NULL;
    errmsg_t err = {0};
    CHECKF(sample_new(&s, p, nv, &err) == 0, "%s", err.msg);
    return s;
}

static sample_params_t params(float temp, int top_k, float top_p, float min_p)
{
    sample_params_t p;
    sample_params_default(&p);
    p.temp = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = 7;
    return p;
}

static void test_greedy(void)
{
    float lg[6] = {0.1f, 2.0f, -1.0f, 2.0f, 1.5f, -3.0f};
    sample_params_t p = params(0, 40, 0.95f, 0.05f);
    sampler_t *s = mk(&p, 6);
    if (!s)
        return;
    CHECK_EQ_INT(sample_token(s, lg), 1); /* tie: lowest id */
    lg[3] = 2.5f;
    CHECK_EQ_INT(sample_token(s, lg), 3);
    sample_free(s);
    /* top-k 1 is greedy whatever the temperature */
    p = params(5.0f, 1, 1.0f, 0);
    s = mk(&p, 6);
    if (!s)
        return;
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(sample_token(s, lg), 3);
    sample_free(s);
}

/* Logits of the probabilities P (temperature 1). */
static void logits_of(const double *pr, int n, float *lg)
{
    for (int i = 0; i < n; i++)
        lg[i] = (float)log(pr[i]);
}

/* Counts of DRAWS samples. */
static void histogram(sampler_t *s, const float *lg, int n, int draws, int *cnt)
{
    memset(cnt, 0, (size_t)n * sizeof *cnt);
    for (int i = 0; i < draws; i++) {
        int32_t id = sample_token(s, lg);
        CHECK(id >= 0 && id < n);
        if (id >= 0 && id < n)
            cnt[id]++;
    }
}

/* |observed - expected| within 5 standard deviations of a binomial. */
static void check_freq(int cnt, int draws, double p, const char *what)
{
    double sd = sqrt(draws * p * (1 - p)) + 1;
    CHECKF(fabs(cnt - draws * p) <= 5 * sd, "%s: %d of %d, expected %.1f", what, cnt, draws, draws * p);
}

static void test_distributions(void)
{
    const double pr[5] = {0.5, 0.3, 0.12, 0.06, 0.02};
    float lg[5];
    int cnt[5], draws = 20000;
    logits_of(pr, 5, lg);
    /* plain temperature 1: the distribution itself */
    sample_params_t p = params(1.0f, 0, 1.0f, 0);
    sampler_t *s = mk(&p, 5);
    if (!s)
        return;
    histogram(s, lg, 5, draws, cnt);
    for (int i = 0; i < 5; i++)
        check_freq(cnt[i], draws, pr[i], "temp 1");
    sample_free(s);
    /* top-p 0.75: {0.5, 0.3} hold 0.8 >= 0.75, renormalized */
    p = params(1.0f, 0, 0.75f, 0);
    s = mk(&p, 5);
    histogram(s, lg, 5, draws, cnt);
    check_freq(cnt[0], draws, 0.5 / 0.8, "top-p");
    CHECK(cnt[0] + cnt[1] == draws);
    sample_free(s);
    /* min-p 0.2: p >= 0.1 keeps three */
    p = params(1.0f, 0, 1.0f, 0.2f);
    s = mk(&p, 5);
    histogram(s, lg, 5, draws, cnt);
    CHECK(cnt[3] == 0 && cnt[4] == 0);
    check_freq(cnt[2], draws, 0.12 / 0.92, "min-p");
    sample_free(s);
    /* top-k 2 */
    p = params(1.0f, 2, 1.0f, 0);
    s = mk(&p, 5);
    histogram(s, lg, 5, draws, cnt);
    CHECK(cnt[0] + cnt[1] == draws);
    check_freq(cnt[1], draws, 0.3 / 0.8, "top-k");
    sample_free(s);
    /* temperature 0.5 squares the probabilities (then renormalizes) */
    p = params(0.5f, 0, 1.0f, 0);
    s = mk(&p, 5);
    histogram(s, lg, 5, draws, cnt);
    double z = 0;
    for (int i = 0; i < 5; i++)
        z += pr[i] * pr[i];
    for (int i = 0; i < 5; i++)
        check_freq(cnt[i], draws, pr[i] * pr[i] / z, "temp 0.5");
    sample_free(s);
}

static void test_seed(void)
{
    enum { NV = 1000 };
    float *lg = malloc(NV * sizeof *lg);
    if (!lg)
        return;
    uint32_t x = 12345;
    for (int i = 0; i < NV; i++) {
        x = x * 1664525u + 1013904223u;
        lg[i] = (float)(x >> 8) / (float)(1u << 24) * 4.0f;
    }
    sample_params_t p = params(1.0f, 0, 0.98f, 0);
    int32_t a[64], b[64], c[64];
    sampler_t *s = mk(&p, NV);
    if (!s)
        goto done;
    for (int i = 0; i < 64; i++)
        a[i] = sample_token(s, lg);
    sample_reset(s);
    for (int i = 0; i < 64; i++)
        b[i] = sample_token(s, lg);
    CHECK(!memcmp(a, b, sizeof a));
    sample_free(s);
    p.seed = 8;
    s = mk(&p, NV);
    if (!s)
        goto done;
    for (int i = 0; i < 64; i++)
        c[i] = sample_token(s, lg);
    CHECK(memcmp(a, c, sizeof a) != 0);
    sample_free(s);
done:
    free(lg);
}

static void test_penalties(void)
{
    float lg[8] = {2.0f, 1.9f, -1.0f, -1.05f, 1.0f, 0.8f, 0, 0};
    sample_params_t p = params(0, 0, 1.0f, 0);
    p.repeat_penalty = 1.1f;
    sampler_t *s = mk(&p, 8);
    if (!s)
        return;
    CHECK_EQ_INT(sample_token(s, lg), 0);
    sample_accept(s, 0); /* 2.0 / 1.1 = 1.82 < 1.9 */
    CHECK_EQ_INT(sample_token(s, lg), 1);
    sample_free(s);
    /* negative logits are multiplied: -1.0 * 1.1 = -1.1 < -1.05 */
    float neg[2] = {-1.0f, -1.05f};
    s = mk(&p, 2);
    CHECK_EQ_INT(sample_token(s, neg), 0);
    sample_accept(s, 0);
    CHECK_EQ_INT(sample_token(s, neg), 1);
    sample_free(s);
    /* presence: 1.0 - 0.5 < 0.8 */
    float pl[2] = {1.0f, 0.8f};
    p = params(0, 0, 1.0f, 0);
    p.presence_penalty = 0.5f;
    s = mk(&p, 2);
    sample_accept(s, 0);
    CHECK_EQ_INT(sample_token(s, pl), 1);
    sample_free(s);
    /* frequency: once 0.9 > 0.8, three times 0.7 < 0.8 */
    p = params(0, 0, 1.0f, 0);
    p.freq_penalty = 0.1f;
    s = mk(&p, 2);
    sample_accept(s, 0);
    CHECK_EQ_INT(sample_token(s, pl), 0);
    sample_accept(s, 0);
    sample_accept(s, 0);
    CHECK_EQ_INT(sample_token(s, pl), 1);
    sample_free(s);
    /* the window: the last 2 tokens only */
    p = params(0, 0, 1.0f, 0);
    p.presence_penalty = 0.5f;
    p.repeat_last_n = 2;
    float wl[4] = {1.0f, 0.8f, 0, 0};
    s = mk(&p, 4);
    sample_accept(s, 0);
    CHECK_EQ_INT(sample_token(s, wl), 1);
    sample_accept(s, 2);
    sample_accept(s, 3);
    CHECK_EQ_INT(sample_token(s, wl), 0);
    sample_accept(s, 0);
    sample_reset(s);
    CHECK_EQ_INT(sample_token(s, wl), 0);
    sample_free(s);
}

/* Top-p over a large flat vocabulary: only the nucleus is ever drawn. */
static void test_top_p_large_vocab(void)
{
    enum { NV = 150000 };
    float *lg = malloc(NV * sizeof *lg);
    double *pr = malloc(NV * sizeof *pr);
    int32_t *order = malloc(NV * sizeof *order);
    char *in = calloc(NV, 1);
    if (!lg || !pr || !order || !in)
        goto done;
    uint32_t x = 99;
    double mx = -1e30, z = 0;
    for (int i = 0; i < NV; i++) {
        x = x * 1664525u + 1013904223u;
        lg[i] = (float)(x >> 8) / (float)(1u << 24) * 12.0f;
        mx = fmax(mx, lg[i]);
    }
    for (int i = 0; i < NV; i++)
        z += (pr[i] = exp(lg[i] - mx));
    /* the nucleus by brute force: sort by probability, take until 0.9 */
    for (int i = 0; i < NV; i++)
        order[i] = i;
    for (int gap = NV / 2; gap > 0; gap /= 2) /* shell sort, descending */
        for (int i = gap; i < NV; i++)
            for (int j = i; j >= gap && pr[order[j - gap]] < pr[order[j]]; j -= gap) {
                int32_t t = order[j];
                order[j] = order[j - gap];
                order[j - gap] = t;
            }
    double acc = 0;
    int n_in = 0;
    for (int i = 0; i < NV && acc < 0.9; i++) {
        acc += pr[order[i]] / z;
        in[order[i]] = 1;
        n_in++;
    }
    sample_params_t p = params(1.0f, 0, 0.9f, 0);
    sampler_t *s = mk(&p, NV);
    if (!s)
        goto done;
    int outside = 0;
    for (int i = 0; i < 60; i++)
        outside += !in[sample_token(s, lg)];
    CHECKF(outside == 0, "%d of 60 draws outside the nucleus of %d tokens", outside, n_in);
    sample_free(s);
done:
    free(lg);
    free(pr);
    free(order);
    free(in);
}

static void test_bad_params(void)
{
    sampler_t *s = NULL;
    errmsg_t err;
    sample_params_t p = params(1.0f, -1, 1.0f, 0);
    CHECK_EQ_INT(sample_new(&s, &p, 10, &err), OCT_EINVAL);
    p = params(1.0f, 0, 0.0f, 0);
    CHECK_EQ_INT(sample_new(&s, &p, 10, &err), OCT_EINVAL);
    p = params(1.0f, 0, 1.0f, 1.5f);
    CHECK_EQ_INT(sample_new(&s, &p, 10, &err), OCT_EINVAL);
    p = params(NAN, 0, 1.0f, 0);
    CHECK_EQ_INT(sample_new(&s, &p, 10, &err), OCT_EINVAL);
    p = params(1.0f, 0, 1.0f, 0);
    p.repeat_penalty = 0;
    CHECK_EQ_INT(sample_new(&s, &p, 10, &err), OCT_EINVAL);
    p = params(1.0f, 0, 1.0f, 0);
    CHECK_EQ_INT(sample_new(&s, &p, 0, &err), OCT_EINVAL);
    CHECK(s == NULL);
}

/* Feed PIECES through a matcher; returns what was emitted (and flushed). */
static void run_stop(const char *const *stops, size_t ns, const char *const *pieces, size_t np, char *out,
                     bool *stopped)
{
    sample_stop_t *m = NULL;
    errmsg_t err;
    out[0] = 0;
    *stopped = false;
    CHECK(sample_stop_new(&m, stops, ns, &err) == 0);
    if (!m)
        return;
    const char *e;
    size_t el;
    for (size_t i = 0; i < np && !*stopped; i++) {
        *stopped = sample_stop_push(m, pieces[i], strlen(pieces[i]), &e, &el);
        strncat(out, e, el);
    }
    if (!*stopped) {
        sample_stop_flush(m, &e, &el);
        strncat(out, e, el);
    }
    sample_stop_free(m);
}

static void test_stop_strings(void)
{
    char out[256];
    bool st;
    const char *stops[] = {"END", "\n\n", ""};
    const char *p1[] = {"hel", "lo E", "N", "D more"};
    run_stop(stops, 3, p1, 4, out, &st);
    CHECK(st);
    CHECK_EQ_STR(out, "hello ");
    const char *p2[] = {"a\n", "b\n", "\nc"};
    run_stop(stops, 3, p2, 3, out, &st);
    CHECK(st);
    CHECK_EQ_STR(out, "a\nb");
    /* a prefix that does not complete is released */
    const char *p3[] = {"E", "N", "d", " x"};
    run_stop(stops, 3, p3, 4, out, &st);
    CHECK(!st);
    CHECK_EQ_STR(out, "ENd x");
    /* held at the end and flushed */
    const char *p4[] = {"the E"};
    run_stop(stops, 3, p4, 1, out, &st);
    CHECK(!st);
    CHECK_EQ_STR(out, "the E");
    /* overlapping prefix: "aab" inside "aaab" */
    const char *s2[] = {"aab"};
    const char *p5[] = {"a", "a", "a", "b", "c"};
    run_stop(s2, 1, p5, 5, out, &st);
    CHECK(st);
    CHECK_EQ_STR(out, "a");
    /* no stop strings: straight through */
    const char *p6[] = {"x", "END", "y"};
    run_stop(NULL, 0, p6, 3, out, &st);
    CHECK(!st);
    CHECK_EQ_STR(out, "xENDy");
    /* the stop string inside one piece, text before it kept */
    const char *p7[] = {"abcENDdef"};
    run_stop(stops, 3, p7, 1, out, &st);
    CHECK(st);
    CHECK_EQ_STR(out, "abc");
}

/* Drawing from the top candidates gives the token the full logits give,
 * draw after draw with one seed; penalties need every logit. */
static void test_candidates_same_draws(void)
{
    enum { NV = 3000, K = 40 };
    float *lg = malloc(NV * sizeof *lg);
    int32_t ids[K];
    float vals[K];
    sample_params_t p = params(0.9f, K, 0.9f, 0.02f);
    sampler_t *a = mk(&p, NV), *b = mk(&p, NV);
    if (!lg || !a || !b)
        goto done;
    CHECK_EQ_INT(sample_candidates(a), K);
    srand(5);
    for (int step = 0; step < 200; step++) {
        for (int i = 0; i < NV; i++)
            lg[i] = (float)(rand() % 2000) / 200.0f; /* ties on purpose */
        /* the rank order by hand: value descending, then id ascending */
        int n = 0;
        for (int i = 0; i < NV; i++) {
            if (n == K && !(lg[i] > vals[K - 1]))
                continue;
            int j = n < K ? n++ : K - 1;
            while (j > 0 && lg[i] > vals[j - 1]) {
                vals[j] = vals[j - 1];
                ids[j] = ids[j - 1];
                j--;
            }
            vals[j] = lg[i];
            ids[j] = i;
        }
        int32_t x = sample_token(a, lg), y = sample_token_top(b, ids, vals, K);
        CHECK_EQ_INT(x, y);
        sample_accept(a, x);
        sample_accept(b, y);
    }
    sample_params_t g = params(0, 40, 0.95f, 0.05f);
    sampler_t *gs = mk(&g, NV);
    if (gs)
        CHECK_EQ_INT(sample_candidates(gs), 1);
    sample_free(gs);
    sample_params_t pen = params(0.9f, K, 0.9f, 0.0f);
    pen.repeat_penalty = 1.1f;
    sampler_t *ps = mk(&pen, NV);
    if (ps)
        CHECK_EQ_INT(sample_candidates(ps), 0);
    sample_free(ps);
    sample_params_t wide = params(0.9f, 0, 0.9f, 0.0f);
    sampler_t *ws = mk(&wide, NV);
    if (ws)
        CHECK_EQ_INT(sample_candidates(ws), 0);
    sample_free(ws);
done:
    sample_free(a);
    sample_free(b);
    free(lg);
}

int main(void)
{
    TEST_RUN(test_greedy);
    TEST_RUN(test_distributions);
    TEST_RUN(test_seed);
    TEST_RUN(test_penalties);
    TEST_RUN(test_top_p_large_vocab);
    TEST_RUN(test_bad_params);
    TEST_RUN(test_stop_strings);
    TEST_RUN(test_candidates_same_draws);
    TEST_END();
}
