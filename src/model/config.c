#include "model/config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

/* ------------------------------------------------------------------ JSON helpers */

static vte_status load_json_object(const char *path, json_t **out, vte_error *err) {
    *out = NULL;
    FILE *f = vte_fopen_regular_file(path, err);
    if (!f) return err ? err->code : VTE_ERR_IO;
    json_error_t jerr;
    errno = 0;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    const int read_error = ferror(f), read_errno = errno;
    fclose(f);
    if (!root) {
        if (read_error)
            return vte_error_set(err, VTE_ERR_IO, "%s: read error: %s", path,
                                 read_errno ? strerror(read_errno) : "unknown");
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: duplicate key at line %d column %d: %s", path, jerr.line,
                                 jerr.column, jerr.text);
        case json_error_invalid_utf8:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: not valid UTF-8 at line %d column %d: %s", path, jerr.line,
                                 jerr.column, jerr.text);
        default:
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", path, jerr.line,
                                 jerr.column, jerr.text);
        }
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: the top level is not a JSON object", path);
    }
    *out = root;
    return VTE_OK;
}

/* A JSON integer in [1, INT_MAX]. */
static int positive_int_value(const json_t *v, int *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 1 || x > INT_MAX) return 0;
    *out = (int)x;
    return 1;
}

/* Limits on the sizes a config may state, far beyond any ViT but small enough that nothing sized by them (label
 * names, per-layer tables) can exhaust memory before the checkpoint's tensor shapes are checked against them
 * (model.c). */
#define MAX_HIDDEN_SIZE 65536
#define MAX_LAYERS 1024
#define MAX_HEADS 4096
#define MAX_INTERMEDIATE_SIZE 262144
#define MAX_LABELS 1048576
#define MAX_IMAGE_SIDE 8192

/* A required (or, with has_default, optional) positive integer key of at most `most`. */
static vte_status get_positive_int(const char *path, const json_t *root, const char *key, int has_default, int def,
                                   int most, int *out, vte_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v) {
        if (has_default) {
            *out = def;
            return VTE_OK;
        }
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' is missing (a positive integer is required)", path,
                             key);
    }
    if (!positive_int_value(v, out))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' must be a positive integer", path, key);
    if (*out > most)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: key '%s' is %d, more than the %d vitexplain accepts", path,
                             key, *out, most);
    return VTE_OK;
}

static vte_status get_bool(const char *path, const json_t *root, const char *key, int *out, vte_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v) return VTE_OK; /* keep the default */
    if (!json_is_boolean(v)) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' must be true or false", path, key);
    *out = json_is_true(v);
    return VTE_OK;
}

/* An int, or a [height, width] pair of ints, all positive. Returns 0 when malformed. */
static int size_pair_value(const json_t *v, int *h, int *w) {
    if (json_is_integer(v)) {
        if (!positive_int_value(v, h)) return 0;
        *w = *h;
        return 1;
    }
    if (json_is_array(v) && json_array_size(v) == 2)
        return positive_int_value(json_array_get(v, 0), h) && positive_int_value(json_array_get(v, 1), w);
    return 0;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ------------------------------------------------------------------ labels */

void vte_labels_free(char **labels, int count) {
    if (!labels) return;
    for (int i = 0; i < count; i++) free(labels[i]);
    free(labels);
}

/* Parses a label id written as a JSON object key: decimal digits only. Returns -1 when malformed or huge. */
static long long parse_id_key(const char *s) {
    if (!*s) return -1;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) return -1;
    }
    return v;
}

