/* chunk.c - turns a file into retrieval chunks (see chunk.h): normalization,
 * language detection, and the emission of chunks from the definition tree
 * the scanners build (scan_brace.c, scan_python.c). */
#include "chunk.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "scan.h"
#include "words.h"

/* ---- the definition tree ---------------------------------------------- */

int scan_add(scan_tree_t *t, scan_kind_t kind, int start, int parent, const char *name,
             size_t name_len)
{
    if (t->oom)
        return -1;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        scan_node_t *nv = realloc(t->v, ncap * sizeof *nv);
        if (!nv) {
            t->oom = 1;
            return -1;
        }
        t->v = nv;
        t->cap = ncap;
    }
    scan_node_t *nd = &t->v[t->n];
    nd->kind = kind;
    nd->start = start;
    nd->end = start;
    nd->parent = parent;
    nd->name = NULL;
    if (name && name_len > 0) {
        nd->name = malloc(name_len + 1);
        if (!nd->name) {
            t->oom = 1;
            return -1;
        }
        memcpy(nd->name, name, name_len);
        nd->name[name_len] = '\0';
    }
    return (int)t->n++;
}

void scan_tree_free(scan_tree_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

void chunk_list_free(chunk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].symbol);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* ---- languages -------------------------------------------------------- */

typedef struct ext_lang {
    const char *ext, *lang;
} ext_lang_t;

static const ext_lang_t EXTS[] = {
    {"c", "c"},           {"h", "c"},           {"cc", "cpp"},        {"cpp", "cpp"},
    {"cxx", "cpp"},       {"c++", "cpp"},       {"hpp", "cpp"},       {"hh", "cpp"},
    {"hxx", "cpp"},       {"h++", "cpp"},       {"ipp", "cpp"},       {"inl", "cpp"},
    {"tpp", "cpp"},       {"cu", "cpp"},        {"cuh", "cpp"},       {"ino", "cpp"},
    {"java", "java"},     {"cs", "csharp"},     {"js", "javascript"}, {"mjs", "javascript"},
    {"cjs", "javascript"},{"jsx", "javascript"},{"ts", "typescript"}, {"tsx", "typescript"},
    {"mts", "typescript"},{"cts", "typescript"},{"go", "go"},         {"rs", "rust"},
    {"kt", "kotlin"},     {"kts", "kotlin"},    {"swift", "swift"},   {"scala", "scala"},
    {"sc", "scala"},      {"php", "php"},       {"py", "python"},     {"pyi", "python"},
    {"pyw", "python"},    {"md", "markdown"},   {"markdown", "markdown"},
    {"mdx", "markdown"},  {"sh", "shell"},      {"bash", "shell"},    {"zsh", "shell"},
    {"rb", "ruby"},       {"pl", "perl"},       {"pm", "perl"},       {"lua", "lua"},
    {"sql", "sql"},       {"html", "html"},     {"htm", "html"},      {"css", "css"},
    {"scss", "css"},      {"json", "json"},     {"yaml", "yaml"},     {"yml", "yaml"},
    {"toml", "toml"},     {"xml", "xml"},       {"ini", "ini"},       {"cfg", "ini"},
    {"txt", "text"},      {"rst", "rst"},       {"cmake", "cmake"},   {"mk", "make"},
    {"proto", "proto"},   {"hs", "haskell"},    {"ml", "ocaml"},      {"ex", "elixir"},
    {"exs", "elixir"},    {"erl", "erlang"},    {"clj", "clojure"},   {"el", "elisp"},
    {"vim", "vim"},       {"tex", "tex"},       {"r", "r"},           {"m", "objc"},
    {"mm", "objc"},       {"gradle", "groovy"}, {"groovy", "groovy"}, {"dart", "dart"},
    {"zig", "zig"},       {"nim", "nim"},       {"jl", "julia"},      {"f90", "fortran"},
    {"asm", "asm"},       {"s", "asm"},
};

static const ext_lang_t NAMES[] = {
    {"Makefile", "make"}, {"GNUmakefile", "make"}, {"makefile", "make"},
    {"Dockerfile", "dockerfile"}, {"CMakeLists.txt", "cmake"}, {"Rakefile", "ruby"},
};

static const ext_lang_t SHEBANG[] = {
    {"python", "python"}, {"node", "javascript"}, {"bash", "shell"}, {"sh", "shell"},
    {"perl", "perl"},     {"ruby", "ruby"},       {"zsh", "shell"},
};

