/* cmd_get.c - learngene get: grows a model on the daemon (grow.c) or names
 * one, and downloads it resumably with its sha256 checked (lgc_download).
 * Calls remote.h and http.h only. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "remote.h"

enum { GET_CLASSES = G_OWN, GET_DTYPE };

static const char get_help[] =
    "usage: learngene get [SOURCE] (--depth N | --budget N | --flops N --params N | --variant V) -o FILE\n"
    "       learngene get MODEL -o FILE\n"
    "Grows a model on the daemon from SOURCE (a learngene or pool id or name) and\n"
    "downloads it as safetensors, or downloads the model MODEL. The download goes to\n"
    "FILE.part first and resumes where an interrupted one stopped; the whole file's\n"
    "sha256 is checked against the daemon's before FILE.part becomes FILE. A progress\n"
    "bar is drawn on stderr when it is a terminal.\n"
    "  -o, --out FILE     where to write the model (required)\n" GROW_HELP
    "  --classes K        classes of the grown model (default: the source's)\n"
    "  --dtype D          f32 | f16 | bf16 | int8 (default f32)\n" REMOTE_HELP;

static int parse_dtype(const char *s, const char **out)
{
    static const char *const names[] = {"f32", "f16", "bf16", "int8"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i])) {
            *out = names[i];
            return 0;
        }
    fprintf(stderr, "learngene: --dtype must be f32, f16, bf16 or int8, got '%s'\n", s);
    return -1;
}

/* LEARNGENE_RATE_LIMIT (bytes per second, undocumented): lets the tests
 * slow a download down enough to interrupt it. */
static long long rate_limit(void)
{
    const char *s = getenv("LEARNGENE_RATE_LIMIT");
    char *end;
    long long v = s && *s ? strtoll(s, &end, 10) : 0;
    return v > 0 && !*end ? v : 0;
}

/* Downloads model id to out and reports it. */
static int get_download(remote *r, json_t *model, const char *dtype, const char *out)
{
    char path[256], size[16];
    lgc_dl_result res;
    lgc_dl_opts o = {.notices = stderr, .progress = isatty(2), .rate_limit = rate_limit(), .who = r->who};
    snprintf(path, sizeof path, "/v1/models/%.64s/weights?dtype=%s", jstr(model, "id"), dtype);
    lgc_status s = lgc_download(&r->conn, path, out, &o, &res, r->err, sizeof r->err);
    if (s != LGC_OK) return remote_fail(r, s, res.status);
    if (r->json) {
        json_t *j = json_pack("{s:O,s:s,s:s,s:I,s:s,s:I}", "model", model, "file", out, "dtype", dtype, "size",
                              (json_int_t)res.size, "sha256", res.sha256, "resumed_from", (json_int_t)res.resumed_from);
        remote_print_json(j, 0);
        json_decref(j);
        return CLI_OK;
    }
    fmt_human(size, sizeof size, (double)res.size);
    printf("wrote     %s (%sB, %s)\nsha256    %s (verified)\n", out, size, dtype, res.sha256);
    if (res.resumed_from) printf("resumed   at byte %lld\n", res.resumed_from);
    return CLI_OK;
}

int cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {GROW_OPTIONS,
                                         {"classes", required_argument, 0, GET_CLASSES},
                                         {"dtype", required_argument, 0, GET_DTYPE},
                                         {"out", required_argument, 0, 'o'},
                                         REMOTE_OPTIONS,
                                         {0, 0, 0, 0}};
    remote r = {.who = "learngene get"};
    grow_req g = {0};
    const char *out = NULL, *dtype = "f32";
    int c, v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (remote_option(&r, c, optarg)) continue;
        if ((v = grow_option(&g, c, optarg))) {
            if (v < 0) return CLI_USAGE;
            continue;
        }
        switch (c) {
        case 'o': out = optarg; break;
        case GET_CLASSES:
            if (cli_long("--classes", optarg, 1, LG_MAX_CLASSES, &g.classes)) return CLI_USAGE;
            break;
        case GET_DTYPE:
            if (parse_dtype(optarg, &dtype)) return CLI_USAGE;
            break;
        default: return remote_help_or_usage(c, get_help);
        }
    }
    const char *arg = optind < argc ? argv[optind] : NULL;
    int grow = grow_wanted(&g), rc;
    if (argc - optind > 1) return remote_usage_error(r.who, "one SOURCE or MODEL at most");
    if (!out) return remote_usage_error(r.who, "-o FILE is required");
    if (grow && (rc = grow_check(&g, r.who, arg))) return rc;
    if (!grow && !arg)
        return remote_usage_error(r.who, "give a MODEL id, or --depth, --budget or --variant to grow one");
    if (!grow && (g.classes || g.init || g.has_seed))
        return remote_usage_error(r.who, "--classes, --init and --seed only apply when growing a model");
    if (!grow && !remote_is_hex(arg, 1))
        return remote_usage_error(r.who, "MODEL must be a model id (hex), got '%s'", arg);
    if ((rc = remote_connect(&r))) return rc;
    char from[80];
    json_t *model = NULL, *body = NULL;
    if (grow) {
        if (!arg || !(rc = remote_resolve(&r, arg, grow_sources, "learngene or pool named", from, sizeof from))) {
            body = grow_body(&g, arg ? from : NULL);
            rc = remote_call_json(&r, "POST", body, &model, NULL, "/v1/models");
        }
    } else
        rc = remote_call_json(&r, "GET", NULL, &model, NULL, "/v1/models/%s", arg);
    if (rc == CLI_OK && grow && !r.json) grow_print_model(model);
    if (rc == CLI_OK) rc = get_download(&r, model, dtype, out);
    json_decref(body);
    json_decref(model);
    lgc_conn_free(&r.conn);
    return rc;
}
