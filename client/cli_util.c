/* cli_util.c - helpers the learngene subcommands share: strict number
 * parsing, model shape options, Fashion-MNIST loading, progress lines. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "learngene: %s must be an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "learngene: %s must be a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_dtype(const char *s, lg_dtype *out)
{
    if (!lg_dtype_parse(s, out)) return 0;
    fprintf(stderr, "learngene: --dtype must be F32, F16, BF16 or I8, got '%s'\n", s);
    return -1;
}

static const struct {
    const char *name;
    lg_config c;
} presets[] = {
    {"fmnist-small",
     {.img = 28,
      .in_chans = 1,
      .patch = 4,
      .dim = 96,
      .depth = 4,
      .heads = 3,
      .mlp = 192,
      .classes = 10,
      .pool = LG_POOL_AVG}},
    {"fmnist-ti",
     {.img = 28,
      .in_chans = 1,
      .patch = 4,
      .dim = 192,
      .depth = 12,
      .heads = 3,
      .mlp = 768,
      .classes = 10,
      .pool = LG_POOL_TOKEN}},
    {"deit-ti",
     {.img = 224,
      .in_chans = 3,
      .patch = 16,
      .dim = 192,
      .depth = 12,
      .heads = 3,
      .mlp = 768,
      .classes = 1000,
      .pool = LG_POOL_TOKEN}},
    {"deit-s",
     {.img = 224,
      .in_chans = 3,
      .patch = 16,
      .dim = 384,
      .depth = 12,
      .heads = 6,
      .mlp = 1536,
      .classes = 1000,
      .pool = LG_POOL_TOKEN}},
};

void cli_shape_default(lg_config *c) { *c = presets[0].c; }

int cli_shape_preset(lg_config *c, const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(name, presets[i].name)) {
            *c = presets[i].c;
            return 0;
        }
    fprintf(stderr, "learngene: unknown --preset '%s' (fmnist-small, fmnist-ti, deit-ti, deit-s)\n", name);
    return -1;
}

int cli_shape_option(lg_config *c, const char *opt, const char *val)
{
    static const char *const names[] = {"img", "chans", "patch", "dim", "depth", "heads", "mlp", "classes"};
    int *fields[] = {&c->img, &c->in_chans, &c->patch, &c->dim, &c->depth, &c->heads, &c->mlp, &c->classes};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(opt, names[i])) continue;
        long v;
        char flag[32];
        snprintf(flag, sizeof flag, "--%s", opt);
        if (cli_long(flag, val, 1, LG_MAX_MLP, &v)) return -1;
        *fields[i] = (int)v;
        if (!strcmp(opt, "dim")) c->mlp = 4 * c->dim; /* --mlp after --dim overrides */
        return 1;
    }
    if (strcmp(opt, "pool")) return 0;
    if (!strcmp(val, "token") || !strcmp(val, "avg")) {
        c->pool = !strcmp(val, "avg") ? LG_POOL_AVG : LG_POOL_TOKEN;
        return 1;
    }
    fprintf(stderr, "learngene: --pool must be token or avg, got '%s'\n", val);
    return -1;
}

int cli_load_fmnist(lg_dataset *ds, const char *dir, int train, const char *classes, long per_class, uint64_t seed)
{
    char err[512];
    if (lg_fmnist_load(ds, dir, train, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene: %s\n", err);
        return -1;
    }
    int ncls = 10;
    if (classes) {
        int list[10];
        ncls = 0;
        char *copy = strdup(classes), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            long v;
            if (ncls == 10 || cli_long("--labels", t, 0, 9, &v)) {
                if (ncls == 10) fprintf(stderr, "learngene: --labels lists more than 10 classes\n");
                free(copy);
                lg_dataset_free(ds);
                return -1;
            }
            list[ncls++] = (int)v;
        }
        free(copy);
        if (ncls == 0 || lg_dataset_filter(ds, list, ncls, 1, err, sizeof err) != LG_OK) {
            fprintf(stderr, "learngene: --labels '%s': %s\n", classes, ncls ? err : "no classes given");
            lg_dataset_free(ds);
            return -1;
        }
    }
    if (per_class > 0 && lg_dataset_per_class(ds, (int)per_class, ncls, seed, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene: --per-class %ld: %s\n", per_class, err);
        lg_dataset_free(ds);
        return -1;
    }
    return ncls;
}

int cli_load_ancestry(lg_model **m, char *labels, size_t n, const char *path)
{
    char err[512];
    lg_st *st = NULL;
    if (lg_st_read_file(&st, path, err, sizeof err) != LG_OK || lg_model_from_st(m, st, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene: --ancestry %s: %s\n", path, err);
        lg_st_free(st);
        return -1;
    }
    const char *l = lg_st_meta(st, "labels");
    snprintf(labels, n, "%s", l ? l : "0,1,2,3,4,5,6,7,8,9");
    lg_st_free(st);
    return 0;
}

void cli_print_progress(FILE *f, const lg_train_progress *p)
{
    long eta = (long)(p->eta_s + 0.5);
    fprintf(f, "step %6ld/%ld  epoch %3d  loss %.4f  lr %.2e  %7.1f img/s  ETA %ld:%02ld:%02ld\n", p->step,
            p->total_steps, p->epoch, p->loss, p->lr, p->img_per_s, eta / 3600, eta / 60 % 60, eta % 60);
    fflush(f);
}
