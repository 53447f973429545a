// The Slurm backend: submissions under results/<exp>/.plan/submit-NNN/ and experiment status.
#include "vlb/experiments/slurm.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/threads.h"
#include "vlb/experiments/workers.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

struct CommandOutput {
  int exit_code = -1;
  std::string text;
};

// popen with a bounded command (sbatch/squeue/sacct answer or fail on their own timeouts).
CommandOutput run_capture(const std::string& cmd, bool merge_stderr) {
  CommandOutput r;
  FILE* p = popen((cmd + (merge_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.text.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

bool is_active_state(const std::string& s) {
  static const char* finished[] = {"COMPLETED", "CANCELLED",     "FAILED",    "TIMEOUT",
                                   "NODE_FAIL", "PREEMPTED",     "BOOT_FAIL", "DEADLINE",
                                   "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"};
  for (const char* f : finished)
    if (s.rfind(f, 0) == 0) return false;
  return !s.empty();
}

struct Submission {
  std::string dir;
  std::string job_id;  // "" when sbatch never answered
  PlanFile plan;
};

std::vector<Submission> load_submissions(const std::string& exp_dir) {
  std::vector<Submission> subs;
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(fs::path(exp_dir) / ".plan", ec)) {
    std::string name = e.path().filename().string();
    if (std::regex_match(name, std::regex("submit-[0-9]+"))) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());  // zero-padded: lexical = numeric up to 999999
  for (const auto& d : dirs) {
    if (!fs::exists(d / "plan.json")) continue;
    Submission s;
    s.dir = d.string();
    s.plan = read_plan_file((d / "plan.json").string());
    if (fs::exists(d / "job_id")) s.job_id = trim(read_file((d / "job_id").string()));
    subs.push_back(std::move(s));
  }
  return subs;
}

/// job -> task -> state for every job squeue still knows about (incl. recently finished ones);
/// false when squeue cannot be asked.
bool query_scheduler(std::map<std::string, std::map<int, std::string>>* jobs) {
  CommandOutput r = run_capture("squeue -h -r -t all -o '%F|%K|%T'", false);
  if (r.exit_code != 0) return false;
  *jobs = parse_squeue(r.text);
  return true;
}

/// sacct's view of finished tasks (when accounting is enabled): task -> state.
std::map<int, std::string> query_sacct(const std::string& job_id) {
  std::map<int, std::string> out;
  CommandOutput r = run_capture("sacct -n -P -X -o JobID,State -j " + shell_quote(job_id), false);
  if (r.exit_code != 0) return out;
  std::istringstream in(r.text);
  std::string line;
  std::regex row("([0-9]+)_([0-9]+)\\|([A-Z_]+).*");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, row) && m[1] == job_id) out[std::stoi(m[2])] = m[3];
  return out;
}

std::string sbatch_script(const std::string& experiment, const std::string& submit_dir,
                          const std::string& working_dir, int tasks, int runs, int cpus,
                          const SlurmOptions& o) {
  std::string s = "#!/bin/bash\n";
  s += fmt::format("# vlbench experiment '{}': {} runs in {} array tasks.\n", experiment, runs,
                   tasks);
  s += "# Array task i runs the runs listed in tasks[i] of plan.json (next to this script), one\n"
       "# after the other, each into results/<exp>/<run key>/ by an atomic rename: a task that\n"
       "# dies leaves nothing half-written, and submitting the spec again submits only the runs\n"
       "# that are not done.\n";
  s += fmt::format("#SBATCH --job-name=vlb-{}\n", experiment);
  s += fmt::format("#SBATCH --array=0-{}{}\n", tasks - 1,
                   o.array_limit > 0 ? fmt::format("%{}", o.array_limit) : "");
  s += "#SBATCH --ntasks=1\n";
  s += fmt::format("#SBATCH --cpus-per-task={}\n", cpus);
  s += fmt::format("#SBATCH --output={}/logs/task-%a.out\n", submit_dir);
  if (!o.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", o.partition);
  if (!o.time.empty()) s += fmt::format("#SBATCH --time={}\n", o.time);
  if (!o.mem.empty()) s += fmt::format("#SBATCH --mem={}\n", o.mem);
  s += "\n";
  s += fmt::format("cd {} || exit 1\n", shell_quote(working_dir));
  s += fmt::format("exec {} worker --plan {} --task \"$SLURM_ARRAY_TASK_ID\"\n",
                   shell_quote(o.executable), shell_quote(submit_dir));
  return s;
}

void check_option(const std::string& what, const std::string& value) {
  static const std::regex safe("[A-Za-z0-9_.:,+=/-]*");
  if (!std::regex_match(value, safe))
    throw ConfigError(fmt::format("{} '{}': only letters, digits and _.:,+=/- are allowed (it "
                                  "goes into an #SBATCH line)",
                                  what, value));
}

}  // namespace

std::map<std::string, std::map<int, std::string>> parse_squeue(const std::string& text) {
  std::map<std::string, std::map<int, std::string>> jobs;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    auto a = line.find('|');
    auto b = line.find('|', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string job = line.substr(0, a), task = line.substr(a + 1, b - a - 1);
    std::string state = line.substr(b + 1);
    int t = -1;
    if (!task.empty() && std::all_of(task.begin(), task.end(), ::isdigit)) t = std::stoi(task);
    else if (task != "N/A") continue;  // an unexpanded range: -r should never print one
    jobs[job][t] = state;
  }
  return jobs;
}

std::vector<RunReport> scan_run_dirs(const std::string& experiment_dir) {
  static const std::regex run_name("[0-9a-f]{16}");
  std::vector<RunReport> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(experiment_dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || !std::regex_match(name, run_name)) continue;
    RunReport r;
    r.dir = e.path().string();
    r.key = name;
    try {
      auto j = nlohmann::json::parse(read_file(r.dir + "/metrics.json"));
      std::string key = j.value("run_key", "");
      if (key.size() == 64 && key.compare(0, 16, name) == 0) {
        r.key = key;
        r.state = run_status(r.dir, key) == "ok" ? "done" : j.value("status", "") == "failed" ? "failed" : "";
        std::string err = j.value("error", "");
        r.error = err.substr(0, err.find('\n'));
      }
    } catch (const std::exception&) {
    }
    if (r.state.empty()) {
      r.state = "failed";
      if (r.error.empty()) r.error = "no readable metrics.json for this run key";
    }
    try {
      r.method = YAML::LoadFile(r.dir + "/config.resolved.yaml")["method"]["name"].as<std::string>();
    } catch (const std::exception&) {
    }
    r.log = fs::exists(r.dir + "/log.txt") ? r.dir + "/log.txt" : r.dir + "/metrics.json";
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const RunReport& x, const RunReport& y) { return x.dir < y.dir; });
  return out;
}

