/* cmd_eval.c - `learngene eval`: top-1 accuracy of a safetensors model on
 * the Fashion-MNIST test set (optionally a class subset). */
#include <getopt.h>

#include "cli.h"

static const char eval_help[] = "usage: learngene eval [OPTIONS] MODEL.safetensors\n"
                                "  --data DIR       Fashion-MNIST directory (default " LG_FMNIST_DIR ")\n"
                                "  --labels LIST    evaluate on these classes only (relabelled 0..n-1)\n"
                                "  --train          use the training split instead of the test split\n"
                                "  --batch N        images per forward pass (default 256)\n"
                                "  --threads N      CPU threads (default 1)\n";

int cmd_eval(int argc, char **argv)
{
    enum { O_DATA = 256, O_LABELS, O_TRAIN, O_BATCH, O_THREADS };
    static const struct option opts[] = {{"data", required_argument, 0, O_DATA},
                                         {"labels", required_argument, 0, O_LABELS},
                                         {"train", no_argument, 0, O_TRAIN},
                                         {"batch", required_argument, 0, O_BATCH},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = LG_FMNIST_DIR, *labels = NULL;
    long batch = 256, threads = 1;
    int train = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_DATA: dir = optarg; break;
        case O_LABELS: labels = optarg; break;
        case O_TRAIN: train = 1; break;
        case O_BATCH: bad = cli_long("--batch", optarg, 1, 65536, &batch); break;
        case O_THREADS: bad = cli_long("--threads", optarg, 1, 256, &threads); break;
        case 'h': fputs(eval_help, stdout); return CLI_OK;
        default: fputs(eval_help, stderr); return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    if (optind + 1 != argc) {
        fputs(eval_help, stderr);
        return CLI_USAGE;
    }
    lg_model *m = NULL;
    lg_dataset ds = {0};
    char err[512];
    int rc = CLI_FAIL;
    double acc, loss;
    if (lg_model_load(&m, argv[optind], err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene eval: %s: %s\n", argv[optind], err);
        goto out;
    }
    if (cli_load_fmnist(&ds, dir, train, labels, 0, 0) < 0) goto out;
    if (lg_evaluate(m, &ds, (int)batch, (int)threads, &acc, &loss, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene eval: %s\n", err);
        goto out;
    }
    printf("accuracy %.4f (%d images), loss %.4f\n", acc, ds.n, loss);
    rc = CLI_OK;
out:
    lg_model_free(m);
    lg_dataset_free(&ds);
    return rc;
}
