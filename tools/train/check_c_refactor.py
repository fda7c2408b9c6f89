"""check_c_refactor.py - c_refactor.py's windows and refactors checked with a C compiler and sft.py's replies.

First hand-written cases: the lexer and the refactors on garbage (characters, tokens, functions of random
statements: never an exception, every result parses), unclosed comments and literals, directives; a function's
rename that leaves its name in a comment and a string and renames it in a macro's body; a member (->n, .n)
or a macro that stringifies keeps a name from being renamed; a return type on its own line; a literal
extracted above the function's leading comment.

Then real C files (octet's engine/ and rag/, SQLite's ext/misc/ when /tmp/sqsrc has it, and a sample of the C
corpus that tools/train/ccorpus.sh stages; all only read): windows and refactors made as sft.py makes them,
several seeds a file, each checked:

  compiler  where the file compiles on its own here, the whole file with the window replaced must compile
            with no warning more, and give the same assembly (cc -S -O0, with -DNDEBUG: gcc shares equal
            strings, so assert's would move), but for the name: a renamed local or parameter as it is (a
            static local's symbol renamed), a renamed function with -DNEW=OLD (every use of it changed: a
            missed call would be an implicit declaration's warning; its uses in the rest of the file are
            renamed too, as a refactoring tool would, and counted), an extracted constant without the inserted
            lines and with -DNAME=VALUE (so that __LINE__ stays). What no window shows is counted, not
            failed: a function's prototype in a header, a macro outside the window that names a local
            (each breaks that file's compile).
  blocks    sft.make_blocks(window, new), as the chat reply and as the completion reply, parsed and applied
            by sft.parse_blocks/apply_blocks gives exactly new (a window make_blocks can't split is counted:
            sft.refactor_samples drops those).
  diff      sft.unified_diff + sft.apply_unified gives exactly new.

Prints the yield per kind and every failure; exits 1 on any.

    python3 tools/train/check_c_refactor.py [--seeds 6] [--corpus-files 150]
"""

import argparse
import collections
import concurrent.futures
import glob
import os
import random
import re
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c_refactor as cr  # noqa: E402
import sft  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SQLITE_EXT = "/tmp/sqsrc/sqlite3-3.40.1/ext/misc"
CORPUS = "/tmp/ccorpus-build/stage/ccorpus"
WARN = ["-Wall", "-Wextra"]
SCRATCH = tempfile.TemporaryDirectory(prefix="check_c_refactor-")  # removed at exit


def octet_flags():
    """The Makefile's CFLAGS_BASE (without -Werror and the dependency files) and its packages' flags."""
    pkgs = "libpcre2-8 sqlite3 ncursesw libcjson libzstd libmicrohttpd libcurl libgit2".split()
    pc = subprocess.run(["pkg-config", "--cflags"] + pkgs, capture_output=True, text=True).stdout.split()
    return (["-std=c11", "-D_GNU_SOURCE", "-pthread", '-DOCTET_VERSION="0"']
            + [f"-I{ROOT}/{d}" for d in "base engine kernels rag presets serve flows tui cli".split()] + pc)


def corpus_flags(path):
    """Include folders that let much of the staged corpus compile on its own (it has no generated config.h,
    so curl, nginx, tmux, musl and others don't); Debian's Lua wants one header of its packaging."""
    proj = os.path.join(CORPUS, os.path.relpath(path, CORPUS).split(os.sep)[0])
    here = os.path.dirname(path)
    dirs = [proj] + [proj + d for d in ("/include", "/src", "/lib", "/library", "/src/libsodium/include/sodium")]
    # the header Debian's lua5.4 packaging generates at build time (one define), written where -I finds it
    packaging = os.path.join(SCRATCH.name, "inc")
    os.makedirs(packaging, exist_ok=True)
    with open(os.path.join(packaging, "lua5.4-deb-multiarch.h"), "w") as f:
        f.write('#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n')
    return ["-std=gnu11", "-D_GNU_SOURCE"] + [f"-I{d}" for d in dirs + [here, os.path.dirname(here), packaging]
                                               if os.path.isdir(d)]


# ---- hand-written cases ---------------------------------------------------------------------------------

