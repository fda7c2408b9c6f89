#!/usr/bin/env bash
# quick.sh - everything issue 13 asks of the GPU in ONE device call of under
# 10 minutes (`make gpu-test` runs it): llama.cpp's CUDA build started in the
# background; exactness of the tiny models (CUDA against the CPU, formats
# varied one at a time; f32 against the issue's bound, 1e-3 of the logit
# range), graph replay against the batched pass, the issue's int8 criteria
# (the same top-1 token on >= 99% of positions, perplexity within 0.5% of
# the CPU's) on the embedded model and a random 1.5B shape, beside the
# CPU's own spread (its AVX2 kernels against its best ones); the plugin's
# fallbacks and `octet info`'s GPU plan; compute-sanitizer; then the
# side-by-side bench on the random Qwen2.5-Coder-7B shape and `auto` with
# 60 GiB of the card taken. Each stage is skipped once the budget
# (QUICK_BUDGET_S, default 540 s) is near; the summary is printed last.
#
#   bash tools/gpu/quick.sh          (octet from .gpu/bundle.tar.xz, else ./octet and ./octet-cuda.so)
#   QUICK_ROOT=. bash .gpu/quick.sh  (the device tool from another checkout: carry .gpu with this
#                                     script, compare.py and top1.py; llama.cpp anchors in .gpu/anchors)
set -uo pipefail
T=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # compare.py, top1.py
cd "${QUICK_ROOT:-$T/../..}"
R=${OUT:-/tmp/quick}
BUDGET=${QUICK_BUDGET_S:-540}
mkdir -p "$R" /tmp/gb
LOG=$R/quick.log
SUM=$R/summary.txt
: >"$SUM"
say() { echo "[$SECONDS s] $*" | tee -a "$LOG"; }
row() { printf '%s\n' "$*" | tee -a "$SUM" >>"$LOG"; }
left() { [ $((BUDGET - SECONDS)) -gt "$1" ]; }
verdict() { [ "$1" = 0 ] && echo PASS || echo FAIL; }

# shellcheck source=tools/gpu/octet_bin.sh
. "$T/octet_bin.sh"
export NCCL_NVLS_ENABLE=0
if [ -f .gpu/anchors/llama_side_by_side.sh ]; then
    (bash .gpu/anchors/llama_side_by_side.sh cuda /dev/null >/tmp/llama_build.log 2>&1 &)
fi
{ nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm,clocks.mem --format=csv; $O --version; } 2>&1 | tee -a "$LOG"
row "card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), $(date -u +%Y-%m-%dT%H:%MZ)"
row "switches: $(env | grep -E '^OCTET_CUDA_' | tr '\n' ' ')(unset: the defaults)"

# ---- the models, generated while the checks run
M=/tmp/q7.gguf
Q15=/tmp/q15.gguf
(python3 tools/gen_tiny.py --shape qwen2.5-1.5b --type f16 --fill fast --out $Q15.part >/tmp/gen15.log 2>&1 &&
    mv $Q15.part $Q15 &&
    python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M.part >/tmp/gen.log 2>&1 &&
    mv $M.part $M) &
GEN_PID=$!

# ---- few-token passes (speculative verification) against one-token passes, bit for bit
OUT=$R bash "$T/exact.sh" >>"$LOG" 2>&1
grep -E '^(PASS|FAIL|exact)' "$R/exact.txt" >>"$SUM"

