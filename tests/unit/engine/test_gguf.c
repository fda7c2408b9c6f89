/* test_gguf.c - the GGUF reader on valid v2/v3 files (every value type,
 * arrays, every supported tensor type, file and memory input) and on
 * malformed ones: truncation at every byte, huge counts, overflowing
 * lengths, bad types, bad UTF-8, nested arrays, bad tensor descriptors. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_build.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

/* Opens BUF expecting failure; returns the error (static buffer). Checks
 * the convention: one line, "NAME: ...", an OCT_E* code. */
static const char *open_fail(const void *buf, size_t len)
{
    static errmsg_t err;
    gguf_t *g = (gguf_t *)1;
    int rc = gguf_open_mem(&g, buf, len, "t.gguf", &err);
    CHECKF(rc < 0, "expected failure, got %d", rc);
    CHECK(g == NULL);
    if (rc >= 0) {
        gguf_close(g);
        return "";
    }
    CHECK_EQ_INT(err.code, rc);
    CHECKF(strncmp(err.msg, "t.gguf: ", 8) == 0, "message '%s'", err.msg);
    CHECKF(strchr(err.msg, '\n') == NULL, "message has a newline: '%s'", err.msg);
    return err.msg;
}

#define CHECK_MSG(msg, needle) CHECKF(strstr((msg), (needle)) != NULL, "'%s' lacks '%s'", (msg), (needle))

static gguf_t *open_ok(const void *buf, size_t len)
{
    errmsg_t err;
    gguf_t *g = NULL;
    int rc = gguf_open_mem(&g, buf, len, "t.gguf", &err);
    CHECKF(rc == 0, "%s", err.msg);
    return g;
}

static void patch_u64(uint8_t *p, size_t at, uint64_t v) { memcpy(p + at, &v, 8); }
static void patch_u32(uint8_t *p, size_t at, uint32_t v) { memcpy(p + at, &v, 4); }

static const char *open_fail_b(gb_t *b)
{
    size_t len;
    const uint8_t *p = gb_finish(b, &len);
    return open_fail(p, len);
}

static gguf_t *open_ok_b(gb_t *b)
{
    size_t len;
    const uint8_t *p = gb_finish(b, &len);
    return open_ok(p, len);
}

/* A copy of a finished builder's bytes that the test may modify. */
static uint8_t *finish_copy(gb_t *b, size_t *len)
{
    const uint8_t *p = gb_finish(b, len);
    uint8_t *c = malloc(*len + 1);
    memcpy(c, p, *len);
    return c;
}

/* ---- valid files -------------------------------------------------------- */

static const float F32_DATA[4] = {1.5f, -2.0f, 0.25f, 3.0f};

/* Every scalar type, strings, arrays of every element type, one tensor of
 * every supported type. */
static void build_all_types(gb_t *b, uint32_t version)
{
    gb_init(b, version);
    gb_kv_u8(b, "v.u8", 200);
    gb_kv_i8(b, "v.i8", -100);
    gb_kv_u16(b, "v.u16", 60000);
    gb_kv_i16(b, "v.i16", -30000);
    gb_kv_u32(b, "v.u32", 4000000000u);
    gb_kv_i32(b, "v.i32", -2000000000);
    gb_kv_f32(b, "v.f32", 0.5f);
    gb_kv_bool(b, "v.bool", 1);
    gb_kv_str(b, "v.str", "héllo wörld");
    gb_kv_u64(b, "v.u64", UINT64_MAX);
    gb_kv_i64(b, "v.i64", INT64_MIN);
    gb_kv_f64(b, "v.f64", -1e300);
    gb_kv_str(b, "v.empty", "");
    uint8_t a_u8[3] = {1, 2, 255};
    int8_t a_i8[2] = {-1, 127};
    uint16_t a_u16[2] = {7, 65535};
    int16_t a_i16[2] = {-7, 300};
    uint32_t a_u32[3] = {1, 2, 3};
    int32_t a_i32[2] = {-5, 5};
    float a_f32[3] = {0.5f, -1.5f, 1e30f};
    uint8_t a_bool[3] = {1, 0, 1};
    uint64_t a_u64[2] = {UINT64_MAX, 9};
    int64_t a_i64[2] = {INT64_MIN, -9};
    double a_f64[2] = {2.5, -1e200};
    gb_kv_arr(b, "a.u8", GGUF_TYPE_UINT8, 3, a_u8, 1);
    gb_kv_arr(b, "a.i8", GGUF_TYPE_INT8, 2, a_i8, 1);
    gb_kv_arr(b, "a.u16", GGUF_TYPE_UINT16, 2, a_u16, 2);
    gb_kv_arr(b, "a.i16", GGUF_TYPE_INT16, 2, a_i16, 2);
    gb_kv_arr(b, "a.u32", GGUF_TYPE_UINT32, 3, a_u32, 4);
    gb_kv_arr(b, "a.i32", GGUF_TYPE_INT32, 2, a_i32, 4);
    gb_kv_arr(b, "a.f32", GGUF_TYPE_FLOAT32, 3, a_f32, 4);
    gb_kv_arr(b, "a.bool", GGUF_TYPE_BOOL, 3, a_bool, 1);
    gb_kv_arr(b, "a.u64", GGUF_TYPE_UINT64, 2, a_u64, 8);
    gb_kv_arr(b, "a.i64", GGUF_TYPE_INT64, 2, a_i64, 8);
    gb_kv_arr(b, "a.f64", GGUF_TYPE_FLOAT64, 2, a_f64, 8);
    gb_kv_arr(b, "a.empty", GGUF_TYPE_UINT32, 0, NULL, 4);
    const char *strs[4] = {"a", "", "ünïcode ✓", "<|im_start|>"};
    gb_kv_arr_str(b, "a.str", 4, strs);
    gb_kv_str(b, "ключ.ü", "non-ASCII key");

    gb_tensor1(b, "t.f32", GGUF_TTYPE_F32, 4, F32_DATA);
    uint16_t h[6] = {0x3C00, 0xC000, 0, 0x7BFF, 1, 0x8000};
    gb_tensor2(b, "t.f16", GGUF_TTYPE_F16, 3, 2, h);
    uint64_t ne3[3] = {2, 1, 3};
    gb_tensor(b, "t.bf16", GGUF_TTYPE_BF16, 3, ne3, NULL);
    uint64_t ne4[4] = {64, 2, 1, 1};
    gb_tensor(b, "t.q8", GGUF_TTYPE_Q8_0, 4, ne4, NULL);
}

