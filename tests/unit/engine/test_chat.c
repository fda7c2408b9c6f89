/* test_chat.c - chat templates and FIM prompts (engine/chat.c).
 *
 * The main case renders every conversation of tests/fixtures/chat/cases.txt
 * with every template of tests/fixtures/chat/templates/ and compares the
 * bytes with what the real Jinja templates render (expected/, made by
 * tools/make_chat_fixtures.py with jinja2). The template is found both by
 * name and by recognizing the real template text. Other cases cover
 * detection, Unicode trimming, errors, reading a model file's template and,
 * with the real tokenizer, how formatted prompts and FIM prompts tokenize. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "gguf_build.h"
#include "test.h"
#include "tokenizer.h"

#define CHAT_DIR "tests/fixtures/chat"
#define TINY_DIR "tests/fixtures/tiny"

/* snprintf into a path buffer; a truncated path simply names no file. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void path_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *p = realloc(buf, cap + 65536);
            if (!p)
                break;
            buf = p;
            cap += 65536;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void put_utf8(char *out, size_t *k, uint32_t c)
{
    if (c < 0x80) {
        out[(*k)++] = (char)c;
    } else if (c < 0x800) {
        out[(*k)++] = (char)(0xc0 | (c >> 6));
        out[(*k)++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out[(*k)++] = (char)(0xe0 | (c >> 12));
        out[(*k)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[(*k)++] = (char)(0x80 | (c & 0x3f));
    } else {
        out[(*k)++] = (char)(0xf0 | (c >> 18));
        out[(*k)++] = (char)(0x80 | ((c >> 12) & 0x3f));
        out[(*k)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[(*k)++] = (char)(0x80 | (c & 0x3f));
    }
}

/* cases.txt's escapes (\n \t \\ \u{HEX}) undone into a malloc'd string; NULL on a bad escape. */
static char *unescape(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    size_t k = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '\\') {
            out[k++] = *p;
            continue;
        }
        p++;
        if (*p == 'n') {
            out[k++] = '\n';
        } else if (*p == 't') {
            out[k++] = '\t';
        } else if (*p == '\\') {
            out[k++] = '\\';
        } else if (*p == 'u' && p[1] == '{') {
            char *end;
            unsigned long c = strtoul(p + 2, &end, 16);
            if (*end != '}' || end == p + 2 || c > 0x10ffff) {
                free(out);
                return NULL;
            }
            put_utf8(out, &k, (uint32_t)c);
            p = end;
        } else {
            free(out);
            return NULL;
        }
    }
    out[k] = '\0';
    return out;
}

#define MAX_CASES 64
#define MAX_MSGS 16

typedef struct conv {
    char name[64];
    chat_msg_t msgs[MAX_MSGS];
    size_t n;
} conv_t;

static size_t load_cases(conv_t *cases)
{
    char *text = read_file(CHAT_DIR "/cases.txt", NULL);
    CHECKF(text != NULL, "cannot read %s", CHAT_DIR "/cases.txt");
    if (!text)
        return 0;
    size_t n = 0;
    conv_t *cur = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!cur) {
            if (line[0] == '#')
                continue;
            CHECKF(!strncmp(line, "case ", 5) && n < MAX_CASES, "bad line '%s'", line);
            if (strncmp(line, "case ", 5) || n >= MAX_CASES)
                break;
            cur = &cases[n++];
            memset(cur, 0, sizeof *cur);
            snprintf(cur->name, sizeof cur->name, "%s", line + 5);
        } else if (!strcmp(line, "end")) {
            cur = NULL;
        } else {
            char *tab = strchr(line, '\t');
            if (tab)
                *tab = '\0';
            chat_role_t role;
            int rc = chat_role_parse(line, &role, NULL);
            CHECKF(rc == 0 && cur->n < MAX_MSGS, "case %s: bad message line", cur->name);
            if (rc || cur->n >= MAX_MSGS)
                break;
            char *content = unescape(tab ? tab + 1 : "");
            CHECKF(content != NULL, "case %s: bad escape", cur->name);
            cur->msgs[cur->n].role = role;
            cur->msgs[cur->n++].content = content ? content : "";
        }
    }
    free(text);
    return n;
}

static void free_cases(conv_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cases[i].n; j++)
            if (cases[i].msgs[j].content[0])
                free((char *)cases[i].msgs[j].content);
}