UNIT_FUNC = """#include <stdio.h>
#include <string.h>

struct buf { char *reverse_data; size_t n; };

/* reverse(s): reverses s in place */
static void reverse(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char c = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = c;
    }
}

#define REVERSE_ALL(v, k) do { for (size_t j_ = 0; j_ < (k); j_++) reverse((v)[j_]); } while (0)

static const char *what = "reverse";

void reverse_all(char **v, size_t k, struct buf *b)
{
    REVERSE_ALL(v, k);
    b->n = 0;
    puts(what);
}
"""

UNIT_MEMBER = """#include <stddef.h>

struct vec { int *v; int n; };
struct stats { int count; };

/* count: how many elements of x are positive */
static int count(const struct vec *x)
{
    int n = x->n, k = 0;
    for (int i = 0; i < n; i++)
        k += x->v[i] > 0;
    return k;
}

#define STR(x) #x

const char *helper_name(void)
{
    return STR(helper);
}

int helper(const struct vec *x, struct stats *st)
{
    struct vec y = { .v = x->v, .n = 3 };
    st->count++;
    return count(&y) + count(x);
}
"""

UNIT_KR = """#include <string.h>

/*
 * count_vowels: the number of vowels in s.
 */
static int
count_vowels(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if (strchr("aeiou", *s))
            n++;
    return n;
}

/* read_all: what fd holds */
int read_all(int fd, char *out)
{
    char buf[4096];
    int got = 0;
    while (got < 4096 && fd > 3)
        got += count_vowels(buf) + 4096;
    return got + count_vowels(out);
}
"""


def all_refactors(text, seeds=300):
    """Every distinct refactor c_refactors makes of TEXT over SEEDS seeds."""
    out = {}
    for seed in range(seeds):
        for instr, target, new in cr.c_refactors(text, "a.c", random.Random(seed), max_per_file=4):
            out.setdefault(new, (instr, target))
    return [(i, t, n) for n, (i, t) in out.items()]


