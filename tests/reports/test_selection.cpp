// Model selection in reports (experiments/SPEC.md "Model selection") over hand-written run
// directories whose selection metrics are known, so the choice of every cell and seed is known:
//
//   linear_probe, shots 4, val cls/top1 (test cls/top1)   seed 0        seed 1        seed 2
//   l2 = 0.0001  (plan 0..2)                              0.50 (0.60)   0.75 (0.70)   0.25 (0.20)
//   l2 = 0.001   (plan 3..5)                              0.75 (0.80)   0.75 (0.90)   0.50 (0.40)
//   l2 = 0.01    (plan 6..8)                              0.25 (0.99)   0.25 (0.99)   0.50 (0.30)
//
// So seed 0 picks 0.001, seed 1 ties 0.0001/0.001 (plan order: 0.0001), seed 2 ties 0.001/0.01
// (plan order: 0.001): "l2 = 0.001 (2 seeds), 0.0001 (1)", test mean (0.8 + 0.7 + 0.4) / 3. The
// 0.99 of l2 = 0.01 on test is never seen. ncm (nothing to select over) passes unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/report.h"
#include "vlb/reports/selection.h"

namespace vlb {
namespace {

using test::TempDir;

void put(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  test::write_text(path, content);
}

struct FakeRun {
  int plan = 0;
  std::string method = "linear_probe";
  std::string l2 = "0.0001";  // "" = a method without l2
  int seed = 0;
  int shots = 4;
  double val = 0.5, test = 0.5;
  bool select = true;       // the spec had a select block
  bool val_block = true;    // metrics.json has its selection block
  bool lower_is_better = false;
};

std::string write_run(const std::string& exp, const FakeRun& r) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016x", 0xabc000 + r.plan);
  const std::string dir = exp + "/" + hex;
  const std::string metric = r.lower_is_better ? "cls/err" : "cls/top1";
  std::string config =
      "ablation: \"\"\n"
      "dataset:\n  eval_split: test\n  params:\n    classes: 20\n  shots: " + std::to_string(r.shots) +
      "\n  source: synth\n  train_split: train\n"
      "experiment: sel\n"
      "method:\n  name: " + r.method + "\n  params: " + (r.l2.empty() ? "{}" : "{l2: " + r.l2 + "}") + "\n"
      "metrics: [top1]\n"
      "runtime:\n  predictions: none\n  predictions_max_mb: 64\n  predictions_topk: 10\n  seed: " +
      std::to_string(r.seed) + "\n  threads: 1\n";
  if (r.select)
    config += "select:\n  metric: " + metric + "\n  over: [" + (r.l2.empty() ? "" : "l2") +
              "]\n  val_shots: 4\n";
  put(dir + "/config.resolved.yaml", config);
  nlohmann::json m = {{"status", "ok"},
                      {"run_key", std::string(hex) + std::string(48, '0')},
                      {"plan_index", r.plan},
                      {"metrics", {{metric, r.test}}},
                      {"higher_is_better", {{metric, !r.lower_is_better}}}};
  if (r.select && r.val_block)
    m["selection"] = {{"split", "train"}, {"val_shots", 4}, {"rows", 80},
                      {"metrics", {{metric, r.val}, {"cls/top5", 1.0}}},
                      {"higher_is_better", {{metric, !r.lower_is_better}, {"cls/top5", true}}}};
  put(dir + "/metrics.json", m.dump(2));
  put(dir + "/env.json", nlohmann::json({{"dataset", {{"name", "synth"}, {"fingerprint", "ab12"}}}}).dump());
  return dir;
}

std::string markdown(const Leaderboard& lb) {
  ReportWriterRegistry reg("report writer");
  register_builtin_writers(reg);
  return reg.create("markdown", Params())->render(lb);
}

const double kVal[3][3] = {{0.50, 0.75, 0.25}, {0.75, 0.75, 0.50}, {0.25, 0.25, 0.50}};
const double kTest[3][3] = {{0.60, 0.70, 0.20}, {0.80, 0.90, 0.40}, {0.99, 0.99, 0.30}};
const char* kL2[3] = {"0.0001", "0.001", "0.01"};

// The table above, then ncm (plan 9..11) with nothing to select over; returns the directories.
std::vector<std::vector<std::string>> write_fixture(const std::string& exp, bool select = true) {
  std::vector<std::vector<std::string>> dirs(4);
  int plan = 0;
  for (int g = 0; g < 3; ++g)
    for (int seed = 0; seed < 3; ++seed) {
      FakeRun r;
      r.plan = plan++;
      r.l2 = kL2[g];
      r.seed = seed;
      r.val = kVal[g][seed];
      r.test = kTest[g][seed];
      r.select = select;
      dirs[g].push_back(write_run(exp, r));
    }
  for (int seed = 0; seed < 3; ++seed) {
    FakeRun r;
    r.plan = plan++;
    r.method = "ncm";
    r.l2 = "";
    r.seed = seed;
    r.test = 0.5;
    r.select = select;
    dirs[3].push_back(write_run(exp, r));
  }
  return dirs;
}

TEST(Selection, KeepsTheBestOnValidationPerSeedWithTiesToPlanOrder) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  auto dirs = write_fixture(exp);
  Leaderboard lb = build_leaderboard(load_runs(exp), "sel");

