#pragma once
// Regression gate: a checked-in baseline file compared with a leaderboard (`vlb check`), and
// rewritten from one (`vlb bless`). docs/ci.md says when to use which direction.
//
// Baseline file, format "vlb-baseline/2":
//   {"format": "vlb-baseline/2", "entries": [{"identity": {KEY: VALUE, ...}, "metric": M,
//     "expected": x, "direction": "higher_is_better"|"lower_is_better"|"both"|"exact",
//     "abs_tol": a, "rel_tol": r, "gate": true, "note": "...", "row": R, "column": C}]}
// An entry names a cell by its Identity (see report.h); "row"/"column" are the labels it had
// when blessed, for people. Files without "format" are the old format: entries name cells by
// their row and column labels alone; they are still read (with a warning) and
// `vlb bless --migrate` rewrites them with identities, keeping every expected value.
// "vlb-baseline/3" is the same with per-sample evidence: entries may hold "samples" (written by
// `vlb bless --stat`, read by `vlb check --stat`; see CellSamples below and docs/ci.md). A file
// without any "samples" is still written as "vlb-baseline/2".
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vlb/reports/report.h"

namespace vlb {

/// One setting that differs between a baseline entry and the nearest cell.
struct IdentityChange {
  std::string key, expected, actual;  // "<absent>" when one side lacks the key
};

struct CheckEntry {
  size_t index = 0;                    // position in the file's "entries"
  Identity identity;                   // empty for old-format entries
  std::string row, column, metric;     // labels of the matched cell (else the stored ones)
  double expected = 0.0;
  std::optional<double> actual;        // the cell's mean; nullopt when there is no cell
  double allowed = 0.0;
  bool gate = true;
  // ok | improved | regression | changed | params_changed | missing | nan | not_significant
  std::string status;
  bool failed = false;                 // counts towards CheckResult::failures
  std::string message;                 // one line: what happened and, for failures, why
  std::vector<IdentityChange> changes; // params_changed: keys that differ from the nearest cell
  // What decided the status: "tolerance" (the value against `allowed`, every entry without
  // --stat), or under --stat for a value beyond tolerance in the bad direction "mcnemar" (0/1
  // row-mean metrics) or "bootstrap_interval" (others). Status "not_significant": beyond the
  // tolerance but the test does not reject; it passes, with the test in `message`.
  std::string test = "tolerance";
  std::string test_detail;             // the test's outcome in words ("McNemar p = 0.31 (...)")
  std::optional<double> p_value;       // mcnemar: one-sided exact p (two-sided for "both")
  int64_t worse_rows = 0;              // mcnemar: discordant (seed, row) pairs against the entry,
  int64_t better_rows = 0;             // and for it, pooled over the distinct seed pairs
  int seed_pairs = 0;                  // mcnemar: distinct (blessed, new) seed pairs pooled
  std::optional<double> interval_lo, interval_hi;  // bootstrap_interval: the blessed interval
};

struct CheckResult {
  std::string baseline_file;
  bool stat = false;           // checked with --stat
  std::string table_markdown;  // expected, actual, delta, allowed, status per entry
  std::vector<CheckEntry> entries;
  int failures = 0;            // gated regressions, changes of two-sided entries, missing cells
  int improvements = 0;        // beyond tolerance in the good direction ("consider blessing")
  std::vector<std::string> warnings;  // bound entries, old format, damaged run directories
};

/// allowed = max(abs_tol, rel_tol * |expected|). A gated entry fails when the cell is missing or
/// NaN, or moved more than `allowed`: in the bad direction (higher_is_better, lower_is_better),
/// either way (both), or at all (exact: no tolerance allowed). `gate: false` entries only report
/// ("info"). A one-sided entry within `allowed` of its metric's bound in the bad direction (0 for
/// higher_is_better, 1 or 100 for lower_is_better) cannot fail: it is listed in `warnings`.
///
/// Identity entries match the cell with the same identity. When none has it, the nearest cell of
/// the same method.name, dataset.name and metric (fewest differing keys) is compared and the
/// entry fails as params_changed, listing the differing keys. When there is no such cell either:
/// a cell that is missing because run directories are damaged fails as "missing"; otherwise the
/// baseline refers to results that no longer exist, a DataError naming the file and each entry
/// (index, method, dataset, metric).
/// DataError (naming the file and e.g. "entries[2].expected") on a missing or malformed file.
CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb);

// ---- Per-sample evidence (`--stat`) ----
// Reports never read predictions: the CLI supplies a cell's evidence from its runs'
// predictions.h5 (vlb/experiments/gate_evidence.h) through a SampleSource.

