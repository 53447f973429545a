// Leaderboards, writers and the baseline gate over hand-written run directories.
//
// Fixture "demo": methods zeroshot then ncm (plan order), spread 0.8 then 0.4, seeds 0..2, plus
// one failed ncm run. Metric values are dyadic fractions so means and stds are exact:
//   cls/top1              seed0   seed1   seed2   mean    sample std
//   zeroshot spread=0.8   0.25    0.5     0.75    0.5     sqrt((.0625+0+.0625)/2) = 0.25
//   zeroshot spread=0.4   0.75    0.75    0.75    0.75    0
//   ncm      spread=0.8   0.5     0.625   0.75    0.625   sqrt((2*.015625)/2)     = 0.125
//   ncm      spread=0.4   0.5     0.5     0.875   0.625   sqrt((.015625*2+.0625)/2) = sqrt(.046875)
//   cls/top5 is 1.0 everywhere.
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

namespace vlb {
namespace {

using test::read_text;
using test::TempDir;

/// write_text does not create parent directories: run directories need them.
void put(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  test::write_text(path, content);
}

struct RunSpec {
  int plan = 0;
  std::string method = "ncm";
  std::string method_params = "{}";
  std::string ablation;
  std::string spread = "0.4";
  int seed = 0;
  double top1 = 0.0;
  double top5 = 1.0;
  bool failed = false;
};

/// Writes one run directory as the runner does. Directory names run opposite to plan order so
/// that any ordering seen in the leaderboard must come from plan_index.
void write_run(const std::string& exp_dir, const RunSpec& s) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016x", 0xfff - s.plan);
  std::string dir = exp_dir + "/" + hex;
  put(dir + "/config.resolved.yaml",
             "ablation: \"" + s.ablation + "\"\n"
             "dataset: {eval_split: test, params: {classes: 20, spread: " + s.spread +
             "}, source: synth, train_split: train}\n"
             "experiment: demo\n"
             "method: {name: " + s.method + ", params: " + s.method_params + "}\n"
             "metrics: [top1, top5]\n"
             "runtime: {seed: " + std::to_string(s.seed) + ", threads: 1}\n");
  nlohmann::json m;
  m["run_key"] = std::string(64, 'a');
  m["plan_index"] = s.plan;
  if (s.failed) {
    m["status"] = "failed";
    m["error"] = "boom";
    m["metrics"] = nlohmann::json::object();
  } else {
    m["status"] = "ok";
    m["metrics"] = {{"cls/top1", s.top1}, {"cls/top5", s.top5}};
    m["higher_is_better"] = {{"cls/top1", true}, {"cls/top5", true}};
    m["n_eval"] = 100;
  }
  put(dir + "/metrics.json", m.dump());
  put(dir + "/env.json", "{\"wall_seconds\": 1.0}");
}

void write_demo(const std::string& exp) {
  const std::vector<std::string> methods = {"zeroshot", "ncm"};
  const std::vector<std::string> spreads = {"0.8", "0.4"};
  const double top1[2][2][3] = {{{0.25, 0.5, 0.75}, {0.75, 0.75, 0.75}},
                                {{0.5, 0.625, 0.75}, {0.5, 0.5, 0.875}}};
  int plan = 0;
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s)
      for (int seed = 0; seed < 3; ++seed) {
        RunSpec r;
        r.plan = plan++;
        r.method = methods[m];
        r.spread = spreads[s];
        r.seed = seed;
        r.top1 = top1[m][s][seed];
        write_run(exp, r);
      }
  RunSpec f;
  f.plan = plan++;
  f.seed = 3;
  f.failed = true;
  write_run(exp, f);
  // Skipped: a temp dir without metrics.json, and a report file next to the runs.
  put(exp + "/.tmp-123/config.resolved.yaml", "x: 1\n");
  put(exp + "/leaderboard.md", "# old\n");
}

Leaderboard demo_lb(const TempDir& tmp) {
  std::string exp = tmp / "demo";
  write_demo(exp);
  return build_leaderboard(load_runs(exp), "demo");
}

