// The report page's plots: metric vs each swept axis (one panel per dataset), bars per column,
// cost scatters. Labels are shortened for plots; the tables keep the full ones.
#include "vlb/reports/plots.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "format.h"
#include "vlb/reports/page.h"
#include "vlb/reports/svg.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using namespace report_format;

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

std::string last_component(const std::string& key) { return key.substr(key.rfind('.') + 1); }

/// A short label for plots: "path=data/clip_b32/dtd.h5" -> "dtd" (the tables keep full labels).
std::string plot_label(const std::string& label) {
  if (label.find('/') == std::string::npos) return column_title(label);
  std::string out;
  size_t start = 0;
  while (start <= label.size()) {
    size_t end = label.find(", ", start);
    std::string part = label.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t eq = part.find('=');
    std::string value = eq == std::string::npos ? part : part.substr(eq + 1);
    if (value.find('/') != std::string::npos) part = fs::path(value).stem().string();
    out += (out.empty() ? "" : ", ") + part;
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return out;
}

const std::map<std::string, std::string>& config_of(const Leaderboard& lb, const std::string& col) {
  static const std::map<std::string, std::string> none;
  auto it = lb.column_config.find(col);
  return it == lb.column_config.end() ? none : it->second;
}

/// "dtd" or "dtd, spread=0.4": the values of `keys` in a column, the dataset by its name alone.
std::string describe(const std::map<std::string, std::string>& cfg, const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) {
    auto it = cfg.find(k);
    std::string v = it == cfg.end() ? "" : it->second;
    s += (s.empty() ? "" : ", ") + (k == "dataset.name" ? v : last_component(k) + "=" + v);
  }
  return plot_label(s);
}

/// Columns grouped by their values of `keys`, in column order.
struct Facet {
  std::string title;
  std::vector<std::string> columns;
};
std::vector<Facet> facets_by(const Leaderboard& lb, const std::vector<std::string>& keys) {
  std::vector<Facet> out;
  for (const auto& col : lb.columns) {
    std::string title = keys.empty() ? "" : describe(config_of(lb, col), keys);
    auto it = std::find_if(out.begin(), out.end(), [&](const Facet& f) { return f.title == title; });
    if (it == out.end()) out.push_back({title, {col}});
    else it->columns.push_back(col);
  }
  return out;
}

// Note [interval bands]: where the report computed per-sample bootstrap intervals (vlb report
// with resamples > 0), bands show them: a cell whose interval is not valid (no stored
// predictions, say) gets no band rather than a seed std that would read as the same thing.
// When no cell has a valid interval (no run stored predictions), the seed std is all there is.
using IntervalMap = std::map<std::string, std::map<std::string, CellInterval>>;  // row -> col
const IntervalMap* intervals_of(const Leaderboard& lb) {
  auto it = lb.intervals.find(lb.primary_metric);
  if (it == lb.intervals.end()) return nullptr;
  for (const auto& [row, by_col] : it->second)
    for (const auto& [col, ci] : by_col)
      if (ci.valid) return &it->second;
  return nullptr;
}

/// The band of one cell in metric units, NaN when it has none.
std::pair<double, double> band_of(const Leaderboard& lb, const PlotBands& b, const std::string& row,
                                  const std::string& col, const Cell& c) {
  const double nan = std::nan("");
  if (b.kind == PlotBands::Kind::kSeedStd)
    return c.n > 1 ? std::make_pair(c.mean - c.std, c.mean + c.std) : std::make_pair(nan, nan);
  const IntervalMap* m = intervals_of(lb);
  if (!m) return {nan, nan};
  auto r = m->find(row);
  if (r == m->end()) return {nan, nan};
  auto i = r->second.find(col);
  if (i == r->second.end() || !i->second.valid) return {nan, nan};
  return {i->second.lo, i->second.hi};
}

void add_point(svg::Series& s, double x, double sc, const Leaderboard& lb, const PlotBands& b,
               const std::string& row, const std::string& col, const Cell& c) {
  auto [lo, hi] = band_of(lb, b, row, col, c);
  s.x.push_back(x);
  s.y.push_back(sc * c.mean);
  s.lo.push_back(sc * lo);
  s.hi.push_back(sc * hi);
}

/// How an axis is drawn: logarithmic for shots (each doubling the same step) and for positive
/// axes spanning >= 8x; ticks at the swept values where there are few (always for shots).
struct AxisStyle {
  bool log = false;
  std::vector<double> ticks;
  std::string label;
};
AxisStyle axis_style(const std::string& axis, const std::vector<double>& xs) {
  std::set<double> d(xs.begin(), xs.end());
  const bool shots = last_component(axis) == "shots";
  AxisStyle a;
  a.log = *d.begin() > 0 && (shots || *d.rbegin() / *d.begin() >= 8.0);
  if (shots || (a.log && d.size() <= 12)) a.ticks.assign(d.begin(), d.end());
  a.label = (shots ? std::string("shots per class") : axis) + (a.log ? " (log scale)" : "");
  return a;
}

