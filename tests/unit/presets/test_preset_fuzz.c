/* test_preset_fuzz.c - replays the preset fuzzing inputs (see fuzz_replay.h). */
#include "fuzz/fuzz_preset.c"

#define FUZZ_CORPUS "preset"
#define FUZZ_SPECIAL "[]=#;~/.-Kk0159 \t\r\n\x00\xef\xff"
#define FUZZ_SEED 9001
#define FUZZ_MUTANTS 200
#include "fuzz_replay.h"

int main(void)
{
    TEST_RUN(test_seed_corpus);
    TEST_RUN(test_regressions);
    TEST_RUN(test_seed_mutants);
    TEST_END();
}