std::string render(const std::string& writer, const Leaderboard& lb) {
  ReportWriterRegistry reg("report writer");
  register_builtin_writers(reg);
  return reg.create(writer, Params())->render(lb);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

using vlb::test::contains;

// ---- load_runs ---------------------------------------------------------------------------------

TEST(LoadRuns, FlattensConfigAndSortsByPlan) {
  TempDir tmp;
  write_demo(tmp / "demo");
  auto runs = load_runs(tmp / "demo");
  ASSERT_EQ(runs.size(), 13u);  // 12 ok + 1 failed; .tmp-123 and leaderboard.md skipped
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].plan_index, static_cast<int64_t>(i));
  const RunRecord& r = runs[4];  // zeroshot, spread 0.4, seed 1
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.method, "zeroshot");
  EXPECT_EQ(r.ablation, "");
  EXPECT_EQ(r.seed, 1);
  EXPECT_EQ(r.config.at("dataset.params.spread"), "0.4");
  EXPECT_EQ(r.config.at("dataset.params.classes"), "20");
  EXPECT_EQ(r.config.at("metrics"), "[top1, top5]");
  EXPECT_EQ(r.config.at("runtime.threads"), "1");
  EXPECT_DOUBLE_EQ(r.metrics.at("cls/top1"), 0.75);
  EXPECT_TRUE(r.higher_is_better.at("cls/top1"));
  EXPECT_EQ(runs[12].status, "failed");
  EXPECT_EQ(runs[12].error, "boom");
}

TEST(LoadRuns, MissingMetricsJsonNamesTheDirectory) {
  TempDir tmp;
  put(tmp / "exp/0000000000000001/config.resolved.yaml", "ablation: \"\"\n");
  std::string msg = error_of([&] { load_runs(tmp / "exp"); });
  EXPECT_TRUE(contains(msg, "0000000000000001")) << msg;
  EXPECT_TRUE(contains(msg, "metrics.json")) << msg;
}

TEST(LoadRuns, MalformedMetricsJsonNamesTheFile) {
  TempDir tmp;
  RunSpec r;
  write_run(tmp / "exp", r);
  std::string file = tmp / "exp/0000000000000fff/metrics.json";
  put(file, "{\"status\": \"ok\", ");
  std::string msg = error_of([&] { load_runs(tmp / "exp"); });
  EXPECT_TRUE(contains(msg, file)) << msg;

  // Well-formed JSON with a wrongly typed value names the key too.
  put(file, R"({"status":"ok","run_key":"k","plan_index":0,"metrics":{"cls/top1":"x"},
                       "higher_is_better":{"cls/top1":true}})");
  msg = error_of([&] { load_runs(tmp / "exp"); });
  EXPECT_TRUE(contains(msg, file)) << msg;
  EXPECT_TRUE(contains(msg, "metrics.cls/top1")) << msg;
}

TEST(LoadRuns, MalformedYamlNamesTheFile) {
  TempDir tmp;
  RunSpec r;
  write_run(tmp / "exp", r);
  std::string file = tmp / "exp/0000000000000fff/config.resolved.yaml";
  put(file, "dataset: {eval_split: test\n");
  std::string msg = error_of([&] { load_runs(tmp / "exp"); });
  EXPECT_TRUE(contains(msg, file)) << msg;
}

// ---- build_leaderboard ---------------------------------------------------------------------------

TEST(Leaderboard, MeanStdNOverSeeds) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  EXPECT_EQ(lb.primary_metric, "cls/top1");
  const auto& t = lb.cells.at("cls/top1");
  Cell c = t.at("zeroshot").at("spread=0.8");
  EXPECT_DOUBLE_EQ(c.mean, 0.5);
  EXPECT_DOUBLE_EQ(c.std, 0.25);
  EXPECT_EQ(c.n, 3);
  c = t.at("zeroshot").at("spread=0.4");
  EXPECT_DOUBLE_EQ(c.mean, 0.75);
  EXPECT_DOUBLE_EQ(c.std, 0.0);
  c = t.at("ncm").at("spread=0.8");
  EXPECT_DOUBLE_EQ(c.mean, 0.625);
  EXPECT_DOUBLE_EQ(c.std, 0.125);
  c = t.at("ncm").at("spread=0.4");  // the failed seed-3 run is not counted
  EXPECT_DOUBLE_EQ(c.mean, 0.625);
  EXPECT_DOUBLE_EQ(c.std, std::sqrt(0.046875));
  EXPECT_EQ(c.n, 3);
  EXPECT_EQ(lb.failed_runs, 1);
  EXPECT_EQ(lb.ok_runs, 12);
  EXPECT_EQ(lb.seeds, (std::vector<int64_t>{0, 1, 2}));
}

