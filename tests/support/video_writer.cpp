// Test-only video writer: an extern "C" shim over OpenCV 4's cv::VideoWriter (see video_writer.h). Every entry
// point catches every exception and reports it through vte_error; nothing here prints or exits.
#include "video_writer.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "image/cv_shim.hpp"

using vte_cv::cv_init_once;
using vte_cv::image_ok;
using vte_cv::report_exception;

struct vte_cv_video_writer {
    cv::VideoWriter writer;
    std::string path;
    int width, height;
    cv::Mat bgr;
};

extern "C" vte_cv_video_writer *vte_cv_video_writer_open(const char *path, int width, int height, double fps,
                                                         vte_error *err) {
    if (!path || !*path) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_video_writer_open: empty path");
        return NULL;
    }
    if (width <= 0 || height <= 0 || !(fps > 0) || !std::isfinite(fps)) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: bad video size %dx%d or frame rate %g", path, width, height,
                      fps);
        return NULL;
    }
    const char *dot = std::strrchr(path, '.');
    std::string ext = dot ? dot + 1 : "";
    for (char &ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool mp4 = ext == "mp4" || ext == "m4v" || ext == "mov";
    const int fourcc = mp4 ? cv::VideoWriter::fourcc('m', 'p', '4', 'v') : cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
    vte_cv_video_writer *w = NULL;
    try {
        cv_init_once();
        w = new vte_cv_video_writer;
        w->path = path;
        w->width = width;
        w->height = height;
        if (!w->writer.open(path, cv::CAP_FFMPEG, fourcc, fps, cv::Size(width, height), true) ||
            !w->writer.isOpened()) {
            vte_error_set(err, VTE_ERR_IO,
                          "%s: cannot open a video writer (%s, %dx%d at %g fps): missing or unwritable folder, or a "
                          "container FFmpeg does not know",
                          path, mp4 ? "mp4v" : "MJPG", width, height, fps);
            delete w;
            return NULL;
        }
        return w;
    } catch (...) {
        report_exception(err, "cv::VideoWriter", path, VTE_ERR_IO);
        delete w;
        return NULL;
    }
}

extern "C" vte_status vte_cv_video_writer_add(vte_cv_video_writer *writer, const vte_image *frame, vte_error *err) {
    if (!writer || !image_ok(frame))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_video_writer_add: NULL writer or empty frame");
    if (frame->width != writer->width || frame->height != writer->height)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: frame is %dx%d, the video is %dx%d",
                             writer->path.c_str(), frame->width, frame->height, writer->width, writer->height);
    try {
        cv::Mat rgb(frame->height, frame->width, CV_8UC3, frame->rgb);
        cv::cvtColor(rgb, writer->bgr, cv::COLOR_RGB2BGR);
        writer->writer.write(writer->bgr);
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::VideoWriter::write", writer->path.c_str(), VTE_ERR_IO);
    }
}

extern "C" void vte_cv_video_writer_close(vte_cv_video_writer *writer) {
    if (!writer) return;
    try {
        writer->writer.release();
    } catch (...) {
    }
    delete writer;
}
