/* main.c - learngene(1): dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "autoconfig.h"
#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", cmd_train, "train a ViT from scratch on Fashion-MNIST and save it as safetensors"},
    {"eval", cmd_eval, "accuracy of a safetensors model on the Fashion-MNIST test set"},
    {"ancestry", cmd_train, "train the ancestry model (classes 0-4 unless --labels) learngenes come from"},
    {"tleg-train", cmd_tleg_train, "distil a TLEG learngene (θ_A, θ_B) from an ancestry model"},
    {"inherit", cmd_inherit, "take the last K blocks of an ancestry model as a learngene"},
    {"pool-train", cmd_pool_train, "distil a Learngene Pool (instances + least-squares stitches)"},
    {"stitch", cmd_stitch, "build one configuration of a pool as a model"},
    {"expand", cmd_expand, "grow a descendant of a given depth from a learngene"},
    {"solve", cmd_solve, "the best descendant under a FLOPs / params budget"},
    {"logits", cmd_logits, "raw logits of a model for raw float32 images (cross-checks)"},
    {"export", cmd_export, "convert a model file to ONNX (opset 17) for other runtimes"},
    {"info", cmd_info, "shape, parameters, FLOPs and metadata of a safetensors file"},
    {"ls", cmd_ls, "list a daemon's learngenes, pools, models, datasets or jobs"},
    {"get", cmd_get, "grow a model on a daemon (depth or budget) and download it, resumably"},
    {"predict", cmd_predict, "classify PGM/PPM or raw images with a model on a daemon"},
    {"finetune", cmd_finetune, "grow and fine-tune a model on a daemon's dataset (--follow)"},
    {"jobs", cmd_jobs, "a daemon's jobs: list, show, follow or cancel"},
    {"push", cmd_push, "upload a learngene or pool file to a daemon"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: learngene COMMAND [OPTIONS]   (learngene COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("learngene %s\n", PACKAGE_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "learngene: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
