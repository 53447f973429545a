// Runs owned by their spec: `vlb run` records the plan it executes (.plan/current.json), `vlb
// status` counts that plan's runs (exactly, even when run directories are missing) and lists
// failures with their error and log, and `vlb prune` removes only leftovers and failed runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vlb/reports/current_plan.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::read_text;
using vlb::test::run_cli;
using vlb::test::run_dir_names;
using vlb::test::TempDir;
using vlb::test::write_text;

class CurrentPlan : public ::testing::Test {
 protected:
  // ncm on a small synthetic dataset, one run per seed.
  std::string spec(const std::string& seeds) {
    std::string p = dir_ / "spec.yaml";
    write_text(p, "experiment: owned\n"
                  "dataset: {source: synth, params: {classes: 4, dim: 8, train_per_class: 6, "
                  "test_per_class: 5}}\n"
                  "methods: [{name: ncm}]\nmetrics: [top1]\nruntime: {seeds: " + seeds + "}\n");
    return p;
  }
  vlb::test::CommandResult run(const std::string& seeds, const std::string& extra = "") {
    return run_cli("run " + spec(seeds) + " --no-progress --results " + (dir_ / "results") + extra);
  }
  std::string exp() { return dir_ / "results/owned"; }
  TempDir dir_;
};

TEST_F(CurrentPlan, RunRecordsThePlanAndStatusCountsIt) {
  auto dry = run("[0, 1]", " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_FALSE(fs::exists(exp() + "/.plan/current.json")) << "a dry run records nothing";
  ASSERT_EQ(run("[0, 1]").exit_code, 0);
  auto cp = vlb::read_current_plan(exp());
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->experiment, "owned");
  ASSERT_EQ(cp->keys.size(), 2u);
  auto first = cp->keys;

  // The spec changes: seed 1 leaves the plan, seed 2 joins. The old run stays on disk, stale.
  ASSERT_EQ(run("[0, 2]", " --jobs 2").exit_code, 0);
  cp = vlb::read_current_plan(exp());
  ASSERT_EQ(cp->keys.size(), 2u);
  EXPECT_EQ(cp->keys[0], first[0]);
  EXPECT_NE(cp->keys[1], first[1]);
  EXPECT_EQ(run_dir_names(exp()).size(), 3u);
  auto st = run_cli("status " + exp());
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_NE(st.output.find("2 runs: 2 done, 0 failed, 0 queued or running, 0 pending"),
            std::string::npos) << st.output;
  EXPECT_NE(st.output.find("1 other run directories, not in that plan: 1 done, 0 failed"),
            std::string::npos) << st.output;
  EXPECT_EQ(st.output.find(first[1].substr(0, 16)), std::string::npos) << st.output;
  auto all = run_cli("status " + exp() + " --all");
  EXPECT_NE(all.output.find(first[1].substr(0, 16) + " ncm: done"), std::string::npos) << all.output;

  // A worker died before publishing seed 2's run; seed 0's run recorded a failure.
  fs::remove_all(exp() + "/" + cp->keys[1].substr(0, 16));
  std::string failed_dir = exp() + "/" + cp->keys[0].substr(0, 16);
  write_text(failed_dir + "/metrics.json",
             json{{"status", "failed"}, {"run_key", cp->keys[0]}, {"error", "boom in fit\nat line 2"}}
                 .dump());
  write_text(failed_dir + "/log.txt", "[0.00s] starting\n");
  st = run_cli("status " + exp());
  EXPECT_EQ(st.exit_code, 3) << st.output;
  EXPECT_NE(st.output.find("2 runs: 0 done, 1 failed, 0 queued or running, 1 pending"),
            std::string::npos) << st.output;
  EXPECT_NE(st.output.find(cp->keys[0].substr(0, 16) + " ncm: boom in fit\n    log: " + failed_dir +
                           "/log.txt"),
            std::string::npos) << st.output;
  EXPECT_EQ(st.output.find("at line 2"), std::string::npos) << "only the first line of the error";
}

TEST_F(CurrentPlan, PruneRemovesLeftoversAndFailuresOnlyWithYes) {
  ASSERT_EQ(run("[0, 1, 2]").exit_code, 0);
  auto old = vlb::read_current_plan(exp())->keys;
  ASSERT_EQ(run("[0, 1]").exit_code, 0);
  auto cur = vlb::read_current_plan(exp())->keys;
  std::string failed_dir = exp() + "/" + cur[1].substr(0, 16);
  write_text(failed_dir + "/metrics.json",
             json{{"status", "failed"}, {"run_key", cur[1]}, {"error", "diverged"}}.dump());

  auto list = run_cli("prune " + exp());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(old[2].substr(0, 16) + " ncm: not in the current plan\n"),
            std::string::npos) << list.output;
  EXPECT_NE(list.output.find(cur[1].substr(0, 16) + " ncm: failed: diverged\n"), std::string::npos)
      << list.output;
  EXPECT_EQ(list.output.find(cur[0].substr(0, 16)), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("2 run directories would be removed; rerun with --yes"),
            std::string::npos) << list.output;
  EXPECT_EQ(run_dir_names(exp()).size(), 3u) << "nothing removed without --yes";

  auto yes = run_cli("prune " + exp() + " --yes");
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_EQ(run_dir_names(exp()), std::vector<std::string>{cur[0].substr(0, 16)});
  EXPECT_TRUE(fs::exists(exp() + "/" + cur[0].substr(0, 16) + "/metrics.json"));
  EXPECT_TRUE(fs::exists(exp() + "/.plan/current.json"));
  auto again = run_cli("prune " + exp() + " --yes");
  EXPECT_NE(again.output.find("nothing to prune (2 runs in the current plan)"), std::string::npos)
      << again.output;

  // Without a record nothing can be told apart: nothing is touched.
  fs::remove(exp() + "/.plan/current.json");
  auto none = run_cli("prune " + exp() + " --yes");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("has no current plan"), std::string::npos) << none.output;
  EXPECT_EQ(run_dir_names(exp()).size(), 1u);
  EXPECT_EQ(run_cli("prune " + (dir_ / "nowhere")).exit_code, 2);
}

}  // namespace
