// `vlb bless --stat` and `vlb check --stat` end to end, on the quickstart sweep (its runs keep
// predictions.h5). A "new run" is a copy whose ncm predictions were edited with h5py: rows flipped
// from right to wrong (and back) by moving the true class's score just past its neighbour, with
// the sha256 attribute and metrics.json rewritten to match, so the leaderboard and the per-sample
// data agree as they do after a real change.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "gate_fixture.h"
#include "test_support.h"

namespace vlb {
namespace {

using gate_test::contains;
using test::read_text;
using test::run_cli;
using test::run_command;
using test::TempDir;

// argv: experiment dir, rows to make wrong per ncm run, rows to make right per ncm run. Only rows
// ranked first become second and rows ranked second become first, so top-5 does not move.
const char* kFlip = R"PY(
import glob, hashlib, json, os, re, sys
import h5py, numpy as np
exp, lose, gain = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for run in sorted(glob.glob(os.path.join(exp, '*', 'config.resolved.yaml'))):
    d = os.path.dirname(run)
    if not re.search(r'^method:\n  name: ncm$', open(run).read(), re.M):
        continue
    with h5py.File(os.path.join(d, 'predictions.h5'), 'r+') as f:
        s, y = f['/scores'][()], f['/label'][()]
        n = len(y)
        rank = (s > s[np.arange(n), y][:, None]).sum(axis=1)
        srt = np.sort(s, axis=1)
        for i in np.flatnonzero(rank == 0)[:lose]:
            s[i, y[i]] = np.nextafter(srt[i, -2], np.float32(-np.inf))
        for i in np.flatnonzero(rank == 1)[:gain]:
            s[i, y[i]] = np.nextafter(srt[i, -1], np.float32(np.inf))
        f['/scores'][...] = s
        f['/scores'].attrs.modify('sha256', hashlib.sha256(s.astype('<f4').tobytes()).hexdigest())
    ok = np.argmax(s, axis=1) == y
    top5 = (s > s[np.arange(n), y][:, None]).sum(axis=1) < 5
    mpath = os.path.join(d, 'metrics.json')
    m = json.load(open(mpath))
    m['metrics']['cls/top1'] = float(ok.mean())
    m['metrics']['cls/top5'] = float(top5.mean())
    m['metrics']['cls/mean_per_class'] = float(np.mean([ok[y == c].mean() for c in np.unique(y)]))
    json.dump(m, open(mpath, 'w'), indent=2)
)PY";

struct StatCli : ::testing::Test {
  TempDir t;
  std::string py, blessed, file;

