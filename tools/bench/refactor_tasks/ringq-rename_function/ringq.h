/* ringq.h - a fixed-capacity FIFO queue of ints in a ring buffer. */
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
