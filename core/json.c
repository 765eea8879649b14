/* json.c - the strict JSON reader of json.h, and lgj_quote.
 *
 * A recursive-descent parser (RFC 8259 syntax only) that builds a tree in an
 * arena: every value, string and child array of one document lives in a few
 * large blocks freed together by lgj_free. Children are collected on scratch
 * stacks while their container is open and copied out, contiguous, when it
 * closes. Objects keep insertion order; objects with more than LGJ_HASH_MIN
 * members carry a hash index, which both rejects duplicate keys in linear time
 * and serves lgj_get. Calls libc only.
 */
#include "internal.h"
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LGJ_NUM_MAX 255 /* longest number literal accepted, in bytes */
#define LGJ_HASH_MIN 8  /* objects with more members get a hash index */
#define LGJ_BLOCK_MIN 4096
#define LGJ_BLOCK_MAX (1u << 20)

typedef struct lgj_keys {
    const char **key; /* one per member */
    size_t *slot;     /* hash index (member + 1, 0 = empty), or NULL */
    size_t nslot;     /* power of two */
} lgj_keys;

struct lgj_value {
    lgj_type type;
    size_t n; /* string bytes, array elements or object members */
    union {
        double num;
        int b;
        const char *str;
        lgj_value *elems; /* n values, contiguous (array elements / member values) */
    } u;
    const lgj_keys *keys; /* objects only */
};

typedef struct lgj_block {
    struct lgj_block *next;
    size_t cap, used;
    max_align_t data[];
} lgj_block;

/* What lgj_parse hands out: the root first, so &doc->root frees the doc. */
typedef struct {
    lgj_value root;
    lgj_block *blocks;
} lgj_doc;

typedef struct {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    lgj_block *blocks;
    size_t next_block;
    lgj_value *vals; /* finished values of the open containers */
    size_t nvals, capvals;
    const char **keys; /* keys of the open objects' members */
    size_t nkeys, capkeys;
    int depth;
} lgj_parser;

static lg_status nomem_(lgj_parser *p)
{
    return lg_fail(p->err, p->errlen, LG_ERR_NOMEM, "JSON: out of memory at byte offset %zu", p->pos);
}

/* Describes the byte s[pos] of s[0..len) for an error message. */
static const char *byte_desc_(char *buf, size_t n, const char *s, size_t len, size_t pos)
{
    if (pos >= len) return "end of input";
    unsigned char c = (unsigned char)s[pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

static lg_status unexpected_(lgj_parser *p, const char *expected)
{
    char c[16];
    return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: unexpected %s at byte offset %zu (expected %s)",
                   byte_desc_(c, sizeof c, p->s, p->len, p->pos), p->pos, expected);
}

/* ------------------------------------------------------------------ arena */

static void *arena_alloc_(lgj_parser *p, size_t size)
{
    const size_t align = sizeof(max_align_t);
    if (size > SIZE_MAX / 2) return NULL;
    size = (size + align - 1) / align * align;
    lgj_block *b = p->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = p->next_block < LGJ_BLOCK_MIN ? LGJ_BLOCK_MIN : p->next_block;
        if (cap < size) cap = size;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = p->blocks;
        p->blocks = b;
        if (p->next_block < LGJ_BLOCK_MAX) p->next_block = p->next_block ? 2 * p->next_block : 2 * LGJ_BLOCK_MIN;
    }
    void *r = (unsigned char *)b->data + b->used;
    b->used += size;
    return r;
}

static void blocks_free_(lgj_block *b)
{
    while (b) {
        lgj_block *next = b->next;
        free(b);
        b = next;
    }
}

/* buf (of *cap elements of size elem) grown to hold at least need, or NULL
 * (buf left as it was). */
static void *grow_(void *buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return buf;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) return NULL;
        ncap *= 2;
    }
    void *nb = realloc(buf, ncap * elem);
    if (nb) *cap = ncap;
    return nb;
}

/* ------------------------------------------------------------ hash index */

