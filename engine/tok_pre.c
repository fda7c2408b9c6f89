/* tok_pre.c - the split patterns of byte-level BPE pre-tokenizers, run by
 * PCRE2.
 *
 * The pattern lists are llama.cpp's (src/llama-vocab.cpp), which in turn come
 * from each model's Hugging Face tokenizer.json. llama.cpp rewrites a few of
 * them for std::regex, which has no Unicode classes; PCRE2 has them, so for
 * gpt-4o and tekken we use the tokenizer.json originals. Case-insensitive
 * contractions are spelled '[sS] as llama.cpp does, so that Unicode case
 * folding (e.g. U+017F LONG S) cannot change a split.
 *
 * \s in PCRE2 with UCP also matches U+180E (MONGOLIAN VOWEL SEPARATOR), which
 * Unicode no longer counts as white space; llama.cpp, Hugging Face and
 * Python's regex module do not. The patterns are written with WS/NWS below
 * (White_Space exactly) instead of \s and \S so all of them agree. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok_pre.h"

/* Unicode White_Space, as a class body; \s and \S are replaced by these. */
#define WS_BODY                                                                                  \
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}" \
    "\\x{205F}\\x{3000}"
#define WS "[" WS_BODY "]"
#define NWS "[^" WS_BODY "]"

/* The contractions of GPT-2 and of the (?i:...) variants, case-insensitive the ASCII way. */
#define CONTRACTIONS_CI "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

#define PAT_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS_BODY "\\p{L}\\p{N}]+|" WS "+(?!" NWS ")"

#define PAT_LLAMA3                                                                                 \
    CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS_BODY "\\p{L}\\p{N}]+[\\r\\n]*|" WS \
                    "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"

#define PAT_QWEN2                                                                                \
    CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS_BODY "\\p{L}\\p{N}]+[\\r\\n]*|" WS \
                    "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"

/* CJK Unified Ideographs 4E00-9FA5, 0800-4E00 and Hangul AC00-D7FF, as in
 * the DeepSeek tokenizers ("[一-龥ࠀ-一가-퟿]+"). */
#define PAT_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

/* The cased letters (Lu, Ll, Lt) of an older Unicode, as DeepSeek LLM lists them. */
#define DEEPSEEK_LLM_LETTERS                                                                       \
    "\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-"  \
    "\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"  \
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}"  \
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}"   \
    "\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-"        \
    "\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}"         \
    "\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}"         \
    "\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"         \
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}"         \
    "\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"           \
    "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"         \
    "\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"         \
    "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-"        \
    "\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}"         \
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}"             \
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"         \
    "\\x{1E900}-\\x{1E943}"

/* " ?[^(\s|.,!?…。，、।۔،)]+" of Poro/Bloom: the class lists ( | ) literally. */
#define PAT_BLOOM " ?[^(" WS_BODY "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"

#define PAT_TEKKEN                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"      \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"      \
    "\\p{N}| ?[^" WS_BODY "\\p{L}\\p{N}]+[\\r\\n/]*|" WS "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"

#define PAT_GPT4O                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"     \
    CONTRACTIONS_CI "?|"                                                                           \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"     \
    CONTRACTIONS_CI "?|"                                                                           \
    "\\p{N}{1,3}| ?[^" WS_BODY "\\p{L}\\p{N}]+[\\r\\n/]*|" WS "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"

#define PAT_SEED_CODER                                                                             \
    CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^" WS_BODY "\\p{L}\\p{N}\\r\\n]+|" \
    WS "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"

#define PAT_BAILINGMOE                                                                              \
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS_BODY \
    "\\p{L}\\p{N}]+[\\r\\n]*|" WS "*[\\r\\n]|" WS "+(?!" NWS ")|" WS "+"

#define MAX_PATTERNS 6

typedef struct pre_def {
    const char *names[12]; /* tokenizer.ggml.pre values, NULL-terminated */
    const char *patterns[MAX_PATTERNS + 1];
    bool ignore_merges;
    bool add_bos;
} pre_def_t;

static const pre_def_t PRE_DEFS[] = {
    {{"default"},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", PAT_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     false, false},
    {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "gigachat",
      "a.x-4.0", "mellum"},
     {PAT_GPT2},
     false, false},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
     {PAT_LLAMA3},
     true, true},
    {{"dbrx", "smaug-bpe"}, {PAT_LLAMA3}, false, false},
    {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "grok-2"}, {PAT_QWEN2}, false, false},
    {{"deepseek-llm"},
     {"[\\r\\n]", WS "?[" DEEPSEEK_LLM_LETTERS "]+",
      WS "?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      WS "+$", PAT_DEEPSEEK_CJK, "\\p{N}+"},
     false, false},
    {{"deepseek-coder"},
     {"[\\r\\n]", WS "?\\p{L}+", WS "?\\p{P}+", PAT_DEEPSEEK_CJK, "\\p{N}"},
     false, false},
    {{"deepseek-v3"},
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\\r\\n]*|" WS "*[\\r\\n]+|" WS "+(?!" NWS ")|" WS "+"},
     false, false},
    {{"falcon"},
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", PAT_GPT2, "[0-9][0-9][0-9]"},
     false, false},
    {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
     {"\\p{N}", PAT_GPT2},
     false, false},
    {{"poro-chat", "bloom", "gpt3-finnish"}, {PAT_BLOOM}, false, false},
    {{"viking"}, {PAT_BLOOM, "\\p{N}"}, false, false},
    {{"tekken"}, {PAT_TEKKEN}, true, true},
    {{"gpt-4o", "llama4"}, {PAT_GPT4O}, false, false},
    {{"seed-coder"}, {PAT_SEED_CODER}, false, false},
    {{"bailingmoe", "bailingmoe2", "llada-moe"}, {PAT_BAILINGMOE}, false, false},
};
#define N_PRE_DEFS (sizeof PRE_DEFS / sizeof PRE_DEFS[0])

