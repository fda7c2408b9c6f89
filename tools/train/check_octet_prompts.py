"""check_octet_prompts.py - the refactor prompts of sft.py against the ones a built octet really sends, and
the TUI chat texts of its rag samples against the C sources.

A fake OpenAI-compatible server on 127.0.0.1 records each request and answers with sft.py's reply for the
same refactor. For refactors made by sft.py from the given Python files, `octet refactor INSTRUCTION --path
m.py --yes --backend http://127.0.0.1:PORT/v1` runs in a throwaway git repository holding that one file, in
both formats (--format blocks, diff) and both forms (chat, and --template none: plain completion). Each run
must send exactly the messages (chat) or the prompt (completion) that sft.py trains on, and the file must
then be the refactored one. Function renames are also run as `octet refactor INSTRUCTION --symbol NAME`:
octet then sends the chunks of its index that define NAME and then those that use it, which must be the blocks
sft.symbol_context() makes (its chunking, sft.py_chunks, checked against octet's index), in the same prompt;
octet orders the chunks that use NAME by BM25, sft.py by line, so a request that differs from sft.py's prompt
only in the order of those blocks is counted apart (as equal up to that order) and is no failure. Needs a
built octet; runs here, not on the device.

    python3 tools/train/check_octet_prompts.py --octet ./octet [--n 6] [--n-symbol 8] [FILE.py ...]
"""

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sft  # noqa: E402

REL = "m.py"
state = {}


