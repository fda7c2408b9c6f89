#!/usr/bin/env python3
"""tiny_encoder.py - a tiny retrieval encoder for octet's tests: a tiny llama model of
tests/fixtures/tiny (random weights, a real byte-level BPE tokenizer, tied embeddings, no
output.weight: the encoder's layout) with the octet.encoder.* keys of models/README.md
("octet-embed") added. Its vectors mean nothing; the end-to-end tests use it to run hybrid
retrieval's machinery (octet index's vectors, octet search in hybrid mode) on any machine,
whether the real encoder is installed or not.

  tiny_encoder.py SRC.gguf OUT.gguf     (tests/fixtures/encoder/tiny-embed.gguf is
                                         made from tests/fixtures/tiny/llama_gqa_f16.gguf)

Standard library only: the GGUF is copied byte for byte, the keys appended to its metadata
and the tensor data moved to the new aligned offset (tensor offsets are relative to it).
"""

import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SIZE = {U8: 1, I8: 1, U16: 2, I16: 2, U32: 4, I32: 4, F32: 4, BOOL: 1, U64: 8, I64: 8, F64: 8}


class Cursor:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def string(self):
        return self.take(self.u64()).decode("utf-8")

    def skip_value(self, t):
        if t == STR:
            self.take(self.u64())
        elif t == ARR:
            et, n = self.u32(), self.u64()
            for _ in range(n):
                self.skip_value(et)
        else:
            self.take(SIZE[t])


def pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def main():
    src, out = sys.argv[1], sys.argv[2]
    b = open(src, "rb").read()
    c = Cursor(b)
    if c.take(4) != b"GGUF" or c.u32() != 3:
        sys.exit(f"{src}: not a GGUF v3 file")
    n_tensors, n_kv = c.u64(), c.u64()
    kv_start = c.p
    alignment, n_embd, tokens = 32, None, []
    for _ in range(n_kv):
        key, t = c.string(), c.u32()
        at = c.p
        if key == "general.alignment":
            alignment = struct.unpack("<I", b[at:at + 4])[0]
        if key == "llama.embedding_length":
            n_embd = struct.unpack("<I", b[at:at + 4])[0]
        if key == "tokenizer.ggml.tokens":
            et, n = c.u32(), c.u64()
            tokens = [c.string() for _ in range(n)]
            continue
        c.skip_value(t)
    kv_end = c.p
    for _ in range(n_tensors):
        c.string()
        nd = c.u32()
        c.take(8 * nd + 4 + 8)
    infos_end = c.p
    data_start = (infos_end + alignment - 1) // alignment * alignment
    q_id, d_id = tokens.index("<|start_header_id|>"), tokens.index("<|end_header_id|>")
    new = [
        ("octet.encoder.causal", BOOL, struct.pack("<?", False)),
        ("octet.encoder.pooling", STR, pack_str("mean")),
        ("octet.encoder.normalize", STR, pack_str("l2")),
        ("octet.encoder.query_token_id", U32, struct.pack("<I", q_id)),
        ("octet.encoder.doc_token_id", U32, struct.pack("<I", d_id)),
        ("octet.encoder.query_max_tokens", U32, struct.pack("<I", 32)),
        ("octet.encoder.doc_max_tokens", U32, struct.pack("<I", 96)),
        ("octet.encoder.embedding_length", U32, struct.pack("<I", n_embd)),
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv + len(new))
    kvs = b[kv_start:kv_end] + b"".join(pack_str(k) + struct.pack("<I", t) + v for k, t, v in new)
    meta = head + kvs + b[kv_end:infos_end]
    pad = (len(meta) + alignment - 1) // alignment * alignment - len(meta)
    with open(out, "wb") as f:
        f.write(meta + b"\0" * pad + b[data_start:])
    print(f"{out}: {n_tensors} tensors, {n_kv + len(new)} keys, query id {q_id}, doc id {d_id}, dim {n_embd}")


if __name__ == "__main__":
    main()
