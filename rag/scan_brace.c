/* scan_brace.c - finds definitions in brace languages (C, C++, Java, C#,
 * JavaScript, TypeScript, Go, Rust, Kotlin, Swift, Scala, PHP) for the
 * chunker.
 *
 * A single pass over the file tracks comments, string and character
 * literals (raw strings, template literals, regex literals, Rust lifetimes
 * included), the preprocessor (only the first branch of #if/#else is read, so
 * braces stay balanced) and nesting of braces and parentheses. For every
 * block it keeps the "header": the code since the previous statement
 * boundary with comments dropped and strings emptied. classify() reads the
 * header to tell functions, classes and namespaces from other blocks and to
 * name them. This is a heuristic scanner, not a parser: it is cheap (about
 * as fast as reading the file) and degrades to line windows on code it
 * misreads, which is what retrieval needs. docs/retrieval.md has the
 * measurements that led to it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

typedef struct rules {
    bool cpp;          /* C preprocessor, C++ raw strings R"x(...)x" */
    bool cfam;         /* C/C++: "struct foo *f(void) {" is a function */
    bool sq_string;    /* '...' is a string (JS, TS, PHP), not a character */
    bool rust;         /* lifetimes, r#"..."# raw strings, nested comments, multi-line strings */
    bool go;           /* `raw` strings, "Name struct" order */
    bool template_lit; /* JS/TS `...${expr}...` */
    bool triple_quote; /* """text blocks""" (Java, Kotlin, Swift, Scala) */
    bool regex;        /* JS/TS /regex/ literals */
    bool newline_ends; /* statements end at line ends (Go, JS, TS, Kotlin, Swift, Scala) */
    bool hash_comment; /* PHP # comments */
    bool verbatim_at;  /* C# @"..." strings */
} rules_t;

#define HDR_MAX 512
#define NAME_MAX_LEN 160
#define MAX_TOKENS 160
#define MAX_COND 64

typedef struct level {
    int node;          /* this block's node, or -1 */
    int parent_node;   /* node that nodes opened inside this block belong to */
    bool in_def;       /* inside a function or value: nested blocks get no nodes */
    bool template_expr;/* `${`: its '}' returns to the template literal */
    bool inparen;      /* opened inside parentheses of the enclosing header */
    int paren;         /* ( and [ depth of the header being read */
    int hline;         /* first line of that header, 0 when empty */
    int pending;       /* unnamed class closed here, awaiting "} name;" */
    size_t hlen;
    char hdr[HDR_MAX];
} level_t;

typedef struct bscan {
    const char *s;
    size_t n, i;
    int line;
    bool bol; /* nothing but blanks seen on this line yet */
    const rules_t *R;
    level_t *lv;
    size_t depth, cap;
    scan_tree_t *t;
    char prev; /* last significant character, for regex detection ('\0' at start) */
    unsigned char cond[MAX_COND];
    int ncond, cond_overflow;
    bool skipping; /* inside a preprocessor branch that is not read */
} bscan_t;

enum { COND_TAKING, COND_SKIP_REST, COND_NOT_YET };

