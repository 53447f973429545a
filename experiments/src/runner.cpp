// Running a plan into results/<experiment>/<key16>/ (experiments/SPEC.md "Results"), one run
// after the other in this process; `--jobs N` hands the plan to workers (workers.cpp).
#include "vlb/experiments/runner.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "runner_detail.h"
#include "vlb/core/clock.h"
#include "vlb/core/error.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/spec.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace vlb {
namespace {

using runner_detail::Clock;
using runner_detail::seconds_since;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);  // all threads of the process: intra-op threads count too
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Temporaries are named .tmp-<key16>-<host>-<pid>: on a cluster the results directory is shared
// by many machines, and a pid says whether a process is alive only on its own host.
std::string temp_name(const char* kind, const std::string& key16) {
  return fmt::format(".{}-{}-{}-{}", kind, key16, host_tag(), getpid());
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

void print_plan(const Plan& plan, std::ostream& out, int* done_count) {
  // Streams: a plan of 100,000 runs prints row by row. Widths come from a first pass that keeps
  // nothing but the maxima; the status (the only file-system probe) comes last and needs none.
  auto swept_text = [](const PlannedRun& r) {
    std::string swept;
    for (const auto& [k, v] : r.config.swept) swept += (swept.empty() ? "" : " ") + k + "=" + v;
    return swept.empty() ? std::string("-") : swept;
  };
  size_t w[6] = {1, 3, 6, 8, 5, 4};  // the header cells: "#", "run", "method", ...
  for (const auto& r : plan.runs) {
    w[0] = std::max(w[0], std::to_string(r.index).size());
    w[1] = std::max(w[1], r.key16().size());
    w[2] = std::max(w[2], r.config.method.size());
    w[3] = std::max(w[3], r.config.ablation.empty() ? size_t{1} : r.config.ablation.size());
    w[4] = std::max(w[4], swept_text(r).size());
    w[5] = std::max(w[5], std::to_string(r.config.seed).size());
  }
  auto row = [&](const std::string& idx, const std::string& key, const std::string& method,
                 const std::string& ablation, const std::string& swept, const std::string& seed,
                 const char* status) {
    out << fmt::format("{:>{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {}\n", idx, w[0], key,
                       w[1], method, w[2], ablation, w[3], swept, w[4], seed, w[5], status);
  };
  row("#", "run", "method", "ablation", "swept", "seed", "status");
  *done_count = 0;
  for (const auto& r : plan.runs) {
    bool done = run_is_done(plan.experiment_dir + "/" + r.key16(), r.key);
    *done_count += done;
    row(std::to_string(r.index), r.key16(), r.config.method,
        r.config.ablation.empty() ? "-" : r.config.ablation, swept_text(r),
        std::to_string(r.config.seed), done ? "done" : "pending");
  }
  out << fmt::format("{}: {} runs: {} done, {} pending (dry run: nothing was run)\n",
                     plan.experiment, plan.runs.size(), *done_count,
                     plan.runs.size() - static_cast<size_t>(*done_count));
}

}  // namespace

namespace runner_detail {

// Note [Stale temporaries]: a process killed mid-run leaves .tmp-<key16>-<host>-<pid> (or, between
// the two renames of a replacement, .old-<key16>-<host>-<pid>) behind. They are never read; a later
// sweep on the same host removes those whose process is gone, so that a crash costs nothing but
// the run it interrupted. Temporaries of other hosts are left alone: on a shared results directory
// their pids mean nothing here (a dead node's leftovers cost disk space, never correctness).
void remove_stale_temporaries(const std::string& experiment_dir) {
  const fs::path exp_dir(experiment_dir);
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
  std::string predictions_mode = "none";
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
    // Per-sample predictions (datasets/RESULTS.md), published atomically with the run.
    const auto& method_entry = reg.methods.get(c.method);
    std::map<std::string, std::string> metric_versions;
    for (const auto& mc : c.metrics) metric_versions[mc.name] = reg.metrics.get(mc.name).version;
    predictions_mode = write_predictions(
        (tmp / "predictions.h5").string(), pred, eval.rows, ds, c, r.key,
        primary_task(method_entry.tags), method_entry.version, metric_versions,
        PredictionsOptions{c.predictions, c.predictions_topk, c.predictions_max_mb});
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
    if (predictions_mode != "none")
      metrics_json["predictions"] = {{"file", "predictions.h5"}, {"mode", predictions_mode}};
  } else {
    metrics_json = {{"status", "failed"},
                    {"run_key", r.key},
                    {"plan_index", r.index},
                    {"error", out.error},
                    {"metrics", json::object()}};
  }

  json env = {{"vlb_version", vlb_version()},
              {"git_sha", git.sha},
              {"git_dirty", git.dirty ? json(*git.dirty) : json("unknown")},
              {"torch_version", torch_version()},
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
               {{"name", dataset_display_name(c, ds)},
                {"source", c.dataset_source},
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

std::string describe_run(const PlannedRun& r) {
  std::string s = r.config.method;
  if (!r.config.ablation.empty()) s += " [" + r.config.ablation + "]";
  for (const auto& [k, v] : r.config.swept) s += " " + k + "=" + v;
  return s + fmt::format(" seed={}", r.config.seed);
}

std::string clock_text(double secs) {
  long s = static_cast<long>(secs + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string spec_dir_of(const std::string& spec_path) {
  std::string d = fs::path(spec_path).parent_path().string();
  return d.empty() ? "." : d;
}

bool show_progress(const RunOptions& opts) {
  return opts.progress && isatty(2) && std::getenv("CI") == nullptr;
}

}  // namespace runner_detail

using namespace runner_detail;

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
  if (opts.record_plan) opts.record_plan(plan);
  remove_stale_temporaries(plan.experiment_dir);
  if (opts.jobs > 1) return run_local_parallel(plan, opts, out);
  // Once per sweep: the checkout does not change mid-run.
  const GitInfo git = git_info(spec_dir_of(spec_path));

  const bool progress = show_progress(opts);
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
