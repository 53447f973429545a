// `select:` in experiment specs (experiments/SPEC.md "Model selection"): the plan-time guards, the
// validation draw, the selection metrics a run writes, and the report's choice, end to end on the
// synthetic dataset with the real linear probe.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/select.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using vlb::test::run_cli;
using vlb::test::TempDir;
using vlb::test::write_text;

bool has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// Line 1 experiment, 2-7 dataset, 8-11 methods, 12 metrics, 13 runtime, then `tail` from line 14.
std::string spec_text(const std::string& tail, const std::string& shots = "4",
                      const std::string& l2 = "[1.0e-4, 1.0e-1]") {
  return "experiment: sel\n"
         "dataset:\n"
         "  source: synth\n"
         "  params: {classes: 10, dim: 32, train_per_class: 12, test_per_class: 20, val_per_class: 6}\n"
         "  train_split: train\n"
         "  eval_split: test\n"
         "  shots: " + shots + "\n"
         "methods:\n"
         "  - name: ncm\n"
         "  - name: linear_probe\n"
         "    grid: {l2: " + l2 + "}\n"
         "metrics: [top1, mean_per_class]\n"
         "runtime: {threads: 1, seeds: [0, 1]}\n" + tail;
}

class Select : public ::testing::Test {
 protected:
  std::string spec(const std::string& text, const std::string& name = "spec.yaml") {
    std::string p = dir_ / name;
    write_text(p, text);
    return p;
  }
  // Runs `vlb run` and expects exit 2 with nothing written; returns the output.
  std::string refused(const std::string& path) {
    auto r = run_cli("run " + path + " --results " + results());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_FALSE(fs::exists(results() + "/sel")) << "a run directory was written\n" << r.output;
    return r.output;
  }
  std::string results() { return dir_ / "results"; }
  TempDir dir_;
};

