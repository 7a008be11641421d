/* The table of explanation methods (methods.h) and the public functions that name them. The formulas are in
 * docs/methods.md; each row says which one it runs: by default the published definition, with compat_seed the
 * original PyTorch project's. */
#include "explain/methods.h"

#include <string.h>
#include <strings.h>

#define GMAR_DESCRIPTION "gradient-weighted multi-head attention rollout (Jo et al. 2025)"

static const vte_method_spec METHODS[VTE_METHOD_COUNT] = {
    [VTE_METHOD_ROLLOUT] = {
        .info = {.name = "rollout", .family = "rollout", .variant = "", .title = "Rollout",
                 .description = "attention rollout (Abnar & Zuidema 2020)", .class_independent = 1,
                 .has_seed_variant = 1},
        .uses = VTE_USES_HEAD_FUSION | VTE_USES_DISCARD_RATIO,
        .run = vte_run_rollout_recipe,
        /* docs/methods.md "Rollout": fused heads (+ discard), (A + I)/rowsum, later layers on the left */
        .recipe = {.fusion = VTE_FUSION_FROM_OPTIONS, .discard = 1, .identity_alpha = 1.0f},
        /* "Seed compatibility": head mean, (A + I)/rowsum, R = A^1 ... A^L, min-max + 1e-8 */
        .seed_recipe = {.fusion = VTE_FUSE_MEAN, .identity_alpha = 1.0f, .first_layer_first = 1, .eps = 1e-8f},
    },
    [VTE_METHOD_GMAR_L1] = {
        .info = {.name = "gmar_l1", .family = "gmar", .variant = "l1", .title = "GMAR L1",
                 .description = GMAR_DESCRIPTION, .has_seed_variant = 1},
        .needs = VTE_NEEDS_BACKWARD,
        .seed_needs = VTE_NEEDS_BACKWARD,
        .run = vte_run_rollout_recipe,
        /* "GMAR": heads weighted by the L1 norm of their gradient, weighted sum, 0.5 A + 0.5 I, Abnar's order */
        .recipe = {.fusion = VTE_FUSE_WEIGHTED_SUM, .head_norm = 1, .identity_alpha = 1.0f},
        /* weighted head mean, (A + I)/rowsum, R = A^1 ... A^L, + 1e-8 */
        .seed_recipe = {.fusion = VTE_FUSE_WEIGHTED_MEAN, .head_norm = 1, .identity_alpha = 1.0f,
                        .first_layer_first = 1, .eps = 1e-8f},
    },
    [VTE_METHOD_GMAR_L2] = {
        .info = {.name = "gmar_l2", .family = "gmar", .variant = "l2", .title = "GMAR L2",
                 .description = GMAR_DESCRIPTION, .has_seed_variant = 1},
        .needs = VTE_NEEDS_BACKWARD,
        .seed_needs = VTE_NEEDS_BACKWARD,
        .run = vte_run_rollout_recipe,
        .recipe = {.fusion = VTE_FUSE_WEIGHTED_SUM, .head_norm = 2, .identity_alpha = 1.0f},
        .seed_recipe = {.fusion = VTE_FUSE_WEIGHTED_MEAN, .head_norm = 2, .identity_alpha = 1.0f,
                        .first_layer_first = 1, .eps = 1e-8f},
    },
    [VTE_METHOD_LEGRAD] = {
        .info = {.name = "legrad", .family = "legrad", .variant = "", .title = "LeGrad",
                 .description = "LeGrad (Bousselham et al. 2024) with the model's own readout at every layer",
                 .has_seed_variant = 1},
        /* "LeGrad": a closed form per layer needs only the target's classifier row, no backward pass */
        .needs = VTE_NEEDS_TARGET_ROW,
        /* the seed project's variant reads the full backward's dA^l of every layer */
        .seed_needs = VTE_NEEDS_BACKWARD,
        .uses = VTE_USES_LAYER_COUNT,
        .run = vte_run_legrad,
        .recipe = {.fusion = VTE_FUSION_NONE},
        .seed_recipe = {.fusion = VTE_FUSE_POSITIVE_GRAD_THEN_ATTN, .eps = 1e-8f},
    },
    [VTE_METHOD_CHEFER] = {
        .info = {.name = "chefer", .family = "chefer", .variant = "", .title = "Chefer",
                 .description = "gradient-weighted rollout (Chefer et al. 2021)"},
        .needs = VTE_NEEDS_BACKWARD,
        .run = vte_run_rollout_recipe,
        /* "Chefer": R = (I + A^L) ... (I + A^1) with A^l = mean_h max(dA * A, 0); no normalisation */
        .recipe = {.fusion = VTE_FUSE_POSITIVE_GRAD_TIMES_ATTN, .identity_alpha = -1.0f, .residual = 1},
    },
};

