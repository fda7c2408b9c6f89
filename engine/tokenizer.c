/* tokenizer.c - byte-level BPE and SentencePiece tokenizers built from the
 * tokenizer.ggml.* metadata of a GGUF file, matching llama.cpp token for
 * token (its test vectors are in tests/fixtures/vocab/).
 *
 * Encoding has three stages:
 *  1. partition: special tokens written in the text are cut out (user-defined
 *     tokens always, control/unknown ones with TOK_PARSE_SPECIAL);
 *  2. BPE: each remaining fragment is split by the pre-tokenizer's patterns
 *     (tok_pre.c), and the bytes of each piece are merged by rank (GPT-2's
 *     byte-to-unicode mapping is folded into per-byte start tokens);
 *     SPM: spaces become U+2581, a leading one is added, and adjacent
 *     symbols are merged by the score of the vocabulary entry they form,
 *     with <0xNN> byte tokens for what no entry covers;
 *  3. BOS/EOS around the result when the metadata asks for them.
 * Both merge loops use a binary heap with lazy invalidation, so a piece of
 * n bytes costs O(n log n) however long it is. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tok_pre.h"
#include "tokenizer.h"

/* Token types as GGUF stores them in tokenizer.ggml.token_type. */
enum {
    TT_UNDEFINED = 0,
    TT_NORMAL = 1,
    TT_UNKNOWN = 2,
    TT_CONTROL = 3,
    TT_USER_DEFINED = 4,
    TT_UNUSED = 5,
    TT_BYTE = 6,
};

/* Per-token attributes derived from the type and the special-token lists. */
enum {
    A_MATCH_ALWAYS = 1 << 0,  /* user-defined: cut out of any text */
    A_MATCH_SPECIAL = 1 << 1, /* control/unknown: cut out with TOK_PARSE_SPECIAL */
    A_HIDDEN = 1 << 2,        /* piece rendered only with render_special */
    A_RSTRIP = 1 << 3,        /* matched: eat white space after it */
    A_EOG = 1 << 4,           /* ends generation */
    A_MERGEABLE = 1 << 5,     /* SPM: may be formed from text by merges */
};

#define SPM_SPACE "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */
#define MAX_TEXT_LEN ((size_t)1 << 30)

typedef struct merge_ent {
    uint64_t key; /* (left id + 1) << 32 | right id; 0 = empty slot */
    uint32_t rank;
    int32_t merged;
} merge_ent_t;

typedef struct id_map {
    uint32_t *slot; /* id + 1; 0 = empty */
    size_t mask;
} id_map_t;

struct tok {
    tok_kind_t kind;
    uint32_t n;
    char *texts;      /* every entry's text, each NUL-terminated */
    size_t *text_off; /* n + 1 offsets into texts */
    char *pieces;     /* decoded bytes of each entry */
    size_t *piece_off;
    uint8_t *type;
    uint8_t *attr;
    float *score;
    size_t max_len; /* longest entry text, in bytes */
    id_map_t by_text;
    id_map_t by_piece; /* BPE with ignore_merges: decoded bytes -> normal entry */
    merge_ent_t *merges;
    size_t merge_mask;
    int32_t byte_tok[256]; /* entry for each single byte, or -1 */
    tok_pre_t *pre;
    bool add_bos, add_eos, add_space_prefix;
    bool spm_words; /* SPM: no entry has U+2581 after another character */
    int32_t bos, eos, eot, eom, unk;
    int32_t *special; /* matchable entries by first byte, longest first */
    size_t special_start[257];
    /* entries with a visible piece sorted by piece bytes (tok_prefix_range),
     * built on first use */
    pthread_mutex_t sorted_lock;
    atomic_bool sorted_ready;
    int32_t *sorted;
    size_t n_sorted;
};

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix64(h ^ w);
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w);
}

static size_t table_size(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    return cap;
}

static const char *text_of(const tok_t *t, int32_t id, size_t *len)
{
    *len = t->text_off[id + 1] - t->text_off[id] - 1;
    return t->texts + t->text_off[id];
}

static const char *piece_of(const tok_t *t, int32_t id, size_t *len)
{
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

typedef const char *(*key_fn)(const tok_t *t, int32_t id, size_t *len);

static int32_t map_find(const tok_t *t, const id_map_t *m, key_fn key, const char *s, size_t n)
{
    if (!m->slot)
        return -1;
    for (size_t i = hash_bytes(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slot[i];
        if (!v)
            return -1;
        size_t kl;
        const char *k = key(t, (int32_t)(v - 1), &kl);
        if (kl == n && memcmp(k, s, n) == 0)
            return (int32_t)(v - 1);
    }
}

/* Insert ID under its key; returns the id already there, or -1. */
static int32_t map_insert(const tok_t *t, id_map_t *m, key_fn key, int32_t id)
{
    size_t n;
    const char *s = key(t, id, &n);
    for (size_t i = hash_bytes(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slot[i];
        if (!v) {
            m->slot[i] = (uint32_t)id + 1;
            return -1;
        }
        size_t kl;
        const char *k = key(t, (int32_t)(v - 1), &kl);
        if (kl == n && memcmp(k, s, n) == 0)
            return (int32_t)(v - 1);
    }
}

static int32_t find_text(const tok_t *t, const char *s, size_t n)
{
    return map_find(t, &t->by_text, text_of, s, n);
}

static const merge_ent_t *merge_find(const tok_t *t, int32_t l, int32_t r)
{
    if (!t->merges)
        return NULL;
    uint64_t key = ((uint64_t)(uint32_t)(l + 1) << 32) | (uint32_t)r;
    for (size_t i = mix64(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        const merge_ent_t *e = &t->merges[i];
        if (e->key == key)
            return e;
        if (!e->key)
            return NULL;
    }
}

/* ---- UTF-8 and GPT-2's byte mapping ------------------------------------- */

/* Length of the valid UTF-8 sequence at S (N bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static unsigned utf8_decode(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    unsigned cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

/* UTF-8 of a code point below U+10000 (all the byte mapping needs). */
static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* GPT-2 shows each byte as a printable code point: the printable Latin-1
 * bytes stand for themselves, the others take 256, 257, ... in order. */
static unsigned byte_to_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))
        return b;
    unsigned n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || (i >= 0xae && i <= 0xff)))
            n++;
    return 256 + n;
}

