// The regression gate's directions: two-sided ("both") and "exact" entries, and the entries at a
// metric's bound that a one-sided check could never fail (check warns, bless makes them both).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

using test::read_text;
using test::TempDir;
using test::write_text;

using vlb::test::contains;

// One column (""), cls/top1 higher-is-better and cls/err lower-is-better. Each row is a method of
// its own on dataset "d" (the identity baseline entries name).
Leaderboard board(std::map<std::string, double> top1, std::map<std::string, double> err = {}) {
  Leaderboard lb;
  lb.experiment = "gate";
  lb.primary_metric = "cls/top1";
  lb.columns = {""};
  for (const auto& [row, v] : top1) {
    lb.rows.push_back(row);
    lb.cells["cls/top1"][row][""] = Cell{v, 0.0, 3};
    lb.identity[row][""] = {{"method.name", row}, {"dataset.name", "d"}};
  }
  for (const auto& [row, v] : err) {
    lb.cells["cls/err"][row][""] = Cell{v, 0.0, 3};
    lb.identity[row][""] = {{"method.name", row}, {"dataset.name", "d"}};
  }
  lb.higher_is_better = {{"cls/top1", true}, {"cls/err", false}};
  return lb;
}

std::string file_of(const std::vector<nlohmann::json>& entries) {
  nlohmann::json doc = {{"format", "vlb-baseline/2"}, {"entries", entries}};
  return doc.dump(2);
}

nlohmann::json entry(const std::string& row, double expected, const std::string& direction,
                     double abs_tol, const std::string& metric = "cls/top1") {
  nlohmann::json e = {{"identity", {{"method.name", row}, {"dataset.name", "d"}}},
                      {"metric", metric}, {"expected", expected}, {"direction", direction}};
  if (abs_tol > 0) e["abs_tol"] = abs_tol;
  return e;
}

TEST(BaselineGate, HigherIsBetterAtZeroCannotFailButBothDoes) {
  TempDir t;
  const std::string f = t / "b.json";
  Leaderboard lb = board({{"icis", 0.5}});
  // The committed icis_synth entries before: U = 0, one-sided, tolerance 0.02. Passes at 0.5.
  write_text(f, file_of({entry("icis", 0.0, "higher_is_better", 0.02)}));
  CheckResult one_sided = check_baseline(f, lb);
  EXPECT_EQ(one_sided.failures, 0) << one_sided.table_markdown;
  ASSERT_EQ(one_sided.warnings.size(), 1u);
  EXPECT_TRUE(contains(one_sided.warnings[0], "method 'icis'")) << one_sided.warnings[0];
  EXPECT_TRUE(contains(one_sided.warnings[0], "sits at the bound")) << one_sided.warnings[0];
  // Two-sided: 0.5 against 0 +- 0.02 fails; 0.01 passes; -0.03 fails.
  write_text(f, file_of({entry("icis", 0.0, "both", 0.02)}));
  CheckResult both = check_baseline(f, lb);
  EXPECT_EQ(both.failures, 1) << both.table_markdown;
  EXPECT_TRUE(both.warnings.empty());
  EXPECT_TRUE(contains(both.table_markdown, "| icis | result | cls/top1 | 0 | 0.5 | +0.5 | 0.02 | FAIL: changed |"))
      << both.table_markdown;
  EXPECT_EQ(check_baseline(f, board({{"icis", 0.01}})).failures, 0);
  EXPECT_EQ(check_baseline(f, board({{"icis", -0.03}})).failures, 1);
}

TEST(BaselineGate, BothFailsEitherWayAndNeverCountsAnImprovement) {
  TempDir t;
  const std::string f = t / "b.json";
  write_text(f, file_of({entry("a", 0.7, "both", 0.05)}));
  for (double actual : {0.64, 0.76}) {
    CheckResult r = check_baseline(f, board({{"a", actual}}));
    EXPECT_EQ(r.failures, 1) << actual << "\n" << r.table_markdown;
    EXPECT_EQ(r.improvements, 0) << actual;
  }
  for (double actual : {0.66, 0.7, 0.74}) EXPECT_EQ(check_baseline(f, board({{"a", actual}})).failures, 0) << actual;
  // Not gated: reported, not counted.
  write_text(f, file_of({[] { auto e = entry("a", 0.7, "both", 0.05); e["gate"] = false; return e; }()}));
  CheckResult info = check_baseline(f, board({{"a", 0.9}}));
  EXPECT_EQ(info.failures, 0);
  EXPECT_TRUE(contains(info.table_markdown, "info: changed (not gated)")) << info.table_markdown;
}

