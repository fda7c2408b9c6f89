/* test_client_fuzz.c - replays the remote-reply fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_client.c"

#define FUZZ_CORPUS "client"
#define FUZZ_SPECIAL "{}[],:\"\\-019e. \r\n\x00\xff"
#define FUZZ_SEED 2718
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
