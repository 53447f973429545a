// Every method tagged device:cuda (Note [Devices] in experiments/src/device.cpp), on every run of
// the synthetic specs (device_runs.h), fitted and asked for scores on a CUDA copy of the dataset,
// against the same run on the CPU. Skips where LibTorch sees no CUDA device; tests/gpu/check.sh
// runs it on a CUDA build. tests/hostdevice runs the same runs on a stand-in device everywhere.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "device_runs.h"
#include "vlb/core/registry.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/datasets/synth_textbank.h"
#include "vlb/experiments/builtins.h"

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to this LibTorch"

TEST(GpuMethods, TheMethodsHaveAGpuPath) {
  // Not skipped: the tag list is what plan time checks, on every machine.
  const std::vector<std::string> names = vlb::test::device_methods();
  for (const char* m : {"zeroshot", "ncm", "linear_probe", "knn", "coder_zeroshot", "coder_star",
                        "coder_fewshot", "tip_adapter", "sarl", "sarl_no_decouple",
                        "sarl_shared_text", "global_linear", "global_zeroshot", "raw_similarity",
                        "contrastive_heads", "icis", "mlp_injector", "subreg", "conse", "costa",
                        "vgse_wavg", "vgse_smo", "near", "near_no_refine", "mllm_labels",
                        "near_knn_only", "vocab_zeroshot", "kmeans"})
    EXPECT_NE(std::find(names.begin(), names.end(), m), names.end()) << m;
}

// Note [CPU and CUDA tolerances]: GPU GEMMs and reductions sum in other orders, so scores differ
// by float rounding. A training-free method keeps that: |cuda - cpu| <= 1e-3 (1 + |cpu|), which
// covers CODER's 100x logits and exp(-beta (1 - a)) at beta up to 100, and the top class agrees
// wherever the CPU's top two are further apart than that. Gradient training (tag "trains")
// carries the rounding through every step, so there the check is on the outcome: the top class
// agrees on at least 95 % of the rows and the scores as a whole are within 5 % (relative
// Frobenius norm). Integer side outputs (neighbour ids, masks, predicted names) and indicator
// scores (NeaR's 1 at the predicted class) are outcomes already: at least 99 % of the entries,
// or of the rows, agree exactly (95 % after training); counts within one or 5 %.
void expect_close(const at::Tensor& gpu, const at::Tensor& cpu, bool trained, const std::string& what) {
  ASSERT_EQ(gpu.defined(), cpu.defined()) << what;
  if (!cpu.defined()) return;
  if (gpu.numel() > 1) {
    EXPECT_TRUE(gpu.is_cuda()) << what << " left the device";
  }
  at::Tensor g = gpu.cpu();
  ASSERT_EQ(g.sizes(), cpu.sizes()) << what;
  if (!cpu.is_floating_point() && cpu.numel() == 1) {  // a count: within one, or 5 %
    const double cv = cpu.item<double>(), gv = g.item<double>();
    EXPECT_LE(std::abs(gv - cv), std::max(1.0, 0.05 * std::abs(cv))) << what;
    return;
  }
  const double agreement = trained ? 0.95 : 0.99;
  if (!cpu.is_floating_point()) {
    EXPECT_GE(g.eq(cpu).to(torch::kDouble).mean().item<double>(), agreement) << what;
    return;
  }
  if (cpu.dim() == 2 && (cpu.eq(0) | cpu.eq(1)).all().item<bool>()) {
    EXPECT_GE(g.eq(cpu).all(1).to(torch::kDouble).mean().item<double>(), agreement) << what;
    return;
  }
  const at::Tensor c = cpu.to(torch::kDouble), d = g.to(torch::kDouble);
  EXPECT_TRUE(d.isfinite().equal(c.isfinite())) << what;
  const at::Tensor fin = c.isfinite();
  const at::Tensor diff = (d - c).masked_fill(~fin, 0);
  if (trained) {
    EXPECT_LE(diff.norm().item<double>(), 0.05 * c.masked_fill(~fin, 0).norm().item<double>() + 1e-6)
        << what;
  } else {
    EXPECT_EQ(diff.abs().gt(1e-3 * (1 + c.abs().masked_fill(~fin, 0))).sum().item<int64_t>(), 0)
        << what << ": max |diff| " << diff.abs().max().item<double>();
  }
  if (c.dim() != 2 || c.size(1) < 2) return;
  const at::Tensor agree = d.argmax(1).eq(c.argmax(1));
  if (trained) {
    EXPECT_GE(agree.to(torch::kDouble).mean().item<double>(), 0.95) << what;
  } else {
    auto top2 = std::get<0>(c.topk(2, 1));
    auto clear = (top2.select(1, 0) - top2.select(1, 1)).gt(2e-3 * (1 + top2.select(1, 0).abs()));
    EXPECT_TRUE(agree.masked_select(clear).all().item<bool>()) << what;
  }
}

class GpuSpec : public testing::TestWithParam<std::string> {};

TEST_P(GpuSpec, EveryTaggedRunAgreesWithTheCpu) {
  SKIP_WITHOUT_CUDA();
  vlb::test::for_each_device_run(
      GetParam(), "cuda",
      [](const vlb::PlannedRun& r, const vlb::Prediction& want, const auto& on_device) {
        const bool trained = vlb::has_tag(vlb::builtins().methods.get(r.config.method).tags, "trains");
        vlb::test::for_each_result(on_device(), want,
                                   [&](const std::string& what, const at::Tensor& g, const at::Tensor& c) {
                                     expect_close(g, c, trained, what);
                                   });
      });
}

INSTANTIATE_TEST_SUITE_P(Specs, GpuSpec, testing::ValuesIn(vlb::test::device_specs()),
                         [](const auto& info) { return info.param; });

TEST(GpuMethods, ADatasetCopyHasEveryTensorOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  const vlb::Dataset cpu = vlb::generate_synth_textbank(vlb::SynthTextBankOptions{});
  const vlb::Dataset gpu = vlb::to_device(cpu, "cuda");
  for (const at::Tensor* t : {&gpu.features, &gpu.label, &gpu.texts.features, &gpu.texts.cls,
                              &gpu.texts.type, &gpu.texts.partner})
    if (t->defined()) {
      EXPECT_TRUE(t->is_cuda());
    }
  for (const auto& kv : gpu.splits) EXPECT_TRUE(kv.second.is_cuda()) << kv.first;
  EXPECT_TRUE(torch::equal(gpu.features.cpu(), cpu.features));
  vlb::DataView v = vlb::rebase(vlb::sample_shots(vlb::make_view(cpu, "train"), 2, 1), gpu);
  EXPECT_TRUE(v.rows.is_cuda());
  EXPECT_TRUE(torch::equal(v.features().cpu(),
                           vlb::sample_shots(vlb::make_view(cpu, "train"), 2, 1).features()));
}

}  // namespace
