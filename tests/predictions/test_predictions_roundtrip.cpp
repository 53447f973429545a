// write_predictions / read_predictions / to_prediction in-process: a round trip of every field,
// top-k rebuilt predictions that give the metrics exactly the full scores' values, and a write
// failure that names the file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/spec.h"

namespace {

using vlb::test::TempDir;

struct Fixture {
  vlb::Dataset ds;
  vlb::RunConfig cfg;
  at::Tensor rows;
  vlb::Prediction pred;
};

// 40 rows x 12 classes with scores rounded to quarters, so that most rows have ties.
Fixture make_fixture() {
  Fixture f;
  torch::manual_seed(7);
  const int64_t N = 60, C = 12;
  f.ds.fingerprint = std::string(64, 'a');
  for (int64_t c = 0; c < C; ++c) f.ds.class_names.push_back("class" + std::to_string(c));
  f.ds.label = torch::randint(C, {N}, torch::kLong);
  f.rows = torch::arange(10, 50, torch::kLong);
  f.cfg.method = "ncm";
  f.cfg.eval_split = "test";
  f.pred.scores = torch::round(torch::randn({40, C}) * 4) / 4;
  f.pred.aux["mask"] = torch::rand({40}) > 0.5;
  f.pred.aux["ids"] = torch::arange(40, torch::kLong);
  f.pred.aux["steps"] = torch::tensor({int64_t{3}}, torch::kLong);
  return f;
}

vlb::PredictionsOptions options(const std::string& mode, int64_t k = 10) {
  vlb::PredictionsOptions o;
  o.mode = mode;
  o.topk = k;
  return o;
}

TEST(PredictionsRoundTrip, FullKeepsEverythingExactly) {
  TempDir dir;
  Fixture f = make_fixture();
  std::string mode = vlb::write_predictions(dir / "p.h5", f.pred, f.rows, f.ds, f.cfg, std::string(64, 'b'),
                                            "classification", "3", {{"top1", "1"}}, options("auto"));
  EXPECT_EQ(mode, "full");
  vlb::StoredPredictions p = vlb::read_predictions(dir / "p.h5");
  EXPECT_EQ(p.mode, "full");
  EXPECT_EQ(p.task, "classification");
  EXPECT_EQ(p.method, "ncm");
  EXPECT_EQ(p.method_version, "3");
  EXPECT_EQ(p.metric_versions, (std::map<std::string, std::string>{{"top1", "1"}}));
  EXPECT_EQ(p.run_key, std::string(64, 'b'));
  EXPECT_EQ(p.num_classes, 12);
  EXPECT_TRUE(torch::equal(p.rows, f.rows));
  EXPECT_TRUE(torch::equal(p.label, f.ds.label.index_select(0, f.rows)));
  EXPECT_FALSE(p.labels.defined());
  vlb::Prediction back = vlb::to_prediction(p);
  EXPECT_TRUE(torch::equal(back.scores, f.pred.scores));
  ASSERT_EQ(back.aux.size(), 3u);
  for (const auto& [k, v] : f.pred.aux) {
    EXPECT_EQ(back.aux.at(k).scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(torch::equal(back.aux.at(k), v)) << k;
  }
}

TEST(PredictionsRoundTrip, TopkGivesTheMetricsTheFullScoresValues) {
  TempDir dir;
  Fixture f = make_fixture();
  ASSERT_EQ(vlb::write_predictions(dir / "t.h5", f.pred, f.rows, f.ds, f.cfg, std::string(64, 'b'),
                                   "classification", "1", {}, options("topk", 5)),
            "topk");
  vlb::StoredPredictions p = vlb::read_predictions(dir / "t.h5");
  ASSERT_EQ(p.topk_ids.sizes(), (at::IntArrayRef{40, 5}));
  auto [ids, vals] = vlb::stable_topk_rows(f.pred.scores, 5);
  EXPECT_TRUE(torch::equal(p.topk_ids, ids));
  vlb::Prediction back = vlb::to_prediction(p);
  vlb::Targets t{p.label, {}, 12, &f.ds, f.rows};
  const auto& reg = vlb::builtins().metrics;
  for (const char* m : {"top1", "top5", "mean_per_class"}) {
    auto compute = [&](const vlb::Prediction& pr) {
      auto metric = reg.create(m, reg.get(m).schema.defaults());
      metric->reset();
      metric->update(pr, t);
      return metric->compute().at(0).value;
    };
    EXPECT_EQ(compute(back), compute(f.pred)) << m;
  }
  // The fixture does exercise ties: some row has equal scores among its best five.
  EXPECT_TRUE((vals.narrow(1, 0, 4) == vals.narrow(1, 1, 4)).any().item<bool>());
}

TEST(PredictionsRoundTrip, AutoSwitchesAtTheCap) {
  vlb::PredictionsOptions o;
  o.max_mb = 1;
  EXPECT_EQ(vlb::choose_predictions_mode(o, 262144, 1), "full");  // exactly 1 MiB
  EXPECT_EQ(vlb::choose_predictions_mode(o, 262145, 1), "topk");
  o.mode = "full";
  EXPECT_EQ(vlb::choose_predictions_mode(o, 1 << 30, 1000), "full");
}

TEST(PredictionsRoundTrip, NoneWritesNoFile) {
  TempDir dir;
  Fixture f = make_fixture();
  EXPECT_EQ(vlb::write_predictions(dir / "n.h5", f.pred, f.rows, f.ds, f.cfg, std::string(64, 'b'),
                                   "classification", "1", {}, options("none")),
            "none");
  EXPECT_FALSE(vlb::test::exists(dir / "n.h5"));
}

TEST(PredictionsRoundTrip, AWriteFailureNamesTheFile) {
  TempDir dir;
  Fixture f = make_fixture();
  const std::string path = dir / "missing/predictions.h5";
  try {
    vlb::write_predictions(path, f.pred, f.rows, f.ds, f.cfg, std::string(64, 'b'), "classification",
                           "1", {}, options("full"));
    FAIL() << "no error";
  } catch (const vlb::DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot write predictions"), std::string::npos) << e.what();
  }
  // Scores that are not one row per evaluation row cannot be stored either.
  f.pred.scores = torch::zeros({3, 12});
  EXPECT_THROW(vlb::write_predictions(dir / "p.h5", f.pred, f.rows, f.ds, f.cfg, std::string(64, 'b'),
                                      "classification", "1", {}, options("full")),
               vlb::DataError);
}

}  // namespace
