"""train.py - train, evaluate and export octet's embedded code model on one GPU, within a wall-clock budget.

Started by run.sh on the device machine. While prep.py builds the corpus,
tokenizer and token streams on the CPUs, this process builds the model,
compiles it and measures its step time on random tokens. Then it trains with
bf16 autocast until a deadline (the learning-rate schedule runs on wall-clock
progress, so the run always finishes its decay), and afterwards:
  * validation loss / perplexity on the held-out packages (bf16), and the loss
    on the middle part of held-out fill-in-the-middle samples;
  * reference results for octet's tests, in float64 on the CPU with the weights
    rounded to f16 exactly as the GGUF stores them: per-token NLL of every
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
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
from model import Config, Llama  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BOS = 0  # <|endoftext|>, prepended to every sample in training and by octet (add_bos_token)


def log(msg):
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def step_time(fn, n):
    torch.cuda.synchronize()
    t = time.time()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
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
        with torch.autocast("cuda", dtype=torch.bfloat16):
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
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-1,
                               reduction="sum")
        tot += loss.item()
        cnt += int((tgt >= 0).sum())
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
        if nxt == BOS:
            break
        ids.append(nxt)
    return tok.decode(ids[len(prompt_ids):], skip_special_tokens=False)


def f16_state(model):
    """HF-named state dict as float32 numpy arrays holding exactly what the GGUF stores."""
    out = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue
        a = v.detach().float().cpu().numpy()
        out[k] = a.astype(np.float16).astype(np.float32) if a.ndim == 2 else a
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["full", "dry"], default="full")
    ap.add_argument("--work", required=True)
    ap.add_argument("--start", type=float, default=None, help="epoch seconds the budget counts from")
    ap.add_argument("--total-seconds", type=float, default=570)
    ap.add_argument("--reserve-seconds", type=float, default=80, help="kept for evaluation and export")
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
    ap.add_argument("--name", default="octet-code")
    ap.add_argument("--prep-args", default="", help="extra arguments for prep.py")
    for k, v in Config().as_dict().items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
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
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    props = torch.cuda.get_device_properties(0)
    log(f"torch {torch.__version__}, {props.name}, {props.total_memory / 2**30:.0f} GiB")
    cfg = Config(**{k: getattr(a, k) for k in Config().as_dict()})
    model = Llama(cfg).to(dev)
    n_params = model.n_params()
    n_embd = cfg.vocab * cfg.d
    flops_tok = 6 * n_params + 6 * cfg.n_layer * cfg.ctx * cfg.d  # matmuls (tied head counted) + causal attention
    log(f"model: {cfg.as_dict()}, {n_params / 1e6:.2f} M parameters ({n_embd / 1e6:.2f} M embedding, tied)")
    metrics.update(config=cfg.as_dict(), n_params=n_params)

    B, T, A = a.micro_bsz, cfg.ctx, a.accum
    fake = torch.randint(0, cfg.vocab, (B, T + 1), device=dev)

    def fwd_bwd(m, xb):
        def f():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = m(xb[:, :-1], xb[:, 1:])
            loss.backward()
        return f

    t_eager = step_time(fwd_bwd(model, fake), 1)
    t_eager = step_time(fwd_bwd(model, fake), 3)
    log(f"eager fwd+bwd {t_eager * 1e3:.1f} ms per micro-batch of {B}x{T} ({B * T / t_eager / 1e6:.2f} M tok/s)")
    metrics["eager_ms"] = t_eager * 1e3
    cmodel = model
    if a.compile:
        t0 = time.time()
        try:
            cm = torch.compile(model)
            fwd_bwd(cm, fake)()
            torch.cuda.synchronize()
            t_comp = step_time(fwd_bwd(cm, fake), 3)
            log(f"compiled in {time.time() - t0:.1f} s: fwd+bwd {t_comp * 1e3:.1f} ms "
                f"({B * T / t_comp / 1e6:.2f} M tok/s)")
            metrics.update(compile_s=time.time() - t0, compiled_ms=t_comp * 1e3)
            if t_comp < t_eager:
                cmodel = cm
        except Exception as e:  # eager training is slower but correct
            log(f"torch.compile failed, training eagerly: {type(e).__name__}: {e}")
    model.zero_grad(set_to_none=True)
    del fake

    while prep.poll() is None:
        if time.time() > train_end - 30:
            prep.kill()
            log("prep did not finish in time")
            return 1
        time.sleep(0.5)
    if prep.returncode != 0:
        log(f"prep failed with exit code {prep.returncode}")
        return 1
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(a.work, "tokenizer.json"))
    with open(os.path.join(a.work, "prep.json")) as f:
        prep_stats = json.load(f)
    metrics["prep"] = prep_stats
    train = torch.from_numpy(np.fromfile(os.path.join(a.work, "train.bin"), dtype=np.uint16).astype(np.int32)).to(dev)
    val = torch.from_numpy(np.fromfile(os.path.join(a.work, "val.bin"), dtype=np.uint16).astype(np.int32)).to(dev)
    log(f"data: train {train.numel() / 1e6:.1f} M tokens, val {val.numel() / 1e6:.2f} M tokens; "
        f"{train_end - time.time():.0f} s left for training")

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() == 2 else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    t_train0 = time.time()
    budget = train_end - t_train0
    if budget < 20:
        log(f"only {budget:.0f} s left for training")
        return 1
    step, tokens, last_log, loss_hist = 0, 0, t_train0, []
    lr = 0.0
    while True:
        prog = (time.time() - t_train0) / budget
        if prog >= 1:
            break
        warm = min(1.0, (step + 1) / a.warmup_steps)
        tail = 1.0 if prog < 1 - a.decay_frac else max(0.0, (1 - prog) / a.decay_frac)
        lr = a.lr * warm * (a.min_lr_frac + (1 - a.min_lr_frac) * tail)
        for g in opt.param_groups:
            g["lr"] = lr
        acc = torch.zeros((), device=dev)
        for _ in range(A):
            x, y = get_batch(train, B, T, gen)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = cmodel(x, y) / A
            loss.backward()
            acc += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens += B * T * A
        if step % 25 == 0:
            lv = acc.item()
            loss_hist.append((step, tokens, lv))
            now = time.time()
            if now - last_log > 20 or step == 25:
                el = now - t_train0
                log(f"step {step} tokens {tokens / 1e6:.0f} M loss {lv:.4f} lr {lr:.2e} progress {prog:.2f} "
                    f"{tokens / el / 1e6:.2f} M tok/s")
                last_log = now
    torch.cuda.synchronize()
    train_s = time.time() - t_train0
    tok_s = tokens / train_s
    log(f"trained {step} steps, {tokens / 1e6:.1f} M tokens in {train_s:.0f} s ({tok_s / 1e6:.2f} M tok/s, "
        f"~{flops_tok * tok_s / 1e12:.0f} TFLOP/s model FLOPs), "
        f"{tokens / max(1, train.numel()):.2f} epochs")
    metrics.update(steps=step, tokens=tokens, train_s=train_s, tok_s=tok_s, tflops=flops_tok * tok_s / 1e12,
                   epochs=tokens / max(1, train.numel()), loss_hist=loss_hist,
                   final_train_loss=loss_hist[-1][2] if loss_hist else None)

    model.eval()
    vl, vn = eval_stream(model, val, T, 16, a.eval_tokens)
    fl, fn = eval_fim(model, os.path.join(a.work, "val_fim.npz"), dev)
    cpt = prep_stats["val_chars_per_token"]
    log(f"validation: loss {vl:.4f} ppl {math.exp(vl):.3f} over {vn / 1e6:.2f} M tokens "
        f"({vl / math.log(2) / cpt:.3f} bits/char); FIM middle loss {fl:.4f} over {fn} tokens")
    metrics.update(val_loss=vl, val_ppl=math.exp(vl), val_tokens_scored=vn, val_bits_per_char=vl / math.log(2) / cpt,
                   fim_middle_loss=fl, fim_tokens_scored=fn)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, os.path.join(a.work, "model.pt"))

    torch.set_num_threads(min(16, os.cpu_count() or 1))
    sd16 = f16_state(model)
    with open(os.path.join(a.work, "snippets.json")) as f:
        snippets = json.load(f)
    n_py = sum(1 for s in snippets if s["kind"] == "py")
    logit_snips = {0, 1, n_py} & set(range(len(snippets)))
    refs, snip_loss, snip_n, f32_err = references(cfg, sd16, snippets, logit_snips, res)
    log(f"held-out snippets (float64, f16 weights): ppl {math.exp(snip_loss):.3f} over {snip_n} tokens; "
        f"float32 vs float64 logits rel err {f32_err:.1e}")
    for r in refs:
        log(f"  {r['name']}: {len(r['ids'])} tokens, ppl {r['ppl']:.3f}")
    ref_doc = {
        "model": f"{a.name}.gguf", "bos_id": BOS, "n_vocab": cfg.vocab, "logits_file": "logits.f32",
        "about": "float64 PyTorch forward on CPU with the GGUF's weights (f16-rounded): ids are the HF "
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
    export.export_gguf(gguf, sd16, cfg.as_dict(), os.path.join(a.work, "tokenizer.json"), a.name, desc)
    n_checked = export.check_gguf(gguf, sd16, cfg.as_dict())
    size = os.path.getsize(gguf)
    log(f"exported {gguf}: {size / 1e6:.2f} MB, {n_checked} tensors read back identical")
    metrics.update(gguf_bytes=size)

    samples = []
    gm = model.float()
    prompts = [("L2R", "def fib(", ""), ("L2R", "import os\n\n\ndef list_files(path):\n", ""),
               ("L2R", "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n", ""),
               ("L2R", "class Stack:\n    def __init__(self):\n", ""),
               ("FIM", "def add(a, b):\n    ", "\n\n\nprint(add(1, 2))\n"),
               ("FIM", "def is_even(n):\n    return ", "\n")]
    for kind, pre, suf in prompts:
        if kind == "L2R":
            p_ids = [BOS] + tok.encode(pre, add_special_tokens=False).ids
        else:
            p_ids = ([BOS, 1] + tok.encode(pre, add_special_tokens=False).ids + [2]
                     + tok.encode(suf, add_special_tokens=False).ids + [3])
        for temp in (0.0, 0.7):
            outs = generate(gm, tok, p_ids, 96, dev, temperature=temp, seed=a.seed)
            samples.append(f"=== {kind} temperature {temp} prefix={pre!r} suffix={suf!r}\n{outs}\n")
    with open(os.path.join(res, "samples.txt"), "w") as f:
        f.write("\n".join(samples))
    log("samples:\n" + "\n".join(samples[:4] + samples[8:10]))

    for fn_ in ("tokenizer.json", "sources.tsv", "prep.json"):
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
        ("final train loss", f"{metrics['final_train_loss']:.4f}" if loss_hist else "-"),
        ("val loss / ppl (bf16)", f"{vl:.4f} / {math.exp(vl):.3f} ({vl / math.log(2) / cpt:.3f} bits/char)"),
        ("val FIM middle loss", f"{fl:.4f}"),
        ("snippets ppl (f64, f16 w)", f"{math.exp(snip_loss):.3f} over {snip_n} tokens"),
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
