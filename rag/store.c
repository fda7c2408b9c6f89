/* store.c - the stored form of chunk texts and the FTS5 columns made from
 * them (see store.h). zstd: source code shrank about 2.5x at level 1, at a
 * third of the time zlib's fastest level took on the cold index (where it
 * was a quarter of the time), and a search decompresses only the few
 * texts it shows. Level -1 (no entropy coding of literals) compresses the
 * standard library's chunk texts 2.0x in 0.15 s of CPU instead of 2.5x in
 * 0.26 s: 3.7 MB more index (1.26x the text instead of 1.18x, within the
 * 1.5x allowed) for a tenth of the workers' time on a cold index
 * (docs/BENCHMARKS.md, "Sixth pass"). Frames of either level read the
 * same. */
#define STORE_ZSTD_LEVEL (-1)
#include "store.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "words.h"

static void sb_part(const char *part, size_t len, void *ud)
{
    sbuf_t *b = ud;
    if (b->n)
        sb_addn(b, " ", 1);
    sb_addn(b, part, len);
}

void store_split_words(sbuf_t *b, const char *text, size_t len)
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

void store_name_col(sbuf_t *b, const char *name, size_t len)
{
    sb_addn(b, name, len);
    store_split_words(b, name, len);
}

int store_zip(store_zip_t *zs, const char *text, size_t len, const unsigned char **z, size_t *zn)
{
    *z = NULL;
    *zn = 0;
    if (!zs->cx && !(zs->cx = ZSTD_createCCtx()))
        return -1;
    size_t need = ZSTD_compressBound(len);
    if (need > zs->cap) {
        unsigned char *o = realloc(zs->out, need);
        if (!o)
            return -1;
        zs->out = o;
        zs->cap = need;
    }
    size_t n = ZSTD_compressCCtx(zs->cx, zs->out, zs->cap, text, len, STORE_ZSTD_LEVEL);
    if (ZSTD_isError(n))
        return -1;
    *z = zs->out;
    *zn = n;
    return 0;
}

void store_zip_free(store_zip_t *zs)
{
    ZSTD_freeCCtx(zs->cx);
    free(zs->out);
    memset(zs, 0, sizeof *zs);
}

static void unzip_fn(sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    (void)nval;
    const void *z = sqlite3_value_blob(val[0]);
    size_t zn = (size_t)sqlite3_value_bytes(val[0]);
    unsigned long long len = z ? ZSTD_getFrameContentSize(z, zn) : ZSTD_CONTENTSIZE_ERROR;
    /* a damaged row reads as corruption, which rebuilds the index */
    if (len == ZSTD_CONTENTSIZE_ERROR || len == ZSTD_CONTENTSIZE_UNKNOWN || len > INT32_MAX) {
        sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
        return;
    }
    char *out = sqlite3_malloc64(len + 1);
    if (!out) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t got = ZSTD_decompressDCtx(sqlite3_user_data(ctx), out, len + 1, z, zn);
    if (ZSTD_isError(got) || got != len) {
        sqlite3_free(out);
        sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
        return;
    }
    sqlite3_result_text64(ctx, out, len, sqlite3_free, SQLITE_UTF8);
}

static void zip_fn(sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    (void)nval;
    const char *t = (const char *)sqlite3_value_text(val[0]);
    store_zip_t zs = {0};
    const unsigned char *z;
    size_t zn;
    if (store_zip(&zs, t ? t : "", t ? (size_t)sqlite3_value_bytes(val[0]) : 0, &z, &zn))
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_blob64(ctx, z, zn, SQLITE_TRANSIENT);
    store_zip_free(&zs);
}

/* rag_words(text) and rag_name(name): the derived columns, "" for NULL as
 * the insert binds them. */
static void col_fn(sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    (void)nval;
    const char *t = (const char *)sqlite3_value_text(val[0]);
    size_t n = t ? (size_t)sqlite3_value_bytes(val[0]) : 0;
    sbuf_t b = {0};
    if (sqlite3_user_data(ctx))
        store_name_col(&b, t ? t : "", n);
    else
        store_split_words(&b, t ? t : "", n);
    if (b.oom) {
        free(b.s);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (b.s)
        sqlite3_result_text64(ctx, b.s, b.n, free, SQLITE_UTF8);
    else
        sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
}

static void dctx_free(void *dx) { ZSTD_freeDCtx(dx); }

int store_register(sqlite3 *db)
{
    static int name_tag;
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    /* rag_unzip keeps one decompression context for its connection, which
     * calls it one row at a time: ZSTD_decompress makes and frees one per
     * call, and that was most of a query's time spent decompressing its 100
     * candidates. SQLite frees it with the connection (or when the
     * registration fails). */
    ZSTD_DCtx *dx = ZSTD_createDCtx();
    if (!dx)
        return SQLITE_NOMEM;
    int s = sqlite3_create_function_v2(db, "rag_unzip", 1, flags, dx, unzip_fn, NULL, NULL, dctx_free);
    if (s == SQLITE_OK)
        s = sqlite3_create_function(db, "rag_zip", 1, flags, NULL, zip_fn, NULL, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_create_function(db, "rag_words", 1, flags, NULL, col_fn, NULL, NULL);
    if (s == SQLITE_OK)
        s = sqlite3_create_function(db, "rag_name", 1, flags, &name_tag, col_fn, NULL, NULL);
    return s;
}
