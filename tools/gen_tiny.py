#!/usr/bin/env python3
"""gen_tiny.py - random-weight llama and qwen2 models in GGUF, for tests and benchmarks.

The weights are drawn (seeded) in Hugging Face layout and converted exactly as
llama.cpp's convert_hf_to_gguf.py converts them: for llama the rows of the Q
and K projections are permuted so that GGUF's RoPE rotates adjacent pairs
(q with n_head, k with n_head_kv); qwen2 is stored as is and rotates NeoX
halves. Every file carries a real byte-level BPE tokenizer (the 256 GPT-2 byte
symbols, merges learned from a small code sample, special tokens, a chat
template) so tokenizer and chat code can run on it too.

  gen_tiny.py --variant NAME --out FILE.gguf [--seed S]   one tiny test model
  gen_tiny.py --list                                      the tiny variants
  gen_tiny.py --shape qwen2.5-0.5b --out FILE.gguf [--type f16|bf16|f32|q8_0]
  gen_tiny.py --shape qwen2.5-1.5b --out FILE.gguf [--type ...]
  gen_tiny.py --shape qwen2.5-7b --out FILE.gguf [--type ...] [--fill fast]
      random model of the real Qwen2.5-Coder shape (~1 GB / ~3 GB / ~15 GB at
      f16, not committed; for speed benchmarks). Its vocabulary has Qwen's ids
      (151936, or 152064 for 7B): the byte symbols, synthetic merged tokens,
      Qwen's special tokens at their real ids and [PAD] fillers.
      --fill fast cuts every tensor from one pool of normal draws (windows at
      random offsets, scaled to the tensor's std) and writes the tensors in
      parallel on all cores, so the 15 GB model takes seconds rather than many
      minutes; the weights have the same scales but are not independent draws.

The reference logits of the tiny models come from tools/ref_forward.py, which
reads the GGUF back and does not use this file's conventions.
"""

import argparse
import multiprocessing
import os
import re
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_writer import GGMLType, GGUFValueType as VT, GGUFWriter, encode_tensor, tensor_nbytes  # noqa: E402
from hf_gguf import gpt2_bytes  # noqa: E402

# ---------------------------------------------------------------------------
# tokenizer

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_UNUSED = 1, 3, 5  # tokenizer.ggml.token_type values


# A little code in several languages: BPE merges are learned from it so the
# tiny vocabularies have realistic multi-byte tokens (" return", "    ", "()").
CODE_SAMPLE = r'''
def fib(n):
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from an empty stack")
        return self.items.pop()


int sum(const int *v, size_t n)
{
    int s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static int parse_line(const char *line, struct entry *out)
{
    if (line == NULL || out == NULL)
        return -1;
    return sscanf(line, "%d %d", &out->key, &out->value) == 2 ? 0 : -1;
}

function render(items) {
    return items.map((item) => `<li>${item.name}</li>`).join("\n");
}

fn main() {
    let v: Vec<i32> = (0..10).collect();
    println!("{:?}", v.iter().sum::<i32>());
}
'''

