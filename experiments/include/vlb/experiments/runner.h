#pragma once
// Running the plan of a spec into results/<experiment>/<key16>/ directories (experiments/SPEC.md
// "Results"), and reading back what a run directory says about its run.
#include <iosfwd>
#include <string>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/run_options.h"

namespace vlb {

struct SweepSummary {
  int total = 0;
  int skipped = 0;  // already complete
  int ran = 0;
  int failed = 0;
  std::string experiment_dir;
};

/// Throws ConfigError (file:line:col: key: message) for a bad spec or override.
/// A run that fails is recorded with its error and the sweep goes on.
SweepSummary run_experiment(const std::string& spec_path, const RunOptions& opts,
                            const Registries& reg, std::ostream& out);

/// True when `run_dir`/metrics.json says status ok for this very (64-hex) run key.
bool run_is_done(const std::string& run_dir, const std::string& key);
/// "ok" | "failed" (a recorded failure) | "" (no published result yet), from metrics.json.
std::string run_status(const std::string& run_dir, const std::string& key);

}  // namespace vlb