static void check_all_types(gguf_t *g, uint32_t version)
{
    int64_t iv;
    uint64_t uv;
    double fv;
    bool bv;
    gguf_str_t s;
    gguf_arr_t a;
    errmsg_t err;

    CHECK_EQ_INT(gguf_version(g), version);
    CHECK_EQ_INT(gguf_alignment(g), 32);
    CHECK_EQ_INT(gguf_kv_count(g), 27);
    CHECK_EQ_INT(gguf_tensor_count(g), 4);
    CHECK_EQ_STR(gguf_path(g), "t.gguf");

    CHECK_EQ_INT(gguf_find_key(g, "v.u8"), 0);
    CHECK_EQ_INT(gguf_find_key(g, "a.str"), 25);
    CHECK_EQ_INT(gguf_find_key(g, "missing"), -1);
    CHECK_EQ_STR(gguf_kv_key(g, 3), "v.i16");
    CHECK_EQ_STR(gguf_kv_key(g, 26), "ключ.ü");
    CHECK(gguf_kv_key(g, 27) == NULL);
    CHECK_EQ_INT(gguf_kv_type(g, 8), GGUF_TYPE_STRING);
    CHECK_EQ_INT(gguf_kv_type(g, 13), GGUF_TYPE_ARRAY);

    CHECK(gguf_get_int(g, "v.u8", &iv, NULL) == 0 && iv == 200);
    CHECK(gguf_get_int(g, "v.i8", &iv, NULL) == 0 && iv == -100);
    CHECK(gguf_get_uint(g, "v.u16", &uv, NULL) == 0 && uv == 60000);
    CHECK(gguf_get_int(g, "v.i16", &iv, NULL) == 0 && iv == -30000);
    CHECK(gguf_get_uint(g, "v.u32", &uv, NULL) == 0 && uv == 4000000000u);
    CHECK(gguf_get_int(g, "v.i32", &iv, NULL) == 0 && iv == -2000000000);
    CHECK(gguf_get_float(g, "v.f32", &fv, NULL) == 0 && fv == 0.5);
    CHECK(gguf_get_bool(g, "v.bool", &bv, NULL) == 0 && bv);
    CHECK(gguf_get_uint(g, "v.u64", &uv, NULL) == 0 && uv == UINT64_MAX);
    CHECK(gguf_get_int(g, "v.i64", &iv, NULL) == 0 && iv == INT64_MIN);
    CHECK(gguf_get_float(g, "v.f64", &fv, NULL) == 0 && fv == -1e300);
    CHECK(gguf_get_float(g, "v.i32", &fv, NULL) == 0 && fv == -2000000000.0);
    CHECK(gguf_get_str(g, "v.str", &s, NULL) == 0 && gguf_str_eq(s, "héllo wörld"));
    CHECK(gguf_get_str(g, "v.empty", &s, NULL) == 0 && s.len == 0 && gguf_str_eq(s, ""));

    /* Conversions that cannot be represented, and wrong types. */
    CHECK_EQ_INT(gguf_get_int(g, "v.u64", &iv, &err), OCT_ETYPE);
    CHECK_MSG(err.msg, "v.u64");
    CHECK_EQ_INT(gguf_get_uint(g, "v.i8", &uv, &err), OCT_ETYPE);
    CHECK_MSG(err.msg, "negative");
    CHECK_EQ_INT(gguf_get_int(g, "v.str", &iv, &err), OCT_ETYPE);
    CHECK_MSG(err.msg, "t.gguf: key 'v.str' is a string value, expected an integer");
    CHECK_EQ_INT(gguf_get_int(g, "v.f32", &iv, NULL), OCT_ETYPE);
    CHECK_EQ_INT(gguf_get_bool(g, "v.u8", &bv, NULL), OCT_ETYPE);
    CHECK_EQ_INT(gguf_get_str(g, "a.str", &s, NULL), OCT_ETYPE);
    CHECK_EQ_INT(gguf_get_arr(g, "v.str", &a, NULL), OCT_ETYPE);
    CHECK_EQ_INT(gguf_get_float(g, "v.bool", &fv, NULL), OCT_ETYPE);
    CHECK_EQ_INT(gguf_get_int(g, "nope", &iv, &err), OCT_ENOTFOUND);
    CHECK_MSG(err.msg, "nope");

    /* By index. */
    CHECK(gguf_kv_number(g, 0, &fv) == 0 && fv == 200);
    CHECK(gguf_kv_number(g, 7, &fv) == 0 && fv == 1);
    CHECK(gguf_kv_number(g, 10, &fv) == 0 && fv == (double)INT64_MIN);
    CHECK_EQ_INT(gguf_kv_number(g, 8, &fv), OCT_ETYPE);
    CHECK_EQ_INT(gguf_kv_number(g, 99, &fv), OCT_ENOTFOUND);
    CHECK(gguf_kv_str(g, 8, &s) == 0 && s.len == strlen("héllo wörld"));
    CHECK_EQ_INT(gguf_kv_str(g, 0, &s), OCT_ETYPE);
    CHECK(gguf_kv_arr(g, 13, &a) == 0 && a.type == GGUF_TYPE_UINT8 && a.n == 3);
    CHECK_EQ_INT(gguf_kv_arr(g, 0, &a), OCT_ETYPE);

    /* Arrays of every element type. */
    CHECK(gguf_get_arr(g, "a.u8", &a, NULL) == 0 && a.n == 3 && gguf_arr_int(&a, 2) == 255);
    CHECK(gguf_get_arr(g, "a.i8", &a, NULL) == 0 && gguf_arr_int(&a, 0) == -1 && gguf_arr_number(&a, 1) == 127);
    CHECK(gguf_get_arr(g, "a.u16", &a, NULL) == 0 && gguf_arr_int(&a, 1) == 65535);
    CHECK(gguf_get_arr(g, "a.i16", &a, NULL) == 0 && gguf_arr_int(&a, 0) == -7 && gguf_arr_int(&a, 1) == 300);
    CHECK(gguf_get_arr(g, "a.u32", &a, NULL) == 0 && a.type == GGUF_TYPE_UINT32 && gguf_arr_int(&a, 2) == 3);
    CHECK(gguf_get_arr(g, "a.i32", &a, NULL) == 0 && gguf_arr_int(&a, 0) == -5);
    CHECK(gguf_get_arr(g, "a.f32", &a, NULL) == 0 && gguf_arr_number(&a, 1) == -1.5);
    CHECK(gguf_arr_int(&a, 2) == INT64_MAX); /* 1e30 clamps rather than overflowing */
    CHECK(gguf_arr_int(&a, 1) == -1);
    CHECK(gguf_get_arr(g, "a.bool", &a, NULL) == 0 && gguf_arr_int(&a, 0) == 1 && gguf_arr_int(&a, 1) == 0);
    CHECK(gguf_get_arr(g, "a.u64", &a, NULL) == 0 && gguf_arr_int(&a, 0) == INT64_MAX &&
          gguf_arr_number(&a, 1) == 9);
    CHECK(gguf_get_arr(g, "a.i64", &a, NULL) == 0 && gguf_arr_int(&a, 0) == INT64_MIN);
    CHECK(gguf_get_arr(g, "a.f64", &a, NULL) == 0 && gguf_arr_number(&a, 1) == -1e200 &&
          gguf_arr_int(&a, 1) == INT64_MIN);
    CHECK(gguf_get_arr(g, "a.empty", &a, NULL) == 0 && a.n == 0);
    CHECK(gguf_get_arr(g, "a.str", &a, NULL) == 0 && a.type == GGUF_TYPE_STRING && a.n == 4);
    CHECK(gguf_str_eq(gguf_arr_str(&a, 0), "a"));
    CHECK(gguf_str_eq(gguf_arr_str(&a, 1), ""));
    CHECK(gguf_str_eq(gguf_arr_str(&a, 2), "ünïcode ✓"));
    CHECK(gguf_str_eq(gguf_arr_str(&a, 3), "<|im_start|>"));
    CHECK(gguf_get_str(g, "ключ.ü", &s, NULL) == 0 && gguf_str_eq(s, "non-ASCII key"));

    /* Tensors. */
    const gguf_tensor_t *t = gguf_find_tensor(g, "t.f32");
    CHECK(t && t == gguf_tensor(g, 0));
    if (t) {
        CHECK_EQ_INT(t->type, GGUF_TTYPE_F32);
        CHECK_EQ_INT(t->n_dims, 1);
        CHECK(t->ne[0] == 4 && t->ne[1] == 1 && t->ne[2] == 1 && t->ne[3] == 1);
        CHECK_EQ_INT(t->nbytes, 16);
        CHECK_EQ_INT(t->offset, 0);
        CHECK(memcmp(t->data, F32_DATA, 16) == 0);
    }
    t = gguf_find_tensor(g, "t.f16");
    CHECK(t && t->type == GGUF_TTYPE_F16 && t->n_dims == 2 && t->ne[0] == 3 && t->ne[1] == 2 &&
          t->n_elems == 6 && t->nbytes == 12 && t->offset == 32);
    if (t) {
        uint16_t h0;
        memcpy(&h0, t->data, 2);
        CHECK_EQ_INT(h0, 0x3C00);
    }
    t = gguf_find_tensor(g, "t.bf16");
    CHECK(t && t->type == GGUF_TTYPE_BF16 && t->n_dims == 3 && t->ne[2] == 3 && t->nbytes == 12);
    t = gguf_find_tensor(g, "t.q8");
    CHECK(t && t->type == GGUF_TTYPE_Q8_0 && t->n_dims == 4 && t->n_elems == 128 && t->nbytes == 4 * 34);
    CHECK(gguf_find_tensor(g, "t.none") == NULL);
    CHECK(gguf_tensor(g, 4) == NULL);
    /* Tensor data sits at the alignment from the start of the file. */
    for (uint64_t i = 0; i < gguf_tensor_count(g); i++) {
        t = gguf_tensor(g, i);
        CHECK(((const uint8_t *)t->data - (const uint8_t *)gguf_tensor(g, 0)->data) % 32 == 0);
    }
}

