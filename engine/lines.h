/* lines.h - drafts for an answer that is a unified diff (or search/replace
 * blocks) of text in its prompt, made from the text's lines rather than its
 * tokens.
 *
 * Inside a hunk every context line is " " + a line of the file and every
 * removed line "-" + one, so a diff copies its file line after line; but
 * the marker changes how a line's start is tokenized (" {" is one token
 * where the file has "{" after a newline, five spaces of indentation
 * where the file has four), and prompt lookup, which matches tokens, loses
 * the first tokens of every line. This source follows the hunk in text:
 * it finds where its last old-side line stands in the prompt, predicts the
 * next line as context (" " + the file's next line) or, after removed
 * lines, the added line as the removed one again (a rename changes a word,
 * not the line), and encodes that text with the model's tokenizer. The
 * drafts are guesses like any other: the generation loop verifies them.
 *
 * Search/replace blocks (flows/blocks.c's format) are followed the same
 * way: SEARCH lines are copies of prompt lines without a marker, REPLACE
 * lines the SEARCH lines again with the renames the answer has made, and
 * once a rename is known the next block is predicted whole from the next
 * line of the file it changes (docs/engine.md, "Speculative decoding").
 *
 * Text outside a hunk or a block, and a line whose text so far does not
 * begin its predicted line, give no draft (token lookup takes over there). */
#ifndef OCTET_LINES_H
#define OCTET_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "tokenizer.h"

typedef struct lines lines_t;

int lines_new(lines_t **out, const tok_t *tok, errmsg_t *err);
void lines_free(lines_t *l);

/* Append tokens: the extra context and the prompt first, then each
 * accepted token. Their text is what the lines are made of. */
int lines_push(lines_t *l, const int32_t *ids, size_t n, errmsg_t *err);

/* Up to MAX tokens predicted to follow what was pushed, in OUT (*N_OUT 0:
 * no prediction here). */
int lines_propose(lines_t *l, size_t max, int32_t *out, size_t *n_out, errmsg_t *err);

#endif
