// A real single-node Slurm (slurm_cluster.sh: munged + slurmctld + slurmd from Debian's packages,
// all state in a temp dir): a sweep submitted as one array job equals a local --jobs 1 run, and a
// cancelled array task is completed by a re-submission that redoes no finished run.
// Skips with the reason where Slurm cannot start (not root, packages missing, daemons fail).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "test_support.h"
#include "vlb/experiments/workers.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::read_text;
using vlb::test::run_dir_names;
using vlb::test::run_cli;
using vlb::test::run_command;
using vlb::test::TempDir;

const std::string kScript = vlb::test::source_dir() + "/tests/slurm/slurm_cluster.sh";
const std::string kSpec = "experiments/specs/quickstart.yaml";

class SlurmCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto r = run_command(kScript + " start " + dir_->path());
    if (r.exit_code == 0) {
      conf_ = new std::string(dir_->path() + "/slurm.conf");
    } else {
      skip_ = new std::string(r.exit_code == 77 ? r.output : "slurm_cluster.sh failed: " + r.output);
    }
  }
  static void TearDownTestSuite() {
    // Stops the daemons even when a test failed half-way (bounded inside the script).
    if (dir_) run_command(kScript + " stop " + dir_->path());
    delete dir_;
    delete conf_;
    delete skip_;
    dir_ = nullptr;
    conf_ = skip_ = nullptr;
  }
  void SetUp() override {
    if (skip_) GTEST_SKIP() << "Slurm cannot run here: " << *skip_;
  }
  // Runs the CLI with this cluster's SLURM_CONF (and extra environment).
  static vlb::test::CommandResult vlb(const std::string& args, const std::string& env = "") {
    return run_command("cd " + vlb::test::source_dir() + " && SLURM_CONF=" + *conf_ + " " + env +
                       " timeout 120 " + VLB_CLI + " " + args);
  }
  static vlb::test::CommandResult slurm(const std::string& cmd) {
    return run_command("SLURM_CONF=" + *conf_ + " timeout 20 " + cmd);
  }

  static TempDir* dir_;
  static std::string* conf_;
  static std::string* skip_;
};
TempDir* SlurmCluster::dir_ = nullptr;
std::string* SlurmCluster::conf_ = nullptr;
std::string* SlurmCluster::skip_ = nullptr;


bool done(const std::string& exp, const std::string& key) {
  std::string f = exp + "/" + key.substr(0, 16) + "/metrics.json";
  if (!fs::exists(f)) return false;
  auto j = json::parse(read_text(f));
  return j["status"] == "ok" && j["run_key"] == key;
}

std::string job_id_in(const std::string& output) {
  std::smatch m;
  if (!std::regex_search(output, m, std::regex("submitted job ([0-9]+)"))) return "";
  return m[1];
}

TEST_F(SlurmCluster, ArrayJobEqualsALocalRunAndWritesTheReport) {
  TempDir local, cluster;
  auto a = vlb("run " + kSpec + " --no-progress --jobs 1 --results " + local.path());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(vlb("report " + local.path() + "/quickstart --format csv").exit_code, 0);

  // 18 runs, 6 per task: a 3-task array on a 2-CPU node.
  auto b = vlb("run " + kSpec + " --backend slurm --runs-per-task 6 --wait --poll 0.3 --results " +
               cluster.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_FALSE(job_id_in(b.output).empty()) << b.output;
  EXPECT_NE(b.output.find("18 runs: 18 done, 0 failed"), std::string::npos) << b.output;
  std::string exp_l = local.path() + "/quickstart", exp_c = cluster.path() + "/quickstart";
  auto names = run_dir_names(exp_l);
  ASSERT_EQ(names.size(), 18u);
  ASSERT_EQ(run_dir_names(exp_c), names);
  for (const auto& n : names)
    EXPECT_EQ(read_text(exp_l + "/" + n + "/metrics.json"), read_text(exp_c + "/" + n + "/metrics.json"))
        << n;
  // The report --wait wrote, from the run directories alone, equals the local one (the CSV holds
  // the metric cells; the Markdown also has timings and hosts, which differ by nature).
  ASSERT_TRUE(fs::exists(exp_c + "/leaderboard.md"));
  EXPECT_EQ(read_text(exp_c + "/leaderboard.csv"), read_text(exp_l + "/leaderboard.csv"));
  // Every task logged its runs.
  for (int t = 0; t < 3; ++t) {
    std::string log = read_text(exp_c + "/.plan/submit-001/logs/task-" + std::to_string(t) + ".out");
    EXPECT_NE(log.find("6 ran, 0 already done, 0 failed"), std::string::npos) << log;
  }
  // Submitting again finds nothing to do.
  auto c = vlb("run " + kSpec + " --backend slurm --results " + cluster.path());
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("nothing to submit"), std::string::npos) << c.output;
}