/* <0xNN> -> NN, or -1. */
static int parse_byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>' || !isxdigit((unsigned char)s[3]) ||
        !isxdigit((unsigned char)s[4]))
        return -1;
    char hex[3] = {s[3], s[4], 0};
    return (int)strtol(hex, NULL, 16);
}

/* ---- loading ------------------------------------------------------------ */

/* Optional integer id key: -1 when absent; error when out of range. */
static int get_id(const gguf_t *g, const char *key, uint32_t n, int32_t *out, errmsg_t *err)
{
    int64_t v;
    *out = -1;
    int rc = gguf_get_int(g, key, &v, err);
    if (rc == OCT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v < 0 || v >= (int64_t)n)
        return errmsg_set(err, OCT_EFORMAT, "%s: %s = %lld is not a token id (the vocabulary has %u tokens)",
                          gguf_path(g), key, (long long)v, n);
    *out = (int32_t)v;
    return 0;
}

static int get_flag(const gguf_t *g, const char *key, bool *out, errmsg_t *err)
{
    int rc = gguf_get_bool(g, key, out, err);
    return rc == OCT_ENOTFOUND ? 0 : rc;
}

static int load_texts(tok_t *t, const gguf_t *g, errmsg_t *err)
{
    gguf_arr_t arr;
    int rc = gguf_get_arr(g, "tokenizer.ggml.tokens", &arr, err);
    if (rc)
        return rc;
    if (arr.type != GGUF_TYPE_STRING)
        return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.tokens is an array of %s, expected strings",
                          gguf_path(g), gguf_type_name(arr.type));
    if (arr.n == 0 || arr.n > INT32_MAX - 1)
        return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.tokens has %llu entries", gguf_path(g),
                          (unsigned long long)arr.n);
    t->n = (uint32_t)arr.n;
    size_t total = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        gguf_str_t s = gguf_arr_str(&arr, i);
        total += s.len + 1; /* bounded by the file size, validated by gguf_open */
        if (s.len > t->max_len)
            t->max_len = s.len;
    }
    t->texts = malloc(total);
    t->text_off = malloc(((size_t)t->n + 1) * sizeof *t->text_off);
    if (!t->texts || !t->text_off)
        return errmsg_set(err, OCT_ENOMEM, "out of memory loading the vocabulary of %s", gguf_path(g));
    size_t off = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        gguf_str_t s = gguf_arr_str(&arr, i);
        t->text_off[i] = off;
        if (s.len)
            memcpy(t->texts + off, s.ptr, s.len);
        off += s.len;
        t->texts[off++] = '\0';
    }
    t->text_off[t->n] = off;

    t->by_text.mask = table_size(t->n) - 1;
    t->by_text.slot = calloc(t->by_text.mask + 1, sizeof *t->by_text.slot);
    if (!t->by_text.slot)
        return errmsg_set(err, OCT_ENOMEM, "out of memory loading the vocabulary of %s", gguf_path(g));
    for (uint32_t i = 0; i < t->n; i++) {
        size_t len;
        const char *s = text_of(t, (int32_t)i, &len);
        if (len == 0)
            continue; /* an empty entry can never be produced; keep it out of the index */
        int32_t dup = map_insert(t, &t->by_text, text_of, (int32_t)i);
        if (dup >= 0)
            return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.tokens: '%.64s' is both token %d and token %u",
                              gguf_path(g), s, dup, i);
    }
    return 0;
}

static int load_types_scores(tok_t *t, const gguf_t *g, errmsg_t *err)
{
    gguf_arr_t arr;
    t->type = malloc(t->n);
    t->attr = calloc(t->n, 1);
    t->score = calloc(t->n, sizeof *t->score);
    if (!t->type || !t->attr || !t->score)
        return errmsg_set(err, OCT_ENOMEM, "out of memory loading the vocabulary of %s", gguf_path(g));
    memset(t->type, TT_NORMAL, t->n);

    int rc = gguf_get_arr(g, "tokenizer.ggml.token_type", &arr, err);
    if (rc && rc != OCT_ENOTFOUND)
        return rc;
    if (rc == 0) {
        if (arr.type == GGUF_TYPE_STRING || arr.type == GGUF_TYPE_FLOAT32 || arr.type == GGUF_TYPE_FLOAT64 ||
            arr.type == GGUF_TYPE_BOOL)
            return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.token_type is an array of %s, expected integers",
                              gguf_path(g), gguf_type_name(arr.type));
        if (arr.n < t->n)
            return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %u tokens",
                              gguf_path(g), (unsigned long long)arr.n, t->n);
        for (uint32_t i = 0; i < t->n; i++) {
            int64_t v = gguf_arr_int(&arr, i);
            /* Undefined or unknown codes: an ordinary token. */
            t->type[i] = (v >= TT_NORMAL && v <= TT_BYTE) ? (uint8_t)v : TT_NORMAL;
        }
    }
    errmsg_clear(err);

    rc = gguf_get_arr(g, "tokenizer.ggml.scores", &arr, err);
    if (rc && rc != OCT_ENOTFOUND)
        return rc;
    if (rc == 0) {
        if (arr.type == GGUF_TYPE_STRING || arr.type == GGUF_TYPE_BOOL)
            return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.scores is an array of %s, expected numbers",
                              gguf_path(g), gguf_type_name(arr.type));
        if (arr.n < t->n)
            return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.scores has %llu entries for %u tokens",
                              gguf_path(g), (unsigned long long)arr.n, t->n);
        for (uint32_t i = 0; i < t->n; i++)
            t->score[i] = (float)gguf_arr_number(&arr, i);
    }
    errmsg_clear(err);

    for (uint32_t i = 0; i < t->n; i++) {
        switch (t->type[i]) {
        case TT_UNKNOWN:
        case TT_CONTROL: t->attr[i] = A_MATCH_SPECIAL | A_HIDDEN; break;
        case TT_USER_DEFINED: t->attr[i] = A_MATCH_ALWAYS | A_MERGEABLE; break;
        case TT_UNUSED: t->attr[i] = A_HIDDEN; break;
        case TT_BYTE: break;
        default: t->attr[i] = A_MERGEABLE; break;
        }
    }
    return 0;
}

