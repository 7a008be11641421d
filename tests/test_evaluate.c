/* Faithfulness evaluation (docs/evaluation.md): the library's curves, orders, baselines and mask scores against a
 * PyTorch statement of the same protocol (tools/make_evaluate_reference.py, which reads the maps vitexplain's
 * curves followed), properties that hold whatever the model, and `vitexplain evaluate` as a user runs it.
 *
 * Tolerance: probabilities and AUCs within 1e-4 (PyTorch's and our forward passes agree on logits to ~1e-6; the
 * inputs are the same floats). Orders, coverage and the pointing game must be exact. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_json.h"
#include "test_support.h"
#include "util/npy.h"

#define PROB_ATOL 1e-4

static const char *const STEMS[] = {"chelsea", "rocket", "horse"};
static const char *const IMAGE_FILES[] = {"images/chelsea.png", "images/rocket.jpg", "images/horse.png"};
#define IMAGE_COUNT 3

/* ---------------------------------------------------------------- fixtures */

typedef struct fixture {
    vte_runtime *rt;
    vte_model *model;
    vte_session *session;
    const vte_model_config *c;
    int patches;
    char name[64];
    json_t *reference;
} fixture;

static json_t *load_reference(const char *model) {
    char relative[256];
    snprintf(relative, sizeof relative, "reference/%s/evaluate/reference.json", model);
    json_error_t jerr;
    json_t *root = json_load_file(vte_test_fixture(relative), 0, &jerr);
    cr_assert_not_null(root, "%s: %s (line %d)", relative, jerr.text, jerr.line);
    return root;
}

static fixture open_model(const char *name, int batch) {
    fixture f = {0};
    vte_error err = {0};
    char relative[128];
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(relative, sizeof relative, "models/%s", name);
    f.rt = vte_test_runtime();
    f.model = vte_model_load(f.rt, vte_test_fixture(relative), &err);
    cr_assert_not_null(f.model, "%s: %s", name, err.message);
    f.c = vte_model_get_config(f.model);
    f.patches = f.c->grid_h * f.c->grid_w;
    f.session = vte_session_init(f.model, batch, &err);
    cr_assert_not_null(f.session, "%s", err.message);
    f.reference = load_reference(name);
    return f;
}

static void close_model(fixture *f) {
    json_decref(f->reference);
    vte_session_free(f->session);
    vte_model_free(f->model);
    vte_runtime_free(f->rt);
}

