/* test_lexer.c - the test of the task lexer-rename_function: Rename the function lex_next to lexer_next. */

#include <assert.h>
#include <stdio.h>

#include "lexer.h"

int main(void)
{
    struct lexer lx;
    struct token t;
    const char *text = "x1 = 42 * (y + 7);\n  total=x1";
    lex_init(&lx, text);
    assert(lx.src == text && lx.pos == 0);
    t = lexer_next(&lx);
    assert(t.kind == TOK_NAME && tok_is(&t, "x1") && !tok_is(&t, "x"));
    t = lexer_next(&lx);
    assert(t.kind == TOK_PUNCT && tok_is(&t, "="));
    t = lexer_next(&lx);
    assert(t.kind == TOK_NUMBER && t.value == 42 && t.len == 2);
    assert(lex_count(text) == 13);
    while ((t = lexer_next(&lx)).kind != TOK_END && !tok_is(&t, "total"))
        ;
    assert(tok_is(&t, "total") && lexer_next(&lx).kind == TOK_PUNCT);
    assert(lex_count("a $ b") == -1);
    assert(lex_count("abcdefghijklmnopqrstuvwxyz_abcd") == 1);
    assert(lex_count("abcdefghijklmnopqrstuvwxyz_abcde") == -1);
    assert(lex_count(" \n\t ") == 0);
    printf("ok\n");
    return 0;
}
