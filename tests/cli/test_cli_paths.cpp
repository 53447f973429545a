// User-facing CLI paths that no other test drives: exit 3 for a sweep with failed runs, --force,
// --threads, `list <kind>`, `inspect --verify` on a tampered file, `bless` with --add-missing and
// --metrics (and its warning at a metric's bound), `report --latex --paper --baseline-row` over
// two experiments, `convert npy --text-types/--text-partners`, `convert sugarcrepe --table`, and
// --help of every subcommand. Small synthetic inputs only: each test runs in seconds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "test_support.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;
using vlb::test::read_text;
using vlb::test::run_cli;
using vlb::test::TempDir;
using vlb::test::write_text;
using json = nlohmann::json;

namespace {

using vlb::test::contains;

// A sweep of a few seconds: two methods on a small synthetic dataset, two seeds.
std::string tiny_spec(const std::string& experiment, const std::string& methods = "[{name: zeroshot}, {name: ncm}]") {
  return "experiment: " + experiment + "\n"
         "dataset: {source: synth, params: {classes: 5, dim: 16, train_per_class: 8, test_per_class: 6}}\n"
         "methods: " + methods + "\n"
         "metrics: [top1, top5]\n"
         "runtime: {threads: 1, seeds: [0, 1]}\n";
}

json read_json(const std::string& path) { return json::parse(read_text(path)); }

std::map<std::string, std::string> metrics_by_run(const std::string& exp) {
  std::map<std::string, std::string> out;
  for (const auto& run : vlb::test::run_dir_names(exp))
    out[run] = read_json(exp + "/" + run + "/metrics.json")["metrics"].dump();
  return out;
}

// ---- run --------------------------------------------------------------------------------------

// coder_fewshot with an unknown text type fails when the method is built (what the plan checks
// is what the dataset holds, not every parameter's meaning): its runs fail while ncm's succeed.
// A failed run is recorded, not fatal: exit 3 (not 2, not a crash).
TEST(CliRun, ExitsThreeWhenSomeRunsFailAndRetriesOnlyThose) {
  TempDir t;
  write_text(t / "spec.yaml",
             tiny_spec("mixed", "[{name: ncm}, {name: coder_fewshot, params: {bank: free, types: "
                                "bogus, no_split: init}}]"));
  auto r = run_cli("run " + t / "spec.yaml" + " --results " + t.path());
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "4 runs \u2014 4 ran, 0 already done, 2 failed")) << r.output;
  int failed = 0;
  for (const auto& run : vlb::test::run_dir_names(t / "mixed")) {
    json m = read_json(t / ("mixed/" + run + "/metrics.json"));
    if (m["status"] == "failed") {
      ++failed;
      EXPECT_TRUE(contains(m["error"].get<std::string>(), "coder_fewshot")) << m.dump();
    }
  }
  EXPECT_EQ(failed, 2);
  auto again = run_cli("run " + t / "spec.yaml" + " --results " + t.path());
  EXPECT_EQ(again.exit_code, 3) << again.output;
  EXPECT_TRUE(contains(again.output, "2 ran, 2 already done, 2 failed")) << again.output;
  // The report still builds from the ok runs and lists the failures.
  auto rep = run_cli("report " + t / "mixed" + " --print");
  EXPECT_EQ(rep.exit_code, 0) << rep.output;
  EXPECT_TRUE(contains(rep.output, "## Failed runs")) << rep.output;
}

TEST(CliRun, ForceRerunsCompletedRunsWithIdenticalMetrics) {
  TempDir t;
  write_text(t / "spec.yaml", tiny_spec("forced"));
  auto r = run_cli("run " + t / "spec.yaml" + " --results " + t.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto before = metrics_by_run(t / "forced");
  ASSERT_EQ(before.size(), 4u);
  std::string env0 = read_text(t / ("forced/" + before.begin()->first + "/env.json"));
  auto f = run_cli("run " + t / "spec.yaml" + " --results " + t.path() + " --force");
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_TRUE(contains(f.output, "4 ran, 0 already done, 0 failed")) << f.output;
  EXPECT_EQ(metrics_by_run(t / "forced"), before);
  // Rewritten, not skipped: env.json carries the new start time and wall time.
  EXPECT_NE(read_text(t / ("forced/" + before.begin()->first + "/env.json")), env0);
}

TEST(CliRun, ThreadsOverridesRuntimeThreadsAndRefusesZero) {
  TempDir t;
  write_text(t / "spec.yaml", tiny_spec("threads"));
  auto r = run_cli("run " + t / "spec.yaml" + " --results " + t.path() + " --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto runs = vlb::test::run_dir_names(t / "threads");
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& run : runs) {
    EXPECT_EQ(read_json(t / ("threads/" + run + "/env.json"))["threads"], 2) << run;
    EXPECT_EQ(read_json(t / ("threads/" + run + "/env.json"))["threads_policy"], "--threads 2") << run;
  }
  auto zero = run_cli("run " + t / "spec.yaml" + " --results " + t.path() + " --threads 0");
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_TRUE(contains(zero.output, "--threads")) << zero.output;
}

// ---- list, inspect ----------------------------------------------------------------------------

TEST(CliList, EachKindListsOnlyItsOwnRegistry) {
  struct Case { const char* kind; std::vector<const char*> has; const char* header; };
  const std::vector<Case> cases = {
      {"methods", {"zeroshot", "ncm", "linear_probe", "coder_fewshot", "near", "sarl"}, "methods:"},
      {"metrics", {"top1", "top5", "mean_per_class", "gzsl"}, "metrics:"},
      {"writers", {"markdown", "csv", "json", "latex"}, "report writers:"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(std::string("list ") + c.kind);
    ASSERT_EQ(r.exit_code, 0) << c.kind << "\n" << r.output;
    EXPECT_EQ(r.output.rfind(c.header, 0), 0u) << c.kind << "\n" << r.output;
    for (const char* name : c.has)
      EXPECT_TRUE(std::regex_search(r.output, std::regex(std::string("\\n  ") + name + " +v")))
          << name << " in `list " << c.kind << "`:\n" << r.output;
    for (const auto& other : cases) {
      if (std::string(other.header) != c.header) {
        EXPECT_FALSE(contains(r.output, other.header)) << c.kind << "\n" << r.output;
      }
    }
  }
  auto bad = run_cli("list method");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "methods")) << bad.output;
}

