# model.sh - the embedded model end to end: octet's tokenizer, loader and forward pass on
# models/octet-code.gguf against the PyTorch references in tests/fixtures/model/ (ids, f32
# logits within 1e-3 relative error), and the held-out perplexity under committed bounds.
. tests/e2e/lib.sh
M=models/octet-code.gguf
F=tests/fixtures/model

# 1. Tokenizer: the training tokenizer's ids for every snippet.
for s in "$F"/0*.txt; do
    name=$(basename "$s" .txt)
    "$OCTET" tokenize -m "$M" --no-bos <"$s" >"$T_TMP/ids" 2>"$T_TMP/err"
    if python3 - "$F/ref.json" "$name" "$T_TMP/ids" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
snip = next(x for x in ref["snippets"] if x["name"].startswith(sys.argv[2]))
got = [int(t) for t in open(sys.argv[3]).read().split()]
sys.exit(0 if got == snip["ids"] else 1)
PY
    then t_ok "tokenize $name = training ids"; else t_fail "tokenize $name = training ids" "$(head -c 300 "$T_TMP/err")"; fi
done

# 2. f32 logits against PyTorch float64 (relative error max|a-b|/max|b| <= 1e-3), one row per snippet.
python3 - "$F/ref.json" >"$T_TMP/rows" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
for s in ref["snippets"]:
    for pos, off in zip(s.get("logit_positions", []), s.get("logit_offsets", [])):
        ids = [ref["bos_id"]] + s["ids"][:pos]
        print(s["name"], pos, off, " ".join(map(str, ids)))
PY
n_rows=0
while read -r name pos off ids; do
    n_rows=$((n_rows + 1))
    if ! "$OCTET" logits -m "$M" --weights f32 --kv f32 --ctx 2048 --ids "$ids" >"$T_TMP/logits" 2>"$T_TMP/err"; then
        t_fail "f32 logits $name@$pos" "$(head -c 300 "$T_TMP/err")"; continue
    fi
    if msg=$(python3 - "$F/logits.f32" "$off" "$T_TMP/logits" <<'PY'
import array, sys
ref = array.array("f"); n = 16384
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]) * 4); ref.frombytes(f.read(n * 4))
got = [float(x) for x in open(sys.argv[3]).read().split()]
if len(got) != n: print("got %d logits, expected %d" % (len(got), n)); sys.exit(1)
err = max(abs(a - b) for a, b in zip(got, ref)) / max(abs(b) for b in ref)
print("relative error %.2e" % err); sys.exit(0 if err <= 1e-3 else 1)
PY
    ); then t_ok "f32 logits $name@$pos match PyTorch ($msg)"; else t_fail "f32 logits $name@$pos match PyTorch" "$msg"; fi
done <"$T_TMP/rows"
[ "$n_rows" -ge 3 ] && t_ok "logits rows checked: $n_rows" || t_fail "logits rows checked: $n_rows (expected >= 3)"

# 3. Held-out perplexity of 00-py-rich (PyTorch float64, the stored Q8_0 weights: 7.681) under committed bounds:
#    f32 within 0.1% of PyTorch; the default int8 weights + int8 KV within 1% of it.
ppl_check() { # name, bound, options...
    local name=$1 bound=$2; shift 2
    if ! "$OCTET" ppl -m "$M" --ctx 2048 --json --file "$F/00-py-rich.txt" "$@" >"$T_TMP/ppl" 2>"$T_TMP/err"; then
        t_fail "$name" "$(head -c 300 "$T_TMP/err")"; return
    fi
    # every id of the snippet is scored: as many tokens as ref.json's ids
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=json.load(open(sys.argv[3]))["snippets"][0]
sys.exit(0 if d["ppl"] < float(sys.argv[2]) and d["tokens"] == len(r["ids"]) else 1)' "$T_TMP/ppl" "$bound" "$F/ref.json"
    then t_ok "$name: $(cat "$T_TMP/ppl") < $bound"; else t_fail "$name" "$(cat "$T_TMP/ppl") not under $bound"; fi
}
ppl_check "held-out perplexity, f32" 7.689 --weights f32 --kv f32
ppl_check "held-out perplexity, int8 weights + int8 KV" 7.758 --weights int8 --kv int8

# 4. The default model is used when -m is not given.
t_expect "run without -m uses the embedded model" 0 "$OCTET" run -p "def fib(" -n 8 --temp 0

# 5. Token healing and speculation are on by default, and exact. Healing: "import o" ends in the
#    token " o", which training text never has before "s"; healed, the answer spells "os".
t_expect "run heals by default" 0 "$OCTET" run -m "$M" -p "import o" -n 1 --temp 0 -v
t_grep "healed: the answer completes the word" '^s' "$T_TMP/out"
t_grep "-v counts the healed token" 'prompt 3 tokens \(1 healed' "$T_TMP/err"
t_expect "run --no-heal" 0 "$OCTET" run -m "$M" -p "import o" -n 1 --temp 0 -v --no-heal
t_grep "--no-heal: nothing healed" 'prompt 3 tokens \(0 healed' "$T_TMP/err"
#    Speculation: greedy output with and without --no-spec identical, token for token, on prompts that
#    repeat (lookup drafts and is accepted) and prompts that do not; -v gives the acceptance rate.
spec_prompts=("$(printf 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n')"
    "$(printf 'class Stack:\n    def push(self, x):\n        self.items.append(x)\n\n    def pop(self):\n')"
    "for i in ra" "import o" "$(printf '#include <stdio.h>\n\nint main(void)\n{\n')")
accepted=0
for i in "${!spec_prompts[@]}"; do
    "$OCTET" run -m "$M" -p "${spec_prompts[$i]}" -n 96 --temp 0 -v >"$T_TMP/spec" 2>"$T_TMP/spec_err"
    "$OCTET" run -m "$M" -p "${spec_prompts[$i]}" -n 96 --temp 0 -v --no-spec >"$T_TMP/plain" 2>"$T_TMP/plain_err"
    if cmp -s "$T_TMP/spec" "$T_TMP/plain" && [ -s "$T_TMP/spec" ]; then t_ok "speculative = plain greedy, prompt $i"
    else t_fail "speculative = plain greedy, prompt $i" "$(diff "$T_TMP/spec" "$T_TMP/plain" | head -5)"; fi
    a=$(sed -n 's/.*speculation: \([0-9]*\) of [0-9]* drafted tokens accepted.*/\1/p' "$T_TMP/spec_err")
    accepted=$((accepted + ${a:-0}))
    grep -q 'speculation: off' "$T_TMP/plain_err" || t_fail "--no-spec -v says speculation is off, prompt $i"
    [ "$i" -eq 0 ] && cp "$T_TMP/spec_err" "$T_TMP/spec_err0"
done
[ "$accepted" -gt 20 ] && t_ok "speculation on by default: $accepted drafted tokens accepted" ||
    t_fail "speculation on by default" "$accepted drafted tokens accepted"
t_grep "-v: acceptance rate and tokens per pass" 'accepted \([0-9]+%\), [0-9.]+ tokens per pass' "$T_TMP/spec_err0"
t_end
