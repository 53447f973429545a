#pragma once
// Shared by the robustness tests: a small synthetic sweep, `vlb` processes started in the
// background (so that a test can kill them), and what /proc says about processes.
#include <sys/types.h>

#include <string>
#include <vector>

namespace vlb::robust {

/// 2 methods x `seeds` seeds on a tiny synthetic dataset (experiment "robust").
std::string small_spec(int seeds);

/// Starts `env VARS vlb ARGS` from the source root, stdout+stderr to `log`; returns its pid.
pid_t start_cli(const std::string& args, const std::string& log, const std::string& env = "");
/// Waits for `pid` (a child of this process) for at most `seconds`: its wait status, or -1 after
/// killing it when it ran over.
int wait_exit(pid_t pid, double seconds);
/// The exit code as the shell reports it (128 + signal for a killed process).
int exit_code(int wait_status);

/// Pids of the live processes whose parent is `parent`.
std::vector<pid_t> children_of(pid_t parent);
/// False once `pid` has exited (a zombie counts as gone).
bool alive(pid_t pid);
/// Polls until none of `pids` is alive; false if some still are after `seconds`.
bool wait_gone(const std::vector<pid_t>& pids, double seconds);
/// /proc/<pid>/cmdline, arguments joined by spaces.
std::string cmdline(pid_t pid);

/// Polls until `experiment_dir` holds at least `n` published run directories; false when that
/// takes over `seconds` or `watched` (if not 0) ends first.
bool wait_for_runs(const std::string& experiment_dir, size_t n, double seconds, pid_t watched = 0);
/// Entries that are neither run directories nor the lock directory: temporaries (.tmp-, .old-)
/// and local plans (.plan/local-*).
std::vector<std::string> leftovers(const std::string& experiment_dir);
/// Lines of a file (empty when it does not exist).
std::vector<std::string> lines_of(const std::string& path);

}  // namespace vlb::robust
