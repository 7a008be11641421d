// The library's extern "C" shim over OpenCV 4 core, imgproc and imgcodecs (see imageio.h): reading and writing
// image files, drawing, resizing, encoding. Every entry point catches every exception and reports it through
// vte_error; nothing here prints or exits. Windows and video input are the command-line tool's (cli/display.cpp).
#include "image/imageio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image/cv_shim.hpp"

using vte_cv::cv_init_once;
using vte_cv::image_ok;
using vte_cv::report_exception;

namespace {

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

} // namespace

// The codec libraries under OpenCV print their own diagnostics on stderr ("libpng warning: iCCP: known
// incorrect sRGB profile" for two of the sample photos), which OpenCV cannot silence. While a file is decoded,
// stderr goes to a temporary file; what the codec said becomes part of the error when decoding fails and is
// dropped otherwise. (Output of other threads to stderr during a decode would be caught too.)
template <typename Decode> static cv::Mat decode_quietly(Decode decode, std::string &diagnostics) {
    std::fflush(stderr);
    std::FILE *capture = std::tmpfile();
    int saved = capture ? dup(STDERR_FILENO) : -1;
    if (saved >= 0 && dup2(fileno(capture), STDERR_FILENO) < 0) {
        close(saved);
        saved = -1;
    }
    cv::Mat m;
    try {
        m = decode();
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

// Copies a decoded cv::Mat into vte_cv_pixels after checking its sample type and channels.
static vte_status take_pixels(const cv::Mat &m, const char *path, const std::string &diagnostics,
                              vte_cv_pixels *out, vte_error *err) {
    if (m.empty() || m.dims != 2 || m.rows <= 0 || m.cols <= 0)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: cannot decode image (not a supported image format or corrupt)%s%s",
                             path, diagnostics.empty() ? "" : ": ", diagnostics.c_str());
    const int depth = m.depth();
    const int channels = m.channels();
    if (depth != CV_8U && depth != CV_16U)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "%s: unsupported sample type (%s, %d channels); only 8- and 16-bit unsigned "
                             "images are supported",
                             path, depth_name(depth), channels);
    if (channels < 1 || channels > 4)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: unsupported channel count %d (1 to 4 are supported)", path,
                             channels);
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
}

extern "C" vte_status vte_cv_read(const char *path, vte_cv_pixels *out, vte_error *err) {
    if (!path || !out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_read: NULL argument");
    std::memset(out, 0, sizeof *out);
    try {
        cv_init_once();
        std::string diagnostics;
        cv::Mat m = decode_quietly([&] { return cv::imread(path, cv::IMREAD_UNCHANGED); }, diagnostics);
        return take_pixels(m, path, diagnostics, out, err);
    } catch (...) {
        return report_exception(err, "cv::imread", path);
    }
}

extern "C" vte_status vte_cv_decode(const void *data, size_t size, const char *name, int reduce, vte_cv_pixels *out,
                                    vte_error *err) {
    if (!data || !name || !out) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_decode: NULL argument");
    std::memset(out, 0, sizeof *out);
    if (reduce != 1 && reduce != 2 && reduce != 4 && reduce != 8)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_decode: reduce must be 1, 2, 4 or 8, not %d",
                             reduce);
    try {
        cv_init_once();
        // A header over the caller's bytes (imdecode does not write to them).
        const cv::Mat bytes(1, (int)std::min(size, (size_t)INT32_MAX), CV_8U, const_cast<void *>(data));
        // Reduced sizes exist only as colour (8-bit B, G, R) reads; EXIF orientation is ignored as in the full read.
        const int flags = reduce == 1   ? cv::IMREAD_UNCHANGED
                          : reduce == 2 ? cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION
                          : reduce == 4 ? cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION
                                        : cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION;
        std::string diagnostics;
        cv::Mat m = decode_quietly([&] { return cv::imdecode(bytes, flags); }, diagnostics);
        return take_pixels(m, name, diagnostics, out, err);
    } catch (...) {
        return report_exception(err, "cv::imdecode", name);
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

extern "C" vte_status vte_cv_line(vte_image *image, int x0, int y0, int x1, int y1, const unsigned char rgb[3],
                                  int thickness, vte_error *err) {
    if (!image_ok(image) || !rgb)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_line: NULL argument or empty image");
    if (thickness < 1) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_cv_line: bad thickness %d", thickness);
    try {
        cv_init_once();
        cv::Mat m(image->height, image->width, CV_8UC3, image->rgb);
        cv::line(m, cv::Point(x0, y0), cv::Point(x1, y1), cv::Scalar(rgb[0], rgb[1], rgb[2]), thickness, cv::LINE_AA);
        return VTE_OK;
    } catch (...) {
        return report_exception(err, "cv::line", "line", VTE_ERR_INVALID_ARGUMENT);
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
