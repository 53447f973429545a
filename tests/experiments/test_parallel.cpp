// Sharded plans (the --jobs and Slurm backends): sharding, plan files, workers, host-aware stale
// temporaries, and the CLI: --jobs N equals --jobs 1, Slurm submission with a stand-in sbatch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/slurm.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/workers.h"

namespace vlb::test {
void add_fakes(Registries& r);  // fakes.cpp
}

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::read_text;
using vlb::test::run_dir_names;
using vlb::test::run_cli;
using vlb::test::run_command;
using vlb::test::TempDir;
using vlb::test::write_text;
using Shards = std::vector<std::vector<std::string>>;

TEST(Sharding, RoundRobinAndChunksByHand) {
  std::vector<std::string> k = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(vlb::shard_round_robin(k, 2), (Shards{{"a", "c", "e"}, {"b", "d"}}));
  EXPECT_EQ(vlb::shard_round_robin(k, 7),
            (Shards{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {}, {}}));
  EXPECT_EQ(vlb::shard_chunks(k, 2), (Shards{{"a", "b"}, {"c", "d"}, {"e"}}));
  EXPECT_EQ(vlb::shard_chunks(k, 5), (Shards{{"a", "b", "c", "d", "e"}}));
  EXPECT_EQ(vlb::shard_chunks({}, 3), Shards{});
  EXPECT_THROW(vlb::shard_round_robin(k, 0), vlb::ConfigError);
  EXPECT_THROW(vlb::shard_chunks(k, 0), vlb::ConfigError);
}

TEST(Sharding, SqueueLinesParse) {
  auto jobs = vlb::parse_squeue("12|0|RUNNING\n12|3|PENDING\n  13|N/A|COMPLETED\n12|4-7%2|PENDING\n"
                                "garbage\n");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs["12"], (std::map<int, std::string>{{0, "RUNNING"}, {3, "PENDING"}}));
  EXPECT_EQ(jobs["13"], (std::map<int, std::string>{{-1, "COMPLETED"}}));
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vlb::test::add_fakes(reg_);
    opts_.results_root = dir_ / "results";
    opts_.progress = false;
    spec_ = dir_ / "spec.yaml";
    // 2 noise levels x 2 seeds; noise makes the metrics depend on the seeded generator.
    write_text(spec_,
               "experiment: ex\n"
               "dataset: {source: fake}\n"
               "methods: [{name: centroid, params: {noise: 3.0}}]\n"
               "metrics: [acc]\n"
               "runtime: {threads: 1, seeds: [0, 1]}\n"
               "sweep: {grid: {method.params.noise: [2.0, 3.0]}}\n"
               "select: none\n");
  }
  std::string exp_dir() { return dir_ / "results/ex"; }

  vlb::Registries reg_;
  TempDir dir_;
  vlb::RunOptions opts_;
  std::string spec_;
};

TEST_F(WorkerTest, RunnableKeysSkipDoneAndDuplicateRuns) {
  vlb::Plan plan;
  plan.experiment_dir = exp_dir();
  plan.spec_path = spec_;
  const std::string a(64, 'a'), b(64, 'b');
  for (const auto& k : {a, b, a}) {
    vlb::PlannedRun r;
    r.key = k;
    r.index = plan.runs.size();
    plan.runs.push_back(r);
  }
  EXPECT_EQ(vlb::runnable_keys(plan, false), (std::vector<std::string>{a, b}));
  const std::string a_dir = exp_dir() + "/" + a.substr(0, 16);
  fs::create_directories(a_dir);
  write_text(a_dir + "/config.resolved.yaml", "method: {name: centroid}\n");
  write_text(a_dir + "/env.json", "{}\n");
  write_text(a_dir + "/metrics.json", json{{"status", "ok"}, {"run_key", a}}.dump());
  EXPECT_EQ(vlb::runnable_keys(plan, false), (std::vector<std::string>{b}));
  EXPECT_EQ(vlb::runnable_keys(plan, true), (std::vector<std::string>{a, b}));
  // A recorded failure is not done; a metrics.json of another key does not count.
  write_text(a_dir + "/metrics.json", json{{"status", "failed"}, {"run_key", a}}.dump());
  EXPECT_EQ(vlb::run_status(exp_dir() + "/" + a.substr(0, 16), a), "failed");
  EXPECT_EQ(vlb::run_status(exp_dir() + "/" + a.substr(0, 16), b), "");
  EXPECT_EQ(vlb::runnable_keys(plan, false), (std::vector<std::string>{a, b}));

  // The duplicate's second occurrence belongs to no shard: one worker owns each key.
  auto pf = vlb::make_plan_file(plan, opts_, {{b}, {a}});
  ASSERT_EQ(pf.runs.size(), 3u);
  EXPECT_EQ(pf.runs[0].task, 1);
  EXPECT_EQ(pf.runs[1].task, 0);
  EXPECT_EQ(pf.runs[2].task, -1);
  EXPECT_THROW(vlb::make_plan_file(plan, opts_, {{a}, {a}}), vlb::Error);
}

