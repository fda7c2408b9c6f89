#!/usr/bin/env python3
"""ref_forward.py - an independent float64 forward pass of llama/qwen2 GGUF models.

The reference the engine's exactness tests compare with. It follows Hugging
Face transformers' semantics, not the engine's conventions:

  * weights are read back from the GGUF file exactly as stored (f16/bf16/Q8_0
    values dequantized, so the reference sees the same rounded weights) and,
    for llama, the Q/K rows are un-permuted back to HF's layout;
  * RoPE is HF's rotate_half on the un-permuted heads, for both architectures;
    linear scaling divides positions by the factor;
  * RMSNorm x / sqrt(mean(x^2) + eps) * w; attention softmax(q k^T / sqrt(d))
    with a causal mask, KV heads repeated for GQA; SwiGLU down(silu(gate x) * up x);
    q/k/v biases when present; tied embeddings: logits = h @ token_embd^T.

Matrix products are accumulated in a fixed order (one rank-1 update per inner
index) rather than through BLAS, so the output does not depend on the BLAS
library or the thread count: make_fixtures.sh regenerates identical files.

  ref_forward.py MODEL.gguf --ids "1 2 3" [--out REF.bin] [--print-last]
  ref_forward.py MODEL.gguf --random-ids 24 --seed 1 --out REF.bin

REF.bin layout (little-endian): the 8 bytes "OCTREF01", u32 n_tokens,
u32 n_vocab, i32 ids[n_tokens], f64 logits[n_tokens][n_vocab] (row i: the
logits after token i, i.e. predicting token i+1).
"""

import argparse
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_writer import GGUFReader  # noqa: E402

REF_MAGIC = b"OCTREF01"


def matmul(a, b):
    """a (m, k) @ b (k, n) in float64, summed over k in index order (deterministic)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float64)
    for k in range(a.shape[1]):
        out += a[:, k:k + 1] * b[k:k + 1, :]
    return out


def unpermute(w, n_head):
    """Inverse of convert_hf_to_gguf.py's permute: adjacent-pair rows -> HF rotate_half rows."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class Model:
    def __init__(self, path):
        r = GGUFReader(path)
        kv = r.kv
        self.arch = kv["general.architecture"]
        if self.arch not in ("llama", "qwen2"):
            raise SystemExit(f"{path}: architecture {self.arch} is not llama or qwen2")
        a = self.arch
        self.n_embd = int(kv[f"{a}.embedding_length"])
        self.n_layer = int(kv[f"{a}.block_count"])
        self.n_head = int(kv[f"{a}.attention.head_count"])
        self.n_head_kv = int(kv.get(f"{a}.attention.head_count_kv", self.n_head))
        self.head_dim = self.n_embd // self.n_head
        self.eps = float(kv[f"{a}.attention.layer_norm_rms_epsilon"])
        self.rope_base = float(kv.get(f"{a}.rope.freq_base", 10000.0))
        scaling = kv.get(f"{a}.rope.scaling.type", "none")
        if scaling not in ("none", "linear"):
            raise SystemExit(f"{path}: rope scaling {scaling} is not supported by the reference")
        self.rope_factor = float(kv.get(f"{a}.rope.scaling.factor", 1.0)) if scaling == "linear" else 1.0

        t = r.tensor_f64
        self.embd = t("token_embd.weight")
        self.n_vocab = self.embd.shape[0]
        self.out_norm = t("output_norm.weight")
        self.output = t("output.weight") if "output.weight" in r.tensors else self.embd
        self.layers = []
        for i in range(self.n_layer):
            p = f"blk.{i}."
            wq, wk = t(p + "attn_q.weight"), t(p + "attn_k.weight")
            if self.arch == "llama":
                wq, wk = unpermute(wq, self.n_head), unpermute(wk, self.n_head_kv)
            L = dict(attn_norm=t(p + "attn_norm.weight"), wq=wq, wk=wk, wv=t(p + "attn_v.weight"),
                     wo=t(p + "attn_output.weight"), ffn_norm=t(p + "ffn_norm.weight"),
                     gate=t(p + "ffn_gate.weight"), up=t(p + "ffn_up.weight"), down=t(p + "ffn_down.weight"))
            for b in ("q", "k", "v"):
                name = p + f"attn_{b}.bias"
                L["b" + b] = t(name) if name in r.tensors else None
            self.layers.append(L)

    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, n):
        """HF rotate_half RoPE on x (n, heads, head_dim)."""
        d = self.head_dim
        inv_freq = 1.0 / (self.rope_base ** (np.arange(0, d, 2, dtype=np.float64) / d))
        pos = np.arange(n, dtype=np.float64) / self.rope_factor
        freqs = np.outer(pos, inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
        rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], axis=-1)
        return x * cos + rot * sin

    def forward(self, ids):
        n = len(ids)
        H, KV, d = self.n_head, self.n_head_kv, self.head_dim
        x = self.embd[np.asarray(ids)]
        mask = np.triu(np.full((n, n), -np.inf), k=1)
        for L in self.layers:
            h = self.rmsnorm(x, L["attn_norm"])
            q, k, v = matmul(h, L["wq"].T), matmul(h, L["wk"].T), matmul(h, L["wv"].T)
            if L["bq"] is not None:
                q, k, v = q + L["bq"], k + L["bk"], v + L["bv"]
            q = self.rope(q.reshape(n, H, d), n)
            k = self.rope(k.reshape(n, KV, d), n)
            v = v.reshape(n, KV, d)
            att = np.zeros((n, H, d))
            for hh in range(H):
                kvh = hh // (H // KV)  # repeat_kv: query head hh reads KV head hh // (H / KV)
                s = matmul(q[:, hh, :], k[:, kvh, :].T) / np.sqrt(d) + mask
                s = np.exp(s - s.max(axis=-1, keepdims=True))
                p = s / s.sum(axis=-1, keepdims=True)
                att[:, hh, :] = matmul(p, v[:, kvh, :])
            x = x + matmul(att.reshape(n, H * d), L["wo"].T)
            h = self.rmsnorm(x, L["ffn_norm"])
            g = matmul(h, L["gate"].T)
            u = matmul(h, L["up"].T)
            x = x + matmul(g / (1.0 + np.exp(-g)) * u, L["down"].T)
        return matmul(self.rmsnorm(x, self.out_norm), self.output.T)


