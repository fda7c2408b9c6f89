/* pin.h - code the user pins into every prompt, and the code a prompt gets.
 *
 * A pin is a file, a line range of one, or the definition of a symbol
 * found through the repository index (the TUI's /add and /drop, --add of
 * octet run, gen and refactor). Pins are read from the working tree at each
 * prompt, so they follow the user's edits.
 *
 * pin_pack puts pinned code and retrieved chunks into one token budget:
 * pinned blocks first, in the order they were pinned (one that does not fit
 * whole keeps its first lines), then the retrieved chunks best first, those
 * that overlap a pinned block left out (the prompt never shows a line
 * twice). Every block and chunk becomes an item saying what became of it,
 * which the TUI's context panel lists and pin_ctx_summary sums up.
 * Nothing here prints. */
#ifndef OCTET_PIN_H
#define OCTET_PIN_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "rag.h"

#define PIN_MAX 64 /* pins at once */

typedef struct pin {
    char *path;     /* as shown and matched against retrieved chunks: relative to the repository root,
                     * or as given outside a repository */
    char *file;     /* the file to read (absolute) */
    int start, end; /* lines, 1-based, inclusive; 0 and 0: the whole file */
    char *symbol;   /* the definition's name when pinned by a symbol, else NULL */
} pin_t;

typedef struct pin_list {
    pin_t *v;
    size_t n, cap;
} pin_list_t;

/* Split ARG into a path and the line range of a ":START-END" or ":LINE"
 * suffix (*start = *end = 0 without one). *path is malloc'd. OCT_EINVAL
 * with a message naming ARG for an empty path or range ("12-3", "0-4"). */
int pin_parse(const char *arg, char **path, int *start, int *end, errmsg_t *err);

/* Pin ARG: "PATH", "PATH:START-END" or "PATH:LINE" (relative paths are
 * taken from BASE; NULL: the current directory), or, when no such file
 * exists, a SYMBOL whose definition the index R (may be NULL) knows. ROOT
 * (may be NULL: none) is the repository root: files must be inside it and
 * are shown relative to it. A pin overlapping or touching pins of the same
 * file is merged with them; one already covered changes nothing. *what
 * (WHAT may be NULL; malloc'd) says what happened ("pinned 2: src/x.c:3-9
 * (the definition of parse, 7 lines)"). OCT_EINVAL / OCT_ENOTFOUND with a
 * message naming ARG: a missing file, a range past its end, a binary file,
 * an unknown or ambiguous symbol (the message lists its definitions). */
int pin_add(pin_list_t *l, const char *arg, const char *base, const char *root, rag_t *r, char **what,
            errmsg_t *err);

/* Unpin: ARG "" drops every pin, "N" the Nth (from 1), anything else the
 * pins it names (a label as pin_label writes it, a path: every pin of that
 * file, or a symbol). *what (may be NULL; malloc'd) says what was dropped.
 * OCT_ENOTFOUND when nothing matches (OCT_EINVAL: an N out of range). */
int pin_drop(pin_list_t *l, const char *arg, char **what, errmsg_t *err);

/* "src/x.c" for a whole file, "src/x.c:3-9" for a range. malloc'd. */
char *pin_label(const pin_t *p);

/* A deep copy of SRC into *DST (emptied first). OCT_ENOMEM. */
int pin_list_copy(pin_list_t *dst, const pin_list_t *src);
void pin_list_free(pin_list_t *l);

/* ---- what a prompt gets ---------------------------------------------------- */

typedef enum pin_kind {
    PIN_KIND_PINNED,    /* a pin */
    PIN_KIND_TARGET,    /* refactor's target file (--path), which comes first */
    PIN_KIND_RETRIEVED, /* a chunk the index retrieved */
} pin_kind_t;

typedef enum pin_state {
    PIN_SENT,       /* in the prompt, whole */
    PIN_CUT,        /* in the prompt up to its line sent_end: the budget */
    PIN_LEFT_OUT,   /* not in the prompt: the budget */
    PIN_COVERED,    /* a retrieved chunk not in the prompt: it overlaps a pinned block */
    PIN_UNREADABLE, /* a pin whose file cannot be read now; text says why */
    PIN_NEXT,       /* pinned after the last prompt: goes into the next one */
    PIN_FOUND,      /* a search result, sent nowhere */
} pin_state_t;

typedef struct pin_item {
    pin_kind_t kind;
    pin_state_t state;
    char *path;     /* as shown: relative to the root */
    int start, end; /* the lines of the pin or chunk */
    int sent_end;   /* PIN_CUT: the last line sent */
    double score;   /* retrieved chunks: the index's score */
    char *symbol;   /* the definition's name, or NULL */
    char *lang;     /* "c", "python"... as rag_hit_t's */
    char *text;     /* its lines (PIN_UNREADABLE: why) */
} pin_item_t;

typedef struct pin_ctx {
    char *pinned;    /* the pinned blocks as packed ("" when none) */
    char *retrieved; /* the retrieved chunks as packed ("" when none) */
    char *text;      /* both, pinned first */
    size_t tokens;   /* of text, as counted */
    size_t budget;
    pin_item_t *items; /* pinned (the target first), then retrieved best first */
    size_t n;
} pin_ctx_t;

/* Pack into BUDGET tokens (counted with COUNT and UD; NULL: the estimate)
 * TARGET (may be NULL: a block with its text, sent first), the pins of
 * PINS (may be NULL), read now, then HITS (may be NULL), as the top of this
 * file says. 0, or OCT_ENOMEM; an unreadable pin is an item, not an error.
 * Free OUT with pin_ctx_free. */
int pin_pack(const rag_hit_t *target, const pin_list_t *pins, const rag_results_t *hits, size_t budget,
             rag_count_fn count, void *ud, pin_ctx_t *out, errmsg_t *err);

/* The context of /search: HITS as PIN_FOUND items. */
int pin_ctx_found(const rag_results_t *hits, pin_ctx_t *out, errmsg_t *err);

/* Show PINS instead of C's pinned items, as they would be sent next
 * (PIN_NEXT, their text read now): after /add or /drop. */
int pin_ctx_repin(pin_ctx_t *c, const pin_list_t *pins, errmsg_t *err);

/* What went into the prompt, when the user should hear of it (pins, or
 * something cut or left out): "context: 2 pinned, 5 retrieved chunks, 1
 * cut to fit 2048 tokens (src/x.c:10-80)". NULL when there is nothing to
 * say (or no memory). malloc'd. */
char *pin_ctx_summary(const pin_ctx_t *c);

/* One item in words: "pinned", "score 3.21", then what became of it
 * ("cut after line 45", "left out: over the budget"...). malloc'd. */
char *pin_item_detail(const pin_item_t *it);

void pin_ctx_free(pin_ctx_t *c);

#endif
