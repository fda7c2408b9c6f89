"""gguf_writer.py - write (and read back) GGUF v3 files with numpy only.

octet's Python tools use this module to make model files for tests and
benchmarks (tools/gen_tiny.py) and to train/export the embedded model. It is
independent of the C reader in engine/gguf.c on purpose: the tests compare two
implementations of the format, not one with itself.

Writing:

    from gguf_writer import GGUFWriter, GGUFValueType as VT, GGMLType as TT
    w = GGUFWriter("model.gguf")                 # alignment=32, version=3
    w.add_kv("general.architecture", "llama")   # str -> STRING
    w.add_kv("llama.block_count", 2, VT.UINT32) # explicit value type
    w.add_kv("tokenizer.ggml.tokens", ["a", "b"])            # list of str -> ARRAY of STRING
    w.add_kv("tokenizer.ggml.token_type", [1, 3], VT.ARRAY, VT.INT32)
    w.add_tensor("token_embd.weight", emb, TT.F16) # emb: ndarray of shape (rows, cols)
    w.add_tensor_fn("big.weight", (rows, cols), TT.F16, make_array)  # generated at write()
    w.write()

  * Metadata: every GGUF value type (UINT8..FLOAT64, BOOL, STRING, ARRAY of any
    non-array type). Without an explicit type: bool -> BOOL, int -> INT32 (INT64
    when out of range), float -> FLOAT32, str -> STRING, list -> ARRAY whose
    element type is inferred from the first element (or given as elem_type),
    numpy scalars and 1-D numpy arrays by their dtype.
  * Tensors: F32, F16, BF16 (round to nearest even, like ggml) and Q8_0 (blocks
    of 32 along a row: f16 scale d = absmax/127, int8 q = round(x/d) rounding
    half away from zero, like ggml's quantize_row_q8_0_ref). A numpy array of
    shape (rows, cols) is stored with ne = {cols, rows}: ne[0] is the row length.
  * general.alignment (default 32) is respected for the start of the data
    section and for every tensor offset; a non-default alignment passed to the
    constructor is also written as the general.alignment key.
  * add_tensor_fn defers producing the data to write() and writes one tensor at
    a time, so multi-GB files never have to be in memory at once.

Reading back (used by tools/ref_forward.py):

    r = GGUFReader("model.gguf")
    r.kv["llama.block_count"]          # python value (lists for arrays)
    r.kv_types["llama.block_count"]    # GGUFValueType
    r.tensors["blk.0.attn_q.weight"]   # TensorInfo(name, ttype, ne, offset)
    r.tensor_f64("blk.0.attn_q.weight")# float64 ndarray, shape (rows, cols), dequantized exactly

The reader understands v2 and v3 and exactly the types above.
"""

import enum
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
Q8_0_BLOCK = 32


class GGUFValueType(enum.IntEnum):
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


class GGMLType(enum.IntEnum):
    F32 = 0
    F16 = 1
    Q8_0 = 8
    BF16 = 30


# struct format of each scalar value type
_SCALAR_FMT = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}

_INT_RANGE = {
    GGUFValueType.UINT8: (0, 2**8 - 1),
    GGUFValueType.INT8: (-(2**7), 2**7 - 1),
    GGUFValueType.UINT16: (0, 2**16 - 1),
    GGUFValueType.INT16: (-(2**15), 2**15 - 1),
    GGUFValueType.UINT32: (0, 2**32 - 1),
    GGUFValueType.INT32: (-(2**31), 2**31 - 1),
    GGUFValueType.UINT64: (0, 2**64 - 1),
    GGUFValueType.INT64: (-(2**63), 2**63 - 1),
}

_DTYPE_TO_VT = {
    np.dtype(np.uint8): GGUFValueType.UINT8,
    np.dtype(np.int8): GGUFValueType.INT8,
    np.dtype(np.uint16): GGUFValueType.UINT16,
    np.dtype(np.int16): GGUFValueType.INT16,
    np.dtype(np.uint32): GGUFValueType.UINT32,
    np.dtype(np.int32): GGUFValueType.INT32,
    np.dtype(np.float32): GGUFValueType.FLOAT32,
    np.dtype(np.bool_): GGUFValueType.BOOL,
    np.dtype(np.uint64): GGUFValueType.UINT64,
    np.dtype(np.int64): GGUFValueType.INT64,
    np.dtype(np.float64): GGUFValueType.FLOAT64,
}


