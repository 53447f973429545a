#pragma once
// Cell formatting shared by every writer (Markdown, HTML, LaTeX): one definition, so the formats
// never disagree on a digit. Internal to vlb_reports.
#include <fmt/format.h>

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
