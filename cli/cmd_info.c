/* cmd_info.c - `octet info -m FILE [--ctx N] [--tensors]`: what a GGUF file
 * holds (format summary, hyper-parameters, tokenizer) and how much memory
 * running it takes in each storage format, and on the GPU --backend auto
 * would use (through the CUDA plugin, without loading the model), so a user
 * can pick a model and a context that fit before loading anything. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "preset.h"
#include "engine.h"
#include "gguf.h"
#include "model.h"

static const char *CMD = "info";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: octet info [-m FILE] [--ctx N] [--tensors]\n"
            "Describe a GGUF model: format, hyper-parameters, tokenizer, memory plan, and\n"
            "what running it on the GPU would take against that GPU's free memory.\n\n"
            "  -m, --model FILE   the GGUF file\n"
            "  -c, --ctx N        context length for the memory totals (default: the model's)\n"
            "  -t, --tensors      also list every tensor (name, type, shape, bytes, offset)\n"
            "  -h, --help         show this help\n");
}

/* Print LEN bytes of S, control characters shown as '?': names come from
 * the file and must not drive the terminal. */
static void put_clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        putchar(c < 0x20 || c == 0x7F ? '?' : c);
    }
}

/* "1.50 GiB (1610612736 bytes)" */
static void put_bytes(uint64_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 1024) {
        printf("%" PRIu64 " B", n);
        return;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    printf("%.2f %s (%" PRIu64 " bytes)", v, units[u], n);
}

static void put_row(const char *label, uint64_t n)
{
    printf("  %-28s ", label);
    put_bytes(n);
    putchar('\n');
}

static void print_summary(const gguf_t *g)
{
    printf("file:            %s\n", gguf_path(g));
    printf("format:          GGUF v%" PRIu32 ", %" PRIu64 " tensors, %" PRIu64
           " metadata keys, alignment %" PRIu64 "\n",
           gguf_version(g), gguf_tensor_count(g), gguf_kv_count(g), gguf_alignment(g));
    printf("size:            ");
    put_bytes(gguf_file_size(g));
    putchar('\n');
    gguf_str_t s;
    if (gguf_get_str(g, "general.architecture", &s, NULL) == 0) {
        printf("architecture:    ");
        put_clean(s.ptr, (size_t)(s.len < 64 ? s.len : 64));
        putchar('\n');
    }
}

static void print_tokenizer(const gguf_t *g)
{
    gguf_str_t model, pre;
    gguf_arr_t toks;
    printf("tokenizer:       ");
    if (gguf_get_str(g, "tokenizer.ggml.model", &model, NULL) != 0) {
        printf("none\n");
        return;
    }
    put_clean(model.ptr, (size_t)(model.len < 64 ? model.len : 64));
    if (gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL) == 0) {
        printf(" (pre-tokenizer ");
        put_clean(pre.ptr, (size_t)(pre.len < 64 ? pre.len : 64));
        putchar(')');
    }
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == 0)
        printf(", %" PRIu64 " tokens", toks.n);
    putchar('\n');
}

static void print_types(const gguf_t *g)
{
    static const gguf_ttype_t types[] = {GGUF_TTYPE_F32, GGUF_TTYPE_F16, GGUF_TTYPE_BF16, GGUF_TTYPE_Q8_0};
    printf("tensor types:    ");
    int first = 1;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        uint64_t n = 0;
        for (uint64_t i = 0; i < gguf_tensor_count(g); i++)
            n += gguf_tensor(g, i)->type == types[k];
        if (n) {
            printf("%s%s x%" PRIu64, first ? "" : ", ", gguf_ttype_name(types[k]), n);
            first = 0;
        }
    }
    putchar('\n');
}

static const char *scaling_name(model_rope_scaling_t s)
{
    switch (s) {
    case MODEL_ROPE_SCALING_NONE: return "none";
    case MODEL_ROPE_SCALING_LINEAR: return "linear";
    case MODEL_ROPE_SCALING_YARN: return "yarn";
    }
    return "?";
}