static size_t hash_(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Slot holding key among keys[0..), or the empty slot where it would go. */
static size_t slot_find_(const size_t *slot, size_t nslot, const char *const *keys, const char *key)
{
    size_t i = hash_(key) & (nslot - 1);
    while (slot[i] && strcmp(keys[slot[i] - 1], key) != 0) i = (i + 1) & (nslot - 1);
    return i;
}

/* (Re)builds an index of keys[0..n) with room for at least 2n entries. */
static int slot_build_(size_t **slot, size_t *nslot, const char *const *keys, size_t n)
{
    size_t ns = 16;
    while (ns < 4 * n) {
        if (ns > SIZE_MAX / 4 / sizeof(size_t)) return -1;
        ns *= 2;
    }
    size_t *s = calloc(ns, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < n; i++) s[slot_find_(s, ns, keys, keys[i])] = i + 1;
    free(*slot);
    *slot = s;
    *nslot = ns;
    return 0;
}

/* ----------------------------------------------------------------- parser */

static void skip_ws_(lgj_parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek_(const lgj_parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

static lg_status parse_value_(lgj_parser *p, lgj_value *out);

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq_(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0; /* overlong */
        if (c == 0xed) hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90; /* overlong */
        if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

static int hex4_(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put_(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at p->pos ('"'), unescaped into the arena (NUL-terminated). */
static lg_status parse_string_(lgj_parser *p, const char **out, size_t *outlen)
{
    const char *s = p->s;
    size_t start = p->pos, end = start + 1;
    while (end < p->len && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: unterminated string starting at byte offset %zu",
                       start);
    char *o = arena_alloc_(p, end - start); /* unescaped ≤ raw length */
    if (!o) return nomem_(p);
    size_t n = 0, i = start + 1;
    while (i < end) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20)
            return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                           "JSON: control character 0x%02x in a string at byte offset %zu (must be escaped)", c, i);
        if (c >= 0x80) {
            size_t k = utf8_seq_((const unsigned char *)s + i, end - i);
            if (!k)
                return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: invalid UTF-8 byte 0x%02x at byte offset %zu",
                               c, i);
            memcpy(o + n, s + i, k);
            n += k;
            i += k;
            continue;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            i++;
            continue;
        }
        char e = s[i + 1]; /* i + 1 < end: the scan above skipped escapes in pairs */
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            int cp = end - i >= 6 ? hex4_(s + i + 2) : -1;
            if (cp < 0)
                return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                               "JSON: \\u escape without four hex digits at byte offset %zu", i);
            if (cp == 0)
                return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                               "JSON: \\u0000 (NUL) is not allowed in strings, at byte offset %zu", i);
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                               "JSON: unpaired low surrogate \\u%04x at byte offset %zu", (unsigned)cp, i);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = end - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4_(s + i + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                                   "JSON: high surrogate \\u%04x not followed by a low surrogate at byte offset %zu",
                                   (unsigned)cp, i);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            n += utf8_put_(o + n, (uint32_t)cp);
            i += 4;
            break;
        }
        default: {
            char d[16];
            return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: invalid escape '\\' + %s at byte offset %zu",
                           byte_desc_(d, sizeof d, s, p->len, i + 1), i);
        }
        }
        i += 2;
    }
    o[n] = '\0';
    p->pos = end + 1;
    *out = o;
    *outlen = n;
    return LG_OK;
}

static size_t digits_(const lgj_parser *p, size_t i)
{
    while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    return i;
}

