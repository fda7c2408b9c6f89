/* chunk.h - cutting a source file into retrieval chunks (private to rag/).
 *
 * A file's bytes are first normalized (CRLF to LF, invalid UTF-8 and NUL to
 * U+FFFD, a UTF-8 byte-order mark dropped; line numbers are preserved), its
 * language is guessed from its name (or a #! line), and a language-aware
 * scanner finds its definitions. Each definition becomes one chunk (windows
 * of overlapping lines when it is very long); a class too long for one chunk
 * is split into its methods; the lines between definitions and files in
 * other languages are cut into overlapping line windows. */
#ifndef OCTET_RAG_CHUNK_H
#define OCTET_RAG_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

/* Sizes, in lines. Chosen with tools/bench/rag_quality.py (docs/retrieval.md). */
#define CHUNK_MAX_LINES 80     /* a definition up to this long is one chunk */
#define CHUNK_WINDOW_LINES 50  /* windows cut from longer spans and plain text */
#define CHUNK_WINDOW_OVERLAP 10
#define CHUNK_MAX_BYTES 16384  /* windows are shortened to stay under this */

typedef struct chunk {
    int start, end; /* 1-based, inclusive */
    char *symbol;   /* malloc'd "Class.method", or NULL */
} chunk_t;

typedef struct chunk_list {
    chunk_t *v;
    size_t n, cap;
} chunk_list_t;

/* Language of a file from its path (extension or well-known name), or from a
 * #! line in TEXT. Returns a static name such as "c", "cpp", "python",
 * "javascript", "typescript", "go", "rust", "java", "markdown", or "text". */
const char *chunk_lang(const char *path, const char *text, size_t len);

/* Normalize RAW (N bytes) as described above into a malloc'd NUL-terminated
 * *out of *out_len bytes. 0 or OCT_ENOMEM. */
int chunk_normalize(const char *raw, size_t n, char **out, size_t *out_len);

/* Cut normalized TEXT of language LANG into chunks appended to OUT, in line
 * order, covering every line that has a letter or digit. 0 or OCT_ENOMEM. */
int chunk_text(const char *text, size_t len, const char *lang, chunk_list_t *out);

void chunk_list_free(chunk_list_t *l);

#endif
