"""sft.py - supervised fine-tuning samples made by a program from the training corpus.

Every sample is a prompt (not trained on) and a reply (trained on), in exactly
the text octet sends to the model for its jobs, so that the model learns those
jobs on code it has read:

  spec     spec -> function, as `octet gen` / the TUI's /spec build the request
           (cli/spec.c, spec_prompt_chat and spec_prompt_completion): Python
           functions with docstrings and C functions with a leading comment
           (`python3 sft.py` checks the C patterns) become specs (signature,
           description, inputs, output, doctest examples where the docstring
           has them); the body is the reply.
  instr    instruction -> code (and code -> what it does) in ChatML, the chat
           template the GGUF carries, with or without the TUI's system prompt.
  complete a function from its own def line and docstring (`octet run` on a
           HumanEval-style prompt), the prompt ending in the docstring's newline or,
           as token healing leaves it, at the closing quotes.
  rag      the TUI's chat with retrieval on: retrieved chunks (the function, Python
           class or C struct asked about among others of its file) and a question
           about it -> where it is and what it does, or how to call it (create one).
  refactor mechanical refactors of real Python files -> search/replace blocks
           (3 in 4: octet refactor's default --format blocks) or unified diffs
           (--format diff), each in exactly the prompt octet sends for it
           (flows/refactor.c, refactor_prompt; selftest.py compares the texts):
           renaming a function, a local variable or a parameter, extracting a
           constant, adding a parameter with a default. Blocks need no line
           numbers and only the context that makes each SEARCH unique, which a
           small model copies far more reliably than a diff's hunks. Each reply
           is checked as octet reads it: a diff by apply_unified(), blocks parsed
           from the reply text (parse_blocks, as flows/blocks.c) and applied one
           after another, each SEARCH found exactly once; the result must be the
           refactored file exactly, and parse, before the sample is kept. The
           context is what octet sends for the target: the whole window for a file
           (--path, or the file octet infers from a name in the instruction); for
           `--symbol NAME` (a share of function renames) the chunks of octet's index
           (py_chunks, as rag/chunk.c cuts the file) that define NAME and then those
           that use it, and now and then, with no target at all, the chunks that
           share words with the instruction; such a sample is kept only when every
           line its blocks copy is in a chunk shown.

No sample's reply is empty or blank (reply_starts): none teaches the model to
end its reply right after the prompt, whatever the prompt ends with.

A sample is a list of pieces (text, trained) where text may be one of the
special tokens; prep.py tokenizes the pieces one by one, as octet tokenizes a
prompt and then generates the reply.
"""

import ast
import difflib
import functools
import inspect
import io
import keyword
import random
import re
import tokenize

import c_refactor

IM_START, IM_END, EOT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
TUI_SYSTEM = "You are octet, a local coding assistant. Be concise; put code in fenced blocks with a language tag."
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                 "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                 "{% endif %}")

SPEC_PROMPT_EXAMPLES = 10
MAX_FUNC_CHARS = 2400
MAX_BODY_LINES = 45
MAX_REFACTOR_FILE_CHARS = 3600

# ---- octet's prompts, as cli/spec.c and cli/refactor.c build them --------------------------------


def spec_system(c):
    lang, fl = ("C", "c") if c else ("Python", "python")
    uses = "#include lines" if c else "imports"
    avoid = "a main() function" if c else 'an if __name__ == "__main__" block'
    return (f"You are an expert {lang} programmer. Write exactly the function the user specifies. Reply with the "
            f"complete code in one ```{fl} fenced code block: the function, any helper functions it needs and the "
            f"{uses} it uses. Do not write {avoid}, tests or example usage.")


def add_lines(prefix, text, max_lines):
    out, lines = [], text.split("\n") if text else []
    for ln in lines[:max_lines]:
        out.append(prefix + ln + "\n")
    if len(lines) > max_lines:
        out.append(prefix + "...\n")
    return "".join(out)


def describe_spec(f, lp=""):
    """cli/spec.c describe_spec(): description, Inputs, Returns, Examples."""
    b = add_lines(lp, f["description"], 40)
    if f["inputs"]:
        b += f"{lp}Inputs:\n"
        for name, typ, desc in f["inputs"]:
            b += f"{lp}- {name} ({typ})" + (f": {desc}" if desc else "") + "\n"
    b += f"{lp}Returns: {f['output']}" + (f": {f['output_desc']}" if f["output_desc"] else "") + "\n"
    if f["examples"]:
        b += f"{lp}Examples:\n"
        for call, out in f["examples"][:SPEC_PROMPT_EXAMPLES]:
            b += f"{lp}  {call} == {out}\n" if f["lang"] == "py" else f"{lp}  {call} returns {out}\n"
    return b


def spec_user(f):
    c = f["lang"] == "c"
    u = f"Write this {'C' if c else 'Python'} function:\n\n    {f['sig']}\n\n" + describe_spec(f)
    if c:
        u += "\nC types: bool is stdbool.h's; a list input comes as a pointer and its length (NAME, NAME_len).\n"
    return u


def py_doc_text(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\n    ")


def spec_completion_head(f):
    """cli/spec.c spec_prompt_completion() for Python: the def line and the docstring, then 3 spaces."""
    h = f"{f['sig']}:\n    \"\"\"" + py_doc_text(f["description"])
    args = any(d for _, _, d in f["inputs"])
    if args:
        h += "\n\n    Args:"
        for name, _, desc in f["inputs"]:
            h += f"\n        {name}: " + py_doc_text(desc or "")
    if f["output_desc"]:
        h += ("\n    Returns:\n        " if args else "\n\n    Returns:\n        ") + py_doc_text(f["output_desc"])
    if f["examples"]:
        h += "\n"
    for call, out in f["examples"][:SPEC_PROMPT_EXAMPLES]:
        h += "\n    >>> " + py_doc_text(call) + "\n    " + py_doc_text(out)
    return h + '\n    """\n   '


C_INCLUDES = "#include <stdbool.h>\n#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n\n"


def c_comment(text):
    out = []
    for ln in text.split("\n"):
        out.append(" * " + ln.replace("*/", "* /") + "\n")
    return "".join(out)


def chat(system, user, reply):
    p = []
    if system is not None:
        p += [(IM_START, False), ("system\n" + system, False), (IM_END, False), ("\n", False)]
    p += [(IM_START, False), ("user\n" + user, False), (IM_END, False), ("\n", False),
          (IM_START, False), ("assistant\n", False), (reply, True), (IM_END, True), ("\n", False)]
    return p


def refactor_chat_user(instruction, target, context):
    return f"Instruction: {instruction}\n{target}\nCode from the repository (path:first-last, then the lines):\n\n{context}"


REFACTOR_SYSTEM = ("You are a careful refactoring tool for a git repository. Reply with one ```diff block holding a "
                   "unified diff in git's format (diff --git a/PATH b/PATH, --- a/PATH, +++ b/PATH, @@ hunks with 3 "
                   "lines of context) that makes the requested change everywhere it is needed, and nothing else. "
                   "Paths are relative to the repository root, as shown.")
REFACTOR_SYSTEM_BLOCKS = ("You are a careful refactoring tool for a git repository. Reply with search/replace blocks "
                          "that make the requested change everywhere it is needed, and nothing else. Each block is: "
                          "the file's path relative to the repository root (as shown) on a line of its own, a line "
                          "<<<<<<< SEARCH, the lines of the file to change, copied exactly and enough of them to occur "
                          "only once, a line =======, the lines to put there instead, and a line >>>>>>> REPLACE. "
                          "Write one block per place that changes, in ```-fenced blocks. An empty SEARCH creates a new "
                          "file.")


def refactor_target(rel=None, symbol=None):
    """flows/refactor.c refactor_prompt()'s target line: the file REL (--path, or the file octet inferred),
    else the symbol (--symbol), else none."""
    if rel:
        return f"\nTarget: the file {rel} and the code that refers to it.\n"
    if symbol:
        return f"\nTarget: {symbol[:200]}, its definition and every use.\n"
    return ""


def refactor_completion_prompt(fmt, context, instruction, target, rel):
    """flows/refactor.c refactor_prompt() without a chat template: the context, the request, and the
    opened block (completion_tail(): for blocks with the target's path and <<<<<<< SEARCH)."""
    if fmt == "diff":
        return f"{context}\n\nA patch in git's unified diff format that does this: {instruction}\n{target}\n```diff\n"
    tail = f"```\n{rel}\n<<<<<<< SEARCH\n" if rel else "```\n"
    return (f"{context}\n\nSearch/replace blocks (the path, <<<<<<< SEARCH, lines of the file, =======, the lines to "
            f"put instead, >>>>>>> REPLACE) that do this: {instruction}\n{target}\n{tail}")

# ---- Python functions ---------------------------------------------------------------------------------

_PY_TYPES = {"int": "int", "float": "double", "str": "string", "bool": "bool"}
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Examples?|Notes?|See Also|"
                      r"References|Attributes|Warnings?|Todo|Keyword Args|Keyword Arguments|Other Parameters)"
                      r"\s*:?\s*$")


def spec_type(ann):
    """A spec-style type name for an annotation text."""
    if ann is None:
        return "any"
    a = ann.replace("typing.", "").replace(" ", "")
    if a in _PY_TYPES:
        return _PY_TYPES[a]
    m = re.fullmatch(r"(?:list|List|Sequence|Iterable)\[(\w+)\]", a)
    if m and m.group(1) in _PY_TYPES:
        return f"list[{_PY_TYPES[m.group(1)]}]"
    return ann


def py_literal(v):
    """A value as cli/spec.c py_value() writes it (strings double-quoted, doubles as %.17g)."""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        s = format(v, ".17g")
        return s if any(ch in s for ch in ".en") else s + ".0"
    if isinstance(v, str):
        out = []
        for ch in v:
            cp = ord(ch)
            if ch in '"\\':
                out.append("\\" + ch)
            elif 0x20 <= cp < 0x7F:
                out.append(ch)
            elif cp < 0x100:
                out.append(f"\\x{cp:02x}")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(py_literal(e) for e in v) + "]"
    return repr(v)


