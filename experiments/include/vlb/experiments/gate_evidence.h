#pragma once
// The per-sample evidence of one leaderboard cell that the statistical regression gate keeps and
// tests (`vlb bless --stat`, `vlb check --stat`; docs/ci.md), from its runs' predictions.h5.
// Plain data: the CLI hands it to the reports library's gate, which never reads predictions.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vlb/experiments/sample_stats.h"

namespace vlb {

/// One run of a cell: its runtime.seed and directory.
struct GateRun {
  int64_t seed = 0;
  std::string dir;
};

struct GateSamples {
  std::string file;               // the first run's predictions.h5, for messages
  std::vector<int64_t> row_ids;   // evaluation rows, stored order (every seed has the same)
  std::vector<int64_t> seeds;     // ascending
  // 0/1 per-row metrics (on every seed): the per-row values of each distinct seed (equal values
  // collapsed) and which one each seed has (parallel to seeds). Empty otherwise.
  std::vector<std::vector<bool>> distinct;
  std::vector<int> seed_index;
  // Other metrics, when asked for: the cell value's bootstrap interval and how it was drawn.
  std::optional<BootstrapInterval> interval;
  BootstrapOptions drawn;
  std::string no_test;            // otherwise: why neither test applies
};

/// Loads each run once (a cell's runs serve every metric of its entries).
class GateEvidence {
 public:
  explicit GateEvidence(const Registries& reg, BootstrapOptions opt = {});

  /// The evidence of `metric` over `runs` (one per seed). DataError naming the file when a run
  /// has no predictions.h5, or its row ids differ from the first run's; Error on a seed given
  /// twice. With `with_interval`, a metric that is not 0/1 gets its bootstrap interval (or
  /// no_test when it cannot be resampled by row).
  GateSamples cell(std::vector<GateRun> runs, const std::string& metric, bool with_interval);

 private:
  const Registries& reg_;
  BootstrapOptions opt_;
  std::map<std::string, std::shared_ptr<const RunSamples>> loaded_;  // by run directory
};

}  // namespace vlb
