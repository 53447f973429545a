// The SVG plotting module: linear/log axes with ticks, legend on the right, Okabe–Ito colours.
#include "vlb/reports/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "vlb/core/error.h"

namespace vlb::svg {

const std::array<const char*, 8> kPalette = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                             "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

void require_finite(double v, const std::string& what) {
  if (!std::isfinite(v)) throw Error("plot: non-finite " + what);
}

// Removes floating noise from tick positions (0.30000000000000004 -> 0.3) for labels.
std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) return "0";
  return fmt::format("{:.6g}", v);
}

/// Data-to-pixel mapping for one axis.
struct Scale {
  Ticks ticks;
  bool log = false;
  double p0 = 0.0, p1 = 1.0;  // pixel positions of ticks.lo and ticks.hi
  double operator()(double v) const {
    double a = log ? std::log10(ticks.lo) : ticks.lo;
    double b = log ? std::log10(ticks.hi) : ticks.hi;
    double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return p0 + t * (p1 - p0);
  }
};

struct Frame {
  int width, height;
  double left = 64, right, top = 34, bottom;
  Frame(int w, int h, bool legend) : width(w), height(h) {
    right = w - (legend ? 186 : 16);
    bottom = h - 48;
  }
};

std::string open_svg(const std::string& kind, const Frame& f, const std::string& title,
                     const Scale& x, const Scale& y, size_t points) {
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-kind=\"{}\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" data-points=\"{}\" "
      "data-x-min=\"{}\" data-x-max=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n",
      kind, f.width, f.height, f.width, f.height, xml_escape(title), points, x.ticks.lo,
      x.ticks.hi, y.ticks.lo, y.ticks.hi);
  s += fmt::format("<title>{}</title>\n", xml_escape(title));
  s += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", f.width,
                   f.height);
  s += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                   f.left, xml_escape(title));
  return s;
}

std::string y_axis(const Frame& f, const Scale& y, const std::string& label) {
  std::string s;
  for (double t : y.ticks.at) {
    double py = y(t);
    s += fmt::format("<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
                     "stroke=\"#e3e3e3\"/>\n", f.left, py, f.right, py);
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"end\" "
                     "dominant-baseline=\"middle\">{}</text>\n", f.left - 6, py, tick_label(t));
  }
  s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" "
                   "stroke=\"#333\"/>\n", f.left, f.top, f.bottom);
  s += fmt::format("<text transform=\"translate(16,{:.2f}) rotate(-90)\" "
                   "text-anchor=\"middle\">{}</text>\n", (f.top + f.bottom) / 2, xml_escape(label));
  return s;
}

std::string x_axis(const Frame& f, const Scale& x, const std::string& label) {
  std::string s;
  for (double t : x.ticks.at) {
    double px = x(t);
    s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" "
                     "stroke=\"#333\"/>\n", px, f.bottom, f.bottom + 5);
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n", px,
                     f.bottom + 18, tick_label(t));
  }
  s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" "
                   "stroke=\"#333\"/>\n", f.left, f.bottom, f.right);
  s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n",
                   (f.left + f.right) / 2, f.height - 8.0, xml_escape(label));
  return s;
}

std::string legend(const Frame& f, const std::vector<Series>& series, const std::string& extra) {
  std::string s = "<g class=\"legend\">\n";
  double y = f.top + 6;
  for (size_t i = 0; i < series.size(); ++i, y += 18) {
    s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n",
                     f.right + 12, y - 6, kPalette[i % kPalette.size()]);
    // Long labels are cut: the full name is in the tooltip of the marks and in the tables.
    std::string name = series[i].name.size() > 26 ? series[i].name.substr(0, 25) + "…" : series[i].name;
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" dominant-baseline=\"middle\">{}</text>\n",
                     f.right + 28, y, xml_escape(name));
  }
  if (!extra.empty()) {
    s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" "
                     "stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n", f.right + 10, y, f.right + 24);
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" dominant-baseline=\"middle\">{}</text>\n",
                     f.right + 28, y, xml_escape(extra));
  }
  return s + "</g>\n";
}

