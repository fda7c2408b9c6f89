/* test_tokenizer.c - the tokenizers against llama.cpp's test vectors
 * (gpt-2, deepseek-coder, llama-spm), against reference implementations
 * (starcoder: Hugging Face tokenizers; phi-3: sentencepiece; pre-tokenizer
 * splits: Python's regex module; see tools/tok_expected.py), round trips on
 * random text and bytes, special tokens, BOS/EOS, decoding, long inputs and
 * malformed tokenizer metadata. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_build.h"
#include "test.h"
#include "tokenizer.h"

#define VOCAB_DIR "tests/fixtures/vocab/"

static const char *const VOCABS[] = {"gpt-2", "deepseek-coder", "llama-spm", "starcoder", "phi-3"};
#define N_VOCABS 5
static tok_t *g_tok[N_VOCABS];
/* Bytes each vocabulary can represent on its own: a vocabulary may lack
 * bytes that never occur in UTF-8 (C0, C1, F5..FF) or only in unassigned
 * planes (starcoder has no F1, the lead byte of planes 4-7). */
static bool g_covered[N_VOCABS][256];

static tok_t *vocab(const char *name)
{
    for (int i = 0; i < N_VOCABS; i++)
        if (!strcmp(VOCABS[i], name))
            return g_tok[i];
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    printf("      %s:", label);
    for (size_t i = 0; i < n; i++)
        printf(" %d", ids[i]);
    printf("\n");
}

/* Encode TEXT without BOS/EOS and compare with WANT; also check the round trip. */
static bool check_case(tok_t *t, const char *what, const char *text, size_t len, const int32_t *want,
                       size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0;
    errmsg_t err;
    int rc = tok_encode(t, text, len, 0, &ids, &n, &err);
    bool ok = rc == 0 && n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        printf("    %s: text \"%.*s\" (%zu bytes): rc %d %s\n", what, (int)(len > 80 ? 80 : len), text, len, rc,
               rc ? err.msg : "");
        print_ids("got     ", ids, n);
        print_ids("expected", want, n_want);
    }
    char *back = NULL;
    size_t blen = 0;
    if (rc == 0 && tok_decode(t, ids, n, false, &back, &blen, &err) == 0) {
        if (blen != len || memcmp(back, text, len) != 0) {
            printf("    %s: round trip of \"%.*s\" gives \"%s\"\n", what, (int)(len > 80 ? 80 : len), text, back);
            ok = false;
        }
    } else if (rc == 0) {
        printf("    %s: decode failed: %s\n", what, err.msg);
        ok = false;
    }
    free(back);
    free(ids);
    return ok;
}

