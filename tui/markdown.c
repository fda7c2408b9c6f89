/* markdown.c - prose/code splitting and the rendering of transcript entries
 * into lines of cells (see markdown.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "highlight.h"
#include "markdown.h"

/* A fence line: up to 3 spaces, then 3+ backticks or tildes. Returns the
 * fence length (0 if none); *ch gets the fence character, *info the rest. */
static size_t fence(const char *s, size_t len, char *ch, const char **info, size_t *info_len)
{
    size_t i = 0;
    while (i < len && i < 3 && s[i] == ' ')
        i++;
    if (i >= len || (s[i] != '`' && s[i] != '~'))
        return 0;
    char c = s[i];
    size_t k = i;
    while (k < len && s[k] == c)
        k++;
    if (k - i < 3)
        return 0;
    if (c == '`' && memchr(s + k, '`', len - k))
        return 0; /* `````x``` inline code, not a fence */
    *ch = c;
    *info = s + k;
    *info_len = len - k;
    return k - i;
}

static bool is_closing(const char *s, size_t len, char ch, size_t n)
{
    char c;
    const char *info;
    size_t il;
    size_t f = fence(s, len, &c, &info, &il);
    if (!f || c != ch || f < n)
        return false;
    for (size_t i = 0; i < il; i++)
        if (info[i] != ' ' && info[i] != '\t' && info[i] != '\r')
            return false;
    return true;
}

static int push_block(tui_md_block_t **v, size_t *n, size_t *cap, const tui_md_block_t *b)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        tui_md_block_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return OCT_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *b;
    return 0;
}

int tui_md_split(const char *text, size_t len, tui_md_block_t **out, size_t *n_out)
{
    tui_md_block_t *v = NULL;
    size_t n = 0, cap = 0, prose = 0, pos = 0;
    *out = NULL;
    *n_out = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t le = nl ? (size_t)(nl - text) : len;
        char ch;
        const char *info;
        size_t il, fl = fence(text + pos, le - pos, &ch, &info, &il);
        if (!fl) {
            pos = nl ? le + 1 : len;
            continue;
        }
        tui_md_block_t b = {0};
        /* prose before the fence (without the newline ending it) */
        if (pos > prose) {
            b.kind = TUI_MD_PROSE;
            b.start = prose;
            b.len = pos - prose - 1;
            if (b.len && push_block(&v, &n, &cap, &b))
                goto oom;
        }
        memset(&b, 0, sizeof b);
        b.kind = TUI_MD_CODE;
        size_t a = 0;
        while (a < il && (info[a] == ' ' || info[a] == '\t'))
            a++;
        size_t e = a;
        while (e < il && info[e] != ' ' && info[e] != '\t' && info[e] != '\r' && info[e] != '{' && info[e] != ',')
            e++;
        if (e - a >= sizeof b.lang)
            e = a + sizeof b.lang - 1;
        memcpy(b.lang, info + a, e - a);
        b.start = nl ? le + 1 : len;
        pos = b.start;
        b.len = len - b.start;
        prose = len;
        while (pos < len) {
            const char *nl2 = memchr(text + pos, '\n', len - pos);
            size_t le2 = nl2 ? (size_t)(nl2 - text) : len;
            if (is_closing(text + pos, le2 - pos, ch, fl)) {
                b.len = pos > b.start ? pos - 1 - b.start : 0;
                b.closed = true;
                pos = nl2 ? le2 + 1 : len;
                prose = pos;
                break;
            }
            pos = nl2 ? le2 + 1 : len;
        }
        if (push_block(&v, &n, &cap, &b))
            goto oom;
    }
    if (prose < len) {
        tui_md_block_t b = {.kind = TUI_MD_PROSE, .start = prose, .len = len - prose};
        if (push_block(&v, &n, &cap, &b))
            goto oom;
    }
    *out = v;
    *n_out = n;
    return 0;
oom:
    free(v);
    return OCT_ENOMEM;
}

