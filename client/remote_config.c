/* remote_config.c - where the daemon is and which token to send (http.h
 * lgc_conn_init): the --url/--token flags, LEARNGENE_URL/LEARNGENE_TOKEN,
 * then the `url = …` / `token = …` lines of the config file, checked and
 * normalized. Sets libcurl's global state up and down. Calls libcurl
 * (global init only); prints only warnings about the config file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http_internal.h"

char *lgc_trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* $XDG_CONFIG_HOME/learngene/config, else ~/.config/learngene/config. */
static void config_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, n, "%s/learngene/config", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.config/learngene/config", home);
    else
        buf[0] = 0;
}

/* `url = …` and `token = …` lines (values optionally quoted; # comments).
 * A missing file is no error. */
static lgc_status config_read(const char *path, char *url, size_t urln, char *token, size_t tokn, char *err,
                              size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) return LGC_OK;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return LGC_ERR_CONFIG;
    }
    char line[2048];
    lgc_status s = LGC_OK;
    for (int lineno = 1; s == LGC_OK && fgets(line, sizeof line, f); lineno++) {
        char *l = lgc_trim(line), *eq = strchr(l, '=');
        if (!*l || *l == '#' || *l == ';') continue;
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'url = …' or 'token = …', got '%.60s'", path, lineno, l);
            s = LGC_ERR_CONFIG;
            break;
        }
        *eq = 0;
        char *key = lgc_trim(l), *val = lgc_trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) val[vl - 1] = 0, val++;
        if (!strcmp(key, "url"))
            snprintf(url, urln, "%s", val);
        else if (!strcmp(key, "token"))
            snprintf(token, tokn, "%s", val);
        else
            fprintf(stderr, "learngene: %s:%d: unknown key '%s' ignored (known: url, token)\n", path, lineno, key);
    }
    fclose(f);
    return s;
}

/* http(s)://host[:port][/prefix] without a trailing slash; a bare
 * host:port gets http://. */
static lgc_status set_url(lgc_conn *c, const char *url, char *err, size_t errlen)
{
    const char *sep = strstr(url, "://");
    int n = snprintf(c->url, sizeof c->url, "%s%s", sep ? "" : "http://", url);
    if (n < 0 || (size_t)n >= sizeof c->url) {
        snprintf(err, errlen, "the URL is longer than %zu characters", sizeof c->url - 1);
        return LGC_ERR_CONFIG;
    }
    if (sep && strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
        snprintf(err, errlen, "URL '%s' is not http:// or https://", url);
        return LGC_ERR_CONFIG;
    }
    for (const char *p = c->url; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
            snprintf(err, errlen, "URL '%s' contains blanks or control characters", url);
            return LGC_ERR_CONFIG;
        }
    size_t len = strlen(c->url);
    while (len && c->url[len - 1] == '/') c->url[--len] = 0;
    return LGC_OK;
}

static lgc_status set_token(lgc_conn *c, const char *token, char *err, size_t errlen)
{
    if (strlen(token) >= sizeof c->token) {
        snprintf(err, errlen, "the token is longer than %zu characters", sizeof c->token - 1);
        return LGC_ERR_CONFIG;
    }
    for (const char *p = token; *p; p++)
        if (!isgraph((unsigned char)*p)) {
            snprintf(err, errlen, "the token contains blanks or control characters");
            return LGC_ERR_CONFIG;
        }
    snprintf(c->token, sizeof c->token, "%s", token);
    return LGC_OK;
}

lgc_status lgc_conn_init(lgc_conn *c, const char *url_flag, const char *token_flag, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char file_url[1024] = "", file_token[1024] = "";
    const char *url = url_flag && *url_flag ? url_flag : getenv("LEARNGENE_URL");
    const char *token = token_flag ? token_flag : getenv("LEARNGENE_TOKEN");
    if (!url || !*url || !token) {
        config_path(c->config_path, sizeof c->config_path);
        if (c->config_path[0] &&
            config_read(c->config_path, file_url, sizeof file_url, file_token, sizeof file_token, err, errlen))
            return LGC_ERR_CONFIG;
        if (!url || !*url) url = file_url[0] ? file_url : LGC_DEFAULT_URL;
        if (!token) token = file_token;
    }
    lgc_status s = set_url(c, url, err, errlen);
    if (s == LGC_OK) s = set_token(c, token, err, errlen);
    if (s == LGC_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl failed to initialize");
        s = LGC_ERR_NET;
    }
    c->curl_ready = s == LGC_OK;
    return s;
}

void lgc_conn_free(lgc_conn *c)
{
    if (c && c->curl_ready) curl_global_cleanup();
    if (c) c->curl_ready = 0;
}