def parse_docstring(doc):
    """(description, {param: desc}, return type or None, return desc or None) of a cleaned docstring."""
    lines = doc.split("\n")
    desc, i = [], 0
    while i < len(lines) and not _SECTION.match(lines[i].strip()) and not lines[i].strip().startswith(">>>") \
            and not re.match(r"^\s*[:@]\w", lines[i]):
        desc.append(lines[i])
        i += 1
    params, ret_type, ret_desc = {}, None, None
    while i < len(lines):
        head = lines[i].strip()
        m = _SECTION.match(head)
        if not m:
            pm = re.match(r"^\s*:param\s+(?:\w+\s+)?(\w+):\s*(.+)$", lines[i])
            if pm:
                params[pm.group(1)] = pm.group(2).strip()
            rm = re.match(r"^\s*:returns?:\s*(.+)$", lines[i])
            if rm:
                ret_desc = rm.group(1).strip()
            i += 1
            continue
        sec = m.group(1)
        i += 1
        numpy = i < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i])
        if numpy:
            i += 1
        body = []
        while i < len(lines) and not _SECTION.match(lines[i].strip()):
            body.append(lines[i])
            i += 1
        if sec in ("Args", "Arguments", "Parameters", "Params"):
            cur = None
            for ln in body:
                if not ln.strip():
                    continue
                ind = len(ln) - len(ln.lstrip())
                g = re.match(r"^\s*(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", ln) if not numpy else \
                    re.match(r"^\s*(\w+)\s*(?::\s*(.*))?$", ln)
                if g and (numpy and ind == 0 or not numpy and ind <= 4):
                    cur = g.group(1)
                    params[cur] = g.group(3).strip() if not numpy else ""
                elif cur:
                    params[cur] = (params[cur] + " " + ln.strip()).strip()
        elif sec in ("Returns", "Return"):
            txt = [ln.strip() for ln in body if ln.strip()]
            if txt:
                if numpy and len(txt) > 1:
                    ret_type, ret_desc = txt[0], " ".join(txt[1:])
                elif numpy:
                    ret_type = txt[0]
                else:
                    g = re.match(r"^(\w[\w\[\], ]*):\s*(.+)$", txt[0])
                    ret_desc = (g.group(2) if g else txt[0]) + ("" if len(txt) == 1 else " " + " ".join(txt[1:]))
                    ret_type = g.group(1) if g else None
    d = "\n".join(desc).strip()
    d = re.sub(r"\n{3,}", "\n\n", d)
    for k, v in list(params.items()):
        params[k] = re.sub(r"\s+", " ", v)[:200]
    if ret_desc:
        ret_desc = re.sub(r"\s+", " ", ret_desc)[:200]
    return d, params, ret_type, ret_desc


def doctest_examples(doc, name, nargs):
    """(call text, output text) pairs of '>>> name(literals)' lines followed by a literal output."""
    out = []
    lines = doc.split("\n")
    for i, ln in enumerate(lines[:-1]):
        s = ln.strip()
        if not s.startswith(">>> " + name + "("):
            continue
        res = lines[i + 1].strip()
        if not res or res.startswith(">>>") or res.startswith("..."):
            continue
        try:
            call = ast.parse(s[4:], mode="eval").body
            if not isinstance(call, ast.Call) or call.keywords or len(call.args) != nargs:
                continue
            args = [ast.literal_eval(a) for a in call.args]
            val = ast.literal_eval(res)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        out.append((f"{name}(" + ", ".join(py_literal(a) for a in args) + ")", py_literal(val)))
    return out


def _used_imports(tree, func_src):
    """The module's top-level import lines that bind a name used in FUNC_SRC."""
    words = set(re.findall(r"[A-Za-z_]\w*", func_src))
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.level):
            names = [a for a in node.names if (a.asname or a.name.split(".")[0]) in words]
            if names and all(a.name != "*" for a in node.names):
                if isinstance(node, ast.Import):
                    out += [ast.unparse(ast.Import(names=[a])) for a in names]
                else:
                    out.append(ast.unparse(ast.ImportFrom(module=node.module, names=names, level=0)))
    return out


@functools.lru_cache(maxsize=1)
def _py_module(text):
    """TEXT parsed: (its syntax tree, its lines), or None. Kept for the next call with the same text, since a
    document's functions and then its classes are asked for one after the other (the tree is not modified)."""
    try:
        return ast.parse(text), text.split("\n")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _docstring(node):
    """The first statement of definition NODE when it is a string (its docstring), else None."""
    d0 = node.body[0]
    if isinstance(d0, ast.Expr) and isinstance(d0.value, ast.Constant) and isinstance(d0.value.value, str):
        return d0
    return None


def py_functions(text, rel):
    """Documented top-level Python functions of a module as spec dicts."""
    mod = _py_module(text)
    if not mod:
        return []
    tree, lines = mod
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.decorator_list or len(node.body) < 2 \
                or node.name.startswith("test"):
            continue
        d0 = _docstring(node)
        if not d0:
            continue
        doc = inspect.cleandoc(d0.value.value)
        body_lines = lines[d0.end_lineno:node.end_lineno]
        while body_lines and not body_lines[0].strip():
            body_lines = body_lines[1:]
        if not body_lines or len(body_lines) > MAX_BODY_LINES or any(ln and not ln.startswith("    ") for ln in body_lines):
            continue
        body = "\n".join(body_lines) + "\n"
        if len(body) > MAX_FUNC_CHARS or "\t" in body:
            continue
        stripped = [ln.strip() for ln in body_lines if ln.strip() and not ln.strip().startswith("#")]
        if not stripped or stripped[0] in ("pass", "...") or stripped[0].startswith("raise NotImplementedError"):
            continue
        head_lines = lines[node.lineno - 1:d0.lineno - 1]
        if not head_lines or not head_lines[0].startswith("def "):
            continue
        desc, pdesc, rtype, rdesc = parse_docstring(doc)
        if len(desc) < 12 or len(desc) > 1500:
            continue
        a = node.args
        params = a.posonlyargs + a.args
        inputs = []
        for p in params + a.kwonlyargs:
            ann = ast.unparse(p.annotation) if p.annotation else None
            inputs.append((p.arg, spec_type(ann), pdesc.get(p.arg)))
        if a.vararg:
            inputs.append(("*" + a.vararg.arg, "any", pdesc.get(a.vararg.arg)))
        if a.kwarg:
            inputs.append(("**" + a.kwarg.arg, "any", pdesc.get(a.kwarg.arg)))
        ret = spec_type(ast.unparse(node.returns)) if node.returns else spec_type(rtype) if rtype else "any"
        sig = f"def {node.name}({ast.unparse(a)})" + (f" -> {ast.unparse(node.returns)}" if node.returns else "")
        if len(sig) > 300:
            continue
        code_def = "\n".join(head_lines) + "\n"
        func_src = code_def + body
        imports = _used_imports(tree, func_src)
        examples = doctest_examples(doc, node.name, len(params)) if not (a.vararg or a.kwarg or a.kwonlyargs) else []
        out.append({"lang": "py", "name": node.name, "sig": sig, "description": desc, "inputs": inputs,
                    "output": ret, "output_desc": rdesc, "examples": examples, "body": body, "def": code_def,
                    "head": "\n".join(lines[node.lineno - 1:d0.end_lineno]) + "\n", "imports": imports, "path": rel,
                    "span": (node.lineno, node.end_lineno)})
    return out


def py_classes(text, rel):
    """Documented top-level Python classes small enough to be one retrieved block, as dicts rag_chat_samples
    takes beside functions: the class line(s) as "def", the docstring's description, __init__'s parameters as
    "inputs" (how to create one)."""
    mod = _py_module(text)
    if not mod:
        return []
    tree, lines = mod
    out = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.decorator_list or node.name.startswith("Test"):
            continue
        d0 = _docstring(node)
        if not d0:
            continue
        desc = parse_docstring(inspect.cleandoc(d0.value.value))[0]
        src = "\n".join(lines[node.lineno - 1:node.end_lineno])
        if len(desc) < 12 or len(desc) > 1500 or len(src) > MAX_FUNC_CHARS or "\t" in src:
            continue
        head = lines[node.lineno - 1:d0.lineno - 1]
        if not head or not head[0].startswith("class "):
            continue
        init = next((b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == "__init__"), None)
        params = [] if init is None else [(p.arg, "any", None) for p in init.args.posonlyargs + init.args.args]
        out.append({"lang": "py", "kind": "class", "name": node.name, "description": desc, "inputs": params,
                    "def": "\n".join(head) + "\n", "path": rel, "span": (node.lineno, node.end_lineno)})
    return out


# ---- C functions --------------------------------------------------------------------------------------

_CXX = re.compile(r"\bnamespace\b|\btemplate\s*<|\bclass\s+\w+\s*[:{]|::|\bpublic:|\bprivate:|#include\s*<(?:iostream|"
                  r"vector|string|memory|map|algorithm)>|\bconstexpr\b|\bnullptr\b|\bstd::")
# the return type may end its line (`static int` above `foo(...)`) or follow a storage class alone on its line;
# a parameter may be a function pointer (one level of parentheses inside the list)
# a literal of each _CXX alternative: most C files hold none, and `in` is much faster than the search
_CXX_KEYS = ("namespace", "template", "class", "::", "public:", "private:", "iostream>", "vector>", "string>",
             "memory>", "map>", "algorithm>", "constexpr", "nullptr")
_C_SIG = re.compile(r"^((?:(?:static|extern|inline)[ \t]*\n)?[A-Za-z_][\w \t\*]*?[\s\*])([A-Za-z_]\w*)\s*"
                    r"\(((?:[^()]|\([^()]*\))*)\)\s*$", re.S)
_C_NOT_NAMES = set(keyword.kwlist) | {"if", "while", "for", "switch", "return", "sizeof", "main", "else", "do"}
_STD_HEADERS = {"stdio.h", "stdlib.h", "string.h", "stdint.h", "stddef.h", "stdbool.h", "math.h", "limits.h",
                "ctype.h", "errno.h", "assert.h", "float.h", "inttypes.h"}
# comments and string/character literals, in one scan so that a "/*" inside a string is not a comment
_C_LEXEMES = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
# a conditional line may stand between a function's comment and its definition (the function exists only in
# some builds); #else, #elif and #endif would mean the comment belongs to another branch
_C_GAP = re.compile(r"[ \t]*#[ \t]*(?:if|ifdef|ifndef)\b(?:[^\n]*\\\n)*[^\n]*\n")
_C_BLANK = re.compile(r"[ \t]*\n")
# a title in a rule: "/****** General Interfaces ******", "/* ---- keys ---- */"
_C_BANNER = re.compile(r"^[/*\s]*(?:[-=#~]{3,}\s*\w|\w[^\n]*?[-=*#~]{6,}\s*(?:\*/)?\s*$)", re.M)
# words of a return type that are not the type: storage classes, and macros (SQLITE_API, SQLITE_TCLAPI)
_C_QUALS = re.compile(r"\b(?:static|inline|extern|__inline__|__inline)\b\s*")
_C_MACRO = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]*\b\s*")


@functools.lru_cache(maxsize=1)
def _c_masked(text):
    """TEXT with comments and string/character literals blanked (newlines kept, offsets unchanged); kept for
    the next call, as a document's functions and then its structs are asked for."""
    return _C_LEXEMES.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def _is_cxx(code):
    return any(k in code for k in _CXX_KEYS) and _CXX.search(code) is not None


