// Golden tests of the composition scoring rules (metrics/src/composition.cpp). Every expected value
// below is worked out by hand from the scores written next to it, ties included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/npy.h"
#include "vlb/metrics/composition.h"

using vlb::test::TempDir;

namespace {

vlb::MetricRegistry& registry() {
  static vlb::MetricRegistry* reg = [] {
    auto* r = new vlb::MetricRegistry("metric");
    vlb::register_composition_metrics(*r);
    return r;
  }();
  return *reg;
}

// A dataset with n images (all in split "test") and T texts; scores are given directly.
vlb::Dataset make_dataset(int64_t n, int64_t T) {
  vlb::Dataset ds;
  ds.name = "golden";
  ds.class_names = {"x"};
  ds.features = torch::zeros({n, 2});
  ds.label = torch::full({n}, -1, torch::kLong);
  ds.splits["test"] = torch::arange(n, torch::kLong);
  ds.texts.features = torch::zeros({T, 2});
  for (int64_t t = 0; t < T; ++t) ds.texts.strings.push_back("t" + std::to_string(t));
  ds.texts.image = torch::full({T}, -1, torch::kLong);
  ds.texts.cls = torch::full({T}, -1, torch::kLong);
  ds.texts.source = torch::ones({T}, torch::kChar);
  return ds;
}

vlb::ItemGroup group(const std::string& kind, std::vector<int64_t> img, int64_t I, std::vector<int64_t> txt,
                     int64_t K, std::vector<int64_t> sub, std::vector<std::string> names) {
  vlb::ItemGroup g;
  g.kind = kind;
  const int64_t G = static_cast<int64_t>(sub.size());
  g.image = torch::tensor(img, torch::kLong).reshape({G, I});
  g.text = torch::tensor(txt, torch::kLong).reshape({G, K});
  g.subset = torch::tensor(sub, torch::kLong);
  g.subset_names = std::move(names);
  return g;
}

std::map<std::string, double> score(const std::string& metric, const vlb::Dataset& ds,
                                    const vlb::Prediction& pred, const vlb::Params& extra = {}) {
  const auto& e = registry().get(metric);
  vlb::Params p = e.schema.defaults();
  for (const auto& [k, v] : extra.values()) p.set(k, e.schema.check(k, v));
  auto m = e.factory(p);
  m->reset();
  vlb::Targets t;
  t.dataset = &ds;
  t.rows = ds.splits.at("test");
  m->update(pred, t);
  std::map<std::string, double> out;
  for (const auto& v : m->compute()) out[v.name] = v.value;
  return out;
}

vlb::Prediction dense(std::vector<std::vector<float>> rows) {
  const int64_t n = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  auto s = torch::empty({n, T});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < T; ++j) s[i][j] = rows[i][j];
  vlb::Prediction p;
  p.scores = s;
  return p;
}

