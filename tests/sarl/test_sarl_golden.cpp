// Golden and identity tests of SARL's pieces: the decoupling (folded fc3·fc4 = the lineage's
// two layers with biases, tiled = untiled, a hand-computed case), the two losses, both mAPs and
// CF1/OF1 (ties, all-negative classes, classes with no known label), the partial-label generator
// and the schema round trip of feature maps and partial labels.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vlb/methods/sarl.h"
#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/synth_multilabel.h"
#include "vlb/experiments/builtins.h"
#include "vlb/metrics/multilabel.h"

namespace {

using namespace vlb;
namespace sl = vlb::sarl;

at::Tensor i8(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return torch::tensor(v, torch::kLong).to(torch::kChar).reshape(shape).clone();
}

TEST(SarlDecouple, HandComputedCase) {
  // P = 2 positions, C_f = 1, d = 1, U = V = w = 1: e = tanh(f), a = softmax(e), s = Σ a f.
  auto F = torch::tensor({1.0, 3.0}, torch::kDouble).reshape({1, 2, 1});
  auto one = torch::ones({1, 1}, torch::kDouble);
  auto r = sl::semantic_decouple(F, one, one, one, torch::ones({1}, torch::kDouble));
  EXPECT_NEAR(r.attention[0][0][0].item<double>(), 0.44189851, 1e-8);
  EXPECT_NEAR(r.attention[0][1][0].item<double>(), 0.55810149, 1e-8);
  EXPECT_NEAR(r.features[0][0][0].item<double>(), 2.116202985176708, 1e-12);
}

TEST(SarlDecouple, FoldedHeadEqualsLineageHeadAndBiasesHaveNoGradient) {
  // Lineage: z = Pᵀ tanh(u ⊙ v) + b_P, e = wᵀ z + b_w. Folded: e' = (P w)ᵀ tanh(u ⊙ v).
  torch::manual_seed(3);
  const int64_t B = 2, P = 5, Cf = 4, C = 3, dw = 6, d = 7;
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  auto F = torch::randn({B, P, Cf}, o), X = torch::randn({C, dw}, o);
  auto U = torch::randn({Cf, d}, o), V = torch::randn({dw, d}, o);
  auto Pm = torch::randn({d, d}, o), w = torch::randn({d}, o);
  auto bP = torch::randn({d}, o).requires_grad_(), bw = torch::randn({1}, o).requires_grad_();
  auto t = torch::tanh(torch::matmul(F, U).unsqueeze(2) * torch::matmul(X, V));  // [B, P, C, d]
  auto e = torch::matmul(torch::matmul(t, Pm) + bP, w) + bw;                      // [B, P, C]
  auto A = torch::softmax(e, 1);
  auto S = torch::matmul(A.transpose(1, 2), F);
  auto folded = sl::semantic_decouple(F, X, U, V, torch::matmul(Pm, w), 2);
  EXPECT_TRUE(torch::allclose(A, folded.attention, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(S, folded.features, 1e-10, 1e-12));
  (S * torch::randn_like(S)).sum().backward();
  EXPECT_LT(bP.grad().abs().max().item<double>(), 1e-12);
  EXPECT_LT(bw.grad().abs().max().item<double>(), 1e-12);
}

TEST(SarlDecouple, TiledCustomBackwardEqualsNaiveAutograd) {
  torch::manual_seed(4);
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  auto Uf0 = torch::randn({3, 6, 5}, o), Vx0 = torch::randn({7, 5}, o), w0 = torch::randn({5}, o);
  auto G = torch::randn({3, 6, 7}, o);
  auto grads = [&](bool naive, int64_t tile) {
    auto Uf = Uf0.clone().requires_grad_(), Vx = Vx0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    auto E = naive ? sl::decouple_scores_naive(Uf, Vx, w) : sl::decouple_scores(Uf, Vx, w, tile);
    (E * G).sum().backward();
    return std::vector<at::Tensor>{E.detach(), Uf.grad(), Vx.grad(), w.grad()};
  };
  auto ref = grads(true, 0);
  for (int64_t tile : {1, 3, 7, 100}) {
    auto got = grads(false, tile);
    for (size_t i = 0; i < ref.size(); ++i)
      EXPECT_TRUE(torch::allclose(ref[i], got[i], 1e-10, 1e-12)) << "tile " << tile << " item " << i;
  }
  EXPECT_THROW(sl::decouple_scores(Uf0, torch::randn({7, 4}, o), w0), Error);
}

TEST(SarlLosses, PartialBceHandComputed) {
  auto x = torch::tensor({0.0, 2.0, -1.0, 0.0}, torch::kDouble).reshape({2, 2});
  auto y = i8({1, 0, -1, 1}, {2, 2});
  EXPECT_NEAR(sl::partial_bce(x, y).item<double>(), 0.5665186828793711, 1e-12);
  EXPECT_EQ(sl::partial_bce(x, torch::zeros({2, 2}, torch::kChar)).item<double>(), 0.0);
}

TEST(SarlLosses, AsymmetricLossHandComputedAndReducesToBce) {
  auto x = torch::tensor({0.0, 2.0, -1.0, 0.0}, torch::kDouble).reshape({2, 2});
  auto y = i8({1, 0, -1, 1}, {2, 2});
  sl::AslOptions o;  // γ− = 2, γ+ = 1, clip 0.05, sum
  EXPECT_NEAR(sl::asymmetric_loss(x, y, o).item<double>(), 0.7049922503336961, 1e-9);
  o.reduction = "mean";
  EXPECT_NEAR(sl::asymmetric_loss(x, y, o).item<double>(), 0.7049922503336961 / 3, 1e-9);
  // γ = 0 and no clip: the mean-reduced ASL is the partial BCE.
  o.gamma_neg = o.gamma_pos = 0;
  o.clip = 0;
  torch::manual_seed(1);
  auto xr = torch::randn({5, 4}, torch::kDouble);
  auto yr = torch::randint(-1, 2, {5, 4}).to(torch::kChar);
  EXPECT_NEAR(sl::asymmetric_loss(xr, yr, o).item<double>(), sl::partial_bce(xr, yr).item<double>(), 1e-9);
}

double ap(std::vector<double> s, std::vector<int64_t> t, bool interp) {
  return average_precision(torch::tensor(s, torch::kDouble), i8(t, {(int64_t)t.size()}), interp);
}

TEST(MultiLabelMetrics, AveragePrecisionBothDefinitions) {
  // Precision at the positives 1, 1/2, 3/5: non-interpolated (1 + .5 + .6) / 3; the envelope
  // lifts the second to 3/5.
  EXPECT_NEAR(ap({.9, .8, .7, .6, .5}, {1, -1, -1, 1, 1}, false), 0.7, 1e-12);
  EXPECT_NEAR(ap({.9, .8, .7, .6, .5}, {1, -1, -1, 1, 1}, true), 2.2 / 3, 1e-12);
  // Ties are one threshold, whatever the row order: (1 + 2/3) / 2 both ways.
  EXPECT_NEAR(ap({.9, .5, .5, .1}, {1, 1, -1, -1}, false), 5.0 / 6, 1e-12);
  EXPECT_NEAR(ap({.9, .5, .5, .1}, {1, -1, 1, -1}, false), 5.0 / 6, 1e-12);
  EXPECT_NEAR(ap({.9, .5, .5, .1}, {1, -1, 1, -1}, true), 5.0 / 6, 1e-12);
  // Unknown rows never count, even at the top.
  EXPECT_NEAR(ap({2.0, .9, .8, .7, .6, .5}, {0, 1, -1, -1, 1, 1}, false), 0.7, 1e-12);
  // No known positive: undefined.
  EXPECT_TRUE(std::isnan(ap({.3, .2}, {-1, -1}, true)));
  EXPECT_TRUE(std::isnan(ap({.3, .2}, {0, 0}, false)));
}

TEST(MultiLabelMetrics, MapSkipsClassesWithoutKnownPositives) {
  // Class 0: AP 0.7 / 0.7333; class 1 all negative; class 2 no known label.
  auto s = torch::tensor({.9, .1, .3, .8, .2, .3, .7, .3, .3, .6, .4, .3, .5, .5, .3}, torch::kDouble).reshape({5, 3});
  auto y = i8({1, -1, 0, -1, -1, 0, -1, -1, 0, 1, -1, 0, 1, -1, 0}, {5, 3});
  auto reg = vlb::builtins().metrics.create("ml_map", vlb::builtins().metrics.get("ml_map").schema.defaults());
  vlb::Targets t;
  t.labels = y;
  reg->reset();
  reg->update(vlb::Prediction{s, {}}, t);
  std::map<std::string, double> v;
  for (const auto& m : reg->compute()) v[m.name] = m.value;
  EXPECT_NEAR(v["ml/map"], 2.2 / 3, 1e-12);
  EXPECT_NEAR(v["ml/map_nonint"], 0.7, 1e-12);
  EXPECT_EQ(v["ml/map_classes"], 1);
  // Scores that do not match the labels: a clear error.
  EXPECT_THROW(reg->update(vlb::Prediction{torch::zeros({5, 2}), {}}, t), Error);
}

TEST(MultiLabelMetrics, F1AtThresholdAndTopK) {
  auto s = torch::tensor({2., -1., .5, -2., 1., 1., 0., 0., -3.}, torch::kDouble).reshape({3, 3});
  auto y = i8({1, -1, -1, -1, 1, 0, 1, -1, -1}, {3, 3});
  auto f = multilabel_f1(s, y, 0.5, 0);  // class 2 has no known positive: out of the means
  EXPECT_NEAR(f.cp, 0.75, 1e-12);
  EXPECT_NEAR(f.cr, 1.0, 1e-12);
  EXPECT_NEAR(f.cf1, 6.0 / 7, 1e-12);
  EXPECT_NEAR(f.op, 0.6, 1e-12);
  EXPECT_NEAR(f.orec, 1.0, 1e-12);
  EXPECT_NEAR(f.of1, 0.75, 1e-12);
  auto t1 = multilabel_f1(s, y, 0.5, 1);  // row 2's tie (0, 0) goes to class 0: all correct
  EXPECT_NEAR(t1.cf1, 1.0, 1e-12);
  EXPECT_NEAR(t1.of1, 1.0, 1e-12);
}

TEST(PartialLabels, IndependentKeepMaskIsSeededAndKeepsValues) {
  auto y = torch::randint(-1, 2, {400, 50}).to(torch::kChar);
  auto a = make_partial_labels(y, 0.3, 7), b = make_partial_labels(y, 0.3, 7), c = make_partial_labels(y, 0.3, 8);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  auto kept = a.ne(0);
  EXPECT_TRUE(torch::equal(a.masked_select(kept), y.masked_select(kept)));
  const double frac = kept.sum().item<double>() / y.ne(0).sum().item<double>();
  EXPECT_NEAR(frac, 0.3, 0.02);
  EXPECT_TRUE(torch::equal(make_partial_labels(y, 1.0, 1), y));
  EXPECT_EQ(make_partial_labels(y, 0.0, 1).ne(0).sum().item<int64_t>(), 0);
}

// A small synthetic multi-label file: classes, an h x w grid of 8-d features, train/test rows.
SynthMultiLabelOptions small_multilabel(int64_t classes, int64_t h, int64_t w, int64_t train, int64_t test) {
  SynthMultiLabelOptions o;
  o.classes = classes;
  o.height = h;
  o.width = w;
  o.dim = 8;
  o.train_images = train;
  o.test_images = test;
  return o;
}

TEST(SynthMultiLabel, RoundTripsFeatureMapsAndPartialLabels) {
  SynthMultiLabelOptions o = small_multilabel(6, 3, 2, 40, 10);
  o.keep_prob = 0.4;
  o.label_seed = 11;
  Dataset ds = generate_synth_multilabel(o);
  // 1-4 positives per image, with co-occurrence; mean-pooled maps as /images/features.
  auto npos = ds.labels.eq(1).sum(1);
  EXPECT_GE(npos.min().item<int64_t>(), 1);
  EXPECT_LE(npos.max().item<int64_t>(), 4);
  EXPECT_TRUE(torch::allclose(ds.features, ds.feature_maps.mean(1)));
  vlb::test::TempDir dir;
  write_dataset(ds, dir / "ml.h5");
  Dataset r = read_dataset(dir / "ml.h5");
  EXPECT_EQ(r.map_height, 3);
  EXPECT_EQ(r.map_width, 2);
  EXPECT_TRUE(torch::equal(r.feature_maps, ds.feature_maps));
  EXPECT_TRUE(torch::equal(r.partial_labels, ds.partial_labels));
  EXPECT_TRUE(torch::equal(r.labels, ds.labels));
  EXPECT_DOUBLE_EQ(r.partial_keep_prob, 0.4);
  EXPECT_EQ(r.partial_seed, 11);
  EXPECT_EQ(r.descriptors.at("glove").size(1), 300);
  auto v = make_view(r, "test");
  EXPECT_EQ(v.feature_maps().size(0), 10);
  EXPECT_EQ(v.partial_labels().size(1), 6);
  EXPECT_NE(describe_file(dir / "ml.h5").find("feature maps:  [N, 3x2, 8]"), std::string::npos);
  // A map whose grid attributes do not fit its shape: the error names the HDF5 path.
  ds.map_height = 5;
  EXPECT_THROW(write_dataset(ds, dir / "bad.h5"), Error);
}

TEST(SarlMethods, BadInputNamesWhatIsMissing) {
  const auto& reg = vlb::builtins();
  auto ds = reg.datasets.create("synth", reg.datasets.get("synth").schema.defaults());
  vlb::test::TempDir dir;
  SourceContext ctx;
  ctx.cache_dir = dir.path();
  Dataset d = ds->load(ctx);
  auto m = reg.methods.create("sarl", reg.methods.get("sarl").schema.defaults());
  try {
    m->fit(make_view(d, "train"), RunContext{});
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/images/feature_maps"), std::string::npos) << e.what();
  }
}

TEST(SarlMethods, RankScaledScoreIsTheSameInitialFunctionButTrainsDifferently) {
  Dataset ds = generate_synth_multilabel(small_multilabel(5, 3, 3, 24, 6));
  const auto& reg = vlb::builtins().methods;
  auto scores = [&](const std::string& score_param, int64_t epochs) {
    Params p = reg.get("sarl").schema.defaults();
    p.set("rank", int64_t(32));  // a power of two: d·w / d is exact in float
    p.set("score_param", score_param);
    p.set("epochs", epochs);
    torch::manual_seed(5);
    auto m = reg.create("sarl", p);
    m->fit(make_view(ds, "train"), RunContext{});
    return m->predict(make_view(ds, "test"), RunContext{}).scores;
  };
  // Untrained (0 epochs): w' = d·w_eff and e uses w'/d, the same function and random stream.
  EXPECT_TRUE(torch::equal(scores("standard", 0), scores("rank_scaled", 0)));
  // Trained: Adam steps w' by about lr either way, so the score moves d times less.
  auto a = scores("standard", 2), b = scores("rank_scaled", 2);
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-4);
}

}  // namespace
