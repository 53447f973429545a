// Small inputs must not cost unbounded resources: YAML alias expansion and nesting, plan size
// (checked before any run is built) and a streaming `--dry-run`.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "hardening_support.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/experiments/yaml_reader.h"

namespace fs = std::filesystem;
using vlb::hardening::contains;
using vlb::hardening::expect_clean_failure;
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

// Inputs the fuzzers found (tests/fuzz/corpus): headers that declare far more than the file holds.
std::string corpus_file(const std::string& target, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(fs::path(vlb::test::source_dir()) / "tests/fuzz/corpus" / target))
    if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path().string();
  ADD_FAILURE() << "no " << prefix << "* input under tests/fuzz/corpus/" << target;
  return "";
}

TEST(InputBounds, AMatVariableDeclaringMoreThanTheFileHoldsIsRefusedBeforeAllocation) {
  TempDir t;
  const std::string mat = corpus_file("mat", "timeout-eafc7b");
  auto r = run_cli("convert xlsa17 --att-splits " + mat + " --features " + t / "x.npy --out " + t / "o.h5");
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, "trainval_loc") && contains(r.output, "declares 130023672 elements"))
      << r.output;
  EXPECT_FALSE(fs::exists(t / "o.h5"));
}

TEST(InputBounds, AGlobalHeapHdf5WouldParseForeverIsRefusedWithItsOffset) {
  const std::string h5 = corpus_file("h5_loader", "timeout-");
  auto r = run_cli("inspect " + h5);
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, "global heap at byte 2048") && contains(r.output, "declares size 0"))
      << r.output;
}

TEST(InputBounds, AnArrayDeclaringMoreThanTheFileCanHoldIsRefusedBeforeAllocation) {
  // A chunked dataset nothing was written to: HDF5 keeps no storage for it and would hand back
  // 2^34 fill values (64 GiB) from a file of a few kilobytes.
  TempDir t;
  const std::string path = t / "huge.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {hsize_t(1) << 25, 512}, chunk[2] = {1024, 512};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t d = H5Dcreate2(f, "/features", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
  }
  ASSERT_LT(fs::file_size(path), 64u * 1024);
  auto file = vlb::h5::File::open(path);
  try {
    vlb::h5::read_array(file.id(), "/features");
    FAIL() << "a 2^34-element read from a " << fs::file_size(path) << "-byte file was not refused";
  } catch (const vlb::DataError& e) {
    EXPECT_TRUE(contains(e.what(), "huge.h5") && contains(e.what(), "/features") &&
                contains(e.what(), "declares 17179869184 elements"))
        << e.what();
  }
}
