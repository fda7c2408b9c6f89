#!/usr/bin/env python3
"""make_chat_fixtures.py - the known-good chat prompts tests/unit/engine/test_chat.c compares with.

Renders every conversation of tests/fixtures/chat/cases.txt with every real
chat template of tests/fixtures/chat/templates/ (as the models ship them in
tokenizer_config.json) through jinja2, set up the way Hugging Face
transformers' apply_chat_template sets it up (sandboxed environment,
trim_blocks, lstrip_blocks, loopcontrols, raise_exception, tojson), once with
and once without the generation prompt. Writes, for each case, template and
mode, expected/CASE.NAME.gen.txt / CASE.NAME.nogen.txt with the exact bytes,
or CASE.NAME.gen.error with the template's exception when it refuses the
conversation (e.g. Llama 2 requires alternating user/assistant turns).

  python3 tools/make_chat_fixtures.py [--out tests/fixtures/chat/expected]
"""

import argparse
import json
import re
import sys
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

CHAT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "chat"


def unescape(s, where):
    def rep(m):
        if m.group(1) == "n":
            return "\n"
        if m.group(1) == "t":
            return "\t"
        if m.group(1) == "\\":
            return "\\"
        return chr(int(m.group(2), 16))

    bad = re.search(r"\\(?![nt\\]|u\{[0-9A-Fa-f]{1,6}\})", s)
    if bad:
        raise SystemExit(f"{where}: bad escape at column {bad.start() + 1}")
    return re.sub(r"\\(?:([nt\\])|u\{([0-9A-Fa-f]{1,6})\})", rep, s)


def read_cases(path):
    cases = []
    cur = None
    for no, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        where = f"{path}:{no}"
        if cur is None:
            if not line or line.startswith("#"):
                continue
            if not line.startswith("case "):
                raise SystemExit(f"{where}: expected 'case NAME'")
            cur = (line[5:], [])
        elif line == "end":
            cases.append(cur)
            cur = None
        else:
            role, _, content = line.partition("\t")
            if role not in ("system", "user", "assistant"):
                raise SystemExit(f"{where}: unknown role '{role}'")
            cur[1].append({"role": role, "content": unescape(content, where)})
    if cur is not None:
        raise SystemExit(f"{path}: case {cur[0]} has no 'end'")
    return cases


def read_index(path):
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line and not line.startswith("#"):
            f, name, bos, eos = line.split("\t")
            out.append((f, name, bos, eos))
    return out


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(CHAT / "expected"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.*"):
        old.unlink()
    env = environment()
    cases = read_cases(CHAT / "cases.txt")
    n = 0
    for fname, name, bos, eos in read_index(CHAT / "templates" / "index.txt"):
        tmpl = env.from_string((CHAT / "templates" / fname).read_text(encoding="utf-8"))
        for case, messages in cases:
            for gen in (True, False):
                stem = f"{case}.{name}.{'gen' if gen else 'nogen'}"
                try:
                    text = tmpl.render(messages=messages, tools=None, documents=None, add_generation_prompt=gen,
                                       bos_token=bos, eos_token=eos)
                except jinja2.exceptions.TemplateError as e:
                    (out / f"{stem}.error").write_text(f"{e}\n", encoding="utf-8")
                else:
                    (out / f"{stem}.txt").write_bytes(text.encode("utf-8"))
                n += 1
    print(f"make_chat_fixtures: {n} expected prompts in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
