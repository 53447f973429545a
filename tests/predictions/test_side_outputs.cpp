// Side outputs as numbers: the scalars methods report in metrics.json "aux" (the alpha/beta
// search of the cache adapters, ICIS epochs, NeaR's clean/noisy selection, optimiser results).
#include <gtest/gtest.h>

#include <regex>

#include "spec_runs.h"

namespace {

using json = nlohmann::json;
using vlb::test::TempDir;

// aux of every run, by method name (one run per method in these specs).
std::map<std::string, json> aux_by_method(const std::string& exp) {
  std::map<std::string, json> out;
  for (const auto& run : vlb::test::run_paths(exp)) {
    auto cfg = vlb::test::read_text(run + "/config.resolved.yaml");
    std::smatch m;
    EXPECT_TRUE(std::regex_search(cfg, m, std::regex("method:\\s*\\n\\s*name: (\\w+)"))) << cfg;
    auto mj = vlb::test::read_json_file(run + "/metrics.json");
    EXPECT_EQ(mj["status"], "ok") << mj.dump();
    out[m[1]] = mj.value("aux", json::object());
    out[m[1]]["__log"] = vlb::test::exists(run + "/log.txt") ? vlb::test::read_text(run + "/log.txt") : "";
  }
  return out;
}

TEST(SideOutputs, CacheAdaptersReportTheirSearch) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(
      dir, "sfs",
      "experiment: sfs\n"
      "dataset:\n  source: synth_textbank\n  params: {classes: 6, dim: 16, train_per_class: 8, "
      "val_per_class: 6, test_per_class: 5, seed: 0}\n  shots: 4\n"
      "methods:\n"
      "  - {name: tip_adapter, params: {beta_steps: 20, alpha_steps: 10}}\n"
      "  - {name: coder_fewshot, params: {beta_steps: 20, alpha_steps: 10, rounds: 2}}\n"
      "  - {name: linear_probe}\n"
      "metrics: [top1]\nruntime: {threads: 1, seeds: [0]}\n");
  auto aux = aux_by_method(exp);
  for (const char* m : {"tip_adapter", "coder_fewshot"}) {
    SCOPED_TRACE(m);
    const json& a = aux[m];
    for (const char* k : {"init_alpha", "init_beta", "alpha", "beta", "searched", "init_search_acc", "search_acc"})
      ASSERT_TRUE(a.contains(k)) << k << " missing: " << a.dump();
    EXPECT_EQ(a["searched"], 1);
    const double init = a["init_search_acc"], best = a["search_acc"];
    EXPECT_GE(init, 0.0);
    EXPECT_LE(best, 1.0);
    // The grid's best on the split it searched is at least as good as the starting point here.
    EXPECT_GE(best, init);
    EXPECT_GT(a["alpha"].get<double>(), 0.0);
    EXPECT_GT(a["beta"].get<double>(), 0.0);
    // The same numbers the log line prints (4 decimals).
    std::smatch lm;
    std::string log = a["__log"];
    ASSERT_TRUE(std::regex_search(log, lm, std::regex("alpha ([0-9.]+) beta ([0-9.]+) \\(val acc ([0-9.]+)\\)")))
        << log;
    EXPECT_NEAR(a["alpha"].get<double>(), std::stod(lm[1]), 5e-5);
    EXPECT_NEAR(a["beta"].get<double>(), std::stod(lm[2]), 5e-5);
    EXPECT_NEAR(best, std::stod(lm[3]), 5e-5);
  }
  EXPECT_EQ(aux["tip_adapter"]["init_alpha"], 1.0);
  EXPECT_EQ(aux["tip_adapter"]["init_beta"], 5.5);
  const json& lp = aux["linear_probe"];
  ASSERT_TRUE(lp.contains("lbfgs_iterations")) << lp.dump();
  EXPECT_GE(lp["lbfgs_iterations"].get<double>(), 1);
  EXPECT_GT(lp["final_objective"].get<double>(), 0.0);
  EXPECT_LT(lp["final_objective"].get<double>(), std::log(6.0));  // below the zero start's loss
}

