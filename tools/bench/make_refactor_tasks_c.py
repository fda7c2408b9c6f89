"""make_refactor_tasks_c.py - write the held-out C refactoring tasks of tools/bench/refactor_tasks/ (run once;
the files are committed), the C counterpart of make_refactor_tasks.py.

Five small hand-written C11 modules (a header NAME.h and NAME.c each), and for each four refactors, phrased
as tools/train/c_refactor.py phrases them: rename a function (in the .c file and the header), rename a local
variable of one function, rename a parameter of one function, extract a numeric literal of one function into
a #define. Each task directory MODULE-KIND holds the module as it is before the change, a test program
test_NAME.c written against the module AFTER the change, and task.json (the instruction given to `octet
refactor --path NAME.c`, the files, and what refactor_eval.py's check_c_change looks for).

The test is compiled as refactor_eval.py compiles it (`cc -std=c11 -Wall
-Werror=implicit-function-declaration test_NAME.c NAME.c`) and run in the folder of the module. It calls every
function of the module with asserts; a caller cannot see a local variable's name, a parameter's name or a
macro, so for those tasks the test also reads NAME.c back and looks at the tokens of the function (the
checks are C code prepended to the test: SOURCE_CHECKS below). Before the change the test must fail (a
renamed function is undeclared, a source check fails) and after it pass: this script checks both ways,
against the module it wrote and against the module as the change leaves it (made here token by token:
renames of identifier tokens, members after `.` and `->` left alone; a literal replaced in the function and
`#define NAME VALUE` put above the function's leading comment, as c_refactor.py does), and so does
check_c_change. For a function's rename it also checks that renaming it in NAME.c only, not in the header,
fails.

    python3 tools/bench/make_refactor_tasks_c.py           # write the tasks (and check them)
    python3 tools/bench/make_refactor_tasks_c.py --check   # check the committed tasks: same files, both ways

Written for octet's model evaluation and never trained on: tools/train reads installed packages and
.gpu/ccorpus.tar.xz only."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "refactor_tasks")
sys.path.insert(0, HERE)
import refactor_eval  # noqa: E402  (its C lexer and check_c_change)

CC = ["cc", "-std=c11", "-Wall", "-Werror=implicit-function-declaration"]

STRBUF_H = '''/* strbuf.h - a growable string buffer, always NUL-terminated once something was appended. */
#ifndef STRBUF_H
#define STRBUF_H

#include <stddef.h>

typedef struct {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes in use, not counting the NUL */
    size_t cap;  /* bytes allocated */
} strbuf;

/* Make SB an empty buffer that owns no memory yet. */
void sb_init(strbuf *sb);
/* Release the memory of SB and leave it empty. */
void sb_free(strbuf *sb);
/* Make room for EXTRA more bytes: 0 on success, -1 when out of memory. */
int sb_reserve(strbuf *sb, size_t extra);
/* Append the string S: 0 on success, -1 when out of memory. */
int sb_append(strbuf *sb, const char *s);
/* Append the character C: 0 on success, -1 when out of memory. */
int sb_append_char(strbuf *sb, char c);
/* Append COUNT copies of the character C: 0 on success, -1 when out of memory. */
int sb_append_repeat(strbuf *sb, char c, size_t count);

#endif
'''

STRBUF_C = '''/* strbuf.c - a growable string buffer. */

#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

/* Make SB an empty buffer that owns no memory yet. */
void sb_init(strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

/* Release the memory of SB and leave it empty. */
void sb_free(strbuf *sb)
{
    free(sb->data);
    sb_init(sb);
}

/* Make room for EXTRA more bytes and the terminating NUL: 0 on success, -1 when out of memory.
   The capacity doubles as it grows. */
int sb_reserve(strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 16;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(sb->data, cap);
    if (!grown)
        return -1;
    sb->data = grown;
    sb->cap = cap;
    return 0;
}

/* Append the NUL-terminated string S: 0 on success, -1 when out of memory. */
int sb_append(strbuf *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb_reserve(sb, n) < 0)
        return -1;
    memcpy(sb->data + sb->len, s, n + 1);
    sb->len += n;
    return 0;
}

/* Append the character C: 0 on success, -1 when out of memory. */
int sb_append_char(strbuf *sb, char c)
{
    if (sb_reserve(sb, 1) < 0)
        return -1;
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\\0';
    return 0;
}

/* Append COUNT copies of the character C: 0 on success, -1 when out of memory. */
int sb_append_repeat(strbuf *sb, char c, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (sb_append_char(sb, c) < 0)
            return -1;
    return 0;
}
'''

STRBUF_TEST = '''    strbuf sb;
    sb_init(&sb);
    assert(sb.data == NULL && sb.len == 0);
    assert(sb_append(&sb, "hello") == 0);
    assert(sb_append_char(&sb, ',') == 0);
    assert(sb_append_repeat(&sb, '-', 4) == 0);
    assert(strcmp(sb.data, "hello,----") == 0 && sb.len == 10);
    assert(sb.cap == 16);
    assert(sb_append(&sb, " and then some more text") == 0);
    assert(sb.cap == 64 && strcmp(sb.data, "hello,---- and then some more text") == 0);
    assert(sb_append_repeat(&sb, '!', 0) == 0 && sb.len == 34);
    assert(sb_reserve(&sb, 1000) == 0 && sb.cap >= sb.len + 1001);
    sb_free(&sb);
    assert(sb.data == NULL && sb.cap == 0);
'''

RINGQ_H = '''/* ringq.h - a fixed-capacity FIFO queue of ints in a ring buffer. */
#ifndef RINGQ_H
#define RINGQ_H

#include <stddef.h>

typedef struct {
    int *items;
    size_t head;      /* index of the oldest item */
    size_t count;     /* items in the queue */
    size_t capacity;  /* room for this many items */
} ringq;

/* Set Q up for CAPACITY items (a default number when 0): 0, or -1 when out of memory. */
int rq_init(ringq *q, size_t capacity);
/* Free the items of Q. */
void rq_destroy(ringq *q);
/* Whether Q holds as many items as it can. */
int rq_is_full(const ringq *q);
/* Add VALUE at the back of Q: 0, or -1 when Q is full. */
int rq_push(ringq *q, int value);
/* Take the front item of Q into *OUT: 0, or -1 when Q is empty. */
int rq_pop(ringq *q, int *out);
/* Move up to MAX items from the front of Q into DST, oldest first; returns how many. */
size_t rq_drain(ringq *q, int *dst, size_t max);

#endif
'''

RINGQ_C = '''/* ringq.c - a fixed-capacity FIFO queue of ints in a ring buffer. */

#include "ringq.h"

#include <stdlib.h>

/* Set Q up for CAPACITY items, or for a default number of them when CAPACITY is 0.
   Returns 0, or -1 when out of memory. */
int rq_init(ringq *q, size_t capacity)
{
    if (capacity == 0)
        capacity = 8;
    q->items = malloc(capacity * sizeof *q->items);
    if (!q->items)
        return -1;
    q->head = 0;
    q->count = 0;
    q->capacity = capacity;
    return 0;
}

/* Free the items of Q and leave it with no room. */
void rq_destroy(ringq *q)
{
    free(q->items);
    q->items = NULL;
    q->head = q->count = q->capacity = 0;
}

/* Whether Q holds as many items as it can. */
int rq_is_full(const ringq *q)
{
    return q->count == q->capacity;
}

/* Add VALUE at the back of Q: 0, or -1 when Q is full. */
int rq_push(ringq *q, int value)
{
    if (rq_is_full(q))
        return -1;
    size_t tail = (q->head + q->count) % q->capacity;
    q->items[tail] = value;
    q->count++;
    return 0;
}

/* Take the front item of Q into *OUT: 0, or -1 when Q is empty. */
int rq_pop(ringq *q, int *out)
{
    if (q->count == 0)
        return -1;
    *out = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    return 0;
}

/* Move up to MAX items from the front of Q into DST, oldest first; returns how many were moved. */
size_t rq_drain(ringq *q, int *dst, size_t max)
{
    size_t n = 0;
    while (n < max && rq_pop(q, &dst[n]) == 0)
        n++;
    return n;
}
'''

RINGQ_TEST = '''    ringq q;
    int v, out[8];
    assert(rq_init(&q, 0) == 0 && q.capacity == 8);
    rq_destroy(&q);
    assert(q.items == NULL && q.capacity == 0);
    assert(rq_init(&q, 3) == 0 && q.capacity == 3);
    assert(rq_pop(&q, &v) == -1);
    assert(rq_push(&q, 1) == 0 && rq_push(&q, 2) == 0 && rq_push(&q, 3) == 0);
    assert(rq_is_full(&q) && rq_push(&q, 4) == -1);
    assert(rq_pop(&q, &v) == 0 && v == 1);
    assert(!rq_is_full(&q));
    assert(rq_push(&q, 4) == 0 && rq_push(&q, 5) == -1);
    assert(rq_drain(&q, out, 2) == 2 && out[0] == 2 && out[1] == 3);
    assert(rq_push(&q, 5) == 0 && rq_drain(&q, out, 8) == 2 && out[0] == 4 && out[1] == 5 && q.count == 0);
    rq_destroy(&q);
'''

LEXER_H = '''/* lexer.h - a tiny tokenizer for arithmetic and assignments: numbers, names and one-character operators. */
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
'''

LEXER_C = '''/* lexer.c - a tiny tokenizer: numbers, names and one-character operators. */

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
    if (*p == '\\0')
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
'''

LEXER_TEST = '''    struct lexer lx;
    struct token t;
    const char *text = "x1 = 42 * (y + 7);\\n  total=x1";
    lex_init(&lx, text);
    assert(lx.src == text && lx.pos == 0);
    t = lex_next(&lx);
    assert(t.kind == TOK_NAME && tok_is(&t, "x1") && !tok_is(&t, "x"));
    t = lex_next(&lx);
    assert(t.kind == TOK_PUNCT && tok_is(&t, "="));
    t = lex_next(&lx);
    assert(t.kind == TOK_NUMBER && t.value == 42 && t.len == 2);
    assert(lex_count(text) == 13);
    while ((t = lex_next(&lx)).kind != TOK_END && !tok_is(&t, "total"))
        ;
    assert(tok_is(&t, "total") && lex_next(&lx).kind == TOK_PUNCT);
    assert(lex_count("a $ b") == -1);
    assert(lex_count("abcdefghijklmnopqrstuvwxyz_abcd") == 1);
    assert(lex_count("abcdefghijklmnopqrstuvwxyz_abcde") == -1);
    assert(lex_count(" \\n\\t ") == 0);
'''

MATRIX_H = '''/* matrix.h - small dense matrices of doubles, stored row by row. */
#ifndef MATRIX_H
#define MATRIX_H

typedef struct {
    int rows;
    int cols;
    double v[];  /* rows * cols values, row by row */
} matrix;

/* A ROWS x COLS matrix of zeros, or NULL when out of memory; free() frees it. */
matrix *mat_new(int rows, int cols);
/* The value at row R, column C of M. */
double mat_get(const matrix *m, int r, int c);
/* Set the value at row R, column C of M to X. */
void mat_set(matrix *m, int r, int c, double x);
/* The product A B, or NULL when the shapes do not match or out of memory. */
matrix *mat_mul(const matrix *a, const matrix *b);
/* The transpose of M, or NULL when out of memory. */
matrix *mat_transpose(const matrix *m);
/* Whether A and B have the same shape and the same values within a small tolerance. */
int mat_equal(const matrix *a, const matrix *b);

#endif
'''

MATRIX_C = '''/* matrix.c - small dense matrices of doubles, stored row by row. */

#include "matrix.h"

#include <stdlib.h>

/* A ROWS x COLS matrix of zeros, or NULL when out of memory. */
matrix *mat_new(int rows, int cols)
{
    matrix *m = calloc(1, sizeof *m + sizeof(double) * rows * cols);
    if (m) {
        m->rows = rows;
        m->cols = cols;
    }
    return m;
}

/* The value at row R, column C of M. */
double mat_get(const matrix *m, int r, int c)
{
    return m->v[r * m->cols + c];
}

/* Set the value at row R, column C of M to X. */
void mat_set(matrix *m, int r, int c, double x)
{
    m->v[r * m->cols + c] = x;
}

/* The product A B, or NULL when the shapes do not match or out of memory. */
matrix *mat_mul(const matrix *a, const matrix *b)
{
    if (a->cols != b->rows)
        return NULL;
    matrix *p = mat_new(a->rows, b->cols);
    for (int i = 0; p && i < a->rows; i++)
        for (int j = 0; j < b->cols; j++) {
            double sum = 0.0;
            for (int k = 0; k < a->cols; k++)
                sum += mat_get(a, i, k) * mat_get(b, k, j);
            mat_set(p, i, j, sum);
        }
    return p;
}

/* The transpose of M, or NULL when out of memory. */
matrix *mat_transpose(const matrix *m)
{
    matrix *t = mat_new(m->cols, m->rows);
    for (int r = 0; t && r < m->rows; r++)
        for (int c = 0; c < m->cols; c++)
            mat_set(t, c, r, mat_get(m, r, c));
    return t;
}

/* Whether A and B have the same shape and the same values, but for rounding errors. */
int mat_equal(const matrix *a, const matrix *b)
{
    if (a->rows != b->rows || a->cols != b->cols)
        return 0;
    for (int i = 0; i < a->rows * a->cols; i++) {
        double d = a->v[i] - b->v[i];
        if (d > 1e-9 || d < -1e-9)
            return 0;
    }
    return 1;
}
'''

MATRIX_TEST = '''    matrix *a = mat_new(2, 3), *id = mat_new(3, 3);
    for (int i = 0; i < 3; i++)
        mat_set(id, i, i, 1.0);
    double vals[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++)
        mat_set(a, i / 3, i % 3, vals[i]);
    assert(mat_get(a, 1, 0) == 4.0 && mat_get(a, 0, 2) == 3.0);
    assert(mat_get(id, 1, 1) == 1.0 && mat_get(id, 0, 1) == 0.0);
    matrix *p = mat_mul(a, id);
    assert(p && mat_equal(p, a));
    matrix *t = mat_transpose(a);
    assert(t->rows == 3 && t->cols == 2 && mat_get(t, 2, 1) == 6.0 && mat_get(t, 0, 1) == 4.0);
    assert(mat_mul(a, a) == NULL);
    matrix *g = mat_mul(a, t);
    assert(g->rows == 2 && g->cols == 2 && mat_get(g, 0, 0) == 14.0 && mat_get(g, 0, 1) == 32.0
           && mat_get(g, 1, 1) == 77.0);
    mat_set(p, 0, 0, 1.0 + 1e-12);
    assert(mat_equal(p, a));
    mat_set(p, 0, 0, 1.0 + 1e-6);
    assert(!mat_equal(p, a) && !mat_equal(a, t));
    free(a);
    free(id);
    free(p);
    free(t);
    free(g);
'''

DATES_H = '''/* dates.h - calendar arithmetic on proleptic Gregorian dates: year, month (1-12), day (1-31). */
#ifndef DATES_H
#define DATES_H

/* Whether YEAR is a leap year. */
int is_leap_year(int year);
/* The number of days in MONTH of YEAR. */
int days_in_month(int year, int month);
/* The day of the year of YEAR-MONTH-DAY, 1 for January 1st. */
int day_of_year(int year, int month, int day);
/* The day of the week of YEAR-MONTH-DAY, 0 for Sunday. */
int day_of_week(int year, int month, int day);
/* The number of days from 1970-01-01 to YEAR-MONTH-DAY, negative before it. */
long days_from_civil(int year, int month, int day);

#endif
'''

DATES_C = '''/* dates.c - calendar arithmetic on proleptic Gregorian dates. */

#include "dates.h"

/* Whether YEAR is a leap year. */
int is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The number of days in MONTH (1-12) of YEAR. */
int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap_year(year))
        return 29;
    return days[month - 1];
}

/* The day of the year of YEAR-MONTH-DAY, 1 for January 1st. */
int day_of_year(int year, int month, int day)
{
    int total = day;
    for (int m = 1; m < month; m++)
        total += days_in_month(year, m);
    return total;
}

/* The day of the week of YEAR-MONTH-DAY, 0 for Sunday (Sakamoto's method). */
int day_of_week(int year, int month, int day)
{
    static const int offsets[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (month < 3)
        year -= 1;
    return (year + year / 4 - year / 100 + year / 400 + offsets[month - 1] + day) % 7;
}

/* The number of days from 1970-01-01 to YEAR-MONTH-DAY, negative before it (Howard Hinnant's
   days_from_civil: years counted from March, in eras of 400 years). */
long days_from_civil(int year, int month, int day)
{
    long y = year - (month <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
'''

DATES_TEST = '''    assert(is_leap_year(2024) && is_leap_year(2000) && !is_leap_year(1900) && !is_leap_year(2023));
    assert(days_in_month(2024, 2) == 29 && days_in_month(2023, 2) == 28 && days_in_month(2023, 4) == 30);
    assert(day_of_year(2023, 1, 1) == 1 && day_of_year(2024, 3, 1) == 61 && day_of_year(2023, 12, 31) == 365);
    assert(day_of_week(1970, 1, 1) == 4 && day_of_week(2000, 2, 29) == 2 && day_of_week(2024, 12, 25) == 3);
    assert(days_from_civil(1970, 1, 1) == 0 && days_from_civil(2000, 3, 1) == 11017);
    assert(days_from_civil(1969, 12, 31) == -1 && days_from_civil(1600, 1, 1) == -135140);
    assert(days_from_civil(2025, 1, 1) - days_from_civil(2024, 1, 1) == 366);
'''

MODULES = {
    "strbuf": (STRBUF_H, STRBUF_C, STRBUF_TEST, ["string.h"]),
    "ringq": (RINGQ_H, RINGQ_C, RINGQ_TEST, []),
    "lexer": (LEXER_H, LEXER_C, LEXER_TEST, []),
    "matrix": (MATRIX_H, MATRIX_C, MATRIX_TEST, ["stdlib.h"]),
    "dates": (DATES_H, DATES_C, DATES_TEST, []),
}

# (module, kind, check), the instruction made from the check as c_refactor.py phrases it
TASKS = [
    ("strbuf", "rename_function", {"old": "sb_append_char", "new": "sb_putc"}),
    ("strbuf", "rename_variable", {"function": "sb_reserve", "old": "need", "new": "required"}),
    ("strbuf", "rename_parameter", {"function": "sb_append", "old": "s", "new": "text"}),
    ("strbuf", "extract_constant", {"function": "sb_reserve", "name": "SB_MIN_CAPACITY", "value": "16"}),
    ("ringq", "rename_function", {"old": "rq_is_full", "new": "rq_full"}),
    ("ringq", "rename_variable", {"function": "rq_drain", "old": "n", "new": "moved"}),
    ("ringq", "rename_parameter", {"function": "rq_push", "old": "value", "new": "item"}),
    ("ringq", "extract_constant", {"function": "rq_init", "name": "RQ_DEFAULT_CAPACITY", "value": "8"}),
    ("lexer", "rename_function", {"old": "lex_next", "new": "lexer_next"}),
    ("lexer", "rename_variable", {"function": "lex_count", "old": "count", "new": "ntokens"}),
    ("lexer", "rename_parameter", {"function": "lex_init", "old": "src", "new": "source"}),
    ("lexer", "extract_constant", {"function": "lex_next", "name": "MAX_NAME_LEN", "value": "31"}),
    ("matrix", "rename_function", {"old": "mat_get", "new": "mat_at"}),
    ("matrix", "rename_variable", {"function": "mat_mul", "old": "sum", "new": "dot"}),
    ("matrix", "rename_parameter", {"function": "mat_transpose", "old": "m", "new": "src"}),
    ("matrix", "extract_constant", {"function": "mat_equal", "name": "MAT_EPSILON", "value": "1e-9"}),
    ("dates", "rename_function", {"old": "is_leap_year", "new": "is_leap"}),
    ("dates", "rename_variable", {"function": "day_of_year", "old": "total", "new": "ordinal"}),
    ("dates", "rename_parameter", {"function": "day_of_week", "old": "day", "new": "mday"}),
    ("dates", "extract_constant", {"function": "days_from_civil", "name": "DAYS_PER_ERA", "value": "146097"}),
]


def instruction(kind, c):
    if kind == "rename_function":
        return f"Rename the function {c['old']} to {c['new']}"
    if kind == "rename_variable":
        return f"Rename the local variable {c['old']} in {c['function']} to {c['new']}"
    if kind == "rename_parameter":
        return f"Rename the parameter {c['old']} of {c['function']} to {c['new']}"
    return f"Extract the constant {c['value']} in {c['function']} into a macro {c['name']}"


# C code prepended to the tests of the tasks whose change a caller cannot see. The same token rules as
# refactor_eval.c_tokens: comments, strings and character constants skipped, `->` one token, a number
# runs over letters, digits, dots and an exponent's sign; members (after `.` or `->`) are not counted.
SOURCE_CHECKS = r'''/* Checks on the module's source: a local variable's or a parameter's name, or a macro, is invisible to a
   caller, so these read NAME.c (run the test in its folder) and look at the tokens of one function.
   (Not static: a test uses only some of them.) */
enum { T_ID, T_NUM, T_PUNCT };
struct src_tok { int kind; const char *s; int n; int directive; };
static struct src_tok toks[1 << 14];
static int ntoks;
static char src_text[1 << 17];

void lex_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t len = fread(src_text, 1, sizeof src_text - 1, f);
    fclose(f);
    src_text[len] = '\0';
    int line_start = 1, directive = 0, ndir = 0;
    const char *p = src_text;
    ntoks = 0;
    while (*p && ntoks < (int)(sizeof toks / sizeof *toks)) {
        if (p[0] == '\\' && p[1] == '\n') {
            p += 2;
        } else if (*p == '\n') {
            line_start = 1, directive = 0, p++;
        } else if (isspace((unsigned char)*p)) {
            p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q && *p != '\n')
                p += p[0] == '\\' && p[1] ? 2 : 1;
            p += *p == q;
            line_start = 0;
        } else {
            struct src_tok t = {T_PUNCT, p, 1, directive};
            if (isalpha((unsigned char)*p) || *p == '_') {
                t.kind = T_ID;
                while (isalnum((unsigned char)p[t.n]) || p[t.n] == '_')
                    t.n++;
            } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
                t.kind = T_NUM;
                while (isalnum((unsigned char)p[t.n]) || p[t.n] == '.' || p[t.n] == '_'
                       || ((p[t.n] == '+' || p[t.n] == '-') && strchr("eEpP", p[t.n - 1])))
                    t.n++;
            } else if (p[0] == '-' && p[1] == '>') {
                t.n = 2;
            } else if (*p == '#' && line_start) {
                t.directive = directive = ++ndir;
            }
            line_start = 0;
            toks[ntoks++] = t;
            p += t.n;
        }
    }
}

int is(int i, const char *s)
{
    return i >= 0 && i < ntoks && (int)strlen(s) == toks[i].n && !memcmp(toks[i].s, s, toks[i].n);
}

/* The index of the name of FUNC's definition; *LP, *RP its parentheses, *END its closing brace. -1 if none. */
int find_function(const char *func, int *lp, int *rp, int *end)
{
    for (int i = 0, depth = 0; i < ntoks; i++) {
        if (toks[i].directive)
            continue;
        if (is(i, "{") || is(i, "}")) {
            depth += is(i, "{") ? 1 : -1;
        } else if (depth == 0 && toks[i].kind == T_ID && is(i, func) && is(i + 1, "(")) {
            int j = i + 1, k, par = 0, br = 0;
            for (; j < ntoks; j++)
                if ((par += is(j, "(") - is(j, ")")) == 0)
                    break;
            if (!is(j + 1, "{"))
                continue;
            for (k = j + 1; k < ntoks; k++)
                if ((br += is(k, "{") - is(k, "}")) == 0)
                    break;
            *lp = i + 1, *rp = j, *end = k;
            return i;
        }
    }
    return -1;
}

enum { IN_PARAMS, IN_BODY, IN_FUNCTION };

/* How many times NAME is an identifier (not a member) in FUNC's parameters, body or both, in PATH. */
int count_ident(const char *path, const char *func, const char *name, int where)
{
    int lp, rp, end, n = 0;
    lex_file(path);
    assert(find_function(func, &lp, &rp, &end) >= 0);
    int lo = where == IN_BODY ? rp + 1 : lp, hi = where == IN_PARAMS ? rp : end;
    for (int i = lo; i <= hi; i++)
        n += toks[i].kind == T_ID && is(i, name) && !is(i - 1, ".") && !is(i - 1, "->");
    return n;
}

/* How many times the number spelled LITERAL is in FUNC's body, in PATH. */
int count_number(const char *path, const char *func, const char *literal)
{
    int lp, rp, end, n = 0;
    lex_file(path);
    assert(find_function(func, &lp, &rp, &end) >= 0);
    for (int i = rp + 1; i <= end; i++)
        n += toks[i].kind == T_NUM && is(i, literal);
    return n;
}

/* Whether PATH has `#define NAME VALUE` (VALUE maybe in parentheses). */
int has_define(const char *path, const char *name, const char *value)
{
    lex_file(path);
    for (int i = 0; i + 3 < ntoks; i++) {
        int d = toks[i].directive;
        if (!d || !is(i, "#") || !is(i + 1, "define") || !is(i + 2, name) || toks[i + 3].directive != d)
            continue;
        int lo = i + 3, hi = lo;
        while (hi + 1 < ntoks && toks[hi + 1].directive == d)
            hi++;
        while (hi > lo && is(lo, "(") && is(hi, ")"))
            lo++, hi--;
        return lo == hi && is(lo, value);
    }
    return 0;
}

'''


def test_program(mod, kind, c):
    """test_MOD.c of the task: the module's calls with the names after the change, and the source checks."""
    h, src, body, includes = MODULES[mod]
    if kind == "rename_function":
        body = rename_all(body, c["old"], c["new"])
    incl = sorted(set(includes + ["assert.h", "stdio.h"] + (["ctype.h", "stdlib.h", "string.h"]
                                                           if kind != "rename_function" else [])))
    out = f"/* test_{mod}.c - the test of the task {mod}-{kind}: {instruction(kind, c)}. */\n\n"
    out += "".join(f"#include <{i}>\n" for i in incl) + f'\n#include "{mod}.h"\n\n'
    if kind != "rename_function":
        out += SOURCE_CHECKS
    out += "int main(void)\n{\n" + body
    fn, path = c.get("function"), f"{mod}.c"
    if kind == "rename_variable":
        out += (f"    /* the local variable {c['old']} of {fn} is now {c['new']} */\n"
                f'    assert(count_ident("{path}", "{fn}", "{c["new"]}", IN_BODY) > 0);\n'
                f'    assert(count_ident("{path}", "{fn}", "{c["old"]}", IN_FUNCTION) == 0);\n')
    elif kind == "rename_parameter":
        out += (f"    /* the parameter {c['old']} of {fn} is now {c['new']} */\n"
                f'    assert(count_ident("{path}", "{fn}", "{c["new"]}", IN_PARAMS) == 1);\n'
                f'    assert(count_ident("{path}", "{fn}", "{c["old"]}", IN_FUNCTION) == 0);\n')
    elif kind == "extract_constant":
        out += (f"    /* {c['value']} in {fn} is now the macro {c['name']}, defined in {mod}.c or {mod}.h */\n"
                f'    assert(has_define("{path}", "{c["name"]}", "{c["value"]}")'
                f' || has_define("{mod}.h", "{c["name"]}", "{c["value"]}"));\n'
                f'    assert(count_number("{path}", "{fn}", "{c["value"]}") == 0);\n'
                f'    assert(count_ident("{path}", "{fn}", "{c["name"]}", IN_BODY) > 0);\n')
    return out + '    printf("ok\\n");\n    return 0;\n}\n'


