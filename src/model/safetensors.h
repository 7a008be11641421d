/* Reading Hugging Face .safetensors files: mmap, full validation of the header as the reference
 * implementation does it (huggingface/safetensors tensor.rs), and conversion of float tensors to float32.
 *
 * Layout: 8 bytes little-endian u64 N, N bytes of JSON header (an object, may be padded with spaces), then
 * the data buffer; every tensor's data_offsets are relative to the start of that buffer. */
#ifndef VTE_MODEL_SAFETENSORS_H
#define VTE_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "vitexplain.h"

#define VTE_SAFETENSORS_MAX_HEADER 100000000ull /* the reference's MAX_HEADER_SIZE */
#define VTE_SAFETENSORS_MAX_RANK 8

/* Other known dtypes (BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F64, C64, F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3,
 * F6_E3M2, F4) are parsed and validated but cannot be converted to float32. */
typedef enum vte_dtype { VTE_DTYPE_F32, VTE_DTYPE_F16, VTE_DTYPE_BF16, VTE_DTYPE_OTHER } vte_dtype;

typedef struct vte_tensor_info {
    const char *name;
    const char *dtype_name; /* as written in the header: "F32", "I64", ... */
    vte_dtype dtype;
    int rank;
    int64_t shape[VTE_SAFETENSORS_MAX_RANK];
    size_t data_offset; /* bytes from the start of the data buffer */
    size_t nbytes;
} vte_tensor_info;

typedef struct vte_safetensors vte_safetensors;

/* Maps the file read-only and validates it completely; NULL with err filled on failure. */
vte_safetensors *vte_safetensors_open(const char *path, vte_error *err);
void vte_safetensors_close(vte_safetensors *st);

/* The path given to vte_safetensors_open. */
const char *vte_safetensors_path(const vte_safetensors *st);
/* Tensors in data-offset order (ties by name). */
size_t vte_safetensors_count(const vte_safetensors *st);
const vte_tensor_info *vte_safetensors_at(const vte_safetensors *st, size_t i);
/* NULL when there is no tensor of that name. */
const vte_tensor_info *vte_safetensors_find(const vte_safetensors *st, const char *name);
/* The value of a "__metadata__" entry, or NULL when absent. */
const char *vte_safetensors_metadata(const vte_safetensors *st, const char *key);
/* Pointer into the mapping (may be unaligned: read it with memcpy, never through a float*). */
const void *vte_safetensors_data(const vte_safetensors *st, const vte_tensor_info *t);

/* Checks that `name` exists with exactly this shape and a float dtype (F32, F16, BF16), and converts it to
 * float32 into dst (prod(shape) floats). Errors name the file, the tensor, and expected vs actual
 * shape/dtype: VTE_ERR_FORMAT for a missing tensor or another shape, VTE_ERR_UNSUPPORTED for a dtype that
 * cannot be converted. */
vte_status vte_safetensors_read_f32(const vte_safetensors *st, const char *name, int rank, const int64_t *shape,
                                    float *dst, vte_error *err);

/* The checks of vte_safetensors_read_f32 without the conversion: `name` exists with exactly this shape (the same
 * messages). *tensor (may be NULL) receives it. */
vte_status vte_safetensors_expect(const vte_safetensors *st, const char *name, int rank, const int64_t *shape,
                                  const vte_tensor_info **tensor, vte_error *err);
/* Converts any F32/F16/BF16 tensor (whatever its shape) to float32 into dst (element count floats). */
vte_status vte_safetensors_convert_f32(const vte_safetensors *st, const vte_tensor_info *t, float *dst, vte_error *err);

/* The tensor's values in place in the file's mapping when they are float32 as this host reads them (F32 dtype,
 * little-endian host, 4-byte aligned data); NULL otherwise (then vte_safetensors_convert_f32 makes a copy). */
const float *vte_safetensors_f32_view(const vte_safetensors *st, const vte_tensor_info *t);

/* Drops the mapped pages that lie wholly inside tensor t's data from the process (they stay in the page cache and
 * come back if read again): once a tensor is copied to the device, the mapping need not count twice in the
 * process's memory (ViT-B: 346 MB). */
void vte_safetensors_release_pages(const vte_safetensors *st, const vte_tensor_info *t);

/* Number of elements of a tensor (product of its shape; 1 for rank 0). */
size_t vte_tensor_count(const vte_tensor_info *t);

/* Exact conversions of one IEEE half / bfloat16 bit pattern to float32 (subnormals, inf and NaN kept). */
float vte_f16_to_f32(uint16_t bits);
float vte_bf16_to_f32(uint16_t bits);

/* Writes "[d0, d1, ...]" into buf (always NUL-terminated, truncated if too small); returns buf. */
char *vte_shape_format(char *buf, size_t size, int rank, const int64_t *shape);

#endif
