// The SVG plotting module: linear/log/value axes with ticks, legend on the right, Okabe–Ito
// colours, small multiples sharing one legend.
#include "vlb/reports/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
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

/// At most `n` code points of `s`, with "…" when cut (never inside a UTF-8 sequence).
std::string truncate_text(const std::string& s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (++count > n) return s.substr(0, i) + "…";
  }
  return s;
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

constexpr double kLegendWidth = 186;

struct Frame {
  int width, height;
  double left = 64, right, top = 34, bottom;
  Frame(int w, int h, bool legend) : width(w), height(h) {
    right = w - (legend ? kLegendWidth : 16);
    bottom = h - 48;
  }
};

std::string open_svg(const std::string& kind, int width, int height, double title_x,
                     const std::string& title, const Ticks& x, const Ticks& y, size_t points) {
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-kind=\"{}\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" data-points=\"{}\" "
      "data-x-min=\"{}\" data-x-max=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n",
      kind, width, height, width, height, xml_escape(title), points, x.lo, x.hi, y.lo, y.hi);
  s += fmt::format("<title>{}</title>\n", xml_escape(title));
  s += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", width,
                   height);
  s += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                   title_x, xml_escape(title));
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

// Every tick gets its mark; a label that would touch the previous one is left out (dense
// value ticks on a log axis crowd at the top end).
std::string x_axis(const Frame& f, const Scale& x, const std::string& label) {
  std::string s;
  double last_right = -1e300;
  for (double t : x.ticks.at) {
    double px = x(t);
    s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" "
                     "stroke=\"#333\"/>\n", px, f.bottom, f.bottom + 5);
    std::string text = tick_label(t);
    double half = text_width(text) / 2;
    if (px - half < last_right + 4) continue;
    last_right = px + half;
    s += fmt::format("<text class=\"xtick\" data-v=\"{0}\" x=\"{1:.2f}\" y=\"{2:.2f}\" "
                     "text-anchor=\"middle\">{0}</text>\n", text, px, f.bottom + 18);
  }
  s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" "
                   "stroke=\"#333\"/>\n", f.left, f.bottom, f.right);
  s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n",
                   (f.left + f.right) / 2, f.height - 8.0, xml_escape(label));
  return s;
}

/// The legend column whose left edge is `x`: a swatch per name, then the optional entries for
/// the bands and a dashed front.
std::string legend(double x, double top, const std::vector<std::string>& names,
                   const std::string& band, const std::string& dashed) {
  std::string s = "<g class=\"legend\">\n";
  double y = top + 6;
  for (size_t i = 0; i < names.size(); ++i, y += 18) {
    s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n",
                     x + 12, y - 6, kPalette[i % kPalette.size()]);
    // Long labels are cut: the full name is in the tooltip of the marks and in the tables.
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" dominant-baseline=\"middle\">{}</text>\n",
                     x + 28, y, xml_escape(truncate_text(names[i], 25)));
  }
  if (!band.empty()) {
    s += fmt::format("<rect class=\"band-key\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"12\" height=\"12\" "
                     "fill=\"#555\" fill-opacity=\"0.18\"/>\n", x + 12, y - 6);
    s += fmt::format("<text class=\"band-label\" x=\"{:.2f}\" y=\"{:.2f}\" "
                     "dominant-baseline=\"middle\">{}</text>\n", x + 28, y, xml_escape(band));
    y += 18;
  }
  if (!dashed.empty()) {
    s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" "
                     "stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n", x + 10, y, x + 24);
    s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" dominant-baseline=\"middle\">{}</text>\n",
                     x + 28, y, xml_escape(dashed));
  }
  return s + "</g>\n";
}

std::vector<std::string> names_of(const std::vector<Series>& series) {
  std::vector<std::string> out;
  for (const auto& s : series) out.push_back(s.name);
  return out;
}

void check_series(const Series& s, bool bars) {
  if (!bars && s.x.size() != s.y.size()) throw Error("plot: series '" + s.name + "': x and y sizes differ");
  if (!s.lo.empty() && (s.lo.size() != s.y.size() || s.hi.size() != s.y.size())) {
    throw Error("plot: series '" + s.name + "': band sizes differ from y");
  }
}

bool has_band(const Series& s, size_t i) {
  return !s.lo.empty() && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i]);
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

