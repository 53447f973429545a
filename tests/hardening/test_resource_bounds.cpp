// Small inputs must not cost unbounded resources: YAML alias expansion and nesting, plan size
// (checked before any run is built) and a streaming `--dry-run`.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "hardening_support.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/experiments/yaml_reader.h"

using vlb::hardening::contains;
using vlb::test::run_cli;
using vlb::test::run_command;
using vlb::test::TempDir;
using vlb::test::write_text;

namespace {

// Nine levels of ten aliases each: ~10^9 nodes once expanded, in about 600 bytes.
std::string laughs() {
  std::string s = "experiment: lol\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string p = "*l" + std::to_string(i - 1);
    s += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + p;
    for (int k = 1; k < 10; ++k) s += ", " + p;
    s += "]\n";
  }
  return s;
}

TEST(YamlBounds, AliasExpansionStopsAtTheNodeLimitWithALocatedError) {
  TempDir t;
  const std::string text = laughs();
  ASSERT_LT(text.size(), 1000u);
  write_text(t / "lol.yaml", text);
  const auto start = std::chrono::steady_clock::now();
  auto r = run_cli("run " + t / "lol.yaml" + " --dry-run --results " + t / "results");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "lol.yaml" + ":")) << r.output;
  EXPECT_TRUE(contains(r.output, "more than 200000 YAML nodes")) << r.output;
  // A bound that holds only if the limit is what stopped it (the full expansion takes minutes).
  EXPECT_LT(secs, 60.0);
}

TEST(YamlBounds, TheNodeLimitIsConfigurable) {
  TempDir t;
  write_text(t / "small.yaml", "a: [1, 2, 3, 4, 5, 6, 7, 8]\n");
  EXPECT_NO_THROW(vlb::yamlr::load_file(t / "small.yaml"));
  setenv("VLB_MAX_YAML_NODES", "5", 1);
  EXPECT_THROW(vlb::yamlr::load_file(t / "small.yaml"), vlb::ConfigError);
  unsetenv("VLB_MAX_YAML_NODES");
}

TEST(YamlBounds, DeepNestingIsALocatedError) {
  TempDir t;
  std::string deep = "a: " + std::string(300, '[') + std::string(300, ']') + "\n";
  write_text(t / "deep.yaml", deep);
  try {
    vlb::yamlr::load_file(t / "deep.yaml");
    FAIL() << "expected a ConfigError";
  } catch (const vlb::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), t / "deep.yaml")) << e.what();
  }
}

std::string grid_spec(int a, int b) {
  std::string s =
      "experiment: big\ndataset:\n  source: synth\n  params: {classes: 4, dim: 8, train_per_class: 4, "
      "test_per_class: 2}\n  train_split: train\n  eval_split: test\nmethods:\n  - name: linear_probe\n"
      "metrics: [top1]\nselect: none\nsweep:\n  grid:\n    method.params.lr: [";
  for (int i = 0; i < a; ++i) s += (i ? ", " : "") + std::to_string(0.001 * (i + 1));
  s += "]\n    method.params.l2: [";
  for (int i = 0; i < b; ++i) s += (i ? ", " : "") + std::to_string(1e-6 * (i + 1));
  return s + "]\n";
}

TEST(PlanBounds, AMillionRunGridIsRefusedWithTheCountBeforeAnythingIsBuilt) {
  TempDir t;
  write_text(t / "big.yaml", grid_spec(1000, 1000));
  const auto start = std::chrono::steady_clock::now();
  // 2 GB of address space: materialising the plan would need several.
  auto r = run_command("ulimit -v 2000000; " + std::string(VLB_CLI) + " run " + t / "big.yaml" +
                       " --dry-run --results " + t / "results" + " 2>&1");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "big.yaml")) << r.output;
  EXPECT_TRUE(contains(r.output, "the plan has 1000000 runs, more than the limit of 100000")) << r.output;
  EXPECT_LT(secs, 60.0);
}

TEST(PlanBounds, TheLimitIsSetByFlagOrEnvironment) {
  TempDir t;
  write_text(t / "nine.yaml", grid_spec(3, 3));
  const std::string base = "run " + t / "nine.yaml" + " --dry-run --results " + t / "results";
  auto ok = run_cli(base);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto flag = run_cli(base + " --max-runs 5");
  EXPECT_EQ(flag.exit_code, 2) << flag.output;
  EXPECT_TRUE(contains(flag.output, "the plan has 9 runs, more than the limit of 5")) << flag.output;
  auto env = run_command("VLB_MAX_RUNS=8 " + std::string(VLB_CLI) + " " + base + " 2>&1");
  EXPECT_EQ(env.exit_code, 2) << env.output;
  EXPECT_TRUE(contains(env.output, "limit of 8")) << env.output;
}

TEST(PlanBounds, DryRunOfALargePlanStreamsEveryRow) {
  TempDir t;
  write_text(t / "wide.yaml", grid_spec(100, 50));
  auto r = run_command(std::string(VLB_CLI) + " run " + t / "wide.yaml" + " --dry-run --results " +
                       t / "results" + " 2>/dev/null | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::stoi(r.output), 5000 + 2) << r.output;  // header + rows + summary
}

}  // namespace
