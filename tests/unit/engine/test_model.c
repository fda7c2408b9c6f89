/* test_model.c - model_load and model_mem_plan on tiny llama and qwen2
 * models built in memory: hyper-parameters and their defaults, RoPE
 * scaling, tied embeddings and biases, every kind of wrong metadata or
 * tensor shape (the error must name the key or tensor), and memory plans
 * checked against numbers worked out by hand. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_build.h"
#include "model.h"
#include "test.h"

#define CHECK_MSG(msg, needle) CHECKF(strstr((msg), (needle)) != NULL, "'%s' lacks '%s'", (msg), (needle))

/* llama: GQA (4 query heads, 2 KV heads, head size 16), untied, F16. */
static const gb_model_spec_t LLAMA = {
    .arch = "llama", .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 96,
    .n_vocab = 100, .n_ctx = 256, .wtype = GGUF_TTYPE_F16, .norm_eps = 1e-5f,
};

/* qwen2: Q/K/V biases, tied embeddings, Q8_0, RoPE base 1e6. */
static const gb_model_spec_t QWEN2 = {
    .arch = "qwen2", .n_embd = 64, .n_layer = 1, .n_head = 4, .n_head_kv = 4, .n_ff = 96,
    .n_vocab = 50, .n_ctx = 512, .wtype = GGUF_TTYPE_Q8_0, .tied = 1, .qkv_bias = 1,
    .rope_base = 1000000.0f, .seed = 7,
};

/* The file: SPEC plus EXTRA keys added by the caller through FN. */
typedef struct built {
    gb_t b;
    uint8_t *p;
    size_t len;
} built_t;

static void build(built_t *o, const gb_model_spec_t *spec, void (*extra)(gb_t *))
{
    gb_init(&o->b, 3);
    if (extra)
        extra(&o->b);
    gb_model(&o->b, spec);
    const uint8_t *p = gb_finish(&o->b, &o->len);
    o->p = malloc(o->len);
    memcpy(o->p, p, o->len);
}

static void built_free(built_t *o)
{
    free(o->p);
    gb_free(&o->b);
}

/* Offset just after the GGUF string NAME (length-prefixed) in the file. */
static size_t find_name(const built_t *o, const char *name)
{
    size_t n = strlen(name);
    uint8_t pat[256];
    uint64_t n64 = n;
    memcpy(pat, &n64, 8);
    memcpy(pat + 8, name, n);
    const uint8_t *hit = memmem(o->p, o->len, pat, n + 8);
    CHECKF(hit != NULL, "'%s' not in the file", name);
    return hit ? (size_t)(hit - o->p) + n + 8 : 0;
}

static void rename_str(built_t *o, const char *from, const char *to)
{
    size_t at = find_name(o, from);
    if (at && strlen(to) == strlen(from))
        memcpy(o->p + at - strlen(from), to, strlen(to));
}

static void set_u32(built_t *o, size_t at, uint32_t v)
{
    if (at)
        memcpy(o->p + at, &v, 4);
}

static void set_u64(built_t *o, size_t at, uint64_t v)
{
    if (at)
        memcpy(o->p + at, &v, 8);
}

/* Loads O; returns the model or NULL with the error in *err. */
static model_t *load(built_t *o, gguf_t **g, errmsg_t *err)
{
    model_t *m = NULL;
    *g = NULL;
    int rc = gguf_open_mem(g, o->p, o->len, "tiny.gguf", err);
    CHECKF(rc == 0, "%s", err->msg);
    if (rc)
        return NULL;
    if (model_load(&m, *g, err) != 0)
        return NULL;
    return m;
}

