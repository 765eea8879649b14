/* fuzz_auth.c - libFuzzer harness for authentication (api/auth.c): the
 * Authorization header of every request (lga_bearer, then
 * lga_tokens_check) and the tokens file (lga_tokens_parse, read at start
 * and on SIGHUP).
 *
 * Input: line 1 is the Authorization header value (it ends at the first
 * NUL, as a header would); the bytes after the first '\n' are a tokens
 * file, NULs included. The secret is checked against a fixed set (one
 * write and one read token) and against the set parsed from the input.
 *
 * Properties checked: lga_bearer's secret lies inside the header, 1 to 512
 * bytes, without surrounding blanks; the fixed set grants exactly its own
 * secrets; a failed parse says why, naming the file, and a line number in
 * the message points at a line that is not blank.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../api/auth.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed set: "fuzz-writer" may write, "fuzz-reader" may read. */
static lga_tokens *fuzz_auth_fixed(void)
{
    char w[65], r[65], text[200], err[256];
    lga_tokens *t = NULL;
    lgs_sha256_hex(w, "fuzz-writer", 11);
    lgs_sha256_hex(r, "fuzz-reader", 11);
    snprintf(text, sizeof text, "# fixed\nwrite %s ops\n\nread  %s\n", w, r);
    FUZZ_CHECK(lga_tokens_parse(&t, text, strlen(text), "fixed", err, sizeof err) == 0, "the fixed set: %s", err);
    FUZZ_CHECK(lga_tokens_count(t) == 2, "the fixed set has %d tokens", lga_tokens_count(t));
    return t;
}

/* Line n (1-based) of text[0..len) holds something other than blanks. */
static int fuzz_auth_line_has_text(const char *text, size_t len, long n)
{
    size_t i = 0;
    for (long line = 1; line < n; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl) return 0;
        i = (size_t)(nl - text) + 1;
    }
    for (; i < len && text[i] != '\n'; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = fuzz_cstr(data, hlen);
    if (!header) return 0;
    const char *file = nl ? (const char *)nl + 1 : "";
    size_t flen = nl ? size - hlen - 1 : 0;

    size_t len = 0;
    const char *secret = lga_bearer(header, &len);
    if (secret) {
        FUZZ_CHECK(secret >= header && secret + len <= header + strlen(header), "the secret is outside the header");
        FUZZ_CHECK(len >= 1 && len <= 512, "a secret of %zu bytes", len);
        FUZZ_CHECK(secret[0] != ' ' && secret[len - 1] != ' ' && secret[len - 1] != '\t', "the secret keeps blanks");
    }
    lga_tokens *fixed = fuzz_auth_fixed();
    const char *who = NULL;
    lga_scope s = lga_tokens_check(fixed, secret, len, &who);
    lga_scope want = !secret                                           ? LGA_SCOPE_NONE
                     : len == 11 && !memcmp(secret, "fuzz-writer", 11) ? LGA_SCOPE_WRITE
                     : len == 11 && !memcmp(secret, "fuzz-reader", 11) ? LGA_SCOPE_READ
                                                                       : LGA_SCOPE_NONE;
    FUZZ_CHECK(s == want, "the fixed set grants %s, expected %s", lga_scope_name(s), lga_scope_name(want));
    FUZZ_CHECK(lga_tokens_check(fixed, "fuzz-writer", 11, NULL) == LGA_SCOPE_WRITE, "the writer lost its scope");
    lga_tokens_free(fixed);

    lga_tokens *t = NULL;
    char err[512] = "";
    if (lga_tokens_parse(&t, file, flen, "fuzz.tokens", err, sizeof err) == 0) {
        FUZZ_CHECK(t && lga_tokens_count(t) >= 0, "a parsed set without tokens");
        s = lga_tokens_check(t, secret, len, &who);
        FUZZ_CHECK(s == LGA_SCOPE_NONE || s == LGA_SCOPE_READ || s == LGA_SCOPE_WRITE, "scope %d", (int)s);
        FUZZ_CHECK(s == LGA_SCOPE_NONE || who != NULL, "a granted scope without a token name");
        lga_tokens_free(t);
    } else {
        FUZZ_CHECK(t == NULL && err[0] != '\0', "lga_tokens_parse failed without a message");
        if (!strncmp(err, "fuzz.tokens:", 12)) {
            char *end = NULL;
            long line = strtol(err + 12, &end, 10);
            if (end != err + 12 && *end == ':')
                FUZZ_CHECK(fuzz_auth_line_has_text(file, flen, line), "\"%s\" names a blank or missing line", err);
        }
    }
    free(header);
    return 0;
}
