/* scan.h - the definition tree the language scanners build (private to
 * rag/): chunk.c turns it into chunks. */
#ifndef OCTET_RAG_SCAN_H
#define OCTET_RAG_SCAN_H

#include <stddef.h>

typedef enum scan_kind {
    SCAN_FUNC,      /* function or method: one chunk, nested code stays inside */
    SCAN_VALUE,     /* named initializer or object literal: like a function */
    SCAN_CLASS,     /* class, struct, impl, interface...: one chunk if short, else split */
    SCAN_NAMESPACE, /* namespace, extern "C", inline module: always split, names prefixed */
    SCAN_OTHER,     /* any other block: its definitions are lifted out, its lines are gap */
    SCAN_SECTION,   /* Markdown heading section: like a class */
} scan_kind_t;

typedef struct scan_node {
    scan_kind_t kind;
    int start;     /* first line of the header, 1-based */
    int end;       /* last line */
    int parent;    /* index of the enclosing node, -1 at top level */
    char *name;    /* malloc'd, or NULL */
} scan_node_t;

typedef struct scan_tree {
    scan_node_t *v;
    size_t n, cap;
    int oom; /* set when an allocation failed: the tree is incomplete */
} scan_tree_t;

/* Append a node; returns its index, or -1 (and sets t->oom) when out of
 * memory. NAME (NAME_LEN bytes, may be NULL) is copied. */
int scan_add(scan_tree_t *t, scan_kind_t kind, int start, int parent, const char *name,
             size_t name_len);
void scan_tree_free(scan_tree_t *t);

/* Scanners: fill T from normalized TEXT (LEN bytes, N_LINES lines). */
void scan_brace(const char *text, size_t len, const char *lang, int n_lines, scan_tree_t *t);
void scan_python(const char *text, size_t len, int n_lines, scan_tree_t *t);
void scan_markdown(const char *text, size_t len, int n_lines, scan_tree_t *t);

#endif
