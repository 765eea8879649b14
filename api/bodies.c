/* bodies.c - raw (non-JSON) request bodies: batches of images as
 * float32 or bytes. Pure C, no MHD, so a fuzzer can drive it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodies.h"
#include "learngene.h"

float *lga_images_raw(const uint8_t *body, size_t len, size_t per, int u8, int *B, lga_json_error *e)
{
    size_t item = per * (u8 ? 1 : sizeof(float));
    if (per == 0 || item / (u8 ? 1 : sizeof(float)) != per) {
        snprintf(e->message, sizeof e->message, "the model takes no input values");
        snprintf(e->field, sizeof e->field, "body");
        return NULL;
    }
    if (len == 0 || len % item) {
        snprintf(e->message, sizeof e->message,
                 "the body has %zu bytes, not a multiple of one image (%zu bytes: %zu %s)", len, item, per,
                 u8 ? "bytes" : "float32");
        snprintf(e->field, sizeof e->field, "body");
        return NULL;
    }
    size_t n = len / item;
    float *x = malloc(n * per * sizeof(float));
    if (!x) return NULL;
    if (u8)
        for (size_t i = 0; i < n * per; i++) x[i] = ((float)body[i] / 255.0f - LG_FMNIST_MEAN) / LG_FMNIST_STD;
    else
        memcpy(x, body, n * per * sizeof(float));
    for (size_t i = 0; i < n * per; i++)
        if (!isfinite(x[i])) {
            snprintf(e->message, sizeof e->message, "value %zu of the body is not a finite number", i);
            snprintf(e->field, sizeof e->field, "body");
            free(x);
            return NULL;
        }
    *B = (int)n;
    return x;
}
