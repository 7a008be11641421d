/* Pillow-exact resampling and the Hugging Face ViT/DeiT image processor pipeline (see preprocess.h).
 *
 * The resampler re-states the algorithm of Pillow's libImaging/Resample.c (ImagingResample with box=None):
 * every floating-point expression below is evaluated in the same order and precision as there, because the
 * 22-bit fixed-point weights are rounded from doubles and a different last bit can move an output level. */
#include "image/preprocess.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* ---------------------------------------------------------------- filters (Pillow's kernels) */

#define VTE_PI 3.14159265358979323846

/* 8 bits of result, 2 bits of head room for weights that overshoot: 32 - 8 - 2. */
#define VTE_RESAMPLE_PRECISION_BITS 22

typedef double (*vte_filter_fn)(double x);

static double filter_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double filter_triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double filter_hamming(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * VTE_PI;
    /* Pillow writes these two constants as floats; keep them floats so the products round the same way. */
    return sin(x) / x * (0.54f + 0.46f * cos(x));
}

/* Keys' cubic convolution with a = -0.5. */
static double filter_cubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * VTE_PI;
    return sin(x) / x;
}

static double filter_lanczos3(double x) {
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
    return 0.0;
}

/* Pillow's Resampling enum: NEAREST 0, LANCZOS 1, BILINEAR 2, BICUBIC 3, BOX 4, HAMMING 5. */
static int filter_lookup(int resample, vte_filter_fn *fn, double *support) {
    switch (resample) {
    case 1: *fn = filter_lanczos3, *support = 3.0; return 1;
    case 2: *fn = filter_triangle, *support = 1.0; return 1;
    case 3: *fn = filter_cubic, *support = 2.0; return 1;
    case 4: *fn = filter_box, *support = 0.5; return 1;
    case 5: *fn = filter_hamming, *support = 1.0; return 1;
    default: return 0;
    }
}

/* ---------------------------------------------------------------- one axis: bounds and fixed-point weights */

typedef struct axis_plan {
    int ksize;      /* weights stored per output sample (the widest possible footprint) */
    int *first;     /* [out] first input sample */
    int *count;     /* [out] number of input samples (<= ksize) */
    int32_t *coeff; /* [out * ksize] weights, fixed point with VTE_RESAMPLE_PRECISION_BITS */
} axis_plan;

/* The footprint width for in -> out samples; 0 if it (times out) does not fit in memory arithmetic. */
static int axis_ksize(double filter_support, int in_size, int out_size) {
    double scale = (double)(float)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filter_support * filterscale;
    double k = ceil(support) * 2 + 1;
    if (k > (double)(INT_MAX / 8)) return 0;
    return (int)k;
}

/* Fills plan for the outputs [out_first, out_first + out_count) of in_size -> out_size samples (its arrays are
 * allocated for out_count and plan->ksize; entry 0 is output out_first); uses `scratch` (ksize doubles). Each
 * output's weights depend on its own index only, so a window of outputs gets exactly the full resize's weights. */