static bool is_ident(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r'; }

static const rules_t *rules_for(const char *lang)
{
    static const rules_t C = {.cpp = true, .cfam = true};
    static const rules_t JAVA = {.triple_quote = true};
    static const rules_t CS = {.verbatim_at = true};
    static const rules_t JS = {.sq_string = true, .template_lit = true, .regex = true, .newline_ends = true};
    static const rules_t GO = {.go = true, .newline_ends = true};
    static const rules_t RUST = {.rust = true};
    static const rules_t KT = {.triple_quote = true, .newline_ends = true};
    static const rules_t PHP = {.sq_string = true, .hash_comment = true};
    if (!strcmp(lang, "c") || !strcmp(lang, "cpp"))
        return &C;
    if (!strcmp(lang, "javascript") || !strcmp(lang, "typescript"))
        return &JS;
    if (!strcmp(lang, "go"))
        return &GO;
    if (!strcmp(lang, "rust"))
        return &RUST;
    if (!strcmp(lang, "csharp"))
        return &CS;
    if (!strcmp(lang, "kotlin") || !strcmp(lang, "swift") || !strcmp(lang, "scala"))
        return &KT;
    if (!strcmp(lang, "php"))
        return &PHP;
    return &JAVA;
}

/* ---- header classification ------------------------------------------- */

typedef struct htok {
    const char *p;
    int len;
    char kind;  /* 'w' word, 's' string, 'p' punctuation */
    int depth;  /* ( and [ depth outside this token */
} htok_t;

static int tokenize(const char *h, size_t hl, htok_t *tk)
{
    int nt = 0, depth = 0;
    size_t i = 0;
    while (i < hl && nt < MAX_TOKENS) {
        unsigned char c = (unsigned char)h[i];
        if (is_space(c) || c == '\n') {
            i++;
            continue;
        }
        htok_t *t = &tk[nt];
        t->p = h + i;
        t->depth = depth;
        if (is_ident(c)) {
            size_t j = i;
            while (j < hl && is_ident((unsigned char)h[j]))
                j++;
            t->kind = 'w';
            t->len = (int)(j - i);
            i = j;
        } else if (c == '"') {
            t->kind = 's';
            t->len = (i + 1 < hl && h[i + 1] == '"') ? 2 : 1;
            i += (size_t)t->len;
        } else {
            static const char *const two[] = {"::", "=>", "==", "!=", "<=", ">=", "->", "&&", "||"};
            t->kind = 'p';
            t->len = 1;
            for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
                if (i + 1 < hl && h[i] == two[k][0] && h[i + 1] == two[k][1])
                    t->len = 2;
            if (t->len == 1) {
                if (c == '(' || c == '[')
                    depth++;
                else if ((c == ')' || c == ']') && depth > 0) {
                    depth--;
                    t->depth = depth;
                }
            }
            i += (size_t)t->len;
        }
        nt++;
    }
    return nt;
}

static bool tok_is(const htok_t *t, const char *s)
{
    return (int)strlen(s) == t->len && !memcmp(t->p, s, (size_t)t->len);
}

static bool tok_in(const htok_t *t, const char *const *set)
{
    for (; *set; set++)
        if (tok_is(t, *set))
            return true;
    return false;
}

/* Index after the group opened at tk[i] (one of "(", "[", "<"), or nt. */
static int skip_group(const htok_t *tk, int nt, int i)
{
    char open = tk[i].p[0];
    char close = open == '(' ? ')' : open == '[' ? ']' : '>';
    int d = 0;
    for (; i < nt; i++) {
        if (tk[i].kind != 'p')
            continue;
        if (tk[i].len == 1 && tk[i].p[0] == open)
            d++;
        else if (tk[i].len == 1 && tk[i].p[0] == close) {
            if (--d == 0)
                return i + 1;
        } else if (open == '<' && tk[i].len == 2 && tk[i].p[0] == '>' ) {
            if (--d == 0)
                return i + 1;
        }
    }
    return nt;
}

static bool tok_punct(const htok_t *t, char c) { return t->kind == 'p' && t->len == 1 && t->p[0] == c; }

static const char *const MODIFIERS[] = {
    "export", "default", "declare", "public", "private", "protected", "internal", "static",
    "final", "abstract", "sealed", "open", "override", "async", "unsafe", "pub", "inline",
    "virtual", "typedef", "partial", "readonly", "data", "inner", "companion", "case", "implicit",
    "lazy", "suspend", "operator", "infix", "tailrec", "external", "actual", "expect", "fileprivate",
    "mutating", "nonmutating", "convenience", "required", "dynamic", "constexpr",
    "consteval", "explicit", "friend", "mutable", "volatile", "register", "synchronized", "native",
    "strictfp", "transient", "noinline", "crossinline", NULL};

static const char *const CONTROL[] = {
    "if", "else", "for", "while", "do", "switch", "try", "catch", "finally", "with", "loop",
    "match", "select", "defer", "go", "return", "foreach", "lock", "fixed", "using", "checked",
    "unchecked", "when", "guard", "repeat", NULL};

/* Blocks when alone (C# accessors, Kotlin init blocks), method names before '('. */
static const char *const BLOCK_WORDS[] = {"get", "set", "init", NULL};

static const char *const CALL_SKIP[] = {
    "if", "for", "while", "switch", "catch", "return", "sizeof", "alignof", "_Alignof",
    "__attribute__", "__attribute", "__declspec", "alignas", "_Alignas", "decltype", "noexcept",
    "throw", "throws", "typeof", "__typeof__", "defined", "static_assert", "_Static_assert",
    "requires", "new", "delete", "await", "yield", "foreach", "lock", "using", "fixed", "when",
    "elif", "assert", "asm", "__asm__", "super", "this", NULL};

static const char *const CLASS_KW[] = {"class", "struct", "union", "enum", "interface", "trait",
                                       "impl", "record", "object", "protocol", "extension", NULL};

static const char *const FUNC_KW[] = {"fn", "func", "function", "fun", "def", NULL};

/* Skip annotations, attributes, template<...> and modifiers. */
static int skip_prefix(const htok_t *tk, int nt, int f)
{
    for (;;) {
        if (f >= nt)
            return f;
        if (tok_punct(&tk[f], '@') && f + 1 < nt && tk[f + 1].kind == 'w' &&
            !tok_is(&tk[f + 1], "interface")) {
            f += 2;
            while (f + 1 < nt && tok_punct(&tk[f], '.') && tk[f + 1].kind == 'w')
                f += 2;
            if (f < nt && tok_punct(&tk[f], '('))
                f = skip_group(tk, nt, f);
            continue;
        }
        if (tok_punct(&tk[f], '@') && f + 1 < nt) { /* @interface */
            f++;
            continue;
        }
        if (tok_punct(&tk[f], '#') && f + 1 < nt && (tok_punct(&tk[f + 1], '[') ||
                                                     (tok_punct(&tk[f + 1], '!') && f + 2 < nt))) {
            int j = tok_punct(&tk[f + 1], '[') ? f + 1 : f + 2;
            f = skip_group(tk, nt, j);
            continue;
        }
        if (tok_punct(&tk[f], '[') && f == 0) { /* [[attr]], C# [Attr] */
            f = skip_group(tk, nt, f);
            continue;
        }
        if (tok_punct(&tk[f], '<') && f + 1 < nt) { /* Java generic method: <T> List<T> f() */
            f = skip_group(tk, nt, f);
            continue;
        }
        if (tk[f].kind == 'w' && tok_is(&tk[f], "template") && f + 1 < nt && tok_punct(&tk[f + 1], '<')) {
            f = skip_group(tk, nt, f + 1);
            continue;
        }
        if (tk[f].kind == 'w' && tok_in(&tk[f], MODIFIERS)) {
            f++;
            if (f < nt && tok_punct(&tk[f], '(') && tok_is(&tk[f - 1], "pub")) /* pub(crate) */
                f = skip_group(tk, nt, f);
            continue;
        }
        return f;
    }
}

/* Copy tokens [a, b) into NAME without spaces (for "a::b", "Foo.bar"). */
static void copy_name(const htok_t *tk, int a, int b, char *name)
{
    size_t n = 0;
    for (int i = a; i < b; i++) {
        size_t l = (size_t)tk[i].len;
        if (n + l >= NAME_MAX_LEN)
            break;
        memcpy(name + n, tk[i].p, l);
        n += l;
    }
    name[n] = '\0';
}

/* The qualified name ending with word token W: "ns::Class::method",
 * "~Foo", "obj.prop". */
static void qualified_name(const htok_t *tk, int w, char *name, bool dots)
{
    int a = w;
    while (a >= 2 && tk[a - 2].kind == 'w' &&
           (tok_is(&tk[a - 1], "::") || (dots && tok_punct(&tk[a - 1], '.'))))
        a -= 2;
    if (a >= 1 && tok_punct(&tk[a - 1], '~'))
        a--;
    copy_name(tk, a, w + 1, name);
}

/* Name of a function from its parameter list: the last "(" at depth 0 that
 * follows a name, before a ':' that follows a ')' (C++ initializer list, TS
 * return type). Returns 0 when there is none. */
static int call_name(const htok_t *tk, int nt, int f, char *name)
{
    int limit = nt;
    bool seen_close = false;
    for (int i = f; i < nt; i++) {
        if (tk[i].depth != 0)
            continue;
        if (tok_punct(&tk[i], ')'))
            seen_close = true;
        else if (seen_close && tok_punct(&tk[i], ':')) {
            limit = i;
            break;
        }
    }
    int best = -1, best_paren = -1;
    for (int i = f + 1; i < limit; i++) {
        if (!tok_punct(&tk[i], '(') || tk[i].depth != 0)
            continue;
        int w = i - 1;
        if (tok_punct(&tk[w], '>')) { /* generic method: name<T>( */
            int d = 0;
            for (; w >= f; w--) {
                if (tok_punct(&tk[w], '>'))
                    d++;
                else if (tok_punct(&tk[w], '<') && --d == 0)
                    break;
            }
            w--;
        }
        if (w >= f && tk[w].kind == 'w' && !tok_in(&tk[w], CALL_SKIP)) {
            best = w;
            best_paren = i;
            continue;
        }
        int j = i - 1; /* operator==( and operator()( */
        while (j > f && tk[j].kind == 'p')
            j--;
        if (j >= f && j < i - 1 && tok_is(&tk[j], "operator")) {
            best = j;
            best_paren = i;
        }
    }
    if (best < 0)
        return 0;
    qualified_name(tk, best, name, false);
    size_t n = strlen(name);
    for (int q = best + 1; q < best_paren && tok_is(&tk[best], "operator"); q++) {
        if (n + (size_t)tk[q].len + 1 >= NAME_MAX_LEN)
            break;
        memcpy(name + n, tk[q].p, (size_t)tk[q].len);
        n += (size_t)tk[q].len;
    }
    name[n] = '\0';
    return 1;
}

static scan_kind_t classify(const rules_t *R, const char *h, size_t hl, char *name)
{
    htok_t tk[MAX_TOKENS];
    int nt = tokenize(h, hl, tk);
    name[0] = '\0';
    int f = skip_prefix(tk, nt, 0);
    if (f >= nt)
        return SCAN_OTHER;
    const htok_t *fw = &tk[f];
    if (fw->kind != 'w')
        return SCAN_OTHER;
    if (tok_in(fw, CONTROL))
        return SCAN_OTHER;
    if (tok_in(fw, BLOCK_WORDS) && !(f + 1 < nt && tok_punct(&tk[f + 1], '(')))
        return SCAN_OTHER;
    if ((tok_is(fw, "namespace") || tok_is(fw, "module") || (tok_is(fw, "mod") && R->rust)) &&
        (f + 1 == nt || tk[f + 1].kind != 'p')) {
        int a = f + 1, b = a;
        while (b < nt && (tk[b].kind == 'w' || tok_is(&tk[b], "::") || tok_punct(&tk[b], '.')))
            b++;
        copy_name(tk, a, b, name);
        return SCAN_NAMESPACE;
    }
    if (tok_is(fw, "extern")) {
        if (f + 1 < nt && tk[f + 1].kind == 's') {
            if (f + 2 >= nt)
                return SCAN_NAMESPACE; /* extern "C" { */
            f += 2;                    /* extern "C" int f(void) { */
        } else {
            f++;
        }
        f = skip_prefix(tk, nt, f);
        if (f >= nt || tk[f].kind != 'w')
            return SCAN_OTHER;
        fw = &tk[f];
    }
    if (tok_is(fw, "macro_rules") && f + 2 < nt && tok_punct(&tk[f + 1], '!') && tk[f + 2].kind == 'w') {
        copy_name(tk, f + 2, f + 3, name);
        return SCAN_FUNC;
    }

    /* Positions of the first function keyword and the first assignment. */
    int fk = -1, eq = -1, arrow = -1, angle = 0;
    for (int i = f; i < nt; i++) {
        if (tk[i].depth != 0)
            continue;
        if (tok_punct(&tk[i], '<'))
            angle++;
        else if (tok_punct(&tk[i], '>') && angle > 0)
            angle--;
        if (fk < 0 && tk[i].kind == 'w' && tok_in(&tk[i], FUNC_KW))
            fk = i;
        /* '=' inside <...> is a type parameter's default, not an assignment */
        if (eq < 0 && tok_punct(&tk[i], '=') && i > f && angle == 0)
            eq = i;
        if (arrow < 0 && tok_is(&tk[i], "=>"))
            arrow = i;
    }

    if (eq >= 0 && (fk < 0 || eq < fk)) {
        /* name = value: the name is the word before a type annotation ':' or
         * before '=' (arrays "names[]" and paths "a.b" allowed). */
        int e = eq, w = -1;
        for (int i = f; i < e; i++)
            if (tk[i].depth == 0 && tok_punct(&tk[i], ':')) {
                e = i;
                break;
            }
        for (int i = e - 1; i >= f; i--) {
            if (tok_punct(&tk[i], ']') && tk[i].depth == 0) {
                while (i > f && !(tok_punct(&tk[i], '[') && tk[i].depth == 0))
                    i--;
                continue;
            }
            if (tk[i].kind == 'w') {
                w = i;
                break;
            }
            if (!tok_punct(&tk[i], '*') && !tok_punct(&tk[i], '&') && !tok_punct(&tk[i], '?') &&
                !tok_punct(&tk[i], '!'))
                break;
        }
        if (w < 0)
            return SCAN_OTHER;
        qualified_name(tk, w, name, true);
        bool fn = arrow > eq;
        for (int i = eq + 1; i < nt && !fn; i++)
            if (tk[i].kind == 'w' && tok_is(&tk[i], "function"))
                fn = true;
        return fn ? SCAN_FUNC : SCAN_VALUE;
    }

    if (fk >= 0) {
        int i = fk + 1;
        char recv[NAME_MAX_LEN] = "";
        if (i < nt && tok_punct(&tk[i], '*'))
            i++;
        if (i < nt && tok_punct(&tk[i], '(') && R->go) {
            int end = skip_group(tk, nt, i);
            for (int j = end - 1; j > i; j--)
                if (tk[j].kind == 'w') {
                    copy_name(tk, j, j + 1, recv);
                    break;
                }
            i = end;
        }
        if (i < nt && tok_punct(&tk[i], '<'))
            i = skip_group(tk, nt, i);
        if (i < nt && tk[i].kind == 'w') {
            int b = i + 1;
            while (b + 1 < nt && tok_punct(&tk[b], '.') && tk[b + 1].kind == 'w')
                b += 2;
            char fname[NAME_MAX_LEN];
            copy_name(tk, i, b, fname);
            if (recv[0] && strlen(recv) + strlen(fname) + 2 < NAME_MAX_LEN)
                strcat(strcat(strcpy(name, recv), "."), fname);
            else
                strcpy(name, fname);
            return SCAN_FUNC;
        }
        /* anonymous: key: function() {...} */
        for (int j = fk - 1; j > f; j--)
            if (tok_punct(&tk[j], ':') && tk[j - 1].kind == 'w') {
                copy_name(tk, j - 1, j, name);
                return SCAN_FUNC;
            }
        return SCAN_OTHER;
    }

    if (arrow >= 0) { /* key: (x) => { */
        for (int j = arrow - 1; j > f; j--)
            if (tok_punct(&tk[j], ':') && tk[j].depth == 0 && tk[j - 1].kind == 'w') {
                copy_name(tk, j - 1, j, name);
                return SCAN_FUNC;
            }
        if (f + 1 < nt && tk[f].kind == 'w' && tok_punct(&tk[f + 1], ':')) {
            copy_name(tk, f, f + 1, name);
            return SCAN_FUNC;
        }
        return SCAN_OTHER;
    }

    /* class-like keywords before any parameter list */
    for (int k = f; k < nt; k++) {
        if (tk[k].depth != 0)
            continue;
        if (tok_punct(&tk[k], '('))
            break;
        bool go_type = R->go && tk[k].kind == 'w' && (tok_is(&tk[k], "struct") || tok_is(&tk[k], "interface"));
        if (!(tk[k].kind == 'w' && tok_in(&tk[k], CLASS_KW)) && !go_type)
            continue;
        if (R->go) {
            if (k > f && tk[k - 1].kind == 'w' && !tok_is(&tk[k - 1], "type"))
                copy_name(tk, k - 1, k, name);
            return SCAN_CLASS;
        }
        int i = k + 1;
        while (i < nt && tk[i].kind == 'w' && (tok_is(&tk[i], "class") || tok_is(&tk[i], "struct") ||
                                               tok_is(&tk[i], "final")))
            i++;
        for (;;) {
            if (i < nt && tk[i].kind == 'w' &&
                (tok_is(&tk[i], "__attribute__") || tok_is(&tk[i], "alignas") ||
                 tok_is(&tk[i], "__declspec")) && i + 1 < nt && tok_punct(&tk[i + 1], '(')) {
                i = skip_group(tk, nt, i + 1);
                continue;
            }
            if (i < nt && tok_punct(&tk[i], '['))
            {
                i = skip_group(tk, nt, i);
                continue;
            }
            break;
        }
        if (tok_is(&tk[k], "impl")) {
            if (i < nt && tok_punct(&tk[i], '<'))
                i = skip_group(tk, nt, i);
            for (int j = i; j < nt; j++)
                if (tk[j].kind == 'w' && tok_is(&tk[j], "for") && tk[j].depth == 0) {
                    i = j + 1;
                    break;
                }
            while (i < nt && (tok_punct(&tk[i], '&') || tok_is(&tk[i], "dyn") || tok_is(&tk[i], "mut")))
                i++;
            while (i + 2 < nt && tk[i].kind == 'w' && tok_is(&tk[i + 1], "::") && tk[i + 2].kind == 'w')
                i += 2; /* fmt::Display -> Display */
        }
        static const char *const NOT_NAME[] = {"extends", "implements", "where", "for", NULL};
        int nm = (i < nt && tk[i].kind == 'w' && !tok_in(&tk[i], NOT_NAME)) ? i : -1;
        if (R->cfam && nm >= 0) {
            /* "struct foo *make(void) {" is a function returning a struct */
            for (int j = nm + 1; j < nt; j++)
                if (tok_punct(&tk[j], '(') && tk[j].depth == 0 && tk[j - 1].kind == 'w') {
                    if (call_name(tk, nt, f, name))
                        return SCAN_FUNC;
                    break;
                }
        }
        if (nm >= 0)
            copy_name(tk, nm, nm + 1, name);
        return SCAN_CLASS;
    }

    if (call_name(tk, nt, f, name))
        return SCAN_FUNC;
    return SCAN_OTHER;
}

/* ---- the scanner ----------------------------------------------------- */

static level_t *cur(bscan_t *b) { return &b->lv[b->depth - 1]; }

static void hdr_reset(level_t *L)
{
    L->hlen = 0;
    L->hline = 0;
    L->paren = 0;
    L->pending = -1;
}

static void hdr_put(bscan_t *b, const char *p, size_t n)
{
    level_t *L = cur(b);
    if (L->in_def)
        return;
    for (size_t k = 0; k < n; k++) {
        char c = p[k];
        if (is_space((unsigned char)c) || c == '\n') {
            if (L->hlen == 0 || L->hdr[L->hlen - 1] == ' ')
                continue;
            c = ' ';
        } else if (L->hline == 0) {
            L->hline = b->line;
        }
        if (L->hlen + 1 < HDR_MAX)
            L->hdr[L->hlen++] = c;
    }
}

static bool push_level(bscan_t *b, int node, int parent_node, bool in_def, bool template_expr,
                       bool inparen)
{
    if (b->depth == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        level_t *nl = realloc(b->lv, ncap * sizeof *nl);
        if (!nl) {
            b->t->oom = 1;
            return false;
        }
        b->lv = nl;
        b->cap = ncap;
    }
    level_t *L = &b->lv[b->depth++];
    L->node = node;
    L->parent_node = parent_node;
    L->in_def = in_def;
    L->template_expr = template_expr;
    L->inparen = inparen;
    hdr_reset(L);
    return true;
}

/* Text after '`' or after the '}' of "${": up to the closing '`' or the next
 * "${", which opens a level whose '}' comes back here. */
static void scan_template(bscan_t *b)
{
    while (b->i < b->n) {
        char c = b->s[b->i];
        if (c == '\\') {
            if (b->i + 1 < b->n && b->s[b->i + 1] == '\n')
                b->line++;
            b->i += 2;
            continue;
        }
        if (c == '`') {
            b->i++;
            return;
        }
        if (c == '$' && b->i + 1 < b->n && b->s[b->i + 1] == '{') {
            b->i += 2;
            level_t *L = cur(b);
            push_level(b, -1, L->parent_node, true, true, false);
            return;
        }
        if (c == '\n')
            b->line++;
        b->i++;
    }
}

/* Skip a quoted literal that starts at b->i with QUOTE. Stops at a newline
 * unless MULTILINE (an unterminated literal must not swallow the file). */
static void skip_quoted(bscan_t *b, char quote, bool multiline, bool escapes)
{
    b->i++;
    while (b->i < b->n) {
        char c = b->s[b->i];
        if (c == '\\' && escapes) {
            if (b->i + 1 < b->n && b->s[b->i + 1] == '\n') {
                if (!multiline && !b->R->cpp)
                    return;
                b->line++;
            }
            b->i += 2;
            continue;
        }
        if (c == '\n') {
            if (!multiline)
                return;
            b->line++;
        }
        b->i++;
        if (c == quote)
            return;
    }
}

/* Skip until the literal string END (exclusive of nothing: END is consumed). */
static void skip_until(bscan_t *b, const char *end, size_t endlen, bool escapes)
{
    while (b->i < b->n) {
        if (escapes && b->s[b->i] == '\\') {
            if (b->i + 1 < b->n && b->s[b->i + 1] == '\n')
                b->line++;
            b->i += 2;
            continue;
        }
        if (b->i + endlen <= b->n && !memcmp(b->s + b->i, end, endlen)) {
            b->i += endlen;
            return;
        }
        if (b->s[b->i] == '\n')
            b->line++;
        b->i++;
    }
}

static void skip_block_comment(bscan_t *b)
{
    int d = 0;
    while (b->i < b->n) {
        if (b->s[b->i] == '/' && b->i + 1 < b->n && b->s[b->i + 1] == '*') {
            d++;
            b->i += 2;
            if (!b->R->rust)
                d = 1;
            continue;
        }
        if (b->s[b->i] == '*' && b->i + 1 < b->n && b->s[b->i + 1] == '/') {
            b->i += 2;
            if (--d <= 0)
                return;
            continue;
        }
        if (b->s[b->i] == '\n')
            b->line++;
        b->i++;
    }
}

static void skip_line(bscan_t *b)
{
    while (b->i < b->n && b->s[b->i] != '\n')
        b->i++;
}

static void update_skipping(bscan_t *b)
{
    b->skipping = false;
    for (int k = 0; k < b->ncond; k++)
        if (b->cond[k] != COND_TAKING)
            b->skipping = true;
}

/* A preprocessor line at b->i ('#'): follow #if/#else/#endif, skip the rest. */
static void directive(bscan_t *b)
{
    size_t i = b->i + 1;
    while (i < b->n && is_space((unsigned char)b->s[i]))
        i++;
    size_t w = i;
    while (i < b->n && is_ident((unsigned char)b->s[i]))
        i++;
    size_t wl = i - w;
    const char *word = b->s + w;
    bool is_if = (wl == 2 && !memcmp(word, "if", 2)) || (wl == 5 && !memcmp(word, "ifdef", 5)) ||
                 (wl == 6 && !memcmp(word, "ifndef", 6));
    bool if0 = false;
    if (wl == 2 && !memcmp(word, "if", 2)) {
        size_t j = i;
        while (j < b->n && is_space((unsigned char)b->s[j]))
            j++;
        if (j < b->n && b->s[j] == '0' && (j + 1 >= b->n || !is_ident((unsigned char)b->s[j + 1])))
            if0 = true;
    }
    if (is_if) {
        if (b->ncond < MAX_COND)
            b->cond[b->ncond++] = if0 ? COND_NOT_YET : COND_TAKING;
        else
            b->cond_overflow++;
    } else if ((wl == 4 && (!memcmp(word, "elif", 4) || !memcmp(word, "else", 4))) ||
               (wl == 7 && (!memcmp(word, "elifdef", 7))) || (wl == 8 && !memcmp(word, "elifndef", 8))) {
        if (!b->cond_overflow && b->ncond > 0) {
            unsigned char *c = &b->cond[b->ncond - 1];
            *c = *c == COND_NOT_YET ? COND_TAKING : COND_SKIP_REST;
        }
    } else if (wl == 5 && !memcmp(word, "endif", 5)) {
        if (b->cond_overflow)
            b->cond_overflow--;
        else if (b->ncond > 0)
            b->ncond--;
    }
    update_skipping(b);
    /* rest of the directive, with continuation lines and comments */
    b->i = i;
    while (b->i < b->n && b->s[b->i] != '\n') {
        if (b->s[b->i] == '\\' && b->i + 1 < b->n && b->s[b->i + 1] == '\n') {
            b->line++;
            b->i += 2;
            continue;
        }
        if (b->s[b->i] == '/' && b->i + 1 < b->n && b->s[b->i + 1] == '*') {
            skip_block_comment(b);
            continue;
        }
        b->i++;
    }
}

/* Start of the header of a block opened inside parentheses: after the last
 * unclosed '(' or '[' or a ',' at that depth. */
static size_t inparen_tail(const level_t *L)
{
    int d = 0;
    for (size_t k = L->hlen; k > 0; k--) {
        char c = L->hdr[k - 1];
        if (c == ')' || c == ']')
            d++;
        else if (c == '(' || c == '[') {
            if (d == 0)
                return k;
            d--;
        } else if (c == ',' && d == 0)
            return k;
    }
    return 0;
}

static void open_brace(bscan_t *b, bool bol)
{
    level_t *L = cur(b);
    bool inparen = L->paren > 0;
    if (b->R->cfam && bol && !L->in_def && b->depth == 1)
        inparen = false; /* '{' at the start of a line at top level: a body */
    int node = -1;
    bool in_def = L->in_def;
    int parent_node = L->node >= 0 ? L->node : L->parent_node;
    if (!in_def) {
        size_t a = inparen ? inparen_tail(L) : 0;
        int hline = inparen || L->hline == 0 ? b->line : L->hline;
        char name[NAME_MAX_LEN];
        scan_kind_t kind = classify(b->R, L->hdr + a, L->hlen - a, name);
        node = scan_add(b->t, kind, hline, parent_node, name[0] ? name : NULL, strlen(name));
        if (kind == SCAN_FUNC || kind == SCAN_VALUE)
            in_def = true;
    }
    if (!inparen)
        hdr_reset(L);
    int pn = node >= 0 ? node : parent_node;
    push_level(b, node, pn, in_def, false, inparen);
    b->i++;
    b->prev = '{';
}

static void close_brace(bscan_t *b)
{
    b->i++;
    b->prev = '}';
    if (b->depth <= 1)
        return; /* stray '}' */
    level_t X = *cur(b);
    b->depth--;
    if (X.template_expr) {
        scan_template(b);
        return;
    }
    if (X.node >= 0)
        b->t->v[X.node].end = b->line;
    level_t *P = cur(b);
    if (!X.inparen) {
        hdr_reset(P);
        if (X.node >= 0 && b->t->v[X.node].kind == SCAN_CLASS && !b->t->v[X.node].name)
            P->pending = X.node;
    }
}

/* "} name;" after an unnamed struct: typedef struct {...} name; */
static void name_pending(bscan_t *b, level_t *L)
{
    if (L->pending < 0)
        return;
    size_t k = 0;
    while (k < L->hlen && !is_ident((unsigned char)L->hdr[k]))
        k++;
    size_t e = k;
    while (e < L->hlen && is_ident((unsigned char)L->hdr[e]))
        e++;
    if (e > k) {
        scan_node_t *nd = &b->t->v[L->pending];
        char *nm = malloc(e - k + 1);
        if (nm) {
            memcpy(nm, L->hdr + k, e - k);
            nm[e - k] = '\0';
            nd->name = nm;
        } else {
            b->t->oom = 1;
        }
        nd->end = b->line;
    }
}

static bool continues(const level_t *L)
{
    if (L->hlen == 0)
        return false;
    size_t k = L->hlen;
    while (k > 0 && L->hdr[k - 1] == ' ')
        k--;
    return k > 0 && strchr(",([{=+-*/%&|^!<>?:.~", L->hdr[k - 1]) != NULL;
}

static bool regex_allowed(bscan_t *b)
{
    return b->prev == '\0' || strchr("(,=:[!&|?{};+-*%<>~^", b->prev) != NULL;
}

static void skip_regex(bscan_t *b)
{
    size_t i = b->i + 1;
    bool cls = false;
    while (i < b->n && b->s[i] != '\n') {
        char c = b->s[i];
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '[')
            cls = true;
        else if (c == ']')
            cls = false;
        else if (c == '/' && !cls) {
            b->i = i + 1;
            hdr_put(b, "\"\"", 2);
            b->prev = '"';
            return;
        }
        i++;
    }
    /* no closing '/' on this line: a division after all */
    hdr_put(b, "/", 1);
    b->prev = '/';
    b->i++;
}

