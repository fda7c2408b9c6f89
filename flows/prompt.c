/* prompt.c - prompt assembly, trimming and prefix reuse (see prompt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

size_t prompt_common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

size_t prompt_count_tokens(const char *text, size_t len, void *ud)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(ud, text, len, 0, &ids, &n, NULL))
        return len; /* cannot count: assume the worst, a token per byte */
    free(ids);
    return n;
}

size_t prompt_count_tokens_approx(const char *text, size_t len, void *ud)
{
    (void)text;
    (void)ud;
    return (len + 2) / 3;
}

char *prompt_user(const char *question, const char *packed)
{
    if (!packed || !packed[0])
        return strdup(question);
    static const char head[] = "Code from the repository that may be relevant:\n\n";
    static const char mid[] = "\n\n";
    size_t n = strlen(head) + strlen(packed) + strlen(mid) + strlen(question) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s%s", head, packed, mid, question);
    return s;
}

char *prompt_completion(const char *text, const char *packed)
{
    if (!packed || !packed[0])
        return strdup(text);
    size_t n = strlen(packed) + strlen(text) + 3;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s\n\n%s", packed, text);
    return s;
}

char *prompt_system(const char *system, const char *pinned)
{
    char *s = NULL;
    if (!pinned || !pinned[0])
        return strdup(system);
    if (asprintf(&s, "%s\n\nCode the user pinned (path:first-last, then the lines):\n\n%s",
                 system, pinned) < 0)
        return NULL;
    return s;
}

/* Format and tokenize the system message, HIST[from..] and the user message. */
static int encode(const prompt_req_t *r, size_t from, int32_t **ids, size_t *n, errmsg_t *err)
{
    size_t cnt = (r->system ? 1 : 0) + (r->n_hist - from) + (r->user ? 1 : 0), k = 0;
    chat_msg_t *m = malloc((cnt ? cnt : 1) * sizeof *m);
    char *text = NULL;
    size_t len = 0;
    if (!m)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    if (r->system)
        m[k++] = (chat_msg_t){CHAT_ROLE_SYSTEM, r->system};
    for (size_t i = from; i < r->n_hist; i++)
        m[k++] = (chat_msg_t){r->hist[i].role, r->hist[i].content};
    if (r->user)
        m[k++] = (chat_msg_t){CHAT_ROLE_USER, r->user};
    int rc = chat_format(r->tmpl, m, k, r->user != NULL, &text, &len, err);
    free(m);
    if (rc)
        return rc;
    /* templates that write the BOS text themselves must not get a second one */
    int flags = TOK_PARSE_SPECIAL | (chat_tmpl_writes_bos(r->tmpl) ? 0 : TOK_ADD_BOS);
    rc = tok_encode(r->tok, text, len, flags, ids, n, err);
    free(text);
    return rc;
}

int prompt_build(const prompt_req_t *r, int32_t **ids, size_t *n, size_t *dropped, errmsg_t *err)
{
    *ids = NULL;
    *n = 0;
    for (size_t from = 0;;) {
        int rc = encode(r, from, ids, n, err);
        if (rc)
            return rc;
        if (*n <= r->budget) {
            if (dropped)
                *dropped = from;
            return 0;
        }
        if (from >= r->n_hist) {
            size_t got = *n;
            free(*ids);
            *ids = NULL;
            *n = 0;
            return errmsg_set(err, OCT_EINVAL,
                              "the message takes %zu tokens with the system prompt; the context has room "
                              "for %zu (shorten it, or use a preset with a larger context)",
                              got, r->budget);
        }
        free(*ids);
        *ids = NULL;
        /* leave out the oldest exchange: a user message and what follows it
         * up to the next user message */
        from++;
        while (from < r->n_hist && r->hist[from].role != CHAT_ROLE_USER)
            from++;
    }
}
