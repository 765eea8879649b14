/* jobs.h - the fine-tune job runner: threads that claim queued jobs from
 * the store, train, checkpoint every N steps, and store the result. */
#ifndef LGD_JOBS_H
#define LGD_JOBS_H

#include "store.h"

typedef struct lgd_jobs lgd_jobs;

typedef struct {
    lgs_store *store;
    int threads;          /* jobs run at once (jobs_max) */
    int blas_threads;     /* CPU threads per job */
    int checkpoint_every; /* steps between checkpoints */
    void (*log)(int level, const char *msg);
} lgd_jobs_options;

int lgd_jobs_start(lgd_jobs **out, const lgd_jobs_options *o);
/* Something changed (a job was queued or a cancel requested): look now. */
void lgd_jobs_kick(lgd_jobs *j);
int lgd_jobs_running(lgd_jobs *j);
/* Running jobs checkpoint and stop; they go back to queued, to resume on
 * the next start. Joins the threads. */
void lgd_jobs_stop(lgd_jobs *j);

#endif
