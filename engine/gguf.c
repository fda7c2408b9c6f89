/* gguf.c - the GGUF v2/v3 reader behind gguf.h.
 *
 * Model files come from the internet, so the whole file is treated as hostile:
 * gguf_open_mem() walks every byte of the header, metadata and tensor
 * descriptors once, checking each count and length against the bytes that
 * remain (with overflow-safe arithmetic) before anything is allocated or
 * dereferenced. After that pass the accessors trust the recorded offsets.
 * Every error is one line: "NAME: what is wrong (at byte offset N)". */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian values with memcpy and needs a little-endian host"
#endif

#define GGUF_HEADER_BYTES 24u  /* magic, version, tensor count, kv count */
#define GGUF_DEFAULT_ALIGN 32u
/* Smallest possible encodings, used to bound the counts by the file size:
 * a kv is key length (8) + type (4) + a 1-byte value; a tensor descriptor is
 * name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
#define GGUF_MIN_KV_BYTES 13u
#define GGUF_MIN_TENSOR_BYTES 32u

typedef struct gguf_kv {
    char *key;
    gguf_type_t type;
    uint64_t pos;     /* file offset of the value (after the type field) */
    gguf_str_t str;   /* type == STRING */
    gguf_arr_t arr;   /* type == ARRAY */
    uint64_t *str_off; /* owned: backs arr.str_off */
} gguf_kv_t;

/* Open-addressing hash of names -> index+1 (0 = empty slot). */
typedef struct name_index {
    uint64_t *slot;
    uint64_t mask;
} name_index_t;

struct gguf {
    char *name;
    const uint8_t *base;
    uint64_t size;
    void *map; /* non-NULL when gguf_open mapped the file */
    size_t map_len;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_off; /* start of the tensor data section */
    uint64_t n_kv;
    gguf_kv_t *kv;
    name_index_t kv_index;
    uint64_t n_tensors;
    gguf_tensor_t *tensors;
    name_index_t tensor_index;
};

/* ---- bounded reading ---------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
} cursor_t;

static uint64_t cur_left(const cursor_t *c) { return c->size - c->pos; }

static uint32_t rd_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- names of types ----------------------------------------------------- */

