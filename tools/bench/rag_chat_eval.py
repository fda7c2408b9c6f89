#!/usr/bin/env python3
"""rag_chat_eval.py - how well a model answers the TUI's chat with retrieval on held-out code.

The TUI sends the retrieved chunks (rag/pack.c's blocks) and the user's question in one user turn, under
its system prompt (flows/prompt.c, tui/). This script builds such turns from the Python standard library's
`email`, `json` and `http` packages, which tools/train holds out of training (models/README.md, "Data"),
with tools/train/sft.py's own builder (the function asked about among other functions of its file and a
window of another file), asks octet greedily (`octet run --chat --system ...`) and scores each answer:

  name   the answer names the function the question is about (`name`, or name( )
  where  it also gives its file (the path as the blocks show it)
  first  the function's name is the first identifier the answer puts in backticks (the answer leads with it)

A model that ignores the retrieved code scores near 0 on `where`; one that copies from the right block
scores high. Run from the repository root:

    python3 tools/bench/rag_chat_eval.py --octet $PWD/octet -m $PWD/models/octet-code.gguf --n 100 \
        --out rag_chat.json

`--lang c --src DIR` asks the same questions about C: the documented functions sft.c_functions() finds in
the .c and .h files under DIR, in ```c blocks, their paths as the repository shows them (DIR's own name
first: `src/btree.c`), the window of another file taken from another C file of DIR. DIR is SQLite 3.40.1's
src/ (octet's held-out C repository, never trained on: `cd /tmp && apt-get source sqlite3`), without its
test harness (test*.c), as the Python set leaves out tests. The Python questions (the default) are the same
as before this option for the same --seed.

    python3 tools/bench/rag_chat_eval.py --lang c --src /tmp/sqlite3-3.40.1/src --octet $PWD/octet \
        -m $PWD/models/octet-code.gguf --n 100 --out rag_chat_c.json
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import sysconfig
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import sft  # noqa: E402  (the prompt builder of the training data, so both see the same text)

PACKAGES = ("email", "json", "http")


def held_out_files():
    std = sysconfig.get_paths()["stdlib"]
    out = []
    for pkg in PACKAGES:
        for root, dirs, files in os.walk(os.path.join(std, pkg)):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "tests", "test"))
            for f in sorted(files):
                if f.endswith(".py"):
                    path = os.path.join(root, f)
                    out.append((path, os.path.relpath(path, std)))
    return out


def held_out_c_files(src):
    """The C sources and headers under SRC, as paths and as the repository shows them (SRC's own name first:
    src/btree.c), without SQLite's test harness (test*.c), as the Python set leaves out tests."""
    src = os.path.abspath(src)
    out = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            if f.endswith((".c", ".h")) and not f.startswith("test"):
                path = os.path.join(root, f)
                out.append((path, os.path.join(os.path.basename(src), os.path.relpath(path, src))))
    return out


def read_texts(files):
    texts = {}
    for path, rel in files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            texts[rel] = fh.read()
    return texts


def samples(n, seed, lang="python", src=None):
    """N (question kind, user text, function name, path) from the held-out code, reproducibly."""
    rng = random.Random(seed)
    texts = read_texts(held_out_files() if lang == "python" else held_out_c_files(src))
    rels = sorted(texts)
    out = []
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        rel = rng.choice(rels)
        try:
            funcs = sft.py_functions(texts[rel], rel) if lang == "python" else sft.c_functions(texts[rel], rel)
        except SyntaxError:
            continue
        if len(funcs) < 2:
            continue
        others = [r for r in rels if r != rel]
        if lang == "python":  # path and text of two draws, kept so that the Python questions stay as they were
            other = (rng.choice(others), texts[rng.choice(others)]) if others else None
        else:
            o = rng.choice(others) if others else None
            other = (o, texts[o]) if o else None
        got = sft.rag_chat_samples(texts[rel], funcs, rel, rng, other)
        if not got:
            continue
        _, pieces = got[0]
        user = next(t for t, _ in pieces if t.startswith("user\n"))[len("user\n"):]
        reply = next(t for t, trained in pieces if trained)
        m = re.match(r"`([A-Za-z_][A-Za-z0-9_]*)[`(]", reply) or re.match(r"Call `([A-Za-z_][A-Za-z0-9_]*)\(", reply)
        if not m:
            continue
        name = m.group(1)
        q = user.rsplit("\n\n", 1)[1]
        kind = ("how" if re.match(r"How (do I|is)", q) else
                "which" if re.match(r"(Which function|Where is|Find the code|Is there a function)", q) else "what")
        out.append({"kind": kind, "user": user, "name": name, "path": rel, "expected": reply})
    return out


