// Windows and video input for `vitexplain live`: an extern "C" shim over OpenCV 4's highgui and videoio (see
// display.h). Every entry point catches every exception and reports it through vte_error; nothing here prints
// or exits. Part of the command-line tool: the library (image/imageio.cpp) links neither highgui nor videoio.
#include "cli/display.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "image/cv_shim.hpp"

using vte_cv::cv_init_once;
using vte_cv::image_ok;
using vte_cv::report_exception;

// ---------------------------------------------------------------- windows

namespace {

bool env_set(const char *name) {
    const char *v = std::getenv(name);
    return v && *v;
}

bool starts_with(const char *s, const char *prefix) {
    return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Does the X server named by DISPLAY answer? libX11 is loaded at run time so that the library does not link it.
bool x_display_answers() {
    const char *name = std::getenv("DISPLAY");
    if (!name || !*name) return false;
    void *lib = dlopen("libX11.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return false;
    typedef void *(*open_fn)(const char *);
    typedef int (*close_fn)(void *);
    open_fn xopen = reinterpret_cast<open_fn>(dlsym(lib, "XOpenDisplay"));
    close_fn xclose = reinterpret_cast<close_fn>(dlsym(lib, "XCloseDisplay"));
    bool ok = false;
    if (xopen && xclose) {
        void *display = xopen(name);
        if (display) {
            ok = true;
            xclose(display);
        }
    }
    // libX11 registers nothing that outlives XCloseDisplay; it stays loaded (dlclose of libX11 is known to be
    // unsafe after XOpenDisplay in some versions), so the handle is deliberately kept.
    return ok;
}

// WAYLAND_DISPLAY is a socket name under XDG_RUNTIME_DIR, or an absolute path.
bool wayland_display_exists() {
    const char *name = std::getenv("WAYLAND_DISPLAY");
    if (!name || !*name) return false;
    std::string path = name;
    if (name[0] != '/') {
        const char *dir = std::getenv("XDG_RUNTIME_DIR");
        if (!dir || !*dir) return false;
        path = std::string(dir) + "/" + name;
    }
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

} // namespace

struct vte_cv_window {
    std::string name;
    bool sized;
};

extern "C" int vte_cv_display_available(void) {
    const char *platform = std::getenv("QT_QPA_PLATFORM");
    if (platform && *platform) {
        if (starts_with(platform, "offscreen") || starts_with(platform, "minimal")) return 1;
        if (starts_with(platform, "xcb")) return x_display_answers() ? 1 : 0;
        if (starts_with(platform, "wayland")) return wayland_display_exists() ? 1 : 0;
    }
    return x_display_answers() || wayland_display_exists() ? 1 : 0;
}

extern "C" vte_cv_window *vte_cv_window_open(const char *title, vte_error *err) {
    if (!title || !*title) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_window_open: empty title");
        return NULL;
    }
    if (!vte_cv_display_available()) {
        vte_error_set(err, VTE_ERR_UNSUPPORTED,
                      "no display to open window \"%s\" on (DISPLAY%s, WAYLAND_DISPLAY%s); set "
                      "QT_QPA_PLATFORM=offscreen to run the preview without showing it",
                      title, env_set("DISPLAY") ? " is set but its X server does not answer" : " is not set",
                      env_set("WAYLAND_DISPLAY") ? " names no socket" : " is not set");
        return NULL;
    }
    // Qt 5 tries xcb first unless told otherwise; when only Wayland answers, say so before Qt starts.
    if (!env_set("QT_QPA_PLATFORM") && !x_display_answers() && wayland_display_exists())
        setenv("QT_QPA_PLATFORM", "wayland", 0);
    vte_cv_window *window = NULL;
    try {
        cv_init_once();
        window = new vte_cv_window;
        window->name = title;
        window->sized = false;
        cv::namedWindow(window->name, cv::WINDOW_NORMAL | cv::WINDOW_KEEPRATIO | cv::WINDOW_GUI_NORMAL);
        return window;
    } catch (...) {
        report_exception(err, "cv::namedWindow", title, VTE_ERR_UNSUPPORTED);
        delete window;
        return NULL;
    }
}

extern "C" vte_status vte_cv_window_show(vte_cv_window *window, const vte_image *frame, vte_error *err) {
    if (!window || !image_ok(frame))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_window_show: NULL window or empty frame");
    try {
        cv::Mat rgb(frame->height, frame->width, CV_8UC3, frame->rgb);
        cv::Mat bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        cv::imshow(window->name, bgr);
        if (!window->sized) {
            // WINDOW_NORMAL windows start at a toolkit default size: fit the first frame into 1600x1000.
            double s = std::min(1.0, std::min(1600.0 / frame->width, 1000.0 / frame->height));
            cv::resizeWindow(window->name, std::max(1, static_cast<int>(frame->width * s)),
                             std::max(1, static_cast<int>(frame->height * s)));
            window->sized = true;
        }
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::imshow", window->name.c_str(), VTE_ERR_UNSUPPORTED);
    }
}

extern "C" int vte_cv_window_wait_key(vte_cv_window *window, int delay_ms) {
    if (!window) return -1;
    try {
        return cv::waitKey(delay_ms > 0 ? delay_ms : 1);
    } catch (...) {
        return -1;
    }
}

extern "C" int vte_cv_window_is_open(vte_cv_window *window) {
    if (!window) return 0;
    try {
        return cv::getWindowProperty(window->name, cv::WND_PROP_VISIBLE) >= 1.0 ? 1 : 0;
    } catch (...) {
        return 0; // the window is gone (Qt's backend throws "NULL guiReceiver" then)
    }
}

extern "C" void vte_cv_window_close(vte_cv_window *window) {
    if (!window) return;
    try {
        cv::destroyWindow(window->name);
        cv::waitKey(1); // let the toolkit process the destruction
    } catch (...) {
        // already closed by the user, or the GUI is gone: nothing left to release on our side
    }
    delete window;
}

// ---------------------------------------------------------------- video input

struct vte_cv_capture {
    cv::VideoCapture cap;
    std::string source; // "/dev/video0" or the file's path
    bool is_file;
    long frames;
    cv::Mat mat, rgb;
};

extern "C" vte_cv_capture *vte_cv_capture_open_camera(int index, vte_error *err) {
    char dev[64];
    std::snprintf(dev, sizeof dev, "/dev/video%d", index);
    if (index < 0) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: bad camera index %d", dev, index);
        return NULL;
    }
    struct stat st;
    if (stat(dev, &st) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open camera: %s", dev, std::strerror(errno));
        return NULL;
    }
    if (access(dev, R_OK | W_OK) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open camera: %s (is the user in the 'video' group?)", dev,
                      std::strerror(errno));
        return NULL;
    }
    vte_cv_capture *c = NULL;
    try {
        cv_init_once();
        c = new vte_cv_capture;
        c->source = dev;
        c->is_file = false;
        c->frames = 0;
        if (!c->cap.open(index, cv::CAP_V4L2) || !c->cap.isOpened()) {
            vte_error_set(err, VTE_ERR_IO, "%s: cannot open camera (busy, or not a video capture device)", dev);
            delete c;
            return NULL;
        }
        c->cap.set(cv::CAP_PROP_BUFFERSIZE, 1); // newest frame first; not every driver honours it
        return c;
    } catch (...) {
        report_exception(err, "cv::VideoCapture", dev, VTE_ERR_IO);
        delete c;
        return NULL;
    }
}

