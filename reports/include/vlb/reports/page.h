#pragma once
// Report pages rendered from the same Leaderboard model as the Markdown/CSV/JSON writers:
// a self-contained HTML page (inline CSS, inline SVG, a few lines of inline script; no external
// request) and a booktabs LaTeX table.
#include <string>
#include <vector>

#include "vlb/reports/report.h"

namespace vlb {

// Note [paper values]: experiment specs have no key for published numbers (experiments/SPEC.md),
// so they come from a separate file given with `vlb report --paper FILE`.
/// A published number to compare with. `experiment` empty: any experiment; `metric` empty: the
/// leaderboard's primary metric. Values are in the metric's own unit (0.842, not 84.2).
struct PaperValue {
  std::string experiment, row, column, metric, source;
  double value = 0.0;
};
/// Reads a YAML (or JSON) file: `values: [{row: R, column: C, value: V, metric: M, source: S,
/// experiment: E}, ...]` (column may be omitted when the leaderboard has one unnamed column).
/// DataError naming the file and e.g. "values[2].value" on a missing or malformed entry.
std::vector<PaperValue> load_paper_values(const std::string& file);

/// The row label `wanted` names: an exact label, else the only label starting with it. "" means
/// the first row (baselines come first). Error listing the rows when none or several match.
std::string resolve_baseline_row(const Leaderboard& lb, const std::string& wanted);

/// Numeric swept axes of a leaderboard: varying column keys and method parameters (row keys)
/// whose every value parses as a number, with at least two distinct values.
std::vector<std::string> numeric_sweep_axes(const Leaderboard& lb);

struct HtmlPageOptions {
  std::string title = "vlbench report";
  std::string command;        // the command that regenerates the page, shown verbatim
  std::string baseline_row;   // see resolve_baseline_row
  std::vector<PaperValue> paper;
  std::string page_dir;       // links to run directories are made relative to it ("" = as given)
  std::string generated_at;   // shown in the header; "" = now (UTC)
  double confidence = 0.95;   // of the paired t-intervals
};

/// One page for one or several experiments. Error when a baseline row cannot be resolved.
std::string render_html_page(const std::vector<Leaderboard>& lbs, const HtmlPageOptions& opt);

/// Booktabs table of the primary metric (mean ± std, best per column in bold), with a Δ column
/// block against `baseline_row` when it is not "".
std::string render_latex(const Leaderboard& lb, const std::string& baseline_row = "");

}  // namespace vlb
