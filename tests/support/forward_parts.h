/* Test-only: re-running part of the forward pass on a session's last batch. */
#ifndef VTE_TEST_FORWARD_PARTS_H
#define VTE_TEST_FORWARD_PARTS_H

#include "vit/session.h"

/* Re-runs the forward pass of the last batch from layer `layer`'s attention probabilities on (as they are in its
 * attn buffer now), up to the logits: for finite-difference checks of d(logit)/dA. */
vte_status vte_test_forward_from_attention(vte_session *s, int layer, vte_error *err);

#endif
