/* fuzz_replay.h - replays a libFuzzer harness's inputs in every `make test`
 * (and `make asan`): each file of the seed corpus tests/fuzz/corpus/NAME,
 * every crash the fuzzer found (kept in tests/fuzz/regressions/NAME) and
 * deterministic mutations of the seeds. The harness aborts on any broken
 * promise, which fails the test.
 *
 * Include it after the harness (which defines LLVMFuzzerTestOneInput) with
 * FUZZ_CORPUS, FUZZ_SPECIAL (bytes the mutator favours: the format's
 * punctuation), FUZZ_SEED and FUZZ_MUTANTS (per seed) defined; it defines
 * the test cases test_seed_corpus, test_regressions and test_seed_mutants. */
#ifndef OCTET_FUZZ_REPLAY_H
#define OCTET_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* PATH into a malloc'd buffer of exactly its size (so ASan sees any read
 * past the end). */
static uint8_t *fuzz_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, r;
    uint8_t *buf = malloc(cap);
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

typedef void (*fuzz_file_fn)(const uint8_t *data, size_t len);

static int fuzz_for_each_file(const char *dir, fuzz_file_fn fn)
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
        uint8_t *data = fuzz_slurp(path, &len);
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

static void fuzz_replay(const uint8_t *data, size_t len) { LLVMFuzzerTestOneInput(data, len); }

static uint32_t fuzz_rng_state = FUZZ_SEED;
static uint32_t fuzz_rng(void)
{
    fuzz_rng_state ^= fuzz_rng_state << 13;
    fuzz_rng_state ^= fuzz_rng_state >> 17;
    fuzz_rng_state ^= fuzz_rng_state << 5;
    return fuzz_rng_state;
}

/* FUZZ_MUTANTS mutants of DATA: bytes replaced by FUZZ_SPECIAL bytes or
 * random values, spans deleted or duplicated, every fifth one cut short. */
static void fuzz_mutate(const uint8_t *data, size_t len)
{
    static const uint8_t special[] = FUZZ_SPECIAL;
    uint8_t *m = malloc(2 * len + 1);
    for (int k = 0; k < FUZZ_MUTANTS && len; k++) {
        memcpy(m, data, len);
        size_t n = len;
        int edits = 1 + (int)(fuzz_rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = fuzz_rng() % n;
            switch (fuzz_rng() % 3) {
            case 0:
                m[at] = special[fuzz_rng() % (sizeof special - 1)];
                break;
            case 1:
                m[at] = (uint8_t)fuzz_rng();
                break;
            default: {
                size_t span = 1 + fuzz_rng() % 8;
                if (at + span > n)
                    span = n - at;
                if (fuzz_rng() & 1) {
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
            n = fuzz_rng() % n;
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, m, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    free(m);
}

static void test_seed_corpus(void)
{
    int n = fuzz_for_each_file("tests/fuzz/corpus/" FUZZ_CORPUS, fuzz_replay);
    CHECKF(n >= 5, "only %d seeds", n);
}

static void test_regressions(void)
{
    int n = fuzz_for_each_file("tests/fuzz/regressions/" FUZZ_CORPUS, fuzz_replay);
    CHECKF(n >= 1, "no regression files (the README at least)");
}

static void test_seed_mutants(void)
{
    int n = fuzz_for_each_file("tests/fuzz/corpus/" FUZZ_CORPUS, fuzz_mutate);
    CHECK(n >= 5);
}

#endif
