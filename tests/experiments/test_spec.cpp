// Spec loading, strict validation, overrides, includes, plan expansion and run keys.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <regex>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/experiments/spec.h"

namespace vlb::test {
void add_fakes(Registries& r);  // fakes.cpp
}

namespace {

using vlb::ConfigError;
using vlb::ExpandedSpec;
using vlb::Registries;
using vlb::test::TempDir;

const std::string kBase =
    "experiment: t1\n"              // 1
    "dataset:\n"                    // 2
    "  source: fake\n"              // 3
    "  params: {classes: 3}\n"      // 4
    "methods:\n"                    // 5
    "  - name: centroid\n"          // 6
    "metrics: [acc]\n"              // 7
    "runtime: {threads: 1, seeds: [0]}\n";  // 8

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override { vlb::test::add_fakes(reg_); }

  std::string write(const std::string& text, const std::string& name = "spec.yaml") {
    std::string p = dir_ / name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    vlb::test::write_text(p, text);
    return p;
  }
  ExpandedSpec expand(const std::string& text, const std::vector<std::string>& overrides = {}) {
    return vlb::expand_spec(write(text), overrides, reg_);
  }
  // The ConfigError message, failing the test if nothing (or something else) is thrown.
  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    try {
      expand(text, overrides);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError for:\n" << text;
    return "";
  }
  std::string spec_file() { return dir_ / "spec.yaml"; }

  Registries reg_;
  TempDir dir_;
};

TEST_F(SpecTest, BaseSpecExpandsToOneRunWithDefaultsFilled) {
  auto s = expand(kBase);
  ASSERT_EQ(s.runs.size(), 1u);
  const auto& r = s.runs[0];
  EXPECT_EQ(s.experiment, "t1");
  EXPECT_EQ(r.dataset_params.get_int("classes"), 3);
  EXPECT_EQ(r.dataset_params.get_int("per_class"), 6);  // default
  EXPECT_EQ(r.method, "centroid");
  EXPECT_EQ(r.method_params.get_string("mode"), "mean");
  EXPECT_EQ(r.train_split, "train");
  EXPECT_EQ(r.eval_split, "test");
  ASSERT_EQ(r.metrics.size(), 1u);
  EXPECT_EQ(r.metrics[0].name, "acc");
}

TEST_F(SpecTest, MalformedYamlReportsFileLineColumn) {
  std::string msg = error_of("experiment: t1\nmethods: [centroid, boom\nmetrics: [acc]\n");
  EXPECT_TRUE(std::regex_search(msg, std::regex(std::regex_replace(
                                          spec_file(), std::regex(R"([.^$|()\[\]{}*+?\\])"),
                                          R"(\$&)") +
                                      R"(:[2-9]:\d+: )")))
      << msg;
}

TEST_F(SpecTest, UnknownTopLevelKeyHasLocationAndHint) {
  std::string msg = error_of(kBase + "metrix: [acc]\n");
  EXPECT_NE(msg.find(spec_file() + ":9:1: metrix: unknown key 'metrix'; did you mean 'metrics'?"),
            std::string::npos)
      << msg;
}

TEST_F(SpecTest, UnknownNestedKeyHasLocationAndHint) {
  std::string text = kBase;
  text.replace(text.find("  params"), 0, "  trian_split: a\n");  // becomes line 4
  std::string msg = error_of(text);
  EXPECT_NE(msg.find(spec_file() +
                     ":4:3: dataset.trian_split: unknown key 'trian_split'; did you mean "
                     "'train_split'?"),
            std::string::npos)
      << msg;
}

TEST_F(SpecTest, UnknownParamIsReportedAtItsKeyWithHint) {
  std::string text = kBase;
  text.replace(text.find("  - name: centroid\n"), 19, "  - name: centroid\n    params: {shrnk: 1}\n");
  std::string msg = error_of(text);
  EXPECT_NE(msg.find(spec_file() + ":7:14: methods[0].params.shrnk:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'shrink'?"), std::string::npos) << msg;
}

