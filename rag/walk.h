/* walk.h - which files of a work tree get indexed (private to rag/): the
 * files git tracks plus untracked files that are not ignored, found with
 * libgit2; or every file of a plain directory. Exclude patterns leave out
 * generated and vendored noise. */
#ifndef OCTET_RAG_WALK_H
#define OCTET_RAG_WALK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

typedef struct walk walk_t;

typedef struct walk_list {
    char **paths; /* relative to the root, '/'-separated, sorted (strcmp), malloc'd */
    size_t n, cap;
    size_t skip_other; /* tracked symlinks and submodules left out */
} walk_list_t;

/* Find the work tree containing DIR (or DIR itself with no_git). Fails with
 * OCT_ENOTFOUND outside a repository and OCT_EUNSUPPORTED for a bare one.
 * git_libgit2_init must have been called. */
int walk_open(walk_t **out, const char *dir, bool no_git, errmsg_t *err);
void walk_close(walk_t *w);

const char *walk_root(const walk_t *w);   /* absolute, no trailing '/' */
const char *walk_gitdir(const walk_t *w); /* absolute, no trailing '/'; NULL with no_git */

/* List the candidate files. Paths starting with SKIP_PREFIX (relative to
 * the root; NULL for none) are left out: the index database and its side
 * files when they live inside the work tree. Checks *cancel between
 * directories. */
int walk_list(walk_t *w, const char *skip_prefix, const atomic_int *cancel, walk_list_t *out,
              errmsg_t *err);
void walk_list_free(walk_list_t *l);

/* Exclude patterns (see rag_options_t.exclude for their syntax). */
typedef struct walk_excludes {
    char **pats;
    size_t n, cap;
} walk_excludes_t;

/* Add one pattern (a line of RAG_EXCLUDE_FILE: blanks trimmed, '#' starts a
 * comment line). 0 or OCT_ENOMEM. */
int walk_excludes_add(walk_excludes_t *ex, const char *pat, size_t len);
/* Add the lines of the file PATH; a missing file adds nothing. */
int walk_excludes_load(walk_excludes_t *ex, const char *path, errmsg_t *err);
bool walk_excluded(const walk_excludes_t *ex, const char *path);
void walk_excludes_free(walk_excludes_t *ex);

#endif