/// Checks line series and adds their points (and bands) to the extents; returns the point count.
size_t scan_lines(const std::vector<Series>& series, bool x_log, Extent& ex, Extent& ey) {
  size_t points = 0;
  for (const auto& s : series) {
    check_series(s, false);
    for (size_t i = 0; i < s.x.size(); ++i) {
      require_finite(s.x[i], "x in '" + s.name + "'");
      require_finite(s.y[i], "y in '" + s.name + "'");
      if (x_log && s.x[i] <= 0) throw Error("plot: log x axis with x <= 0 in '" + s.name + "'");
      ex.add(s.x[i]);
      ey.add(s.y[i]);
      if (has_band(s, i)) {
        ey.add(s.lo[i]);
        ey.add(s.hi[i]);
      }
      ++points;
    }
  }
  return points;
}

Ticks x_ticks_for(const Extent& ex, bool log, const std::vector<double>& at) {
  if (!at.empty()) {
    std::vector<double> v = at;
    v.push_back(ex.min);  // the range must cover the data even where no tick was asked for
    v.push_back(ex.max);
    Ticks t = value_ticks(v, log);
    t.at = value_ticks(at, log).at;
    return t;
  }
  return log ? log_ticks(ex.min, ex.max) : linear_ticks(ex.min, ex.max);
}

/// The series of one line panel; `colour_of(k)` is the palette index of series k.
template <typename ColourOf>
std::string line_series(const std::vector<Series>& series, const Scale& x, const Scale& y,
                        ColourOf colour_of) {
  std::string s;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& se = series[k];
    const char* c = kPalette[colour_of(k) % kPalette.size()];
    std::vector<size_t> order(se.x.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return se.x[a] < se.x[b]; });
    s += fmt::format("<g class=\"series\" data-name=\"{}\">\n", xml_escape(se.name));
    // One polygon per run of neighbouring points that have a band; a lone one is a whisker.
    for (size_t a = 0; a < order.size();) {
      if (!has_band(se, order[a])) {
        ++a;
        continue;
      }
      size_t b = a;
      while (b + 1 < order.size() && has_band(se, order[b + 1])) ++b;
      if (a == b) {
        double px = x(se.x[order[a]]);
        s += fmt::format("<line class=\"band\" x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" "
                         "y2=\"{2:.2f}\" stroke=\"{3}\" stroke-opacity=\"0.4\" stroke-width=\"6\"/>\n",
                         px, y(se.lo[order[a]]), y(se.hi[order[a]]), c);
      } else {
        std::string pts;
        for (size_t i = a; i <= b; ++i) pts += fmt::format("{:.2f},{:.2f} ", x(se.x[order[i]]), y(se.hi[order[i]]));
        for (size_t i = b + 1; i-- > a;) pts += fmt::format("{:.2f},{:.2f} ", x(se.x[order[i]]), y(se.lo[order[i]]));
        s += fmt::format("<polygon class=\"band\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" "
                         "stroke=\"none\"/>\n", pts, c);
      }
      a = b + 1;
    }
    if (order.size() > 1) {
      std::string pts;
      for (size_t i : order) pts += fmt::format("{:.2f},{:.2f} ", x(se.x[i]), y(se.y[i]));
      s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, c);
    }
    for (size_t i : order) {
      std::string tip = fmt::format("{}: {} → {:.4g}", se.name, tick_label(se.x[i]), se.y[i]);
      if (has_band(se, i)) tip += fmt::format(" [{:.4g}, {:.4g}]", se.lo[i], se.hi[i]);
      s += mark(x(se.x[i]), y(se.y[i]), c, se.x[i], se.y[i], tip);
    }
    s += "</g>\n";
  }
  return s;
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