static float *load_npy(const char *relative, size_t expected_count) {
    vte_npy npy = {0};
    vte_error err = {0};
    cr_assert_eq(vte_npy_read(vte_test_fixture(relative), &npy, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(npy.dtype, VTE_NPY_F32, "%s: not float32", relative);
    cr_assert_eq(npy.count, expected_count, "%s: %zu values, expected %zu", relative, npy.count, expected_count);
    return npy.data;
}

static float *load_pixels(const fixture *f, const char *stem) {
    char relative[256];
    snprintf(relative, sizeof relative, "reference/%s/%s_pixels.npy", f->name, stem);
    return load_npy(relative, vte_preprocess_size(f->c));
}

/* The map vitexplain's curves followed when the reference was made. */
static float *load_map(const fixture *f, const char *stem, vte_method m) {
    char relative[256];
    snprintf(relative, sizeof relative, "reference/%s/evaluate/maps/%s_%s.npy", f->name, stem, vte_method_name(m));
    return load_npy(relative, (size_t)f->patches);
}

static json_t *image_reference(const fixture *f, const char *stem) {
    json_t *image = json_object_get(json_object_get(f->reference, "images"), stem);
    cr_assert_not_null(image, "%s: no reference for %s", f->name, stem);
    return image;
}

/* A JSON array of numbers as floats (malloc'ed), of the expected length. */
static float *json_floats(const json_t *array, size_t expected, const char *what) {
    cr_assert(json_is_array(array), "%s: not an array", what);
    cr_assert_eq(json_array_size(array), expected, "%s: %zu values, expected %zu", what, json_array_size(array),
                 expected);
    float *out = malloc(expected * sizeof *out);
    for (size_t i = 0; i < expected; i++) out[i] = (float)json_number_value(json_array_get(array, i));
    return out;
}

static vte_baseline baseline_named(const char *name) {
    if (strcmp(name, "black") == 0) return VTE_BASELINE_BLACK;
    if (strcmp(name, "blur") == 0) return VTE_BASELINE_BLUR;
    cr_assert_str_eq(name, "mean", "unknown baseline in the reference");
    return VTE_BASELINE_MEAN;
}

/* ---------------------------------------------------------------- against the PyTorch reference */

/* Every curve of every method and the random row, for each protocol configuration of the reference. */
static void check_curves(const char *model) {
    fixture f = open_model(model, 17);
    vte_error err = {0};
    const size_t image_floats = vte_preprocess_size(f.c);
    float *baselines = malloc(2 * image_floats * sizeof *baselines);
    int *order = malloc((size_t)f.patches * sizeof *order);
    for (int i = 0; i < IMAGE_COUNT; i++) {
        json_t *image = image_reference(&f, STEMS[i]);
        float *pixels = load_pixels(&f, STEMS[i]);
        const int class_id = (int)json_integer_value(json_object_get(image, "class"));
        const char *config_name;
        json_t *config;
        json_object_foreach(json_object_get(image, "configs"), config_name, config) {
            const int step = (int)json_integer_value(json_object_get(config, "step"));
            const int points = vte_curve_points(f.patches, step);
            cr_assert_eq(points, json_integer_value(json_object_get(config, "points")), "%s: points", config_name);
            const char *names[2] = {json_string_value(json_object_get(config, "deletion_baseline")),
                                    json_string_value(json_object_get(config, "insertion_baseline"))};
            for (int k = 0; k < 2; k++)
                cr_assert_eq(vte_evaluate_baseline(f.model, pixels, baseline_named(names[k]),
                                                   baselines + k * image_floats, &err),
                             VTE_OK, "%s", err.message);
            json_t *rows = json_object_get(config, "rows");
            const int seeds = (int)json_integer_value(json_object_get(config, "random_seeds"));
            float *probs = malloc((size_t)points * sizeof *probs), *mean = malloc((size_t)points * sizeof *mean);
            for (int row = 0; row <= VTE_METHOD_COUNT; row++) {
                const char *row_name = row < VTE_METHOD_COUNT ? vte_method_name((vte_method)row) : "random";
                json_t *want = json_object_get(rows, row_name);
                cr_assert_not_null(want, "%s %s: no row %s", model, config_name, row_name);
                float *map = row < VTE_METHOD_COUNT ? load_map(&f, STEMS[i], (vte_method)row) : NULL;
                for (int kind = 0; kind < 2; kind++) {
                    const char *kind_name = kind == VTE_CURVE_DELETION ? "deletion" : "insertion";
                    const int runs = map ? 1 : seeds;
                    for (int k = 0; k < points; k++) mean[k] = 0;
                    for (int run = 0; run < runs; run++) {
                        if (map)
                            vte_patch_order(map, f.patches, order);
                        else
                            vte_random_patch_order(f.patches, (uint32_t)run, order);
                        cr_assert_eq(vte_session_curve(f.session, pixels, baselines + kind * image_floats, class_id,
                                                       order, (vte_curve_kind)kind, step, 0, probs, &err),
                                     VTE_OK, "%s", err.message);
                        for (int k = 0; k < points; k++) mean[k] += probs[k] / (float)runs;
                    }
                    char what[256], key[32];
                    snprintf(what, sizeof what, "%s %s %s %s %s curve", model, STEMS[i], config_name, row_name,
                             kind_name);
                    float *want_curve = json_floats(json_object_get(want, kind_name), (size_t)points, what);
                    vte_test_check(what, mean, want_curve, (size_t)points, PROB_ATOL, 0);
                    snprintf(key, sizeof key, "%s_auc", kind_name);
                    const double auc = vte_curve_auc(mean, f.patches, step);
                    cr_assert_float_eq(auc, vte_test_json_number(want, key), PROB_ATOL, "%s: AUC %f, reference %f", what, auc,
                                       vte_test_json_number(want, key));
                    free(want_curve);
                }
                free(map);
            }
            free(probs);
            free(mean);
        }
        free(pixels);
    }
    free(order);
    free(baselines);
    close_model(&f);
}

Test(evaluate, curves_match_pytorch_vit_tiny) { check_curves("vit-tiny"); }
Test(evaluate, curves_match_pytorch_vit_odd) { check_curves("vit-odd"); }

Test(evaluate, orders_and_random_orders_match_the_reference) {
    for (int model = 0; model < 2; model++) {
        fixture f = open_model(model ? "vit-odd" : "vit-tiny", 1);
        int order[256];
        /* Maps: descending value, ties by the lower index. */
        for (int i = 0; i < IMAGE_COUNT; i++) {
            json_t *orders = json_object_get(image_reference(&f, STEMS[i]), "orders");
            for (int m = 0; m < VTE_METHOD_COUNT; m++) {
                float *map = load_map(&f, STEMS[i], (vte_method)m);
                vte_patch_order(map, f.patches, order);
                json_t *want = json_object_get(orders, vte_method_name((vte_method)m));
                for (int k = 0; k < f.patches; k++)
                    cr_assert_eq(order[k], json_integer_value(json_array_get(want, k)), "%s %s %s: position %d", f.name,
                                 STEMS[i], vte_method_name((vte_method)m), k);
                free(map);
            }
        }
        /* The generator, for this model's patch count and for ViT-B/16's 196. */
        const char *count_text;
        json_t *seeds;
        int counts_checked = 0;
        json_object_foreach(json_object_get(f.reference, "random_orders"), count_text, seeds) {
            const int patches = atoi(count_text);
            for (size_t s = 0; s < json_array_size(seeds); s++) {
                vte_random_patch_order(patches, (uint32_t)s, order);
                for (int k = 0; k < patches; k++)
                    cr_assert_eq(order[k], json_integer_value(json_array_get(json_array_get(seeds, s), k)),
                                 "%d patches, seed %zu, position %d", patches, s, k);
            }
            counts_checked++;
        }
        cr_assert_eq(counts_checked, 2);
        close_model(&f);
    }
}

Test(evaluate, blur_baseline_matches_the_reference) {
    fixture f = open_model("vit-tiny", 1);
    float *pixels = load_pixels(&f, "chelsea");
    const size_t n = vte_preprocess_size(f.c);
    float *blurred = malloc(n * sizeof *blurred);
    vte_error err = {0};
    cr_assert_eq(vte_evaluate_baseline(f.model, pixels, VTE_BASELINE_BLUR, blurred, &err), VTE_OK, "%s", err.message);
    float *want = load_npy("reference/vit-tiny/evaluate/chelsea_blur.npy", n);
    vte_test_check("blur baseline", blurred, want, n, 1e-6, 0);
    /* Black: the normalised value of a 0 byte, (0 - 0.5) / 0.5 for vit-tiny; mean: 0. */
    cr_assert_eq(vte_evaluate_baseline(f.model, pixels, VTE_BASELINE_BLACK, blurred, &err), VTE_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(blurred[i], -1.0f, "black at %zu: %f", i, (double)blurred[i]);
    cr_assert_eq(vte_evaluate_baseline(f.model, pixels, VTE_BASELINE_MEAN, blurred, &err), VTE_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(blurred[i], 0.0f);
    free(want);
    free(blurred);
    free(pixels);
    close_model(&f);
}

Test(evaluate, mask_coverage_and_scores_match_the_reference) {
    /* Three encodings: 8-bit gray, 1-bit, red on black RGB; vit-odd adds the resize-then-crop geometry. */
    for (int model = 0; model < 2; model++) {
        fixture f = open_model(model ? "vit-odd" : "vit-tiny", 1);
        float coverage[256];
        int hits = 0, misses = 0;
        for (int i = 0; i < IMAGE_COUNT; i++) {
            json_t *image = image_reference(&f, STEMS[i]);
            char relative[128];
            snprintf(relative, sizeof relative, "masks/%s.png", STEMS[i]);
            vte_image mask = {0};
            vte_error err = {0};
            cr_assert_eq(vte_image_load(vte_test_fixture(relative), &mask, &err), VTE_OK, "%s", err.message);
            cr_assert_eq(vte_mask_coverage(f.model, &mask, coverage, &err), VTE_OK, "%s", err.message);
            vte_image_free(&mask);
            float *want = json_floats(json_object_get(image, "coverage"), (size_t)f.patches, "coverage");
            vte_test_assert_close(coverage, want, (size_t)f.patches, 1e-6, 0, "coverage");
            free(want);
            for (int m = 0; m < VTE_METHOD_COUNT; m++) {
                float *map = load_map(&f, STEMS[i], (vte_method)m);
                json_t *scores = json_object_get(json_object_get(image, "mask_scores"), vte_method_name((vte_method)m));
                const int hit = vte_pointing_game(map, coverage, f.patches);
                cr_assert_eq(hit, (int)vte_test_json_number(scores, "pointing_game"), "%s %s %s", f.name, STEMS[i],
                             vte_method_name((vte_method)m));
                hits += hit;
                misses += !hit;
                cr_assert_float_eq(vte_share_on_object(map, coverage, f.patches), vte_test_json_number(scores, "share"),
                                   1e-6);
                free(map);
            }
            json_t *uniform = json_object_get(image, "uniform");
            cr_assert_float_eq(vte_pointing_game_uniform(coverage, f.patches), vte_test_json_number(uniform, "pointing_game"),
                               1e-9);
            cr_assert_float_eq(vte_share_uniform(coverage, f.patches), vte_test_json_number(uniform, "share"), 1e-6);
        }
        cr_assert(hits > 0, "%s: the masks give at least one hit", f.name);
        (void)misses;
        close_model(&f);
    }
}

/* vte_session_evaluate on the three images at once, with masks: maps as committed, scores and curves as the
 * reference's default configuration. */
static void check_session_evaluate(const char *model) {
    fixture f = open_model(model, 17); /* a whole curve of vit-tiny per pass */
    const size_t image_floats = vte_preprocess_size(f.c);
    float *pixels = malloc(IMAGE_COUNT * image_floats * sizeof *pixels);
    float coverage[IMAGE_COUNT][256];
    const float *coverage_of[IMAGE_COUNT];
    for (int i = 0; i < IMAGE_COUNT; i++) {
        float *p = load_pixels(&f, STEMS[i]);
        memcpy(pixels + i * image_floats, p, image_floats * sizeof *p);
        free(p);
        char relative[128];
        snprintf(relative, sizeof relative, "masks/%s.png", STEMS[i]);
        vte_image mask = {0};
        vte_error err = {0};
        cr_assert_eq(vte_image_load(vte_test_fixture(relative), &mask, &err), VTE_OK, "%s", err.message);
        cr_assert_eq(vte_mask_coverage(f.model, &mask, coverage[i], &err), VTE_OK, "%s", err.message);
        vte_image_free(&mask);
        coverage_of[i] = i == 1 ? NULL : coverage[i]; /* rocket without its mask */
    }
    vte_evaluate_options o;
    vte_evaluate_options_default(&o);
    o.explain.methods = vte_methods_from_name("all");
    vte_error err = {0};
    vte_evaluation *e = vte_session_evaluate(f.session, pixels, IMAGE_COUNT, NULL, coverage_of, &o, &err);
    cr_assert_not_null(e, "%s", err.message);
    cr_assert_eq(vte_evaluation_image_count(e), IMAGE_COUNT);
    const int points = vte_evaluation_curve_points(e);
    for (int i = 0; i < IMAGE_COUNT; i++) {
        json_t *image = image_reference(&f, STEMS[i]);
        json_t *rows = json_object_get(json_object_get(json_object_get(image, "configs"), "default"), "rows");
        cr_assert_eq(points, json_integer_value(json_object_get(
                                 json_object_get(json_object_get(image, "configs"), "default"), "points")));
        const vte_prediction target = vte_evaluation_target(e, i);
        cr_assert_eq(target.class_id, json_integer_value(json_object_get(image, "class")));
        cr_assert_float_eq(target.prob, vte_test_json_number(image, "prob"), PROB_ATOL);
        cr_assert_eq(vte_evaluation_has_mask(e, i), i != 1);
        for (int row = 0; row <= VTE_EVALUATION_UNIFORM; row++) {
            const vte_evaluation_scores s = vte_evaluation_scores_of(e, i, row);
            char what[160];
            snprintf(what, sizeof what, "%s %s row %d", model, STEMS[i], row);
            if (row < VTE_METHOD_COUNT) {
                float *map = load_map(&f, STEMS[i], (vte_method)row);
                vte_test_assert_close(vte_evaluation_map(e, i, (vte_method)row), map, (size_t)f.patches, 1e-5, 0, what);
                free(map);
            }
            if (row <= VTE_EVALUATION_RANDOM) {
                json_t *want =
                    json_object_get(rows, row < VTE_METHOD_COUNT ? vte_method_name((vte_method)row) : "random");
                cr_assert_float_eq(s.deletion_auc, vte_test_json_number(want, "deletion_auc"), PROB_ATOL, "%s", what);
                cr_assert_float_eq(s.insertion_auc, vte_test_json_number(want, "insertion_auc"), PROB_ATOL, "%s", what);
                float *curve = json_floats(json_object_get(want, "deletion"), (size_t)points, what);
                vte_test_assert_close(vte_evaluation_curve(e, i, row, VTE_CURVE_DELETION), curve, (size_t)points,
                                      PROB_ATOL, 0, what);
                free(curve);
            } else {
                cr_assert(isnan(s.deletion_auc) && isnan(s.insertion_auc), "%s: the uniform map has no curves", what);
                cr_assert_null(vte_evaluation_curve(e, i, row, VTE_CURVE_DELETION));
            }
            if (i == 1 || row == VTE_EVALUATION_RANDOM) {
                cr_assert(isnan(s.pointing_game) && isnan(s.share), "%s: no mask scores", what);
                continue;
            }
            json_t *want = row == VTE_EVALUATION_UNIFORM ? json_object_get(image, "uniform")
                                                         : json_object_get(json_object_get(image, "mask_scores"),
                                                                           vte_method_name((vte_method)row));
            cr_assert_float_eq(s.pointing_game, vte_test_json_number(want, "pointing_game"), 1e-9, "%s", what);
            cr_assert_float_eq(s.share, vte_test_json_number(want, "share"), 1e-5, "%s", what);
        }
    }
    const vte_evaluation_times t = vte_evaluation_times_of(e);
    /* (5 methods + 3 random orders) x 2 curves x points inputs per image */
    cr_assert_eq(t.curve_inputs, (long)IMAGE_COUNT * 8 * 2 * points);
    cr_assert_gt(t.curves_ms, 0.0);
    vte_evaluation_free(e);
    free(pixels);
    close_model(&f);
}

Test(evaluate, session_evaluate_matches_the_reference_vit_tiny) { check_session_evaluate("vit-tiny"); }
Test(evaluate, session_evaluate_matches_the_reference_vit_odd) { check_session_evaluate("vit-odd"); }

/* ---------------------------------------------------------------- properties whatever the model */

/* The class's probability on one input. */
static float probability_of(fixture *f, const float *input, int class_id) {
    vte_error err = {0};
    float logits[64];
    cr_assert_eq(vte_session_forward(f->session, input, 1, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_session_read_logits(f->session, logits, &err), VTE_OK, "%s", err.message);
    vte_prediction all[64];
    const int n = vte_top_k(logits, f->c->num_labels, f->c->num_labels, all);
    for (int k = 0; k < n; k++)
        if (all[k].class_id == class_id) return all[k].prob;
    cr_assert_fail("class %d not found", class_id);
    return 0;
}

Test(evaluate, curves_start_and_end_where_they_must) {
    const char *models[] = {"vit-tiny", "vit-odd"};
    const vte_baseline baselines[] = {VTE_BASELINE_BLACK, VTE_BASELINE_BLUR, VTE_BASELINE_MEAN};
    for (int model = 0; model < 2; model++) {
        fixture f = open_model(models[model], 6);
        const size_t n = vte_preprocess_size(f.c);
        float *pixels = load_pixels(&f, "rocket"), *base = malloc(n * sizeof *base);
        float deletion[32], insertion[32], by_one[32];
        int order[256];
        vte_error err = {0};
        const int class_id = 2; /* not the top class: the curves hold for any class */
        const float unperturbed = probability_of(&f, pixels, class_id);
        for (int b = 0; b < 3; b++) {
            cr_assert_eq(vte_evaluate_baseline(f.model, pixels, baselines[b], base, &err), VTE_OK);
            const float all_baseline = probability_of(&f, base, class_id);
            for (int step = 1; step <= 4; step += 3) {
                const int points = vte_curve_points(f.patches, step);
                vte_random_patch_order(f.patches, 7, order);
                /* batch 0: the session's 6 at a time (the last pass partly filled) */
                cr_assert_eq(vte_session_curve(f.session, pixels, base, class_id, order, VTE_CURVE_DELETION, step, 0,
                                               deletion, &err),
                             VTE_OK, "%s", err.message);
                cr_assert_eq(vte_session_curve(f.session, pixels, base, class_id, order, VTE_CURVE_INSERTION, step, 0,
                                               insertion, &err),
                             VTE_OK, "%s", err.message);
                cr_assert_float_eq(deletion[0], unperturbed, 1e-6, "deletion starts at the unperturbed probability");
                cr_assert_float_eq(deletion[points - 1], all_baseline, 1e-6, "deletion ends at the all-baseline one");
                cr_assert_float_eq(insertion[0], all_baseline, 1e-6, "insertion starts at the all-baseline one");
                cr_assert_float_eq(insertion[points - 1], unperturbed, 1e-6, "insertion ends at the unperturbed one");
                for (int kind = 0; kind < 2; kind++) {
                    const double auc = vte_curve_auc(kind ? insertion : deletion, f.patches, step);
                    cr_assert(auc >= 0 && auc <= 1, "AUC %f outside [0, 1]", auc);
                }
                /* One input per pass gives the same curve as six. */
                cr_assert_eq(vte_session_curve(f.session, pixels, base, class_id, order, VTE_CURVE_DELETION, step, 1,
                                               by_one, &err),
                             VTE_OK);
                vte_test_assert_close(by_one, deletion, (size_t)points, 1e-6, 0, "batch 1 vs batch 6");
            }
        }
        free(pixels);
        free(base);
        close_model(&f);
    }
}

Test(evaluate, points_steps_and_auc_by_the_trapezoid_rule) {
    cr_assert_eq(vte_curve_points(196, 0), 50, "ViT-B/16: 4 patches per step, 49 steps and the start");
    cr_assert_eq(vte_curve_step(196, 0), 4);
    cr_assert_eq(vte_curve_points(16, 0), 17);
    cr_assert_eq(vte_curve_points(15, 3), 6);
    cr_assert_eq(vte_curve_points(16, 3), 7, "0, 3, ..., 15, then the last patch");
    cr_assert_eq(vte_curve_points(49, 0), 50);
    cr_assert_eq(vte_curve_points(50, 0), 26, "2 per step");
    cr_assert_eq(vte_curve_points(16, 17), 0, "a step larger than the grid is refused");
    /* 16 patches, step 3: x = 0, 3, 6, 9, 12, 15, 16 (/16); a curve 1 - x has area 1/2 exactly. */
    const int changed[7] = {0, 3, 6, 9, 12, 15, 16};
    float probs[7];
    for (int k = 0; k < 7; k++) probs[k] = 1.0f - changed[k] / 16.0f;
    cr_assert_float_eq(vte_curve_auc(probs, 16, 3), 0.5, 1e-7);
    for (int k = 0; k < 7; k++) probs[k] = k == 6 ? 1.0f : 0.0f; /* only the last, 1/16 wide, step */
    cr_assert_float_eq(vte_curve_auc(probs, 16, 3), 0.5 / 16, 1e-7);
    cr_assert(isnan(vte_curve_auc(probs, 16, 20)));
}

Test(evaluate, orders_of_flat_and_tied_maps) {
    float map[16] = {0};
    int order[16];
    vte_patch_order(map, 16, order);
    for (int k = 0; k < 16; k++) cr_assert_eq(order[k], k, "an all-zero map gives the patch-index order");
    map[9] = 0.5f, map[3] = 0.5f, map[12] = 1.0f, map[0] = NAN;
    vte_patch_order(map, 16, order);
    const int want[16] = {12, 3, 9, 1, 2, 4, 5, 6, 7, 8, 10, 11, 13, 14, 15, 0};
    for (int k = 0; k < 16; k++) cr_assert_eq(order[k], want[k], "position %d: %d, expected %d", k, order[k], want[k]);
    /* Random orders are permutations, differ by seed and repeat by seed. */
    int a[196], b[196], seen[196] = {0};
    vte_random_patch_order(196, 0, a);
    vte_random_patch_order(196, 0, b);
    cr_assert_arr_eq(a, b, sizeof a);
    for (int k = 0; k < 196; k++) seen[a[k]]++;
    for (int k = 0; k < 196; k++) cr_assert_eq(seen[k], 1);
    vte_random_patch_order(196, 1, b);
    cr_assert(memcmp(a, b, sizeof a) != 0);
}

Test(evaluate, pointing_game_and_share_of_maps_on_a_mask) {
    fixture f = open_model("vit-odd", 1);
    float coverage[15], map[15] = {0};
    vte_image mask = {0};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(vte_test_fixture("masks/rocket.png"), &mask, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(vte_mask_coverage(f.model, &mask, coverage, &err), VTE_OK, "%s", err.message);
    vte_image_free(&mask);
    int on = -1, off = -1;
    for (int p = 0; p < 15; p++) {
        if (coverage[p] >= 0.5f && on < 0) on = p;
        if (coverage[p] == 0.0f && off < 0) off = p;
    }
    cr_assert(on >= 0 && off >= 0, "the rocket mask covers some patches and misses others");
    map[on] = 1.0f;
    cr_assert_eq(vte_pointing_game(map, coverage, 15), 1, "a map peaked on the mask hits");
    cr_assert_float_eq(vte_share_on_object(map, coverage, 15), coverage[on], 1e-7);
    map[on] = 0.0f, map[off] = 1.0f;
    cr_assert_eq(vte_pointing_game(map, coverage, 15), 0, "a map peaked off the mask misses");
    cr_assert_float_eq(vte_share_on_object(map, coverage, 15), 0.0, 1e-9);
    /* A map equal to the coverage puts sum c^2 / sum c of itself on the object; a zero map shares nothing. */
    double c2 = 0, c1 = 0;
    for (int p = 0; p < 15; p++) c2 += (double)coverage[p] * coverage[p], c1 += coverage[p];
    cr_assert_float_eq(vte_share_on_object(coverage, coverage, 15), c2 / c1, 1e-6);
    memset(map, 0, sizeof map);
    cr_assert_float_eq(vte_share_on_object(map, coverage, 15), 0.0, 0);
    /* A mask of another size than the model's preprocessing expects still maps (the geometry is the image's). */
    close_model(&f);
}

Test(evaluate, arguments_are_checked) {
    fixture f = open_model("vit-tiny", 4);
    const size_t n = vte_preprocess_size(f.c);
    float *pixels = load_pixels(&f, "chelsea"), probs[32];
    int order[16];
    vte_error err = {0};
    for (int k = 0; k < 16; k++) order[k] = k;
    cr_assert_eq(vte_session_curve(f.session, pixels, pixels, 0, order, VTE_CURVE_DELETION, 17, 0, probs, &err),
                 VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "step 17"), "%s", err.message);
    cr_assert_eq(vte_session_curve(f.session, pixels, pixels, 10, order, VTE_CURVE_DELETION, 1, 0, probs, &err),
                 VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "class 10"), "%s", err.message);
    cr_assert_eq(vte_session_curve(f.session, pixels, pixels, 0, order, VTE_CURVE_DELETION, 1, 5, probs, &err),
                 VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "batch 5"), "%s", err.message);
    order[3] = 2;
    cr_assert_eq(vte_session_curve(f.session, pixels, pixels, 0, order, VTE_CURVE_DELETION, 1, 0, probs, &err),
                 VTE_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "order is not a permutation"), "%s", err.message);
    vte_evaluate_options o;
    vte_evaluate_options_default(&o);
    cr_assert_null(vte_session_evaluate(f.session, pixels, 1, NULL, NULL, &o, &err));
    cr_assert(strstr(err.message, "no explanation method"), "%s", err.message);
    o.explain.methods = VTE_METHOD_BIT(VTE_METHOD_ROLLOUT);
    o.step = 20;
    cr_assert_null(vte_session_evaluate(f.session, pixels, 1, NULL, NULL, &o, &err));
    cr_assert(strstr(err.message, "step 20"), "%s", err.message);
    o.step = 0;
    const int bad_class = 12;
    cr_assert_null(vte_session_evaluate(f.session, pixels, 1, &bad_class, NULL, &o, &err));
    cr_assert(strstr(err.message, "class 12"), "%s", err.message);
    cr_assert_null(vte_session_evaluate(f.session, pixels, 5, NULL, NULL, &o, &err));
    cr_assert(strstr(err.message, "5 images"), "%s", err.message);
    (void)n;
    free(pixels);
    close_model(&f);
}

/* ---------------------------------------------------------------- the command line */

static vte_test_run *run_cli(const char *args) { return vte_test_cli(VTE_SOURCE_DIR, "", args); }

static json_t *read_json(const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    cr_assert_not_null(root, "%s: %s", path, jerr.text);
    return root;
}

/* The summary's scores of every image and row against the reference's `config`. */
static void check_summary_against_reference(json_t *summary, const char *model, const char *config, int with_masks) {
    json_t *reference = load_reference(model);
    json_t *images = json_object_get(summary, "images");
    cr_assert_eq(json_array_size(images), IMAGE_COUNT);
    for (int i = 0; i < IMAGE_COUNT; i++) {
        json_t *got = json_array_get(images, i),
               *want = json_object_get(json_object_get(reference, "images"), STEMS[i]);
        cr_assert_str_eq(json_string_value(json_object_get(got, "image")), IMAGE_FILES[i]);
        cr_assert_str_eq(json_string_value(json_object_get(got, "status")), "ok");
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(got, "class"), "id")),
                     json_integer_value(json_object_get(want, "class")));
        json_t *want_rows = json_object_get(json_object_get(json_object_get(want, "configs"), config), "rows");
        const char *row;
        json_t *scores;
        int rows = 0;
        json_object_foreach(json_object_get(got, "rows"), row, scores) {
            char what[200];
            snprintf(what, sizeof what, "%s %s %s", model, STEMS[i], row);
            rows++;
            if (strcmp(row, "uniform") != 0)
                for (int kind = 0; kind < 2; kind++) {
                    const char *key = kind ? "insertion_auc" : "deletion_auc";
                    cr_assert_float_eq(vte_test_json_number(scores, key),
                                       vte_test_json_number(json_object_get(want_rows, row), key), PROB_ATOL, "%s %s", what,
                                       key);
                }
            if (!with_masks || strcmp(row, "random") == 0) {
                cr_assert(json_is_null(json_object_get(scores, "pointing_game")), "%s", what);
                continue;
            }
            json_t *mask_want = strcmp(row, "uniform") == 0
                                    ? json_object_get(want, "uniform")
                                    : json_object_get(json_object_get(want, "mask_scores"), row);
            cr_assert_float_eq(vte_test_json_number(scores, "pointing_game"), vte_test_json_number(mask_want, "pointing_game"),
                               1e-9, "%s", what);
            cr_assert_float_eq(vte_test_json_number(scores, "share"), vte_test_json_number(mask_want, "share"), 1e-5, "%s", what);
        }
        cr_assert_eq(rows, VTE_METHOD_COUNT + 1 + with_masks, "the methods, random%s", with_masks ? ", uniform" : "");
    }
    json_decref(reference);
}

