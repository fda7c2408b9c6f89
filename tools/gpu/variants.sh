#!/usr/bin/env bash
# variants.sh - the decode-speed variants of the CUDA backend against each
# other in ONE device call (docs/cuda.md, "Decode speed"): each switch
# (OCTET_CUDA_PDL, OCTET_CUDA_FUSE, OCTET_CUDA_EXACT, OCTET_CUDA_SPLITS)
# checked against the CPU on the tiny models, timed on the random
# Qwen2.5-Coder-7B shape beside the plain path, then the kernels' own
# checks and timings (tools/gpu/gemv_bench.cu, attn_check.cu), the
# issue's exactness measures on the embedded model (top-1 agreement and
# perplexity against the CPU), and compute-sanitizer on the fused path.
# Stages are skipped once the budget (VARIANTS_BUDGET_S, default 540 s) is
# near; VARIANTS_SHORT=1 keeps a few minutes' worth (fewer tiny-model
# formats, the main 7B runs, attn_check without its timing). The summary is
# printed last.
#
#   bash tools/gpu/variants.sh
#   QUICK_ROOT=. VARIANTS_SRC=.gpu/src bash .gpu/variants.sh
#       (the device tool, from another checkout: carry .gpu holding the bundle of
#       tools/gpu/bundle.sh, this script with compare.py and top1.py beside it, and
#       under src/ the kernels/cuda, engine/*.h and tools/gpu/*.cu of this branch)
set -uo pipefail
T=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # compare.py, top1.py
cd "${QUICK_ROOT:-$T/../..}"
S=${VARIANTS_SRC:-.}                              # the kernel sources the benches build
R=${OUT:-/tmp/variants}
BUDGET=${VARIANTS_BUDGET_S:-540}
mkdir -p "$R" /tmp/gb
LOG=$R/variants.log
SUM=$R/summary.txt
: >"$SUM"
say() { echo "[$SECONDS s] $*" | tee -a "$LOG"; }
row() { printf '%s\n' "$*" | tee -a "$SUM" >>"$LOG"; }
left() { [ $((BUDGET - SECONDS)) -gt "$1" ]; }

tar -xJf .gpu/bundle.tar.xz -C /tmp/gb || exit 2
O=/tmp/gb/b/octet
{ nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm,clocks.mem --format=csv; $O --version; } 2>&1 | tee -a "$LOG"
row "card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), $(date -u +%Y-%m-%dT%H:%MZ)"

# ---- in the background (CPU only): the 7B model, the kernel benches
M=/tmp/q7.gguf
(python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M.part >/tmp/gen.log 2>&1 &&
    mv $M.part $M) &
GEN_PID=$!
NV="nvcc -O3 -std=c++17 -arch=sm_90 -I$S/engine -I$S/kernels -I$S/kernels/cuda"
($NV $S/tools/gpu/gemv_bench.cu $S/kernels/cuda/cu_matmul.cu -lcublasLt -o /tmp/gemv_bench >/tmp/nvcc1.log 2>&1) &
NV1_PID=$!
($NV $S/tools/gpu/attn_check.cu $S/kernels/cuda/cu_attn.cu -o /tmp/attn_check >/tmp/nvcc2.log 2>&1) &
NV2_PID=$!

NEW="OCTET_CUDA_PDL=1 OCTET_CUDA_FUSE=1 OCTET_CUDA_EXACT=1 OCTET_CUDA_SPLITS=auto"
OLD="OCTET_CUDA_PDL=0 OCTET_CUDA_FUSE=0 OCTET_CUDA_EXACT=0 OCTET_CUDA_SPLITS=0"

