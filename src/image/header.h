/* An image's format and size read from its file header, before anything is decoded: a file of a few kilobytes can
 * claim 30000 x 30000 pixels (a decompression bomb), and OpenCV would decode it at that size. Knowing the size
 * first lets vte_image_load refuse it, and choose a reduced-size decode, without allocating the pixels.
 *
 * The formats are those OpenCV 4.6 decodes into samples vitexplain can use: PNG, JPEG, BMP, WebP, TIFF (and
 * BigTIFF), PNM/PAM, Sun raster and JPEG 2000 (JP2 boxes or a raw codestream). Any other file
 * is refused, so that no format can reach a decoder without its size being known. */
#ifndef VTE_IMAGE_HEADER_H
#define VTE_IMAGE_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "vitexplain.h"

typedef enum vte_image_format {
    VTE_FORMAT_PNG,
    VTE_FORMAT_JPEG,
    VTE_FORMAT_BMP,
    VTE_FORMAT_WEBP,
    VTE_FORMAT_TIFF,
    VTE_FORMAT_PNM,
    VTE_FORMAT_SUN_RASTER,
    VTE_FORMAT_JPEG2000
} vte_image_format;

typedef struct vte_image_header {
    vte_image_format format;
    const char *format_name; /* "PNG", "JPEG", ... */
    int64_t width, height;   /* as the header states them, both >= 1 */
} vte_image_header;

/* A portable float map (PFM) is refused here (VTE_ERR_UNSUPPORTED): its samples are 32-bit floats, which the library
 * does not take, so it is not decoded at all. */
/* Reads the format and size from the first bytes of a file (`data`, `size`: the whole file or at least its
 * header; TIFF and JPEG 2000 may need more than the first kilobytes). VTE_ERR_FORMAT, naming `path`, when the bytes
 * match no format above, or the header is cut short or states a size of zero. */
vte_status vte_image_header_read(const unsigned char *data, size_t size, const char *path, vte_image_header *header,
                                 vte_error *err);

/* The list of formats for messages: "PNG, JPEG, ..., JPEG 2000". */
const char *vte_image_header_formats(void);

#endif
