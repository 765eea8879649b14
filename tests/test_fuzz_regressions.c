/* test_fuzz_regressions.c - replays the fuzzers' inputs without libFuzzer:
 * every file of fuzz/corpus/<harness>/ (the seeds) and
 * fuzz/regressions/<harness>/ (inputs that once crashed or broke a
 * property) goes through the same harness function that `make fuzz` runs,
 * each in a child process so that one crash names its file and the rest
 * still run. Then the valid seeds are checked to be valid still (a format
 * change that turned them into rejects would leave the fuzzers only the
 * error paths).
 *
 * The harnesses are compiled into this file with LLVMFuzzerTestOneInput
 * renamed per harness; see fuzz/fuzz.h and docs/reliability.md.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define LLVMFuzzerTestOneInput fuzz_safetensors_input
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_idx_input
#include "../fuzz/fuzz_idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_json_input
#include "../fuzz/fuzz_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_raw_input
#include "../fuzz/fuzz_raw.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_range_input
#include "../fuzz/fuzz_range.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_route_input
#include "../fuzz/fuzz_route.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_input
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_auth_input
#include "../fuzz/fuzz_auth.c"
#undef LLVMFuzzerTestOneInput

#define FUZZ_DIR LG_TEST_SRCDIR "/fuzz"

typedef struct {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} harness;

static const harness harnesses[] = {
    {"safetensors", fuzz_safetensors_input},
    {"idx", fuzz_idx_input},
    {"json", fuzz_json_input},
    {"raw", fuzz_raw_input},
    {"range", fuzz_range_input},
    {"route", fuzz_route_input},
    {"config", fuzz_config_input},
    {"auth", fuzz_auth_input},
};
#define N_HARNESSES ((int)(sizeof harnesses / sizeof harnesses[0]))

/* The whole file in an exactly sized buffer (so a sanitizer build sees
 * any overread); NULL when it cannot be read. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(n ? (size_t)n : 1)) != NULL &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs one input through h in a child; 0 when it returned normally. */
