/* Loading a Hugging Face ViTForImageClassification folder onto the device. */
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/config.h"
#include "model/safetensors.h"

/* One tensor of the expected shape as float32, every value checked finite: in place in the file's mapping when it
 * holds float32 (no copy), else converted into a buffer returned in *owned. NULL on error. When done, the caller
 * calls tensor_done. */
static const float *tensor_values(const vte_safetensors *st, const char *name, int rank, const int64_t *shape,
                                  const vte_tensor_info **tensor, float **owned, vte_error *err) {
    *owned = NULL;
    /* The shape first, before a buffer of that size is made. */
    if (vte_safetensors_expect(st, name, rank, shape, tensor, err) != VTE_OK) return NULL;
    size_t count = 1;
    for (int i = 0; i < rank; i++) count *= (size_t)shape[i];
    const float *data = vte_safetensors_f32_view(st, *tensor);
    if (!data) {
        if (!(*owned = malloc((count ? count : 1) * sizeof **owned))) {
            vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory reading tensor %s", name);
            return NULL;
        }
        if (vte_safetensors_convert_f32(st, *tensor, *owned, err) != VTE_OK) {
            free(*owned);
            *owned = NULL;
            return NULL;
        }
        data = *owned;
    }
    /* A NaN or an infinity in the weights makes every output NaN: refuse the checkpoint here, naming the tensor,
     * rather than report NaN maps and logits as results. */
    for (size_t i = 0; i < count; i++)
        if (!isfinite(data[i])) {
            vte_error_set(err, VTE_ERR_FORMAT, "%s: tensor %s holds %s at element %zu: the checkpoint is broken",
                          vte_safetensors_path(st), name, isnan(data[i]) ? "NaN" : "an infinity", i);
            free(*owned);
            *owned = NULL;
            return NULL;
        }
    return data;
}

/* Releases what tensor_values made, and the tensor's pages of the mapping (they are on the device now). */
static void tensor_done(const vte_safetensors *st, const vte_tensor_info *tensor, float *owned) {
    free(owned);
    vte_safetensors_release_pages(st, tensor);
}

static cl_mem upload(vte_runtime *rt, const float *data, size_t count, const char *name, vte_error *err) {
    cl_mem buffer = vte_buffer_create(rt, count * sizeof(float), name, err);
    if (buffer && vte_buffer_write(rt, buffer, 0, count * sizeof(float), data, err) != VTE_OK)
        vte_buffer_release(&buffer);
    return buffer;
}

/* Uploads tensor `name` unchanged. */
static cl_mem load_plain(vte_runtime *rt, const vte_safetensors *st, const char *name, int rank,
                         const int64_t *shape, vte_error *err) {
    const vte_tensor_info *tensor;
    float *owned;
    const float *data = tensor_values(st, name, rank, shape, &tensor, &owned, err);
    if (!data) return NULL;
    size_t count = 1;
    for (int i = 0; i < rank; i++) count *= (size_t)shape[i];
    cl_mem buffer = upload(rt, data, count, name, err);
    tensor_done(st, tensor, owned);
    return buffer;
}

/* Writes the transpose of W [out, in] into dst [in, ld] at column offset col (dst[i*ld + col + o] = W[o,i]), in
 * tiles that stay in the cache on both sides (element by element, the strided writes made this the costliest part
 * of loading ViT-B). */
static void transpose_into(const float *w, size_t out, size_t in, float *dst, size_t ld, size_t col) {
    enum { TILE = 32 };
    for (size_t o0 = 0; o0 < out; o0 += TILE)
        for (size_t i0 = 0; i0 < in; i0 += TILE) {
            const size_t o1 = o0 + TILE < out ? o0 + TILE : out, i1 = i0 + TILE < in ? i0 + TILE : in;
            for (size_t i = i0; i < i1; i++)
                for (size_t o = o0; o < o1; o++) dst[i * ld + col + o] = w[o * in + i];
        }
}

