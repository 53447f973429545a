// Schema groups/towers round trip, the synthetic generator, the losses and the two methods.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/synth_composition.h"
#include "vlb/experiments/builtins.h"
#include "vlb/methods/composition.h"
#include "vlb/metrics/composition.h"

using vlb::test::TempDir;

namespace {

vlb::SynthCompositionOptions small() {
  vlb::SynthCompositionOptions o;
  o.train_images = 300;
  o.test_images = 120;
  o.winoground_pairs = 20;
  return o;
}

TEST(CompositionSchema, GroupsTowersAndParentsRoundTripAndAreFingerprinted) {
  TempDir dir;
  vlb::Dataset ds = vlb::generate_synth_composition(small());
  vlb::write_dataset(ds, dir / "a.h5");
  vlb::Dataset back = vlb::read_dataset(dir / "a.h5");
  ASSERT_EQ(back.groups.size(), ds.groups.size());
  for (const auto& [name, g] : ds.groups) {
    const auto& b = back.groups.at(name);
    EXPECT_EQ(b.kind, g.kind);
    EXPECT_TRUE(b.image.equal(g.image)) << name;
    EXPECT_TRUE(b.text.equal(g.text)) << name;
    EXPECT_TRUE(b.subset.equal(g.subset)) << name;
    EXPECT_EQ(b.subset_names, g.subset_names);
  }
  ASSERT_EQ(back.texts.towers.size(), 2u);
  EXPECT_TRUE(back.texts.towers.at("order").equal(ds.texts.towers.at("order")));
  EXPECT_TRUE(back.texts.parent.equal(ds.texts.parent));
  EXPECT_EQ(vlb::compute_fingerprint(dir / "a.h5"), back.fingerprint);
  // A changed group item changes the fingerprint.
  ds.groups.at("order").text[0][1] = ds.groups.at("order").text[0][2].item<int64_t>();
  vlb::write_dataset(ds, dir / "b.h5");
  EXPECT_NE(vlb::read_dataset(dir / "b.h5").fingerprint, back.fingerprint);
  // A file without the optional parts still reads (no groups, no towers).
  ds.groups.clear();
  ds.texts.towers.clear();
  ds.texts.parent = at::Tensor();
  vlb::write_dataset(ds, dir / "c.h5");
  auto plain = vlb::read_dataset(dir / "c.h5");
  EXPECT_TRUE(plain.groups.empty());
  EXPECT_FALSE(plain.texts.parent.defined());
}

TEST(CompositionSchema, OutOfRangeGroupRowsAreRejectedNamingThePath) {
  TempDir dir;
  vlb::Dataset ds = vlb::generate_synth_composition(small());
  ds.groups.at("sugarcrepe").text[3][1] = ds.texts.size();
  vlb::write_dataset(ds, dir / "bad.h5");
  try {
    vlb::read_dataset(dir / "bad.h5");
    FAIL() << "expected a DataError";
  } catch (const vlb::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/groups/sugarcrepe/text"), std::string::npos) << e.what();
  }
}

TEST(SynthComposition, IsDeterministicAndHoldsEveryBenchmark) {
  auto o = small();
  auto a = vlb::generate_synth_composition(o), b = vlb::generate_synth_composition(o);
  EXPECT_TRUE(a.features.equal(b.features));
  EXPECT_TRUE(a.texts.towers.at("bow").equal(b.texts.towers.at("bow")));
  EXPECT_EQ(a.texts.strings, b.texts.strings);
  o.seed = 1;
  EXPECT_FALSE(vlb::generate_synth_composition(o).features.equal(a.features));

  const int64_t n_test = 120 + 20;
  EXPECT_EQ(a.splits.at("test").numel(), n_test);
  EXPECT_EQ(a.groups.at("sugarcrepe").size(), 7 * n_test);
  EXPECT_EQ(a.groups.at("winoground").size(), 20);
  EXPECT_EQ(a.groups.at("order").text.size(1), 5);
  // Every SugarCrepe negative differs from its positive; swap negatives are the same bag of words.
  const auto& sc = a.groups.at("sugarcrepe");
  for (int64_t i = 0; i < sc.size(); ++i) {
    const auto& p = a.texts.strings[sc.text[i][0].item<int64_t>()];
    const auto& n = a.texts.strings[sc.text[i][1].item<int64_t>()];
    EXPECT_NE(p, n) << i;
    if (sc.subset_names[sc.subset[i].item<int64_t>()].rfind("swap", 0) == 0) {
      auto words = [](std::string s) {
        std::multiset<std::string> w;
        size_t b = 0;
        while (b < s.size()) {
          size_t e = s.find(' ', b);
          if (e == std::string::npos) e = s.size();
          w.insert(s.substr(b, e - b));
          b = e + 1;
        }
        return w;
      };
      EXPECT_EQ(words(p), words(n)) << p << " / " << n;
    }
  }
  // The bag-of-words tower barely tells a swap from its caption; the order-aware tower does.
  auto gap = [&](const std::string& tower) {
    const auto& t = a.texts.towers.at(tower);
    double d = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < sc.size(); ++i)
      if (sc.subset[i].item<int64_t>() == 6) {
        d += (t[sc.text[i][0].item<int64_t>()] - t[sc.text[i][1].item<int64_t>()]).norm().item<double>();
        ++k;
      }
    return d / k;
  };
  EXPECT_GT(gap("order"), 2 * gap("bow"));
  // Sentence rows point at detailed training captions.
  auto par = a.texts.parent;
  auto idx = (par >= 0).nonzero().squeeze(1);
  ASSERT_GT(idx.numel(), 0);
  for (int64_t k = 0; k < 4; ++k) {
    int64_t p = par[idx[k].item<int64_t>()].item<int64_t>();
    EXPECT_EQ(a.texts.source[p].item<int8_t>(), 1);
    EXPECT_LT(a.texts.image[p].item<int64_t>(), 300);
  }
}