/* Entries that end a turn, by text, as llama.cpp recognizes them. The first
 * present one is the EOT when the file names none. */
static const char *const EOT_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|EOT|>", "<|end|>", "<end_of_turn>", NULL,
};
static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|EOT|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "<|end_of_text|>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    /* fill-in-the-middle padding and separators (Qwen2.5-Coder) */
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", NULL,
};

static int load_specials(tok_t *t, const gguf_t *g, errmsg_t *err)
{
    int rc;
    if ((rc = get_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos, err)) ||
        (rc = get_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos, err)) ||
        (rc = get_id(g, "tokenizer.ggml.eot_token_id", t->n, &t->eot, err)) ||
        (rc = get_id(g, "tokenizer.ggml.eom_token_id", t->n, &t->eom, err)) ||
        (rc = get_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk, err)))
        return rc;
    for (size_t i = 0; t->eot < 0 && EOT_TEXTS[i]; i++)
        t->eot = find_text(t, EOT_TEXTS[i], strlen(EOT_TEXTS[i]));
    if (t->eom < 0)
        t->eom = find_text(t, "<|eom_id|>", strlen("<|eom_id|>"));

    /* End-of-generation entries found by their text are control tokens
     * whatever the file says (llama.cpp does the same): a user's file that
     * contains "<|EOT|>" must not end a turn unless asked. */
    for (size_t i = 0; EOG_TEXTS[i]; i++) {
        int32_t id = find_text(t, EOG_TEXTS[i], strlen(EOG_TEXTS[i]));
        if (id >= 0)
            t->attr[id] = A_MATCH_SPECIAL | A_HIDDEN | A_EOG;
    }
    const int32_t ends[] = {t->eos, t->eot, t->eom};
    for (size_t i = 0; i < 3; i++)
        if (ends[i] >= 0)
            t->attr[ends[i]] |= A_EOG;

    /* Phi-3 strips white space after its chat markers (llama.cpp keys this
     * on the model name too; the GGUF has no per-token flags). */
    gguf_str_t name;
    if (gguf_get_str(g, "general.name", &name, NULL) == 0) {
        char low[64];
        size_t n = name.len < sizeof low - 1 ? (size_t)name.len : sizeof low - 1;
        for (size_t i = 0; i < n; i++)
            low[i] = (char)tolower((unsigned char)name.ptr[i]);
        low[n] = '\0';
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (uint32_t i = 0; i < t->n; i++)
                if (t->attr[i] & (A_MATCH_ALWAYS | A_MATCH_SPECIAL))
                    t->attr[i] |= A_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (size_t i = 0; i < 3; i++) {
                int32_t id = find_text(t, keep[i], strlen(keep[i]));
                if (id >= 0)
                    t->attr[id] &= (uint8_t)~A_RSTRIP;
            }
        }
    }
    errmsg_clear(err);
    return 0;
}

typedef struct special_key {
    unsigned char first;
    uint32_t len;
    int32_t id;
} special_key_t;

static int cmp_special(const void *a, const void *b)
{
    const special_key_t *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1; /* longest first */
    return x->id < y->id ? -1 : x->id > y->id;
}

static int index_specials(tok_t *t, errmsg_t *err)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->n; i++)
        if ((t->attr[i] & (A_MATCH_ALWAYS | A_MATCH_SPECIAL)) && t->text_off[i + 1] - t->text_off[i] > 1)
            n++;
    special_key_t *keys = malloc((n ? n : 1) * sizeof *keys);
    t->special = malloc((n ? n : 1) * sizeof *t->special);
    if (!keys || !t->special) {
        free(keys);
        return errmsg_set(err, OCT_ENOMEM, "out of memory indexing special tokens");
    }
    n = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        size_t len;
        const char *s = text_of(t, (int32_t)i, &len);
        if ((t->attr[i] & (A_MATCH_ALWAYS | A_MATCH_SPECIAL)) && len > 0)
            keys[n++] = (special_key_t){(unsigned char)s[0], (uint32_t)len, (int32_t)i};
    }
    qsort(keys, n, sizeof *keys, cmp_special);
    size_t k = 0;
    for (unsigned b = 0; b < 256; b++) {
        t->special_start[b] = k;
        while (k < n && keys[k].first == b) {
            t->special[k] = keys[k].id;
            k++;
        }
    }
    t->special_start[256] = k;
    free(keys);
    return 0;
}

