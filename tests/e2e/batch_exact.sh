#!/usr/bin/env bash
# batch_exact.sh - the CPU backend's promise that speculative decoding rests on
# (be_ops_t.batch_exact): a pass of 2 .. 16 tokens gives each token the logits
# a one-token pass gives it, bit for bit, on every tiny model in every weight
# and cache format. The last position's logits of 48 ids fed one token per
# pass must print identically when the ids are fed in passes of 2, 3, 5, 8 and
# 16 tokens (tools/gpu/exact.sh checks the same on the CUDA backend).
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

ids=$(seq 1 48 | awk '{ printf "%d ", ($1 * 37 + 11) % 200 + 1 }')
for f in tests/fixtures/tiny/*.gguf; do
    n=$(basename "$f" .gguf)
    for cfg in "f32 f32" "f16 f16" "int8 int8" "int8 f16" "smoothquant int8"; do
        set -- $cfg
        if ! $OCTET logits -m "$f" --ids "$ids" --backend cpu --threads 2 --weights "$1" --kv "$2" --batch 1 \
            >"$T_TMP/one.txt" 2>"$T_TMP/err"; then
            t_fail "$n w=$1 kv=$2: octet logits" "$(head -c 300 "$T_TMP/err")"
            continue
        fi
        bad=""
        for b in 2 3 5 8 16; do
            $OCTET logits -m "$f" --ids "$ids" --backend cpu --threads 2 --weights "$1" --kv "$2" --batch $b \
                >"$T_TMP/few.txt" 2>>"$T_TMP/err"
            cmp -s "$T_TMP/one.txt" "$T_TMP/few.txt" || bad="$bad $b"
        done
        if [ -z "$bad" ] && [ "$(wc -l <"$T_TMP/one.txt")" -gt 10 ]; then
            t_ok "$n w=$1 kv=$2: passes of 2..16 tokens = one-token passes, bit for bit"
        else
            t_fail "$n w=$1 kv=$2: passes of 2..16 tokens = one-token passes" "differ at batch$bad"
        fi
    done
done
t_end
