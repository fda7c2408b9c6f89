/* ringq.c - a fixed-capacity FIFO queue of ints in a ring buffer. */

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
