#pragma once
// `vlb rescore`: metrics recomputed from the per-sample predictions a run kept (predictions.h5,
// datasets/RESULTS.md), without rerunning the method. The run's own metrics must come out
// bit-identical to what it recorded; metrics it did not compute can be added to metrics.json.
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"

namespace vlb {

struct RescoreOptions {
  /// Metrics to compute besides the run's own (registry names, default params); their values are
  /// added to metrics.json where the run has none.
  std::vector<std::string> extra_metrics;
  /// Run keys to rescore (the current plan's); nullopt = every ok run directory.
  std::optional<std::set<std::string>> keys;
};

struct RescoreSummary {
  int runs = 0;            // ok runs rescored
  int identical = 0;       // every stored value reproduced bit for bit
  int not_reproduced = 0;  // runs with a stored value that came out different (or not at all)
  int added = 0;           // values added to metrics.json
  int skipped = 0;         // failed runs and runs outside `keys`
};

/// Rescores the ok runs of `experiment_dir`, printing one line per run to `out`. Every run is
/// recomputed before anything is written, so bad input (a run without predictions.h5, a changed
/// dataset, an unknown metric) throws ConfigError/DataError and leaves every file as it was.
RescoreSummary rescore_experiment(const std::string& experiment_dir, const RescoreOptions& opts,
                                  const Registries& reg, std::ostream& out);

}  // namespace vlb