def _c_comments(text):
    """(start, end, text) of each comment of TEXT that begins its line; runs of // lines are one comment."""
    out = []
    for m in _C_LEXEMES.finditer(text):
        s, e, c = m.start(), m.end(), m.group()
        if c[0] in "\"'" or text[text.rfind("\n", 0, s) + 1:s].strip():
            continue
        if c.startswith("//") and out and out[-1][2].startswith("//") and not text[out[-1][1]:s].strip() \
                and text.count("\n", out[-1][1], s) == 1:
            out[-1] = (out[-1][0], e, text[out[-1][0]:e])
            continue
        out.append((s, e, c))
    return out


def _c_documented(text):
    """(comment start, comment, start of the code it documents, whether a blank line is between) for each
    comment of TEXT that begins its line, ends it, and is followed by a line of code: directly, or after
    #if/#ifdef/#ifndef lines and at most one blank line."""
    for cs, ce, comment in _c_comments(text):
        nl = text.find("\n", ce)
        if nl < 0 or text[ce:nl].strip():
            continue
        start, blank = nl + 1, False
        while True:
            gap = _C_GAP.match(text, start) or (not blank and _C_BLANK.match(text, start))
            if not gap:
                break
            blank = blank or gap.re is _C_BLANK
            start = gap.end()
        if not _C_BLANK.match(text, start):
            yield cs, comment, start, blank


def _c_by_style(found):
    """The definitions of FOUND, (dict, blank) pairs of one file, whose comment is the file's style: a comment
    set apart by a blank line documents the definition below it where the file writes them so (libyaml,
    libxml2, curl: most of its comments are so set apart); where most comments touch their definition
    (SQLite), one set apart is a section's or the code above's, and is left out."""
    spaced = sum(b for _, b in found)
    return [f for f, b in found if not b or spaced > len(found) - spaced]


def _c_description(comment):
    """The description a C comment gives, or None: not a license, a section's banner ("sqlite3_value_  *****",
    "---- keys ----") or a bare name."""
    desc = _clean_comment(comment)
    if len(desc) < 12 or len(desc) > 1200 or re.search(r"[Cc]opyright|[Ll]icen[sc]e|SPDX", desc) \
            or re.search(r"[-=*#~]{6}", desc) or _C_BANNER.search(comment) or not re.search(r"\s", desc):
        return None
    return desc


def c_body_end(text, i):
    """Index just after the brace closing the body whose '{' is at TEXT[i], skipping strings and comments; -1."""
    depth, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            if j < 0:
                return -1
            i = j
        elif ch == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return -1
            i = j + 1
        elif ch in "\"'":
            i += 1
            while i < n and text[i] != ch and text[i] != "\n":
                if text[i] == "\\":
                    i += 1
                i += 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _clean_comment(c):
    if c.startswith("/*"):
        c = c[2:-2]
        # the right edge of a box of stars goes too (`*      Free compiled code      *`, pcre2)
        ls = [re.sub(r"\s+\*+$", "", re.sub(r"^\s*\*+ ?", "", ln)).rstrip() for ln in c.split("\n")]
    else:
        ls = [re.sub(r"^\s*//+!?<? ?", "", ln).rstrip() for ln in c.split("\n")]
    ls = [ln for ln in ls if not re.fullmatch(r"[-=*/#~_\s]*", ln) or not ln]
    return "\n".join(ls).strip()


def _c_param_comments(sig, masked):
    """Parameter name -> the comment after it on its line, in a signature written one parameter a line
    (`int nByte,   /* Bytes of data */`): a description the spec can give that parameter."""
    out = {}
    for m in _C_LEXEMES.finditer(sig):
        if m.group()[0] in "\"'":
            continue
        code = masked[masked.rfind("\n", 0, m.start()) + 1:m.start()].rstrip()
        code = code[:-1].rstrip() if code.endswith(",") else code
        pm = re.search(r"\(\s*\*+\s*(\w+)\s*\)\s*\([^()]*\)\)?$", code) or \
            re.search(r"(\w+)\s*(?:\[\s*\w*\s*\])?\)?$", code)  # a function pointer's name, or the last word
        desc = _clean_comment(m.group()).replace("\n", " ")
        if pm and desc:
            out.setdefault(pm.group(1), desc)
    return out


def _c_inputs(params, pdesc):
    """(name, type, description) of each parameter of a C parameter list, or None when one is not understood.
    A function pointer `void (*xDel)(void*)` is xDel of type `void (*)(void*)`; a final `...` is kept as such."""
    if not params or params == "void":
        return []
    parts, depth, cur = [], 0, ""
    for ch in params:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    inputs = []
    for i, p in enumerate(parts):
        p = p.strip()
        fm = re.match(r"^(.*?)\(\s*(\*+)\s*(\w+)\s*\)\s*(\(.*\))$", p)
        pm = re.match(r"^(.*?[\s\*])(\w+)(\s*\[\s*\w*\s*\])?$", p)
        if p == "..." and i == len(parts) - 1 and i > 0:
            inputs.append(("...", "variable arguments", None))
        elif fm and fm.group(1).strip():
            inputs.append((fm.group(3), f"{fm.group(1).strip()} ({fm.group(2)}){fm.group(4)}",
                           pdesc.get(fm.group(3))))
        elif pm and "(" not in p:
            inputs.append((pm.group(2), re.sub(r"\s+", " ", pm.group(1) + (pm.group(3) or "")).strip(),
                           pdesc.get(pm.group(2))))
        else:
            return None
    return inputs


def c_functions(text, rel):
    """C (not C++) function definitions preceded by a comment, as spec dicts. The comment begins its line and
    only #if/#ifdef/#ifndef lines and one blank line (where the file's style has it: _c_by_style) stand between
    it and the definition; the signature may span lines (the return type on a line of its own) and carry a
    comment for each parameter."""
    masked = _c_masked(text)
    if _is_cxx(masked):  # in the code, not in comments or strings ("the namespace", "DBD::SQLite")
        return []
    out = []
    includes = [m.group(1) for m in re.finditer(r"^#include\s*<([\w/.]+)>", text, re.M) if m.group(1) in _STD_HEADERS]
    for cs, comment, start, blank in _c_documented(text):
        brace = masked.find("{", start)
        semi = masked.find(";", start)
        if brace < 0 or (0 <= semi < brace) or brace - start > 1200:
            continue
        sig_code = masked[start:brace]
        sig_text = sig_code.strip()
        if not sig_text or "#" in sig_code or "\\\n" in sig_code or "=" in sig_code \
                or len(re.sub(r"\s+", " ", sig_text)) > 300:
            continue
        if text[start:brace].lstrip().startswith(("/*", "//")):
            continue  # a comment of its own stands in between: that one is the function's
        sm = _C_SIG.match(sig_text)
        if not sm:
            continue
        ret, name, params = re.sub(r"\s+", " ", sm.group(1)).strip(), sm.group(2), re.sub(r"\s+", " ", sm.group(3)).strip()
        if name in _C_NOT_NAMES or not ret or ret.split()[-1] in ("return", "else") or ret.isupper():
            continue
        end = c_body_end(text, brace)
        if end < 0:
            continue
        body = text[brace + 1:end - 1]
        body_lines = body.strip("\n").split("\n")
        if len(body_lines) > MAX_BODY_LINES or len(body) > MAX_FUNC_CHARS or not body.strip():
            continue
        desc = _c_description(comment)
        if not desc:
            continue
        pdesc, rdesc, keep = {}, None, []
        for ln in desc.split("\n"):
            pm = re.match(r"^[@\\]param(?:\[\w+\])?\s+(\w+)\s*:?\s*(.*)$", ln)
            rm = re.match(r"^[@\\]returns?\s*:?\s*(.*)$", ln)
            if pm:
                pdesc[pm.group(1)] = pm.group(2)
            elif rm:
                rdesc = rm.group(1) or None
            elif re.match(r"^[@\\](brief|details)\s", ln):
                keep.append(ln.split(None, 1)[1] if len(ln.split(None, 1)) > 1 else "")
            elif not re.match(r"^[@\\]\w", ln):
                keep.append(ln)
        desc = "\n".join(keep).strip()
        if len(desc) < 12 or not re.search(r"\s", desc):
            continue
        for k, v in _c_param_comments(text[start:brace], masked[start:brace]).items():
            pdesc.setdefault(k, v)
        inputs = _c_inputs(params, pdesc)
        if inputs is None:
            continue
        sig = f"{ret} {name}({params})".replace("* ", "*") if ret.endswith("*") else f"{ret} {name}({params})"
        ctype = _C_QUALS.sub("", ret).strip()
        plain = _C_MACRO.sub("", ctype).strip()  # "int SQLITE_TCLAPI" returns an int
        if re.search(r"[a-z]", re.sub(r"\b(const|volatile|restrict|struct|union|enum)\b", "", plain)):
            ctype = plain
        out.append(({"lang": "c", "name": name, "sig": re.sub(r"\b(static|extern|inline|__inline__|__inline)\s+", "", sig),
                     "description": desc, "inputs": inputs, "output": ctype or ret, "output_desc": rdesc,
                     "examples": [], "body": body.strip("\n") + "\n", "def": sig, "includes": includes[:6],
                     "path": rel, "span": (text.count("\n", 0, cs) + 1, text.count("\n", 0, end - 1) + 1)}, blank))
    return _c_by_style(out)


_C_STRUCT = re.compile(r"(typedef[ \t]+)?(struct|union)[ \t]+(\w+)?[ \t]*\n?\{")


def c_structs(text, rel):
    """Documented C structs and unions at the top level (the C analogue of py_classes, for rag_chat_samples):
    `struct Vdbe {...};` is asked about as `struct Vdbe`, `typedef struct tok {...} tok_t;` as `tok_t`. The
    comment is found as c_functions finds a function's; the whole definition must fit one retrieved block."""
    masked = _c_masked(text)
    if _is_cxx(masked):
        return []
    out = []
    for cs, comment, start, blank in _c_documented(text):
        sm = _C_STRUCT.match(masked, start)
        if not sm:
            continue
        end = c_body_end(text, sm.end() - 1)
        if end < 0:
            continue
        tail = re.match(r"[ \t]*(\w+)?[ \t]*;", masked[end:end + 200])
        if not tail or bool(sm.group(1)) != bool(tail.group(1)) or not (sm.group(3) or tail.group(1)):
            continue  # not a plain definition: a variable of the type, or an unnamed one
        name = tail.group(1) or f"{sm.group(2)} {sm.group(3)}"
        desc = _c_description(comment)
        stop = end + tail.end()
        if not desc or stop - cs > MAX_FUNC_CHARS:
            continue
        head = re.sub(r"\s+", " ", masked[start:sm.end() - 1]).strip()
        out.append(({"lang": "c", "kind": "struct", "name": name, "description": desc, "inputs": [],
                     "def": f"{head} {{ ... }}" + (f" {tail.group(1)};" if tail.group(1) else ";"), "path": rel,
                     "span": (text.count("\n", 0, cs) + 1, text.count("\n", 0, stop) + 1)}, blank))
    return _c_by_style(out)


