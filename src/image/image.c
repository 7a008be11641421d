/* vte_image: loading a file into 8-bit RGB (decode through the OpenCV shim, convert here in C). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "image/header.h"
#include "image/imageio.h"
#include "util/fileio.h"
#include "util/error.h"

vte_status vte_image_from_cv(const vte_cv_pixels *px, const char *source, vte_image *image, vte_error *err) {
    if (!px || !image) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_image_from_cv: NULL argument");
    const char *name = source ? source : "image";
    image->width = image->height = 0;
    image->rgb = NULL;
    if (!px->data || px->width <= 0 || px->height <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: empty image (%dx%d)", name, px->width, px->height);
    if (px->channels < 1 || px->channels > 4)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: unsupported channel count %d", name, px->channels);
    if (px->bytes_per_sample != 1 && px->bytes_per_sample != 2)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: unsupported sample size of %d bytes", name,
                             px->bytes_per_sample);
    const size_t n = (size_t)px->width * (size_t)px->height;
    if (n > SIZE_MAX / 3)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: image too large (%dx%d)", name, px->width,
                             px->height);
    unsigned char *rgb = malloc(n * 3);
    if (!rgb)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate a %dx%d RGB image", name, px->width,
                             px->height);

    const int ch = px->channels;
    /* Source channel of R, G, B: gray (and gray+alpha) repeat channel 0; OpenCV's colour order is B, G, R(, A). */
    const int map_gray[3] = {0, 0, 0}, map_bgr[3] = {2, 1, 0};
    const int *map = ch <= 2 ? map_gray : map_bgr;
    if (px->bytes_per_sample == 1) {
        const unsigned char *in = px->data;
        for (size_t i = 0; i < n; i++, in += ch)
            for (int c = 0; c < 3; c++) rgb[i * 3 + (size_t)c] = in[map[c]];
    } else {
        const uint16_t *in = px->data;
        for (size_t i = 0; i < n; i++, in += ch)
            for (int c = 0; c < 3; c++) rgb[i * 3 + (size_t)c] = (unsigned char)(in[map[c]] >> 8);
    }
    image->width = px->width;
    image->height = px->height;
    image->rgb = rgb;
    return VTE_OK;
}

/* Gives missing files, broken links, folders and other non-regular files their own messages (OpenCV would answer
 * all of them with the same empty image); opening and the empty file are vte_image_load_with_options'. */
static vte_status check_file(const char *path, vte_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        struct stat link_info;
        if (e == ENOENT && lstat(path, &link_info) == 0)
            return vte_error_set(err, VTE_ERR_IO, "%s: a symbolic link whose target does not exist", path);
        if (e == ENOENT || e == ENOTDIR) return vte_error_set(err, VTE_ERR_IO, "%s: no such file", path);
        return vte_error_set(err, VTE_ERR_IO, "%s: cannot access: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) return vte_error_set(err, VTE_ERR_IO, "%s: is a directory, not an image file", path);
    if (!S_ISREG(st.st_mode)) return vte_error_set(err, VTE_ERR_IO, "%s: not a regular file", path);
    return VTE_OK;
}

/* libjpeg (and so OpenCV) decodes a truncated JPEG without complaint, filling the missing part with gray;
 * Pillow refuses it ("image file is truncated"). A complete JPEG has its end-of-image marker (FF D9) after
 * the start of its last scan (FF DA); markers cannot occur inside entropy-coded data (FF is stuffed as FF 00),
 * and an EXIF thumbnail's own FF D9 comes before the main image's scans. */
static vte_status check_jpeg_complete(const unsigned char *data, size_t size, const char *path, vte_error *err) {
    size_t last_eoi = 0, last_sos = 0;
    for (size_t i = size - 1; i > 0 && (!last_eoi || !last_sos); i--) {
        if (data[i - 1] != 0xFF) continue;
        if (data[i] == 0xD9 && !last_eoi) last_eoi = i;
        if (data[i] == 0xDA && !last_sos) last_sos = i;
    }
    if (!last_eoi || last_eoi < last_sos)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: truncated JPEG (no end-of-image marker after the image data)",
                             path);
    return VTE_OK;
}

