/* editor.c - the multi-line input editor (see editor.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "editor.h"
#include "errmsg.h"
#include "text.h"
#include "utf8.h"

void tui_ed_init(tui_ed_t *e, size_t max_hist)
{
    memset(e, 0, sizeof *e);
    e->max_hist = max_hist ? max_hist : 1;
}

void tui_ed_free(tui_ed_t *e)
{
    free(e->buf);
    free(e->kill);
    for (size_t i = 0; i < e->n_hist; i++)
        free(e->hist[i]);
    free(e->hist);
    free(e->draft);
    memset(e, 0, sizeof *e);
}

const char *tui_ed_text(const tui_ed_t *e)
{
    return e->buf ? e->buf : "";
}

static int reserve(tui_ed_t *e, size_t need)
{
    if (need + 1 <= e->cap)
        return 0;
    size_t cap = e->cap ? e->cap : 64;
    while (cap < need + 1)
        cap *= 2;
    char *nb = realloc(e->buf, cap);
    if (!nb)
        return OCT_ENOMEM;
    if (!e->buf)
        nb[0] = '\0';
    e->buf = nb;
    e->cap = cap;
    return 0;
}

int tui_ed_set(tui_ed_t *e, const char *s)
{
    size_t n = strlen(s);
    if (reserve(e, n))
        return OCT_ENOMEM;
    memcpy(e->buf, s, n + 1);
    e->len = e->cur = n;
    return 0;
}

int tui_ed_insert(tui_ed_t *e, const char *s, size_t n)
{
    if (reserve(e, e->len + n))
        return OCT_ENOMEM;
    size_t o = 0;
    char *tmp = malloc(n ? n : 1);
    if (!tmp)
        return OCT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            tmp[o++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else if (s[i] != '\0') {
            tmp[o++] = s[i];
        }
    }
    memmove(e->buf + e->cur + o, e->buf + e->cur, e->len - e->cur + 1);
    memcpy(e->buf + e->cur, tmp, o);
    e->len += o;
    e->cur += o;
    free(tmp);
    return 0;
}

/* Start of the character before byte P: steps over combining marks too, so
 * that a base letter and its accents move and delete as one. */
static size_t prev_char(const tui_ed_t *e, size_t p)
{
    while (p > 0) {
        size_t q = p - 1;
        while (q > 0 && ((unsigned char)e->buf[q] & 0xC0) == 0x80)
            q--;
        uint32_t cp;
        utf8_decode(e->buf + q, e->len - q, &cp);
        p = q;
        if (cp == '\n' || tui_cp_width(cp) != 0)
            break;
    }
    return p;
}

static size_t next_char(const tui_ed_t *e, size_t p)
{
    if (p >= e->len)
        return e->len;
    uint32_t cp;
    p += utf8_decode(e->buf + p, e->len - p, &cp);
    while (p < e->len) {
        size_t n = utf8_decode(e->buf + p, e->len - p, &cp);
        if (cp == '\n' || tui_cp_width(cp) != 0)
            break;
        p += n;
    }
    return p;
}

static size_t line_start(const tui_ed_t *e, size_t p)
{
    while (p > 0 && e->buf[p - 1] != '\n')
        p--;
    return p;
}

static size_t line_end(const tui_ed_t *e, size_t p)
{
    while (p < e->len && e->buf[p] != '\n')
        p++;
    return p;
}

void tui_ed_left(tui_ed_t *e)
{
    e->cur = prev_char(e, e->cur);
}

void tui_ed_right(tui_ed_t *e)
{
    e->cur = next_char(e, e->cur);
}

void tui_ed_home(tui_ed_t *e)
{
    e->cur = line_start(e, e->cur);
}

void tui_ed_end(tui_ed_t *e)
{
    e->cur = line_end(e, e->cur);
}

/* The offset in the line starting at LS that is at most COL columns in. */
static size_t at_column(const tui_ed_t *e, size_t ls, int col)
{
    size_t p = ls, le = line_end(e, ls);
    int c = 0;
    while (p < le) {
        size_t q = next_char(e, p);
        int w = tui_text_width(e->buf + p, q - p);
        if (c + w > col)
            break;
        c += w;
        p = q;
    }
    return p;
}

bool tui_ed_up(tui_ed_t *e)
{
    size_t ls = line_start(e, e->cur);
    if (ls == 0)
        return false;
    int col = tui_text_width(e->buf + ls, e->cur - ls);
    e->cur = at_column(e, line_start(e, ls - 1), col);
    return true;
}

bool tui_ed_down(tui_ed_t *e)
{
    size_t le = line_end(e, e->cur);
    if (le >= e->len)
        return false;
    size_t ls = line_start(e, e->cur);
    int col = tui_text_width(e->buf + ls, e->cur - ls);
    e->cur = at_column(e, le + 1, col);
    return true;
}

static void cut(tui_ed_t *e, size_t a, size_t b)
{
    memmove(e->buf + a, e->buf + b, e->len - b + 1);
    e->len -= b - a;
    if (e->cur >= b)
        e->cur -= b - a;
    else if (e->cur > a)
        e->cur = a;
}

