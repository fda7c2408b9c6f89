/* highlight.c - a small per-line lexer for syntax coloring (see highlight.h). */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "highlight.h"
#include "text.h"
#include "utf8.h"

enum { M_NONE, M_BLOCK_COMMENT, M_STRING };

static const char *const KW_C[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
    "true", "false", "NULL", "nullptr", "class", "namespace", "template", "typename", "public", "private",
    "protected", "virtual", "override", "new", "delete", "this", "using", "constexpr", "noexcept", "try",
    "catch", "throw", "size_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t", "int16_t", "int32_t",
    "int64_t", "_Bool", "_Atomic", "_Static_assert", "static_assert", "operator", "friend", "mutable",
    "explicit", NULL};
static const char *const KW_PY[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match", "case",
    "self", "print", "len", "range", NULL};
static const char *const KW_JS[] = {
    "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
    "export", "extends", "finally", "for", "function", "if", "import", "in", "instanceof", "let", "new",
    "return", "super", "switch", "this", "throw", "try", "typeof", "var", "void", "while", "with", "yield",
    "async", "await", "of", "null", "undefined", "true", "false", "interface", "type", "enum", "implements",
    "private", "public", "protected", "readonly", "static", "as", "from", "number", "string", "boolean", "any",
    "unknown", "never", NULL};
static const char *const KW_GO[] = {
    "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func",
    "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct",
    "switch", "type", "var", "nil", "true", "false", "int", "int64", "int32", "uint", "uint64", "uint32",
    "byte", "rune", "string", "bool", "error", "float64", "float32", "make", "len", "append", "new", NULL};
static const char *const KW_RUST[] = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64",
    "bool", "char", "str", "String", "Vec", "Option", "Some", "None", "Result", "Ok", "Err", "Box", NULL};
static const char *const KW_JAVA[] = {
    "abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const", "continue",
    "default", "do", "double", "else", "enum", "extends", "final", "finally", "float", "for", "if",
    "implements", "import", "instanceof", "int", "interface", "long", "native", "new", "package", "private",
    "protected", "public", "return", "short", "static", "super", "switch", "synchronized", "this", "throw",
    "throws", "transient", "try", "void", "volatile", "while", "var", "record", "true", "false", "null",
    "String", NULL};
static const char *const KW_SH[] = {
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in",
    "function", "return", "local", "export", "readonly", "set", "unset", "shift", "exit", "echo", "printf",
    "cd", "source", "eval", "exec", "trap", "declare", "test", "true", "false", NULL};

static const struct {
    const char *name;
    tui_lang_t lang;
} NAMES[] = {
    {"c", TUI_LANG_C},          {"h", TUI_LANG_C},         {"cpp", TUI_LANG_C},        {"c++", TUI_LANG_C},
    {"cc", TUI_LANG_C},         {"cxx", TUI_LANG_C},       {"hpp", TUI_LANG_C},        {"cuda", TUI_LANG_C},
    {"cu", TUI_LANG_C},         {"python", TUI_LANG_PYTHON}, {"py", TUI_LANG_PYTHON},  {"python3", TUI_LANG_PYTHON},
    {"js", TUI_LANG_JS},        {"javascript", TUI_LANG_JS}, {"jsx", TUI_LANG_JS},     {"ts", TUI_LANG_JS},
    {"typescript", TUI_LANG_JS}, {"tsx", TUI_LANG_JS},     {"mjs", TUI_LANG_JS},       {"node", TUI_LANG_JS},
    {"go", TUI_LANG_GO},        {"golang", TUI_LANG_GO},   {"rust", TUI_LANG_RUST},    {"rs", TUI_LANG_RUST},
    {"java", TUI_LANG_JAVA},    {"sh", TUI_LANG_SHELL},    {"bash", TUI_LANG_SHELL},   {"shell", TUI_LANG_SHELL},
    {"zsh", TUI_LANG_SHELL},    {"console", TUI_LANG_SHELL}, {"shellscript", TUI_LANG_SHELL},
    {"diff", TUI_LANG_DIFF},    {"patch", TUI_LANG_DIFF},  {"udiff", TUI_LANG_DIFF},
};

tui_lang_t tui_hl_lang(const char *name)
{
    if (!name)
        return TUI_LANG_NONE;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (!strcasecmp(name, NAMES[i].name))
            return NAMES[i].lang;
    return TUI_LANG_NONE;
}

