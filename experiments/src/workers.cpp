// The local worker pool (`vlb run --jobs N`), plan files and shards, and the worker side that runs
// one shard of a plan file (docs/cluster.md).
#include "vlb/experiments/workers.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "runner_detail.h"
#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

extern char** environ;

namespace vlb {
namespace {

std::string wait_status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return "unknown status";
}

}  // namespace

namespace runner_detail {

// Note [Local workers]: --jobs N starts N `vlb worker` processes with posix_spawn (fork+exec of
// the same binary). Never a bare fork: this process may already have started torch's thread
// pools (loading the datasets), and a forked child would inherit their locks but not their
// threads. Each worker runs each run at its own runtime.threads (which is part of the run key), so
// the results equal --jobs 1; the machine then uses up to N x threads cores.
SweepSummary run_local_parallel(const Plan& plan, const RunOptions& opts, std::ostream& out) {
  if (opts.worker_executable.empty())
    throw ConfigError("--jobs " + std::to_string(opts.jobs) +
                      ": no worker executable given (RunOptions::worker_executable)");
  SweepSummary summary;
  summary.total = static_cast<int>(plan.runs.size());
  summary.experiment_dir = plan.experiment_dir;
  std::vector<std::string> keys = runnable_keys(plan, opts.force);
  summary.skipped = summary.total - static_cast<int>(keys.size());
  const int workers = std::min<int>(opts.jobs, static_cast<int>(keys.size()));

  int max_threads = 1;
  for (const auto& r : plan.runs) max_threads = std::max(max_threads, r.config.threads);
  unsigned cores = std::thread::hardware_concurrency();
  if (workers > 0 && cores > 0 && static_cast<unsigned>(workers * max_threads) > cores)
    std::cerr << fmt::format(
        "vlb run: note: {} workers x {} threads per run > {} cores: runs share cores (results "
        "are unaffected; use fewer --jobs or --threads to avoid oversubscription)\n",
        workers, max_threads, cores);

  fs::path plan_dir;
  std::vector<pid_t> pids;
  if (workers > 0) {
    plan_dir = fs::path(plan.experiment_dir) / ".plan" /
               fmt::format("local-{}-{}", host_tag(), getpid());
    fs::remove_all(plan_dir);
    fs::create_directories(plan_dir);
    write_plan_file(make_plan_file(plan, opts, shard_round_robin(keys, workers)),
                    (plan_dir / "plan.json").string());
    for (int t = 0; t < workers; ++t) {
      std::vector<std::string> args = {opts.worker_executable, "worker", "--plan", plan_dir.string(),
                                       "--task", std::to_string(t), "--quiet"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      int rc = posix_spawn(&pid, opts.worker_executable.c_str(), nullptr, nullptr, argv.data(),
                           environ);
      if (rc != 0) {
        for (pid_t p : pids) kill(p, SIGTERM);
        for (pid_t p : pids) waitpid(p, nullptr, 0);
        fs::remove_all(plan_dir);
        throw Error(fmt::format("cannot start worker {}: {}", opts.worker_executable,
                                std::strerror(rc)));
      }
      pids.push_back(pid);
    }
  }

  const bool progress = show_progress(opts);
  auto t_start = Clock::now();
  std::map<pid_t, int> exit_status;
  while (exit_status.size() < pids.size()) {
    for (pid_t p : pids) {
      if (exit_status.count(p)) continue;
      int st = 0;
      if (waitpid(p, &st, WNOHANG) == p) exit_status[p] = st;
    }
    if (exit_status.size() == pids.size()) break;
    if (progress) {
      int done = 0;
      for (const auto& k : keys)
        done += run_is_done(plan.experiment_dir + "/" + k.substr(0, 16), k);
      std::cerr << "\r\033[K"
                << fmt::format("[{}/{}] {} elapsed | {} workers", done, keys.size(),
                               clock_text(seconds_since(t_start)), workers)
                << std::flush;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (progress) std::cerr << "\r\033[K" << std::flush;
  for (size_t t = 0; t < pids.size(); ++t) {
    int st = exit_status[pids[t]];
    // 0 = all ok, 3 = some runs failed (each recorded); anything else: the worker itself failed.
    if (!(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3)))
      std::cerr << fmt::format("vlb run: worker {} ended with {}\n", t, wait_status_text(st));
  }
  if (!plan_dir.empty()) {
    std::error_code ec;
    fs::remove_all(plan_dir, ec);
    fs::remove(plan_dir.parent_path(), ec);  // only if empty (no Slurm submissions)
  }

  for (const auto& k : keys) {
    std::string status = run_status(plan.experiment_dir + "/" + k.substr(0, 16), k);
    ++summary.ran;
    if (status != "ok") {
      ++summary.failed;
      if (status.empty())
        std::cerr << fmt::format("run {} left no result (its worker died)\n", k.substr(0, 16));
    }
  }
  out << fmt::format("{}: {} runs \u2014 {} ran, {} already done, {} failed \u2192 {}\n",
                     plan.experiment, summary.total, summary.ran, summary.skipped, summary.failed,
                     plan.experiment_dir);
  return summary;
}

}  // namespace runner_detail

using namespace runner_detail;

std::vector<std::string> runnable_keys(const Plan& plan, bool force) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& r : plan.runs) {
    if (!seen.insert(r.key).second) continue;
    if (!force && run_is_done(plan.experiment_dir + "/" + r.key16(), r.key)) continue;
    keys.push_back(r.key);
  }
  return keys;
}

