/* test_rag_watch.c - rag/watch.c on a real git repository: nothing changed
 * after an update (the update itself makes no event that counts), an edit,
 * a new directory and then a file in it (the new directory is watched), a
 * deletion, a rename, .git/index and .git/info/exclude, the database's own
 * files (not changes), a nested repository's contents (not watched), a
 * plain directory with its .octet, and an overflow of the kernel's queue
 * (dirty, and a directory made during it watched after). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rag.h"
#include "test.h"
#include "test_sh.h"
#include "watch.h"

static char g_tmp[256];

static void put(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "%s: %s", path, strerror(errno));
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool dirty(rag_watch_t *w)
{
    bool d = false;
    errmsg_t err = {0};
    int rc = rag_watch_dirty(w, &d, &err);
    CHECKF(rc == 0, "rag_watch_dirty: %s", err.msg);
    return d;
}

static void update(rag_t *r)
{
    errmsg_t err = {0};
    int rc = rag_update(r, NULL, NULL, NULL, NULL, &err);
    CHECKF(rc == 0, "rag_update: %s", err.msg);
}

static void test_git_tree(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/repo", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "mkdir -p repo/src repo/nested && cd repo && git init -q . && "
                           "echo 'int a(void) { return 1; }' >src/a.c && git add -A && git commit -qm a && "
                           "cd nested && git init -q . && echo 'x' >n.txt"),
                 0);
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    rag_watch_t *w = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "rag_open: %s", err.msg);
    if (!r)
        return;
    CHECKF(rag_watch_open(&w, r, &err) == 0, "rag_watch_open: %s", err.msg);
    if (!w)
        goto done;
    CHECK(rag_watch_fd(w) >= 0);
    CHECK_EQ_STR(rag_watch_blind(w), "");
    CHECK(!dirty(w));
    /* the update writes the database, its log, lock and vectors: none counts */
    update(r);
    CHECK(!dirty(w));
    put(d, "src/a.c", "int a(void) { return 2; }\n");
    CHECK(dirty(w));
    CHECK(!dirty(w)); /* asked again: nothing new */
    CHECK_EQ_INT(sh(d, "mkdir -p newdir"), 0);
    CHECK(dirty(w));
    put(d, "newdir/b.c", "int b(void) { return 3; }\n");
    CHECK(dirty(w)); /* the new directory is watched */
    CHECK_EQ_INT(sh(d, "mkdir -p deep/er/est"), 0);
    CHECK(dirty(w));
    put(d, "deep/er/est/c.c", "int c(void) { return 4; }\n");
    CHECK(dirty(w)); /* made before its watch could be: watched when found */
    CHECK_EQ_INT(sh(d, "mv newdir moved"), 0);
    CHECK(dirty(w));
    put(d, "moved/d.c", "int d(void) { return 5; }\n");
    CHECK(dirty(w)); /* a renamed directory keeps its watch */
    CHECK_EQ_INT(sh(d, "rm src/a.c"), 0);
    CHECK(dirty(w));
    CHECK_EQ_INT(sh(d, "chmod 600 moved/d.c"), 0);
    CHECK(dirty(w));
    update(r);
    CHECK(!dirty(w));
    CHECK_EQ_INT(sh(d, "git add moved && git rm -q --cached src/a.c"), 0); /* .git/index */
    CHECK(dirty(w));
    CHECK_EQ_INT(sh(d, "echo '*.log' >>.git/info/exclude"), 0);
    CHECK(dirty(w));
    CHECK_EQ_INT(sh(d, "git commit -qm b"), 0);
    (void)dirty(w);
    /* another repository's files are not this one's */
    put(d, "nested/n.txt", "y\n");
    CHECK(!dirty(w));
    CHECK_EQ_INT(sh(d, "rm -rf nested/.git"), 0);
    CHECK(dirty(w));
    put(d, "nested/n.txt", "z\n");
    CHECK(dirty(w)); /* now a directory of this repository */
    CHECK_EQ_INT(sh(d, "rm -rf deep"), 0);
    CHECK(dirty(w));
    CHECK(!dirty(w));
done:
    rag_watch_close(w);
    rag_close(r);
}

static void test_plain_dir(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/plain", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "mkdir -p plain/sub && echo 'hello' >plain/sub/x.txt"), 0);
    rag_options_t o = {.dir = d, .no_git = true};
    rag_t *r = NULL;
    rag_watch_t *w = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "rag_open: %s", err.msg);
    if (!r)
        return;
    CHECKF(rag_watch_open(&w, r, &err) == 0, "rag_watch_open: %s", err.msg);
    if (w) {
        update(r);
        CHECK(!dirty(w)); /* .octet/ is the index's */
        put(d, "sub/x.txt", "bye\n");
        CHECK(dirty(w));
    }
    rag_watch_close(w);
    rag_close(r);
}

/* More events than the kernel queues: dirty, and the directory made while
 * events were lost is watched after. */
static void test_overflow(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/flood", g_tmp);
    CHECK_EQ_INT(sh(g_tmp, "mkdir -p flood/f && cd flood && git init -q ."), 0);
    long max = 16384;
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 16384;
        fclose(f);
    }
    if (max > 200000) {
        printf("    (max_queued_events is %ld: the overflow is not tried)\n", max);
        return;
    }
    rag_options_t o = {.dir = d};
    rag_t *r = NULL;
    rag_watch_t *w = NULL;
    errmsg_t err = {0};
    CHECKF(rag_open(&r, &o, &err) == 0, "rag_open: %s", err.msg);
    if (!r)
        return;
    CHECKF(rag_watch_open(&w, r, &err) == 0, "rag_watch_open: %s", err.msg);
    if (w) {
        char p[600];
        for (long i = 0; i < max / 2 + 64; i++) { /* a creation and a deletion each */
            snprintf(p, sizeof p, "%s/f/%ld", d, i);
            FILE *g = fopen(p, "w");
            if (g)
                fclose(g);
            unlink(p);
        }
        CHECK_EQ_INT(sh(d, "mkdir late"), 0);
        CHECK(dirty(w));
        put(d, "late/x.c", "int x;\n");
        CHECK(dirty(w));
    }
    rag_watch_close(w);
    rag_close(r);
}

int main(void)
{
    if (sh_test_home(g_tmp, sizeof g_tmp, "octet-test-watch") != 0)
        return 1;
    TEST_RUN(test_git_tree);
    TEST_RUN(test_plain_dir);
    TEST_RUN(test_overflow);
    sh("/tmp", "rm -rf '%s'", g_tmp);
    TEST_END();
}
