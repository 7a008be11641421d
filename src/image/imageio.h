/* Image files and drawing: a plain-C interface over OpenCV 4 core, imgproc and imgcodecs (imageio.cpp; the
 * library's only OpenCV calls live there) plus the C conversion of decoded pixels to the library's 8-bit RGB
 * (image.c). Windows and video input are the command-line tool's (cli/display.h); the library links neither
 * OpenCV's highgui nor its videoio.
 *
 * Every vte_cv_* function is extern "C", catches every C++ exception and reports it through vte_error, and
 * turns OpenCV's own OpenCL use off (cv::ocl::setUseOpenCL(false)) and its logging down to silent once per
 * process, before its first OpenCV call (image/cv_shim.hpp). They never print; OpenCV's codecs may still write
 * a diagnostic of their own to stderr for a corrupt file. */
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
/* cv::imdecode of a file's bytes (`size` below 2 GiB), as vte_cv_read reads a file; `name` is for messages.
 * reduce 1 decodes at full size with cv::IMREAD_UNCHANGED; 2, 4 or 8 use cv::IMREAD_REDUCED_COLOR_<reduce>
 * (8-bit B, G, R, EXIF orientation ignored), which libjpeg does by scaling its inverse DCT: a large JPEG is decoded
 * at a fraction of the time and memory, into slightly different pixels than a full decode then a resize. */
vte_status vte_cv_decode(const void *data, size_t size, const char *name, int reduce, vte_cv_pixels *out,
                         vte_error *err);
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

/* ---------------------------------------------------------------- drawing and encoding (src/render/ uses these) */

/* OpenCV's COLORMAP_JET of 8-bit gray levels: rgb_out[3*i..] = R,G,B of level gray[i] (OpenCV returns BGR; this
 * converts). In OpenCV 4.6 level 0 is RGB (0,0,128) and level 255 is RGB (128,0,0). */
vte_status vte_cv_colormap_jet(const unsigned char *gray, size_t count, unsigned char *rgb_out, vte_error *err);

/* Draws text with cv::FONT_HERSHEY_SIMPLEX, anti-aliased (cv::LINE_AA), on an RGB image in place; (x, y) is the
 * baseline's left end; rgb is the colour. Hershey fonts are ASCII-only: printable ASCII is drawn as is; UTF-8
 * dashes and minus (U+2010..U+2015, U+2212) become '-', curly quotes become ' and ", U+2026 becomes "...",
 * U+00A0 a space, U+00D7 'x'; every other code point, control byte or invalid byte becomes one '?'. */
vte_status vte_cv_put_text(vte_image *image, const char *text, int x, int y, double scale, const unsigned char rgb[3],
                           int thickness, vte_error *err);
/* cv::getTextSize of the same (sanitised) text: width, height above the baseline, baseline depth below it. */
vte_status vte_cv_text_size(const char *text, double scale, int thickness, int *width, int *height, int *baseline,
                            vte_error *err);

/* cv::line from (x0, y0) to (x1, y1) on an RGB image in place, anti-aliased (cv::LINE_AA), clipped to the image;
 * rgb is the colour. */
vte_status vte_cv_line(vte_image *image, int x0, int y0, int x1, int y1, const unsigned char rgb[3], int thickness,
                       vte_error *err);

/* cv::resize of an RGB image to width x height: cv::INTER_AREA when shrinking both sides, cv::INTER_LINEAR
 * otherwise. out->rgb is malloc'ed. */
vte_status vte_cv_resize(const vte_image *image, int width, int height, vte_image *out, vte_error *err);

/* PNG-encodes an RGB image (cv::imencode, OpenCV's default compression) into a malloc'ed buffer. */
vte_status vte_cv_encode_png(const vte_image *image, unsigned char **data, size_t *size, vte_error *err);

#ifdef __cplusplus
}
#endif

#endif
