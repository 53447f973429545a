// SARL's semantic decoupling, forward and forward+backward, against the rank d: one minibatch of
// 32 images on a 14x14 grid (CLIP RN101 at 448², the lineage's size) with C_f = 512 and the 20
// VOC categories, 1 thread. The tiled custom backward (tile = 4 categories) is the method's path.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vlb/methods/sarl.h"

namespace {

struct Inputs {
  at::Tensor F, X, U, V, w;
};
Inputs make(int64_t d, bool grad) {
  torch::manual_seed(0);
  Inputs in{torch::randn({32, 196, 512}), torch::randn({20, 300}), torch::randn({512, d}) * 0.04,
            torch::randn({300, d}) * 0.06, torch::randn({d}) * 0.05};
  if (grad) {
    in.U.requires_grad_();
    in.V.requires_grad_();
    in.w.requires_grad_();
  }
  return in;
}

void BM_DecoupleForward(benchmark::State& state) {
  at::set_num_threads(1);
  Inputs in = make(state.range(0), false);
  torch::NoGradGuard ng;
  for (auto _ : state) {
    auto r = vlb::sarl::semantic_decouple(in.F, in.X, in.U, in.V, in.w, 4);
    benchmark::DoNotOptimize(r.features.data_ptr<float>());
  }
}

void BM_DecoupleForwardBackward(benchmark::State& state) {
  at::set_num_threads(1);
  Inputs in = make(state.range(0), true);
  for (auto _ : state) {
    auto r = vlb::sarl::semantic_decouple(in.F, in.X, in.U, in.V, in.w, 4);
    r.features.sum().backward();
    benchmark::DoNotOptimize(in.U.grad().data_ptr<float>());
  }
}

BENCHMARK(BM_DecoupleForward)->ArgNames({"rank"})->Arg(32)->Arg(128)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecoupleForwardBackward)->ArgNames({"rank"})->Arg(32)->Arg(128)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