static size_t parse_ids(const char *s, int32_t *out, size_t max)
{
    size_t n = 0;
    char *end;
    for (;;) {
        long v = strtol(s, &end, 10);
        if (end == s || n == max)
            break;
        out[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

/* llama.cpp's .inp/.out pairs: the texts are separated by a line
 * "__ggml_vocab_test__"; the newline before each separator is not part of
 * the text. */
static void check_vectors(const char *name)
{
    tok_t *t = vocab(name);
    CHECK(t != NULL);
    if (!t)
        return;
    char path[256];
    size_t ilen, olen;
    snprintf(path, sizeof path, VOCAB_DIR "ggml-vocab-%s.gguf.inp", name);
    char *inp = read_file(path, &ilen);
    snprintf(path, sizeof path, VOCAB_DIR "ggml-vocab-%s.gguf.out", name);
    char *out = read_file(path, &olen);
    CHECK(inp && out);
    if (!inp || !out) {
        free(inp);
        free(out);
        return;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const char *p = inp, *o = out;
    int n_cases = 0, n_ok = 0;
    for (;;) {
        const char *e = strstr(p, sep);
        if (!e)
            break;
        const char *ol = strchr(o, '\n');
        CHECK(ol != NULL);
        if (!ol)
            break;
        int32_t want[512];
        char line[8192];
        size_t ll = (size_t)(ol - o) < sizeof line - 1 ? (size_t)(ol - o) : sizeof line - 1;
        memcpy(line, o, ll);
        line[ll] = '\0';
        size_t nw = parse_ids(line, want, 512);
        char what[64];
        snprintf(what, sizeof what, "%s case %d", name, n_cases);
        if (check_case(t, what, p, (size_t)(e - p), want, nw))
            n_ok++;
        n_cases++;
        p = e + strlen(sep);
        o = ol + 1;
    }
    CHECKF(n_cases == 46 && n_ok == n_cases, "%s: %d of %d cases match", name, n_ok, n_cases);
    free(inp);
    free(out);
}

static void test_vectors_gpt2(void) { check_vectors("gpt-2"); }
static void test_vectors_deepseek_coder(void) { check_vectors("deepseek-coder"); }
static void test_vectors_llama_spm(void) { check_vectors("llama-spm"); }

static size_t unhex(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char h[3] = {s[i], s[i + 1], 0};
        out[o++] = (char)strtol(h, NULL, 16);
    }
    return o;
}

/* tools/tok_expected.py output: "HEXTEXT\tID ID ..." per line. */
static void check_expected(const char *name)
{
    tok_t *t = vocab(name);
    char path[256];
    size_t len;
    snprintf(path, sizeof path, VOCAB_DIR "ggml-vocab-%s.gguf.expected", name);
    char *buf = read_file(path, &len);
    CHECK(t && buf);
    if (!t || !buf) {
        free(buf);
        return;
    }
    int n_cases = 0, n_ok = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        CHECK(tab != NULL);
        if (!tab)
            break;
        char text[4096];
        int32_t want[1024];
        size_t tl = unhex(line, (size_t)(tab - line), text);
        size_t nw = parse_ids(tab + 1, want, 1024);
        char what[64];
        snprintf(what, sizeof what, "%s case %d", name, n_cases);
        if (check_case(t, what, text, tl, want, nw))
            n_ok++;
        n_cases++;
    }
    CHECKF(n_cases >= 30 && n_ok == n_cases, "%s: %d of %d cases match", name, n_ok, n_cases);
    free(buf);
}

static void test_expected_starcoder(void) { check_expected("starcoder"); }
static void test_expected_phi3(void) { check_expected("phi-3"); }

/* tools/tok_expected.py output: "PRE\tHEXTEXT\tEND END ..." per line. */
static void test_pre_split_vs_python_regex(void)
{
    size_t len;
    char *buf = read_file(VOCAB_DIR "pre-split.expected", &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    int n_cases = 0, n_ok = 0;
    char seen[1024] = "";
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        CHECK(t1 && t2);
        if (!t1 || !t2)
            break;
        *t1 = '\0';
        if (!strstr(seen, line) && strlen(seen) + strlen(line) + 2 < sizeof seen) {
            strcat(seen, line);
            strcat(seen, " ");
        }
        char text[4096];
        size_t tl = unhex(t1 + 1, (size_t)(t2 - t1 - 1), text);
        size_t want[1024], nw = 0;
        for (char *s = t2 + 1, *e; nw < 1024; s = e) {
            unsigned long v = strtoul(s, &e, 10);
            if (e == s)
                break;
            want[nw++] = v;
        }
        size_t *ends = NULL, n = 0;
        errmsg_t err;
        int rc = tok_pre_split(line, text, tl, &ends, &n, &err);
        bool ok = rc == 0 && n == nw && (n == 0 || memcmp(ends, want, n * sizeof *ends) == 0);
        if (!ok) {
            printf("    %s on \"%.*s\": rc %d %s; %zu pieces, expected %zu:\n      got     ", line, (int)tl, text, rc,
                   rc ? err.msg : "", n, nw);
            for (size_t i = 0; i < n; i++)
                printf(" %zu", ends[i]);
            printf("\n      expected");
            for (size_t i = 0; i < nw; i++)
                printf(" %zu", want[i]);
            printf("\n");
        }
        n_ok += ok;
        n_cases++;
        free(ends);
    }
    /* The three pre-tokenizers without a vocabulary fixture must be covered. */
    CHECK(strstr(seen, "llama-bpe ") && strstr(seen, "qwen2 ") && strstr(seen, "deepseek-llm "));
    CHECKF(n_cases > 500 && n_ok == n_cases, "%d of %d splits match", n_ok, n_cases);
    free(buf);
}

static void test_pre_split_errors(void)
{
    size_t *ends = NULL, n = 7;
    errmsg_t err;
    CHECK_EQ_INT(tok_pre_split("no-such-pre", "abc", 3, &ends, &n, &err), OCT_EUNSUPPORTED);
    CHECK(strstr(err.msg, "no-such-pre") != NULL);
    CHECK(ends == NULL && n == 0);
    /* NULL and "" mean "default"; empty text has no pieces. */
    CHECK_EQ_INT(tok_pre_split(NULL, "", 0, &ends, &n, &err), 0);
    CHECK_EQ_INT(n, 0);
    free(ends);
    CHECK_EQ_INT(tok_pre_split("", "a1234", 5, &ends, &n, &err), 0);
    /* default: [\p{P}...]+, then GPT-2, then \p{N}+, then 3-digit groups */
    CHECK(n == 3 && ends[0] == 1 && ends[1] == 4 && ends[2] == 5);
    free(ends);
    /* Invalid UTF-8 never matches: it stays in the pieces between matches. */
    CHECK_EQ_INT(tok_pre_split("llama-bpe", "ab\xff\xfe" "cd", 6, &ends, &n, &err), 0);
    CHECK(n >= 2 && ends[n - 1] == 6);
    free(ends);
}

/* ---- random round trips --------------------------------------------------- */

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A random code point: mostly ASCII and white space, some from every plane. */
static uint32_t random_cp(uint64_t *s)
{
    uint32_t r = rng_next(s) % 100;
    if (r < 40)
        return 0x20 + rng_next(s) % 0x5f;
    if (r < 50)
        return " \n\t\r  "[rng_next(s) % 6];
    if (r < 65)
        return 0x80 + rng_next(s) % 0x780;
    if (r < 85) {
        uint32_t cp = 0x800 + rng_next(s) % (0x10000 - 0x800);
        return (cp >= 0xd800 && cp <= 0xdfff) ? 0x4e00 + (cp & 0xfff) : cp;
    }
    if (r < 95)
        return 0x10000 + rng_next(s) % 0x100000;
    return rng_next(s) % 0x20;
}

static bool roundtrip(tok_t *t, const char *name, const char *text, size_t len, int flags)
{
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t blen = 0;
    errmsg_t err;
    bool ok = tok_encode(t, text, len, flags, &ids, &n, &err) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = ids[i] >= 0 && (uint32_t)ids[i] < tok_n_vocab(t);
    ok = ok && tok_decode(t, ids, n, false, &back, &blen, &err) == 0;
    ok = ok && blen == len && memcmp(back, text, len) == 0;
    if (!ok) {
        printf("    %s: round trip failed for %zu bytes:", name, len);
        for (size_t i = 0; i < len && i < 64; i++)
            printf(" %02x", (unsigned char)text[i]);
        printf("\n");
    }
    free(ids);
    free(back);
    return ok;
}

static void test_roundtrip_random_utf8(void)
{
    char text[4 * 300];
    for (int v = 0; v < N_VOCABS; v++) {
        uint64_t seed = 0x5eed0000u + (uint64_t)v;
        int fails = 0;
        for (int k = 0; k < 300 && fails < 3; k++) {
            size_t len = 0, nch = rng_next(&seed) % 300;
            for (size_t i = 0; i < nch; i++) {
                char u[4];
                size_t ul, j;
                do {
                    ul = put_utf8(random_cp(&seed), u);
                    for (j = 0; j < ul && g_covered[v][(unsigned char)u[j]]; j++)
                        ;
                } while (j < ul);
                memcpy(text + len, u, ul);
                len += ul;
            }
            /* With and without BOS: a BOS must not disturb the round trip. */
            fails += !roundtrip(g_tok[v], VOCABS[v], text, len, (k & 1) ? TOK_ADD_BOS : 0);
        }
        CHECKF(fails == 0, "%s: random UTF-8 did not round-trip", VOCABS[v]);
    }
}

static void test_random_bytes(void)
{
    char text[400];
    for (int v = 0; v < N_VOCABS; v++) {
        uint64_t seed = 0xb17e5000u + (uint64_t)v;
        int fails = 0;
        for (int k = 0; k < 300 && fails < 3; k++) {
            size_t len = rng_next(&seed) % sizeof text;
            for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)rng_next(&seed);
                text[i] = (char)(g_covered[v][b] ? b : b & 0x7f);
            }
            fails += !roundtrip(g_tok[v], VOCABS[v], text, len, 0);
        }
        CHECKF(fails == 0, "%s: random bytes did not round-trip", VOCABS[v]);
    }
    /* Which bytes are covered is a property of the vocabularies: gpt-2 has
     * them all; deepseek-coder's user-defined "õ", "ü"... (C3 B5, C3 BC)
     * stand for those letters, so bytes C0, C1, F5..FF have no entry. */
    for (int b = 0; b < 256; b++) {
        CHECK(g_covered[0][b]);
        CHECK(g_covered[1][b] == !(b == 0xc0 || b == 0xc1 || b >= 0xf5));
        CHECK(g_covered[2][b]);
    }
    CHECK(!g_covered[3][0xf1] && g_covered[3][0xf0]);
    /* The bytes deepseek-coder cannot represent still encode without error. */
    int32_t *ids = NULL;
    size_t n = 0;
    errmsg_t err;
    CHECK_EQ_INT(tok_encode(vocab("deepseek-coder"), "\xc0\xc1\xf5\xff", 4, 0, &ids, &n, &err), 0);
    CHECK_EQ_INT(n, 4);
    free(ids);
}

