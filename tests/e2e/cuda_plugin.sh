#!/usr/bin/env bash
# cuda_plugin.sh - the CUDA backend is a plugin (octet-cuda.so) that octet
# opens with dlopen only when a GPU is asked for (engine/be_cuda_plugin.c):
# octet links no CUDA library, commands that need no GPU never load one, and
# with the plugin missing or unloadable --backend auto runs on the CPU with a
# one-line reason while --backend cuda fails (exit 1) naming what is missing.
# Runs on any machine; the GPU cases themselves are tools/gpu/test.sh's.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
L=tests/fixtures/tiny/llama_gqa_f16.gguf
RUN=(run -m "$L" -p "int main" -n 4 --temp 0)

if ldd "$OCTET" | grep -qE 'libcudart|libcublas'; then
    t_fail "octet links no CUDA library" "$(ldd "$OCTET" | grep -E 'libcudart|libcublas')"
else t_ok "octet links no CUDA library"; fi

# what the dynamic loader opens for commands that need no GPU
libs_loaded() { LD_DEBUG=libs "$@" 2>&1 >/dev/null | grep -E 'calling init: .*(libcudart|libcublas|octet-cuda)'; }
if [ ! -e /dev/nvidiactl ]; then
    if out=$(libs_loaded "$OCTET" --version); then t_fail "--version loads no CUDA library" "$out"
    else t_ok "--version loads no CUDA library"; fi
    if out=$(libs_loaded "$OCTET" "${RUN[@]}" --backend auto); then t_fail "auto without a GPU loads no CUDA library" "$out"
    else t_ok "auto without a GPU loads no CUDA library"; fi
fi

# the plugin hidden
export OCTET_CUDA_PLUGIN=/nonexistent/octet-cuda.so
t_expect "--version without the plugin" 0 "$OCTET" --version
t_grep "--version names the missing plugin" '^cuda backend: none \(.*/nonexistent/octet-cuda.so.*\); --backend auto uses the CPU$' "$T_TMP/out"
t_expect "auto without the plugin runs" 0 "$OCTET" "${RUN[@]}" --backend auto
cp "$T_TMP/out" "$T_TMP/auto.txt"
t_grep "auto says why, in one line" '^octet run: --backend auto uses the CPU: .*/nonexistent/octet-cuda.so' "$T_TMP/err"
n=$(wc -l <"$T_TMP/err")
if [ "$n" -eq 1 ]; then t_ok "one line"; else t_fail "one line" "$n lines"; fi
t_expect "cpu gives the same text" 0 "$OCTET" "${RUN[@]}" --backend cpu
if cmp -s "$T_TMP/out" "$T_TMP/auto.txt"; then t_ok "auto = cpu"; else t_fail "auto = cpu"; fi
t_expect "cuda without the plugin fails" 1 "$OCTET" "${RUN[@]}" --backend cuda
t_grep "cuda names the plugin" 'octet run: .*/nonexistent/octet-cuda.so.*does not exist' "$T_TMP/err"

# octet info --ctx N: the GPU plan, here without a GPU
t_expect "info --ctx shows the GPU plan" 0 "$OCTET" info -m "$L" --ctx 4096
t_grep "GPU plan heading" '^GPU plan \(--backend cuda, int8 weights \+ int8 KV, passes of up to [0-9]+ tokens\)$' "$T_TMP/out"
t_grep "GPU plan KV for the context" '^  KV cache \(4096 tokens\) +[0-9.]+ [KMG]iB' "$T_TMP/out"
t_grep "GPU plan total" '^  total +[0-9.]+ [KMG]iB' "$T_TMP/out"
t_grep "GPU plan says why there is no GPU" '^  no usable GPU: .+' "$T_TMP/out"
# the plan's total is weights + KV + activations
sum=$(awk '/^GPU plan/ {p=1} p && /bytes\)$/ { gsub(/[()]/, ""); v[$1]=$(NF-1) } END { print (v["weights"] + v["KV"] + v["activations"] == v["total"]) ? "ok" : "bad" }' "$T_TMP/out")
if [ "$sum" = ok ]; then t_ok "GPU plan total = weights + KV + activations"; else t_fail "GPU plan total" "$(grep -A5 '^GPU plan' "$T_TMP/out")"; fi
t_expect "info --ctx 2x" 0 "$OCTET" info -m "$L" --ctx 8192
kv8=$(awk '/^  KV cache \(8192 tokens\)/ { gsub(/[()]/, ""); print $(NF-1) }' "$T_TMP/out")
"$OCTET" info -m "$L" --ctx 4096 >"$T_TMP/out4" 2>/dev/null
kv4=$(awk '/^  KV cache \(4096 tokens\)/ { gsub(/[()]/, ""); print $(NF-1) }' "$T_TMP/out4")
if [ -n "$kv4" ] && [ "$kv8" = $((2 * kv4)) ]; then t_ok "GPU plan KV grows with --ctx"; else t_fail "GPU plan KV grows with --ctx" "$kv4 -> $kv8"; fi

# a file that is no plugin (as a broken or foreign build would be)
printf 'not an ELF file\n' >"$T_TMP/octet-cuda.so"
export OCTET_CUDA_PLUGIN=$T_TMP/octet-cuda.so
t_expect "cuda with an unloadable plugin fails" 1 "$OCTET" "${RUN[@]}" --backend cuda
t_grep "the loader's reason" 'cannot be loaded.*octet-cuda.so' "$T_TMP/err"
unset OCTET_CUDA_PLUGIN

# the real plugin beside octet, when this build made one (nvcc present)
P=$(dirname "$OCTET")/octet-cuda.so
if [ -f "$P" ]; then
    if nm -D --defined-only "$P" | grep -qw octet_cuda_plugin; then t_ok "plugin exports octet_cuda_plugin"
    else t_fail "plugin exports octet_cuda_plugin"; fi
    t_expect "--version finds the plugin" 0 "$OCTET" --version
    t_grep "--version names it" "^cuda backend: .*octet-cuda.so \(loaded only when a GPU is used\)$" "$T_TMP/out"
    if [ ! -e /dev/nvidiactl ]; then
        t_expect "cuda without a GPU fails" 1 "$OCTET" "${RUN[@]}" --backend cuda
        t_grep "cuda says no GPU" 'octet run: no CUDA GPU found' "$T_TMP/err"
    fi
fi
t_end
