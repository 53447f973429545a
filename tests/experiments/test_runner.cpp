// Running plans: the results layout, skipping, --force, failures, crash safety, determinism.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace vlb::test {
void add_fakes(Registries& r);  // fakes.cpp
}

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::TempDir;

std::string spec_text(const std::string& methods, const std::string& extra = "") {
  return "experiment: ex\n"
         "dataset: {source: fake}\n"
         "methods: " + methods + "\n"
         "metrics: [acc]\n"
         "runtime: {threads: 1, seeds: [0, 1]}\n" + extra;
}

json read_json(const std::string& path) { return json::parse(vlb::test::read_text(path)); }

// Every entry of the experiment directory that is neither a published run directory nor the run
// locks (.locks, kept for good) or the recorded plan (.plan).
std::vector<std::string> temporaries(const std::string& exp_dir) {
  std::vector<std::string> out;
  if (!fs::exists(exp_dir)) return out;
  for (const auto& e : fs::directory_iterator(exp_dir)) {
    std::string name = e.path().filename().string();
    if (name == ".locks" || name == ".plan") continue;
    if (!std::regex_match(name, std::regex("[0-9a-f]{16}"))) out.push_back(name);
  }
  return out;
}

std::vector<std::string> run_dirs(const std::string& exp_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(exp_dir)) {
    std::string name = e.path().filename().string();
    if (std::regex_match(name, std::regex("[0-9a-f]{16}"))) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vlb::test::add_fakes(reg_);
    opts_.results_root = dir_ / "results";
    opts_.progress = false;
  }
  vlb::SweepSummary run(const std::string& text, const std::string& name = "spec.yaml") {
    std::string p = dir_ / name;
    vlb::test::write_text(p, text);
    out_.str("");
    auto s = vlb::run_experiment(p, opts_, reg_, out_);
    EXPECT_EQ(temporaries(s.experiment_dir), std::vector<std::string>{});
    return s;
  }
  std::string exp_dir() { return dir_ / "results/ex"; }

  vlb::Registries reg_;
  TempDir dir_;
  vlb::RunOptions opts_;
  std::ostringstream out_;
};

