/* rag.h - repository retrieval: octet's index of the user's git repository.
 *
 * rag/ walks a git repository with libgit2 (tracked files plus untracked ones
 * that are not ignored), cuts each text file into chunks at code structure
 * (functions, methods, classes...), stores them in SQLite FTS5 and retrieves
 * the chunks most relevant to any prompt with BM25 (fused with a retrieval
 * encoder's ranking when one is handed in: "hybrid retrieval" below), then
 * packs the best ones into a token budget for the model's prompt.
 *
 * Threads: one rag_t may be updated on a background thread while another
 * thread queries it. rag_update uses the write connection, rag_query and
 * rag_stats use a separate read connection (SQLite WAL), so queries see the
 * last committed state and never wait for an update. Two rag_update calls, or
 * two queries, on one rag_t are serialized. Updates of one database from
 * several processes are serialized by a lock file next to the database.
 *
 * Independent of the engine: token counting for the packer and the
 * encoder's vectors are callbacks. */
#ifndef OCTET_RAG_H
#define OCTET_RAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define RAG_SCHEMA_VERSION 4
#define RAG_DEFAULT_MAX_FILE_BYTES (1024 * 1024)
/* Name of the optional exclude file at the repository root (one pattern per
 * line, '#' comments), read at every update. See rag_options_t.exclude. */
#define RAG_EXCLUDE_FILE ".octetignore"

typedef struct rag rag_t;

typedef struct rag_options {
    /* Directory to index: any directory inside the repository (the root is
     * found from it), or the directory itself with no_git. NULL means ".". */
    const char *dir;
    /* Index database. NULL: <git dir>/octet/index.sqlite, or with no_git
     * <dir>/.octet/index.sqlite. Missing directories are created. */
    const char *db_path;
    /* Index DIR as a plain directory: every regular file below it, without
     * git's ignore rules (".git" and ".octet" directories are skipped). */
    bool no_git;
    /* Files larger than this are skipped; 0 means RAG_DEFAULT_MAX_FILE_BYTES. */
    size_t max_file_bytes;
    /* Generated or vendored noise to leave out, in addition to the patterns
     * of RAG_EXCLUDE_FILE. A pattern without '/' is matched (fnmatch) against
     * every path component ("node_modules", "*.min.js"); a pattern starting
     * with or containing '/' is matched against the path from the root and
     * excludes everything below a matching directory ("/build", "src/gen",
     * "src/parser.gen.c"). A trailing '/' matches directories only. */
    const char *const *exclude;
    size_t n_exclude;
    /* Run SQLite's quick_check when opening, so that damage no query has met
     * yet is found and the index rebuilt (`octet index` does). It reads the
     * whole index (about half of a search's time on a 2,000-file repository),
     * so readers leave it off: they still recognize a foreign or truncated
     * file at open, and corruption a query meets makes the next update
     * rebuild the index. */
    bool check;
    /* Threads that read, hash, chunk and compress files for an update, beside
     * the caller's thread, which alone writes to SQLite: 0 means one per CPU
     * beyond the first, at most RAG_MAX_WORKERS; -1 none (the caller's thread
     * does everything). The index written is the same whatever the number. */
    int workers;
} rag_options_t;

#define RAG_MAX_WORKERS 3

/* Open (creating or migrating as needed) the index of the repository that
 * contains opt->dir. Outside a git repository this fails with OCT_ENOTFOUND
 * and a message suggesting no_git. A corrupt or foreign database file is
 * moved aside to PATH.bad and rebuilt; rag_notice() then says so. */
int rag_open(rag_t **out, const rag_options_t *opt, errmsg_t *err);
void rag_close(rag_t *r);

/* Where rag_open(OPT) finds the work tree and the index in the usual case,
 * told cheaply (no SQLite, no libgit2, nothing created): the root into ROOT
 * and the database's path into DB (PATH_MAX bytes each, absolute and real,
 * as rag_root and rag_db_path give them; a .git file, as a worktree has, is
 * followed to the git directory it names). OCT_ENOTFOUND when only libgit2
 * could tell (no .git above OPT->dir) or the index's directory does not
 * exist. rag_open may still decide otherwise in rare cases (its
 * libgit2 finds another repository): compare with the handle's. */