static vte_status labels_from_id2label(const char *path, const json_t *obj, char ***out, int *count, vte_error *err) {
    if (!json_is_object(obj))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'id2label' must be an object of id -> name", path);
    size_t n = json_object_size(obj);
    if (n == 0) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'id2label' is empty", path);
    if (n > INT_MAX) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'id2label' has too many entries", path);
    char **labels = calloc(n, sizeof *labels);
    if (!labels) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu labels", path, n);
    const char *key;
    json_t *value;
    vte_status s = VTE_OK;
    json_object_foreach((json_t *)obj, key, value) {
        long long id = parse_id_key(key);
        if (id < 0) {
            s = vte_error_set(err, VTE_ERR_FORMAT, "%s: id2label key '%s' is not a class id (a decimal integer)", path,
                              key);
            break;
        }
        if (id >= (long long)n) {
            s = vte_error_set(err, VTE_ERR_FORMAT,
                              "%s: id2label key '%s' is out of range: its %zu ids must be 0 to %zu without gaps", path,
                              key, n, n - 1);
            break;
        }
        if (labels[id]) {
            s = vte_error_set(err, VTE_ERR_FORMAT, "%s: id2label has class id %lld more than once (key '%s')", path, id,
                              key);
            break;
        }
        if (!json_is_string(value)) {
            s = vte_error_set(err, VTE_ERR_FORMAT, "%s: id2label value of key '%s' is not a string", path, key);
            break;
        }
        if (!(labels[id] = dup_string(json_string_value(value)))) {
            s = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for labels", path);
            break;
        }
    }
    if (s != VTE_OK) {
        vte_labels_free(labels, (int)n);
        return s;
    }
    *out = labels;
    *count = (int)n;
    return VTE_OK;
}

static vte_status labels_from_label2id(const char *path, const json_t *obj, char ***out, int *count, vte_error *err) {
    if (!json_is_object(obj))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'label2id' must be an object of name -> id", path);
    size_t n = json_object_size(obj);
    if (n == 0) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'label2id' is empty", path);
    if (n > INT_MAX) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'label2id' has too many entries", path);
    char **labels = calloc(n, sizeof *labels);
    if (!labels) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu labels", path, n);
    const char *key;
    json_t *value;
    vte_status s = VTE_OK;
    json_object_foreach((json_t *)obj, key, value) {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id >= (json_int_t)n) {
            s = vte_error_set(err, VTE_ERR_FORMAT,
                              "%s: label2id value of '%s' must be a class id from 0 to %zu without gaps", path, key,
                              n - 1);
            break;
        }
        if (labels[id]) {
            s = vte_error_set(err, VTE_ERR_FORMAT, "%s: label2id has class id %lld more than once ('%s' and '%s')",
                              path, (long long)id, labels[id], key);
            break;
        }
        if (!(labels[id] = dup_string(key))) {
            s = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for labels", path);
            break;
        }
    }
    if (s != VTE_OK) {
        vte_labels_free(labels, (int)n);
        return s;
    }
    *out = labels;
    *count = (int)n;
    return VTE_OK;
}

static vte_status labels_generic(const char *path, int n, char ***out, vte_error *err) {
    char **labels = calloc((size_t)n, sizeof *labels);
    if (!labels) return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for %d labels", path, n);
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        if (!(labels[i] = dup_string(buf))) {
            vte_labels_free(labels, n);
            return vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "%s: out of memory for labels", path);
        }
    }
    *out = labels;
    return VTE_OK;
}

/* ------------------------------------------------------------------ config.json */

