// `vlb diff A B`: config keys that differ, run key inputs and environment, metric deltas of
// matched runs, and the exact McNemar test on per-sample predictions.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/paired.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::run_cli;
using vlb::test::run_dir_names;
using vlb::test::TempDir;
using vlb::test::write_text;

std::string spec_text(const std::string& methods) {
  return "experiment: d\n"
         "dataset: {source: synth, params: {classes: 5, dim: 16, train_per_class: 8, "
         "test_per_class: 20, spread: 0.9}}\n"
         "methods: " + methods + "\nmetrics: [top1, mean_per_class]\nruntime: {seeds: [0]}\n";
}

json metrics_of(const std::string& run_dir) {
  return json::parse(vlb::test::read_text(run_dir + "/metrics.json"))["metrics"];
}

class Diff : public ::testing::Test {
 protected:
  std::string run(const std::string& methods, const std::string& root) {
    std::string p = dir_ / "spec.yaml";
    write_text(p, spec_text(methods));
    auto r = run_cli("run " + p + " --no-progress --results " + root);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return root + "/d";
  }
  TempDir dir_;
};

TEST_F(Diff, TwoRunsDifferingInOneParamListThatKeyAndTheDelta) {
  std::string exp = run("[{name: knn, params: {k: 1}}, {name: knn, params: {k: 9}}]", dir_ / "r");
  auto names = run_dir_names(exp);
  ASSERT_EQ(names.size(), 2u);
  std::string a, b;  // a: k = 1
  for (const auto& n : names) {
    std::string cfg = vlb::test::read_text(exp + "/" + n + "/config.resolved.yaml");
    (cfg.find("k: 1\n") != std::string::npos ? a : b) = exp + "/" + n;
  }
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto r = run_cli("diff " + a + " " + b);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("  method.params.k: 1 -> 9\n"), std::string::npos) << r.output;
  // The only differing key: nothing else of the resolved config is listed.
  std::smatch m;
  std::string cfg_block = r.output.substr(r.output.find("config (config.resolved.yaml):"));
  cfg_block = cfg_block.substr(0, cfg_block.find("run key inputs:"));
  EXPECT_EQ(std::count(cfg_block.begin(), cfg_block.end(), '\n'), 2) << cfg_block;
  EXPECT_NE(r.output.find("dataset fingerprint"), std::string::npos);
  EXPECT_NE(r.output.find("(both)"), std::string::npos);
  EXPECT_NE(r.output.find("git_sha"), std::string::npos);
  // The delta printed is B - A of metrics.json.
  double va = metrics_of(a)["cls/top1"], vb = metrics_of(b)["cls/top1"];
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("cls/top1 +([-0-9.e+]+) -> ([-0-9.e+]+) +delta ([-+0-9.e]+)")))
      << r.output;
  EXPECT_NEAR(std::stod(m[1]), va, 1e-5 * std::max(1.0, std::abs(va)));
  EXPECT_NEAR(std::stod(m[2]), vb, 1e-5 * std::max(1.0, std::abs(vb)));
  EXPECT_NEAR(std::stod(m[3]), vb - va, 1e-5);
  EXPECT_NE(va, vb) << "the constructed case must change the number";

  // Both runs kept predictions.h5 for the same rows: the discordant rows explain the delta.
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("McNemar \\(top-1, ([0-9]+) rows\\): right "
                                                        "in A only ([0-9]+), in B only ([0-9]+), p = ([-0-9.e+]+)")))
      << r.output;
  int n = std::stoi(m[1]), only_a = std::stoi(m[2]), only_b = std::stoi(m[3]);
  EXPECT_EQ(n, json::parse(vlb::test::read_text(a + "/metrics.json"))["n_eval"].get<int>());
  EXPECT_EQ(only_b - only_a, std::lround((vb - va) * n));
  double p = vlb::mcnemar_exact_p(only_a, only_b);
  EXPECT_NEAR(std::stod(m[4]), p, 1e-3 * p);
  EXPECT_NE(r.output.find("method versions        knn v"), std::string::npos) << r.output;
}

TEST_F(Diff, TreesMatchRunsAndUnrelatedTreesAreAnError) {
  std::string a = run("[{name: ncm}, {name: knn}]", dir_ / "a");
  std::string b = run("[{name: ncm}, {name: knn}]", dir_ / "b");
  auto same = run_cli("diff " + a + " " + b);
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("matched 2 runs; 0 only in A, 0 only in B"), std::string::npos)
      << same.output;
  EXPECT_NE(same.output.find("no resolved config key differs"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("2 of 2 matched runs have the same run key"), std::string::npos)
      << same.output;
  EXPECT_NE(same.output.find("delta +0\n"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("right in A only 0, in B only 0, p = 1\n"), std::string::npos)
      << same.output;

  std::string c = run("[{name: linear_probe}]", dir_ / "c");
  auto unrelated = run_cli("diff " + a + " " + c);
  EXPECT_EQ(unrelated.exit_code, 2) << unrelated.output;
  EXPECT_NE(unrelated.output.find("no run matches"), std::string::npos) << unrelated.output;
  EXPECT_NE(unrelated.output.find("B has linear_probe on"), std::string::npos) << unrelated.output;

  auto missing = run_cli("diff " + a + " " + (dir_ / "nope"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find(dir_ / "nope"), std::string::npos) << missing.output;
  auto mixed = run_cli("diff " + a + " " + b + "/" + run_dir_names(b)[0]);
  EXPECT_EQ(mixed.exit_code, 2) << mixed.output;
}

TEST(McNemar, CountsTheDiscordantRows) {
  std::vector<bool> a = {true, true, false, false, true, false, true};
  std::vector<bool> b = {true, false, true, false, false, false, true};
  auto m = vlb::mcnemar_exact(a, b);
  EXPECT_EQ(m.n, 7);
  EXPECT_EQ(m.both, 2);
  EXPECT_EQ(m.only_a, 2);
  EXPECT_EQ(m.only_b, 1);
  EXPECT_EQ(m.neither, 2);
  EXPECT_DOUBLE_EQ(m.p_value, 1.0);  // 2 vs 1: as balanced as 3 trials can be
  EXPECT_DOUBLE_EQ(vlb::mcnemar_exact_p(0, 0), 1.0);
  EXPECT_THROW(vlb::mcnemar_exact({true}, {true, false}), vlb::Error);
  EXPECT_THROW(vlb::mcnemar_exact_p(-1, 2), vlb::Error);
}

TEST(McNemar, EqualsScipyBinomtest) {
  std::string py = vlb::test::system_python_with("scipy");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with scipy not found";
  const std::vector<std::pair<int, int>> cases = {{0, 5}, {1, 9}, {7, 3}, {12, 12}, {40, 61},
                                                  {3, 0}, {150, 112}, {1, 0}};
  std::string list;
  for (const auto& [b, c] : cases) list += "(" + std::to_string(b) + "," + std::to_string(c) + "),";
  auto r = vlb::test::run_command(py + " -c \"from scipy.stats import binomtest\nfor b, c in [" +
                                  list + "]: print(repr(binomtest(b, b + c, 0.5).pvalue))\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  for (const auto& [b, c] : cases) {
    double want = 0;
    ASSERT_TRUE(in >> want) << r.output;
    EXPECT_NEAR(vlb::mcnemar_exact_p(b, c), want, 1e-10 * want)
        << b << " vs " << c;
  }
}

}  // namespace