int rag_locate(const rag_options_t *opt, char *root, char *db, errmsg_t *err);

const char *rag_root(const rag_t *r);    /* absolute root of the work tree */
const char *rag_db_path(const rag_t *r); /* the database file */
/* What the last rag_open or rag_update did that the user should know about
 * (a rebuilt database), or "". Read it on the thread that made that call,
 * after it returned. */
const char *rag_notice(const rag_t *r);

typedef enum rag_phase {
    RAG_PHASE_LIST,  /* listing the work tree; total is not known yet */
    RAG_PHASE_INDEX, /* examining files: done of total */
    RAG_PHASE_DONE,  /* finished: done == total */
    RAG_PHASE_EMBED, /* rag_embed: chunk texts embedded, done of total */
} rag_phase_t;

typedef struct rag_progress {
    rag_phase_t phase;
    size_t done, total; /* files examined so far, files to examine (texts with EMBED) */
    const char *path;   /* file being examined, relative to the root; or NULL */
} rag_progress_t;

/* Called on the updating thread, often (once per file): keep it cheap. */
typedef void (*rag_progress_fn)(const rag_progress_t *p, void *ud);

typedef struct rag_update_stats {
    size_t files;          /* files in the index after the update */
    size_t chunks;         /* chunks in the index after the update */
    size_t changed;        /* files (re)chunked by this update */
    size_t unchanged;      /* files found identical to their indexed version */
    size_t removed;        /* files dropped from the index */
    size_t chunks_added;   /* chunks written by this update */
    size_t skip_binary;    /* files skipped: binary content */
    size_t skip_large;     /* files skipped: larger than max_file_bytes */
    size_t skip_excluded;  /* files skipped: exclude patterns */
    size_t skip_other;     /* symlinks, special files, unreadable files */
    bool listed_fast;      /* the files were listed from the last listing's witness, without libgit2 */
    double seconds;        /* wall time of the update */
} rag_update_stats_t;

/* Bring the index up to date with the work tree: only files whose content
 * changed are re-chunked; deleted and renamed files are dropped. Work is
 * committed in batches, each file atomically, so a crash or kill leaves a
 * usable index (each file either at its old or at its new state). When
 * *cancel becomes non-zero the update commits what it has done and returns
 * OCT_ECANCELED. progress, cancel and st may be NULL. */
int rag_update(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel,
               rag_update_stats_t *st, errmsg_t *err);

typedef struct rag_hit {
    char *path;   /* relative to the root, '/'-separated */
    char *lang;   /* "c", "python", "text"... */
    char *symbol; /* enclosing definition ("Class.method"), or NULL */
    int start;    /* first line, 1-based */
    int end;      /* last line, inclusive */
    double score; /* higher is more relevant */
    char *text;   /* the chunk's lines joined by '\n' (valid UTF-8, no CR) */
} rag_hit_t;

typedef struct rag_results {
    rag_hit_t *hits; /* best first */
    size_t n;
} rag_results_t;

/* ---- hybrid retrieval: the encoder's vectors beside BM25 ---------------
 *
 * rag knows no model: the layer above hands it an embedder, a function that
 * turns a query or a chunk's text into a unit vector. rag_embed stores the
 * vectors of the chunks' texts in the index (int8, one scale per vector),
 * incrementally and in the background (lexical search works meanwhile);
 * queries then fuse BM25 with the exact dense ranking over every chunk,
 * once every chunk has its vector (lexical alone until then). */

typedef enum rag_embed_kind {
    RAG_EMBED_QUERY, /* what the user asks */
    RAG_EMBED_CHUNK, /* a chunk's text, exactly as the index stores it */
} rag_embed_kind_t;

/* Write the unit vector of LEN bytes of TEXT (DIM floats) to OUT; 0 or an
 * OCT_E* code with ERR filled. Called from the thread calling rag_embed or
 * rag_query. */
typedef int (*rag_embed_fn)(void *ud, rag_embed_kind_t kind, const char *text, size_t len, float *out,
                            errmsg_t *err);