// One label changed in place (the fingerprint attribute kept): `inspect` still reads the file,
// `inspect --verify` recomputes the content hash and refuses it.
TEST(CliInspect, VerifyRejectsATamperedFile) {
  TempDir t;
  auto r = run_cli("synth --out " + t / "s.h5" + " --set classes=4 --set test_per_class=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  {
    vlb::h5::ErrorGuard quiet;
    auto f = vlb::h5::File::open(t / "s.h5", /*writable=*/true);
    at::Tensor label = vlb::h5::read_array(f.id(), "/images/label");
    const auto dtype = vlb::h5::info(f.id(), "/images/label").dtype;
    label[0] = (label[0].item<int64_t>() + 1) % 4;
    ASSERT_GE(H5Ldelete(f.id(), "/images/label", H5P_DEFAULT), 0);
    vlb::h5::write_array(f.id(), "/images/label", label.contiguous(), dtype);
  }
  r = run_cli("inspect " + t / "s.h5");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("inspect --verify " + t / "s.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "content_sha256")) << r.output;
  EXPECT_TRUE(contains(r.output, "but the contents hash to")) << r.output;
  EXPECT_FALSE(contains(r.output, "fingerprint verified")) << r.output;
}

// ---- bless, check -----------------------------------------------------------------------------

// Sets `metric` of every ok run of `method` under `exp` to `value`.
void set_metric(const std::string& exp, const std::string& method, const std::string& metric, double value) {
  for (const auto& run : vlb::test::run_dir_names(exp)) {
    const std::string dir = exp + "/" + run;
    if (!contains(read_text(dir + "/config.resolved.yaml"), "name: " + method + "\n")) continue;
    json m = read_json(dir + "/metrics.json");
    m["metrics"][metric] = value;
    write_text(dir + "/metrics.json", m.dump());
  }
}

TEST(CliBless, AddMissingWritesOnlyTheNamedMetricsAndCheckPasses) {
  TempDir t;
  write_text(t / "spec.yaml", tiny_spec("gate"));
  ASSERT_EQ(run_cli("run " + t / "spec.yaml" + " --results " + t.path()).exit_code, 0);
  const std::string file = t / "baselines/gate.json";
  auto b = run_cli("bless --baseline " + file + " " + t / "gate" + " --add-missing --metrics cls/top1");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_TRUE(contains(b.output, "vlb bless: updated " + file)) << b.output;
  json j = read_json(file);
  ASSERT_EQ(j["entries"].size(), 2u);  // 2 rows x 1 column x 1 metric
  for (const auto& e : j["entries"]) {
    EXPECT_EQ(e["metric"], "cls/top1");
    EXPECT_EQ(e["direction"], "higher_is_better");
  }
  auto c = run_cli("check --baseline " + file + " " + t / "gate");
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_TRUE(contains(c.output, "OK: no regression")) << c.output;
  // --add-missing again with cls/top5 appends its cells and keeps the first ones.
  b = run_cli("bless --baseline " + file + " " + t / "gate" + " --add-missing --metrics cls/top5");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  j = read_json(file);
  ASSERT_EQ(j["entries"].size(), 4u);
  EXPECT_EQ(j["entries"][0]["metric"], "cls/top1");
  EXPECT_EQ(j["entries"][3]["metric"], "cls/top5");
  // A metric the leaderboard lacks is bad input and leaves the file as it was.
  const std::string before = read_text(file);
  b = run_cli("bless --baseline " + file + " " + t / "gate" + " --add-missing --metrics cls/top3");
  EXPECT_EQ(b.exit_code, 2) << b.output;
  EXPECT_TRUE(contains(b.output, "cls/top3")) << b.output;
  EXPECT_EQ(read_text(file), before);
}

// A one-sided entry at 0 could never fail: bless warns and writes it two-sided, and check then
// fails when the value moves up to 0.5.
TEST(CliBless, WarnsAtAMetricsBoundAndTheTwoSidedEntryFailsWhenTheValueMoves) {
  TempDir t;
  write_text(t / "spec.yaml", tiny_spec("bound"));
  ASSERT_EQ(run_cli("run " + t / "spec.yaml" + " --results " + t.path()).exit_code, 0);
  set_metric(t / "bound", "zeroshot", "cls/top1", 0.0);
  const std::string file = t / "bound.json";
  auto b = run_cli("bless --baseline " + file + " " + t / "bound" + " --add-missing --metrics cls/top1");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_TRUE(contains(b.output, "vlb bless: warning: ")) << b.output;
  EXPECT_TRUE(contains(b.output, "row 'zeroshot'")) << b.output;
  EXPECT_TRUE(contains(b.output, "sits at the bound")) << b.output;
  EXPECT_FALSE(contains(b.output, "row 'ncm'")) << b.output;
  json j = read_json(file);
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][0]["row"], "zeroshot");
  EXPECT_EQ(j["entries"][0]["direction"], "both");
  EXPECT_EQ(j["entries"][1]["direction"], "higher_is_better");
  auto ok = run_cli("check --baseline " + file + " " + t / "bound");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_FALSE(contains(ok.output, "warning")) << ok.output;

  set_metric(t / "bound", "zeroshot", "cls/top1", 0.5);
  auto moved = run_cli("check --baseline " + file + " " + t / "bound");
  EXPECT_EQ(moved.exit_code, 1) << moved.output;
  EXPECT_TRUE(contains(moved.output, "| zeroshot | result | cls/top1 | 0 | 0.5 | +0.5 | 1e-06 | FAIL: changed |"))
      << moved.output;
  // The same entry one-sided, as the file had it before: check passes it and warns.
  j["entries"][0]["direction"] = "higher_is_better";
  write_text(file, j.dump(2));
  auto one_sided = run_cli("check --baseline " + file + " " + t / "bound");
  EXPECT_EQ(one_sided.exit_code, 0) << one_sided.output;
  EXPECT_TRUE(contains(one_sided.output, "vlb check: warning: ")) << one_sided.output;
  EXPECT_TRUE(contains(one_sided.output, "set \"direction\": \"both\"")) << one_sided.output;
}

