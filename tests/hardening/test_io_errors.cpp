// I/O errors: a full disk (reproduced with RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG)
// is exit 4 with the path and HDF5's own reason, no HDF5 error stack, no crash at exit and no
// temporary left; stale temporaries of killed writers are removed by the next writer; raw library
// messages become located errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hardening_support.h"
#include "test_support.h"
#include "vlb/core/fs.h"

namespace fs = std::filesystem;
using vlb::hardening::contains;
using vlb::hardening::expect_clean_failure;
using vlb::hardening::write_npy_folder;
using vlb::test::run_cli;
using vlb::test::run_command;
using vlb::test::TempDir;
using vlb::test::write_text;

namespace {

// The CLI under a 64 KiB file-size limit (bash's ulimit -f counts KiB).
vlb::test::CommandResult run_cli_small_disk(const std::string& args) {
  return run_command("bash -c \"trap '' XFSZ; ulimit -f 64; exec '" + std::string(VLB_CLI) + "' " +
                     args + "\" 2>&1");
}

std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (contains(e.path().filename().string(), ".tmp-")) out.push_back(e.path().string());
  return out;
}

const char* kBigSynth = " --set classes=50 --set dim=256 --set train_per_class=20 --set test_per_class=10";

TEST(DiskFull, SynthIsExit4WithThePathAndNoCrash) {
  TempDir t;
  fs::create_directories(t / "out");
  auto r = run_cli_small_disk("synth --out " + t / "out/big.h5" + kBigSynth);
  expect_clean_failure(r, 4);
  // The generator round-trips through a scratch cache first: the limit may hit either file.
  EXPECT_TRUE(contains(r.output, t / "out/big.h5") || contains(r.output, "/vlb-synth-")) << r.output;
  EXPECT_TRUE(contains(r.output, "File too large")) << r.output;
  EXPECT_FALSE(fs::exists(t / "out/big.h5"));
  EXPECT_TRUE(temporaries(t.path()).empty()) << temporaries(t.path())[0];
}

TEST(DiskFull, ConvertIsExit4WithThePathAndNoCrash) {
  TempDir t;
  write_npy_folder(t / "in", /*train_rows=*/200, /*dim=*/256);  // read freely, written over the limit
  fs::create_directories(t / "out");
  auto r = run_cli_small_disk("convert npy --dir " + t / "in" + " --out " + t / "out/f.h5");
  expect_clean_failure(r, 4);
  EXPECT_TRUE(contains(r.output, t / "out/f.h5")) << r.output;
  EXPECT_TRUE(temporaries(t / "out").empty());
}

TEST(DiskFull, TheDatasetCacheIsExit4AndLeavesNoTemporary) {
  TempDir t;
  write_text(t / "spec.yaml",
             "experiment: full\ndataset:\n  source: synth\n  params: {classes: 50, dim: 256, "
             "train_per_class: 20, test_per_class: 10}\n  train_split: train\n  eval_split: test\n"
             "methods: [{name: ncm}]\nmetrics: [top1]\n");
  auto r = run_cli_small_disk("run " + t / "spec.yaml" + " --results " + t / "results");
  expect_clean_failure(r, 4);
  EXPECT_TRUE(contains(r.output, t / "results/.cache/")) << r.output;
  EXPECT_TRUE(temporaries(t / "results").empty());
}

TEST(StaleTemporaries, TheNextWriterRemovesThoseOfDeadProcessesOnly) {
  TempDir t;
  fs::create_directories(t / "out");
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // pid 1 is alive; no process has a pid above pid_max (at most 2^22).
  const std::string dead = t / ("out/old.h5.tmp-" + std::string(host) + "-99999999-0");
  const std::string live = t / ("out/old.h5.tmp-" + std::string(host) + "-1-0");
  const std::string other = t / "out/old.h5.tmp-another-host-99999999-0";
  for (const auto& p : {dead, live, other}) write_text(p, std::string(4096, 'x'));
  EXPECT_TRUE(vlb::is_stale_host_temp(fs::path(dead).filename().string()));
  auto r = run_cli("synth --out " + t / "out/new.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
}

TEST(LocatedErrors, NpyShapeOverflowNamesTheFileAndHeader) {
  TempDir t;
  write_npy_folder(t / "in");
  for (const std::string shape : {"(99999999999999999999999, 8)", "(4611686018427387904, 4)",
                                  "(0, 4611686018427387904, 4611686018427387904)"}) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    dict.append(118 - dict.size(), ' ');
    dict += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(dict.size());
    bytes += '\0';
    bytes += dict;
    std::ofstream(t / "in/train_features.npy", std::ios::binary) << bytes;
    auto r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "o.h5");
    EXPECT_EQ(r.exit_code, 2) << shape << ": " << r.output;
    EXPECT_TRUE(contains(r.output, t / "in/train_features.npy" + ": header:")) << r.output;
    EXPECT_FALSE(contains(r.output, "stoll")) << r.output;
    EXPECT_FALSE(contains(r.output, "overflowed")) << r.output;
  }
}

TEST(LocatedErrors, ASpecPathThatIsADirectory) {
  TempDir t;
  fs::create_directories(t / "spec.yaml");
  auto r = run_cli("run " + t / "spec.yaml" + " --dry-run");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "spec.yaml" + ": is a directory")) << r.output;
  EXPECT_FALSE(contains(r.output, "underflow")) << r.output;
}

TEST(LocatedErrors, AnInputPathThatIsADirectory) {
  TempDir t;
  write_npy_folder(t / "in");
  fs::remove(t / "in/classnames.txt");
  fs::create_directories(t / "in/classnames.txt");
  auto r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "o.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "in/classnames.txt" + ": is a directory")) << r.output;
}

TEST(LocatedErrors, AnExperimentNameTooLongForADirectoryIsRefusedAtValidation) {
  TempDir t;
  write_text(t / "spec.yaml", "experiment: " + std::string(300, 'e') +
                                  "\ndataset:\n  source: synth\n  train_split: train\n  eval_split: test\n"
                                  "methods: [{name: ncm}]\nmetrics: [top1]\n");
  auto r = run_cli("run " + t / "spec.yaml" + " --dry-run --results " + t / "results");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "spec.yaml" + ":1:13: experiment: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "too long")) << r.output;
}

TEST(LocatedErrors, Xlsa17EmptyLabelsNameTheFile) {
  const std::string py = vlb::test::system_python_with("numpy, scipy");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy and scipy not found";
  TempDir t;
  write_text(t / "make.py",
             "import numpy as np, scipy.io as sio, sys\n"
             "d = sys.argv[1]\n"
             "sio.savemat(d + '/att_splits.mat', {'att': np.ones((4, 3)), 'trainval_loc': np.array([[1]]),"
             " 'test_seen_loc': np.array([[1]]), 'test_unseen_loc': np.array([[1]]),"
             " 'allclasses_names': np.array([['a'], ['b'], ['c']], dtype=object)})\n"
             "sio.savemat(d + '/res101.mat', {'features': np.zeros((5, 0)), 'labels': np.zeros((0, 1))})\n");
  auto mk = run_command(py + " " + t / "make.py" + " " + t.path() + " 2>&1");
  ASSERT_EQ(mk.exit_code, 0) << mk.output;
  auto r = run_cli("convert xlsa17 --att-splits " + t / "att_splits.mat" + " --features " +
                   t / "res101.mat" + " --out " + t / "o.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, t / "res101.mat")) << r.output;
  EXPECT_FALSE(contains(r.output, "min()")) << r.output;
}

}  // namespace