class Fake(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _send(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self):
        state["req"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("chat/completions"):
            msg = {"role": "assistant", "content": state["reply"]}
            self._send({"choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]})
        else:
            self._send({"choices": [{"index": 0, "text": state["reply"], "finish_reason": "stop"}]})


def canonical(ctx):
    """CTX's blocks, the first (the definition) in place and the others sorted by their first line."""
    blocks = re.split(r"\n(?=" + re.escape(REL) + r":\d+-\d+\n`)", ctx)
    return [blocks[0]] + sorted(blocks[1:], key=lambda b: int(b[len(REL) + 1:].split("-")[0]))


def same_but_order(sent, want, ctx):
    """Whether SENT is WANT (which holds the context CTX) with the blocks of the context in another order."""
    if not isinstance(sent, str) or ctx not in want:
        return False
    pre, post = want[:want.index(ctx)], want[want.index(ctx) + len(ctx):]
    if not (sent.startswith(pre) and sent.endswith(post) and len(sent) == len(want)):
        return False
    return canonical(sent[len(pre):len(sent) - len(post)]) == canonical(ctx)


def one(octet, port, w, instr, new, fmt, chat, symbol=None):
    """'' when octet sent sft.py's prompt and applied sft.py's reply to give NEW, 'order' when the prompt
    differed only in the order of the blocks that use SYMBOL, else what differed. SYMBOL: `--symbol SYMBOL`
    and sft.symbol_context()'s chunks instead of `--path` and the whole file."""
    if symbol:
        tline, trel = sft.refactor_target(symbol=symbol), None
        ctx = sft.symbol_context(w, REL, symbol)[0]
    else:
        tline, trel = sft.refactor_target(rel=REL), REL
        ctx = sft.code_block(REL, 1, w.count("\n"), w)
    if fmt == "blocks":
        edits = sft.make_blocks(w, new)
        if not edits:
            return None
        state["reply"] = (sft.blocks_chat_reply(REL, edits) if chat
                          else sft.blocks_completion_reply(REL, edits, trel is not None))
        system = sft.REFACTOR_SYSTEM_BLOCKS
    else:
        diff = sft.unified_diff(REL, w, new)
        state["reply"] = f"```diff\n{diff}```" if chat else diff + "```"
        system = sft.REFACTOR_SYSTEM
    state.pop("req", None)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, REL), "w") as f:
            f.write(w)
        git = ["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(git + ["init", "-q"], check=True)
        subprocess.run(git + ["add", "."], check=True)
        subprocess.run(git + ["commit", "-qm", "x"], check=True)
        target = ["--symbol", symbol] if symbol else ["--path", os.path.join(d, REL)]
        cmd = [octet, "refactor", instr] + target + ["--repo", d, "--yes", "--no-commit",
               "--format", fmt, "--backend", f"http://127.0.0.1:{port}/v1", "-m", "fake", "--lexical"]
        r = subprocess.run(cmd + ([] if chat else ["--template", "none"]), capture_output=True, text=True, cwd=d)
        with open(os.path.join(d, REL)) as f:
            got = f.read()
    req = state.get("req", {})
    if chat:
        sent = [{"role": m.get("role"), "content": m.get("content")} for m in req.get("messages", [])]
        want = [{"role": "system", "content": system}, {"role": "user", "content": sft.refactor_chat_user(instr, tline, ctx)}]
    else:
        sent, want = req.get("prompt"), sft.refactor_completion_prompt(fmt, ctx, instr, tline, trel)
    why = []
    order = False
    if sent != want and symbol:
        order = (same_but_order(sent, want, ctx) if not chat else
                 len(sent) == 2 and sent[0] == want[0] and same_but_order(sent[1]["content"], want[1]["content"], ctx))
    if sent != want and not order:
        a, b = json.dumps(sent), json.dumps(want)
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        why.append(f"sent ...{a[max(0, k - 150):k + 150]}... want ...{b[max(0, k - 150):k + 150]}...")
    if r.returncode or got != new:
        why.append(f"octet exit {r.returncode}, file {'is' if got == new else 'is not'} the refactored one: "
                   f"{r.stderr[-300:]}")
    return "; ".join(why) or ("order" if order else "")


def c_strings(path):
    """The text of PATH with adjacent C string literals joined, as the compiler joins them."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return re.sub(r'"\s*\n\s*"', "", f.read())


def check_tui_chat():
    """The TUI's chat with retrieval cannot be driven from here: its two texts that sft.py's rag samples copy
    are compared with the C sources instead (flows/prompt.c prompt_user, tui/runner.c system_prompt)."""
    ok = True
    for path, text in (("flows/prompt.c", sft.RAG_HEAD), ("tui/runner.c", sft.TUI_SYSTEM)):
        lit = '"' + text.replace("\n", "\\n") + '"'
        if lit not in c_strings(path):
            print(f"FAIL {path} no longer holds sft.py's {lit}")
            ok = False
        else:
            print(f"ok   {path} holds sft.py's {lit}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("--n", type=int, default=6, help="refactors to try with --path")
    ap.add_argument("--n-symbol", type=int, default=8, help="function renames to try with --symbol")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    octet = os.path.abspath(a.octet)
    tui_ok = check_tui_chat()
    files = a.files or sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))
    random.Random(3).shuffle(files)
    srv = HTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ok = bad = done = 0
    s_ok = s_order = s_bad = s_done = 0
    for fn in files:
        if done >= a.n and s_done >= a.n_symbol:
            break
        with open(fn, encoding="utf-8", errors="replace") as f:
            text = f.read()
        rng = random.Random(fn)
        w = sft.py_window(text, rng)
        refs = sft.refactors(w, REL, rng, max_per_file=1) if w else []
        if refs and done < a.n:
            instr, _, new = refs[0]
            done += 1
            for fmt in ("blocks", "diff"):
                for chat in (True, False):
                    why = one(octet, srv.server_address[1], w, instr, new, fmt, chat)
                    if why is None:
                        continue
                    if why:
                        bad += 1
                        print(f"{fn} {fmt} {'chat' if chat else 'completion'} ({instr}): {why}")
                    else:
                        ok += 1
        # --symbol: a function rename of this window whose reply copies only lines of the chunks sft.py shows
        if s_done >= a.n_symbol or not w:
            continue
        for instr, target, new in sft.refactors(w, REL, random.Random(fn + ":symbol"), max_per_file=5):
            got = sft.symbol_context(w, REL, target[1]) if target[0] == "symbol" else None
            if not got:
                continue
            edits = sft.make_blocks(w, new)
            copied = {"blocks": sft.blocks_lines(w, edits) if edits else None, "diff": [sft.diff_lines(
                sft.unified_diff(REL, w, new))]}
            fmts = [f for f in ("blocks", "diff") if copied[f] and sft._shown(set().union(*copied[f]), got[1])]
            if "blocks" not in fmts:
                continue
            s_done += 1
            for fmt in fmts:
                for chat in (True, False):
                    why = one(octet, srv.server_address[1], w, instr, new, fmt, chat, symbol=target[1])
                    if why is None:
                        continue
                    if why == "order":
                        s_order += 1
                    elif why:
                        s_bad += 1
                        print(f"{fn} --symbol {target[1]} {fmt} {'chat' if chat else 'completion'} ({instr}): {why}")
                    else:
                        s_ok += 1
            break
    srv.shutdown()
    print(f"octet refactor --path: {ok} of {ok + bad} runs sent sft.py's prompt and applied its reply")
    print(f"octet refactor --symbol ({s_done} renames): {s_ok} of {s_ok + s_order + s_bad} runs sent sft.py's prompt exactly, "
          f"{s_order} the same chunks with those that use the name in another order (BM25's), and applied its "
          f"reply")
    return 0 if (ok or not a.n) and not bad and (s_ok + s_order or not a.n_symbol) and not s_bad and tui_ok else 1


if __name__ == "__main__":
    sys.exit(main())
