/* refactor.c - a repository refactoring, as `octet refactor` and the TUI's
 * /refactor run it (see refactor.h): retrieval of the target and its uses,
 * the model's request, the end of its reply, the diff in it, and the whole
 * run up to the checked patch. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "refactor.h"

#define REFACTOR_HITS 24

int refactor_rel_path(const rag_t *r, const char *path, char **rel, errmsg_t *err)
{
    char abs[PATH_MAX];
    const char *root = rag_root(r);
    size_t rl = strlen(root);
    *rel = NULL;
    if (!realpath(path, abs) || strncmp(abs, root, rl) || (abs[rl] != '/' && abs[rl]))
        return errmsg_set(err, OCT_EINVAL, "%s: not a file inside the repository %s", path, root);
    if (!(*rel = strdup(abs[rl] == '/' ? abs + rl + 1 : abs + rl)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

/* Whether WORD occurs in TEXT as a whole identifier. */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* Whether a hit is the definition of SYM ("Class.sym" counts). */
static bool defines(const rag_hit_t *h, const char *sym)
{
    if (!h->symbol)
        return false;
    size_t a = strlen(h->symbol), b = strlen(sym);
    return !strcmp(h->symbol, sym) || (a > b && h->symbol[a - b - 1] == '.' && !strcmp(h->symbol + a - b, sym));
}

/* The file PATH (relative to ROOT) as the target block, cut to about
 * BUDGET tokens at a line end: the target of --path, whether or not the
 * index ranks it. */
static int target_hit(const char *root, const char *path, size_t budget, rag_count_fn count, void *ud, rag_hit_t *h,
                      errmsg_t *err)
{
    char *full = NULL, *text = NULL;
    size_t len = 0;
    const char *lang = "text";
    memset(h, 0, sizeof *h);
    if (asprintf(&full, "%s/%s", root, path) < 0)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = rag_read(full, path, &text, &len, &lang, err);
    free(full);
    if (rc)
        return rc;
    size_t tokens = count(text, len, ud);
    if (tokens > budget) {
        len = len * budget / tokens;
        while (len && text[len - 1] != '\n')
            len--;
    }
    if (len && text[len - 1] == '\n')
        len--; /* a hit's lines have no last newline */
    text[len] = '\0';
    int lines = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    *h = (rag_hit_t){.path = strdup(path), .lang = strdup(lang), .start = 1, .end = lines, .text = text};
    if (!h->path || !h->lang) {
        free(h->path);
        free(h->lang);
        free(text);
        memset(h, 0, sizeof *h);
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

int refactor_context(rag_t *r, const char *instruction, const char *rel, const char *symbol, const pin_list_t *pins,
                     size_t budget, rag_count_fn count, void *ud, pin_ctx_t *out, errmsg_t *err)
{
    rag_results_t res = {0}, view = {0};
    rag_hit_t target = {0};
    char *q = NULL;
    const char *query = symbol ? symbol : instruction;
    int rc;
    memset(out, 0, sizeof *out);
    if (rel) {
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        if ((rc = target_hit(rag_root(r), rel, budget * 2 / 3, count, ud, &target, err)))
            return rc;
        if (asprintf(&q, "%s %s", base, instruction) < 0) {
            q = NULL;
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
            goto done;
        }
        query = q;
    }
    if ((rc = rag_query(r, query, strlen(query), REFACTOR_HITS, &res, err)))
        goto done;
    view.hits = calloc(res.n ? res.n : 1, sizeof *view.hits);
    if (!view.hits) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
        goto done;
    }
    /* with a symbol: the definition, then its uses; otherwise by relevance */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < res.n; i++) {
            const rag_hit_t *h = &res.hits[i];
            if (rel && !strcmp(h->path, rel))
                continue; /* already there, whole */
            bool first = symbol ? defines(h, symbol) : true;
            bool use = symbol && !first && has_word(h->text, symbol);
            if ((pass == 0 && first) || (pass == 1 && use))
                view.hits[view.n++] = *h;
        }
    if (symbol && (view.n == 0 || !defines(&view.hits[0], symbol))) {
        rc = errmsg_set(err, OCT_ENOTFOUND,
                        "the symbol '%s' is not defined in the repository's index (see 'octet search %s')", symbol,
                        symbol);
        goto done;
    }
    rc = pin_pack(rel ? &target : NULL, pins, &view, budget, count, ud, out, err);
done:
    free(view.hits); /* shallow copies of res's hits */
    rag_results_free(&res);
    free(target.path);
    free(target.lang);
    free(target.text);
    free(q);
    return rc;
}

