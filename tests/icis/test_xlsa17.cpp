// The xlsa17 reader/converter against the counts in ../shared/data/xlsa17/README.md, and the
// converter end to end with a features file built by scipy (an independent MAT writer).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/core/text.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"
#include "vlb/datasets/xlsa17.h"

namespace {

using vlb::test::TempDir;

struct Expected {
  const char* ds;
  int64_t classes, d_a, trainval, test_seen, test_unseen, train, val;  // train/val -1: absent
  bool names;
};

// From the README's "Contents" table (checked there with scipy.io.loadmat).
const Expected kExpected[] = {
    {"CUB", 200, 312, 7057, 1764, 2967, -1, -1, true},
    {"AWA1", 50, 85, 19832, 4958, 5685, 16864, 7926, true},
    {"AWA2", 50, 85, 23527, 5882, 7913, 20218, 9191, true},
    {"SUN", 717, 102, 10320, 2580, 1440, 11600, 1300, true},
    {"APY", 32, 64, 5932, 1483, 7924, -1, -1, true},
    {"FLO", 102, 1024, 5631, 1403, 1155, 5878, 1156, false},
};

TEST(Xlsa17, EveryFileMatchesTheReadmeCounts) {
  VLB_REQUIRE_SHARED_DATA(data);
  for (const auto& e : kExpected) {
    SCOPED_TRACE(e.ds);
    auto s = vlb::read_xlsa17_splits(data + "/xlsa17/" + e.ds + "/att_splits.mat");
    EXPECT_EQ(s.att.size(0), e.classes);
    EXPECT_EQ(s.att.size(1), e.d_a);
    EXPECT_EQ(static_cast<int64_t>(s.class_names.size()), e.classes);
    EXPECT_EQ(s.has_class_names, e.names);
    EXPECT_EQ(s.locs.at("trainval").numel(), e.trainval);
    EXPECT_EQ(s.locs.at("test_seen").numel(), e.test_seen);
    EXPECT_EQ(s.locs.at("test_unseen").numel(), e.test_unseen);
    if (e.train >= 0) {
      EXPECT_EQ(s.locs.at("train").numel(), e.train);
      EXPECT_EQ(s.locs.at("val").numel(), e.val);
    } else {
      EXPECT_EQ(s.locs.count("train"), 0u);
    }
    // att columns (per class) are unit norm, as xlsa17 stores them.
    EXPECT_TRUE(torch::allclose(s.att.norm(2, {1}), torch::ones({e.classes}), 1e-4, 1e-4));
    // 0-based: the smallest location is 0 somewhere (the union covers 1..N in the README).
    auto all = torch::cat({s.locs.at("trainval"), s.locs.at("test_seen"), s.locs.at("test_unseen")});
    EXPECT_EQ(all.min().item<int64_t>(), 0);
    EXPECT_EQ(std::get<0>(torch::_unique(all)).numel(), all.numel());  // pairwise disjoint
  }
  auto sun = vlb::read_xlsa17_splits(data + "/xlsa17/SUN/att_splits.mat");
  std::ifstream names(data + "/icis_embeddings/SUN_classnames.txt");
  std::string first;
  std::getline(names, first);
  EXPECT_EQ(sun.class_names[0], first);
}

}  // namespace