static void test_valid_v3(void)
{
    gb_t b;
    size_t len;
    build_all_types(&b, 3);
    const uint8_t *p = gb_finish(&b, &len);
    gguf_t *g = open_ok(p, len);
    if (g) {
        check_all_types(g, 3);
        CHECK_EQ_INT(gguf_file_size(g), len);
    }
    gguf_close(g);
    gb_free(&b);
}

static void test_valid_v2(void)
{
    gb_t b;
    size_t len;
    build_all_types(&b, 2);
    const uint8_t *p = gb_finish(&b, &len);
    gguf_t *g = open_ok(p, len);
    if (g)
        check_all_types(g, 2);
    gguf_close(g);
    gb_free(&b);
}

/* The same file through gguf_open (mmap), and the file-level errors. */
static void test_open_file(void)
{
    char dir[] = "/tmp/octet-test-gguf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], empty[128];
    snprintf(path, sizeof path, "%s/all.gguf", dir);
    snprintf(empty, sizeof empty, "%s/empty.gguf", dir);
    gb_t b;
    build_all_types(&b, 3);
    CHECK(gb_write(&b, path) == 0);
    gb_free(&b);

    errmsg_t err;
    gguf_t *g = NULL;
    CHECKF(gguf_open(&g, path, &err) == 0, "%s", err.msg);
    if (g) {
        CHECK_EQ_STR(gguf_path(g), path);
        CHECK_EQ_INT(gguf_tensor_count(g), 4);
        const gguf_tensor_t *t = gguf_find_tensor(g, "t.f32");
        CHECK(t && memcmp(t->data, F32_DATA, 16) == 0 && (uintptr_t)t->data % 32 == 0);
    }
    gguf_close(g);

    g = (gguf_t *)1;
    CHECK_EQ_INT(gguf_open(&g, "/nonexistent/x.gguf", &err), OCT_EIO);
    CHECK(g == NULL);
    CHECK_EQ_STR(err.msg, "/nonexistent/x.gguf: cannot open: No such file or directory");
    CHECK_EQ_INT(gguf_open(&g, dir, &err), OCT_EIO);
    CHECK_MSG(err.msg, "not a regular file");
    FILE *f = fopen(empty, "wb");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_EQ_INT(gguf_open(&g, empty, &err), OCT_EFORMAT);
    CHECK_MSG(err.msg, "empty.gguf: file is 0 bytes, too short for a GGUF header");
    unlink(path);
    unlink(empty);
    rmdir(dir);
}