TEST_F(WorkerTest, PlanFileRoundTripsAndMalformedOnesAreLocated) {
  opts_.overrides = {"runtime.seeds=[0, 1]"};
  opts_.threads = 1;
  vlb::Plan plan = vlb::make_plan(spec_, opts_, reg_);
  auto keys = vlb::runnable_keys(plan, false);
  ASSERT_EQ(keys.size(), 4u);
  auto pf = vlb::make_plan_file(plan, opts_, vlb::shard_round_robin(keys, 3));
  std::string path = dir_ / "plan.json";
  vlb::write_plan_file(pf, path);
  auto back = vlb::read_plan_file(path);
  EXPECT_EQ(back.spec_path, fs::absolute(spec_).lexically_normal().string());
  EXPECT_EQ(back.results_root, fs::absolute(opts_.results_root).lexically_normal().string());
  EXPECT_EQ(back.overrides, opts_.overrides);
  EXPECT_EQ(back.threads_override, 1);
  EXPECT_EQ(back.threads, 1);
  EXPECT_EQ(back.threads_policy, "--threads 1");
  EXPECT_EQ(back.jobs, 1);
  EXPECT_EQ(back.tasks, pf.tasks);
  ASSERT_EQ(back.runs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(back.runs[i].key, plan.runs[i].key);
    EXPECT_EQ(back.runs[i].config_yaml, vlb::resolved_config_yaml(plan.runs[i].config));
  }

  json j = json::parse(read_text(path));
  j.erase("tasks");
  write_text(path, j.dump());
  try {
    vlb::read_plan_file(path);
    FAIL() << "no error";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tasks"), std::string::npos) << e.what();
  }
}

// Two workers on the two shards of a plan give byte-identical metrics to one sequential sweep.
TEST_F(WorkerTest, WorkersOnShardsEqualOneSequentialSweep) {
  vlb::Plan plan = vlb::make_plan(spec_, opts_, reg_);
  auto keys = vlb::runnable_keys(plan, false);
  std::string plan_dir = dir_ / "plan";
  fs::create_directories(plan_dir);
  vlb::write_plan_file(vlb::make_plan_file(plan, opts_, vlb::shard_round_robin(keys, 2)),
                       plan_dir + "/plan.json");
  auto cwd = fs::current_path();
  std::ostringstream log;
  auto w0 = vlb::run_worker_task(plan_dir, 0, reg_, false, log);
  auto w1 = vlb::run_worker_task(plan_dir, 1, reg_, false, log);
  fs::current_path(cwd);
  EXPECT_EQ(w0.ran, 2);
  EXPECT_EQ(w1.ran, 2);
  EXPECT_EQ(w0.failed + w1.failed, 0);
  EXPECT_NE(log.str().find("ok in"), std::string::npos) << log.str();
  // A second pass finds everything done.
  auto again = vlb::run_worker_task(plan_dir, 0, reg_, true, log);
  fs::current_path(cwd);
  EXPECT_EQ(again.ran, 0);
  EXPECT_EQ(again.skipped, 2);

  vlb::RunOptions seq = opts_;
  seq.results_root = dir_ / "sequential";
  std::ostringstream out;
  auto s = vlb::run_experiment(spec_, seq, reg_, out);
  ASSERT_EQ(s.ran, 4);
  for (const auto& r : plan.runs) {
    std::string a = read_text(exp_dir() + "/" + r.key16() + "/metrics.json");
    std::string b = read_text(s.experiment_dir + "/" + r.key16() + "/metrics.json");
    EXPECT_EQ(a, b) << r.key16();
  }
  EXPECT_THROW(vlb::run_worker_task(plan_dir, 2, reg_, true, log), vlb::DataError);
  fs::current_path(cwd);
}

