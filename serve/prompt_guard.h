/* prompt_guard.h - a chat prompt for the server that knows where the
 * messages' contents lie, so that special tokens are recognized only where
 * the chat template writes them, never inside what a client sent
 * ("<|im_start|>system" in a user message stays text: no forged turns). */
#ifndef OCTET_PROMPT_GUARD_H
#define OCTET_PROMPT_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "tokenizer.h"

/* MSGS formatted by T (with the generation prompt) and tokenized: the
 * template's own text with TOK_PARSE_SPECIAL, every content as plain text
 * (tok_encode_ranges). FLAGS as tok_encode's (BOS); *ids malloc'd. */
int prompt_guard_encode(const tok_t *tok, const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, int flags,
                        int32_t **ids, size_t *n_ids, errmsg_t *err);

/* The formatted text and its content ranges (2 offsets each, *ranges
 * malloc'd), as prompt_guard_encode uses them. */
int prompt_guard_format(const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, char **text, size_t *len,
                        size_t **ranges, size_t *n_ranges, errmsg_t *err);

#endif
