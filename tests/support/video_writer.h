/* Writing small videos for the tests (the live preview's video input needs one to read): a plain-C interface over
 * OpenCV 4's cv::VideoWriter (video_writer.cpp). Test-only; neither the library nor the command-line tool writes
 * video. Like the other OpenCV shims, every function is extern "C", catches every C++ exception and reports it
 * through vte_error, and never prints. */
#ifndef VTE_TEST_VIDEO_WRITER_H
#define VTE_TEST_VIDEO_WRITER_H

#include "vitexplain.h"

#ifdef __cplusplus
extern "C" {
#endif

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