/* Compare the formatting of every case with the expected file (or error). */
static int check_template(const chat_tmpl_t *t, const char *name, const char *how, conv_t *cases, size_t n)
{
    int checked = 0;
    for (size_t c = 0; c < n; c++) {
        for (int gen = 1; gen >= 0; gen--) {
            char path[512];
            path_fmt(path, sizeof path, CHAT_DIR "/expected/%s.%s.%s.txt", cases[c].name, name,
                     gen ? "gen" : "nogen");
            size_t want_len = 0;
            char *want = read_file(path, &want_len);
            char *got = NULL;
            size_t got_len = 0;
            errmsg_t err = {0};
            int rc = chat_format(t, cases[c].msgs, cases[c].n, gen, &got, &got_len, &err);
            if (want) {
                CHECKF(rc == 0, "%s (%s): %s", path, how, err.msg);
                CHECKF(rc != 0 || (got_len == want_len && !memcmp(got, want, want_len)),
                       "%s (%s):\n      got:      \"%s\"\n      expected: \"%s\"", path, how, got, want);
            } else {
                path_fmt(path, sizeof path, CHAT_DIR "/expected/%s.%s.%s.error", cases[c].name, name,
                         gen ? "gen" : "nogen");
                char *e = read_file(path, NULL);
                CHECKF(e != NULL, "no expected output for %s", path);
                CHECKF(rc == OCT_EINVAL && err.msg[0], "%s (%s): expected an error, got rc %d", path, how, rc);
                free(e);
            }
            free(want);
            free(got);
            checked++;
        }
    }
    return checked;
}

/* Every conversation x every real template, found by name and by its text. */
static void test_real_templates(void)
{
    static conv_t cases[MAX_CASES];
    size_t n = load_cases(cases);
    CHECK(n >= 16);
    char *index = read_file(CHAT_DIR "/templates/index.txt", NULL);
    CHECK(index != NULL);
    int checked = 0, templates = 0;
    for (char *save = NULL, *line = index ? strtok_r(index, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *f[4] = {line, NULL, NULL, NULL};
        for (int i = 1; i < 4; i++) {
            char *tab = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
            if (tab) {
                *tab = '\0';
                f[i] = tab + 1;
            }
        }
        CHECKF(f[3] != NULL, "bad index line '%s'", line);
        if (!f[3])
            continue;
        templates++;
        char path[512];
        path_fmt(path, sizeof path, CHAT_DIR "/templates/%s", f[0]);
        size_t jlen;
        char *jinja = read_file(path, &jlen);
        CHECKF(jinja != NULL, "cannot read %s", path);

        errmsg_t err = {0};
        chat_tmpl_t *by_name = NULL, *detected = NULL;
        CHECKF(chat_tmpl_by_name(&by_name, f[1], &err) == 0, "%s", err.msg);
        CHECKF(jinja && chat_tmpl_detect(&detected, jinja, jlen, &err) == 0, "%s: %s", path, err.msg);
        if (by_name && detected) {
            CHECK_EQ_STR(chat_tmpl_name(detected), f[1]);
            CHECK_EQ_INT(chat_tmpl_kind(detected), chat_tmpl_kind(by_name));
            const char *a = chat_tmpl_default_system(detected), *b = chat_tmpl_default_system(by_name);
            CHECKF((!a && !b) || (a && b && !strcmp(a, b)), "%s: default system prompts differ", path);
            CHECK(chat_tmpl_set_special(by_name, f[2], f[3], &err) == 0);
            CHECK(chat_tmpl_set_special(detected, f[2], f[3], &err) == 0);
            checked += check_template(by_name, f[1], "by name", cases, n);
            checked += check_template(detected, f[1], "detected", cases, n);
        }
        chat_tmpl_free(by_name);
        chat_tmpl_free(detected);
        free(jinja);
    }
    CHECK_EQ_INT(templates, 5);
    CHECK_EQ_INT(checked, 2 * 2 * 5 * (int)n);
    free(index);
    free_cases(cases, n);
}

static chat_kind_t detect_kind(const char *jinja, int *rc)
{
    chat_tmpl_t *t = NULL;
    *rc = chat_tmpl_detect(&t, jinja, strlen(jinja), NULL);
    chat_kind_t k = t ? chat_tmpl_kind(t) : CHAT_KIND_NONE;
    chat_tmpl_free(t);
    return k;
}

static void test_detect(void)
{
    int rc;
    CHECK_EQ_INT(detect_kind("", &rc), CHAT_KIND_NONE);
    CHECK_EQ_INT(rc, 0);
    /* Llama 3.1's template: headers, with a tools preamble before them */
    CHECK_EQ_INT(detect_kind("{{- bos_token }}{%- if tools %}...{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}",
                             &rc),
                 CHAT_KIND_LLAMA3);
    /* Mistral-style [INST] without <<SYS>> still uses the [INST] format */
    CHECK_EQ_INT(detect_kind("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}",
                             &rc),
                 CHAT_KIND_LLAMA2);
    CHECK_EQ_INT(detect_kind("{% for m in messages %}{{ m.content }}{% endfor %}", &rc), CHAT_KIND_NONE);
    CHECK_EQ_INT(rc, OCT_ENOTFOUND);
    /* "### Instruction:" alone (Alpaca has "### Input:" etc.) is not DeepSeek's format */
    CHECK_EQ_INT(detect_kind("### Instruction:\n{{ m }}", &rc), CHAT_KIND_NONE);
    CHECK_EQ_INT(rc, OCT_ENOTFOUND);

    errmsg_t err = {0};
    chat_tmpl_t *t = NULL;
    CHECK(chat_tmpl_detect(&t, "Gemma <start_of_turn>", 21, &err) == OCT_ENOTFOUND);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "--template") != NULL);
}