struct tok_pre {
    char *name;
    const pre_def_t *def;
    pcre2_code *code[MAX_PATTERNS];
    size_t n_code;
};

struct tok_pre_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    tok_ends_t a, b;
};

bool tok_ends_push(tok_ends_t *e, size_t x)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *e->v)
            return false;
        size_t *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return false;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = x;
    return true;
}

static const pre_def_t *find_def(const char *name)
{
    for (size_t i = 0; i < N_PRE_DEFS; i++)
        for (size_t j = 0; PRE_DEFS[i].names[j]; j++)
            if (!strcmp(PRE_DEFS[i].names[j], name))
                return &PRE_DEFS[i];
    return NULL;
}

int tok_pre_new(tok_pre_t **out, const char *name, errmsg_t *err)
{
    *out = NULL;
    if (!name || !*name)
        name = "default";
    const pre_def_t *def = find_def(name);
    if (!def)
        return errmsg_set(err, OCT_EUNSUPPORTED, "unknown pre-tokenizer '%s' (tokenizer.ggml.pre)", name);
    tok_pre_t *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return errmsg_set(err, OCT_ENOMEM, "out of memory compiling pre-tokenizer '%s'", name);
    }
    p->def = def;
    for (size_t i = 0; def->patterns[i]; i++) {
        int ec;
        PCRE2_SIZE eoff;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)def->patterns[i], PCRE2_ZERO_TERMINATED,
                                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                                      &ec, &eoff, NULL);
        if (!c) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(ec, msg, sizeof msg);
            tok_pre_free(p);
            return errmsg_set(err, OCT_EINTERNAL, "pre-tokenizer '%s': pattern %zu does not compile at offset %zu: %s",
                              name, i + 1, (size_t)eoff, (const char *)msg);
        }
        /* JIT is an optimisation: without it (no JIT support built in) the
         * interpreter gives the same matches. */
        (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
        p->code[p->n_code++] = c;
    }
    *out = p;
    return 0;
}

void tok_pre_free(tok_pre_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_code; i++)
        pcre2_code_free(p->code[i]);
    free(p->name);
    free(p);
}

const char *tok_pre_name_of(const tok_pre_t *p) { return p->name; }
bool tok_pre_ignore_merges(const tok_pre_t *p) { return p->def->ignore_merges; }
bool tok_pre_default_add_bos(const tok_pre_t *p) { return p->def->add_bos; }

int tok_pre_scratch_new(tok_pre_scratch_t **out, errmsg_t *err)
{
    tok_pre_scratch_t *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        goto nomem;
    /* Large enough for the ovector of every pattern: they capture at most 4 groups. */
    s->md = pcre2_match_data_create(8, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    /* The default 32 KiB JIT stack can run out on very long pieces (a
     * megabyte of white space); let it grow to 8 MiB. */
    s->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!s->md || !s->mctx)
        goto nomem;
    if (s->jit_stack)
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    *out = s;
    return 0;
nomem:
    tok_pre_scratch_free(s);
    return errmsg_set(err, OCT_ENOMEM, "out of memory for the pre-tokenizer");
}

void tok_pre_scratch_free(tok_pre_scratch_t *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s->a.v);
    free(s->b.v);
    free(s);
}

/* Split the piece TEXT[start..end) with one pattern, appending piece ends to OUT. */
static int split_one(const tok_pre_t *p, size_t pi, tok_pre_scratch_t *s, const char *text, size_t start,
                     size_t end, tok_ends_t *out, errmsg_t *err)
{
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + start);
    const size_t len = end - start;
    size_t pos = 0, last = 0;
    while (pos < len) {
        int rc = pcre2_match(p->code[pi], subj, len, pos, 0, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return errmsg_set(err, OCT_EINTERNAL, "pre-tokenizer '%s', pattern %zu, at byte %zu: %s", p->name,
                              pi + 1, start + pos, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {
            /* None of the patterns matches the empty string; should one
             * ever do, step over a byte rather than loop. */
            pos = ms + 1;
            continue;
        }
        if (ms > last && !tok_ends_push(out, start + ms))
            goto nomem;
        if (!tok_ends_push(out, start + me))
            goto nomem;
        last = pos = me;
    }
    if (last < len && !tok_ends_push(out, end))
        goto nomem;
    return 0;
nomem:
    return errmsg_set(err, OCT_ENOMEM, "out of memory splitting text");
}

int tok_pre_split_run(const tok_pre_t *p, tok_pre_scratch_t *s, const char *text, size_t len,
                      const tok_ends_t **out, errmsg_t *err)
{
    tok_ends_t *cur = &s->a, *next = &s->b;
    cur->n = 0;
    *out = cur;
    if (len == 0)
        return 0;
    if (!tok_ends_push(cur, len))
        return errmsg_set(err, OCT_ENOMEM, "out of memory splitting text");
    for (size_t pi = 0; pi < p->n_code; pi++) {
        next->n = 0;
        size_t start = 0;
        for (size_t i = 0; i < cur->n; i++) {
            int rc = split_one(p, pi, s, text, start, cur->v[i], next, err);
            if (rc)
                return rc;
            start = cur->v[i];
        }
        tok_ends_t *t = cur;
        cur = next;
        next = t;
    }
    *out = cur;
    return 0;
}
