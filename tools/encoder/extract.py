"""extract.py - (description, code) pairs from one Python or C/C++ source text.

Used by mine.py (training pairs) and by tools/bench/rag_dense.py (the C half of
the retrieval benchmark), so that "a function and its leading comment" means
the same thing in both.

Python: every def / async def with a docstring of at least 3 words (the code
keeps the def and body, decorators included, the docstring statement removed)
or, without a docstring, with a block of '#' comment lines directly above it
(the comment removed). C/C++: every function definition, and every prototype
(declaration ending in ';'), directly preceded by a comment (one /* */ block or
a run of // lines) of at least 3 words that is not a license notice; the code
is the header and body without that comment.
"""

import ast
import bisect
import re

MIN_WORDS = 3
_LICENSE = re.compile(r"[Cc]opyright|\bLICEN[SC]E\b|[Ll]icen[sc]ed|SPDX-License|Permission is hereby|"
                      r"Redistribution and use|WITHOUT ANY WARRANTY|All rights reserved")


def clean_doc(text):
    """A description as one line: whitespace collapsed."""
    return " ".join(text.split())


def _ok_desc(d):
    return len(re.findall(r"[A-Za-z]\w*", d)) >= MIN_WORDS and not _LICENSE.search(d)


# --------------------------------------------------------------------------- Python

def python_functions(src):
    """[(def_line, start_line, end_line, doc_first, doc_last, doc_col, desc, kind)], lines 1-based.

    kind 'doc': the docstring occupies doc_first..doc_last alone on its lines;
    kind 'comment': a '#' block occupies doc_first..doc_last right above the
    decorators/def. Functions whose docstring shares a line with code are skipped."""
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = src.split("\n")
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.body:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno or node.lineno
        doc = ast.get_docstring(node, clean=True)
        if doc:
            ds = node.body[0]
            if ds.lineno == node.lineno or ds.end_lineno is None or len(node.body) < 2:
                continue
            first, last = ds.lineno, ds.end_lineno
            if lines[first - 1][:ds.col_offset].strip() or lines[last - 1][ds.end_col_offset:].strip():
                continue
            d = clean_doc(doc)
            if _ok_desc(d):
                out.append((node.lineno, start, end, first, last, ds.col_offset, d, "doc"))
            continue
        # a '#' block directly above the decorators / def, at the def's indentation
        i = start - 2
        block = []
        col = node.col_offset
        while i >= 0:
            s = lines[i]
            st = s.lstrip()
            if st.startswith("#") and len(s) - len(st) == col and not st.startswith("#!"):
                block.append(st.lstrip("#").strip())
                i -= 1
            else:
                break
        if block:
            d = clean_doc(" ".join(reversed(block)))
            if _ok_desc(d):
                out.append((node.lineno, start, end, i + 2, start - 1, col, d, "comment"))
    return out


def python_pairs(src):
    """[(desc, code, name_line)] for training: code without the description, dedented."""
    lines = src.split("\n")
    out = []
    for def_line, start, end, first, last, col, desc, kind in python_functions(src):
        if kind == "doc":
            body = lines[start - 1:first - 1] + lines[last:end]
        else:
            body = lines[start - 1:end]
        ind = min((len(s) - len(s.lstrip()) for s in body if s.strip()), default=0)
        code = "\n".join(s[ind:] for s in body).strip("\n")
        if code:
            out.append((desc, code, def_line))
    return out


# --------------------------------------------------------------------------- C / C++

# comments, string/char literals, preprocessor lines (with continuations), and the structural characters
_C_TOKENS = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|"
                       r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*|[{};]", re.S | re.M)
_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "catch", "do", "else", "case", "defined",
             "decltype", "alignof", "static_assert", "__attribute__", "__declspec", "typeof", "_Generic"}
# name ( params ) [qualifiers] - the header of a function, its name captured
_FUNC_HEADER = re.compile(r"([A-Za-z_~][\w:~]*(?:operator\s*[^\s(]+)?)\s*\(([^;{}]*)\)\s*"
                          r"(?:const|noexcept(?:\([^)]*\))?|override|final|volatile|&|&&|->\s*[\w:<>,\s*&]+|"
                          r"throw\s*\([^)]*\)|__attribute__\s*\(\(.*?\)\)|\s)*"
                          r"(?::\s*[^{}]*)?$", re.S)
_ACCESS = re.compile(r"^\s*(?:public|private|protected)\s*:", re.S)
_TYPE_START = re.compile(r"^\s*(?:typedef|struct|union|enum|class|namespace|using|template\s*<[^>]*>\s*(?:class|struct))\b")


def _comment_text(c):
    if c.startswith("//"):
        t = c[2:]
        t = t.lstrip("/!<")
        return t
    t = c[2:-2] if c.endswith("*/") else c[2:]
    t = t.lstrip("*!<")
    return "\n".join(s.strip().lstrip("*").strip() for s in t.split("\n"))