Ticks value_ticks(std::vector<double> values, bool log) {
  if (values.empty()) throw Error("plot: value ticks need at least one value");
  for (double v : values) {
    require_finite(v, "tick value");
    if (log && !(v > 0.0)) throw Error("plot: log axis needs positive values");
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  Ticks t;
  t.at = values;
  auto to = [&](double v) { return log ? std::log10(v) : v; };
  auto from = [&](double v) { return log ? std::pow(10.0, v) : v; };
  double a = to(values.front()), b = to(values.back());
  double pad = std::max(0.04 * (b - a), log ? 0.05 : 0.05 * std::max(1.0, std::fabs(a)));
  t.lo = from(a - pad);
  t.hi = from(b + pad);
  return t;
}

double text_width(const std::string& s, double font_px) {
  // Advance widths in em, rounded up from DejaVu Sans (the widest common sans-serif default).
  double em = 0.0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    if (c >= 0x80) em += 0.8;
    else if (std::strchr(" .,:;'|!iljtf()[]", c)) em += 0.42;
    else if (std::strchr("mwMW@%", c)) em += 1.0;
    else if (std::isupper(c)) em += 0.78;
    else if (std::strchr("=+<>~#&_", c)) em += 0.86;
    else em += 0.66;
  }
  return em * font_px;
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
  size_t points = scan_lines(p.series, p.x_log, ex, ey);
  if (points == 0) throw Error("plot '" + p.title + "': no data");
  Frame f(width, height, true);
  Scale x{x_ticks_for(ex, p.x_log, p.x_ticks), p.x_log, f.left, f.right};
  Scale y{linear_ticks(ey.min, ey.max), false, f.bottom, f.top};
  std::string s = open_svg("line", width, height, f.left, p.title, x.ticks, y.ticks, points);
  s += y_axis(f, y, p.y_label) + x_axis(f, x, p.x_label);
  s += line_series(p.series, x, y, [](size_t k) { return k; });
  s += legend(f.right, f.top, names_of(p.series), p.band_label, "");
  return s + "</svg>\n";
}

