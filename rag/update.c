/* update.c - the incremental update of the index (rag_update, see rag.h):
 * the files that changed since the last update (by stat, then by blob id)
 * are chunked again and their rows replaced, in transactions committed
 * often, under the index's lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chunk.h"
#include "dense.h"
#include "pretok.h"
#include "query.h"
#include "rag.h"
#include "rag_int.h"
#include "sb.h"
#include "sha1.h"
#include "store.h"
#include "walk.h"
#include "words.h"

/* Work is committed at least this often (seconds), so that a long update
 * shows progress to readers and a kill loses little. */
#define BATCH_SECONDS 0.5

/* A file modified less than this long before it was read may change again
 * within the file system's timestamp granularity without its stat changing:
 * its stat is not trusted on the next update (git's "racily clean" rule). */
#define RACY_NS 2000000000LL

/* ---- update ------------------------------------------------------------ */

typedef struct frow {
    int64_t id, size, mtime, ctime, ino;
    char *path;
    char blob[SHA1_HEX_LEN + 1];
    bool seen;
} frow_t;

typedef struct upd {
    rag_t *r;
    sqlite3 *db;
    sqlite3_stmt *ins_file, *upd_file, *upd_stat, *del_fts, *del_chunks, *del_file, *ins_chunk, *ins_fts;
    sqlite3_stmt *put_skip, *del_skip;
    frow_t *rows; /* files, by path */
    size_t n_rows;
    frow_t *skip; /* skipped (binary) files, by path */
    size_t n_skip;
    walk_excludes_t ex;
    rag_update_stats_t st;
    bool dirty; /* chunks written or removed since the last commit */
    bool wrote; /* chunks written or removed by this update */
    /* the work tree's root, which the listed paths are relative to: an lstat
     * from there skips resolving the root's own components, 2,400 times */
    int root;
    errmsg_t *err;
} upd_t;

static int cmp_row(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const frow_t *)elem)->path);
}

static int cmp_rows(const void *a, const void *b)
{
    return strcmp(((const frow_t *)a)->path, ((const frow_t *)b)->path);
}

static void free_rows(frow_t **rows, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*rows)[i].path);
    free(*rows);
    *rows = NULL;
    *n = 0;
}

/* Read the rows of SQL (id, path, blob, size, mtime_ns, ctime_ns, ino)
 * into *ROWS. */