/* No tensors at all (a vocabulary-only file): the file may end right after
 * the metadata, without padding. */
static void test_no_tensors(void)
{
    gb_t b;
    size_t len;
    gb_init(&b, 3);
    const char *toks[3] = {"<s>", "a", "b"};
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_arr_str(&b, "tokenizer.ggml.tokens", 3, toks);
    const uint8_t *p = gb_finish(&b, &len);
    CHECK(len % 32 != 0);
    gguf_t *g = open_ok(p, len);
    CHECK(g && gguf_tensor_count(g) == 0 && gguf_kv_count(g) == 2);
    gguf_close(g);
    /* And an empty header. */
    gb_free(&b);
    gb_init(&b, 2);
    p = gb_finish(&b, &len);
    CHECK_EQ_INT(len, 24);
    g = open_ok(p, len);
    CHECK(g && gguf_kv_count(g) == 0);
    gguf_close(g);
    gb_free(&b);
}

/* ---- malformed files ---------------------------------------------------- */

/* Every proper prefix of a valid file fails cleanly (ASan watches reads). */
static void test_truncated_every_byte(void)
{
    gb_t b;
    size_t len;
    build_all_types(&b, 3);
    const uint8_t *p = gb_finish(&b, &len);
    int ok_prefixes = 0;
    for (size_t n = 0; n < len; n++) {
        /* An exact-size heap copy so ASan catches any read past the end. */
        uint8_t *c = malloc(n ? n : 1);
        memcpy(c, p, n);
        errmsg_t err;
        gguf_t *g = NULL;
        int rc = gguf_open_mem(&g, c, n, "t.gguf", &err);
        if (rc == 0) {
            ok_prefixes++;
            gguf_close(g);
        } else {
            CHECKF(strncmp(err.msg, "t.gguf: ", 8) == 0 && !strchr(err.msg, '\n') &&
                       strstr(err.msg, "(at byte offset "),
                   "prefix %zu: '%s'", n, err.msg);
        }
        free(c);
    }
    CHECK_EQ_INT(ok_prefixes, 0);
    gb_free(&b);
}