static const char *const TYPE_NAMES[GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

/* Element sizes of the fixed-size value types; 0 for string and array. */
static const uint8_t TYPE_SIZES[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *gguf_type_name(gguf_type_t t)
{
    return (unsigned)t < GGUF_TYPE_COUNT ? TYPE_NAMES[t] : "unknown";
}

/* ggml's tensor type numbers, so that an unsupported type can be named.
 * Gaps are numbers ggml retired. */
static const char *const TTYPE_NAMES[] = {
    [0] = "F32",      [1] = "F16",       [2] = "Q4_0",     [3] = "Q4_1",
    [6] = "Q5_0",     [7] = "Q5_1",      [8] = "Q8_0",     [9] = "Q8_1",
    [10] = "Q2_K",    [11] = "Q3_K",     [12] = "Q4_K",    [13] = "Q5_K",
    [14] = "Q6_K",    [15] = "Q8_K",     [16] = "IQ2_XXS", [17] = "IQ2_XS",
    [18] = "IQ3_XXS", [19] = "IQ1_S",    [20] = "IQ4_NL",  [21] = "IQ3_S",
    [22] = "IQ2_S",   [23] = "IQ4_XS",   [24] = "I8",      [25] = "I16",
    [26] = "I32",     [27] = "I64",      [28] = "F64",     [29] = "IQ1_M",
    [30] = "BF16",    [31] = "Q4_0_4_4", [32] = "Q4_0_4_8", [33] = "Q4_0_8_8",
    [34] = "TQ1_0",   [35] = "TQ2_0",    [36] = "IQ4_NL_4_4", [37] = "IQ4_NL_4_8",
    [38] = "IQ4_NL_8_8", [39] = "MXFP4",
};
#define N_TTYPE_NAMES (sizeof TTYPE_NAMES / sizeof TTYPE_NAMES[0])

const char *gguf_ttype_name(gguf_ttype_t t)
{
    unsigned u = (unsigned)t;
    return u < N_TTYPE_NAMES && TTYPE_NAMES[u] ? TTYPE_NAMES[u] : "unknown";
}

static bool ttype_supported(uint32_t t)
{
    return t == GGUF_TTYPE_F32 || t == GGUF_TTYPE_F16 || t == GGUF_TTYPE_BF16 ||
           t == GGUF_TTYPE_Q8_0;
}

uint64_t gguf_ttype_nbytes(gguf_ttype_t t, uint64_t n)
{
    switch (t) {
    case GGUF_TTYPE_F32:
        return n > UINT64_MAX / 4 ? 0 : n * 4;
    case GGUF_TTYPE_F16:
    case GGUF_TTYPE_BF16:
        return n > UINT64_MAX / 2 ? 0 : n * 2;
    case GGUF_TTYPE_Q8_0:
        if (n % GGUF_Q8_0_BLOCK)
            return 0;
        return n / GGUF_Q8_0_BLOCK > UINT64_MAX / GGUF_Q8_0_BYTES
                   ? 0
                   : n / GGUF_Q8_0_BLOCK * GGUF_Q8_0_BYTES;
    }
    return 0;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * NUL is refused too, because keys and names are handed out as C strings. */
static bool utf8_valid(const uint8_t *s, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* ---- name index --------------------------------------------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int index_init(name_index_t *ix, uint64_t n)
{
    uint64_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    ix->slot = calloc(cap, sizeof *ix->slot);
    ix->mask = cap - 1;
    return ix->slot ? 0 : OCT_ENOMEM;
}

/* Find NAME; names(ctx, i) gives the name of entry i. Returns the slot. */
typedef const char *(*name_at_fn)(const gguf_t *g, uint64_t i);

static uint64_t index_probe(const name_index_t *ix, const gguf_t *g, name_at_fn name_at,
                            const char *name)
{
    uint64_t h = hash_name(name) & ix->mask;
    while (ix->slot[h] && strcmp(name_at(g, ix->slot[h] - 1), name) != 0)
        h = (h + 1) & ix->mask;
    return h;
}

static const char *kv_name_at(const gguf_t *g, uint64_t i) { return g->kv[i].key; }
static const char *tensor_name_at(const gguf_t *g, uint64_t i) { return g->tensors[i].name; }

/* ---- parsing ------------------------------------------------------------ */

/* Read a GGUF string (u64 length + bytes) at the cursor, checking the length
 * against what remains. WHAT names the string in errors. */
static int read_str(gguf_t *g, cursor_t *c, gguf_str_t *out, const char *what, errmsg_t *err)
{
    uint64_t at = c->pos;
    if (cur_left(c) < 8)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: file ends inside the length of %s (at byte offset %" PRIu64 ")",
                          g->name, what, at);
    uint64_t len = rd_u64(c->p + c->pos);
    c->pos += 8;
    if (len > cur_left(c))
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: %s has length %" PRIu64 " but only %" PRIu64
                          " bytes remain in the file (at byte offset %" PRIu64 ")",
                          g->name, what, len, cur_left(c), at);
    out->ptr = (const char *)c->p + c->pos;
    out->len = len;
    c->pos += len;
    return 0;
}

static int read_u32(gguf_t *g, cursor_t *c, uint32_t *out, const char *what, errmsg_t *err)
{
    if (cur_left(c) < 4)
        return errmsg_set(err, OCT_EFORMAT, "%s: file ends inside %s (at byte offset %" PRIu64 ")",
                          g->name, what, c->pos);
    *out = rd_u32(c->p + c->pos);
    c->pos += 4;
    return 0;
}

static int read_u64(gguf_t *g, cursor_t *c, uint64_t *out, const char *what, errmsg_t *err)
{
    if (cur_left(c) < 8)
        return errmsg_set(err, OCT_EFORMAT, "%s: file ends inside %s (at byte offset %" PRIu64 ")",
                          g->name, what, c->pos);
    *out = rd_u64(c->p + c->pos);
    c->pos += 8;
    return 0;
}

/* A copy of S as a C string, refusing invalid UTF-8 (and NUL). */
static int dup_name(gguf_t *g, gguf_str_t s, char **out, const char *what, uint64_t idx,
                    uint64_t at, errmsg_t *err)
{
    if (s.len == 0)
        return errmsg_set(err, OCT_EFORMAT, "%s: %s %" PRIu64 " has an empty name (at byte offset %" PRIu64 ")",
                          g->name, what, idx, at);
    if (!utf8_valid((const uint8_t *)s.ptr, s.len))
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: %s %" PRIu64 " has a name that is not valid UTF-8 (at byte offset %" PRIu64 ")",
                          g->name, what, idx, at);
    /* Control characters would let a name break the one-line messages (and
     * the terminal) it is printed in; no real key or tensor has them. */
    for (uint64_t k = 0; k < s.len; k++)
        if ((uint8_t)s.ptr[k] < 0x20 || (uint8_t)s.ptr[k] == 0x7F)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: %s %" PRIu64 " has a name with a control character (at byte offset %" PRIu64 ")",
                              g->name, what, idx, at);
    if (s.len > SIZE_MAX - 1)
        return errmsg_set(err, OCT_ENOMEM, "%s: %s %" PRIu64 " name too long", g->name, what, idx);
    char *d = malloc((size_t)s.len + 1);
    if (!d)
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory reading %s %" PRIu64, g->name, what, idx);
    memcpy(d, s.ptr, (size_t)s.len);
    d[s.len] = '\0';
    *out = d;
    return 0;
}

