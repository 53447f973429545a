// `check --stat` and `bless --stat` on evidence built in memory: a SampleSource that returns the
// per-row correctness (or the bootstrap interval) of each cell, as the CLI's does from
// predictions.h5. The McNemar decision is compared with scipy.stats.binomtest.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gate_fixture.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

using gate_test::contains;
using test::read_text;
using test::run_command;
using test::TempDir;
using test::write_text;

// Per-row correctness of every seed of one cell.
struct Fake {
  std::vector<int64_t> row_ids;
  std::map<int64_t, std::vector<bool>> seeds;  // seed -> per-row correctness
  std::optional<CellSamples::Interval> interval;
  std::string no_test;          // neither test applies; the cell's value is `fixed`
  double fixed = 0;
  double value() const {
    if (!no_test.empty()) return fixed;
    if (interval) return (interval->lo + interval->hi) / 2;
    double sum = 0;
    for (const auto& [s, v] : seeds) sum += static_cast<double>(std::count(v.begin(), v.end(), true)) / v.size();
    return sum / static_cast<double>(seeds.size());
  }
};

std::vector<int64_t> ids(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 100);
  return v;
}

// `n` rows, the first `correct` of them right.
std::vector<bool> first(int64_t n, int64_t correct) {
  std::vector<bool> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < correct; ++i) v[static_cast<size_t>(i)] = true;
  return v;
}

// Flips `lose` right rows to wrong (from the start) and `gain` wrong rows to right (from the end).
std::vector<bool> flip(std::vector<bool> v, int64_t lose, int64_t gain) {
  for (size_t i = 0; i < v.size() && lose > 0; ++i)
    if (v[i]) v[i] = false, --lose;
  for (size_t i = v.size(); i-- > 0 && gain > 0;)
    if (!v[i]) v[i] = true, --gain;
  return v;
}

Fake same_seeds(std::vector<bool> v, std::vector<int64_t> seeds = {0, 1, 2}) {
  Fake f;
  f.row_ids = ids(static_cast<int64_t>(v.size()));
  for (int64_t s : seeds) f.seeds[s] = v;
  return f;
}

// One column (""), metric cls/top1 (higher is better); a row per method on dataset "d".
struct World {
  std::map<std::string, Fake> cells;  // row -> evidence
  std::string metric = "cls/top1";
  bool higher = true;
  int calls = 0;

  Leaderboard board() const {
    Leaderboard lb;
    lb.experiment = "gate";
    lb.primary_metric = metric;
    lb.columns = {""};
    lb.higher_is_better = {{metric, higher}};
    for (const auto& [row, f] : cells) {
      lb.rows.push_back(row);
      lb.cells[metric][row][""] = Cell{f.value(), 0.0, static_cast<int>(f.seeds.size())};
      lb.identity[row][""] = {{"method.name", row}, {"dataset.name", "d"}};
    }
    return lb;
  }
  SampleSource source() {
    return [this](const std::string& row, const std::string&, const std::string& m, bool with_interval) {
      ++calls;
      EXPECT_EQ(m, metric);
      const Fake& f = cells.at(row);
      CellSamples c;
      c.file = "/runs/" + row + "/predictions.h5";
      c.row_ids = f.row_ids;
      for (const auto& [s, v] : f.seeds) {
        c.seeds.push_back(s);
        auto at = std::find(c.distinct.begin(), c.distinct.end(), v);
        c.seed_index.push_back(static_cast<int>(at - c.distinct.begin()));
        if (at == c.distinct.end()) c.distinct.push_back(v);
      }
      if (f.interval || !f.no_test.empty()) {
        c.no_test = f.no_test;
        c.distinct.clear();
        c.seed_index.clear();
        if (with_interval) c.interval = f.interval;
      }
      return c;
    };
  }
  CheckResult check(const std::string& file, bool stat = true) {
    CheckOptions o;
    o.stat = stat;
    o.samples = source();
    return check_baseline(file, board(), o);
  }
  void bless(const std::string& file, double abs_tol, bool stat = true) {
    BlessOptions o;
    o.abs_tol = abs_tol;
    o.stat = stat;
    o.samples = source();
    bless_baseline(file, board(), o);
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(StatGate, BlessStoresPackedBitsOncePerDistinctSeed) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  Fake a = same_seeds(first(20, 15));
  a.seeds[2] = flip(a.seeds[2], 1, 0);  // seeds 0 and 1 identical, seed 2 differs
  w.cells["a"] = a;
  w.bless(f, 0.001);
  auto j = nlohmann::json::parse(read_text(f));
  EXPECT_EQ(j["format"], "vlb-baseline/3");
  const auto& s = j["entries"][0]["samples"];
  EXPECT_EQ(s["test"], "mcnemar");
  EXPECT_EQ(s["rows"], 20);
  EXPECT_EQ(s["seeds"], nlohmann::json({0, 1, 2}));
  EXPECT_EQ(s["seed_bits"], nlohmann::json({0, 0, 1}));
  ASSERT_EQ(s["bits"].size(), 2u);
  // Rows 0..14 right: bytes ff 7f 00 (row i in bit i % 8 of byte i / 8).
  EXPECT_EQ(s["bits"][0], "/38A");
  EXPECT_EQ(s["bits"][1], "/n8A");  // and row 0 wrong: fe 7f 00
  EXPECT_EQ(s["row_ids"].get<std::string>().size(), 64u);
  // The same results check ok, in stat mode and without it.
  EXPECT_EQ(w.check(f).failures, 0);
  EXPECT_EQ(w.check(f, false).failures, 0);
}

TEST(StatGate, ManyFlippedRowsFailByMcNemar) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(400, 320));
  w.bless(f, 0.001);
  w.cells["a"] = same_seeds(flip(first(400, 320), 40, 5));
  CheckResult r = w.check(f);
  ASSERT_EQ(r.entries.size(), 1u);
  const CheckEntry& e = r.entries[0];
  EXPECT_EQ(r.failures, 1) << r.table_markdown;
  EXPECT_EQ(e.status, "regression");
  EXPECT_EQ(e.test, "mcnemar");
  EXPECT_EQ(e.worse_rows, 40);  // three identical seeds on both sides: one pair
  EXPECT_EQ(e.better_rows, 5);
  EXPECT_EQ(e.seed_pairs, 1);
  ASSERT_TRUE(e.p_value);
  EXPECT_LT(*e.p_value, 1e-6);
  EXPECT_TRUE(contains(e.message, "significant: McNemar p = ")) << e.message;
  EXPECT_TRUE(contains(r.table_markdown, "FAIL: regression (McNemar p = ")) << r.table_markdown;
}