static void axis_fill(axis_plan *plan, vte_filter_fn filter, double filter_support, int in_size, int out_size,
                      int out_first, int out_count, double *scratch) {
    /* Pillow: box (in0, in1) = (0, in_size) held as floats, scale = (double)(in1 - in0) / out_size. */
    const float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filter_support * filterscale;
    double ss = 1.0 / filterscale;
    for (int j = 0; j < out_count; j++) {
        const int o = out_first + j;
        double center = in0 + (o + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        if (n > plan->ksize) n = plan->ksize; /* cannot happen: 2*support+1 <= ksize */
        if (n < 0) n = 0;
        double total = 0.0;
        for (int i = 0; i < n; i++) {
            double w = filter((i + lo - center + 0.5) * ss);
            scratch[i] = w;
            total += w;
        }
        int32_t *k = plan->coeff + (size_t)j * (size_t)plan->ksize;
        for (int i = 0; i < n; i++) {
            double w = scratch[i];
            if (total != 0.0) w /= total;
            /* Round half away from zero, as Pillow's normalize_coeffs_8bpc does. */
            k[i] = (int32_t)(w < 0 ? -0.5 + w * (1 << VTE_RESAMPLE_PRECISION_BITS)
                                   : 0.5 + w * (1 << VTE_RESAMPLE_PRECISION_BITS));
        }
        for (int i = n; i < plan->ksize; i++) k[i] = 0;
        plan->first[j] = lo;
        plan->count[j] = n;
    }
}

static inline unsigned char clip8(int64_t acc) {
    /* Pillow: a lookup on acc >> 22 that saturates below 0 and above 255. */
    if (acc < 0) return 0;
    int64_t v = acc >> VTE_RESAMPLE_PRECISION_BITS;
    return v > 255 ? 255 : (unsigned char)v;
}

/* Horizontal pass: rows [row0, row0 + rows) of src (src_w wide) into dst (dst_w wide, `rows` rows). */
static void pass_horizontal(const unsigned char *src, int src_w, int row0, int rows, int channels,
                            unsigned char *dst, int dst_w, const axis_plan *plan) {
    const int64_t half = (int64_t)1 << (VTE_RESAMPLE_PRECISION_BITS - 1);
    const size_t src_stride = (size_t)src_w * (size_t)channels;
    const size_t dst_stride = (size_t)dst_w * (size_t)channels;
    for (int y = 0; y < rows; y++) {
        const unsigned char *in = src + (size_t)(row0 + y) * src_stride;
        unsigned char *out = dst + (size_t)y * dst_stride;
        for (int x = 0; x < dst_w; x++) {
            const int32_t *k = plan->coeff + (size_t)x * (size_t)plan->ksize;
            const unsigned char *p = in + (size_t)plan->first[x] * (size_t)channels;
            const int n = plan->count[x];
            for (int c = 0; c < channels; c++) {
                int64_t acc = half;
                for (int i = 0; i < n; i++) acc += (int64_t)p[(size_t)i * (size_t)channels + (size_t)c] * k[i];
                out[(size_t)x * (size_t)channels + (size_t)c] = clip8(acc);
            }
        }
    }
}

/* Vertical pass: src rows are indexed by plan->first - row_offset. */
static void pass_vertical(const unsigned char *src, int width, int row_offset, int channels, unsigned char *dst,
                          int dst_h, const axis_plan *plan) {
    const int64_t half = (int64_t)1 << (VTE_RESAMPLE_PRECISION_BITS - 1);
    const size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < dst_h; y++) {
        const int32_t *k = plan->coeff + (size_t)y * (size_t)plan->ksize;
        const unsigned char *in = src + (size_t)(plan->first[y] - row_offset) * stride;
        const int n = plan->count[y];
        unsigned char *out = dst + (size_t)y * stride;
        for (size_t j = 0; j < stride; j++) {
            int64_t acc = half;
            for (int i = 0; i < n; i++) acc += (int64_t)in[(size_t)i * stride + j] * k[i];
            out[j] = clip8(acc);
        }
    }
}

/* The window of a resize: outputs [x, x + w) x [y, y + h) of the dst_w x dst_h result. */
typedef struct resize_window {
    int x, y, w, h;
} resize_window;

/* Pillow's ImagingScaleAffine with nearest neighbour: source coordinate = (o + 0.5) * in/out, accumulated (from
 * output 0, also for a window, so that the sums are the same). */