double lse(std::vector<double> v) {
  double m = *std::max_element(v.begin(), v.end()), s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

TEST(CompositionLoss, SoftmaxNegClipFormByHand) {
  // B = 2 images, 2 captions + 1 negative caption; unit vectors in 2-D.
  auto img = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).reshape({2, 2});
  const float c = std::sqrt(0.5f);
  auto txt = torch::tensor({1.0f, 0.0f, c, c, 0.0f, -1.0f}).reshape({3, 2});
  auto scale = torch::tensor(2.0f);
  // logits = 2 * [[1, c, 0], [0, c, -1]]
  const double C = 2 * std::sqrt(0.5);
  double i2t = 0.5 * ((-2 + lse({2, C, 0})) + (-C + lse({0, C, -2})));
  // text->image over the two true captions only: columns of [[2, C], [0, C]]
  double t2i = 0.5 * ((-2 + lse({2, 0})) + (-C + lse({C, C})));
  auto l = vlb::composition::softmax_contrastive_loss(img, txt, scale).item<double>();
  EXPECT_NEAR(l, 0.5 * (i2t + t2i), 1e-6);
}

TEST(CompositionLoss, SigmoidWithBiasAndExtraNegativesByHand) {
  auto img = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).reshape({2, 2});
  auto txt = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0.0f}).reshape({3, 2});
  auto scale = torch::tensor(3.0f), bias = torch::tensor(-1.0f);
  auto nls = [](double x) { return std::log1p(std::exp(-x)); };  // -log sigmoid(x)
  // logits = 3 S - 1, S = [[1, 0, 1], [0, 1, 0]]; z = +1 on (0,0), (1,1), else -1.
  double sum = nls(2) + nls(1) + nls(-2)  // row 0: pos 2, neg -1, neg (extra) 2
               + nls(1) + nls(2) + nls(1);  // row 1: neg -1, pos 2, neg -1
  auto l = vlb::composition::sigmoid_contrastive_loss(img, txt, scale, bias).item<double>();
  EXPECT_NEAR(l, sum / 2, 1e-6);
}

struct Fitted {
  vlb::Dataset ds;
  std::map<std::string, double> scores;
};

