"""gguf_forward.py - float64 numpy forward pass of a llama GGUF in llama.cpp's own convention.

An independent check of the exported file: weights are used exactly as stored
(no un-permuting), RoPE rotates ADJACENT pairs (x[2i], x[2i+1]) with frequency
base^(-2i/head_dim), as llama.cpp does for llama models. If export.py's Q/K
permutation were wrong, these logits would not match PyTorch's (which rotate
(x[i], x[i+d/2]) on unpermuted weights).

    python3 tools/train/gguf_forward.py models/octet-code.gguf tests/fixtures/model/ref.json

compares with the reference logits and per-token NLL written by train.py and
exits 1 when the relative error of any logits row exceeds --tol.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gguf_writer import GGUFReader  # noqa: E402


class GGUFLlama:
    def __init__(self, path):
        r = GGUFReader(path)
        a = r.kv["general.architecture"]
        if a != "llama":
            raise ValueError(f"{path}: architecture {a!r}, expected llama")
        kv = r.kv
        self.n_layer = kv[f"{a}.block_count"]
        self.n_head = kv[f"{a}.attention.head_count"]
        self.n_kv = kv[f"{a}.attention.head_count_kv"]
        self.d = kv[f"{a}.embedding_length"]
        self.hd = self.d // self.n_head
        self.eps = kv[f"{a}.attention.layer_norm_rms_epsilon"]
        self.theta = kv[f"{a}.rope.freq_base"]
        self.t = {n: r.tensor_f64(n) for n in r.tensors}
        self.out = self.t.get("output.weight", self.t["token_embd.weight"])

    def _norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def _rope(self, x):  # x: (T, heads, hd), adjacent pairs
        T = x.shape[0]
        inv = self.theta ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        y = np.empty_like(x)
        y[..., 0::2] = x0 * c - x1 * s
        y[..., 1::2] = x0 * s + x1 * c
        return y

    def logits(self, ids):
        t = self.t
        T = len(ids)
        x = t["token_embd.weight"][np.asarray(ids)]
        mask = np.triu(np.full((T, T), -np.inf), 1)
        rep = self.n_head // self.n_kv
        for i in range(self.n_layer):
            b = f"blk.{i}."
            h = self._norm(x, t[b + "attn_norm.weight"])
            q = self._rope((h @ t[b + "attn_q.weight"].T).reshape(T, self.n_head, self.hd))
            k = self._rope((h @ t[b + "attn_k.weight"].T).reshape(T, self.n_kv, self.hd))
            v = (h @ t[b + "attn_v.weight"].T).reshape(T, self.n_kv, self.hd)
            o = np.empty((T, self.n_head, self.hd))
            for hh in range(self.n_head):
                kk, vv = k[:, hh // rep], v[:, hh // rep]
                s = q[:, hh] @ kk.T / np.sqrt(self.hd) + mask
                s = np.exp(s - s.max(-1, keepdims=True))
                o[:, hh] = (s / s.sum(-1, keepdims=True)) @ vv
            x = x + o.reshape(T, -1) @ t[b + "attn_output.weight"].T
            h = self._norm(x, t[b + "ffn_norm.weight"])
            g = h @ t[b + "ffn_gate.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ t[b + "ffn_up.weight"].T)) @ t[b + "ffn_down.weight"].T
        return self._norm(x, t["output_norm.weight"]) @ self.out.T


def nll(logits, ids):
    """-log p(ids[i+1] | ids[..i]) for every i, from logits of shape (len(ids), vocab)."""
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
    return lse[:-1] - logits[np.arange(len(ids) - 1), ids[1:]]


def main():
    ap = argparse.ArgumentParser(description="compare a GGUF's float64 logits with train.py's references")
    ap.add_argument("gguf")
    ap.add_argument("ref", help="ref.json written by train.py (logits in the .f32 file next to it)")
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    m = GGUFLlama(a.gguf)
    with open(a.ref) as f:
        ref = json.load(f)
    V = ref["n_vocab"]
    blob = np.fromfile(os.path.join(os.path.dirname(a.ref), ref["logits_file"]), dtype="<f4")
    worst = 0.0
    for s in ref["snippets"]:
        ids = [ref["bos_id"]] + s["ids"]
        lg = m.logits(ids)
        d_nll = np.abs(nll(lg, np.asarray(ids)) - np.asarray(s["nll"])).max()
        line = f"{s['name']}: {len(ids)} tokens, max |nll - ref| {d_nll:.2e}"
        for p, off in zip(s.get("logit_positions", []), s.get("logit_offsets", [])):
            r = blob[off:off + V].astype(np.float64)
            e = np.linalg.norm(lg[p] - r) / np.linalg.norm(r)
            worst = max(worst, e)
            line += f", pos {p} rel {e:.2e}"
        print(line)
        worst = max(worst, d_nll)
    print(f"worst {worst:.2e} (tolerance {a.tol:g})")
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
