#!/usr/bin/env bash
# engine.sh - `octet run`, `logits`, `ppl` and `bench` on the tiny random
# models of tests/fixtures/tiny/ (tests/unit/engine/test_engine.c checks the numbers
# against float64 references; this checks the commands around them): output
# formats, determinism, stop strings, batch sizes, and errors (exit 1) and
# usage errors (exit 2).
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
Q=tests/fixtures/tiny/qwen2_gqa_f32.gguf
L=tests/fixtures/tiny/llama_gqa_f16.gguf

# ---- logits
t_expect "logits runs" 0 "$OCTET" logits -m "$Q" --ids "1 2 3 4" --weights f32 --kv f32
cp "$T_TMP/out" "$T_TMP/lg1"
n=$(wc -l <"$T_TMP/lg1")
if [ "$n" -eq 305 ]; then t_ok "one line per vocabulary entry"; else t_fail "one line per vocabulary entry" "$n lines"; fi
if grep -qvE '^-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$' "$T_TMP/lg1"; then t_fail "numbers only" "$(head -3 "$T_TMP/lg1")"
else t_ok "numbers only"; fi
t_expect "logits batch 1" 0 "$OCTET" logits -m "$Q" --ids "1,2,3,4" --weights f32 --kv f32 --batch 1
cp "$T_TMP/out" "$T_TMP/lg2"
worst=$(paste "$T_TMP/lg1" "$T_TMP/lg2" | awk '{d=$1-$2; if(d<0)d=-d; if(d>m)m=d} END{printf "%.3g", m}')
if awk -v w="$worst" 'BEGIN{exit !(w < 1e-4)}'; then t_ok "batch 1 = batch 4 (max diff $worst)"
else t_fail "batch 1 = batch 4" "max diff $worst"; fi
t_expect "logits threads" 0 "$OCTET" logits -m "$Q" --ids "1 2 3 4" --weights int8 --threads 1
cp "$T_TMP/out" "$T_TMP/lg3"
t_expect "logits 2 threads" 0 "$OCTET" logits -m "$Q" --ids "1 2 3 4" --weights int8 --threads 2
if cmp -s "$T_TMP/out" "$T_TMP/lg3"; then t_ok "1 and 2 threads identical"; else t_fail "1 and 2 threads identical"; fi
printf '1 2\n3,4\n' >"$T_TMP/ids.txt"
t_expect "logits --ids-file" 0 "$OCTET" logits -m "$Q" --ids-file "$T_TMP/ids.txt" --weights f32 --kv f32
if cmp -s "$T_TMP/out" "$T_TMP/lg1"; then t_ok "--ids-file = --ids"; else t_fail "--ids-file = --ids"; fi
# a batch larger than the feed-forward chunk (512 tokens, engine.c FFN_CHUNK) runs
# that part in pieces: the logits must be those of small batches, bit for bit
awk 'BEGIN { for (i = 0; i < 700; i++) printf "%d ", (i * 7) % 300 + 1 }' >"$T_TMP/ids700.txt"
t_expect "logits batch 700" 0 "$OCTET" logits -m "$Q" --ids-file "$T_TMP/ids700.txt" --ctx 1024 --batch 700
cp "$T_TMP/out" "$T_TMP/b700.txt"
t_expect "logits batch 64" 0 "$OCTET" logits -m "$Q" --ids-file "$T_TMP/ids700.txt" --ctx 1024 --batch 64
if cmp -s "$T_TMP/out" "$T_TMP/b700.txt"; then t_ok "feed-forward in chunks = small batches"; else
    t_fail "feed-forward in chunks = small batches" "logits differ"; fi
t_expect "logits --ids-file missing" 1 "$OCTET" logits -m "$Q" --ids-file "$T_TMP/none.txt"
t_grep "missing ids file named" "none.txt" "$T_TMP/err"
t_expect "logits --ids and --ids-file" 2 "$OCTET" logits -m "$Q" --ids 1 --ids-file "$T_TMP/ids.txt"
t_expect "logits bad id text" 2 "$OCTET" logits -m "$Q" --ids "1 two 3"
t_expect "logits no ids" 2 "$OCTET" logits -m "$Q"
t_expect "logits id out of range" 1 "$OCTET" logits -m "$Q" --ids "1 99999"
t_grep "out of range message" 'outside the vocabulary' "$T_TMP/err"

