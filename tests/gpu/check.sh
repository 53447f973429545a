#!/usr/bin/env bash
# Builds vlbench against a CUDA LibTorch and runs what has a GPU path, unattended, in under ten
# minutes on a 16-core machine: the GPU-labelled tests (tests/gpu: CUDA results against the
# CPU's, tolerances stated in each test), the neighbour and ICIS benchmarks, and one CODER sweep
# of real-data size on both devices. Needs a CUDA device and a Python whose torch is a CUDA
# build (its torch.utils.cmake_prefix_path is the LibTorch used).
#   tests/gpu/check.sh [python]        results under build/gpu/check/
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python3}
prefix=$("$PY" -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"; print(torch.utils.cmake_prefix_path)')
out=build/gpu/check
vlb=build/gpu/experiments/vlb
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
cmake --build build/gpu --target vlb > "$out/build.log" 2>&1 || { tail -60 "$out/build.log"; exit 1; }
nvidia-smi -L | tee "$out/device.txt"
status=0

# The CODER sweep (200 classes, 512 dimensions, a 20,000-text synthetic bank, 4,000 test rows).
# The CPU reference (2 threads: the 2-core machine) takes about five minutes, so it runs in the
# background on two of this machine's cores while the rest goes on; its wall time is its own.
coder_sets=(--set dataset.params.classes=200 --set dataset.params.dim=512 --set dataset.params.bank=20000
            --set dataset.params.test_per_class=20 --set runtime.seeds=[0] --no-progress)
coder() {  # coder DEVICE THREADS
  local t0; t0=$(date +%s%N)
  "$vlb" run experiments/specs/coder_synth.yaml --results "$out/coder_$1" "${coder_sets[@]}" \
    --set runtime.device="$1" --threads "$2" > "$out/coder_$1.log" 2>&1 || return 1
  echo "coder_synth (large) on $1: $(( ($(date +%s%N) - t0) / 1000000 )) ms" > "$out/coder_$1.time"
  "$vlb" report "$out/coder_$1/coder_synth" --print > "$out/coder_$1.leaderboard.txt" 2>&1
}
coder cpu 2 & cpu_sweep=$!

cmake --build build/gpu --target test_gpu test_coder bench_neighbours bench_icis \
  >> "$out/build.log" 2>&1 || { tail -60 "$out/build.log"; status=1; }
build/gpu/tests/test_gpu --gtest_output=json:"$out/test_gpu.json" || status=1
# The CPU suite's neighbour checks, on this build (the CUDA LibTorch's own CPU kernels).
build/gpu/tests/test_coder --gtest_filter='*Neighbour*:*Tiled*' || status=1
build/gpu/tests/bench_neighbours --benchmark_filter='Cuda' --benchmark_out="$out/bench_neighbours.json" \
  --benchmark_out_format=json || status=1
# ICIS has no GPU path (docs/performance.md, "On a GPU"): its CPU fit on this build, for the record.
build/gpu/tests/bench_icis --benchmark_filter='BM_IcisTrain/flo:0/reference:0' --benchmark_out="$out/bench_icis.json" \
  --benchmark_out_format=json || status=1
coder cuda 1 || status=1
wait "$cpu_sweep" || status=1
cat "$out"/coder_*.time | tee "$out/coder_times.txt" || status=1
echo "tests/gpu/check.sh: $( [ $status = 0 ] && echo passed || echo FAILED ); results in $out"
exit $status
