/* cmd_logits.c - `learngene logits`: raw logits of a model for raw float32
 * NCHW images, printed like vit_ref.py's `logits` and optionally written as
 * raw float32 — the hook for cross-checking against the PyTorch reference. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char logits_help[] =
    "usage: learngene logits MODEL.safetensors IMAGES.f32 [--out LOGITS.f32] [--threads N]\n"
    "IMAGES: raw little-endian float32, N×C×H×W\n";

int cmd_logits(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    long threads = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 't') {
            if (cli_long("--threads", optarg, 1, 256, &threads)) return CLI_USAGE;
        } else {
            fputs(logits_help, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (optind + 2 != argc) {
        fputs(logits_help, stderr);
        return CLI_USAGE;
    }
    char err[512];
    lg_model *m = NULL;
    lg_ctx *x = NULL;
    uint8_t *raw = NULL;
    float *images = NULL, *logits = NULL;
    size_t len;
    int rc = CLI_FAIL;
    if (lg_model_load(&m, argv[optind], err, sizeof err) != LG_OK ||
        lg_file_read(&raw, &len, argv[optind + 1], (size_t)1 << 31, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene logits: %s\n", err);
        goto out;
    }
    const lg_config *cfg = lg_model_config(m);
    size_t per = (size_t)cfg->in_chans * cfg->img * cfg->img * sizeof(float);
    if (len == 0 || len % per) {
        fprintf(stderr, "learngene logits: %s holds %zu bytes, not a multiple of one %d×%d×%d float32 image\n",
                argv[optind + 1], len, cfg->in_chans, cfg->img, cfg->img);
        goto out;
    }
    int n = (int)(len / per), K = cfg->classes;
    images = malloc(len);
    logits = malloc((size_t)n * K * sizeof *logits);
    if (!images || !logits) goto out;
    memcpy(images, raw, len); /* little-endian float32 on a little-endian host */
    if (lg_ctx_new(&x, m, n, (int)threads, 0, err, sizeof err) != LG_OK) {
        fprintf(stderr, "learngene logits: %s\n", err);
        goto out;
    }
    lg_forward(x, logits, images, n);
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++) best = logits[(size_t)i * K + k] > logits[(size_t)i * K + best] ? k : best;
        printf("%d argmax=%d", i, best);
        for (int k = 0; k < K; k++) printf(" %.8e", (double)logits[(size_t)i * K + k]);
        printf("\n");
    }
    if (out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(logits, sizeof *logits, (size_t)n * K, f) != (size_t)n * K || fclose(f)) {
            perror(out);
            goto out;
        }
    }
    rc = CLI_OK;
out:
    lg_ctx_free(x);
    lg_model_free(m);
    free(raw);
    free(images);
    free(logits);
    return rc;
}
