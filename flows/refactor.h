/* refactor.h - a repository refactoring, as `octet refactor` and the TUI's
 * /refactor run it (refactor_run): the target's path as the index names it,
 * the retrieved code (the target first, then the places that use it), the
 * request to the model for a unified diff or for search/replace blocks
 * (flows/blocks.h), when its reply is complete, the edit in the reply as a
 * diff, and that diff parsed and checked against the working tree.
 * Applying is flows/patch.h's patch_apply, after the front end asked the
 * user. Nothing here prints. */
#ifndef OCTET_REFACTOR_H
#define OCTET_REFACTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "errmsg.h"
#include "llm.h"
#include "patch.h"
#include "pin.h"
#include "rag.h"

/* PATH (absolute, or relative to the current directory) as the index of R
 * names it: relative to the root. OCT_EINVAL when it is not a file inside
 * the repository. *rel is malloc'd. */
int refactor_rel_path(const rag_t *r, const char *path, char **rel, errmsg_t *err);

/* The code for the model, packed into about BUDGET tokens counted with
 * COUNT (called with UD) by pin_pack: with REL (a path from
 * refactor_rel_path) that whole file first, cut at a line end to two thirds
 * of the budget; then the user's PINS (may be NULL); then the retrieved
 * chunks: with SYMBOL its definition first, then the chunks that use it
 * (OCT_ENOTFOUND when the index has no definition of SYMBOL); otherwise the
 * chunks most relevant to INSTRUCTION. out->text is the context; its items
 * say what each block is and what became of it. Free with pin_ctx_free. */
int refactor_context(rag_t *r, const char *instruction, const char *rel, const char *symbol, const pin_list_t *pins,
                     size_t budget, rag_count_fn count, void *ud, pin_ctx_t *out, errmsg_t *err);

/* What the model is asked to write. */
typedef enum refactor_format {
    REFACTOR_DIFF,   /* a unified diff */
    REFACTOR_BLOCKS, /* search/replace blocks */
} refactor_format_t;

/* How a reply was asked for, to read it. */
typedef struct refactor_reply {
    bool completion;          /* plain completion: the reply continues the prompt */
    refactor_format_t format;
    const char *rel;          /* the target file (refactor_rel_path), or NULL */
} refactor_reply_t;

/* The request for the model, in HOW's format. Chat (!HOW->completion):
 * MSGS[0] (system, static text) and MSGS[1] (user: *prompt); otherwise
 * *prompt is a plain-completion prompt ending in an opened ```diff block,
 * or for blocks an opened ``` block with HOW->rel's path and a
 * <<<<<<< SEARCH line. *prompt is malloc'd. */
int refactor_prompt(const char *instruction, const char *symbol, const char *context, const refactor_reply_t *how,
                    chat_msg_t msgs[2], char **prompt, errmsg_t *err);

/* Whether a reply in progress is complete: generation can stop. UD points
 * to the refactor_reply_t it was asked with (llm_t's done). A completion
 * ends at its block's closing fence; a chat reply at the closing fence of
 * its diff block, or for blocks (which may come in several fenced blocks)
 * only where the model ends it. */
bool refactor_reply_done(const char *reply, void *ud);

/* The edit in the model's REPLY, asked for as HOW says, as a unified diff
 * of the working tree of REPO_DIR: a diff extracted and repaired by
 * patch_extract, or blocks (a last block cut off unfinished dropped) made
 * into one by blocks_diff, *notes then saying which matched loosely
 * (malloc'd, or NULL). OCT_ENOTFOUND with the reason when there is none;
 * blocks that do not apply are OCT_EINVAL naming the block. *diff is
 * malloc'd. */
int refactor_reply_diff(const char *reply, const refactor_reply_t *how, const char *repo_dir, char **diff,
                        char **notes, errmsg_t *err);

/* ---- the whole refactoring ------------------------------------------------ */

/* The steps of refactor_run, in order. */
typedef enum refactor_step {
    REFACTOR_RETRIEVE, /* the target's code and the places that use it */
    REFACTOR_PROMPT,   /* the request for the model */
    REFACTOR_GENERATE, /* the model's reply */
    REFACTOR_EXTRACT,  /* the diff in the reply (blocks: made into a diff) */
    REFACTOR_CHECK,    /* the diff parsed and checked against the working tree */
    REFACTOR_DONE,
} refactor_step_t;

struct refactor_result;

typedef struct refactor_req {
    const char *instruction;
    const char *rel;      /* the file to change (from refactor_rel_path), or NULL */
    const char *symbol;   /* the symbol to change, or NULL */
    const char *repo_dir; /* the working tree the diff must apply to */
    const pin_list_t *pins; /* code the user pinned (may be NULL): sent after the target, before retrieved code */
    size_t budget;        /* tokens of the code sent: the target, the pins and the retrieved chunks */
    rag_count_fn count;   /* counts them (NULL: rag_estimate_tokens) */
    void *count_ud;
    bool force;           /* accept files with uncommitted changes */
    refactor_format_t format; /* what the model is asked for (zero: a diff; the CLI and the TUI ask for blocks) */
    /* Replies asked for at most (0 counts as 1): a reply with no usable
     * edit, or one that does not apply, is asked for again (the model's
     * next reply draws with another seed); a file with uncommitted changes
     * is never retried. */
    int attempts;
    /* Called (may be NULL) when reply ATTEMPT of ATTEMPTS failed at step
     * STEP for WHY and another is asked for. */
    void (*on_retry)(void *ud, int attempt, int attempts, refactor_step_t step, const char *why);
    /* Called (may be NULL) as each step starts, with the result so far
     * (its context is there from REFACTOR_PROMPT on). */
    void (*on_step)(void *ud, refactor_step_t step, const struct refactor_result *res);
    void *ud;
} refactor_req_t;

typedef struct refactor_result {
    refactor_step_t step; /* the step that failed, or REFACTOR_DONE */
    int attempt;          /* the reply being asked for or read, from 1 */
    char *context;        /* the code sent: the target, the pins, the retrieved chunks */
    pin_ctx_t packed;     /* each block of it and what became of it (context's text is moved out) */
    char *reply;          /* the model's reply */
    char *diff;           /* the diff in it, repaired (or made of its blocks) */
    char *notes;          /* blocks that matched loosely (refactor_reply_diff), or NULL */
    patch_t *patch;       /* the diff parsed and checked: what patch_apply would apply */
} refactor_result_t;

/* Refactor as Q asks, up to the checked patch, with the index R and the
 * model LLM: retrieve, ask for a diff (or blocks), extract it from the reply, parse it
 * and check it against Q's working tree, asking again up to Q->attempts
 * replies. Nothing on disk changes. 0 with res->patch set; else OCT_E* with
 * ERR, res->step naming the step that failed (OCT_ECANCELED: the reply was
 * stopped), and what the steps before it produced (the last reply's) kept
 * in RES. Free RES with refactor_result_free either way. */
int refactor_run(rag_t *r, const llm_t *llm, const refactor_req_t *q, refactor_result_t *res, errmsg_t *err);
void refactor_result_free(refactor_result_t *res);

#endif
