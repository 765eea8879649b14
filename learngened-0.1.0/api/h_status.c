/* h_status.c - the status page: GET / (the HTML), GET /status.css and
 * GET /status.js, compiled into the binary (status_page.c). The files are
 * static and hold no data - the script fetches it from the API with the
 * user's token - so these routes stay open when tokens are configured.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles
 * and requests from this origin only, no inline script or style, no
 * framing; the page is never cached stale (no-cache).
 */
#include <string.h>

#include "handlers.h"

/* status_page.c */
extern const char lga_status_html[], lga_status_css[], lga_status_js[];

#define STATUS_CSP                                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "              \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static enum MHD_Result send_static(lga_req *r, const char *text, const char *type)
{
    /* the text lives as long as the process: MHD may point at it */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", type);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "Content-Security-Policy", STATUS_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    return lga_reply(r, 200, resp);
}

enum MHD_Result lga_h_status_page(lga_req *r) { return send_static(r, lga_status_html, "text/html; charset=utf-8"); }

enum MHD_Result lga_h_status_css(lga_req *r) { return send_static(r, lga_status_css, "text/css; charset=utf-8"); }

enum MHD_Result lga_h_status_js(lga_req *r) { return send_static(r, lga_status_js, "text/javascript; charset=utf-8"); }
