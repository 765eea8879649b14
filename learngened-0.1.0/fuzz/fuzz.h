/* fuzz.h - what the libFuzzer harnesses (fuzz/fuzz_*.c) share: FUZZ_CHECK
 * for properties the parsers promise in their headers (a broken one aborts,
 * which libFuzzer reports as a crash and the regression test as a failure)
 * and a NUL-terminated copy of fuzzer bytes.
 *
 * Every harness defines LLVMFuzzerTestOneInput; tests/test_fuzz_regressions.c
 * includes all of them in one file with that name renamed by a macro, so
 * helpers in a harness carry its name as a prefix.
 */
#ifndef LG_FUZZ_H
#define LG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* data[0..n) as a malloc'd C string (it ends at the first NUL byte, like a
 * header value or a URL would); NULL when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

#endif
