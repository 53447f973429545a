// Content validation: values a valid shape can still hold (NaN/Inf, zero rows or columns, empty
// splits, duplicate class names) are refused at convert, by `inspect --verify` and at load, with
// the file and the row (and the HDF5 path) in the message.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "hardening_support.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;
using vlb::hardening::contains;
using vlb::hardening::expect_clean_failure;
using vlb::hardening::seeded;
using vlb::hardening::write_npy_folder;
using vlb::test::run_cli;
using vlb::test::TempDir;
using vlb::test::write_text;

namespace {

std::string convert(const TempDir& t, const std::string& extra = "") {
  return "convert npy --dir " + t / "in" + " --out " + t / "out.h5" + extra;
}

TEST(ContentAtConvert, NanInFeaturesNamesFileRowAndColumn) {
  TempDir t;
  write_npy_folder(t / "in");
  at::Tensor x = seeded({12, 8}, 1);
  x[5][3] = std::numeric_limits<float>::quiet_NaN();
  x[7][0] = std::numeric_limits<float>::quiet_NaN();
  vlb::write_npy(t / "in/train_features.npy", x);
  auto r = run_cli(convert(t));
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, t / "in/train_features.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "2 non-finite values")) << r.output;
  EXPECT_TRUE(contains(r.output, "NaN at row 5, column 3 (0-based)")) << r.output;
  EXPECT_FALSE(fs::exists(t / "out.h5"));
}

TEST(ContentAtConvert, InfInFeaturesIsRefused) {
  TempDir t;
  write_npy_folder(t / "in");
  at::Tensor x = seeded({6, 8}, 2);
  x[2][7] = -std::numeric_limits<float>::infinity();
  vlb::write_npy(t / "in/test_features.npy", x);
  auto r = run_cli(convert(t));
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, t / "in/test_features.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "-Inf at row 2, column 7")) << r.output;
}

TEST(ContentAtConvert, ZeroRowsAreRefused) {
  TempDir t;
  write_npy_folder(t / "in", /*train_rows=*/0);
  auto r = run_cli(convert(t));
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, t / "in/train_features.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "zero rows")) << r.output;
}

TEST(ContentAtConvert, ZeroDimensionalFeaturesAreRefused) {
  TempDir t;
  write_npy_folder(t / "in", 12, /*dim=*/0);
  auto r = run_cli(convert(t));
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, t / "in/train_features.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "zero-dimensional")) << r.output;
}

TEST(ContentAtConvert, DuplicateClassNamesNameBothLines) {
  TempDir t;
  write_npy_folder(t / "in");
  write_text(t / "in/classnames.txt", "cat\ndog\ncat\n");
  auto r = run_cli(convert(t));
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, t / "in/classnames.txt" + ": line 3: duplicate class name 'cat' (also at line 1)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "--allow-duplicate-classes")) << r.output;
}

TEST(ContentAtConvert, AllowedDuplicatesWarnAndTheFileStillLoads) {
  TempDir t;
  write_npy_folder(t / "in");
  write_text(t / "in/classnames.txt", "cat\ndog\ncat\n");
  auto r = run_cli(convert(t, " --allow-duplicate-classes"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "warning")) << r.output;
  auto v = run_cli("inspect --verify " + t / "out.h5");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(vlb::read_dataset(t / "out.h5").class_names.size(), 3u);
}

// A valid file, then one value or one split broken behind the writer's back.
std::string valid_file(const TempDir& t) {
  write_npy_folder(t / "in");
  auto r = run_cli(convert(t));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return t / "out.h5";
}

void poke_nan(const std::string& file, int64_t row, int64_t col) {
  auto f = vlb::h5::File::open(file, /*writable=*/true);
  at::Tensor x = vlb::h5::read_array(f.id(), "/images/features").to(torch::kFloat).clone();
  x[row][col] = std::numeric_limits<float>::quiet_NaN();
  hid_t d = H5Dopen2(f.id(), "/images/features", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data_ptr()), 0);
  H5Dclose(d);
}

TEST(ContentAtLoad, NanInAnHdf5FileNamesTheDatasetPathAndRow) {
  TempDir t;
  const std::string file = valid_file(t);
  poke_nan(file, 9, 4);
  auto r = run_cli("inspect --verify " + file);
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, file + ": /images/features: 1 non-finite value")) << r.output;
  EXPECT_TRUE(contains(r.output, "row 9, column 4")) << r.output;
  EXPECT_THROW(vlb::read_dataset(file), vlb::DataError);
}

