/* config.json and preprocessor_config.json parsing: valid files, defaults, and one broken file per rule,
 * each checked for its status code, a distinctive part of its message and the path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/config.h"
#include "test_support.h"


static const char *write_json(const char *name, const char *text) {
    return vte_test_write_temp(name, text, strlen(text));
}


/* A ViT-B/16-like config.json with 3 labels. */
static const char *VIT_B =
    "{\n"
    "  \"architectures\": [\"ViTForImageClassification\"],\n"
    "  \"attention_probs_dropout_prob\": 0.0,\n"
    "  \"hidden_act\": \"gelu\",\n"
    "  \"hidden_dropout_prob\": 0.0,\n"
    "  \"hidden_size\": 768,\n"
    "  \"id2label\": {\"0\": \"tench, Tinca tinca\", \"2\": \"great white shark\", \"1\": \"goldfish\"},\n"
    "  \"label2id\": {\"tench, Tinca tinca\": 0, \"goldfish\": 1, \"great white shark\": 2},\n"
    "  \"image_size\": 224,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 3072,\n"
    "  \"layer_norm_eps\": 1e-06,\n"
    "  \"model_type\": \"vit\",\n"
    "  \"num_attention_heads\": 12,\n"
    "  \"num_channels\": 3,\n"
    "  \"num_hidden_layers\": 12,\n"
    "  \"patch_size\": 16,\n"
    "  \"qkv_bias\": false,\n"
    "  \"transformers_version\": \"4.40.0\"\n"
    "}\n";

/* The minimal keys, without the defaulted ones; %s is spliced in before the closing brace. */
static const char *MINIMAL_FMT =
    "{\"hidden_size\": %d, \"num_hidden_layers\": 2, \"num_attention_heads\": %d, \"intermediate_size\": 64,"
    " \"image_size\": %s, \"patch_size\": %d%s}";

static const char *minimal(int hidden, int heads, const char *image, int patch, const char *extra) {
    static char buf[2048];
    snprintf(buf, sizeof buf, MINIMAL_FMT, hidden, heads, image, patch, extra);
    return buf;
}

static void expect_config_error(const char *text, vte_status code, const char *needle) {
    const char *path = write_json("config.json", text);
    vte_model_config c;
    memset(&c, 0x5a, sizeof c);
    vte_model_config before = c;
    char *sentinel = NULL;
    char **labels = &sentinel; /* must be reset to NULL */
    vte_error err = {0};
    cr_assert_eq(vte_config_load(path, &c, &labels, &err), code, "expected code %d for '%s': %s", code, needle,
                 err.message);
    cr_assert_eq(err.code, code);
    cr_assert_not_null(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
    cr_assert_not_null(strstr(err.message, path), "message '%s' lacks the path", err.message);
    cr_assert_null(labels);
    cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "config changed on failure");
}