/* A new buffer of `count` floats, mapped for writing: repacked weights are written straight into it (on PoCL's CPU
 * device the buffer's own memory; elsewhere the driver's staging area), without a host array and a copy. NULL on
 * failure, with nothing left to release. */
static float *map_new_buffer(vte_runtime *rt, size_t count, const char *name, cl_mem *buffer, vte_error *err) {
    *buffer = vte_buffer_create(rt, count * sizeof(float), name, err);
    if (!*buffer) return NULL;
    cl_int status = CL_SUCCESS;
    float *mapped = clEnqueueMapBuffer(rt->queue, *buffer, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0,
                                       count * sizeof(float), 0, NULL, NULL, &status);
    if (status != CL_SUCCESS) {
        vte_cl_fail(err, status, "clEnqueueMapBuffer", __FILE__, __LINE__);
        vte_buffer_release(buffer);
        return NULL;
    }
    return mapped;
}

/* Unmaps what map_new_buffer mapped; on failure (or when `status` already is one) releases the buffer. */
static vte_status unmap_new_buffer(vte_runtime *rt, cl_mem *buffer, float *mapped, vte_status status,
                                   vte_error *err) {
    cl_int unmapped = clEnqueueUnmapMemObject(rt->queue, *buffer, mapped, 0, NULL, NULL);
    if (status == VTE_OK && unmapped != CL_SUCCESS)
        status = vte_cl_fail(err, unmapped, "clEnqueueUnmapMemObject", __FILE__, __LINE__);
    if (status != VTE_OK) vte_buffer_release(buffer);
    return status;
}

/* Uploads a weight of shape [out, ...] (a linear layer's [out, in], the patch convolution's [out, C, p, p]) as the
 * transposed [in, out], in = the product of the other dimensions. */
static cl_mem load_transposed(vte_runtime *rt, const vte_safetensors *st, const char *name, int rank,
                              const int64_t *shape, vte_error *err) {
    const int64_t out = shape[0];
    int64_t in = 1;
    for (int i = 1; i < rank; i++) in *= shape[i];
    const vte_tensor_info *tensor;
    float *owned;
    const float *w = tensor_values(st, name, rank, shape, &tensor, &owned, err);
    if (!w) return NULL;
    cl_mem buffer = NULL;
    float *t = map_new_buffer(rt, (size_t)(out * in), name, &buffer, err);
    if (t) {
        transpose_into(w, (size_t)out, (size_t)in, t, (size_t)out, 0);
        unmap_new_buffer(rt, &buffer, t, VTE_OK, err);
    }
    tensor_done(st, tensor, owned);
    return buffer;
}

