// Four `vlb run` of one spec into one results directory at once (two of them with --jobs 2): run
// locks make every run execute exactly once in total, none of them fails, every run directory is
// complete, and each process's summary adds up to what it did.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "robust_support.h"
#include "test_support.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace {

using namespace vlb::robust;
using vlb::test::read_text;

TEST(Concurrent, FourSweepsOfOneSpecRunEachRunOnce) {
  vlb::test::TempDir dir;
  const std::string spec = dir / "spec.yaml", results = dir / "results";
  vlb::test::write_text(spec, small_spec(12));  // 24 runs
  vlb::RunOptions o;
  o.results_root = results;
  const vlb::Plan plan = vlb::make_plan(spec, o, vlb::builtins());
  ASSERT_EQ(plan.runs.size(), 24u);

  // Each run holds its lock ~60 ms longer than it needs, so that the sweeps overlap.
  const std::string env = "VLB_TEST_PUBLISH_SLEEP_MS=60 VLB_TEST_EXEC_LOG=" + (dir / "exec.log");
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    std::string jobs = i % 2 ? " --jobs 2" : "";
    pids.push_back(start_cli("run " + spec + " --no-progress --results " + results + jobs,
                             dir / ("run" + std::to_string(i) + ".log"), env));
  }
  int ran = 0, elsewhere = 0, skipped = 0;
  for (int i = 0; i < 4; ++i) {
    int code = exit_code(wait_exit(pids[static_cast<size_t>(i)], 240));
    std::string log = read_text(dir / ("run" + std::to_string(i) + ".log"));
    EXPECT_EQ(code, 0) << log;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        log, m,
        std::regex("24 runs \u2014 (\\d+) ran, (\\d+) already done, 0 failed"
                   "(?:, (\\d+) run by another process)? \u2192")))
        << log;
    int r = std::stoi(m[1]), s = std::stoi(m[2]), e = m[3].matched ? std::stoi(m[3]) : 0;
    EXPECT_EQ(r + s + e, 24) << log;  // each process accounts for every run
    ran += r;
    skipped += s;
    elsewhere += e;
  }
  EXPECT_EQ(ran, 24) << "the four summaries together ran each run once";

  std::map<std::string, int> executions;
  for (const auto& line : lines_of(dir / "exec.log")) ++executions[line.substr(0, 16)];
  EXPECT_EQ(executions.size(), 24u);
  for (const auto& [key16, n] : executions) EXPECT_EQ(n, 1) << key16 << " ran " << n << " times";
  for (const auto& r : plan.runs)
    EXPECT_TRUE(vlb::run_is_done(plan.experiment_dir + "/" + r.key16(), r.key)) << r.key16();
  EXPECT_EQ(leftovers(plan.experiment_dir), std::vector<std::string>{});
  EXPECT_EQ(vlb::test::run_dir_names(plan.experiment_dir).size(), 24u);
}

}  // namespace
