#!/usr/bin/env bash
# Builds vlbench against a CUDA LibTorch and runs what has a GPU path: the GPU-labelled tests
# (tests/gpu: CUDA results against the CPU's, tolerances stated in each test) and the neighbour
# and ICIS benchmarks, unattended, in a few minutes. Needs a CUDA device and a Python whose torch
# is a CUDA build (its torch.utils.cmake_prefix_path is the LibTorch used).
#   tests/gpu/check.sh [python]        results under build/gpu/check/
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python3}
prefix=$("$PY" -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"; print(torch.utils.cmake_prefix_path)')
out=build/gpu/check
mkdir -p "$out"
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
cmake --build build/gpu --target test_gpu test_coder bench_neighbours bench_icis \
  > "$out/build.log" 2>&1 || { tail -60 "$out/build.log"; exit 1; }
nvidia-smi -L | tee "$out/device.txt"
status=0
build/gpu/tests/test_gpu --gtest_output=json:"$out/test_gpu.json" || status=1
# The CPU suite's neighbour checks, on this build (the CUDA LibTorch's own CPU kernels).
build/gpu/tests/test_coder --gtest_filter='*Neighbour*:*Tiled*' || status=1
build/gpu/tests/bench_neighbours --benchmark_out="$out/bench_neighbours.json" --benchmark_out_format=json || status=1
build/gpu/tests/bench_icis --benchmark_filter='BM_IcisTrain/flo:0' --benchmark_out="$out/bench_icis.json" \
  --benchmark_out_format=json || status=1
echo "tests/gpu/check.sh: $( [ $status = 0 ] && echo passed || echo FAILED ); results in $out"
exit $status
