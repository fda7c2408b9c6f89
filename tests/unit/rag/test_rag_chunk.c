/* test_rag_chunk.c - rag/'s text layer: identifier splitting, stopwords,
 * UTF-8 checks, normalization, language detection and the chunker for each
 * language it understands (definitions found, named and bounded right;
 * windows elsewhere; robust on garbage). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "test.h"
#include "words.h"

/* ---- words ---------------------------------------------------------------- */

typedef struct parts {
    char s[256];
} parts_t;

static void cat_part(const char *p, size_t len, void *ud)
{
    parts_t *ps = ud;
    if (ps->s[0])
        strcat(ps->s, " ");
    strncat(ps->s, p, len);
}

static const char *split(const char *id, size_t *count)
{
    static parts_t ps;
    ps.s[0] = '\0';
    size_t n = words_split_ident(id, strlen(id), cat_part, &ps);
    if (count)
        *count = n;
    return ps.s;
}

static void test_split_ident(void)
{
    size_t n;
    CHECK_EQ_STR(split("parseConfig", &n), "parse config");
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(split("parse_config", &n), "parse config");
    CHECK_EQ_STR(split("HTTPServer", NULL), "http server");
    CHECK_EQ_STR(split("getHTTPResponseCode", NULL), "get http response code");
    CHECK_EQ_STR(split("sha256sum", NULL), "sha 256 sum");
    CHECK_EQ_STR(split("XML_PARSER_v2", NULL), "xml parser");
    CHECK_EQ_STR(split("__init__", &n), "init");
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(split("x", &n), "");
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(split("aB", &n), ""); /* two one-letter parts: compound, nothing reported */
    CHECK_EQ_INT(n, 2);
}

static void test_stopwords(void)
{
    CHECK(words_is_stopword("the", 3));
    CHECK(words_is_stopword("return", 6));
    CHECK(words_is_stopword("a", 1));
    CHECK(words_is_stopword("yours", 5));
    CHECK(!words_is_stopword("parse", 5));
    CHECK(!words_is_stopword("config", 6));
    CHECK(!words_is_stopword("", 0));
    CHECK(!words_is_stopword("averyveryverylongword", 21));
}

/* ---- normalization and languages ---------------------------------------- */

static void test_normalize(void)
{
    const char raw[] = "\xEF\xBB\xBFint a;\r\nbad \xff\xfe byte\r\nnul \0 here\r\nlone\rcr\n";
    char *out;
    size_t len;
    CHECK_EQ_INT(chunk_normalize(raw, sizeof raw - 1, &out, &len), 0);
    CHECK_EQ_STR(out, "int a;\nbad \xEF\xBF\xBD\xEF\xBF\xBD byte\nnul \xEF\xBF\xBD here\nlone\rcr\n");
    CHECK_EQ_INT(len, strlen(out));
    free(out);
    CHECK_EQ_INT(chunk_normalize("", 0, &out, &len), 0);
    CHECK_EQ_INT(len, 0);
    free(out);
}

static void test_lang(void)
{
    CHECK_EQ_STR(chunk_lang("src/a.c", "", 0), "c");
    CHECK_EQ_STR(chunk_lang("include/a.h", "", 0), "c");
    CHECK_EQ_STR(chunk_lang("x/y.CPP", "", 0), "cpp");
    CHECK_EQ_STR(chunk_lang("a.py", "", 0), "python");
    CHECK_EQ_STR(chunk_lang("a.tsx", "", 0), "typescript");
    CHECK_EQ_STR(chunk_lang("a.mjs", "", 0), "javascript");
    CHECK_EQ_STR(chunk_lang("main.go", "", 0), "go");
    CHECK_EQ_STR(chunk_lang("lib.rs", "", 0), "rust");
    CHECK_EQ_STR(chunk_lang("A.java", "", 0), "java");
    CHECK_EQ_STR(chunk_lang("README.md", "", 0), "markdown");
    CHECK_EQ_STR(chunk_lang("Makefile", "", 0), "make");
    CHECK_EQ_STR(chunk_lang("notes.unknownext", "", 0), "text");
    CHECK_EQ_STR(chunk_lang(".bashrc", "", 0), "text");
    const char *py = "#!/usr/bin/env python3\nprint(1)\n";
    CHECK_EQ_STR(chunk_lang("bin/tool", py, strlen(py)), "python");
    const char *sh = "#!/bin/sh\necho\n";
    CHECK_EQ_STR(chunk_lang("configure", sh, strlen(sh)), "shell");
    CHECK_EQ_STR(chunk_lang("noext", "hello", 5), "text");
}