static const char *const *keywords(tui_lang_t l)
{
    switch (l) {
    case TUI_LANG_C:
        return KW_C;
    case TUI_LANG_PYTHON:
        return KW_PY;
    case TUI_LANG_JS:
        return KW_JS;
    case TUI_LANG_GO:
        return KW_GO;
    case TUI_LANG_RUST:
        return KW_RUST;
    case TUI_LANG_JAVA:
        return KW_JAVA;
    case TUI_LANG_SHELL:
        return KW_SH;
    default:
        return NULL;
    }
}

static bool is_ident(char c, tui_lang_t l)
{
    return isalnum((unsigned char)c) || c == '_' || (c == '$' && l == TUI_LANG_JS) || (unsigned char)c >= 0x80;
}

static bool is_keyword(tui_lang_t l, const char *s, size_t n)
{
    const char *const *kw = keywords(l);
    for (; kw && *kw; kw++)
        if (strlen(*kw) == n && !memcmp(*kw, s, n))
            return true;
    return false;
}

static bool c_comments(tui_lang_t l)
{
    return l == TUI_LANG_C || l == TUI_LANG_JS || l == TUI_LANG_GO || l == TUI_LANG_RUST || l == TUI_LANG_JAVA;
}

static void fill(uint8_t *cls, size_t a, size_t b, uint8_t c)
{
    for (size_t i = a; i < b; i++)
        cls[i] = c;
}

/* Continue a string that started before I: returns the index after its end
 * (and clears the state), or LEN when it goes on past the line. */
static size_t string_rest(tui_lang_t lang, const char *s, size_t i, size_t len, tui_hl_state_t *st)
{
    bool escapes = !(lang == TUI_LANG_SHELL && st->delim == '\'') && !(lang == TUI_LANG_GO && st->delim == '`');
    while (i < len) {
        if (escapes && s[i] == '\\') {
            i += 2;
            continue;
        }
        if (s[i] == st->delim) {
            if (st->triple) {
                if (i + 2 < len && s[i + 1] == st->delim && s[i + 2] == st->delim) {
                    st->mode = M_NONE;
                    return i + 3;
                }
            } else {
                st->mode = M_NONE;
                return i + 1;
            }
        }
        i++;
    }
    return len;
}

/* Strings that may run over the end of the line in LANG with quote Q. */
static bool multiline(tui_lang_t lang, char q, int triple)
{
    return triple || (q == '`' && (lang == TUI_LANG_JS || lang == TUI_LANG_GO)) || lang == TUI_LANG_SHELL;
}

