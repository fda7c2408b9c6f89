"""train.py - train, evaluate and export octet's embedded code model on one GPU, within a wall-clock budget.

Started by run.sh on the device machine. While prep.py builds the corpus,
tokenizer, token streams and SFT samples on the CPUs, this process builds and
compiles every candidate shape (--shapes: by default v1's 18.9 M-parameter
shape and v2's 30.9 M, both within the GGUF budget as Q8_0), then, once
prep.py has written the early probe stream, trains each for --trial-seconds
and keeps the one with the lowest loss on the held-out packages, or a smaller
one within --prefer-smaller nats of it (fewer weight bytes per generated
token decode faster); the others are dropped and the winner trains on: with bf16
autocast until a deadline (the learning-rate schedule runs on wall-clock
progress, so the run always finishes its decay), on the pretraining stream
with a share of supervised fine-tuning batches (sft.py's samples, loss on the
replies only) that grows to --sft-decay-share while the learning rate decays.
Afterwards:
  * validation loss / perplexity on the held-out packages (bf16), the loss
    on the middle part of held-out fill-in-the-middle samples and the loss on
    the replies of the held-out SFT samples;
  * reference results for octet's tests, in float64 on the CPU with the weights
    rounded exactly as the GGUF stores them (Q8_0): per-token NLL of every
    held-out snippet and full logits rows at a few positions;
  * a cross-check against transformers' LlamaForCausalLM with the same weights;
  * the GGUF export (export.py), read back and compared tensor by tensor;
  * a few generated samples.
Results go to WORK/results (see run.sh for what is returned).
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import sft  # noqa: E402
from model import Config, Llama  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BOS = 0  # <|endoftext|>, prepended to every sample in training and by octet (add_bos_token)
IM_START, IM_END = 4, 5  # ChatML markers (prep.SPECIALS)


def log(msg):
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def step_time(fn, n):
    sync()
    t = time.time()
    for _ in range(n):
        fn()
    sync()
    return (time.time() - t) / n


def get_batch(data, B, T, gen):
    ix = torch.randint(0, data.numel() - T - 1, (B,), device=data.device, generator=gen)
    chunk = data[ix[:, None] + torch.arange(T + 1, device=data.device)].long()
    return chunk[:, :-1], chunk[:, 1:]


@torch.no_grad()
def eval_stream(model, data, T, B, max_tokens):
    """Mean next-token loss over non-overlapping windows of the validation stream (bf16)."""
    n_win = min((data.numel() - 1) // T, max(1, max_tokens // T))
    tot, cnt = 0.0, 0
    for w0 in range(0, n_win, B):
        ws = torch.arange(w0, min(n_win, w0 + B), device=data.device) * T
        chunk = data[ws[:, None] + torch.arange(T + 1, device=data.device)].long()
        with torch.autocast(data.device.type, dtype=torch.bfloat16):
            logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum")
        tot += loss.item()
        cnt += chunk[:, 1:].numel()
    return tot / cnt, cnt


@torch.no_grad()
def eval_fim(model, path, dev, B=16):
    z = np.load(path)
    toks, lens, mids = z["tokens"], z["lens"], z["mids"]
    tot, cnt = 0.0, 0
    for i in range(0, len(toks), B):
        L = int(lens[i:i + B].max())
        x = torch.from_numpy(toks[i:i + B, :L].astype(np.int64)).to(dev)
        tgt = torch.full_like(x, -1)
        for j in range(x.shape[0]):
            m, n = int(mids[i + j]), int(lens[i + j])
            tgt[j, m:n - 1] = x[j, m + 1:n]  # the middle and the closing <|endoftext|>
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-1,
                               reduction="sum")
        tot += loss.item()
        cnt += int((tgt >= 0).sum())
    return tot / max(1, cnt), cnt


def get_sft_batch(toks, mask, starts, B, T, gen):
    """B windows that start at SFT sample starts; targets outside the replies are -1 (not scored)."""
    ix = starts[torch.randint(0, starts.numel(), (B,), device=starts.device, generator=gen)]
    off = ix[:, None] + torch.arange(T + 1, device=toks.device)
    chunk = toks[off].long()
    m = mask[off[:, 1:]]
    y = chunk[:, 1:].masked_fill(m == 0, -1)
    return chunk[:, :-1], y


@torch.no_grad()
def eval_sft(model, toks, mask, starts, T, dev, B=16, max_samples=2000):
    """Mean loss over the reply tokens of the held-out SFT samples (each sample alone, bf16).
    TOKS/MASK: tensors on DEV with T + 1 padding at the end; STARTS: numpy int64."""
    ends = np.append(starts[1:], toks.numel() - T - 1)
    st, en = starts[:max_samples].tolist(), ends[:max_samples].tolist()
    tot, cnt = 0.0, 0
    for i in range(0, len(st), B):
        rows = list(zip(st[i:i + B], en[i:i + B]))
        L = max(e - s for s, e in rows)
        x = torch.zeros((len(rows), L), dtype=torch.long, device=dev)
        y = torch.full((len(rows), L), -1, dtype=torch.long, device=dev)
        for r, (s, e) in enumerate(rows):
            seg = toks[s:e].long()
            x[r, :e - s] = seg
            y[r, :e - s - 1] = seg[1:].masked_fill(mask[s + 1:e] == 0, -1)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            logits = model(x)
        tot += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1,
                               reduction="sum").item()
        cnt += int((y >= 0).sum())
    return tot / max(1, cnt), cnt


@torch.no_grad()
def generate(model, tok, prompt_ids, n, dev, temperature=0.0, seed=0):
    g = torch.Generator(device=dev).manual_seed(seed)
    ids = list(prompt_ids)
    for _ in range(n):
        logits = model(torch.tensor([ids[-model.c.ctx:]], device=dev))[0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            probs = torch.softmax(logits / temperature, -1)
            nxt = int(torch.multinomial(probs, 1, generator=g))
        if nxt in (BOS, IM_END):
            break
        ids.append(nxt)
    return tok.decode(ids[len(prompt_ids):], skip_special_tokens=False)


def stored_state(model, weights):
    """HF-named state dict as float32 numpy arrays holding exactly what the GGUF stores:
    matrices rounded to f16 or quantized to Q8_0 and back, 1-D norm weights as they are."""
    out = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue
        a = v.detach().float().cpu().numpy()
        if a.ndim == 2:
            a = export.q8_0_roundtrip(a) if weights == "q8_0" else a.astype(np.float16).astype(np.float32)
        out[k] = a
    return out


def references(cfg, sd16, snippets, logit_snips, res_dir):
    """float64 CPU forward with the stored weights: per-token NLL of every snippet, logits rows of some."""
    ref = Llama(cfg)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in sd16.items()}, strict=False)
    ref.lm_head.weight = ref.model.embed_tokens.weight
    ref = ref.double().eval()
    f32 = Llama(cfg)
    f32.load_state_dict({k: torch.from_numpy(v) for k, v in sd16.items()}, strict=False)
    f32.lm_head.weight = f32.model.embed_tokens.weight
    f32 = f32.float().eval()
    blob, off, out, f32_err = [], 0, [], 0.0
    tot_nll, tot_n = 0.0, 0
    with torch.no_grad():
        for k, s in enumerate(snippets):
            ids = [BOS] + s["ids"]
            x = torch.tensor([ids])
            lg = ref(x)[0]
            nll = (torch.logsumexp(lg[:-1], -1) - lg[torch.arange(len(ids) - 1), x[0, 1:]]).numpy()
            entry = {"name": s["name"], "kind": s["kind"], "package": s["package"], "dist": s["dist"],
                     "version": s["version"], "license": s["license"], "source_path": s["path"],
                     "ids": s["ids"], "nll": [float(v) for v in nll], "ppl": float(math.exp(nll.mean()))}
            tot_nll += float(nll.sum())
            tot_n += len(nll)
            if k in logit_snips:
                n = len(ids) - 1
                pos = sorted({0, 1, n // 2, n})
                lf = f32(x)[0].double()
                entry["logit_positions"], entry["logit_offsets"] = pos, []
                for p in pos:
                    row = lg[p].numpy().astype("<f4")
                    blob.append(row)
                    entry["logit_offsets"].append(off)
                    off += row.size
                    f32_err = max(f32_err, float((lf[p] - lg[p]).norm() / lg[p].norm()))
            out.append(entry)
    np.concatenate(blob).tofile(os.path.join(res_dir, "logits.f32"))
    return out, tot_nll / tot_n, tot_n, f32_err


def hf_check(cfg, sd16, ids):
    """Max relative logits error between transformers' LlamaForCausalLM and model.py, float64, or a reason."""
    try:
        from transformers import LlamaConfig, LlamaForCausalLM

        hc = LlamaConfig(vocab_size=cfg.vocab, hidden_size=cfg.d, intermediate_size=cfg.ffn,
                         num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
                         num_key_value_heads=cfg.n_kv, max_position_embeddings=cfg.ctx, rms_norm_eps=cfg.eps,
                         rope_theta=cfg.theta, tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
                         hidden_act="silu", bos_token_id=BOS, eos_token_id=BOS)
        rp = getattr(hc, "rope_parameters", None)
        if isinstance(rp, dict):
            rp["rope_theta"] = cfg.theta
        hc._attn_implementation = "eager"
        hm = LlamaForCausalLM(hc)
        sd = {k: torch.from_numpy(v) for k, v in sd16.items()}
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
        missing, unexpected = hm.load_state_dict(sd, strict=False)
        missing = [m for m in missing if "rotary" not in m]
        if missing or unexpected:
            return None, f"state dict mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}"
        hm = hm.double().eval()
        mine = Llama(cfg)
        mine.load_state_dict(sd, strict=False)
        mine.lm_head.weight = mine.model.embed_tokens.weight
        mine = mine.double().eval()
        x = torch.tensor([ids])
        with torch.no_grad():
            a = hm(x).logits[0]
            b = mine(x)[0]
        return float(((a - b).norm(dim=-1) / b.norm(dim=-1)).max()), "ok"
    except Exception as e:  # the check is informative; training results stand without it
        return None, f"{type(e).__name__}: {e}"[:300]


