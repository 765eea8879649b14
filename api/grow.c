/* grow.c - from a request to a model: a pool's configurations, the budget
 * solver over every stored learngene and pool configuration, the model row
 * (its id is the sha256 of its canonical growth spec, so the same request
 * always names the same model), and building the model's weights from the
 * store (lga_grow_build, also used by the daemon's job runner).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_VARIANTS 512
#define MAX_SOURCES 1024

static int config_from_json_value(lg_config *c, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    int ok = text && lg_config_from_json(c, text, strlen(text), NULL, 0) == LG_OK;
    free(text);
    return ok ? 0 : -1;
}

int lga_pool_variants(const char *config_json, lga_variant *out, int max)
{
    json_t *inst = json_loads(config_json ? config_json : "", 0, NULL);
    if (!json_is_object(inst)) {
        json_decref(inst);
        return 0;
    }
    enum { MAXI = LG_GENEPOOL_MAX };
    lg_config cfg[MAXI];
    const char *names[MAXI];
    int n = 0, nv = 0;
    const char *key;
    json_t *val;
    json_object_foreach(inst, key, val)
    {
        if (n == MAXI || config_from_json_value(&cfg[n], val) != 0) break;
        names[n++] = key;
    }
    for (int i = 0; i < n && nv < max; i++, nv++) {
        snprintf(out[nv].name, sizeof out[nv].name, "%s", names[i]);
        out[nv].cfg = cfg[i];
    }
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            for (int k = 1; k < cfg[a].depth && nv < max; k++, nv++) {
                snprintf(out[nv].name, sizeof out[nv].name, "%s.%d.%s", names[a], k, names[b]);
                out[nv].cfg = cfg[a];
                out[nv].cfg.stitch_at = k;
                out[nv].cfg.dim2 = cfg[b].dim;
                out[nv].cfg.heads2 = cfg[b].heads;
                out[nv].cfg.mlp2 = cfg[b].mlp;
            }
    json_decref(inst);
    return nv;
}

json_t *lga_pool_variants_json(lgs_store *st, const lgs_gene_row *g)
{
    lga_variant *v = malloc(MAX_VARIANTS * sizeof *v);
    lgs_eval_row *ev = NULL;
    int nev = 0;
    if (!v) return NULL;
    int n = lga_pool_variants(g->config, v, MAX_VARIANTS);
    lgs_eval_list(st, g->id, &ev, &nev);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *acc = json_null();
        for (int e = 0; e < nev; e++)
            if (!strcmp(ev[e].variant, v[i].name)) {
                json_decref(acc);
                acc = json_real(ev[e].accuracy);
            }
        json_array_append_new(arr, json_pack("{s:s,s:i,s:f,s:I,s:o}", "variant", v[i].name, "depth", v[i].cfg.depth,
                                             "flops", lg_config_flops(&v[i].cfg), "params",
                                             (json_int_t)lg_config_params(&v[i].cfg), "accuracy", acc));
    }
    free(ev);
    free(v);
    return arr;
}

/* ------------------------------------------------------------- resolve */

/* One thing the solver may pick: a learngene (depth range) or one pool
 * configuration (its fixed depth). */
typedef struct {
    const lgs_gene_row *gene;
    char variant[96];
} candidate;

int lga_gene_depths(const lgs_gene_row *g, lg_config *base, int *lo, int *hi)
{
    json_t *meta = json_loads(g->meta ? g->meta : "{}", 0, NULL);
    const char *aux = json_string_value(json_object_get(meta, "aux_depth"));
    int a = aux ? atoi(aux) : 0;
    json_decref(meta);
    if (lg_config_from_json(base, g->config, strlen(g->config), NULL, 0) != LG_OK || a < 1) return -1;
    *lo = !strcmp(g->kind, "inherit") ? base->depth : 1;
    *hi = 2 * a < LG_MAX_DEPTH ? 2 * a : LG_MAX_DEPTH;
    return 0;
}

static const char *default_method(const char *kind) { return !strcmp(kind, "pool") ? "stitch" : kind; }

