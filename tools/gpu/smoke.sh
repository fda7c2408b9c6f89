#!/usr/bin/env bash
# smoke.sh - a first look at the CUDA backend on the device, from the bundle
# (tools/gpu/bundle.sh): the attention checker, CUDA against CPU logits on
# the tiny models (one batch, and token by token through the decode graph),
# then decode and prefill speed on the random 7B shape. test.sh and bench.sh
# are the full runs; this is the quick one for a kernel change.
#
#   bash tools/gpu/smoke.sh       (the device tool: carry .gpu)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/smoke}
mkdir -p "$R" /tmp/gb
tar -xJf .gpu/bundle.tar.xz -C /tmp/gb || exit 2
O=/tmp/gb/b/octet
{ nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv; $O --version; } 2>&1 | tee "$R/smoke.log"

if [ "${SMOKE_ATTN:-1}" = 1 ]; then
    nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Ikernels -Ikernels/cuda tools/gpu/attn_check.cu \
        kernels/cuda/cu_attn.cu -o /tmp/attn_check >>"$R/smoke.log" 2>&1
    timeout 180 /tmp/attn_check >"$R/attn.txt" 2>&1
    echo "attn_check exit $?" | tee -a "$R/smoke.log"
fi

ids="1 5 9 12 3 7 2 8 11 4 6 10 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32"
for f in tests/fixtures/tiny/*.gguf; do
    n=$(basename "$f" .gguf)
    $O logits -m "$f" --ids "$ids" --backend cpu --weights f32 --kv f32 >/tmp/ref.txt 2>>"$R/smoke.log"
    for cfg in "f32 f32 64" "f32 f32 1" "int8 int8 64" "int8 int8 1" "f16 f16 64"; do
        set -- $cfg
        $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch "$3" >/tmp/got.txt 2>>"$R/smoke.log" ||
            { echo "$n w=$1 kv=$2 batch=$3: octet failed" | tee -a "$R/smoke.log"; continue; }
        $O logits -m "$f" --ids "$ids" --backend cpu --weights "$1" --kv "$2" --batch "$3" >/tmp/cpu.txt 2>>"$R/smoke.log"
        printf '%-28s w=%-4s kv=%-4s batch=%-2s vs f32: %s | vs cpu same fmt: %s\n' "$n" "$1" "$2" "$3" \
            "$(python3 tools/gpu/compare.py /tmp/got.txt /tmp/ref.txt 2>&1)" \
            "$(python3 tools/gpu/compare.py /tmp/got.txt /tmp/cpu.txt 2>&1)" | tee -a "$R/smoke.log"
    done
done
echo "run (graph decode):" | tee -a "$R/smoke.log"
$O run -m models/octet-code.gguf -p "def fibonacci(n):" -n 48 --temp 0 --backend cuda 2>&1 | tee -a "$R/smoke.log"
$O run -m models/octet-code.gguf -p "def fibonacci(n):" -n 48 --temp 0 --backend cpu 2>&1 | tee -a "$R/smoke.log"

if [ "${SMOKE_7B:-1}" = 1 ]; then
    M=/tmp/q7.gguf
    [ -s $M ] || python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M >>"$R/smoke.log" 2>&1
    for kv in int8 f16; do
        timeout 300 $O bench -m $M --backend cuda --weights int8 --kv $kv --ctx 4096 --prompt 512 --batch 512 \
            --gen 128 --reps 3 2>&1 | tee -a "$R/smoke.log"
    done
    timeout 300 $O bench -m $M --backend cuda --weights int8 --kv int8 --ctx 32768 --prompt 0 --depth 32000 \
        --batch 2048 --gen 128 --reps 2 2>&1 | tee -a "$R/smoke.log"
fi
tail -40 "$R/attn.txt" 2>/dev/null