const char *chunk_lang(const char *path, const char *text, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (!strcmp(base, NAMES[i].ext))
            return NAMES[i].lang;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof EXTS / sizeof EXTS[0]; i++)
            if (!strcasecmp(dot + 1, EXTS[i].ext))
                return EXTS[i].lang;
        return "text";
    }
    if (len > 2 && text[0] == '#' && text[1] == '!') {
        const char *nl = memchr(text, '\n', len);
        size_t l = nl ? (size_t)(nl - text) : len;
        for (size_t i = 0; i < sizeof SHEBANG / sizeof SHEBANG[0]; i++) {
            size_t k = strlen(SHEBANG[i].ext);
            for (size_t p = 2; p + k <= l; p++)
                if (!memcmp(text + p, SHEBANG[i].ext, k) && (text[p - 1] == '/' || text[p - 1] == ' '))
                    return SHEBANG[i].lang;
        }
    }
    return "text";
}

static bool is_brace_lang(const char *lang)
{
    static const char *const L[] = {"c", "cpp", "java", "csharp", "javascript", "typescript", "go",
                                    "rust", "kotlin", "swift", "scala", "php"};
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        if (!strcmp(lang, L[i]))
            return true;
    return false;
}

/* How qualified names are joined in LANG. */
static const char *name_sep(const char *lang)
{
    return (!strcmp(lang, "c") || !strcmp(lang, "cpp") || !strcmp(lang, "rust") || !strcmp(lang, "php"))
               ? "::"
               : ".";
}

/* ---- normalization ---------------------------------------------------- */

int chunk_normalize(const char *raw, size_t n, char **out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)raw;
    *out = NULL;
    *out_len = 0;
    if (n > (SIZE_MAX - 1) / 3)
        return OCT_ENOMEM;
    char *o = malloc(n * 3 + 1); /* each bad byte may become U+FFFD */
    if (!o)
        return OCT_ENOMEM;
    size_t i = 0, j = 0;
    if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        i = 3;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80) {
            o[j++] = (char)c;
            i++;
            continue;
        }
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            i++;
            continue;
        }
        size_t l = c ? utf8_seq_len((const char *)s + i, n - i, NULL) : 0;
        if (l == 0) {
            memcpy(o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i++;
        } else {
            memcpy(o + j, s + i, l);
            j += l;
            i += l;
        }
    }
    o[j] = '\0';
    char *shrunk = realloc(o, j + 1);
    *out = shrunk ? shrunk : o;
    *out_len = j;
    return 0;
}

/* ---- emission ----------------------------------------------------------- */

enum { LINE_BLANK = 1, LINE_NOWORD = 2, LINE_ATTACHED = 4 };

typedef struct emit {
    const char *text;
    const size_t *off; /* off[k]: first byte of line k; off[n_lines + 1] = len + 1 */
    int n_lines;
    const unsigned char *info; /* LINE_* per line */
    const scan_tree_t *t;
    const int *kid_start, *kids; /* children of node p: kids[kid_start[p + 1] .. kid_start[p + 2]) */
    const char *sep;
    chunk_list_t *out;
    int oom;
} emit_t;

static size_t span_bytes(const emit_t *e, int a, int b) { return e->off[b + 1] - e->off[a]; }

static void add_chunk(emit_t *e, int a, int b, const char *sym)
{
    if (e->oom)
        return;
    chunk_list_t *l = e->out;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        chunk_t *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) {
            e->oom = 1;
            return;
        }
        l->v = nv;
        l->cap = ncap;
    }
    char *s = NULL;
    if (sym) {
        s = strdup(sym);
        if (!s) {
            e->oom = 1;
            return;
        }
    }
    l->v[l->n].start = a;
    l->v[l->n].end = b;
    l->v[l->n].symbol = s;
    l->n++;
}

/* Overlapping windows of CHUNK_WINDOW_LINES lines over [a, b]. */
static void windows(emit_t *e, int a, int b, const char *sym)
{
    int s = a;
    for (;;) {
        int end = s + CHUNK_WINDOW_LINES - 1;
        if (end > b)
            end = b;
        while (end > s && span_bytes(e, s, end) > CHUNK_MAX_BYTES)
            end = s + (end - s) / 2;
        add_chunk(e, s, end, sym);
        if (end >= b)
            return;
        int next = end + 1 - CHUNK_WINDOW_OVERLAP;
        if (next <= s || end - s + 1 < 2 * CHUNK_WINDOW_OVERLAP)
            next = end + 1;
        s = next;
    }
}