static lgs_status invalid(const char **field, const char *f, char *err, size_t errlen, const char *msg)
{
    *field = f;
    snprintf(err, errlen, "%s", msg);
    return LGS_ERR_INVALID;
}

/* Gathers candidates, their solver sources and evaluations. */
static int gather(lgs_gene_row *genes, int ng, candidate *cand, lg_solver_source *src, lga_variant *vbuf,
                  lgs_eval_row *ev, int nev, lg_solver_eval *sev, int *nsev, int classes)
{
    int n = 0;
    *nsev = 0;
    for (int i = 0; i < ng && n < MAX_SOURCES; i++) {
        if (!strcmp(genes[i].kind, "pool")) {
            int nv = lga_pool_variants(genes[i].config, vbuf, MAX_VARIANTS);
            for (int v = 0; v < nv && n < MAX_SOURCES; v++, n++) {
                cand[n].gene = &genes[i];
                snprintf(cand[n].variant, sizeof cand[n].variant, "%s", vbuf[v].name);
                src[n] = (lg_solver_source){genes[i].id, vbuf[v].cfg, vbuf[v].cfg.depth, vbuf[v].cfg.depth};
            }
        } else {
            cand[n].gene = &genes[i];
            cand[n].variant[0] = '\0';
            src[n].id = genes[i].id;
            if (lga_gene_depths(&genes[i], &src[n].base, &src[n].min_depth, &src[n].max_depth) == 0) n++;
        }
    }
    for (int i = 0; i < n; i++) {
        if (classes) src[i].base.classes = classes;
        for (int e = 0; e < nev; e++) {
            if (strcmp(ev[e].source, cand[i].gene->id)) continue;
            int d = 0;
            if (cand[i].variant[0] ? !strcmp(ev[e].variant, cand[i].variant)
                                   : sscanf(ev[e].variant, "depth=%d", &d) == 1)
                sev[(*nsev)++] = (lg_solver_eval){i, cand[i].variant[0] ? src[i].base.depth : d, ev[e].accuracy};
            if (*nsev == MAX_SOURCES) return n;
        }
    }
    return n;
}

/* Fills the row from the chosen source, depth and method. */
static lgs_status fill_row(lgs_model_row *out, const lgs_gene_row *g, const char *variant, const lg_config *base,
                           int depth, const char *method, uint64_t seed, char *err, size_t errlen)
{
    lg_config c = *base;
    c.depth = depth;
    if (lg_config_validate(&c, err, errlen) != LG_OK) return LGS_ERR_INVALID;
    char cfg[1024], spec[512];
    lg_config_to_json(&c, cfg, sizeof cfg);
    snprintf(spec, sizeof spec, "{\"source\":\"%s\",\"method\":\"%s\",\"depth\":%d,\"classes\":%d%s%s%s,\"seed\":%llu}",
             g->id, method, depth, c.classes, variant[0] ? ",\"variant\":\"" : "", variant, variant[0] ? "\"" : "",
             (unsigned long long)seed);
    out->spec = strdup(spec);
    out->config = strdup(cfg);
    if (!out->spec || !out->config) return LGS_ERR_NOMEM;
    lgs_sha256_hex(out->id, spec, strlen(spec));
    snprintf(out->source, sizeof out->source, "%s", g->id);
    snprintf(out->method, sizeof out->method, "%s", method);
    out->flops = lg_config_flops(&c);
    out->params = (int64_t)lg_config_params(&c);
    out->accuracy = NAN;
    return LGS_OK;
}