Test(evaluate, cli_table_summary_and_plot) {
    char dir[4096], args[16384], summary[4200], plot[4200];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    snprintf(summary, sizeof summary, "%s/run.json", dir);
    snprintf(plot, sizeof plot, "%s/curves.png", dir);
    snprintf(args, sizeof args,
             "evaluate --model tests/fixtures/models/vit-tiny --method all --masks tests/fixtures/masks --summary '%s' "
             "--plot '%s' images/chelsea.png images/rocket.jpg images/horse.png",
             summary, plot);
    vte_test_run *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    /* The table: its header, a row per method, the random order and the uniform map. */
    cr_assert(strstr(r->out, "Faithfulness, mean over 3 images"), "%s", r->out);
    cr_assert(strstr(r->out, "deletion AUC \u2193") && strstr(r->out, "insertion AUC \u2191") &&
                  strstr(r->out, "pointing game") && strstr(r->out, "share on object"),
              "%s", r->out);
    const char *row_titles[] = {"\nRollout ", "\nGMAR L1 ",      "\nGMAR L2 ",    "\nLeGrad ",
                                "\nChefer ",  "\nrandom order ", "\nuniform map "};
    for (size_t i = 0; i < sizeof row_titles / sizeof *row_titles; i++)
        cr_assert(strstr(r->out, row_titles[i]), "no row%s in:\n%s", row_titles[i], r->out);
    cr_assert(strstr(r->out, "masks for 3 images"), "%s", r->out);
    cr_assert(strstr(r->out, "images/rocket.jpg \u2192 horse (class 3"), "the per-image line: %s", r->out);
    /* The summary: the protocol, and every score as the PyTorch reference has it. */
    json_t *s = read_json(summary);
    json_t *protocol = json_object_get(s, "protocol");
    cr_assert_eq(json_integer_value(json_object_get(protocol, "patches")), 16);
    cr_assert_eq(json_integer_value(json_object_get(protocol, "step")), 1);
    cr_assert_eq(json_integer_value(json_object_get(protocol, "points")), 17);
    cr_assert_str_eq(json_string_value(json_object_get(protocol, "deletion_baseline")), "black");
    cr_assert_str_eq(json_string_value(json_object_get(protocol, "insertion_baseline")), "blur");
    cr_assert_eq(json_integer_value(json_object_get(protocol, "random_seeds")), 3);
    cr_assert_float_eq(json_real_value(json_array_get(json_object_get(protocol, "x"), 4)), 0.25, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(s, "evaluated")), 3);
    check_summary_against_reference(s, "vit-tiny", "default", 1);
    json_t *first = json_array_get(json_object_get(s, "images"), 0);
    json_t *rollout = json_object_get(json_object_get(first, "rows"), "rollout");
    cr_assert_eq(json_array_size(json_object_get(rollout, "deletion_curve")), 17);
    cr_assert_str_eq(json_string_value(json_object_get(first, "mask")), "tests/fixtures/masks/chelsea.png");
    cr_assert(json_is_object(json_object_get(json_object_get(s, "mean"), "gmar_l2")));
    json_decref(s);
    /* The plot: a PNG of the documented size. */
    vte_image picture = {0};
    vte_error err = {0};
    cr_assert_eq(vte_image_load(plot, &picture, &err), VTE_OK, "%s", err.message);
    cr_assert(picture.width == 1200 && picture.height == 540, "plot %dx%d", picture.width, picture.height);
    vte_image_free(&picture);
}

