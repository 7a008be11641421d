/* The explanation methods, in one table (methods.c): a method is one row, with its name and title, what it
 * needs from the passes, the options it reads, its recipe and its runner, plus whatever kernel it adds
 * (docs/architecture.md, "Where each kind of change goes"). Every runner writes one min-max normalised grid map
 * per image into the explanation plan's `maps` [B, P] for the images of the last forward pass.
 * docs/methods.md says what each computes. */
#ifndef VTE_EXPLAIN_METHODS_H
#define VTE_EXPLAIN_METHODS_H

#include "vit/session.h"

/* Head fusion of one layer's attention (and gradient): kernels/fusion.cl, built with -DFUSION=<the name>. */
typedef enum vte_fusion {
    VTE_FUSION_NONE = -1,        /* the method fuses no heads */
    VTE_FUSION_FROM_OPTIONS = -2, /* the caller's rollout_fusion (mean, max or min) */
    VTE_FUSE_MEAN = 0,
    VTE_FUSE_MAX,
    VTE_FUSE_MIN,
    VTE_FUSE_WEIGHTED_SUM,            /* GMAR: sum_h w_h A_h */
    VTE_FUSE_WEIGHTED_MEAN,           /* the seed project's GMAR: (1/H) sum_h w_h A_h */
    VTE_FUSE_POSITIVE_GRAD_TIMES_ATTN, /* Chefer: (1/H) sum_h max(G_h A_h, 0) */
    VTE_FUSE_POSITIVE_GRAD_THEN_ATTN,  /* the seed project's LeGrad: (1/H) sum_h max(G_h, 0) A_h */
    VTE_FUSE_COUNT
} vte_fusion;

/* The build option that selects a fusion in kernels/fusion.cl ("-DFUSION=FUSION_MEAN"). */
const char *vte_fusion_build_option(vte_fusion fusion);

/* How a rollout-like method (rollout, GMAR, Chefer) propagates the CLS row through the layers. */
typedef struct vte_rollout_recipe {
    vte_fusion fusion;     /* head fusion; also what LeGrad's seed variant fuses with */
    int head_norm;         /* 1 or 2: GMAR head weights from the L1 or L2 norm of dA^l; 0: no head weights */
    int discard;           /* 1: zero the caller's discard_ratio of the lowest fused entries (rollout) */
    float identity_alpha;  /* M = (fused + alpha I) / rowsum; negative: M = fused as it is (Chefer) */
    int residual;          /* r <- r + r M (Chefer) instead of r <- r M */
    int first_layer_first; /* R = M^1 M^2 ... M^L (the seed project) instead of M^L ... M^1 */
    float eps;             /* min-max denominator guard (the seed project: 1e-8) */
} vte_rollout_recipe;

/* What a method needs before its runner starts (bit set). */
enum {
    VTE_NEEDS_BACKWARD = 1u,  /* the backward pass of the target: d(logit)/dA^l of every layer */
    VTE_NEEDS_TARGET_ROW = 2u /* only the classifier row of the target (bwd.seed) */
};

/* The options of vte_explain_options a method's default formula reads (bit set). Its seed variant reads none of
 * them, so with compat_seed setting one is refused rather than ignored. */
enum {
    VTE_USES_HEAD_FUSION = 1u,   /* rollout_fusion */
    VTE_USES_DISCARD_RATIO = 2u, /* discard_ratio */
    VTE_USES_LAYER_COUNT = 4u    /* legrad_layers */
};

typedef struct vte_method_spec vte_method_spec;
typedef vte_status (*vte_method_runner)(vte_session *s, const vte_method_spec *spec, const vte_explain_options *o,
                                        int images, vte_error *err);

struct vte_method_spec {
    vte_method_info info;        /* names, title, properties (public: vte_method_info_of) */
    unsigned needs, seed_needs;  /* VTE_NEEDS_*, by default and with compat_seed */
    unsigned uses;               /* VTE_USES_*: the options the default formula reads */
    vte_method_runner run;
    vte_rollout_recipe recipe, seed_recipe; /* by default and with compat_seed (has_seed_variant) */
};

/* The row of a method, NULL when out of range. */
const vte_method_spec *vte_method_spec_of(vte_method method);
/* The recipe a method runs with these options (its seed recipe under compat_seed). */
const vte_rollout_recipe *vte_method_recipe(const vte_method_spec *spec, const vte_explain_options *o);
/* VTE_NEEDS_* of a method with these options. */
unsigned vte_method_needs(const vte_method_spec *spec, const vte_explain_options *o);
/* The fusion a method runs with these options (FROM_OPTIONS resolved), or VTE_FUSION_NONE. */
vte_fusion vte_method_fusion(const vte_method_spec *spec, const vte_explain_options *o);

/* Runs one method on the images of the last forward pass (its needs already met) into the plan's maps. */
vte_status vte_method_run(vte_session *s, vte_method method, const vte_explain_options *o, int images,
                          vte_error *err);

/* Runners (rollout.c, legrad.c). */
vte_status vte_run_rollout_recipe(vte_session *s, const vte_method_spec *spec, const vte_explain_options *o,
                                  int images, vte_error *err);
vte_status vte_run_legrad(vte_session *s, const vte_method_spec *spec, const vte_explain_options *o, int images,
                          vte_error *err);

#endif