lgs_status lga_grow_resolve(lgs_store *st, const lga_grow_request *q, lgs_model_row *out, lga_grow_info *info,
                            const char **field, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    info->expected_accuracy = NAN;
    *field = NULL;
    lgs_gene_row *genes = NULL;
    lgs_eval_row *ev = NULL;
    int ng = 0, nev = 0, nsev = 0;
    candidate *cand = malloc(MAX_SOURCES * sizeof *cand);
    lg_solver_source *src = malloc(MAX_SOURCES * sizeof *src);
    lg_solver_eval *sev = malloc(MAX_SOURCES * sizeof *sev);
    lga_variant *vbuf = malloc(MAX_VARIANTS * sizeof *vbuf);
    lgs_status s = LGS_ERR_NOMEM;
    if (!cand || !src || !sev || !vbuf) goto out;
    if (q->from) {
        genes = calloc(1, sizeof *genes);
        if (!genes) goto out;
        if ((s = lgs_gene_get(st, q->from, genes)) != LGS_OK) {
            free(genes);
            genes = NULL;
            if (s == LGS_ERR_NOTFOUND) {
                *field = "from";
                snprintf(err, errlen, "no learngene or pool '%s'", q->from);
            }
            goto out;
        }
        ng = 1;
    } else if ((s = lgs_gene_list(st, NULL, &genes, &ng)) != LGS_OK) {
        goto out;
    }
    lgs_eval_list(st, NULL, &ev, &nev);
    int n = gather(genes, ng, cand, src, vbuf, ev, nev, sev, &nsev, q->classes);
    int pick = -1, depth = q->depth;
    if (q->variant) {
        for (int i = 0; i < n; i++)
            if (!strcmp(cand[i].variant, q->variant)) pick = i;
        if (pick < 0) {
            s = invalid(field, "variant", err, errlen, "the source has no such pool configuration");
            goto out;
        }
        depth = src[pick].base.depth;
    } else if (q->depth) {
        if (!q->from) {
            s = invalid(field, "from", err, errlen, "a model by depth needs \"from\" (a learngene id)");
            goto out;
        }
        if (n < 1 || cand[0].variant[0]) {
            s = invalid(field, "depth", err, errlen,
                        "a pool grows fixed configurations: ask by \"budget\" or name a \"variant\"");
            goto out;
        }
        if (q->depth < src[0].min_depth || q->depth > src[0].max_depth) {
            *field = "depth";
            snprintf(err, errlen, "this learngene grows depths %d to %d, not %d", src[0].min_depth, src[0].max_depth,
                     q->depth);
            s = LGS_ERR_INVALID;
            goto out;
        }
        pick = 0;
    } else {
        lg_solution sol;
        if (n == 0) {
            s = invalid(field, "from", err, errlen, "no learngene or pool is stored");
            goto out;
        }
        if (lg_solve(&sol, src, n, sev, nsev, &q->budget, err, errlen) != LG_OK) {
            s = LGS_ERR_CONFLICT;
            goto out;
        }
        pick = sol.source;
        depth = sol.depth;
        info->considered = sol.considered;
        info->expected_accuracy = sol.accuracy;
        snprintf(info->reason, sizeof info->reason, "%s", sol.reason);
    }
    const lgs_gene_row *g = cand[pick].gene;
    const char *method = q->init ? q->init : default_method(g->kind);
    if (strcmp(method, "scratch") && strcmp(method, default_method(g->kind))) {
        *field = "init";
        snprintf(err, errlen, "init \"%s\" does not apply to a %s source (use \"%s\" or \"scratch\")", method, g->kind,
                 default_method(g->kind));
        s = LGS_ERR_INVALID;
        goto out;
    }
    for (int e = 0; e < nsev && q->depth; e++)
        if (sev[e].source == pick && sev[e].depth == depth) info->expected_accuracy = sev[e].accuracy;
    s = fill_row(out, g, cand[pick].variant, &src[pick].base, depth, method, q->seed, err, errlen);
    if (s == LGS_ERR_INVALID) *field = q->classes ? "classes" : "depth";
out:
    for (int i = 0; i < ng; i++) lgs_gene_row_free(&genes[i]);
    free(genes);
    free(ev);
    free(cand);
    free(src);
    free(sev);
    free(vbuf);
    return s;
}

/* --------------------------------------------------------------- build */

/* A copy of m with `classes` classes: every tensor but the head copied,
 * the head freshly initialized from seed. */
