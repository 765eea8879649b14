/* h_service.c - the service routes: /healthz, /readyz, /metrics,
 * /v1/version. The status page at / is in h_status.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "handlers.h"

enum MHD_Result lga_h_healthz(lga_req *r) { return lga_reply_json(r, 200, json_pack("{s:s}", "status", "ok")); }

enum MHD_Result lga_h_readyz(lga_req *r)
{
    if (atomic_load(&r->srv->draining))
        return lga_reply_error(r, 503, "unavailable", NULL, "shutting down: draining in-flight requests");
    return lga_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

enum MHD_Result lga_h_version(lga_req *r)
{
    return lga_reply_json(r, 200,
                          json_pack("{s:s,s:s,s:i}", "name", PACKAGE_NAME, "version", PACKAGE_VERSION, "schema",
                                    lgs_schema_version(r->srv->store)));
}

enum MHD_Result lga_h_metrics(lga_req *r)
{
    lga_gauges g;
    memset(&g, 0, sizeof g);
    lgs_job_counts(r->srv->store, g.jobs);
    size_t bytes = 0;
    lga_cache_stats_get(r->srv->cache, &g.models_cached, &bytes);
    g.cache_bytes = bytes;
    g.inflight = atomic_load(&r->srv->inflight);
    size_t len = 0;
    char *text = lga_metrics_render(r->srv->metrics, &g, &len);
    if (!text) return lga_reply_error(r, 500, "internal", NULL, "out of memory rendering metrics");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp) MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    return lga_reply(r, 200, resp);
}
