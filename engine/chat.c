/* chat.c - chat prompt formats and fill-in-the-middle prompts (see chat.h).
 *
 * Each format is the hand-written equivalent of a real Jinja template, down
 * to its quirks, because the tests compare with HF's renderings byte for
 * byte: Llama 2 and Llama 3 trim message contents with Python's str.strip()
 * (Unicode whitespace, not only ASCII), Llama 2 refuses non-alternating
 * turns, DeepSeek-Coder glues a given system prompt to the first
 * "### Instruction:" without a newline. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#define QWEN_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
#define DEEPSEEK_DEFAULT_SYSTEM                                                                    \
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by "      \
    "Deepseek Company, and you only answer questions related to computer science. For "           \
    "politically sensitive questions, security and privacy issues, and other non-computer "       \
    "science questions, you will refuse to answer\n"
#define DEEPSEEK_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

struct chat_tmpl {
    chat_kind_t kind;
    char *name;
    char *default_system; /* NULL: none */
    char *bos;
    char *eos;
};

/* ---- a growable string ------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static int sb_add(sbuf_t *b, const char *s, size_t len)
{
    if (len > SIZE_MAX - b->n - 1)
        return OCT_ENOMEM;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap = cap > SIZE_MAX / 2 ? b->n + len + 1 : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return OCT_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

static int sb_str(sbuf_t *b, const char *s)
{
    return sb_add(b, s ? s : "", s ? strlen(s) : 0);
}

/* ---- Python's str.strip() on UTF-8 -------------------------------------- */

/* Code points for which Python's str.isspace() is true. */
static bool py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Decode one UTF-8 sequence at S (N bytes available); returns its length, or
 * 0 when it is not valid UTF-8 (invalid bytes are never whitespace). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Trim Unicode whitespace at both ends of S[0..len): *start and *end bound the rest. */
static void py_strip(const char *s, size_t len, size_t *start, size_t *end)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = len;
    uint32_t cp;
    size_t k;
    while (a < b && (k = utf8_decode(u + a, b - a, &cp)) && py_isspace(cp))
        a += k;
    while (b > a) {
        size_t lead = b - 1; /* back up over continuation bytes to a sequence start */
        while (lead > a && b - lead < 4 && (u[lead] & 0xc0) == 0x80)
            lead--;
        k = utf8_decode(u + lead, b - lead, &cp);
        if (k != b - lead || !py_isspace(cp))
            break;
        b = lead;
    }
    *start = a;
    *end = b;
}

static int sb_strip(sbuf_t *b, const char *s, size_t len)
{
    size_t a, e;
    py_strip(s, len, &a, &e);
    return sb_add(b, s + a, e - a);
}

/* ---- templates ------------------------------------------------------------ */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *dup_s(const char *s)
{
    return dup_n(s, strlen(s));
}

static int tmpl_new(chat_tmpl_t **out, chat_kind_t kind, const char *name, const char *default_system,
                    errmsg_t *err)
{
    static const char *const BOS[] = {"", "", "<|begin_of_text|>", "<s>", DEEPSEEK_BOS};
    static const char *const EOS[] = {"", "<|im_end|>", "<|eot_id|>", "</s>", "<|EOT|>"};
    chat_tmpl_t *t = calloc(1, sizeof *t);
    if (!t)
        goto fail;
    t->kind = kind;
    t->name = dup_s(name);
    t->bos = dup_s(BOS[kind]);
    t->eos = dup_s(EOS[kind]);
    if (!t->name || !t->bos || !t->eos)
        goto fail;
    if (default_system && !(t->default_system = dup_s(default_system)))
        goto fail;
    *out = t;
    return 0;
fail:
    chat_tmpl_free(t);
    *out = NULL;
    return errmsg_set(err, OCT_ENOMEM, "chat: out of memory");
}

void chat_tmpl_free(chat_tmpl_t *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->default_system);
    free(t->bos);
    free(t->eos);
    free(t);
}

