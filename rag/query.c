/* query.c - prompt to FTS5 query, and the symbol-name boost (see query.h). */
#include "query.h"
#include "sb.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "words.h"

/* Boost of a chunk whose symbol the prompt names exactly, and the most a
 * partial match of its words adds. Chosen with tools/bench/rag_quality.py. */
#define BOOST_EXACT 2.0
#define BOOST_WORDS 0.5

enum { T_WORD, T_IDENT, T_PHRASE, T_PROSE };

typedef struct term {
    char *s;
    int kind;
    size_t count, first;
} term_t;

typedef struct termset {
    term_t *v; /* open addressing; s == NULL is empty */
    size_t cap, n;
    size_t seq;
    size_t prose_words; /* prose words seen (with repeats) */
    bool oom;
} termset_t;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool ts_grow(termset_t *ts)
{
    size_t ncap = ts->cap ? ts->cap * 2 : 256;
    term_t *nv = calloc(ncap, sizeof *nv);
    if (!nv)
        return false;
    for (size_t i = 0; i < ts->cap; i++) {
        if (!ts->v[i].s)
            continue;
        size_t j = hash(ts->v[i].s) & (ncap - 1);
        while (nv[j].s)
            j = (j + 1) & (ncap - 1);
        nv[j] = ts->v[i];
    }
    free(ts->v);
    ts->v = nv;
    ts->cap = ncap;
    return true;
}

static void ts_add(termset_t *ts, const char *s, size_t len, int kind)
{
    if (ts->oom)
        return;
    if (2 * (ts->n + 1) > ts->cap && !ts_grow(ts)) {
        ts->oom = true;
        return;
    }
    char buf[2 * WORDS_MAX_LEN + 8];
    if (len >= sizeof buf)
        return;
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t j = hash(buf) & (ts->cap - 1);
    while (ts->v[j].s) {
        if (!strcmp(ts->v[j].s, buf)) {
            ts->v[j].count++;
            if (kind == T_IDENT)
                ts->v[j].kind = T_IDENT;
            return;
        }
        j = (j + 1) & (ts->cap - 1);
    }
    char *c = malloc(len + 1);
    if (!c) {
        ts->oom = true;
        return;
    }
    memcpy(c, buf, len + 1);
    ts->v[j] = (term_t){.s = c, .kind = kind, .count = 1, .first = ts->seq++};
    ts->n++;
}

static void ts_free(termset_t *ts)
{
    for (size_t i = 0; i < ts->cap; i++)
        free(ts->v[i].s);
    free(ts->v);
}