static vte_status resize_nearest(const unsigned char *src, int src_w, int src_h, int channels, unsigned char *dst,
                                 int dst_w, int dst_h, resize_window win, vte_error *err) {
    int *xin = malloc((size_t)win.w * sizeof *xin);
    if (!xin) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "resize: cannot allocate %d column indices", win.w);
    const double ax = (double)(float)src_w / dst_w;
    const double ay = (double)(float)src_h / dst_h;
    double xo = 0.0 + ax * 0.5;
    for (int x = 0; x < win.x + win.w; x++) {
        int xi = xo < 0.0 ? -1 : (int)xo;
        if (x >= win.x) xin[x - win.x] = (xi >= 0 && xi < src_w) ? xi : -1;
        xo += ax;
    }
    const size_t ch = (size_t)channels;
    double yo = 0.0 + ay * 0.5;
    for (int y = 0; y < win.y; y++) yo += ay;
    for (int y = 0; y < win.h; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        unsigned char *out = dst + (size_t)y * (size_t)win.w * ch;
        if (yi < 0 || yi >= src_h) {
            memset(out, 0, (size_t)win.w * ch); /* Pillow fills what maps outside the source with 0 */
        } else {
            const unsigned char *in = src + (size_t)yi * (size_t)src_w * ch;
            for (int x = 0; x < win.w; x++) {
                if (xin[x] < 0) memset(out + (size_t)x * ch, 0, ch);
                else memcpy(out + (size_t)x * ch, in + (size_t)xin[x] * ch, ch);
            }
        }
        yo += ay;
    }
    free(xin);
    return VTE_OK;
}

/* Bytes for one axis plan of out samples with footprint ksize; 0 on size_t overflow. */
static size_t axis_bytes(int out_size, int ksize) {
    size_t n = (size_t)out_size;
    size_t k = (size_t)ksize;
    if (k != 0 && n > SIZE_MAX / 4 / k) return 0;
    return n * k * sizeof(int32_t) + 2 * n * sizeof(int);
}

static void axis_attach(axis_plan *plan, unsigned char *mem, int out_size, int ksize) {
    plan->ksize = ksize;
    plan->coeff = (int32_t *)mem;
    plan->first = (int *)(mem + (size_t)out_size * (size_t)ksize * sizeof(int32_t));
    plan->count = plan->first + out_size;
}

/* Which pass runs first when both are needed. Pillow up to 12 always ran the horizontal pass first; Pillow 13
 * (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks by more than twice as many
 * pixels as the width does. The order changes the 8-bit rounding of the intermediate image, so it has to
 * match. (Rule measured against Pillow 13.0.0 on 30,000+ size pairs: no exception, ties go horizontal.) */
static int resize_vertical_first(int src_w, int src_h, int dst_w, int dst_h) {
    return dst_h < src_h && (long long)(src_h - dst_h) > 2 * ((long long)src_w - dst_w);
}

