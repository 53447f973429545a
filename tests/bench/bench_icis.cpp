// ICIS training cost (docs/performance.md, "ICIS training").
//
// BM_IcisTrain: one full fit() (base classifier, then the injector to its early stop) with the
// paper's Table-1 settings (joint, cosine, h 2048, batch 16, lr 1e-5, up to 1,000 epochs, slope
// early stop; base classifier lr 1e-4, 100 epochs) at two problem sizes:
//   synth50: `synth_gzsl` with classes 50 and the other generator defaults (10 unseen, 64-d
//            features, 32 attributes, 20 training rows per seen class);
//   flo:     the FLO shape as a synthetic stand-in: 102 classes (20 unseen), 512-d features
//            (CLIP ViT-B/32), 1024-d attributes (the FLO descriptors), 16 training rows per class.
// reference 1 trains with LibTorch autograd + torch::optim::Adam (the code before the fused
// steps), 0 with the fused steps (the default). Counters: epochs run, seconds per fit.
//
// BM_IcisTrainCuda: the same fit on a CUDA copy of the dataset, where the injector trains with
// autograd (the fused steps are host code); skipped without a CUDA device.
//
// BM_IcisOneEpoch: one injector epoch plus one base-classifier epoch at the sun_clip_gzsl size.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vlb/datasets/synth_gzsl.h"
#include "vlb/experiments/builtins.h"
#include "vlb/methods/icis.h"

namespace {

vlb::SynthGzslOptions problem(int64_t which) {
  vlb::SynthGzslOptions o;
  if (which == 0) {
    o.classes = 50;
  } else {
    o.classes = 102;
    o.unseen = 20;
    o.dim = 512;
    o.attributes = 1024;
    o.train_per_class = 16;
    o.test_per_class = 1;
  }
  return o;
}

void BM_IcisTrain(benchmark::State& state) {
  const int64_t threads = state.range(2);
  at::set_num_threads(int(threads));
  auto ds = vlb::generate_synth_gzsl(problem(state.range(0)));
  auto train = vlb::make_view(ds, "trainval");
  const auto& reg = vlb::builtins().methods;
  vlb::Params p = reg.get("icis").schema.defaults();  // Table-1 settings are the defaults
  vlb::RunContext ctx;
  vlb::icis::set_autograd_reference(state.range(1) != 0);
  double epochs = 0;
  for (auto _ : state) {
    at::manual_seed(0);
    auto m = reg.create("icis", p);
    m->fit(train, ctx);
    auto pred = m->predict(vlb::make_view(ds, "test"), ctx);
    epochs = double(pred.aux.at("epochs_run").item<int64_t>());
  }
  vlb::icis::set_autograd_reference(false);
  state.counters["epochs"] = epochs;
}
BENCHMARK(BM_IcisTrain)
    ->ArgNames({"flo", "reference", "threads"})
    ->ArgsProduct({{0, 1}, {1, 0}, {2}})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

void BM_IcisTrainCuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device visible to this LibTorch");
    return;
  }
  at::set_num_threads(1);
  const vlb::Dataset ds = vlb::to_device(vlb::generate_synth_gzsl(problem(state.range(0))), "cuda");
  auto train = vlb::make_view(ds, "trainval");
  const auto& reg = vlb::builtins().methods;
  vlb::Params p = reg.get("icis").schema.defaults();
  vlb::RunContext ctx;
  ctx.device = "cuda";
  {  // warm-up: CUDA context and cuBLAS handles
    vlb::Params one = p;
    one.set("epochs", int64_t(1));
    one.set("base_epochs", int64_t(1));
    reg.create("icis", one)->fit(train, ctx);
    torch::cuda::synchronize();
  }
  double epochs = 0;
  for (auto _ : state) {
    at::manual_seed(0);
    auto m = reg.create("icis", p);
    m->fit(train, ctx);
    auto pred = m->predict(vlb::make_view(ds, "test"), ctx);
    torch::cuda::synchronize();
    epochs = double(pred.aux.at("epochs_run").item<int64_t>());
  }
  state.counters["epochs"] = epochs;
}
BENCHMARK(BM_IcisTrainCuda)
    ->ArgNames({"flo"})
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

void BM_IcisOneEpoch(benchmark::State& state) {
  at::set_num_threads(1);
  vlb::SynthGzslOptions o;
  o.classes = 270;
  o.unseen = 20;
  o.dim = 512;
  o.attributes = 102;
  o.train_per_class = 20;
  o.test_per_class = 1;
  auto ds = vlb::generate_synth_gzsl(o);
  auto train = vlb::make_view(ds, "trainval");
  const auto& reg = vlb::builtins().methods;
  vlb::Params p = reg.get("icis").schema.defaults();
  p.set("hidden", int64_t(state.range(0)));
  p.set("epochs", int64_t(1));
  p.set("base_epochs", int64_t(1));
  vlb::RunContext ctx;
  for (auto _ : state) {
    at::manual_seed(0);
    auto m = reg.create("icis", p);
    m->fit(train, ctx);
  }
}
BENCHMARK(BM_IcisOneEpoch)->ArgNames({"hidden"})->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
