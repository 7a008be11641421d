/* Memory plans. Each part of the pipeline (the forward pass, the backward pass, the explanation methods) lists
 * its device buffers once, as an X-macro of entries
 *     X(field, bytes, purpose)
 * and its kernels as
 *     X(field, family, kernel_name)      (kernels/<family>.cl)
 * The struct fields, the creation and the release all expand from that one list, so adding or resizing a
 * buffer is one line. The CREATE/RELEASE expansions expect `plan` (a pointer to the struct holding the fields),
 * `rt` (the vte_runtime) and `err` (a non-NULL vte_error *) in scope; CREATE returns from the enclosing function
 * on failure, with err naming the buffer's purpose and size. Plans are made once per model and batch size:
 * nothing is allocated inside a pass. */
#ifndef VTE_RUNTIME_PLAN_H
#define VTE_RUNTIME_PLAN_H

#include "runtime/runtime.h"

/* Bytes of `count` float32 values. */
#define VTE_F32(count) ((size_t)(count) * sizeof(float))

#define VTE_PLAN_BUFFER_FIELD(field, bytes, purpose) cl_mem field;
#define VTE_PLAN_BUFFER_CREATE(field, bytes, purpose) \
    if (!(plan->field = vte_buffer_create(rt, (bytes), (purpose), err))) return err->code;
#define VTE_PLAN_BUFFER_RELEASE(field, bytes, purpose) vte_buffer_release(&plan->field);

#define VTE_PLAN_KERNEL_FIELD(field, family, name) cl_kernel field;
#define VTE_PLAN_KERNEL_CREATE(field, family, name) \
    if (!(plan->field = vte_kernel_create(rt, (family), "", (name), err))) return err->code;
#define VTE_PLAN_KERNEL_RELEASE(field, family, name) vte_kernel_release(&plan->field);

static inline void vte_kernel_release(cl_kernel *kernel) {
    if (kernel && *kernel) {
        clReleaseKernel(*kernel);
        *kernel = NULL;
    }
}

#endif