def c_functions(src):
    """[(name_line, start_line, end_line, com_first, com_last, desc, is_definition, code_start, code_end)].

    Lines are 1-based; code_start/code_end are character offsets of the header and body.

    Only functions outside other function bodies; class and namespace bodies are entered."""
    out = []
    stack = []          # one entry per open brace: True when it is a function body
    seg_start = 0       # where the current statement/header began (after ; { } or a preprocessor line)
    comments = []       # (start, end) of the comments since seg_start, in order
    pending = None      # a function header waiting for its body: (entry fields, body_open)

    nl = [m.start() for m in re.finditer("\n", src)]

    def line_of(pos):
        return bisect.bisect_left(nl, pos) + 1

    def header_info(end):
        """The function header text between seg_start and END minus comments, and its leading comment."""
        if not comments:
            return None
        # the leading comment: the comments that come before any code in the segment
        lead = []
        pos = seg_start
        for cs, ce in comments:
            if src[pos:cs].strip():
                break
            lead.append((cs, ce))
            pos = ce
        if not lead:
            return None
        hstart = pos
        while hstart < end and src[hstart].isspace():
            hstart += 1
        head = src[hstart:end]
        for cs, ce in comments[len(lead):]:
            head = head.replace(src[cs:ce], " ")
        # the lead: the last comment, or the run of // comments that ends it
        last = [lead[-1]]
        if src[lead[-1][0]:lead[-1][0] + 2] == "//":
            j = len(lead) - 2
            while j >= 0 and src[lead[j][0]:lead[j][0] + 2] == "//" and "\n\n" not in src[lead[j][1]:last[0][0]]:
                last.insert(0, lead[j])
                j -= 1
        # the comment must end on the line before the header (at most one line between)
        gap = src[last[-1][1]:hstart]
        if gap.count("\n") > 2:
            return None
        desc = clean_doc(" ".join(_comment_text(src[cs:ce]) for cs, ce in last))
        return head, hstart, last[0][0], last[-1][1], desc

    for m in _C_TOKENS.finditer(src):
        tok = m.group(0)
        c0 = tok[0]
        if c0 == "/" and tok[:2] in ("//", "/*"):
            if not any(stack):
                comments.append((m.start(), m.end()))
            continue
        if c0 in "\"'":
            continue
        if tok.lstrip().startswith("#"):
            if not any(stack):
                seg_start = m.end()
                comments = []
            continue
        in_func = any(stack)
        if tok == "{":
            is_func = False
            if not in_func:
                info = header_info(m.start())
                head = src[seg_start:m.start()]
                hm = _FUNC_HEADER.search(_ACCESS.sub("", head).rstrip()) if "(" in head else None
                if hm and hm.group(1).split("::")[-1] not in _KEYWORDS and not _TYPE_START.match(head) \
                        and "=" not in head.split("(")[0]:
                    is_func = True
                    if info:
                        pending = (info, m.start())
                    else:
                        pending = None
            stack.append(is_func)
            seg_start = m.end()
            comments = []
        elif tok == "}":
            if stack:
                was = stack.pop()
                if was and not any(stack) and pending is not None:
                    (head, hstart, cfirst, clast, desc), body_open = pending
                    if _ok_desc(desc):
                        hm = _FUNC_HEADER.search(head.rstrip())
                        name_pos = hstart + (len(head) - len(head.lstrip()))
                        if hm:
                            name_pos = hstart + head.find(hm.group(1).split("::")[-1])
                        out.append((line_of(name_pos), line_of(hstart), line_of(m.end()), line_of(cfirst),
                                    line_of(clast - 1), desc, True, hstart, m.end()))
                    pending = None
            seg_start = m.end()
            comments = []
        else:  # ';'
            if not in_func:
                info = header_info(m.start())
                head = src[seg_start:m.start()]
                if info and "(" in head and not _TYPE_START.match(head) and "=" not in head.split("(")[0]:
                    h, hstart, cfirst, clast, desc = info
                    hm = _FUNC_HEADER.search(_ACCESS.sub("", h).rstrip())
                    if hm and hm.group(1).split("::")[-1] not in _KEYWORDS and _ok_desc(desc) and len(h) < 600:
                        name_pos = hstart + h.find(hm.group(1).split("::")[-1])
                        out.append((line_of(name_pos), line_of(hstart), line_of(m.end()), line_of(cfirst),
                                    line_of(clast - 1), desc, False, hstart, m.end()))
                seg_start = m.end()
                comments = []
    return out


def c_pairs(src, max_code_chars=6000):
    """[(desc, code, name_line, is_definition)] for training."""
    out = []
    for name_line, _, _, _, _, desc, is_def, c0, c1 in c_functions(src):
        code = src[c0:c1].strip()
        if code and len(code) <= max_code_chars:
            out.append((desc, code, name_line, is_def))
    return out
