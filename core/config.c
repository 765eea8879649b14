/* config.c - the model description: validation, JSON in and out, and the
 * FLOPs / parameter counts of any shape (SPEC §2 convention). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "json.h"

int lg_config_patches(const lg_config *c)
{
    int g = c->img / c->patch;
    return g * g;
}

int lg_config_tokens(const lg_config *c) { return lg_config_patches(c) + (c->pool == LG_POOL_TOKEN ? 1 : 0); }

#define CHECK_RANGE(field, lo, hi)                                                                                     \
    do {                                                                                                               \
        if (c->field < (lo) || c->field > (hi))                                                                        \
            return lg_fail(err, errlen, LG_ERR_RANGE, "config field '" #field "' is %d; it must be in [%d, %d]",       \
                           c->field, (int)(lo), (int)(hi));                                                            \
    } while (0)

lg_status lg_config_validate(const lg_config *c, char *err, size_t errlen)
{
    CHECK_RANGE(img, 1, LG_MAX_IMG);
    CHECK_RANGE(in_chans, 1, LG_MAX_CHANS);
    CHECK_RANGE(patch, 1, c->img);
    CHECK_RANGE(dim, 1, LG_MAX_DIM);
    CHECK_RANGE(depth, 1, LG_MAX_DEPTH);
    CHECK_RANGE(heads, 1, LG_MAX_HEADS);
    CHECK_RANGE(mlp, 1, LG_MAX_MLP);
    CHECK_RANGE(classes, 1, LG_MAX_CLASSES);
    if (c->img % c->patch)
        return lg_fail(err, errlen, LG_ERR_INVALID, "config field 'patch' (%d) must divide 'img' (%d)", c->patch,
                       c->img);
    if (c->dim % c->heads)
        return lg_fail(err, errlen, LG_ERR_INVALID, "config field 'heads' (%d) must divide 'dim' (%d)", c->heads,
                       c->dim);
    if (c->pool != LG_POOL_TOKEN && c->pool != LG_POOL_AVG)
        return lg_fail(err, errlen, LG_ERR_INVALID, "config field 'pool' must be \"token\" or \"avg\"");
    if (lg_config_tokens(c) > LG_MAX_TOKENS)
        return lg_fail(err, errlen, LG_ERR_RANGE, "config gives %d tokens per image; at most %d are supported",
                       lg_config_tokens(c), LG_MAX_TOKENS);
    return LG_OK;
}

static const char *const int_fields[] = {"img", "in_chans", "patch", "dim", "depth", "heads", "mlp", "classes"};

static int *int_field(lg_config *c, int i)
{
    int *p[] = {&c->img, &c->in_chans, &c->patch, &c->dim, &c->depth, &c->heads, &c->mlp, &c->classes};
    return p[i];
}

lg_status lg_config_from_json(lg_config *c, const char *json, size_t len, char *err, size_t errlen)
{
    lgj_value *root = NULL;
    lg_status st = lgj_parse(&root, json, len, err, errlen);
    if (st != LG_OK) return st;
    memset(c, 0, sizeof *c);
    c->pool = LG_POOL_TOKEN;
    int seen_mlp = 0;
    if (lgj_typeof(root) != LGJ_OBJ) {
        st = lg_fail(err, errlen, LG_ERR_FORMAT, "model description must be a JSON object");
        goto out;
    }
    for (size_t i = 0; i < lgj_len(root); i++) {
        const char *key = lgj_key(root, i);
        const lgj_value *v = lgj_at(root, i);
        int known = 0;
        for (int f = 0; f < (int)(sizeof int_fields / sizeof *int_fields); f++) {
            if (strcmp(key, int_fields[f])) continue;
            uint64_t u;
            if (lgj_uint(v, &u) || u > 1000000) {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "config field '%s' must be a positive integer", key);
                goto out;
            }
            *int_field(c, f) = (int)u;
            seen_mlp |= !strcmp(key, "mlp");
            known = 1;
        }
        if (known) continue;
        if (!strcmp(key, "pool")) {
            const char *s = lgj_str(v);
            if (s && !strcmp(s, "token"))
                c->pool = LG_POOL_TOKEN;
            else if (s && !strcmp(s, "avg"))
                c->pool = LG_POOL_AVG;
            else {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "config field 'pool' must be \"token\" or \"avg\"");
                goto out;
            }
        } else if (!strcmp(key, "arch")) {
            const char *s = lgj_str(v);
            if (!s || strcmp(s, "vit")) {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "config field 'arch' must be \"vit\"");
                goto out;
            }
        } else if (strcmp(key, "name")) {
            st = lg_fail(err, errlen, LG_ERR_INVALID, "config has an unknown field '%s'", key);
            goto out;
        }
    }
    if (!seen_mlp) c->mlp = 4 * c->dim;
    st = lg_config_validate(c, err, errlen);
out:
    lgj_free(root);
    return st;
}

int lg_config_to_json(const lg_config *c, char *buf, size_t buflen)
{
    return snprintf(buf, buflen,
                    "{\"arch\":\"vit\",\"img\":%d,\"in_chans\":%d,\"patch\":%d,\"dim\":%d,\"depth\":%d,"
                    "\"heads\":%d,\"mlp\":%d,\"classes\":%d,\"pool\":\"%s\"}",
                    c->img, c->in_chans, c->patch, c->dim, c->depth, c->heads, c->mlp, c->classes,
                    c->pool == LG_POOL_AVG ? "avg" : "token");
}

double lg_config_flops(const lg_config *c)
{
    double D = c->dim, M = c->mlp, T = lg_config_tokens(c), Np = lg_config_patches(c);
    double patch = Np * D * c->in_chans * c->patch * c->patch;
    double block = T * D * 3 * D   /* qkv */
                   + 2 * T * T * D /* QKᵀ and A·V over all heads */
                   + T * D * D     /* proj */
                   + 2 * T * D * M /* fc1, fc2 */
                   + 2 * 5 * T * D; /* norm1, norm2 */
    /* The final norm sees every token with pool "token" (timm applies it
     * before taking the class token) and the pooled vector with "avg". */
    double final_norm = 5 * D * (c->pool == LG_POOL_TOKEN ? T : 1);
    double head = D * c->classes;
    return patch + c->depth * block + final_norm + head;
}

size_t lg_config_params(const lg_config *c)
{
    size_t D = (size_t)c->dim, M = (size_t)c->mlp, T = (size_t)lg_config_tokens(c);
    size_t block = 4 * D + (3 * D * D + 3 * D) + (D * D + D) + (M * D + M) + (D * M + D);
    return D * (size_t)c->in_chans * (size_t)c->patch * (size_t)c->patch + D + (c->pool == LG_POOL_TOKEN ? D : 0) +
           T * D + (size_t)c->depth * block + 2 * D + (size_t)c->classes * D + (size_t)c->classes;
}
