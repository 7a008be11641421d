/*
 * vitexplain: run a Hugging Face ViTForImageClassification checkpoint on any OpenCL device and explain
 * what it looks at. Public C API (plain C11; every symbol is prefixed vte_).
 *
 * Conventions:
 *   - Handles are opaque: vte_runtime (one device, its context, queue and program cache), vte_model
 *     (config, labels and weights on one runtime's device), vte_session (a model with a batch size and its
 *     device memory, planned once).
 *   - Threads: call the library from one thread at a time. (Debian's CLBlast 1.5.3 can fail when two threads
 *     run GEMMs at once, even on separate runtimes; batches are the way to use a device fully.)
 *   - Constructors are *_init / *_load and return NULL on failure; other calls return VTE_OK (0) or a
 *     vte_status code. Either way a failure fills the caller's vte_error (which may be NULL) with a message
 *     that names the file, device call or argument concerned. The library never prints and never exits.
 */
#ifndef VITEXPLAIN_H
#define VITEXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VTE_VERSION_STRING "0.1.0"

typedef enum vte_status {
    VTE_OK = 0,
    VTE_ERR_INVALID_ARGUMENT = 1, /* a caller's argument is out of range */
    VTE_ERR_IO = 2,               /* a file cannot be opened, read, mapped or written */
    VTE_ERR_FORMAT = 3,           /* a file is malformed: safetensors, JSON config, image */
    VTE_ERR_OPENCL = 4,           /* an OpenCL call failed (the message names the call and status) */
    VTE_ERR_CLBLAST = 5,          /* a CLBlast call failed */
    VTE_ERR_OUT_OF_MEMORY = 6,    /* host allocation failed */
    VTE_ERR_NO_DEVICE = 7,        /* no OpenCL device matches the request */
    VTE_ERR_UNSUPPORTED = 8,      /* a model or option this build cannot run */
    VTE_ERR_SELF_CHECK = 9        /* the device computed a wrong result in a self-check */
} vte_status;

#define VTE_ERROR_MESSAGE_SIZE 1024

typedef struct vte_error {
    vte_status code;
    char message[VTE_ERROR_MESSAGE_SIZE];
} vte_error;

const char *vte_version(void);
const char *vte_status_name(vte_status code);

/* ---------------------------------------------------------------- devices and runtime */

typedef enum vte_device_type { VTE_DEVICE_CPU = 1, VTE_DEVICE_GPU = 2, VTE_DEVICE_ACCELERATOR = 4, VTE_DEVICE_OTHER = 8 } vte_device_type;

typedef struct vte_device_info {
    int index;          /* position in the flat list over all platforms, as `vitexplain devices` prints */
    int platform_index; /* position of the platform */
    char platform_name[256];
    char platform_version[256];
    char name[256];
    char vendor[256];
    char driver_version[256];
    char opencl_c_version[256];
    vte_device_type type;
    uint32_t compute_units;
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
} vte_device_info;

/* Lists every device of every platform. *devices is malloc'ed; free it with free(). */
vte_status vte_devices_list(vte_device_info **devices, size_t *count, vte_error *err);

/* Resolves a device request against the list: NULL or "" picks the default (first GPU, else first CPU,
 * else the first device); otherwise an index ("1"), "cpu", "gpu", or a case-insensitive substring of the
 * device name. Returns the index in `devices`, or -1 with err filled. */
int vte_devices_choose(const vte_device_info *devices, size_t count, const char *request, vte_error *err);

typedef struct vte_runtime_params {
    const char *device;     /* as for vte_devices_choose; NULL: $VITEXPLAIN_DEVICE, else the default */
    const char *cache_dir;  /* program-binary cache; NULL: $VITEXPLAIN_CACHE_DIR, else
                               $XDG_CACHE_HOME/vitexplain, else ~/.cache/vitexplain; "" disables it */
    const char *kernel_dir; /* load .cl files from here instead of the embedded copies; NULL:
                               $VITEXPLAIN_KERNEL_DIR, else embedded */
} vte_runtime_params;

typedef struct vte_runtime vte_runtime;

vte_runtime *vte_runtime_init(const vte_runtime_params *params, vte_error *err);
void vte_runtime_free(vte_runtime *rt);
const vte_device_info *vte_runtime_device(const vte_runtime *rt);

/* ---------------------------------------------------------------- models */

