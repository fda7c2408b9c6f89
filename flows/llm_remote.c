/* llm_remote.c - llm_t on a remote OpenAI-compatible engine (see llm.h). */
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "sb.h"

typedef struct reply {
    llm_remote_t *rl;
    bool (*done)(const char *reply, void *done_ud);
    void *done_ud;
    sbuf_t text;
    bool complete; /* DONE said so: the transfer was stopped on purpose */
} reply_t;

/* remote_text_fn: append a piece, show it, and stop the transfer once the
 * reply is complete (returning nonzero ends it; the server sees the client
 * leave and stops generating). */
static int on_piece(void *ud, const char *t, size_t n)
{
    reply_t *p = ud;
    sb_addn(&p->text, t, n);
    if (p->text.oom)
        return 1;
    if (p->rl->on_text && n)
        p->rl->on_text(p->rl->text_ud, t, n);
    if (p->done && p->text.s && p->done(p->text.s, p->done_ud)) {
        p->complete = true;
        return 1;
    }
    return 0;
}

static int remote_generate(void *ud, const chat_msg_t *msgs, size_t n, const char *prompt,
                           bool (*done)(const char *reply, void *done_ud), void *done_ud, char **reply,
                           errmsg_t *err)
{
    llm_remote_t *rl = ud;
    reply_t p = {.rl = rl, .done = done, .done_ud = done_ud};
    oai_gen_t g = rl->gen;
    if (g.seed >= 0)
        g.seed += rl->calls; /* another draw for each attempt */
    rl->calls++;
    *reply = NULL;
    int rc = rl->completion ? remote_complete(rl->rem, prompt ? prompt : "", &g, on_piece, &p, rl->cancel, &rl->last, err)
                            : remote_chat(rl->rem, msgs, n, &g, on_piece, &p, rl->cancel, &rl->last, err);
    if (p.text.oom)
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    else if (rc == OCT_ECANCELED && p.complete)
        rc = 0;
    if (rc) {
        sb_free(&p.text);
        return rc;
    }
    if (!(*reply = sb_take(&p.text)))
        return errmsg_set(err, OCT_ENOMEM, "out of memory");
    return 0;
}

void llm_remote_init(llm_remote_t *rl, remote_t *rem, const oai_gen_t *g, bool completion, llm_t *llm)
{
    memset(rl, 0, sizeof *rl);
    rl->rem = rem;
    rl->gen = *g;
    rl->completion = completion;
    rl->last.prompt_tokens = rl->last.completion_tokens = -1;
    llm->chat = !completion;
    llm->generate = remote_generate;
    llm->ud = rl;
}

uint32_t llm_remote_ctx(remote_t *rem)
{
    remote_metrics_t m;
    errmsg_t err = {0};
    if (remote_metrics(rem, &m, &err) || m.kv_tokens_size <= 0 || m.kv_tokens_size > UINT32_MAX)
        return 0;
    return (uint32_t)m.kv_tokens_size;
}