/* Lines [a, b] as one chunk, or as windows when too long. Blank lines at
 * either end are left out; a span with no letter or digit is dropped. */
static void span(emit_t *e, int a, int b, const char *sym, int max_lines)
{
    while (a <= b && (e->info[a] & LINE_BLANK))
        a++;
    while (b >= a && (e->info[b] & LINE_BLANK))
        b--;
    if (a > b)
        return;
    bool words = false;
    for (int k = a; k <= b && !words; k++)
        words = !(e->info[k] & LINE_NOWORD);
    if (!words)
        return;
    if (b - a + 1 <= max_lines && span_bytes(e, a, b) <= CHUNK_MAX_BYTES)
        add_chunk(e, a, b, sym);
    else
        windows(e, a, b, sym);
}

static char *join_name(const char *prefix, const char *name, const char *sep)
{
    if (!name)
        return prefix ? strdup(prefix) : NULL;
    if (!prefix)
        return strdup(name);
    size_t a = strlen(prefix), s = strlen(sep), n = strlen(name);
    char *r = malloc(a + s + n + 1);
    if (r) {
        memcpy(r, prefix, a);
        memcpy(r + a, sep, s);
        memcpy(r + a + s, name, n + 1);
    }
    return r;
}

static void emit_children(emit_t *e, int parent, int a, int b, const char *prefix, const char *gap_sym);

static void emit_node(emit_t *e, int idx, int a, int b, const char *prefix)
{
    const scan_node_t *nd = &e->t->v[idx];
    char *full = join_name(prefix, nd->name, e->sep);
    if (nd->name && !full) {
        e->oom = 1;
        return;
    }
    switch (nd->kind) {
    case SCAN_FUNC:
    case SCAN_VALUE:
        span(e, a, b, full, CHUNK_MAX_LINES);
        break;
    case SCAN_CLASS:
    case SCAN_SECTION:
        if (b - a + 1 <= CHUNK_MAX_LINES && span_bytes(e, a, b) <= CHUNK_MAX_BYTES)
            span(e, a, b, full, CHUNK_MAX_LINES);
        else
            emit_children(e, idx, a, b, full, full);
        break;
    case SCAN_NAMESPACE:
    case SCAN_OTHER:
        emit_children(e, idx, a, b, full, full);
        break;
    }
    free(full);
}

/* Collect the definitions directly inside PARENT, looking through OTHER
 * blocks (an if, an IIFE, a call's callback) whose lines are gap. */
static size_t collect(const emit_t *e, int parent, int *list, size_t n)
{
    for (int k = e->kid_start[parent + 1]; k < e->kid_start[parent + 2]; k++) {
        int c = e->kids[k];
        if (e->t->v[c].kind == SCAN_OTHER)
            n = collect(e, c, list, n);
        else
            list[n++] = c;
    }
    return n;
}

static void emit_children(emit_t *e, int parent, int a, int b, const char *prefix, const char *gap_sym)
{
    size_t cap = e->t->n;
    int *list = malloc((cap ? cap : 1) * sizeof *list);
    if (!list) {
        e->oom = 1;
        return;
    }
    size_t n = collect(e, parent, list, 0);
    int cursor = a;
    for (size_t i = 0; i < n && !e->oom; i++) {
        const scan_node_t *nd = &e->t->v[list[i]];
        int s = nd->start < cursor ? cursor : nd->start;
        int t = nd->end > b ? b : nd->end;
        if (t < s)
            continue;
        /* comments, annotations and decorators directly above belong to it */
        while (s - 1 >= cursor && (e->info[s - 1] & LINE_ATTACHED))
            s--;
        if (s > cursor)
            span(e, cursor, s - 1, gap_sym, CHUNK_WINDOW_LINES);
        emit_node(e, list[i], s, t, prefix);
        cursor = t + 1;
    }
    if (cursor <= b)
        span(e, cursor, b, gap_sym, CHUNK_WINDOW_LINES);
    free(list);
}