TEST(Leaderboard, OnlyVaryingKeysAndPlanOrder) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  // classes, source, threads, metrics are constant; seed is aggregated; experiment excluded.
  EXPECT_EQ(lb.row_keys, (std::vector<std::string>{"method.name"}));
  EXPECT_EQ(lb.column_keys, (std::vector<std::string>{"dataset.params.spread"}));
  // Plan order, not alphabetical: zeroshot before ncm, 0.8 before 0.4.
  EXPECT_EQ(lb.rows, (std::vector<std::string>{"zeroshot", "ncm"}));
  EXPECT_EQ(lb.columns, (std::vector<std::string>{"spread=0.8", "spread=0.4"}));
}

TEST(Leaderboard, RowLabelsWithAblationAndMethodParams) {
  TempDir tmp;
  std::string exp = tmp / "abl";
  RunSpec a;
  a.plan = 0;
  a.method_params = "{shrink: 0.1}";
  a.top1 = 0.5;
  RunSpec b = a;
  b.plan = 1;
  b.method_params = "{shrink: 0.2}";
  b.ablation = "no_norm";
  write_run(exp, a);
  write_run(exp, b);
  Leaderboard lb = build_leaderboard(load_runs(exp), "abl");
  EXPECT_EQ(lb.rows, (std::vector<std::string>{"ncm (shrink=0.1)", "ncm [no_norm] (shrink=0.2)"}));
  EXPECT_EQ(lb.row_keys, (std::vector<std::string>{"ablation", "method.params.shrink"}));
  // Nothing else varies: a single column with an empty label, rendered as "result".
  EXPECT_EQ(lb.columns, (std::vector<std::string>{""}));
  EXPECT_TRUE(lb.column_keys.empty());
  EXPECT_TRUE(contains(render("markdown", lb), "| method | result |"));
}

TEST(Leaderboard, PrimaryMetricChoice) {
  TempDir tmp;
  write_demo(tmp / "demo");
  auto runs = load_runs(tmp / "demo");
  EXPECT_EQ(build_leaderboard(runs, "demo", "cls/top5").primary_metric, "cls/top5");
  std::string msg = error_of([&] { build_leaderboard(runs, "demo", "cls/top3"); });
  EXPECT_TRUE(contains(msg, "cls/top3")) << msg;
  EXPECT_TRUE(contains(msg, "cls/top5")) << msg;  // lists what is available
}

// ---- writers -------------------------------------------------------------------------------------

TEST(Writers, MarkdownBoldsBestPerColumn) {
  TempDir tmp;
  std::string md = render("markdown", demo_lb(tmp));
  EXPECT_TRUE(contains(md, "# demo — leaderboard")) << md;
  EXPECT_TRUE(contains(md, "| method | spread=0.8 | spread=0.4 |")) << md;
  // Column spread=0.8: ncm (62.5) beats zeroshot (50); column spread=0.4: zeroshot (75) wins.
  EXPECT_TRUE(contains(md, "| zeroshot | 50.00 ± 25.00 (n=3) | **75.00 ± 0.00 (n=3)** |")) << md;
  EXPECT_TRUE(contains(md, "| ncm | **62.50 ± 12.50 (n=3)** | 62.50 ± 21.65 (n=3) |")) << md;
  EXPECT_TRUE(contains(md, "1 failed run")) << md;
  EXPECT_TRUE(contains(md, "## Details: spread=0.8")) << md;
  EXPECT_FALSE(contains(md, "classes")) << md;  // constant keys do not appear
  // cls/top5 is 1.0 for every row: a column of equal values has no best to bold.
  EXPECT_TRUE(contains(md, "| zeroshot | 50.00 ± 25.00 | 100.00 ± 0.00 |")) << md;
  EXPECT_FALSE(contains(md, "**100.00")) << md;
}

TEST(Writers, MarkdownBoldRespectsLowerIsBetter) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  lb.higher_is_better["cls/top1"] = false;  // pretend it is an error rate
  std::string md = render("markdown", lb);
  EXPECT_TRUE(contains(md, "| zeroshot | **50.00 ± 25.00 (n=3)** | 75.00 ± 0.00 (n=3) |")) << md;
  EXPECT_TRUE(contains(md, "↓ lower is better")) << md;
}