TEST(StatGate, FewFlippedRowsBeyondTolerancePassOnlyUnderStat) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(1000, 800));
  w.cells["b"] = same_seeds(first(1000, 500));
  w.bless(f, 0.001);
  // 6 rows lost, 2 gained: 0.796, worse by 0.004 > 0.001; P(X >= 6 | 8) = 37/256.
  w.cells["a"] = same_seeds(flip(first(1000, 800), 6, 2));
  CheckResult exact = w.check(f, false);
  EXPECT_EQ(exact.failures, 1) << exact.table_markdown;
  EXPECT_EQ(exact.entries[0].test, "tolerance");
  CheckResult r = w.check(f);
  EXPECT_EQ(r.failures, 0) << r.table_markdown;
  const CheckEntry& e = r.entries[0];
  EXPECT_EQ(e.status, "not_significant");
  EXPECT_FALSE(e.failed);
  EXPECT_EQ(e.test, "mcnemar");
  ASSERT_TRUE(e.p_value);
  EXPECT_NEAR(*e.p_value, 37.0 / 256.0, 1e-12);
  EXPECT_EQ(e.message, "worse by 0.004, more than the 0.001 allowed, not significant: McNemar p = 0.14 "
                       "(6 rows worse, 2 better; 1 seed pair)");
  EXPECT_TRUE(contains(r.table_markdown, "ok: beyond tolerance, not significant (McNemar p = 0.14")) << r.table_markdown;
  EXPECT_EQ(r.entries[1].status, "ok");
  EXPECT_EQ(r.entries[1].test, "tolerance");
}

TEST(StatGate, DistinctSeedsArePooled) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  Fake a;
  a.row_ids = ids(200);
  for (int64_t s : {0, 1, 2}) a.seeds[s] = flip(first(200, 150), s, 0);  // three distinct seeds
  w.cells["a"] = a;
  w.bless(f, 0.001);
  Fake b = a;
  for (auto& [s, v] : b.seeds) v = flip(v, 4, 1);
  w.cells["a"] = b;
  CheckResult r = w.check(f);
  const CheckEntry& e = r.entries[0];
  EXPECT_EQ(e.seed_pairs, 3);
  EXPECT_EQ(e.worse_rows, 12);
  EXPECT_EQ(e.better_rows, 3);
  EXPECT_EQ(e.status, "regression") << e.message;  // P(X >= 12 | 15) = 576/32768
  EXPECT_NEAR(*e.p_value, 576.0 / 32768.0, 1e-12);
  // A seed the blessed runs lack does not take part.
  b.seeds[7] = first(200, 0);
  w.cells["a"] = b;
  EXPECT_EQ(w.check(f).entries[0].seed_pairs, 3);
}

