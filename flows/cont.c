/* cont.c - where a continuation of code should stop (cont.h): a brace
 * lexer or an indentation rule chosen from the typed text, a check for
 * repeated blocks of lines, and the hold-back of blank line starts that
 * keeps what follows a unit's end off the screen. */
#include <stdlib.h>
#include <string.h>

#include "cont.h"
#include "sb.h"

#define REP_MAX_LINES 8 /* the longest repeated block looked for, in lines */
#define REP_COPIES 3
#define REP_MIN_CHARS 30 /* non-blank characters in a block: "}" three times is code */

enum { MODE_NONE, MODE_BRACES, MODE_INDENT };
enum { LEX_CODE, LEX_STRING, LEX_LINE_COMMENT, LEX_BLOCK_COMMENT };

struct cont {
    int mode;
    /* braces */
    int depth0, depth;
    int lex;
    char quote;
    bool esc;
    bool pend; /* in code: the last byte was a '/'; in a block comment: a '*' */
    bool closing; /* the unit's brace was closed: a ';' may follow */
    /* indentation */
    int base;
    bool has_body; /* a generated line inside the block has come */
    /* the generated text */
    sbuf_t buf;
    size_t scan;       /* bytes of buf examined */
    size_t shown;      /* bytes of buf shown */
    size_t line;       /* start of the current line */
    bool line_blank;   /* the current line has only blanks so far */
    bool line_judged;  /* the indentation rule has judged the current line */
    size_t hold;       /* start of the run of blank lines before the current line */
    size_t *lines;     /* start of every completed line, and of the current one last */
    size_t n_lines, cap_lines;
    cont_state_t st;
    size_t end;        /* where the unit ended: nothing at or after it is shown */
};

