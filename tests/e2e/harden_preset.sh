#!/usr/bin/env bash
# harden_preset.sh - issue 19, defect 1: `octet serve --preset` kept pointers
# (backend, calib) into a preset list freed before the engine opened, so the
# backend name read freed memory ("unknown backend '<garbage>'"). The server
# must start with the preset's backend, with and without user presets.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
L=tests/fixtures/tiny/llama_gqa_f16.gguf
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT
export OCTET_PRESET_DIR=$PWD/presets

run_case() { # NAME N_USER_PRESETS
    local name=$1 n=$2 cfg="$T_TMP/cfg$2"
    mkdir -p "$cfg/octet/presets"
    for i in $(seq 1 "$n"); do
        printf '[preset]\ndescription = user %s\npriority = %s\n[model]\npath = default\ncontext = 256\nbackend = cpu\n' \
            "$i" "$i" >"$cfg/octet/presets/user$i.ini"
    done
    # MALLOC_PERTURB_ fills freed memory, so a read after free shows without ASan too
    MALLOC_PERTURB_=165 XDG_CONFIG_HOME="$cfg" OCTET_MODEL="$L" serve_start "$T_TMP/log$n" --preset int8_memory --threads 1 --ctx 256
    if [ -n "$PORT" ] && grep -q "backend cpu" "$T_TMP/log$n"; then t_ok "$name"; else
        t_fail "$name" "$(head -c 400 "$T_TMP/log$n")"; fi
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    SPID=
}
run_case "serve --preset without user presets starts on the preset's backend" 0
for n in 2 3 5; do run_case "serve --preset with $n user presets starts on the preset's backend" "$n"; done
t_end