static void scan_word(bscan_t *b)
{
    size_t a = b->i;
    while (b->i < b->n && is_ident((unsigned char)b->s[b->i]))
        b->i++;
    size_t len = b->i - a;
    const char *w = b->s + a;
    /* raw strings: C++ R"d(...)d", Rust r#"..."# */
    if (b->i < b->n && b->R->cpp && b->s[b->i] == '"' &&
        ((len == 1 && w[0] == 'R') || (len == 2 && w[1] == 'R' && strchr("LuU", w[0])) ||
         (len == 3 && !memcmp(w, "u8R", 3)))) {
        size_t d = b->i + 1, e = d;
        while (e < b->n && e - d < 16 && b->s[e] != '(' && b->s[e] != '\n')
            e++;
        if (e < b->n && b->s[e] == '(') {
            char end[20];
            end[0] = ')';
            memcpy(end + 1, b->s + d, e - d);
            end[e - d + 1] = '"';
            b->i = e + 1;
            skip_until(b, end, e - d + 2, false);
            hdr_put(b, "\"\"", 2);
            b->prev = '"';
            return;
        }
    }
    if (b->R->rust && b->i < b->n && ((len == 1 && w[0] == 'r') || (len == 2 && !memcmp(w, "br", 2))) &&
        (b->s[b->i] == '#' || b->s[b->i] == '"')) {
        size_t h = b->i;
        while (h < b->n && b->s[h] == '#')
            h++;
        if (h < b->n && b->s[h] == '"' && h - b->i < 16) {
            char end[20];
            end[0] = '"';
            memset(end + 1, '#', h - b->i);
            size_t el = h - b->i + 1;
            b->i = h + 1;
            skip_until(b, end, el, false);
            hdr_put(b, "\"\"", 2);
            b->prev = '"';
            return;
        }
    }
    hdr_put(b, w, len);
    static const char *const KW_BEFORE_EXPR[] = {"return", "typeof", "case", "do", "else", "in",
                                                 "of", "delete", "void", "throw", "new", "yield",
                                                 "await", "instanceof", NULL};
    b->prev = 'a';
    if (b->R->regex)
        for (const char *const *k = KW_BEFORE_EXPR; *k; k++)
            if (strlen(*k) == len && !memcmp(*k, w, len))
                b->prev = '(';
}

