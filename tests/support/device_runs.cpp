#include "device_runs.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "test_support.h"
#include "vlb/core/registry.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/run_options.h"

namespace vlb::test {

std::vector<std::string> device_methods() {
  std::vector<std::string> out;
  for (const auto& name : builtins().methods.names())
    if (has_tag(builtins().methods.get(name).tags, "device:cuda")) out.push_back(name);
  return out;
}

std::vector<std::string> device_specs() {
  // The research sweeps on synthetic maps (sarl_rank*) read real label files and take minutes.
  return {"coder_synth", "composition_synth", "example_knn", "icis_synth", "near_synth",
          "probe_l2_grid", "quickstart", "sarl_synth"};
}

std::vector<PlannedRun> device_runs(const std::string& spec, const std::string& cache_dir) {
  RunOptions o;
  o.results_root = cache_dir;
  const Plan plan =
      make_plan(std::string(VLB_SOURCE_DIR) + "/experiments/specs/" + spec + ".yaml", o, builtins());
  const std::vector<std::string> tagged = device_methods();
  std::vector<PlannedRun> out;
  std::set<std::string> seen;
  for (const auto& r : plan.runs)
    if (std::count(tagged.begin(), tagged.end(), r.config.method) &&
        r.config.seed == plan.runs.front().config.seed &&
        seen.insert(resolved_config_yaml(r.config)).second)
      out.push_back(r);
  return out;
}

Prediction fit_predict(const RunConfig& c, const Dataset& cpu, const Dataset& on) {
  auto m = builtins().methods.create(c.method, c.method_params);
  RunContext ctx;
  ctx.seed = c.seed;
  ctx.device = on.features.device().str();
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(c.seed);
  at::manual_seed(c.seed);
  DataView train = sample_shots(make_view(cpu, c.train_split), c.shots, c.seed);
  m->fit(rebase(train, on), ctx);
  return m->predict(rebase(make_view(cpu, c.eval_split), on), ctx);
}

void for_each_device_run(
    const std::string& spec, const std::string& device,
    const std::function<void(const PlannedRun&, const Prediction&,
                             const std::function<Prediction()>&)>& check) {
  TempDir cache;
  const auto runs = device_runs(spec, cache.path());
  EXPECT_FALSE(runs.empty()) << spec << " has no run of a method tagged device:cuda";
  for (const auto& r : runs) {
    SCOPED_TRACE(r.config.method + " (run " + std::to_string(r.index) + " of " + spec + ")");
    const Dataset on = to_device(*r.dataset, device);
    const Prediction cpu = fit_predict(r.config, *r.dataset, *r.dataset);
    check(r, cpu, [&] { return fit_predict(r.config, *r.dataset, on); });
  }
}

void for_each_result(const Prediction& got, const Prediction& want,
                     const std::function<void(const std::string&, const at::Tensor&,
                                              const at::Tensor&)>& same) {
  same("scores", got.scores, want.scores);
  for (const auto& [name, t] : want.aux) {
    auto it = got.aux.find(name);
    if (it == got.aux.end()) {
      ADD_FAILURE() << "aux " << name << " missing";
      continue;
    }
    same("aux " + name, it->second, t);
  }
}

}  // namespace vlb::test
