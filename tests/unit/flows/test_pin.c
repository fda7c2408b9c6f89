/* test_pin.c - pinned code (flows/pin.c) on a real git repository: the
 * PATH:START-END parser and its errors, /add of files, ranges and symbols
 * (found through the index, ambiguous ones refused with their places),
 * merging of overlapping pins, /drop by number, path and all, and pin_pack:
 * pinned blocks first within the budget, a pin too big cut to its first
 * lines, retrieved chunks overlapping a pin left out, what was cut said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pin.h"
#include "rag.h"
#include "test.h"
#include "test_repo.h"

static void test_parse(void)
{
    char *path;
    int a, b;
    errmsg_t err = {0};
    CHECK(pin_parse("src/x.c:10-80", &path, &a, &b, &err) == 0);
    CHECK_EQ_STR(path, "src/x.c");
    CHECK(a == 10 && b == 80);
    free(path);
    CHECK(pin_parse("x.c:7", &path, &a, &b, &err) == 0);
    CHECK(a == 7 && b == 7 && !strcmp(path, "x.c"));
    free(path);
    CHECK(pin_parse("parse_args", &path, &a, &b, &err) == 0);
    CHECK(a == 0 && b == 0 && !strcmp(path, "parse_args"));
    free(path);
    /* a colon not followed by a range is part of the name */
    CHECK(pin_parse("a:b.c", &path, &a, &b, &err) == 0);
    CHECK(a == 0 && !strcmp(path, "a:b.c"));
    free(path);
    CHECK_EQ_INT(pin_parse("x.c:12-3", &path, &a, &b, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "x.c:12-3: the line range 12-3 is empty"), "%s", err.msg);
    CHECK(path == NULL);
    CHECK_EQ_INT(pin_parse("x.c:0-4", &path, &a, &b, &err), OCT_EINVAL);
    CHECK_EQ_INT(pin_parse("x.c:1-2-3", &path, &a, &b, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "expected PATH:START-END"), "%s", err.msg);
    CHECK_EQ_INT(pin_parse(":3-4", &path, &a, &b, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "nothing to pin"), "%s", err.msg);
    CHECK_EQ_INT(pin_parse("", &path, &a, &b, &err), OCT_EINVAL);
}

