#!/usr/bin/env python3
"""depth_plot.py - draw decode speed against context depth, octet and llama.cpp, from the figures
recorded in docs/data/decode_depth.csv (one row per measured point; see its header), as an SVG for
docs/BENCHMARKS.md. Needs matplotlib (not a dependency of octet: a venv will do).

  depth_plot.py docs/data/decode_depth.csv --run third --out docs/decode_depth.svg
"""

import argparse
import csv
import sys

# style, label, where a point's figure is written (f16 below its point: it lies close to INT8's)
STYLE = {("octet", "int8"): ("o-", "octet, INT8 KV", (4, 5)), ("octet", "f16"): ("s--", "octet, f16 KV", (4, -13)),
         ("llama.cpp", "q8_0"): ("^-.", "llama.cpp, q8_0 KV (flash attention)", (4, 5))}


def load(path, run):
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    rows = [r for r in rows if r["run"] == run]
    if not rows:
        sys.exit(f"{path}: no rows of run '{run}'")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--run", required=True, help="the value of the run column to plot")
    ap.add_argument("--out", required=True, help="the SVG to write")
    a = ap.parse_args()
    rows = load(a.csv, a.run)
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "octet"  # the same figures give the same file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    for (engine, kv), (style, label, off) in STYLE.items():
        pts = sorted((int(r["depth"]), float(r["tok_s"])) for r in rows if r["engine"] == engine and r["kv"] == kv)
        if pts:
            ax.plot([p[0] / 1024 for p in pts], [p[1] for p in pts], style, label=label)
            for d, v in pts:
                ax.annotate(f"{v:.0f}", (d / 1024, v), textcoords="offset points", xytext=off, fontsize=8)
    ax.set_xlabel("context depth (K tokens already in the KV cache)")
    ax.set_ylabel("decode tokens / s")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Decode against depth, random Qwen2.5-Coder-7B shape, INT8 weights, {rows[0]['card']} "
                 f"({a.run} run)", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(a.out, metadata={"Date": None})


if __name__ == "__main__":
    main()