/* ---- chunking ------------------------------------------------------------ */

static chunk_list_t chunks_of(const char *text, const char *lang)
{
    chunk_list_t l = {0};
    CHECK_EQ_INT(chunk_text(text, strlen(text), lang, &l), 0);
    return l;
}

/* The chunk whose symbol is SYM, or NULL. */
static const chunk_t *by_symbol(const chunk_list_t *l, const char *sym)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].symbol && !strcmp(l->v[i].symbol, sym))
            return &l->v[i];
    return NULL;
}

#define CHECK_CHUNK(l, sym, a, b)                                                                  \
    do {                                                                                           \
        const chunk_t *c_ = by_symbol(&(l), sym);                                                  \
        CHECKF(c_ != NULL, "no chunk for %s", sym);                                                \
        if (c_) {                                                                                  \
            CHECKF(c_->start == (a) && c_->end == (b), "%s: lines %d-%d, expected %d-%d", sym,     \
                   c_->start, c_->end, a, b);                                                      \
        }                                                                                          \
    } while (0)

/* Chunks are ordered, within the file, and overlap only as windows do. */
static void check_sane(const chunk_list_t *l, int n_lines)
{
    for (size_t i = 0; i < l->n; i++) {
        CHECKF(l->v[i].start >= 1 && l->v[i].end <= n_lines && l->v[i].start <= l->v[i].end,
               "chunk %zu: %d-%d of %d lines", i, l->v[i].start, l->v[i].end, n_lines);
        if (i)
            CHECKF(l->v[i].start > l->v[i - 1].start, "chunk %zu starts at %d after %d", i, l->v[i].start,
                   l->v[i - 1].start);
    }
}

static int count_lines(const char *t)
{
    int n = 0;
    for (const char *p = t; *p; p++)
        n += *p == '\n';
    return n + (t[0] && t[strlen(t) - 1] != '\n');
}

static void test_chunk_c(void)
{
    const char *src = "#include <stdio.h>\n"                  /* 1 */
                      "\n"                                    /* 2 */
                      "/* Parse the configuration file. */\n" /* 3 */
                      "static int\n"                          /* 4 */
                      "parse_config(const char *path)\n"      /* 5 */
                      "{\n"                                   /* 6 */
                      "    const char *s = \"}{\";\n"         /* 7 */
                      "    char c = '{';\n"                   /* 8 */
                      "#if 0\n"                               /* 9 */
                      "    if (x) {\n"                        /* 10 */
                      "#else\n"                               /* 11 */
                      "    if (y) {\n"                        /* 12 */
                      "#endif\n"                              /* 13 */
                      "        return 1; // }\n"              /* 14 */
                      "    }\n"                               /* 15 */
                      "    return 0;\n"                       /* 16 */
                      "}\n"                                   /* 17 */
                      "\n"                                    /* 18 */
                      "typedef struct {\n"                    /* 19 */
                      "    int a;\n"                          /* 20 */
                      "} pair_t;\n"                           /* 21 */
                      "\n"                                    /* 22 */
                      "static const struct ops my_ops = {\n"  /* 23 */
                      "    .open = f,\n"                      /* 24 */
                      "};\n"                                  /* 25 */
                      "struct node *node_new(int v) { return 0; }\n"; /* 26 */
    chunk_list_t l = chunks_of(src, "c");
    CHECK_CHUNK(l, "parse_config", 3, 17);
    CHECK_CHUNK(l, "pair_t", 19, 21);
    CHECK_CHUNK(l, "my_ops", 23, 25);
    CHECK_CHUNK(l, "node_new", 26, 26);
    CHECK(l.n >= 1 && l.v[0].start == 1 && l.v[0].symbol == NULL); /* the #include gap */
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);
}

