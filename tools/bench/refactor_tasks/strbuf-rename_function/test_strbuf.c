/* test_strbuf.c - the test of the task strbuf-rename_function: Rename the function sb_append_char to sb_putc. */

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "strbuf.h"

int main(void)
{
    strbuf sb;
    sb_init(&sb);
    assert(sb.data == NULL && sb.len == 0);
    assert(sb_append(&sb, "hello") == 0);
    assert(sb_putc(&sb, ',') == 0);
    assert(sb_append_repeat(&sb, '-', 4) == 0);
    assert(strcmp(sb.data, "hello,----") == 0 && sb.len == 10);
    assert(sb.cap == 16);
    assert(sb_append(&sb, " and then some more text") == 0);
    assert(sb.cap == 64 && strcmp(sb.data, "hello,---- and then some more text") == 0);
    assert(sb_append_repeat(&sb, '!', 0) == 0 && sb.len == 34);
    assert(sb_reserve(&sb, 1000) == 0 && sb.cap >= sb.len + 1001);
    sb_free(&sb);
    assert(sb.data == NULL && sb.cap == 0);
    printf("ok\n");
    return 0;
}
