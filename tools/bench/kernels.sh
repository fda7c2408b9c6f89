#!/usr/bin/env bash
# Builds tools/bench/kernels_bench.c with the CPU kernels (kernels/cpu/cpu_*.c,
# same flags as the Makefile's) and runs it; arguments go to the benchmark
# (see --help). Usage: tools/bench/kernels.sh [BUILD_DIR] [-- BENCH_ARGS...]
# Measure on an idle machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
mkdir -p "$build/tools"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iengine -Ikernels -pthread \
    -o "$build/tools/kernels_bench" tools/bench/kernels_bench.c kernels/cpu/cpu_*.c -lm
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/tools/kernels_bench" "$@"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
