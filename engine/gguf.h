/* gguf.h - read-only access to GGUF v2/v3 model files through mmap.
 *
 * gguf_open() validates the whole header, every metadata value and every
 * tensor descriptor against the file size before returning, so that the
 * accessors below can be used on untrusted files without further checks.
 * Strings point into the mapping and are NOT NUL-terminated (GGUF stores a
 * length); keys and tensor names are copied and NUL-terminated for ease. */
#ifndef OCTET_GGUF_H
#define OCTET_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type_t;

/* Tensor types octet reads, numbered as ggml numbers them. */
typedef enum gguf_ttype {
    GGUF_TTYPE_F32 = 0,
    GGUF_TTYPE_F16 = 1,
    GGUF_TTYPE_Q8_0 = 8,
    GGUF_TTYPE_BF16 = 30,
} gguf_ttype_t;

#define GGUF_MAX_DIMS 4
#define GGUF_Q8_0_BLOCK 32 /* elements per Q8_0 block: f16 scale + 32 int8 */
#define GGUF_Q8_0_BYTES 34

typedef struct gguf gguf_t;

typedef struct gguf_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} gguf_str_t;

typedef struct gguf_arr {
    gguf_type_t type; /* element type; never GGUF_TYPE_ARRAY (nested arrays are rejected) */
    uint64_t n;
    const void *data; /* raw little-endian elements for numeric types; use gguf_arr_str for strings */
    const uint64_t *str_off; /* internal: offsets of each string when type == STRING */
} gguf_arr_t;

typedef struct gguf_tensor {
    const char *name;
    gguf_ttype_t type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the fastest-varying (row length); unused dims are 1 */
    uint64_t n_elems;
    uint64_t offset; /* from the start of the tensor data section */
    uint64_t nbytes;
    const void *data; /* into the mapping, aligned to the file's alignment */
} gguf_tensor_t;

/* Open and validate PATH. On failure *out is NULL and err says which file
 * and what is wrong in one line. */
int gguf_open(gguf_t **out, const char *path, errmsg_t *err);
/* Same, over a caller-owned buffer that must outlive the handle (fuzzing, tests). */
int gguf_open_mem(gguf_t **out, const void *buf, size_t len, const char *name, errmsg_t *err);
void gguf_close(gguf_t *g);

const char *gguf_path(const gguf_t *g);
uint32_t gguf_version(const gguf_t *g);
uint64_t gguf_alignment(const gguf_t *g);
uint64_t gguf_file_size(const gguf_t *g);

/* Metadata. Indices run 0..gguf_kv_count()-1; gguf_find_key returns -1 when absent. */
uint64_t gguf_kv_count(const gguf_t *g);
const char *gguf_kv_key(const gguf_t *g, uint64_t i);
gguf_type_t gguf_kv_type(const gguf_t *g, uint64_t i);
int64_t gguf_find_key(const gguf_t *g, const char *key);

/* Typed getters: OCT_ENOTFOUND when the key is absent, OCT_ETYPE when the
 * value cannot be represented in the requested type (integers of any width
 * convert when in range; floats accept FLOAT32/FLOAT64). err may be NULL. */
int gguf_get_int(const gguf_t *g, const char *key, int64_t *out, errmsg_t *err);
int gguf_get_uint(const gguf_t *g, const char *key, uint64_t *out, errmsg_t *err);
int gguf_get_float(const gguf_t *g, const char *key, double *out, errmsg_t *err);
int gguf_get_bool(const gguf_t *g, const char *key, bool *out, errmsg_t *err);
int gguf_get_str(const gguf_t *g, const char *key, gguf_str_t *out, errmsg_t *err);
int gguf_get_arr(const gguf_t *g, const char *key, gguf_arr_t *out, errmsg_t *err);
/* Same as the getters above, by index. */
int gguf_kv_str(const gguf_t *g, uint64_t i, gguf_str_t *out);
int gguf_kv_arr(const gguf_t *g, uint64_t i, gguf_arr_t *out);
/* Scalar value of any numeric/bool type as double (for printing). */
int gguf_kv_number(const gguf_t *g, uint64_t i, double *out);

/* Elements of arrays. Indices must be < arr->n. */
gguf_str_t gguf_arr_str(const gguf_arr_t *arr, uint64_t i);
double gguf_arr_number(const gguf_arr_t *arr, uint64_t i);
int64_t gguf_arr_int(const gguf_arr_t *arr, uint64_t i);

/* Tensors. */
uint64_t gguf_tensor_count(const gguf_t *g);
const gguf_tensor_t *gguf_tensor(const gguf_t *g, uint64_t i);
const gguf_tensor_t *gguf_find_tensor(const gguf_t *g, const char *name);

const char *gguf_type_name(gguf_type_t t);
const char *gguf_ttype_name(gguf_ttype_t t);
/* Bytes needed for n elements of tensor type t (n must be a multiple of the
 * block size for block types); 0 for unknown types or on overflow. */
uint64_t gguf_ttype_nbytes(gguf_ttype_t t, uint64_t n);

/* Convenience: compare a gguf_str_t with a C string. */
bool gguf_str_eq(gguf_str_t s, const char *c);

#endif
