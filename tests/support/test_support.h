#pragma once
// Helpers shared by every test executable.
#include <string>
#include <vector>

namespace vlb::test {

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
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

/// Runs a shell command, capturing stdout+stderr.
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

/// The seed mean of `metric` in the first column of the leaderboard row that is exactly `row` or
/// starts with "row (" (experiment_dir/leaderboard.json, written by `vlb report`); a gtest failure
/// and 0 when there is no such row.
double leaderboard_mean(const std::string& experiment_dir, const std::string& row,
                        const std::string& metric);

/// ../shared/data next to the checkout, or "" when absent (a user's fresh clone).
std::string shared_data_dir();

/// Debian's system python3 with numpy/h5py (not a virtualenv): "" when unavailable.
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
