#!/usr/bin/env bash
# pins.sh - --add on the command line (issue 16 item 4), in a real git
# repository on a tiny random model: `octet run --add` puts the file, a line
# range or a symbol's definition before the prompt (--echo shows it), says
# what it cut to fit; gen and refactor send it with their code (-v lists it);
# bad --add arguments are refused naming what is wrong; --help documents it.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
TINY=$PWD/tests/fixtures/tiny/llama_mha_f32.gguf
OCT=$(cd "$(dirname "$OCTET")" && pwd)/$(basename "$OCTET")
R=$T_TMP/repo
mkdir -p "$R/src"
printf 'int add(int a, int b)\n{\n    return a + b;\n}\n\nint twice(int a)\n{\n    return add(a, a);\n}\n' >"$R/src/add.c"
printf 'PINNED_MARKER_one\nline two\nline three\n' >"$R/notes.txt"
seq 1 3000 | sed 's/^/filler line /' >"$R/big.txt"
printf 'def add_numbers(a, b):\n    return a + b\n' >"$R/src/util.py"
git -C "$R" init -q && git -C "$R" add . && git -C "$R" -c user.name=t -c user.email=t@t commit -qm init
run() { (cd "$R" && "$OCT" run -m "$TINY" -n 1 --temp 0 --echo "$@"); }

# ---- run: the pinned code before the prompt
t_expect "run --add FILE" 0 run --add notes.txt -p "QUESTION_HERE"
t_grep "run --add: the file's path and lines in the prompt" '^notes.txt:1-3$' "$T_TMP/out"
t_grep "run --add: its text in the prompt" '^PINNED_MARKER_one$' "$T_TMP/out"
if awk '/PINNED_MARKER_one/ {m = NR} /QUESTION_HERE/ {q = NR} END {exit !(m && q && m < q)}' "$T_TMP/out"; then
    t_ok "run --add: the code comes before the prompt"; else t_fail "run --add: the code comes before the prompt" "$(cat "$T_TMP/out")"; fi
t_expect "run --add PATH:START-END" 0 run --add src/add.c:6-9 -p "x"
t_grep "run --add range: those lines" '^    return add\(a, a\);$' "$T_TMP/out"
if grep -q 'return a + b' "$T_TMP/out"; then t_fail "run --add range: only those lines" "$(cat "$T_TMP/out")"; else
    t_ok "run --add range: only those lines"; fi
t_expect "run --add SYMBOL" 0 run --add twice -p "x"
t_grep "run --add SYMBOL: its definition, found through the index" '^src/add.c:6-9$' "$T_TMP/out"
t_expect "run --add -v: what went in" 0 run --add notes.txt -p "x" -v
t_grep "run -v: the summary" '^octet run: context: 1 pinned$' "$T_TMP/err"
t_expect "run --chat --add" 0 run --chat --template chatml --add notes.txt -p "QUESTION_HERE"
t_grep "run --chat --add: in the user message" 'Code from the repository that may be relevant:' "$T_TMP/out"
t_expect "run --add: too big, cut to fit" 0 run --add big.txt --ctx 256 -p "x"
t_grep "run --add: what was cut is said" 'octet run: context: 1 pinned, 1 cut to fit 128 tokens \(big.txt:1-3000 after line [0-9]+\)' "$T_TMP/err"
t_grep "run --add: the first lines kept" '^filler line 1$' "$T_TMP/out"
if grep -q 'filler line 3000' "$T_TMP/out"; then t_fail "run --add: the rest left out"; else t_ok "run --add: the rest left out"; fi

# ---- run: bad --add
t_expect "run --add of a missing file" 1 run --add nowhere.txt -p x
t_grep "missing file: said" 'octet run: nowhere.txt: no such file' "$T_TMP/err"
t_expect "run --add past the end" 1 run --add notes.txt:2-9 -p x
t_grep "past the end: said" 'octet run: notes.txt has 3 lines: 2-9 goes past its end' "$T_TMP/err"
t_expect "run --add of an empty range" 1 run --add notes.txt:3-1 -p x
t_grep "empty range: said" 'notes.txt:3-1: the line range 3-1 is empty' "$T_TMP/err"
t_expect "run --add of an unknown symbol" 1 run --add no_such_thing -p x
t_grep "unknown symbol: said" "no_such_thing: no such file, and no definition of it in the repository's index" "$T_TMP/err"
t_expect "run --add ''" 2 run --add "" -p x
t_expect "run --add of a directory" 1 run --add src -p x
t_grep "directory: said" 'src: not a regular file' "$T_TMP/err"

# ---- gen and refactor: the pinned code in their code section
printf '{"language": "python", "name": "inc", "description": "one more", "inputs": [{"name": "n", "type": "int"}], "output": "int", "examples": [{"input": [1], "output": 2}]}\n' >"$T_TMP/inc.json"
t_expect "gen --add" 1 sh -c "cd '$R' && \"$OCT\" gen --spec '$T_TMP/inc.json' -m '$TINY' --ctx 1024 -n 8 --retries 0 --add notes.txt -v"
t_grep "gen --add: said" '^octet gen: context: 1 pinned' "$T_TMP/err"
t_expect "gen --no-context --add: the pins still go" 1 sh -c "cd '$R' && \"$OCT\" gen --spec '$T_TMP/inc.json' -m '$TINY' --ctx 1024 -n 8 --retries 0 --no-context --add notes.txt"
t_grep "gen --no-context --add: said" '^octet gen: context: 1 pinned$' "$T_TMP/err"
t_expect "gen --add of a missing file" 1 sh -c "cd '$R' && \"$OCT\" gen --spec '$T_TMP/inc.json' -m '$TINY' --add nowhere.txt"
t_grep "gen: missing file said" 'octet gen: nowhere.txt: no such file' "$T_TMP/err"
t_expect "refactor --add" 1 "$OCT" refactor "rename add_numbers" --symbol add_numbers --add "$R/notes.txt" --repo "$R" -m "$TINY" --ctx 1024 -n 8 --dry-run -v
t_grep "refactor --add: before the retrieved code" 'octet refactor: retrieved notes.txt:1-3 src/util.py:1-2' "$T_TMP/err"
t_grep "refactor --add: said" 'octet refactor: context: 1 pinned, 1 retrieved chunk' "$T_TMP/err"
t_expect "refactor --add of a missing file" 1 "$OCT" refactor "x" --add "$R/nowhere.c" --repo "$R" -m "$TINY" --dry-run
t_grep "refactor: missing file said" 'nowhere.c: no such file' "$T_TMP/err"

# ---- documented
for c in run gen refactor; do
    t_expect "$c --help" 0 "$OCT" $c --help
    t_grep "$c --help documents --add" '--add PATH\[:START-END\] \| SYMBOL' "$T_TMP/out"
done
t_end