bool tui_md_code_block(const char *text, size_t len, int n, size_t *start, size_t *clen, int *count)
{
    tui_md_block_t *b = NULL;
    size_t nb = 0;
    int k = 0;
    bool found = false;
    if (tui_md_split(text, len, &b, &nb) == 0)
        for (size_t i = 0; i < nb && !found; i++)
            if (b[i].kind == TUI_MD_CODE && ++k == n) {
                *start = b[i].start;
                *clen = b[i].len;
                found = true;
            }
    free(b);
    if (count)
        *count = k;
    return found;
}

/* ---- rendering ------------------------------------------------------------ */

#define INDENT "  "

/* One prose line with `inline code` and **bold** marked (markers hidden). */
static int add_inline(tui_cells_t *c, const char *s, size_t len, uint8_t base)
{
    size_t i = 0, run = 0;
    while (i < len) {
        if (s[i] == '`') {
            const char *close = memchr(s + i + 1, '`', len - i - 1);
            if (close) {
                if (tui_cells_add(c, s + run, i - run, base, 4) ||
                    tui_cells_add(c, s + i + 1, (size_t)(close - s) - i - 1, TUI_C_INLINE, 4))
                    return OCT_ENOMEM;
                i = run = (size_t)(close - s) + 1;
                continue;
            }
        }
        if (s[i] == '*' && i + 1 < len && s[i + 1] == '*') {
            const char *close = NULL;
            for (size_t k = i + 2; k + 1 < len; k++)
                if (s[k] == '*' && s[k + 1] == '*') {
                    close = s + k;
                    break;
                }
            if (close && close > s + i + 2) {
                if (tui_cells_add(c, s + run, i - run, base, 4) ||
                    tui_cells_add(c, s + i + 2, (size_t)(close - s) - i - 2, TUI_C_HEADING, 4))
                    return OCT_ENOMEM;
                i = run = (size_t)(close - s) + 2;
                continue;
            }
        }
        i++;
    }
    return tui_cells_add(c, s + run, len - run, base, 4);
}

/* Width of a list marker ("- ", "* ", "12. ") after leading spaces, or 0. */
static size_t list_marker(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    if (i + 1 < len && (s[i] == '-' || s[i] == '*' || s[i] == '+') && s[i + 1] == ' ')
        return i + 2;
    size_t k = i;
    while (k < len && s[k] >= '0' && s[k] <= '9')
        k++;
    if (k > i && k + 1 < len && (s[k] == '.' || s[k] == ')') && s[k + 1] == ' ')
        return k + 2;
    return 0;
}

static int render_prose(const char *s, size_t len, int width, uint8_t cls, bool markdown, const char *first,
                        const char *rest, tui_lines_t *out)
{
    tui_cells_t c = {0};
    char hang[64];
    int rc = 0;
    size_t pos = 0;
    do {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t le = nl ? (size_t)(nl - s) : len;
        const char *l = s + pos;
        size_t ll = le - pos;
        if (ll && l[ll - 1] == '\r')
            ll--;
        c.n = 0;
        size_t hl = 0;
        if (markdown && ll && l[0] == '#') {
            while (hl < ll && l[hl] == '#')
                hl++;
            if (hl <= 6 && hl < ll && l[hl] == ' ')
                rc = tui_cells_add(&c, l + hl + 1, ll - hl - 1, TUI_C_HEADING, 4);
            else
                hl = 0;
        }
        if (!hl)
            rc = markdown ? add_inline(&c, l, ll, cls) : tui_cells_add(&c, l, ll, cls, 4);
        if (rc)
            break;
        /* continuation lines of a list item hang under its text */
        size_t lm = markdown ? list_marker(l, ll) : 0;
        snprintf(hang, sizeof hang, "%s%*s", rest ? rest : "", (int)(lm < 32 ? lm : 32), "");
        if ((rc = tui_wrap(c.v, c.n, width, true, pos == 0 ? first : rest, hang, cls == TUI_C_ERROR ? cls : TUI_C_DIM,
                           out)))
            break;
        pos = nl ? le + 1 : len;
    } while (pos < len);
    tui_cells_free(&c);
    return rc;
}

