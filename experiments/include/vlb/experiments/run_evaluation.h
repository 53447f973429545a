#pragma once
// One run's evaluation rebuilt from its directory: the configuration in config.resolved.yaml, the
// dataset through the registries as the plan loads it, the Prediction from predictions.h5 and the
// Targets exactly as the runner built them. Shared by `vlb rescore` (metrics recomputed bit for
// bit) and the per-sample statistics of reports (sample_stats.h).
#include <nlohmann/json_fwd.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/predictions.h"

namespace vlb {

/// Datasets loaded once per source and parameters (a sweep's runs share one), kept while the
/// cache lives.
class DatasetCache {
 public:
  std::shared_ptr<const Dataset> get(const Registries& reg, const std::string& source,
                                     const Params& params, const SourceContext& ctx);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Dataset>> loaded_;
};

struct RunEvaluation {
  std::string dir;         // the run directory
  std::string run_key;     // metrics.json run_key (64 hex)
  std::string method;      // method.name
  std::string eval_split;
  /// The run's own metrics (config.resolved.yaml `metrics:`), every parameter typed.
  std::vector<std::pair<std::string, Params>> metrics;
  StoredPredictions stored;
  std::shared_ptr<const Dataset> dataset;
  Prediction prediction;
  Targets targets;         // targets.dataset points into *dataset
};

/// Rebuilds the evaluation of the ok run in `run_dir`. The dataset cache directory is the
/// results root's .cache (<results>/<experiment>/<run> -> <results>/.cache), as the plan uses.
/// DataError naming the file when the run has no predictions.h5, when it belongs to another run,
/// or when the dataset changed since the run (fingerprint or evaluation rows differ);
/// ConfigError when config.resolved.yaml names a component that no longer exists.
RunEvaluation load_run_evaluation(const std::string& run_dir, const Registries& reg,
                                  DatasetCache& datasets);

/// A run directory's JSON file (metrics.json) parsed; DataError naming `path` when it cannot be
/// read or is not JSON.
nlohmann::json read_json_file(const std::string& path);

/// How many leading ranks of each row `metric` reads from a top-k predictions file: 1 for top-1
/// and argmax metrics, k for top-k, 0 when it reads stored embeddings instead, -1 when it needs
/// the full scores (Note [rescoring top-k runs] in run_evaluation.cpp).
int64_t topk_ranks_needed(const std::string& metric, const Params& p, const StoredPredictions& sp);

}  // namespace vlb