TEST_F(SpecTest, WrongTypesAreRejectedAtTheValue) {
  std::string text = kBase;
  text.replace(text.find("seeds: [0]"), 10, "seeds: {a: 1}");
  std::string msg = error_of(text);
  EXPECT_NE(msg.find(spec_file() + ":8:30: runtime.seeds: expected a list, got a map"),
            std::string::npos)
      << msg;

  auto with_params = [&](const std::string& params) {
    std::string t = kBase;
    t.replace(t.find("  - name: centroid\n"), 19,
              "  - name: centroid\n    params: " + params + "\n");
    return error_of(t);
  };
  msg = with_params("{l2: abc}");
  EXPECT_NE(msg.find(":7:18: methods[0].params.l2: expected float, got 'abc'"), std::string::npos)
      << msg;
  msg = with_params("{l2: \"0.1\"}");  // a quoted number is a string
  EXPECT_NE(msg.find("methods[0].params.l2: expected float, got string \"0.1\""), std::string::npos)
      << msg;
  msg = with_params("{normalize: yes}");
  EXPECT_NE(msg.find("methods[0].params.normalize: expected bool"), std::string::npos) << msg;
  msg = with_params("{l2: [1, 2]}");
  EXPECT_NE(msg.find("methods[0].params.l2: expected float, got a list"), std::string::npos) << msg;
  msg = with_params("{mode: meadian}");
  EXPECT_NE(msg.find("did you mean 'median'?"), std::string::npos) << msg;

  std::string ds_list = kBase;
  ds_list.replace(ds_list.find("classes: 3"), 10, "classes: 4.5");
  msg = error_of(ds_list);
  EXPECT_NE(msg.find(":4:21: dataset.params.classes: expected int, got '4.5'"), std::string::npos)
      << msg;
}

TEST_F(SpecTest, OutOfRangeParamNamesKeyAndRange) {
  std::string text = kBase;
  text.replace(text.find("  - name: centroid\n"), 19, "  - name: centroid\n    params: {l2: -1}\n");
  std::string msg = error_of(text);
  EXPECT_EQ(msg, spec_file() + ":7:18: methods[0].params.l2: -1 is out of range [0, inf]");
  std::string threads = kBase;
  threads.replace(threads.find("threads: 1"), 10, "threads: 0");
  msg = error_of(threads);
  EXPECT_NE(msg.find(":8:20: runtime.threads: 0 is out of range"), std::string::npos) << msg;
}

TEST_F(SpecTest, ScientificNotationParsesAsFloat) {
  std::string text = kBase;
  text.replace(text.find("  - name: centroid\n"), 19,
               "  - name: centroid\n    params: {l2: 1e-3, shrink: 1}\n");
  auto s = expand(text);
  EXPECT_DOUBLE_EQ(s.runs[0].method_params.get_float("l2"), 1e-3);
  EXPECT_DOUBLE_EQ(s.runs[0].method_params.get_float("shrink"), 1.0);  // int accepted for float
}

TEST_F(SpecTest, UnknownComponentsGetRegistryHints) {
  std::string text = kBase;
  text.replace(text.find("name: centroid"), 14, "name: centriod");
  std::string msg = error_of(text);
  EXPECT_NE(msg.find(spec_file() + ":6:11: methods[0].name: unknown method 'centriod'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("did you mean 'centroid'?"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(registered: boom, centroid, crash)"), std::string::npos) << msg;

  std::string metric = kBase;
  metric.replace(metric.find("[acc]"), 5, "[acc, acx]");
  msg = error_of(metric);
  EXPECT_NE(msg.find(":7:16: metrics[1]: unknown metric 'acx'"), std::string::npos) << msg;

  std::string source = kBase;
  source.replace(source.find("source: fake"), 12, "source: faek");
  msg = error_of(source);
  EXPECT_NE(msg.find(":3:11: dataset.source: unknown dataset source 'faek'"), std::string::npos)
      << msg;
}

