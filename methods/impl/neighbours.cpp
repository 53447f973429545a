// Exact top-K inner-product search: the tiled kernel (topk_tiled.cpp), chunked LibTorch GEMM
// with a stable merge, or faiss.
#include "vlb/methods/impl/neighbours.h"

#include <torch/torch.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "topk_tiled.h"
#include "vlb/core/error.h"

namespace vlb {

NeighbourBackend parse_neighbour_backend(const std::string& name) {
  if (name == "tiled") return NeighbourBackend::kTiled;
  if (name == "torch") return NeighbourBackend::kTorch;
  if (name == "faiss") return NeighbourBackend::kFaissFlat;
  if (name == "hnsw") return NeighbourBackend::kFaissHnsw;
  throw ConfigError("unknown neighbour backend '" + name + "' (expected tiled, torch, faiss or hnsw)");
}

const char* to_string(NeighbourBackend b) {
  switch (b) {
    case NeighbourBackend::kTiled: return "tiled";
    case NeighbourBackend::kTorch: return "torch";
    case NeighbourBackend::kFaissFlat: return "faiss";
    case NeighbourBackend::kFaissHnsw: return "hnsw";
  }
  return "?";
}

namespace {

// Merges two candidate lists whose indices are disjoint and where every index in `a` is lower
// than every index in `b`: a stable descending sort of [a | b] then keeps index order on ties.
TopK merge_topk(const TopK& a, const TopK& b, int64_t k) {
  auto values = torch::cat({a.values, b.values}, 1);
  auto indices = torch::cat({a.indices, b.indices}, 1);
  auto kept = stable_topk(values, k);
  return {kept.values, indices.gather(1, kept.indices)};
}

TopK torch_topk(const at::Tensor& q, const at::Tensor& bank, int64_t k, const NeighbourOptions& o) {
  const int64_t n = q.size(0), M = bank.size(0);
  // On the inputs' device: a CUDA search stays there (Note [Devices] in experiments/src/device.cpp).
  auto values = torch::empty({n, k}, q.options().dtype(torch::kFloat));
  auto indices = torch::empty({n, k}, q.options().dtype(torch::kLong));
  const int64_t qc = std::max<int64_t>(1, o.query_chunk), bc = std::max<int64_t>(1, o.bank_chunk);
  for (int64_t q0 = 0; q0 < n; q0 += qc) {
    auto qblk = q.narrow(0, q0, std::min(qc, n - q0));
    TopK best;
    // Bank chunks in ascending order, so earlier (lower-index) candidates win ties in the merge.
    for (int64_t b0 = 0; b0 < M; b0 += bc) {
      auto sims = torch::mm(qblk, bank.narrow(0, b0, std::min(bc, M - b0)).t());
      TopK part = stable_topk(sims, k);
      part.indices.add_(b0);
      best = best.values.defined() ? merge_topk(best, part, k) : part;
    }
    values.narrow(0, q0, qblk.size(0)).copy_(best.values);
    indices.narrow(0, q0, qblk.size(0)).copy_(best.indices);
  }
  return {values, indices};
}

TopK faiss_topk(const at::Tensor& q, const at::Tensor& bank, int64_t k, const NeighbourOptions& o) {
  const int64_t n = q.size(0), M = bank.size(0), D = q.size(1);
  std::unique_ptr<faiss::Index> index;
  // Note [faiss ties]: faiss's result heaps do not order equal scores by index. We fetch a few
  // extra candidates, re-sort them stably by (score desc, index asc), and recompute with the torch
  // path any row whose tie at the k-th score may reach past what was fetched. The flat index is
  // then exact with the same tie rule; HNSW stays approximate.
  const int64_t fetch = std::min<int64_t>(M, k + 8);
  if (o.backend == NeighbourBackend::kFaissHnsw) {
    auto h = std::make_unique<faiss::IndexHNSWFlat>(D, o.hnsw_m, faiss::METRIC_INNER_PRODUCT);
    h->hnsw.efSearch = std::max<int>(o.hnsw_ef_search, static_cast<int>(fetch));
    index = std::move(h);
  } else {
    index = std::make_unique<faiss::IndexFlatIP>(D);
  }
  index->add(M, bank.data_ptr<float>());
  auto dist = torch::empty({n, fetch}, torch::kFloat);
  auto lab = torch::empty({n, fetch}, torch::kLong);
  static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "faiss idx_t must be 64-bit");
  // Bounded memory: faiss's flat search blocks internally; we still bound the result buffers.
  const int64_t qc = std::max<int64_t>(1, o.query_chunk);
  for (int64_t q0 = 0; q0 < n; q0 += qc) {
    const int64_t m = std::min(qc, n - q0);
    index->search(m, q.data_ptr<float>() + q0 * D, fetch, dist.data_ptr<float>() + q0 * fetch,
                  reinterpret_cast<faiss::Index::idx_t*>(lab.data_ptr<int64_t>() + q0 * fetch));
  }
  // Missing results (HNSW can return fewer) are -1 with score -inf-like: push them last.
  auto valid = lab.ge(0);
  dist.masked_fill_(~valid, -std::numeric_limits<float>::infinity());
  lab.masked_fill_(~valid, M);
  // Stable order by (score desc, index asc): sort by index first, then stable by score.
  auto by_index = torch::sort(lab, /*stable=*/true, 1, false);
  auto lab_s = std::get<0>(by_index);
  auto dist_s = dist.gather(1, std::get<1>(by_index));
  auto by_score = torch::sort(dist_s, /*stable=*/true, 1, true);
  auto values = std::get<0>(by_score).narrow(1, 0, k).contiguous();
  auto indices = lab_s.gather(1, std::get<1>(by_score)).narrow(1, 0, k).contiguous();
  if (o.backend == NeighbourBackend::kFaissFlat && fetch < M) {
    auto last = std::get<0>(by_score).select(1, fetch - 1);
    auto kth = values.select(1, k - 1);
    auto redo = last.eq(kth).nonzero().flatten();
    if (redo.numel() > 0) {
      NeighbourOptions t = o;
      t.backend = NeighbourBackend::kTorch;
      TopK exact = torch_topk(q.index_select(0, redo).contiguous(), bank, k, t);
      values.index_copy_(0, redo, exact.values);
      indices.index_copy_(0, redo, exact.indices);
    }
  }
  return {values, indices};
}

}  // namespace