TEST(SugarCrepe, StrictGreaterPerSubsetAndMean) {
  auto ds = make_dataset(3, 4);
  // items: (img, pos, neg, subset)
  ds.groups["sugarcrepe"] = group("sugarcrepe", {0, 0, 1, 2, 1}, 1, {0, 1, 2, 3, 0, 1, 2, 3, 2, 3}, 2,
                                  {0, 0, 1, 1, 1}, {"add_obj", "add_att", "replace_obj"});
  auto pred = dense({{0.5f, 0.4f, 0.3f, 0.3f},    // item0 correct, item1 tie -> wrong
                     {0.1f, 0.2f, 0.2f, 0.2f},    // item2 wrong, item4 tie -> wrong
                     {0.0f, 0.0f, 0.7f, 0.6f}});  // item3 correct
  auto r = score("sugarcrepe", ds, pred);
  EXPECT_DOUBLE_EQ(r.at("sugarcrepe/add_obj"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("sugarcrepe/add_att"), 1.0 / 3.0);
  EXPECT_EQ(r.count("sugarcrepe/replace_obj"), 0u);  // no items: not reported, not averaged
  EXPECT_DOUBLE_EQ(r.at("sugarcrepe/mean"), (0.5 + 1.0 / 3.0) / 2.0);
  EXPECT_DOUBLE_EQ(r.at("sugarcrepe/subsets"), 2.0);
}

TEST(SugarCrepe, ItemsOutsideTheEvaluatedRowsAreSkippedAndNoneIsAnError) {
  auto ds = make_dataset(3, 4);
  ds.groups["sugarcrepe"] = group("sugarcrepe", {0, 2}, 1, {0, 1, 2, 3}, 2, {0, 0}, {"add_obj"});
  ds.splits["test"] = torch::tensor({0, 1}, torch::kLong);  // image 2 is not evaluated
  auto pred = dense({{0.1f, 0.9f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}});
  EXPECT_DOUBLE_EQ(score("sugarcrepe", ds, pred).at("sugarcrepe/add_obj"), 0.0);
  ds.splits["test"] = torch::tensor({1}, torch::kLong);
  auto none = dense({{0.0f, 0.0f, 0.0f, 0.0f}});
  try {
    score("sugarcrepe", ds, none);
    FAIL() << "expected an error";
  } catch (const vlb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no item of group 'sugarcrepe'"), std::string::npos) << e.what();
  }
}

TEST(SugarCrepe, WrongGroupKindAndMissingGroupAreConfigErrors) {
  auto ds = make_dataset(1, 2);
  ds.groups["order"] = group("order", {0}, 1, {0, 1}, 2, {0}, {"all"});
  auto pred = dense({{0.f, 0.f}});
  EXPECT_THROW(score("sugarcrepe", ds, pred), vlb::ConfigError);  // no group "sugarcrepe"
  vlb::Params p;
  p.set("group", std::string("order"));
  EXPECT_THROW(score("sugarcrepe", ds, pred, p), vlb::ConfigError);  // kind order, not sugarcrepe
}

TEST(Aro, SymmetricListHasTheNotebooks157Names) {
  const auto& s = vlb::composition::aro_symmetric_relations();
  EXPECT_EQ(s.size(), 157u);
  for (const char* n : {"next to", "near", "with", "of", "around", "wrapped in"})
    EXPECT_NE(std::find(s.begin(), s.end(), n), s.end()) << n;
  for (const char* n : {"on", "under", "behind", "left of"})
    EXPECT_EQ(std::find(s.begin(), s.end(), n), s.end()) << n;
}

TEST(Aro, RelationMacroAverageDropsSymmetricRelationsAndTiesAreWrong) {
  auto ds = make_dataset(6, 2);
  // subsets: 0 "on", 1 "next to" (symmetric), 2 "under". Text 0 = true caption, 1 = false.
  ds.groups["aro_relation"] = group("aro_relation", {0, 1, 2, 3, 4, 5}, 1, {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 2,
                                    {0, 0, 2, 1, 1, 1}, {"on", "next to", "under"});
  auto pred = dense({{0.6f, 0.5f},    // on: correct
                     {0.5f, 0.5f},    // on: tie -> wrong
                     {0.9f, 0.1f},    // under: correct
                     {0.9f, 0.1f}, {0.9f, 0.1f}, {0.9f, 0.1f}});  // next to: all correct, dropped
  auto r = score("aro_relation", ds, pred);
  EXPECT_DOUBLE_EQ(r.at("aro_relation/mean"), (0.5 + 1.0) / 2.0);
  EXPECT_DOUBLE_EQ(r.at("aro_relation/subsets"), 2.0);
  vlb::Params keep;
  keep.set("drop_symmetric", false);
  EXPECT_DOUBLE_EQ(score("aro_relation", ds, pred, keep).at("aro_relation/mean"), (0.5 + 1.0 + 1.0) / 3.0);
}

TEST(Aro, AttributionDropsPairsWithFewerThan25Items) {
  // 25 items of red_blue (20 correct) and 24 of blue_red (all correct).
  const int64_t n = 49;
  auto ds = make_dataset(n, 2 * n);
  std::vector<int64_t> img, txt, sub;
  std::vector<std::vector<float>> rows(n, std::vector<float>(2 * n, 0.f));
  for (int64_t i = 0; i < n; ++i) {
    img.push_back(i);
    txt.push_back(2 * i);
    txt.push_back(2 * i + 1);
    sub.push_back(i < 25 ? 0 : 1);
    rows[i][2 * i] = (i < 20 || i >= 25) ? 0.7f : 0.3f;
    rows[i][2 * i + 1] = 0.5f;
  }
  ds.groups["aro_attribution"] = group("aro_attribution", img, 1, txt, 2, sub, {"red_blue", "blue_red"});
  auto pred = dense(rows);
  EXPECT_DOUBLE_EQ(score("aro_attribution", ds, pred).at("aro_attribution/mean"), 0.8);
  vlb::Params all;
  all.set("min_count", int64_t{0});
  EXPECT_DOUBLE_EQ(score("aro_attribution", ds, pred, all).at("aro_attribution/mean"), 0.9);
  vlb::Params none;
  none.set("min_count", int64_t{26});
  EXPECT_THROW(score("aro_attribution", ds, pred, none), vlb::Error);
}

TEST(Order, IndexZeroMustBeTheArgmaxAndWinsTiesLikeNumpy) {
  auto ds = make_dataset(3, 15);
  ds.groups["order"] = group("order", {0, 1, 2}, 1,
                             {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, 5, {0, 0, 0}, {"all"});
  std::vector<std::vector<float>> rows(3, std::vector<float>(15, 0.f));
  float a[5] = {0.5f, 0.5f, 0.1f, 0.2f, 0.3f};  // tie with index 1: numpy argmax -> 0 (correct)
  float b[5] = {0.4f, 0.1f, 0.5f, 0.2f, 0.3f};  // index 2 wins: wrong
  float c[5] = {0.6f, 0.1f, 0.5f, 0.2f, 0.3f};  // correct
  for (int k = 0; k < 5; ++k) rows[0][k] = a[k], rows[1][5 + k] = b[k], rows[2][10 + k] = c[k];
  auto pred = dense(rows);
  EXPECT_DOUBLE_EQ(score("order", ds, pred).at("order/precision@1"), 2.0 / 3.0);
  vlb::Params strict;
  strict.set("ties", std::string("strict"));
  EXPECT_DOUBLE_EQ(score("order", ds, pred, strict).at("order/precision@1"), 1.0 / 3.0);
}

TEST(Winoground, TextImageAndGroupScoresWithTies) {
  auto ds = make_dataset(6, 6);
  ds.groups["winoground"] = group("winoground", {0, 1, 2, 3, 4, 5}, 2, {0, 1, 2, 3, 4, 5}, 2, {0, 0, 0}, {"all"});
  std::vector<std::vector<float>> r(6, std::vector<float>(6, 0.f));
  // item 0: c0i0 .9, c1i0 .5, c0i1 .4, c1i1 .8 -> text, image, group all correct
  r[0][0] = .9f, r[0][1] = .5f, r[1][0] = .4f, r[1][1] = .8f;
  // item 1: c0i0 .5 = c1i0 .5 (tie: text wrong); c0i1 .2, c1i1 .6 -> image correct; group wrong
  r[2][2] = .5f, r[2][3] = .5f, r[3][2] = .2f, r[3][3] = .6f;
  // item 2: c0i0 .3, c1i0 .6, c0i1 .2, c1i1 .1 -> text wrong, image wrong (.1 < .6)
  r[4][4] = .3f, r[4][5] = .6f, r[5][4] = .2f, r[5][5] = .1f;
  auto s = score("winoground", ds, dense(r));
  EXPECT_DOUBLE_EQ(s.at("winoground/text"), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.at("winoground/image"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.at("winoground/group"), 1.0 / 3.0);
}

// 3 images, 4 captions (captions 0, 1 -> image 0; 2 -> image 1; 3 -> image 2).
struct RetrievalCase {
  vlb::Dataset ds = make_dataset(3, 4);
  vlb::Prediction pred = dense({{0.2f, 0.9f, 0.9f, 0.1f},     // best GT (1) tied with text 2
                                {0.5f, 0.6f, 0.4f, 0.3f},     // GT 2 ranks third
                                {0.0f, 0.0f, 0.0f, 0.0f}});   // GT 3 tied with everything
  RetrievalCase() { ds.texts.image = torch::tensor({0, 0, 1, 2}, torch::kLong); }
};

TEST(Retrieval, RecallBothDirectionsWithEachTieRule) {
  RetrievalCase c;
  auto r = score("retrieval", c.ds, c.pred);
  // i2t ranks (lower_index): image0 0, image1 2, image2 3 -> R@1 1/3, R@5 1.
  EXPECT_DOUBLE_EQ(r.at("retrieval/i2t_r1"), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.at("retrieval/i2t_r5"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("retrieval/i2t_r10"), 1.0);
  // t2i ranks: text0 1 (0.5 > 0.2), text1 0, text2 1 (0.9 > 0.4), text3 2 -> R@1 1/4.
  EXPECT_DOUBLE_EQ(r.at("retrieval/t2i_r1"), 0.25);
  EXPECT_DOUBLE_EQ(r.at("retrieval/t2i_r5"), 1.0);
  vlb::Params p;
  p.set("ties", std::string("pessimistic"));  // image0 rank 1, image2 rank 3 -> R@1 0
  EXPECT_DOUBLE_EQ(score("retrieval", c.ds, c.pred, p).at("retrieval/i2t_r1"), 0.0);
  p.set("ties", std::string("optimistic"));   // image0 and image2 rank 0 -> R@1 2/3
  EXPECT_DOUBLE_EQ(score("retrieval", c.ds, c.pred, p).at("retrieval/i2t_r1"), 2.0 / 3.0);
}

TEST(Retrieval, TextSourceFiltersCandidates) {
  RetrievalCase c;
  c.ds.texts.source = torch::tensor({1, 2, 1, 1}, torch::kChar);  // caption 1 is a negative
  auto r = score("retrieval", c.ds, c.pred);
  // image0's only GT is caption 0 (0.2); text 2 (0.9) outranks it -> rank 1; t2i over 3 texts.
  EXPECT_DOUBLE_EQ(r.at("retrieval/i2t_r1"), 0.0);
  EXPECT_DOUBLE_EQ(r.at("retrieval/t2i_r1"), 0.0);  // text0 rank 1, text2 rank 1, text3 rank 2
}

at::Tensor quantised(int64_t n, int64_t d, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  // Multiples of 1/4 in [-1, 1]: dot products are exact in float64, so ties are exact too.
  return at::randint(-4, 5, {n, d}, g, torch::kLong).to(torch::kFloat) / 4.0;
}

TEST(Retrieval, ChunkedEqualsUnchunkedAndEmbeddingPathEqualsScores) {
  const int64_t n = 37, m = 80;
  auto img = quantised(n, 3, 1), txt = quantised(m, 3, 2);
  txt.narrow(0, 40, 10).copy_(txt.narrow(0, 0, 10));  // duplicated captions: exact ties
  auto owner = at::randint(0, n, {m}, at::detail::createCPUGenerator(3), torch::kLong);
  for (auto ties : {vlb::composition::RankTies::kLowerIndex, vlb::composition::RankTies::kPessimistic}) {
    auto full = vlb::composition::retrieval_recall(img, txt, owner, {1, 5, 10}, 100000, ties);
    for (int64_t chunk : {1, 7, 36}) {
      auto part = vlb::composition::retrieval_recall(img, txt, owner, {1, 5, 10}, chunk, ties);
      EXPECT_EQ(part.i2t, full.i2t) << chunk;
      EXPECT_EQ(part.t2i, full.t2i) << chunk;
    }
    auto sc = img.to(torch::kDouble).mm(txt.to(torch::kDouble).t());
    auto block = [&](int kind, int64_t b, int64_t e) {
      return kind == 0 ? sc.slice(0, b, e) : sc.t().slice(0, b, e);
    };
    auto viaScores = vlb::composition::retrieval_recall(block, n, owner, {1, 5, 10}, 5, ties);
    EXPECT_EQ(viaScores.i2t, full.i2t);
    EXPECT_EQ(viaScores.t2i, full.t2i);
  }
}

TEST(Retrieval, MatchesAnIndependentNumpyReference) {
  const std::string py = vlb::test::system_python_with("numpy");
  if (py.empty()) GTEST_SKIP() << "system python3 with numpy not available";
  TempDir dir;
  const int64_t n = 50, m = 120;
  auto img = quantised(n, 4, 11), txt = quantised(m, 4, 12);
  txt.narrow(0, 60, 20).copy_(txt.narrow(0, 0, 20));
  auto owner = at::randint(0, n, {m}, at::detail::createCPUGenerator(13), torch::kLong);
  vlb::write_npy(dir / "img.npy", img);
  vlb::write_npy(dir / "txt.npy", txt);
  vlb::write_npy(dir / "own.npy", owner);
  vlb::test::write_text(dir / "ref.py", R"(
import numpy as np, sys
d = sys.argv[1]
I = np.load(d + "/img.npy").astype(np.float64); X = np.load(d + "/txt.npy").astype(np.float64)
own = np.load(d + "/own.npy"); S = I @ X.T; n, m = S.shape
idx = np.arange(m)
def before(row, g, others):  # candidates ranked before g: higher, or equal with a lower index
    return int(np.sum(others & ((row > row[g]) | ((row == row[g]) & (idx_of(row) < g)))))
def idx_of(row): return np.arange(len(row))
i2t = []
for i in range(n):
    gts = np.where(own == i)[0]
    if len(gts) == 0: continue
    others = own != i
    i2t.append(min(before(S[i], g, others) for g in gts))
t2i = []
for j in range(m):
    col = S[:, j]; others = np.arange(n) != own[j]
    t2i.append(before(col, own[j], others))
i2t = np.array(i2t); t2i = np.array(t2i)
print(" ".join("%.17g" % v for v in [np.mean(i2t < k) for k in (1, 5, 10)] + [np.mean(t2i < k) for k in (1, 5, 10)]))
)");
  auto out = vlb::test::run_command(py + " " + (dir / "ref.py") + " " + dir.path());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  std::istringstream in(out.output);
  std::vector<double> ref(6);
  for (auto& v : ref) in >> v;
  auto r = vlb::composition::retrieval_recall(img, txt, owner, {1, 5, 10}, 16,
                                              vlb::composition::RankTies::kLowerIndex);
  for (int k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(r.i2t[k], ref[k]) << "i2t k index " << k;
    EXPECT_DOUBLE_EQ(r.t2i[k], ref[3 + k]) << "t2i k index " << k;
  }
  EXPECT_GT(ref[0], 0.0);  // the case is not degenerate
  EXPECT_LT(ref[0], 1.0);
}

TEST(GroupMetrics, EmbeddingPathAgreesWithDenseScores) {
  // Random embeddings; aux image_emb/text_emb versus scores = image_emb text_emb^T.
  const int64_t n = 20, T = 40;
  auto ds = make_dataset(n, T);
  auto g = at::detail::createCPUGenerator(5);
  std::vector<int64_t> img, txt, sub;
  for (int64_t i = 0; i < n; ++i) {
    img.push_back(i);
    txt.push_back(2 * i);
    txt.push_back(2 * i + 1);
    sub.push_back(i % 7);
  }
  ds.groups["sugarcrepe"] = group("sugarcrepe", img, 1, txt, 2, sub,
                                  {"add_obj", "add_att", "replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att"});
  auto ie = quantised(n, 5, 21), te = quantised(T, 5, 22);
  vlb::Prediction emb;
  emb.aux["image_emb"] = ie;
  emb.aux["text_emb"] = te;
  vlb::Prediction sc;
  sc.scores = ie.mm(te.t());
  EXPECT_EQ(score("sugarcrepe", ds, emb), score("sugarcrepe", ds, sc));
  vlb::Prediction bad;
  bad.aux["image_emb"] = ie;
  bad.aux["text_emb"] = te.narrow(0, 0, 5);
  EXPECT_THROW(score("sugarcrepe", ds, bad), vlb::Error);
}

}  // namespace
