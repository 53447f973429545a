#!/usr/bin/env bash
# Installs the Debian packages listed in apt-packages.txt that are missing.
# Idempotent, and silent when nothing is missing. Needs root (or sudo) on Debian bookworm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -v '^\s*#' "$here/apt-packages.txt" | awk 'NF{print $1}')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "vlb setup: installing ${#missing[@]} Debian package(s): ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Note [OpenBLAS]: libtorch-dev links the generic libblas.so.3; with the reference BLAS a large GEMM
# is ~17x slower. Make sure the alternative points at OpenBLAS (the package usually does this).
if [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  $sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || true
fi
echo "vlb setup: done" >&2
