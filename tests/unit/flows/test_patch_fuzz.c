/* test_patch_fuzz.c - replays the patch fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_patch.c"

#define FUZZ_CORPUS "patch"
#define FUZZ_SPECIAL "@-+ ,0123\n\r\t/.`\x00\xff"
#define FUZZ_SEED 777
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
