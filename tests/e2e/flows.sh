#!/usr/bin/env bash
# flows.sh - `octet check`, `gen`, `apply`, `undo` and `refactor` end to end:
# specs checked against good, wrong, hanging, crashing and non-compiling
# Python and C; the generation and refactoring pipelines on a tiny random
# model (gibberish: the tests look at the pipeline and its errors, not at
# code quality); patches applied, refused, undone in real git repositories
# in a temporary directory, all or nothing.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
S=tests/fixtures/specs
P=tests/fixtures/patches
TINY=$PWD/tests/fixtures/tiny/llama_mha_f32.gguf
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")

# ---- check: Python
t_expect "check python good" 0 "$OCT" check --spec $S/add.json --code $S/add_good.py
t_grep "all examples passed" '^all 3 examples passed$' "$T_TMP/out"
t_expect "check python wrong" 1 "$OCT" check --spec $S/add.json --code $S/add_wrong.py
t_grep "wrong: expected and actual" 'examples\[0\] add\(1, 2\): FAIL: wrong result' "$T_TMP/out"
t_grep "wrong: the values" 'actual:   -1' "$T_TMP/out"
t_grep "wrong: summary" '^1 of 3 examples passed$' "$T_TMP/out"
t_expect "check python hang" 1 "$OCT" check --spec $S/add.json --code $S/add_hang.py --timeout 1.5
t_grep "hang: killed" 'did not finish within 1.5 s \(killed\)' "$T_TMP/out"
t_expect "check python crash" 1 "$OCT" check --spec $S/add.json --code $S/add_crash.py
t_grep "crash: the signal" 'crashed: killed by signal 11 \(SIGSEGV' "$T_TMP/out"
t_expect "check code from stdin" 0 sh -c "\"$OCT\" check --spec $S/add.json --code - <$S/add_good.py"

# ---- check: C (include/greeting.h next to the code is found)
t_expect "check c good" 0 "$OCT" check --spec $S/greet.json --code $S/greet_good.c
t_expect "check c list output" 0 "$OCT" check --spec $S/scale.json --code $S/scale_good.c
t_expect "check c wrong" 1 "$OCT" check --spec $S/greet.json --code $S/greet_wrong.c
t_grep "c wrong: the diff" 'note: length 12, expected 13; first difference at byte 12' "$T_TMP/out"
t_expect "check c crash" 1 "$OCT" check --spec $S/greet.json --code $S/greet_crash.c
t_grep "c crash: the signal" 'SIGSEGV' "$T_TMP/out"
t_expect "check c hang" 1 "$OCT" check --spec $S/greet.json --code $S/greet_hang.c --timeout 0.4
t_grep "c hang: killed" 'did not finish within 0.4 s' "$T_TMP/out"
t_expect "check c syntax error" 1 "$OCT" check --spec $S/greet.json --code $S/greet_syntax.c
t_grep "c syntax: compiler output" 'greet_syntax.c:4:1: error' "$T_TMP/out"
t_expect "check -v names the isolation" 0 "$OCT" check --spec $S/add.json --code $S/add_good.py -v
t_grep "isolation: every layer" 'isolation: new user, PID, network .*seccomp .*Landlock ABI [0-9]+: reads only in the toolchain' "$T_TMP/err"

# ---- check: errors
printf '{"language": "python", "name": "f", "description": "d",\n "inputs": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}],\n "output": "int", "examples": [{"input": [1, 2], "output": 3}, {"input": [1], "output": 3}]}\n' >"$T_TMP/bad.json"
t_expect "check bad spec" 1 "$OCT" check --spec "$T_TMP/bad.json" --code $S/add_good.py
t_grep "bad spec: field named" 'bad.json: examples\[1\].input: expected an array of 2 values \(the function takes 2 inputs\), got 1' "$T_TMP/err"
t_expect "check missing code file" 1 "$OCT" check --spec $S/add.json --code "$T_TMP/none.py"
t_expect "check without --spec" 2 "$OCT" check --code $S/add_good.py
t_expect "check bad timeout" 2 "$OCT" check --spec $S/add.json --code $S/add_good.py --timeout abc
t_expect "check --harness" 0 "$OCT" check --spec $S/greet.json --harness
t_grep "harness: main and cases" 'octet_case_1' "$T_TMP/out"
t_expect "check --help" 0 "$OCT" check --help
t_grep "check help: options" '--timeout SECONDS' "$T_TMP/out"