static void print_hparams(const model_t *m)
{
    const model_hparams_t *hp = &m->hp;
    printf("\nhyper-parameters\n");
    printf("  %-28s %s\n", "name", hp->name);
    printf("  %-28s %s\n", "architecture", model_arch_name(hp->arch));
    printf("  %-28s %" PRIu32 "\n", "embedding size", hp->n_embd);
    printf("  %-28s %" PRIu32 "\n", "layers", hp->n_layer);
    printf("  %-28s %" PRIu32 "\n", "attention heads", hp->n_head);
    printf("  %-28s %" PRIu32, "KV heads", hp->n_head_kv);
    if (hp->n_head_kv != hp->n_head)
        printf(" (GQA: %" PRIu32 " query heads per KV head)", hp->n_head / hp->n_head_kv);
    printf("\n  %-28s %" PRIu32 "\n", "head size", hp->head_dim);
    printf("  %-28s %" PRIu32 "\n", "FFN size", hp->n_ff);
    printf("  %-28s %" PRIu32 "\n", "vocabulary", hp->n_vocab);
    printf("  %-28s %" PRIu32 "\n", "context length (trained)", hp->n_ctx_train);
    printf("  %-28s %g\n", "RMSNorm epsilon", (double)hp->norm_eps);
    printf("  %-28s %.10g\n", "RoPE base", (double)hp->rope_base);
    printf("  %-28s %s\n", "RoPE style",
           hp->rope_style == MODEL_ROPE_NEOX ? "neox (x_i, x_i+d/2)" : "adjacent pairs");
    printf("  %-28s %s\n", "RoPE scaling", scaling_name(hp->rope_scaling));
    printf("  %-28s %g\n", "RoPE scaling factor", (double)hp->rope_scale_factor);
    if (hp->rope_orig_ctx)
        printf("  %-28s %" PRIu32 "\n", "RoPE original context", hp->rope_orig_ctx);
    else
        printf("  %-28s not set\n", "RoPE original context");
    /* llama.cpp's YaRN defaults stand when the file gives none; they only
     * matter when the scaling is yarn. */
    printf("  %-28s %g%s\n", "YaRN ext factor", (double)hp->yarn_ext_factor,
           hp->yarn_ext_factor < 0 ? " (derived from the scaling)" : "");
    printf("  %-28s %g\n", "YaRN attn factor", (double)hp->yarn_attn_factor);
    printf("  %-28s %g / %g\n", "YaRN beta fast / slow", (double)hp->yarn_beta_fast,
           (double)hp->yarn_beta_slow);
    printf("  %-28s %s\n", "RoPE frequency factors", m->rope_freqs ? "yes (rope_freqs.weight)" : "no");
    printf("  %-28s %s\n", "tied embeddings", hp->tied_embeddings ? "yes (no output.weight)" : "no");
    printf("  %-28s %s\n", "Q/K/V biases", hp->qkv_bias ? "yes" : "no");
}

static void print_plan(const model_t *m, uint64_t ctx)
{
    model_mem_plan_t p8, p16, p32;
    model_mem_plan(m, ctx, MODEL_WFMT_INT8, MODEL_KV_INT8, &p8);
    model_mem_plan(m, ctx, MODEL_WFMT_F16, MODEL_KV_F16, &p16);
    model_mem_plan(m, ctx, MODEL_WFMT_F32, MODEL_KV_F32, &p32);
    printf("\nmemory plan\n weights\n");
    put_row("as stored", p8.weights_stored);
    put_row("f16", p8.weights_f16);
    put_row("int8 + row scales", p8.weights_int8);
    printf(" KV cache per 1K tokens\n");
    put_row("f32", p8.kv_per_1k_f32);
    put_row("f16", p8.kv_per_1k_f16);
    put_row("int8 + scales", p8.kv_per_1k_int8);
    printf(" total for a context of %" PRIu64 " tokens (weights + KV cache)\n", p8.ctx);
    put_row("int8 weights + int8 KV", p8.total);
    put_row("f16 weights + f16 KV", p16.total);
    put_row("f32 weights + f32 KV", p32.total);
    printf("  (activations and scratch buffers are extra)\n");
}

/* What --backend cuda would allocate for CTX tokens (the figures it checks
 * before uploading), against the free memory of the GPU auto would use. */
