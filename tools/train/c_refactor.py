"""c_refactor.py - mechanical refactors of C files for the SFT data: the C counterparts of sft.py's
py_window() and refactors().

`octet refactor` works on any repository, but sft.py made its refactor samples from Python files only, with
Python's ast module, so the model had never seen a C refactor. This module makes the same samples from C:

  c_window     a run of whole top-level items of a C file (functions, declarations, structs, preprocessor
               lines, comments) holding at least one function definition: the context the model is shown.
  c_refactors  (instruction, target, new text) triples, as sft.refactors() returns them, for that window:
               renaming a function, a local variable or a parameter, or extracting a literal into a #define.

Python's standard library has no C parser and the corpus is not preprocessed, so a small lexer (c_tokens)
finds identifiers outside comments, literals and #include names, and a reading of the token stream by brace
depth finds the top-level items, function definitions, their parameters and local declarations. What it
cannot see it cannot account for (a macro of another file naming a local, a declaration made by a macro), so
each candidate is held to conservative rules, and each result is lexed again and compared with the original
token by token: only the intended tokens may change, and braces must still balance. Doubtful cases are
dropped: precision over recall.

sft.py is imported as a module and its attributes are used only inside functions, so sft.py may import this
module at its top.
"""

import bisect
import re

import sft

# Tokens, longest first where one is the prefix of another. A literal's prefix (L, u, U, u8) is part of it;
# `$` and non-ASCII characters may be in identifiers (GCC accepts both), so that they never split one.
_TOKEN = re.compile(r"""
    (?P<ws>(?:[ \t\r\f\v\n]|\\\r?\n)+)
  | (?P<comment>/\*.*?\*/|//(?:[^\n\\]|\\.)*)
  | (?P<str>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*")
  | (?P<char>(?:u8|[uUL])?'(?:[^'\\\n]|\\.)*')
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<id>[A-Za-z_$\x80-\U0010ffff][0-9A-Za-z_$\x80-\U0010ffff]*)
  | (?P<punct>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-*/%+&^|]=|\#\#|.)
""", re.S | re.X)
# A directive, from its `#` to the newline that ends it: backslash-newlines continue it, and so do comments
# (which the preprocessor removes before it reads directives); a quote with no partner is just a character.
_DIRECTIVE = re.compile(r"""\#(?:\\\r?\n|\\.?|/\*.*?\*/|//[^\n]*|/(?![*/])|"(?:[^"\\\n]|\\.)*"
                            |'(?:[^'\\\n]|\\.)*'|[^\n\\/])*""", re.S | re.X)
# directives whose rest is a file name or free text, not tokens (an apostrophe in `#error don't` is no literal)
_PP_TEXT = {"include", "include_next", "import", "error", "warning"}

C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local alignas
    alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual asm __asm__ __asm
    __attribute__ __extension__ __inline __inline__ __restrict __restrict__ __typeof__ __volatile__ __const
    __declspec __thread __int128 _Float128""".split())
# names a new name must not take although the window may not show them
_RESERVED = frozenset("main NULL EOF errno stdin stdout stderr size_t ssize_t FILE assert offsetof va_list "
                      "exit abort free malloc realloc calloc memcpy memset strlen printf".split())
_TYPE_KW = frozenset("void char short int long float double signed unsigned _Bool bool _Complex __int128 "
                     "_Float128".split())
_QUALS = frozenset("const volatile restrict __restrict __restrict__ _Atomic __const".split())
_STORAGE = frozenset("static register auto extern inline __inline __inline__ _Thread_local __thread "
                     "__extension__ _Noreturn".split())
_TAGS = frozenset(("struct", "union", "enum"))
_DROP = (0, 1, 2, 10)  # literals too plain to be worth a name, as sft.refactors leaves them

_CAMEL_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_FUNC_VERBS = ["get", "compute", "make", "build", "find", "load", "parse", "check"]
_FUNC_SUFFIXES = ["impl", "value", "all", "items", "v2", "fast", "safe"]


def _scan(text, pos, end, directives):
    """Tokens of TEXT[pos:end] as (kind, start, end); with DIRECTIVES, a directive is one ("pp", ...) token.
    None when a comment or a literal is not closed."""
    out = []
    while pos < end:
        m = _TOKEN.match(text, pos, end)
        kind = m.lastgroup
        if kind == "punct":
            ch = m.group()
            if ch in "\"'" or (ch == "/" and text.startswith("/*", pos)):
                return None
            if ch == "#" and directives and not text[text.rfind("\n", 0, pos) + 1:pos].strip(" \t\f\v\r"):
                d = _DIRECTIVE.match(text, pos)
                if text.startswith("/*", d.end()):
                    return None
                out.append(("pp", pos, d.end()))
                pos = d.end()
                continue
        if kind != "ws":
            out.append((kind, pos, m.end()))
        pos = m.end()
    return out


def c_tokens(text):
    """The tokens of a C text as (kind, start, end): kind is id, num, str, char, comment, punct, or pp for a
    whole preprocessor directive (its backslash-newlines and comments included). None when a comment or a
    literal is not closed; never an exception, whatever the text."""
    return _scan(text, 0, len(text), True)


def _pp_tokens(text, s, e):
    """The tokens inside the directive TEXT[s:e]: `#`, its name, then tokens, or the rest of an #include or
    #error as one "text" token. None when they don't lex."""
    head = re.compile(r"#[ \t]*([A-Za-z_]\w*)?").match(text, s, e)
    out = [("punct", s, s + 1)]
    if head.group(1):
        out.append(("id", head.start(1), head.end(1)))
    rest = head.end()
    if head.group(1) in _PP_TEXT:
        body = text[rest:e].strip()
        if body:
            a = text.index(body, rest)
            out.append(("text", a, a + len(body)))
        return out
    more = _scan(text, rest, e, False)
    return None if more is None else out + more


