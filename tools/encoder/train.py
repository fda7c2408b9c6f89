"""train.py - mine pairs, train the BPE tokenizer and the encoder, export the GGUF, embed the benchmarks.

One process, driven by a wall-clock deadline so that the device call ends in
time: mining (mine.py, all CPUs), tokenizer (HF tokenizers, byte-level BPE),
contrastive training until --train-seconds, validation, GGUF export (Q8_0),
then with the exported (dequantized) weights: the validation figures again,
the fixtures for octet's tests and the embeddings of the benchmark bundles
(tools/bench/rag_dense.py prepare) that were carried along.

Text -> ids (what octet's C side must do, see export.py's keys):
  query: [<|query|>] + BPE(description)[:QUERY_MAX - 1]
  code : [<|code|>]  + BPE(chunk text)[:DOC_MAX - 1]
Loss: InfoNCE, each description against all codes of the batch plus one
BM25-mined hard negative per pair (2B candidates), and each code against the
batch's descriptions, with a learned temperature.

  python3 tools/encoder/train.py --work DIR --out DIR [--train-seconds S] [--bundles DIR]
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import export  # noqa: E402
import mine  # noqa: E402
from model import Config, Encoder  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|query|>", "<|code|>"]
EOT, QTOK, CTOK = 0, 1, 2
QUERY_MAX, DOC_MAX = 64, 256
T0 = time.time()


def log(m):
    print(f"[enc {time.time() - T0:6.1f}s] {m}", flush=True)


def train_tokenizer(texts, vocab):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=SPECIALS,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=tr, length=len(texts))
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i
    return tok


def encode(tok, texts, first, maxlen):
    """(ids int32 (N, maxlen), lens int32): [first] + BPE(text) truncated, zero-padded."""
    enc = tok.encode_batch_fast if hasattr(tok, "encode_batch_fast") else tok.encode_batch
    ids = np.zeros((len(texts), maxlen), dtype=np.int32)
    lens = np.zeros(len(texts), dtype=np.int32)
    for s in range(0, len(texts), 20000):
        for i, e in enumerate(enc(texts[s:s + 20000], add_special_tokens=False)):
            t = [first] + e.ids[:maxlen - 1]
            ids[s + i, :len(t)] = t
            lens[s + i] = len(t)
    return ids, lens


def ids_for(tok, text, first, maxlen):
    return [first] + tok.encode(text, add_special_tokens=False).ids[:maxlen - 1]


def first_sentence(d):
    for sep in (". ", ".\n"):
        i = d.find(sep)
        if 20 <= i:
            return d[:i + 1]
    return d


@torch.no_grad()
def embed(model, ids, lens, dev, bs=1024):
    model.eval()
    out = []
    order = np.argsort(-lens)  # similar lengths together: less padding
    for s in range(0, len(ids), bs):
        sel = order[s:s + bs]
        T = int(lens[sel].max())
        x = torch.from_numpy(ids[sel, :T].astype(np.int64)).to(dev)
        ln = torch.from_numpy(lens[sel].astype(np.int64)).to(dev)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            e = model(x, ln)
        out.append((sel, e.float().cpu().numpy()))
    res = np.zeros((len(ids), model.c.d), dtype=np.float32)
    for sel, e in out:
        res[sel] = e
    model.train()
    return res


def retrieval_eval(qe, ce):
    """recall@1/@5 and MRR@10 of each query's own code among all codes."""
    s = qe @ ce.T
    own = np.diag(s)
    rank = (s > own[:, None]).sum(1) + 1
    return {"n": int(len(qe)), "recall@1": float((rank <= 1).mean()), "recall@5": float((rank <= 5).mean()),
            "mrr@10": float(np.where(rank <= 10, 1.0 / rank, 0).mean())}


