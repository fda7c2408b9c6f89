"""check_tokenizer.py - does the GGUF's tokenizer data reproduce the ids the model was trained with?

Encodes every held-out snippet with a plain byte-level BPE built only from the
GGUF's tokenizer.ggml.tokens / merges and the "gpt-2" pre-tokenizer regex as
llama.cpp defines it (split pieces, GPT-2 byte-to-unicode map, merges applied
lowest rank first), and compares with the ids HF tokenizers produced in
training (ref.json). octet's tokenizer must give these same ids.

    python3 tools/train/check_tokenizer.py models/octet-code.gguf tests/fixtures/model/ref.json
Needs the `regex` module (pip install regex) for \\p{L} / \\p{N}.
"""

import json
import os
import sys

import regex

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gguf_writer import GGUFReader  # noqa: E402
from hf_gguf import gpt2_bytes  # noqa: E402

# llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT2 split; text no alternative matches stays a piece of its own
GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"


def split(text):
    pieces, pos = [], 0
    for m in regex.finditer(GPT2_SPLIT, text):
        if m.start() > pos:
            pieces.append(text[pos:m.start()])
        pieces.append(m.group())
        pos = m.end()
    if pos < len(text):
        pieces.append(text[pos:])
    return pieces


class BPE:
    def __init__(self, gguf):
        kv = GGUFReader(gguf).kv
        if kv["tokenizer.ggml.model"] != "gpt2" or kv["tokenizer.ggml.pre"] != "gpt-2":
            raise ValueError(f"{gguf}: expected a gpt2 tokenizer with the gpt-2 pre-tokenizer")
        self.ids = {t: i for i, t in enumerate(kv["tokenizer.ggml.tokens"])}
        self.rank = {tuple(m.split(" ")): r for r, m in enumerate(kv["tokenizer.ggml.merges"])}
        self.bmap = gpt2_bytes()[1]

    def encode(self, text):
        out = []
        for piece in split(text):
            syms = [self.bmap[b] for b in piece.encode("utf-8")]
            while len(syms) > 1:
                best = min(range(len(syms) - 1), key=lambda i: self.rank.get((syms[i], syms[i + 1]), 1 << 30))
                if (syms[best], syms[best + 1]) not in self.rank:
                    break
                syms[best:best + 2] = [syms[best] + syms[best + 1]]
            out += [self.ids[s] for s in syms]
        return out


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bpe = BPE(sys.argv[1])
    with open(sys.argv[2]) as f:
        ref = json.load(f)
    bad = 0
    d = os.path.dirname(sys.argv[2])
    for s in ref["snippets"]:
        with open(os.path.join(d, s["name"]), encoding="utf-8") as f:
            text = f.read()
        got = bpe.encode(text)
        ok = got == s["ids"]
        bad += not ok
        print(f"{s['name']}: {len(got)} ids {'match' if ok else 'DIFFER'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
