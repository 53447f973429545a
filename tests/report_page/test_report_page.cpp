// The quickstart's report page, checked as a person would in a real browser (headless Chromium):
// scripts run without console errors, no request leaves file:/data:/about:, every plot has data,
// the main table shows the Markdown report's cells, and a full-page screenshot is taken.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using vlb::test::read_text;
using vlb::test::run_cli;
using vlb::test::run_command;
using vlb::test::TempDir;

const char* kChromium = "/usr/bin/chromium";

// Why the browser checks cannot run here, or "" when they can: they need Chromium, and python3
// to read Chromium's JSON net log.
std::string browser_check_unavailable() {
  if (!fs::exists(kChromium)) return std::string(kChromium) + " not installed: browser check skipped";
  if (vlb::test::system_python_with("json").empty())
    return "/usr/bin/python3 not available (it reads Chromium's net log): browser check skipped";
  return "";
}

std::string chromium_cmd(const TempDir& dir, const std::string& extra) {
  // Flags for running as root in a container, with nothing that phones home.
  return std::string(kChromium) +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
         " --disable-background-networking --disable-component-update --disable-sync"
         " --disable-default-apps --mute-audio --hide-scrollbars --user-data-dir=" +
         dir / "profile" + " " + extra;
}

std::vector<std::string> main_cells(const std::string& html) {
  size_t a = html.find("<table class=\"main");
  if (a == std::string::npos) return {};
  size_t b = html.find("</table>", a);
  std::string t = html.substr(a, b - a);
  std::vector<std::string> cells;
  std::regex v("<span class=\"v\">([^<]*)</span>");
  for (auto it = std::sregex_iterator(t.begin(), t.end(), v); it != std::sregex_iterator(); ++it)
    cells.push_back((*it)[1].str());
  return cells;
}

std::vector<std::string> markdown_cells(const std::string& md) {
  std::vector<std::string> cells;
  size_t at = md.find("\n## ");
  std::string table = md.substr(at, md.find("\n## ", at + 1) - at);
  std::regex row_re("\\n\\| ([^\\n]*) \\|(?=\\n)");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row_re); it != std::sregex_iterator(); ++it) {
    std::string line = (*it)[1].str();
    if (line.rfind("method", 0) == 0 || line.rfind("---", 0) == 0) continue;
    for (size_t pos = line.find(" | "); pos != std::string::npos;) {
      size_t next = line.find(" | ", pos + 3);
      // Bold and the test's mark (a separate element on the page) removed.
      cells.push_back(std::regex_replace(
          line.substr(pos + 3, next == std::string::npos ? std::string::npos : next - pos - 3),
          std::regex("\\*\\*| (▲|▼|≈)$"), ""));
      pos = next;
    }
  }
  return cells;
}

/// What the browser saw when loading a page: the DOM after scripts ran, console lines, and the
/// URLs the page itself requested that are not local. Requests Chromium makes on its own
/// (component updater, sign-in, network time: initiator "not an origin") are not the page's.
struct BrowserFindings {
  int exit_code = -1;
  std::string dom, console, external, log;
};

BrowserFindings load_in_chromium(const TempDir& dir, const std::string& url) {
  BrowserFindings f;
  std::string py = vlb::test::system_python_with("json");
  if (py.empty()) {
    f.log = "python3 needed to read the net log";
    return f;
  }
  fs::remove_all(dir / "profile");
  auto dom = run_command(chromium_cmd(dir, "--enable-logging=stderr --v=0 --log-net-log=" + dir / "net.json" +
                                               " --virtual-time-budget=3000 --dump-dom " + url));
  f.exit_code = dom.exit_code;
  f.dom = dom.output;  // run_command merges stderr: the DOM and chromium's log lines together
  const std::string& err = dom.output;
  std::regex console_line("[^\\n]*:CONSOLE[^\\n]*");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), console_line); it != std::sregex_iterator(); ++it)
    f.console += (*it).str() + "\n";
  vlb::test::write_text(dir / "urls.py", R"(
import json, sys, re
text = open(sys.argv[1]).read().rstrip().rstrip(',')
if not text.endswith('}'):  # chromium may leave the events array unterminated
    text += ']}'
bad = set()
for e in json.loads(text).get('events', []):
    p = e.get('params') or {}
    url, initiator = p.get('url'), p.get('initiator')
    if isinstance(url, str) and initiator not in (None, 'not an origin') \
            and not re.match(r'^(file|data|about|blob):', url):
        bad.add(url)
print('\n'.join(sorted(bad)), end='')
)");
  auto urls = run_command(py + " " + dir / "urls.py " + dir / "net.json");
  f.external = urls.output;
  if (urls.exit_code != 0) f.log = "net log unreadable: " + urls.output;
  return f;
}