/* ---- special tokens, BOS/EOS, decoding -------------------------------------- */

static bool encodes_to(tok_t *t, const char *text, int flags, const int32_t *want, size_t nw)
{
    int32_t *ids = NULL;
    size_t n = 0;
    errmsg_t err;
    bool ok = tok_encode(t, text, strlen(text), flags, &ids, &n, &err) == 0 && n == nw &&
              (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        printf("    \"%s\" flags %d:\n", text, flags);
        print_ids("got     ", ids, n);
        print_ids("expected", want, nw);
    }
    free(ids);
    return ok;
}

static void test_special_tokens(void)
{
    tok_t *sc = vocab("starcoder"), *ds = vocab("deepseek-coder"), *spm = vocab("llama-spm"), *phi = vocab("phi-3");
    /* Control tokens: only with TOK_PARSE_SPECIAL, longest match first. */
    int32_t pre = tok_find(sc, "<fim_prefix>"), mid = tok_find(sc, "<fim_middle>");
    CHECK(pre == 1 && mid == 2);
    CHECK(tok_is_special(sc, pre) && !tok_is_special(sc, tok_find(sc, "def")));
    CHECK(encodes_to(sc, "<fim_prefix>def<fim_middle>", TOK_PARSE_SPECIAL,
                     (int32_t[]){pre, tok_find(sc, "def"), mid}, 3));
    int32_t *ids = NULL;
    size_t n = 0;
    errmsg_t err;
    CHECK_EQ_INT(tok_encode(sc, "<fim_prefix>", 12, 0, &ids, &n, &err), 0);
    CHECK(n > 1);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] != pre);
    free(ids);
    /* <pr_diff_hunk> must win over the shorter <pr_diff> it starts with. */
    CHECK(encodes_to(sc, "<pr_diff_hunk>", TOK_PARSE_SPECIAL, (int32_t[]){tok_find(sc, "<pr_diff_hunk>")}, 1));

    /* User-defined entries match in any text (deepseek-coder's "ü", as in
     * the vectors); its <|EOT|> ends a turn, so it is a control token. */
    CHECK(encodes_to(ds, "ü", 0, (int32_t[]){32009}, 1));
    int32_t eot = tok_eot(ds);
    CHECK_EQ_STR(tok_token_text(ds, eot), "<|EOT|>");
    CHECK(tok_is_eog(ds, eot) && tok_is_eog(ds, tok_eos(ds)) && !tok_is_eog(ds, 32009));
    CHECK(encodes_to(ds, "<|EOT|>", TOK_PARSE_SPECIAL, (int32_t[]){eot}, 1));
    CHECK_EQ_INT(tok_encode(ds, "<|EOT|>", 7, 0, &ids, &n, &err), 0);
    CHECK(n > 1);
    free(ids);

    /* SentencePiece: a space goes before the text after a special token. */
    CHECK(encodes_to(spm, "<s>Hello", TOK_PARSE_SPECIAL, (int32_t[]){1, tok_find(spm, "\xe2\x96\x81Hello")}, 2));
    CHECK(encodes_to(spm, "<s>Hello", 0,
                     (int32_t[]){tok_find(spm, "\xe2\x96\x81<"), tok_find(spm, "s"), tok_find(spm, ">"),
                                 tok_find(spm, "Hello")},
                     4));
    /* Phi-3's chat markers swallow the white space after them (llama.cpp's rule). */
    int32_t user = tok_find(phi, "<|user|>"), end = tok_find(phi, "<|end|>");
    CHECK(user == 32010 && end == 32007);
    CHECK(encodes_to(phi, "<|user|>\nHi<|end|>\n", TOK_PARSE_SPECIAL,
                     (int32_t[]){user, tok_find(phi, "\xe2\x96\x81Hi"), end}, 3));
    CHECK_EQ_INT(tok_eot(phi), end);
    /* ... and so does its user-defined </s>, recognized in any text. */
    CHECK(encodes_to(phi, "a</s>  b", 0,
                     (int32_t[]){tok_find(phi, "\xe2\x96\x81" "a"), 2, tok_find(phi, "\xe2\x96\x81" "b")}, 3));
    CHECK(tok_is_eog(phi, end) && tok_is_eog(phi, tok_eos(phi)));
    /* gpt-2: <|endoftext|> is BOS, EOS and end of generation. */
    tok_t *g2 = vocab("gpt-2");
    CHECK(tok_bos(g2) == 50256 && tok_eos(g2) == 50256 && tok_is_eog(g2, 50256));
    CHECK(tok_eot(g2) == -1);
    CHECK(tok_find(g2, "no such token here") == -1);
    CHECK(tok_token_text(g2, -1) == NULL && tok_token_text(g2, 50257) == NULL);
    CHECK_EQ_STR(tok_token_text(g2, 15496), "Hello");
}

