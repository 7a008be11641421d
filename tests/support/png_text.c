/* Reading PNG text chunks back (see png_text.h). */
#include "png_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Inflates a zlib stream; malloc'ed and NUL-terminated, or NULL. */
static char *inflate_all(const unsigned char *src, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) return NULL;
    size_t cap = n * 4 + 64, len = 0;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    int rc = Z_OK;
    while (out && rc == Z_OK) {
        if (cap - len < 2) {
            if (cap > (size_t)64 << 20) break; /* refuse a text bigger than 64 MiB */
            char *p = realloc(out, cap * 2);
            if (!p) break;
            out = p;
            cap *= 2;
        }
        zs.next_out = (Bytef *)out + len;
        zs.avail_out = (uInt)(cap - len - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - 1 - zs.avail_out;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

/* Latin-1 bytes to a malloc'ed UTF-8 string. */
static char *latin1_to_utf8(const unsigned char *s, size_t n) {
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[k++] = (char)s[i];
        } else {
            out[k++] = (char)(0xC0 | (s[i] >> 6));
            out[k++] = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    out[k] = '\0';
    return out;
}

/* The value of a text chunk of `type` with data d (n bytes) when its keyword is `key`, else NULL. */
static char *text_chunk_value(const unsigned char *type, const unsigned char *d, size_t n, const char *key) {
    const size_t klen = strlen(key);
    if (n < klen + 1 || memcmp(d, key, klen) != 0 || d[klen] != 0) return NULL;
    const unsigned char *v = d + klen + 1;
    size_t vn = n - klen - 1;
    if (memcmp(type, "tEXt", 4) == 0) return latin1_to_utf8(v, vn);
    if (memcmp(type, "zTXt", 4) == 0) {
        if (vn < 1 || v[0] != 0) return NULL;
        char *raw = inflate_all(v + 1, vn - 1);
        if (!raw) return NULL;
        char *utf8 = latin1_to_utf8((const unsigned char *)raw, strlen(raw));
        free(raw);
        return utf8;
    }
    /* iTXt: flag, method, language\0, translated keyword\0, text */
    if (vn < 2) return NULL;
    const int compressed = v[0];
    const unsigned char *q = v + 2, *end = v + vn;
    for (int skip = 0; skip < 2; skip++) {
        const unsigned char *z = memchr(q, 0, (size_t)(end - q));
        if (!z) return NULL;
        q = z + 1;
    }
    if (compressed) return inflate_all(q, (size_t)(end - q));
    char *out = malloc((size_t)(end - q) + 1);
    if (!out) return NULL;
    memcpy(out, q, (size_t)(end - q));
    out[end - q] = '\0';
    return out;
}

char *vte_test_png_read_text(const char *path, const char *key) {
    if (!path || !key || !*key) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    char *result = NULL;
    if (fread(head, 1, 8, f) != 8 || memcmp(head, sig, 8) != 0) goto done;
    for (;;) {
        if (fread(head, 1, 8, f) != 8) break;
        const uint32_t len = get_u32(head);
        if (len > 0x7fffffffu) break;
        const unsigned char *type = head + 4;
        if (memcmp(type, "IEND", 4) == 0) break;
        if (memcmp(type, "tEXt", 4) == 0 || memcmp(type, "zTXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0) {
            unsigned char *d = malloc(len ? len : 1);
            if (!d) break;
            if (fread(d, 1, len, f) != len) {
                free(d);
                break;
            }
            result = text_chunk_value(type, d, len, key);
            free(d);
            if (result) break;
            if (fseek(f, 4, SEEK_CUR) != 0) break; /* CRC */
        } else if (fseek(f, (long)len + 4, SEEK_CUR) != 0) {
            break;
        }
    }
done:
    fclose(f);
    return result;
}