  EXPECT_EQ(lb.rows, (std::vector<std::string>{"linear_probe", "ncm"}));
  ASSERT_EQ(lb.columns.size(), 1u);
  const std::string col = lb.columns[0];
  // The cell shows exactly the selected runs: seed 0 -> 0.001, seed 1 -> 0.0001, seed 2 -> 0.001.
  EXPECT_EQ(lb.run_dirs["linear_probe"][col],
            (std::vector<std::string>{dirs[0][1], dirs[1][0], dirs[1][2]}));
  const Cell* c = find_cell(lb, "cls/top1", "linear_probe", col);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->n, 3);
  EXPECT_DOUBLE_EQ(c->mean, (0.80 + 0.70 + 0.40) / 3);
  EXPECT_EQ(lb.seed_values["cls/top1"]["linear_probe"][col][0], 0.80);
  EXPECT_EQ(lb.seed_values["cls/top1"]["linear_probe"][col][1], 0.70);
  EXPECT_EQ(lb.ok_runs, 6);
  EXPECT_EQ(lb.selection.candidates, 12);
  EXPECT_EQ(lb.selection.dropped, 6);

  EXPECT_EQ(lb.selection.chosen["linear_probe"][col][0]["l2"], "0.001");
  EXPECT_EQ(lb.selection.chosen["linear_probe"][col][1]["l2"], "0.0001");
  EXPECT_EQ(chosen_text(lb, "linear_probe", col), "l2 = 0.001 (2 seeds), 0.0001 (1)");
  EXPECT_EQ(chosen_text(lb, "ncm", col), "");
  EXPECT_EQ(lb.selection.row_where["linear_probe"], "4-shot validation from train");
  EXPECT_EQ(lb.selection.cell_where["linear_probe"][col], "4-shot validation from train");
  EXPECT_FALSE(lb.selection.row_where.count("ncm"));
  // The selection metrics of the selected runs are kept: (0.75 + 0.75 + 0.5) / 3.
  EXPECT_DOUBLE_EQ(lb.selection.selection_cells["cls/top1"]["linear_probe"][col].mean, 2.0 / 3);
  EXPECT_EQ(lb.selection.protocol, "cls/top1 on val_shots=4 from train over l2");

  // The cell's identity (what check and bless match on) names no selected-over value.
  EXPECT_FALSE(lb.identity["linear_probe"][col].count("method.params.l2"));
  EXPECT_EQ(lb.identity["linear_probe"][col].at("select.metric"), "cls/top1");
  // The tidy export still has each run's own l2.
  for (const auto& run : lb.runs) {
    if (run.record.method == "linear_probe") {
      EXPECT_TRUE(run.record.config.count("method.params.l2"));
    }
  }
}

TEST(Selection, TheMarkdownReportSaysHowAndWhatWasChosen) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  write_fixture(exp);
  Leaderboard lb = build_leaderboard(load_runs(exp), "sel");
  const std::string md = markdown(lb);
  EXPECT_NE(md.find("Model selection: cls/top1 on val_shots=4 from train over l2, per seed"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| linear_probe | result | 4-shot validation from train | l2 = 0.001 (2 seeds), 0.0001 (1) | 66.67 ± "), std::string::npos) << md;
  EXPECT_NE(md.find("l2 = 0.001 (2 seeds), 0.0001 (1)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 66.67 ± "), std::string::npos) << "selection top1 in percent\n" << md;
  EXPECT_EQ(md.find("l2=0.01"), std::string::npos) << "no row per l2\n" << md;
  EXPECT_EQ(md.find("99.00"), std::string::npos) << "an unselected test value leaked\n" << md;
}

TEST(Selection, LowerIsBetterMetricsSelectTheSmallest) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  std::vector<std::string> dirs;
  for (int g = 0; g < 3; ++g) {
    FakeRun r;
    r.plan = g;
    r.l2 = kL2[g];
    r.val = g == 1 ? 0.1 : 0.3;
    r.test = 0.2 + g;
    r.lower_is_better = true;
    dirs.push_back(write_run(exp, r));
  }
  Leaderboard lb = build_leaderboard(load_runs(exp), "sel");
  ASSERT_EQ(lb.rows, std::vector<std::string>{"linear_probe"});
  EXPECT_EQ(lb.run_dirs["linear_probe"][lb.columns[0]], std::vector<std::string>{dirs[1]});
}

