/* fuzz_route.c - libFuzzer harness for request paths: lga_route_match over
 * the route table (api/routes.c), called as the server calls it when a
 * request arrives (no Allow buffer) and when it answers 404/405 (an Allow
 * buffer), plus small id and Allow buffers; then lga_id_valid on the {id}
 * segment, as the lookups (lga_resolve_*) do.
 *
 * Input: line 1 is the method, the rest the path as libmicrohttpd hands it
 * over (already without the query string; it ends at the first NUL).
 * Query strings are parsed by libmicrohttpd, and the handlers only compare
 * or strtol the values they look up, so there is no parser of ours there.
 *
 * Properties checked: a matched route has the request's method (or GET for
 * HEAD); its {id} is a non-empty run of [A-Za-z0-9._-], not "." or "..",
 * shorter than the id buffer; both calling forms agree; 404 (path unknown)
 * leaves Allow empty; Allow always ends inside its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_route_check_id(const lga_route *rt, const char *id, size_t idlen)
{
    FUZZ_CHECK(strlen(id) < idlen, "id of %zu bytes in a %zu-byte buffer", strlen(id), idlen);
    if (!strstr(rt->pattern, "{id}")) return;
    size_t n = strlen(id);
    FUZZ_CHECK(n > 0, "%s matched an empty id", rt->pattern);
    FUZZ_CHECK(strcmp(id, ".") && strcmp(id, ".."), "%s matched id \"%s\"", rt->pattern, id);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
                       c == '.',
                   "%s matched id with byte 0x%02x", rt->pattern, (unsigned char)c);
    }
    (void)lga_id_valid(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text) return 0;
    char *path = strchr(text, '\n');
    const char *method = text;
    if (path)
        *path++ = '\0';
    else
        path = text, method = "GET";

    /* As on_request: id[80], no Allow. */
    char id[80], id2[80], allow[128];
    int known = -1, known2 = -1;
    memset(id, 0x55, sizeof id);
    const lga_route *rt = lga_route_match(method, path, id, sizeof id, &known, NULL, 0);
    FUZZ_CHECK(known == 0 || known == 1, "path_known = %d", known);
    if (rt) {
        FUZZ_CHECK(!strcmp(rt->method, method) || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET")),
                   "%s %s matched %s", method, path, rt->name);
        fuzz_route_check_id(rt, id, sizeof id);
    }

    /* As dispatch: the same answer, with the methods that would match. */
    memset(allow, 0x55, sizeof allow);
    const lga_route *rt2 = lga_route_match(method, path, id2, sizeof id2, &known2, allow, sizeof allow);
    FUZZ_CHECK(rt2 == rt, "the two calling forms disagree on %s %s", method, path);
    FUZZ_CHECK(memchr(allow, '\0', sizeof allow) != NULL, "Allow is not terminated");
    if (rt) FUZZ_CHECK(!strcmp(id, id2), "ids \"%s\" and \"%s\" differ", id, id2);
    if (!rt) {
        FUZZ_CHECK(known2 == known, "path_known %d then %d", known, known2);
        if (!known) FUZZ_CHECK(allow[0] == '\0', "404 with Allow \"%s\"", allow);
        if (known) FUZZ_CHECK(allow[0] != '\0', "405 without Allow");
    }

    /* Small buffers: an id that does not fit is no match, Allow is cut. */
    char small[9], sallow[8];
    int k3 = -1;
    const lga_route *rt3 = lga_route_match(method, path, small, sizeof small, &k3, sallow, sizeof sallow);
    FUZZ_CHECK(memchr(sallow, '\0', sizeof sallow) != NULL, "a short Allow is not terminated");
    if (rt3) fuzz_route_check_id(rt3, small, sizeof small);

    free(text);
    return 0;
}