TEST_F(Select, AGridWithoutSelectIsAnErrorThatSaysWhatToWrite) {
  std::string p = spec(spec_text(""));
  std::string out = refused(p);
  EXPECT_TRUE(has(out, p + ":11:16: methods[1].grid.l2: method 'linear_probe' takes 2 values of 'l2'"))
      << out;
  EXPECT_TRUE(has(out, "write `select: none` to report every configuration")) << out;
  // The same for a sweep of a method param (every method must declare it: two linear probes).
  std::string s = spec("experiment: sel\ndataset: {source: synth, params: {classes: 4}}\n"
                       "methods: [{name: linear_probe}, {name: linear_probe, params: {max_iter: 50}}]\n"
                       "metrics: [top1]\nsweep: {grid: {method.params.l2: [0.1, 0.2]}}\n",
                       "sweep.yaml");
  out = refused(s);
  EXPECT_TRUE(has(out, s + ":5:34: sweep.grid.method.params.l2: method 'linear_probe' takes 2 values"))
      << out;
  // One value is no choice: no select needed.
  auto r = run_cli("run " + spec(spec_text("", "4", "[1.0e-4]"), "one.yaml") + " --dry-run --results " +
                   results());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(Select, MalformedSelectBlocksNameTheirKey) {
  struct Case {
    std::string select, where, message;
  };
  const std::vector<Case> cases = {
      {"select: {metric: top1, split: val, val_shots: 4}\n", ":14:47: select.val_shots:", "not both"},
      {"select: {metric: top1}\n", ":14:9: select:", "select.split (a named dataset split) or select.val_shots"},
      {"select: {metric: top5, split: val}\n", ":14:18: select.metric:",
       "'top5' is not a value the spec's metrics compute"},
      {"select: {metric: top1, split: val, ovr: [l2]}\n", ":14:36: select.ovr:", "did you mean 'over'"},
      {"select: {metric: top1, split: val, over: [l3]}\n", ":14:43: select.over[0]:",
       "no method of the spec has a parameter 'l3'"},
      {"select: {metric: top1, val_shots: 0}\n", ":14:35: select.val_shots:", "out of range"},
      {"select: all\n", ":14:9: select:", "expected `none` or a map"},
  };
  for (const auto& c : cases) {
    std::string p = spec(spec_text(c.select));
    std::string out = refused(p);
    EXPECT_TRUE(has(out, p + c.where)) << c.select << out;
    EXPECT_TRUE(has(out, c.message)) << c.select << out;
  }
}

TEST_F(Select, SelectingOnTheEvaluationRowsIsRefused) {
  // The evaluation split itself, by name.
  std::string p = spec(spec_text("select: {metric: top1, split: test}\n"));
  std::string out = refused(p);
  EXPECT_TRUE(has(out, p + ":14:31: select.split: 'test' is the evaluation split")) << out;
  // Another name for rows that overlap: synth_gzsl's test = test_seen + test_unseen.
  std::string g = spec(
      "experiment: sel\n"
      "dataset: {source: synth_gzsl, params: {classes: 6, unseen: 2}, train_split: trainval,\n"
      "          eval_split: test_unseen}\n"
      "methods: [{name: ncm}]\nmetrics: [top1]\n"
      "select: {metric: top1, split: test}\n",
      "gzsl.yaml");
  out = refused(g);
  EXPECT_TRUE(has(out, g + ":6:31: select.split: split 'test' shares")) << out;
  EXPECT_TRUE(has(out, "with the evaluation split 'test_unseen'")) << out;
  EXPECT_TRUE(has(out, "the selection would see evaluation rows")) << out;
  // A split the dataset lacks.
  std::string m = spec(spec_text("select: {metric: top1, split: dev}\n"), "missing.yaml");
  out = refused(m);
  EXPECT_TRUE(has(out, m + ":14:31: select.split: dataset 'synth' has no split 'dev'")) << out;
}

TEST_F(Select, ValShotsBeyondThePoolNamesTheClassAndCounts) {
  std::string p = spec(spec_text("select: {metric: top1, val_shots: 9}\n"));
  std::string out = refused(p);
  EXPECT_TRUE(has(out, p + ":14:35: select.val_shots: class 'class_000' has 12 rows in train_split "
                           "'train' of dataset 'synth', fewer than dataset.shots + select.val_shots "
                           "= 4 + 9 = 13 (10 classes are short)"))
      << out;
  // `shots` resolves per run: 8 + 8 > 12.
  std::string s = spec(spec_text("select: {metric: top1, val_shots: shots}\n", "8"), "shots.yaml");
  out = refused(s);
  EXPECT_TRUE(has(out, s + ":14:35: select.val_shots: class 'class_000' has 12 rows")) << out;
  EXPECT_TRUE(has(out, "= 8 + 8 = 16")) << out;
  // Without a K-shot draw every train row trains: nothing is left to validate on.
  std::string z = spec(spec_text("select: {metric: top1, val_shots: 2}\n", "0"), "zero.yaml");
  out = refused(z);
  EXPECT_TRUE(has(out, z + ":14:35: select.val_shots: the validation rows are what the K-shot")) << out;
}

// The validation draw: K per class, none of them a training shot or an evaluation row, seeded by
// the run seed through a stream of its own.
TEST(SelectRows, ValShotsAreDisjointAndSeeded) {
  const auto& reg = vlb::builtins();
  vlb::Params p = reg.datasets.get("synth").schema.defaults();
  p.set("classes", int64_t{5});
  p.set("train_per_class", int64_t{20});
  p.set("test_per_class", int64_t{4});
  TempDir cache;
  vlb::SourceContext ctx;
  ctx.cache_dir = cache.path();
  vlb::Dataset ds = reg.datasets.create("synth", p)->load(ctx);
  vlb::RunConfig c;
  c.shots = 4;
  c.select.active = true;
  c.select.metric = "cls/top1";
  c.select.val_shots = 3;
  auto rows_of = [&](uint64_t seed, std::vector<int64_t>* train_rows) {
    c.seed = seed;
    vlb::DataView train = vlb::sample_shots(vlb::make_view(ds, "train"), c.shots, seed);
    vlb::DataView val = vlb::selection_view(ds, c, train);
    at::Tensor t = train.rows.contiguous(), v = val.rows.contiguous();
    if (train_rows) train_rows->assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
    // K per class.
    at::Tensor counts = at::bincount(val.label(), {}, ds.num_classes());
    EXPECT_TRUE(counts.eq(3).all().item<bool>()) << counts;
    return std::vector<int64_t>(v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + v.numel());
  };
  std::vector<int64_t> train0;
  std::vector<int64_t> val0 = rows_of(0, &train0);
  ASSERT_EQ(val0.size(), 15u);
  std::set<int64_t> train_set(train0.begin(), train0.end());
  at::Tensor test = ds.splits.at("test").contiguous();
  std::set<int64_t> test_set(test.data_ptr<int64_t>(), test.data_ptr<int64_t>() + test.numel());
  at::Tensor tr = ds.splits.at("train").contiguous();
  std::set<int64_t> pool(tr.data_ptr<int64_t>(), tr.data_ptr<int64_t>() + tr.numel());
  for (int64_t r : val0) {
    EXPECT_FALSE(train_set.count(r)) << "validation row " << r << " is a training shot";
    EXPECT_FALSE(test_set.count(r)) << "validation row " << r << " is an evaluation row";
    EXPECT_TRUE(pool.count(r)) << "validation row " << r << " is not from train_split";
  }
  EXPECT_EQ(rows_of(0, nullptr), val0) << "one seed reproduces its draw";
  EXPECT_NE(rows_of(1, nullptr), val0) << "another seed draws other rows";
  EXPECT_NE(vlb::validation_seed(0), 0u);
  EXPECT_NE(vlb::validation_seed(0), vlb::validation_seed(1));
}

json metrics_of(const std::string& run_dir) {
  return json::parse(vlb::test::read_text(run_dir + "/metrics.json"));
}

struct RunInfo {
  std::string dir, method, l2;
  int seed = 0;
  int plan = 0;
  json metrics;
};

std::vector<RunInfo> runs_of(const std::string& exp) {
  std::vector<RunInfo> out;
  for (const auto& name : vlb::test::run_dir_names(exp)) {
    RunInfo r;
    r.dir = exp + "/" + name;
    r.metrics = metrics_of(r.dir);
    std::string cfg = vlb::test::read_text(r.dir + "/config.resolved.yaml");
    r.method = has(cfg, "name: linear_probe") ? "linear_probe" : "ncm";
    auto l2 = cfg.find("l2: ");
    if (l2 != std::string::npos) r.l2 = cfg.substr(l2 + 4, cfg.find('\n', l2) - l2 - 4);
    r.seed = has(cfg, "seed: 1") ? 1 : 0;
    r.plan = r.metrics.at("plan_index").get<int>();
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const RunInfo& a, const RunInfo& b) { return a.plan < b.plan; });
  return out;
}

