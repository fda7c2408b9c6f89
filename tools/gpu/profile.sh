#!/usr/bin/env bash
# profile.sh - where a decode step's time goes: Nsight Compute (the device has ncu, not nsys) over
# 300 kernels of `octet bench`'s decode on the random Qwen2.5-Coder-7B shape (int8 weights, int8
# KV, short context), each kernel's time, DRAM bytes read and DRAM throughput against the card's
# peak, summed by kernel name. One device call of a few minutes with the model's generation.
#   device: bash tools/gpu/profile.sh          (carry .gpu: the bundle of tools/gpu/bundle.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=${OUT:-/tmp/profile}
M=/tmp/q7.gguf
mkdir -p "$R"
source tools/gpu/octet_bin.sh
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "no ncu"; exit 2; }
[ -s $M ] || python3 tools/gen_tiny.py --shape qwen2.5-7b --type f16 --fill fast --out $M >/dev/null || exit 2
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$R/profile.txt"
# 16 prompt tokens, then decode steps: skipping the first 3000 kernels lands well inside the decode
OCTET_CUDA_PLUGIN=$PLUGIN timeout 400 "$NCU" --launch-skip 3000 --launch-count 300 --csv --metrics \
    gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
    "${SAN[@]}" bench -m $M --backend cuda --weights int8 --kv int8 --prompt 16 --gen 64 --reps 1 \
    >"$R/ncu.csv" 2>"$R/ncu.err"
echo "ncu rc $?" | tee -a "$R/profile.txt"
python3 - "$R/ncu.csv" <<'PY' | tee -a "$R/profile.txt"
import csv, sys, collections
lines = [l for l in open(sys.argv[1]) if l.startswith('"')]
rows = list(csv.DictReader(lines))
agg = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0])
unit = {}
for r in rows:
    a = agg[r["Kernel Name"][:90]]
    v = float(r["Metric Value"].replace(",", ""))
    m = r["Metric Name"]
    unit[m] = r["Metric Unit"]
    if m == "gpu__time_duration.sum":
        a[0] += 1; a[1] += v
    elif m == "dram__bytes_read.sum":
        a[2] += v
    else:
        a[3] += v
print("units:", unit)
tot = sum(a[1] for a in agg.values())
for k, a in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print("%5.1f%% %5d x %8.2f %s avg, read %10.0f %s avg, DRAM %4.1f%% of peak  %s"
          % (100 * a[1] / tot, a[0], a[1] / a[0], unit.get("gpu__time_duration.sum"), a[2] / a[0],
             unit.get("dram__bytes_read.sum"), a[3] / a[0], k))
PY