int chat_tmpl_by_name(chat_tmpl_t **out, const char *name, errmsg_t *err)
{
    static const struct {
        const char *name;
        chat_kind_t kind;
        const char *system;
    } NAMES[] = {
        {"none", CHAT_KIND_NONE, NULL},          {"chatml", CHAT_KIND_CHATML, NULL},
        {"qwen", CHAT_KIND_CHATML, QWEN_DEFAULT_SYSTEM},
        {"llama3", CHAT_KIND_LLAMA3, NULL},      {"llama2", CHAT_KIND_LLAMA2, NULL},
        {"codellama", CHAT_KIND_LLAMA2, NULL},   {"deepseek", CHAT_KIND_DEEPSEEK, DEEPSEEK_DEFAULT_SYSTEM},
    };
    *out = NULL;
    for (size_t i = 0; name && i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (!strcmp(name, NAMES[i].name))
            return tmpl_new(out, NAMES[i].kind, NAMES[i].kind == CHAT_KIND_LLAMA2 ? "llama2" : NAMES[i].name,
                            NAMES[i].system, err);
    return errmsg_set(err, OCT_EINVAL,
                      "unknown chat template '%s' (known: chatml, qwen, llama3, llama2, codellama, "
                      "deepseek, none)",
                      name ? name : "(null)");
}

/* Offset of NEEDLE in H[0..hn), or SIZE_MAX. */
static size_t mem_find(const char *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    for (size_t i = 0; nn && nn <= hn && i <= hn - nn; i++)
        if (h[i] == needle[0] && !memcmp(h + i, needle, nn))
            return i;
    return SIZE_MAX;
}

static bool mem_has(const char *h, size_t hn, const char *needle)
{
    return mem_find(h, hn, needle) != SIZE_MAX;
}

/* A default system prompt written as one string literal in a ChatML template:
 * '<|im_start|>system\nTEXT<|im_end|>...' with TEXT free of quotes and Jinja
 * syntax. Returns a malloc'd copy with Jinja's string escapes undone, NULL
 * when there is none; *oom is set on allocation failure. */
static char *chatml_default_system(const char *j, size_t len, bool *oom)
{
    static const char MARK[] = "<|im_start|>system";
    *oom = false;
    for (size_t at = 0, f; (f = mem_find(j + at, len - at, MARK)) != SIZE_MAX; at += f + 1) {
        size_t s = at + f + sizeof MARK - 1;
        if (len - s >= 2 && j[s] == '\\' && j[s + 1] == 'n')
            s += 2;
        else if (s < len && j[s] == '\n')
            s += 1;
        else
            continue;
        size_t n = mem_find(j + s, len - s, "<|im_end|>");
        if (n == SIZE_MAX || n == 0)
            continue;
        bool literal = true;
        for (size_t q = s; q < s + n && literal; q++) {
            if (j[q] == '\'' || j[q] == '"' || j[q] == '{' || j[q] == '}' || j[q] == '+')
                literal = false;
            else if (j[q] == '\\')
                q++;
        }
        if (!literal)
            continue;
        char *out = malloc(n + 1);
        if (!out) {
            *oom = true;
            return NULL;
        }
        size_t k = 0;
        for (size_t q = s; q < s + n; q++) {
            if (j[q] == '\\' && q + 1 < s + n) {
                q++;
                out[k++] = j[q] == 'n' ? '\n' : j[q] == 't' ? '\t' : j[q] == 'r' ? '\r' : j[q];
            } else {
                out[k++] = j[q];
            }
        }
        out[k] = '\0';
        return out;
    }
    return NULL;
}

int chat_tmpl_detect(chat_tmpl_t **out, const char *jinja, size_t len, errmsg_t *err)
{
    *out = NULL;
    if (!jinja || len == 0)
        return tmpl_new(out, CHAT_KIND_NONE, "none", NULL, err);
    if (mem_has(jinja, len, "<|start_header_id|>"))
        return tmpl_new(out, CHAT_KIND_LLAMA3, "llama3", NULL, err);
    if (mem_has(jinja, len, "<|im_start|>")) {
        bool oom;
        char *sys = chatml_default_system(jinja, len, &oom);
        if (oom)
            return errmsg_set(err, OCT_ENOMEM, "chat: out of memory");
        bool qwen = sys && !strcmp(sys, QWEN_DEFAULT_SYSTEM);
        int rc = tmpl_new(out, CHAT_KIND_CHATML, qwen ? "qwen" : "chatml", sys, err);
        free(sys);
        return rc;
    }
    if (mem_has(jinja, len, "[INST]"))
        return tmpl_new(out, CHAT_KIND_LLAMA2, "llama2", NULL, err);
    if (mem_has(jinja, len, "### Instruction:") && mem_has(jinja, len, "### Response:"))
        return tmpl_new(out, CHAT_KIND_DEEPSEEK, "deepseek", DEEPSEEK_DEFAULT_SYSTEM, err);
    return errmsg_set(err, OCT_ENOTFOUND,
                      "chat template not recognized (no ChatML, Llama 3, Llama 2 or DeepSeek markers); "
                      "choose one with --template");
}

/* The text of token ID of G's vocabulary, or NULL (no key, id out of range). */
static int gguf_token_text(const gguf_t *g, const char *id_key, char **out, errmsg_t *err)
{
    uint64_t id;
    gguf_arr_t toks;
    *out = NULL;
    if (gguf_get_uint(g, id_key, &id, NULL) || gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) ||
        toks.type != GGUF_TYPE_STRING || id >= toks.n)
        return 0;
    gguf_str_t s = gguf_arr_str(&toks, id);
    if (s.len > SIZE_MAX - 1 || !(*out = dup_n(s.ptr, (size_t)s.len)))
        return errmsg_set(err, OCT_ENOMEM, "chat: out of memory");
    return 0;
}

