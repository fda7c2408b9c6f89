/* scan_python.c - finds definitions in Python (def, async def, class, with
 * their decorators) and sections in Markdown, for the chunker.
 *
 * Python blocks are known from indentation, but only at the start of a
 * logical line: the scanner follows strings (triple-quoted ones span lines),
 * comments, brackets and backslash continuations to know where logical lines
 * start. A definition ends before the next logical line indented no deeper
 * than its own "def"/"class" line; trailing comments at that depth belong to
 * what follows. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

typedef struct pline {
    int indent;
    bool blank;   /* only blanks */
    bool comment; /* only a comment */
} pline_t;

typedef struct popen {
    int node, indent;
} popen_t;

static bool is_id(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* Last line before LINE that belongs to a block indented deeper than INDENT:
 * blank lines and comments at INDENT or less are not part of it. */
static int block_end(const pline_t *pl, int line, int indent, int start)
{
    int e = line - 1;
    while (e > start && (pl[e].blank || (pl[e].comment && pl[e].indent <= indent)))
        e--;
    return e;
}

static bool word_at(const char *s, size_t n, size_t p, const char *w, size_t *after)
{
    size_t l = strlen(w);
    if (p + l > n || memcmp(s + p, w, l) != 0)
        return false;
    if (p + l < n && is_id((unsigned char)s[p + l]))
        return false;
    *after = p + l;
    return true;
}

void scan_python(const char *s, size_t n, int n_lines, scan_tree_t *t)
{
    pline_t *pl = calloc((size_t)n_lines + 2, sizeof *pl);
    popen_t *stack = malloc(((size_t)n_lines + 1) * sizeof *stack);
    if (!pl || !stack) {
        t->oom = 1;
        goto done;
    }
    int depth = 0;      /* brackets */
    char quote = 0;     /* open string's quote */
    bool triple = false;
    bool cont = false;  /* backslash continuation */
    int nstack = 0;
    int dec_line = 0, dec_indent = -1; /* pending decorators */
    size_t i = 0;
    for (int line = 1; line <= n_lines && i <= n; line++) {
        bool logical = !quote && depth == 0 && !cont;
        cont = false;
        int ind = 0;
        size_t p = i;
        while (p < n && (s[p] == ' ' || s[p] == '\t' || s[p] == '\f')) {
            ind = s[p] == '\t' ? (ind / 8 + 1) * 8 : ind + 1;
            p++;
        }
        pline_t *L = &pl[line];
        L->indent = ind;
        L->blank = p >= n || s[p] == '\n';
        L->comment = !L->blank && s[p] == '#';
        if (logical && !L->blank && !L->comment) {
            while (nstack > 0 && stack[nstack - 1].indent >= ind) {
                popen_t *o = &stack[--nstack];
                t->v[o->node].end = block_end(pl, line, o->indent, t->v[o->node].start);
            }
            size_t a;
            bool is_class = word_at(s, n, p, "class", &a);
            bool is_def = !is_class && word_at(s, n, p, "def", &a);
            if (!is_class && !is_def && word_at(s, n, p, "async", &a)) {
                while (a < n && (s[a] == ' ' || s[a] == '\t'))
                    a++;
                is_def = word_at(s, n, a, "def", &a);
            }
            if (is_class || is_def) {
                while (a < n && (s[a] == ' ' || s[a] == '\t'))
                    a++;
                size_t e = a;
                while (e < n && is_id((unsigned char)s[e]))
                    e++;
                int start = (dec_line && dec_indent == ind) ? dec_line : line;
                int parent = nstack > 0 ? stack[nstack - 1].node : -1;
                int node = scan_add(t, is_class ? SCAN_CLASS : SCAN_FUNC, start, parent, s + a, e - a);
                if (node < 0)
                    goto done;
                t->v[node].end = n_lines;
                stack[nstack].node = node;
                stack[nstack].indent = ind;
                nstack++;
                dec_line = 0;
            } else if (s[p] == '@') {
                if (!dec_line || dec_indent != ind) {
                    dec_line = line;
                    dec_indent = ind;
                }
            } else {
                dec_line = 0;
            }
        }
        /* lex the rest of the physical line */
        size_t q = quote ? i : p;
        bool esc_nl = false; /* "...\<newline>: a one-line string goes on */
        while (q < n && s[q] != '\n') {
            char c = s[q];
            if (quote) {
                if (c == '\\') {
                    if (q + 1 < n && s[q + 1] == '\n') {
                        esc_nl = true;
                        q++;
                        break;
                    }
                    q += 2;
                    continue;
                }
                if (c == quote) {
                    if (!triple) {
                        quote = 0;
                    } else if (q + 2 < n && s[q + 1] == quote && s[q + 2] == quote) {
                        quote = 0;
                        q += 2;
                    }
                }
                q++;
                continue;
            }
            if (c == '#')
                break;
            if (c == '"' || c == '\'') {
                quote = c;
                triple = q + 2 < n && s[q + 1] == c && s[q + 2] == c;
                q += triple ? 3 : 1;
                continue;
            }
            if (c == '(' || c == '[' || c == '{')
                depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0)
                depth--;
            else if (c == '\\' && q + 1 < n && s[q + 1] == '\n')
                cont = true;
            q++;
        }
        while (q < n && s[q] != '\n')
            q++;
        if (quote && !triple && !esc_nl)
            quote = 0; /* unterminated one-line string */
        i = q + 1;
    }
    while (nstack > 0) {
        popen_t *o = &stack[--nstack];
        t->v[o->node].end = block_end(pl, n_lines + 1, o->indent, t->v[o->node].start);
    }
done:
    free(pl);
    free(stack);
}

