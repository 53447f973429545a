// The SVG plotting module: tick ranges, Pareto front, well-formed XML whose axes cover the data.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/svg.h"

namespace vlb::svg {
namespace {

TEST(Ticks, LinearCoversTheDataOnRoundSteps) {
  auto t = linear_ticks(0.0, 1.0, 5);
  EXPECT_DOUBLE_EQ(t.lo, 0.0);
  EXPECT_DOUBLE_EQ(t.hi, 1.0);
  ASSERT_EQ(t.at.size(), 6u);  // step 0.2
  EXPECT_NEAR(t.at[3], 0.6, 1e-12);
  auto u = linear_ticks(70.3, 92.8, 5);  // raw step 4.5 -> 5
  EXPECT_DOUBLE_EQ(u.lo, 70.0);
  EXPECT_DOUBLE_EQ(u.hi, 95.0);
  EXPECT_EQ(u.at.size(), 6u);
  auto d = linear_ticks(3.0, 3.0);  // degenerate: padded by 5%
  EXPECT_LT(d.lo, 3.0);
  EXPECT_GT(d.hi, 3.0);
  auto neg = linear_ticks(-0.013, 0.021, 4);  // step 0.01
  EXPECT_NEAR(neg.lo, -0.02, 1e-12);
  EXPECT_NEAR(neg.hi, 0.03, 1e-12);
  EXPECT_THROW(linear_ticks(0.0, std::nan("")), Error);
}

TEST(Ticks, LogDecades) {
  auto t = log_ticks(1e-5, 1e-3);
  EXPECT_DOUBLE_EQ(t.lo, 1e-5);
  EXPECT_NEAR(t.hi, 1e-3, 1e-18);
  EXPECT_EQ(t.at.size(), 3u);
  auto f = log_ticks(0.03, 0.3);  // spans 0.01..1: two decades, no 2/5 ticks
  EXPECT_NEAR(f.lo, 0.01, 1e-15);
  EXPECT_NEAR(f.hi, 1.0, 1e-15);
  auto one = log_ticks(2.0, 4.0);  // one decade: 1, 2, 5, 10
  EXPECT_EQ(one.at.size(), 4u);
  EXPECT_THROW(log_ticks(0.0, 1.0), Error);
}

TEST(Pareto, HandCase) {
  // (time, acc): 0 (1, .5) front; 1 (2, .7) front; 2 (3, .6) dominated by 1; 3 (4, .9) front;
  // 4 (2, .7) duplicate of 1 -> dropped; 5 (0.5, .4) front (fastest).
  std::vector<double> x = {1, 2, 3, 4, 2, 0.5}, y = {.5, .7, .6, .9, .7, .4};
  auto f = pareto_front(x, y, true, true);
  EXPECT_EQ(f, (std::vector<size_t>{5, 0, 1, 3}));
  // Maximise x, minimise y: (3, .6) now dominates (2, .7) and its duplicate; 5, 0, 2 and 3 remain.
  auto g = pareto_front(x, y, false, false);
  EXPECT_EQ(g, (std::vector<size_t>{5, 0, 2, 3}));
}

/// Parses an SVG with Python's XML parser and checks every mark lies inside the declared ranges.
void expect_well_formed_and_covering(const std::string& svg_text) {
  std::string py = test::system_python_with("xml.etree.ElementTree");
  if (py.empty()) GTEST_SKIP() << "no python3 for the XML check";
  test::TempDir dir;
  test::write_text(dir / "p.svg", svg_text);
  test::write_text(dir / "check.py", R"(
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag
a = {k: float(root.get(k)) for k in ('data-x-min', 'data-x-max', 'data-y-min', 'data-y-max')}
pts = [e for e in root.iter() if e.get('class') == 'pt']
assert len(pts) == int(root.get('data-points')) and pts, (len(pts), root.get('data-points'))
for e in pts:
    x, y = float(e.get('data-x')), float(e.get('data-y'))
    assert a['data-x-min'] <= x <= a['data-x-max'], (x, a)
    assert a['data-y-min'] <= y <= a['data-y-max'], (y, a)
print('ok', len(pts))
)");
  auto r = test::run_command(py + " " + dir / "check.py " + dir / "p.svg");
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << svg_text.substr(0, 2000);
}

TEST(Render, LineWithBandsIsWellFormedAndCoversData) {
  LinePlot p;
  p.title = "top1 vs shots <&> \"quoted\"";
  p.x_label = "shots";
  p.y_label = "top1 (%)";
  p.series.push_back({"ncm", {1, 4, 16}, {60, 75, 84}, {58, 74, 83}, {62, 76, 86.5}});
  p.series.push_back({"linear_probe & co", {1, 4, 16}, {40, 70, 93}, {35, 69, 92}, {45, 71, 94}});
  std::string s = render(p);
  EXPECT_NE(s.find("&lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(s.find("class=\"band\""), std::string::npos);
  EXPECT_NE(s.find(kPalette[0]), std::string::npos);
  EXPECT_NE(s.find(kPalette[1]), std::string::npos);
  expect_well_formed_and_covering(s);
}

TEST(Render, LogAxisBarsAndScatter) {
  LinePlot l;
  l.title = "l2";
  l.x_log = true;
  l.series.push_back({"caltech", {1e-5, 1e-4, 1e-3}, {0.93, 0.935, 0.9}, {}, {}});
  expect_well_formed_and_covering(render(l));

  BarPlot b;
  b.title = "bars";
  b.groups = {"shots=4", "shots=16"};
  b.series.push_back({"zeroshot", {}, {73.0, 73.0}, {72.0, 72.0}, {74.0, 74.0}});
  b.series.push_back({"ncm", {}, {70.0, std::nan("")}, {68.0, std::nan("")}, {72.0, std::nan("")}});
  std::string bs = render(b);
  expect_well_formed_and_covering(bs);
  EXPECT_NE(bs.find("data-points=\"3\""), std::string::npos);  // the NaN bar is not drawn

  ScatterPlot sc;
  sc.title = "cost";
  sc.x_log = true;
  sc.series.push_back({"a", {0.01}, {70}, {}, {}});
  sc.series.push_back({"b", {0.5}, {90}, {}, {}});
  sc.series.push_back({"c", {1.0}, {80}, {}, {}});
  std::string ss = render(sc);
  EXPECT_NE(ss.find("class=\"pareto\" data-count=\"2\""), std::string::npos) << ss;
  expect_well_formed_and_covering(ss);
}

TEST(Render, RefusesPlotsWithoutDataOrBadSeries) {
  LinePlot empty;
  empty.title = "nothing";
  EXPECT_THROW(render(empty), Error);
  LinePlot mismatch;
  mismatch.series.push_back({"s", {1, 2}, {1}, {}, {}});
  EXPECT_THROW(render(mismatch), Error);
  LinePlot neg;
  neg.x_log = true;
  neg.series.push_back({"s", {-1, 2}, {1, 2}, {}, {}});
  EXPECT_THROW(render(neg), Error);
  BarPlot nan_only;
  nan_only.groups = {"g"};
  nan_only.series.push_back({"s", {}, {std::nan("")}, {}, {}});
  EXPECT_THROW(render(nan_only), Error);
}

}  // namespace
}  // namespace vlb::svg
