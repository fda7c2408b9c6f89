"""refactor_eval.py - share of held-out mechanical refactors that `octet refactor --yes` gets right.

For each task of refactor_tasks/ (make_refactor_tasks.py: Python; make_refactor_tasks_c.py: C): the module
is committed to a throwaway git repository, `octet refactor "INSTRUCTION" --path MODULE --yes --format
FORMAT` runs there with the model (FORMAT: diff, the default, or blocks: search/replace blocks), and the task
succeeds when octet applied the edit (exit 0), the module then shows the requested change and the task's
tests, written against the changed module, pass.

Python (`--lang python`, the default): the module is one file, the change is checked on its syntax tree
(the new name defined and the old one gone, the constant at module level and no longer a literal in the
function, the parameter with its default), the tests are a Python script.

C (`--lang c`; `--lang all` runs both and reports each language apart): the module is NAME.h and NAME.c,
`--path NAME.c` names only the .c file, so a function's rename must reach the header through retrieval:
octet runs with -v, and each result records whether the retrieved blocks held the lines of NAME.h naming
the function (header_retrieved) and whether the edit changed NAME.h (header_changed). The change is checked
on the tokens (check_c_change: comments and literals skipped, members after `.` and `->` apart); the test is
`cc -std=c11 -Wall -Werror=implicit-function-declaration test_NAME.c NAME.c`, run in the repository (it
reads NAME.c back for what a caller cannot see).

    python3 tools/bench/refactor_eval.py --octet ./octet -m models/octet-code.gguf --out refactor.json
    python3 tools/bench/refactor_eval.py --octet ./octet -m models/octet-code.gguf --format blocks
    python3 tools/bench/refactor_eval.py --octet ./octet -m models/octet-code.gguf --lang c --format blocks
"""

import argparse
import ast
import glob
import json
import os
import re
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


# --- C: a token-level look (no C parser in Python's standard library; the modules are small and plain) ---

_C_TOKEN = re.compile(r"""
    (?P<ws>(?:[ \t\r\f\v\n]|\\\r?\n)+)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<str>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*")
  | (?P<char>(?:u8|[uUL])?'(?:[^'\\\n]|\\.)*')
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<id>[A-Za-z_][0-9A-Za-z_]*)
  | (?P<punct>->|\#\#|.)
""", re.S | re.X)


def c_tokens(text):
    """The tokens of the C text TEXT as (kind, spelling, offset, directive): kind id, num, str, char or punct
    (comments and white space dropped); directive is 0 outside preprocessor lines, else the directive's
    number (1, 2, ...), so that the tokens of one #define can be told from the next."""
    out, directive, ndir, line_start = [], 0, 0, True
    for m in _C_TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind == "ws" or kind == "comment":
            if kind == "ws" and "\n" in re.sub(r"\\\r?\n", "", tok):
                directive, line_start = 0, True
            continue
        if tok == "#" and line_start:
            ndir += 1
            directive = ndir
        line_start = False
        out.append((kind, tok, m.start(), directive))
    return out


def c_function(toks, name):
    """(name, '(', ')', '{', '}') token indices of the definition of the function NAME in TOKS, or None."""
    depth, n = 0, len(toks)
    for i, (k, t, _, d) in enumerate(toks):
        if d:
            continue
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
        elif depth == 0 and k == "id" and t == name and i + 1 < n and toks[i + 1][1] == "(":
            j, par = i + 1, 0
            while j < n:
                par += {"(": 1, ")": -1}.get(toks[j][1], 0)
                if par == 0:
                    break
                j += 1
            if j + 1 < n and toks[j + 1][1] == "{":
                k2, br = j + 1, 0
                while k2 < n:
                    if not toks[k2][3]:
                        br += {"{": 1, "}": -1}.get(toks[k2][1], 0)
                    if br == 0:
                        break
                    k2 += 1
                return i, i + 1, j, j + 1, k2
    return None


def c_idents(toks, lo, hi):
    """The identifiers among TOKS[lo:hi+1] that are not members (after `.` or `->`), in order."""
    return [toks[i][1] for i in range(lo, hi + 1)
            if toks[i][0] == "id" and not (i and toks[i - 1][1] in (".", "->"))]


def c_num_value(tok):
    """The value of the C number TOK (suffixes dropped), or None."""
    t = tok.lower()
    try:
        return int(t.rstrip("ul"), 0)
    except ValueError:
        pass
    try:
        return float(t.rstrip("fl") if not t.startswith("0x") else t)
    except ValueError:
        return None