# ---- samples of the spec and instruction jobs ------------------------------------------------------


def reply_code(f):
    if f["lang"] == "py":
        imp = "\n".join(f["imports"])
        return (imp + "\n\n\n" if imp else "") + f["def"] + f["body"]
    inc = "".join(f"#include <{h}>\n" for h in f["includes"])
    return (inc + "\n" if inc else "") + f"{f['def']}\n{{\n{f['body']}}}\n"


def spec_samples(f, rng):
    c = f["lang"] == "c"
    fl = "c" if c else "python"
    code = reply_code(f)
    out = [("spec-chat-" + f["lang"], chat(spec_system(c), spec_user(f), f"```{fl}\n{code}```"))]
    if rng.random() < 0.5:
        if c:
            d = describe_spec(f)
            prompt = C_INCLUDES + f"/* {f['name']}:\n" + c_comment(d.rstrip("\n")) + " */\n" + f"{f['sig']}\n{{\n"
            out.append(("spec-completion-c", [(EOT, False), (prompt, False), (f["body"] + "}\n", True), (EOT, True)]))
        else:
            head = spec_completion_head(f)
            out.append(("spec-completion-py", [(EOT, False), (head, False), (f["body"][3:], True), (EOT, True)]))
    if not c and rng.random() < 0.35:
        out.append(complete_sample(f, rng))
    return out


def complete_sample(f, rng):
    """A plain completion of a function from its own def line and docstring, as `octet run` gets a
    HumanEval-style prompt: the prompt ends in the docstring's newline and the reply is the body. Half the
    prompts keep that newline (a lone newline token: no token healing), half end at the closing quotes with
    the reply starting at the newline (what token healing makes of the same prompt), so that a prompt
    ending in a newline is always followed by code, never by the end of the reply."""
    imp = "\n".join(f["imports"])
    prompt = (imp + "\n\n\n" if imp else "") + f["head"]
    if rng.random() < 0.5:
        return ("complete-py", [(EOT, False), (prompt, False), (f["body"], True), (EOT, True)])
    return ("complete-py-healed", [(EOT, False), (prompt[:-1], False), ("\n" + f["body"], True), (EOT, True)])


_INSTR = [
    "Write a {L} function `{name}` that does this: {desc}",
    "{desc}\n\nWrite it as a {L} function with the signature `{sig}`.",
    "Implement `{sig}` in {L}.\n\n{desc}",
    "Can you write {L} code for this?\n{desc}\nCall the function {name}.",
]


def instr_samples(f, rng):
    c = f["lang"] == "c"
    L, fl = ("C", "c") if c else ("Python", "python")
    system = rng.choice([None, TUI_SYSTEM, TUI_SYSTEM, "You are a helpful coding assistant."])
    desc = f["description"]
    first = desc.split("\n\n")[0].replace("\n", " ")
    code = reply_code(f)
    out = []
    t = rng.choice(_INSTR)
    out.append(("instr-write-" + f["lang"],
                chat(system, t.format(L=L, name=f["name"], desc=first if rng.random() < 0.5 else desc, sig=f["sig"]),
                     f"```{fl}\n{code}```")))
    if rng.random() < 0.35:
        q = rng.choice(["What does this function do?", "Explain this code briefly.", "What is this for?"])
        out.append(("instr-explain-" + f["lang"],
                    chat(system, f"{q}\n\n```{fl}\n{f['def']}{'' if not c else chr(10) + '{' + chr(10)}"
                                 f"{f['body']}{'}' + chr(10) if c else ''}```",
                         f"`{f['name']}`: {first}")))
    return out


# ---- questions about retrieved code, as the TUI asks them ------------------------------------------

# flows/prompt.c prompt_user(): the retrieved code, then the question, in the user's turn
RAG_HEAD = "Code from the repository that may be relevant:\n\n"
MAX_RAG_CHARS = 2600  # about the retrieved share of a 2048-token context


def block_lang(path, default):
    """The language tag rag/chunk.c chunk_lang() gives PATH's blocks, for the files samples come from."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return {"py": "python", "pyi": "python", "pyw": "python", "c": "c", "h": "c"}.get(ext, default)


def first_sentence(desc):
    para = desc.split("\n\n")[0].replace("\n", " ").strip()
    return re.split(r"(?<=[.!?])\s", para)[0]


def rag_chat_samples(text, funcs, rel, rng, other=None):
    """The TUI's chat with retrieval on: the user's turn holds retrieved chunks of the repository (rag/pack.c's
    blocks, best first, a blank line between them) and a question about one of the functions in them. The
    reply names the function and where it is, and says what it does from its own documentation, or shows how
    to call it: the model learns to find the code a question is about among distractors (other functions of
    the same file, and for Python a window of another file of its distribution, OTHER = (path, text)) and to
    answer from it, instead of writing whatever a bare question suggests."""
    if not funcs:
        return []
    lines = text.split("\n")
    f = rng.choice(funcs)
    lang = "python" if f["lang"] == "py" else "c"
    a, b = f["span"]

    def block(g):
        ga, gb = g["span"]
        return code_block(rel, ga, gb, "\n".join(lines[ga - 1:gb]) + "\n", lang)

    blocks = [block(f)]
    used = len(blocks[0])
    if used > MAX_RAG_CHARS:
        return []
    others = [g for g in funcs if g["span"][1] < a or g["span"][0] > b]
    rng.shuffle(others)
    for g in others[:rng.randint(1, 4)]:
        bl = block(g)
        if used + len(bl) + 1 > MAX_RAG_CHARS:
            continue
        blocks.append(bl)
        used += len(bl) + 1
    if other and rng.random() < 0.5:
        opath, otext = other
        ol = otext.split("\n")
        oa = rng.randrange(max(1, len(ol) - 30))
        chunk = "\n".join(ol[oa:oa + rng.randint(12, 30)]).rstrip("\n")
        bl = code_block(opath, oa + 1, oa + chunk.count("\n") + 1, chunk + "\n", block_lang(opath, lang))
        if chunk.strip() and used + len(bl) + 1 <= MAX_RAG_CHARS:
            blocks.insert(rng.randrange(1, len(blocks) + 1), bl)
            used += len(bl) + 1
    if len(blocks) > 1 and rng.random() < 0.4:  # retrieval does not always rank it first
        blocks.insert(rng.randrange(1, len(blocks)), blocks.pop(0))
    name, loc, what = f["name"], f"{rel}:{a}-{b}", first_sentence(f["description"])
    params = [p[0].lstrip("*") for p in f["inputs"] if p[0] not in ("self", "cls")]
    kind = rng.random()
    if f.get("kind") == "struct":
        if kind < 0.6:
            q = rng.choice(["What is `{n}`?", "What is `{n}` for?", "Explain {n}.", "what is {n}"]).format(n=name)
            reply = f"`{name}` ({loc}): {what}"
        else:
            q = rng.choice(["Which struct holds this: {d}", "Where is this defined: {d}",
                            "Is there a type for this? {d}"]).format(d=what)
            reply = f"`{name}` in {loc}:\n\n```{lang}\n{f['def']}\n```"
        return [("rag-chat-" + f["lang"], chat(TUI_SYSTEM, RAG_HEAD + "\n".join(blocks) + "\n\n" + q, reply))]
    if f.get("kind") == "class":
        if kind < 0.45:
            q = rng.choice(["What is `{n}`?", "What is `{n}` for?", "Explain the class {n}.",
                            "what is {n}"]).format(n=name)
            reply = f"`{name}` ({loc}): {what}"
        elif kind < 0.8:
            q = rng.choice(["Which class does this: {d}", "Where is this defined: {d}",
                            "Is there a class for this? {d}"]).format(d=what)
            reply = f"`{name}` in {loc}:\n\n```{lang}\n{f['def'].rstrip()}\n```"
        else:
            q = rng.choice(["How do I create a `{n}`?", "How do I use {n}?"]).format(n=name)
            reply = f"Create one with `{name}({', '.join(params)})` ({loc}). {what}"
        return [("rag-chat-" + f["lang"], chat(TUI_SYSTEM, RAG_HEAD + "\n".join(blocks) + "\n\n" + q, reply))]
    if kind < 0.45:
        q = rng.choice(["What does `{n}` do?", "What is `{n}` for?", "Explain `{n}`.", "what does {n} do",
                        "What does the function {n} do?"]).format(n=name)
        reply = f"`{name}` ({loc}): {what}"
    elif kind < 0.8:
        q = rng.choice(["Which function does this: {d}", "Where is this done: {d}", "Find the code for this: {d}",
                        "Is there a function that does this? {d}"]).format(d=what)
        reply = f"`{name}` in {loc}:\n\n```{lang}\n{f['def'].rstrip()}\n```"
    else:
        q = rng.choice(["How do I use `{n}`?", "How do I call {n}?", "How is `{n}` called?"]).format(n=name)
        reply = f"Call `{name}({', '.join(params)})` ({loc}). {what}"
    return [("rag-chat-" + f["lang"], chat(TUI_SYSTEM, RAG_HEAD + "\n".join(blocks) + "\n\n" + q, reply))]


# ---- refactors --------------------------------------------------------------------------------------


def unified_diff(path, old, new):
    """git-style unified diff of two texts (3 lines of context), or '' when equal."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    hunks = list(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", n=3))
    if not hunks:
        return ""
    body = "".join(h if h.endswith("\n") else h + "\n" for h in hunks)
    return f"diff --git a/{path} b/{path}\n" + body