int chat_tmpl_from_gguf(chat_tmpl_t **out, const gguf_t *g, const char *name, errmsg_t *err)
{
    chat_tmpl_t *t = NULL;
    char *bos = NULL, *eos = NULL;
    int rc;
    *out = NULL;
    if (name) {
        rc = chat_tmpl_by_name(&t, name, err);
    } else {
        gguf_str_t j;
        int r = gguf_get_str(g, "tokenizer.chat_template", &j, NULL);
        if (r == OCT_ENOTFOUND) {
            rc = chat_tmpl_detect(&t, NULL, 0, err);
        } else if (r) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.chat_template is not a string", gguf_path(g));
        } else if (j.len > SIZE_MAX) {
            rc = errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.chat_template is too long", gguf_path(g));
        } else {
            rc = chat_tmpl_detect(&t, j.ptr, (size_t)j.len, err);
            if (rc == OCT_ENOTFOUND)
                errmsg_set(err, rc,
                           "%s: chat template not recognized (no ChatML, Llama 3, Llama 2 or DeepSeek "
                           "markers); choose one with --template",
                           gguf_path(g));
        }
    }
    if (rc)
        goto fail;
    if ((rc = gguf_token_text(g, "tokenizer.ggml.bos_token_id", &bos, err)) ||
        (rc = gguf_token_text(g, "tokenizer.ggml.eos_token_id", &eos, err)) ||
        (rc = chat_tmpl_set_special(t, bos, eos, err)))
        goto fail;
    free(bos);
    free(eos);
    *out = t;
    return 0;
fail:
    free(bos);
    free(eos);
    chat_tmpl_free(t);
    return rc;
}

int chat_tmpl_set_special(chat_tmpl_t *t, const char *bos, const char *eos, errmsg_t *err)
{
    char *b = bos ? dup_s(bos) : NULL, *e = eos ? dup_s(eos) : NULL;
    if ((bos && !b) || (eos && !e)) {
        free(b);
        free(e);
        return errmsg_set(err, OCT_ENOMEM, "chat: out of memory");
    }
    if (b) {
        free(t->bos);
        t->bos = b;
    }
    if (e) {
        free(t->eos);
        t->eos = e;
    }
    return 0;
}

chat_kind_t chat_tmpl_kind(const chat_tmpl_t *t)
{
    return t->kind;
}

const char *chat_tmpl_name(const chat_tmpl_t *t)
{
    return t->name;
}

const char *chat_tmpl_default_system(const chat_tmpl_t *t)
{
    return t->default_system;
}

bool chat_tmpl_writes_bos(const chat_tmpl_t *t)
{
    return (t->kind == CHAT_KIND_LLAMA3 || t->kind == CHAT_KIND_LLAMA2 || t->kind == CHAT_KIND_DEEPSEEK) &&
           t->bos[0] != '\0';
}

const char *chat_role_name(chat_role_t r)
{
    switch (r) {
    case CHAT_ROLE_SYSTEM:
        return "system";
    case CHAT_ROLE_USER:
        return "user";
    case CHAT_ROLE_ASSISTANT:
        return "assistant";
    }
    return "?";
}

