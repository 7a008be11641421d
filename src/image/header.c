/* Image sizes from file headers (header.h). Every read is bounds-checked against the bytes given: the input is
 * untrusted and is fuzzed (tests/fuzz). Only the fields that state the size are read; the decoders check the rest. */
#include "image/header.h"

#include <ctype.h>
#include <string.h>

#include "util/error.h"

static const char FORMATS[] = "PNG, JPEG, BMP, WebP, TIFF, PNM, Sun raster and JPEG 2000";

const char *vte_image_header_formats(void) { return FORMATS; }

/* A view of the bytes with checked big- and little-endian reads; `ok` turns 0 on the first read past the end. */
typedef struct byte_view {
    const unsigned char *data;
    size_t size;
    int ok;
} byte_view;

static int has(byte_view *v, uint64_t offset, uint64_t count) {
    if (offset > v->size || count > v->size - offset) v->ok = 0;
    return v->ok;
}

static uint64_t read_uint(byte_view *v, uint64_t offset, int bytes, int big_endian) {
    if (!has(v, offset, (uint64_t)bytes)) return 0;
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++) {
        const uint64_t byte = v->data[offset + (uint64_t)(big_endian ? i : bytes - 1 - i)];
        value = (value << 8) | byte;
    }
    return value;
}

static uint64_t be(byte_view *v, uint64_t offset, int bytes) { return read_uint(v, offset, bytes, 1); }
static uint64_t le(byte_view *v, uint64_t offset, int bytes) { return read_uint(v, offset, bytes, 0); }

static int starts_with(const byte_view *v, const char *magic, size_t length) {
    return v->size >= length && memcmp(v->data, magic, length) == 0;
}

/* PNG: the IHDR chunk comes first, right after the signature. */
static int png_size(byte_view *v, int64_t *w, int64_t *h) {
    if (!has(v, 12, 4) || memcmp(v->data + 12, "IHDR", 4) != 0) return 0;
    *w = (int64_t)be(v, 16, 4);
    *h = (int64_t)be(v, 20, 4);
    return v->ok;
}

/* JPEG: walk the marker segments to the first start-of-frame (SOF0..SOF15 but DHT C4, JPG C8, DAC CC). */
static int jpeg_size(byte_view *v, int64_t *w, int64_t *h) {
    uint64_t at = 2;
    while (has(v, at, 2)) {
        if (v->data[at] != 0xFF) return 0;
        const unsigned marker = v->data[at + 1];
        if (marker == 0xFF) { /* fill byte */
            at++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { /* no length */
            at += 2;
            continue;
        }
        if (marker == 0xD9 || marker == 0xDA) return 0; /* end of image or scan data before any frame header */
        const uint64_t length = be(v, at + 2, 2);
        if (!v->ok || length < 2) return 0;
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            *h = (int64_t)be(v, at + 5, 2);
            *w = (int64_t)be(v, at + 7, 2);
            return v->ok;
        }
        at += 2 + length;
    }
    return 0;
}

/* BMP: the size follows the DIB header's own size; OS/2 1.x headers (12 bytes) store it in 16 bits. A negative
 * height means rows top to bottom. */
static int bmp_size(byte_view *v, int64_t *w, int64_t *h) {
    const uint64_t dib_size = le(v, 14, 4);
    if (dib_size == 12) {
        *w = (int64_t)le(v, 18, 2);
        *h = (int64_t)le(v, 20, 2);
    } else {
        *w = (int32_t)(uint32_t)le(v, 18, 4);
        *h = (int32_t)(uint32_t)le(v, 22, 4);
        if (*h < 0) *h = -*h; /* int64: no overflow for INT32_MIN */
    }
    return v->ok;
}

/* WebP: RIFF, then a lossy (VP8), lossless (VP8L) or extended (VP8X, canvas size) first chunk. */
static int webp_size(byte_view *v, int64_t *w, int64_t *h) {
    if (!has(v, 12, 4)) return 0;
    const unsigned char *chunk = v->data + 12;
    if (memcmp(chunk, "VP8 ", 4) == 0) {
        if (!has(v, 23, 3) || memcmp(v->data + 23, "\x9d\x01\x2a", 3) != 0) return 0;
        *w = (int64_t)(le(v, 26, 2) & 0x3FFF);
        *h = (int64_t)(le(v, 28, 2) & 0x3FFF);
    } else if (memcmp(chunk, "VP8L", 4) == 0) {
        if (!has(v, 20, 5) || v->data[20] != 0x2F) return 0;
        const uint64_t bits = le(v, 21, 4);
        *w = (int64_t)(bits & 0x3FFF) + 1;
        *h = (int64_t)((bits >> 14) & 0x3FFF) + 1;
    } else if (memcmp(chunk, "VP8X", 4) == 0) {
        *w = (int64_t)le(v, 24, 3) + 1;
        *h = (int64_t)le(v, 27, 3) + 1;
    } else {
        return 0;
    }
    return v->ok;
}

