// Running a plan into results/<experiment>/<key16>/ (experiments/SPEC.md "Results").
#include "vlb/core/clock.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/workers.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/experiments/spec.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

extern char** environ;

namespace vlb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);  // all threads of the process: intra-op threads count too
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string capture(const std::string& cmd, bool* ok) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) {
    *ok = false;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *ok = pclose(p) == 0;
  return out;
}

struct GitInfo {
  std::string sha = "unknown";
  json dirty = "unknown";
};

GitInfo git_info(const std::string& dir) {
  GitInfo g;
  bool ok = false;
  std::string sha = capture("git -C " + shell_quote(dir) + " rev-parse HEAD", &ok);
  if (!ok) return g;
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r')) sha.pop_back();
  g.sha = sha;
  std::string st = capture("git -C " + shell_quote(dir) + " status --porcelain", &ok);
  if (ok) g.dirty = !st.empty();
  return g;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "unknown";
}

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// Temporaries are named .tmp-<key16>-<host>-<pid>: on a cluster the results directory is shared
// by many machines, and a pid says whether a process is alive only on its own host.
std::string temp_name(const char* kind, const std::string& key16) {
  return fmt::format(".{}-{}-{}-{}", kind, key16, host_tag(), getpid());
}


std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  if (H5get_libversion(&maj, &min, &rel) < 0) return "unknown";
  return fmt::format("{}.{}.{}", maj, min, rel);
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __VERSION__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

std::string clock_text(double secs) {
  long s = static_cast<long>(secs + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string describe_run(const PlannedRun& r) {
  std::string s = r.config.method;
  if (!r.config.ablation.empty()) s += " [" + r.config.ablation + "]";
  for (const auto& [k, v] : r.config.swept) s += " " + k + "=" + v;
  return s + fmt::format(" seed={}", r.config.seed);
}

void write_plain(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.flush();
  if (!f) throw DataError(path.string(), "", "write failed");
}

/// Whether `name` (ending in -<host>-<pid>, or -<pid> for older names) belongs to a process of
/// this host that is gone (or to this very process, which is not using it yet).
bool owner_is_gone(const std::string& name, size_t host_start) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 < host_start) return false;
  long pid = std::strtol(name.c_str() + dash + 1, nullptr, 10);
  if (dash >= host_start) {  // a host part: another machine's temporaries are not ours to judge
    if (name.substr(host_start, dash - host_start) != host_tag()) return false;
  }
  bool alive = pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  return !alive || pid == getpid();
}

// Note [Stale temporaries]: a process killed mid-run leaves .tmp-<key16>-<host>-<pid> (or, between
// the two renames of a replacement, .old-<key16>-<host>-<pid>) behind. They are never read; a later
// sweep on the same host removes those whose process is gone, so that a crash costs nothing but
// the run it interrupted. Temporaries of other hosts are left alone: on a shared results directory
// their pids mean nothing here (a dead node's leftovers cost disk space, never correctness).
void remove_stale_temporaries(const fs::path& exp_dir) {
  std::error_code ec;
  if (!fs::is_directory(exp_dir, ec)) return;
  for (const auto& entry : fs::directory_iterator(exp_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0 && name.rfind(".old-", 0) != 0) continue;
    if (owner_is_gone(name, 5 + 16 + 1)) fs::remove_all(entry.path(), ec);
  }
  // Plans of local --jobs sweeps whose parent died (.plan/local-<host>-<pid>).
  for (const auto& entry : fs::directory_iterator(exp_dir / ".plan", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("local-", 0) == 0 && owner_is_gone(name, 6)) fs::remove_all(entry.path(), ec);
  }
}