std::map<std::string, double> evaluate(const std::string& method, const vlb::Dataset& ds,
                                       std::map<std::string, vlb::ParamValue> params, uint64_t seed,
                                       vlb::Prediction* keep = nullptr) {
  vlb::MethodRegistry methods("method");
  vlb::register_composition(methods);
  vlb::MetricRegistry metrics("metric");
  vlb::register_composition_metrics(metrics);
  const auto& e = methods.get(method);
  vlb::Params p = e.schema.defaults();
  for (auto& [k, v] : params) p.set(k, e.schema.check(k, v));
  auto m = e.factory(p);
  vlb::RunContext ctx;
  ctx.seed = seed;
  at::manual_seed(seed);
  m->fit(vlb::make_view(ds, "train"), ctx);
  auto eval = vlb::make_view(ds, "test");
  auto pred = m->predict(eval, ctx);
  if (keep) *keep = pred;
  std::map<std::string, double> out;
  vlb::Targets t;
  t.dataset = &ds;
  t.rows = eval.rows;
  for (const char* name : {"sugarcrepe", "aro_relation", "retrieval"}) {
    const auto& me = metrics.get(name);
    vlb::Params mp = me.schema.defaults();
    if (std::string(name) == "retrieval") mp.set("text_source", int64_t{1});
    auto metric = me.factory(mp);
    metric->reset();
    metric->update(pred, t);
    for (const auto& v : metric->compute()) out[v.name] = v.value;
  }
  return out;
}

TEST(ContrastiveHeads, IsSeededDeterministicAndLearnsSwapsWithTheOrderTower) {
  auto o = small();
  o.train_images = 800;
  auto ds = vlb::generate_synth_composition(o);
  std::map<std::string, vlb::ParamValue> p = {{"text_tower", std::string("order")},
                                              {"epochs", int64_t{25}}, {"dense_scores_max", int64_t{1000}}};
  vlb::Prediction a, b, c;
  auto ra = evaluate("contrastive_heads", ds, p, 0, &a);
  evaluate("contrastive_heads", ds, p, 0, &b);
  evaluate("contrastive_heads", ds, p, 1, &c);
  EXPECT_TRUE(a.aux.at("image_emb").equal(b.aux.at("image_emb")));
  EXPECT_TRUE(a.aux.at("text_emb").equal(b.aux.at("text_emb")));
  EXPECT_FALSE(a.aux.at("image_emb").equal(c.aux.at("image_emb")));
  EXPECT_FALSE(a.scores.defined());  // 140 x ~8k texts > dense_scores_max: embeddings only
  auto raw = evaluate("raw_similarity", ds, {}, 0);
  auto bow = evaluate("contrastive_heads", ds, {{"text_tower", std::string("bow")}, {"epochs", int64_t{25}}}, 0);
  EXPECT_GT(ra.at("sugarcrepe/swap_att"), raw.at("sugarcrepe/swap_att") + 0.1);
  EXPECT_GT(ra.at("sugarcrepe/swap_att"), bow.at("sugarcrepe/swap_att") + 0.1);
  EXPECT_LT(bow.at("sugarcrepe/swap_att"), 0.7);  // order-blind: near chance on swaps
}

TEST(ContrastiveHeads, ClearErrorsForMissingTowerAndMissingNegatives) {
  auto o = small();
  o.hard_negatives = 0;
  o.sentences = false;
  o.tower_dim = 32;  // towers narrower than the images: raw similarity cannot compare them
  auto ds = vlb::generate_synth_composition(o);
  EXPECT_THROW(evaluate("contrastive_heads", ds, {{"text_tower", std::string("gemma")}}, 0), vlb::ConfigError);
  EXPECT_THROW(evaluate("contrastive_heads", ds, {{"hard_negatives", true}}, 0), vlb::ConfigError);
  EXPECT_THROW(evaluate("contrastive_heads", ds, {{"sentence_sampling", true}}, 0), vlb::ConfigError);
  EXPECT_THROW(evaluate("raw_similarity", ds, {{"text_tower", std::string("bow")}}, 0), vlb::ConfigError);
}

}  // namespace
