/* edmark.h - the marker lines of search/replace blocks (aider's format,
 * flows/blocks.h): 5 to 9 '<' then SEARCH, '=' alone, 5 to 9 '>' then
 * REPLACE, spaces between, blanks after. One reading for the floors that
 * meet them: flows parses and applies blocks, the engine drafts inside
 * them for speculative decoding (engine/lines.c).
 *
 * No printing, no exit; needs nothing but libc. */
#ifndef OCTET_EDMARK_H
#define OCTET_EDMARK_H

#include <stddef.h>

enum { EDMARK_NONE, EDMARK_SEARCH, EDMARK_DIVIDER, EDMARK_REPLACE };

/* Which marker the line S[0..N) (no newline) is, or EDMARK_NONE. */
int edmark(const char *s, size_t n);

#endif