static void test_chunk_cpp(void)
{
    const char *src = "namespace geo {\n"                                    /* 1 */
                      "class Shape : public Base {\n"                        /* 2 */
                      "public:\n"                                            /* 3 */
                      "    Shape(int n) : n_(n), v_{1, 2} {}\n"              /* 4 */
                      "    double area() const { return 0; }\n"              /* 5 */
                      "private:\n"                                           /* 6 */
                      "    int n_;\n"                                        /* 7 */
                      "};\n"                                                 /* 8 */
                      "template <typename T>\n"                              /* 9 */
                      "T clamp(T v, T lo, T hi) {\n"                         /* 10 */
                      "    return R\"x(})x\"[0] ? v : lo;\n"                 /* 11 */
                      "}\n"                                                  /* 12 */
                      "double Shape::perimeter(int k) const\n"               /* 13 */
                      "{\n"                                                  /* 14 */
                      "    return 1'000'000;\n"                              /* 15 */
                      "}\n"                                                  /* 16 */
                      "bool operator==(const Shape &a, const Shape &b) {\n"  /* 17 */
                      "    return true;\n"                                   /* 18 */
                      "}\n"                                                  /* 19 */
                      "} // namespace geo\n"                                 /* 20 */
                      "extern \"C\" {\n"                                     /* 21 */
                      "int c_api(void) { return 1; }\n"                      /* 22 */
                      "}\n"                                                  /* 23 */
                      "enum class Color { Red, Green };\n";                  /* 24 */
    chunk_list_t l = chunks_of(src, "cpp");
    CHECK_CHUNK(l, "geo::Shape", 2, 8);
    CHECK_CHUNK(l, "geo::clamp", 9, 12);
    CHECK_CHUNK(l, "geo::Shape::perimeter", 13, 16);
    CHECK_CHUNK(l, "geo::operator==", 17, 19);
    CHECK_CHUNK(l, "c_api", 22, 22);
    CHECK_CHUNK(l, "Color", 24, 24);
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);
}

/* A class longer than one chunk is cut into its methods. */
static void test_chunk_java_split(void)
{
    char src[16384];
    size_t n = 0;
    n += (size_t)sprintf(src + n, "package a.b;\n"                                   /* 1 */
                                  "@SuppressWarnings(\"x\")\n"                       /* 2 */
                                  "public class Registry<K, V> extends Base {\n"     /* 3 */
                                  "    private final Map<K, V> map = new HashMap<>();\n" /* 4 */
                                  "    /** Looks a key up. */\n"                     /* 5 */
                                  "    @Override\n"                                  /* 6 */
                                  "    public V get(Object key) {\n"                 /* 7 */
                                  "        return map.get(key);\n"                   /* 8 */
                                  "    }\n");                                        /* 9 */
    for (int m = 0; m < 20; m++) /* lines 10..129: 20 methods of 6 lines */
        n += (size_t)sprintf(src + n,
                             "    public <T extends Comparable<T>> List<T> sorted%d(Collection<T> c)\n"
                             "            throws IOException {\n"
                             "        String s = \"\"\"\n            } text block {\n            \"\"\";\n"
                             "    }\n",
                             m);
    n += (size_t)sprintf(src + n, "}\n"); /* 130 */
    chunk_list_t l = chunks_of(src, "java");
    CHECK_CHUNK(l, "Registry.get", 5, 9);
    CHECK_CHUNK(l, "Registry.sorted0", 10, 15);
    CHECK_CHUNK(l, "Registry.sorted19", 124, 129);
    /* the class header and fields are a chunk of their own, named for the class */
    CHECK(l.n > 0 && l.v[0].start == 1);
    const chunk_t *head = by_symbol(&l, "Registry");
    CHECK(head != NULL && head->start <= 3 && head->end >= 4 && head->end < 5);
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);
}