TEST(ReportPage, TheBrowserCheckCatchesExternalRequestsAndConsoleErrors) {
  if (auto why = browser_check_unavailable(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  // Reserved example domains; the request fails offline, but it is attempted and logged.
  vlb::test::write_text(dir / "bad.html",
                        "<!DOCTYPE html><html><body><img src=\"https://example.com/x.png\">"
                        "<script>console.error('boom')</script></body></html>");
  auto f = load_in_chromium(dir, "file://" + dir / "bad.html");
  ASSERT_TRUE(f.log.empty()) << f.log;
  EXPECT_NE(f.external.find("https://example.com/x.png"), std::string::npos) << f.external;
  EXPECT_NE(f.console.find("boom"), std::string::npos) << f.console;
}

// Writes the page of experiments/specs/<spec>.yaml (a copy of its shared sweep) and checks it as
// a person would.
void check_page_in_chromium(const TempDir& dir, const std::string& spec, size_t expected_cells,
                            size_t min_plots, bool keep_screenshot) {
  std::string exp = vlb::test::copy_experiment(vlb::test::shared_sweep(spec).experiment_dir, dir.path());
  auto rep = run_cli("report " + exp + " --html");
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  std::string page = exp + "/report.html";
  ASSERT_TRUE(fs::exists(page));
  std::string url = "file://" + fs::absolute(page).string();

  // 1. Scripts ran, nothing on the console, no request left the machine.
  auto f = load_in_chromium(dir, url);
  ASSERT_EQ(f.exit_code, 0) << f.dom.substr(0, 4000);
  ASSERT_TRUE(f.log.empty()) << f.log;
  EXPECT_NE(f.dom.find("data-ready=\"1\""), std::string::npos) << "the page's inline script did not finish";
  EXPECT_EQ(f.console, "") << "console messages";
  EXPECT_EQ(f.external, "") << "external requests";

  // 2. Every plot has data.
  const std::string& html = f.dom;
  size_t plots = 0;
  std::regex svg_re("<svg[^>]*class=\"plot\"[^>]*data-points=\"(\\d+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), svg_re); it != std::sregex_iterator(); ++it) {
    ++plots;
    EXPECT_GT(std::stoi((*it)[1].str()), 0) << (*it)[0].str();
  }
  EXPECT_GE(plots, min_plots);

  // 3. The main table shows the Markdown report's cells, in the same order.
  auto md = run_cli("report " + exp + " --format markdown");
  ASSERT_EQ(md.exit_code, 0) << md.output;
  auto expected = markdown_cells(read_text(exp + "/leaderboard.md"));
  ASSERT_EQ(expected.size(), expected_cells);
  EXPECT_EQ(main_cells(html), expected);

  // 4. A full-page screenshot renders (the quickstart's is kept: docs/report-quickstart.png).
  std::string png = dir / "page.png";
  auto shot = run_command(chromium_cmd(dir, "--screenshot=" + png + " --window-size=1280,2000 " + url));
  ASSERT_EQ(shot.exit_code, 0) << shot.output.substr(0, 4000);
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u) << "screenshot suspiciously small (blank page?)";
  const char* keep = std::getenv("VLB_KEEP_SCREENSHOT");
  if (keep_screenshot && keep) fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
}

TEST(ReportPage, QuickstartRendersCleanlyInHeadlessChromium) {
  if (auto why = browser_check_unavailable(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  // 3 methods x 2 shot settings; bar chart, metric vs shots, one cost scatter per column.
  check_page_in_chromium(dir, "quickstart", 6, 3, true);
}

TEST(ReportPage, MethodSweepRendersCleanlyInHeadlessChromium) {
  if (auto why = browser_check_unavailable(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  // CODER's CI sweep: 8 rows (three text-type settings of coder_zeroshot, coder_star, the two
  // adapters, two baselines) x 2 shot settings.
  check_page_in_chromium(dir, "coder_synth", 16, 3, false);
}

}  // namespace
