/* workers.h - the bounded pool of CPU workers (growing models, predict
 * batches): a fixed number of threads and a queue with a cap, so overload
 * turns into a 503 instead of unbounded waiting. */
#ifndef LGD_WORKERS_H
#define LGD_WORKERS_H

typedef struct lgd_workers lgd_workers;

int lgd_workers_start(lgd_workers **out, int threads, int queue_max);
/* Runs fn(arg, worker index) on a worker and waits for it; -1 when the
 * queue is full or the pool is stopping. */
int lgd_workers_run(lgd_workers *w, void (*fn)(void *arg, int worker), void *arg);
/* Changes the queue's cap (a reload); tasks already queued stay. */
void lgd_workers_set_queue_max(lgd_workers *w, int queue_max);
/* Tasks waiting + running. */
int lgd_workers_load(lgd_workers *w);
/* Finishes queued tasks, then joins the threads. */
void lgd_workers_stop(lgd_workers *w);

#endif
