// Exact top-K inner-product search (methods/include/vlb/methods/impl/neighbours.h): the tiled
// kernel (default), chunked LibTorch GEMM + stable top-k merge and faiss IndexFlatIP, against the
// machine's measured sgemm throughput.
//  - BM_Sgemm: plain torch::mm of the same shape; its GFLOP/s is the machine's measured peak for
//    this problem.
//  - BM_TopK/<backend>: the full search; "GFLOP/s" counts only the 2 n M D multiply-adds, and
//    "of_sgemm" divides it by the sgemm rate of the same shape and thread count measured once in
//    this process (the rest of the time is selection and merging).
//  - BM_TopKCuda: the same search with queries and bank on a CUDA device (the chunked torch path,
//    the one a device takes), synchronised after each search; skipped without a device.
//    "x_cpu" divides its rate by BM_TopK/tiled's at 2 threads, measured in the same process.
// "threads" sets both LibTorch's threads and OpenBLAS's own (at::set_num_threads does not reach
// OpenBLAS, so without it a "1 thread" GEMM would use every core).
// Run: build/NAME/tests/bench/bench_neighbours --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <map>
#include <tuple>

#include "vlb/methods/impl/neighbours.h"

namespace {

constexpr int64_t kDim = 512;
constexpr int64_t kTopK = 64;

using Clock = std::chrono::steady_clock;

double flop(int64_t n, int64_t M) { return 2.0 * n * M * kDim; }

void set_threads(int t) {
  at::set_num_threads(t);
  vlb::set_blas_num_threads(t);
}

void set_counters(benchmark::State& state, int64_t n, int64_t M) {
  state.counters["GFLOP/s"] = benchmark::Counter(flop(n, M), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// Seconds per call of `f`: one warm-up, then repeats for >= 1 s and at least `min_reps`.
template <class F>
double seconds_per_call(F f, int min_reps) {
  benchmark::DoNotOptimize(f());
  int reps = 0;
  const auto t0 = Clock::now();
  double s = 0;
  do {
    benchmark::DoNotOptimize(f());
    ++reps;
    s = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (s < 1.0 || reps < min_reps);
  return s / reps;
}

// GFLOP/s of torch::mm for this shape and thread count, measured once per process.
double sgemm_gflops(int64_t n, int64_t M, int threads) {
  static std::map<std::tuple<int64_t, int64_t, int>, double> measured;
  auto key = std::make_tuple(n, M, threads);
  if (auto it = measured.find(key); it != measured.end()) return it->second;
  set_threads(threads);
  auto q = torch::randn({n, kDim});
  auto bank = torch::randn({M, kDim});
  return measured[key] = flop(n, M) / seconds_per_call([&] { return torch::mm(q, bank.t()); }, 3) / 1e9;
}

void BM_Sgemm(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(2)));
  auto q = torch::randn({state.range(0), kDim});
  auto bank = torch::randn({state.range(1), kDim});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(q, bank.t()));
  set_counters(state, state.range(0), state.range(1));
}

void BM_TopK(benchmark::State& state, vlb::NeighbourBackend backend) {
  const int64_t n = state.range(0), M = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const double peak = sgemm_gflops(n, M, threads);
  set_threads(threads);
  auto q = torch::randn({n, kDim});
  auto bank = torch::randn({M, kDim});
  vlb::NeighbourOptions o;
  o.backend = backend;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(vlb::topk_inner_product(q, bank, kTopK, o));
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  set_counters(state, n, M);
  state.counters["sgemm_GFLOP/s"] = peak;
  state.counters["of_sgemm"] = flop(n, M) * static_cast<double>(state.iterations()) / seconds / 1e9 / peak;
}

// Seconds of one tiled search at 2 threads, the 2-core CPU the device is compared with.
double cpu_tiled_seconds(int64_t n, int64_t M) {
  static std::map<std::pair<int64_t, int64_t>, double> measured;
  if (auto it = measured.find({n, M}); it != measured.end()) return it->second;
  set_threads(2);
  auto q = torch::randn({n, kDim});
  auto bank = torch::randn({M, kDim});
  return measured[{n, M}] = seconds_per_call([&] { return vlb::topk_inner_product(q, bank, kTopK); }, 2);
}

void BM_TopKCuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device visible to this LibTorch");
    return;
  }
  const int64_t n = state.range(0), M = state.range(1);
  const double cpu_s = cpu_tiled_seconds(n, M);
  auto q = torch::randn({n, kDim}).cuda();
  auto bank = torch::randn({M, kDim}).cuda();
  benchmark::DoNotOptimize(vlb::topk_inner_product(q, bank, kTopK));  // warm-up (cuBLAS handles)
  torch::cuda::synchronize();
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(vlb::topk_inner_product(q, bank, kTopK));
    torch::cuda::synchronize();
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  set_counters(state, n, M);
  state.counters["x_cpu"] = cpu_s * static_cast<double>(state.iterations()) / seconds;
}

// n queries x M bank rows x threads: the CODER real-data shape (4k images x 1.6k texts) and a
// bank of 100k texts.
#define SHAPES ArgNames({"n", "M", "threads"})->Args({4096, 1648, 1})->Args({4096, 1648, 2}) \
    ->Args({1024, 100000, 1})->Args({1024, 100000, 2})->Unit(benchmark::kMillisecond)->UseRealTime()
BENCHMARK(BM_Sgemm)->SHAPES;
BENCHMARK_CAPTURE(BM_TopK, tiled, vlb::NeighbourBackend::kTiled)->SHAPES;
BENCHMARK_CAPTURE(BM_TopK, faiss, vlb::NeighbourBackend::kFaissFlat)->SHAPES;
BENCHMARK_CAPTURE(BM_TopK, torch, vlb::NeighbourBackend::kTorch)->SHAPES;
BENCHMARK(BM_TopKCuda)->ArgNames({"n", "M"})->Args({4096, 1648})->Args({1024, 100000})
    ->Args({4096, 100000})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