bool any_band(const std::vector<svg::Series>& series) {
  for (const auto& s : series)
    for (size_t i = 0; i < s.lo.size(); ++i)
      if (std::isfinite(s.lo[i]) && std::isfinite(s.hi[i])) return true;
  return false;
}

/// One figure from panels: a plain line plot when there is one, small multiples otherwise. The
/// legend names the bands only when some are drawn.
std::string figure(const std::string& title, const std::string& y_label, const AxisStyle& ax,
                   const PlotBands& bands, std::vector<svg::FacetPlot::Panel> panels) {
  bool banded = false;
  for (const auto& p : panels) banded = banded || any_band(p.series);
  const std::string band_label = banded ? "band: " + bands.label : "";
  if (panels.size() == 1) {
    svg::LinePlot p;
    p.title = title + (panels[0].title.empty() ? "" : " · " + panels[0].title);
    p.x_label = ax.label;
    p.y_label = y_label;
    p.x_log = ax.log;
    p.x_ticks = ax.ticks;
    p.band_label = band_label;
    p.series = std::move(panels[0].series);
    return svg::render(p, 620, 340);
  }
  svg::FacetPlot p;
  p.title = title + ", one panel each";
  p.x_label = ax.label;
  p.y_label = y_label;
  p.x_log = ax.log;
  p.x_ticks = ax.ticks;
  p.band_label = band_label;
  p.panels = std::move(panels);
  p.columns = p.panels.size() == 4 ? 2 : 3;  // 340 px panels: three fit a page row
  return svg::render(p, 340, 250);
}

}  // namespace

PlotBands plot_bands(const Leaderboard& lb) {
  PlotBands b;
  if (intervals_of(lb)) {
    b.kind = PlotBands::Kind::kInterval;
    b.label = fmt::format("{:.0f}% bootstrap CI", 100 * lb.sample_stats.level);
  } else {
    b.label = "± std over seeds";
  }
  return b;
}

std::vector<std::string> sweep_plots(const Leaderboard& lb) {
  std::vector<std::string> out;
  const std::string& pm = lb.primary_metric;
  const double sc = scale_of(lb, pm);
  const std::string ylabel = metric_title(lb, pm);
  const PlotBands bands = plot_bands(lb);
  const bool datasets_vary =
      std::find(lb.column_keys.begin(), lb.column_keys.end(), "dataset.name") != lb.column_keys.end();
  for (const auto& axis : numeric_sweep_axes(lb)) {
    bool is_col = std::find(lb.column_keys.begin(), lb.column_keys.end(), axis) != lb.column_keys.end();
    if (is_col) {
      // One panel per setting of the other column keys (a dataset, say), one curve per row.
      std::vector<std::string> others;
      for (const auto& k : lb.column_keys)
        if (k != axis) others.push_back(k);
      std::vector<svg::FacetPlot::Panel> panels;
      std::vector<double> xs;
      for (const auto& facet : facets_by(lb, others)) {
        svg::FacetPlot::Panel panel{facet.title, {}};
        std::set<double> distinct;
        for (const auto& row : lb.rows) {
          svg::Series s;
          s.name = row;
          for (const auto& col : facet.columns) {
            double x = 0;
            const Cell* c = find_cell(lb, pm, row, col);
            if (!c || !parse_number(config_of(lb, col).at(axis), x)) continue;
            add_point(s, x, sc, lb, bands, row, col, *c);
            distinct.insert(x);
          }
          if (!s.x.empty()) panel.series.push_back(std::move(s));
        }
        if (distinct.size() < 2) continue;
        xs.insert(xs.end(), distinct.begin(), distinct.end());
        panels.push_back(std::move(panel));
      }
      if (!panels.empty())
        out.push_back(figure(pm + " vs " + last_component(axis), ylabel, axis_style(axis, xs), bands,
                             std::move(panels)));
      continue;
    }
    // A method parameter: one figure per method that sweeps it, the other parameters at the
    // values of its first row.
    // Note [sweep defaults]: run directories do not record a parameter's registered default, so
    // "the other parameters at their defaults" is approximated by their first value in plan order.
    std::map<std::string, std::vector<std::string>> rows_of_method;
    for (const auto& row : lb.rows) {
      const auto& rc = lb.row_config.at(row);
      double x = 0;
      if (rc.count(axis) && parse_number(rc.at(axis), x)) {
        std::string m = rc.count("method.name") ? rc.at("method.name") : row.substr(0, row.find(' '));
        rows_of_method[m].push_back(row);
      }
    }
    std::vector<std::string> facet_keys, series_keys;
    for (const auto& k : lb.column_keys) (datasets_vary && k == "dataset.name" ? facet_keys : series_keys).push_back(k);
    for (const auto& [method, rows] : rows_of_method) {
      const auto& ref = lb.row_config.at(rows.front());
      std::vector<svg::FacetPlot::Panel> panels;
      std::vector<double> xs;
      for (const auto& facet : facets_by(lb, facet_keys)) {
        svg::FacetPlot::Panel panel{facet.title, {}};
        std::set<double> distinct;
        for (const auto& col : facet.columns) {
          if (panel.series.size() == svg::kPalette.size()) break;  // more series than colours: unreadable
          svg::Series s;
          s.name = series_keys.empty() ? (facet_keys.empty() ? plot_label(col) : method)
                                       : describe(config_of(lb, col), series_keys);
          for (const auto& row : rows) {
            const auto& rc = lb.row_config.at(row);
            bool same = true;
            for (const auto& [k, v] : ref) same = same && (k == axis || (rc.count(k) && rc.at(k) == v));
            double x = 0;
            const Cell* c = find_cell(lb, pm, row, col);
            if (!same || !c || !parse_number(rc.at(axis), x)) continue;
            add_point(s, x, sc, lb, bands, row, col, *c);
            distinct.insert(x);
          }
          if (!s.x.empty()) panel.series.push_back(std::move(s));
        }
        if (distinct.size() < 2) continue;
        xs.insert(xs.end(), distinct.begin(), distinct.end());
        panels.push_back(std::move(panel));
      }
      if (panels.empty()) continue;
      out.push_back(figure(pm + " of " + method + " vs " + last_component(axis), ylabel,
                           axis_style(axis, xs), bands, std::move(panels)));
    }
  }
  return out;
}