def apply_unified(old, diff):
    """Apply a one-file unified diff to OLD strictly (context must match); the new text or None."""
    lines = old.splitlines(keepends=True)
    dl = diff.splitlines(keepends=True)
    out, pos, i = [], 0, 0
    while i < len(dl) and not dl[i].startswith("@@"):
        i += 1
    while i < len(dl):
        m = re.match(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", dl[i])
        if not m:
            return None
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        if start < pos:
            return None
        out += lines[pos:start]
        pos = start
        i += 1
        while i < len(dl) and not dl[i].startswith("@@"):
            t, s = dl[i][0], dl[i][1:]
            if t in " -":
                if pos >= len(lines) or lines[pos] != s:
                    return None
                pos += 1
                if t == " ":
                    out.append(s)
            elif t == "+":
                out.append(s)
            elif t != "\\":
                return None
            i += 1
    out += lines[pos:]
    return "".join(out)


def _replace_spans(text, spans, new):
    """Replace (line, col, length) spans (1-based lines, columns in characters) of TEXT with NEW."""
    lines = text.split("\n")
    for ln, col, n in sorted(spans, key=lambda s: (s[0], -s[1])):
        s = lines[ln - 1]
        lines[ln - 1] = s[:col] + new + s[col + n:]
    return "\n".join(lines)


def _name_spans(root, name, include_defs=True):
    spans = []
    for n in ast.walk(root):
        if isinstance(n, ast.Name) and n.id == name:
            spans.append((n.lineno, n.col_offset, len(name)))
        elif isinstance(n, ast.arg) and n.arg == name:
            spans.append((n.lineno, n.col_offset, len(name)))
    return spans


def _def_name_span(text_lines, node):
    ln = node.lineno
    s = text_lines[ln - 1]
    col = s.find("def " + node.name)
    return (ln, col + 4, len(node.name)) if col >= 0 else None


_WORDS = ["value", "item", "result", "count", "index", "name", "data", "text", "total", "node", "key", "size",
          "path", "items", "entry", "parts", "buf", "out", "acc", "current", "limit", "offset", "tmp", "elem"]
_PARAMS = [("verbose", "False"), ("timeout", "None"), ("strict", "True"), ("limit", "100"), ("encoding", '"utf-8"'),
           ("debug", "False"), ("retries", "3"), ("sep", '","'), ("key", "None"), ("reverse", "False"),
           ("default", "None"), ("scale", "1.0"), ("copy", "True"), ("max_depth", "10"), ("prefix", '""')]


def _new_name(old, taken, rng, style):
    words = old.strip("_").split("_")
    for _ in range(20):
        r = rng.random()
        if style == "func":
            if r < 0.3:
                cand = rng.choice(["get", "compute", "make", "build", "find", "load", "parse", "check"]) + "_" + "_".join(
                    words[1:] if len(words) > 1 else words)
            elif r < 0.6:
                cand = old + rng.choice(["_impl", "_value", "_all", "_items", "_v2", "_fast", "_safe"])
            else:
                cand = "_".join(words[:-1] + [rng.choice(_WORDS)]) if len(words) > 1 else old + "_" + rng.choice(_WORDS)
        else:
            if r < 0.5:
                cand = rng.choice(_WORDS)
            elif r < 0.8:
                cand = old + "_" + rng.choice(_WORDS)
            else:
                cand = rng.choice(_WORDS) + "_" + rng.choice(_WORDS)
        cand = cand.strip("_") if not old.startswith("_") else "_" + cand.strip("_")
        if cand and cand != old and cand.isidentifier() and not keyword.iskeyword(cand) and cand not in taken:
            return cand
    return None


def _const_name(func, lit, parent):
    if isinstance(parent, ast.keyword) and parent.arg:
        base = parent.arg
    elif isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        base = parent.targets[0].id
    elif isinstance(parent, ast.Compare) and isinstance(parent.left, ast.Name):
        base = "max_" + parent.left.id
    else:
        base = func.strip("_") + ("_text" if isinstance(lit, str) else "_factor" if isinstance(lit, float) else "_size")
    return re.sub(r"_+", "_", base.upper()).strip("_")


def refactors(text, rel, rng, max_per_file=2):
    """(instruction, target text of `Target:` line, new text) mechanical refactors of a window of TEXT."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = text.split("\n")
    try:
        idents = {t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    out = []
    kinds = ["func", "var", "param", "const", "addparam"]
    rng.shuffle(kinds)
    for kind in kinds:
        if len(out) >= max_per_file or not funcs:
            break
        f = rng.choice(funcs)
        try:
            if kind == "func":
                if any(isinstance(n, ast.Attribute) and n.attr == f.name for n in ast.walk(tree)):
                    continue
                new = _new_name(f.name, idents, rng, "func")
                sp = _def_name_span(lines, f)
                if not new or not sp:
                    continue
                spans = [sp] + [s for s in _name_spans(tree, f.name) if s != sp]
                instr = rng.choice([f"Rename the function {f.name} to {new}", f"rename {f.name} to {new}",
                                    f"Rename function `{f.name}` to `{new}` everywhere"])
                out.append((instr, ("symbol", f.name), _replace_spans(text, spans, new)))
            elif kind == "var":
                params = {a.arg for a in ast.walk(f.args) if isinstance(a, ast.arg)}
                assigned = [n.id for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                            and n.id not in params]
                nested = any(isinstance(n, (ast.FunctionDef, ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal))
                             for n in ast.walk(f) if n is not f)
                if not assigned or nested:
                    continue
                old = rng.choice(assigned)
                new = _new_name(old, idents, rng, "var")
                if not new:
                    continue
                spans = _name_spans(f, old)
                instr = rng.choice([f"Rename the variable {old} in {f.name} to {new}",
                                    f"In {f.name}, rename the local variable `{old}` to `{new}`"])
                out.append((instr, ("path",), _replace_spans(text, spans, new)))
            elif kind == "param":
                a = f.args
                cands = [x.arg for x in a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                nested = any(isinstance(n, (ast.FunctionDef, ast.Lambda, ast.ClassDef)) for n in ast.walk(f) if n is not f)
                if not cands or nested:
                    continue
                old = rng.choice(cands)
                new = _new_name(old, idents, rng, "var")
                if not new:
                    continue
                spans = _name_spans(f, old)
                for n in ast.walk(tree):  # keyword arguments of calls to f in the file
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == f.name:
                        for k in n.keywords:
                            if k.arg == old:
                                spans.append((k.lineno, k.col_offset, len(old)))
                instr = rng.choice([f"Rename the parameter {old} of {f.name} to {new}",
                                    f"Rename parameter `{old}` to `{new}` in {f.name} and its callers"])
                out.append((instr, ("path",), _replace_spans(text, spans, new)))
            elif kind == "const":
                doc = f.body[0] if (isinstance(f.body[0], ast.Expr) and isinstance(f.body[0].value, ast.Constant)) else None
                parents = {}
                for n in ast.walk(f):
                    for ch in ast.iter_child_nodes(n):
                        parents[ch] = n
                lits = [n for n in ast.walk(f) if isinstance(n, ast.Constant) and n is not (doc.value if doc else None)
                        and ((type(n.value) in (int, float) and n.value not in (0, 1, 2, -1, 0.0, 1.0, 10))
                             or (isinstance(n.value, str) and 3 <= len(n.value) <= 40 and "\n" not in n.value))
                        and n.lineno == n.end_lineno and not isinstance(parents.get(n), (ast.JoinedStr, ast.FormattedValue))]
                if not lits:
                    continue
                lit = rng.choice(lits)
                same = [n for n in lits if type(n.value) is type(lit.value) and n.value == lit.value]
                seg = ast.get_source_segment(text, lit)
                if seg is None or any(ast.get_source_segment(text, n) != seg for n in same):
                    continue
                cname = _const_name(f.name, lit.value, parents.get(lit))
                if not cname.isidentifier() or cname in idents:
                    continue
                new_text = _replace_spans(text, [(n.lineno, n.col_offset, len(seg)) for n in same], cname)
                first = (f.decorator_list[0].lineno if f.decorator_list else f.lineno)
                nl = new_text.split("\n")
                nl[first - 1:first - 1] = [f"{cname} = {seg}", "", ""]
                instr = rng.choice([f"Extract the constant {seg} in {f.name} into a module-level constant {cname}",
                                    f"Move the literal {seg} used in {f.name} to a constant named {cname}"])
                out.append((instr, ("path",), "\n".join(nl)))
            elif kind == "addparam":
                a = f.args
                if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or f.lineno != f.body[0].lineno - 1:
                    continue
                s = lines[f.lineno - 1]
                if not s.startswith("def ") or not s.rstrip().endswith(":"):
                    continue
                close = s.rfind(")", 0, s.rfind("->") if "->" in s else len(s))
                if close < 0:
                    continue
                pname, pdef = rng.choice(_PARAMS)
                if pname in idents:
                    continue
                annotated = any(x.annotation for x in a.args)
                pann = {"False": "bool", "True": "bool", "3": "int", "100": "int", "10": "int", "1.0": "float"}.get(pdef)
                if annotated and pann:
                    ptxt = f"{pname}: {pann} = {pdef}"
                elif annotated:
                    continue
                else:
                    ptxt = f"{pname}={pdef}"
                sep = ", " if a.args else ""
                nl = list(lines)
                nl[f.lineno - 1] = s[:close] + sep + ptxt + s[close:]
                instr = rng.choice([f"Add a parameter {pname} with default {pdef} to {f.name}",
                                    f"Add a keyword parameter `{pname}={pdef}` to the function {f.name}"])
                out.append((instr, ("path",), "\n".join(nl)))
        except (ValueError, IndexError, AttributeError):
            continue
    good = []
    for instr, target, new in out:
        if new == text:
            continue
        try:
            ast.parse(new)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        good.append((instr, target, new))
    return good


def py_window(text, rng, max_chars=MAX_REFACTOR_FILE_CHARS):
    """A run of whole top-level statements of TEXT (with the module's start when it fits), or None."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    nodes = tree.body
    if not nodes:
        return None
    lines = text.split("\n")

    def first_line(n):
        return min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])

    starts = [0] + [first_line(n) - 1 for n in nodes[1:]]
    i = 0 if rng.random() < 0.4 else rng.randrange(len(nodes))
    j = i
    while j < len(nodes) and len("\n".join(lines[starts[i]:nodes[j].end_lineno])) <= max_chars:
        j += 1
    if j == i:
        return None
    w = "\n".join(lines[starts[i]:nodes[j - 1].end_lineno]).strip("\n") + "\n"
    if not any(isinstance(n, ast.FunctionDef) for n in nodes[i:j]) or len(w) < 200:
        return None
    return w


def code_block(path, first, last, text, lang="python"):
    """rag/pack.c format_block(): how octet shows lines FIRST..LAST of PATH (TEXT, ending in a newline) in a
    prompt: the path and line range, a fence (longer than any run of backticks inside) with the language."""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1 if run >= 3 else 3)
    return f"{path}:{first}-{last}\n{fence}{lang}\n{text}{fence}\n"


# ---- octet's chunks of a Python file (rag/scan_python.c, rag/chunk.c) -------------------------------

CHUNK_MAX_LINES = 80  # rag/chunk.h: a definition up to this long is one chunk
CHUNK_WINDOW_LINES = 50  # windows cut from longer spans and the lines between definitions
CHUNK_WINDOW_OVERLAP = 10
CHUNK_MAX_BYTES = 16384


def _is_id(c):
    return c < 128 and (chr(c).isalnum() or c == 95) or c >= 0x80