def _expand(text):
    """All tokens of TEXT, directives opened up: [(kind, start, end, d)] where d numbers the directive a
    token is in (-1 outside directives). None when TEXT doesn't lex."""
    top = c_tokens(text)
    if top is None:
        return None
    out, nd = [], 0
    for kind, s, e in top:
        if kind != "pp":
            out.append((kind, s, e, -1))
            continue
        inner = _pp_tokens(text, s, e)
        if inner is None:
            return None
        out += [(k, a, b, nd) for k, a, b in inner]
        nd += 1
    return out


class _Unit:
    """A C text read as far as refactoring needs: its tokens (_expand), top-level items
    [(first token, last token, kind)] with kind func, decl, pp or comment, and the function definitions
    whose name and parameters are plain, as dicts of token indices: first (the item's first token), name,
    popen/pclose (the parameter list's parentheses), bopen/bclose (the body's braces)."""

    def __init__(self, text, toks, items, funcs):
        self.text, self.toks, self.items, self.funcs = text, toks, items, funcs
        self.code = [i for i, t in enumerate(toks) if t[3] < 0 and t[0] != "comment"]
        self.pos = {i: n for n, i in enumerate(self.code)}  # token index -> index in self.code
        self.dfirst = {}  # directive number -> index of its `#`
        for i, t in enumerate(toks):
            self.dfirst.setdefault(t[3], i)

    def t(self, i):
        _, s, e, _ = self.toks[i]
        return self.text[s:e]

    def near(self, i, step):
        """The text of the code token STEP code tokens from token I (a code token), or ''."""
        n = self.pos[i] + step
        return self.t(self.code[n]) if 0 <= n < len(self.code) else ""


