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
  int ran = 0;        // executed by this sweep (its workers included)
  int failed = 0;     // ended failed during this sweep, here or in another process
  int elsewhere = 0;  // completed by another process while this sweep waited for its lock
  int not_run = 0;    // left undone: the worker that owned them died
  std::string experiment_dir;
};

/// Throws ConfigError (file:line:col: key: message) for a bad spec or override.
/// A run that fails is recorded with its error and the sweep goes on.
SweepSummary run_experiment(const std::string& spec_path, const RunOptions& opts,
                            const Registries& reg, std::ostream& out);

/// True when run_status() is "ok".
bool run_is_done(const std::string& run_dir, const std::string& key);
/// "ok" | "failed" (a recorded failure) | "" (no complete result: absent, another key, or a
/// damaged directory - runner.cpp, Note [Complete run directories]).
std::string run_status(const std::string& run_dir, const std::string& key);

}  // namespace vlb
