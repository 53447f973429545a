// The synthetic generator, the dataset sources and split views.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/h5.h"
#include "vlb/datasets/synth.h"

using vlb::test::TempDir;

namespace {

std::string fingerprint_of(const vlb::SynthOptions& o, const TempDir& dir, const std::string& name) {
  vlb::Dataset ds = vlb::generate_synth(o);
  vlb::write_dataset(ds, dir / name);
  return ds.fingerprint;
}

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {1}, true); }

double accuracy(const at::Tensor& scores, const at::Tensor& y) {
  return scores.argmax(1).eq(y).to(torch::kDouble).mean().item<double>();
}

}  // namespace

TEST(Synth, SameSeedSameBytesDifferentSeedDifferent) {
  TempDir dir;
  vlb::SynthOptions o;
  o.classes = 5;
  o.test_per_class = 10;
  std::string a = fingerprint_of(o, dir, "a.h5");
  std::string b = fingerprint_of(o, dir, "b.h5");
  torch::manual_seed(12345);  // global torch state must not matter
  std::string c = fingerprint_of(o, dir, "c.h5");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  o.seed = 1;
  EXPECT_NE(fingerprint_of(o, dir, "d.h5"), a);
}

TEST(Synth, ShapesAndSplits) {
  vlb::SynthOptions o;
  o.classes = 6;
  o.dim = 16;
  o.train_per_class = 3;
  o.val_per_class = 2;
  o.test_per_class = 4;
  o.templates = 3;
  o.attributes = 7;
  vlb::Dataset ds = vlb::generate_synth(o);
  EXPECT_EQ(ds.num_classes(), 6);
  EXPECT_EQ(ds.class_names[5], "class_005");
  EXPECT_EQ(ds.num_images(), 6 * 9);
  EXPECT_EQ(ds.dim(), 16);
  EXPECT_EQ(ds.splits.at("train").size(0), 18);
  EXPECT_EQ(ds.splits.at("val").size(0), 12);
  EXPECT_EQ(ds.splits.at("test").size(0), 24);
  // Every class appears equally often in every split.
  for (const auto& [name, rows] : ds.splits) {
    at::Tensor counts = ds.label.index_select(0, rows).bincount({}, 6);
    EXPECT_EQ(counts.min().item<int64_t>(), counts.max().item<int64_t>()) << name;
  }
  EXPECT_EQ(ds.texts.size(), 18);
  EXPECT_EQ(ds.texts.strings[4], "a photo of a class_001 (template 1)");
  EXPECT_EQ(ds.texts.cls[4].item<int64_t>(), 1);
  EXPECT_EQ(ds.descriptors.at("attributes").sizes(), (std::vector<int64_t>{6, 7}));
  EXPECT_EQ(ds.descriptors.at("text_emb").sizes(), (std::vector<int64_t>{6, 16}));
  EXPECT_NEAR(ds.features.norm(2, {1}).min().item<double>(), 1.0, 1e-5);

  vlb::SynthOptions no_val = o;
  no_val.val_per_class = 0;
  EXPECT_EQ(vlb::generate_synth(no_val).splits.count("val"), 0u);
}

// Note [synthetic difficulty]: the defaults are tuned so that training-free baselines sit in a
// useful range; the linear-probe ranking is checked by the methods module.
TEST(Synth, DefaultsGiveNcmAboveZeroShotAboveChance) {
  vlb::Dataset ds = vlb::generate_synth(vlb::SynthOptions{});
  vlb::DataView train = vlb::make_view(ds, "train"), test = vlb::make_view(ds, "test");
  const int64_t C = ds.num_classes();
  at::Tensor xtr = train.features(), ytr = train.label();
  at::Tensor means = torch::zeros({C, ds.dim()}).index_add_(0, ytr, xtr);
  double ncm = accuracy(test.features().matmul(l2n(means).t()), test.label());
  at::Tensor tmean = torch::zeros({C, ds.dim()}).index_add_(0, ds.texts.cls, l2n(ds.texts.features));
  double zs = accuracy(test.features().matmul(l2n(tmean).t()), test.label());
  RecordProperty("ncm", std::to_string(ncm));
  RecordProperty("zero_shot", std::to_string(zs));
  EXPECT_GT(ncm, zs + 0.03) << "ncm " << ncm << " zero-shot " << zs;
  EXPECT_GT(zs, 3.0 / C) << zs;
  EXPECT_LT(ncm, 0.99) << ncm;
}

TEST(DataView, SelectsRowsAndNamesAvailableSplits) {
  vlb::SynthOptions o;
  o.classes = 3;
  o.train_per_class = 2;
  o.test_per_class = 2;
  vlb::Dataset ds = vlb::generate_synth(o);
  vlb::DataView v = vlb::make_view(ds, "test");
  EXPECT_EQ(v.size(), 6);
  EXPECT_TRUE(torch::equal(v.features(), ds.features.slice(0, 6, 12)));
  EXPECT_TRUE(torch::equal(v.label(), torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong)));
  EXPECT_FALSE(v.labels().defined());
  try {
    vlb::make_view(ds, "validation");
    FAIL() << "expected ConfigError";
  } catch (const vlb::ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'validation'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("available: test, train"), std::string::npos) << msg;
  }
}

TEST(Sources, SynthCachesByParameters) {
  TempDir dir;
  vlb::DatasetRegistry reg("dataset source");
  vlb::register_synth_source(reg);
  vlb::register_h5_source(reg);
  const auto& entry = reg.get("synth");
  vlb::Params p = entry.schema.defaults();
  p.set("classes", int64_t{4});
  p.set("test_per_class", int64_t{5});
  vlb::SourceContext ctx;
  ctx.cache_dir = dir / "cache";
  vlb::Dataset first = entry.factory(p)->load(ctx);
  EXPECT_EQ(first.num_classes(), 4);
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(ctx.cache_dir))
    files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(first.path, files[0]);
  EXPECT_EQ(first.fingerprint, vlb::compute_fingerprint(files[0]));
  EXPECT_EQ(entry.factory(p)->load(ctx).fingerprint, first.fingerprint);

  // Prove the second load reads the cache: swap the cached file's content behind its back.
  vlb::SynthOptions other;
  other.classes = 3;
  vlb::Dataset planted = vlb::generate_synth(other);
  vlb::write_dataset(planted, files[0]);
  vlb::Dataset again = entry.factory(p)->load(ctx);
  EXPECT_EQ(again.fingerprint, planted.fingerprint);
  EXPECT_EQ(again.num_classes(), 3);

  // Other parameters -> another cache file.
  p.set("seed", int64_t{7});
  vlb::Dataset seeded = entry.factory(p)->load(ctx);
  EXPECT_NE(seeded.fingerprint, first.fingerprint);
  EXPECT_NE(seeded.path, first.path);
}

TEST(Sources, H5RequiresPathAndLoadsFile) {
  TempDir dir;
  vlb::DatasetRegistry reg("dataset source");
  vlb::register_h5_source(reg);
  const auto& entry = reg.get("h5");
  vlb::Params p = entry.schema.defaults();
  try {
    entry.factory(p);
    FAIL() << "expected ConfigError";
  } catch (const vlb::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset.params.path is required"), std::string::npos);
  }
  vlb::SynthOptions o;
  o.classes = 3;
  vlb::Dataset ds = vlb::generate_synth(o);
  vlb::write_dataset(ds, dir / "s.h5");
  p.set("path", dir / "s.h5");
  EXPECT_EQ(entry.factory(p)->load({}).fingerprint, ds.fingerprint);
}