def _parse(text):
    """TEXT as a _Unit, or None when it doesn't lex or its brackets don't pair (also when preprocessor
    conditionals open one in both branches), or for K&R parameter declarations."""
    toks = _expand(text)
    if toks is None:
        return None
    opened = []
    for kind, s, e, d in toks:
        if d < 0 and kind == "punct" and text[s:e] in "([{}])":
            if text[s:e] in "([{":
                opened.append(")]}"["([{".index(text[s:e])])
            elif not opened or opened.pop() != text[s:e]:
                return None
    if opened:
        return None
    items, funcs, stack = [], [], []  # stack: "T" (extern "C" {, no depth), "F" (a function body), "B"
    depth, cur, last, k, n = 0, None, None, 0, len(toks)
    pd, groups, eq = 0, [], False
    while k < n:
        kind, s, e, d = toks[k]
        if d >= 0:
            k2 = k
            while k2 < n and toks[k2][3] == d:
                k2 += 1
            if cur is None and depth == 0:
                items.append((k, k2 - 1, "pp"))
            k = k2
            continue
        if kind == "comment":
            if cur is None and depth == 0:
                items.append((k, k, "comment"))
            k += 1
            continue
        t = text[s:e]
        if depth == 0:
            if t == "}":  # closing an extern "C" {
                if cur is not None:
                    return None
                stack.pop()
                items.append((k, k, "decl"))
                last, k = k, k + 1
                continue
            if cur is None:
                cur, pd, groups, eq = k, 0, [], False
                if t == "{":
                    return None  # a block with no head: K&R parameter declarations end in ';' before it
            if t in ("(", "["):
                pd += 1
                if t == "(" and pd == 1:
                    groups.append([k, None])
            elif t in (")", "]"):
                pd -= 1
                if t == ")" and pd == 0:
                    groups[-1][1] = k
            elif pd == 0 and t == "=":
                eq = True
            elif pd == 0 and t == ";":
                items.append((cur, k, "decl"))
                cur = None
            elif pd == 0 and t == "{":
                lt = text[toks[last][1]:toks[last][2]]
                if lt == '"C"' and last > cur and text[toks[last - 1][1]:toks[last - 1][2]] == "extern":
                    stack.append("T")
                    items.append((cur, k, "decl"))
                    cur = None
                elif lt == ")" and groups and groups[-1][1] == last and not eq:
                    stack.append("F")
                    depth += 1
                    funcs.append({"first": cur, "popen": groups[-1][0], "pclose": last, "bopen": k})
                else:
                    stack.append("B")
                    depth += 1
            elif t == "{":
                stack.append("B")
                depth += 1
        elif t == "{":
            stack.append("B")
            depth += 1
        elif t == "}":
            b = stack.pop()
            depth -= 1
            if depth == 0 and b == "F":
                funcs[-1]["bclose"] = k
                items.append((cur, k, "func"))
                cur = None
        last, k = k, k + 1
    if cur is not None:
        items.append((cur, last, "decl"))  # a last item with no ';' (a macro's call)
    u = _Unit(text, toks, items, [])
    for f in funcs:
        # the name: the identifier before the parameter list, after a return type; none of `(*f(...))(...)`,
        # `PARAMS((...))`, __attribute__((...)) or an ALL-CAPS macro's call
        p = u.pos[f["popen"]]
        if p == 0 or u.pos[f["first"]] >= p - 1:
            continue
        name = u.code[p - 1]
        nm = u.t(name)
        if (toks[name][0] != "id" or nm in C_KEYWORDS or not re.search("[a-z]", nm)
                or u.near(f["popen"], 1) == "("):
            continue
        f["name"] = name
        u.funcs.append(f)
    return u


def _line_starts(text):
    """The offset of each line of TEXT."""
    return [0] + [m.end() for m in re.finditer("\n", text)]


def c_window(text, rng, max_chars=None):
    """A run of whole top-level items of the C file TEXT (with the file's start when it fits, 2 times in 5),
    holding a function definition, 200 to MAX_CHARS characters, or None (also for C++ and text that doesn't
    lex or balance). Cut only between items: a comment right above an item goes with it, and items that
    share a line stay together."""
    max_chars = max_chars or sft.MAX_REFACTOR_FILE_CHARS
    if sft._is_cxx(sft._c_masked(text)):  # sft.c_functions' test: code only, not comments or strings
        return None
    u = _parse(text)
    if u is None or not u.funcs:
        return None
    ls = _line_starts(text)
    fstarts = {f["first"] for f in u.funcs}
    chunks = []  # [first line, last line, has a function, only comments]
    for a, b, kind in u.items:
        fl = bisect.bisect_right(ls, u.toks[a][1]) - 1
        ll = bisect.bisect_right(ls, u.toks[b][2] - 1) - 1
        isf = kind == "func" and a in fstarts
        if chunks and fl <= chunks[-1][1]:
            c = chunks[-1]
            c[1], c[2], c[3] = max(c[1], ll), c[2] or isf, c[3] and kind == "comment"
        else:
            chunks.append([fl, ll, isf, kind == "comment"])
    merged = []
    for c in chunks:
        if merged and merged[-1][3] and merged[-1][1] + 1 == c[0]:
            merged[-1] = [merged[-1][0]] + c[1:]
        else:
            merged.append(c)
    lines = text.split("\n")
    starts = [0] + [c[0] for c in merged[1:]]
    i = 0 if rng.random() < 0.4 else rng.randrange(len(merged))
    j = i
    while j < len(merged) and len("\n".join(lines[starts[i]:merged[j][1] + 1])) <= max_chars:
        j += 1
    if j == i or not any(c[2] for c in merged[i:j]):
        return None
    w = "\n".join(lines[starts[i]:merged[j - 1][1] + 1]).strip("\n") + "\n"
    return w if len(w) >= 200 else None


