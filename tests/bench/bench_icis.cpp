// One ICIS training epoch at the sun_clip_gzsl size (about 270 classes, 512-d CLIP features,
// 102-d attributes, official h = 2048, batch 16): fit() with epochs = 1 and base_epochs = 1, so
// the time is one injector epoch plus one base-classifier epoch over 20 rows per seen class.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vlb/datasets/synth_gzsl.h"
#include "vlb/experiments/builtins.h"

namespace {

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
