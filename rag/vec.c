/* vec.c - the dense half of the index (see rag.h, "hybrid retrieval"): the
 * vectors of the chunks' texts in table vec, made by rag_embed through the
 * embedder the layer above hands in, and the copy of them the queries scan
 * (loaded once per state of the database, dense_scores over all of them).
 *
 * Vectors are keyed by the hash of the text they embed (chunks.hash): an
 * update that re-chunks a file leaves the vectors of its unchanged
 * functions usable, and only new texts are embedded. A vector no chunk
 * refers to any more is dropped by the next rag_embed. meta 'vec_model'
 * names the encoder that made them; another encoder starts over. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dense.h"
#include "rag.h"
#include "rag_int.h"

/* Vectors are written at least this often (seconds): progress survives a
 * kill, and the update lock is taken only for the write. */
#define VEC_BATCH_SECONDS 0.5

void rag_set_embedder(rag_t *r, const rag_embedder_t *e)
{
    pthread_mutex_lock(&r->rmu);
    r->have_emb = e != NULL;
    if (e)
        r->emb = *e;
    vec_cache_free(r);
    pthread_mutex_unlock(&r->rmu);
}

void vec_cache_free(rag_t *r)
{
    vec_cache_t *c = &r->dc;
    if (c->map) {
        munmap(c->map, c->map_len);
    } else {
        free(c->v);
        free(c->scale);
        free(c->chunk);
        free(c->vi);
    }
    memset(c, 0, sizeof *c);
}

/* ---- the file of vectors --------------------------------------------------
 * Loading 55,000 vectors through SQLite, row by row, took 30-35 ms: most of
 * a hybrid search in a new process. So the arrays the scan uses are also
 * written as they lie in memory to a file beside the index (PATH.vec),
 * named by the gen of the index they were loaded from (meta 'gen', renewed
 * by every change to the chunks or the vectors, gen_bump); a process whose
 * index is still at that gen maps the file instead. The file is only ever
 * a copy: a missing, foreign or stale one is ignored and made again. */

#define VEC_FILE_MAGIC "octvec1"

typedef struct vec_file_head {
    char magic[8];
    char model[sizeof ((rag_embedder_t *)0)->model];
    int64_t gen;
    uint64_t dim, n_vec, n_chunk, total;
} vec_file_head_t;

/* Where each array starts in a file of N_VEC vectors for N_CHUNK chunks;
 * the file's size. Every array is aligned for its type. */
typedef struct vec_file_layout {
    size_t chunk, vi, scale, v, size;
} vec_file_layout_t;

static vec_file_layout_t vec_file_layout(size_t n_vec, size_t n_chunk, size_t dim)
{
    vec_file_layout_t l;
    l.chunk = sizeof(vec_file_head_t);
    l.vi = l.chunk + n_chunk * sizeof(int64_t);
    l.scale = l.vi + n_chunk * sizeof(uint32_t);
    l.v = l.scale + n_vec * sizeof(float);
    l.size = l.v + n_vec * dim;
    return l;
}

static void vec_file_path(const rag_t *r, char *out, size_t n)
{
    snprintf(out, n, "%s.vec", r->db_path);
}

/* Map the file of vectors into the cache if it was made at GEN for this
 * embedder and an index of TOTAL chunks, and is whole. */
