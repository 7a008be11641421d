// Internal to the project's C++ shims over OpenCV 4 (image/imageio.cpp in the library, cli/display.cpp in the
// command-line tool, tests/support/video_writer.cpp in the tests): the helpers every shim needs, defined once.
// Each shim exposes an extern "C" interface whose entry points catch every exception (report_exception turns it
// into a vte_error) and call cv_init_once before their first OpenCV call. Not installed; not for C.
#ifndef VTE_IMAGE_CV_SHIM_HPP
#define VTE_IMAGE_CV_SHIM_HPP

#ifndef __cplusplus
#error "image/cv_shim.hpp is C++ only"
#endif

#include <exception>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "vitexplain.h"
extern "C" {
#include "util/error.h"
}

// Named (not anonymous) namespace and inline functions: one definition program-wide, so the static in
// cv_init_once is one flag for the whole process even when several shims are linked together.
namespace vte_cv {

// Once per process, before the first OpenCV call: keep OpenCV off OpenCL (the library owns the device) and
// keep its logger quiet (the library never prints). A function-local static is initialised thread-safely.
inline void cv_init_once() {
    static const bool done = [] {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        cv::ocl::setUseOpenCL(false);
        return true;
    }();
    (void)done;
}

// Turns the exception being handled into err (code for OpenCV's and other exceptions, VTE_ERR_OUT_OF_MEMORY for
// bad_alloc); call only inside a catch block. Messages: "<path>: <what_call> failed: <reason>".
inline vte_status report_exception(vte_error *err, const char *what_call, const char *path,
                                   vte_status code = VTE_ERR_FORMAT) {
    try {
        throw;
    } catch (const cv::Exception &e) {
        // e.err is the bare description; e.what() adds OpenCV's source file and line on several lines.
        return vte_error_set(err, code, "%s: %s failed: %s", path, what_call,
                             e.err.empty() ? e.what() : e.err.c_str());
    } catch (const std::bad_alloc &) {
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: %s: out of memory", path, what_call);
    } catch (const std::exception &e) {
        return vte_error_set(err, code, "%s: %s failed: %s", path, what_call, e.what());
    } catch (...) {
        return vte_error_set(err, code, "%s: %s failed with an unknown exception", path, what_call);
    }
}

// An RGB image with pixels to read or write.
inline bool image_ok(const vte_image *image) {
    return image && image->rgb && image->width > 0 && image->height > 0;
}

} // namespace vte_cv

#endif