static lgs_status rehead(lg_model **m, int classes, uint64_t seed, char *err, size_t errlen)
{
    lg_config c = *lg_model_config(*m);
    if (c.classes == classes) return LGS_OK;
    c.classes = classes;
    lg_model *n = NULL;
    if (lg_model_new(&n, &c, err, errlen) != LG_OK) return LGS_ERR_INVALID;
    lg_model_init(n, seed);
    int nt;
    const lg_tensor_info *t = lg_model_tensors(n, &nt);
    for (int i = 0; i < nt; i++) {
        const lg_tensor_info *o = lg_model_find(*m, t[i].name);
        if (o && o->numel == t[i].numel && strncmp(t[i].name, "head.", 5))
            memcpy(lg_model_params(n) + t[i].offset, lg_model_weights(*m) + o->offset, t[i].numel * sizeof(float));
    }
    lg_model_free(*m);
    *m = n;
    return LGS_OK;
}

static lgs_status build_from_source(const lg_st *st, const lgs_model_row *row, json_t *spec, lg_model **out, char *err,
                                    size_t errlen)
{
    int depth = (int)json_integer_value(json_object_get(spec, "depth"));
    int classes = (int)json_integer_value(json_object_get(spec, "classes"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(spec, "seed"));
    const char *variant = json_string_value(json_object_get(spec, "variant"));
    if (!strcmp(row->method, "scratch")) {
        lg_config c;
        if (lg_config_from_json(&c, row->config, strlen(row->config), err, errlen) != LG_OK ||
            lg_model_new(out, &c, err, errlen) != LG_OK)
            return LGS_ERR_INVALID;
        lg_model_init(*out, seed);
        return LGS_OK;
    }
    if (!strcmp(row->method, "stitch")) {
        lg_genepool p;
        if (!variant || lg_genepool_from_st(&p, st, err, errlen) != LG_OK) return LGS_ERR_INVALID;
        lg_genepool_cfg cfgs[MAX_VARIANTS];
        int n = lg_genepool_configs(&p, cfgs, MAX_VARIANTS), pick = -1;
        for (int i = 0; i < n && i < MAX_VARIANTS; i++) {
            char name[96];
            if (cfgs[i].at)
                snprintf(name, sizeof name, "%s.%d.%s", p.names[cfgs[i].from], cfgs[i].at, p.names[cfgs[i].to]);
            else
                snprintf(name, sizeof name, "%s", p.names[cfgs[i].from]);
            if (!strcmp(name, variant)) pick = i;
        }
        lgs_status s = LGS_ERR_INVALID;
        if (pick < 0)
            snprintf(err, errlen, "the pool has no configuration %s", variant);
        else if (lg_genepool_build(out, &p, &cfgs[pick], err, errlen) == LG_OK)
            s = rehead(out, classes, seed, err, errlen);
        lg_genepool_free(&p);
        return s;
    }
    lg_gene g;
    if (lg_gene_from_st(&g, st, err, errlen) != LG_OK) return LGS_ERR_INVALID;
    lgs_status s = lg_gene_expand(out, &g, depth, classes, seed, err, errlen) == LG_OK ? LGS_OK : LGS_ERR_INVALID;
    lg_gene_free(&g);
    return s;
}

lgs_status lga_grow_build(lgs_store *st, const lgs_model_row *row, lg_model **out, char *err, size_t errlen)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    lg_st *sf = NULL;
    json_t *spec = NULL;
    *out = NULL;
    lgs_status s =
        row->has_weights ? lgs_model_bytes(st, row->id, &bytes, &len) : lgs_gene_bytes(st, row->source, &bytes, &len);
    if (s != LGS_OK) {
        snprintf(err, errlen, "cannot read the %s of model %.12s: %s", row->has_weights ? "weights" : "source", row->id,
                 lgs_strerror(s));
        goto out;
    }
    s = LGS_ERR_INVALID;
    if (lg_st_parse(&sf, bytes, len, 0, err, errlen) != LG_OK) goto out;
    if (row->has_weights) {
        s = lg_model_from_st(out, sf, err, errlen) == LG_OK ? LGS_OK : LGS_ERR_INVALID;
        goto out;
    }
    spec = json_loads(row->spec ? row->spec : "", 0, NULL);
    if (!json_is_object(spec)) {
        snprintf(err, errlen, "model %.12s has no growth spec", row->id);
        goto out;
    }
    s = build_from_source(sf, row, spec, out, err, errlen);
out:
    json_decref(spec);
    lg_st_free(sf);
    free(bytes);
    return s;
}
