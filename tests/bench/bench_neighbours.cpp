// Exact top-K inner-product search (methods/include/vlb/methods/neighbours.h): chunked LibTorch
// GEMM + stable top-k merge vs faiss IndexFlatIP, against the machine's measured sgemm throughput.
//  - BM_Sgemm: plain torch::mm of the same shape; its GFLOP/s is the machine's measured peak for
//    this problem (what "fraction of peak" below divides by).
//  - BM_TopK/<backend>: the full search; "GFLOP/s" counts only the 2 n M D multiply-adds, so
//    GFLOP/s(search) / GFLOP/s(BM_Sgemm) is the fraction of peak the search reaches (the rest is
//    the top-k selection and merging).
// Run: build/NAME/tests/bench/bench_neighbours --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vlb/methods/impl/neighbours.h"

namespace {

constexpr int64_t kDim = 512;

void set_counters(benchmark::State& state, int64_t n, int64_t M) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * M * kDim, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void BM_Sgemm(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(2)));
  auto q = torch::randn({state.range(0), kDim});
  auto bank = torch::randn({state.range(1), kDim});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(q, bank.t()));
  set_counters(state, state.range(0), state.range(1));
}

void BM_TopK(benchmark::State& state, vlb::NeighbourBackend backend) {
  at::set_num_threads(static_cast<int>(state.range(2)));
  auto q = torch::randn({state.range(0), kDim});
  auto bank = torch::randn({state.range(1), kDim});
  vlb::NeighbourOptions o;
  o.backend = backend;
  for (auto _ : state) benchmark::DoNotOptimize(vlb::topk_inner_product(q, bank, 64, o));
  set_counters(state, state.range(0), state.range(1));
}

// n queries x M bank rows x threads: the CODER real-data shape (4k images x 1.6k texts) and a
// bank of 100k texts.
#define SHAPES ArgNames({"n", "M", "threads"})->Args({4096, 1648, 1})->Args({4096, 1648, 2}) \
    ->Args({1024, 100000, 2})->Unit(benchmark::kMillisecond)->UseRealTime()
BENCHMARK(BM_Sgemm)->SHAPES;
BENCHMARK_CAPTURE(BM_TopK, torch, vlb::NeighbourBackend::kTorch)->SHAPES;
BENCHMARK_CAPTURE(BM_TopK, faiss, vlb::NeighbourBackend::kFaissFlat)->SHAPES;

}  // namespace

BENCHMARK_MAIN();
