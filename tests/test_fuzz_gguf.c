/* test_fuzz_gguf.c - replays the fuzzing inputs through the libFuzzer
 * harness in every `make test` (and `make asan`): each file of the seed
 * corpus tests/fuzz/corpus/gguf and every crash the fuzzer ever found,
 * kept in tests/fuzz/regressions/gguf, plus deterministic mutations of the
 * seeds. The harness aborts on any broken promise, which fails this test. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_gguf.c"
#include "test.h"

/* Reads PATH into a malloc'd buffer of exactly its size (so ASan sees any
 * read past the end). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    uint8_t *exact = malloc(n ? n : 1);
    if (exact)
        memcpy(exact, buf, n);
    free(buf);
    *len = n;
    return exact;
}

typedef void (*file_fn)(const uint8_t *data, size_t len);

/* Calls FN on every regular file of DIR; returns how many. */
static int for_each_file(const char *dir, file_fn fn)
{
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *data = slurp(path, &len);
        CHECKF(data != NULL, "cannot read %s", path);
        if (data) {
            fn(data, len);
            n++;
        }
        free(data);
    }
    closedir(d);
    return n;
}

static void replay(const uint8_t *data, size_t len) { LLVMFuzzerTestOneInput(data, len); }

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* 300 mutants of DATA: random bytes overwritten with random or boundary
 * values, lengths cut. */
static void mutate(const uint8_t *data, size_t len)
{
    static const uint8_t special[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x08, 0x09};
    uint8_t *m = malloc(len ? len : 1);
    for (int k = 0; k < 300 && len; k++) {
        memcpy(m, data, len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % len;
            m[at] = (rng() & 1) ? (uint8_t)rng() : special[rng() % sizeof special];
        }
        size_t n = (k % 5 == 4) ? rng() % len : len;
        LLVMFuzzerTestOneInput(m, n);
    }
    free(m);
}

static void test_seed_corpus(void)
{
    int n = for_each_file("tests/fuzz/corpus/gguf", replay);
    CHECKF(n >= 5, "only %d seeds", n);
}

static void test_regressions(void)
{
    int n = for_each_file("tests/fuzz/regressions/gguf", replay);
    CHECKF(n >= 1, "no regression files (the README at least)");
}

static void test_seed_mutants(void)
{
    int n = for_each_file("tests/fuzz/corpus/gguf", mutate);
    CHECK(n >= 5);
}

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