def c_defines(toks):
    """{macro name: its body's spelling (outer parentheses dropped)} of the object-like #defines in TOKS."""
    out, dirs = {}, {}
    for k, t, off, d in toks:
        if d:
            dirs.setdefault(d, []).append((t, off))
    for parts in dirs.values():
        if len(parts) >= 3 and parts[1][0] == "define" and not (len(parts) > 3 and parts[3][0] == "("
                                                               and parts[3][1] == parts[2][1] + len(parts[2][0])):
            body = [t for t, _ in parts[3:]]
            while len(body) >= 2 and body[0] == "(" and body[-1] == ")":
                body = body[1:-1]
            out[parts[2][0]] = "".join(body)
    return out


def c_balanced(toks):
    depth = 0
    for k, t, _, d in toks:
        depth += {"{": 1, "}": -1}.get(t, 0) if not d else 0
        if depth < 0:
            return False
    return depth == 0


def check_c_change(kind, c, src, header, path="the .c file", hpath="the header"):
    """'' when the C module (SRC: NAME.c's text, HEADER: NAME.h's) shows the change, else what is missing:
    rename_function: the new name defined in the .c file and declared in the header, the old one gone from
    both (as an identifier, in code and directives); rename_variable: the function's body uses the new name
    and not the old one; rename_parameter: the new name among the function's parameters and the old one
    nowhere in the function; extract_constant: `#define NAME VALUE` in either file, the literal no longer in
    the function and the macro used there. Members (after `.` or `->`) are not names of the function."""
    toks, htoks = c_tokens(src), c_tokens(header)
    if not c_balanced(toks):
        return f"the braces of {path} no longer balance"
    if kind == "rename_function":
        if not c_function(toks, c["new"]):
            return f"no definition of {c['new']} in {path}"
        for p, tk in ((path, toks), (hpath, htoks)):
            if any(k == "id" and t == c["old"] for k, t, _, _ in tk):
                return f"{c['old']} is still in {p}"
        if not any(k == "id" and t == c["new"] and i + 1 < len(htoks) and htoks[i + 1][1] == "("
                   for i, (k, t, _, _) in enumerate(htoks)):
            return f"{hpath} does not declare {c['new']}"
        return ""
    f = c_function(toks, c["function"])
    if not f:
        return f"no definition of {c['function']} in {path}"
    name, lpar, rpar, lbrace, rbrace = f
    if kind == "rename_variable":
        got = set(c_idents(toks, lbrace, rbrace))
        return "" if c["new"] in got and c["old"] not in got else \
            f"the body of {c['function']} uses {sorted(got & {c['old'], c['new']})}"
    if kind == "rename_parameter":
        params = c_idents(toks, lpar, rpar)
        if c["new"] in params and c["old"] not in params and c["old"] not in c_idents(toks, lbrace, rbrace):
            return ""
        return f"{c['function']}'s parameter names {params}" + \
            (f", {c['old']} still in its body" if c["old"] in c_idents(toks, lbrace, rbrace) else "")
    if kind == "extract_constant":
        defs = c_defines(htoks)
        defs.update(c_defines(toks))
        if c["name"] not in defs:
            return f"no #define {c['name']} in {path} or {hpath}"
        if c_num_value(defs[c["name"]]) != c_num_value(c["value"]):
            return f"#define {c['name']} {defs[c['name']]}: another value"
        v = c_num_value(c["value"])
        if any(k == "num" and c_num_value(t) == v for k, t, _, _ in toks[lbrace:rbrace + 1]):
            return f"{c['value']} is still a literal in {c['function']}"
        return "" if c["name"] in c_idents(toks, lbrace, rbrace) else f"{c['function']} does not use {c['name']}"
    return f"unknown kind {kind}"


GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"]


