/* test_spec_fuzz.c - replays the spec fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_spec.c"

#define FUZZ_CORPUS "spec"
#define FUZZ_SPECIAL "{}[],:\"\\-0159e.tfn \n\x1f\x00\xff"
#define FUZZ_SEED 4242
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    for (int i = 0; i < 2; i++)
        spec_free(fuzz_fixed[i]);
    TEST_END();
}
