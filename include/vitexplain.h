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

/* Decodes a file (anything OpenCV reads) into 8-bit RGB the way Pillow's convert('RGB') does: alpha dropped
 * without compositing, grayscale expanded, 16-bit reduced to 8-bit. */
vte_status vte_image_load(const char *path, vte_image *image, vte_error *err);
void vte_image_free(vte_image *image);

/* Number of floats vte_preprocess writes: num_channels*image_height*image_width. */
size_t vte_preprocess_size(const vte_model_config *config);
/* Hugging Face ViTImageProcessor (Pillow path): resize, center crop, rescale, normalise, to CHW float32. */
vte_status vte_preprocess(const vte_preprocess_config *pp, const vte_model_config *config,
                          const vte_image *image, float *pixels_chw, vte_error *err);

/* ---------------------------------------------------------------- sessions: forward pass */

typedef struct vte_session vte_session;

/* Plans every device buffer for up to `max_batch` images at once. */
vte_session *vte_session_init(vte_model *model, int max_batch, vte_error *err);
void vte_session_free(vte_session *session);
int vte_session_max_batch(const vte_session *session);

/* Runs the forward pass on n_images (<= max_batch) preprocessed images, `pixels` holding n_images
 * consecutive CHW float32 tensors. Attention probabilities and the activations a backward pass needs stay
 * on the device until the next call. */
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

typedef struct vte_explanation vte_explanation;

/* Explains n_images preprocessed images (n_images <= the session's max_batch) in one forward pass and, when a
 * selected method needs gradients, one backward pass per target. Targets: with `classes` NULL, the top
 * `targets_per_image` classes of each image; otherwise classes[i*targets_per_image + t] gives them (ids
 * must be valid labels). Returns NULL with err filled on failure. */
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

#ifdef __cplusplus
}
#endif

#endif /* VITEXPLAIN_H */