/* ChatML templates with their own default system prompt (Qwen2's, with an
 * escaped quote and a real newline) keep it; plain ChatML has none. */
static void test_chatml_default_system(void)
{
    const char *qwen2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                        "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
                        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
                        "{% endfor %}";
    const char *escaped = "{{ '<|im_start|>system\nIt\\'s a\\tbot.\\\\<|im_end|>\\n' }}<|im_start|>";
    chat_tmpl_t *t = NULL;
    CHECK(chat_tmpl_detect(&t, qwen2, strlen(qwen2), NULL) == 0);
    if (t) {
        CHECK_EQ_STR(chat_tmpl_name(t), "chatml");
        CHECK_EQ_STR(chat_tmpl_default_system(t), "You are a helpful assistant.");
        chat_msg_t m = {CHAT_ROLE_USER, "hi"};
        char *out = NULL;
        CHECK(chat_format(t, &m, 1, true, &out, NULL, NULL) == 0);
        CHECK_EQ_STR(out, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
        free(out);
        chat_tmpl_free(t);
    }
    CHECK(chat_tmpl_detect(&t, escaped, strlen(escaped), NULL) == 0);
    if (t) {
        CHECK_EQ_STR(chat_tmpl_default_system(t), "It's a\tbot.\\");
        chat_tmpl_free(t);
    }
}

/* Llama 3 trims contents like Python's str.strip(): Unicode white space
 * yes, invalid or truncated UTF-8 no. */
static void test_unicode_trim(void)
{
    chat_tmpl_t *t = NULL;
    CHECK(chat_tmpl_by_name(&t, "llama3", NULL) == 0);
    CHECK(chat_tmpl_set_special(t, "", NULL, NULL) == 0);
    static const struct {
        const char *in, *want;
    } C[] = {
        {" \t\n\v\f\r x \x1c\x1d\x1e\x1f", "x"},
        {"\xc2\x85\xc2\xa0x\xe1\x9a\x80\xe2\x80\x80\xe2\x80\x8a\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\x9f\xe3\x80\x80", "x"},
        {"\xe2\x80\x8bx\xe2\x80\x8b", "\xe2\x80\x8bx\xe2\x80\x8b"}, /* U+200B is not white space */
        {" \xff x \xc2", "\xff x \xc2"},                              /* invalid bytes stop the trim */
        {" \xe3\x80", "\xe3\x80"},                                    /* truncated U+3000 */
        {"\xc0\xa0 x", "\xc0\xa0 x"},                                 /* overlong space */
        {"   ", ""},
    };
    for (size_t i = 0; t && i < sizeof C / sizeof C[0]; i++) {
        chat_msg_t m = {CHAT_ROLE_USER, C[i].in};
        char *out = NULL, want[256];
        snprintf(want, sizeof want, "<|start_header_id|>user<|end_header_id|>\n\n%s<|eot_id|>", C[i].want);
        CHECK(chat_format(t, &m, 1, false, &out, NULL, NULL) == 0);
        CHECKF(out && !strcmp(out, want), "case %zu: got \"%s\"", i, out ? out : "(null)");
        free(out);
    }
    chat_tmpl_free(t);
}

static void test_errors(void)
{
    errmsg_t err = {0};
    chat_tmpl_t *t = NULL;
    CHECK(chat_tmpl_by_name(&t, "vicuna", &err) == OCT_EINVAL);
    CHECK(t == NULL && strstr(err.msg, "vicuna") && strstr(err.msg, "chatml"));
    CHECK(chat_tmpl_by_name(&t, NULL, &err) == OCT_EINVAL);

    CHECK(chat_tmpl_by_name(&t, "chatml", &err) == 0);
    char *out = (char *)1;
    CHECK(chat_format(t, NULL, 0, true, &out, NULL, &err) == OCT_EINVAL);
    CHECK(out == NULL);
    chat_msg_t bad = {(chat_role_t)7, "x"};
    CHECK(chat_format(t, &bad, 1, true, &out, NULL, &err) == OCT_EINVAL);
    CHECK(strstr(err.msg, "message 1") != NULL);
    chat_msg_t null_content = {CHAT_ROLE_USER, NULL};
    CHECK(chat_format(t, &null_content, 1, false, &out, NULL, &err) == 0);
    CHECK_EQ_STR(out, "<|im_start|>user\n<|im_end|>\n");
    free(out);
    chat_tmpl_free(t);

    chat_role_t r;
    CHECK(chat_role_parse("tool", &r, &err) == OCT_EINVAL);
    CHECK(chat_role_parse("assistant", &r, &err) == 0 && r == CHAT_ROLE_ASSISTANT);

    /* llama2 names the message that breaks the alternation */
    CHECK(chat_tmpl_by_name(&t, "codellama", &err) == 0);
    CHECK_EQ_STR(chat_tmpl_name(t), "llama2");
    chat_msg_t msgs[] = {{CHAT_ROLE_SYSTEM, "s"}, {CHAT_ROLE_USER, "a"}, {CHAT_ROLE_USER, "b"}};
    CHECK(chat_format(t, msgs, 3, true, &out, NULL, &err) == OCT_EINVAL);
    CHECK(strstr(err.msg, "message 3") != NULL);
    chat_tmpl_free(t);
}

static void test_none_and_bos(void)
{
    chat_tmpl_t *t = NULL;
    CHECK(chat_tmpl_by_name(&t, "none", NULL) == 0);
    chat_msg_t one = {CHAT_ROLE_USER, "def f(x):\n    return"};
    chat_msg_t many[] = {{CHAT_ROLE_SYSTEM, "# helpers"}, {CHAT_ROLE_USER, ""}, {CHAT_ROLE_USER, "def g():"}};
    char *out = NULL;
    CHECK(chat_format(t, &one, 1, true, &out, NULL, NULL) == 0);
    CHECK_EQ_STR(out, "def f(x):\n    return"); /* a single message is the prompt, verbatim */
    free(out);
    CHECK(chat_format(t, many, 3, true, &out, NULL, NULL) == 0);
    CHECK_EQ_STR(out, "# helpers\n\ndef g():");
    free(out);
    CHECK(!chat_tmpl_writes_bos(t));
    chat_tmpl_free(t);

    static const struct {
        const char *name;
        bool writes_bos;
    } B[] = {{"chatml", false}, {"qwen", false}, {"llama3", true}, {"llama2", true}, {"deepseek", true}};
    for (size_t i = 0; i < sizeof B / sizeof B[0]; i++) {
        CHECK(chat_tmpl_by_name(&t, B[i].name, NULL) == 0);
        CHECKF(chat_tmpl_writes_bos(t) == B[i].writes_bos, "%s", B[i].name);
        CHECK(chat_tmpl_set_special(t, "", NULL, NULL) == 0); /* a model without BOS */
        CHECKF(!chat_tmpl_writes_bos(t), "%s without BOS", B[i].name);
        chat_tmpl_free(t);
    }
}

/* ---- FIM ---------------------------------------------------------------- */

typedef struct vocab {
    const char *const *tokens;
    size_t n;
} vocab_t;

static int32_t vocab_lookup(void *ctx, const char *text)
{
    const vocab_t *v = ctx;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->tokens[i], text))
            return (int32_t)i;
    return -1;
}

