#!/usr/bin/env python3
"""spec_prompts.py - the prompt sets of tools/bench/spec_bench.sh.

  spec_prompts.py OUT_DIR [--files N]

writes OUT_DIR/edit/NN.prompt + NN.answer, OUT_DIR/blocks/NN.prompt + NN.answer and
OUT_DIR/code/NN.prompt:

edit: rename refactors of real files of this repository. Each takes a
  window of a C file, picks an identifier used at least three times in it,
  renames it, and makes the expected answer with difflib: a unified diff in
  git's format, as `octet refactor` asks for. The prompt is octet refactor's
  completion prompt (the code, then the instruction, then an opened ```diff
  block) followed by the diff's header lines, so the continuation is the
  hunks: context lines copied from the code, - and + lines. The answer does
  not depend on any model (spec_bench replays it for random-weight models;
  a real model generates its own continuation).
blocks: the same renames as search/replace blocks, what `octet refactor` asks
  for by default: its completion prompt for blocks (the code, the request, an
  opened fence with the path and <<<<<<< SEARCH, tools/train/sft.py's copy of
  flows/refactor.c's text) and the blocks sft.make_blocks makes (SEARCH lines
  with as much context as makes each unique in the window).
pyblocks: the same kind of rename as blocks, in Python: 40-line windows of
  the standard library's email, json and http packages (held out of the
  embedded model's training, tools/train/data.py), shown as octet shows a
  target file (sft.code_block, fenced), so the shipped model, which knows
  Python refactors, writes its own blocks in --mode gen.
code: plain code generation, function heads with a docstring or comment,
  where the continuation is new code.

Deterministic: the same tree gives the same prompts."""

import difflib
import re
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "train"))
import sft  # noqa: E402  (octet refactor's blocks prompt and sft.make_blocks, as the training data has them)
EDIT_FILES = ["engine/sample.c", "engine/tokenizer.c", "engine/gguf.c", "engine/chat.c", "engine/model.c",
              "engine/tok_pre.c", "kernels/cpu/cpu_mat.c", "kernels/cpu/cpu_pool.c", "rag/rag.c",
              "engine/heal.c", "engine/draft.c", "engine/generate.c"]
PY_FILES = ["email/feedparser.py", "email/message.py", "email/utils.py", "email/generator.py",
            "email/_policybase.py", "email/header.py", "json/decoder.py", "json/encoder.py", "http/client.py",
            "http/cookiejar.py", "http/server.py", "http/cookies.py"]
WINDOW = 40
KEYWORDS = set("""if else for while do return switch case default break continue goto sizeof static const
    int char void float double size_t uint32_t int32_t uint64_t int64_t uint8_t int8_t uint16_t bool true false
    struct typedef enum unsigned long short NULL errmsg_t err rc""".split())

CODE_PROMPTS = [
    'def merge_intervals(intervals):\n    """Merge overlapping [start, end] intervals and return them sorted."""\n',
    'def parse_query_string(qs):\n    """Parse "a=1&b=2" into a dict of lists, decoding %XX escapes."""\n',
    'class LRUCache:\n    """A least-recently-used cache with a fixed capacity."""\n\n    def __init__(self, capacity):\n',
    'def levenshtein(a, b):\n    """Edit distance between strings a and b."""\n',
    '/* Return the number of set bits in x. */\nstatic int popcount64(unsigned long long x)\n{\n',
    '/* Reverse the singly linked list starting at head and return the new head. */\n'
    'struct node *list_reverse(struct node *head)\n{\n',
    'import json\nimport sys\n\n\ndef main(argv):\n    """Read JSON lines from the file named in argv[1] and print the keys of each."""\n',
    '/* Split s at every occurrence of sep; returns a NULL-terminated array. */\n'
    'char **str_split(const char *s, char sep)\n{\n',
]


