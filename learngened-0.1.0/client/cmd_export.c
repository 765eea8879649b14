/* cmd_export.c - `learngene export MODEL.safetensors --onnx -o FILE.onnx`:
 * a model file converted to another format. ONNX (opset 17,
 * lg_model_save_onnx) carries the model description as metadata "config"
 * and the safetensors file's other metadata (lineage) unchanged. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

static const char export_help[] =
    "usage: learngene export MODEL.safetensors --onnx -o FILE.onnx\n"
    "  --onnx             write ONNX (opset 17): input \"images\" float32 [N,C,H,W] (normalized),\n"
    "                     output \"logits\" [N,K], N dynamic; metadata: config and the file's lineage\n"
    "  -o, --out FILE     where to write it (required; replaced atomically)\n";

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"onnx", no_argument, 0, 'x'}, {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int onnx = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'x')
            onnx = 1;
        else if (c == 'o')
            out = optarg;
        else {
            fputs(export_help, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        fputs(export_help, stderr);
        return CLI_USAGE;
    }
    if (!onnx) {
        fprintf(stderr, "learngene export: choose the format (--onnx)\n");
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    char err[512];
    lg_st *st = NULL;
    lg_model *m = NULL;
    lg_st_kv *meta = NULL;
    int rc = CLI_FAIL, n = 0;
    if (lg_st_read_file(&st, path, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene export: %s\n", err);
        goto out;
    }
    if (lg_st_meta(st, "learngene") || lg_st_meta(st, "genepool")) {
        fprintf(stderr, "learngene export: %s is a %s, not a model: grow one first (learngene %s)\n", path,
                lg_st_meta(st, "genepool") ? "learngene pool" : "learngene",
                lg_st_meta(st, "genepool") ? "stitch" : "expand");
        goto out;
    }
    if (lg_model_from_st(&m, st, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene export: %s: %s\n", path, err);
        goto out;
    }
    meta = calloc((size_t)lg_st_meta_count(st) + 1, sizeof *meta);
    if (!meta) {
        fprintf(stderr, "learngene export: out of memory\n");
        goto out;
    }
    for (int i = 0; i < lg_st_meta_count(st); i++) {
        lg_st_meta_get(st, i, &meta[n].key, &meta[n].value);
        n++; /* "config" is written from the model itself and skipped here */
    }
    if (lg_model_save_onnx(m, out, meta, n, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene export: %s\n", err);
        goto out;
    }
    const lg_config *cfg = lg_model_config(m);
    printf("wrote %s: ONNX opset 17, images [N,%d,%d,%d] -> logits [N,%d], %zu params\n", out, cfg->in_chans, cfg->img,
           cfg->img, cfg->classes, lg_model_nparams(m));
    rc = CLI_OK;
out:
    free(meta);
    lg_model_free(m);
    lg_st_free(st);
    return rc;
}
