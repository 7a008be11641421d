// The project's only C++ file: an extern "C" shim over OpenCV 4 (see imageio.h). Every entry point catches
// every exception and reports it through vte_error; nothing here prints or exits.
#include "image/imageio.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

extern "C" {
#include "util/error.h"
}

namespace {

// Once per process, before the first OpenCV call: keep OpenCV off OpenCL (the library owns the device) and
// keep its logger quiet (the library never prints). A function-local static is initialised thread-safely.
void cv_init_once() {
    static const bool done = [] {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        cv::ocl::setUseOpenCL(false);
        return true;
    }();
    (void)done;
}

const char *depth_name(int depth) {
    switch (depth) {
    case CV_8U: return "8-bit unsigned";
    case CV_8S: return "8-bit signed";
    case CV_16U: return "16-bit unsigned";
    case CV_16S: return "16-bit signed";
    case CV_32S: return "32-bit integer";
    case CV_32F: return "32-bit float";
    case CV_64F: return "64-bit float";
    case CV_16F: return "16-bit float";
    default: return "unknown";
    }
}

// Turns the exception being handled into err; call only inside a catch block.
vte_status report_exception(vte_error *err, const char *what_call, const char *path) {
    try {
        throw;
    } catch (const cv::Exception &e) {
        // e.err is the bare description; e.what() adds OpenCV's source file and line on several lines.
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: %s failed: %s", path, what_call,
                             e.err.empty() ? e.what() : e.err.c_str());
    } catch (const std::bad_alloc &) {
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: %s: out of memory", path, what_call);
    } catch (const std::exception &e) {
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: %s failed: %s", path, what_call, e.what());
    } catch (...) {
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: %s failed with an unknown exception", path, what_call);
    }
}

} // namespace

extern "C" vte_status vte_cv_read(const char *path, vte_cv_pixels *out, vte_error *err) {
    if (!path || !out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_read: NULL argument");
    std::memset(out, 0, sizeof *out);
    try {
        cv_init_once();
        cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
        if (m.empty() || m.dims != 2 || m.rows <= 0 || m.cols <= 0)
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: cannot decode image (not a supported image format or corrupt)", path);
        const int depth = m.depth();
        const int channels = m.channels();
        if (depth != CV_8U && depth != CV_16U)
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: unsupported sample type (%s, %d channels); only 8- and 16-bit unsigned "
                                 "images are supported",
                                 path, depth_name(depth), channels);
        if (channels < 1 || channels > 4)
            return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: unsupported channel count %d (1 to 4 are supported)",
                                 path, channels);
        const size_t row_bytes = (size_t)m.cols * m.elemSize();
        void *data = std::malloc(row_bytes * (size_t)m.rows);
        if (!data)
            return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for a %dx%d image", path,
                                 row_bytes * (size_t)m.rows, m.cols, m.rows);
        for (int y = 0; y < m.rows; y++) std::memcpy((unsigned char *)data + (size_t)y * row_bytes, m.ptr(y), row_bytes);
        out->width = m.cols;
        out->height = m.rows;
        out->channels = channels;
        out->bytes_per_sample = depth == CV_16U ? 2 : 1;
        out->data = data;
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::imread", path);
    }
}

extern "C" void vte_cv_pixels_free(vte_cv_pixels *pixels) {
    if (!pixels) return;
    std::free(pixels->data);
    std::memset(pixels, 0, sizeof *pixels);
}

extern "C" vte_status vte_cv_write(const char *path, const unsigned char *pixels, int width, int height,
                                   int channels, vte_error *err) {
    if (!path || !pixels) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_write: NULL argument");
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3 && channels != 4))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: cannot write a %dx%d image of %d channels", path,
                             width, height, channels);
    try {
        cv_init_once();
        // A header over the caller's pixels (no copy), then OpenCV's channel order.
        cv::Mat rgb(height, width, CV_8UC(channels), const_cast<unsigned char *>(pixels));
        cv::Mat bgr;
        if (channels == 3) cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        else if (channels == 4) cv::cvtColor(rgb, bgr, cv::COLOR_RGBA2BGRA);
        else bgr = rgb;
        if (!cv::imwrite(path, bgr))
            return vte_error_set(err, VTE_ERR_IO, "%s: cannot write image (unknown extension or unwritable path)",
                                 path);
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::imwrite", path);
    }
}
