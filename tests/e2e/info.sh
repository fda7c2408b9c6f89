#!/usr/bin/env bash
# info.sh - `octet info` on the tiny fixtures of tests/fixtures/gguf/ (made
# by tests/gguf_build.h; test_model checks they are current): the summary,
# hyper-parameters and memory plan (numbers worked out by hand in
# tests/unit/engine/test_model.c), --ctx, --tensors, a vocabulary-only file, broken
# files (one-line error naming the file, exit 1) and usage errors (exit 2).
source "$(dirname "$0")/lib.sh"
FIX=tests/fixtures/gguf/tiny-llama-q8_0.gguf
VOC=tests/fixtures/gguf/vocab-only.gguf

t_expect "info runs" 0 "$OCTET" info -m "$FIX"
cp "$T_TMP/out" "$T_TMP/info"
t_grep "summary" '^format: +GGUF v3, 12 tensors, 16 metadata keys, alignment 32$' "$T_TMP/info"
t_grep "size" '^size: +12\.69 KiB \(12992 bytes\)$' "$T_TMP/info"
t_grep "tokenizer" '^tokenizer: +llama, 16 tokens$' "$T_TMP/info"
t_grep "tensor types" '^tensor types: +F32 x3, Q8_0 x9$' "$T_TMP/info"
t_grep "embedding" '^  embedding size +32$' "$T_TMP/info"
t_grep "GQA" '^  KV heads +1 \(GQA: 2 query heads per KV head\)$' "$T_TMP/info"
t_grep "head size" '^  head size +16$' "$T_TMP/info"
t_grep "ffn" '^  FFN size +64$' "$T_TMP/info"
t_grep "vocab" '^  vocabulary +16$' "$T_TMP/info"
t_grep "context" '^  context length \(trained\) +128$' "$T_TMP/info"
t_grep "eps" '^  RMSNorm epsilon +1e-05$' "$T_TMP/info"
t_grep "rope" '^  RoPE base +10000$' "$T_TMP/info"
t_grep "no scaling" '^  RoPE scaling +none$' "$T_TMP/info"
t_grep "no orig ctx" '^  RoPE original context +not set$' "$T_TMP/info"
t_grep "untied" '^  tied embeddings +no$' "$T_TMP/info"
t_grep "stored" '^  as stored +11\.00 KiB \(11264 bytes\)$' "$T_TMP/info"
t_grep "f16 weights" '^  f16 +20\.38 KiB \(20864 bytes\)$' "$T_TMP/info"
t_grep "int8 weights" '^  int8 \+ row scales +11\.00 KiB \(11264 bytes\)$' "$T_TMP/info"
t_grep "kv f16 per 1K" '^  f16 +64\.00 KiB \(65536 bytes\)$' "$T_TMP/info"
t_grep "kv int8 per 1K" '^  int8 \+ scales +40\.00 KiB \(40960 bytes\)$' "$T_TMP/info"
t_grep "default ctx" '^ total for a context of 128 tokens' "$T_TMP/info"
t_grep "total int8" '^  int8 weights \+ int8 KV +16\.00 KiB \(16384 bytes\)$' "$T_TMP/info"
t_grep "total f16" '^  f16 weights \+ f16 KV +28\.38 KiB \(29056 bytes\)$' "$T_TMP/info"
if grep -q 'blk.0.attn_q.weight' "$T_TMP/info"; then t_fail "no tensor list by default"; else
    t_ok "no tensor list by default"; fi

# --ctx: 11264 + 1000 * 40 bytes.
t_expect "--ctx" 0 "$OCTET" info -m "$FIX" --ctx 1000
t_grep "--ctx total" '^  int8 weights \+ int8 KV +50\.06 KiB \(51264 bytes\)$' "$T_TMP/out"
t_expect "--ctx large" 0 "$OCTET" info --ctx=131072 --model "$FIX"
t_grep "--ctx large total" '^  int8 weights \+ int8 KV +5\.01 MiB \(5254144 bytes\)$' "$T_TMP/out"

t_expect "--tensors" 0 "$OCTET" info -m "$FIX" --tensors
t_grep "tensor row" '^ +2  blk\.0\.attn_q\.weight +Q8_0 +32 x 32 +1088 +' "$T_TMP/out"
t_grep "last tensor" '^ +11  output\.weight +Q8_0 +32 x 16 +544 ' "$T_TMP/out"

