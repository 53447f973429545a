// End-to-end tests of the `vlb` CLI as a user drives it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "test_support.h"

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;

namespace {

using vlb::test::contains;

TEST(Cli, ListAndDescribePrintFromTheRegistry) {
  auto r = run_cli("list");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* name : {"zeroshot", "ncm", "linear_probe", "top1", "top5", "mean_per_class",
                           "synth", "h5", "markdown"})
    EXPECT_TRUE(contains(r.output, name)) << name << "\n" << r.output;
  r = run_cli("describe linear_probe");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "l2")) << r.output;
  EXPECT_TRUE(contains(r.output, "lbfgs|adam")) << r.output;
  r = run_cli("describe linear_prob");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "did you mean 'linear_probe'")) << r.output;
}

TEST(Cli, UnknownSubcommandOrOptionIsBadInput) {
  auto r = run_cli("frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("run --no-such-flag x.yaml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// The quickstart from scratch: sweep, leaderboard, and the committed regression baseline. The
// sweep is shared with every test process of this build (shared_sweep): tests that write copy it.
class Quickstart : public ::testing::Test {
 protected:
  static const vlb::test::SharedSweep& sweep() { return vlb::test::shared_sweep("quickstart"); }
  static std::string exp() { return sweep().experiment_dir; }
};

TEST_F(Quickstart, RunsEighteenRunsAndSkipsThemTheSecondTime) {
  EXPECT_TRUE(contains(sweep().run_output, "18 runs")) << sweep().run_output;
  int dirs = 0;
  for (const auto& e : fs::directory_iterator(exp()))
    if (e.is_directory() && e.path().filename().string()[0] != '.') {
      ++dirs;
      for (const char* f : {"config.resolved.yaml", "metrics.json", "env.json"})
        EXPECT_TRUE(fs::exists(e.path() / f)) << e.path() / f;
    }
  EXPECT_EQ(dirs, 18);
  TempDir copy;
  vlb::test::copy_experiment(exp(), copy.path());
  auto again = run_cli("run experiments/specs/quickstart.yaml --results " + copy.path());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "0 ran")) << again.output;
  EXPECT_TRUE(contains(again.output, "18 already done")) << again.output;
}

// The synthetic features are generated so that these orderings hold: this checks that the
// pipeline reproduces them, not the papers (CLIP, Tip-Adapter) that report the same ordering.
TEST_F(Quickstart, LeaderboardOrdersLinearProbeAboveNcmAboveZeroShotAt16Shots) {
  TempDir copy;
  const std::string mine = vlb::test::copy_experiment(exp(), copy.path());
  for (const char* f : {"leaderboard.md", "leaderboard.csv", "leaderboard.json"}) fs::remove(mine + "/" + f);
  auto r = run_cli("report " + mine + " --print");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "| linear_probe")) << r.output;
  EXPECT_TRUE(fs::exists(mine + "/leaderboard.md"));
  EXPECT_TRUE(fs::exists(mine + "/leaderboard.csv"));
  std::ifstream f(mine + "/leaderboard.json");
  auto lb = nlohmann::json::parse(f);
  auto mean_of = [&](const std::string& row_prefix, const std::string& column) {
    for (const auto& [row, cols] : lb["cells"]["cls/top1"].items())
      if (row.rfind(row_prefix, 0) == 0) return cols[column]["mean"].get<double>();
    ADD_FAILURE() << "no row " << row_prefix << " in " << lb.dump();
    return 0.0;
  };
  std::string c16;
  for (const auto& c : lb["columns"])
    if (contains(c.get<std::string>(), "16")) c16 = c.get<std::string>();
  ASSERT_FALSE(c16.empty()) << lb["columns"].dump();
  EXPECT_GT(mean_of("linear_probe", c16), mean_of("ncm", c16));
  EXPECT_GT(mean_of("ncm", c16), mean_of("zeroshot", c16));
}

TEST_F(Quickstart, PassesTheCommittedBaselineAndAPerturbedResultFails) {
  const std::string baseline = vlb::test::source_dir() + "/tests/regression/baselines/quickstart.json";
  auto ok = run_cli("check --baseline " + baseline + " " + exp());
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  // Copy the results, lower one metric of every linear_probe run by 5 points: check must fail.
  TempDir copy;
  vlb::test::copy_experiment(exp(), copy.path());
  for (const auto& e : fs::directory_iterator(copy.path() + "/quickstart")) {
    auto cfg = e.path() / "config.resolved.yaml";
    if (!fs::exists(cfg) || !contains(vlb::test::read_text(cfg.string()), "linear_probe")) continue;
    auto mpath = (e.path() / "metrics.json").string();
    auto m = nlohmann::json::parse(vlb::test::read_text(mpath));
    m["metrics"]["cls/top1"] = m["metrics"]["cls/top1"].get<double>() - 0.05;
    vlb::test::write_text(mpath, m.dump());
  }
  auto bad = run_cli("check --baseline " + baseline + " " + copy.path() + "/quickstart");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "linear_probe")) << bad.output;
  EXPECT_TRUE(contains(bad.output, "FAILED")) << bad.output;
}

