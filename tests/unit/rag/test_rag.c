/* test_rag.c - rag/ on real git repositories built in temporary directories
 * with the git command: the walk (tracked and untracked files, .gitignore,
 * info/exclude, binary and large files, submodules, nested repositories,
 * symlinks, invalid UTF-8, CRLF), incremental updates after edits, renames
 * and deletions, detached HEAD, an empty repository, plain directories,
 * hostile queries, corrupt and foreign databases, an update killed midway,
 * cancellation, and queries running while another thread updates. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rag.h"
#include "store.h"
#include "test.h"
#include "test_sh.h"

static char g_tmp[256]; /* all repositories of this run live here */

static void write_file(const char *dir, const char *rel, const char *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    CHECKF(f != NULL, "%s: %s", path, strerror(errno));
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void put(const char *dir, const char *rel, const char *text)
{
    write_file(dir, rel, text, strlen(text));
}

/* A new directory under g_tmp; with GIT, an initialized repository. */
static void new_dir(char *out, size_t n, const char *name, bool git)
{
    snprintf(out, n, "%s/%s", g_tmp, name);
    sh(g_tmp, "rm -rf '%s' && mkdir -p '%s'", name, name);
    if (git)
        CHECK_EQ_INT(sh(out, "git init -q ."), 0);
}

static rag_t *open_at(const char *dir, const rag_options_t *base)
{
    rag_options_t o = base ? *base : (rag_options_t){0};
    o.dir = dir;
    errmsg_t err = {0};
    rag_t *r = NULL;
    int rc = rag_open(&r, &o, &err);
    CHECKF(rc == 0, "rag_open %s: %s", dir, err.msg);
    return r;
}

static rag_update_stats_t update(rag_t *r)
{
    rag_update_stats_t st = {0};
    errmsg_t err = {0};
    int rc = rag_update(r, NULL, NULL, NULL, &st, &err);
    CHECKF(rc == 0, "rag_update: %s", err.msg);
    return st;
}

/* The first hit of PATH for QUERY (top K), or NULL; the results are kept
 * in *res for the caller to free. */
static const rag_hit_t *find(rag_t *r, const char *query, const char *path, rag_results_t *res)
{
    errmsg_t err = {0};
    int rc = rag_query(r, query, strlen(query), 10, res, &err);
    CHECKF(rc == 0, "rag_query(%s): %s", query, err.msg);
    for (size_t i = 0; rc == 0 && i < res->n; i++)
        if (!strcmp(res->hits[i].path, path))
            return &res->hits[i];
    return NULL;
}

static bool found(rag_t *r, const char *query, const char *path)
{
    rag_results_t res;
    bool f = find(r, query, path, &res) != NULL;
    rag_results_free(&res);
    return f;
}

static size_t n_hits(rag_t *r, const char *query)
{
    rag_results_t res;
    errmsg_t err = {0};
    int rc = rag_query(r, query, strlen(query), 10, &res, &err);
    CHECKF(rc == 0, "rag_query(%s): %s", query, err.msg);
    size_t n = res.n;
    rag_results_free(&res);
    return n;
}

/* ---- cases ------------------------------------------------------------------ */

static void test_walk_and_query(void)
{
    char d[512];
    new_dir(d, sizeof d, "basic", true);
    put(d, "src/config.c",
        "#include <stdio.h>\n\n/* reads the settings */\nint parse_config(const char *path)\n{\n"
        "    return path != NULL;\n}\n\nint unrelated_helper(void)\n{\n    return 42;\n}\n");
    put(d, "web/app.js", "export function parseConfig(text) {\n  return JSON.parse(text);\n}\n");
    put(d, "app/server.py",
        "class Server:\n    def handle_request(self, req):\n        return req.reply()\n");
    put(d, ".gitignore", "build/\n*.log\n");
    put(d, "build/out.c", "int ignoredbuildtoken(void) { return 0; }\n");
    put(d, "debug.log", "ignoredlogtoken\n");
    write_file(d, "data.bin", "binarytoken\0\1\2\3", 15);
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm one"), 0);
    put(d, "notes.txt", "untrackednotetoken is indexed\n"); /* untracked, not ignored */
    put(d, ".git/info/exclude", "secret.txt\n");
    put(d, "secret.txt", "excludedsecrettoken\n");
    char big[300];
    memset(big, 'x', sizeof big);
    for (size_t i = 50; i < sizeof big; i += 50)
        big[i] = '\n';
    memcpy(big, "largefiletoken ", 15);
    write_file(d, "big.txt", big, sizeof big);

    /* opened from a subdirectory: the root is the repository's */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/src", d);
    rag_options_t o = {.max_file_bytes = 256};
    rag_t *r = open_at(sub, &o);
    if (!r)
        return;
    char real[600];
    CHECK(realpath(d, real) != NULL);
    CHECK_EQ_STR(rag_root(r), real);
    CHECK(strstr(rag_db_path(r), "/.git/octet/index.sqlite") != NULL);
    rag_update_stats_t st = update(r);
    /* config.c app.js server.py .gitignore notes.txt */
    CHECK_EQ_INT(st.files, 5);
    CHECK_EQ_INT(st.changed, 5);
    CHECK_EQ_INT(st.skip_binary, 1);
    CHECK_EQ_INT(st.skip_large, 1);
    CHECK(st.chunks >= 6);

    rag_results_t res;
    const rag_hit_t *h = find(r, "parse config", "src/config.c", &res);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_STR(h->symbol, "parse_config");
        CHECK_EQ_INT(h->start, 3);
        CHECK_EQ_INT(h->end, 7);
        CHECK_EQ_STR(h->lang, "c");
        CHECK(strstr(h->text, "int parse_config(const char *path)\n{") != NULL);
        CHECK(h->score > 0);
    }
    rag_results_free(&res);
    CHECK(found(r, "parse config", "web/app.js"));
    CHECK(found(r, "parseConfig", "src/config.c")); /* camelCase finds snake_case */
    h = find(r, "how is a request handled by the server", "app/server.py", &res);
    CHECK(h && h->symbol && !strcmp(h->symbol, "Server"));
    rag_results_free(&res);
    CHECK(found(r, "untrackednotetoken", "notes.txt"));
    CHECK_EQ_INT(n_hits(r, "ignoredbuildtoken"), 0);
    CHECK_EQ_INT(n_hits(r, "ignoredlogtoken"), 0);
    CHECK_EQ_INT(n_hits(r, "excludedsecrettoken"), 0);
    CHECK_EQ_INT(n_hits(r, "binarytoken"), 0);
    CHECK_EQ_INT(n_hits(r, "largefiletoken"), 0);

    rag_index_stats_t is;
    errmsg_t err = {0};
    CHECK_EQ_INT(rag_stats(r, &is, &err), 0);
    CHECK_EQ_INT(is.files, 5);
    CHECK_EQ_INT(is.chunks, st.chunks);
    CHECK(is.db_bytes > 0);
    CHECK_EQ_INT(is.schema_version, RAG_SCHEMA_VERSION);
    CHECK(is.n_langs >= 4);
    rag_index_stats_free(&is);
    rag_close(r);
}