/* Validate one value of type T (not an array) at the cursor and skip it. */
static int skip_scalar(gguf_t *g, cursor_t *c, gguf_type_t t, const char *key, errmsg_t *err)
{
    uint64_t at = c->pos;
    if (t == GGUF_TYPE_STRING) {
        gguf_str_t s;
        char what[96];
        snprintf(what, sizeof what, "the string value of '%.64s'", key);
        return read_str(g, c, &s, what, err);
    }
    uint64_t sz = TYPE_SIZES[t];
    if (cur_left(c) < sz)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: file ends inside the %s value of '%s' (at byte offset %" PRIu64 ")",
                          g->name, TYPE_NAMES[t], key, at);
    if (t == GGUF_TYPE_BOOL && c->p[c->pos] > 1)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: bool value of '%s' is %u, not 0 or 1 (at byte offset %" PRIu64 ")",
                          g->name, key, c->p[c->pos], at);
    c->pos += sz;
    return 0;
}

static int parse_array(gguf_t *g, cursor_t *c, gguf_kv_t *kv, errmsg_t *err)
{
    uint64_t at = c->pos;
    uint32_t et = 0;
    uint64_t n = 0;
    int rc;
    if ((rc = read_u32(g, c, &et, "an array element type", err)) ||
        (rc = read_u64(g, c, &n, "an array length", err)))
        return rc;
    if (et == GGUF_TYPE_ARRAY)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: key '%s' is an array of arrays, which octet does not accept "
                          "(at byte offset %" PRIu64 ")",
                          g->name, kv->key, at);
    if (et >= GGUF_TYPE_COUNT)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: key '%s' is an array with unknown element type %" PRIu32
                          " (at byte offset %" PRIu64 ")",
                          g->name, kv->key, et, at);
    kv->arr.type = (gguf_type_t)et;
    kv->arr.n = n;
    kv->arr.data = c->p + c->pos;
    if (et != GGUF_TYPE_STRING) {
        uint64_t sz = TYPE_SIZES[et];
        if (n > cur_left(c) / sz)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: key '%s' is an array of %" PRIu64 " %s values, more than the %" PRIu64
                              " bytes left in the file hold (at byte offset %" PRIu64 ")",
                              g->name, kv->key, n, TYPE_NAMES[et], cur_left(c), at);
        if (et == GGUF_TYPE_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1)
                    return errmsg_set(err, OCT_EFORMAT,
                                      "%s: element %" PRIu64 " of bool array '%s' is %u, not 0 or 1 "
                                      "(at byte offset %" PRIu64 ")",
                                      g->name, i, kv->key, c->p[c->pos + i], c->pos + i);
        c->pos += n * sz;
        return 0;
    }
    /* Strings: each needs at least its 8-byte length. */
    if (n > cur_left(c) / 8)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: key '%s' is an array of %" PRIu64 " strings, more than the %" PRIu64
                          " bytes left in the file hold (at byte offset %" PRIu64 ")",
                          g->name, kv->key, n, cur_left(c), at);
    kv->str_off = malloc((size_t)(n ? n : 1) * sizeof *kv->str_off);
    if (!kv->str_off)
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory for the %" PRIu64 " strings of '%s'",
                          g->name, n, kv->key);
    uint64_t start = c->pos;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t el = c->pos;
        if (cur_left(c) < 8)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: file ends inside the length of string %" PRIu64 " of '%s' "
                              "(at byte offset %" PRIu64 ")",
                              g->name, i, kv->key, el);
        uint64_t len = rd_u64(c->p + c->pos);
        if (len > cur_left(c) - 8)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: string %" PRIu64 " of '%s' has length %" PRIu64 " but only %" PRIu64
                              " bytes remain in the file (at byte offset %" PRIu64 ")",
                              g->name, i, kv->key, len, cur_left(c) - 8, el);
        kv->str_off[i] = el - start;
        c->pos += 8 + len;
    }
    kv->arr.str_off = kv->str_off;
    return 0;
}

