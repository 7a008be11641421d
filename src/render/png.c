/* PNG writing with text metadata (see render.h): OpenCV encodes in memory, the text chunks go right after
 * IHDR, and the bytes are written atomically through util/fileio.h. */
#include "render/render.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image/imageio.h"
#include "util/error.h"
#include "util/fileio.h"

/* The PNG signature and the IHDR chunk that follows it: 8 + (4 length, 4 type, 13 data, 4 CRC) bytes. */
static const unsigned char PNG_SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
#define PNG_HEAD_SIZE 33

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* Size of the text chunk for keyword/value (length, type, data, CRC). */
static size_t text_chunk_size(const char *keyword, const char *value) {
    size_t data = strlen(keyword) + 1 + strlen(value);
    if (!is_ascii(value)) data += 4; /* iTXt: compression flag, method, empty language and translated keyword */
    return 12 + data;
}

/* Writes the chunk at p (text_chunk_size bytes): tEXt for ASCII, else iTXt (tEXt is Latin-1, iTXt UTF-8). */
static void write_text_chunk(unsigned char *p, const char *keyword, const char *value) {
    const int itxt = !is_ascii(value);
    const size_t klen = strlen(keyword), vlen = strlen(value);
    const size_t data = klen + 1 + vlen + (itxt ? 4 : 0);
    put_u32(p, (uint32_t)data);
    memcpy(p + 4, itxt ? "iTXt" : "tEXt", 4);
    unsigned char *d = p + 8;
    memcpy(d, keyword, klen);
    d += klen;
    *d++ = 0;
    if (itxt) {
        *d++ = 0; /* not compressed */
        *d++ = 0; /* method */
        *d++ = 0; /* empty language tag */
        *d++ = 0; /* empty translated keyword */
    }
    memcpy(d, value, vlen);
    d += vlen;
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), p + 4, (uInt)(4 + data));
    put_u32(d, (uint32_t)crc);
}

/* The PNG file of `image` in memory (*png malloc'ed, *size bytes): OpenCV's encoding with the Title and
 * Description text chunks (those that are non-NULL) inserted right after IHDR. Errors name `path`. */
static vte_status encode_png_with_text(const char *path, const vte_image *image, const char *title,
                                       const char *description, unsigned char **png, size_t *size, vte_error *err) {
    const char *texts[2][2] = {{"Title", title}, {"Description", description}};
    unsigned char *plain = NULL;
    size_t plain_size = 0;
    *png = NULL;
    *size = 0;
    if (vte_cv_encode_png(image, &plain, &plain_size, err) != VTE_OK) return vte_error_prefix(err, "%s", path);
    if (plain_size < PNG_HEAD_SIZE || memcmp(plain, PNG_SIGNATURE, 8) != 0 || memcmp(plain + 12, "IHDR", 4) != 0 ||
        get_u32(plain + 8) != 13) {
        free(plain);
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: the PNG encoder's output does not start with IHDR", path);
    }
    size_t extra = 0;
    for (int i = 0; i < 2; i++)
        if (texts[i][1]) extra += text_chunk_size(texts[i][0], texts[i][1]);
    if (extra == 0) {
        *png = plain;
        *size = plain_size;
        return VTE_OK;
    }
    unsigned char *full = malloc(plain_size + extra);
    if (!full) {
        free(plain);
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, plain_size + extra);
    }
    memcpy(full, plain, PNG_HEAD_SIZE);
    size_t at = PNG_HEAD_SIZE;
    for (int i = 0; i < 2; i++)
        if (texts[i][1]) {
            write_text_chunk(full + at, texts[i][0], texts[i][1]);
            at += text_chunk_size(texts[i][0], texts[i][1]);
        }
    memcpy(full + at, plain + PNG_HEAD_SIZE, plain_size - PNG_HEAD_SIZE);
    free(plain);
    *png = full;
    *size = plain_size + extra;
    return VTE_OK;
}

vte_status vte_png_write(const char *path, const vte_image *image, const char *title, const char *description,
                         vte_error *err) {
    if (!path || !*path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_png_write: empty path");
    if (!image || !image->rgb || image->width <= 0 || image->height <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: empty image", path);
    unsigned char *png = NULL;
    size_t size = 0;
    vte_status st = encode_png_with_text(path, image, title, description, &png, &size, err);
    if (st == VTE_OK) st = vte_write_file_atomic(path, png, size, err);
    free(png);
    return st;
}
