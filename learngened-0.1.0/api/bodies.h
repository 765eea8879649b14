/* bodies.h - raw request bodies (bodies.c). */
#ifndef LG_API_BODIES_H
#define LG_API_BODIES_H

#include <stddef.h>
#include <stdint.h>

#include "jsonbody.h"

/* A body of N images of `per` values each: float32 little-endian
 * (already normalized; every value must be finite) when u8 = 0, else bytes
 * 0-255 scaled to [0,1] and normalized with Fashion-MNIST's mean/std.
 * Returns the N·per floats (malloc'd) and N in *B; NULL with e filled
 * (field "body") when the length is not a multiple of one image or a value
 * is not finite, NULL with e->message empty when out of memory. */
float *lga_images_raw(const uint8_t *body, size_t len, size_t per, int u8, int *B, lga_json_error *e);

#endif