def _py_defs(s, n_lines):
    """rag/scan_python.c scan_python() on the bytes S: [kind, start, end, parent, name] per def/class, in
    order; a definition starts at its first decorator and ends before the next logical line indented no
    deeper, trailing blank lines and comments at its own depth left out."""
    n = len(s)
    indent, blank, comment = [0] * (n_lines + 2), [False] * (n_lines + 2), [False] * (n_lines + 2)
    nodes, stack = [], []  # stack: (node, indent)
    depth, quote, triple, cont = 0, 0, False, False
    dec_line, dec_indent = 0, -1
    i = 0

    def block_end(line, ind, start):
        e = line - 1
        while e > start and (blank[e] or (comment[e] and indent[e] <= ind)):
            e -= 1
        return e

    def word_at(p, w):
        if s[p:p + len(w)] != w or (p + len(w) < n and _is_id(s[p + len(w)])):
            return -1
        return p + len(w)

    line = 1
    while line <= n_lines and i <= n:
        logical = not quote and depth == 0 and not cont
        cont = False
        ind, p = 0, i
        while p < n and s[p] in (32, 9, 12):
            ind = (ind // 8 + 1) * 8 if s[p] == 9 else ind + 1
            p += 1
        indent[line] = ind
        blank[line] = p >= n or s[p] == 10
        comment[line] = not blank[line] and s[p] == 35
        if logical and not blank[line] and not comment[line]:
            while stack and stack[-1][1] >= ind:
                node, oind = stack.pop()
                nodes[node][2] = block_end(line, oind, nodes[node][1])
            a = word_at(p, b"class")
            is_class = a >= 0
            if not is_class:
                a = word_at(p, b"def")
                if a < 0:
                    a = word_at(p, b"async")
                    if a >= 0:
                        while a < n and s[a] in (32, 9):
                            a += 1
                        a = word_at(a, b"def")
            if a >= 0:
                while a < n and s[a] in (32, 9):
                    a += 1
                e = a
                while e < n and _is_id(s[e]):
                    e += 1
                start = dec_line if dec_line and dec_indent == ind else line
                nodes.append(["class" if is_class else "func", start, n_lines, stack[-1][0] if stack else -1,
                              s[a:e].decode("utf-8", "replace") or None])
                stack.append((len(nodes) - 1, ind))
                dec_line = 0
            elif s[p] == 64:
                if not dec_line or dec_indent != ind:
                    dec_line, dec_indent = line, ind
            else:
                dec_line = 0
        q = i if quote else p  # the rest of the physical line
        esc_nl = False
        while q < n and s[q] != 10:
            c = s[q]
            if quote:
                if c == 92:
                    if q + 1 < n and s[q + 1] == 10:
                        esc_nl = True
                        q += 1
                        break
                    q += 2
                    continue
                if c == quote:
                    if not triple:
                        quote = 0
                    elif q + 2 < n and s[q + 1] == quote and s[q + 2] == quote:
                        quote = 0
                        q += 2
                q += 1
                continue
            if c == 35:
                break
            if c in (34, 39):
                quote = c
                triple = q + 2 < n and s[q + 1] == c and s[q + 2] == c
                q += 3 if triple else 1
                continue
            if c in (40, 91, 123):
                depth += 1
            elif c in (41, 93, 125) and depth > 0:
                depth -= 1
            elif c == 92 and q + 1 < n and s[q + 1] == 10:
                cont = True
            q += 1
        while q < n and s[q] != 10:
            q += 1
        if quote and not triple and not esc_nl:
            quote = 0  # an unterminated one-line string
        i = q + 1
        line += 1
    while stack:
        node, oind = stack.pop()
        nodes[node][2] = block_end(n_lines + 1, oind, nodes[node][1])
    for nd in nodes:
        nd[1] = max(nd[1], 1)
        nd[2] = max(min(nd[2], n_lines), nd[1])
    return nodes


def py_chunks(text):
    """The chunks octet's index makes of the Python file TEXT (rag/chunk.c chunk_text() over scan_python()):
    [(first line, last line, symbol or None)] in file order. A function is one chunk from its leading comments
    and decorators to its end (windows when over 80 lines); a class up to 80 lines is one chunk, a longer one
    its methods (`Class.method`) and chunks named for the class for the lines between; the lines between
    definitions are cut into windows of 50 lines overlapping by 10; blank lines at a chunk's ends are left
    out, and lines without a letter or digit make no chunk. A port of the C, not an approximation: on 1,000
    stdlib files it gave the chunks of octet's index (`chunks` table) exactly; check_octet_prompts.py compares
    the --symbol prompts made of them with octet's."""
    s = text.encode("utf-8", "surrogatepass")
    if not s:
        return []
    n_lines = s.count(b"\n") + (0 if s.endswith(b"\n") else 1)
    off = [0, 0]
    for k, c in enumerate(s):
        if c == 10 and len(off) <= n_lines:
            off.append(k + 1)
    off.append(len(s) if s.endswith(b"\n") else len(s) + 1)
    blank, noword, attached = [False] * (n_lines + 2), [False] * (n_lines + 2), [False] * (n_lines + 2)
    for k in range(1, n_lines + 1):
        ln = s[off[k]:off[k + 1] - 1]
        st = ln.lstrip(b" \t\f\v")
        blank[k] = not st
        noword[k] = not any(_is_id(c) and c != 95 for c in ln)
        attached[k] = st[:1] in (b"#", b"@")
    nodes = _py_defs(s, n_lines)
    kids = {}
    for k, nd in enumerate(nodes):
        kids.setdefault(nd[3], []).append(k)
    out = []

    def nbytes(a, b):
        return off[b + 1] - off[a]

    def windows(a, b, sym):
        st = a
        while True:
            end = min(st + CHUNK_WINDOW_LINES - 1, b)
            while end > st and nbytes(st, end) > CHUNK_MAX_BYTES:
                end = st + (end - st) // 2
            out.append((st, end, sym))
            if end >= b:
                return
            nxt = end + 1 - CHUNK_WINDOW_OVERLAP
            if nxt <= st or end - st + 1 < 2 * CHUNK_WINDOW_OVERLAP:
                nxt = end + 1
            st = nxt

    def span(a, b, sym, max_lines):
        while a <= b and blank[a]:
            a += 1
        while b >= a and blank[b]:
            b -= 1
        if a > b or all(noword[k] for k in range(a, b + 1)):
            return
        if b - a + 1 <= max_lines and nbytes(a, b) <= CHUNK_MAX_BYTES:
            out.append((a, b, sym))
        else:
            windows(a, b, sym)

    def emit_children(parent, a, b, prefix, gap_sym):
        cursor = a
        for k in kids.get(parent, []):
            kind, st, en, _, name = nodes[k]
            st, t = max(st, cursor), min(en, b)
            if t < st:
                continue
            while st - 1 >= cursor and attached[st - 1]:
                st -= 1
            if st > cursor:
                span(cursor, st - 1, gap_sym, CHUNK_WINDOW_LINES)
            full = prefix + "." + name if prefix and name else prefix or name
            if kind == "func" or (t - st + 1 <= CHUNK_MAX_LINES and nbytes(st, t) <= CHUNK_MAX_BYTES):
                span(st, t, full, CHUNK_MAX_LINES)
            else:
                emit_children(k, st, t, full, full)
            cursor = t + 1
        if cursor <= b:
            span(cursor, b, gap_sym, CHUNK_WINDOW_LINES)

    if not nodes:
        span(1, n_lines, None, CHUNK_WINDOW_LINES)
    else:
        emit_children(-1, 1, n_lines, None, None)
    return out


MAX_BLOCK_CONTEXT = 8  # most lines of context one block may need to be unique
MERGE_GAP = 2  # changes this few unchanged lines apart go into one block


def _count(lines, seg):
    n = len(seg)
    return sum(1 for p in range(len(lines) - n + 1) if lines[p:p + n] == seg)


def make_blocks(old, new):
    """Search/replace edits that turn OLD into NEW when applied one after another as flows/blocks.c does
    (each SEARCH found exactly once in the text the blocks before it left): [(search lines, replace lines)],
    with as little context as makes each SEARCH unique and not only blank lines; None when that fails."""
    if not old.endswith("\n") or not new.endswith("\n"):
        return None
    a, b = old[:-1].split("\n"), new[:-1].split("\n")
    ops = [o for o in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if o[0] != "equal"]
    groups = []
    for _, i1, i2, j1, j2 in ops:
        if groups and i1 - groups[-1][1] <= MERGE_GAP:
            groups[-1][1], groups[-1][3] = i2, j2
        else:
            groups.append([i1, i2, j1, j2])
    cur, shift, out = list(a), 0, []
    for i1, i2, j1, j2 in groups:
        s, e = i1 + shift, i2 + shift
        lo, hi = s, e
        up = s != e  # a pure insertion takes the line after it first, a change the line before
        while not (hi > lo and any(ln.strip() for ln in cur[lo:hi]) and _count(cur, cur[lo:hi]) == 1):
            if (s - lo) + (hi - e) >= MAX_BLOCK_CONTEXT or (lo == 0 and hi == len(cur)):
                return None
            if (up and lo > 0) or hi == len(cur):
                lo -= 1
            else:
                hi += 1
            up = not up
        search, repl = cur[lo:hi], cur[lo:s] + b[j1:j2] + cur[e:hi]
        out.append((search, repl))
        cur[lo:hi] = repl
        shift += (j2 - j1) - (i2 - i1)
    return out


def _block_text(search, repl):
    return ("<<<<<<< SEARCH\n" + "".join(ln + "\n" for ln in search) + "=======\n"
            + "".join(ln + "\n" for ln in repl) + ">>>>>>> REPLACE\n")


def blocks_chat_reply(rel, edits):
    """The reply to octet refactor's SYSTEM_BLOCKS: one ```-fenced block per place, the path inside."""
    return "\n\n".join(f"```\n{rel}\n" + _block_text(sr, rp) + "```" for sr, rp in edits)


def blocks_completion_reply(rel, edits, path_given):
    """The continuation of a completion prompt whose tail opened the fence (and, PATH_GIVEN, wrote the path and
    <<<<<<< SEARCH): every block in that one fence (octet stops at its closing ```), each after its path."""
    out = []
    for k, (sr, rp) in enumerate(edits):
        t = _block_text(sr, rp)
        out.append(t[len("<<<<<<< SEARCH\n"):] if k == 0 and path_given else f"{rel}\n" + t)
    return "".join(out) + "```"


_MARK = re.compile(r"^(<{5,9}|={5,9}|>{5,9}) *(SEARCH|REPLACE)?\s*$")


def _marker(line):
    m = _MARK.match(line)
    if not m:
        return None
    c, word = m.group(1)[0], m.group(2) or ""
    return {("<", "SEARCH"): "S", ("=", ""): "D", (">", "REPLACE"): "R"}.get((c, word), "bad")


def _path_of(line):
    s = line
    while True:
        t = s.lstrip("#*`'\" \t").rstrip("*`'\": \t\r")
        while len(t) > 2 and t.startswith("./"):
            t = t[2:]
        if t == s:
            break
        s = t
    return s if s and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in s) else None


