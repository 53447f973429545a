// Runs trained together (Note [Trained together] in vlb/methods/method.h) against the same runs
// fitted one after the other, at 2 threads (docs/performance.md, "Trained together").
//
// BM_Together/<problem>/together:<0|1>: fits `members` runs and reports seconds for all of them.
//   problem 0: linear_probe (adam, 30 epochs, batch 256) on CLIP-sized synthetic features (512-d,
//              100 classes, 16 rows per class), an l2 grid of 6 values x 1 seed;
//   problem 1: the same, L-BFGS (300 iterations), 2 l2 values x 3 seeds;
//   problem 2: icis at the icis_ablation spec's settings (hidden 256, 300 epochs, base 30
//              epochs, 40 classes), 3 seeds x 2 hidden sizes;
//   problem 3: contrastive_heads (30 epochs) on synth_composition, 4 seeds.
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/datasets/synth.h"
#include "vlb/datasets/synth_composition.h"
#include "vlb/datasets/synth_gzsl.h"
#include "vlb/experiments/builtins.h"

namespace {

struct Problem {
  vlb::Dataset ds;
  std::string method, train_split;
  std::vector<std::pair<std::map<std::string, vlb::ParamValue>, uint64_t>> members;
};

Problem problem(int64_t which) {
  Problem p;
  using P = std::map<std::string, vlb::ParamValue>;
  if (which <= 1) {
    vlb::SynthOptions o;
    o.classes = 100;
    o.dim = 512;
    o.train_per_class = 16;
    o.test_per_class = 1;
    p.ds = vlb::generate_synth(o);
    p.method = "linear_probe";
    p.train_split = "train";
    if (which == 0) {
      for (double l2 : {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0})
        p.members.push_back({P{{"optimizer", std::string("adam")}, {"epochs", int64_t(30)},
                               {"l2", l2}}, 0});
    } else {
      for (double l2 : {1e-4, 1e-2})
        for (uint64_t seed : {0, 1, 2}) p.members.push_back({P{{"l2", l2}}, seed});
    }
  } else if (which == 2) {
    vlb::SynthGzslOptions o;
    o.classes = 40;
    o.unseen = 10;
    o.dim = 64;
    o.train_per_class = 20;
    o.test_per_class = 1;
    p.ds = vlb::generate_synth_gzsl(o);
    p.method = "icis";
    p.train_split = "trainval";
    for (int64_t hidden : {256, 512})
      for (uint64_t seed : {0, 1, 2})
        p.members.push_back({P{{"hidden", hidden}, {"lr", 1e-3}, {"epochs", int64_t(300)},
                               {"base_lr", 1e-3}, {"base_epochs", int64_t(30)},
                               {"inject_norm", std::string("seen_mean")}}, seed});
  } else {
    p.ds = vlb::generate_synth_composition(vlb::SynthCompositionOptions{});
    p.method = "contrastive_heads";
    p.train_split = "train";
    for (uint64_t seed : {0, 1, 2, 3}) p.members.push_back({P{}, seed});
  }
  return p;
}

void BM_Together(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  const bool together = state.range(1) != 0;
  const auto& e = vlb::builtins().methods.get(p.method);
  auto train = vlb::make_view(p.ds, p.train_split);
  for (auto _ : state) {
    const size_t n = p.members.size();
    std::vector<std::unique_ptr<vlb::Method>> methods;
    std::vector<vlb::RunContext> ctxs(n);
    std::vector<vlb::Method::Member> members;
    for (size_t i = 0; i < n; ++i) {
      vlb::Params params = e.schema.defaults();
      for (const auto& [k, v] : p.members[i].first) params.set(k, e.schema.check(k, v));
      methods.push_back(e.factory(params));
      ctxs[i].seed = p.members[i].second;
      ctxs[i].threads = 2;
      ctxs[i].generator = at::make_generator<at::CPUGeneratorImpl>(ctxs[i].seed);
      members.push_back({methods[i].get(), &train, &ctxs[i], {}});
    }
    at::set_num_threads(2);
    if (together) {
      methods[0]->fit_together(members);
    } else {
      for (auto& m : members) m.method->fit(*m.train, *m.ctx);
    }
  }
  state.counters["members"] = double(p.members.size());
}
BENCHMARK(BM_Together)
    ->ArgNames({"problem", "together"})
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1}})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
