/* A model on the device: its config, labels, preprocessing and weights, repacked for the forward pass. */
#ifndef VTE_MODEL_MODEL_H
#define VTE_MODEL_MODEL_H

#include "runtime/runtime.h"

/* Linear weights are stored transposed, [in, out] row-major, so that every forward GEMM multiplies
 * activations [rows, in] by a plain (non-transposed) right operand: measurably faster on PoCL than
 * Hugging Face's [out, in] with a transposed operand. */
typedef struct vte_layer_weights {
    cl_mem ln_before_gamma, ln_before_beta; /* [D] */
    cl_mem qkv_weight;                      /* [D, 3D]: query, key and value fused */
    cl_mem qkv_bias;                        /* [3D] (zeros when qkv_bias is false) */
    cl_mem out_weight, out_bias;            /* [D, D], [D] */
    cl_mem ln_after_gamma, ln_after_beta;   /* [D] */
    cl_mem fc1_weight, fc1_bias;            /* [D, F], [F] */
    cl_mem fc2_weight, fc2_bias;            /* [F, D], [D] */
} vte_layer_weights;

struct vte_model {
    vte_runtime *rt;
    char dir[4096];
    vte_model_config config;
    vte_preprocess_config preprocess;
    char **labels;
    cl_mem patch_weight;      /* [C*p*p, D] */
    cl_mem patch_bias;        /* [D] */
    cl_mem cls_token;         /* [D] */
    cl_mem position;          /* [T, D] */
    cl_mem final_gamma, final_beta;
    cl_mem classifier_weight; /* [D, num_labels] */
    cl_mem classifier_bias;   /* [num_labels] */
    vte_layer_weights *layers;
};

#endif
