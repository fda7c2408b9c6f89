/* test_rag_gitlib.c - rag/gitlib.c, libgit2 opened with dlopen: a library
 * that cannot be found and one that is not libgit2 are refused with a
 * message naming them and leave the table as it was; libgit2 itself is
 * opened once, and its functions answer through the table. */
#include <string.h>

#include "errmsg.h"
#include "gitlib.h"
#include "test.h"

static void test_missing_library(void)
{
    gitlib_fns_t t;
    memset(&t, 0, sizeof t);
    errmsg_t e = {0};
    CHECK_EQ_INT(gitlib_open(&t, "libgit2-octet-absent.so.0", &e), OCT_ENOTFOUND);
    CHECK_EQ_INT(e.code, OCT_ENOTFOUND);
    CHECKF(strstr(e.msg, "cannot load libgit2-octet-absent.so.0") != NULL, "%s", e.msg);
    CHECK(t.repository_open_ext == NULL);
}

static void test_not_libgit2(void)
{
    gitlib_fns_t t;
    memset(&t, 0, sizeof t);
    errmsg_t e = {0};
    /* octet links libzstd: it is there, and has no git_ function */
    CHECK_EQ_INT(gitlib_open(&t, "libzstd.so.1", &e), OCT_ENOTFOUND);
    CHECKF(strstr(e.msg, "libzstd.so.1 has no git_apply") != NULL, "%s", e.msg);
    CHECK(t.apply == NULL && t.repository_open_ext == NULL);
}

static void test_libgit2(void)
{
    errmsg_t e = {0};
    CHECKF(gitlib_init(&e) == 0, "%s", e.msg);
    CHECK(gitlib_fn.repository_open_ext != NULL && gitlib_fn.tree_lookup != NULL);
    CHECK_EQ_INT(gitlib_init(&e), 0); /* once: the second call finds it open */
    /* a call through the table: the blob id `git hash-object` gives "hello\n" */
    git_oid oid;
    char hex[GIT_OID_HEXSZ + 1];
    CHECK_EQ_INT(git_odb_hash(&oid, "hello\n", 6, GIT_OBJECT_BLOB), 0);
    CHECK_EQ_STR(git_oid_tostr(hex, sizeof hex, &oid), "ce013625030ba8dba906f756967f9e9ca394464a");
}

int main(void)
{
    TEST_RUN(test_missing_library);
    TEST_RUN(test_not_libgit2);
    TEST_RUN(test_libgit2);
    TEST_END();
}