TEST_F(RunnerTest, WritesCompleteRunDirectories) {
  opts_.overrides = {"runtime.threads=1"};
  auto s = run(spec_text("[{name: centroid}]"));
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.ran, 2);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.experiment_dir, exp_dir());
  EXPECT_EQ(out_.str(), "ex: 2 runs \u2014 2 ran, 0 already done, 0 failed \u2192 " + exp_dir() + "\n");

  auto dirs = run_dirs(exp_dir());
  ASSERT_EQ(dirs.size(), 2u);
  std::set<int> indices;
  for (const auto& d : dirs) {
    for (const char* f : {"config.resolved.yaml", "metrics.json", "env.json", "overrides.txt"})
      EXPECT_TRUE(vlb::test::exists(d + "/" + f)) << d << "/" << f;
    json m = read_json(d + "/metrics.json");
    EXPECT_EQ(m["status"], "ok");
    std::string key = m["run_key"];
    EXPECT_EQ(key.substr(0, 16), fs::path(d).filename().string());
    indices.insert(m["plan_index"].get<int>());
    // Well-separated fake classes: the nearest-centroid fake gets every eval row right.
    EXPECT_DOUBLE_EQ(m["metrics"]["cls/acc"].get<double>(), 1.0);
    EXPECT_EQ(m["higher_is_better"]["cls/acc"], true);
    EXPECT_EQ(m["higher_is_better"]["cls/err"], false);
    EXPECT_EQ(m["n_train"], 9);  // 3 classes x 3 train rows
    EXPECT_EQ(m["n_eval"], 9);
    EXPECT_EQ(m["dataset_fingerprint"].get<std::string>().size(), 64u);

    json env = read_json(d + "/env.json");
    EXPECT_EQ(env["threads"], 1);
    EXPECT_FALSE(env["torch_version"].get<std::string>().empty());
    EXPECT_EQ(env["dataset"]["fingerprint"], m["dataset_fingerprint"]);
    EXPECT_EQ(env["dataset"]["source"], "fake");
    EXPECT_TRUE(std::regex_match(env["started_at"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
    EXPECT_GE(env["wall_seconds"].get<double>(), env["fit_seconds"].get<double>());

    EXPECT_EQ(vlb::test::read_text(d + "/overrides.txt"), "runtime.threads=1\n");
    std::string cfg = vlb::test::read_text(d + "/config.resolved.yaml");
    EXPECT_NE(cfg.find("seed: " + std::to_string(env["seed"].get<int>())), std::string::npos);
  }
  EXPECT_EQ(indices, (std::set<int>{0, 1}));
}

TEST_F(RunnerTest, RerunSkipsCompletedRunsAndForceRedoes) {
  std::string text = spec_text("[{name: centroid}]");
  run(text);
  auto dirs = run_dirs(exp_dir());
  std::string env_before = vlb::test::read_text(dirs[0] + "/env.json");

  auto again = run(text);
  EXPECT_EQ(again.ran, 0);
  EXPECT_EQ(again.skipped, 2);
  EXPECT_NE(out_.str().find("0 ran, 2 already done"), std::string::npos) << out_.str();
  EXPECT_EQ(vlb::test::read_text(dirs[0] + "/env.json"), env_before);  // untouched

  opts_.force = true;
  auto forced = run(text);
  EXPECT_EQ(forced.ran, 2);
  EXPECT_EQ(forced.skipped, 0);
  EXPECT_EQ(run_dirs(exp_dir()), dirs);  // replaced in place, nothing left beside them
}

TEST_F(RunnerTest, FailedRunIsRecordedAndRetriedAlone) {
  std::string text = spec_text("[{name: centroid}, {name: boom}]");
  text.replace(text.find("seeds: [0, 1]"), 13, "seeds: [0]");
  auto s = run(text);
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.ran, 2);
  EXPECT_EQ(s.failed, 1);
  int ok = 0, failed = 0;
  for (const auto& d : run_dirs(exp_dir())) {
    json m = read_json(d + "/metrics.json");
    if (m["status"] == "ok") {
      ++ok;
    } else {
      ++failed;
      EXPECT_EQ(m["status"], "failed");
      EXPECT_EQ(m["error"], "boom in fit");
      EXPECT_TRUE(m["metrics"].empty());
      EXPECT_EQ(m["plan_index"], 1);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(failed, 1);

  auto retry = run(text);
  EXPECT_EQ(retry.ran, 1);
  EXPECT_EQ(retry.skipped, 1);
  EXPECT_EQ(retry.failed, 1);
  EXPECT_EQ(run_dirs(exp_dir()).size(), 2u);
}

// A misspelt split is found when the plan is made: one error naming the splits there are, and
// nothing run or rewritten (earlier results stay as they were).
TEST_F(RunnerTest, MissingSplitStopsThePlanBeforeAnyRun) {
  auto s = run(spec_text("[{name: centroid}]", ""), "a.yaml");
  ASSERT_EQ(s.failed, 0);
  auto before = run_dirs(exp_dir());
  opts_.overrides = {"dataset.eval_split=tst"};
  vlb::test::write_text(dir_ / "a.yaml", spec_text("[{name: centroid}]"));
  try {
    vlb::run_experiment(dir_ / "a.yaml", opts_, reg_, out_);
    FAIL() << "a missing eval split must stop the plan";
  } catch (const vlb::ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("dataset.eval_split: 'tst' is not a split of dataset"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(has: test, train; did you mean 'test'?)"), std::string::npos) << msg;
  }
  EXPECT_EQ(run_dirs(exp_dir()), before);
}

// A process that dies mid-run (no exception, no cleanup) must leave no published directory:
// only its temporary, which the next sweep removes. Exit code 97 is the fake's own _Exit
// (fakes.cpp); `vlb run`'s exit 3 for failed runs is tested through the CLI (tests/cli).
TEST_F(RunnerTest, CrashMidRunLeavesNoFinalDirectory) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The death-test child re-runs this test body: share the results root through the environment.
  const char* inherited = std::getenv("VLB_TEST_CRASH_ROOT");
  std::string root = inherited ? inherited : opts_.results_root;
  if (!inherited) setenv("VLB_TEST_CRASH_ROOT", root.c_str(), 1);
  // The child exits without destructors: drop its own unused temp dir now.
  if (inherited) fs::remove_all(dir_.path());
  opts_.results_root = root;
  std::string spec = fs::path(root).parent_path() / "crash.yaml";
  vlb::test::write_text(spec, spec_text("[{name: crash}]"));
  EXPECT_EXIT(
      {
        std::ostringstream sink;
        vlb::run_experiment(spec, opts_, reg_, sink);
      },
      ::testing::ExitedWithCode(97), "");
  unsetenv("VLB_TEST_CRASH_ROOT");

  std::string exp = root + "/ex";
  EXPECT_TRUE(run_dirs(exp).empty());
  auto tmp = temporaries(exp);
  ASSERT_EQ(tmp.size(), 1u);
  EXPECT_EQ(tmp[0].rfind(".tmp-", 0), 0u);
  EXPECT_TRUE(vlb::test::exists(exp + "/" + tmp[0] + "/config.resolved.yaml"));  // it was mid-run
  EXPECT_FALSE(vlb::test::exists(exp + "/" + tmp[0] + "/metrics.json"));

  auto s = run(spec_text("[{name: centroid}]"));  // asserts no temporaries remain
  EXPECT_EQ(s.ran, 2);
  EXPECT_EQ(s.failed, 0);
}

TEST_F(RunnerTest, SameRunInTwoRootsGivesBitIdenticalMetrics) {
  // Noise large enough that the numbers depend on the seeded generator.
  std::string text = spec_text(
      "[{name: centroid, params: {noise: 3.0}}]",
      "sweep: {grid: {dataset.params.per_class: [20], dataset.params.classes: [5]}}\n");
  auto a = run(text);
  std::vector<std::string> metrics_a;
  for (const auto& d : run_dirs(a.experiment_dir))
    metrics_a.push_back(read_json(d + "/metrics.json")["metrics"].dump());

  opts_.results_root = dir_ / "other_results";
  auto b = run(text);
  std::vector<std::string> metrics_b;
  for (const auto& d : run_dirs(b.experiment_dir))
    metrics_b.push_back(read_json(d + "/metrics.json")["metrics"].dump());
  ASSERT_EQ(metrics_a.size(), 2u);
  EXPECT_EQ(metrics_a, metrics_b);
  double acc = read_json(run_dirs(a.experiment_dir)[0] + "/metrics.json")["metrics"]["cls/acc"];
  EXPECT_LT(acc, 1.0);  // the noise really reached the scores
}

TEST_F(RunnerTest, DryRunPrintsThePlanAndWritesNothing) {
  opts_.dry_run = true;
  std::string text = spec_text("[{name: centroid}]", "sweep: {grid: {dataset.params.spread: [0.1, 0.2]}}\n");
  auto s = run(text);
  EXPECT_EQ(s.total, 4);
  EXPECT_EQ(s.ran, 0);
  EXPECT_FALSE(vlb::test::exists(opts_.results_root));
  std::string table = out_.str();
  EXPECT_NE(table.find("spread=0.2"), std::string::npos) << table;
  EXPECT_NE(table.find("4 runs: 0 done, 4 pending"), std::string::npos) << table;

  opts_.dry_run = false;
  text.replace(text.find("[0.1, 0.2]"), 10, "[0.1]");
  run(text);
  opts_.dry_run = true;
  text.replace(text.find("[0.1]"), 5, "[0.1, 0.2]");
  auto after = run(text);
  EXPECT_EQ(after.skipped, 2);
  EXPECT_NE(out_.str().find("4 runs: 2 done, 2 pending"), std::string::npos) << out_.str();
  EXPECT_EQ(run_dirs(exp_dir()).size(), 2u);
}

}  // namespace
