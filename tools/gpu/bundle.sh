#!/usr/bin/env bash
# bundle.sh - build octet and its CUDA backend plugin (octet-cuda.so) on THIS
# machine and pack them, with every shared library they need except the GPU
# driver and the CUDA libraries, into .gpu/bundle.tar.xz for the device
# machine. That machine has
# nvcc but none of the Debian -dev packages octet links (libgit2, SQLite,
# ncurses, libmicrohttpd, libcurl...) and cannot install any, so octet is
# built here and run there through the bundled dynamic loader, which also
# makes it independent of the device's C library.
#
#   bash tools/gpu/bundle.sh          then carry .gpu with the device call
#
# test.sh and bench.sh use the bundle when .gpu/bundle.tar.xz exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${GPU_BUNDLE_BUILD:-build-bundle}
make -j"$(nproc)" BUILD="$BUILD" OCTET_BIN="$BUILD/octet" CUDA=1 "$BUILD/octet" "$BUILD/octet-cuda.so" >/dev/null
excl=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$excl")"
grep -qx '/.gpu/' "$excl" 2>/dev/null || echo '/.gpu/' >>"$excl"
rm -rf .gpu/b && mkdir -p .gpu/b/lib
cp "$BUILD/octet" .gpu/b/octet.bin
cp "$BUILD/octet-cuda.so" .gpu/b/octet-cuda.so
# debug information stays here: the device call carries 64 MiB in all
strip --strip-debug .gpu/b/octet.bin .gpu/b/octet-cuda.so
# the shipped presets: octet looks for them next to /proc/self/exe, which is
# the bundled loader here, so the wrapper names them (the TUI's /preset)
cp -r presets .gpu/b/presets
# the libraries octet opens with dlopen when first used (engine/lazylib.h,
# rag/gitlib.h), which ldd cannot see in the binary; libgit2's soname is the
# one of the headers octet was built with
git2=libgit2.so.$(sed -n 's/^#define LIBGIT2_SOVERSION *"\(.*\)"/\1/p' "$(pkg-config --variable=includedir libgit2)/git2/version.h")
lazy=()
for l in libcurl.so.4 libmicrohttpd.so.12 "$git2"; do
    lazy+=("$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ {print $NF; exit}')")
done
# every library ldd resolves, except the driver and CUDA's (the device has its own)
{
    ldd "$BUILD/octet" "$BUILD/octet-cuda.so" "${lazy[@]}" | awk '/=>/ {print $3} /ld-linux/ && !/=>/ {print $1}'
    printf '%s\n' "${lazy[@]}"
} | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
    libcuda.so* | libcublas* | libcudart*) ;;
    *) cp -L "$lib" .gpu/b/lib/ ;;
    esac
done
cat >.gpu/b/octet <<'EOF'
#!/usr/bin/env bash
# octet through the bundled loader and libraries, CUDA's libraries from the device.
# /proc/self/exe is the loader here, so the plugin is named explicitly.
d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OCTET_CUDA_PLUGIN=${OCTET_CUDA_PLUGIN-$d/octet-cuda.so}
export OCTET_PRESET_DIR=${OCTET_PRESET_DIR-$d/presets}
cuda=/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
for p in $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(q, "cu13", "lib") for q in nvidia.__path__))' 2>/dev/null); do
    cuda=$cuda:$p
done
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib:$cuda:/usr/lib/x86_64-linux-gnu:/usr/lib64" "$d/octet.bin" "$@"
EOF
chmod +x .gpu/b/octet
tar -cf - -C .gpu b | xz -9 -T0 >.gpu/bundle.tar.xz
rm -rf .gpu/b
echo "bundle: .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1)); carry .gpu"
