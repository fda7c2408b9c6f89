/* heal.c - token healing; see heal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heal.h"

/* Whether some entry's piece starts with TEXT and is longer than it. */
static int extendable(const tok_t *t, const char *text, size_t len, bool *out, errmsg_t *err)
{
    const int32_t *ids;
    size_t n;
    int rc = tok_prefix_range(t, text, len, &ids, &n, err);
    if (rc)
        return rc;
    /* the range is in piece order: entries equal to TEXT come first */
    *out = false;
    for (size_t i = n; i-- > 0;) {
        const char *p;
        if (tok_piece(t, ids[i], false, &p) > len) {
            *out = true;
            break;
        }
    }
    return 0;
}

int heal_prompt(const tok_t *t, const int32_t *ids, size_t n, size_t keep, heal_t *h, size_t *n_back,
                errmsg_t *err)
{
    memset(h, 0, sizeof *h);
    *n_back = 0;
    char buf[HEAL_MAX_BYTES];
    size_t len = 0;
    for (size_t j = 1; j <= HEAL_MAX_TOKENS && j + keep <= n; j++) {
        int32_t id = ids[n - j];
        const char *p;
        size_t pl = tok_piece(t, id, false, &p);
        /* special entries (BOS, FIM markers, chat markers) are structure, not text */
        if (pl == 0 || tok_is_special(t, id) || pl + len > sizeof buf)
            break;
        memmove(buf + pl, buf, len);
        memcpy(buf, p, pl);
        len += pl;
        bool ext;
        int rc = extendable(t, buf, len, &ext, err);
        if (rc)
            return rc;
        if (!ext)
            break;
        memcpy(h->text, buf, len);
        h->len = h->removed = len;
        *n_back = j;
    }
    return 0;
}

bool heal_allows(const tok_t *t, const heal_t *h, int32_t id)
{
    if (!heal_active(h))
        return true;
    if (tok_is_special(t, id))
        return false;
    const char *p;
    size_t pl = tok_piece(t, id, false, &p);
    if (pl == 0)
        return false;
    size_t m = pl < h->len ? pl : h->len;
    return memcmp(p, h->text, m) == 0;
}

/* Append to *KEEP (growing it) the allowed ids of IDS[0..N), only those
 * whose piece is exactly LEN bytes long unless LEN is 0. */
static int keep_add(const tok_t *t, const int32_t *ids, size_t n, size_t exact, uint32_t n_vocab,
                    int32_t **keep, size_t *k, size_t *cap)
{
    for (size_t i = 0; i < n; i++) {
        const char *p;
        if (exact && tok_piece(t, ids[i], false, &p) != exact)
            break; /* longer pieces follow the exact ones */
        if ((uint32_t)ids[i] >= n_vocab || tok_is_special(t, ids[i]))
            continue;
        if (*k == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            int32_t *nk = realloc(*keep, c * sizeof *nk);
            if (!nk)
                return OCT_ENOMEM;
            *keep = nk;
            *cap = c;
        }
        (*keep)[(*k)++] = ids[i];
    }
    return 0;
}

int heal_mask(const tok_t *t, const heal_t *h, float *logits, uint32_t n_vocab, errmsg_t *err)
{
    if (!heal_active(h))
        return 0;
    /* allowed: entries extending the text, and entries that are a proper
     * prefix of it (each length looked up exactly) */
    int32_t *keep = NULL;
    float *val = NULL;
    size_t k = 0, cap = 0;
    const int32_t *ids;
    size_t n;
    int rc = tok_prefix_range(t, h->text, h->len, &ids, &n, err);
    if (rc == 0 && keep_add(t, ids, n, 0, n_vocab, &keep, &k, &cap))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    for (size_t l = 1; rc == 0 && l < h->len; l++) {
        if ((rc = tok_prefix_range(t, h->text, l, &ids, &n, err)) == 0 &&
            keep_add(t, ids, n, l, n_vocab, &keep, &k, &cap))
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    if (rc == 0 && !(val = malloc((k ? k : 1) * sizeof *val)))
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (rc == 0) {
        for (size_t i = 0; i < k; i++)
            val[i] = logits[keep[i]];
        for (uint32_t i = 0; i < n_vocab; i++)
            logits[i] = -INFINITY;
        for (size_t i = 0; i < k; i++)
            logits[keep[i]] = val[i];
    }
    free(keep);
    free(val);
    return rc;
}

void heal_advance(const tok_t *t, heal_t *h, int32_t id)
{
    if (!heal_active(h))
        return;
    const char *p;
    size_t pl = tok_piece(t, id, false, &p);
    if (pl >= h->len) {
        h->len = 0;
        return;
    }
    memmove(h->text, h->text + pl, h->len - pl);
    h->len -= pl;
}
