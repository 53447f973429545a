// `vlb report --format tidy` (one row per run and metric, CSV and JSON Lines) and `--aux`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gate_fixture.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

using gate_test::contains;
using gate_test::sweep;
using gate_test::write_all;
using test::read_text;
using test::run_cli;
using test::run_command;
using test::TempDir;

std::string with_aux(const TempDir& t) {
  const std::string exp = t / "fewshot";
  auto runs = sweep("/data/a", 1);
  auto more = sweep("/data/a", 4, 6);
  runs.insert(runs.end(), more.begin(), more.end());
  for (auto& r : runs)
    if (r.method == "linear_probe") r.aux = {{"alpha", 0.5 + r.seed}, {"epochs", 10.0 * (r.seed + 1)}};
  write_all(exp, runs);
  return exp;
}

TEST(Export, TidyFilesHaveOneRowPerRunAndMetricWithEveryAxis) {
  TempDir t;
  const std::string exp = with_aux(t);
  auto r = run_cli("report " + exp + " --format tidy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string csv = exp + "/leaderboard.tidy.csv", jsonl = exp + "/leaderboard.tidy.jsonl";
  ASSERT_TRUE(test::exists(csv)) << r.output;
  ASSERT_TRUE(test::exists(jsonl)) << r.output;

  std::string py = test::system_python_with("csv, json");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 not found: tidy parse check skipped";
  // 12 runs: 12 cls/top1 rows + 6 linear_probe runs x 2 aux values = 24 rows in each file.
  const std::string script =
      "import csv, json, sys\n"
      "rows = list(csv.DictReader(open(sys.argv[1])))\n"
      "lines = [json.loads(l) for l in open(sys.argv[2])]\n"
      "need = ['experiment', 'run_key', 'run_dir', 'method', 'dataset', 'dataset_fingerprint', 'seed',\n"
      "        'dataset.shots', 'method.params.l2', 'metric', 'value', 'kind']\n"
      "missing = [c for c in need if c not in rows[0]]\n"
      "top1 = [r for r in rows if r['metric'] == 'cls/top1']\n"
      "mean = sum(float(r['value']) for r in top1 if r['method'] == 'linear_probe' and r['dataset.shots'] == '4') / 3\n"
      "alpha = sorted(l['value'] for l in lines if l['metric'] == 'alpha' and l['dataset.shots'] == '1')\n"
      "print(len(rows), len(lines), missing, len(set(r['run_key'] for r in rows)), mean, alpha,\n"
      "      sorted(set(r['seed'] for r in rows)), rows[0]['dataset'], 'path' in ''.join(rows[0].keys()),\n"
      "      type(lines[0]['seed']).__name__, lines[0]['dataset_path'])\n";
  test::write_text(t / "check.py", script);
  auto p = run_command(py + " " + (t / "check.py") + " " + csv + " " + jsonl);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_EQ(p.output, "24 24 [] 12 0.625 [0.5, 1.5, 2.5] ['0', '1', '2'] dtd False int /data/a/dtd.h5\n");
}

// The README's pandas lines, where pandas is there to run them.
TEST(Export, TidyCsvLoadsInPandasAsTheReadmeShows) {
  TempDir t;
  const std::string exp = with_aux(t);
  ASSERT_EQ(run_cli("report " + exp + " --format tidy").exit_code, 0);
  const std::string csv = exp + "/leaderboard.tidy.csv";
  std::string pandas = test::system_python_with("pandas");
  if (pandas.empty()) GTEST_SKIP() << "pandas not installed for /usr/bin/python3: README snippet not run";
  auto s = run_command(pandas + " -c \"import pandas as pd; t = pd.read_csv('" + csv +
                       "'); print(t[t.metric == 'cls/top1'].groupby(['method', 'dataset.shots']).value.mean()"
                       ".round(3).to_dict())\"");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_TRUE(contains(s.output, "('linear_probe', 4): 0.625")) << s.output;
}

TEST(Export, AuxNumbersPerCellInMarkdownAndJson) {
  TempDir t;
  const std::string exp = with_aux(t);
  auto plain = run_cli("report " + exp + " --print");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_FALSE(contains(plain.output, "## Aux")) << plain.output;
  auto r = run_cli("report " + exp + " --print --aux");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "## Aux: alpha\n\n| method | shots=1 | shots=4 |")) << r.output;
  // alpha over seeds 0..2: 0.5, 1.5, 2.5 -> mean 1.5, sample std 1; zeroshot has none.
  EXPECT_TRUE(contains(r.output, "| linear_probe | 1.5 ± 1 (n=3) | 1.5 ± 1 (n=3) |")) << r.output;
  EXPECT_TRUE(contains(r.output, "## Aux: epochs")) << r.output;
  EXPECT_FALSE(contains(r.output.substr(r.output.find("## Aux: alpha")), "| zeroshot |")) << r.output;
  auto j = nlohmann::json::parse(read_text(exp + "/leaderboard.json"));
  EXPECT_DOUBLE_EQ(j["aux"]["epochs"]["linear_probe"]["shots=4"]["mean"].get<double>(), 20.0);
  EXPECT_EQ(j["aux"]["alpha"]["linear_probe"]["shots=1"]["n"], 3);
}

TEST(Export, AuxMustBeNumbers) {
  TempDir t;
  const std::string exp = t / "fewshot";
  const std::string dir = gate_test::write_run(exp, gate_test::Run{});
  auto m = nlohmann::json::parse(read_text(dir + "/metrics.json"));
  m["aux"] = {{"alpha", "big"}};
  gate_test::put(dir + "/metrics.json", m.dump());
  try {
    load_runs(exp);
    FAIL() << "a non-numeric aux value was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "aux.alpha")) << e.what();
    EXPECT_TRUE(contains(e.what(), dir + "/metrics.json")) << e.what();
  }
}

}  // namespace
}  // namespace vlb