# --- the module as the change leaves it (the reference answer, for the checks both ways) ---

def _splice(text, edits):
    """TEXT with each (offset, old spelling, new spelling) made."""
    for off, old, new in sorted(edits, reverse=True):
        assert text[off:off + len(old)] == old
        text = text[:off] + new + text[off + len(old):]
    return text


def rename_all(text, old, new):
    """TEXT with every identifier token OLD (in code and directives) renamed NEW."""
    toks = refactor_eval.c_tokens(text)
    return _splice(text, [(o, t, new) for k, t, o, _ in toks if k == "id" and t == old])


def changed(mod, kind, c):
    """(NAME.h, NAME.c) after the change."""
    h, src = MODULES[mod][0], MODULES[mod][1]
    if kind == "rename_function":
        return rename_all(h, c["old"], c["new"]), rename_all(src, c["old"], c["new"])
    toks = refactor_eval.c_tokens(src)
    name, lpar, rpar, lbrace, rbrace = refactor_eval.c_function(toks, c["function"])
    if kind in ("rename_variable", "rename_parameter"):
        lo = lpar if kind == "rename_parameter" else lbrace
        edits = [(toks[i][2], c["old"], c["new"]) for i in range(lo, rbrace + 1)
                 if toks[i][0] == "id" and toks[i][1] == c["old"] and toks[i - 1][1] not in (".", "->")]
        return h, _splice(src, edits)
    edits = [(toks[i][2], c["value"], c["name"]) for i in range(lbrace, rbrace + 1)
             if toks[i][0] == "num" and toks[i][1] == c["value"]]
    assert edits
    new = _splice(src, edits)  # the edits are all after the function's name: its offset stays
    # above the function's leading comment (the last comment opening a line before the function's first line)
    at = new.rfind("\n/*", 0, new.rfind("\n", 0, toks[name][2])) + 1
    return h, new[:at] + f"#define {c['name']} {c['value']}\n\n" + new[at:]


