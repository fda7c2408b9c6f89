/* rag.c - the index database and the public rag_* API (see rag.h): its
 * files and locks, connections, open and validate (rebuilding corrupt or
 * foreign files), close, statistics. The incremental update is update.c,
 * the BM25 query with the symbol boost search.c.
 *
 * Schema (RAG_SCHEMA_VERSION, with PRAGMA application_id RAG_APP_ID so that
 * a foreign SQLite file is recognized):
 *   files(id, path, blob, size, mtime_ns, ctime_ns, ino, lang, lines, chunks)
 *   chunks(id, file_id, start_line, end_line, symbol, hash, ztext): ztext
 *     is the chunk's text deflated (store.c; version 4)
 *   fts(path, symbol, words, text): FTS5, rowid = chunks.id, with external
 *     content: the view fts_src computes the columns from files.path,
 *     chunks.symbol and chunks.ztext, so that FTS5 stores only its inverted
 *     index (version 4; version 2 and 3 indexes are migrated in place)
 *   skipped(path, size, mtime_ns, ctime_ns, ino): the files found binary,
 *     with the stat they had then, so that an update reads them again only
 *     when they change (version 3; version 2 indexes gain it in place)
 *   vec(hash, scale, v): a chunk text's vector from the retrieval encoder,
 *     int8 (scale = absmax / 127), keyed by the 64-bit hash of the text
 *     (chunks.hash), so that a text seen before is never embedded again
 *     and chunks of one text share one vector; meta 'vec_model' and
 *     'vec_dim' say which encoder made them (vec.c).
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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chunk.h"
#include "pretok.h"
#include "query.h"
#include "rag_int.h"
#include "sb.h"
#include "store.h"
#include "walk.h"
#include "words.h"

#define RAG_APP_ID 0x6F637472 /* "octr" */

#define SKIPPED_TABLE                                                                                  \
    "CREATE TABLE skipped(path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"    \
    " ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL) WITHOUT ROWID;"

/* The columns FTS5 reads back (to delete a row, or when a query asks for
 * them) are recomputed: each is what update.c inserted.
 *
 * FTS5 gathers new terms in memory and writes them out as a segment when
 * they pass 'hashsize' bytes (default 1 MB); segments are then merged
 * 'automerge' at a time (default 4), which on a cold index of the standard
 * library was a third of the writer's FTS5 time. An 8 MB hash makes 7
 * segments of that index instead of ~40, and a large update merges them 16
 * at a time (update.c); queries take the same time as over the 5 segments
 * of before (docs/BENCHMARKS.md, "Sixth pass"). A larger hash was slower:
 * its terms no longer stay in cache. Results do not depend on how the
 * index is cut into segments. */
#define FTS_TABLES                                                                                     \
    "CREATE VIEW fts_src(id, path, symbol, words, text) AS SELECT c.id, rag_name(f.path),"             \
    " rag_name(c.symbol), rag_words(rag_unzip(c.ztext)), rag_unzip(c.ztext)"                           \
    " FROM chunks c JOIN files f ON f.id = c.file_id;"                                                 \
    "CREATE VIRTUAL TABLE fts USING fts5(path, symbol, words, text, content = 'fts_src',"               \
    " content_rowid = 'id', tokenize = \"porter unicode61 remove_diacritics 2 tokenchars '_'\");"     \
    "INSERT INTO fts(fts, rank) VALUES('hashsize', 8388608);"