class GGUFError(ValueError):
    pass


def _align(n, a):
    return (n + a - 1) // a * a


def _infer_type(value):
    if isinstance(value, (bool, np.bool_)):
        return GGUFValueType.BOOL
    if isinstance(value, np.generic):
        return _DTYPE_TO_VT[value.dtype]
    if isinstance(value, int):
        lo, hi = _INT_RANGE[GGUFValueType.INT32]
        return GGUFValueType.INT32 if lo <= value <= hi else GGUFValueType.INT64
    if isinstance(value, float):
        return GGUFValueType.FLOAT32
    if isinstance(value, (str, bytes)):
        return GGUFValueType.STRING
    if isinstance(value, (list, tuple, np.ndarray)):
        return GGUFValueType.ARRAY
    raise GGUFError(f"cannot infer a GGUF type for {type(value).__name__}")


def _pack_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _pack_scalar(vt, v, key):
    if vt == GGUFValueType.STRING:
        if not isinstance(v, (str, bytes)):
            raise GGUFError(f"{key}: STRING value expected, got {type(v).__name__}")
        return _pack_string(v)
    if vt in _INT_RANGE:
        if isinstance(v, (float, np.floating)) or not isinstance(v, (int, np.integer)):
            raise GGUFError(f"{key}: integer value expected for {vt.name}, got {v!r}")
        lo, hi = _INT_RANGE[vt]
        if not lo <= int(v) <= hi:
            raise GGUFError(f"{key}: {v} out of range for {vt.name}")
        return struct.pack(_SCALAR_FMT[vt], int(v))
    if vt == GGUFValueType.BOOL:
        if not isinstance(v, (bool, np.bool_)):
            raise GGUFError(f"{key}: BOOL value expected, got {v!r}")
        return struct.pack("<?", bool(v))
    if vt in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return struct.pack(_SCALAR_FMT[vt], float(v))
    raise GGUFError(f"{key}: unknown value type {vt}")


# ---------------------------------------------------------------------------
# tensor encodings