Test(config, vit_base) {
    const char *path = write_json("config.json", VIT_B);
    vte_model_config c;
    char **labels = NULL;
    vte_error err = {0};
    cr_assert_eq(vte_config_load(path, &c, &labels, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(c.image_height, 224);
    cr_assert_eq(c.image_width, 224);
    cr_assert_eq(c.patch_size, 16);
    cr_assert_eq(c.num_channels, 3);
    cr_assert_eq(c.hidden_size, 768);
    cr_assert_eq(c.num_layers, 12);
    cr_assert_eq(c.num_heads, 12);
    cr_assert_eq(c.intermediate_size, 3072);
    cr_assert_eq(c.num_labels, 3);
    cr_assert_eq(c.qkv_bias, 0);
    cr_assert_eq(c.layer_norm_eps, 1e-6f);
    cr_assert_eq(c.grid_h, 14);
    cr_assert_eq(c.grid_w, 14);
    cr_assert_eq(c.num_tokens, 197);
    cr_assert_not_null(labels);
    cr_assert_str_eq(labels[0], "tench, Tinca tinca");
    cr_assert_str_eq(labels[1], "goldfish");
    cr_assert_str_eq(labels[2], "great white shark");
    vte_labels_free(labels, c.num_labels);
    /* labels may be omitted */
    cr_assert_eq(vte_config_load(path, &c, NULL, &err), VTE_OK, "%s", err.message);
}

Test(config, image_size_pair_and_defaults) {
    const char *path = write_json("config.json", minimal(64, 4, "[32, 48]", 8, ", \"num_labels\": 2"));
    vte_model_config c;
    char **labels = NULL;
    vte_error err = {0};
    cr_assert_eq(vte_config_load(path, &c, &labels, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(c.image_height, 32);
    cr_assert_eq(c.image_width, 48);
    cr_assert_eq(c.grid_h, 4);
    cr_assert_eq(c.grid_w, 6);
    cr_assert_eq(c.num_tokens, 25);
    cr_assert_eq(c.num_channels, 3);
    cr_assert_eq(c.qkv_bias, 1);
    cr_assert_eq(c.layer_norm_eps, 1e-12f);
    cr_assert_eq(c.num_labels, 2);
    cr_assert_str_eq(labels[0], "LABEL_0");
    cr_assert_str_eq(labels[1], "LABEL_1");
    vte_labels_free(labels, c.num_labels);
}

Test(config, labels_from_label2id) {
    const char *path = write_json(
        "config.json", minimal(64, 4, "32", 8, ", \"label2id\": {\"cat\": 1, \"dog\": 0}, \"num_labels\": 7"));
    vte_model_config c;
    char **labels = NULL;
    vte_error err = {0};
    cr_assert_eq(vte_config_load(path, &c, &labels, &err), VTE_OK, "%s", err.message);
    cr_assert_eq(c.num_labels, 2);
    cr_assert_str_eq(labels[0], "dog");
    cr_assert_str_eq(labels[1], "cat");
    vte_labels_free(labels, c.num_labels);
}

Test(config, deit_model_type_accepted) {
    const char *path =
        write_json("config.json", minimal(64, 4, "32", 8, ", \"model_type\": \"deit\", \"num_labels\": 1"));
    vte_model_config c;
    vte_error err = {0};
    cr_assert_eq(vte_config_load(path, &c, NULL, &err), VTE_OK, "%s", err.message);
}

Test(config, missing_hidden_size) {
    expect_config_error("{\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 64,"
                        " \"image_size\": 32, \"patch_size\": 8, \"num_labels\": 2}",
                        VTE_ERR_FORMAT, "key 'hidden_size' is missing");
}

Test(config, bad_integer) {
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"num_channels\": 0"), VTE_ERR_FORMAT,
                        "key 'num_channels' must be a positive integer");
    expect_config_error(minimal(-64, 4, "32", 8, ", \"num_labels\": 2"), VTE_ERR_FORMAT,
                        "key 'hidden_size' must be a positive integer");
    expect_config_error(minimal(64, 4, "32.0", 8, ", \"num_labels\": 2"), VTE_ERR_FORMAT,
                        "key 'image_size' must be a positive integer or a [height, width] pair");
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"layer_norm_eps\": 0"), VTE_ERR_FORMAT,
                        "key 'layer_norm_eps' must be a positive number");
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"qkv_bias\": 1"), VTE_ERR_FORMAT,
                        "key 'qkv_bias' must be true or false");
}

Test(config, hidden_not_divisible_by_heads) {
    expect_config_error(minimal(64, 5, "32", 8, ", \"num_labels\": 2"), VTE_ERR_FORMAT,
                        "hidden_size 64 is not divisible by num_attention_heads 5");
}

Test(config, image_not_divisible_by_patch) {
    expect_config_error(minimal(64, 4, "[32, 36]", 8, ", \"num_labels\": 2"), VTE_ERR_FORMAT,
                        "image_size 32x36 is not divisible by patch_size 8");
}

Test(config, unsupported_activation_and_model) {
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"hidden_act\": \"relu\""), VTE_ERR_UNSUPPORTED,
                        "hidden_act 'relu' is not supported");
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"model_type\": \"swin\""), VTE_ERR_UNSUPPORTED,
                        "model_type 'swin' is not supported");
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"num_channels\": 5"), VTE_ERR_UNSUPPORTED,
                        "num_channels 5 is not supported");
}

Test(config, id2label_with_gap) {
    expect_config_error(minimal(64, 4, "32", 8, ", \"id2label\": {\"0\": \"a\", \"1\": \"b\", \"3\": \"d\"}"),
                        VTE_ERR_FORMAT, "id2label key '3' is out of range: its 3 ids must be 0 to 2 without gaps");
    expect_config_error(minimal(64, 4, "32", 8, ", \"id2label\": {\"0\": \"a\", \"1\": \"b\", \"01\": \"c\"}"),
                        VTE_ERR_FORMAT, "id2label has class id 1 more than once");
    expect_config_error(minimal(64, 4, "32", 8, ", \"id2label\": {\"0\": \"a\", \"x\": \"b\"}"), VTE_ERR_FORMAT,
                        "id2label key 'x' is not a class id");
    expect_config_error(minimal(64, 4, "32", 8, ", \"id2label\": {\"0\": 5}"), VTE_ERR_FORMAT,
                        "id2label value of key '0' is not a string");
    expect_config_error(minimal(64, 4, "32", 8, ", \"id2label\": {}"), VTE_ERR_FORMAT, "key 'id2label' is empty");
}