ExperimentStatus experiment_status(const std::string& experiment_dir, const StatusOptions& opts) {
  ExperimentStatus st;
  st.experiment_dir = experiment_dir;
  st.has_current = opts.current_keys.has_value();
  std::vector<Submission> subs = load_submissions(experiment_dir);
  st.has_plan = !subs.empty();
  const std::string& exp = experiment_dir;
  auto status_of = [&](const std::string& key) { return run_status(exp + "/" + key.substr(0, 16), key); };

  std::map<std::string, std::string> task_log, described, task_state;  // key -> latest task's
  if (!subs.empty()) {
    std::map<std::string, std::map<int, std::string>> jobs;
    st.scheduler_available = query_scheduler(&jobs);
    for (const auto& sub : subs) {
      std::map<int, std::string> sacct;
      bool sacct_asked = false;
      for (const auto& r : sub.plan.runs) described[r.key] = r.description;
      for (size_t t = 0; t < sub.plan.tasks.size(); ++t) {
        TaskReport tr;
        tr.submit_dir = sub.dir;
        tr.job_id = sub.job_id;
        tr.task = static_cast<int>(t);
        tr.log = fmt::format("{}/logs/task-{}.out", sub.dir, t);
        tr.runs = static_cast<int>(sub.plan.tasks[t].size());
        for (const auto& k : sub.plan.tasks[t]) tr.runs_done += status_of(k) == "ok";
        auto job = jobs.find(sub.job_id);
        if (job != jobs.end()) {
          auto it = job->second.find(tr.task);
          if (it != job->second.end()) tr.scheduler_state = it->second;
        }
        bool active = !sub.job_id.empty() && is_active_state(tr.scheduler_state);
        if (!st.scheduler_available && !sub.job_id.empty() && tr.runs_done < tr.runs) {
          active = true;  // cannot tell: count it as in flight rather than failed
        }
        if (active) {
          tr.state = tr.scheduler_state == "RUNNING" ? "running" : "queued";
          for (const auto& k : sub.plan.tasks[t])
            if (status_of(k) != "ok") st.active_keys.insert(k);
        } else if (tr.runs_done == tr.runs) {
          tr.state = "done";
        } else {
          tr.state = "failed";
          if (tr.scheduler_state.empty() && !sub.job_id.empty()) {
            if (!sacct_asked) sacct = query_sacct(sub.job_id), sacct_asked = true;
            auto it = sacct.find(tr.task);
            if (it != sacct.end()) tr.scheduler_state = it->second;
          }
        }
        for (const auto& k : sub.plan.tasks[t]) {
          task_log[k] = tr.log;
          task_state[k] = tr.scheduler_state;
        }
        st.tasks.push_back(std::move(tr));
      }
    }
    // A key left undone by a finished task (and not taken up by a later, active one) failed.
    for (const auto& sub : subs)
      for (const auto& task : sub.plan.tasks)
        for (const auto& k : task)
          if (status_of(k) != "ok" && !st.active_keys.count(k) && !sub.job_id.empty())
            st.failed_keys.insert(k);
  }

  std::vector<RunReport> dirs = scan_run_dirs(experiment_dir);
  std::map<std::string, const RunReport*> by_key;
  for (const auto& d : dirs) by_key[d.key] = &d;

  // The runs that make up the experiment now.
  std::vector<std::string> keys;
  if (opts.current_keys) {
    keys = *opts.current_keys;
  } else if (!subs.empty()) {
    for (const auto& r : subs.back().plan.runs) keys.push_back(r.key);
  } else {
    for (const auto& d : dirs) keys.push_back(d.key);
  }
  std::set<std::string> counted;
  for (const auto& k : keys) {
    if (!counted.insert(k).second) continue;
    RunReport r;
    auto it = by_key.find(k);
    if (it != by_key.end()) r = *it->second;
    r.key = k;
    r.dir = exp + "/" + k.substr(0, 16);
    if (r.method.empty() && described.count(k)) r.method = described[k].substr(0, described[k].find(' '));
    if (r.state == "done") {
    } else if (st.active_keys.count(k)) {
      r.state = "active";
    } else if (r.state == "failed" || st.failed_keys.count(k)) {
      if (r.state != "failed") {
        std::string why = task_state[k].empty() ? "" : " (" + task_state[k] + ")";
        r.error = "its Slurm task ended without a result" + why;
      }
      r.state = "failed";
      if (r.log.empty() || (!fs::exists(r.dir + "/log.txt") && task_log.count(k))) r.log = task_log[k];
    } else {
      r.state = "pending";
    }
    st.done += r.state == "done";
    st.failed += r.state == "failed";
    st.active += r.state == "active";
    st.pending += r.state == "pending";
    st.runs.push_back(std::move(r));
  }
  st.total = static_cast<int>(st.runs.size());
  for (const auto& d : dirs)
    if (!counted.count(d.key)) st.stale.push_back(d);
  return st;
}

