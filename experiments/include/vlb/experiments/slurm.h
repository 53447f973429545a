#pragma once
// The Slurm backend (docs/cluster.md): one `sbatch --array` job per submission, each array task a
// `vlb worker` on its shard of results/<exp>/.plan/submit-NNN/plan.json; and the status of an
// experiment from its run directories plus squeue/sacct.
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/run_options.h"

namespace vlb {

struct SlurmOptions {
  std::string partition;     // "" = the cluster's default
  std::string time;          // --time per array task ("" = partition default)
  std::string mem;           // --mem per array task ("" = default)
  int array_limit = 0;       // > 0: at most that many tasks at once (--array=0-N%L)
  int runs_per_task = 1;     // runs executed by one array task, one after the other
  bool only_failed = false;  // submit only runs that an earlier, finished task left undone
  std::string executable;    // absolute path of the vlb binary the tasks run (shared filesystem)
};

struct SlurmSubmission {
  std::string job_id;      // "" when nothing was submitted (all done, or a dry run)
  std::string submit_dir;  // results/<exp>/.plan/submit-NNN ("" for a dry run)
  std::string script;      // the sbatch script
  int runs = 0;
  int tasks = 0;
};

/// Expands the spec, picks the runs to submit (not done, not held by a queued/running task of an
/// earlier submission; with only_failed, only those an earlier finished task left undone), writes
/// the submission directory and calls `sbatch --parsable`. opts.dry_run: prints the script only.
/// ConfigError for bad options, Error when sbatch fails (its message included).
SlurmSubmission submit_slurm(const std::string& spec_path, const RunOptions& opts,
                             const SlurmOptions& sopts, const Registries& reg, std::ostream& out);

struct TaskReport {
  std::string submit_dir;
  std::string job_id;
  int task = 0;
  std::string state;            // queued | running | done | failed
  std::string scheduler_state;  // squeue/sacct word (PENDING, RUNNING, CANCELLED...) or ""
  std::string log;              // the task's stdout+stderr file
  int runs = 0;
  int runs_done = 0;
};

/// One run of an experiment as status and prune see it.
struct RunReport {
  std::string key;     // 64 hex (a run directory whose metrics.json is unreadable: its name)
  std::string dir;     // results/<exp>/<key16>; it may not exist (a run that never finished)
  std::string method;  // from config.resolved.yaml or the Slurm plan; "" when unknown
  std::string state;   // done | failed | active (queued or running) | pending
  std::string error;   // failed: the first line of the recorded error, or why it counts as failed
  std::string log;     // failed: log.txt of the run, else its Slurm task log, else metrics.json
};

/// The run directories (16-hex names) of an experiment as their files say: key and status from
/// metrics.json ("" when it is missing or unreadable), method from config.resolved.yaml.
std::vector<RunReport> scan_run_dirs(const std::string& experiment_dir);

struct StatusOptions {
  /// The run keys of .plan/current.json (read by the caller: vlb/reports/current_plan.h owns the
  /// format). nullopt = no record (older results): the latest Slurm plan, else every run
  /// directory, is the experiment.
  std::optional<std::vector<std::string>> current_keys;
};

struct ExperimentStatus {
  std::string experiment_dir;
  bool has_plan = false;            // some Slurm submission exists
  bool has_current = false;         // counts are those of .plan/current.json
  bool scheduler_available = true;  // squeue answered
  int total = 0;    // distinct runs of the current plan (or the latest Slurm plan, or run dirs)
  int done = 0;
  int failed = 0;   // a failure recorded in metrics.json, or a finished task left it undone
  int active = 0;   // held by a queued or running task
  int pending = 0;  // never run or submitted, or its run left no result (a worker died)
  std::vector<RunReport> runs;       // the `total` runs, in plan order where known
  std::vector<RunReport> stale;      // run directories outside them (earlier versions of the spec)
  std::vector<TaskReport> tasks;     // every task of every submission, oldest first
  std::set<std::string> active_keys;
  std::set<std::string> failed_keys;
};

/// Reads results/<exp> (run directories and .plan/submit-*) and asks squeue/sacct about the jobs.
ExperimentStatus experiment_status(const std::string& experiment_dir,
                                   const StatusOptions& opts = {});
/// Counts, Slurm tasks and failed runs (error, log); with `all` also the stale runs, one a line.
void print_status(const ExperimentStatus& st, std::ostream& out, bool all = false);

/// Polls every `poll_seconds` until no task of the experiment is queued or running; prints a
/// progress line to stderr whenever the counts change. DataError if squeue cannot be asked.
ExperimentStatus wait_for_experiment(const std::string& experiment_dir, double poll_seconds,
                                     std::ostream& err);

/// Parses `squeue -h -r -o '%F|%K|%T'` output into job -> task -> state (non-array jobs: task -1).
std::map<std::string, std::map<int, std::string>> parse_squeue(const std::string& text);

}  // namespace vlb
