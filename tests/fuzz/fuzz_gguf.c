/* fuzz_gguf.c - libFuzzer harness for the GGUF reader and the model
 * description: opens the input with gguf_open_mem, reads every metadata
 * value, array element and tensor byte range the accessors hand out, then
 * runs model_load and model_mem_plan. Beyond crashes (ASan/UBSan) it checks
 * the reader's promises and aborts when one is broken: every error is one
 * line naming the input, and every pointer handed out lies inside the input.
 * tests/unit/engine/test_fuzz_gguf.c #includes this file to replay the corpus and the
 * regression inputs in `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"

#define FUZZ_NAME "fuzz.gguf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

static int fuzz_inside(const uint8_t *data, size_t size, const void *p, uint64_t n)
{
    const uint8_t *q = p;
    return q >= data && (uint64_t)(q - data) <= size && n <= size - (uint64_t)(q - data);
}

static void fuzz_check_error(const errmsg_t *err, int rc)
{
    fuzz_require(rc < 0 && err->code == rc);
    fuzz_require(strncmp(err->msg, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0);
    fuzz_require(strchr(err->msg, '\n') == NULL);
}

/* A checksum of everything read, so the reads cannot be optimized away. */
static volatile uint64_t fuzz_sink;

static void fuzz_walk(const gguf_t *g, const uint8_t *data, size_t size)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < gguf_kv_count(g); i++) {
        const char *key = gguf_kv_key(g, i);
        fuzz_require(key != NULL && gguf_find_key(g, key) == (int64_t)i);
        gguf_type_t t = gguf_kv_type(g, i);
        fuzz_require((unsigned)t < GGUF_TYPE_COUNT);
        acc += strlen(key) + (uint64_t)t;
        double d;
        gguf_str_t s;
        gguf_arr_t a;
        if (gguf_kv_number(g, i, &d) == 0)
            acc += (uint64_t)(d == d);
        if (gguf_kv_str(g, i, &s) == 0) {
            fuzz_require(fuzz_inside(data, size, s.ptr, s.len));
            acc += s.len ? (uint8_t)s.ptr[s.len - 1] : 0;
            gguf_str_t s2;
            fuzz_require(gguf_get_str(g, key, &s2, NULL) == 0 && s2.ptr == s.ptr);
        }
        if (gguf_kv_arr(g, i, &a) == 0) {
            fuzz_require(a.type != GGUF_TYPE_ARRAY && (unsigned)a.type < GGUF_TYPE_COUNT);
            for (uint64_t k = 0; k < a.n; k++) {
                if (a.type == GGUF_TYPE_STRING) {
                    gguf_str_t e = gguf_arr_str(&a, k);
                    fuzz_require(fuzz_inside(data, size, e.ptr, e.len));
                    acc += e.len ? (uint8_t)e.ptr[0] : 0;
                } else {
                    acc += (uint64_t)gguf_arr_int(&a, k);
                    double v = gguf_arr_number(&a, k);
                    acc += (uint64_t)(v == v);
                }
            }
        }
        int64_t iv;
        uint64_t uv;
        bool bv;
        acc += (uint64_t)gguf_get_int(g, key, &iv, NULL) + (uint64_t)gguf_get_uint(g, key, &uv, NULL) +
               (uint64_t)gguf_get_float(g, key, &d, NULL) + (uint64_t)gguf_get_bool(g, key, &bv, NULL);
    }
    for (uint64_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor_t *t = gguf_tensor(g, i);
        fuzz_require(t && gguf_find_tensor(g, t->name) == t);
        fuzz_require(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS && t->n_elems > 0);
        fuzz_require(t->nbytes == gguf_ttype_nbytes(t->type, t->n_elems) && t->nbytes > 0);
        fuzz_require(fuzz_inside(data, size, t->data, t->nbytes));
        fuzz_require((uint64_t)((const uint8_t *)t->data - data) % gguf_alignment(g) == 0);
        acc += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    fuzz_sink = acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_t *g = NULL;
    model_t *m = NULL;
    errmsg_t err;
    int rc = gguf_open_mem(&g, data, size, FUZZ_NAME, &err);
    if (rc) {
        fuzz_check_error(&err, rc);
        fuzz_require(g == NULL);
        return 0;
    }
    fuzz_walk(g, data, size);
    rc = model_load(&m, g, &err);
    if (rc) {
        fuzz_check_error(&err, rc);
        fuzz_require(m == NULL);
    } else {
        const model_hparams_t *hp = &m->hp;
        fuzz_require(hp->n_head % hp->n_head_kv == 0 && hp->head_dim % 2 == 0);
        fuzz_require(m->output && m->tok_embd && m->out_norm);
        for (uint32_t l = 0; l < hp->n_layer; l++)
            fuzz_require(m->layers[l].wq && m->layers[l].w_down && (!hp->qkv_bias || m->layers[l].bv));
        static const model_wfmt_t wf[3] = {MODEL_WFMT_F32, MODEL_WFMT_F16, MODEL_WFMT_INT8};
        static const model_kvfmt_t kf[3] = {MODEL_KV_F32, MODEL_KV_F16, MODEL_KV_INT8};
        static const uint64_t ctxs[3] = {0, 4096, UINT64_MAX};
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) {
                model_mem_plan_t p;
                model_mem_plan(m, ctxs[k], wf[i], kf[(i + k) % 3], &p);
                fuzz_require(p.weights_stored <= size && p.total >= p.weights_total);
                fuzz_sink += p.total;
            }
        model_free(m);
    }
    gguf_close(g);
    return 0;
}
