/* gitindex.h - the list of paths in git's index file (.git/index), read
 * without libgit2 (private to rag/). A search over an unchanged repository
 * uses it to check that the tracked files are those the last full listing
 * saw, which spares libgit2's start-up (walk.c, "the witness"). Only what
 * that needs is read: each entry's path and mode. Anything this reader does
 * not know for sure (a split or sparse index, an extension git requires
 * readers to understand, a truncated or damaged file) is refused, and the
 * caller falls back to libgit2. */
#ifndef OCTET_RAG_GITINDEX_H
#define OCTET_RAG_GITINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct gitindex_entry {
    const char *path; /* NUL-terminated, in gitindex_t.names */
    uint32_t mode;    /* 0100644, 0100755, 0120000 (symlink), 0160000 (gitlink) */
    unsigned stage;   /* 0, or 1-3 for the sides of a merge conflict */
} gitindex_entry_t;

typedef struct gitindex {
    gitindex_entry_t *v; /* in the file's order (sorted by path, stages repeat it) */
    size_t n;
    char *names;
} gitindex_t;

/* Parse the N bytes of an index file (versions 2, 3 and 4). 0 on success,
 * OCT_EFORMAT when the file is not one this reader understands completely,
 * OCT_ENOMEM. On failure *OUT is empty. */
int gitindex_parse(const unsigned char *data, size_t n, gitindex_t *out);
/* Read and parse the file PATH: as gitindex_parse, OCT_EIO when unreadable. */
int gitindex_read(const char *path, gitindex_t *out);
void gitindex_free(gitindex_t *g);

#endif