def _camel_name(old, taken, rng, style):
    """c_new_name for a camelCase or PascalCase OLD: sft._new_name's choices, its words capitalized."""
    words = _CAMEL_WORD.findall(old)
    if "".join(words) != old:
        return None
    for _ in range(20):
        r = rng.random()
        if style == "func":
            if r < 0.3:
                parts = [rng.choice(_FUNC_VERBS)] + (words[1:] if len(words) > 1 else words)
            elif r < 0.6:
                parts = words + [rng.choice(_FUNC_SUFFIXES)]
            else:
                parts = (words[:-1] if len(words) > 1 else words) + [rng.choice(sft._WORDS)]
        elif r < 0.5:
            parts = [rng.choice(sft._WORDS)]
        elif r < 0.8:
            parts = words + [rng.choice(sft._WORDS)]
        else:
            parts = [rng.choice(sft._WORDS), rng.choice(sft._WORDS)]
        head = parts[0].lower() if old[0].islower() else parts[0][:1].upper() + parts[0][1:]
        cand = head + "".join(p[:1].upper() + p[1:] for p in parts[1:])
        if cand != old and cand not in taken:
            return cand
    return None


def c_new_name(old, taken, rng, style):
    """A new name for OLD in its own style (sft._new_name's for snake_case, the like in camelCase), not in
    TAKEN nor a C keyword; None for ALL-CAPS names (macro-like) or when none is found."""
    if not re.search("[a-z]", old):
        return None
    taken = taken | C_KEYWORDS | _RESERVED
    if "_" not in old.strip("_") and re.search("[a-z0-9][A-Z]", old):
        return _camel_name(old, taken, rng, style)
    new = sft._new_name(old, taken, rng, style)
    return new if new and re.fullmatch(r"[A-Za-z_]\w*", new) else None


def _match_braces(u, lo, hi):
    """{code index of an opening brace: code index of its partner} over code[lo:hi+1] (balanced there)."""
    out, st = {}, []
    for n in range(lo, hi + 1):
        t = u.t(u.code[n])
        if t == "{":
            st.append(n)
        elif t == "}":
            out[st.pop()] = n
    return out


def _skip_group(u, n, hi):
    """The code index of the partner of the bracket at code index N, or None before HI."""
    depth = 0
    while n <= hi:
        t = u.t(u.code[n])
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return n
        n += 1
    return None


def _is_name(u, n):
    """Whether the code token at code index N is an identifier that is no keyword."""
    i = u.code[n]
    return u.toks[i][0] == "id" and u.t(i) not in C_KEYWORDS


def _typedef_name_at(u, n, hi):
    """Whether the identifier at code index N starts a declaration as a type's name: `T x`, `T *const p`,
    `T (*fp)(...)`, the declarator followed by = ; , or [."""
    if not _is_name(u, n):
        return False
    k = n + 1
    while k <= hi and (u.t(u.code[k]) == "*" or u.t(u.code[k]) in _QUALS):
        k += 1
    if k + 1 > hi:
        return False
    if u.t(u.code[k]) == "(" and u.t(u.code[k + 1]) == "*":
        return True
    return _is_name(u, k) and u.t(u.code[k + 1]) in ("=", ";", ",", "[")


def _declaration(u, n, hi, blocked):
    """A declaration starting at code index N: (code index of its ';', [(code index of a declared name,
    whether it is a plain variable)]), or None when N starts no declaration. Names inside a struct, union or
    enum body go to BLOCKED: they are members or constants, not variables. A typedef's names are types, and
    an extern's name the global's: neither is a plain variable."""
    k, typed, plain = n, False, True
    while k <= hi:
        t = u.t(u.code[k])
        if t in _TYPE_KW:
            typed = True
        elif t in ("typedef", "extern"):
            plain = False
        elif t in _QUALS or t in _STORAGE:
            pass
        elif t in _TAGS:
            typed = True
            if k + 1 <= hi and _is_name(u, k + 1):
                k += 1
            if k + 1 <= hi and u.t(u.code[k + 1]) == "{":
                e = _skip_group(u, k + 1, hi)
                if e is None:
                    return None
                blocked.update(u.t(u.code[x]) for x in range(k + 1, e) if _is_name(u, x))
                k = e
        elif t in ("__attribute__", "__declspec", "_Alignas"):
            if k + 1 > hi or u.t(u.code[k + 1]) != "(":
                return None
            k = _skip_group(u, k + 1, hi)
            if k is None:
                return None
        elif not typed and _typedef_name_at(u, k, hi):
            typed = True
        else:
            break
        k += 1
    if not typed or k > hi:
        return None
    names = []
    while k <= hi:
        while k <= hi and (u.t(u.code[k]) == "*" or u.t(u.code[k]) in _QUALS):
            k += 1
        if k > hi:
            return None
        t = u.t(u.code[k])
        if t == ";" and not names:
            return k, names  # struct x; or struct x { ... };
        if t == "(":  # (*fp)(...) and the like: declared, not a plain variable
            e = _skip_group(u, k, hi)
            inner = [x for x in range(k + 1, e or k) if _is_name(u, x)]
            if e is None or not inner:
                return None
            names.append((inner[0], False))
            k = e + 1
        elif _is_name(u, k):
            names.append((k, plain and k + 1 <= hi and u.t(u.code[k + 1]) in ("=", ",", ";", "[")))
            k += 1
        else:
            return None
        depth = 0
        while k <= hi:
            t = u.t(u.code[k])
            if t in ("(", "[", "{"):
                depth += 1
            elif t in (")", "]", "}"):
                depth -= 1
                if depth < 0:
                    return None
            elif depth == 0 and t in (",", ";"):
                break
            k += 1
        if k > hi:
            return None
        if u.t(u.code[k]) == ";":
            return k, names
        k += 1
    return None


