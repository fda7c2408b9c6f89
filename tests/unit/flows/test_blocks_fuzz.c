/* test_blocks_fuzz.c - replays the search/replace blocks fuzzing inputs
 * (see fuzz_replay.h). */
#include "fuzz/fuzz_blocks.c"

#define FUZZ_CORPUS "blocks"
#define FUZZ_SPECIAL "<=>SEARCH REPLACE\n\r\t`/.#*\x00\xff"
#define FUZZ_SEED 1616
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
