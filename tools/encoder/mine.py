"""mine.py - (description, code) pairs and hard negatives for the retrieval encoder.

Files come from tools/train/data.py's scan (the same license rules as the
embedded model: permissively licensed installed distributions and
/usr/include headers with a permissive notice), minus what the encoder's
benchmarks use or must never see:
  * the Python standard library (the Python benchmark repository) and
    copies of it inside distributions (setuptools/_distutils, backports...);
    train.py also drops every pair whose description is a benchmark query;
  * anything whose path mentions sqlite (the C benchmark repository is
    SQLite's source; sqlite3.h would be public domain anyway, which the
    license rules do not accept);
  * tests/, test/, testing/ directories and files named test_*.py / *_test.py;
  * vendored copies, generated files and non-permissive notices (data.py).
With --c-corpus, the C projects of tools/train/ccorpus.sh (Debian source
packages with permissive licenses) are mined too. The distributions and
projects data.py holds out for validation (requests, click, rich, pybind11;
libyaml) give the encoder's validation pairs; everything else trains.

Pairs (extract.py): Python docstrings / leading '#' comments and C/C++ leading
comments of functions and prototypes, removed from the code. Exact duplicates
(same code or same description+name) are dropped. Each pair gets a hard
negative: the code of another pair of the same package that BM25 ranks
highest for its description (ties to the own code skipped; pairs with the
same description are never each other's negative).

  python3 tools/encoder/mine.py --out pairs.json [--workers N]   (standalone: counts and samples)
"""

import argparse
import hashlib
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from multiprocessing import Pool

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.append(os.path.join(here, "..", "train"))
import data  # noqa: E402  (tools/train/data.py: the license rules)
import extract  # noqa: E402

_TEST_DIR = {"tests", "test", "testing", "unittests", "unit_tests"}
_TEST_FILE = re.compile(r"(^test_.*\.py$|_test\.py$|^conftest\.py$)")
_HELD_OUT = re.compile(r"sqlite", re.I)
# copies of standard-library code inside distributions (the stdlib is the Python benchmark)
_STDLIB_COPIES = {"_distutils", "distutils", "backports", "importlib_metadata", "importlib_resources",
                  "typing_extensions.py", "mock", "dataclasses.py", "enum", "exceptiongroup"}
MAX_FILE = 400_000


def _keep(c):
    if c.source == "stdlib":
        return False
    rel = c.rel.replace("\\", "/")
    parts = rel.split("/")
    if any(p in _TEST_DIR for p in parts[:-1]) or _TEST_FILE.search(parts[-1]):
        return False
    if _HELD_OUT.search(c.path) or any(p in _STDLIB_COPIES for p in parts[:-1]) or parts[0] in _STDLIB_COPIES:
        return False
    return c.size <= MAX_FILE


def _pairs_of_file(job):
    path, kind, package, dist, split, lic = job
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return []
    if data.file_license(raw[:4000].decode("utf-8", "replace"))[1]:
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if data._GENERATED.search(text, 0, 3000):
        return []
    out = []
    try:
        if kind == "py":
            for desc, code, line in extract.python_pairs(text):
                out.append((desc, code, "py", package, dist, split, lic, path, line, True))
        else:
            for desc, code, line, is_def in extract.c_pairs(text):
                out.append((desc, code, "c", package, dist, split, lic, path, line, is_def))
    except RecursionError:
        return []
    return out


_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[a-z]+")
_STOP = set("the a an of to in and or is are be for on with by as at this that it its from if not "
            "return returns self none true false".split())


def words(text):
    return [w.lower() for w in _WORD.findall(text) if len(w) > 1 and w.lower() not in _STOP]


def _hard_negatives(job):
    """For one package: the BM25-best other pair's index (or -1) for each pair."""
    idx, descs, codes = job
    n = len(idx)
    if n < 2:
        return idx, [-1] * n
    vocab = {}
    doc_terms = []
    for c in codes:
        cnt = Counter(words(c[:4000]))
        doc_terms.append(cnt)
        for t in cnt:
            vocab.setdefault(t, len(vocab))
    V = len(vocab)
    df = np.zeros(V)
    for cnt in doc_terms:
        for t in cnt:
            df[vocab[t]] += 1
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    lens = np.array([sum(c.values()) for c in doc_terms], dtype=np.float64)
    avg = max(1.0, lens.mean())
    # inverted index: term -> (doc ids, bm25 weights)
    post = defaultdict(lambda: ([], []))
    for i, cnt in enumerate(doc_terms):
        norm = 1.2 * (0.25 + 0.75 * lens[i] / avg)
        for t, tf in cnt.items():
            j = vocab[t]
            p = post[j]
            p[0].append(i)
            p[1].append(idf[j] * tf * 2.2 / (tf + norm))
    post = {j: (np.array(a, dtype=np.int64), np.array(b)) for j, (a, b) in post.items()}
    out = []
    score = np.zeros(n)
    for i in range(n):
        qt = {vocab[t] for t in words(descs[i]) if t in vocab}
        if not qt:
            out.append(-1)
            continue
        score[:] = 0
        for j in qt:
            d, w = post[j]
            score[d] += w
        score[i] = -1
        best = -1
        top = np.argpartition(-score, min(8, n - 1))[:8]
        for k in top[np.argsort(-score[top])]:
            if score[k] <= 0:
                break
            if descs[k] != descs[i] and codes[k] != codes[i]:
                best = int(k)
                break
        out.append(best)
    return idx, out