/* A word unique to file I: digits would split off as a word of their own. */
static const char *tag(const char *word, int i)
{
    static char buf[8][64];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 64, "%s%c%c", word, 'a' + i / 26 % 26, 'a' + i % 26);
    return b;
}

static void test_incremental(void)
{
    char d[512];
    new_dir(d, sizeof d, "incr", true);
    for (int i = 0; i < 20; i++) {
        char name[32], body[128];
        snprintf(name, sizeof name, "f%02d.c", i);
        snprintf(body, sizeof body, "int func%02d(void)\n{\n    return %d; /* %s */\n}\n", i, i,
                 tag("token", i));
        put(d, name, body);
    }
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm one"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK_EQ_INT(st.changed, 20);
    st = update(r);
    CHECK_EQ_INT(st.changed, 0);
    CHECK_EQ_INT(st.unchanged, 20);
    CHECK_EQ_INT(st.removed, 0);

    /* an edit of the same size, within the same second: still seen */
    put(d, "f03.c", "int func03(void)\n{\n    return 3; /* novelad */\n}\n");
    st = update(r);
    CHECK_EQ_INT(st.changed, 1);
    CHECK(found(r, "novelad", "f03.c"));
    CHECK_EQ_INT(n_hits(r, tag("token", 3)), 0);
    /* touching without changing the content re-chunks nothing */
    CHECK_EQ_INT(sh(d, "touch f05.c"), 0);
    st = update(r);
    CHECK_EQ_INT(st.changed, 0);

    /* a rename and a deletion */
    CHECK_EQ_INT(sh(d, "git mv f07.c renamed.c && git rm -q f08.c && git commit -qm two"), 0);
    st = update(r);
    CHECK_EQ_INT(st.removed, 2);
    CHECK_EQ_INT(st.changed, 1);
    CHECK_EQ_INT(st.files, 19);
    CHECK(found(r, tag("token", 7), "renamed.c"));
    CHECK(!found(r, tag("token", 7), "f07.c"));
    CHECK_EQ_INT(n_hits(r, tag("token", 8)), 0);
    /* deleted from the work tree only, not from git */
    CHECK_EQ_INT(sh(d, "rm f09.c"), 0);
    st = update(r);
    CHECK_EQ_INT(st.removed, 1);
    CHECK_EQ_INT(n_hits(r, tag("token", 9)), 0);
    /* newly ignored untracked file, and a file that became binary */
    put(d, "later.c", "int laterfunc(void) { return 1; }\n");
    st = update(r);
    CHECK(found(r, "laterfunc", "later.c"));
    put(d, ".gitignore", "later.c\n");
    write_file(d, "f10.c", "now\0binary", 10);
    st = update(r);
    CHECK_EQ_INT(n_hits(r, "laterfunc"), 0);
    CHECK_EQ_INT(n_hits(r, tag("token", 10)), 0);
    CHECK_EQ_INT(st.skip_binary, 1);
    rag_close(r);

    /* a new handle sees the same index and finds nothing to do */
    r = open_at(d, NULL);
    if (!r)
        return;
    st = update(r);
    CHECK_EQ_INT(st.changed, 0);
    rag_close(r);
}

/* A witness is kept only by a listing made over 2 s after the last change
 * it records (walk.c: racily clean otherwise): wait that out. */
