#!/usr/bin/env bash
# layers.sh - checks that every #include "..." of octet's sources goes down
# the floors (docs/architecture.md), never up or sideways across a wall:
#
#   base  <-  kernels  <-  engine  <-  rag  <-  presets  <-  serve  <-  flows  <-  tui, cli
#
# A floor may include its own headers and those of the floors below it, with
# these walls:
#   - kernels reach the engine only through its backend header (backend.h, and
#     errmsg.h, the error convention it is written with);
#   - the engine never includes kernels: it calls them through the backend table;
#   - rag knows nothing of the engine but errmsg.h and lazylib.h (the error
#     convention, and opening a library with dlopen);
#   - nothing outside engine/ includes the engine's internals (ENGINE_INTERNAL);
#   - a header whose first comment says "private to DIR/" or "internal to DIR/"
#     is included from DIR only;
#   - tui and cli never include each other, except that cli/main.c opens the TUI
#     through tui.h, its one public header;
#   - a header name lives in one floor only (includes are resolved through -I
#     flags, so a second one would silently shadow the first).
# Includes are resolved as the compiler does: the including file's folder, then
# the -I folders in the Makefile's order.
#
# Usage: tools/layers.sh [ROOT]   (default: the repository this script is in)
# Prints FILE:LINE: what is wrong, for every offending include; exit 1 if any.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

floors=(base kernels engine rag presets serve flows tui cli)
# The -I order of the Makefile.
search=(base engine kernels rag presets serve flows tui cli)
declare -A below=(
    [base]=""
    [kernels]="engine"
    [engine]="base"
    [rag]="base engine"
    [presets]="base engine"
    [serve]="base engine presets"
    [flows]="base engine rag presets serve"
    [tui]="base engine rag presets serve flows"
    [cli]="base engine rag presets serve flows"
)
KERNELS_MAY=" backend.h errmsg.h "
RAG_MAY=" errmsg.h lazylib.h "
ENGINE_INTERNAL=" backend.h smoothquant.h tok_pre.h "
# Known exceptions: "FILE HEADER", each with the reason it stands.
exceptions=(
    # the CUDA top-k is bounded by the sampler's SAMPLE_MAX_CANDIDATES
    "kernels/cuda/backend_cuda.cu sample.h"
    # --version names the CPU kernels; engine.h does not report the ISA yet
    "cli/main.c cpu/cpu_kernels.h"
)

bad=0
fail() { # file, line, message
    printf '%s:%s: %s\n' "$1" "$2" "$3"
    bad=$((bad + 1))
}

# The folder a header is private to, from its first comment ("" when public), in PRIV.
declare -A private_cache
private_to() {
    local h=$1
    if [ -z "${private_cache[$h]+x}" ]; then
        private_cache[$h]=$(head -n 6 "$h" | tr '\n' ' ' |
            sed -n 's/.*\([Pp]rivate\|[Ii]nternal\) to \([a-z_/]*\)\/.*/\2/p' | head -n 1)
    fi
    PRIV=${private_cache[$h]}
}

# One header name per floor.
declare -A seen_hdr
while IFS= read -r h; do
    name=${h##*/}
    rel=${h#*/}
    for key in "$name" "$rel"; do
        if [ -n "${seen_hdr[$key]+x}" ] && [ "${seen_hdr[$key]%%/*}" != "${h%%/*}" ]; then
            fail "$h" 1 "a header named $key is also in ${seen_hdr[$key]}: #include \"$key\" would find one of them by -I order"
        fi
        seen_hdr[$key]=$h
    done
done < <(find "${floors[@]}" -type f \( -name '*.h' -o -name '*.cuh' \) 2>/dev/null | sort)

resolve() { # including file, include name -> TARGET ("" when not found)
    local dir=${1%/*} name=$2 d
    TARGET=
    if [ -f "$dir/$name" ]; then
        TARGET=$dir/$name
        return
    fi
    for d in "${search[@]}"; do
        if [ -f "$d/$name" ]; then
            TARGET=$d/$name
            return
        fi
    done
}

is_exception() { # file, include name
    local e
    for e in "${exceptions[@]}"; do
        [ "$e" = "$1 $2" ] && return 0
    done
    return 1
}

inc_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)"'
while IFS= read -r f; do
    from=${f%%/*}
    while IFS=: read -r line inc; do
        [[ $inc =~ $inc_re ]] || continue
        name=${BASH_REMATCH[1]}
        resolve "$f" "$name"
        target=$TARGET
        if [ -z "$target" ]; then
            fail "$f" "$line" "#include \"$name\": no such header in its folder or any floor"
            continue
        fi
        to=${target%%/*}
        base=${target##*/}
        is_exception "$f" "$name" && continue
        private_to "$target"
        if [ -n "$PRIV" ] && [ "${f#"$PRIV"/}" = "$f" ]; then
            fail "$f" "$line" "#include \"$name\": $target is private to $PRIV/"
            continue
        fi
        [ "$to" = "$from" ] && continue
        # cli/main.c opens the TUI through its public header
        [ "$f" = cli/main.c ] && [ "$target" = tui/tui.h ] && continue
        if [[ " ${below[$from]} " != *" $to "* ]]; then
            case "$from/$to" in
            engine/kernels) why="the engine reaches kernels only through the backend table (backend.h)" ;;
            tui/cli | cli/tui) why="tui/ and cli/ never include each other (but cli/main.c may include tui.h)" ;;
            *) why="$from/ may not include $to/ (floors: ${floors[*]}; includes go down only)" ;;
            esac
            fail "$f" "$line" "#include \"$name\" ($target): $why"
            continue
        fi
        if [ "$to" = engine ]; then
            if [ "$from" = kernels ] && [[ "$KERNELS_MAY" != *" $base "* ]]; then
                fail "$f" "$line" "#include \"$name\": kernels reach the engine only through backend.h (and errmsg.h)"
            elif [ "$from" = rag ] && [[ "$RAG_MAY" != *" $base "* ]]; then
                fail "$f" "$line" "#include \"$name\": rag knows nothing of the engine but errmsg.h"
            elif [ "$from" != kernels ] && [[ "$ENGINE_INTERNAL" == *" $base "* ]]; then
                fail "$f" "$line" "#include \"$name\": $base is internal to the engine"
            fi
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
done < <(find "${floors[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) 2>/dev/null | sort)

if [ "$bad" -gt 0 ]; then
    echo "layers: $bad include(s) cross a floor the wrong way (see docs/architecture.md)"
    exit 1
fi
echo "layers: every include goes down the floors"