void tui_hl_line(tui_lang_t lang, const char *s, size_t len, tui_hl_state_t *st, uint8_t *cls)
{
    fill(cls, 0, len, TUI_C_CODE);
    if (lang == TUI_LANG_NONE)
        return;
    if (lang == TUI_LANG_DIFF) {
        /* the colors of `git diff` and patch_colorize: headers, hunks, - and + */
        static const char *const heads[] = {"--- ", "+++ ", "diff ", "index ", "new file", "deleted file",
                                            "rename ", "similarity ", "old mode", "new mode"};
        bool file = false;
        for (size_t k = 0; k < sizeof heads / sizeof heads[0] && !file; k++)
            file = len >= strlen(heads[k]) && !strncmp(s, heads[k], strlen(heads[k]));
        uint8_t c = file ? TUI_C_DIFF_FILE
                    : len >= 2 && s[0] == '@' && s[1] == '@' ? TUI_C_DIFF_HUNK
                    : len && s[0] == '+' ? TUI_C_DIFF_ADD
                    : len && s[0] == '-' ? TUI_C_DIFF_DEL
                                         : TUI_C_CODE;
        fill(cls, 0, len, c);
        return;
    }
    size_t i = 0;
    if (st->mode == M_BLOCK_COMMENT) {
        const char *end = NULL;
        for (size_t k = 0; k + 1 < len; k++)
            if (s[k] == '*' && s[k + 1] == '/') {
                end = s + k;
                break;
            }
        size_t stop = end ? (size_t)(end - s) + 2 : len;
        fill(cls, 0, stop, TUI_C_COMMENT);
        if (!end)
            return;
        st->mode = M_NONE;
        i = stop;
    } else if (st->mode == M_STRING) {
        size_t stop = string_rest(lang, s, 0, len, st);
        fill(cls, 0, stop, TUI_C_STRING);
        i = stop;
    }
    /* a C preprocessor line: the directive is a keyword */
    if (lang == TUI_LANG_C && i == 0) {
        size_t k = 0;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k < len && s[k] == '#') {
            size_t e = k + 1;
            while (e < len && (s[e] == ' ' || isalpha((unsigned char)s[e])))
                e++;
            fill(cls, k, e, TUI_C_KEYWORD);
            i = e;
            if (!strncmp(s + k, "#include", 8) || !strncmp(s + k, "# include", 9)) {
                size_t a = e;
                while (a < len && s[a] == ' ')
                    a++;
                if (a < len && s[a] == '<') {
                    size_t b = a;
                    while (b < len && s[b] != '>')
                        b++;
                    fill(cls, a, b < len ? b + 1 : len, TUI_C_STRING);
                    i = b < len ? b + 1 : len;
                }
            }
        }
    }
    while (i < len) {
        char c = s[i];
        /* comments */
        if (c_comments(lang) && c == '/' && i + 1 < len && s[i + 1] == '/') {
            fill(cls, i, len, TUI_C_COMMENT);
            return;
        }
        if (c_comments(lang) && c == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t k = i + 2;
            while (k + 1 < len && !(s[k] == '*' && s[k + 1] == '/'))
                k++;
            if (k + 1 < len) {
                fill(cls, i, k + 2, TUI_C_COMMENT);
                i = k + 2;
                continue;
            }
            fill(cls, i, len, TUI_C_COMMENT);
            st->mode = M_BLOCK_COMMENT;
            return;
        }
        if ((lang == TUI_LANG_PYTHON || lang == TUI_LANG_SHELL) && c == '#' &&
            (lang == TUI_LANG_PYTHON || i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            fill(cls, i, len, TUI_C_COMMENT);
            return;
        }
        /* strings */
        bool quote = c == '"' || (c == '\'' && lang != TUI_LANG_RUST) ||
                     (c == '`' && (lang == TUI_LANG_JS || lang == TUI_LANG_GO));
        if (lang == TUI_LANG_RUST && c == '\'') {
            /* a char literal 'x' or '\n'; otherwise a lifetime such as 'a */
            size_t k = i + 1;
            if (k < len && s[k] == '\\')
                k += 2;
            else if (k < len) {
                uint32_t cp;
                k += utf8_decode(s + k, len - k, &cp);
            }
            if (k < len && s[k] == '\'') {
                fill(cls, i, k + 1, TUI_C_STRING);
                i = k + 1;
                continue;
            }
        }
        if (quote) {
            st->delim = c;
            st->triple = lang == TUI_LANG_PYTHON && i + 2 < len && s[i + 1] == c && s[i + 2] == c;
            st->mode = M_STRING;
            size_t stop = string_rest(lang, s, i + (st->triple ? 3 : 1), len, st);
            fill(cls, i, stop, TUI_C_STRING);
            if (st->mode == M_STRING && !multiline(lang, c, st->triple))
                st->mode = M_NONE; /* an unterminated string ends with its line */
            i = stop;
            continue;
        }
        /* numbers: not inside an identifier */
        if (isdigit((unsigned char)c) && (i == 0 || !is_ident(s[i - 1], lang))) {
            size_t k = i + 1;
            while (k < len && (isalnum((unsigned char)s[k]) || s[k] == '_' || s[k] == '.' ||
                               ((s[k] == '+' || s[k] == '-') && (s[k - 1] == 'e' || s[k - 1] == 'E') &&
                                !(s[i] == '0' && i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X')))))
                k++;
            fill(cls, i, k, TUI_C_NUMBER);
            i = k;
            continue;
        }
        if (is_ident(c, lang)) {
            size_t k = i + 1;
            while (k < len && is_ident(s[k], lang))
                k++;
            if (is_keyword(lang, s + i, k - i))
                fill(cls, i, k, TUI_C_KEYWORD);
            i = k;
            continue;
        }
        if (lang == TUI_LANG_SHELL && c == '$') {
            size_t k = i + 1;
            if (k < len && s[k] == '{') {
                while (k < len && s[k] != '}')
                    k++;
                k = k < len ? k + 1 : len;
            } else {
                while (k < len && (isalnum((unsigned char)s[k]) || s[k] == '_'))
                    k++;
                if (k == i + 1 && k < len && strchr("@*#?$!0123456789", s[k]))
                    k++;
            }
            fill(cls, i, k, TUI_C_NUMBER);
            i = k;
            continue;
        }
        i++;
    }
}