static void settle(void)
{
    struct timespec ts = {2, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* The listing's witness (walk.c): an update over an unchanged repository
 * lists its files without libgit2 (listed_fast), and whatever could change
 * the list makes it list them in full again, so that the index still
 * follows the work tree exactly. */
static void test_witness(void)
{
    char d[512];
    new_dir(d, sizeof d, "witness", true);
    put(d, "src/a.c", "int alphafunc(void) { return 1; }\n");
    put(d, "sub/b.py", "def betafunc():\n    return 2\n");
    put(d, ".gitignore", "*.log\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm one"), 0);
    put(d, "notes.txt", "notestoken\n");
    put(d, "extra.md", "extratoken\n");
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK(!st.listed_fast);
    CHECK_EQ_INT(st.changed, 5);
    /* all of it changed just now: no witness yet */
    st = update(r);
    CHECK(!st.listed_fast);
    settle();
    st = update(r);
    CHECK(!st.listed_fast);
    st = update(r);
    CHECK(st.listed_fast);
    CHECK_EQ_INT(st.unchanged, 5);
    CHECK_EQ_INT(st.changed, 0);

    /* a tracked file edited: the list holds, the file's stat shows it */
    put(d, "src/a.c", "int alphafunc(void) { return 3; } /* editedtoken */\n");
    st = update(r);
    CHECK(st.listed_fast);
    CHECK_EQ_INT(st.changed, 1);
    CHECK(found(r, "editedtoken", "src/a.c"));

    /* a new untracked file: its directory changed */
    put(d, "sub/new.txt", "newuntrackedtoken\n");
    st = update(r);
    CHECK(!st.listed_fast);
    CHECK(found(r, "newuntrackedtoken", "sub/new.txt"));
    settle();
    update(r);

    /* .gitignore rewritten in place: the untracked file it now ignores goes */
    put(d, ".gitignore", "*.log\nnotes.txt\n");
    st = update(r);
    CHECK(!st.listed_fast);
    CHECK_EQ_INT(n_hits(r, "notestoken"), 0);
    settle();
    update(r);
    CHECK(update(r).listed_fast);

    /* git rewrites its index with the same files (a commit, a refresh):
     * the list holds */
    CHECK_EQ_INT(sh(d, "git add -A src && git commit -qm two && git update-index -q --really-refresh"), 0);
    st = update(r);
    CHECK(st.listed_fast);
    CHECK_EQ_INT(st.changed, 0);

    /* a file added to git's index: another list of tracked files */
    CHECK_EQ_INT(sh(d, "git add sub/new.txt"), 0);
    st = update(r);
    CHECK(!st.listed_fast);
    CHECK(found(r, "newuntrackedtoken", "sub/new.txt"));
    settle();
    update(r);
    CHECK(update(r).listed_fast);

    /* .git/info/exclude: another rule source */
    put(d, ".git/info/exclude", "extra.md\n");
    st = update(r);
    CHECK(!st.listed_fast);
    CHECK_EQ_INT(n_hits(r, "extratoken"), 0);
    settle();
    update(r);

    /* a tracked file deleted from the work tree */
    CHECK_EQ_INT(sh(d, "rm sub/b.py"), 0);
    st = update(r);
    CHECK(!st.listed_fast);
    CHECK_EQ_INT(st.removed, 1);
    CHECK_EQ_INT(n_hits(r, "betafunc"), 0);
    settle();
    update(r);

    /* a new handle, opened from a subdirectory, is confirmed by the
     * witness and lists without libgit2 too */
    rag_close(r);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/src", d);
    r = open_at(sub, NULL);
    if (!r)
        return;
    char real[600];
    CHECK(realpath(d, real) != NULL);
    CHECK_EQ_STR(rag_root(r), real);
    st = update(r);
    CHECK(st.listed_fast);
    CHECK(found(r, "editedtoken", "src/a.c"));

    /* git's index damaged: refused by the reader, and libgit2 reports it
     * as before; restored, all is as it was */
    CHECK_EQ_INT(sh(d, "cp .git/index saved && truncate -s 100 .git/index"), 0);
    errmsg_t err = {0};
    CHECK(rag_update(r, NULL, NULL, NULL, &st, &err) != 0);
    CHECK_EQ_INT(sh(d, "mv saved .git/index"), 0);
    st = update(r);
    CHECK_EQ_INT(st.changed, 0);
    CHECK(found(r, "editedtoken", "src/a.c"));
    rag_close(r);

    /* a .git directory that is not a repository is passed by, as libgit2
     * does, and nothing is created in it */
    CHECK_EQ_INT(sh(d, "mkdir -p inner/.git"), 0);
    snprintf(sub, sizeof sub, "%s/inner", d);
    r = open_at(sub, NULL);
    if (!r)
        return;
    CHECK_EQ_STR(rag_root(r), real);
    CHECK(strstr(rag_db_path(r), "/inner/") == NULL);
    CHECK(sh(d, "test -e inner/.git/octet") != 0);
    rag_close(r);
}

static void test_submodule_nested(void)
{
    char lib[512], d[512];
    new_dir(lib, sizeof lib, "sublib", true);
    put(lib, "lib.c", "int submodulecontenttoken(void) { return 1; }\n");
    CHECK_EQ_INT(sh(lib, "git add -A && git commit -qm lib"), 0);
    new_dir(d, sizeof d, "withsub", true);
    put(d, "main.c", "int mainfunctiontoken(void) { return 0; }\n");
    CHECK_EQ_INT(sh(d, "git -c protocol.file.allow=always submodule add -q '%s' vendor/lib && "
                       "git add -A && git commit -qm sub",
                    lib),
                 0);
    /* an untracked nested repository */
    char nested[600];
    snprintf(nested, sizeof nested, "%s/nested", d);
    mkdir(nested, 0755);
    CHECK_EQ_INT(sh(nested, "git init -q ."), 0);
    put(nested, "n.c", "int nestedrepotoken(void) { return 2; }\n");
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK(found(r, "mainfunctiontoken", "main.c"));
    CHECK_EQ_INT(n_hits(r, "submodulecontenttoken"), 0);
    CHECK_EQ_INT(n_hits(r, "nestedrepotoken"), 0);
    CHECK(st.skip_other >= 1); /* the submodule's gitlink */
    rag_close(r);
}

static void test_detached_and_empty(void)
{
    char d[512];
    new_dir(d, sizeof d, "empty", true);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK_EQ_INT(st.files, 0);
    CHECK_EQ_INT(n_hits(r, "anything at all"), 0);
    put(d, "first.py", "def firstfunction():\n    return 1\n");
    st = update(r);
    CHECK_EQ_INT(st.files, 1);
    CHECK(found(r, "firstfunction", "first.py"));
    rag_close(r);

    new_dir(d, sizeof d, "detached", true);
    put(d, "v.c", "int versiononetoken(void) { return 1; }\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm v1"), 0);
    put(d, "v.c", "int versiontwotoken(void) { return 2; }\n");
    CHECK_EQ_INT(sh(d, "git commit -qam v2 && git checkout -q --detach HEAD~1"), 0);
    r = open_at(d, NULL);
    if (!r)
        return;
    update(r);
    CHECK(found(r, "versiononetoken", "v.c"));
    CHECK_EQ_INT(n_hits(r, "versiontwotoken"), 0);
    rag_close(r);
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!n)
            return false;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static void test_odd_files(void)
{
    char d[512];
    new_dir(d, sizeof d, "odd", true);
    const char crlf[] = "// windows file\r\n\r\nint crlffunction(int a)\r\n{\r\n    return a; /* \xff\xfe bad */\r\n}\r\n";
    write_file(d, "win.c", crlf, sizeof crlf - 1);
    put(d, "target.c", "int symlinktargettoken(void) { return 0; }\n");
    CHECK_EQ_INT(sh(d, "ln -s target.c link.c && ln -s /etc/hostname outside && ln -s src dirlink && "
                       "mkdir src && echo 'int dirtoken;' > src/x.c && git add -A && git commit -qm odd"),
                 0);
    CHECK_EQ_INT(sh(d, "ln -s target.c untracked_link.c && mkfifo fifo"), 0);
    put(d, "\xe2\x82\xac-name \xff.c", "int oddnametoken(void) { return 1; }\n");
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK(st.skip_other >= 4); /* three tracked links, an untracked link, a fifo */
    rag_results_t res;
    const rag_hit_t *h = find(r, "crlffunction", "win.c", &res);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_INT(h->start, 3); /* the comment is separated by a blank line */
        CHECK_EQ_INT(h->end, 6);
        CHECK(strchr(h->text, '\r') == NULL);
        CHECK(valid_utf8(h->text));
        CHECK(strstr(h->text, "\xEF\xBF\xBD") != NULL);
    }
    rag_results_free(&res);
    CHECK(found(r, "symlinktargettoken", "target.c"));
    CHECK(!found(r, "symlinktargettoken", "link.c"));
    CHECK(found(r, "dirtoken", "src/x.c"));
    CHECK(!found(r, "dirtoken", "dirlink/x.c"));
    CHECK_EQ_INT(n_hits(r, "oddnametoken"), 1);
    /* a binary file is remembered, not read at every update, until it
     * changes (here into text) */
    const char bin[] = "binarytoken\0\1\2";
    write_file(d, "blob.dat", bin, sizeof bin - 1);
    st = update(r);
    CHECK_EQ_INT(st.skip_binary, 1);
    CHECK(!found(r, "binarytoken", "blob.dat"));
    st = update(r);
    CHECK_EQ_INT(st.skip_binary, 1);
    CHECK_EQ_INT(st.changed, 0);
    put(d, "blob.dat", "int binarytoken(void) { return 2; } /* text now */\n");
    st = update(r);
    CHECK_EQ_INT(st.skip_binary, 0);
    CHECK(found(r, "binarytoken", "blob.dat"));
    rag_close(r);
}

