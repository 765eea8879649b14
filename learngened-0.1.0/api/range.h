/* range.h - HTTP conditional and partial requests for downloads (RFC 9110
 * §13, §14): parsing a Range header against a resource of known size,
 * formatting Content-Range, and If-None-Match against an ETag.
 * Pure C (libc only), no libmicrohttpd, so it is unit-tested on its own.
 */
#ifndef LGA_RANGE_H
#define LGA_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LGA_RANGE_NONE = 0,          /* no Range header: send 200 with everything */
    LGA_RANGE_OK = 1,            /* one satisfiable range: 206, [*first, *last] */
    LGA_RANGE_UNSATISFIABLE = 2, /* 416, Content-Range from first = -1 */
    LGA_RANGE_INVALID = 3,       /* malformed or not "bytes": ignore it, send 200 */
    LGA_RANGE_IGNORED = 4        /* valid but not served as ranges (several
                                    ranges, or a suffix of an empty resource):
                                    send 200 with everything */
} lga_range_result;

/* Parses a Range header value for a resource of size bytes. header may be
 * NULL (LGA_RANGE_NONE). Accepted: "bytes=a-b", "bytes=a-", "bytes=-n"
 * (the unit is case-insensitive; list syntax allows OWS around commas and
 * empty elements). b >= size is clamped to size-1; a >= size, or a suffix
 * of 0, is UNSATISFIABLE; b < a, junk, a negative size or a number beyond
 * int64 is INVALID. On LGA_RANGE_OK *first and *last (inclusive) are set;
 * otherwise both are set to -1. */
lga_range_result lga_range_parse(const char *header, int64_t size, int64_t *first, int64_t *last);

/* Writes "bytes first-last/size" into buf, or "bytes *" "/size" (one
 * string, for 416) when first < 0. Returns the length written, or -1 when buf is
 * too small or the range does not fit in size. */
int lga_range_content_range(char *buf, size_t n, int64_t first, int64_t last, int64_t size);

/* 1 when an If-None-Match value matches etag (weak comparison, RFC 9110
 * §13.1.2): "*", or a list like `"a", W/"b"` containing etag's opaque tag.
 * etag may be given quoted ("\"abc\"", optionally W/) or bare ("abc").
 * A NULL or malformed header, or a NULL etag, is no match (0). */
int lga_etag_match(const char *if_none_match, const char *etag);

#endif
