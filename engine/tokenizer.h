/* tokenizer.h - exact tokenizers built from a GGUF file's tokenizer.ggml.*
 * data: byte-level BPE ("gpt2" model, with the pre-tokenizer named by
 * tokenizer.ggml.pre, split patterns run by PCRE2) and SentencePiece
 * ("llama" model). Output matches llama.cpp's test vectors exactly. */
#ifndef OCTET_TOKENIZER_H
#define OCTET_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "gguf.h"

typedef struct tok tok_t;

typedef enum tok_kind {
    TOK_KIND_BPE, /* tokenizer.ggml.model == "gpt2" */
    TOK_KIND_SPM, /* tokenizer.ggml.model == "llama" */
} tok_kind_t;

/* Flags for tok_encode. */
enum {
    TOK_ADD_BOS = 1 << 0,       /* prepend BOS when the model's metadata asks for it */
    TOK_ADD_EOS = 1 << 1,       /* append EOS when the model's metadata asks for it */
    TOK_PARSE_SPECIAL = 1 << 2, /* recognize special/control tokens written in the text */
};

/* Build the tokenizer of G. The tokenizer copies what it needs: G may be
 * closed afterwards. */
int tok_load(tok_t **out, const gguf_t *g, errmsg_t *err);
void tok_free(tok_t *t);

tok_kind_t tok_kind(const tok_t *t);
const char *tok_pre_name(const tok_t *t); /* pre-tokenizer in use, e.g. "qwen2"; "" for SPM */
uint32_t tok_n_vocab(const tok_t *t);

/* Encode LEN bytes of TEXT. *ids is malloc'd (caller frees), *n its length.
 * Invalid UTF-8 is encoded byte by byte, never rejected. */
int tok_encode(const tok_t *t, const char *text, size_t len, int flags, int32_t **ids, size_t *n,
               errmsg_t *err);

/* The bytes token ID stands for in decoded text (byte-level mapping undone,
 * SentencePiece's U+2581 turned into a space, <0xNN> into the byte). Special
 * and control tokens give their text only when render_special is true.
 * Returns the length; *out points into the tokenizer (not NUL-terminated). */
size_t tok_piece(const tok_t *t, int32_t id, bool render_special, const char **out);

/* Decode N ids into a malloc'd NUL-terminated string. Like llama.cpp, the
 * leading space SentencePiece adds is removed when remove_leading_space. */
int tok_decode(const tok_t *t, const int32_t *ids, size_t n, bool render_special,
               char **out, size_t *len, errmsg_t *err);

/* The vocabulary entry as stored (e.g. "Ġhello", "▁hello", "<|im_start|>"). */
const char *tok_token_text(const tok_t *t, int32_t id);
/* Id of the vocabulary entry whose stored text is exactly TEXT, or -1. */
int32_t tok_find(const tok_t *t, const char *text);

/* Special ids; -1 when the model has none. */
int32_t tok_bos(const tok_t *t);
int32_t tok_eos(const tok_t *t);
int32_t tok_eot(const tok_t *t); /* end of turn (<|im_end|>, <|eot_id|>, <|EOT|>...) */
/* True for ids that end generation: EOS, EOT and other end-of-generation tokens. */
bool tok_is_eog(const tok_t *t, int32_t id);
/* True for control/user-defined tokens (those matched only with TOK_PARSE_SPECIAL). */
bool tok_is_special(const tok_t *t, int32_t id);

#endif