static int columns(const char *s, size_t n)
{
    int col = 0;
    for (size_t i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        col = s[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* One byte of C-like code through the lexer; returns +1 for an opening
 * brace in code, -1 for a closing one, else 0. */
static int lex_byte(cont_t *c, char ch)
{
    switch (c->lex) {
    case LEX_STRING:
        if (c->esc)
            c->esc = false;
        else if (ch == '\\')
            c->esc = true;
        else if (ch == c->quote || ch == '\n')
            c->lex = LEX_CODE;
        return 0;
    case LEX_LINE_COMMENT:
        if (ch == '\n')
            c->lex = LEX_CODE;
        return 0;
    case LEX_BLOCK_COMMENT:
        if (c->pend && ch == '/')
            c->lex = LEX_CODE;
        c->pend = c->lex == LEX_BLOCK_COMMENT && ch == '*';
        return 0;
    default:
        break;
    }
    if (c->pend) {
        c->pend = false;
        if (ch == '/' || ch == '*') {
            c->lex = ch == '/' ? LEX_LINE_COMMENT : LEX_BLOCK_COMMENT;
            return 0;
        }
    }
    if (ch == '/') {
        c->pend = true;
    } else if (ch == '"' || ch == '\'') {
        c->lex = LEX_STRING;
        c->quote = ch;
        c->esc = false;
    } else if (ch == '{') {
        return 1;
    } else if (ch == '}') {
        return -1;
    }
    return 0;
}

/* The indentation of the block opener that TYPED leaves open, or -1: its
 * last non-blank line when that ends in ':', else the nearest line above
 * it indented less than it, if that ends in ':' (otherwise the last line
 * continues a bracket, not a block). */
static int opener(const char *typed, size_t len)
{
    int want = -1; /* the opener is the first line indented less than this; -1: any */
    size_t e = len;
    while (e > 0) {
        size_t s = e;
        while (s > 0 && typed[s - 1] != '\n')
            s--;
        size_t t = e;
        while (t > s && (is_blank(typed[t - 1]) || typed[t - 1] == '\n'))
            t--;
        if (t > s) {
            int col = columns(typed + s, t - s);
            if (want < 0 || col < want) {
                if (typed[t - 1] == ':')
                    return col;
                if (want >= 0 || col == 0)
                    return -1; /* a bracket's continuation, or a statement at the top */
                want = col;
            }
        }
        e = s > 0 ? s - 1 : 0;
    }
    return -1;
}

int cont_new(cont_t **out, const char *typed, size_t len, errmsg_t *err)
{
    *out = NULL;
    cont_t *c = calloc(1, sizeof *c);
    if (!c)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++)
        c->depth0 += lex_byte(c, typed[i]);
    if (c->depth0 > 0) {
        c->mode = MODE_BRACES;
        c->depth = c->depth0;
    } else if ((c->base = opener(typed, len)) >= 0) {
        c->mode = MODE_INDENT;
    }
    /* typed text ending inside a line: the first generated line goes on with it */
    bool mid = len > 0 && typed[len - 1] != '\n';
    c->line_blank = !mid;
    c->line_judged = mid;
    c->st = CONT_GOING;
    c->lines = malloc(16 * sizeof *c->lines);
    if (!c->lines) {
        free(c);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    c->cap_lines = 16;
    c->lines[c->n_lines++] = 0;
    *out = c;
    return 0;
}

void cont_free(cont_t *c)
{
    if (!c)
        return;
    sb_free(&c->buf);
    free(c->lines);
    free(c);
}

static void stop(cont_t *c, cont_state_t st, size_t end)
{
    c->st = st;
    c->end = end;
}

/* The lines before the current one end with REP_COPIES copies of one block. */
static bool repeated(const cont_t *c)
{
    const char *b = c->buf.s;
    size_t done = c->n_lines - 1; /* completed lines */
    for (size_t p = 1; p <= REP_MAX_LINES && p * REP_COPIES <= done; p++) {
        size_t first = done - p * REP_COPIES;
        size_t a0 = c->lines[first], a1 = c->lines[first + p];
        size_t blk = a1 - a0;
        bool same = true;
        for (size_t k = 1; k < REP_COPIES && same; k++) {
            size_t s = c->lines[first + k * p], e = c->lines[first + (k + 1) * p];
            same = e - s == blk && !memcmp(b + a0, b + s, blk);
        }
        if (!same)
            continue;
        size_t chars = 0;
        for (size_t i = a0; i < a1; i++)
            chars += !is_blank(b[i]) && b[i] != '\n';
        if (chars >= REP_MIN_CHARS)
            return true;
    }
    return false;
}

/* The indentation rule on the current line, whose first non-blank byte is
 * at I: 1 it continues the unit, 0 it ends it, -1 not known yet (a word
 * still being written). Before any line of the block has been generated,
 * a line no deeper than the opener begins a new unit in its place: the
 * typed block was complete, and the next definition is written whole. */
static int judge(cont_t *c, size_t i)
{
    const char *b = c->buf.s;
    int col = columns(b + c->line, i - c->line);
    if (col > c->base) {
        c->has_body = true;
        return 1;
    }
    if (!c->has_body) {
        c->base = col;
        return 1;
    }
    if (col < c->base)
        return 0;
    if (b[i] == ')' || b[i] == ']' || b[i] == '}')
        return 1;
    static const char *const words[] = {"else", "elif", "except", "finally"};
    size_t n = 0;
    while (i + n < c->buf.n && (b[i + n] == '_' || ((b[i + n] | 0x20) >= 'a' && (b[i + n] | 0x20) <= 'z')))
        n++;
    bool whole = i + n < c->buf.n; /* something after the word */
    bool prefix = false;
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t wl = strlen(words[w]);
        if (n <= wl && !memcmp(b + i, words[w], n)) {
            if (n == wl && whole)
                return 1;
            prefix = true;
        }
    }
    return prefix && !whole ? -1 : 0;
}

static int add_line(cont_t *c, size_t start)
{
    if (c->n_lines == c->cap_lines) {
        size_t *l = realloc(c->lines, 2 * c->cap_lines * sizeof *l);
        if (!l)
            return OCT_ENOMEM;
        c->lines = l;
        c->cap_lines *= 2;
    }
    c->lines[c->n_lines++] = start;
    return 0;
}

/* Examine the bytes of buf from c->scan on; returns 0 or OCT_ENOMEM. */
static int scan(cont_t *c)
{
    const char *b = c->buf.s;
    for (; c->scan < c->buf.n && c->st == CONT_GOING; c->scan++) {
        size_t i = c->scan;
        char ch = b[i];
        if (c->closing) {
            stop(c, CONT_UNIT_END, ch == ';' ? i + 1 : i);
            break;
        }
        if (c->mode == MODE_BRACES) {
            int d = lex_byte(c, ch);
            if (d && (c->depth += d) < c->depth0) {
                c->closing = true; /* ends after this byte, or after a ';' next */
                continue;
            }
        }
        if (ch == '\n') {
            if (!c->line_blank)
                c->hold = i + 1;
            c->line = i + 1;
            c->line_blank = true;
            c->line_judged = false;
            if (add_line(c, i + 1))
                return OCT_ENOMEM;
            if (repeated(c)) {
                stop(c, CONT_REPEAT, i + 1);
                break;
            }
            continue;
        }
        if (is_blank(ch))
            continue;
        c->line_blank = false;
        if (c->mode == MODE_INDENT && !c->line_judged) {
            int j = judge(c, i);
            if (j < 0)
                return 0; /* again when more text comes: scan stays here */
            c->line_judged = true;
            if (j == 0) {
                stop(c, CONT_UNIT_END, c->hold);
                break;
            }
        }
    }
    return 0;
}

int cont_push(cont_t *c, const char *text, size_t len, const char **show, size_t *show_len, errmsg_t *err)
{
    *show = "";
    *show_len = 0;
    if (c->st != CONT_GOING)
        return 0;
    sb_addn(&c->buf, text, len);
    if (c->buf.oom || scan(c))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    size_t safe;
    if (c->st != CONT_GOING)
        safe = c->end;
    else if (c->closing || c->line_blank || (c->mode == MODE_INDENT && !c->line_judged))
        safe = c->closing ? c->scan : c->hold;
    else
        safe = c->buf.n;
    if (safe > c->shown) {
        *show = c->buf.s + c->shown;
        *show_len = safe - c->shown;
        c->shown = safe;
    }
    return 0;
}

cont_state_t cont_state(const cont_t *c)
{
    return c->st;
}

void cont_flush(cont_t *c, const char **show, size_t *show_len)
{
    *show = "";
    *show_len = 0;
    if (c->closing && c->st == CONT_GOING)
        stop(c, CONT_UNIT_END, c->buf.n);
    size_t safe = c->st == CONT_GOING ? c->buf.n : c->end;
    if (safe > c->shown) {
        *show = c->buf.s + c->shown;
        *show_len = safe - c->shown;
        c->shown = safe;
    }
}

const char *cont_why(const cont_t *c)
{
    switch (c->st) {
    case CONT_UNIT_END:
        return c->mode == MODE_BRACES ? "stopped at the end of the block you began (its closing brace)"
                                      : "stopped at the end of the block you began (a line back at the indentation "
                                        "of its first)";
    case CONT_REPEAT:
        return "stopped: the model was repeating a block of lines";
    default:
        return NULL;
    }
}
