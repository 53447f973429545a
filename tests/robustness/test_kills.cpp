// Killed sweeps leave nothing behind: kill -9 of a --jobs parent takes its workers along (they
// remove their temporaries), kill -9 of a worker is reported with exact counts (exit 3) and its
// temporary removed, SIGTERM of a sweep removes its temporaries, and a rerun completes the plan.
// VLB_TEST_PUBLISH_SLEEP_MS (Note [Test hooks] in run_guard.cpp) holds each finished run in its
// temporary for a while, so that the kills land while temporaries exist.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "robust_support.h"
#include "test_support.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace {

namespace fs = std::filesystem;
using namespace vlb::robust;
using vlb::test::read_text;
using vlb::test::TempDir;

class Kills : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = dir_ / "spec.yaml";
    vlb::test::write_text(spec_, small_spec(12));  // 24 runs
    results_ = dir_ / "results";
    exp_ = results_ + "/robust";
    env_ = "VLB_TEST_PUBLISH_SLEEP_MS=250 VLB_TEST_EXEC_LOG=" + (dir_ / "exec.log");
  }
  std::string run_args(int jobs) {
    return "run " + spec_ + " --no-progress --jobs " + std::to_string(jobs) + " --results " +
           results_;
  }
  // Runs of the plan whose directories are complete.
  size_t complete() {
    vlb::RunOptions o;
    o.results_root = results_;
    size_t n = 0;
    for (const auto& r : vlb::make_plan(spec_, o, vlb::builtins()).runs)
      n += vlb::run_is_done(exp_ + "/" + r.key16(), r.key);
    return n;
  }
  bool has_temporary() {
    for (const auto& l : leftovers(exp_))
      if (l.rfind(".tmp-", 0) == 0) return true;
    return false;
  }
  // Waits until `n` runs are published and some run sits in its temporary.
  bool mid_sweep(pid_t sweep, size_t n) {
    if (!wait_for_runs(exp_, n, 120, sweep)) return false;
    for (int i = 0; i < 500 && !has_temporary() && alive(sweep); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return has_temporary();
  }

  TempDir dir_;
  std::string spec_, results_, exp_, env_;
};

TEST_F(Kills, KillNineOfAJobsParentTakesItsWorkersAlongAndARestartCompletes) {
  pid_t parent = start_cli(run_args(3), dir_ / "run1.log", env_);
  ASSERT_TRUE(mid_sweep(parent, 3)) << read_text(dir_ / "run1.log");
  std::vector<pid_t> workers = children_of(parent);
  ASSERT_EQ(workers.size(), 3u) << read_text(dir_ / "run1.log");
  for (pid_t w : workers) EXPECT_NE(cmdline(w).find(" worker --plan "), std::string::npos);

  ASSERT_EQ(kill(parent, SIGKILL), 0);
  EXPECT_EQ(exit_code(wait_exit(parent, 30)), 128 + SIGKILL);
  EXPECT_TRUE(wait_gone(workers, 30)) << "a worker outlived its parent";
  // The workers removed their temporaries on the way out; only the parent's plan is left.
  for (const auto& l : leftovers(exp_)) EXPECT_EQ(l.rfind(".plan/local-", 0), 0u) << l;
  size_t before = complete();
  EXPECT_LT(before, 24u);

  auto again = vlb::test::run_cli(run_args(2));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("24 runs \u2014 " + std::to_string(24 - before) + " ran, " +
                              std::to_string(before) + " already done, 0 failed"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(complete(), 24u);
  EXPECT_EQ(leftovers(exp_), std::vector<std::string>{});
}

TEST_F(Kills, KillNineOfAWorkerIsReportedWithExactCounts) {
  pid_t parent = start_cli(run_args(2), dir_ / "run1.log", env_);
  ASSERT_TRUE(mid_sweep(parent, 2)) << read_text(dir_ / "run1.log");
  pid_t victim = 0;
  for (pid_t w : children_of(parent))
    if (cmdline(w).find(" --task 1 ") != std::string::npos) victim = w;
  ASSERT_NE(victim, 0) << read_text(dir_ / "run1.log");
  ASSERT_EQ(kill(victim, SIGKILL), 0);

  EXPECT_EQ(exit_code(wait_exit(parent, 120)), 3);
  std::string log = read_text(dir_ / "run1.log");
  std::smatch died, summary;
  ASSERT_TRUE(std::regex_search(log, died,
                                std::regex(R"(worker 1 died \(signal 9\): (\d+) runs? not run)")))
      << log;
  ASSERT_TRUE(std::regex_search(
      log, summary,
      std::regex("24 runs \u2014 (\\d+) ran, 0 already done, 0 failed, (\\d+) not run")))
      << log;
  int ran = std::stoi(summary[1]), not_run = std::stoi(summary[2]);
  SCOPED_TRACE(log);
  EXPECT_EQ(std::stoi(died[1]), not_run);
  EXPECT_GT(not_run, 0);
  EXPECT_EQ(ran + not_run, 24);
  EXPECT_EQ(complete(), static_cast<size_t>(ran));  // what it says ran is there, and only that
  // Every run started once; the victim's last one never finished.
  size_t started = lines_of(dir_ / "exec.log").size();
  EXPECT_GE(started, static_cast<size_t>(ran));
  EXPECT_LE(started, static_cast<size_t>(ran) + 1);
  EXPECT_EQ(leftovers(exp_), std::vector<std::string>{});  // its temporary went with it

  auto again = vlb::test::run_cli(run_args(2));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(std::to_string(not_run) + " ran, " + std::to_string(ran) +
                              " already done, 0 failed"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(complete(), 24u);
}

TEST_F(Kills, SigtermRemovesTheTemporariesOfASweepAndOfItsWorkers) {
  for (int jobs : {1, 2}) {
    SCOPED_TRACE("jobs " + std::to_string(jobs));
    fs::remove_all(results_);
    pid_t parent = start_cli(run_args(jobs), dir_ / "run.log", env_);
    ASSERT_TRUE(mid_sweep(parent, 1)) << read_text(dir_ / "run.log");
    std::vector<pid_t> workers = children_of(parent);
    EXPECT_EQ(workers.size(), static_cast<size_t>(jobs == 1 ? 0 : 2));
    ASSERT_EQ(kill(parent, SIGTERM), 0);
    EXPECT_EQ(exit_code(wait_exit(parent, 60)), 128 + SIGTERM) << read_text(dir_ / "run.log");
    EXPECT_TRUE(wait_gone(workers, 30));
    EXPECT_EQ(leftovers(exp_), std::vector<std::string>{});
    EXPECT_LT(complete(), 24u);
  }
}

}  // namespace
