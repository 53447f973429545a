// Golden tests on hand-computed cases: CODER zero-shot score, one-vs-one re-ranking, neighbour
// weighting, cache logits and the alpha/beta search; plus the /texts/type schema round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/methods/coder.h"

namespace vlb {
namespace {

using namespace vlb::coder;

TEST(CoderGolden, ZeroShotScoreIsMeanOfAttributesAndAnalogiesPlusMaxNameSynonym) {
  // columns: att c0, ana c0, name c0, syn c0, name c1, att c1
  auto rep = torch::tensor({0.2f, 0.4f, 0.5f, 0.7f, 0.1f, 0.3f}).view({1, 6});
  auto cls = torch::tensor({0L, 0L, 0L, 0L, 1L, 1L});
  auto type = torch::tensor({1, 2, 0, 3, 0, 1}, torch::kChar);
  auto s = zeroshot_scores(rep, cls, type, 3);
  EXPECT_NEAR(s[0][0].item<float>(), 100.0 * (0.2 + 0.4 + 0.7) / 3.0, 1e-4);
  EXPECT_NEAR(s[0][1].item<float>(), 100.0 * (0.3 + 0.1) / 2.0, 1e-4);
  EXPECT_TRUE(std::isinf(s[0][2].item<float>()));  // a class with no text is never predicted
}

TEST(CoderGolden, NeighbourRepresentationKeepsTopKWithWeights) {
  auto x = torch::tensor({1.f, 0.f}).view({1, 2});
  auto texts = torch::tensor({1.f, 0.f, 0.f, 1.f, 0.6f, 0.8f}).view({3, 2});
  NeighbourSelection sel;
  EXPECT_TRUE(torch::allclose(neighbour_representation(x, texts, sel), torch::tensor({{1.f, 0.f, 0.6f}})));
  sel.k = 2;
  EXPECT_TRUE(torch::allclose(neighbour_representation(x, texts, sel), torch::tensor({{1.f, 0.f, 0.6f}})));
  sel.weighting = Weighting::kRankDecay;
  EXPECT_TRUE(torch::allclose(neighbour_representation(x, texts, sel),
                              torch::tensor({{1.f, 0.f, static_cast<float>(0.6 / std::log2(3.0))}})));
  sel.weighting = Weighting::kSoftmax;
  sel.temperature = 1.0;
  const double e1 = std::exp(1.0), e6 = std::exp(0.6);
  EXPECT_TRUE(torch::allclose(
      neighbour_representation(x, texts, sel),
      torch::tensor({{static_cast<float>(2 * e1 / (e1 + e6)), 0.f, static_cast<float>(0.6 * 2 * e6 / (e1 + e6))}})));
  sel.k = 1;  // tie between texts 0 and 3 goes to 0
  auto tied = torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 0.f}).view({3, 2});
  sel.weighting = Weighting::kUniform;
  EXPECT_TRUE(torch::allclose(neighbour_representation(x, tied, sel), torch::tensor({{1.f, 0.f, 0.f}})));
}

TEST(CoderGolden, OneVsOneReRankingOnlyWhenUnsure) {
  // Row 0 is unsure (scores 0, -0.1, -0.2); row 1 is sure (10, 0, 0).
  auto scores = torch::tensor({0.f, -0.1f, -0.2f, 10.f, 0.f, 0.f}).view({2, 3});
  auto x = torch::tensor({1.f, 0.f, 1.f, 0.f}).view({2, 2});
  // Pair texts: (1 vs 0) along x, (0 vs 1) orthogonal to x; no text for pairs with class 2.
  PairTexts pairs{torch::tensor({1.f, 0.f, 0.f, 1.f}).view({2, 2}), torch::tensor({1L, 0L}),
                  torch::tensor({0L, 1L})};
  at::Tensor reranked;
  auto out = ovo_rerank(scores, x, pairs, /*theta=*/0.5, /*top=*/3, &reranked);
  // s(0) = ((0 - 1) + 0) / 2 = -0.5, s(1) = ((1 - 0) + 0) / 2 = 0.5, s(2) = 0: order 1, 2, 0.
  EXPECT_TRUE(torch::equal(reranked, torch::tensor({true, false})));
  EXPECT_TRUE(torch::allclose(out[0], torch::tensor({1.f, 3.f, 2.f})));
  EXPECT_TRUE(torch::equal(out[1], scores[1]));
  // Equal s keeps the original rank order: without pair texts every s is 0.
  auto none = ovo_rerank(scores, x, PairTexts{torch::zeros({0, 2}), torch::zeros({0}, torch::kLong),
                                              torch::zeros({0}, torch::kLong)}, 0.5, 3);
  EXPECT_EQ(none[0].argmax().item<int64_t>(), 0);
  EXPECT_DOUBLE_EQ(theta_preset("dtd"), 0.6);
  EXPECT_THROW(theta_preset("mnist"), ConfigError);
}