TEST_F(SpecTest, MissingRequiredKeyAndBadExperimentName) {
  std::string text = kBase;
  text.replace(0, text.find('\n') + 1, "");
  EXPECT_NE(error_of(text).find("missing required key 'experiment'"), std::string::npos);
  std::string bad = kBase;
  bad.replace(0, 14, "experiment: a/b");
  EXPECT_NE(error_of(bad).find(":1:13: experiment: 'a/b' is not a valid experiment name"),
            std::string::npos);
}

TEST_F(SpecTest, ZipListsMustHaveEqualLengths) {
  std::string msg = error_of(kBase +
                             "sweep:\n"
                             "  zip:\n"
                             "    method.params.l2: [1, 2]\n"
                             "    method.params.shrink: [0.1]\n");
  EXPECT_NE(msg.find(":12:27: sweep.zip.method.params.shrink: zip lists must have equal lengths"),
            std::string::npos)
      << msg;
}

TEST_F(SpecTest, SweepKeysAreValidatedAgainstEveryMethod) {
  std::string two = kBase;
  two.replace(two.find("  - name: centroid\n"), 19, "  - name: centroid\n  - name: boom\n");
  // Line 10 after the insertion; boom has no 'shrink'.
  std::string msg = error_of(two + "sweep:\n  grid:\n    method.params.shrink: [0, 0.5]\n");
  EXPECT_NE(msg.find(":12:5: sweep.grid.method.params.shrink: method 'boom': unknown parameter "
                     "'shrink'"),
            std::string::npos)
      << msg;
  msg = error_of(kBase + "sweep:\n  grid:\n    experiment: [a, b]\n");
  EXPECT_NE(msg.find(":11:5: sweep.grid.experiment: 'experiment' cannot be swept"),
            std::string::npos)
      << msg;
  msg = error_of(kBase + "sweep:\n  grid:\n    dataset.params.spred: [0.1]\n");
  EXPECT_NE(msg.find("did you mean 'spread'?"), std::string::npos) << msg;
  // Values are checked like the values they replace, at their own location.
  msg = error_of(kBase + "sweep:\n  grid:\n    dataset.params.spread: [0.1, -2]\n");
  EXPECT_EQ(msg, spec_file() +
                     ":11:34: sweep.grid.dataset.params.spread[1]: -2 is out of range [0, 10]");
  msg = error_of(kBase + "sweep: {grid: {dataset.params.spread: [0.1]}}\n"
                         "ablations:\n  a: {dataset.params.spread: 0.5}\n");
  EXPECT_NE(msg.find(":11:7: ablations.a.dataset.params.spread: 'dataset.params.spread' is also "
                     "swept"),
            std::string::npos)
      << msg;
  msg = error_of(kBase + "ablations:\n  a: {method.params.l2: x}\n");
  EXPECT_NE(msg.find(":10:25: ablations.a.method.params.l2: expected float, got 'x'"),
            std::string::npos)
      << msg;
}

TEST_F(SpecTest, OverridesApplyBeforeValidation) {
  auto s = expand(kBase, {"runtime.threads=3", "methods.0.params.l2=0.5", "runtime.seeds=[4, 5]",
                          "dataset.params.classes=7"});
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].threads, 3);
  EXPECT_DOUBLE_EQ(s.runs[0].method_params.get_float("l2"), 0.5);
  EXPECT_EQ(s.runs[0].seed, 4u);
  EXPECT_EQ(s.runs[1].seed, 5u);
  EXPECT_EQ(s.runs[1].dataset_params.get_int("classes"), 7);
}

TEST_F(SpecTest, ThreadsDefaultToAutoAndTakeAutoOrACount) {
  std::string no_threads = kBase;
  no_threads.replace(no_threads.find("threads: 1, "), 12, "");
  auto s = expand(no_threads);
  EXPECT_EQ(s.threads, vlb::kThreadsAuto);
  EXPECT_EQ(s.runs[0].threads, vlb::kThreadsAuto);
  EXPECT_EQ(expand(kBase, {"runtime.threads=auto"}).threads, vlb::kThreadsAuto);
  EXPECT_EQ(expand(kBase, {"runtime.threads=6"}).threads, 6);
  EXPECT_EQ(expand(kBase).threads, 1);
  std::string msg = error_of(kBase, {"runtime.threads=1025"});
  EXPECT_NE(msg.find("1025 is out of range [1, 1024] (or auto)"), std::string::npos) << msg;
}

