#pragma once
// Leaderboards built from run directories alone (results/<experiment>/<run_key>/): reports never
// link the runner, they read config.resolved.yaml, metrics.json and env.json.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
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
  std::map<std::string, double> aux;               // metrics.json "aux": method side outputs
  // env.json dataset.name, else config dataset.name, else the stem of a dataset path, else the
  // source name: never a path.
  std::string dataset_name;
  std::string dataset_fingerprint;                 // env.json dataset.fingerprint; "" when unknown
  bool stale = false;                              // not in .plan/current.json (see select_current)
  // metrics.json "selection" (runs of a spec with `select:`): the run's metrics on its selection
  // rows, a named split, or val_shots rows per class drawn from train_split `selection_split`.
  std::map<std::string, double> selection_metrics;
  std::map<std::string, bool> selection_higher_is_better;
  std::string selection_split;                     // "" when the run has no selection block
  int64_t selection_val_shots = 0;                 // > 0: K-shot validation rows from the split
  int64_t selection_rows = -1;
  // Set on the runs apply_selection keeps (selection.h): the params selected over and their
  // values in this run ("method.params.l2" -> "0.0001"), taken out of `config` for the pivot.
  std::map<std::string, std::string> selected;
  bool selection_applied = false;
};

/// A run directory whose files do not parse: reported, and left out of every table.
struct DamagedRun {
  std::string dir, file, message;
};

/// What a cell is, independent of where the data lives and of how labels are drawn: experiment,
/// method.name, every method.params.* key, ablation, dataset.name, dataset.fingerprint and the
/// other dataset.* settings (shots, splits, source, params). runtime.* (threads, seed,
/// predictions) and paths are never part of it. Values are the config's scalar text.
using Identity = std::map<std::string, std::string>;

/// Keys whose values are file system locations (…path, …file, …dir) or values that look like one
/// (absolute, ./, ../, ~/, or a '/' with a file extension): left out of identities and labels.
bool is_path_setting(const std::string& key, const std::string& value);
Identity run_identity(const RunRecord& r);

/// Reads every run directory below `experiment_dir` (skips temp dirs). DataError on a malformed one.
/// Entries whose name starts with "." are skipped (temp dirs, caches), as are plain files; any
/// other directory must hold metrics.json and config.resolved.yaml. Sorted by plan_index, run_key.
/// Config values are flattened to dotted keys: maps nest ("dataset.params.spread" -> "0.4"),
/// lists render as "[top1, top5]", null as "".
/// With `damaged`, a run directory whose metrics.json, config.resolved.yaml or env.json does not
/// parse, or whose config lacks experiment, method.name or runtime.seed (a truncated file), is
/// recorded there and skipped instead of raising DataError.
std::vector<RunRecord> load_runs(const std::string& experiment_dir,
                                 std::vector<DamagedRun>* damaged = nullptr);

/// Which runs belong to the current plan (<experiment_dir>/.plan/current.json). Without that file
/// every run is current.
struct RunSelection {
  bool have_plan = false;
  int current = 0;      // runs in the plan
  int stale = 0;        // runs not in it (ok or failed)
  int stale_kept = 0;   // of those, kept (marked RunRecord::stale) because keep_stale
};
/// Marks runs not in the current plan stale, and removes them unless `keep_stale`.
RunSelection select_current(std::vector<RunRecord>& runs, const std::string& experiment_dir,
                            bool keep_stale);

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
/// A percentile bootstrap interval of one cell, from per-sample predictions (metric units).
struct CellInterval {
  double lo = 0.0, hi = 0.0;
  int resamples = 0;
  int effective_seeds = 0;  // distinct seeds (runs with identical predictions count once)
  bool valid = false;
  std::string note;         // why there is no interval ("no per-sample predictions: ...")
};
/// A cell against the baseline row of its column, from a paired per-sample test.
struct CellComparison {
  std::string test;         // "mcnemar" | "paired bootstrap" | "" (no test: see note)
  double diff = 0.0;        // cell - baseline, metric units
  double lo = 0.0, hi = 0.0;  // percentile bootstrap interval of diff
  double p = 1.0;
  double p_holm = 1.0;      // Holm-adjusted over the metric's table (every row x column)
  std::string mark;         // "▲" | "▼" | "≈" | "" (no test)
  std::string note;         // "seeds identical: effective n = 1", "no per-sample predictions: no test"
  bool seeds_identical = false;
  int effective_seeds = 0;
  int seeds = 0;
  int64_t rows = 0;         // evaluation rows per seed
};
/// The settings the intervals and tests were computed with (resamples == 0: none were).
struct SampleStatsSettings {
  int resamples = 0;
  uint64_t seed = 0;
  double level = 0.95;
  double alpha = 0.05;      // Holm-adjusted p below this marks ▲/▼
  std::string baseline_row;
};
/// The model selection behind a leaderboard (experiments/SPEC.md "Model selection"; selection.h).
struct SelectionInfo {
  std::string protocol;             // "cls/top1 on val over l2"; "" when no run was selected
  std::string metric;               // the selection metric ("cls/top1")
  std::string eval_split;           // where the cells' values come from ("test")
  bool every_configuration = false; // no selection, and method params name rows
  int candidates = 0;               // ok runs of selected specs, before selection
  int dropped = 0;                  // of those, not selected (in no cell)
  // row -> where its runs were selected ("val", "4-shot validation from train"; "K-shot
  // validation from train (K = dataset.shots)" when K varies by column); rows whose method had
  // nothing to select over are not listed. cell_where: the same per row and column.
  std::map<std::string, std::string> row_where;
  std::map<std::string, std::map<std::string, std::string>> cell_where;
  // row -> column -> seed -> selected-over param (short name) -> the value chosen
  std::map<std::string,
           std::map<std::string, std::map<int64_t, std::map<std::string, std::string>>>>
      chosen;
  // metric -> row -> column -> the selected runs' values on their selection rows, over seeds
  std::map<std::string, std::map<std::string, std::map<std::string, Cell>>> selection_cells;
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