def parse_blocks(text):
    """flows/blocks.c blocks_parse(): [(path, search lines, replace lines)], or None where octet would refuse."""
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    out, frm, i = [], 0, 0
    while i < len(lines):
        m = _marker(lines[i])
        if m == "R":
            return None
        if m != "S":
            i += 1
            continue
        cand = next((lines[j] for j in range(i - 1, frm - 1, -1)
                     if lines[j].strip() and not lines[j].lstrip(" ")[:3] == "```"), None)
        path = _path_of(cand) if cand is not None else None
        if path is None:
            if not out:
                return None
            path = out[-1][0]
        search, repl, part, div, j = [], [], None, False, i + 1
        part = search
        while j < len(lines):
            mj = _marker(lines[j])
            if mj == "S" or (mj == "R" and not div):
                return None
            if mj == "D" and not div:
                div, part = True, repl
            elif mj == "R":
                break
            else:
                part.append(lines[j])
            j += 1
        if j == len(lines):
            return None
        out.append((path, search, repl))
        i = frm = j + 1
    return out or None


def apply_blocks(old, blocks, rel):
    """Apply parsed blocks to OLD (the file REL) strictly: each SEARCH exactly once, exactly; the new text or None."""
    cur = old[:-1].split("\n") if old.endswith("\n") else old.split("\n")
    for path, search, repl in blocks:
        if path != rel or not any(ln.strip() for ln in search):
            return None
        n = len(search)
        at = [p for p in range(len(cur) - n + 1) if cur[p:p + n] == search]
        if len(at) != 1:
            return None
        cur[at[0]:at[0] + n] = repl
    return "\n".join(cur) + "\n"


REFACTOR_BLOCKS_SHARE = 0.75  # of refactor samples in the blocks format; the rest are unified diffs
REFACTOR_SYMBOL_SHARE = 0.4  # of function renames: `--symbol NAME` (chunks), the rest `--path` (the whole file)
REFACTOR_NO_TARGET_SHARE = 0.25  # of those: no target at all, the chunks most relevant to the instruction
MAX_REFACTOR_CONTEXT_CHARS = MAX_REFACTOR_FILE_CHARS + 400  # the chunks' blocks (headers, fences) of a window

# rag/words.c STOPWORDS: a query word among these (or of one letter) is no query term
_STOPWORDS = frozenset(
    "a about above after again against all also am an and any are as at be because been before being below "
    "between both but by can could did do does doing down during each either else etc few for from further had "
    "has have having he her here hers him his how i ie if in into is it its itself just may me might more most "
    "must my no nor not now of off on once only or other our ours out over own please return returns same self "
    "shall she should so some such than that the their theirs them then there these they this those through to "
    "too under until up upon us very was we were what when where whether which while who whom why will with "
    "would you your yours".split())


def ident_parts(word):
    """rag/words.c words_split_ident(): the parts of an identifier (at '_', lower-to-upper changes, the last
    capital of a run before a lowercase letter, letter/digit boundaries), lowercased, one-letter parts too."""
    parts, start = [], 0
    b = word.encode("utf-8")
    lower = lambda c: 97 <= c <= 122 or c >= 0x80  # noqa: E731
    upper = lambda c: 65 <= c <= 90  # noqa: E731
    digit = lambda c: 48 <= c <= 57  # noqa: E731
    for i, c in enumerate(b):
        if c == 95 or not _is_id(c):
            parts.append(b[start:i])
            start = i + 1
            continue
        if i == start:
            continue
        p = b[i - 1]
        if ((upper(c) and (lower(p) or digit(p))) or (upper(p) and upper(c) and i + 1 < len(b) and lower(b[i + 1])
                                                         and b[i + 1] < 0x80) or digit(c) != digit(p)):
            parts.append(b[start:i])
            start = i
    parts.append(b[start:])
    return [p.decode("utf-8", "replace").lower() for p in parts if p]


def query_words(text):
    """The words rag/query.c makes terms of in TEXT: each identifier lowercased and, when compound, its
    parts; no stopwords, no one-letter words, nothing over 64 bytes."""
    out = []
    for w in re.findall(r"[A-Za-z0-9_\x80-\U0010ffff]+", text):
        if len(w.encode("utf-8")) > 64:
            continue
        parts = ident_parts(w)
        if len(parts) >= 2:
            out += [w.lower()] + [p for p in parts if len(p) >= 2 and p not in _STOPWORDS]
        elif len(w) >= 2 and w.lower() not in _STOPWORDS:
            out.append(w.lower())
    return out


def has_word(text, word):
    """flows/refactor.c has_word(): WORD in TEXT as a whole identifier (ASCII letters, digits, '_' around)."""
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])", text) is not None


def _defines(chunk_symbol, name):
    """flows/refactor.c defines(): a chunk named NAME, or Class.NAME."""
    return chunk_symbol is not None and (chunk_symbol == name or chunk_symbol.endswith("." + name))


def pack_chunks(rel, lines, hits, budget):
    """rag/pack.c rag_pack() of the chunks HITS [(first, last)] of the file REL (LINES) taken best first: a
    chunk that overlaps or touches a block taken is merged into it (a merge may join blocks), one that would
    take the text over BUDGET characters is left out; the blocks in the order of their best chunk:
    (context text, [(first, last)] shown)."""
    blocks = []  # [first, last, rank]

    def cost(a, b):
        return len(code_block(rel, a, b, "\n".join(lines[a - 1:b]) + "\n")) + 1

    for rank, (a, b) in enumerate(hits):
        j = next((k for k, (s, e, _) in enumerate(blocks) if a <= e + 1 and b + 1 >= s), None)
        cand = [a, b, rank] if j is None else [min(a, blocks[j][0]), max(b, blocks[j][1]), min(rank, blocks[j][2])]
        for m, (s, e, r) in enumerate(blocks):
            if m != j and s <= cand[1] + 1 and e + 1 >= cand[0]:
                cand = [min(s, cand[0]), max(e, cand[1]), min(r, cand[2])]
        covered = [k for k, (s, e, _) in enumerate(blocks) if s >= cand[0] and e <= cand[1]]
        total = sum(cost(s, e) for s, e, _ in blocks)
        if total - sum(cost(*blocks[k][:2]) for k in covered) + cost(cand[0], cand[1]) > budget:
            continue
        blocks = [x for k, x in enumerate(blocks) if k not in covered] + [cand]
    blocks.sort(key=lambda x: x[2])
    text = "\n".join(code_block(rel, a, b, "\n".join(lines[a - 1:b]) + "\n") for a, b, _ in blocks)
    return text, [(a, b) for a, b, _ in blocks]


def symbol_context(w, rel, name, budget=MAX_REFACTOR_CONTEXT_CHARS):
    """What flows/refactor.c refactor_context() sends for `--symbol NAME` when the repository is the window W
    (the file REL): the chunks defining NAME, then those using it as a whole word, packed; file order stands
    for octet's BM25 order within each. (context, shown ranges), or None when octet would find no query term
    in NAME or no definition."""
    if not query_words(name):
        return None
    lines = w.split("\n")
    chunks = py_chunks(w)
    defs = [(a, b) for a, b, s in chunks if _defines(s, name)]
    uses = [(a, b) for a, b, s in chunks if not _defines(s, name) and has_word("\n".join(lines[a - 1:b]), name)]
    if not defs:
        return None
    return pack_chunks(rel, lines, defs + uses, budget)


def relevant_context(w, rel, instruction, budget=MAX_REFACTOR_CONTEXT_CHARS):
    """The context octet sends with neither a file nor a symbol it can name (infer_target found no file that
    fits): the chunks of W that share words with the instruction (octet: the query's terms), most shared words
    first (octet ranks by BM25), packed. (context, shown ranges)."""
    lines = w.split("\n")
    q = set(query_words(instruction))
    scored = []
    for k, (a, b, _) in enumerate(py_chunks(w)):
        n = len(q & set(query_words("\n".join(lines[a - 1:b]))))
        if n:
            scored.append((-n, k, (a, b)))
    scored.sort()
    return pack_chunks(rel, lines, [h for _, _, h in scored[:24]], budget)


def blocks_lines(old, edits):
    """The lines of OLD (1-based) each SEARCH of EDITS (applied one after another) copies, lines an earlier
    block wrote left out: [set of line numbers] per edit, or None when a SEARCH is not found once."""
    cur = old[:-1].split("\n") if old.endswith("\n") else old.split("\n")
    orig = list(range(1, len(cur) + 1))
    out = []
    for search, repl in edits:
        n = len(search)
        at = [p for p in range(len(cur) - n + 1) if cur[p:p + n] == search]
        if len(at) != 1:
            return None
        out.append({ln for ln in orig[at[0]:at[0] + n] if ln})
        cur[at[0]:at[0] + n] = repl
        orig[at[0]:at[0] + n] = [0] * len(repl)
    return out


def diff_lines(diff):
    """The old file's lines (1-based) a unified diff's hunks show (context and removed lines)."""
    out = set()
    for m in re.finditer(r"^@@ -(\d+)(?:,(\d+))? ", diff, re.M):
        a, n = int(m.group(1)), int(m.group(2) or 1)
        out |= set(range(a, a + n))
    return out


def _shown(lines_needed, ranges):
    return all(any(a <= ln <= b for a, b in ranges) for ln in lines_needed)


