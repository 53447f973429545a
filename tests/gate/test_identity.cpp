// Baselines name cells by identity: they survive a moved data folder and added axes, report
// changed parameters as changed (with the differing keys), and refuse entries whose results are
// gone (exit 2). Old row/column files still check, with a warning, and migrate unchanged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gate_fixture.h"
#include "vlb/core/error.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

using gate_test::contains;
using gate_test::sweep;
using gate_test::write_all;
using test::read_text;
using test::run_cli;
using test::TempDir;

Leaderboard board_of(const std::string& exp) { return build_leaderboard(load_runs(exp), "fewshot"); }

TEST(Identity, LeavesOutRuntimeAndPathsAndKeepsEverythingElse) {
  TempDir t;
  write_all(t / "fewshot", sweep("/data/a", 1));
  auto runs = load_runs(t / "fewshot");
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs[0].dataset_name, "dtd");
  Identity id = run_identity(runs[0]);
  EXPECT_EQ(id.at("method.name"), "linear_probe");
  EXPECT_EQ(id.at("method.params.l2"), "0.01");
  EXPECT_EQ(id.at("dataset.name"), "dtd");
  EXPECT_EQ(id.at("dataset.fingerprint").substr(0, 8), "f00dfeed");
  EXPECT_EQ(id.at("dataset.shots"), "1");
  EXPECT_EQ(id.at("dataset.eval_split"), "test");
  EXPECT_EQ(id.at("experiment"), "fewshot");
  EXPECT_FALSE(id.count("dataset.params.path"));
  for (const auto& [k, v] : id) {
    EXPECT_NE(k.rfind("runtime", 0), 0u) << k;
    EXPECT_FALSE(contains(v, "/data/")) << k << "=" << v;
  }
  EXPECT_TRUE(is_path_setting("dataset.params.features_file", "x"));
  EXPECT_TRUE(is_path_setting("method.params.init", "weights/init.pt"));
  EXPECT_FALSE(is_path_setting("method.params.l2", "0.01"));
}

TEST(Identity, HeadersUseDatasetNamesAndShortLabelsNotPaths) {
  TempDir t;
  // Two datasets of different content, both dtd.h5, in two folders, at two shot counts.
  auto runs = sweep("/data/a", 1);
  auto more = sweep("/data/b", 2, 6);
  for (auto& r : more) r.fingerprint = "beefcafe" + std::string(56, '0');
  runs.insert(runs.end(), more.begin(), more.end());
  write_all(t / "fewshot", runs);
  Leaderboard lb = board_of(t / "fewshot");
  EXPECT_EQ(lb.columns, (std::vector<std::string>{"dtd@f00dfeed, shots=1", "dtd@beefcafe, shots=2"}));
  ASSERT_EQ(lb.column_keys.front(), "dataset.name");
  ReportWriterRegistry reg("report writer");
  register_builtin_writers(reg);
  for (const char* w : {"markdown", "csv", "latex"}) {
    std::string out = reg.create(w, Params())->render(lb);
    EXPECT_FALSE(contains(out, "/data/")) << w << ":\n" << out;
  }
  // The paths are in the JSON details.
  auto j = nlohmann::json::parse(reg.create("json", Params())->render(lb));
  EXPECT_EQ(j["details"]["datasets"]["dtd@beefcafe"], "/data/b/dtd.h5") << j["details"].dump();

  // Same content everywhere: the name alone, "dtd, shots=1".
  TempDir u;
  auto same = sweep("/data/a", 1);
  auto same2 = sweep("/data/a", 4, 6);
  same.insert(same.end(), same2.begin(), same2.end());
  write_all(u / "fewshot", same);
  EXPECT_EQ(board_of(u / "fewshot").columns, (std::vector<std::string>{"shots=1", "shots=4"}));
}

