/* test_matrix.c - the test of the task matrix-rename_function: Rename the function mat_get to mat_at. */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "matrix.h"

int main(void)
{
    matrix *a = mat_new(2, 3), *id = mat_new(3, 3);
    for (int i = 0; i < 3; i++)
        mat_set(id, i, i, 1.0);
    double vals[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++)
        mat_set(a, i / 3, i % 3, vals[i]);
    assert(mat_at(a, 1, 0) == 4.0 && mat_at(a, 0, 2) == 3.0);
    assert(mat_at(id, 1, 1) == 1.0 && mat_at(id, 0, 1) == 0.0);
    matrix *p = mat_mul(a, id);
    assert(p && mat_equal(p, a));
    matrix *t = mat_transpose(a);
    assert(t->rows == 3 && t->cols == 2 && mat_at(t, 2, 1) == 6.0 && mat_at(t, 0, 1) == 4.0);
    assert(mat_mul(a, a) == NULL);
    matrix *g = mat_mul(a, t);
    assert(g->rows == 2 && g->cols == 2 && mat_at(g, 0, 0) == 14.0 && mat_at(g, 0, 1) == 32.0
           && mat_at(g, 1, 1) == 77.0);
    mat_set(p, 0, 0, 1.0 + 1e-12);
    assert(mat_equal(p, a));
    mat_set(p, 0, 0, 1.0 + 1e-6);
    assert(!mat_equal(p, a) && !mat_equal(a, t));
    free(a);
    free(id);
    free(p);
    free(t);
    free(g);
    printf("ok\n");
    return 0;
}