static void test_fim_detect(void)
{
    static const char *const QWEN[] = {"a", "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"};
    static const char *const STAR[] = {"<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"};
    static const char *const CLLAMA[] = {"<s>", "\xe2\x96\x81", "\xe2\x96\x81<PRE>", "\xe2\x96\x81<SUF>",
                                         "\xe2\x96\x81<MID>", "\xe2\x96\x81<EOT>"};
    static const char *const PARTIAL[] = {"<|fim_prefix|>", "<|fim_suffix|>", "<fim_middle>"};
    static const struct {
        vocab_t v;
        chat_fim_style_t style;
        int32_t pre, suf, mid, eot, space;
    } C[] = {
        {{QWEN, 5}, CHAT_FIM_QWEN, 2, 4, 3, 1, -1},
        {{STAR, 5}, CHAT_FIM_STARCODER, 1, 3, 2, 0, -1},
        {{CLLAMA, 6}, CHAT_FIM_CODELLAMA, 2, 3, 4, 5, 1},
        {{PARTIAL, 3}, CHAT_FIM_NONE, -1, -1, -1, -1, -1},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        chat_fim_t f;
        errmsg_t err = {0};
        int rc = chat_fim_detect(&f, vocab_lookup, (void *)&C[i].v, &err);
        CHECK_EQ_INT(rc, C[i].style == CHAT_FIM_NONE ? OCT_ENOTFOUND : 0);
        CHECKF(f.style == C[i].style && f.pre == C[i].pre && f.suf == C[i].suf && f.mid == C[i].mid &&
                   f.eot == C[i].eot && f.space == C[i].space,
               "case %zu: style %s pre %d suf %d mid %d eot %d space %d", i, chat_fim_style_name(f.style), f.pre,
               f.suf, f.mid, f.eot, f.space);
    }
}

