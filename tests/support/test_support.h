#pragma once
// Helpers shared by every test executable.
#include <string>
#include <vector>

namespace vlb::test {

/// Whether `needle` occurs in `hay` (CLI output, a report, an error message).
inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct CommandResult {
  // The command's exit status. A command killed by a signal reads 128 + the signal number (139
  // for SIGSEGV, 134 for SIGABRT), as the shell reports it, so it never equals a documented exit
  // code (0 ok, 1 regression, 2 bad input, 3 some runs failed); -1 if the shell itself did not
  // exit normally.
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

/// Runs a shell command (`sh -c`), capturing stdout+stderr.
CommandResult run_command(const std::string& cmd);

/// Runs the built CLI (`vlb ARGS`) from `cwd` (default: the source root).
CommandResult run_cli(const std::string& args, const std::string& cwd = "");

std::string source_dir();

/// The run directories (16-hex names) of an experiment directory, sorted.
std::vector<std::string> run_dir_names(const std::string& experiment_dir);

/// Reruns `spec` with `--set runtime.seeds=[seed]` into a fresh directory and expects every run's
/// metrics to equal those of the same run key under `experiment_dir` (a complete earlier run of
/// the spec). Returns how many runs were compared (0 after a failed assertion).
int expect_rerun_identical(const std::string& spec, const std::string& experiment_dir, int seed);

/// `vlb check` of `experiment_dir` against tests/regression/baselines/<name>.json: exit 0 expected.
void expect_passes_baseline(const std::string& name, const std::string& experiment_dir);

/// Runs experiments/specs/<name>.yaml into `results_root` and writes its report (gtest failures
/// on a non-zero exit). Returns the experiment directory, results_root/<name>.
std::string run_spec_and_report(const std::string& name, const std::string& results_root);

/// experiments/specs/<name>.yaml, run and reported (`vlb report`) once per build and shared by
/// every test process: CTest runs each test in a process of its own, so a SetUpTestSuite sweep
/// would otherwise rerun once per test. Kept in <build>/test-cache/<name>-<key>, where key is a
/// SHA-256 of the vlb binary and of the spec's plan (`vlb run --dry-run`, which lists every run
/// key), so a changed binary, spec or included file computes afresh; a file lock makes concurrent
/// tests wait for one computation. Treat it as read-only: copy_experiment() before writing into
/// it. With VLB_TEST_FRESH=1 each process computes a private copy (the old behaviour). Every
/// computation appends a line to <build>/test-cache/sweeps.log. gtest failures when the run or
/// the report exits non-zero (nothing is cached then).
struct SharedSweep {
  std::string experiment_dir;  // .../<name>
  std::string run_output;      // what `vlb run` printed
};
const SharedSweep& shared_sweep(const std::string& name);

/// Copies `experiment_dir` to dest_root/<its name> and returns the copy's path.
std::string copy_experiment(const std::string& experiment_dir, const std::string& dest_root);

/// The seed mean of `metric` in the first column of the leaderboard row that is exactly `row` or
/// starts with "row (" (experiment_dir/leaderboard.json, written by `vlb report`); a gtest failure
/// and 0 when there is no such row.
double leaderboard_mean(const std::string& experiment_dir, const std::string& row,
                        const std::string& metric);

/// ../shared/data next to the checkout, or "" when absent (a user's fresh clone).
std::string shared_data_dir();

/// "/usr/bin/python3" (Debian's system python, never a virtualenv or pyenv python3 on PATH) when
/// it imports every module of `modules` ("numpy, h5py"); "" otherwise.
std::string system_python_with(const std::string& modules);

void write_text(const std::string& path, const std::string& content);
std::string read_text(const std::string& path);
bool exists(const std::string& path);

}  // namespace vlb::test

// Skips the current test with a clear message when ../shared/data is absent.
#define VLB_REQUIRE_SHARED_DATA(var)                                                        \
  std::string var = ::vlb::test::shared_data_dir();                                         \
  if (var.empty()) {                                                                        \
    GTEST_SKIP() << "../shared/data not found next to the checkout: real-data test skipped"; \
  }