static void test_bad_header(void)
{
    uint8_t h[24] = "GGUF";
    patch_u32(h, 4, 3);
    const char *m;
    m = open_fail("GGU", 3);
    CHECK_MSG(m, "too short for a GGUF header");
    m = open_fail("ABCD0000000000000000000000000000", 32);
    CHECK_MSG(m, "not a GGUF file (starts with 41 42 43 44");
    CHECK_MSG(m, "(at byte offset 0)");
    patch_u32(h, 4, 1);
    m = open_fail(h, 24);
    CHECK_EQ_STR(m, "t.gguf: GGUF version 1 is not supported (octet reads versions 2 and 3) (at byte offset 4)");
    patch_u32(h, 4, 4);
    m = open_fail(h, 24);
    CHECK_MSG(m, "GGUF version 4 is not supported");
    patch_u32(h, 4, 0x03000000);
    m = open_fail(h, 24);
    CHECK_MSG(m, "big-endian");
    patch_u32(h, 4, 3);
    open_fail(h, 23);
    CHECK_EQ_INT(gguf_open_mem(&(gguf_t *){NULL}, NULL, 0, NULL, &(errmsg_t){0}), OCT_EFORMAT);
}

static void test_huge_counts(void)
{
    uint8_t h[80] = "GGUF";
    patch_u32(h, 4, 3);
    const char *m;
    patch_u64(h, 8, UINT64_MAX);
    m = open_fail(h, 64);
    CHECK_MSG(m, "tensor count 18446744073709551615 is impossible in a file of 64 bytes (at byte offset 8)");
    patch_u64(h, 8, 2); /* 2 tensors need 64 bytes: 40 are left */
    m = open_fail(h, 64);
    CHECK_MSG(m, "tensor count 2 is impossible");
    patch_u64(h, 8, 0);
    patch_u64(h, 16, UINT64_MAX);
    m = open_fail(h, 64);
    CHECK_MSG(m, "metadata count 18446744073709551615 is impossible");
    CHECK_MSG(m, "(at byte offset 16)");
    patch_u64(h, 16, (uint64_t)1 << 60);
    open_fail(h, 64);
    /* Each count fits alone but not both together. */
    patch_u64(h, 8, 1);
    patch_u64(h, 16, 1);
    m = open_fail(h, 24 + 32 + 12);
    CHECK_MSG(m, "metadata count 1 is impossible");
}

static void test_overflowing_lengths(void)
{
    gb_t b;
    size_t len;
    uint8_t *p;
    const char *m;

    /* Key length near 2^64 (offset 24 holds the first key's length). */
    gb_init(&b, 3);
    gb_kv_u32(&b, "k", 1);
    p = finish_copy(&b, &len);
    patch_u64(p, 24, UINT64_MAX);
    m = open_fail(p, len);
    CHECK_MSG(m, "metadata key 0 has length 18446744073709551615 but only");
    CHECK_MSG(m, "(at byte offset 24)");
    free(p);
    gb_free(&b);

    /* String value length: key "k" is 8+1 bytes, type 4: value at 24+13. */
    gb_init(&b, 3);
    gb_kv_str(&b, "k", "abc");
    p = finish_copy(&b, &len);
    patch_u64(p, 37, UINT64_MAX - 3);
    m = open_fail(p, len);
    CHECK_MSG(m, "the string value of 'k' has length 18446744073709551612");
    patch_u64(p, 37, 4);
    m = open_fail(p, len);
    CHECK_MSG(m, "has length 4 but only 3 bytes remain");
    free(p);
    gb_free(&b);

    /* Array length * element size overflowing 2^64. Array header at 37:
     * element type (4), count (8). */
    gb_init(&b, 3);
    uint32_t el[2] = {1, 2};
    gb_kv_arr(&b, "k", GGUF_TYPE_UINT32, 2, el, 4);
    p = finish_copy(&b, &len);
    patch_u64(p, 41, ((uint64_t)1 << 62) + 1);
    m = open_fail(p, len);
    CHECK_MSG(m, "key 'k' is an array of 4611686018427387905 uint32 values");
    patch_u64(p, 41, UINT64_MAX);
    open_fail(p, len);
    patch_u64(p, 41, 3);
    open_fail(p, len);
    free(p);
    gb_free(&b);

    /* Array of strings: huge count, then an element's length. */
    gb_init(&b, 3);
    const char *s[2] = {"xy", "z"};
    gb_kv_arr_str(&b, "k", 2, s);
    p = finish_copy(&b, &len);
    patch_u64(p, 41, (uint64_t)1 << 61);
    m = open_fail(p, len);
    CHECK_MSG(m, "array of 2305843009213693952 strings");
    patch_u64(p, 41, 2);
    patch_u64(p, 49 + 8 + 2, UINT64_MAX); /* second string's length */
    m = open_fail(p, len);
    CHECK_MSG(m, "string 1 of 'k' has length 18446744073709551615");
    CHECK_MSG(m, "(at byte offset 59)");
    free(p);
    gb_free(&b);
}