/* TIFF and BigTIFF: ImageWidth (256) and ImageLength (257) of the first image file directory, the page OpenCV
 * reads. */
static int tiff_size(byte_view *v, int64_t *w, int64_t *h) {
    const int big_endian = v->data[0] == 'M';
    const int big_tiff = read_uint(v, 2, 2, big_endian) == 43;
    const uint64_t ifd = big_tiff ? read_uint(v, 8, 8, big_endian) : read_uint(v, 4, 4, big_endian);
    const int count_bytes = big_tiff ? 8 : 2, entry_bytes = big_tiff ? 20 : 12, value_at = big_tiff ? 12 : 8;
    const uint64_t entries = read_uint(v, ifd, count_bytes, big_endian);
    if (!v->ok) return 0;
    *w = *h = 0;
    for (uint64_t i = 0; i < entries && v->ok; i++) {
        const uint64_t entry = ifd + (uint64_t)count_bytes + i * (uint64_t)entry_bytes;
        if (!has(v, entry, (uint64_t)entry_bytes)) return 0;
        const uint64_t tag = read_uint(v, entry, 2, big_endian);
        if (tag != 256 && tag != 257) continue;
        const uint64_t type = read_uint(v, entry + 2, 2, big_endian);
        uint64_t value;
        if (type == 3) value = read_uint(v, entry + (uint64_t)value_at, 2, big_endian);      /* SHORT */
        else if (type == 4) value = read_uint(v, entry + (uint64_t)value_at, 4, big_endian); /* LONG */
        else if (type == 16 && big_tiff) value = read_uint(v, entry + 12, 8, big_endian);     /* LONG8 */
        else return 0;
        if (value > INT64_MAX) return 0;
        /* libtiff keeps a tag's first entry and ignores later duplicates (tif_dirread.c): so does this. */
        int64_t *field = tag == 256 ? w : h;
        if (*field == 0) *field = (int64_t)value;
    }
    return v->ok && *w > 0 && *h > 0;
}

/* Skips whitespace and '#' comments of a PNM header. */
static uint64_t pnm_skip(const byte_view *v, uint64_t at) {
    while (at < v->size) {
        if (v->data[at] == '#') {
            while (at < v->size && v->data[at] != '\n' && v->data[at] != '\r') at++;
        } else if (isspace(v->data[at])) {
            at++;
        } else {
            break;
        }
    }
    return at;
}

/* A decimal number of at most 12 digits (larger is refused anyway) ended by another byte (a number cut by the end
 * of the data could be the start of a larger one); 0 when there is none. */
static int pnm_number(const byte_view *v, uint64_t *at, int64_t *out) {
    int digits = 0;
    int64_t value = 0;
    while (*at < v->size && isdigit(v->data[*at])) {
        if (++digits > 12) return 0;
        value = value * 10 + (v->data[*at] - '0');
        (*at)++;
    }
    *out = value;
    return digits > 0 && *at < v->size;
}

/* PBM, PGM, PPM (P1..P6): width and height are the first two numbers; PAM (P7): the WIDTH and HEIGHT lines before
 * ENDHDR. */
static int pnm_size(byte_view *v, int64_t *w, int64_t *h) {
    if (v->data[1] == '7') {
        *w = *h = 0;
        uint64_t at = 2;
        while (at < v->size) {
            at = pnm_skip(v, at);
            const char *token = (const char *)v->data + at;
            const uint64_t left = v->size - at;
            if (left >= 6 && memcmp(token, "ENDHDR", 6) == 0) break;
            int64_t *field = left >= 5 && memcmp(token, "WIDTH", 5) == 0    ? w
                             : left >= 6 && memcmp(token, "HEIGHT", 6) == 0 ? h
                                                                             : NULL;
            if (field) {
                at = pnm_skip(v, at + (field == w ? 5 : 6));
                if (!pnm_number(v, &at, field)) return 0;
            } else {
                while (at < v->size && !isspace(v->data[at])) at++;
            }
        }
        return *w > 0 && *h > 0;
    }
    /* OpenCV's reader (grfmt_pxm.cpp, ReadNumber) takes the byte that ends a number with it, whatever it is: a '#'
     * right after the width does not start a comment there. Read the same way, or "30000#30000" would be 30000 x 1
     * here and 30000 x 30000 to the decoder. */
    uint64_t at = pnm_skip(v, 2);
    if (!pnm_number(v, &at, w)) return 0;
    at = pnm_skip(v, at + 1);
    return pnm_number(v, &at, h);
}