SPLIT_RE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def learn_merges(text, n_merges, byte_map):
    """Byte-level BPE training on TEXT: the N_MERGES most frequent pairs, ties broken by the pair's text."""
    words = {}
    for w in SPLIT_RE.findall(text):
        sym = tuple(byte_map[b] for b in w.encode("utf-8"))
        words[sym] = words.get(sym, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for sym, cnt in words.items():
            for a, b in zip(sym, sym[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + cnt
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for sym, cnt in words.items():
            out = []
            i = 0
            while i < len(sym):
                if i + 1 < len(sym) and (sym[i], sym[i + 1]) == best:
                    out.append(sym[i] + sym[i + 1])
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + cnt
        words = merged
    return merges


def synthetic_merges(n, byte_map, rng):
    """N distinct merged tokens (each a known token + one printable byte symbol) for big vocabularies."""
    base = [byte_map[b] for b in range(0x21, 0x7F)] + [byte_map[0x20], byte_map[0x0A]]
    known = set(byte_map.values())
    short = list(base)
    merges = []
    while len(merges) < n:
        a = short[int(rng.integers(len(short)))]
        b = base[int(rng.integers(len(base)))]
        t = a + b
        if t in known:
            continue
        known.add(t)
        merges.append((a, b))
        if len(t) < 8:
            short.append(t)
    return merges


TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "chat" / "templates"


def chat_template(name):
    """A chat template as the model ships it in tokenizer_config.json (see tests/fixtures/chat/README.md)."""
    return (TEMPLATE_DIR / f"{name}.jinja").read_text(encoding="utf-8")


QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]
TINY_SPECIALS = {
    "llama": ["<|begin_of_text|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
              "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
              "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
}


def add_tokenizer(w, arch, tokens, types, merges, template):
    ids = {t: i for i, t in enumerate(tokens)}
    w.add_kv("tokenizer.ggml.model", "gpt2")
    w.add_kv("tokenizer.ggml.pre", "gpt-2" if arch == "llama" else "qwen2")
    w.add_kv("tokenizer.ggml.tokens", tokens, VT.ARRAY, VT.STRING)
    w.add_kv("tokenizer.ggml.token_type", types, VT.ARRAY, VT.INT32)
    w.add_kv("tokenizer.ggml.merges", [a + " " + b for a, b in merges], VT.ARRAY, VT.STRING)
    if arch == "llama":
        w.add_kv("tokenizer.ggml.bos_token_id", ids["<|begin_of_text|>"], VT.UINT32)
        w.add_kv("tokenizer.ggml.eos_token_id", ids["<|eot_id|>"], VT.UINT32)
        w.add_kv("tokenizer.ggml.add_bos_token", True)
    else:
        w.add_kv("tokenizer.ggml.eos_token_id", ids["<|im_end|>"], VT.UINT32)
        w.add_kv("tokenizer.ggml.padding_token_id", ids["<|endoftext|>"], VT.UINT32)
        w.add_kv("tokenizer.ggml.bos_token_id", ids["<|endoftext|>"], VT.UINT32)
        w.add_kv("tokenizer.ggml.add_bos_token", False)
    w.add_kv("tokenizer.chat_template", template)


def tiny_vocab(arch):
    symbols, byte_map = gpt2_bytes()
    merges = learn_merges(CODE_SAMPLE, 40, byte_map)
    tokens = symbols + [a + b for a, b in merges] + TINY_SPECIALS[arch]
    types = [TOKEN_NORMAL] * (len(tokens) - len(TINY_SPECIALS[arch])) + [TOKEN_CONTROL] * len(TINY_SPECIALS[arch])
    return tokens, types, merges


def qwen_vocab(n_vocab, rng):
    """Qwen2.5's id layout: 151643 BPE tokens, 22 specials, [PADn] up to n_vocab."""
    symbols, byte_map = gpt2_bytes()
    n_bpe = 151643
    merges = synthetic_merges(n_bpe - len(symbols), byte_map, rng)
    tokens = symbols + [a + b for a, b in merges] + QWEN_SPECIALS
    types = [TOKEN_NORMAL] * n_bpe + [TOKEN_CONTROL] * len(QWEN_SPECIALS)
    for i in range(len(tokens), n_vocab):
        tokens.append(f"[PAD{i}]")
        types.append(TOKEN_UNUSED)
    return tokens, types, merges


# ---------------------------------------------------------------------------
# models

def make_cfg(arch, n_embd, n_layer, n_head, n_head_kv, n_ff, tied, wtype, rope_scaling=None,
             alignment=32, n_ctx=256):
    return dict(arch=arch, n_embd=n_embd, n_layer=n_layer, n_head=n_head, n_head_kv=n_head_kv, n_ff=n_ff,
                tied=tied, wtype=wtype, rope_scaling=rope_scaling, alignment=alignment, n_ctx=n_ctx,
                eps=1e-5 if arch == "llama" else 1e-6, rope_base=10000.0 if arch == "llama" else 1000000.0,
                bias=arch == "qwen2")


VARIANTS = {
    # plain multi-head attention, separate output matrix, everything f32
    "llama_mha_f32": make_cfg("llama", 64, 2, 4, 4, 96, False, GGMLType.F32),
    # grouped-query attention 8/2, tied embeddings, f16 matrices
    "llama_gqa_f16": make_cfg("llama", 128, 2, 8, 2, 96, True, GGMLType.F16),
    # qwen2 with q/k/v biases, GQA 4/2, tied, f32, three layers
    "qwen2_gqa_f32": make_cfg("qwen2", 64, 3, 4, 2, 96, True, GGMLType.F32),
    # qwen2 with biases, multi-head, separate output matrix, bf16 matrices
    "qwen2_mha_bf16_untied": make_cfg("qwen2", 64, 2, 4, 4, 128, False, GGMLType.BF16),
    # linear RoPE scaling (factor 2), Q8_0 matrices, GQA 4/2, 64-byte alignment
    "llama_rope_linear_q8_0": make_cfg("llama", 64, 2, 4, 2, 128, False, GGMLType.Q8_0,
                                       rope_scaling=("linear", 2.0), alignment=64),
}

SHAPES = {
    "qwen2.5-0.5b": make_cfg("qwen2", 896, 24, 14, 2, 4864, True, GGMLType.F16, n_ctx=32768),
    "qwen2.5-1.5b": make_cfg("qwen2", 1536, 28, 12, 2, 8960, True, GGMLType.F16, n_ctx=32768),
    "qwen2.5-7b": make_cfg("qwen2", 3584, 28, 28, 4, 18944, False, GGMLType.F16, n_ctx=32768),
}
SHAPE_VOCAB = {"qwen2.5-0.5b": 151936, "qwen2.5-1.5b": 151936, "qwen2.5-7b": 152064}

TYPE_NAMES = {"f32": GGMLType.F32, "f16": GGMLType.F16, "bf16": GGMLType.BF16, "q8_0": GGMLType.Q8_0}
FILE_TYPE = {GGMLType.F32: 0, GGMLType.F16: 1, GGMLType.Q8_0: 7, GGMLType.BF16: 32}


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: HF rotate-half rows -> adjacent-pair rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class Draw:
    """Seeded draws, one independent stream per tensor name (order of generation does not matter)."""

    def __init__(self, seed):
        self.seed = seed

    def normal(self, name, shape, std, mean=0.0):
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        a = rng.standard_normal(shape, dtype=np.float32)
        a *= np.float32(std)
        if mean:
            a += np.float32(mean)
        return a


def hf_tensors(cfg, n_vocab):
    """(HF name, shape, std, mean) of every weight, in HF layout; the values are N(mean, std^2).

    Scales keep a random model numerically sane: projections ~ N(0, g/sqrt(fan_in))
    so activations stay O(1); Q/K a little larger so attention is not uniform;
    the output/embedding matrix gives logits with a spread of a few units, so
    top-1 comparisons mean something; norms 1 +- 0.1; biases +- 0.2.
    """
    E, F, H, KV = cfg["n_embd"], cfg["n_ff"], cfg["n_head"], cfg["n_head_kv"]
    hd = E // H
    out = []

    def mat(name, rows, cols, std):
        out.append((name, (rows, cols), std, 0.0))

    def vec(name, n, std, mean=0.0):
        out.append((name, (n,), std, mean))

    mat("model.embed_tokens.weight", n_vocab, E, 2.5 / np.sqrt(E))
    for i in range(cfg["n_layer"]):
        p = f"model.layers.{i}."
        vec(p + "input_layernorm.weight", E, 0.1, 1.0)
        mat(p + "self_attn.q_proj.weight", H * hd, E, 1.5 / np.sqrt(E))
        mat(p + "self_attn.k_proj.weight", KV * hd, E, 1.5 / np.sqrt(E))
        mat(p + "self_attn.v_proj.weight", KV * hd, E, 1.0 / np.sqrt(E))
        if cfg["bias"]:
            vec(p + "self_attn.q_proj.bias", H * hd, 0.2)
            vec(p + "self_attn.k_proj.bias", KV * hd, 0.2)
            vec(p + "self_attn.v_proj.bias", KV * hd, 0.2)
        mat(p + "self_attn.o_proj.weight", E, H * hd, 1.0 / np.sqrt(H * hd))
        vec(p + "post_attention_layernorm.weight", E, 0.1, 1.0)
        mat(p + "mlp.gate_proj.weight", F, E, 1.0 / np.sqrt(E))
        mat(p + "mlp.up_proj.weight", F, E, 1.0 / np.sqrt(E))
        mat(p + "mlp.down_proj.weight", E, F, 1.0 / np.sqrt(F))
    vec("model.norm.weight", E, 0.1, 1.0)
    if not cfg["tied"]:
        mat("lm_head.weight", n_vocab, E, 2.5 / np.sqrt(E))
    return out


def gguf_name(hf):
    """HF tensor name -> GGUF tensor name (llama.cpp's tensor map for llama/qwen2)."""
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if hf in fixed:
        return fixed[hf]
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", hf)
    sub = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
           "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
           "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
           "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
           "self_attn.v_proj.bias": "attn_v.bias", "mlp.gate_proj.weight": "ffn_gate.weight",
           "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}[m.group(2)]
    return f"blk.{m.group(1)}.{sub}"


def write_model(path, name, cfg, seed, vocab, fill="normal"):
    tokens, types, merges, template = vocab
    n_vocab = len(tokens)
    arch = cfg["arch"]
    w = GGUFWriter(str(path), alignment=cfg["alignment"])
    w.add_kv("general.architecture", arch)
    w.add_kv("general.name", name)
    w.add_kv("general.file_type", FILE_TYPE[cfg["wtype"]], VT.UINT32)
    if cfg["wtype"] == GGMLType.Q8_0:
        w.add_kv("general.quantization_version", 2, VT.UINT32)
    w.add_kv(f"{arch}.vocab_size", n_vocab, VT.UINT32)
    w.add_kv(f"{arch}.context_length", cfg["n_ctx"], VT.UINT32)
    w.add_kv(f"{arch}.embedding_length", cfg["n_embd"], VT.UINT32)
    w.add_kv(f"{arch}.block_count", cfg["n_layer"], VT.UINT32)
    w.add_kv(f"{arch}.feed_forward_length", cfg["n_ff"], VT.UINT32)
    w.add_kv(f"{arch}.attention.head_count", cfg["n_head"], VT.UINT32)
    w.add_kv(f"{arch}.attention.head_count_kv", cfg["n_head_kv"], VT.UINT32)
    w.add_kv(f"{arch}.attention.layer_norm_rms_epsilon", cfg["eps"], VT.FLOAT32)
    w.add_kv(f"{arch}.rope.freq_base", cfg["rope_base"], VT.FLOAT32)
    w.add_kv(f"{arch}.rope.dimension_count", cfg["n_embd"] // cfg["n_head"], VT.UINT32)
    if cfg["rope_scaling"]:
        w.add_kv(f"{arch}.rope.scaling.type", cfg["rope_scaling"][0])
        w.add_kv(f"{arch}.rope.scaling.factor", cfg["rope_scaling"][1], VT.FLOAT32)
    add_tokenizer(w, arch, tokens, types, merges, template)

    draw = Draw(seed)
    fast = []
    for hf, shape, std, mean in hf_tensors(cfg, n_vocab):
        gname = gguf_name(hf)
        ttype = cfg["wtype"] if len(shape) == 2 else GGMLType.F32  # norms and biases stay f32, as in llama.cpp
        if fill == "fast":
            fast.append((gname, shape, ttype, std, mean))
            w.add_tensor_fn(gname, shape, ttype, _stop_after_header)
            continue
        fn = (lambda n, sh, sd, mu: lambda: draw.normal(n, sh, sd, mu))(hf, shape, std, mean)
        if arch == "llama" and hf.endswith("q_proj.weight"):
            fn = (lambda g: lambda: permute(g(), cfg["n_head"]))(fn)
        elif arch == "llama" and hf.endswith("k_proj.weight"):
            fn = (lambda g: lambda: permute(g(), cfg["n_head_kv"]))(fn)
        w.add_tensor_fn(gname, shape, ttype, fn)
    if fill == "fast":
        write_fast(w, path, fast, seed)
    else:
        w.write()


# ---------------------------------------------------------------------------
# fast fill: the tensor data of multi-GB models, written in parallel

FAST_POOL = 1 << 24    # N(0, 1) values every fast-filled tensor is cut from (64 MB per worker)
FAST_WINDOW = 1 << 12  # elements copied from one random offset of the pool
FAST_CHUNK = 1 << 24   # elements one job writes; fixed, so the bytes do not depend on the core count

_fast = {}  # per worker process: the pool and the open output file


class _HeaderWritten(Exception):
    """Raised by the first tensor's data source: GGUFWriter.write() has put the header on disk by then."""


def _stop_after_header():
    raise _HeaderWritten


def _fast_init(path, seed):
    _fast["pool"] = np.random.default_rng([seed, FAST_POOL]).standard_normal(FAST_POOL + FAST_WINDOW,
                                                                            dtype=np.float32)
    _fast["fd"] = os.open(path, os.O_WRONLY)


def _fast_job(job):
    """Fill elements [start, stop) of one tensor and write their bytes at file offset POS."""
    name, ttype, std, mean, start, stop, pos, seed = job
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), start // FAST_CHUNK])
    pool = _fast["pool"]
    x = np.empty(stop - start, dtype=np.float32)
    offs = rng.integers(0, FAST_POOL, size=-(-len(x) // FAST_WINDOW))
    for k, o in enumerate(offs):
        seg = x[k * FAST_WINDOW:(k + 1) * FAST_WINDOW]
        np.multiply(pool[o:o + len(seg)], np.float32(std), out=seg)
    if mean:
        x += np.float32(mean)
    data = memoryview(encode_tensor(x, ttype))
    while data:
        n = os.pwrite(_fast["fd"], data, pos)
        data = data[n:]
        pos += n
    return stop - start


def write_fast(w, path, tensors, seed):
    """Write W's header with GGUFWriter, then every tensor's data from worker processes (os.pwrite at the
    offsets GGUF's layout gives: each tensor starts on the alignment, the gaps stay zero)."""
    try:
        w.write()
    except _HeaderWritten:
        pass
    data_start = os.path.getsize(path)
    align = w.alignment
    if data_start % align:
        raise RuntimeError(f"{path}: header ends at {data_start}, not on the {align}-byte alignment")
    jobs, off = [], 0
    for name, shape, ttype, std, mean in tensors:
        n = int(np.prod(shape))
        for start in range(0, n, FAST_CHUNK):
            pos = data_start + off + tensor_nbytes((start,), ttype)
            jobs.append((name, ttype, std, mean, start, min(n, start + FAST_CHUNK), pos, seed))
        off = (off + tensor_nbytes(tuple(reversed(shape)), ttype) + align - 1) // align * align
    os.truncate(path, data_start + off)
    jobs.sort(key=lambda j: j[4] - j[5])  # biggest first, for an even spread over the workers
    with multiprocessing.Pool(os.cpu_count(), _fast_init, (str(path), seed)) as workers:
        done = sum(workers.imap_unordered(_fast_job, jobs))
    if done != sum(int(np.prod(t[1])) for t in tensors):
        raise RuntimeError(f"{path}: fast fill wrote {done} elements, the tensors have more")


def variant_seed(name, seed):
    return (zlib.crc32(name.encode()) ^ seed) & 0xFFFFFFFF


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--variant", choices=sorted(VARIANTS), help="tiny test model to write")
    g.add_argument("--shape", choices=sorted(SHAPES), help="full-size random model to write")
    g.add_argument("--list", action="store_true", help="list the tiny variants")
    ap.add_argument("--out", help="output .gguf path")
    ap.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ap.add_argument("--type", choices=sorted(TYPE_NAMES), help="matrix type for --shape (default f16)")
    ap.add_argument("--fill", choices=["normal", "fast"], default="normal",
                    help="for --shape: independent seeded normal draws (default), or windows of one pool "
                         "written in parallel (fast)")
    a = ap.parse_args()
    if a.list:
        for n, c in VARIANTS.items():
            print(f"{n}: {c['arch']} n_embd={c['n_embd']} layers={c['n_layer']} heads={c['n_head']}/"
                  f"{c['n_head_kv']} ff={c['n_ff']} tied={c['tied']} {c['wtype'].name}"
                  + (f" rope {c['rope_scaling'][0]} x{c['rope_scaling'][1]}" if c["rope_scaling"] else ""))
        return 0
    if not a.out:
        ap.error("--out is required")
    if a.variant and a.fill != "normal":
        ap.error("--fill fast is for --shape: the tiny variants keep the draws their reference logits come from")
    if a.variant:
        cfg = VARIANTS[a.variant]
        tokens, types, merges = tiny_vocab(cfg["arch"])
        tmpl = chat_template("llama3" if cfg["arch"] == "llama" else "qwen2.5-coder")
        write_model(a.out, a.variant, cfg, variant_seed(a.variant, a.seed), (tokens, types, merges, tmpl))
    else:
        cfg = dict(SHAPES[a.shape])
        if a.type:
            cfg["wtype"] = TYPE_NAMES[a.type]
        n_vocab = SHAPE_VOCAB[a.shape]
        rng = np.random.default_rng([a.seed, n_vocab])
        tokens, types, merges = qwen_vocab(n_vocab, rng)
        write_model(a.out, f"random {a.shape}", cfg, variant_seed(a.shape, a.seed),
                    (tokens, types, merges, chat_template("qwen2.5-coder")), a.fill)
    return 0


if __name__ == "__main__":
    sys.exit(main())
