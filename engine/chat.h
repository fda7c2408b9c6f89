/* chat.h - prompt formats: a conversation (system/user/assistant turns)
 * turned into the text an instruction-tuned model was trained on, and
 * fill-in-the-middle (FIM) prompts for code completion.
 *
 * Chat formats reproduce, byte for byte, what Hugging Face's
 * apply_chat_template renders with the real template of each family:
 *   chatml    <|im_start|>ROLE\n...<|im_end|>\n            (generic ChatML)
 *   qwen      ChatML with Qwen2.5(-Coder)'s default system prompt
 *   llama3    <|start_header_id|>ROLE<|end_header_id|>\n\n...<|eot_id|>
 *   llama2    [INST] <<SYS>>...<</SYS>> ... [/INST] (Llama 2 chat, CodeLlama-Instruct)
 *   deepseek  ### Instruction: / ### Response: (DeepSeek-Coder instruct)
 *   none      plain completion: the message contents, nothing added
 * chosen by name (--template) or recognized from the markers of a model's
 * tokenizer.chat_template. octet does not run Jinja: the formats are coded
 * here and checked against renderings of the real templates
 * (tests/fixtures/chat/).
 *
 * BOS handling: llama3, llama2 and deepseek templates write the BOS text
 * themselves (llama2 before every user turn, and EOS text after every
 * assistant turn), as HF does; tokenize their output with TOK_PARSE_SPECIAL
 * and WITHOUT TOK_ADD_BOS, or the BOS is doubled. chatml, qwen and none leave
 * BOS to the tokenizer: tokenize with TOK_ADD_BOS (it adds one only when the
 * model's metadata asks for it; Qwen's does not). chat_tmpl_writes_bos() says
 * which case applies. The BOS/EOS texts come from the model's tokenizer
 * (chat_tmpl_set_special); without them the defaults are Llama's <s> / </s>
 * for llama2, <|begin_of_text|> for llama3, DeepSeek's BOS for deepseek. */
#ifndef OCTET_CHAT_H
#define OCTET_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "gguf.h"

typedef enum chat_role {
    CHAT_ROLE_SYSTEM,
    CHAT_ROLE_USER,
    CHAT_ROLE_ASSISTANT,
} chat_role_t;

typedef struct chat_msg {
    chat_role_t role;
    const char *content; /* NUL-terminated UTF-8; NULL is read as "" */
} chat_msg_t;

typedef enum chat_kind {
    CHAT_KIND_NONE,
    CHAT_KIND_CHATML, /* also "qwen": ChatML with a default system prompt */
    CHAT_KIND_LLAMA3,
    CHAT_KIND_LLAMA2,
    CHAT_KIND_DEEPSEEK,
} chat_kind_t;

typedef struct chat_tmpl chat_tmpl_t;

/* By name: chatml, qwen, llama3, llama2 (alias codellama), deepseek, none.
 * An unknown name gives OCT_EINVAL with the list of names. */
int chat_tmpl_by_name(chat_tmpl_t **out, const char *name, errmsg_t *err);

/* Recognize a Jinja chat template (LEN bytes) by its markers. An empty
 * template gives "none". A template with none of the known markers gives
 * OCT_ENOTFOUND (the caller may fall back to "none" or ask for --template).
 * For ChatML a default system prompt written as a literal in the template
 * (Qwen's "You are Qwen, created by Alibaba Cloud...") is kept. */
int chat_tmpl_detect(chat_tmpl_t **out, const char *jinja, size_t len, errmsg_t *err);

/* The template of model file G: by NAME when NAME is not NULL, else detected
 * from its tokenizer.chat_template ("none" when the file has none); the BOS
 * and EOS texts are taken from its tokenizer.ggml.tokens when present. */
int chat_tmpl_from_gguf(chat_tmpl_t **out, const gguf_t *g, const char *name, errmsg_t *err);

void chat_tmpl_free(chat_tmpl_t *t);

/* The texts of the model's BOS and EOS tokens (as tok_token_text gives them),
 * written by templates that use them. NULL keeps the current text; "" means
 * the model has no such token. */
int chat_tmpl_set_special(chat_tmpl_t *t, const char *bos, const char *eos, errmsg_t *err);

