/* indexer.c - the background index update (see indexer.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer.h"

struct tui_indexer {
    rag_t *rag;
    bool embed;
    pthread_t thread;
    atomic_int cancel;
    atomic_int running;
    atomic_int phase;
    atomic_size_t done, total;
    pthread_mutex_t mu; /* guards msg and failed */
    char msg[2 * ERRMSG_MAX + 128];
    bool failed;
};

static void on_progress(const rag_progress_t *p, void *ud)
{
    tui_indexer_t *x = ud;
    atomic_store(&x->phase, (int)p->phase);
    atomic_store(&x->done, p->done);
    atomic_store(&x->total, p->total);
}

static void *run(void *arg)
{
    tui_indexer_t *x = arg;
    rag_update_stats_t st;
    errmsg_t err = {0};
    int rc = rag_update(x->rag, on_progress, x, &x->cancel, &st, &err);
    pthread_mutex_lock(&x->mu);
    if (rc == OCT_ECANCELED) {
        snprintf(x->msg, sizeof x->msg, "index update stopped");
        x->failed = true;
    } else if (rc) {
        snprintf(x->msg, sizeof x->msg, "index update failed: %s", err.msg);
        x->failed = true;
    } else {
        const char *note = rag_notice(x->rag);
        snprintf(x->msg, sizeof x->msg, "index up to date: %zu files, %zu chunks (%zu changed, %zu removed) in %.1f s%s%s",
                 st.files, st.chunks, st.changed, st.removed, st.seconds, note[0] ? "; " : "", note);
    }
    pthread_mutex_unlock(&x->mu);
    if (!rc && x->embed) {
        /* lexical retrieval works from here on; the vectors fill in */
        rag_embed_stats_t es;
        int e = rag_embed(x->rag, on_progress, x, &x->cancel, &es, &err);
        pthread_mutex_lock(&x->mu);
        size_t n = strlen(x->msg);
        if (e == OCT_ECANCELED)
            snprintf(x->msg + n, sizeof x->msg - n, "; embedding stopped at %zu of %zu chunks", es.ready, es.total);
        else if (e)
            snprintf(x->msg + n, sizeof x->msg - n, "; embedding failed (retrieval stays lexical): %s", err.msg);
        else
            snprintf(x->msg + n, sizeof x->msg - n, "; %zu chunk%s embedded in %.1f s: retrieval is hybrid",
                     es.embedded, es.embedded == 1 ? "" : "s", es.seconds);
        pthread_mutex_unlock(&x->mu);
    }
    atomic_store(&x->running, 0);
    return NULL;
}

int tui_indexer_start(tui_indexer_t **out, rag_t *rag, bool embed, errmsg_t *err)
{
    *out = NULL;
    tui_indexer_t *x = calloc(1, sizeof *x);
    if (!x)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    x->rag = rag;
    x->embed = embed;
    atomic_store(&x->running, 1);
    atomic_store(&x->phase, (int)RAG_PHASE_LIST);
    pthread_mutex_init(&x->mu, NULL);
    if (pthread_create(&x->thread, NULL, run, x)) {
        pthread_mutex_destroy(&x->mu);
        free(x);
        return errmsg_set(err, OCT_EINTERNAL, "cannot start the indexing thread");
    }
    *out = x;
    return 0;
}

void tui_indexer_progress(tui_indexer_t *x, tui_index_progress_t *p)
{
    p->running = atomic_load(&x->running) != 0;
    p->phase = (rag_phase_t)atomic_load(&x->phase);
    p->done = atomic_load(&x->done);
    p->total = atomic_load(&x->total);
}

bool tui_indexer_result(tui_indexer_t *x, char *buf, size_t n, bool *failed)
{
    if (atomic_load(&x->running))
        return false;
    pthread_mutex_lock(&x->mu);
    snprintf(buf, n, "%s", x->msg);
    *failed = x->failed;
    pthread_mutex_unlock(&x->mu);
    return true;
}

void tui_indexer_free(tui_indexer_t *x)
{
    if (!x)
        return;
    atomic_store(&x->cancel, 1);
    pthread_join(x->thread, NULL);
    pthread_mutex_destroy(&x->mu);
    free(x);
}