TEST_F(SpecTest, ThreadsCannotBeSweptNorPatched) {
  // A threads axis would plan the same runs twice under one key (Note [Threads are not swept]).
  std::string msg = error_of(kBase + "sweep:\n  grid:\n    runtime.threads: [1, 2]\n");
  EXPECT_NE(msg.find(":11:5: sweep.grid.runtime.threads: runtime.threads cannot be swept: the "
                     "thread count does not change results"),
            std::string::npos)
      << msg;
  msg = error_of(kBase + "sweep:\n  zip:\n    runtime.threads: [1, 2]\n");
  EXPECT_NE(msg.find(":11:5: sweep.zip.runtime.threads: runtime.threads cannot be swept"),
            std::string::npos)
      << msg;
  msg = error_of(kBase + "ablations:\n  many: {runtime.threads: 4}\n");
  EXPECT_NE(msg.find(":10:10: ablations.many.runtime.threads: runtime.threads cannot be swept"),
            std::string::npos)
      << msg;
}

TEST_F(SpecTest, OverrideErrorsNameTheOverride) {
  std::string msg = error_of(kBase, {"experiment.x=1"});
  EXPECT_NE(msg.find("--set experiment.x=1: bad path"), std::string::npos) << msg;
  msg = error_of(kBase, {"methods.3.name=boom"});
  EXPECT_NE(msg.find("--set methods.3.name=boom: bad path"), std::string::npos) << msg;
  msg = error_of(kBase, {"runtime.threads=x"});
  EXPECT_EQ(msg, "--set runtime.threads=x: runtime.threads: expected auto or an integer, got 'x'");
  msg = error_of(kBase, {"runtime.threads=[2]"});
  EXPECT_NE(msg.find("runtime.threads: expected auto or an integer"), std::string::npos) << msg;
  msg = error_of(kBase, {"runtime.threads='auto'"});  // quoted: a string, not the keyword
  EXPECT_NE(msg.find("runtime.threads: expected auto or an integer"), std::string::npos) << msg;
  msg = error_of(kBase, {"runtime.treads=2"});
  EXPECT_NE(msg.find("--set runtime.treads=2: runtime.treads: unknown key 'treads'; did you mean "
                     "'threads'?"),
            std::string::npos)
      << msg;
  msg = error_of(kBase, {"noequals"});
  EXPECT_NE(msg.find("--set noequals"), std::string::npos) << msg;
}

TEST_F(SpecTest, IncludesMergeDeeplyAndTheSpecWins) {
  write("runtime: {threads: 2, seeds: [0, 1]}\n", "configs/runtime.yaml");
  write("dataset:\n  source: fake\n  params: {classes: 5, dim: 8}\n", "configs/data.yaml");
  std::string spec = write(
      "experiment: inc\n"
      "include: [../configs/runtime.yaml, ../configs/data.yaml]\n"
      "dataset:\n"
      "  params: {dim: 6}\n"
      "methods: [{name: centroid}]\n"
      "metrics: [acc]\n"
      "runtime: {seeds: [3]}\n",
      "specs/spec.yaml");
  auto s = vlb::expand_spec(spec, {}, reg_);
  ASSERT_EQ(s.runs.size(), 1u);  // lists are replaced, not concatenated
  EXPECT_EQ(s.runs[0].seed, 3u);
  EXPECT_EQ(s.runs[0].threads, 2);
  EXPECT_EQ(s.runs[0].dataset_params.get_int("classes"), 5);
  EXPECT_EQ(s.runs[0].dataset_params.get_int("dim"), 6);

  // Errors in a fragment point into the fragment.
  write("dataset:\n  source: fake\n  params: {classes: 1}\n", "configs/data.yaml");
  try {
    vlb::expand_spec(spec, {}, reg_);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.yaml:3:21: dataset.params.classes: 1 is out of range"),
              std::string::npos)
        << e.what();
  }
  std::string missing = write("experiment: m\ninclude: nope.yaml\n", "specs/missing.yaml");
  EXPECT_THROW(vlb::expand_spec(missing, {}, reg_), ConfigError);
}

