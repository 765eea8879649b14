/* h_status.c - the status page at / (being rewritten: static page with the
 * FLOPs-accuracy chart, the budget form and live jobs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "handlers.h"

/* s as HTML text (names come from uploads). */
static void put_html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The status page: what is stored, with links to the JSON. */
enum MHD_Result lga_h_status_page(lga_req *r)
{
    lgs_gene_row *genes = NULL;
    lgs_model_row *models = NULL;
    lgs_job_row *jobs = NULL;
    int ng = 0, nm = 0, nj = 0;
    lgs_gene_list(r->srv->store, NULL, &genes, &ng);
    lgs_model_list(r->srv->store, &models, &nm);
    lgs_job_list(r->srv->store, &jobs, &nj);
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f) goto out;
    fprintf(f,
            "<!doctype html><html><head><meta charset=utf-8><title>learngened</title></head><body>"
            "<h1>learngened %s</h1><h2>Learngenes and pools</h2><table border=1>"
            "<tr><th>id</th><th>kind</th><th>name</th><th>params</th></tr>",
            PACKAGE_VERSION);
    for (int i = 0; i < ng; i++) {
        fprintf(f, "<tr><td><a href=\"/v1/%s/%s\">%.12s</a></td><td>%s</td><td>",
                strcmp(genes[i].kind, "pool") ? "learngenes" : "pools", genes[i].id, genes[i].id, genes[i].kind);
        put_html(f, genes[i].name);
        fprintf(f, "</td><td>%lld</td></tr>", (long long)genes[i].params);
    }
    fprintf(f, "</table><h2>Models</h2><table border=1><tr><th>id</th><th>method</th><th>flops</th><th>params</th>"
               "</tr>");
    for (int i = 0; i < nm; i++)
        fprintf(f, "<tr><td><a href=\"/v1/models/%s\">%.12s</a></td><td>%s</td><td>%.0f</td><td>%lld</td></tr>",
                models[i].id, models[i].id, models[i].method, models[i].flops, (long long)models[i].params);
    fprintf(f, "</table><h2>Jobs</h2><table border=1><tr><th>id</th><th>state</th><th>step</th></tr>");
    for (int i = 0; i < nj; i++)
        fprintf(f, "<tr><td><a href=\"/v1/jobs/%s\">%.12s</a></td><td>%s</td><td>%lld / %lld</td></tr>", jobs[i].id,
                jobs[i].id, lgs_job_state_name(jobs[i].state), (long long)jobs[i].step, (long long)jobs[i].total_steps);
    fprintf(f, "</table><p><a href=\"/metrics\">metrics</a></p></body></html>\n");
    fclose(f);
out:
    for (int i = 0; i < ng; i++) lgs_gene_row_free(&genes[i]);
    for (int i = 0; i < nm; i++) lgs_model_row_free(&models[i]);
    for (int i = 0; i < nj; i++) lgs_job_row_free(&jobs[i]);
    free(genes);
    free(models);
    free(jobs);
    if (!page) return lga_reply_error(r, 500, "internal", NULL, "out of memory");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
    if (resp) MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    return lga_reply(r, 200, resp);
}