void check_series(const Series& s, bool bars) {
  if (!bars && s.x.size() != s.y.size()) throw Error("plot: series '" + s.name + "': x and y sizes differ");
  if (!s.lo.empty() && (s.lo.size() != s.y.size() || s.hi.size() != s.y.size())) {
    throw Error("plot: series '" + s.name + "': band sizes differ from y");
  }
}

struct Extent {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void add(double v) {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  bool empty() const { return min > max; }
};

std::string mark(double px, double py, const char* colour, double x, double y,
                 const std::string& tip) {
  return fmt::format("<circle class=\"pt\" cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3.5\" fill=\"{}\" "
                     "data-x=\"{}\" data-y=\"{}\"><title>{}</title></circle>\n",
                     px, py, colour, x, y, xml_escape(tip));
}

}  // namespace

Ticks linear_ticks(double min, double max, int target) {
  require_finite(min, "axis minimum");
  require_finite(max, "axis maximum");
  if (min > max) std::swap(min, max);
  if (max - min < 1e-12 * std::max(1.0, std::fabs(max))) {
    double pad = std::fabs(min) > 0 ? std::fabs(min) * 0.05 : 1.0;
    min -= pad;
    max += pad;
  }
  double raw = (max - min) / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  Ticks t;
  // Small epsilon keeps a value sitting on a step from being pushed one step out by rounding.
  t.lo = std::floor(min / step + 1e-9) * step;
  t.hi = std::ceil(max / step - 1e-9) * step;
  for (double v = t.lo; v <= t.hi + step * 1e-6; v += step) t.at.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

Ticks log_ticks(double min, double max) {
  require_finite(min, "axis minimum");
  require_finite(max, "axis maximum");
  if (!(min > 0.0) || !(max > 0.0)) throw Error("plot: log axis needs positive values");
  if (min > max) std::swap(min, max);
  Ticks t;
  int a = static_cast<int>(std::floor(std::log10(min) + 1e-9));
  int b = static_cast<int>(std::ceil(std::log10(max) - 1e-9));
  if (b == a) ++b;
  t.lo = std::pow(10.0, a);
  t.hi = std::pow(10.0, b);
  bool fine = b - a <= 1;
  for (int e = a; e <= b; ++e) {
    double d = std::pow(10.0, e);
    t.at.push_back(d);
    if (fine && e < b) {
      t.at.push_back(2 * d);
      t.at.push_back(5 * d);
    }
  }
  return t;
}

std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y,
                                 bool x_lower_is_better, bool y_higher_is_better) {
  if (x.size() != y.size()) throw Error("pareto_front: x and y sizes differ");
  auto gx = [&](size_t i) { return x_lower_is_better ? -x[i] : x[i]; };  // bigger is better
  auto gy = [&](size_t i) { return y_higher_is_better ? y[i] : -y[i]; };
  std::vector<size_t> front;
  for (size_t i = 0; i < x.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < x.size() && !dominated; ++j) {
      if (j == i) continue;
      bool ge = gx(j) >= gx(i) && gy(j) >= gy(i);
      bool gt = gx(j) > gx(i) || gy(j) > gy(i);
      bool duplicate_earlier = gx(j) == gx(i) && gy(j) == gy(i) && j < i;
      dominated = (ge && gt) || duplicate_earlier;
    }
    if (!dominated) front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  return front;
}

