#!/usr/bin/env python3
"""rag_chunkers.py - octet's own chunker against universal-ctags on one tree.

Why octet scans code itself instead of running universal-ctags (or
libtree-sitter): this measures both on the same files.

  speed      octet: in-process chunking (rag_bench chunks), MB/s;
             ctags: `ctags -R` over the tree (one process, tags only)
  agreement  for every function, method and class ctags finds at top level
             or directly in a class (with its end line): does octet have a
             chunk named for it that starts at or before its line and ends at
             or after it ("own chunk"), or is it inside the chunk of a class
             that encloses it (a class short enough to be one chunk)?

Usage: rag_chunkers.py --bench BIN --dir TREE [--lang Python]
"""
import argparse
import collections
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lang", default="Python")
    a = ap.parse_args()

    p = subprocess.run([a.bench, "chunks", a.dir], check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    print("octet chunker: %s" % p.stderr.strip())
    chunks = collections.defaultdict(list)
    for line in p.stdout.splitlines():
        path, start, end, sym = line.split("\t")
        chunks[path].append((int(start), int(end), sym))

    t = time.time()
    tags = subprocess.run(["ctags", "-R", "--languages=" + a.lang, "--fields=+nKe", "-o", "-", "."],
                          cwd=a.dir, check=True, stdout=subprocess.PIPE, text=True, errors="replace").stdout
    print("universal-ctags (%s only, tags without chunks): %.3f s" % (a.lang, time.time() - t))

    parsed, funcs = [], set()
    for line in tags.splitlines():
        if line.startswith("!"):
            continue
        f = line.split("\t")
        ext = dict(x.split(":", 1) for x in f[3:] if ":" in x)
        kind = f[3] if len(f) > 3 else ""
        scope = [k for k in ext if k in ("class", "member", "function")]
        full = (ext[scope[0]] + "." if scope else "") + f[0]
        if kind in ("function", "member"):
            funcs.add((f[1], full))
        parsed.append((f[0], f[1], kind, ext, scope))

    total = own = in_class = 0
    missed = collections.Counter()
    for name, path, kind, ext, scope in parsed:
        if kind not in ("function", "member", "class") or "line" not in ext or "end" not in ext:
            continue
        if scope and scope[0] != "class":
            continue  # nested in a function: octet keeps it inside its parent
        if scope:
            chain = ext["class"].split(".")
            if any((path, ".".join(chain[:i])) in funcs for i in range(1, len(chain) + 1)):
                continue  # a class inside a function
        line_no = int(ext["line"])
        total += 1
        cs = chunks.get(path, [])
        if any(s <= line_no <= e and sym.replace("::", ".").split(".")[-1] == name for s, e, sym in cs):
            own += 1
        elif scope and any(s <= line_no <= e and sym.split(".")[-1] in ext["class"].split(".")
                           for s, e, sym in cs):
            in_class += 1
        else:
            missed[kind] += 1
    print("ctags definitions (top level or in a class): %d" % total)
    print("  in a chunk named for them: %d (%.1f%%)" % (own, 100.0 * own / max(total, 1)))
    print("  inside their class's chunk: %d (%.1f%%)" % (in_class, 100.0 * in_class / max(total, 1)))
    print("  not found: %d (%.1f%%) %s" % (total - own - in_class, 100.0 * (total - own - in_class) / max(total, 1),
                                            dict(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