TEST(StatGate, OtherMetricsUseTheBlessedBootstrapInterval) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.metric = "zsl/H";
  Fake a;
  a.row_ids = ids(50);
  a.seeds[0];
  a.interval = CellSamples::Interval{0.40, 0.50, 0.95, 1000, 0, 1};
  w.cells["a"] = a;
  w.bless(f, 0.01);
  auto j = nlohmann::json::parse(read_text(f));
  const auto& s = j["entries"][0]["samples"];
  EXPECT_EQ(s["test"], "bootstrap_interval");
  EXPECT_DOUBLE_EQ(s["lo"].get<double>(), 0.40);
  EXPECT_DOUBLE_EQ(s["hi"].get<double>(), 0.50);
  EXPECT_EQ(s["resamples"], 1000);
  EXPECT_EQ(s["seed"], 0);
  // 0.45 -> 0.42: beyond 0.01 but inside [0.40, 0.50]: passes; 0.38 fails.
  w.cells["a"].interval = CellSamples::Interval{0.42, 0.42, 0.95, 1000, 0, 1};
  CheckResult in = w.check(f);
  EXPECT_EQ(in.failures, 0) << in.table_markdown;
  EXPECT_EQ(in.entries[0].status, "not_significant");
  EXPECT_EQ(in.entries[0].test, "bootstrap_interval");
  EXPECT_TRUE(contains(in.entries[0].message, "inside the blessed 95 % bootstrap interval [0.4, 0.5]"))
      << in.entries[0].message;
  w.cells["a"].interval = CellSamples::Interval{0.38, 0.38, 0.95, 1000, 0, 1};
  CheckResult out = w.check(f);
  EXPECT_EQ(out.failures, 1) << out.table_markdown;
  EXPECT_TRUE(contains(out.entries[0].message, "significant: below the blessed 95 %")) << out.entries[0].message;
  ASSERT_TRUE(out.entries[0].interval_lo);
  EXPECT_DOUBLE_EQ(*out.entries[0].interval_lo, 0.40);
}

TEST(StatGate, MetricsNoTestAppliesToKeepTheirRowsAndTheTolerance) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.metric = "ret/R@1";
  Fake a;
  a.row_ids = ids(30);
  a.seeds[0];
  a.no_test = "items span several rows";
  a.fixed = 0.5;
  w.cells["a"] = a;
  w.bless(f, 0.01);
  const auto s = nlohmann::json::parse(read_text(f))["entries"][0]["samples"];
  EXPECT_EQ(s["test"], "none");
  EXPECT_EQ(s["reason"], "items span several rows");
  w.cells["a"].fixed = 0.45;
  CheckResult r = w.check(f);
  EXPECT_EQ(r.failures, 1) << r.table_markdown;
  EXPECT_EQ(r.entries[0].test, "tolerance");
  EXPECT_TRUE(contains(r.entries[0].message, "(no statistical test: items span several rows)")) << r.entries[0].message;
  w.cells["a"].row_ids.pop_back();
  EXPECT_TRUE(contains(error_of([&] { w.check(f); }), "row ids differ from the blessed ones"));
}

TEST(StatGate, OutputIsTheSameTwiceAndNamesTheTest) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(1000, 800));
  w.cells["b"] = same_seeds(first(1000, 600));
  w.bless(f, 0.001);
  const std::string blessed = read_text(f);
  w.bless(f, 0.001);
  EXPECT_EQ(read_text(f), blessed);
  w.cells["a"] = same_seeds(flip(first(1000, 800), 6, 2));
  w.cells["b"] = same_seeds(flip(first(1000, 600), 60, 2));
  CheckResult r1 = w.check(f), r2 = w.check(f);
  EXPECT_EQ(check_json(r1), check_json(r2));
  EXPECT_EQ(check_junit_xml(r1, "s"), check_junit_xml(r2, "s"));
  EXPECT_EQ(r1.table_markdown, r2.table_markdown);
  auto j = nlohmann::json::parse(check_json(r1));
  EXPECT_EQ(j["mode"], "stat");
  EXPECT_EQ(j["entries"][0]["test"], "mcnemar");
  EXPECT_EQ(j["entries"][0]["status"], "not_significant");
  EXPECT_EQ(j["entries"][0]["worse_rows"], 6);
  EXPECT_EQ(j["entries"][1]["status"], "regression");
  const std::string xml = check_junit_xml(r1, "s");
  EXPECT_TRUE(contains(xml, "<property name=\"mode\" value=\"stat\"/>")) << xml;
  EXPECT_TRUE(contains(xml, "decided by mcnemar")) << xml;
  EXPECT_EQ(nlohmann::json::parse(check_json(w.check(f, false)))["mode"], "exact");
}

