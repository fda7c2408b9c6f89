/* patch_io.h - the file layer under patch.c's apply and undo: writes that
 * stay inside the work tree, survive a crash whole or not at all, and a
 * journal that lets the next run finish or roll back a group of them.
 *
 * Every path is resolved from a directory file descriptor of the work tree
 * one component at a time with O_NOFOLLOW: a symbolic link (or anything
 * but a directory) on the way is refused at the moment of the write, so a
 * race that swaps a directory for a link cannot send a write elsewhere. A
 * file is replaced by a temporary file written in the same directory and
 * renamed over it; patch_io_sync between the staging and the renames, and
 * after them, makes both durable (one syncfs each, not an fsync per file). */
#ifndef OCTET_PATCH_IO_H
#define OCTET_PATCH_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "errmsg.h"

typedef struct patch_io patch_io_t;

/* Open the work tree ROOT (a directory) for writing below it. */
int patch_io_open(patch_io_t **out, const char *root, errmsg_t *err);
void patch_io_close(patch_io_t *io);

/* Write DATA as TMP (a plain name) in the directory of PATH (relative to the
 * root), creating missing directories, with permission bits PERM. */
int patch_io_stage(patch_io_t *io, const char *path, const char *tmp, const char *data, size_t len, mode_t perm,
                   errmsg_t *err);
/* Rename the staged TMP over PATH. */
int patch_io_commit(patch_io_t *io, const char *path, const char *tmp, errmsg_t *err);
/* Remove PATH (already absent is fine), then the directories it leaves
 * empty up to the root. */
int patch_io_remove(patch_io_t *io, const char *path, errmsg_t *err);
/* Remove TMP next to PATH when it is there (cleanup; errors ignored). */
void patch_io_discard(patch_io_t *io, const char *path, const char *tmp);
/* Flush everything written so far on the work tree's file system. */
int patch_io_sync(patch_io_t *io, errmsg_t *err);

/* The journal FILE holds one line "OP ID": a group of writes in progress.
 * Written through a temporary file, fsync'd with its directory, before the
 * first write of the group; cleared (removed, directory fsync'd) after the
 * last. read: OCT_ENOTFOUND when there is none. */
int patch_io_journal_write(const char *file, const char *op, const char *id, errmsg_t *err);
int patch_io_journal_read(const char *file, char *op, size_t op_size, char *id, size_t id_size, errmsg_t *err);
int patch_io_journal_clear(const char *file, errmsg_t *err);

/* fsync a file or a directory by path (0 or -1 with errno). */
int patch_io_fsync_path(const char *path);

#endif