static int load_merges(tok_t *t, const gguf_t *g, errmsg_t *err)
{
    gguf_arr_t arr;
    int rc = gguf_get_arr(g, "tokenizer.ggml.merges", &arr, err);
    if (rc == OCT_ENOTFOUND)
        return errmsg_set(err, OCT_EFORMAT, "%s: a BPE vocabulary needs tokenizer.ggml.merges, which is missing",
                          gguf_path(g));
    if (rc)
        return rc;
    if (arr.type != GGUF_TYPE_STRING)
        return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.merges is an array of %s, expected strings",
                          gguf_path(g), gguf_type_name(arr.type));
    if (arr.n > UINT32_MAX / 4)
        return errmsg_set(err, OCT_EFORMAT, "%s: tokenizer.ggml.merges has %llu entries", gguf_path(g),
                          (unsigned long long)arr.n);
    t->merge_mask = table_size(arr.n) - 1;
    t->merges = calloc(t->merge_mask + 1, sizeof *t->merges);
    char *buf = malloc(t->max_len * 2 + 2);
    if (!t->merges || !buf) {
        free(buf);
        return errmsg_set(err, OCT_ENOMEM, "out of memory loading the merges of %s", gguf_path(g));
    }
    for (uint64_t r = 0; r < arr.n; r++) {
        gguf_str_t s = gguf_arr_str(&arr, r);
        /* "left right": the separator is the first space after the first
         * byte (a left part never starts with a space in byte-level BPE). */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            continue;
        size_t ll = (size_t)(sp - s.ptr), rl = s.len - ll - 1;
        int32_t l = find_text(t, s.ptr, ll), rt = find_text(t, sp + 1, rl);
        if (l < 0 || rt < 0 || ll + rl > t->max_len)
            continue; /* a merge that cannot apply or cannot form an entry */
        memcpy(buf, s.ptr, ll);
        memcpy(buf + ll, sp + 1, rl);
        int32_t m = find_text(t, buf, ll + rl);
        if (m < 0)
            continue;
        uint64_t key = ((uint64_t)(uint32_t)(l + 1) << 32) | (uint32_t)rt;
        for (size_t i = mix64(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
            if (t->merges[i].key == key)
                break; /* a repeated pair keeps its first (best) rank */
            if (!t->merges[i].key) {
                t->merges[i] = (merge_ent_t){key, (uint32_t)r, m};
                break;
            }
        }
    }
    free(buf);
    return 0;
}

/* Decoded bytes of every entry (tok_piece) and the per-byte entries. */
static int build_pieces(tok_t *t, errmsg_t *err)
{
    /* A decoded piece is never longer than the text it comes from. */
    t->pieces = malloc(t->text_off[t->n] ? t->text_off[t->n] : 1);
    t->piece_off = malloc(((size_t)t->n + 1) * sizeof *t->piece_off);
    if (!t->pieces || !t->piece_off)
        return errmsg_set(err, OCT_ENOMEM, "out of memory building token pieces");
    int cp_to_byte[324];
    for (size_t i = 0; i < 324; i++)
        cp_to_byte[i] = -1;
    for (unsigned b = 0; b < 256; b++)
        cp_to_byte[byte_to_cp(b)] = (int)b;

    size_t off = 0;
    for (uint32_t id = 0; id < t->n; id++) {
        size_t len;
        const unsigned char *s = (const unsigned char *)text_of(t, (int32_t)id, &len);
        char *out = t->pieces + off;
        size_t o = 0;
        int byte = parse_byte_token((const char *)s, len);
        if (t->type[id] == TT_BYTE && byte >= 0) {
            out[o++] = (char)byte;
        } else if (t->type[id] != TT_NORMAL) {
            /* control, unknown, unused and user-defined entries stand for their text */
            memcpy(out, s, len);
            o = len;
        } else if (t->kind == TOK_KIND_SPM) {
            for (size_t i = 0; i < len;) {
                if (len - i >= 3 && memcmp(s + i, SPM_SPACE, 3) == 0) {
                    out[o++] = ' ';
                    i += 3;
                } else {
                    out[o++] = (char)s[i++];
                }
            }
        } else {
            for (size_t i = 0; i < len;) {
                size_t cl = utf8_seq(s + i, len - i);
                unsigned cp = cl ? utf8_decode(s + i, cl) : 0x110000;
                if (cl && cp < 324 && cp_to_byte[cp] >= 0) {
                    out[o++] = (char)cp_to_byte[cp];
                    i += cl;
                } else {
                    /* not a byte-level character: keep it as written */
                    size_t k = cl ? cl : 1;
                    memcpy(out + o, s + i, k);
                    o += k;
                    i += k;
                }
            }
        }
        t->piece_off[id] = off;
        off += o;
    }
    t->piece_off[t->n] = off;

    for (unsigned b = 0; b < 256; b++) {
        t->byte_tok[b] = -1;
        if (t->kind == TOK_KIND_BPE) {
            char u[3];
            t->byte_tok[b] = find_text(t, u, utf8_encode(byte_to_cp(b), u));
        } else {
            char hex[7];
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            t->byte_tok[b] = find_text(t, hex, 6);
            if (t->byte_tok[b] < 0) {
                char c = (char)b;
                t->byte_tok[b] = find_text(t, &c, 1);
            }
        }
    }
    return 0;
}

static int index_pieces(tok_t *t, errmsg_t *err)
{
    t->by_piece.mask = table_size(t->n) - 1;
    t->by_piece.slot = calloc(t->by_piece.mask + 1, sizeof *t->by_piece.slot);
    if (!t->by_piece.slot)
        return errmsg_set(err, OCT_ENOMEM, "out of memory indexing token pieces");
    for (uint32_t i = 0; i < t->n; i++)
        if (t->type[i] == TT_NORMAL && t->piece_off[i + 1] > t->piece_off[i])
            map_insert(t, &t->by_piece, piece_of, (int32_t)i);
    return 0;
}

/* Whether no mergeable entry has a U+2581 after another character: then
 * merges never cross the start of a run of spaces (true of Llama and Phi-3). */
static bool spm_words(const tok_t *t)
{
    for (uint32_t id = 0; id < t->n; id++) {
        size_t len;
        const char *s = text_of(t, (int32_t)id, &len);
        if (!(t->attr[id] & A_MERGEABLE) || len < 4)
            continue;
        for (size_t i = 1; i + 3 <= len; i++)
            if (memcmp(s + i, SPM_SPACE, 3) == 0 && (i < 3 || memcmp(s + i - 3, SPM_SPACE, 3) != 0))
                return false;
    }
    return true;
}