# ---- exactness: tiny models, CUDA against the CPU in the same formats
ids="1 5 9 12 3 7 2 8 11 4 6 10 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 40 41 42 43 44 45 46 47"
for f in tests/fixtures/tiny/*.gguf; do
    n=$(basename "$f" .gguf)
    for cfg in "f32 f32 64" "f32 f32 1" "int8 int8 64" "int8 int8 1" "int8 f32 64" "int8 f32 1" "f32 int8 64" \
        "f32 int8 1" "f16 f16 64" "int8 f16 64"; do
        set -- $cfg
        $O logits -m "$f" --ids "$ids" --backend cuda --weights "$1" --kv "$2" --batch "$3" >/tmp/got.txt 2>>"$LOG" ||
            { row "FAIL $n w=$1 kv=$2 batch=$3: octet failed"; continue; }
        $O logits -m "$f" --ids "$ids" --backend cpu --weights "$1" --kv "$2" --batch "$3" >/tmp/cpu.txt 2>>"$LOG"
        if [ "$1$2" = f32f32 ]; then
            r=$(python3 $T/compare.py /tmp/got.txt /tmp/cpu.txt --max-range 1e-3 2>&1)
            row "$(printf '%s exact %-24s w=%-4s kv=%-4s batch=%-2s cuda vs cpu: %s' "$(verdict $?)" "$n" "$1" "$2" "$3" "$r")"
        else
            row "$(printf 'exact %-26s w=%-4s kv=%-4s batch=%-2s cuda vs cpu: %s' "$n" "$1" "$2" "$3" \
                "$(python3 $T/compare.py /tmp/got.txt /tmp/cpu.txt 2>&1 | tr '\n' ' ')")"
        fi
    done
done
# one-token graph replay against the batched pass, on the GPU
for f in tests/fixtures/tiny/qwen2_gqa_f32.gguf tests/fixtures/tiny/llama_gqa_f16.gguf models/octet-code.gguf; do
    $O logits -m "$f" --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 1 >/tmp/g1.txt 2>>"$LOG"
    $O logits -m "$f" --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 64 >/tmp/g64.txt 2>>"$LOG"
    row "graph $(basename "$f" .gguf) batch 1 vs 64 (cuda): $(python3 $T/compare.py /tmp/g1.txt /tmp/g64.txt 2>&1 | tr '\n' ' ')"
done
# the embedded model's 1.6e-2 above (2026-12-07) against the same with other formats: which part of
# the step (int8 activations, the int8 or f16 cache through the tensor-core attention) makes it
for wk in "f32 f32" "int8 f32" "f32 int8" "f16 f16"; do
    set -- $wk
    $O logits -m models/octet-code.gguf --ids "$ids" --backend cuda --weights $1 --kv $2 --batch 1 >/tmp/g1.txt 2>>"$LOG"
    $O logits -m models/octet-code.gguf --ids "$ids" --backend cuda --weights $1 --kv $2 --batch 64 >/tmp/g64.txt 2>>"$LOG"
    row "graph octet-code w=$1 kv=$2 batch 1 vs 64 (cuda): $(python3 $T/compare.py /tmp/g1.txt /tmp/g64.txt 2>&1 | tr '\n' ' ')"
done

# ---- the issue's criteria on real-size heads: f32 logits within 1e-3 of the range; int8 top-1 and perplexity
criteria() { # label, model, bytes of text
    local label=$1 m=$2 b
    head -c "$3" engine/gguf.c >/tmp/ppl.txt
    for b in 64 1; do
        $O logits -m "$m" --ids "$ids" --backend cuda --weights f32 --kv f32 --batch $b >/tmp/got.txt 2>>"$LOG"
        $O logits -m "$m" --ids "$ids" --backend cpu --weights f32 --kv f32 --batch $b >/tmp/cpu.txt 2>>"$LOG"
        local r
        r=$(python3 $T/compare.py /tmp/got.txt /tmp/cpu.txt --max-range 1e-3 2>&1)
        row "$(verdict $?) f32 $label batch $b, cuda vs cpu: $r"
    done
    $O ppl -m "$m" -f /tmp/ppl.txt --json --top1 /tmp/t_cpu.txt --backend cpu >/tmp/p_cpu.json 2>>"$LOG"
    OCTET_ISA=avx2 $O ppl -m "$m" -f /tmp/ppl.txt --json --top1 /tmp/t_avx2.txt --backend cpu >/tmp/p_avx2.json 2>>"$LOG"
    $O ppl -m "$m" -f /tmp/ppl.txt --json --top1 /tmp/t_gpu.txt --backend cuda >/tmp/p_gpu.json 2>>"$LOG"
    python3 - "$label" "$T" <<'EOF' 2>&1 | tee -a "$SUM" >>"$LOG"
import json, subprocess, sys
label, t = sys.argv[1], sys.argv[2]
def ppl(p):
    try:
        return json.load(open(p))["ppl"]
    except Exception:
        return float("nan")
cpu, avx2, gpu = ppl("/tmp/p_cpu.json"), ppl("/tmp/p_avx2.json"), ppl("/tmp/p_gpu.json")
def agree(a, b):
    x = [l.strip() for l in open(a) if l.strip()]
    y = [l.strip() for l in open(b) if l.strip()]
    return 100.0 * sum(p == q for p, q in zip(x, y)) / len(x) if x and len(x) == len(y) else float("nan")
g, c = agree("/tmp/t_cpu.txt", "/tmp/t_gpu.txt"), agree("/tmp/t_cpu.txt", "/tmp/t_avx2.txt")
d = 100.0 * (gpu - cpu) / cpu
print(f"{'PASS' if g >= 99.0 else 'FAIL'} int8 {label}: top-1 cuda = cpu on {g:.2f}% of positions (>= 99%; the CPU's avx2"
      f" kernels = its best on {c:.2f}%)")
print(f"{'PASS' if abs(d) <= 0.5 else 'FAIL'} int8 {label}: perplexity cuda {gpu:.4f}, cpu {cpu:.4f} ({d:+.3f}%, within 0.5%;"
      f" cpu avx2 {avx2:.4f}, {100.0 * (avx2 - cpu) / cpu:+.3f}%)")
EOF
}
criteria "embedded model (head 64, GQA 3)" models/octet-code.gguf 9000
a=$($O run -m models/octet-code.gguf -p "def fibonacci(n):" -n 48 --temp 0 --backend cuda 2>>"$LOG")
b=$($O run -m models/octet-code.gguf -p "def fibonacci(n):" -n 48 --temp 0 --backend cpu 2>>"$LOG")
c=$(OCTET_ISA=avx2 $O run -m models/octet-code.gguf -p "def fibonacci(n):" -n 48 --temp 0 --backend cpu 2>>"$LOG")
row "greedy 48 tokens (information, not a criterion): cuda = cpu: $([ "$a" = "$b" ] && echo yes || echo no); cpu avx2 = cpu: $([ "$c" = "$b" ] && echo yes || echo no)"

# ---- the plugin: fallbacks, auto, the GPU plan
$O run -m models/octet-code.gguf -p "x" -n 2 --temp 0 --backend auto >/dev/null 2>/tmp/auto.err
row "auto with the GPU: stderr '$(head -c 200 /tmp/auto.err)' (empty: it took the GPU)"
OCTET_CUDA_PLUGIN=/nonexistent $O run -m models/octet-code.gguf -p "x" -n 2 --backend auto >/dev/null 2>/tmp/auto.err
row "auto, plugin hidden: rc $? '$(head -c 200 /tmp/auto.err)'"
OCTET_CUDA_PLUGIN=/nonexistent $O run -m models/octet-code.gguf -p "x" -n 2 --backend cuda >/dev/null 2>/tmp/auto.err
row "cuda, plugin hidden: rc $? '$(head -c 200 /tmp/auto.err)'"

# ---- compute-sanitizer on a short run (prefill in batches, then graph decode)
if command -v compute-sanitizer >/dev/null && left 400; then
    for tool in memcheck racecheck; do
        for f in tests/fixtures/tiny/llama_gqa_f16.gguf tests/fixtures/tiny/qwen2_gqa_f32.gguf; do
            OCTET_CUDA_PLUGIN=$PLUGIN timeout 100 compute-sanitizer --tool $tool --error-exitcode 9 "${SAN[@]}" logits \
                -m $f --ids "$ids" --backend cuda --weights int8 --kv int8 --batch 16 >/tmp/cs.txt 2>&1
            rc=$?
            row "$(verdict $rc) compute-sanitizer $tool $(basename $f .gguf) (int8, batch 16 then graph decode): rc $rc, $(grep -E 'SUMMARY' /tmp/cs.txt | tail -1)"
        done
    done
fi

wait $GEN_PID
[ -s $Q15 ] && left 330 && criteria "random qwen2.5-1.5b shape" $Q15 2500
[ -s $M ] || row "FAIL 7B model generation: $(tail -3 /tmp/gen.log)"
say "models ready"
[ -s $M ] && $O info -m $M --ctx 32768 2>&1 | sed -n '/^GPU plan/,$p' | tee -a "$SUM" >>"$LOG"

# ---- copy bandwidth
python3 - <<'EOF' 2>&1 | tee -a "$SUM" >>"$LOG"
import torch
n = 4 << 30
a = torch.empty(n, dtype=torch.uint8, device="cuda"); b = torch.empty_like(a)
a.random_(0, 255)
for _ in range(3): b.copy_(a)
s, e = torch.cuda.Event(True), torch.cuda.Event(True)
ts = []
for _ in range(10):
    s.record(); b.copy_(a); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
ts.sort()
print("copy d2d 4 GiB: %.0f GB/s (read+write, median of 10)" % (2 * n / ts[5] / 1e6))
EOF

# ---- octet bench on the 7B shape
B=$R/bench.jsonl
: >"$B"
bench() { # label, args...
    local label=$1
    shift
    left 60 || { row "skipped (time): $label"; return; }
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >/tmp/smi.txt 2>/dev/null &
    local sp=$! base
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    timeout 200 $O bench --json -m $M --backend cuda --weights int8 "$@" >/tmp/b.json 2>>"$LOG"
    local rc=$?
    kill $sp 2>/dev/null
    wait $sp 2>/dev/null
    local mx
    mx=$(sort -n /tmp/smi.txt | tail -1)
    printf '{"label": "%s", "rc": %d, "smi_base_mib": %s, "smi_max_mib": %s, "bench": %s}\n' "$label" $rc \
        "${base:-0}" "${mx:-0}" "$(cat /tmp/b.json 2>/dev/null || echo null)" >>"$B"
    row "octet $label: rc $rc, smi peak $((${mx:-0} - ${base:-0})) MiB over base, $(head -c 600 /tmp/b.json 2>/dev/null)"
}
llama() {
    if [ -s $M ] && [ -f .gpu/anchors/llama_side_by_side.sh ] && left 70; then
        for _ in $(seq 120); do
            [ -x /tmp/llama.cpp-anchor/cuda/build/bin/llama-batched-bench ] && break
            left 70 || break
            sleep 2
        done
        timeout $((BUDGET - SECONDS - 5)) bash .gpu/anchors/llama_side_by_side.sh cuda $M 32000 >$R/llama.txt 2>&1
        row "llama.cpp rc $?:"
        grep -E "^\|" $R/llama.txt | tee -a "$SUM" >>"$LOG"
    else
        row "llama.cpp: not run (no anchors carried, or time: $(tail -2 /tmp/llama_build.log 2>/dev/null | tr '\n' ' '))"
    fi
}
auto_hog() {
    left 45 || { row "skipped (time): auto with 60 GiB held"; return; }
    python3 -c "import torch,time; x=torch.empty(60<<30,dtype=torch.uint8,device='cuda'); print('held',flush=True); time.sleep(40)" >/tmp/hog.txt 2>&1 &
    HOG=$!
    for _ in $(seq 60); do
        grep -q held /tmp/hog.txt && break
        sleep 0.5
    done
    timeout 30 $O bench --json -m $M --backend auto --weights int8 --kv int8 --ctx 32768 --prompt 64 --gen 4 \
        --reps 1 >/tmp/b.json 2>/tmp/auto.err
    row "auto with 60 GiB held: rc $? $(head -c 300 /tmp/b.json) err '$(head -c 300 /tmp/auto.err)'"
    kill $HOG 2>/dev/null
    wait $HOG 2>/dev/null
}
if [ -s $M ]; then
    bench "short int8KV" --kv int8 --prompt 512 --batch 512 --gen 128 --reps 2
    bench "depth32K int8KV" --kv int8 --ctx 32768 --prompt 0 --depth 32640 --gen 128 --reps 1 --batch 2048
    bench "prefill32K int8KV" --kv int8 --ctx 32768 --prompt 32768 --batch 2048 --gen 0 --reps 1
    llama
    bench "short f16KV" --kv f16 --prompt 512 --batch 512 --gen 128 --reps 2
    bench "depth32K f16KV" --kv f16 --ctx 32768 --prompt 0 --depth 32640 --gen 128 --reps 1 --batch 2048
    bench "depth8K int8KV" --kv int8 --ctx 32768 --prompt 0 --depth 8192 --gen 128 --reps 1 --batch 2048
    auto_hog
fi
nvidia-smi --query-gpu=memory.used --format=csv >>"$LOG"
echo "==== summary"
cat "$SUM"
