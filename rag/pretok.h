/* pretok.h - the index's FTS5 tokenizer run ahead of the writer. FTS5
 * tokenizes every column it is given on the one thread that writes, and on
 * a cold index that was a fifth of the writer's time; the update's worker
 * threads already prepare the columns, so they tokenize them too (with
 * instances of SQLite's own porter tokenizer: the tokens are FTS5's by
 * construction), and the write connection's tokenizer replays a column's
 * tokens when FTS5 asks for that very text.
 *
 * The index's schema names the tokenizer "porter" (rag.c), which every
 * reader and older binaries find built in; pretok_register wraps it under
 * that same name on the write connection only, so the index on disk does
 * not change. A text that was not prepared (a delete reading the old row
 * back, a rebuild, a query) goes to SQLite's tokenizer as before. */
#ifndef OCTET_RAG_PRETOK_H
#define OCTET_RAG_PRETOK_H

#include <stddef.h>

#include <sqlite3.h>

#include "sb.h"

/* The arguments of "porter" in the schema: unicode61 beneath it. */
#define PRETOK_NARGS 5
extern const char *const pretok_args[PRETOK_NARGS];

/* The wrapper of one write connection: what it expects next. */
typedef struct pretok pretok_t;

/* A tokenizer for one thread. */
typedef struct pretok_tok {
    fts5_tokenizer api;
    Fts5Tokenizer *tok;
} pretok_tok_t;

/* Wrap "porter" on DB, before DB first uses the fts table; *OUT lives
 * until DB is closed. An SQLite code. */
int pretok_register(sqlite3 *db, pretok_t **out);

/* A tokenizer of PT's kind for one thread (made on the thread that owns
 * PT's connection). An SQLite code; pretok_tok_free frees it. */
int pretok_tok_new(pretok_t *pt, pretok_tok_t *tk);
void pretok_tok_free(pretok_tok_t *tk);

/* Append to OUT the tokens of TEXT (LEN bytes) as FTS5 will ask for them
 * when a row is inserted. An SQLite code. */
int pretok_run(pretok_tok_t *tk, const char *text, size_t len, sbuf_t *out);

/* The next row's columns, in order, and their tokens (from pretok_run):
 * until pretok_clear, a column FTS5 tokenizes with exactly the bytes of the
 * next expected one gets its tokens replayed. Pointers are borrowed. */
#define PRETOK_COLS 4
void pretok_expect(pretok_t *pt, int col, const char *text, size_t len, const char *toks, size_t toks_n);
void pretok_clear(pretok_t *pt);

#endif