def write_samples(model, tok, dev, seed, res_dir):
    """Greedy and sampled continuations of a few prompts (completion, FIM, and ChatML requests as octet
    sends them) into RES_DIR/samples.txt."""
    samples = []
    gm = model.float()
    prompts = [("L2R", "def fib(", ""), ("L2R", "import os\n\n\ndef list_files(path):\n", ""),
               ("L2R", "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n", ""),
               ("L2R", "class Stack:\n    def __init__(self):\n", ""),
               ("FIM", "def add(a, b):\n    ", "\n\n\nprint(add(1, 2))\n"),
               ("FIM", "def is_even(n):\n    return ", "\n")]
    spec = {"lang": "py", "name": "count_vowels", "sig": "def count_vowels(s: str) -> int",
            "description": "Return the number of vowels (a, e, i, o, u, either case) in s.",
            "inputs": [("s", "string", None)], "output": "int", "output_desc": None,
            "examples": [('count_vowels("Hello")', "2"), ('count_vowels("xyz")', "0")]}
    mod = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return area(w, h) * d\n"
    ctx = f"geo.py:1-6\n```\n{mod}```\n\n"
    chats = ([sft.spec_system(False), sft.spec_user(spec)],
             [sft.TUI_SYSTEM, "Write a Python function that reverses the words of a sentence."],
             [sft.REFACTOR_SYSTEM_BLOCKS, sft.refactor_chat_user(
                 "Rename the function area to surface", "\nTarget: the file geo.py and the code that refers to it.\n",
                 ctx)])
    for system, user in chats:
        prompts.append(("CHAT", f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                                f"<|im_start|>assistant\n", ""))
    for kind, pre, suf in prompts:
        if kind in ("L2R", "CHAT"):
            p_ids = [BOS] + tok.encode(pre, add_special_tokens=False).ids
        else:
            p_ids = ([BOS, 1] + tok.encode(pre, add_special_tokens=False).ids + [2]
                     + tok.encode(suf, add_special_tokens=False).ids + [3])
        for temp in (0.0, 0.7):
            outs = generate(gm, tok, p_ids, 200 if kind == "CHAT" else 96, dev, temperature=temp, seed=seed)
            samples.append(f"=== {kind} temperature {temp} prefix={pre!r} suffix={suf!r}\n{outs}\n")
    with open(os.path.join(res_dir, "samples.txt"), "w") as f:
        f.write("\n".join(samples))

    return samples


