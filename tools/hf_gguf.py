"""hf_gguf.py - what both exports (tools/train/export.py, tools/encoder/export.py) need to turn a
Hugging Face llama into GGUF's conventions: the Q/K row order of its RoPE and the vocabulary of
an HF tokenizer.json; and GPT-2's byte-level alphabet, which the tools that make or read such a
vocabulary (gen_tiny.py, the forwards and checks of both models) spell bytes with.

Q and K rows are permuted the way llama.cpp's convert_hf_to_gguf.py does for llama
(heads x 2 x head_dim/2 -> heads x head_dim/2 x 2), turning HF's rotate_half RoPE pairs
(i, i + d/2) into the adjacent pairs (2i, 2i + 1) that GGUF llama models use.
"""

import json

TOKEN_NORMAL, TOKEN_CONTROL = 1, 3  # tokenizer.ggml.token_type values


def permute_qk(w, n_head):
    """HF rotate_half row order -> GGUF adjacent-pair row order, per head."""
    rows, cols = w.shape
    return w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def unpermute_qk(w, n_head):
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def load_vocab(tokenizer_json):
    """(tokens by id, token types, merges as 'a b' strings, special token ids by text)."""
    with open(tokenizer_json, encoding="utf-8") as f:
        tj = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    special = {}
    for t in tj["added_tokens"]:
        vocab[t["content"]] = t["id"]
        if t["special"]:
            special[t["content"]] = t["id"]
    n = len(vocab)
    tokens = [None] * n
    for s, i in vocab.items():
        if not 0 <= i < n or tokens[i] is not None:
            raise ValueError(f"{tokenizer_json}: token ids are not 0..{n - 1} (id {i} for {s!r})")
        tokens[i] = s
    types = [TOKEN_CONTROL if i in special.values() else TOKEN_NORMAL for i in range(n)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    return tokens, types, merges, special


def gpt2_bytes():
    """GPT-2's byte-level alphabet, the printable character standing for each byte: (the 256
    characters in GPT-2's vocabulary order, {byte: character})."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs], {b: chr(c) for b, c in zip(bs, cs)}