static rag_t *repo_index(void)
{
    repo_dir("pin");
    put("src/add.c", "int add(int a, int b)\n{\n    return a + b;\n}\n\nint twice(int a)\n{\n    return add(a, a);\n}\n");
    put("lib/p.py", "class Parser:\n    def parse(self, x):\n        return x\n\n\ndef parse(y):\n    return y\n");
    put("lib/q.py", "def parse(z):\n    return z\n");
    char bin[300];
    snprintf(bin, sizeof bin, "%s/data.bin", g_repo);
    FILE *f = fopen(bin, "wb");
    if (f) {
        fwrite("ab\0cd\n", 1, 6, f);
        fclose(f);
    }
    repo_commit();
    rag_t *r = NULL;
    rag_options_t ro = {0};
    errmsg_t err = {0};
    ro.dir = g_repo;
    CHECKF(rag_open(&r, &ro, &err) == 0 && rag_update(r, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    return r;
}

static void test_add_drop(void)
{
    rag_t *r = repo_index();
    if (!r)
        return;
    pin_list_t l = {0};
    errmsg_t err = {0};
    char *what = NULL;
    /* a file, relative to BASE, shown relative to the root */
    CHECKF(pin_add(&l, "src/add.c", g_repo, g_repo, r, &what, &err) == 0, "%s", err.msg);
    CHECKF(what && !strcmp(what, "pinned 1: src/add.c (the whole file)"), "%s", what);
    free(what);
    /* inside a whole-file pin: nothing changes */
    CHECK(pin_add(&l, "src/add.c:2-3", g_repo, g_repo, r, &what, &err) == 0);
    CHECKF(what && strstr(what, "already pinned: pin 1 (src/add.c)"), "%s", what);
    free(what);
    CHECK_EQ_INT(l.n, 1);
    CHECK(pin_drop(&l, "src/add.c", &what, &err) == 0);
    CHECKF(what && strstr(what, "dropped the pin src/add.c (0 pins left)"), "%s", what);
    free(what);
    CHECK_EQ_INT(l.n, 0);

    /* ranges: overlapping and touching ones merge */
    CHECK(pin_add(&l, "src/add.c:1-2", g_repo, g_repo, r, NULL, &err) == 0);
    CHECK(pin_add(&l, "lib/q.py:1-1", g_repo, g_repo, r, NULL, &err) == 0);
    CHECK(pin_add(&l, "src/add.c:6-9", g_repo, g_repo, r, NULL, &err) == 0);
    CHECK_EQ_INT(l.n, 3);
    CHECK(pin_add(&l, "src/add.c:3-5", g_repo, g_repo, r, &what, &err) == 0);
    CHECKF(what && strstr(what, "pinned 1: src/add.c:1-9 (9 lines; merged with pins 1, 3)"), "%s", what);
    free(what);
    CHECK_EQ_INT(l.n, 2);
    char *label = pin_label(&l.v[0]);
    CHECK_EQ_STR(label, "src/add.c:1-9");
    free(label);

    /* errors name the argument and say what is wrong */
    CHECK_EQ_INT(pin_add(&l, "src/add.c:5-40", g_repo, g_repo, r, NULL, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "src/add.c has 9 lines: 5-40 goes past its end"), "%s", err.msg);
    CHECK_EQ_INT(pin_add(&l, "nowhere.c", g_repo, g_repo, r, NULL, &err), OCT_ENOTFOUND);
    CHECKF(strstr(err.msg, "nowhere.c: no such file"), "%s", err.msg);
    CHECK_EQ_INT(pin_add(&l, "nowhere.c:1-2", g_repo, g_repo, r, NULL, &err), OCT_ENOTFOUND);
    CHECK_EQ_INT(pin_add(&l, "data.bin", g_repo, g_repo, r, NULL, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "data.bin: a binary file"), "%s", err.msg);
    CHECK_EQ_INT(pin_add(&l, "src", g_repo, g_repo, r, NULL, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "src: not a regular file"), "%s", err.msg);
    CHECK_EQ_INT(pin_add(&l, "no_such_symbol", g_repo, g_repo, r, NULL, &err), OCT_ENOTFOUND);
    CHECKF(strstr(err.msg, "no_such_symbol: no such file, and no definition of it in the repository's index"), "%s",
           err.msg);
    CHECK_EQ_INT(pin_add(&l, "no_such_symbol", g_repo, g_repo, NULL, NULL, &err), OCT_ENOTFOUND);
    CHECKF(strstr(err.msg, "no repository index"), "%s", err.msg);

    /* symbols: the definition through the index; an ambiguous one lists its places */
    CHECK_EQ_INT(pin_drop(&l, "", NULL, &err), 0);
    CHECKF(pin_add(&l, "twice", g_repo, g_repo, r, &what, &err) == 0, "%s", err.msg);
    CHECKF(what && !strcmp(what, "pinned 1: src/add.c:6-9 (the definition of twice, 4 lines)"), "%s", what);
    free(what);
    CHECK_EQ_INT(pin_add(&l, "parse", g_repo, g_repo, r, NULL, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "parse is defined in 2 places: lib/p.py:6-7 (parse), lib/q.py:1-2 (parse)"), "%s",
           err.msg);
    CHECK_EQ_INT(pin_drop(&l, "twice", NULL, &err), 0);
    CHECK(pin_add(&l, "Parser", g_repo, g_repo, r, &what, &err) == 0);
    CHECKF(what && !strcmp(what, "pinned 1: lib/p.py:1-3 (the definition of Parser, 3 lines)"), "%s", what);
    free(what);
    CHECK(l.v[0].symbol && !strcmp(l.v[0].symbol, "Parser"));

    /* /drop: by number, by symbol, a bad number, nothing matching */
    CHECK(pin_add(&l, "lib/q.py", g_repo, g_repo, r, NULL, &err) == 0);
    CHECK_EQ_INT(pin_drop(&l, "3", NULL, &err), OCT_EINVAL);
    CHECKF(strstr(err.msg, "there is no pin 3: 2 pinned"), "%s", err.msg);
    CHECK_EQ_INT(pin_drop(&l, "other.c", NULL, &err), OCT_ENOTFOUND);
    CHECK(pin_drop(&l, "Parser", NULL, &err) == 0);
    CHECK(l.n == 1 && !strcmp(l.v[0].path, "lib/q.py"));
    pin_list_t copy = {0};
    CHECK(pin_list_copy(&copy, &l) == 0);
    CHECK(pin_drop(&l, "1", &what, &err) == 0);
    free(what);
    CHECK_EQ_INT(pin_drop(&l, "", NULL, &err), OCT_ENOTFOUND);
    CHECK(copy.n == 1 && !strcmp(copy.v[0].path, "lib/q.py"));
    pin_list_free(&copy);
    pin_list_free(&l);
    rag_close(r);
}

static rag_hit_t hit(const char *path, int a, int b, double score)
{
    char text[4096] = "";
    size_t o = 0;
    for (int i = a; i <= b; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%sline %d", i > a ? "\n" : "", i);
    return (rag_hit_t){.path = strdup(path), .lang = strdup("c"), .start = a, .end = b, .score = score,
                       .text = strdup(text)};
}

static const pin_item_t *item(const pin_ctx_t *c, const char *path, int start)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->items[i].path, path) && c->items[i].start == start)
            return &c->items[i];
    return NULL;
}