int refactor_prompt(const char *instruction, const char *rel, const char *symbol, const char *context, bool chat,
                    chat_msg_t msgs[2], char **prompt, errmsg_t *err)
{
    char target[PATH_MAX + 64] = "";
    if (rel)
        snprintf(target, sizeof target, "\nTarget: the file %s and the code that refers to it.\n", rel);
    else if (symbol)
        snprintf(target, sizeof target, "\nTarget: %.200s, its definition and every use.\n", symbol);
    int n;
    if (chat) {
        msgs[0] = (chat_msg_t){CHAT_ROLE_SYSTEM,
                               "You are a careful refactoring tool for a git repository. Reply with one ```diff "
                               "block holding a unified diff in git's format (diff --git a/PATH b/PATH, --- a/PATH, "
                               "+++ b/PATH, @@ hunks with 3 lines of context) that makes the requested change "
                               "everywhere it is needed, and nothing else. Paths are relative to the repository "
                               "root, as shown."};
        n = asprintf(prompt, "Instruction: %s\n%s\nCode from the repository (path:first-last, then the lines):\n\n%s",
                     instruction, target, context);
        msgs[1] = (chat_msg_t){CHAT_ROLE_USER, n < 0 ? NULL : *prompt};
    } else {
        n = asprintf(prompt, "%s\n\nA patch in git's unified diff format that does this: %s\n%s\n```diff\n", context,
                     instruction, target);
    }
    if (n < 0) {
        *prompt = NULL;
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
    return 0;
}

bool refactor_reply_done(const char *reply, void *ud)
{
    /* a closed ``` block after the diff started (chat), or any closing fence (completion) */
    bool completion = *(const bool *)ud;
    const char *open = completion ? reply : strstr(reply, "```");
    if (!open)
        return false;
    const char *body = completion ? reply : strchr(open, '\n');
    return body && strstr(body, "\n```") != NULL;
}

int refactor_reply_diff(const char *reply, bool completion, const char *repo_dir, char **diff, errmsg_t *err)
{
    char *full = NULL;
    *diff = NULL;
    /* a completion continues the ```diff block its prompt opened */
    if (completion && asprintf(&full, "```diff\n%s", reply) < 0)
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    int rc = patch_extract(full ? full : reply, repo_dir, diff, err);
    free(full);
    return rc;
}

static void step(const refactor_req_t *q, refactor_result_t *res, refactor_step_t st)
{
    res->step = st;
    if (q->on_step)
        q->on_step(q->ud, st, res);
}

/* Refuse before generating when the file the change is about (the given
 * one, or the file defining the symbol) has someone else's uncommitted
 * changes: the diff could not be applied anyway. */
static int check_target(rag_t *r, const refactor_req_t *q, errmsg_t *err)
{
    if (q->force)
        return 0;
    if (q->rel)
        return patch_paths_check(q->repo_dir, &q->rel, 1, err);
    if (!q->symbol)
        return 0;
    rag_results_t res = {0};
    int rc = rag_query(r, q->symbol, strlen(q->symbol), REFACTOR_HITS, &res, err);
    for (size_t i = 0; rc == 0 && i < res.n; i++)
        if (defines(&res.hits[i], q->symbol)) {
            const char *path = res.hits[i].path;
            rc = patch_paths_check(q->repo_dir, &path, 1, err);
            break;
        }
    rag_results_free(&res);
    return rc;
}

int refactor_run(rag_t *r, const llm_t *llm, const refactor_req_t *q, refactor_result_t *res, errmsg_t *err)
{
    chat_msg_t msgs[2];
    char *prompt = NULL;
    int rc;
    memset(res, 0, sizeof *res);
    step(q, res, REFACTOR_RETRIEVE);
    if ((rc = check_target(r, q, err)) ||
        (rc = refactor_context(r, q->instruction, q->rel, q->symbol, q->pins, q->budget,
                               q->count ? q->count : rag_estimate_tokens, q->count_ud, &res->packed, err)))
        goto done;
    res->context = res->packed.text;
    res->packed.text = NULL;
    step(q, res, REFACTOR_PROMPT);
    if ((rc = refactor_prompt(q->instruction, q->rel, q->symbol, res->context, llm->chat, msgs, &prompt, err)))
        goto done;
    step(q, res, REFACTOR_GENERATE);
    bool completion = !llm->chat;
    if ((rc = llm->generate(llm->ud, msgs, 2, prompt, refactor_reply_done, &completion, &res->reply, err)))
        goto done;
    step(q, res, REFACTOR_EXTRACT);
    if ((rc = refactor_reply_diff(res->reply, completion, q->repo_dir, &res->diff, err)))
        goto done;
    step(q, res, REFACTOR_CHECK);
    if ((rc = patch_parse(&res->patch, res->diff, strlen(res->diff), "the model's diff", err)) ||
        (rc = patch_check(res->patch, q->repo_dir, q->force, err)))
        goto done;
    step(q, res, REFACTOR_DONE);
done:
    free(prompt);
    return rc;
}

void refactor_result_free(refactor_result_t *res)
{
    patch_free(res->patch);
    free(res->diff);
    free(res->reply);
    free(res->context);
    pin_ctx_free(&res->packed);
    memset(res, 0, sizeof *res);
}