  // ---- Identities, provenance and side outputs ----
  // row -> column -> identity of the cell (the run_identity its runs share; checks match on it).
  std::map<std::string, std::map<std::string, Identity>> identity;
  std::set<std::string> stale_rows;        // rows of runs not in the current plan (--all)
  int stale_runs = 0;                      // stale runs shown (ok or failed)
  int stale_left_out = 0;                  // runs not in the current plan left out (set by callers)
  std::vector<DamagedRun> damaged;         // set by callers that load with `damaged`
  std::map<std::string, std::string> dataset_paths;  // dataset name -> path or source (details)
  // aux name -> row -> column -> mean over seeds of metrics.json "aux" values.
  std::map<std::string, std::map<std::string, std::map<std::string, Cell>>> aux;
  struct Run {
    std::string row, column;
    RunRecord record;
  };
  std::vector<Run> runs;                   // every ok run, in plan order (tidy export)

  // ---- Per-sample statistics (filled by the experiments side from predictions.h5) ----
  // metric -> row -> column -> interval / comparison with the baseline row; empty when not computed.
  std::map<std::string, std::map<std::string, std::map<std::string, CellInterval>>> intervals;
  std::map<std::string, std::map<std::string, std::map<std::string, CellComparison>>> comparisons;
  SampleStatsSettings sample_stats;
  SelectionInfo selection;                 // set by build_leaderboard (selection.h)
};

/// Varying keys exclude runtime.seed (aggregated into cells) and everything under "experiment".
/// Primary metric: `primary_metric` if given (Error if no ok run has it), else "cls/top1" when
/// present, else the alphabetically first metric. Error if ok runs disagree on a direction.
/// The cell of (metric, row, column), or nullptr when the leaderboard has none.
const Cell* find_cell(const Leaderboard& lb, const std::string& metric, const std::string& row,
                      const std::string& column);

/// Applies the runs' model selection first (apply_selection, selection.h): only the selected runs
/// reach the cells, run_dirs and runs.
Leaderboard build_leaderboard(const std::vector<RunRecord>& runs, const std::string& experiment,
                              const std::string& primary_metric = "");

/// Metric names of `lb` in display order: the primary metric first, then alphabetical.
std::vector<std::string> metric_order(const Leaderboard& lb);

/// Row labels get this suffix for runs outside the current plan.
inline constexpr const char* kStaleMarker = " (stale)";

/// A report writer turns a leaderboard into one file format (markdown, csv, json, ...).
/// Writers take Params: markdown reads "aux" (bool, default false: a table per aux value).
class ReportWriter {
 public:
  virtual ~ReportWriter() = default;
  virtual std::string extension() const = 0;  // "md"
  virtual std::string render(const Leaderboard& lb) const = 0;
};
using ReportWriterRegistry = Registry<ReportWriter>;
void register_builtin_writers(ReportWriterRegistry& reg);  // markdown, csv, json, latex, tidy, tidy-jsonl


}  // namespace vlb

#include "vlb/reports/gate.h"  // the regression gate (check, bless) over these leaderboards
