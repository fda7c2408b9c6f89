#!/usr/bin/env python3
"""enc_forward.py - float64 numpy reference of octet's retrieval encoder, read from its GGUF.

This is the definition the C side implements, written independently of the
PyTorch model: weights used exactly as stored (Q8_0 dequantized; Q/K rows in
GGUF order, no un-permuting), RoPE on ADJACENT pairs (x[2i], x[2i+1]) with
frequency base^(-2i/head_dim) at positions 0..n-1 as llama.cpp does for llama,
attention NOT causal (every position sees all n), grouped-query heads (query
head h reads KV head h // (n_head / n_kv)), SwiGLU, RMSNorm; the embedding is
the mean over all n positions of output_norm's output, divided by its L2 norm.

Tokenization (a byte-level BPE from the GGUF's tokens and merges with GPT-2's
split regex): a query is [octet.encoder.query_token_id] + BPE(text) cut to
octet.encoder.query_max_tokens ids in all, a code chunk [doc_token_id] +
BPE(text) cut to doc_max_tokens.

  enc_forward.py MODEL.gguf --check FIXTURES.json     ids and embeddings against the fixtures (exit 1 if off)
  enc_forward.py MODEL.gguf --query TEXT | --code TEXT   print ids and the embedding
Needs numpy and regex (pip install numpy regex).
"""

import argparse
import json
import os
import sys

import numpy as np
import regex

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gguf_writer import GGUFReader  # noqa: E402
from hf_gguf import gpt2_bytes  # noqa: E402

GPT2_SPLIT = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")


class Encoder:
    def __init__(self, path):
        r = GGUFReader(path)
        kv = r.kv
        if kv.get("general.architecture") != "llama" or kv.get("octet.encoder.causal") is not False:
            raise ValueError(f"{path}: not an octet encoder (arch llama with octet.encoder.causal = false)")
        if kv.get("octet.encoder.pooling") != "mean":
            raise ValueError(f"{path}: pooling {kv.get('octet.encoder.pooling')!r}, only 'mean' is defined")
        self.n_layer = kv["llama.block_count"]
        self.n_head = kv["llama.attention.head_count"]
        self.n_kv = kv["llama.attention.head_count_kv"]
        self.d = kv["llama.embedding_length"]
        self.hd = self.d // self.n_head
        self.eps = kv["llama.attention.layer_norm_rms_epsilon"]
        self.theta = kv["llama.rope.freq_base"]
        self.qtok, self.dtok = kv["octet.encoder.query_token_id"], kv["octet.encoder.doc_token_id"]
        self.qmax, self.dmax = kv["octet.encoder.query_max_tokens"], kv["octet.encoder.doc_max_tokens"]
        self.t = {n: r.tensor_f64(n) for n in r.tensors}
        self.ids = {t: i for i, t in enumerate(kv["tokenizer.ggml.tokens"])}
        self.rank = {tuple(m.split(" ")): i for i, m in enumerate(kv["tokenizer.ggml.merges"])}
        self.bmap = gpt2_bytes()[1]

    def bpe(self, text):
        out = []
        for piece in GPT2_SPLIT.findall(text):
            syms = [self.bmap[b] for b in piece.encode("utf-8")]
            while len(syms) > 1:
                best = min(range(len(syms) - 1), key=lambda i: self.rank.get((syms[i], syms[i + 1]), 1 << 30))
                if (syms[best], syms[best + 1]) not in self.rank:
                    break
                syms[best:best + 2] = [syms[best] + syms[best + 1]]
            out += [self.ids[s] for s in syms]
        return out

    def tokens(self, text, kind):
        first, cap = (self.qtok, self.qmax) if kind == "query" else (self.dtok, self.dmax)
        return [first] + self.bpe(text)[:cap - 1]

    def _norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def _rope(self, x):  # x: (n, heads, hd), adjacent pairs
        n = x.shape[0]
        inv = self.theta ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)
        ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def embed_ids(self, ids):
        t = self.t
        n = len(ids)
        x = t["token_embd.weight"][ids]
        rep = self.n_head // self.n_kv
        for i in range(self.n_layer):
            b = f"blk.{i}."
            h = self._norm(x, t[b + "attn_norm.weight"])
            q = self._rope((h @ t[b + "attn_q.weight"].T).reshape(n, self.n_head, self.hd))
            k = self._rope((h @ t[b + "attn_k.weight"].T).reshape(n, self.n_kv, self.hd))
            v = (h @ t[b + "attn_v.weight"].T).reshape(n, self.n_kv, self.hd)
            att = np.empty((n, self.n_head, self.hd))
            for hh in range(self.n_head):
                s = q[:, hh] @ k[:, hh // rep].T / np.sqrt(self.hd)  # (n, n): no causal mask
                s = np.exp(s - s.max(1, keepdims=True))
                att[:, hh] = (s / s.sum(1, keepdims=True)) @ v[:, hh // rep]
            x = x + att.reshape(n, self.d) @ t[b + "attn_output.weight"].T
            h = self._norm(x, t[b + "ffn_norm.weight"])
            g = h @ t[b + "ffn_gate.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ t[b + "ffn_up.weight"].T)) @ t[b + "ffn_down.weight"].T
        e = self._norm(x, t["output_norm.weight"]).mean(0)
        return e / np.linalg.norm(e)

    def embed(self, text, kind):
        ids = self.tokens(text, kind)
        return ids, self.embed_ids(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", metavar="FIXTURES")
    g.add_argument("--query")
    g.add_argument("--code")
    ap.add_argument("--tol", type=float, default=1e-6, help="largest allowed |difference| of an embedding entry")
    a = ap.parse_args()
    enc = Encoder(a.model)
    if a.query is not None or a.code is not None:
        ids, e = enc.embed(a.query if a.query is not None else a.code, "query" if a.query is not None else "code")
        print(json.dumps({"ids": ids, "embedding": [round(float(v), 8) for v in e]}))
        return 0
    with open(a.check) as f:
        fx = json.load(f)
    bad = 0
    for i, item in enumerate(fx["texts"]):
        ids, e = enc.embed(item["text"], item["kind"])
        err = float(np.abs(e - np.asarray(item["embedding"])).max())
        ok_ids = ids == item["ids"]
        print("text %d (%s, %d ids): ids %s, max |embedding difference| %.2e"
              % (i, item["kind"], len(ids), "equal" if ok_ids else "DIFFER", err))
        bad += (not ok_ids) or err > a.tol
    print("%d of %d texts match" % (len(fx["texts"]) - bad, len(fx["texts"])))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
