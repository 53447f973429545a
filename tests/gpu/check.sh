#!/usr/bin/env bash
# Builds vlbench against a CUDA LibTorch and runs what has a GPU path, unattended, in under ten
# minutes on a 16-core machine: the GPU-labelled tests (tests/gpu: CUDA results against the
# CPU's, tolerances stated in each test), the CUDA neighbour benchmark, the ICIS benchmark (a CPU
# path, for the record) and one CODER sweep of real-data size on both devices.
#   tests/gpu/check.sh [--build-only] [python]      results under build/gpu/check/
# The LibTorch is the one of `python`'s torch (torch.utils.cmake_prefix_path), or $TORCH_PREFIX.
# Where the machine has none of Debian's -dev packages, make build/gpu-deps.tar.xz first on a
# bookworm machine (tests/gpu/bundle_deps.sh) and bring it along: it is unpacked and used.
# --build-only configures and builds (no CUDA device needed) and stops.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_only=0
[ "${1:-}" = --build-only ] && { build_only=1; shift; }
PY=${1:-python3}
prefix=${TORCH_PREFIX:-$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
out=build/gpu/check
vlb=build/gpu/experiments/vlb
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE
{ c++ --version | head -1; cmake --version | head -1; echo "LibTorch: $prefix"; } | tee "$out/toolchain.txt"

search=$prefix  # CMAKE_PREFIX_PATH
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
run=()  # how our binaries are started: with the bundle's libraries where there is one
if [ -f build/gpu-deps.tar.xz ]; then
  deps=$PWD/build/gpu-deps
  arch=x86_64-linux-gnu
  rm -rf "$deps" && mkdir -p "$deps"
  if command -v xz > /dev/null; then tar -C "$deps" -xJf build/gpu-deps.tar.xz
  else "$PY" -m tarfile -e build/gpu-deps.tar.xz "$deps"; fi
  lib=$deps/usr/lib/$arch
  # Note [GPU dependency bundle] in bundle_deps.sh. HDF5 and OpenSSL are found by CMake's own
  # modules, which look in fixed places, so they are named; the rest have relocatable configs.
  # The linker looks for a library's own needs (OpenBLAS behind libblas.so) on -rpath-link.
  search="$prefix;$deps/usr"
  cmake_args+=(-DHDF5_ROOT="$lib/hdf5/serial" -DOPENSSL_INCLUDE_DIR="$deps/usr/include"
               -DOPENSSL_CRYPTO_LIBRARY="$lib/libcrypto.so" -DOPENSSL_SSL_LIBRARY="$lib/libssl.so"
               -DBLAS_LIBRARIES="$lib/libblas.so" -DLAPACK_LIBRARIES="$lib/liblapack.so"
               -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$lib:$lib/openblas-pthread")
  run=(env "LD_LIBRARY_PATH=$lib:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  echo "dependencies: build/gpu-deps.tar.xz" | tee -a "$out/toolchain.txt"
fi
cmake -S . -B build/gpu -G Ninja -DCMAKE_PREFIX_PATH="$search" "${cmake_args[@]}" \
  > "$out/configure.log" 2>&1 ||
  { tail -60 "$out/configure.log"; exit 1; }
cmake --build build/gpu -j "$(nproc)" --target vlb test_gpu test_coder bench_neighbours bench_icis \
  > "$out/build.log" 2>&1 || { grep -m20 -B2 -A8 "error" "$out/build.log" || tail -60 "$out/build.log"; exit 1; }
if [ $build_only = 1 ]; then
  "${run[@]}" build/gpu/tests/test_gpu --gtest_brief=1 && echo "tests/gpu/check.sh: built"
  exit
fi
"$PY" -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"'
nvidia-smi -L | tee "$out/device.txt"
status=0

# The CODER sweep: 200 classes, 512 dimensions, a 20,000-text synthetic bank, 4,000 test rows,
# 4 shots. The CPU reference (2 threads: the 2-core machine) takes about two minutes and runs on
# two of this machine's cores beside the GPU work below, which keeps one core busy.
coder_sets=(--set dataset.params.classes=200 --set dataset.params.dim=512 --set dataset.params.bank=20000
            --set dataset.params.test_per_class=20 --set runtime.seeds=[0] --set 'sweep.grid={dataset.shots: [4]}'
            --no-progress)
coder() {  # coder DEVICE THREADS
  local t0; t0=$(date +%s%N)
  "${run[@]}" "$vlb" run experiments/specs/coder_synth.yaml --results "$out/coder_$1" "${coder_sets[@]}" \
    --set runtime.device="$1" --threads "$2" > "$out/coder_$1.log" 2>&1 || return 1
  echo "coder_synth (large) on $1: $(( ($(date +%s%N) - t0) / 1000000 )) ms" > "$out/coder_$1.time"
  "${run[@]}" "$vlb" report "$out/coder_$1/coder_synth" --print > "$out/coder_$1.leaderboard.txt" 2>&1
}
coder cpu 2 & cpu_sweep=$!

"${run[@]}" build/gpu/tests/test_gpu --gtest_output=json:"$out/test_gpu.json" || status=1
# The CPU suite's neighbour checks, on this build (the CUDA LibTorch's own CPU kernels).
"${run[@]}" build/gpu/tests/test_coder --gtest_filter='*Neighbour*:*Tiled*' --gtest_brief=1 || status=1
"${run[@]}" build/gpu/tests/bench_neighbours --benchmark_filter='Cuda' \
  --benchmark_out="$out/bench_neighbours.json" --benchmark_out_format=json || status=1
# ICIS on the synth50 problem: the fused CPU fit on this build, and the autograd fit on CUDA.
"${run[@]}" build/gpu/tests/bench_icis --benchmark_filter='BM_IcisTrain/flo:0/reference:0|BM_IcisTrainCuda/flo:0' \
  --benchmark_out="$out/bench_icis.json" --benchmark_out_format=json || status=1
coder cuda 1 || status=1
wait "$cpu_sweep" || status=1
cat "$out"/coder_*.time | tee "$out/coder_times.txt" || status=1
echo "tests/gpu/check.sh: $( [ $status = 0 ] && echo passed || echo FAILED ); results in $out"
exit $status
