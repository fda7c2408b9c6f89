/* test_strbuf.c - the test of the task strbuf-extract_constant: Extract the constant 16 in sb_reserve into a macro SB_MIN_CAPACITY. */

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Checks on the module's source: a local variable's or a parameter's name, or a macro, is invisible to a
   caller, so these read NAME.c (run the test in its folder) and look at the tokens of one function.
   (Not static: a test uses only some of them.) */
enum { T_ID, T_NUM, T_PUNCT };
struct src_tok { int kind; const char *s; int n; int directive; };
static struct src_tok toks[1 << 14];
static int ntoks;
static char src_text[1 << 17];

void lex_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t len = fread(src_text, 1, sizeof src_text - 1, f);
    fclose(f);
    src_text[len] = '\0';
    int line_start = 1, directive = 0, ndir = 0;
    const char *p = src_text;
    ntoks = 0;
    while (*p && ntoks < (int)(sizeof toks / sizeof *toks)) {
        if (p[0] == '\\' && p[1] == '\n') {
            p += 2;
        } else if (*p == '\n') {
            line_start = 1, directive = 0, p++;
        } else if (isspace((unsigned char)*p)) {
            p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q && *p != '\n')
                p += p[0] == '\\' && p[1] ? 2 : 1;
            p += *p == q;
            line_start = 0;
        } else {
            struct src_tok t = {T_PUNCT, p, 1, directive};
            if (isalpha((unsigned char)*p) || *p == '_') {
                t.kind = T_ID;
                while (isalnum((unsigned char)p[t.n]) || p[t.n] == '_')
                    t.n++;
            } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
                t.kind = T_NUM;
                while (isalnum((unsigned char)p[t.n]) || p[t.n] == '.' || p[t.n] == '_'
                       || ((p[t.n] == '+' || p[t.n] == '-') && strchr("eEpP", p[t.n - 1])))
                    t.n++;
            } else if (p[0] == '-' && p[1] == '>') {
                t.n = 2;
            } else if (*p == '#' && line_start) {
                t.directive = directive = ++ndir;
            }
            line_start = 0;
            toks[ntoks++] = t;
            p += t.n;
        }
    }
}

int is(int i, const char *s)
{
    return i >= 0 && i < ntoks && (int)strlen(s) == toks[i].n && !memcmp(toks[i].s, s, toks[i].n);
}

/* The index of the name of FUNC's definition; *LP, *RP its parentheses, *END its closing brace. -1 if none. */
int find_function(const char *func, int *lp, int *rp, int *end)
{
    for (int i = 0, depth = 0; i < ntoks; i++) {
        if (toks[i].directive)
            continue;
        if (is(i, "{") || is(i, "}")) {
            depth += is(i, "{") ? 1 : -1;
        } else if (depth == 0 && toks[i].kind == T_ID && is(i, func) && is(i + 1, "(")) {
            int j = i + 1, k, par = 0, br = 0;
            for (; j < ntoks; j++)
                if ((par += is(j, "(") - is(j, ")")) == 0)
                    break;
            if (!is(j + 1, "{"))
                continue;
            for (k = j + 1; k < ntoks; k++)
                if ((br += is(k, "{") - is(k, "}")) == 0)
                    break;
            *lp = i + 1, *rp = j, *end = k;
            return i;
        }
    }
    return -1;
}

enum { IN_PARAMS, IN_BODY, IN_FUNCTION };

/* How many times NAME is an identifier (not a member) in FUNC's parameters, body or both, in PATH. */
int count_ident(const char *path, const char *func, const char *name, int where)
{
    int lp, rp, end, n = 0;
    lex_file(path);
    assert(find_function(func, &lp, &rp, &end) >= 0);
    int lo = where == IN_BODY ? rp + 1 : lp, hi = where == IN_PARAMS ? rp : end;
    for (int i = lo; i <= hi; i++)
        n += toks[i].kind == T_ID && is(i, name) && !is(i - 1, ".") && !is(i - 1, "->");
    return n;
}

/* How many times the number spelled LITERAL is in FUNC's body, in PATH. */
int count_number(const char *path, const char *func, const char *literal)
{
    int lp, rp, end, n = 0;
    lex_file(path);
    assert(find_function(func, &lp, &rp, &end) >= 0);
    for (int i = rp + 1; i <= end; i++)
        n += toks[i].kind == T_NUM && is(i, literal);
    return n;
}

/* Whether PATH has `#define NAME VALUE` (VALUE maybe in parentheses). */
int has_define(const char *path, const char *name, const char *value)
{
    lex_file(path);
    for (int i = 0; i + 3 < ntoks; i++) {
        int d = toks[i].directive;
        if (!d || !is(i, "#") || !is(i + 1, "define") || !is(i + 2, name) || toks[i + 3].directive != d)
            continue;
        int lo = i + 3, hi = lo;
        while (hi + 1 < ntoks && toks[hi + 1].directive == d)
            hi++;
        while (hi > lo && is(lo, "(") && is(hi, ")"))
            lo++, hi--;
        return lo == hi && is(lo, value);
    }
    return 0;
}

int main(void)
{
    strbuf sb;
    sb_init(&sb);
    assert(sb.data == NULL && sb.len == 0);
    assert(sb_append(&sb, "hello") == 0);
    assert(sb_append_char(&sb, ',') == 0);
    assert(sb_append_repeat(&sb, '-', 4) == 0);
    assert(strcmp(sb.data, "hello,----") == 0 && sb.len == 10);
    assert(sb.cap == 16);
    assert(sb_append(&sb, " and then some more text") == 0);
    assert(sb.cap == 64 && strcmp(sb.data, "hello,---- and then some more text") == 0);
    assert(sb_append_repeat(&sb, '!', 0) == 0 && sb.len == 34);
    assert(sb_reserve(&sb, 1000) == 0 && sb.cap >= sb.len + 1001);
    sb_free(&sb);
    assert(sb.data == NULL && sb.cap == 0);
    /* 16 in sb_reserve is now the macro SB_MIN_CAPACITY, defined in strbuf.c or strbuf.h */
    assert(has_define("strbuf.c", "SB_MIN_CAPACITY", "16") || has_define("strbuf.h", "SB_MIN_CAPACITY", "16"));
    assert(count_number("strbuf.c", "sb_reserve", "16") == 0);
    assert(count_ident("strbuf.c", "sb_reserve", "SB_MIN_CAPACITY", IN_BODY) > 0);
    printf("ok\n");
    return 0;
}
