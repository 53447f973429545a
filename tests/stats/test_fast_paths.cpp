// The fast resampling paths of sample_stats (per-row values of top-k, per-class and GZSL
// accuracies, AP / mAP / CF1 / OF1, name matches and similarities) against the registered metric
// re-run on the same resampled rows: every metric of small runs of each task, on resamples with
// repeated rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "test_support.h"
#include "vlb/experiments/sample_stats.h"

namespace vlb {
namespace {

struct Case {
  const char* name;
  const char* body;
};

const Case kCases[] = {
    {"gzsl",
     "dataset: {source: synth_gzsl, params: {classes: 12, unseen: 4, dim: 16, train_per_class: 6, "
     "test_per_class: 8, seed: 0}, train_split: trainval, eval_split: test}\n"
     "methods: [{name: conse, params: {base_epochs: 3}}]\n"
     "metrics: [gzsl, top1, top5, mean_per_class, {name: topk, params: {k: 3}}]\n"},
    {"multilabel",
     "dataset: {source: synth_multilabel, params: {classes: 6, height: 2, width: 2, dim: 8, "
     "train_images: 40, test_images: 60, keep_prob: 0.5, seed: 0}, train_split: train, eval_split: test}\n"
     "methods: [{name: global_zeroshot}]\nmetrics: [ml_map, ml_ap, ml_f1, ml_f1_top3]\n"},
    {"openvocab",
     "dataset: {source: synth_noisy, params: {classes: 8, families: 2, dim: 16, train_per_class: 4, "
     "test_per_class: 6, seed: 0}, train_split: train, eval_split: test}\n"
     "methods: [{name: mllm_labels}]\nmetrics: [sacc, name_exact, cacc]\n"},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class FastPaths : public ::testing::TestWithParam<Case> {};

TEST_P(FastPaths, AgreeWithTheRegisteredMetricOnResamples) {
  const Case& c = GetParam();
  test::TempDir t;
  test::write_text(t / "spec.yaml", std::string("experiment: ") + c.name + "\n" + c.body +
                                        "runtime: {seeds: [0]}\n");
  auto r = test::run_cli("run " + t / "spec.yaml" + " --no-progress --results " + t / "r");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto names = test::run_dir_names(t / ("r/" + std::string(c.name)));
  ASSERT_EQ(names.size(), 1u);
  const std::string dir = t / ("r/" + std::string(c.name) + "/" + names[0]);
  auto fast = RunSamples::load(dir, builtins());
  auto slow = RunSamples::load(dir, builtins(), false);
  ASSERT_EQ(fast->names(), slow->names());
  std::mt19937_64 g(1);
  int compared = 0;
  for (const auto& name : fast->names()) {
    if (!fast->resamplable(name)) {
      EXPECT_EQ(name, "ov/cacc") << "only the clustering scores are not resampled";
      continue;
    }
    EXPECT_TRUE(fast->has_fast_path(name)) << name;
    EXPECT_FALSE(slow->has_fast_path(name)) << name;
    for (int k = 0; k < 20; ++k) {
      std::vector<int64_t> idx(fast->size());
      for (auto& i : idx) i = static_cast<int64_t>(g() % static_cast<uint64_t>(fast->size()));
      const double a = fast->value_on(name, idx), b = slow->value_on(name, idx);
      if (std::isnan(b)) {
        EXPECT_TRUE(std::isnan(a)) << name;
      } else {
        EXPECT_NEAR(a, b, 1e-12) << name << " resample " << k;
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 60);  // three or more metrics per task, 20 resamples each
}

INSTANTIATE_TEST_SUITE_P(Tasks, FastPaths, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace vlb