static void test_exclude_and_plain(void)
{
    char d[512];
    new_dir(d, sizeof d, "excl", true);
    put(d, "vendor/dep.c", "int vendoredtoken(void) { return 0; }\n");
    put(d, "web/app.min.js", "function minifiedtoken(){return 1}\n");
    put(d, "gen/parser.c", "int generatedtoken(void) { return 0; }\n");
    put(d, "src/keep.c", "int keptfiletoken(void) { return 0; }\n");
    put(d, "src/gen/deep.c", "int deepgentoken(void) { return 0; }\n"); /* "/gen/" is anchored */
    put(d, ".octetignore", "# generated\n*.min.js\n/gen/\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm x"), 0);
    const char *ex[] = {"vendor"};
    rag_options_t o = {.exclude = ex, .n_exclude = 1};
    rag_t *r = open_at(d, &o);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK_EQ_INT(st.skip_excluded, 3);
    CHECK(found(r, "keptfiletoken", "src/keep.c"));
    CHECK(found(r, "deepgentoken", "src/gen/deep.c"));
    CHECK_EQ_INT(n_hits(r, "vendoredtoken"), 0);
    CHECK_EQ_INT(n_hits(r, "minifiedtoken"), 0);
    CHECK_EQ_INT(n_hits(r, "generatedtoken"), 0);
    /* the exclude file is read at each update */
    put(d, ".octetignore", "*.min.js\n");
    update(r);
    CHECK(found(r, "generatedtoken", "gen/parser.c"));
    rag_close(r);

    /* outside a repository: a clear error; --no-git indexes the directory */
    new_dir(d, sizeof d, "plain", false);
    put(d, "a/plain.c", "int plaindirtoken(void) { return 0; }\n");
    put(d, ".git/config", "not a repository\n");
    rag_options_t po = {.dir = d};
    errmsg_t err = {0};
    r = NULL;
    int rc = rag_open(&r, &po, &err);
    CHECK_EQ_INT(rc, OCT_ENOTFOUND);
    CHECK(strstr(err.msg, "not inside a git repository") && strstr(err.msg, "--no-git"));
    CHECK(r == NULL);
    po.no_git = true;
    r = open_at(d, &po);
    if (!r)
        return;
    st = update(r);
    CHECK_EQ_INT(st.files, 1);
    CHECK(found(r, "plaindirtoken", "a/plain.c"));
    CHECK(strstr(rag_db_path(r), "/.octet/index.sqlite") != NULL);
    st = update(r); /* its own database is not indexed */
    CHECK_EQ_INT(st.files, 1);
    rag_close(r);
}

