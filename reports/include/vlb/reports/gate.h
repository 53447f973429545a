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
  // ok | improved | regression | changed | params_changed | missing | nan
  std::string status;
  bool failed = false;                 // counts towards CheckResult::failures
  std::string message;                 // one line: what happened and, for failures, why
  std::vector<IdentityChange> changes; // params_changed: keys that differ from the nearest cell
};

struct CheckResult {
  std::string baseline_file;
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

/// JUnit XML: one <testsuite> named after the baseline, one <testcase> per entry; failed entries
/// carry <failure message="expected .. actual .. delta .. allowed ..">, info entries <skipped/>.
std::string check_junit_xml(const CheckResult& r, const std::string& suite_name);
/// {"baseline", "failures", "improvements", "warnings", "entries": [{index, identity, row,
/// column, metric, expected, actual, delta, allowed, gate, status, failed, message, changes}]}.
std::string check_json(const CheckResult& r);

struct BlessOptions {
  std::vector<std::string> metrics;  // for added entries; empty: every metric of the leaderboard
  bool add_missing = false;          // add entries for cells not in the file yet
  double abs_tol = 1e-6;             // tolerances of added entries
  double rel_tol = 0.0;
  bool set_existing_tolerances = false;  // also write abs_tol/rel_tol into existing entries
  bool migrate = false;              // write identities into old-format entries, keep `expected`
  bool accept_changed = false;       // re-point params_changed entries to their nearest cell
};

/// Rewrites expected values from `lb`, keeping tolerances, gates and notes, and writes every
/// entry with its cell's identity (the file becomes "vlb-baseline/2"). Refuses (Error, file left
/// unchanged) if an entry's cell is missing, or its parameters changed without accept_changed.
/// A missing baseline file is created (as if add_missing). New entries: the options'
/// tolerances, gate true, direction from lb, note "blessed YYYY-MM-DD" (UTC).
/// A gated one-sided entry (new or kept) whose expected value sits at its bound, as check_baseline
/// defines it, is written as "direction": "both"; the returned warnings name each one.
/// Writes atomically.
std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const BlessOptions& opt);
/// The same with default tolerances; `metrics` / `add_missing` as in BlessOptions.
std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const std::vector<std::string>& metrics, bool add_missing);

}  // namespace vlb