TEST(ContentAtLoad, ARunOnANanFileFailsNamingTheFileNotTheScores) {
  TempDir t;
  const std::string file = valid_file(t);
  poke_nan(file, 0, 0);
  write_text(t / "spec.yaml", "experiment: nanfile\ndataset:\n  source: h5\n  params: {path: " + file +
                                  "}\n  train_split: train\n  eval_split: test\nmethods: [{name: ncm}]\n"
                                  "metrics: [top1]\n");
  auto r = run_cli("run " + t / "spec.yaml" + " --results " + t / "results");
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, file + ": /images/features")) << r.output;
  EXPECT_FALSE(contains(r.output, "scores contain NaN")) << r.output;
}

TEST(ContentAtLoad, AnEmptySplitIsRefusedByName) {
  TempDir t;
  const std::string file = valid_file(t);
  {
    auto f = vlb::h5::File::open(file, /*writable=*/true);
    vlb::h5::write_array(f.id(), "/splits/empty", torch::zeros({0}, torch::kLong), vlb::h5::DType::kInt64);
  }
  auto r = run_cli("inspect --verify " + file);
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, file + ": /splits/empty: empty split")) << r.output;
}

TEST(ContentAtLoad, DuplicateClassNamesInAFileWithoutTheMarkAreRefused) {
  TempDir t;
  const std::string file = valid_file(t);
  {
    auto f = vlb::h5::File::open(file, /*writable=*/true);
    H5Ldelete(f.id(), "/classes/names", H5P_DEFAULT);
    vlb::h5::write_strings(f.id(), "/classes/names", {"cat", "dog", "dog"});
  }
  auto r = run_cli("inspect " + file);
  expect_clean_failure(r, 2);
  EXPECT_TRUE(contains(r.output, file + ": /classes/names, index 2: duplicate class name 'dog' (also at index 1)"))
      << r.output;
}

TEST(ContentAtWrite, TheWriterRefusesWhatTheLoaderWould) {
  TempDir t;
  vlb::Dataset ds;
  ds.class_names = {"a", "b"};
  ds.features = seeded({4, 3}, 1);
  ds.features[1][2] = std::numeric_limits<float>::infinity();
  ds.label = torch::tensor({0, 1, 0, 1}, torch::kLong);
  ds.splits["train"] = torch::arange(4, torch::kLong);
  try {
    vlb::write_dataset(ds, t / "x.h5");
    FAIL() << "expected a DataError";
  } catch (const vlb::DataError& e) {
    EXPECT_TRUE(contains(e.what(), t / "x.h5" + ": /images/features: 1 non-finite value")) << e.what();
    EXPECT_TRUE(contains(e.what(), "+Inf at row 1, column 2")) << e.what();
  }
  EXPECT_FALSE(fs::exists(t / "x.h5"));
  EXPECT_TRUE(fs::is_empty(t.path()));  // no temporary left either
}

// A descriptor or text row that is NaN throughout is the schema's "no embedding known" marker
// (class names a text bank lacks): accepted. A row NaN in some columns only is damage: refused.
TEST(ContentAtWrite, WholeNanDescriptorRowsAreTheMissingMarkerPartialOnesAreRefused) {
  TempDir t;
  vlb::Dataset ds;
  ds.class_names = {"a", "b", "c"};
  ds.features = seeded({6, 3}, 2);
  ds.label = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong);
  ds.splits["train"] = torch::arange(6, torch::kLong);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ds.descriptors["name_embedding"] = seeded({3, 3}, 3);
  ds.descriptors["name_embedding"][1].fill_(nan);
  vlb::write_dataset(ds, t / "whole.h5");
  vlb::Dataset back = vlb::read_dataset(t / "whole.h5");
  EXPECT_TRUE(torch::isnan(back.descriptors.at("name_embedding")[1]).all().item<bool>());

  ds.descriptors["name_embedding"][1] = seeded({3}, 4);
  ds.descriptors["name_embedding"][2][0] = nan;
  try {
    vlb::write_dataset(ds, t / "partial.h5");
    FAIL() << "expected a DataError";
  } catch (const vlb::DataError& e) {
    EXPECT_TRUE(contains(e.what(), "/classes/descriptors/name_embedding: 1 non-finite value")) << e.what();
    EXPECT_TRUE(contains(e.what(), "row 2, column 0")) << e.what();
  }
  EXPECT_FALSE(fs::exists(t / "partial.h5"));
}

}  // namespace