std::string bar_plot(const Leaderboard& lb) {
  const std::string& pm = lb.primary_metric;
  const double sc = scale_of(lb, pm);
  const PlotBands bands = plot_bands(lb);
  svg::BarPlot p;
  p.title = pm + " by method (error bars: " + bands.label + ")";
  p.y_label = metric_title(lb, pm);
  for (const auto& col : lb.columns) p.groups.push_back(plot_label(col));
  for (const auto& row : lb.rows) {
    svg::Series s;
    s.name = row;
    for (const auto& col : lb.columns) {
      const Cell* c = find_cell(lb, pm, row, col);
      auto [lo, hi] = c ? band_of(lb, bands, row, col, *c) : std::make_pair(std::nan(""), std::nan(""));
      s.y.push_back(c ? sc * c->mean : std::nan(""));
      s.lo.push_back(sc * lo);
      s.hi.push_back(sc * hi);
    }
    p.series.push_back(std::move(s));
  }
  int width = std::max(620, static_cast<int>(250 + lb.columns.size() * std::max<size_t>(110, 16 * lb.rows.size())));
  return svg::render(p, width, 340);
}

std::vector<std::string> cost_plots(const Leaderboard& lb) {
  std::vector<std::string> out;
  const std::string& pm = lb.primary_metric;
  double sc = scale_of(lb, pm);
  for (const auto& col : lb.columns) {
    if (out.size() == 6) break;
    svg::ScatterPlot p;
    p.title = pm + " vs wall time" + (col.empty() ? "" : " · " + plot_label(col));
    p.x_label = "wall seconds per run (mean over seeds)";
    p.y_label = metric_title(lb, pm);
    p.y_higher_is_better = higher_better(lb, pm);
    std::vector<double> xs;
    for (const auto& row : lb.rows) {
      const Cell* c = find_cell(lb, pm, row, col);
      auto w = lb.wall_seconds.find(row);
      if (!c || w == lb.wall_seconds.end() || !w->second.count(col)) continue;
      double t = w->second.at(col).mean;
      if (!(t > 0)) continue;
      p.series.push_back(svg::Series{row, {t}, {sc * c->mean}, {}, {}});
      xs.push_back(t);
    }
    if (xs.empty()) continue;
    double mn = *std::min_element(xs.begin(), xs.end()), mx = *std::max_element(xs.begin(), xs.end());
    p.x_log = mx / mn >= 10.0;
    out.push_back(svg::render(p, 560, 320));
  }
  return out;
}

}  // namespace vlb
