/* seed.c - first start: an empty store gets the bundled learngene and pool
 * (every .safetensors file in data_dir) and Fashion-MNIST's train and test sets (Debian's
 * dataset-fashion-mnist) so the daemon serves something at once. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int import_genes(lgs_store *st, const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        lgd_log(LGD_LOG_WARN, "seed", "dir=\"%s\" msg=\"no bundled learngenes there\"", dir);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_suffix(e->d_name, ".safetensors")) continue;
        char path[8192], err[512], name[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "%.*s", (int)(strlen(e->d_name) - strlen(".safetensors")), e->d_name);
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (lg_file_read(&bytes, &len, path, (size_t)1 << 31, err, sizeof err) != LG_OK) {
            lgd_log(LGD_LOG_WARN, "seed", "file=\"%s\" msg=\"%s\"", path, err);
            continue;
        }
        lgs_gene_row g;
        lgs_status s = lgs_gene_put(st, bytes, len, name, &g, err, sizeof err);
        free(bytes);
        if (s == LGS_OK || s == LGS_ERR_EXISTS) {
            lgd_log(LGD_LOG_INFO, "seed", "file=\"%s\" id=%s kind=%s", path, g.id, g.kind);
            lgs_gene_row_free(&g);
            (*count)++;
        } else {
            lgd_log(LGD_LOG_WARN, "seed", "file=\"%s\" msg=\"%s\"", path, err);
        }
    }
    closedir(d);
    return 0;
}

/* Reads dir/base or dir/base.gz. */
static int read_either(const char *dir, const char *base, uint8_t **bytes, size_t *len)
{
    char path[8192], err[512];
    snprintf(path, sizeof path, "%s/%s.gz", dir, base);
    if (lg_file_read(bytes, len, path, (size_t)1 << 30, err, sizeof err) == LG_OK) return 0;
    snprintf(path, sizeof path, "%s/%s", dir, base);
    return lg_file_read(bytes, len, path, (size_t)1 << 30, err, sizeof err) == LG_OK ? 0 : -1;
}

static void import_fmnist(lgs_store *st, const char *dir, const char *prefix, const char *name)
{
    char images[64], labels[64], err[512];
    snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
    uint8_t *ib = NULL, *lb = NULL;
    size_t il = 0, ll = 0;
    if (read_either(dir, images, &ib, &il) || read_either(dir, labels, &lb, &ll)) {
        lgd_log(LGD_LOG_WARN, "seed",
                "dir=\"%s\" msg=\"no Fashion-MNIST %s files (apt-get install "
                "dataset-fashion-mnist)\"",
                dir, prefix);
    } else {
        lgs_dataset_row d;
        lgs_status s = lgs_dataset_put(st, ib, il, lb, ll, name, &d, err, sizeof err);
        if (s == LGS_OK || s == LGS_ERR_EXISTS)
            lgd_log(LGD_LOG_INFO, "seed", "dataset=%s id=%s n=%d", name, d.id, d.n);
        else
            lgd_log(LGD_LOG_WARN, "seed", "dataset=%s msg=\"%s\"", name, err);
    }
    free(ib);
    free(lb);
}

int lgd_seed(lgs_store *st, const lgd_config *c)
{
    lgs_gene_row *genes = NULL;
    lgs_dataset_row *ds = NULL;
    int ng = 0, nd = 0, imported = 0;
    if (lgs_gene_list(st, NULL, &genes, &ng) != LGS_OK || lgs_dataset_list(st, &ds, &nd) != LGS_OK) return -1;
    for (int i = 0; i < ng; i++) lgs_gene_row_free(&genes[i]);
    free(genes);
    free(ds);
    if (ng == 0 && c->data_dir[0]) import_genes(st, c->data_dir, &imported);
    if (nd == 0 && c->fmnist_dir[0]) {
        import_fmnist(st, c->fmnist_dir, "train", "fashion-mnist-train");
        import_fmnist(st, c->fmnist_dir, "t10k", "fashion-mnist-test");
    }
    return 0;
}