static void test_hostile_queries(void)
{
    char d[512];
    new_dir(d, sizeof d, "hostile", true);
    put(d, "q.c", "int near_match(int star) { return star ^ 1; } /* NEAR AND OR NOT */\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm q"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    update(r);
    static const char *const hostile[] = {
        "\"", "\"unbalanced", "NEAR(near match, 2)", "star*", "^near", "((near", "near))", "NOT",
        "AND OR NOT", "text:near", "{path}: q", "-near", "near\\\"", "'", "\xff\xfe\xc0", "",
        "   ", "\"\"\"\"", "NEAR/3", "near + - * / ^ : ( ) { } [ ]",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        rag_results_t res;
        errmsg_t err = {0};
        int rc = rag_query(r, hostile[i], strlen(hostile[i]), 5, &res, &err);
        CHECKF(rc == 0, "query %zu: %s", i, err.msg);
        rag_results_free(&res);
    }
    const char nul[] = "near\0match\0";
    rag_results_t res;
    errmsg_t err = {0};
    CHECK_EQ_INT(rag_query(r, nul, sizeof nul - 1, 5, &res, &err), 0);
    CHECK_EQ_INT(res.n, 1);
    rag_results_free(&res);
    /* a megabyte of prompt */
    size_t n = 1 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = "near match \"(*^:NEAR OR AND\n\0x"[i % 31];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(rag_query(r, big, n, 5, &res, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECKF(secs < 2.0, "%.2f s for a 1 MB prompt", secs);
    CHECK_EQ_INT(res.n, 1);
    rag_results_free(&res);
    free(big);
    rag_close(r);
}

static int exec_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

/* SQL on DB with the index's functions defined (its view reads them). */
static int exec_sql_rag(const char *db, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    int rc = store_register(h);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

/* An FTS5 setting of DB's fts table (fts_config), 0 when not set. */
static int64_t fts_setting(const char *db, const char *key)
{
    sqlite3 *h;
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT v FROM fts_config WHERE k = ?1", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The index at DB as version 2 wrote it: the texts and derived columns
 * stored by FTS5, no ztext, no table of binary files. */
static const char TO_VERSION_2[] =
    "BEGIN;"
    "CREATE VIRTUAL TABLE fts2 USING fts5(path, symbol, words, text,"
    " tokenize = \"porter unicode61 remove_diacritics 2 tokenchars '_'\");"
    "INSERT INTO fts2(rowid, path, symbol, words, text) SELECT id, path, symbol, words, text FROM fts_src;"
    "DROP TABLE fts; DROP VIEW fts_src; ALTER TABLE fts2 RENAME TO fts;"
    "ALTER TABLE chunks DROP COLUMN ztext; DROP TABLE skipped; PRAGMA user_version = 2; COMMIT;";

static void make_small_repo(char *d, size_t n, const char *name)
{
    new_dir(d, n, name, true);
    put(d, "m.c", "int markertoken(void) { return 7; }\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm m"), 0);
}

static void test_corrupt_and_foreign(void)
{
    char d[512], db[600], bad[620];
    make_small_repo(d, sizeof d, "corrupt");
    snprintf(db, sizeof db, "%s/other/place/idx.sqlite", g_tmp);
    snprintf(bad, sizeof bad, "%s.bad", db);
    rag_options_t o = {.db_path = db};

    /* a file that is not a database, and a foreign SQLite database: the
     * user's files, refused and left as they are (issue 19) */
    sh(g_tmp, "mkdir -p other/place && printf 'garbage garbage garbage' > '%s'", db);
    rag_t *r = NULL;
    errmsg_t oerr = {0};
    o.dir = d;
    CHECK(rag_open(&r, &o, &oerr) == OCT_EINVAL && strstr(oerr.msg, "not an octet index"));
    CHECK(access(bad, F_OK) != 0);
    unlink(db);
    CHECK_EQ_INT(exec_sql(db, "CREATE TABLE mine(x); INSERT INTO mine VALUES(1);"), SQLITE_OK);
    CHECK(rag_open(&r, &o, &oerr) == OCT_EINVAL && strstr(oerr.msg, "another application"));
    unlink(db);
    r = open_at(d, &o);
    if (!r)
        return;
    update(r);
    CHECK(found(r, "markertoken", "m.c"));
    rag_close(r);
    r = open_at(d, &o); /* valid now: no notice */
    if (!r)
        return;
    CHECK_EQ_STR(rag_notice(r), "");
    rag_close(r);

    /* a version 2 index (texts inside FTS5, no table of binary files) is
     * migrated in place: no notice, nothing indexed again, the inverted
     * index rebuilt from the moved texts agrees with them, and a changed
     * file then replaces its rows */
    CHECK_EQ_INT(exec_sql_rag(db, TO_VERSION_2), SQLITE_OK);
    r = open_at(d, &o);
    if (!r)
        return;
    CHECK_EQ_STR(rag_notice(r), "");
    rag_update_stats_t mst = update(r);
    CHECK_EQ_INT(mst.changed, 0);
    CHECK(found(r, "markertoken", "m.c"));
    rag_close(r);
    CHECK_EQ_INT(exec_sql(db, "INSERT INTO skipped VALUES('x', 0, 0, 0, 0); DELETE FROM skipped"), SQLITE_OK);
    CHECK_EQ_INT(exec_sql_rag(db, "INSERT INTO fts(fts) VALUES('integrity-check')"), SQLITE_OK);
    CHECK(fts_setting(db, "hashsize") == 8388608); /* the migration makes the table as a new index does */
    put(d, "m.c", "int markertoken(void) { return 8; }\nint otherMarkerWord(void) { return 9; }\n");
    r = open_at(d, &o);
    if (!r)
        return;
    mst = update(r);
    CHECK_EQ_INT(mst.changed, 1);
    CHECK(found(r, "markertoken", "m.c"));
    CHECK(found(r, "other marker word", "m.c"));
    rag_close(r);
    CHECK_EQ_INT(exec_sql_rag(db, "INSERT INTO fts(fts) VALUES('integrity-check')"), SQLITE_OK);

    /* an index of another schema version */
    CHECK_EQ_INT(exec_sql(db, "PRAGMA user_version = 999"), SQLITE_OK);
    r = open_at(d, &o);
    if (!r)
        return;
    CHECK(strstr(rag_notice(r), "schema version 999") != NULL);
    rag_update_stats_t st = update(r);
    CHECK_EQ_INT(st.changed, 1);
    rag_close(r);

    /* damaged pages inside a valid index: found by the update or the query,
     * rebuilt, and the search still answers */
    for (int i = 0; i < 40; i++) {
        char name[32], body[200];
        snprintf(name, sizeof name, "pad%02d.c", i);
        snprintf(body, sizeof body, "int padding%02d(void) { return %d; } /* some more words to fill pages */\n", i, i);
        put(d, name, body);
    }
    r = open_at(d, &o);
    if (!r)
        return;
    update(r);
    rag_close(r);
    FILE *f = fopen(db, "r+b");
    CHECK(f != NULL);
    if (f) {
        /* every page but the first (the schema): the page size is the
         * header's big-endian 16-bit field at offset 16 */
        unsigned char hdr[18] = {0};
        CHECK(fread(hdr, 1, sizeof hdr, f) == sizeof hdr);
        long page = hdr[16] << 8 | hdr[17];
        CHECKF(page >= 512, "page size %ld", page);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        char junk[4096];
        memset(junk, 0xA5, sizeof junk);
        for (long off = page; page >= 512 && off + (long)sizeof junk <= size; off += (long)sizeof junk) {
            fseek(f, off, SEEK_SET);
            fwrite(junk, 1, sizeof junk, f);
        }
        fclose(f);
    }
    /* a reader (no check) opens the damaged index without reading it all */
    r = open_at(d, &o);
    if (!r)
        return;
    CHECK_EQ_STR(rag_notice(r), "");
    rag_close(r);
    o.check = true;
    r = open_at(d, &o);
    o.check = false;
    if (!r)
        return;
    /* opened with the check, quick_check finds the damage at once (issue 19) */
    bool found_at_open = strstr(rag_notice(r), "damaged (quick_check") != NULL;
    errmsg_t err = {0};
    int rc = rag_update(r, NULL, NULL, NULL, &st, &err);
    CHECKF(rc == 0, "update after damage: %s", err.msg);
    rag_results_t res;
    rc = rag_query(r, "markertoken", 11, 5, &res, &err);
    if (rc == OCT_EFORMAT) { /* met by the query: the next update rebuilds */
        CHECK_EQ_INT(rag_update(r, NULL, NULL, NULL, &st, &err), 0);
        rc = rag_query(r, "markertoken", 11, 5, &res, &err);
    }
    CHECKF(rc == 0, "query after damage: %s", err.msg);
    CHECK(rc == 0 && res.n == 1 && !strcmp(res.hits[0].path, "m.c"));
    if (rc == 0)
        rag_results_free(&res);
    CHECK(found_at_open);
    rag_close(r);
}

/* ---- killed and canceled updates ----------------------------------------- */

static void make_many(const char *d, int n, const char *word)
{
    for (int i = 0; i < n; i++) {
        char name[32], body[256];
        snprintf(name, sizeof name, "m/f%03d.c", i);
        snprintf(body, sizeof body,
                 "/* file %d */\nint fn%03d(int x)\n{\n    return x + %d; /* %s */\n}\n", i, i, i, tag(word, i));
        put(d, name, body);
    }
}

static int g_pipe[2];

static void stop_midway(const rag_progress_t *p, void *ud)
{
    (void)ud;
    if (p->phase == RAG_PHASE_INDEX && p->done == p->total / 2) {
        char c = 'x';
        if (write(g_pipe[1], &c, 1) != 1)
            _exit(3);
        for (;;)
            pause(); /* killed here, in the middle of the transaction */
    }
}

static void test_killed_update(void)
{
    char d[512];
    new_dir(d, sizeof d, "killed", true);
    make_many(d, 60, "oldword");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm many"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    update(r);
    rag_close(r);
    make_many(d, 60, "newword"); /* every file changes */
    CHECK_EQ_INT(pipe(g_pipe), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        rag_options_t o = {.dir = d};
        errmsg_t err;
        rag_t *c = NULL;
        if (rag_open(&c, &o, &err) != 0)
            _exit(2);
        rag_update(c, stop_midway, NULL, NULL, NULL, &err);
        _exit(4); /* not reached */
    }
    char c = 0;
    CHECK_EQ_INT(read(g_pipe[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(g_pipe[0]);
    close(g_pipe[1]);

    /* the previous index is intact and usable */
    char db[600];
    snprintf(db, sizeof db, "%s/.git/octet/index.sqlite", d);
    sqlite3 *h;
    CHECK_EQ_INT(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);
    r = open_at(d, NULL);
    if (!r)
        return;
    CHECK(found(r, tag("oldword", 30), "m/f030.c"));
    rag_update_stats_t us = update(r);
    CHECK_EQ_INT(us.files, 60);
    CHECK_EQ_INT(us.changed, 60);
    CHECK(found(r, tag("newword", 30), "m/f030.c"));
    CHECK_EQ_INT(n_hits(r, tag("oldword", 30)), 0);
    rag_close(r);
}

static void cancel_midway(const rag_progress_t *p, void *ud)
{
    if (p->phase == RAG_PHASE_INDEX && p->done == 20)
        atomic_store((atomic_int *)ud, 1);
}

static void test_cancel(void)
{
    char d[512];
    new_dir(d, sizeof d, "cancel", true);
    make_many(d, 50, "cancelword");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm many"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    atomic_int cancel = 0;
    rag_update_stats_t st;
    errmsg_t err = {0};
    CHECK_EQ_INT(rag_update(r, cancel_midway, &cancel, &cancel, &st, &err), OCT_ECANCELED);
    CHECK_EQ_INT(st.changed, 20); /* the work done is kept */
    CHECK_EQ_INT(st.files, 20);
    st = update(r);
    CHECK_EQ_INT(st.changed, 30);
    CHECK_EQ_INT(st.files, 50);
    CHECK(found(r, tag("cancelword", 49), "m/f049.c"));
    rag_close(r);
}

/* ---- worker threads ------------------------------------------------------ */

/* FNV-1a of every column of every row SQL returns from the database PATH. */
static uint64_t db_digest(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t h = 1469598103934665603ULL;
    int rows = 0;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECKF(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *v = sqlite3_column_blob(st, c);
            int n = sqlite3_column_bytes(st, c);
            for (int i = 0; i < n; i++)
                h = (h ^ v[i]) * 1099511628211ULL;
            h = (h ^ (uint64_t)sqlite3_column_type(st, c)) * 1099511628211ULL;
        }
    }
    CHECKF(rows > 0, "%s: no rows", sql);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return h;
}

/* Everything an update writes that a query reads, as digests: the files,
 * the chunks (ids, lines, symbols, hashes, compressed texts), the binary
 * files, and FTS5's index term by term (its pages may be laid out
 * differently when commits fall elsewhere). */
static void index_digest(const char db[600], uint64_t out[4])
{
    out[0] = db_digest(db, "SELECT id, path, blob, size, ino, lang, lines, chunks FROM files ORDER BY id");
    out[1] = db_digest(db, "SELECT id, file_id, start_line, end_line, symbol, hash, ztext FROM chunks ORDER BY id");
    out[2] = db_digest(db, "SELECT path, size, ino FROM skipped ORDER BY path");
    char sql[2048];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS x; CREATE VIRTUAL TABLE temp.v USING fts5vocab(x, fts, instance)", db);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t d = 1469598103934665603ULL;
    int rows = 0;
    CHECK_EQ_INT(sqlite3_open(":memory:", &h), SQLITE_OK);
    CHECKF(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK, "fts5vocab: %s", sqlite3_errmsg(h));
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "SELECT term, doc, col, offset FROM v", -1, &st, NULL), SQLITE_OK);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        const unsigned char *t = sqlite3_column_text(st, 0);
        for (int i = 0; t && t[i]; i++)
            d = (d ^ t[i]) * 1099511628211ULL;
        for (int c = 1; c < 4; c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            for (int i = 0; v && v[i]; i++)
                d = (d ^ v[i]) * 1099511628211ULL;
            d = (d ^ '|') * 1099511628211ULL;
        }
    }
    CHECKF(rows > 1000, "fts5vocab: %d term instances", rows);
    sqlite3_finalize(st);
    sqlite3_close(h);
    out[3] = d;
}

/* A file of several definitions, compound identifiers and prose. */
static void put_varied(const char *d, int i, const char *word)
{
    char name[64], body[4096];
    int n = 0;
    switch (i % 4) {
    case 0:
        snprintf(name, sizeof name, "py/mod%03d.py", i);
        for (int k = 0; k < 6; k++)
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "class Parser%dx%d:\n    \"\"\"Reads %s records.\"\"\"\n\n"
                          "    def parse_value_%d(self, rawText):\n        return rawText.split(',')\n\n",
                          i, k, tag(word, i * 8 + k), k);
        break;
    case 1:
        snprintf(name, sizeof name, "c/src%03d.c", i);
        for (int k = 0; k < 6; k++)
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "/* %s: adds the HTTPServer's counters */\nstatic int addCounter%d_%d(int x)\n{\n"
                          "    return x * %d;\n}\n\n",
                          tag(word, i * 8 + k), i, k, k + 1);
        break;
    case 2:
        snprintf(name, sizeof name, "doc/page%03d.md", i);
        for (int k = 0; k < 4; k++)
            n += snprintf(body + n, sizeof body - (size_t)n, "# Section %d of %d\n\nThe %s setting, sha256sum.\n\n", k,
                          i, tag(word, i * 8 + k));
        break;
    default:
        snprintf(name, sizeof name, "txt/notes%03d.txt", i);
        for (int k = 0; k < 70; k++) /* long enough for overlapping windows */
            n += snprintf(body + n, sizeof body - (size_t)n, "line %d %s\n", k, k % 9 ? "" : tag(word, i * 8 + k));
        break;
    }
    put(d, name, body);
}

/* The index is the same whatever the number of worker threads: after a
 * cold update, and after edits, a deletion, a new file, a touch and a file
 * become binary; the statistics too. */
static void test_workers(void)
{
    char d[512];
    new_dir(d, sizeof d, "workers", true);
    for (int i = 0; i < 120; i++)
        put_varied(d, i, "alpha");
    write_file(d, "bin/blob.dat", "\x7f" "ELF\0\0binary", 11);
    put(d, "big/huge.txt", "this file is over the size limit of the test, which is 3000 bytes ..........\n");
    for (int k = 0; k < 6; k++)
        sh(d, "cat big/huge.txt big/huge.txt > big/h2 && mv big/h2 big/huge.txt");
    put(d, "gen/skip.c", "int excluded_by_pattern;\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm varied"), 0);
    static const int workers[] = {-1, 1, 3};
    char db[3][600];
    rag_t *r[3] = {0};
    rag_update_stats_t st[3];
    const char *ex[] = {"/gen"};
    for (int w = 0; w < 3; w++) {
        snprintf(db[w], sizeof db[w], "%s/index%d.sqlite", g_tmp, w);
        rag_options_t o = {.db_path = db[w], .workers = workers[w], .max_file_bytes = 3000, .exclude = ex,
                           .n_exclude = 1};
        r[w] = open_at(d, &o);
        if (!r[w])
            goto done;
        st[w] = update(r[w]);
        CHECK(fts_setting(db[w], "hashsize") == 8388608);
        CHECK(fts_setting(db[w], "automerge") == 0); /* a small update: FTS5's default */
    }
    for (int round = 0; round < 2; round++) {
        uint64_t dg[3][4];
        for (int w = 0; w < 3; w++) {
            index_digest(db[w], dg[w]);
            CHECK_EQ_INT(st[w].changed, st[0].changed);
            CHECK_EQ_INT(st[w].unchanged, st[0].unchanged);
            CHECK_EQ_INT(st[w].removed, st[0].removed);
            CHECK_EQ_INT(st[w].chunks, st[0].chunks);
            CHECK_EQ_INT(st[w].chunks_added, st[0].chunks_added);
            CHECK_EQ_INT(st[w].skip_binary, st[0].skip_binary);
            CHECK_EQ_INT(st[w].skip_large, st[0].skip_large);
            CHECK_EQ_INT(st[w].skip_excluded, st[0].skip_excluded);
            for (int k = 0; k < 4; k++)
                CHECKF(dg[w][k] == dg[0][k], "round %d, %d workers: digest %d differs", round, workers[w], k);
        }
        CHECK(found(r[2], tag("alpha", 8 * 9 + 2), "c/src009.c"));
        if (round == 1) {
            CHECK_EQ_INT(st[0].changed, 30); /* 29 edited (one was deleted) and the new one */
            CHECK_EQ_INT(st[0].removed, 2);  /* the deleted one and the one become binary */
            CHECK_EQ_INT(st[0].skip_binary, 2);
            /* the terms FTS5 took from the workers' tokens (pretok.h), the
             * old rows' removed by SQLite's own tokenizer: what FTS5
             * finds in the columns by itself, term for term */
            for (int w = 0; w < 3; w++) {
                uint64_t again[4];
                CHECK_EQ_INT(exec_sql_rag(db[w], "INSERT INTO fts(fts) VALUES('integrity-check')"), SQLITE_OK);
                CHECK_EQ_INT(exec_sql_rag(db[w], "INSERT INTO fts(fts) VALUES('rebuild')"), SQLITE_OK);
                index_digest(db[w], again);
                CHECKF(again[3] == dg[w][3], "%d workers: the rebuilt index differs", workers[w]);
            }
            break;
        }
        CHECK_EQ_INT(st[0].changed, 120);
        CHECK_EQ_INT(st[0].skip_binary, 1);
        CHECK_EQ_INT(st[0].skip_large, 1);
        CHECK_EQ_INT(st[0].skip_excluded, 1);
        for (int i = 0; i < 120; i += 4)
            put_varied(d, i, "beta"); /* 30 files edited */
        CHECK_EQ_INT(sh(d, "rm py/mod004.py && touch c/src001.c && printf 'int x;\\0' > txt/notes003.txt"), 0);
        put_varied(d, 500, "gamma"); /* a new file */
        sleep(2); /* past the racy window: the touch is seen as one */
        for (int w = 0; w < 3; w++)
            st[w] = update(r[w]);
    }
done:
    for (int w = 0; w < 3; w++)
        rag_close(r[w]);
}

