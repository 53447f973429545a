// Plan-time validation: what a method needs from its dataset (its `needs:` tags) and the splits of
// every run are checked once, after the datasets are loaded and before any run starts. One error
// lists every problem, names the converter flag that adds what is missing, and nothing is run.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "test_support.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/needs.h"

namespace {

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;
using vlb::test::write_text;

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// A schema-v1 file without /texts and without descriptors, from `vlb convert npy`.
std::string file_without_texts(const TempDir& dir) {
  std::string py = vlb::test::system_python_with("numpy");
  if (py.empty()) return "";
  auto r = vlb::test::run_command(
      py + " -c \"import numpy as np; r = np.random.default_rng(0)\n"
           "for s, n in (('train', 30), ('test', 20)):\n"
           "    np.save('" + dir.path() + "/' + s + '_features.npy', r.normal(size=(n, 8)).astype('float32'))\n"
           "    np.save('" + dir.path() + "/' + s + '_labels.npy', np.arange(n) % 3)\"");
  if (r.exit_code != 0) return "";
  write_text(dir / "classnames.txt", "a\nb\nc\n");
  auto c = run_cli("convert npy --dir " + dir.path() + " --name plain --out " + (dir / "plain.h5"));
  EXPECT_EQ(c.exit_code, 0) << c.output;
  return dir / "plain.h5";
}

class PlanNeeds : public ::testing::Test {
 protected:
  std::string spec(const std::string& dataset, const std::string& methods,
                   const std::string& extra = "") {
    std::string p = dir_ / "spec.yaml";
    write_text(p, "experiment: needs\ndataset: " + dataset + "\nmethods:\n" + methods +
                      "metrics: [top1]\nruntime: {seeds: [0, 1, 2]}\n" + extra);
    return p;
  }
  std::string results() { return dir_ / "results"; }
  TempDir dir_;
};

TEST_F(PlanNeeds, TextBankMethodOnAFileWithoutTextsIsOneErrorNamingTheFlag) {
  std::string h5 = file_without_texts(dir_);
  if (h5.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy is needed to write the .npy inputs";
  std::string s = spec("{source: h5, params: {path: '" + h5 + "'}}",
                       "  - name: coder_fewshot\n"
                       "    params: {bank: free, base_logits: class_mean, no_split: loo}\n",
                       "sweep: {grid: {method.params.init_beta: [1.0, 2.0, 3.0]}}\nselect: none\n");
  for (std::string flag : {"", " --dry-run"}) {
    auto r = run_cli("run " + s + flag + " --results " + results());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    // Nine runs, one problem: the (method, dataset) pair, located at the method entry.
    EXPECT_NE(r.output.find("1 problem found before any run started"), std::string::npos) << r.output;
    EXPECT_EQ(count(r.output, "coder_fewshot on dataset"), 1) << r.output;
    EXPECT_NE(r.output.find(s + ":4:11: methods[0]: coder_fewshot on dataset 'plain'"),
              std::string::npos) << r.output;
    EXPECT_NE(r.output.find("needs texts (/texts)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("`vlb convert npy --text-features TEXTS.npy --text-classes CLASSES.npy`"),
              std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--text-bank FEATURES.npy[:NAMES.txt]"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(results() + "/needs")) << "a run directory was written";
  }
  // With its defaults it also needs typed class texts and a search split: still one line.
  std::string d = spec("{source: h5, params: {path: '" + h5 + "'}}", "  - name: coder_fewshot\n");
  auto r = run_cli("run " + d + " --dry-run --results " + results());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(count(r.output, "coder_fewshot on dataset"), 1) << r.output;
  EXPECT_NE(r.output.find("--text-types TYPES.npy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("needs the split 'val' (params.search_split"), std::string::npos) << r.output;
  // The fallback the method has (leave-one-out without a search split) is no error.
  EXPECT_EQ(r.output.find("no_split"), std::string::npos) << r.output;
}

TEST_F(PlanNeeds, MisspeltEvalSplitNamesTheAvailableSplits) {
  std::string s = spec("{source: synth, params: {classes: 4, dim: 8, train_per_class: 4, "
                       "test_per_class: 4}, eval_split: tets}",
                       "  - name: ncm\n  - name: zeroshot\n");
  auto r = run_cli("run " + s + " --results " + results());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(s + ":2:"), std::string::npos) << r.output;  // dataset.eval_split
  EXPECT_NE(r.output.find("dataset.eval_split: 'tets' is not a split of dataset 'synth'"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(has: test, train): `vlb convert npy --split"), std::string::npos)
      << r.output;
  EXPECT_EQ(count(r.output, "'tets' is not a split"), 1) << r.output;  // six runs, one line
  EXPECT_FALSE(fs::exists(results() + "/needs"));
  auto near = run_cli("run " + s + " --set dataset.eval_split=tst --dry-run --results " + results());
  EXPECT_EQ(near.exit_code, 2) << near.output;
  EXPECT_NE(near.output.find("did you mean 'test'?"), std::string::npos) << near.output;
}

TEST_F(PlanNeeds, DescriptorKindNamedByAParameterMustExist) {
  std::string ds = "{source: synth, params: {classes: 4, dim: 8, train_per_class: 4, "
                   "test_per_class: 4}}";
  std::string s = spec(ds, "  - name: zeroshot\n    params: {descriptor: atributes}\n"
                           "  - name: zeroshot\n    params: {descriptor: attributes}\n");
  auto r = run_cli("run " + s + " --dry-run --results " + results());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("needs class descriptors of kind 'atributes' (params.descriptor)"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("has: attributes, text_emb; did you mean 'attributes'?"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("vlb convert xlsa17 --descriptor atributes=FILE.npy"), std::string::npos)
      << r.output;
  // The existing kind plans; zeroshot on its prompts needs no descriptor at all.
  std::string ok = spec(ds, "  - name: zeroshot\n    params: {descriptor: attributes}\n"
                            "  - name: zeroshot\n");
  auto fine = run_cli("run " + ok + " --dry-run --results " + results());
  EXPECT_EQ(fine.exit_code, 0) << fine.output;
}

TEST(MethodNeeds, EveryRegisteredNeedParsesAndNamesRealParameters) {
  const auto& reg = vlb::builtins();
  int declared = 0;
  for (const auto* e : reg.methods.entries()) {
    auto needs = vlb::parse_needs(e->tags);
    EXPECT_NO_THROW(vlb::check_needs_against(needs, e->schema, e->name));
    declared += static_cast<int>(needs.size());
  }
  EXPECT_GT(declared, 20);
  EXPECT_THROW(vlb::parse_needs({"needs:descriptor"}), vlb::Error);
  EXPECT_THROW(vlb::parse_needs({"needs:textz"}), vlb::Error);
  EXPECT_THROW(vlb::parse_needs({"needs:split:@x?y"}), vlb::Error);
  auto n = vlb::parse_needs({"needs:split:@search_split?search=val,no_split!=loo", "trains"});
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].param, "search_split");
  ASSERT_EQ(n[0].when.size(), 2u);
  EXPECT_FALSE(n[0].when[1].equal);
  EXPECT_EQ(n[0].when[1].value, "loo");
}

TEST(MethodNeeds, DescribeShowsTheNeeds) {
  auto r = run_cli("describe coder_fewshot");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("needs:split:@search_split?search=val,no_split=error"), std::string::npos)
      << r.output;
}

// Every committed spec on synthetic data still plans (real-data specs need ../shared files).
TEST(CommittedSpecs, EverySyntheticSpecPlans) {
  TempDir results;
  int planned = 0;
  for (const auto& e : fs::directory_iterator(vlb::test::source_dir() + "/experiments/specs")) {
    if (e.path().extension() != ".yaml") continue;
    std::string text = vlb::test::read_text(e.path().string());
    if (std::regex_search(text, std::regex("source:\\s*h5|\\.\\./shared"))) continue;
    auto r = run_cli("run " + e.path().string() + " --dry-run --results " + results.path());
    EXPECT_EQ(r.exit_code, 0) << e.path() << "\n" << r.output;
    ++planned;
  }
  EXPECT_GT(planned, 5);
}

}  // namespace