# ---- a repository to work in
R=$T_TMP/repo
mkdir -p "$R/src"
printf 'def add_numbers(a, b):\n    """helper used by the generated add"""\n    return a + b\n' >"$R/src/util.py"
printf 'one\ntwo\nthree\nfour\nfive\n' >"$R/f.txt"
printf 'int a;\nint b;\n' >"$R/src/m.c"
git -C "$R" init -q && git -C "$R" add . && git -C "$R" -c user.name=t -c user.email=t@t commit -qm init
clean() { [ -z "$(git -C "$R" status --porcelain)" ]; }
check_clean() { if clean; then t_ok "$1"; else t_fail "$1" "$(git -C "$R" status --porcelain)"; fi; }

# ---- gen: the pipeline on a model that writes gibberish
t_expect "gen fails on gibberish" 1 sh -c "cd '$R' && \"$OCT\" gen --spec '$PWD/$S/add.json' -m '$TINY' --ctx 1024 -n 24 --check --retries 1 --out add.py -v"
t_grep "gen: retrieval" 'octet gen: retrieved context, [0-9]+ bytes' "$T_TMP/err"
t_grep "gen: attempt 1" 'octet gen: attempt 1/2 failed' "$T_TMP/err"
t_grep "gen: retried" 'octet gen: attempt 2/2 failed' "$T_TMP/err"
t_grep "gen: final error" 'no usable code after 2 attempts; the last one failed' "$T_TMP/err"
if [ -e "$R/add.py" ]; then t_fail "gen writes nothing on failure"; else t_ok "gen writes nothing on failure"; fi
t_expect "gen plain completion" 1 "$OCT" gen --spec $S/greet.json -m "$TINY" --ctx 1024 --template none -n 8 --no-context --retries 0 --check
t_grep "gen completion: error" 'attempt 1/1 failed: (the completion ends before the closing brace of greet\(\)|.*does not compile)' "$T_TMP/err"
t_expect "gen without a model" 2 env OCTET_MODEL= "$OCT" gen --spec $S/add.json
t_expect "gen without a spec" 2 "$OCT" gen -m "$TINY"
t_expect "gen bad retries" 2 "$OCT" gen --spec $S/add.json -m "$TINY" --retries -1
check_clean "gen left the repository clean"

# ---- apply
t_expect "apply --check" 0 "$OCT" apply --patch $P/good.diff --repo "$R" --check --color always
t_grep "apply --check: summary" 'applies cleanly: 2 files changed, 3 insertions\(\+\), 1 deletion\(-\)' "$T_TMP/out"
t_grep "apply --check: colored diff" $'\033\\[32m\\+TWO' "$T_TMP/out"
t_expect "apply refuses without a terminal" 1 "$OCT" apply --patch $P/good.diff --repo "$R" </dev/null
t_grep "apply: asks for --yes" 'standard input is not a terminal: use --yes' "$T_TMP/err"
check_clean "nothing applied without confirmation"
t_expect "apply from stdin needs --yes" 2 sh -c "\"$OCT\" apply --patch - --repo '$R' <$P/good.diff"
t_expect "apply --yes" 0 "$OCT" apply --patch $P/good.diff --repo "$R" --yes
t_grep "apply: undo record" 'applied \(undo record 000001' "$T_TMP/out"
if [ "$(sed -n 2p "$R/f.txt")" = TWO ] && [ -f "$R/src/new.c" ]; then t_ok "apply: files changed"; else t_fail "apply: files changed"; fi
t_expect "apply twice conflicts" 1 "$OCT" apply --patch $P/good.diff --repo "$R" --yes --force
t_grep "conflict: named hunk" 'src/new.c already exists|f.txt: hunk 1 \(@@ -1,3 \+1,3 @@\) does not apply|f.txt: hunk 1 \(@@ -1,3 @@\): its context and removed lines are not in the file' "$T_TMP/err"

