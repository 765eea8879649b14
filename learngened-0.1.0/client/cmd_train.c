/* cmd_train.c - `learngene train` (a ViT from scratch on Fashion-MNIST) and
 * `learngene ancestry` (the same on the source classes 0-4 by default: the
 * model learngenes are taken from), with progress lines, saved as
 * safetensors. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char train_help[] =
    "usage: learngene train|ancestry -o FILE [OPTIONS]\n"
    "Trains a ViT from scratch on Fashion-MNIST and writes it as safetensors.\n"
    "`ancestry` is `train --labels 0,1,2,3,4` unless --labels is given.\n" CLI_TRAIN_HELP
    "  --preset NAME      fmnist-small | fmnist-ti | deit-ti | deit-s (default fmnist-small)\n"
    "  --img N --chans N --patch N --dim N --depth N --heads N --mlp N --classes N --pool token|avg\n";

int cmd_train(int argc, char **argv)
{
    enum { O_PRESET = CLI_O_FIRST_OWN, O_SHAPE };
    static const struct option opts[] = {CLI_TRAIN_OPTIONS,
                                         {"preset", required_argument, 0, O_PRESET},
                                         {"img", required_argument, 0, O_SHAPE},
                                         {"chans", required_argument, 0, O_SHAPE},
                                         {"patch", required_argument, 0, O_SHAPE},
                                         {"dim", required_argument, 0, O_SHAPE},
                                         {"depth", required_argument, 0, O_SHAPE},
                                         {"heads", required_argument, 0, O_SHAPE},
                                         {"mlp", required_argument, 0, O_SHAPE},
                                         {"classes", required_argument, 0, O_SHAPE},
                                         {"pool", required_argument, 0, O_SHAPE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ancestry = !strcmp(argv[0], "ancestry");
    cli_train_args a;
    cli_train_args_init(&a);
    if (ancestry) a.labels = "0,1,2,3,4";
    int classes_set = 0, c, idx = -1;
    lg_config cfg;
    cli_shape_default(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, &idx)) != -1) {
        int r = cli_train_arg(&a, c, optarg);
        if (r < 0) return CLI_USAGE;
        if (r == 0) switch (c) {
            case O_PRESET:
                if (cli_shape_preset(&cfg, optarg)) return CLI_USAGE;
                break;
            case O_SHAPE:
                if (cli_shape_option(&cfg, opts[idx].name, optarg) < 0) return CLI_USAGE;
                classes_set |= !strcmp(opts[idx].name, "classes");
                break;
            case 'h': fputs(train_help, stdout); return CLI_OK;
            default: fputs(train_help, stderr); return CLI_USAGE;
            }
        idx = -1;
    }
    if (!a.out || optind != argc) {
        fprintf(stderr, "learngene %s: %s\n", argv[0], !a.out ? "-o FILE is required" : "unexpected argument");
        fputs(train_help, stderr);
        return CLI_USAGE;
    }
    lg_dataset train = {0};
    lg_model *m = NULL;
    int rc = CLI_FAIL;
    char err[512];
    int ncls = cli_load_fmnist(&train, a.dir, 1, a.labels, a.per_class, (uint64_t)a.seed);
    if (ncls < 0) goto out;
    if (!classes_set) cfg.classes = ncls;
    if (lg_model_new(&m, &cfg, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene %s: %s\n", argv[0], err);
        rc = CLI_USAGE;
        goto out;
    }
    lg_model_init(m, (uint64_t)a.seed);
    cli_train_args_finish(&a, train.n);
    char shape[512];
    lg_config_to_json(&cfg, shape, sizeof shape);
    fprintf(stderr, "model %s: %zu params, %.4f GFLOPs/image; %d training images, %ld steps of %d\n", shape,
            lg_config_params(&cfg), lg_config_flops(&cfg) / 1e9, train.n, a.o.steps, a.o.batch);
    if (lg_train(m, &train, &a.o, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene %s: %s\n", argv[0], err);
        goto out;
    }
    char steps_s[32];
    snprintf(steps_s, sizeof steps_s, "%ld", a.o.steps);
    lg_st_kv meta[] = {{"method", ancestry ? "ancestry" : "scratch"},
                       {"dataset", "fashion-mnist"},
                       {"labels", a.labels ? a.labels : "0,1,2,3,4,5,6,7,8,9"},
                       {"steps", steps_s}};
    if (lg_model_save(m, a.out, a.dtype, meta, 4, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene %s: %s\n", argv[0], err);
        goto out;
    }
    fprintf(stderr, "wrote %s\n", a.out);
    if (a.eval && cli_report_accuracy(m, &a, a.labels)) goto out;
    rc = CLI_OK;
out:
    lg_model_free(m);
    lg_dataset_free(&train);
    return rc;
}
