/* workers.c - the bounded worker pool (workers.h): N threads take tasks
 * from a FIFO capped at queue_max; the submitting thread sleeps until its
 * task is done. */
#include <pthread.h>
#include <stdlib.h>

#include "workers.h"

typedef struct task {
    void (*fn)(void *arg, int worker);
    void *arg;
    int done;
    struct task *next;
} task;

struct lgd_workers {
    pthread_mutex_t lock;
    pthread_cond_t work, finished;
    task *head, *tail;
    int queued, running, queue_max, nthreads, stopping;
    pthread_t *threads;
};

typedef struct {
    lgd_workers *w;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    lgd_workers *w = a->w;
    int index = a->index;
    free(a);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping) pthread_cond_wait(&w->work, &w->lock);
        if (!w->head) break; /* stopping and drained */
        task *t = w->head;
        w->head = t->next;
        if (!w->head) w->tail = NULL;
        w->queued--;
        w->running++;
        pthread_mutex_unlock(&w->lock);
        t->fn(t->arg, index);
        pthread_mutex_lock(&w->lock);
        w->running--;
        t->done = 1;
        pthread_cond_broadcast(&w->finished);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int lgd_workers_start(lgd_workers **out, int threads, int queue_max)
{
    lgd_workers *w = calloc(1, sizeof *w);
    if (!w) return -1;
    w->threads = calloc((size_t)threads, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return -1;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->finished, NULL);
    w->queue_max = queue_max;
    for (int i = 0; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) a->w = w, a->index = i;
        if (!a || pthread_create(&w->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            lgd_workers_stop(w);
            return -1;
        }
        w->nthreads++;
    }
    *out = w;
    return 0;
}

int lgd_workers_run(lgd_workers *w, void (*fn)(void *arg, int worker), void *arg)
{
    task t = {fn, arg, 0, NULL};
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->queued >= w->queue_max) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    if (w->tail)
        w->tail->next = &t;
    else
        w->head = &t;
    w->tail = &t;
    w->queued++;
    pthread_cond_signal(&w->work);
    while (!t.done) pthread_cond_wait(&w->finished, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void lgd_workers_set_queue_max(lgd_workers *w, int queue_max)
{
    pthread_mutex_lock(&w->lock);
    w->queue_max = queue_max;
    pthread_mutex_unlock(&w->lock);
}

int lgd_workers_load(lgd_workers *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->queued + w->running;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void lgd_workers_stop(lgd_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->finished);
    pthread_mutex_destroy(&w->lock);
    free(w->threads);
    free(w);
}