// ---- report -----------------------------------------------------------------------------------

TEST(CliReport, LatexPaperValuesBaselineRowAndTwoExperimentsInOnePage) {
  TempDir t;
  for (const char* e : {"exp_a", "exp_b"}) {
    write_text(t / (std::string(e) + ".yaml"), tiny_spec(e));
    auto r = run_cli("run " + t / (std::string(e) + ".yaml") + " --results " + t / "results");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  write_text(t / "paper.yaml", "values:\n  - {row: ncm, value: 0.5, source: \"Made-up Tab. 9\"}\n");
  auto r = run_cli("report " + t / "results/exp_a" + " " + t / "results/exp_b" + " --html --latex --paper " +
                   t / "paper.yaml" + " --baseline-row ncm --out " + t / "site");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // --out takes every file: the leaderboards of both (the second overwrites the first) and the page.
  for (const char* f : {"report.html", "leaderboard.tex", "leaderboard.md", "leaderboard.json"})
    EXPECT_TRUE(fs::exists(t / ("site/" + std::string(f)))) << f;
  EXPECT_FALSE(fs::exists(t / "results/exp_a/report.html"));
  const std::string tex = read_text(t / "site/leaderboard.tex");
  EXPECT_TRUE(contains(tex, "\\toprule")) << tex;
  EXPECT_TRUE(contains(tex, "zeroshot")) << tex;
  const std::string html = read_text(t / "site/report.html");
  EXPECT_TRUE(contains(html, "exp_a")) << "first experiment missing from the page";
  EXPECT_TRUE(contains(html, "exp_b")) << "second experiment missing from the page";
  EXPECT_TRUE(contains(html, "Made-up Tab. 9"));
  EXPECT_TRUE(contains(html, "paper 50.00 (Δ "));
  // The regenerate command on the page names every option given.
  EXPECT_TRUE(contains(html, "--baseline-row ncm")) << "command line not on the page";
  EXPECT_TRUE(contains(html, "--latex"));

  // Without --out, --latex writes next to each leaderboard and the page goes to the common parent.
  r = run_cli("report " + t / "results/exp_a" + " " + t / "results/exp_b" + " --html --latex");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(t / "results/exp_a/leaderboard.tex"));
  EXPECT_TRUE(fs::exists(t / "results/exp_b/leaderboard.tex"));
  EXPECT_TRUE(fs::exists(t / "results/report.html"));

  // A baseline row that names no row is bad input.
  auto bad = run_cli("report " + t / "results/exp_a" + " --html --baseline-row nope --out " + t / "bad");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "nope")) << bad.output;
  EXPECT_FALSE(fs::exists(t / "bad/report.html"));
}

}  // namespace
