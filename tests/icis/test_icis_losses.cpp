// ICIS losses, Sub.Reg. projection, early-stopping rule and the training-free injection rules,
// each on a tiny case worked by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vlb/methods/icis.h"

namespace {

using namespace vlb::icis;
const double kInvSqrt2 = 1.0 / std::sqrt(2.0);

double item(const at::Tensor& t) { return t.item<double>(); }

TEST(IcisLosses, RowLossCosineAndMse) {
  auto x = torch::tensor({{1.0, 0.0}, {1.0, 1.0}, {1.0, 0.0}});
  auto y = torch::tensor({{0.0, 1.0}, {2.0, 2.0}, {1.0, 1.0}});
  auto c = row_loss(x, y, true);
  EXPECT_NEAR(item(c[0]), 1.0, 1e-6);              // orthogonal
  EXPECT_NEAR(item(c[1]), 0.0, 1e-6);              // parallel, scale-free
  EXPECT_NEAR(item(c[2]), 1.0 - kInvSqrt2, 1e-6);  // 45 degrees
  auto m = row_loss(torch::tensor({{1.0, 2.0}}), torch::tensor({{0.0, 0.0}}), false);
  EXPECT_NEAR(item(m[0]), 2.5, 1e-6);              // (1 + 4) / 2
}

// Two rows: row 0 seen (mask 1), row 1 unseen with a zero placeholder weight (mask 0).
struct Batch {
  at::Tensor a = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  at::Tensor w = torch::tensor({{1.0, 0.0}, {0.0, 0.0}});
  at::Tensor mask = torch::tensor({1.0, 0.0});
  at::Tensor a_aa = torch::tensor({{1.0, 0.0}, {1.0, 0.0}});
  at::Tensor a_wa = torch::tensor({{0.0, 1.0}, {5.0, 5.0}});
  at::Tensor w_ww = torch::tensor({{1.0, 1.0}, {3.0, 3.0}});
  at::Tensor w_aw = torch::tensor({{-1.0, 0.0}, {1.0, 1.0}});
};

TEST(IcisLosses, JointCosineTermsUseAllRowsForLaaAndSeenRowsForTheRest) {
  Batch b;
  auto l = joint_losses(b.a, b.w, b.mask, b.a_aa, b.a_wa, b.w_ww, b.w_aw, true);
  EXPECT_NEAR(item(l.aa), (0.0 + 1.0) / 2, 1e-6);     // row 0 exact, row 1 orthogonal; over B = 2
  EXPECT_NEAR(item(l.wa), 1.0, 1e-6);                 // row 0 orthogonal; row 1 masked out
  EXPECT_NEAR(item(l.ww), 1.0 - kInvSqrt2, 1e-6);
  EXPECT_NEAR(item(l.aw), 2.0, 1e-6);                 // opposite direction: 1 - (-1)
}

TEST(IcisLosses, JointMseTerms) {
  Batch b;
  auto l = joint_losses(b.a, b.w, b.mask, b.a_aa, b.a_wa, b.w_ww, b.w_aw, false);
  EXPECT_NEAR(item(l.aa), (0.0 + 1.0) / 2, 1e-6);     // row 1: ((1-0)^2 + (0-1)^2) / 2 = 1
  EXPECT_NEAR(item(l.wa), 1.0, 1e-6);                 // ((0-1)^2 + (1-0)^2) / 2
  EXPECT_NEAR(item(l.ww), 0.5, 1e-6);                 // (0 + 1) / 2
  EXPECT_NEAR(item(l.aw), 2.0, 1e-6);                 // (4 + 0) / 2
}

TEST(IcisLosses, AllUnseenBatchOnlyTrainsTheAttributeAutoencoder) {
  Batch b;
  auto l = joint_losses(b.a, b.w, torch::zeros({2}), b.a_aa, b.a_wa, b.w_ww, b.w_aw, true);
  EXPECT_NEAR(item(l.aa), 0.5, 1e-6);
  EXPECT_EQ(item(l.wa), 0.0);
  EXPECT_EQ(item(l.ww), 0.0);
  EXPECT_EQ(item(l.aw), 0.0);
}

TEST(IcisLosses, SubspaceProjectionRemovesTheSeenSpan) {
  auto omega = torch::tensor({{1.0, 1.0, 0.0}, {0.0, 2.0, 0.0}});  // spans e1, e2
  auto q = seen_subspace_basis(omega);
  ASSERT_EQ(q.size(0), 3);
  ASSERT_EQ(q.size(1), 2);
  auto r = off_subspace(torch::tensor({{1.0, 2.0, 3.0}}), q);
  EXPECT_NEAR(item(r[0][0]), 0.0, 1e-6);
  EXPECT_NEAR(item(r[0][1]), 0.0, 1e-6);
  EXPECT_NEAR(item(r[0][2]), 3.0, 1e-6);
}

TEST(IcisEarlyStop, FlatLossStopsAtEpoch25AndSteepLossNever) {
  SlopeEarlyStop flat(2e-3);
  int stopped_at = -1;
  for (int e = 0; e < 100 && stopped_at < 0; ++e)
    if (flat.update(1.0)) stopped_at = e;
  // Checked from epoch 21 on (> 20); five flat epochs in a row: 21..25.
  EXPECT_EQ(stopped_at, 25);
  SlopeEarlyStop steep(2e-3);
  for (int e = 0; e < 60; ++e) EXPECT_FALSE(steep.update(100.0 - e));  // slope 1 per epoch
  // A drop of 0.01 per epoch: slope = 0.01 * 10 / 10 = 0.01 >= 2e-3, keeps training.
  SlopeEarlyStop slow(2e-3);
  for (int e = 0; e < 60; ++e) EXPECT_FALSE(slow.update(1.0 - 0.01 * e));
}

TEST(IcisInjection, CostaWavgNormScaleAndConse) {
  auto a_seen = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  auto omega = torch::tensor({{2.0, 0.0}, {0.0, 4.0}});
  auto c = costa_weights(torch::tensor({{1.0, 1.0}}), a_seen, omega);
  EXPECT_NEAR(item(c[0][0]), 2.0 / (2.0 + 1e-4), 1e-6);
  EXPECT_NEAR(item(c[0][1]), 4.0 / (2.0 + 1e-4), 1e-6);

  auto w = wavg_weights(torch::tensor({{0.0, 0.0}}), torch::tensor({{1.0, 0.0}, {0.0, 2.0}}), omega, 1.0);
  EXPECT_NEAR(item(w[0][0]), 2.0 * std::exp(-1.0), 1e-6);
  EXPECT_NEAR(item(w[0][1]), 4.0 * std::exp(-2.0), 1e-6);

  auto n = norm_scale_heuristic(torch::tensor({{3.0, 4.0}, {0.0, 1.0}}));  // mean norm 3
  EXPECT_NEAR(item(n[0][1]), 4.0 / 30.0, 1e-6);

  auto s = conse_scores(torch::tensor({{0.0, std::log(3.0)}}), a_seen,
                        torch::tensor({{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}));
  const double e = std::sqrt(0.25 * 0.25 + 0.75 * 0.75);  // e = (0.25, 0.75)
  EXPECT_NEAR(item(s[0][0]), 0.25 / e, 1e-6);
  EXPECT_NEAR(item(s[0][1]), 0.75 / e, 1e-6);
  EXPECT_NEAR(item(s[0][2]), 1.0 / (e * std::sqrt(2.0)), 1e-6);
}

TEST(IcisInjection, ConseTopTKeepsTheMostProbableSeenClassesRenormalized) {
  // p = (1, 2, 3) / 6; top-2 keeps (0, 2, 3) / 5, so e = (0, 0.4, 0.6) over one-hot descriptors.
  auto logits = torch::log(torch::tensor({{1.0, 2.0, 3.0}}));
  auto eye = torch::eye(3);
  auto s = conse_scores(logits, eye, eye, 2);
  const double n = std::sqrt(0.4 * 0.4 + 0.6 * 0.6);
  EXPECT_NEAR(item(s[0][0]), 0.0, 1e-6);
  EXPECT_NEAR(item(s[0][1]), 0.4 / n, 1e-6);
  EXPECT_NEAR(item(s[0][2]), 0.6 / n, 1e-6);
  // top_t 0 and top_t >= S are the all-class rule.
  auto all = conse_scores(logits, eye, eye, 0);
  const double m = std::sqrt(1.0 + 4.0 + 9.0);
  EXPECT_NEAR(item(all[0][0]), 1.0 / m, 1e-6);
  EXPECT_TRUE(torch::allclose(all, conse_scores(logits, eye, eye, 3)));
}

}  // namespace
