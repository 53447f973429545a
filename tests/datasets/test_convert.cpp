// `convert npy`: directory discovery, checks, atomic output, and the real CLIP data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/convert.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"

using vlb::test::TempDir;
namespace fs = std::filesystem;

namespace {

// train: 4 rows, test: 3 rows, D = 6, C = 3, fp16 features like the real data.
void make_dir(const std::string& d) {
  fs::create_directories(d);
  torch::manual_seed(0);
  vlb::write_npy(d + "/train_features.npy", torch::randn({4, 6}).to(torch::kHalf));
  vlb::write_npy(d + "/train_labels.npy", torch::tensor({0, 1, 2, 2}, torch::kLong));
  vlb::write_npy(d + "/test_features.npy", torch::randn({3, 6}).to(torch::kHalf));
  vlb::write_npy(d + "/test_labels.npy", torch::tensor({2, 0, 1}, torch::kLong));
  vlb::test::write_text(d + "/classnames.txt", "ant\nbee\ncow\n");
}

std::string convert_error(const vlb::ConvertNpyOptions& o) {
  try {
    vlb::convert_npy(o);
  } catch (const vlb::DataError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(ConvertNpy, DirectoryToDataset) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  ASSERT_EQ(o.splits.size(), 2u);
  EXPECT_EQ(o.splits[0].name, "train");  // train/val/test order, not alphabetical
  EXPECT_EQ(o.splits[1].name, "test");
  EXPECT_EQ(o.dataset_name, "toy");
  o.output = dir / "out/toy.h5";
  vlb::Dataset written = vlb::convert_npy(o);
  vlb::Dataset ds = vlb::read_dataset(o.output);
  EXPECT_EQ(ds.fingerprint, written.fingerprint);
  EXPECT_EQ(ds.feature_dtype, "float16");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"ant", "bee", "cow"}));
  EXPECT_TRUE(torch::equal(ds.splits.at("train"), torch::arange(0, 4, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.splits.at("test"), torch::arange(4, 7, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.label, torch::tensor({0, 1, 2, 2, 2, 0, 1}, torch::kLong)));
  at::Tensor test_x = vlb::read_npy(dir / "toy/test_features.npy").to(torch::kFloat);
  EXPECT_TRUE(torch::equal(ds.features.slice(0, 4), test_x));
  EXPECT_EQ(ds.attrs.at("created_by"), "vlb convert npy 0.1");
  EXPECT_NE(ds.attrs.at("source_files").find("train_labels.npy"), std::string::npos);
  EXPECT_NE(ds.attrs.at("source_files").find("sha256"), std::string::npos);
  EXPECT_EQ(ds.texts.size(), 0);
}

TEST(ConvertNpy, TextFeaturesOnePerClass) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  vlb::write_npy(dir / "t.npy", (torch::randn({3, 6}) * 10).to(torch::kHalf));
  o.text_features = dir / "t.npy";
  o.l2_normalize_texts = true;
  o.output = dir / "toy.h5";
  vlb::convert_npy(o);
  vlb::Dataset ds = vlb::read_dataset(o.output);
  ASSERT_EQ(ds.texts.size(), 3);
  EXPECT_TRUE(torch::equal(ds.texts.cls, torch::arange(3, torch::kLong)));
  EXPECT_EQ(ds.texts.strings[1], "bee");
  EXPECT_NEAR(ds.texts.features.norm(2, {1}).max().item<double>(), 1.0, 2e-3);

  vlb::write_npy(dir / "t7.npy", torch::randn({3, 7}));
  o.text_features = dir / "t7.npy";
  std::string msg = convert_error(o);
  EXPECT_NE(msg.find("t7.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("D=6"), std::string::npos) << msg;
}

TEST(ConvertNpy, RowCountMismatchNamesBothFiles) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::write_npy(dir / "toy/test_labels.npy", torch::tensor({2, 0}, torch::kLong));
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  o.output = dir / "toy.h5";
  std::string msg = convert_error(o);
  EXPECT_NE(msg.find("test_features.npy has 3 rows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_labels.npy has 2"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(o.output));
}

TEST(ConvertNpy, LabelOutOfRangeNamesFileRowValueAndC) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::write_npy(dir / "toy/train_labels.npy", torch::tensor({0, 1, 3, 2}, torch::kLong));
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  o.output = dir / "toy.h5";
  std::string msg = convert_error(o);
  EXPECT_NE(msg.find("train_labels.npy: row 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 3 out of range"), std::string::npos) << msg;
  EXPECT_NE(msg.find("C=3"), std::string::npos) << msg;
}

TEST(ConvertNpy, DimensionMismatchAcrossSplits) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::write_npy(dir / "toy/test_features.npy", torch::randn({3, 5}).to(torch::kHalf));
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  o.output = dir / "toy.h5";
  std::string msg = convert_error(o);
  EXPECT_NE(msg.find("expected D=6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 5"), std::string::npos) << msg;
}

TEST(ConvertNpy, FailureDoesNotClobberExistingOutput) {
  TempDir dir;
  make_dir(dir / "toy");
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(dir / "toy");
  o.output = dir / "toy.h5";
  vlb::Dataset good = vlb::convert_npy(o);
  std::string before = vlb::test::read_text(o.output);
  vlb::write_npy(dir / "toy/train_labels.npy", torch::tensor({0, 1, 9, 2}, torch::kLong));
  EXPECT_NE(convert_error(o), "<no error>");
  EXPECT_EQ(vlb::test::read_text(o.output), before);
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 2);  // toy/ and toy.h5: no temp file left behind
}

TEST(ConvertNpy, EmptyDirectoryIsAnError) {
  TempDir dir;
  try {
    vlb::npy_options_from_directory(dir.path());
    FAIL() << "expected DataError";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train_features.npy"), std::string::npos) << e.what();
  }
}

TEST(ConvertNpyRealData, OxfordPets) {
  VLB_REQUIRE_SHARED_DATA(data);
  std::string src = data + "/clip_vit_b32/oxford_pets";
  if (!fs::exists(src)) GTEST_SKIP() << src << " not found";
  TempDir dir;
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(src);
  o.feature_model = "clip_vit_b32";
  o.output = dir / "a.h5";
  vlb::convert_npy(o);
  o.output = dir / "b.h5";
  vlb::convert_npy(o);
  vlb::Dataset a = vlb::read_dataset(dir / "a.h5");
  vlb::Dataset b = vlb::read_dataset(dir / "b.h5");
  EXPECT_EQ(a.name, "oxford_pets");
  EXPECT_EQ(a.num_classes(), 37);
  EXPECT_EQ(a.dim(), 512);
  EXPECT_EQ(a.feature_dtype, "float16");
  EXPECT_EQ(a.splits.at("train").size(0), 592);
  EXPECT_EQ(a.splits.at("val").size(0), 736);
  EXPECT_EQ(a.splits.at("test").size(0), 3669);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(vlb::compute_fingerprint(dir / "a.h5"), a.fingerprint);
  // 16 shots per class in train.
  at::Tensor counts = vlb::make_view(a, "train").label().bincount({}, 37);
  EXPECT_EQ(counts.min().item<int64_t>(), 16);
  EXPECT_EQ(counts.max().item<int64_t>(), 16);
}
