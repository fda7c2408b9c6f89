#!/usr/bin/env python3
"""tok_expected.py - independent expected outputs for tests/unit/engine/test_tokenizer.c.

The starcoder and phi-3 vocabularies come without llama.cpp test vectors, and
several pre-tokenizers have no vocabulary fixture at all. This script derives
expected results with reference implementations instead of octet's code:

  * ggml-vocab-starcoder.gguf.expected: Hugging Face `tokenizers` (BPE model
    built from the GGUF's tokens and merges, Digits + ByteLevel pre-tokenizer);
  * ggml-vocab-phi-3.gguf.expected: Google's `sentencepiece` (a BPE
    ModelProto built from the GGUF's tokens, scores and types);
  * pre-split.expected: piece boundaries of every pre-tokenizer octet knows,
    computed with Python's `regex` module over llama.cpp's pattern lists.

Before writing anything it rebuilds the gpt-2 and llama-spm tokenizers the
same way and checks them against llama.cpp's vectors, so a fault in this
script shows up here rather than as a wrong fixture.

Needs: pip install tokenizers sentencepiece protobuf regex. The outputs are
committed; `make test` needs none of this. Run from the repository root:
    python3 tools/tok_expected.py
"""
import struct
import sys

import regex

VOCAB = "tests/fixtures/vocab/"

# ---- GGUF metadata -----------------------------------------------------------


def gguf_meta(path):
    """Key/value metadata of a GGUF v2/v3 file (tensors are not needed)."""
    data = open(path, "rb").read()
    pos = 0
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize("<" + fmt)
        return v

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    if data[:4] != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    pos = 4
    take("I")
    take("Q")
    n_kv = take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    return meta


def read_vectors(name):
    """llama.cpp's .inp/.out pair: texts separated by a separator line (the
    newline before each separator is not part of the text) and ids."""
    inp = open(VOCAB + name + ".inp", encoding="utf-8").read()
    texts = inp.split("\n__ggml_vocab_test__\n")
    if texts[-1] == "":
        texts.pop()
    outs = [[int(x) for x in line.split()] for line in open(VOCAB + name + ".out").read().split("\n")[:len(texts)]]
    return list(zip(texts, outs))


# ---- Hugging Face BPE ----------------------------------------------------------


def hf_bpe(meta, digits):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    toks = meta["tokenizer.ggml.tokens"]
    types = meta["tokenizer.ggml.token_type"]
    vocab = {t: i for i, t in enumerate(toks)}
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if digits:
        tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    else:
        tk.pre_tokenizer = byte_level
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(toks, types) if ty == 3])
    return lambda text: tk.encode(text, add_special_tokens=False).ids


# ---- SentencePiece ---------------------------------------------------------------


def spm(meta):
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as pb

    toks = meta["tokenizer.ggml.tokens"]
    scores = meta["tokenizer.ggml.scores"]
    types = meta["tokenizer.ggml.token_type"]
    unk = meta.get("tokenizer.ggml.unknown_token_id", 0)
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(toks)
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = unk
    m.trainer_spec.bos_id = meta.get("tokenizer.ggml.bos_token_id", -1)
    m.trainer_spec.eos_id = meta.get("tokenizer.ggml.eos_token_id", -1)
    m.trainer_spec.pad_id = -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    # GGUF numbers token types as SentencePiece does. SentencePiece wants a
    # single UNKNOWN piece: the others (Phi-3's padding) become CONTROL, which
    # text can never produce either.
    for i, (t, s, ty) in enumerate(zip(toks, scores, types)):
        p = m.pieces.add()
        p.piece = t
        p.score = s
        p.type = 2 if i == unk else (3 if ty == 2 else ty)
    sp = sentencepiece.SentencePieceProcessor(model_proto=m.SerializeToString())
    return lambda text: sp.encode(text)


# ---- pre-tokenizer splits ------------------------------------------------------

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
CI = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
LLAMA3 = CI + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = CI + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CJK = "[一-龥ࠀ-一가-\ud7ff]+"
DS_LLM_LETTERS = (
    "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝ"
    "\u1f5f-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌ\u1fd0-\u1fd3\u1fd6-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄ"
    "Ⰰ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃")
