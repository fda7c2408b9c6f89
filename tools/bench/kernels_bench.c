/* kernels_bench.c - micro-benchmark of the CPU matrix kernels on the
 * Qwen2.5-Coder-0.5B shapes, or with --model octet-code those of octet's
 * embedded model: GEMV (decode, 1 token), few-token passes (speculative
 * verification) and GEMM (prefill, 128 tokens) throughput per matrix, in
 * GB/s of weights and GOP/s (2 ops per multiply-add), and the whole-model
 * rates those imply (matrix products only: attention, norms etc.
 * excluded). Built and run by tools/bench/kernels.sh. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_kernels.h"

typedef struct shape {
    const char *name;
    int rows, cols;
    int per_layer; /* matrices of this shape per layer (0: the output matrix) */
} shape_t;

#define N_SHAPES 5
#define MAX_LAYER 24

/* Qwen2.5-Coder-0.5B: hidden 896, 24 layers, 14 heads / 2 KV heads of 64,
 * FFN 4864, vocabulary 151936 with tied embeddings. */
static const shape_t g_qwen05[N_SHAPES] = {
    {"attn_q/o 896x896", 896, 896, 2},
    {"attn_k/v 128x896", 128, 896, 2},
    {"ffn_gate/up 4864x896", 4864, 896, 2},
    {"ffn_down 896x4864", 896, 4864, 1},
    {"output 151936x896", 151936, 896, 0},
};

/* octet-code (models/README.md): d 384, 8 layers, 6 heads / 2 KV heads of
 * 64, FFN 1024, vocabulary 16384. Its 20 MB sit in the L3 cache, so its
 * passes are bound by the arithmetic, not by memory. */
static const shape_t g_octet[N_SHAPES] = {
    {"attn_q/o 384x384", 384, 384, 2},
    {"attn_k/v 128x384", 128, 384, 2},
    {"ffn_gate/up 1024x384", 1024, 384, 2},
    {"ffn_down 384x1024", 384, 1024, 1},
    {"output 16384x384", 16384, 384, 0},
};

static const shape_t *g_shapes = g_qwen05;
static int g_layers = 24;
/* the output matrix for every token of a pass (verification needs the
 * logits of each), not only the last */
static int g_all_logits;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long g_rng = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static int parse_fmt(const char *s, cpu_wfmt_t *f)
{
    static const char *const names[] = {"f32", "f16", "int8", "q8_0"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *f = (cpu_wfmt_t)i;
            return 0;
        }
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kernels_bench [--threads N] [--fmt f32|f16|int8|q8_0] [--isa NAME]\n"
               "                     [--tokens N[,N...]] [--min-time S] [--model qwen05|octet-code]\n"
               "  --model octet-code: the embedded model's shapes, the output matrix for every token\n");
}