TEST(Selection, ShotsColumnsAndSeedsAreSelectedApart) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  // At 4 shots l2 = 0.0001 wins, at 8 shots l2 = 0.001: each column keeps its own choice.
  int plan = 0;
  for (int shots : {4, 8})
    for (int g = 0; g < 2; ++g) {
      FakeRun r;
      r.plan = plan++;
      r.shots = shots;
      r.l2 = kL2[g];
      r.val = (shots == 4) == (g == 0) ? 0.9 : 0.1;
      r.test = 0.5;
      write_run(exp, r);
    }
  Leaderboard lb = build_leaderboard(load_runs(exp), "sel");
  ASSERT_EQ(lb.columns, (std::vector<std::string>{"shots=4", "shots=8"}));
  EXPECT_EQ(chosen_text(lb, "linear_probe", "shots=4"), "l2 = 0.0001 (1 seed)");
  EXPECT_EQ(chosen_text(lb, "linear_probe", "shots=8"), "l2 = 0.001 (1 seed)");
}

TEST(Selection, AMissingSelectionMetricNamesTheRunsMetricsJson) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  FakeRun a;
  write_run(exp, a);
  FakeRun b;
  b.plan = 1;
  b.l2 = "0.001";
  b.val_block = false;
  const std::string dir = write_run(exp, b);
  try {
    build_leaderboard(load_runs(exp), "sel");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/metrics.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("selection"), std::string::npos) << e.what();
  }
}

TEST(Selection, WithoutSelectEveryConfigurationIsARowAndTheReportSaysSo) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  write_fixture(exp, /*select=*/false);
  Leaderboard lb = build_leaderboard(load_runs(exp), "sel");
  EXPECT_EQ(lb.rows.size(), 4u);  // three l2 rows and ncm
  EXPECT_EQ(lb.ok_runs, 12);
  EXPECT_TRUE(lb.selection.every_configuration);
  EXPECT_EQ(selection_protocol_line(lb), "Model selection: none — every configuration reported.\n");
  const std::string md = markdown(lb);
  EXPECT_NE(md.find("Model selection: none — every configuration reported."), std::string::npos) << md;
}

// vlb report, check and bless build their leaderboards the same way: bless writes the selected
// cells (no l2 in the identity, the selected mean), and check passes against them.
TEST(Selection, BlessAndCheckSeeTheSelectedRows) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  write_fixture(exp);
  const std::string baseline = tmp / "b.json";
  auto b = test::run_cli("bless --baseline " + baseline + " " + exp + " --add-missing --metrics cls/top1");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  nlohmann::json j = nlohmann::json::parse(test::read_text(baseline));
  bool found = false;
  for (const auto& e : j.at("entries")) {
    if (e.at("row") != "linear_probe") continue;
    found = true;
    EXPECT_FALSE(e.at("identity").contains("method.params.l2")) << e.dump();
    EXPECT_NEAR(e.at("expected").get<double>(), (0.80 + 0.70 + 0.40) / 3, 1e-9) << e.dump();
  }
  EXPECT_TRUE(found) << j.dump(2);
  auto c = test::run_cli("check --baseline " + baseline + " " + exp);
  EXPECT_EQ(c.exit_code, 0) << c.output;
  auto r = test::run_cli("report " + exp + " --print --format json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Model selection: cls/top1"), std::string::npos) << r.output;
}

TEST(Selection, ApplyingTwiceChangesNothing) {
  TempDir tmp;
  const std::string exp = tmp / "sel";
  write_fixture(exp);
  SelectionInfo info;
  auto once = apply_selection(load_runs(exp), &info);
  auto twice = apply_selection(once, nullptr);
  ASSERT_EQ(once.size(), twice.size());
  for (size_t i = 0; i < once.size(); ++i) EXPECT_EQ(once[i].dir, twice[i].dir);
  EXPECT_EQ(once.size(), 6u);
}

}  // namespace
}  // namespace vlb
