#!/usr/bin/env python3
"""rag_quality.py - retrieval quality of octet's index against a plain baseline.

Builds a query set from a code base: for every Python function with a
docstring (--lang python) or C function definition with a leading comment
alone on its lines (--lang c, e.g. SQLite's src/: apt-get source sqlite3),
the docstring or comment is the query and the function is the answer. They
are blanked out (replaced by "" and empty lines, or empty lines, so line
numbers stay) in a copy of the corpus, committed to a temporary git
repository, so the answer is never a text match. Then both indexes are
asked every query:

  octet     rag/ through tools/bench/rag_bench (chunks at definitions, split
            identifiers, porter stemming, column weights, symbol boost)
  baseline  SQLite FTS5 here in Python: fixed 60-line windows, the default
            unicode61 tokenizer, BM25, the query's words OR-ed
  windows   octet with its chunker left out: the same corpus with ".txt"
            added to every source file's name, so octet cuts them into line windows
            (everything else as for "octet"): what chunking at definitions
            and symbol names bring

With --encoder FILE (the retrieval encoder, models/octet-embed.gguf) octet's
index is given its vectors (rag_bench embed: the time is reported) and asked
again in two more modes, through the same C code octet search runs:

  dense     the encoder's ranking alone (exact int8 scan of every chunk)
  hybrid    octet's default with an encoder: BM25 and the dense ranking
            fused (rag/fuse.h), overlapping hits merged

A hit is a returned chunk of the right file whose lines contain the
function's "def" line (C: the line with its name). Reports recall@5, recall@10, MRR@5, MRR@10 and octet's
query latency (p50/p95, in process; with the encoder also the mean time of
embedding a query and of the scan).

Usage: rag_quality.py --bench BIN --src DIR --work DIR [--lang python|c] [--queries N]
                      [--seed S] [--encoder FILE] [--threads N]
"""
import argparse
import ast
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time

SKIP_DIRS = {"site-packages", "__pycache__", ".git"}
SUFFIXES = {"python": (".py",), "c": (".c", ".h")}


def copy_corpus(src, dst):
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("config-"))
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            s = os.path.join(root, f)
            if os.path.islink(s) or not os.path.isfile(s):
                continue
            shutil.copyfile(s, os.path.join(dst, rel, f))


def documented_functions(path):
    """(def_line, doc_first, doc_last, col, docstring) for blankable functions."""
    try:
        with open(path, "rb") as f:
            src = f.read()
        tree = ast.parse(src)
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return []
    lines = src.decode("utf-8", "replace").split("\n")
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=True)
        if not doc or len(re.findall(r"\w+", doc)) < 3 or not node.body:
            continue
        ds = node.body[0]
        if ds.lineno == node.lineno or ds.end_lineno is None:
            continue  # one-line def: the docstring shares the def line
        first, last = ds.lineno, ds.end_lineno
        # the docstring must be alone on its lines
        if lines[first - 1][: ds.col_offset].strip() or lines[last - 1][ds.end_col_offset:].strip():
            continue
        out.append((node.lineno, first, last, ds.col_offset, doc))
    return out


def blank(path, funcs):
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for _, first, last, col, _ in funcs:
        lines[first - 1] = b" " * col + b'""'
        for i in range(first, last):
            lines[i] = b""
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))


