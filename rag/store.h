/* store.h - how a chunk's text and its derived FTS5 columns are stored
 * (schema 4): the text compressed in chunks.ztext, the "path", "symbol" and
 * "words" columns recomputed from the file's path, the chunk's symbol and
 * its text by SQL functions, so that only the inverted index is FTS5's own
 * (an external-content table over the view fts_src). */
#ifndef OCTET_RAG_STORE_H
#define OCTET_RAG_STORE_H

#include <stddef.h>

#include <sqlite3.h>
#include <zstd.h>

#include "sb.h"

/* Append to B the parts of every compound identifier in TEXT (LEN bytes),
 * separated by spaces: the "words" column of a chunk. */
void store_split_words(sbuf_t *b, const char *text, size_t len);

/* Append to B the column of a name (a path or a symbol): the name, then
 * its parts. */
void store_name_col(sbuf_t *b, const char *name, size_t len);

/* A compression context kept across chunks: one made per chunk would cost
 * more than the compression itself. */
typedef struct store_zip {
    ZSTD_CCtx *cx;
    unsigned char *out;
    size_t cap;
} store_zip_t;

/* Compress TEXT (LEN bytes) into *Z (*ZN bytes, ZS's buffer, valid until
 * its next use): one zstd frame, which records the text's length.
 * 0, or -1 out of memory. */
int store_zip(store_zip_t *zs, const char *text, size_t len, const unsigned char **z, size_t *zn);
void store_zip_free(store_zip_t *zs);

/* Define on DB the functions the view fts_src calls: rag_unzip(ztext),
 * rag_words(text), rag_name(name), and rag_zip(text) for the migration of
 * versions 2 and 3. An SQLite code. */
int store_register(sqlite3 *db);

#endif
