/* matrix.h - small dense matrices of doubles, stored row by row. */
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