def _scopes(u, f):
    """The names the function F declares: ({name: [(code index of the declaration, code index of the last
    token of its scope, kind)]}, names never to rename (labels, members of local structs)), kind param, var (a
    plain local variable) or other (a function pointer, a typedef, an extern, a local function's
    declaration, any name of a parameter that is not plain). None when a directive is in the parameter list."""
    decls, blocked = {}, set()
    lo, hi = u.pos[f["popen"]], u.pos[f["pclose"]]
    bo, bc = u.pos[f["bopen"]], u.pos[f["bclose"]]

    def add(name_n, end, kind):
        decls.setdefault(u.t(u.code[name_n]), []).append((name_n, end, kind))

    # parameters: a plain one is `type... name` or `type... name[...]`; in any other every name is declared
    if any(u.toks[i][3] >= 0 for i in range(f["popen"], f["pclose"])):
        return None
    params, cur, depth = [], [], 0
    for n in range(lo + 1, hi):
        t = u.t(u.code[n])
        if t in ("(", "["):
            depth += 1
        elif t in (")", "]"):
            depth -= 1
        if t == "," and depth == 0:
            params.append(cur)
            cur = []
        else:
            cur.append(n)
    params.append(cur)
    for p in params:
        texts = [u.t(u.code[n]) for n in p]
        if "(" in texts:
            for n in p:
                if _is_name(u, n):
                    add(n, bc, "other")
            continue
        head = p[:texts.index("[")] if "[" in texts else p
        ht = [u.t(u.code[n]) for n in head]
        if (len(head) >= 2 and _is_name(u, head[-1]) and ht[-2] not in _TAGS
                and any(t not in _QUALS for t in ht[:-1])):
            add(head[-1], bc, "param")
    # locals: a declaration may start a statement or a for loop's first clause; its scope ends with the
    # block it is in (a for loop's too: a name declared once in the function has no other meaning there)
    ends = _match_braces(u, bo, bc)
    blocks, n, start = [], bo, False
    while n <= bc:
        t = u.t(u.code[n])
        if t == "{":
            blocks.append(n)
            start = True
        elif t == "}":
            blocks.pop()
            start = True
        elif t in (";", ":"):
            start = True
        elif t == "goto" and n + 1 <= bc:
            blocked.add(u.t(u.code[n + 1]))
        elif start or (t == "for" and u.t(u.code[n + 1]) == "("):
            at = n + 2 if t == "for" and u.t(u.code[n + 1]) == "(" else n
            if start and _is_name(u, n) and n + 1 <= bc and u.t(u.code[n + 1]) == ":":
                blocked.add(t)  # a label
            start = False
            d = _declaration(u, at, bc, blocked)
            if d:
                end, names = d
                for x, plain in names:
                    add(x, ends[blocks[-1]], "var" if plain else "other")
                n = end
                continue
        n += 1
    return decls, blocked


def _occurrences(u, name, lo, hi):
    """Token indices of the identifier NAME in code tokens code[lo:hi+1]."""
    return [u.code[n] for n in range(lo, hi + 1) if u.toks[u.code[n]][0] == "id" and u.t(u.code[n]) == name]


def _plain_use(u, i):
    """Whether the identifier (a code token) I is an ordinary use: not a member (.x ->x), a tag (struct x) nor
    a label (goto x)."""
    return u.near(i, -1) not in (".", "->", "struct", "union", "enum", "goto")


def _in_directives(u, name):
    """Whether a directive of U names NAME."""
    return any(d >= 0 and k == "id" and u.text[s:e] == name for k, s, e, d in u.toks)


