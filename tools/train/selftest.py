"""selftest.py - check export.py's GGUF conversion on a small random model (numpy only, seconds).

A float64 forward pass in HF semantics (unpermuted weights, rotate_half RoPE)
of random weights must give the same logits as gguf_forward.py's llama.cpp
convention forward of the exported file (permuted Q/K, adjacent-pair RoPE).
This is what makes the embedded model's GGUF compute what PyTorch trained;
run.sh runs it before training so a broken export never costs a GPU run.
"""

import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import gguf_forward  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]


def byte_symbols():
    """GPT-2's byte -> printable character table (the 256 byte-level symbols)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def hf_forward(sd, c, ids):
    """HF LlamaForCausalLM semantics in float64 numpy."""
    T, hd = len(ids), c["d"] // c["n_head"]
    x = sd["model.embed_tokens.weight"][ids]
    inv = c["theta"] ** (-np.arange(0, hd, 2) / hd)
    f = np.arange(T)[:, None] * inv[None]
    cos, sin = np.cos(np.concatenate([f, f], -1))[:, None], np.sin(np.concatenate([f, f], -1))[:, None]

    def rot(v):
        return np.concatenate([-v[..., hd // 2:], v[..., :hd // 2]], -1)

    def norm(v, w):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + c["eps"]) * w

    rep = c["n_head"] // c["n_kv"]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(c["n_layer"]):
        p = f"model.layers.{i}."
        h = norm(x, sd[p + "input_layernorm.weight"])
        q = (h @ sd[p + "self_attn.q_proj.weight"].T).reshape(T, c["n_head"], hd)
        k = (h @ sd[p + "self_attn.k_proj.weight"].T).reshape(T, c["n_kv"], hd)
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).reshape(T, c["n_kv"], hd)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        o = np.empty_like(q)
        for hh in range(c["n_head"]):
            s = q[:, hh] @ k[:, hh // rep].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            o[:, hh] = s / s.sum(-1, keepdims=True) @ v[:, hh // rep]
        x = x + o.reshape(T, -1) @ sd[p + "self_attn.o_proj.weight"].T
        h = norm(x, sd[p + "post_attention_layernorm.weight"])
        g = h @ sd[p + "mlp.gate_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * (h @ sd[p + "mlp.up_proj.weight"].T)) @ sd[p + "mlp.down_proj.weight"].T
    return norm(x, sd["model.norm.weight"]) @ sd["model.embed_tokens.weight"].T


def check(weights):
    rng = np.random.default_rng(7)
    tokens = SPECIALS + byte_symbols()
    c = {"vocab": len(tokens), "d": 64, "n_layer": 2, "n_head": 4, "n_kv": 2, "ffn": 96, "ctx": 64,
         "eps": 1e-5, "theta": 10000.0}
    hd = c["d"] // c["n_head"]
    sd = {"model.embed_tokens.weight": rng.normal(0, 0.5, (c["vocab"], c["d"])),
          "model.norm.weight": 1 + rng.normal(0, 0.1, c["d"])}
    for i in range(c["n_layer"]):
        p = f"model.layers.{i}."
        for n, shape in (("self_attn.q_proj", (c["n_head"] * hd, c["d"])), ("self_attn.k_proj", (c["n_kv"] * hd, c["d"])),
                         ("self_attn.v_proj", (c["n_kv"] * hd, c["d"])), ("self_attn.o_proj", (c["d"], c["n_head"] * hd)),
                         ("mlp.gate_proj", (c["ffn"], c["d"])), ("mlp.up_proj", (c["ffn"], c["d"])),
                         ("mlp.down_proj", (c["d"], c["ffn"]))):
            sd[p + n + ".weight"] = rng.normal(0, 0.3, shape)
        sd[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, c["d"])
        sd[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, c["d"])
    # store-exact weights: what the GGUF holds is what the HF forward uses
    store = (lambda v: export.q8_0_roundtrip(v.astype(np.float32))) if weights == "q8_0" else (lambda v: v.astype(np.float16))
    sd = {k: (store(v) if v.ndim == 2 else v.astype(np.float32)).astype(np.float64) for k, v in sd.items()}
    with tempfile.TemporaryDirectory() as tmp:
        tj = os.path.join(tmp, "tokenizer.json")
        with open(tj, "w") as f:
            json.dump({"model": {"vocab": {t: i for i, t in enumerate(tokens) if i >= 4}, "merges": []},
                       "added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(SPECIALS)]}, f)
        path = os.path.join(tmp, "m.gguf")
        export.export_gguf(path, {k: v.astype(np.float32) for k, v in sd.items()}, c, tj, "selftest", "random", weights)
        n = export.check_gguf(path, {k: v.astype(np.float32) for k, v in sd.items()}, c, weights)
        ids = rng.integers(0, c["vocab"], 40)
        got = gguf_forward.GGUFLlama(path).logits(ids)
        # control: the same export without the permutation must NOT match, or this check proves nothing
        real = export.permute_qk
        export.permute_qk = lambda w, n_head: w
        try:
            bad_path = os.path.join(tmp, "unpermuted.gguf")
            export.export_gguf(bad_path, {k: v.astype(np.float32) for k, v in sd.items()}, c, tj, "selftest", "x",
                               weights)
            bad = gguf_forward.GGUFLlama(bad_path).logits(ids)
        finally:
            export.permute_qk = real
    want = hf_forward(sd, c, ids)
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    bad_err = np.linalg.norm(bad - want) / np.linalg.norm(want)
    print(f"selftest ({weights}): {n} tensors read back exactly; GGUF-convention vs HF-convention logits rel err {err:.2e} "
          f"(without the Q/K permutation: {bad_err:.2e})")
    if not (err < 1e-10 and bad_err > 1e-3):
        print("selftest: FAILED - the exported Q/K layout does not match the RoPE convention")
        return 1
    return 0


def main():
    return check("f16") or check("q8_0")


if __name__ == "__main__":
    sys.exit(main())