def unit_cases():
    fails = []

    def check(cond, what):
        if not cond and "unit: " + what not in fails:
            fails.append("unit: " + what)

    rng = random.Random(1)
    soup = "int x n f g ( ) { } [ ] ; , = * -> . 4096 3 for static struct goto : \n #define #if #endif ## # \"s\"".split(" ")
    for k in range(6000):  # garbage never raises: characters, and tokens that lex
        if k % 2:
            s = "".join(rng.choice("ab_1 \n\t{}()[]#\"'/*\\;.,=<>-$é") for _ in range(rng.randrange(60)))
        else:
            s = " ".join(rng.choice(soup) for _ in range(rng.randrange(80)))
        cr.c_tokens(s)
        cr._parse(s)
        cr.c_window(s, random.Random(0))
        cr.c_refactors(s, "a.c", random.Random(0))
    bits = ["int n = 4096;", "n++;", "x->n = 3;", "for (int i = 0; i < 4096; i++) { n += i; }", "{ int k; k = n; }",
            "goto out; out: ;", "struct s { int n; } v;", "f(n);", "#define M(a) #a\n", "M(n);", "typedef int T;",
            "T t = 3;", "static int c;", "extern int e;", "int (*fp)(int) = 0;", "if (n) { n = 7; } else n = 8;"]
    rets = ["int", "static int\n", "struct s *"]
    params = ["void", "int x", "int n, char *s", "struct s *p", "int (*cb)(int)", "int a[n]"]
    for k in range(1500):  # functions of random statements, some with a stray token: whatever comes out parses
        s = ""
        for name in rng.sample(["f", "g", "read_all", "countThings"], rng.randrange(1, 4)):
            body = " ".join(rng.choice(bits) for _ in range(rng.randrange(6)))
            s += f"/* {name} */\n{rng.choice(rets)} {name}({rng.choice(params)})\n{{\n{body}\nreturn n;\n}}\n\n"
        if k % 3 == 0:
            at = rng.randrange(len(s))
            s = s[:at] + rng.choice(soup) + s[at:]
        for _, _, new in cr.c_refactors(s, "a.c", random.Random(k), max_per_file=4):
            check(cr._parse(new) is not None, "a refactor of random functions parses")
    check(cr.c_tokens("int x; /* open") is None, "an unclosed comment gives None")
    check(cr.c_tokens('char *s = "open;\n') is None, "an unclosed string gives None")
    check(cr.c_tokens("#error don't\nint x;\n") is not None, "an apostrophe in #error is text")
    toks = cr.c_tokens("#define M(a) \\\n  ((a) + /* x\n y */ 1)\nint z;\n")
    check(toks is not None and toks[0][0] == "pp" and toks[1][0] == "id", "a continued macro is one pp token")
    inc = cr._expand("#include <sys/stat.h>\n")
    check([k for k, *_ in inc] == ["punct", "id", "text"], "#include's file name is one token")
    check(cr._parse('extern "C" {\nint f(void) { return 1; }\n}\n').funcs, 'extern "C" { is no block')
    check(cr.c_window("namespace x { int f() { return 1; } }\n" * 20, random.Random(0)) is None, "C++ is not C")

    refs = all_refactors(UNIT_FUNC)
    funcs = [(i, n) for i, t, n in refs if t == ("symbol", "reverse")]
    check(funcs, "reverse is renamed")
    for instr, new in funcs:
        name = renamed(UNIT_FUNC, new)[1]
        want = UNIT_FUNC.replace("static void reverse(", f"static void {name}(").replace(
            "j_++) reverse(", f"j_++) {name}(")
        check(new == want, f"{instr}: only the definition and the macro's body change")
    check(any(t == ("symbol", "reverse_all") for _, t, _ in refs), "reverse_all is renamed")
    params = [n for i, t, n in refs if i.startswith(("Rename the parameter s of reverse", "Rename parameter `s`"))]
    a, b = UNIT_FUNC.index("static void reverse("), UNIT_FUNC.index("#define REVERSE_ALL")
    for new in params:
        name = renamed(UNIT_FUNC, new)[1]
        want = UNIT_FUNC[:a] + re.sub(r"\bs\b", name, UNIT_FUNC[a:b]) + UNIT_FUNC[b:]
        check(new == want, "the parameter s: its definition and body only")
    check(params, "the parameter s of reverse is renamed")

    refs = all_refactors(UNIT_MEMBER)
    check(not any(t == ("symbol", "count") for _, t, _ in refs), "count, a member's name too, is not renamed")
    check(not any(t == ("symbol", "helper") for _, t, _ in refs), "helper, stringified by STR, is not renamed")
    check(not any(" n " in i or "`n`" in i for i, _, _ in refs), "n, a member's name in count, is not renamed")
    check(any(" k " in i or "`k`" in i for i, _, _ in refs), "the local k is renamed")

    refs = all_refactors(UNIT_KR)
    kr = [(i, n) for i, t, n in refs if t == ("symbol", "count_vowels")]
    check(kr, "count_vowels (its return type on the line above) is renamed")
    for instr, new in kr:
        want = UNIT_KR.replace("count_vowels(", renamed(UNIT_KR, new)[1] + "(")
        check(new == want, "count_vowels: its definition and calls, not its comment")
    check(any(i.startswith(("Rename the local variable n in count_vowels", "In count_vowels, rename the local "
                                                                            "variable `n`")) for i, _, _ in refs),
          "the local n of count_vowels is renamed")
    consts = [(i, n) for i, t, n in refs if "4096" in i]
    check(consts, "4096 is extracted")
    for instr, new in consts:
        name = instr.split()[-1]
        want = UNIT_KR.replace("4096", name).replace("}\n\n/* read_all", f"}}\n\n#define {name} 4096\n\n/* read_all")
        check(new == want, f"{instr}: a #define above read_all's comment, every 4096 in it replaced")
    check(any(i.startswith("Extract the constant 4096 in read_all into a macro MAX_GOT") or "named MAX_GOT" in i
              for i, _ in consts), "4096 compared with got is named MAX_GOT")
    return fails


# ---- real files ------------------------------------------------------------------------------------------

_local = threading.local()


def compile_asm(text, base, flags, extra=()):
    """(rc, assembly, number of warnings, diagnostics) of TEXT compiled as BASE in a scratch folder (the same
    path for every compile of a thread, so that file names in the output agree)."""
    if not hasattr(_local, "dir"):
        _local.dir = tempfile.mkdtemp(dir=SCRATCH.name)
    with open(os.path.join(_local.dir, base), "w") as f:
        f.write(text)
    p = subprocess.run(["cc", *flags, *WARN, *extra, "-S", "-O0", "-o", "-", base], cwd=_local.dir,
                       capture_output=True, text=True, errors="replace", env=dict(os.environ, LC_ALL="C"))
    return p.returncode, p.stdout, p.stderr.count("warning:"), p.stderr