Test(evaluate, cli_options_step_baseline_seeds_and_csv) {
    char dir[4096], args[16384], summary[4200], text[65536];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    snprintf(summary, sizeof summary, "%s/run.json", dir);
    snprintf(args, sizeof args,
             "evaluate --model tests/fixtures/models/vit-odd --method rollout,gmar,legrad --method chefer --step 3 "
             "--baseline mean --random-seeds 2 --batch 4 --quiet --summary '%s' images/chelsea.png images/rocket.jpg "
             "images/horse.png",
             summary);
    vte_test_run *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert_str_eq(r->err, "", "--quiet: nothing on stderr");
    cr_assert(strstr(r->out, "Faithfulness") && !strstr(r->out, "\u2192"), "--quiet prints the table only: %s", r->out);
    json_t *s = read_json(summary);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "protocol"), "points")), 6);
    check_summary_against_reference(s, "vit-odd", "step3_mean", 0);
    json_decref(s);
    /* CSV: a header and one line per image and row (5 methods and random). */
    snprintf(summary, sizeof summary, "%s/run.csv", dir);
    snprintf(args, sizeof args,
             "evaluate --model tests/fixtures/models/vit-odd --method legrad --norm l1 --random-seeds 0 --quiet "
             "--masks tests/fixtures/masks --summary '%s' images/chelsea.png images/no-such-image.png",
             summary);
    r = run_cli(args);
    cr_assert_eq(r->status, 1, "a missing image fails, the rest is done; stderr: %s", r->err);
    cr_assert(strstr(r->err, "images/no-such-image.png"), "%s", r->err);
    vte_test_read_file(summary, text, sizeof text);
    const char *header = "image,status,error,class_id,class_label,class_prob,class_from,mask,row,deletion_auc,"
                         "insertion_auc,pointing_game,share\n";
    cr_assert(strncmp(text, header, strlen(header)) == 0, "%s", text);
    cr_assert(strstr(text, "\nimages/chelsea.png,ok,,0,airliner,"), "%s", text);
    cr_assert(strstr(text, ",top,tests/fixtures/masks/chelsea.png,legrad,"), "%s", text);
    cr_assert(strstr(text, ",top,tests/fixtures/masks/chelsea.png,uniform,,,"), "%s", text);
    cr_assert(strstr(text, "\nimages/no-such-image.png,failed,"), "%s", text);
    int lines = 0;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 4, "header, legrad and uniform of chelsea, the failed image: %s", text);
}

