"""check_blocks.py - sft.py's search/replace blocks through octet's own parser and applier.

Makes refactor samples (sft.refactors, sft.make_blocks) from this machine's Python files, writes each reply
(chat form; the completion form with the prompt's opened fence, path and <<<<<<< SEARCH in front; and the one
with only the fence in front, as with --symbol or no target) to a file, runs `octet apply --patch FILE --yes
--no-commit` on the file committed to a throwaway git repository, and counts the replies that left exactly the
refactored file. Needs a built octet; runs here, not on the device.

    python3 tools/train/check_blocks.py --octet ./octet [--n 300]
"""

import argparse
import glob
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sft  # noqa: E402

REL = "pkg/m.py"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("--n", type=int, default=300, help="replies to check")
    ap.add_argument("--files", default="/usr/lib/python3*/**/*.py", help="glob of Python files to refactor")
    a = ap.parse_args()
    files = sorted(glob.glob(a.files, recursive=True))
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
        w = sft.py_window(text, rng)
        if not w:
            continue
        try:
            refs = sft.refactors(w, REL, rng, max_per_file=3)
        except RecursionError:
            continue
        for _, _, new in refs:
            edits = sft.make_blocks(w, new)
            if not edits:
                continue
            for reply in (sft.blocks_chat_reply(REL, edits),
                          f"```\n{REL}\n<<<<<<< SEARCH\n" + sft.blocks_completion_reply(REL, edits, True),
                          "```\n" + sft.blocks_completion_reply(REL, edits, False)):  # no target: the path's in it
                if sft.apply_blocks(w, sft.parse_blocks(reply) or [], REL) != new:
                    continue  # sft.py drops these itself
                tried += 1
                with tempfile.TemporaryDirectory() as d:
                    os.makedirs(os.path.join(d, "pkg"))
                    with open(os.path.join(d, REL), "w") as f:
                        f.write(w)
                    git = ["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@t"]
                    subprocess.run(git + ["init", "-q"], check=True)
                    subprocess.run(git + ["add", "."], check=True)
                    subprocess.run(git + ["commit", "-qm", "x"], check=True)
                    with open(os.path.join(d, "reply.txt"), "w") as f:
                        f.write(reply)
                    r = subprocess.run([a.octet, "apply", "--patch", os.path.join(d, "reply.txt"), "--yes",
                                        "--no-commit", "--repo", d], capture_output=True, text=True)
                    with open(os.path.join(d, REL)) as f:
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
