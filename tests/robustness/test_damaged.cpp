// A run directory counts as done only when every file in it is whole: truncated or edited files,
// another run's key, or a predictions.h5 that metrics.json names but that is missing or empty
// make the next sweep redo the run, replacing the damaged directory.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "robust_support.h"
#include "test_support.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/spec.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::read_text;
using vlb::test::write_text;

class Damaged : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = dir_ / "spec.yaml";
    write_text(spec_, vlb::robust::small_spec(2));  // 2 methods x 2 seeds
    opts_.results_root = dir_ / "results";
    opts_.progress = false;
    plan_ = vlb::make_plan(spec_, opts_, vlb::builtins());
    ASSERT_EQ(plan_.runs.size(), 4u);
  }
  vlb::SweepSummary sweep() {
    std::ostringstream out;
    auto s = vlb::run_experiment(spec_, opts_, vlb::builtins(), out);
    last_output_ = out.str();
    EXPECT_EQ(vlb::robust::leftovers(s.experiment_dir), std::vector<std::string>{});
    return s;
  }
  std::string dir_of(size_t i) { return plan_.experiment_dir + "/" + plan_.runs[i].key16(); }
  bool done(size_t i) { return vlb::run_is_done(dir_of(i), plan_.runs[i].key); }

  vlb::test::TempDir dir_;
  std::string spec_, last_output_;
  vlb::RunOptions opts_;
  vlb::Plan plan_;
};

TEST_F(Damaged, TruncatedFilesAreRedoneAndReplaced) {
  ASSERT_EQ(sweep().ran, 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(done(i)) << i;
  std::string config0 = read_text(dir_of(0) + "/config.resolved.yaml");
  std::string metrics1 = read_text(dir_of(1) + "/metrics.json");

  // config.resolved.yaml cut at a line boundary: still valid YAML, so only the manifest can tell.
  write_text(dir_of(0) + "/config.resolved.yaml", config0.substr(0, config0.find("method:")));
  EXPECT_TRUE(YAML::LoadFile(dir_of(0) + "/config.resolved.yaml").IsMap());
  // metrics.json and env.json cut in the middle.
  write_text(dir_of(1) + "/metrics.json", metrics1.substr(0, metrics1.size() / 2));
  std::string env2 = read_text(dir_of(2) + "/env.json");
  write_text(dir_of(2) + "/env.json", env2.substr(0, env2.size() - 5));
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(done(i)) << i;
  EXPECT_EQ(vlb::run_status(dir_of(1), plan_.runs[1].key), "");
  EXPECT_TRUE(done(3));

  auto again = sweep();
  EXPECT_EQ(again.ran, 3);
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(again.failed, 0);
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(done(i)) << i;
  EXPECT_EQ(read_text(dir_of(0) + "/config.resolved.yaml"), config0);
  EXPECT_EQ(read_text(dir_of(1) + "/metrics.json"), metrics1);  // the same numbers again
  EXPECT_EQ(vlb::test::run_dir_names(plan_.experiment_dir).size(), 4u);
  EXPECT_EQ(sweep().ran, 0);
}

TEST_F(Damaged, AnyChangedByteOrAnotherKeyIsNotDone) {
  ASSERT_EQ(sweep().ran, 4);
  // A file the manifest lists, changed but not shortened.
  std::string ov = read_text(dir_of(0) + "/overrides.txt");
  write_text(dir_of(0) + "/overrides.txt", ov + "x");
  EXPECT_FALSE(done(0));
  write_text(dir_of(0) + "/overrides.txt", ov);
  EXPECT_TRUE(done(0));
  // metrics.json of another run, copied over.
  fs::copy_file(dir_of(2) + "/metrics.json", dir_of(1) + "/metrics.json",
                fs::copy_options::overwrite_existing);
  EXPECT_FALSE(done(1));
  // A listed file that is gone.
  fs::remove(dir_of(3) + "/config.resolved.yaml");
  EXPECT_FALSE(done(3));
  auto again = sweep();
  EXPECT_EQ(again.ran, 2);
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(done(i)) << i;
}

// Directories written before manifests existed are judged by parsing alone.
TEST_F(Damaged, WithoutAManifestEveryFileMustStillParse) {
  ASSERT_EQ(sweep().ran, 4);
  for (size_t i = 0; i < 4; ++i) fs::remove(dir_of(i) + "/manifest.json");
  EXPECT_TRUE(done(0));
  write_text(dir_of(0) + "/config.resolved.yaml", "dataset: {eval_split: test, params: [1, 2\n");
  EXPECT_FALSE(done(0));
  write_text(dir_of(1) + "/env.json", "[]\n");  // JSON, but not an object
  EXPECT_FALSE(done(1));
  EXPECT_EQ(sweep().ran, 2);
  EXPECT_TRUE(fs::exists(dir_of(0) + "/manifest.json"));
}

TEST_F(Damaged, PredictionsNamedInMetricsMustBeThereAndNotEmpty) {
  ASSERT_EQ(sweep().ran, 4);
  // metrics.json is not in the manifest (rescoring may rewrite it): rewritten whole, still done.
  json m = json::parse(read_text(dir_of(0) + "/metrics.json"));
  write_text(dir_of(0) + "/metrics.json", m.dump(4) + "\n");
  EXPECT_TRUE(done(0));
  ASSERT_TRUE(m.contains("predictions")) << m.dump();  // every run keeps its predictions.h5
  const std::string pred = dir_of(0) + "/predictions.h5";
  const std::string bytes = read_text(pred);
  fs::remove(pred);
  EXPECT_FALSE(done(0));  // named but missing
  write_text(pred, "");
  EXPECT_FALSE(done(0));  // empty
  write_text(pred, "not really HDF5, but there");
  EXPECT_FALSE(done(0));  // not the bytes the manifest recorded
  write_text(pred, bytes);
  EXPECT_TRUE(done(0));
}

}  // namespace
