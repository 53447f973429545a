// Paired t-interval and sign test: hand-computed cases, then scipy as an independent reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/report.h"
#include "vlb/reports/stats.h"

namespace vlb {
namespace {

TEST(PairedT, HandComputedThreeSeeds) {
  // d = {1, 2, 3}: mean 2, sample sd 1, dof 2. t_{0.975, 2} = 4.303 (printed t tables).
  auto r = paired_t_interval({1.0, 2.0, 3.0}, 0.95);
  ASSERT_TRUE(r.valid);
  EXPECT_EQ(r.n, 3);
  EXPECT_DOUBLE_EQ(r.mean, 2.0);
  EXPECT_DOUBLE_EQ(r.sd, 1.0);
  EXPECT_NEAR(r.t_crit, 4.303, 5e-4);
  EXPECT_NEAR(r.lo, 2.0 - 4.303 / std::sqrt(3.0), 5e-4);
  EXPECT_NEAR(r.hi, 2.0 + 4.303 / std::sqrt(3.0), 5e-4);
  // 90%: t_{0.95, 2} = 2.920; 99%: t_{0.995, 2} = 9.925.
  EXPECT_NEAR(paired_t_interval({1.0, 2.0, 3.0}, 0.90).t_crit, 2.920, 5e-4);
  EXPECT_NEAR(paired_t_interval({1.0, 2.0, 3.0}, 0.99).t_crit, 9.925, 5e-4);
}

TEST(PairedT, LargeNApproachesNormalQuantile) {
  std::vector<double> d(10001);
  for (size_t i = 0; i < d.size(); ++i) d[i] = (i % 2) ? 1.0 : -1.0;
  EXPECT_NEAR(paired_t_interval(d, 0.95).t_crit, 1.95996, 5e-4);
}

TEST(PairedT, DegenerateCases) {
  auto one = paired_t_interval({0.5});
  EXPECT_FALSE(one.valid);
  EXPECT_DOUBLE_EQ(one.mean, 0.5);
  auto none = paired_t_interval({});
  EXPECT_FALSE(none.valid);
  EXPECT_EQ(none.n, 0);
  // Identical differences: zero spread, the interval collapses onto the mean.
  auto flat = paired_t_interval({0.25, 0.25, 0.25});
  EXPECT_TRUE(flat.valid);
  EXPECT_DOUBLE_EQ(flat.lo, 0.25);
  EXPECT_DOUBLE_EQ(flat.hi, 0.25);
  EXPECT_THROW(paired_t_interval({1, 2}, 1.0), Error);
  EXPECT_THROW(paired_t_interval({1, 2}, 0.0), Error);
}

TEST(SignTest, HandComputedBinomialTails) {
  EXPECT_DOUBLE_EQ(sign_test_two_sided(3, 0), 0.25);           // 2 * 1/8
  EXPECT_DOUBLE_EQ(sign_test_two_sided(0, 5), 0.0625);         // 2 * 1/32
  EXPECT_DOUBLE_EQ(sign_test_two_sided(6, 1), 16.0 / 128.0);   // 2 * (1 + 7)/128
  EXPECT_DOUBLE_EQ(sign_test_two_sided(2, 2), 1.0);            // 2 * 11/16 capped
  EXPECT_DOUBLE_EQ(sign_test_two_sided(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_two_sided(1, 0), 1.0);            // 2 * 1/2
  EXPECT_NEAR(sign_test_two_sided(8, 2), 2.0 * (1 + 10 + 45) / 1024.0, 1e-15);
  EXPECT_THROW(sign_test_two_sided(-1, 2), Error);
}

/// A leaderboard with rows "base" and "m" in one column; per-seed top1 given.
Leaderboard two_rows(const std::vector<double>& base, const std::vector<double>& m,
                     bool higher_is_better = true) {
  std::vector<RunRecord> runs;
  int plan = 0;
  auto add = [&](const std::string& method, const std::vector<double>& v) {
    for (size_t s = 0; s < v.size(); ++s) {
      RunRecord r;
      r.dir = "/tmp/x/" + method + std::to_string(s);
      r.status = "ok";
      r.method = method;
      r.seed = static_cast<int64_t>(s);
      r.plan_index = plan++;
      r.config = {{"method.name", method}, {"runtime.seed", std::to_string(s)}};
      r.metrics = {{"err", v[s]}};
      r.higher_is_better = {{"err", higher_is_better}};
      runs.push_back(r);
    }
  };
  add("base", base);
  add("m", m);
  return build_leaderboard(runs, "demo");
}

TEST(ComparePaired, BetterWorseAndWithinNoise) {
  // Differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, interval 0.2 ± 4.303*0.1/sqrt(3) = [-0.048, 0.448]
  // covers 0 -> within noise, although every seed improved (sign test p = 0.25).
  auto lb = two_rows({0.5, 0.5, 0.5}, {0.6, 0.7, 0.8});
  auto pc = compare_paired(lb, "err", "m", "base", "");
  EXPECT_EQ(pc.verdict, "within noise");
  EXPECT_EQ(pc.mark, "≈");
  EXPECT_EQ(pc.better, 3);
  EXPECT_DOUBLE_EQ(pc.sign_p, 0.25);
  EXPECT_NE(pc.tooltip.find("sign test 3+/0-/0= p=0.25"), std::string::npos) << pc.tooltip;
  // Differences 0.2, 0.21, 0.19: half-width 4.303*0.01/sqrt(3) = 0.0248 -> [0.175, 0.225] > 0.
  auto lb2 = two_rows({0.5, 0.5, 0.5}, {0.7, 0.71, 0.69});
  EXPECT_EQ(compare_paired(lb2, "err", "m", "base", "").verdict, "better");
  // Same numbers with lower-is-better: the method is significantly worse.
  auto lb3 = two_rows({0.5, 0.5, 0.5}, {0.7, 0.71, 0.69}, false);
  auto worse = compare_paired(lb3, "err", "m", "base", "");
  EXPECT_EQ(worse.verdict, "worse");
  EXPECT_EQ(worse.mark, "▼");
  EXPECT_EQ(worse.worse, 3);
  // One seed: no test.
  auto lb4 = two_rows({0.5}, {0.7});
  EXPECT_EQ(compare_paired(lb4, "err", "m", "base", "").verdict, "n<2");
  EXPECT_THROW(compare_paired(lb4, "err", "nope", "base", ""), Error);
}

TEST(ComparePaired, PairsOnlySharedSeeds) {
  // base has seeds 0..2, m has 0..3: seed 3 has no partner and is left out.
  auto lb = two_rows({0.5, 0.6, 0.7}, {0.6, 0.7, 0.8, 0.0});
  auto pc = compare_paired(lb, "err", "m", "base", "");
  ASSERT_EQ(pc.seeds.size(), 3u);
  for (double d : pc.diffs) EXPECT_NEAR(d, 0.1, 1e-12);
  EXPECT_EQ(pc.verdict, "better");  // zero spread, positive mean
}

TEST(ScipyReference, IntervalsAndSignTestsAgree) {
  std::string py = test::system_python_with("scipy");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with scipy not available: scipy reference skipped";
  const std::vector<std::vector<double>> cases = {
      {0.012, -0.004, 0.031}, {1.5, 2.25, -0.5, 3.0, 0.75}, {-0.2, -0.1, -0.3, -0.25, -0.15, -0.05, 0.01},
      {0.001, 0.002}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}};
  const std::vector<std::pair<int, int>> signs = {{3, 0}, {7, 2}, {1, 9}, {12, 13}, {20, 3}};
  std::ostringstream script;
  script.precision(17);
  script << "import scipy.stats as st, numpy as np\n";
  for (const auto& c : cases) {
    script << "d=np.array([";
    for (double v : c) script << v << ",";
    script << "])\nlo,hi=st.t.interval(0.95, len(d)-1, loc=d.mean(), scale=st.sem(d))\n"
              "print(repr(lo), repr(hi))\n";
  }
  for (const auto& [p, n] : signs)
    script << "print(repr(st.binomtest(" << p << ", " << p + n << ", 0.5).pvalue))\n";
  test::TempDir dir;
  test::write_text(dir / "ref.py", script.str());
  auto r = test::run_command(py + " " + dir / "ref.py");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  for (const auto& c : cases) {
    double lo = 0, hi = 0;
    ASSERT_TRUE(in >> lo >> hi) << r.output;
    auto t = paired_t_interval(c, 0.95);
    EXPECT_NEAR(t.lo, lo, 1e-9 * std::max(1.0, std::fabs(lo)));
    EXPECT_NEAR(t.hi, hi, 1e-9 * std::max(1.0, std::fabs(hi)));
  }
  for (const auto& [p, n] : signs) {
    double ref = 0;
    ASSERT_TRUE(in >> ref) << r.output;
    EXPECT_NEAR(sign_test_two_sided(p, n), ref, 1e-12) << p << "/" << n;
  }
}

}  // namespace
}  // namespace vlb
