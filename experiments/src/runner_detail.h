#pragma once
// Shared by the sequential runner (runner.cpp) and the workers (workers.cpp): executing one planned
// run into its directory, run locks, cleanup on signals, and the sweep-level helpers both need.
// Internal to vlb_experiments.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/run_options.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"
#include "vlb/methods/method.h"

namespace vlb::runner_detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// A method's log line as log.txt keeps it: "[   12.34s] text\n", timed from `t0`.
std::string log_line(Clock::time_point t0, const std::string& text);

struct Outcome {
  bool ok = false;
  std::string error;
  double seconds = 0;
};

// ---- together.cpp ----

/// The runs of a sweep whose method is tagged "together" (Note [Trained together] in
/// vlb/methods/method.h), grouped by method, dataset and training split, at most 4 x threads
/// (at least 4) to a group, in plan order. A group is fitted in one fit_together call when its
/// first run is executed; each of its runs then takes its fitted method instead of fitting.
class TrainedTogether {
 public:
  struct Fitted {
    std::unique_ptr<Method> method;
    std::string log;            // the member's log lines, timed from the group's start
    int members = 0;            // how many runs the group fitted
    double group_seconds = 0;   // the group's fit_together, wall clock
  };
  TrainedTogether(const Plan& plan, const std::vector<const PlannedRun*>& runs,
                  const Registries& reg);
  ~TrainedTogether();
  /// The fitted method of `r`, fitting its group first if needed; nullopt when `r` is in no
  /// group, or its fit failed in the group (the run then fits alone and records the failure).
  std::optional<Fitted> take(const PlannedRun& r);

 private:
  struct Group;
  void fit(Group& g);
  const Plan& plan_;
  const Registries& reg_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::map<std::string, Group*> group_of_;  // run key -> its group
};

/// Runs `r` and publishes <experiment_dir>/<key16>/ by rename, complete or not at all. A failing
/// run is recorded there with its error (metrics.json status failed), not thrown. `together`:
/// where its fitted method may come from (null: it fits alone).
Outcome execute(const Plan& plan, const PlannedRun& r, const Registries& reg, const GitInfo& git,
                TrainedTogether* together = nullptr);

/// See Note [Stale temporaries] in runner.cpp. Returns the names it removed. `keep_own`: leave
/// this process's own temporaries alone (a --jobs parent cleaning up after a dead worker).
std::vector<std::string> remove_stale_temporaries(const std::string& experiment_dir,
                                                  bool keep_own = false);

std::string describe_run(const PlannedRun& r);  // "method [ablation] axis=v seed=s"
std::string clock_text(double secs);            // "m:ss", or "h:mm:ss" from an hour on
std::string spec_dir_of(const std::string& spec_path);  // "." for a bare file name
/// A progress line on stderr: only on a terminal and never under CI.
bool show_progress(const RunOptions& opts);

/// "<exp>: N runs — a ran, b already done, c failed[, d run by another process][, e not run]
/// → dir" (the bracketed parts only when not 0).
std::string summary_text(const std::string& experiment, const SweepSummary& s);

/// `--jobs N`: the runs `keys` (runnable_keys of the plan) in N local `vlb worker` processes
/// (workers.cpp, Note [Local workers]).
SweepSummary run_local_parallel(const Plan& plan, const std::vector<std::string>& keys,
                                const RunOptions& opts, std::ostream& out);

// ---- run_guard.cpp ----

/// An exclusive flock(2) on <experiment_dir>/.locks/<key16>.lock (Note [Run locks]); released
/// when destroyed (and by the kernel when the process dies, however it dies).
class RunLock {
 public:
  /// Does not wait: held() is false when another process holds the lock.
  static RunLock try_acquire(const std::string& experiment_dir, const std::string& key16);
  /// Waits until the lock is free.
  static RunLock acquire(const std::string& experiment_dir, const std::string& key16);
  RunLock() = default;
  RunLock(RunLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RunLock& operator=(RunLock&& o) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();
  bool held() const { return fd_ >= 0; }

 private:
  static RunLock open_and_lock(const std::string& experiment_dir, const std::string& key16,
                               bool wait);
  int fd_ = -1;
};

/// Which published directory a path names (device, inode, change time): a process that publishes
/// the run anew changes it. All zero when the path does not exist.
struct DirStamp {
  uint64_t dev = 0, ino = 0;
  int64_t ctime_ns = 0;
  bool operator==(const DirStamp& o) const {
    return dev == o.dev && ino == o.ino && ctime_ns == o.ctime_ns;
  }
  bool operator!=(const DirStamp& o) const { return !(*this == o); }
};
DirStamp stamp_of(const std::string& path);

/// Writes <tmp>/manifest.json (size and SHA-256 of every file in it but metrics.json) and moves
/// `tmp` to `final_dir`, replacing a directory already there atomically where the file system can
/// (renameat2 RENAME_EXCHANGE), else by two renames through `old`. A rename that loses a race
/// with another process publishing the same run is retried; other failures throw Error.
void publish_run_dir(const std::string& tmp, const std::string& final_dir, const std::string& old);

/// VLB_TEST_PUBLISH_SLEEP_MS (run_guard.cpp, Note [Test hooks]).
void test_publish_delay();

/// Note [Cleanup on signals]: what this process must remove (or stop) when SIGINT/SIGTERM/SIGHUP
/// arrives. Every function takes the cleanup mutex, so once a signal's cleanup has started they
/// block until the process is gone.
void track_temporary(const std::string& path);
void untrack_temporary(const std::string& path);
void track_sweep_dir(const std::string& experiment_dir);  // swept for our temporaries on a signal
void track_worker(pid_t pid);
void track_plan_dir(const std::string& dir);  // removed on a signal, after the workers ended
void untrack_workers();                       // the workers have all been reaped
/// Held while a run directory is published: a signal never interrupts a half-done replacement.
std::unique_lock<std::mutex> hold_cleanup();

/// What happened to one run of a sweep under its lock.
enum class RunFate {
  ran_ok,
  ran_failed,
  done,              // complete when reached (another process may have just finished it)
  elsewhere_ok,      // another process published it while we waited for its lock
  elsewhere_failed,  // ... and recorded a failure
  busy,              // another process holds its lock (only when not waiting)
};
struct LockedRun {
  RunFate fate = RunFate::busy;
  Outcome outcome;  // of ran_ok / ran_failed
};

/// Runs `r` under its run lock unless it is complete (`force`: unless another process published
/// it anew since `seen`). `on_start` is called right before the run starts.
LockedRun run_under_lock(const Plan& plan, const PlannedRun& r, const Registries& reg,
                         const GitInfo& git, bool force, bool wait, const DirStamp& seen,
                         const std::function<void()>& on_start = {},
                         TrainedTogether* together = nullptr);

/// Runs `runs` (distinct keys) under their locks: first every run no other process holds, then
/// waits for the others one by one. `done(r, fate)` after each; `start(r)` right before each run.
/// `note` gets a line when it starts waiting for other processes.
void run_all_locked(const Plan& plan, const std::vector<const PlannedRun*>& runs,
                    const Registries& reg, const GitInfo& git, bool force,
                    const std::function<void(const PlannedRun&)>& start,
                    const std::function<void(const PlannedRun&, const LockedRun&)>& done,
                    const std::function<void(const std::string&)>& note);

}  // namespace vlb::runner_detail