namespace {

// A res101.mat stand-in for SUN: labels follow the xlsa17 class lists (trainvalclasses.txt /
// testclasses.txt), features are random, written by scipy.io.savemat. `drop` removes rows at the
// end so the locations no longer fit.
std::string make_sun_features(const std::string& data, const std::string& dir, int drop) {
  std::string py = vlb::test::system_python_with("numpy,scipy");
  if (py.empty()) return "";
  std::string out = dir + "/res101.mat";
  std::string script = dir + "/make.py";
  vlb::test::write_text(script, R"(
import sys, numpy as np, scipy.io as sio
d, out, drop = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = sio.loadmat(d + '/xlsa17/SUN/att_splits.mat')
names = [str(x[0][0]) for x in m['allclasses_names']]
idx = {n: i + 1 for i, n in enumerate(names)}
seen = [idx[l.strip()] for l in open(d + '/xlsa17/SUN/trainvalclasses.txt') if l.strip()]
unseen = [idx[l.strip()] for l in open(d + '/xlsa17/SUN/testclasses.txt') if l.strip()]
n = int(max(m[k].max() for k in ['trainval_loc', 'test_seen_loc', 'test_unseen_loc']))
lab = np.zeros(n, dtype=np.float64)
for k, cl in [('trainval_loc', seen), ('test_seen_loc', seen), ('test_unseen_loc', unseen)]:
    loc = m[k].ravel() - 1
    lab[loc] = np.array(cl)[np.arange(len(loc)) % len(cl)]
rng = np.random.default_rng(0)
feat = rng.standard_normal((8, n)).astype(np.float32)
n2 = n - drop
sio.savemat(out, {'features': feat[:, :n2], 'labels': lab[:n2].reshape(-1, 1)})
np.save(out + '.labels.npy', lab)
)");
  auto r = vlb::test::run_command(py + " " + script + " " + data + " " + out + " " + std::to_string(drop));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

TEST(Xlsa17, ConvertsSunWithFeaturesFromAMatFileAndExtraDescriptors) {
  VLB_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  std::string feats = make_sun_features(data, dir.path(), 0);
  if (feats.empty()) GTEST_SKIP() << "system python with numpy/scipy not available";
  std::string out = dir / "sun.h5";
  auto r = vlb::test::run_cli("convert xlsa17 --att-splits " + data + "/xlsa17/SUN/att_splits.mat" +
                              " --features " + feats + " --descriptor wiki2vec=" + data +
                              "/icis_embeddings/wiki2vec/SUN_wiki_sum_list.npy --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ds = vlb::read_dataset(out);
  EXPECT_EQ(ds.num_classes(), 717);
  EXPECT_EQ(ds.num_images(), 14340);
  EXPECT_EQ(ds.dim(), 8);
  EXPECT_EQ(ds.class_splits.at("seen").numel(), 645);
  EXPECT_EQ(ds.class_splits.at("unseen").numel(), 72);
  EXPECT_EQ(ds.splits.at("trainval").numel(), 10320);
  EXPECT_EQ(ds.splits.at("test_seen").numel(), 2580);
  EXPECT_EQ(ds.splits.at("test_unseen").numel(), 1440);
  EXPECT_EQ(ds.splits.at("test").numel(), 2580 + 1440);
  EXPECT_EQ(ds.descriptors.at("att").size(1), 102);
  EXPECT_EQ(ds.descriptors.at("original_att").size(0), 717);
  EXPECT_EQ(ds.descriptors.at("wiki2vec").size(1), 300);
  // 1-based -> 0-based labels: compare with the labels the script wrote.
  auto lab = vlb::read_npy(feats + ".labels.npy").to(torch::kLong) - 1;
  EXPECT_TRUE(torch::equal(ds.label, lab));
}

TEST(Xlsa17, FeaturesThatDoNotCoverTheLocationsAreABadInputError) {
  VLB_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  std::string feats = make_sun_features(data, dir.path(), 5);
  if (feats.empty()) GTEST_SKIP() << "system python with numpy/scipy not available";
  std::string out = dir / "sun.h5";
  auto r = vlb::test::run_cli("convert xlsa17 --att-splits " + data + "/xlsa17/SUN/att_splits.mat" +
                              " --features " + feats + " --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("14335 rows"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("_loc"), std::string::npos) << r.output;
  EXPECT_FALSE(vlb::test::exists(out));
}

// The sun_clip_gzsl join on the real files: 270 exact name matches plus 125 where only the word
// order differs ("indoor apse" / "apse_indoor"), unseen = the matched xlsa17 test classes.
void convert_sun_clip(const std::string& data, const std::string& out, const std::string& extra) {
  auto r = vlb::test::run_cli("convert sun-clip-gzsl --clip-dir " + data + "/clip_vit_b32/sun397" +
                              " --att-splits " + data + "/xlsa17/SUN/att_splits.mat --test-classes " +
                              data + "/xlsa17/SUN/testclasses.txt --descriptor conceptnet=" + data +
                              "/icis_embeddings/conceptnet/SUN_cn_sum_list.npy --out " + out + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(SunClipGzsl, JoinsByNameAndWordOrderAndWritesTheMapping) {
  VLB_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  convert_sun_clip(data, dir / "sun.h5", "");
  auto ds = vlb::read_dataset(dir / "sun.h5");
  EXPECT_EQ(ds.num_classes(), 395);
  EXPECT_EQ(ds.class_splits.at("seen").numel(), 349);
  EXPECT_EQ(ds.class_splits.at("unseen").numel(), 46);
  EXPECT_EQ(ds.splits.at("trainval").numel(), 2792);
  EXPECT_EQ(ds.splits.at("test_seen").numel(), 3490);
  EXPECT_EQ(ds.splits.at("test_unseen").numel(), 460);
  EXPECT_EQ(ds.descriptors.at("att").sizes(), (std::vector<int64_t>{395, 102}));
  EXPECT_EQ(ds.descriptors.at("conceptnet").sizes(), (std::vector<int64_t>{395, 300}));
  auto mapping = nlohmann::json::parse(ds.attrs.at("class_mapping"));
  ASSERT_EQ(mapping.size(), 395u);
  int exact = 0, order = 0, unseen = 0;
  for (const auto& m : mapping) {
    const std::string how = m.at("match");
    exact += how == "exact";
    order += how == "word_order";
    unseen += m.at("unseen").get<bool>();
    if (m.at("sun397") == "indoor apse") EXPECT_EQ(m.at("xlsa17"), "apse_indoor");
  }
  EXPECT_EQ(exact, 270);
  EXPECT_EQ(order, 125);
  EXPECT_EQ(unseen, 46);
  EXPECT_EQ(ds.attrs.at("unseen_added_by_seed"), "[]");
  // No image of an unseen class is in the training split.
  auto unseen_rows = torch::isin(ds.label.index_select(0, ds.splits.at("trainval")),
                                 ds.class_splits.at("unseen"));
  EXPECT_EQ(unseen_rows.sum().item<int64_t>(), 0);
}

TEST(SunClipGzsl, TopsUpTheUnseenClassesWithSeededSeenOnes) {
  VLB_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  convert_sun_clip(data, dir / "a.h5", " --min-unseen 60 --seed 3");
  convert_sun_clip(data, dir / "b.h5", " --min-unseen 60 --seed 3");
  convert_sun_clip(data, dir / "c.h5", " --min-unseen 60 --seed 4");
  auto a = vlb::read_dataset(dir / "a.h5"), b = vlb::read_dataset(dir / "b.h5"),
       c = vlb::read_dataset(dir / "c.h5");
  EXPECT_EQ(a.class_splits.at("unseen").numel(), 60);
  EXPECT_EQ(nlohmann::json::parse(a.attrs.at("unseen_added_by_seed")).size(), 14u);
  EXPECT_TRUE(torch::equal(a.class_splits.at("unseen"), b.class_splits.at("unseen")));
  EXPECT_FALSE(torch::equal(a.class_splits.at("unseen"), c.class_splits.at("unseen")));
  // The 46 xlsa17 test classes stay unseen whatever the seed; trainval loses the added classes.
  EXPECT_GE(torch::isin(a.class_splits.at("unseen"), c.class_splits.at("unseen")).sum().item<int64_t>(), 46);
  EXPECT_EQ(a.splits.at("trainval").numel(), 2792 - 14 * 8);
}

TEST(Xlsa17, NotAMatFileIsABadInputError) {
  TempDir dir;
  vlb::test::write_text(dir / "x.mat", "not a mat file");
  EXPECT_THROW(vlb::read_xlsa17_splits(dir / "x.mat"), vlb::DataError);
  EXPECT_THROW(vlb::read_xlsa17_splits(dir / "missing.mat"), vlb::DataError);
}

TEST(Xlsa17, ClassNameNormalization) {
  EXPECT_EQ(vlb::canonical_label("Airport_Terminal"), "airport terminal");
  EXPECT_EQ(vlb::canonical_label("bathroom/indoor"), "bathroom indoor");
  EXPECT_EQ(vlb::word_bag_key("indoor_bathroom"), vlb::word_bag_key("bathroom/indoor"));
}

}  // namespace
