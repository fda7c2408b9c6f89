/* test_rag_gitindex.c - rag/gitindex.c, the reader of .git/index: index
 * files written by git itself in versions 2, 3 (intent-to-add entries) and
 * 4 (prefix-compressed paths), with a symlink, a gitlink, a conflict and
 * extensions, checked against `git ls-files --stage`; then damaged ones:
 * every truncation, every single byte changed, a split index and bad
 * headers are refused or read without a crash, never read past the end. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errmsg.h"
#include "gitindex.h"
#include "test.h"
#include "test_sh.h"

static char g_tmp[256];

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(b, cap);
            if (!nb)
                break;
            b = nb;
        }
        size_t r = fread(b + *n, 1, cap - *n, f);
        if (r == 0)
            break;
        *n += r;
    }
    fclose(f);
    return b;
}

/* The index of repository DIR parsed, as "mode stage path" lines, against
 * `git ls-files --stage` (its object ids cut out). */
static void check_against_git(const char *dir)
{
    char path[600], want_path[600];
    snprintf(path, sizeof path, "%s/.git/index", dir);
    snprintf(want_path, sizeof want_path, "%s/want.txt", g_tmp);
    CHECK_EQ_INT(sh(dir, "git -c core.quotepath=false ls-files --stage | awk '{ printf \"%%s %%s \", $1, $3; sub(/^[^\\t]*\\t/, \"\"); "
                         "print }' > '%s'",
                    want_path),
                 0);
    size_t wn = 0;
    unsigned char *want = slurp(want_path, &wn);
    gitindex_t gi;
    int rc = gitindex_read(path, &gi);
    CHECKF(rc == 0, "gitindex_read %s: %d", path, rc);
    char *got = NULL;
    size_t gn = 0;
    FILE *m = open_memstream(&got, &gn);
    for (size_t i = 0; rc == 0 && i < gi.n; i++)
        fprintf(m, "%06o %u %s\n", gi.v[i].mode, gi.v[i].stage, gi.v[i].path);
    fclose(m);
    CHECKF(want && gn == wn && !memcmp(got, want, gn), "%s:\n--- parsed\n%s--- git\n%.*s", dir, got,
           (int)wn, want ? (const char *)want : "");
    free(got);
    free(want);
    gitindex_free(&gi);
}

/* A repository with a deep tree, a symlink, a submodule's gitlink, an
 * executable, a name with a space and UTF-8, and a cached tree. */
static void make_repo(const char *name)
{
    sh(g_tmp, "rm -rf %s && mkdir %s", name, name);
    char d[600];
    snprintf(d, sizeof d, "%s/%s", g_tmp, name);
    CHECK_EQ_INT(sh(d, "git init -q . && mkdir -p a/b/c src && echo 1 > a/b/c/deep.txt && echo 2 > src/main.c"
                       " && echo 3 > src/main.h && printf x > 'odd name \303\251.txt' && echo 4 > run.sh"
                       " && chmod +x run.sh && ln -s src/main.c link.c && git add -A"
                       " && git update-index --add --cacheinfo 160000,"
                       "0123456789abcdef0123456789abcdef01234567,sub"
                       " && git commit -qm one && git write-tree"),
                 0);
}

static void test_versions(void)
{
    char d[600];
    make_repo("v2");
    snprintf(d, sizeof d, "%s/v2", g_tmp);
    CHECK_EQ_INT(sh(d, "git update-index --index-version 2"), 0);
    check_against_git(d);

    /* version 3: an intent-to-add entry sets the extended flags */
    make_repo("v3");
    snprintf(d, sizeof d, "%s/v3", g_tmp);
    CHECK_EQ_INT(sh(d, "echo n > new.txt && git add -N new.txt && git update-index --index-version 3"), 0);
    check_against_git(d);

    /* version 4: paths share prefixes with the previous one */
    make_repo("v4");
    snprintf(d, sizeof d, "%s/v4", g_tmp);
    CHECK_EQ_INT(sh(d, "git update-index --index-version 4"), 0);
    check_against_git(d);

    /* a conflict: stages 1 to 3 of one path */
    sh(g_tmp, "rm -rf conflict && mkdir conflict");
    snprintf(d, sizeof d, "%s/conflict", g_tmp);
    CHECK_EQ_INT(sh(d, "git init -q . && echo base > f.txt && git add f.txt && git commit -qm base"
                       " && git checkout -qb side && echo side > f.txt && git commit -qam side"
                       " && git checkout -q - && echo main > f.txt && git commit -qam main"
                       " && (git merge -q side || true) && git ls-files -u | grep -q ."),
                 0);
    check_against_git(d);

    /* an empty index */
    sh(g_tmp, "rm -rf empty && mkdir empty");
    snprintf(d, sizeof d, "%s/empty", g_tmp);
    CHECK_EQ_INT(sh(d, "git init -q . && echo x > f && git add f && git rm -q --cached f"), 0);
    check_against_git(d);
}