def _macro_body_use(u, i):
    """Whether the identifier I inside a directive is a plain use in a #define's body: not the macro's name,
    not stringified (#x) nor pasted (x ## y)."""
    d = u.toks[i][3]
    first = u.dfirst[d]
    nxt = u.t(i + 1) if i + 1 < len(u.toks) and u.toks[i + 1][3] == d else ""
    return u.t(first + 1) == "define" and i > first + 2 and u.t(i - 1) not in ("#", "##") and nxt != "##"


def _quoted_args(u):
    """Identifiers passed to a function-like macro of the window that stringifies or pastes (#x, x ## y):
    renaming one would change a string or a pasted name."""
    macros, nt = set(), len(u.toks)
    for d, first in u.dfirst.items():
        if d < 0 or first + 3 >= nt or u.toks[first + 3][3] != d or u.t(first + 1) != "define":
            continue
        body = [u.t(i) for i in range(first + 4, nt) if u.toks[i][3] == d]
        if u.t(first + 3) == "(" and u.toks[first + 3][1] == u.toks[first + 2][2] and ("#" in body or "##" in body):
            macros.add(u.t(first + 2))
    out, nc = set(), len(u.code)
    for n, i in enumerate(u.code):
        if u.t(i) in macros and n + 1 < nc and u.t(u.code[n + 1]) == "(":
            e = _skip_group(u, n + 1, nc - 1)
            out.update(u.t(u.code[x]) for x in range(n + 2, e or n))
    return out


def _func_renames(u, scopes, quoted):
    """[(name, token indices)] of the functions defined in the window that may be renamed: every use plain,
    in code or in #define bodies, and the name nothing else in the window (no local, parameter, label,
    member, macro, argument of a macro that stringifies)."""
    skip, nc = set(quoted), len(u.code)
    for n, i in enumerate(u.code):  # names inside struct and union bodies are members
        if u.t(i) in ("struct", "union"):
            k = n + 1 + (n + 1 < nc and _is_name(u, n + 1))
            if k < nc and u.t(u.code[k]) == "{":
                e = _skip_group(u, k, nc - 1)
                skip.update(u.t(u.code[x]) for x in range(k, e or k))
    out = []
    for old in sorted({u.t(f["name"]) for f in u.funcs}):
        if old == "main" or old in skip or any(old in decls or old in blocked for decls, blocked in scopes):
            continue
        occ = [i for i, (k, s, e, d) in enumerate(u.toks) if k == "id" and u.text[s:e] == old]
        if all(_macro_body_use(u, i) if u.toks[i][3] >= 0 else _plain_use(u, i) for i in occ):
            out.append((old, occ))
    return out


def _local_renames(u, f, scope, kind, quoted):
    """[(name, token indices)] of the local variables (KIND var) or parameters (KIND param) of the function
    F that may be renamed: declared once in it, every use plain and inside the declaration's scope, not
    called, and the name in no directive of the window (a macro may name it) nor passed to a macro that
    stringifies."""
    decls, blocked = scope
    blocked = blocked | quoted
    lo, hi = u.pos[f["popen"]], u.pos[f["bclose"]]
    out = []
    for name, ds in sorted(decls.items()):
        if len(ds) != 1 or ds[0][2] != kind or name in blocked or _in_directives(u, name):
            continue
        at, end = (ds[0][0], ds[0][1]) if kind == "var" else (lo, hi)
        occ = _occurrences(u, name, lo, hi)
        if all(at <= u.pos[i] <= end and _plain_use(u, i) and u.near(i, 1) != "(" for i in occ):
            out.append((name, occ))
    return out


def _num_value(t):
    """The value of a C number literal (suffixes dropped), or None for one this doesn't read."""
    s = t.lower()
    if re.fullmatch(r"0x[0-9a-f]+[ul]*", s):
        return int(s[2:].rstrip("ul"), 16)
    if re.fullmatch(r"[0-9]+[ul]*", s):
        s = s.rstrip("ul")
        if len(s) > 1 and s[0] == "0":
            return int(s, 8) if re.fullmatch("[0-7]+", s) else None
        return int(s)
    if re.fullmatch(r"([0-9]*\.[0-9]+|[0-9]+\.?)(e[+-]?[0-9]+)?[fl]?", s) and ("." in s or "e" in s):
        return float(s.rstrip("fl"))
    return None