static void test_bos_eos(void)
{
    tok_t *spm = vocab("llama-spm"), *g2 = vocab("gpt-2"), *ds = vocab("deepseek-coder");
    int32_t hello = tok_find(spm, "\xe2\x96\x81Hello");
    CHECK(tok_add_bos(spm) && !tok_add_eos(spm));
    CHECK(encodes_to(spm, "Hello", TOK_ADD_BOS | TOK_ADD_EOS, (int32_t[]){1, hello}, 2));
    CHECK(encodes_to(spm, "Hello", 0, (int32_t[]){hello}, 1));
    CHECK(encodes_to(spm, "", TOK_ADD_BOS, (int32_t[]){1}, 1));
    CHECK(encodes_to(spm, "", 0, NULL, 0));
    /* gpt-2 has no add_bos_token: byte-level BPE adds nothing by default. */
    CHECK(!tok_add_bos(g2));
    CHECK(encodes_to(g2, "Hello", TOK_ADD_BOS | TOK_ADD_EOS, (int32_t[]){15496}, 1));
    /* deepseek-coder says add_bos_token = true. */
    CHECK(tok_add_bos(ds));
    CHECK(encodes_to(ds, "Hello", TOK_ADD_BOS, (int32_t[]){32013, tok_find(ds, "Hello")}, 2));
    CHECK(tok_kind(spm) == TOK_KIND_SPM && tok_kind(g2) == TOK_KIND_BPE);
    CHECK_EQ_STR(tok_pre_name(ds), "deepseek-coder");
    CHECK_EQ_STR(tok_pre_name(spm), "");
    CHECK_EQ_INT(tok_n_vocab(g2), 50257);
}

