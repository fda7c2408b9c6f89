#!/usr/bin/env bash
# bench.sh - the CUDA backend's speed and memory on a random Qwen2.5-Coder-7B-shape
# model (issue 7, item 5). Generates the model (f16, fast fill) unless it is there,
# then runs `octet bench --json` with INT8 weights: prefill of 512 tokens and decode
# from an empty cache, decode at depths 1K..32K (INT8 and f16 KV), and prefill of a
# 32K prompt.
# Writes bench.csv, decode_vs_depth.png, bench.log and bench-summary.txt (into $OUT
# when set, else the build folder) and prints a table against the issue's targets
# last. Exit status 1 when a run failed.
#
#   bash tools/gpu/bench.sh
#
# Environment (and common.sh's GPU_BUILD, GPU_MAKE_ARGS, GPU_TMP, OUT):
#   BENCH_BACKEND        cuda (default); cpu for a dry run of the plumbing
#   BENCH_SHAPE          gen_tiny.py shape (default qwen2.5-7b)
#   BENCH_LONG           the long context: prompt of the long prefill, --ctx of the
#                        depth runs (default 32768)
#   BENCH_DEPTHS         decode depths below BENCH_LONG (default "1024 2048 4096 8192 16384");
#                        the deepest point, BENCH_LONG - BENCH_GEN, is always added
#   BENCH_GEN            tokens decoded per measurement (default 128)
#   BENCH_PREFILL_BATCH  --batch of the long prefill (default 2048)
set -uo pipefail
LOG_NAME="bench.log"
# shellcheck source=tools/gpu/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BACKEND=${BENCH_BACKEND:-cuda}
SHAPE=${BENCH_SHAPE:-qwen2.5-7b}
LONG=${BENCH_LONG:-32768}
GEN=${BENCH_GEN:-128}
DEPTHS="${BENCH_DEPTHS:-1024 2048 4096 8192 16384} $((LONG - GEN))"
PREFILL_BATCH=${BENCH_PREFILL_BATCH:-2048}
MODEL=$GPU_TMP/octet-$SHAPE-fast.gguf
RUNS=$WORK/runs.jsonl
failed=0

# smi_used : nvidia-smi's memory.used of the first GPU in MiB, "null" without nvidia-smi
smi_used() {
    local v
    v=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
    echo "${v:-null}"
}

# bench TEST KV DEPTH PROMPT GEN CTX BATCH REPS : one `octet bench --json` run (CTX, BATCH 0:
# octet's defaults), recorded in $RUNS (see bench_report.py) with the most memory nvidia-smi saw
# in use meanwhile
bench() {
    local test=$1 kv=$2 depth=$3 prompt=$4 gen=$5 ctx=$6 batch=$7 reps=$8 base smi_pid="" max=null rc
    local args=(bench --json -m "$MODEL" --backend "$BACKEND" --weights int8 --kv "$kv" --depth "$depth"
        --prompt "$prompt" --gen "$gen" --reps "$reps")
    [ "$ctx" -gt 0 ] && args+=(--ctx "$ctx")
    [ "$batch" -gt 0 ] && args+=(--batch "$batch")
    base=$(smi_used)
    if [ "$base" != null ]; then
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$WORK/smi.txt" 2>/dev/null &
        smi_pid=$!
    fi
    say "bench: $test, $kv KV, depth $depth, prompt $prompt, gen $gen, ctx $ctx, batch $batch"
    octet_to "$WORK/bench.json" 540 "${args[@]}"
    rc=$?
    if [ -n "$smi_pid" ]; then
        kill "$smi_pid" 2>/dev/null
        wait "$smi_pid" 2>/dev/null
        max=$(sort -n "$WORK/smi.txt" | tail -1)
    fi
    cat "$WORK/bench.json" >>"$LOG"
    [ "$rc" -eq 0 ] && [ -s "$WORK/bench.json" ] || failed=1
    printf '{"test": "%s", "kv": "%s", "depth": %d, "prompt": %d, "gen": %d, "ctx": %d, "batch": %d, ' \
        "$test" "$kv" "$depth" "$prompt" "$gen" "$ctx" "$batch" >>"$RUNS"
    printf '"rc": %d, "smi_base_mib": %s, "smi_max_mib": %s, "bench": %s}\n' "$rc" "$base" "${max:-null}" \
        "$([ "$rc" -eq 0 ] && [ -s "$WORK/bench.json" ] && cat "$WORK/bench.json" || echo null)" >>"$RUNS"
}

t_start=$SECONDS
say "bench.sh: $SHAPE, backend $BACKEND, depths $DEPTHS, long $LONG"
gpu_build || { say "build failed (end of $LOG)"; tail -30 "$LOG"; exit 1; }
gen_shape "$SHAPE" "$MODEL" || { say "gen_tiny.py failed (see $LOG)"; exit 1; }

# short context, one run per KV format: prefill of 512 tokens in one batch, then tg$GEN from an
# empty cache, with octet's default ctx (what the tests need)
for kv in int8 f16; do
    bench short "$kv" 0 512 "$GEN" 0 512 3
done
bench prefill_long int8 0 "$LONG" 0 0 "$PREFILL_BATCH" 2
# decode against depth: every run allocates the whole long context (as a user's session would);
# the depth is filled by prefill in octet's default batch, so the VRAM is that of normal use
for kv in int8 f16; do
    for d in $DEPTHS; do
        bench depth "$kv" "$d" 0 "$GEN" "$LONG" 0 2
    done
done

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
title="random $SHAPE, INT8 weights, backend $BACKEND, ${gpu:-no GPU}, $(date -u +%Y-%m-%d)"
say "bench.sh: runs done in $((SECONDS - t_start)) s"
python3 tools/gpu/bench_report.py "$RUNS" --csv "$RESULTS_DIR/bench.csv" --png "$RESULTS_DIR/decode_vs_depth.png" \
    --title "$title" | tee "$RESULTS_DIR/bench-summary.txt"
report=$?
echo "files: $RESULTS_DIR/bench.csv $RESULTS_DIR/decode_vs_depth.png $LOG"
[ "$failed" -eq 0 ] && [ "$report" -eq 0 ]