static vte_status parse_config(const char *path, const json_t *root, vte_model_config *c, char ***labels_out,
                               vte_error *err) {
    vte_status s;
    memset(c, 0, sizeof *c);

    json_t *v = json_object_get(root, "model_type");
    if (v) {
        if (!json_is_string(v))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'model_type' must be a string", path);
        const char *mt = json_string_value(v);
        if (strcmp(mt, "vit") != 0 && strcmp(mt, "deit") != 0)
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: model_type '%s' is not supported (expected 'vit' or 'deit')", path, mt);
    }
    v = json_object_get(root, "hidden_act");
    if (v) {
        if (!json_is_string(v))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'hidden_act' must be a string", path);
        if (strcmp(json_string_value(v), "gelu") != 0)
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: hidden_act '%s' is not supported (only 'gelu', the exact erf GELU)", path,
                                 json_string_value(v));
    }

    v = json_object_get(root, "image_size");
    if (!v) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'image_size' is missing", path);
    if (!size_pair_value(v, &c->image_height, &c->image_width))
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: key 'image_size' must be a positive integer or a [height, width] pair of them", path);

    v = json_object_get(root, "patch_size");
    if (!v) return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'patch_size' is missing", path);
    int ph, pw;
    if (!size_pair_value(v, &ph, &pw))
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: key 'patch_size' must be a positive integer or a [height, width] pair of them", path);
    if (ph != pw)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "%s: patch_size %dx%d is not square; only square patches are "
                             "supported",
                             path, ph, pw);
    c->patch_size = ph;
    if (c->image_height > MAX_IMAGE_SIDE || c->image_width > MAX_IMAGE_SIDE)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: key 'image_size' is %dx%d, more than the %dx%d vitexplain "
                             "accepts", path, c->image_height, c->image_width, MAX_IMAGE_SIDE, MAX_IMAGE_SIDE);

    if ((s = get_positive_int(path, root, "num_channels", 1, 3, INT_MAX, &c->num_channels, err))) return s;
    /* Every image is decoded to RGB: a model of 1 or 4 channels would load and then fail on every image. */
    if (c->num_channels != 3)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                             "%s: num_channels %d is not supported: vitexplain feeds the model RGB images (3 "
                             "channels)",
                             path, c->num_channels);
    if ((s = get_positive_int(path, root, "hidden_size", 0, 0, MAX_HIDDEN_SIZE, &c->hidden_size, err))) return s;
    if ((s = get_positive_int(path, root, "num_hidden_layers", 0, 0, MAX_LAYERS, &c->num_layers, err))) return s;
    if ((s = get_positive_int(path, root, "num_attention_heads", 0, 0, MAX_HEADS, &c->num_heads, err))) return s;
    if ((s = get_positive_int(path, root, "intermediate_size", 0, 0, MAX_INTERMEDIATE_SIZE,
                                  &c->intermediate_size, err))) return s;

    c->layer_norm_eps = 1e-12f;
    v = json_object_get(root, "layer_norm_eps");
    if (v) {
        double eps = json_is_number(v) ? json_number_value(v) : -1.0;
        if (!(eps > 0.0) || !isfinite(eps) || !((float)eps > 0.0f) || !isfinite((float)eps))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'layer_norm_eps' must be a positive number", path);
        c->layer_norm_eps = (float)eps;
    }
    c->qkv_bias = 1;
    if ((s = get_bool(path, root, "qkv_bias", &c->qkv_bias, err))) return s;

    if (c->image_height % c->patch_size || c->image_width % c->patch_size)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: image_size %dx%d is not divisible by patch_size %d", path,
                             c->image_height, c->image_width, c->patch_size);
    if (c->hidden_size % c->num_heads)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: hidden_size %d is not divisible by num_attention_heads %d", path,
                             c->hidden_size, c->num_heads);
    c->grid_h = c->image_height / c->patch_size;
    c->grid_w = c->image_width / c->patch_size;
    long long tokens = 1 + (long long)c->grid_h * c->grid_w;
    if (tokens > INT_MAX)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: image_size %dx%d with patch_size %d gives too many tokens",
                             path, c->image_height, c->image_width, c->patch_size);
    c->num_tokens = (int)tokens;

    /* Labels: id2label wins, as in transformers' PretrainedConfig (a different num_labels only warns there). */
    char **labels = NULL;
    int n = 0;
    json_t *id2label = json_object_get(root, "id2label");
    json_t *label2id = json_object_get(root, "label2id");
    if (id2label) {
        s = labels_from_id2label(path, id2label, &labels, &n, err);
    } else if (label2id) {
        s = labels_from_label2id(path, label2id, &labels, &n, err);
    } else if (json_object_get(root, "num_labels")) {
        s = get_positive_int(path, root, "num_labels", 0, 0, MAX_LABELS, &n, err);
        if (s == VTE_OK) s = labels_generic(path, n, &labels, err);
    } else {
        s = vte_error_set(err, VTE_ERR_FORMAT,
                          "%s: no labels: none of 'id2label', 'label2id' or 'num_labels' is present", path);
    }
    if (s != VTE_OK) return s;
    c->num_labels = n;
    *labels_out = labels;
    return VTE_OK;
}

