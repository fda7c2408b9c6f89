/* cpu_pool.c - the thread pool behind every parallel kernel. Decode calls
 * cpu_pool_run a few hundred times per token, each job lasting tens of
 * microseconds, so waking threads through the kernel each time would cost
 * more than the work: workers spin on a generation counter (with pause) for
 * a while after each job and only then sleep on a futex. The caller is
 * thread 0 and waits for the others by spinning too, yielding the core when
 * a worker is late (the machine may be shared), and sleeping when it is
 * very late. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu_kernels.h"

/* How long an idle worker spins before sleeping: longer than the gaps
 * between the jobs of one decode step, short enough not to burn a core
 * when generation stops. */
#define POOL_SPIN_NS 300000L
/* Pauses between two looks at the clock (and sched_yield, which returns at
 * once unless another thread waits for this core) while spinning. */
#define POOL_SPIN_CHECK 128
/* Pauses the caller spins waiting for workers before it starts yielding,
 * and yields before it sleeps until the last worker wakes it: a worker that
 * lost its core to another process can take milliseconds, and a caller
 * yielding all that time spent more of both cores in the kernel than in
 * the job (an index's embeddings beside a busy process: 5x slower, 80%
 * system time). */
#define POOL_WAIT_SPINS 2000
#define POOL_WAIT_YIELDS 64

typedef struct pool_worker {
    cpu_pool_t *pool;
    int ith;
} pool_worker_t;

struct cpu_pool {
    int n;
    pthread_t *threads;
    pool_worker_t *workers;
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    _Alignas(64) atomic_uint gen; /* futex word: bumped for each job */
    _Alignas(64) atomic_int pending; /* workers still in the current job; futex word of the caller's sleep */
    atomic_int waiting;              /* the caller sleeps on pending */
    _Alignas(64) atomic_int sleepers;
    atomic_int stop;
};

static void cpu_relax(void)
{
    __builtin_ia32_pause();
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void futex_wait(atomic_uint *addr, unsigned val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* The job's end: the last worker out wakes a caller that went to sleep.
 * The sequentially consistent decrement and load of waiting pair with the
 * caller's store of waiting and load of pending: at least one side sees
 * the other, so the caller never sleeps through the end. */
static void job_done(cpu_pool_t *p)
{
    if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting))
        syscall(SYS_futex, &p->pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait until the generation differs from SEEN; returns the new one. */
static unsigned wait_job(cpu_pool_t *p, unsigned seen)
{
    long deadline = now_ns() + POOL_SPIN_NS;
    for (;;) {
        for (int i = 0; i < POOL_SPIN_CHECK; i++) {
            unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen)
                return g;
            cpu_relax();
        }
        if (now_ns() > deadline)
            break;
        /* With more threads than free cores, a spinning worker would hold
         * the core that the thread everyone waits for needs. */
        sched_yield();
    }
    /* Sleep. The sequentially consistent increment of sleepers and load of
     * gen pair with cpu_pool_run's increment of gen and load of sleepers:
     * at least one side sees the other, so no wake-up is lost. */
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&p->gen)) == seen)
        futex_wait(&p->gen, seen);
    atomic_fetch_sub(&p->sleepers, 1);
    return g;
}

static void *worker_main(void *arg)
{
    pool_worker_t *w = arg;
    cpu_pool_t *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        p->fn(p->ctx, w->ith, p->n);
        job_done(p);
    }
    return NULL;
}

int cpu_pool_new(cpu_pool_t **out, int n_threads, errmsg_t *err)
{
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 1024)
        return errmsg_set(err, OCT_EINVAL, "thread pool: %d threads requested, at most 1024",
                          n_threads);
    cpu_pool_t *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
    if (!p)
        return errmsg_set(err, OCT_ENOMEM, "thread pool: out of memory");
    memset(p, 0, sizeof *p);
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->waiting, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, 0);
    int started = 0;
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads, sizeof *p->threads);
        p->workers = calloc((size_t)n_threads, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            errmsg_set(err, OCT_ENOMEM, "thread pool: out of memory");
            goto fail;
        }
        for (int i = 1; i < n_threads; i++) {
            p->workers[i].pool = p;
            p->workers[i].ith = i;
            int rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
            if (rc != 0) {
                errmsg_set(err, OCT_EINTERNAL, "thread pool: cannot start thread %d of %d: %s", i,
                           n_threads, strerror(rc));
                goto fail;
            }
            started = i;
        }
    }
    *out = p;
    return 0;
fail:
    p->n = started + 1;
    cpu_pool_free(p);
    return err ? err->code : OCT_EINTERNAL;
}

void cpu_pool_free(cpu_pool_t *p)
{
    if (!p)
        return;
    if (p->threads) {
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        atomic_fetch_add(&p->gen, 1);
        futex_wake_all(&p->gen);
        for (int i = 1; i < p->n; i++)
            if (p->workers[i].pool)
                pthread_join(p->threads[i], NULL);
    }
    free(p->threads);
    free(p->workers);
    free(p);
}

int cpu_pool_size(const cpu_pool_t *p)
{
    return p ? p->n : 1;
}

void cpu_pool_run(cpu_pool_t *p, void (*fn)(void *ctx, int ith, int nth), void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: publishes fn/ctx/pending */
    if (atomic_load(&p->sleepers) > 0)
        futex_wake_all(&p->gen);
    fn(ctx, 0, p->n);
    int spins = 0, yields = 0, left;
    while ((left = atomic_load_explicit(&p->pending, memory_order_acquire)) != 0) {
        if (spins < POOL_WAIT_SPINS) {
            cpu_relax();
            spins++;
        } else if (yields < POOL_WAIT_YIELDS) {
            sched_yield();
            yields++;
        } else {
            atomic_store(&p->waiting, 1);
            if (atomic_load(&p->pending) == left)
                syscall(SYS_futex, &p->pending, FUTEX_WAIT_PRIVATE, left, NULL, NULL, 0);
            atomic_store(&p->waiting, 0);
        }
    }
}
