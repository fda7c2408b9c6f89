/* gen_seeds.c - writes the seed corpus tests/fuzz/corpus/gguf/ with
 * tests/gguf_build.h: small valid files that reach every part of the
 * reader and of model_load (all value types, arrays, v2 and v3, every
 * supported tensor type, a custom alignment, llama and qwen2 models, a
 * vocabulary-only file). Run by `make -f tests/fuzz/fuzz.mk seeds`.
 * Usage: gen_seeds DIR */
#include <stdio.h>

#include "gguf_build.h"

static int write_seed(gb_t *b, const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = gb_write(b, path);
    if (rc)
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
    gb_free(b);
    return rc;
}

static void all_types(gb_t *b, uint32_t version)
{
    gb_init(b, version);
    gb_kv_u8(b, "a", 1);
    gb_kv_i8(b, "b", -1);
    gb_kv_u16(b, "c", 2);
    gb_kv_i16(b, "d", -2);
    gb_kv_u32(b, "e", 3);
    gb_kv_i32(b, "f", -3);
    gb_kv_f32(b, "g", 0.5f);
    gb_kv_bool(b, "h", 1);
    gb_kv_str(b, "i", "str");
    gb_kv_u64(b, "j", 4);
    gb_kv_i64(b, "k", -4);
    gb_kv_f64(b, "l", 0.25);
    uint32_t u[2] = {1, 2};
    uint8_t bo[2] = {0, 1};
    double f[2] = {1, -1};
    const char *s[3] = {"x", "", "yz"};
    gb_kv_arr(b, "m", GGUF_TYPE_UINT32, 2, u, 4);
    gb_kv_arr(b, "n", GGUF_TYPE_BOOL, 2, bo, 1);
    gb_kv_arr(b, "o", GGUF_TYPE_FLOAT64, 2, f, 8);
    gb_kv_arr_str(b, "p", 3, s);
    gb_tensor1(b, "t0", GGUF_TTYPE_F32, 2, NULL);
    gb_tensor1(b, "t1", GGUF_TTYPE_F16, 3, NULL);
    gb_tensor1(b, "t2", GGUF_TTYPE_BF16, 1, NULL);
    gb_tensor2(b, "t3", GGUF_TTYPE_Q8_0, 32, 1, NULL);
}

static void tokenizer(gb_t *b)
{
    const char *toks[4] = {"<s>", "</s>", "a", "b"};
    float scores[4] = {0, 0, -1, -2};
    int32_t types[4] = {3, 3, 1, 1};
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_arr_str(b, "tokenizer.ggml.tokens", 4, toks);
    gb_kv_arr(b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, 4, scores, 4);
    gb_kv_arr(b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, 4, types, 4);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    gb_t b;
    int rc = 0;

    all_types(&b, 3);
    rc |= write_seed(&b, dir, "all-types-v3.gguf");
    all_types(&b, 2);
    rc |= write_seed(&b, dir, "all-types-v2.gguf");

    gb_init(&b, 3);
    gb_alignment(&b, 64);
    gb_tensor2(&b, "a", GGUF_TTYPE_Q8_0, 32, 2, NULL);
    gb_tensor1(&b, "b", GGUF_TTYPE_F32, 3, NULL);
    rc |= write_seed(&b, dir, "align64.gguf");

    gb_init(&b, 3);
    tokenizer(&b);
    rc |= write_seed(&b, dir, "vocab-only.gguf");

    gb_model_spec_t llama = {
        .arch = "llama", .n_embd = 4, .n_layer = 1, .n_head = 2, .n_head_kv = 1, .n_ff = 8,
        .n_vocab = 4, .n_ctx = 16, .wtype = GGUF_TTYPE_F16, .name = "",
    };
    gb_init(&b, 3);
    tokenizer(&b);
    gb_kv_f32(&b, "llama.rope.scale_linear", 2.0f);
    gb_model(&b, &llama);
    rc |= write_seed(&b, dir, "llama-f16.gguf");

    gb_model_spec_t qwen2 = {
        .arch = "qwen2", .n_embd = 4, .n_layer = 1, .n_head = 2, .n_head_kv = 2, .n_ff = 8,
        .n_vocab = 4, .n_ctx = 16, .head_dim = 4, .wtype = GGUF_TTYPE_BF16, .tied = 1, .qkv_bias = 1,
        .rope_base = 1e6f, .name = "q",
    };
    gb_init(&b, 2);
    gb_kv_str(&b, "qwen2.rope.scaling.type", "yarn");
    gb_kv_f32(&b, "qwen2.rope.scaling.factor", 4.0f);
    gb_kv_u32(&b, "qwen2.rope.scaling.original_context_length", 8);
    gb_kv_f32(&b, "qwen2.rope.scaling.yarn_ext_factor", 1.0f);
    gb_tensor1(&b, "rope_freqs.weight", GGUF_TTYPE_F32, 2, NULL);
    gb_model(&b, &qwen2);
    rc |= write_seed(&b, dir, "qwen2-bf16-yarn.gguf");

    gb_model_spec_t q8 = {
        .arch = "llama", .n_embd = 32, .n_layer = 1, .n_head = 2, .n_head_kv = 2, .n_ff = 32,
        .n_vocab = 2, .n_ctx = 16, .wtype = GGUF_TTYPE_Q8_0, .name = "q8",
    };
    gb_init(&b, 3);
    gb_model(&b, &q8);
    rc |= write_seed(&b, dir, "llama-q8_0.gguf");
    return rc ? 1 : 0;
}