std::string render(const LinePlot& p, int width, int height) {
  Extent ex, ey;
  size_t points = 0;
  for (const auto& s : p.series) {
    check_series(s, false);
    for (size_t i = 0; i < s.x.size(); ++i) {
      require_finite(s.x[i], "x in '" + s.name + "'");
      require_finite(s.y[i], "y in '" + s.name + "'");
      if (p.x_log && s.x[i] <= 0) throw Error("plot: log x axis with x <= 0 in '" + s.name + "'");
      ex.add(s.x[i]);
      ey.add(s.y[i]);
      if (!s.lo.empty()) {
        ey.add(s.lo[i]);
        ey.add(s.hi[i]);
      }
      ++points;
    }
  }
  if (points == 0) throw Error("plot '" + p.title + "': no data");
  Frame f(width, height, true);
  Scale x{p.x_log ? log_ticks(ex.min, ex.max) : linear_ticks(ex.min, ex.max), p.x_log, f.left, f.right};
  Scale y{linear_ticks(ey.min, ey.max), false, f.bottom, f.top};
  std::string s = open_svg("line", f, p.title, x, y, points);
  s += y_axis(f, y, p.y_label) + x_axis(f, x, p.x_label);
  for (size_t k = 0; k < p.series.size(); ++k) {
    const auto& se = p.series[k];
    const char* c = kPalette[k % kPalette.size()];
    std::vector<size_t> order(se.x.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return se.x[a] < se.x[b]; });
    s += fmt::format("<g class=\"series\" data-name=\"{}\">\n", xml_escape(se.name));
    if (!se.lo.empty() && order.size() > 1) {
      std::string pts;
      for (size_t i : order) pts += fmt::format("{:.2f},{:.2f} ", x(se.x[i]), y(se.hi[i]));
      for (auto it = order.rbegin(); it != order.rend(); ++it)
        pts += fmt::format("{:.2f},{:.2f} ", x(se.x[*it]), y(se.lo[*it]));
      s += fmt::format("<polygon class=\"band\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" "
                       "stroke=\"none\"/>\n", pts, c);
    }
    if (order.size() > 1) {
      std::string pts;
      for (size_t i : order) pts += fmt::format("{:.2f},{:.2f} ", x(se.x[i]), y(se.y[i]));
      s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, c);
    }
    for (size_t i : order) {
      std::string tip = fmt::format("{}: {} → {:.4g}", se.name, tick_label(se.x[i]), se.y[i]);
      if (!se.lo.empty()) tip += fmt::format(" [{:.4g}, {:.4g}]", se.lo[i], se.hi[i]);
      s += mark(x(se.x[i]), y(se.y[i]), c, se.x[i], se.y[i], tip);
    }
    s += "</g>\n";
  }
  s += legend(f, p.series, "");
  return s + "</svg>\n";
}

std::string render(const BarPlot& p, int width, int height) {
  Extent ey;
  ey.add(0.0);  // bars start at zero: a truncated bar axis exaggerates differences
  size_t points = 0;
  for (const auto& s : p.series) {
    check_series(s, true);
    if (s.y.size() != p.groups.size()) throw Error("plot: series '" + s.name + "' has a bar count != groups");
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (std::isnan(s.y[i])) continue;
      require_finite(s.y[i], "bar in '" + s.name + "'");
      ey.add(s.y[i]);
      if (!s.lo.empty()) {
        ey.add(s.lo[i]);
        ey.add(s.hi[i]);
      }
      ++points;
    }
  }
  if (points == 0) throw Error("plot '" + p.title + "': no data");
  Frame f(width, height, true);
  Scale y{linear_ticks(ey.min, ey.max), false, f.bottom, f.top};
  // x is the group index: group g spans [g, g+1).
  Scale x{Ticks{0.0, static_cast<double>(p.groups.size()), {}}, false, f.left, f.right};
  std::string s = open_svg("bar", f, p.title, x, y, points);
  s += y_axis(f, y, p.y_label);
  s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" stroke=\"#333\"/>\n",
                   f.left, y(std::max(0.0, y.ticks.lo)), f.right);
  double gw = (f.right - f.left) / p.groups.size();
  double bw = gw * 0.8 / std::max<size_t>(1, p.series.size());
  for (size_t g = 0; g < p.groups.size(); ++g) {
    std::string label = p.groups[g].size() > 28 ? p.groups[g].substr(0, 27) + "…" : p.groups[g];
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n",
                     f.left + gw * (g + 0.5), f.bottom + 18, xml_escape(label));
  }
  for (size_t k = 0; k < p.series.size(); ++k) {
    const auto& se = p.series[k];
    const char* c = kPalette[k % kPalette.size()];
    s += fmt::format("<g class=\"series\" data-name=\"{}\">\n", xml_escape(se.name));
    for (size_t g = 0; g < se.y.size(); ++g) {
      if (std::isnan(se.y[g])) continue;
      double x0 = f.left + gw * g + gw * 0.1 + bw * k;
      double y0 = y(0.0 < y.ticks.lo ? y.ticks.lo : 0.0), y1 = y(se.y[g]);
      std::string tip = fmt::format("{} / {}: {:.4g}", se.name, p.groups[g], se.y[g]);
      if (!se.lo.empty()) tip += fmt::format(" [{:.4g}, {:.4g}]", se.lo[g], se.hi[g]);
      s += fmt::format("<rect class=\"pt\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
                       "fill=\"{}\" data-x=\"{}\" data-y=\"{}\"><title>{}</title></rect>\n",
                       x0, std::min(y0, y1), bw * 0.92, std::fabs(y0 - y1), c, g + 0.5, se.y[g],
                       xml_escape(tip));
      if (!se.lo.empty()) {
        double cx = x0 + bw * 0.46;
        s += fmt::format("<path d=\"M{0:.2f} {1:.2f}V{2:.2f}M{3:.2f} {1:.2f}H{4:.2f}M{3:.2f} {2:.2f}H{4:.2f}\" "
                         "stroke=\"#222\" fill=\"none\"/>\n",
                         cx, y(se.lo[g]), y(se.hi[g]), cx - 4, cx + 4);
      }
    }
    s += "</g>\n";
  }
  s += legend(f, p.series, "");
  return s + "</svg>\n";
}