def compile_and_run(files, test):
    """(passed, what happened) for TEST, one of FILES {name: text} (the module and the test), compiled with
    refactor_eval's command and run in their folder."""
    mod = test[len("test_"):-len(".c")]
    with tempfile.TemporaryDirectory() as d:
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        cr = subprocess.run(CC + ["-o", "t", test, f"{mod}.c"], cwd=d, capture_output=True, text=True)
        if cr.returncode != 0:
            err = [l for l in cr.stderr.split("\n") if "error" in l] or [cr.stderr.strip()]
            return False, "does not compile: " + err[0][:160]
        warn = cr.stderr.strip()
        tr = subprocess.run(["./t"], cwd=d, capture_output=True, text=True, timeout=30)
        if tr.returncode != 0:
            return False, "fails: " + (tr.stderr.strip().split("\n")[-1][:160] or f"exit {tr.returncode}")
        return True, "passes" + (f" (warnings: {warn[:200]})" if warn else "")


def task_files(mod, kind, c):
    """{file name: text} of the task's directory."""
    h, src = MODULES[mod][0], MODULES[mod][1]
    task = {"lang": "c", "instruction": instruction(kind, c), "path": f"{mod}.c", "header": f"{mod}.h",
            "files": [f"{mod}.h", f"{mod}.c"], "test": f"test_{mod}.c", "kind": kind, "check": c}
    return {f"{mod}.h": h, f"{mod}.c": src, f"test_{mod}.c": test_program(mod, kind, c),
            "task.json": json.dumps(task, indent=1) + "\n"}


