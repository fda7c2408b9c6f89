/* lexer.c - a tiny tokenizer: numbers, names and one-character operators. */

#include "lexer.h"

#include <ctype.h>
#include <string.h>

/* Start reading SRC, a NUL-terminated string. */
void lex_init(struct lexer *lx, const char *src)
{
    lx->src = src;
    lx->pos = 0;
}

/* Skip white space. */
static void skip_blanks(struct lexer *lx)
{
    while (isspace((unsigned char)lx->src[lx->pos]))
        lx->pos++;
}

/* The next token of LX: TOK_END at the end, TOK_ERROR for an unknown character or a name too long. */
struct token lex_next(struct lexer *lx)
{
    skip_blanks(lx);
    struct token t = {TOK_END, lx->src + lx->pos, 0, 0};
    const char *p = t.start;
    if (*p == '\0')
        return t;
    if (isdigit((unsigned char)*p)) {
        t.kind = TOK_NUMBER;
        while (isdigit((unsigned char)p[t.len]))
            t.value = t.value * 10 + (p[t.len++] - '0');
    } else if (isalpha((unsigned char)*p) || *p == '_') {
        t.kind = TOK_NAME;
        while (isalnum((unsigned char)p[t.len]) || p[t.len] == '_')
            t.len++;
        if (t.len > 31)
            t.kind = TOK_ERROR;
    } else {
        t.kind = strchr("+-*/%=()<>;,", *p) ? TOK_PUNCT : TOK_ERROR;
        t.len = 1;
    }
    lx->pos += t.len;
    return t;
}

/* Whether the token T is spelled TEXT. */
int tok_is(const struct token *t, const char *text)
{
    return strlen(text) == t->len && memcmp(t->start, text, t->len) == 0;
}

/* The number of tokens in SRC, or -1 when it holds an error. */
int lex_count(const char *src)
{
    struct lexer lx;
    int count = 0;
    lex_init(&lx, src);
    for (;;) {
        struct token t = lex_next(&lx);
        if (t.kind == TOK_END)
            return count;
        if (t.kind == TOK_ERROR)
            return -1;
        count++;
    }
}