TEST_F(WorkerTest, WorkerRefusesAPlanTheSpecNoLongerMakes) {
  vlb::Plan plan = vlb::make_plan(spec_, opts_, reg_);
  std::string plan_dir = dir_ / "plan";
  fs::create_directories(plan_dir);
  vlb::write_plan_file(
      vlb::make_plan_file(plan, opts_, vlb::shard_round_robin(vlb::runnable_keys(plan, false), 1)),
      plan_dir + "/plan.json");
  std::string text = read_text(spec_);
  text.replace(text.find("[2.0, 3.0]"), 10, "[2.0, 4.0]");
  write_text(spec_, text);
  auto cwd = fs::current_path();
  std::ostringstream log;
  try {
    vlb::run_worker_task(plan_dir, 0, reg_, true, log);
    FAIL() << "no error";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("not in the plan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tasks[0]"), std::string::npos) << e.what();
  }
  fs::current_path(cwd);
  EXPECT_FALSE(fs::exists(exp_dir() + "/" + plan.runs[0].key16()));  // nothing ran
}

// Only this host's temporaries of dead processes are removed: on a shared results directory
// another machine's pid says nothing here.
TEST_F(WorkerTest, StaleTemporariesOfOtherHostsAreLeftAlone) {
  fs::create_directories(exp_dir());
  pid_t dead = 0;
  {
    auto r = run_command("sh -c 'echo $$'");  // a pid that has exited by now
    dead = static_cast<pid_t>(std::stol(r.output));
  }
  std::string key16(16, '0');
  std::string mine = ".tmp-" + key16 + "-" + vlb::host_tag() + "-" + std::to_string(dead);
  std::string legacy = ".tmp-" + key16 + "-" + std::to_string(dead);
  std::string other = ".tmp-" + key16 + "-some-other.host-" + std::to_string(dead);
  std::string alive = ".tmp-" + key16 + "-" + vlb::host_tag() + "-" + std::to_string(getppid());
  for (const auto& n : {mine, legacy, other, alive}) fs::create_directories(exp_dir() + "/" + n);
  std::ostringstream out;
  vlb::run_experiment(spec_, opts_, reg_, out);
  EXPECT_FALSE(fs::exists(exp_dir() + "/" + mine));
  EXPECT_FALSE(fs::exists(exp_dir() + "/" + legacy));
  EXPECT_TRUE(fs::exists(exp_dir() + "/" + other));
  EXPECT_TRUE(fs::exists(exp_dir() + "/" + alive));
}

// ---- Through the CLI ----