Test(evaluate, cli_labels_choose_the_class) {
    char dir[4096], args[16384], summary[4200], labels[4200];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    snprintf(summary, sizeof summary, "%s/run.json", dir);
    snprintf(labels, sizeof labels, "%s/labels.csv", dir);
    /* A header, a stem with a label in another case, a file name with an id; horse is not listed. */
    FILE *f = fopen(labels, "w");
    fputs("image,class\nchelsea,ESPRESSO\n\"rocket.jpg\", 1\nunknown-image,2\n", f);
    fclose(f);
    snprintf(args, sizeof args,
             "evaluate --model tests/fixtures/models/vit-tiny --method rollout --labels '%s' --summary '%s' "
             "images/chelsea.png images/rocket.jpg images/horse.png",
             labels, summary);
    vte_test_run *r = run_cli(args);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->err, "labels.csv:4: 'unknown-image' matches no input"), "%s", r->err);
    json_t *s = read_json(summary);
    const int want_class[3] = {6, 1, 0};
    const char *want_from[3] = {"labels", "labels", "top"};
    for (int i = 0; i < 3; i++) {
        json_t *c = json_object_get(json_array_get(json_object_get(s, "images"), i), "class");
        cr_assert_eq(json_integer_value(json_object_get(c, "id")), want_class[i], "%s", IMAGE_FILES[i]);
        cr_assert_str_eq(json_string_value(json_object_get(c, "from")), want_from[i]);
    }
    json_decref(s);
    /* An unknown class is a usage error naming the file and line, before any work. */
    f = fopen(labels, "w");
    fputs("chelsea,tabby cat\nrocket,flying saucer\n", f);
    fclose(f);
    r = run_cli(args);
    cr_assert_eq(r->status, 2, "%s", r->err);
    cr_assert(strstr(r->err, "labels.csv:2: unknown class 'flying saucer'"), "%s", r->err);
    cr_assert_str_eq(r->out, "");
    f = fopen(labels, "w");
    fputs("chelsea\n", f);
    fclose(f);
    r = run_cli(args);
    cr_assert_eq(r->status, 2, "%s", r->err);
    cr_assert(strstr(r->err, "labels.csv:1: expected `image,class`"), "%s", r->err);
}

