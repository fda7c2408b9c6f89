/* text.c - display widths, cells and soft wrapping for the
 * TUI (see text.h). */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "errmsg.h"
#include "termsafe.h"
#include "text.h"
#include "utf8.h"

int tui_cp_width(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return -1;
    int w = wcwidth((wchar_t)cp);
    if (w > 2)
        w = 2;
    return w;
}

int tui_text_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        char esc[12];
        int cw = cp == '\t' ? 1 : termsafe_cp(cp, esc) ? (int)strlen(esc) : tui_cp_width(cp);
        w += cw < 0 ? 1 : cw;
    }
    return w;
}

static int cells_push(tui_cells_t *c, uint32_t ch, int width, uint8_t cls)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        tui_cell_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return OCT_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    tui_cell_t *x = &c->v[c->n++];
    memset(x, 0, sizeof *x);
    x->ch = ch;
    x->width = (uint8_t)width;
    x->cls = cls;
    return 0;
}

int tui_cells_add(tui_cells_t *c, const char *s, size_t len, uint8_t cls, int tab)
{
    int col = 0;
    for (size_t i = 0; i < c->n; i++)
        col += c->v[i].width;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        if (cp == '\t') {
            int stop = tab > 0 ? (col / tab + 1) * tab : col + 1;
            while (col < stop) {
                if (cells_push(c, ' ', 1, cls))
                    return OCT_ENOMEM;
                col++;
            }
            continue;
        }
        /* control characters (ESC, CR, C1, bidirectional overrides) of model,
         * patch or repository text show as visible escapes: "\e[31m" */
        char esc[12];
        if (termsafe_cp(cp, esc)) {
            for (const char *e = esc; *e; e++, col++)
                if (cells_push(c, (unsigned char)*e, 1, cls))
                    return OCT_ENOMEM;
            continue;
        }
        int w = tui_cp_width(cp);
        if (w == 0) {
            /* a combining mark joins the previous cell; alone, it gets a
             * dotted circle to sit on, as Unicode suggests */
            if (c->n == 0 || c->v[c->n - 1].cls != cls) {
                if (cells_push(c, 0x25CC, 1, cls))
                    return OCT_ENOMEM;
                col++;
            }
            tui_cell_t *prev = &c->v[c->n - 1];
            for (int k = 0; k < TUI_CELL_COMB; k++)
                if (!prev->comb[k]) {
                    prev->comb[k] = cp;
                    break;
                }
            continue;
        }
        if (w < 0) {
            cp = UTF8_REPLACEMENT;
            w = 1;
        }
        if (cells_push(c, cp, w, cls))
            return OCT_ENOMEM;
        col += w;
    }
    return 0;
}

void tui_cells_free(tui_cells_t *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

int tui_lines_push(tui_lines_t *l, const tui_cell_t *cells, int n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tui_line_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return OCT_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    tui_line_t *line = &l->v[l->n];
    line->cells = NULL;
    line->n = n;
    line->width = 0;
    if (n > 0) {
        line->cells = malloc((size_t)n * sizeof *cells);
        if (!line->cells)
            return OCT_ENOMEM;
        memcpy(line->cells, cells, (size_t)n * sizeof *cells);
        for (int i = 0; i < n; i++)
            line->width += cells[i].width;
    }
    l->n++;
    return 0;
}

void tui_lines_clear(tui_lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].cells);
    l->n = 0;
}

void tui_lines_free(tui_lines_t *l)
{
    tui_lines_clear(l);
    free(l->v);
    memset(l, 0, sizeof *l);
}

size_t tui_line_text(const tui_line_t *line, char *buf, size_t size)
{
    size_t o = 0;
    char tmp[4];
    if (size == 0)
        return 0;
    for (int i = 0; i < line->n; i++) {
        uint32_t cps[1 + TUI_CELL_COMB] = {line->cells[i].ch, line->cells[i].comb[0], line->cells[i].comb[1]};
        for (int k = 0; k < 1 + TUI_CELL_COMB && cps[k]; k++) {
            size_t n = utf8_encode(cps[k], tmp);
            if (o + n >= size)
                goto done;
            memcpy(buf + o, tmp, n);
            o += n;
        }
    }
done:
    buf[o] = '\0';
    return o;
}

/* Emit CELLS[a..b) behind the prefix PRE (NP cells). */
static int emit(tui_lines_t *out, const tui_cells_t *pre, const tui_cell_t *cells, size_t a, size_t b,
                tui_cells_t *tmp)
{
    tmp->n = 0;
    for (size_t i = 0; i < pre->n; i++)
        if (cells_push(tmp, 0, 0, 0))
            return OCT_ENOMEM;
    if (pre->n)
        memcpy(tmp->v, pre->v, pre->n * sizeof *tmp->v);
    for (size_t i = a; i < b; i++) {
        if (cells_push(tmp, 0, 0, 0))
            return OCT_ENOMEM;
        tmp->v[tmp->n - 1] = cells[i];
    }
    return tui_lines_push(out, tmp->v, (int)tmp->n);
}

int tui_wrap(const tui_cell_t *cells, size_t n, int width, bool word, const char *first,
             const char *rest, uint8_t pcls, tui_lines_t *out)
{
    tui_cells_t p1 = {0}, p2 = {0}, tmp = {0};
    int rc = 0;
    if ((first && (rc = tui_cells_add(&p1, first, strlen(first), pcls, 0))) ||
        (rest && (rc = tui_cells_add(&p2, rest, strlen(rest), pcls, 0))))
        goto fail;
    if (width < 2)
        width = 2;
    size_t i = 0;
    bool firstline = true;
    do {
        tui_cells_t *pre = firstline ? &p1 : &p2;
        int pw = 0;
        for (size_t k = 0; k < pre->n; k++)
            pw += pre->v[k].width;
        if (width - pw < 2) {
            /* no room for the prefix: drop it rather than the text */
            pre->n = 0;
            pw = 0;
        }
        int avail = width - pw, col = 0;
        size_t j = i, brk = (size_t)-1;
        while (j < n && col + cells[j].width <= avail) {
            if (word && cells[j].ch == ' ' && j > i)
                brk = j;
            col += cells[j].width;
            j++;
        }
        size_t end = j, next = j;
        if (j == i && j < n) {
            end = next = j + 1; /* a cell wider than the line: show it anyway */
        } else if (j < n && word) {
            if (cells[j].ch == ' ') {
                end = j;
            } else if (brk != (size_t)-1) {
                end = brk;
                next = brk + 1;
            }
            while (next < n && cells[next].ch == ' ')
                next++;
        }
        if (word && j < n)
            while (end > i && cells[end - 1].ch == ' ')
                end--;
        if ((rc = emit(out, pre, cells, i, end, &tmp)))
            goto fail;
        i = next;
        firstline = false;
    } while (i < n);
fail:
    tui_cells_free(&p1);
    tui_cells_free(&p2);
    tui_cells_free(&tmp);
    return rc;
}