# ---- run
t_expect "run greedy" 0 "$OCTET" run -m "$L" -p "int main(void) {" -n 16 --temp 0
cp "$T_TMP/out" "$T_TMP/g1"
t_expect "run greedy again" 0 "$OCTET" run -m "$L" -p "int main(void) {" -n 16 --temp 0 --threads 1
if cmp -s "$T_TMP/out" "$T_TMP/g1"; then t_ok "greedy is deterministic"; else t_fail "greedy is deterministic"; fi
t_expect "run seeded" 0 "$OCTET" run -m "$L" -p "x = " -n 24 --seed 42 --temp 1 --top-k 0 --top-p 1 --min-p 0
cp "$T_TMP/out" "$T_TMP/s1"
t_expect "run seeded again" 0 "$OCTET" run -m "$L" -p "x = " -n 24 --seed 42 --temp 1 --top-k 0 --top-p 1 --min-p 0
if cmp -s "$T_TMP/out" "$T_TMP/s1"; then t_ok "same seed, same text"; else t_fail "same seed, same text"; fi
# a stop string taken from the middle of the unstopped text: two ASCII characters (the
# random model's broken byte sequences are printed as U+FFFD, which no raw token matches)
text=$(head -c 200 "$T_TMP/s1" | tr -d '\n')
stop=
for ((i = 1; i + 1 < ${#text}; i++)); do
    if [[ ${text:i:2} =~ ^[[:print:]][[:print:]]$ ]]; then stop=${text:i:2}; break; fi
done
if [ -n "$stop" ]; then
    pre=${text%%"$stop"*}
    t_expect "run --stop" 0 "$OCTET" run -m "$L" -p "x = " -n 24 --seed 42 --temp 1 --top-k 0 --top-p 1 \
        --min-p 0 --stop "$stop"
    got=$(tr -d '\n' <"$T_TMP/out")
    if [ "$got" = "$pre" ]; then t_ok "stop string ends the text before it"
    else t_fail "stop string ends the text before it" "stop '$stop' got '$got' want '$pre'"; fi
else
    t_fail "run --stop" "no two ASCII characters in the generated text: '$text'"
fi
t_expect "run --echo -v" 0 "$OCTET" run -m "$L" -p "abc" -n 4 --temp 0 --echo -v
t_grep "echo prints the prompt" '^abc' "$T_TMP/out"
t_grep "verbose figures" 'tok/s' "$T_TMP/err"
printf 'def f(x):' >"$T_TMP/prompt.txt"
t_expect "run -f" 0 "$OCTET" run -m "$Q" -f "$T_TMP/prompt.txt" -n 4 --temp 0 --kv f16 --weights f16
t_expect "run without a model" 2 env OCTET_MODEL= "$OCTET" run -p hello
t_grep "no model message" 'no model given' "$T_TMP/err"
t_expect "run without a prompt" 2 "$OCTET" run -m "$Q"
t_expect "run -p and -f" 2 "$OCTET" run -m "$Q" -p a -f "$T_TMP/prompt.txt"
t_expect "run bad temp" 2 "$OCTET" run -m "$Q" -p a --temp -1
t_expect "run bad weights" 2 "$OCTET" run -m "$Q" -p a --weights int4
t_grep "weights message" "unknown weight format 'int4'" "$T_TMP/err"
t_expect "run bad kv" 2 "$OCTET" run -m "$Q" -p a --kv q4
t_expect "run alpha without smoothquant" 2 "$OCTET" run -m "$Q" -p a --alpha 0.3
t_expect "run missing file" 1 "$OCTET" run -m tests/fixtures/tiny/nope.gguf -p a
t_grep "missing file named" 'nope.gguf' "$T_TMP/err"
t_expect "run cuda backend absent" 1 "$OCTET" run -m "$Q" -p a --backend cuda
t_expect "run missing calibration" 1 "$OCTET" run -m "$Q" -p a --weights smoothquant --calib "$T_TMP/none.txt"
t_expect "run smoothquant" 0 "$OCTET" run -m "$Q" -p a -n 3 --weights smoothquant --alpha 0.6
t_expect "run prompt too long" 1 "$OCTET" run -m "$Q" -p "aaaa bbbb cccc dddd eeee ffff" --ctx 4
t_expect "run --chat" 0 "$OCTET" run -m "$Q" -p "hello" --chat --echo -n 2 --temp 0
t_grep "chat format from the model" '^<\|im_start\|>user$' "$T_TMP/out"
t_expect "run --template --system" 0 "$OCTET" run -m "$Q" -p "hi" --template llama3 --system "Be brief." --echo -n 2
t_grep "named template" '^Be brief\.<\|eot_id\|><\|start_header_id\|>user<\|end_header_id\|>$' "$T_TMP/out"
t_expect "run --system without --chat" 2 "$OCTET" run -m "$Q" -p "hi" --system x
t_expect "run unknown template" 2 "$OCTET" run -m "$Q" -p "hi" --template bogus
t_grep "template names listed" 'chatml' "$T_TMP/err"
t_expect "run help" 0 "$OCTET" run --help
t_grep "run help text" '^Usage: octet run' "$T_TMP/out"

# ---- ppl
printf 'int add(int a, int b)\n{\n    return a + b;\n}\n\nint main(void)\n{\n    return add(2, 3);\n}\n' >"$T_TMP/text.c"
t_expect "ppl --json" 0 "$OCTET" ppl -m "$Q" --file "$T_TMP/text.c" --ctx 16 --json --weights f32 --kv f32
t_grep "ppl json line" '^\{"ppl": [0-9]+\.[0-9]+, "tokens": [0-9]+\}$' "$T_TMP/out"
p32=$(sed 's/.*"ppl": \([0-9.]*\).*/\1/' "$T_TMP/out")
t_expect "ppl int8 kv" 0 "$OCTET" ppl -m "$Q" --file "$T_TMP/text.c" --ctx 16 --json --weights f32 --kv int8
p8=$(sed 's/.*"ppl": \([0-9.]*\).*/\1/' "$T_TMP/out")
if awk -v a="$p32" -v b="$p8" 'BEGIN{d=(b-a)/a; if(d<0)d=-d; exit !(d < 0.02)}'; then
    t_ok "int8 KV perplexity close to f32 ($p32 vs $p8)"; else t_fail "int8 KV perplexity close" "$p32 vs $p8"; fi
t_expect "ppl --top1" 0 "$OCTET" ppl -m "$Q" --file "$T_TMP/text.c" --ctx 16 --json --kv int8 --top1 "$T_TMP/top1.txt"
ntok=$(sed 's/.*"tokens": \([0-9]*\).*/\1/' "$T_TMP/out")
if [ "$(grep -cE '^[0-9]+$' "$T_TMP/top1.txt")" = "$ntok" ] && [ "$(wc -l <"$T_TMP/top1.txt")" = "$ntok" ]; then
    t_ok "ppl --top1: one id per scored token ($ntok)"; else t_fail "ppl --top1 lines" "$(wc -l <"$T_TMP/top1.txt") lines for $ntok tokens"; fi
t_expect "ppl --top1 again" 0 "$OCTET" ppl -m "$Q" --file "$T_TMP/text.c" --ctx 16 --json --kv int8 --top1 "$T_TMP/top1b.txt"
if cmp -s "$T_TMP/top1.txt" "$T_TMP/top1b.txt"; then t_ok "ppl --top1 reproducible"; else t_fail "ppl --top1 reproducible" "differs"; fi
t_expect "ppl --top1 unwritable" 1 "$OCTET" ppl -m "$Q" --file "$T_TMP/text.c" --top1 "$T_TMP/no/such/dir/top1.txt"
t_expect "ppl text" 0 "$OCTET" ppl -m "$Q" -f - --ctx 8 <"$T_TMP/text.c"
t_grep "ppl text line" '^perplexity [0-9.]+ over [0-9]+ tokens \([0-9]+ windows of up to 8 tokens' "$T_TMP/out"
printf 'a' >"$T_TMP/one.txt"
t_expect "ppl too short" 1 "$OCTET" ppl -m "$Q" -f "$T_TMP/one.txt"
t_expect "ppl no file" 2 "$OCTET" ppl -m "$Q"
t_expect "ppl ctx 1" 2 "$OCTET" ppl -m "$Q" -f "$T_TMP/text.c" --ctx 1

# ---- bench
t_expect "bench --json" 0 "$OCTET" bench -m "$Q" --prompt 16 --gen 8 --depth 4 --reps 1 --json
for k in prefill_tok_s decode_tok_s weights_bytes kv_bytes scratch_bytes ctx batch dev_total_bytes; do
    t_grep "bench json $k" "\"$k\": [0-9.]+[,}]" "$T_TMP/out"
done
t_grep "bench json device" '"device": "cpu' "$T_TMP/out"
t_grep "bench json settings" '"prompt": 16, "gen": 8, "depth": 4, "reps": 1,' "$T_TMP/out"
t_expect "bench text" 0 "$OCTET" bench -m "$Q" --prompt 8 --gen 0 --reps 1
t_grep "bench prefill line" '^prefill +pp8 ' "$T_TMP/out"
t_expect "bench on one thread" 0 "$OCTET" bench -m "$Q" --prompt 8 --gen 0 --reps 1 --threads 1
t_grep "one thread, not '1 threads'" ', 1 thread, ctx' "$T_TMP/out"
t_expect "bench nothing" 2 "$OCTET" bench -m "$Q" --prompt 0 --gen 0
t_expect "bench ctx too small" 2 "$OCTET" bench -m "$Q" --prompt 64 --ctx 32
t_end
