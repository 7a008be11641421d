/* Explanation methods on the device: each writes x.maps [B, grid] for the images of the last forward pass. */
#ifndef VTE_EXPLAIN_METHODS_H
#define VTE_EXPLAIN_METHODS_H

#include "vit/session.h"

vte_status vte_method_rollout(vte_session *s, int B, const vte_explain_options *o, vte_error *err);
/* Needs the backward pass of the target (x.d_attn). norm: 1 (L1) or 2 (L2). */
vte_status vte_method_gmar(vte_session *s, int B, int norm, const vte_explain_options *o, vte_error *err);
/* Needs the backward pass of the target. */
vte_status vte_method_chefer(vte_session *s, int B, vte_error *err);
/* Needs x.seed of the target; with compat_seed, the backward pass instead. */
vte_status vte_method_legrad(vte_session *s, int B, const vte_explain_options *o, vte_error *err);
/* x.upsampled = bilinear upsampling of x.maps to the model's input size. */
vte_status vte_maps_upsample(vte_session *s, int B, vte_error *err);

#endif
