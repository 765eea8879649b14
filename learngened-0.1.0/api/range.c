/* range.c - Range / Content-Range / If-None-Match (RFC 9110 §13.1.2, §14)
 * for the weight downloads. Strict parsing: anything the grammar does not
 * allow makes the header INVALID, which the handler answers by ignoring it
 * (200 with the whole body), as the RFC permits. Calls libc only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "range.h"

static int range_is_ows(char c) { return c == ' ' || c == '\t'; }

static const char *range_skip_ows(const char *p)
{
    while (range_is_ows(*p)) p++;
    return p;
}

/* One or more decimal digits into *v; NULL when there is no digit or the
 * value exceeds INT64_MAX. */
static const char *range_digits(const char *p, int64_t *v)
{
    if (*p < '0' || *p > '9') return NULL;
    int64_t x = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (x > (INT64_MAX - d) / 10) return NULL;
        x = x * 10 + d;
    }
    *v = x;
    return p;
}

/* One range-spec: "a-b", "a-" (*b = -1) or "-n" (*a = -1, *b = n). */
static const char *range_spec(const char *p, int64_t *a, int64_t *b)
{
    if (*p == '-') {
        *a = -1;
        return range_digits(p + 1, b);
    }
    if (!(p = range_digits(p, a)) || *p != '-') return NULL;
    p++;
    *b = -1;
    if (*p >= '0' && *p <= '9') {
        if (!(p = range_digits(p, b)) || *b < *a) return NULL;
    }
    return p;
}

lga_range_result lga_range_parse(const char *header, int64_t size, int64_t *first, int64_t *last)
{
    int64_t a = -1, b = -1, sa, sb;
    int nranges = 0, after_comma = 0;

    *first = *last = -1;
    if (!header) return LGA_RANGE_NONE;
    if (size < 0 || strncasecmp(header, "bytes=", 6) != 0) return LGA_RANGE_INVALID;

    /* range-set = 1#range-spec; #rule: OWS around commas, empty elements. */
    const char *p = header + 6;
    for (;;) {
        if (after_comma) p = range_skip_ows(p);
        if (*p == ',') {
            p++;
            after_comma = 1;
            continue;
        }
        if (*p == '\0') break;
        if (!(p = range_spec(p, &sa, &sb))) return LGA_RANGE_INVALID;
        if (nranges++ == 0) {
            a = sa;
            b = sb;
        }
        p = range_skip_ows(p);
        if (*p == ',') {
            p++;
            after_comma = 1;
        } else if (*p != '\0') {
            return LGA_RANGE_INVALID;
        }
    }
    if (nranges == 0) return LGA_RANGE_INVALID;
    if (nranges > 1) return LGA_RANGE_IGNORED; /* no multipart/byteranges */

    if (a < 0) { /* suffix: the last b bytes */
        if (b == 0) return LGA_RANGE_UNSATISFIABLE;
        if (size == 0) return LGA_RANGE_IGNORED; /* nothing to cut: 200, empty */
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return LGA_RANGE_OK;
    }
    if (a >= size) return LGA_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return LGA_RANGE_OK;
}

int lga_range_content_range(char *buf, size_t n, int64_t first, int64_t last, int64_t size)
{
    int k;

    if (!buf || n == 0 || size < 0) return -1;
    if (first < 0)
        k = snprintf(buf, n, "bytes */%" PRId64, size);
    else if (last < first || last >= size)
        return -1;
    else
        k = snprintf(buf, n, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, first, last, size);
    return k < 0 || (size_t)k >= n ? -1 : k;
}

/* etagc = %x21 / %x23-7E / obs-text */
static int range_is_etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c != 0x7F); }

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE at p: the opaque value's
 * start and length; returns the position after it, NULL when malformed. */
static const char *range_entity_tag(const char *p, const char **val, size_t *len)
{
    if (p[0] == 'W' && p[1] == '/') p += 2;
    if (*p != '"') return NULL;
    const char *s = ++p;
    while (range_is_etagc((unsigned char)*p)) p++;
    if (*p != '"') return NULL;
    *val = s;
    *len = (size_t)(p - s);
    return p + 1;
}

int lga_etag_match(const char *if_none_match, const char *etag)
{
    const char *want, *v, *end;
    size_t wlen, vlen;
    int matched = 0;

    if (!if_none_match || !etag || !*etag) return 0;
    /* The server's tag, quoted or bare. */
    end = range_entity_tag(etag, &want, &wlen);
    if (!end || *end != '\0') {
        want = etag;
        wlen = strlen(etag);
    }

    const char *p = range_skip_ows(if_none_match);
    if (*p == '*') return *range_skip_ows(p + 1) == '\0';

    int elements = 0;
    for (;;) {
        p = range_skip_ows(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\0') break;
        if (!(p = range_entity_tag(p, &v, &vlen))) return 0;
        elements++;
        matched |= vlen == wlen && memcmp(v, want, wlen) == 0;
        p = range_skip_ows(p);
        if (*p != ',' && *p != '\0') return 0;
    }
    return elements > 0 && matched;
}
