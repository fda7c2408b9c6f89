/* cmd_bench.c - `octet bench`: prefill and decode speed and memory of a
 * model, like llama-bench's pp/tg tests: prefill feeds --prompt random
 * tokens in one go; decode feeds --gen tokens one at a time after --depth
 * tokens of context. Each test is repeated --reps times after a warm-up;
 * figures are the mean (and standard deviation) of the repetitions. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_engine.h"

enum { OPT_PROMPT = CLI_ENG_FIRST_FREE, OPT_GEN, OPT_DEPTH, OPT_REPS, OPT_JSON };

static void usage(void)
{
    printf("Usage: octet bench [-m FILE] [--prompt N] [--gen N] [--depth D] [--reps R] [--json] [OPTIONS]\n\n"
           "Measure prefill speed (N random tokens fed at once, default 128), decode speed\n"
           "(N tokens fed one by one, default 64, after D tokens of context, default 0) and\n"
           "memory. --json prints one line with prefill_tok_s, decode_tok_s, weights_bytes,\n"
           "kv_bytes, scratch_bytes and the settings.\n\n"
           "      --prompt N        prefill test size (0 skips it)\n"
           "      --gen N           decode test size (0 skips it)\n"
           "      --depth D         context already in the cache for the decode test\n"
           "      --reps R          repetitions of each test (default 3)\n"
           "      --json            machine-readable output\n"
           "  -h, --help            show this help\n\n%s",
           CLI_ENG_HELP);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void mean_sd(const double *v, int n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* What to measure. */
typedef struct bench_args {
    long n_prompt, n_gen, depth, reps;
    bool json;
} bench_args_t;

/* A warm-up, then A->reps runs of the prefill (TP: its tok/s per run) and
 * of the decode after A->depth tokens (TG), on the token ids IDS. 0 or the
 * exit status after printing the error. */
static int measure(eng_session_t *s, const int32_t *ids, size_t n_ids, const bench_args_t *a, double *tp, double *tg)
{
    errmsg_t err = {0};
    /* warm-up: touch every weight and the code paths once */
    if (eng_feed(s, ids, a->n_prompt ? (size_t)a->n_prompt : 1, &err) || eng_truncate(s, 0, &err) ||
        eng_decode(s, ids[0], &err))
        return cli_fail_err("bench", &err);
    for (long i = 0; i < a->reps; i++) {
        if (a->n_prompt) {
            eng_truncate(s, 0, &err);
            double start = now_s();
            if (eng_feed(s, ids, (size_t)a->n_prompt, &err))
                return cli_fail_err("bench", &err);
            tp[i] = (double)a->n_prompt / (now_s() - start);
        }
        if (a->n_gen) {
            eng_truncate(s, 0, &err);
            if (a->depth && eng_feed(s, ids, (size_t)a->depth, &err))
                return cli_fail_err("bench", &err);
            double start = now_s();
            for (long k = 0; k < a->n_gen; k++)
                if (eng_decode(s, ids[(size_t)(a->depth + k) % n_ids], &err))
                    return cli_fail_err("bench", &err);
            tg[i] = (double)a->n_gen / (now_s() - start);
        }
    }
    return 0;
}

