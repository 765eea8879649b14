/* table.c - output for people (remote.h): tables with aligned columns
 * and the number formats of the daemon subcommands (24.8M, 0.7289, 12-digit
 * ids). Prints tables on stdout; calls nothing but the C library. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

/* 24.8M, 456K, 1.2G: three significant digits. */
void fmt_human(char *buf, size_t n, double v)
{
    static const char *const suffix[] = {"", "K", "M", "G", "T", "P"};
    int i = 0;
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    while (fabs(v) >= 999.5 && i < 5) v /= 1000, i++;
    snprintf(buf, n, i ? "%.3g%s" : "%.0f%s", v, suffix[i]);
}

void fmt_acc(char *buf, size_t n, double a)
{
    if (isnan(a))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4f", a);
}

void fmt_id(char *buf, size_t n, const char *id) { snprintf(buf, n, "%.12s", *id ? id : "-"); }

int table_row(table *t, ...)
{
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cell, cap * (size_t)t->ncol * sizeof *c);
        if (!c) return -1;
        t->cell = c, t->cap = cap;
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncol; i++) {
        const char *s = va_arg(ap, const char *);
        t->cell[t->nrow * (size_t)t->ncol + (size_t)i] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrow++;
    return 0;
}

void table_print(const table *t)
{
    size_t w[16] = {0};
    for (size_t r = 0; r < t->nrow; r++)
        for (int c = 0; c < t->ncol && c < 16; c++) {
            const char *s = t->cell[r * (size_t)t->ncol + (size_t)c];
            size_t len = s ? strlen(s) : 0;
            if (len > w[c]) w[c] = len;
        }
    for (size_t r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            const char *s = t->cell[r * (size_t)t->ncol + (size_t)c];
            if (c == t->ncol - 1)
                printf("%s\n", s ? s : "");
            else
                printf("%-*s  ", (int)w[c < 16 ? c : 15], s ? s : "");
        }
    }
}

void table_free(table *t)
{
    for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++) free(t->cell[i]);
    free(t->cell);
}