/* The writer held up on its first file (a progress callback runs on its
 * thread before each file) while three workers prepare the others. */
static void slow_start(const rag_progress_t *p, void *ud)
{
    (void)ud;
    if (p->phase == RAG_PHASE_INDEX && p->done == 0)
        usleep(500000);
}

/* Files large enough that the prepared files waiting for the writer pass
 * the ring's bound on bytes (update.c, RING_BYTES: 32 MB) long before its
 * slots run out: the workers then wait for the writer, and the index is
 * still the one made with no worker. The update is long enough to start
 * its checkpointer, and large enough to merge FTS5's segments 16 at a
 * time (update.c). */
static void test_workers_large(void)
{
    char d[512];
    new_dir(d, sizeof d, "workers_large", true);
    /* 300 files of 200 KB (60 MB), few words in each, and a binary file:
     * the workers take 16 files at a time, and check the bound then */
    CHECK_EQ_INT(sh(d, "for i in $(seq 100 399); do awk -v i=$i 'BEGIN { for (k = 1; k <= 2500; k++)"
                       " if (k %% 10) print \"========================================"
                       "========================================\";"
                       " else printf \"word%%d%%d parseValue%%d\\n\", i, k %% 300, k }' > f$i.txt; done"
                       " && printf 'bin\\0ary' > blob.dat && git add -A && git commit -qm large"),
                 0);
    static const int workers[] = {-1, 3};
    uint64_t dg[2][4];
    for (int w = 0; w < 2; w++) {
        char db[600];
        snprintf(db, sizeof db, "%s/large%d.sqlite", g_tmp, w);
        rag_options_t o = {.db_path = db, .workers = workers[w]};
        rag_t *r = open_at(d, &o);
        if (!r)
            return;
        rag_update_stats_t st = {0};
        errmsg_t err = {0};
        CHECKF(rag_update(r, slow_start, NULL, NULL, &st, &err) == 0, "rag_update: %s", err.msg);
        CHECK_EQ_INT(st.changed, 300);
        CHECK(found(r, "word137290", "f137.txt"));
        /* a large update merged 16 segments at a time, and set 4 back */
        CHECK(fts_setting(db, "automerge") == 4);
        /* the update ran over a batch (the callback's half second): its
         * checkpointer copied the log into the file before the close */
        struct stat dst;
        CHECK(stat(db, &dst) == 0 && dst.st_size > 512 * 1024);
        rag_close(r);
        index_digest(db, dg[w]);
    }
    for (int k = 0; k < 4; k++)
        CHECKF(dg[1][k] == dg[0][k], "digest %d differs with workers", k);
    /* a large update killed midway left 16: the next update that reads a
     * file sets 4 back */
    char db[600];
    snprintf(db, sizeof db, "%s/large0.sqlite", g_tmp);
    CHECK_EQ_INT(exec_sql_rag(db, "INSERT INTO fts(fts, rank) VALUES('automerge', 16)"), SQLITE_OK);
    put(d, "f100.txt", "edited\n");
    rag_options_t o = {.db_path = db};
    rag_t *r = open_at(d, &o);
    if (!r)
        return;
    CHECK_EQ_INT(update(r).changed, 1);
    rag_close(r);
    CHECK(fts_setting(db, "automerge") == 4);
}

