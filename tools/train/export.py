"""export.py - write the trained model as a llama GGUF with the project's own writer.

Matrices are stored Q8_0 (blocks of 32: an f16 scale and 32 int8, as ggml's
quantize_row_q8_0_ref) or F16; 1-D norm weights F32, as llama.cpp's converter
does.
Q and K rows are permuted to GGUF's adjacent-pair RoPE (tools/hf_gguf.py).
The tokenizer is written as tokenizer.ggml.model "gpt2"
with the "gpt-2" pre-tokenizer: byte-level BPE with GPT-2's split regex and no
prefix space, exactly what prep.py trained with HF tokenizers. The ChatML
template (sft.CHAT_TEMPLATE) goes into tokenizer.chat_template: octet's
engine/chat.c recognizes it by its <|im_start|> markers.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gguf_writer import GGMLType as TT  # noqa: E402
from gguf_writer import GGUFReader, GGUFWriter  # noqa: E402
from gguf_writer import GGUFValueType as VT  # noqa: E402
from gguf_writer import quantize_q8_0  # noqa: E402
from hf_gguf import load_vocab, permute_qk, unpermute_qk  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sft import CHAT_TEMPLATE  # noqa: E402


def q8_0_roundtrip(a):
    """A as Q8_0 stores it, dequantized (exact in float32: an f16 scale times an int8)."""
    d, q = quantize_q8_0(a)
    return (d.astype(np.float32)[..., None] * q.astype(np.float32)).reshape(a.shape)


def gguf_tensors(sd, cfg, weights="f16"):
    """(gguf name, float32 array, type) for every tensor, from an HF-named state dict of numpy arrays."""
    W = TT.Q8_0 if weights == "q8_0" else TT.F16
    out = [("token_embd.weight", sd["model.embed_tokens.weight"], W)]
    for i in range(cfg["n_layer"]):
        p = f"model.layers.{i}."
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", sd[p + "input_layernorm.weight"], TT.F32),
            (b + "attn_q.weight", permute_qk(sd[p + "self_attn.q_proj.weight"], cfg["n_head"]), W),
            (b + "attn_k.weight", permute_qk(sd[p + "self_attn.k_proj.weight"], cfg["n_kv"]), W),
            (b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"], W),
            (b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"], W),
            (b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"], TT.F32),
            (b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"], W),
            (b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"], W),
            (b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"], W),
        ]
    out.append(("output_norm.weight", sd["model.norm.weight"], TT.F32))
    return out  # tied embeddings: no output.weight


def export_gguf(path, sd, cfg, tokenizer_json, name, description, weights="f16"):
    tokens, types, merges, special = load_vocab(tokenizer_json)
    if len(tokens) != cfg["vocab"]:
        raise ValueError(f"tokenizer has {len(tokens)} tokens, the model {cfg['vocab']} rows")
    eot = special["<|endoftext|>"]
    w = GGUFWriter(path)
    a = "llama"
    w.add_kv("general.architecture", a)
    w.add_kv("general.name", name)
    w.add_kv("general.description", description)
    w.add_kv("general.file_type", 7 if weights == "q8_0" else 1, VT.UINT32)  # LLAMA_FTYPE_MOSTLY_Q8_0 / _F16
    w.add_kv(f"{a}.vocab_size", cfg["vocab"], VT.UINT32)
    w.add_kv(f"{a}.context_length", cfg["ctx"], VT.UINT32)
    w.add_kv(f"{a}.embedding_length", cfg["d"], VT.UINT32)
    w.add_kv(f"{a}.block_count", cfg["n_layer"], VT.UINT32)
    w.add_kv(f"{a}.feed_forward_length", cfg["ffn"], VT.UINT32)
    w.add_kv(f"{a}.attention.head_count", cfg["n_head"], VT.UINT32)
    w.add_kv(f"{a}.attention.head_count_kv", cfg["n_kv"], VT.UINT32)
    w.add_kv(f"{a}.attention.layer_norm_rms_epsilon", float(cfg["eps"]), VT.FLOAT32)
    w.add_kv(f"{a}.rope.freq_base", float(cfg["theta"]), VT.FLOAT32)
    w.add_kv(f"{a}.rope.dimension_count", cfg["d"] // cfg["n_head"], VT.UINT32)
    w.add_kv("tokenizer.ggml.model", "gpt2")
    w.add_kv("tokenizer.ggml.pre", "gpt-2")
    w.add_kv("tokenizer.ggml.tokens", tokens, VT.ARRAY, VT.STRING)
    w.add_kv("tokenizer.ggml.token_type", types, VT.ARRAY, VT.INT32)
    w.add_kv("tokenizer.ggml.merges", merges, VT.ARRAY, VT.STRING)
    w.add_kv("tokenizer.ggml.bos_token_id", eot, VT.UINT32)
    w.add_kv("tokenizer.ggml.eos_token_id", eot, VT.UINT32)
    w.add_kv("tokenizer.ggml.add_bos_token", True, VT.BOOL)  # training put <|endoftext|> before every document
    w.add_kv("tokenizer.ggml.add_eos_token", False, VT.BOOL)
    w.add_kv("tokenizer.ggml.fim_pre_token_id", special["<|fim_prefix|>"], VT.UINT32)
    w.add_kv("tokenizer.ggml.fim_suf_token_id", special["<|fim_suffix|>"], VT.UINT32)
    w.add_kv("tokenizer.ggml.fim_mid_token_id", special["<|fim_middle|>"], VT.UINT32)
    if "<|im_start|>" in special and "<|im_end|>" in special:
        w.add_kv("tokenizer.chat_template", CHAT_TEMPLATE)
    for tname, arr, tt in gguf_tensors(sd, cfg, weights):
        w.add_tensor(tname, np.ascontiguousarray(arr, dtype=np.float32), tt)
    w.write()


def check_gguf(path, sd, cfg, weights="f16"):
    """Read PATH back and compare every tensor with SD as stored (f16-rounded or Q8_0), un-permuting Q/K.

    Returns the number of tensors checked; raises on any difference."""
    r = GGUFReader(path)
    want = {n: (a, tt) for n, a, tt in gguf_tensors(sd, cfg, weights)}
    if set(r.tensors) != set(want):
        raise ValueError(f"{path}: tensor names differ: {sorted(set(r.tensors) ^ set(want))}")
    for n, (a, tt) in want.items():
        got = r.tensor_f64(n)
        if tt == TT.F16:
            ref = a.astype(np.float16).astype(np.float64)
        elif tt == TT.Q8_0:
            ref = q8_0_roundtrip(a).astype(np.float64)
        else:
            ref = a.astype(np.float32).astype(np.float64)
        if got.shape != ref.shape or not np.array_equal(got, ref):
            raise ValueError(f"{path}: tensor {n} differs from the trained weights")
    q = r.tensor_f64("blk.0.attn_q.weight")
    hf = sd["model.layers.0.self_attn.q_proj.weight"]
    hf = (q8_0_roundtrip(hf) if weights == "q8_0" else hf.astype(np.float16)).astype(np.float64)
    if not np.array_equal(unpermute_qk(q, cfg["n_head"]), hf):
        raise ValueError(f"{path}: un-permuting blk.0.attn_q.weight does not give q_proj back")
    return len(want)