std::vector<std::vector<std::string>> shard_round_robin(const std::vector<std::string>& keys,
                                                        int shards) {
  if (shards < 1) throw ConfigError("the number of workers must be >= 1");
  std::vector<std::vector<std::string>> out(static_cast<size_t>(shards));
  for (size_t j = 0; j < keys.size(); ++j) out[j % static_cast<size_t>(shards)].push_back(keys[j]);
  return out;
}

std::vector<std::vector<std::string>> shard_chunks(const std::vector<std::string>& keys,
                                                   int per_task) {
  if (per_task < 1) throw ConfigError("--runs-per-task must be >= 1");
  std::vector<std::vector<std::string>> out;
  for (size_t j = 0; j < keys.size(); ++j) {
    if (j % static_cast<size_t>(per_task) == 0) out.emplace_back();
    out.back().push_back(keys[j]);
  }
  return out;
}

PlanFile make_plan_file(const Plan& plan, const RunOptions& opts,
                        const std::vector<std::vector<std::string>>& tasks) {
  PlanFile pf;
  pf.experiment = plan.experiment;
  pf.spec_path = fs::absolute(plan.spec_path).lexically_normal().string();
  pf.working_dir = fs::current_path().string();
  pf.results_root = fs::absolute(opts.results_root).lexically_normal().string();
  pf.overrides = opts.overrides;
  pf.threads_override = opts.threads;
  pf.force = opts.force;
  pf.tasks = tasks;
  std::map<std::string, int> task_of;
  for (size_t t = 0; t < tasks.size(); ++t)
    for (const auto& k : tasks[t]) {
      if (!task_of.emplace(k, static_cast<int>(t)).second)
        throw Error("internal: run key " + k + " assigned to two shards");
    }
  std::set<std::string> seen;
  for (const auto& r : plan.runs) {
    PlanFile::Run pr;
    pr.index = r.index;
    pr.key = r.key;
    pr.description = describe_run(r);
    pr.config_yaml = resolved_config_yaml(r.config);
    pr.threads = r.config.threads;
    auto it = task_of.find(r.key);
    // A duplicate key belongs to the shard of its first occurrence only.
    if (it != task_of.end() && seen.insert(r.key).second) pr.task = it->second;
    pf.runs.push_back(std::move(pr));
  }
  return pf;
}

void write_plan_file(const PlanFile& pf, const std::string& path) {
  json runs = json::array();
  for (const auto& r : pf.runs)
    runs.push_back({{"index", r.index},
                    {"key", r.key},
                    {"dir", r.key.substr(0, 16)},
                    {"description", r.description},
                    {"threads", r.threads},
                    {"task", r.task},
                    {"config", r.config_yaml}});
  json j = {{"format", "vlbench-plan/1"},
            {"experiment", pf.experiment},
            {"spec", pf.spec_path},
            {"working_dir", pf.working_dir},
            {"results_root", pf.results_root},
            {"overrides", pf.overrides},
            {"threads_override", pf.threads_override},
            {"force", pf.force},
            {"tasks", pf.tasks},
            {"runs", runs}};
  write_file_atomic(path, j.dump(1) + "\n");
}