/* Expect model_load to fail with a one-line message containing NEEDLE. */
static void expect_fail(built_t *o, const char *needle)
{
    gguf_t *g;
    errmsg_t err;
    model_t *m = load(o, &g, &err);
    CHECKF(m == NULL, "loaded, expected '%s'", needle);
    if (!m) {
        CHECK_MSG(err.msg, needle);
        CHECKF(strncmp(err.msg, "tiny.gguf: ", 11) == 0 && !strchr(err.msg, '\n'), "'%s'", err.msg);
        CHECK(err.code < 0);
    }
    model_free(m);
    gguf_close(g);
}

static void test_llama(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &LLAMA, NULL);
    model_t *m = load(&o, &g, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        const model_hparams_t *hp = &m->hp;
        CHECK_EQ_INT(hp->arch, MODEL_ARCH_LLAMA);
        CHECK_EQ_STR(hp->name, "tiny-llama");
        CHECK_EQ_INT(hp->n_embd, 64);
        CHECK_EQ_INT(hp->n_layer, 2);
        CHECK_EQ_INT(hp->n_head, 4);
        CHECK_EQ_INT(hp->n_head_kv, 2);
        CHECK_EQ_INT(hp->head_dim, 16);
        CHECK_EQ_INT(hp->n_ff, 96);
        CHECK_EQ_INT(hp->n_vocab, 100);
        CHECK_EQ_INT(hp->n_ctx_train, 256);
        CHECK(hp->norm_eps == 1e-5f);
        CHECK(hp->rope_base == 10000.0f); /* default */
        CHECK_EQ_INT(hp->rope_style, MODEL_ROPE_ADJACENT);
        CHECK_EQ_INT(hp->rope_scaling, MODEL_ROPE_SCALING_NONE);
        CHECK(hp->rope_scale_factor == 1.0f);
        CHECK_EQ_INT(hp->rope_orig_ctx, 0);
        CHECK(hp->yarn_ext_factor == -1.0f && hp->yarn_attn_factor == 1.0f);
        CHECK(hp->yarn_beta_fast == 32.0f && hp->yarn_beta_slow == 1.0f);
        CHECK(!hp->tied_embeddings);
        CHECK(!hp->qkv_bias);
        CHECK(m->gguf == g);
        CHECK(m->tok_embd == gguf_find_tensor(g, "token_embd.weight"));
        CHECK(m->output == gguf_find_tensor(g, "output.weight") && m->output != m->tok_embd);
        CHECK(m->out_norm == gguf_find_tensor(g, "output_norm.weight"));
        CHECK(m->rope_freqs == NULL);
        CHECK(m->layers[1].wk == gguf_find_tensor(g, "blk.1.attn_k.weight"));
        CHECK(m->layers[1].wk->ne[0] == 64 && m->layers[1].wk->ne[1] == 32);
        CHECK(m->layers[0].w_down == gguf_find_tensor(g, "blk.0.ffn_down.weight"));
        CHECK(m->layers[0].bq == NULL && m->layers[0].bk == NULL && m->layers[0].bv == NULL);
        for (uint32_t l = 0; l < 2; l++) {
            const model_layer_t *L = &m->layers[l];
            CHECK(L->attn_norm && L->wq && L->wk && L->wv && L->wo && L->ffn_norm && L->w_gate &&
                  L->w_up && L->w_down);
        }
        CHECK_EQ_STR(model_arch_name(hp->arch), "llama");
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

static void qwen2_extra(gb_t *b)
{
    gb_kv_str(b, "qwen2.rope.scaling.type", "yarn");
    gb_kv_f32(b, "qwen2.rope.scaling.factor", 4.0f);
    gb_kv_u32(b, "qwen2.rope.scaling.original_context_length", 32768);
    gb_kv_f32(b, "qwen2.rope.scaling.yarn_beta_fast", 16.0f);
    gb_kv_f32(b, "qwen2.rope.scaling.attn_factor", 0.75f);
}

static void test_qwen2(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &QWEN2, qwen2_extra);
    model_t *m = load(&o, &g, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        const model_hparams_t *hp = &m->hp;
        CHECK_EQ_INT(hp->arch, MODEL_ARCH_QWEN2);
        CHECK_EQ_INT(hp->n_head_kv, 4);
        CHECK_EQ_INT(hp->head_dim, 16);
        CHECK_EQ_INT(hp->n_vocab, 50);
        CHECK(hp->norm_eps == 1e-6f);
        CHECK(hp->rope_base == 1000000.0f);
        CHECK_EQ_INT(hp->rope_style, MODEL_ROPE_NEOX);
        CHECK_EQ_INT(hp->rope_scaling, MODEL_ROPE_SCALING_YARN);
        CHECK(hp->rope_scale_factor == 4.0f);
        CHECK_EQ_INT(hp->rope_orig_ctx, 32768);
        CHECK(hp->yarn_ext_factor == -1.0f);
        CHECK(hp->yarn_attn_factor == 0.75f); /* from rope.scaling.attn_factor */
        CHECK(hp->yarn_beta_fast == 16.0f && hp->yarn_beta_slow == 1.0f);
        CHECK(hp->tied_embeddings);
        CHECK(hp->qkv_bias);
        CHECK(m->output == m->tok_embd);
        CHECK(m->layers[0].bq == gguf_find_tensor(g, "blk.0.attn_q.bias"));
        CHECK(m->layers[0].bk && m->layers[0].bk->ne[0] == 64 && m->layers[0].bv);
        CHECK(m->layers[0].wq->type == GGUF_TTYPE_Q8_0);
        CHECK_EQ_STR(model_arch_name(hp->arch), "qwen2");
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

/* attention.key_length overrides n_embd / n_head; the name falls back to
 * the file's name, and control characters in it are made printable. */
static void test_head_dim_and_name(void)
{
    gb_model_spec_t s = LLAMA;
    s.head_dim = 32;
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &s, NULL);
    model_t *m = load(&o, &g, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK_EQ_INT(m->hp.head_dim, 32);
        CHECK(m->layers[0].wq->ne[1] == 128 && m->layers[0].wo->ne[0] == 128);
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);

    s = LLAMA;
    s.name = "";
    build(&o, &s, NULL);
    m = load(&o, &g, &err);
    CHECK(m && strcmp(m->hp.name, "tiny.gguf") == 0);
    model_free(m);
    gguf_close(g);
    built_free(&o);

    s.name = "x\033[31my\nz";
    build(&o, &s, NULL);
    m = load(&o, &g, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m)
        CHECK_EQ_STR(m->hp.name, "x?[31my?z");
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

static void linear_extra(gb_t *b) { gb_kv_f32(b, "llama.rope.scale_linear", 4.0f); }
static void linear2_extra(gb_t *b)
{
    gb_kv_str(b, "llama.rope.scaling.type", "linear");
    gb_kv_f32(b, "llama.rope.scaling.factor", 2.0f);
}
static void none_extra(gb_t *b)
{
    gb_kv_str(b, "llama.rope.scaling.type", "none");
    gb_kv_f32(b, "llama.rope.scaling.factor", 8.0f);
}
static void longrope_extra(gb_t *b) { gb_kv_str(b, "llama.rope.scaling.type", "longrope"); }
static void rope_freqs_extra(gb_t *b)
{
    gb_tensor1(b, "rope_freqs.weight", GGUF_TTYPE_F32, 8, NULL);
}

static void test_rope_variants(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    model_t *m;

    build(&o, &LLAMA, linear_extra);
    m = load(&o, &g, &err);
    CHECK(m && m->hp.rope_scaling == MODEL_ROPE_SCALING_LINEAR && m->hp.rope_scale_factor == 4.0f);
    model_free(m);
    gguf_close(g);
    built_free(&o);

    build(&o, &LLAMA, linear2_extra);
    m = load(&o, &g, &err);
    CHECK(m && m->hp.rope_scaling == MODEL_ROPE_SCALING_LINEAR && m->hp.rope_scale_factor == 2.0f);
    model_free(m);
    gguf_close(g);
    built_free(&o);

    build(&o, &LLAMA, none_extra);
    m = load(&o, &g, &err);
    CHECK(m && m->hp.rope_scaling == MODEL_ROPE_SCALING_NONE && m->hp.rope_scale_factor == 1.0f);
    model_free(m);
    gguf_close(g);
    built_free(&o);

    build(&o, &LLAMA, longrope_extra);
    expect_fail(&o, "llama.rope.scaling.type is 'longrope', which octet does not support (none, linear, yarn)");
    built_free(&o);

    build(&o, &LLAMA, rope_freqs_extra);
    m = load(&o, &g, &err);
    CHECKF(m && m->rope_freqs == gguf_find_tensor(g, "rope_freqs.weight"), "%s", m ? "" : err.msg);
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

static void bad_freqs_extra(gb_t *b) { gb_tensor1(b, "rope_freqs.weight", GGUF_TTYPE_F32, 16, NULL); }
static void vocab_extra(gb_t *b) { gb_kv_u32(b, "llama.vocab_size", 99); }
static void vocab100_extra(gb_t *b) { gb_kv_u32(b, "llama.vocab_size", 100); }
static void bad_type_extra(gb_t *b) { gb_kv_str(b, "llama.rope.freq_base", "fast"); }
static void nan_extra(gb_t *b) { gb_kv_f32(b, "llama.rope.freq_base", NAN); }

static void test_bad_metadata(void)
{
    built_t o;

    build(&o, &LLAMA, NULL);
    rename_str(&o, "llama", "gemma");
    expect_fail(&o, "tiny.gguf: architecture 'gemma' is not supported (octet runs llama and qwen2)");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    rename_str(&o, "general.architecture", "general.architectura");
    expect_fail(&o, "required key 'general.architecture' is missing");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    rename_str(&o, "llama.block_count", "llama.block_cnunt");
    expect_fail(&o, "tiny.gguf: required key 'llama.block_count' is missing");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.embedding_length"), GGUF_TYPE_FLOAT32);
    expect_fail(&o, "key 'llama.embedding_length' is a float32 value, expected an unsigned integer");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.context_length") + 4, 0);
    expect_fail(&o, "llama.context_length is 0");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.attention.head_count_kv") + 4, 3);
    expect_fail(&o, "llama.attention.head_count = 4 is not a multiple of llama.attention.head_count_kv = 3");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.attention.head_count") + 4, 3); /* 64 % 3 != 0 */
    rename_str(&o, "llama.attention.head_count_kv", "llama.attention.head_count_xx");
    expect_fail(&o, "required key 'llama.attention.key_length' is missing");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.block_count") + 4, 1000000000);
    expect_fail(&o, "llama.block_count = 1000000000 but the file holds only 21 tensors");
    built_free(&o);

    build(&o, &LLAMA, bad_type_extra);
    expect_fail(&o, "key 'llama.rope.freq_base' is a string value, expected a number");
    built_free(&o);

    build(&o, &LLAMA, nan_extra);
    expect_fail(&o, "llama.rope.freq_base = nan is not a positive number");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "llama.attention.layer_norm_rms_epsilon") + 4, 0);
    expect_fail(&o, "llama.attention.layer_norm_rms_epsilon = 0 is not a positive number");
    built_free(&o);
}

static void test_bad_tensors(void)
{
    built_t o;

    /* Defaults are checked against the tensors: without head_count_kv the
     * model has 4 KV heads, so attn_k should be [64, 64]. */
    build(&o, &LLAMA, NULL);
    rename_str(&o, "llama.attention.head_count_kv", "llama.attention.head_count_xx");
    expect_fail(&o, "tiny.gguf: tensor 'blk.0.attn_k.weight' has shape [64, 32], expected [64, 64]");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u64(&o, find_name(&o, "blk.1.attn_v.weight") + 4 + 8, 16);
    expect_fail(&o, "tensor 'blk.1.attn_v.weight' has shape [64, 16], expected [64, 32]");
    built_free(&o);

    /* A vector where a matrix belongs. */
    build(&o, &LLAMA, NULL);
    size_t at = find_name(&o, "blk.0.ffn_down.weight");
    set_u64(&o, at + 4, 96 * 64);
    set_u64(&o, at + 12, 1);
    expect_fail(&o, "tensor 'blk.0.ffn_down.weight' has shape [6144, 1], expected [96, 64]");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    rename_str(&o, "blk.1.ffn_up.weight", "blk.1.ffn_uq.weight");
    expect_fail(&o, "tiny.gguf: tensor 'blk.1.ffn_up.weight' is missing");
    built_free(&o);

    build(&o, &LLAMA, vocab100_extra);
    rename_str(&o, "token_embd.weight", "token_embx.weight");
    expect_fail(&o, "tensor 'token_embd.weight' is missing");
    built_free(&o);

    build(&o, &LLAMA, NULL);
    set_u32(&o, find_name(&o, "blk.0.attn_norm.weight") + 4 + 8, GGUF_TTYPE_F16);
    expect_fail(&o, "tensor 'blk.0.attn_norm.weight' is F16; octet needs F32 for 1-D tensors");
    built_free(&o);

    /* output.weight, when present, must match too. */
    build(&o, &LLAMA, vocab_extra);
    expect_fail(&o, "tensor 'token_embd.weight' has shape [64, 100], expected [64, 99]");
    built_free(&o);

    /* A qwen2 file whose layer 0 has biases but layer 1 lacks one. */
    gb_model_spec_t s = QWEN2;
    s.n_layer = 2;
    build(&o, &s, NULL);
    rename_str(&o, "blk.1.attn_k.bias", "blk.1.attn_k.bixs");
    expect_fail(&o, "tensor 'blk.1.attn_k.bias' is missing");
    built_free(&o);

    build(&o, &LLAMA, bad_freqs_extra);
    expect_fail(&o, "tensor 'rope_freqs.weight' has shape [16], expected [8]");
    built_free(&o);
}

/* Vocabulary size from the token list when nothing else gives it: the
 * metadata reads fine and the missing embedding is what fails. */
static void test_vocab_from_tokens(void)
{
    gb_t b;
    size_t len;
    gb_init(&b, 3);
    const char *toks[3] = {"a", "b", "c"};
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_u32(&b, "llama.embedding_length", 64);
    gb_kv_u32(&b, "llama.block_count", 1);
    gb_kv_u32(&b, "llama.attention.head_count", 4);
    gb_kv_u32(&b, "llama.feed_forward_length", 96);
    gb_kv_u32(&b, "llama.context_length", 128);
    gb_kv_f32(&b, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_kv_arr_str(&b, "tokenizer.ggml.tokens", 3, toks);
    gb_tensor1(&b, "output_norm.weight", GGUF_TTYPE_F32, 64, NULL);
    const uint8_t *p = gb_finish(&b, &len);
    gguf_t *g = NULL;
    model_t *m = NULL;
    errmsg_t err;
    CHECK(gguf_open_mem(&g, p, len, "v.gguf", &err) == 0);
    CHECK(model_load(&m, g, &err) != 0);
    CHECK_EQ_STR(err.msg, "v.gguf: tensor 'token_embd.weight' is missing");
    model_free(m);
    gguf_close(g);
    gb_free(&b);

    /* Without the token list nothing gives the size. */
    gb_init(&b, 3);
    gb_kv_str(&b, "general.architecture", "qwen2");
    gb_kv_u32(&b, "qwen2.embedding_length", 64);
    gb_kv_u32(&b, "qwen2.block_count", 1);
    gb_kv_u32(&b, "qwen2.attention.head_count", 4);
    gb_kv_u32(&b, "qwen2.feed_forward_length", 96);
    gb_kv_u32(&b, "qwen2.context_length", 128);
    gb_kv_f32(&b, "qwen2.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_tensor1(&b, "output_norm.weight", GGUF_TTYPE_F32, 64, NULL);
    p = gb_finish(&b, &len);
    m = NULL;
    CHECK(gguf_open_mem(&g, p, len, "v.gguf", &err) == 0);
    CHECK(model_load(&m, g, &err) != 0);
    CHECK_EQ_STR(err.msg, "v.gguf: cannot tell the vocabulary size (no qwen2.vocab_size, "
                          "token_embd.weight or tokenizer.ggml.tokens)");
    model_free(m);
    gguf_close(g);
    gb_free(&b);
}

/* Hand-computed plan for LLAMA (F16 matrices, f32 norms):
 *   matrices (elements): token_embd 64*100 = 6400, output 6400, per layer
 *     q 64*64 + k 64*32 + v 64*32 + o 64*64 + gate/up/down 3*64*96 = 30720
 *     -> 6400 + 6400 + 2*30720 = 74240 elements
 *   rows: 100 + 100 + 2*(64 + 32 + 32 + 64 + 96 + 96 + 64) = 1096
 *   1-D f32 (elements): 2 layers * (64 + 64) + 64 = 320 -> 1280 bytes
 *   stored = f16 = 74240*2 + 1280 = 149760
 *   int8 = 74240 + 1096*4 + 1280 = 79904;  f32 = (74240 + 320)*4 = 298240
 *   KV per token: K and V * 2 layers * 2 heads * 16 = 128 values
 *     f32 512 B, f16 256 B, int8 128 + 2*2*2 scales*4 B = 160 B */
static void test_mem_plan_llama(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &LLAMA, NULL);
    model_t *m = load(&o, &g, &err);
    CHECK(m != NULL);
    if (m) {
        model_mem_plan_t p;
        model_mem_plan(m, 0, MODEL_WFMT_INT8, MODEL_KV_INT8, &p);
        CHECK_EQ_INT(p.weights_stored, 149760);
        CHECK_EQ_INT(p.weights_f16, 149760);
        CHECK_EQ_INT(p.weights_int8, 79904);
        CHECK_EQ_INT(p.kv_per_1k_f32, 512 * 1024);
        CHECK_EQ_INT(p.kv_per_1k_f16, 256 * 1024);
        CHECK_EQ_INT(p.kv_per_1k_int8, 160 * 1024);
        CHECK_EQ_INT(p.ctx, 256);
        CHECK_EQ_INT(p.kv_total, 160 * 256);
        CHECK_EQ_INT(p.weights_total, 79904);
        CHECK_EQ_INT(p.total, 79904 + 160 * 256);

        model_mem_plan(m, 1000, MODEL_WFMT_F16, MODEL_KV_F16, &p);
        CHECK_EQ_INT(p.ctx, 1000);
        CHECK_EQ_INT(p.kv_total, 256 * 1000);
        CHECK_EQ_INT(p.weights_total, 149760);
        CHECK_EQ_INT(p.total, 149760 + 256000);

        model_mem_plan(m, 10, MODEL_WFMT_F32, MODEL_KV_F32, &p);
        CHECK_EQ_INT(p.weights_total, 298240);
        CHECK_EQ_INT(p.kv_total, 5120);
        CHECK_EQ_INT(p.total, 298240 + 5120);

        /* An absurd context saturates instead of wrapping. */
        model_mem_plan(m, UINT64_MAX / 2, MODEL_WFMT_INT8, MODEL_KV_F32, &p);
        CHECK(p.kv_total == UINT64_MAX && p.total == UINT64_MAX);
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

/* Hand-computed plan for QWEN2 (Q8_0 matrices, tied, biases):
 *   matrices: token_embd 64*50 = 3200, q/k/v/o 4*4096, gate/up/down 3*6144
 *     -> 38016 elements; Q8_0 bytes = elements/32*34 = 40392
 *   1-D f32: attn_norm, ffn_norm, q/k/v biases (5*64) + output_norm 64
 *     = 384 elements -> 1536 bytes
 *   stored = int8 (Q8_0 stays) = 40392 + 1536 = 41928
 *   f16 = 38016*2 + 1536 = 77568
 *   KV per token: 2 * 1 layer * 4 heads * 16 = 128 values; int8 adds 2*4*4 */
static void test_mem_plan_qwen2(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &QWEN2, NULL);
    model_t *m = load(&o, &g, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        model_mem_plan_t p;
        model_mem_plan(m, 0, MODEL_WFMT_INT8, MODEL_KV_INT8, &p);
        CHECK_EQ_INT(p.weights_stored, 41928);
        CHECK_EQ_INT(p.weights_int8, 41928);
        CHECK_EQ_INT(p.weights_f16, 77568);
        CHECK_EQ_INT(p.kv_per_1k_f16, 256 * 1024);
        CHECK_EQ_INT(p.kv_per_1k_int8, (128 + 32) * 1024);
        CHECK_EQ_INT(p.ctx, 512);
        CHECK_EQ_INT(p.total, 41928 + 160 * 512);
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);
}

/* The builder's random weights really are what the file holds. */
static void test_builder_weights(void)
{
    built_t o;
    gguf_t *g;
    errmsg_t err;
    build(&o, &QWEN2, NULL);
    model_t *m = load(&o, &g, &err);
    CHECK(m != NULL);
    if (m) {
        const float *norm = m->out_norm->data;
        float mn = 10, mx = -10;
        for (int i = 0; i < 64; i++) {
            float v;
            memcpy(&v, &norm[i], 4);
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        CHECK(mn >= 0.9f && mx <= 1.1f && mx > mn);
        const uint8_t *q = m->layers[0].wq->data;
        int nonzero = 0;
        for (int i = 2; i < 34; i++)
            nonzero += q[i] != 0;
        CHECK(nonzero > 16);
    }
    model_free(m);
    gguf_close(g);
    built_free(&o);
    CHECK_EQ_INT(gb_f16(1.0f), 0x3C00);
    CHECK_EQ_INT(gb_f16(-2.0f), 0xC000);
    CHECK_EQ_INT(gb_f16(65504.0f), 0x7BFF);
    CHECK_EQ_INT(gb_f16(1e6f), 0x7C00);
    CHECK_EQ_INT(gb_f16(5.9604645e-8f), 0x0001);
    CHECK_EQ_INT(gb_bf16(1.0f), 0x3F80);
}

/* ---- committed fixtures ------------------------------------------------- */

/* tests/fixtures/gguf/ holds files this builder makes, for the shell tests.
 * The test below rebuilds them and compares byte for byte, so they cannot
 * drift from the code; OCTET_WRITE_FIXTURES=1 rewrites them instead. */
static const char *const FIX_TOKENS[16] = {
    "<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a",
    "\xe2\x96\x81" "b", "ab", "bc", "<0x0A>", "\xe2\x96\x81" "ab", "x", "y", "z",
};

static void fixture_tokenizer(gb_t *b)
{
    float scores[16];
    int32_t types[16];
    for (int i = 0; i < 16; i++) {
        scores[i] = -(float)i;
        types[i] = i < 3 ? 3 : i == 11 ? 6 : 1; /* control, byte, normal */
    }
    types[0] = 2; /* unknown */
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_arr_str(b, "tokenizer.ggml.tokens", 16, FIX_TOKENS);
    gb_kv_arr(b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, 16, scores, 4);
    gb_kv_arr(b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, 16, types, 4);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    gb_kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    gb_kv_u32(b, "tokenizer.ggml.unknown_token_id", 0);
}

/* tiny-llama-q8_0.gguf: 1 layer, 2 query heads sharing 1 KV head, Q8_0. */
static const gb_model_spec_t FIX_LLAMA = {
    .arch = "llama", .n_embd = 32, .n_layer = 1, .n_head = 2, .n_head_kv = 1, .n_ff = 64,
    .n_vocab = 16, .n_ctx = 128, .wtype = GGUF_TTYPE_Q8_0, .norm_eps = 1e-5f, .seed = 1,
};

static void check_fixture(const char *path, gb_t *b)
{
    size_t len;
    const uint8_t *p = gb_finish(b, &len);
    const char *w = getenv("OCTET_WRITE_FIXTURES");
    if (w && *w == '1') {
        CHECKF(gb_write(b, path) == 0, "cannot write %s", path);
        return;
    }
    FILE *f = fopen(path, "rb");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f)
        return;
    uint8_t *buf = malloc(len + 1);
    size_t n = fread(buf, 1, len + 1, f);
    fclose(f);
    CHECKF(n == len && memcmp(buf, p, len) == 0,
           "%s differs from what tests/gguf_build.h makes (rebuild with OCTET_WRITE_FIXTURES=1)", path);
    free(buf);
}

static void test_fixtures_current(void)
{
    gb_t b;
    gb_init(&b, 3);
    fixture_tokenizer(&b);
    gb_model(&b, &FIX_LLAMA);
    check_fixture("tests/fixtures/gguf/tiny-llama-q8_0.gguf", &b);
    gb_free(&b);

    gb_init(&b, 3);
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_str(&b, "general.name", "vocab-only");
    fixture_tokenizer(&b);
    check_fixture("tests/fixtures/gguf/vocab-only.gguf", &b);
    gb_free(&b);
}

/* The fixture's memory plan, by hand (tests/e2e/info.sh checks the same
 * numbers in octet info's output):
 *   Q8_0 matrices: token_embd/output 32*16, q/o 32*32, k/v 32*16,
 *     gate/up/down 32*64 -> 10240 elements = 10880 bytes; 1-D: 3*32 f32
 *     = 384 bytes; stored = int8 = 11264, f16 = 20480 + 384 = 20864
 *   KV per token: 2 * 1 layer * 1 head * 16 = 32 values (+ 2*4 scale bytes) */
static void test_fixture_plan(void)
{
    gguf_t *g = NULL;
    model_t *m = NULL;
    errmsg_t err;
    CHECKF(gguf_open(&g, "tests/fixtures/gguf/tiny-llama-q8_0.gguf", &err) == 0, "%s", err.msg);
    if (g)
        CHECKF(model_load(&m, g, &err) == 0, "%s", err.msg);
    if (m) {
        model_mem_plan_t p;
        model_mem_plan(m, 0, MODEL_WFMT_INT8, MODEL_KV_INT8, &p);
        CHECK_EQ_INT(p.weights_stored, 11264);
        CHECK_EQ_INT(p.weights_int8, 11264);
        CHECK_EQ_INT(p.weights_f16, 20864);
        CHECK_EQ_INT(p.kv_per_1k_int8, 40 * 1024);
        CHECK_EQ_INT(p.total, 11264 + 40 * 128);
        CHECK_EQ_INT(m->hp.head_dim, 16);
    }
    model_free(m);
    gguf_close(g);
}

int main(void)
{
    TEST_RUN(test_llama);
    TEST_RUN(test_qwen2);
    TEST_RUN(test_head_dim_and_name);
    TEST_RUN(test_rope_variants);
    TEST_RUN(test_bad_metadata);
    TEST_RUN(test_bad_tensors);
    TEST_RUN(test_vocab_from_tokens);
    TEST_RUN(test_mem_plan_llama);
    TEST_RUN(test_mem_plan_qwen2);
    TEST_RUN(test_builder_weights);
    TEST_RUN(test_fixtures_current);
    TEST_RUN(test_fixture_plan);
    TEST_END();
}
