/* cli.h - the learngene command line: its subcommands and the helpers they
 * share (number parsing, model shape options, data loading, progress). */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "learngene.h"

/* Exit codes (documented in learngene(1)). The daemon subcommands add
 * CLI_NOTFOUND (the daemon has no such id: 404) and CLI_DENIED (401, 403). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_NOTFOUND = 3, CLI_DENIED = 4 };

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_tleg_train(int argc, char **argv);
int cmd_inherit(int argc, char **argv);
int cmd_expand(int argc, char **argv);
int cmd_solve(int argc, char **argv);
int cmd_pool_train(int argc, char **argv);
int cmd_stitch(int argc, char **argv);
/* Subcommands that talk to a daemon over HTTP (cmd_ls.c … cmd_push.c; remote.h). */
int cmd_ls(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_push(int argc, char **argv);
/* "eval.{from}[.{k}.{to}]": where a pool file keeps a configuration's accuracy. */
void cli_pool_eval_key(char *buf, size_t n, const lg_genepool *p, const lg_genepool_cfg *c);

/* Parse a whole-string number within [lo, hi]; on error print a message
 * naming the option and return -1. */
int cli_long(const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *opt, const char *s, double lo, double hi, double *out);
/* --dtype F32|F16|BF16|I8, with a message when it is none of them. */
int cli_dtype(const char *s, lg_dtype *out);

/* Model shape: a preset name ("fmnist-ti", "fmnist-small", "deit-ti",
 * "deit-s") and per-field overrides, applied by cli_shape_option. */
void cli_shape_default(lg_config *c);
int cli_shape_preset(lg_config *c, const char *name);
/* Handles --img/--chans/--patch/--dim/--depth/--heads/--mlp/--classes/--pool;
 * returns 1 if opt was one of them, 0 if not, -1 on a bad value. */
int cli_shape_option(lg_config *c, const char *opt, const char *val);
#define CLI_SHAPE_HELP                                                                                                 \
    "  --preset NAME      fmnist-ti | fmnist-small | deit-ti | deit-s (default fmnist-small)\n"                        \
    "  --img N --chans N --patch N --dim N --depth N --heads N --mlp N --classes N --pool token|avg\n"

/* Fashion-MNIST split from dir, optionally restricted to a comma-separated
 * class list (relabelled 0..n-1) and to n images per class. Returns the
 * number of classes, or -1 after printing why it failed. */
int cli_load_fmnist(lg_dataset *ds, const char *dir, int train, const char *classes, long per_class, uint64_t seed);

/* Options every training subcommand shares. */
enum {
    CLI_O_DATA = 256,
    CLI_O_LABELS,
    CLI_O_PER_CLASS,
    CLI_O_EPOCHS,
    CLI_O_STEPS,
    CLI_O_BATCH,
    CLI_O_LR,
    CLI_O_MIN_LR,
    CLI_O_WD,
    CLI_O_WARMUP,
    CLI_O_HFLIP,
    CLI_O_THREADS,
    CLI_O_SEED,
    CLI_O_LOG,
    CLI_O_DTYPE,
    CLI_O_EVAL,
    CLI_O_FIRST_OWN /* a subcommand's own option codes start here */
};
#define CLI_TRAIN_OPTIONS                                                                                              \
    {"out", required_argument, 0, 'o'}, {"data", required_argument, 0, CLI_O_DATA},                                    \
        {"labels", required_argument, 0, CLI_O_LABELS}, {"per-class", required_argument, 0, CLI_O_PER_CLASS},          \
        {"epochs", required_argument, 0, CLI_O_EPOCHS}, {"steps", required_argument, 0, CLI_O_STEPS},                  \
        {"batch", required_argument, 0, CLI_O_BATCH}, {"lr", required_argument, 0, CLI_O_LR},                          \
        {"min-lr", required_argument, 0, CLI_O_MIN_LR}, {"wd", required_argument, 0, CLI_O_WD},                        \
        {"warmup", required_argument, 0, CLI_O_WARMUP}, {"hflip", no_argument, 0, CLI_O_HFLIP},                        \
        {"threads", required_argument, 0, CLI_O_THREADS}, {"seed", required_argument, 0, CLI_O_SEED},                  \
        {"log-every", required_argument, 0, CLI_O_LOG}, {"dtype", required_argument, 0, CLI_O_DTYPE},                  \
    {                                                                                                                  \
        "eval", no_argument, 0, CLI_O_EVAL                                                                             \
    }
#define CLI_TRAIN_HELP                                                                                                 \
    "  -o, --out FILE     where to write the result (required)\n"                                                      \
    "  --data DIR         Fashion-MNIST directory (default " LG_FMNIST_DIR ")\n"                                       \
    "  --labels LIST      train on these classes only, e.g. 5,6,7,8,9 (relabelled 0..n-1)\n"                           \
    "  --per-class N      N training images per class (default: all)\n"                                                \
    "  --epochs N         passes over the data (default 5), or --steps N optimizer steps\n"                            \
    "  --batch N          images per step (default 64)\n"                                                              \
    "  --lr X --min-lr X  peak and final learning rate (default 1e-3, 1e-5; warm-up + cosine)\n"                       \
    "  --wd X             AdamW weight decay (default 0.05)\n"                                                         \
    "  --warmup N         warm-up steps (default 5% of the steps)\n"                                                   \
    "  --hflip            random horizontal flips\n"                                                                   \
    "  --threads N        CPU threads (default 1)\n"                                                                   \
    "  --seed N           initialization and shuffling seed (default 1)\n"                                             \
    "  --log-every N      steps between progress lines (default 50)\n"                                                 \
    "  --dtype F32|F16|BF16|I8  dtype of the file written (default F32)\n"                                                \
    "  --eval             report test-set accuracy at the end\n"

typedef struct {
    lg_train_opts o;
    const char *out, *dir, *labels;
    long epochs, steps, warmup, per_class, seed;
    lg_dtype dtype;
    int eval;
} cli_train_args;

void cli_train_args_init(cli_train_args *a);
/* Handles one shared option: 1 when it was one, 0 when not, -1 on a bad value. */
int cli_train_arg(cli_train_args *a, int code, const char *arg);
/* Sets steps (from epochs over n_images), warm-up, seed and progress lines. */
void cli_train_args_finish(cli_train_args *a, int n_images);
/* Prints the test-set accuracy of m on the classes in labels (NULL: all). */
int cli_report_accuracy(lg_model *m, const cli_train_args *a, const char *labels);

/* The ancestry model at path and the classes it was trained on (its
 * "labels" metadata; all ten when absent) into labels[0..n). Prints why and
 * returns -1 on failure. */
int cli_load_ancestry(lg_model **m, char *labels, size_t n, const char *path);

/* One progress line: step, loss, lr, img/s, ETA. */
void cli_print_progress(FILE *f, const lg_train_progress *p);

#endif
