/* Image files: a plain-C interface over OpenCV 4 (imageio.cpp, the project's only C++ file) plus the C
 * conversion of decoded pixels to the library's 8-bit RGB (image.c).
 *
 * Every vte_cv_* function is extern "C", catches every C++ exception and reports it through vte_error, and
 * turns OpenCV's own OpenCL use off (cv::ocl::setUseOpenCL(false)) and its logging down to silent once,
 * before its first OpenCV call. They never print; OpenCV's codecs may still write a diagnostic of their own
 * to stderr for a corrupt file. */
#ifndef VTE_IMAGE_IMAGEIO_H
#define VTE_IMAGE_IMAGEIO_H

#include <stddef.h>

#include "vitexplain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decoded pixels as OpenCV returns them with cv::IMREAD_UNCHANGED. */
typedef struct vte_cv_pixels {
    int width, height;
    int channels;         /* 1: gray; 2: gray, alpha; 3: B, G, R; 4: B, G, R, A (OpenCV's order) */
    int bytes_per_sample; /* 1 (uint8) or 2 (uint16 in host byte order) */
    void *data;           /* height rows of width*channels samples, no padding; malloc'ed */
} vte_cv_pixels;

/* cv::imread(path, cv::IMREAD_UNCHANGED): no EXIF rotation (like Pillow's Image.open), no colour
 * conversion, 8- or 16-bit samples. Errors: VTE_ERR_FORMAT "<path>: cannot decode image (not a supported
 * image format or corrupt)" when OpenCV returns nothing, VTE_ERR_UNSUPPORTED for a sample type other than
 * 8/16-bit unsigned or a channel count above 4, VTE_ERR_OUT_OF_MEMORY. The caller checks that the file
 * exists and is readable first (vte_image_load does), to give those cases their own messages. */
vte_status vte_cv_read(const char *path, vte_cv_pixels *out, vte_error *err);
void vte_cv_pixels_free(vte_cv_pixels *pixels);

/* cv::imwrite of an interleaved 8-bit image: channels 1 (gray), 3 (R, G, B) or 4 (R, G, B, A); the format
 * follows the file name's extension (.png, .jpg, .bmp, ...). Writes `path` directly (not atomically). */
vte_status vte_cv_write(const char *path, const unsigned char *pixels, int width, int height, int channels,
                        vte_error *err);

/* Converts decoded pixels to 8-bit RGB the way Pillow's Image.convert('RGB') does: B,G,R -> R,G,B; alpha
 * dropped without compositing; gray (and gray+alpha) copied to all three channels; 16-bit samples reduced to
 * their high byte (v >> 8), which is what Pillow's PNG and TIFF readers do for 16-bit RGB, RGBA and LA.
 * Deliberate difference: Pillow opens a 16-bit grayscale image as mode "I;16" and convert('RGB') saturates it
 * (min(v, 255)), which makes nearly every 16-bit photograph white; here it is v >> 8 like the other 16-bit
 * modes. `source` (may be NULL) names the file in error messages. image->rgb is malloc'ed. */
vte_status vte_image_from_cv(const vte_cv_pixels *pixels, const char *source, vte_image *image, vte_error *err);

#ifdef __cplusplus
}
#endif

#endif
