#!/usr/bin/env bash
# Packs the libraries vlbench builds against, other than LibTorch, into build/gpu-deps.tar.xz, for
# a GPU machine that has a compiler, CMake and a CUDA PyTorch but none of Debian's -dev packages
# and no way to install them. tests/gpu/check.sh unpacks it when it is there.
#   ./vlb build && tests/gpu/bundle_deps.sh      (on Debian bookworm, after third_party/setup.sh)
#
# Note [GPU dependency bundle]: the tarball mirrors /usr: the headers and static and shared
# libraries of the "# Libraries" packages in third_party/apt-packages.txt, with their CMake files
# (Debian's find their prefix from their own location, so they work under any root), and the
# shared libraries those need at run time, except glibc's and the compiler's own (libstdc++,
# libgcc_s, libgomp), which the GPU machine has in a version at least as new as bookworm's. Of Boost only the headers the Release build includes are taken (ninja's
# dependency log of build/release), a few megabytes of its hundred and fifty; the same log adds
# headers that come from no -dev package's file list (cblas.h, an alternatives link).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f build/release/.ninja_deps ] || { echo "bundle_deps.sh: build first (./vlb build)" >&2; exit 1; }
stage=build/gpu-deps
rm -rf "$stage" && mkdir -p "$stage"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

# Everything from LibTorch on comes from the CUDA PyTorch; the rest of the section is bundled.
mapfile -t pkgs < <(awk '/^# Libraries/{on=1; next} /^#/{on=0} on && NF && $1 != "libtorch-dev" {print $1}' \
                      third_party/apt-packages.txt)

# copy PATH: PATH under the stage at the same place, every link on the way to the file included.
copy() {
  local p=$1
  while :; do
    mkdir -p "$stage$(dirname "$p")"
    cp -P "$p" "$stage$p"
    [ -L "$p" ] || break
    local t; t=$(readlink "$p")
    [[ $t = /* ]] || t=$(dirname "$p")/$t
    p=$t
  done
}
usr_path() { local p; p=$(readlink -f "$1"); echo "${p/#\/lib\//\/usr\/lib\/}"; }

libs=()
for pkg in "${pkgs[@]}"; do
  while IFS= read -r f; do
    [ -f "$f" ] || [ -L "$f" ] || continue
    case "$f" in
      /usr/include/boost/*) ;;  # the subset below
      *hdf5*fortran*|*hdf5*_cpp*|*hdf5*hl*) ;;  # vlbench uses HDF5's C API only
      /usr/include/*|/usr/share/cmake/*|/usr/lib/$arch/cmake/*) copy "$f" ;;
      /usr/lib/*.so|/usr/lib/*.so.*) copy "$f"; libs+=("$(usr_path "$f")") ;;
      /usr/lib/*.a) [ -e "${f%.a}.so" ] || copy "$f" ;;  # static only where there is no shared
    esac
  done < <(dpkg -L "$pkg")
done
# Every header the Release build read that neither LibTorch nor the C and C++ toolchain
# provides: Boost's subset, and headers that reach no package's file list through an
# alternatives link (cblas.h), copied as files.
provided=$(mktemp)
dpkg -L libtorch-dev libc6-dev libstdc++-12-dev libgcc-12-dev linux-libc-dev libgoogle-glog-dev \
  libgflags-dev 2>/dev/null | sort -u > "$provided"
ninja -C build/release -t deps | sed -n 's|^ *\(/usr/include/.*\)|\1|p' | sort -u |
  comm -23 - "$provided" | while IFS= read -r h; do
    [ -e "$stage$h" ] || { mkdir -p "$stage$(dirname "$h")"; cp -L "$h" "$stage$h"; }
  done
rm -f "$provided"

# One include directory: the multiarch headers (OpenSSL's configuration) beside the rest, and
# HDF5's serial prefix as Debian lays it out (check.sh points HDF5_ROOT there).
cp -rn "$stage/usr/include/$arch/." "$stage/usr/include/" 2>/dev/null || true
ln -sfn ../../../../include/hdf5/serial "$stage/usr/lib/$arch/hdf5/serial/include"

# libblas.so.3 and liblapack.so.3 are alternatives; the bundle links them to OpenBLAS directly.
ob=/usr/lib/$arch/openblas-pthread
for l in libblas liblapack; do
  copy "$ob/$l.so.3"
  ln -sf "openblas-pthread/$l.so.3" "$stage/usr/lib/$arch/$l.so"
  ln -sf "openblas-pthread/$l.so.3" "$stage/usr/lib/$arch/$l.so.3"
  libs+=("$ob/$l.so.3")
done

# Run-time closure of the shared libraries, under their sonames.
base='^(libc|libm|libdl|librt|libpthread|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|libgomp)\.so'
for l in "${libs[@]}"; do
  ldd "$l" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
  [[ $soname =~ $base ]] && continue
  dest=$stage/usr/lib/$arch/$soname
  [ -e "$dest" ] || [ -e "$stage$(usr_path "$path")" ] || cp -L "$path" "$dest"
done

# The loader looks for sonames: a -dev package's libfoo.so may point past libfoo.so.N.
find "$stage/usr/lib" -type f -name '*.so*' | while IFS= read -r f; do
  so=$(objdump -p "$f" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
  [ -z "$so" ] || [ -e "$(dirname "$f")/$so" ] || ln -s "$(basename "$f")" "$(dirname "$f")/$so"
done

tar -C "$stage" -cJf build/gpu-deps.tar.xz usr
echo "bundle_deps.sh: build/gpu-deps.tar.xz, $(du -h build/gpu-deps.tar.xz | cut -f1) ($(du -sh "$stage" | cut -f1) unpacked)"