def parse_shape(text, vocab, ctx):
    """'DxLxHxKVxFFN' (d_model x layers x query heads x KV heads x FFN) -> Config."""
    d, n_layer, n_head, n_kv, ffn = (int(v) for v in text.split("x"))
    return Config(vocab=vocab, d=d, n_layer=n_layer, n_head=n_head, n_kv=n_kv, ffn=ffn, ctx=ctx)


def lr_at(a, step, prog):
    warm = min(1.0, (step + 1) / a.warmup_steps)
    tail = 1.0 if prog < 1 - a.decay_frac else max(0.0, (1 - prog) / a.decay_frac)
    return a.lr * warm * (a.min_lr_frac + (1 - a.min_lr_frac) * tail)


def make_opt(model, a, dev):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() == 2 else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda")


def wait_for(path, proc, until):
    while not os.path.exists(path):
        if proc.poll() is not None and not os.path.exists(path):
            return False
        if time.time() > until:
            return False
        time.sleep(0.5)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["full", "dry", "cpu"], default="full")
    ap.add_argument("--work", required=True)
    ap.add_argument("--start", type=float, default=None, help="epoch seconds the budget counts from")
    ap.add_argument("--total-seconds", type=float, default=570)
    ap.add_argument("--reserve-seconds", type=float, default=80, help="kept for evaluation and export")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a local test of the pipeline")
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--micro-bsz", type=int, default=64)
    ap.add_argument("--accum", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.0)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--decay-frac", type=float, default=0.4, help="last share of the time the LR decays over")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-tokens", type=int, default=4_000_000)
    ap.add_argument("--shapes", default="384x8x6x2x1024,512x8x8x2x1408",
                    help="candidate shapes DxLAYERSxHEADSxKVxFFN, compared on held-out loss after --trial-seconds each "
                         "(default: v1's shape, 18.9 M parameters, and v2's, 30.9 M)")
    ap.add_argument("--prefer-smaller", type=float, default=0.02,
                    help="a shape with fewer parameters (fewer weight bytes read per generated token: faster decoding) "
                         "wins the trial when its held-out loss is within this many nats of the best")
    ap.add_argument("--trial-seconds", type=float, default=30)
    ap.add_argument("--trial-eval-tokens", type=int, default=1_000_000)
    ap.add_argument("--sft-share", type=float, default=0.1, help="share of SFT micro-batches before the decay")
    ap.add_argument("--sft-decay-share", type=float, default=0.5, help="share of SFT micro-batches during the decay")
    ap.add_argument("--weights", choices=["q8_0", "f16"], default="q8_0", help="GGUF storage of the matrices")
    ap.add_argument("--name", default="octet-code")
    ap.add_argument("--prep-args", default="", help="extra arguments for prep.py")
    ap.add_argument("--vocab", type=int, default=16384)
    ap.add_argument("--ctx", type=int, default=2048)
    a = ap.parse_args()
    t_start = a.start or time.time()
    deadline = t_start + a.total_seconds
    train_end = deadline - a.reserve_seconds
    res = os.path.join(a.work, "results")
    os.makedirs(res, exist_ok=True)
    metrics = {"mode": a.mode, "args": vars(a)}

    prep_cmd = [sys.executable, os.path.join(HERE, "prep.py"), "--work", a.work, "--seed", str(a.seed),
                "--vocab", str(a.vocab), "--ctx", str(a.ctx)] + a.prep_args.split()
    log("starting prep: " + " ".join(prep_cmd[1:]))
    prep = subprocess.Popen(prep_cmd)

    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        log(f"torch {torch.__version__}, {props.name}, {props.total_memory / 2**30:.0f} GiB")
    else:
        a.compile = 0
        log(f"torch {torch.__version__} on the CPU (a test of the pipeline)")
    B, T, A = a.micro_bsz, a.ctx, a.accum

    def fwd_bwd(m, xb):
        def f():
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = m(xb[:, :-1], xb[:, 1:])
            loss.backward()
        return f

    # every candidate shape built and compiled while prep works on the CPUs
    cands = []
    for k, shape in enumerate(a.shapes.split(",")):
        cfg = parse_shape(shape, a.vocab, a.ctx)
        torch.manual_seed(a.seed)
        model = Llama(cfg).to(dev)
        fake = torch.randint(0, cfg.vocab, (B, T + 1), device=dev)
        c = {"shape": shape, "cfg": cfg, "model": model, "cmodel": model, "n_params": model.n_params()}
        t_eager = step_time(fwd_bwd(model, fake), 1 if dev.type == "cuda" else 0) if dev.type == "cuda" else 0.0
        t_eager = step_time(fwd_bwd(model, fake), 2)
        c["eager_ms"] = t_eager * 1e3
        if a.compile:
            t0 = time.time()
            try:
                cm = torch.compile(model, dynamic=False)
                fwd_bwd(cm, fake)()
                sync()
                t_comp = step_time(fwd_bwd(cm, fake), 3)
                c.update(compile_s=time.time() - t0, compiled_ms=t_comp * 1e3)
                if t_comp < t_eager:
                    c["cmodel"] = cm
            except Exception as e:  # eager training is slower but correct
                log(f"torch.compile failed for {shape}, eager: {type(e).__name__}: {e}")
        model.zero_grad(set_to_none=True)
        del fake
        log(f"shape {shape}: {c['n_params'] / 1e6:.2f} M parameters; eager {c['eager_ms']:.1f} ms"
            + (f", compiled {c['compiled_ms']:.1f} ms in {c['compile_s']:.0f} s" if "compiled_ms" in c else "")
            + f" per {B}x{T} fwd+bwd")
        cands.append(c)

    from tokenizers import Tokenizer

    def load_u16(name):
        return torch.from_numpy(np.fromfile(os.path.join(a.work, name), dtype=np.uint16).astype(np.int32)).to(dev)

    # the trials: each shape trains --trial-seconds on the probe stream, then is scored on held-out text
    if not wait_for(os.path.join(a.work, "probe.bin"), prep, train_end - 60):
        prep.kill()
        log("prep did not write the probe stream")
        return 1
    probe = load_u16("probe.bin")
    val = load_u16("val.bin")
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    trials = []
    for c in cands:
        c["opt"] = make_opt(c["model"], a, dev)
        c["step"], c["tokens"] = 0, 0
        t0 = time.time()
        secs = a.trial_seconds if len(cands) > 1 else 0
        while time.time() - t0 < secs:
            lr = lr_at(a, c["step"], 0.0)
            for g in c["opt"].param_groups:
                g["lr"] = lr
            x, y = get_batch(probe, B, T, gen)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = c["cmodel"](x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(c["model"].parameters(), 1.0)
            c["opt"].step()
            c["opt"].zero_grad(set_to_none=True)
            c["step"] += 1
            c["tokens"] += B * T
        sync()
        if len(cands) > 1:
            c["model"].eval()
            vl, _ = eval_stream(c["model"], val, T, 16, a.trial_eval_tokens)
            c["model"].train()
            c["trial_val_loss"] = vl
            log(f"trial {c['shape']}: {c['step']} steps, {c['tokens'] / 1e6:.1f} M tokens in {time.time() - t0:.0f} s, "
                f"held-out loss {vl:.4f}")
            trials.append({k: c[k] for k in ("shape", "n_params", "eager_ms", "step", "tokens", "trial_val_loss")}
                          | {k: c[k] for k in ("compiled_ms", "compile_s") if k in c})
    best = min(cands, key=lambda c: c.get("trial_val_loss", 0.0))
    if len(cands) > 1:  # speed at equal quality: the smallest shape within --prefer-smaller of the best
        near = [c for c in cands if c["trial_val_loss"] <= best["trial_val_loss"] + a.prefer_smaller]
        small = min(near, key=lambda c: c["n_params"])
        if small is not best:
            log(f"trial: {small['shape']} is within {a.prefer_smaller} nats of {best['shape']} with fewer parameters")
            best = small
    for c in cands:
        if c is not best:
            del c["opt"], c["model"], c["cmodel"]
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    del probe
    cfg, model, cmodel, opt = best["cfg"], best["model"], best["cmodel"], best["opt"]
    n_params = best["n_params"]
    n_embd = cfg.vocab * cfg.d
    flops_tok = 6 * n_params + 6 * cfg.n_layer * cfg.ctx * cfg.d  # matmuls (tied head counted) + causal attention
    log(f"chosen: {best['shape']} {cfg.as_dict()}, {n_params / 1e6:.2f} M parameters "
        f"({n_embd / 1e6:.2f} M embedding, tied)")
    metrics.update(config=cfg.as_dict(), n_params=n_params, trials=trials, chosen=best["shape"],
                   eager_ms=best["eager_ms"], compiled_ms=best.get("compiled_ms"), compile_s=best.get("compile_s"))

    while prep.poll() is None:
        if time.time() > train_end - 30:
            prep.kill()
            log("prep did not finish in time")
            return 1
        time.sleep(0.5)
    if prep.returncode != 0:
        log(f"prep failed with exit code {prep.returncode}")
        return 1
    tok = Tokenizer.from_file(os.path.join(a.work, "tokenizer.json"))
    with open(os.path.join(a.work, "prep.json")) as f:
        prep_stats = json.load(f)
    metrics["prep"] = prep_stats
    train = load_u16("train.bin")
    sft_t = load_u16("sft.bin")
    sft_m = torch.from_numpy(np.fromfile(os.path.join(a.work, "sft_mask.bin"), dtype=np.uint8)).to(dev)
    sft_s = torch.from_numpy(np.load(os.path.join(a.work, "sft_starts.npy"))).to(dev)
    log(f"data: train {train.numel() / 1e6:.1f} M tokens, sft {sft_t.numel() / 1e6:.1f} M tokens "
        f"({sft_s.numel()} samples), val {val.numel() / 1e6:.2f} M tokens; {train_end - time.time():.0f} s left")

    t_train0 = time.time()
    budget = train_end - t_train0
    if budget < 20:
        log(f"only {budget:.0f} s left for training")
        return 1
    step, tokens, sft_tokens, last_log, loss_hist = best["step"], best["tokens"], 0, t_train0, []
    sft_tok_total = torch.zeros((), device=dev, dtype=torch.long)
    pick = random.Random(a.seed)  # which micro-batches are SFT (a host RNG: no GPU sync)
    lr = 0.0
    while True:
        prog = (time.time() - t_train0) / budget
        if prog >= 1:
            break
        lr = lr_at(a, step, prog)
        for g in opt.param_groups:
            g["lr"] = lr
        share = a.sft_decay_share if prog >= 1 - a.decay_frac else a.sft_share
        acc = torch.zeros((), device=dev)
        acc_sft = torch.zeros((), device=dev)
        sft_tok_acc = torch.zeros((), device=dev, dtype=torch.long)
        n_sft = 0
        for _ in range(A):
            is_sft = sft_s.numel() > 0 and pick.random() < share
            x, y = get_sft_batch(sft_t, sft_m, sft_s, B, T, gen) if is_sft else get_batch(train, B, T, gen)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = cmodel(x, y) / A
            loss.backward()
            if is_sft:
                acc_sft += loss.detach() * A
                n_sft += 1
                sft_tok_acc += (y >= 0).sum()
            else:
                acc += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens += B * T * A
        if n_sft:
            sft_tok_total += sft_tok_acc
        if step % 25 == 0:
            lv = acc.item() * A / max(1, A - n_sft) if n_sft < A else None
            ls = acc_sft.item() / n_sft if n_sft else None
            loss_hist.append((step, tokens, lv, ls))
            now = time.time()
            if now - last_log > 20 or step == 25 + best["step"] - best["step"] % 25:
                el = now - t_train0
                log(f"step {step} tokens {tokens / 1e6:.0f} M loss {lv if lv is None else round(lv, 4)} "
                    f"sft-loss {ls if ls is None else round(ls, 4)} lr {lr:.2e} progress {prog:.2f} "
                    f"{(tokens - best['tokens']) / el / 1e6:.2f} M tok/s")
                last_log = now
    sync()
    sft_tokens = int(sft_tok_total.item())
    train_s = time.time() - t_train0
    tok_s = (tokens - best["tokens"]) / train_s
    last_pre = [h[2] for h in loss_hist if h[2] is not None][-4:]
    last_sft = [h[3] for h in loss_hist if h[3] is not None][-4:]
    log(f"trained {step} steps, {tokens / 1e6:.1f} M tokens ({sft_tokens / 1e6:.1f} M SFT reply tokens) in "
        f"{train_s:.0f} s after the trial ({tok_s / 1e6:.2f} M tok/s, ~{flops_tok * tok_s / 1e12:.0f} TFLOP/s model "
        f"FLOPs), {tokens / max(1, train.numel()):.2f} epochs")
    metrics.update(steps=step, tokens=tokens, sft_reply_tokens=sft_tokens, train_s=train_s, tok_s=tok_s,
                   tflops=flops_tok * tok_s / 1e12, epochs=tokens / max(1, train.numel()), loss_hist=loss_hist,
                   final_train_loss=float(np.mean(last_pre)) if last_pre else None,
                   final_sft_loss=float(np.mean(last_sft)) if last_sft else None)
    del train, sft_t, sft_m, sft_s

    model.eval()
    vl, vn = eval_stream(model, val, T, 16, a.eval_tokens)
    fl, fn = eval_fim(model, os.path.join(a.work, "val_fim.npz"), dev)
    cpt = prep_stats["val_chars_per_token"]
    log(f"validation: loss {vl:.4f} ppl {math.exp(vl):.3f} over {vn / 1e6:.2f} M tokens "
        f"({vl / math.log(2) / cpt:.3f} bits/char); FIM middle loss {fl:.4f} over {fn} tokens")
    sv_t = load_u16("sft_val.bin")
    sv_m = torch.from_numpy(np.fromfile(os.path.join(a.work, "sft_val_mask.bin"), dtype=np.uint8)).to(dev)
    sv_s = np.load(os.path.join(a.work, "sft_val_starts.npy"))
    sl, sn = eval_sft(model, sv_t, sv_m, sv_s, T, dev) if len(sv_s) else (float("nan"), 0)
    log(f"held-out SFT replies: loss {sl:.4f} over {sn} tokens ({len(sv_s)} samples)")
    metrics.update(val_loss=vl, val_ppl=math.exp(vl), val_tokens_scored=vn, val_bits_per_char=vl / math.log(2) / cpt,
                   fim_middle_loss=fl, fim_tokens_scored=fn, sft_val_loss=sl, sft_val_tokens=sn)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, os.path.join(a.work, "model.pt"))

    torch.set_num_threads(min(16, os.cpu_count() or 1))
    sd16 = stored_state(model, a.weights)
    with open(os.path.join(a.work, "snippets.json")) as f:
        snippets = json.load(f)
    n_py = sum(1 for s in snippets if s["kind"] == "py")
    logit_snips = {0, 1, n_py} & set(range(len(snippets)))
    refs, snip_loss, snip_n, f32_err = references(cfg, sd16, snippets, logit_snips, res)
    log(f"held-out snippets (float64, {a.weights} weights): ppl {math.exp(snip_loss):.3f} over {snip_n} tokens; "
        f"float32 vs float64 logits rel err {f32_err:.1e}")
    for r in refs:
        log(f"  {r['name']}: {len(r['ids'])} tokens, ppl {r['ppl']:.3f}")
    ref_doc = {
        "model": f"{a.name}.gguf", "bos_id": BOS, "n_vocab": cfg.vocab, "logits_file": "logits.f32",
        "about": f"float64 PyTorch forward on CPU with the GGUF's weights ({a.weights}, dequantized): ids are the HF "
                 "tokenizer's encoding of each snippet (no BOS); the model input is [bos_id] + ids; nll[i] = "
                 "-log p(ids[i] | bos, ids[:i]); ppl = exp(mean nll); logits rows (little-endian float32, "
                 "n_vocab each) at logit_positions of the input sequence start at logit_offsets floats",
        "ppl_all": math.exp(snip_loss), "tokens_all": snip_n, "snippets": refs,
    }
    with open(os.path.join(res, "ref.json"), "w") as f:
        json.dump(ref_doc, f, indent=1)
    for s in snippets:
        with open(os.path.join(res, s["name"]), "w") as f:
            f.write(s["text"])
    hf_err, hf_msg = hf_check(cfg, sd16, [BOS] + snippets[0]["ids"][:256])
    log(f"transformers LlamaForCausalLM check: {hf_msg}" + (f", max rel logits err {hf_err:.1e}" if hf_err is not None else ""))
    metrics.update(snippet_ppl=math.exp(snip_loss), snippet_tokens=snip_n, f32_vs_f64=f32_err,
                   hf_check=hf_msg, hf_rel_err=hf_err)

    gguf = os.path.join(a.work, f"{a.name}.gguf")
    desc = (f"octet's embedded code model: llama {n_params / 1e6:.1f}M, byte-level BPE {cfg.vocab}, "
            f"trained {tokens / 1e6:.0f}M tokens of permissively licensed Python and C/C++")
    export.export_gguf(gguf, sd16, cfg.as_dict(), os.path.join(a.work, "tokenizer.json"), a.name, desc, a.weights)
    n_checked = export.check_gguf(gguf, sd16, cfg.as_dict(), a.weights)
    size = os.path.getsize(gguf)
    log(f"exported {gguf}: {size / 1e6:.2f} MB, {n_checked} tensors read back identical")
    metrics.update(gguf_bytes=size)

    try:  # the samples are for reading; the model stands without them
        samples = write_samples(model, tok, dev, a.seed, res)
        log("samples:\n" + "\n".join(samples[:2] + samples[8:10] + samples[12:]))
    except Exception as e:
        log(f"samples failed: {type(e).__name__}: {e}")

    for fn_ in ("tokenizer.json", "sources.tsv", "prep.json", "sft_examples.txt"):
        shutil.copy(os.path.join(a.work, fn_), os.path.join(res, fn_))
    metrics["elapsed_s"] = time.time() - t_start
    with open(os.path.join(res, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    rows = [
        ("parameters", f"{n_params / 1e6:.2f} M ({cfg.n_layer} layers, d {cfg.d}, {cfg.n_head}/{cfg.n_kv} heads, "
                       f"ffn {cfg.ffn}, vocab {cfg.vocab}, ctx {cfg.ctx}, tied)"),
        ("data", f"train {prep_stats['train_chars'] / 1e6:.0f} MB text = {prep_stats['train_tokens'] / 1e6:.0f} M tokens, "
                 f"val {prep_stats['val_chars'] / 1e6:.1f} MB = {prep_stats['val_tokens'] / 1e6:.2f} M tokens"),
        ("training", f"{step} steps x {B * T * A / 1e3:.0f}K tokens = {tokens / 1e6:.0f} M tokens in {train_s:.0f} s "
                     f"({tok_s / 1e6:.2f} M tok/s, {metrics['epochs']:.2f} epochs, compiled={cmodel is not model})"),
        ("shape trials", "; ".join(f"{t['shape']} ({t['n_params'] / 1e6:.1f} M): {t['trial_val_loss']:.4f} after "
                                   f"{t['tokens'] / 1e6:.0f} M tokens" for t in trials) or "-"),
        ("SFT data", f"{prep_stats['sft_samples']} samples, {prep_stats['sft_trained_tokens'] / 1e6:.1f} M reply "
                     f"tokens; {sft_tokens / 1e6:.0f} M reply tokens trained"),
        ("final train loss", f"{metrics['final_train_loss']:.4f}" if last_pre else "-"),
        ("final SFT loss", f"{metrics['final_sft_loss']:.4f}" if last_sft else "-"),
        ("held-out SFT reply loss", f"{sl:.4f} over {sn} tokens"),
        ("val loss / ppl (bf16)", f"{vl:.4f} / {math.exp(vl):.3f} ({vl / math.log(2) / cpt:.3f} bits/char)"),
        ("val FIM middle loss", f"{fl:.4f}"),
        (f"snippets ppl (f64, {a.weights})", f"{math.exp(snip_loss):.3f} over {snip_n} tokens"),
        ("f32 vs f64 logits", f"{f32_err:.1e}"),
        ("HF Llama check", hf_msg + (f" ({hf_err:.1e})" if hf_err is not None else "")),
        ("GGUF", f"{size / 1e6:.2f} MB, {n_checked} tensors verified"),
        ("elapsed", f"{time.time() - t_start:.0f} s"),
    ]
    with open(os.path.join(res, "summary.txt"), "w") as f:
        for k, v in rows:
            f.write(f"{k:28s} {v}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
