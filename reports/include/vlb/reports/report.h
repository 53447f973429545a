#pragma once
// Leaderboards built from run directories alone (results/<experiment>/<run_key>/): reports never
// link the runner, they read config.resolved.yaml, metrics.json and env.json.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/core/registry.h"

namespace vlb {

/// One completed or failed run, as read back from its directory.
struct RunRecord {
  std::string dir;                                 // results/<exp>/<key>
  std::string run_key;
  std::string status;                              // "ok" | "failed"
  std::string error;                               // for failed runs
  std::string method;                              // method.name
  std::string ablation;                            // "" when none
  int64_t seed = 0;
  std::map<std::string, std::string> config;       // flattened dotted keys -> scalar text
  std::map<std::string, double> metrics;           // "cls/top1" -> value
  std::map<std::string, bool> higher_is_better;
  int64_t plan_index = -1;                         // position in the expanded plan (row order)
  int64_t n_eval = -1;                             // -1 when metrics.json does not say
  // env.json flattened to dotted keys ("dataset.fingerprint", "torch_version"); empty when the
  // run directory has no env.json (older runs). Values are JSON scalars as text (strings unquoted).
  std::map<std::string, std::string> env;
  double wall_seconds = -1.0;                      // env.json wall_seconds; -1 when absent
};

/// Reads every run directory below `experiment_dir` (skips temp dirs). DataError on a malformed one.
/// Entries whose name starts with "." are skipped (temp dirs, caches), as are plain files; any
/// other directory must hold metrics.json and config.resolved.yaml. Sorted by plan_index, run_key.
/// Config values are flattened to dotted keys: maps nest ("dataset.params.spread" -> "0.4"),
/// lists render as "[top1, top5]", null as "".
std::vector<RunRecord> load_runs(const std::string& experiment_dir);

/// What the ok runs of an experiment say about where they ran (from env.json). Sets hold the
/// distinct values: more than one git SHA or thread count is worth seeing in a report header.
struct EnvSummary {
  std::vector<std::string> git_shas;               // distinct, sorted
  bool any_dirty = false;                          // some run had uncommitted changes
  std::map<std::string, std::string> versions;     // "vlb", "torch", "hdf5", "compiler" -> "a, b"
  std::vector<std::string> threads;                // distinct runtime thread counts
  std::vector<std::string> cpu_models;
  std::map<std::string, std::string> datasets;     // dataset path or source -> fingerprint
  std::string first_started, last_started;         // ISO-8601 UTC, "" when unknown
  double total_wall_seconds = 0.0;
};

/// One leaderboard row: runs that differ only by seed.
struct Cell {
  double mean = 0.0;
  double std = 0.0;  // sample std (n-1); 0 when n == 1
  int n = 0;
};
struct Leaderboard {
  std::string experiment;
  std::string primary_metric;
  std::vector<std::string> row_keys;     // varying keys that name a row (method.*, ablation)
  std::vector<std::string> column_keys;  // varying keys that name a column (dataset.*, ...)
  std::vector<std::string> rows;         // row labels, baselines first, in a stable order
  std::vector<std::string> columns;      // column labels ("" when nothing varies)
  // metric -> row -> column -> cell
  std::map<std::string, std::map<std::string, std::map<std::string, Cell>>> cells;
  std::map<std::string, bool> higher_is_better;
  int failed_runs = 0;
  int ok_runs = 0;
  std::vector<int64_t> seeds;              // distinct runtime.seed values of ok runs, sorted
  std::vector<std::string> failures;       // "<run dir name>: <error>" per failed run

  // ---- Detail kept for paired tests, plots and links (HTML/LaTeX pages) ----
  // metric -> row -> column -> seed -> value (the values each Cell aggregates).
  std::map<std::string,
           std::map<std::string, std::map<std::string, std::map<int64_t, double>>>>
      seed_values;
  // row -> column -> wall seconds over seeds (runs without env.json wall_seconds are left out).
  std::map<std::string, std::map<std::string, Cell>> wall_seconds;
  // row -> column -> run directories (as load_runs names them), in run (plan) order.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> run_dirs;
  // Values of the varying keys that name each label: row -> {row key -> value},
  // column -> {column key -> value}. A key absent from a run has the value "<absent>".
  std::map<std::string, std::map<std::string, std::string>> row_config;
  std::map<std::string, std::map<std::string, std::string>> column_config;
  EnvSummary env;
};

/// Varying keys exclude runtime.seed (aggregated into cells) and everything under "experiment".
/// Primary metric: `primary_metric` if given (Error if no ok run has it), else "cls/top1" when
/// present, else the alphabetically first metric. Error if ok runs disagree on a direction.
/// The cell of (metric, row, column), or nullptr when the leaderboard has none.
const Cell* find_cell(const Leaderboard& lb, const std::string& metric, const std::string& row,
                      const std::string& column);

Leaderboard build_leaderboard(const std::vector<RunRecord>& runs, const std::string& experiment,
                              const std::string& primary_metric = "");

/// Metric names of `lb` in display order: the primary metric first, then alphabetical.
std::vector<std::string> metric_order(const Leaderboard& lb);

/// A report writer turns a leaderboard into one file format (markdown, csv, json, ...).
class ReportWriter {
 public:
  virtual ~ReportWriter() = default;
  virtual std::string extension() const = 0;  // "md"
  virtual std::string render(const Leaderboard& lb) const = 0;
};
using ReportWriterRegistry = Registry<ReportWriter>;
void register_builtin_writers(ReportWriterRegistry& reg);  // markdown, csv, json, latex

// ---- Regression gate --------------------------------------------------------------------------
// Baseline file: {"entries": [{"row": ROW, "column": COL, "metric": M, "expected": x,
//   "direction": "higher_is_better"|"lower_is_better"|"both"|"exact", "abs_tol": a, "rel_tol": r,
//   "gate": true, "note": "..."}]}. A row/column pair names a leaderboard cell (mean over seeds).
// docs/ci.md says when to use which direction.

struct CheckResult {
  std::string table_markdown;  // expected, actual, delta, allowed, status per entry
  int failures = 0;            // gated regressions, changes of two-sided entries, missing cells
  int improvements = 0;        // beyond tolerance in the good direction ("consider blessing")
  std::vector<std::string> warnings;  // gated one-sided entries that sit at a bound (cannot fail)
};

/// allowed = max(abs_tol, rel_tol * |expected|). A gated entry fails when the cell is missing or
/// NaN, or moved more than `allowed`: in the bad direction (higher_is_better, lower_is_better),
/// either way (both), or at all (exact: no tolerance allowed). `gate: false` entries only report
/// ("info"). A one-sided entry within `allowed` of its metric's bound in the bad direction (0 for
/// higher_is_better, 1 or 100 for lower_is_better) cannot fail: it is listed in `warnings`.
/// DataError (naming the file and e.g. "entries[2].expected") on a missing or malformed file.
CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb);

/// Rewrites expected values from `lb`, keeping tolerances, gates and notes; adds entries for new
/// cells of `metrics` when `add_missing`. Refuses (Error) if an entry's cell is missing in `lb`.
/// Writes atomically.
/// An empty `metrics` means every metric of `lb`; a named metric absent from `lb` is an Error.
/// A missing baseline file is created (as if add_missing). New entries: abs_tol 1e-6, rel_tol 0,
/// gate true, direction from lb, note "blessed YYYY-MM-DD" (UTC).
/// A gated one-sided entry (new or kept) whose expected value sits at its bound, as check_baseline
/// defines it, is written as "direction": "both"; the returned warnings name each one.
std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const std::vector<std::string>& metrics, bool add_missing);

}  // namespace vlb