/* The figures, as text or one JSON object. */
static void report(eng_model_t *m, eng_session_t *s, const bench_args_t *a, const double *tp, const double *tg,
                   double load_s)
{
    double pp = 0, pp_sd = 0, dg = 0, dg_sd = 0;
    if (a->n_prompt)
        mean_sd(tp, (int)a->reps, &pp, &pp_sd);
    if (a->n_gen)
        mean_sd(tg, (int)a->reps, &dg, &dg_sd);
    eng_mem_t mem;
    eng_memory(m, s, &mem);
    const eng_opts_t *o = eng_model_opts(m);
    const model_hparams_t *hp = eng_hparams(m);
    if (a->json) {
        printf("{\"model\": ");
        cli_json_str(hp->name);
        printf(", \"device\": ");
        cli_json_str(mem.dev[0].name);
        printf(", \"ctx\": %u, \"batch\": %u, \"dev_free_bytes\": %llu, \"dev_total_bytes\": %llu", o->n_ctx,
               o->n_batch, (unsigned long long)mem.dev[0].dev_free, (unsigned long long)mem.dev[0].dev_total);
        printf(", \"backend\": \"%s\", \"weights\": \"%s\", \"kv\": \"%s\", \"threads\": %d, "
               "\"prompt\": %ld, \"gen\": %ld, \"depth\": %ld, \"reps\": %ld, "
               "\"prefill_tok_s\": %.2f, \"prefill_tok_s_sd\": %.2f, "
               "\"decode_tok_s\": %.2f, \"decode_tok_s_sd\": %.2f, "
               "\"weights_bytes\": %llu, \"kv_bytes\": %llu, \"scratch_bytes\": %llu, \"load_s\": %.3f}\n",
               eng_backend_name(m), eng_wfmt_name(o->wfmt), eng_kvfmt_name(o->kvfmt), o->n_threads, a->n_prompt,
               a->n_gen, a->depth, a->reps, pp, pp_sd, dg, dg_sd, (unsigned long long)mem.weights,
               (unsigned long long)mem.kv, (unsigned long long)mem.scratch, load_s);
    } else {
        printf("model    %s (%s, %u layers, hidden %u, vocab %u)\n", hp->name, model_arch_name(hp->arch),
               hp->n_layer, hp->n_embd, hp->n_vocab);
        printf("settings backend %s, weights %s, kv %s, %d thread%s, ctx %u, batch %u (loaded in %.2f s)\n",
               mem.dev[0].name, eng_wfmt_name(o->wfmt), eng_kvfmt_name(o->kvfmt), o->n_threads,
               o->n_threads == 1 ? "" : "s", o->n_ctx, o->n_batch, load_s);
        if (a->n_prompt)
            printf("prefill  pp%-6ld %10.2f tok/s  +- %.2f\n", a->n_prompt, pp, pp_sd);
        if (a->n_gen)
            printf("decode   tg%-6ld %10.2f tok/s  +- %.2f  (after %ld tokens)\n", a->n_gen, dg, dg_sd, a->depth);
        printf("memory   weights %.1f MiB, kv %.1f MiB, scratch %.1f MiB\n", (double)mem.weights / 1048576.0,
               (double)mem.kv / 1048576.0, (double)mem.scratch / 1048576.0);
    }
}

int cmd_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"prompt", required_argument, NULL, OPT_PROMPT},
        {"gen", required_argument, NULL, OPT_GEN},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"reps", required_argument, NULL, OPT_REPS},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_eng_t ce;
    cli_eng_init(&ce);
    long n_prompt = 128, n_gen = 64, depth = 0, reps = 3;
    bool json = false;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&ce, "bench", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case OPT_PROMPT:
            if (cli_parse_long("bench", "--prompt", optarg, 0, 1 << 20, &n_prompt))
                return CLI_EXIT_USAGE;
            break;
        case OPT_GEN:
            if (cli_parse_long("bench", "--gen", optarg, 0, 1 << 20, &n_gen))
                return CLI_EXIT_USAGE;
            break;
        case OPT_DEPTH:
            if (cli_parse_long("bench", "--depth", optarg, 0, 1 << 24, &depth))
                return CLI_EXIT_USAGE;
            break;
        case OPT_REPS:
            if (cli_parse_long("bench", "--reps", optarg, 1, 1000, &reps))
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("bench", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("bench", "unexpected argument '%s'", argv[optind]);
    if (!n_prompt && !n_gen)
        return cli_usage("bench", "nothing to measure: --prompt and --gen are both 0");
    long need = n_prompt > depth + n_gen ? n_prompt : depth + n_gen;
    if (!ce.ctx_set) {
        ce.opts.n_ctx = (uint32_t)(need < 16 ? 16 : need);
        ce.ctx_set = true;
    } else if (ce.opts.n_ctx < need) {
        return cli_usage("bench", "--ctx %u is smaller than the %ld tokens the tests need", ce.opts.n_ctx,
                         need);
    }

    bench_args_t a = {n_prompt, n_gen, depth, reps, json};
    eng_model_t *m = NULL;
    eng_session_t *s = NULL;
    int32_t *ids = NULL;
    double *tp = calloc((size_t)reps, sizeof *tp), *tg = calloc((size_t)reps, sizeof *tg);
    errmsg_t err = {0};
    double t0 = now_s();
    int rc = tp && tg ? cli_eng_open("bench", &ce, 0, &m) : cli_fail("bench", "out of memory");
    if (rc)
        goto done;
    double load_s = now_s() - t0;
    if (eng_session_new(&s, m, &err)) {
        rc = cli_fail_err("bench", &err);
        goto done;
    }
    /* random ids (fixed generator): the speed does not depend on them */
    size_t n_ids = (size_t)need;
    ids = malloc(n_ids * sizeof *ids);
    if (!ids) {
        rc = cli_fail("bench", "out of memory");
        goto done;
    }
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n_ids; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids[i] = (int32_t)(x % eng_n_vocab(m));
    }
    if ((rc = measure(s, ids, n_ids, &a, tp, tg)))
        goto done;
    report(m, s, &a, tp, tg, load_s);
    rc = 0;
done:
    free(tp);
    free(tg);
    free(ids);
    eng_session_free(s);
    eng_close(m);
    return rc;
}