int chat_role_parse(const char *s, chat_role_t *out, errmsg_t *err)
{
    for (int r = CHAT_ROLE_SYSTEM; r <= CHAT_ROLE_ASSISTANT; r++)
        if (s && !strcmp(s, chat_role_name((chat_role_t)r))) {
            *out = (chat_role_t)r;
            return 0;
        }
    return errmsg_set(err, OCT_EINVAL, "unknown chat role '%s' (known: system, user, assistant)",
                      s ? s : "(null)");
}

static const char *content(const chat_msg_t *m)
{
    return m->content ? m->content : "";
}

static int fmt_none(sbuf_t *b, const chat_msg_t *msgs, size_t n)
{
    int rc = 0;
    bool first = true;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!content(&msgs[i])[0])
            continue;
        if (!first)
            rc = sb_str(b, "\n\n");
        if (!rc)
            rc = sb_str(b, content(&msgs[i]));
        first = false;
    }
    return rc;
}

static int fmt_chatml(const chat_tmpl_t *t, sbuf_t *b, const chat_msg_t *msgs, size_t n, bool gen)
{
    int rc = 0;
    if (t->default_system && msgs[0].role != CHAT_ROLE_SYSTEM) {
        if ((rc = sb_str(b, "<|im_start|>system\n")) || (rc = sb_str(b, t->default_system)) ||
            (rc = sb_str(b, "<|im_end|>\n")))
            return rc;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!(rc = sb_str(b, "<|im_start|>")) && !(rc = sb_str(b, chat_role_name(msgs[i].role))) &&
            !(rc = sb_str(b, "\n")) && !(rc = sb_str(b, content(&msgs[i]))))
            rc = sb_str(b, "<|im_end|>\n");
    }
    if (!rc && gen)
        rc = sb_str(b, "<|im_start|>assistant\n");
    return rc;
}

static int fmt_llama3(const chat_tmpl_t *t, sbuf_t *b, const chat_msg_t *msgs, size_t n, bool gen)
{
    int rc = sb_str(b, t->bos);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *c = content(&msgs[i]);
        if (!(rc = sb_str(b, "<|start_header_id|>")) && !(rc = sb_str(b, chat_role_name(msgs[i].role))) &&
            !(rc = sb_str(b, "<|end_header_id|>\n\n")) && !(rc = sb_strip(b, c, strlen(c))))
            rc = sb_str(b, "<|eot_id|>");
    }
    if (!rc && gen)
        rc = sb_str(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return rc;
}

static int fmt_llama2(const chat_tmpl_t *t, sbuf_t *b, const chat_msg_t *msgs, size_t n, errmsg_t *err)
{
    size_t first = 0;
    const char *sys = NULL;
    if (msgs[0].role == CHAT_ROLE_SYSTEM) {
        sys = content(&msgs[0]);
        first = 1;
    }
    sbuf_t c = {0};
    int rc = 0;
    for (size_t i = first; i < n && !rc; i++) {
        size_t k = i - first; /* the template's loop.index0 */
        if ((msgs[i].role == CHAT_ROLE_USER) != (k % 2 == 0)) {
            rc = errmsg_set(err, OCT_EINVAL,
                            "chat: message %zu (%s): the llama2 template needs user/assistant turns "
                            "alternating, starting with user",
                            i + 1, chat_role_name(msgs[i].role));
            break;
        }
        c.n = 0;
        if (k == 0 && sys && ((rc = sb_str(&c, "<<SYS>>\n")) || (rc = sb_str(&c, sys)) ||
                              (rc = sb_str(&c, "\n<</SYS>>\n\n"))))
            break;
        if ((rc = sb_str(&c, content(&msgs[i]))))
            break;
        if (msgs[i].role == CHAT_ROLE_USER) {
            if (!(rc = sb_str(b, t->bos)) && !(rc = sb_str(b, "[INST] ")) && !(rc = sb_strip(b, c.p, c.n)))
                rc = sb_str(b, " [/INST]");
        } else if (msgs[i].role == CHAT_ROLE_ASSISTANT) {
            if (!(rc = sb_str(b, " ")) && !(rc = sb_strip(b, c.p, c.n)) && !(rc = sb_str(b, " ")))
                rc = sb_str(b, t->eos);
        }
    }
    free(c.p);
    return rc;
}

