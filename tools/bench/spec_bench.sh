#!/usr/bin/env bash
# Effective decode speed with and without speculative decoding (prompt
# lookup): builds tools/bench/spec_bench.c against BUILD/libengine.a (run
# make first), writes the prompt sets (tools/bench/spec_prompts.py: rename
# refactors of this repository's files whose answers are diffs, and plain
# code generation) and runs the benchmark on MODEL.
#
#   tools/bench/spec_bench.sh MODEL [BUILD_DIR] [-- BENCH_ARGS...]
#
# BENCH_ARGS go to both runs (e.g. --threads 2 -n 128 --reps 2). For the
# edit set, a model that can copy runs with --mode gen (real greedy output,
# identical with and without speculation); add --replay to run the edit set
# with the expected diffs forced instead (random-weight models). Measure on
# an idle machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?usage: spec_bench.sh MODEL [BUILD_DIR] [-- ARGS...]}
shift
build=build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
edit_mode=gen
args=()
for a in "$@"; do
    if [ "$a" = "--replay" ]; then edit_mode=replay; else args+=("$a"); fi
done
mkdir -p "$build/tools"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iengine -Ikernels -pthread \
    -o "$build/tools/spec_bench" tools/bench/spec_bench.c "$build/libengine.a" "$build/libbase.a" -lpcre2-8 -lm
prompts=$build/tools/spec_prompts
rm -rf "$prompts"
python3 tools/bench/spec_prompts.py "$prompts" >/dev/null
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## (a) edits: rename refactors as unified diffs"
"$build/tools/spec_bench" -m "$model" --dir "$prompts/edit" --mode "$edit_mode" "${args[@]}"
echo "## (b) plain code generation"
"$build/tools/spec_bench" -m "$model" --dir "$prompts/code" --mode gen "${args[@]}"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