def c_documented(path):
    """(name_line, com_first, com_last, desc) of C function definitions whose leading comment is alone on
    its lines (tools/encoder/extract.py finds them, as for the encoder's training pairs)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "encoder"))
    import extract  # noqa: E402

    with open(path, "rb") as f:
        src = f.read().decode("utf-8", "replace")
    lines = src.split("\n")
    out = []
    for name_line, start, end, cf, cl, desc, is_def, c0, c1 in extract.c_functions(src):
        if not is_def or cl >= start:
            continue
        first, last = lines[cf - 1].lstrip(), lines[cl - 1].rstrip()
        if not (first.startswith("/*") or first.startswith("//")):
            continue
        if not (last.endswith("*/") or lines[cl - 1].lstrip().startswith("//")):
            continue
        out.append((name_line, cf, cl, desc))
    return out


def blank_lines(path, ranges):
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for first, last in ranges:
        for i in range(first - 1, last):
            lines[i] = b""
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))


def git(cwd, *args):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
                   cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def is_text_file(path, limit=1 << 20):
    try:
        if os.path.getsize(path) > limit:
            return None
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data[:8000]:
        return None
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


def baseline_index(corpus, db):
    """Fixed 60-line windows, default unicode61 tokenizer: the plain baseline."""
    if os.path.exists(db):
        os.remove(db)
    con = sqlite3.connect(db)
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(path UNINDEXED, start UNINDEXED, end UNINDEXED, text)")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=corpus, check=True,
                           stdout=subprocess.PIPE).stdout.decode().split("\0")
    n = 0
    with con:
        for rel in files:
            if not rel:
                continue
            text = is_text_file(os.path.join(corpus, rel))
            if text is None:
                continue
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            for a in range(0, len(lines), 60):
                con.execute("INSERT INTO fts VALUES (?, ?, ?, ?)",
                            (rel, a + 1, min(a + 60, len(lines)), "\n".join(lines[a:a + 60])))
                n += 1
    return con, n


def baseline_query(con, text, k):
    words = []
    for w in re.findall(r"\w+", text.lower()):
        if w not in words:
            words.append(w)
    if not words:
        return []
    q = " OR ".join('"%s"' % w.replace('"', '""') for w in words)
    return con.execute("SELECT path, start, end FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?",
                       (q, k)).fetchall()


def score(results, queries, k_recall=(5, 10)):
    recall = {k: 0 for k in k_recall}
    mrr = mrr5 = 0.0
    for qid, (rel, line, _) in queries.items():
        rank = None
        for i, (path, start, end) in enumerate(results.get(qid, [])[:10]):
            if path == rel and start <= line <= end:
                rank = i + 1
                break
        if rank:
            mrr += 1.0 / rank
            mrr5 += 1.0 / rank if rank <= 5 else 0.0
            for k in k_recall:
                if rank <= k:
                    recall[k] += 1
    n = len(queries)
    return {k: recall[k] / n for k in k_recall}, mrr / n, mrr5 / n


def run_octet(bench, corpus, db, qfile, label, mode=None, encoder=None):
    if mode is None:
        out = subprocess.run([bench, "update", corpus, db], check=True, stdout=subprocess.PIPE, text=True).stdout
        secs, files, _, chunks, dbb = out.split()
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        mean = con.execute("SELECT avg(end_line - start_line + 1) FROM chunks").fetchone()[0]
        con.close()
        print("%s index: %s files, %s chunks (%.1f lines on average), %.1f MiB, %.2f s"
              % (label, files, chunks, mean, int(dbb) / 2**20, float(secs)))
    args = [bench, "query", corpus, db, qfile, "10"] + ([mode, encoder] if mode else [])
    p = subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    res = {}
    for line in p.stdout.splitlines():
        qid, rank, path, start, end, _ = line.split("\t")
        res.setdefault(qid, []).append((path, int(start), int(end)))
    return res, p.stderr.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="the rag_bench binary")
    ap.add_argument("--src", required=True, help="the code base (e.g. the Python standard library)")
    ap.add_argument("--lang", choices=sorted(SUFFIXES), default="python",
                    help="python: docstrings of functions; c: leading comments of function definitions")
    ap.add_argument("--work", required=True, help="scratch directory (emptied)")
    ap.add_argument("--queries", type=int, default=2000, help="queries sampled (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-ablation", dest="ablation", action="store_false",
                    help="skip the windows-only run of octet")
    ap.add_argument("--encoder", help="the retrieval encoder: also measure dense and hybrid retrieval")
    ap.add_argument("--threads", type=int, default=2, help="threads embedding the chunks (default 2)")
    a = ap.parse_args()

    corpus = os.path.join(a.work, "corpus")
    if os.path.exists(a.work):
        shutil.rmtree(a.work)
    os.makedirs(corpus)
    copy_corpus(a.src, corpus)
    suffixes = SUFFIXES[a.lang]

    candidates = []
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for f in sorted(files):
            if not f.endswith(suffixes):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, corpus)
            if a.lang == "c":
                funcs = c_documented(path)
                if funcs:
                    blank_lines(path, [(cf, cl) for _, cf, cl, _ in funcs])
                    candidates += [(rel, nl, d) for nl, _, _, d in funcs]
                continue
            funcs = documented_functions(path)
            if funcs:
                blank(path, funcs)
                candidates += [(rel, fn[0], fn[4]) for fn in funcs]
    random.Random(a.seed).shuffle(candidates)
    if a.queries:
        candidates = candidates[: a.queries]
    queries = {"q%d" % i: c for i, c in enumerate(candidates)}
    git(corpus, "init", "-q", ".")
    git(corpus, "add", "-A")
    git(corpus, "commit", "-q", "-m", "corpus with blanked docstrings")

    qfile = os.path.join(a.work, "queries.tsv")
    with open(qfile, "w") as f:
        for qid, (_, _, doc) in queries.items():
            f.write("%s\t%s\n" % (qid, " ".join(doc.split())))
    with open(os.path.join(a.work, "targets.tsv"), "w") as f:
        for qid, (rel, line, _) in queries.items():
            f.write("%s\t%s\t%d\n" % (qid, rel, line))

    odb = os.path.join(a.work, "octet.sqlite")
    octet, latency = run_octet(a.bench, corpus, odb, qfile, "octet")
    modes = {}
    if a.encoder:
        out = subprocess.run([a.bench, "embed", corpus, odb, a.encoder, str(a.threads)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        secs, embedded, total = out.split()
        print("vectors: %s chunk texts embedded for %s chunks in %.1f s (%.1f ms a text, %d threads), %.1f MiB now"
              % (embedded, total, float(secs), 1e3 * float(secs) / max(1, int(embedded)), a.threads,
                 os.path.getsize(odb) / 2**20))
        for mode in ("dense", "hybrid"):
            modes[mode] = run_octet(a.bench, corpus, odb, qfile, mode, mode, a.encoder)

    windows = None
    if a.ablation:
        wcorpus = os.path.join(a.work, "corpus_windows")
        shutil.copytree(corpus, wcorpus, ignore=shutil.ignore_patterns(".git"))
        for root, _, files in os.walk(wcorpus):
            for f in files:
                if f.endswith(suffixes):
                    os.rename(os.path.join(root, f), os.path.join(root, f + ".txt"))
        git(wcorpus, "init", "-q", ".")
        git(wcorpus, "add", "-A")
        git(wcorpus, "commit", "-q", "-m", "windows only")
        res, _ = run_octet(a.bench, wcorpus, os.path.join(a.work, "windows.sqlite"), qfile, "windows")
        windows = {q: [(p[:-4] if p.endswith(tuple(x + ".txt" for x in suffixes)) else p, s, e) for p, s, e in hits]
                   for q, hits in res.items()}

    t = time.time()
    con, nwin = baseline_index(corpus, os.path.join(a.work, "baseline.sqlite"))
    print("baseline index: %d windows of 60 lines (at most), %.2f s" % (nwin, time.time() - t))
    base = {qid: baseline_query(con, doc, 10) for qid, (_, _, doc) in queries.items()}
    with open(os.path.join(a.work, "baseline.tsv"), "w") as f:
        for qid, hits in base.items():
            for i, (path, start, end) in enumerate(hits):
                f.write("%s\t%d\t%s\t%d\t%d\n" % (qid, i + 1, path, start, end))

    (orc, omrr, omrr5), (brc, bmrr, bmrr5) = score(octet, queries), score(base, queries)
    print("queries: %d documented functions (%s blanked in the corpus)"
          % (len(queries), "docstrings" if a.lang == "python" else "leading comments"))
    print("%-10s %10s %10s %10s %10s" % ("", "recall@5", "recall@10", "MRR@5", "MRR@10"))
    row = "%-10s %10.3f %10.3f %10.3f %10.3f"
    print(row % ("octet", orc[5], orc[10], omrr5, omrr))
    for mode, (res, _) in modes.items():
        mrc, mmrr, mmrr5 = score(res, queries)
        print(row % (mode, mrc[5], mrc[10], mmrr5, mmrr))
    if windows is not None:
        wrc, wmrr, wmrr5 = score(windows, queries)
        print(row % ("windows", wrc[5], wrc[10], wmrr5, wmrr))
    print(row % ("baseline", brc[5], brc[10], bmrr5, bmrr))
    print("recall@5 ratio: %.2fx (target 1.2x)" % (orc[5] / brc[5] if brc[5] else float("inf")))
    if "hybrid" in modes and brc[5]:
        print("hybrid recall@5 ratio: %.2fx" % (score(modes["hybrid"][0], queries)[0][5] / brc[5]))
    print("octet query latency: %s" % latency)
    for mode, (_, lat) in modes.items():
        print("%s query latency: %s" % (mode, lat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
