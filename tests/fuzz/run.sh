#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined) in build/fuzz and
# fuzzes each for MINUTES minutes (default 10), JOBS targets at a time (default 1), niced, in
# libFuzzer's fork mode so a campaign goes on past a finding (each is saved, not fatal). New
# inputs that grow coverage land in build/fuzz/corpus/<target> (copy the interesting ones into
# tests/fuzz/corpus/<target>); crashes land in build/fuzz/crashes/<target>. CI never runs this:
# test_fuzz replays tests/fuzz/corpus through the same entry functions.
#   tests/fuzz/run.sh [--build-only] [--minutes M] [--jobs J] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/build/fuzz"
minutes=10 jobs=1 build_only=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(npy yaml_spec h5_loader metrics_json baseline_json plan_json mat predictions)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

cxx=${CXX_FUZZ:-clang++-14}
command -v "$cxx" >/dev/null || { echo "run.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# LibTorch is not instrumented; its headers need the old ABI flag Debian builds it with.
flags="-std=c++17 -O1 -g $san -DVLB_VERSION=\"fuzz\" -DVLB_SOURCE_DIR=\"$root\" -D_GLIBCXX_USE_CXX11_ABI=1"
incs="-I$root/core/include -I$root/datasets/include -I$root/experiments/include -I$root/reports/include
  -I$root/methods/include -I$root/metrics/include -I$root/tests/fuzz -I/usr/include/hdf5/serial
  -isystem /usr/include/torch/csrc/api/include"
# What the instrumented readers call beyond themselves (run configs, environment probing) is linked,
# uninstrumented, from the release build: `./vlb build` first.
rel="$root/build/release"
for l in experiments methods metrics datasets core; do
  [ -f "$rel/$l/libvlb_$l.a" ] || { echo "run.sh: $rel/$l/libvlb_$l.a missing: run ./vlb build first" >&2; exit 1; }
done
libs="$rel/experiments/libvlb_experiments.a $rel/methods/libvlb_methods.a $rel/metrics/libvlb_metrics.a
  $rel/datasets/libvlb_datasets.a $rel/core/libvlb_core.a -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -lmatio -lyaml-cpp -lfmt -lcrypto -ltorch -ltorch_cpu -lc10 -lz -lpthread"
srcs=("$root"/core/src/*.cpp "$root"/reports/src/*.cpp "$root"/experiments/src/{yaml_reader,predictions}.cpp
      "$root"/datasets/src/{dataset,npy,hdf5,feature_store,content_check,convert_xlsa17}.cpp
      "$root"/tests/fuzz/fuzz_entries.cpp)

mkdir -p "$out/obj"
objs=()
for s in "${srcs[@]}"; do
  o="$out/obj/$(echo "${s#$root/}" | tr / _).o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then
    echo "run.sh: compiling ${s#$root/}" >&2
    nice "$cxx" $flags $incs -fsanitize=fuzzer-no-link -c "$s" -o "$o"
  fi
  objs+=("$o")
done
for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  src="$root/tests/fuzz/targets/fuzz_$t.cpp"
  nice "$cxx" $flags $incs -fsanitize=fuzzer "$src" "${objs[@]}" $libs -o "$bin"
done
[ "$build_only" = 1 ] && exit 0

# ASan's leak check would flag LibTorch's and HDF5's process-lifetime allocations.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:suppressions=$root/tests/fuzz/asan.supp
export UBSAN_OPTIONS=print_stacktrace=1
export OMP_NUM_THREADS=1
fuzz_one() {
  local t=$1
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  /usr/bin/time -f "%U %S" -o "$out/$t.cpu" nice "$out/fuzz_$t" -max_total_time=$((minutes * 60)) -rss_limit_mb=4096 -max_len=65536 \
    -timeout=20 -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    "$out/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1 || true
  echo "run.sh: $t: $(grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$out/$t.log" | tr '\n' ' ')" \
       "cpu_s: $(awk '{print $1 + $2}' "$out/$t.cpu" 2>/dev/null)" \
       "crashes: $(ls "$out/crashes/$t" | wc -l)" >&2
}
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
