// `vlb rescore`: every task shape rescored bit for bit from predictions.h5, --metrics adding a
// metric equal to a fresh run's, and bad input (no predictions.h5, corrupt files, changed data,
// top-k runs asked for metrics that need full scores).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "spec_runs.h"

namespace {

namespace fs = std::filesystem;
using vlb::test::TempDir;

std::string spec(const std::string& name, const std::string& dataset, const std::string& methods,
                 const std::string& metrics) {
  return "experiment: " + name + "\n" + dataset + "methods: " + methods + "\nmetrics: " + metrics +
         "\nruntime: {threads: 1, seeds: [0]}\n";
}

const std::string kSynth =
    "dataset:\n  source: synth\n  params: {classes: 6, dim: 8, train_per_class: 5, "
    "test_per_class: 4, seed: 3}\n";

// Every file of every run directory, by relative path -> content.
std::map<std::string, std::string> snapshot(const std::string& exp) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(exp))
    if (e.is_regular_file())
      out[fs::relative(e.path(), exp).string()] = vlb::test::read_text(e.path().string());
  return out;
}

// Runs the spec, rescores it and expects every run reported identical and nothing rewritten.
void expect_identical_rescore(const std::string& name, const std::string& text, size_t runs,
                              const std::string& extra = "") {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, name, text, extra);
  ASSERT_EQ(vlb::test::run_paths(exp).size(), runs);
  auto before = snapshot(exp);
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  size_t n = 0;
  for (size_t at = r.output.find(": identical"); at != std::string::npos;
       at = r.output.find(": identical", at + 1))
    ++n;
  EXPECT_EQ(n, runs) << r.output;
  EXPECT_NE(r.output.find(std::to_string(runs) + " runs rescored: " + std::to_string(runs) +
                          " identical, 0 not reproduced, 0 values added"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(snapshot(exp), before) << "rescore rewrote a file";
}

TEST(Rescore, ClassificationIsBitIdentical) {
  expect_identical_rescore(
      "rcls", spec("rcls", kSynth, "[{name: zeroshot}, {name: ncm}, {name: linear_probe}]",
                   "[top1, top5, mean_per_class]"),
      3);
}

TEST(Rescore, GzslIsBitIdentical) {
  expect_identical_rescore(
      "rgzsl",
      spec("rgzsl",
           "dataset:\n  source: synth_gzsl\n  params: {classes: 10, unseen: 3, dim: 16, "
           "train_per_class: 5, test_per_class: 5, seed: 0}\n  train_split: trainval\n",
           "[{name: costa, params: {base_epochs: 3}}, {name: conse, params: {base_epochs: 3}}, "
           "{name: icis, params: {hidden: 16, epochs: 5, base_epochs: 3}}]",
           "[gzsl]"),
      3);
}

TEST(Rescore, OpenVocabularyIsBitIdentical) {
  expect_identical_rescore(
      "rov",
      spec("rov",
           "dataset:\n  source: synth_noisy\n  params: {classes: 8, families: 2, dim: 16, "
           "train_per_class: 4, test_per_class: 3, seed: 0}\n",
           "[{name: near, params: {epochs: 4, warmup: 1}}, {name: kmeans}, {name: mllm_labels}]",
           "[cacc, sacc, nmi, ari, name_exact, top1]"),
      3);
}

TEST(Rescore, MultiLabelIsBitIdentical) {
  expect_identical_rescore(
      "rml",
      spec("rml",
           "dataset:\n  source: synth_multilabel\n  params: {classes: 5, height: 3, width: 3, "
           "dim: 8, train_images: 40, test_images: 30, seed: 0}\n",
           "[{name: sarl, params: {rank: 8, epochs: 2}}, {name: global_zeroshot}]",
           "[ml_map, ml_f1, ml_f1_top3]"),
      2);
}

TEST(Rescore, ImageTextIsBitIdentical) {
  expect_identical_rescore(
      "rit",
      spec("rit",
           "dataset:\n  source: synth_composition\n  params: {train_images: 60, test_images: 40, "
           "winoground_pairs: 8, seed: 0}\n",
           "[{name: raw_similarity}, {name: contrastive_heads, params: {epochs: 2}}]",
           "[sugarcrepe, aro_relation, order, winoground, {name: retrieval, params: {text_source: 1}}]"),
      2);
}

TEST(Rescore, FewShotTextBankIsBitIdentical) {
  expect_identical_rescore(
      "rfs",
      spec("rfs",
           "dataset:\n  source: synth_textbank\n  params: {classes: 5, dim: 16, train_per_class: 6, "
           "val_per_class: 4, test_per_class: 5, seed: 0}\n  shots: 2\n",
           "[{name: coder_fewshot, params: {beta_steps: 5, alpha_steps: 5, rounds: 1}}, "
           "{name: tip_adapter, params: {beta_steps: 5, alpha_steps: 5}}, {name: coder_star}]",
           "[top1, mean_per_class]"),
      3);
}

TEST(Rescore, TopkRunsRescoreTopkAccuraciesExactly) {
  expect_identical_rescore(
      "rcls", spec("rcls", kSynth, "[{name: zeroshot}, {name: ncm}]", "[top1, top5, mean_per_class]"), 2,
      "--set runtime.predictions=topk --set runtime.predictions_topk=5");
}

// --metrics adds a metric the run did not compute, equal to a fresh run that computes it.
TEST(Rescore, MetricsAddsValuesEqualToAFreshRun) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "radd", spec("radd", kSynth, "[{name: ncm}]", "[top1]"));
  auto runs = vlb::test::run_paths(exp);
  ASSERT_EQ(runs.size(), 1u);
  auto before = vlb::test::read_json_file(runs[0] + "/metrics.json");
  auto r = vlb::test::run_cli("rescore " + exp + " --metrics top5,mean_per_class");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("added cls/mean_per_class = "), std::string::npos) << r.output;
  auto after = vlb::test::read_json_file(runs[0] + "/metrics.json");
  TempDir fresh;
  std::string exp2 = vlb::test::run_tiny(
      fresh, "radd", spec("radd", kSynth, "[{name: ncm}]", "[top1, top5, mean_per_class]"));
  auto want = vlb::test::read_json_file(vlb::test::run_paths(exp2)[0] + "/metrics.json");
  for (const char* m : {"cls/top1", "cls/top5", "cls/mean_per_class"}) {
    ASSERT_TRUE(after["metrics"].contains(m)) << after.dump();
    EXPECT_EQ(after["metrics"][m].get<double>(), want["metrics"][m].get<double>()) << m;
    EXPECT_EQ(after["higher_is_better"][m], true) << m;
  }
  // Everything else is kept as it was.
  for (const auto& [k, v] : before.items()) {
    if (k != "metrics" && k != "higher_is_better") {
      EXPECT_EQ(after[k], v) << k;
    }
  }
  // A second rescore finds the added values and reproduces them.
  r = vlb::test::run_cli("rescore " + exp + " --metrics top5,mean_per_class");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("identical"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("; added"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 values added"), std::string::npos) << r.output;
}

TEST(Rescore, AChangedStoredValueIsReportedNotWritten) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rchg", spec("rchg", kSynth, "[{name: ncm}]", "[top1]"));
  std::string mpath = vlb::test::run_paths(exp)[0] + "/metrics.json";
  auto m = vlb::test::read_json_file(mpath);
  const double real = m["metrics"]["cls/top1"].get<double>();
  m["metrics"]["cls/top1"] = real + 0.125;
  vlb::test::write_text(mpath, m.dump(2));
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DIFFERS: cls/top1 stored"), std::string::npos) << r.output;
  EXPECT_EQ(vlb::test::read_json_file(mpath)["metrics"]["cls/top1"].get<double>(), real + 0.125);
}

