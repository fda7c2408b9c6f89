/* test_cont.c - where a continuation of code stops (flows/cont.c): Python
 * blocks by indentation (else/elif/except/finally and closing brackets
 * going on, trailing blank lines dropped, a complete typed block followed
 * by the next one written whole), C blocks by braces (strings,
 * characters and comments skipped, a ';' after the brace kept, the
 * innermost open block only), repeated blocks of lines, nothing ending
 * where no block was begun; and the same text shown however the stream
 * is cut into pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cont.h"
#include "test.h"

typedef struct expect {
    const char *typed, *gen, *shown;
    cont_state_t st;
} expect_t;

static const expect_t CASES[] = {
    /* Python: the next definition ends the function; blank lines before it go */
    {"def f(x):", "\n    y = x + 1\n    return y\n\n\ndef g():\n    pass\n", "\n    y = x + 1\n    return y\n",
     CONT_UNIT_END},
    /* a docstring typed: the opener is the def above it */
    {"def f(x):\n    \"\"\"Doc.\"\"\"\n", "    return x\nprint(f(1))\n", "    return x\n", CONT_UNIT_END},
    /* an if at depth 4: else goes on, the next statement at 4 ends it */
    {"def f(x):\n    if x:", "\n        a()\n    else:\n        b()\n    return 1\n",
     "\n        a()\n    else:\n        b()\n", CONT_UNIT_END},
    {"def f(x):\n    if x:", "\n        a()\n    elsewhere = 1\n", "\n        a()\n", CONT_UNIT_END},
    {"try:", "\n    a()\nexcept OSError:\n    pass\nfinally:\n    b()\nc()\n",
     "\n    a()\nexcept OSError:\n    pass\nfinally:\n    b()\n", CONT_UNIT_END},
    {"x = f(", "\n    1,\n)\ny = 2\n", "\n    1,\n)\ny = 2\n", CONT_GOING},
    /* the last line continues a bracket, not the def above */
    {"def f():\n    pass\nx = [\n    1,", "\n    2,\n]\ny = 3\n", "\n    2,\n]\ny = 3\n", CONT_GOING},
    {"def f():\n", "    pass\n# a comment\n", "    pass\n", CONT_UNIT_END},
    /* a complete function typed: the next one is written whole */
    {"def f():\n    return 1\n", "\n\ndef g():\n    return 2\n\n\ndef h():\n", "\n\ndef g():\n    return 2\n",
     CONT_UNIT_END},
    {"def f():", "\nreturn 1\nx = 2\n", "\nreturn 1\nx = 2\n", CONT_GOING},
    /* braces: strings, characters and comments do not count */
    {"int f(int x) {",
     "\n    if (x) { return 1; }\n    /* { */ // }\n    return \"}\"[0] + '}';\n}\nint g(void) {\n",
     "\n    if (x) { return 1; }\n    /* { */ // }\n    return \"}\"[0] + '}';\n}", CONT_UNIT_END},
    {"struct s {", "\n    int a;\n};\nint x;\n", "\n    int a;\n};", CONT_UNIT_END},
    /* a block comment whose first star is not the one that closes it, and one right after another */
    {"void f(void) { /*/ } */", "\n    g(); /* } *//* } */\n}\nvoid h(void) {\n",
     "\n    g(); /* } *//* } */\n}", CONT_UNIT_END},
    /* the innermost open block: a method of a class */
    {"class A {\n    int f() {", "\n        return 1;\n    }\n    int g() {}\n};\n", "\n        return 1;\n    }",
     CONT_UNIT_END},
    /* a loop of the same two lines, three times */
    {"x = 1",
     "\nif s.startswith('https://example.org/'):\n    return s\nif s.startswith('https://example.org/'):\n"
     "    return s\nif s.startswith('https://example.org/'):\n    return s\nif s.startswith('https://example.org/'):\n",
     "\nif s.startswith('https://example.org/'):\n    return s\nif s.startswith('https://example.org/'):\n"
     "    return s\nif s.startswith('https://example.org/'):\n    return s\n",
     CONT_REPEAT},
    /* short repeats are code */
    {"x", "\n}\n}\n}\n}\n", "\n}\n}\n}\n}\n", CONT_GOING},
    {"m = [", "\n    [0, 0, 0, 0, 0, 0, 0, 0],\n    [0, 0, 0, 0, 0, 0, 0, 0],\n    [0, 0, 0, 0, 0, 0, 0, 0],\n]\n",
     "\n    [0, 0, 0, 0, 0, 0, 0, 0],\n    [0, 0, 0, 0, 0, 0, 0, 0],\n    [0, 0, 0, 0, 0, 0, 0, 0],\n]\n", CONT_GOING},
    /* the loop the shipped model fell into: two lines of 33 characters */
    {"def f(s):", "\n    if s.startswith(\"http://\"):\n        return s\n    if s.startswith(\"http://\"):\n"
     "        return s\n    if s.startswith(\"http://\"):\n        return s\n    if s.startswith(\"http://\"):\n",
     "\n    if s.startswith(\"http://\"):\n        return s\n    if s.startswith(\"http://\"):\n"
     "        return s\n    if s.startswith(\"http://\"):\n        return s\n", CONT_REPEAT},
    /* no block begun: nothing ends */
    {"import os", "\nimport sys\n\nprint(1)\n\n", "\nimport sys\n\nprint(1)\n\n", CONT_GOING},
    {"def f():", "\n    pass\n\n\n", "\n    pass\n\n\n", CONT_GOING},
};