void print_status(const ExperimentStatus& st, std::ostream& out, bool all) {
  out << fmt::format("{}: {} runs: {} done, {} failed, {} queued or running, {} pending\n",
                     st.experiment_dir, st.total, st.done, st.failed, st.active, st.pending);
  if (st.has_current) {
    out << "(the runs of the current plan, .plan/current.json)\n";
  } else if (st.has_plan) {
    out << "(no .plan/current.json: the runs of the latest Slurm submission)\n";
  } else {
    out << "(no .plan/current.json: every run directory counts)\n";
  }
  if (!st.stale.empty()) {
    int ok = 0;
    for (const auto& r : st.stale) ok += r.state == "done";
    out << fmt::format("{} other run directories, not in that plan: {} done, {} failed{}\n",
                       st.stale.size(), ok, st.stale.size() - static_cast<size_t>(ok),
                       all ? "" : " (--all lists them; `vlb prune` removes them)");
  }
  if (st.has_plan && !st.scheduler_available)
    out << "squeue could not be asked: unfinished tasks of submitted jobs are counted as in "
           "flight\n";
  if (st.has_plan) {
    std::map<std::string, std::map<std::string, int>> per_job;  // job -> state -> tasks
    for (const auto& t : st.tasks) ++per_job[t.job_id.empty() ? "(not submitted)" : t.job_id][t.state];
    for (const auto& [job, counts] : per_job) {
      std::string parts;
      for (const auto& [state, n] : counts) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, state);
      out << fmt::format("  job {}: {}\n", job, parts);
    }
    for (const auto& t : st.tasks) {
      if (t.state != "failed") continue;
      out << fmt::format("  failed: job {} task {} ({}{}/{} runs done) log: {}\n", t.job_id, t.task,
                         t.scheduler_state.empty() ? "" : t.scheduler_state + ", ", t.runs_done,
                         t.runs, t.log);
    }
  }
  if (st.failed > 0) {
    out << "failed runs:\n";
    for (const auto& r : st.runs)
      if (r.state == "failed")
        out << fmt::format("  {} {}: {}\n    log: {}\n", r.key.substr(0, 16),
                           r.method.empty() ? "?" : r.method, r.error, r.log.empty() ? "-" : r.log);
  }
  if (all && !st.stale.empty()) {
    out << "runs not in the plan:\n";
    for (const auto& r : st.stale)
      out << fmt::format("  {} {}: {}{}\n", r.key.substr(0, 16), r.method.empty() ? "?" : r.method,
                         r.state, r.state == "failed" ? " (" + r.error + ")" : "");
  }
  if (st.failed > 0 && st.has_plan)
    out << "  resubmit the failed runs alone: vlb run SPEC --backend slurm --only-failed\n";
}