const std::string kSweep =
    "experiment: plan\n"
    "dataset: {source: fake}\n"
    "methods:\n"
    "  - name: centroid\n"
    "    grid: {shrink: [0, 0.5]}\n"
    "  - name: boom\n"
    "metrics: [acc, {name: acc_k, params: {k: 2}}]\n"
    "runtime: {seeds: [0, 1]}\n"
    "sweep:\n"
    "  grid: {dataset.params.spread: [0.1, 0.2], method.params.l2: [0, 1]}\n"
    "  zip: {dataset.params.dim: [4, 8], dataset.params.per_class: [6, 8]}\n"
    "ablations:\n"
    "  more_train: {dataset.params.train_per_class: 4}\n"
    "select: none\n";

TEST_F(SpecTest, PlanSizeAndDeterministicOrder) {
  auto s = expand(kSweep);
  // centroid: 2 own grid x 2 ablations x 4 global grid x 2 zip x 2 seeds; boom: 1 x 2 x 4 x 2 x 2.
  ASSERT_EQ(s.runs.size(), 64u + 32u);
  const auto& r0 = s.runs[0];
  EXPECT_EQ(r0.method, "centroid");
  EXPECT_EQ(r0.ablation, "");
  EXPECT_EQ(r0.seed, 0u);
  std::vector<std::pair<std::string, std::string>> swept0{
      {"shrink", "0"}, {"spread", "0.1"}, {"l2", "0"}, {"dim", "4"}, {"per_class", "6"}};
  EXPECT_EQ(r0.swept, swept0);
  EXPECT_EQ(s.runs[1].seed, 1u);                                  // seeds fastest
  EXPECT_EQ(s.runs[2].dataset_params.get_int("dim"), 8);          // then zip
  EXPECT_EQ(s.runs[2].dataset_params.get_int("per_class"), 8);
  EXPECT_DOUBLE_EQ(s.runs[4].method_params.get_float("l2"), 1);   // then last grid key
  EXPECT_DOUBLE_EQ(s.runs[8].dataset_params.get_float("spread"), 0.2);
  EXPECT_EQ(s.runs[15].ablation, "");
  EXPECT_EQ(s.runs[16].ablation, "more_train");                   // then ablations
  EXPECT_EQ(s.runs[16].dataset_params.get_int("train_per_class"), 4);
  EXPECT_EQ(s.runs[0].dataset_params.get_int("train_per_class"), 3);
  EXPECT_DOUBLE_EQ(s.runs[32].method_params.get_float("shrink"), 0.5);  // then the method grid
  EXPECT_EQ(s.runs[64].method, "boom");                                 // then methods
  EXPECT_EQ(s.runs[64].metrics[1].params.get_int("k"), 2);

  auto again = expand(kSweep);
  ASSERT_EQ(again.runs.size(), s.runs.size());
  for (size_t i = 0; i < s.runs.size(); ++i)
    EXPECT_EQ(vlb::resolved_config_yaml(again.runs[i]), vlb::resolved_config_yaml(s.runs[i]));
}

