/* fuzz_range.c - libFuzzer harness for the download headers of GET
 * …/weights: Range (lga_range_parse, then lga_range_content_range as the
 * handler formats the answer) and If-None-Match against an ETag
 * (lga_etag_match).
 *
 * Input: text lines. Line 1 is the Range header value, line 2 the resource
 * size in decimal (absent or junk: 1000), line 3 If-None-Match, line 4 the
 * ETag (absent: a quoted sha256-like tag). The Range line is also parsed
 * against sizes 0, 1 and INT64_MAX.
 *
 * Properties checked: OK means 0 <= first <= last < size and a
 * Content-Range that formats; every other answer leaves first = last = -1;
 * 416's "bytes * /size" formats; lga_etag_match answers 0 or 1, and "*"
 * matches any tag.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../api/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of *p (up to '\n' or the end) as a C string in place. */
static char *fuzz_range_line(char **p)
{
    char *s = *p;
    if (!s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return s;
}

static void fuzz_range_one(const char *header, int64_t size)
{
    int64_t first = 0, last = 0;
    char buf[96];
    lga_range_result r = lga_range_parse(header, size, &first, &last);
    FUZZ_CHECK(r >= LGA_RANGE_NONE && r <= LGA_RANGE_IGNORED, "result %d", (int)r);
    if (r == LGA_RANGE_OK) {
        FUZZ_CHECK(first >= 0 && first <= last && last < size, "range [%lld, %lld] of size %lld", (long long)first,
                   (long long)last, (long long)size);
        int n = lga_range_content_range(buf, sizeof buf, first, last, size);
        FUZZ_CHECK(n > 0 && !strncmp(buf, "bytes ", 6), "Content-Range for [%lld, %lld]/%lld: %d", (long long)first,
                   (long long)last, (long long)size, n);
        /* Too small a buffer is refused, never overrun. */
        FUZZ_CHECK(lga_range_content_range(buf, (size_t)n, first, last, size) == -1, "a %d-byte buffer was enough", n);
    } else {
        FUZZ_CHECK(first == -1 && last == -1, "result %d left [%lld, %lld]", (int)r, (long long)first, (long long)last);
    }
    if (r == LGA_RANGE_UNSATISFIABLE)
        FUZZ_CHECK(lga_range_content_range(buf, sizeof buf, -1, -1, size) > 0, "416 Content-Range for size %lld",
                   (long long)size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text) return 0;
    char *p = text;
    const char *range = fuzz_range_line(&p), *size_s = fuzz_range_line(&p);
    const char *inm = fuzz_range_line(&p), *etag = fuzz_range_line(&p);

    char *end = NULL;
    long long sz = size_s ? strtoll(size_s, &end, 10) : 1000;
    if (size_s && (end == size_s || *end)) sz = 1000;
    fuzz_range_one(range, (int64_t)sz);
    fuzz_range_one(range, 0);
    fuzz_range_one(range, 1);
    fuzz_range_one(range, INT64_MAX);

    /* The formatter on its own, with the numbers the text gave. */
    char buf[64];
    int64_t first = sz, last = sz / 2;
    (void)lga_range_content_range(buf, sizeof buf, first, last, (int64_t)sz);
    (void)lga_range_content_range(buf, 1 + (size ? data[0] % sizeof buf : 0), last, first, (int64_t)sz);

    if (!etag) etag = "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";
    int m = lga_etag_match(inm, etag);
    FUZZ_CHECK(m == 0 || m == 1, "lga_etag_match answered %d", m);
    m = lga_etag_match(range, inm);
    FUZZ_CHECK(m == 0 || m == 1, "lga_etag_match answered %d", m);
    if (etag[0]) FUZZ_CHECK(lga_etag_match(" * ", etag) == 1, "\"*\" does not match %s", etag);
    free(text);
    return 0;
}