def write_ref(path, ids, logits):
    with open(path, "wb") as f:
        f.write(REF_MAGIC)
        f.write(struct.pack("<II", len(ids), logits.shape[1]))
        f.write(np.asarray(ids, dtype="<i4").tobytes())
        f.write(np.ascontiguousarray(logits, dtype="<f8").tobytes())


def read_ref(path):
    b = Path(path).read_bytes()
    if b[:8] != REF_MAGIC:
        raise ValueError(f"{path}: not an octet reference file")
    n, nv = struct.unpack_from("<II", b, 8)
    ids = np.frombuffer(b, dtype="<i4", count=n, offset=16)
    logits = np.frombuffer(b, dtype="<f8", count=n * nv, offset=16 + 4 * n).reshape(n, nv)
    return ids, logits


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ids", help="token ids, space-separated")
    g.add_argument("--random-ids", type=int, metavar="N",
                   help="N ids: the BOS id (when the model has one) then uniform draws over the vocabulary")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-ids")
    ap.add_argument("--out", help="write the logits of every position to this REF.bin file")
    ap.add_argument("--print-last", action="store_true", help="print the last position's logits, one per line")
    a = ap.parse_args()

    m = Model(a.model)
    if a.ids is not None:
        ids = [int(s) for s in a.ids.split()]
    else:
        rng = np.random.default_rng(a.seed)
        ids = [int(i) for i in rng.integers(0, m.n_vocab, a.random_ids)]
        bos = GGUFReader(a.model).kv.get("tokenizer.ggml.bos_token_id")
        if bos is not None and ids:
            ids[0] = int(bos)
    if not ids or min(ids) < 0 or max(ids) >= m.n_vocab:
        raise SystemExit(f"ids must be in [0, {m.n_vocab})")
    logits = m.forward(ids)
    if a.out:
        write_ref(a.out, ids, logits)
    if a.print_last:
        sys.stdout.write("".join(f"{v:.9g}\n" for v in logits[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