static void test_fim_format(void)
{
    static const struct {
        chat_fim_style_t style;
        const char *want;
    } C[] = {
        {CHAT_FIM_QWEN, "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>"},
        {CHAT_FIM_STARCODER, "<fim_prefix>def f(x):\n    <fim_suffix>\n    return y<fim_middle>"},
        {CHAT_FIM_CODELLAMA, "<PRE> def f(x):\n     <SUF>\n    return y <MID>"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char *out = NULL;
        size_t len = 0;
        CHECK(chat_fim_format(C[i].style, "def f(x):\n    ", "\n    return y", &out, &len, NULL) == 0);
        CHECK_EQ_STR(out, C[i].want);
        CHECK_EQ_INT(len, strlen(C[i].want));
        free(out);
    }
    char *out = NULL;
    CHECK(chat_fim_format(CHAT_FIM_QWEN, NULL, NULL, &out, NULL, NULL) == 0);
    CHECK_EQ_STR(out, "<|fim_prefix|><|fim_suffix|><|fim_middle|>");
    free(out);
    CHECK(chat_fim_format(CHAT_FIM_NONE, "a", "b", &out, NULL, NULL) == OCT_EINVAL);
}

/* A stand-in SentencePiece encoder: "▁" (id 1) before the text, then one id per byte (1000 + byte). */
static int fake_spm_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, errmsg_t *err)
{
    (void)ctx;
    (void)err;
    *ids = malloc((len + 1) * sizeof **ids);
    size_t k = 0;
    if (len)
        (*ids)[k++] = 1;
    for (size_t i = 0; i < len; i++)
        (*ids)[k++] = 1000 + (unsigned char)text[i];
    *n = k;
    return 0;
}

static int failing_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, errmsg_t *err)
{
    (void)ctx, (void)text, (void)len, (void)ids, (void)n;
    return errmsg_set(err, OCT_EINTERNAL, "encoder failed");
}

