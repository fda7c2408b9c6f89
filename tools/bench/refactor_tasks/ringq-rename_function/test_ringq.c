/* test_ringq.c - the test of the task ringq-rename_function: Rename the function rq_is_full to rq_full. */

#include <assert.h>
#include <stdio.h>

#include "ringq.h"

int main(void)
{
    ringq q;
    int v, out[8];
    assert(rq_init(&q, 0) == 0 && q.capacity == 8);
    rq_destroy(&q);
    assert(q.items == NULL && q.capacity == 0);
    assert(rq_init(&q, 3) == 0 && q.capacity == 3);
    assert(rq_pop(&q, &v) == -1);
    assert(rq_push(&q, 1) == 0 && rq_push(&q, 2) == 0 && rq_push(&q, 3) == 0);
    assert(rq_full(&q) && rq_push(&q, 4) == -1);
    assert(rq_pop(&q, &v) == 0 && v == 1);
    assert(!rq_full(&q));
    assert(rq_push(&q, 4) == 0 && rq_push(&q, 5) == -1);
    assert(rq_drain(&q, out, 2) == 2 && out[0] == 2 && out[1] == 3);
    assert(rq_push(&q, 5) == 0 && rq_drain(&q, out, 8) == 2 && out[0] == 4 && out[1] == 5 && q.count == 0);
    rq_destroy(&q);
    printf("ok\n");
    return 0;
}