int tok_load(tok_t **out, const gguf_t *g, errmsg_t *err)
{
    *out = NULL;
    errmsg_clear(err);
    tok_t *t = calloc(1, sizeof *t);
    if (!t)
        return errmsg_set(err, OCT_ENOMEM, "out of memory loading the tokenizer of %s", gguf_path(g));
    pthread_mutex_init(&t->sorted_lock, NULL);
    atomic_init(&t->sorted_ready, false);
    gguf_str_t model;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc)
        goto fail;
    if (gguf_str_eq(model, "gpt2")) {
        t->kind = TOK_KIND_BPE;
    } else if (gguf_str_eq(model, "llama")) {
        t->kind = TOK_KIND_SPM;
    } else {
        rc = errmsg_set(err, OCT_EUNSUPPORTED,
                        "%s: tokenizer.ggml.model '%.*s' is not supported (only 'gpt2' and 'llama')", gguf_path(g),
                        (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto fail;
    }
    if ((rc = load_texts(t, g, err)) || (rc = load_types_scores(t, g, err)) || (rc = load_specials(t, g, err)) ||
        (rc = build_pieces(t, err)) || (rc = index_specials(t, err)))
        goto fail;

    if (t->kind == TOK_KIND_BPE) {
        gguf_str_t pre = {"", 0};
        rc = gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
        if (rc && rc != OCT_ENOTFOUND)
            goto fail;
        char name[64];
        if (pre.len >= sizeof name) {
            rc = errmsg_set(err, OCT_EUNSUPPORTED, "%s: unknown pre-tokenizer '%.64s...' (tokenizer.ggml.pre)",
                            gguf_path(g), pre.ptr);
            goto fail;
        }
        memcpy(name, pre.ptr, pre.len);
        name[pre.len] = '\0';
        errmsg_t perr;
        rc = tok_pre_new(&t->pre, name, &perr);
        if (rc) {
            errmsg_set(err, rc, "%s: %s", gguf_path(g), perr.msg);
            goto fail;
        }
        if ((rc = load_merges(t, g, err)))
            goto fail;
        if (tok_pre_ignore_merges(t->pre) && (rc = index_pieces(t, err)))
            goto fail;
        t->add_bos = tok_pre_default_add_bos(t->pre);
        t->add_eos = false;
        t->add_space_prefix = false;
    } else {
        t->spm_words = spm_words(t);
        t->add_bos = true;
        t->add_eos = false;
        t->add_space_prefix = true;
        if ((rc = get_flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err)))
            goto fail;
    }
    if ((rc = get_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err)) ||
        (rc = get_flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err)))
        goto fail;
    errmsg_clear(err);
    *out = t;
    return 0;
fail:
    tok_free(t);
    return rc;
}

void tok_free(tok_t *t)
{
    if (!t)
        return;
    free(t->texts);
    free(t->text_off);
    free(t->pieces);
    free(t->piece_off);
    free(t->type);
    free(t->attr);
    free(t->score);
    free(t->by_text.slot);
    free(t->by_piece.slot);
    free(t->merges);
    free(t->special);
    free(t->sorted);
    pthread_mutex_destroy(&t->sorted_lock);
    tok_pre_free(t->pre);
    free(t);
}

/* ---- accessors ---------------------------------------------------------- */

tok_kind_t tok_kind(const tok_t *t) { return t->kind; }
const char *tok_pre_name(const tok_t *t) { return t->pre ? tok_pre_name_of(t->pre) : ""; }
uint32_t tok_n_vocab(const tok_t *t) { return t->n; }
int32_t tok_bos(const tok_t *t) { return t->bos; }
int32_t tok_eos(const tok_t *t) { return t->eos; }
int32_t tok_eot(const tok_t *t) { return t->eot; }
bool tok_add_bos(const tok_t *t) { return t->add_bos && t->bos >= 0; }
bool tok_add_eos(const tok_t *t) { return t->add_eos && t->eos >= 0; }

static bool valid_id(const tok_t *t, int32_t id) { return id >= 0 && (uint32_t)id < t->n; }

bool tok_is_eog(const tok_t *t, int32_t id) { return valid_id(t, id) && (t->attr[id] & A_EOG); }

bool tok_is_special(const tok_t *t, int32_t id)
{
    return valid_id(t, id) && (t->attr[id] & (A_MATCH_ALWAYS | A_MATCH_SPECIAL));
}

const char *tok_token_text(const tok_t *t, int32_t id)
{
    return valid_id(t, id) ? t->texts + t->text_off[id] : NULL;
}

int32_t tok_find(const tok_t *t, const char *text) { return find_text(t, text, strlen(text)); }

size_t tok_piece(const tok_t *t, int32_t id, bool render_special, const char **out)
{
    *out = "";
    if (!valid_id(t, id) || ((t->attr[id] & A_HIDDEN) && !render_special))
        return 0;
    size_t len;
    *out = piece_of(t, id, &len);
    return len;
}

/* ---- entries by piece --------------------------------------------------- */

/* Byte order of two pieces, a prefix before its extensions. */
static int piece_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static int cmp_by_piece(const void *x, const void *y, void *ctx)
{
    const tok_t *t = ctx;
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    size_t la, lb;
    const char *pa = piece_of(t, a, &la), *pb = piece_of(t, b, &lb);
    int c = piece_cmp(pa, la, pb, lb);
    return c ? c : (a > b) - (a < b);
}