chat_kind_t chat_tmpl_kind(const chat_tmpl_t *t);
const char *chat_tmpl_name(const chat_tmpl_t *t); /* as chat_tmpl_by_name accepts it */
/* Default system prompt used when the conversation has none; NULL when none. */
const char *chat_tmpl_default_system(const chat_tmpl_t *t);
/* True when the formatted text starts with the BOS text (see BOS handling above). */
bool chat_tmpl_writes_bos(const chat_tmpl_t *t);

/* Format N messages. With add_generation_prompt the text ends with the
 * header of an assistant turn (templates without one, llama2 and none, add
 * nothing). *out is malloc'd and NUL-terminated (caller frees), *len its
 * length (LEN may be NULL). Conversations the real template refuses give
 * OCT_EINVAL: llama2 needs user/assistant turns alternating, starting with
 * user (after an optional first system message). */
int chat_format(const chat_tmpl_t *t, const chat_msg_t *msgs, size_t n, bool add_generation_prompt,
                char **out, size_t *len, errmsg_t *err);

const char *chat_role_name(chat_role_t r); /* "system", "user", "assistant" */
/* "system"/"user"/"assistant" -> role; OCT_EINVAL otherwise. */
int chat_role_parse(const char *s, chat_role_t *out, errmsg_t *err);

/* ---- fill-in-the-middle ------------------------------------------------ */

typedef enum chat_fim_style {
    CHAT_FIM_NONE,
    CHAT_FIM_QWEN,      /* <|fim_prefix|>pre<|fim_suffix|>suf<|fim_middle|>  (Qwen2.5-Coder) */
    CHAT_FIM_STARCODER, /* <fim_prefix>pre<fim_suffix>suf<fim_middle>        (StarCoder, StarCoder2) */
    CHAT_FIM_CODELLAMA, /* <PRE> pre <SUF>suf <MID>                           (CodeLlama) */
} chat_fim_style_t;

typedef struct chat_fim {
    chat_fim_style_t style;
    int32_t pre, suf, mid; /* ids of the prefix/suffix/middle tokens */
    int32_t eot;           /* id that ends an infill (<|endoftext|>, <EOT>...); -1 when none */
    int32_t space;         /* CodeLlama: id of the lone "▁" token; -1 otherwise */
} chat_fim_t;

/* Token lookup: the id of the vocabulary entry whose stored text is exactly
 * TEXT, or -1 (tok_find has this meaning; wrap it to pass a tok_t). */
typedef int32_t (*chat_lookup_fn)(void *ctx, const char *text);

/* Which FIM style the vocabulary supports, by the tokens it has. Returns 0,
 * or OCT_ENOTFOUND (out->style == CHAT_FIM_NONE) when it has no FIM tokens. */
int chat_fim_detect(chat_fim_t *out, chat_lookup_fn lookup, void *ctx, errmsg_t *err);

/* The FIM prompt as text, in the style's documented form. For qwen and
 * starcoder tokenizing this text with TOK_PARSE_SPECIAL (and no BOS) gives
 * exactly the model's prompt; for CodeLlama, whose FIM tokens are stored as
 * "▁<PRE>" etc., use chat_fim_tokens. *out is malloc'd and NUL-terminated. */
int chat_fim_format(chat_fim_style_t style, const char *prefix, const char *suffix, char **out,
                    size_t *len, errmsg_t *err);

/* Plain-text tokenizer callback for chat_fim_tokens: LEN bytes of TEXT to
 * malloc'd ids, no BOS/EOS, special tokens not parsed (tok_encode with
 * flags 0 has this meaning). 0 or OCT_E*. */
typedef int (*chat_encode_fn)(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                              errmsg_t *err);

/* The FIM prompt as ids, prefix-suffix-middle order, as llama.cpp builds it:
 * [BOS] PRE enc(prefix) SUF enc(suffix) MID. BOS (when >= 0) is written only
 * for CodeLlama, which was trained with it; for CodeLlama a leading lone "▁"
 * token of enc(suffix) is dropped (SentencePiece's dummy space prefix does
 * not belong there). *ids is malloc'd (caller frees). */
int chat_fim_tokens(const chat_fim_t *fim, const char *prefix, const char *suffix, int32_t bos,
                    chat_encode_fn encode, void *ctx, int32_t **ids, size_t *n, errmsg_t *err);

const char *chat_fim_style_name(chat_fim_style_t s); /* "none", "qwen", "starcoder", "codellama" */

#endif
