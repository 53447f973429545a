// The tiled exact top-K kernel (NeighbourBackend::kTiled, the default): it must return exactly
// what the chunked torch path returns, scores bit for bit, ties and NaN/inf in the same order,
// for any tiling and thread count.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "vlb/methods/impl/neighbours.h"

namespace vlb {
namespace {

NeighbourOptions with(NeighbourBackend b, int64_t tq = 256, int64_t tb = 1024) {
  NeighbourOptions o;
  o.backend = b;
  o.tile_queries = tq;
  o.tile_bank = tb;
  return o;
}

// The old path, one GEMM for everything: the reference the tiled kernel must reproduce.
TopK torch_whole(const at::Tensor& q, const at::Tensor& bank, int64_t k) {
  NeighbourOptions o = with(NeighbourBackend::kTorch);
  o.query_chunk = 1 << 20;
  o.bank_chunk = 1 << 20;
  return topk_inner_product(q, bank, k, o);
}

// Bitwise: distinguishes -0 from +0 and compares NaN with NaN.
::testing::AssertionResult same(const TopK& a, const TopK& b) {
  if (!torch::equal(a.indices, b.indices)) return ::testing::AssertionFailure() << "indices differ";
  if (!torch::equal(a.values.view(torch::kInt), b.values.view(torch::kInt)))
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

// Quarter-integer vectors with duplicated bank rows: dot products are exact in float32 whatever the
// summation order, and most scores tie with many others.
std::pair<at::Tensor, at::Tensor> tied_inputs(int64_t n, int64_t M, int64_t D, uint64_t seed) {
  torch::manual_seed(seed);
  auto q = torch::randint(-4, 5, {n, D}).to(torch::kFloat) / 4;
  auto bank = torch::randint(-2, 3, {M, D}).to(torch::kFloat) / 4;
  auto dup = torch::randint(0, M, {M / 3}, torch::kLong);
  bank.index_copy_(0, torch::randint(0, M, {M / 3}, torch::kLong), bank.index_select(0, dup));
  return {q, bank};
}

TEST(TopKTiled, IsTheDefaultAndParses) {
  EXPECT_EQ(NeighbourOptions{}.backend, NeighbourBackend::kTiled);
  EXPECT_EQ(parse_neighbour_backend("tiled"), NeighbourBackend::kTiled);
  EXPECT_STREQ(to_string(NeighbourBackend::kTiled), "tiled");
}

TEST(TopKTiled, ManyTiesEqualTorchForRaggedTilesAndAnyK) {
  auto [q, bank] = tied_inputs(53, 211, 12, 5);
  // Tiles that divide neither n nor M, one tile, and tiles of one row / one (16-column) strip.
  const std::vector<std::pair<int64_t, int64_t>> tiles = {{7, 13}, {256, 1024}, {1, 1}, {50, 200}};
  for (int64_t k : {1L, 5L, 64L, 210L, 211L, 500L}) {
    TopK ref = torch_whole(q, bank, k);
    ASSERT_EQ(ref.indices.size(1), std::min<int64_t>(k, 211));
    for (auto [tq, tb] : tiles) {
      TopK r = topk_inner_product(q, bank, k, with(NeighbourBackend::kTiled, tq, tb));
      EXPECT_TRUE(same(r, ref)) << "k " << k << " tiles " << tq << "x" << tb;
    }
  }
}

TEST(TopKTiled, OneAndTwoThreadsAreBitIdentical) {
  // n = 3 takes the split-bank path (too few queries per thread), n = 300 the query-block one.
  for (int64_t n : {3L, 300L}) {
    auto [q, bank] = tied_inputs(n, 4100, 16, 9);
    auto rnd = torch::randn({n, 16});
    for (const auto& query : {q, rnd}) {
      at::set_num_threads(1);
      TopK one = topk_inner_product(query, bank, 64, with(NeighbourBackend::kTiled, 64, 256));
      at::set_num_threads(2);
      TopK two = topk_inner_product(query, bank, 64, with(NeighbourBackend::kTiled, 64, 256));
      at::set_num_threads(1);
      EXPECT_TRUE(same(one, two)) << "n " << n;
      EXPECT_TRUE(same(one, torch_whole(query, bank, 64))) << "n " << n;
    }
  }
}

TEST(TopKTiled, RandomFloatsEqualOneBigGemmBitForBit) {
  // Full-precision scores: equal only if every tile sums each dot product as one torch::mm over
  // everything does. The shapes include tiny ones, where a naive tiling would hand OpenBLAS
  // blocks small enough for its differently-summing small-matrix kernel (Note [tiled scores]).
  torch::manual_seed(13);
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {300, 5000, 96}, {3, 4100, 48}, {2, 500, 64}, {1, 5000, 64}, {300, 5, 64}, {70, 1030, 40}};
  for (auto [n, M, D] : shapes) {
    auto q = torch::randn({n, D});
    auto bank = torch::randn({M, D});
    const int64_t k = std::min<int64_t>(40, M);
    TopK ref = torch_whole(q, bank, k);
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      for (auto [tq, tb] : {std::pair<int64_t, int64_t>{256, 1024}, {33, 700}, {1, 16}})
        EXPECT_TRUE(same(topk_inner_product(q, bank, k, with(NeighbourBackend::kTiled, tq, tb)), ref))
            << n << "x" << M << "x" << D << " tiles " << tq << "x" << tb << " threads " << threads;
    }
    at::set_num_threads(1);
  }
  // The other exact paths, at blockings without small remainders, agree too.
  auto q = torch::randn({300, 96}), bank = torch::randn({5000, 96});
  TopK ref = torch_whole(q, bank, 40);
  NeighbourOptions chunked = with(NeighbourBackend::kTorch);
  chunked.query_chunk = 100;
  chunked.bank_chunk = 1000;
  EXPECT_TRUE(same(topk_inner_product(q, bank, 40, chunked), ref));
  EXPECT_TRUE(same(topk_inner_product(q, bank, 40, with(NeighbourBackend::kFaissFlat)), ref));
  EXPECT_TRUE(same(topk_inner_product(q, bank, 40), ref));
}

TEST(TopKTiled, NanInfAndSignedZeroOrderedLikeTheStableSort) {
  // D = 1: scores are q * b exactly. 0 * inf gives NaN; -1 * 0 gives -0.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  auto bank = torch::tensor({1.f, nan, -inf, 0.f, inf, -0.f, 1.f, nan, -inf, 2.f, inf, 0.f}).view({-1, 1});
  auto q = torch::tensor({1.f, -1.f, 0.f, 2.f, nan}).view({-1, 1});
  for (int64_t k : {1L, 3L, 6L, 12L}) {
    TopK ref = torch_whole(q, bank, k);
    for (auto [tq, tb] : {std::pair<int64_t, int64_t>{256, 1024}, {2, 1}})
      EXPECT_TRUE(same(topk_inner_product(q, bank, k, with(NeighbourBackend::kTiled, tq, tb)), ref))
          << "k " << k << " tiles " << tq << "x" << tb << "\n" << ref.indices;
  }
  // NaN first (lower index first), then +inf, ...: the hand-checked head of row 0.
  TopK r = topk_inner_product(q, bank, 4);
  EXPECT_TRUE(torch::equal(r.indices[0], torch::tensor({1L, 7L, 4L, 10L})));
}

TEST(TopKTiled, MonotoneBanksEnterAlwaysOrNever) {
  // Ascending scores: every bank row beats the k-th so far (a compaction every few rows);
  // descending: none does after the first k.
  auto bank = torch::arange(3000).to(torch::kFloat).view({-1, 1});
  auto q = torch::tensor({1.f, -1.f}).view({-1, 1});
  TopK r = topk_inner_product(q, bank, 10, with(NeighbourBackend::kTiled, 256, 64));
  EXPECT_TRUE(torch::equal(r.indices[0], torch::arange(2999, 2989, -1)));
  EXPECT_TRUE(torch::equal(r.indices[1], torch::arange(0, 10)));
  EXPECT_TRUE(same(r, torch_whole(q, bank, 10)));
}

TEST(TopKTiled, OneTileRowsEqualTorch) {
  // A bank that fits one tile takes the per-row threshold path (Note [one-tile rows]) for k <= 64:
  // lengths around the 16-lane width and the r = ceil(k / 16) boundaries.
  torch::manual_seed(17);
  for (int64_t M : {5L, 16L, 17L, 63L, 100L, 1648L, 2048L}) {
    auto q = torch::randn({40, 32});
    auto bank = torch::randn({M, 32});
    for (int64_t k : {1L, 15L, 16L, 17L, 48L, 49L, 64L, 65L}) {
      if (k > M) continue;
      TopK ref = torch_whole(q, bank, k);
      EXPECT_TRUE(same(topk_inner_product(q, bank, k), ref)) << "M " << M << " k " << k;
    }
  }
  // Ties: quarter-integer scores, far more than 2 k of them at the threshold.
  auto [tq, tb] = tied_inputs(30, 2000, 4, 21);
  for (int64_t k : {1L, 20L, 64L}) EXPECT_TRUE(same(topk_inner_product(tq, tb, k), torch_whole(tq, tb, k))) << k;
  // Two threads, too few queries per thread: two bank ranges of one tile each, merged.
  auto q3 = torch::randn({3, 24}), b3 = torch::randn({4000, 24});
  at::set_num_threads(2);
  TopK two = topk_inner_product(q3, b3, 64);
  at::set_num_threads(1);
  EXPECT_TRUE(same(two, torch_whole(q3, b3, 64)));
}

TEST(TopKTiled, OneTileRowsWithNanInfAndZeros) {
  // D = 1: scores are q * b exactly. Rows of all-NaN or all-zero scores keep every score past the
  // threshold; a few NaN among finite scores must still come first.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  torch::manual_seed(23);
  auto bank = torch::randint(-3, 4, {2000}).to(torch::kFloat);
  for (int64_t i : {7L, 500L, 1999L}) bank[i] = nan;
  for (int64_t i : {3L, 900L}) bank[i] = inf;
  for (int64_t i : {11L, 1200L}) bank[i] = -inf;
  for (int64_t i : {40L, 41L, 1500L}) bank[i] = -0.f;
  bank = bank.view({-1, 1});
  auto q = torch::tensor({1.f, -1.f, 0.f, nan, 0.5f, -inf}).view({-1, 1});
  for (int64_t k : {1L, 3L, 16L, 17L, 64L}) {
    TopK ref = torch_whole(q, bank, k);
    EXPECT_TRUE(same(topk_inner_product(q, bank, k), ref)) << "k " << k << "\n" << ref.indices;
  }
  // A NaN in every lane before its large scores: the threshold must not count one score twice.
  auto rising = torch::cat({torch::full({16}, nan), torch::full({16}, 100.f), torch::arange(48.f)}).view({-1, 1});
  auto one = torch::ones({1, 1});
  EXPECT_TRUE(same(topk_inner_product(one, rising, 64), torch_whole(one, rising, 64)));
}

TEST(TopKTiled, SetBlasThreadsReturnsThePreviousCount) {
  const int old = set_blas_num_threads(1);
  if (old == 0) GTEST_SKIP() << "this BLAS has no thread control";
  EXPECT_EQ(set_blas_num_threads(old), 1);
  EXPECT_EQ(set_blas_num_threads(old), old);
}

}  // namespace
}  // namespace vlb
