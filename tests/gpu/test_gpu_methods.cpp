// Every method tagged device:cuda (Note [Devices] in experiments/src/device.cpp), fitted and
// asked for scores on a CUDA copy of a dataset, against the same method on the CPU. Skips where
// LibTorch sees no CUDA device; tests/gpu/check.sh runs it on a CUDA build.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "vlb/core/registry.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/datasets/synth_textbank.h"
#include "vlb/experiments/builtins.h"

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to this LibTorch"

std::vector<std::string> cuda_methods() {
  std::vector<std::string> out;
  for (const auto& name : vlb::builtins().methods.names())
    if (vlb::has_tag(vlb::builtins().methods.get(name).tags, "device:cuda")) out.push_back(name);
  return out;
}

vlb::Prediction fit_predict(const std::string& method, const vlb::Dataset& ds) {
  const auto& e = vlb::builtins().methods.get(method);
  auto m = e.factory(e.schema.defaults());
  vlb::RunContext ctx;
  ctx.seed = 3;
  ctx.device = ds.features.is_cuda() ? "cuda" : "cpu";
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(ctx.seed);
  at::manual_seed(ctx.seed);
  vlb::DataView train = vlb::make_view(ds, "train");
  vlb::DataView eval = vlb::make_view(ds, "test");
  m->fit(train, ctx);
  return m->predict(eval, ctx);
}

TEST(GpuMethods, SomeMethodsHaveAGpuPath) {
  // Not skipped: the tag list is what plan time checks, on every machine.
  auto names = cuda_methods();
  EXPECT_GE(names.size(), 7u);
  for (const char* m : {"zeroshot", "ncm", "linear_probe", "coder_zeroshot", "coder_star",
                        "coder_fewshot", "tip_adapter"})
    EXPECT_NE(std::find(names.begin(), names.end(), m), names.end()) << m;
}

// Scores agree to float rounding of a different summation order (GPU GEMMs and reductions):
// |cuda - cpu| <= 1e-3 * (1 + |cpu|), which covers CODER's 100x logits and exp(-beta(1 - a))
// at beta up to 100. The CUDA scores never leave the device before predict() returns.
TEST(GpuMethods, EveryTaggedMethodRunsOnTheDeviceAndAgreesWithTheCpu) {
  SKIP_WITHOUT_CUDA();
  vlb::SynthTextBankOptions o;
  o.seed = 5;
  const vlb::Dataset cpu = vlb::generate_synth_textbank(o);
  const vlb::Dataset gpu = vlb::to_device(cpu, "cuda");
  ASSERT_TRUE(gpu.features.is_cuda());
  ASSERT_TRUE(gpu.texts.cls.is_cuda());
  for (const auto& method : cuda_methods()) {
    SCOPED_TRACE(method);
    vlb::Prediction c = fit_predict(method, cpu);
    vlb::Prediction g = fit_predict(method, gpu);
    ASSERT_TRUE(g.scores.is_cuda());
    for (const auto& [name, t] : g.aux)
      if (t.numel() > 1) EXPECT_TRUE(t.is_cuda()) << "aux " << name;
    auto gs = g.scores.cpu();
    auto tol = 1e-3 * (1 + c.scores.abs());
    auto bad = (gs - c.scores).abs().gt(tol) | (gs.isfinite() != c.scores.isfinite());
    EXPECT_EQ(bad.sum().item<int64_t>(), 0)
        << "max |diff| " << (gs - c.scores).abs().nan_to_num(0, 0, 0).max().item<double>();
    // The predicted class changes only where the CPU's top two are within the tolerance.
    auto top2 = std::get<0>(c.scores.topk(2, 1));
    auto clear = (top2.select(1, 0) - top2.select(1, 1)).gt(2e-3 * (1 + top2.select(1, 0).abs()));
    EXPECT_TRUE(gs.argmax(1).masked_select(clear).equal(c.scores.argmax(1).masked_select(clear)));
  }
}

TEST(GpuMethods, ADatasetCopyHasEveryTensorOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  const vlb::Dataset cpu = vlb::generate_synth_textbank(vlb::SynthTextBankOptions{});
  const vlb::Dataset gpu = vlb::to_device(cpu, "cuda");
  for (const at::Tensor* t : {&gpu.features, &gpu.label, &gpu.texts.features, &gpu.texts.cls,
                              &gpu.texts.type, &gpu.texts.partner})
    if (t->defined()) EXPECT_TRUE(t->is_cuda());
  for (const auto& kv : gpu.splits) EXPECT_TRUE(kv.second.is_cuda()) << kv.first;
  EXPECT_TRUE(torch::equal(gpu.features.cpu(), cpu.features));
  vlb::DataView v = vlb::rebase(vlb::sample_shots(vlb::make_view(cpu, "train"), 2, 1), gpu);
  EXPECT_TRUE(v.rows.is_cuda());
  EXPECT_TRUE(torch::equal(v.features().cpu(),
                           vlb::sample_shots(vlb::make_view(cpu, "train"), 2, 1).features()));
}

}  // namespace
