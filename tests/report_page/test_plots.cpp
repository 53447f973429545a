// The report plots on sweeps a person would read: one panel per dataset, a logarithmic shots
// axis with ticks at the shot counts, bands from per-sample intervals where valid (else from a
// seed spread), and bar labels that stay apart (checked on the boxes Chromium lays out).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/page.h"
#include "vlb/reports/plots.h"
#include "vlb/reports/report.h"
#include "vlb/reports/svg.h"

namespace vlb {
namespace {

namespace fs = std::filesystem;

// zeroshot is flat in shots, ncm rises by 4 points per doubling; cars sits 30 points below dtd
// (so a panel showing the wrong dataset is visible in its values). Seed s adds s points.
std::vector<RunRecord> shots_sweep(const std::vector<std::string>& datasets, const std::vector<int>& shots,
                                   int seeds) {
  std::vector<RunRecord> runs;
  int plan = 0;
  for (const auto& ds : datasets)
    for (int k : shots)
      for (const char* method : {"zeroshot", "ncm"})
        for (int seed = 0; seed < seeds; ++seed) {
          RunRecord r;
          r.dir = "/tmp/results/sweep/" + ds + "_" + std::to_string(k) + "_" + method + "_" + std::to_string(seed);
          r.run_key = r.dir;
          r.status = "ok";
          r.method = method;
          r.seed = seed;
          r.plan_index = plan++;
          r.dataset_name = ds;
          r.config = {{"method.name", method}, {"runtime.seed", std::to_string(seed)},
                      {"dataset.name", ds}, {"dataset.shots", std::to_string(k)}};
          double base = ds == "cars" ? 0.3 : 0.6;
          double v = base + (std::string(method) == "ncm" ? 0.04 * std::log2(k) : 0.0) + 0.01 * seed;
          r.metrics = {{"cls/top1", v}};
          r.higher_is_better = {{"cls/top1", true}};
          r.wall_seconds = 0.1;
          runs.push_back(r);
        }
  return runs;
}

std::string plot_titled(const std::vector<std::string>& plots, const std::string& needle) {
  for (const auto& p : plots)
    if (p.find(needle) != std::string::npos) return p;
  return "";
}

std::vector<std::string> all(const std::string& text, const std::string& re) {
  std::vector<std::string> out;
  std::regex r(re);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), r); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

/// Tick value -> x pixel of every labelled x tick of `svg` (the first panel's, for facets).
std::map<double, double> x_ticks(const std::string& svg) {
  std::map<double, double> out;
  std::regex r("<text class=\"xtick\" data-v=\"([^\"]+)\" x=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), r); it != std::sregex_iterator(); ++it)
    out.emplace(std::stod((*it)[1].str()), std::stod((*it)[2].str()));
  return out;
}

TEST(Plots, TwoDatasetShotsSweepGivesOnePanelPerDataset) {
  Leaderboard lb = build_leaderboard(shots_sweep({"dtd", "cars"}, {1, 2, 4, 8}, 3), "sweep");
  std::string p = plot_titled(sweep_plots(lb), "vs shots");
  ASSERT_FALSE(p.empty());
  EXPECT_NE(p.find("data-kind=\"facets\""), std::string::npos);
  // Every point of both datasets: 2 datasets x 2 methods x 4 shot counts.
  EXPECT_NE(p.find("data-points=\"16\""), std::string::npos);
  EXPECT_EQ(all(p, "<text class=\"panel-title\"[^>]*>([^<]*)</text>"), (std::vector<std::string>{"dtd", "cars"}));
  // Each panel holds its own dataset's curves: cars values lie below 50 %, dtd values above.
  size_t cars_at = p.find("data-title=\"cars\"");
  ASSERT_NE(cars_at, std::string::npos);
  std::string dtd_panel = p.substr(0, cars_at), cars_panel = p.substr(cars_at);
  for (const auto& [panel, above] : {std::pair{dtd_panel, true}, std::pair{cars_panel, false}}) {
    auto ys = all(panel, "class=\"pt\"[^>]*data-y=\"([^\"]+)\"");
    ASSERT_EQ(ys.size(), 8u);
    for (const auto& y : ys) EXPECT_EQ(std::stod(y) > 50.0, above) << y;
    EXPECT_EQ(all(panel, "<g class=\"series\" data-name=\"([^\"]+)\"").size(), 2u);
  }
  // One legend for the figure, each method once.
  EXPECT_EQ(all(p, "(<g class=\"legend\">)").size(), 1u);
}

TEST(Plots, ShotsAxisIsLogarithmicWithTicksAtTheShotCounts) {
  for (const auto& datasets : {std::vector<std::string>{"dtd"}, std::vector<std::string>{"dtd", "cars"}}) {
    Leaderboard lb = build_leaderboard(shots_sweep(datasets, {1, 2, 4, 8}, 1), "sweep");
    std::string p = plot_titled(sweep_plots(lb), "vs shots");
    ASSERT_FALSE(p.empty());
    auto ticks = x_ticks(p);
    ASSERT_EQ(ticks.size() % 4, 0u);
    std::vector<double> at;
    for (double k : {1.0, 2.0, 4.0, 8.0}) {
      ASSERT_TRUE(ticks.count(k)) << "no tick at " << k << "\n" << p.substr(0, 3000);
      at.push_back(ticks.at(k));
    }
    EXPECT_EQ(ticks.size(), 4u) << "ticks only at the shot counts";
    // Each doubling is the same step: a log axis, not a linear one (where 4 -> 8 is 4x 1 -> 2).
    double step = at[1] - at[0];
    EXPECT_GT(step, 20.0);
    EXPECT_NEAR(at[2] - at[1], step, 0.02);
    EXPECT_NEAR(at[3] - at[2], step, 0.02);
    EXPECT_NE(p.find("shots per class (log scale)"), std::string::npos);
  }
}

TEST(Plots, AxesSpanningLessThan8xStayLinearAndWideOnesGoLog) {
  std::vector<RunRecord> runs = shots_sweep({"dtd"}, {4}, 1);
  std::vector<RunRecord> swept;
  for (const char* spread : {"0.2", "0.4", "0.8"})
    for (auto r : runs) {
      r.dir += std::string("_") + spread;
      r.config["dataset.params.spread"] = spread;
      swept.push_back(r);
    }
  Leaderboard lb = build_leaderboard(swept, "spread");
  std::string p = plot_titled(sweep_plots(lb), "vs spread");
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.find("(log scale)"), std::string::npos);
  EXPECT_NEAR(x_ticks(p).at(0.4) - x_ticks(p).at(0.2), x_ticks(p).at(0.6) - x_ticks(p).at(0.4), 0.02);

  for (auto& r : swept)
    if (r.config["dataset.params.spread"] == "0.8") r.config["dataset.params.spread"] = "1.6";
  std::string wide = plot_titled(sweep_plots(build_leaderboard(swept, "spread")), "vs spread");
  EXPECT_NE(wide.find("spread (log scale)"), std::string::npos);  // 0.2 .. 1.6 spans 8x
  auto t = x_ticks(wide);  // ticks at the swept values, 0.4 -> 1.6 twice as far as 0.2 -> 0.4
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NEAR(t.at(1.6) - t.at(0.4), 2 * (t.at(0.4) - t.at(0.2)), 0.05);
}

TEST(Plots, BandsWhereSeedsSpreadAndTheLegendSaysWhat) {
  Leaderboard three = build_leaderboard(shots_sweep({"dtd", "cars"}, {1, 2, 4, 8}, 3), "sweep");
  EXPECT_EQ(plot_bands(three).kind, PlotBands::Kind::kSeedStd);
  std::string p = plot_titled(sweep_plots(three), "vs shots");
  // One band per curve: 2 panels x 2 methods, and the legend names the std.
  EXPECT_EQ(all(p, "(<polygon class=\"band\")").size(), 4u);
  EXPECT_EQ(all(p, "<text class=\"band-label\"[^>]*>([^<]*)</text>"), (std::vector<std::string>{"band: ± std over seeds"}));
  std::string bars = bar_plot(three);
  EXPECT_EQ(all(bars, "(class=\"errorbar\")").size(), 16u);
  EXPECT_NE(bars.find("error bars: ± std over seeds"), std::string::npos);

  // One seed: no spread, so no band and no legend entry for one.
  Leaderboard one = build_leaderboard(shots_sweep({"dtd", "cars"}, {1, 2, 4, 8}, 1), "sweep");
  std::string q = plot_titled(sweep_plots(one), "vs shots");
  EXPECT_EQ(q.find("class=\"band"), std::string::npos);
  EXPECT_EQ(bar_plot(one).find("class=\"errorbar\""), std::string::npos);
}

TEST(Plots, IntervalBandsWhereValidAndNoneElse) {
  Leaderboard lb = build_leaderboard(shots_sweep({"dtd", "cars"}, {1, 2, 4, 8}, 3), "sweep");
  // Per-sample intervals for every cell; ncm's on cars are not valid (no stored predictions).
  int valid = 0;
  for (const auto& row : lb.rows)
    for (const auto& col : lb.columns) {
      const Cell* c = find_cell(lb, "cls/top1", row, col);
      ASSERT_NE(c, nullptr);
      CellInterval& ci = lb.intervals["cls/top1"][row][col];
      ci.lo = c->mean - 0.05;
      ci.hi = c->mean + 0.0625;
      ci.resamples = 1000;
      ci.effective_seeds = 3;
      ci.valid = !(row == "ncm" && col.rfind("cars", 0) == 0);
      valid += ci.valid;
    }
  ASSERT_EQ(valid, 12);
  EXPECT_EQ(plot_bands(lb).kind, PlotBands::Kind::kInterval);
  std::string p = plot_titled(sweep_plots(lb), "vs shots");
  EXPECT_EQ(all(p, "<text class=\"band-label\"[^>]*>([^<]*)</text>"), (std::vector<std::string>{"band: 95% bootstrap CI"}));
  // Three bands (dtd: both methods, cars: zeroshot), not four: no std stands in for ncm on cars.
  EXPECT_EQ(all(p, "(<polygon class=\"band\")").size(), 3u);
  size_t cars_at = p.find("data-title=\"cars\"");
  std::string cars_ncm = p.substr(p.find("data-name=\"ncm\"", cars_at));
  EXPECT_EQ(cars_ncm.substr(0, cars_ncm.find("</g>")).find("class=\"band"), std::string::npos);
  // The band is the interval, not mean ± std: zeroshot on dtd at 1 shot is 61 % [56, 67.25].
  EXPECT_NE(p.find("zeroshot: 1 → 61 [56, 67.25]"), std::string::npos) << p.substr(0, 4000);
  std::string bars = bar_plot(lb);
  EXPECT_EQ(all(bars, "(class=\"errorbar\")").size(), 12u);
  EXPECT_NE(bars.find("error bars: 95% bootstrap CI"), std::string::npos);

  // Intervals computed but none valid (no run stored predictions): the seed std again.
  for (auto& [row, by_col] : lb.intervals["cls/top1"])
    for (auto& [col, ci] : by_col) ci.valid = false;
  EXPECT_EQ(plot_bands(lb).kind, PlotBands::Kind::kSeedStd);
  EXPECT_EQ(all(plot_titled(sweep_plots(lb), "vs shots"), "(<polygon class=\"band\")").size(), 4u);
}

TEST(Plots, ValueTicksAndTextWidth) {
  auto t = svg::value_ticks({8, 1, 2, 4, 2}, true);
  EXPECT_EQ(t.at, (std::vector<double>{1, 2, 4, 8}));
  EXPECT_LT(t.lo, 1.0);
  EXPECT_GT(t.hi, 8.0);
  EXPECT_NEAR(std::log(1.0 / t.lo), std::log(t.hi / 8.0), 1e-9);  // padded alike in log space
  EXPECT_THROW(svg::value_ticks({0, 1}, true), Error);
  EXPECT_THROW(svg::value_ticks({}, false), Error);
  EXPECT_GT(svg::text_width("WWWW"), svg::text_width("iiii"));
  EXPECT_NEAR(svg::text_width("é"), svg::text_width("a") * 0.8 / 0.66, 1e-9);  // one code point
}

// ---- Chromium: the label boxes as laid out ----

const char* kChromium = "/usr/bin/chromium";

// For every svg of the page: each x label's box (getBBox through its own rotation, getCTM) as a
// quadrilateral; counts pairs that intersect (separating-axis test) and corners outside the svg.
const char* kLabelCheck = R"(<script>
function quad(el){var b=el.getBBox(),m=el.getCTM();
  return [[b.x,b.y],[b.x+b.width,b.y],[b.x+b.width,b.y+b.height],[b.x,b.y+b.height]].map(function(p){
    return [m.a*p[0]+m.c*p[1]+m.e,m.b*p[0]+m.d*p[1]+m.f];});}
function apart(P,Q){var all=[P,Q];for(var k=0;k<2;k++){var R=all[k];for(var i=0;i<4;i++){
  var a=R[i],b=R[(i+1)%4],nx=b[1]-a[1],ny=a[0]-b[0];
  var p=P.map(function(v){return v[0]*nx+v[1]*ny;}),q=Q.map(function(v){return v[0]*nx+v[1]*ny;});
  if(Math.max.apply(null,p)<=Math.min.apply(null,q)+1e-6||Math.max.apply(null,q)<=Math.min.apply(null,p)+1e-6)return true;}}
  return false;}
var out=[];
document.querySelectorAll('svg.plot').forEach(function(svg){
  var qs=Array.from(svg.querySelectorAll('text.xlabel')).map(quad),overlaps=0,outside=0;
  var W=svg.viewBox.baseVal.width,H=svg.viewBox.baseVal.height;
  for(var i=0;i<qs.length;i++){
    qs[i].forEach(function(c){if(c[0]<0||c[1]<0||c[0]>W||c[1]>H)outside++;});
    for(var j=i+1;j<qs.length;j++)if(!apart(qs[i],qs[j]))overlaps++;}
  out.push('labels='+qs.length+' overlaps='+overlaps+' outside='+outside);});
var pre=document.createElement('pre');pre.id='label-check';pre.textContent=out.join('\n');
document.body.appendChild(pre);
</script>)";