// A method sweep (CODER's CI spec: per-method grids, 48 runs) as a 4-task array.
TEST_F(SlurmCluster, MethodSweepArrayEqualsALocalRun) {
  TempDir local, cluster;
  const std::string spec = "experiments/specs/coder_synth.yaml";
  ASSERT_EQ(vlb("run " + spec + " --no-progress --results " + local.path()).exit_code, 0);
  auto b = vlb("run " + spec + " --backend slurm --runs-per-task 12 --wait --poll 0.3 --results " +
               cluster.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("48 runs: 48 done, 0 failed"), std::string::npos) << b.output;
  auto names = run_dir_names(local.path() + "/coder_synth");
  ASSERT_EQ(names.size(), 48u);
  ASSERT_EQ(run_dir_names(cluster.path() + "/coder_synth"), names);
  for (const auto& n : names)
    EXPECT_EQ(read_text(local.path() + "/coder_synth/" + n + "/metrics.json"),
              read_text(cluster.path() + "/coder_synth/" + n + "/metrics.json"))
        << n;
}

TEST_F(SlurmCluster, CancelledTaskIsCompletedByAResubmitWithoutRedoingFinishedRuns) {
  TempDir results;
  const std::string exp = results.path() + "/quickstart";
  // Each run starts 0.6 s late (test-only knob), so a 6-run task lasts a few seconds.
  auto sub = vlb("run " + kSpec + " --backend slurm --runs-per-task 6 --results " + results.path(),
                 "VLB_TEST_RUN_SLEEP_MS=600");
  ASSERT_EQ(sub.exit_code, 0) << sub.output;
  std::string job = job_id_in(sub.output);
  ASSERT_FALSE(job.empty()) << sub.output;
  auto plan = vlb::read_plan_file(exp + "/.plan/submit-001/plan.json");
  ASSERT_EQ(plan.tasks.size(), 3u);
  const auto& victim = plan.tasks[1];

  // Cancel task 1 once it has finished at least one run but not all (bounded: 60 s).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int victim_done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    victim_done = 0;
    for (const auto& k : victim) victim_done += done(exp, k);
    if (victim_done >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(victim_done, 1) << "task 1 finished no run within 60 s";
  ASSERT_LT(victim_done, 6) << "task 1 finished before it could be cancelled";
  ASSERT_EQ(slurm("scancel " + job + "_1").exit_code, 0);

  // Wait for the rest of the job to end (bounded).
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurm("squeue -h -j " + job).output.find_first_not_of(" \n") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto st = vlb("status " + exp);
  EXPECT_EQ(st.exit_code, 3) << st.output;  // failed runs exist
  EXPECT_NE(st.output.find("failed: job " + job + " task 1 (CANCELLED"), std::string::npos)
      << st.output;
  EXPECT_NE(st.output.find(exp + "/.plan/submit-001/logs/task-1.out"), std::string::npos)
      << st.output;

  // What is done now, and when each finished run started.
  std::map<std::string, std::string> started;
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& n : run_dir_names(exp)) {
    started[n] = json::parse(read_text(exp + "/" + n + "/env.json"))["started_at"];
    mtimes[n] = fs::last_write_time(exp + "/" + n + "/metrics.json");
  }
  int undone = 18 - static_cast<int>(started.size());
  ASSERT_GT(undone, 0);
  EXPECT_EQ(undone, 6 - victim_done) << "only the cancelled task's unfinished runs are missing";

  auto again = vlb("run " + kSpec + " --backend slurm --only-failed --wait --poll 0.3 --results " +
                   results.path());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(std::to_string(undone) + " runs in " + std::to_string(undone) +
                              " array tasks"),
            std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("18 runs: 18 done, 0 failed"), std::string::npos) << again.output;
  ASSERT_EQ(run_dir_names(exp).size(), 18u);
  for (const auto& [n, t] : started) {
    EXPECT_EQ(json::parse(read_text(exp + "/" + n + "/env.json"))["started_at"], t) << n;
    EXPECT_EQ(fs::last_write_time(exp + "/" + n + "/metrics.json"), mtimes[n]) << n;
  }
  // No temporaries left behind by the cancelled task once a worker on this host has run.
  for (const auto& e : fs::directory_iterator(exp)) {
    std::string n = e.path().filename().string();
    EXPECT_TRUE(n == ".plan" || n == ".locks" || n.rfind("leaderboard.", 0) == 0 ||
                std::regex_match(n, std::regex("[0-9a-f]{16}")))
        << n;
  }
}

}  // namespace