# ---- undo
t_expect "undo refuses without a terminal" 1 "$OCT" undo --repo "$R" </dev/null
t_grep "undo: lists the files" 'revert   f.txt' "$T_TMP/out"
t_expect "undo --yes" 0 "$OCT" undo --repo "$R" --yes
t_grep "undo: restored" 'restored 2 files' "$T_TMP/out"
check_clean "undo restored everything"
t_expect "nothing to undo" 1 "$OCT" undo --repo "$R" --yes
t_grep "nothing to undo: message" 'nothing to undo' "$T_TMP/err"

# ---- files edited meanwhile
printf 'one\ntwo\nthree\nfour\nfive\nsix\n' >"$R/f.txt"
t_expect "apply refuses an edited file" 1 "$OCT" apply --patch $P/good.diff --repo "$R" --yes
t_grep "edited: message" 'f.txt has uncommitted changes: commit or stash it first, or use --force; nothing was changed' "$T_TMP/err"
if [ ! -e "$R/src/new.c" ]; then t_ok "edited: nothing written"; else t_fail "edited: nothing written"; fi
t_expect "apply --force" 0 "$OCT" apply --patch $P/good.diff --repo "$R" --yes --force
printf 'changed after the apply\n' >>"$R/src/new.c"
t_expect "undo refuses after later edits" 1 "$OCT" undo --repo "$R" --yes
t_grep "undo: changed since" 'src/new.c  \(changed since the patch was applied\)' "$T_TMP/out"
t_expect "undo --force" 0 "$OCT" undo --repo "$R" --yes --force
if [ "$(cat "$R/f.txt")" = "$(printf 'one\ntwo\nthree\nfour\nfive\nsix')" ] && [ ! -e "$R/src/new.c" ]; then
    t_ok "undo --force restored the edited file"; else t_fail "undo --force restored the edited file"; fi
git -C "$R" checkout -q f.txt

# ---- malformed patches
t_expect "malformed: prose" 1 "$OCT" apply --patch $P/prose.txt --repo "$R" --yes
t_grep "malformed: no patch" 'prose.txt: no patch found' "$T_TMP/err"
t_expect "malformed: truncated hunk" 1 "$OCT" apply --patch $P/truncated.diff --repo "$R" --yes
t_grep "malformed: truncated message" 'truncated.diff: the patch ends inside the hunk at line 4' "$T_TMP/err"
t_expect "malformed: path outside" 1 "$OCT" apply --patch $P/escape.diff --repo "$R" --yes
t_grep "malformed: path message" "paths with empty, '.' or '..' components are refused" "$T_TMP/err"
check_clean "malformed patches changed nothing"

# ---- all or nothing: the second file cannot be written (file-size limit)
t_expect "half-way failure" 1 bash -c "ulimit -f 4; trap '' XFSZ; exec \"$OCT\" apply --patch $P/big.diff --repo '$R' --yes"
t_grep "half-way: nothing changed" 'f.txt: write failed: File too large; nothing was changed' "$T_TMP/err"
check_clean "half-way failure left every file as it was"
if [ -z "$(ls "$R/.git/octet/undo" 2>/dev/null | grep -v lock)" ]; then t_ok "half-way: no undo record"
else t_fail "half-way: no undo record" "$(ls "$R/.git/octet/undo")"; fi

