// Schema-v1 write/read round trips, fingerprints, validation errors and h5py interop.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/hdf5.h"

using vlb::test::TempDir;

namespace {

// A small dataset exercising every optional group.
vlb::Dataset small_dataset() {
  torch::manual_seed(3);
  vlb::Dataset ds;
  ds.name = "tiny";
  ds.class_names = {"cat", "dog", "émeu"};  // non-ASCII survives as UTF-8
  ds.features = torch::randn({7, 5});
  ds.label = torch::tensor({0, 1, 2, 0, -1, 1, 2}, torch::kLong);
  ds.labels = torch::tensor({1, -1, 0}, torch::kChar).repeat({7, 1});
  ds.image_ids = {"a", "b", "c", "d", "e", "f", "g"};
  ds.splits["train"] = torch::tensor({0, 1, 2}, torch::kLong);
  ds.splits["test"] = torch::tensor({3, 5, 6}, torch::kLong);
  ds.class_splits["seen"] = torch::tensor({0, 1}, torch::kLong);
  ds.descriptors["attributes"] = torch::rand({3, 4});
  ds.texts.features = torch::randn({4, 5});
  ds.texts.strings = {"a cat", "a dog", "an emu", "caption of b"};
  ds.texts.cls = torch::tensor({0, 1, 2, -1}, torch::kLong);
  ds.texts.image = torch::tensor({-1, -1, -1, 1}, torch::kLong);
  ds.texts.source = torch::tensor({0, 0, 0, 1}, torch::kChar);
  ds.attrs["feature_model"] = "test-model";
  return ds;
}

// Expects `fn` to throw DataError whose message contains every fragment.
void expect_data_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a DataError";
  } catch (const vlb::DataError& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// Writes a valid file, then lets `edit` damage it in place (bypassing the writer's checks).
std::string damaged(const TempDir& dir, const std::function<void(hid_t)>& edit) {
  vlb::Dataset ds = small_dataset();
  std::string path = dir / "bad.h5";
  vlb::write_dataset(ds, path);
  vlb::h5::File f = vlb::h5::File::open(path, true);
  edit(f.id());
  return path;
}

void unlink(hid_t f, const char* path) { ASSERT_GE(H5Ldelete(f, path, H5P_DEFAULT), 0); }

}  // namespace

TEST(FeatureStore, RoundTripFp32) {
  TempDir dir;
  vlb::Dataset ds = small_dataset();
  vlb::write_dataset(ds, dir / "a.h5");
  EXPECT_EQ(ds.fingerprint.size(), 64u);
  vlb::Dataset r = vlb::read_dataset(dir / "a.h5");
  EXPECT_EQ(r.name, "tiny");
  EXPECT_EQ(r.feature_dtype, "float32");
  EXPECT_EQ(r.fingerprint, ds.fingerprint);
  EXPECT_EQ(r.class_names, ds.class_names);
  EXPECT_TRUE(torch::equal(r.features, ds.features));
  EXPECT_TRUE(torch::equal(r.label, ds.label));
  EXPECT_TRUE(torch::equal(r.labels, ds.labels));
  EXPECT_EQ(r.image_ids, ds.image_ids);
  ASSERT_EQ(r.splits.size(), 2u);
  EXPECT_TRUE(torch::equal(r.splits.at("test"), ds.splits.at("test")));
  EXPECT_EQ(r.splits.at("test").scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(r.class_splits.at("seen"), ds.class_splits.at("seen")));
  EXPECT_TRUE(torch::equal(r.descriptors.at("attributes"), ds.descriptors.at("attributes")));
  EXPECT_TRUE(torch::equal(r.texts.features, ds.texts.features));
  EXPECT_EQ(r.texts.strings, ds.texts.strings);
  EXPECT_TRUE(torch::equal(r.texts.cls, ds.texts.cls));
  EXPECT_TRUE(torch::equal(r.texts.image, ds.texts.image));
  EXPECT_TRUE(torch::equal(r.texts.source, ds.texts.source));
  EXPECT_EQ(r.attrs.at("feature_model"), "test-model");
  EXPECT_EQ(vlb::compute_fingerprint(dir / "a.h5"), ds.fingerprint);
}