typedef struct vte_model_config {
    int image_height, image_width; /* the model's input size */
    int patch_size;
    int num_channels;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int num_labels;
    int qkv_bias;
    float layer_norm_eps;
    int grid_h, grid_w; /* patch grid: image_height/patch_size x image_width/patch_size */
    int num_tokens;     /* 1 + grid_h*grid_w */
} vte_model_config;

typedef enum vte_resample { VTE_RESAMPLE_NEAREST = 0, VTE_RESAMPLE_BILINEAR = 2, VTE_RESAMPLE_BICUBIC = 3 } vte_resample;

typedef struct vte_preprocess_config {
    int do_resize;
    int resize_height, resize_width; /* `size` of preprocessor_config.json */
    int resize_shortest_edge;        /* >0 when `size` is {"shortest_edge": n}: keep the aspect ratio */
    vte_resample resample;
    int do_center_crop;
    int crop_height, crop_width;
    int do_rescale;
    double rescale_factor;
    int do_normalize;
    float image_mean[4];
    float image_std[4];
} vte_preprocess_config;

typedef struct vte_model vte_model;

/* Where the model `spec` is: a model folder as it is, or a Hugging Face hub id ("google/vit-base-patch16-224")
 * that transformers has downloaded, found in the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub; models--ORG--NAME/snapshots/<revision from refs/main>). Writes the folder into dir.
 * A hub id with no cached copy fails with VTE_ERR_IO, the message saying how to fetch it. */
vte_status vte_model_locate(const char *spec, char *dir, size_t size, vte_error *err);

/* Loads DIR/config.json, DIR/model.safetensors and (when present) DIR/preprocessor_config.json, validates
 * them and uploads the weights to the runtime's device. `dir` may be a hub id (vte_model_locate). */
vte_model *vte_model_load(vte_runtime *rt, const char *dir, vte_error *err);
/* The folder the model was loaded from (the cache snapshot for a hub id). */
const char *vte_model_dir(const vte_model *model);
void vte_model_free(vte_model *model);
const vte_model_config *vte_model_get_config(const vte_model *model);
const vte_preprocess_config *vte_model_get_preprocess(const vte_model *model);
/* The id2label name of a class, or NULL when the id is out of range. */
const char *vte_model_label(const vte_model *model, int class_id);
/* The class whose label equals `name` case-insensitively, or -1. */
int vte_model_find_label(const vte_model *model, const char *name);

/* ---------------------------------------------------------------- images and preprocessing */

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B. */
typedef struct vte_image {
    int width, height;
    unsigned char *rgb; /* width*height*3 bytes, malloc'ed */
} vte_image;

/* The most pixels an image may have by default: 8192 x 8192 (64 Mi pixels, 192 MiB as 8-bit RGB). */
#define VTE_IMAGE_DEFAULT_MAX_PIXELS 67108864ll

/* How vte_image_load_with_options decodes. Zero-initialised, it behaves as vte_image_load. */
typedef struct vte_image_load_options {
    /* Images with more pixels than this (after any reduction below) are refused from their header, before
     * anything is decoded: a file of a few kilobytes can claim 30000 x 30000 pixels (a decompression bomb).
     * 0: VTE_IMAGE_DEFAULT_MAX_PIXELS. */
    long long max_pixels;
    /* > 0: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's scaled decoding, a fraction of the time
     * and memory), the smallest of those that is still at least reduced_min_width x reduced_min_height. Its
     * pixels then differ slightly from a full decode, so the model's input differs from transformers'
     * preprocessing. 0: always the full size. Other formats are always decoded at full size. */
    int reduced_min_width, reduced_min_height;
} vte_image_load_options;

/* Decodes a file into 8-bit RGB the way Pillow's convert('RGB') does: alpha dropped without compositing,
 * grayscale expanded, 16-bit reduced to 8-bit. The formats are PNG, JPEG, BMP, WebP, TIFF, PNM, Sun raster and
 * JPEG 2000 (decoded by OpenCV); the size is read from the file's header first, and an image of
 * more than VTE_IMAGE_DEFAULT_MAX_PIXELS pixels is refused (VTE_ERR_UNSUPPORTED) without being decoded. */
vte_status vte_image_load(const char *path, vte_image *image, vte_error *err);
/* The same with a pixel limit and reduced-size decoding of one's own (`options` NULL: the defaults). */
vte_status vte_image_load_with_options(const char *path, const vte_image_load_options *options, vte_image *image,
                                       vte_error *err);
void vte_image_free(vte_image *image);