def mine(log, workers=16, max_pairs_per_package=8000, seed=1234, c_corpus=None):
    """C_CORPUS: tools/train/ccorpus.sh's ccorpus/ folder (real C projects beside the headers), or None."""
    t0 = time.time()
    cands, excluded = data.scan(log, c_corpus=c_corpus)
    kept = [c for c in cands if _keep(c)]
    log(f"mine: {len(kept)} of {len(cands)} candidate files kept (stdlib, tests, sqlite dropped)")
    jobs = [(c.path, c.kind, c.package, c.dist, c.split, c.license) for c in kept]
    jobs.sort(key=lambda j: -os.path.getsize(j[0]))  # big files first: better load balance
    with Pool(workers) as pool:
        res = pool.map(_pairs_of_file, jobs, chunksize=8)
    t1 = time.time()
    raw = [p for r in res for p in r]
    log(f"mine: {len(raw)} raw pairs in {t1 - t0:.1f} s")
    # dedup: exact code, then (description, first line)
    seen_code, seen_desc = set(), set()
    pairs = []
    for desc, code, kind, package, dist, split, lic, path, line, is_def in raw:
        hc = hashlib.sha1(code.encode("utf-8", "replace")).digest()
        hd = hashlib.sha1((desc + "\0" + code.split("\n", 1)[0]).encode("utf-8", "replace")).digest()
        if hc in seen_code or hd in seen_desc:
            continue
        seen_code.add(hc)
        seen_desc.add(hd)
        pairs.append({"desc": desc, "code": code, "kind": kind, "package": package, "dist": dist,
                      "split": split, "license": lic, "path": path, "line": line, "def": is_def})
    log(f"mine: {len(pairs)} pairs after dedup")
    # hard negatives within each (dist, package), in groups of at most max_pairs_per_package
    rng = random.Random(seed)
    groups = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[(p["dist"], p["package"], p["kind"])].append(i)
    hjobs = []
    for key, idx in groups.items():
        rng.shuffle(idx)
        for g in range(0, len(idx), max_pairs_per_package):
            part = idx[g:g + max_pairs_per_package]
            hjobs.append((part, [pairs[i]["desc"] for i in part], [pairs[i]["code"] for i in part]))
    hjobs.sort(key=lambda j: -len(j[0]))
    with Pool(workers) as pool:
        for idx, neg in pool.imap_unordered(_hard_negatives, hjobs):
            for i, k in zip(idx, neg):
                pairs[i]["neg"] = idx[k] if k >= 0 else -1
    nh = sum(1 for p in pairs if p["neg"] >= 0)
    log(f"mine: hard negatives for {nh} of {len(pairs)} pairs, {time.time() - t1:.1f} s")
    return pairs, excluded


def summary(pairs):
    rows = Counter((p["split"], p["kind"], p["license"]) for p in pairs)
    dists = Counter((p["split"], p["dist"] if p["kind"] == "py" or not p["dist"].startswith("/") else
                     p["dist"] + "/" + p["package"]) for p in pairs)
    return rows, dists


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="write the pairs here (JSON)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--c-corpus", help="the ccorpus/ folder of tools/train/ccorpus.sh's archive")
    a = ap.parse_args()

    def log(m):
        print(f"[mine {time.strftime('%H:%M:%S')}] {m}", flush=True)

    pairs, _ = mine(log, a.workers, c_corpus=a.c_corpus)
    rows, dists = summary(pairs)
    for k, v in sorted(rows.items()):
        log(f"{k}: {v}")
    for k, v in dists.most_common(15):
        log(f"{k}: {v}")
    rng = random.Random(0)
    for p in rng.sample(pairs, min(4, len(pairs))):
        n = pairs[p["neg"]]["code"][:200] if p["neg"] >= 0 else None
        log(f"sample {p['dist']} {p['path']}:{p['line']}\n  desc: {p['desc'][:200]}\n  code: {p['code'][:200]!r}"
            f"\n  neg:  {n!r}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(pairs, f)


if __name__ == "__main__":
    main()
