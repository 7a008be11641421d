/* Pillow-exact resampling and the Hugging Face ViTImageProcessor / DeiTImageProcessor pipeline (slow,
 * Pillow path) in plain C: no OpenCV, no device. The public entry points vte_preprocess and
 * vte_preprocess_size are declared in vitexplain.h; this header adds the pieces they are built from. */
#ifndef VTE_IMAGE_PREPROCESS_H
#define VTE_IMAGE_PREPROCESS_H

#include "vitexplain.h"

/* Resizes an interleaved 8-bit image of `channels` (1..4) samples per pixel exactly as Pillow's
 * Image.resize((dst_w, dst_h), resample) does (with box=None and reducing_gap=None):
 *   - BILINEAR (triangle, support 1) and BICUBIC (Keys, a = -0.5, support 2): separable convolution whose
 *     support is widened by the scale factor when shrinking (antialiasing), weights normalised to sum 1 and
 *     rounded to 22-bit fixed point, 8-bit rounded intermediate, a pass skipped when its size does not
 *     change; the horizontal pass first over only the source rows the vertical pass reads, except where Pillow
 *     13 runs the vertical pass first (the height shrinks by more than twice as many pixels as the width);
 *   - NEAREST: Pillow's affine nearest neighbour (source coordinate accumulated in double, truncated).
 * The integer values 1 (LANCZOS), 4 (BOX) and 5 (HAMMING) of Pillow's Resampling enum are accepted too.
 * Equal sizes copy. src and dst must not overlap. Allocates only the coefficient tables and the
 * intermediate rows; fails with VTE_ERR_OUT_OF_MEMORY when that is impossible. */
vte_status vte_resize_u8(const unsigned char *src, int src_w, int src_h, int channels, unsigned char *dst,
                         int dst_w, int dst_h, vte_resample filter, vte_error *err);
/* The pixels [win_x, win_x + win_w) x [win_y, win_y + win_h) of that resize (the window lies inside dst_w x dst_h)
 * into dst (win_w x win_h), byte for byte what resizing the whole image and cropping gives, in time and memory of
 * the window's size. */
vte_status vte_resize_u8_window(const unsigned char *src, int src_w, int src_h, int channels, int dst_w, int dst_h,
                                int win_x, int win_y, int win_w, int win_h, unsigned char *dst, vte_resample filter,
                                vte_error *err);

/* Where the pipeline puts an image of src_w x src_h:
 *   resize_w x resize_h   the size after the resize step (the source size when do_resize is 0);
 *   crop_x, crop_y        top-left of the crop in the resized image, as transformers' center_crop computes
 *                         it: (resize - crop) // 2 with floor division, so negative when the crop is larger
 *                         than the image (that part is zero padding);
 *   out_w x out_h         the size after the crop step (the resized size when do_center_crop is 0).
 * Pixel (x, y) of the output comes from pixel (x + crop_x, y + crop_y) of the resized image, or is padding
 * when that is outside it. */
typedef struct vte_preprocess_geometry {
    int src_w, src_h;
    int resize_w, resize_h;
    int crop_x, crop_y;
    int out_w, out_h;
} vte_preprocess_geometry;

vte_status vte_preprocess_geometry_compute(const vte_preprocess_config *pp, int src_w, int src_h,
                                           vte_preprocess_geometry *geometry, vte_error *err);

/* The last two steps on an already resized 8-bit RGB image (interleaved, width x height): center crop to
 * out_w x out_h at (crop_x, crop_y) (zero padding outside), then rescale (float64 multiply, cast to float32)
 * and normalise ((x - mean) / std in float32), written channel-major (CHW) to out. */
void vte_preprocess_finish(const vte_preprocess_config *pp, const unsigned char *rgb, int width, int height,
                           int crop_x, int crop_y, int out_w, int out_h, float *out_chw);

#endif