def check_task(mod, kind, c, files):
    """Problems of one task (FILES as written): [] when its test and check_c_change fail before the change
    and pass after it (and, for a function's rename, fail when the header was left as it was)."""
    probs = []
    test = f"test_{mod}.c"
    h, src = f"{mod}.h", f"{mod}.c"
    before = {h: files[h], src: files[src], test: files[test]}
    nh, nsrc = changed(mod, kind, c)
    after = {h: nh, src: nsrc, test: files[test]}
    ok, what = compile_and_run(before, test)
    if ok:
        probs.append(f"the test passes before the change")
    why_before = what
    ok, what = compile_and_run(after, test)
    if not ok or "warnings" in what:
        probs.append(f"after the change the test {what}")
    if refactor_eval.check_c_change(kind, c, before[src], before[h], src, h) == "":
        probs.append("check_c_change accepts the module before the change")
    why = refactor_eval.check_c_change(kind, c, nsrc, nh, src, h)
    if why:
        probs.append(f"check_c_change refuses the module after the change: {why}")
    half = ""
    if kind == "rename_function":
        ok, half = compile_and_run({h: files[h], src: nsrc, test: files[test]}, test)
        if ok:
            probs.append("the test passes with the header unchanged")
        if refactor_eval.check_c_change(kind, c, nsrc, files[h], src, h) == "":
            probs.append("check_c_change accepts the header unchanged")
    n = len(nsrc.split("\n")) - 1
    return probs, f"before: {why_before}; after: {what}" + (f"; header unchanged: {half}" if half else ""), n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing: check that the committed tasks are these, and both ways")
    a = ap.parse_args()
    bad = 0
    for mod, (h, src, _, _) in MODULES.items():
        print(f"{mod}: {mod}.h {len(h.splitlines())} lines, {mod}.c {len(src.splitlines())} lines")
    for mod, kind, c in TASKS:
        d = os.path.join(OUT, f"{mod}-{kind}")
        files = task_files(mod, kind, c)
        if a.check:
            for name, text in files.items():
                p = os.path.join(d, name)
                if not os.path.exists(p) or open(p).read() != text:
                    print(f"{mod}-{kind}: {name} differs from what this script writes")
                    bad += 1
        else:
            os.makedirs(d, exist_ok=True)
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
        probs, what, _ = check_task(mod, kind, c, files)
        print(f"{mod}-{kind}: {'ok' if not probs else 'BAD: ' + '; '.join(probs)} ({what})")
        bad += len(probs)
    print(f"{len(TASKS)} C tasks {'checked' if a.check else 'written to ' + OUT}: "
          f"{'all fail before the change and pass after it' if not bad else f'{bad} problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
