/* refactor.h - the steps of a repository refactoring that `octet refactor`
 * and the TUI's /refactor share: the target's path as the index names it,
 * the retrieved code (the target first, then the places that use it), the
 * request to the model for a unified diff, when its reply is complete, and
 * the diff in the reply. Applying is flows/patch.h's patch_apply. Nothing
 * here prints. */
#ifndef OCTET_REFACTOR_H
#define OCTET_REFACTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "errmsg.h"
#include "rag.h"

/* PATH (absolute, or relative to the current directory) as the index of R
 * names it: relative to the root. OCT_EINVAL when it is not a file inside
 * the repository. *rel is malloc'd. */
int refactor_rel_path(const rag_t *r, const char *path, char **rel, errmsg_t *err);

/* The retrieved code, packed into about BUDGET tokens counted with COUNT
 * (called with UD): with REL (a path from refactor_rel_path) that whole file
 * first, cut at a line end to two thirds of the budget; with SYMBOL its
 * definition first, then the chunks that use it (OCT_ENOTFOUND when the
 * index has no definition of SYMBOL); otherwise the chunks most relevant to
 * INSTRUCTION. *out is malloc'd. */
int refactor_context(rag_t *r, const char *instruction, const char *rel, const char *symbol, size_t budget,
                     rag_count_fn count, void *ud, char **out, errmsg_t *err);

/* The request for the model. CHAT: MSGS[0] (system, static text) and MSGS[1]
 * (user: *prompt); otherwise *prompt is a plain-completion prompt ending in
 * an opened ```diff block. *prompt is malloc'd. */
int refactor_prompt(const char *instruction, const char *rel, const char *symbol, const char *context, bool chat,
                    chat_msg_t msgs[2], char **prompt, errmsg_t *err);

/* Whether a reply in progress holds a complete diff block: generation can
 * stop. UD points to a bool, true for plain completion (spec_llm_t's done). */
bool refactor_reply_done(const char *reply, void *ud);

/* The diff in the model's REPLY (COMPLETION: it continues the prompt's
 * ```diff block), extracted and repaired against the working tree of
 * REPO_DIR by patch_extract. OCT_ENOTFOUND with the reason when there is
 * none. *diff is malloc'd. */
int refactor_reply_diff(const char *reply, bool completion, const char *repo_dir, char **diff, errmsg_t *err);

#endif
