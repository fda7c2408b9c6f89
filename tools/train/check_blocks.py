"""check_blocks.py - sft.py's search/replace blocks through octet's own parser and applier.

Makes refactor samples (sft.refactors, sft.make_blocks) from this machine's Python files (with --lang c:
c_refactor.c_refactors of C files, by default octet's own engine/ and rag/ sources), writes each reply
(chat form; the completion form with the prompt's opened fence, path and <<<<<<< SEARCH in front; and the one
with only the fence in front, as with --symbol or no target) to a file, runs `octet apply --patch FILE --yes
--no-commit` on the file committed to a throwaway git repository, and counts the replies that left exactly the
refactored file. Needs a built octet; runs here, not on the device.

    python3 tools/train/check_blocks.py --octet ./octet [--n 300] [--lang c]
"""

import argparse
import glob
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c_refactor  # noqa: E402
import sft  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("--n", type=int, default=300, help="replies to check")
    ap.add_argument("--files", help="glob of the files to refactor (default: this machine's Python files; with "
                    "--lang c, octet's own engine/ and rag/ sources, read only)")
    ap.add_argument("--lang", choices=("python", "c"), default="python",
                    help="c: c_refactor.py's windows and refactors of C files")
    a = ap.parse_args()
    c = a.lang == "c"
    rel = "pkg/m.c" if c else "pkg/m.py"
    if not a.files:
        here = os.path.dirname(os.path.abspath(__file__))
        a.files = os.path.join(here, "..", "..", "{engine,rag}", "*.c") if c else "/usr/lib/python3*/**/*.py"
    pats = [a.files.replace("{engine,rag}", d) for d in ("engine", "rag")] if "{engine,rag}" in a.files else [a.files]
    files = sorted(f for p in pats for f in glob.glob(p, recursive=True))
    random.Random(5).shuffle(files)
    ok, bad, tried = 0, 0, 0
    for fn in files:
        if tried >= a.n:
            break
        try:
            with open(fn) as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        rng = random.Random(fn)
        w = c_refactor.c_window(text, rng) if c else sft.py_window(text, rng)
        if not w:
            continue
        try:
            refs = (c_refactor.c_refactors if c else sft.refactors)(w, rel, rng, max_per_file=3)
        except RecursionError:
            continue
        for _, _, new in refs:
            edits = sft.make_blocks(w, new)
            if not edits:
                continue
            for reply in (sft.blocks_chat_reply(rel, edits),
                          f"```\n{rel}\n<<<<<<< SEARCH\n" + sft.blocks_completion_reply(rel, edits, True),
                          "```\n" + sft.blocks_completion_reply(rel, edits, False)):  # no target: the path's in it
                if sft.apply_blocks(w, sft.parse_blocks(reply) or [], rel) != new:
                    continue  # sft.py drops these itself
                tried += 1
                with tempfile.TemporaryDirectory() as d:
                    os.makedirs(os.path.join(d, "pkg"))
                    with open(os.path.join(d, rel), "w") as f:
                        f.write(w)
                    git = ["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@t"]
                    subprocess.run(git + ["init", "-q"], check=True)
                    subprocess.run(git + ["add", "."], check=True)
                    subprocess.run(git + ["commit", "-qm", "x"], check=True)
                    with open(os.path.join(d, "reply.txt"), "w") as f:
                        f.write(reply)
                    r = subprocess.run([a.octet, "apply", "--patch", os.path.join(d, "reply.txt"), "--yes",
                                        "--no-commit", "--repo", d], capture_output=True, text=True)
                    with open(os.path.join(d, rel)) as f:
                        got = f.read()
                if r.returncode == 0 and got == new:
                    ok += 1
                else:
                    bad += 1
                    if bad <= 3:
                        print(f"MISMATCH {fn}: exit {r.returncode}: {r.stderr[-400:]}")
    print(f"octet apply: {ok} of {ok + bad} blocks replies gave the refactored file exactly")
    return 0 if bad == 0 and ok else 1


if __name__ == "__main__":
    sys.exit(main())
