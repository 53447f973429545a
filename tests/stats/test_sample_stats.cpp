// Per-sample statistics (vlb/experiments/sample_stats.h) against independent references: exact
// McNemar against scipy.stats.binomtest and statsmodels' mcnemar(exact=True), the percentile
// bootstrap against scipy.stats.bootstrap, Holm against statsmodels' multipletests; and
// RunSamples rebuilt from real runs' predictions.h5.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <map>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/experiments/sample_stats.h"

namespace vlb {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Samples = std::vector<std::shared_ptr<const RunSamples>>;

std::vector<int64_t> iota_rows(size_t n) {
  std::vector<int64_t> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = static_cast<int64_t>(i);
  return r;
}

/// 0/1 correctness with `both` rows right on both sides, then only_a, only_b, neither.
std::pair<std::vector<double>, std::vector<double>> table(int both, int only_a, int only_b, int neither) {
  std::vector<double> a, b;
  auto add = [&](int n, double x, double y) {
    for (int i = 0; i < n; ++i) {
      a.push_back(x);
      b.push_back(y);
    }
  };
  add(both, 1, 1);
  add(only_a, 1, 0);
  add(only_b, 0, 1);
  add(neither, 0, 0);
  return {a, b};
}

std::shared_ptr<const RunSamples> samples(const std::vector<double>& v, const std::string& digest,
                                          std::vector<int64_t> rows = {}) {
  if (rows.empty()) rows = iota_rows(v.size());
  return RunSamples::from_rows(rows, {{"cls/top1", v}}, {"cls/top1"}, digest);
}

/// Runs `code` with Debian's python3 and returns what it printed; "" (and a skip message in
/// `skip`) when a module is missing.
std::string python(const std::string& modules, const std::string& code, std::string& skip) {
  std::string py = test::system_python_with(modules);
  if (py.empty()) {
    skip = "/usr/bin/python3 lacks one of " + modules + ": reference check skipped";
    return "";
  }
  test::TempDir t;
  test::write_text(t / "ref.py", code);
  auto r = test::run_command(py + " " + t / "ref.py");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

std::vector<double> numbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<double> out;
  for (double x; in >> x;) out.push_back(x);
  return out;
}

const std::vector<std::array<int, 2>> kTables = {{3, 0},  {7, 2},   {10, 10}, {1, 15},
                                                  {40, 25}, {250, 300}, {0, 5},  {12, 13}};

TEST(McNemar, ExactPMatchesScipyBinomtestAndStatsmodels) {
  std::string code =
      "from scipy.stats import binomtest\n"
      "from statsmodels.stats.contingency_tables import mcnemar\n"
      "for b, c in [";
  for (const auto& [b, c] : kTables) code += fmt::format("({}, {}), ", b, c);
  code += "]:\n"
          "    p1 = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0\n"
          "    p2 = mcnemar([[5, b], [c, 4]], exact=True).pvalue\n"
          "    print(repr(p1), repr(p2))\n";
  std::string skip;
  auto out = numbers(python("scipy, statsmodels", code, skip));
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_EQ(out.size(), 2 * kTables.size());
  BootstrapOptions opt;
  opt.resamples = 200;
  for (size_t i = 0; i < kTables.size(); ++i) {
    const auto [b, c] = kTables[i];
    const double want = out[2 * i];
    EXPECT_NEAR(out[2 * i + 1], want, 1e-12 * std::max(1e-300, want)) << "scipy vs statsmodels";
    EXPECT_NEAR(binomial_two_sided_half(b, b + c), want, 1e-10 * want) << b << " " << c;
    // Through paired_test on rows that hold that table (plus concordant rows, which do not count).
    auto [va, vb] = table(5, b, c, 4);
    PairedTest t = paired_test({samples(va, "a")}, {samples(vb, "b")}, "cls/top1", opt);
    EXPECT_EQ(t.test, "mcnemar");
    EXPECT_EQ(t.only_a, b);
    EXPECT_EQ(t.only_b, c);
    EXPECT_NEAR(t.p, want, 1e-10 * want) << b << " " << c;
    EXPECT_DOUBLE_EQ(t.diff, static_cast<double>(b - c) / static_cast<double>(va.size()));
  }
}

TEST(McNemar, PoolsDiscordantPairsOfDistinctSeedsOnly) {
  // Seed 0: 3 vs 1 discordant, seed 1: 4 vs 2, seed 2 identical to seed 0 on both sides.
  auto [a0, b0] = table(10, 3, 1, 6);
  auto [a1, b1] = table(10, 4, 2, 4);
  Samples a = {samples(a0, "a0"), samples(a1, "a1"), samples(a0, "a0")};
  Samples b = {samples(b0, "b0"), samples(b1, "b1"), samples(b0, "b0")};
  BootstrapOptions opt;
  opt.resamples = 100;
  PairedTest t = paired_test(a, b, "cls/top1", opt);
  EXPECT_EQ(t.seeds, 3);
  EXPECT_EQ(t.effective_seeds, 2);
  EXPECT_TRUE(t.seeds_identical);
  EXPECT_EQ(t.only_a, 7);
  EXPECT_EQ(t.only_b, 3);
  EXPECT_DOUBLE_EQ(t.p, binomial_two_sided_half(7, 10));
  // Every seed the same on both sides: effective n = 1, the one seed's table.
  PairedTest same = paired_test({samples(a0, "a"), samples(a0, "a")}, {samples(b0, "b"), samples(b0, "b")},
                                "cls/top1", opt);
  EXPECT_EQ(same.effective_seeds, 1);
  EXPECT_EQ(same.only_a + same.only_b, 4);
}

TEST(Bootstrap, RowMeanIntervalMatchesScipyPercentileBootstrap) {
  // Two data sets: 0/1 correctness (mean 0.7) and a skewed continuous per-row value.
  std::vector<double> zo, cont;
  for (int i = 0; i < 400; ++i) zo.push_back((i * 7) % 10 < 7 ? 1.0 : 0.0);
  for (int i = 0; i < 300; ++i) cont.push_back(std::pow(((i * 37) % 101) / 101.0, 3.0));
  std::string code = "import numpy as np\nfrom scipy.stats import bootstrap\n";
  auto list = [](const std::vector<double>& v) {
    std::string s = "np.array([";
    for (double x : v) s += fmt::format("{},", x);
    return s + "])";
  };
  code += "for x in [" + list(zo) + ", " + list(cont) + "]:\n"
          "    r = bootstrap((x,), np.mean, confidence_level=0.95, n_resamples=20000, "
          "method='percentile', random_state=np.random.default_rng(0))\n"
          "    print(repr(r.confidence_interval.low), repr(r.confidence_interval.high))\n";
  std::string skip;
  auto out = numbers(python("numpy, scipy", code, skip));
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_EQ(out.size(), 4u);
  BootstrapOptions opt;
  opt.resamples = 20000;
  opt.seed = 7;
  int k = 0;
  for (const auto* v : {&zo, &cont}) {
    auto s = RunSamples::from_rows(iota_rows(v->size()), {{"m", *v}}, {}, "d");
    BootstrapInterval bi = bootstrap_interval({s}, "m", opt);
    ASSERT_TRUE(bi.valid) << bi.note;
    // Monte-Carlo error of a 2.5 % quantile at 20,000 resamples is ~2 % of the standard error;
    // tolerance: 0.15 standard errors of the mean.
    double mean = 0, ss = 0;
    for (double x : *v) mean += x / v->size();
    for (double x : *v) ss += (x - mean) * (x - mean);
    const double se = std::sqrt(ss / (v->size() - 1) / v->size());
    EXPECT_NEAR(bi.lo, out[2 * k], 0.15 * se) << k;
    EXPECT_NEAR(bi.hi, out[2 * k + 1], 0.15 * se) << k;
    EXPECT_EQ(bi.resamples, 20000);
    ++k;
  }
}

TEST(Bootstrap, IdenticalSeedsCollapseAndTheSeedFixesTheResult) {
  std::vector<double> v;
  for (int i = 0; i < 200; ++i) v.push_back(i % 3 ? 1.0 : 0.0);
  BootstrapOptions opt;
  opt.resamples = 500;
  auto one = bootstrap_interval({samples(v, "x")}, "cls/top1", opt);
  auto three = bootstrap_interval({samples(v, "x"), samples(v, "x"), samples(v, "x")}, "cls/top1", opt);
  EXPECT_EQ(three.seeds, 3);
  EXPECT_EQ(three.effective_seeds, 1);
  // Three copies of one seed are one observation: exactly the one-seed interval, not a narrower one.
  EXPECT_EQ(three.lo, one.lo);
  EXPECT_EQ(three.hi, one.hi);
  EXPECT_LT(one.lo, 2.0 / 3.0);
  EXPECT_GT(one.hi, 2.0 / 3.0);
  auto again = bootstrap_interval({samples(v, "x")}, "cls/top1", opt);
  EXPECT_EQ(again.lo, one.lo);
  EXPECT_EQ(again.hi, one.hi);
  opt.resamples = 0;
  EXPECT_FALSE(bootstrap_interval({samples(v, "x")}, "cls/top1", opt).valid);
}

TEST(Holm, MatchesStatsmodelsMultipletests) {
  const std::vector<std::vector<double>> cases = {
      {0.01, 0.04, 0.03, 0.005}, {0.2, 0.2, 0.01, 0.5, 0.04}, {1.0, 0.9, 0.001}, {0.03}, {0.0, 0.5, 0.02, 0.02}};
  std::string code = "from statsmodels.stats.multitest import multipletests\nfor p in [";
  for (const auto& c : cases) {
    code += "[";
    for (double p : c) code += fmt::format("{},", p);
    code += "],";
  }
  code += "]:\n    print(' '.join(repr(float(x)) for x in multipletests(p, method='holm')[1]))\n";
  std::string skip;
  auto out = numbers(python("statsmodels", code, skip));
  if (!skip.empty()) GTEST_SKIP() << skip;
  size_t at = 0;
  for (const auto& c : cases) {
    auto adj = holm_adjust(c);
    ASSERT_EQ(adj.size(), c.size());
    for (double x : adj) EXPECT_NEAR(x, out.at(at++), 1e-15);
  }
  EXPECT_EQ(at, out.size());
  EXPECT_THROW(holm_adjust({0.5, 1.5}), Error);
}

TEST(PairedTest, RefusesRunsOnDifferentEvaluationRows) {
  std::vector<double> v(50, 1.0);
  auto a = samples(v, "a", iota_rows(50));
  std::vector<int64_t> other = iota_rows(50);
  other[10] = 999;
  auto b = samples(v, "b", other);
  BootstrapOptions opt;
  try {
    paired_test({a}, {b}, "cls/top1", opt);
    FAIL() << "runs on different rows were paired";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("predictions.h5: /rows"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot be paired"), std::string::npos) << e.what();
  }
  EXPECT_THROW(paired_test({a}, {}, "cls/top1", opt), Error);
}

TEST(PairedTest, BootstrapPValueOfContinuousMetrics) {
  // Not 0/1: the paired bootstrap, p from its distribution with the +1 correction.
  std::vector<double> a, b;
  for (int i = 0; i < 300; ++i) {
    a.push_back(0.5 + 0.3 * ((i * 13) % 7) / 7.0);
    b.push_back(a.back() - 0.05);  // uniformly worse by 0.05
  }
  auto sa = RunSamples::from_rows(iota_rows(300), {{"m", a}}, {}, "a");
  auto sb = RunSamples::from_rows(iota_rows(300), {{"m", b}}, {}, "b");
  BootstrapOptions opt;
  opt.resamples = 999;
  PairedTest t = paired_test({sa}, {sb}, "m", opt);
  EXPECT_EQ(t.test, "paired bootstrap");
  EXPECT_NEAR(t.diff, 0.05, 1e-12);
  EXPECT_NEAR(t.lo, 0.05, 1e-9);  // the difference is the same on every row
  EXPECT_DOUBLE_EQ(t.p, 2.0 / 1000.0);  // no resample <= 0: 2 (0 + 1) / (999 + 1)
  PairedTest none = paired_test({sa}, {sa}, "m", opt);
  EXPECT_DOUBLE_EQ(none.p, 1.0);
}

// ---- RunSamples from real runs ------------------------------------------------------------

TEST(RunSamples, RebuildsTheRunsOwnMetricsAndDetectsIdenticalSeeds) {
  const auto& sweep = test::shared_sweep("quickstart");
  std::map<std::string, std::vector<std::shared_ptr<const RunSamples>>> by_method;
  for (const auto& name : test::run_dir_names(sweep.experiment_dir)) {
    const std::string dir = sweep.experiment_dir + "/" + name;
    const std::string cfg = test::read_text(dir + "/config.resolved.yaml");
    if (cfg.find("shots: 16") == std::string::npos) continue;
    json mj = json::parse(test::read_text(dir + "/metrics.json"));
    auto s = RunSamples::load(dir, builtins());
    EXPECT_EQ(s->size(), 1000);
    // Per-row values average to the stored value bit for bit; mean_per_class recomputes on all rows.
    auto top1 = s->per_row("cls/top1");
    ASSERT_TRUE(top1);
    double sum = 0;
    for (double x : *top1) sum += x;
    EXPECT_EQ(sum / top1->size(), mj["metrics"]["cls/top1"].get<double>()) << dir;
    EXPECT_TRUE(s->zero_one("cls/top1"));
    EXPECT_FALSE(s->per_row("cls/mean_per_class"));
    std::vector<int64_t> all(s->size());
    for (int64_t i = 0; i < s->size(); ++i) all[i] = i;
    EXPECT_EQ(s->value_on("cls/mean_per_class", all), mj["metrics"]["cls/mean_per_class"].get<double>());
    EXPECT_EQ(s->value_on("cls/top5", all), mj["metrics"]["cls/top5"].get<double>());
    EXPECT_THROW(s->value_on("cls/top1", {0, 1000}), Error);
    for (const char* m : {"zeroshot", "ncm", "linear_probe"})
      if (cfg.find(std::string("name: ") + m + "\n") != std::string::npos) by_method[m].push_back(s);
  }
  ASSERT_EQ(by_method["zeroshot"].size(), 3u);
  ASSERT_EQ(by_method["linear_probe"].size(), 3u);
  // Zero-shot ignores the seed: one digest. The probe trains on each seed's own draw.
  const auto& z = by_method["zeroshot"];
  EXPECT_EQ(z[0]->digest(), z[1]->digest());
  EXPECT_EQ(z[0]->digest(), z[2]->digest());
  const auto& lp = by_method["linear_probe"];
  EXPECT_NE(lp[0]->digest(), lp[1]->digest());
  BootstrapOptions opt;
  BootstrapInterval zi = bootstrap_interval(z, "cls/top1", opt);
  EXPECT_EQ(zi.effective_seeds, 1);
  BootstrapInterval li = bootstrap_interval(lp, "cls/mean_per_class", opt);
  EXPECT_EQ(li.effective_seeds, 3);
  EXPECT_TRUE(li.valid);
}

TEST(RunSamples, RunWithoutPredictionsIsADataErrorNamingIt) {
  test::TempDir t;
  test::write_text(t / "spec.yaml",
                   "experiment: np\ndataset: {source: synth, params: {classes: 3, dim: 8, train_per_class: 4, "
                   "test_per_class: 5}}\nmethods: [{name: ncm}]\nmetrics: [top1]\nruntime: {seeds: [0], predictions: none}\n");
  auto r = test::run_cli("run " + t / "spec.yaml" + " --no-progress --results " + t / "r");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto names = test::run_dir_names(t / "r/np");
  ASSERT_EQ(names.size(), 1u);
  const std::string dir = t / ("r/np/" + names[0]);
  try {
    RunSamples::load(dir, builtins());
    FAIL() << "loaded a run without predictions.h5";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no predictions.h5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vlb