/* Markdown: each ATX heading ("# Title") opens a section that ends before
 * the next heading of the same or a higher level; fenced code is skipped. */
void scan_markdown(const char *s, size_t n, int n_lines, scan_tree_t *t)
{
    popen_t stack[7];
    int nstack = 0;
    char fence = 0;
    size_t i = 0;
    int last_text = 0;
    for (int line = 1; line <= n_lines && i <= n; line++) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t p = i;
        int sp = 0;
        while (p < e && s[p] == ' ' && sp < 4) {
            p++;
            sp++;
        }
        bool blank = true;
        for (size_t k = i; k < e && blank; k++)
            if (s[k] != ' ' && s[k] != '\t')
                blank = false;
        if (sp < 4 && p + 2 < e + 1 && (s[p] == '`' || s[p] == '~') && p + 2 < e && s[p + 1] == s[p] &&
            s[p + 2] == s[p]) {
            if (!fence)
                fence = s[p];
            else if (fence == s[p])
                fence = 0;
        } else if (!fence && sp < 4 && p < e && s[p] == '#') {
            int level = 0;
            size_t h = p;
            while (h < e && s[h] == '#' && level < 7) {
                h++;
                level++;
            }
            if (level <= 6 && (h == e || s[h] == ' ' || s[h] == '\t')) {
                while (nstack > 0 && stack[nstack - 1].indent >= level) {
                    popen_t *o = &stack[--nstack];
                    t->v[o->node].end = last_text > t->v[o->node].start ? last_text : t->v[o->node].start;
                }
                while (h < e && (s[h] == ' ' || s[h] == '\t'))
                    h++;
                size_t te = e;
                while (te > h && (s[te - 1] == '#' || s[te - 1] == ' ' || s[te - 1] == '\t'))
                    te--;
                int parent = nstack > 0 ? stack[nstack - 1].node : -1;
                int node = scan_add(t, SCAN_SECTION, line, parent, te > h ? s + h : NULL, te - h);
                if (node < 0)
                    return;
                t->v[node].end = n_lines;
                stack[nstack].node = node;
                stack[nstack].indent = level;
                nstack++;
            }
        }
        if (!blank)
            last_text = line;
        i = e + 1;
    }
    while (nstack > 0) {
        popen_t *o = &stack[--nstack];
        t->v[o->node].end = last_text > t->v[o->node].start ? last_text : t->v[o->node].start;
    }
}
