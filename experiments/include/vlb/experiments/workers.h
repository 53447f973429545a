#pragma once
// Plans split into shards that independent worker processes execute (docs/cluster.md). The local
// `--jobs N` backend and Slurm array tasks both hand a worker a plan directory (plan.json) and a
// task index; the worker re-expands the spec, checks that the run keys still match, and runs its
// shard. Run directories are published by rename and every key belongs to exactly one shard, so
// workers never write the same path.
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/run_options.h"

namespace vlb {

struct Plan;

/// results/<exp>/.plan/<id>/plan.json: what a worker needs to rebuild the same plan, and the shards.
struct PlanFile {
  std::string experiment;
  std::string spec_path;     // absolute
  std::string working_dir;   // absolute: relative paths inside the spec resolve from here
  std::string results_root;  // absolute
  std::vector<std::string> overrides;
  int threads_override = 0;  // --threads (0: none); re-expanding needs only the spec and overrides
  // The parent's thread choice (Plan::threads), applied by every worker of the plan.
  int threads = 1;
  std::string threads_policy;
  int jobs = 1;
  bool force = false;
  struct Run {
    size_t index = 0;
    std::string key;          // 64 hex
    std::string description;  // "method [ablation] axis=v seed=s"
    std::string config_yaml;  // config.resolved.yaml text, for people reading the plan
    int task = -1;            // -1: in no shard (done already, or a duplicate of an earlier run)
  };
  std::vector<Run> runs;                        // every run of the plan, plan order
  std::vector<std::vector<std::string>> tasks;  // task index -> distinct run keys
};

/// Absolute paths are taken of spec, results root and the current directory.
PlanFile make_plan_file(const Plan& plan, const RunOptions& opts,
                        const std::vector<std::vector<std::string>>& tasks);
void write_plan_file(const PlanFile& pf, const std::string& path);  // atomic (temp + rename)
/// DataError "path: key: message" on anything malformed.
PlanFile read_plan_file(const std::string& path);

/// keys[j] -> shard j % shards (the local backend: neighbouring runs spread over workers).
std::vector<std::vector<std::string>> shard_round_robin(const std::vector<std::string>& keys,
                                                        int shards);
/// Consecutive chunks of `per_task` keys (Slurm: task i holds runs [i*per_task, (i+1)*per_task)).
std::vector<std::vector<std::string>> shard_chunks(const std::vector<std::string>& keys,
                                                   int per_task);

/// The distinct run keys of `plan`, in plan order, that a sweep would execute now (not done, or
/// all with `force`). Duplicate keys appear once: one worker owns each key.
std::vector<std::string> runnable_keys(const Plan& plan, bool force);

struct WorkerSummary {
  int ran = 0;
  int skipped = 0;    // already done when the worker reached them
  int failed = 0;     // failed here, or in another process while this one waited for it
  int elsewhere = 0;  // completed by another process while this one waited for its lock
};

/// Executes task `task` of `plan_dir`/plan.json with the given registries, each run under its run
/// lock (runs another process holds are waited for at the end). Prints one line per run (unless
/// quiet; failures always go to stderr). With a `ledger` path, appends "<fate> <key>" to it as
/// each run is dealt with (fate: ran, failed, done, elsewhere, elsewhere_failed). Throws
/// DataError when the spec no longer expands to the planned keys (it was edited after
/// submission) or the task index is out of range.
WorkerSummary run_worker_task(const std::string& plan_dir, int task, const Registries& reg,
                              bool quiet, std::ostream& out, const std::string& ledger = "");

/// From now on SIGINT, SIGTERM and SIGHUP make this process stop its workers and remove its
/// temporaries before it dies of the signal (run_guard.cpp, Note [Cleanup on signals]). For the
/// CLI's `run` and `worker`; signals that were ignored stay ignored.
void install_signal_cleanup();

/// Removes the temporaries (.tmp-, .old-, .plan/local-) in `experiment_dir` left by processes of
/// this host that are gone, and returns their names (runner.cpp, Note [Stale temporaries]).
std::vector<std::string> clean_stale_temporaries(const std::string& experiment_dir);

}  // namespace vlb