static int build_sorted(tok_t *t, errmsg_t *err)
{
    pthread_mutex_lock(&t->sorted_lock);
    int rc = 0;
    if (!atomic_load(&t->sorted_ready)) {
        int32_t *ids = malloc((t->n ? t->n : 1) * sizeof *ids);
        if (!ids) {
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory indexing the vocabulary");
        } else {
            size_t n = 0;
            for (uint32_t i = 0; i < t->n; i++)
                if (!(t->attr[i] & A_HIDDEN) && t->piece_off[i + 1] > t->piece_off[i])
                    ids[n++] = (int32_t)i;
            qsort_r(ids, n, sizeof *ids, cmp_by_piece, t);
            t->sorted = ids;
            t->n_sorted = n;
            atomic_store(&t->sorted_ready, true);
        }
    }
    pthread_mutex_unlock(&t->sorted_lock);
    return rc;
}

int tok_prefix_range(const tok_t *ct, const char *prefix, size_t len, const int32_t **ids, size_t *n,
                     errmsg_t *err)
{
    tok_t *t = (tok_t *)ct; /* the index is a cache: building it changes no answer */
    *ids = NULL;
    *n = 0;
    int rc;
    if (!atomic_load(&t->sorted_ready) && (rc = build_sorted(t, err)))
        return rc;
    /* first entry >= PREFIX, then first entry whose first LEN bytes exceed it */
    size_t lo = 0, hi = t->n_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, pl;
        const char *p = piece_of(t, t->sorted[mid], &pl);
        if (piece_cmp(p, pl, prefix, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t a = lo;
    hi = t->n_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, pl;
        const char *p = piece_of(t, t->sorted[mid], &pl);
        if (pl >= len && !memcmp(p, prefix, len))
            lo = mid + 1;
        else
            hi = mid;
    }
    *ids = t->sorted + a;
    *n = lo - a;
    return 0;
}

/* ---- encoding ----------------------------------------------------------- */

typedef struct sym {
    int32_t id;     /* BPE: current entry; SPM: unused */
    uint32_t start; /* offset of its bytes */
    uint32_t len;   /* 0 once merged into its left neighbour */
    int32_t prev, next;
    bool literal; /* SPM: a U+2581 written in the text, kept as bytes */
    bool space;   /* SPM: a space of the text, as U+2581 */
} sym_t;

/* Heap entries order by key: (rank or inverted score) << 32 | left index. */
typedef struct hent {
    uint64_t key;
    uint32_t right;
    uint32_t size; /* bytes of the pair when pushed, to spot stale entries */
} hent_t;

typedef struct enc {
    const tok_t *t;
    int32_t *ids;
    size_t n, cap;
    sym_t *sym;
    size_t sym_cap;
    hent_t *heap;
    size_t heap_n, heap_cap;
    char *buf; /* SPM: the escaped text */
    size_t buf_cap;
    tok_pre_scratch_t *pre;
    bool oom;
} enc_t;

static void emit(enc_t *e, int32_t id)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        int32_t *v = realloc(e->ids, cap * sizeof *v);
        if (!v) {
            e->oom = true;
            return;
        }
        e->ids = v;
        e->cap = cap;
    }
    e->ids[e->n++] = id;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return false;
    void *q = realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static void heap_push(enc_t *e, hent_t x)
{
    if (!grow((void **)&e->heap, &e->heap_cap, e->heap_n + 1, sizeof *e->heap)) {
        e->oom = true;
        return;
    }
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (e->heap[p].key <= x.key)
            break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = x;
}

static hent_t heap_pop(enc_t *e)
{
    hent_t top = e->heap[0], x = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && e->heap[c + 1].key < e->heap[c].key)
            c++;
        if (x.key <= e->heap[c].key)
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = x;
    return top;
}

static void emit_bytes(enc_t *e, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = e->t->byte_tok[s[i]];
        if (id < 0)
            id = e->t->unk;
        if (id >= 0)
            emit(e, id);
    }
}

/* BPE: candidate merge of symbols L and R. */
static void bpe_try(enc_t *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const sym_t *a = &e->sym[l], *b = &e->sym[r];
    if (a->id < 0 || b->id < 0)
        return;
    const merge_ent_t *m = merge_find(e->t, a->id, b->id);
    if (m)
        heap_push(e, (hent_t){((uint64_t)m->rank << 32) | (uint32_t)l, (uint32_t)r, a->len + b->len});
}

/* Merge the bytes of one piece by rank and emit the resulting entries. */
static void bpe_piece(enc_t *e, const unsigned char *s, size_t n)
{
    const tok_t *t = e->t;
    if (n == 1) {
        emit_bytes(e, s, 1);
        return;
    }
    if (t->by_piece.slot) {
        int32_t id = map_find(t, &t->by_piece, piece_of, (const char *)s, n);
        if (id >= 0) {
            emit(e, id);
            return;
        }
    }
    if (!grow((void **)&e->sym, &e->sym_cap, n, sizeof *e->sym)) {
        e->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        e->sym[i] = (sym_t){t->byte_tok[s[i]], (uint32_t)i, 1, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1,
                            false, false};
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        bpe_try(e, (int32_t)i, (int32_t)i + 1);
    while (e->heap_n && !e->oom) {
        hent_t h = heap_pop(e);
        int32_t l = (int32_t)(uint32_t)h.key, r = (int32_t)h.right;
        sym_t *a = &e->sym[l], *b = &e->sym[r];
        if (!a->len || !b->len || a->next != r || a->len + b->len != h.size)
            continue; /* one side changed since this pair was queued */
        a->id = merge_find(t, a->id, b->id)->merged;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0)
            e->sym[b->next].prev = l;
        bpe_try(e, a->prev, l);
        bpe_try(e, l, a->next);
    }
    for (int32_t i = 0; i >= 0; i = e->sym[i].next) {
        if (e->sym[i].id >= 0)
            emit(e, e->sym[i].id);
        else
            emit_bytes(e, s + e->sym[i].start, e->sym[i].len);
    }
}