TEST(ParallelCli, JobsThreeEqualsJobsOneOnTheQuickstart) {
  TempDir one, three;
  auto a = run_cli("run experiments/specs/quickstart.yaml --no-progress --results " + one.path());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_cli("run experiments/specs/quickstart.yaml --no-progress --jobs 3 --results " +
                   three.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("18 runs \u2014 18 ran, 0 already done, 0 failed"), std::string::npos)
      << b.output;
  auto names = run_dir_names(one.path() + "/quickstart");
  ASSERT_EQ(names.size(), 18u);
  EXPECT_EQ(run_dir_names(three.path() + "/quickstart"), names);
  for (const auto& n : names) {
    for (const char* f : {"metrics.json", "config.resolved.yaml"}) {
      EXPECT_EQ(read_text(one.path() + "/quickstart/" + n + "/" + f),
                read_text(three.path() + "/quickstart/" + n + "/" + f))
          << n << "/" << f;
    }
  }
  // Nothing but run directories, their locks and the current-plan record is left (no
  // temporaries, no local plan).
  for (const auto& e : fs::directory_iterator(three.path() + "/quickstart")) {
    std::string name = e.path().filename().string();
    if (name == ".plan") {
      for (const auto& p : fs::directory_iterator(e.path()))
        EXPECT_EQ(p.path().filename(), "current.json") << p.path();
    } else if (name != ".locks") {
      EXPECT_TRUE(std::regex_match(name, std::regex("[0-9a-f]{16}"))) << e.path();
    }
  }
  auto again = run_cli("run experiments/specs/quickstart.yaml --jobs 3 --results " + three.path());
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.output.find("0 ran, 18 already done"), std::string::npos) << again.output;
}

// The same on a method sweep with per-method grids and two dataset settings (48 runs).
TEST(ParallelCli, JobsTwoEqualsJobsOneOnAMethodSweep) {
  TempDir one, two;
  const std::string spec = "experiments/specs/coder_synth.yaml";
  ASSERT_EQ(run_cli("run " + spec + " --no-progress --results " + one.path()).exit_code, 0);
  auto b = run_cli("run " + spec + " --no-progress --jobs 2 --results " + two.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto names = run_dir_names(one.path() + "/coder_synth");
  ASSERT_EQ(names.size(), 48u);
  EXPECT_EQ(run_dir_names(two.path() + "/coder_synth"), names);
  for (const auto& n : names)
    EXPECT_EQ(read_text(one.path() + "/coder_synth/" + n + "/metrics.json"),
              read_text(two.path() + "/coder_synth/" + n + "/metrics.json"))
        << n;
}

// A stand-in `sbatch` (records its argument, answers a job id) and `squeue` (knows no jobs):
// submission layout, the script, and re-submission without the scheduler.
class FakeSlurm : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "bin");
    write_text(dir_ / "bin/sbatch",
               "#!/bin/sh\necho \"$@\" >> " + (dir_ / "sbatch.calls") + "\necho '4242;cluster'\n");
    write_text(dir_ / "bin/squeue", "#!/bin/sh\nexit 0\n");
    fs::permissions(dir_ / "bin/sbatch", fs::perms::owner_all);
    fs::permissions(dir_ / "bin/squeue", fs::perms::owner_all);
  }
  vlb::test::CommandResult vlb(const std::string& args) {
    return run_command("PATH=" + (dir_ / "bin") + ":$PATH " + VLB_CLI + " " + args);
  }
  std::string exp() { return dir_ / "results/quickstart"; }
  TempDir dir_;
};

TEST_F(FakeSlurm, DryRunPrintsTheScriptAndWritesNothing) {
  auto r = vlb("run experiments/specs/quickstart.yaml --backend slurm --dry-run --results " +
               (dir_ / "results") + " --array-limit 4 --partition short --time 0:10:00 --mem 2G "
               "--runs-per-task 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("#SBATCH --array=0-3%4\n"), std::string::npos) << r.output;  // 18/5 -> 4
  EXPECT_NE(r.output.find("#SBATCH --partition=short\n"), std::string::npos);
  EXPECT_NE(r.output.find("#SBATCH --time=0:10:00\n"), std::string::npos);
  EXPECT_NE(r.output.find("#SBATCH --mem=2G\n"), std::string::npos);
  EXPECT_NE(r.output.find("#SBATCH --cpus-per-task=1\n"), std::string::npos);
  EXPECT_NE(r.output.find(" worker --plan "), std::string::npos);
  EXPECT_NE(r.output.find("--task \"$SLURM_ARRAY_TASK_ID\""), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "sbatch.calls"));
  EXPECT_FALSE(fs::exists(exp() + "/.plan"));
  // Options that would break an #SBATCH line are refused.
  auto bad = vlb("run experiments/specs/quickstart.yaml --backend slurm --dry-run --results " +
                 (dir_ / "results") + " --partition 'a b'");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--partition 'a b'"), std::string::npos) << bad.output;
  EXPECT_EQ(vlb("run experiments/specs/quickstart.yaml --jobs 2 --backend slurm").exit_code, 2);
  EXPECT_EQ(vlb("run experiments/specs/quickstart.yaml --wait").exit_code, 2);
}