static int parse_kv(gguf_t *g, cursor_t *c, errmsg_t *err)
{
    int rc;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv_t *kv = &g->kv[i];
        uint64_t at = c->pos;
        gguf_str_t key;
        char what[48];
        snprintf(what, sizeof what, "metadata key %" PRIu64, i);
        if ((rc = read_str(g, c, &key, what, err)))
            return rc;
        if ((rc = dup_name(g, key, &kv->key, "metadata key", i, at, err)))
            return rc;
        uint64_t h = index_probe(&g->kv_index, g, kv_name_at, kv->key);
        if (g->kv_index.slot[h])
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: metadata key '%s' appears twice (keys %" PRIu64 " and %" PRIu64
                              ") (at byte offset %" PRIu64 ")",
                              g->name, kv->key, g->kv_index.slot[h] - 1, i, at);
        g->kv_index.slot[h] = i + 1;
        uint32_t t = 0;
        uint64_t tpos = c->pos;
        if ((rc = read_u32(g, c, &t, "a value type", err)))
            return rc;
        if (t >= GGUF_TYPE_COUNT)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: key '%s' has unknown value type %" PRIu32 " (at byte offset %" PRIu64 ")",
                              g->name, kv->key, t, tpos);
        kv->type = (gguf_type_t)t;
        kv->pos = c->pos;
        if (t == GGUF_TYPE_ARRAY)
            rc = parse_array(g, c, kv, err);
        else
            rc = skip_scalar(g, c, kv->type, kv->key, err);
        if (rc)
            return rc;
        if (t == GGUF_TYPE_STRING) {
            kv->str.len = rd_u64(c->p + kv->pos);
            kv->str.ptr = (const char *)c->p + kv->pos + 8;
        }
    }
    return 0;
}

static int read_alignment(gguf_t *g, errmsg_t *err)
{
    g->alignment = GGUF_DEFAULT_ALIGN;
    int64_t i = gguf_find_key(g, "general.alignment");
    if (i < 0)
        return 0;
    uint64_t a;
    errmsg_t e2;
    if (gguf_get_uint(g, "general.alignment", &a, &e2))
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: general.alignment must be an unsigned integer, not a %s value "
                          "(at byte offset %" PRIu64 ")",
                          g->name, gguf_type_name(g->kv[i].type), g->kv[i].pos);
    if (a == 0 || (a & (a - 1)) != 0)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: general.alignment is %" PRIu64 ", which is not a power of two "
                          "(at byte offset %" PRIu64 ")",
                          g->name, a, g->kv[i].pos);
    g->alignment = a;
    return 0;
}

static int parse_tensors(gguf_t *g, cursor_t *c, errmsg_t *err)
{
    int rc;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor_t *t = &g->tensors[i];
        uint64_t at = c->pos;
        gguf_str_t name;
        char what[48];
        snprintf(what, sizeof what, "the name of tensor %" PRIu64, i);
        if ((rc = read_str(g, c, &name, what, err)))
            return rc;
        char *nm;
        if ((rc = dup_name(g, name, &nm, "tensor", i, at, err)))
            return rc;
        t->name = nm;
        uint64_t h = index_probe(&g->tensor_index, g, tensor_name_at, t->name);
        if (g->tensor_index.slot[h])
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor name '%s' appears twice (tensors %" PRIu64 " and %" PRIu64
                              ") (at byte offset %" PRIu64 ")",
                              g->name, t->name, g->tensor_index.slot[h] - 1, i, at);
        g->tensor_index.slot[h] = i + 1;

        uint32_t nd = 0;
        uint64_t dpos = c->pos;
        if ((rc = read_u32(g, c, &nd, "a tensor's dimension count", err)))
            return rc;
        if (nd < 1 || nd > GGUF_MAX_DIMS)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' has %" PRIu32 " dimensions (octet reads 1 to %d) "
                              "(at byte offset %" PRIu64 ")",
                              g->name, t->name, nd, GGUF_MAX_DIMS, dpos);
        t->n_dims = nd;
        uint64_t n = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t epos = c->pos;
            if ((rc = read_u64(g, c, &t->ne[d], "a tensor dimension", err)))
                return rc;
            if (t->ne[d] == 0)
                return errmsg_set(err, OCT_EFORMAT,
                                  "%s: tensor '%s' has dimension %" PRIu32 " of size 0 "
                                  "(at byte offset %" PRIu64 ")",
                                  g->name, t->name, d, epos);
            /* ggml counts elements in int64_t: stay below INT64_MAX. */
            if (t->ne[d] > (uint64_t)INT64_MAX / n)
                return errmsg_set(err, OCT_EFORMAT,
                                  "%s: tensor '%s' has too many elements (the product of its "
                                  "dimensions overflows) (at byte offset %" PRIu64 ")",
                                  g->name, t->name, epos);
            n *= t->ne[d];
        }
        t->n_elems = n;
        uint32_t ty = 0;
        uint64_t tpos = c->pos;
        if ((rc = read_u32(g, c, &ty, "a tensor type", err)))
            return rc;
        if (!ttype_supported(ty)) {
            if (ty < N_TTYPE_NAMES && TTYPE_NAMES[ty])
                return errmsg_set(err, OCT_EUNSUPPORTED,
                                  "%s: tensor '%s' has type %s (%" PRIu32 "), which octet does not "
                                  "support (F32, F16, BF16, Q8_0) (at byte offset %" PRIu64 ")",
                                  g->name, t->name, TTYPE_NAMES[ty], ty, tpos);
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' has type %" PRIu32 ", which is not a ggml tensor type "
                              "(at byte offset %" PRIu64 ")",
                              g->name, t->name, ty, tpos);
        }
        t->type = (gguf_ttype_t)ty;
        if (ty == GGUF_TTYPE_Q8_0 && t->ne[0] % GGUF_Q8_0_BLOCK)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' is Q8_0 with rows of %" PRIu64 " elements, not a "
                              "multiple of %d (at byte offset %" PRIu64 ")",
                              g->name, t->name, t->ne[0], GGUF_Q8_0_BLOCK, dpos);
        t->nbytes = gguf_ttype_nbytes(t->type, n);
        if (t->nbytes == 0)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' is too large (its byte size overflows) "
                              "(at byte offset %" PRIu64 ")",
                              g->name, t->name, dpos);
        uint64_t opos = c->pos;
        if ((rc = read_u64(g, c, &t->offset, "a tensor offset", err)))
            return rc;
        if (t->offset % g->alignment)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' has offset %" PRIu64 ", not a multiple of the "
                              "alignment %" PRIu64 " (at byte offset %" PRIu64 ")",
                              g->name, t->name, t->offset, g->alignment, opos);
    }
    return 0;
}