std::string label_report_in_chromium(const test::TempDir& dir, const std::string& html) {
  test::write_text(dir / "page.html", html);
  auto r = test::run_command(std::string(kChromium) +
                             " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
                             " --disable-component-update --disable-sync --user-data-dir=" + dir / "profile" +
                             " --virtual-time-budget=3000 --dump-dom file://" + dir / "page.html");
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 3000);
  std::smatch m;
  if (!std::regex_search(r.output, m, std::regex("<pre id=\"label-check\">([^<]*)</pre>"))) {
    ADD_FAILURE() << "the check script did not run:\n" << r.output.substr(0, 3000);
    return "";
  }
  return m[1].str();
}

TEST(PlotsInChromium, TwelveLongBarLabelsDoNotOverlap) {
  if (!fs::exists(kChromium)) GTEST_SKIP() << kChromium << " not installed: browser check skipped";
  test::TempDir dir;
  svg::BarPlot narrow;  // 12 groups in 310 px: 26 px per group, labels of 35-45 characters
  narrow.title = "twelve long labels";
  svg::Series s{"method", {}, {}, {}, {}};
  for (int g = 0; g < 12; ++g) {
    narrow.groups.push_back("oxford_flowers_WWW, shots=" + std::to_string(1 << g) + ", spread=0.125");
    s.y.push_back(50 + g);
  }
  narrow.series.push_back(s);
  svg::BarPlot short_labels = narrow;  // short labels stay horizontal
  short_labels.groups.assign(12, "k");
  for (int g = 0; g < 12; ++g) short_labels.groups[g] = std::to_string(g);

  // And the page's own bar chart of a 12-column sweep (datasets with long names).
  std::vector<std::string> names;
  for (int d = 0; d < 12; ++d) names.push_back("a_rather_long_dataset_name_" + std::to_string(d));
  Leaderboard lb = build_leaderboard(shots_sweep(names, {4}, 1), "twelve");
  HtmlPageOptions opt;
  opt.generated_at = "fixed";
  std::string page = render_html_page({lb}, opt);
  std::string body = "<div>" + svg::render(narrow) + svg::render(short_labels) + "</div>";
  page.insert(page.find("</body>"), body + kLabelCheck);
  std::string report = label_report_in_chromium(dir, page);
  // The page's bar chart (its first svg), then the two plots added here.
  auto lines = all(report + "\n", "([^\n]+)\n");
  ASSERT_GE(lines.size(), 3u) << report;
  EXPECT_EQ(lines.front(), "labels=12 overlaps=0 outside=0") << report;
  EXPECT_EQ(lines[lines.size() - 2], "labels=12 overlaps=0 outside=0") << report;
  EXPECT_EQ(lines.back(), "labels=12 overlaps=0 outside=0") << report;
  EXPECT_EQ(all(svg::render(narrow), "class=\"xlabel\"[^>]*(rotate)\\(").size(), 12u);
  EXPECT_EQ(all(svg::render(short_labels), "class=\"xlabel\"[^>]*(rotate)\\(").size(), 0u);
}

}  // namespace
}  // namespace vlb
