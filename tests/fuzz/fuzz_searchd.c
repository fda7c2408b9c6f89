/* fuzz_searchd.c - libFuzzer harness for the watcher's request decoder
 * (cli/searchd.c), which reads what any process of the user sends to the
 * socket of `octet index --watch`. The input is a request's body: decoded,
 * it must either be refused (OCT_EFORMAT and a message) or hold only what
 * the limits allow, encode again, and decode from that to the same
 * request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "searchd.h"

#define HEADER 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond)
{
    if (!cond)
        abort();
}

static int same(const searchd_req_t *a, const searchd_req_t *b)
{
    if (a->k != b->k || a->mode != b->mode || a->no_git != b->no_git || a->max_size != b->max_size ||
        strcmp(a->root, b->root) || strcmp(a->db, b->db) || strcmp(a->encoder, b->encoder) ||
        a->n_exclude != b->n_exclude || a->qlen != b->qlen || memcmp(a->query, b->query, a->qlen))
        return 0;
    for (size_t i = 0; i < a->n_exclude; i++)
        if (strcmp(a->exclude[i], b->exclude[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    searchd_req_t q, again;
    errmsg_t err = {0};
    int rc = searchd_req_decode(data, size, &q, &err);
    if (rc) {
        fuzz_require(rc == OCT_EFORMAT && err.code == rc && err.msg[0]);
        searchd_req_free(&q);
        return 0;
    }
    fuzz_require(q.root && q.db && q.encoder && q.query && q.qlen <= SEARCHD_MAX_QUERY &&
                 q.n_exclude <= SEARCHD_MAX_EXCLUDE);
    char *msg = NULL;
    size_t len = 0;
    fuzz_require(searchd_req_encode(&q, &msg, &len, &err) == 0 && len >= HEADER);
    fuzz_require(searchd_req_decode(msg + HEADER, len - HEADER, &again, &err) == 0);
    fuzz_require(same(&q, &again));
    searchd_req_free(&again);
    searchd_req_free(&q);
    free(msg);
    return 0;
}