TEST(FeatureStore, RoundTripFp16StoresHalf) {
  TempDir dir;
  vlb::Dataset ds = small_dataset();
  vlb::WriteOptions wo;
  wo.features_fp16 = true;
  vlb::write_dataset(ds, dir / "h.h5", wo);
  vlb::h5::File f = vlb::h5::File::open(dir / "h.h5");
  EXPECT_EQ(vlb::h5::info(f.id(), "/images/features").dtype, vlb::h5::DType::kFloat16);
  vlb::Dataset r = vlb::read_dataset(dir / "h.h5");
  EXPECT_EQ(r.feature_dtype, "float16");
  EXPECT_EQ(r.features.scalar_type(), torch::kFloat);
  // Exactly the half-rounded values, not merely close.
  EXPECT_TRUE(torch::equal(r.features, ds.features.to(torch::kHalf).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(r.texts.features, ds.texts.features.to(torch::kHalf).to(torch::kFloat)));
  EXPECT_EQ(vlb::compute_fingerprint(dir / "h.h5"), r.fingerprint);
}

TEST(FeatureStore, FingerprintStableAndSensitive) {
  TempDir dir;
  vlb::Dataset a = small_dataset(), b = small_dataset();
  b.attrs["created_by"] = "someone else";  // attributes are provenance, not content
  vlb::write_dataset(a, dir / "a.h5");
  vlb::write_dataset(b, dir / "b.h5");
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  vlb::Dataset c = small_dataset();
  c.features[2][3] += 0.5;
  vlb::write_dataset(c, dir / "c.h5");
  EXPECT_NE(c.fingerprint, a.fingerprint);
  vlb::Dataset d = small_dataset();
  d.class_names[1] = "wolf";
  vlb::write_dataset(d, dir / "d.h5");
  EXPECT_NE(d.fingerprint, a.fingerprint);
  vlb::Dataset e = small_dataset();
  vlb::WriteOptions half;
  half.features_fp16 = true;
  vlb::write_dataset(e, dir / "e.h5", half);
  EXPECT_NE(e.fingerprint, a.fingerprint);  // storage dtype is part of the content
}

TEST(FeatureStore, OverwriteIsAtomicAndLeavesNoTemp) {
  TempDir dir;
  vlb::Dataset a = small_dataset();
  vlb::write_dataset(a, dir / "x.h5");
  vlb::Dataset bad = small_dataset();
  bad.features = at::Tensor();  // write fails half-way
  EXPECT_THROW(vlb::write_dataset(bad, dir / "x.h5"), vlb::Error);
  EXPECT_EQ(vlb::read_dataset(dir / "x.h5").fingerprint, a.fingerprint);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1);
}

TEST(FeatureStoreValidation, OneDimensionalFeatures) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    unlink(f, "/images/features");
    vlb::h5::write_array(f, "/images/features", torch::zeros({7}), vlb::h5::DType::kFloat32);
  });
  expect_data_error([&] { vlb::read_dataset(p); },
                    {p, "/images/features", "[N, D] float32 or float16", "got [7] float32"});
}

TEST(FeatureStoreValidation, LabelOutOfRange) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    unlink(f, "/images/label");
    vlb::h5::write_array(f, "/images/label", torch::tensor({0, 1, 2, 3, 0, 0, 0}),
                         vlb::h5::DType::kInt32);
  });
  expect_data_error([&] { vlb::read_dataset(p); }, {"/images/label", "[-1, 3)", "got 3 at index 3"});
}

TEST(FeatureStoreValidation, UnsortedSplit) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    vlb::h5::write_array(f, "/splits/val", torch::tensor({4, 2}, torch::kLong), vlb::h5::DType::kInt64);
  });
  expect_data_error([&] { vlb::read_dataset(p); }, {"/splits/val", "sorted and unique"});
}

TEST(FeatureStoreValidation, SplitIndexOutOfRange) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    vlb::h5::write_array(f, "/splits/val", torch::tensor({1, 7}, torch::kLong), vlb::h5::DType::kInt64);
  });
  expect_data_error([&] { vlb::read_dataset(p); }, {"/splits/val", "[0, 7)", "got 7"});
}

TEST(FeatureStoreValidation, NoSplits) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) { unlink(f, "/splits"); });
  expect_data_error([&] { vlb::read_dataset(p); }, {p, "/splits", "at least one split"});
}

TEST(FeatureStoreValidation, MissingClassNames) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) { unlink(f, "/classes/names"); });
  expect_data_error([&] { vlb::read_dataset(p); }, {p, "/classes/names", "missing", "[C] string"});
}

TEST(FeatureStoreValidation, WrongSchemaVersion) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    vlb::h5::set_attr(f, "/", "schema_version", static_cast<int64_t>(2));
  });
  expect_data_error([&] { vlb::read_dataset(p); },
                    {p, "unsupported schema_version 2", "reads version 1"});
}

TEST(FeatureStoreValidation, TextDimensionMismatch) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    unlink(f, "/texts/features");
    vlb::h5::write_array(f, "/texts/features", torch::zeros({4, 6}), vlb::h5::DType::kFloat32);
  });
  expect_data_error([&] { vlb::read_dataset(p); }, {"/texts/features", "D=5", "got [4, 6]"});
}

TEST(FeatureStoreValidation, DescriptorRowsMustBeC) {
  TempDir dir;
  std::string p = damaged(dir, [](hid_t f) {
    vlb::h5::write_array(f, "/classes/descriptors/bad", torch::zeros({2, 4}), vlb::h5::DType::kFloat32);
  });
  expect_data_error([&] { vlb::read_dataset(p); }, {"/classes/descriptors/bad", "C=3"});
}