static int run_input(const harness *h, const char *path, char *why, size_t whylen)
{
    size_t len = 0;
    uint8_t *data = read_all(path, &len);
    if (!data) {
        snprintf(why, whylen, "cannot read it: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(data);
        snprintf(why, whylen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        h->one(data, len);
        _exit(0);
    }
    int status = 0;
    free(data);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "the harness died of signal %d", WTERMSIG(status));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "the harness exited with status %d", WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

static int skip_dot(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Every file of FUZZ_DIR/kind/h; returns how many ran, *failed how many
 * of them crashed (each named in failures[0..len), as far as it goes). */
static int replay_dir(const harness *h, const char *kind, int *failed, char *failures, size_t len)
{
    char dir[4096], path[8192], why[256];
    struct dirent **names = NULL;
    snprintf(dir, sizeof dir, "%s/%s/%s", FUZZ_DIR, kind, h->name);
    int n = scandir(dir, &names, skip_dot, alphasort);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (run_input(h, path, why, sizeof why) != 0) {
            size_t used = strlen(failures);
            snprintf(failures + used, len - used, "\n  %s/%s/%s: %s", kind, h->name, names[i]->d_name, why);
            (*failed)++;
        }
        free(names[i]);
    }
    free(names);
    return n;
}

START_TEST(test_replay)
{
    const harness *h = &harnesses[_i];
    char failures[4096] = "";
    int failed = 0;
    int seeds = replay_dir(h, "corpus", &failed, failures, sizeof failures);
    ck_assert_msg(seeds > 0, "expected seed files in fuzz/corpus/%s", h->name);
    replay_dir(h, "regressions", &failed, failures, sizeof failures);
    ck_assert_msg(failed == 0,
                  "%d inputs of fuzz/*/%s crash its harness (replay one with fuzz/out/fuzz_%s FILE after "
                  "make fuzz):%s",
                  failed, h->name, h->name, failures);
}
END_TEST

/* ------------------------------------------------------ valid seeds */

static lg_st *seed_st(const char *name)
{
    char path[4096], err[512] = "";
    lg_st *st = NULL;
    snprintf(path, sizeof path, "%s/corpus/safetensors/%s", FUZZ_DIR, name);
    ck_assert_msg(lg_st_read_file(&st, path, err, sizeof err) == LG_OK, "%s parses: %s", path, err);
    return st;
}

START_TEST(test_seeds_safetensors_valid)
{
    static const char *const models[] = {
        "model-f32.safetensors",   "model-f16.safetensors",      "model-bf16.safetensors",
        "model-token.safetensors", "model-stitched.safetensors",
#ifdef LG_I8_QUANTIZATION
        "model-i8.safetensors",
#endif
    };
    char err[512] = "";
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        lg_st *st = seed_st(models[i]);
        lg_model *m = NULL;
        ck_assert_msg(lg_model_from_st(&m, st, err, sizeof err) == LG_OK, "%s loads as a model: %s", models[i], err);
        lg_model_free(m);
        lg_st_free(st);
    }
    static const char *const genes[] = {"gene-tleg.safetensors", "gene-inherit.safetensors"};
    for (size_t i = 0; i < sizeof genes / sizeof genes[0]; i++) {
        lg_st *st = seed_st(genes[i]);
        lg_gene g;
        ck_assert_msg(lg_gene_from_st(&g, st, err, sizeof err) == LG_OK, "%s loads as a learngene: %s", genes[i], err);
        lg_gene_free(&g);
        lg_st_free(st);
    }
    lg_st *st = seed_st("pool.safetensors");
    lg_genepool p;
    ck_assert_msg(lg_genepool_from_st(&p, st, err, sizeof err) == LG_OK, "pool.safetensors loads as a pool: %s", err);
    ck_assert_msg(p.n == 2 && p.nstitch == 1, "expected 2 instances and 1 stitch, got %d and %d", p.n, p.nstitch);
    lg_genepool_free(&p);
    lg_st_free(st);
}
END_TEST

START_TEST(test_seeds_text_valid)
{
    static const char *const bodies[] = {"models-depth.json",    "models-budget.json", "models-variant.json",
                                         "models-finetune.json", "predict.json",       "infer.json"};
    char path[4096], err[1200] = "";
    size_t len;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        snprintf(path, sizeof path, "%s/corpus/json/%s", FUZZ_DIR, bodies[i]);
        uint8_t *b = read_all(path, &len);
        ck_assert_msg(b != NULL, "cannot read %s", path);
        lga_json_error e = {"", ""};
        json_t *o = lga_json_parse_object(b, len, &e);
        ck_assert_msg(o != NULL, "%s parses as a JSON object: %s", path, e.message);
        json_decref(o);
        free(b);
    }
    static const char *const configs[] = {"config-vit.json", "config-stitched.json"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        snprintf(path, sizeof path, "%s/corpus/json/%s", FUZZ_DIR, configs[i]);
        uint8_t *b = read_all(path, &len);
        ck_assert_msg(b != NULL, "cannot read %s", path);
        lg_config c;
        ck_assert_msg(lg_config_from_json(&c, (const char *)b, len, err, sizeof err) == LG_OK,
                      "%s is a valid model description: %s", path, err);
        free(b);
    }
    static const char *const confs[] = {"shipped.conf", "values.conf", "quoted.conf", "bom.conf"};
    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        snprintf(path, sizeof path, "%s/corpus/config/%s", FUZZ_DIR, confs[i]);
        uint8_t *b = read_all(path, &len);
        ck_assert_msg(b != NULL, "cannot read %s", path);
        char *text = fuzz_cstr(b, len);
        lgd_config c;
        lgd_config_defaults(&c);
        ck_assert_msg(lgd_config_load_string(&c, text, confs[i], err, sizeof err) == 0, "%s loads: %s", path, err);
        free(text);
        free(b);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *r = tcase_create("replay");
    tcase_set_timeout(r, 300);
    tcase_add_loop_test(r, test_replay, 0, N_HARNESSES);
    suite_add_tcase(s, r);
    TCase *v = tcase_create("seeds");
    tcase_add_test(v, test_seeds_safetensors_valid);
    tcase_add_test(v, test_seeds_text_valid);
    suite_add_tcase(s, v);
    return lg_test_run(s);
}
