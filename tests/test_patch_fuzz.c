/* test_patch_fuzz.c - replays the patch fuzzing inputs through the libFuzzer
 * harness in every `make test` (and `make asan`): the seed corpus
 * tests/fuzz/corpus/patch, every crash the fuzzer found (kept in
 * tests/fuzz/regressions/patch) and deterministic mutations of the seeds.
 * The harness aborts on any broken promise, which fails this test. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_patch.c"
#include "test.h"

/* PATH into a malloc'd buffer of exactly its size (ASan sees overreads). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t tmp[1 << 16];
    size_t n = fread(tmp, 1, sizeof tmp, f);
    fclose(f);
    uint8_t *exact = malloc(n ? n : 1);
    if (exact)
        memcpy(exact, tmp, n);
    *len = n;
    return exact;
}

typedef void (*file_fn)(const uint8_t *data, size_t len);

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

static uint32_t rng_state = 777;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* 200 mutants of DATA: bytes replaced by diff punctuation, digits or
 * random values, spans deleted or duplicated, the end cut. */
static void mutate(const uint8_t *data, size_t len)
{
    static const uint8_t special[] = "@-+ ,0123\n\r\t/.`\x00\xff";
    uint8_t *m = malloc(2 * len + 1);
    for (int k = 0; k < 200 && len; k++) {
        memcpy(m, data, len);
        size_t n = len;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % n;
            switch (rng() % 3) {
            case 0:
                m[at] = special[rng() % (sizeof special - 1)];
                break;
            case 1:
                m[at] = (uint8_t)rng();
                break;
            default: {
                size_t span = 1 + rng() % 8;
                if (at + span > n)
                    span = n - at;
                if (rng() & 1) {
                    memmove(m + at, m + at + span, n - at - span);
                    n -= span;
                } else if (n + span <= 2 * len) {
                    memmove(m + at + span, m + at, n - at);
                    n += span;
                }
                if (n == 0)
                    n = 1;
            }
            }
        }
        if (k % 5 == 4)
            n = rng() % n;
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, m, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    free(m);
}

static void test_seed_corpus(void)
{
    int n = for_each_file("tests/fuzz/corpus/patch", replay);
    CHECKF(n >= 5, "only %d seeds", n);
}

static void test_regressions(void)
{
    int n = for_each_file("tests/fuzz/regressions/patch", replay);
    CHECKF(n >= 1, "no regression files (the README at least)");
}

static void test_seed_mutants(void)
{
    int n = for_each_file("tests/fuzz/corpus/patch", mutate);
    CHECK(n >= 5);
}

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