/* ---- concurrency --------------------------------------------------------- */

typedef struct bg {
    rag_t *r;
    int rc;
    atomic_int done;
    char msg[ERRMSG_MAX];
} bg_t;

static void *bg_update(void *arg)
{
    bg_t *b = arg;
    errmsg_t err = {0};
    b->rc = rag_update(b->r, NULL, NULL, NULL, NULL, &err);
    snprintf(b->msg, sizeof b->msg, "%s", err.msg);
    atomic_store(&b->done, 1);
    return NULL;
}

static void test_query_while_updating(void)
{
    char d[512];
    new_dir(d, sizeof d, "concurrent", true);
    make_many(d, 150, "bgword");
    put(d, "anchor.c", "int anchortoken(void) { return 1; }\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm many"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    update(r);
    make_many(d, 150, "fgword");
    bg_t b = {.r = r};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, bg_update, &b), 0);
    int queries = 0, failures = 0;
    while (!atomic_load(&b.done) || queries == 0) {
        rag_results_t res;
        errmsg_t err = {0};
        if (rag_query(r, "anchortoken", 11, 5, &res, &err) != 0 || res.n != 1)
            failures++;
        else
            rag_results_free(&res);
        queries++;
    }
    pthread_join(th, NULL);
    CHECKF(b.rc == 0, "background update: %s", b.msg);
    CHECK_EQ_INT(failures, 0);
    CHECK(queries > 0);
    CHECK(found(r, tag("fgword", 100), "m/f100.c"));

    /* two handles updating at once: serialized by the lock file */
    rag_t *r2 = open_at(d, NULL);
    if (!r2) {
        rag_close(r);
        return;
    }
    make_many(d, 150, "twoword");
    bg_t b2 = {.r = r2};
    CHECK_EQ_INT(pthread_create(&th, NULL, bg_update, &b2), 0);
    rag_update_stats_t st = update(r);
    pthread_join(th, NULL);
    CHECKF(b2.rc == 0, "second handle: %s", b2.msg);
    CHECK_EQ_INT(st.files, 151);
    CHECK(found(r, tag("twoword", 7), "m/f007.c"));
    rag_close(r2);
    rag_close(r);
}

