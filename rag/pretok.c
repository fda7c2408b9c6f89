/* pretok.c - FTS5's tokens made by the update's workers and replayed on
 * the write connection (see pretok.h). */
#include "pretok.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const pretok_args[PRETOK_NARGS] = {"unicode61", "remove_diacritics", "2", "tokenchars", "_"};

struct pretok {
    fts5_tokenizer porter; /* SQLite's, as found before the wrapper hid it */
    void *porter_ud;
    struct {
        bool set;
        const char *text, *toks;
        size_t len, toks_n;
    } col[PRETOK_COLS];
    int next; /* the expected column FTS5 reaches next */
};

/* One token as pretok_run records it, followed by its bytes: everything
 * FTS5's tokenizer hands to its callback. */
typedef struct rec {
    int32_t len, start, end, tflags;
} rec_t;

/* An instance of the wrapper: SQLite's tokenizer beneath it. */
typedef struct wrap {
    pretok_t *pt;
    Fts5Tokenizer *inner;
    bool same_args; /* made with pretok_args, as the workers' tokens were */
} wrap_t;

static int wrap_create(void *ud, const char **args, int nargs, Fts5Tokenizer **out)
{
    pretok_t *pt = ud;
    wrap_t *w = sqlite3_malloc(sizeof *w);
    if (!w)
        return SQLITE_NOMEM;
    w->pt = pt;
    /* a table made with other options (an index of another version) must
     * not be handed tokens made with these */
    w->same_args = nargs == PRETOK_NARGS;
    for (int i = 0; w->same_args && i < nargs; i++)
        w->same_args = !strcmp(args[i], pretok_args[i]);
    int s = pt->porter.xCreate(pt->porter_ud, args, nargs, &w->inner);
    if (s != SQLITE_OK) {
        sqlite3_free(w);
        return s;
    }
    *out = (Fts5Tokenizer *)w;
    return SQLITE_OK;
}

static void wrap_delete(Fts5Tokenizer *t)
{
    wrap_t *w = (wrap_t *)t;
    w->pt->porter.xDelete(w->inner);
    sqlite3_free(w);
}

static int replay(const char *toks, size_t n, void *ctx,
                  int (*emit)(void *, int, const char *, int, int, int))
{
    size_t i = 0;
    while (i + sizeof(rec_t) <= n) {
        rec_t h;
        memcpy(&h, toks + i, sizeof h);
        i += sizeof h;
        int s = emit(ctx, h.tflags, toks + i, h.len, h.start, h.end);
        if (s != SQLITE_OK)
            return s;
        i += (size_t)h.len;
    }
    return SQLITE_OK;
}

static int wrap_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
                         int (*emit)(void *, int, const char *, int, int, int))
{
    wrap_t *w = (wrap_t *)t;
    pretok_t *pt = w->pt;
    /* the row being inserted: its columns come in order, and each is
     * compared whole, so a text that is not the one prepared (whatever
     * the reason) is tokenized here as always */
    if (w->same_args && flags == FTS5_TOKENIZE_DOCUMENT && pt->next < PRETOK_COLS && pt->col[pt->next].set) {
        const char *want = pt->col[pt->next].text;
        size_t len = pt->col[pt->next].len;
        if (n >= 0 && (size_t)n == len && (len == 0 || memcmp(text, want, len) == 0)) {
            int col = pt->next++;
            return replay(pt->col[col].toks, pt->col[col].toks_n, ctx, emit);
        }
    }
    return pt->porter.xTokenize(w->inner, ctx, flags, text, n, emit);
}

int pretok_register(sqlite3 *db, pretok_t **out)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    int s = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
    if (s == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (!api)
        return s == SQLITE_OK ? SQLITE_ERROR : s;
    pretok_t *pt = calloc(1, sizeof *pt);
    if (!pt)
        return SQLITE_NOMEM;
    s = api->xFindTokenizer(api, "porter", &pt->porter_ud, &pt->porter);
    fts5_tokenizer wrapper = {wrap_create, wrap_delete, wrap_tokenize};
    /* SQLite frees PT with the connection (a failed registration does not) */
    if (s == SQLITE_OK)
        s = api->xCreateTokenizer(api, "porter", pt, &wrapper, free);
    if (s != SQLITE_OK) {
        free(pt);
        return s;
    }
    *out = pt;
    return SQLITE_OK;
}

int pretok_tok_new(pretok_t *pt, pretok_tok_t *tk)
{
    tk->api = pt->porter;
    tk->tok = NULL;
    return pt->porter.xCreate(pt->porter_ud, (const char **)pretok_args, PRETOK_NARGS, &tk->tok);
}

void pretok_tok_free(pretok_tok_t *tk)
{
    if (tk->tok)
        tk->api.xDelete(tk->tok);
    tk->tok = NULL;
}

static int record(void *ctx, int tflags, const char *tok, int n, int start, int end)
{
    sbuf_t *b = ctx;
    rec_t h = {n, start, end, tflags};
    /* one append for a token of common length: two appends per token were
     * a twentieth of a cold index's time */
    char one[sizeof h + 48];
    if ((size_t)n <= sizeof one - sizeof h) {
        memcpy(one, &h, sizeof h);
        memcpy(one + sizeof h, tok, (size_t)n);
        sb_addn(b, one, sizeof h + (size_t)n);
    } else {
        sb_addn(b, (const char *)&h, sizeof h);
        sb_addn(b, tok, (size_t)n);
    }
    return b->oom ? SQLITE_NOMEM : SQLITE_OK;
}

int pretok_run(pretok_tok_t *tk, const char *text, size_t len, sbuf_t *out)
{
    if (len > INT32_MAX)
        return SQLITE_TOOBIG;
    return tk->api.xTokenize(tk->tok, out, FTS5_TOKENIZE_DOCUMENT, text, (int)len, record);
}

void pretok_expect(pretok_t *pt, int col, const char *text, size_t len, const char *toks, size_t toks_n)
{
    pt->col[col].set = true;
    pt->col[col].text = text;
    pt->col[col].len = len;
    pt->col[col].toks = toks;
    pt->col[col].toks_n = toks_n;
}

void pretok_clear(pretok_t *pt)
{
    memset(pt->col, 0, sizeof pt->col);
    pt->next = 0;
}