TEST(Writers, CsvLongFormat) {
  TempDir tmp;
  std::string csv = render("csv", demo_lb(tmp));
  EXPECT_EQ(csv.rfind("row,column,metric,mean,std,n\n", 0), 0u) << csv;
  EXPECT_TRUE(contains(csv, "\nncm,spread=0.8,cls/top1,0.625,0.125,3\n")) << csv;
  EXPECT_TRUE(contains(csv, "\nzeroshot,spread=0.4,cls/top1,0.75,0,3\n")) << csv;
  // header + 2 rows x 2 columns x 2 metrics
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 9);
}

TEST(Writers, JsonHasCellsAndFailures) {
  TempDir tmp;
  auto j = nlohmann::json::parse(render("json", demo_lb(tmp)));
  EXPECT_EQ(j["experiment"], "demo");
  EXPECT_EQ(j["primary_metric"], "cls/top1");
  EXPECT_EQ(j["rows"], (std::vector<std::string>{"zeroshot", "ncm"}));
  EXPECT_DOUBLE_EQ(j["cells"]["cls/top1"]["ncm"]["spread=0.8"]["mean"].get<double>(), 0.625);
  EXPECT_EQ(j["cells"]["cls/top1"]["ncm"]["spread=0.8"]["n"], 3);
  EXPECT_EQ(j["failed_runs"], 1);
}

// ---- check / bless -------------------------------------------------------------------------------

std::string entry(const std::string& row, const std::string& col, double expected,
                  const std::string& extra = "") {
  nlohmann::json e = {{"row", row},           {"column", col},  {"metric", "cls/top1"},
                      {"expected", expected}, {"direction", "higher_is_better"}};
  std::string s = e.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

std::string baseline(const std::vector<std::string>& entries) {
  std::string s = "{\"entries\": [";
  for (size_t i = 0; i < entries.size(); ++i) s += (i ? ",\n" : "\n") + entries[i];
  return s + "]}\n";
}

// Actual cls/top1 means: zeroshot 0.8 -> 0.5, zeroshot 0.4 -> 0.75, ncm 0.8 -> 0.625.
TEST(Baseline, CheckStatuses) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  put(file, baseline({
      // 0.625 vs 0.7: 0.075 worse, allowed 0.05 -> regression
      entry("ncm", "spread=0.8", 0.7, "\"abs_tol\": 0.05"),
      // 0.75 vs 0.77: 0.02 worse, allowed 0.05 -> ok
      entry("zeroshot", "spread=0.4", 0.77, "\"abs_tol\": 0.05"),
      // 0.5 vs 0.4: 0.1 better, allowed max(0.01, 0.1*0.4=0.04) = 0.04 -> improvement
      entry("zeroshot", "spread=0.8", 0.4, "\"abs_tol\": 0.01, \"rel_tol\": 0.1"),
      // no such column -> missing, gated
      entry("zeroshot", "spread=0.2", 0.5),
  }));
  CheckResult r = check_baseline(file, lb);
  EXPECT_EQ(r.failures, 2) << r.table_markdown;
  EXPECT_EQ(r.improvements, 1) << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "| row | column | metric | expected | actual | Δ | allowed | status |"));
  EXPECT_TRUE(contains(r.table_markdown, "| ncm | spread=0.8 | cls/top1 | 0.7 | 0.625 | -0.075 | 0.05 | FAIL: regression |"))
      << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "| zeroshot | spread=0.4 | cls/top1 | 0.77 | 0.75 | -0.02 | 0.05 | ok |"))
      << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "consider `vlb bless`")) << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "FAIL: missing")) << r.table_markdown;
  // Row/column entries are the old format: still checked, with a warning saying how to migrate.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "old baseline format")) << r.warnings[0];
}

TEST(Baseline, RelativeToleranceAndLowerIsBetter) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  // 0.625 vs 0.7 is 0.075 worse; allowed = max(0.01, 0.2*0.7 = 0.14) -> passes.
  put(file, baseline({entry("ncm", "spread=0.8", 0.7, "\"rel_tol\": 0.2")}));
  EXPECT_EQ(check_baseline(file, lb).failures, 0);
  // Same cell declared lower-is-better, expected 0.5: actual 0.625 is 0.125 worse -> fails.
  put(file, baseline({R"({"row":"ncm","column":"spread=0.8","metric":"cls/top1",
      "expected":0.5,"direction":"lower_is_better","abs_tol":0.05})"}));
  CheckResult r = check_baseline(file, lb);
  EXPECT_EQ(r.failures, 1) << r.table_markdown;
  EXPECT_EQ(r.improvements, 0);
}