vte_status vte_resize_u8_window(const unsigned char *src, int src_w, int src_h, int channels, int dst_w, int dst_h,
                                int win_x, int win_y, int win_w, int win_h, unsigned char *dst, vte_resample filter,
                                vte_error *err) {
    if (!src || !dst) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: NULL image buffer");
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: invalid size %dx%d -> %dx%d", src_w, src_h,
                             dst_w, dst_h);
    if (win_x < 0 || win_y < 0 || win_w <= 0 || win_h <= 0 || win_x > dst_w - win_w || win_y > dst_h - win_h)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: window %dx%d at (%d, %d) is outside %dx%d",
                             win_w, win_h, win_x, win_y, dst_w, dst_h);
    if (channels < 1 || channels > 4)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: %d channels (1 to 4 are supported)", channels);
    if ((size_t)src_w > SIZE_MAX / 4 / (size_t)src_h || (size_t)win_w > SIZE_MAX / 4 / (size_t)win_h)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: image too large");
    const resize_window win = {win_x, win_y, win_w, win_h};
    const size_t ch = (size_t)channels;

    if (src_w == dst_w && src_h == dst_h) { /* a copy of the window */
        for (int y = 0; y < win_h; y++)
            memcpy(dst + (size_t)y * (size_t)win_w * ch, src + ((size_t)(win_y + y) * (size_t)src_w + (size_t)win_x) * ch,
                   (size_t)win_w * ch);
        return VTE_OK;
    }
    const int resample = (int)filter;
    if (resample == 0) return resize_nearest(src, src_w, src_h, channels, dst, dst_w, dst_h, win, err);

    vte_filter_fn fn;
    double support;
    if (!filter_lookup(resample, &fn, &support))
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "resize: unsupported resampling filter %d (Pillow's 0 to 5 are supported)", resample);

    /* Sizes differ, so at least one pass runs; plans are made only for the passes that run. An axis whose size
     * does not change but whose window is narrower than it gets a pass too: its weights are then exactly one tap
     * of 1.0, which copies the window's samples unchanged. */
    const int need_h = dst_w != src_w || win_w != dst_w;
    const int need_v = dst_h != src_h || win_h != dst_h;
    const int ksize_v = need_v ? axis_ksize(support, src_h, dst_h) : 0;
    const int ksize_h = need_h ? axis_ksize(support, src_w, dst_w) : 0;
    if ((need_v && ksize_v == 0) || (need_h && ksize_h == 0))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: scale factor %dx%d -> %dx%d too large", src_w,
                             src_h, dst_w, dst_h);
    const size_t bytes_v = need_v ? axis_bytes(win_h, ksize_v) : 0;
    const size_t bytes_h = need_h ? axis_bytes(win_w, ksize_h) : 0;
    const int kmax = ksize_v > ksize_h ? ksize_v : ksize_h;
    const size_t bytes_scratch = (size_t)kmax * sizeof(double);
    if ((need_v && bytes_v == 0) || (need_h && bytes_h == 0) || bytes_v > SIZE_MAX / 4 || bytes_h > SIZE_MAX / 4 ||
        bytes_scratch > SIZE_MAX / 4)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "resize: coefficient tables for %dx%d -> %dx%d overflow",
                             src_w, src_h, dst_w, dst_h);

    /* One block: scratch doubles first (alignment), then the vertical and horizontal plans. */
    unsigned char *mem = malloc(bytes_scratch + bytes_v + bytes_h);
    if (!mem)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "resize: cannot allocate %zu bytes of coefficients",
                             bytes_scratch + bytes_v + bytes_h);
    double *scratch = (double *)mem;
    axis_plan plan_v, plan_h;
    if (need_v) {
        axis_attach(&plan_v, mem + bytes_scratch, win_h, ksize_v);
        axis_fill(&plan_v, fn, support, src_h, dst_h, win_y, win_h, scratch);
    }
    if (need_h) {
        axis_attach(&plan_h, mem + bytes_scratch + bytes_v, win_w, ksize_h);
        axis_fill(&plan_h, fn, support, src_w, dst_w, win_x, win_w, scratch);
    }

    vte_status status = VTE_OK;
    if (!need_v) {
        pass_horizontal(src, src_w, 0, src_h, channels, dst, win_w, &plan_h);
    } else if (!need_h) {
        pass_vertical(src, src_w, 0, channels, dst, win_h, &plan_v);
    } else {
        const int vfirst = resize_vertical_first(src_w, src_h, dst_w, dst_h);
        /* Horizontal first: only the source rows the vertical pass reads. */
        const int row_first = plan_v.first[0];
        const int rows = plan_v.first[win_h - 1] + plan_v.count[win_h - 1] - row_first;
        /* The intermediate: src_w x win_h (vertical first) or win_w x rows (horizontal first). */
        const size_t tw = (size_t)(vfirst ? src_w : win_w), th = (size_t)(vfirst ? win_h : rows);
        unsigned char *tmp = (th == 0 || tw > SIZE_MAX / 4 / th) ? NULL : malloc(tw * th * ch);
        if (!tmp) {
            status = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "resize: cannot allocate the %zux%zu intermediate image",
                                   tw, th);
        } else if (vfirst) {
            pass_vertical(src, src_w, 0, channels, tmp, win_h, &plan_v);
            pass_horizontal(tmp, src_w, 0, win_h, channels, dst, win_w, &plan_h);
            free(tmp);
        } else {
            pass_horizontal(src, src_w, row_first, rows, channels, tmp, win_w, &plan_h);
            pass_vertical(tmp, win_w, row_first, channels, dst, win_h, &plan_v);
            free(tmp);
        }
    }
    free(mem);
    return status;
}