static void test_damaged(void)
{
    char d[600], path[700];
    make_repo("dmg");
    snprintf(d, sizeof d, "%s/dmg", g_tmp);
    snprintf(path, sizeof path, "%s/.git/index", d);
    size_t n = 0;
    unsigned char *orig = slurp(path, &n);
    CHECK(orig != NULL && n > 100);
    if (!orig)
        return;
    gitindex_t gi;
    CHECK_EQ_INT(gitindex_parse(orig, n, &gi), 0);
    size_t entries = gi.n;
    gitindex_free(&gi);
    CHECK_EQ_INT(entries, 7);

    /* every truncation: refused, never read past the end (ASan's build
     * sees each copy as a buffer of its exact size) */
    size_t refused = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char *c = malloc(k ? k : 1);
        memcpy(c, orig, k);
        int rc = gitindex_parse(c, k, &gi);
        refused += rc == OCT_EFORMAT;
        CHECK(rc == OCT_EFORMAT || rc == 0);
        CHECK(rc != 0 || gi.n <= entries);
        gitindex_free(&gi);
        free(c);
    }
    /* a cut inside the entries cannot pass: git's trailing checksum is the
     * only part whose loss leaves whole entries before the cut */
    CHECK(refused >= n - 20 - 100);

    /* every byte changed in turn: read or refused, never a crash; a path
     * read is always NUL-free and within the file's size */
    unsigned char *c = malloc(n);
    for (size_t k = 0; k < n; k++) {
        for (int x = 1; x < 256; x += 127) {
            memcpy(c, orig, n);
            c[k] ^= (unsigned char)x;
            int rc = gitindex_parse(c, n, &gi);
            CHECK(rc == OCT_EFORMAT || rc == 0);
            for (size_t i = 0; rc == 0 && i < gi.n; i++)
                CHECK(strlen(gi.v[i].path) > 0 && strlen(gi.v[i].path) < n);
            gitindex_free(&gi);
        }
    }
    /* headers: another signature, version 1 and 5, a count the file cannot hold */
    memcpy(c, orig, n);
    c[0] = 'X';
    CHECK_EQ_INT(gitindex_parse(c, n, &gi), OCT_EFORMAT);
    memcpy(c, orig, n);
    c[7] = 1;
    CHECK_EQ_INT(gitindex_parse(c, n, &gi), OCT_EFORMAT);
    c[7] = 5;
    CHECK_EQ_INT(gitindex_parse(c, n, &gi), OCT_EFORMAT);
    memcpy(c, orig, n);
    c[8] = c[9] = c[10] = c[11] = 0xff;
    CHECK_EQ_INT(gitindex_parse(c, n, &gi), OCT_EFORMAT);
    free(c);
    free(orig);
    CHECK_EQ_INT(gitindex_parse((const unsigned char *)"", 0, &gi), OCT_EFORMAT);

    /* a split index keeps entries in another file ("link", an extension
     * readers must understand): refused */
    CHECK_EQ_INT(sh(d, "git update-index --split-index && echo 5 > more.txt && git add more.txt"), 0);
    CHECK_EQ_INT(gitindex_read(path, &gi), OCT_EFORMAT);
    CHECK_EQ_INT(gi.n, 0);
    /* missing, or a directory */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/index", g_tmp);
    CHECK_EQ_INT(gitindex_read(missing, &gi), OCT_EIO);
    CHECK_EQ_INT(gitindex_read(g_tmp, &gi), OCT_EIO);
}

int main(void)
{
    if (sh_test_home(g_tmp, sizeof g_tmp, "octet-gitindex") != 0)
        return 1;
    TEST_RUN(test_versions);
    TEST_RUN(test_damaged);
    sh("/tmp", "rm -rf '%s'", g_tmp);
    TEST_END();
}