static vte_status load_layer(vte_model *m, const vte_safetensors *st, int l, vte_error *err) {
    vte_runtime *rt = m->rt;
    const vte_model_config *c = &m->config;
    const int64_t D = c->hidden_size, F = c->intermediate_size;
    const int64_t shape_d[1] = {D}, shape_f[1] = {F};
    vte_layer_weights *w = &m->layers[l];
    char name[256];
#define NAME(suffix) (snprintf(name, sizeof name, "vit.encoder.layer.%d.%s", l, suffix), name)
#define REQUIRE(expr) \
    if (!(expr)) return err ? err->code : VTE_ERR_FORMAT
    REQUIRE(w->ln_before_gamma = load_plain(rt, st, NAME("layernorm_before.weight"), 1, shape_d, err));
    REQUIRE(w->ln_before_beta = load_plain(rt, st, NAME("layernorm_before.bias"), 1, shape_d, err));
    REQUIRE(w->ln_after_gamma = load_plain(rt, st, NAME("layernorm_after.weight"), 1, shape_d, err));
    REQUIRE(w->ln_after_beta = load_plain(rt, st, NAME("layernorm_after.bias"), 1, shape_d, err));
    const int64_t shape_dd[2] = {D, D}, shape_fd[2] = {F, D}, shape_df[2] = {D, F};
    REQUIRE(w->out_weight = load_transposed(rt, st, NAME("attention.output.dense.weight"), 2, shape_dd, err));
    REQUIRE(w->out_bias = load_plain(rt, st, NAME("attention.output.dense.bias"), 1, shape_d, err));
    REQUIRE(w->fc1_weight = load_transposed(rt, st, NAME("intermediate.dense.weight"), 2, shape_fd, err));
    REQUIRE(w->fc1_bias = load_plain(rt, st, NAME("intermediate.dense.bias"), 1, shape_f, err));
    REQUIRE(w->fc2_weight = load_transposed(rt, st, NAME("output.dense.weight"), 2, shape_df, err));
    REQUIRE(w->fc2_bias = load_plain(rt, st, NAME("output.dense.bias"), 1, shape_d, err));

    /* Fuse query, key and value into one [D, 3D] weight and [3D] bias: one GEMM instead of three. */
    static const char *const parts[3] = {"query", "key", "value"};
    char fused_name[256];
    snprintf(fused_name, sizeof fused_name, "vit.encoder.layer.%d.attention (fused QKV)", l);
    float *fused = map_new_buffer(rt, (size_t)(D * 3 * D), fused_name, &w->qkv_weight, err);
    if (!fused) return err ? err->code : VTE_ERR_OPENCL;
    float *fused_bias = calloc((size_t)(3 * D), sizeof *fused_bias);
    vte_status status = VTE_OK;
    if (!fused_bias) {
        status = vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory fusing QKV of layer %d", l);
        goto done;
    }
    for (int p = 0; p < 3 && status == VTE_OK; p++) {
        char suffix[96];
        snprintf(suffix, sizeof suffix, "attention.attention.%s.weight", parts[p]);
        int64_t shape[2] = {D, D};
        const vte_tensor_info *tensor;
        float *owned;
        const float *part = tensor_values(st, NAME(suffix), 2, shape, &tensor, &owned, err);
        if (!part) {
            status = err ? err->code : VTE_ERR_FORMAT;
            break;
        }
        transpose_into(part, (size_t)D, (size_t)D, fused, (size_t)(3 * D), (size_t)(p * D));
        tensor_done(st, tensor, owned);
        snprintf(suffix, sizeof suffix, "attention.attention.%s.bias", parts[p]);
        if (c->qkv_bias) {
            const float *bias = tensor_values(st, NAME(suffix), 1, shape_d, &tensor, &owned, err);
            if (!bias) {
                status = err ? err->code : VTE_ERR_FORMAT;
                break;
            }
            memcpy(fused_bias + p * D, bias, (size_t)D * sizeof *bias);
            tensor_done(st, tensor, owned);
        }
    }
done:
    status = unmap_new_buffer(rt, &w->qkv_weight, fused, status, err);
    if (status == VTE_OK && !(w->qkv_bias = upload(rt, fused_bias, (size_t)(3 * D), fused_name, err)))
        status = err ? err->code : VTE_ERR_OPENCL;
    free(fused_bias);
    return status;
#undef NAME
#undef REQUIRE
}

/* The sizes config.json states against the checkpoint's tensors, before anything is allocated by them: a config
 * that says 2147483647 layers or an intermediate size of 2147483647 is refused naming the key, not with "out of
 * memory". */
