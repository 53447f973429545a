#pragma once
// Experiment specs (experiments/SPEC.md): strict loading, expansion into a deterministic list of
// fully resolved run configurations, and the run key that names each run's results directory.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vlb/core/params.h"
#include "vlb/datasets/dataset.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/run_options.h"
#include "vlb/experiments/threads.h"
#include "vlb/experiments/yaml_reader.h"

namespace vlb {

struct MetricConfig {
  std::string name;
  Params params;  // every declared parameter, defaults filled
};

/// `val_shots: shots`: as many validation rows per class as the run's dataset.shots.
inline constexpr int64_t kValShotsFromShots = -1;

/// The spec's `select:` as it applies to one run (experiments/SPEC.md "Model selection"). Inactive
/// without a select block and with `select: none`: such runs are exactly what they were before
/// selection existed (same key, same files).
struct SelectConfig {
  bool active = false;
  std::string metric;             // a value name of the spec's metrics, task prefix filled
  std::string split;              // a named selection split; "" = val_shots rows from train_split
  int64_t val_shots = 0;          // K per class, or kValShotsFromShots; 0 with a named split
  std::vector<std::string> over;  // this run's method params the report selects over
  /// Validation rows per class for a run with `shots` training rows per class.
  int64_t validation_shots(int64_t shots) const {
    return val_shots == kValShotsFromShots ? shots : val_shots;
  }
};

/// One run's configuration after includes, overrides, sweeps and ablations; all values checked.
struct RunConfig {
  std::string experiment;
  std::string dataset_source;
  std::string dataset_name;  // spec `dataset.name`; "" = the file's own name (root attr "dataset")
  Params dataset_params;
  std::string train_split = "train";
  std::string eval_split = "test";
  int64_t shots = 0;  // > 0: seeded K-shot draw per class from the train split (0 = all rows)
  std::string method;
  Params method_params;
  std::vector<MetricConfig> metrics;
  // runtime.threads (kThreadsAuto or N), the same in every run (it cannot be swept). Not part of
  // the run key nor of config.resolved.yaml: the sweep resolves it (threads.h, Plan::threads).
  int threads = kThreadsAuto;
  // runtime.train_together: runs of a method tagged "together" may be fitted side by side
  // (Note [Trained together] in vlb/methods/method.h). Not part of the run key: each run's
  // result is the same bit for bit either way.
  bool train_together = true;
  // runtime.device resolved at plan time (Note [Devices] in experiments/src/device.cpp): "cpu"
  // or "cuda". In the run key and config.resolved.yaml only when not cpu, so CPU runs keep keys.
  std::string device = "cpu";
  uint64_t seed = 0;
  // Per-sample predictions kept in the run directory (datasets/RESULTS.md). Not part of the run
  // key: they change what is stored, never the numbers.
  std::string predictions = "auto";  // auto | full | topk | none
  int64_t predictions_topk = 10;     // k of the top-k form
  double predictions_max_mb = 64;    // auto: full [n, C] scores up to this size, else top-k
  std::string ablation;  // "" = the full (unpatched) configuration
  SelectConfig select;
  /// Swept values for display only ("spread" -> "0.4"), in axis order.
  std::vector<std::pair<std::string, std::string>> swept;
};

/// The spec's `select:` key with the locations its plan-time checks report.
struct SelectSpec {
  enum class Mode { kAbsent, kNone, kActive };
  Mode mode = Mode::kAbsent;
  std::string metric, split;  // metric resolved to its value name
  int64_t val_shots = 0;      // as in SelectConfig
  yamlr::Loc metric_at, split_at, val_shots_at;
};

struct ExpandedSpec {
  std::string experiment;
  std::string description;
  std::string spec_path;
  std::vector<RunConfig> runs;  // plan order (see SPEC.md "Plan order")
  SelectSpec select;
  int threads = kThreadsAuto;  // runtime.threads
};

/// Loads `spec_path`, merges its includes, applies `overrides` ("a.b=v"), validates everything
/// against `reg` and expands the plan. Throws ConfigError with file:line:col: key: message.
ExpandedSpec expand_spec(const std::string& spec_path, const std::vector<std::string>& overrides,
                         const Registries& reg);

/// The canonical config.resolved.yaml text (keys sorted, round-trip numbers).
std::string resolved_config_yaml(const RunConfig& cfg);

/// The canonical JSON that is hashed into the run key (SPEC.md "Run key").
std::string run_key_json(const RunConfig& cfg, const std::string& dataset_fingerprint,
                         const Registries& reg);
/// The name reports show for a run's dataset: spec `dataset.name`, else the file's own name (root
/// attribute "dataset"), else the file's stem, else the source name. Never a path.
std::string dataset_display_name(const RunConfig& cfg, const Dataset& ds);

/// SHA-256 hex (64 chars) of run_key_json.
std::string run_key(const RunConfig& cfg, const std::string& dataset_fingerprint,
                    const Registries& reg);

struct PlannedRun {
  size_t index = 0;
  RunConfig config;
  std::string key;  // 64 hex
  std::shared_ptr<const Dataset> dataset;
  std::string key16() const { return key.substr(0, 16); }
};

struct Plan {
  std::string experiment;
  std::string spec_path;
  std::string experiment_dir;  // <results_root>/<experiment>
  std::vector<std::string> overrides;
  std::vector<PlannedRun> runs;
  int spec_threads = kThreadsAuto;  // runtime.threads
  /// What the runs apply (at::set_num_threads) and env.json records. make_plan chooses it for
  /// opts.jobs on this machine; a sweep re-chooses it for the workers it really starts, and a
  /// worker takes its parent's choice from the plan file.
  ThreadsChoice threads;
};

/// expand_spec + loads each distinct (source, params) dataset once (cache dir
/// <results_root>/.cache) to compute run keys.
Plan make_plan(const std::string& spec_path, const RunOptions& opts, const Registries& reg);

}  // namespace vlb