Test(config, no_labels) {
    expect_config_error(minimal(64, 4, "32", 8, ""), VTE_ERR_FORMAT,
                        "no labels: none of 'id2label', 'label2id' or 'num_labels' is present");
}

Test(config, malformed_json) {
    expect_config_error("{\"hidden_size\": 768,\n \"image_size\": }", VTE_ERR_FORMAT, "invalid JSON at line 2 column");
    expect_config_error("[768]", VTE_ERR_FORMAT, "the top level is not a JSON object");
}

Test(config, duplicate_key) {
    expect_config_error(minimal(64, 4, "32", 8, ", \"num_labels\": 2, \"hidden_size\": 128"), VTE_ERR_FORMAT,
                        "duplicate key at line 1");
}

Test(config, missing_file) {
    vte_model_config c;
    char **labels = NULL;
    vte_error err = {0};
    cr_assert_eq(vte_config_load("/nonexistent/config.json", &c, &labels, &err), VTE_ERR_IO);
    cr_assert_not_null(strstr(err.message, "/nonexistent/config.json: cannot open"), "%s", err.message);
}

/* ------------------------------------------------------------------ preprocessor_config.json */

static vte_model_config model_224(void) {
    vte_model_config c;
    memset(&c, 0, sizeof c);
    c.image_height = c.image_width = 224;
    c.patch_size = 16;
    c.num_channels = 3;
    c.hidden_size = 768;
    c.num_layers = 12;
    c.num_heads = 12;
    c.intermediate_size = 3072;
    c.num_labels = 1000;
    c.grid_h = c.grid_w = 14;
    c.num_tokens = 197;
    return c;
}

static vte_preprocess_config load_pp(const char *text) {
    const char *path = write_json("preprocessor_config.json", text);
    vte_model_config c = model_224();
    vte_preprocess_config pp;
    vte_error err = {0};
    cr_assert_eq(vte_preprocess_config_load(path, &c, &pp, &err), VTE_OK, "%s", err.message);
    return pp;
}

static void expect_pp_error(const char *text, vte_status code, const char *needle) {
    const char *path = write_json("preprocessor_config.json", text);
    vte_model_config c = model_224();
    vte_preprocess_config pp;
    memset(&pp, 0x33, sizeof pp);
    vte_preprocess_config before = pp;
    vte_error err = {0};
    cr_assert_eq(vte_preprocess_config_load(path, &c, &pp, &err), code, "expected code %d for '%s': %s", code, needle,
                 err.message);
    cr_assert_not_null(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
    cr_assert_not_null(strstr(err.message, path), "message '%s' lacks the path", err.message);
    cr_assert_eq(memcmp(&pp, &before, sizeof pp), 0, "preprocess config changed on failure");
}

Test(preprocess, defaults) {
    vte_model_config c = model_224();
    vte_preprocess_config pp;
    vte_preprocess_config_default(&c, &pp);
    cr_assert_eq(pp.do_resize, 1);
    cr_assert_eq(pp.resize_height, 224);
    cr_assert_eq(pp.resize_width, 224);
    cr_assert_eq(pp.resize_shortest_edge, 0);
    cr_assert_eq(pp.resample, VTE_RESAMPLE_BILINEAR);
    cr_assert_eq(pp.do_center_crop, 0);
    cr_assert_eq(pp.do_rescale, 1);
    cr_assert_eq(pp.rescale_factor, 1.0 / 255.0);
    cr_assert_eq(pp.do_normalize, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pp.image_mean[i], 0.5f);
        cr_assert_eq(pp.image_std[i], 0.5f);
    }
}

Test(preprocess, google_vit_file_and_number_size) {
    vte_preprocess_config pp = load_pp("{\"do_normalize\": true, \"do_resize\": true, \"image_mean\": [0.5, 0.5, 0.5],"
                                       " \"image_std\": [0.5, 0.5, 0.5], \"size\": 224}");
    cr_assert_eq(pp.resize_height, 224);
    cr_assert_eq(pp.resize_width, 224);
    cr_assert_eq(pp.resample, VTE_RESAMPLE_BILINEAR);
    cr_assert_eq(pp.do_rescale, 1);
    cr_assert_eq(pp.rescale_factor, 1.0 / 255.0);
    cr_assert_eq(pp.do_center_crop, 0);
}

