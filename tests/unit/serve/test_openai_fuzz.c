/* test_openai_fuzz.c - replays the server-request fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_openai.c"

#define FUZZ_CORPUS "openai"
#define FUZZ_SPECIAL "{}[],:\"\\-019e.tfnu \n\x00\xc3\xe2\xff"
#define FUZZ_SEED 31337
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