TEST(FeatureStoreValidation, NotHdf5AndMissing) {
  TempDir dir;
  vlb::test::write_text(dir / "x.h5", "this is not hdf5");
  expect_data_error([&] { vlb::read_dataset(dir / "x.h5"); }, {dir / "x.h5", "not an HDF5 file"});
  expect_data_error([&] { vlb::read_dataset(dir / "nope.h5"); }, {dir / "nope.h5", "not found"});
}

TEST(FeatureStore, DescribeMentionsTheEssentials) {
  TempDir dir;
  vlb::Dataset ds = small_dataset();
  vlb::write_dataset(ds, dir / "a.h5");
  std::string s = vlb::describe_file(dir / "a.h5");
  for (const char* part : {"tiny", "N=7 D=5", "float32", "cat, dog", "attributes [3, 4]",
                           "train 3 rows, 3 classes", "T=4", "test-model"})
    EXPECT_NE(s.find(part), std::string::npos) << part << " not in:\n" << s;
  EXPECT_NE(s.find(ds.fingerprint), std::string::npos);
}

TEST(FeatureStoreInterop, H5pyReadsOurFile) {
  std::string py = vlb::test::system_python_with("numpy, h5py");
  if (py.empty()) GTEST_SKIP() << "system python3 with numpy+h5py not found: interop test skipped";
  TempDir dir;
  vlb::Dataset ds = small_dataset();
  vlb::WriteOptions wo;
  wo.features_fp16 = true;
  vlb::write_dataset(ds, dir / "a.h5", wo);
  float f01 = ds.features[0][1].to(torch::kHalf).item<float>();
  std::string script = dir / "check.py";
  vlb::test::write_text(script,
      "import sys, h5py, numpy as np\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "x = f['/images/features']\n"
      "assert x.dtype == np.float16, x.dtype\n"
      "assert x.shape == (7, 5), x.shape\n"
      "assert np.float32(x[0, 1]) == np.float32(sys.argv[2]), (x[0, 1], sys.argv[2])\n"
      "names = [n.decode() if isinstance(n, bytes) else n for n in f['/classes/names'][()]]\n"
      "assert names == ['cat', 'dog', '\\u00e9meu'], names\n"
      "assert f.attrs['schema'] == 'vlb-features'\n"
      "assert int(f.attrs['schema_version']) == 1\n"
      "assert f.attrs['content_sha256'] == sys.argv[3]\n"
      "assert f['/images/label'].dtype == np.int32\n"
      "assert f['/splits/test'][()].tolist() == [3, 5, 6]\n"
      "assert f['/images/labels'].dtype == np.int8\n"
      "print('ok')\n");
  auto r = vlb::test::run_command(py + " " + script + " " + (dir / "a.h5") + " " +
                                  fmt::format("{}", f01) + " " + ds.fingerprint);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(FeatureStoreInterop, WeReadH5pyFile) {
  std::string py = vlb::test::system_python_with("numpy, h5py");
  if (py.empty()) GTEST_SKIP() << "system python3 with numpy+h5py not found: interop test skipped";
  TempDir dir;
  std::string script = dir / "make.py";
  vlb::test::write_text(script,
      "import sys, h5py, numpy as np\n"
      "f = h5py.File(sys.argv[1], 'w')\n"
      "f.attrs['schema'] = 'vlb-features'\n"
      "f.attrs['schema_version'] = 1\n"
      "f.attrs['dataset'] = 'from_h5py'\n"
      "f.attrs['feature_model'] = 'numpy'\n"
      "s = h5py.string_dtype()\n"
      "f.create_dataset('/classes/names', data=np.array(['a', 'b'], dtype=object), dtype=s)\n"
      "x = (np.arange(12, dtype=np.float32).reshape(6, 2) / 8).astype(np.float16)\n"
      "f.create_dataset('/images/features', data=x)\n"
      "f.create_dataset('/images/label', data=np.array([0, 1, 0, 1, 0, -1], dtype=np.int64))\n"
      "f.create_dataset('/splits/train', data=np.array([0, 1, 2], dtype=np.int64))\n"
      "f.create_dataset('/splits/test', data=np.array([3, 4, 5], dtype=np.int64))\n"
      "f.close()\n");
  auto r = vlb::test::run_command(py + " " + script + " " + (dir / "p.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  vlb::Dataset ds = vlb::read_dataset(dir / "p.h5");
  EXPECT_EQ(ds.name, "from_h5py");
  EXPECT_EQ(ds.feature_dtype, "float16");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(torch::equal(ds.features, torch::arange(12, torch::kFloat).reshape({6, 2}) / 8));
  EXPECT_EQ(ds.label[5].item<int64_t>(), -1);
  EXPECT_EQ(ds.splits.at("test").size(0), 3);
  // No content_sha256 attribute: the reader computes it.
  EXPECT_EQ(ds.fingerprint, vlb::compute_fingerprint(dir / "p.h5"));
}