// A selected run trains, predicts and scores its eval rows exactly like the same run without
// select, and its report picks per seed the l2 with the best validation top-1 (ties: plan order).
TEST_F(Select, SelectedRunsTrainBitForBitAndTheReportPicksTheBestOnValidation) {
  std::string none = spec(spec_text("select: none\n"), "none.yaml");
  std::string sel = spec(spec_text("select: {metric: top1, val_shots: 4}\n"), "sel.yaml");
  auto a = run_cli("run " + none + " --results " + (dir_ / "none"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_cli("run " + sel + " --results " + results());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto plain = runs_of(dir_ / "none/sel");
  auto selected = runs_of(results() + "/sel");
  ASSERT_EQ(plain.size(), 6u);
  ASSERT_EQ(selected.size(), 6u);
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].metrics.at("metrics"), selected[i].metrics.at("metrics")) << selected[i].dir;
    EXPECT_EQ(plain[i].metrics.at("n_train"), selected[i].metrics.at("n_train"));
    EXPECT_NE(fs::path(plain[i].dir).filename(), fs::path(selected[i].dir).filename())
        << "a select block is part of the run key";
    EXPECT_FALSE(plain[i].metrics.contains("selection"));
    const json& s = selected[i].metrics.at("selection");
    EXPECT_EQ(s.at("split"), "train");
    EXPECT_EQ(s.at("val_shots"), 4);
    EXPECT_EQ(s.at("rows"), 40);  // 10 classes x 4
    EXPECT_TRUE(s.at("metrics").contains("cls/top1")) << s.dump();
    EXPECT_TRUE(s.at("metrics").contains("cls/mean_per_class")) << s.dump();
    EXPECT_EQ(s.at("higher_is_better").at("cls/top1"), true);
  }
  ASSERT_EQ(selected[0].method, "ncm");
  ASSERT_EQ(selected[2].method, "linear_probe");
  EXPECT_TRUE(has(vlb::test::read_text(selected[0].dir + "/config.resolved.yaml"),
                  "select:\n  metric: cls/top1\n  over: []\n  val_shots: 4\n"));
  std::string cfg = vlb::test::read_text(selected[2].dir + "/config.resolved.yaml");
  EXPECT_TRUE(has(cfg, "select:\n  metric: cls/top1\n  over: [l2]\n  val_shots: 4\n")) << cfg;

  // The expected choice, from the runs' own selection metrics.
  std::map<int, const RunInfo*> best;
  for (const auto& r : selected) {
    if (r.method != "linear_probe") continue;
    double v = r.metrics["selection"]["metrics"]["cls/top1"].get<double>();
    auto it = best.find(r.seed);
    if (it == best.end() || v > it->second->metrics["selection"]["metrics"]["cls/top1"].get<double>())
      best[r.seed] = &r;
  }
  ASSERT_EQ(best.size(), 2u);
  double mean = 0;
  for (const auto& [seed, r] : best) mean += r->metrics["metrics"]["cls/top1"].get<double>() / 2;

  auto rep = run_cli("report " + results() + "/sel --print");
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  EXPECT_TRUE(has(rep.output, "Model selection: cls/top1 on val_shots=4 from train over l2, per seed"))
      << rep.output;
  EXPECT_TRUE(has(rep.output, "| linear_probe | result | 4-shot validation from train | l2 = ")) << rep.output;
  EXPECT_FALSE(has(rep.output, "linear_probe (l2=")) << "one row, not one per l2\n" << rep.output;
  const std::string l2_0 = best[0]->l2, l2_1 = best[1]->l2;
  const std::string chosen = l2_0 == l2_1 ? "l2 = " + l2_0 + " (2 seeds)"
                                          : "l2 = " + l2_0 + " (1 seed), " + l2_1 + " (1)";
  EXPECT_TRUE(has(rep.output, chosen)) << chosen << "\n" << rep.output;
  EXPECT_DOUBLE_EQ(vlb::test::leaderboard_mean(results() + "/sel", "linear_probe", "cls/top1"), mean);

  // `select: none` reports every configuration, and says so.
  auto rn = run_cli("report " + (dir_ / "none/sel") + " --print");
  ASSERT_EQ(rn.exit_code, 0) << rn.output;
  EXPECT_TRUE(has(rn.output, "Model selection: none — every configuration reported.")) << rn.output;
  EXPECT_TRUE(has(rn.output, "linear_probe (l2=0.0001)")) << rn.output;
  EXPECT_TRUE(has(rn.output, "linear_probe (l2=0.1)")) << rn.output;
}

