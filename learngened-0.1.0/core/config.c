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

void lg_config_block(const lg_config *c, int l, int *dim, int *heads, int *mlp)
{
    int back = c->stitch_at > 0 && l >= c->stitch_at;
    *dim = back ? c->dim2 : c->dim;
    *heads = back ? c->heads2 : c->heads;
    *mlp = back ? c->mlp2 : c->mlp;
}

int lg_config_out_dim(const lg_config *c) { return c->stitch_at > 0 ? c->dim2 : c->dim; }

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
    if (c->stitch_at) {
        CHECK_RANGE(stitch_at, 1, c->depth - 1);
        CHECK_RANGE(dim2, 1, LG_MAX_DIM);
        CHECK_RANGE(heads2, 1, LG_MAX_HEADS);
        CHECK_RANGE(mlp2, 1, LG_MAX_MLP);
        if (c->dim2 % c->heads2)
            return lg_fail(err, errlen, LG_ERR_INVALID, "config field 'heads2' (%d) must divide 'dim2' (%d)", c->heads2,
                           c->dim2);
    }
    if (c->pool != LG_POOL_TOKEN && c->pool != LG_POOL_AVG)
        return lg_fail(err, errlen, LG_ERR_INVALID, "config field 'pool' must be \"token\" or \"avg\"");
    if (lg_config_tokens(c) > LG_MAX_TOKENS)
        return lg_fail(err, errlen, LG_ERR_RANGE, "config gives %d tokens per image; at most %d are supported",
                       lg_config_tokens(c), LG_MAX_TOKENS);
    return LG_OK;
}

static const char *const int_fields[] = {"img", "in_chans", "patch",     "dim",  "depth",  "heads",
                                         "mlp", "classes",  "stitch_at", "dim2", "heads2", "mlp2"};

static int *int_field(lg_config *c, int i)
{
    int *p[] = {&c->img, &c->in_chans, &c->patch,     &c->dim,  &c->depth,  &c->heads,
                &c->mlp, &c->classes,  &c->stitch_at, &c->dim2, &c->heads2, &c->mlp2};
    return p[i];
}

lg_status lg_config_from_json(lg_config *c, const char *json, size_t len, char *err, size_t errlen)
{
    lgj_value *root = NULL;
    lg_status st = lgj_parse(&root, json, len, err, errlen);
    if (st != LG_OK) return st;
    memset(c, 0, sizeof *c);
    c->pool = LG_POOL_TOKEN;
    int seen_mlp = 0, seen_mlp2 = 0;
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
            if (lgj_uint(v, &u) || u > 1000000 || (u == 0 && strcmp(key, "stitch_at"))) {
                st = lg_fail(err, errlen, LG_ERR_INVALID, "config field '%s' must be a positive integer", key);
                goto out;
            }
            *int_field(c, f) = (int)u;
            seen_mlp |= !strcmp(key, "mlp");
            seen_mlp2 |= !strcmp(key, "mlp2");
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
    if (!seen_mlp2) c->mlp2 = 4 * c->dim2;
    if (!c->stitch_at) c->dim2 = c->heads2 = c->mlp2 = 0;
    st = lg_config_validate(c, err, errlen);
out:
    lgj_free(root);
    return st;
}

int lg_config_to_json(const lg_config *c, char *buf, size_t buflen)
{
    char stitch[128] = "";
    if (c->stitch_at)
        snprintf(stitch, sizeof stitch, ",\"stitch_at\":%d,\"dim2\":%d,\"heads2\":%d,\"mlp2\":%d", c->stitch_at,
                 c->dim2, c->heads2, c->mlp2);
    return snprintf(buf, buflen,
                    "{\"arch\":\"vit\",\"img\":%d,\"in_chans\":%d,\"patch\":%d,\"dim\":%d,\"depth\":%d,"
                    "\"heads\":%d,\"mlp\":%d,\"classes\":%d,\"pool\":\"%s\"%s}",
                    c->img, c->in_chans, c->patch, c->dim, c->depth, c->heads, c->mlp, c->classes,
                    c->pool == LG_POOL_AVG ? "avg" : "token", stitch);
}

double lg_config_flops(const lg_config *c)
{
    double T = lg_config_tokens(c), Np = lg_config_patches(c), Dout = lg_config_out_dim(c);
    double flops = Np * c->dim * c->in_chans * c->patch * c->patch;
    for (int l = 0; l < c->depth; l++) {
        int d, h, m;
        lg_config_block(c, l, &d, &h, &m);
        double D = d, M = m;
        flops += T * D * 3 * D    /* qkv */
                 + 2 * T * T * D  /* QKᵀ and A·V over all heads */
                 + T * D * D      /* proj */
                 + 2 * T * D * M  /* fc1, fc2 */
                 + 2 * 5 * T * D; /* norm1, norm2 */
    }
    if (c->stitch_at) flops += T * (double)c->dim * c->dim2;
    /* The final norm sees every token with pool "token" (timm applies it
     * before taking the class token) and the pooled vector with "avg". */
    flops += 5 * Dout * (c->pool == LG_POOL_TOKEN ? T : 1);
    return flops + Dout * c->classes;
}

size_t lg_config_params(const lg_config *c)
{
    size_t D = (size_t)c->dim, T = (size_t)lg_config_tokens(c), Dout = (size_t)lg_config_out_dim(c);
    size_t n =
        D * (size_t)c->in_chans * (size_t)c->patch * (size_t)c->patch + D + (c->pool == LG_POOL_TOKEN ? D : 0) + T * D;
    for (int l = 0; l < c->depth; l++) {
        int d, h, m;
        lg_config_block(c, l, &d, &h, &m);
        size_t Db = (size_t)d, M = (size_t)m;
        n += 4 * Db + (3 * Db * Db + 3 * Db) + (Db * Db + Db) + (M * Db + M) + (Db * M + Db);
    }
    if (c->stitch_at) n += (size_t)c->dim2 * D + (size_t)c->dim2;
    return n + 2 * Dout + (size_t)c->classes * Dout + (size_t)c->classes;
}