static void test_bad_value_types(void)
{
    gb_t b;
    const char *m;
    uint32_t v = 0;

    gb_init(&b, 3);
    gb_kv_raw(&b, "k.unknown", 13, &v, 4);
    m = open_fail_b(&b);
    CHECK_EQ_STR(m, "t.gguf: key 'k.unknown' has unknown value type 13 (at byte offset 41)");
    gb_free(&b);

    gb_init(&b, 3);
    gb_kv_raw(&b, "k", 0xFFFFFFFFu, &v, 4);
    m = open_fail_b(&b);
    CHECK_MSG(m, "unknown value type 4294967295");
    gb_free(&b);

    /* Array with an unknown element type. */
    uint8_t arr[16];
    patch_u32(arr, 0, 77);
    patch_u64(arr, 4, 1);
    gb_init(&b, 3);
    gb_kv_raw(&b, "k", GGUF_TYPE_ARRAY, arr, 16);
    m = open_fail_b(&b);
    CHECK_MSG(m, "array with unknown element type 77");
    gb_free(&b);

    /* Nested array. */
    uint8_t nested[32];
    patch_u32(nested, 0, GGUF_TYPE_ARRAY);
    patch_u64(nested, 4, 1);
    patch_u32(nested, 12, GGUF_TYPE_UINT8);
    patch_u64(nested, 16, 1);
    gb_init(&b, 3);
    gb_kv_raw(&b, "k.nest", GGUF_TYPE_ARRAY, nested, 25);
    m = open_fail_b(&b);
    CHECK_MSG(m, "key 'k.nest' is an array of arrays");
    gb_free(&b);

    /* Bools other than 0/1. */
    uint8_t two = 2;
    gb_init(&b, 3);
    gb_kv_raw(&b, "k", GGUF_TYPE_BOOL, &two, 1);
    m = open_fail_b(&b);
    CHECK_MSG(m, "bool value of 'k' is 2, not 0 or 1");
    gb_free(&b);
    uint8_t bools[3] = {0, 1, 9};
    gb_init(&b, 3);
    gb_kv_arr(&b, "k", GGUF_TYPE_BOOL, 3, bools, 1);
    m = open_fail_b(&b);
    CHECK_MSG(m, "element 2 of bool array 'k' is 9");
    gb_free(&b);
}

static void test_bad_keys(void)
{
    static const char *const bad[] = {"\xff", "ab\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\xe2\x82"};
    gb_t b;
    const char *m;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gb_init(&b, 3);
        gb_kv_u8(&b, "good", 1);
        gb_kv_u8(&b, bad[i], 1);
        m = open_fail_b(&b);
        CHECKF(strstr(m, "metadata key 1 has a name that is not valid UTF-8 (at byte offset 41)"), "%zu: %s", i, m);
        gb_free(&b);
    }
    /* NUL inside a key, and an empty key. */
    uint8_t raw[64] = {0};
    gb_init(&b, 3);
    patch_u64(raw, 0, 3);
    memcpy(raw + 8, "a\0b", 3);
    patch_u32(raw, 11, GGUF_TYPE_UINT8);
    gb_put(&b.kv, raw, 16);
    b.n_kv++;
    m = open_fail_b(&b);
    CHECK_MSG(m, "metadata key 0 has a name that is not valid UTF-8");
    gb_free(&b);
    gb_init(&b, 3);
    gb_kv_u8(&b, "a", 1);
    gb_kv_u8(&b, "line\nbreak", 1);
    m = open_fail_b(&b);
    CHECK_MSG(m, "metadata key 1 has a name with a control character (at byte offset 38)");
    gb_free(&b);
    gb_init(&b, 3);
    gb_kv_u8(&b, "", 1);
    m = open_fail_b(&b);
    CHECK_MSG(m, "metadata key 0 has an empty name");
    gb_free(&b);

    /* Duplicates. */
    gb_init(&b, 3);
    gb_kv_u8(&b, "a", 1);
    gb_kv_u8(&b, "b", 1);
    gb_kv_str(&b, "a", "again");
    m = open_fail_b(&b);
    CHECK_MSG(m, "metadata key 'a' appears twice (keys 0 and 2)");
    gb_free(&b);
}

