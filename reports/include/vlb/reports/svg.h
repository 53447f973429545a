#pragma once
// A small SVG plotting module for report pages: line plots with seed bands, grouped bars with
// error bars, scatter plots with a Pareto front. Output is standalone SVG (inline in HTML), with
// the data range written as attributes (data-x-min ...) and each mark as an element of class
// "pt" carrying data-x/data-y, so tests can check that the axes cover the data.
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

/// One named series. For line/scatter plots x and y are coordinates; for bar plots y[i] is the
/// bar of group i (NaN: no bar). lo/hi are the band or error bar (empty: none).
struct Series {
  std::string name;
  std::vector<double> x, y, lo, hi;
};

struct LinePlot {
  std::string title, x_label, y_label;
  bool x_log = false;
  std::vector<Series> series;
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
std::string render(const BarPlot& p, int width = 560, int height = 320);
std::string render(const ScatterPlot& p, int width = 560, int height = 320);

}  // namespace vlb::svg