/// Removes the temporary directory unless it was published.
struct TmpGuard {
  fs::path path;
  bool armed = true;
  ~TmpGuard() {
    if (!armed) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Outcome {
  bool ok = false;
  std::string error;
  double seconds = 0;
};

Outcome execute(const Plan& plan, const PlannedRun& r, const Registries& reg, const GitInfo& git) {
  const RunConfig& c = r.config;
  fs::path exp_dir(plan.experiment_dir);
  fs::path final_dir = exp_dir / r.key16();
  fs::path tmp = exp_dir / temp_name("tmp", r.key16());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  TmpGuard guard{tmp};

  write_plain(tmp / "config.resolved.yaml", resolved_config_yaml(c));
  std::string overrides;
  for (const auto& o : plan.overrides) overrides += o + "\n";
  write_plain(tmp / "overrides.txt", overrides);

  const Dataset& ds = *r.dataset;
  json metrics_json;
  Outcome out;
  std::string started = utc_now();
  auto t0 = Clock::now();
  double cpu0 = cpu_seconds();
  double fit_s = 0, predict_s = 0;
  int64_t n_train = 0, n_eval = 0;
  json values = json::object(), higher = json::object(), aux = json::object();
  std::string log_text;  // the method's log lines, kept in the run directory (log.txt)
  try {
    // The K-shot draw depends on the run seed alone (its own generator), see fewshot.h.
    DataView train = sample_shots(make_view(ds, c.train_split), c.shots, c.seed);
    DataView eval = make_view(ds, c.eval_split);
    n_train = train.size();
    n_eval = eval.size();
    auto method = reg.methods.create(c.method, c.method_params);
    RunContext ctx;
    ctx.seed = c.seed;
    ctx.threads = c.threads;
    ctx.log = [&](const std::string& line) {
      log_text += fmt::format("[{:8.2f}s] {}\n", seconds_since(t0), line);
    };
    // Seed and threads right before fit, so nothing earlier in the sweep can shift the stream.
    at::set_num_threads(c.threads);
    at::manual_seed(c.seed);
    auto tf = Clock::now();
    method->fit(train, ctx);
    fit_s = seconds_since(tf);
    auto tp = Clock::now();
    Prediction pred = method->predict(eval, ctx);
    predict_s = seconds_since(tp);
    // Scalar side outputs (epochs run, selected epochs, diagnostics) are kept next to the metrics.
    for (const auto& [name, t] : pred.aux)
      if (t.defined() && t.numel() == 1 && !t.is_complex()) aux[name] = t.item<double>();
    Targets targets{eval.label(), eval.labels(), ds.num_classes(), &ds, eval.rows};
    for (const auto& mc : c.metrics) {
      auto metric = reg.metrics.create(mc.name, mc.params);
      metric->reset();
      metric->update(pred, targets);
      for (const auto& v : metric->compute()) {
        values[v.name] = v.value;
        higher[v.name] = v.higher_is_better;
      }
    }
    out.ok = true;
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  out.seconds = seconds_since(t0);

  if (out.ok) {
    metrics_json = {{"status", "ok"},
                    {"run_key", r.key},
                    {"plan_index", r.index},
                    {"metrics", values},
                    {"higher_is_better", higher},
                    {"n_train", n_train},
                    {"n_eval", n_eval},
                    {"dataset_fingerprint", ds.fingerprint}};
    if (!aux.empty()) metrics_json["aux"] = aux;
  } else {
    metrics_json = {{"status", "failed"},
                    {"run_key", r.key},
                    {"plan_index", r.index},
                    {"error", out.error},
                    {"metrics", json::object()}};
  }

  json env = {{"vlb_version", VLB_VERSION},
              {"git_sha", git.sha},
              {"git_dirty", git.dirty},
              {"torch_version", TORCH_VERSION},
              {"hdf5_version", hdf5_version()},
              {"compiler", compiler()},
              {"threads", at::get_num_threads()},
              {"seed", c.seed},
              {"hostname", hostname()},
              {"cpu_model", cpu_model()},
              {"started_at", started},
              {"fit_seconds", fit_s},
              {"predict_seconds", predict_s},
              {"wall_seconds", out.seconds},
              {"cpu_seconds", cpu_seconds() - cpu0},
              {"dataset",
               {{"source", c.dataset_source},
                {"path", ds.path},
                {"fingerprint", ds.fingerprint},
                {"feature_dtype", ds.feature_dtype}}}};
  write_plain(tmp / "env.json", env.dump(2) + "\n");
  if (!log_text.empty()) write_plain(tmp / "log.txt", log_text);
  // metrics.json last: its presence (status ok) is what marks a run complete.
  write_plain(tmp / "metrics.json", metrics_json.dump(2) + "\n");

  // Publish: the final directory appears complete or not at all.
  if (fs::exists(final_dir)) {
    fs::path old = exp_dir / temp_name("old", r.key16());
    fs::remove_all(old);
    fs::rename(final_dir, old);
    fs::rename(tmp, final_dir);
    guard.armed = false;
    fs::remove_all(old);
  } else {
    fs::rename(tmp, final_dir);
    guard.armed = false;
  }
  return out;
}

void print_plan(const Plan& plan, std::ostream& out, int* done_count) {
  struct Row {
    std::string idx, key, method, ablation, swept, seed, status;
  };
  std::vector<Row> rows;
  rows.push_back({"#", "run", "method", "ablation", "swept", "seed", "status"});
  *done_count = 0;
  for (const auto& r : plan.runs) {
    bool done = run_is_done(plan.experiment_dir + "/" + r.key16(), r.key);
    *done_count += done;
    std::string swept;
    for (const auto& [k, v] : r.config.swept) swept += (swept.empty() ? "" : " ") + k + "=" + v;
    rows.push_back({std::to_string(r.index), r.key16(), r.config.method,
                    r.config.ablation.empty() ? "-" : r.config.ablation,
                    swept.empty() ? "-" : swept, std::to_string(r.config.seed),
                    done ? "done" : "pending"});
  }
  size_t w[7] = {0};
  for (const auto& row : rows) {
    const std::string* cells[7] = {&row.idx, &row.key, &row.method, &row.ablation,
                                   &row.swept, &row.seed, &row.status};
    for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], cells[i]->size());
  }
  for (const auto& row : rows) {
    out << fmt::format("{:>{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {}\n", row.idx, w[0],
                       row.key, w[1], row.method, w[2], row.ablation, w[3], row.swept, w[4],
                       row.seed, w[5], row.status);
  }
  out << fmt::format("{}: {} runs: {} done, {} pending (dry run: nothing was run)\n",
                     plan.experiment, plan.runs.size(), *done_count,
                     plan.runs.size() - static_cast<size_t>(*done_count));
}

std::string spec_dir_of(const std::string& spec_path) {
  std::string d = fs::path(spec_path).parent_path().string();
  return d.empty() ? "." : d;
}

std::string wait_status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return "unknown status";
}

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

  const bool progress = opts.progress && isatty(2) && std::getenv("CI") == nullptr;
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
      for (const auto& k : keys) done += run_is_done(plan.experiment_dir + "/" + k.substr(0, 16), k);
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

}  // namespace

