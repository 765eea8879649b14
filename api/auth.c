/* auth.c - bearer tokens (auth.h): the tokens file parsed into hashes and
 * scopes, and the check of a request's secret against them. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "store.h"

#define TOKENS_MAX 4096
#define NAME_MAX_LEN 64

typedef struct {
    unsigned char hash[32];
    lga_scope scope;
    char name[NAME_MAX_LEN];
} token;

struct lga_tokens {
    int n;
    token *t;
};

const char *lga_scope_name(lga_scope s)
{
    return s == LGA_SCOPE_WRITE ? "write" : s == LGA_SCOPE_READ ? "read" : "none";
}

static int unhex(const char *s, unsigned char out[32])
{
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + j];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* One line: SCOPE HASH [NAME]; 0 ok, 1 blank/comment, -1 error (msg). */
static int parse_line(char *line, token *t, char *msg, size_t msglen)
{
    char *save = NULL, *scope = strtok_r(line, " \t\r", &save);
    if (!scope || scope[0] == '#' || scope[0] == ';') return 1;
    char *hash = strtok_r(NULL, " \t\r", &save), *name = strtok_r(NULL, " \t\r", &save);
    if (!strcmp(scope, "read"))
        t->scope = LGA_SCOPE_READ;
    else if (!strcmp(scope, "write"))
        t->scope = LGA_SCOPE_WRITE;
    else {
        snprintf(msg, msglen, "the scope must be read or write, not '%.32s'", scope);
        return -1;
    }
    if (!hash || strlen(hash) != 64 || unhex(hash, t->hash) != 0) {
        snprintf(msg, msglen, "expected the sha256 of the token as 64 lowercase hex digits after the scope");
        return -1;
    }
    if (strtok_r(NULL, " \t\r", &save)) {
        snprintf(msg, msglen, "expected SCOPE SHA256 [NAME]: too many fields");
        return -1;
    }
    snprintf(t->name, sizeof t->name, "%s", name ? name : "unnamed");
    return 0;
}

int lga_tokens_parse(lga_tokens **out, const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    *out = NULL;
    lga_tokens *set = calloc(1, sizeof *set);
    char *copy = malloc(len + 1);
    if (!set || !copy) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte", name);
        goto fail;
    }
    int lineno = 0;
    /* line by line, blank ones counted (strtok would merge them) */
    for (char *line = copy, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        token t;
        char msg[160];
        int rc = parse_line(line, &t, msg, sizeof msg);
        if (rc == 1) continue;
        if (rc < 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
            goto fail;
        }
        if (set->n == TOKENS_MAX) {
            snprintf(err, errlen, "%s:%d: more than %d tokens", name, lineno, TOKENS_MAX);
            goto fail;
        }
        token *grown = realloc(set->t, (size_t)(set->n + 1) * sizeof *grown);
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        set->t = grown;
        set->t[set->n++] = t;
    }
    free(copy);
    *out = set;
    return 0;
fail:
    free(copy);
    lga_tokens_free(set);
    return -1;
}

int lga_tokens_load(lga_tokens **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open tokens_file %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char buf[4096];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + got > (size_t)1 << 20) {
            fclose(f);
            free(text);
            snprintf(err, errlen, "tokens_file %s is over 1 MiB", path);
            return -1;
        }
        if (len + got > cap) {
            cap = (len + got) * 2;
            char *p = realloc(text, cap);
            if (!p) break;
            text = p;
        }
        memcpy(text + len, buf, got);
        len += got;
    }
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? -1 : lga_tokens_parse(out, text ? text : "", len, path, err, errlen);
    if (bad) snprintf(err, errlen, "cannot read tokens_file %s", path);
    free(text);
    return rc;
}

void lga_tokens_free(lga_tokens *t)
{
    if (!t) return;
    free(t->t);
    free(t);
}

int lga_tokens_count(const lga_tokens *t) { return t ? t->n : 0; }

lga_scope lga_tokens_check(const lga_tokens *t, const char *secret, size_t len, const char **name)
{
    if (!t || !secret) return LGA_SCOPE_NONE;
    char hex[65];
    unsigned char h[32];
    lgs_sha256_hex(hex, secret, len);
    unhex(hex, h);
    lga_scope found = LGA_SCOPE_NONE;
    for (int i = 0; i < t->n; i++) {
        unsigned diff = 0;
        for (int k = 0; k < 32; k++) diff |= (unsigned)(t->t[i].hash[k] ^ h[k]);
        if (diff == 0) {
            found = t->t[i].scope;
            if (name) *name = t->t[i].name;
        }
    }
    return found;
}

const char *lga_bearer(const char *authorization, size_t *len)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7)) return NULL;
    const char *s = authorization + 7;
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || n > 512) return NULL;
    *len = n;
    return s;
}
