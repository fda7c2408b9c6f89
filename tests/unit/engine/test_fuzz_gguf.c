/* test_fuzz_gguf.c - replays the GGUF fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_gguf.c"

#define FUZZ_CORPUS "gguf"
#define FUZZ_SPECIAL "\x00\x01\x7f\x80\xff\x20\x08\x09"
#define FUZZ_SEED 12345
#define FUZZ_MUTANTS 300
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