def pick(lines):
    """The identifier to rename in a window: used 3+ times, not a keyword, the most used."""
    counts = {}
    for ln in lines:
        if ln.lstrip().startswith(("/*", "*", "//", "#", '"""')):
            continue
        for w in re.findall(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b", ln):
            if w not in KEYWORDS and not w.isupper():
                counts[w] = counts.get(w, 0) + 1
    best = sorted(((c, w) for w, c in counts.items() if c >= 3), key=lambda cw: (-cw[0], cw[1]))
    return best[0][1] if best else None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    n_files = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else len(EDIT_FILES)
    (out / "edit").mkdir(parents=True, exist_ok=True)
    (out / "blocks").mkdir(parents=True, exist_ok=True)
    (out / "code").mkdir(parents=True, exist_ok=True)
    k = 0
    for rel in EDIT_FILES[:n_files]:
        lines = (ROOT / rel).read_text().splitlines(keepends=True)
        # a window in the middle of the file, where the functions are
        start = max(0, len(lines) // 2 - WINDOW // 2)
        win = lines[start:start + WINDOW]
        name = pick(win)
        if not name:
            continue
        new = name + "_v2"
        renamed = [re.sub(r"\b%s\b" % re.escape(name), new, ln) for ln in win]
        diff = list(difflib.unified_diff(win, renamed, "a/" + rel, "b/" + rel, n=3))
        # difflib numbers lines from 1 within the window: shift to the file's
        hunks = []
        for ln in diff[2:]:
            m = re.match(r"@@ -(\d+),(\d+) \+(\d+),(\d+) @@", ln)
            if m:
                a, b, c, d = map(int, m.groups())
                ln = "@@ -%d,%d +%d,%d @@\n" % (a + start, b, c + start, d)
            hunks.append(ln)
        header = "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n" % (rel, rel, rel, rel)
        context = "%s:%d-%d\n%s" % (rel, start + 1, start + len(win), "".join(win))
        instr = "rename %s to %s" % (name, new)
        prompt = "%s\n\nA patch in git's unified diff format that does this: %s\n\nTarget: %s, its definition and " \
                 "every use.\n\n```diff\n%s" % (context, instr, name, header)
        (out / "edit" / ("%02d.prompt" % k)).write_text(prompt)
        (out / "edit" / ("%02d.answer" % k)).write_text("".join(hunks) + "```\n")
        edits = sft.make_blocks("".join(win), "".join(renamed))
        if edits:
            target = "\nTarget: %s, its definition and every use.\n" % name
            (out / "blocks" / ("%02d.prompt" % k)).write_text(
                sft.refactor_completion_prompt("blocks", context, instr, target, rel))
            (out / "blocks" / ("%02d.answer" % k)).write_text(sft.blocks_completion_reply(rel, edits, True) + "\n")
        k += 1
    (out / "pyblocks").mkdir(parents=True, exist_ok=True)
    std = Path(sysconfig.get_paths()["stdlib"])
    kp = 0
    for rel in PY_FILES[:n_files]:
        if not (std / rel).is_file():
            continue
        lines = (std / rel).read_text().splitlines(keepends=True)
        start = max(0, len(lines) // 2 - WINDOW // 2)
        win = lines[start:start + WINDOW]
        name = pick(win)
        if not name or name in ("self", "None", "True", "False", "return"):
            continue
        new = name + "_v2"
        renamed = [re.sub(r"\b%s\b" % re.escape(name), new, ln) for ln in win]
        edits = sft.make_blocks("".join(win), "".join(renamed))
        if not edits:
            continue
        context = sft.code_block(rel, start + 1, start + len(win), "".join(win), "python")
        instr = "rename %s to %s" % (name, new)
        (out / "pyblocks" / ("%02d.prompt" % kp)).write_text(
            sft.refactor_completion_prompt("blocks", context, instr, sft.refactor_target(rel=rel), rel))
        (out / "pyblocks" / ("%02d.answer" % kp)).write_text(sft.blocks_completion_reply(rel, edits, True) + "\n")
        kp += 1
    for i, p in enumerate(CODE_PROMPTS):
        (out / "code" / ("%02d.prompt" % i)).write_text(p)
    print("%d edit prompts, %d as blocks, %d Python blocks prompts, %d code prompts in %s"
          % (k, len(list((out / "blocks").glob("*.prompt"))), kp, len(CODE_PROMPTS), out))


if __name__ == "__main__":
    main()
