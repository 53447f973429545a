// `vlb check --junit/--json` and `vlb bless --abs-tol/--rel-tol/--metrics/--set-tolerances`.
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

// Results whose linear_probe mean dropped by 0.125 against a baseline blessed before.
struct Regressed {
  TempDir t;
  std::string file = t / "baseline.json";
  std::string exp = t / "b/fewshot";
  Regressed() {
    write_all(t / "a/fewshot", sweep("/data/a", 1));
    auto b = run_cli("bless --baseline " + file + " " + (t / "a/fewshot") + " --abs-tol 0.01");
    EXPECT_EQ(b.exit_code, 0) << b.output;
    auto runs = sweep("/data/a", 1);
    for (auto& r : runs)
      if (r.method == "linear_probe") r.top1 -= 0.125;
    write_all(exp, runs);
  }
};

TEST(CheckOutputs, JunitIsValidXmlWithOneTestcasePerEntryAndTheNumbersInFailures) {
  Regressed g;
  const std::string junit = g.t / "out/junit.xml";
  const std::string json = g.t / "out/check.json";
  auto c = run_cli("check --baseline " + g.file + " " + g.exp + " --junit " + junit + " --json " + json);
  EXPECT_EQ(c.exit_code, 1) << c.output;
  const std::string xml = read_text(junit);
  EXPECT_TRUE(contains(xml, "expected 0.625, actual 0.5, delta -0.125, allowed 0.01")) << xml;

  std::string py = test::system_python_with("xml.etree.ElementTree");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 not found: XML parse check skipped";
  // Parsed by python's ElementTree: 2 testcases, 1 with a <failure>.
  auto r = run_command(py + " -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                            "cs = r.findall('.//testcase'); fs = [c for c in cs if c.find('failure') is not None]; "
                            "print(len(cs), len(fs), fs[0].find('failure').get('message'))\" " + junit);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("2 1 regression: expected 0.625, actual 0.5", 0), 0u) << r.output;

  auto j = nlohmann::json::parse(read_text(json));
  EXPECT_EQ(j["failures"], 1);
  ASSERT_EQ(j["entries"].size(), 2u);
  const auto& e = j["entries"][0];
  EXPECT_EQ(e["status"], "regression");
  EXPECT_EQ(e["failed"], true);
  EXPECT_DOUBLE_EQ(e["expected"].get<double>(), 0.625);
  EXPECT_DOUBLE_EQ(e["actual"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(e["delta"].get<double>(), -0.125);
  EXPECT_DOUBLE_EQ(e["allowed"].get<double>(), 0.01);
  EXPECT_EQ(e["identity"]["method.name"], "linear_probe");
  EXPECT_EQ(j["entries"][1]["status"], "ok");
}

TEST(CheckOutputs, BlessSetsTolerancesOfAddedEntriesAndOnRequestOfExistingOnes) {
  TempDir t;
  write_all(t / "fewshot", sweep("/data/a", 1));
  const std::string file = t / "b.json";
  auto b = run_cli("bless --baseline " + file + " " + (t / "fewshot") +
                   " --abs-tol 0.002 --rel-tol 0.01 --metrics cls/top1");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto j = nlohmann::json::parse(read_text(file));
  ASSERT_EQ(j["entries"].size(), 2u);
  for (const auto& e : j["entries"]) {
    EXPECT_DOUBLE_EQ(e["abs_tol"].get<double>(), 0.002);
    EXPECT_DOUBLE_EQ(e["rel_tol"].get<double>(), 0.01);
  }
  // Re-blessing with other tolerances keeps the existing ones...
  ASSERT_EQ(run_cli("bless --baseline " + file + " " + (t / "fewshot") + " --abs-tol 0.5").exit_code, 0);
  j = nlohmann::json::parse(read_text(file));
  EXPECT_DOUBLE_EQ(j["entries"][0]["abs_tol"].get<double>(), 0.002);
  // ...unless asked to change them.
  ASSERT_EQ(run_cli("bless --baseline " + file + " " + (t / "fewshot") +
                    " --abs-tol 0.05 --rel-tol 0 --set-tolerances").exit_code, 0);
  j = nlohmann::json::parse(read_text(file));
  for (const auto& e : j["entries"]) {
    EXPECT_DOUBLE_EQ(e["abs_tol"].get<double>(), 0.05);
    EXPECT_DOUBLE_EQ(e["rel_tol"].get<double>(), 0.0);
  }
  auto bad = run_cli("bless --baseline " + file + " " + (t / "fewshot") + " --abs-tol=-1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace vlb
