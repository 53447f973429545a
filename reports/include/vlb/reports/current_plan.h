#pragma once
// The plan a results directory belongs to: `vlb run` (and a Slurm submission) records the run keys
// of the plan it executes in <experiment dir>/.plan/current.json, so that report, check, status and
// prune can tell the runs of the current spec from leftovers of earlier versions of it.
//
// Format ("format": "vlb-current-plan/1"):
//   {"format": ..., "experiment": NAME, "spec": PATH, "overrides": ["a.b=v", ...],
//    "written_at": ISO-8601 UTC, "runs": [{"key": 64 hex, "index": plan index}, ...]}
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vlb {

struct CurrentPlan {
  std::string experiment;
  std::string spec;
  std::vector<std::string> overrides;
  std::string written_at;
  std::vector<std::string> keys;  // 64-hex run keys, in plan order (duplicates kept once)
  std::set<std::string> key_set() const { return {keys.begin(), keys.end()}; }
};

/// <experiment_dir>/.plan/current.json
std::string current_plan_path(const std::string& experiment_dir);

/// nullopt when the directory has no record (results of an older vlb): then every run counts as
/// current. DataError naming the file when it exists but does not parse.
std::optional<CurrentPlan> read_current_plan(const std::string& experiment_dir);

/// Writes the record atomically (temporary + rename).
void write_current_plan(const std::string& experiment_dir, const CurrentPlan& plan);

}  // namespace vlb
