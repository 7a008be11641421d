/* Deletion and insertion curves (docs/evaluation.md): patch orders, the random generator, baselines, the
 * perturbed inputs of one curve run through the forward pass in batches, and the area under a curve. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/preprocess.h"
#include "util/error.h"
#include "vit/session.h"

/* RISE's default: at most 49 steps, so 50 points at most with the unperturbed start. */
#define DEFAULT_STEPS 49

int vte_curve_step(int patches, int step) {
    if (step > 0) return step;
    return patches > 0 ? (patches + DEFAULT_STEPS - 1) / DEFAULT_STEPS : 0;
}

int vte_curve_points(int patches, int step) {
    if (patches < 1 || step < 0 || step > patches) return 0;
    step = vte_curve_step(patches, step);
    return (patches + step - 1) / step + 1;
}

/* Patches changed at point k of a curve. */
static int changed_at(int k, int patches, int step) {
    long long n = (long long)k * step;
    return n < patches ? (int)n : patches;
}

/* ---------------------------------------------------------------- orders */

/* a ranks before b: a higher value, NaN lowest, ties by the lower index (the caller compares indices). */
static int value_rank(float a, float b) {
    const int a_nan = isnan(a), b_nan = isnan(b);
    if (a_nan || b_nan) return a_nan - b_nan; /* the NaN goes last */
    return (a < b) - (a > b);
}

typedef struct ranked_patch {
    float value;
    int index;
} ranked_patch;

static int compare_ranked(const void *pa, const void *pb) {
    const ranked_patch *a = pa, *b = pb;
    int by_value = value_rank(a->value, b->value);
    return by_value ? by_value : (a->index > b->index) - (a->index < b->index);
}

void vte_patch_order(const float *map, int patches, int *order) {
    if (!map || !order || patches < 1) return;
    ranked_patch *ranked = malloc((size_t)patches * sizeof *ranked);
    if (!ranked) {
        /* No memory for the sort: a selection by repeated scans gives the same order, in O(P^2). */
        for (int k = 0; k < patches; k++) order[k] = -1;
        for (int k = 0; k < patches; k++) {
            int best = -1;
            for (int p = 0; p < patches; p++) {
                int taken = 0;
                for (int j = 0; j < k && !taken; j++) taken = order[j] == p;
                if (!taken && (best < 0 || value_rank(map[p], map[best]) < 0)) best = p;
            }
            order[k] = best;
        }
        return;
    }
    for (int p = 0; p < patches; p++) ranked[p] = (ranked_patch){map[p], p};
    /* The comparison is total (index last), so qsort's instability cannot show. */
    qsort(ranked, (size_t)patches, sizeof *ranked, compare_ranked);
    for (int k = 0; k < patches; k++) order[k] = ranked[k].index;
    free(ranked);
}

/* Marsaglia's xorshift32 (13, 17, 5): small, fast, and the same in every language with 32-bit integers. */
static uint32_t xorshift32(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

void vte_random_patch_order(int patches, uint32_t seed, int *order) {
    if (!order || patches < 1) return;
    /* Seeds 0, 1, 2 ... spread over the state space by the golden-ratio constant; xorshift must not start at 0. */
    uint32_t state = 0x9E3779B9u * (seed + 1u);
    if (state == 0) state = 1;
    for (int p = 0; p < patches; p++) order[p] = p;
    for (int i = patches - 1; i > 0; i--) {
        const int j = (int)(xorshift32(&state) % (uint32_t)(i + 1));
        const int kept = order[i];
        order[i] = order[j];
        order[j] = kept;
    }
}

/* ---------------------------------------------------------------- baselines */

/* RISE's blur: an 11-tap Gaussian of sigma 5. */
#define BLUR_RADIUS 5
#define BLUR_SIGMA 5.0

static void blur_weights(double w[2 * BLUR_RADIUS + 1]) {
    double total = 0;
    for (int i = -BLUR_RADIUS; i <= BLUR_RADIUS; i++)
        total += w[i + BLUR_RADIUS] = exp(-(i * i) / (2 * BLUR_SIGMA * BLUR_SIGMA));
    for (int i = 0; i < 2 * BLUR_RADIUS + 1; i++) w[i] /= total;
}

static int clamp_index(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Separable blur of each channel plane, rows then columns, in double, edges replicated. */
static vte_status blur(const float *pixels, int channels, int height, int width, float *out, vte_error *err) {
    double w[2 * BLUR_RADIUS + 1];
    blur_weights(w);
    double *rows = malloc((size_t)height * width * sizeof *rows);
    if (!rows)
        return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "blur baseline: cannot allocate a %dx%d plane", width, height);
    for (int c = 0; c < channels; c++) {
        const float *in = pixels + (size_t)c * height * width;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                double sum = 0;
                for (int i = -BLUR_RADIUS; i <= BLUR_RADIUS; i++)
                    sum += w[i + BLUR_RADIUS] * in[(size_t)y * width + clamp_index(x + i, width)];
                rows[(size_t)y * width + x] = sum;
            }
        float *plane = out + (size_t)c * height * width;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                double sum = 0;
                for (int i = -BLUR_RADIUS; i <= BLUR_RADIUS; i++)
                    sum += w[i + BLUR_RADIUS] * rows[(size_t)clamp_index(y + i, height) * width + x];
                plane[(size_t)y * width + x] = (float)sum;
            }
    }
    free(rows);
    return VTE_OK;
}