std::string render(const FacetPlot& p, int panel_width, int panel_height) {
  if (p.panels.empty()) throw Error("plot '" + p.title + "': no panels");
  // Colours by series name, in order of first appearance, so a method keeps its colour.
  std::vector<std::string> names;
  Extent ex;
  std::vector<Extent> eys(p.panels.size());
  size_t points = 0;
  for (size_t i = 0; i < p.panels.size(); ++i) {
    const auto& panel = p.panels[i];
    size_t n = scan_lines(panel.series, p.x_log, ex, eys[i]);
    if (n == 0) throw Error("plot '" + p.title + "': panel '" + panel.title + "' has no data");
    points += n;
    for (const auto& se : panel.series)
      if (std::find(names.begin(), names.end(), se.name) == names.end()) names.push_back(se.name);
  }
  const size_t cols = std::max<size_t>(1, std::min<size_t>(p.columns, p.panels.size()));
  const size_t rows = (p.panels.size() + cols - 1) / cols;
  const double head = 30;
  const int width = static_cast<int>(cols * panel_width + kLegendWidth);
  const int height = static_cast<int>(head + rows * panel_height);
  Frame f(panel_width, panel_height, false);
  Ticks xt = x_ticks_for(ex, p.x_log, p.x_ticks);
  std::vector<Scale> ys;
  Ticks all_y{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), {}};
  for (const auto& ey : eys) {
    ys.push_back(Scale{linear_ticks(ey.min, ey.max), false, f.bottom, f.top});
    all_y.lo = std::min(all_y.lo, ys.back().ticks.lo);
    all_y.hi = std::max(all_y.hi, ys.back().ticks.hi);
  }
  std::string s = open_svg("facets", width, height, 12, p.title, xt, all_y, points);
  Scale x{xt, p.x_log, f.left, f.right};
  for (size_t i = 0; i < p.panels.size(); ++i) {
    const auto& panel = p.panels[i];
    double ox = (i % cols) * panel_width, oy = head + (i / cols) * panel_height;
    s += fmt::format("<g class=\"panel\" data-title=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\" "
                     "transform=\"translate({:.2f},{:.2f})\">\n", xml_escape(panel.title),
                     ys[i].ticks.lo, ys[i].ticks.hi, ox, oy);
    s += fmt::format("<text class=\"panel-title\" x=\"{:.2f}\" y=\"20\" font-size=\"13\" "
                     "font-weight=\"bold\">{}</text>\n", f.left, xml_escape(truncate_text(panel.title, 40)));
    s += y_axis(f, ys[i], p.y_label) + x_axis(f, x, p.x_label);
    s += line_series(panel.series, x, ys[i], [&](size_t k) {
      return static_cast<size_t>(std::find(names.begin(), names.end(), panel.series[k].name) - names.begin());
    });
    s += "</g>\n";
  }
  s += legend(cols * panel_width, head, names, p.band_label, "");
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
      if (has_band(s, i)) {
        ey.add(s.lo[i]);
        ey.add(s.hi[i]);
      }
      ++points;
    }
  }
  if (points == 0) throw Error("plot '" + p.title + "': no data");
  const Frame base(width, height, true);
  const double gw = (base.right - base.left) / p.groups.size();
  // Note [bar labels]: labels wider than their group are rotated by theta with gw sin(theta) >=
  // 18 px, the distance between neighbouring (parallel) baselines: more than a 12 px line, so
  // they cannot overlap however long they are. The figure grows to keep the plot area.
  std::vector<std::string> labels;
  double widest = 0.0;
  for (const auto& g : p.groups) {
    labels.push_back(truncate_text(g, 40));
    widest = std::max(widest, text_width(labels.back()));
  }
  const bool rotate = widest > gw - 8;
  const double theta = rotate ? std::max(M_PI / 6, std::asin(std::min(1.0, 18.0 / gw))) : 0.0;
  double extra_left = 0.0, extra_bottom = 0.0;
  if (rotate) {
    for (size_t g = 0; g < labels.size(); ++g) {
      double w = text_width(labels[g]);
      extra_left = std::max(extra_left, w * std::cos(theta) + 10 - (base.left + gw * (g + 0.5)));
      extra_bottom = std::max(extra_bottom, w * std::sin(theta) + 8 * std::cos(theta) + 16 - 40);
    }
  }
  const int W = width + static_cast<int>(std::ceil(extra_left));
  const int H = height + static_cast<int>(std::ceil(extra_bottom));
  Frame f(W, H, true);
  f.left = base.left + std::ceil(extra_left);
  f.bottom = base.bottom;
  Scale y{linear_ticks(ey.min, ey.max), false, f.bottom, f.top};
  // x is the group index: group g spans [g, g+1).
  Scale x{Ticks{0.0, static_cast<double>(p.groups.size()), {}}, false, f.left, f.right};
  std::string s = open_svg("bar", W, H, f.left, p.title, x.ticks, y.ticks, points);
  s += y_axis(f, y, p.y_label);
  s += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" stroke=\"#333\"/>\n",
                   f.left, y(std::max(0.0, y.ticks.lo)), f.right);
  double bw = gw * 0.8 / std::max<size_t>(1, p.series.size());
  for (size_t g = 0; g < p.groups.size(); ++g) {
    double cx = f.left + gw * (g + 0.5);
    std::string text = xml_escape(labels[g]), full = xml_escape(p.groups[g]);
    if (!rotate) {
      s += fmt::format("<text class=\"xlabel\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}"
                       "<title>{}</title></text>\n", cx, f.bottom + 18, text, full);
    } else {
      double ay = f.bottom + 12;
      s += fmt::format("<text class=\"xlabel\" x=\"{0:.2f}\" y=\"{1:.2f}\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\" transform=\"rotate({2:.2f} {0:.2f} {1:.2f})\">{3}"
                       "<title>{4}</title></text>\n", cx, ay, -theta * 180 / M_PI, text, full);
    }
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
      if (has_band(se, g)) tip += fmt::format(" [{:.4g}, {:.4g}]", se.lo[g], se.hi[g]);
      s += fmt::format("<rect class=\"pt\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
                       "fill=\"{}\" data-x=\"{}\" data-y=\"{}\"><title>{}</title></rect>\n",
                       x0, std::min(y0, y1), bw * 0.92, std::fabs(y0 - y1), c, g + 0.5, se.y[g],
                       xml_escape(tip));
      if (has_band(se, g)) {
        double cx = x0 + bw * 0.46;
        s += fmt::format("<path class=\"errorbar\" d=\"M{0:.2f} {1:.2f}V{2:.2f}M{3:.2f} {1:.2f}H{4:.2f}M{3:.2f} {2:.2f}H{4:.2f}\" "
                         "stroke=\"#222\" fill=\"none\"/>\n",
                         cx, y(se.lo[g]), y(se.hi[g]), cx - 4, cx + 4);
      }
    }
    s += "</g>\n";
  }
  s += legend(f.right, f.top, names_of(p.series), "", "");
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
  std::string s = open_svg("scatter", width, height, f.left, p.title, x.ticks, y.ticks, all_x.size());
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
  s += legend(f.right, f.top, names_of(p.series), "", p.pareto ? "Pareto front" : "");
  return s + "</svg>\n";
}

}  // namespace vlb::svg
