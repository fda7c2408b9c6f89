/* ctxlist.c - the context panel's rows and the block viewer (see ctxlist.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxlist.h"
#include "highlight.h"

/* "P2 src/x.c:10-80": the row's number and the block's place. */
static void label(const pin_ctx_t *c, size_t i, char *buf, size_t n)
{
    const pin_item_t *it = &c->items[i];
    size_t k = 0;
    for (size_t j = 0; j < i; j++)
        k += c->items[j].kind == it->kind;
    const char *tag = it->kind == PIN_KIND_PINNED ? "P" : it->kind == PIN_KIND_TARGET ? "T" : "";
    if (it->kind == PIN_KIND_TARGET)
        snprintf(buf, n, "T %s:%d-%d", it->path, it->start, it->end);
    else
        snprintf(buf, n, "%s%zu %s:%d-%d", tag, k + 1, it->path, it->start, it->end);
}

/* Append TEXT in class CLS wrapped to WIDTH (WORD: at spaces) after the
 * prefixes FIRST and REST; with ITEM, each new line of OUT is marked as
 * item I in *ITEM (*CAP entries, grown as needed). */
static int add_wrapped(const char *text, uint8_t cls, bool word, int width, const char *first, const char *rest,
                       int i, tui_lines_t *out, int **item, size_t *cap)
{
    tui_cells_t cells = {0};
    size_t before = out->n;
    int rc = tui_cells_add(&cells, text, strlen(text), cls, 4);
    if (!rc)
        rc = tui_wrap(cells.v, cells.n, width, word, first, rest, cls, out);
    tui_cells_free(&cells);
    if (rc || !item)
        return rc;
    if (out->n > *cap) {
        size_t nc = out->n * 2;
        int *nv = realloc(*item, nc * sizeof *nv);
        if (!nv)
            return OCT_ENOMEM;
        *item = nv;
        *cap = nc;
    }
    for (size_t k = before; k < out->n; k++)
        (*item)[k] = i;
    return 0;
}

int tui_ctxlist_layout(const pin_ctx_t *c, int width, tui_lines_t *out, int **item)
{
    size_t cap = 0;
    char head[4200];
    int rc = 0;
    *item = NULL;
    for (size_t i = 0; c && i < c->n && rc == 0; i++) {
        const pin_item_t *it = &c->items[i];
        label(c, i, head, sizeof head);
        char *detail = pin_item_detail(it);
        if (!detail)
            return OCT_ENOMEM;
        /* what did not go into the prompt stands out */
        bool lost = it->state == PIN_UNREADABLE || it->state == PIN_LEFT_OUT || it->state == PIN_CUT;
        rc = add_wrapped(head, TUI_C_TEXT, false, width, NULL, "   ", (int)i, out, item, &cap);
        if (!rc)
            rc = add_wrapped(detail, lost ? TUI_C_NOTICE : TUI_C_DIM, true, width, "   ", "   ", (int)i, out, item,
                             &cap);
        free(detail);
    }
    return rc;
}

/* Append LL bytes of the line L, numbered LN (DIGITS wide) and colored as
 * LANG continues from *ST, wrapped to WIDTH. */
static int code_line(const char *l, size_t ll, int ln, int digits, tui_lang_t lang, tui_hl_state_t *st, int width,
                     tui_lines_t *out)
{
    char num[48], rest[48];
    tui_cells_t c = {0};
    uint8_t *cls = malloc(ll ? ll : 1);
    if (!cls)
        return OCT_ENOMEM;
    tui_hl_line(lang, l, ll, st, cls);
    snprintf(num, sizeof num, "%*d \u2502 ", digits, ln);
    snprintf(rest, sizeof rest, "%*s \u2506 ", digits, "");
    int rc = tui_cells_add(&c, num, strlen(num), TUI_C_DIM, 0);
    /* runs of one class at a time */
    for (size_t a = 0; a < ll && !rc;) {
        size_t b = a + 1;
        while (b < ll && cls[b] == cls[a])
            b++;
        rc = tui_cells_add(&c, l + a, b - a, cls[a], 4);
        a = b;
    }
    if (!rc)
        rc = tui_wrap(c.v, c.n, width, false, NULL, rest, TUI_C_DIM, out);
    tui_cells_free(&c);
    free(cls);
    return rc;
}

int tui_ctxlist_view(const pin_item_t *it, int width, tui_lines_t *out)
{
    char head[4200];
    snprintf(head, sizeof head, "%s:%d-%d", it->path, it->start, it->end);
    char *detail = pin_item_detail(it);
    if (!detail)
        return OCT_ENOMEM;
    int rc = add_wrapped(head, TUI_C_HEADING, false, width, NULL, "  ", 0, out, NULL, NULL);
    if (!rc)
        rc = add_wrapped(detail, TUI_C_DIM, true, width, NULL, "  ", 0, out, NULL, NULL);
    free(detail);
    if (!rc)
        rc = tui_lines_push(out, NULL, 0);
    if (rc || it->state == PIN_UNREADABLE)
        return rc; /* the detail says why there are no lines */
    tui_lang_t lang = tui_hl_lang(it->lang ? it->lang : "");
    tui_hl_state_t st = {0};
    int digits = snprintf(NULL, 0, "%d", it->end);
    const char *s = it->text ? it->text : "";
    size_t len = strlen(s), pos = 0;
    for (int ln = it->start; rc == 0 && ln <= it->end; ln++) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t le = nl ? (size_t)(nl - s) : len;
        rc = code_line(s + pos, le - pos, ln, digits, lang, &st, width, out);
        if (!nl)
            break;
        pos = le + 1;
    }
    return rc;
}

int tui_ctxlist_scroll(int top, int first, int last, int height, int total)
{
    if (height < 1)
        return 0;
    if (last - first + 1 > height)
        last = first + height - 1;
    if (first < top)
        top = first;
    else if (last >= top + height)
        top = last - height + 1;
    if (top > total - height)
        top = total - height;
    return top < 0 ? 0 : top;
}