// `select: none` changes no run key: specs that only gained it keep their results.
TEST_F(Select, SelectNoneKeepsTheRunKeys) {
  const std::string one = spec_text("", "4", "[1.0e-4]");
  auto a = run_cli("run " + spec(one, "a.yaml") + " --dry-run --results " + results());
  auto b = run_cli("run " + spec(one + "select: none\n", "b.yaml") + " --dry-run --results " + results());
  auto c = run_cli("run " + spec(one + "select: {metric: top1, split: val}\n", "c.yaml") +
                   " --dry-run --results " + results());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto keys = [](const std::string& out) {
    std::vector<std::string> k;
    const std::regex key("\\b[0-9a-f]{16}\\b");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), key); it != std::sregex_iterator(); ++it)
      k.push_back(it->str());
    EXPECT_EQ(k.size(), 4u) << out;
    return k;
  };
  EXPECT_EQ(keys(a.output), keys(b.output));
  EXPECT_NE(keys(a.output), keys(c.output));
}

// A named validation split, and `val_shots: shots` following a shots sweep.
TEST_F(Select, NamedSplitsAndShotsSweepsSelect) {
  std::string p = spec(spec_text("select: {metric: mean_per_class, val_shots: shots}\n"
                                 "sweep: {grid: {dataset.shots: [2, 5]}}\n"));
  auto r = run_cli("run " + p + " --results " + results());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& run : runs_of(results() + "/sel")) {
    const json& s = run.metrics.at("selection");
    const int shots = run.metrics.at("n_train").get<int>() / 10;
    EXPECT_EQ(s.at("val_shots"), shots) << run.dir;
    EXPECT_EQ(s.at("rows"), 10 * shots) << run.dir;
  }
  std::string v = spec(spec_text("select: {metric: cls/top1, split: val}\n"), "val.yaml");
  r = run_cli("run " + v + " --results " + (dir_ / "val"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& run : runs_of(dir_ / "val/sel")) {
    EXPECT_EQ(run.metrics.at("selection").at("split"), "val");
    EXPECT_EQ(run.metrics.at("selection").at("rows"), 60);  // 10 classes x 6
    EXPECT_FALSE(run.metrics.at("selection").contains("val_shots"));
  }
  auto rep = run_cli("report " + (dir_ / "val/sel") + " --print");
  EXPECT_TRUE(has(rep.output, "Model selection: cls/top1 on val over l2")) << rep.output;
  EXPECT_TRUE(has(rep.output, "| linear_probe | result | val | l2 = ")) << rep.output;
}

}  // namespace

