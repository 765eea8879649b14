/* config.h - learngened's configuration: the options, their defaults and
 * limits, and the INI loader behind `-c FILE`, `--check-config`, command-line
 * overrides and SIGHUP reload.
 *
 * Every option is one row of a table in config.c (name, type, default, min,
 * max, live, help); parsing, validation, lgd_config_dump (what --check-config
 * prints), lgd_config_diff_restart (what reload cannot apply) and the man page
 * (through lgd_config_options) all read that table, so an option is added in
 * one place.
 *
 * The file format is flat `name = value` lines. Comments are lines starting
 * with `#` or `;` (and ` ; text` after a value). A `[learngened]` section
 * header is accepted; any other section is an error. A value may be written
 * in double quotes, so `tokens_file = ""` is the empty string. Lines are at
 * most 198 characters (inih's line buffer). Sizes take an optional K, M or G
 * suffix (powers of 1024).
 */
#ifndef LGD_CONFIG_H
#define LGD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Characters in a config line, the newline excluded (inih's 200-byte buffer
 * as Debian builds it, less the newline and NUL). */
#define LGD_CONFIG_LINE_MAX 198

typedef struct {
    char listen[256];           /* host:port or [v6]:port; port 0 = any free port */
    char state_dir[4096];       /* models, jobs, the SQLite database */
    char data_dir[4096];        /* bundled learngene + pool imported on first start */
    char fmnist_dir[4096];      /* Fashion-MNIST IDX files; "" = don't import */
    char tokens_file[4096];     /* bearer tokens; "" = no auth */
    char allow_open_network[8]; /* no|yes: non-loopback without tokens */
    int workers;                /* CPU worker threads, 1..64 */
    int blas_threads;           /* OpenBLAS threads per worker; 0 = cores / workers */
    int max_connections;        /* 1..65536 */
    int max_connections_per_ip; /* 0 = unlimited */
    int request_timeout;        /* seconds */
    int64_t max_body;           /* JSON bodies, bytes */
    int64_t max_upload;         /* safetensors / IDX uploads, bytes */
    int64_t max_header;         /* MHD memory per connection (headers) */
    int max_batch;              /* images per predict request */
    int64_t cache_mb;           /* model cache, MiB */
    int queue_max;              /* CPU tasks waiting for a worker before 503 */
    int max_depth;              /* deepest model a request may grow */
    int64_t max_model_mb;       /* largest model a request may grow */
    int jobs_queue_max;         /* queued fine-tune jobs before 429 */
    int jobs_max;               /* concurrent fine-tune jobs */
    int checkpoint_every;       /* fine-tune steps between checkpoints */
    int drain_timeout;          /* seconds SIGTERM waits for in-flight requests */
    char log_level[16];         /* error|warn|info|debug */
    char log_format[16];        /* text|json */
} lgd_config;

/* One row of the option table, for documentation (man page, --help). All
 * strings are static; min and max are NULL where there is no bound; values
 * lists the choices of an enum ("text|json") and is NULL otherwise. */
typedef struct {
    const char *name;
    const char *type; /* "address", "path", "int", "size", "enum" */
    const char *def;
    const char *min, *max;
    const char *help;
    int live; /* 1 = a SIGHUP reload applies a change; 0 = needs a restart */
    const char *values;
} lgd_option_doc;

/* The option table, in the order of etc/learngened.conf; *n gets its length. */
const lgd_option_doc *lgd_config_options(int *n);

/* Every option at its default (the whole struct, padding included, is
 * zeroed first, so two configs with equal options compare equal with memcmp). */
void lgd_config_defaults(lgd_config *c);

/* Reads an INI file on top of *c (call lgd_config_defaults first). Returns 0,
 * or -1 with *c unchanged and err set to "PATH:LINE: what is wrong". */
int lgd_config_load_file(lgd_config *c, const char *path, char *err, size_t errlen);

/* The same for text in memory; name stands for the path in messages. */
int lgd_config_load_string(lgd_config *c, const char *text, const char *name, char *err, size_t errlen);

/* Sets one option from its text form, validated as in a file (for
 * command-line overrides; '-' in key is read as '_', so "state-dir" works).
 * Returns 0, or -1 with *c unchanged and err set to e.g. "workers = 0 is
 * below the minimum 1". */
int lgd_config_set(lgd_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Checks what no single option can: listen parses, and when blas_threads is
 * set, workers × blas_threads ≤ ncpu (skipped when ncpu ≤ 0). 0 or -1. */
int lgd_config_check(const lgd_config *c, int ncpu, char *err, size_t errlen);

/* Splits "host:port" or "[v6]:port" into host (brackets removed) and a port
 * in 0..65535. Returns 0, or -1 when malformed or host does not fit. */
int lgd_config_parse_listen(const char *listen, char *host, size_t hostlen, int *port);

/* Writes every option as "name = value", one a line in table order; the
 * output loads back to the same config. */
void lgd_config_dump(const lgd_config *c, FILE *f);

/* OpenBLAS threads per worker: blas_threads, or when 0, ncpu / workers (at
 * least 1). */
int lgd_config_effective_blas(const lgd_config *c, int ncpu);

/* Names of the options that differ between old and new but that a reload
 * cannot apply, comma-separated into names ("" when none; truncated to len).
 * Returns how many there are. */
int lgd_config_diff_restart(const lgd_config *old, const lgd_config *new, char *names, size_t len);

#endif
