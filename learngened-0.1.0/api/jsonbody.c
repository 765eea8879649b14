/* jsonbody.c - strict JSON request bodies on top of jansson: the depth
 * pre-scan, parsing with duplicate keys refused, unknown-key checks, typed
 * getters, numeric arrays into floats, and the {"error":{…}} body.
 *
 * Messages always start with the field they blame and say what was
 * expected; text quoted from a body is made valid UTF-8 ('?' for bad
 * bytes) so it can go back to the client in JSON. Calls libc and jansson.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbody.h"

/* ------------------------------------------------------------ errors */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), 0 when none
 * starts there (stray or cut-off bytes, overlongs, surrogates). */
static int jb_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    int n;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* beyond U+10FFFF */
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* Replaces every byte that is not part of a well-formed UTF-8 sequence
 * (including a sequence cut short by truncation) with '?', in place. */
static void jb_utf8_fix(char *str)
{
    unsigned char *s = (unsigned char *)str;
    while (*s) {
        int n = jb_utf8_len(s);
        if (n == 0) {
            *s++ = '?';
            continue;
        }
        s += n;
    }
}

static int jb_fail(lga_json_error *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jb_fail(lga_json_error *e, const char *field, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    jb_utf8_fix(e->message);
    jb_utf8_fix(e->field);
    return -1;
}

/* "prefix.key" or "key" into buf. */
static const char *jb_field(char *buf, size_t n, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        snprintf(buf, n, "%s.%s", prefix, key);
    else
        snprintf(buf, n, "%s", key);
    return buf;
}

/* "a string", "an array", … for messages. */
static const char *jb_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a JSON value";
}

/* ------------------------------------------------------------ parsing */

/* Walks the bytes tracking strings: fails when brackets nest deeper than
 * LGA_JSON_MAX_DEPTH (jansson recurses per level, so this protects the
 * stack before it runs). *blank = 1 when every byte is JSON whitespace. */
static int jb_prescan(const unsigned char *p, size_t len, int *blank, lga_json_error *e)
{
    int depth = 0, in_str = 0, esc = 0, line = 1, col = 0;
    *blank = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '\n') {
            line++;
            col = 0;
        } else if ((c & 0xC0) != 0x80) { /* columns count characters */
            col++;
        }
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') *blank = 0;
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > LGA_JSON_MAX_DEPTH)
                return jb_fail(e, "body", "body nests deeper than %d levels (line %d, column %d)", LGA_JSON_MAX_DEPTH,
                               line, col);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* The string token ending just before byte end (jansson's position after a
 * duplicate key), decoded, and the nesting depth it sits at; NULL when no
 * string ends there. */
static json_t *jb_key_ending_at(const unsigned char *p, size_t end, int *depth)
{
    int in_str = 0, esc = 0, d = 0;
    size_t start = 0;
    for (size_t i = 0; i < end; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"') {
                in_str = 0;
                if (i + 1 == end) {
                    *depth = d;
                    return json_loadb((const char *)p + start, end - start, JSON_DECODE_ANY, NULL);
                }
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
            start = i;
        } else if (c == '[' || c == '{') {
            d++;
        } else if ((c == ']' || c == '}') && d > 0) {
            d--;
        }
    }
    return NULL;
}