def refactor_samples(text, rel, rng, other=None, lang="python"):
    """Refactors of a window of TEXT (the file REL) in octet refactor's prompts. A function rename has the
    target octet is given: mostly `--path REL` (the whole window, as octet sends a target file), else
    `--symbol NAME`: the chunks defining NAME and then those using it (refactor_context()), or now and then no
    target at all (octet found no name it could send a file for): the chunks that share words with the
    instruction. With chunks the sample is kept only when every line a SEARCH block (or a diff's hunk) copies
    is in a chunk shown: the model can only copy what it sees. A C file (LANG c: c_refactor.py's windows and
    refactors) is always the whole window, as with --path: its chunks would be rag/scan_brace.c's, which
    py_chunks is not."""
    c = lang == "c"
    w = c_refactor.c_window(text, rng) if c else py_window(text, rng)
    if not w:
        return []
    n_lines = w.count("\n")
    out = []
    for instr, target, new in (c_refactor.c_refactors if c else refactors)(w, rel, rng, max_per_file=3):
        fmt = "blocks" if rng.random() < REFACTOR_BLOCKS_SHARE else "diff"
        if fmt == "diff":
            diff = unified_diff(rel, w, new)
            if not diff or apply_unified(w, diff) != new:
                continue
        else:
            edits = make_blocks(w, new)
            if not edits:
                continue
        mode = "file"
        if target[0] == "symbol" and not c and rng.random() < REFACTOR_SYMBOL_SHARE:
            mode = "none" if rng.random() < REFACTOR_NO_TARGET_SHARE else "symbol"
        if mode != "file":
            got = symbol_context(w, rel, target[1]) if mode == "symbol" else relevant_context(w, rel, instr)
            need = diff_lines(diff) if fmt == "diff" else set().union(*(blocks_lines(w, edits) or [{0}]))
            if got and got[0] and _shown(need, got[1]):
                ctx = got[0]
                tline = refactor_target(symbol=target[1] if mode == "symbol" else None)
                trel = None
            else:
                mode = "file"  # lines to copy are not in the chunks (a diff's context, mostly): the whole window
        if mode == "file":
            tline = refactor_target(rel=rel)
            trel = rel
            ctx = code_block(rel, 1, n_lines, w, lang)
        if other and rng.random() < 0.3:
            opath, otext = other
            ol = otext.split("\n")
            a = rng.randrange(max(1, len(ol) - 30))
            chunk = "\n".join(ol[a:a + 30]).rstrip("\n")
            ctx += "\n" + code_block(opath, a + 1, a + chunk.count("\n") + 1, chunk + "\n", lang)
        chat_form = rng.random() < 0.75
        kind = ("refactor" if mode == "file" else f"refactor-{mode}") + ("-c" if c else "")
        if fmt == "diff":
            if chat_form:
                out.append((f"{kind}-chat", chat(REFACTOR_SYSTEM, refactor_chat_user(instr, tline, ctx),
                                                 f"```diff\n{diff}```")))
            else:
                prompt = refactor_completion_prompt("diff", ctx, instr, tline, trel)
                out.append((f"{kind}-completion", [(EOT, False), (prompt, False), (diff + "```", True), (EOT, True)]))
            continue
        # the reply is checked as octet reads it: parsed from the text, applied block by block
        if chat_form:
            reply = blocks_chat_reply(rel, edits)
            seen = reply
        else:
            prompt = refactor_completion_prompt("blocks", ctx, instr, tline, trel)
            reply = blocks_completion_reply(rel, edits, trel is not None)
            seen = prompt[prompt.rindex("```\n"):] + reply
        parsed = parse_blocks(seen)
        if not parsed or apply_blocks(w, parsed, rel) != new:
            continue
        if chat_form:
            out.append((f"{kind}-blocks-chat", chat(REFACTOR_SYSTEM_BLOCKS, refactor_chat_user(instr, tline, ctx),
                                                    reply)))
        else:
            out.append((f"{kind}-blocks-completion", [(EOT, False), (prompt, False), (reply, True), (EOT, True)]))
    return out


def doc_samples(doc, seed):
    """Every SFT sample made from one corpus document {text, kind, path, package}."""
    rng = random.Random(f"{seed}:{doc['path']}")
    rel = doc.get("rel") or doc["path"]
    out = []
    if doc["kind"] == "py":
        funcs = py_functions(doc["text"], rel)
    else:
        funcs = c_functions(doc["text"], rel)
    rng.shuffle(funcs)
    for f in funcs[:12]:
        out += spec_samples(f, rng)
        if rng.random() < 0.6:
            out += instr_samples(f, rng)
    # questions about classes (C: structs) too (a fifth of a file's documented definitions at most), so that
    # "What is X for?" about a class finds it among the retrieved blocks
    types = py_classes(doc["text"], rel) if doc["kind"] == "py" else c_structs(doc["text"], rel)
    known = funcs + types[:max(1, len(funcs) // 4)]
    for _ in range(2 if len(known) >= 4 else 1):
        if rng.random() < 0.7:
            out += rag_chat_samples(doc["text"], known, rel, rng, doc.get("other"))
    if doc["kind"] == "py" and not rel.endswith(".pyi") and rng.random() < 0.8:
        out += refactor_samples(doc["text"], rel, rng, doc.get("other"))
    elif doc["kind"] == "c" and rng.random() < 0.8:
        out += refactor_samples(doc["text"], rel, rng, doc.get("other"), lang="c")
    return [s for s in out if reply_starts(s[1])]


def reply_starts(pieces):
    """Whether the first trained piece is text that is not only blanks: no sample may teach the model to end
    (or pad) its reply right after the prompt, whatever the prompt ends with."""
    first = next((t for t, trained in pieces if trained), None)
    return first is not None and first not in (EOT, IM_END, IM_START) and first.strip() != ""


# ---- a check of the C extraction: python3 tools/train/sft.py ----------------------------------------------

_C_CHECK = '''/*
 * Copyright (c) 2020 Someone. Licensed under MIT.
 */
#include <string.h>

static const char *s = "/* not a comment */ // nor this, in a namespace::";

/** Add two integers and return the sum.
 *
 * @param a the first one
 * @return a + b
 */
static int
add_two(int a, int b)
{
    return a + b;
}

// Count the spaces of S.
// Stops at the NUL.
MY_API size_t count_spaces(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == ' ';
    return n;
}

int x; /* a trailing comment about x */
int after_x(void)
{
    return 1;
}

/* ---- section: helpers ---- */

static int after_banner(void)
{
    return 2;
}

/* Call FN on every item of the array V, then print a message. */
#ifndef NO_EACH
void each(int *v, int n, void (*fn)(int item), const char *fmt, ...)
{
    for (int i = 0; i < n; i++) fn(v[i]);
}
#endif

/* Return the length of a string in bytes. */
static size_t my_strlen(
  const char *s,   /* the string (NUL-terminated) */
  size_t max,      /* give up after this many */
  void (*warn)(const char *)  /* told when it gives up */
){
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

/* A point on the plane, in pixels. */
struct point {
    int x, y;
};

/* Names kept in the order they came. */
typedef struct names {
    char **v;
    int n;
} names_t;

/* The point every drawing starts from. */
struct point origin = {0, 0};
'''


# a file that sets every comment apart from its function by a blank line (libyaml's style)
_C_CHECK_SPACED = """/*
 * Serialize a scalar.
 */

static int
dump_scalar(int x)
{
    return x;
}

/*
 * Serialize an alias.
 */

static int
dump_alias(int x)
{
    return -x;
}
"""


def _check_c():
    funcs = {f["name"]: f for f in c_functions(_C_CHECK, "x.c")}
    structs = {f["name"]: f for f in c_structs(_C_CHECK, "x.c")}
    bad = []
    if sorted(funcs) != ["add_two", "count_spaces", "each", "my_strlen"]:
        bad.append(f"functions {sorted(funcs)}")
    elif (funcs["add_two"]["inputs"][0][2] != "the first one" or funcs["add_two"]["output_desc"] != "a + b"
          or funcs["count_spaces"]["output"] != "size_t" or funcs["count_spaces"]["span"] != (19, 26)
          or [p[1] for p in funcs["each"]["inputs"]] != ["int *", "int", "void (*)(int item)", "const char *",
                                                       "variable arguments"]
          or [p[2] for p in funcs["my_strlen"]["inputs"]] != ["the string (NUL-terminated)",
                                                             "give up after this many", "told when it gives up"]
          or funcs["my_strlen"]["sig"] != "size_t my_strlen(const char *s, size_t max, void (*warn)(const char *))"
          or not funcs["my_strlen"]["body"].strip().endswith("return n;")):
        bad.append("a function's parts")
    if sorted(structs) != ["names_t", "struct point"] or structs["names_t"]["def"] != \
            "typedef struct names { ... } names_t;" or structs["struct point"]["span"] != (60, 63):
        bad.append(f"structs {sorted(structs)}")
    if [f["name"] for f in c_functions(_C_CHECK_SPACED, "y.c")] != ["dump_scalar", "dump_alias"]:
        bad.append("a file of comments set apart by a blank line")
    asked = 0
    for seed in range(20):  # questions about a struct among the blocks, answered with its name and place
        s = rag_chat_samples(_C_CHECK, [structs.get("struct point"), funcs.get("add_two")], "x.c",
                             random.Random(seed)) if len(structs) == 2 and len(funcs) == 4 else []
        reply = next((t for t, trained in s[0][1] if trained), "") if s else ""
        if "x.c:60-63" in reply:
            asked += 1
            if not reply.startswith("`struct point` "):
                bad.append(f"the reply {reply!r}")
    if not asked:
        bad.append("no question about the struct")
    print("sft.py C extraction: " + ("ok" if not bad else "FAILED - " + "; ".join(bad)))
    return 1 if bad else 0


def _chunk_check_text():
    long_class = "".join(f"    def m{k}(self):\n        return {k}\n\n" for k in range(30))
    long_func = "".join(f"    x{k} = {k}\n" for k in range(90))
    module = "".join(f"V{k} = {k}\n" for k in range(60))
    return ('"""Module doc: def not_a_def(): inside a string."""\n'
            "import os\n\n\n"
            "# leading comment\n"
            "@decorator(\n    arg=1)\n"
            "def first(a, b):\n    return helper(a) + b  # helper\n\n\n"
            "def helper(x):\n    s = '''\ndef fake():\n'''\n    return x\n    # trailing comment at body depth\n"
            "# a comment at depth 0 goes to what follows\n\n"
            "class Small:\n    def go(self):\n        return helper(1)\n\n\n"
            "class Big(Base):\n    \"\"\"A long class.\"\"\"\n    attr = 1\n\n" + long_class +
            "    # between\n    value = helper(2)\n\n\n"
            "if os.name:\n    def inside_if():\n        pass\n\n\n(\n)\n\n\n"
            "def long_one():\n" + long_func + "\n\n"
            "# ----\n#\n\n" + module + "(\n)\n[\n]\n")


def _check_chunks():
    """py_chunks on a text holding each case of rag/chunk.c (the list is what octet's index made of it), and
    the --symbol context built from them."""
    text = _chunk_check_text()
    want = ([(1, 2, None), (5, 9, "first"), (12, 17, "helper"), (18, 18, None), (20, 22, "Small"), (25, 27, "Big")]
            + [(29 + 3 * k, 30 + 3 * k, f"Big.m{k}") for k in range(30)]
            + [(119, 120, "Big"), (123, 123, None), (124, 125, "inside_if"), (132, 181, "long_one"),
               (172, 221, "long_one"), (212, 222, "long_one"), (225, 274, None), (265, 291, None)])
    bad = []
    got = py_chunks(text)
    if got != want:
        bad.append(f"chunks {[c for c in got if c not in want][:3]} for {[c for c in want if c not in got][:3]}")
    ctx = symbol_context(text, "m.py", "helper")
    if not ctx or ctx[1] != [(12, 17), (5, 9), (20, 22), (119, 120)] or not ctx[0].startswith(
            "m.py:12-17\n```python\ndef helper(x):\n"):
        bad.append(f"the --symbol helper context {ctx and ctx[1]}")
    if symbol_context(text, "m.py", "then") is not None:
        bad.append("a stopword as --symbol")
    print("sft.py Python chunks: " + ("ok" if not bad else "FAILED - " + "; ".join(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(_check_c() | _check_chunks())
