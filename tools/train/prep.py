"""prep.py - corpus, tokenizer and token streams for the embedded model.

Run by train.py as a separate process, so that it works on the CPUs while the
main process compiles the model on the GPU. Writes into WORK:
  tokenizer.json      byte-level BPE (HF tokenizers), GPT-2 split regex, no prefix space
  train.bin, val.bin  uint16 token streams; every sample starts with <|endoftext|>
  val_fim.npz         fill-in-the-middle validation samples (tokens, lengths, middle start)
  probe.bin           a first train stream of --probe-mb of documents, written as soon as the
                      tokenizer exists: train.py compares the candidate shapes on it
  snippets.json       held-out snippets (text, source, license, ids) for octet's tests
  sft.bin, sft_mask.bin, sft_starts.npy (and sft_val.*)
                      supervised fine-tuning samples (sft.py) from the train (val) documents:
                      uint16 tokens, uint8 1 where the token is trained on, int64 sample starts
  sources.tsv         what the corpus is made of: split, source, package, license, files, bytes
  prep.json           sizes and timings
Training samples are the documents left to right, plus for a share of them
(fim_rate) one fill-in-the-middle sample of an excerpt, in StarCoder's PSM
order: <|endoftext|><|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M, after
which the next sample's <|endoftext|> teaches the model where M ends.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import sft  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|im_start|>", "<|im_end|>"]
FIM_WINDOW = 4000  # characters of a document one FIM sample is cut from


def log(msg):
    print(f"[prep {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train_tokenizer(docs, vocab_size, sample_mb, rng):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    order = list(range(len(docs)))
    rng.shuffle(order)
    texts, total = [], 0
    for i in order:
        if total >= sample_mb * 1e6:
            break
        texts.append(docs[i]["text"])
        total += len(docs[i]["text"])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, f"special token {s} is not id {i}"
    return tok, total


def encode_many(tok, texts):
    enc = tok.encode_batch_fast if hasattr(tok, "encode_batch_fast") else tok.encode_batch
    return [np.asarray(e.ids, dtype=np.uint16) for e in enc(texts, add_special_tokens=False)]


def fim_split(text, rng):
    """(prefix, middle, suffix) of an excerpt of TEXT; the middle is 1..1000 characters, log-uniform."""
    if len(text) > FIM_WINDOW:
        start = rng.randrange(0, len(text) - FIM_WINDOW)
        start = text.rfind("\n", 0, start) + 1
        end = text.rfind("\n", start, start + FIM_WINDOW) + 1 or start + FIM_WINDOW
        text = text[start:end]
    n = len(text)
    m = int(math.exp(rng.uniform(0, math.log(max(2, min(1000, n // 2))))))
    s = rng.randrange(0, n - m + 1)
    return text[:s], text[s:s + m], text[s + m:]


def build_stream(tok, docs, fim_rate, rng, chunk=4000):
    """Samples (left to right, and FIM for a share of documents), shuffled, as one uint16 stream."""
    eot, pre, suf, mid = (np.array([i], dtype=np.uint16) for i in range(4))
    samples = []
    n_fim = 0
    for c0 in range(0, len(docs), chunk):
        part = docs[c0:c0 + chunk]
        texts = [d["text"] for d in part]
        fims = []
        for d in part:
            if rng.random() < fim_rate:
                p, m, s = fim_split(d["text"], rng)
                fims.append(len(texts))
                texts += [p, s, m]
        ids = encode_many(tok, texts)
        for i in range(len(part)):
            samples.append(np.concatenate([eot, ids[i]]))
        for j in fims:
            samples.append(np.concatenate([eot, pre, ids[j], suf, ids[j + 1], mid, ids[j + 2]]))
            n_fim += 1
    rng.shuffle(samples)
    return (np.concatenate(samples) if samples else np.zeros(0, np.uint16)), n_fim


def build_val_fim(tok, docs, n, ctx, rng):
    toks = np.zeros((n, ctx), dtype=np.int32)
    lens = np.zeros(n, dtype=np.int32)
    mids = np.zeros(n, dtype=np.int32)
    k = 0
    for d in docs:
        if k == n:
            break
        p, m, s = fim_split(d["text"], rng)
        ip, isf, im = encode_many(tok, [p, s, m])
        seq = np.concatenate([[0, 1], ip, [2], isf, [3], im, [0]]).astype(np.int32)
        if len(seq) > ctx or len(im) == 0:
            continue
        toks[k, :len(seq)] = seq
        lens[k] = len(seq)
        mids[k] = 2 + len(ip) + 1 + len(isf)  # index of <|fim_middle|>: predictions after it are scored
        k += 1
    return toks[:k], lens[:k], mids[:k]


def pick_snippets(docs, rng, n_py, n_c, snippet_chars):
    """Excerpts of about --snippet-chars characters from distinct held-out packages, cut at line boundaries."""
    pool = sorted((d for d in docs if len(d["text"]) >= snippet_chars + 600), key=lambda d: d["path"])
    rng.shuffle(pool)
    out = []
    for kind, want in (("py", n_py), ("c", n_c)):
        cands = [d for d in pool if d["kind"] == kind]
        chosen, used_pkgs = [], set()
        for allow_repeat in (False, True):
            for d in cands:
                if len(chosen) == want:
                    break
                if any(d is c for c in chosen) or (not allow_repeat and d["package"] in used_pkgs):
                    continue
                chosen.append(d)
                used_pkgs.add(d["package"])
        for d in chosen:
            t = d["text"]
            start = t.find("\n", rng.randrange(0, len(t) - snippet_chars)) + 1
            end = t.find("\n", start + snippet_chars)
            end = len(t) if end < 0 else end + 1
            text = t[start:end].lstrip("\n")
            out.append({"kind": kind, "package": d["package"], "dist": d["dist"], "version": d["version"],
                        "license": d["license"], "path": d["path"], "text": text})
    for i, s in enumerate(out):
        s["name"] = f"{i:02d}-{s['kind']}-{s['package'].replace('.', '_')}.txt"
    return out


def _doc_samples(args):
    doc, seed = args
    try:
        return sft.doc_samples(doc, seed)
    except (RecursionError, MemoryError, ValueError, SyntaxError):
        return []


def sft_jobs(docs, seed):
    """The work items of sft.doc_samples for DOCS: each document is given another file of its distribution
    (of its project, for the C corpus) in its language as the extra retrieved context of its refactors and
    chat questions."""
    last = {}
    jobs = []
    for d in docs:
        j = {k: d[k] for k in ("text", "kind", "path", "rel", "package")}
        o = last.get((d["kind"], d["dist"]))
        if o is not None:
            j["other"] = o
        if len(d["text"]) < 20000:
            last[(d["kind"], d["dist"])] = (d["rel"], d["text"])
        jobs.append((j, seed))
    return jobs


def encode_sft(tok, samples, ctx, rng):
    """Samples -> (uint16 tokens, uint8 trained mask, int64 starts, kept counts per kind).

    Text pieces are tokenized one by one (a prompt is tokenized before its reply is
    generated); special tokens become their ids. Samples longer than CTX are dropped."""
    sid = {s: i for i, s in enumerate(SPECIALS)}
    texts = [t for _, pieces in samples for t, _ in pieces if t not in sid]
    enc = iter(encode_many(tok, texts))
    seqs, counts = [], {}
    for kind, pieces in samples:
        ids, mask = [], []
        for t, trained in pieces:
            part = np.array([sid[t]], np.uint16) if t in sid else next(enc)
            ids.append(part)
            mask.append(np.full(len(part), 1 if trained else 0, np.uint8))
        ids, mask = np.concatenate(ids), np.concatenate(mask)
        if len(ids) > ctx or not mask.any():
            continue
        seqs.append((ids, mask))
        counts[kind] = counts.get(kind, 0) + 1
    rng.shuffle(seqs)
    starts = np.cumsum([0] + [len(i) for i, _ in seqs[:-1]]).astype(np.int64) if seqs else np.zeros(0, np.int64)
    pad = np.zeros(ctx + 1, np.uint16)
    toks = np.concatenate([i for i, _ in seqs] + [pad])
    masks = np.concatenate([m for _, m in seqs] + [pad.astype(np.uint8)])
    return toks, masks, starts, counts


def write_sft(work, name, toks, masks, starts):
    toks.tofile(os.path.join(work, f"{name}.bin"))
    masks.tofile(os.path.join(work, f"{name}_mask.bin"))
    np.save(os.path.join(work, f"{name}_starts.npy"), starts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab", type=int, default=16384)
    ap.add_argument("--max-train-mb", type=float, default=600)
    ap.add_argument("--max-val-mb", type=float, default=12)
    ap.add_argument("--c-share", type=float, default=0.3, help="largest share of C/C++ in the training text")
    ap.add_argument("--tok-sample-mb", type=float, default=60)
    ap.add_argument("--fim-rate", type=float, default=0.25)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--n-snippets-py", type=int, default=5)
    ap.add_argument("--n-snippets-c", type=int, default=3)
    ap.add_argument("--snippet-chars", type=int, default=3500)
    ap.add_argument("--probe-mb", type=float, default=40, help="text of the early stream the shapes are compared on")
    ap.add_argument("--sft-max-val", type=int, default=3000, help="most held-out SFT samples")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--c-corpus", default=None,
                    help="the ccorpus/ folder of tools/train/ccorpus.sh's archive: C sources of permissive projects")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    t0 = time.time()
    times = {}

    cands, excluded = data.scan(log, c_corpus=a.c_corpus)
    train_docs, val_docs, table = data.load(cands, a.seed, a.max_train_mb, a.max_val_mb, a.c_share, log)
    times["collect"] = time.time() - t0
    with open(os.path.join(a.work, "sources.tsv"), "w") as f:
        f.write("split\tsource\tpackage\tlicense\tfiles\tbytes\n")
        for row in table:
            f.write("\t".join(str(x) for x in row) + "\n")
    cand_bytes = {}
    for c in cands:
        k = (c.split, c.kind)
        cand_bytes[k] = cand_bytes.get(k, 0) + c.size
    log("available (before caps): " + ", ".join(f"{s}/{k} {b / 1e6:.0f} MB" for (s, k), b in sorted(cand_bytes.items())))
    for reason, (n, b) in sorted(excluded.items(), key=lambda kv: -kv[1][1])[:25]:
        log(f"excluded {n:6d} files {b / 1e6:8.1f} MB: {reason}")
    for row in table[:30]:
        log("used " + " | ".join(str(x) for x in row[:4]) + f" | {row[4]} files | {row[5] / 1e6:.1f} MB")

    # SFT samples are made in worker processes forked now, before the tokenizer's threads exist,
    # while this process trains the tokenizer and encodes the streams
    import multiprocessing as mp

    t3 = time.time()
    pool = mp.get_context("fork").Pool(a.workers)
    sft_train_job = pool.map_async(_doc_samples, sft_jobs(train_docs, a.seed), chunksize=8)
    sft_val_job = pool.map_async(_doc_samples, sft_jobs(val_docs, a.seed), chunksize=8)
    pool.close()

    rng = random.Random(a.seed)
    t1 = time.time()
    tok, sample_chars = train_tokenizer(train_docs, a.vocab, a.tok_sample_mb, rng)
    tok.save(os.path.join(a.work, "tokenizer.json"))
    times["tokenizer"] = time.time() - t1
    log(f"tokenizer: vocab {tok.get_vocab_size()} from {sample_chars / 1e6:.1f} MB in {times['tokenizer']:.1f} s")

    snippets = pick_snippets(val_docs, random.Random(a.seed + 1), a.n_snippets_py, a.n_snippets_c, a.snippet_chars)
    for s in snippets:
        s["ids"] = tok.encode(s["text"], add_special_tokens=False).ids
        assert tok.decode(s["ids"], skip_special_tokens=False) == s["text"], f"{s['name']}: decode(encode) differs"
        assert len(s["ids"]) + 1 <= a.ctx, f"{s['name']}: {len(s['ids'])} tokens do not fit the context"
    with open(os.path.join(a.work, "snippets.json"), "w") as f:
        json.dump(snippets, f, indent=1)

    t2 = time.time()
    val, _ = build_stream(tok, val_docs, 0.0, random.Random(a.seed + 2))
    val.tofile(os.path.join(a.work, "val.bin"))
    prng = random.Random(a.seed + 5)
    probe_docs, pc = [], 0
    for i in prng.sample(range(len(train_docs)), len(train_docs)):
        if pc >= a.probe_mb * 1e6:
            break
        probe_docs.append(train_docs[i])
        pc += len(train_docs[i]["text"])
    probe, _ = build_stream(tok, probe_docs, a.fim_rate, random.Random(a.seed + 6))
    probe.tofile(os.path.join(a.work, "probe.bin.tmp"))
    os.replace(os.path.join(a.work, "probe.bin.tmp"), os.path.join(a.work, "probe.bin"))
    times["probe"] = time.time() - t2
    log(f"probe stream: {probe.size / 1e6:.1f} M tokens from {pc / 1e6:.0f} MB in {times['probe']:.1f} s")

    s_train = [x for r in sft_train_job.get() for x in r]
    s_val = [x for r in sft_val_job.get() for x in r]
    pool.join()
    random.Random(a.seed + 7).shuffle(s_val)
    s_val = s_val[:a.sft_max_val]
    times["sft_extract"] = time.time() - t3
    st, sm, ss, sft_counts = encode_sft(tok, s_train, a.ctx, random.Random(a.seed + 8))
    vt_, vm_, vs_, sft_val_counts = encode_sft(tok, s_val, a.ctx, random.Random(a.seed + 9))
    write_sft(a.work, "sft", st, sm, ss)
    write_sft(a.work, "sft_val", vt_, vm_, vs_)
    with open(os.path.join(a.work, "sft_examples.txt"), "w") as f:
        seen = set()
        for kind, pieces in s_val:
            if kind in seen:
                continue
            seen.add(kind)
            f.write(f"===== {kind} (reply in [[ ]])\n")
            f.write("".join(f"[[{t}]]" if tr else t for t, tr in pieces) + "\n")
    times["sft"] = time.time() - t3
    log(f"sft: {len(ss)} train samples, {int(sm.sum()) / 1e6:.1f} M trained tokens of {st.size / 1e6:.1f} M "
        f"({sft_counts}); held out {len(vs_)} samples ({sft_val_counts}); ready {times['sft']:.1f} s after the "
        f"workers started ({times['sft_extract']:.1f} s until all samples were made)")
    t2 = time.time()
    vt, vl, vm = build_val_fim(tok, val_docs, 256, a.ctx, random.Random(a.seed + 3))
    np.savez(os.path.join(a.work, "val_fim.npz"), tokens=vt, lens=vl, mids=vm)
    train, n_fim = build_stream(tok, train_docs, a.fim_rate, random.Random(a.seed + 4))
    tmp = os.path.join(a.work, "train.bin.tmp")
    train.tofile(tmp)
    times["encode"] = time.time() - t2
    train_chars = sum(len(d["text"]) for d in train_docs)
    val_chars = sum(len(d["text"]) for d in val_docs)
    stats = {
        "train_docs": len(train_docs), "val_docs": len(val_docs),
        "train_chars": train_chars, "val_chars": val_chars,
        "train_tokens": int(train.size), "val_tokens": int(val.size), "train_fim_samples": n_fim,
        "val_fim_samples": int(len(vt)),
        "val_chars_per_token": val_chars / max(1, val.size),
        "tokenizer_sample_chars": sample_chars, "vocab": tok.get_vocab_size(),
        "probe_tokens": int(probe.size), "sft_samples": len(ss), "sft_tokens": int(st.size),
        "sft_trained_tokens": int(sm.sum()), "sft_counts": sft_counts, "sft_val_samples": len(vs_),
        "sft_val_counts": sft_val_counts, "sft_val_trained_tokens": int(vm_.sum()),
        "train_py_chars": sum(len(d["text"]) for d in train_docs if d["kind"] == "py"),
        "train_c_chars": sum(len(d["text"]) for d in train_docs if d["kind"] == "c"),
        "excluded": {k: v for k, v in excluded.items()},
        "times": times, "args": vars(a),
    }
    with open(os.path.join(a.work, "prep.json"), "w") as f:
        json.dump(stats, f, indent=1)
    os.replace(tmp, os.path.join(a.work, "train.bin"))  # last: its presence means prep is complete
    log(f"encode: train {train.size / 1e6:.1f} M tokens ({n_fim} FIM samples), val {val.size / 1e6:.2f} M tokens, "
        f"{times['encode']:.1f} s; {val_chars / max(1, val.size):.2f} chars/token on val")


if __name__ == "__main__":
    main()
