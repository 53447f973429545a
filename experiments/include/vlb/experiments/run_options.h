#pragma once
// How a sweep is run. Shared by plan making (spec.h), the runner, the workers and the Slurm
// backend, so that none of them has to include another's header for it.
#include <functional>
#include <string>
#include <vector>

namespace vlb {

struct Plan;

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
  /// Called with the plan a sweep or a Slurm submission is about to execute (never on a dry run),
  /// before any run starts. The CLI records it as .plan/current.json (vlb/reports/current_plan.h,
  /// which this library does not link).
  std::function<void(const Plan&)> record_plan;
};

}  // namespace vlb
