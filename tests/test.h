/* test.h - the minimal unit-test harness shared by tests/test_*.c.
 *
 * Each test binary runs its cases with TEST_RUN, which prints one line per
 * case ("ok NAME" or "FAIL NAME" followed by the failed checks), and ends
 * with TEST_END, which prints "# passed P failed F" for tests/run.sh to add up.
 * Tests run from the repository root, so fixtures are tests/fixtures/... */
#ifndef OCTET_TEST_H
#define OCTET_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed_, test_failed_, test_case_failed_;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            test_case_failed_++;                                               \
            printf("    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

/* Like CHECK, with a printf-style explanation. */
#define CHECKF(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            test_case_failed_++;                                               \
            printf("    %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) {                                                         \
            test_case_failed_++;                                                \
            printf("    %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, \
                   #b, a_, b_);                                                 \
        }                                                                       \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                           \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                     \
            test_case_failed_++;                                                     \
            printf("    %s:%d: %s == %s:\n      got:      \"%s\"\n      expected: \"%s\"\n", \
                   __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
        }                                                                            \
    } while (0)

#define TEST_RUN(fn)                                   \
    do {                                               \
        test_case_failed_ = 0;                         \
        fflush(stdout);                                \
        fn();                                          \
        if (test_case_failed_) {                       \
            test_failed_++;                            \
            printf("FAIL %s\n", #fn);                  \
        } else {                                       \
            test_passed_++;                            \
            printf("ok   %s\n", #fn);                  \
        }                                              \
        fflush(stdout);                                \
    } while (0)

#define TEST_END()                                                       \
    do {                                                                 \
        printf("# passed %d failed %d\n", test_passed_, test_failed_);   \
        return test_failed_ ? 1 : 0;                                     \
    } while (0)

#endif