static int bpe_fragment(enc_t *e, const char *text, size_t len, errmsg_t *err)
{
    const tok_ends_t *ends;
    int rc = tok_pre_split_run(e->t->pre, e->pre, text, len, &ends, err);
    if (rc)
        return rc;
    size_t start = 0;
    for (size_t i = 0; i < ends->n && !e->oom; i++) {
        bpe_piece(e, (const unsigned char *)text + start, ends->v[i] - start);
        start = ends->v[i];
    }
    return 0;
}

/* Smaller key = better: higher score first. */
static uint32_t score_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

/* SPM: entry formed by the bytes of symbols L..R joined, or -1. */
static int32_t spm_entry(const enc_t *e, uint32_t start, size_t len)
{
    if (len > e->t->max_len)
        return -1;
    int32_t id = find_text(e->t, e->buf + start, len);
    return id >= 0 && (e->t->attr[id] & A_MERGEABLE) ? id : -1;
}

static void spm_try(enc_t *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const sym_t *a = &e->sym[l], *b = &e->sym[r];
    if (a->literal || b->literal)
        return;
    int32_t id = spm_entry(e, a->start, (size_t)a->len + b->len);
    if (id >= 0)
        heap_push(e, (hent_t){((uint64_t)score_key(e->t->score[id]) << 32) | (uint32_t)l, (uint32_t)r,
                              a->len + b->len});
}

/* SPM: merge symbols FROM..TO-1 by score and emit the entries they form. */
static void spm_merge(enc_t *e, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        e->sym[i].prev = i > from ? (int32_t)i - 1 : -1;
        e->sym[i].next = i + 1 < to ? (int32_t)i + 1 : -1;
    }
    e->heap_n = 0;
    for (size_t i = from; i + 1 < to; i++)
        spm_try(e, (int32_t)i, (int32_t)i + 1);
    while (e->heap_n && !e->oom) {
        hent_t h = heap_pop(e);
        int32_t l = (int32_t)(uint32_t)h.key, r = (int32_t)h.right;
        sym_t *a = &e->sym[l], *b = &e->sym[r];
        if (!a->len || !b->len || a->len + b->len != h.size)
            continue; /* one side changed since this pair was queued */
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0)
            e->sym[b->next].prev = l;
        spm_try(e, a->prev, l);
        spm_try(e, l, a->next);
    }
    for (int32_t i = (int32_t)from; i >= 0; i = e->sym[i].next) {
        const sym_t *y = &e->sym[i];
        int32_t id = y->literal ? -1 : spm_entry(e, y->start, y->len);
        if (id >= 0)
            emit(e, id);
        else
            emit_bytes(e, (const unsigned char *)e->buf + y->start, y->len);
    }
}

static void spm_fragment(enc_t *e, const char *text, size_t len, bool prefix)
{
    /* Escaped text: at most 3 bytes per input byte, plus the prefix. */
    size_t need = len * 3 + 3;
    if (!grow((void **)&e->buf, &e->buf_cap, need, 1) ||
        !grow((void **)&e->sym, &e->sym_cap, len + 1, sizeof *e->sym)) {
        e->oom = true;
        return;
    }
    size_t o = 0, ns = 0;
    if (prefix) {
        memcpy(e->buf, SPM_SPACE, 3);
        e->sym[ns++] = (sym_t){-1, 0, 3, -1, -1, false, true};
        o = 3;
    }
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ') {
            memcpy(e->buf + o, SPM_SPACE, 3);
            e->sym[ns++] = (sym_t){-1, (uint32_t)o, 3, -1, -1, false, true};
            o += 3;
            i++;
            continue;
        }
        size_t cl = utf8_seq(s + i, len - i);
        if (!cl)
            cl = 1; /* an invalid byte stands alone and falls back to <0xNN> */
        /* A U+2581 in the text would decode as a space: keep it as bytes
         * so that decoding gives it back. */
        bool literal = cl == 3 && memcmp(s + i, SPM_SPACE, 3) == 0;
        memcpy(e->buf + o, s + i, cl);
        e->sym[ns++] = (sym_t){-1, (uint32_t)o, (uint32_t)cl, -1, -1, literal, false};
        o += cl;
        i += cl;
    }
    if (!e->t->spm_words) {
        spm_merge(e, 0, ns);
        return;
    }
    /* No entry has a U+2581 after another character, so no merge can cross
     * the start of a run of spaces: merge each word on its own, which gives
     * the same result with a small heap instead of one over the whole text. */
    size_t from = 0;
    for (size_t k = 1; k < ns && !e->oom; k++) {
        if (e->sym[k].space && !e->sym[k - 1].space) {
            spm_merge(e, from, k);
            from = k;
        }
    }
    if (from < ns)
        spm_merge(e, from, ns);
}

/* Longest special entry allowed by FLAGS that starts at TEXT[pos], or -1. */
static int32_t match_special(const tok_t *t, const char *text, size_t len, size_t pos, int flags)
{
    unsigned char b = (unsigned char)text[pos];
    uint8_t allow = A_MATCH_ALWAYS | ((flags & TOK_PARSE_SPECIAL) ? A_MATCH_SPECIAL : 0);
    for (size_t k = t->special_start[b]; k < t->special_start[b + 1]; k++) {
        int32_t id = t->special[k];
        size_t sl;
        const char *s = text_of(t, id, &sl);
        if ((t->attr[id] & allow) && sl <= len - pos && memcmp(text + pos, s, sl) == 0)
            return id;
    }
    return -1;
}

/* Encode text between special entries. SentencePiece gives each such
 * fragment its leading space, as llama.cpp does: the text starts either the
 * input or follows a special entry. */
static int encode_fragment(enc_t *e, const char *text, size_t len, errmsg_t *err)
{
    if (e->t->kind == TOK_KIND_BPE)
        return bpe_fragment(e, text, len, err);
    spm_fragment(e, text, len, e->t->add_space_prefix);
    return 0;
}