static int render_code(const char *s, size_t len, const char *lang, bool closed, int width, int number,
                       tui_lines_t *out)
{
    tui_cells_t c = {0};
    tui_hl_state_t st = {0};
    tui_lang_t hl = tui_hl_lang(lang);
    uint8_t *cls = NULL;
    size_t cls_cap = 0;
    char top[96];
    int rc;
    snprintf(top, sizeof top, "%s\u256d\u2500 %s%s[%d]", INDENT, lang[0] ? lang : "", lang[0] ? " \u2500 " : "",
             number);
    if ((rc = tui_cells_add(&c, top, strlen(top), TUI_C_FRAME, 0)) ||
        (rc = tui_wrap(c.v, c.n, width, false, NULL, NULL, TUI_C_FRAME, out)))
        goto fail;
    size_t pos = 0;
    while (pos < len || (pos == 0 && len == 0 && closed)) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t le = nl ? (size_t)(nl - s) : len;
        size_t ll = le - pos;
        if (ll && s[pos + ll - 1] == '\r')
            ll--;
        if (ll > cls_cap) {
            uint8_t *nc = realloc(cls, ll);
            if (!nc) {
                rc = OCT_ENOMEM;
                goto fail;
            }
            cls = nc;
            cls_cap = ll;
        }
        tui_hl_line(hl, s + pos, ll, &st, cls);
        c.n = 0;
        /* add runs of one class at a time */
        for (size_t a = 0; a < ll;) {
            size_t b = a + 1;
            while (b < ll && cls[b] == cls[a])
                b++;
            if ((rc = tui_cells_add(&c, s + pos + a, b - a, cls[a], 4)))
                goto fail;
            a = b;
        }
        if ((rc = tui_wrap(c.v, c.n, width, false, INDENT "\u2502 ", INDENT "\u2506 ", TUI_C_FRAME, out)))
            goto fail;
        if (!nl)
            break;
        pos = le + 1;
    }
    if (closed) {
        c.n = 0;
        if ((rc = tui_cells_add(&c, INDENT "\u2570\u2500", strlen(INDENT "\u2570\u2500"), TUI_C_FRAME, 0)) ||
            (rc = tui_wrap(c.v, c.n, width, false, NULL, NULL, TUI_C_FRAME, out)))
            goto fail;
    }
fail:
    free(cls);
    tui_cells_free(&c);
    return rc;
}

int tui_render_entry(tui_role_t role, const char *text, size_t len, int width, int first_code, int *n_code,
                     tui_lines_t *out)
{
    tui_cells_t c = {0};
    tui_md_block_t *blocks = NULL;
    size_t nb = 0;
    int rc = 0, codes = 0;
    if (n_code)
        *n_code = 0;
    if (role == TUI_ROLE_NOTICE || role == TUI_ROLE_ERROR) {
        uint8_t cls = role == TUI_ROLE_ERROR ? TUI_C_ERROR : TUI_C_NOTICE;
        rc = render_prose(text, len, width, cls, false, role == TUI_ROLE_ERROR ? "! " : "\u00b7 ", "  ", out);
        goto done;
    }
    const char *head = role == TUI_ROLE_USER ? "\u258c you" : "\u258c octet";
    if ((rc = tui_cells_add(&c, head, strlen(head), role == TUI_ROLE_USER ? TUI_C_ROLE_USER : TUI_C_ROLE_BOT, 0)) ||
        (rc = tui_wrap(c.v, c.n, width, false, NULL, NULL, 0, out)))
        goto done;
    if (role == TUI_ROLE_USER) {
        rc = render_prose(text, len, width, TUI_C_USER, false, INDENT, INDENT, out);
        goto done;
    }
    if ((rc = tui_md_split(text, len, &blocks, &nb)))
        goto done;
    for (size_t i = 0; i < nb && rc == 0; i++) {
        const tui_md_block_t *b = &blocks[i];
        if (b->kind == TUI_MD_PROSE)
            rc = render_prose(text + b->start, b->len, width, TUI_C_TEXT, true, INDENT, INDENT, out);
        else
            rc = render_code(text + b->start, b->len, b->lang, b->closed, width, first_code + codes++, out);
    }
done:
    if (rc == 0)
        rc = tui_lines_push(out, NULL, 0);
    if (n_code)
        *n_code = codes;
    free(blocks);
    tui_cells_free(&c);
    return rc;
}