static void test_decode(void)
{
    tok_t *spm = vocab("llama-spm"), *sc = vocab("starcoder");
    char *s = NULL;
    size_t len = 0;
    errmsg_t err;
    int32_t hello = tok_find(spm, "\xe2\x96\x81Hello"), world = tok_find(spm, "\xe2\x96\x81world");
    CHECK_EQ_INT(tok_decode(spm, (int32_t[]){1, hello, world, 2}, 4, false, &s, &len, &err), 0);
    CHECK_EQ_STR(s, "Hello world");
    CHECK_EQ_INT(len, 11);
    free(s);
    CHECK_EQ_INT(tok_decode(spm, (int32_t[]){1, hello, world, 2}, 4, true, &s, NULL, &err), 0);
    CHECK_EQ_STR(s, "<s>Hello world</s>");
    free(s);
    /* <0x0A> is a byte token; pieces can be parts of a character. */
    const char *p;
    CHECK_EQ_INT(tok_piece(spm, tok_find(spm, "<0x0A>"), false, &p), 1);
    CHECK(p[0] == '\n');
    CHECK_EQ_INT(tok_piece(spm, 1, false, &p), 0);
    CHECK_EQ_INT(tok_piece(spm, 1, true, &p), 3);
    CHECK_EQ_INT(tok_piece(spm, 99999, true, &p), 0);
    CHECK_EQ_INT(tok_piece(spm, hello, false, &p), 6);
    CHECK(memcmp(p, " Hello", 6) == 0);
    /* Byte-level BPE: Ġ is a space. */
    CHECK_EQ_INT(tok_piece(sc, tok_find(sc, "\xc4\xa0" "def"), false, &p), 4);
    CHECK(memcmp(p, " def", 4) == 0);
    /* An id out of range is an error that names it. */
    CHECK_EQ_INT(tok_decode(sc, (int32_t[]){5, 49152}, 2, false, &s, &len, &err), OCT_EINVAL);
    CHECK(s == NULL && strstr(err.msg, "49152") != NULL);
    CHECK_EQ_INT(tok_decode(sc, (int32_t[]){-3}, 1, false, &s, &len, &err), OCT_EINVAL);
    CHECK(strstr(err.msg, "-3") != NULL);
    CHECK_EQ_INT(tok_decode(sc, NULL, 0, false, &s, &len, &err), 0);
    CHECK(s && s[0] == '\0' && len == 0);
    free(s);
    /* Text after special tokens round-trips when they are parsed. */
    static const char chat[] = "<s>[INST] Hi <</SYS>>\n</s>  two";
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_EQ_INT(tok_encode(spm, chat, strlen(chat), TOK_PARSE_SPECIAL, &ids, &n, &err), 0);
    CHECK(n > 3 && ids[0] == 1);
    CHECK_EQ_INT(tok_decode(spm, ids, n, true, &s, &len, &err), 0);
    CHECK_EQ_STR(s, chat);
    free(s);
    free(ids);
    /* A U+2581 in the text stays a U+2581. */
    CHECK(roundtrip(spm, "llama-spm", "a\xe2\x96\x81 b\xe2\x96\x81", 8, 0));
}

