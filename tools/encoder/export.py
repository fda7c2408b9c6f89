"""export.py - write the encoder as a GGUF octet's engine loads (arch llama + octet.encoder.* keys), and read it back.

Tensors: every matrix Q8_0 (token_embd included), the norm weights F32; no
output.weight (an encoder has no LM head). Q and K rows are permuted the way
llama.cpp's converter does, so GGUF's adjacent-pair RoPE computes what the
PyTorch model's rotate_half RoPE computed. The tokenizer is byte-level BPE
with GPT-2's split regex ("gpt2" / "gpt-2"), as in tools/train/export.py.

Keys octet must read (besides the usual llama.* hyperparameters):
  octet.encoder.causal          bool    false: every token attends to every token of the text
  octet.encoder.pooling         string  "mean": mean over all positions (prefix token included) of the
                                        output of output_norm, then L2 normalisation
  octet.encoder.query_token_id  uint32  first token of a query (<|query|>)
  octet.encoder.doc_token_id    uint32  first token of a code chunk (<|code|>)
  octet.encoder.query_max_tokens uint32 query length cap, prefix token included (longer: BPE ids cut)
  octet.encoder.doc_max_tokens  uint32  chunk length cap, prefix token included
  octet.encoder.embedding_length uint32 output dimension (= llama.embedding_length)
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gguf_writer import GGMLType as TT  # noqa: E402
from gguf_writer import GGUFReader, GGUFWriter  # noqa: E402
from gguf_writer import GGUFValueType as VT  # noqa: E402
from hf_gguf import load_vocab, permute_qk, unpermute_qk  # noqa: E402


def _names(cfg):
    """(gguf name, HF name, permute heads or 0, type)."""
    out = [("token_embd.weight", "model.embed_tokens.weight", 0, TT.Q8_0)]
    for i in range(cfg["n_layer"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        out += [
            (b + "attn_norm.weight", p + "input_layernorm.weight", 0, TT.F32),
            (b + "attn_q.weight", p + "self_attn.q_proj.weight", cfg["n_head"], TT.Q8_0),
            (b + "attn_k.weight", p + "self_attn.k_proj.weight", cfg["n_kv"], TT.Q8_0),
            (b + "attn_v.weight", p + "self_attn.v_proj.weight", 0, TT.Q8_0),
            (b + "attn_output.weight", p + "self_attn.o_proj.weight", 0, TT.Q8_0),
            (b + "ffn_norm.weight", p + "post_attention_layernorm.weight", 0, TT.F32),
            (b + "ffn_gate.weight", p + "mlp.gate_proj.weight", 0, TT.Q8_0),
            (b + "ffn_up.weight", p + "mlp.up_proj.weight", 0, TT.Q8_0),
            (b + "ffn_down.weight", p + "mlp.down_proj.weight", 0, TT.Q8_0),
        ]
    out.append(("output_norm.weight", "model.norm.weight", 0, TT.F32))
    return out


def export_gguf(path, sd, cfg, tokenizer_json, query_max, doc_max, name="octet-embed"):
    tokens, types, merges, special = load_vocab(tokenizer_json)
    if len(tokens) != cfg["vocab"]:
        raise ValueError(f"tokenizer has {len(tokens)} tokens, the model {cfg['vocab']} rows")
    w = GGUFWriter(path)
    a = "llama"
    w.add_kv("general.architecture", a)
    w.add_kv("general.name", name)
    w.add_kv("general.description", "octet's code-search encoder: non-causal llama, mean pooling, L2-normalised")
    w.add_kv("general.file_type", 7, VT.UINT32)  # LLAMA_FTYPE_MOSTLY_Q8_0
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
    w.add_kv("octet.encoder.causal", False, VT.BOOL)
    w.add_kv("octet.encoder.pooling", "mean")
    w.add_kv("octet.encoder.normalize", "l2")
    w.add_kv("octet.encoder.query_token_id", special["<|query|>"], VT.UINT32)
    w.add_kv("octet.encoder.doc_token_id", special["<|code|>"], VT.UINT32)
    w.add_kv("octet.encoder.query_max_tokens", query_max, VT.UINT32)
    w.add_kv("octet.encoder.doc_max_tokens", doc_max, VT.UINT32)
    w.add_kv("octet.encoder.embedding_length", cfg["d"], VT.UINT32)
    w.add_kv("tokenizer.ggml.model", "gpt2")
    w.add_kv("tokenizer.ggml.pre", "gpt-2")
    w.add_kv("tokenizer.ggml.tokens", tokens, VT.ARRAY, VT.STRING)
    w.add_kv("tokenizer.ggml.token_type", types, VT.ARRAY, VT.INT32)
    w.add_kv("tokenizer.ggml.merges", merges, VT.ARRAY, VT.STRING)
    w.add_kv("tokenizer.ggml.bos_token_id", special["<|endoftext|>"], VT.UINT32)
    w.add_kv("tokenizer.ggml.eos_token_id", special["<|endoftext|>"], VT.UINT32)
    w.add_kv("tokenizer.ggml.add_bos_token", False, VT.BOOL)  # the query/doc token comes first instead
    w.add_kv("tokenizer.ggml.add_eos_token", False, VT.BOOL)
    for gname, hname, heads, tt in _names(cfg):
        arr = sd[hname]
        if heads:
            arr = permute_qk(arr, heads)
        w.add_tensor(gname, np.ascontiguousarray(arr, dtype=np.float32), tt)
    w.write()


def read_back(path, cfg):
    """The HF-named state dict (float64) of the weights as stored (dequantized, Q/K un-permuted)."""
    r = GGUFReader(path)
    sd = {}
    for gname, hname, heads, _ in _names(cfg):
        a = r.tensor_f64(gname)
        sd[hname] = unpermute_qk(a, heads) if heads else a
    return sd
