/* store.h - learngened's SQLite store: learngenes and pools, models,
 * datasets, evaluations and jobs (SPEC §4).
 *
 * One database file in WAL mode with foreign keys on; the schema is created
 * and migrated by PRAGMA user_version; every write runs in a transaction.
 * Learngenes, pools and datasets are content-addressed (id = sha256 hex of
 * their bytes) and deduplicated. Models grown only by expansion are rows
 * without weights (a pure function of source + spec); fine-tuned models carry
 * their f32 safetensors bytes. Large BLOBs are read in chunks
 * (sqlite3_blob_open) so a download never loads a whole model.
 *
 * A store is one connection guarded by a mutex: every function may be called
 * from any thread. Layering: storage calls core (liblearngene) only.
 */
#ifndef LG_STORE_H
#define LG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "learngene.h"

typedef enum {
    LGS_OK = 0,
    LGS_ERR_NOMEM = 1,
    LGS_ERR_DB = 2,       /* SQLite failed (message has sqlite3_errmsg) */
    LGS_ERR_NOTFOUND = 3, /* no row with that id */
    LGS_ERR_EXISTS = 4,   /* already there (dedup: the caller gets the id) */
    LGS_ERR_CORRUPT = 5,  /* integrity_check failed, or schema newer than us */
    LGS_ERR_INVALID = 6,  /* bytes or arguments rejected (bad safetensors, …) */
    LGS_ERR_CONFLICT = 7, /* would break a reference (delete of a used row) */
} lgs_status;

const char *lgs_strerror(lgs_status s);

typedef struct lgs_store lgs_store;

/* Opens (creating when absent) the database at path, runs PRAGMA
 * integrity_check (refusing a corrupt file with LGS_ERR_CORRUPT), migrates
 * the schema to the current user_version, and sets WAL, synchronous=FULL,
 * foreign_keys=ON and a busy timeout. */
lgs_status lgs_open(lgs_store **out, const char *path, char *err, size_t errlen);
void lgs_close(lgs_store *s);
int lgs_schema_version(lgs_store *s);
/* Online backup of the whole database into dest_path (sqlite3_backup). */
lgs_status lgs_backup(lgs_store *s, const char *dest_path, char *err, size_t errlen);

/* sha256 of bytes as 64 lowercase hex digits + NUL. */
void lgs_sha256_hex(char out[65], const void *data, size_t len);

/* ---------------------------------------------------------- learngenes */

/* kind: "tleg", "inherit" (learngenes) or "pool" (Learngene Pools). */
typedef struct {
    char id[65];
    char kind[16];
    char name[128];
    char *config;    /* learngene: its lg_config JSON; pool: JSON object
                        {"name": config JSON, …} of its instances */
    char *meta;      /* JSON object of the safetensors __metadata__ */
    int64_t params;  /* parameters stored */
    int64_t size;    /* bytes of the safetensors file */
    int64_t created; /* unix seconds */
} lgs_gene_row;

void lgs_gene_row_free(lgs_gene_row *r); /* frees config and meta */

/* Validates bytes as a learngene or pool safetensors file (lg_gene_from_st /
 * lg_genepool_from_st) and stores it under its sha256 with `name` (NULL: the
 * file's metadata "name", else its kind). Stores the pool's eval.* metadata
 * as evaluations (dataset "bundled"). When the same bytes are already there
 * returns LGS_ERR_EXISTS with the row filled. */
lgs_status lgs_gene_put(lgs_store *s, const uint8_t *bytes, size_t len, const char *name, lgs_gene_row *out, char *err,
                        size_t errlen);
lgs_status lgs_gene_get(lgs_store *s, const char *id, lgs_gene_row *out);
/* kind_filter NULL: all; "pool": pools only; "!pool": learngenes only.
 * *rows is malloc'd (free each with lgs_gene_row_free, then the array). */