def _const_name(u, fname, i, value):
    """sft._const_name for C, in UPPER_SNAKE_CASE: the variable a literal is assigned to (DEFAULT_ before a
    one-word name: macros share one namespace with every header's, where BITS or SIZE may well be taken),
    MAX_ and the variable it is compared with, or the function's name and _SIZE (_FACTOR for a float)."""
    prev, prev2 = u.near(i, -1), u.near(i, -2)
    if prev == "-" and prev2 in ("=", "(", ",", "return", "<", "<=", ">", ">="):
        prev, prev2 = prev2, u.near(i, -3)
    var = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", prev2).strip("_")
    named = re.fullmatch(r"[A-Za-z_]\w*", prev2) and prev2 not in C_KEYWORDS
    if prev == "=" and named:
        base = var if "_" in var else "default_" + var
    elif prev in ("<", "<=", ">", ">=") and named:
        base = "max_" + var
    else:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", fname) + ("_factor" if isinstance(value, float) else "_size")
    return re.sub(r"_+", "_", base.upper()).strip("_")


def _open_group(u, p, q):
    """None when a line inserted at P is compiled whenever the text at Q is: no #else, #elif or #endif between
    them closes a conditional group that P is in. Else the token index of the `#` of the #if opening that
    group, or -1 when the window doesn't show it."""
    depth, closing = 0, None
    for d, i in u.dfirst.items():
        if d < 0 or not p <= u.toks[i][1] < q or i + 1 >= len(u.toks) or u.toks[i + 1][3] != d:
            continue
        w = u.t(i + 1)
        if w in ("if", "ifdef", "ifndef"):
            depth += 1
        elif w in ("else", "elif", "elifdef", "elifndef", "endif") and depth == 0:
            closing = i
            break
        elif w == "endif":
            depth -= 1
    if closing is None:
        return None
    depth = 0
    for d in sorted((d for d, i in u.dfirst.items() if 0 <= d and u.toks[i][1] < p), reverse=True):
        i = u.dfirst[d]
        w = u.t(i + 1) if i + 1 < len(u.toks) and u.toks[i + 1][3] == d else ""
        if w == "endif":
            depth += 1
        elif w in ("if", "ifdef", "ifndef"):
            if depth == 0:
                return i
            depth -= 1
    return -1


def _const_extract(u, f, taken, rng):
    """(literal, macro name, new text, token changes, the #define line) extracting a literal of the function F
    into a #define above it (above its leading comment), or None. All the literal's occurrences in F are
    replaced; none may be spelled otherwise (4096 and 0x1000) nor be in a directive there."""
    bo, bc = u.pos[f["bopen"]], u.pos[f["bclose"]]
    in_pp = {u.text[s:e] for k, s, e, d in u.toks[f["first"]:f["bclose"]] if d >= 0 and k == "num"}
    lits = [i for i in u.code[bo:bc + 1] if u.toks[i][0] == "num" and u.t(i) not in in_pp
            and _num_value(u.t(i)) not in (None,) + _DROP]
    if not lits:
        return None
    lit = rng.choice(lits)
    value, seg = _num_value(u.t(lit)), u.t(lit)
    same = [i for i in lits if type(_num_value(u.t(i))) is type(value) and _num_value(u.t(i)) == value]
    if any(u.t(i) != seg for i in same):
        return None
    name = _const_name(u, u.t(f["name"]), lit, value)
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) or name in taken or len(name) > 40:
        return None
    # above the function's leading comment: comments ending right above it, each at the start of its line
    p, k = u.toks[f["first"]][1], f["first"] - 1
    while k >= 0 and u.toks[k][0] == "comment" and u.toks[k][3] < 0:
        s, e = u.toks[k][1], u.toks[k][2]
        if u.text[e:p].strip() or u.text.count("\n", e, p) > 1 or u.text[u.text.rfind("\n", 0, s) + 1:s].strip():
            break
        p, k = s, k - 1
    # and outside any conditional group that closes before the body (`#ifdef _WIN32 __declspec(dllexport)
    # #endif int f(...)`): above the #if that opens it
    for _ in range(8):
        opener = _open_group(u, p, u.toks[f["bopen"]][1])
        if opener is None:
            break
        if opener < 0:
            return None
        p = u.toks[opener][1]
    else:
        return None
    line = u.text.count("\n", 0, p)
    lines = _rename(u, same, name).split("\n")
    define = f"#define {name} {seg}"
    lines[line:line] = ([""] if line and lines[line - 1].strip() else []) + [define, ""]
    return seg, name, "\n".join(lines), {i: name for i in same}, define


def _splice(text, spans, new):
    """TEXT with each (start, end) span replaced by NEW."""
    out, at = [], 0
    for s, e in sorted(spans):
        out += [text[at:s], new]
        at = e
    return "".join(out) + text[at:]