/* Long inputs: O(n log n) merges and no regex stack exhaustion. */
static void test_long_inputs(void)
{
    size_t len = 1 << 18;
    char *text = malloc(len);
    CHECK(text != NULL);
    if (!text)
        return;
    static const char *const fill[] = {" ", "a", "7", "\xe4\xbd\xa0", "\n", "ab "};
    const char *const names[] = {"gpt-2", "deepseek-coder", "llama-spm", "starcoder"};
    for (size_t f = 0; f < 6; f++) {
        size_t fl = strlen(fill[f]);
        for (size_t i = 0; i < len; i++)
            text[i] = fill[f][i % fl];
        size_t use = len - len % fl;
        for (size_t v = 0; v < 4; v++)
            CHECKF(roundtrip(vocab(names[v]), names[v], text, use, 0), "fill %zu", f);
    }
    free(text);
}

/* ---- malformed metadata ------------------------------------------------------ */

static int load_built(gb_t *b, tok_t **t, errmsg_t *err)
{
    size_t len;
    const uint8_t *p = gb_finish(b, &len);
    gguf_t *g = NULL;
    int rc = gguf_open_mem(&g, p, len, "bad.gguf", err);
    if (rc == 0) {
        rc = tok_load(t, g, err);
        gguf_close(g);
    }
    return rc;
}

