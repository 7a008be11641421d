#include "forward_parts.h"

vte_status vte_test_forward_from_attention(vte_session *s, int layer, vte_error *err) {
    if (!s || s->batch < 1 || layer < 0 || layer >= s->model->config.num_layers)
        return vte_error_set(err, VTE_ERR_INVALID_ARGUMENT, "forward_from_attention: no forward pass or bad layer");
    vte_status status = vte_forward_block_after_attention(s, layer, s->batch, err);
    for (int l = layer + 1; l < s->model->config.num_layers && !status; l++)
        status = vte_forward_block(s, l, s->batch, err);
    if (!status) status = vte_forward_head(s, s->batch, err);
    if (!status) status = vte_runtime_finish(s->rt, err);
    return status;
}