static vte_status check_config_sizes(const vte_model *m, const vte_safetensors *st, const char *config_path,
                                     vte_error *err) {
    const vte_model_config *c = &m->config;
    const int64_t D = c->hidden_size;
    const struct {
        const char *keys, *tensor;
        int rank;
        int64_t shape[4];
    } checks[] = {
        {"hidden_size, num_channels and patch_size", "vit.embeddings.patch_embeddings.projection.weight", 4,
         {D, c->num_channels, c->patch_size, c->patch_size}},
        {"image_size and patch_size", "vit.embeddings.position_embeddings", 3, {1, c->num_tokens, D}},
        {"intermediate_size", "vit.encoder.layer.0.intermediate.dense.weight", 2, {c->intermediate_size, D}},
        {"num_labels (or the labels' count)", "classifier.weight", 2, {c->num_labels, D}},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (vte_safetensors_expect(st, checks[i].tensor, checks[i].rank, checks[i].shape, NULL, NULL) == VTE_OK)
            continue;
        const vte_tensor_info *t = vte_safetensors_find(st, checks[i].tensor);
        if (!t) continue; /* a missing tensor is reported, by name, when the weights are read */
        char want[256], have[256];
        vte_shape_format(want, sizeof want, checks[i].rank, checks[i].shape);
        vte_shape_format(have, sizeof have, t->rank, t->shape);
        return vte_error_set(err, VTE_ERR_FORMAT,
                             "%s: %s: the config gives %s the shape %s, but %s has %s", config_path,
                             checks[i].keys, checks[i].tensor, want, vte_safetensors_path(st), have);
    }
    /* Layers 0 to num_hidden_layers - 1 and no more (counted up to one past the stated number). */
    int layers = 0;
    char name[128];
    for (; layers <= c->num_layers; layers++) {
        snprintf(name, sizeof name, "vit.encoder.layer.%d.layernorm_before.weight", layers);
        if (!vte_safetensors_find(st, name)) break;
    }
    if (layers != c->num_layers)
        return vte_error_set(err, VTE_ERR_FORMAT, "%s: num_hidden_layers is %d, but %s has %s%d layers", config_path,
                             c->num_layers, vte_safetensors_path(st), layers > c->num_layers ? "more than " : "",
                             layers > c->num_layers ? c->num_layers : layers);
    return VTE_OK;
}

static vte_status load_weights(vte_model *m, const vte_safetensors *st, vte_error *err) {
    vte_runtime *rt = m->rt;
    const vte_model_config *c = &m->config;
    const int64_t D = c->hidden_size, T = c->num_tokens, P = c->patch_size, C = c->num_channels;
    const int64_t shape_d[1] = {D};
    const int64_t cls_shape[3] = {1, 1, D}, pos_shape[3] = {1, T, D};
    const int64_t conv_shape[4] = {D, C, P, P};
    const int64_t labels_shape[1] = {c->num_labels};

    if (!(m->cls_token = load_plain(rt, st, "vit.embeddings.cls_token", 3, cls_shape, err))) return err->code;
    if (!(m->position = load_plain(rt, st, "vit.embeddings.position_embeddings", 3, pos_shape, err))) return err->code;
    /* The patch convolution is a GEMM over im2col rows: [C*p*p, D], the conv weight [D, C, p, p] transposed. */
    if (!(m->patch_weight =
              load_transposed(rt, st, "vit.embeddings.patch_embeddings.projection.weight", 4, conv_shape, err)))
        return err->code;
    if (!(m->patch_bias = load_plain(rt, st, "vit.embeddings.patch_embeddings.projection.bias", 1, shape_d, err)))
        return err->code;
    for (int l = 0; l < c->num_layers; l++)
        if (load_layer(m, st, l, err) != VTE_OK) return err->code;
    if (!(m->final_gamma = load_plain(rt, st, "vit.layernorm.weight", 1, shape_d, err))) return err->code;
    if (!(m->final_beta = load_plain(rt, st, "vit.layernorm.bias", 1, shape_d, err))) return err->code;
    const int64_t classifier_shape[2] = {c->num_labels, D};
    if (!(m->classifier_weight = load_transposed(rt, st, "classifier.weight", 2, classifier_shape, err)))
        return err->code;
    if (!(m->classifier_bias = load_plain(rt, st, "classifier.bias", 1, labels_shape, err))) return err->code;
    return VTE_OK;
}

