#pragma once
// Loading experiment specs (strict YAML), expanding sweeps into a deterministic plan, and running
// the plan into results/<experiment>/<run_key>/ directories. See experiments/SPEC.md.
#include <iosfwd>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"

namespace vlb {

struct RunOptions {
  std::vector<std::string> overrides;  // "a.b=v" (YAML scalar or flow value), applied in order
  bool dry_run = false;                // print the plan (run keys, done/pending), run nothing
  bool force = false;                  // rerun completed runs
  std::string results_root = "results";
  int threads = 0;                     // > 0 overrides runtime.threads
  bool progress = true;                // progress line on a terminal (never when not a TTY or CI)
  /// > 1: run the plan in that many local worker processes (`vlb worker`), each run still at its
  /// own runtime.threads; needs `worker_executable`. Results are identical to jobs = 1.
  int jobs = 1;
  std::string worker_executable;       // the vlb binary workers are exec'd from (cmd_run: /proc/self/exe)
};

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
