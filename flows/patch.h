/* patch.h - unified diffs applied to a git working tree safely, and undone.
 *
 * A patch is parsed with libgit2 (git_diff_from_buffer) plus octet's own
 * checks (hunk line counts, paths that stay inside the repository, no
 * binary, symlink or submodule changes, each file once). Applying it:
 *   1. checks it against the working tree with git_apply(GIT_APPLY_CHECK),
 *      and refuses when a touched file has changes git has not committed
 *      (modified, staged, untracked or ignored) unless forced;
 *   2. computes every new file content in memory (git_apply_to_tree over
 *      HEAD with the working-tree versions of the touched files, objects
 *      kept in an in-memory object database: nothing is added to .git);
 *   3. records the previous contents, their git blob hashes and the new
 *      hashes under <git dir>/octet/undo/<id>/;
 *   4. writes the files (each through a temporary file and a rename); when
 *      one cannot be written, the ones already written are restored and the
 *      record removed: all files or none.
 * Undoing restores the previous contents of the latest record, refusing
 * when a file changed since the apply unless forced; records form a stack.
 *
 * Also: turning a model's reply into a patch that git can apply (fences
 * removed, missing headers added, hunk counts and line numbers repaired) and
 * rendering a diff with colors. Nothing here prints; the TUI's /refactor and
 * /undo use these functions as `octet apply`, `octet refactor` and
 * `octet undo` do. */
#ifndef OCTET_PATCH_H
#define OCTET_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define PATCH_MAX_BYTES (16 * 1024 * 1024)

typedef enum patch_status {
    PATCH_ADDED,
    PATCH_DELETED,
    PATCH_MODIFIED,
    PATCH_RENAMED,
} patch_status_t;

typedef struct patch_file {
    const char *old_path; /* NULL for an added file */
    const char *new_path; /* NULL for a deleted file */
    patch_status_t status;
    size_t hunks, additions, deletions;
} patch_file_t;

typedef struct patch patch_t;

/* Parse LEN bytes of a unified diff in git's format. SOURCE names the input
 * in messages ("fix.diff:12: ..."). */
int patch_parse(patch_t **out, const char *text, size_t len, const char *source, errmsg_t *err);
void patch_free(patch_t *p);

size_t patch_n_files(const patch_t *p);
const patch_file_t *patch_file(const patch_t *p, size_t i);
const char *patch_text(const patch_t *p); /* the diff as given */
/* "3 files changed, 10 insertions(+), 2 deletions(-)". Malloc'd. */
char *patch_summary(const patch_t *p);

/* Unified diff TEXT for a terminal: its control characters as visible
 * escapes (termsafe.h); with COLOR, file headers bold, hunk headers cyan,
 * removed lines red, added lines green (ANSI SGR). Malloc'd. */
char *patch_colorize(const char *text, bool color);

/* The patch in a model's reply: a ```diff or ```patch block (or the first
 * block with hunks, or the reply from its first "diff --git" / "--- " line),
 * normalized: "diff --git" lines and a/ b/ prefixes added where missing,
 * "new file" / "deleted file" lines for /dev/null sides, blank hunk lines
 * read as empty context lines, hunk counts recounted. With REPO_DIR, each
 * hunk's line numbers are also moved to where its old lines are in the
 * working tree's file (the nearest exact match), as `git apply` tolerates.
 * OCT_ENOTFOUND (with a message for the model) when there is no diff. */
int patch_extract(const char *reply, const char *repo_dir, char **diff, errmsg_t *err);

/* A patch as people and programs write it, for `octet apply`: git's
 * format, or a plain unified diff (`diff -u OLD NEW`, `diff -ru DIR1 DIR2`,
 * --- a/x / +++ b/x without "diff --git" lines), rewritten in git's format
 * against the work tree of the repository around REPO_DIR: plain names
 * resolved to the file of the work tree they name (the new name, else the
 * old one, with leading folders dropped until one exists), and each hunk
 * located by its context and removed lines near its stated line: exact
 * first, then ignoring trailing blanks (the hunk then carries the file's
 * own text), anywhere in the file, the nearest match winning. A hunk whose
 * lines are nowhere, or that matches at two places equally near its stated
 * line, is refused (OCT_EINVAL, naming the file and hunk). *NOTES gets one
 * line per hunk that moved or matched loosely ("f.c: hunk 2 applied 3
 * lines lower (at line 45, not 42)"), NULL when none did. Both malloc'd. */
int patch_normalize(const char *text, size_t len, const char *source, const char *repo_dir, char **diff,
                    char **notes, errmsg_t *err);