# ---- refactor: the pipeline on a model that writes gibberish
t_expect "refactor: no blocks in the reply" 1 "$OCT" refactor "rename add_numbers to plus" --symbol add_numbers --repo "$R" -m "$TINY" --ctx 1024 -n 16 --dry-run -v
t_grep "refactor --symbol: the definition first" 'octet refactor: retrieved src/util.py:1-3' "$T_TMP/err"
t_grep "refactor: message" 'no usable search/replace blocks \(the last of 3 replies\): the model.s reply: no search/replace blocks \(a path' "$T_TMP/err"
t_grep "refactor: each unusable reply said, and asked again" '^octet refactor: reply 2/3 has no usable edit: the model.s reply: no search/replace blocks .*; asking again$' "$T_TMP/err"
t_expect "refactor --retries 0: one reply" 1 "$OCT" refactor "rename add_numbers to plus" --symbol add_numbers --repo "$R" -m "$TINY" --ctx 1024 -n 16 --dry-run --retries 0
t_grep "refactor --retries 0: message" '^octet refactor: no usable search/replace blocks: the model.s reply: ' "$T_TMP/err"
if grep -q "asking again" "$T_TMP/err"; then t_fail "refactor --retries 0: not asked again" "$(cat "$T_TMP/err")"; else t_ok "refactor --retries 0: not asked again"; fi
t_expect "refactor --retries -1: usage error" 2 "$OCT" refactor "x" --retries -1 --dry-run
t_expect "refactor --path: no blocks in the reply" 1 "$OCT" refactor "add a docstring" --path "$R/src/util.py" --repo "$R" -m "$TINY" --ctx 1024 -n 16 --dry-run -v
t_grep "refactor --path: the file first" 'octet refactor: retrieved src/util.py:1-3' "$T_TMP/err"
t_grep "refactor --path: message" 'no usable search/replace blocks( \(the last of 3 replies\))?: the model.s reply: ' "$T_TMP/err"
t_expect "refactor --path outside the repository" 1 "$OCT" refactor "x" --path /etc/hostname --repo "$R" -m "$TINY" --dry-run
t_grep "refactor --path outside: message" '/etc/hostname: not a file inside the repository' "$T_TMP/err"
t_expect "refactor: unknown symbol" 1 "$OCT" refactor "rename it" --symbol no_such_symbol --repo "$R" -m "$TINY" --ctx 1024 --dry-run
t_grep "refactor: unknown symbol message" "the symbol 'no_such_symbol' is not defined" "$T_TMP/err"
t_expect "refactor: needs a terminal or --yes" 2 "$OCT" refactor "x" --repo "$R" -m "$TINY" </dev/null
t_expect "refactor: --path and --symbol" 2 "$OCT" refactor "x" --path a --symbol b --dry-run
t_expect "refactor: no instruction" 2 "$OCT" refactor --dry-run -m "$TINY"
check_clean "refactor left the repository clean"

# ---- the shipped model: gen and refactor heal and speculate by default (-v gives the figures), and
# --no-spec gives the same replies (sampled at the default temperature with the default seed)
M=$PWD/models/octet-code.gguf
same_reply() { # NAME COMMAND... : the reply (stderr with -v, figures left out) and stdout, with and without --no-spec
    local name=$1; shift
    "$@" -v >"$T_TMP/spec.out" 2>"$T_TMP/spec.err"
    "$@" -v --no-spec >"$T_TMP/plain.out" 2>"$T_TMP/plain.err"
    if grep -qE 'tokens generated, [0-9]+ prompt tokens healed; speculation: [0-9]+ of [0-9]+ drafted tokens accepted \([0-9]+%\), [0-9.]+ tokens per pass' "$T_TMP/spec.err" &&
        grep -q 'speculation off' "$T_TMP/plain.err"; then t_ok "$name: -v figures"
    else t_fail "$name: -v figures" "$(tail -n 3 "$T_TMP/spec.err")"; fi
    if cmp -s "$T_TMP/spec.out" "$T_TMP/plain.out" &&
        cmp -s <(grep -v 'tokens generated' "$T_TMP/spec.err") <(grep -v 'tokens generated' "$T_TMP/plain.err") &&
        [ "$(wc -l <"$T_TMP/spec.err")" -gt 3 ]; then t_ok "$name: the same reply with --no-spec"
    else t_fail "$name: the same reply with --no-spec" "$(diff "$T_TMP/spec.err" "$T_TMP/plain.err" | head -6)"; fi
}
same_reply "refactor, shipped model" "$OCT" refactor "rename add_numbers to plus" --symbol add_numbers --repo "$R" -m "$M" -n 160 --dry-run
same_reply "gen, shipped model" sh -c "cd '$R' && exec \"\$0\" \"\$@\"" "$OCT" gen --spec "$PWD/$S/add.json" -m "$M" -n 96 --retries 1
t_expect "refactor --no-spec with a remote engine" 2 "$OCT" refactor "x" --backend http://127.0.0.1:1/v1 --no-spec --dry-run
t_grep "--no-spec remote: message" '--no-spec applies to a local engine' "$T_TMP/err"
check_clean "the shipped model's refactor left the repository clean"
t_end
