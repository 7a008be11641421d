/* Hugging Face config.json (ViTForImageClassification) and preprocessor_config.json (ViTImageProcessor and
 * relatives) parsing. */
#ifndef VTE_MODEL_CONFIG_H
#define VTE_MODEL_CONFIG_H

#include "vitexplain.h"

/* Parses a ViTForImageClassification config.json:
 *   image_size (int or [h, w]), patch_size (int or [p, p]), num_channels (default 3, at most 4), hidden_size,
 *   num_hidden_layers, num_attention_heads, intermediate_size, layer_norm_eps (default 1e-12), qkv_bias
 *   (default true), hidden_act (default "gelu"; anything else is VTE_ERR_UNSUPPORTED), model_type ("vit" or
 *   "deit" when present, else VTE_ERR_UNSUPPORTED), and the labels: id2label (an object with the keys "0" to
 *   "n-1", each id exactly once; num_labels = n), else label2id (inverted), else num_labels ("LABEL_i"),
 *   else an error.
 * Fills *config (grid_h, grid_w and num_tokens derived; sizes positive, image divisible by patch, hidden
 * divisible by heads) and, when labels is not NULL, *labels (a malloc'ed array of num_labels malloc'ed
 * strings; free with vte_labels_free). On failure neither is touched (*labels is set to NULL). */
vte_status vte_config_load(const char *config_path, vte_model_config *config, char ***labels, vte_error *err);
void vte_labels_free(char **labels, int count);

/* Defaults of HF ViTImageProcessor for this model: resize to the model's image size, bilinear, rescale 1/255,
 * normalize with mean = std = 0.5, no center crop. */
void vte_preprocess_config_default(const vte_model_config *config, vte_preprocess_config *pp);

/* Parses preprocessor_config.json over those defaults: do_resize, size (a number n -> n x n;
 * {"height","width"}; {"shortest_edge": n} -> resize_shortest_edge), resample (0 nearest, 2 bilinear,
 * 3 bicubic; others VTE_ERR_UNSUPPORTED), do_center_crop, crop_size (number or {height,width}), do_rescale,
 * rescale_factor, do_normalize, image_mean / image_std (num_channels numbers, or one number for all).
 * As in transformers, do_center_crop and crop_size are ignored when image_processor_type (or
 * feature_extractor_type) names the ViT processor, which has no center crop.
 * The final tensor size (the crop if cropping, else the resize) must equal the model's image size.
 * On failure *pp is left untouched. */
vte_status vte_preprocess_config_load(const char *path, const vte_model_config *config, vte_preprocess_config *pp,
                                      vte_error *err);

/* The size transformers' get_resize_output_image_size gives for {"shortest_edge": s} (default_to_square
 * False): the short side becomes s, the long side int(s * long / short). */
void vte_shortest_edge_size(int width, int height, int shortest_edge, int *out_width, int *out_height);

#endif
