# octet_bin.sh - sourced (not run) by quick.sh and exact.sh from the repository root: finds the
# octet to test and sets O (the command), PLUGIN (its octet-cuda.so) and SAN (the command as
# compute-sanitizer must start it: the bundle's loader, since /proc/self/exe is that loader there).
# The bundle .gpu/bundle.tar.xz (tools/gpu/bundle.sh) is unpacked into /tmp/gb every time, so that
# a warm machine never runs an earlier call's octet; else ./octet and ./octet-cuda.so of a build.
mkdir -p /tmp/gb
if [ -f .gpu/bundle.tar.xz ]; then
    tar -xJf .gpu/bundle.tar.xz -C /tmp/gb || exit 2
    O=/tmp/gb/b/octet
    PLUGIN=/tmp/gb/b/octet-cuda.so
    SAN=(/tmp/gb/b/lib/ld-linux-x86-64.so.2 --library-path /tmp/gb/b/lib:/usr/local/cuda/lib64 /tmp/gb/b/octet.bin)
elif [ -x ./octet ] && [ -f ./octet-cuda.so ]; then
    O=$(pwd)/octet
    PLUGIN=$(pwd)/octet-cuda.so
    SAN=("$O")
else
    echo "$(basename "$0"): no octet: run tools/gpu/bundle.sh (or make) first" >&2
    exit 2
fi