static void test_chunk_js_ts(void)
{
    const char *js = "import x from 'y';\n"                              /* 1 */
                     "const re = /[}{]/g;\n"                             /* 2 */
                     "export function parseConfig(text) {\n"             /* 3 */
                     "  const t = `a ${text.replace(/}/g, '')} b`;\n"    /* 4 */
                     "  return t;\n"                                     /* 5 */
                     "}\n"                                               /* 6 */
                     "export const add = (a, b) => {\n"                  /* 7 */
                     "  return a + b / 2;\n"                             /* 8 */
                     "};\n"                                              /* 9 */
                     "class Widget extends Base {\n"                     /* 10 */
                     "  async render() { return this.el; }\n"            /* 11 */
                     "}\n"                                               /* 12 */
                     "module.exports = {\n"                              /* 13 */
                     "  foo: function () { return 1; },\n"               /* 14 */
                     "};\n"                                              /* 15 */
                     "(function () {\n"                                  /* 16 */
                     "  function hidden() { return 2; }\n"               /* 17 */
                     "})();\n";                                          /* 18 */
    chunk_list_t l = chunks_of(js, "javascript");
    CHECK_CHUNK(l, "parseConfig", 3, 6);
    CHECK_CHUNK(l, "add", 7, 9);
    CHECK_CHUNK(l, "Widget", 10, 12);
    CHECK_CHUNK(l, "module.exports", 13, 15);
    CHECK_CHUNK(l, "hidden", 17, 17); /* lifted out of the IIFE */
    check_sane(&l, count_lines(js));
    chunk_list_free(&l);

    const char *ts = "interface Opts { a: string; b?: number }\n"        /* 1 */
                     "type Fn = (x: number) => { y: string };\n"         /* 2 */
                     "export default class Store<T = unknown> {\n"       /* 3 */
                     "  add(item: T): void {\n"                          /* 4 */
                     "    this.items.push(item);\n"                      /* 5 */
                     "  }\n"                                             /* 6 */
                     "}\n"                                               /* 7 */
                     "enum Dir { Up, Down }\n"                           /* 8 */
                     "namespace NS {\n"                                  /* 9 */
                     "  export function inner(): number { return 1; }\n" /* 10 */
                     "}\n";                                              /* 11 */
    l = chunks_of(ts, "typescript");
    CHECK_CHUNK(l, "Opts", 1, 1);
    CHECK_CHUNK(l, "Fn", 2, 2);
    CHECK_CHUNK(l, "Store", 3, 7);
    CHECK_CHUNK(l, "Dir", 8, 8);
    CHECK_CHUNK(l, "NS.inner", 10, 10);
    check_sane(&l, count_lines(ts));
    chunk_list_free(&l);
}

static void test_chunk_go(void)
{
    const char *src = "package main\n"                                             /* 1 */
                      "\n"                                                         /* 2 */
                      "// Server serves.\n"                                        /* 3 */
                      "type Server struct {\n"                                     /* 4 */
                      "\taddr string\n"                                            /* 5 */
                      "}\n"                                                        /* 6 */
                      "\n"                                                         /* 7 */
                      "func (s *Server) ListenAndServe(addr string) (int, error) {\n" /* 8 */
                      "\tx := `raw { string`\n"                                    /* 9 */
                      "\treturn 1, nil\n"                                          /* 10 */
                      "}\n"                                                        /* 11 */
                      "\n"                                                         /* 12 */
                      "func main() {\n"                                            /* 13 */
                      "\tnew(Server).ListenAndServe(\":80\")\n"                    /* 14 */
                      "}\n";                                                       /* 15 */
    chunk_list_t l = chunks_of(src, "go");
    CHECK_CHUNK(l, "Server", 3, 6);
    CHECK_CHUNK(l, "Server.ListenAndServe", 8, 11);
    CHECK_CHUNK(l, "main", 13, 15);
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);
}

static void test_chunk_rust(void)
{
    const char *src = "use std::fmt;\n"                                                   /* 1 */
                      "#[derive(Debug)]\n"                                                /* 2 */
                      "pub struct Config<'a> {\n"                                         /* 3 */
                      "    name: &'a str,\n"                                              /* 4 */
                      "}\n"                                                               /* 5 */
                      "pub(crate) fn parse_config(s: &str) -> Option<Config> {\n"         /* 6 */
                      "    /* nested /* comment */ } */\n"                                /* 7 */
                      "    let c = '{';\n"                                                /* 8 */
                      "    let r = r#\"}\"#;\n"                                           /* 9 */
                      "    None\n"                                                        /* 10 */
                      "}\n"                                                               /* 11 */
                      "mod tests {\n"                                                     /* 12 */
                      "    #[test]\n"                                                     /* 13 */
                      "    fn it_works() { assert_eq!(2, 2); }\n"                         /* 14 */
                      "}\n";                                                              /* 15 */
    chunk_list_t l = chunks_of(src, "rust");
    CHECK_CHUNK(l, "Config", 2, 5);
    CHECK_CHUNK(l, "parse_config", 6, 11);
    CHECK_CHUNK(l, "tests::it_works", 13, 14);
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);

    /* a long impl is split into its methods, named Type::method */
    char big[8192];
    size_t n = (size_t)sprintf(big, "impl fmt::Display for Config<'_> {\n");
    for (int m = 0; m < 30; m++)
        n += (size_t)sprintf(big + n, "    fn m%d(&self) -> u32 {\n        %d\n    }\n", m, m);
    sprintf(big + n, "}\n");
    l = chunks_of(big, "rust");
    CHECK_CHUNK(l, "Config::m0", 2, 4);
    CHECK_CHUNK(l, "Config::m29", 89, 91);
    chunk_list_free(&l);
}