/* JPEG 2000 codestream: the SIZ segment follows SOC; the image is Xsiz - XOsiz by Ysiz - YOsiz. */
static int j2k_size(byte_view *v, uint64_t at, int64_t *w, int64_t *h) {
    if (be(v, at, 2) != 0xFF4F || be(v, at + 2, 2) != 0xFF51) return 0;
    const uint64_t xsiz = be(v, at + 8, 4), ysiz = be(v, at + 12, 4);
    const uint64_t xosiz = be(v, at + 16, 4), yosiz = be(v, at + 20, 4);
    if (!v->ok || xosiz >= xsiz || yosiz >= ysiz) return 0;
    *w = (int64_t)(xsiz - xosiz);
    *h = (int64_t)(ysiz - yosiz);
    return 1;
}

/* JP2: boxes (32-bit length, 4-byte type; length 1: a 64-bit length follows; 0: to the end). The size is in the
 * image header box (ihdr: height, then width) inside the header box (jp2h). */
static int jp2_size(byte_view *v, int64_t *w, int64_t *h) {
    uint64_t at = 0, end = v->size;
    for (int depth = 0; has(v, at, 8);) {
        uint64_t length = be(v, at, 4), header = 8;
        if (length == 1) {
            length = be(v, at + 8, 8);
            header = 16;
        } else if (length == 0) {
            length = end - at;
        }
        if (!v->ok || length < header || length > end - at) return 0;
        const unsigned char *type = v->data + at + 4;
        if (memcmp(type, "jp2h", 4) == 0 && depth == 0) { /* enter the super box */
            end = at + length;
            at += header;
            depth = 1;
            continue;
        }
        if (memcmp(type, "ihdr", 4) == 0 && depth == 1) {
            *h = (int64_t)be(v, at + header, 4);
            *w = (int64_t)be(v, at + header + 4, 4);
            return v->ok;
        }
        if (memcmp(type, "jp2c", 4) == 0 && depth == 0) return j2k_size(v, at + header, w, h);
        at += length;
    }
    return 0;
}

vte_status vte_image_header_read(const unsigned char *data, size_t size, const char *path, vte_image_header *header,
                                 vte_error *err) {
    memset(header, 0, sizeof *header);
    if (!path) path = "image";
    byte_view v = {data, data ? size : 0, 1};
    int64_t w = 0, h = 0;
    int recognised = 1, sized = 0;
    if (starts_with(&v, "\x89PNG\r\n\x1a\n", 8)) {
        header->format = VTE_FORMAT_PNG, header->format_name = "PNG";
        sized = png_size(&v, &w, &h);
    } else if (starts_with(&v, "\xff\xd8\xff", 3)) {
        header->format = VTE_FORMAT_JPEG, header->format_name = "JPEG";
        sized = jpeg_size(&v, &w, &h);
    } else if (starts_with(&v, "BM", 2)) {
        header->format = VTE_FORMAT_BMP, header->format_name = "BMP";
        sized = bmp_size(&v, &w, &h);
    } else if (v.size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) {
        header->format = VTE_FORMAT_WEBP, header->format_name = "WebP";
        sized = webp_size(&v, &w, &h);
    } else if (starts_with(&v, "II*\0", 4) || starts_with(&v, "MM\0*", 4) || starts_with(&v, "II+\0", 4) ||
               starts_with(&v, "MM\0+", 4)) {
        header->format = VTE_FORMAT_TIFF, header->format_name = "TIFF";
        sized = tiff_size(&v, &w, &h);
    } else if (v.size >= 2 && data[0] == 'P' && (data[1] == 'F' || data[1] == 'f')) {
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "%s: a portable float map (PFM) holds 32-bit float samples; only 8- and 16-bit unsigned "
                             "images are supported",
                             path);
    } else if (v.size >= 2 && data[0] == 'P' && data[1] && strchr("1234567", data[1])) {
        header->format = VTE_FORMAT_PNM, header->format_name = "PNM";
        sized = pnm_size(&v, &w, &h);
    } else if (starts_with(&v, "\x59\xa6\x6a\x95", 4)) {
        header->format = VTE_FORMAT_SUN_RASTER, header->format_name = "Sun raster";
        w = (int64_t)be(&v, 4, 4);
        h = (int64_t)be(&v, 8, 4);
        sized = v.ok;
    } else if (starts_with(&v, "\x00\x00\x00\x0c\x6a\x50\x20\x20\x0d\x0a\x87\x0a", 12)) {
        header->format = VTE_FORMAT_JPEG2000, header->format_name = "JPEG 2000";
        sized = jp2_size(&v, &w, &h);
    } else if (starts_with(&v, "\xff\x4f\xff\x51", 4)) {
        header->format = VTE_FORMAT_JPEG2000, header->format_name = "JPEG 2000";
        sized = j2k_size(&v, 0, &w, &h);
    } else {
        recognised = 0;
    }
    if (!recognised)
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: cannot decode image (not a supported image format or corrupt): its first bytes are "
                             "none of %s",
                             path, FORMATS);
    if (!sized || w <= 0 || h <= 0)
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: cannot decode image (not a supported image format or corrupt): its %s header is cut "
                             "short or states no size",
                             path, header->format_name);
    header->width = w;
    header->height = h;
    return VTE_OK;
}
