// GZSL S/U/H/ZSL on a hand-computed case (the numbers in the comments are worked by hand).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vlb/core/error.h"
#include "vlb/experiments/builtins.h"
#include "vlb/metrics/gzsl.h"

namespace {

// 5 classes: seen {0, 1}, unseen {2, 3}, class 4 in neither split (its huge scores must be
// ignored by both heads).
struct Case {
  at::Tensor scores = torch::tensor({{0.9, 0.1, 0.5, 0.2, 10.0},   // y0: joint 0 right
                                     {0.1, 0.2, 0.8, 0.0, 10.0},   // y0: joint 2 wrong
                                     {0.3, 0.7, 0.1, 0.1, 10.0},   // y1: joint 1 right
                                     {0.9, 0.0, 0.5, 0.4, 10.0},   // y2: joint 0 wrong; zsl 2 right
                                     {0.0, 0.0, 0.6, 0.1, 10.0},   // y2: right; right
                                     {0.0, 0.0, 0.6, 0.6, 10.0},   // y3: tie -> 2 wrong; wrong
                                     {0.0, 0.9, 0.1, 0.2, 10.0},   // y3: joint 1 wrong; zsl 3 right
                                     {0.0, 0.0, 0.0, 9.0, 10.0}}); // label -1: ignored
  at::Tensor label = torch::tensor({0, 0, 1, 2, 2, 3, 3, -1}, torch::kLong);
  at::Tensor seen = torch::tensor({0, 1}, torch::kLong);
  at::Tensor unseen = torch::tensor({2, 3}, torch::kLong);
};

TEST(GzslMetric, HandComputedCase) {
  Case c;
  auto a = vlb::gzsl_accuracy(c.scores, c.label, c.seen, c.unseen);
  EXPECT_DOUBLE_EQ(a.seen, (0.5 + 1.0) / 2);     // class 0: 1/2, class 1: 1/1
  EXPECT_DOUBLE_EQ(a.unseen, (0.5 + 0.0) / 2);   // class 2: 1/2, class 3: 0/2
  EXPECT_DOUBLE_EQ(a.harmonic, 2 * 0.75 * 0.25 / (0.75 + 0.25));
  EXPECT_DOUBLE_EQ(a.zsl, (1.0 + 0.5) / 2);      // class 2: 2/2, class 3: 1/2
}

TEST(GzslMetric, StreamingOverBatchesEqualsOneBatchViaRegistry) {
  Case c;
  vlb::Dataset ds;
  ds.class_names = {"a", "b", "c", "d", "e"};
  ds.class_splits["S"] = c.seen;
  ds.class_splits["U"] = c.unseen;
  const auto& reg = vlb::builtins().metrics;
  vlb::Params p = reg.get("gzsl").schema.defaults();
  p.set("seen_split", std::string("S"));
  p.set("unseen_split", std::string("U"));
  auto m = reg.create("gzsl", p);
  m->reset();
  for (int64_t start : {0, 3}) {
    int64_t n = start == 0 ? 3 : 5;
    vlb::Prediction pr{c.scores.narrow(0, start, n), {}};
    vlb::Targets t{c.label.narrow(0, start, n), {}, 5, &ds, {}};
    m->update(pr, t);
  }
  auto v = m->compute();
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].name, "gzsl/S");
  EXPECT_DOUBLE_EQ(v[0].value, 0.75);
  EXPECT_DOUBLE_EQ(v[1].value, 0.25);
  EXPECT_DOUBLE_EQ(v[2].value, 0.375);
  EXPECT_EQ(v[3].name, "gzsl/zsl");
  EXPECT_DOUBLE_EQ(v[3].value, 0.75);
}

TEST(GzslMetric, MissingClassSplitIsAConfigErrorNamingIt) {
  Case c;
  vlb::Dataset ds;
  ds.name = "toy";
  ds.class_splits["seen"] = c.seen;
  auto m = vlb::builtins().metrics.create("gzsl", vlb::builtins().metrics.get("gzsl").schema.defaults());
  vlb::Targets t{c.label, {}, 5, &ds, {}};
  try {
    m->update({c.scores, {}}, t);
    FAIL() << "no error";
  } catch (const vlb::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/class_splits/unseen"), std::string::npos) << e.what();
  }
}

TEST(GzslMetric, OverlappingSplitsAndNoUnseenRowsAreErrors) {
  Case c;
  EXPECT_THROW(vlb::gzsl_accuracy(c.scores, c.label, torch::tensor({0, 2}, torch::kLong), c.unseen),
               vlb::Error);
  auto only_seen = torch::tensor({0, 1, 0}, torch::kLong);
  EXPECT_THROW(vlb::gzsl_accuracy(c.scores.narrow(0, 0, 3), only_seen, c.seen, c.unseen), vlb::Error);
  auto nan = c.scores.clone();
  nan[0][0] = std::nan("");
  EXPECT_THROW(vlb::gzsl_accuracy(nan, c.label, c.seen, c.unseen), vlb::Error);
}

}  // namespace
