/* rag.c - the index database and the public rag_* API (see rag.h): open and
 * validate (rebuilding corrupt or foreign files), incremental update,
 * BM25 query with the symbol boost, statistics.
 *
 * Schema (RAG_SCHEMA_VERSION, with PRAGMA application_id RAG_APP_ID so that
 * a foreign SQLite file is recognized):
 *   files(id, path, blob, size, mtime_ns, ctime_ns, ino, lang, lines, chunks)
 *   chunks(id, file_id, start_line, end_line, symbol)
 *   fts(path, symbol, words, text): FTS5, rowid = chunks.id
 * The "words" column holds the parts of the compound identifiers of the
 * chunk (parse_config, parseConfig -> "parse config"), "path" and "symbol"
 * hold the name followed by its parts. The tokenizer keeps '_' inside words,
 * so an identifier typed exactly matches the text column as one word, and
 * stems English words (porter), so "parses" finds "parse". */
#include "rag.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <sqlite3.h>

#include "chunk.h"
#include "query.h"
#include "walk.h"
#include "words.h"

#define RAG_APP_ID 0x6F637472 /* "octr" */

/* BM25 column weights (path, symbol, words, text), and how many candidates
 * FTS5 returns for the common words' scores and the symbol boost to reorder
 * (at least; 4 times the hits asked for). Chosen with
 * tools/bench/rag_quality.py (docs/retrieval.md). */
#define W_PATH 2.0
#define W_SYMBOL 4.0
#define W_WORDS 1.0
#define W_TEXT 1.0
#define RERANK_MIN 100

/* Query words found in more than this share of the chunks (and more than
 * DF_FLOOR chunks) are not given to FTS5, keeping at least KEEP_MIN terms:
 * they would make it score most of the index. They are scored on the
 * candidates instead (rescore), as BM25 would (docs/retrieval.md). */
#define DF_CUT 0.02
#define DF_FLOOR 500
#define KEEP_MIN 3

/* Work is committed at least this often (seconds), so that a long update
 * shows progress to readers and a kill loses little. */
#define BATCH_SECONDS 0.5

/* A file modified less than this long before it was read may change again
 * within the file system's timestamp granularity without its stat changing:
 * its stat is not trusted on the next update (git's "racily clean" rule). */
#define RACY_NS 2000000000LL

struct rag {
    walk_t *walk;
    char *db_path, *lock_path;
    char *skip_prefix; /* the database's path relative to the root, when inside it */
    size_t max_file_bytes;
    walk_excludes_t excludes; /* from the options */
    sqlite3 *wdb, *rdb;       /* write connection (updates), read connection (queries) */
    fts5_tokenizer stem_api;  /* the index's tokenizer, to find query terms in fts5vocab */
    Fts5Tokenizer *stemmer;
    pthread_mutex_t wmu, rmu;
    atomic_bool corrupt; /* a query met corruption: the next update rebuilds */
    char notice[512];
};