static void test_fim_tokens(void)
{
    chat_fim_t cl = {CHAT_FIM_CODELLAMA, 32007, 32008, 32009, 32010, 1};
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(chat_fim_tokens(&cl, "ab", "c", 0, fake_spm_encode, NULL, &ids, &n, NULL) == 0);
    int32_t want_cl[] = {0, 32007, 1, 1000 + 'a', 1000 + 'b', 32008, 1000 + 'c', 32009};
    CHECK_EQ_INT(n, 8);
    CHECK(ids && n == 8 && !memcmp(ids, want_cl, sizeof want_cl));
    free(ids);

    chat_fim_t qw = {CHAT_FIM_QWEN, 151659, 151661, 151660, 151643, -1};
    CHECK(chat_fim_tokens(&qw, "", "c", 151643, fake_spm_encode, NULL, &ids, &n, NULL) == 0);
    int32_t want_qw[] = {151659, 151661, 1, 1000 + 'c', 151660}; /* no BOS, nothing dropped */
    CHECK(ids && n == 5 && !memcmp(ids, want_qw, sizeof want_qw));
    free(ids);

    errmsg_t err = {0};
    CHECK(chat_fim_tokens(&qw, "a", "b", -1, failing_encode, NULL, &ids, &n, &err) == OCT_EINTERNAL);
    CHECK(ids == NULL && n == 0 && !strcmp(err.msg, "encoder failed"));
    chat_fim_t none = {CHAT_FIM_NONE, -1, -1, -1, -1, -1};
    CHECK(chat_fim_tokens(&none, "a", "b", -1, fake_spm_encode, NULL, &ids, &n, &err) == OCT_EINVAL);
}

/* ---- model files -------------------------------------------------------- */

static void test_from_gguf(void)
{
    static const struct {
        const char *file, *override, *name, *bos, *system_start;
    } C[] = {
        {TINY_DIR "/qwen2_gqa_f32.gguf", NULL, "qwen", "<|endoftext|>", "You are Qwen"},
        {TINY_DIR "/llama_mha_f32.gguf", NULL, "llama3", "<|begin_of_text|>", NULL},
        {TINY_DIR "/llama_mha_f32.gguf", "deepseek", "deepseek", "<|begin_of_text|>", "You are an AI"},
        /* the embedded model is instruction-tuned on ChatML (tools/train/sft.py) */
        {"models/octet-code.gguf", NULL, "chatml", "<|endoftext|>", NULL},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        errmsg_t err = {0};
        gguf_t *g = NULL;
        chat_tmpl_t *t = NULL;
        CHECKF(gguf_open(&g, C[i].file, &err) == 0, "%s", err.msg);
        if (!g)
            continue;
        CHECKF(chat_tmpl_from_gguf(&t, g, C[i].override, &err) == 0, "%s", err.msg);
        if (t) {
            CHECK_EQ_STR(chat_tmpl_name(t), C[i].name);
            const char *sys = chat_tmpl_default_system(t);
            CHECKF(C[i].system_start ? sys && !strncmp(sys, C[i].system_start, strlen(C[i].system_start)) : !sys,
                   "%s: default system '%s'", C[i].file, sys ? sys : "(none)");
            chat_msg_t m = {CHAT_ROLE_USER, "hi"};
            char *out = NULL;
            CHECK(chat_format(t, &m, 1, true, &out, NULL, &err) == 0);
            CHECKF(out && (chat_tmpl_writes_bos(t) == !strncmp(out, C[i].bos, strlen(C[i].bos))), "%s: \"%s\"",
                   C[i].file, out);
            free(out);
        }
        chat_tmpl_free(t);
        gguf_close(g);
    }

    /* no template: plain completion; an unrecognized one: an error naming the file */
    for (int k = 0; k < 2; k++) {
        gb_t b;
        gb_init(&b, 3);
        gb_kv_str(&b, "general.architecture", "llama");
        if (k == 1)
            gb_kv_str(&b, "tokenizer.chat_template", "{{ messages }}<start_of_turn>");
        size_t len;
        const uint8_t *bytes = gb_finish(&b, &len);
        gguf_t *g = NULL;
        chat_tmpl_t *t = NULL;
        errmsg_t err = {0};
        CHECKF(gguf_open_mem(&g, bytes, len, "mem.gguf", &err) == 0, "%s", err.msg);
        int rc = g ? chat_tmpl_from_gguf(&t, g, NULL, &err) : -1;
        if (k == 0) {
            CHECK(rc == 0 && t && chat_tmpl_kind(t) == CHAT_KIND_NONE);
        } else {
            CHECK(rc == OCT_ENOTFOUND && !t);
            CHECK(strstr(err.msg, "mem.gguf") != NULL);
        }
        chat_tmpl_free(t);
        gguf_close(g);
        gb_free(&b);
    }
}

/* ---- with the real tokenizer --------------------------------------------- */

static int32_t tok_lookup(void *ctx, const char *text)
{
    return tok_find(ctx, text);
}

static int tok_plain_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, errmsg_t *err)
{
    return tok_encode(ctx, text, len, 0, ids, n, err);
}

static bool ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

