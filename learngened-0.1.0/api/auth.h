/* auth.h - bearer tokens (auth.c): a set of tokens, each kept only as the
 * sha256 of the secret with a scope (read: list, download, predict; write:
 * also upload, delete, fine-tune) and a name for the logs. Pure C over
 * storage's sha256, so a fuzzer and a unit test can drive it.
 *
 * The tokens file, one token a line:
 *     # comment
 *     write 5e8848…(64 hex: sha256 of the token)… ops-team
 *     read  9f86d0…                                 dashboards
 * `learngened --new-token read|write [NAME]` makes a token and its line.
 */
#ifndef LG_API_AUTH_H
#define LG_API_AUTH_H

#include <stddef.h>

typedef enum { LGA_SCOPE_NONE = 0, LGA_SCOPE_READ = 1, LGA_SCOPE_WRITE = 2 } lga_scope;

typedef struct lga_tokens lga_tokens;

/* Parses a tokens file's text; errors name the line (`name`:LINE: …). */
int lga_tokens_parse(lga_tokens **out, const char *text, size_t len, const char *name, char *err, size_t errlen);
int lga_tokens_load(lga_tokens **out, const char *path, char *err, size_t errlen);
void lga_tokens_free(lga_tokens *t);
int lga_tokens_count(const lga_tokens *t);
/* The scope the secret grants (NONE when it is not in the set), comparing
 * hashes in constant time; *name gets the token's name when found. */
lga_scope lga_tokens_check(const lga_tokens *t, const char *secret, size_t len, const char **name);
/* The secret from an "Authorization: Bearer SECRET" header value; NULL
 * when the header is absent or not a bearer token. */
const char *lga_bearer(const char *authorization, size_t *len);
const char *lga_scope_name(lga_scope s);

#endif
