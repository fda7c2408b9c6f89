/* blocks.h - search/replace edit blocks, as aider and many models write
 * them, turned into a unified diff for flows/patch.h's checked, undoable
 * apply:
 *
 *     path/to/file.py
 *     <<<<<<< SEARCH
 *     original lines
 *     =======
 *     replacement lines
 *     >>>>>>> REPLACE
 *
 * The path is the last line before the block that is not blank or a ```
 * fence (so it may be outside or inside the fence); a block with no path
 * line uses the previous block's path. Each SEARCH is looked for in the
 * file as the blocks before it left it: exactly (line endings aside), else
 * modulo a uniform difference of leading whitespace, the replacement then
 * re-indented by the same difference. A SEARCH found nowhere, or at more
 * than one place, is refused. An empty SEARCH creates a file that does not
 * exist and appends to one that does. Nothing here prints or writes. */
#ifndef OCTET_BLOCKS_H
#define OCTET_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

typedef struct blocks blocks_t;

/* Whether TEXT (LEN bytes) has a "<<<<<<< SEARCH" line: blocks, not a diff. */
bool blocks_detect(const char *text, size_t len);

/* How much of TEXT to keep when its last block is unfinished (a reply cut
 * off): the bytes up to the end of the last complete block's >>>>>>>
 * REPLACE line (0 when there is none); LEN when no block is unfinished. */
size_t blocks_complete_len(const char *text, size_t len);

/* The blocks of TEXT; prose and fences around them are skipped. SOURCE
 * names the input in messages ("fix.txt: block 2 (line 14): ..."). A
 * malformed block (no ======= or >>>>>>> REPLACE, a stray marker, no path,
 * a path leaving the work tree) is OCT_EFORMAT; no block at all is
 * OCT_ENOTFOUND. */
int blocks_parse(blocks_t **out, const char *text, size_t len, const char *source, errmsg_t *err);
void blocks_free(blocks_t *b);

size_t blocks_count(const blocks_t *b);
/* The files the blocks edit, in order of first appearance. */
size_t blocks_n_files(const blocks_t *b);
const char *blocks_file(const blocks_t *b, size_t i);

/* The contents of file PATH after B's blocks for it: OLD (OLD_LEN bytes;
 * NULL when the file does not exist) edited in order. *out (malloc'd,
 * NUL-terminated, *out_len bytes) is NULL when the file still does not
 * exist. *notes gets a line per block that matched loosely or appended
 * (malloc'd; NULL when none). OCT_EINVAL naming the block and the file when
 * a SEARCH is nowhere or at several places, or the file is binary. */
int blocks_edit(const blocks_t *b, const char *path, const char *old, size_t old_len, char **out, size_t *out_len,
                char **notes, errmsg_t *err);

/* B applied to the work tree of the repository around REPO_DIR, as a
 * unified diff in git's format (*diff, malloc'd) for patch_parse and
 * patch_apply; *notes as blocks_edit's, for all files. OCT_EINVAL when a
 * block does not apply, a path is not a regular file or goes through a
 * symbolic link, or the blocks change nothing. */
int blocks_diff(const blocks_t *b, const char *repo_dir, char **diff, char **notes, errmsg_t *err);

#endif