// Tip-Adapter's (and CODER-Adapter's) α/β: the method's own search off, a grid selected instead.
TEST(SelectCacheAdapters, AlphaBetaGridsAreSelectable) {
  TempDir dir;
  write_text(dir / "tip.yaml",
             "experiment: tip\n"
             "dataset: {source: synth, params: {classes: 6, dim: 16, train_per_class: 10, test_per_class: 10},\n"
             "          shots: 4}\n"
             "methods:\n"
             "  - name: tip_adapter\n"
             "    params: {base_logits: class_mean, search: none}\n"
             "    grid: {init_alpha: [0.5, 2.0], init_beta: [1.0, 5.5]}\n"
             "metrics: [top1]\n"
             "select: {metric: top1, val_shots: 4}\n");
  auto r = run_cli("run " + (dir / "tip.yaml") + " --results " + (dir / "results"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rep = run_cli("report " + (dir / "results/tip") + " --print");
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  EXPECT_TRUE(has(rep.output, "Model selection: cls/top1 on val_shots=4 from train over init_alpha, "
                              "init_beta, per seed"))
      << rep.output;
  EXPECT_TRUE(has(rep.output, "| tip_adapter | result | 4-shot validation from train | init_alpha = ")) << rep.output;
  EXPECT_TRUE(std::regex_search(rep.output, std::regex("init_alpha = [0-9.]+, init_beta = [0-9.]+ \\(1 seed\\)")))
      << rep.output;
  EXPECT_TRUE(has(rep.output, "| tip_adapter | ")) << "one row\n" << rep.output;
}