vte_model *vte_model_load(vte_runtime *rt, const char *spec, vte_error *err) {
    vte_error local_err = {0};
    if (!err) err = &local_err;
    if (!rt || !spec) {
        vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "vte_model_load: runtime and folder are required");
        return NULL;
    }
    char dir[4096];
    if (vte_model_locate(spec, dir, sizeof dir, err) != VTE_OK) return NULL;
    struct stat info;
    if (stat(dir, &info) != 0) {
        vte_error_set(err, VTE_ERR_IO, "%s: model folder not found (%s); fetch one with tools/fetch-model.sh",
                      dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(info.st_mode)) {
        vte_error_set(err, VTE_ERR_IO, "%s: not a folder (--model takes a Hugging Face model folder)", dir);
        return NULL;
    }
    vte_model *m = calloc(1, sizeof *m);
    if (!m) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    m->rt = rt;
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    char path[4200];
    vte_safetensors *st = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (vte_config_load(path, &m->config, &m->labels, err) != VTE_OK) goto fail;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    struct stat link_info;
    if (access(path, F_OK) == 0) {
        if (vte_preprocess_config_load(path, &m->config, &m->preprocess, err) != VTE_OK) goto fail;
    } else if (lstat(path, &link_info) == 0) { /* there, but a link to nothing: not the same as absent */
        vte_error_set(err, VTE_ERR_IO, "%s: a symbolic link whose target does not exist", path);
        goto fail;
    } else {
        vte_preprocess_config_default(&m->config, &m->preprocess);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (access(path, F_OK) != 0) {
        char torch_path[4200];
        snprintf(torch_path, sizeof torch_path, "%s/pytorch_model.bin", dir);
        if (access(torch_path, F_OK) == 0) {
            vte_error_set(err, VTE_ERR_UNSUPPORTED,
                          "%s: no model.safetensors, only pytorch_model.bin, which vitexplain does not read (it runs "
                          "no Python): convert it once with transformers' "
                          "ViTForImageClassification.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)",
                          dir);
            goto fail;
        }
    }
    st = vte_safetensors_open(path, err);
    if (!st) goto fail;
    char config_path[4200];
    snprintf(config_path, sizeof config_path, "%s/config.json", dir);
    if (check_config_sizes(m, st, config_path, err) != VTE_OK) goto fail;
    m->layers = calloc((size_t)m->config.num_layers, sizeof *m->layers);
    if (!m->layers) {
        vte_error_set(err, VTE_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    if (load_weights(m, st, err) != VTE_OK) goto fail;
    vte_safetensors_close(st);
    return m;
fail:
    vte_safetensors_close(st);
    vte_model_free(m);
    return NULL;
}

void vte_model_free(vte_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int l = 0; l < m->config.num_layers; l++) {
            vte_layer_weights *w = &m->layers[l];
            cl_mem *all[] = {&w->ln_before_gamma, &w->ln_before_beta, &w->qkv_weight, &w->qkv_bias,
                             &w->out_weight,      &w->out_bias,       &w->ln_after_gamma, &w->ln_after_beta,
                             &w->fc1_weight,      &w->fc1_bias,       &w->fc2_weight, &w->fc2_bias};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(all[i]);
        }
        free(m->layers);
    }
    cl_mem *all[] = {&m->patch_weight, &m->patch_bias, &m->cls_token, &m->position,
                     &m->final_gamma,  &m->final_beta, &m->classifier_weight, &m->classifier_bias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vte_buffer_release(all[i]);
    if (m->labels) vte_labels_free(m->labels, m->config.num_labels);
    free(m);
}

const vte_model_config *vte_model_get_config(const vte_model *m) { return m ? &m->config : NULL; }
const char *vte_model_dir(const vte_model *m) { return m ? m->dir : NULL; }
const vte_preprocess_config *vte_model_get_preprocess(const vte_model *m) { return m ? &m->preprocess : NULL; }

const char *vte_model_label(const vte_model *m, int class_id) {
    if (!m || class_id < 0 || class_id >= m->config.num_labels) return NULL;
    return m->labels[class_id];
}

int vte_model_find_label(const vte_model *m, const char *name) {
    if (!m || !name) return -1;
    for (int i = 0; i < m->config.num_labels; i++)
        if (strcasecmp(m->labels[i], name) == 0) return i;
    return -1;
}