static int cmp_by_offset(const void *a, const void *b, void *ctx)
{
    const gguf_tensor_t *ts = ctx;
    const gguf_tensor_t *x = &ts[*(const uint64_t *)a], *y = &ts[*(const uint64_t *)b];
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Place the data section and check every tensor lies inside the file and
 * that no two overlap. */
static int check_tensor_data(gguf_t *g, uint64_t info_end, errmsg_t *err)
{
    uint64_t a = g->alignment;
    uint64_t pad = (a - info_end % a) % a;
    if (pad > UINT64_MAX - info_end)
        return errmsg_set(err, OCT_EFORMAT, "%s: the data section would start beyond 2^64 "
                          "(at byte offset %" PRIu64 ")", g->name, info_end);
    g->data_off = info_end + pad;
    if (g->n_tensors == 0)
        return 0;
    if (g->data_off > g->size)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: file ends before its tensor data section (which starts at byte %" PRIu64
                          ") (at byte offset %" PRIu64 ")",
                          g->name, g->data_off, g->size);
    uint64_t room = g->size - g->data_off;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor_t *t = &g->tensors[i];
        if (t->offset > room || t->nbytes > room - t->offset)
            return errmsg_set(err, OCT_EFORMAT,
                              "%s: tensor '%s' data (%" PRIu64 " bytes at data offset %" PRIu64
                              ") extends past the end of the file (%" PRIu64 " bytes) "
                              "(at byte offset %" PRIu64 ")",
                              g->name, t->name, t->nbytes, t->offset, g->size,
                              t->offset > room ? g->size : g->data_off + t->offset);
        t->data = g->base + g->data_off + t->offset;
    }
    uint64_t *order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order)
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory checking tensor offsets", g->name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        order[i] = i;
    qsort_r(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset, g->tensors);
    int rc = 0;
    for (uint64_t k = 1; k < g->n_tensors; k++) {
        const gguf_tensor_t *p = &g->tensors[order[k - 1]], *t = &g->tensors[order[k]];
        if (t->offset < p->offset + p->nbytes) {
            rc = errmsg_set(err, OCT_EFORMAT,
                            "%s: tensor '%s' data overlaps tensor '%s' (at byte offset %" PRIu64 ")",
                            g->name, t->name, p->name, g->data_off + t->offset);
            break;
        }
    }
    free(order);
    return rc;
}