/* Feed E->gen in pieces of CHUNK bytes (0: at once); the text shown and
 * the final state must be E's. */
static void run(const expect_t *e, size_t chunk, int idx)
{
    cont_t *c = NULL;
    errmsg_t err = {0};
    CHECK(cont_new(&c, e->typed, strlen(e->typed), &err) == 0);
    if (!c)
        return;
    char shown[1024] = "";
    size_t n = 0, len = strlen(e->gen);
    for (size_t i = 0; i < len;) {
        size_t k = chunk && chunk < len - i ? chunk : len - i;
        const char *s;
        size_t sl;
        CHECK(cont_push(c, e->gen + i, k, &s, &sl, &err) == 0);
        CHECK(n + sl < sizeof shown);
        memcpy(shown + n, s, sl);
        n += sl;
        i += k;
        if (cont_state(c) != CONT_GOING)
            break;
    }
    const char *s;
    size_t sl;
    cont_flush(c, &s, &sl);
    memcpy(shown + n, s, sl);
    n += sl;
    shown[n] = '\0';
    CHECKF(!strcmp(shown, e->shown), "case %d, pieces of %zu: shown [%s], want [%s]", idx, chunk, shown, e->shown);
    CHECKF(cont_state(c) == e->st, "case %d, pieces of %zu: state %d, want %d", idx, chunk, (int)cont_state(c),
           (int)e->st);
    CHECK((cont_why(c) == NULL) == (e->st == CONT_GOING));
    cont_free(c);
}

static void test_cases(void)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7};
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++)
            run(&CASES[i], chunks[k], (int)i);
}

/* After the end nothing more is shown, and random text never breaks the
 * follower (every byte value, every chunking). */
static void test_after_end_and_noise(void)
{
    cont_t *c = NULL;
    errmsg_t err = {0};
    const char *s;
    size_t sl;
    CHECK(cont_new(&c, "int f() {", 9, &err) == 0);
    CHECK(cont_push(c, "\n}\nmore text\n", 13, &s, &sl, &err) == 0);
    CHECK(cont_state(c) == CONT_UNIT_END && sl == 2 && !memcmp(s, "\n}", 2));
    CHECK(cont_push(c, "x", 1, &s, &sl, &err) == 0);
    CHECK(sl == 0);
    cont_flush(c, &s, &sl);
    CHECK(sl == 0);
    cont_free(c);

    srand(7);
    for (int r = 0; r < 200; r++) {
        char typed[64], gen[512];
        size_t tl = (size_t)(rand() % 64), gl = (size_t)(rand() % 512);
        static const char alpha[] = "{}();:'\"/*\\#\n\n   \tabdefilsx";
        for (size_t i = 0; i < tl; i++)
            typed[i] = r % 4 ? alpha[rand() % (int)(sizeof alpha - 1)] : (char)(rand() % 256);
        for (size_t i = 0; i < gl; i++)
            gen[i] = r % 4 ? alpha[rand() % (int)(sizeof alpha - 1)] : (char)(rand() % 256);
        size_t total[2] = {0, 0};
        cont_state_t st[2];
        for (int w = 0; w < 2; w++) {
            CHECK(cont_new(&c, typed, tl, &err) == 0);
            for (size_t i = 0; i < gl;) {
                size_t k = w ? 1 + (size_t)(rand() % 9) : gl - i;
                if (k > gl - i)
                    k = gl - i;
                CHECK(cont_push(c, gen + i, k, &s, &sl, &err) == 0);
                total[w] += sl;
                i += k;
            }
            cont_flush(c, &s, &sl);
            total[w] += sl;
            st[w] = cont_state(c);
            CHECK(total[w] <= gl);
            cont_free(c);
        }
        CHECKF(total[0] == total[1] && st[0] == st[1], "run %d: %zu/%d against %zu/%d", r, total[0], (int)st[0],
               total[1], (int)st[1]);
    }
}

int main(void)
{
    TEST_RUN(test_cases);
    TEST_RUN(test_after_end_and_noise);
    TEST_END();
}