/* The reduction (1, 2, 4 or 8) of a JPEG decode: the largest that keeps both sides at least the minimum asked
 * for. libjpeg's scaled sizes round up. */
static int reduction_for(const vte_image_header *header, const vte_image_load_options *options) {
    if (header->format != VTE_FORMAT_JPEG || options->reduced_min_width <= 0 || options->reduced_min_height <= 0)
        return 1;
    for (int reduce = 8; reduce > 1; reduce /= 2)
        if ((header->width + reduce - 1) / reduce >= options->reduced_min_width &&
            (header->height + reduce - 1) / reduce >= options->reduced_min_height)
            return reduce;
    return 1;
}

/* Checks the size the header states against the limit (for the size it will be decoded at), then decodes. */
static vte_status decode_mapped(const unsigned char *data, size_t size, const char *path,
                                const vte_image_load_options *options, vte_image *image, vte_error *err) {
    vte_image_header header;
    vte_status st = vte_image_header_read(data, size, path, &header, err);
    if (st == VTE_OK && header.format == VTE_FORMAT_JPEG) st = check_jpeg_complete(data, size, path, err);
    if (st != VTE_OK) return st;
    const long long limit = options->max_pixels > 0 ? options->max_pixels : VTE_IMAGE_DEFAULT_MAX_PIXELS;
    const int reduce = reduction_for(&header, options);
    const int64_t width = (header.width + reduce - 1) / reduce, height = (header.height + reduce - 1) / reduce;
    if (width > limit / height) /* width * height > limit, without overflow */
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "%s: the %s header states %lldx%lld pixels%s, more than the limit of %lld pixels; the "
                             "image is not decoded (the limit is --max-pixels, vte_image_load_options.max_pixels in "
                             "the library)",
                             path, header.format_name, (long long)header.width, (long long)header.height,
                             reduce > 1 ? " (even at the reduced size)" : "", limit);
    vte_cv_pixels px;
    if ((st = vte_cv_decode(data, size, path, reduce, &px, err)) != VTE_OK) return st;
    /* The decoder reads the same header fields; this only guards against a disagreement between the two. */
    if ((int64_t)px.width * px.height > limit)
        st = vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: decoded to %dx%d pixels, more than the limit of %lld", path,
                           px.width, px.height, limit);
    else
        st = vte_image_from_cv(&px, path, image, err);
    vte_cv_pixels_free(&px);
    return st;
}

vte_status vte_image_load_with_options(const char *path, const vte_image_load_options *options, vte_image *image,
                                       vte_error *err) {
    if (image) {
        image->width = image->height = 0;
        image->rgb = NULL;
    }
    if (!path || !image) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_image_load: NULL argument");
    if (!*path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_image_load: empty path");
    const vte_image_load_options defaults = {0};
    if (!options) options = &defaults;
    vte_status st = check_file(path, err);
    if (st != VTE_OK) return st;
    /* Decoded from one mapping of the file: the bytes whose header was checked are the bytes decoded. */
    const int fd = vte_open_regular_file(path, err);
    if (fd < 0) return err ? err->code : VTE_ERR_IO;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        const int e = errno;
        close(fd);
        return vte_error_set(err, VTE_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    if (info.st_size == 0) {
        close(fd);
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: empty file (0 bytes), not an image", path);
    }
    if ((uint64_t)info.st_size >= (uint64_t)INT32_MAX) {
        close(fd);
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: a file of %lld bytes; images of 2 GiB or more are not read",
                             path, (long long)info.st_size);
    }
    const size_t size = (size_t)info.st_size;
    const unsigned char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_errno = errno;
    close(fd);
    if (data == MAP_FAILED) return vte_error_set(err, VTE_ERR_IO, "%s: cannot read: %s", path, strerror(map_errno));
    st = decode_mapped(data, size, path, options, image, err);
    munmap((void *)data, size);
    return st;
}

vte_status vte_image_load(const char *path, vte_image *image, vte_error *err) {
    return vte_image_load_with_options(path, NULL, image, err);
}

void vte_image_free(vte_image *image) {
    if (!image) return;
    free(image->rgb);
    image->rgb = NULL;
    image->width = image->height = 0;
}