static const char SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, blob TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
    " ino INTEGER NOT NULL, lang TEXT NOT NULL, lines INTEGER NOT NULL, chunks INTEGER NOT NULL);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL,"
    " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, symbol TEXT, hash INTEGER NOT NULL, ztext BLOB);"
    "CREATE INDEX chunks_file ON chunks(file_id);"
    "CREATE INDEX chunks_hash ON chunks(hash);"
    "CREATE TABLE vec(hash INTEGER PRIMARY KEY, scale REAL NOT NULL, v BLOB NOT NULL);"
    SKIPPED_TABLE
    FTS_TABLES
    "INSERT INTO meta(key, value) VALUES('created_by', 'octet rag');";

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool is_corrupt(int code)
{
    code &= 0xFF;
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

int db_fail(errmsg_t *err, sqlite3 *db, const char *path, const char *what)
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
int lock_take(rag_t *r, const atomic_int *cancel, int *fd, errmsg_t *err)
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

void lock_release(int fd)
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
    s = store_register(db);
    if (s != SQLITE_OK) {
        int rc = errmsg_set(err, OCT_ENOMEM, "%s: cannot define the index's functions: %s", path,
                            sqlite3_errstr(s));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    *out = db;
    return 0;
}

int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int gen_bump(sqlite3 *db)
{
    return exec(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('gen', random())");
}

/* Run SQL and read one integer (0 when no row). Returns the SQLite code. */
int query_int(sqlite3 *db, const char *sql, int64_t *v)
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
                      " name IN ('meta', 'files', 'chunks', 'fts', 'vec', 'skipped')"
                      " OR type = 'view' AND name = 'fts_src'",
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
    if (ntab != 7)
        return DB_CORRUPT;
    return DB_OK;
}

static int create_schema(sqlite3 *db, const char *path, errmsg_t *err)
{
    char sql[sizeof SCHEMA + 128];
    /* 16 KiB pages (before the first table): inserting the standard
     * library's rows took a quarter less time than with 4 KiB, and the file
     * is no larger (docs/BENCHMARKS.md, "Third pass") */
    if (exec(db, "PRAGMA page_size=16384") != SQLITE_OK || exec(db, "PRAGMA journal_mode=WAL") != SQLITE_OK)
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
    r->pretok = NULL; /* freed with wdb */
}

/* On the write connection, the tokenizer that takes the tokens the
 * update's workers made (pretok.h): before the connection first uses the
 * fts table, which makes its tokenizer then, and once the file is known to
 * be a database (registering reads the schema). */
static int writer_tokens(rag_t *r, errmsg_t *err)
{
    int s = pretok_register(r->wdb, &r->pretok);
    if (s != SQLITE_OK)
        return errmsg_set(err, OCT_EINTERNAL, "%s: SQLite's FTS5 porter tokenizer is not available: %s",
                          r->db_path, sqlite3_errstr(s));
    return 0;
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
    if (!api || api->xCreateFunction(api, "rag_bm25", NULL, rank_bm25, NULL) != SQLITE_OK ||
        api->xFindTokenizer(api, "porter", &ud, &r->stem_api) != SQLITE_OK ||
        r->stem_api.xCreate(ud, (const char **)pretok_args, PRETOK_NARGS, &r->stemmer) != SQLITE_OK) {
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
int rebuild(rag_t *r, const char *why, bool aside, errmsg_t *err)
{
    pthread_mutex_lock(&r->rmu);
    close_conns(r);
    vec_cache_free(r);
    db_remove(r->db_path, aside);
    int rc = conn_open(r->db_path, &r->wdb, err);
    if (!rc)
        rc = writer_tokens(r, err);
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

/* Bring a version 2 or 3 index to version 4 in place, keeping the chunks
 * and their (slowly made) vectors: version 3 added the table of binary
 * files, version 4 moved the chunk texts out of FTS5 into chunks.ztext. */
static int migrate(rag_t *r, int64_t version, errmsg_t *err)
{
    if (exec(r->wdb, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(err, r->wdb, r->db_path, "migrating the index to schema version 4");
    if ((version == 2 && exec(r->wdb, SKIPPED_TABLE) != SQLITE_OK) ||
        exec(r->wdb, "ALTER TABLE chunks ADD COLUMN ztext BLOB;"
                     "UPDATE chunks SET ztext = rag_zip((SELECT text FROM fts WHERE rowid = chunks.id));"
                     "DROP TABLE fts;" FTS_TABLES "INSERT INTO fts(fts) VALUES('rebuild');"
                     "PRAGMA user_version=4;COMMIT") != SQLITE_OK) {
        int rc = db_fail(err, r->wdb, r->db_path, "migrating the index to schema version 4");
        exec(r->wdb, "ROLLBACK");
        return rc;
    }
    /* only gives the space of the old texts back: an index that could not
     * be vacuumed now (a reader) is still valid, and reuses those pages */
    exec(r->wdb, "VACUUM");
    return 0;
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
    if (state != DB_FOREIGN && code == SQLITE_OK) {
        rc = writer_tokens(r, err);
        if (rc)
            return rc;
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
        if (version == 2 || version == 3) {
            rc = migrate(r, version, err);
            if (rc)
                return rc;
            break;
        }
        snprintf(why, sizeof why, "index schema version %lld, this octet uses %d", (long long)version,
                 RAG_SCHEMA_VERSION);
        return rebuild(r, why, false, err);
    case DB_OK: {
        if (code != SQLITE_OK)
            return db_fail(err, r->wdb, r->db_path, "reading the index");
        /* asked for (an explicit `octet index`): damage anywhere is found
         * now, not only by the query that happens to touch it */
        char what[120];
        if (r->check && quick_check(r->wdb, what, sizeof what)) {
            snprintf(why, sizeof why, "the index is damaged (quick_check: %s)", what);
            return rebuild(r, why, true, err);
        }
        break;
    }
    }
    if (exec(r->wdb, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        exec(r->wdb, "PRAGMA synchronous=NORMAL") != SQLITE_OK ||
        /* checkpoints every 4000 pages rather than 1000: each copies the
         * log into the file and syncs it, and a cold index wrote its pages
         * several times over; the log is cut back to 16 MiB after one */
        exec(r->wdb, "PRAGMA wal_autocheckpoint=4000") != SQLITE_OK ||
        exec(r->wdb, "PRAGMA journal_size_limit=16777216") != SQLITE_OK)
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

/* One worker per CPU this process may run on, beyond the writer's. */
static int auto_workers(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? n - 1 : 0;
}

/* Where the index is: --db's path, else DIR/.octet/ (--no-git) or the git
 * directory's octet/, for the work tree ROOT and git directory GITDIR. */
static void index_path(const rag_options_t *opt, const char *root, const char *gitdir, char *buf, size_t n)
{
    if (opt->db_path)
        snprintf(buf, n, "%s", opt->db_path);
    else if (opt->no_git)
        snprintf(buf, n, "%s/.octet/index.sqlite", root);
    else
        snprintf(buf, n, "%s/octet/index.sqlite", gitdir);
}

/* Where the index of the repository walk_open found lives: r->db_path,
 * its lock, and the prefix the listing leaves out when it is inside the
 * work tree. */
static int db_place(rag_t *r, const rag_options_t *opt, errmsg_t *err)
{
    const char *root = walk_root(r->walk);
    char dbp[PATH_MAX];
    index_path(opt, root, walk_gitdir(r->walk), dbp, sizeof dbp);
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
        if (dir[0] && !opt->db_path && mkdir(dir, 0755) != 0 && errno != EEXIST)
            return errmsg_set(err, OCT_EIO, "%s: cannot create the directory: %s", dir, strerror(errno));
        if (dir[0]) {
            int bad = stat(dir, &dst) ? errno : S_ISDIR(dst.st_mode) ? 0 : ENOTDIR;
            if (bad)
                return errmsg_set(err, OCT_ENOTFOUND, "%s: %s (the index's directory must exist; octet creates no "
                                                      "directories for --db)",
                                  dir, strerror(bad));
        }
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    if (!*base)
        return errmsg_set(err, OCT_EINVAL, "%s: the index path names a directory", dbp);
    if (!realpath(dir[0] ? dir : "/", real))
        return errmsg_set(err, OCT_EIO, "%s: %s", dir, strerror(errno));
    size_t rl = strlen(real);
    if (rl + strlen(base) + 2 >= sizeof real)
        return errmsg_set(err, OCT_EINVAL, "%s: path too long", dbp);
    snprintf(real + rl, sizeof real - rl, "%s%s", real[rl - 1] == '/' ? "" : "/", base);
    r->db_path = strdup(real);
    r->lock_path = r->db_path ? str_cat(r->db_path, ".lock") : NULL;
    if (!r->db_path || !r->lock_path)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    size_t rootl = strlen(root);
    if (!strncmp(r->db_path, root, rootl) && r->db_path[rootl] == '/') {
        r->skip_prefix = strdup(r->db_path + rootl + 1);
        if (!r->skip_prefix)
            return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

int rag_locate(const rag_options_t *opt, char *root, char *db, errmsg_t *err)
{
    char *rt = NULL, *gd = NULL;
    int rc = 0;
    if (walk_find(opt->dir ? opt->dir : ".", opt->no_git, &rt, &gd) != 0) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: no .git directory above it (libgit2 would decide)",
                        opt->dir ? opt->dir : ".");
        goto fail;
    }
    /* db_place's path, its directory's real path, nothing created */
    char dbp[PATH_MAX], dir[PATH_MAX];
    index_path(opt, rt, gd, dbp, sizeof dbp);
    const char *slash = strrchr(dbp, '/');
    const char *base = slash ? slash + 1 : dbp;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dbp) : 1, slash ? dbp : ".");
    if (!*base || !realpath(dir[0] ? dir : "/", db)) {
        rc = errmsg_set(err, OCT_ENOTFOUND, "%s: no such index directory", dir);
        goto fail;
    }
    size_t dl = strlen(db);
    if (dl + strlen(base) + 2 > PATH_MAX || strlen(rt) >= PATH_MAX) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: path too long", dbp);
        goto fail;
    }
    snprintf(db + dl, PATH_MAX - dl, "%s%s", db[dl - 1] == '/' ? "" : "/", base);
    snprintf(root, PATH_MAX, "%s", rt);
fail:
    free(rt);
    free(gd);
    return rc;
}

/* True when the index that belongs to the root and git directory walk_open
 * found without libgit2 holds the witness of a listing libgit2 made for
 * them: then the index is in the right place and libgit2 need not start.
 * Read through a connection of its own, before anything may create a
 * directory or a file there. */
static bool walk_confirmed(rag_t *r, const rag_options_t *opt)
{
    char path[PATH_MAX];
    index_path(opt, walk_root(r->walk), walk_gitdir(r->walk), path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool ok = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'walk'", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        ok = walk_witness_root(r->walk, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
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
    pthread_mutex_init(&r->wmu, NULL);
    pthread_mutex_init(&r->rmu, NULL);
    int rc = 0, lockfd = -1;
    r->max_file_bytes = opt->max_file_bytes ? opt->max_file_bytes : RAG_DEFAULT_MAX_FILE_BYTES;
    r->check = opt->check;
    r->workers = opt->workers < 0 ? 0 : opt->workers > 0 ? opt->workers : auto_workers();
    if (r->workers > RAG_MAX_WORKERS)
        r->workers = RAG_MAX_WORKERS;
    for (size_t i = 0; i < opt->n_exclude; i++)
        if (opt->exclude[i] && walk_excludes_add(&r->excludes, opt->exclude[i], strlen(opt->exclude[i]))) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto fail;
        }
    rc = walk_open(&r->walk, opt->dir ? opt->dir : ".", opt->no_git, err);
    if (rc)
        goto fail;
    /* found without libgit2 and not confirmed by the index there: libgit2
     * says where the repository is (and so the index) */
    if (walk_found_light(r->walk) && !walk_confirmed(r, opt)) {
        rc = walk_git(r->walk, true, err);
        if (rc)
            goto fail;
    }
    rc = db_place(r, opt, err);
    if (rc)
        goto fail;
    if ((rc = db_file_check(r->db_path, err)))
        goto fail;
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
    vec_cache_free(r);
    walk_close(r->walk);
    walk_excludes_free(&r->excludes);
    free(r->db_path);
    free(r->lock_path);
    free(r->skip_prefix);
    pthread_mutex_destroy(&r->wmu);
    pthread_mutex_destroy(&r->rmu);
    free(r);
}

const char *rag_root(const rag_t *r) { return walk_root(r->walk); }
const char *rag_db_path(const rag_t *r) { return r->db_path; }
const char *rag_notice(const rag_t *r) { return r->notice; }

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