/* Indexed by vte_fusion; the names kernels/fusion.cl defines. */
static const char *const FUSION_BUILD_OPTIONS[VTE_FUSE_COUNT] = {
    [VTE_FUSE_MEAN] = "-DFUSION=FUSION_MEAN",
    [VTE_FUSE_MAX] = "-DFUSION=FUSION_MAX",
    [VTE_FUSE_MIN] = "-DFUSION=FUSION_MIN",
    [VTE_FUSE_WEIGHTED_SUM] = "-DFUSION=FUSION_WEIGHTED_SUM",
    [VTE_FUSE_WEIGHTED_MEAN] = "-DFUSION=FUSION_WEIGHTED_MEAN",
    [VTE_FUSE_POSITIVE_GRAD_TIMES_ATTN] = "-DFUSION=FUSION_POSITIVE_GRAD_TIMES_ATTN",
    [VTE_FUSE_POSITIVE_GRAD_THEN_ATTN] = "-DFUSION=FUSION_POSITIVE_GRAD_THEN_ATTN",
};

const char *vte_fusion_build_option(vte_fusion fusion) {
    return fusion >= 0 && fusion < VTE_FUSE_COUNT ? FUSION_BUILD_OPTIONS[fusion] : NULL;
}

const vte_method_spec *vte_method_spec_of(vte_method method) {
    return method >= 0 && method < VTE_METHOD_COUNT ? &METHODS[method] : NULL;
}

const vte_rollout_recipe *vte_method_recipe(const vte_method_spec *spec, const vte_explain_options *o) {
    return o && o->compat_seed && spec->info.has_seed_variant ? &spec->seed_recipe : &spec->recipe;
}

unsigned vte_method_needs(const vte_method_spec *spec, const vte_explain_options *o) {
    return o && o->compat_seed && spec->info.has_seed_variant ? spec->seed_needs : spec->needs;
}

vte_fusion vte_method_fusion(const vte_method_spec *spec, const vte_explain_options *o) {
    vte_fusion fusion = vte_method_recipe(spec, o)->fusion;
    if (fusion != VTE_FUSION_FROM_OPTIONS) return fusion;
    switch (o ? o->rollout_fusion : VTE_FUSION_MEAN) {
    case VTE_FUSION_MAX: return VTE_FUSE_MAX;
    case VTE_FUSION_MIN: return VTE_FUSE_MIN;
    default: return VTE_FUSE_MEAN;
    }
}

vte_status vte_method_run(vte_session *s, vte_method method, const vte_explain_options *o, int images,
                          vte_error *err) {
    const vte_method_spec *spec = vte_method_spec_of(method);
    if (!spec) return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "unknown explanation method %d", (int)method);
    return spec->run(s, spec, o, images, err);
}

/* ---------------------------------------------------------------- public: names and facts */

const vte_method_info *vte_method_info_of(vte_method method) {
    const vte_method_spec *spec = vte_method_spec_of(method);
    return spec ? &spec->info : NULL;
}

const char *vte_method_name(vte_method method) {
    const vte_method_info *info = vte_method_info_of(method);
    return info ? info->name : NULL;
}

const char *vte_method_title(vte_method method) {
    const vte_method_info *info = vte_method_info_of(method);
    return info ? info->title : NULL;
}

int vte_method_from_name(const char *name) {
    for (int m = 0; name && m < VTE_METHOD_COUNT; m++)
        if (strcasecmp(name, METHODS[m].info.name) == 0) return m;
    return -1;
}

unsigned vte_methods_from_name(const char *name) {
    unsigned methods = 0;
    if (!name) return 0;
    for (int m = 0; m < VTE_METHOD_COUNT; m++)
        if (strcasecmp(name, "all") == 0 || strcasecmp(name, METHODS[m].info.name) == 0 ||
            strcasecmp(name, METHODS[m].info.family) == 0)
            methods |= VTE_METHOD_BIT(m);
    return methods;
}

int vte_method_needs_backward(vte_method method, const vte_explain_options *options) {
    const vte_method_spec *spec = vte_method_spec_of(method);
    return spec && (vte_method_needs(spec, options) & VTE_NEEDS_BACKWARD) ? 1 : 0;
}