# ---- 1. the tiny models: CUDA against the CPU, plain and with every switch
ids="1 5 9 12 3 7 2 8 11 4 6 10 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 40 41 42 43 44 45 46 47"
SHORT=${VARIANTS_SHORT:-0}
CFGS=("int8 int8 1" "int8 int8 64" "int8 f16 1" "f32 f32 1" "f32 f32 64" "int8 f32 64")
[ "$SHORT" = 1 ] && CFGS=("int8 int8 1" "int8 int8 64" "f32 f32 1")
for f in tests/fixtures/tiny/*.gguf; do
    n=$(basename "$f" .gguf)
    for cfg in "${CFGS[@]}"; do
        set -- $cfg
        $O logits -m "$f" --ids "$ids" --backend cpu --weights "$1" --kv "$2" --batch "$3" >/tmp/cpu.txt 2>>"$LOG"
        line=""
        for v in old new; do
            env $([ $v = new ] && echo "$NEW" || echo "$OLD") $O logits -m "$f" --ids "$ids" --backend cuda \
                --weights "$1" --kv "$2" --batch "$3" >/tmp/got.txt 2>>"$LOG" || { line+=" $v: FAILED"; continue; }
            line+=" $v: $(python3 $T/compare.py /tmp/got.txt /tmp/cpu.txt 2>&1 | tr '\n' ' ')"
        done
        row "$(printf 'tiny %-24s w=%-4s kv=%-4s batch=%-2s vs cpu:%s' "$n" "$1" "$2" "$3" "$line")"
    done
done
# the fusions keep every rounding: the embedded model (head size 64, GQA) gives the
# plain path's logits bit for bit with PDL and FUSE (EXACT changes roundings on purpose)
E=models/octet-code.gguf
for b in 1 64; do
    env $OLD $O logits -m $E --ids "$ids" --backend cuda --batch $b >/tmp/plain.txt 2>>"$LOG"
    env $OLD OCTET_CUDA_PDL=1 OCTET_CUDA_FUSE=1 $O logits -m $E --ids "$ids" --backend cuda --batch $b \
        >/tmp/fused.txt 2>>"$LOG"
    row "embedded int8 batch $b: pdl+fuse $(cmp -s /tmp/plain.txt /tmp/fused.txt && echo "= plain, bit for bit" ||
        echo "DIFFERS from plain: $(python3 $T/compare.py /tmp/fused.txt /tmp/plain.txt)")"
done
say "tiny models done"

# ---- 2. the kernels' own checks and timings, while the 7B model is written
wait $NV1_PID $NV2_PID
if [ -x /tmp/gemv_bench ] && left 110; then
    timeout $([ "$SHORT" = 1 ] && echo 45 || echo 120) /tmp/gemv_bench >$R/gemv_bench.txt 2>&1
    row "gemv_bench exit $?:"
    grep -E '^(ok  |FAIL|time |step |copy |weights|[0-9]+ check)' $R/gemv_bench.txt | awk '!seen[$0]++' |
        tee -a "$SUM" >>"$LOG"
else
    row "gemv_bench: not run ($(tail -3 /tmp/nvcc1.log 2>/dev/null | tr '\n' ' '))"
fi
if [ -x /tmp/attn_check ] && left 100; then
    ACK=()
    [ "$SHORT" = 1 ] && ACK=(--no-bench)
    timeout $([ "$SHORT" = 1 ] && echo 50 || echo 200) /tmp/attn_check "${ACK[@]}" >$R/attn_check.txt 2>&1
    row "attn_check exit $?: $(grep -E '^checks:' $R/attn_check.txt)"
    grep -E "FAIL|worst decode" $R/attn_check.txt | head -40 | tee -a "$SUM" >>"$LOG"
    grep -E "^decode|^prefill" $R/attn_check.txt | tee -a "$SUM" >>"$LOG"
else
    row "attn_check: not run ($(tail -3 /tmp/nvcc2.log 2>/dev/null | tr '\n' ' '))"
fi

# ---- 3. the 7B shape: decode and prefill, each variant
wait $GEN_PID
[ -s $M ] || row "FAIL 7B model generation: $(tail -3 /tmp/gen.log)"
B=$R/bench.jsonl
: >"$B"
bench() { # label, env, args...
    local label=$1 envs=$2
    shift 2
    left 45 || { row "skipped (time): $label"; return; }
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >/tmp/smi.txt 2>/dev/null &
    local sp=$! base
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    env $envs timeout 150 $O bench --json -m $M --backend cuda --weights int8 "$@" >/tmp/b.json 2>>"$LOG"
    local rc=$?
    kill $sp 2>/dev/null
    wait $sp 2>/dev/null
    local mx
    mx=$(sort -n /tmp/smi.txt | tail -1)
    printf '{"label": "%s", "env": "%s", "rc": %d, "smi_base_mib": %s, "smi_max_mib": %s, "bench": %s}\n' "$label" \
        "$envs" $rc "${base:-0}" "${mx:-0}" "$(cat /tmp/b.json 2>/dev/null || echo null)" >>"$B"
    row "$(python3 - "$label" "$rc" "$((${mx:-0} - ${base:-0}))" <<'EOF'
import json, sys
label, rc, smi = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    b = json.load(open("/tmp/b.json"))
except Exception:
    print(f"bench {label:<34} rc {rc}: no JSON"); sys.exit()
print(f"bench {label:<34} rc {rc}: decode {b['decode_tok_s']:8.1f} tok/s  prefill {b['prefill_tok_s']:9.1f} tok/s"
      f"  scratch {b['scratch_bytes']/2**30:.2f} GiB  total {(b['weights_bytes']+b['kv_bytes']+b['scratch_bytes'])/2**30:.2f} GiB"
      f"  smi +{smi} MiB")
EOF
)"
}
if [ -s $M ]; then
    A512="--kv int8 --prompt 512 --batch 512 --gen 128 --reps 2"
    bench "short plain" "$OLD" $A512
    bench "short all (pdl fuse exact splits)" "$NEW" $A512
    if [ "$SHORT" != 1 ]; then
        bench "short pdl" "$OLD OCTET_CUDA_PDL=1" $A512
        bench "short fuse" "$OLD OCTET_CUDA_FUSE=1" $A512
        bench "short pdl+fuse" "OCTET_CUDA_PDL=1 OCTET_CUDA_FUSE=1 OCTET_CUDA_EXACT=0 OCTET_CUDA_SPLITS=0" $A512
    fi
    DEEP="--kv int8 --ctx 32768 --prompt 0 --depth 32640 --gen 128 --reps 1 --batch 2048"
    bench "depth32K plain" "$OLD" $DEEP
    bench "depth32K all (+ one-wave splits)" "$NEW" $DEEP
    bench "depth32K pdl+fuse" "OCTET_CUDA_PDL=1 OCTET_CUDA_FUSE=1 OCTET_CUDA_EXACT=0 OCTET_CUDA_SPLITS=0" $DEEP
    [ "$SHORT" != 1 ] &&
        bench "prefill32K plain batch 2048" "$OLD" --kv int8 --ctx 32768 --prompt 32768 --batch 2048 --gen 0 --reps 1
    bench "prefill32K all batch 2048" "$NEW" --kv int8 --ctx 32768 --prompt 32768 --batch 2048 --gen 0 --reps 1
    # which cuBLASLt algorithms the prefill products get (IMMA for int8?)
    [ "$SHORT" != 1 ] && OCTET_CUDA_LT_LOG=1 timeout 60 $O bench -m $M --backend cuda --weights int8 --kv int8 --prompt 512 --batch 512 \
        --gen 0 --reps 1 2>&1 >/dev/null | grep "octet cuBLASLt" | sort -u | tee -a "$SUM" >>"$LOG"
    if [ "$SHORT" != 1 ]; then
        bench "short f16KV plain" "$OLD" --kv f16 --prompt 512 --batch 512 --gen 128 --reps 2
        bench "short f16KV all" "$NEW" --kv f16 --prompt 512 --batch 512 --gen 128 --reps 2
    fi
fi
say "7B benches done"

# ---- 4. the issue's exactness measures on the embedded model: CPU against CUDA
if left 60; then
    head -c 9000 engine/gguf.c >/tmp/ppl.txt
    E=models/octet-code.gguf
    for wk in "int8 int8" "f32 f32"; do
        set -- $wk
        $O ppl -m $E -f /tmp/ppl.txt --weights $1 --kv $2 --json --top1 /tmp/t_cpu.txt --backend cpu >/tmp/p_cpu.json 2>>"$LOG"
        OCTET_ISA=avx2 $O ppl -m $E -f /tmp/ppl.txt --weights $1 --kv $2 --json --top1 /tmp/t_avx2.txt --backend cpu \
            >/tmp/p_avx2.json 2>>"$LOG"
        line="cpu $(cat /tmp/p_cpu.json) | cpu avx2 $(cat /tmp/p_avx2.json) $(python3 $T/top1.py /tmp/t_cpu.txt /tmp/t_avx2.txt)"
        for v in old new; do
            env $([ $v = new ] && echo "$NEW" || echo "$OLD") $O ppl -m $E -f /tmp/ppl.txt --weights $1 --kv $2 --json \
                --top1 /tmp/t_$v.txt --backend cuda >/tmp/p_$v.json 2>>"$LOG"
            line+=" | cuda $v $(cat /tmp/p_$v.json) $(python3 $T/top1.py /tmp/t_cpu.txt /tmp/t_$v.txt)"
        done
        row "ppl embedded w=$1 kv=$2: $line"
    done
    for v in old new; do
        a=$(env $([ $v = new ] && echo "$NEW" || echo "$OLD") $O run -m $E -p "def fibonacci(n):" -n 48 --temp 0 --backend cuda 2>>"$LOG")
        b=$($O run -m $E -p "def fibonacci(n):" -n 48 --temp 0 --backend cpu 2>>"$LOG")
        row "greedy 48 tokens cuda $v = cpu: $([ "$a" = "$b" ] && echo yes || echo "NO")"
    done
fi

# ---- 5. compute-sanitizer on the fused decode path
if command -v compute-sanitizer >/dev/null && left 70; then
    for tool in memcheck racecheck; do
        env $NEW OCTET_CUDA_PLUGIN=/tmp/gb/b/octet-cuda.so timeout 60 compute-sanitizer --tool $tool --error-exitcode 9 \
            /tmp/gb/b/lib/ld-linux-x86-64.so.2 --library-path /tmp/gb/b/lib:/usr/local/cuda/lib64 /tmp/gb/b/octet.bin \
            logits -m tests/fixtures/tiny/qwen2_gqa_f32.gguf --ids "$ids" --backend cuda --weights int8 --kv int8 \
            --batch 1 >/tmp/cs.txt 2>&1
        rc=$?
        row "compute-sanitizer $tool (all switches, graph decode): rc $rc, $(grep -E 'SUMMARY' /tmp/cs.txt | tail -1)"
    done
fi
nvidia-smi --query-gpu=memory.used --format=csv >>"$LOG"
echo "==== summary"
cat "$SUM"
