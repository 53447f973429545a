// Running a plan into results/<experiment>/<key16>/ (experiments/SPEC.md "Results"), one run
// after the other in this process; `--jobs N` hands the plan to workers (workers.cpp).
#include "vlb/experiments/runner.h"

#include <ATen/CPUGeneratorImpl.h>
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
#include <yaml-cpp/yaml.h>

#include "device.h"
#include "runner_detail.h"
#include "select_detail.h"
#include "vlb/core/clock.h"
#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/threads.h"
#include "vlb/experiments/workers.h"

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
/// this host that is gone (or, unless `keep_own`, to this very process: an earlier process of
/// the same pid left it, or this one is dying).
bool owner_is_gone(const std::string& name, size_t host_start, bool keep_own) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 < host_start) return false;
  long pid = std::strtol(name.c_str() + dash + 1, nullptr, 10);
  if (dash >= host_start) {  // a host part: another machine's temporaries are not ours to judge
    if (name.substr(host_start, dash - host_start) != host_tag()) return false;
  }
  bool alive = pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  return !alive || (pid == getpid() && !keep_own);
}

/// Removes the temporary directory unless it was published; a signal's cleanup removes it too
/// (Note [Cleanup on signals] in run_guard.cpp).
struct TmpGuard {
  fs::path path;
  bool armed = true;
  explicit TmpGuard(fs::path p) : path(std::move(p)) {
    runner_detail::track_temporary(path.string());
  }
  TmpGuard(const TmpGuard&) = delete;
  TmpGuard& operator=(const TmpGuard&) = delete;
  ~TmpGuard() {
    if (armed) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
    runner_detail::untrack_temporary(path.string());
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
// the two renames of a replacement, .old-<key16>-<host>-<pid>) behind. They are never read. A
// process removes its own on SIGINT/SIGTERM/SIGHUP (Note [Cleanup on signals]); a --jobs parent
// removes those of a worker that died as soon as it reaps it; and every sweep (and `vlb status`,
// through clean_stale_temporaries) removes those of this host whose process is gone, so that a
// crash costs nothing but the run it interrupted. Temporaries of other hosts are left alone: on a
// shared results directory their pids mean nothing here (a dead node's leftovers cost disk space,
// never correctness).
std::vector<std::string> remove_stale_temporaries(const std::string& experiment_dir,
                                                  bool keep_own) {
  const fs::path exp_dir(experiment_dir);
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(exp_dir, ec)) return removed;
  auto sweep = [&](const fs::path& dir, auto&& is_stale) {
    std::vector<fs::path> stale;
    try {
      for (const auto& entry : fs::directory_iterator(dir, ec))
        if (is_stale(entry.path().filename().string())) stale.push_back(entry.path());
    } catch (const fs::filesystem_error&) {  // entries vanishing under us (another sweep)
    }
    for (const auto& p : stale)
      if (fs::remove_all(p, ec) > 0) removed.push_back(p.lexically_relative(exp_dir).string());
  };
  sweep(exp_dir, [&](const std::string& name) {
    return (name.rfind(".tmp-", 0) == 0 || name.rfind(".old-", 0) == 0) &&
           owner_is_gone(name, 5 + 16 + 1, keep_own);
  });
  // Plans of local --jobs sweeps whose parent died (.plan/local-<host>-<pid>).
  sweep(exp_dir / ".plan", [&](const std::string& name) {
    return name.rfind("local-", 0) == 0 && owner_is_gone(name, 6, keep_own);
  });
  return removed;
}

Outcome execute(const Plan& plan, const PlannedRun& r, const Registries& reg, const GitInfo& git,
                TrainedTogether* together) {
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
  json values = json::object(), higher = json::object(), aux = json::object(), selection;
  std::string log_text;  // the method's log lines, kept in the run directory (log.txt)
  std::string predictions_mode = "none";
  json together_json;
  try {
    // The K-shot draw depends on the run seed alone (its own generator), see fewshot.h.
    DataView train = sample_shots(make_view(ds, c.train_split), c.shots, c.seed);
    DataView eval = make_view(ds, c.eval_split);
    // The method sees the same rows of its device's copy; metrics and predictions.h5 read `ds`.
    std::shared_ptr<const Dataset> run_ds = dataset_on(r.dataset, c.device);
    DataView run_train = rebase(train, *run_ds);
    DataView run_eval = rebase(eval, *run_ds);
    n_train = train.size();
    n_eval = eval.size();
    RunContext ctx;
    ctx.seed = c.seed;
    ctx.threads = plan.threads.threads;
    ctx.device = c.device;
    ctx.log = [&](const std::string& line) { log_text += log_line(t0, line); };
    std::optional<TrainedTogether::Fitted> fitted;
    if (together) fitted = together->take(r);
    std::unique_ptr<Method> method =
        fitted ? std::move(fitted->method) : reg.methods.create(c.method, c.method_params);
    // Seed and threads right before fit, so nothing earlier in the sweep can shift the stream.
    at::set_num_threads(plan.threads.threads);
    at::manual_seed(c.seed);
    if (fitted) {
      log_text = fmt::format("trained together with {} other runs of this sweep in {:.2f}s "
                             "(the times below count from the group's start)\n",
                             fitted->members - 1, fitted->group_seconds) +
                 fitted->log;
      fit_s = fitted->group_seconds / fitted->members;
      together_json = {{"members", fitted->members}, {"group_fit_seconds", fitted->group_seconds}};
    } else {
      ctx.generator = at::make_generator<at::CPUGeneratorImpl>(c.seed);
      auto tf = Clock::now();
      method->fit(run_train, ctx);
      fit_s = seconds_since(tf);
    }
    auto tp = Clock::now();
    Prediction pred = to_cpu(method->predict(run_eval, ctx));
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
    // After everything evaluated: the selection rows change no eval number nor a stored prediction.
    if (c.select.active)
      selection = select_detail::evaluate_selection(*method, ds, *run_ds, c, train, ctx, reg);
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
    if (!selection.is_null()) metrics_json["selection"] = selection;
    if (predictions_mode != "none")
      metrics_json["predictions"] = {{"file", "predictions.h5"}, {"mode", predictions_mode}};
  } else {
    metrics_json = {{"status", "failed"},
                    {"run_key", r.key},
                    {"plan_index", r.index},
                    {"error", out.error},
                    {"metrics", json::object()}};
  }

  const char* omp_wait_policy = std::getenv("OMP_WAIT_POLICY");
  json env = {{"vlb_version", vlb_version()},
              {"git_sha", git.sha},
              {"git_dirty", git.dirty ? json(*git.dirty) : json("unknown")},
              {"torch_version", torch_version()},
              {"hdf5_version", hdf5_version()},
              {"compiler", compiler()},
              {"threads", at::get_num_threads()},
              {"threads_policy", plan.threads.policy},
              {"jobs", plan.threads.jobs},
              {"omp_wait_policy", omp_wait_policy ? omp_wait_policy : ""},
              {"seed", c.seed},
              {"device", c.device},
              {"hostname", hostname()},
              {"cpu_model", cpu_model()},
              {"started_at", started},
              {"fit_seconds", fit_s},
              {"trained_together", together_json},
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

  // Publish: the final directory appears complete or not at all, and replaces an earlier one
  // (failed, damaged, --force) in one step.
  test_publish_delay();
  {
    auto hold = hold_cleanup();  // a signal's cleanup waits for the renames
    publish_run_dir(tmp.string(), final_dir.string(),
                    (exp_dir / temp_name("old", r.key16())).string());
    guard.armed = false;
  }
  return out;
}

std::string log_line(Clock::time_point t0, const std::string& text) {
  return fmt::format("[{:8.2f}s] {}\n", seconds_since(t0), text);
}

std::string summary_text(const std::string& experiment, const SweepSummary& s) {
  std::string extra;
  if (s.elsewhere > 0) extra += fmt::format(", {} run by another process", s.elsewhere);
  if (s.not_run > 0) extra += fmt::format(", {} not run", s.not_run);
  return fmt::format("{}: {} runs \u2014 {} ran, {} already done, {} failed{} \u2192 {}\n",
                     experiment, s.total, s.ran, s.skipped, s.failed, extra, s.experiment_dir);
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

namespace {

bool read_json_object(const std::string& path, json* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  try {
    json j = json::parse(f);
    if (!j.is_object()) return false;
    if (out) *out = std::move(j);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Every file manifest.json lists has exactly its recorded size (and SHA-256, where recorded).
bool matches_manifest(const fs::path& dir, const json& manifest) {
  const json& files = manifest.at("files");
  if (!files.is_object()) return false;
  for (const auto& [name, f] : files.items()) {
    if (name.find('/') != std::string::npos) return false;
    std::error_code ec;
    uintmax_t n = fs::file_size(dir / name, ec);
    if (ec || n != f.at("bytes").get<uintmax_t>()) return false;
    if (f.contains("sha256") &&
        sha256_file_hex((dir / name).string()) != f.at("sha256").get<std::string>())
      return false;
  }
  return true;
}

}  // namespace

// Note [Complete run directories]: a directory counts (ok or failed) only when metrics.json and
// env.json parse as JSON objects (a JSON object cut anywhere never parses), config.resolved.yaml
// as a YAML mapping, metrics.json names this very key, the predictions.h5 that metrics.json names
// (if any) is there and not empty, and every file manifest.json lists (all but metrics.json,
// written at publish time) has its recorded size and SHA-256: YAML cut at a line end still
// parses. Directories of older versions have no manifest and are judged by the other checks.
// Anything else - a copy cut short, a truncated file, a stray edit - reads as "no result", so the
// run is redone and the damaged directory replaced in one step.
std::string run_status(const std::string& run_dir, const std::string& key) {
  json m;
  if (!read_json_object(run_dir + "/metrics.json", &m)) return "";
  try {
    if (!m.contains("run_key") || m.at("run_key") != key) return "";
    std::string st = m.value("status", "");
    if (st != "ok" && st != "failed") return "";
    if (!read_json_object(run_dir + "/env.json", nullptr)) return "";
    if (!YAML::LoadFile(run_dir + "/config.resolved.yaml").IsMap()) return "";
    if (m.contains("predictions") && m.at("predictions").contains("file")) {
      std::string file = m.at("predictions").at("file").get<std::string>();
      std::error_code ec;
      uintmax_t n = fs::file_size(fs::path(run_dir) / file, ec);
      if (file.empty() || ec || n == 0) return "";
    }
    json manifest;
    if (fs::exists(run_dir + "/manifest.json") &&
        (!read_json_object(run_dir + "/manifest.json", &manifest) ||
         !matches_manifest(run_dir, manifest)))
      return "";
    return st;
  } catch (const std::exception&) {  // YAML, or JSON of the wrong type
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
  track_sweep_dir(plan.experiment_dir);
  remove_stale_temporaries(plan.experiment_dir);
  // Deciding what is done parses every run directory's files: once per sweep, for both paths.
  const std::vector<std::string> keys = runnable_keys(plan, opts.force);
  {
    // The cores are shared by the workers this sweep really starts (no more than runs to do).
    const int workers = opts.jobs > 1 ? static_cast<int>(std::min<size_t>(opts.jobs, keys.size())) : 1;
    plan.threads = choose_threads(plan.spec_threads, opts.threads, std::max(1, workers));
    if (!keys.empty()) std::cerr << threads_line(keys.size(), plan.threads);
  }
  if (opts.jobs > 1) return run_local_parallel(plan, keys, opts, out);
  // Once per sweep: the checkout does not change mid-run.
  const GitInfo git = git_info(spec_dir_of(spec_path));

  const bool progress = show_progress(opts);
  auto t_start = Clock::now();
  double run_time = 0;
  int executed = 0, reached = 0;
  std::vector<const PlannedRun*> todo;
  // Two plan entries can resolve to the same run (e.g. an ablation that sets a default): the
  // first runs, later ones count as skipped like done runs.
  std::set<std::string> runnable(keys.begin(), keys.end());
  for (const auto& r : plan.runs) {
    if (runnable.erase(r.key))
      todo.push_back(&r);
    else
      ++summary.skipped;
  }
  // Runs another process holds are left to the end and waited for (Note [Run locks]).
  auto start = [&](const PlannedRun& r) {
    if (!progress) return;
    size_t left = todo.size() - static_cast<size_t>(reached);
    std::string eta = executed ? clock_text(run_time / executed * static_cast<double>(left)) : "?";
    std::cerr << "\r\033[K"
              << fmt::format("[{}/{}] {} elapsed, ETA {} | {}", summary.skipped + reached + 1,
                             plan.runs.size(), clock_text(seconds_since(t_start)), eta,
                             describe_run(r))
              << std::flush;
  };
  auto done = [&](const PlannedRun& r, const LockedRun& lr) {
    ++reached;
    switch (lr.fate) {
      case RunFate::ran_ok:
      case RunFate::ran_failed:
        ++summary.ran;
        ++executed;
        run_time += lr.outcome.seconds;
        break;
      case RunFate::done: ++summary.skipped; break;
      case RunFate::elsewhere_ok:
      case RunFate::elsewhere_failed: ++summary.elsewhere; break;
      case RunFate::busy: break;
    }
    if (lr.fate == RunFate::ran_failed || lr.fate == RunFate::elsewhere_failed) {
      ++summary.failed;
      if (progress) std::cerr << "\r\033[K";
      if (lr.fate == RunFate::ran_failed)
        std::cerr << fmt::format("run {} ({}) failed: {}\n", r.key16(), describe_run(r),
                                 lr.outcome.error);
      else
        std::cerr << fmt::format("run {} ({}) failed in another process (see {}/{}/metrics.json)\n",
                                 r.key16(), describe_run(r), plan.experiment_dir, r.key16());
    }
  };
  auto note = [&](const std::string& line) {
    if (progress) std::cerr << "\r\033[K";
    std::cerr << line;
  };
  run_all_locked(plan, todo, reg, git, opts.force, start, done, note);
  if (progress) std::cerr << "\r\033[K" << std::flush;
  out << summary_text(plan.experiment, summary);
  return summary;
}

}  // namespace vlb