static void test_alignment(void)
{
    gb_t b;
    size_t len;
    const char *m;
    /* A valid non-default alignment. */
    gb_init(&b, 3);
    gb_alignment(&b, 64);
    gb_tensor1(&b, "a", GGUF_TTYPE_F32, 3, NULL);
    gb_tensor1(&b, "b", GGUF_TTYPE_F32, 3, NULL);
    const uint8_t *p = gb_finish(&b, &len);
    gguf_t *g = open_ok(p, len);
    if (g) {
        CHECK_EQ_INT(gguf_alignment(g), 64);
        CHECK_EQ_INT(gguf_tensor(g, 1)->offset, 64);
        CHECK(((const uint8_t *)gguf_tensor(g, 0)->data - p) % 64 == 0);
    }
    gguf_close(g);
    gb_free(&b);

    static const uint32_t bad[] = {0, 3, 48};
    for (size_t i = 0; i < 3; i++) {
        gb_init(&b, 3);
        gb_kv_u32(&b, "general.alignment", bad[i]);
        m = open_fail_b(&b);
        CHECKF(strstr(m, "which is not a power of two"), "%s", m);
        gb_free(&b);
    }
    gb_init(&b, 3);
    gb_kv_str(&b, "general.alignment", "32");
    m = open_fail_b(&b);
    CHECK_MSG(m, "general.alignment must be an unsigned integer, not a string value");
    gb_free(&b);
    /* A huge alignment places the data section beyond the file. */
    gb_init(&b, 3);
    gb_kv_u64(&b, "general.alignment", (uint64_t)1 << 63);
    uint64_t ne = 4;
    gb_tensor_raw(&b, "t", GGUF_TTYPE_F32, 1, &ne, 0);
    m = open_fail_b(&b);
    CHECK_MSG(m, "file ends before its tensor data section");
    gb_free(&b);
}

/* One tensor descriptor (and 64 bytes of data) per case. */
static const char *one_tensor(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t offset)
{
    gb_t b;
    size_t len;
    gb_init(&b, 3);
    gb_kv_u32(&b, "x", 1);
    gb_tensor_raw(&b, "blk.0.attn_q.weight", type, n_dims, ne, offset);
    gb_data_reserve(&b, 64);
    uint8_t *p = finish_copy(&b, &len);
    const char *m = open_fail(p, len);
    free(p);
    gb_free(&b);
    return m;
}

static void test_bad_tensors(void)
{
    uint64_t ne[5] = {4, 2, 1, 1, 1};
    const char *m;
    m = one_tensor(GGUF_TTYPE_F32, 5, ne, 0);
    CHECK_MSG(m, "tensor 'blk.0.attn_q.weight' has 5 dimensions (octet reads 1 to 4)");
    m = one_tensor(GGUF_TTYPE_F32, 0, ne, 0);
    CHECK_MSG(m, "has 0 dimensions");
    ne[1] = 0;
    m = one_tensor(GGUF_TTYPE_F32, 2, ne, 0);
    CHECK_MSG(m, "tensor 'blk.0.attn_q.weight' has dimension 1 of size 0");
    uint64_t big[4] = {(uint64_t)1 << 32, (uint64_t)1 << 31, 2, 1};
    m = one_tensor(GGUF_TTYPE_F32, 3, big, 0);
    CHECK_MSG(m, "product of its dimensions overflows");
    uint64_t huge[2] = {(uint64_t)1 << 62, 1};
    m = one_tensor(GGUF_TTYPE_F32, 2, huge, 0);
    CHECK_MSG(m, "its byte size overflows");
    ne[1] = 2;
    m = one_tensor(12, 2, ne, 0);
    CHECK_MSG(m, "t.gguf: tensor 'blk.0.attn_q.weight' has type Q4_K (12), which octet does not support "
                 "(F32, F16, BF16, Q8_0) (at byte offset ");
    m = one_tensor(2, 2, ne, 0);
    CHECK_MSG(m, "has type Q4_0 (2)");
    m = one_tensor(4, 2, ne, 0);
    CHECK_MSG(m, "has type 4, which is not a ggml tensor type");
    m = one_tensor(99, 2, ne, 0);
    CHECK_MSG(m, "has type 99, which is not a ggml tensor type");
    uint64_t q[2] = {33, 1};
    m = one_tensor(GGUF_TTYPE_Q8_0, 2, q, 0);
    CHECK_MSG(m, "is Q8_0 with rows of 33 elements, not a multiple of 32");
    m = one_tensor(GGUF_TTYPE_F32, 2, ne, 16);
    CHECK_MSG(m, "has offset 16, not a multiple of the alignment 32");
    m = one_tensor(GGUF_TTYPE_F32, 2, ne, 64);
    CHECK_MSG(m, "tensor 'blk.0.attn_q.weight' data (32 bytes at data offset 64) extends past the end of the file");
    m = one_tensor(GGUF_TTYPE_F32, 2, ne, UINT64_MAX - 31);
    CHECK_MSG(m, "extends past the end of the file");
    uint64_t fill[1] = {17};
    m = one_tensor(GGUF_TTYPE_F32, 1, fill, 0);
    CHECK_MSG(m, "data (68 bytes at data offset 0) extends past the end");
}

