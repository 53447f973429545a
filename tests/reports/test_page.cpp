// The HTML page and LaTeX table built from the Leaderboard model: same cell text as Markdown,
// baseline Δ and marks, swept axes, links, paper values; plus the CLI path on the quickstart.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/reports/page.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

namespace fs = std::filesystem;

// Fixture values (cls/top1 per seed 0, 1, 2), dyadic so means are exact:
//   zeroshot            shots=4: .5 .5 .5        shots=16: .5 .5 .5
//   ncm                 shots=4: .625 .5 .75     shots=16: .75 .75 .75
//   linear_probe l2=1e-4 shots=4: .5 .625 .625   shots=16: .875 .875 .875
//   linear_probe l2=1e-2 shots=4: .25 .25 .25    shots=16: .5 .625 .75
std::vector<RunRecord> fixture_runs() {
  struct Row {
    std::string method, l2;
    std::vector<double> s4, s16;
  };
  std::vector<Row> rows = {{"zeroshot", "", {.5, .5, .5}, {.5, .5, .5}},
                           {"ncm", "", {.625, .5, .75}, {.75, .75, .75}},
                           {"linear_probe", "0.0001", {.5, .625, .625}, {.875, .875, .875}},
                           {"linear_probe", "0.01", {.25, .25, .25}, {.5, .625, .75}}};
  std::vector<RunRecord> runs;
  int plan = 0;
  for (const char* shots : {"4", "16"})
    for (const auto& row : rows)
      for (int seed = 0; seed < 3; ++seed) {
        RunRecord r;
        r.dir = "/tmp/results/demo/" + row.method + row.l2 + "_" + shots + "_" + std::to_string(seed);
        r.run_key = r.dir;
        r.status = "ok";
        r.method = row.method;
        r.seed = seed;
        r.plan_index = plan++;
        r.config = {{"method.name", row.method}, {"runtime.seed", std::to_string(seed)},
                    {"dataset.shots", shots}};
        if (!row.l2.empty()) r.config["method.params.l2"] = row.l2;
        double v = std::string(shots) == "4" ? row.s4[seed] : row.s16[seed];
        r.metrics = {{"cls/top1", v}, {"cls/top5", 1.0}};
        r.higher_is_better = {{"cls/top1", true}, {"cls/top5", true}};
        r.wall_seconds = row.method == "linear_probe" ? 2.0 : 0.01 * (seed + 1);
        r.env = {{"git_sha", "0123456789abcdef"}, {"git_dirty", "true"}, {"threads", "1"},
                 {"torch_version", "1.13.0"}, {"dataset.source", "synth"},
                 {"dataset.fingerprint", "feedbeef"}, {"started_at", "2026-01-0" + std::to_string(seed + 1) + "T00:00:00Z"}};
        runs.push_back(r);
      }
  return runs;
}

/// The cells of the Markdown report's first table (primary metric), bold marks removed.
std::vector<std::string> markdown_main_cells(const std::string& md) {
  std::vector<std::string> cells;
  size_t at = md.find("\n## ");
  size_t end = md.find("\n## ", at + 1);
  std::string table = md.substr(at, end - at);
  std::regex row_re("\\n\\| ([^\\n]*) \\|(?=\\n)");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row_re); it != std::sregex_iterator(); ++it) {
    std::string line = (*it)[1].str();
    if (line.rfind("method", 0) == 0 || line.rfind("---", 0) == 0) continue;
    size_t pos = line.find(" | ");  // skip the row label
    while (pos != std::string::npos) {
      size_t next = line.find(" | ", pos + 3);
      std::string cell = line.substr(pos + 3, next == std::string::npos ? std::string::npos : next - pos - 3);
      cell = std::regex_replace(cell, std::regex("\\*\\*"), "");
      cells.push_back(cell);
      pos = next;
    }
  }
  return cells;
}

std::vector<std::string> html_main_cells(const std::string& html) {
  size_t a = html.find("<table class=\"main");
  size_t b = html.find("</table>", a);
  std::string t = html.substr(a, b - a);
  std::vector<std::string> cells;
  std::regex v("<span class=\"v\">([^<]*)</span>");
  for (auto it = std::sregex_iterator(t.begin(), t.end(), v); it != std::sregex_iterator(); ++it)
    cells.push_back((*it)[1].str());
  return cells;
}

class Page : public ::testing::Test {
 protected:
  void SetUp() override { lb = build_leaderboard(fixture_runs(), "demo"); }
  Leaderboard lb;
};

TEST_F(Page, ModelKeepsSeedsWallTimeEnvAndLabelConfig) {
  ASSERT_EQ(lb.rows.size(), 4u);
  EXPECT_EQ(lb.rows[2], "linear_probe (l2=0.0001)");
  EXPECT_EQ(lb.seed_values["cls/top1"]["ncm"]["shots=4"].at(2), 0.75);
  EXPECT_EQ(lb.run_dirs["ncm"]["shots=16"].size(), 3u);
  EXPECT_DOUBLE_EQ(lb.wall_seconds["ncm"]["shots=4"].mean, 0.02);  // (0.01+0.02+0.03)/3
  EXPECT_EQ(lb.row_config["linear_probe (l2=0.01)"]["method.params.l2"], "0.01");
  EXPECT_EQ(lb.column_config["shots=16"]["dataset.shots"], "16");
  EXPECT_EQ(lb.env.git_shas, (std::vector<std::string>{"0123456789abcdef"}));
  EXPECT_TRUE(lb.env.any_dirty);
  EXPECT_EQ(lb.env.versions["torch"], "1.13.0");
  EXPECT_EQ(lb.env.datasets["synth"], "feedbeef");
  EXPECT_EQ(lb.env.first_started, "2026-01-01T00:00:00Z");
  EXPECT_EQ(lb.env.last_started, "2026-01-03T00:00:00Z");
  EXPECT_EQ(numeric_sweep_axes(lb), (std::vector<std::string>{"dataset.shots", "method.params.l2"}));
}