/* Number of floats vte_preprocess writes: num_channels*image_height*image_width. */
size_t vte_preprocess_size(const vte_model_config *config);
/* Hugging Face ViTImageProcessor (Pillow path): resize, center crop, rescale, normalise, to CHW float32. */
vte_status vte_preprocess(const vte_preprocess_config *pp, const vte_model_config *config,
                          const vte_image *image, float *pixels_chw, vte_error *err);

/* ---------------------------------------------------------------- sessions: forward pass */

typedef struct vte_session vte_session;

/* What a session keeps of every layer after a forward pass, beyond its logits (bit set). */
typedef enum vte_session_keep_flags {
    VTE_KEEP_ATTENTION = 1,   /* every layer's attention probabilities: vte_session_read_attention, rollout-like maps */
    VTE_KEEP_ACTIVATIONS = 2, /* what a backward pass and LeGrad read: Q, K, V, residual streams, MLP inputs, norms */
    VTE_KEEP_ALL = 3
} vte_session_keep_flags;

/* Plans every device buffer for up to `max_batch` images at once, keeping everything (VTE_KEEP_ALL). */
vte_session *vte_session_init(vte_model *model, int max_batch, vte_error *err);
/* The same, keeping only `keep` (VTE_KEEP_*; 0 for classifying only): the layers share the rest, which saves
 * most of the activations' memory (ViT-B at batch 8: about 1.1 GB kept for all, 0.1 GB shared by all).
 * vte_session_explain keeps more by itself when its methods need it. */
vte_session *vte_session_init_keeping(vte_model *model, int max_batch, unsigned keep, vte_error *err);
/* Keeps more from the next forward pass on (allocates what was shared); never less. */
vte_status vte_session_keep(vte_session *session, unsigned keep, vte_error *err);
unsigned vte_session_kept(const vte_session *session);
void vte_session_free(vte_session *session);
int vte_session_max_batch(const vte_session *session);

/* Runs the forward pass on n_images (<= max_batch) preprocessed images, `pixels` holding n_images
 * consecutive CHW float32 tensors. What the session keeps (attention probabilities, the activations a backward
 * pass needs) stays on the device until the next call. */
vte_status vte_session_forward(vte_session *session, const float *pixels, int n_images, vte_error *err);

/* Copies results of the last forward pass to the host.
 * logits: n_images*num_labels floats. attention of one layer: n_images*num_heads*num_tokens*num_tokens. */
vte_status vte_session_read_logits(vte_session *session, float *logits, vte_error *err);
vte_status vte_session_read_attention(vte_session *session, int layer, float *attention, vte_error *err);

typedef struct vte_prediction {
    int class_id;
    float logit;
    float prob; /* softmax over all classes */
} vte_prediction;

/* The k best classes of one logit row, best first (k is clamped to num_labels). Returns how many. */
int vte_top_k(const float *logits, int num_labels, int k, vte_prediction *out);

/* ---------------------------------------------------------------- explanations */

/* The explanation methods (docs/methods.md; defaults follow the published definitions). */
typedef enum vte_method {
    VTE_METHOD_ROLLOUT = 0, /* Abnar & Zuidema attention rollout */
    VTE_METHOD_GMAR_L1 = 1, /* gradient-weighted multi-head attention rollout, L1 head weights */
    VTE_METHOD_GMAR_L2 = 2, /* ... L2 head weights */
    VTE_METHOD_LEGRAD = 3,  /* LeGrad: per-layer gradient of the model's own readout w.r.t. that layer's attention */
    VTE_METHOD_CHEFER = 4,  /* Chefer et al. 2021 gradient-weighted rollout */
    VTE_METHOD_COUNT = 5
} vte_method;

#define VTE_METHOD_BIT(m) (1u << (m))

/* "rollout", "gmar_l1", "gmar_l2", "legrad", "chefer"; NULL when out of range. */
const char *vte_method_name(vte_method method);
/* For people: "Rollout", "GMAR L1", "GMAR L2", "LeGrad", "Chefer"; NULL when out of range. */
const char *vte_method_title(vte_method method);

/* What is fixed about a method. */
typedef struct vte_method_info {
    const char *name;      /* "gmar_l1", as vte_method_name */
    const char *family;    /* "gmar": the name people choose it by (the command line's --method, the output
                              folder); the method's own name when it is alone in its family */
    const char *variant;   /* "l1" or "l2" within the GMAR family; "" otherwise */
    const char *title;     /* as vte_method_title */
    const char *description; /* what it is and where it was published, for help texts */
    int class_independent; /* 1: one map for every target class (rollout reads no gradient) */
    int has_seed_variant;  /* 1: compat_seed changes its formula (the original PyTorch project had it) */
} vte_method_info;

