/* cmd_push.c - learngene push: uploads a learngene or a Learngene Pool file
 * to the daemon, which keeps one copy of any bytes. Calls remote.h and the
 * core (safetensors metadata) only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

enum { U_NAME = R_OWN };

static const char push_help[] =
    "usage: learngene push FILE.safetensors [--name NAME] [--json]\n"
    "Uploads a learngene (to /v1/learngenes) or a Learngene Pool (a file whose metadata\n"
    "has \"genepool\"; to /v1/pools) and prints its id; bytes the daemon already holds\n"
    "are not stored twice.\n"
    "  --name NAME        the name to list it under (default: the daemon's choice)\n" REMOTE_HELP;

/* NAME with everything but unreserved characters %-escaped. */
static void url_escape(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-._~", ch))
            out[k++] = (char)ch;
        else
            k += (size_t)snprintf(out + k, n - k, "%%%02X", ch);
    }
    out[k] = 0;
}

/* "learngenes" or "pools" for the file's bytes, or NULL after a message. */
static const char *push_collection(remote *r, const char *path, const unsigned char *buf, size_t len)
{
    lg_st *st = NULL;
    const char *coll = NULL;
    if (lg_st_parse(&st, buf, len, 0, r->err, sizeof r->err) != LG_OK)
        fprintf(stderr, "%s: %s is not a safetensors file: %s\n", r->who, path, r->err);
    else if (lg_st_meta(st, "genepool"))
        coll = "pools";
    else if (lg_st_meta(st, "learngene"))
        coll = "learngenes";
    else
        fprintf(stderr, "%s: %s is neither a learngene nor a pool (no \"learngene\" or \"genepool\" metadata)\n",
                r->who, path);
    lg_st_free(st);
    return coll;
}

int cmd_push(int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, 0, U_NAME}, REMOTE_OPTIONS, {0, 0, 0, 0}};
    remote r = {.who = "learngene push"};
    const char *name = NULL;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (remote_option(&r, c, optarg)) continue;
        if (c != U_NAME) return remote_help_or_usage(c, push_help);
        name = optarg;
    }
    if (argc - optind != 1) return remote_usage_error(r.who, "give one FILE.safetensors");
    if (name && strlen(name) > 200) return remote_usage_error(r.who, "--name is longer than 200 characters");
    const char *file = argv[optind], *coll;
    unsigned char *buf = NULL;
    size_t len;
    if (remote_read_file(file, &buf, &len, r.err, sizeof r.err)) {
        fprintf(stderr, "%s: %s\n", r.who, r.err);
        return CLI_FAIL;
    }
    if (!(coll = push_collection(&r, file, buf, len))) {
        free(buf);
        return CLI_FAIL;
    }
    if ((rc = remote_connect(&r))) {
        free(buf);
        return rc;
    }
    char path[1200], esc[1024] = "";
    if (name) url_escape(esc, sizeof esc, name);
    snprintf(path, sizeof path, "/v1/%s%s%s", coll, name ? "?name=" : "", esc);
    json_t *obj = NULL;
    long status = 0;
    rc = remote_call_raw(&r, path, "application/octet-stream", buf, len, &obj, &status);
    free(buf);
    const char *kind = !strcmp(coll, "pools") ? "pool" : "learngene";
    if (!rc && r.json) {
        json_t *j = json_pack("{s:b,s:O}", "stored", status == 201, kind, obj);
        remote_print_json(j, 0);
        json_decref(j);
    } else if (!rc)
        printf("%s %s %s (%s, %s)\n", status == 201 ? "stored" : "already stored:", kind, jstr(obj, "id"),
               jstr(obj, "name"), jstr(obj, "kind"));
    json_decref(obj);
    lgc_conn_free(&r.conn);
    return rc;
}
