#!/usr/bin/env bash
# deps.sh - installs the Debian packages octet needs to build and test, when
# any is missing. Shared by `make run` and `make test` (and so by CI): on a
# machine that has them all it only checks and prints nothing.
set -eu
pkgs=(
    build-essential pkg-config clang
    libpcre2-dev libsqlite3-dev libgit2-dev libncurses-dev libcjson-dev
    libmicrohttpd-dev libcurl4-openssl-dev libzstd-dev curl
    tmux git python3
)
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "octet: installing missing Debian packages: ${missing[*]}" >&2
sudo=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "octet: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