TEST(StatGate, ErrorsNameTheFile) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(100, 80));
  // A baseline without evidence: exact mode works, --stat refuses.
  w.bless(f, 0.001, false);
  EXPECT_EQ(nlohmann::json::parse(read_text(f))["format"], "vlb-baseline/2");
  EXPECT_EQ(w.check(f, false).failures, 0);
  EXPECT_EQ(error_of([&] { w.check(f); }),
            "baseline " + f + " has no per-sample data: rebless with `vlb bless --stat`");
  // Evidence present; the new runs' rows differ.
  w.bless(f, 0.001);
  w.cells["a"].row_ids.back() += 1000;
  std::string msg = error_of([&] { w.check(f); });
  EXPECT_TRUE(contains(msg, "/runs/a/predictions.h5: row ids differ from the blessed ones of " + f +
                                " entries[0] (method 'a', dataset 'd', metric 'cls/top1')"))
      << msg;
  w.cells["a"] = same_seeds(first(99, 80));
  EXPECT_TRUE(contains(error_of([&] { w.check(f); }), "blessed 100 rows")) << error_of([&] { w.check(f); });
  // No seed in common.
  w.cells["a"] = same_seeds(first(100, 80), {5});
  msg = error_of([&] { w.check(f); });
  EXPECT_TRUE(contains(msg, f + ": entries[0].samples.seeds: no seed in common")) << msg;
  // A source that cannot read a run (no predictions.h5) stops the check.
  CheckOptions o;
  o.stat = true;
  o.samples = [](const std::string&, const std::string&, const std::string&, bool) -> CellSamples {
    throw DataError("/runs/a/predictions.h5", "", "no such file");
  };
  msg = error_of([&] { check_baseline(f, w.board(), o); });
  EXPECT_TRUE(contains(msg, "/runs/a/predictions.h5")) << msg;
  // A gated entry without evidence in a file that has some.
  w.cells["a"] = same_seeds(first(100, 80));
  auto j = nlohmann::json::parse(read_text(f));
  auto second = j["entries"][0];
  second["identity"]["method.name"] = "b";
  second.erase("samples");
  j["entries"].push_back(second);
  write_text(f, j.dump(2));
  w.cells["b"] = same_seeds(first(100, 80));
  msg = error_of([&] { w.check(f); });
  EXPECT_TRUE(contains(msg, "1 gated entry has no per-sample data: rebless with `vlb bless --stat`")) << msg;
  EXPECT_TRUE(contains(msg, "entries[1]: method 'b'")) << msg;
}

TEST(StatGate, MalformedSamplesAreLocated) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(20, 10));
  w.bless(f, 0.001);
  const auto good = nlohmann::json::parse(read_text(f));
  auto expect = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& where) {
    auto j = good;
    edit(j);
    write_text(f, j.dump());
    std::string msg = error_of([&] { w.check(f, false); });
    EXPECT_TRUE(contains(msg, where)) << where << ": " << msg;
  };
  expect([](auto& j) { j["format"] = "vlb-baseline/2"; }, "entries[0].samples: needs \"format\": \"vlb-baseline/3\"");
  expect([](auto& j) { j["entries"][0]["samples"]["bits"][0] = "/38"; }, "entries[0].samples.bits[0]: expected a base64");
  expect([](auto& j) { j["entries"][0]["samples"]["bits"][0] = "/38AAA=="; }, "entries[0].samples.bits[0]: holds 4 bytes");
  expect([](auto& j) { j["entries"][0]["samples"]["bits"][0] = "///w"; }, "padding bits beyond the last row");
  expect([](auto& j) { j["entries"][0]["samples"]["seed_bits"] = {0, 1, 0}; }, "entries[0].samples.seed_bits[1]");
  expect([](auto& j) { j["entries"][0]["samples"]["seeds"] = {1, 0, 2}; }, "entries[0].samples.seeds: must be distinct");
  expect([](auto& j) { j["entries"][0]["samples"]["lo"] = 0.1; }, "entries[0].samples.lo: unknown key");
  expect([](auto& j) { j["entries"][0]["samples"].erase("row_ids"); }, "entries[0].samples.row_ids: missing");
  expect([](auto& j) { j["entries"][0]["direction"] = "exact"; j["entries"][0].erase("abs_tol");
                       j["entries"][0].erase("rel_tol"); }, "an \"exact\" entry takes no per-sample data");
}