/* NULL when out of range. */
const vte_method_info *vte_method_info_of(vte_method method);
/* The method whose name is `name`, in any case ("GMAR_L1"); -1 when there is none. */
int vte_method_from_name(const char *name);
/* The methods `name` stands for, as a bit set of VTE_METHOD_BIT: a method's name, a family ("gmar": both GMAR
 * variants) or "all"; any case. 0 when the name is unknown. */
unsigned vte_methods_from_name(const char *name);

typedef enum vte_head_fusion { VTE_FUSION_MEAN = 0, VTE_FUSION_MAX = 1, VTE_FUSION_MIN = 2 } vte_head_fusion;

typedef struct vte_explain_options {
    unsigned methods;              /* bit set of VTE_METHOD_BIT(m) */
    vte_head_fusion rollout_fusion; /* rollout head fusion (default mean) */
    float discard_ratio;           /* rollout: zero this fraction of the lowest fused entries (CLS->CLS kept) */
    int legrad_layers;             /* LeGrad over the last K layers; 0 = all */
    int compat_seed;               /* 1: the formulas of the original PyTorch project (LeGrad, GMAR, rollout);
                                      they have no fusion, discard or layer options: setting those for a method
                                      that has a seed variant is an error */
    int upsample;                  /* 1: also return maps upsampled to the model's input size */
} vte_explain_options;

/* Fills the published defaults: no method selected, mean fusion, no discard, all LeGrad layers. */
void vte_explain_options_default(vte_explain_options *options);

/* 1 when `method` needs a backward pass per target with these options (NULL: the defaults), else 0. */
int vte_method_needs_backward(vte_method method, const vte_explain_options *options);

/* What a session must keep (VTE_KEEP_*) for options->methods: the attention for rollout-like maps, the
 * activations for LeGrad, both for the gradient methods. For vte_session_init_keeping. */
unsigned vte_explain_keep(const vte_explain_options *options);

typedef struct vte_explanation vte_explanation;

/* Explains n_images preprocessed images (n_images <= the session's max_batch) in one forward pass and, when a
 * selected method needs gradients, backward passes, each for as many targets at once as make the rows of 8
 * images. Targets: with `classes` NULL, the top `targets_per_image` classes of each image; otherwise
 * classes[i*targets_per_image + t] gives them (ids must be valid labels). Returns NULL with err filled on
 * failure. */
vte_explanation *vte_session_explain(vte_session *session, const float *pixels, int n_images, const int *classes,
                                     int targets_per_image, const vte_explain_options *options, vte_error *err);
void vte_explanation_free(vte_explanation *explanation);

int vte_explanation_image_count(const vte_explanation *e);
int vte_explanation_target_count(const vte_explanation *e);
/* The grid map of one image, target and method: grid_h*grid_w floats, row-major, min-max normalised to
 * [0, 1]; NULL when the method was not requested. */
const float *vte_explanation_map(const vte_explanation *e, int image, int target, vte_method method);
/* The same map bilinearly upsampled to image_height*image_width (options.upsample), else NULL. */
const float *vte_explanation_upsampled(const vte_explanation *e, int image, int target, vte_method method);
/* The best classes of an image, best first (at most VTE_EXPLANATION_MAX_PREDICTIONS); returns how many. */
#define VTE_EXPLANATION_MAX_PREDICTIONS 10
int vte_explanation_predictions(const vte_explanation *e, int image, vte_prediction *out, int k);
/* The explained class of a target, with its logit and probability. */
vte_prediction vte_explanation_target(const vte_explanation *e, int image, int target);
/* Time spent in each stage, milliseconds, for the whole batch. */
typedef struct vte_stage_times {
    double forward_ms, backward_ms, explain_ms;
} vte_stage_times;
vte_stage_times vte_explanation_times(const vte_explanation *e);

/* ---------------------------------------------------------------- pictures */

/* The heat-map overlay the command line saves: `map` (grid_h x grid_w, values meant to be in [0, 1]) upsampled
 * bilinearly to the image's size, coloured with OpenCV's jet colour map and blended over the image with opacity
 * alpha in [0, 1]; with a non-empty title, a darkened band across the top carries it. An image larger than 4096
 * pixels on a side is first shrunk to that. out->rgb is malloc'ed (free it with vte_image_free). */