TEST(Cli, SameSpecTwiceGivesBitIdenticalMetrics) {
  TempDir a, b;
  const std::string set = " --set runtime.seeds=[1] --set methods.0.name=linear_probe";
  ASSERT_EQ(run_cli("run experiments/specs/quickstart.yaml --results " + a.path() + set).exit_code, 0);
  ASSERT_EQ(run_cli("run experiments/specs/quickstart.yaml --results " + b.path() + set).exit_code, 0);
  int compared = 0;
  for (const auto& e : fs::directory_iterator(a.path() + "/quickstart")) {
    if (e.path().filename().string()[0] == '.') continue;
    auto other = fs::path(b.path()) / "quickstart" / e.path().filename();
    ASSERT_TRUE(fs::exists(other / "metrics.json")) << other;
    auto ma = nlohmann::json::parse(vlb::test::read_text((e.path() / "metrics.json").string()));
    auto mb = nlohmann::json::parse(vlb::test::read_text((other / "metrics.json").string()));
    EXPECT_EQ(ma["metrics"].dump(), mb["metrics"].dump());
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

TEST(Cli, BadSpecsFailWithLocatedMessagesAndWriteNothing) {
  TempDir t;
  struct Case { std::string yaml, expect; };
  std::vector<Case> cases = {
      {"experiment: x\ndataset: {source: synth\nmethods: [{name: ncm}]\n", "bad.yaml:"},
       {"experiment: x\ndataset: {source: synth}\nmethods:\n  - name: linear_prob\nmetrics: [top1]\n",
       "did you mean 'linear_probe'"},
      {"experiment: x\ndataset: {source: synth}\nmethods: [{name: ncm}]\nmetrics: [top1]\nruntim: {}\n",
       "did you mean 'runtime'"},
      {"experiment: x\ndataset: {source: synth, params: {classes: -3}}\nmethods: [{name: ncm}]\n"
       "metrics: [top1]\n", "out of range"},
  };
  for (const auto& c : cases) {
    vlb::test::write_text(t / "bad.yaml", c.yaml);
    auto r = run_cli("run " + t / "bad.yaml" + " --results " + t / "results");
    EXPECT_EQ(r.exit_code, 2) << c.yaml << r.output;
    EXPECT_TRUE(contains(r.output, c.expect)) << "expected '" << c.expect << "' in:\n" << r.output;
    EXPECT_TRUE(std::regex_search(r.output, std::regex("bad\\.yaml:[0-9]+:[0-9]+"))) << r.output;
    EXPECT_FALSE(fs::exists(t / "results/x")) << "a bad spec must not create results";
  }
}

TEST(Cli, SynthInspectVerifyAndAWrongShapeFile) {
  TempDir t;
  auto r = run_cli("synth --out " + t / "s.h5" + " --set classes=5 --set test_per_class=4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("inspect --verify " + t / "s.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "fingerprint verified")) << r.output;
  r = run_cli("synth --out " + t / "x.h5" + " --set clases=5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "did you mean 'classes'")) << r.output;
  EXPECT_FALSE(fs::exists(t / "x.h5"));

  std::string py = vlb::test::system_python_with("h5py, numpy");
  if (py.empty()) GTEST_SKIP() << "python3 with h5py not available: wrong-shape file case skipped";
  // Rewrite /images/features as 1-D with h5py: the validator must name the group and the shape.
  auto w = vlb::test::run_command(
      py + " -c \"import h5py,numpy as np; f=h5py.File('" + t / "s.h5" +
      "','r+'); del f['images/features']; f['images/features']=np.zeros(7,dtype='f4')\"");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  r = run_cli("inspect " + t / "s.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "/images/features")) << r.output;
}

TEST(Cli, TruncatedNpyIsALocatedErrorAndLeavesNoOutput) {
  TempDir t;
  std::string py = vlb::test::system_python_with("numpy");
  if (py.empty()) GTEST_SKIP() << "python3 with numpy not available";
  auto w = vlb::test::run_command(
      py + " -c \"import numpy as np; np.save('" + t / "train_features.npy" +
      "', np.ones((10,4),'f2')); np.save('" + t / "train_labels.npy" +
      "', np.zeros(10,'i8')); open('" + t / "classnames.txt" + "','w').write('a\\n')\"");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  fs::resize_file(t / "train_features.npy", fs::file_size(t / "train_features.npy") - 8);
  auto r = run_cli("convert npy --dir " + t.path() + " --out " + t / "out.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "train_features.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "truncated")) << r.output;
  EXPECT_FALSE(fs::exists(t / "out.h5"));
  for (const auto& e : fs::directory_iterator(t.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace

namespace {

// Progress goes to a terminal only: `script` gives the CLI a pseudo-terminal.
TEST(Cli, ProgressLineOnATerminalAndQuietInCi) {
  if (vlb::test::run_command("command -v script").exit_code != 0)
    GTEST_SKIP() << "`script` (bsdutils) not available: cannot fake a terminal";
  TempDir t;
  const std::string run = std::string(VLB_CLI) + " run experiments/specs/quickstart.yaml --set runtime.seeds=[0] --results ";
  auto tty = vlb::test::run_command("cd '" + vlb::test::source_dir() + "' && env -u CI script -qec \"" +
                                    run + t / "a" + "\" /dev/null");
  ASSERT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_TRUE(contains(tty.output, "[1/6]")) << tty.output;
  EXPECT_TRUE(contains(tty.output, "ETA")) << tty.output;
  auto ci = vlb::test::run_command("cd '" + vlb::test::source_dir() + "' && CI=true script -qec \"" +
                                   run + t / "b" + "\" /dev/null");
  ASSERT_EQ(ci.exit_code, 0) << ci.output;
  EXPECT_FALSE(contains(ci.output, "ETA")) << ci.output;
  EXPECT_TRUE(contains(ci.output, "6 runs")) << ci.output;
}

}  // namespace