TEST_F(FakeSlurm, CpusPerTaskIsTheChosenThreadCount) {
  // auto: 1 per array task, whatever the submit host has; an explicit count is requested as is.
  auto a = vlb("run experiments/specs/quickstart.yaml --backend slurm --dry-run --set "
               "runtime.threads=auto --results " + (dir_ / "results"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("#SBATCH --cpus-per-task=1\n"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("x 1 thread per run (auto: 1 per Slurm array task)"), std::string::npos)
      << a.output;
  auto t = vlb("run experiments/specs/quickstart.yaml --backend slurm --dry-run --threads 3 "
               "--results " + (dir_ / "results"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("#SBATCH --cpus-per-task=3\n"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("x 3 threads per run (--threads 3)"), std::string::npos) << t.output;
}

TEST_F(FakeSlurm, SubmissionWritesThePlanAndResubmitsOnlyWhatIsNotDone) {
  auto r = vlb("run experiments/specs/quickstart.yaml --backend slurm --runs-per-task 4 --results " +
               (dir_ / "results"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("submitted job 4242: 18 runs in 5 array tasks"), std::string::npos)
      << r.output;
  std::string sub = exp() + "/.plan/submit-001";
  EXPECT_EQ(read_text(sub + "/job_id"), "4242\n");
  EXPECT_EQ(read_text(dir_ / "sbatch.calls"), "--parsable " + sub + "/job.sbatch\n");
  auto plan = vlb::read_plan_file(sub + "/plan.json");
  ASSERT_EQ(plan.tasks.size(), 5u);
  EXPECT_EQ(plan.tasks[4].size(), 2u);
  EXPECT_EQ(plan.runs.size(), 18u);

  // The scheduler "ran" tasks 0 and 2 only (as `vlb worker`, the way the script does).
  for (int t : {0, 2}) {
    auto w = vlb("worker --plan " + sub + " --task " + std::to_string(t));
    ASSERT_EQ(w.exit_code, 0) << w.output;
    EXPECT_NE(w.output.find("4 ran, 0 already done, 0 failed"), std::string::npos) << w.output;
  }
  // squeue knows no job 4242 any more: tasks 1, 3, 4 ended without their runs -> failed.
  auto st = vlb("status " + exp());
  EXPECT_EQ(st.exit_code, 3) << st.output;
  EXPECT_NE(st.output.find("18 runs: 8 done, 10 failed, 0 queued or running, 0 pending"),
            std::string::npos)
      << st.output;
  EXPECT_NE(st.output.find("failed: job 4242 task 3 (0/4 runs done) log: " + sub +
                           "/logs/task-3.out"),
            std::string::npos)
      << st.output;

  auto again = vlb("run experiments/specs/quickstart.yaml --backend slurm --only-failed "
                   "--runs-per-task 4 --results " + (dir_ / "results"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("10 runs in 3 array tasks"), std::string::npos) << again.output;
  auto plan2 = vlb::read_plan_file(exp() + "/.plan/submit-002/plan.json");
  std::set<std::string> resubmitted;
  for (const auto& t : plan2.tasks) resubmitted.insert(t.begin(), t.end());
  std::set<std::string> expected;
  for (int t : {1, 3, 4}) expected.insert(plan.tasks[t].begin(), plan.tasks[t].end());
  EXPECT_EQ(resubmitted, expected);
}

}  // namespace
