/* ahead.c - a query run beside the index update (rag_ahead_start, rag.h).
 *
 * `octet search` must bring the index up to date before it answers, and
 * over an unchanged tree (every search but the first after an edit) that
 * update writes nothing: the query can then run on the read connection
 * while the update stats the files, on the machine's other core, and its
 * answer stands. Whether the index changed meanwhile is told by meta
 * 'gen', which every commit that changes a chunk or a vector sets to a new
 * random value (gen_bump): the same value before the query and after the
 * update means the query read what a query after the update would read.
 * Otherwise the query runs again. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "rag.h"
#include "rag_int.h"

struct rag_ahead {
    rag_t *r;
    char *prompt;
    size_t len, k;
    rag_mode_t want;
    pthread_t th;
    bool started;
    int gen_rc; /* an SQLite code */
    int64_t gen;
    int rc;
    rag_results_t res;
    rag_query_info_t info;
    errmsg_t err;
};

/* The index's generation as the read connection sees it now (0 before the
 * first change); an SQLite code, or SQLITE_ERROR when it is not open. */
static int read_gen(rag_t *r, int64_t *gen)
{
    pthread_mutex_lock(&r->rmu);
    int s = r->rdb ? query_int(r->rdb, "SELECT value FROM meta WHERE key = 'gen'", gen) : SQLITE_ERROR;
    pthread_mutex_unlock(&r->rmu);
    return s;
}

static void *ahead_main(void *p)
{
    rag_ahead_t *a = p;
    a->gen_rc = read_gen(a->r, &a->gen);
    if (a->gen_rc == SQLITE_OK)
        a->rc = rag_query_ex(a->r, a->prompt, a->len, a->k, a->want, &a->res, &a->info, &a->err);
    return NULL;
}

int rag_ahead_start(rag_t *r, const char *prompt, size_t len, size_t k, rag_mode_t want, rag_ahead_t **out,
                    errmsg_t *err)
{
    *out = NULL;
    rag_ahead_t *a = calloc(1, sizeof *a);
    if (!a || !(a->prompt = malloc(len + 1))) {
        free(a);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    memcpy(a->prompt, prompt, len);
    a->prompt[len] = '\0';
    a->r = r;
    a->len = len;
    a->k = k;
    a->want = want;
    /* a thread that cannot start costs nothing: rag_ahead_finish queries */
    a->started = pthread_create(&a->th, NULL, ahead_main, a) == 0;
    *out = a;
    return 0;
}

static void join(rag_ahead_t *a)
{
    if (a->started)
        pthread_join(a->th, NULL);
    a->started = false;
}

int rag_ahead_finish(rag_ahead_t *a, rag_results_t *out, rag_query_info_t *info, errmsg_t *err)
{
    bool ran = a->started;
    join(a);
    int64_t now = 0;
    if (ran && a->gen_rc == SQLITE_OK && a->rc == 0 && read_gen(a->r, &now) == SQLITE_OK && now == a->gen) {
        *out = a->res;
        memset(&a->res, 0, sizeof a->res);
        if (info)
            *info = a->info;
        return 0;
    }
    /* the index changed under it, or it failed (a damaged index is the
     * caller's to rebuild, from this query's error) */
    return rag_query_ex(a->r, a->prompt, a->len, a->k, a->want, out, info, err);
}

void rag_ahead_free(rag_ahead_t *a)
{
    if (!a)
        return;
    join(a);
    rag_results_free(&a->res);
    free(a->prompt);
    free(a);
}
