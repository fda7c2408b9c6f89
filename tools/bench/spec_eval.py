"""spec_eval.py - pass rate of `octet gen --check --retries 2` on the held-out spec tasks of spec_tasks/.

Every task runs in a fresh temporary directory outside any git repository (so there is no retrieved
context) with octet gen's defaults otherwise (temperature 0.2, seed 1, 768 tokens per reply): a task
passes when octet gen exits 0, i.e. one of its three attempts passed every example of the spec.

    python3 tools/bench/spec_eval.py --octet build/octet -m models/octet-code.gguf --out spec.json
    python3 tools/bench/spec_eval.py --octet build/octet --verify   # the reference solutions pass
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = os.path.join(HERE, "spec_tasks")


def tasks(langs):
    out = []
    for lang in langs:
        out += sorted(glob.glob(os.path.join(TASKS, lang, "*.json")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("-m", "--model")
    ap.add_argument("--lang", default="py,c")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verify", action="store_true", help="check the reference solutions instead")
    ap.add_argument("--extra", default="", help="more octet gen options, space-separated")
    ap.add_argument("--out")
    a = ap.parse_args()
    octet = os.path.abspath(a.octet)
    results, t0 = [], time.time()
    for spec in tasks(a.lang.split(",")):
        lang = os.path.basename(os.path.dirname(spec))
        name = os.path.basename(spec)[:-5]
        with tempfile.TemporaryDirectory() as d:
            if a.verify:
                ref = os.path.join(TASKS, "reference", lang, f"{name}.{lang}")
                cmd = [octet, "check", "--spec", spec, "--code", ref]
            else:
                out = os.path.join(d, f"{name}.{lang}")
                cmd = [octet, "gen", "--spec", spec, "-m", a.model, "--check", "--retries", str(a.retries),
                       "--no-context", "--threads", str(a.threads), "--out", out] + a.extra.split()
            t = time.time()
            r = subprocess.run(cmd, cwd=d, capture_output=True, stdin=subprocess.DEVNULL, timeout=900)
            err = r.stderr.decode(errors="replace")
            ok = r.returncode == 0
            code = ""
            if ok and not a.verify:
                with open(out) as f:
                    code = f.read()
            results.append({"task": f"{lang}/{name}", "lang": lang, "passed": ok, "rc": r.returncode,
                            "seconds": time.time() - t, "code": code, "stderr": err[-1500:]})
            print(f"{lang}/{name}: {'pass' if ok else 'FAIL (rc %d)' % r.returncode} ({time.time() - t:.1f} s)",
                  file=sys.stderr, flush=True)
            if a.verify and not ok:
                print(err[-2000:], file=sys.stderr)
    summary = {"model": a.model, "verify": a.verify, "seconds": time.time() - t0, "date": time.strftime("%Y-%m-%d")}
    for lang in a.lang.split(","):
        rs = [r for r in results if r["lang"] == lang]
        summary[lang] = {"tasks": len(rs), "passed": sum(r["passed"] for r in rs),
                         "rate": sum(r["passed"] for r in rs) / max(1, len(rs))}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)
    print(json.dumps(summary))
    return 0 if not a.verify or all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