static int by_rank(const void *a, const void *b)
{
    const term_t *x = *(term_t *const *)a, *y = *(term_t *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Crude English stemming for comparing symbol words with prompt words:
 * "entries" -> "entry", "bytes" -> "byte". In place. */
static void stem(char *w)
{
    size_t n = strlen(w);
    if (n > 4 && !strcmp(w + n - 3, "ies")) {
        strcpy(w + n - 3, "y");
    } else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's') {
        w[n - 1] = '\0';
    }
}

typedef struct parts {
    char p[WORDS_MAX_LEN][WORDS_MAX_LEN + 1];
    size_t n;
} parts_t;

static void collect_part(const char *part, size_t len, void *ud)
{
    parts_t *ps = ud;
    if (ps->n < WORDS_MAX_LEN) {
        memcpy(ps->p[ps->n], part, len + 1);
        ps->n++;
    }
}

/* One word of the prompt. *prev_kept says whether the previous word was a
 * prose word kept as a term (for adjacent-word phrases); PREV holds it. */
static void add_word(termset_t *ts, query_t *q, const char *w, size_t len, char *prev, bool *prev_kept,
                     size_t *n_idents, size_t *cap_idents)
{
    char lower[WORDS_MAX_LEN + 1];
    for (size_t i = 0; i < len; i++)
        lower[i] = (w[i] >= 'A' && w[i] <= 'Z') ? (char)(w[i] - 'A' + 'a') : w[i];
    lower[len] = '\0';
    parts_t ps;
    ps.n = 0;
    size_t nparts = words_split_ident(w, len, collect_part, &ps);
    if (nparts >= 2) {
        *prev_kept = false;
        ts_add(ts, lower, len, T_IDENT);
        char phrase[2 * WORDS_MAX_LEN + 8];
        size_t pl = 0;
        for (size_t i = 0; i < ps.n; i++) {
            size_t l = strlen(ps.p[i]);
            if (!words_is_stopword(ps.p[i], l))
                ts_add(ts, ps.p[i], l, T_WORD);
            if (pl + l + 1 < sizeof phrase) {
                if (pl)
                    phrase[pl++] = ' ';
                memcpy(phrase + pl, ps.p[i], l);
                pl += l;
            }
        }
        if (ps.n >= 2)
            ts_add(ts, phrase, pl, T_PHRASE);
        /* the identifier as a name, for the symbol boost */
        char norm[WORDS_MAX_LEN + 1];
        size_t nl = 0;
        for (size_t i = 0; i < len; i++)
            if (lower[i] != '_')
                norm[nl++] = lower[i];
        norm[nl] = '\0';
        if (nl && *n_idents < 4 * QUERY_MAX_TERMS) {
            if (*n_idents == *cap_idents) {
                size_t nc = *cap_idents ? *cap_idents * 2 : 8;
                char **ni = realloc(q->idents, nc * sizeof *ni);
                if (!ni) {
                    ts->oom = true;
                    return;
                }
                q->idents = ni;
                *cap_idents = nc;
            }
            q->idents[*n_idents] = strdup(norm);
            if (!q->idents[*n_idents]) {
                ts->oom = true;
                return;
            }
            (*n_idents)++;
        }
        return;
    }
    if (len < 2 || words_is_stopword(lower, len)) {
        *prev_kept = false;
        return;
    }
    ts_add(ts, lower, len, T_WORD);
    ts->prose_words++;
    if (*prev_kept) {
        char phrase[2 * WORDS_MAX_LEN + 8];
        size_t a = strlen(prev);
        memcpy(phrase, prev, a);
        phrase[a] = ' ';
        memcpy(phrase + a + 1, lower, len + 1);
        ts_add(ts, phrase, a + 1 + len, T_PROSE);
    }
    memcpy(prev, lower, len + 1);
    *prev_kept = true;
}

/* Append TERM as an FTS5 string: "term" with any '"' doubled. */
static void add_quoted(sbuf_t *b, const char *term)
{
    sb_add(b, "\"");
    for (const char *p = term; *p; p++) {
        sb_addn(b, p, 1);
        if (*p == '"')
            sb_addn(b, "\"", 1);
    }
    sb_add(b, "\"");
}

int query_build(const char *prompt, size_t len, query_t *q)
{
    memset(q, 0, sizeof *q);
    termset_t ts = {0};
    term_t **ranked = NULL;
    size_t n_idents = 0, cap_idents = 0;
    char prev[WORDS_MAX_LEN + 1] = "";
    bool prev_kept = false;
    const unsigned char *s = (const unsigned char *)prompt;
    size_t i = 0;
    while (i < len && !ts.oom) {
        /* a word: ASCII word bytes and valid UTF-8 sequences */
        size_t a = i;
        while (i < len) {
            if (s[i] < 0x80) {
                if (!words_is_wordbyte(s[i]))
                    break;
                i++;
            } else {
                size_t l = utf8_seq_len((const char *)s + i, len - i, NULL);
                if (l == 0)
                    break;
                i += l;
            }
        }
        if (i > a) {
            if (i - a <= WORDS_MAX_LEN)
                add_word(&ts, q, prompt + a, i - a, prev, &prev_kept, &n_idents, &cap_idents);
            else
                prev_kept = false;
            continue;
        }
        /* separators: punctuation keeps prose words adjacent only across blanks */
        if (s[i] != ' ')
            prev_kept = false;
        i++;
    }
    q->n_idents = n_idents;
    if (ts.oom)
        goto oom;

    ranked = malloc((ts.n ? ts.n : 1) * sizeof *ranked);
    if (!ranked)
        goto oom;
    size_t nr = 0;
    for (size_t k = 0; k < ts.cap; k++)
        if (ts.v[k].s)
            ranked[nr++] = &ts.v[k];
    if (nr > 1)
        qsort(ranked, nr, sizeof *ranked, by_rank);

    size_t nterms = 0, nphr = 0;
    q->words = malloc((QUERY_MAX_TERMS + 1) * sizeof *q->words);
    q->terms = malloc((QUERY_MAX_TERMS + QUERY_MAX_PHRASES) * sizeof *q->terms);
    if (!q->words || !q->terms)
        goto oom;
    for (size_t k = 0; k < nr; k++) {
        term_t *t = ranked[k];
        bool phrase = t->kind == T_PHRASE || t->kind == T_PROSE;
        if (t->kind == T_PROSE && ts.prose_words > QUERY_PROSE_PHRASE_WORDS)
            continue;
        if (phrase ? nphr >= QUERY_MAX_PHRASES : nterms >= QUERY_MAX_TERMS)
            continue;
        char *text = strdup(t->s);
        if (!text)
            goto oom;
        q->terms[q->n_terms].text = text;
        q->terms[q->n_terms].phrase = phrase;
        q->n_terms++;
        if (phrase) {
            nphr++;
            continue;
        }
        nterms++;
        if (t->kind == T_WORD) {
            char *w = strdup(t->s);
            if (!w)
                goto oom;
            stem(w);
            q->words[q->n_words++] = w;
        }
    }
    if (q->n_words > 1)
        qsort(q->words, q->n_words, sizeof *q->words, cmp_str);
    if (q->n_idents > 1)
        qsort(q->idents, q->n_idents, sizeof *q->idents, cmp_str);
    free(ranked);
    ts_free(&ts);
    return 0;
oom:
    free(ranked);
    ts_free(&ts);
    query_free(q);
    return OCT_ENOMEM;
}

char *query_fts(const query_t *q, const bool *keep, bool *oom)
{
    sbuf_t b = {0};
    for (size_t i = 0; i < q->n_terms; i++) {
        if (keep && !keep[i])
            continue;
        if (b.n)
            sb_add(&b, " OR ");
        add_quoted(&b, q->terms[i].text);
    }
    *oom = b.oom;
    if (b.oom)
        sb_free(&b);
    return b.s; /* NULL when no term was kept */
}

void query_free(query_t *q)
{
    for (size_t i = 0; i < q->n_terms; i++)
        free(q->terms[i].text);
    free(q->terms);
    for (size_t i = 0; i < q->n_words; i++)
        free(q->words[i]);
    free(q->words);
    for (size_t i = 0; i < q->n_idents; i++)
        free(q->idents[i]);
    free(q->idents);
    memset(q, 0, sizeof *q);
}

typedef struct boost_ctx {
    const query_t *q;
    size_t total, hit;
} boost_ctx_t;

static void boost_part(const char *part, size_t len, void *ud)
{
    boost_ctx_t *b = ud;
    char w[WORDS_MAX_LEN + 1];
    memcpy(w, part, len + 1);
    stem(w);
    const char *key = w;
    b->total++;
    if (b->q->n_words && bsearch(&key, b->q->words, b->q->n_words, sizeof *b->q->words, cmp_str))
        b->hit++;
}

double query_symbol_boost(const query_t *q, const char *symbol)
{
    if (!symbol || !*symbol)
        return 1.0;
    const char *last = symbol;
    for (const char *p = symbol; *p; p++)
        if (*p == '.' || *p == ':')
            last = p + 1;
    size_t len = strlen(last);
    if (len == 0 || len > WORDS_MAX_LEN)
        return 1.0;
    char norm[WORDS_MAX_LEN + 1];
    size_t nl = 0;
    for (size_t i = 0; i < len; i++) {
        char c = last[i];
        if (c == '_')
            continue;
        norm[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    norm[nl] = '\0';
    const char *key = norm;
    if (nl && q->n_idents && bsearch(&key, q->idents, q->n_idents, sizeof *q->idents, cmp_str))
        return BOOST_EXACT;
    boost_ctx_t b = {.q = q};
    words_split_ident(last, len, boost_part, &b);
    if (b.total == 0) { /* a one-letter name: no words to compare */
        return 1.0;
    }
    return 1.0 + BOOST_WORDS * (double)b.hit / (double)b.total;
}
