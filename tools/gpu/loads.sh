#!/usr/bin/env bash
# loads.sh - the decode products with GEMV_LOADS 4 against 8 (kernels/cuda/cu_matmul.cu) in one device
# call: the same logits bit for bit (every tiny model and format, batch 1 and 16, and the embedded
# model), gemv_bench's checks of the new kernels against host references, then decode on the random
# Qwen2.5-Coder-7B shape at 512 (twice) and at 32K (once), the two builds alternating on the same card.
#
#   here:   cp .gpu/bundle.tar.xz .gpu/old.tar.xz   (a bundle of the build before the change)
#           bash tools/gpu/bundle.sh                 (the build with it)
#   device: bash tools/gpu/loads.sh                  (carry .gpu)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/loads}
M=/tmp/q7.gguf
mkdir -p "$R" /tmp/go /tmp/gn
tar -xJf .gpu/old.tar.xz -C /tmp/go && tar -xJf .gpu/bundle.tar.xz -C /tmp/gn || exit 2
OLD=/tmp/go/b/octet NEW=/tmp/gn/b/octet
say() { echo "$*" | tee -a "$R/loads.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(date -u +%Y-%m-%dT%H:%MZ)"
[ -s $M ] || python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M >/dev/null &
GEN=$!
fail=0
ids=$(seq 1 48 | awk '{ printf "%d ", ($1 * 37 + 11) % 200 + 1 }')
for f in tests/fixtures/tiny/*.gguf models/octet-code.gguf; do
    for cfg in "f32 f32" "f16 f16" "int8 int8" "int8 f32"; do
        set -- $cfg
        for b in 1 16; do
            $OLD logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch $b >/tmp/lo.txt 2>/dev/null
            $NEW logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch $b >/tmp/ln.txt 2>/dev/null
            if [ -s /tmp/lo.txt ] && cmp -s /tmp/lo.txt /tmp/ln.txt; then :; else
                fail=$((fail + 1)); say "FAIL logits differ: $(basename "$f") w=$1 kv=$2 batch $b"; fi
        done
    done
done
say "logits, loads 4 against 8, bit for bit: $fail case(s) differ of 48"
nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Ikernels -Ikernels/cuda tools/gpu/gemv_bench.cu kernels/cuda/cu_matmul.cu \
    -lcublasLt -o /tmp/gemv_bench && /tmp/gemv_bench --no-bench >/tmp/gemv.txt 2>&1
say "gemv_bench checks (loads 4): rc $?, $(tail -1 /tmp/gemv.txt)"
wait $GEN
for rep in 1 2; do
    for v in OLD NEW; do
        o=${!v}
        runs=("--prompt 512 --gen 128 --reps 2")
        [ $rep = 1 ] && runs+=("--ctx 32768 --batch 2048 --prompt 0 --depth 32640 --gen 64 --reps 1")
        for args in "${runs[@]}"; do
            j=$(timeout 120 $o bench --json -m $M --backend cuda --weights int8 --kv int8 $args 2>/dev/null)
            say "$v rep $rep [$args]: $(echo "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("decode %.2f tok/s (sd %.2f), prefill %.0f" % (d["decode_tok_s"], d["decode_tok_s_sd"], d["prefill_tok_s"]))' 2>&1)"
        done
    done
done
exit $((fail > 0))
