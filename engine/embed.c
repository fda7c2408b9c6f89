/* embed.c - the retrieval encoder (see embed.h): its keys checked, texts
 * tokenized the way the encoder was trained, vectors through eng_embed. */
#include "embed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

struct emb {
    gguf_t *g;      /* opened once: its keys checked, then the model's file */
    model_t *md;
    eng_model_t *m;
    eng_session_t *s;
    uint32_t dim;
    int32_t first[2];   /* by emb_kind_t: <|query|>, <|code|> */
    uint32_t max_tok[2];
    pthread_mutex_t mu; /* one text at a time through the session */
};

static int key_uint(const gguf_t *g, const char *key, uint64_t max, uint64_t *out, errmsg_t *err)
{
    int rc = gguf_get_uint(g, key, out, err);
    if (!rc && (*out == 0 || *out > max))
        rc = errmsg_set(err, OCT_EFORMAT, "%s: %s = %llu is out of range (1..%llu)", gguf_path(g), key,
                        (unsigned long long)*out, (unsigned long long)max);
    return rc;
}

/* A string key that must equal WANT. */
static int key_is(const gguf_t *g, const char *key, const char *want, errmsg_t *err)
{
    gguf_str_t v;
    int rc = gguf_get_str(g, key, &v, err);
    if (!rc && !gguf_str_eq(v, want))
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: %s = \"%.*s\": octet's encoder does \"%s\" only", gguf_path(g),
                        key, (int)(v.len < 64 ? v.len : 64), v.ptr, want);
    return rc;
}

int emb_open(emb_t **out, const char *path, int n_threads, errmsg_t *err)
{
    *out = NULL;
    emb_t *e = calloc(1, sizeof *e);
    if (!e)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    pthread_mutex_init(&e->mu, NULL);
    eng_opts_t o;
    eng_opts_default(&o);
    o.backend = "cpu";
    o.n_threads = n_threads;
    /* a pass holds at most a few hundred tokens: the KV cache in f32 costs
     * little and keeps the attention as exact as the weights allow */
    o.kvfmt = ENG_KV_F32;
    uint64_t v[5];
    int rc = gguf_open(&e->g, path, err);
    if (rc)
        goto fail;
    const gguf_t *g = e->g;
    bool causal = true;
    if (gguf_find_key(g, "octet.encoder.causal") < 0) {
        rc = errmsg_set(err, OCT_EINVAL, "%s: not a retrieval encoder (no octet.encoder.causal key)", path);
        goto fail;
    }
    if ((rc = gguf_get_bool(g, "octet.encoder.causal", &causal, err)))
        goto fail;
    if (causal) {
        rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: octet.encoder.causal is true: octet's encoder is bidirectional",
                        path);
        goto fail;
    }
    if ((rc = key_is(g, "octet.encoder.pooling", "mean", err)) ||
        (rc = key_is(g, "octet.encoder.normalize", "l2", err)) ||
        (rc = key_uint(g, "octet.encoder.query_token_id", INT32_MAX, &v[0], err)) ||
        (rc = key_uint(g, "octet.encoder.doc_token_id", INT32_MAX, &v[1], err)) ||
        (rc = key_uint(g, "octet.encoder.query_max_tokens", 1u << 16, &v[2], err)) ||
        (rc = key_uint(g, "octet.encoder.doc_max_tokens", 1u << 16, &v[3], err)) ||
        (rc = key_uint(g, "octet.encoder.embedding_length", 1u << 16, &v[4], err)))
        goto fail;
    e->first[EMB_QUERY] = (int32_t)v[0];
    e->first[EMB_CODE] = (int32_t)v[1];
    e->max_tok[EMB_QUERY] = (uint32_t)v[2];
    e->max_tok[EMB_CODE] = (uint32_t)v[3];
    e->dim = (uint32_t)v[4];
    o.n_ctx = o.n_batch = v[2] > v[3] ? (uint32_t)v[2] : (uint32_t)v[3];
    if ((rc = model_load(&e->md, g, err)) || (rc = eng_open_model(&e->m, g, e->md, &o, err)))
        goto fail;
    const model_hparams_t *hp = eng_hparams(e->m);
    if (hp->n_embd != e->dim) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: octet.encoder.embedding_length %u is not the model's width %u", path,
                        e->dim, hp->n_embd);
        goto fail;
    }
    if (!eng_tokenizer(e->m)) {
        rc = errmsg_set(err, OCT_EFORMAT, "%s: the encoder has no tokenizer", path);
        goto fail;
    }
    for (int k = 0; k < 2; k++)
        if ((uint32_t)e->first[k] >= eng_n_vocab(e->m)) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: octet.encoder.%s_token_id %d is outside the vocabulary (%u)", path,
                            k == EMB_QUERY ? "query" : "doc", e->first[k], eng_n_vocab(e->m));
            goto fail;
        }
    if ((rc = eng_session_new(&e->s, e->m, err)))
        goto fail;
    *out = e;
    return 0;
