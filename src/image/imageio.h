/* Image files, drawing, windows and video: a plain-C interface over OpenCV 4 (imageio.cpp, the project's only C++
 * file; every OpenCV call of the project lives there) plus the C conversion of decoded pixels to the library's
 * 8-bit RGB (image.c).
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

/* ---------------------------------------------------------------- drawing and encoding (render.c uses these) */

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

/* cv::resize of an RGB image to width x height: cv::INTER_AREA when shrinking both sides, cv::INTER_LINEAR
 * otherwise. out->rgb is malloc'ed. */
vte_status vte_cv_resize(const vte_image *image, int width, int height, vte_image *out, vte_error *err);

/* PNG-encodes an RGB image (cv::imencode, OpenCV's default compression) into a malloc'ed buffer. */
vte_status vte_cv_encode_png(const vte_image *image, unsigned char **data, size_t *size, vte_error *err);

/* ---------------------------------------------------------------- windows (highgui, Qt 5 in Debian's build) */
/* Qt itself may write diagnostics to stderr (e.g. "This plugin does not support propagateSizeHints()" with the
 * offscreen platform); the shim cannot silence them. */

/* 1 when a window can be shown without Qt aborting the process (Qt 5 calls abort() when no platform plugin can
 * start, which no exception handler can catch):
 *   - QT_QPA_PLATFORM=offscreen or =minimal: 1 (no display is needed);
 *   - QT_QPA_PLATFORM=xcb: DISPLAY is set and the X server answers;
 *   - QT_QPA_PLATFORM=wayland...: WAYLAND_DISPLAY is set and its socket exists;
 *   - otherwise (unset or another plugin): either of the two above.
 * The X probe dlopen()s libX11.so.6 and calls XOpenDisplay/XCloseDisplay (no link dependency on libX11). The
 * environment is read at every call (nothing is cached). */
int vte_cv_display_available(void);

typedef struct vte_cv_window vte_cv_window;
/* A resizable window (aspect kept, no Qt toolbar). Fails with VTE_ERR_UNSUPPORTED "no display ..." when
 * !vte_cv_display_available(). When only Wayland is usable and QT_QPA_PLATFORM is unset, sets
 * QT_QPA_PLATFORM=wayland first (Qt 5 would otherwise try xcb and abort). Titles name windows in highgui:
 * keep them distinct. */
vte_cv_window *vte_cv_window_open(const char *title, vte_error *err);
/* cv::imshow of an RGB frame (the first frame sizes the window, scaled to fit 1600x1000). */
vte_status vte_cv_window_show(vte_cv_window *window, const vte_image *frame, vte_error *err);
/* cv::waitKey(delay_ms) (pumps the GUI events; delay_ms <= 0 is taken as 1 so it never blocks): the key code as
 * OpenCV reports it (ASCII for ordinary keys; arrows and others as the Qt backend codes them) or -1. */
int vte_cv_window_wait_key(vte_cv_window *window, int delay_ms);
/* 0 once the user closed the window (cv::WND_PROP_VISIBLE < 1) or it is gone; 1 while it shows. */
int vte_cv_window_is_open(vte_cv_window *window);
/* Destroys the window (if still there) and frees the handle; NULL is fine. */
void vte_cv_window_close(vte_cv_window *window);

/* ---------------------------------------------------------------- video input and output (videoio) */

typedef struct vte_cv_capture vte_cv_capture;
/* cv::VideoCapture(index, cv::CAP_V4L2), buffer size 1 (newest frame). Errors name /dev/video<index>: no such
 * device, permission denied, or cannot be opened (busy or not a capture device). */
vte_cv_capture *vte_cv_capture_open_camera(int index, vte_error *err);
/* cv::VideoCapture(path, cv::CAP_FFMPEG). Errors name the path: missing/unreadable file, or not a video
 * OpenCV's FFmpeg backend can decode. */
vte_cv_capture *vte_cv_capture_open_file(const char *path, vte_error *err);
/* Next frame as 8-bit RGB (gray/BGRA/16-bit frames are converted). `frame` must be zero-initialised or hold a
 * previous frame: frame->rgb is malloc'ed/realloc'ed by the call (free it with vte_image_free). Returns VTE_OK
 * with *end = 0, or VTE_ERR_IO with a message: for a file, the end of the stream (*end = 1: OpenCV cannot tell a
 * truncated file from its end, so every read failure after a successful open counts as the end); for a camera,
 * a failed grab (*end = 0). */
vte_status vte_cv_capture_read(vte_cv_capture *capture, vte_image *frame, int *end, vte_error *err);
/* cv::CAP_PROP_FPS, or 0 when unknown (not positive or not finite). */
double vte_cv_capture_fps(vte_cv_capture *capture);
void vte_cv_capture_close(vte_cv_capture *capture);

typedef struct vte_cv_video_writer vte_cv_video_writer;
/* cv::VideoWriter through the FFmpeg backend: MJPG for .avi, .mkv and other names, mp4v for .mp4/.m4v/.mov.
 * Fails (VTE_ERR_IO naming the path) when the writer does not open (missing folder, unknown container). */
vte_cv_video_writer *vte_cv_video_writer_open(const char *path, int width, int height, double fps, vte_error *err);
/* Appends an RGB frame; its size must equal the writer's (VTE_ERR_INVALID_ARGUMENT otherwise). */
vte_status vte_cv_video_writer_add(vte_cv_video_writer *writer, const vte_image *frame, vte_error *err);
/* Finishes the file and frees the handle; NULL is fine. */
void vte_cv_video_writer_close(vte_cv_video_writer *writer);

#ifdef __cplusplus
}
#endif

#endif