vte_status vte_config_load(const char *config_path, vte_model_config *config, char ***labels, vte_error *err) {
    if (labels) *labels = NULL;
    if (!config_path || !config)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_config_load: NULL path or config");
    json_t *root;
    vte_status s = load_json_object(config_path, &root, err);
    if (s != VTE_OK) return s;
    vte_model_config c;
    char **names = NULL;
    s = parse_config(config_path, root, &c, &names, err);
    json_decref(root);
    if (s != VTE_OK) return s;
    *config = c;
    if (labels)
        *labels = names;
    else
        vte_labels_free(names, c.num_labels);
    return VTE_OK;
}

/* ------------------------------------------------------------------ preprocessor_config.json */

void vte_preprocess_config_default(const vte_model_config *config, vte_preprocess_config *pp) {
    memset(pp, 0, sizeof *pp);
    pp->do_resize = 1;
    pp->resize_height = config->image_height;
    pp->resize_width = config->image_width;
    pp->resize_shortest_edge = 0;
    pp->resample = VTE_RESAMPLE_BILINEAR;
    pp->do_center_crop = 0;
    pp->crop_height = config->image_height;
    pp->crop_width = config->image_width;
    pp->do_rescale = 1;
    pp->rescale_factor = 1.0 / 255.0;
    pp->do_normalize = 1;
    for (int i = 0; i < 4; i++) {
        pp->image_mean[i] = 0.5f;
        pp->image_std[i] = 0.5f;
    }
}

void vte_shortest_edge_size(int width, int height, int shortest_edge, int *out_width, int *out_height) {
    if (width <= height) {
        *out_width = shortest_edge;
        *out_height = (int)((double)shortest_edge * height / width);
    } else {
        *out_height = shortest_edge;
        *out_width = (int)((double)shortest_edge * width / height);
    }
}

/* `size` / `crop_size`: a number n (n x n), [height, width], or {"height", "width"}; for `size` also
 * {"shortest_edge"}. */
static vte_status parse_size_value(const char *path, const char *key, const json_t *v, int allow_shortest, int *h,
                                   int *w, int *shortest, vte_error *err) {
    if (shortest) *shortest = 0;
    if (json_is_object(v)) {
        json_t *se = json_object_get(v, "shortest_edge");
        json_t *jh = json_object_get(v, "height");
        json_t *jw = json_object_get(v, "width");
        if (json_object_get(v, "longest_edge") || json_object_get(v, "max_height") || json_object_get(v, "max_width"))
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: key '%s' with a longest edge or maximum size is not supported", path, key);
        if (se && allow_shortest && !jh && !jw) {
            if (!positive_int_value(se, shortest))
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' shortest_edge must be a positive integer", path,
                                     key);
            return VTE_OK;
        }
        if (jh && jw && !se) {
            if (!positive_int_value(jh, h) || !positive_int_value(jw, w))
                return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' height and width must be positive integers",
                                     path, key);
            return VTE_OK;
        }
    } else if (size_pair_value(v, h, w)) {
        return VTE_OK;
    }
    return vte_error_set(err, VTE_ERR_FORMAT,
                         "%s: key '%s' must be a positive integer, [height, width], "
                         "{\"height\": h, \"width\": w}%s",
                         path, key, allow_shortest ? " or {\"shortest_edge\": n}" : "");
}

/* The largest side an image is resized or cropped to: far beyond any ViT's input, small enough that the resized
 * image (at most 8192 x 8192 x 3 bytes, or twice that along the longer side for shortest_edge) fits in memory. */
#define MAX_PROCESSOR_SIDE 8192