TopK topk_inner_product(const at::Tensor& queries, const at::Tensor& bank, int64_t k,
                        const NeighbourOptions& opts) {
  if (queries.dim() != 2 || bank.dim() != 2 || queries.size(1) != bank.size(1))
    throw Error(fmt::format("topk_inner_product: expected queries [n, D] and bank [M, D], got "
                            "[{}] and [{}]",
                            fmt::join(queries.sizes(), ", "), fmt::join(bank.sizes(), ", ")));
  if (k < 1) throw Error("topk_inner_product: k must be >= 1");
  k = std::min<int64_t>(k, bank.size(0));
  torch::NoGradGuard no_grad;
  auto q = queries.to(torch::kFloat).contiguous();
  auto b = bank.to(torch::kFloat).contiguous();
  if (q.size(0) == 0 || b.size(0) == 0)
    return {torch::empty({q.size(0), k}, q.options().dtype(torch::kFloat)),
            torch::empty({q.size(0), k}, q.options().dtype(torch::kLong))};
  if (opts.backend == NeighbourBackend::kTorch || !q.is_cpu() || !b.is_cpu()) return torch_topk(q, b, k, opts);
  if (opts.backend == NeighbourBackend::kTiled) return tiled_topk(q, b, k, opts.tile_queries, opts.tile_bank);
  return faiss_topk(q, b, k, opts);
}

}  // namespace vlb