vte_status vte_render_overlay(const vte_image *image, const float *map, int grid_h, int grid_w, float alpha,
                              const char *title, vte_image *out, vte_error *err);

/* ---------------------------------------------------------------- evaluation: how faithful the maps are */

/* Deletion and insertion curves (Petsiuk et al. 2018, RISE), the pointing game and the share of a map on an
 * object mask, for the maps of vte_session_explain or a caller's own. docs/evaluation.md states the protocol:
 * patch orders, steps, baselines, the random generator, the AUC, masks. Perturbation happens on the model
 * input (CHW floats), one patch of the model's grid at a time; every input of a curve goes through the forward
 * pass in batches of the session. P below is the number of patches, grid_h*grid_w. */

typedef enum vte_baseline {
    VTE_BASELINE_BLACK = 0, /* every value that of a black pixel: (0 - mean_c)/std_c after the model's rescale */
    VTE_BASELINE_BLUR = 1,  /* the input blurred: Gaussian of 11 taps, sigma 5, per channel, edges replicated */
    VTE_BASELINE_MEAN = 2   /* every value 0: the normalisation's mean (the data set mean) */
} vte_baseline;

typedef enum vte_curve_kind {
    VTE_CURVE_DELETION = 0, /* from the input, patches replaced by the baseline, most relevant first */
    VTE_CURVE_INSERTION = 1 /* from the baseline, patches of the input revealed, most relevant first */
} vte_curve_kind;

typedef struct vte_evaluate_options {
    vte_explain_options explain;     /* the methods evaluated and their options (explain.upsample is ignored) */
    int step;                        /* patches changed per step; 0: ceil(P/49), so at most 49 steps */
    vte_baseline deletion_baseline;  /* default black, as RISE */
    vte_baseline insertion_baseline; /* default blur, as RISE */
    int random_seeds;                /* random patch orders averaged into the random row (seeds 0..n-1);
                                        default 3; 0: no random row */
    int batch;                       /* perturbed inputs per forward pass; 0: the session's max_batch */
} vte_evaluate_options;

/* Fills the defaults: no method selected (explain options as vte_explain_options_default), step 0, deletion
 * black, insertion blur, 3 random seeds, batch 0. */
void vte_evaluate_options_default(vte_evaluate_options *options);

/* Points on a curve over `patches` patches changed `step` at a time (0: the default step): ceil(P/step) + 1,
 * the unperturbed start included; 0 when an argument is out of range. Point k has min(k*step, P) patches
 * changed, at x = min(k*step, P)/P. */
int vte_curve_points(int patches, int step);
/* The step that `step` stands for: itself when positive, ceil(P/49) for 0. */
int vte_curve_step(int patches, int step);

/* The order in which a map's patches are changed: by descending value, ties by the lower patch index (a NaN
 * counts as the lowest value). order: P patch indices. */
void vte_patch_order(const float *map, int patches, int *order);
/* A random order from `seed`: Fisher-Yates from the last position down, driven by xorshift32 started at
 * 0x9E3779B9 * (seed + 1) (docs/evaluation.md#random-orders), so that any implementation can repeat it. */
void vte_random_patch_order(int patches, uint32_t seed, int *order);

/* The baseline input of one preprocessed image (`pixels` and `out`: vte_preprocess_size floats, CHW). */
vte_status vte_evaluate_baseline(const vte_model *model, const float *pixels, vte_baseline baseline, float *out,
                                 vte_error *err);

/* One curve of one image: the softmax probability of class_id at each of vte_curve_points(P, step) points, the
 * inputs between `pixels` and `baseline_pixels` (from vte_evaluate_baseline, or any input of the same size)
 * with patches changed in `order` (P distinct indices). The inputs go through the forward pass `batch` at a time
 * (0: the session's max_batch). Overwrites the session's last forward pass. */
vte_status vte_session_curve(vte_session *session, const float *pixels, const float *baseline_pixels, int class_id,
                             const int *order, vte_curve_kind kind, int step, int batch, float *probs,
                             vte_error *err);

/* The area under a curve of vte_curve_points(patches, step) points by the trapezoid rule over x = the fraction
 * of patches changed, in [0, 1]; NaN when an argument is out of range. */
double vte_curve_auc(const float *probs, int patches, int step);

