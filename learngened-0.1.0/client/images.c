/* images.c - the IMAGE arguments of learngene predict (remote.h): binary
 * PGM (P5) and PPM (P6) files of 8-bit samples, and raw .u8 (bytes) and
 * .f32 (normalized float32) files of one or more C·H·W images, checked
 * against the shape the model takes. Calls remote_read_file only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "remote.h"

/* The next header number of a PNM file (whitespace and # comments skipped). */
static long pnm_number(const unsigned char *b, size_t len, size_t *pos)
{
    for (;;) {
        while (*pos < len && isspace(b[*pos])) (*pos)++;
        if (*pos < len && b[*pos] == '#')
            while (*pos < len && b[*pos] != '\n') (*pos)++;
        else
            break;
    }
    long v = 0;
    size_t start = *pos;
    while (*pos < len && isdigit(b[*pos]) && v < 100000) v = v * 10 + (b[(*pos)++] - '0');
    return *pos > start && v < 100000 ? v : -1;
}

/* A binary PGM (P5) or PPM (P6) of 8-bit samples, as C·H·W bytes scaled to
 * 0-255; the interleaved RGB of a PPM becomes planes. */
static int pnm_parse(image_file *im, const unsigned char *b, size_t len, int want_c, int want_hw, char *err,
                     size_t errlen)
{
    size_t pos = 2;
    int c = b[1] == '6' ? 3 : 1;
    long w = pnm_number(b, len, &pos), h = pnm_number(b, len, &pos), maxval = pnm_number(b, len, &pos);
    if (w <= 0 || h <= 0 || maxval <= 0 || maxval > 255 || pos >= len || !isspace(b[pos])) {
        snprintf(err, errlen, "%s: not a PGM/PPM with 8-bit samples (bad header)", im->name);
        return -1;
    }
    pos++;
    if (c != want_c || w != want_hw || h != want_hw) {
        snprintf(err, errlen, "%s is %dx%ldx%ld (CxHxW) but the model takes %dx%dx%d images", im->name, c, h, w, want_c,
                 want_hw, want_hw);
        return -1;
    }
    size_t n = (size_t)c * (size_t)w * (size_t)h;
    if (len - pos < n) {
        snprintf(err, errlen, "%s: truncated (%zu of %zu pixel bytes)", im->name, len - pos, n);
        return -1;
    }
    if (!(im->data = malloc(n))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t plane = (size_t)w * (size_t)h;
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < c; k++)
            im->data[(size_t)k * plane + p] = (unsigned char)(b[pos + p * (size_t)c + (size_t)k] * 255 / maxval);
    im->count = 1;
    return 0;
}

static int has_suffix(const char *s, const char *sfx)
{
    size_t n = strlen(s), m = strlen(sfx);
    return n >= m && !strcasecmp(s + n - m, sfx);
}

/* Loads one IMAGE argument for a model taking c×hw×hw images. */
int image_load(image_file *im, const char *path, int c, int hw, char *err, size_t errlen)
{
    unsigned char *b;
    size_t len, one = (size_t)c * (size_t)hw * (size_t)hw;
    memset(im, 0, sizeof *im);
    im->name = path;
    if (remote_read_file(path, &b, &len, err, errlen)) return -1;
    int rc = 0;
    if (len >= 3 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'))
        rc = pnm_parse(im, b, len, c, hw, err, errlen);
    else if (has_suffix(path, ".u8") || has_suffix(path, ".f32")) {
        im->f32 = has_suffix(path, ".f32");
        size_t per = one * (im->f32 ? 4 : 1);
        if (!len || len % per) {
            snprintf(err, errlen, "%s has %zu bytes, not a multiple of one %dx%dx%d image (%zu bytes)", path, len, c,
                     hw, hw, per);
            rc = -1;
        } else
            im->data = b, b = NULL, im->count = len / per;
    } else {
        snprintf(err, errlen, "%s: not a binary PGM/PPM, and not named .u8 (raw bytes) or .f32 (raw float32)", path);
        rc = -1;
    }
    free(b);
    return rc;
}
