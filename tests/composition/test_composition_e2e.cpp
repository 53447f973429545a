// End to end: the ablation spec through the CLI (the orderings the papers report, on synthetic
// data whose captions and towers are built to carry them: synth_composition.h), the committed
// baseline, determinism, and `vlb convert sugarcrepe` on the real SugarCrepe JSON files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;

namespace {

// The sweep is shared with every test process of this build (shared_sweep): read-only here.
class CompositionSynth : public ::testing::Test {
 protected:
  static std::string exp() { return vlb::test::shared_sweep("composition_synth").experiment_dir; }
  // Mean over seeds of `metric` in the row whose label contains every part.
  static double mean(const std::string& metric, const std::vector<std::string>& parts) {
    std::ifstream f(exp() + "/leaderboard.json");
    auto lb = nlohmann::json::parse(f);
    for (const auto& [row, cols] : lb["cells"][metric].items()) {
      bool all = true;
      for (const auto& p : parts) all &= row.find(p) != std::string::npos;
      if (all) return cols.begin().value()["mean"].get<double>();
    }
    ADD_FAILURE() << "no row with all parts for " << metric << " in " << lb["cells"][metric].dump();
    return 0;
  }
  static double cell(const std::string& metric, const std::string& captions, const std::string& tower) {
    return mean(metric, {"caption_source=" + captions, "text_tower=" + tower, "epochs=30", "hard_negatives=false",
                         "sentence_sampling=false"});
  }
};

TEST_F(CompositionSynth, BetterCaptionsAndTheOrderAwareTowerRaiseSwapAndRelationAccuracy) {
  // Detailed captions raise swap and relation accuracy (the relation word is only in them).
  for (const char* m : {"sugarcrepe/swap_att", "sugarcrepe/replace_rel", "aro_relation/mean"})
    EXPECT_GT(cell(m, "recaptioned", "order"), cell(m, "original", "order") + 0.05) << m;
  EXPECT_GT(cell("sugarcrepe/replace_rel", "recaptioned", "bow"), cell("sugarcrepe/replace_rel", "original", "bow") + 0.05);
  // The order-aware tower raises swap / role accuracy (a replaced word is visible to both towers).
  for (const char* m : {"sugarcrepe/swap_att", "sugarcrepe/swap_obj", "aro_relation/mean", "aro_attribution/mean"})
    EXPECT_GT(cell(m, "recaptioned", "order"), cell(m, "recaptioned", "bow") + 0.05) << m;
  EXPECT_GT(cell("sugarcrepe/replace_att", "recaptioned", "bow"), cell("sugarcrepe/replace_att", "original", "bow"));
  // The order-blind tower stays near chance on swaps whatever the captions.
  EXPECT_LT(cell("sugarcrepe/swap_att", "recaptioned", "bow"), 0.65);
}

TEST_F(CompositionSynth, HardNegativesRaiseAroAccuracyBeyondTheExtraEpochs) {
  // Hard-negative fine-tuning (30 + 10 epochs) against the same 40 epochs without negatives.
  for (const char* m : {"aro_relation/mean", "aro_attribution/mean", "sugarcrepe/swap_att"}) {
    const double hn = mean(m, {"hard_negatives=true"});
    EXPECT_GT(hn, mean(m, {"epochs=40"}) + 0.005) << m;
    EXPECT_GT(hn, cell(m, "recaptioned", "order")) << m;
  }
}

TEST_F(CompositionSynth, PassesTheCommittedBaseline) {
  vlb::test::expect_passes_baseline("composition_synth", exp());
}

TEST_F(CompositionSynth, RerunGivesBitIdenticalMetrics) {
  EXPECT_EQ(vlb::test::expect_rerun_identical("experiments/specs/composition_synth.yaml", exp(), 2), 8);
}

// ---- vlb convert sugarcrepe on the real files -------------------------------------------------

struct Keys {
  std::vector<std::string> images, texts;
  int64_t items = 0;
};

Keys real_keys(const std::string& dir) {
  Keys k;
  std::set<std::string> si, st;
  for (const char* s : {"add_obj", "add_att", "replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att"}) {
    auto j = nlohmann::json::parse(std::ifstream(dir + "/" + s + ".json"));
    for (const auto& [id, v] : j.items()) {
      ++k.items;
      if (si.insert(v["filename"].get<std::string>()).second) k.images.push_back(v["filename"]);
      for (const char* f : {"caption", "negative_caption"})
        if (st.insert(v[f].get<std::string>()).second) k.texts.push_back(v[f]);
    }
  }
  return k;
}

// Deterministic stand-in embeddings: row r of a seeded Gaussian table.
at::Tensor table(int64_t n, uint64_t seed) {
  return at::randn({n, 8}, at::detail::createCPUGenerator(seed));
}

void write_json_list(const std::string& path, const std::vector<std::string>& v) {
  std::ofstream(path) << nlohmann::json(v).dump();
}

TEST(SugarCrepeConvert, RealJsonWithAStandInTable) {
  VLB_REQUIRE_SHARED_DATA(shared);
  const std::string dir = shared + "/composition/sugarcrepe";
  Keys k = real_keys(dir);
  ASSERT_EQ(k.items, 7511);
  TempDir tmp;
  auto img = table(static_cast<int64_t>(k.images.size()), 1);
  auto txt = table(static_cast<int64_t>(k.texts.size()), 2);
  vlb::write_npy(tmp / "img.npy", img);
  vlb::write_npy(tmp / "txt.npy", txt);
  write_json_list(tmp / "img.json", k.images);
  write_json_list(tmp / "txt.json", k.texts);
  auto r = run_cli("convert sugarcrepe --dir " + dir + " --image-features " + (tmp / "img.npy") +
                   " --image-keys " + (tmp / "img.json") + " --text-features " + (tmp / "txt.npy") +
                   " --text-keys " + (tmp / "txt.json") + " --out " + (tmp / "sc.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ds = vlb::read_dataset(tmp / "sc.h5");
  const auto& g = ds.groups.at("sugarcrepe");
  EXPECT_EQ(g.size(), 7511);
  EXPECT_EQ(ds.num_images(), static_cast<int64_t>(k.images.size()));
  EXPECT_EQ(ds.texts.size(), 2 * 7511);
  // Official per-file counts (data/README.md): add_obj 2062, add_att 692, replace_obj 1652,
  // replace_att 788, replace_rel 1406, swap_obj 245, swap_att 666.
  const std::vector<int64_t> expected = {2062, 692, 1652, 788, 1406, 245, 666};
  for (int64_t s = 0; s < 7; ++s) EXPECT_EQ(g.subset.eq(s).sum().item<int64_t>(), expected[s]) << s;
  // Item 0 of swap_obj.json (read directly): its image and caption embeddings are the table rows.
  auto j = nlohmann::json::parse(std::ifstream(dir + "/swap_obj.json"));
  const int64_t first_swap_obj = 2062 + 692 + 1652 + 788 + 1406;
  const auto& v = j["0"];
  int64_t irow = g.image[first_swap_obj][0].item<int64_t>();
  EXPECT_EQ(ds.image_ids[irow], v["filename"].get<std::string>());
  auto ii = std::find(k.images.begin(), k.images.end(), ds.image_ids[irow]) - k.images.begin();
  EXPECT_TRUE(torch::equal(ds.features[irow], img[ii]));
  int64_t trow = g.text[first_swap_obj][1].item<int64_t>();
  EXPECT_EQ(ds.texts.strings[trow], v["negative_caption"].get<std::string>());
  auto ti = std::find(k.texts.begin(), k.texts.end(), ds.texts.strings[trow]) - k.texts.begin();
  EXPECT_TRUE(torch::equal(ds.texts.features[trow], txt[ti]));
  EXPECT_EQ(ds.texts.source[trow].item<int8_t>(), 2);

  // The file scores with the CLI: raw similarity on stand-in embeddings (chance-level, any value).
  vlb::test::write_text(tmp / "s.yaml", "experiment: sc\ndataset: {source: h5, params: {path: " + (tmp / "sc.h5") +
                                        "}, train_split: test, eval_split: test}\nmethods: [{name: raw_similarity}]\n"
                                        "metrics: [sugarcrepe]\n");
  auto run = run_cli("run " + (tmp / "s.yaml") + " --results " + (tmp / "res"));
  EXPECT_EQ(run.exit_code, 0) << run.output;

  // Missing keys: a clear error naming the first few, and nothing written.
  std::vector<std::string> fewer(k.texts.begin() + 3, k.texts.end());
  write_json_list(tmp / "txt_missing.json", fewer);
  vlb::write_npy(tmp / "txt_missing.npy", txt.narrow(0, 3, txt.size(0) - 3).contiguous());
  auto bad = run_cli("convert sugarcrepe --dir " + dir + " --image-features " + (tmp / "img.npy") +
                     " --image-keys " + (tmp / "img.json") + " --text-features " + (tmp / "txt_missing.npy") +
                     " --text-keys " + (tmp / "txt_missing.json") + " --out " + (tmp / "bad.h5"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("3 captions are missing"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find(k.texts[0].substr(0, 20)), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(tmp / "bad.h5"));
  // An image key list that does not match the .npy rows is refused, naming the file.
  write_json_list(tmp / "img_short.json", std::vector<std::string>(k.images.begin(), k.images.begin() + 5));
  auto mism = run_cli("convert sugarcrepe --dir " + dir + " --image-features " + (tmp / "img.npy") +
                      " --image-keys " + (tmp / "img_short.json") + " --text-features " + (tmp / "txt.npy") +
                      " --text-keys " + (tmp / "txt.json") + " --out " + (tmp / "bad.h5"));
  EXPECT_EQ(mism.exit_code, 2) << mism.output;
  EXPECT_NE(mism.output.find("img.npy"), std::string::npos) << mism.output;
}

}  // namespace