def quantize_rows(e):
    """int8 codes and float32 scales per row (absmax / 127): how octet's index stores chunk vectors."""
    sc = np.abs(e).max(1) / 127.0
    sc[sc == 0] = 1.0
    q = np.clip(np.round(e / sc[:, None]), -127, 127).astype(np.int8)
    return q, sc.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bundles", help="folder of rag_dense.py bundles to embed with the exported model")
    ap.add_argument("--train-seconds", type=float, default=150)
    ap.add_argument("--deadline", type=float, default=0, help="absolute time.time() by which training must stop")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--tok-sample", type=int, default=60000, help="pairs whose code+description train the BPE")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-pairs", type=int, default=0, help="cap on training pairs (0: all)")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--c-corpus", help="tools/train/ccorpus.sh's ccorpus/ folder, mined beside the headers")
    ap.add_argument("--pairs", help="read the pairs from mine.py --out instead of mining (dry runs)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    metrics = {"device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", "torch": torch.__version__}

    # 1. pairs
    if a.pairs:
        with open(a.pairs) as f:
            pairs = json.load(f)
        log(f"pairs from {a.pairs}")
    else:
        pairs, _ = mine.mine(log, a.workers, c_corpus=a.c_corpus)
    # never train on a benchmark's query: drop pairs whose description is one (copies of stdlib code)
    if a.bundles and os.path.isdir(a.bundles):
        import gzip
        held = set()
        for fn in sorted(os.listdir(a.bundles)):
            if fn.endswith(".json.gz"):
                with gzip.open(os.path.join(a.bundles, fn), "rt") as f:
                    held |= {" ".join(q["text"].lower().split()) for q in json.load(f)["queries"]}
        n0 = len(pairs)
        keep = [i for i, p in enumerate(pairs) if " ".join(p["desc"].lower().split()) not in held]
        new_of = {old: new for new, old in enumerate(keep)}
        pairs = [pairs[i] for i in keep]
        for p in pairs:  # hard negatives are indices into the list
            p["neg"] = new_of.get(p["neg"], -1)
        log(f"dropped {n0 - len(pairs)} pairs whose description is a benchmark query")
        metrics["dropped_benchmark_descriptions"] = n0 - len(pairs)
    rows, dists = mine.summary(pairs)
    metrics["pairs"] = {"/".join(k): v for k, v in sorted(rows.items())}
    metrics["pairs_by_source"] = {"/".join(k): v for k, v in dists.most_common()}
    train_idx = [i for i, p in enumerate(pairs) if p["split"] == "train"]
    val_idx = [i for i, p in enumerate(pairs) if p["split"] == "val"]
    if a.max_pairs:
        rng.shuffle(train_idx)
        train_idx = sorted(train_idx[:a.max_pairs])
    log(f"pairs: {len(train_idx)} train, {len(val_idx)} validation (held-out packages)")

    # 2. tokenizer
    sample = rng.sample(train_idx, min(a.tok_sample, len(train_idx)))
    tok = train_tokenizer([pairs[i]["code"] for i in sample] + [pairs[i]["desc"] for i in sample], a.vocab)
    tok_path = os.path.join(a.work, "tokenizer.json")
    tok.save(tok_path)
    log(f"tokenizer: {tok.get_vocab_size()} tokens")

    # 3. ids
    descs = [p["desc"] for p in pairs]
    qi, ql = encode(tok, descs, QTOK, QUERY_MAX)
    qsi, qsl = encode(tok, [first_sentence(d) for d in descs], QTOK, QUERY_MAX)
    ci, cl = encode(tok, [p["code"] for p in pairs], CTOK, DOC_MAX)
    neg = np.array([p["neg"] for p in pairs], dtype=np.int64)
    log(f"ids: queries mean {ql.mean():.1f} tokens, codes mean {cl.mean():.1f} tokens "
        f"({(cl == DOC_MAX).mean() * 100:.0f}% truncated at {DOC_MAX})")

    # 4. model
    cfg = Config(vocab=tok.get_vocab_size(), d=a.d, n_layer=a.layers, ffn=a.ffn, ctx=DOC_MAX)
    model = Encoder(cfg).to(dev)
    scale = torch.nn.Parameter(torch.tensor(math.log(20.0), device=dev))
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2] + [scale]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-6, fused=dev.type == "cuda")
    log(f"model: {model.n_params() / 1e6:.2f} M parameters {cfg.as_dict()}")
    metrics["config"] = cfg.as_dict()
    metrics["params"] = model.n_params()

    g_qi, g_ql = torch.from_numpy(qi).to(dev), torch.from_numpy(ql).to(dev)
    g_qsi, g_qsl = torch.from_numpy(qsi).to(dev), torch.from_numpy(qsl).to(dev)
    g_ci, g_cl = torch.from_numpy(ci).to(dev), torch.from_numpy(cl).to(dev)
    tr = np.array(train_idx, dtype=np.int64)

    def batch_ids(ids, lens, sel):
        T = int(lens[sel].max())
        return ids[sel, :T].long(), lens[sel].long()

    t_start = time.time()
    end = t_start + a.train_seconds
    if a.deadline:
        end = min(end, a.deadline)
    budget = end - t_start
    step, seen, losses = 0, 0, []
    perm = np.random.permutation(tr)
    pos = 0
    B = a.batch
    while time.time() < end:
        if pos + B > len(perm):
            perm = np.random.permutation(tr)
            pos = 0
        sel = perm[pos:pos + B]
        pos += B
        nsel = neg[sel].copy()
        bad = nsel < 0
        nsel[bad] = np.random.choice(tr, int(bad.sum()))
        sel_t = torch.from_numpy(sel).to(dev)
        short = torch.rand(len(sel), device=dev) < 0.3
        q_ids, q_len = batch_ids(g_qi, g_ql, sel_t)
        qs_ids, qs_len = batch_ids(g_qsi, g_qsl, sel_t)
        if qs_ids.shape[1] < q_ids.shape[1]:
            qs_ids = F.pad(qs_ids, (0, q_ids.shape[1] - qs_ids.shape[1]))
        q_ids = torch.where(short[:, None], qs_ids, q_ids)
        q_len = torch.where(short, qs_len, q_len)
        c_ids, c_len = batch_ids(g_ci, g_cl, torch.from_numpy(np.concatenate([sel, nsel])).to(dev))
        frac = (time.time() - t_start) / budget
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (1.0 if frac < 0.6 else max(0.0, (1 - frac) / 0.4))
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            qe = model(q_ids, q_len)
            ce = model(c_ids, c_len)
        s = scale.clamp(max=math.log(100.0)).exp()
        logits = s * qe @ ce.T                      # (B, 2B)
        labels = torch.arange(len(sel), device=dev)
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits[:, :len(sel)].T, labels))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += len(sel)
        losses.append(loss.item() if step % 10 == 0 or step < 5 else float("nan"))
        if step % 50 == 0:
            log(f"step {step} loss {np.nanmean(losses[-50:]):.3f} scale {s.item():.1f} lr {lr:.2e} "
                f"pairs seen {seen} ({seen / max(1, len(tr)):.2f} epochs)")
    train_time = time.time() - t_start
    metrics["train"] = {"steps": step, "pairs_seen": seen, "epochs": seen / max(1, len(tr)), "seconds": train_time,
                        "final_loss": float(np.nanmean(losses[-50:])) if losses else None,
                        "scale": float(scale.detach().clamp(max=math.log(100.0)).exp()), "batch": B, "lr": a.lr}
    log(f"trained {step} steps, {seen} pairs in {train_time:.0f} s")

    # 5. export (Q8_0), reload the stored weights, evaluate with them
    gguf = os.path.join(a.out, "octet-embed.gguf")
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    export.export_gguf(gguf, sd, cfg.as_dict(), tok_path, query_max=QUERY_MAX, doc_max=DOC_MAX)
    qsd = export.read_back(gguf, cfg.as_dict())
    model.load_state_dict({k: torch.from_numpy(v).float() for k, v in qsd.items()})
    log(f"exported {gguf}: {os.path.getsize(gguf)} bytes; model reloaded from its Q8_0 weights")
    vsel = np.array(val_idx, dtype=np.int64)
    for kind in ("py", "c", "all"):
        s = vsel if kind == "all" else np.array([i for i in val_idx if pairs[i]["kind"] == kind], dtype=np.int64)
        if len(s) < 2:
            continue
        r = retrieval_eval(embed(model, qi[s], ql[s], dev), embed(model, ci[s], cl[s], dev))
        metrics[f"val_{kind}"] = r
        log(f"validation {kind}: {r}")

    # 6. fixtures: a few held-out texts, their ids and float32 embeddings from the stored weights
    fx = []
    vr = random.Random(7)
    picks = vr.sample([i for i in val_idx if pairs[i]["kind"] == "py"], 2) + \
        vr.sample([i for i in val_idx if pairs[i]["kind"] == "c"], min(2, sum(pairs[i]["kind"] == "c" for i in val_idx)))
    texts = [("query", "parse an email address into its parts"), ("query", "")]
    for i in picks:
        texts += [("query", pairs[i]["desc"]), ("code", pairs[i]["code"])]
    texts.append(("code", "x" * 3000))  # truncated at DOC_MAX
    model64 = Encoder(cfg).double()
    model64.load_state_dict({k: torch.from_numpy(v).double() for k, v in qsd.items()})
    model64.eval()
    for kind, text in texts:
        ids = ids_for(tok, text, QTOK if kind == "query" else CTOK, QUERY_MAX if kind == "query" else DOC_MAX)
        with torch.no_grad():
            e = model64(torch.tensor([ids]), torch.tensor([len(ids)]))[0].numpy()
        src = next((pairs[i] for i in picks if text in (pairs[i]["desc"], pairs[i]["code"])), None)
        fx.append({"kind": kind, "text": text, "ids": ids, "embedding": [float(v) for v in e],
                   "source": None if src is None else {"dist": src["dist"], "path": src["path"], "line": src["line"],
                                                       "license": src["license"]}})
    with open(os.path.join(a.out, "fixtures.json"), "w") as f:
        json.dump({"model": "octet-embed.gguf", "torch_float64_from_q8_0": True, "texts": fx}, f, indent=1)

    # 7. the benchmark bundles
    if a.bundles and os.path.isdir(a.bundles):
        import gzip
        for fn in sorted(os.listdir(a.bundles)):
            if not fn.endswith(".json.gz"):
                continue
            with gzip.open(os.path.join(a.bundles, fn), "rt") as f:
                b = json.load(f)
            t = time.time()
            bi, bl = encode(tok, [c["text"] for c in b["chunks"]], CTOK, DOC_MAX)
            ce = embed(model, bi, bl, dev)
            bqi, bql = encode(tok, [q["text"] for q in b["queries"]], QTOK, QUERY_MAX)
            qe = embed(model, bqi, bql, dev)
            cq, cs = quantize_rows(ce)
            np.savez_compressed(os.path.join(a.out, fn[:-8] + ".emb.npz"), chunks_q=cq, chunks_scale=cs,
                                queries=qe.astype(np.float32))
            log(f"embedded {fn}: {len(ce)} chunks ({(bl == DOC_MAX).mean() * 100:.0f}% truncated), "
                f"{len(qe)} queries, {time.time() - t:.1f} s")
    metrics["total_seconds"] = time.time() - T0
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    log("done")


if __name__ == "__main__":
    main()