TEST_F(Page, MainTableShowsTheMarkdownCellsDeltasAndMarks) {
  HtmlPageOptions opt;
  opt.command = "vlb report results/demo --html";
  opt.generated_at = "fixed";
  std::string html = render_html_page({lb}, opt);
  ReportWriterRegistry reg("report writer");
  register_builtin_writers(reg);
  std::string md = reg.create("markdown", Params{})->render(lb);
  auto md_cells = markdown_main_cells(md);
  ASSERT_EQ(md_cells.size(), 8u) << md;
  EXPECT_EQ(html_main_cells(html), md_cells);
  EXPECT_NE(html.find("vlb report results/demo --html"), std::string::npos);
  // Baseline: the first row (zeroshot). ncm at 16 shots: +25.00 points.
  EXPECT_NE(html.find("Δ +25.00</span>"), std::string::npos);
  // ncm at 4 shots: diffs .125, 0, .25 -> the seed summary in the tooltip, in points like the table.
  EXPECT_NE(html.find("Δ +12.50</span>"), std::string::npos);
  EXPECT_NE(html.find("Δ mean +12.50 pts"), std::string::npos) << html;
  // Marks come only from per-sample tests, which an in-memory leaderboard has none of: no mark
  // (the old seed t-interval marked zero-spread differences), and the page says why.
  EXPECT_EQ(html.find("class=\"sig "), std::string::npos);
  EXPECT_NE(html.find("No per-sample intervals or tests"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"base\">baseline</span>"), std::string::npos);
  // Self-contained: no external resources.
  for (const char* bad : {"src=\"http", "href=\"http", "@import", "url(", "<link"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  // Plots: one bar chart, metric vs shots, linear_probe vs l2, and two cost scatters.
  size_t n_svg = 0;
  for (size_t p = html.find("<svg "); p != std::string::npos; p = html.find("<svg ", p + 1)) ++n_svg;
  EXPECT_EQ(n_svg, 5u);
  EXPECT_NE(html.find("cls/top1 of linear_probe vs l2"), std::string::npos);
  EXPECT_EQ(html.find("data-points=\"0\""), std::string::npos);
  // Detail tables link each run's resolved config.
  EXPECT_NE(html.find("ncm_16_2/config.resolved.yaml"), std::string::npos);
  EXPECT_NE(html.find("dirty"), std::string::npos);
}

TEST_F(Page, ChosenBaselineRowAndPaperValues) {
  HtmlPageOptions opt;
  opt.baseline_row = "ncm";
  test::TempDir dir;
  test::write_text(dir / "paper.yaml",
                   "values:\n  - {row: ncm, column: shots=16, value: 0.8, source: \"Paper Tab. 1\"}\n");
  opt.paper = load_paper_values(dir / "paper.yaml");
  std::string html = render_html_page({lb}, opt);
  // zeroshot vs ncm at 16 shots: -25 points; paper Δ for ncm: 75 - 80 = -5.
  EXPECT_NE(html.find("Δ -25.00"), std::string::npos);
  EXPECT_NE(html.find("paper 80.00 (Δ -5.00)"), std::string::npos);
  EXPECT_NE(html.find("Paper Tab. 1"), std::string::npos);
}

TEST_F(Page, BaselineRowResolution) {
  EXPECT_EQ(resolve_baseline_row(lb, ""), "zeroshot");
  EXPECT_EQ(resolve_baseline_row(lb, "ncm"), "ncm");
  EXPECT_EQ(resolve_baseline_row(lb, "linear_probe (l2=0.01"), "linear_probe (l2=0.01)");
  try {
    resolve_baseline_row(lb, "linear");
    FAIL() << "ambiguous prefix accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("matches several rows"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_baseline_row(lb, "clip"), Error);
}

TEST(PaperValues, MalformedFilesNameTheEntry) {
  test::TempDir dir;
  test::write_text(dir / "a.yaml", "values:\n  - {row: ncm, value: 0.5}\n  - {row: ncm, value: abc}\n");
  try {
    load_paper_values(dir / "a.yaml");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("values[1].value"), std::string::npos) << e.what();
  }
  test::write_text(dir / "b.yaml", "values:\n  - {row: ncm, valeu: 0.5}\n");
  EXPECT_THROW(load_paper_values(dir / "b.yaml"), DataError);
  test::write_text(dir / "c.yaml", "rows: []\n");
  EXPECT_THROW(load_paper_values(dir / "c.yaml"), DataError);
  EXPECT_THROW(load_paper_values(dir / "missing.yaml"), DataError);
}

TEST_F(Page, LatexIsBooktabsWithTheSameCells) {
  std::string tex = render_latex(lb, "zeroshot");
  EXPECT_NE(tex.find("\\toprule"), std::string::npos);
  EXPECT_NE(tex.find("\\midrule"), std::string::npos);
  EXPECT_NE(tex.find("\\bottomrule"), std::string::npos);
  EXPECT_NE(tex.find("linear\\_probe (l2=0.0001)"), std::string::npos);
  // Best at 16 shots: linear_probe l2=1e-4, 87.50 ± 0.00, with Δ +37.50 to zeroshot.
  EXPECT_NE(tex.find("\\textbf{87.50 $\\pm$ 0.00} (+37.50)"), std::string::npos) << tex;
  EXPECT_NE(tex.find("cls/top1 (\\%)"), std::string::npos);
}

}  // namespace
}  // namespace vlb