Test(preprocess, height_width_size_and_values) {
    vte_preprocess_config pp =
        load_pp("{\"image_processor_type\": \"ViTImageProcessor\", \"size\": {\"height\": 224, \"width\": 224},"
                " \"resample\": 0, \"do_rescale\": false, \"rescale_factor\": 0.5, \"do_normalize\": false,"
                " \"image_mean\": [0.485, 0.456, 0.406], \"image_std\": 0.25,"
                " \"do_center_crop\": true, \"crop_size\": 100}");
    cr_assert_eq(pp.resize_height, 224);
    cr_assert_eq(pp.resample, VTE_RESAMPLE_NEAREST);
    cr_assert_eq(pp.do_rescale, 0);
    cr_assert_eq(pp.rescale_factor, 0.5);
    cr_assert_eq(pp.do_normalize, 0);
    cr_assert_eq(pp.image_mean[0], 0.485f);
    cr_assert_eq(pp.image_mean[2], 0.406f);
    cr_assert_eq(pp.image_std[1], 0.25f);
    /* ViTImageProcessor has no center crop: the crop keys are ignored, as transformers does */
    cr_assert_eq(pp.do_center_crop, 0);
}

Test(preprocess, deit_crop_bicubic) {
    vte_preprocess_config pp = load_pp("{\"crop_size\": 224, \"do_center_crop\": true, \"do_normalize\": true,"
                                       " \"do_resize\": true, \"feature_extractor_type\": \"DeiTFeatureExtractor\","
                                       " \"image_mean\": [0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, 0.225],"
                                       " \"resample\": 3, \"size\": 256}");
    cr_assert_eq(pp.resize_height, 256);
    cr_assert_eq(pp.resize_width, 256);
    cr_assert_eq(pp.do_center_crop, 1);
    cr_assert_eq(pp.crop_height, 224);
    cr_assert_eq(pp.crop_width, 224);
    cr_assert_eq(pp.resample, VTE_RESAMPLE_BICUBIC);
    cr_assert_eq(pp.image_std[0], 0.229f);
}

Test(preprocess, shortest_edge_with_crop) {
    vte_preprocess_config pp = load_pp("{\"size\": {\"shortest_edge\": 256}, \"do_center_crop\": true,"
                                       " \"crop_size\": {\"height\": 224, \"width\": 224}}");
    cr_assert_eq(pp.resize_shortest_edge, 256);
    cr_assert_eq(pp.do_center_crop, 1);
    cr_assert_eq(pp.crop_height, 224);
    int w, h;
    vte_shortest_edge_size(640, 480, 256, &w, &h);
    cr_assert_eq(h, 256);
    cr_assert_eq(w, 341); /* int(256 * 640 / 480) = int(341.33) */
    vte_shortest_edge_size(480, 640, 256, &w, &h);
    cr_assert_eq(w, 256);
    cr_assert_eq(h, 341);
}

Test(preprocess, shortest_edge_without_crop) {
    expect_pp_error("{\"size\": {\"shortest_edge\": 224}}", VTE_ERR_UNSUPPORTED,
                    "without a center crop gives images whose size depends on the aspect ratio");
}

Test(preprocess, unsupported_resample) {
    expect_pp_error("{\"resample\": 1}", VTE_ERR_UNSUPPORTED, "resample 1 (lanczos) is not supported");
    expect_pp_error("{\"resample\": \"bilinear\"}", VTE_ERR_FORMAT, "key 'resample' must be an integer");
}

Test(preprocess, mean_of_wrong_length) {
    expect_pp_error("{\"image_mean\": [0.5, 0.5]}", VTE_ERR_FORMAT,
                    "key 'image_mean' has 2 values, but the model has 3 channels");
    expect_pp_error("{\"image_std\": [0.5, 0, 0.5]}", VTE_ERR_FORMAT,
                    "key 'image_std' value 1 must be a finite non-zero");
}

Test(preprocess, final_size_mismatch) {
    expect_pp_error("{\"size\": 256}", VTE_ERR_FORMAT,
                    "size 256x256 (height x width) does not match the model's image_size 224x224");
    expect_pp_error("{\"size\": 256, \"do_center_crop\": true, \"crop_size\": 192}", VTE_ERR_FORMAT,
                    "crop_size 192x192 (height x width) does not match the model's image_size 224x224");
}

Test(preprocess, malformed) {
    expect_pp_error("{\"size\": {\"width\": 224}}", VTE_ERR_FORMAT, "key 'size' must be a positive integer");
    expect_pp_error("{\"size\": {\"shortest_edge\": 224, \"longest_edge\": 1333}}", VTE_ERR_UNSUPPORTED,
                    "longest edge");
    expect_pp_error("{\"do_resize\": \"yes\"}", VTE_ERR_FORMAT, "key 'do_resize' must be true or false");
    expect_pp_error("{\"do_resize\": true, \"do_resize\": false}", VTE_ERR_FORMAT, "duplicate key");
    expect_pp_error("{\"do_resize\": true", VTE_ERR_FORMAT, "invalid JSON");
}