TEST(StatGate, PlainBlessRefreshesEvidenceAndMigrateKeepsIt) {
  TempDir t;
  const std::string f = t / "b.json";
  World w;
  w.cells["a"] = same_seeds(first(100, 80));
  w.bless(f, 0.001);
  w.cells["a"] = same_seeds(first(100, 70));
  w.bless(f, 0.001, false);  // the file holds evidence: it is rewritten with the new values
  EXPECT_EQ(w.check(f).failures, 0);
  auto j = nlohmann::json::parse(read_text(f));
  EXPECT_DOUBLE_EQ(j["entries"][0]["expected"].get<double>(), 0.7);
  // --migrate keeps expected values and the evidence that describes them, and reads nothing.
  const std::string before = read_text(f);
  w.calls = 0;
  BlessOptions m;
  m.migrate = true;
  m.samples = w.source();
  w.cells["a"] = same_seeds(first(100, 10));
  bless_baseline(f, w.board(), m);
  EXPECT_EQ(read_text(f), before);
  EXPECT_EQ(w.calls, 0);
  m.stat = true;
  EXPECT_THROW(bless_baseline(f, w.board(), m), Error);
}

// The p-values check --stat reports against scipy.stats.binomtest on the same discordant counts:
// one-sided ("greater": P(X >= worse)) for one-sided entries, two-sided for "both".
TEST(StatGate, McNemarAgreesWithScipyBinomtest) {
  const std::string py = test::system_python_with("scipy");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with scipy not found: binomtest comparison skipped";
  TempDir t;
  const std::string f = t / "b.json";
  struct Case { int64_t lose, gain; bool both; };
  const std::vector<Case> cases = {{6, 2, false}, {12, 3, false}, {40, 5, false}, {9, 9, false},
                                   {1, 0, false}, {30, 18, false}, {2, 7, false}, {15, 5, true},
                                   {11, 4, true}, {3, 3, true}, {120, 80, false}, {20, 4, true}};
  std::string script = "from scipy.stats import binomtest\n";
  std::vector<double> ours;
  std::vector<bool> ours_reject;
  for (const auto& c : cases) {
    World w;
    w.cells["a"] = same_seeds(first(1000, 500));
    std::filesystem::remove(f);
    w.bless(f, 0.0001);
    if (c.both) {
      auto j = nlohmann::json::parse(read_text(f));
      j["entries"][0]["direction"] = "both";
      write_text(f, j.dump());
    }
    w.cells["a"] = same_seeds(flip(first(1000, 500), c.lose, c.gain));
    CheckResult r = w.check(f);
    const CheckEntry& e = r.entries[0];
    const bool beyond = c.both ? c.lose != c.gain : c.lose > c.gain;
    if (!beyond) {
      EXPECT_EQ(e.test, "tolerance") << c.lose << "/" << c.gain;
      continue;
    }
    ASSERT_TRUE(e.p_value) << c.lose << "/" << c.gain << " " << e.message;
    const int64_t k = c.lose, n = c.lose + c.gain;
    script += "r = binomtest(" + std::to_string(k) + ", " + std::to_string(n) + ", 0.5, alternative='" +
              (c.both ? "two-sided" : "greater") + "').pvalue\nprint(repr(r), int(r < 0.05))\n";
    ours.push_back(*e.p_value);
    ours_reject.push_back(e.failed);
  }
  ASSERT_EQ(ours.size(), 9u);  // every case beyond tolerance in the bad direction
  const std::string pyfile = t / "binom.py";
  write_text(pyfile, script);
  auto res = run_command(py + " " + pyfile);
  ASSERT_EQ(res.exit_code, 0) << res.output;
  std::istringstream in(res.output);
  for (size_t i = 0; i < ours.size(); ++i) {
    double p = 0;
    int reject = 0;
    ASSERT_TRUE(in >> p >> reject) << res.output;
    EXPECT_NEAR(ours[i], p, 1e-12 * std::max(1.0, p)) << "case " << i;
    EXPECT_EQ(ours_reject[i], reject == 1) << "case " << i << ": p = " << p;
  }
}

}  // namespace
}  // namespace vlb