/// One cell's per-sample evidence for one metric.
struct CellSamples {
  std::string file;               // a predictions.h5 of the cell, named in errors
  std::vector<int64_t> row_ids;   // evaluation rows in stored order (the same for every seed)
  std::vector<int64_t> seeds;     // runtime.seed of the cell's runs, ascending
  // 0/1 row-mean metrics (top-1/top-k correctness, per-sample group scores): the per-row values
  // of each distinct seed (seeds with equal values collapsed), and which one each seed has
  // (parallel to `seeds`). Both empty for other metrics.
  std::vector<std::vector<bool>> distinct;
  std::vector<int> seed_index;
  // Other metrics, when the source is asked for it (bless): the cell value's percentile
  // bootstrap interval and how it was drawn.
  struct Interval {
    double lo = 0, hi = 0, level = 0.95;
    int resamples = 0;
    uint64_t seed = 0;
    int effective_seeds = 0;
  };
  std::optional<Interval> interval;
  // Neither: why no test applies (a metric over items that span rows, a top-k file that cannot
  // recompute it); the entry keeps its rows and seeds and the tolerance decides.
  std::string no_test;
  bool zero_one() const { return !distinct.empty(); }
};

/// The evidence of `metric` in the cell (row, column) of the leaderboard being checked or
/// blessed; `with_interval` asks for the bootstrap interval of a metric that is not 0/1. Throws
/// DataError naming the file (a run without predictions.h5, row ids that differ between seeds).
using SampleSource = std::function<CellSamples(const std::string& row, const std::string& column,
                                               const std::string& metric, bool with_interval)>;

struct CheckOptions {
  bool stat = false;     // a regression beyond tolerance must also be significant
  SampleSource samples;  // required with stat
};

/// As above; with `stat`, every gated entry whose direction is not "exact" must hold "samples"
/// (else DataError: "baseline F has no per-sample data: rebless with `vlb bless --stat`"), and
/// each one's cell is loaded through `samples`, its row ids checked against the blessed ones
/// (count and hash; DataError naming the new predictions.h5 and the entry) and, when the value is
/// beyond tolerance in the bad direction, the test decides (Note [statistical gate] in
/// check.cpp): significant fails as "regression" ("changed" for "both"), else "not_significant"
/// passes with a note. The result depends on the files only: no random draw happens in check.
CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb,
                           const CheckOptions& opt);

/// JUnit XML: one <testsuite> named after the baseline, one <testcase> per entry; failed entries
/// carry <failure message="expected .. actual .. delta .. allowed ..">, info entries <skipped/>.
std::string check_junit_xml(const CheckResult& r, const std::string& suite_name);
/// {"baseline", "mode" ("exact" | "stat"), "failures", "improvements", "warnings", "entries":
/// [{index, identity, row, column, metric, expected, actual, delta, allowed, gate, status, failed,
/// message, changes, test, and by test: p_value, worse_rows, better_rows, seed_pairs (mcnemar);
/// interval: [lo, hi] (bootstrap_interval)}]}.
std::string check_json(const CheckResult& r);

struct BlessOptions {
  std::vector<std::string> metrics;  // for added entries; empty: every metric of the leaderboard
  bool add_missing = false;          // add entries for cells not in the file yet
  double abs_tol = 1e-6;             // tolerances of added entries
  double rel_tol = 0.0;
  bool set_existing_tolerances = false;  // also write abs_tol/rel_tol into existing entries
  bool migrate = false;              // write identities into old-format entries, keep `expected`
  bool accept_changed = false;       // re-point params_changed entries to their nearest cell
  // Store per-sample evidence ("samples") in every entry whose direction is not "exact", from
  // `samples`. A file that already holds evidence gets it rewritten on every bless (stale
  // evidence would judge new values against old predictions), so `samples` is then needed too.
  bool stat = false;
  SampleSource samples;
};

/// Rewrites expected values from `lb`, keeping tolerances, gates and notes, and writes every
/// entry with its cell's identity (the file becomes "vlb-baseline/2"). Refuses (Error, file left
/// unchanged) if an entry's cell is missing, or its parameters changed without accept_changed.
/// A missing baseline file is created (as if add_missing). New entries: the options'
/// tolerances, gate true, direction from lb, note "blessed YYYY-MM-DD" (UTC).
/// A gated one-sided entry (new or kept) whose expected value sits at its bound, as check_baseline
/// defines it, is written as "direction": "both"; the returned warnings name each one.
/// Evidence (stat, or a file that has some): 0/1 row-mean metrics keep the per-row values of
/// each distinct seed as packed bits, others the blessed cell's bootstrap interval; with migrate
/// existing evidence is kept as it is (so is `expected`), and stat is refused.
/// Writes atomically.
std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const BlessOptions& opt);
/// The same with default tolerances; `metrics` / `add_missing` as in BlessOptions.
std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const std::vector<std::string>& metrics, bool add_missing);

}  // namespace vlb