# A qwen2 file with YaRN scaling, biases and tied embeddings (a fuzzing seed
# made by tests/fuzz/gen_seeds.c).
t_expect "qwen2" 0 "$OCTET" info -m tests/fuzz/corpus/gguf/qwen2-bf16-yarn.gguf
t_grep "qwen2 arch" '^  architecture +qwen2$' "$T_TMP/out"
t_grep "qwen2 neox" '^  RoPE style +neox' "$T_TMP/out"
t_grep "qwen2 base" '^  RoPE base +1000000$' "$T_TMP/out"
t_grep "qwen2 yarn" '^  RoPE scaling +yarn$' "$T_TMP/out"
t_grep "qwen2 factor" '^  RoPE scaling factor +4$' "$T_TMP/out"
t_grep "qwen2 orig ctx" '^  RoPE original context +8$' "$T_TMP/out"
t_grep "qwen2 ext factor" '^  YaRN ext factor +1$' "$T_TMP/out"
t_grep "qwen2 freqs" '^  RoPE frequency factors +yes' "$T_TMP/out"
t_grep "qwen2 tied" '^  tied embeddings +yes' "$T_TMP/out"
t_grep "qwen2 biases" '^  Q/K/V biases +yes$' "$T_TMP/out"
t_grep "qwen2 v2" '^format: +GGUF v2,' "$T_TMP/out"

t_expect "vocab-only" 0 "$OCTET" info -m "$VOC"
t_grep "vocab-only says so" 'holds no tensors' "$T_TMP/out"
t_grep "vocab-only tokenizer" '^tokenizer: +llama, 16 tokens$' "$T_TMP/out"

# Broken files: exit 1 and exactly one line on stderr, naming the file.
head -c 5000 "$FIX" >"$T_TMP/cut.gguf"
t_expect "truncated" 1 "$OCTET" info -m "$T_TMP/cut.gguf"
t_grep "truncated names file" "^octet info: $T_TMP/cut.gguf: tensor '[^']+' data .* extends past the end of the file .*\(at byte offset [0-9]+\)$" "$T_TMP/err"
[ "$(wc -l <"$T_TMP/err")" -eq 1 ] && t_ok "truncated: one line" || t_fail "truncated: one line" "$(cat "$T_TMP/err")"
[ -s "$T_TMP/out" ] && t_fail "truncated: nothing on stdout" || t_ok "truncated: nothing on stdout"
head -c 100 "$FIX" >"$T_TMP/head.gguf"
t_expect "truncated header" 1 "$OCTET" info -m "$T_TMP/head.gguf"
t_grep "truncated header message" "^octet info: $T_TMP/head.gguf: .*\(at byte offset [0-9]+\)$" "$T_TMP/err"
printf 'not a model at all, just text\n' >"$T_TMP/text.gguf"
t_expect "not gguf" 1 "$OCTET" info -m "$T_TMP/text.gguf"
t_grep "not gguf message" 'text.gguf: not a GGUF file' "$T_TMP/err"
t_expect "missing file" 1 "$OCTET" info -m "$T_TMP/none.gguf"
t_grep "missing file message" 'none.gguf: cannot open: No such file or directory' "$T_TMP/err"

# Usage errors.
t_expect "no -m: the embedded model" 0 "$OCTET" info
t_grep "no -m: describes models/octet-code.gguf" 'octet-code\.gguf' "$T_TMP/out"
t_expect "bad --ctx" 2 "$OCTET" info -m "$FIX" --ctx abc
t_expect "zero --ctx" 2 "$OCTET" info -m "$FIX" --ctx 0
t_expect "negative --ctx" 2 "$OCTET" info -m "$FIX" --ctx -5
t_expect "unknown option" 2 "$OCTET" info -m "$FIX" --frobnicate
t_expect "stray argument" 2 "$OCTET" info -m "$FIX" extra
t_expect "-m without value" 2 "$OCTET" info -m
t_expect "--help" 0 "$OCTET" info --help
t_grep "--help usage" '^Usage: octet info \[-m FILE\]' "$T_TMP/out"
t_end