TEST(Identity, BaselineSurvivesAMovedDataFolderAndAddedAxes) {
  TempDir t;
  write_all(t / "a/fewshot", sweep("/data/a", 1));
  const std::string file = t / "baseline.json";
  bless_baseline(file, board_of(t / "a/fewshot"), {}, true);
  auto doc = nlohmann::json::parse(read_text(file));
  EXPECT_EQ(doc["format"], "vlb-baseline/2");
  ASSERT_EQ(doc["entries"].size(), 2u);
  EXPECT_EQ(doc["entries"][0]["identity"]["method.params.l2"], "0.01");
  EXPECT_FALSE(contains(doc.dump(), "/data/a")) << doc.dump(2);

  // Same content, another folder; plus another method and another shots value in the spec.
  auto moved = sweep("/mnt/elsewhere", 1);
  auto extra = sweep("/mnt/elsewhere", 8, 6);
  moved.insert(moved.end(), extra.begin(), extra.end());
  gate_test::Run other;
  other.plan = 20;
  other.method = "ncm";
  other.params = "{}";
  other.data_dir = "/mnt/elsewhere";
  moved.push_back(other);
  write_all(t / "b/fewshot", moved);
  Leaderboard lb = board_of(t / "b/fewshot");
  EXPECT_NE(lb.columns.front(), "");  // the column labels changed ("shots=1")...
  CheckResult r = check_baseline(file, lb);  // ...the identities did not
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].status, "ok");
  EXPECT_EQ(r.entries[0].column, "shots=1");
  EXPECT_DOUBLE_EQ(*r.entries[0].actual, 0.625);
}

