/* indexer.h - bringing the repository index up to date on a background
 * thread (rag_update, then rag_embed when the index has an embedder: the
 * chunks' vectors for hybrid retrieval, while lexical retrieval already
 * works) while the TUI stays responsive: progress readable at any time for
 * the status bar (RAG_PHASE_EMBED while embedding), cancellation, and a
 * one-line summary or error when it ends. No ncurses. */
#ifndef OCTET_TUI_INDEXER_H
#define OCTET_TUI_INDEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "rag.h"

typedef struct tui_indexer tui_indexer_t;

/* Start updating the index of RAG (which must outlive the indexer); with
 * EMBED, then its vectors (RAG's embedder set). */
int tui_indexer_start(tui_indexer_t **out, rag_t *rag, bool embed, errmsg_t *err);

typedef struct tui_index_progress {
    bool running;
    rag_phase_t phase;
    size_t done, total;
} tui_index_progress_t;

void tui_indexer_progress(tui_indexer_t *x, tui_index_progress_t *p);
/* When the update has ended: true, with its summary or error in BUF and
 * *FAILED telling which. False while it runs. */
bool tui_indexer_result(tui_indexer_t *x, char *buf, size_t n, bool *failed);
/* Cancel (if running), wait for the thread and free. */
void tui_indexer_free(tui_indexer_t *x);

#endif
