// The local worker pool (`vlb run --jobs N`), plan files and shards, and the worker side that runs
// one shard of a plan file (docs/cluster.md).
#include "vlb/experiments/workers.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/prctl.h>
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
#include <iterator>
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
#include "vlb/experiments/threads.h"

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
namespace {

// One line "<fate> <key>" per run a worker finished with (Note [Local workers]).
const char* ledger_word(RunFate f) {
  switch (f) {
    case RunFate::ran_ok: return "ran";
    case RunFate::ran_failed: return "failed";
    case RunFate::done: return "done";
    case RunFate::elsewhere_ok: return "elsewhere";
    case RunFate::elsewhere_failed: return "elsewhere_failed";
    case RunFate::busy: break;
  }
  return "busy";
}

std::map<std::string, std::string> read_ledger(const std::string& path) {
  std::map<std::string, std::string> fate;  // key -> word
  std::ifstream f(path);
  std::string word, key;
  while (f >> word >> key)
    if (key.size() == 64) fate[key] = word;
  return fate;
}

size_t count_lines(const std::string& path) {
  std::ifstream f(path);
  return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(f),
                                        std::istreambuf_iterator<char>(), '\n'));
}

/// fork + exec of `args` (args[0] the executable). Between the two only async-signal-safe calls:
/// the child asks for SIGTERM when this process dies, and checks that it has not died already.
pid_t spawn_worker(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0)
    throw Error(fmt::format("cannot start worker {}: {}", args[0], std::strerror(errno)));
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    ::close(err[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
    execve(argv[0], argv.data(), environ);
    int e = errno;
    ssize_t n = write(err[1], &e, sizeof e);
    (void)n;
    _exit(127);
  }
  int fork_errno = errno;
  ::close(err[1]);
  if (pid < 0) {
    ::close(err[0]);
    throw Error(fmt::format("cannot start worker {}: {}", args[0], std::strerror(fork_errno)));
  }
  int e = 0;
  ssize_t n = 0;
  do n = read(err[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  ::close(err[0]);
  if (n == static_cast<ssize_t>(sizeof e)) {  // exec failed (EOF means it succeeded)
    waitpid(pid, nullptr, 0);
    throw Error(fmt::format("cannot start worker {}: {}", args[0], std::strerror(e)));
  }
  return pid;
}

}  // namespace

// Note [Local workers]: --jobs N starts N `vlb worker` processes by fork + exec of the same
// binary, with nothing but async-signal-safe calls in between: this process may already have
// started torch's thread pools (loading the datasets), and a forked child that did more would
// inherit their locks but not their threads. In between, the child sets PR_SET_PDEATHSIG to
// SIGTERM and checks getppid(), so workers end with their parent however it ends (kill -9
// included), removing their temporaries first (Note [Cleanup on signals]); a SIGINT/SIGTERM of
// the parent stops them too. Every worker runs at the thread count the parent chose (Plan::threads,
// passed in plan.json: by default the cores divided by the workers); threads change no result and
// no run key, so the results equal --jobs 1.
// Each worker appends "<fate> <key>" to task-<t>.ledger in the local plan directory for every
// run it is done with, so after any worker death the parent knows exactly which runs of its
// shard no one completed: those are reported as not run (exit 3) and run by the next sweep.
SweepSummary run_local_parallel(const Plan& plan, const std::vector<std::string>& keys,
                                const RunOptions& opts, std::ostream& out) {
  if (opts.worker_executable.empty())
    throw ConfigError("--jobs " + std::to_string(opts.jobs) +
                      ": no worker executable given (RunOptions::worker_executable)");
  SweepSummary summary;
  summary.total = static_cast<int>(plan.runs.size());
  summary.experiment_dir = plan.experiment_dir;
  summary.skipped = summary.total - static_cast<int>(keys.size());
  const int workers = std::min<int>(opts.jobs, static_cast<int>(keys.size()));

  // Only an explicit count (or more workers than cores) can oversubscribe: auto divides the cores.
  const unsigned cores = usable_cores();
  if (workers > 0 && cores > 0 &&
      static_cast<unsigned>(workers) * static_cast<unsigned>(plan.threads.threads) > cores)
    std::cerr << fmt::format(
        "vlb run: note: {} workers x {} threads per run > {} cores: runs share cores (results "
        "are unaffected; use fewer --jobs or fewer threads per run to avoid oversubscription)\n",
        workers, plan.threads.threads, cores);

  fs::path plan_dir;
  std::vector<pid_t> pids;
  std::vector<std::vector<std::string>> shards;
  auto ledger = [&](int t) { return (plan_dir / fmt::format("task-{}.ledger", t)).string(); };
  if (workers > 0) {
    plan_dir = fs::path(plan.experiment_dir) / ".plan" /
               fmt::format("local-{}-{}", host_tag(), getpid());
    track_plan_dir(plan_dir.string());
    fs::remove_all(plan_dir);
    fs::create_directories(plan_dir);
    shards = shard_round_robin(keys, workers);
    write_plan_file(make_plan_file(plan, opts, shards), (plan_dir / "plan.json").string());
    for (int t = 0; t < workers; ++t) {
      try {
        pids.push_back(spawn_worker({opts.worker_executable, "worker", "--plan", plan_dir.string(),
                                     "--task", std::to_string(t), "--ledger", ledger(t),
                                     "--quiet"}));
      } catch (const Error&) {
        for (pid_t p : pids) kill(p, SIGTERM);
        for (pid_t p : pids) waitpid(p, nullptr, 0);
        untrack_workers();
        remove_stale_temporaries(plan.experiment_dir);
        fs::remove_all(plan_dir);
        throw;
      }
      track_worker(pids.back());
    }
  }

  const bool progress = show_progress(opts);
  auto t_start = Clock::now();
  std::map<pid_t, int> exit_status;
  while (exit_status.size() < pids.size()) {
    for (pid_t p : pids) {
      if (exit_status.count(p)) continue;
      int st = 0;
      pid_t r = waitpid(p, &st, WNOHANG);
      if (r == p || (r < 0 && errno == ECHILD)) {
        exit_status[p] = r == p ? st : -1;
        // A worker that did not end on its own leaves its temporary: remove it now.
        if (!(r == p && WIFEXITED(st))) remove_stale_temporaries(plan.experiment_dir, true);
      }
    }
    if (exit_status.size() == pids.size()) break;
    if (progress) {
      size_t done = 0;
      for (int t = 0; t < workers; ++t) done += count_lines(ledger(t));
      std::cerr << "\r\033[K"
                << fmt::format("[{}/{}] {} elapsed | {} workers", done, keys.size(),
                               clock_text(seconds_since(t_start)), workers)
                << std::flush;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  untrack_workers();  // waits here while a signal's cleanup runs
  if (progress) std::cerr << "\r\033[K" << std::flush;

  for (size_t t = 0; t < pids.size(); ++t) {
    int st = exit_status[pids[t]];
    auto fate = read_ledger(ledger(static_cast<int>(t)));
    int missing = 0;
    for (const auto& k : shards[t]) {
      auto it = fate.find(k);
      if (it == fate.end()) {
        ++missing;
        continue;
      }
      const std::string& w = it->second;
      if (w == "ran" || w == "failed") ++summary.ran;
      else ++summary.elsewhere;  // done, elsewhere, elsewhere_failed: another process ran it
      if (w == "failed" || w == "elsewhere_failed") ++summary.failed;
    }
    summary.not_run += missing;
    // 0 = all ok, 3 = some runs failed (each recorded); anything else: the worker itself failed.
    bool normal = st >= 0 && WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3);
    std::string how = st < 0 ? "an unknown status"
                      : WIFSIGNALED(st) ? "died (" + wait_status_text(st) + ")"
                                        : "ended with " + wait_status_text(st);
    if (missing > 0)
      std::cerr << fmt::format("vlb run: worker {} {}: {} run{} not run\n", t, how, missing,
                               missing == 1 ? "" : "s");
    else if (!normal)
      std::cerr << fmt::format("vlb run: worker {} {}\n", t, how);
  }
  if (!plan_dir.empty()) {
    std::error_code ec;
    fs::remove_all(plan_dir, ec);
    fs::remove(plan_dir.parent_path(), ec);  // only if empty (no Slurm submissions)
  }
  out << summary_text(plan.experiment, summary);
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
  pf.threads = plan.threads.threads;
  pf.threads_policy = plan.threads.policy;
  pf.jobs = plan.threads.jobs;
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
                    {"task", r.task},
                    {"config", r.config_yaml}});
  json j = {{"format", "vlbench-plan/1"},
            {"experiment", pf.experiment},
            {"spec", pf.spec_path},
            {"working_dir", pf.working_dir},
            {"results_root", pf.results_root},
            {"overrides", pf.overrides},
            {"threads_override", pf.threads_override},
            {"threads", pf.threads},
            {"threads_policy", pf.threads_policy},
            {"jobs", pf.jobs},
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
    // Optional: `vlb status` still reads the submissions of versions that wrote none (their
    // workers fail anyway, on run keys of the older key format).
    pf.threads = j.value("threads", 1);
    if (pf.threads < 1 || pf.threads > 1024)
      throw DataError(path, "threads", fmt::format("{} is out of range [1, 1024]", pf.threads));
    pf.threads_policy = j.value("threads_policy", std::string("from an older plan file"));
    pf.jobs = j.value("jobs", 1);
    pf.force = field("force").get<bool>();
    pf.tasks = field("tasks").get<std::vector<std::vector<std::string>>>();
    for (const auto& r : field("runs")) {
      PlanFile::Run pr;
      pr.index = r.at("index").get<size_t>();
      pr.key = r.at("key").get<std::string>();
      pr.description = r.at("description").get<std::string>();
      pr.config_yaml = r.at("config").get<std::string>();
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
                              bool quiet, std::ostream& out, const std::string& ledger) {
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
  // The parent's choice, not one of this process: it knows how many workers share the machine
  // (a Slurm task's choice was made at submission, for its --cpus-per-task).
  plan.threads.threads = pf.threads;
  plan.threads.policy = pf.threads_policy;
  plan.threads.jobs = pf.jobs;
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
  track_sweep_dir(plan.experiment_dir);
  remove_stale_temporaries(plan.experiment_dir);
  const GitInfo git = git_info(spec_dir_of(pf.spec_path));
  int ledger_fd = -1;
  if (!ledger.empty()) {
    ledger_fd = ::open(ledger.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (ledger_fd < 0)
      throw Error(fmt::format("cannot open the ledger {}: {}", ledger, std::strerror(errno)));
  }
  auto record = [&](const PlannedRun& r, RunFate f) {
    if (ledger_fd < 0) return;
    std::string line = fmt::format("{} {}\n", ledger_word(f), r.key);
    ssize_t n = write(ledger_fd, line.data(), line.size());  // one write per line
    (void)n;
  };
  WorkerSummary ws;
  std::vector<const PlannedRun*> todo;
  for (const auto& k : pf.tasks[static_cast<size_t>(task)]) {
    const PlannedRun& r = *by_key.at(k);
    if (!pf.force && run_is_done(plan.experiment_dir + "/" + r.key16(), r.key)) {
      ++ws.skipped;
      record(r, RunFate::done);
      if (!quiet) out << fmt::format("run {} ({}): already done\n", r.key16(), describe_run(r));
    } else {
      todo.push_back(&r);
    }
  }
  out << std::flush;
  auto done = [&](const PlannedRun& r, const LockedRun& lr) {
    record(r, lr.fate);
    switch (lr.fate) {
      case RunFate::ran_ok:
      case RunFate::ran_failed:
        ++ws.ran;
        break;
      case RunFate::done: ++ws.skipped; break;
      default: ++ws.elsewhere; break;
    }
    if (lr.fate == RunFate::ran_failed || lr.fate == RunFate::elsewhere_failed) ++ws.failed;
    if (lr.fate == RunFate::ran_failed)
      std::cerr << fmt::format("run {} ({}) failed: {}\n", r.key16(), describe_run(r),
                               lr.outcome.error);
    else if (lr.fate == RunFate::elsewhere_failed)
      std::cerr << fmt::format("run {} ({}) failed in another process\n", r.key16(),
                               describe_run(r));
    else if (!quiet && lr.fate == RunFate::ran_ok)
      out << fmt::format("run {} ({}): ok in {:.2f}s\n", r.key16(), describe_run(r),
                         lr.outcome.seconds);
    else if (!quiet)
      out << fmt::format("run {} ({}): done by another process\n", r.key16(), describe_run(r));
    out << std::flush;
  };
  try {
    run_all_locked(plan, todo, reg, git, pf.force, {}, done,
                   [&](const std::string& line) { std::cerr << line; });
  } catch (...) {
    if (ledger_fd >= 0) ::close(ledger_fd);
    throw;
  }
  if (ledger_fd >= 0) ::close(ledger_fd);
  if (!quiet)
    out << fmt::format("{} task {}: {} ran, {} already done, {} failed{}\n", pf.experiment, task,
                       ws.ran, ws.skipped, ws.failed,
                       ws.elsewhere ? fmt::format(", {} run by another process", ws.elsewhere)
                                    : "");
  return ws;
}

}  // namespace vlb
