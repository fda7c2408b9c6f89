"""refactor_eval.py - share of held-out mechanical refactors that `octet refactor --yes` gets right.

For each task of refactor_tasks/ (make_refactor_tasks.py): the module is committed to a throwaway git
repository, `octet refactor "INSTRUCTION" --path MODULE --yes --format FORMAT` runs there with the model
(FORMAT: diff, the default, or blocks: search/replace blocks), and the task succeeds when octet applied
the edit (exit 0), the module then shows the requested change (checked on its
syntax tree: the new name defined and the old one gone, the constant at module level and no longer a
literal in the function, the parameter with its default) and the task's tests, written against the
changed module, pass.

    python3 tools/bench/refactor_eval.py --octet build/octet -m models/octet-code.gguf --out refactor.json
    python3 tools/bench/refactor_eval.py --octet build/octet -m models/octet-code.gguf --format blocks
"""

import argparse
import ast
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def func(tree, name):
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
           {n.arg for n in ast.walk(node) if isinstance(n, ast.arg)}


def check_change(kind, c, text):
    """'' when TEXT shows the change, else what is missing."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        return f"the module no longer parses: {e}"
    if kind == "rename_function":
        if not func(tree, c["new"]):
            return f"no function {c['new']}"
        if func(tree, c["old"]) or c["old"] in names_in(tree):
            return f"{c['old']} is still there"
        return ""
    f = func(tree, c["function"])
    if not f:
        return f"no function {c['function']}"
    if kind == "rename_variable":
        got = names_in(f)
        return "" if c["new"] in got and c["old"] not in got else f"{c['function']} uses {sorted(got & {c['old'], c['new']})}"
    if kind == "rename_parameter":
        args = [a.arg for a in f.args.args + f.args.kwonlyargs]
        return "" if c["new"] in args and c["old"] not in args and c["old"] not in names_in(f) else f"parameters {args}"
    if kind == "extract_constant":
        assigned = [n for n in tree.body if isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == c["name"] for t in n.targets)]
        if not assigned:
            return f"no module-level {c['name']} = ..."
        try:
            if ast.literal_eval(assigned[0].value) != c["value"]:
                return f"{c['name']} has another value"
        except ValueError:
            return f"{c['name']} is not a literal"
        lits = [n.value for n in ast.walk(f) if isinstance(n, ast.Constant) and type(n.value) is type(c["value"])]
        if c["value"] in lits:
            return f"{c['value']!r} is still a literal in {c['function']}"
        return "" if c["name"] in names_in(f) else f"{c['function']} does not use {c['name']}"
    if kind == "add_parameter":
        a = f.args
        pos = a.args[len(a.args) - len(a.defaults):]
        defaults = {p.arg: d for p, d in zip(pos, a.defaults)}
        defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        if c["name"] not in defaults:
            return f"no parameter {c['name']} with a default"
        try:
            ok = ast.literal_eval(defaults[c["name"]]) == c["default"]
        except ValueError:
            ok = False
        return "" if ok else f"{c['name']} has another default"
    return f"unknown kind {kind}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--format", choices=["diff", "blocks"], default="diff",
                    help="what the model is asked for (octet refactor --format)")
    ap.add_argument("--extra", default="", help="more octet refactor options, space-separated")
    ap.add_argument("--out")
    a = ap.parse_args()
    octet = os.path.abspath(a.octet)
    model = os.path.abspath(a.model)
    results, t0 = [], time.time()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"]
    for tdir in sorted(glob.glob(os.path.join(HERE, "refactor_tasks", "*", "task.json"))):
        tdir = os.path.dirname(tdir)
        with open(os.path.join(tdir, "task.json")) as f:
            task = json.load(f)
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(os.path.join(tdir, task["path"]), d)
            subprocess.run(git + ["init", "-q"], cwd=d, check=True)
            subprocess.run(git + ["add", "."], cwd=d, check=True)
            subprocess.run(git + ["commit", "-qm", "start"], cwd=d, check=True)
            t = time.time()
            cmd = [octet, "refactor", task["instruction"], "--path", task["path"], "--yes", "-m", model,
                   "--threads", str(a.threads), "--format", a.format] + a.extra.split()
            r = subprocess.run(cmd, cwd=d, capture_output=True, stdin=subprocess.DEVNULL, timeout=900)
            with open(os.path.join(d, task["path"])) as f:
                after = f.read()
            why, tests = "", None
            if r.returncode != 0:
                why = "octet refactor exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-300:])
            else:
                why = check_change(task["kind"], task["check"], after)
                shutil.copy(os.path.join(tdir, task["test"]), d)
                try:
                    tr = subprocess.run([sys.executable, task["test"]], cwd=d, capture_output=True, timeout=30)
                    tests = tr.returncode == 0
                    if not tests and not why:
                        why = "tests failed: " + tr.stderr.decode(errors="replace")[-300:]
                except subprocess.TimeoutExpired:
                    tests = False
                    why = why or "tests timed out"
            ok = r.returncode == 0 and not why and tests
            results.append({"task": os.path.basename(tdir), "kind": task["kind"], "passed": bool(ok),
                            "applied": r.returncode == 0, "tests": tests, "why": why, "seconds": time.time() - t,
                            "diff": subprocess.run(git + ["diff"], cwd=d, capture_output=True).stdout.decode()[:4000]})
            print(f"{os.path.basename(tdir)}: {'pass' if ok else 'FAIL: ' + why[:200]} ({time.time() - t:.0f} s)",
                  file=sys.stderr, flush=True)
    n = len(results)
    summary = {"model": a.model, "format": a.format, "tasks": n, "applied": sum(r["applied"] for r in results),
               "passed": sum(r["passed"] for r in results), "rate": sum(r["passed"] for r in results) / max(1, n),
               "seconds": time.time() - t0, "date": time.strftime("%Y-%m-%d")}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