static void base_vocab(gb_t *b, const char *model)
{
    static const char *const toks[] = {"a", "b", "ab", "<s>", " "};
    gb_init(b, 3);
    gb_kv_str(b, "tokenizer.ggml.model", model);
    gb_kv_arr_str(b, "tokenizer.ggml.tokens", 5, toks);
}

static void test_malformed_metadata(void)
{
    static const char *const dups[] = {"a", "b", "a"};
    gb_t b;
    tok_t *t = NULL;
    errmsg_t err;

    base_vocab(&b, "bert");
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EUNSUPPORTED);
    CHECK(t == NULL && strstr(err.msg, "bad.gguf") && strstr(err.msg, "bert"));
    gb_free(&b);

    gb_init(&b, 3);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "tokenizer.ggml.tokens") != NULL);
    gb_free(&b);

    gb_init(&b, 3);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    int32_t nums[2] = {1, 2};
    gb_kv_arr(&b, "tokenizer.ggml.tokens", GGUF_TYPE_INT32, 2, nums, 4);
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.tokens") != NULL);
    gb_free(&b);

    base_vocab(&b, "gpt2");
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.merges") != NULL);
    gb_free(&b);

    base_vocab(&b, "gpt2");
    static const char *const merges[] = {"a b", "nospace", "x y", " "};
    gb_kv_arr_str(&b, "tokenizer.ggml.merges", 4, merges);
    gb_kv_str(&b, "tokenizer.ggml.pre", "no-such-pre");
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EUNSUPPORTED);
    CHECK(strstr(err.msg, "no-such-pre") && strstr(err.msg, "bad.gguf"));
    gb_free(&b);

    base_vocab(&b, "llama");
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", 5);
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "bos_token_id") && strstr(err.msg, "5"));
    gb_free(&b);

    base_vocab(&b, "llama");
    gb_kv_str(&b, "tokenizer.ggml.add_bos_token", "yes");
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_ETYPE);
    CHECK(strstr(err.msg, "add_bos_token") != NULL);
    gb_free(&b);

    base_vocab(&b, "llama");
    float scores[3] = {0, 0, 0};
    gb_kv_arr(&b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, 3, scores, 4);
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "scores") && strstr(err.msg, "3 entries"));
    gb_free(&b);

    base_vocab(&b, "llama");
    int32_t types[5] = {1, 1, 1, 3, 1};
    gb_kv_arr_str(&b, "tokenizer.ggml.token_type", 3, dups);
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "token_type") != NULL);
    gb_free(&b);

    gb_init(&b, 3);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_arr_str(&b, "tokenizer.ggml.tokens", 3, dups);
    CHECK_EQ_INT(load_built(&b, &t, &err), OCT_EFORMAT);
    CHECK(strstr(err.msg, "'a'") && strstr(err.msg, "token 2"));
    gb_free(&b);

    /* A minimal valid SPM vocabulary: merges by score, no byte tokens (the
     * unknown id stands in), and an unused merge that names no token. */
    base_vocab(&b, "llama");
    gb_kv_arr(&b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, 5, types, 4);
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", 3);
    gb_kv_u32(&b, "tokenizer.ggml.unknown_token_id", 3);
    gb_kv_bool(&b, "tokenizer.ggml.add_space_prefix", 0);
    gb_kv_u32(&b, "tokenizer.ggml.eos_token_id", 4);
    gb_kv_bool(&b, "tokenizer.ggml.add_eos_token", 1);
    CHECK_EQ_INT(load_built(&b, &t, &err), 0);
    if (t) {
        CHECK(tok_add_eos(t));
        CHECK(encodes_to(t, "abz", TOK_ADD_BOS, (int32_t[]){3, 2, 3}, 3));
        CHECK(encodes_to(t, "abz", TOK_ADD_BOS | TOK_ADD_EOS, (int32_t[]){3, 2, 3, 4}, 4));
        CHECK(tok_is_eog(t, 4));
        tok_free(t);
        t = NULL;
    }
    gb_free(&b);

    /* A minimal valid BPE vocabulary with odd merges, which are skipped. */
    static const char *const btoks[] = {"a", "b", "ab", "Ġ"};
    gb_init(&b, 3);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_kv_arr_str(&b, "tokenizer.ggml.tokens", 4, btoks);
    gb_kv_arr_str(&b, "tokenizer.ggml.merges", 4, merges);
    CHECK_EQ_INT(load_built(&b, &t, &err), 0);
    if (t) {
        CHECK_EQ_STR(tok_pre_name(t), "default");
        CHECK(encodes_to(t, "ab a", 0, (int32_t[]){2, 3, 0}, 3));
        /* bytes without an entry are dropped (there is no unknown id) */
        CHECK(encodes_to(t, "abc", 0, (int32_t[]){2}, 1));
        tok_free(t);
    }
    gb_free(&b);
}

