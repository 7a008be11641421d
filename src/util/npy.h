/* NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order. */
#ifndef VTE_UTIL_NPY_H
#define VTE_UTIL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vitexplain.h"

#define VTE_NPY_MAX_RANK 8

typedef enum vte_npy_dtype { VTE_NPY_F32, VTE_NPY_U8 } vte_npy_dtype;

typedef struct vte_npy {
    vte_npy_dtype dtype;
    int rank;
    int64_t shape[VTE_NPY_MAX_RANK];
    size_t count; /* product of shape (1 for rank 0) */
    void *data;   /* count floats or bytes, malloc'ed */
} vte_npy;

/* Reads '<f4' and '|u1' arrays ('<f8' is converted to float32 and reported as VTE_NPY_F32); fortran_order
 * must be False. The file must hold exactly the data its header describes. On failure *out is zeroed. */
vte_status vte_npy_read(const char *path, vte_npy *out, vte_error *err);
void vte_npy_free(vte_npy *npy);

/* Writes float32 data atomically (util/fileio.h: a hidden temporary renamed into place); never leaves a partial
 * file. */
vte_status vte_npy_write_f32(const char *path, const float *data, int rank, const int64_t *shape, vte_error *err);

#endif