vte_status vte_resize_u8(const unsigned char *src, int src_w, int src_h, int channels, unsigned char *dst,
                         int dst_w, int dst_h, vte_resample filter, vte_error *err) {
    return vte_resize_u8_window(src, src_w, src_h, channels, dst_w, dst_h, 0, 0, dst_w, dst_h, dst, filter, err);
}

/* ---------------------------------------------------------------- the processor pipeline */

static int floor_div2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

vte_status vte_preprocess_geometry_compute(const vte_preprocess_config *pp, int src_w, int src_h,
                                           vte_preprocess_geometry *g, vte_error *err) {
    if (!pp || !g) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: NULL argument");
    if (src_w <= 0 || src_h <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: invalid image size %dx%d", src_w, src_h);
    memset(g, 0, sizeof *g);
    g->src_w = src_w;
    g->src_h = src_h;
    g->resize_w = src_w;
    g->resize_h = src_h;
    if (pp->do_resize) {
        if (pp->resize_shortest_edge > 0) {
            /* transformers' get_resize_output_image_size(default_to_square=False): the short side becomes s,
             * the long one int(s * long / short) (true division in double, truncated). */
            const int s = pp->resize_shortest_edge;
            const int w_short = src_w <= src_h;
            const int shorter = w_short ? src_w : src_h, longer = w_short ? src_h : src_w;
            const double l = (double)((long long)s * (long long)longer) / (double)shorter;
            if (l >= (double)INT_MAX)
                return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                                     "preprocess: resizing %dx%d to a shortest edge of %d is too large", src_w, src_h,
                                     s);
            const int new_long = (int)l;
            g->resize_w = w_short ? s : new_long;
            g->resize_h = w_short ? new_long : s;
            if (new_long <= 0)
                return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                                     "preprocess: resizing %dx%d to a shortest edge of %d gives an empty image",
                                     src_w, src_h, s);
        } else {
            if (pp->resize_width <= 0 || pp->resize_height <= 0)
                return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: invalid resize size %dx%d (WxH)",
                                     pp->resize_width, pp->resize_height);
            g->resize_w = pp->resize_width;
            g->resize_h = pp->resize_height;
        }
    }
    g->out_w = g->resize_w;
    g->out_h = g->resize_h;
    if (pp->do_center_crop) {
        if (pp->crop_width <= 0 || pp->crop_height <= 0)
            return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: invalid crop size %dx%d (WxH)",
                                 pp->crop_width, pp->crop_height);
        /* transformers' center_crop: top = (h - crop_h) // 2 (floor), padding with zeros where the crop
         * reaches outside the image; both cases keep pixel (x, y) <- (x + left, y + top). */
        g->crop_x = floor_div2(g->resize_w - pp->crop_width);
        g->crop_y = floor_div2(g->resize_h - pp->crop_height);
        g->out_w = pp->crop_width;
        g->out_h = pp->crop_height;
    }
    return VTE_OK;
}

