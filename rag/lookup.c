/* lookup.c - code the user names, as the index sees it (see rag.h): where
 * a symbol is defined (rag_define: the chunks whose symbol names it, one
 * line range per file and definition, so that /add SYMBOL pins the whole
 * definition even when it was cut into several chunks) and a file read as
 * the index reads it (rag_read: normalized text and language). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "chunk.h"
#include "rag.h"
#include "rag_int.h"
#include "sb.h"

/* Length of the name SYM's definition has in the chunk symbol X ("Parser"
 * in "Parser.parse" for SYM "Parser"; "Parser.parse" for "parse"), matched
 * at '.' boundaries; 0 when X does not name it. */
static size_t def_len(const char *x, const char *sym)
{
    size_t n = strlen(sym);
    for (const char *p = strstr(x, sym); p; p = strstr(p + 1, sym)) {
        bool left = p == x || p[-1] == '.';
        bool right = p[n] == '\0' || p[n] == '.';
        if (left && right)
            return (size_t)(p - x) + n;
    }
    return 0;
}

/* Definitions named exactly SYM first, then by path and line. */
static bool before(const rag_hit_t *x, const rag_hit_t *y, const char *sym)
{
    bool ex = !strcmp(x->symbol, sym), ey = !strcmp(y->symbol, sym);
    if (ex != ey)
        return ex;
    int c = strcmp(x->path, y->path);
    return c ? c < 0 : x->start < y->start;
}

/* The definitions of one name are few: an insertion sort does. */
static void sort_hits(rag_hit_t *v, size_t n, const char *sym)
{
    for (size_t i = 1; i < n; i++) {
        rag_hit_t t = v[i];
        size_t j = i;
        for (; j > 0 && before(&t, &v[j - 1], sym); j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}

int rag_define(rag_t *r, const char *symbol, rag_results_t *out, errmsg_t *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    bool oom = false;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!symbol || !symbol[0])
        return errmsg_set(err, OCT_EINVAL, "no symbol given");
    pthread_mutex_lock(&r->rmu);
    if (!r->rdb) {
        rc = errmsg_set(err, OCT_EIO, "%s: the index is not open", r->db_path);
        goto done;
    }
    if (sqlite3_prepare_v2(r->rdb,
                           "SELECT f.path, f.lang, c.symbol, c.start_line, c.end_line FROM chunks c"
                           " JOIN files f ON f.id = c.file_id WHERE instr(c.symbol, ?1) > 0"
                           " ORDER BY f.path, c.start_line",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = query_fail(r, err);
        goto done;
    }
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_STATIC);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        const char *lang = (const char *)sqlite3_column_text(st, 1);
        const char *x = (const char *)sqlite3_column_text(st, 2);
        int a = sqlite3_column_int(st, 3), b = sqlite3_column_int(st, 4);
        size_t dl = x && path ? def_len(x, symbol) : 0;
        if (!dl)
            continue;
        /* the chunks of one definition in one file become one range */
        rag_hit_t *h = NULL;
        for (size_t i = 0; i < out->n && !h; i++)
            if (!strcmp(out->hits[i].path, path) && strlen(out->hits[i].symbol) == dl &&
                !strncmp(out->hits[i].symbol, x, dl))
                h = &out->hits[i];
        if (h) {
            h->start = a < h->start ? a : h->start;
            h->end = b > h->end ? b : h->end;
            continue;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            rag_hit_t *nv = realloc(out->hits, nc * sizeof *nv);
            if (!nv) {
                oom = true;
                break;
            }
            out->hits = nv;
            cap = nc;
        }
        h = &out->hits[out->n];
        *h = (rag_hit_t){.path = strdup(path), .lang = strdup(lang ? lang : "text"), .symbol = strndup(x, dl),
                         .start = a, .end = b, .score = 1};
        out->n++;
        if (!h->path || !h->lang || !h->symbol) {
            oom = true;
            break;
        }
    }
    if (!oom && s != SQLITE_DONE)
        rc = query_fail(r, err);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->rmu);
    if (oom)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory reading definitions");
    if (rc)
        rag_results_free(out);
    else
        sort_hits(out->hits, out->n, symbol);
    return rc;
}

int rag_read(const char *path, const char *name, char **text, size_t *len, const char **lang, errmsg_t *err)
{
    struct stat st;
    sbuf_t b = {0};
    *text = NULL;
    *len = 0;
    if (stat(path, &st))
        return errmsg_set(err, errno == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", name, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errmsg_set(err, OCT_EINVAL, "%s: not a regular file", name);
    if ((uint64_t)st.st_size > RAG_DEFAULT_MAX_FILE_BYTES)
        return errmsg_set(err, OCT_EINVAL, "%s: larger than %d MiB", name, RAG_DEFAULT_MAX_FILE_BYTES >> 20);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", name, strerror(errno));
    int e = sb_read(&b, f);
    fclose(f);
    if (e) {
        sb_free(&b);
        return errmsg_set(err, e == ENOMEM ? OCT_ENOMEM : OCT_EIO, "%s: cannot read: %s", name, strerror(e));
    }
    int rc = 0;
    /* git's test: a NUL byte in the first 8000 */
    if (b.n && memchr(b.s, '\0', b.n < 8000 ? b.n : 8000))
        rc = errmsg_set(err, OCT_EINVAL, "%s: a binary file", name);
    else if (chunk_normalize(b.s ? b.s : "", b.n, text, len))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    else if (lang)
        *lang = chunk_lang(name, *text, *len);
    sb_free(&b);
    return rc;
}