static void on_newline(bscan_t *b)
{
    level_t *L = cur(b);
    if (b->R->newline_ends && !L->in_def && L->paren == 0 && !continues(L))
        hdr_reset(L);
    else
        hdr_put(b, " ", 1);
    b->line++;
    b->i++;
    b->bol = true;
}

void scan_brace(const char *text, size_t len, const char *lang, int n_lines, scan_tree_t *t)
{
    bscan_t b = {.s = text, .n = len, .line = 1, .bol = true, .R = rules_for(lang), .t = t};
    if (!push_level(&b, -1, -1, false, false, false))
        return;
    const rules_t *R = b.R;
    while (b.i < b.n && !t->oom) {
        unsigned char c = (unsigned char)b.s[b.i];
        if (c == '\n') {
            on_newline(&b);
            continue;
        }
        if (is_space(c)) {
            hdr_put(&b, " ", 1);
            b.i++;
            continue;
        }
        bool bol = b.bol;
        b.bol = false;
        if (bol && R->cpp && c == '#') {
            directive(&b);
            continue;
        }
        if (b.skipping) {
            skip_line(&b);
            continue;
        }
        level_t *L = cur(&b);
        char next = b.i + 1 < b.n ? b.s[b.i + 1] : '\0';
        if (c == '/' && next == '/') {
            skip_line(&b);
            continue;
        }
        if (c == '/' && next == '*') {
            skip_block_comment(&b);
            hdr_put(&b, " ", 1);
            continue;
        }
        if (c == '#' && R->hash_comment && next != '[') {
            skip_line(&b);
            continue;
        }
        if (R->hash_comment && ((c == '<' && next == '?') || (c == '?' && next == '>'))) {
            hdr_reset(L); /* <?php and ?> end whatever came before */
            b.i += 2;
            while (b.i < b.n && is_ident((unsigned char)b.s[b.i]))
                b.i++;
            continue;
        }
        if (c == '"') {
            if (R->triple_quote && next == '"' && b.i + 2 < b.n && b.s[b.i + 2] == '"') {
                b.i += 3;
                skip_until(&b, "\"\"\"", 3, true);
            } else if (R->verbatim_at && b.i > 0 && b.s[b.i - 1] == '@') {
                b.i++;
                while (b.i < b.n) {
                    if (b.s[b.i] == '"' && b.i + 1 < b.n && b.s[b.i + 1] == '"') {
                        b.i += 2;
                        continue;
                    }
                    if (b.s[b.i] == '\n')
                        b.line++;
                    if (b.s[b.i++] == '"')
                        break;
                }
            } else {
                skip_quoted(&b, '"', R->rust, true);
            }
            hdr_put(&b, "\"\"", 2);
            b.prev = '"';
            continue;
        }
        if (c == '\'') {
            if (R->sq_string) {
                skip_quoted(&b, '\'', false, true);
                hdr_put(&b, "\"\"", 2);
                b.prev = '"';
                continue;
            }
            if (R->rust) {
                /* 'a' and '\n' are characters, 'a (no closing quote) a lifetime */
                size_t j = b.i + 1;
                bool chr = false;
                if (j < b.n && b.s[j] == '\\')
                    chr = true;
                else if (j < b.n) {
                    size_t k = j + 1;
                    while (k < b.n && ((unsigned char)b.s[k] & 0xC0) == 0x80)
                        k++;
                    chr = k < b.n && b.s[k] == '\'';
                }
                if (!chr) {
                    hdr_put(&b, "'", 1);
                    b.i++;
                    continue;
                }
            }
            if (b.i > 0 && is_ident((unsigned char)b.s[b.i - 1]) && R->cfam &&
                b.s[b.i - 1] >= '0' && b.s[b.i - 1] <= '9') { /* 1'000'000 */
                b.i++;
                continue;
            }
            skip_quoted(&b, '\'', false, true);
            hdr_put(&b, "\"\"", 2);
            b.prev = '"';
            continue;
        }
        if (c == '`') {
            if (R->template_lit) {
                b.i++;
                scan_template(&b);
            } else {
                skip_quoted(&b, '`', R->go, false);
            }
            hdr_put(&b, "\"\"", 2);
            b.prev = '"';
            continue;
        }
        if (c == '/' && R->regex && regex_allowed(&b)) {
            skip_regex(&b);
            continue;
        }
        if (is_ident(c)) {
            scan_word(&b);
            continue;
        }
        switch (c) {
        case '{':
            open_brace(&b, bol);
            continue;
        case '}':
            close_brace(&b);
            continue;
        case '(':
        case '[':
            L->paren++;
            break;
        case ')':
        case ']':
            if (L->paren > 0)
                L->paren--;
            break;
        case ';':
            if (!L->in_def) {
                if (!R->newline_ends && !R->go)
                    L->paren = 0; /* no ';' inside parentheses outside function bodies */
                if (L->paren == 0) {
                    name_pending(&b, L);
                    hdr_reset(L);
                    b.i++;
                    b.prev = ';';
                    continue;
                }
            }
            break;
        default:
            break;
        }
        hdr_put(&b, (const char *)&b.s[b.i], 1);
        b.prev = (char)c;
        b.i++;
    }
    for (size_t d = b.depth; d > 0; d--)
        if (b.lv[d - 1].node >= 0)
            t->v[b.lv[d - 1].node].end = n_lines;
    free(b.lv);
}
