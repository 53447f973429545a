// Golden tests for the classification metrics on tiny hand-computed cases.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "vlb/metrics/metric.h"

namespace vlb {
namespace {

MetricRegistry registry() {
  MetricRegistry reg("metric");
  register_classification_metrics(reg);
  return reg;
}

Prediction scores(const std::vector<std::vector<double>>& rows) {
  int64_t n = static_cast<int64_t>(rows.size());
  int64_t c = n ? static_cast<int64_t>(rows[0].size()) : 0;
  at::Tensor t = at::zeros({n, c}, at::kFloat);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) t[i][j] = rows[i][j];
  Prediction p;
  p.scores = t;
  return p;
}

Targets labels(const std::vector<int64_t>& y, int64_t num_classes) {
  Targets t;
  t.label = at::zeros({static_cast<int64_t>(y.size())}, at::kLong);
  for (size_t i = 0; i < y.size(); ++i) t.label[i] = y[i];
  t.num_classes = num_classes;
  return t;
}

/// Runs one metric over the given batches and returns its single scalar.
MetricValue run(const std::string& name, const std::vector<Prediction>& preds,
                const std::vector<Targets>& tgts, const Params& params = Params()) {
  auto reg = registry();
  Params p = reg.get(name).schema.defaults();
  for (const auto& kv : params.values()) p.set(kv.first, kv.second);
  auto m = reg.create(name, p);
  m->reset();
  for (size_t i = 0; i < preds.size(); ++i) m->update(preds[i], tgts[i]);
  auto out = m->compute();
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

// 4 rows, 6 classes. True-class ranks: row0 0, row1 1, row2 5 (worst), row3 4.
const std::vector<std::vector<double>> kSix = {
    {0.9, 0.1, 0.0, 0.0, 0.0, 0.0},  // y=0: rank 0
    {0.5, 0.4, 0.3, 0.2, 0.1, 0.0},  // y=1: only class 0 is higher -> rank 1
    {0.5, 0.4, 0.3, 0.2, 0.1, 0.0},  // y=5: all five others higher -> rank 5
    {0.0, 0.1, 0.2, 0.3, 0.4, 0.5},  // y=1: classes 2..5 higher -> rank 4
};

TEST(ClassificationMetrics, Top1AndTop5Simple) {
  auto p = scores(kSix);
  auto y = labels({0, 1, 5, 1}, 6);
  MetricValue t1 = run("top1", {p}, {y});
  EXPECT_EQ(t1.name, "cls/top1");
  EXPECT_TRUE(t1.higher_is_better);
  EXPECT_DOUBLE_EQ(t1.value, 1.0 / 4.0);  // only row0 has rank 0
  MetricValue t5 = run("top5", {p}, {y});
  EXPECT_EQ(t5.name, "cls/top5");
  EXPECT_DOUBLE_EQ(t5.value, 3.0 / 4.0);  // ranks 0, 1, 4 are < 5; rank 5 is not
}

TEST(ClassificationMetrics, TopkParamNamesScalar) {
  Params k2;
  k2.set("k", int64_t{2});
  MetricValue v = run("topk", {scores(kSix)}, {labels({0, 1, 5, 1}, 6)}, k2);
  EXPECT_EQ(v.name, "cls/top2");
  EXPECT_DOUBLE_EQ(v.value, 2.0 / 4.0);  // ranks 0 and 1 are < 2
  // Default k is 1: same as top1.
  EXPECT_EQ(run("topk", {scores(kSix)}, {labels({0, 1, 5, 1}, 6)}).name, "cls/top1");
}

TEST(ClassificationMetrics, TiesGoToLowerIndex) {
  auto p = scores({
      {0.1, 0.7, 0.7},  // y=2 tied with lower-index class 1 -> rank 1
      {0.7, 0.7, 0.1},  // y=0 tied with higher-index class 1 -> rank 0
      {0.4, 0.4, 0.4},  // y=2 tied with classes 0 and 1 -> rank 2
  });
  auto y = labels({2, 0, 2}, 3);
  EXPECT_DOUBLE_EQ(run("top1", {p}, {y}).value, 1.0 / 3.0);  // only row 1
  Params k;
  k.set("k", int64_t{2});
  EXPECT_DOUBLE_EQ(run("topk", {p}, {y}, k).value, 2.0 / 3.0);  // rows 0 and 1
  k.set("k", int64_t{3});
  EXPECT_DOUBLE_EQ(run("topk", {p}, {y}, k).value, 1.0);
  // mean_per_class uses the same rule: the first row alone is wrong -> class 2 at 0/1.
  auto p0 = scores({{0.1, 0.7, 0.7}});
  EXPECT_DOUBLE_EQ(run("mean_per_class", {p0}, {labels({2}, 3)}).value, 0.0);
  EXPECT_DOUBLE_EQ(run("mean_per_class", {p0}, {labels({1}, 3)}).value, 1.0);
}

TEST(ClassificationMetrics, MeanPerClassExcludesEmptyClass) {
  // 4 classes; class 3 has no eval rows. Argmax per row is given in comments.
  auto p = scores({
      {0.9, 0.0, 0.0, 0.1},  // y=0 argmax 0: right
      {0.9, 0.0, 0.0, 0.1},  // y=0 argmax 0: right
      {0.0, 0.0, 0.9, 0.1},  // y=0 argmax 2: wrong
      {0.0, 0.9, 0.0, 0.1},  // y=1 argmax 1: right
      {0.0, 0.0, 0.0, 0.9},  // y=2 argmax 3: wrong
      {0.0, 0.0, 0.9, 0.1},  // y=2 argmax 2: right
  });
  auto y = labels({0, 0, 0, 1, 2, 2}, 4);
  // Per class: class0 2/3, class1 1/1, class2 1/2; class3 excluded.
  // Mean = (2/3 + 1 + 1/2) / 3 = (4/6 + 6/6 + 3/6) / 3 = 13/18.
  EXPECT_DOUBLE_EQ(run("mean_per_class", {p}, {y}).value, 13.0 / 18.0);
  // Overall top1 differs (4/6), which shows the per-class weighting is in effect.
  EXPECT_DOUBLE_EQ(run("top1", {p}, {y}).value, 4.0 / 6.0);
}

TEST(ClassificationMetrics, IgnoredLabelRows) {
  // Row 1 is wrong but carries label -1, so it is ignored: 2 counted rows, both right.
  auto p = scores({{0.9, 0.1}, {0.9, 0.1}, {0.1, 0.9}});
  auto y = labels({0, -1, 1}, 2);
  EXPECT_DOUBLE_EQ(run("top1", {p}, {y}).value, 1.0);
  EXPECT_DOUBLE_EQ(run("mean_per_class", {p}, {y}).value, 1.0);
  // Had row 1 been counted as class 1 it would be wrong: 2/3.
  EXPECT_DOUBLE_EQ(run("top1", {p}, {labels({0, 1, 1}, 2)}).value, 2.0 / 3.0);
}

TEST(ClassificationMetrics, AllRowsIgnoredIsAnError) {
  auto p = scores({{0.9, 0.1}});
  EXPECT_THROW(run("top1", {p}, {labels({-1}, 2)}), Error);
  EXPECT_THROW(run("mean_per_class", {p}, {labels({-1}, 2)}), Error);
}

TEST(ClassificationMetrics, BatchingMatchesSingleUpdate) {
  // Batches of unequal size: a mean of per-batch means would give (1/1 + 1/3)/2 = 2/3,
  // accumulating counts gives 2/4.
  auto all = scores(kSix);
  auto y_all = labels({0, 1, 5, 1}, 6);
  auto b1 = scores({kSix[0]});
  auto b2 = scores({kSix[1], kSix[2], kSix[3]});
  auto y1 = labels({0}, 6);
  auto y2 = labels({1, 5, 1}, 6);
  for (const char* name : {"top1", "top5", "mean_per_class"}) {
    double one = run(name, {all}, {y_all}).value;
    double two = run(name, {b1, b2}, {y1, y2}).value;
    EXPECT_DOUBLE_EQ(one, two) << name;
  }
  EXPECT_DOUBLE_EQ(run("top1", {b1, b2}, {y1, y2}).value, 1.0 / 4.0);
}

TEST(ClassificationMetrics, ResetClearsState) {
  auto reg = registry();
  auto m = reg.create("top1", Params());
  m->update(scores({{0.1, 0.9}}), labels({0}, 2));  // wrong
  m->reset();
  m->update(scores({{0.9, 0.1}}), labels({0}, 2));  // right
  EXPECT_DOUBLE_EQ(m->compute().at(0).value, 1.0);
}

TEST(ClassificationMetrics, KLargerThanClassesIsAnError) {
  // Decision: error, not clamp (a clamped top5 over 3 classes would always read 1.0).
  auto p = scores({{0.1, 0.2, 0.7}});
  try {
    run("top5", {p}, {labels({2}, 3)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("top5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[1, 3]"), std::string::npos) << msg;
  }
}

TEST(ClassificationMetrics, NaNScoresAreAnError) {
  auto p = scores({{0.1, std::numeric_limits<double>::quiet_NaN()}});
  for (const char* name : {"top1", "mean_per_class"}) {
    try {
      run(name, {p}, {labels({0}, 2)});
      FAIL() << "expected an error for " << name;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
    }
  }
}

TEST(ClassificationMetrics, ShapeMismatchesAreErrors) {
  auto p = scores({{0.1, 0.9}, {0.9, 0.1}});
  // num_classes disagrees with the score columns: message gives the shape.
  try {
    run("top1", {p}, {labels({0, 1}, 3)});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run("top1", {p}, {labels({0}, 2)}), Error);      // row count
  EXPECT_THROW(run("top1", {p}, {labels({0, 2}, 2)}), Error);   // label out of range
  EXPECT_THROW(run("top1", {p}, {labels({0, -2}, 2)}), Error);  // negative other than -1
}

TEST(ClassificationMetrics, RegistryEntries) {
  auto reg = registry();
  for (const char* name : {"top1", "top5", "topk", "mean_per_class"}) {
    const auto& e = reg.get(name);
    EXPECT_EQ(e.version, "1");
    EXPECT_NE(std::find(e.tags.begin(), e.tags.end(), "task:classification"), e.tags.end());
    EXPECT_NE(e.help.find("lower class index"), std::string::npos) << name;
  }
  // k has a minimum of 1.
  EXPECT_THROW(reg.get("topk").schema.check("k", ParamValue(int64_t{0})), ConfigError);
}

}  // namespace
}  // namespace vlb