TEST(SideOutputs, NoSearchKeepsTheInitialValues) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(
      dir, "sns",
      "experiment: sns\n"
      "dataset:\n  source: synth_textbank\n  params: {classes: 6, dim: 16, train_per_class: 8, "
      "val_per_class: 6, test_per_class: 5, seed: 0}\n  shots: 4\n"
      "methods: [{name: tip_adapter, params: {search: none, init_alpha: 2.0, init_beta: 3.0}}]\n"
      "metrics: [top1]\nruntime: {threads: 1, seeds: [0]}\n");
  const json a = aux_by_method(exp)["tip_adapter"];
  EXPECT_EQ(a["searched"], 0);
  EXPECT_EQ(a["alpha"], 2.0);
  EXPECT_EQ(a["beta"], 3.0);
  EXPECT_FALSE(a.contains("search_acc")) << a.dump();
}

TEST(SideOutputs, InjectionMethodsReportEpochs) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(
      dir, "sgz",
      "experiment: sgz\n"
      "dataset:\n  source: synth_gzsl\n  params: {classes: 10, unseen: 3, dim: 16, train_per_class: 5, "
      "test_per_class: 5, seed: 0}\n  train_split: trainval\n"
      "methods:\n"
      "  - {name: icis, params: {hidden: 16, epochs: 7, early_stopping: false, base_epochs: 4}}\n"
      "  - {name: conse, params: {base_epochs: 4}}\n"
      "  - {name: vgse_smo, params: {base_epochs: 4, smo_max_iter: 50}}\n"
      "metrics: [gzsl]\nruntime: {threads: 1, seeds: [0]}\n");
  auto aux = aux_by_method(exp);
  EXPECT_EQ(aux["icis"]["epochs_run"], 7);
  EXPECT_GT(aux["icis"]["final_loss"].get<double>(), 0.0);
  for (const char* m : {"icis", "conse", "vgse_smo"}) {
    ASSERT_TRUE(aux[m].contains("base_selected_epoch")) << m << ": " << aux[m].dump();
    EXPECT_GE(aux[m]["base_selected_epoch"].get<double>(), 0) << m;
    EXPECT_LT(aux[m]["base_selected_epoch"].get<double>(), 4) << m;
  }
  EXPECT_GE(aux["vgse_smo"]["smo_steps"].get<double>(), 1);
  EXPECT_LE(aux["vgse_smo"]["smo_steps"].get<double>(), 50);
}

TEST(SideOutputs, NearReportsItsSelection) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(
      dir, "sov",
      "experiment: sov\n"
      "dataset:\n  source: synth_noisy\n  params: {classes: 8, families: 2, dim: 16, "
      "train_per_class: 6, test_per_class: 3, seed: 0}\n"
      "methods: [{name: near, params: {epochs: 6, warmup: 2}}, {name: kmeans}]\n"
      "metrics: [nmi]\nruntime: {threads: 1, seeds: [0]}\n");
  auto aux = aux_by_method(exp);
  const json& a = aux["near"];
  for (const char* k : {"clean_fraction", "clean_fraction_first", "split_epochs", "changed_labels",
                        "active_names", "vocab_size", "init_text"})
    ASSERT_TRUE(a.contains(k)) << k << " missing: " << a.dump();
  EXPECT_EQ(a["split_epochs"], 4);  // epochs after the warm-up
  EXPECT_GT(a["clean_fraction"].get<double>(), 0.0);
  EXPECT_LE(a["clean_fraction"].get<double>(), 1.0);
  EXPECT_LE(a["active_names"].get<double>(), a["vocab_size"].get<double>());
  EXPECT_LE(a["changed_labels"].get<double>(), 8 * 6);
  // The log line prints the last clean fraction with 3 decimals.
  std::smatch lm;
  std::string log = a["__log"];
  ASSERT_TRUE(std::regex_search(log, lm, std::regex("last clean fraction ([0-9.]+)"))) << log;
  EXPECT_NEAR(a["clean_fraction"].get<double>(), std::stod(lm[1]), 5e-4);
  EXPECT_GE(aux["kmeans"]["kmeans_iterations"].get<double>(), 1);
}

}  // namespace
