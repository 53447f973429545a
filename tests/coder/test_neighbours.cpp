// The shared exact top-K inner-product search: hand case, chunking, faiss, stable ties.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "vlb/methods/impl/neighbours.h"

namespace vlb {
namespace {

// Independent reference: double-precision dot products, std::stable_sort by score descending.
TopK brute_force(const at::Tensor& q, const at::Tensor& b, int64_t k) {
  auto qa = q.to(torch::kDouble), ba = b.to(torch::kDouble);
  const int64_t n = q.size(0), M = b.size(0);
  auto values = torch::empty({n, k}, torch::kFloat), indices = torch::empty({n, k}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> s(M);
    for (int64_t j = 0; j < M; ++j) s[j] = (qa[i] * ba[j]).sum().item<double>();
    std::vector<int64_t> order(M);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return s[a] > s[c]; });
    for (int64_t r = 0; r < k; ++r) {
      values[i][r] = s[order[r]];
      indices[i][r] = order[r];
    }
  }
  return {values, indices};
}

TEST(Neighbours, HandCaseWithTiesGoingToTheLowerIndex) {
  auto q = torch::tensor({1.f, 0.f, 0.f, 1.f}).view({2, 2});
  auto bank = torch::tensor({1.f, 0.f, 1.f, 0.f, 0.5f, 0.5f, 0.f, 1.f}).view({4, 2});
  for (auto backend : {NeighbourBackend::kTorch, NeighbourBackend::kFaissFlat}) {
    NeighbourOptions o;
    o.backend = backend;
    o.bank_chunk = 1;  // every candidate arrives in its own chunk
    TopK r = topk_inner_product(q, bank, 2, o);
    EXPECT_TRUE(torch::equal(r.indices, torch::tensor({0L, 1L, 3L, 2L}).view({2, 2}))) << to_string(backend) << r.indices;
    EXPECT_TRUE(torch::allclose(r.values, torch::tensor({1.f, 1.f, 1.f, 0.5f}).view({2, 2})));
  }
}

TEST(Neighbours, ChunkedEqualsUnchunkedEqualsFaissOnManyTies) {
  // Integer-valued vectors: every dot product is exact in float32 and ties are everywhere, so
  // all paths must agree bit for bit, including the tie order.
  torch::manual_seed(3);
  auto q = torch::randint(-1, 2, {37, 8}).to(torch::kFloat);
  auto bank = torch::randint(-1, 2, {301, 8}).to(torch::kFloat);
  const int64_t k = 17;
  TopK ref = brute_force(q, bank, k);
  NeighbourOptions whole;
  whole.backend = NeighbourBackend::kTorch;
  whole.query_chunk = 1 << 20;
  whole.bank_chunk = 1 << 20;
  NeighbourOptions chunked;
  chunked.backend = NeighbourBackend::kTorch;
  chunked.query_chunk = 5;
  chunked.bank_chunk = 13;
  NeighbourOptions faiss;
  faiss.backend = NeighbourBackend::kFaissFlat;
  for (const auto& o : {whole, chunked, faiss}) {
    TopK r = topk_inner_product(q, bank, k, o);
    EXPECT_TRUE(torch::equal(r.indices, ref.indices)) << to_string(o.backend) << " chunk " << o.bank_chunk;
    EXPECT_TRUE(torch::equal(r.values, ref.values)) << to_string(o.backend);
  }
}

TEST(Neighbours, RandomFloatsAgreeAcrossBackendsAndClampK) {
  torch::manual_seed(7);
  auto q = torch::randn({64, 32});
  auto bank = torch::randn({2000, 32});
  TopK ref = brute_force(q, bank, 10);
  NeighbourOptions chunked;
  chunked.backend = NeighbourBackend::kTorch;
  chunked.bank_chunk = 333;
  chunked.query_chunk = 10;
  NeighbourOptions faiss;
  faiss.backend = NeighbourBackend::kFaissFlat;
  NeighbourOptions whole;
  whole.backend = NeighbourBackend::kTorch;
  for (const auto& o : {whole, chunked, faiss}) {
    TopK r = topk_inner_product(q, bank, 10, o);
    EXPECT_TRUE(torch::equal(r.indices, ref.indices)) << to_string(o.backend);
    EXPECT_TRUE(torch::allclose(r.values, ref.values, 1e-5, 1e-5));
  }
  // k larger than the bank: everything, sorted.
  TopK all = topk_inner_product(q.narrow(0, 0, 2), bank.narrow(0, 0, 5), 50);
  EXPECT_EQ(all.indices.size(1), 5);
}

TEST(Neighbours, HnswFindsMostTrueNeighbours) {
  torch::manual_seed(11);
  auto bank = torch::randn({3000, 16});
  bank = bank / bank.norm(2, 1, true);
  auto q = bank.narrow(0, 0, 50) + 0.01 * torch::randn({50, 16});
  NeighbourOptions o;
  o.backend = NeighbourBackend::kFaissHnsw;
  TopK r = topk_inner_product(q, bank, 5, o);
  TopK ref = topk_inner_product(q, bank, 5);
  double hit = 0;
  for (int64_t i = 0; i < 50; ++i)
    for (int64_t a = 0; a < 5; ++a) hit += (ref.indices[i] == r.indices[i][a]).any().item<bool>();
  EXPECT_GT(hit / 250.0, 0.9);  // approximate by design
}

TEST(Neighbours, RejectsMismatchedShapes) {
  EXPECT_THROW(topk_inner_product(torch::zeros({2, 3}), torch::zeros({4, 2}), 1), std::exception);
  EXPECT_THROW(parse_neighbour_backend("annoy"), std::exception);
}

}  // namespace
}  // namespace vlb