static lg_status parse_number_(lgj_parser *p, lgj_value *out)
{
    size_t start = p->pos, i = start;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || p->s[i] < '0' || p->s[i] > '9') {
        p->pos = i;
        return unexpected_(p, "a digit");
    }
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: number with a leading zero at byte offset %zu",
                           start);
    } else {
        i = digits_(p, i);
    }
    if (i < p->len && p->s[i] == '.') {
        size_t j = digits_(p, i + 1);
        if (j == i + 1) {
            p->pos = j;
            return unexpected_(p, "a digit after the decimal point");
        }
        i = j;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        size_t j = digits_(p, i);
        if (j == i) {
            p->pos = j;
            return unexpected_(p, "a digit in the exponent");
        }
        i = j;
    }
    size_t n = i - start;
    if (n > LGJ_NUM_MAX)
        return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                       "JSON: number of %zu characters at byte offset %zu is longer than the %d supported", n, start,
                       LGJ_NUM_MAX);
    char buf[LGJ_NUM_MAX + 1];
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    char *e = NULL;
    double v = strtod(buf, &e);
    if (e != buf + n)
        return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: cannot convert number '%s' at byte offset %zu", buf,
                       start);
    if (isinf(v))
        return lg_fail(p->err, p->errlen, LG_ERR_FORMAT,
                       "JSON: number %s at byte offset %zu is out of the range of a double", buf, start);
    out->type = LGJ_NUM;
    out->u.num = v;
    p->pos = i;
    return LG_OK;
}

static lg_status parse_literal_(lgj_parser *p, lgj_value *out, const char *word, lgj_type type, int b)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        size_t k = 0;
        while (k < n && p->pos + k < p->len && p->s[p->pos + k] == word[k]) k++;
        p->pos += k;
        return unexpected_(p, "a value");
    }
    p->pos += n;
    out->type = type;
    out->u.b = b;
    return LG_OK;
}

static lg_status push_val_(lgj_parser *p, const lgj_value *v)
{
    lgj_value *nv = grow_(p->vals, &p->capvals, p->nvals + 1, sizeof *p->vals);
    if (!nv) return nomem_(p);
    p->vals = nv;
    p->vals[p->nvals++] = *v;
    return LG_OK;
}

/* Moves vals[base..nvals) into the arena as out's children. */
static lg_status close_container_(lgj_parser *p, lgj_value *out, size_t base)
{
    size_t n = p->nvals - base;
    out->n = n;
    out->u.elems = NULL;
    if (n) {
        if (n > SIZE_MAX / sizeof(lgj_value)) return nomem_(p);
        lgj_value *e = arena_alloc_(p, n * sizeof *e);
        if (!e) return nomem_(p);
        memcpy(e, p->vals + base, n * sizeof *e);
        out->u.elems = e;
    }
    p->nvals = base;
    return LG_OK;
}

static lg_status enter_(lgj_parser *p)
{
    if (++p->depth > LGJ_MAX_DEPTH)
        return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: nesting deeper than %d levels at byte offset %zu",
                       LGJ_MAX_DEPTH, p->pos);
    p->pos++;
    skip_ws_(p);
    return LG_OK;
}

static lg_status parse_array_(lgj_parser *p, lgj_value *out)
{
    size_t base = p->nvals;
    lg_status st = enter_(p);
    if (st != LG_OK) return st;
    if (peek_(p) != ']') {
        for (;;) {
            lgj_value v;
            if ((st = parse_value_(p, &v)) != LG_OK) return st;
            if ((st = push_val_(p, &v)) != LG_OK) return st;
            skip_ws_(p);
            if (peek_(p) == ']') break;
            if (peek_(p) != ',') return unexpected_(p, "',' or ']' in an array");
            p->pos++;
            skip_ws_(p);
            if (peek_(p) == ']')
                return lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: trailing comma before ']' at byte offset %zu",
                               p->pos);
        }
    }
    p->pos++;
    p->depth--;
    out->type = LGJ_ARR;
    out->keys = NULL;
    return close_container_(p, out, base);
}

