/* json.h - a small strict JSON reader (internal to liblearngene).
 *
 * Used for safetensors headers and model descriptions, so that the core needs
 * no JSON library. Strict: RFC 8259 syntax only, duplicate object keys are an
 * error, nesting is limited to LGJ_MAX_DEPTH, strings are unescaped to UTF-8
 * and may not contain NUL (\u0000).
 */
#ifndef LG_JSON_H
#define LG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "learngene.h"

#define LGJ_MAX_DEPTH 64

typedef enum { LGJ_NULL, LGJ_BOOL, LGJ_NUM, LGJ_STR, LGJ_ARR, LGJ_OBJ } lgj_type;

typedef struct lgj_value lgj_value;

/* Parses s[0..len) (need not be NUL-terminated); trailing whitespace only.
 * Numbers longer than 255 characters are refused. The tree lives in one
 * allocation: lgj_free takes only the root lgj_parse returned. */
lg_status lgj_parse(lgj_value **out, const char *s, size_t len, char *err, size_t errlen);
void lgj_free(lgj_value *v);

lgj_type lgj_typeof(const lgj_value *v);
size_t lgj_len(const lgj_value *v);                            /* array elements / object members, else 0 */
const lgj_value *lgj_at(const lgj_value *v, size_t i);         /* i-th element / member value, NULL past end */
const char *lgj_key(const lgj_value *v, size_t i);             /* i-th member key of an object */
const lgj_value *lgj_get(const lgj_value *v, const char *key); /* member by key, NULL when absent */
const char *lgj_str(const lgj_value *v);                       /* string value, NULL for other types */
size_t lgj_strlen(const lgj_value *v);
double lgj_num(const lgj_value *v); /* number value, 0 for other types */
int lgj_bool(const lgj_value *v);
/* 0 and *out set when v is a number that is exactly an integer in [0, 2^53]. */
int lgj_uint(const lgj_value *v, uint64_t *out);

/* Writes s as a quoted, escaped JSON string into buf (like snprintf: returns
 * the length needed, writes at most buflen bytes incl. NUL). */
size_t lgj_quote(char *buf, size_t buflen, const char *s);

#endif