PlanFile read_plan_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw DataError(path, "", "cannot open the plan file");
  json j;
  try {
    j = json::parse(f);
  } catch (const std::exception& e) {
    throw DataError(path, "", std::string("not valid JSON: ") + e.what());
  }
  auto field = [&](const char* key) -> const json& {
    if (!j.is_object() || !j.contains(key)) throw DataError(path, key, "missing");
    return j.at(key);
  };
  PlanFile pf;
  try {
    if (field("format") != "vlbench-plan/1")
      throw DataError(path, "format", "unknown plan format " + field("format").dump());
    pf.experiment = field("experiment").get<std::string>();
    pf.spec_path = field("spec").get<std::string>();
    pf.working_dir = field("working_dir").get<std::string>();
    pf.results_root = field("results_root").get<std::string>();
    pf.overrides = field("overrides").get<std::vector<std::string>>();
    pf.threads_override = field("threads_override").get<int>();
    pf.force = field("force").get<bool>();
    pf.tasks = field("tasks").get<std::vector<std::vector<std::string>>>();
    for (const auto& r : field("runs")) {
      PlanFile::Run pr;
      pr.index = r.at("index").get<size_t>();
      pr.key = r.at("key").get<std::string>();
      pr.description = r.at("description").get<std::string>();
      pr.config_yaml = r.at("config").get<std::string>();
      pr.threads = r.at("threads").get<int>();
      pr.task = r.at("task").get<int>();
      pf.runs.push_back(std::move(pr));
    }
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(path, "", std::string("malformed plan: ") + e.what());
  }
  return pf;
}

WorkerSummary run_worker_task(const std::string& plan_dir, int task, const Registries& reg,
                              bool quiet, std::ostream& out) {
  const std::string plan_path = plan_dir + "/plan.json";
  PlanFile pf = read_plan_file(plan_path);
  if (task < 0 || static_cast<size_t>(task) >= pf.tasks.size())
    throw DataError(plan_path, "tasks",
                    fmt::format("task {} out of range: the plan has {} tasks", task, pf.tasks.size()));
  // Relative paths in the spec (includes, data files) resolve as they did for `vlb run`.
  fs::current_path(pf.working_dir);
  RunOptions opts;
  opts.overrides = pf.overrides;
  opts.threads = pf.threads_override;
  opts.results_root = pf.results_root;
  Plan plan = make_plan(pf.spec_path, opts, reg);
  std::map<std::string, const PlannedRun*> by_key;
  for (const auto& r : plan.runs) by_key.emplace(r.key, &r);  // first occurrence wins
  for (const auto& k : pf.tasks[static_cast<size_t>(task)])
    if (!by_key.count(k))
      throw DataError(plan_path, fmt::format("tasks[{}]", task),
                      fmt::format("run {} is not in the plan of {} any more: the spec, an override "
                                  "target or a dataset changed after the plan was written; run "
                                  "`vlb run` again to make a new plan",
                                  k.substr(0, 16), pf.spec_path));

  fs::create_directories(plan.experiment_dir);
  remove_stale_temporaries(plan.experiment_dir);
  const GitInfo git = git_info(spec_dir_of(pf.spec_path));
  // Note [Test sleep]: VLB_TEST_RUN_SLEEP_MS makes each run of a worker start that much later. It
  // exists only so that the Slurm test can cancel an array task while it is mid-plan; it changes
  // no result.
  long sleep_ms = 0;
  if (const char* s = std::getenv("VLB_TEST_RUN_SLEEP_MS")) sleep_ms = std::strtol(s, nullptr, 10);
  WorkerSummary ws;
  for (const auto& k : pf.tasks[static_cast<size_t>(task)]) {
    const PlannedRun& r = *by_key.at(k);
    if (!pf.force && run_is_done(plan.experiment_dir + "/" + r.key16(), r.key)) {
      ++ws.skipped;
      if (!quiet) out << fmt::format("run {} ({}): already done\n", r.key16(), describe_run(r));
      continue;
    }
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    Outcome o = execute(plan, r, reg, git);
    ++ws.ran;
    if (!o.ok) {
      ++ws.failed;
      std::cerr << fmt::format("run {} ({}) failed: {}\n", r.key16(), describe_run(r), o.error);
    } else if (!quiet) {
      out << fmt::format("run {} ({}): ok in {:.2f}s\n", r.key16(), describe_run(r), o.seconds);
    }
    out << std::flush;
  }
  if (!quiet)
    out << fmt::format("{} task {}: {} ran, {} already done, {} failed\n", pf.experiment, task,
                       ws.ran, ws.skipped, ws.failed);
  return ws;
}

}  // namespace vlb