vte_status vte_evaluate_baseline(const vte_model *model, const float *pixels, vte_baseline baseline, float *out,
                                 vte_error *err) {
    if (!model || !pixels || !out)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_evaluate_baseline: model, pixels and out are required");
    const vte_model_config *c = vte_model_get_config(model);
    const size_t plane = (size_t)c->image_height * c->image_width;
    if (c->num_channels != 3)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "vte_evaluate_baseline: the model takes %d input channels; only 3 "
                             "(RGB) are supported, as by vte_preprocess",
                             c->num_channels);
    switch (baseline) {
    case VTE_BASELINE_BLACK: {
        /* The preprocessor's own arithmetic on a black pixel gives the value, bit for bit. */
        const unsigned char black[3] = {0, 0, 0};
        float value[3];
        vte_preprocess_finish(vte_model_get_preprocess(model), black, 1, 1, 0, 0, 1, 1, value);
        for (int ch = 0; ch < 3; ch++)
            for (size_t i = 0; i < plane; i++) out[ch * plane + i] = value[ch];
        return VTE_OK;
    }
    case VTE_BASELINE_MEAN: memset(out, 0, 3 * plane * sizeof *out); return VTE_OK;
    case VTE_BASELINE_BLUR: return blur(pixels, 3, c->image_height, c->image_width, out, err);
    }
    return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_evaluate_baseline: unknown baseline %d", (int)baseline);
}

/* ---------------------------------------------------------------- one curve */

/* Copies patch p (every channel) of `from` into `to`. */
static void copy_patch(const vte_model_config *c, int p, const float *from, float *to) {
    const int ps = c->patch_size, y0 = (p / c->grid_w) * ps, x0 = (p % c->grid_w) * ps;
    const size_t plane = (size_t)c->image_height * c->image_width;
    for (int ch = 0; ch < c->num_channels; ch++)
        for (int y = y0; y < y0 + ps; y++) {
            const size_t at = ch * plane + (size_t)y * c->image_width + x0;
            memcpy(to + at, from + at, (size_t)ps * sizeof *to);
        }
}

/* 0 unless order holds each of the P patch indices once. */
static int is_permutation(const int *order, int patches) {
    unsigned char *seen = calloc((size_t)patches, 1);
    int ok = seen != NULL;
    for (int k = 0; k < patches && ok; k++) {
        ok = order[k] >= 0 && order[k] < patches && !seen[order[k]];
        if (ok) seen[order[k]] = 1;
    }
    free(seen);
    return ok;
}

/* The softmax probability of class_id from one row of logits, in double with the maximum subtracted (as
 * vte_top_k computes probabilities). */
static float class_probability(const float *logits, int labels, int class_id) {
    double max = logits[0], sum = 0;
    for (int j = 1; j < labels; j++) max = logits[j] > max ? logits[j] : max;
    for (int j = 0; j < labels; j++) sum += exp((double)logits[j] - max);
    return (float)(exp((double)logits[class_id] - max) / sum);
}

vte_status vte_session_curve(vte_session *s, const float *pixels, const float *baseline_pixels, int class_id,
                             const int *order, vte_curve_kind kind, int step, int batch, float *probs, vte_error *err) {
    if (!s || !pixels || !baseline_pixels || !order || !probs)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_curve: session, pixels, baseline_pixels, order and probs are required");
    const vte_model_config *c = &s->model->config;
    const int patches = c->grid_h * c->grid_w;
    if (class_id < 0 || class_id >= c->num_labels)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_curve: class %d is out of range (the model has %d classes)", class_id,
                             c->num_labels);
    if (kind != VTE_CURVE_DELETION && kind != VTE_CURVE_INSERTION)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_session_curve: unknown curve kind %d", (int)kind);
    const int points = vte_curve_points(patches, step);
    if (points == 0)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_curve: step %d is outside 0..%d (the model's patches)", step, patches);
    step = vte_curve_step(patches, step);
    if (batch == 0) batch = s->max_batch;
    if (batch < 1 || batch > s->max_batch)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_curve: batch %d is outside 1..%d (the session's max_batch)", batch,
                             s->max_batch);
    if (!is_permutation(order, patches))
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT,
                             "vte_session_curve: order is not a permutation of the %d patch indices", patches);
    /* Deletion starts from the input and puts baseline patches in; insertion the other way round. */
    const float *start = kind == VTE_CURVE_DELETION ? pixels : baseline_pixels;
    const float *patch_source = kind == VTE_CURVE_DELETION ? baseline_pixels : pixels;
    const size_t image_floats = vte_preprocess_size(c);
    float *inputs = malloc((size_t)batch * image_floats * sizeof *inputs);
    float *logits = malloc((size_t)batch * c->num_labels * sizeof *logits);
    vte_status status = VTE_OK;
    if (!inputs || !logits)
        status = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "vte_session_curve: cannot allocate %d inputs", batch);
    for (int first = 0; first < points && !status; first += batch) {
        const int count = points - first < batch ? points - first : batch;
        for (int i = 0; i < count; i++) {
            float *input = inputs + (size_t)i * image_floats;
            memcpy(input, start, image_floats * sizeof *input);
            for (int k = 0; k < changed_at(first + i, patches, step); k++) copy_patch(c, order[k], patch_source, input);
        }
        status = vte_session_forward(s, inputs, count, err);
        if (!status) status = vte_session_read_logits(s, logits, err);
        for (int i = 0; i < count && !status; i++)
            probs[first + i] = class_probability(logits + (size_t)i * c->num_labels, c->num_labels, class_id);
    }
    free(inputs);
    free(logits);
    return status;
}

double vte_curve_auc(const float *probs, int patches, int step) {
    const int points = vte_curve_points(patches, step);
    if (!probs || points == 0) return NAN;
    step = vte_curve_step(patches, step);
    double area = 0;
    for (int k = 0; k + 1 < points; k++) {
        const double width = (double)(changed_at(k + 1, patches, step) - changed_at(k, patches, step)) / patches;
        area += width * ((double)probs[k] + probs[k + 1]) / 2;
    }
    return area;
}