static const char SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, blob TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
    " ino INTEGER NOT NULL, lang TEXT NOT NULL, lines INTEGER NOT NULL, chunks INTEGER NOT NULL);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL,"
    " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, symbol TEXT);"
    "CREATE INDEX chunks_file ON chunks(file_id);"
    "CREATE VIRTUAL TABLE fts USING fts5(path, symbol, words, text,"
    " tokenize = \"porter unicode61 remove_diacritics 2 tokenchars '_'\");"
    "INSERT INTO meta(key, value) VALUES('created_by', 'octet rag');";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool is_corrupt(int code)
{
    code &= 0xFF;
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

static int db_fail(errmsg_t *err, sqlite3 *db, const char *path, const char *what)
{
    int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
    return errmsg_set(err, is_corrupt(code) ? OCT_EFORMAT : OCT_EIO, "%s: %s: %s", path, what,
                      db ? sqlite3_errmsg(db) : "cannot open");
}

/* ---- files and locks --------------------------------------------------- */

static char *str_cat(const char *a, const char *b)
{
    size_t x = strlen(a), y = strlen(b);
    char *s = malloc(x + y + 1);
    if (s) {
        memcpy(s, a, x);
        memcpy(s + x, b, y + 1);
    }
    return s;
}

/* Take the update lock (a lock file next to the database) so that two
 * processes never update one index at once. Waits, watching *cancel. */
static int lock_take(rag_t *r, const atomic_int *cancel, int *fd, errmsg_t *err)
{
    *fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", r->lock_path, strerror(errno));
    while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(*fd);
            *fd = -1;
            return errmsg_set(err, OCT_EIO, "%s: %s", r->lock_path, strerror(e));
        }
        if (cancel && atomic_load(cancel)) {
            close(*fd);
            *fd = -1;
            return errmsg_set(err, OCT_ECANCELED, "update canceled");
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Take the update lock only if it is free: 0 taken, 1 busy, or OCT_E*. */
static int lock_try(rag_t *r, int *fd, errmsg_t *err)
{
    *fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", r->lock_path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    close(*fd);
    *fd = -1;
    return 1;
}

static void lock_release(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* ---- connections -------------------------------------------------------- */

static int conn_open(const char *path, sqlite3 **out, errmsg_t *err)
{
    sqlite3 *db = NULL;
    int s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL);
    if (s != SQLITE_OK) {
        int rc = errmsg_set(err, OCT_EIO, "%s: cannot open the index: %s", path,
                            db ? sqlite3_errmsg(db) : sqlite3_errstr(s));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    *out = db;
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Run SQL and read one integer (0 when no row). Returns the SQLite code. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (s == SQLITE_OK) {
        s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            *v = sqlite3_column_int64(st, 0);
            s = SQLITE_OK;
        } else if (s == SQLITE_DONE) {
            *v = 0;
            s = SQLITE_OK;
        }
    }
    if (s != SQLITE_OK)
        s = sqlite3_extended_errcode(db);
    sqlite3_finalize(st);
    return s;
}

enum db_state { DB_OK, DB_EMPTY, DB_FOREIGN, DB_CORRUPT, DB_OLD };

static enum db_state db_check(sqlite3 *db, int64_t *version, int64_t *app, int *sqlcode)
{
    int64_t nobj = 0, ntab = 0;
    *version = *app = 0;
    int s = query_int(db, "PRAGMA application_id", app);
    if (s == SQLITE_OK)
        s = query_int(db, "PRAGMA user_version", version);
    if (s == SQLITE_OK)
        s = query_int(db, "SELECT count(*) FROM sqlite_master", &nobj);
    if (s == SQLITE_OK)
        s = query_int(db,
                      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                      " name IN ('meta', 'files', 'chunks', 'fts')",
                      &ntab);
    *sqlcode = s;
    if (s != SQLITE_OK)
        return is_corrupt(s) ? DB_CORRUPT : DB_OK;
    if (*app == 0 && nobj == 0)
        return DB_EMPTY;
    if (*app != RAG_APP_ID)
        return DB_FOREIGN;
    if (*version != RAG_SCHEMA_VERSION)
        return DB_OLD;
    if (ntab != 4)
        return DB_CORRUPT;
    return DB_OK;
}

static int create_schema(sqlite3 *db, const char *path, errmsg_t *err)
{
    char sql[sizeof SCHEMA + 128];
    if (exec(db, "PRAGMA journal_mode=WAL") != SQLITE_OK)
        return db_fail(err, db, path, "setting WAL mode");
    snprintf(sql, sizeof sql, "BEGIN;%sPRAGMA application_id=%d;PRAGMA user_version=%d;COMMIT;", SCHEMA,
             RAG_APP_ID, RAG_SCHEMA_VERSION);
    if (exec(db, sql) != SQLITE_OK) {
        int rc = db_fail(err, db, path, "creating the index");
        exec(db, "ROLLBACK");
        return rc;
    }
    return 0;
}

/* Remove PATH and its SQLite side files; with ASIDE keep PATH as PATH.bad
 * when no file of that name exists (never replacing one). */
static void db_remove(const char *path, bool aside)
{
    char side[PATH_MAX + 8];
    snprintf(side, sizeof side, "%s.bad", path);
    if (!aside || renameat2(AT_FDCWD, path, AT_FDCWD, side, RENAME_NOREPLACE))
        unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void close_conns(rag_t *r)
{
    if (r->stemmer)
        r->stem_api.xDelete(r->stemmer);
    r->stemmer = NULL;
    sqlite3_close(r->rdb);
    sqlite3_close(r->wdb);
    r->rdb = r->wdb = NULL;
}

/* FTS5 auxiliary function rag_avgdl(fts): the average row length in tokens,
 * which the rescoring of common words needs. */
static void avgdl_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                     sqlite3_value **val)
{
    (void)nval;
    (void)val;
    sqlite3_int64 rows = 0, toks = 0;
    if (api->xRowCount(fts, &rows) != SQLITE_OK || api->xColumnTotalSize(fts, -1, &toks) != SQLITE_OK ||
        rows <= 0)
        sqlite3_result_double(ctx, 1.0);
    else
        sqlite3_result_double(ctx, (double)toks / (double)rows);
}

/* The read connection: a view of the index's vocabulary (to know how many
 * chunks hold a term) and the index's tokenizer (to turn query words into
 * its terms); then read-only. */
static int reader_open(rag_t *r, errmsg_t *err)
{
    int rc = conn_open(r->db_path, &r->rdb, err);
    if (rc)
        return rc;
    if (exec(r->rdb, "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, fts, row)") != SQLITE_OK)
        return db_fail(err, r->rdb, r->db_path, "opening the vocabulary");
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->rdb, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    void *ud = NULL;
    static const char *const args[] = {"unicode61", "remove_diacritics", "2", "tokenchars", "_"};
    if (!api || api->xCreateFunction(api, "rag_avgdl", NULL, avgdl_fn, NULL) != SQLITE_OK ||
        api->xFindTokenizer(api, "porter", &ud, &r->stem_api) != SQLITE_OK ||
        r->stem_api.xCreate(ud, (const char **)args, 5, &r->stemmer) != SQLITE_OK) {
        r->stemmer = NULL;
        return errmsg_set(err, OCT_EINTERNAL, "%s: SQLite's FTS5 porter tokenizer is not available",
                          r->db_path);
    }
    if (exec(r->rdb, "PRAGMA query_only=1") != SQLITE_OK)
        return db_fail(err, r->rdb, r->db_path, "opening for reading");
    return 0;
}

/* Start over with an empty database; WHY goes in the notice. Holds rmu
 * while the read connection is swapped. */
static int rebuild(rag_t *r, const char *why, bool aside, errmsg_t *err)
{
    pthread_mutex_lock(&r->rmu);
    close_conns(r);
    db_remove(r->db_path, aside);
    int rc = conn_open(r->db_path, &r->wdb, err);
    if (!rc)
        rc = create_schema(r->wdb, r->db_path, err);
    if (!rc)
        rc = reader_open(r, err);
    pthread_mutex_unlock(&r->rmu);
    if (!rc)
        snprintf(r->notice, sizeof r->notice, "%s: %s%s; rebuilding the index", r->db_path, why,
                 aside ? " (moved to .bad)" : "");
    return rc;
}

/* SQLite's quick_check of DB: 0 when it says "ok"; otherwise -1 with its
 * first complaint (or the error that stopped it) in WHAT. It reads every
 * page, so damage that no query has met yet is found. */
static int quick_check(sqlite3 *db, char *what, size_t n)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    int rc = 0;
    if (s == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || strcmp(t, "ok")) {
            const char *skip = "*** in database main ***\n";
            if (t && !strncmp(t, skip, strlen(skip)))
                t += strlen(skip);
            snprintf(what, n, "%s", t ? t : "no answer");
            for (char *c = what; *c; c++)
                if (*c == '\n')
                    *c = ' '; /* one line */
            rc = -1;
        }
    } else {
        snprintf(what, n, "%s", sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Open both connections, validating the file and rebuilding it when it is
 * corrupt, foreign or of another schema version. Without MAY_FIX (another
 * process holds the update lock) only a valid index is opened; otherwise
 * returns 1 with no connection open. */
static int db_open(rag_t *r, bool may_fix, errmsg_t *err)
{
    int rc = conn_open(r->db_path, &r->wdb, err);
    if (rc)
        return rc;
    int64_t version, app;
    int code;
    char why[160];
    enum db_state state = db_check(r->wdb, &version, &app, &code);
    if (!may_fix && (state != DB_OK || code != SQLITE_OK)) {
        close_conns(r);
        return 1;
    }
    switch (state) {
    case DB_EMPTY:
        rc = create_schema(r->wdb, r->db_path, err);
        if (rc)
            return rc;
        break;
    case DB_FOREIGN:
        /* someone else's database: never touched (db_file_check refuses most earlier) */
        close_conns(r);
        return errmsg_set(err, OCT_EINVAL, "%s: an SQLite database of another application (id 0x%llx), not an "
                                           "octet index: refused",
                          r->db_path, (unsigned long long)app);
    case DB_CORRUPT:
        snprintf(why, sizeof why, "the index is corrupt (%s)", sqlite3_errstr(code ? code : SQLITE_CORRUPT));
        return rebuild(r, why, true, err);
    case DB_OLD:
        snprintf(why, sizeof why, "index schema version %lld, this octet uses %d", (long long)version,
                 RAG_SCHEMA_VERSION);
        return rebuild(r, why, false, err);
    case DB_OK: {
        if (code != SQLITE_OK)
            return db_fail(err, r->wdb, r->db_path, "reading the index");
        /* opened for an update: damage anywhere is found now, not only by
         * the query that happens to touch it */
        char what[120];
        if (quick_check(r->wdb, what, sizeof what)) {
            snprintf(why, sizeof why, "the index is damaged (quick_check: %s)", what);
            return rebuild(r, why, true, err);
        }
        break;
    }
    }
    if (exec(r->wdb, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        exec(r->wdb, "PRAGMA synchronous=NORMAL") != SQLITE_OK)
        return db_fail(err, r->wdb, r->db_path, "setting up the index");
    return reader_open(r, err);
}

/* ---- open / close ------------------------------------------------------ */

/* An existing PATH must be an octet index (or empty) before SQLite opens it:
 * a regular file (not /dev/null, a FIFO, a link) starting with SQLite's
 * header and octet's application id. Anything else is the user's: refused,
 * never overwritten or moved. A damaged octet index passes (it is rebuilt). */
static int db_file_check(const char *path, errmsg_t *err)
{
    struct stat st;
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errmsg_set(err, OCT_EINVAL, "%s: not a regular file (%s): refused as the index", path,
                          S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" : "special");
    if (st.st_size == 0)
        return 0;
    unsigned char h[100];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n < (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16))
        return errmsg_set(err, OCT_EINVAL, "%s: the file exists and is not an octet index (not an SQLite "
                                           "database): refused, it is left as it is; name another --db",
                          path);
    /* id 0: an index octet is creating, or an empty database; db_check
     * tells it from another application's tables (refused then too) */
    uint32_t app = (uint32_t)h[68] << 24 | (uint32_t)h[69] << 16 | (uint32_t)h[70] << 8 | h[71];
    if (app != RAG_APP_ID && app != 0)
        return errmsg_set(err, OCT_EINVAL, "%s: an SQLite database of another application (id 0x%x), not an "
                                           "octet index: refused, it is left as it is; name another --db",
                          path, (unsigned)app);
    return 0;
}

int rag_open(rag_t **out, const rag_options_t *opt, errmsg_t *err)
{
    rag_options_t dflt = {0};
    if (!opt)
        opt = &dflt;
    *out = NULL;
    rag_t *r = calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    git_libgit2_init();
    pthread_mutex_init(&r->wmu, NULL);
    pthread_mutex_init(&r->rmu, NULL);
    int rc = 0, lockfd = -1;
    r->max_file_bytes = opt->max_file_bytes ? opt->max_file_bytes : RAG_DEFAULT_MAX_FILE_BYTES;
    for (size_t i = 0; i < opt->n_exclude; i++)
        if (opt->exclude[i] && walk_excludes_add(&r->excludes, opt->exclude[i], strlen(opt->exclude[i]))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
    rc = walk_open(&r->walk, opt->dir ? opt->dir : ".", opt->no_git, err);
    if (rc)
        goto fail;
    const char *root = walk_root(r->walk);
    char dbp[PATH_MAX];
    if (opt->db_path)
        snprintf(dbp, sizeof dbp, "%s", opt->db_path);
    else if (opt->no_git)
        snprintf(dbp, sizeof dbp, "%s/.octet/index.sqlite", root);
    else
        snprintf(dbp, sizeof dbp, "%s/octet/index.sqlite", walk_gitdir(r->walk));
    /* the directory must exist (octet creates only its own, .git/octet or
     * .octet, never the directories of a --db path); then use its real
     * path, to compare with the root */
    char dir[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", dbp);
    char *slash = strrchr(dir, '/');
    const char *base = dbp;
    if (slash) {
        *slash = '\0';
        base = dbp + (slash - dir) + 1;
        struct stat dst;
        if (dir[0] && !opt->db_path && mkdir(dir, 0755) != 0 && errno != EEXIST) {
            rc = errmsg_set(err, OCT_EIO, "%s: cannot create the directory: %s", dir, strerror(errno));
            goto fail;
        }
        if (dir[0]) {
            int bad = stat(dir, &dst) ? errno : S_ISDIR(dst.st_mode) ? 0 : ENOTDIR;
            if (bad) {
                rc = errmsg_set(err, OCT_ENOTFOUND, "%s: %s (the index's directory must exist; octet creates no "
                                                    "directories for --db)",
                                dir, strerror(bad));
                goto fail;
            }
        }
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    if (!*base) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: the index path names a directory", dbp);
        goto fail;
    }
    if (!realpath(dir[0] ? dir : "/", real)) {
        rc = errmsg_set(err, OCT_EIO, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    size_t rl = strlen(real);
    if (rl + strlen(base) + 2 >= sizeof real) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: path too long", dbp);
        goto fail;
    }
    snprintf(real + rl, sizeof real - rl, "%s%s", real[rl - 1] == '/' ? "" : "/", base);
    r->db_path = strdup(real);
    r->lock_path = r->db_path ? str_cat(r->db_path, ".lock") : NULL;
    if (!r->db_path || !r->lock_path) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = db_file_check(r->db_path, err)))
        goto fail;
    size_t rootl = strlen(root);
    if (!strncmp(r->db_path, root, rootl) && r->db_path[rootl] == '/') {
        r->skip_prefix = strdup(r->db_path + rootl + 1);
        if (!r->skip_prefix) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
    }
    /* Checking (and maybe rebuilding) the file needs the update lock. While
     * another process updates, the index it holds is valid: open it as is. */
    rc = lock_try(r, &lockfd, err);
    if (rc == 1)
        rc = db_open(r, false, err);
    else if (rc == 0)
        rc = db_open(r, true, err);
    if (rc == 1) {
        rc = lock_take(r, NULL, &lockfd, err);
        if (!rc)
            rc = db_open(r, true, err);
    }
    lock_release(lockfd);
    if (rc)
        goto fail;
    *out = r;
    return 0;
fail:
    rag_close(r);
    return rc;
}

void rag_close(rag_t *r)
{
    if (!r)
        return;
    close_conns(r);
    walk_close(r->walk);
    walk_excludes_free(&r->excludes);
    free(r->db_path);
    free(r->lock_path);
    free(r->skip_prefix);
    pthread_mutex_destroy(&r->wmu);
    pthread_mutex_destroy(&r->rmu);
    free(r);
    git_libgit2_shutdown();
}

const char *rag_root(const rag_t *r) { return walk_root(r->walk); }
const char *rag_db_path(const rag_t *r) { return r->db_path; }
const char *rag_notice(const rag_t *r) { return r->notice; }

/* ---- update ------------------------------------------------------------ */

typedef struct frow {
    int64_t id, size, mtime, ctime, ino;
    char *path;
    char blob[GIT_OID_HEXSZ + 1];
    bool seen;
} frow_t;

typedef struct upd {
    rag_t *r;
    sqlite3 *db;
    sqlite3_stmt *ins_file, *upd_file, *upd_stat, *del_fts, *del_chunks, *del_file, *ins_chunk, *ins_fts;
    frow_t *rows;
    size_t n_rows;
    walk_excludes_t ex;
    rag_update_stats_t st;
    char *buf; /* file contents */
    size_t buf_cap;
    errmsg_t *err;
} upd_t;

static int cmp_row(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const frow_t *)elem)->path);
}

static void free_rows(upd_t *u)
{
    for (size_t i = 0; i < u->n_rows; i++)
        free(u->rows[i].path);
    free(u->rows);
    u->rows = NULL;
    u->n_rows = 0;
}

static int load_rows(upd_t *u)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int s = sqlite3_prepare_v2(u->db,
                               "SELECT id, path, blob, size, mtime_ns, ctime_ns, ino FROM files ORDER BY path",
                               -1, &st, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    for (; s == SQLITE_ROW; s = sqlite3_step(st)) {
        if (u->n_rows == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            frow_t *nr = realloc(u->rows, nc * sizeof *nr);
            if (!nr) {
                sqlite3_finalize(st);
                return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
            }
            u->rows = nr;
            cap = nc;
        }
        frow_t *f = &u->rows[u->n_rows];
        memset(f, 0, sizeof *f);
        f->id = sqlite3_column_int64(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        const char *b = (const char *)sqlite3_column_text(st, 2);
        f->path = strdup(p ? p : "");
        if (!f->path) {
            sqlite3_finalize(st);
            return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
        }
        snprintf(f->blob, sizeof f->blob, "%s", b ? b : "");
        f->size = sqlite3_column_int64(st, 3);
        f->mtime = sqlite3_column_int64(st, 4);
        f->ctime = sqlite3_column_int64(st, 5);
        f->ino = sqlite3_column_int64(st, 6);
        u->n_rows++;
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_fail(u->err, u->db, u->r->db_path, "reading the file list");
    return 0;
}

static int prepare_all(upd_t *u)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } S[] = {
        {&u->ins_file, "INSERT INTO files(path, blob, size, mtime_ns, ctime_ns, ino, lang, lines, chunks)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
        {&u->upd_file, "UPDATE files SET blob = ?2, size = ?3, mtime_ns = ?4, ctime_ns = ?5, ino = ?6,"
                       " lang = ?7, lines = ?8, chunks = ?9 WHERE id = ?1"},
        {&u->upd_stat, "UPDATE files SET size = ?2, mtime_ns = ?3, ctime_ns = ?4, ino = ?5 WHERE id = ?1"},
        {&u->del_fts, "DELETE FROM fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?1)"},
        {&u->del_chunks, "DELETE FROM chunks WHERE file_id = ?1"},
        {&u->del_file, "DELETE FROM files WHERE id = ?1"},
        {&u->ins_chunk, "INSERT INTO chunks(file_id, start_line, end_line, symbol) VALUES(?1, ?2, ?3, ?4)"},
        {&u->ins_fts, "INSERT INTO fts(rowid, path, symbol, words, text) VALUES(?1, ?2, ?3, ?4, ?5)"},
    };
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
        if (sqlite3_prepare_v2(u->db, S[i].sql, -1, S[i].st, NULL) != SQLITE_OK)
            return db_fail(u->err, u->db, u->r->db_path, "preparing the update");
    return 0;
}

static void finalize_all(upd_t *u)
{
    sqlite3_stmt *all[] = {u->ins_file, u->upd_file, u->upd_stat, u->del_fts,
                           u->del_chunks, u->del_file, u->ins_chunk, u->ins_fts};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
}

/* Run a prepared statement to completion and reset it. */
static int run(upd_t *u, sqlite3_stmt *st, const char *what)
{
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_DONE)
        return db_fail(u->err, u->db, u->r->db_path, what);
    return 0;
}

/* Text builder for the path/symbol/words columns. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 2 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 2)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_part(const char *part, size_t len, void *ud)
{
    sbuf_t *b = ud;
    if (b->n)
        sb_put(b, " ", 1);
    sb_put(b, part, len);
}

/* Append to B the parts of every compound identifier in TEXT. */
static void split_words(sbuf_t *b, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (!words_is_wordbyte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t a = i;
        bool ascii = true, split = false;
        while (i < len && words_is_wordbyte((unsigned char)text[i])) {
            unsigned char c = (unsigned char)text[i];
            if (c >= 0x80)
                ascii = false;
            else if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                split = true;
            i++;
        }
        /* only ASCII identifiers with a '_', a capital or a digit can split */
        if (ascii && split && i - a <= WORDS_MAX_LEN && words_split_ident(text + a, i - a, NULL, NULL) >= 2)
            words_split_ident(text + a, i - a, sb_part, b);
    }
}

static int bind_text(sqlite3_stmt *st, int i, const char *s, size_t n)
{
    return sqlite3_bind_text64(st, i, s ? s : "", s ? n : 0, SQLITE_STATIC, SQLITE_UTF8);
}

/* Replace the chunks of file ID with those of TEXT. Returns the number of
 * chunks via *n_chunks. */
static int write_chunks(upd_t *u, int64_t id, const char *path, const char *text, size_t len,
                        const char *lang, int64_t *n_chunks, int64_t *n_lines)
{
    chunk_list_t cl = {0};
    size_t *off = NULL;
    sbuf_t pcol = {0}, scol = {0}, wcol = {0};
    int rc = 0;
    if (chunk_text(text, len, lang, &cl) != 0) {
        rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory chunking %s", path);
        goto done;
    }
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        lines++;
    *n_lines = lines;
    off = malloc(((size_t)lines + 2) * sizeof *off);
    if (!off) {
        rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    off[1] = 0;
    for (size_t i = 0, k = 2; i < len && k <= (size_t)lines; i++)
        if (text[i] == '\n')
            off[k++] = i + 1;
    off[lines + 1] = len && text[len - 1] == '\n' ? len : len + 1;

    sb_put(&pcol, path, strlen(path));
    split_words(&pcol, path, strlen(path));
    if (pcol.oom) {
        rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < cl.n; c++) {
        const chunk_t *ch = &cl.v[c];
        size_t a = off[ch->start], b = off[ch->end + 1] - 1;
        scol.n = 0;
        wcol.n = 0;
        if (ch->symbol) {
            sb_put(&scol, ch->symbol, strlen(ch->symbol));
            split_words(&scol, ch->symbol, strlen(ch->symbol));
        }
        split_words(&wcol, text + a, b - a);
        if (scol.oom || wcol.oom) {
            rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        sqlite3_bind_int64(u->ins_chunk, 1, id);
        sqlite3_bind_int(u->ins_chunk, 2, ch->start);
        sqlite3_bind_int(u->ins_chunk, 3, ch->end);
        if (ch->symbol)
            sqlite3_bind_text(u->ins_chunk, 4, ch->symbol, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(u->ins_chunk, 4);
        rc = run(u, u->ins_chunk, "writing a chunk");
        if (rc)
            goto done;
        int64_t cid = sqlite3_last_insert_rowid(u->db);
        sqlite3_bind_int64(u->ins_fts, 1, cid);
        bind_text(u->ins_fts, 2, pcol.s, pcol.n);
        bind_text(u->ins_fts, 3, scol.n ? scol.s : NULL, scol.n);
        bind_text(u->ins_fts, 4, wcol.n ? wcol.s : NULL, wcol.n);
        bind_text(u->ins_fts, 5, text + a, b - a);
        rc = run(u, u->ins_fts, "writing a chunk");
        if (rc)
            goto done;
    }
    *n_chunks = (int64_t)cl.n;
    u->st.chunks_added += cl.n;
done:
    chunk_list_free(&cl);
    free(off);
    free(pcol.s);
    free(scol.s);
    free(wcol.s);
    return rc;
}

static int delete_file_chunks(upd_t *u, int64_t id)
{
    sqlite3_bind_int64(u->del_fts, 1, id);
    int rc = run(u, u->del_fts, "removing chunks");
    if (!rc) {
        sqlite3_bind_int64(u->del_chunks, 1, id);
        rc = run(u, u->del_chunks, "removing chunks");
    }
    return rc;
}

/* Read ABS (at most max+1 bytes) into u->buf. -1: unreadable, -2: too large. */
static int read_file(upd_t *u, const char *abs, size_t *len)
{
    int fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t max = u->r->max_file_bytes, n = 0;
    if (u->buf_cap < max + 2) {
        char *nb = realloc(u->buf, max + 2);
        if (!nb) {
            close(fd);
            return -1;
        }
        u->buf = nb;
        u->buf_cap = max + 2;
    }
    for (;;) {
        ssize_t r = read(fd, u->buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            close(fd);
            return -2;
        }
    }
    close(fd);
    *len = n;
    return 0;
}

static int process_file(upd_t *u, const char *path)
{
    rag_t *r = u->r;
    if (walk_excluded(&u->ex, path)) {
        u->st.skip_excluded++;
        return 0;
    }
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s/%s", walk_root(r->walk), path);
    struct stat st;
    if (lstat(abs, &st) != 0)
        return 0; /* deleted from the work tree */
    if (!S_ISREG(st.st_mode)) {
        u->st.skip_other++;
        return 0;
    }
    if ((uint64_t)st.st_size > r->max_file_bytes) {
        u->st.skip_large++;
        return 0;
    }
    frow_t *row = u->n_rows ? bsearch(path, u->rows, u->n_rows, sizeof *u->rows, cmp_row) : NULL;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int64_t ctime = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    int64_t ino = (int64_t)st.st_ino, size = (int64_t)st.st_size;
    if (row && row->mtime != 0 && row->size == size && row->mtime == mtime && row->ctime == ctime &&
        row->ino == ino) {
        row->seen = true;
        u->st.unchanged++;
        return 0;
    }
    size_t len = 0;
    int fr = read_file(u, abs, &len);
    if (fr == -2) {
        u->st.skip_large++;
        return 0;
    }
    if (fr != 0) {
        u->st.skip_other++;
        return 0;
    }
    if (memchr(u->buf, '\0', len < 8000 ? len : 8000)) {
        u->st.skip_binary++;
        return 0;
    }
    git_oid oid;
    char hex[GIT_OID_HEXSZ + 1];
    if (git_odb_hash(&oid, u->buf, len, GIT_OBJECT_BLOB) < 0)
        return errmsg_set(u->err, OCT_EINTERNAL, "%s: cannot hash the file", path);
    git_oid_tostr(hex, sizeof hex, &oid);
    if (wall_ns() - mtime < RACY_NS)
        mtime = 0; /* not trusted next time: see RACY_NS */
    if (row && !strcmp(row->blob, hex)) {
        row->seen = true;
        u->st.unchanged++;
        sqlite3_bind_int64(u->upd_stat, 1, row->id);
        sqlite3_bind_int64(u->upd_stat, 2, size);
        sqlite3_bind_int64(u->upd_stat, 3, mtime);
        sqlite3_bind_int64(u->upd_stat, 4, ctime);
        sqlite3_bind_int64(u->upd_stat, 5, ino);
        return run(u, u->upd_stat, "updating a file");
    }
    char *text = NULL;
    size_t tlen = 0;
    if (chunk_normalize(u->buf, len, &text, &tlen) != 0)
        return errmsg_set(u->err, OCT_ENOMEM, "out of memory reading %s", path);
    const char *lang = chunk_lang(path, text, tlen);
    int rc = 0;
    int64_t id;
    if (row) {
        id = row->id;
        rc = delete_file_chunks(u, id);
    } else {
        sqlite3_bind_text(u->ins_file, 1, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(u->ins_file, 2, hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(u->ins_file, 7, lang, -1, SQLITE_STATIC);
        for (int k = 3; k <= 9; k++)
            if (k != 7)
                sqlite3_bind_int64(u->ins_file, k, 0);
        rc = run(u, u->ins_file, "adding a file");
        id = sqlite3_last_insert_rowid(u->db);
    }
    int64_t n_chunks = 0, n_lines = 0;
    if (!rc)
        rc = write_chunks(u, id, path, text, tlen, lang, &n_chunks, &n_lines);
    if (!rc) {
        sqlite3_bind_int64(u->upd_file, 1, id);
        sqlite3_bind_text(u->upd_file, 2, hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->upd_file, 3, size);
        sqlite3_bind_int64(u->upd_file, 4, mtime);
        sqlite3_bind_int64(u->upd_file, 5, ctime);
        sqlite3_bind_int64(u->upd_file, 6, ino);
        sqlite3_bind_text(u->upd_file, 7, lang, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->upd_file, 8, n_lines);
        sqlite3_bind_int64(u->upd_file, 9, n_chunks);
        rc = run(u, u->upd_file, "updating a file");
    }
    free(text);
    if (!rc) {
        if (row)
            row->seen = true;
        u->st.changed++;
    }
    return rc;
}

static int begin(upd_t *u)
{
    if (exec(u->db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "starting a transaction");
    return 0;
}

static int commit(upd_t *u)
{
    if (exec(u->db, "COMMIT") != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "committing");
    return 0;
}

static int do_update(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel, upd_t *u)
{
    walk_list_t list = {0};
    bool in_tx = false;
    int rc;
    char expath[PATH_MAX * 2];
    u->db = r->wdb;
    for (size_t i = 0; i < r->excludes.n; i++)
        if (walk_excludes_add(&u->ex, r->excludes.pats[i], strlen(r->excludes.pats[i])) != 0) {
            rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory");
            goto done;
        }
    snprintf(expath, sizeof expath, "%s/%s", walk_root(r->walk), RAG_EXCLUDE_FILE);
    rc = walk_excludes_load(&u->ex, expath, u->err);
    if (rc)
        goto done;
    if (progress)
        progress(&(rag_progress_t){.phase = RAG_PHASE_LIST}, ud);
    rc = walk_list(r->walk, r->skip_prefix, cancel, &list, u->err);
    if (rc)
        goto done;
    u->st.skip_other += list.skip_other;
    rc = prepare_all(u);
    if (!rc)
        rc = load_rows(u);
    if (!rc)
        rc = begin(u);
    if (rc)
        goto done;
    in_tx = true;
    double batch = now_s();
    for (size_t i = 0; i < list.n; i++) {
        if (progress)
            progress(&(rag_progress_t){.phase = RAG_PHASE_INDEX, .done = i, .total = list.n,
                                       .path = list.paths[i]},
                     ud);
        if (cancel && atomic_load(cancel)) {
            rc = errmsg_set(u->err, OCT_ECANCELED, "update canceled");
            break;
        }
        rc = process_file(u, list.paths[i]);
        if (rc)
            goto done;
        if (now_s() - batch > BATCH_SECONDS) {
            rc = commit(u);
            if (rc)
                goto done;
            in_tx = false;
            rc = begin(u);
            if (rc)
                goto done;
            in_tx = true;
            batch = now_s();
        }
    }
    if (!rc) {
        for (size_t i = 0; i < u->n_rows && !rc; i++) {
            if (u->rows[i].seen)
                continue;
            rc = delete_file_chunks(u, u->rows[i].id);
            if (!rc) {
                sqlite3_bind_int64(u->del_file, 1, u->rows[i].id);
                rc = run(u, u->del_file, "removing a file");
            }
            u->st.removed++;
        }
        if (rc)
            goto done;
    }
    /* the chunk count, for the query's share of chunks holding a term */
    if (!rc && exec(u->db, "INSERT OR REPLACE INTO meta(key, value) VALUES('chunks',"
                           " (SELECT count(*) FROM chunks))") != SQLITE_OK) {
        rc = db_fail(u->err, u->db, r->db_path, "counting chunks");
        goto done;
    }
    /* commit what was done, also when canceled */
    {
        int c = commit(u);
        if (c) {
            rc = c;
            goto done;
        }
        in_tx = false;
    }
    if (progress && !rc)
        progress(&(rag_progress_t){.phase = RAG_PHASE_DONE, .done = list.n, .total = list.n}, ud);
done:
    if (in_tx)
        exec(u->db, "ROLLBACK");
    walk_list_free(&list);
    return rc;
}

static void upd_reset(upd_t *u)
{
    finalize_all(u);
    free_rows(u);
    walk_excludes_free(&u->ex);
    u->ins_file = u->upd_file = u->upd_stat = u->del_fts = NULL;
    u->del_chunks = u->del_file = u->ins_chunk = u->ins_fts = NULL;
}

static int count_rows(rag_t *r, sqlite3 *db, size_t *files, size_t *chunks, errmsg_t *err)
{
    int64_t f = 0, c = 0;
    if (query_int(db, "SELECT count(*) FROM files", &f) != SQLITE_OK ||
        query_int(db, "SELECT count(*) FROM chunks", &c) != SQLITE_OK)
        return db_fail(err, db, r->db_path, "counting");
    *files = (size_t)f;
    *chunks = (size_t)c;
    return 0;
}

int rag_update(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel,
               rag_update_stats_t *st, errmsg_t *err)
{
    double t0 = now_s();
    int lockfd = -1;
    upd_t u = {.r = r, .err = err};
    if (st)
        memset(st, 0, sizeof *st);
    pthread_mutex_lock(&r->wmu);
    r->notice[0] = '\0';
    int rc = lock_take(r, cancel, &lockfd, err);
    if (rc)
        goto out;
    if (atomic_load(&r->corrupt)) {
        rc = rebuild(r, "the index is corrupt", true, err);
        atomic_store(&r->corrupt, false);
        if (rc)
            goto out;
    }
    if (!r->wdb) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index could not be reopened", r->db_path);
        goto out;
    }
    rc = do_update(r, progress, ud, cancel, &u);
    if (rc == OCT_EFORMAT) {
        /* corruption met on the way: start over once, from an empty index */
        upd_reset(&u);
        memset(&u.st, 0, sizeof u.st);
        rc = rebuild(r, "the index is corrupt", true, err);
        if (!rc)
            rc = do_update(r, progress, ud, cancel, &u);
    }
    if (!rc || rc == OCT_ECANCELED) {
        errmsg_t cerr;
        if (count_rows(r, r->wdb, &u.st.files, &u.st.chunks, rc ? &cerr : err) != 0 && !rc)
            rc = err ? err->code : OCT_EIO;
    }
out:
    upd_reset(&u);
    free(u.buf);
    lock_release(lockfd);
    pthread_mutex_unlock(&r->wmu);
    u.st.seconds = now_s() - t0;
    if (st)
        *st = u.st;
    return rc;
}

/* ---- query ------------------------------------------------------------- */

typedef struct cand {
    int64_t id;
    double score;
    int start, end;
    char *path, *lang, *symbol, *text;
} cand_t;

static int by_score(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    char *s = strdup((const char *)t);
    if (!s)
        *oom = true;
    return s;
}

static int query_fail(rag_t *r, errmsg_t *err)
{
    int code = sqlite3_extended_errcode(r->rdb);
    if (is_corrupt(code)) {
        atomic_store(&r->corrupt, true);
        return errmsg_set(err, OCT_EFORMAT, "%s: the index is corrupt (%s); the next update rebuilds it",
                          r->db_path, sqlite3_errmsg(r->rdb));
    }
    return errmsg_set(err, OCT_EINTERNAL, "%s: query failed: %s", r->db_path, sqlite3_errmsg(r->rdb));
}

typedef struct stems {
    char tok[8][WORDS_MAX_LEN + 1];
    int n;
} stems_t;

static int stem_cb(void *ctx, int flags, const char *tok, int len, int start, int end)
{
    (void)flags;
    (void)start;
    (void)end;
    stems_t *s = ctx;
    if (s->n < 8 && len > 0 && len <= WORDS_MAX_LEN) {
        memcpy(s->tok[s->n], tok, (size_t)len);
        s->tok[s->n][len] = '\0';
        s->n++;
    }
    return SQLITE_OK;
}

#define MAX_COMMON 16

typedef struct common {
    char stem[WORDS_MAX_LEN + 1];
    size_t len;
    int64_t df;
} common_t;

/* How a query is run: which terms FTS5 searches for (keep), which common
 * words are only scored on the candidates found. */
typedef struct qplan {
    bool *keep;
    char (*stem)[WORDS_MAX_LEN + 1]; /* each term's index term, "" for phrases */
    common_t common[MAX_COMMON];
    size_t n_common;
    int64_t n_chunks;
} qplan_t;

/* Which terms of Q to search for: those held by few enough chunks (see
 * DF_CUT), at least KEEP_MIN of the rarest, never one absent from the index;
 * the other words present in the index become PLAN's common words.
 * Returns 0 or OCT_E* (with the read lock held). */
static int choose_terms(rag_t *r, const query_t *q, qplan_t *plan, errmsg_t *err)
{
    bool *keep = plan->keep;
    int64_t n_chunks = 0;
    int64_t *df = calloc(q->n_terms ? q->n_terms : 1, sizeof *df);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (!df)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (query_int(r->rdb, "SELECT value FROM meta WHERE key = 'chunks'", &n_chunks) != SQLITE_OK ||
        sqlite3_prepare_v2(r->rdb, "SELECT doc FROM temp.vocab WHERE term = ?1", -1, &st, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    for (size_t i = 0; i < q->n_terms; i++) {
        stems_t s = {.n = 0};
        const char *t = q->terms[i].text;
        r->stem_api.xTokenize(r->stemmer, &s, FTS5_TOKENIZE_QUERY, t, (int)strlen(t), stem_cb);
        int64_t best = -1;
        for (int j = 0; j < s.n; j++) {
            sqlite3_bind_text(st, 1, s.tok[j], -1, SQLITE_STATIC);
            int64_t d = 0;
            int x = sqlite3_step(st);
            if (x == SQLITE_ROW)
                d = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
            if (x != SQLITE_ROW && x != SQLITE_DONE) {
                rc = query_fail(r, err);
                goto done;
            }
            if (best < 0 || d < best)
                best = d; /* a phrase is at most as frequent as its rarest word */
        }
        df[i] = best < 0 ? 0 : best;
        if (s.n == 1 && !q->terms[i].phrase)
            snprintf(plan->stem[i], sizeof plan->stem[i], "%s", s.tok[0]);
    }
    plan->n_chunks = n_chunks;
    double cut = DF_CUT * (double)n_chunks;
    if (cut < DF_FLOOR)
        cut = DF_FLOOR;
    size_t kept = 0;
    for (size_t i = 0; i < q->n_terms; i++) {
        keep[i] = df[i] > 0 && (double)df[i] <= cut;
        kept += keep[i] && !q->terms[i].phrase;
    }
    while (kept < KEEP_MIN) { /* only common words: search the rarest of them */
        size_t best = q->n_terms;
        for (size_t i = 0; i < q->n_terms; i++)
            if (!keep[i] && !q->terms[i].phrase && df[i] > 0 && (best == q->n_terms || df[i] < df[best]))
                best = i;
        if (best == q->n_terms)
            break;
        keep[best] = true;
        kept++;
    }
    /* the common words left out are scored on the candidates (rescore) */
    for (size_t i = 0; i < q->n_terms && plan->n_common < MAX_COMMON; i++) {
        if (keep[i] || q->terms[i].phrase || df[i] == 0 || !plan->stem[i][0])
            continue;
        common_t *c = &plan->common[plan->n_common++];
        snprintf(c->stem, sizeof c->stem, "%s", plan->stem[i]);
        c->len = strlen(c->stem);
        c->df = df[i];
    }
done:
    sqlite3_finalize(st);
    free(df);
    return rc;
}

typedef struct tfctx {
    const qplan_t *plan;
    double w;    /* weight of the column being read */
    double *f;   /* weighted frequency of each common word */
    int64_t dl;  /* tokens in the row */
} tfctx_t;

static int tf_cb(void *ctx, int flags, const char *tok, int len, int start, int end)
{
    (void)start;
    (void)end;
    tfctx_t *t = ctx;
    if (flags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    t->dl++;
    for (size_t i = 0; i < t->plan->n_common; i++)
        if ((size_t)len == t->plan->common[i].len && !memcmp(tok, t->plan->common[i].stem, (size_t)len))
            t->f[i] += t->w;
    return SQLITE_OK;
}

/* BM25 of the common words in a candidate row, as FTS5's bm25() would add
 * it had they been searched for: k1 = 1.2, b = 0.75, column weights, the
 * index's average row length AVGDL. COLS are the row's four columns. */
static double rescore(rag_t *r, const qplan_t *plan, const char *const cols[4], double avgdl)
{
    static const double W[4] = {W_PATH, W_SYMBOL, W_WORDS, W_TEXT};
    double f[MAX_COMMON] = {0};
    tfctx_t t = {.plan = plan, .f = f};
    for (int c = 0; c < 4; c++) {
        if (!cols[c])
            continue;
        t.w = W[c];
        r->stem_api.xTokenize(r->stemmer, &t, FTS5_TOKENIZE_DOCUMENT, cols[c], (int)strlen(cols[c]), tf_cb);
    }
    const double k1 = 1.2, b = 0.75;
    double n = (double)plan->n_chunks, score = 0;
    if (avgdl <= 0)
        avgdl = 1;
    for (size_t i = 0; i < plan->n_common; i++) {
        if (f[i] == 0)
            continue;
        double df = (double)plan->common[i].df;
        double idf = log((n - df + 0.5) / (df + 0.5));
        if (idf <= 0)
            idf = 1e-6;
        score += idf * f[i] * (k1 + 1) / (f[i] + k1 * (1 - b + b * (double)t.dl / avgdl));
    }
    return score;
}

int rag_query(rag_t *r, const char *prompt, size_t len, size_t k, rag_results_t *out, errmsg_t *err)
{
    memset(out, 0, sizeof *out);
    query_t q;
    cand_t *cands = NULL;
    qplan_t plan = {0};
    char *fts = NULL;
    size_t nc = 0;
    sqlite3_stmt *match = NULL, *meta = NULL, *text = NULL;
    bool oom = false;
    int rc = 0;
    if (k == 0 || !prompt || len == 0)
        return 0;
    if (k > RAG_MAX_HITS)
        k = RAG_MAX_HITS;
    if (query_build(prompt, len, &q) != 0)
        return errmsg_set(err, OCT_ENOMEM, "out of memory building the query");
    if (q.n_terms == 0) {
        query_free(&q);
        return 0;
    }
    size_t want = k * 4 > RERANK_MIN ? k * 4 : RERANK_MIN;
    pthread_mutex_lock(&r->rmu);
    if (!r->rdb || !r->stemmer) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        goto done;
    }
    plan.keep = calloc(q.n_terms, sizeof *plan.keep);
    plan.stem = calloc(q.n_terms, sizeof *plan.stem);
    if (!plan.keep || !plan.stem) {
        oom = true;
        goto done;
    }
    rc = choose_terms(r, &q, &plan, err);
    if (rc)
        goto done;
    fts = query_fts(&q, plan.keep, &oom);
    if (!fts)
        goto done; /* no term of the prompt is in the index */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT rowid, bm25(fts, %.2f, %.2f, %.2f, %.2f) AS s, rag_avgdl(fts) FROM fts"
             " WHERE fts MATCH ?1 ORDER BY s LIMIT ?2",
             W_PATH, W_SYMBOL, W_WORDS, W_TEXT);
    if (sqlite3_prepare_v2(r->rdb, sql, -1, &match, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->rdb,
                           "SELECT c.start_line, c.end_line, c.symbol, f.path, f.lang FROM chunks c"
                           " JOIN files f ON f.id = c.file_id WHERE c.id = ?1",
                           -1, &meta, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->rdb, "SELECT path, symbol, words, text FROM fts WHERE rowid = ?1", -1, &text,
                           NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    cands = calloc(want, sizeof *cands);
    if (!cands) {
        oom = true;
        goto done;
    }
    sqlite3_bind_text(match, 1, fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(match, 2, (sqlite3_int64)want);
    int s;
    double avgdl = 1;
    while ((s = sqlite3_step(match)) == SQLITE_ROW && nc < want) {
        cands[nc].id = sqlite3_column_int64(match, 0);
        cands[nc].score = -sqlite3_column_double(match, 1);
        avgdl = sqlite3_column_double(match, 2);
        nc++;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
        rc = query_fail(r, err);
        goto done;
    }
    for (size_t i = 0; i < nc && !oom; i++) {
        sqlite3_bind_int64(meta, 1, cands[i].id);
        s = sqlite3_step(meta);
        if (s == SQLITE_ROW) {
            cands[i].start = sqlite3_column_int(meta, 0);
            cands[i].end = sqlite3_column_int(meta, 1);
            cands[i].symbol = col_dup(meta, 2, &oom);
            cands[i].path = col_dup(meta, 3, &oom);
            cands[i].lang = col_dup(meta, 4, &oom);
        } else if (s != SQLITE_DONE) {
            sqlite3_reset(meta);
            rc = query_fail(r, err);
            goto done;
        }
        sqlite3_reset(meta);
        sqlite3_bind_int64(text, 1, cands[i].id);
        s = sqlite3_step(text);
        if (s == SQLITE_ROW) {
            const char *cols[4];
            for (int c = 0; c < 4; c++)
                cols[c] = (const char *)sqlite3_column_text(text, c);
            if (plan.n_common)
                cands[i].score += rescore(r, &plan, cols, avgdl);
            cands[i].text = col_dup(text, 3, &oom);
        }
        sqlite3_reset(text);
        if (s != SQLITE_ROW && s != SQLITE_DONE) {
            rc = query_fail(r, err);
            goto done;
        }
        cands[i].score *= query_symbol_boost(&q, cands[i].symbol);
    }
    if (oom)
        goto done;
    if (nc > 1)
        qsort(cands, nc, sizeof *cands, by_score);
    out->hits = calloc(k < nc ? k : (nc ? nc : 1), sizeof *out->hits);
    if (!out->hits) {
        oom = true;
        goto done;
    }
    for (size_t i = 0; i < nc && out->n < k; i++) {
        cand_t *c = &cands[i];
        if (!c->path)
            continue; /* a chunk row without its file: skip it */
        rag_hit_t *h = &out->hits[out->n++];
        h->path = c->path;
        h->lang = c->lang;
        h->symbol = c->symbol;
        h->text = c->text ? c->text : strdup("");
        c->path = c->lang = c->symbol = c->text = NULL;
        h->start = c->start;
        h->end = c->end;
        h->score = c->score;
        if (!h->text)
            oom = true;
    }
done:
    sqlite3_finalize(match);
    sqlite3_finalize(meta);
    sqlite3_finalize(text);
    pthread_mutex_unlock(&r->rmu);
    for (size_t i = 0; i < nc; i++) {
        free(cands[i].path);
        free(cands[i].lang);
        free(cands[i].symbol);
        free(cands[i].text);
    }
    free(cands);
    free(plan.keep);
    free(plan.stem);
    free(fts);
    query_free(&q);
    if (oom && !rc)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading results");
    if (rc)
        rag_results_free(out);
    return rc;
}

void rag_results_free(rag_results_t *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n; i++) {
        free(res->hits[i].path);
        free(res->hits[i].lang);
        free(res->hits[i].symbol);
        free(res->hits[i].text);
    }
    free(res->hits);
    res->hits = NULL;
    res->n = 0;
}

/* ---- statistics -------------------------------------------------------- */

int rag_stats(rag_t *r, rag_index_stats_t *st, errmsg_t *err)
{
    memset(st, 0, sizeof *st);
    st->schema_version = RAG_SCHEMA_VERSION;
    sqlite3_stmt *q = NULL;
    int rc = 0;
    pthread_mutex_lock(&r->rmu);
    if (!r->rdb) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        goto done;
    }
    rc = count_rows(r, r->rdb, &st->files, &st->chunks, err);
    if (rc)
        goto done;
    if (sqlite3_prepare_v2(r->rdb,
                           "SELECT lang, count(*), sum(chunks) FROM files GROUP BY lang"
                           " ORDER BY 2 DESC, 1",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        if (st->n_langs == cap) {
            size_t nc = cap ? cap * 2 : 16;
            rag_lang_count_t *nl = realloc(st->langs, nc * sizeof *nl);
            if (!nl) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto done;
            }
            st->langs = nl;
            cap = nc;
        }
        rag_lang_count_t *l = &st->langs[st->n_langs++];
        const unsigned char *name = sqlite3_column_text(q, 0);
        snprintf(l->lang, sizeof l->lang, "%s", name ? (const char *)name : "");
        l->files = (size_t)sqlite3_column_int64(q, 1);
        l->chunks = (size_t)sqlite3_column_int64(q, 2);
    }
    if (s != SQLITE_DONE) {
        rc = query_fail(r, err);
        goto done;
    }
    struct stat sb;
    char wal[PATH_MAX + 8];
    if (stat(r->db_path, &sb) == 0)
        st->db_bytes += (uint64_t)sb.st_size;
    snprintf(wal, sizeof wal, "%s-wal", r->db_path);
    if (stat(wal, &sb) == 0)
        st->db_bytes += (uint64_t)sb.st_size;
done:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&r->rmu);
    if (rc)
        rag_index_stats_free(st);
    return rc;
}

void rag_index_stats_free(rag_index_stats_t *st)
{
    if (!st)
        return;
    free(st->langs);
    st->langs = NULL;
    st->n_langs = 0;
}