fail:
    emb_close(e);
    return rc;
}

void emb_close(emb_t *e)
{
    if (!e)
        return;
    eng_session_free(e->s);
    eng_close(e->m);
    model_free(e->md);
    gguf_close(e->g);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

uint32_t emb_dim(const emb_t *e)
{
    return e->dim;
}

uint32_t emb_max_tokens(const emb_t *e, emb_kind_t kind)
{
    return e->max_tok[kind == EMB_QUERY ? EMB_QUERY : EMB_CODE];
}

int emb_tokens(const emb_t *e, emb_kind_t kind, const char *text, size_t len, int32_t **ids, size_t *n,
               errmsg_t *err)
{
    int k = kind == EMB_QUERY ? EMB_QUERY : EMB_CODE;
    int32_t *bpe = NULL;
    size_t nb = 0;
    *ids = NULL;
    *n = 0;
    /* the whole text is a plain range: a "<|code|>" written in a file is text, as in training */
    size_t plain[2] = {0, len};
    int rc = tok_encode_ranges(eng_tokenizer(e->m), text, len, 0, plain, len ? 1 : 0, &bpe, &nb, err);
    if (rc)
        return rc;
    size_t keep = nb < e->max_tok[k] - 1 ? nb : e->max_tok[k] - 1;
    int32_t *v = malloc((keep + 1) * sizeof *v);
    if (!v) {
        free(bpe);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    v[0] = e->first[k];
    if (keep) /* an empty text has no BPE ids (and bpe may be NULL) */
        memcpy(v + 1, bpe, keep * sizeof *v);
    free(bpe);
    *ids = v;
    *n = keep + 1;
    return 0;
}

int emb_text(emb_t *e, emb_kind_t kind, const char *text, size_t len, float *out, errmsg_t *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = emb_tokens(e, kind, text, len, &ids, &n, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&e->mu);
    rc = eng_embed(e->s, ids, n, out, err);
    pthread_mutex_unlock(&e->mu);
    free(ids);
    return rc;
}

/* FNV-1a, 64 bits, continued from H. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int emb_file_id(const char *path, char *id, size_t n, errmsg_t *err)
{
    enum { SAMPLES = 16, BLOCK = 4096 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(err, errno == ENOENT ? OCT_ENOTFOUND : OCT_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errmsg_set(err, OCT_EIO, "%s: not a regular file", path);
    }
    /* evenly spaced blocks, the first and the last included: the header,
     * the tokenizer and weights of every part of the file */
    uint64_t h = 0xcbf29ce484222325ULL, size = (uint64_t)st.st_size;
    unsigned char buf[BLOCK];
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t off = size > BLOCK ? (size - BLOCK) / (SAMPLES - 1) * (uint64_t)i : 0;
        ssize_t r = pread(fd, buf, BLOCK, (off_t)off);
        if (r < 0) {
            int e = errno;
            close(fd);
            return errmsg_set(err, OCT_EIO, "%s: %s", path, strerror(e));
        }
        h = fnv(h, buf, (size_t)r);
    }
    close(fd);
    snprintf(id, n, "%llu-%016llx", (unsigned long long)size, (unsigned long long)h);
    return 0;
}

int emb_file_dim(const char *path, uint32_t *dim, errmsg_t *err)
{
    gguf_t *g = NULL;
    uint64_t v = 0;
    int rc = gguf_open(&g, path, err);
    if (!rc)
        rc = key_uint(g, "octet.encoder.embedding_length", 1u << 16, &v, err);
    gguf_close(g);
    *dim = (uint32_t)v;
    return rc;
}
