/* spec_bench.c - effective decode speed with and without speculative
 * decoding (engine/generate.h, engine/draft.h), on the prompt sets of
 * tools/bench/spec_prompts.py. Run through tools/bench/spec_bench.sh.
 *
 *   spec_bench -m MODEL --dir DIR [--mode gen|replay] [-n N] [--threads T] [--ctx C] [--reps R]
 *              [--backend cpu|cuda]
 *
 * gen: greedy gen_run on each DIR/NN.prompt, without and then with
 *   speculation (prompt lookup, adaptive k), REPS times, interleaved; the
 *   two outputs must be identical. Speed = generated tokens / decode time.
 * replay: the expected continuation DIR/NN.answer (its first N tokens) is
 *   forced (a model that writes exactly that answer), for random-weight
 *   models that cannot copy:
 *   plain = one decode pass per answer token; speculative = prompt-lookup
 *   drafts verified in batched passes, accepted while they equal the
 *   answer, the cache cut back after each pass (what gen_run does, with the
 *   answer in place of the sampler). Both pick each row's argmax as the
 *   real loop would. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "draft.h"
#include "generate.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = '\0';
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct tot {
    double t_off, t_on;
    size_t tok_off, tok_on, drafted, accepted, passes_on;
    int mismatches;
} tot_t;

static int die(const char *what, const errmsg_t *e)
{
    fprintf(stderr, "spec_bench: %s: %s\n", what, e->msg);
    return 1;
}

static int bench_gen(eng_session_t *s, const int32_t *ids, size_t n, long max, int reps, tot_t *t, double *on_s,
                     double *off_s, double *acc, double *tpp)
{
    errmsg_t err = {0};
    size_t tok[2] = {0, 0};
    double sec[2] = {0, 0};
    size_t drafted = 0, accepted = 0, passes = 0;
    for (int r = 0; r < reps; r++) {
        gen_result_t res[2];
        for (int spec = 0; spec < 2; spec++) {
            gen_params_t p;
            gen_params_default(&p);
            p.sample.temp = 0;
            p.max_tokens = max;
            p.reuse = false;
            p.speculate = spec;
            if (gen_run(s, ids, n, &p, &res[spec], &err))
                return die("gen_run", &err);
            tok[spec] += res[spec].n_tokens;
            sec[spec] += res[spec].t_decode;
        }
        if (res[0].n_tokens != res[1].n_tokens ||
            memcmp(res[0].tokens, res[1].tokens, res[0].n_tokens * sizeof *res[0].tokens))
            t->mismatches++;
        drafted += res[1].n_drafted;
        accepted += res[1].n_accepted;
        passes += res[1].n_passes + 1;
        gen_result_free(&res[0]);
        gen_result_free(&res[1]);
    }
    t->tok_off += tok[0];
    t->tok_on += tok[1];
    t->t_off += sec[0];
    t->t_on += sec[1];
    t->drafted += drafted;
    t->accepted += accepted;
    t->passes_on += passes;
    *off_s = tok[0] / sec[0];
    *on_s = tok[1] / sec[1];
    *acc = drafted ? (double)accepted / drafted : 0;
    *tpp = passes ? (double)tok[1] / passes : 0;
    return 0;
}

static int argmax_row(const float *l, uint32_t nv)
{
    int b = 0;
    for (uint32_t i = 1; i < nv; i++)
        if (l[i] > l[b])
            b = (int)i;
    return b;
}

/* One forced run: SPEC or not; returns seconds from the first answer token on. */
static int replay(eng_session_t *s, const int32_t *p, size_t np, const int32_t *a, size_t na, bool spec,
                  double *sec, size_t *drafted, size_t *accepted, size_t *passes)
{
    errmsg_t err = {0};
    eng_model_t *m = eng_session_model(s);
    uint32_t nv = eng_n_vocab(m);
    draft_t *d = NULL;
    if (eng_truncate(s, 0, &err) || eng_feed(s, p, np, &err))
        return die("prefill", &err);
    draft_cfg_t cfg = {.lookup = true, .tok = eng_tokenizer(m), .k_max = eng_verify_max(m) - 1};
    if (spec && (draft_new(&d, &cfg, &err) || draft_push(d, p, np, &err)))
        return die("draft", &err);
    double t0 = now_s();
    int32_t dr[ENG_VERIFY_MAX], batch[ENG_VERIFY_MAX];
    float v;
    int32_t top;
    eng_top_logits(s, 1, &top, &v, &err); /* the first answer token, from the prefill */
    size_t i = 0;
    while (i + 1 < na) {
        size_t k = 0;
        if (d) {
            draft_push(d, &a[i], 1, &err);
            size_t max = na - i - 1 < cfg.k_max ? na - i - 1 : cfg.k_max;
            draft_propose(d, max, dr, &k, &err);
        }
        double tp = now_s();
        if (k == 0) {
            if (eng_decode(s, a[i], &err))
                return die("decode", &err);
            if (d)
                draft_pass_time(d, 1, now_s() - tp);
            eng_top_logits(s, 1, &top, &v, &err);
            (*passes)++;
            i++;
            continue;
        }
        uint32_t base = eng_pos(s);
        batch[0] = a[i];
        memcpy(batch + 1, dr, k * sizeof *dr);
        if (eng_feed_all(s, batch, k + 1, &err))
            return die("verify", &err);
        draft_pass_time(d, k + 1, now_s() - tp);
        (*passes)++;
        size_t acc = 0;
        for (size_t r = 0; r <= k; r++) {
            argmax_row(eng_logits_at(s, r), nv);
            if (r < k && dr[r] == a[i + 1 + r]) {
                acc++;
                draft_push(d, &dr[r], 1, &err);
                continue;
            }
            break;
        }
        draft_result(d, k, acc);
        *drafted += k;
        *accepted += acc;
        eng_truncate(s, base + (uint32_t)acc + 1, &err);
        /* the next pending token is the answer's (what the last row sampled) */
        i += acc + 1;
    }
    *sec = now_s() - t0;
    draft_free(d);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *dir = NULL, *mode = "gen", *backend = "cpu";
    long max = 128;
    int threads = 2, reps = 1;
    uint32_t n_ctx = 4096;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            max = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ctx") && i + 1 < argc)
            n_ctx = (uint32_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            backend = argv[++i];
        else {
            fprintf(stderr, "usage: spec_bench -m MODEL --dir DIR [--mode gen|replay] [-n N] [--threads T] "
                            "[--ctx C] [--reps R] [--backend cpu|cuda]\n");
            return 2;
        }
    }
    if (!model || !dir)
        return fprintf(stderr, "spec_bench: -m and --dir are required\n"), 2;
    bool is_replay = !strcmp(mode, "replay");
    eng_opts_t o;
    eng_opts_default(&o);
    o.n_threads = threads;
    o.n_ctx = n_ctx;
    o.backend = backend;
    eng_model_t *m = NULL;
    eng_session_t *s = NULL;
    errmsg_t err = {0};
    if (eng_open(&m, model, &o, &err) || eng_session_new(&s, m, &err))
        return die(model, &err);
    DIR *dp = opendir(dir);
    if (!dp)
        return fprintf(stderr, "spec_bench: %s: cannot open\n", dir), 1;
    char *names[256];
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(dp)) && nn < 256;)
        if (strstr(e->d_name, ".prompt"))
            names[nn++] = strdup(e->d_name);
    closedir(dp);
    qsort(names, nn, sizeof *names, cmp_str);
    printf("# %s, %s, %d threads, mode %s, %s\n", model, eng_backend_name(m), threads, mode, dir);
    printf("%-12s %7s %10s %10s %7s %7s %7s\n", "prompt", "tokens", "plain t/s", "spec t/s", "speedup", "accept",
           "tok/pass");
    tot_t t = {0};
    const tok_t *tk = eng_tokenizer(m);
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *prompt = read_file(path);
        if (!prompt)
            return fprintf(stderr, "spec_bench: %s: cannot read\n", path), 1;
        int32_t *ids = NULL;
        size_t n = 0;
        double on = 0, off = 0, acc = 0, tpp = 0;
        size_t ntok = 0;
        if (!is_replay) {
            if (tok_encode(tk, prompt, strlen(prompt), TOK_ADD_BOS, &ids, &n, &err))
                return die(path, &err);
            size_t before = t.tok_on;
            if (bench_gen(s, ids, n, max, reps, &t, &on, &off, &acc, &tpp))
                return 1;
            ntok = (t.tok_on - before) / (size_t)reps;
        } else {
            strcpy(strstr(path, ".prompt"), ".answer");
            char *answer = read_file(path);
            if (!answer)
                return fprintf(stderr, "spec_bench: %s: cannot read\n", path), 1;
            size_t lp = strlen(prompt), la = strlen(answer);
            char *full = malloc(lp + la + 1);
            memcpy(full, prompt, lp);
            memcpy(full + lp, answer, la + 1);
            int32_t *pids = NULL;
            size_t np = 0;
            if (tok_encode(tk, prompt, lp, TOK_ADD_BOS, &pids, &np, &err) ||
                tok_encode(tk, full, lp + la, TOK_ADD_BOS, &ids, &n, &err))
                return die(path, &err);
            size_t c = 0; /* the answer starts where the two tokenizations part */
            while (c < np && c < n && pids[c] == ids[c])
                c++;
            if (c == n)
                c--;
            ntok = n - c < (size_t)max ? n - c : (size_t)max;
            double sec[2] = {0, 0};
            size_t dr = 0, ac = 0, ps = 0, ps0 = 0, d0 = 0, a0 = 0;
            for (int r = 0; r < reps; r++) {
                double s0, s1;
                if (replay(s, ids, c, ids + c, ntok, false, &s0, &d0, &a0, &ps0) ||
                    replay(s, ids, c, ids + c, ntok, true, &s1, &dr, &ac, &ps))
                    return 1;
                sec[0] += s0;
                sec[1] += s1;
            }
            off = (double)ntok * reps / sec[0];
            on = (double)ntok * reps / sec[1];
            acc = dr ? (double)ac / dr : 0;
            tpp = ps ? (double)ntok * reps / (ps + (size_t)reps) : 0;
            t.tok_off += ntok * (size_t)reps;
            t.tok_on += ntok * (size_t)reps;
            t.t_off += sec[0];
            t.t_on += sec[1];
            t.drafted += dr;
            t.accepted += ac;
            t.passes_on += ps + (size_t)reps;
            free(pids);
            free(full);
            free(answer);
        }
        printf("%-12s %7zu %10.1f %10.1f %6.2fx %7.2f %7.2f\n", names[i], ntok, off, on, on / off, acc, tpp);
        fflush(stdout);
        free(ids);
        free(prompt);
        free(names[i]);
    }
    double off = t.tok_off / t.t_off, on = t.tok_on / t.t_on;
    printf("%-12s %7zu %10.1f %10.1f %6.2fx %7.2f %7.2f\n", "all", t.tok_on, off, on, on / off,
           t.drafted ? (double)t.accepted / t.drafted : 0, t.passes_on ? (double)t.tok_on / t.passes_on : 0);
    if (!is_replay)
        printf("# outputs with and without speculation: %s\n",
               t.mismatches ? "DIFFERENT (see the test suite)" : "identical");
    eng_session_free(s);
    eng_close(m);
    return t.mismatches ? 1 : 0;
}