typedef struct rag_embedder {
    rag_embed_fn embed;
    void *ud;
    uint32_t dim;
    char model[96]; /* which encoder: the vectors of another are dropped and made again */
} rag_embedder_t;

/* Use E (copied; NULL: none) from now on for rag_embed and hybrid queries.
 * Not while another thread uses R. */
void rag_set_embedder(rag_t *r, const rag_embedder_t *e);

typedef struct rag_embed_stats {
    size_t embedded; /* texts embedded by this call */
    size_t removed;  /* vectors dropped: no chunk has their text any more */
    bool reset;      /* the vectors of another encoder were dropped first */
    size_t ready;    /* chunks with a vector of this encoder, after */
    size_t total;    /* chunks in the index */
    double seconds;
} rag_embed_stats_t;

/* Give every chunk of the index a vector of the embedder's: only texts
 * without one are embedded (a text seen before, in any file, never again),
 * vectors no chunk uses any more are dropped. Work is committed every half
 * second, the update lock held only then, so rag_update and queries are
 * never held up by the encoder. Progress: RAG_PHASE_EMBED (done of total
 * texts). *CANCEL non-zero: commits what is done, returns OCT_ECANCELED.
 * OCT_EINVAL without an embedder. */
int rag_embed(rag_t *r, rag_progress_fn progress, void *ud, const atomic_int *cancel, rag_embed_stats_t *st,
              errmsg_t *err);

/* How many chunks have a vector of the embedder's (*ready) of *total; both
 * 0 and 0 returned without an embedder. */
int rag_embed_status(rag_t *r, size_t *ready, size_t *total, errmsg_t *err);

/* The K chunks (at most RAG_MAX_HITS) most relevant to LEN bytes of PROMPT
 * (any text: prose, code, hostile input; NUL bytes allowed): hybrid (BM25
 * and the dense ranking fused) when an embedder is set and every chunk has
 * its vector, else BM25. Hits never overlap: a hit whose lines overlap a
 * better hit of the same file is merged into it. A prompt without
 * searchable words gives no hits and no error (in lexical mode). Free the
 * results with rag_results_free. */
#define RAG_MAX_HITS 10000
int rag_query(rag_t *r, const char *prompt, size_t len, size_t k, rag_results_t *out,
              errmsg_t *err);
void rag_results_free(rag_results_t *res);

/* Where the index says SYMBOL is defined: one hit per file and definition
 * whose chunk symbols name it at '.' boundaries ("parse" finds "parse" and
 * "Parser.parse"; "Parser" finds the class with its methods), its lines
 * the union of that definition's chunks; text is NULL (read the file).
 * Definitions named exactly SYMBOL come first, then by path and line.
 * None found: 0 with out->n == 0. Free with rag_results_free. */
int rag_define(rag_t *r, const char *symbol, rag_results_t *out, errmsg_t *err);

/* The file PATH (NAME in messages and for its language) as the index reads
 * it: normalized (CRLF to LF, invalid UTF-8 to U+FFFD, no BOM) into *text
 * (malloc'd, *len bytes), its language in *lang (may be NULL; a static
 * name as rag_hit_t.lang). OCT_ENOTFOUND when it does not exist; OCT_EINVAL
 * for a directory, a binary file or one over RAG_DEFAULT_MAX_FILE_BYTES. */
int rag_read(const char *path, const char *name, char **text, size_t *len, const char **lang, errmsg_t *err);

typedef enum rag_mode {
    RAG_MODE_LEXICAL, /* BM25 */
    RAG_MODE_HYBRID,  /* BM25 and the encoder's ranking fused */
    RAG_MODE_DENSE,   /* the encoder's ranking alone (for measuring it) */
} rag_mode_t;

typedef struct rag_query_info {
    rag_mode_t mode;       /* what answered */
    char why[160];         /* why lexical when another mode was asked ("" otherwise) */
    size_t ready, total;   /* chunks with a vector / chunks (hybrid asked and an embedder set) */
    size_t lex_hits, dense_hits; /* candidates of each ranking before fusion */
    size_t merged;         /* hits merged into a better overlapping one */
    double embed_ms, scan_ms, load_ms; /* the query's vector, the int8 scan, loading the vectors */
} rag_query_info_t;