std::string render(const ScatterPlot& p, int width, int height) {
  Extent ex, ey;
  std::vector<double> all_x, all_y;
  for (const auto& s : p.series) {
    check_series(s, false);
    for (size_t i = 0; i < s.x.size(); ++i) {
      require_finite(s.x[i], "x in '" + s.name + "'");
      require_finite(s.y[i], "y in '" + s.name + "'");
      if (p.x_log && s.x[i] <= 0) throw Error("plot: log x axis with x <= 0 in '" + s.name + "'");
      ex.add(s.x[i]);
      ey.add(s.y[i]);
      all_x.push_back(s.x[i]);
      all_y.push_back(s.y[i]);
    }
  }
  if (all_x.empty()) throw Error("plot '" + p.title + "': no data");
  Frame f(width, height, true);
  Scale x{p.x_log ? log_ticks(ex.min, ex.max) : linear_ticks(ex.min, ex.max), p.x_log, f.left, f.right};
  Scale y{linear_ticks(ey.min, ey.max), false, f.bottom, f.top};
  std::string s = open_svg("scatter", f, p.title, x, y, all_x.size());
  s += y_axis(f, y, p.y_label) + x_axis(f, x, p.x_label);
  if (p.pareto) {
    auto front = pareto_front(all_x, all_y, p.x_lower_is_better, p.y_higher_is_better);
    std::string pts;
    for (size_t i : front) pts += fmt::format("{:.2f},{:.2f} ", x(all_x[i]), y(all_y[i]));
    s += fmt::format("<polyline class=\"pareto\" data-count=\"{}\" points=\"{}\" fill=\"none\" "
                     "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n",
                     front.size(), pts);
  }
  for (size_t k = 0; k < p.series.size(); ++k) {
    const auto& se = p.series[k];
    const char* c = kPalette[k % kPalette.size()];
    s += fmt::format("<g class=\"series\" data-name=\"{}\">\n", xml_escape(se.name));
    for (size_t i = 0; i < se.x.size(); ++i) {
      s += mark(x(se.x[i]), y(se.y[i]), c, se.x[i], se.y[i],
                fmt::format("{}: {:.4g} at {:.4g}", se.name, se.y[i], se.x[i]));
    }
    s += "</g>\n";
  }
  s += legend(f, p.series, p.pareto ? "Pareto front" : "");
  return s + "</svg>\n";
}

}  // namespace vlb::svg
