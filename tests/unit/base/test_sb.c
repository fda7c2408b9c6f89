/* test_sb.c - base/sb.c: appending bytes, strings and formatted text past
 * every growth step, NUL bytes kept, handing the text over, the
 * out-of-memory state carried to sb_take, and reading whole streams. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "test.h"

static void test_append(void)
{
    sbuf_t b = {0};
    char *s = sb_take(&b);
    CHECK_EQ_STR(s, ""); /* nothing appended: an empty string, not NULL */
    free(s);
    sb_add(&b, "int ");
    sb_addn(&b, "x = 10;", 4);
    sb_addf(&b, "%d;", 42);
    CHECK_EQ_STR(b.s, "int x = 42;");
    CHECK_EQ_INT(b.n, 11);
    /* formatted text longer than any first buffer */
    char big[5000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sb_addf(&b, "[%s]", big);
    CHECK_EQ_INT(b.n, 11 + 2 + sizeof big - 1);
    CHECK(b.s[11] == '[' && b.s[b.n - 1] == ']' && b.s[b.n] == '\0');
    /* bytes with NULs in them count */
    sb_addn(&b, "a\0b", 3);
    CHECK_EQ_INT(b.n, 11 + 2 + sizeof big - 1 + 3);
    CHECK(!memcmp(b.s + b.n - 3, "a\0b", 3));
    size_t n = b.n;
    s = sb_take(&b);
    CHECK(s && s[n] == '\0');
    CHECK(b.s == NULL && b.n == 0 && b.cap == 0); /* handed over: B is empty again */
    free(s);
    /* many small appends */
    for (int i = 0; i < 10000; i++)
        sb_addf(&b, "%d,", i % 10);
    CHECK_EQ_INT(b.n, 20000);
    CHECK(!strncmp(b.s, "0,1,2,", 6) && !strcmp(b.s + b.n - 4, "8,9,"));
    sb_free(&b);
    CHECK(b.s == NULL && b.n == 0);
}

static void test_oom(void)
{
    sbuf_t b = {0};
    sb_add(&b, "kept until the end");
    b.oom = true; /* as after a failed realloc */
    sb_add(&b, " and more");
    CHECK_EQ_INT(b.n, 18);   /* later appends do nothing */
    CHECK(sb_take(&b) == NULL); /* and the text is dropped */
    CHECK(b.s == NULL && !b.oom);
    /* a length no allocation can hold marks the builder instead of wrapping */
    sb_add(&b, "x");
    sb_addn(&b, "y", (size_t)-1 / 2);
    CHECK(b.oom);
    CHECK(sb_take(&b) == NULL);
}

static void test_read(void)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < 3000; i++)
        fprintf(f, "line %d\n", i);
    fputc('\0', f);
    fputs("after a NUL", f);
    long size = ftell(f);
    rewind(f);
    sbuf_t b = {0};
    sb_add(&b, "head:");
    CHECK_EQ_INT(sb_read(&b, f), 0);
    CHECK_EQ_INT(b.n, 5 + (size_t)size);
    CHECK(!strncmp(b.s, "head:line 0\n", 12));
    CHECK_EQ_STR(b.s + b.n - 11, "after a NUL");
    /* at the end: nothing more, no error */
    CHECK_EQ_INT(sb_read(&b, f), 0);
    CHECK_EQ_INT(b.n, 5 + (size_t)size);
    fclose(f);
    sb_free(&b);
    /* a stream that cannot be read reports its errno */
    f = fopen("tests/fixtures", "r"); /* a directory: fread fails with EISDIR */
    if (f) {
        int e = sb_read(&b, f);
        CHECKF(e == EISDIR, "%d", e);
        fclose(f);
    }
    sb_free(&b);
}

int main(void)
{
    TEST_RUN(test_append);
    TEST_RUN(test_oom);
    TEST_RUN(test_read);
    TEST_END();
}
