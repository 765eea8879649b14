/* fuzz_raw.c - libFuzzer harness for raw tensor bodies (POST
 * /v1/models/{id}/predict with application/octet-stream float32 or
 * application/x-u8 bytes): lga_images_raw.
 *
 * Input: byte 0 picks the encoding (bit 0: 1 = u8, 0 = float32) and the
 * values per image (bits 1-7 index a table of model input sizes, from 1 to
 * 3·224·224); the rest is the body.
 *
 * Properties checked: a non-NULL answer holds B·per finite floats with
 * B·per·(1 or 4) = the body length; NULL always comes with a message (out
 * of memory aside) naming the field "body".
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../api/bodies.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pers[] = {1, 2, 3, 4, 7, 16, 64, 784, 3 * 32 * 32, 3 * 224 * 224, 0};
    if (size < 1) return 0;
    int u8 = data[0] & 1;
    size_t per = pers[(size_t)(data[0] >> 1) % (sizeof pers / sizeof pers[0])];
    const uint8_t *body = data + 1;
    size_t len = size - 1;

    lga_json_error e = {"", ""};
    int B = -1;
    float *x = lga_images_raw(body, len, per, u8, &B, &e);
    if (!x) {
        FUZZ_CHECK(e.message[0] != '\0' && !strcmp(e.field, "body"), "lga_images_raw failed without a message");
        return 0;
    }
    size_t item = per * (u8 ? 1 : sizeof(float));
    FUZZ_CHECK(B >= 1 && (size_t)B * item == len, "%d images of %zu bytes from a body of %zu", B, item, len);
    for (size_t i = 0; i < (size_t)B * per; i++) FUZZ_CHECK(isfinite(x[i]), "value %zu is not finite", i);
    free(x);
    return 0;
}
