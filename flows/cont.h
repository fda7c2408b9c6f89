/* cont.h - where a continuation of code should stop. In completion mode
 * (a base model continuing what the user typed) a model runs on past the
 * function it was asked to finish: into the next definition, or round a
 * loop of the same lines until the token limit. This follows the streamed
 * text and says when the code unit the user began is over:
 *
 *  - braces: when the typed text leaves blocks open ("int f(int x) {"),
 *    the unit ends just after the brace that closes the innermost of them
 *    (strings, characters and comments skipped; a ';' right after it
 *    kept);
 *  - indentation: when the typed text opens an indented block (a last line
 *    ending in ':', or indented lines under such a line), the unit ends
 *    before the first non-blank line indented no deeper than that opener
 *    once the model has written a line inside the block (a line at the
 *    opener's depth that starts with else, elif, except, finally, or a
 *    closing bracket continues the statement); a line no deeper than the
 *    opener before that begins a new unit in its place (the typed block
 *    was complete: the next definition is written whole);
 *  - repetition: in any mode, a block of 1 to 8 lines (30 or more
 *    non-blank characters) repeated three times in a row ends it: a model
 *    in a loop (the three copies stay shown).
 *
 * Text is held back from the start of each line until the line has a
 * non-blank character, so nothing after the end of a unit is ever shown:
 * blank lines before the end are dropped with it. Nothing here prints. */
#ifndef OCTET_CONT_H
#define OCTET_CONT_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

typedef enum cont_state {
    CONT_GOING,    /* go on */
    CONT_UNIT_END, /* the unit the typed text began is complete */
    CONT_REPEAT,   /* the model repeats a block of lines */
} cont_state_t;

typedef struct cont cont_t;

/* A follower for continuations of TYPED (LEN bytes), the text the user
 * wrote (not the retrieved code before it). */
int cont_new(cont_t **out, const char *typed, size_t len, errmsg_t *err);
void cont_free(cont_t *c);

/* Append generated TEXT (LEN bytes). *SHOW, *SHOW_LEN: the text that has
 * become safe to show (inside C, valid until the next call; may be empty).
 * Once the state is not CONT_GOING it stays so and nothing more is shown.
 * OCT_ENOMEM when out of memory (nothing shown). */
int cont_push(cont_t *c, const char *text, size_t len, const char **show, size_t *show_len, errmsg_t *err);
cont_state_t cont_state(const cont_t *c);
/* The end of generation: what is still held back (blank line starts), to
 * show unless the unit has ended. */
void cont_flush(cont_t *c, const char **show, size_t *show_len);
/* Why it stopped, for the user ("stopped at the end of the block you
 * began (its closing brace)"...); NULL while going. */
const char *cont_why(const cont_t *c);

#endif