  void SetUp() override {
    py = test::system_python_with("numpy, h5py");
    if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy and h5py not found: end-to-end --stat skipped";
    const auto& sweep = test::shared_sweep("quickstart");
    blessed = test::copy_experiment(sweep.experiment_dir, t / "a");
    file = t / "b.json";
    auto b = run_cli("bless --stat --baseline " + file + " " + blessed);
    ASSERT_EQ(b.exit_code, 0) << b.output;
    test::write_text(t / "flip.py", kFlip);
  }
  // A copy of the blessed results with `lose`/`gain` rows flipped in every ncm run.
  std::string flipped(const std::string& name, int lose, int gain) {
    std::string dir = test::copy_experiment(blessed, t / name);
    auto r = run_command(py + " " + (t / "flip.py") + " " + dir + " " + std::to_string(lose) + " " +
                         std::to_string(gain) + " 2>&1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir;
  }
  nlohmann::json entry(const nlohmann::json& check, const std::string& method, const std::string& metric,
                       const std::string& shots) {
    for (const auto& e : check["entries"])
      if (e["identity"]["method.name"] == method && e["metric"] == metric &&
          e["identity"]["dataset.shots"] == shots)
        return e;
    ADD_FAILURE() << "no entry " << method << " " << metric << " shots " << shots;
    return {};
  }
};

TEST_F(StatCli, BlessKeepsBitsForTopKAndAnIntervalForMeanPerClass) {
  auto j = nlohmann::json::parse(read_text(file));
  EXPECT_EQ(j["format"], "vlb-baseline/3");
  ASSERT_EQ(j["entries"].size(), 18u);
  for (const auto& e : j["entries"]) {
    const auto& s = e["samples"];
    EXPECT_EQ(s["rows"], 1000) << e.dump();
    EXPECT_EQ(s["seeds"], nlohmann::json({0, 1, 2}));
    if (e["metric"] == "cls/mean_per_class") {
      EXPECT_EQ(s["test"], "bootstrap_interval") << e.dump();
      EXPECT_LE(s["lo"].get<double>(), e["expected"].get<double>());
      EXPECT_GE(s["hi"].get<double>(), e["expected"].get<double>());
      EXPECT_EQ(s["resamples"], 1000);
    } else {
      EXPECT_EQ(s["test"], "mcnemar") << e.dump();
      for (const auto& b : s["bits"]) EXPECT_EQ(b.get<std::string>().size(), 168u);  // 125 bytes
      // zeroshot ignores the seed: its three seeds are kept once.
      if (e["identity"]["method.name"] == "zeroshot") {
        EXPECT_EQ(s["bits"].size(), 1u);
      }
    }
  }
  // Blessing again draws the same intervals: the file does not change.
  const std::string before = read_text(file);
  ASSERT_EQ(run_cli("bless --baseline " + file + " " + blessed).exit_code, 0);
  EXPECT_EQ(read_text(file), before);
  auto c = run_cli("check --stat --baseline " + file + " " + blessed);
  EXPECT_EQ(c.exit_code, 0) << c.output;
}

TEST_F(StatCli, ManyFlippedRowsFail) {
  const std::string dir = flipped("many", 100, 0);
  const std::string json = t / "out/check.json";
  auto c = run_cli("check --stat --baseline " + file + " " + dir + " --json " + json);
  EXPECT_EQ(c.exit_code, 1) << c.output;
  auto j = nlohmann::json::parse(read_text(json));
  for (const char* shots : {"4", "16"}) {
    auto top1 = entry(j, "ncm", "cls/top1", shots);
    EXPECT_EQ(top1["status"], "regression") << top1.dump();
    EXPECT_EQ(top1["test"], "mcnemar");
    EXPECT_LT(top1["p_value"].get<double>(), 1e-6);
    auto mpc = entry(j, "ncm", "cls/mean_per_class", shots);
    EXPECT_EQ(mpc["status"], "regression") << mpc.dump();
    EXPECT_EQ(mpc["test"], "bootstrap_interval");
    EXPECT_EQ(entry(j, "ncm", "cls/top5", shots)["status"], "ok");
  }
  EXPECT_EQ(j["failures"], 4);
}

TEST_F(StatCli, FewFlippedRowsFailTheExactGateButPassTheStatisticalOne) {
  const std::string dir = flipped("few", 3, 2);
  auto exact = run_cli("check --baseline " + file + " " + dir);
  EXPECT_EQ(exact.exit_code, 1) << exact.output;
  const std::string json = t / "out/check.json", junit = t / "out/junit.xml";
  auto c = run_cli("check --stat --baseline " + file + " " + dir + " --json " + json + " --junit " + junit);
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_TRUE(contains(c.output, "not significant: McNemar p = ")) << c.output;
  auto j = nlohmann::json::parse(read_text(json));
  EXPECT_EQ(j["mode"], "stat");
  auto top1 = entry(j, "ncm", "cls/top1", "16");
  EXPECT_EQ(top1["status"], "not_significant") << top1.dump();
  EXPECT_EQ(top1["test"], "mcnemar");
  EXPECT_GE(top1["p_value"].get<double>(), 0.05);
  auto mpc = entry(j, "ncm", "cls/mean_per_class", "16");
  EXPECT_EQ(mpc["status"], "not_significant") << mpc.dump();
  EXPECT_EQ(mpc["test"], "bootstrap_interval");
  EXPECT_TRUE(contains(read_text(junit), "decided by mcnemar"));

  // The same inputs give the same bytes.
  const std::string first_json = read_text(json), first_junit = read_text(junit);
  auto again = run_cli("check --stat --baseline " + file + " " + dir + " --json " + json + " --junit " + junit);
  EXPECT_EQ(again.output, c.output);
  EXPECT_EQ(read_text(json), first_json);
  EXPECT_EQ(read_text(junit), first_junit);
}

TEST_F(StatCli, BadInputExitsTwoAndWritesNothing) {
  const std::string junit = t / "out/junit.xml";
  auto refused = [&](const std::string& args, const std::string& why) {
    auto c = run_cli("check --stat " + args + " --junit " + junit);
    EXPECT_EQ(c.exit_code, 2) << args << "\n" << c.output;
    EXPECT_TRUE(contains(c.output, why)) << c.output;
    EXPECT_FALSE(std::filesystem::exists(junit));
  };
  // The committed baseline has no per-sample data: exact mode works, --stat refuses.
  const std::string committed = test::source_dir() + "/tests/regression/baselines/quickstart.json";
  auto exact = run_cli("check --baseline " + committed + " " + blessed);
  EXPECT_EQ(exact.exit_code, 0) << exact.output;
  refused("--baseline " + committed + " " + blessed,
          "baseline " + committed + " has no per-sample data: rebless with `vlb bless --stat`");
  // A new run without predictions.h5.
  const std::string gone = test::copy_experiment(blessed, t / "gone");
  std::string victim;
  for (const auto& d : std::filesystem::directory_iterator(gone))
    if (std::filesystem::exists(d.path() / "predictions.h5")) victim = d.path().string();
  ASSERT_FALSE(victim.empty());
  std::filesystem::remove(victim + "/predictions.h5");
  refused("--baseline " + file + " " + gone, victim);
  refused("--baseline " + file + " " + gone, "no predictions.h5");
  // Rows that are not the blessed ones (the blessed evidence names others).
  auto j = nlohmann::json::parse(read_text(file));
  j["entries"][0]["samples"]["row_ids"] = std::string(64, 'a');
  const std::string other = t / "other.json";
  test::write_text(other, j.dump(2));
  refused("--baseline " + other + " " + blessed, "row ids differ from the blessed ones of " + other + " entries[0]");
}

}  // namespace
}  // namespace vlb
