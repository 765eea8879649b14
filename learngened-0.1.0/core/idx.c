/* idx.c - lg_idx_parse: validates raw (uncompressed) IDX bytes and describes
 * them without copying (LeCun's MNIST format).
 *
 * Layout: two zero bytes, an element-type byte (only 0x08, unsigned byte, is
 * supported), a dimension count (1..4), that many big-endian u32 dimensions,
 * then exactly the product of the dimensions in data bytes. Calls libc only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define LG_IDX_U8 0x08

static uint32_t idx_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* "60000 x 28 x 28" into buf. */
static void idx_dims_str(char *buf, size_t buflen, const uint32_t *dims, int ndim)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && at < buflen; i++) {
        int k = snprintf(buf + at, buflen - at, "%s%lu", i ? " x " : "", (unsigned long)dims[i]);
        if (k < 0) break;
        at += (size_t)k;
    }
}

lg_status lg_idx_parse(lg_idx *out, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    char dstr[64];

    if (!out) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_idx_parse: out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len > 0) return lg_fail(err, errlen, LG_ERR_INVALID, "lg_idx_parse: buf is NULL but len is %zu", len);

    if (len < 4)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "IDX data is %zu bytes, shorter than the 4-byte magic number", len);
    if (buf[0] != 0 || buf[1] != 0)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "not IDX data: it starts with 0x%02X 0x%02X, an IDX magic number starts with 0x00 0x00", buf[0],
                       buf[1]);
    if (buf[2] != LG_IDX_U8)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "unsupported IDX element type 0x%02X (only 0x08 unsigned byte)",
                       buf[2]);
    int ndim = buf[3];
    if (ndim < 1 || ndim > 4)
        return lg_fail(err, errlen, LG_ERR_FORMAT, "IDX data has %d dimensions, only 1 to 4 are supported", ndim);
    size_t header = 4 + 4 * (size_t)ndim;
    if (len < header)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "IDX data is %zu bytes, shorter than its %zu-byte header (magic and %d dimensions)", len, header,
                       ndim);

    uint32_t dims[4] = {0, 0, 0, 0};
    int any_zero = 0;
    for (int i = 0; i < ndim; i++) {
        dims[i] = idx_be32(buf + 4 + 4 * (size_t)i);
        any_zero |= dims[i] == 0;
    }
    idx_dims_str(dstr, sizeof dstr, dims, ndim);

    /* Element count; a zero dimension makes it 0 whatever the others say. */
    size_t count = any_zero ? 0 : 1;
    for (int i = 0; i < ndim && !any_zero; i++) {
        if (count > SIZE_MAX / dims[i])
            return lg_fail(err, errlen, LG_ERR_FORMAT, "IDX dimensions %s overflow the element count", dstr);
        count *= dims[i];
    }
    size_t body = len - header;
    if (count != body)
        return lg_fail(err, errlen, LG_ERR_FORMAT,
                       "IDX dimensions %s need %zu data bytes but %zu follow the %zu-byte header (%s)", dstr, count,
                       body, header, count > body ? "too few: truncated or lying dimensions" : "trailing bytes");

    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof dims);
    out->data = buf + header;
    out->count = count;
    return LG_OK;
}
