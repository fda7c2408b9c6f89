/* rag_int.h - what the index's files share (private to rag/): rag.c (files,
 * locks, connections, open/close, statistics), update.c, search.c and vec.c.
 *
 * The shared helpers keep the short names their code was written with; the
 * macros give them rag_ names at link time, so that nothing outside rag/
 * meets an exec() or a now_s(). */
#ifndef OCTET_RAG_INT_H
#define OCTET_RAG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "errmsg.h"
#include "rag.h"
#include "walk.h"

#define now_s rag_now_s
#define wall_ns rag_wall_ns
#define is_corrupt rag_is_corrupt
#define db_fail rag_db_fail
#define lock_take rag_lock_take
#define lock_release rag_lock_release
#define exec rag_exec
#define query_int rag_query_int
#define rebuild rag_rebuild
#define count_rows rag_count_rows
#define query_fail rag_query_fail
#define vec_refresh rag_vec_refresh
#define vec_search rag_vec_search
#define vec_cache_free rag_vec_cache_free
#define gen_bump rag_gen_bump

/* The vectors queries scan (vec.c), as of one state of the database. */
typedef struct vec_cache {
    bool loaded;
    int64_t version;   /* PRAGMA data_version of the read connection when loaded */
    size_t n_vec;      /* distinct texts with a vector of the embedder's */
    int8_t *v;         /* n_vec x dim */
    float *scale;      /* n_vec */
    size_t n_chunk;    /* chunks with a vector */
    int64_t *chunk;    /* their ids */
    uint32_t *vi;      /* and their row in v */
    size_t total, missing; /* chunks in the index, and those without a vector */
    double load_ms;
    void *map;      /* when the arrays above lie in the file of vectors (vec.c) */
    size_t map_len;
} vec_cache_t;

struct rag {
    walk_t *walk;
    char *db_path, *lock_path;
    char *skip_prefix; /* the database's path relative to the root, when inside it */
    size_t max_file_bytes;
    bool check;               /* quick_check at open (rag_options_t.check) */
    int workers;              /* threads beside the writer in an update, 0 for none */
    walk_excludes_t excludes; /* from the options */
    sqlite3 *wdb, *rdb;       /* write connection (updates), read connection (queries) */
    struct pretok *pretok;    /* the write connection's tokenizer (pretok.h), while wdb is open */
    fts5_tokenizer stem_api;  /* the index's tokenizer, to find query terms in fts5vocab */
    Fts5Tokenizer *stemmer;
    pthread_mutex_t wmu, rmu;
    atomic_bool corrupt; /* a query met corruption: the next update rebuilds */
    char notice[512];
    rag_embedder_t emb; /* valid when have_emb */
    bool have_emb;
    vec_cache_t dc; /* guarded by rmu */
};

/* rag.c */
double now_s(void);                 /* monotonic seconds */
int64_t wall_ns(void);              /* the wall clock in nanoseconds */
bool is_corrupt(int code);          /* an SQLite code that means a corrupt or foreign file */
/* OCT_EFORMAT (corrupt) or OCT_EIO with "PATH: WHAT: sqlite's message". */
int db_fail(errmsg_t *err, sqlite3 *db, const char *path, const char *what);
/* The update lock (a lock file next to the database): two processes never
 * update one index at once. Waits, watching *CANCEL; lock_release frees it. */
int lock_take(rag_t *r, const atomic_int *cancel, int *fd, errmsg_t *err);
void lock_release(int fd);
int exec(sqlite3 *db, const char *sql);             /* an SQLite code */
int query_int(sqlite3 *db, const char *sql, int64_t *v); /* one integer (0 when no row); an SQLite code */
/* Give meta 'gen' a new random value, in the transaction that changed the
 * chunks or the vectors: vec.c's file of vectors names the gen it was made
 * at, and is used only while that is still the index's. An SQLite code. */
int gen_bump(sqlite3 *db);
/* Start over with an empty database (the old one moved to .bad when ASIDE);
 * WHY goes in the notice. */
int rebuild(rag_t *r, const char *why, bool aside, errmsg_t *err);

/* update.c: the number of files and chunks in DB. */
int count_rows(rag_t *r, sqlite3 *db, size_t *files, size_t *chunks, errmsg_t *err);

/* vec.c: the cache brought up to date with the read connection (rmu held);
 * the M chunk ids (*N of them) whose vectors are nearest to QV (the
 * embedder's dim floats), best first, from the cache; the cache freed. */
int vec_refresh(rag_t *r, errmsg_t *err);
int vec_search(rag_t *r, const float *qv, size_t m, int64_t **ids, size_t *n, errmsg_t *err);
void vec_cache_free(rag_t *r);

/* search.c: the error of a failed query on the read connection (corruption
 * marks the index for a rebuild by the next update). */
int query_fail(rag_t *r, errmsg_t *err);
/* search.c: FTS5 auxiliary function rag_bm25(fts, K, AVGDL, weights...),
 * bm25() computed only for the rows that can be among the K best (search.c
 * says how). */
void rank_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval, sqlite3_value **val);

#endif