extern "C" vte_cv_capture *vte_cv_capture_open_file(const char *path, vte_error *err) {
    if (!path || !*path) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_capture_open_file: empty path");
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open video: %s", path, std::strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open video: is a directory", path);
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: cannot open video: %s", path, std::strerror(errno));
        return NULL;
    }
    vte_cv_capture *c = NULL;
    try {
        cv_init_once();
        c = new vte_cv_capture;
        c->source = path;
        c->is_file = true;
        c->frames = 0;
        if (!c->cap.open(path, cv::CAP_FFMPEG) || !c->cap.isOpened()) {
            vte_error_set(err, VTE_ERR_FORMAT, "%s: cannot open video (not a format OpenCV's FFmpeg backend decodes, "
                          "or corrupt)", path);
            delete c;
            return NULL;
        }
        return c;
    } catch (...) {
        report_exception(err, "cv::VideoCapture", path, VTE_ERR_FORMAT);
        delete c;
        return NULL;
    }
}

extern "C" vte_status vte_cv_capture_read(vte_cv_capture *capture, vte_image *frame, int *end, vte_error *err) {
    if (end) *end = 0;
    if (!capture || !frame)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_capture_read: NULL argument");
    const char *src = capture->source.c_str();
    try {
        if (!capture->cap.read(capture->mat) || capture->mat.empty()) {
            if (capture->is_file) {
                if (end) *end = 1;
                return vte_error_set(err, VTE_ERR_IO, "%s: end of video after %ld frames", src, capture->frames);
            }
            return vte_error_set(err, VTE_ERR_IO, "%s: cannot read a frame from the camera (disconnected?)", src);
        }
        cv::Mat m = capture->mat;
        if (m.depth() != CV_8U) { // scale other depths to 8 bits
            cv::Mat m8;
            double s = m.depth() == CV_16U ? 1.0 / 257.0 : m.depth() == CV_32F || m.depth() == CV_64F ? 255.0 : 1.0;
            m.convertTo(m8, CV_8U, s);
            m = m8;
        }
        switch (m.channels()) {
        case 1: cv::cvtColor(m, capture->rgb, cv::COLOR_GRAY2RGB); break;
        case 3: cv::cvtColor(m, capture->rgb, cv::COLOR_BGR2RGB); break;
        case 4: cv::cvtColor(m, capture->rgb, cv::COLOR_BGRA2RGB); break;
        default:
            return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: frame with %d channels", src, m.channels());
        }
        const cv::Mat &rgb = capture->rgb;
        const size_t row = static_cast<size_t>(rgb.cols) * 3;
        const size_t bytes = row * static_cast<size_t>(rgb.rows);
        if (!frame->rgb || frame->width != rgb.cols || frame->height != rgb.rows) {
            unsigned char *p = static_cast<unsigned char *>(std::realloc(frame->rgb, bytes));
            if (!p)
                return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for a %dx%d frame", src,
                                     bytes, rgb.cols, rgb.rows);
            frame->rgb = p;
            frame->width = rgb.cols;
            frame->height = rgb.rows;
        }
        for (int y = 0; y < rgb.rows; y++) std::memcpy(frame->rgb + row * y, rgb.ptr(y), row);
        capture->frames++;
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::VideoCapture::read", src, VTE_ERR_IO);
    }
}

extern "C" double vte_cv_capture_fps(vte_cv_capture *capture) {
    if (!capture) return 0;
    try {
        double fps = capture->cap.get(cv::CAP_PROP_FPS);
        return std::isfinite(fps) && fps > 0 ? fps : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" void vte_cv_capture_close(vte_cv_capture *capture) {
    if (!capture) return;
    try {
        capture->cap.release();
    } catch (...) {
    }
    delete capture;
}