/* A size key of preprocessor_config.json (see parse_size_value), within MAX_PROCESSOR_SIDE. */
static vte_status parse_size(const char *path, const char *key, const json_t *v, int allow_shortest, int *h, int *w,
                             int *shortest, vte_error *err) {
    vte_status s = parse_size_value(path, key, v, allow_shortest, h, w, shortest, err);
    if (s) return s;
    const int largest = shortest && *shortest ? *shortest : (*h > *w ? *h : *w);
    if (largest > MAX_PROCESSOR_SIDE)
        return vte_error_set(err, VTE_ERR_UNSUPPORTED, "%s: key '%s' asks for %d pixels, more than the limit of %d",
                             path, key, largest, MAX_PROCESSOR_SIDE);
    return VTE_OK;
}

static vte_status parse_channel_values(const char *path, const char *key, const json_t *v, int channels, int nonzero,
                                       float out[4], vte_error *err) {
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (!isfinite(x) || (nonzero && x == 0.0))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' must be a finite%s number", path, key,
                                 nonzero ? " non-zero" : "");
        for (int i = 0; i < 4; i++) out[i] = (float)x;
        return VTE_OK;
    }
    if (!json_is_array(v))
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' must be a number or an array of %d numbers", path, key,
                             channels);
    if (json_array_size(v) != (size_t)channels)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' has %zu values, but the model has %d channels", path,
                             key, json_array_size(v), channels);
    float tmp[4];
    for (int i = 0; i < 4; i++) tmp[i] = out[i];
    for (int i = 0; i < channels; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        double x = json_is_number(e) ? json_number_value(e) : NAN;
        if (!isfinite(x) || (nonzero && x == 0.0))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key '%s' value %d must be a finite%s number", path, key, i,
                                 nonzero ? " non-zero" : "");
        tmp[i] = (float)x;
    }
    for (int i = 0; i < 4; i++) out[i] = tmp[i];
    return VTE_OK;
}

static int is_vit_processor(const json_t *root) {
    const char *keys[] = {"image_processor_type", "feature_extractor_type"};
    for (int i = 0; i < 2; i++) {
        const char *t = json_string_value(json_object_get(root, keys[i]));
        if (t && (strcmp(t, "ViTImageProcessor") == 0 || strcmp(t, "ViTImageProcessorFast") == 0 ||
                  strcmp(t, "ViTImageProcessorPil") == 0 || strcmp(t, "ViTFeatureExtractor") == 0))
            return 1;
    }
    return 0;
}

