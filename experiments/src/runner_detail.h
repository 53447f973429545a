#pragma once
// Shared by the sequential runner (runner.cpp) and the workers (workers.cpp): executing one planned
// run into its directory, and the sweep-level helpers both need. Internal to vlb_experiments.
#include <chrono>
#include <iosfwd>
#include <string>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/run_options.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace vlb::runner_detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Outcome {
  bool ok = false;
  std::string error;
  double seconds = 0;
};

/// Runs `r` and publishes <experiment_dir>/<key16>/ by rename, complete or not at all. A failing
/// run is recorded there with its error (metrics.json status failed), not thrown.
Outcome execute(const Plan& plan, const PlannedRun& r, const Registries& reg, const GitInfo& git);

/// See Note [Stale temporaries] in runner.cpp.
void remove_stale_temporaries(const std::string& experiment_dir);

std::string describe_run(const PlannedRun& r);  // "method [ablation] axis=v seed=s"
std::string clock_text(double secs);            // "m:ss", or "h:mm:ss" from an hour on
std::string spec_dir_of(const std::string& spec_path);  // "." for a bare file name
/// A progress line on stderr: only on a terminal and never under CI.
bool show_progress(const RunOptions& opts);

/// `--jobs N`: the plan in N local `vlb worker` processes (workers.cpp, Note [Local workers]).
SweepSummary run_local_parallel(const Plan& plan, const RunOptions& opts, std::ostream& out);

}  // namespace vlb::runner_detail