Test(evaluate, cli_mask_of_the_wrong_size_fails_its_image) {
    char dir[4096], args[16384], path[4200];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    /* chelsea's mask given to coffee.png (600x400): reported with both sizes, the image skipped. */
    snprintf(path, sizeof path, "%s/coffee.png", dir);
    char text[8192];
    snprintf(text, sizeof text, "cp tests/fixtures/masks/chelsea.png '%s'", path);
    cr_assert_eq(vte_test_shell(VTE_SOURCE_DIR, text, "/dev/null")->status, 0);
    snprintf(args, sizeof args,
             "evaluate --model tests/fixtures/models/vit-tiny --method rollout --quiet --masks '%s' images/coffee.png "
             "images/horse.png",
             dir);
    vte_test_run *r = run_cli(args);
    cr_assert_eq(r->status, 1, "%s", r->err);
    cr_assert(strstr(r->err, "the mask is 451x300 but its image images/coffee.png is 600x400"), "%s", r->err);
    cr_assert(strstr(r->out, "mean over 1 image "), "horse is done: %s", r->out);
}

Test(evaluate, cli_usage_and_setup_errors) {
    static const struct {
        const char *args, *message;
        int status;
    } cases[] = {
        {"evaluate images/chelsea.png", "evaluate: no --method given", 2},
        {"evaluate --method saliency images/chelsea.png", "evaluate: unknown method 'saliency'", 2},
        {"evaluate --method all --baseline white images/chelsea.png", "--baseline takes black, blur or mean", 2},
        {"evaluate --method all --step 0 images/chelsea.png", "--step needs an integer from 1", 2},
        {"evaluate --method all --random-seeds -1 images/chelsea.png", "--random-seeds needs an integer", 2},
        {"evaluate --method all --plot curves.jpg images/chelsea.png", "--plot needs a file name ending in .png", 2},
        {"evaluate --method all --summary run.txt images/chelsea.png", "--summary needs a file name ending in .json",
         2},
        {"evaluate --method all --masks images/chelsea.png images/chelsea.png",
         "--masks images/chelsea.png is not a folder", 2},
        {"evaluate --method all", "evaluate: no INPUT given", 2},
        {"evaluate --method all --out results images/chelsea.png", "unknown option '--out'", 2},
        {"evaluate --method all --compat seed --head-fusion max images/chelsea.png",
         "evaluate: --head-fusion has no counterpart in --compat seed", 2},
        {"evaluate --model tests/fixtures/models/vit-tiny --method all --step 17 images/chelsea.png",
         "--step 17, but the model has 16 patches", 2},
        {"evaluate --model tests/fixtures/models/vit-tiny --method all --labels /nonexistent/labels.csv "
         "images/chelsea.png",
         "cannot read --labels /nonexistent/labels.csv", 2},
        {"evaluate --model /nonexistent/model --method all images/chelsea.png", "/nonexistent/model", 3},
        {"evaluate --model tests/fixtures/models/vit-tiny --method all --plot /nonexistent/dir/p.png "
         "images/chelsea.png",
         "cannot write --plot /nonexistent/dir/p.png: folder /nonexistent/dir", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vte_test_run *r = run_cli(cases[i].args);
        cr_assert_eq(r->status, cases[i].status, "%s: status %d, stderr %s", cases[i].args, r->status, r->err);
        cr_assert(strstr(r->err, cases[i].message), "%s: stderr %s", cases[i].args, r->err);
        cr_assert_null(strstr(r->out, "Faithfulness"), "%s: no table", cases[i].args);
    }
}

Test(evaluate, cli_help_tells_every_option) {
    vte_test_run *r = run_cli("evaluate --help");
    cr_assert_eq(r->status, 0);
    const char *options[] = {"--method M",        "--norm N",          "--labels FILE",    "--masks DIR",
                             "--step K",          "--baseline B",      "--random-seeds N", "--batch N",
                             "--summary FILE",    "--plot FILE.png",   "--save-maps DIR",  "--recursive",
                             "--quiet",           "--model DIR",       "--device SPEC",    "--head-fusion F",
                             "--discard-ratio R", "--legrad-layers K", "--compat seed",    "Exit status",
                             "1200x540"};
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        cr_assert(strstr(r->out, options[i]), "no %s in:\n%s", options[i], r->out);
    r = run_cli("--help");
    cr_assert(strstr(r->out, "  evaluate --method M"), "the command list names evaluate: %s", r->out);
}

Test(evaluate, cli_warns_about_an_all_zero_map) {
    /* Min head fusion with 99% discarded leaves rollout's CLS row without patch mass: its curves follow the patch
     * index order, which the command says. */
    vte_test_run *r =
        run_cli("evaluate --model tests/fixtures/models/vit-tiny --method rollout,legrad --head-fusion min "
                "--discard-ratio 0.99 --random-seeds 0 --quiet images/chelsea.png");
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert(strstr(r->err, "warning: images/chelsea.png: the rollout map is all zeros: its curves change the patches "
                             "in index order"),
              "%s", r->err);
    cr_assert_null(strstr(r->err, "legrad map"), "%s", r->err);
}

Test(evaluate, cli_ctrl_c_finishes_the_image_in_hand_and_reports_the_rest) {
    char dir[4000], line[16384];
    snprintf(dir, sizeof dir, "%s", vte_test_temp_dir());
    /* 300 inputs: far more than can be done before the interrupt arrives. */
    snprintf(line, sizeof line,
             "mkdir in && for i in $(seq 100 399); do ln -s '%s/images/chelsea.png' in/cat$i.png; done",
             VTE_SOURCE_DIR);
    cr_assert_eq(vte_test_shell(dir, line, "/dev/null")->status, 0);
    /* Start the run, wait for the first image's maps, then send SIGINT as Ctrl-C would. */
    snprintf(line, sizeof line,
             "'%s' evaluate --model '%s/tests/fixtures/models/vit-tiny' --method rollout --quiet --save-maps maps "
             "--summary s.json in > out.txt & pid=$!; "
             "for t in $(seq 300); do [ -e maps/cat100_rollout.npy ] && break; sleep 0.05; done; "
             "kill -INT $pid; wait $pid; echo \"exit status $?\"",
             VTE_CLI_PATH, VTE_SOURCE_DIR);
    vte_test_run *r = vte_test_shell(dir, line, "/dev/null"); /* 130 through stdout: the runner refuses >= 128 */
    cr_assert(strstr(r->out, "exit status 130"), "exit 130 after an interrupt; stdout: %s; stderr: %s", r->out, r->err);
    cr_assert(strstr(r->err, "evaluate: interrupted after"), "%s", r->err);
    char path[8192], text[65536];
    snprintf(path, sizeof path, "%s/s.json", dir);
    json_t *s = read_json(path);
    const int evaluated = (int)json_integer_value(json_object_get(s, "evaluated"));
    cr_assert(evaluated >= 1 && evaluated < 300, "%d evaluated", evaluated);
    cr_assert_eq(json_array_size(json_object_get(s, "images")), (size_t)evaluated, "the summary lists those done");
    json_decref(s);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    vte_test_read_file(path, text, sizeof text);
    char table[64];
    snprintf(table, sizeof table, "mean over %d image", evaluated);
    cr_assert(strstr(text, table), "the table of the images done: %s", text);
}
