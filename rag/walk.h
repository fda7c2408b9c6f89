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
#include "sb.h"

typedef struct walk walk_t;

typedef struct walk_list {
    char **paths; /* relative to the root, '/'-separated, sorted (strcmp), malloc'd */
    size_t n, cap;
    size_t skip_other; /* tracked symlinks and submodules left out */
} walk_list_t;

/* Find the work tree containing DIR (or DIR itself with no_git). Fails with
 * OCT_ENOTFOUND outside a repository and OCT_EUNSUPPORTED for a bare one.
 * In the usual case (a .git directory above DIR) libgit2 is not started:
 * the caller confirms what was found with the witness of the last listing
 * (walk_witness_root) or asks libgit2 (walk_git). */
int walk_open(walk_t **out, const char *dir, bool no_git, errmsg_t *err);
void walk_close(walk_t *w);
/* What walk_open finds without libgit2, and a .git file followed to the
 * git directory it names (only a guess of libgit2's answer: callers
 * compare): 0 with *ROOT (and *GITDIR, NULL with no_git) malloc'd, or -1
 * when only libgit2 could tell. */
int walk_find(const char *dir, bool no_git, char **root, char **gitdir);
/* Open the repository with libgit2 (once). With ADOPT, what libgit2 finds
 * replaces what walk_open found; without, finding another root or git
 * directory is an error. */
int walk_git(walk_t *w, bool adopt, errmsg_t *err);
/* True while the repository was found without libgit2 (walk_open). */
bool walk_found_light(const walk_t *w);

const char *walk_root(const walk_t *w);   /* absolute, no trailing '/' */
const char *walk_gitdir(const walk_t *w); /* absolute, no trailing '/'; NULL with no_git */

/* List the candidate files. Paths starting with SKIP_PREFIX (relative to
 * the root; NULL for none) are left out: the index database and its side
 * files when they live inside the work tree. Checks *cancel between
 * directories. WITNESS receives what the listing depended on (walk.c, "the
 * witness"), or nothing when it cannot be trusted or with no_git. */
int walk_list(walk_t *w, const char *skip_prefix, const atomic_int *cancel, walk_list_t *out,
              sbuf_t *witness, errmsg_t *err);
/* The listing walk_list would make now, from the WITNESS (N bytes) of an
 * earlier one, without libgit2: 0, or 1 when the witness no longer holds
 * (something it recorded changed, or .git/index is not for gitindex.c), or
 * OCT_ENOMEM. */
int walk_list_fast(walk_t *w, const char *skip_prefix, const void *witness, size_t n, walk_list_t *out);
/* True when WITNESS was made for the root and git directory walk_open found. */
bool walk_witness_root(const walk_t *w, const void *witness, size_t n);
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