static void print_gpu_plan(const model_t *m, uint64_t ctx)
{
    eng_gpu_plan_t p;
    eng_gpu_plan(m, ctx, ENG_W_INT8, ENG_KV_INT8, 0, &p);
    printf("\nGPU plan (--backend cuda, int8 weights + int8 KV, passes of up to %" PRIu32 " tokens)\n", p.batch);
    put_row("weights", p.weights);
    char label[64];
    snprintf(label, sizeof label, "KV cache (%" PRIu64 " tokens)", p.ctx);
    put_row(label, p.kv);
    put_row("activations", p.act);
    put_row("total", p.need);
    static const struct {
        eng_wfmt_t w;
        eng_kvfmt_t kv;
        const char *name;
    } alt[] = {{ENG_W_INT8, ENG_KV_F16, "total, int8 + f16 KV"}, {ENG_W_F16, ENG_KV_F16, "total, f16 + f16 KV"}};
    for (size_t i = 0; i < sizeof alt / sizeof alt[0]; i++) {
        eng_gpu_plan_t q;
        eng_gpu_plan(m, ctx, alt[i].w, alt[i].kv, 0, &q);
        put_row(alt[i].name, q.need);
    }
    if (!p.gpu_ok) {
        printf("  no usable GPU: %s\n", p.note);
        return;
    }
    printf("  %s: %.2f GiB free of %.2f GiB: ", p.gpu, p.dev_free / 1073741824.0, p.dev_total / 1073741824.0);
    if (p.need <= p.dev_free)
        printf("fits, %.2f GiB to spare (the backend's work space, tens of MB, comes out of it)\n",
               (p.dev_free - p.need) / 1073741824.0);
    else
        printf("does NOT fit (%.2f GiB short): --backend auto would use the CPU\n",
               (p.need - p.dev_free) / 1073741824.0);
}

static void print_tensors(const gguf_t *g)
{
    printf("\ntensors\n  %5s  %-40s %-5s %-24s %14s %14s\n", "#", "name", "type", "shape", "bytes",
           "offset");
    for (uint64_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor_t *t = gguf_tensor(g, i);
        char shape[128];
        size_t k = 0;
        for (uint32_t d = 0; d < t->n_dims && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRIu64, d ? " x " : "", t->ne[d]);
        printf("  %5" PRIu64 "  ", i);
        size_t nl = strlen(t->name);
        put_clean(t->name, nl);
        printf("%*s %-5s %-24s %14" PRIu64 " %14" PRIu64 "\n", nl < 40 ? (int)(40 - nl) : 0, "",
               gguf_ttype_name(t->type), shape, t->nbytes, t->offset);
    }
}

static int parse_ctx(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return -1;
    *out = v;
    return 0;
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"ctx", required_argument, NULL, 'c'},
        {"tensors", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    uint64_t ctx = 0;
    int list = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:c:th", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'c':
            if (parse_ctx(optarg, &ctx))
                return cli_usage(CMD, "--ctx wants a positive number of tokens, not '%s'", optarg);
            break;
        case 't': list = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage(CMD, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return cli_usage(CMD, "unknown option '-%c'", optopt);
            return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (!path)
        path = preset_default_model();
    if (!path)
        return cli_usage(CMD, "no model given and the embedded models/octet-code.gguf was not found: use -m FILE "
                              "or set OCTET_MODEL");

    errmsg_t err;
    gguf_t *g = NULL;
    model_t *m = NULL;
    int rc = CLI_EXIT_OK;
    if (gguf_open(&g, path, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    if (gguf_tensor_count(g) == 0) {
        print_summary(g);
        print_tokenizer(g);
        printf("weights:         none (vocabulary-only file: it holds no tensors)\n");
        goto done;
    }
    if (model_load(&m, g, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    print_summary(g);
    print_tokenizer(g);
    print_types(g);
    print_hparams(m);
    print_plan(m, ctx);
    print_gpu_plan(m, ctx);
    if (list)
        print_tensors(g);
    if (fflush(stdout) != 0)
        rc = cli_fail(CMD, "cannot write the output");
done:
    model_free(m);
    gguf_close(g);
    return rc;
}