static int fmt_deepseek(const chat_tmpl_t *t, sbuf_t *b, const chat_msg_t *msgs, size_t n, bool gen)
{
    bool has_system = false;
    for (size_t i = 0; i < n; i++)
        has_system |= msgs[i].role == CHAT_ROLE_SYSTEM;
    int rc = sb_str(b, t->bos);
    if (!rc && !has_system && t->default_system)
        rc = sb_str(b, t->default_system);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *c = content(&msgs[i]);
        switch (msgs[i].role) {
        case CHAT_ROLE_SYSTEM:
            rc = sb_str(b, c);
            break;
        case CHAT_ROLE_USER:
            if (!(rc = sb_str(b, "### Instruction:\n")) && !(rc = sb_str(b, c)))
                rc = sb_str(b, "\n");
            break;
        case CHAT_ROLE_ASSISTANT:
            if (!(rc = sb_str(b, "### Response:\n")) && !(rc = sb_str(b, c)))
                rc = sb_str(b, "\n<|EOT|>\n");
            break;
        }
    }
    if (!rc && gen)
        rc = sb_str(b, "### Response:\n");
    return rc;
}

int chat_format(const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, bool add_generation_prompt,
                char **out, size_t *len, errmsg_t *err)
{
    sbuf_t b = {0};
    int rc;
    *out = NULL;
    if (len)
        *len = 0;
    if (n == 0 || !msgs)
        return errmsg_set(err, OCT_EINVAL, "chat: the conversation has no messages");
    for (size_t i = 0; i < n; i++)
        if (msgs[i].role != CHAT_ROLE_SYSTEM && msgs[i].role != CHAT_ROLE_USER &&
            msgs[i].role != CHAT_ROLE_ASSISTANT)
            return errmsg_set(err, OCT_EINVAL, "chat: message %zu has an invalid role (%d)", i + 1,
                              (int)msgs[i].role);
    if ((rc = sb_add(&b, "", 0)))
        goto fail;
    switch (t->kind) {
    case CHAT_KIND_NONE:
        rc = fmt_none(&b, msgs, n);
        break;
    case CHAT_KIND_CHATML:
        rc = fmt_chatml(t, &b, msgs, n, add_generation_prompt);
        break;
    case CHAT_KIND_LLAMA3:
        rc = fmt_llama3(t, &b, msgs, n, add_generation_prompt);
        break;
    case CHAT_KIND_LLAMA2:
        rc = fmt_llama2(t, &b, msgs, n, err);
        break;
    case CHAT_KIND_DEEPSEEK:
        rc = fmt_deepseek(t, &b, msgs, n, add_generation_prompt);
        break;
    }
    if (rc)
        goto fail;
    *out = b.p;
    if (len)
        *len = b.n;
    return 0;
fail:
    free(b.p);
    if (rc == OCT_ENOMEM)
        return errmsg_set(err, OCT_ENOMEM, "chat: out of memory formatting %zu messages", n);
    return rc;
}

/* ---- fill-in-the-middle -------------------------------------------------- */

static const struct {
    chat_fim_style_t style;
    const char *pre, *suf, *mid, *eot, *space;
    const char *text_pre, *text_suf, *text_mid;
} FIM[] = {
    {CHAT_FIM_QWEN, "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>", NULL,
     "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"},
    {CHAT_FIM_STARCODER, "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>", NULL,
     "<fim_prefix>", "<fim_suffix>", "<fim_middle>"},
    /* CodeLlama stores its FIM tokens with SentencePiece's space mark */
    {CHAT_FIM_CODELLAMA, "\xe2\x96\x81<PRE>", "\xe2\x96\x81<SUF>", "\xe2\x96\x81<MID>", "\xe2\x96\x81<EOT>",
     "\xe2\x96\x81", "<PRE> ", " <SUF>", " <MID>"},
    {CHAT_FIM_CODELLAMA, "<PRE>", "<SUF>", "<MID>", "<EOT>", "\xe2\x96\x81", "<PRE> ", " <SUF>", " <MID>"},
};
#define N_FIM (sizeof FIM / sizeof FIM[0])