lgs_status lgs_gene_list(lgs_store *s, const char *kind_filter, lgs_gene_row **rows, int *n);
/* Deletes a learngene/pool and its evaluations and weightless models;
 * LGS_ERR_CONFLICT when a stored (fine-tuned) model descends from it. */
lgs_status lgs_gene_delete(lgs_store *s, const char *id, char *err, size_t errlen);
/* The whole safetensors bytes (malloc'd) - for building models. */
lgs_status lgs_gene_bytes(lgs_store *s, const char *id, uint8_t **bytes, size_t *len);
/* Chunked read of the stored bytes at offset (for streaming downloads). */
lgs_status lgs_gene_read(lgs_store *s, const char *id, int64_t offset, void *buf, int n);

/* --------------------------------------------------------- evaluations */

typedef struct {
    char source[65];  /* learngene or pool id */
    char variant[96]; /* "depth=6" for learngenes; pool configuration key
                         "d48", "d48.3.d96" for pools */
    char dataset[80]; /* dataset id, or "bundled" for a file's own eval.* */
    double accuracy;
    int64_t created;
} lgs_eval_row;

/* Inserts or replaces the (source, variant, dataset) evaluation. */
lgs_status lgs_eval_put(lgs_store *s, const lgs_eval_row *e);
/* All evaluations of source (NULL: of every source); *rows malloc'd. */
lgs_status lgs_eval_list(lgs_store *s, const char *source, lgs_eval_row **rows, int *n);

/* ------------------------------------------------------------ datasets */

typedef struct {
    char id[65]; /* sha256 of images bytes followed by labels bytes */
    char name[128];
    int n, c, h, w;
    int classes;  /* 1 + the largest label */
    int64_t size; /* raw IDX bytes stored (images + labels) */
    int64_t created;
} lgs_dataset_row;

/* Validates raw (already gunzipped) IDX image and label bytes (lg_idx_parse,
 * counts agree, labels < 256) and stores them; LGS_ERR_EXISTS when present. */
lgs_status lgs_dataset_put(lgs_store *s, const uint8_t *images, size_t images_len, const uint8_t *labels,
                           size_t labels_len, const char *name, lgs_dataset_row *out, char *err, size_t errlen);
lgs_status lgs_dataset_get(lgs_store *s, const char *id, lgs_dataset_row *out);
lgs_status lgs_dataset_list(lgs_store *s, lgs_dataset_row **rows, int *n);
/* Loads the dataset normalized with mean/std (lg_dataset_from_idx). */
lgs_status lgs_dataset_load(lgs_store *s, const char *id, float mean, float std, lg_dataset *ds, char *err,
                            size_t errlen);

/* -------------------------------------------------------------- models */

/* A model: how it is grown (source + method + spec) and, when fine-tuned,
 * its weights. method: "tleg", "inherit", "stitch" (pool configuration),
 * "scratch", or "finetune" (weights stored; parent = the model it started
 * from). spec is the canonical JSON of the growth request
 * {"depth":6,"classes":10,"variant":"d48.3.d96","seed":0}. */
typedef struct {
    char id[65];
    char source[65]; /* learngene / pool id ("" for scratch) */
    char parent[65]; /* model it was fine-tuned from ("" otherwise) */
    char method[16];
    char *spec;
    char *config; /* lg_config JSON of the model */
    double flops;
    int64_t params;
    char dataset[65]; /* fine-tune dataset ("" otherwise) */
    char job[65];     /* job that produced it ("" otherwise) */
    int64_t steps;
    double accuracy; /* NaN when not measured */
    int has_weights;
    char sha256[65]; /* of the stored f32 safetensors ("" without weights) */
    int64_t size;    /* bytes of the stored weights (0 without) */
    int64_t created;
} lgs_model_row;

void lgs_model_row_free(lgs_model_row *r);

/* Inserts r (without weights: bytes NULL; r->sha256 may then hold the
 * sha256 of the model's f32 download) or, for a fine-tuned model, with its
 * f32 safetensors bytes (sha256 and size are computed). An existing row
 * with the same id is LGS_ERR_EXISTS (r is left as given). */