/* Check P against the working tree of the repository containing REPO_DIR:
 * what patch_apply checks, without changing anything. */
int patch_check(const patch_t *p, const char *repo_dir, bool force, errmsg_t *err);

/* The check of patch_check's that needs no patch: none of the N work-tree
 * PATHS has changes git has not committed, unless octet itself wrote them
 * there last (stacked edits). For refusing before a model writes a diff
 * that could not be applied. OCT_EINVAL naming the first such file. */
int patch_paths_check(const char *repo_dir, const char *const *paths, size_t n, errmsg_t *err);

/* Apply P (see above). *record_id (may be NULL) gets the undo record's id
 * (malloc'd). OCT_EINVAL when the patch does not apply or a file has
 * uncommitted changes (unless FORCE), OCT_EIO when writing failed (after
 * restoring), and nothing has changed in either case. */
int patch_apply(const patch_t *p, const char *repo_dir, bool force, char **record_id, errmsg_t *err);

/* ---- undo ------------------------------------------------------------------ */

typedef struct patch_undo_file {
    char *path;
    bool existed;   /* before the apply */
    bool exists;    /* after the apply */
    bool changed;   /* the working tree differs from what the apply wrote */
} patch_undo_file_t;

typedef struct patch_undo {
    char *id;          /* the record: <git dir>/octet/undo/<id> */
    char *created;     /* UTC, ISO 8601 */
    char *summary;     /* the patch's summary line */
    patch_undo_file_t *files;
    size_t n_files;
    size_t n_changed;  /* files changed since the apply */
    char *diff;        /* what undoing does: the working tree -> the previous contents */
    size_t depth;      /* records on the stack, this one included */
    char *commit;      /* patch_undo: the commit octet made of it and took back (hex), or NULL */
} patch_undo_t;

/* The latest record of the repository containing REPO_DIR, with the diff
 * undoing it would make. OCT_ENOTFOUND when there is nothing to undo. */
int patch_undo_peek(const char *repo_dir, patch_undo_t **out, errmsg_t *err);
void patch_undo_free(patch_undo_t *u);

/* Commit what record RECORD_ID (patch_apply's) changed, with MESSAGE:
 * HEAD's tree with those paths as the work tree now has them, so the
 * user's other changes, staged or not, stay out of it; author and
 * committer from git config (refused, the change left applied, when git
 * has none); the index entries of those paths follow. The record notes the
 * commit: patch_undo of it, while it is still HEAD, restores the files and
 * moves HEAD back to its parent. *COMMIT_ID: the new commit (hex, malloc'd). */
int patch_commit(const char *repo_dir, const char *record_id, const char *message, char **commit_id, errmsg_t *err);

/* What octet changed here since record SINCE (an id, or NULL: since the
 * first): the records above it on the stack, and for each file they
 * touched its contents before the first of them against the work tree now,
 * as one unified diff (*DIFF malloc'd; "" when nothing differs);
 * *N_CHANGES: how many records. The TUI's /diff, from the record that was
 * latest when it started. */
int patch_since(const char *repo_dir, const char *since, char **diff, size_t *n_changes, errmsg_t *err);
/* Commit the files of the records above SINCE as patch_commit does one
 * record's (the TUI's /commit); the newest of them notes the commit, so
 * undo takes it back with that record. OCT_ENOTFOUND: nothing applied. */
int patch_commit_since(const char *repo_dir, const char *since, const char *message, char **commit_id,
                       errmsg_t *err);
/* The id of the latest record on the stack (malloc'd), or NULL when none. */
char *patch_latest_record(const char *repo_dir);

/* Restore the previous contents recorded by the latest apply and drop the
 * record. When octet committed it (patch_commit), HEAD must still be that
 * commit (else OCT_EINVAL: nothing restored) and moves back to its parent. Refuses (OCT_EINVAL, nothing changed) when a file changed since
 * the apply, unless FORCE. All files or none, as patch_apply. *done (may be
 * NULL) gets what was undone. */
int patch_undo(const char *repo_dir, bool force, patch_undo_t **done, errmsg_t *err);

/* Finish or roll back an apply or undo that was interrupted (killed, power
 * lost) in the repository around REPO_DIR: its journal (<git dir>/octet/
 * journal) is there. Afterwards the work tree holds either the old or the
 * new contents of every touched file, and the undo stack matches. *notice
 * gets what was done (malloc'd; NULL when there was nothing to do). Apply,
 * undo and peek do this themselves first. */
int patch_recover(const char *repo_dir, char **notice, errmsg_t *err);

#endif