TEST(RescoreErrors, RunWithoutPredictionsNamesTheDirectory) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rnone", spec("rnone", kSynth, "[{name: ncm}]", "[top1]"),
                                        "--set runtime.predictions=none");
  auto before = snapshot(exp);
  auto r = vlb::test::run_cli("rescore " + exp + " --metrics top5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(vlb::test::run_paths(exp)[0]), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("has no predictions.h5 (ran with runtime.predictions: none or before "
                          "predictions were kept): rerun with --force"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(snapshot(exp), before);
}

TEST(RescoreErrors, TruncatedFileIsADataErrorNamingIt) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rtr", spec("rtr", kSynth, "[{name: ncm}]", "[top1]"));
  std::string p = vlb::test::run_paths(exp)[0] + "/predictions.h5";
  fs::resize_file(p, fs::file_size(p) / 2);
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(p + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated or corrupt"), std::string::npos) << r.output;
}

TEST(RescoreErrors, CorruptScoresAreADataErrorNamingTheDataset) {
  std::string py = vlb::test::system_python_with("numpy, h5py");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy + h5py not found: offset lookup skipped";
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rcor", spec("rcor", kSynth, "[{name: ncm}]", "[top1]"));
  std::string p = vlb::test::run_paths(exp)[0] + "/predictions.h5";
  auto off = vlb::test::run_command(
      py + " -c \"import h5py; print(h5py.File('" + p + "', 'r')['/scores'].id.get_offset())\"");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::stoll(off.output) + 9);
    f.put('\x7f');
  }
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(p + ": /scores: content does not match its sha256"), std::string::npos)
      << r.output;
}