static int parse(gguf_t *g, errmsg_t *err)
{
    cursor_t c = {g->base, g->size, 0};
    int rc;
    if (g->size < GGUF_HEADER_BYTES) {
        if (g->size >= 4 && memcmp(g->base, "GGUF", 4) != 0)
            goto bad_magic;
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: file is %" PRIu64 " bytes, too short for a GGUF header (%u bytes) "
                          "(at byte offset %" PRIu64 ")",
                          g->name, g->size, GGUF_HEADER_BYTES, g->size);
    }
    if (memcmp(g->base, "GGUF", 4) != 0)
        goto bad_magic;
    g->version = rd_u32(g->base + 4);
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xFFFF) == 0 && g->version != 0)
            return errmsg_set(err, OCT_EUNSUPPORTED,
                              "%s: GGUF file is big-endian (version field %08" PRIx32 "); octet reads "
                              "little-endian files only (at byte offset 4)",
                              g->name, g->version);
        return errmsg_set(err, g->version == 1 ? OCT_EUNSUPPORTED : OCT_EFORMAT,
                          "%s: GGUF version %" PRIu32 " is not supported (octet reads versions 2 and 3) "
                          "(at byte offset 4)",
                          g->name, g->version);
    }
    g->n_tensors = rd_u64(g->base + 8);
    g->n_kv = rd_u64(g->base + 16);
    c.pos = GGUF_HEADER_BYTES;
    uint64_t left = cur_left(&c);
    if (g->n_tensors > left / GGUF_MIN_TENSOR_BYTES)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: tensor count %" PRIu64 " is impossible in a file of %" PRIu64
                          " bytes (at byte offset 8)",
                          g->name, g->n_tensors, g->size);
    if (g->n_kv > left / GGUF_MIN_KV_BYTES ||
        g->n_kv * GGUF_MIN_KV_BYTES > left - g->n_tensors * GGUF_MIN_TENSOR_BYTES)
        return errmsg_set(err, OCT_EFORMAT,
                          "%s: metadata count %" PRIu64 " is impossible in a file of %" PRIu64
                          " bytes with %" PRIu64 " tensors (at byte offset 16)",
                          g->name, g->n_kv, g->size, g->n_tensors);

    g->kv = calloc((size_t)(g->n_kv ? g->n_kv : 1), sizeof *g->kv);
    g->tensors = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *g->tensors);
    if (!g->kv || !g->tensors || index_init(&g->kv_index, g->n_kv) ||
        index_init(&g->tensor_index, g->n_tensors))
        return errmsg_set(err, OCT_ENOMEM, "%s: out of memory for %" PRIu64 " keys and %" PRIu64
                          " tensors", g->name, g->n_kv, g->n_tensors);
    if ((rc = parse_kv(g, &c, err)) || (rc = read_alignment(g, err)) ||
        (rc = parse_tensors(g, &c, err)) || (rc = check_tensor_data(g, c.pos, err)))
        return rc;
    return 0;

bad_magic:
    return errmsg_set(err, OCT_EFORMAT,
                      "%s: not a GGUF file (starts with %02x %02x %02x %02x, expected \"GGUF\") "
                      "(at byte offset 0)",
                      g->name, g->base[0], g->base[1], g->base[2], g->base[3]);
}

/* ---- open / close ------------------------------------------------------- */

static gguf_t *gguf_new(const char *name, errmsg_t *err)
{
    gguf_t *g = calloc(1, sizeof *g);
    if (g)
        g->name = strdup(name ? name : "<memory>");
    if (!g || !g->name) {
        free(g);
        errmsg_set(err, OCT_ENOMEM, "%s: out of memory", name ? name : "<memory>");
        return NULL;
    }
    return g;
}

int gguf_open_mem(gguf_t **out, const void *buf, size_t len, const char *name, errmsg_t *err)
{
    *out = NULL;
    errmsg_clear(err);
    if (!buf && len)
        return errmsg_set(err, OCT_EINVAL, "%s: NULL buffer", name ? name : "<memory>");
    gguf_t *g = gguf_new(name, err);
    if (!g)
        return OCT_ENOMEM;
    static const uint8_t empty[1];
    g->base = buf ? buf : empty;
    g->size = len;
    int rc = parse(g, err);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int gguf_open(gguf_t **out, const char *path, errmsg_t *err)
{
    *out = NULL;
    errmsg_clear(err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(err, OCT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc;
    gguf_t *g = NULL;
    if (fstat(fd, &st) != 0) {
        rc = errmsg_set(err, OCT_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = errmsg_set(err, OCT_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        rc = errmsg_set(err, OCT_ENOMEM, "%s: file too large to map", path);
        goto fail;
    }
    g = gguf_new(path, err);
    if (!g) {
        rc = OCT_ENOMEM;
        goto fail;
    }
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = errmsg_set(err, OCT_EIO, "%s: cannot map: %s", path, strerror(errno));
            goto fail;
        }
        g->map = m;
        g->map_len = (size_t)st.st_size;
        g->base = m;
    } else {
        static const uint8_t empty[1];
        g->base = empty;
    }
    g->size = (uint64_t)st.st_size;
    close(fd);
    fd = -1;
    if ((rc = parse(g, err)))
        goto fail;
    *out = g;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    gguf_close(g);
    return rc;
}

void gguf_close(gguf_t *g)
{
    if (!g)
        return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_off);
        }
    if (g->tensors)
        for (uint64_t i = 0; i < g->n_tensors; i++)
            free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->kv_index.slot);
    free(g->tensor_index.slot);
    if (g->map)
        munmap(g->map, g->map_len);
    free(g->name);
    free(g);
}

