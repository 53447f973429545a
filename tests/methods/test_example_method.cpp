// The worked example of docs/adding-a-method.md (methods/example/): registered through the one
// line in builtins.h, correct on a hand-computed case, and run from its YAML spec end to end.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"
#include "vlb/experiments/builtins.h"

namespace vlb {
namespace {

std::unique_ptr<Method> make_knn(int64_t k, const std::string& weighting) {
  const auto& e = builtins().methods.get("knn");
  Params p = e.schema.defaults();
  p.set("k", e.schema.check("k", k));
  p.set("weighting", e.schema.check("weighting", weighting));
  return e.factory(p);
}

// Four training rows on the unit circle (classes 0, 0, 1, 2) and two queries.
Dataset circle() {
  Dataset ds;
  ds.name = "circle";
  ds.class_names = {"a", "b", "c"};
  ds.features = torch::tensor({{1.0f, 0.0f}, {0.8f, 0.6f}, {0.0f, 1.0f}, {-1.0f, 0.0f},  // train
                               {0.6f, 0.8f}, {-0.6f, 0.8f}});                              // test
  ds.label = torch::tensor({0, 0, 1, 2, 1, 2}, torch::kLong);
  ds.splits["train"] = torch::arange(0, 4, torch::kLong);
  ds.splits["test"] = torch::arange(4, 6, torch::kLong);
  return ds;
}

TEST(ExampleKnn, IsRegisteredWithItsDeclaredOptions) {
  ASSERT_TRUE(builtins().methods.contains("knn"));
  const auto& s = builtins().methods.get("knn").schema;
  ASSERT_NE(s.find("k"), nullptr);
  EXPECT_EQ(std::get<int64_t>(s.find("k")->default_value), 5);
  EXPECT_THROW(s.check("k", int64_t{0}), ConfigError);
  EXPECT_THROW(s.check("weighting", std::string("distance")), ConfigError);
}

TEST(ExampleKnn, VotesOfTheNearestTrainingRowsByHand) {
  Dataset ds = circle();
  RunContext ctx;
  // Query (0.6, 0.8): cosines to the training rows 0.6, 0.96, 0.8, -0.6.
  auto m1 = make_knn(1, "uniform");
  m1->fit(make_view(ds, "train"), ctx);
  auto s1 = m1->predict(make_view(ds, "test"), ctx).scores;
  EXPECT_TRUE(torch::equal(s1, torch::tensor({{1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}})))
      << s1;  // row 1 -> class 0; query 2 (-0.6, 0.8): cosines -0.6, 0.0, 0.8, 0.6 -> row 2, class 1
  auto m3 = make_knn(3, "uniform");
  m3->fit(make_view(ds, "train"), ctx);
  auto s3 = m3->predict(make_view(ds, "test"), ctx).scores;
  // Query 1: rows 1, 2, 0 -> classes 0, 1, 0; query 2: rows 2, 3, 1 -> classes 1, 2, 0.
  EXPECT_TRUE(torch::equal(s3, torch::tensor({{2.0f, 1.0f, 0.0f}, {1.0f, 1.0f, 1.0f}}))) << s3;
  auto ms = make_knn(2, "similarity");
  ms->fit(make_view(ds, "train"), ctx);
  auto ss = ms->predict(make_view(ds, "test"), ctx).scores;
  // Query 2 with weights exp(cos / 0.1): row 2 (0.8) for class 1, row 3 (0.6) for class 2.
  EXPECT_NEAR(ss[1][1].item<float>(), std::exp(8.0), 1e-3 * std::exp(8.0));
  EXPECT_NEAR(ss[1][2].item<float>(), std::exp(6.0), 1e-3 * std::exp(6.0));
  EXPECT_EQ(ss[1][0].item<float>(), 0.0f);
}

TEST(ExampleKnn, RunsFromItsSpecEndToEnd) {
  test::TempDir tmp;
  const std::string exp = test::run_spec_and_report("example_knn", tmp.path());
  EXPECT_EQ(test::run_dir_names(exp).size(), 14u);  // (1 + 3 x 2 methods) x 2 seeds
  // The synthetic classes are separable: the first knn row and ncm beat chance (10 %) by far.
  EXPECT_GT(test::leaderboard_mean(exp, "knn", "cls/top1"), 0.5);
  EXPECT_GT(test::leaderboard_mean(exp, "ncm", "cls/top1"), 0.5);
}

}  // namespace
}  // namespace vlb
