// End to end: the CI spec on the synthetic text bank through the CLI (ordering the paper reports,
// determinism, regression baseline), and `convert npy --text-bank` on the real vocab files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;

namespace {

class CoderSynth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    vlb::test::run_spec_and_report("coder_synth", dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string exp() { return dir_->path() + "/coder_synth"; }
  static double mean_of(const std::string& row_part, const std::string& column) {
    std::ifstream f(exp() + "/leaderboard.json");
    auto lb = nlohmann::json::parse(f);
    for (const auto& [row, cols] : lb["cells"]["cls/top1"].items())
      if (row.find(row_part) != std::string::npos && cols.contains(column))
        return cols[column]["mean"].get<double>();
    ADD_FAILURE() << "no row containing '" << row_part << "' / column " << column << " in " << lb.dump();
    return 0;
  }
  static TempDir* dir_;
};
TempDir* CoderSynth::dir_ = nullptr;

TEST_F(CoderSynth, ShowsThePapersOrdering) {
  // Zero-shot does not depend on shots; use the 4-shot column.
  const std::string c = "shots=4";
  double name_only = mean_of("types=name)", c), all = mean_of("types=name,attribute,analogy,synonym", c);
  double star = mean_of("coder_star", c);
  EXPECT_GT(all, name_only);        // more texts help
  EXPECT_GE(star, all);             // re-ranking helps on confusable siblings
  EXPECT_GT(mean_of("coder_fewshot", "shots=16"), mean_of("coder_fewshot", "shots=4"));
}

TEST_F(CoderSynth, PassesTheCommittedBaseline) {
  vlb::test::expect_passes_baseline("coder_synth", exp());
}

TEST_F(CoderSynth, RerunGivesBitIdenticalMetrics) {
  EXPECT_GT(vlb::test::expect_rerun_identical("experiments/specs/coder_synth.yaml", exp(), 1), 10);
}

TEST(CoderConvert, TextBankFromTheRealVocabIsAppendedNormalised) {
  VLB_REQUIRE_SHARED_DATA(shared);
  TempDir dir;
  const std::string v = shared + "/clip_vit_b32/vocab";
  auto r = run_cli("convert npy --dir " + shared + "/clip_vit_b32/oxford_pets --out " + (dir / "p.h5") +
                   " --text-bank " + v + "/coco_text_features.npy:" + v + "/coco_classnames.txt" +
                   " --text-bank " + v + "/lvis_v1_text_features.npy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  vlb::Dataset ds = vlb::read_dataset(dir / "p.h5");
  ASSERT_EQ(ds.texts.size(), 80 + 1203);
  EXPECT_TRUE(ds.texts.cls.eq(-1).all().item<bool>());
  EXPECT_TRUE(ds.texts.type.eq(-1).all().item<bool>());
  EXPECT_EQ(ds.texts.strings[0], "person");
  // Row 0 of the raw COCO file, normalised here (float16 storage: 1e-3 tolerance).
  auto raw = vlb::read_npy(v + "/coco_text_features.npy").to(torch::kFloat)[0];
  EXPECT_TRUE(torch::allclose(ds.texts.features[0], raw / raw.norm(), 0, 1e-3));
  // A bank with the wrong width is refused, naming the file, and nothing is written.
  auto bad = run_cli("convert npy --dir " + shared + "/clip_vit_b32/oxford_pets --out " + (dir / "q.h5") +
                     " --text-bank " + shared + "/clip_vit_b32/oxford_pets/train_labels.npy");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("train_labels.npy"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir / "q.h5"));
}

}  // namespace

#include "vlb/experiments/builtins.h"
#include "vlb/methods/method.h"

namespace {

// Independent reference: /tmp-free numpy script in docs/coder.md ("numpy reference") computed the
// top-1 counts below from the .npy files (fp16 bank rows normalised then rounded to fp16, as the
// converter stores them): oxford_pets test 3669 rows, dtd test 1692 rows, all train rows as the
// cache, no search (Tip-Adapter alpha 1 beta 5.5; CODER-Adapter alpha 1 beta 30, all 1,648 texts).
TEST(CoderRealData, AdaptersMatchAnIndependentNumpyComputation) {
  VLB_REQUIRE_SHARED_DATA(shared);
  TempDir dir;
  const std::string v = shared + "/clip_vit_b32/vocab";
  struct Case { const char* ds; int64_t ncm, tip, coder; };
  for (const Case& c : {Case{"oxford_pets", 2751, 2723, 2701}, Case{"dtd", 1014, 1016, 1044}}) {
    auto r = run_cli(std::string("convert npy --dir ") + shared + "/clip_vit_b32/" + c.ds + " --out " +
                     (dir / (std::string(c.ds) + ".h5")) + " --text-bank " + v + "/lvis_v1_text_features.npy" +
                     " --text-bank " + v + "/coco_text_features.npy --text-bank " + v + "/objects365_text_features.npy");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    vlb::Dataset ds = vlb::read_dataset(dir / (std::string(c.ds) + ".h5"));
    auto train = vlb::make_view(ds, "train"), test = vlb::make_view(ds, "test");
    auto top1 = [&](const std::string& name, std::map<std::string, vlb::ParamValue> set) {
      const auto& e = vlb::builtins().methods.get(name);
      vlb::Params p = e.schema.defaults();
      for (auto& [k, val] : set) p.set(k, val);
      auto m = e.factory(p);
      vlb::RunContext ctx;
      m->fit(train, ctx);
      return m->predict(test, ctx).scores.argmax(1).eq(test.label()).sum().item<int64_t>();
    };
    using S = std::string;
    // +-2 rows: float32 GEMM order differs from numpy's; a near-tie may flip.
    EXPECT_NEAR(top1("ncm", {}), c.ncm, 2) << c.ds;
    EXPECT_NEAR(top1("tip_adapter", {{"base_logits", S("class_mean")}, {"search", S("none")}}), c.tip, 2) << c.ds;
    EXPECT_NEAR(top1("coder_fewshot", {{"base_logits", S("class_mean")}, {"search", S("none")},
                                       {"bank", S("free")}}), c.coder, 2) << c.ds;
  }
}

}  // namespace