def same_asm(got, want, old, new):
    """Whether assembly GOT is WANT, or WANT with OLD renamed NEW in its strings: a macro of a header that
    stringifies its argument (assert) spells the new name."""
    if got == want:
        return True
    pat = re.compile(rf"(?<![\w$]){re.escape(old)}(?![\w$])")
    return got == "".join(pat.sub(new, ln) if ln.lstrip().startswith((".string", ".ascii")) else ln
                          for ln in want.splitlines(keepends=True))


def rename_outside(full, a, b, old, new):
    """FULL with the identifier OLD renamed NEW outside FULL[a:b]: (text, how many)."""
    spans = [(s, e) for k, s, e, d in cr._expand(full) if k == "id" and full[s:e] == old and not a <= s < b]
    return cr._splice(full, spans, new), len(spans)


def without_inserted(w, new):
    """NEW (a constant extracted from the window W) without the lines it inserted: the #define and blanks."""
    wl, nl = w.split("\n"), new.split("\n")
    k = next(k for k, ln in enumerate(nl) if ln.startswith("#define ") and ln not in wl)
    n = len(nl) - len(wl)
    return "\n".join(nl[:k - (n - 2)] + nl[k + 2:])


def header_idents(full, base, flags):
    """The identifiers that the headers FULL includes declare or use (cc -E, the lines of other files)."""
    with open(os.path.join(_local.dir, base), "w") as f:
        f.write(full)
    p = subprocess.run(["cc", *flags, "-E", base], cwd=_local.dir, capture_output=True, text=True,
                       errors="replace")
    out, mine = set(), True
    for ln in p.stdout.split("\n"):
        m = re.match(r'# \d+ "(.*)"', ln)
        if m:
            mine = m.group(1) == base
        elif not mine:
            out.update(re.findall(r"[A-Za-z_]\w*", ln))
    return out


def renamed(old, new):
    """(old name, new name) of a rename of OLD into NEW: the first identifier that differs."""
    pairs = zip(cr._expand(old) or [], cr._expand(new) or [])
    return next(((old[a[1]:a[2]], new[b[1]:b[2]]) for a, b in pairs if old[a[1]:a[2]] != new[b[1]:b[2]]),
                (None, None))


def kind_of(instr, target):
    if target[0] == "symbol":
        return "func"
    return "param" if "parameter" in instr else "var" if "variable" in instr else "const"


