#!/usr/bin/env bash
# tokenize.sh - `octet tokenize` and `octet detokenize` on the vocabulary
# fixtures of tests/fixtures/vocab/: ids (with and without BOS, ids taken
# from llama.cpp's vectors), --pieces, --parse-special, byte-exact round
# trips through both commands for every vocabulary, runtime errors (exit 1,
# message naming the culprit) and usage errors (exit 2).
source "$(dirname "$0")/lib.sh"
V=tests/fixtures/vocab
SPM=$V/ggml-vocab-llama-spm.gguf
GPT2=$V/ggml-vocab-gpt-2.gguf

# Run "$@" with stdin from file $1.
from() { local f=$1; shift; "$@" <"$f"; }
# t_out NAME EXPECTED FILE: FILE's content is exactly EXPECTED (plus the final newline).
t_out() {
    if [ "$(cat "$3")" = "$2" ]; then t_ok "$1"; else
        t_fail "$1" "got:      $(head -c 300 "$3")" "expected: $2"; fi
}

printf 'Hello world' >"$T_TMP/hello"
t_expect "ids" 0 from "$T_TMP/hello" "$OCTET" tokenize -m "$SPM"
t_out "ids with BOS" "1 15043 3186" "$T_TMP/out"
t_expect "--ids --no-bos" 0 from "$T_TMP/hello" "$OCTET" tokenize --model "$SPM" --ids --no-bos
t_out "ids without BOS" "15043 3186" "$T_TMP/out"
t_expect "gpt-2 ids" 0 from "$T_TMP/hello" "$OCTET" tokenize -m "$GPT2"
t_out "gpt-2 adds no BOS" "15496 995" "$T_TMP/out"

printf 'Hello world\n\tx"\\' >"$T_TMP/pieces_in"
t_expect "--pieces" 0 from "$T_TMP/pieces_in" "$OCTET" tokenize -m "$SPM" --pieces
t_out "pieces shown readably" "$(printf '1\t"<s>"\n15043\t" Hello"\n3186\t" world"\n13\t"\\n"\n12\t"\\t"\n29916\t"x"\n26732\t"\\"\\\\"')" "$T_TMP/out"
printf '\xe4\xbd\xa0' >"$T_TMP/cjk"
t_expect "--pieces partial UTF-8" 0 from "$T_TMP/cjk" "$OCTET" tokenize -m "$GPT2" --pieces
t_out "byte pieces escaped" "$(printf '19526\t"\\xE4\\xBD"\n254\t"\\xA0"')" "$T_TMP/out"

printf '<s>Hello' >"$T_TMP/special"
t_expect "special as text" 0 from "$T_TMP/special" "$OCTET" tokenize -m "$SPM" --no-bos
t_out "special not parsed" "529 29879 29958 10994" "$T_TMP/out"
t_expect "--parse-special" 0 from "$T_TMP/special" "$OCTET" tokenize -m "$SPM" --no-bos --parse-special
t_out "special parsed" "1 15043" "$T_TMP/out"
t_expect "--no-eos accepted" 0 from "$T_TMP/hello" "$OCTET" tokenize -m "$SPM" --no-eos
t_out "no EOS for llama" "1 15043 3186" "$T_TMP/out"

: >"$T_TMP/empty"
t_expect "empty input" 0 from "$T_TMP/empty" "$OCTET" tokenize -m "$SPM" --no-bos
t_out "empty line" "" "$T_TMP/out"
t_expect "empty ids" 0 from "$T_TMP/empty" "$OCTET" detokenize -m "$SPM"
t_out "no text" "" "$T_TMP/out"

# detokenize: control tokens only with --special; ids in any white space.
printf '1 15043\n\t3186  2\n' >"$T_TMP/ids"
t_expect "detokenize" 0 from "$T_TMP/ids" "$OCTET" detokenize -m "$SPM"
t_out "text" "Hello world" "$T_TMP/out"
t_expect "detokenize --special" 0 from "$T_TMP/ids" "$OCTET" detokenize -m "$SPM" --special
t_out "text with specials" "<s>Hello world</s>" "$T_TMP/out"

