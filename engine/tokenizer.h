/* tokenizer.h - exact tokenizers built from a GGUF file's tokenizer.ggml.*
 * data: byte-level BPE ("gpt2" model, with the pre-tokenizer named by
 * tokenizer.ggml.pre, split patterns run by PCRE2) and SentencePiece
 * ("llama" model). Output matches llama.cpp's test vectors exactly.
 *
 * Special entries written in the text: user-defined entries (token type 4,
 * e.g. deepseek-coder's "ü" or "<|User|>") are always recognized, as
 * llama.cpp and Hugging Face do and as the test vectors require; control and
 * unknown entries (types 3 and 2, e.g. "<|im_start|>", "<s>") only with
 * TOK_PARSE_SPECIAL. Entries that end a turn or generation ("<|eot_id|>",
 * "<|im_end|>", "<|EOT|>", "<|endoftext|>", ...) are treated as control
 * entries whatever their stored type, so text from a user's files cannot
 * end a turn. Where two entries could match, the longest wins.
 *
 * BOS/EOS: tokenizer.ggml.add_bos_token / add_eos_token decide; when absent,
 * SentencePiece adds BOS, byte-level BPE does not, except the Llama 3
 * pre-tokenizers (llama-bpe...) for which llama.cpp adds it too.
 *
 * Round trip: tok_decode(tok_encode(text)) == text for any valid UTF-8, and
 * for any bytes, as long as the vocabulary has an entry for each byte of the
 * text: deepseek-coder has none for C0, C1 and F5..FF (bytes UTF-8 never
 * uses), starcoder none for those and F1 (the lead byte of the unassigned
 * planes 4 to 7); such bytes become the unknown token or are dropped, as in
 * llama.cpp. One exception by design of the model: Phi-3's "</s>"
 * (user-defined, so recognized in any text) and its chat markers (with
 * TOK_PARSE_SPECIAL) swallow the white space after them, as llama.cpp and
 * Hugging Face do. */
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
    TOK_PARSE_SPECIAL = 1 << 2, /* recognize control/unknown entries written in the text */
};

/* Build the tokenizer of G. The tokenizer copies what it needs: G may be
 * closed afterwards. Errors name the file and the offending key. */
int tok_load(tok_t **out, const gguf_t *g, errmsg_t *err);
void tok_free(tok_t *t);

tok_kind_t tok_kind(const tok_t *t);
const char *tok_pre_name(const tok_t *t); /* pre-tokenizer in use, e.g. "qwen2"; "" for SPM */
uint32_t tok_n_vocab(const tok_t *t);
/* Whether TOK_ADD_BOS / TOK_ADD_EOS add a token for this model. */
bool tok_add_bos(const tok_t *t);
bool tok_add_eos(const tok_t *t);

/* Encode LEN bytes of TEXT. *ids is malloc'd (caller frees), *n its length.
 * Invalid UTF-8 is encoded byte by byte, never rejected. Thread-safe: T is
 * only read. SentencePiece puts a space (U+2581) before the text and after
 * every special entry cut out of it, as llama.cpp does. A U+2581 written in
 * the text is encoded as its three <0xNN> byte tokens, so that it does not
 * decode as a space. */
int tok_encode(const tok_t *t, const char *text, size_t len, int flags, int32_t **ids, size_t *n,
               errmsg_t *err);
/* tok_encode, but no special entry (control or user-defined) is recognized
 * inside the N_PLAIN byte ranges [PLAIN[2i], PLAIN[2i+1]) (sorted, not
 * overlapping), nor one that starts outside and reaches into them: text there
 * (a chat message's content) is always encoded as text. */
int tok_encode_ranges(const tok_t *t, const char *text, size_t len, int flags, const size_t *plain, size_t n_plain,
                      int32_t **ids, size_t *n, errmsg_t *err);

/* The bytes token ID stands for in decoded text (byte-level mapping undone,
 * SentencePiece's U+2581 turned into a space, <0xNN> into the byte).
 * Control, unknown and unused entries give their text only when
 * render_special is true; user-defined entries always give theirs. A piece
 * may be part of a UTF-8 character. Returns the length (0 for an id out of
 * range); *out points into the tokenizer (not NUL-terminated). */
size_t tok_piece(const tok_t *t, int32_t id, bool render_special, const char **out);

/* Decode N ids into a malloc'd NUL-terminated string; *len (may be NULL)
 * gets its length. The pieces are concatenated, except that for
 * SentencePiece vocabularies that add a space prefix, the space the encoder
 * added is removed again: one leading space of the first piece (after a
 * leading BOS) and of the first piece after each special entry. An id out of
 * range is an error naming it (OCT_EINVAL). */
int tok_decode(const tok_t *t, const int32_t *ids, size_t n, bool render_special,
               char **out, size_t *len, errmsg_t *err);

/* The vocabulary entry as stored (e.g. "Ġhello", "▁hello", "<|im_start|>");
 * NULL for an id out of range. */
const char *tok_token_text(const tok_t *t, int32_t id);
/* Id of the vocabulary entry whose stored text is exactly TEXT, or -1. */
int32_t tok_find(const tok_t *t, const char *text);

/* The entries whose piece (tok_piece without render_special) starts with
 * the LEN bytes of PREFIX: *IDS points to *N ids inside the tokenizer, in
 * the byte order of their pieces (so entries whose piece is exactly PREFIX
 * come first). Entries with an empty piece (control, unknown, unused) are
 * left out. The sorted index is built on the first call (thread-safe);
 * OCT_ENOMEM if it cannot be. LEN 0 gives every entry with a piece. */
int tok_prefix_range(const tok_t *t, const char *prefix, size_t len, const int32_t **ids, size_t *n,
                     errmsg_t *err);

/* Special ids; -1 when the model has none. */
int32_t tok_bos(const tok_t *t);
int32_t tok_eos(const tok_t *t);
/* End of turn: tokenizer.ggml.eot_token_id, else the first of <|eot_id|>,
 * <|im_end|>, <|EOT|>, <|end|>, <end_of_turn> in the vocabulary. */
int32_t tok_eot(const tok_t *t);
/* True for ids that end generation: EOS, EOT and other end-of-generation
 * tokens (<|endoftext|>, <|eom_id|>, Qwen's <|fim_pad|>, <|repo_name|>,
 * <|file_sep|>...). */
bool tok_is_eog(const tok_t *t, int32_t id);
/* True for control, user-defined and unknown entries: those cut out of the
 * text before the merges (user-defined always, the others with
 * TOK_PARSE_SPECIAL). */
bool tok_is_special(const tok_t *t, int32_t id);

/* Split LEN bytes of TEXT the way byte-level BPE pre-tokenizer PRE (a
 * tokenizer.ggml.pre value; NULL or "" for "default") does before merging.
 * *ends (malloc'd, caller frees) receives the end offset of each piece, *n
 * their number; the last end is LEN. OCT_EUNSUPPORTED for an unknown PRE. */
int tok_pre_split(const char *pre, const char *text, size_t len, size_t **ends, size_t *n, errmsg_t *err);

#endif