/* ---- accessors ---------------------------------------------------------- */

const char *gguf_path(const gguf_t *g) { return g->name; }
uint32_t gguf_version(const gguf_t *g) { return g->version; }
uint64_t gguf_alignment(const gguf_t *g) { return g->alignment; }
uint64_t gguf_file_size(const gguf_t *g) { return g->size; }
uint64_t gguf_kv_count(const gguf_t *g) { return g->n_kv; }
const char *gguf_kv_key(const gguf_t *g, uint64_t i) { return i < g->n_kv ? g->kv[i].key : NULL; }

gguf_type_t gguf_kv_type(const gguf_t *g, uint64_t i)
{
    return i < g->n_kv ? g->kv[i].type : GGUF_TYPE_COUNT;
}

int64_t gguf_find_key(const gguf_t *g, const char *key)
{
    if (!key || !g->kv_index.slot)
        return -1;
    uint64_t h = index_probe(&g->kv_index, g, kv_name_at, key);
    return g->kv_index.slot[h] ? (int64_t)(g->kv_index.slot[h] - 1) : -1;
}

/* One numeric or bool value, widened: kind 0 unsigned (in u), 1 signed (in
 * i), 2 float (in f), 3 bool (in u), -1 not a numeric type. Widening first
 * lets each getter apply its own range check once. */
typedef struct num {
    int kind;
    uint64_t u;
    int64_t i;
    double f;
} num_t;

static num_t read_num(gguf_type_t t, const uint8_t *p)
{
    num_t n = {-1, 0, 0, 0};
    switch (t) {
    case GGUF_TYPE_UINT8: n.kind = 0, n.u = p[0]; break;
    case GGUF_TYPE_INT8: n.kind = 1, n.i = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); n.kind = 0, n.u = v; break; }
    case GGUF_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); n.kind = 1, n.i = v; break; }
    case GGUF_TYPE_UINT32: n.kind = 0, n.u = rd_u32(p); break;
    case GGUF_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); n.kind = 1, n.i = v; break; }
    case GGUF_TYPE_UINT64: n.kind = 0, n.u = rd_u64(p); break;
    case GGUF_TYPE_INT64: { int64_t v; memcpy(&v, p, 8); n.kind = 1, n.i = v; break; }
    case GGUF_TYPE_FLOAT32: { float v; memcpy(&v, p, 4); n.kind = 2, n.f = v; break; }
    case GGUF_TYPE_FLOAT64: { double v; memcpy(&v, p, 8); n.kind = 2, n.f = v; break; }
    case GGUF_TYPE_BOOL: n.kind = 3, n.u = p[0]; break;
    default: break;
    }
    return n;
}

static int lookup(const gguf_t *g, const char *key, uint64_t *idx, errmsg_t *err)
{
    int64_t i = gguf_find_key(g, key);
    if (i < 0)
        return errmsg_set(err, OCT_ENOTFOUND, "%s: key '%s' is missing", g->name, key);
    *idx = (uint64_t)i;
    return 0;
}

static int type_err(const gguf_t *g, uint64_t i, const char *want, errmsg_t *err)
{
    return errmsg_set(err, OCT_ETYPE, "%s: key '%s' is a %s value, expected %s (at byte offset %" PRIu64 ")",
                      g->name, g->kv[i].key, gguf_type_name(g->kv[i].type), want, g->kv[i].pos);
}

int gguf_get_int(const gguf_t *g, const char *key, int64_t *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    num_t n = read_num(g->kv[i].type, g->base + g->kv[i].pos);
    if (n.kind == 1) {
        *out = n.i;
        return 0;
    }
    if (n.kind == 0) {
        if (n.u > (uint64_t)INT64_MAX)
            return errmsg_set(err, OCT_ETYPE, "%s: key '%s' = %" PRIu64 " is out of range (at byte offset %" PRIu64 ")",
                              g->name, key, n.u, g->kv[i].pos);
        *out = (int64_t)n.u;
        return 0;
    }
    return type_err(g, i, "an integer", err);
}

int gguf_get_uint(const gguf_t *g, const char *key, uint64_t *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    num_t n = read_num(g->kv[i].type, g->base + g->kv[i].pos);
    if (n.kind == 0) {
        *out = n.u;
        return 0;
    }
    if (n.kind == 1) {
        if (n.i < 0)
            return errmsg_set(err, OCT_ETYPE, "%s: key '%s' = %" PRId64 " is negative (at byte offset %" PRIu64 ")",
                              g->name, key, n.i, g->kv[i].pos);
        *out = (uint64_t)n.i;
        return 0;
    }
    return type_err(g, i, "an unsigned integer", err);
}