/* rag_query in mode WANT: RAG_MODE_HYBRID is rag_query's (lexical until
 * every chunk has its vector), RAG_MODE_LEXICAL forces BM25 alone,
 * RAG_MODE_DENSE asks for the encoder's ranking alone (lexical too while
 * vectors are missing; scores are its rank fusion of that one ranking). INFO (may be
 * NULL) says what was done. */
int rag_query_ex(rag_t *r, const char *prompt, size_t len, size_t k, rag_mode_t want, rag_results_t *out,
                 rag_query_info_t *info, errmsg_t *err);

/* A query run on its own thread while this one updates the index: the
 * answer of rag_update then rag_query_ex, sooner. rag_ahead_start starts
 * rag_query_ex(R, PROMPT, LEN, K, WANT) (PROMPT is copied);
 * rag_ahead_finish waits for it and gives its answer when the index did not
 * change meanwhile, else queries again; rag_ahead_free (also after
 * finish, and on any path) waits and frees. */
typedef struct rag_ahead rag_ahead_t;
int rag_ahead_start(rag_t *r, const char *prompt, size_t len, size_t k, rag_mode_t want, rag_ahead_t **out,
                    errmsg_t *err);
int rag_ahead_finish(rag_ahead_t *a, rag_results_t *out, rag_query_info_t *info, errmsg_t *err);
void rag_ahead_free(rag_ahead_t *a);

/* Token counter for the packer: the number of tokens TEXT (LEN bytes) takes. */
typedef size_t (*rag_count_fn)(const char *text, size_t len, void *ud);

/* The estimate used when no tokenizer is given: one token per 3 bytes,
 * rounded up. Code tokenizers average 3.5 to 4 bytes per token, so this
 * errs on the side of staying within the budget. ud is unused. */
size_t rag_estimate_tokens(const char *text, size_t len, void *ud);

typedef struct rag_pack_info {
    size_t tokens;    /* tokens of *out as counted */
    size_t blocks;    /* path:first-last blocks written */
    size_t hits_used; /* hits that contributed lines */
} rag_pack_info_t;

/* Pack the best hits of RES into at most BUDGET tokens (counted with COUNT,
 * or rag_estimate_tokens when COUNT is NULL): hits are taken best first,
 * overlapping or adjacent chunks of one file are merged, and each block is
 * written as a "path:first-last" line followed by the lines in a Markdown
 * code fence. *out is malloc'd and NUL-terminated ("" when nothing fits). */
int rag_pack(const rag_results_t *res, size_t budget, rag_count_fn count, void *ud, char **out,
             rag_pack_info_t *info, errmsg_t *err);

/* What rag_pack_marked did with a hit. */
typedef enum rag_packed {
    RAG_PACKED_OUT,   /* left out: it did not fit the budget (or has no text) */
    RAG_PACKED_WHOLE, /* all its lines are in the text */
    RAG_PACKED_PART,  /* some of its lines are: the first ones of the best hit, when it alone is too big */
} rag_packed_t;

/* rag_pack, saying in MARK[i] (MARK holds res->n entries; may be NULL)
 * what became of RES->hits[i]: so the caller can tell what was cut. */
int rag_pack_marked(const rag_results_t *res, size_t budget, rag_count_fn count, void *ud, char **out,
                    rag_pack_info_t *info, rag_packed_t *mark, errmsg_t *err);

typedef struct rag_lang_count {
    char lang[16];
    size_t files, chunks;
} rag_lang_count_t;

typedef struct rag_index_stats {
    size_t files, chunks;
    uint64_t db_bytes;       /* database plus its write-ahead log */
    int schema_version;
    rag_lang_count_t *langs; /* by number of files, largest first */
    size_t n_langs;
} rag_index_stats_t;

/* Counts of what the index holds now. Free with rag_index_stats_free. */
int rag_stats(rag_t *r, rag_index_stats_t *st, errmsg_t *err);
void rag_index_stats_free(rag_index_stats_t *st);

#endif
