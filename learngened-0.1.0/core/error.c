/* error.c - lg_status codes as sentences. */
#include "learngene.h"

const char *lg_strerror(lg_status s)
{
    switch (s) {
    case LG_OK: return "ok";
    case LG_ERR_NOMEM: return "out of memory";
    case LG_ERR_INVALID: return "invalid argument";
    case LG_ERR_IO: return "input/output error";
    case LG_ERR_FORMAT: return "malformed data";
    case LG_ERR_MISMATCH: return "tensors do not match the model";
    case LG_ERR_RANGE: return "value out of the supported range";
    }
    return "unknown error";
}

#include <stdio.h>

#include "internal.h"

lg_status lg_fail(char *err, size_t errlen, lg_status s, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}