BLOOM = " ?[^(\\s|.,!?…。，、।۔،)]+"
CASED = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
UPPER = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
PRE = {
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
    "gpt-2": [GPT2],
    "llama-bpe": [LLAMA3],
    "dbrx": [LLAMA3],
    "qwen2": [QWEN2],
    "deepseek-llm": ["[\r\n]", r"\s?[" + DS_LLM_LETTERS + "]+", r"\s?[!-/:-~！-／：-～‘-‟　-。]+", r"\s+$", CJK,
                     r"\p{N}+"],
    "deepseek-coder": ["[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", CJK, r"\p{N}"],
    "deepseek-v3": [r"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"],
    "starcoder": [r"\p{N}", GPT2],
    "bloom": [BLOOM],
    "viking": [BLOOM, r"\p{N}"],
    "tekken": [CASED + "|" + UPPER + r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "gpt-4o": [CASED + CI + "?|" + UPPER + CI + r"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "seed-coder": [CI + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"],
    "bailingmoe": [r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"],
}


def split(patterns, text):
    """Byte offsets of piece ends: each pattern splits every piece of the
    previous one into matches and the text between them."""
    pieces = [text] if text else []
    for pat in patterns:
        rx = regex.compile(pat)
        nxt = []
        for p in pieces:
            last = 0
            for m in rx.finditer(p):
                if m.end() == m.start():
                    continue
                if m.start() > last:
                    nxt.append(p[last:m.start()])
                nxt.append(m.group())
                last = m.end()
            if last < len(p):
                nxt.append(p[last:])
        pieces = nxt
    ends, off = [], 0
    for p in pieces:
        off += len(p.encode("utf-8"))
        ends.append(off)
    return ends


# ---- texts ---------------------------------------------------------------------

TEXTS = [
    "Hello world",
    " Hello World!",
    "  two leading spaces",
    "trailing spaces   ",
    "\t\ttabs\n\n\nnewlines\r\n",
    "I'm sure you're right, he'll come, she'd say it's what we've got.",
    "DON'T SHOUT: 'S 'T 'RE 'VE 'M 'LL 'D, ''quoted''",
    "int main(void) {\n    return 0; // comment\n}\n",
    "def square(x):\n\treturn x**2  # docs\n\n\nclass A(B):\n    pass\n",
    "if (a<=b && c!=d) { x += 1; } else { y->z = arr[3]; }",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n",
    "1234567890 3.14159 1e-10 0x1F 12,345,678 1 12 123 1234 12345",
    "我想在apple工作1314151天～",
    "こんにちは世界、カタカナとひらがな。",
    "한국어 텍스트입니다",
    "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
    "a    b     c\n   \n   \n",
    "\u3000\u3000全角スペース",
    "a\u00a0b\u2028c\u180ed\u2009e",
    "café naïve e\u0301 résumé Ångström",
    "नमस्ते दुनिया",
    "مرحبا بالعالم ١٢٣",
    "สวัสดีชาวโลก",
    "!!!!!! ??? ... ''''''```````\"\"\"\"...... ------=======",
    "«quotes» “curly” ‘single’ — dash…",
    "ＡＢＣ！？ｘｙｚ１２３",
    "Ωmega ΑΒΓ αβγ Привет мир Ѐ",
    "K Kelvin Å Ω ά ώ",
    "   ",
    "\n",
    "w048 7tuijk dsdfhu",
    "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～",
    "path/to/file.c:42: error: 'foo' undeclared\n",
    "https://example.com/a?b=c&d=e#frag",
    "  \t  mixed\t \twhite\u000bspace\u000c",
    "CamelCaseIdentifier snake_case_name SCREAMING_CASE mixedUPPERlower",
    "x = [1, 2, 3]; y = {'k': \"v\"}; z = (a, b)",
    "$var @decorator %mod ^xor ~not |pipe `tick` <tag> =eq +plus",
]

# SentencePiece keeps a literal U+2581 as a space, octet as bytes (see tokenizer.h);
# keep it out of the texts compared with sentencepiece.
SPM_TEXTS = [t for t in TEXTS if "\u2581" not in t]


def check(name, encode):
    bad = 0
    for i, (text, ids) in enumerate(read_vectors(name)):
        got = encode(text)
        if got != ids:
            bad += 1
            print(f"{name} case {i} {text!r}: reference gives {got}, vector says {ids}", file=sys.stderr)
    if bad:
        sys.exit(f"{name}: this script disagrees with llama.cpp on {bad} cases; not writing fixtures")
    print(f"{name}: reference implementation reproduces all llama.cpp vectors")


def write_expected(path, encode, texts):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# generated by tools/tok_expected.py: hex UTF-8 text, TAB, expected token ids (no BOS/EOS)\n")
        for t in texts:
            f.write(t.encode("utf-8").hex() + "\t" + " ".join(str(i) for i in encode(t)) + "\n")
    print("wrote", path)


def main():
    check("ggml-vocab-gpt-2.gguf", hf_bpe(gguf_meta(VOCAB + "ggml-vocab-gpt-2.gguf"), digits=False))
    check("ggml-vocab-llama-spm.gguf", spm(gguf_meta(VOCAB + "ggml-vocab-llama-spm.gguf")))
    write_expected(VOCAB + "ggml-vocab-starcoder.gguf.expected",
                   hf_bpe(gguf_meta(VOCAB + "ggml-vocab-starcoder.gguf"), digits=True), TEXTS)
    write_expected(VOCAB + "ggml-vocab-phi-3.gguf.expected", spm(gguf_meta(VOCAB + "ggml-vocab-phi-3.gguf")),
                   SPM_TEXTS)
    path = VOCAB + "pre-split.expected"
    with open(path, "w", encoding="utf-8") as f:
        f.write("# generated by tools/tok_expected.py: pre-tokenizer, TAB, hex UTF-8 text, TAB, piece end offsets\n")
        for name, pats in PRE.items():
            for t in TEXTS:
                f.write(name + "\t" + t.encode("utf-8").hex() + "\t" + " ".join(str(e) for e in split(pats, t)) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