def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bits, rounding to nearest even (NaN stays NaN)."""
    n = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = (n & 0x7FFFFFFF) > 0x7F800000
    r = ((n + (0x7FFF + ((n >> 16) & 1))) >> 16).astype(np.uint16)
    r[nan] = ((n[nan] >> 16) | 64).astype(np.uint16)
    return r


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def quantize_q8_0(a):
    """float array (rows, cols), cols % 32 == 0 -> (scales f16 [rows, cols/32], q int8 [rows, cols/32, 32])."""
    x = np.asarray(a, dtype=np.float32)
    blocks = x.reshape(-1, x.shape[-1] // Q8_0_BLOCK, Q8_0_BLOCK)
    amax = np.abs(blocks).max(axis=-1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = blocks * inv[..., None]
    # roundf(): half away from zero, as ggml does
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.int8)
    return d.astype(np.float16), q


def encode_tensor(a, ttype):
    """The bytes GGUF stores for float array A (shape (rows, cols) or 1-D) as TTYPE."""
    ttype = GGMLType(ttype)
    x = np.asarray(a)
    if ttype == GGMLType.F32:
        return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if ttype == GGMLType.F16:
        return np.ascontiguousarray(x.astype(np.float32), dtype="<f2").tobytes()
    if ttype == GGMLType.BF16:
        return f32_to_bf16_bits(x).astype("<u2").tobytes()
    if ttype == GGMLType.Q8_0:
        if x.shape[-1] % Q8_0_BLOCK:
            raise GGUFError(f"Q8_0 needs a row length that is a multiple of {Q8_0_BLOCK}, got {x.shape[-1]}")
        d, q = quantize_q8_0(x)
        rec = np.empty(d.shape, dtype=[("d", "<f2"), ("q", "i1", (Q8_0_BLOCK,))])
        rec["d"] = d
        rec["q"] = q
        return rec.tobytes()
    raise GGUFError(f"unsupported tensor type {ttype}")


def tensor_nbytes(ne, ttype):
    n = 1
    for d in ne:
        n *= d
    ttype = GGMLType(ttype)
    if ttype == GGMLType.F32:
        return 4 * n
    if ttype in (GGMLType.F16, GGMLType.BF16):
        return 2 * n
    if ttype == GGMLType.Q8_0:
        if ne[0] % Q8_0_BLOCK:
            raise GGUFError(f"Q8_0 row length {ne[0]} is not a multiple of {Q8_0_BLOCK}")
        return n // Q8_0_BLOCK * (2 + Q8_0_BLOCK)
    raise GGUFError(f"unsupported tensor type {ttype}")


def decode_tensor(buf, ne, ttype):
    """Stored bytes -> float64 ndarray of numpy shape reversed(ne) (so (rows, cols) for 2-D)."""
    ttype = GGMLType(ttype)
    shape = tuple(reversed(ne))
    n = int(np.prod(ne)) if ne else 1
    if ttype == GGMLType.F32:
        v = np.frombuffer(buf, dtype="<f4", count=n)
    elif ttype == GGMLType.F16:
        v = np.frombuffer(buf, dtype="<f2", count=n)
    elif ttype == GGMLType.BF16:
        v = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2", count=n))
    elif ttype == GGMLType.Q8_0:
        rec = np.frombuffer(buf, dtype=[("d", "<f2"), ("q", "i1", (Q8_0_BLOCK,))], count=n // Q8_0_BLOCK)
        v = rec["d"].astype(np.float64)[:, None] * rec["q"].astype(np.float64)
    else:
        raise GGUFError(f"unsupported tensor type {ttype}")
    return np.asarray(v, dtype=np.float64).reshape(shape)


# ---------------------------------------------------------------------------
# writer

class _Tensor:
    def __init__(self, name, ne, ttype, source):
        self.name = name
        self.ne = ne
        self.ttype = ttype
        self.source = source  # ndarray, or a callable returning one
        self.nbytes = tensor_nbytes(ne, ttype)
        self.offset = 0


class GGUFWriter:
    def __init__(self, path, alignment=DEFAULT_ALIGNMENT, version=3):
        if alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError(f"alignment must be a power of two, got {alignment}")
        if version not in (2, 3):
            raise GGUFError(f"only GGUF v2 and v3 can be written, not v{version}")
        self.path = path
        self.alignment = alignment
        self.version = version
        self._kv = {}  # key -> (type, elem_type, value); dicts keep insertion order
        self._tensors = []
        self._names = set()
        if alignment != DEFAULT_ALIGNMENT:
            self.add_kv("general.alignment", alignment, GGUFValueType.UINT32)

    def add_kv(self, key, value, vtype=None, elem_type=None):
        """Add metadata KEY = VALUE. VTYPE/ELEM_TYPE override type inference."""
        if not isinstance(key, str) or not key:
            raise GGUFError("metadata keys are non-empty strings")
        if key in self._kv:
            raise GGUFError(f"duplicate metadata key {key}")
        vt = GGUFValueType(vtype) if vtype is not None else _infer_type(value)
        et = None
        if vt == GGUFValueType.ARRAY:
            if isinstance(value, np.ndarray):
                if value.ndim != 1:
                    raise GGUFError(f"{key}: arrays are one-dimensional")
                if elem_type is None and value.dtype in _DTYPE_TO_VT:
                    elem_type = _DTYPE_TO_VT[value.dtype]
                value = value.tolist()
            value = list(value)
            if elem_type is not None:
                et = GGUFValueType(elem_type)
            elif value:
                et = _infer_type(value[0])
            else:
                raise GGUFError(f"{key}: give elem_type for an empty array")
            if et == GGUFValueType.ARRAY:
                raise GGUFError(f"{key}: nested arrays are not supported")
            for v in value:  # validate now, so errors name the key at add time
                _pack_scalar(et, v, key)
        else:
            _pack_scalar(vt, value, key)
        if key == "general.alignment":
            if vt != GGUFValueType.UINT32 or value <= 0 or value & (value - 1):
                raise GGUFError("general.alignment must be a UINT32 power of two")
            self.alignment = int(value)
        self._kv[key] = (vt, et, value)

    def add_tensor(self, name, array, ttype=GGMLType.F32):
        """Add a tensor from a numpy array of shape (rows, cols) (or 1-D)."""
        a = np.asarray(array)
        self._add(name, a.shape, ttype, a)

    def add_tensor_fn(self, name, shape, ttype, fn):
        """Add a tensor whose data fn() returns (an array of SHAPE) when write() reaches it."""
        self._add(name, tuple(shape), ttype, fn)

    def _add(self, name, shape, ttype, source):
        if name in self._names:
            raise GGUFError(f"duplicate tensor name {name}")
        if not 1 <= len(shape) <= 4:
            raise GGUFError(f"{name}: tensors have 1 to 4 dimensions, got shape {shape}")
        self._names.add(name)
        self._tensors.append(_Tensor(name, tuple(int(d) for d in reversed(shape)), GGMLType(ttype), source))

    def write(self):
        offset = 0
        for t in self._tensors:
            t.offset = offset
            offset = _align(offset + t.nbytes, self.alignment)
        head = bytearray()
        head += GGUF_MAGIC
        head += struct.pack("<IQQ", self.version, len(self._tensors), len(self._kv))
        for key, (vt, et, value) in self._kv.items():
            head += _pack_string(key)
            head += struct.pack("<I", vt)
            if vt == GGUFValueType.ARRAY:
                head += struct.pack("<IQ", et, len(value))
                for v in value:
                    head += _pack_scalar(et, v, key)
            else:
                head += _pack_scalar(vt, value, key)
        for t in self._tensors:
            head += _pack_string(t.name)
            head += struct.pack("<I", len(t.ne))
            head += struct.pack(f"<{len(t.ne)}Q", *t.ne)
            head += struct.pack("<IQ", t.ttype, t.offset)
        head += b"\0" * (_align(len(head), self.alignment) - len(head))
        with open(self.path, "wb") as f:
            f.write(head)
            pos = 0
            for t in self._tensors:
                data = t.source() if callable(t.source) else t.source
                data = np.asarray(data)
                if tuple(reversed(data.shape)) != t.ne:
                    raise GGUFError(f"{t.name}: data has shape {data.shape}, declared {tuple(reversed(t.ne))}")
                b = encode_tensor(data, t.ttype)
                assert len(b) == t.nbytes and pos == t.offset
                f.write(b)
                pos += len(b)
                pad = _align(pos, self.alignment) - pos
                f.write(b"\0" * pad)
                pos += pad


# ---------------------------------------------------------------------------
# reader

class TensorInfo:
    def __init__(self, name, ttype, ne, offset):
        self.name = name
        self.ttype = ttype
        self.ne = ne
        self.offset = offset

    @property
    def shape(self):
        return tuple(reversed(self.ne))


class GGUFReader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.path = path
        self.pos = 0
        if self._take(4) != GGUF_MAGIC:
            raise GGUFError(f"{path}: not a GGUF file")
        (self.version,) = self._unpack("<I")
        if self.version not in (2, 3):
            raise GGUFError(f"{path}: GGUF version {self.version} is not supported")
        n_tensors, n_kv = self._unpack("<QQ")
        self.kv = {}
        self.kv_types = {}
        for _ in range(n_kv):
            key = self._string().decode("utf-8")
            (vt,) = self._unpack("<I")
            vt = GGUFValueType(vt)
            if vt == GGUFValueType.ARRAY:
                et, n = self._unpack("<IQ")
                et = GGUFValueType(et)
                self.kv[key] = [self._value(et) for _ in range(n)]
            else:
                self.kv[key] = self._value(vt)
            self.kv_types[key] = vt
        self.alignment = int(self.kv.get("general.alignment", DEFAULT_ALIGNMENT))
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string().decode("utf-8")
            (nd,) = self._unpack("<I")
            ne = self._unpack(f"<{nd}Q")
            ttype, off = self._unpack("<IQ")
            self.tensors[name] = TensorInfo(name, GGMLType(ttype), tuple(ne), off)
        self.data_start = _align(self.pos, self.alignment)
        for t in self.tensors.values():
            if t.offset % self.alignment:
                raise GGUFError(f"{path}: tensor {t.name} offset {t.offset} is not aligned")
            if self.data_start + t.offset + tensor_nbytes(t.ne, t.ttype) > len(self.data):
                raise GGUFError(f"{path}: tensor {t.name} extends past the end of the file")

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise GGUFError(f"{self.path}: truncated at offset {self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))

    def _string(self):
        (n,) = self._unpack("<Q")
        return self._take(n)

    def _value(self, vt):
        if vt == GGUFValueType.STRING:
            return self._string().decode("utf-8")
        return self._unpack(_SCALAR_FMT[vt])[0]

    def tensor_bytes(self, name):
        t = self.tensors[name]
        start = self.data_start + t.offset
        return self.data[start:start + tensor_nbytes(t.ne, t.ttype)]

    def tensor_f64(self, name):
        t = self.tensors[name]
        return decode_tensor(self.tensor_bytes(name), t.ne, t.ttype)
