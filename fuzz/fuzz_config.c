/* fuzz_config.c - libFuzzer harness for learngened.conf (daemon/config.c):
 * lgd_config_load_string (inih underneath) over the defaults, then
 * lgd_config_check, lgd_config_parse_listen and lgd_config_diff_restart
 * on what loaded, and the lgd_config_dump of it loaded back.
 *
 * Input: the file's text (it ends at the first NUL, as
 * lgd_config_load_file refuses NULs before parsing).
 *
 * Properties checked: a failed load leaves the config unchanged and an
 * error that names the file and a line; a loaded config passes
 * lgd_config_check (ncpu unknown) when its listen parses; the dump of a
 * loaded config loads back to the same config (the header promises so).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text) return 0;
    lgd_config c, before, back;
    char err[1200] = "";
    lgd_config_defaults(&c);
    memcpy(&before, &c, sizeof c);
    if (lgd_config_load_string(&c, text, "fuzz.conf", err, sizeof err) != 0) {
        FUZZ_CHECK(memcmp(&c, &before, sizeof c) == 0, "a failed load changed the config");
        FUZZ_CHECK(!strncmp(err, "fuzz.conf", 9), "error \"%s\" does not name the file", err);
        free(text);
        return 0;
    }

    char host[256];
    int port = -1;
    int listen_ok = lgd_config_parse_listen(c.listen, host, sizeof host, &port) == 0;
    FUZZ_CHECK(!listen_ok || (port >= 0 && port <= 65535), "listen '%s' gave port %d", c.listen, port);
    if (listen_ok)
        FUZZ_CHECK(lgd_config_check(&c, 0, err, sizeof err) == 0, "a loaded config fails the check: %s", err);
    (void)lgd_config_check(&c, 1, err, sizeof err);
    (void)lgd_config_effective_blas(&c, 4);
    char names[64];
    (void)lgd_config_diff_restart(&before, &c, names, sizeof names);

    /* --check-config prints what loads back. */
    char *dump = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dump, &dlen);
    if (f) {
        lgd_config_dump(&c, f);
        fclose(f);
        lgd_config_defaults(&back);
        FUZZ_CHECK(lgd_config_load_string(&back, dump, "dump", err, sizeof err) == 0,
                   "the dump of a loaded config does not load: %s", err);
        FUZZ_CHECK(memcmp(&c, &back, sizeof c) == 0, "the dump loads back to a different config");
        free(dump);
    }
    free(text);
    return 0;
}
