/* lexer.h - a tiny tokenizer for arithmetic and assignments: numbers, names and one-character operators. */
#ifndef LEXER_H
#define LEXER_H

#include <stddef.h>

enum tok_kind { TOK_END, TOK_NUMBER, TOK_NAME, TOK_PUNCT, TOK_ERROR };

struct token {
    enum tok_kind kind;
    const char *start;  /* where it is in the source text */
    size_t len;
    long value;         /* the value of a TOK_NUMBER */
};

struct lexer {
    const char *src;
    size_t pos;
};

/* Start reading SRC, a NUL-terminated string. */
void lex_init(struct lexer *lx, const char *src);
/* The next token of LX: TOK_END at the end, TOK_ERROR for an unknown character or a name too long. */
struct token lex_next(struct lexer *lx);
/* Whether the token T is spelled TEXT. */
int tok_is(const struct token *t, const char *text);
/* The number of tokens in SRC, or -1 when it holds an error. */
int lex_count(const char *src);

#endif
