#pragma once
// A small SVG plotting module for report pages: line plots with bands (alone or as small
// multiples, one panel per facet), grouped bars with error bars, scatter plots with a Pareto
// front. Output is standalone SVG (inline in HTML), with the data range written as attributes
// (data-x-min ...) and each mark as an element of class "pt" carrying data-x/data-y, so tests can
// check that the axes cover the data. x tick labels are <text class="xtick" data-v=...>.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace vlb::svg {

/// Okabe–Ito colours, ordered so the first ones contrast on white (yellow last).
extern const std::array<const char*, 8> kPalette;

std::string xml_escape(const std::string& s);

/// An axis range and its tick positions.
struct Ticks {
  double lo = 0.0, hi = 1.0;
  std::vector<double> at;
};
/// Linear ticks at 1/2/5 x 10^k steps; [lo, hi] is widened to whole steps so it covers
/// [min, max]. A degenerate range (min == max) is padded. Error on non-finite input.
Ticks linear_ticks(double min, double max, int target = 5);
/// Decade ticks (adding 2 and 5 when the range spans at most one decade). Error unless 0 < min.
Ticks log_ticks(double min, double max);
/// Ticks at exactly `values` (sorted, duplicates dropped), the range padded a little beyond them
/// (in log space when `log`) so no mark sits on the frame. Error on no value, a non-finite one,
/// or `log` with a value <= 0.
Ticks value_ticks(std::vector<double> values, bool log);

/// Approximate advance width of `s` in a sans-serif font of `font_px` pixels (UTF-8 aware), on
/// the wide side so layouts built on it leave room rather than collide.
double text_width(const std::string& s, double font_px = 12.0);

/// One named series. For line/scatter plots x and y are coordinates; for bar plots y[i] is the
/// bar of group i (NaN: no bar). lo/hi are the band or error bar (empty: none; a NaN pair: none
/// at that point, so a band may cover only some points).
struct Series {
  std::string name;
  std::vector<double> x, y, lo, hi;
};

struct LinePlot {
  std::string title, x_label, y_label;
  bool x_log = false;
  std::vector<double> x_ticks;  // ticks at these values (value_ticks); empty: round ticks
  std::string band_label;       // what the bands are, as a legend entry; "" = no entry
  std::vector<Series> series;
};
/// Small multiples: one panel per facet (e.g. per dataset) on a grid, all on the same x axis,
/// each with its own y range, and one legend whose colours follow the series name across panels.
struct FacetPlot {
  struct Panel {
    std::string title;
    std::vector<Series> series;
  };
  std::string title, x_label, y_label;
  bool x_log = false;
  std::vector<double> x_ticks;
  std::string band_label;
  std::vector<Panel> panels;
  int columns = 2;  // panels per grid row
};
struct BarPlot {
  std::string title, y_label;
  std::vector<std::string> groups;
  std::vector<Series> series;
};
struct ScatterPlot {
  std::string title, x_label, y_label;
  bool x_log = false;
  std::vector<Series> series;
  bool pareto = true;            // draw the front over all points of all series
  bool x_lower_is_better = true; // e.g. wall time
  bool y_higher_is_better = true;
};

/// Indices (into x/y) of the points not dominated by any other, ordered by x. A point dominates
/// another when at least as good on both axes and strictly better on one; duplicates keep the
/// lower index.
std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y,
                                 bool x_lower_is_better, bool y_higher_is_better);

/// Each renderer throws Error when a series is malformed (x/y/lo/hi sizes disagree, non-finite
/// coordinates, log axis with x <= 0) and when there is no point at all: a plot without data is
/// a bug in the caller.
std::string render(const LinePlot& p, int width = 560, int height = 320);
/// Each panel is panel_width x panel_height; the figure adds a title row and the legend column.
/// A panel without points is an Error like an empty plot.
std::string render(const FacetPlot& p, int panel_width = 340, int panel_height = 250);
/// Group labels that do not fit their group's width are drawn rotated (steeply enough that
/// neighbours cannot overlap), and the figure grows below and on the left to hold them.
std::string render(const BarPlot& p, int width = 560, int height = 320);
std::string render(const ScatterPlot& p, int width = 560, int height = 320);

}  // namespace vlb::svg