def _same_but(u, new_text, changes, insert=None):
    """Whether NEW_TEXT lexes to U's tokens with only CHANGES {token index: new identifier} made (and, with
    INSERT, one directive more whose text is INSERT), and still balances."""
    v = _parse(new_text)
    if v is None or len(v.funcs) != len(u.funcs) or len(v.items) != len(u.items) + (insert is not None):
        return False
    nt = v.toks
    if insert is not None:
        ends = {}
        for k, s, e, d in nt:
            ends[d] = e
        ds = [d for d in v.dfirst if d >= 0 and new_text[nt[v.dfirst[d]][1]:ends[d]] == insert]
        if len(ds) != 1:
            return False
        nt = [(k, s, e, d if d < ds[0] else d - 1) for k, s, e, d in nt if d != ds[0]]
    if len(nt) != len(u.toks):
        return False
    for i, ((k0, s0, e0, d0), (k1, s1, e1, d1)) in enumerate(zip(u.toks, nt)):
        if (new_text[s1:e1] != changes.get(i, u.text[s0:e0]) or k1 != ("id" if i in changes else k0)
                or (d0 >= 0) != (d1 >= 0)):
            return False
    return True


def _rename(u, toks, new):
    """U's text with the tokens TOKS renamed NEW."""
    return _splice(u.text, [(u.toks[i][1], u.toks[i][2]) for i in toks], new)


def c_refactors(text, rel, rng, max_per_file=2):
    """(instruction, target, new text) mechanical refactors of the C window TEXT, as sft.refactors() gives
    them: target ("symbol", name) for a function's rename, ("path",) for the others. Each is checked:
    the new text lexes and balances, and differs from TEXT in the intended tokens only."""
    if sft._is_cxx(sft._c_masked(text)):  # sft.c_functions' test: code only, not comments or strings
        return []
    u = _parse(text)
    if u is None or not u.funcs:
        return []
    scopes = [_scopes(u, f) for f in u.funcs]
    if any(s is None for s in scopes):
        return []
    taken = {u.text[s:e] for k, s, e, d in u.toks if k == "id"} | C_KEYWORDS | _RESERVED
    quoted = _quoted_args(u)
    # a function defined twice (in two branches of an #if) is no place for "the local n in f"
    names = [u.t(f["name"]) for f in u.funcs]
    once = [(f, s) for f, s in zip(u.funcs, scopes) if names.count(u.t(f["name"])) == 1]
    out = []
    kinds = ["func", "var", "param", "const"]
    rng.shuffle(kinds)
    for kind in kinds:
        if len(out) >= max_per_file:
            break
        if kind == "func":
            cands = _func_renames(u, scopes, quoted)
            if not cands:
                continue
            old, occ = rng.choice(cands)
            new = c_new_name(old, taken, rng, "func")
            if not new:
                continue
            instr = rng.choice([f"Rename the function {old} to {new}", f"rename {old} to {new}",
                                f"Rename function `{old}` to `{new}` everywhere"])
            target, changes, new_text, insert = ("symbol", old), {i: new for i in occ}, _rename(u, occ, new), None
        elif kind in ("var", "param"):
            cands = [(f, c) for f, s in once for c in _local_renames(u, f, s, kind, quoted)]
            if not cands:
                continue
            f, (old, occ) = rng.choice(cands)
            new = c_new_name(old, taken, rng, "var")
            if not new:
                continue
            fn = u.t(f["name"])
            if kind == "var":
                instr = rng.choice([f"Rename the local variable {old} in {fn} to {new}",
                                    f"In {fn}, rename the local variable `{old}` to `{new}`"])
            else:
                instr = rng.choice([f"Rename the parameter {old} of {fn} to {new}",
                                    f"Rename parameter `{old}` to `{new}` in {fn}"])
            target, changes, new_text, insert = ("path",), {i: new for i in occ}, _rename(u, occ, new), None
        else:
            f = c = None
            for f, _ in rng.sample(once, len(once)):
                c = _const_extract(u, f, taken, rng)
                if c:
                    break
            if not c:
                continue
            seg, name, new_text, changes, insert = c
            fn = u.t(f["name"])
            instr = rng.choice([f"Extract the constant {seg} in {fn} into a macro {name}",
                                f"Move the literal {seg} used in {fn} to a #define named {name}"])
            target = ("path",)
        if new_text != text and _same_but(u, new_text, changes, insert):
            out.append((instr, target, new_text))
    return out