static bool vec_file_map(rag_t *r, int64_t gen, size_t total)
{
    vec_cache_t *c = &r->dc;
    char path[PATH_MAX + 8];
    vec_file_head_t h;
    struct stat st;
    vec_file_path(r, path, sizeof path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
              !memcmp(h.magic, VEC_FILE_MAGIC, sizeof h.magic) && h.gen == gen && h.dim == r->emb.dim &&
              !strncmp(h.model, r->emb.model, sizeof h.model) && h.total == total && h.n_chunk <= total &&
              h.n_vec <= UINT32_MAX;
    vec_file_layout_t l = ok ? vec_file_layout(h.n_vec, h.n_chunk, h.dim) : (vec_file_layout_t){0};
    ok = ok && (uint64_t)st.st_size == l.size;
    void *m = ok ? mmap(NULL, l.size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (m == MAP_FAILED)
        return false;
    const uint32_t *vi = (const uint32_t *)((char *)m + l.vi);
    for (size_t i = 0; i < h.n_chunk; i++)
        if (vi[i] >= h.n_vec) { /* damage: it would index outside the vectors */
            munmap(m, l.size);
            return false;
        }
    c->map = m;
    c->map_len = l.size;
    c->chunk = (int64_t *)((char *)m + l.chunk);
    c->vi = (uint32_t *)((char *)m + l.vi);
    c->scale = (float *)((char *)m + l.scale);
    c->v = (int8_t *)((char *)m + l.v);
    c->n_vec = h.n_vec;
    c->n_chunk = h.n_chunk;
    c->missing = total - h.n_chunk;
    return true;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Remove what writers that died left of their temporaries (PATH.XXXXXX,
 * vec_file_write) once over a minute old: a live writer renames or
 * removes its own within milliseconds, so no running one loses it. */
static void vec_file_sweep(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t nb = strlen(base);
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(dp))) {
        const char *n = de->d_name;
        if (strncmp(n, base, nb) || n[nb] != '.' || strlen(n + nb + 1) != 6)
            continue;
        struct stat st;
        if (fstatat(dirfd(dp), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 60)
            unlinkat(dirfd(dp), n, 0);
    }
    closedir(dp);
}

/* Write the cache, loaded at GEN, as the file of vectors: whole or not at
 * all (a new file renamed over the old). Failing costs only speed, so it
 * is not an error: a read-only index is searched as before. */
static void vec_file_write(rag_t *r, int64_t gen)
{
    const vec_cache_t *c = &r->dc;
    char path[PATH_MAX + 8], tmp[PATH_MAX + 16];
    vec_file_head_t h = {.gen = gen, .dim = r->emb.dim, .n_vec = c->n_vec, .n_chunk = c->n_chunk, .total = c->total};
    memcpy(h.magic, VEC_FILE_MAGIC, sizeof h.magic);
    snprintf(h.model, sizeof h.model, "%s", r->emb.model);
    vec_file_path(r, path, sizeof path);
    vec_file_sweep(path);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return;
    /* the index's own permissions: whoever may read it may read this */
    struct stat st;
    if (stat(r->db_path, &st) == 0)
        fchmod(fd, st.st_mode & 0666);
    bool ok = write_all(fd, &h, sizeof h) && write_all(fd, c->chunk, c->n_chunk * sizeof *c->chunk) &&
              write_all(fd, c->vi, c->n_chunk * sizeof *c->vi) && write_all(fd, c->scale, c->n_vec * sizeof *c->scale) &&
              write_all(fd, c->v, c->n_vec * h.dim) && fdatasync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

/* ---- the copy queries scan ------------------------------------------------ */

/* Open addressing from a text hash to its row in the cache. */
typedef struct hmap {
    int64_t *key;
    uint32_t *val;
    size_t mask;
} hmap_t;

static size_t slot_of(int64_t k, size_t mask)
{
    return (size_t)((uint64_t)k * 0x9E3779B97F4A7C15ULL >> 20) & mask;
}

static int hmap_init(hmap_t *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->key = malloc(cap * sizeof *m->key);
    m->val = malloc(cap * sizeof *m->val);
    m->mask = cap - 1;
    if (!m->key || !m->val)
        return -1;
    for (size_t i = 0; i < cap; i++)
        m->val[i] = UINT32_MAX;
    return 0;
}

static void hmap_put(hmap_t *m, int64_t k, uint32_t v)
{
    size_t i = slot_of(k, m->mask);
    while (m->val[i] != UINT32_MAX && m->key[i] != k)
        i = (i + 1) & m->mask;
    m->key[i] = k;
    m->val[i] = v;
}

static uint32_t hmap_get(const hmap_t *m, int64_t k)
{
    size_t i = slot_of(k, m->mask);
    while (m->val[i] != UINT32_MAX) {
        if (m->key[i] == k)
            return m->val[i];
        i = (i + 1) & m->mask;
    }
    return UINT32_MAX;
}

/* The meta value KEY as text into OUT ("" when absent). An SQLite code. */
static int meta_get(sqlite3 *db, const char *key, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
    out[0] = '\0';
    if (s == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(out, n, "%s", t ? (const char *)t : "");
        }
        s = s == SQLITE_ROW || s == SQLITE_DONE ? SQLITE_OK : s;
    }
    sqlite3_finalize(st);
    return s;
}

/* Whether the vectors in DB are the embedder's (same model, same size). */
static int vec_is_ours(rag_t *r, sqlite3 *db, bool *ours)
{
    char model[sizeof r->emb.model], dim[32];
    int s = meta_get(db, "vec_model", model, sizeof model);
    if (s == SQLITE_OK)
        s = meta_get(db, "vec_dim", dim, sizeof dim);
    *ours = s == SQLITE_OK && !strcmp(model, r->emb.model) && strtoul(dim, NULL, 10) == r->emb.dim;
    return s;
}

/* Bring the cache to the state of the read connection's database (rmu
 * held): nothing to do when no commit happened since it was loaded. */
int vec_refresh(rag_t *r, errmsg_t *err)
{
    vec_cache_t *c = &r->dc;
    sqlite3_stmt *vs = NULL, *cs = NULL;
    hmap_t map = {0};
    int64_t version = 0, n_chunk = 0, gen = 0, *hs = NULL;
    bool ours = false, in_tx = false;
    int rc = 0, s;
    if (query_int(r->rdb, "PRAGMA data_version", &version) != SQLITE_OK)
        return query_fail(r, err);
    if (c->loaded && c->version == version)
        return 0;
    double t0 = now_s();
    vec_cache_free(r);
    /* one snapshot for the count and both scans */
    if (exec(r->rdb, "BEGIN") != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    in_tx = true;
    if (vec_is_ours(r, r->rdb, &ours) != SQLITE_OK ||
        query_int(r->rdb, "SELECT count(*) FROM chunks", &n_chunk) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    c->total = (size_t)n_chunk;
    c->missing = (size_t)n_chunk;
    if (!ours || n_chunk == 0)
        goto loaded;
    if (query_int(r->rdb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'gen'", &gen) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    if (gen && vec_file_map(r, gen, (size_t)n_chunk))
        goto loaded;
    if (n_chunk >= UINT32_MAX / 4) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: %lld chunks: too many to scan", r->db_path, (long long)n_chunk);
        goto done;
    }
    /* vec is not counted first (that would read its 257 bytes a row twice):
     * its arrays start at one vector a chunk and grow for the vectors no
     * chunk uses any more, which rag_embed drops */
    size_t dim = r->emb.dim, cap = (size_t)n_chunk;
    c->v = malloc(cap * dim);
    c->scale = malloc(cap * sizeof *c->scale);
    hs = malloc(cap * sizeof *hs);
    c->chunk = malloc((size_t)n_chunk * sizeof *c->chunk);
    c->vi = malloc((size_t)n_chunk * sizeof *c->vi);
    if (!c->v || !c->scale || !hs || !c->chunk || !c->vi) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory loading %lld vectors", (long long)n_chunk);
        goto done;
    }
    if (sqlite3_prepare_v2(r->rdb, "SELECT hash, scale, v FROM vec", -1, &vs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->rdb, "SELECT id, hash FROM chunks", -1, &cs, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    while ((s = sqlite3_step(vs)) == SQLITE_ROW) {
        /* a vector of the wrong size is damage: left out, its chunks count as missing */
        if ((size_t)sqlite3_column_bytes(vs, 2) != dim)
            continue;
        if (c->n_vec == cap) {
            int8_t *nv = realloc(c->v, 2 * cap * dim);
            if (nv)
                c->v = nv;
            float *ns = realloc(c->scale, 2 * cap * sizeof *ns);
            if (ns)
                c->scale = ns;
            int64_t *nh = realloc(hs, 2 * cap * sizeof *nh);
            if (nh)
                hs = nh;
            if (!nv || !ns || !nh || cap >= UINT32_MAX / 4) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory loading the vectors");
                goto done;
            }
            cap *= 2;
        }
        memcpy(c->v + c->n_vec * dim, sqlite3_column_blob(vs, 2), dim);
        c->scale[c->n_vec] = (float)sqlite3_column_double(vs, 1);
        hs[c->n_vec] = sqlite3_column_int64(vs, 0);
        c->n_vec++;
    }
    if (s != SQLITE_DONE) {
        rc = query_fail(r, err);
        goto done;
    }
    if (hmap_init(&map, c->n_vec)) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory loading the vectors");
        goto done;
    }
    for (size_t i = 0; i < c->n_vec; i++)
        hmap_put(&map, hs[i], (uint32_t)i);
    while ((s = sqlite3_step(cs)) == SQLITE_ROW && c->n_chunk < (size_t)n_chunk) {
        uint32_t v = hmap_get(&map, sqlite3_column_int64(cs, 1));
        if (v == UINT32_MAX)
            continue;
        c->chunk[c->n_chunk] = sqlite3_column_int64(cs, 0);
        c->vi[c->n_chunk] = v;
        c->n_chunk++;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
        rc = query_fail(r, err);
        goto done;
    }
    c->missing = (size_t)n_chunk - c->n_chunk;
    if (gen)
        vec_file_write(r, gen);
loaded:
    c->loaded = true;
    c->version = version;
    c->load_ms = (now_s() - t0) * 1e3;
done:
    sqlite3_finalize(vs);
    sqlite3_finalize(cs);
    if (in_tx)
        exec(r->rdb, "COMMIT");
    free(map.key);
    free(map.val);
    free(hs);
    if (rc)
        vec_cache_free(r);
    return rc;
}

int vec_search(rag_t *r, const float *qv, size_t m, int64_t **ids, size_t *n, errmsg_t *err)
{
    vec_cache_t *c = &r->dc;
    uint32_t dim = r->emb.dim;
    int8_t *q = malloc(dim);
    float *vs = malloc((c->n_vec ? c->n_vec : 1) * sizeof *vs);
    float *cs = malloc((c->n_chunk ? c->n_chunk : 1) * sizeof *cs);
    uint32_t *top = malloc((m ? m : 1) * sizeof *top);
    *ids = malloc((m ? m : 1) * sizeof **ids);
    *n = 0;
    int rc = 0;
    if (!q || !vs || !cs || !top || !*ids) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    float qscale;
    dense_quantize(qv, dim, q, &qscale);
    /* one product per distinct text; the chunks sharing it share its score */
    dense_scores(q, qscale, c->v, c->scale, c->n_vec, dim, false, vs);
    for (size_t i = 0; i < c->n_chunk; i++)
        cs[i] = vs[c->vi[i]];
    size_t k = dense_top(cs, c->n_chunk, m, top);
    for (size_t i = 0; i < k; i++)
        (*ids)[i] = c->chunk[top[i]];
    *n = k;
done:
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    free(q);
    free(vs);
    free(cs);
    free(top);
    return rc;
}

/* ---- rag_embed ------------------------------------------------------------ */

typedef struct pend {
    int64_t hash, chunk; /* a text without a vector, and one chunk that has it */
} pend_t;

typedef struct batch {
    int64_t *hash;
    float *scale;
    int8_t *v;
    size_t n, cap;
} batch_t;

/* Under the update lock: drop the vectors of another encoder and those no
 * chunk uses, then list the texts that have none (R->wmu held). */
static int embed_prepare(rag_t *r, const atomic_int *cancel, rag_embed_stats_t *st, pend_t **pend, size_t *n_pend,
                         errmsg_t *err)
{
    int fd = -1, rc = lock_take(r, cancel, &fd, err);
    sqlite3_stmt *q = NULL;
    size_t cap = 0;
    bool ours = false;
    char sql[256];
    if (rc)
        return rc;
    if (exec(r->wdb, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = db_fail(err, r->wdb, r->db_path, "starting a transaction");
        goto done;
    }
    if (vec_is_ours(r, r->wdb, &ours) != SQLITE_OK)
        goto fail;
    if (!ours) {
        int64_t had = 0;
        if (query_int(r->wdb, "SELECT count(*) FROM vec", &had) != SQLITE_OK || exec(r->wdb, "DELETE FROM vec"))
            goto fail;
        st->reset = had > 0;
        q = NULL;
        if (sqlite3_prepare_v2(r->wdb, "INSERT OR REPLACE INTO meta(key, value) VALUES('vec_model', ?1)", -1, &q,
                               NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(q, 1, r->emb.model, -1, SQLITE_STATIC);
        int s = sqlite3_step(q);
        sqlite3_finalize(q);
        q = NULL;
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta(key, value) VALUES('vec_dim', '%u')", r->emb.dim);
        if (s != SQLITE_DONE || exec(r->wdb, sql) != SQLITE_OK)
            goto fail;
    }
    if (exec(r->wdb, "DELETE FROM vec WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.hash = vec.hash)") !=
        SQLITE_OK)
        goto fail;
    st->removed = (size_t)sqlite3_changes(r->wdb);
    if ((st->reset || st->removed) && gen_bump(r->wdb) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(r->wdb,
                           "SELECT hash, min(id) FROM chunks c WHERE NOT EXISTS"
                           " (SELECT 1 FROM vec v WHERE v.hash = c.hash) GROUP BY hash ORDER BY 2",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n_pend == cap) {
            size_t nc = cap ? cap * 2 : 256;
            pend_t *np = realloc(*pend, nc * sizeof *np);
            if (!np) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto done;
            }
            *pend = np;
            cap = nc;
        }
        (*pend)[*n_pend].hash = sqlite3_column_int64(q, 0);
        (*pend)[*n_pend].chunk = sqlite3_column_int64(q, 1);
        (*n_pend)++;
    }
    if (s != SQLITE_DONE)
        goto fail;
    if (exec(r->wdb, "COMMIT") != SQLITE_OK)
        goto fail;
    goto done;
fail:
    rc = db_fail(err, r->wdb, r->db_path, "preparing the vectors");
done:
    sqlite3_finalize(q);
    if (rc)
        exec(r->wdb, "ROLLBACK");
    lock_release(fd);
    return rc;
}

/* The text of chunk ID (malloc'd; NULL with 0 returned when the chunk is
 * gone, replaced by an update since the list was made). R->wmu held. */
static int text_of(rag_t *r, int64_t id, char **text, size_t *len, errmsg_t *err)
{
    sqlite3_stmt *q = NULL;
    *text = NULL;
    *len = 0;
    if (sqlite3_prepare_v2(r->wdb, "SELECT rag_unzip(ztext) FROM chunks WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
        return db_fail(err, r->wdb, r->db_path, "reading a chunk");
    sqlite3_bind_int64(q, 1, id);
    int s = sqlite3_step(q), rc = 0;
    if (s == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        *text = malloc(n + 1);
        if (!*text) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        } else {
            memcpy(*text, t ? t : "", n);
            (*text)[n] = '\0';
            *len = n;
        }
    } else if (s != SQLITE_DONE) {
        rc = db_fail(err, r->wdb, r->db_path, "reading a chunk");
    }
    sqlite3_finalize(q);
    return rc;
}

/* Write B's vectors under the update lock, unless the index changed
 * encoder meanwhile (another process): then they are not the index's. */
static int flush(rag_t *r, batch_t *b, errmsg_t *err)
{
    if (!b->n)
        return 0;
    int fd = -1;
    sqlite3_stmt *ins = NULL;
    bool ours = false;
    pthread_mutex_lock(&r->wmu);
    int rc = lock_take(r, NULL, &fd, err);
    if (rc)
        goto out;
    if (!r->wdb) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        goto out;
    }
    if (exec(r->wdb, "BEGIN IMMEDIATE") != SQLITE_OK || vec_is_ours(r, r->wdb, &ours) != SQLITE_OK ||
        sqlite3_prepare_v2(r->wdb, "INSERT OR REPLACE INTO vec(hash, scale, v) VALUES(?1, ?2, ?3)", -1, &ins,
                           NULL) != SQLITE_OK) {
        rc = db_fail(err, r->wdb, r->db_path, "writing vectors");
        goto out;
    }
    for (size_t i = 0; ours && i < b->n; i++) {
        sqlite3_bind_int64(ins, 1, b->hash[i]);
        sqlite3_bind_double(ins, 2, b->scale[i]);
        sqlite3_bind_blob(ins, 3, b->v + i * r->emb.dim, (int)r->emb.dim, SQLITE_STATIC);
        int s = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (s != SQLITE_DONE) {
            rc = db_fail(err, r->wdb, r->db_path, "writing vectors");
            goto out;
        }
    }
    if ((ours && gen_bump(r->wdb) != SQLITE_OK) || exec(r->wdb, "COMMIT") != SQLITE_OK)
        rc = db_fail(err, r->wdb, r->db_path, "writing vectors");
out:
    sqlite3_finalize(ins);
    if (rc && r->wdb)
        exec(r->wdb, "ROLLBACK");
    lock_release(fd);
    pthread_mutex_unlock(&r->wmu);
    b->n = 0;
    return rc;
}

int rag_embed(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel, rag_embed_stats_t *st_out,
              errmsg_t *err)
{
    double t0 = now_s();
    rag_embed_stats_t st = {0};
    pend_t *pend = NULL;
    size_t n_pend = 0;
    batch_t b = {0};
    float *v = NULL;
    char *text = NULL;
    int rc = 0;
    if (!r->have_emb) {
        rc = errmsg_set(err, OCT_EINVAL, "no encoder to embed the chunks with");
        goto out;
    }
    const uint32_t dim = r->emb.dim;
    pthread_mutex_lock(&r->wmu);
    rc = r->wdb ? embed_prepare(r, cancel, &st, &pend, &n_pend, err)
                : errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
    pthread_mutex_unlock(&r->wmu);
    if (rc)
        goto out;
    v = malloc(dim * sizeof *v);
    b.cap = 64;
    b.hash = malloc(b.cap * sizeof *b.hash);
    b.scale = malloc(b.cap * sizeof *b.scale);
    b.v = malloc(b.cap * dim);
    if (!v || !b.hash || !b.scale || !b.v) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto out;
    }
    double last = now_s();
    for (size_t i = 0; i < n_pend; i++) {
        if (progress)
            progress(&(rag_progress_t){.phase = RAG_PHASE_EMBED, .done = i, .total = n_pend}, ud);
        if (cancel && atomic_load(cancel)) {
            rc = errmsg_set(err, OCT_ECANCELED, "embedding canceled");
            break;
        }
        size_t len = 0;
        pthread_mutex_lock(&r->wmu);
        rc = r->wdb ? text_of(r, pend[i].chunk, &text, &len, err)
                    : errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        pthread_mutex_unlock(&r->wmu);
        if (rc)
            goto out;
        if (!text)
            continue;
        /* the encoder runs with no lock held: updates and queries go on */
        rc = r->emb.embed(r->emb.ud, RAG_EMBED_CHUNK, text, len, v, err);
        free(text);
        text = NULL;
        if (rc)
            goto out;
        if (b.n == b.cap) {
            size_t nc = b.cap * 2;
            int64_t *nh = realloc(b.hash, nc * sizeof *nh);
            if (nh)
                b.hash = nh;
            float *ns = realloc(b.scale, nc * sizeof *ns);
            if (ns)
                b.scale = ns;
            int8_t *nv = realloc(b.v, nc * dim);
            if (nv)
                b.v = nv;
            if (!nh || !ns || !nv) {
                rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
                goto out;
            }
            b.cap = nc;
        }
        b.hash[b.n] = pend[i].hash;
        dense_quantize(v, dim, b.v + b.n * dim, &b.scale[b.n]);
        b.n++;
        st.embedded++;
        if (now_s() - last > VEC_BATCH_SECONDS) {
            if ((rc = flush(r, &b, err)))
                goto out;
            last = now_s();
        }
    }
    {
        /* what was embedded is kept, also when canceled */
        int f = flush(r, &b, err);
        if (f && (!rc || rc == OCT_ECANCELED))
            rc = f;
    }
    if (progress && !rc)
        progress(&(rag_progress_t){.phase = RAG_PHASE_EMBED, .done = n_pend, .total = n_pend}, ud);
out:
    if (!rc || rc == OCT_ECANCELED) {
        errmsg_t e2;
        if (rag_embed_status(r, &st.ready, &st.total, rc ? &e2 : err) && !rc)
            rc = err ? err->code : OCT_EIO;
    }
    free(text);
    free(v);
    free(pend);
    free(b.hash);
    free(b.scale);
    free(b.v);
    st.seconds = now_s() - t0;
    if (st_out)
        *st_out = st;
    return rc;
}

int rag_embed_status(rag_t *r, size_t *ready, size_t *total, errmsg_t *err)
{
    *ready = *total = 0;
    int rc = 0;
    pthread_mutex_lock(&r->rmu);
    if (!r->rdb) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
    } else if (r->have_emb && (rc = vec_refresh(r, err)) == 0) {
        *total = r->dc.total;
        *ready = r->dc.total - r->dc.missing;
    }
    pthread_mutex_unlock(&r->rmu);
    return rc;
}