TEST(BaselineGate, ExactAllowsNoDifferenceAndNoTolerance) {
  TempDir t;
  const std::string f = t / "b.json";
  write_text(f, file_of({entry("a", 0.75, "exact", 0)}));
  EXPECT_EQ(check_baseline(f, board({{"a", 0.75}})).failures, 0);
  CheckResult r = check_baseline(f, board({{"a", 0.75 + 1e-12}}));
  EXPECT_EQ(r.failures, 1) << r.table_markdown;
  EXPECT_TRUE(contains(r.table_markdown, "| 0 | FAIL: changed |")) << r.table_markdown;
  write_text(f, file_of({entry("a", 0.75, "exact", 1e-3)}));
  try {
    check_baseline(f, board({{"a", 0.75}}));
    FAIL() << "a tolerance on an exact entry was accepted";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), "entries[0].direction")) << e.what();
    EXPECT_TRUE(contains(e.what(), "no abs_tol or rel_tol")) << e.what();
  }
  write_text(f, file_of({entry("a", 0.75, "sideways", 0)}));
  try {
    check_baseline(f, board({{"a", 0.75}}));
    FAIL() << "an unknown direction was accepted";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), "\"both\" or \"exact\", got \"sideways\"")) << e.what();
  }
}

TEST(BaselineGate, NanFailsEveryDirection) {
  TempDir t;
  const std::string f = t / "b.json";
  for (const char* d : {"higher_is_better", "lower_is_better", "both", "exact"}) {
    write_text(f, file_of({entry("a", 0.5, d, std::string(d) == "exact" ? 0 : 0.1)}));
    CheckResult r = check_baseline(f, board({{"a", std::nan("")}}));
    EXPECT_EQ(r.failures, 1) << d << "\n" << r.table_markdown;
    EXPECT_TRUE(contains(r.table_markdown, "FAIL: not a number")) << r.table_markdown;
  }
}

TEST(BaselineGate, LowerIsBetterAtTheTopOfAFractionOrPercentageWarns) {
  TempDir t;
  const std::string f = t / "b.json";
  write_text(f, file_of({entry("a", 1.0, "lower_is_better", 1e-6, "cls/err"),
                         entry("b", 0.4, "lower_is_better", 1e-6, "cls/err"),
                         entry("c", 100.0, "lower_is_better", 0.5, "cls/err"),
                         entry("d", 1.0, "higher_is_better", 1e-6)}));
  CheckResult r = check_baseline(f, board({{"a", 0.9}, {"b", 0.4}, {"c", 99.8}, {"d", 1.0}},
                                          {{"a", 1.0}, {"b", 0.4}, {"c", 99.8}}));
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  ASSERT_EQ(r.warnings.size(), 2u);  // a and c; d sits at the top of a higher-is-better metric
  EXPECT_TRUE(contains(r.warnings[0], "method 'a'")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[1], "method 'c'")) << r.warnings[1];
}

TEST(BaselineGate, BlessWritesBoundEntriesAsBothAndWarns) {
  TempDir t;
  const std::string f = t / "b.json";
  // Existing one-sided entry whose new value is 0, and a new file's cells (one of them 0).
  write_text(f, file_of({entry("kept", 0.6, "higher_is_better", 0.02)}));
  Leaderboard lb = board({{"kept", 0.0}, {"fine", 0.8}, {"zero", 0.0}});
  auto warnings = bless_baseline(f, lb, {"cls/top1"}, true);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_TRUE(contains(warnings[0], "row 'kept'")) << warnings[0];
  EXPECT_TRUE(contains(warnings[0], "written as \"direction\": \"both\"")) << warnings[0];
  EXPECT_TRUE(contains(warnings[1], "row 'zero'")) << warnings[1];
  auto j = nlohmann::json::parse(read_text(f));
  ASSERT_EQ(j["entries"].size(), 3u);
  std::map<std::string, std::string> dir;
  for (const auto& e : j["entries"]) dir[e["row"]] = e["direction"];
  EXPECT_EQ(dir["kept"], "both");
  EXPECT_EQ(dir["zero"], "both");
  EXPECT_EQ(dir["fine"], "higher_is_better");
  EXPECT_DOUBLE_EQ(j["entries"][0]["abs_tol"].get<double>(), 0.02);  // tolerance kept
  // The blessed file passes its own leaderboard without warnings, and fails when a 0 moves.
  CheckResult r = check_baseline(f, lb);
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(check_baseline(f, board({{"kept", 0.0}, {"fine", 0.8}, {"zero", 0.5}})).failures, 1);
  // Blessing again with nothing at a bound warns no more, and both stays both.
  EXPECT_TRUE(bless_baseline(f, board({{"kept", 0.3}, {"fine", 0.8}, {"zero", 0.2}}), {}, false).empty());
  j = nlohmann::json::parse(read_text(f));
  EXPECT_EQ(j["entries"][0]["direction"], "both");
}

}  // namespace
}  // namespace vlb