static vte_status parse_preprocess(const char *path, const json_t *root, const vte_model_config *config,
                                   vte_preprocess_config *pp, vte_error *err) {
    vte_status s;
    json_t *v;
    if ((s = get_bool(path, root, "do_resize", &pp->do_resize, err))) return s;
    if ((v = json_object_get(root, "size"))) {
        int h = 0, w = 0, se = 0;
        if ((s = parse_size(path, "size", v, 1, &h, &w, &se, err))) return s;
        if (se) {
            pp->resize_shortest_edge = se;
            pp->resize_height = pp->resize_width = 0;
        } else {
            pp->resize_shortest_edge = 0;
            pp->resize_height = h;
            pp->resize_width = w;
        }
    }
    if ((v = json_object_get(root, "resample"))) {
        if (!json_is_integer(v))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'resample' must be an integer (a PIL resampling filter)",
                                 path);
        json_int_t r = json_integer_value(v);
        switch (r) {
        case 0: pp->resample = VTE_RESAMPLE_NEAREST; break;
        case 2: pp->resample = VTE_RESAMPLE_BILINEAR; break;
        case 3: pp->resample = VTE_RESAMPLE_BICUBIC; break;
        default: {
            const char *names[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: resample %lld%s%s%s is not supported (only 0 nearest, 2 bilinear, 3 bicubic)",
                                 path, (long long)r, r >= 0 && r <= 5 ? " (" : "", r >= 0 && r <= 5 ? names[r] : "",
                                 r >= 0 && r <= 5 ? ")" : "");
        }
        }
    }
    /* transformers' ViTImageProcessor has no center crop: it ignores these keys. */
    if (!is_vit_processor(root)) {
        if ((s = get_bool(path, root, "do_center_crop", &pp->do_center_crop, err))) return s;
        if ((v = json_object_get(root, "crop_size"))) {
            int h = 0, w = 0;
            if ((s = parse_size(path, "crop_size", v, 0, &h, &w, NULL, err))) return s;
            pp->crop_height = h;
            pp->crop_width = w;
        }
    }
    if ((s = get_bool(path, root, "do_rescale", &pp->do_rescale, err))) return s;
    if ((v = json_object_get(root, "rescale_factor"))) {
        double f = json_is_number(v) ? json_number_value(v) : -1.0;
        if (!(f > 0.0) || !isfinite(f))
            return vte_error_set(err, VTE_ERR_FORMAT, "%s: key 'rescale_factor' must be a positive number", path);
        pp->rescale_factor = f;
    }
    if ((s = get_bool(path, root, "do_normalize", &pp->do_normalize, err))) return s;
    if ((v = json_object_get(root, "image_mean")) &&
        (s = parse_channel_values(path, "image_mean", v, config->num_channels, 0, pp->image_mean, err)))
        return s;
    if ((v = json_object_get(root, "image_std")) &&
        (s = parse_channel_values(path, "image_std", v, config->num_channels, 1, pp->image_std, err)))
        return s;
    /* Values fine as doubles can be zero or infinite as the floats preprocessing computes in (image_std 1e-50,
     * image_mean 1e39, rescale_factor 1e308): check the darkest and brightest pixel of every channel, as
     * preprocessing will compute them, before any image does. */
    for (int c = 0; c < config->num_channels; c++)
        for (int u = 0; u <= 255; u += 255) {
            float x = pp->do_rescale ? (float)((double)u * pp->rescale_factor) : (float)u;
            if (pp->do_normalize) x = (x - pp->image_mean[c]) / pp->image_std[c];
            if (!isfinite(x))
                return vte_error_set(err, VTE_ERR_FORMAT,
                                     "%s: rescale_factor %g, image_mean %g and image_std %g turn pixel value %d of "
                                     "channel %d into %g in float32: these values cannot be used",
                                     path, pp->rescale_factor, (double)pp->image_mean[c], (double)pp->image_std[c], u,
                                     c, (double)x);
        }

    /* The tensor that reaches the model must have the model's size. */
    if (pp->do_center_crop) {
        if (pp->crop_height != config->image_height || pp->crop_width != config->image_width)
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: crop_size %dx%d (height x width) does not match the model's image_size %dx%d",
                                 path, pp->crop_height, pp->crop_width, config->image_height, config->image_width);
    } else if (pp->do_resize) {
        if (pp->resize_shortest_edge)
            return vte_error_set(err, VTE_ERR_UNSUPPORTED,
                                 "%s: size {\"shortest_edge\": %d} without a center crop gives images whose size "
                                 "depends on the aspect ratio, but the model needs %dx%d",
                                 path, pp->resize_shortest_edge, config->image_height, config->image_width);
        if (pp->resize_height != config->image_height || pp->resize_width != config->image_width)
            return vte_error_set(err, VTE_ERR_FORMAT,
                                 "%s: size %dx%d (height x width) does not match the model's image_size %dx%d", path,
                                 pp->resize_height, pp->resize_width, config->image_height, config->image_width);
    }
    /* Neither resize nor crop: images must already have the model's size (checked when preprocessing). */
    return VTE_OK;
}

vte_status vte_preprocess_config_load(const char *path, const vte_model_config *config, vte_preprocess_config *pp,
                                      vte_error *err) {
    if (!path || !config || !pp)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_preprocess_config_load: NULL argument");
    if (config->num_channels < 1 || config->num_channels > 4)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "%s: the model config has %d channels (1 to 4 supported)",
                             path, config->num_channels);
    json_t *root;
    vte_status s = load_json_object(path, &root, err);
    if (s != VTE_OK) return s;
    vte_preprocess_config p;
    vte_preprocess_config_default(config, &p);
    s = parse_preprocess(path, root, config, &p, err);
    json_decref(root);
    if (s == VTE_OK) *pp = p;
    return s;
}