def ask(octet, model, user, n_predict, extra):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(user)
        name = fh.name
    try:
        r = subprocess.run([octet, "run", "-m", model, "--chat", "--system", sft.TUI_SYSTEM, "-f", name, "--temp",
                            "0", "-n", str(n_predict)] + extra, capture_output=True, text=True, timeout=300)
        return r.stdout, r.returncode
    finally:
        os.unlink(name)


def score(s, answer):
    name = s["name"]
    named = re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", answer) is not None
    where = named and s["path"] in answer
    ticks = re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)", answer)
    first = bool(ticks) and ticks[0].split(".")[-1] == name
    return {"ok_name": named, "ok_where": where, "ok_first": first}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True, help="the octet binary (absolute path)")
    ap.add_argument("-m", "--model", required=True, help="the GGUF model (absolute path)")
    ap.add_argument("--n", type=int, default=60, help="questions (default 60)")
    ap.add_argument("--lang", choices=("python", "c"), default="python",
                    help="python: the stdlib's held-out packages (default); c: the C sources under --src")
    ap.add_argument("--src", help="with --lang c: the held-out C source directory (SQLite 3.40.1's src/)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n-predict", type=int, default=160)
    ap.add_argument("--out", help="write every question, answer and score here (JSON)")
    ap.add_argument("extra", nargs="*", help="more octet run arguments (after --)")
    a = ap.parse_args()
    if a.lang == "c" and not (a.src and os.path.isdir(a.src)):
        sys.exit("rag_chat_eval: --lang c needs --src DIR (SQLite's src/: cd /tmp && apt-get source sqlite3)")
    ss = samples(a.n, a.seed, a.lang, a.src)
    if not ss:
        sys.exit("rag_chat_eval: no held-out functions found" +
                 (" under the standard library" if a.lang == "python" else f" under {a.src}"))
    rows = []
    t0 = time.time()
    for i, s in enumerate(ss):
        ans, rc = ask(a.octet, a.model, s["user"], a.n_predict, a.extra)
        sc = score(s, ans) if rc == 0 else {"ok_name": False, "ok_where": False, "ok_first": False}
        rows.append(dict(s, answer=ans, rc=rc, **sc))
        print(f"\r{i + 1}/{len(ss)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    tot = {k: sum(r["ok_" + k] for r in rows) for k in ("name", "where", "first")}
    by = {}
    for r in rows:
        by.setdefault(r["kind"], []).append(r)
    where = (f"the held-out stdlib packages ({', '.join(PACKAGES)})" if a.lang == "python" else
             f"the held-out C sources {os.path.abspath(a.src)}")
    print(f"model {os.path.basename(a.model)}: {len(rows)} questions from {where}, {time.time() - t0:.0f} s")
    for k in ("name", "where", "first"):
        print(f"  {k:6s} {tot[k]:3d}/{len(rows)} = {tot[k] / len(rows):.1%}   " +
              "  ".join(f"{kind} {sum(r['ok_' + k] for r in rs)}/{len(rs)}" for kind, rs in sorted(by.items())))
    fails = sum(r["rc"] != 0 for r in rows)
    if fails:
        print(f"  octet failed on {fails} question(s)")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"model": a.model, "lang": a.lang, "totals": tot, "n": len(rows), "rows": rows}, fh, indent=1)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