void tui_ed_backspace(tui_ed_t *e)
{
    if (e->cur > 0)
        cut(e, prev_char(e, e->cur), e->cur);
}

void tui_ed_delete(tui_ed_t *e)
{
    if (e->cur < e->len)
        cut(e, e->cur, next_char(e, e->cur));
}

static int kill_range(tui_ed_t *e, size_t a, size_t b)
{
    if (a == b)
        return 0;
    char *k = malloc(b - a + 1);
    if (!k)
        return OCT_ENOMEM;
    memcpy(k, e->buf + a, b - a);
    k[b - a] = '\0';
    free(e->kill);
    e->kill = k;
    cut(e, a, b);
    return 0;
}

int tui_ed_kill_eol(tui_ed_t *e)
{
    size_t le = line_end(e, e->cur);
    if (le == e->cur && le < e->len)
        le++; /* at the end of a line: join the next one */
    return kill_range(e, e->cur, le);
}

int tui_ed_kill_bol(tui_ed_t *e)
{
    return kill_range(e, line_start(e, e->cur), e->cur);
}

int tui_ed_kill_word(tui_ed_t *e)
{
    size_t p = e->cur;
    while (p > 0 && (e->buf[p - 1] == ' ' || e->buf[p - 1] == '\t'))
        p--;
    while (p > 0 && e->buf[p - 1] != ' ' && e->buf[p - 1] != '\t' && e->buf[p - 1] != '\n')
        p--;
    return kill_range(e, p, e->cur);
}

int tui_ed_yank(tui_ed_t *e)
{
    return e->kill ? tui_ed_insert(e, e->kill, strlen(e->kill)) : 0;
}

int tui_ed_hist_add(tui_ed_t *e, const char *s)
{
    free(e->draft);
    e->draft = NULL;
    e->hist_pos = e->n_hist;
    if (!s[0] || (e->n_hist && !strcmp(e->hist[e->n_hist - 1], s)))
        return 0;
    char *d = strdup(s);
    if (!d)
        return OCT_ENOMEM;
    if (e->n_hist == e->max_hist) {
        free(e->hist[0]);
        memmove(e->hist, e->hist + 1, (e->n_hist - 1) * sizeof *e->hist);
        e->n_hist--;
    } else if (e->n_hist == e->cap_hist) {
        size_t cap = e->cap_hist ? e->cap_hist * 2 : 32;
        char **nh = realloc(e->hist, cap * sizeof *nh);
        if (!nh) {
            free(d);
            return OCT_ENOMEM;
        }
        e->hist = nh;
        e->cap_hist = cap;
    }
    e->hist[e->n_hist++] = d;
    e->hist_pos = e->n_hist;
    return 0;
}

bool tui_ed_hist_prev(tui_ed_t *e)
{
    if (e->hist_pos == 0 || e->n_hist == 0)
        return false;
    if (e->hist_pos == e->n_hist) {
        free(e->draft);
        e->draft = strdup(tui_ed_text(e));
        if (!e->draft)
            return false;
    }
    e->hist_pos--;
    return tui_ed_set(e, e->hist[e->hist_pos]) == 0;
}

bool tui_ed_hist_next(tui_ed_t *e)
{
    if (e->hist_pos >= e->n_hist)
        return false;
    e->hist_pos++;
    const char *s = e->hist_pos == e->n_hist ? (e->draft ? e->draft : "") : e->hist[e->hist_pos];
    return tui_ed_set(e, s) == 0;
}

static void walk(const tui_ed_t *e, int width, int prompt_w, tui_ed_cb cb, void *ud, int *rows, int *row,
                 int *col)
{
    int avail = width - prompt_w;
    if (avail < 2)
        avail = 2;
    int r = 0, c = 0;
    *row = 0;
    *col = 0;
    for (size_t p = 0;;) {
        if (p == e->cur) {
            if (c >= avail) {
                /* the cursor after a full row sits at the start of the next */
                *row = r + 1;
                *col = 0;
            } else {
                *row = r;
                *col = c;
            }
        }
        if (p >= e->len)
            break;
        if (e->buf[p] == '\n') {
            r++;
            c = 0;
            p++;
            continue;
        }
        size_t q = next_char(e, p);
        int w = tui_text_width(e->buf + p, q - p);
        if (c + w > avail) {
            r++;
            c = 0;
        }
        if (cb)
            cb(ud, r, c, e->buf + p, q - p);
        c += w;
        p = q;
    }
    *rows = (*row > r ? *row : r) + 1;
}

void tui_ed_layout(const tui_ed_t *e, int width, int prompt_w, int *rows, int *row, int *col)
{
    walk(e, width, prompt_w, NULL, NULL, rows, row, col);
}

void tui_ed_walk(const tui_ed_t *e, int width, int prompt_w, tui_ed_cb cb, void *ud)
{
    int rows, row, col;
    walk(e, width, prompt_w, cb, ud, &rows, &row, &col);
}