const char *chat_fim_style_name(chat_fim_style_t s)
{
    switch (s) {
    case CHAT_FIM_NONE:
        return "none";
    case CHAT_FIM_QWEN:
        return "qwen";
    case CHAT_FIM_STARCODER:
        return "starcoder";
    case CHAT_FIM_CODELLAMA:
        return "codellama";
    }
    return "?";
}

int chat_fim_detect(chat_fim_t *out, chat_lookup_fn lookup, void *ctx, errmsg_t *err)
{
    *out = (chat_fim_t){CHAT_FIM_NONE, -1, -1, -1, -1, -1};
    for (size_t i = 0; i < N_FIM; i++) {
        int32_t pre = lookup(ctx, FIM[i].pre), suf = lookup(ctx, FIM[i].suf), mid = lookup(ctx, FIM[i].mid);
        if (pre < 0 || suf < 0 || mid < 0)
            continue;
        out->style = FIM[i].style;
        out->pre = pre;
        out->suf = suf;
        out->mid = mid;
        out->eot = lookup(ctx, FIM[i].eot);
        out->space = FIM[i].space ? lookup(ctx, FIM[i].space) : -1;
        return 0;
    }
    return errmsg_set(err, OCT_ENOTFOUND,
                      "the vocabulary has no fill-in-the-middle tokens (<|fim_prefix|>, <fim_prefix> or "
                      "<PRE> with their suffix/middle tokens)");
}

int chat_fim_format(chat_fim_style_t style, const char *prefix, const char *suffix, char **out,
                    size_t *len, errmsg_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    for (size_t i = 0; i < N_FIM; i++) {
        if (FIM[i].style != style)
            continue;
        sbuf_t b = {0};
        if (sb_str(&b, FIM[i].text_pre) || sb_str(&b, prefix) || sb_str(&b, FIM[i].text_suf) ||
            sb_str(&b, suffix) || sb_str(&b, FIM[i].text_mid)) {
            free(b.p);
            return errmsg_set(err, OCT_ENOMEM, "chat: out of memory formatting a FIM prompt");
        }
        *out = b.p;
        if (len)
            *len = b.n;
        return 0;
    }
    return errmsg_set(err, OCT_EINVAL, "chat: no fill-in-the-middle format for style %d", (int)style);
}

int chat_fim_tokens(const chat_fim_t *fim, const char *prefix, const char *suffix, int32_t bos,
                    chat_encode_fn encode, void *ctx, int32_t **ids, size_t *n, errmsg_t *err)
{
    int32_t *pre = NULL, *suf = NULL, *all = NULL;
    size_t npre = 0, nsuf = 0;
    int rc;
    *ids = NULL;
    *n = 0;
    if (fim->style == CHAT_FIM_NONE || fim->pre < 0 || fim->suf < 0 || fim->mid < 0)
        return errmsg_set(err, OCT_EINVAL, "chat: the model has no fill-in-the-middle tokens");
    prefix = prefix ? prefix : "";
    suffix = suffix ? suffix : "";
    if ((rc = encode(ctx, prefix, strlen(prefix), &pre, &npre, err)) ||
        (rc = encode(ctx, suffix, strlen(suffix), &suf, &nsuf, err)))
        goto fail;
    size_t skip = fim->style == CHAT_FIM_CODELLAMA && fim->space >= 0 && nsuf > 0 && suf[0] == fim->space;
    bool with_bos = fim->style == CHAT_FIM_CODELLAMA && bos >= 0;
    size_t total = (size_t)with_bos + 3 + npre + (nsuf - skip);
    if (total < npre || !(all = malloc(total * sizeof *all))) {
        rc = errmsg_set(err, OCT_ENOMEM, "chat: out of memory building a FIM prompt");
        goto fail;
    }
    size_t k = 0;
    if (with_bos)
        all[k++] = bos;
    all[k++] = fim->pre;
    if (npre)
        memcpy(all + k, pre, npre * sizeof *all);
    k += npre;
    all[k++] = fim->suf;
    if (nsuf - skip)
        memcpy(all + k, suf + skip, (nsuf - skip) * sizeof *all);
    k += nsuf - skip;
    all[k++] = fim->mid;
    free(pre);
    free(suf);
    *ids = all;
    *n = k;
    return 0;
fail:
    free(pre);
    free(suf);
    return rc;
}