TEST(RescoreErrors, ChangedDatasetIsRefused) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rdata", spec("rdata", kSynth, "[{name: ncm}]", "[top1]"));
  std::string cfg = vlb::test::run_paths(exp)[0] + "/config.resolved.yaml";
  std::string text = vlb::test::read_text(cfg);
  auto at = text.find("seed: 3");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 7, "seed: 4");
  vlb::test::write_text(cfg, text);
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("dataset_fingerprint: the run saw dataset"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the data changed"), std::string::npos) << r.output;
}

TEST(RescoreErrors, MetricsThatNeedMoreThanTheStoredTopk) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(
      dir, "rtk", spec("rtk", kSynth, "[{name: ncm}]", "[top1]"),
      "--set runtime.predictions=topk --set runtime.predictions_topk=2");
  auto r = vlb::test::run_cli("rescore " + exp + " --metrics top5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("metric 'top5' needs the top 5 but this run kept only the top 2"),
            std::string::npos)
      << r.output;
  // GZSL reads score values (calibration, the unseen head): never from top-k.
  TempDir dir2;
  std::string exp2 = vlb::test::run_tiny(
      dir2, "rtkg",
      spec("rtkg",
           "dataset:\n  source: synth_gzsl\n  params: {classes: 10, unseen: 3, dim: 16, "
           "train_per_class: 5, test_per_class: 5, seed: 0}\n  train_split: trainval\n",
           "[{name: costa, params: {base_epochs: 3}}]", "[gzsl]"),
      "--set runtime.predictions=topk");
  r = vlb::test::run_cli("rescore " + exp2);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("metric 'gzsl' needs the full scores"), std::string::npos) << r.output;
}

TEST(RescoreErrors, MetricsOfAnotherTaskOrUnknownNames) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rtask", spec("rtask", kSynth, "[{name: ncm}]", "[top1]"));
  auto r = vlb::test::run_cli("rescore " + exp + " --metrics ml_map");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(vlb::test::run_paths(exp)[0] + ": --metrics ml_map: metric 'ml_map' scores "
                          "task:multilabel but the run's method 'ncm' is task:classification"),
            std::string::npos)
      << r.output;
  r = vlb::test::run_cli("rescore " + exp + " --metrics top_5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown metric 'top_5'"), std::string::npos) << r.output;
}

// Runs outside the current plan (.plan/current.json) are left alone unless --all.
TEST(Rescore, OnlyTheCurrentPlanUnlessAll) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "rplan", spec("rplan", kSynth, "[{name: ncm}]", "[top1]"));
  vlb::test::run_tiny(dir, "rplan", spec("rplan", kSynth, "[{name: zeroshot}]", "[top1]"));
  std::string zeroshot_key;
  for (const auto& run : vlb::test::run_paths(exp))
    if (vlb::test::read_text(run + "/config.resolved.yaml").find("name: zeroshot") != std::string::npos)
      zeroshot_key = vlb::test::read_json_file(run + "/metrics.json")["run_key"];
  ASSERT_EQ(zeroshot_key.size(), 64u);
  // The record `vlb run` keeps of its latest plan (reports/include/vlb/reports/current_plan.h).
  fs::create_directories(exp + "/.plan");
  vlb::test::write_text(exp + "/.plan/current.json",
                        nlohmann::json{{"format", "vlb-current-plan/1"},
                                       {"experiment", "rplan"},
                                       {"runs", {{{"key", zeroshot_key}, {"index", 0}}}}}
                            .dump());
  auto r = vlb::test::run_cli("rescore " + exp);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 runs rescored: 1 identical"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("zeroshot: identical"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 skipped"), std::string::npos) << r.output;
  r = vlb::test::run_cli("rescore " + exp + " --all");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 runs rescored: 2 identical"), std::string::npos) << r.output;
}

}  // namespace
