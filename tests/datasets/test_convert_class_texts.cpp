// `convert npy` with a classifier as text features: one row per class and no class ids makes
// row c the name prompt of class c, so zero-shot and `base_logits: text` work from one command.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/convert.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"

namespace {

using vlb::test::TempDir;
namespace fs = std::filesystem;

// C = 3 classes, D = 4; train 3 rows, test 3 rows; text_features.npy one unit row per class.
std::string make_dir(const TempDir& dir) {
  std::string d = dir / "toy";
  fs::create_directories(d);
  torch::manual_seed(1);
  vlb::write_npy(d + "/train_features.npy", torch::randn({3, 4}));
  vlb::write_npy(d + "/train_labels.npy", torch::tensor({0, 1, 2}, torch::kLong));
  vlb::write_npy(d + "/test_features.npy", torch::randn({3, 4}));
  vlb::write_npy(d + "/test_labels.npy", torch::tensor({2, 1, 0}, torch::kLong));
  vlb::write_npy(d + "/text_features.npy", torch::eye(4).narrow(0, 0, 3).contiguous());
  vlb::test::write_text(d + "/classnames.txt", "ant\nbee\ncow\n");
  return d;
}

TEST(ConvertClassTexts, OneRowPerClassIsTheNamePromptOfThatClass) {
  TempDir dir;
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(make_dir(dir));
  EXPECT_EQ(fs::path(o.text_features).filename(), "text_features.npy");  // found by --dir
  o.output = dir / "toy.h5";
  o.text_banks.push_back({dir / "toy/train_features.npy", ""});  // a 3-row free bank after them
  vlb::convert_npy(o);
  vlb::Dataset ds = vlb::read_dataset(o.output);
  ASSERT_EQ(ds.texts.size(), 6);
  ASSERT_TRUE(ds.texts.type.defined());
  EXPECT_TRUE(torch::equal(ds.texts.cls, torch::tensor({0, 1, 2, -1, -1, -1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.texts.type.to(torch::kLong), torch::tensor({0, 0, 0, -1, -1, -1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.texts.partner, torch::full({6}, -1, torch::kLong)));
  EXPECT_EQ(ds.texts.strings[2], "cow");
  EXPECT_EQ(static_cast<int>(vlb::TextType::kName), 0);
}

TEST(ConvertClassTexts, OtherShapesAndExplicitIdsStayAsGiven) {
  TempDir dir;
  std::string d = make_dir(dir);
  // T != C without class ids: free-standing and untyped, as before.
  vlb::write_npy(d + "/text_features.npy", torch::eye(4));
  vlb::ConvertNpyOptions o = vlb::npy_options_from_directory(d);
  o.output = dir / "four.h5";
  vlb::convert_npy(o);
  vlb::Dataset four = vlb::read_dataset(o.output);
  EXPECT_FALSE(four.texts.type.defined());
  EXPECT_TRUE(torch::equal(four.texts.cls, torch::full({4}, -1, torch::kLong)));

  // T == C with explicit class ids: the ids are the user's statement, types are not invented.
  vlb::write_npy(d + "/text_features.npy", torch::eye(4).narrow(0, 0, 3).contiguous());
  vlb::write_npy(dir / "cls.npy", torch::tensor({2, 1, 0}, torch::kLong));
  o = vlb::npy_options_from_directory(d);
  o.text_classes = dir / "cls.npy";
  o.output = dir / "ids.h5";
  vlb::convert_npy(o);
  vlb::Dataset ids = vlb::read_dataset(o.output);
  EXPECT_FALSE(ids.texts.type.defined());
  EXPECT_TRUE(torch::equal(ids.texts.cls, torch::tensor({2, 1, 0}, torch::kLong)));

  // T == C with explicit types: those win.
  vlb::write_npy(dir / "types.npy", torch::tensor({0, 1, 1}, torch::kLong));
  o = vlb::npy_options_from_directory(d);
  o.text_types = dir / "types.npy";
  o.output = dir / "typed.h5";
  vlb::convert_npy(o);
  vlb::Dataset typed = vlb::read_dataset(o.output);
  EXPECT_TRUE(torch::equal(typed.texts.type.to(torch::kLong), torch::tensor({0, 1, 1}, torch::kLong)));
}

}  // namespace