static lg_status parse_object_(lgj_parser *p, lgj_value *out)
{
    size_t vbase = p->nvals, kbase = p->nkeys;
    size_t *slot = NULL, nslot = 0;
    lg_status st = enter_(p);
    if (st != LG_OK) return st;
    if (peek_(p) != '}') {
        for (;;) {
            if (peek_(p) != '"') {
                st = unexpected_(p, "a string key");
                goto fail;
            }
            size_t at = p->pos, klen;
            const char *key;
            if ((st = parse_string_(p, &key, &klen)) != LG_OK) goto fail;
            /* no keys yet: p->keys may still be NULL (no arithmetic on it) */
            const char **keys = p->keys ? p->keys + kbase : NULL;
            size_t n = p->nkeys - kbase;
            int dup = 0;
            if (slot) {
                dup = slot[slot_find_(slot, nslot, keys, key)] != 0;
            } else {
                for (size_t i = 0; i < n && !dup; i++) dup = strcmp(keys[i], key) == 0;
            }
            if (dup) {
                char q[80];
                lgj_quote(q, sizeof q, key);
                st = lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: duplicate key %s at byte offset %zu", q, at);
                goto fail;
            }
            const char **nk = grow_(p->keys, &p->capkeys, p->nkeys + 1, sizeof *p->keys);
            if (!nk) {
                st = nomem_(p);
                goto fail;
            }
            p->keys = nk;
            p->keys[p->nkeys++] = key;
            keys = p->keys + kbase;
            n++;
            if (n > LGJ_HASH_MIN) {
                if (!slot || 2 * n > nslot) {
                    if (slot_build_(&slot, &nslot, keys, n)) {
                        st = nomem_(p);
                        goto fail;
                    }
                } else {
                    slot[slot_find_(slot, nslot, keys, key)] = n;
                }
            }
            skip_ws_(p);
            if (peek_(p) != ':') {
                st = unexpected_(p, "':' after an object key");
                goto fail;
            }
            p->pos++;
            skip_ws_(p);
            lgj_value v;
            if ((st = parse_value_(p, &v)) != LG_OK) goto fail;
            if ((st = push_val_(p, &v)) != LG_OK) goto fail;
            skip_ws_(p);
            if (peek_(p) == '}') break;
            if (peek_(p) != ',') {
                st = unexpected_(p, "',' or '}' in an object");
                goto fail;
            }
            p->pos++;
            skip_ws_(p);
            if (peek_(p) == '}') {
                st = lg_fail(p->err, p->errlen, LG_ERR_FORMAT, "JSON: trailing comma before '}' at byte offset %zu",
                             p->pos);
                goto fail;
            }
        }
    }
    p->pos++;
    p->depth--;

    size_t n = p->nkeys - kbase;
    lgj_keys *k = arena_alloc_(p, sizeof *k);
    const char **kk = n ? arena_alloc_(p, n * sizeof *kk) : NULL;
    size_t *ks = slot ? arena_alloc_(p, nslot * sizeof *ks) : NULL;
    if (!k || (n && !kk) || (slot && !ks)) {
        st = nomem_(p);
        goto fail;
    }
    if (n) memcpy(kk, p->keys + kbase, n * sizeof *kk);
    if (slot) memcpy(ks, slot, nslot * sizeof *ks);
    k->key = kk;
    k->slot = ks;
    k->nslot = nslot;
    p->nkeys = kbase;
    out->type = LGJ_OBJ;
    out->keys = k;
    st = close_container_(p, out, vbase);
fail:
    free(slot);
    return st;
}

static lg_status parse_value_(lgj_parser *p, lgj_value *out)
{
    memset(out, 0, sizeof *out);
    switch (peek_(p)) {
    case '{': return parse_object_(p, out);
    case '[': return parse_array_(p, out);
    case '"': {
        const char *s;
        size_t n;
        lg_status st = parse_string_(p, &s, &n);
        if (st != LG_OK) return st;
        out->type = LGJ_STR;
        out->u.str = s;
        out->n = n;
        return LG_OK;
    }
    case 't': return parse_literal_(p, out, "true", LGJ_BOOL, 1);
    case 'f': return parse_literal_(p, out, "false", LGJ_BOOL, 0);
    case 'n': return parse_literal_(p, out, "null", LGJ_NULL, 0);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': return parse_number_(p, out);
    default: return unexpected_(p, "a value");
    }
}

