/* prompt.h - what is sent to the model for a turn: the conversation so far
 * (messages as they were sent, retrieved code included) and the new user
 * message, in the model's chat template, trimmed to a token budget by
 * leaving out the oldest exchanges; the user message with the packed
 * retrieved chunks in front of it; the system message with the pinned
 * code after it; and the common prefix of two token
 * sequences, which is the part of the KV cache a new prompt can reuse.
 * No ncurses and no threads: unit-tested with a real tokenizer. */
#ifndef OCTET_PROMPT_H
#define OCTET_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "errmsg.h"
#include "tokenizer.h"

typedef struct prompt_msg {
    chat_role_t role; /* user or assistant, alternating from user */
    char *content;
} prompt_msg_t;

typedef struct prompt_req {
    const chat_tmpl_t *tmpl;
    const tok_t *tok;
    const char *system;    /* system message; NULL for none */
    const prompt_msg_t *hist; /* earlier messages, oldest first */
    size_t n_hist;
    const char *user;      /* the new message; NULL to format the conversation alone */
    size_t budget;         /* most tokens the prompt may take */
} prompt_req_t;

/* Token ids of the prompt (*ids malloc'd). The oldest user/assistant pairs
 * are left out until it fits; *dropped (may be NULL) counts the messages
 * left out. OCT_EINVAL when even the system and new message alone exceed
 * the budget (the message says by how much). */
int prompt_build(const prompt_req_t *r, int32_t **ids, size_t *n, size_t *dropped, errmsg_t *err);

/* The message sent for QUESTION with PACKED retrieved code (rag_pack's
 * text; NULL or "" for none). malloc'd; NULL when out of memory. */
char *prompt_user(const char *question, const char *packed);

/* The text a base model (no chat template) continues for TEXT: PACKED
 * retrieved code (NULL or "" for none) in front, so the continuation can
 * use the repository's names, then TEXT as typed. malloc'd; NULL when out
 * of memory. */
char *prompt_completion(const char *text, const char *packed);

/* The system message SYSTEM with PINNED code (pin_pack's pinned blocks;
 * NULL or "" for none) after it: code the user pinned for the whole
 * conversation, which stays at the start of every prompt (and in the KV
 * cache) while it does not change. malloc'd; NULL when out of memory. */
char *prompt_system(const char *system, const char *pinned);

/* Length of the common prefix of A (NA ids) and B (NB ids). */
size_t prompt_common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb);

/* rag_count_fn over a tok_t (UD): tokens of TEXT, no special tokens. */
size_t prompt_count_tokens(const char *text, size_t len, void *ud);
/* rag_count_fn where no tokenizer is at hand (a remote engine; UD unused):
 * an estimate of a token per 3 bytes, rounded up, which is more than the
 * usual BPE vocabularies take for code or English, so budgets hold. */
size_t prompt_count_tokens_approx(const char *text, size_t len, void *ud);

#endif