def check_file(path, flags, seeds):
    """(counts, failures, notes) of the refactors made of the file PATH."""
    counts, fails, notes = collections.Counter(), [], collections.Counter()
    try:
        with open(path, encoding="utf-8") as f:
            full = f.read()
    except (OSError, UnicodeDecodeError):
        return counts, fails, notes
    base = os.path.basename(path)
    flags = flags + ["-iquote", os.path.dirname(os.path.abspath(path))]
    nd = ["-DNDEBUG"]  # the assembly compared without assert's strings (gcc shares equal ones)
    orig, orig_nd = compile_asm(full, base, flags), compile_asm(full, base, flags, nd)
    counts["files compiled" if orig[0] == 0 else "files not compiled"] += 1
    hdr = header_idents(full, base, flags) if orig[0] == 0 else set()
    full_toks, seen = cr.c_tokens(full), set()
    for seed in range(seeds):
        rng = random.Random(f"{seed}:{path}")
        w = cr.c_window(full, rng)
        if not w:
            continue
        counts["windows"] += 1
        a = full.find(w)
        if cr._parse(w) is None or a < 0 or [(k, w[s:e]) for k, s, e in cr.c_tokens(w)] != [
                (k, full[s:e]) for k, s, e in full_toks if a <= s < a + len(w)]:
            fails.append(f"{path} seed {seed}: the window is not whole lines of whole items of the file")
            continue
        rel = os.path.relpath(path, ROOT) if path.startswith(ROOT) else base
        for instr, target, new in cr.c_refactors(w, rel, rng, max_per_file=3):
            if (w, new) in seen:
                continue
            seen.add((w, new))
            kind = kind_of(instr, target)
            counts[kind] += 1
            where = f"{path} seed {seed}: {instr}"
            diff = sft.unified_diff(rel, w, new)
            if not diff or sft.apply_unified(w, diff) != new:
                fails.append(f"{where}: the unified diff doesn't apply back")
            edits = sft.make_blocks(w, new)
            if edits is None:
                notes["no blocks (sft drops the sample)"] += 1
            else:
                for reply in (sft.blocks_chat_reply(rel, edits),
                              f"```\n{rel}\n<<<<<<< SEARCH\n" + sft.blocks_completion_reply(rel, edits, True)):
                    parsed = sft.parse_blocks(reply)
                    if not parsed or sft.apply_blocks(w, parsed, rel) != new:
                        fails.append(f"{where}: the blocks don't apply back")
            if orig[0] != 0:
                continue
            counts[kind + " compiled"] += 1
            mod = full[:a] + new + full[a + len(w):]
            if kind == "const":
                old, name = instr.split()[3], instr.split()[-1]
                plain = compile_asm(mod, base, flags)
                same = compile_asm(full[:a] + without_inserted(w, new) + full[a + len(w):], base, flags,
                                   nd + [f"-D{name}={old}"])
            else:
                old, name = renamed(w, new)
                if kind == "func":
                    mod, n_out = rename_outside(mod, a, a + len(new), old, name)
                    if n_out:
                        notes["func: uses after the window, renamed there too"] += 1
                    same = compile_asm(mod, base, flags, nd + [f"-D{name}={old}"])
                else:
                    same = compile_asm(mod, base, flags, nd)
                plain = compile_asm(mod, base, flags)
            if plain[0] != 0 or plain[2] > orig[2]:
                # what the window doesn't show: a header's prototype of the function, a macro (of the file's
                # or a header's) that names the local; anything else is a failure
                if kind == "func" and old in hdr:
                    notes["func: declared in a header too (not renamed there: its compile fails)"] += 1
                elif kind in ("var", "param") and f"'{old}' undeclared" in plain[3] and (
                        "in expansion of macro" in plain[3]):
                    notes[f"{kind}: named by a macro outside the window (its compile fails)"] += 1
                else:
                    fails.append(f"{where}: doesn't compile cleanly ({plain[2]} warnings, {orig[2]} before)")
                continue
            # a static local's symbol is its name and a number
            want = re.sub(rf"(?<![\w$.]){re.escape(old)}(?=\.\d+\b)", name, orig_nd[1]) if kind in (
                "var", "param") else orig_nd[1]
            if same[0] != 0 or not same_asm(same[1], want, old, name):
                fails.append(f"{where}: the assembly differs" + (f" (with -D{name}={old})" if kind in (
                    "func", "const") else ""))
    return counts, fails, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=6, help="windows tried a file")
    ap.add_argument("--corpus-files", type=int, default=150, help="files of the staged C corpus (0: none)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    fails = unit_cases()
    print(f"unit cases: {len(fails)} failures")
    for f in fails:
        print("FAIL", f)
    sets = [("octet engine+rag", sorted(glob.glob(f"{ROOT}/engine/*.c") + glob.glob(f"{ROOT}/rag/*.c")),
             lambda p, fl=octet_flags(): fl),
            ("sqlite ext/misc", sorted(glob.glob(f"{SQLITE_EXT}/*.c")), lambda p: ["-std=gnu11"])]
    if a.corpus_files:
        files = sorted(glob.glob(f"{CORPUS}/**/*.c", recursive=True))
        random.Random(7).shuffle(files)
        sets.append(("C corpus sample", sorted(files[:a.corpus_files]), corpus_flags))
    for name, files, flags in sets:
        if not files:
            print(f"{name}: no files here, skipped")
            continue
        counts, notes = collections.Counter(), collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            for c, f, n in ex.map(lambda p: check_file(p, flags(p), a.seeds), files):
                counts += c
                notes += n
                fails += f
        kinds = " ".join(f"{k} {counts[k]} ({counts[k + ' compiled']} compiled)"
                         for k in ("func", "var", "param", "const"))
        print(f"{name}: {len(files)} files ({counts['files compiled']} compile here), {counts['windows']} "
              f"windows of {len(files) * a.seeds} tries; refactors: {kinds}")
        for k, v in sorted(notes.items()):
            print(f"    {k}: {v}")
    for f in fails:
        print("FAIL", f)
    print(f"{len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
