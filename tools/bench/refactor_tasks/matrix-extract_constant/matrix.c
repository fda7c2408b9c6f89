/* matrix.c - small dense matrices of doubles, stored row by row. */

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
