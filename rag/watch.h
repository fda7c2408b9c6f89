/* watch.h - whether a work tree may have changed since the index was last
 * brought up to date, from the kernel's inotify events rather than a stat
 * of every file: so a process that stays (`octet index --watch`) updates
 * the index before a query only when something happened.
 *
 * Watched: every directory of the work tree (a nested repository's own
 * directory, not its contents; .git's contents not), and the git directory
 * itself and its info/ (the index, HEAD, config, info/exclude). Any event
 * there counts, except those of the index database's own files. New
 * directories get watches as they appear; when the kernel's queue
 * overflowed, every directory is watched again. When a directory cannot be
 * watched (the limit of watches reached), the tracking is blind from then
 * on and every question answers "changed". */
#ifndef OCTET_RAG_WATCH_H
#define OCTET_RAG_WATCH_H

#include <stdbool.h>

#include "errmsg.h"
#include "rag.h"

typedef struct rag_watch rag_watch_t;

/* Start watching R's work tree. Open it before the update it guards, so
 * that nothing changed meanwhile goes unseen. OCT_EUNSUPPORTED (ERR says
 * why) when inotify cannot be used here or the limit of watches is reached
 * at once: the caller then updates before every query. */
int rag_watch_open(rag_watch_t **out, const rag_t *r, errmsg_t *err);
void rag_watch_close(rag_watch_t *w);

/* The inotify descriptor, readable when events wait (for poll). */
int rag_watch_fd(const rag_watch_t *w);

/* Read the waiting events without blocking: *DIRTY is true when anything in
 * the work tree or the git directory may have changed since the last call
 * (or since rag_watch_open), or while blind. 0, or OCT_EIO. */
int rag_watch_dirty(rag_watch_t *w, bool *dirty, errmsg_t *err);

/* "" while every directory is watched, else why not (the tracking is blind
 * and rag_watch_dirty always answers true). */
const char *rag_watch_blind(const rag_watch_t *w);

#endif