/* Per-line flags: blank, without letters or digits, attached comment. */
static void line_info(const char *text, const size_t *off, int n_lines, const char *lang,
                      unsigned char *info)
{
    bool py = !strcmp(lang, "python");
    bool brace = is_brace_lang(lang);
    for (int k = 1; k <= n_lines; k++) {
        const char *p = text + off[k], *end = text + off[k + 1] - 1;
        unsigned char f = LINE_BLANK | LINE_NOWORD;
        const char *first = NULL;
        for (const char *q = p; q < end; q++) {
            unsigned char c = (unsigned char)*q;
            if (c != ' ' && c != '\t' && c != '\f' && c != '\v') {
                f &= (unsigned char)~LINE_BLANK;
                if (!first)
                    first = q;
            }
            if (words_is_wordbyte(c) && c != '_') {
                f &= (unsigned char)~LINE_NOWORD;
                break;
            }
        }
        if (first) {
            size_t rest = (size_t)(end - first);
            if (py && (first[0] == '#' || first[0] == '@'))
                f |= LINE_ATTACHED;
            if (brace && (first[0] == '@' || first[0] == '*' ||
                          (rest >= 2 && first[0] == '/' && (first[1] == '/' || first[1] == '*')) ||
                          (rest >= 2 && first[0] == '#' && first[1] == '[')))
                f |= LINE_ATTACHED;
        }
        info[k] = f;
    }
}

int chunk_text(const char *text, size_t len, const char *lang, chunk_list_t *out)
{
    int rc = 0;
    size_t *off = NULL;
    unsigned char *info = NULL;
    int *kid_start = NULL, *kids = NULL;
    scan_tree_t tree = {0};

    int n_lines = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            n_lines++;
    if (len > 0 && text[len - 1] != '\n')
        n_lines++;
    if (n_lines == 0)
        return 0;
    off = malloc(((size_t)n_lines + 2) * sizeof *off);
    info = malloc((size_t)n_lines + 2);
    if (!off || !info) {
        rc = OCT_ENOMEM;
        goto fail;
    }
    off[0] = 0;
    off[1] = 0;
    int k = 2;
    for (size_t i = 0; i < len && k <= n_lines; i++)
        if (text[i] == '\n')
            off[k++] = i + 1;
    /* line k's text is [off[k], off[k + 1] - 1): the last line may lack its '\n' */
    off[n_lines + 1] = text[len - 1] == '\n' ? len : len + 1;
    line_info(text, off, n_lines, lang, info);

    if (is_brace_lang(lang))
        scan_brace(text, len, lang, n_lines, &tree);
    else if (!strcmp(lang, "python"))
        scan_python(text, len, n_lines, &tree);
    else if (!strcmp(lang, "markdown"))
        scan_markdown(text, len, n_lines, &tree);
    if (tree.oom) {
        rc = OCT_ENOMEM;
        goto fail;
    }
    /* children lists: kids[kid_start[p + 1] .. kid_start[p + 2]) for p >= -1 */
    kid_start = calloc(tree.n + 3, sizeof *kid_start);
    kids = malloc((tree.n ? tree.n : 1) * sizeof *kids);
    if (!kid_start || !kids) {
        rc = OCT_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < tree.n; i++) {
        scan_node_t *nd = &tree.v[i];
        if (nd->start < 1)
            nd->start = 1;
        if (nd->end > n_lines)
            nd->end = n_lines;
        if (nd->end < nd->start)
            nd->end = nd->start;
        kid_start[nd->parent + 2]++;
    }
    for (size_t p = 1; p < tree.n + 3; p++)
        kid_start[p] += kid_start[p - 1];
    {
        int *fill = malloc((tree.n + 2) * sizeof *fill);
        if (!fill) {
            rc = OCT_ENOMEM;
            goto fail;
        }
        memcpy(fill, kid_start, (tree.n + 2) * sizeof *fill);
        for (size_t i = 0; i < tree.n; i++)
            kids[fill[tree.v[i].parent + 1]++] = (int)i;
        free(fill);
    }
    emit_t e = {.text = text, .off = off, .n_lines = n_lines, .info = info, .t = &tree,
                .kid_start = kid_start, .kids = kids, .sep = name_sep(lang), .out = out};
    if (tree.n == 0)
        span(&e, 1, n_lines, NULL, CHUNK_WINDOW_LINES);
    else
        emit_children(&e, -1, 1, n_lines, NULL, NULL);
    if (e.oom)
        rc = OCT_ENOMEM;
fail:
    scan_tree_free(&tree);
    free(off);
    free(info);
    free(kid_start);
    free(kids);
    return rc;
}