def run_tests(task, tdir, d):
    """(tests passed, why not) for the task's tests in D, the repository the refactor ran in."""
    shutil.copy(os.path.join(tdir, task["test"]), d)
    try:
        if task.get("lang") == "c":
            exe = os.path.splitext(task["test"])[0]
            cr = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror=implicit-function-declaration", "-o", exe,
                                 task["test"], task["path"]], cwd=d, capture_output=True, timeout=60)
            if cr.returncode != 0:
                return False, "the test does not compile: " + cr.stderr.decode(errors="replace")[-300:]
            tr = subprocess.run([os.path.join(d, exe)], cwd=d, capture_output=True, timeout=30)
        else:
            tr = subprocess.run([sys.executable, task["test"]], cwd=d, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False, "tests timed out"
    if tr.returncode != 0:
        return False, "tests failed: " + (tr.stderr.decode(errors="replace")[-300:] or f"exit {tr.returncode}")
    return True, ""


def run_task(task, tdir, octet, model, a):
    """The result of one task (see the module's doc)."""
    lang = task.get("lang", "python")
    files = task.get("files", [task["path"]])
    with tempfile.TemporaryDirectory() as d:
        for f in files:
            shutil.copy(os.path.join(tdir, f), d)
        subprocess.run(GIT + ["init", "-q"], cwd=d, check=True)
        subprocess.run(GIT + ["add", "."], cwd=d, check=True)
        subprocess.run(GIT + ["commit", "-qm", "start"], cwd=d, check=True)
        t = time.time()
        cmd = [octet, "refactor", task["instruction"], "--path", task["path"], "--yes", "-m", model,
               "--threads", str(a.threads), "--format", a.format] + (["-v"] if lang == "c" else []) + a.extra.split()
        r = subprocess.run(cmd, cwd=d, capture_output=True, stdin=subprocess.DEVNULL, timeout=900)
        after = {}
        for f in files:
            with open(os.path.join(d, f)) as fh:
                after[f] = fh.read()
        why, tests = "", None
        if r.returncode != 0:
            why = "octet refactor exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-300:])
        else:
            if lang == "c":
                why = check_c_change(task["kind"], task["check"], after[task["path"]], after[task["header"]],
                                     task["path"], task["header"])
            else:
                why = check_change(task["kind"], task["check"], after[task["path"]])
            tests, twhy = run_tests(task, tdir, d)
            why = why or twhy
        ok = r.returncode == 0 and not why and tests
        res = {"task": os.path.basename(tdir), "kind": task["kind"], "passed": bool(ok),
               "applied": r.returncode == 0, "tests": tests, "why": why, "seconds": time.time() - t,
               "diff": subprocess.run(GIT + ["diff"], cwd=d, capture_output=True).stdout.decode()[:4000]}
        if lang == "c":
            res["lang"] = "c"
            h = task["header"]
            got = re.search(r"^octet refactor: retrieved(.*)$", r.stderr.decode(errors="replace"), re.M)
            res["retrieved"] = got.group(1).split() if got else []
            with open(os.path.join(tdir, h)) as fh:
                htext = fh.read()
            # the header's lines in the prompt; for a function's rename, those naming it must be among them
            sent = set()
            for b in res["retrieved"]:
                m = re.fullmatch(re.escape(h) + r":(\d+)-(\d+)", b)
                if m:
                    sent.update(range(int(m.group(1)), int(m.group(2)) + 1))
            need = {i + 1 for i, line in enumerate(htext.split("\n"))
                    if task["kind"] == "rename_function" and re.search(r"\b%s\b" % task["check"]["old"], line)}
            res["header_retrieved"] = bool(sent) and need <= sent
            res["header_changed"] = after[h] != htext
        return res


def summarize(results, a, t0, lang):
    n = len(results)
    s = {"model": a.model, "format": a.format, "tasks": n, "applied": sum(r["applied"] for r in results),
         "passed": sum(r["passed"] for r in results), "rate": sum(r["passed"] for r in results) / max(1, n),
         "seconds": time.time() - t0, "date": time.strftime("%Y-%m-%d")}
    if lang == "c":
        s["lang"] = "c"
        fr = [r for r in results if r["kind"] == "rename_function"]
        s["function_renames"] = {"tasks": len(fr), "header_retrieved": sum(r["header_retrieved"] for r in fr),
                                 "header_changed": sum(r["header_changed"] for r in fr)}
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--format", choices=["diff", "blocks"], default="diff",
                    help="what the model is asked for (octet refactor --format)")
    ap.add_argument("--lang", choices=["python", "c", "all"], default="python",
                    help="the tasks of this language (all: both, reported apart)")
    ap.add_argument("--only", help="a regular expression: only the tasks whose name it finds")
    ap.add_argument("--extra", default="", help="more octet refactor options, space-separated")
    ap.add_argument("--out")
    a = ap.parse_args()
    octet = os.path.abspath(a.octet)
    model = os.path.abspath(a.model)
    results, t0 = [], time.time()
    for tdir in sorted(glob.glob(os.path.join(HERE, "refactor_tasks", "*", "task.json"))):
        tdir = os.path.dirname(tdir)
        with open(os.path.join(tdir, "task.json")) as f:
            task = json.load(f)
        if a.lang != "all" and task.get("lang", "python") != a.lang:
            continue
        if a.only and not re.search(a.only, os.path.basename(tdir)):
            continue
        res = run_task(task, tdir, octet, model, a)
        results.append(res)
        extra = ""
        if res.get("lang") == "c" and res["kind"] == "rename_function":
            extra = f"; header retrieved: {res['header_retrieved']}, changed: {res['header_changed']}"
        print(f"{res['task']}: {'pass' if res['passed'] else 'FAIL: ' + res['why'][:200]} "
              f"({res['seconds']:.0f} s{extra})", file=sys.stderr, flush=True)
    if a.lang == "all":
        summary = {lang: summarize([r for r in results if r.get("lang", "python") == lang], a, t0, lang)
                   for lang in ("python", "c")}
    else:
        summary = summarize(results, a, t0, a.lang)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