TEST(Identity, ChangedParametersAreReportedWithKeysAndDeltaAndFail) {
  TempDir t;
  write_all(t / "a/fewshot", sweep("/data/a", 1));
  const std::string file = t / "baseline.json";
  bless_baseline(file, board_of(t / "a/fewshot"), {}, true);
  auto runs = sweep("/data/a", 1, 0, "0.1");
  for (auto& r : runs)
    if (r.method == "linear_probe") r.top1 -= 0.125;  // the accuracy drop the change caused
  write_all(t / "b/fewshot", runs);
  CheckResult r = check_baseline(file, board_of(t / "b/fewshot"));
  EXPECT_EQ(r.failures, 1) << r.table_markdown;
  const CheckEntry& e = r.entries[0];
  EXPECT_EQ(e.status, "params_changed");
  ASSERT_EQ(e.changes.size(), 1u);
  EXPECT_EQ(e.changes[0].key, "method.params.l2");
  EXPECT_EQ(e.changes[0].expected, "0.01");
  EXPECT_EQ(e.changes[0].actual, "0.1");
  EXPECT_DOUBLE_EQ(*e.actual - e.expected, -0.125);
  EXPECT_TRUE(contains(r.table_markdown, "FAIL: parameters changed (method.params.l2: 0.01 → 0.1)"))
      << r.table_markdown;
  EXPECT_EQ(r.entries[1].status, "ok");  // zeroshot did not change

  auto cli = run_cli("check --baseline " + file + " " + (t / "b/fewshot"));
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_TRUE(contains(cli.output, "method.params.l2: 0.01 → 0.1")) << cli.output;
  EXPECT_TRUE(contains(cli.output, "-0.125")) << cli.output;
  EXPECT_FALSE(contains(cli.output, "missing")) << cli.output;

  // Bless refuses to re-point silently; --accept-changed does, and the file then passes.
  auto refused = run_cli("bless --baseline " + file + " " + (t / "b/fewshot"));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output, "--accept-changed")) << refused.output;
  auto ok = run_cli("bless --accept-changed --baseline " + file + " " + (t / "b/fewshot"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(run_cli("check --baseline " + file + " " + (t / "b/fewshot")).exit_code, 0);
}

// Note [generated datasets]: the same generator parameters on another CPU may give other bytes.
TEST(Identity, AnotherFingerprintIsComparedForGeneratedDataButChangedForFiles) {
  for (const std::string data_dir : {"", "/data/a"}) {
    TempDir t;
    write_all(t / "a/fewshot", sweep(data_dir, 1));
    const std::string file = t / "baseline.json";
    bless_baseline(file, board_of(t / "a/fewshot"), {}, true);
    auto runs = sweep(data_dir, 1);
    for (auto& r : runs) r.fingerprint = "0ddba11" + std::string(57, '0');
    write_all(t / "b/fewshot", runs);
    CheckResult r = check_baseline(file, board_of(t / "b/fewshot"));
    if (data_dir.empty()) {
      EXPECT_EQ(r.failures, 0) << r.table_markdown;
      EXPECT_EQ(r.entries[0].status, "ok");
      ASSERT_EQ(r.warnings.size(), 2u);
      EXPECT_TRUE(contains(r.warnings[0], "generated dataset's fingerprint differs")) << r.warnings[0];
      EXPECT_TRUE(contains(r.warnings[0], "f00dfeed0000 → 0ddba1100000")) << r.warnings[0];
    } else {
      EXPECT_EQ(r.failures, 2) << r.table_markdown;
      EXPECT_EQ(r.entries[0].status, "params_changed");
      ASSERT_EQ(r.entries[0].changes.size(), 1u);
      EXPECT_EQ(r.entries[0].changes[0].key, "dataset.fingerprint");
    }
  }
}

TEST(Identity, AnEntryWithNoCandidateIsALocatedErrorExit2) {
  TempDir t;
  write_all(t / "a/fewshot", sweep("/data/a", 1));
  const std::string file = t / "baseline.json";
  bless_baseline(file, board_of(t / "a/fewshot"), {}, true);
  TempDir u;
  auto runs = sweep("/data/a", 1);
  runs.resize(3);  // linear_probe only: zeroshot's entry (entries[1]) has nothing to compare with
  write_all(u / "fewshot", runs);
  try {
    check_baseline(file, board_of(u / "fewshot"));
    FAIL() << "an entry without results was accepted";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_TRUE(contains(msg, file)) << msg;
    EXPECT_TRUE(contains(msg, "entries[1]: method 'zeroshot', dataset 'dtd', metric 'cls/top1'")) << msg;
  }
  auto cli = run_cli("check --baseline " + file + " " + (u / "fewshot"));
  EXPECT_EQ(cli.exit_code, 2) << cli.output;
  EXPECT_TRUE(contains(cli.output, "no longer exist")) << cli.output;
}

TEST(Identity, OldFormatStillChecksWithAWarningAndMigratesUnchanged) {
  TempDir t;
  write_all(t / "fewshot", sweep("/data/a", 1));
  const std::string file = t / "old.json";
  nlohmann::json old = {{"entries",
                         {{{"row", "linear_probe"}, {"column", ""}, {"metric", "cls/top1"},
                           {"expected", 0.6}, {"direction", "higher_is_better"}, {"abs_tol", 0.05},
                           {"rel_tol", 0}, {"gate", true}, {"note", "hand-made"}}}}};
  gate_test::put(file, old.dump(2));
  CheckResult r = check_baseline(file, board_of(t / "fewshot"));
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_TRUE(contains(r.warnings[0], "old baseline format")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "vlb bless --migrate")) << r.warnings[0];

  auto cli = run_cli("bless --migrate --baseline " + file + " " + (t / "fewshot"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  auto j = nlohmann::json::parse(read_text(file));
  EXPECT_EQ(j["format"], "vlb-baseline/2");
  const auto& e = j["entries"][0];
  EXPECT_DOUBLE_EQ(e["expected"].get<double>(), 0.6);  // not the current 0.625
  EXPECT_DOUBLE_EQ(e["abs_tol"].get<double>(), 0.05);
  EXPECT_EQ(e["note"], "hand-made");
  EXPECT_EQ(e["identity"]["method.name"], "linear_probe");
  CheckResult again = check_baseline(file, board_of(t / "fewshot"));
  EXPECT_EQ(again.failures, 0) << again.table_markdown;
  EXPECT_TRUE(again.warnings.empty());
}

}  // namespace
}  // namespace vlb