TEST(CoderGolden, CacheLogitsWithAndWithoutRowMinMax) {
  auto a = torch::tensor({0.2f, 0.6f, 1.0f}).view({1, 3});
  auto v = torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 0.f}).view({3, 2});
  auto mm = cache_logits(a, v, 2.0, true);  // A' = [0, .5, 1]
  EXPECT_NEAR(mm[0][0].item<double>(), 1 + std::exp(-2.0), 1e-6);
  EXPECT_NEAR(mm[0][1].item<double>(), std::exp(-1.0), 1e-6);
  auto raw = cache_logits(a, v, 2.0, false);
  EXPECT_NEAR(raw[0][0].item<double>(), 1 + std::exp(-1.6), 1e-6);
  EXPECT_NEAR(raw[0][1].item<double>(), std::exp(-0.8), 1e-6);
}

TEST(CoderGolden, SearchGridMatchesTheOfficialSpacingAndKeepsTheFirstBest) {
  // One key of class 1 with affinity 1: cache = [0, 1] for every beta; base favours class 0 by 1.
  auto base = torch::tensor({1.f, 0.f}).view({1, 2});
  auto aff = torch::ones({1, 1});
  auto vals = torch::tensor({0.f, 1.f}).view({1, 2});
  auto y = torch::tensor({1L});
  SearchGrid g;
  g.beta_max = 2.1, g.alpha_max = 2.1, g.beta_steps = 2, g.alpha_steps = 2, g.rounds = 1;
  // betas {0.1, 1.1}, alphas {0.1, 1.1}: alpha 1.1 is the only winner; the first beta is kept.
  auto r = search_alpha_beta(base, aff, vals, y, false, g);
  EXPECT_DOUBLE_EQ(r.alpha, 1.1);
  EXPECT_DOUBLE_EQ(r.beta, 0.1);
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  g.rounds = 2;  // round 2: alphas 0.55 + j * 1.1 / 2 = {0.55, 1.1}: 1.1 again
  r = search_alpha_beta(base, aff, vals, y, false, g);
  EXPECT_DOUBLE_EQ(r.alpha, 1.1);
  EXPECT_DOUBLE_EQ(r.beta, 0.05);
}

TEST(TextTypes, RoundTripAndPairValidation) {
  test::TempDir dir;
  Dataset ds;
  ds.class_names = {"a", "b"};
  ds.features = torch::eye(2);
  ds.label = torch::tensor({0L, 1L});
  ds.splits["test"] = torch::tensor({0L, 1L});
  ds.texts.features = torch::eye(2).repeat({2, 1});
  ds.texts.strings = {"a", "b", "a vs b", "free"};
  ds.texts.cls = torch::tensor({0L, 1L, 0L, -1L});
  ds.texts.image = torch::full({4}, -1L);
  ds.texts.source = torch::zeros({4}, torch::kChar);
  ds.texts.type = torch::tensor({0, 0, 4, -1}, torch::kChar);
  ds.texts.partner = torch::tensor({-1L, -1L, 1L, -1L});
  write_dataset(ds, dir / "ok.h5");
  Dataset back = read_dataset(dir / "ok.h5");
  EXPECT_TRUE(torch::equal(back.texts.type, ds.texts.type));
  EXPECT_TRUE(torch::equal(back.texts.partner, ds.texts.partner));
  EXPECT_EQ(to_string(TextType::kAnalogy), std::string("analogy"));
  EXPECT_EQ(parse_text_type("pair"), TextType::kPair);

  // The type is content: changing it changes the fingerprint.
  std::string fp = back.fingerprint;
  ds.texts.type = torch::tensor({0, 1, 4, -1}, torch::kChar);
  write_dataset(ds, dir / "other.h5");
  EXPECT_NE(read_dataset(dir / "other.h5").fingerprint, fp);

  ds.texts.partner = torch::tensor({-1L, -1L, 0L, -1L});  // a pair text against itself
  write_dataset(ds, dir / "bad.h5");
  try {
    read_dataset(dir / "bad.h5");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/texts/partner"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vlb