/* Llama 3 vocabularies (llama-bpe): a piece that is an entry is taken whole
 * (llama.cpp's ignore_merges), and BOS is added unless the file says not to. */
static void test_llama_bpe_rules(void)
{
    static const char *const toks[] = {"a", "b", "c", "ab", "abc", "<|begin_of_text|>", "Ġ"};
    static const char *const merges[] = {"a b"};
    const char *pres[] = {"llama-bpe", "gpt-2"};
    for (int k = 0; k < 2; k++) {
        gb_t b;
        tok_t *t = NULL;
        errmsg_t err;
        gb_init(&b, 3);
        gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
        gb_kv_str(&b, "tokenizer.ggml.pre", pres[k]);
        gb_kv_arr_str(&b, "tokenizer.ggml.tokens", 7, toks);
        gb_kv_arr_str(&b, "tokenizer.ggml.merges", 1, merges);
        gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", 5);
        CHECK_EQ_INT(load_built(&b, &t, &err), 0);
        gb_free(&b);
        if (!t)
            continue;
        CHECK_EQ_STR(tok_pre_name(t), pres[k]);
        if (k == 0) {
            CHECK(tok_add_bos(t));
            /* " abc" is one piece with no entry of its own: merged as usual */
            CHECK(encodes_to(t, "abc abc", TOK_ADD_BOS, (int32_t[]){5, 4, 6, 3, 2}, 5));
        } else {
            CHECK(!tok_add_bos(t));
            CHECK(encodes_to(t, "abc", TOK_ADD_BOS, (int32_t[]){3, 2}, 2));
        }
        tok_free(t);
    }
}

int main(void)
{
    for (int i = 0; i < N_VOCABS; i++) {
        char path[256];
        snprintf(path, sizeof path, VOCAB_DIR "ggml-vocab-%s.gguf", VOCABS[i]);
        gguf_t *g = NULL;
        errmsg_t err;
        if (gguf_open(&g, path, &err) || tok_load(&g_tok[i], g, &err)) {
            printf("cannot load %s: %s\n", path, err.msg);
            gguf_close(g);
            printf("# passed 0 failed 1\n");
            return 1;
        }
        gguf_close(g);
        for (int b = 0; b < 256; b++) {
            char c = (char)b, *back = NULL;
            int32_t *ids = NULL;
            size_t n = 0, bl = 0;
            g_covered[i][b] = tok_encode(g_tok[i], &c, 1, 0, &ids, &n, &err) == 0 &&
                              tok_decode(g_tok[i], ids, n, false, &back, &bl, &err) == 0 && bl == 1 && back[0] == c;
            free(ids);
            free(back);
        }
    }
    TEST_RUN(test_vectors_gpt2);
    TEST_RUN(test_vectors_deepseek_coder);
    TEST_RUN(test_vectors_llama_spm);
    TEST_RUN(test_expected_starcoder);
    TEST_RUN(test_expected_phi3);
    TEST_RUN(test_pre_split_vs_python_regex);
    TEST_RUN(test_pre_split_errors);
    TEST_RUN(test_roundtrip_random_utf8);
    TEST_RUN(test_random_bytes);
    TEST_RUN(test_special_tokens);
    TEST_RUN(test_bos_eos);
    TEST_RUN(test_decode);
    TEST_RUN(test_long_inputs);
    TEST_RUN(test_malformed_metadata);
    TEST_RUN(test_llama_bpe_rules);
    for (int i = 0; i < N_VOCABS; i++)
        tok_free(g_tok[i]);
    TEST_END();
}