/* Over 256 files the stats are taken by a thread beside the one loading
 * the rows (update.c's stat pass): edits, deletions, a new file and one
 * become binary, in different blocks of the listing, are all seen. */
static void test_stat_thread(void)
{
    char d[512];
    new_dir(d, sizeof d, "statthread", true);
    make_many(d, 300, "stword");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm many"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    rag_update_stats_t st = update(r);
    CHECK_EQ_INT(st.changed, 300);
    st = update(r);
    CHECK_EQ_INT(st.unchanged, 300);
    CHECK_EQ_INT(st.changed, 0);
    static const int edited[] = {0, 63, 64, 150, 299};
    for (size_t i = 0; i < sizeof edited / sizeof *edited; i++) {
        char name[32], body[128];
        snprintf(name, sizeof name, "m/f%03d.c", edited[i]);
        snprintf(body, sizeof body, "int edited%03d(void) { return 0; } /* %s */\n", edited[i],
                 tag("stnew", edited[i]));
        put(d, name, body);
    }
    put(d, "m/zz_new.c", "int brandnewstat(void) { return 1; }\n");
    CHECK_EQ_INT(sh(d, "rm m/f010.c m/f200.c && printf 'bin\\0ary' > m/f100.c"), 0);
    st = update(r);
    CHECK_EQ_INT(st.changed, 6);
    CHECK_EQ_INT(st.removed, 3);
    CHECK_EQ_INT(st.skip_binary, 1);
    CHECK_EQ_INT(st.unchanged, 292);
    CHECK_EQ_INT(st.files, 298);
    for (size_t i = 0; i < sizeof edited / sizeof *edited; i++) {
        char name[32];
        snprintf(name, sizeof name, "m/f%03d.c", edited[i]);
        CHECK(found(r, tag("stnew", edited[i]), name));
        CHECK_EQ_INT(n_hits(r, tag("stword", edited[i])), 0);
    }
    CHECK(found(r, "brandnewstat", "m/zz_new.c"));
    CHECK_EQ_INT(n_hits(r, tag("stword", 10)), 0);
    CHECK_EQ_INT(n_hits(r, tag("stword", 100)), 0);
    CHECK(found(r, tag("stword", 101), "m/f101.c"));
    rag_close(r);
}

/* rag_ahead: the query run beside the update answers as rag_update then
 * rag_query_ex would, whether the update changed the index (the query is
 * asked again) or not (its answer stands). */
static bool same_results(const rag_results_t *a, const rag_results_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->hits[i].path, b->hits[i].path) || a->hits[i].start != b->hits[i].start ||
            a->hits[i].end != b->hits[i].end || a->hits[i].score != b->hits[i].score ||
            strcmp(a->hits[i].text, b->hits[i].text))
            return false;
    return true;
}

static void test_ahead(void)
{
    char d[512];
    new_dir(d, sizeof d, "ahead", true);
    make_many(d, 40, "ahword");
    put(d, "a.c", "int parse_header(const char *s) { return s[0]; } /* stalewordx */\n");
    CHECK_EQ_INT(sh(d, "git add -A && git commit -qm one"), 0);
    rag_t *r = open_at(d, NULL);
    if (!r)
        return;
    update(r);
    errmsg_t err = {0};
    rag_results_t want = {0}, got = {0};
    rag_query_info_t info;
    const char *q = "parse the header";
    /* unchanged: the answer that ran beside the update */
    rag_ahead_t *a = NULL;
    CHECK_EQ_INT(rag_ahead_start(r, q, strlen(q), 5, RAG_MODE_LEXICAL, &a, &err), 0);
    update(r);
    CHECK_EQ_INT(rag_ahead_finish(a, &got, &info, &err), 0);
    rag_ahead_free(a);
    CHECK_EQ_INT(rag_query_ex(r, q, strlen(q), 5, RAG_MODE_LEXICAL, &want, NULL, &err), 0);
    CHECK(want.n > 0 && same_results(&want, &got));
    rag_results_free(&want);
    rag_results_free(&got);
    /* changed: the query ran on the old index (it had time to), so it is
     * asked again */
    put(d, "a.c", "int parse_header(const char *s) { return s[1]; } /* freshwordx */\n");
    const char *q2 = "freshwordx";
    CHECK_EQ_INT(rag_ahead_start(r, q2, strlen(q2), 5, RAG_MODE_LEXICAL, &a, &err), 0);
    usleep(200000);
    CHECK_EQ_INT(update(r).changed, 1);
    CHECK_EQ_INT(rag_ahead_finish(a, &got, &info, &err), 0);
    rag_ahead_free(a);
    CHECK(got.n == 1 && !strcmp(got.hits[0].path, "a.c"));
    rag_results_free(&got);
    /* freed without finishing (an update that failed, say) */
    CHECK_EQ_INT(rag_ahead_start(r, q, strlen(q), 5, RAG_MODE_LEXICAL, &a, &err), 0);
    rag_ahead_free(a);
    rag_close(r);
}

int main(void)
{
    if (sh_test_home(g_tmp, sizeof g_tmp, "octet-test-rag") != 0)
        return 1;
    TEST_RUN(test_walk_and_query);
    TEST_RUN(test_incremental);
    TEST_RUN(test_witness);
    TEST_RUN(test_submodule_nested);
    TEST_RUN(test_detached_and_empty);
    TEST_RUN(test_odd_files);
    TEST_RUN(test_exclude_and_plain);
    TEST_RUN(test_hostile_queries);
    TEST_RUN(test_corrupt_and_foreign);
    TEST_RUN(test_killed_update);
    TEST_RUN(test_cancel);
    TEST_RUN(test_workers);
    TEST_RUN(test_workers_large);
    TEST_RUN(test_query_while_updating);
    TEST_RUN(test_stat_thread);
    TEST_RUN(test_ahead);
    sh("/tmp", "rm -rf '%s'", g_tmp);
    TEST_END();
}