lgs_status lgs_model_put(lgs_store *s, lgs_model_row *r, const uint8_t *bytes, size_t len, char *err, size_t errlen);
lgs_status lgs_model_get(lgs_store *s, const char *id, lgs_model_row *out);
lgs_status lgs_model_list(lgs_store *s, lgs_model_row **rows, int *n);
lgs_status lgs_model_delete(lgs_store *s, const char *id, char *err, size_t errlen);
lgs_status lgs_model_bytes(lgs_store *s, const char *id, uint8_t **bytes, size_t *len);
lgs_status lgs_model_read(lgs_store *s, const char *id, int64_t offset, void *buf, int n);

/* ---------------------------------------------------------------- jobs */

typedef enum {
    LGS_JOB_QUEUED = 0,
    LGS_JOB_RUNNING = 1,
    LGS_JOB_SUCCEEDED = 2,
    LGS_JOB_FAILED = 3,
    LGS_JOB_CANCELLED = 4,
} lgs_job_state;

const char *lgs_job_state_name(lgs_job_state s); /* "queued", … */
#define LGS_JOB_STATES 5

typedef struct {
    char id[65];
    char kind[16]; /* "finetune" */
    lgs_job_state state;
    char *params;    /* JSON of the request */
    char model[65];  /* the model it starts from */
    char result[65]; /* the model it produced (when succeeded) */
    int64_t step, total_steps;
    double loss, accuracy; /* NaN until known */
    char *error;           /* reason when failed / cancelled, else NULL */
    int cancel_requested;
    int64_t checkpoint_step; /* step of the stored checkpoint, 0 = none */
    int64_t created, updated;
} lgs_job_row;

void lgs_job_row_free(lgs_job_row *r);

/* Inserts a queued job (r->id, kind, params, model, total_steps set by the
 * caller). */
lgs_status lgs_job_put(lgs_store *s, const lgs_job_row *r);
lgs_status lgs_job_get(lgs_store *s, const char *id, lgs_job_row *out);
lgs_status lgs_job_list(lgs_store *s, lgs_job_row **rows, int *n);
/* Counts of jobs per state (LGS_JOB_STATES entries). */
lgs_status lgs_job_counts(lgs_store *s, int64_t counts[LGS_JOB_STATES]);
/* Atomically moves the oldest queued job to running and returns it;
 * LGS_ERR_NOTFOUND when none is queued. */
lgs_status lgs_job_claim(lgs_store *s, lgs_job_row *out);
/* Progress of a running job. */
lgs_status lgs_job_progress(lgs_store *s, const char *id, int64_t step, double loss);
/* Stores a checkpoint (opaque bytes) and its step in one transaction. */
lgs_status lgs_job_checkpoint(lgs_store *s, const char *id, int64_t step, const uint8_t *bytes, size_t len);
lgs_status lgs_job_checkpoint_get(lgs_store *s, const char *id, uint8_t **bytes, size_t *len, int64_t *step);
/* Terminal states. succeeded stores the result model row and its weights in
 * the same transaction as the state change. */
lgs_status lgs_job_succeed(lgs_store *s, const char *id, lgs_model_row *result, const uint8_t *bytes, size_t len,
                           double accuracy, char *err, size_t errlen);
lgs_status lgs_job_fail(lgs_store *s, const char *id, lgs_job_state state, const char *reason);
/* Marks a queued job cancelled at once, or flags a running one so the
 * runner stops it (cancel_requested = 1). LGS_ERR_CONFLICT when finished. */
lgs_status lgs_job_cancel(lgs_store *s, const char *id);
/* On start: jobs left running by a dead daemon go back to queued (they
 * resume from their checkpoint); returns how many in *n. */
lgs_status lgs_job_requeue_running(lgs_store *s, int *n);

#endif
