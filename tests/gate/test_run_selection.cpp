// Which runs a report counts: the current plan's by default (stale ones with --all, marked), and
// never a damaged run directory, which is named instead.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gate_fixture.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

using gate_test::contains;
using gate_test::put;
using gate_test::sweep;
using gate_test::write_all;
using test::read_text;
using test::run_cli;
using test::TempDir;

// The current plan: l2 = 0.1. Left over from an earlier version of the spec: l2 = 0.01 runs and
// one failed run.
std::string write_with_leftovers(const TempDir& t) {
  const std::string exp = t / "fewshot";
  auto current = sweep("/data/a", 1, 0, "0.1");
  auto old = sweep("/data/a", 1, 0, "0.01");
  old.resize(3);
  gate_test::Run failed = old[0];
  failed.seed = 7;
  failed.failed = true;
  old.push_back(failed);
  write_all(exp, current);
  write_all(exp, old);
  gate_test::write_plan(exp, current);
  return exp;
}

TEST(RunSelection, ReportShowsTheCurrentPlanAndAllMarksTheRestStale) {
  TempDir t;
  const std::string exp = write_with_leftovers(t);
  auto r = run_cli("report " + exp + " --print");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4 run(s) not in the current plan")) << r.output;
  EXPECT_FALSE(contains(r.output, "failed run")) << r.output;  // the stale failure does not count
  EXPECT_FALSE(contains(r.output, "stale)")) << r.output;
  auto j = nlohmann::json::parse(read_text(exp + "/leaderboard.json"));
  EXPECT_EQ(j["ok_runs"], 6);
  EXPECT_EQ(j["failed_runs"], 0);
  EXPECT_EQ(j["stale_left_out"], 4);
  EXPECT_EQ(j["rows"], (std::vector<std::string>{"linear_probe", "zeroshot"}));

  auto all = run_cli("report " + exp + " --all --print");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_TRUE(contains(all.output, "4 stale runs (not in the current plan) shown")) << all.output;
  EXPECT_TRUE(contains(all.output, "| linear_probe (l2=0.01) (stale) |")) << all.output;
  j = nlohmann::json::parse(read_text(exp + "/leaderboard.json"));
  EXPECT_EQ(j["ok_runs"], 9);
  EXPECT_EQ(j["stale_runs"], 4);
  EXPECT_EQ(j["stale_rows"], (std::vector<std::string>{"linear_probe (l2=0.01) (stale)"}));

  // Without a plan record every run counts, as before.
  std::filesystem::remove_all(exp + "/.plan");
  j = (run_cli("report " + exp).exit_code == 0) ? nlohmann::json::parse(read_text(exp + "/leaderboard.json"))
                                               : nlohmann::json();
  EXPECT_EQ(j["ok_runs"], 9);
  EXPECT_EQ(j["failed_runs"], 1);
}

TEST(RunSelection, CheckAndBlessUseTheCurrentPlanOnly) {
  TempDir t;
  const std::string exp = write_with_leftovers(t);
  const std::string file = t / "b.json";
  ASSERT_EQ(run_cli("bless --baseline " + file + " " + exp).exit_code, 0);
  auto j = nlohmann::json::parse(read_text(file));
  ASSERT_EQ(j["entries"].size(), 2u);  // no entry for the stale l2 = 0.01 cell
  EXPECT_EQ(j["entries"][0]["identity"]["method.params.l2"], "0.1");
  auto c = run_cli("check --baseline " + file + " " + exp);
  EXPECT_EQ(c.exit_code, 0) << c.output;
}

TEST(RunSelection, DamagedRunDirectoriesAreNamedAndLeftOut) {
  TempDir t;
  const std::string exp = t / "fewshot";
  auto runs = sweep("/data/a", 1);
  write_all(exp, runs);
  const std::string file = t / "b.json";
  ASSERT_EQ(run_cli("bless --baseline " + file + " " + exp).exit_code, 0);

  // zeroshot seed 0: config cut short mid-way (still valid YAML, no method); seed 1: corrupt JSON.
  const std::string cut = gate_test::write_run(exp, runs[3]) + "/config.resolved.yaml";
  std::string text = read_text(cut);
  put(cut, text.substr(0, text.find("experiment:")));
  const std::string bad = gate_test::write_run(exp, runs[4]) + "/metrics.json";
  put(bad, "{\"status\": \"ok\", \"metr");
  std::vector<DamagedRun> damaged;
  auto loaded = load_runs(exp, &damaged);
  EXPECT_EQ(loaded.size(), 4u);
  ASSERT_EQ(damaged.size(), 2u);
  std::set<std::string> files = {damaged[0].file, damaged[1].file};
  EXPECT_TRUE(files.count(cut)) << damaged[0].file << " " << damaged[1].file;
  EXPECT_TRUE(files.count(bad));

  auto r = run_cli("report " + exp + " --print");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "damaged run directory left out: " + cut)) << r.output;
  EXPECT_TRUE(contains(r.output, bad)) << r.output;
  EXPECT_FALSE(contains(r.output, "(no method)")) << r.output;
  EXPECT_TRUE(contains(r.output, "(n=1)")) << r.output;  // zeroshot from its one readable run

  // Both zeroshot seeds 0 and 2 damaged: the cell is gone, and check names the damage (exit 1).
  const std::string cut2 = gate_test::write_run(exp, runs[5]) + "/config.resolved.yaml";
  put(cut2, "ablation: \"\"\ndataset:\n  eval_split: te");
  put(bad, "not json");
  auto c = run_cli("check --baseline " + file + " " + exp);
  EXPECT_EQ(c.exit_code, 1) << c.output;
  EXPECT_TRUE(contains(c.output, "damaged run directories: ")) << c.output;
  EXPECT_TRUE(contains(c.output, cut2)) << c.output;
}

}  // namespace
}  // namespace vlb