static int load_rows(upd_t *u, const char *sql, frow_t **rows, size_t *n_rows)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int s = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_step(st);
    for (; s == SQLITE_ROW; s = sqlite3_step(st)) {
        if (*n_rows == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            frow_t *nr = realloc(*rows, nc * sizeof *nr);
            if (!nr) {
                sqlite3_finalize(st);
                return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
            }
            *rows = nr;
            cap = nc;
        }
        frow_t *f = &(*rows)[*n_rows];
        memset(f, 0, sizeof *f);
        f->id = sqlite3_column_int64(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        const char *b = (const char *)sqlite3_column_text(st, 2);
        f->path = strdup(p ? p : "");
        if (!f->path) {
            sqlite3_finalize(st);
            return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
        }
        size_t bl = b ? (size_t)sqlite3_column_bytes(st, 2) : 0;
        if (bl >= sizeof f->blob)
            bl = sizeof f->blob - 1;
        memcpy(f->blob, b ? b : "", bl);
        f->blob[bl] = '\0';
        f->size = sqlite3_column_int64(st, 3);
        f->mtime = sqlite3_column_int64(st, 4);
        f->ctime = sqlite3_column_int64(st, 5);
        f->ino = sqlite3_column_int64(st, 6);
        (*n_rows)++;
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
        {&u->ins_chunk, "INSERT INTO chunks(file_id, start_line, end_line, symbol, hash, ztext)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
        {&u->ins_fts, "INSERT INTO fts(rowid, path, symbol, words, text) VALUES(?1, ?2, ?3, ?4, ?5)"},
        {&u->put_skip, "INSERT OR REPLACE INTO skipped(path, size, mtime_ns, ctime_ns, ino) VALUES(?1, ?2, ?3, ?4, ?5)"},
        {&u->del_skip, "DELETE FROM skipped WHERE path = ?1"},
    };
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
        if (sqlite3_prepare_v2(u->db, S[i].sql, -1, S[i].st, NULL) != SQLITE_OK)
            return db_fail(u->err, u->db, u->r->db_path, "preparing the update");
    return 0;
}

static void finalize_all(upd_t *u)
{
    sqlite3_stmt *all[] = {u->ins_file, u->upd_file,   u->upd_stat,  u->del_fts,  u->del_chunks,
                           u->del_file, u->ins_chunk, u->ins_fts, u->put_skip, u->del_skip};
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

static int bind_text(sqlite3_stmt *st, int i, const char *s, size_t n)
{
    return sqlite3_bind_text64(st, i, s ? s : "", s ? n : 0, SQLITE_STATIC, SQLITE_UTF8);
}

/* ---- the pipeline --------------------------------------------------------
 * Reading, hashing, chunking, splitting words and compressing a file need no
 * database, and were 40 % of a cold index: worker threads do them (prep) for
 * the files of the list, each into the ring slot of its file, while the
 * caller's thread, the only one that writes to SQLite, applies the slots in
 * list order (apply). Files are inserted in the same order as with no
 * worker, so the rows, their ids and the index are the same whatever the
 * number of workers. */

/* How far the workers may run ahead of the writer: slots in the ring, and
 * bytes held by files prepared and not yet applied. While the writer
 * commits (FTS5 then writes out its hash of new terms, tens of
 * milliseconds) the workers go on filling the ring; 64 slots were filled
 * before a commit ended, and 256 took a cold stdlib index's update from
 * 1.26 to 1.10 s (docs/BENCHMARKS.md, "Sixth pass"). The bound on bytes keeps a ring of
 * large files from holding hundreds of megabytes; it is checked when a
 * batch is taken, so each worker's batch in progress may pass it. */
#define RING 256
#define RING_BYTES ((size_t)32 << 20)

typedef enum prep_kind {
    P_GONE,        /* deleted from the work tree since the listing */
    P_EXCLUDED,    /* an exclude pattern */
    P_OTHER,       /* not a regular file, or unreadable */
    P_LARGE,       /* over max_file_bytes */
    P_SAME_STAT,   /* indexed, and its stat unchanged */
    P_SAME_BINARY, /* binary, and its stat unchanged */
    P_BINARY,      /* binary: remember its stat */
    P_SAME_BLOB,   /* a new stat but the same bytes: refresh the stat */
    P_CHANGED,     /* new or changed: its chunks are in the slot */
    P_FAIL,        /* prep's error is in err */
    P_READ,        /* to be read (stat_kind; never applied) */
} prep_kind_t;

typedef struct prep_chunk {
    int64_t hash;             /* the key of the text's vector (vec.c) */
    size_t text, text_n;      /* the chunk's text, in prep.text */
    size_t sym, sym_n;        /* the symbol column, in prep.cols */
    size_t words, words_n;    /* the words column, in prep.cols */
    size_t z, z_n;            /* the compressed text, in prep.z */
    size_t tok[3], tok_n[3];  /* the tokens of symbol, words and text, in prep.toks */
} prep_chunk_t;

typedef struct prep {
    prep_kind_t kind;
    frow_t *row, *skip; /* the file's rows, read-only to workers */
    int64_t size, mtime, ctime, ino;
    char hex[SHA1_HEX_LEN + 1];
    const char *lang;
    char *text; /* normalized */
    int64_t lines;
    chunk_list_t cl;
    prep_chunk_t *ch; /* cl.n */
    size_t path_n;    /* the path column: the first path_n bytes of cols */
    size_t path_tok_n; /* its tokens: the first path_tok_n bytes of toks */
    sbuf_t cols, z;
    sbuf_t toks;  /* FTS5's tokens of the columns (pretok.h) */
    size_t bytes; /* held by the text, columns, tokens and compressed texts (RING_BYTES) */
    errmsg_t err;
} prep_t;

/* What a thread needs to prep files: its read buffer, compressor and
 * tokenizer. */
typedef struct prep_scratch {
    char *buf;
    size_t cap;
    store_zip_t zip;
    sbuf_t col; /* one column, made apart: store_split_words separates parts from what precedes them */
    pretok_tok_t tk;
} prep_scratch_t;

static void scratch_free(prep_scratch_t *sc)
{
    free(sc->buf);
    store_zip_free(&sc->zip);
    sb_free(&sc->col);
    pretok_tok_free(&sc->tk);
}

static void prep_clear(prep_t *p)
{
    free(p->text);
    chunk_list_free(&p->cl);
    free(p->ch);
    sb_free(&p->cols);
    sb_free(&p->z);
    sb_free(&p->toks);
    memset(p, 0, sizeof *p);
}

/* Read PATH below the directory ROOT (at most max+1 bytes) into the scratch
 * buffer. -1: unreadable, -2: too large. */
static int read_file(prep_scratch_t *sc, size_t max, int root, const char *path, size_t *len)
{
    int fd = openat(root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    if (sc->cap < max + 2) {
        char *nb = realloc(sc->buf, max + 2);
        if (!nb) {
            close(fd);
            return -1;
        }
        sc->buf = nb;
        sc->cap = max + 2;
    }
    for (;;) {
        ssize_t r = read(fd, sc->buf + n, max + 1 - n);
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

/* FTS5's tokens of the column TEXT (N bytes), appended to P->toks at *AT
 * (*LEN bytes). An SQLite code. */
static int prep_tokens(prep_scratch_t *sc, prep_t *p, const char *text, size_t n, size_t *at, size_t *len)
{
    *at = p->toks.n;
    int s = pretok_run(&sc->tk, text ? text : "", n, &p->toks);
    *len = p->toks.n - *at;
    return s;
}

/* The chunks of P->text with their columns, their tokens, hashes and
 * compressed texts. */
static int prep_chunks(prep_scratch_t *sc, const char *path, size_t tlen, prep_t *p)
{
    const char *text = p->text;
    size_t *off = NULL;
    int rc = 0;
    if (chunk_text(text, tlen, p->lang, &p->cl) != 0)
        goto oom;
    int lines = 0;
    for (size_t i = 0; i < tlen; i++)
        lines += text[i] == '\n';
    if (tlen && text[tlen - 1] != '\n')
        lines++;
    p->lines = lines;
    off = malloc(((size_t)lines + 2) * sizeof *off);
    p->ch = calloc(p->cl.n ? p->cl.n : 1, sizeof *p->ch);
    if (!off || !p->ch)
        goto oom;
    off[1] = 0;
    for (size_t i = 0, k = 2; i < tlen && k <= (size_t)lines; i++)
        if (text[i] == '\n')
            off[k++] = i + 1;
    off[lines + 1] = tlen && text[tlen - 1] == '\n' ? tlen : tlen + 1;
    store_name_col(&p->cols, path, strlen(path));
    p->path_n = p->cols.n;
    size_t at;
    int ts = p->cols.oom ? SQLITE_NOMEM : prep_tokens(sc, p, p->cols.s, p->path_n, &at, &p->path_tok_n);
    for (size_t c = 0; c < p->cl.n && ts == SQLITE_OK; c++) {
        const chunk_t *ch = &p->cl.v[c];
        prep_chunk_t *pc = &p->ch[c];
        size_t a = off[ch->start], b = off[ch->end + 1] - 1;
        const unsigned char *z;
        size_t zn;
        pc->text = a;
        pc->text_n = b - a;
        pc->hash = dense_hash(text + a, b - a);
        sc->col.n = 0;
        if (ch->symbol)
            store_name_col(&sc->col, ch->symbol, strlen(ch->symbol));
        pc->sym = p->cols.n;
        pc->sym_n = sc->col.n;
        if (sc->col.n)
            sb_addn(&p->cols, sc->col.s, sc->col.n);
        if (sc->col.oom)
            goto oom;
        ts = prep_tokens(sc, p, sc->col.s, sc->col.n, &pc->tok[0], &pc->tok_n[0]);
        sc->col.n = 0;
        store_split_words(&sc->col, text + a, b - a);
        pc->words = p->cols.n;
        pc->words_n = sc->col.n;
        if (sc->col.n)
            sb_addn(&p->cols, sc->col.s, sc->col.n);
        if (sc->col.oom)
            goto oom;
        if (ts == SQLITE_OK)
            ts = prep_tokens(sc, p, sc->col.s, sc->col.n, &pc->tok[1], &pc->tok_n[1]);
        if (ts == SQLITE_OK)
            ts = prep_tokens(sc, p, text + a, b - a, &pc->tok[2], &pc->tok_n[2]);
        if (store_zip(&sc->zip, text + a, b - a, &z, &zn))
            goto oom;
        pc->z = p->z.n;
        pc->z_n = zn;
        sb_addn(&p->z, (const char *)z, zn);
        if (p->cols.oom || p->z.oom)
            goto oom;
    }
    if (ts == SQLITE_NOMEM)
        goto oom;
    if (ts != SQLITE_OK)
        rc = errmsg_set(&p->err, OCT_EINTERNAL, "%s: FTS5's tokenizer failed: %s", path, sqlite3_errstr(ts));
    goto done;
oom:
    rc = errmsg_set(&p->err, OCT_ENOMEM, "out of memory chunking %s", path);
done:
    free(off);
    return rc;
}

/* A file's stat, as the stat pass gathers it: the kind when the stat alone
 * decides it (P_EXCLUDED, P_GONE, P_OTHER, P_LARGE), else P_READ. */
typedef struct fstat_s {
    prep_kind_t kind;
    int64_t size, mtime, ctime, ino;
} fstat_t;

/* Needs no rows: the stat pass calls it before they are loaded. */
static void stat_file(upd_t *u, const char *path, fstat_t *f)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    if (walk_excluded(&u->ex, path))
        f->kind = P_EXCLUDED;
    else if (fstatat(u->root, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
        f->kind = P_GONE;
    else if (!S_ISREG(st.st_mode))
        f->kind = P_OTHER;
    else if ((uint64_t)st.st_size > u->r->max_file_bytes)
        f->kind = P_LARGE;
    else {
        f->kind = P_READ;
        f->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        f->ctime = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
        f->ino = (int64_t)st.st_ino;
        f->size = (int64_t)st.st_size;
    }
}

/* What the stat F of PATH says, into P: a kind, or P_READ when the file
 * must be read. Reads only the rows, so threads may call it at once. */
static prep_kind_t judge_stat(upd_t *u, const char *path, const fstat_t *f, prep_t *p)
{
    memset(p, 0, sizeof *p);
    if (f->kind != P_READ)
        return p->kind = f->kind;
    frow_t *row = u->n_rows ? bsearch(path, u->rows, u->n_rows, sizeof *u->rows, cmp_row) : NULL;
    frow_t *skip = u->n_skip ? bsearch(path, u->skip, u->n_skip, sizeof *u->skip, cmp_row) : NULL;
    p->row = row;
    p->skip = skip;
    p->mtime = f->mtime;
    p->ctime = f->ctime;
    p->ino = f->ino;
    p->size = f->size;
    if (row && row->mtime != 0 && row->size == p->size && row->mtime == p->mtime && row->ctime == p->ctime &&
        row->ino == p->ino)
        return p->kind = P_SAME_STAT;
    /* a binary file as it was: not read again (the stdlib's 163 binary
     * files were 13 MB of reading at every search) */
    if (skip && skip->mtime != 0 && skip->size == p->size && skip->mtime == p->mtime &&
        skip->ctime == p->ctime && skip->ino == p->ino)
        return p->kind = P_SAME_BINARY;
    return p->kind = P_READ;
}

static prep_kind_t stat_kind(upd_t *u, const char *path, prep_t *p)
{
    fstat_t f;
    stat_file(u, path, &f);
    return judge_stat(u, path, &f, p);
}

/* Everything about the file PATH that needs no database, into P. */
static void prep_file(upd_t *u, prep_scratch_t *sc, const char *path, prep_t *p)
{
    rag_t *r = u->r;
    if (stat_kind(u, path, p) != P_READ)
        return;
    if (wall_ns() - p->mtime < RACY_NS)
        p->mtime = 0; /* not trusted next time: see RACY_NS */
    size_t len = 0;
    int fr = read_file(sc, r->max_file_bytes, u->root, path, &len);
    if (fr) {
        p->kind = fr == -2 ? P_LARGE : P_OTHER;
        return;
    }
    if (memchr(sc->buf, '\0', len < 8000 ? len : 8000)) {
        p->kind = P_BINARY;
        return;
    }
    /* git's blob id, hashed here: libgit2 and the dozen libraries it pulls
     * in would cost a search ~10 ms of loading after every edit */
    sha1_git_blob(sc->buf, len, p->hex);
    if (p->row && !strcmp(p->row->blob, p->hex)) {
        p->kind = P_SAME_BLOB;
        return;
    }
    size_t tlen = 0;
    if (chunk_normalize(sc->buf, len, &p->text, &tlen) != 0) {
        p->kind = P_FAIL;
        errmsg_set(&p->err, OCT_ENOMEM, "out of memory reading %s", path);
        return;
    }
    p->lang = chunk_lang(path, p->text, tlen);
    p->kind = prep_chunks(sc, path, tlen, p) ? P_FAIL : P_CHANGED;
    p->bytes = tlen + p->cols.n + p->toks.n + p->z.n;
}

/* Replace the chunks of file ID with those P holds. */
static int write_chunks(upd_t *u, int64_t id, const prep_t *p)
{
    for (size_t c = 0; c < p->cl.n; c++) {
        const chunk_t *ch = &p->cl.v[c];
        const prep_chunk_t *pc = &p->ch[c];
        sqlite3_bind_int64(u->ins_chunk, 1, id);
        sqlite3_bind_int(u->ins_chunk, 2, ch->start);
        sqlite3_bind_int(u->ins_chunk, 3, ch->end);
        if (ch->symbol)
            sqlite3_bind_text(u->ins_chunk, 4, ch->symbol, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(u->ins_chunk, 4);
        sqlite3_bind_int64(u->ins_chunk, 5, pc->hash);
        sqlite3_bind_blob64(u->ins_chunk, 6, p->z.s + pc->z, pc->z_n, SQLITE_STATIC);
        int rc = run(u, u->ins_chunk, "writing a chunk");
        if (rc)
            return rc;
        int64_t cid = sqlite3_last_insert_rowid(u->db);
        const char *sym = pc->sym_n ? p->cols.s + pc->sym : NULL;
        const char *words = pc->words_n ? p->cols.s + pc->words : NULL;
        sqlite3_bind_int64(u->ins_fts, 1, cid);
        bind_text(u->ins_fts, 2, p->cols.s, p->path_n);
        bind_text(u->ins_fts, 3, sym, pc->sym_n);
        bind_text(u->ins_fts, 4, words, pc->words_n);
        bind_text(u->ins_fts, 5, p->text + pc->text, pc->text_n);
        /* the tokens the workers made, for FTS5 to take instead of
         * tokenizing the columns again here */
        pretok_t *pt = u->r->pretok;
        const char *tk = p->toks.s ? p->toks.s : ""; /* none when no column had a token */
        pretok_expect(pt, 0, p->cols.s, p->path_n, tk, p->path_tok_n);
        pretok_expect(pt, 1, sym ? sym : "", pc->sym_n, tk + pc->tok[0], pc->tok_n[0]);
        pretok_expect(pt, 2, words ? words : "", pc->words_n, tk + pc->tok[1], pc->tok_n[1]);
        pretok_expect(pt, 3, p->text + pc->text, pc->text_n, tk + pc->tok[2], pc->tok_n[2]);
        rc = run(u, u->ins_fts, "writing a chunk");
        pretok_clear(pt);
        if (rc)
            return rc;
    }
    u->st.chunks_added += p->cl.n;
    return 0;
}

static int delete_file_chunks(upd_t *u, int64_t id)
{
    u->dirty = u->wrote = true;
    sqlite3_bind_int64(u->del_fts, 1, id);
    int rc = run(u, u->del_fts, "removing chunks");
    if (!rc) {
        sqlite3_bind_int64(u->del_chunks, 1, id);
        rc = run(u, u->del_chunks, "removing chunks");
    }
    return rc;
}

/* Write what prep found about PATH. */
static int apply_file(upd_t *u, const char *path, prep_t *p)
{
    frow_t *row = p->row;
    int rc = 0;
    switch (p->kind) {
    case P_GONE:
        return 0;
    case P_EXCLUDED:
        u->st.skip_excluded++;
        return 0;
    case P_OTHER:
        u->st.skip_other++;
        return 0;
    case P_LARGE:
        u->st.skip_large++;
        return 0;
    case P_FAIL:
        return errmsg_set(u->err, p->err.code, "%s", p->err.msg);
    case P_SAME_STAT:
        row->seen = true;
        u->st.unchanged++;
        return 0;
    case P_SAME_BINARY:
        p->skip->seen = true;
        u->st.skip_binary++;
        return 0;
    case P_BINARY:
        u->st.skip_binary++;
        if (p->skip)
            p->skip->seen = true;
        sqlite3_bind_text(u->put_skip, 1, path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->put_skip, 2, p->size);
        sqlite3_bind_int64(u->put_skip, 3, p->mtime);
        sqlite3_bind_int64(u->put_skip, 4, p->ctime);
        sqlite3_bind_int64(u->put_skip, 5, p->ino);
        return run(u, u->put_skip, "remembering a binary file");
    case P_SAME_BLOB:
        row->seen = true;
        u->st.unchanged++;
        sqlite3_bind_int64(u->upd_stat, 1, row->id);
        sqlite3_bind_int64(u->upd_stat, 2, p->size);
        sqlite3_bind_int64(u->upd_stat, 3, p->mtime);
        sqlite3_bind_int64(u->upd_stat, 4, p->ctime);
        sqlite3_bind_int64(u->upd_stat, 5, p->ino);
        return run(u, u->upd_stat, "updating a file");
    case P_CHANGED:
        break;
    case P_READ:
        return errmsg_set(u->err, OCT_EINTERNAL, "%s: applied before it was read", path);
    }
    int64_t id;
    if (row) {
        id = row->id;
        rc = delete_file_chunks(u, id);
    } else {
        sqlite3_bind_text(u->ins_file, 1, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(u->ins_file, 2, p->hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(u->ins_file, 7, p->lang, -1, SQLITE_STATIC);
        for (int k = 3; k <= 9; k++)
            if (k != 7)
                sqlite3_bind_int64(u->ins_file, k, 0);
        rc = run(u, u->ins_file, "adding a file");
        id = sqlite3_last_insert_rowid(u->db);
    }
    u->dirty = u->wrote = true;
    if (!rc)
        rc = write_chunks(u, id, p);
    if (!rc) {
        sqlite3_bind_int64(u->upd_file, 1, id);
        sqlite3_bind_text(u->upd_file, 2, p->hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->upd_file, 3, p->size);
        sqlite3_bind_int64(u->upd_file, 4, p->mtime);
        sqlite3_bind_int64(u->upd_file, 5, p->ctime);
        sqlite3_bind_int64(u->upd_file, 6, p->ino);
        sqlite3_bind_text(u->upd_file, 7, p->lang, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->upd_file, 8, p->lines);
        sqlite3_bind_int64(u->upd_file, 9, (int64_t)p->cl.n);
        rc = run(u, u->upd_file, "updating a file");
    }
    if (!rc) {
        if (row)
            row->seen = true;
        u->st.changed++;
    }
    return rc;
}

/* The ring between the workers and the writer. File i goes to slot
 * i % RING; a thread takes file i only once the writer has applied file
 * i - RING, so a slot has one owner at a time. Files are taken BATCH at a
 * time: an unchanged file is one lstat, and handing each one over alone
 * cost more than the lstat (a search over 2,271 unchanged files was 10 ms
 * slower with one worker than with none). */
#define BATCH 16

typedef struct ring {
    upd_t *u;
    const walk_list_t *list;
    pthread_mutex_t mu;
    pthread_cond_t ready, freed;
    size_t next;    /* the next file to take */
    size_t applied; /* files the writer has applied (their slots are free) */
    size_t held;    /* bytes of the files prepared and not yet applied */
    bool stop;
    bool done[RING];
    prep_t slot[RING];
} ring_t;

/* With MU held: take the next files there is room for (none: 0), prepare
 * them without the lock, and mark them done. The file the writer applies
 * next is always taken, whatever the ring holds: the writer waits for it. */
static size_t ring_work(ring_t *g, prep_scratch_t *sc)
{
    size_t i = g->next, room = g->applied + RING - i, left = g->list->n - i;
    size_t k = left < room ? left : room;
    if (k > BATCH)
        k = BATCH;
    if (g->stop || k == 0 || (i > g->applied && g->held > RING_BYTES))
        return 0;
    g->next += k;
    pthread_mutex_unlock(&g->mu);
    for (size_t j = i; j < i + k; j++)
        prep_file(g->u, sc, g->list->paths[j], &g->slot[j % RING]);
    pthread_mutex_lock(&g->mu);
    for (size_t j = i; j < i + k; j++) {
        g->done[j % RING] = true;
        g->held += g->slot[j % RING].bytes;
    }
    pthread_cond_broadcast(&g->ready);
    return k;
}

/* A worker's ring and its scratch (made, with its tokenizer, by the
 * writer's thread, which owns the connection the tokenizer comes from). */
typedef struct worker {
    ring_t *g;
    prep_scratch_t sc;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    ring_t *g = w->g;
    pthread_mutex_lock(&g->mu);
    while (!g->stop && g->next < g->list->n)
        if (!ring_work(g, &w->sc) && !g->stop && g->next < g->list->n)
            pthread_cond_wait(&g->freed, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* The prepared file I of the list. While it is not ready the writer
 * prepares files itself rather than wait: all of them when there is no
 * worker, and its share of a list of unchanged files, where it would
 * otherwise have nothing to do. */
static prep_t *ring_take(ring_t *g, size_t i, prep_scratch_t *sc)
{
    pthread_mutex_lock(&g->mu);
    while (!g->done[i % RING])
        if (!ring_work(g, sc))
            pthread_cond_wait(&g->ready, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return &g->slot[i % RING];
}

/* Whether every file has been taken (the workers have no more to do). */
static bool ring_all_taken(ring_t *g)
{
    pthread_mutex_lock(&g->mu);
    bool all = g->next >= g->list->n;
    pthread_mutex_unlock(&g->mu);
    return all;
}

static void ring_release(ring_t *g, size_t i)
{
    size_t bytes = g->slot[i % RING].bytes;
    prep_clear(&g->slot[i % RING]);
    pthread_mutex_lock(&g->mu);
    g->held -= bytes;
    g->done[i % RING] = false;
    g->applied = i + 1;
    pthread_cond_broadcast(&g->freed);
    pthread_mutex_unlock(&g->mu);
}

/* The witness of the last full listing (meta 'walk'), empty when none. */
static int read_witness(upd_t *u, sbuf_t *w)
{
    sqlite3_stmt *q = NULL;
    int s = sqlite3_prepare_v2(u->db, "SELECT value FROM meta WHERE key = 'walk'", -1, &q, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_step(q);
    if (s == SQLITE_ROW) {
        sb_addn(w, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0));
        s = SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (s != SQLITE_DONE)
        return db_fail(u->err, u->db, u->r->db_path, "reading the listing's witness");
    return w->oom ? errmsg_set(u->err, OCT_ENOMEM, "out of memory") : 0;
}

static int write_witness(upd_t *u, const sbuf_t *w)
{
    sqlite3_stmt *q = NULL;
    int s = sqlite3_prepare_v2(u->db,
                               w->n ? "INSERT OR REPLACE INTO meta(key, value) VALUES('walk', ?1)"
                                    : "DELETE FROM meta WHERE key = 'walk'",
                               -1, &q, NULL);
    if (s == SQLITE_OK && w->n)
        s = sqlite3_bind_blob64(q, 1, w->s, w->n, SQLITE_STATIC);
    if (s == SQLITE_OK)
        s = sqlite3_step(q);
    sqlite3_finalize(q);
    if (s != SQLITE_DONE)
        return db_fail(u->err, u->db, u->r->db_path, "keeping the listing's witness");
    return 0;
}

static int begin(upd_t *u)
{
    if (exec(u->db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "starting a transaction");
    return 0;
}

static int commit(upd_t *u)
{
    if ((u->dirty && gen_bump(u->db) != SQLITE_OK) || exec(u->db, "COMMIT") != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "committing");
    u->dirty = false;
    return 0;
}

/* Stop the workers (those still busy finish their batch) and free the ring. */
static void ring_free(ring_t *g, pthread_t *th, int workers)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->freed);
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < workers; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < RING; i++)
        prep_clear(&g->slot[i]);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->ready);
    pthread_cond_destroy(&g->freed);
    free(g);
}

/* ---- the checkpointer ------------------------------------------------------
 * A long update writes the whole index through the write-ahead log, which
 * the last connection to close then copies into the file, syncing both:
 * 0.11 s at the end of a cold stdlib index, on one core. Near the end the
 * workers run out of files while the writer still applies those in the
 * ring: from then a core is free. So when an update that has already
 * committed a batch finds every file taken, it commits, and a thread with
 * its own connection checkpoints meanwhile (a passive checkpoint neither
 * waits for nor blocks the writer); the close then copies only the rest
 * (0.045 s; wall time 0.05 s less, docs/BENCHMARKS.md, "Sixth pass").
 * Checkpointing after every batch instead slowed the writer as much as it
 * saved, both cores being busy then. A checkpointer that cannot start
 * leaves the copy to the close, as before. */
typedef struct ckpt {
    sqlite3 *db;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned commits, done; /* batches committed, and those checkpointed since */
    bool stop;
} ckpt_t;

/* Checkpoint each batch signalled, those signalled before the stop too. */
static void *ckpt_main(void *arg)
{
    ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && c->done == c->commits)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->done == c->commits)
            break;
        c->done = c->commits;
        pthread_mutex_unlock(&c->mu);
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Start the checkpointer of the index at PATH into *OUT (NULL when it
 * cannot start: the update goes on without). */
static void ckpt_start(const char *path, ckpt_t **out)
{
    *out = NULL;
    ckpt_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    /* a read opens the connection's log, which a checkpoint needs */
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        exec(c->db, "PRAGMA schema_version") != SQLITE_OK) {
        sqlite3_close(c->db);
        free(c);
        return;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->th, NULL, ckpt_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        sqlite3_close(c->db);
        free(c);
        return;
    }
    *out = c;
}

/* A batch was committed: copy it. */
static void ckpt_signal(ckpt_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->commits++;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Stop (the checkpoint of a batch signalled ends first: the close would
 * copy it otherwise) and free C. */
static void ckpt_stop(ckpt_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    sqlite3_close(c->db);
    free(c);
}

/* ---- merging ----------------------------------------------------------------
 * FTS5 merges its segments 'automerge' at a time (FTS5's default 4). On a
 * cold index of the standard library, merging 4 at a time rewrote the
 * inverted index several times over; 16 at a time a large update merges
 * nothing (its 6-8 segments, rag.c, stay): the cold index's update went
 * from 1.39 to 1.26 s (docs/BENCHMARKS.md, "Sixth pass"). Small updates
 * keep 4, so that the small segments each of them adds are merged soon:
 * queries read every segment (0.1 ms each). An update that reads files
 * sets the value it needs and a large one sets 4 back after its last
 * commit, so a large update killed midway leaves 16 only until the next
 * update that reads a file. */
#define MERGE_SMALL 4
#define MERGE_LARGE 16
#define LARGE_UPDATE 256 /* files to read */

static int set_automerge(upd_t *u, int64_t n)
{
    int64_t cur = 0;
    if (query_int(u->db, "SELECT v FROM fts_config WHERE k = 'automerge'", &cur) != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "reading FTS5's settings");
    if (cur == n || (cur == 0 && n == MERGE_SMALL)) /* none: FTS5's default */
        return 0;
    char sql[80];
    snprintf(sql, sizeof sql, "INSERT INTO fts(fts, rank) VALUES('automerge', %lld)", (long long)n);
    if (exec(u->db, sql) != SQLITE_OK)
        return db_fail(u->err, u->db, u->r->db_path, "setting FTS5's merging");
    return 0;
}

/* ---- the stat pass --------------------------------------------------------
 * Over an unchanged tree (every search) each file is one stat, and the
 * stats are most of an update (2,800 of them, 4 ms of a stdlib search's
 * 7). Handed through the ring with the files to read, they cost more in
 * locking and waking than the stats themselves: so every file is first
 * judged by its stat alone, and only those that must be read go through
 * the pipeline. The stats are taken by a thread of their own, from the
 * moment the files are listed, while this one loads the rows they are
 * judged against, then by both, a block at a time. What the pass finds
 * writes nothing, so the order of the writes is unchanged. */
#define STAT_BLOCK 64
#define STAT_THREAD_MIN 256 /* fewer files: not worth a thread */

typedef struct stat_gather {
    upd_t *u;
    const walk_list_t *list;
    fstat_t *f; /* list->n */
    atomic_size_t next;
    pthread_t th;
    bool started;
} stat_gather_t;

static void gather(stat_gather_t *g)
{
    for (;;) {
        size_t i = atomic_fetch_add(&g->next, STAT_BLOCK);
        if (i >= g->list->n)
            return;
        size_t end = i + STAT_BLOCK < g->list->n ? i + STAT_BLOCK : g->list->n;
        for (; i < end; i++)
            stat_file(g->u, g->list->paths[i], &g->f[i]);
    }
}

static void *gather_main(void *p)
{
    gather(p);
    return NULL;
}

static int gather_start(stat_gather_t *g, upd_t *u, const walk_list_t *list)
{
    g->u = u;
    g->list = list;
    atomic_init(&g->next, 0);
    g->f = malloc((list->n ? list->n : 1) * sizeof *g->f);
    if (!g->f)
        return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
    /* a thread that cannot start leaves the stats to this one */
    g->started = list->n >= STAT_THREAD_MIN && pthread_create(&g->th, NULL, gather_main, g) == 0;
    return 0;
}

/* Waits for the stats, taking its share when HELP (else the thread stops
 * after its block). */
static void gather_finish(stat_gather_t *g, bool help)
{
    if (g->f && help)
        gather(g);
    else if (g->f)
        atomic_store(&g->next, g->list->n);
    if (g->started)
        pthread_join(g->th, NULL);
    g->started = false;
}

/* The files of LIST to read, into TO_READ (its paths borrowed from LIST),
 * by their stats in G; the others applied. */
static int stat_pass(upd_t *u, stat_gather_t *g, const walk_list_t *list, walk_list_t *to_read)
{
    gather_finish(g, true);
    to_read->paths = malloc((list->n ? list->n : 1) * sizeof *to_read->paths);
    to_read->n = 0;
    if (!to_read->paths)
        return errmsg_set(u->err, OCT_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < list->n && !rc; i++) {
        prep_t p;
        if (judge_stat(u, list->paths[i], &g->f[i], &p) == P_READ)
            to_read->paths[to_read->n++] = list->paths[i];
        else
            rc = apply_file(u, list->paths[i], &p);
    }
    return rc;
}

static int do_update(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel, upd_t *u)
{
    walk_list_t list = {0}, to_read = {0};
    stat_gather_t sg = {0};
    sbuf_t witness = {0}, old = {0};
    bool full = false;
    ring_t *ring = NULL;
    ckpt_t *ck = NULL;
    bool ck_tried = false;
    unsigned batches = 0;
    pthread_t th[RAG_MAX_WORKERS];
    worker_t wk[RAG_MAX_WORKERS] = {0};
    int workers = 0;
    prep_scratch_t sc = {0};
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
    /* the listing from the last one's witness when it still holds (walk.c):
     * no libgit2, no walk of the tree */
    rc = read_witness(u, &old);
    if (!rc)
        rc = old.n ? walk_list_fast(r->walk, r->skip_prefix, old.s, old.n, &list) : 1;
    if (rc == 1) {
        full = true;
        rc = walk_list(r->walk, r->skip_prefix, cancel, &list, &witness, u->err);
    } else if (rc) {
        rc = errmsg_set(u->err, rc, "out of memory listing files");
    }
    if (rc)
        goto done;
    u->st.listed_fast = !full;
    u->st.skip_other += list.skip_other;
    u->root = open(walk_root(r->walk), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (u->root < 0) {
        rc = errmsg_set(u->err, OCT_EIO, "%s: %s", walk_root(r->walk), strerror(errno));
        goto done;
    }
    rc = gather_start(&sg, u, &list);
    if (!rc)
        rc = prepare_all(u);
    if (!rc)
        rc = load_rows(u, "SELECT id, path, blob, size, mtime_ns, ctime_ns, ino FROM files", &u->rows, &u->n_rows);
    /* sorted here: in the path index's order SQLite looked each row up in
     * the table, a third of an unchanged update's reading */
    if (!rc && u->n_rows > 1)
        qsort(u->rows, u->n_rows, sizeof *u->rows, cmp_rows);
    if (!rc)
        rc = load_rows(u, "SELECT 0, path, '', size, mtime_ns, ctime_ns, ino FROM skipped ORDER BY path",
                       &u->skip, &u->n_skip);
    if (!rc)
        rc = begin(u);
    if (rc)
        goto done;
    in_tx = true;
    /* an index made before meta 'gen' existed gets one, once, so that its
     * vectors can be mapped from their file (vec.c) */
    int64_t gen = 0;
    if (query_int(u->db, "SELECT count(*) FROM meta WHERE key = 'gen'", &gen) != SQLITE_OK) {
        rc = db_fail(u->err, u->db, r->db_path, "reading the index's generation");
        goto done;
    }
    u->dirty = gen == 0;
    rc = stat_pass(u, &sg, &list, &to_read);
    if (!rc && to_read.n)
        rc = set_automerge(u, to_read.n >= LARGE_UPDATE ? MERGE_LARGE : MERGE_SMALL);
    if (rc)
        goto done;
    ring = calloc(1, sizeof *ring);
    if (!ring) {
        rc = errmsg_set(u->err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    ring->u = u;
    ring->list = &to_read;
    pthread_mutex_init(&ring->mu, NULL);
    pthread_cond_init(&ring->ready, NULL);
    pthread_cond_init(&ring->freed, NULL);
    /* a thread that cannot start leaves its share to the others and to
     * this one; none starts for nothing to read. Their tokenizers are made
     * here, on the thread of the connection they come from. */
    int want = (size_t)r->workers < to_read.n ? r->workers : (int)to_read.n;
    for (int i = -1; i < want && to_read.n; i++)
        if (pretok_tok_new(r->pretok, i < 0 ? &sc.tk : &wk[i].sc.tk) != SQLITE_OK) {
            rc = errmsg_set(u->err, OCT_EINTERNAL, "%s: SQLite's FTS5 porter tokenizer is not available",
                            r->db_path);
            goto done;
        }
    for (; workers < want; workers++) {
        wk[workers].g = ring;
        if (pthread_create(&th[workers], NULL, worker_main, &wk[workers]) != 0)
            break;
    }
    double batch = now_s();
    for (size_t i = 0; i < to_read.n; i++) {
        if (progress)
            progress(&(rag_progress_t){.phase = RAG_PHASE_INDEX, .done = list.n - to_read.n + i, .total = list.n,
                                       .path = to_read.paths[i]},
                     ud);
        if (cancel && atomic_load(cancel)) {
            rc = errmsg_set(u->err, OCT_ECANCELED, "update canceled");
            break;
        }
        rc = apply_file(u, to_read.paths[i], ring_take(ring, i, &sc));
        ring_release(ring, i);
        if (rc)
            goto done;
        /* the workers are done: the log is copied on the free core (the
         * checkpointer, above) */
        bool drain = !ck_tried && batches && ring_all_taken(ring);
        if (drain || now_s() - batch > BATCH_SECONDS) {
            rc = commit(u);
            if (rc)
                goto done;
            in_tx = false;
            batches++;
            if (drain) {
                ck_tried = true;
                ckpt_start(r->db_path, &ck);
            }
            if (ck)
                ckpt_signal(ck);
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
        /* binary files gone or now text */
        for (size_t i = 0; i < u->n_skip && !rc; i++) {
            if (u->skip[i].seen)
                continue;
            sqlite3_bind_text(u->del_skip, 1, u->skip[i].path, -1, SQLITE_STATIC);
            rc = run(u, u->del_skip, "forgetting a binary file");
        }
        if (rc)
            goto done;
    }
    /* the chunk count, for the query's share of chunks holding a term;
     * written only when it changed, so that an update that found nothing
     * to do writes nothing (no commit to sync at every search), and
     * counted only when chunks came or went (or it was never written):
     * counting 57K chunks is a millisecond */
    int64_t have = 1;
    if (!rc && !u->wrote && query_int(u->db, "SELECT count(*) FROM meta WHERE key = 'chunks'", &have) != SQLITE_OK) {
        rc = db_fail(u->err, u->db, r->db_path, "counting chunks");
        goto done;
    }
    if (!rc && (u->wrote || !have) &&
        exec(u->db, "INSERT OR REPLACE INTO meta(key, value) SELECT 'chunks', n FROM"
                    " (SELECT count(*) AS n FROM chunks) WHERE n IS NOT"
                    " (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chunks')") != SQLITE_OK) {
        rc = db_fail(u->err, u->db, r->db_path, "counting chunks");
        goto done;
    }
    /* a new witness is kept (or an old one dropped) with what it listed */
    if (!rc && full && (witness.n != old.n || (witness.n && memcmp(witness.s, old.s, witness.n)))) {
        rc = write_witness(u, &witness);
        if (rc)
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
    /* in a transaction of its own: set in the last one, FTS5 merged 4 at
     * a time when that commit wrote out its last terms */
    if (to_read.n >= LARGE_UPDATE) {
        int c = begin(u);
        if (!c) {
            in_tx = true;
            c = set_automerge(u, MERGE_SMALL);
        }
        if (!c) {
            c = commit(u);
            in_tx = c != 0;
        }
        if (c) {
            rc = c;
            goto done;
        }
    }
    if (progress && !rc)
        progress(&(rag_progress_t){.phase = RAG_PHASE_DONE, .done = list.n, .total = list.n}, ud);
done:
    gather_finish(&sg, false);
    free(sg.f);
    ckpt_stop(ck);
    ring_free(ring, th, workers);
    scratch_free(&sc);
    for (int i = 0; i < RAG_MAX_WORKERS; i++)
        scratch_free(&wk[i].sc);
    if (u->root >= 0)
        close(u->root);
    u->root = -1;
    if (in_tx)
        exec(u->db, "ROLLBACK");
    free(to_read.paths); /* borrowed from list */
    walk_list_free(&list);
    sb_free(&witness);
    sb_free(&old);
    return rc;
}

static void upd_reset(upd_t *u)
{
    finalize_all(u);
    free_rows(&u->rows, &u->n_rows);
    free_rows(&u->skip, &u->n_skip);
    walk_excludes_free(&u->ex);
    u->ins_file = u->upd_file = u->upd_stat = u->del_fts = NULL;
    u->del_chunks = u->del_file = u->ins_chunk = u->ins_fts = NULL;
    u->put_skip = u->del_skip = NULL;
}

int count_rows(rag_t *r, sqlite3 *db, size_t *files, size_t *chunks, errmsg_t *err)
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
    upd_t u = {.r = r, .root = -1, .err = err};
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
    /* the totals, for a caller that asked for statistics (a millisecond) */
    if (st && (!rc || rc == OCT_ECANCELED)) {
        errmsg_t cerr;
        if (count_rows(r, r->wdb, &u.st.files, &u.st.chunks, rc ? &cerr : err) != 0 && !rc)
            rc = err ? err->code : OCT_EIO;
    }
out:
    upd_reset(&u);
    lock_release(lockfd);
    pthread_mutex_unlock(&r->wmu);
    u.st.seconds = now_s() - t0;
    if (st)
        *st = u.st;
    return rc;
}