TEST_F(SpecTest, ResolvedConfigIsCanonicalAndRoundTrips) {
  std::string text = kBase;
  text.replace(text.find("  - name: centroid\n"), 19,
               "  - name: centroid\n    params: {l2: 1e-3, mode: median}\n");
  auto s = expand(text);
  std::string y = vlb::resolved_config_yaml(s.runs[0]);
  auto a = y.find("ablation:"), d = y.find("dataset:"), e = y.find("experiment:"),
       m = y.find("method:"), mt = y.find("metrics:"), rt = y.find("runtime:");
  EXPECT_TRUE(a < d && d < e && e < m && m < mt && mt < rt) << y;
  YAML::Node n = YAML::Load(y);
  EXPECT_EQ(n["experiment"].as<std::string>(), "t1");
  EXPECT_EQ(n["ablation"].as<std::string>(), "");
  EXPECT_EQ(n["dataset"]["source"].as<std::string>(), "fake");
  EXPECT_EQ(n["dataset"]["params"].size(), 6u);  // every declared param, defaults filled
  EXPECT_EQ(n["dataset"]["params"]["spread"].as<std::string>(), "0.3");
  EXPECT_EQ(n["method"]["params"]["l2"].as<std::string>(), "0.001");
  EXPECT_EQ(n["method"]["params"]["shrink"].as<std::string>(), "0.0");  // floats stay floats
  EXPECT_EQ(n["method"]["params"]["mode"].as<std::string>(), "median");
  EXPECT_EQ(n["runtime"]["seed"].as<int>(), 0);
  EXPECT_FALSE(n["runtime"]["threads"]);  // not a setting of the run: env.json records it
  EXPECT_EQ(n["metrics"][0].as<std::string>(), "acc");
}

class RunKeyTest : public SpecTest {
 protected:
  std::vector<std::string> keys(const std::vector<std::string>& overrides, int threads = 0) {
    vlb::RunOptions o;
    o.overrides = overrides;
    o.threads = threads;
    o.results_root = dir_ / "results";
    auto plan = vlb::make_plan(write(kBase), o, reg_);
    std::vector<std::string> out;
    for (const auto& r : plan.runs) out.push_back(r.key);
    return out;
  }
};

TEST_F(RunKeyTest, StableAndSensitiveToWhatDeterminesResults) {
  auto base = keys({});
  ASSERT_EQ(base.size(), 1u);
  EXPECT_TRUE(std::regex_match(base[0], std::regex("[0-9a-f]{64}"))) << base[0];
  EXPECT_EQ(keys({}), base);
  EXPECT_NE(keys({"methods.0.params.shrink=0.1"}), base);
  EXPECT_NE(keys({"runtime.seeds=[1]"}), base);
  // Threads change no number (Note [Run key contents]): not in the key, however they are set.
  EXPECT_EQ(keys({}, 2), base);
  EXPECT_EQ(keys({"runtime.threads=4"}), base);
  EXPECT_EQ(keys({"runtime.threads=auto"}, 3), base);
  EXPECT_NE(keys({"dataset.params.spread=0.4"}), base);       // a different fingerprint
  EXPECT_NE(keys({"dataset.eval_split=train"}), base);
  // The same content reached through another path shares runs.
  EXPECT_EQ(keys({"dataset.params.path=/elsewhere/x.h5"}), base);
  EXPECT_EQ(keys({"runtime.seeds=[0, 1]"})[0], base[0]);
}

TEST_F(RunKeyTest, KeyJsonIsCanonical) {
  auto s = expand(kBase);
  std::string j = vlb::run_key_json(s.runs[0], "abc", reg_);
  EXPECT_EQ(j.rfind("{\"ablation\":\"\",", 0), 0u) << j;  // sorted keys, compact
  EXPECT_NE(j.find("\"harness\":\"vlb-runkey/2\""), std::string::npos);
  EXPECT_EQ(j.find("threads"), std::string::npos);  // threads are not hashed
  EXPECT_NE(j.find("\"method_version\":\"2\""), std::string::npos);
  EXPECT_NE(j.find("\"dataset_fingerprint\":\"abc\""), std::string::npos);
  EXPECT_EQ(j.find("classes"), std::string::npos);  // dataset params are not hashed
  EXPECT_EQ(vlb::run_key(s.runs[0], "abc", reg_), vlb::sha256_hex(j));
}

}  // namespace
