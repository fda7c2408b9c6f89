#!/usr/bin/env python3
"""bench_report.py - turn tools/gpu/bench.sh's runs into a CSV, a plot and a table.

  bench_report.py RUNS.jsonl --csv OUT.csv --png OUT.png --title TEXT

RUNS.jsonl has one line per `octet bench` run, written by bench.sh:
  {"test": T, "kv": ..., "depth": D, "prompt": N, "gen": N, "ctx": C,
   "batch": B, "rc": EXIT, "smi_base_mib": M, "smi_max_mib": M,
   "bench": octet bench --json's object, or null when the run failed}
T is "short" (prefill of a short prompt, then decode from an empty cache),
"prefill_long" (the long prompt) or "depth" (decode after D tokens, in the
long context). ctx and batch are what bench.sh asked for (0: octet's
default); smi_* are nvidia-smi's memory.used before and at most during the
run (null without nvidia-smi).

The CSV has one row per run; the PNG plots decode tok/s against depth for
each KV format; the table, printed on stdout, sets the figures beside the
issue's targets. Exit status 1 when a run failed or a figure is missing, so
bench.sh can report it.
"""

import argparse
import csv
import json
import sys

# issue 7's targets for INT8 weights and INT8 KV on the Qwen2.5-7B shape
TARGET_DECODE_SHORT = 340.0
TARGET_DECODE_32K = 250.0
TARGET_PREFILL_512 = 30000.0
TARGET_PREFILL_32K = 15000.0
TARGET_VRAM_32K_GIB = 8.5
GIB = 1024.0 ** 3

COLUMNS = ["test", "weights", "kv", "prompt", "gen", "depth", "ctx", "batch", "prefill_tok_s", "prefill_tok_s_sd",
           "decode_tok_s", "decode_tok_s_sd", "weights_bytes", "kv_bytes", "scratch_bytes", "smi_used_mib",
           "load_s", "status"]


def load_runs(path):
    runs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{n}: not a JSON line: {e}") from None
    return runs


def smi_used(r):
    if r.get("smi_max_mib") is None or r.get("smi_base_mib") is None:
        return None
    return r["smi_max_mib"] - r["smi_base_mib"]


def csv_row(r):
    b = r.get("bench") or {}
    row = {k: b.get(k, r.get(k, "")) for k in COLUMNS}
    row.update(test=r["test"], ctx=r["ctx"], batch=r["batch"], kv=r["kv"], depth=r["depth"])
    row["smi_used_mib"] = "" if smi_used(r) is None else smi_used(r)
    row["status"] = "ok" if r["rc"] == 0 and b else f"failed (exit {r['rc']})"
    return row


def find(runs, test, kv, pred):
    """The run of TEST with KV format KV whose settings satisfy PRED, or None."""
    for r in runs:
        if r["test"] == test and r["kv"] == kv and pred(r):
            return r
    return None


def fmt_rate(r, key):
    if r is None:
        return "not run"
    b = r.get("bench")
    if r["rc"] != 0 or not b:
        return f"failed ({r['rc']})"
    return f"{b[key]:,.0f} tok/s"


def verdict(r, key, target, more_is_better=True):
    if r is None or r["rc"] != 0 or not r.get("bench"):
        return "no figure"
    v = r["bench"][key]
    return "meets" if (v >= target if more_is_better else v <= target) else "MISSES"


def plot(runs, png, title):
    # imported here: main() has written the CSV by now, so a missing matplotlib loses only the plot
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for kv, style in (("int8", "o-"), ("f16", "s--")):
        pts = sorted((r["depth"], r["bench"]["decode_tok_s"]) for r in runs
                     if r["test"] == "depth" and r["kv"] == kv and r["rc"] == 0 and r.get("bench"))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{kv.upper()} KV cache")
    ax.set_xscale("log", base=2)
    depths = sorted({r["depth"] for r in runs if r["test"] == "depth"})
    ax.set_xticks(depths, [f"{d / 1024:.0f}K" if d >= 1024 else str(d) for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("context depth (tokens already in the KV cache)")
    ax.set_ylabel("decode tokens / s")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(png)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("--title", required=True, help="model, device and date, for the plot and the table")
    a = ap.parse_args()
    runs = load_runs(a.runs)
    with open(a.csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in runs:
            w.writerow(csv_row(r))
    plot(runs, a.png, a.title)

    print(f"\n== octet bench: {a.title}")
    print(f"{'':36s} {'INT8 KV':>14s} {'f16 KV':>14s}   target (INT8 weights and KV)")

    def row(name, test, key, pred=lambda r: True, target=None):
        r8, r16 = find(runs, test, "int8", pred), find(runs, test, "f16", pred)
        v = f">= {target:,.0f}  {verdict(r8, key, target)}" if target else ""
        print(f"{name:36s} {fmt_rate(r8, key):>14s} {fmt_rate(r16, key):>14s}   {v}".rstrip())

    short = next((r for r in runs if r["test"] == "short"), None)
    if short:
        row(f"decode tg{short['gen']}, empty cache", "short", "decode_tok_s", target=TARGET_DECODE_SHORT)
        row(f"prefill {short['prompt']} (batch {short['batch']})", "short", "prefill_tok_s",
            target=TARGET_PREFILL_512)
    long = next((r for r in runs if r["test"] == "prefill_long"), None)
    if long:
        row(f"prefill {long['prompt']} (batch {long['batch']})", "prefill_long", "prefill_tok_s",
            target=TARGET_PREFILL_32K)
    depths = sorted({r["depth"] for r in runs if r["test"] == "depth"})
    for d in depths:
        gen = next(r["gen"] for r in runs if r["test"] == "depth" and r["depth"] == d)
        row(f"decode tg{gen} after {d} tokens", "depth", "decode_tok_s", lambda r, d=d: r["depth"] == d,
            TARGET_DECODE_32K if d == depths[-1] else None)
    ok = bool(runs) and all(r["rc"] == 0 and r.get("bench") for r in runs)
    vr = find(runs, "depth", "int8", lambda r: r["depth"] == depths[-1]) if depths else None
    if vr and vr.get("bench"):
        b = vr["bench"]
        own = (b["weights_bytes"] + b["kv_bytes"] + b["scratch_bytes"]) / GIB
        print(f"{'VRAM, ctx %d: weights+KV+scratch' % vr['ctx']:36s} {own:>10.2f} GiB {'':>14s}   "
              f"<= {TARGET_VRAM_32K_GIB}  {'meets' if own <= TARGET_VRAM_32K_GIB else 'MISSES'}")
        print(f"{'  weights / KV / scratch (GiB)':36s} {b['weights_bytes'] / GIB:.2f} / {b['kv_bytes'] / GIB:.2f} / "
              f"{b['scratch_bytes'] / GIB:.2f}")
        used = smi_used(vr)
        if used is not None:
            print(f"{'  nvidia-smi, most in use':36s} {used / 1024:>10.2f} GiB   (above the {vr['smi_base_mib']} MiB "
                  f"in use before the run; includes the CUDA context)")
    else:
        print("VRAM at the deepest context: no figure")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