void vte_preprocess_finish(const vte_preprocess_config *pp, const unsigned char *rgb, int width, int height,
                           int crop_x, int crop_y, int out_w, int out_h, float *out_chw) {
    const size_t plane = (size_t)out_w * (size_t)out_h;
    for (int c = 0; c < 3; c++) {
        /* Every output is a function of one byte: tabulate it with the exact float ops of transformers:
         * rescale = float32(float64(u8) * rescale_factor); normalize = (x - mean) / std in float32. */
        float table[256];
        const float mean = pp->image_mean[c], std = pp->image_std[c];
        for (int u = 0; u < 256; u++) {
            float v = pp->do_rescale ? (float)((double)u * pp->rescale_factor) : (float)u;
            if (pp->do_normalize) v = (v - mean) / std;
            table[u] = v;
        }
        float *out = out_chw + (size_t)c * plane;
        for (int y = 0; y < out_h; y++) {
            const int sy = y + crop_y;
            float *row = out + (size_t)y * (size_t)out_w;
            for (int x = 0; x < out_w; x++) {
                const int sx = x + crop_x;
                unsigned char u = 0;
                if (sy >= 0 && sy < height && sx >= 0 && sx < width)
                    u = rgb[((size_t)sy * (size_t)width + (size_t)sx) * 3 + (size_t)c];
                row[x] = table[u];
            }
        }
    }
}

size_t vte_preprocess_size(const vte_model_config *config) {
    if (!config || config->num_channels <= 0 || config->image_height <= 0 || config->image_width <= 0) return 0;
    return (size_t)config->num_channels * (size_t)config->image_height * (size_t)config->image_width;
}

vte_status vte_preprocess(const vte_preprocess_config *pp, const vte_model_config *config, const vte_image *image,
                          float *pixels_chw, vte_error *err) {
    if (!pp || !config || !image || !pixels_chw)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: NULL argument");
    if (!image->rgb || image->width <= 0 || image->height <= 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "preprocess: empty image (%dx%d)", image->width,
                             image->height);
    if (config->num_channels != 3)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "preprocess: the model takes %d input channels; only 3 (RGB) are supported",
                             config->num_channels);
    vte_preprocess_geometry g;
    vte_status st = vte_preprocess_geometry_compute(pp, image->width, image->height, &g, err);
    if (st != VTE_OK) return st;
    if (g.out_w != config->image_width || g.out_h != config->image_height)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "preprocess: the preprocessor makes %dx%d (HxW) images (resize to %dx%d%s) but the "
                             "model takes %dx%d",
                             g.out_h, g.out_w, g.resize_h, g.resize_w, pp->do_center_crop ? ", center crop" : "",
                             config->image_height, config->image_width);

    /* Only the part of the resized image that the crop keeps is computed (exactly the same pixels): a very long,
     * thin image resized to a shortest edge would otherwise make an image of gigabytes to keep a square of it. */
    const int x0 = g.crop_x > 0 ? g.crop_x : 0, y0 = g.crop_y > 0 ? g.crop_y : 0;
    const int x1 = g.crop_x + g.out_w < g.resize_w ? g.crop_x + g.out_w : g.resize_w;
    const int y1 = g.crop_y + g.out_h < g.resize_h ? g.crop_y + g.out_h : g.resize_h;
    const int win_w = x1 - x0, win_h = y1 - y0;
    if (win_w <= 0 || win_h <= 0) { /* the crop lies outside the image: all padding */
        vte_preprocess_finish(pp, image->rgb, 0, 0, 0, 0, g.out_w, g.out_h, pixels_chw);
        return VTE_OK;
    }
    unsigned char *window = malloc((size_t)win_w * (size_t)win_h * 3);
    if (!window)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "preprocess: cannot allocate a %dx%d image", win_w, win_h);
    st = vte_resize_u8_window(image->rgb, image->width, image->height, 3, g.resize_w, g.resize_h, x0, y0, win_w, win_h,
                              window, pp->resample, err);
    if (st != VTE_OK) {
        free(window);
        if (err) vte_error_prefix(err, "preprocess");
        return st;
    }
    vte_preprocess_finish(pp, window, win_w, win_h, g.crop_x - x0, g.crop_y - y0, g.out_w, g.out_h, pixels_chw);
    free(window);
    return VTE_OK;
}