static void test_chunk_python(void)
{
    const char *src = "\"\"\"Module doc.\"\"\"\n"                 /* 1 */
                      "import os\n"                                /* 2 */
                      "\n"                                         /* 3 */
                      "# Helper comment.\n"                        /* 4 */
                      "@decorator(x=1)\n"                          /* 5 */
                      "def parse_config(path):\n"                  /* 6 */
                      "    s = '''\n"                              /* 7 */
                      "def not_a_function():\n"                    /* 8 */
                      "'''\n"                                      /* 9 */
                      "    return (path,\n"                        /* 10 */
                      "class NotAClass: pass)\n"                   /* 11 */
                      "\n"                                         /* 12 */
                      "class Server:\n"                            /* 13 */
                      "    \"\"\"Serves.\"\"\"\n"                  /* 14 */
                      "    def handle_request(self, req):\n"       /* 15 */
                      "        def inner():\n"                     /* 16 */
                      "            pass\n"                         /* 17 */
                      "        return inner\n"                     /* 18 */
                      "    # trailing comment at class depth\n"    /* 19 */
                      "\n"                                         /* 20 */
                      "async def main():\n"                        /* 21 */
                      "    await x\n";                             /* 22 */
    chunk_list_t l = chunks_of(src, "python");
    CHECK_CHUNK(l, "parse_config", 4, 11);
    CHECK_CHUNK(l, "Server", 13, 19);
    CHECK_CHUNK(l, "main", 21, 22);
    CHECK(by_symbol(&l, "not_a_function") == NULL);
    CHECK(by_symbol(&l, "NotAClass") == NULL);
    CHECK(by_symbol(&l, "inner") == NULL); /* nested functions stay inside */
    check_sane(&l, count_lines(src));
    chunk_list_free(&l);

    /* a long class: methods named Class.method, the rest named for the class */
    char big[16384];
    size_t n = (size_t)sprintf(big, "class Big(object):\n    attr = 1\n\n");
    for (int m = 0; m < 30; m++)
        n += (size_t)sprintf(big + n, "    def m%d(self):\n        return %d\n\n", m, m);
    l = chunks_of(big, "python");
    CHECK_CHUNK(l, "Big.m0", 4, 5);
    CHECK_CHUNK(l, "Big.m29", 91, 92);
    CHECK_CHUNK(l, "Big", 1, 2);
    chunk_list_free(&l);
}

static void test_chunk_markdown(void)
{
    const char *src = "# Title\n"         /* 1 */
                      "intro\n"           /* 2 */
                      "## Install\n"      /* 3 */
                      "make run\n"        /* 4 */
                      "```sh\n"           /* 5 */
                      "# not a heading\n" /* 6 */
                      "```\n"             /* 7 */
                      "## Usage ##\n"     /* 8 */
                      "octet search\n";   /* 9 */
    chunk_list_t l = chunks_of(src, "markdown");
    CHECK_CHUNK(l, "Title", 1, 9); /* short: one chunk */
    chunk_list_free(&l);
    char big[8192];
    size_t n = (size_t)sprintf(big, "# Doc\n");
    for (int s = 0; s < 3; s++) {
        n += (size_t)sprintf(big + n, "## Part %d\n", s);
        for (int k = 0; k < 40; k++)
            n += (size_t)sprintf(big + n, "line %d of part %d\n", k, s);
    }
    l = chunks_of(big, "markdown");
    CHECK_CHUNK(l, "Doc.Part 0", 2, 42);
    CHECK_CHUNK(l, "Doc.Part 2", 84, 124);
    chunk_list_free(&l);
}

