/* The one place that multiplies matrices. Every GEMM of the forward and backward passes goes through these
 * calls, so a device-specific path can replace CLBlast without touching the model code. Each runtime has its
 * backends (gemm_backend.h): on PoCL's CPU device the host BLAS or oneDNN, whichever is faster on the GEMM shapes
 * measured so far (each shape measured once, cached per device: gemm.c); elsewhere CLBlast.
 * $VITEXPLAIN_GEMM=host|onednn|clblast forces one for every shape. The backends are chosen by the first call below
 * other than vte_gemm_release (in a session, vte_gemm_self_check); a failed choice is returned by that call and
 * every later one.
 * All matrices are row-major; offsets, leading dimensions and strides are in elements. */
#ifndef VTE_RUNTIME_GEMM_H
#define VTE_RUNTIME_GEMM_H

#include "runtime/runtime.h"

typedef enum vte_gemm_op { VTE_GEMM_N = 0, VTE_GEMM_T = 1 } vte_gemm_op;

/* Row-major matrices of one operand inside a device buffer, all counts in elements: matrix (g, i) of a grouped
 * batch starts at offset + g * group_stride + i * stride, its rows ld apart. */
typedef struct vte_gemm_operand {
    cl_mem buffer;
    size_t offset;       /* of the first matrix */
    size_t ld;           /* leading dimension: elements between consecutive rows */
    size_t stride;       /* between consecutive matrices of a batch (unused when batch is 1) */
    size_t group_stride; /* between consecutive batches of a grouped call (unused when groups is 1) */
} vte_gemm_operand;

/* C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C. */
vte_status vte_gemm(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k, float alpha,
                    cl_mem a, size_t a_offset, size_t lda, cl_mem b, size_t b_offset, size_t ldb, float beta, cl_mem c,
                    size_t c_offset, size_t ldc, vte_error *err);

/* `batch` GEMMs of one shape whose operands sit at fixed strides (attention: one per head). */
vte_status vte_gemm_strided_batched(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                                    float alpha, cl_mem a, size_t a_offset, size_t lda, size_t a_stride, cl_mem b,
                                    size_t b_offset, size_t ldb, size_t b_stride, float beta, cl_mem c,
                                    size_t c_offset, size_t ldc, size_t c_stride, size_t batch, vte_error *err);

/* groups x batch GEMMs of one shape, C_gi = alpha op(A_gi) op(B_gi) + beta C_gi (attention: the heads of an image
 * as a batch, the images as groups), in as few backend calls as each backend allows. */
vte_status vte_gemm_grouped(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            float alpha, vte_gemm_operand a, vte_gemm_operand b, float beta, vte_gemm_operand c,
                            size_t batch, size_t groups, vte_error *err);

/* Prepares the backend for a shape that vte_gemm will be called with, so that the passes themselves never
 * allocate (CLBlast sizes its temporary buffer; it would otherwise allocate one per call on its indirect path). */
vte_status vte_gemm_reserve(vte_runtime *rt, vte_gemm_op op_a, vte_gemm_op op_b, size_t m, size_t n, size_t k,
                            size_t lda, size_t ldb, size_t ldc, vte_error *err);

/* Multiplies small random matrices of awkward shapes (both GEMM calls, transposed operands, offsets)
 * on each of the runtime's backends and against a double-precision host reference; fails with VTE_ERR_SELF_CHECK when the
 * backend is wrong, and with VTE_ERR_INVALID_ARGUMENT when $VITEXPLAIN_GEMM names no backend usable here.
 * Runs once per runtime; later calls return the first result. */
vte_status vte_gemm_self_check(vte_runtime *rt, vte_error *err);

void vte_gemm_release(vte_runtime *rt);

/* The description of the backend this runtime's GEMMs take now ("CLBlast", "oneDNN (measured on 8 GEMM shapes
 * against host BLAS (OpenBLAS))"); "none" when none could be chosen (the other calls return why). */
const char *vte_gemm_backend(vte_runtime *rt);

#endif
