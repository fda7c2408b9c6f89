"""selftest.py - check export.py's GGUF conversion on a small random model (numpy only, seconds).

A float64 forward pass in HF semantics (unpermuted weights, rotate_half RoPE)
of random weights must give the same logits as gguf_forward.py's llama.cpp
convention forward of the exported file (permuted Q/K, adjacent-pair RoPE).
This is what makes the embedded model's GGUF compute what PyTorch trained;
run.sh runs it before training so a broken export never costs a GPU run.
"""

import json
import os
import re
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import gguf_forward  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hf_gguf import gpt2_bytes  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]


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
    tokens = SPECIALS + gpt2_bytes()[0]
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


def c_literals(src):
    """The C string literals of SRC (adjacent ones joined by the caller), decoded."""
    out = []
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', src):
        out.append(re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), m.group(1)))
    return out


def c_statement(src, start):
    """The joined string literals of the C statement that begins at START (up to its ';')."""
    return "".join(c_literals(src[start:src.index(";", start)]))


def check_prompts():
    """sft.py's refactor prompts must be octet's (flows/refactor.c) byte for byte, and its blocks must be read
    back by the blocks.c-like parser into the edit they were made from."""
    import sft
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "flows", "refactor.c")) as f:
        src = f.read()
    bad = []
    for name, mine in (("SYSTEM_DIFF", sft.REFACTOR_SYSTEM), ("SYSTEM_BLOCKS", sft.REFACTOR_SYSTEM_BLOCKS)):
        if c_statement(src, src.index(f"static const char {name}[]")) != mine:
            bad.append(name)
    for lead, kw in (('"\\nTarget: the file ', {"rel": "a.py"}), ('"\\nTarget: %.200s', {"symbol": "area"})):
        lit = c_statement(src, src.index(lead)).replace("%.200s", "%s")
        if lit.replace("%s", "{}").format(*kw.values()) != sft.refactor_target(**kw):
            bad.append(f"target line {lead[1:]}")
    ctx, instr, tgt, rel = "a.py:1-2\n```\nx = 1\n```\n\n", "rename x to y", "\nTarget: the file a.py.\n", "a.py"
    fmt_chat = c_statement(src, src.index('"Instruction: %s'))
    if fmt_chat.replace("%s", "{}").format(instr, tgt, ctx) != sft.refactor_chat_user(instr, tgt, ctx):
        bad.append("chat user message")
    i = src.index("asprintf(prompt, \"%s\\n\\nSearch/replace")
    fmt_b = "".join(c_literals(src[i:src.index("context, instruction", i)]))
    j = src.index("asprintf(prompt, \"%s\\n\\nA patch")
    fmt_d = "".join(c_literals(src[j:src.index(";", j)]))
    tail_b = f"```\n{rel}\n<<<<<<< SEARCH\n"
    if fmt_b.replace("%s", "{}").format(ctx, instr, tgt, tail_b) != sft.refactor_completion_prompt(
            "blocks", ctx, instr, tgt, rel):
        bad.append("blocks completion prompt")
    if fmt_d.replace("%s", "{}").format(ctx, instr, tgt, "```diff\n") != sft.refactor_completion_prompt(
            "diff", ctx, instr, tgt, rel):
        bad.append("diff completion prompt")
    old = "def f(a):\n    return a + 1\n\n\ndef g(a):\n    return a + 1\n\n\nx = f(2)\n"
    new = old.replace("f(", "h(")
    edits = sft.make_blocks(old, new)
    for reply, seen in ((sft.blocks_chat_reply(rel, edits), None),
                        (sft.blocks_completion_reply(rel, edits, True), tail_b)):
        text = (seen or "") + reply
        if sft.apply_blocks(old, sft.parse_blocks(text) or [], rel) != new:
            bad.append("blocks round trip")
    two = "def g(a):\n    return a + 1\n"  # the same line twice: context must make each SEARCH unique
    old2 = two + "\n\n" + two.replace("g", "k") + "\n\n" + "y = 2\n"
    new2 = old2.replace("a + 1", "a + 2", 1)
    e2 = sft.make_blocks(old2, new2)
    if not e2 or len(e2[0][0]) != 2 or sft.apply_blocks(old2, sft.parse_blocks(sft.blocks_chat_reply(rel, e2)),
                                                      rel) != new2:
        bad.append("blocks context")
    marker = "def f():\n    \"\"\"Doc\n=======\n\"\"\"\n    return 1\n"
    new3 = marker.replace("return 1", "return 2").replace("Doc", "Doc2")
    e3 = sft.make_blocks(marker, new3)
    if e3 and sft.apply_blocks(marker, sft.parse_blocks(sft.blocks_chat_reply(rel, e3)) or [], rel) == new3:
        bad.append("a ======= line in the file must not pass the check")
    print("selftest (prompts): " + ("refactor prompts equal flows/refactor.c's; blocks read back" if not bad
                                     else "FAILED - " + ", ".join(bad)))
    return 1 if bad else 0


def main():
    return check("f16") or check("q8_0") or check_prompts()


if __name__ == "__main__":
    sys.exit(main())