int main(int argc, char **argv)
{
    int threads = 2;
    double min_time = 0.5;
    cpu_wfmt_t fmt = CPU_W_INT8;
    int toks[8] = {1, 128}, ntoks = 2;
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'}, {"fmt", required_argument, NULL, 'f'},
        {"isa", required_argument, NULL, 'i'},     {"tokens", required_argument, NULL, 'n'},
        {"min-time", required_argument, NULL, 'm'}, {"model", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            threads = atoi(optarg);
            break;
        case 'f':
            if (parse_fmt(optarg, &fmt) != 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'i': {
            static const char *const names[] = {"portable", "avx2", "avx512vnni", "amx"};
            int found = 0;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, names[i]) == 0) {
                    cpu_isa_force((cpu_isa_t)i);
                    found = 1;
                }
            if (!found) {
                usage(stderr);
                return 2;
            }
            break;
        }
        case 'n': {
            ntoks = 0;
            for (char *p = strtok(optarg, ","); p && ntoks < 8; p = strtok(NULL, ","))
                toks[ntoks++] = atoi(p);
            break;
        }
        case 'm':
            min_time = atof(optarg);
            break;
        case 'M':
            if (!strcmp(optarg, "octet-code")) {
                g_shapes = g_octet;
                g_layers = 8;
                g_all_logits = 1;
            } else if (strcmp(optarg, "qwen05")) {
                usage(stderr);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    errmsg_t err;
    cpu_pool_t *pool;
    if (cpu_pool_new(&pool, threads, &err) != 0) {
        fprintf(stderr, "kernels_bench: %s\n", err.msg);
        return 1;
    }
    static const char *const fnames[] = {"f32", "f16", "int8", "q8_0"};
    printf("isa %s, %d threads, weights %s\n", cpu_isa_name(cpu_isa_active()), threads,
           fnames[fmt]);

    /* The whole model's matrices, so that decode streams every weight from
     * memory once per token as it will in the engine (one matrix repeated
     * would sit in the caches). */
    cpu_mat_t *mats[N_SHAPES][2 * MAX_LAYER];
    int nmat[N_SHAPES];
    size_t max_scratch = 0, model_bytes = 0;
    int max_tok = 1, max_dim = 0;
    for (int ti = 0; ti < ntoks; ti++)
        if (toks[ti] > max_tok)
            max_tok = toks[ti];
    double t_build = now_s();
    for (int si = 0; si < N_SHAPES; si++) {
        const shape_t *sh = &g_shapes[si];
        size_t n = (size_t)sh->rows * sh->cols;
        uint16_t *src = malloc(n * sizeof *src);
        if (!src) {
            fprintf(stderr, "kernels_bench: out of memory\n");
            return 1;
        }
        nmat[si] = sh->per_layer ? sh->per_layer * g_layers : 1;
        /* The layers share their random values (each still has its own
         * copy in memory): generating them would take longer than the run. */
        for (size_t i = 0; i < n; i++)
            src[i] = cpu_f32_to_f16(frand() * 0.05f);
        for (int k = 0; k < nmat[si]; k++) {
            if (cpu_mat_new(&mats[si][k], fmt, CPU_SRC_F16, src, sh->rows, sh->cols, NULL,
                            &err) != 0) {
                fprintf(stderr, "kernels_bench: %s\n", err.msg);
                return 1;
            }
            model_bytes += cpu_mat_bytes(mats[si][k]);
            size_t sc = cpu_matmul_scratch(mats[si][k], max_tok);
            if (sc > max_scratch)
                max_scratch = sc;
        }
        if (sh->rows > max_dim)
            max_dim = sh->rows;
        if (sh->cols > max_dim)
            max_dim = sh->cols;
        free(src);
    }
    printf("model: %.1f MB of weights, built in %.1f s\n", model_bytes / 1e6, now_s() - t_build);
    float *x = malloc((size_t)max_tok * max_dim * sizeof *x);
    float *y = malloc((size_t)max_tok * max_dim * sizeof *y);
    void *scratch = malloc(max_scratch + 1);
    if (!x || !y || !scratch) {
        fprintf(stderr, "kernels_bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)max_tok * max_dim; i++)
        x[i] = frand();

    for (int ti = 0; ti < ntoks; ti++) {
        const int n_tok = toks[ti];
        double best = 1e30, best_shape[N_SHAPES] = {0};
        double t_start = now_s();
        for (int pass = 0; pass < 2 || now_s() - t_start < min_time; pass++) {
            double shape_s[N_SHAPES] = {0}, t_pass = now_s();
            for (int l = 0; l < g_layers; l++)
                for (int si = 0; si < N_SHAPES; si++) {
                    const shape_t *sh = &g_shapes[si];
                    for (int k = 0; k < sh->per_layer; k++) {
                        double t0 = now_s();
                        cpu_matmul(mats[si][l * sh->per_layer + k], x, n_tok, y, scratch, pool);
                        shape_s[si] += now_s() - t0;
                    }
                }
            /* The output matrix: logits of the last token only (or all). */
            double t0 = now_s();
            cpu_matmul(mats[N_SHAPES - 1][0], x, g_all_logits ? n_tok : 1, y, scratch, pool);
            shape_s[N_SHAPES - 1] += now_s() - t0;
            double dt = now_s() - t_pass;
            if (pass > 0 && dt < best) { /* pass 0 warms up */
                best = dt;
                memcpy(best_shape, shape_s, sizeof best_shape);
            }
        }
        printf("%d tokens: %.2f ms per pass -> %.1f tok/s (matrix products only)\n", n_tok,
               best * 1e3, n_tok / best);
        for (int si = 0; si < N_SHAPES; si++) {
            const shape_t *sh = &g_shapes[si];
            int calls = sh->per_layer ? sh->per_layer * g_layers : 1;
            int nt = sh->per_layer || g_all_logits ? n_tok : 1;
            double per = best_shape[si] / calls;
            double bytes = (double)cpu_mat_bytes(mats[si][0]);
            printf("  %-22s x%-3d n_tok %4d %9.1f us  %6.1f GB/s  %7.1f GOP/s\n", sh->name, calls,
                   nt, per * 1e6, bytes / per / 1e9, 2.0 * sh->rows * sh->cols * nt / per / 1e9);
        }
    }
    for (int si = 0; si < N_SHAPES; si++)
        for (int k = 0; k < nmat[si]; k++)
            cpu_mat_free(mats[si][k]);
    free(x);
    free(y);
    free(scratch);
    cpu_pool_free(pool);
    return 0;
}