int gguf_get_float(const gguf_t *g, const char *key, double *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    num_t n = read_num(g->kv[i].type, g->base + g->kv[i].pos);
    switch (n.kind) {
    case 0: *out = (double)n.u; return 0;
    case 1: *out = (double)n.i; return 0;
    case 2: *out = n.f; return 0;
    default: return type_err(g, i, "a number", err);
    }
}

int gguf_get_bool(const gguf_t *g, const char *key, bool *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    if (g->kv[i].type != GGUF_TYPE_BOOL)
        return type_err(g, i, "a bool", err);
    *out = g->base[g->kv[i].pos] != 0;
    return 0;
}

int gguf_get_str(const gguf_t *g, const char *key, gguf_str_t *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    if (g->kv[i].type != GGUF_TYPE_STRING)
        return type_err(g, i, "a string", err);
    *out = g->kv[i].str;
    return 0;
}

int gguf_get_arr(const gguf_t *g, const char *key, gguf_arr_t *out, errmsg_t *err)
{
    uint64_t i = 0;
    int rc = lookup(g, key, &i, err);
    if (rc)
        return rc;
    if (g->kv[i].type != GGUF_TYPE_ARRAY)
        return type_err(g, i, "an array", err);
    *out = g->kv[i].arr;
    return 0;
}

int gguf_kv_str(const gguf_t *g, uint64_t i, gguf_str_t *out)
{
    if (i >= g->n_kv)
        return OCT_ENOTFOUND;
    if (g->kv[i].type != GGUF_TYPE_STRING)
        return OCT_ETYPE;
    *out = g->kv[i].str;
    return 0;
}

int gguf_kv_arr(const gguf_t *g, uint64_t i, gguf_arr_t *out)
{
    if (i >= g->n_kv)
        return OCT_ENOTFOUND;
    if (g->kv[i].type != GGUF_TYPE_ARRAY)
        return OCT_ETYPE;
    *out = g->kv[i].arr;
    return 0;
}

int gguf_kv_number(const gguf_t *g, uint64_t i, double *out)
{
    if (i >= g->n_kv)
        return OCT_ENOTFOUND;
    num_t n = read_num(g->kv[i].type, g->base + g->kv[i].pos);
    switch (n.kind) {
    case 0:
    case 3: *out = (double)n.u; return 0;
    case 1: *out = (double)n.i; return 0;
    case 2: *out = n.f; return 0;
    default: return OCT_ETYPE;
    }
}

gguf_str_t gguf_arr_str(const gguf_arr_t *arr, uint64_t i)
{
    gguf_str_t s = {"", 0};
    if (arr->type != GGUF_TYPE_STRING || i >= arr->n || !arr->str_off)
        return s;
    const uint8_t *p = (const uint8_t *)arr->data + arr->str_off[i];
    s.len = rd_u64(p);
    s.ptr = (const char *)p + 8;
    return s;
}

double gguf_arr_number(const gguf_arr_t *arr, uint64_t i)
{
    if ((unsigned)arr->type >= GGUF_TYPE_COUNT || !TYPE_SIZES[arr->type] || i >= arr->n)
        return 0;
    num_t n = read_num(arr->type, (const uint8_t *)arr->data + i * TYPE_SIZES[arr->type]);
    switch (n.kind) {
    case 0:
    case 3: return (double)n.u;
    case 1: return (double)n.i;
    case 2: return n.f;
    default: return 0;
    }
}

int64_t gguf_arr_int(const gguf_arr_t *arr, uint64_t i)
{
    if ((unsigned)arr->type >= GGUF_TYPE_COUNT || !TYPE_SIZES[arr->type] || i >= arr->n)
        return 0;
    num_t n = read_num(arr->type, (const uint8_t *)arr->data + i * TYPE_SIZES[arr->type]);
    switch (n.kind) {
    case 0:
    case 3: return n.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n.u;
    case 1: return n.i;
    case 2:
        /* Converting an out-of-range double is undefined: clamp first. */
        if (!(n.f == n.f))
            return 0;
        if (n.f >= 9223372036854775807.0)
            return INT64_MAX;
        if (n.f <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)n.f;
    default: return 0;
    }
}

uint64_t gguf_tensor_count(const gguf_t *g) { return g->n_tensors; }

const gguf_tensor_t *gguf_tensor(const gguf_t *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_tensor_t *gguf_find_tensor(const gguf_t *g, const char *name)
{
    if (!name || !g->tensor_index.slot)
        return NULL;
    uint64_t h = index_probe(&g->tensor_index, g, tensor_name_at, name);
    return g->tensor_index.slot[h] ? &g->tensors[g->tensor_index.slot[h] - 1] : NULL;
}

bool gguf_str_eq(gguf_str_t s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}
