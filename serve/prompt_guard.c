/* prompt_guard.c - where the message contents lie in a formatted chat prompt
 * (see prompt_guard.h). The template is run once on the real messages and
 * once with each content replaced by a sentinel; the text between sentinels
 * is the template's own, and each content was inserted as it is or, for
 * the templates that do so (Llama 2, Llama 3), stripped of white space as
 * Python's str.strip() does. The two are aligned piece by piece, and the
 * result must reproduce the real prompt byte for byte. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt_guard.h"

/* Length of the white space (Python's str.isspace) starting at S, or 0. */
static size_t space_at(const unsigned char *s, size_t n)
{
    if (!n)
        return 0;
    if ((s[0] >= 0x09 && s[0] <= 0x0d) || s[0] == ' ' || (s[0] >= 0x1c && s[0] <= 0x1f))
        return 1;
    static const char *const wide[] = {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
                                       "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        size_t l = strlen(wide[i]);
        if (n >= l && !memcmp(s, wide[i], l))
            return l;
    }
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0x8a) /* U+2000..U+200A */
        return 3;
    return 0;
}

static void strip_bounds(const char *c, size_t n, size_t *a, size_t *b)
{
    const unsigned char *u = (const unsigned char *)c;
    size_t i = 0, k;
    while (i < n && (k = space_at(u + i, n - i)))
        i += k;
    *a = i;
    /* from the end: the last position after which only white space follows */
    size_t end = i, p = i;
    while (p < n) {
        if ((k = space_at(u + p, n - p))) {
            p += k;
        } else {
            p++;
            while (p < n && (u[p] & 0xC0) == 0x80)
                p++;
            end = p;
        }
    }
    *b = end;
}

int prompt_guard_format(const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, char **text, size_t *len,
                        size_t **ranges, size_t *n_ranges, errmsg_t *err)
{
    char *real = NULL, *marked = NULL, sentinel[64];
    size_t real_len = 0, marked_len = 0, nr = 0;
    chat_msg_t *m2 = calloc(n ? n : 1, sizeof *m2);
    char **marks = calloc(n ? n : 1, sizeof *marks);
    size_t *rg = calloc(2 * (n ? n : 1), sizeof *rg);
    int rc = 0;
    *text = NULL;
    *ranges = NULL;
    *len = *n_ranges = 0;
    if (!m2 || !marks || !rg) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = chat_format(t, msgs, n, true, &real, &real_len, err)))
        goto done;
    /* a sentinel that occurs in no content (contents have no NUL; \x01 is rare) */
    int salt = 0;
    for (bool clash = true; clash && salt < 64; salt++) {
        snprintf(sentinel, sizeof sentinel, "\x01octet-%d-", salt);
        clash = strstr(real, sentinel) != NULL;
    }
    for (size_t i = 0; i < n; i++) {
        m2[i] = msgs[i];
        if (!msgs[i].content || !msgs[i].content[0])
            continue; /* an empty content may change the template's output: it stays */
        if (asprintf(&marks[i], "%s%zu\x01", sentinel, i) < 0) {
            marks[i] = NULL;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        m2[i].content = marks[i];
    }
    if ((rc = chat_format(t, m2, n, true, &marked, &marked_len, err)))
        goto done;
    size_t r = 0, p = 0;
    while (p <= marked_len) {
        const char *next = strstr(marked + p, sentinel);
        size_t chunk = next ? (size_t)(next - (marked + p)) : marked_len - p;
        if (r + chunk > real_len || memcmp(real + r, marked + p, chunk))
            goto mismatch;
        r += chunk;
        p += chunk;
        if (!next)
            break;
        char *end;
        unsigned long idx = strtoul(marked + p + strlen(sentinel), &end, 10);
        if (*end != '\x01' || idx >= n || !marks[idx])
            goto mismatch;
        p = (size_t)(end + 1 - marked);
        /* the template's next piece, up to the next sentinel */
        const char *after = strstr(marked + p, sentinel);
        size_t after_len = after ? (size_t)(after - (marked + p)) : marked_len - p;
        const char *c = msgs[idx].content;
        size_t cl = strlen(c), a, b;
        strip_bounds(c, cl, &a, &b);
        const size_t cand[4][2] = {{0, cl}, {0, b}, {a, cl}, {a, b}};
        bool found = false;
        for (int k = 0; k < 4 && !found; k++) {
            size_t from = cand[k][0], l = cand[k][1] - cand[k][0];
            if (r + l + after_len <= real_len && !memcmp(real + r, c + from, l) &&
                !memcmp(real + r + l, marked + p, after_len)) {
                rg[2 * nr] = r;
                rg[2 * nr + 1] = r + l;
                nr++;
                r += l;
                found = true;
            }
        }
        if (!found)
            goto mismatch;
    }
    if (r != real_len)
        goto mismatch;
    *text = real;
    *len = real_len;
    *ranges = rg;
    *n_ranges = nr;
    real = NULL;
    rg = NULL;
    goto done;
mismatch:
    rc = errmsg_set(err, OCT_EINTERNAL, "cannot tell the chat template's text from the messages' contents");
done:
    for (size_t i = 0; marks && i < n; i++)
        free(marks[i]);
    free(marks);
    free(m2);
    free(real);
    free(marked);
    free(rg);
    return rc;
}

int prompt_guard_encode(const tok_t *tok, const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, int flags,
                        int32_t **ids, size_t *n_ids, errmsg_t *err)
{
    char *text = NULL;
    size_t len = 0, *ranges = NULL, nr = 0;
    *ids = NULL;
    *n_ids = 0;
    int rc = prompt_guard_format(t, msgs, n, &text, &len, &ranges, &nr, err);
    if (!rc)
        rc = tok_encode_ranges(tok, text, len, flags | TOK_PARSE_SPECIAL, ranges, nr, ids, n_ids, err);
    free(text);
    free(ranges);
    return rc;
}