lg_status lgj_parse(lgj_value **out, const char *s, size_t len, char *err, size_t errlen)
{
    if (!out || (!s && len)) return lg_fail(err, errlen, LG_ERR_INVALID, "lgj_parse: NULL argument");
    *out = NULL;
    lgj_parser p = {.s = s, .len = len, .err = err, .errlen = errlen};
    lg_status st;
    lgj_doc *doc = malloc(sizeof *doc);
    if (!doc) {
        st = nomem_(&p);
        goto fail;
    }
    skip_ws_(&p);
    if ((st = parse_value_(&p, &doc->root)) != LG_OK) goto fail;
    skip_ws_(&p);
    if (p.pos < len) {
        st = unexpected_(&p, "the end of input after the JSON value");
        goto fail;
    }
    doc->blocks = p.blocks;
    free(p.vals);
    free(p.keys);
    *out = &doc->root;
    return LG_OK;
fail:
    free(doc);
    blocks_free_(p.blocks);
    free(p.vals);
    free(p.keys);
    return st;
}

void lgj_free(lgj_value *v)
{
    if (!v) return;
    lgj_doc *doc = (lgj_doc *)v;
    blocks_free_(doc->blocks);
    free(doc);
}

/* -------------------------------------------------------------- accessors */

lgj_type lgj_typeof(const lgj_value *v) { return v ? v->type : LGJ_NULL; }

size_t lgj_len(const lgj_value *v) { return v && (v->type == LGJ_ARR || v->type == LGJ_OBJ) ? v->n : 0; }

const lgj_value *lgj_at(const lgj_value *v, size_t i)
{
    return v && (v->type == LGJ_ARR || v->type == LGJ_OBJ) && i < v->n ? &v->u.elems[i] : NULL;
}

const char *lgj_key(const lgj_value *v, size_t i)
{
    return v && v->type == LGJ_OBJ && i < v->n ? v->keys->key[i] : NULL;
}

const lgj_value *lgj_get(const lgj_value *v, const char *key)
{
    if (!v || v->type != LGJ_OBJ || !key) return NULL;
    const lgj_keys *k = v->keys;
    if (k->slot) {
        size_t i = k->slot[slot_find_(k->slot, k->nslot, k->key, key)];
        return i ? &v->u.elems[i - 1] : NULL;
    }
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(k->key[i], key) == 0) return &v->u.elems[i];
    return NULL;
}

const char *lgj_str(const lgj_value *v) { return v && v->type == LGJ_STR ? v->u.str : NULL; }

size_t lgj_strlen(const lgj_value *v) { return v && v->type == LGJ_STR ? v->n : 0; }

double lgj_num(const lgj_value *v) { return v && v->type == LGJ_NUM ? v->u.num : 0; }

int lgj_bool(const lgj_value *v) { return v && v->type == LGJ_BOOL ? v->u.b : 0; }

int lgj_uint(const lgj_value *v, uint64_t *out)
{
    if (!v || v->type != LGJ_NUM) return -1;
    double d = v->u.num;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return -1;
    if (out) *out = (uint64_t)d;
    return 0;
}

/* ----------------------------------------------------------------- writer */

size_t lgj_quote(char *buf, size_t buflen, const char *s)
{
    const char *hex = "0123456789abcdef";
    char tmp[8];
    size_t n = 0;
#define LGJ_PUT_(c)                                                                                                    \
    do {                                                                                                               \
        if (n + 1 < buflen) buf[n] = (char)(c);                                                                        \
        n++;                                                                                                           \
    } while (0)
    LGJ_PUT_('"');
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*c < 0x20) {
                memcpy(tmp, "\\u00", 4);
                tmp[4] = hex[*c >> 4];
                tmp[5] = hex[*c & 15];
                tmp[6] = '\0';
                esc = tmp;
            }
        }
        if (esc) {
            for (; *esc; esc++) LGJ_PUT_(*esc);
        } else {
            LGJ_PUT_(*c);
        }
    }
    LGJ_PUT_('"');
#undef LGJ_PUT_
    if (buflen) buf[n < buflen ? n : buflen - 1] = '\0';
    return n;
}
