/* cli.h - the learngene command line: its subcommands and the helpers they
 * share (number parsing, model shape options, data loading, progress). */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "learngene.h"

/* Exit codes (documented in learngene(1)). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);

/* Parse a whole-string number within [lo, hi]; on error print a message
 * naming the option and return -1. */
int cli_long(const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *opt, const char *s, double lo, double hi, double *out);

/* Model shape: a preset name ("fmnist-ti", "fmnist-small", "deit-ti",
 * "deit-s") and per-field overrides, applied by cli_shape_option. */
void cli_shape_default(lg_config *c);
int cli_shape_preset(lg_config *c, const char *name);
/* Handles --img/--chans/--patch/--dim/--depth/--heads/--mlp/--classes/--pool;
 * returns 1 if opt was one of them, 0 if not, -1 on a bad value. */
int cli_shape_option(lg_config *c, const char *opt, const char *val);
#define CLI_SHAPE_HELP                                                                                                \
    "  --preset NAME      fmnist-ti | fmnist-small | deit-ti | deit-s (default fmnist-small)\n"                       \
    "  --img N --chans N --patch N --dim N --depth N --heads N --mlp N --classes N --pool token|avg\n"

/* Fashion-MNIST split from dir, optionally restricted to a comma-separated
 * class list (relabelled 0..n-1) and to n images per class. Returns the
 * number of classes, or -1 after printing why it failed. */
int cli_load_fmnist(lg_dataset *ds, const char *dir, int train, const char *classes, long per_class, uint64_t seed);

/* One progress line: step, loss, lr, img/s, ETA. */
void cli_print_progress(FILE *f, const lg_train_progress *p);

#endif
