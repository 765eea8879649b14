/* jsonbody.h - strict JSON request bodies: parsing (objects only, no
 * duplicate keys, nesting capped before jansson sees the bytes), checking
 * for unknown keys, typed getters with range checks, numeric arrays into
 * floats, and the error body of docs/api.md. Every failure fills an
 * lga_json_error whose message names the field and what was expected.
 * Pure C + jansson, no libmicrohttpd.
 *
 * Functions returning int answer 0 (ok) or -1 (error, e filled; e may be
 * NULL). Field names are "key", or "prefix.key" when prefix is not NULL.
 */
#ifndef LGA_JSONBODY_H
#define LGA_JSONBODY_H

#include <stddef.h>

#include <jansson.h>

#define LGA_JSON_MAX_DEPTH 32 /* nested objects/arrays, the top level included */

typedef struct {
    char message[256]; /* for a person: what was wrong and where */
    char field[128];   /* the input to blame ("body", "budget.flops"), or "" */
} lga_json_error;

/* Parses body (len bytes, not NUL-terminated) as a JSON object, with
 * duplicate keys rejected (field: the key) and at most LGA_JSON_MAX_DEPTH
 * levels (field "body"). An empty or all-whitespace body is "body is empty";
 * any other top level than an object is "body must be a JSON object".
 * Syntax errors carry jansson's line and column. Returns a new reference,
 * or NULL with e filled. */
json_t *lga_json_parse_object(const void *body, size_t len, lga_json_error *e);

/* Fails on the first key of obj (in document order) not in allowed
 * (NULL-terminated); the field is that key. */
int lga_json_only_keys(const json_t *obj, const char *const *allowed, const char *prefix, lga_json_error *e);

/* Typed getters. An absent key sets *present = 0 (present may be NULL) and
 * succeeds, leaving *out alone; a present one sets *present = 1 and *out.
 * null is a wrong type like any other.
 * - int: a JSON integer (no fraction or exponent) in [min, max]; LONG_MIN /
 *   LONG_MAX mean no bound on that side.
 * - number: integer or real in [min, max] (-HUGE_VAL / HUGE_VAL: no bound);
 *   NaN and infinities are refused.
 * - string: at most maxlen bytes (0: no limit); *out is borrowed from obj.
 * - object, array: borrowed; array at most max_items items (0: no limit). */
int lga_json_get_int(const json_t *obj, const char *key, long min, long max, long *out, int *present,
                     const char *prefix, lga_json_error *e);
int lga_json_get_number(const json_t *obj, const char *key, double min, double max, double *out, int *present,
                        const char *prefix, lga_json_error *e);
int lga_json_get_string(const json_t *obj, const char *key, size_t maxlen, const char **out, int *present,
                        const char *prefix, lga_json_error *e);
int lga_json_get_bool(const json_t *obj, const char *key, int *out, int *present, const char *prefix,
                      lga_json_error *e);
int lga_json_get_object(const json_t *obj, const char *key, json_t **out, int *present, const char *prefix,
                        lga_json_error *e);
int lga_json_get_array(const json_t *obj, const char *key, size_t max_items, json_t **out, int *present,
                       const char *prefix, lga_json_error *e);

/* Reads a numeric array of any nesting (up to LGA_JSON_MAX_DEPTH) in
 * document order into out (may be NULL to count only), at most max_values
 * leaves; *count gets the number of leaves. Refuses non-numbers, NaN,
 * infinities and values beyond float range; messages name the element
 * ("images[2][5] must be a number, not a string"), the field is field. */
int lga_json_floats(const json_t *arr, float *out, size_t max_values, size_t *count, const char *field,
                    lga_json_error *e);

/* lga_json_floats that also reports the nesting: *ndim gets the number of
 * dimensions and shape[0..ndim) their sizes when the nesting is regular
 * (every array at a level has the same length and every number sits at the
 * same depth) and at most 4 deep, else *ndim = -1. [] has ndim 1, shape
 * {0}. shape and ndim may be NULL. */
int lga_json_floats_shape(const json_t *arr, float *out, size_t max_values, size_t *count, size_t shape[4], int *ndim,
                          const char *field, lga_json_error *e);

/* {"error":{"code":…,"message":…,"field":…}}, field omitted when NULL or
 * "", as a new reference (NULL when out of memory). Invalid UTF-8 in the
 * message or field (bytes quoted from a body) is replaced by '?'. */
json_t *lga_json_error_body(const char *code, const char *message, const char *field);

#endif
