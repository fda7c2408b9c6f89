/* test_strv.c - the string array of base/strv.c: copies of the bytes
 * given (NULs included up to N, one added), growth past the first
 * allocation, and free leaving it empty and reusable. */
#include <stdio.h>
#include <string.h>

#include "strv.h"
#include "test.h"

static void test_strv(void)
{
    strv_t l = {0};
    char buf[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(buf, sizeof buf, "line %d and more", i);
        CHECK(strv_push(&l, buf, (size_t)n - 9) == 0); /* "line I" without " and more" */
    }
    CHECK_EQ_INT(l.n, 100);
    CHECK(l.cap >= 100);
    CHECK_EQ_STR(l.v[0], "line 0");
    CHECK_EQ_STR(l.v[99], "line 99");
    buf[0] = 'X'; /* a copy, not the caller's buffer */
    CHECK_EQ_STR(l.v[99], "line 99");
    CHECK(strv_push(&l, "", 0) == 0);
    CHECK_EQ_STR(l.v[100], "");
    strv_free(&l);
    CHECK(l.v == NULL && l.n == 0 && l.cap == 0);
    CHECK(strv_push(&l, "again", 5) == 0);
    CHECK_EQ_STR(l.v[0], "again");
    strv_free(&l);
}

int main(void)
{
    TEST_RUN(test_strv);
    TEST_END();
}
