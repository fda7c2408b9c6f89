#!/usr/bin/env bash
# rag_bench.sh - retrieval benchmarks of issue 4 on a real repository: the
# Python standard library of this machine, committed into a temporary git
# repository. Measures `octet index` cold (3 runs) and incremental (nothing
# changed, one file touched, one file edited; 5 runs each), the chunker
# against universal-ctags (rag_chunkers.py), then retrieval quality against
# the plain baseline and query latency (rag_quality.py).
# Usage: tools/bench/rag_bench.sh [BUILD_DIR] [QUERIES]   (default: build 2000)
# Measure on an idle machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
queries=${2:-2000}
root=$PWD
make --no-print-directory BUILD="$build" OCTET_BIN="$build/octet" "$build/octet" "$build/librag.a" "$build/libengine.a" \
    "$build/libbase.a" >/dev/null
octet=$root/$build/octet
bench=$root/$build/tools/rag_bench
mkdir -p "$build/tools"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Ibase -Iengine -Irag -pthread \
    -o "$bench" tools/bench/rag_bench.c "$build/librag.a" "$build/libengine.a" "$build/libbase.a" \
    $(pkg-config --libs sqlite3 libgit2 libpcre2-8 libzstd) -lm

src=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
work=$(mktemp -d /tmp/octet-rag-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$work
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
repo=$work/stdlib
mkdir -p "$repo"
(cd "$src" && tar cf - --exclude=./site-packages --exclude=__pycache__ --exclude='./config-*' .) | tar xf - -C "$repo"
(cd "$repo" && git init -q . && git add -A && git commit -qm "Python standard library")

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $src: $(cd "$repo" && git ls-files | wc -l) tracked files, $(du -sh --exclude=.git "$repo" | cut -f1)"

now() { date +%s.%N; }
# run_index LABEL: one `octet index`, prints its report line and wall time
run_index() {
    local t0 t1 out
    t0=$(now)
    out=$("$octet" index --lexical --repo "$repo")
    t1=$(now)
    local secs files chunks size
    secs=$(sed -n 's/^time *\([0-9.]*\) s$/\1/p' <<<"$out")
    files=$(sed -n 's/^files *\([0-9]*\) (\([0-9]*\) changed.*/\1 \2/p' <<<"$out")
    size=$(sed -n 's/^database *\([0-9.]* [KMG]*i*B\).*/\1/p' <<<"$out")
    chunks=$(sed -n 's/^chunks *\([0-9]*\).*/\1/p' <<<"$out")
    printf '%-16s update %.3f s, wall %.3f s, files %s (indexed, changed), %s chunks, db %s\n' \
        "$1" "$secs" "$(echo "$t1 - $t0" | bc)" "$files" "$chunks" "$size"
    echo "$secs" >>"$work/$2"
}
median() { sort -g "$work/$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { sort -g "$work/$1" | tail -1; }

for i in 1 2 3; do
    rm -rf "$repo/.git/octet"
    run_index "cold $i" cold
done
indexed=$("$octet" index --lexical --repo "$repo" | sed -n 's/^files *\([0-9]*\).*/\1/p')
echo "cold index: median $(median cold) s = $(echo "$indexed / $(median cold)" | bc) files/s (target >= 1000)"
for i in 1 2 3 4 5; do run_index "no change $i" nochange; done
for i in 1 2 3 4 5; do
    sleep 1.1 # past the racy-timestamp window of the previous run
    touch "$repo/json/decoder.py"
    run_index "touch $i" touch
done
for i in 1 2 3 4 5; do
    echo "# benchmark edit $i" >>"$repo/json/decoder.py"
    run_index "edit $i" edit
done
echo "no-change update: median $(median nochange) s; touched file: median $(median touch) s;" \
    "edited file: median $(median edit) s, max $(maxof edit) s (target < 0.1 s)"

if command -v ctags >/dev/null && ctags --version 2>/dev/null | grep -q Universal; then
    python3 tools/bench/rag_chunkers.py --bench "$bench" --dir "$repo"
else
    echo "universal-ctags not installed (Debian: universal-ctags): chunker comparison skipped"
fi
python3 tools/bench/rag_quality.py --bench "$bench" --src "$src" --work "$work/quality" --queries "$queries"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
