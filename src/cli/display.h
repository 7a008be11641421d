/* Windows and video input for `vitexplain live`: a plain-C interface over OpenCV 4's highgui and videoio
 * (display.cpp). Part of the command-line tool, not of the library, so that a program that only wants maps
 * does not pull in Qt and FFmpeg.
 *
 * Like the library's image shim (image/imageio.h), every vte_cv_* function here is extern "C", catches every
 * C++ exception and reports it through vte_error, turns OpenCV's own OpenCL use off and its logging down to
 * silent once per process before its first OpenCV call (image/cv_shim.hpp), and never prints. */
#ifndef VTE_CLI_DISPLAY_H
#define VTE_CLI_DISPLAY_H

#include "vitexplain.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* ---------------------------------------------------------------- video input (videoio) */

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

#ifdef __cplusplus
}
#endif

#endif