ExperimentStatus wait_for_experiment(const std::string& experiment_dir, double poll_seconds,
                                     std::ostream& err) {
  std::string last;
  auto t0 = std::chrono::steady_clock::now();
  while (true) {
    ExperimentStatus st = experiment_status(experiment_dir);
    if (!st.scheduler_available)
      throw DataError(experiment_dir, "", "squeue cannot be asked: cannot wait for the job");
    bool active = false;
    for (const auto& t : st.tasks) active |= t.state == "queued" || t.state == "running";
    int running = 0;
    for (const auto& t : st.tasks) running += t.state == "running";
    long secs = static_cast<long>(std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - t0).count());
    std::string line = fmt::format("{}/{} done, {} failed, {} in flight ({} tasks running)",
                                   st.done, st.total, st.failed, st.active, running);
    if (line != last) {
      err << fmt::format("[{}:{:02}] {}\n", secs / 60, secs % 60, line) << std::flush;
      last = line;
    }
    if (!active) return st;
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_seconds));
  }
}

SlurmSubmission submit_slurm(const std::string& spec_path, const RunOptions& opts,
                             const SlurmOptions& sopts, const Registries& reg, std::ostream& out) {
  if (sopts.executable.empty()) throw ConfigError("--backend slurm: no vlb executable given");
  if (sopts.runs_per_task < 1) throw ConfigError("--runs-per-task must be >= 1");
  if (sopts.array_limit < 0) throw ConfigError("--array-limit must be >= 0");
  check_option("--partition", sopts.partition);
  check_option("--time", sopts.time);
  check_option("--mem", sopts.mem);
  Plan plan = make_plan(spec_path, opts, reg);
  std::string exp_abs = fs::absolute(plan.experiment_dir).lexically_normal().string();
  if (exp_abs.find_first_of(" \t\n'\"\\%") != std::string::npos)
    throw ConfigError(fmt::format("--results: '{}' contains a space, quote or %: it cannot go "
                                  "into an #SBATCH --output line",
                                  exp_abs));

  // The spec now owns the directory even when nothing is left to submit.
  if (!opts.dry_run && opts.record_plan) {
    fs::create_directories(plan.experiment_dir);
    opts.record_plan(plan);
  }
  std::vector<std::string> keys = runnable_keys(plan, opts.force);
  ExperimentStatus st = experiment_status(plan.experiment_dir);
  size_t before = keys.size();
  keys.erase(std::remove_if(keys.begin(), keys.end(),
                            [&](const std::string& k) { return st.active_keys.count(k) > 0; }),
             keys.end());
  if (keys.size() < before)
    out << fmt::format("{} runs are queued or running in an earlier job: not submitted again\n",
                       before - keys.size());
  if (sopts.only_failed) {
    keys.erase(std::remove_if(keys.begin(), keys.end(),
                              [&](const std::string& k) {
                                std::string s = run_status(
                                    plan.experiment_dir + "/" + k.substr(0, 16), k);
                                return s != "failed" && st.failed_keys.count(k) == 0;
                              }),
               keys.end());
  }

  SlurmSubmission sub;
  sub.runs = static_cast<int>(keys.size());
  if (keys.empty()) {
    out << fmt::format("{}: nothing to submit ({} of {} distinct runs done, {} in flight)\n",
                       plan.experiment, st.has_plan ? st.done : 0, st.total, st.active);
    return sub;
  }
  auto tasks = shard_chunks(keys, sopts.runs_per_task);
  sub.tasks = static_cast<int>(tasks.size());
  // Every task runs at the one thread count chosen here (plan.json), and asks for that many CPUs.
  plan.threads = choose_slurm_threads(plan.spec_threads, opts.threads);
  const int cpus = plan.threads.threads;
  std::cerr << fmt::format("vlb run: {} runs to do in {} array tasks x {} thread{} per run ({})\n",
                           sub.runs, sub.tasks, cpus, cpus == 1 ? "" : "s", plan.threads.policy);

  fs::path plan_root = fs::path(exp_abs) / ".plan";
  if (opts.dry_run) {
    sub.script = sbatch_script(plan.experiment, (plan_root / "submit-NNN").string(),
                               fs::current_path().string(), sub.tasks, sub.runs, cpus, sopts);
    out << sub.script;
    out << fmt::format("# dry run: {} runs in {} array tasks would be submitted; nothing written\n",
                       sub.runs, sub.tasks);
    return sub;
  }
  fs::create_directories(plan_root);
  // create_directory is atomic: two concurrent submissions get different numbers.
  fs::path dir;
  for (int n = 1;; ++n) {
    dir = plan_root / fmt::format("submit-{:03}", n);
    if (fs::create_directory(dir)) break;
  }
  fs::create_directories(dir / "logs");
  sub.submit_dir = dir.string();
  sub.script = sbatch_script(plan.experiment, sub.submit_dir, fs::current_path().string(),
                             sub.tasks, sub.runs, cpus, sopts);
  write_plan_file(make_plan_file(plan, opts, tasks), (dir / "plan.json").string());
  write_file_atomic((dir / "job.sbatch").string(), sub.script);

  CommandOutput r = run_capture("sbatch --parsable " + shell_quote((dir / "job.sbatch").string()), true);
  std::string answer = trim(r.text);
  std::smatch m;
  if (r.exit_code != 0 || !std::regex_match(answer, m, std::regex("([0-9]+)(;.*)?"))) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw Error(fmt::format("sbatch failed (exit {}): {}", r.exit_code,
                            answer.empty() ? "no output (is this a Slurm submit host?)" : answer));
  }
  sub.job_id = m[1];
  write_file_atomic((dir / "job_id").string(), sub.job_id + "\n");
  out << fmt::format("submitted job {}: {} runs in {} array tasks ({})\n", sub.job_id, sub.runs,
                     sub.tasks, sub.submit_dir);
  out << fmt::format("follow it with: vlb status {}\n", exp_abs);
  return sub;
}

}  // namespace vlb
