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

#include "image/imageio.h"
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

/* Gives missing, unreadable, non-regular and empty files their own messages before the decoder sees them
 * (OpenCV answers all of them with the same empty image). */
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
    FILE *f = fopen(path, "rb");
    if (!f) return vte_error_set(err, VTE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    if (st.st_size == 0) return vte_error_set(err, VTE_ERR_FORMAT, "%s: empty file (0 bytes), not an image", path);
    return VTE_OK;
}

/* libjpeg (and so OpenCV) decodes a truncated JPEG without complaint, filling the missing part with gray;
 * Pillow refuses it ("image file is truncated"). A complete JPEG has its end-of-image marker (FF D9) after
 * the start of its last scan (FF DA); markers cannot occur inside entropy-coded data (FF is stuffed as FF 00),
 * and an EXIF thumbnail's own FF D9 comes before the main image's scans. */
static vte_status check_jpeg_complete(const char *path, vte_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return VTE_OK; /* check_file already vouched for it; let the decoder report problems */
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 4) {
        close(fd);
        return VTE_OK;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) return VTE_OK;
    vte_status status = VTE_OK;
    if (data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
        size_t last_eoi = 0, last_sos = 0;
        for (size_t i = size - 1; i > 0 && (!last_eoi || !last_sos); i--) {
            if (data[i - 1] != 0xFF) continue;
            if (data[i] == 0xD9 && !last_eoi) last_eoi = i;
            if (data[i] == 0xDA && !last_sos) last_sos = i;
        }
        if (!last_eoi || last_eoi < last_sos)
            status = vte_error_set(err, VTE_ERR_FORMAT, "%s: truncated JPEG (no end-of-image marker after the image data)",
                                   path);
    }
    munmap((void *)data, size);
    return status;
}

vte_status vte_image_load(const char *path, vte_image *image, vte_error *err) {
    if (image) {
        image->width = image->height = 0;
        image->rgb = NULL;
    }
    if (!path || !image) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_image_load: NULL argument");
    if (!*path) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_image_load: empty path");
    vte_status st = check_file(path, err);
    if (st == VTE_OK) st = check_jpeg_complete(path, err);
    if (st != VTE_OK) return st;
    vte_cv_pixels px;
    st = vte_cv_read(path, &px, err);
    if (st != VTE_OK) return st;
    st = vte_image_from_cv(&px, path, image, err);
    vte_cv_pixels_free(&px);
    return st;
}

void vte_image_free(vte_image *image) {
    if (!image) return;
    free(image->rgb);
    image->rgb = NULL;
    image->width = image->height = 0;
}