/* An object mask (nonzero = object: a pixel is on the object when any of its R, G, B values is nonzero) taken to
 * the model input as the image is (Pillow's nearest-neighbour resize to the preprocessor's size, then its center
 * crop; padding is off the object), then to the fraction of each patch's pixels on the object. The mask must have
 * the size of its image. coverage: P floats in [0, 1]. */
vte_status vte_mask_coverage(const vte_model *model, const vte_image *mask, float *coverage, vte_error *err);
/* 1 when the map's hottest patch (the first of vte_patch_order) has coverage >= 0.5, else 0. */
int vte_pointing_game(const float *map, const float *coverage, int patches);
/* sum_p map_p * coverage_p / sum_p map_p (0 when the map sums to 0). */
double vte_share_on_object(const float *map, const float *coverage, int patches);
/* What a uniform map scores: the fraction of patches with coverage >= 0.5 (its chance of a hit), and the mean
 * coverage (its share). */
double vte_pointing_game_uniform(const float *coverage, int patches);
double vte_share_uniform(const float *coverage, int patches);

/* Everything at once for a batch of images: their maps (one vte_session_explain), then for every requested
 * method and image a deletion and an insertion curve in the map's order, the same for the random orders
 * (averaged), and with a mask the pointing game and the share. Targets: the top class of each image when
 * `classes` is NULL, else classes[i] (-1: the top class). coverage: NULL, or n_images pointers each NULL (no
 * mask) or P floats (vte_mask_coverage). n_images <= the session's max_batch. */
typedef struct vte_evaluation vte_evaluation;
vte_evaluation *vte_session_evaluate(vte_session *session, const float *pixels, int n_images, const int *classes,
                                     const float *const *coverage, const vte_evaluate_options *options,
                                     vte_error *err);
void vte_evaluation_free(vte_evaluation *evaluation);

/* Rows of an evaluation besides the methods (0 .. VTE_METHOD_COUNT-1): */
#define VTE_EVALUATION_RANDOM ((int)VTE_METHOD_COUNT)      /* random patch orders: curves only */
#define VTE_EVALUATION_UNIFORM ((int)VTE_METHOD_COUNT + 1) /* a uniform map: pointing game and share only */

typedef struct vte_evaluation_scores {
    double deletion_auc;  /* lower: the class goes sooner when the map's patches go (NaN where not defined) */
    double insertion_auc; /* higher: the class comes sooner when the map's patches come */
    double pointing_game; /* 1 hit, 0 miss (uniform: the chance of a hit); NaN without a mask */
    double share;         /* of the map on the object; NaN without a mask */
} vte_evaluation_scores;

int vte_evaluation_image_count(const vte_evaluation *e);
/* Points per curve (vte_curve_points of the model's grid and the options' step) and their x values. */
int vte_evaluation_curve_points(const vte_evaluation *e);
const float *vte_evaluation_curve_x(const vte_evaluation *e);
/* The evaluated class of an image, with its logit and probability on the unperturbed input. */
vte_prediction vte_evaluation_target(const vte_evaluation *e, int image);
/* The map a method's curves followed (grid_h*grid_w, as vte_explanation_map); NULL when not requested. */
const float *vte_evaluation_map(const vte_evaluation *e, int image, vte_method method);
/* The probabilities along a curve of a method or VTE_EVALUATION_RANDOM (the mean over the seeds); NULL when
 * the row has no curves. */
const float *vte_evaluation_curve(const vte_evaluation *e, int image, int row, vte_curve_kind kind);
/* The scores of a row (a method, VTE_EVALUATION_RANDOM or VTE_EVALUATION_UNIFORM); all NaN when the row was not
 * evaluated. */
vte_evaluation_scores vte_evaluation_scores_of(const vte_evaluation *e, int image, int row);
/* 1 when the image had a mask. */
int vte_evaluation_has_mask(const vte_evaluation *e, int image);
/* Milliseconds of the maps' explanation (its forward and backward passes and the methods) and of the curves (their
 * inputs built on the host and run through the forward pass), with the number of those inputs. */
typedef struct vte_evaluation_times {
    double explain_forward_ms, explain_backward_ms, explain_ms, curves_ms;
    long curve_inputs;
} vte_evaluation_times;
vte_evaluation_times vte_evaluation_times_of(const vte_evaluation *e);

#ifdef __cplusplus
}
#endif

#endif /* VITEXPLAIN_H */