/* Plain text and over-long definitions: overlapping windows. */
static void test_chunk_windows(void)
{
    char *text = malloc(200 * 16);
    size_t n = 0;
    for (int i = 1; i <= 200; i++)
        n += (size_t)sprintf(text + n, "line %d\n", i);
    chunk_list_t l = chunks_of(text, "text");
    CHECK(l.n >= 4);
    CHECK_EQ_INT(l.v[0].start, 1);
    CHECK_EQ_INT(l.v[0].end, CHUNK_WINDOW_LINES);
    CHECK_EQ_INT(l.v[1].start, CHUNK_WINDOW_LINES - CHUNK_WINDOW_OVERLAP + 1);
    CHECK_EQ_INT(l.v[l.n - 1].end, 200);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i].symbol == NULL && l.v[i].end - l.v[i].start < CHUNK_WINDOW_LINES);
    chunk_list_free(&l);

    n = (size_t)sprintf(text, "int long_function(void)\n{\n");
    for (int i = 0; i < 150; i++)
        n += (size_t)sprintf(text + n, "    x += %d;\n", i);
    sprintf(text + n, "}\n");
    l = chunks_of(text, "c");
    CHECK(l.n >= 3);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i].symbol && !strcmp(l.v[i].symbol, "long_function"));
    CHECK_EQ_INT(l.v[0].start, 1);
    CHECK_EQ_INT(l.v[l.n - 1].end, 153);
    chunk_list_free(&l);

    /* one enormous line still makes a chunk, and lines are never cut */
    char *wide = malloc(3 * CHUNK_MAX_BYTES);
    memset(wide, 'x', 3 * CHUNK_MAX_BYTES - 2);
    wide[3 * CHUNK_MAX_BYTES - 2] = '\n';
    wide[3 * CHUNK_MAX_BYTES - 1] = '\0';
    l = chunks_of(wide, "text");
    CHECK_EQ_INT(l.n, 1);
    chunk_list_free(&l);
    free(wide);
    free(text);

    l = chunks_of("", "c");
    CHECK_EQ_INT(l.n, 0);
    chunk_list_free(&l);
    l = chunks_of("\n\n   \n}\n", "c"); /* no letter or digit: nothing to index */
    CHECK_EQ_INT(l.n, 0);
    chunk_list_free(&l);
}

/* Unbalanced and unterminated constructs, random bytes: no crash, sane output. */
static void test_chunk_garbage(void)
{
    static const char *const langs[] = {"c", "cpp", "java", "javascript", "typescript", "go", "rust",
                                        "python", "markdown", "php", "csharp", "kotlin", "text"};
    const char *nasty[] = {
        "}}}}{{{{ int f( { \" unterminated\n'\n/* open comment\n",
        "#if 1\n#if 2\n#else\n{\n#endif\n#else\n}\n#endif\n#endif\n#endif\nint g(void) {}\n",
        "`${`${`${ unclosed template\nfunction f() {\n",
        "r#\"raw never closed\nfn f() {}\n",
        "\"\"\"triple never closed\ndef f():\n  pass\n",
        "class A:\n\tdef f(self):\n\t\tpass\n  def g(self): pass\n",
        "R\"delim( never closed\nvoid f() {}\n",
        "/regex never closed\nfunction f() { return 1 / 2; }\n",
    };
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++)
        for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++) {
            chunk_list_t l = chunks_of(nasty[i], langs[k]);
            check_sane(&l, count_lines(nasty[i]));
            chunk_list_free(&l);
        }
    uint32_t seed = 12345;
    char buf[4096];
    for (int round = 0; round < 200; round++) {
        size_t n = 0;
        int len = 1 + (int)(seed % 4000);
        for (int j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            static const char alphabet[] = "{}()[];\"'`/\\*#\n\n\n  abcdefR=<>:,.$@_01";
            buf[n++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        buf[n] = '\0';
        for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++) {
            chunk_list_t l = chunks_of(buf, langs[k]);
            check_sane(&l, count_lines(buf));
            chunk_list_free(&l);
        }
    }
}

int main(void)
{
    TEST_RUN(test_split_ident);
    TEST_RUN(test_stopwords);
    TEST_RUN(test_normalize);
    TEST_RUN(test_lang);
    TEST_RUN(test_chunk_c);
    TEST_RUN(test_chunk_cpp);
    TEST_RUN(test_chunk_java_split);
    TEST_RUN(test_chunk_js_ts);
    TEST_RUN(test_chunk_go);
    TEST_RUN(test_chunk_rust);
    TEST_RUN(test_chunk_python);
    TEST_RUN(test_chunk_markdown);
    TEST_RUN(test_chunk_windows);
    TEST_RUN(test_chunk_garbage);
    TEST_END();
}
