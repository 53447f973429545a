// Running a plan into results/<experiment>/<key16>/ (experiments/SPEC.md "Results").
#include "vlb/core/clock.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/runner.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <torch/version.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/experiments/spec.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

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

/// A finished run: its metrics.json says status ok for this very key.
bool is_done(const std::string& dir, const std::string& key) {
  std::ifstream f(dir + "/metrics.json");
  if (!f) return false;
  try {
    json j = json::parse(f);
    return j.value("status", "") == "ok" && j.value("run_key", "") == key;
  } catch (const std::exception&) {
    return false;
  }
}

void write_plain(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.flush();
  if (!f) throw DataError(path.string(), "", "write failed");
}

// Note [Stale temporaries]: a process killed mid-run leaves .tmp-<key16>-<pid> (or, between the two
// renames of a replacement, .old-<key16>-<pid>) behind. They are never read; a later sweep removes
// those whose process is gone, so that a crash costs nothing but the run it interrupted.
void remove_stale_temporaries(const fs::path& exp_dir) {
  std::error_code ec;
  if (!fs::is_directory(exp_dir, ec)) return;
  for (const auto& entry : fs::directory_iterator(exp_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0 && name.rfind(".old-", 0) != 0) continue;
    auto dash = name.rfind('-');
    long pid = std::strtol(name.c_str() + dash + 1, nullptr, 10);
    bool alive = pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (!alive || pid == getpid()) fs::remove_all(entry.path(), ec);
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
  fs::path tmp = exp_dir / fmt::format(".tmp-{}-{}", r.key16(), getpid());
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
  json values = json::object(), higher = json::object();
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
    // Seed and threads right before fit, so nothing earlier in the sweep can shift the stream.
    at::set_num_threads(c.threads);
    at::manual_seed(c.seed);
    auto tf = Clock::now();
    method->fit(train, ctx);
    fit_s = seconds_since(tf);
    auto tp = Clock::now();
    Prediction pred = method->predict(eval, ctx);
    predict_s = seconds_since(tp);
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
  // metrics.json last: its presence (status ok) is what marks a run complete.
  write_plain(tmp / "metrics.json", metrics_json.dump(2) + "\n");

  // Publish: the final directory appears complete or not at all.
  if (fs::exists(final_dir)) {
    fs::path old = exp_dir / fmt::format(".old-{}-{}", r.key16(), getpid());
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
    bool done = is_done(plan.experiment_dir + "/" + r.key16(), r.key);
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

}  // namespace

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
    if (duplicate || (!opts.force && is_done(dir, r.key))) {
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