bool run_is_done(const std::string& run_dir, const std::string& key) {
  return run_status(run_dir, key) == "ok";
}

std::string run_status(const std::string& run_dir, const std::string& key) {
  std::ifstream f(run_dir + "/metrics.json");
  if (!f) return "";
  try {
    json j = json::parse(f);
    if (j.value("run_key", "") != key) return "";
    std::string st = j.value("status", "");
    return st == "ok" || st == "failed" ? st : "";
  } catch (const std::exception&) {
    return "";
  }
}

std::string host_tag() {
  std::string h = hostname();
  for (char& c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '_';
  return h;
}

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

SweepSummary run_experiment(const std::string& spec_path, const RunOptions& opts,
                            const Registries& reg, std::ostream& out) {
  Plan plan = make_plan(spec_path, opts, reg);
  SweepSummary summary;
  summary.total = static_cast<int>(plan.runs.size());
  summary.experiment_dir = plan.experiment_dir;

  if (opts.dry_run) {
    int done = 0;
    print_plan(plan, out, &done);
    summary.skipped = done;
    return summary;
  }

  fs::create_directories(plan.experiment_dir);
  remove_stale_temporaries(plan.experiment_dir);
  if (opts.jobs > 1) return run_local_parallel(plan, opts, out);
  std::string spec_dir = fs::path(spec_path).parent_path().string();
  if (spec_dir.empty()) spec_dir = ".";
  const GitInfo git = git_info(spec_dir);  // once per sweep: the checkout does not change mid-run

  const bool progress = opts.progress && isatty(2) && std::getenv("CI") == nullptr;
  auto t_start = Clock::now();
  double run_time = 0;
  int executed = 0;
  std::set<std::string> seen;  // two plan entries can resolve to the same run (e.g. an ablation
                               // that sets a default): it runs once
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const PlannedRun& r = plan.runs[i];
    std::string dir = plan.experiment_dir + "/" + r.key16();
    bool duplicate = !seen.insert(r.key).second;
    if (duplicate || (!opts.force && run_is_done(dir, r.key))) {
      ++summary.skipped;
      continue;
    }
    if (progress) {
      double elapsed = seconds_since(t_start);
      std::string eta = executed ? clock_text(run_time / executed *
                                              static_cast<double>(plan.runs.size() - i))
                                 : "?";
      std::cerr << "\r\033[K"
                << fmt::format("[{}/{}] {} elapsed, ETA {} | {}", i + 1, plan.runs.size(),
                               clock_text(elapsed), eta, describe_run(r))
                << std::flush;
    }
    Outcome o = execute(plan, r, reg, git);
    ++summary.ran;
    ++executed;
    run_time += o.seconds;
    if (!o.ok) {
      ++summary.failed;
      if (progress) std::cerr << "\r\033[K";
      std::cerr << fmt::format("run {} ({}) failed: {}\n", r.key16(), describe_run(r), o.error);
    }
  }
  if (progress) std::cerr << "\r\033[K" << std::flush;
  out << fmt::format("{}: {} runs \u2014 {} ran, {} already done, {} failed \u2192 {}\n",
                     plan.experiment, summary.total, summary.ran, summary.skipped, summary.failed,
                     plan.experiment_dir);
  return summary;
}

}  // namespace vlb