static int encode_ranges(const tok_t *t, const char *text, size_t len, int flags, const size_t *plain,
                         size_t n_plain, int32_t **ids, size_t *n, errmsg_t *err);

int tok_encode(const tok_t *t, const char *text, size_t len, int flags, int32_t **ids, size_t *n, errmsg_t *err)
{
    return encode_ranges(t, text, len, flags, NULL, 0, ids, n, err);
}

int tok_encode_ranges(const tok_t *t, const char *text, size_t len, int flags, const size_t *plain, size_t n_plain,
                      int32_t **ids, size_t *n, errmsg_t *err)
{
    for (size_t i = 0; i < n_plain; i++)
        if (plain[2 * i] > plain[2 * i + 1] || plain[2 * i + 1] > len || (i && plain[2 * i] < plain[2 * i - 1])) {
            *ids = NULL;
            *n = 0;
            return errmsg_set(err, OCT_EINVAL, "tok_encode_ranges: plain range %zu is out of order", i);
        }
    return encode_ranges(t, text, len, flags, plain, n_plain, ids, n, err);
}

static int encode_ranges(const tok_t *t, const char *text, size_t len, int flags, const size_t *plain,
                         size_t n_plain, int32_t **ids, size_t *n, errmsg_t *err)
{
    *ids = NULL;
    *n = 0;
    if (!text && len)
        return errmsg_set(err, OCT_EINVAL, "tok_encode: NULL text");
    if (len > MAX_TEXT_LEN)
        return errmsg_set(err, OCT_EINVAL, "text of %zu bytes is too long to tokenize (limit %zu)", len,
                          MAX_TEXT_LEN);
    enc_t e = {.t = t};
    int rc = 0;
    if (t->kind == TOK_KIND_BPE && (rc = tok_pre_scratch_new(&e.pre, err)))
        goto fail;
    if ((flags & TOK_ADD_BOS) && t->add_bos && t->bos >= 0)
        emit(&e, t->bos);

    /* Cut special entries out; encode the text between them. */
    size_t raw = 0, pos = 0, r = 0;
    while (pos < len && !e.oom) {
        /* nothing is cut out of a plain range, and no entry recognized
         * outside may reach into the next one */
        while (r < n_plain && pos >= plain[2 * r + 1])
            r++;
        bool inside = r < n_plain && pos >= plain[2 * r];
        int32_t id = inside ? -1 : match_special(t, text, len, pos, flags);
        if (id >= 0 && r < n_plain) {
            size_t sl;
            text_of(t, id, &sl);
            if (pos + sl > plain[2 * r])
                id = -1;
        }
        if (id < 0) {
            pos++;
            continue;
        }
        if (pos > raw && (rc = encode_fragment(&e, text + raw, pos - raw, err)))
            goto fail;
        emit(&e, id);
        size_t sl;
        text_of(t, id, &sl);
        pos += sl;
        if (t->attr[id] & A_RSTRIP)
            while (pos < len && isspace((unsigned char)text[pos]))
                pos++;
        raw = pos;
    }
    if (len > raw && !e.oom && (rc = encode_fragment(&e, text + raw, len - raw, err)))
        goto fail;
    if ((flags & TOK_ADD_EOS) && t->add_eos && t->eos >= 0)
        emit(&e, t->eos);
    if (e.oom) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory tokenizing %zu bytes", len);
        goto fail;
    }
    *ids = e.ids;
    *n = e.n;
    e.ids = NULL;
fail:
    free(e.ids);
    free(e.sym);
    free(e.heap);
    free(e.buf);
    tok_pre_scratch_free(e.pre);
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

int tok_decode(const tok_t *t, const int32_t *ids, size_t n, bool render_special, char **out, size_t *len,
               errmsg_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_id(t, ids[i]))
            return errmsg_set(err, OCT_EINVAL, "token id %ld (at position %zu) is not in the vocabulary (0..%u)",
                              (long)ids[i], i, t->n - 1);
        const char *p;
        total += tok_piece(t, ids[i], render_special, &p);
    }
    char *s = malloc(total + 1);
    if (!s)
        return errmsg_set(err, OCT_ENOMEM, "out of memory decoding %zu tokens", n);
    size_t o = 0;
    /* SentencePiece: undo the space the encoder put at the start and after
     * each special entry it cut out. */
    bool strip = t->kind == TOK_KIND_SPM && t->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        const char *p;
        size_t pl = tok_piece(t, id, render_special, &p);
        if (i == 0 && id == t->bos) {
            memcpy(s + o, p, pl);
            o += pl;
            continue;
        }
        if (strip && pl && p[0] == ' ' && !tok_is_special(t, id)) {
            p++;
            pl--;
        }
        memcpy(s + o, p, pl);
        o += pl;
        strip = t->kind == TOK_KIND_SPM && t->add_space_prefix && tok_is_special(t, id);
    }
    s[o] = '\0';
    *out = s;
    if (len)
        *len = o;
    return 0;
}

int tok_pre_split(const char *pre, const char *text, size_t len, size_t **ends, size_t *n, errmsg_t *err)
{
    *ends = NULL;
    *n = 0;
    tok_pre_t *p = NULL;
    tok_pre_scratch_t *s = NULL;
    const tok_ends_t *e;
    int rc = tok_pre_new(&p, pre, err);
    if (rc || (rc = tok_pre_scratch_new(&s, err)) || (rc = tok_pre_split_run(p, s, text, len, &e, err)))
        goto fail;
    *ends = malloc((e->n ? e->n : 1) * sizeof **ends);
    if (!*ends) {
        rc = errmsg_set(err, OCT_ENOMEM, "out of memory splitting text");
        goto fail;
    }
    if (e->n)
        memcpy(*ends, e->v, e->n * sizeof **ends);
    *n = e->n;
fail:
    tok_pre_scratch_free(s);
    tok_pre_free(p);
    return rc;
}