# Round trips, byte for byte: source files, every vocabulary. (Not
# tests/unit/engine/test_tokenizer.c: it holds a "</s>  ", and Phi-3's </s> eats the
# white space after it, by design of that model.)
{
    cat tools/tok_expected.py engine/tok_pre.c
    printf 'UTF-8: caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x9a\x80 \xd0\x9f\xd1\x80\xd0\xb8\n\t  \r\n'
} >"$T_TMP/src"
for v in gpt-2 deepseek-coder llama-spm starcoder phi-3; do
    "$OCTET" tokenize -m "$V/ggml-vocab-$v.gguf" --no-bos <"$T_TMP/src" >"$T_TMP/ids_$v" 2>"$T_TMP/err"
    "$OCTET" detokenize -m "$V/ggml-vocab-$v.gguf" <"$T_TMP/ids_$v" >"$T_TMP/back_$v" 2>>"$T_TMP/err"
    if cmp -s "$T_TMP/src" "$T_TMP/back_$v"; then t_ok "round trip $v"; else
        t_fail "round trip $v" "$(head -c 300 "$T_TMP/err")"; fi
done
# With BOS added, detokenize still gives the text back.
"$OCTET" tokenize -m "$SPM" <"$T_TMP/src" | "$OCTET" detokenize -m "$SPM" >"$T_TMP/back"
if cmp -s "$T_TMP/src" "$T_TMP/back"; then t_ok "round trip with BOS"; else t_fail "round trip with BOS"; fi

# Runtime errors: exit 1, the message names what is wrong.
printf '1 99999 2' >"$T_TMP/bad_id"
t_expect "id out of range" 1 from "$T_TMP/bad_id" "$OCTET" detokenize -m "$SPM"
t_grep "names the id" "token id 99999 .*not in the vocabulary" "$T_TMP/err"
printf '1 -4' >"$T_TMP/neg_id"
t_expect "negative id" 1 from "$T_TMP/neg_id" "$OCTET" detokenize -m "$SPM"
t_grep "names the negative id" "token id -4" "$T_TMP/err"
printf '1 abc 2' >"$T_TMP/word"
t_expect "not a number" 1 from "$T_TMP/word" "$OCTET" detokenize -m "$SPM"
t_grep "names the word" "'abc' is not a token id" "$T_TMP/err"
t_expect "missing file" 1 from "$T_TMP/hello" "$OCTET" tokenize -m "$T_TMP/nope.gguf"
t_grep "names the file" "nope.gguf" "$T_TMP/err"
t_expect "not a GGUF file" 1 from "$T_TMP/hello" "$OCTET" tokenize -m "$V/ggml-vocab-gpt-2.gguf.inp"
t_grep "one line naming it" "^octet tokenize: .*ggml-vocab-gpt-2.gguf.inp" "$T_TMP/err"
head -c 100000 "$GPT2" >"$T_TMP/truncated.gguf"
t_expect "truncated GGUF" 1 from "$T_TMP/hello" "$OCTET" detokenize -m "$T_TMP/truncated.gguf"
t_grep "truncated named" "truncated.gguf" "$T_TMP/err"

# Usage errors: exit 2 with a hint; --help: usage on stdout, exit 0.
t_expect "no -m: the embedded model" 0 from "$T_TMP/hello" "$OCTET" tokenize
t_grep "no -m: ids printed" '^[0-9]+( [0-9]+)*$' "$T_TMP/out"
t_expect "unknown option" 2 "$OCTET" tokenize -m "$SPM" --frobnicate
t_grep "hint" "Try 'octet tokenize --help'" "$T_TMP/err"
t_expect "unexpected argument" 2 "$OCTET" detokenize -m "$SPM" extra
t_expect "-m without value" 2 "$OCTET" detokenize -m
t_expect "tokenize --help" 0 "$OCTET" tokenize --help
t_grep "tokenize usage" "^Usage: octet tokenize \\[-m FILE\\]" "$T_TMP/out"
t_expect "detokenize --help" 0 "$OCTET" detokenize -h
t_grep "detokenize usage" "^Usage: octet detokenize \\[-m FILE\\]" "$T_TMP/out"
t_end