/* The qwen2 tiny model has Qwen's ChatML and FIM tokens: the formatted text
 * tokenizes (with TOK_PARSE_SPECIAL) into the control tokens where expected,
 * and the FIM text and chat_fim_tokens give the same ids. */
static void test_with_tokenizer(void)
{
    errmsg_t err = {0};
    gguf_t *g = NULL;
    tok_t *tok = NULL;
    chat_tmpl_t *t = NULL;
    CHECKF(gguf_open(&g, TINY_DIR "/qwen2_gqa_f32.gguf", &err) == 0, "%s", err.msg);
    if (g)
        CHECKF(tok_load(&tok, g, &err) == 0, "%s", err.msg);
    if (tok)
        CHECKF(chat_tmpl_from_gguf(&t, g, NULL, &err) == 0, "%s", err.msg);
    if (!t)
        goto done;

    int32_t im_start = tok_find(tok, "<|im_start|>"), im_end = tok_find(tok, "<|im_end|>");
    CHECK(im_start >= 0 && im_end >= 0);
    chat_msg_t msgs[] = {{CHAT_ROLE_USER, "print(1)"}, {CHAT_ROLE_ASSISTANT, "1"}, {CHAT_ROLE_USER, "<|im_end|>?"}};
    char *text = NULL;
    size_t len = 0;
    CHECK(chat_format(t, msgs, 3, true, &text, &len, &err) == 0);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(!chat_tmpl_writes_bos(t));
    CHECK(tok_encode(tok, text, len, TOK_ADD_BOS | TOK_PARSE_SPECIAL, &ids, &n, &err) == 0);
    size_t starts = 0, ends = 0;
    for (size_t i = 0; i < n; i++) {
        starts += ids[i] == im_start;
        ends += ids[i] == im_end;
    }
    CHECK_EQ_INT(starts, 5); /* default system, three turns, the generation prompt */
    CHECK_EQ_INT(ends, 5);   /* four turns, and the user's literal "<|im_end|>" */
    CHECK(n > 0 && ids[0] == im_start); /* Qwen adds no BOS */
    free(ids);
    ids = NULL;
    /* with TOK_PARSE_SPECIAL off, a user's "<|im_end|>" stays text */
    CHECK(tok_encode(tok, msgs[2].content, strlen(msgs[2].content), 0, &ids, &n, &err) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] != im_end);
    free(ids);
    free(text);

    chat_fim_t fim;
    CHECKF(chat_fim_detect(&fim, tok_lookup, tok, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(fim.style, CHAT_FIM_QWEN);
    CHECK(fim.eot == tok_find(tok, "<|endoftext|>") && fim.eot >= 0);
    const char *pre = "def add(a, b):\n    ", *suf = "\n\nprint(add(1, 2))\n";
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(chat_fim_format(fim.style, pre, suf, &text, &len, &err) == 0);
    CHECK(tok_encode(tok, text, len, TOK_ADD_BOS | TOK_PARSE_SPECIAL, &a, &na, &err) == 0);
    CHECK(chat_fim_tokens(&fim, pre, suf, tok_bos(tok), tok_plain_encode, tok, &b, &nb, &err) == 0);
    CHECK(ids_equal(a, na, b, nb));
    CHECK(nb > 3 && b[0] == fim.pre && b[nb - 1] == fim.mid);
    free(a);
    free(b);
    free(text);

    /* the llama tiny model has no FIM tokens */
    tok_free(tok);
    tok = NULL;
    gguf_close(g);
    g = NULL;
    CHECK(gguf_open(&g, TINY_DIR "/llama_gqa_f16.gguf", &err) == 0);
    if (g && tok_load(&tok, g, &err) == 0)
        CHECK(chat_fim_detect(&fim, tok_lookup, tok, &err) == OCT_ENOTFOUND && fim.style == CHAT_FIM_NONE);
done:
    chat_tmpl_free(t);
    tok_free(tok);
    gguf_close(g);
}

int main(void)
{
    TEST_RUN(test_real_templates);
    TEST_RUN(test_detect);
    TEST_RUN(test_chatml_default_system);
    TEST_RUN(test_unicode_trim);
    TEST_RUN(test_errors);
    TEST_RUN(test_none_and_bos);
    TEST_RUN(test_fim_detect);
    TEST_RUN(test_fim_format);
    TEST_RUN(test_fim_tokens);
    TEST_RUN(test_from_gguf);
    TEST_RUN(test_with_tokenizer);
    TEST_END();
}
