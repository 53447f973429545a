// `vlb report` with per-sample statistics: bootstrap intervals in every format, ▲/▼ only where a
// Holm-corrected paired per-sample test says so, identical seeds counted once, and runs without
// predictions.h5 shown without marks and with the reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "test_support.h"

namespace vlb {
namespace {

using json = nlohmann::json;
using test::read_text;
using test::run_cli;
using test::TempDir;

using vlb::test::contains;

/// The primary-metric table of the Markdown report (up to the next section).
std::string main_table(const std::string& md) {
  size_t a = md.find("\n## ");
  return md.substr(a, md.find("\n## ", a + 1) - a);
}

std::string run_spec(const TempDir& t, const std::string& name, const std::string& body) {
  test::write_text(t / (name + ".yaml"), "experiment: " + name + "\n" + body);
  auto r = run_cli("run " + t / (name + ".yaml") + " --no-progress --results " + t / "r");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return t / ("r/" + name);
}

const char* kSynth =
    "dataset: {source: synth, params: {classes: 5, dim: 16, train_per_class: 8, test_per_class: 40, "
    "spread: 0.9}}\n";

// Every seed of a deterministic method on the whole training set predicts the same: the seed
// std is 0, so a seed t-interval has zero width and marks any difference. Here ncm is 2 points
// above knn (k=1) on 200 rows, a handful of discordant rows: McNemar p ~ 0.6, no mark.
TEST(ReportStats, IdenticalSeedsAreOneObservationAndASmallDifferenceIsNoMark) {
  TempDir t;
  const std::string exp = run_spec(t, "ident", std::string(kSynth) +
                                                   "methods: [{name: knn, params: {k: 1}}, {name: ncm}]\n"
                                                   "metrics: [top1]\nruntime: {seeds: [0, 1, 2]}\n");
  auto r = run_cli("report " + exp + " --print --html");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(read_text(exp + "/leaderboard.json"));
  const auto& cells = j["cells"]["cls/top1"];
  EXPECT_LT(cells["ncm"][""]["std"].get<double>(), 1e-12);  // equal values, up to rounding
  EXPECT_LT(cells["knn"][""]["std"].get<double>(), 1e-12);
  EXPECT_GT(cells["ncm"][""]["mean"].get<double>(), cells["knn"][""]["mean"].get<double>());
  const auto& c = j["comparisons"]["cls/top1"]["ncm"][""];
  EXPECT_EQ(c["test"], "mcnemar");
  EXPECT_EQ(c["effective_seeds"], 1);
  EXPECT_EQ(c["seeds"], 3);
  EXPECT_TRUE(c["seeds_identical"].get<bool>());
  EXPECT_EQ(c["note"], "seeds identical: effective n = 1");
  EXPECT_GT(c["p_holm"].get<double>(), 0.05);
  EXPECT_EQ(c["mark"], "≈");
  EXPECT_EQ(j["intervals"]["cls/top1"]["ncm"][""]["effective_seeds"], 1);
  const std::string md = main_table(r.output);
  const std::string rows = md.substr(0, md.find("95 %"));  // the legend names the marks
  EXPECT_FALSE(contains(rows, "▲")) << md;
  EXPECT_FALSE(contains(rows, "▼")) << md;
  EXPECT_TRUE(contains(rows, "≈")) << md;
  EXPECT_TRUE(contains(md, "2 cells: seeds identical: effective n = 1.")) << md;
  const std::string html = read_text(exp + "/report.html");
  EXPECT_FALSE(contains(html, "class=\"sig better\"")) << html;
  EXPECT_TRUE(contains(html, "(seeds identical: effective n = 1)")) << html;
}

// The quickstart: at 16 shots the probe is ~20 points above zero-shot, at 4 shots ncm ~14 below.
TEST(ReportStats, ClearlyBetterIsUpClearlyWorseIsDownWithTheTestInTheTooltip) {
  const auto& sweep = test::shared_sweep("quickstart");
  TempDir t;
  auto r = run_cli("report " + sweep.experiment_dir + " --out " + t.path() + " --html --latex --print");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(read_text(t / "leaderboard.json"));
  EXPECT_EQ(j["sample_stats"]["resamples"], 1000);
  EXPECT_EQ(j["sample_stats"]["baseline_row"], "zeroshot");
  const auto& cmp = j["comparisons"];
  EXPECT_EQ(cmp["cls/top1"]["linear_probe"]["shots=16"]["mark"], "▲");
  EXPECT_EQ(cmp["cls/top1"]["ncm"]["shots=4"]["mark"], "▼");
  EXPECT_LT(cmp["cls/top1"]["linear_probe"]["shots=16"]["p_holm"].get<double>(), 1e-10);
  // A per-class mean is not a row mean: the paired bootstrap, smallest p 2 / 1001, Holm x 4.
  const auto& mpc = cmp["cls/mean_per_class"]["linear_probe"]["shots=16"];
  EXPECT_EQ(mpc["test"], "paired bootstrap");
  EXPECT_DOUBLE_EQ(mpc["p"].get<double>(), 2.0 / 1001.0);
  EXPECT_EQ(mpc["mark"], "▲");
  // The zero-shot baseline ignores the seed: its interval counts one seed.
  EXPECT_EQ(j["intervals"]["cls/top1"]["zeroshot"]["shots=16"]["effective_seeds"], 1);
  const auto& iv = j["intervals"]["cls/top1"]["linear_probe"]["shots=16"];
  const double mean = j["cells"]["cls/top1"]["linear_probe"]["shots=16"]["mean"];
  EXPECT_LT(iv["lo"].get<double>(), mean);
  EXPECT_GT(iv["hi"].get<double>(), mean);

  const std::string md = main_table(r.output);
  EXPECT_TRUE(std::regex_search(md, std::regex("\\| linear_probe \\| [0-9.]+ ± [0-9.]+ \\[[0-9.]+, [0-9.]+\\] "
                                               "\\(n=3\\) ▼ \\| \\*\\*[0-9.]+ ± [0-9.]+ \\[[0-9.]+, [0-9.]+\\] \\(n=3\\)\\*\\* ▲ \\|")))
      << md;
  EXPECT_TRUE(contains(md, "95 % percentile bootstrap over rows (and seeds), 1,000 resamples; ▲/▼: "
                           "Holm-corrected paired test at 5 %")) << md;
  // One unit: Δ, its interval and the seed summary in points, like the table.
  const std::string html = read_text(t / "report.html");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("title=\"mcnemar vs zeroshot: Δ ([-+0-9.]+) pts, 95 % "
                                                    "interval \\[[-+0-9.]+, [-+0-9.]+\\] pts, p = [-0-9.e+]+, "
                                                    "Holm p = [-0-9.e+]+, 1000 rows, effective seeds 3 of 3\">▲<")))
      << html;
  EXPECT_GT(std::stod(m[1]), 5.0);  // points, not a fraction
  EXPECT_TRUE(contains(html, "over seeds: vs zeroshot: Δ mean +")) << html;
  EXPECT_TRUE(std::regex_search(html, std::regex("Δ mean [-+][0-9]+\\.[0-9]{2} pts")));
  const std::string tex = read_text(t / "leaderboard.tex");
  EXPECT_TRUE(contains(tex, "$^{\\uparrow}$")) << tex;
  EXPECT_TRUE(contains(tex, "1,000 resamples")) << tex;
  EXPECT_TRUE(std::regex_search(tex, std::regex("\\$\\\\pm\\$ [0-9.]+ \\[[0-9.]+, [0-9.]+\\]"))) << tex;

