// The project's only C++ file: an extern "C" shim over OpenCV 4 (see imageio.h). Every entry point catches
// every exception and reports it through vte_error; nothing here prints or exits.
#include "image/imageio.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

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

// Turns the exception being handled into err (code for OpenCV's and other exceptions, VTE_ERR_OUT_OF_MEMORY for
// bad_alloc); call only inside a catch block.
vte_status report_exception(vte_error *err, const char *what_call, const char *path,
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

} // namespace

// The codec libraries under OpenCV print their own diagnostics on stderr ("libpng warning: iCCP: known
// incorrect sRGB profile" for two of the sample photos), which OpenCV cannot silence. While a file is decoded,
// stderr goes to a temporary file; what the codec said becomes part of the error when decoding fails and is
// dropped otherwise. (Output of other threads to stderr during a decode would be caught too.)
static cv::Mat read_quietly(const char *path, std::string &diagnostics) {
    std::fflush(stderr);
    std::FILE *capture = std::tmpfile();
    int saved = capture ? dup(STDERR_FILENO) : -1;
    if (saved >= 0 && dup2(fileno(capture), STDERR_FILENO) < 0) {
        close(saved);
        saved = -1;
    }
    cv::Mat m;
    try {
        m = cv::imread(path, cv::IMREAD_UNCHANGED);
    } catch (...) {
        if (saved >= 0) {
            std::fflush(stderr);
            dup2(saved, STDERR_FILENO);
            close(saved);
        }
        if (capture) std::fclose(capture);
        throw;
    }
    if (saved >= 0) {
        std::fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (capture) {
        char text[512];
        std::rewind(capture);
        size_t n = std::fread(text, 1, sizeof text - 1, capture);
        text[n] = '\0';
        std::fclose(capture);
        diagnostics = text;
        while (!diagnostics.empty() && (diagnostics.back() == '\n' || diagnostics.back() == '\r'))
            diagnostics.pop_back();
        for (char &c : diagnostics)
            if (c == '\n') c = ';';
    }
    return m;
}

extern "C" vte_status vte_cv_read(const char *path, vte_cv_pixels *out, vte_error *err) {
    if (!path || !out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_read: NULL argument");
    std::memset(out, 0, sizeof *out);
    try {
        cv_init_once();
        std::string diagnostics;
        cv::Mat m = read_quietly(path, diagnostics);
        if (m.empty() || m.dims != 2 || m.rows <= 0 || m.cols <= 0)
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: cannot decode image (not a supported image format or corrupt)%s%s", path,
                                 diagnostics.empty() ? "" : ": ", diagnostics.c_str());
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

// ---------------------------------------------------------------- drawing and encoding

namespace {

bool image_ok(const vte_image *image) {
    return image && image->rgb && image->width > 0 && image->height > 0;
}

// Hershey fonts cover printable ASCII only: map the UTF-8 punctuation a title is likely to hold to ASCII and
// every other code point (or invalid byte) to one '?'.
std::string hershey_text(const char *text) {
    std::string out;
    const unsigned char *p = reinterpret_cast<const unsigned char *>(text);
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            out += (c >= 32 && c < 127) ? static_cast<char>(c) : '?';
            p++;
            continue;
        }
        int extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
        if (extra < 0 || c >= 0xF8) {
            out += '?';
            p++;
            continue;
        }
        unsigned cp = c & (0x3F >> extra);
        int k = 1;
        for (; k <= extra; k++) {
            if ((p[k] & 0xC0) != 0x80) break;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if (k <= extra) { // truncated sequence: one '?' for the lead byte
            out += '?';
            p++;
            continue;
        }
        p += extra + 1;
        if (cp >= 0x2010 && cp <= 0x2015) out += '-';
        else if (cp == 0x2212) out += '-';
        else if (cp == 0x2018 || cp == 0x2019 || cp == 0x201A || cp == 0x2032) out += '\'';
        else if (cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x2033) out += '"';
        else if (cp == 0x2026) out += "...";
        else if (cp == 0x00A0 || cp == 0x2009 || cp == 0x202F) out += ' ';
        else if (cp == 0x00D7) out += 'x';
        else out += '?';
    }
    return out;
}

} // namespace

extern "C" vte_status vte_cv_colormap_jet(const unsigned char *gray, size_t count, unsigned char *rgb_out,
                                          vte_error *err) {
    if (count == 0) return VTE_OK;
    if (!gray || !rgb_out)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_colormap_jet: NULL argument");
    try {
        cv_init_once();
        // One row at a time keeps the Mat header within int sizes for any count.
        const size_t chunk = 1u << 20;
        for (size_t start = 0; start < count; start += chunk) {
            const int n = static_cast<int>(count - start < chunk ? count - start : chunk);
            cv::Mat g(1, n, CV_8UC1, const_cast<unsigned char *>(gray + start));
            cv::Mat bgr;
            cv::applyColorMap(g, bgr, cv::COLORMAP_JET);
            const unsigned char *src = bgr.ptr<unsigned char>(0);
            unsigned char *dst = rgb_out + 3 * start;
            for (int i = 0; i < n; i++) {
                dst[3 * i + 0] = src[3 * i + 2];
                dst[3 * i + 1] = src[3 * i + 1];
                dst[3 * i + 2] = src[3 * i + 0];
            }
        }
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::applyColorMap", "colormap", VTE_ERR_INVALID_ARGUMENT);
    }
}

extern "C" vte_status vte_cv_put_text(vte_image *image, const char *text, int x, int y, double scale,
                                      const unsigned char rgb[3], int thickness, vte_error *err) {
    if (!image_ok(image) || !text || !rgb)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_put_text: NULL argument or empty image");
    if (!(scale > 0) || !std::isfinite(scale) || thickness < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_put_text: bad scale %g or thickness %d", scale,
                             thickness);
    try {
        cv_init_once();
        cv::Mat m(image->height, image->width, CV_8UC3, image->rgb);
        // The image is RGB, so the colour goes in as R, G, B too.
        cv::putText(m, hershey_text(text), cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale,
                    cv::Scalar(rgb[0], rgb[1], rgb[2]), thickness, cv::LINE_AA);
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::putText", "text", VTE_ERR_INVALID_ARGUMENT);
    }
}

extern "C" vte_status vte_cv_text_size(const char *text, double scale, int thickness, int *width, int *height,
                                       int *baseline, vte_error *err) {
    if (!text) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_text_size: NULL text");
    if (!(scale > 0) || !std::isfinite(scale) || thickness < 1)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_text_size: bad scale %g or thickness %d", scale,
                             thickness);
    try {
        cv_init_once();
        int base = 0;
        cv::Size s = cv::getTextSize(hershey_text(text), cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &base);
        if (width) *width = s.width;
        if (height) *height = s.height;
        if (baseline) *baseline = base;
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::getTextSize", "text", VTE_ERR_INVALID_ARGUMENT);
    }
}

extern "C" vte_status vte_cv_resize(const vte_image *image, int width, int height, vte_image *out, vte_error *err) {
    if (!image_ok(image) || !out)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_resize: NULL argument or empty image");
    if (width <= 0 || height <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_resize: bad size %dx%d", width, height);
    out->width = out->height = 0;
    out->rgb = NULL;
    const size_t bytes = static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
    unsigned char *data = static_cast<unsigned char *>(std::malloc(bytes));
    if (!data)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "vte_cv_resize: cannot allocate %zu bytes for %dx%d", bytes,
                             width, height);
    try {
        cv_init_once();
        cv::Mat src(image->height, image->width, CV_8UC3, image->rgb);
        cv::Mat dst(height, width, CV_8UC3, data);
        const int interp = width < image->width && height < image->height ? cv::INTER_AREA : cv::INTER_LINEAR;
        cv::resize(src, dst, dst.size(), 0, 0, interp);
        if (dst.data != data) { // cv::resize reallocated (it should not): copy back
            for (int y = 0; y < height; y++)
                std::memcpy(data + static_cast<size_t>(y) * width * 3, dst.ptr(y), static_cast<size_t>(width) * 3);
        }
        out->width = width;
        out->height = height;
        out->rgb = data;
        return VTE_OK;
    } catch (...) {
        std::free(data);
        return report_exception(err, "cv::resize", "image", VTE_ERR_INVALID_ARGUMENT);
    }
}

extern "C" vte_status vte_cv_encode_png(const vte_image *image, unsigned char **data, size_t *size, vte_error *err) {
    if (!image_ok(image) || !data || !size)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_encode_png: NULL argument or empty image");
    *data = NULL;
    *size = 0;
    try {
        cv_init_once();
        cv::Mat rgb(image->height, image->width, CV_8UC3, image->rgb);
        cv::Mat bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        std::vector<unsigned char> buf;
        if (!cv::imencode(".png", bgr, buf) || buf.empty())
            return vte_error_set(err, VTE_ERR_FORMAT, "cv::imencode(.png) failed for a %dx%d image", image->width,
                                 image->height);
        unsigned char *copy = static_cast<unsigned char *>(std::malloc(buf.size()));
        if (!copy)
            return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for an encoded PNG",
                                 buf.size());
        std::memcpy(copy, buf.data(), buf.size());
        *data = copy;
        *size = buf.size();
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::imencode(.png)", "image");
    }
}

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

// ---------------------------------------------------------------- video input and output

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
