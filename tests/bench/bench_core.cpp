// Google Benchmarks of the hot paths (run with `./vlb bench`; never gated in CI).
//  - BM_ScoreGemm: the [n, D] x [D, C] scoring GEMM every method ends with; on Debian's reference
//    BLAS it is ~17x slower than with OpenBLAS, so this number is the first thing to look at.
//  - BM_StableTopk vs BM_TorchTopk: the price of deterministic tie-breaking.
//  - BM_LinearProbeFit / BM_NcmFit: one baseline fit on the default synthetic dataset.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vlb/datasets/synth.h"
#include "vlb/experiments/builtins.h"
#include "vlb/methods/impl/ops.h"

namespace {

void BM_ScoreGemm(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(2)));
  auto x = torch::randn({state.range(0), 512});
  auto w = torch::randn({512, state.range(1)});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(x, w));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * state.range(0) * 512 * state.range(1),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_ScoreGemm)->ArgNames({"n", "C", "threads"})
    ->Args({4096, 1000, 1})->Args({4096, 1000, 2})->Args({4096, 20000, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StableTopk(benchmark::State& state) {
  at::set_num_threads(1);
  auto s = torch::randn({state.range(0), state.range(1)});
  for (auto _ : state) benchmark::DoNotOptimize(vlb::stable_topk(s, state.range(2)));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_TorchTopk(benchmark::State& state) {
  at::set_num_threads(1);
  auto s = torch::randn({state.range(0), state.range(1)});
  for (auto _ : state) benchmark::DoNotOptimize(torch::topk(s, state.range(2)));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StableTopk)->ArgNames({"n", "C", "k"})->Args({2048, 1000, 5})->Args({2048, 1000, 100})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TorchTopk)->ArgNames({"n", "C", "k"})->Args({2048, 1000, 5})->Args({2048, 1000, 100})
    ->Unit(benchmark::kMillisecond);

void fit_baseline(benchmark::State& state, const char* name) {
  at::set_num_threads(1);
  static const vlb::Dataset ds = vlb::generate_synth(vlb::SynthOptions{});
  const auto& entry = vlb::builtins().methods.get(name);
  auto train = vlb::make_view(ds, "train");
  for (auto _ : state) {
    auto m = entry.factory(entry.schema.defaults());
    m->fit(train, vlb::RunContext{});
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * train.size());
}
void BM_LinearProbeFit(benchmark::State& state) { fit_baseline(state, "linear_probe"); }
void BM_NcmFit(benchmark::State& state) { fit_baseline(state, "ncm"); }
BENCHMARK(BM_LinearProbeFit)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NcmFit)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