TEST(Baseline, UngatedEntriesOnlyInform) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  put(file, baseline({entry("zeroshot", "spread=0.8", 0.9, "\"gate\": false"),
                             entry("nope", "spread=0.8", 0.9, "\"gate\": false")}));
  CheckResult r = check_baseline(file, lb);
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "info: regression")) << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "info: missing")) << r.table_markdown;
}

TEST(Baseline, BlessCreatesFileThenCheckPasses) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "new/baseline.json";
  bless_baseline(file, lb, {"cls/top1"}, false);  // absent file: every cell of cls/top1 is added
  auto j = nlohmann::json::parse(read_text(file));
  ASSERT_EQ(j["entries"].size(), 4u);
  const auto& e0 = j["entries"][0];  // first row, first column
  EXPECT_EQ(e0["row"], "zeroshot");
  EXPECT_EQ(e0["column"], "spread=0.8");
  EXPECT_DOUBLE_EQ(e0["expected"].get<double>(), 0.5);
  EXPECT_EQ(e0["direction"], "higher_is_better");
  EXPECT_DOUBLE_EQ(e0["abs_tol"].get<double>(), 1e-6);
  EXPECT_EQ(e0["gate"], true);
  EXPECT_EQ(e0["note"].get<std::string>().rfind("blessed ", 0), 0u);
  CheckResult r = check_baseline(file, lb);
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  EXPECT_EQ(r.improvements, 0) << r.table_markdown;
}

TEST(Baseline, BlessKeepsNotesAndTolerances) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  put(file, baseline({entry("ncm", "spread=0.8", 0.1,
                                   "\"abs_tol\": 0.02, \"rel_tol\": 0.01, \"gate\": false, "
                                   "\"note\": \"flaky on CI\"")}));
  EXPECT_EQ(check_baseline(file, lb).improvements, 1);
  bless_baseline(file, lb, {}, false);
  auto j = nlohmann::json::parse(read_text(file));
  ASSERT_EQ(j["entries"].size(), 1u);  // add_missing=false: nothing added
  const auto& e = j["entries"][0];
  EXPECT_DOUBLE_EQ(e["expected"].get<double>(), 0.625);
  EXPECT_DOUBLE_EQ(e["abs_tol"].get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(e["rel_tol"].get<double>(), 0.01);
  EXPECT_EQ(e["gate"], false);
  EXPECT_EQ(e["note"], "flaky on CI");
  EXPECT_EQ(check_baseline(file, lb).improvements, 0);

  // add_missing for cls/top5: 4 new entries after the kept one.
  bless_baseline(file, lb, {"cls/top5"}, true);
  j = nlohmann::json::parse(read_text(file));
  ASSERT_EQ(j["entries"].size(), 5u);
  EXPECT_EQ(j["entries"][0]["note"], "flaky on CI");
  EXPECT_EQ(j["entries"][1]["metric"], "cls/top5");
}

TEST(Baseline, BlessRefusesMissingCellAndLeavesFileUnchanged) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  std::string before = baseline({entry("ncm", "spread=0.8", 0.1), entry("gone", "spread=0.8", 0.3)});
  put(file, before);
  std::string msg = error_of([&] { bless_baseline(file, lb, {}, true); });
  EXPECT_TRUE(contains(msg, "gone")) << msg;
  EXPECT_EQ(read_text(file), before);
}

TEST(Baseline, MalformedEntryIsNamed) {
  TempDir tmp;
  Leaderboard lb = demo_lb(tmp);
  std::string file = tmp / "baseline.json";
  put(file, baseline({entry("ncm", "spread=0.8", 0.1),
                             R"({"row":"ncm","column":"spread=0.8","metric":"cls/top5",
                                 "expected":"high","direction":"higher_is_better"})"}));
  std::string msg = error_of([&] { check_baseline(file, lb); });
  EXPECT_TRUE(contains(msg, file)) << msg;
  EXPECT_TRUE(contains(msg, "entries[1].expected: expected a number")) << msg;

  // A misspelt key is refused rather than read as a zero tolerance.
  put(file, baseline({entry("ncm", "spread=0.8", 0.1, "\"abs_tole\": 0.1")}));
  msg = error_of([&] { check_baseline(file, lb); });
  EXPECT_TRUE(contains(msg, "entries[0].abs_tole")) << msg;

  put(file, "{\"entries\": [");
  msg = error_of([&] { bless_baseline(file, lb, {}, false); });
  EXPECT_TRUE(contains(msg, file)) << msg;
}

}  // namespace
}  // namespace vlb