static void test_pack(void)
{
    repo_dir("pinpack");
    char big[8192] = "";
    size_t o = 0;
    for (int i = 1; i <= 100; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "big line %d\n", i);
    put("big.c", big);
    put("small.c", "int pinned_marker = 1;\nint second = 2;\n");
    pin_list_t l = {0};
    errmsg_t err = {0};
    CHECK(pin_add(&l, "small.c", g_repo, g_repo, NULL, NULL, &err) == 0);
    rag_results_t hits = {calloc(3, sizeof(rag_hit_t)), 3};
    hits.hits[0] = hit("small.c", 2, 2, 5);  /* inside the pin: left out */
    hits.hits[1] = hit("other.c", 1, 3, 4);
    hits.hits[2] = hit("far.c", 1, 200, 3); /* over the budget */
    pin_ctx_t c;
    CHECKF(pin_pack(NULL, &l, &hits, 200, NULL, NULL, &c, &err) == 0, "%s", err.msg);
    CHECK(c.tokens <= 200);
    CHECKF(!strncmp(c.text, "small.c:1-2\n```c\nint pinned_marker = 1;\n", 40), "%s", c.text);
    CHECKF(strstr(c.retrieved, "other.c:1-3") && !strstr(c.text, "far.c") && !strstr(c.retrieved, "small.c"), "%s",
           c.text);
    CHECK(!strncmp(c.text, c.pinned, strlen(c.pinned)));
    CHECK_EQ_INT(c.n, 4);
    CHECK(c.items[0].kind == PIN_KIND_PINNED && c.items[0].state == PIN_SENT && c.items[0].end == 2);
    CHECK(item(&c, "small.c", 2)->state == PIN_COVERED);
    CHECK(item(&c, "other.c", 1)->state == PIN_SENT);
    CHECK(item(&c, "far.c", 1)->state == PIN_LEFT_OUT);
    char *sum = pin_ctx_summary(&c);
    CHECKF(sum && !strcmp(sum, "context: 1 pinned, 1 retrieved chunk, 1 cut to fit 200 tokens (far.c:1-200), "
                               "1 retrieved left out as inside a pin"),
           "%s", sum);
    free(sum);
    char *d = pin_item_detail(item(&c, "far.c", 1));
    CHECKF(d && !strcmp(d, "score 3, left out: over the budget"), "%s", d);
    free(d);
    pin_ctx_free(&c);

    /* a pin bigger than the budget keeps its first lines; nothing retrieved fits after it */
    CHECK(pin_add(&l, "big.c", g_repo, g_repo, NULL, NULL, &err) == 0);
    CHECK(pin_pack(NULL, &l, &hits, 120, NULL, NULL, &c, &err) == 0);
    CHECK(c.tokens <= 120);
    const pin_item_t *b = item(&c, "big.c", 1);
    CHECKF(b && b->state == PIN_CUT && b->sent_end > 1 && b->sent_end < 100, "%d", b ? b->sent_end : -1);
    CHECK(strstr(c.text, "big line 1\n") && !strstr(c.text, "big line 100\n"));
    CHECK(item(&c, "other.c", 1)->state == PIN_LEFT_OUT);
    sum = pin_ctx_summary(&c);
    CHECKF(sum && strstr(sum, "context: 2 pinned, 0 retrieved chunks, 3 cut to fit 120 tokens (big.c:1-100 after line"),
           "%s", sum);
    free(sum);
    pin_ctx_free(&c);

    /* the pinned file changes: the next prompt has its new text; a deleted one is said, not fatal */
    put("small.c", "int changed = 3;\n");
    sh("rm '%s/big.c'", g_repo);
    CHECK(pin_pack(NULL, &l, NULL, 500, NULL, NULL, &c, &err) == 0);
    CHECK(strstr(c.text, "int changed = 3;") && !strstr(c.text, "pinned_marker"));
    CHECK(item(&c, "small.c", 1)->end == 1);
    CHECK(item(&c, "big.c", 0) && item(&c, "big.c", 0)->state == PIN_UNREADABLE);
    sum = pin_ctx_summary(&c);
    CHECKF(sum && !strcmp(sum, "context: 2 pinned, 1 pin not sent (big.c: No such file or directory)"), "%s", sum);
    free(sum);
    pin_ctx_free(&c);

    /* refactor's target first; nothing to say without pins or cuts */
    rag_hit_t t = hit("t.c", 1, 2, 0);
    CHECK(pin_pack(&t, NULL, &hits, 1000, NULL, NULL, &c, &err) == 0);
    CHECK(!strncmp(c.text, "t.c:1-2\n", 8) && c.items[0].kind == PIN_KIND_TARGET);
    sum = pin_ctx_summary(&c);
    CHECKF(sum && !strncmp(sum, "context: the target t.c, 3 retrieved chunks", 43), "%s", sum);
    free(sum);
    pin_ctx_free(&c);
    CHECK(pin_pack(NULL, NULL, &hits, 100000, NULL, NULL, &c, &err) == 0);
    CHECK(pin_ctx_summary(&c) == NULL);
    /* after /drop the panel shows the pins as they will be sent */
    CHECK(pin_drop(&l, "big.c", NULL, &err) == 0);
    CHECK(pin_ctx_repin(&c, &l, &err) == 0);
    CHECK(c.n == 4 && c.items[0].kind == PIN_KIND_PINNED && c.items[0].state == PIN_NEXT);
    d = pin_item_detail(&c.items[0]);
    CHECKF(d && !strcmp(d, "pinned, goes into the next prompt"), "%s", d);
    free(d);
    pin_ctx_free(&c);
    free(t.path);
    free(t.lang);
    free(t.text);
    rag_results_free(&hits);
    pin_list_free(&l);
}

int main(void)
{
    TEST_RUN(test_parse);
    TEST_RUN(test_add_drop);
    TEST_RUN(test_pack);
    sh("rm -rf '%s'", g_repo);
    TEST_END();
}