static void test_overlap_and_duplicates(void)
{
    gb_t b;
    size_t len;
    const char *m;
    uint64_t ne = 16; /* 64 bytes of f32 */
    gb_init(&b, 3);
    gb_tensor_raw(&b, "a", GGUF_TTYPE_F32, 1, &ne, 64);
    gb_tensor_raw(&b, "b", GGUF_TTYPE_F32, 1, &ne, 0);
    gb_tensor_raw(&b, "c", GGUF_TTYPE_F32, 1, &ne, 32);
    gb_data_reserve(&b, 128);
    m = open_fail_b(&b);
    CHECK_MSG(m, "tensor 'c' data overlaps tensor 'b'");
    gb_free(&b);

    /* Back-to-back and shared-nothing is fine, in any order. */
    gb_init(&b, 3);
    gb_tensor_raw(&b, "a", GGUF_TTYPE_F32, 1, &ne, 64);
    gb_tensor_raw(&b, "b", GGUF_TTYPE_F32, 1, &ne, 0);
    gb_data_reserve(&b, 128);
    const uint8_t *p = gb_finish(&b, &len);
    gguf_t *g = open_ok(p, len);
    CHECK(g && gguf_find_tensor(g, "a") == gguf_tensor(g, 0) && gguf_find_tensor(g, "b") == gguf_tensor(g, 1));
    gguf_close(g);
    gb_free(&b);

    gb_init(&b, 3);
    gb_tensor_raw(&b, "a", GGUF_TTYPE_F32, 1, &ne, 0);
    gb_tensor_raw(&b, "a", GGUF_TTYPE_F32, 1, &ne, 64);
    gb_data_reserve(&b, 128);
    m = open_fail_b(&b);
    CHECK_MSG(m, "tensor name 'a' appears twice (tensors 0 and 1)");
    gb_free(&b);

    gb_init(&b, 3);
    gb_tensor_raw(&b, "ok", GGUF_TTYPE_F32, 1, &ne, 0);
    gb_tensor_raw(&b, "bad\xfe", GGUF_TTYPE_F32, 1, &ne, 64);
    gb_data_reserve(&b, 128);
    m = open_fail_b(&b);
    CHECK_MSG(m, "tensor 1 has a name that is not valid UTF-8");
    gb_free(&b);

    gb_init(&b, 3);
    gb_tensor_raw(&b, "esc\033[2J", GGUF_TTYPE_F32, 1, &ne, 0);
    gb_data_reserve(&b, 64);
    m = open_fail_b(&b);
    CHECK_MSG(m, "tensor 0 has a name with a control character");
    gb_free(&b);
}

/* Many keys: lookups go through the index, not a scan, and all are found. */
static void test_many_keys(void)
{
    gb_t b;
    char key[32];
    gb_init(&b, 3);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key.%d", i);
        gb_kv_i32(&b, key, i);
    }
    gguf_t *g = open_ok_b(&b);
    if (g) {
        int found = 0;
        for (int i = 0; i < 5000; i++) {
            int64_t v;
            snprintf(key, sizeof key, "key.%d", i);
            found += gguf_find_key(g, key) == i && gguf_get_int(g, key, &v, NULL) == 0 && v == i;
        }
        CHECK_EQ_INT(found, 5000);
    }
    gguf_close(g);
    gb_free(&b);
}

static void test_names_and_sizes(void)
{
    CHECK_EQ_STR(gguf_type_name(GGUF_TYPE_UINT8), "uint8");
    CHECK_EQ_STR(gguf_type_name(GGUF_TYPE_FLOAT64), "float64");
    CHECK_EQ_STR(gguf_type_name(GGUF_TYPE_ARRAY), "array");
    CHECK_EQ_STR(gguf_type_name((gguf_type_t)13), "unknown");
    CHECK_EQ_STR(gguf_ttype_name(GGUF_TTYPE_F32), "F32");
    CHECK_EQ_STR(gguf_ttype_name(GGUF_TTYPE_BF16), "BF16");
    CHECK_EQ_STR(gguf_ttype_name(GGUF_TTYPE_Q8_0), "Q8_0");
    CHECK_EQ_STR(gguf_ttype_name((gguf_ttype_t)14), "Q6_K");
    CHECK_EQ_STR(gguf_ttype_name((gguf_ttype_t)5), "unknown");
    CHECK_EQ_STR(gguf_ttype_name((gguf_ttype_t)1000), "unknown");
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_F32, 10), 40);
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_F16, 10), 20);
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_BF16, 10), 20);
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_Q8_0, 64), 68);
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_Q8_0, 65), 0);
    CHECK_EQ_INT(gguf_ttype_nbytes(GGUF_TTYPE_F32, UINT64_MAX / 2), 0);
    CHECK_EQ_INT(gguf_ttype_nbytes((gguf_ttype_t)12, 256), 0);
    gguf_str_t s = {"abc", 3};
    CHECK(gguf_str_eq(s, "abc") && !gguf_str_eq(s, "ab") && !gguf_str_eq(s, "abcd"));
}

int main(void)
{
    TEST_RUN(test_valid_v3);
    TEST_RUN(test_valid_v2);
    TEST_RUN(test_open_file);
    TEST_RUN(test_no_tensors);
    TEST_RUN(test_truncated_every_byte);
    TEST_RUN(test_bad_header);
    TEST_RUN(test_huge_counts);
    TEST_RUN(test_overflowing_lengths);
    TEST_RUN(test_bad_value_types);
    TEST_RUN(test_bad_keys);
    TEST_RUN(test_alignment);
    TEST_RUN(test_bad_tensors);
    TEST_RUN(test_overlap_and_duplicates);
    TEST_RUN(test_many_keys);
    TEST_RUN(test_names_and_sizes);
    TEST_END();
}
