/* test_config.c - model descriptions: FLOPs and parameters of known models,
 * JSON parsing (strict, errors name the field) and the canonical output. */
#include <string.h>

#include "testutil.h"

static const lg_config deit_ti = {.img = 224,
                                  .in_chans = 3,
                                  .patch = 16,
                                  .dim = 192,
                                  .depth = 12,
                                  .heads = 3,
                                  .mlp = 768,
                                  .classes = 1000,
                                  .pool = LG_POOL_TOKEN};

START_TEST(flops_of_deit_ti_and_deit_s)
{
    /* The DeiT paper's table: DeiT-Ti 1.3 GFLOPs / 5.7M params; fvcore counts 1.26G and DeiT-S 4.61G. */
    double ti = lg_config_flops(&deit_ti);
    ck_assert_msg(fabs(ti / 1e9 - 1.26) < 0.005, "DeiT-Ti %.4f GFLOPs, want 1.26", ti / 1e9);
    ck_assert_msg(lg_config_params(&deit_ti) == 5717416, "DeiT-Ti params %zu, want 5717416 (timm)",
                  lg_config_params(&deit_ti));
    lg_config s = deit_ti;
    s.dim = 384, s.heads = 6, s.mlp = 1536;
    double fs = lg_config_flops(&s);
    ck_assert_msg(fabs(fs / 1e9 - 4.61) < 0.005, "DeiT-S %.4f GFLOPs, want 4.61", fs / 1e9);
    ck_assert_msg(lg_config_params(&s) == 22050664, "DeiT-S params %zu, want 22050664 (timm)", lg_config_params(&s));
}
END_TEST

START_TEST(flops_grow_linearly_with_depth)
{
    lg_config a = deit_ti, b = deit_ti;
    a.depth = 3, b.depth = 6;
    lg_config c = deit_ti;
    c.depth = 9;
    double fa = lg_config_flops(&a), fb = lg_config_flops(&b), fc = lg_config_flops(&c);
    ck_assert_msg(fabs((fc - fb) - (fb - fa)) < 1, "equal FLOPs per added block");
    a.pool = LG_POOL_AVG;
    ck_assert_msg(lg_config_tokens(&a) == 196 && lg_config_patches(&a) == 196, "avg pool has no class token");
}
END_TEST

START_TEST(json_round_trip_and_defaults)
{
    char err[256], buf[512];
    lg_config c;
    const char *j = "{\"arch\":\"vit\",\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":6,"
                    "\"heads\":3,\"mlp\":768,\"classes\":10,\"pool\":\"avg\"}";
    ck_assert_msg(lg_config_from_json(&c, j, strlen(j), err, sizeof err) == LG_OK, "%s", err);
    ck_assert(c.img == 28 && c.depth == 6 && c.pool == LG_POOL_AVG && c.mlp == 768);
    int n = lg_config_to_json(&c, buf, sizeof buf);
    ck_assert_msg(n == (int)strlen(j) && !strcmp(buf, j), "canonical JSON round trips: %s", buf);
    /* vit_ref.py writes "name"; pool defaults to token, mlp to 4·dim */
    const char *k = "{\"img\":28,\"in_chans\":1,\"patch\":7,\"dim\":96,\"depth\":2,\"heads\":2,\"classes\":5,"
                    "\"name\":\"fmnist-ti\"}";
    ck_assert_msg(lg_config_from_json(&c, k, strlen(k), err, sizeof err) == LG_OK, "%s", err);
    ck_assert(c.pool == LG_POOL_TOKEN && c.mlp == 384 && c.patch == 7);
}
END_TEST

START_TEST(json_errors_name_the_field)
{
    static const struct {
        const char *json, *word;
    } bad[] = {
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":0,\"heads\":3,\"classes\":10}", "depth"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":5,\"classes\":10}", "heads"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":5,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":10}", "patch"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":-3,\"depth\":2,\"heads\":3,\"classes\":10}", "dim"},
        {"{\"img\":28.5,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":10}", "img"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":10,\"pool\":\"max\"}",
         "pool"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":10,\"dpeth\":3}",
         "dpeth"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":10,\"arch\":\"cnn\"}",
         "arch"},
        {"{\"img\":28,\"in_chans\":1,\"patch\":4,\"dim\":192,\"depth\":2,\"heads\":3,\"classes\":1e12}", "classes"},
        {"{\"img\":28,\"img\":28}", "img"},
        {"[1,2]", "object"},
        {"{\"img\":", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        lg_config c;
        lg_status s = lg_config_from_json(&c, bad[i].json, strlen(bad[i].json), err, sizeof err);
        ck_assert_msg(s != LG_OK, "refused: %s", bad[i].json);
        ck_assert_msg(err[0] && strstr(err, bad[i].word), "message for %s names '%s': %s", bad[i].json, bad[i].word,
                      err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("config");
    tcase_add_test(t, flops_of_deit_ti_and_deit_s);
    tcase_add_test(t, flops_grow_linearly_with_depth);
    tcase_add_test(t, json_round_trip_and_defaults);
    tcase_add_test(t, json_errors_name_the_field);
    suite_add_tcase(s, t);
    return lg_test_run(s);
}
