/* encoder.c - the retrieval encoder as rag's embedder (see encoder.h). */
#include "encoder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "preset.h"

/* A query embedded ahead (encoder_prefetch). */
typedef struct ahead {
    pthread_mutex_t mu; /* guards the join */
    pthread_t th;
    bool started, joined;
    char *text;
    size_t len;
    float *vec; /* re.dim */
    int rc;
    errmsg_t err;
} ahead_t;

struct encoder {
    char *path;
    int n_threads;
    rag_embedder_t re;
    pthread_mutex_t mu; /* guards loading */
    emb_t *emb;         /* NULL until the first text */
    int load_rc;        /* a failed load is not tried again */
    errmsg_t load_err;
    ahead_t ah;
};

static int embed_now(encoder_t *e, rag_embed_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err);

/* The prefetched vector of the query TEXT into OUT: true, after waiting for
 * it, when it was asked for and made. */
static bool ahead_take(encoder_t *e, const char *text, size_t len, float *out)
{
    ahead_t *a = &e->ah;
    if (!a->started || len != a->len || memcmp(text, a->text, len) != 0)
        return false;
    pthread_mutex_lock(&a->mu);
    if (!a->joined)
        pthread_join(a->th, NULL);
    a->joined = true;
    pthread_mutex_unlock(&a->mu);
    if (a->rc)
        return false; /* the caller's own try says why */
    memcpy(out, a->vec, e->re.dim * sizeof *out);
    return true;
}

/* rag_embed_fn: a prefetched query, or load on first use, then embed. */
static int embed(void *ud, rag_embed_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err)
{
    encoder_t *e = ud;
    if (kind == RAG_EMBED_QUERY && ahead_take(e, text, len, out))
        return 0;
    return embed_now(e, kind, text, len, out, err);
}

static int embed_now(encoder_t *e, rag_embed_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err)
{
    pthread_mutex_lock(&e->mu);
    if (!e->emb && !e->load_rc) {
        e->load_rc = emb_open(&e->emb, e->path, e->n_threads, &e->load_err);
        if (!e->load_rc && emb_dim(e->emb) != e->re.dim) {
            /* the file changed since it was identified: its vectors would not fit */
            e->load_rc = errmsg_set(&e->load_err, OCT_EINVAL, "%s changed while octet ran", e->path);
            emb_close(e->emb);
            e->emb = NULL;
        }
    }
    int rc = e->load_rc;
    if (rc && err)
        *err = e->load_err;
    pthread_mutex_unlock(&e->mu);
    if (rc)
        return rc;
    return emb_text(e->emb, kind == RAG_EMBED_QUERY ? EMB_QUERY : EMB_CODE, text, len, out, err);
}

int encoder_open(encoder_t **out, const char *path, int n_threads, char *why, size_t n, errmsg_t *err)
{
    *out = NULL;
    if (why && n)
        why[0] = '\0';
    char w[512];
    if (!path && !(path = preset_embed_model(w, sizeof w))) {
        if (why)
            snprintf(why, n, "%s", w);
        return 0;
    }
    encoder_t *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&e->mu, NULL);
    e->n_threads = n_threads;
    int rc = emb_file_id(path, e->re.model, sizeof e->re.model, err);
    /* the dimension decides the vectors' size before the model is loaded */
    if (!rc)
        rc = emb_file_dim(path, &e->re.dim, err);
    if (rc) {
        encoder_close(e);
        return rc;
    }
    e->re.embed = embed;
    e->re.ud = e;
    *out = e;
    return 0;
}

static void *prefetch_main(void *p)
{
    encoder_t *e = p;
    e->ah.rc = embed_now(e, RAG_EMBED_QUERY, e->ah.text, e->ah.len, e->ah.vec, &e->ah.err);
    return NULL;
}

void encoder_prefetch(encoder_t *e, const char *text, size_t len)
{
    ahead_t *a = e ? &e->ah : NULL;
    if (!a || a->started || len == 0)
        return;
    a->text = malloc(len);
    a->vec = malloc(e->re.dim * sizeof *a->vec);
    if (a->text && a->vec) {
        memcpy(a->text, text, len);
        a->len = len;
        pthread_mutex_init(&a->mu, NULL);
        a->started = pthread_create(&a->th, NULL, prefetch_main, e) == 0;
        if (!a->started)
            pthread_mutex_destroy(&a->mu);
    }
    if (!a->started) { /* the query is embedded when it is asked */
        free(a->text);
        free(a->vec);
        a->text = NULL;
        a->vec = NULL;
    }
}

void encoder_close(encoder_t *e)
{
    if (!e)
        return;
    if (e->ah.started) {
        if (!e->ah.joined)
            pthread_join(e->ah.th, NULL);
        pthread_mutex_destroy(&e->ah.mu);
    }
    free(e->ah.text);
    free(e->ah.vec);
    emb_close(e->emb);
    pthread_mutex_destroy(&e->mu);
    free(e->path);
    free(e);
}

const char *encoder_path(const encoder_t *e)
{
    return e->path;
}

void encoder_attach(encoder_t *e, rag_t *r)
{
    rag_set_embedder(r, e ? &e->re : NULL);
}

int encoder_catch_up(rag_t *r, size_t max, errmsg_t *err)
{
    size_t ready = 0, total = 0;
    int rc = rag_embed_status(r, &ready, &total, err);
    if (rc || ready == total || total - ready > max)
        return rc;
    return rag_embed(r, NULL, NULL, NULL, NULL, err);
}

void encoder_use(rag_t *r, bool lexical, int n_threads, encoder_t **out, char *why, size_t n)
{
    errmsg_t err = {0};
    *out = NULL;
    if (lexical)
        snprintf(why, n, "--lexical");
    else if (encoder_open(out, NULL, n_threads, why, n, &err) != 0)
        snprintf(why, n, "%s", err.msg);
    if (r)
        encoder_attach(*out, r);
}

void encoder_describe(rag_t *r, const encoder_t *e, bool lexical, const char *why, char *buf, size_t n)
{
    size_t ready = 0, total = 0;
    errmsg_t err = {0};
    if (lexical)
        snprintf(buf, n, "lexical (--lexical)");
    else if (!e)
        snprintf(buf, n, "lexical: no retrieval encoder (%s)", why);
    else if (rag_embed_status(r, &ready, &total, &err) != 0)
        snprintf(buf, n, "lexical: %s", err.msg);
    else if (ready == total && total)
        snprintf(buf, n, "hybrid: BM25 and %s, %zu chunks with vectors", e->path, total);
    else
        snprintf(buf, n, "lexical until every chunk has its vector: %zu of %zu have one", ready, total);
}