json_t *lga_json_parse_object(const void *body, size_t len, lga_json_error *e)
{
    const unsigned char *p = body;
    json_error_t jerr;
    int blank;

    if (!body || len == 0) {
        jb_fail(e, "body", "body is empty");
        return NULL;
    }
    if (jb_prescan(p, len, &blank, e) != 0) return NULL;
    if (blank) {
        jb_fail(e, "body", "body is empty");
        return NULL;
    }

    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key && jerr.position > 0 && (size_t)jerr.position <= len) {
            int depth = 0;
            json_t *key = jb_key_ending_at(p, (size_t)jerr.position, &depth);
            if (json_is_string(key)) {
                const char *k = json_string_value(key);
                jb_fail(e, depth == 1 ? k : "body", "duplicate key \"%s\" (line %d, column %d)", k, jerr.line,
                        jerr.column);
                json_decref(key);
                return NULL;
            }
            json_decref(key);
        }
        jb_fail(e, "body", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        jb_fail(e, "body", "body must be a JSON object, not %s", jb_type(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

int lga_json_only_keys(const json_t *obj, const char *const *allowed, const char *prefix, lga_json_error *e)
{
    char field[128];
    const char *key;
    json_t *value;

    if (!json_is_object(obj))
        return jb_fail(e, prefix ? prefix : "body", "%s must be an object, not %s", prefix ? prefix : "body",
                       obj ? jb_type(obj) : "missing");
    json_object_foreach((json_t *)obj, key, value)
    {
        int known = 0;
        for (const char *const *a = allowed; a && *a && !known; a++) known = strcmp(*a, key) == 0;
        if (!known) {
            jb_field(field, sizeof field, prefix, key);
            return jb_fail(e, field, "unknown field \"%s\"", field);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ getters */

/* obj[key] into *v (NULL when absent); fails when obj is not an object. */
static int jb_lookup(const json_t *obj, const char *key, const char *prefix, json_t **v, int *present,
                     lga_json_error *e)
{
    if (present) *present = 0;
    *v = NULL;
    if (!json_is_object(obj))
        return jb_fail(e, prefix ? prefix : "body", "%s must be an object, not %s", prefix ? prefix : "body",
                       obj ? jb_type(obj) : "missing");
    *v = json_object_get(obj, key);
    return 0;
}

int lga_json_get_int(const json_t *obj, const char *key, long min, long max, long *out, int *present,
                     const char *prefix, lga_json_error *e)
{
    char field[128], want[96];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (min != LONG_MIN && max != LONG_MAX)
        snprintf(want, sizeof want, "an integer from %ld to %ld", min, max);
    else if (min != LONG_MIN)
        snprintf(want, sizeof want, "an integer of at least %ld", min);
    else if (max != LONG_MAX)
        snprintf(want, sizeof want, "an integer of at most %ld", max);
    else
        snprintf(want, sizeof want, "an integer");

    if (json_is_real(v)) {
        double x = json_real_value(v); /* 6.0 reads "not 6.0", not "not 6" */
        return jb_fail(e, field, x == floor(x) && fabs(x) < 1e15 ? "%s must be %s, not %.1f" : "%s must be %s, not %g",
                       field, want, x);
    }
    if (!json_is_integer(v)) return jb_fail(e, field, "%s must be %s, not %s", field, want, jb_type(v));
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)min || x > (json_int_t)max)
        return jb_fail(e, field, "%s must be %s, not %" JSON_INTEGER_FORMAT, field, want, x);
    *out = (long)x;
    if (present) *present = 1;
    return 0;
}

int lga_json_get_number(const json_t *obj, const char *key, double min, double max, double *out, int *present,
                        const char *prefix, lga_json_error *e)
{
    char field[128], want[96];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (isfinite(min) && isfinite(max))
        snprintf(want, sizeof want, "a number from %g to %g", min, max);
    else if (isfinite(min))
        snprintf(want, sizeof want, "a number of at least %g", min);
    else if (isfinite(max))
        snprintf(want, sizeof want, "a number of at most %g", max);
    else
        snprintf(want, sizeof want, "a finite number");

    if (!json_is_number(v)) return jb_fail(e, field, "%s must be %s, not %s", field, want, jb_type(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < min || x > max) return jb_fail(e, field, "%s must be %s, not %g", field, want, x);
    *out = x;
    if (present) *present = 1;
    return 0;
}

int lga_json_get_string(const json_t *obj, const char *key, size_t maxlen, const char **out, int *present,
                        const char *prefix, lga_json_error *e)
{
    char field[128];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (!json_is_string(v)) {
        if (maxlen)
            return jb_fail(e, field, "%s must be a string of at most %zu bytes, not %s", field, maxlen, jb_type(v));
        return jb_fail(e, field, "%s must be a string, not %s", field, jb_type(v));
    }
    size_t n = json_string_length(v);
    if (maxlen && n > maxlen)
        return jb_fail(e, field, "%s must be a string of at most %zu bytes, not one of %zu", field, maxlen, n);
    *out = json_string_value(v);
    if (present) *present = 1;
    return 0;
}

int lga_json_get_bool(const json_t *obj, const char *key, int *out, int *present, const char *prefix, lga_json_error *e)
{
    char field[128];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (!json_is_boolean(v)) return jb_fail(e, field, "%s must be true or false, not %s", field, jb_type(v));
    *out = json_is_true(v);
    if (present) *present = 1;
    return 0;
}

int lga_json_get_object(const json_t *obj, const char *key, json_t **out, int *present, const char *prefix,
                        lga_json_error *e)
{
    char field[128];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (!json_is_object(v)) return jb_fail(e, field, "%s must be an object, not %s", field, jb_type(v));
    *out = v;
    if (present) *present = 1;
    return 0;
}

int lga_json_get_array(const json_t *obj, const char *key, size_t max_items, json_t **out, int *present,
                       const char *prefix, lga_json_error *e)
{
    char field[128];
    json_t *v;

    if (jb_lookup(obj, key, prefix, &v, present, e) != 0) return -1;
    if (!v) return 0;
    jb_field(field, sizeof field, prefix, key);
    if (!json_is_array(v)) {
        if (max_items)
            return jb_fail(e, field, "%s must be an array of at most %zu items, not %s", field, max_items, jb_type(v));
        return jb_fail(e, field, "%s must be an array, not %s", field, jb_type(v));
    }
    size_t n = json_array_size(v);
    if (max_items && n > max_items)
        return jb_fail(e, field, "%s must be an array of at most %zu items, not one of %zu", field, max_items, n);
    *out = v;
    if (present) *present = 1;
    return 0;
}

/* ------------------------------------------------------------ floats */

typedef struct {
    float *out;
    size_t max, n;
    const char *field;
    lga_json_error *e;
    size_t idx[LGA_JSON_MAX_DEPTH];         /* the element being read, per level */
    size_t dims[LGA_JSON_MAX_DEPTH];        /* array length per level */
    unsigned char seen[LGA_JSON_MAX_DEPTH]; /* dims[level] is set */
    int leaf_depth;                         /* arrays around the first number, -1 before */
    int max_level;                          /* deepest array level seen */
    int regular;
} jb_floats;

/* "images[2][5]": the element at idx[0..levels). */
static const char *jb_floats_path(const jb_floats *f, int levels, char *buf, size_t n)
{
    size_t at = (size_t)snprintf(buf, n, "%s", f->field);
    for (int i = 0; i < levels && at < n; i++) at += (size_t)snprintf(buf + at, n - at, "[%zu]", f->idx[i]);
    return buf;
}

static int jb_floats_walk(jb_floats *f, const json_t *a, int level)
{
    char path[160];

    if (level >= LGA_JSON_MAX_DEPTH)
        return jb_fail(f->e, f->field, "%s nests deeper than %d levels", f->field, LGA_JSON_MAX_DEPTH);
    size_t len = json_array_size(a);
    if (level > f->max_level) f->max_level = level;
    if (!f->seen[level]) {
        f->seen[level] = 1;
        f->dims[level] = len;
    } else if (f->dims[level] != len) {
        f->regular = 0;
    }
    for (size_t i = 0; i < len; i++) {
        const json_t *v = json_array_get(a, i);
        f->idx[level] = i;
        if (json_is_array(v)) {
            if (jb_floats_walk(f, v, level + 1) != 0) return -1;
            continue;
        }
        if (!json_is_number(v))
            return jb_fail(f->e, f->field, "%s must be a number, not %s",
                           jb_floats_path(f, level + 1, path, sizeof path), jb_type(v));
        double x = json_number_value(v);
        if (!isfinite(x) || fabs(x) > FLT_MAX)
            return jb_fail(f->e, f->field, "%s must be a finite number within float range, not %g",
                           jb_floats_path(f, level + 1, path, sizeof path), x);
        if (f->leaf_depth < 0)
            f->leaf_depth = level + 1;
        else if (f->leaf_depth != level + 1)
            f->regular = 0;
        if (f->n >= f->max) return jb_fail(f->e, f->field, "%s has more than %zu values", f->field, f->max);
        if (f->out) f->out[f->n] = (float)x;
        f->n++;
    }
    return 0;
}

int lga_json_floats_shape(const json_t *arr, float *out, size_t max_values, size_t *count, size_t shape[4], int *ndim,
                          const char *field, lga_json_error *e)
{
    jb_floats f;

    if (count) *count = 0;
    if (ndim) *ndim = -1;
    if (!field) field = "values";
    if (!json_is_array(arr))
        return jb_fail(e, field, "%s must be an array of numbers, not %s", field, arr ? jb_type(arr) : "missing");
    memset(&f, 0, sizeof f);
    f.out = out;
    f.max = max_values;
    f.field = field;
    f.e = e;
    f.leaf_depth = -1;
    f.max_level = -1;
    f.regular = 1;
    if (jb_floats_walk(&f, arr, 0) != 0) return -1;
    if (count) *count = f.n;

    int nd = f.max_level + 1;
    if (f.leaf_depth >= 0 && f.leaf_depth != nd) f.regular = 0;
    if (shape && ndim && f.regular && nd <= 4) {
        *ndim = nd;
        for (int i = 0; i < 4; i++) shape[i] = i < nd ? f.dims[i] : 0;
    }
    return 0;
}

int lga_json_floats(const json_t *arr, float *out, size_t max_values, size_t *count, const char *field,
                    lga_json_error *e)
{
    return lga_json_floats_shape(arr, out, max_values, count, NULL, NULL, field, e);
}

/* ------------------------------------------------------------ error body */

/* A json string of s with bad UTF-8 replaced; NULL when out of memory. */
static json_t *jb_string_fixed(const char *s)
{
    json_t *j = json_string(s);
    if (j) return j;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    memcpy(copy, s, n + 1);
    jb_utf8_fix(copy);
    j = json_string(copy);
    free(copy);
    return j;
}

json_t *lga_json_error_body(const char *code, const char *message, const char *field)
{
    json_t *err = json_object(), *root = json_object();
    if (!err || !root) goto fail;
    if (json_object_set_new(err, "code", jb_string_fixed(code ? code : "internal")) != 0) goto fail;
    if (json_object_set_new(err, "message", jb_string_fixed(message ? message : "")) != 0) goto fail;
    if (field && *field && json_object_set_new(err, "field", jb_string_fixed(field)) != 0) goto fail;
    if (json_object_set_new(root, "error", err) != 0) {
        err = NULL; /* set_new took it */
        goto fail;
    }
    return root;
fail:
    json_decref(err);
    json_decref(root);
    return NULL;
}
