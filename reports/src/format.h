#pragma once
// Cell formatting shared by every writer (Markdown, HTML, LaTeX): one definition, so the formats
// never disagree on a digit. Internal to vlb_reports.
#include <fmt/format.h>

#include <map>
#include <string>

#include "vlb/reports/report.h"

namespace vlb::report_format {

inline bool higher_better(const Leaderboard& lb, const std::string& metric) {
  auto it = lb.higher_is_better.find(metric);
  return it == lb.higher_is_better.end() ? true : it->second;
}

// Metrics whose every mean lies in [0, 1] are fractions (accuracies, recalls): shown as percent.
// Anything else (losses, ranks) is shown as is, so a table never multiplies a rank by 100.
inline bool as_percent(const Leaderboard& lb, const std::string& metric) {
  auto m = lb.cells.find(metric);
  if (m == lb.cells.end()) return false;
  for (const auto& [row, by_col] : m->second)
    for (const auto& [col, c] : by_col)
      if (c.mean < 0.0 || c.mean > 1.0) return false;
  return true;
}

// What a mean is multiplied by for display (and for the differences shown next to it).
inline double scale_of(const Leaderboard& lb, const std::string& metric) {
  return as_percent(lb, metric) ? 100.0 : 1.0;
}

inline std::string fmt_cell(const Cell& c, bool percent, bool with_n) {
  std::string s = percent ? fmt::format("{:.2f} ± {:.2f}", 100.0 * c.mean, 100.0 * c.std)
                          : fmt::format("{:.4g} ± {:.2g}", c.mean, c.std);
  if (with_n) s += fmt::format(" (n={})", c.n);
  return s;
}

template <class T>
const T* find_in(const std::map<std::string, std::map<std::string, std::map<std::string, T>>>& m,
                 const std::string& metric, const std::string& row, const std::string& col) {
  auto a = m.find(metric);
  if (a == m.end()) return nullptr;
  auto b = a->second.find(row);
  if (b == a->second.end()) return nullptr;
  auto c = b->second.find(col);
  return c == b->second.end() ? nullptr : &c->second;
}
inline const CellInterval* find_interval(const Leaderboard& lb, const std::string& metric,
                                         const std::string& row, const std::string& col) {
  return find_in(lb.intervals, metric, row, col);
}
inline const CellComparison* find_comparison(const Leaderboard& lb, const std::string& metric,
                                             const std::string& row, const std::string& col) {
  return find_in(lb.comparisons, metric, row, col);
}

/// " [60.10, 62.31]": the cell's bootstrap interval in the cell's units; "" when there is none.
inline std::string fmt_interval(const Leaderboard& lb, const std::string& metric,
                                const std::string& row, const std::string& col, bool percent) {
  const CellInterval* iv = find_interval(lb, metric, row, col);
  if (!iv || !iv->valid) return "";
  return percent ? fmt::format(" [{:.2f}, {:.2f}]", 100.0 * iv->lo, 100.0 * iv->hi)
                 : fmt::format(" [{:.4g}, {:.4g}]", iv->lo, iv->hi);
}

/// The cell text with its interval before the seed count: "61.23 ± 0.45 [60.10, 62.31] (n=3)".
inline std::string fmt_cell_ci(const Leaderboard& lb, const std::string& metric,
                               const std::string& row, const std::string& col, const Cell& c,
                               bool percent, bool with_n) {
  std::string s = fmt_cell(c, percent, false) + fmt_interval(lb, metric, row, col, percent);
  if (with_n) s += fmt::format(" (n={})", c.n);
  return s;
}

/// A difference in the metric's display units: "+0.18 pts" for percentages, "+0.0018" otherwise.
inline std::string fmt_delta(double d, bool percent) {
  return percent ? fmt::format("{:+.2f} pts", 100.0 * d) : fmt::format("{:+.4g}", d);
}
inline std::string fmt_range(double lo, double hi, bool percent) {
  return percent ? fmt::format("[{:+.2f}, {:+.2f}] pts", 100.0 * lo, 100.0 * hi)
                 : fmt::format("[{:+.4g}, {:+.4g}]", lo, hi);
}

/// One line for a title attribute: test, Δ and its interval, p and Holm p, rows, seeds.
inline std::string comparison_tooltip(const Leaderboard& lb, const CellComparison& c, bool percent) {
  if (c.test.empty()) return c.note;
  const SampleStatsSettings& st = lb.sample_stats;
  std::string s = fmt::format("{} vs {}: Δ {}, {:.0f} % interval {}, p = {:.3g}, Holm p = {:.3g}, "
                              "{} rows, effective seeds {} of {}",
                              c.test, st.baseline_row, fmt_delta(c.diff, percent), 100.0 * st.level,
                              fmt_range(c.lo, c.hi, percent), c.p, c.p_holm, c.rows,
                              c.effective_seeds, c.seeds);
  if (!c.note.empty()) s += " (" + c.note + ")";
  return s;
}

/// "1,000"
inline std::string thousands(int64_t v) {
  std::string d = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return (v < 0 ? "-" : "") + out;
}

/// The legend under a table with intervals and marks; "" when none were computed.
inline std::string stats_legend(const Leaderboard& lb) {
  const SampleStatsSettings& st = lb.sample_stats;
  if (st.resamples <= 0) return "";
  return fmt::format("{:.0f} % percentile bootstrap over rows (and seeds), {} resamples; ▲/▼: "
                     "Holm-corrected paired test at {:.0f} % against {}",
                     100.0 * st.level, thousands(st.resamples), 100.0 * st.alpha, st.baseline_row);
}

/// What the legend of `metric`'s table adds: cells without an interval or test and why ("4 cells:
/// no per-sample predictions: no test."), and cells whose seeds are identical ("2 cells: seeds
/// identical: effective n = 1."). "" for metric "" or when there is nothing to say.
inline std::string stats_remarks(const Leaderboard& lb, const std::string& metric) {
  std::map<std::string, int> missing, identical;
  auto m = lb.intervals.find(metric);
  if (m != lb.intervals.end())
    for (const auto& [row, by_col] : m->second)
      for (const auto& [col, iv] : by_col) {
        if (!iv.valid && !iv.note.empty()) ++missing[iv.note];
        if (iv.valid && !iv.note.empty()) ++identical[iv.note];
      }
  std::string s;
  for (const auto& [why, n] : missing) s += fmt::format(" {} cell{}: {}.", n, n == 1 ? "" : "s", why);
  for (const auto& [what, n] : identical) s += fmt::format(" {} cell{}: {}.", n, n == 1 ? "" : "s", what);
  return s;
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled.
inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

inline std::string column_title(const std::string& col) { return col.empty() ? "result" : col; }

inline std::string metric_title(const Leaderboard& lb, const std::string& metric) {
  return metric + (as_percent(lb, metric) ? " (%)" : "");
}

/// Best mean in one column of one metric, respecting its direction; false if < 2 cells or all
/// cells are equal (bolding then says nothing).
inline bool best_in_column(const Leaderboard& lb, const std::string& metric, const std::string& col,
                    double& best) {
  bool hib = higher_better(lb, metric);
  int count = 0;
  bool all_equal = true;
  for (const auto& row : lb.rows) {
    const Cell* c = find_cell(lb, metric, row, col);
    if (!c) continue;
    if (count > 0 && c->mean != best) all_equal = false;
    if (count == 0 || (hib ? c->mean > best : c->mean < best)) best = c->mean;
    ++count;
  }
  return count >= 2 && !all_equal;
}

}  // namespace vlb::report_format

namespace vlb {
/// tidy (leaderboard.tidy.csv) and tidy-jsonl (leaderboard.tidy.jsonl): tidy.cpp.
void register_tidy_writers(ReportWriterRegistry& reg);
}  // namespace vlb