  // --resamples 0: no intervals, no tests, no marks; the same seed gives the same report.
  auto none = run_cli("report " + sweep.experiment_dir + " --out " + t.path() + " --print --resamples 0");
  ASSERT_EQ(none.exit_code, 0) << none.output;
  EXPECT_FALSE(contains(main_table(none.output), "▲")) << none.output;
  EXPECT_FALSE(contains(main_table(none.output), "bootstrap")) << none.output;
  EXPECT_FALSE(contains(main_table(none.output), "[")) << none.output;
  auto a = run_cli("report " + sweep.experiment_dir + " --out " + t.path() + " --print --stat-seed 5");
  auto b = run_cli("report " + sweep.experiment_dir + " --out " + t.path() + " --print --stat-seed 5");
  EXPECT_EQ(a.output, b.output);
}

TEST(ReportStats, RunsWithoutPredictionsShowNoMarksAndSayWhy) {
  TempDir t;
  const std::string exp = run_spec(t, "nopred", std::string(kSynth) +
                                                    "methods: [{name: zeroshot}, {name: ncm}]\nmetrics: [top1]\n"
                                                    "runtime: {seeds: [0, 1], predictions: none}\n");
  auto r = run_cli("report " + exp + " --print --html");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = main_table(r.output);
  for (const char* mark : {"▲", "▼", "≈"})
    EXPECT_FALSE(contains(md.substr(0, md.find("95 %")), mark)) << md;
  EXPECT_TRUE(contains(md, "2 cells: no per-sample predictions: no test.")) << md;
  EXPECT_TRUE(contains(r.output, "vlb report: 4 run(s) without per-sample statistics (no per-sample predictions")) << r.output;
  json j = json::parse(read_text(exp + "/leaderboard.json"));
  EXPECT_EQ(j["comparisons"]["cls/top1"]["ncm"][""]["note"], "no per-sample predictions: no test");
  EXPECT_EQ(j["comparisons"]["cls/top1"]["ncm"][""]["mark"], "");
  const std::string html = read_text(exp + "/report.html");
  EXPECT_FALSE(contains(html, "class=\"sig ")) << html;
  EXPECT_TRUE(contains(html, "no per-sample predictions: no test")) << html;
}

TEST(ReportStats, HelpListsTheOptions) {
  auto r = run_cli("report --help");
  EXPECT_TRUE(contains(r.output, "--resamples")) << r.output;
  EXPECT_TRUE(contains(r.output, "--stat-seed")) << r.output;
  auto bad = run_cli("report results/none --resamples -1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace vlb
